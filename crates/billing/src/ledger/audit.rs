//! The money audit trail: who changed what, when, with the record before and after.
//!
//! Entries are written by the mutation itself, inside its transaction, so a change and its
//! entry commit or vanish together. Snapshots are the domain types serialised to JSON.

use chrono::{DateTime, Utc};
use kernel::{Actor, AuditEntryId, Clock, DomainError, Permission};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, Set,
};
use serde::Serialize;
use uuid::Uuid;

use super::entity::audit_entries;
use super::support::{named_enum, stored};

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
    }
);

named_enum!(
    /// Who made a change.
    ActorKind {
        User => "USER",
        ApiKey => "API_KEY",
        System => "SYSTEM",
    }
);

/// One entry of the trail.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AuditEntry {
    pub id: AuditEntryId,
    pub at: DateTime<Utc>,
    pub actor_kind: ActorKind,
    /// The user or API key; `None` for the system.
    pub actor_id: Option<Uuid>,
    /// e.g. `invoice.issue`, `payment.allocate`.
    pub action: String,
    pub entity: AuditEntity,
    pub entity_id: Uuid,
    pub before: Option<serde_json::Value>,
    pub after: Option<serde_json::Value>,
}

fn actor_parts(actor: &Actor) -> (ActorKind, Option<Uuid>) {
    match actor {
        Actor::User(u) => (ActorKind::User, Some(u.id.as_uuid())),
        Actor::ApiKey(k) => (ActorKind::ApiKey, Some(k.id.as_uuid())),
        Actor::System => (ActorKind::System, None),
    }
}

fn snapshot<T: Serialize>(value: Option<&T>) -> Result<Option<serde_json::Value>, DomainError> {
    value
        .map(|v| serde_json::to_value(v).map_err(DomainError::internal))
        .transpose()
}

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
    let (kind, actor_id) = actor_parts(actor);
    audit_entries::ActiveModel {
        id: Set(AuditEntryId::new().as_uuid()),
        at: Set(clock.now()),
        actor_kind: Set(kind.as_str().to_owned()),
        actor_id: Set(actor_id),
        action: Set(action.to_owned()),
        entity: Set(entity.as_str().to_owned()),
        entity_id: Set(entity_id),
        before: Set(snapshot(before)?),
        after: Set(snapshot(after)?),
    }
    .insert(txn)
    .await?;
    Ok(())
}

/// The trail of one record, oldest first. Finance and admins only: the trail names people.
pub async fn audit_of<C: ConnectionTrait>(
    db: &C,
    actor: &Actor,
    entity: AuditEntity,
    id: Uuid,
) -> Result<Vec<AuditEntry>, DomainError> {
    actor.require(Permission::ManageBilling)?;
    let rows = audit_entries::Entity::find()
        .filter(audit_entries::Column::Entity.eq(entity.as_str()))
        .filter(audit_entries::Column::EntityId.eq(id))
        .order_by_asc(audit_entries::Column::Id)
        .all(db)
        .await?;
    rows.into_iter()
        .map(|row| {
            Ok(AuditEntry {
                id: AuditEntryId::from_uuid(row.id),
                at: row.at,
                actor_kind: stored("audit actor kind", &row.actor_kind)?,
                actor_id: row.actor_id,
                action: row.action,
                entity: stored("audit entity", &row.entity)?,
                entity_id: row.entity_id,
                before: row.before,
                after: row.after,
            })
        })
        .collect()
}
