//! Moving a school to another billing account, today or from a later date
//! (`billing::ledger::moves`). Finance and admins move and cancel; whoever may read an
//! account sees the moves in and out of it.

use async_graphql::{Context, ID, InputObject, Object, SimpleObject};
use billing::ledger::{self, AccountMove, NewMove};
use chrono::{DateTime, Utc};
use kernel::{AccountMoveId, BillingAccountId, DomainError, SchoolId};

use super::types::AccountNode;
use crate::graphql::context::ContextExt;
use crate::graphql::directory::types::SchoolNode;
use crate::graphql::errors::{UserError, internal, payload};
use crate::graphql::relay::{GlobalId, expect_input};
use crate::graphql::scalars::Date;

/// Where a move is.
#[derive(async_graphql::Enum, Debug, Clone, Copy, PartialEq, Eq)]
#[graphql(remote = "ledger::MoveStatus")]
pub enum BillingAccountMoveStatus {
    /// Dated in the future: applied by Trellis on its date.
    Pending,
    /// The new account pays for the school from the move's date.
    Applied,
    /// Withdrawn before its date.
    Cancelled,
    /// Could not be applied on its date (see `failureReason`); nothing changed.
    Failed,
}

#[derive(Debug, Clone)]
pub struct AccountMoveNode(pub AccountMove);

/// A school's move from one billing account to another. Invoices issued before the move stay
/// with the account they were issued to.
#[Object(name = "BillingAccountMove")]
impl AccountMoveNode {
    /// Global id: opaque and stable.
    async fn id(&self) -> ID {
        self.0.id.to_global()
    }

    /// The school that moves.
    async fn school(&self, ctx: &Context<'_>) -> async_graphql::Result<SchoolNode> {
        ctx.trellis()?
            .loaders
            .schools()
            .load_one(self.0.school_id)
            .await?
            .map(SchoolNode::from)
            .ok_or_else(|| internal(format!("move {} has no school", self.0.id)))
    }

    /// The account that paid before; null when you may not see it (a school that left a
    /// trust does not see the trust's account).
    #[graphql(name = "fromAccount")]
    async fn paid_before(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<AccountNode>> {
        visible_account(ctx, self.0.from_account).await
    }

    /// The account that pays from `effectiveFrom`; null when you may not see it.
    async fn to_account(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<AccountNode>> {
        visible_account(ctx, self.0.to_account).await
    }

    /// The first day the new account pays.
    async fn effective_from(&self) -> Date {
        Date(self.0.effective_from)
    }

    /// Where the move is; see `BillingAccountMoveStatus`.
    async fn status(&self) -> BillingAccountMoveStatus {
        self.0.status.into()
    }

    /// Why a FAILED move could not be applied.
    async fn failure_reason(&self) -> Option<&str> {
        self.0.failure_reason.as_deref()
    }

    /// When it was first recorded in Trellis.
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }

    /// When it was applied, cancelled or failed.
    async fn settled_at(&self) -> Option<DateTime<Utc>> {
        self.0.settled_at
    }
}

async fn visible_account(
    ctx: &Context<'_>,
    id: BillingAccountId,
) -> async_graphql::Result<Option<AccountNode>> {
    let rc = ctx.trellis()?;
    Ok(rc
        .loaders
        .readable_accounts()
        .load_one(id)
        .await?
        .map(AccountNode))
}

/// The moves in and out of an account, newest date first: `BillingAccount.schoolMoves`.
pub async fn moves_of_account(
    ctx: &Context<'_>,
    account: BillingAccountId,
) -> async_graphql::Result<Vec<AccountMoveNode>> {
    let rc = ctx.trellis()?;
    let list = crate::graphql::loaders::list_of(rc.loaders.account_moves(), account).await?;
    Ok(list.into_iter().map(AccountMoveNode).collect())
}

/// Input to `billingAccountMoveSchool`.
#[derive(InputObject, Debug)]
pub struct BillingAccountMoveSchoolInput {
    /// The school to move; it must already be billed through an account.
    pub school_id: ID,
    /// The account that will pay for it.
    pub to_account_id: ID,
    /// The first day the new account pays: today (the default) or up to two years ahead, never
    /// in the past. A later date waits as PENDING and is applied on that day.
    pub effective_from: Option<Date>,
}

/// Input to `billingAccountMoveCancel`.
#[derive(InputObject, Debug)]
pub struct BillingAccountMoveCancelInput {
    /// The PENDING move to withdraw.
    pub id: ID,
}

/// What `billingAccountMoveSchool` and `billingAccountMoveCancel` did: the changed record, or
/// `userErrors` saying why nothing changed.
#[derive(SimpleObject, Debug)]
pub struct BillingAccountMovePayload {
    /// The billing account move as the mutation left it; null when `userErrors` says why nothing
    /// changed.
    pub billing_account_move: Option<AccountMoveNode>,
    /// NOT_FOUND (school, account), CONFLICT (billed nowhere yet, already this account's, a
    /// move already pending, no longer pending), TAKEN (a SCHOOL account paying for another
    /// school), OUT_OF_RANGE (a date in the past or over two years ahead).
    pub user_errors: Vec<UserError>,
}

impl BillingAccountMovePayload {
    fn from(result: Result<AccountMove, DomainError>) -> async_graphql::Result<Self> {
        let (found, user_errors) = payload(result)?;
        Ok(Self {
            billing_account_move: found.map(AccountMoveNode),
            user_errors,
        })
    }
}

#[derive(Default, Debug)]
pub struct MovesMutation;

#[Object]
impl MovesMutation {
    /// Move a school to another billing account (e.g. into its trust's account) today or from
    /// a later date. Invoices already issued stay where they are; the school's booking charges
    /// not yet invoiced, for sessions from that date, go with it. Finance and admins.
    async fn billing_account_move_school(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "What to change; the rules for each field are on the input type.")] input: BillingAccountMoveSchoolInput,
    ) -> async_graphql::Result<BillingAccountMovePayload> {
        let rc = ctx.trellis()?;
        let result = async {
            let school: SchoolId = expect_input(&input.school_id, "schoolId")?;
            let to_account: BillingAccountId = expect_input(&input.to_account_id, "toAccountId")?;
            ledger::move_school(
                &rc.db,
                &rc.actor,
                rc.clock.as_ref(),
                NewMove {
                    school,
                    to_account,
                    effective_from: input.effective_from.map(|d| d.0),
                },
            )
            .await
        }
        .await;
        BillingAccountMovePayload::from(result)
    }

    /// Withdraw a move still PENDING. Finance and admins.
    async fn billing_account_move_cancel(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "What to change; the rules for each field are on the input type.")] input: BillingAccountMoveCancelInput,
    ) -> async_graphql::Result<BillingAccountMovePayload> {
        let rc = ctx.trellis()?;
        let result = async {
            let id: AccountMoveId = expect_input(&input.id, "id")?;
            ledger::cancel_move(&rc.db, &rc.actor, rc.clock.as_ref(), id).await
        }
        .await;
        BillingAccountMovePayload::from(result)
    }
}
