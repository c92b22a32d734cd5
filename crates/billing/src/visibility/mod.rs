//! Checked reads of billing records: each takes the caller and answers only what that caller
//! may see. Everything billed to an account is seen by those who may read the account
//! ([`may_read_account`]: partnership staff, `billing:read` keys, and the leaders of the
//! schools it bills); an id the caller may not see is left out exactly like an unknown one.

use std::collections::HashMap;

use kernel::{
    Actor, BillingAccountId, ChargeId, CreditNoteId, DomainError, FeeScheduleId, InvoiceId,
    PaymentId, Permission, SchoolId,
};
use sea_orm::{ColumnTrait as _, DatabaseConnection};

use crate::charges::{self, Charge};
use crate::fees::{self, FeeSchedule};
use crate::ledger::credit_notes::{self, CreditNote};
use crate::ledger::entity::credit_notes as credit_note_rows;
use crate::ledger::invoices::{self, Invoice};
use crate::ledger::payments::{self, Payment};
use crate::ledger::{BillingAccount, accounts};

pub(crate) mod sight;

pub(crate) use sight::Sight;

/// Whether `actor` may read `school`'s billing (its account, invoices and fees): partnership
/// staff and `billing:read` keys every school's, a school's leaders their own.
#[must_use]
pub fn may_read_billing_of_school(actor: &Actor, school: SchoolId) -> bool {
    Sight::of(actor).is_ok_and(|sight| sight.sees(&[school]))
}

/// Whether `actor` may read fee schedules and quotes from them: a published price list, for
/// those who read memberships or billing.
#[must_use]
pub fn may_read_fee_schedules(actor: &Actor) -> bool {
    actor.can(Permission::ReadMemberships) || actor.can(Permission::ReadBilling)
}

/// Fee schedules, to those who may read them ([`may_read_fee_schedules`]).
pub async fn visible_schedules(
    db: &DatabaseConnection,
    actor: &Actor,
    ids: &[FeeScheduleId],
) -> Result<HashMap<FeeScheduleId, FeeSchedule>, DomainError> {
    if !may_read_fee_schedules(actor) {
        return Ok(HashMap::new());
    }
    fees::schedules_by_ids(db, ids).await
}

/// Billing accounts the caller may read.
pub async fn visible_accounts(
    db: &DatabaseConnection,
    actor: &Actor,
    ids: &[BillingAccountId],
) -> Result<HashMap<BillingAccountId, BillingAccount>, DomainError> {
    let mut found = accounts::accounts_by_ids(db, ids).await?;
    found.retain(|_, a| may_read_account(actor, a));
    Ok(found)
}

/// Keeps the records whose account the caller may read: one statement for the accounts.
async fn of_visible_accounts<K, V>(
    db: &DatabaseConnection,
    actor: &Actor,
    mut found: HashMap<K, V>,
    account_of: impl Fn(&V) -> BillingAccountId,
) -> Result<HashMap<K, V>, DomainError>
where
    K: std::hash::Hash + Eq,
{
    let ids: Vec<BillingAccountId> = found.values().map(&account_of).collect();
    let readable = visible_accounts(db, actor, &ids).await?;
    found.retain(|_, v| readable.contains_key(&account_of(v)));
    Ok(found)
}

/// Invoices of accounts the caller may read.
pub async fn visible_invoices(
    db: &DatabaseConnection,
    actor: &Actor,
    ids: &[InvoiceId],
) -> Result<HashMap<InvoiceId, Invoice>, DomainError> {
    let found = invoices::invoices_by_ids(db, ids).await?;
    of_visible_accounts(db, actor, found, |i: &Invoice| i.account_id).await
}

/// Receipts of accounts the caller may read.
pub async fn visible_payments(
    db: &DatabaseConnection,
    actor: &Actor,
    ids: &[PaymentId],
) -> Result<HashMap<PaymentId, Payment>, DomainError> {
    let found = payments::payments_by_ids(db, ids).await?;
    of_visible_accounts(db, actor, found, |p: &Payment| p.account_id).await
}

/// Charges of accounts the caller may read.
pub async fn visible_charges(
    db: &DatabaseConnection,
    actor: &Actor,
    ids: &[ChargeId],
) -> Result<HashMap<ChargeId, Charge>, DomainError> {
    let found = charges::charges_by_ids(db, ids).await?;
    of_visible_accounts(db, actor, found, |c: &Charge| c.account_id).await
}

/// Credit notes of accounts the caller may read.
pub async fn visible_credit_notes(
    db: &DatabaseConnection,
    actor: &Actor,
    ids: &[CreditNoteId],
) -> Result<HashMap<CreditNoteId, CreditNote>, DomainError> {
    if ids.is_empty() {
        return Ok(HashMap::new());
    }
    let found: HashMap<CreditNoteId, CreditNote> = credit_notes::load_where(
        db,
        sea_orm::Condition::all()
            .add(credit_note_rows::Column::Id.is_in(ids.iter().map(CreditNoteId::as_uuid))),
    )
    .await?
    .into_iter()
    .map(|n| (n.id, n))
    .collect();
    of_visible_accounts(db, actor, found, |n: &CreditNote| n.account_id).await
}

/// Whether `actor` may read `account`, and so everything billed to it: partnership staff and
/// `billing:read` keys every account, a school's leaders the accounts paying for their schools.
#[must_use]
pub fn may_read_account(actor: &Actor, account: &BillingAccount) -> bool {
    Sight::of(actor).is_ok_and(|sight| sight.sees(&account.school_ids))
}

/// The account paying for each school, where the caller may read it.
pub async fn visible_accounts_of_schools(
    db: &DatabaseConnection,
    actor: &Actor,
    schools: &[SchoolId],
) -> Result<HashMap<SchoolId, BillingAccount>, DomainError> {
    let mut found = accounts::accounts_of_schools(db, schools).await?;
    found.retain(|_, a| may_read_account(actor, a));
    Ok(found)
}
