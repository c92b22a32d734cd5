//! Moving a school to another billing account from a date: a school joins its trust's
//! account, or leaves it for one of its own.
//!
//! **What moves.** From the move's date the new account pays for the school: the next
//! invoicing run, termly invoice or manual invoice for the school goes to it, and the school's
//! booking charges not yet invoiced for sessions on or after that date go with it. **What
//! stays:** every invoice already issued, its payments and credit notes, and earlier charges
//! remain on the account that was billed; history is never rewritten, so a move cannot be
//! backdated.
//!
//! **When.** A move dated today is applied at once; one dated later waits as PENDING, and
//! [`apply_due_moves`] (the `apply-account-moves` job) applies it on its date, checking again
//! that it still makes sense (the target may meanwhile have taken another school). A school has
//! at most one pending move (a unique index), which finance may cancel until it is applied.
//!
//! **Concurrency.** Applying takes both accounts' ledger locks, in id order so two moves the
//! opposite way cannot deadlock, then re-reads who pays for the school: a concurrent move or
//! invoice waits or sees the result, never half of it.
//!
//! **Audit.** Scheduling, applying, cancelling and failing each write an entry on both
//! accounts' trails, so each account's history tells the whole story.

use std::collections::HashMap;

use chrono::{DateTime, Months, NaiveDate, Utc};
use kernel::BeginWrite as _;
use kernel::{
    AccountMoveId, Actor, BillingAccountId, Clock, DomainError, ErrorCode, Permission, Problems,
    SchoolId,
};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, ConnectionTrait, DatabaseConnection, EntityTrait,
    QueryFilter, QueryOrder, QuerySelect, Set,
};
use serde::Serialize;

use super::accounts::{AccountKind, BillingAccount, load};
use super::audit::{self, AuditEntity};
use super::entity::{account_moves, account_schools, accounts};
use super::support::{existing_schools, is_unique_violation, lock_account, named_enum, stored};

named_enum!(
    /// Where a move is.
    MoveStatus {
        /// Dated in the future: applied by the jobs on its date.
        Pending => "PENDING",
        /// The new account pays for the school.
        Applied => "APPLIED",
        /// Withdrawn by finance before its date.
        Cancelled => "CANCELLED",
        /// Could not be applied on its date (see its reason); nothing changed.
        Failed => "FAILED",
    }
);

/// How far ahead a move may be dated: a school's next year is known, not the one after.
const MAX_AHEAD: Months = Months::new(24);

/// A school's move from one account to another.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AccountMove {
    pub id: AccountMoveId,
    pub school_id: SchoolId,
    pub from_account: BillingAccountId,
    pub to_account: BillingAccountId,
    /// The first day the new account pays.
    pub effective_from: NaiveDate,
    pub status: MoveStatus,
    /// Why a FAILED move could not be applied.
    pub failure_reason: Option<String>,
    pub created_at: DateTime<Utc>,
    /// When it was applied, cancelled or failed.
    pub settled_at: Option<DateTime<Utc>>,
}

impl AccountMove {
    fn from_row(row: account_moves::Model) -> Result<Self, DomainError> {
        Ok(Self {
            id: AccountMoveId::from_uuid(row.id),
            school_id: SchoolId::from_uuid(row.school_id),
            from_account: BillingAccountId::from_uuid(row.from_account_id),
            to_account: BillingAccountId::from_uuid(row.to_account_id),
            effective_from: row.effective_from,
            status: stored("account move status", &row.status)?,
            failure_reason: row.failure_reason,
            created_at: row.created_at,
            settled_at: row.settled_at,
        })
    }
}

/// A move to make.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewMove {
    pub school: SchoolId,
    pub to_account: BillingAccountId,
    /// The first day the new account pays; `None` means today.
    pub effective_from: Option<NaiveDate>,
}

/// Field names of [`NewMove`] in errors.
const SCHOOL: &str = "schoolId";
const TO_ACCOUNT: &str = "toAccountId";
const EFFECTIVE_FROM: &str = "effectiveFrom";

/// Moves a school to `to_account` today, or schedules the move for a later date. Finance and
/// admins. Refused with nothing written when the school is unknown or billed nowhere yet
/// (`NOT_FOUND`, `CONFLICT`: attach it instead), the account is unknown (`NOT_FOUND`), is
/// already the school's (`CONFLICT`), or is a SCHOOL account paying for another school
/// (`TAKEN`), when a move is already pending for the school (`CONFLICT`), or when the date is
/// in the past or more than two years ahead (`OUT_OF_RANGE`).
pub async fn move_school(
    db: &DatabaseConnection,
    actor: &Actor,
    clock: &dyn Clock,
    input: NewMove,
) -> Result<AccountMove, DomainError> {
    actor.require(Permission::ManageBilling)?;
    let today = clock.today();
    let effective = input.effective_from.unwrap_or(today);
    let mut problems = Problems::new();
    if effective < today {
        problems.add(
            EFFECTIVE_FROM,
            ErrorCode::OutOfRange,
            "a move cannot be backdated: invoices already issued stay with the account they \
             were issued to (credit them and invoice again instead)",
        );
    } else if today
        .checked_add_months(MAX_AHEAD)
        .is_none_or(|last| effective > last)
    {
        problems.add(
            EFFECTIVE_FROM,
            ErrorCode::OutOfRange,
            "a move may be dated at most two years ahead",
        );
    }
    problems.finish()?;

    let txn = db.begin_write().await?;
    let from = current_account(&txn, input.school).await?;
    let Some(from) = from else {
        let known = existing_schools(&txn, &[input.school]).await?;
        return Err(if known.contains(&input.school) {
            DomainError::invalid(
                SCHOOL,
                ErrorCode::Conflict,
                "the school is not billed through any account yet: attach it to one instead",
            )
        } else {
            DomainError::invalid(SCHOOL, ErrorCode::NotFound, "no such school")
        });
    };
    if from == input.to_account {
        return Err(DomainError::invalid(
            TO_ACCOUNT,
            ErrorCode::Conflict,
            "the school is already billed through this account",
        ));
    }
    lock_both(&txn, from, input.to_account).await?;
    // Who pays may have changed while we waited for the locks.
    if current_account(&txn, input.school).await? != Some(from) {
        return Err(DomainError::invalid(
            SCHOOL,
            ErrorCode::Conflict,
            "the school's billing account changed meanwhile: look again and retry",
        ));
    }
    let to = load(&txn, input.to_account)
        .await?
        .ok_or_else(|| DomainError::invalid(TO_ACCOUNT, ErrorCode::NotFound, "no such account"))?;
    if let Some(problem) = target_problem(&to, input.school) {
        return Err(DomainError::invalid(TO_ACCOUNT, ErrorCode::Taken, problem));
    }

    let now = clock.now();
    let pending = effective > today;
    let row = account_moves::ActiveModel {
        id: Set(AccountMoveId::new().as_uuid()),
        school_id: Set(input.school.as_uuid()),
        from_account_id: Set(from.as_uuid()),
        to_account_id: Set(to.id.as_uuid()),
        effective_from: Set(effective),
        status: Set(if pending {
            MoveStatus::Pending
        } else {
            MoveStatus::Applied
        }
        .as_str()
        .to_owned()),
        pending_school_id: Set(pending.then_some(input.school.as_uuid())),
        failure_reason: Set(None),
        created_at: Set(now),
        settled_at: Set((!pending).then_some(now)),
    }
    .insert(&txn)
    .await;
    let row = match row {
        Err(err) if is_unique_violation(&err) => {
            return Err(DomainError::invalid(
                SCHOOL,
                ErrorCode::Conflict,
                "a move is already pending for this school: cancel it first",
            ));
        }
        other => other?,
    };
    let made = AccountMove::from_row(row)?;
    if pending {
        for account in [from, to.id] {
            audit::record(
                &txn,
                actor,
                clock,
                "account.move_scheduled",
                (AuditEntity::BillingAccount, account.as_uuid()),
                None::<&()>,
                Some(&made),
            )
            .await?;
        }
    } else {
        switch(&txn, actor, clock, &made).await?;
    }
    txn.commit().await?;
    tracing::debug!(school = %made.school_id, to = %made.to_account, status = %made.status, "school moved");
    Ok(made)
}

/// Withdraws a PENDING move. Finance and admins; `CONFLICT` once it was applied, cancelled
/// or failed.
pub async fn cancel_move(
    db: &DatabaseConnection,
    actor: &Actor,
    clock: &dyn Clock,
    id: AccountMoveId,
) -> Result<AccountMove, DomainError> {
    actor.require(Permission::ManageBilling)?;
    let txn = db.begin_write().await?;
    let before = find(&txn, id).await?;
    lock_both(&txn, before.from_account, before.to_account).await?;
    // Re-read under the locks: the job applies moves holding the same ones.
    let before = find(&txn, id).await?;
    if before.status != MoveStatus::Pending {
        return Err(DomainError::invalid(
            "id",
            ErrorCode::Conflict,
            format!(
                "the move is {} and can no longer be cancelled",
                before.status
            ),
        ));
    }
    let after = settle(&txn, &before, MoveStatus::Cancelled, None, clock.now()).await?;
    for account in [after.from_account, after.to_account] {
        audit::record(
            &txn,
            actor,
            clock,
            "account.move_cancelled",
            (AuditEntity::BillingAccount, account.as_uuid()),
            Some(&before),
            Some(&after),
        )
        .await?;
    }
    txn.commit().await?;
    Ok(after)
}

/// What one sweep of [`apply_due_moves`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AppliedMoves {
    pub applied: u32,
    /// Moves that could no longer be made (kept as FAILED with the reason).
    pub failed: u32,
}

/// Applies every PENDING move dated today or earlier, each in its own transaction, as
/// Trellis. Safe to rerun and to run on two replicas at once: a move is applied only while
/// still PENDING, re-read under both accounts' locks.
pub async fn apply_due_moves(
    db: &DatabaseConnection,
    clock: &dyn Clock,
) -> Result<AppliedMoves, DomainError> {
    let due: Vec<uuid::Uuid> = account_moves::Entity::find()
        .select_only()
        .column(account_moves::Column::Id)
        .filter(account_moves::Column::Status.eq(MoveStatus::Pending.as_str()))
        .filter(account_moves::Column::EffectiveFrom.lte(clock.today()))
        .order_by_asc(account_moves::Column::EffectiveFrom)
        .order_by_asc(account_moves::Column::Id)
        .into_tuple()
        .all(db)
        .await?;
    let mut outcome = AppliedMoves::default();
    for id in due {
        match apply_one(db, clock, AccountMoveId::from_uuid(id)).await? {
            Some(MoveStatus::Applied) => outcome.applied += 1,
            Some(MoveStatus::Failed) => outcome.failed += 1,
            _ => {}
        }
    }
    Ok(outcome)
}

/// Applies one due move, or records why it cannot be; `None` when it was no longer pending.
async fn apply_one(
    db: &DatabaseConnection,
    clock: &dyn Clock,
    id: AccountMoveId,
) -> Result<Option<MoveStatus>, DomainError> {
    let actor = Actor::System;
    let txn = db.begin_write().await?;
    let pending = find(&txn, id).await?;
    lock_both(&txn, pending.from_account, pending.to_account).await?;
    let pending = find(&txn, id).await?;
    if pending.status != MoveStatus::Pending {
        return Ok(None);
    }
    let now = clock.now();
    let problem = match (
        current_account(&txn, pending.school_id).await?,
        load(&txn, pending.to_account).await?,
    ) {
        (Some(from), Some(to)) if from == pending.from_account => {
            target_problem(&to, pending.school_id).map(str::to_owned)
        }
        (Some(from), _) if from == pending.to_account => {
            Some("the school was already billed through the new account".to_owned())
        }
        _ => Some("the school was no longer billed through the account it was moving from".into()),
    };
    let status = if let Some(reason) = problem {
        let failed = settle(&txn, &pending, MoveStatus::Failed, Some(reason), now).await?;
        for account in [failed.from_account, failed.to_account] {
            audit::record(
                &txn,
                &actor,
                clock,
                "account.move_failed",
                (AuditEntity::BillingAccount, account.as_uuid()),
                Some(&pending),
                Some(&failed),
            )
            .await?;
        }
        tracing::warn!(move_id = %id, reason = failed.failure_reason.as_deref().unwrap_or(""), "account move failed");
        MoveStatus::Failed
    } else {
        let applied = settle(&txn, &pending, MoveStatus::Applied, None, now).await?;
        switch(&txn, &actor, clock, &applied).await?;
        MoveStatus::Applied
    };
    txn.commit().await?;
    Ok(Some(status))
}

/// Each account's moves, in and out, newest first: for the gateway's loader (the account's
/// visibility is checked by whoever holds it).
pub async fn moves_of_accounts<C: ConnectionTrait>(
    db: &C,
    ids: &[BillingAccountId],
) -> Result<HashMap<BillingAccountId, Vec<AccountMove>>, DomainError> {
    let uuids: Vec<uuid::Uuid> = ids.iter().map(BillingAccountId::as_uuid).collect();
    let rows = account_moves::Entity::find()
        .filter(
            Condition::any()
                .add(account_moves::Column::FromAccountId.is_in(uuids.clone()))
                .add(account_moves::Column::ToAccountId.is_in(uuids)),
        )
        .order_by_desc(account_moves::Column::EffectiveFrom)
        .order_by_desc(account_moves::Column::Id)
        .all(db)
        .await?;
    let mut out: HashMap<BillingAccountId, Vec<AccountMove>> = HashMap::new();
    for row in rows {
        let made = AccountMove::from_row(row)?;
        for account in [made.from_account, made.to_account] {
            if ids.contains(&account) {
                out.entry(account).or_default().push(made.clone());
            }
        }
    }
    Ok(out)
}

/// Who pays for `school` now.
async fn current_account<C: ConnectionTrait>(
    db: &C,
    school: SchoolId,
) -> Result<Option<BillingAccountId>, DomainError> {
    Ok(account_schools::Entity::find_by_id(school.as_uuid())
        .one(db)
        .await?
        .map(|link| BillingAccountId::from_uuid(link.account_id)))
}

/// Why `to` cannot take `school`, if it cannot.
fn target_problem(to: &BillingAccount, school: SchoolId) -> Option<&'static str> {
    (to.kind == AccountKind::School && to.school_ids.iter().any(|s| *s != school)).then_some(
        "a SCHOOL account pays for exactly one school and this one already pays for another: \
         use a TRUST account",
    )
}

/// Both accounts' ledger locks, lower id first so opposite moves cannot deadlock.
async fn lock_both<C: ConnectionTrait>(
    txn: &C,
    a: BillingAccountId,
    b: BillingAccountId,
) -> Result<(), DomainError> {
    let (first, second) = if a <= b { (a, b) } else { (b, a) };
    for account in [first, second] {
        lock_account(txn, account).await.map_err(|err| match err {
            DomainError::NotFound { .. } => {
                DomainError::invalid(TO_ACCOUNT, ErrorCode::NotFound, "no such account")
            }
            other => other,
        })?;
    }
    Ok(())
}

async fn find<C: ConnectionTrait>(txn: &C, id: AccountMoveId) -> Result<AccountMove, DomainError> {
    account_moves::Entity::find_by_id(id.as_uuid())
        .one(txn)
        .await?
        .map(AccountMove::from_row)
        .transpose()?
        .ok_or(DomainError::NotFound {
            entity: "BillingAccountMove",
        })
}

/// Ends a pending move as `status`.
async fn settle<C: ConnectionTrait>(
    txn: &C,
    pending: &AccountMove,
    status: MoveStatus,
    reason: Option<String>,
    now: DateTime<Utc>,
) -> Result<AccountMove, DomainError> {
    account_moves::ActiveModel {
        id: sea_orm::Unchanged(pending.id.as_uuid()),
        status: Set(status.as_str().to_owned()),
        pending_school_id: Set(None),
        failure_reason: Set(reason),
        settled_at: Set(Some(now)),
        ..Default::default()
    }
    .update(txn)
    .await
    .map_err(DomainError::from)
    .and_then(AccountMove::from_row)
}

/// Makes the move's new account the school's payer, carries the school's charges not yet
/// invoiced from its date along, and writes both accounts' trail entries. Both accounts'
/// locks are held.
async fn switch<C: ConnectionTrait>(
    txn: &C,
    actor: &Actor,
    clock: &dyn Clock,
    made: &AccountMove,
) -> Result<(), DomainError> {
    let now = clock.now();
    let (from_before, to_before) = (
        load(txn, made.from_account).await?,
        load(txn, made.to_account).await?,
    );
    account_schools::Entity::update_many()
        .col_expr(
            account_schools::Column::AccountId,
            Expr::value(made.to_account.as_uuid()),
        )
        .filter(account_schools::Column::SchoolId.eq(made.school_id.as_uuid()))
        .exec(txn)
        .await?;
    accounts::Entity::update_many()
        .col_expr(accounts::Column::UpdatedAt, Expr::value(now))
        .filter(
            accounts::Column::Id.is_in([made.from_account.as_uuid(), made.to_account.as_uuid()]),
        )
        .exec(txn)
        .await?;
    crate::charges::follow_move(
        txn,
        made.school_id,
        made.from_account,
        made.to_account,
        made.effective_from,
        now,
    )
    .await?;
    for (account, before) in [
        (made.from_account, from_before),
        (made.to_account, to_before),
    ] {
        let after = load(txn, account).await?;
        audit::record(
            txn,
            actor,
            clock,
            "account.move_school",
            (AuditEntity::BillingAccount, account.as_uuid()),
            before.as_ref(),
            after.as_ref(),
        )
        .await?;
    }
    Ok(())
}
