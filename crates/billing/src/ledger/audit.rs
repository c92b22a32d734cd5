//! The money audit trail: who changed what, when, with the record before and after.
//!
//! Entries are written by the mutation itself, inside its transaction, so a change and its
//! entry commit or vanish together. Snapshots are the domain types serialised to JSON. The
//! trail is the one every domain writes (`kernel::audit`); this module names the ledger's
//! records in it and lets finance read their trails.

use kernel::{Actor, Clock, DomainError, Permission};
use sea_orm::ConnectionTrait;
use serde::Serialize;
use uuid::Uuid;

use super::support::named_enum;

named_enum!(
    /// What kind of record an audit entry is about.
    AuditEntity {
        BillingAccount => "BILLING_ACCOUNT",
        Invoice => "INVOICE",
        CreditNote => "CREDIT_NOTE",
        Payment => "PAYMENT",
        Refund => "REFUND",
        NumberSeries => "NUMBER_SERIES",
        /// A booking's charge for the termly invoice (`billing::charges`).
        Charge => "CHARGE",
        /// A membership invoice prepared and not yet issued (`billing::run::drafts`).
        InvoiceDraft => "INVOICE_DRAFT",
    }
);

pub use kernel::audit::{ActorKind, Entry as AuditEntry};

/// Writes one entry in the caller's transaction.
pub(crate) async fn record<C: ConnectionTrait, B: Serialize, A: Serialize>(
    txn: &C,
    actor: &Actor,
    clock: &dyn Clock,
    action: &str,
    (entity, entity_id): (AuditEntity, Uuid),
    before: Option<&B>,
    after: Option<&A>,
) -> Result<(), DomainError> {
    kernel::audit::record(
        txn,
        actor,
        clock,
        action,
        (entity.as_str(), entity_id),
        before,
        after,
    )
    .await
}

/// Writes one entry per `(id, before, after)` of `entity`, in few statements (see
/// [`kernel::audit::record_many`]).
pub(crate) async fn record_many<'a, C, B, A, I>(
    txn: &C,
    actor: &Actor,
    clock: &dyn Clock,
    action: &str,
    entity: AuditEntity,
    changes: I,
) -> Result<(), DomainError>
where
    C: ConnectionTrait,
    B: Serialize + 'a,
    A: Serialize + 'a,
    I: IntoIterator<Item = (Uuid, Option<&'a B>, Option<&'a A>)>,
{
    kernel::audit::record_many(txn, actor, clock, action, entity.as_str(), changes).await
}

/// The trail of one record, oldest first. Finance and admins only: the trail names people.
pub async fn audit_of<C: ConnectionTrait>(
    db: &C,
    actor: &Actor,
    entity: AuditEntity,
    id: Uuid,
) -> Result<Vec<AuditEntry>, DomainError> {
    actor.require(Permission::ManageBilling)?;
    kernel::audit::trail(db, entity.as_str(), id).await
}
