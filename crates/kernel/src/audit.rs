//! The audit trail: who changed a record, when, with the record before and after.
//!
//! One table for every domain (`audit_entries`), so a booking's or a review's history reads
//! like an invoice's. A domain writes an entry inside the transaction of the change, so the
//! change and its entry commit or vanish together; snapshots are its own types serialised to
//! JSON. Reading a trail checks nothing: each domain decides who may read its records' trails
//! (the same people who may read the record) and calls [`trail`] after checking.

use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Alias, Query, SimpleExpr};
use sea_orm::{ConnectionTrait, Statement, Value};
use serde::Serialize;
use uuid::Uuid;

use crate::{Actor, AuditEntryId, Clock, DomainError};

/// Who made a change, as stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum ActorKind {
    User,
    ApiKey,
    System,
}

impl ActorKind {
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::User => "USER",
            Self::ApiKey => "API_KEY",
            Self::System => "SYSTEM",
        }
    }

    fn parse(stored: &str) -> Option<Self> {
        [Self::User, Self::ApiKey, Self::System]
            .into_iter()
            .find(|k| k.as_str() == stored)
    }
}

/// One entry of a record's trail.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Entry {
    pub id: AuditEntryId,
    pub at: DateTime<Utc>,
    pub actor_kind: ActorKind,
    /// The user or API key; `None` for the system.
    pub actor_id: Option<Uuid>,
    /// e.g. `invoice.issue`, `booking.cancel`, `review.advance`.
    pub action: String,
    /// The kind of record, as its domain names it (`INVOICE`, `BOOKING`, `REVIEW`).
    pub entity: String,
    pub entity_id: Uuid,
    pub before: Option<serde_json::Value>,
    pub after: Option<serde_json::Value>,
}

/// How a change's author is stored: their kind, and their id unless the system made it.
#[must_use]
pub fn actor_parts(actor: &Actor) -> (ActorKind, Option<Uuid>) {
    match actor {
        Actor::User(u) => (ActorKind::User, Some(u.id.as_uuid())),
        Actor::ApiKey(k) => (ActorKind::ApiKey, Some(k.id.as_uuid())),
        Actor::System => (ActorKind::System, None),
    }
}

fn snapshot<T: Serialize>(value: Option<&T>) -> Result<Value, DomainError> {
    let json = value
        .map(|v| serde_json::to_value(v).map_err(DomainError::internal))
        .transpose()?;
    Ok(Value::Json(json.map(Box::new)))
}

/// Writes one entry about `(entity, id)` in the caller's transaction.
///
/// # Errors
/// A snapshot that does not serialise, or the database's.
#[allow(
    clippy::too_many_arguments,
    reason = "who, when, what was done to which record, and the record either side"
)]
pub async fn record<C: ConnectionTrait, B: Serialize, A: Serialize>(
    txn: &C,
    actor: &Actor,
    clock: &dyn Clock,
    action: &str,
    (entity, id): (&str, Uuid),
    before: Option<&B>,
    after: Option<&A>,
) -> Result<(), DomainError> {
    record_many(txn, actor, clock, action, entity, [(id, before, after)]).await
}

/// Entries per INSERT: 9 values each, well under SQLite's 32,766 bind parameters.
const ROWS_PER_INSERT: usize = 1_000;

/// Writes one entry per `(id, before, after)`, all the same `action` by the same actor, in
/// the caller's transaction: one INSERT per thousand entries, so a change to a list of
/// records (a register, a year's renewals) costs a fixed number of statements.
///
/// # Errors
/// A snapshot that does not serialise, or the database's.
pub async fn record_many<'a, C, B, A, I>(
    txn: &C,
    actor: &Actor,
    clock: &dyn Clock,
    action: &str,
    entity: &str,
    changes: I,
) -> Result<(), DomainError>
where
    C: ConnectionTrait,
    B: Serialize + 'a,
    A: Serialize + 'a,
    I: IntoIterator<Item = (Uuid, Option<&'a B>, Option<&'a A>)>,
{
    let (kind, actor_id) = actor_parts(actor);
    let at = clock.now();
    let mut rows = Vec::new();
    for (id, before, after) in changes {
        rows.push([
            Value::from(AuditEntryId::new().as_uuid()),
            Value::from(at),
            Value::from(kind.as_str()),
            Value::from(actor_id),
            Value::from(action),
            Value::from(entity),
            Value::from(id),
            snapshot(before)?,
            snapshot(after)?,
        ]);
    }
    for chunk in rows.chunks(ROWS_PER_INSERT) {
        let mut insert = Query::insert();
        insert.into_table(Alias::new("audit_entries")).columns(
            [
                "id",
                "at",
                "actor_kind",
                "actor_id",
                "action",
                "entity",
                "entity_id",
                "before",
                "after",
            ]
            .map(Alias::new),
        );
        for row in chunk {
            insert
                .values(row.iter().cloned().map(SimpleExpr::from))
                .map_err(DomainError::internal)?;
        }
        txn.execute(&insert).await?;
    }
    Ok(())
}

/// The trail of one record, oldest first (one statement). The caller has checked that its
/// actor may read the record.
///
/// # Errors
/// The database's, or a stored row this build cannot read.
pub async fn trail<C: ConnectionTrait>(
    db: &C,
    entity: &str,
    id: Uuid,
) -> Result<Vec<Entry>, DomainError> {
    let backend = db.get_database_backend();
    let sql = match backend {
        sea_orm::DbBackend::Postgres => {
            "SELECT id, at, actor_kind, actor_id, action, entity, entity_id, before, after \
             FROM audit_entries WHERE entity = $1 AND entity_id = $2 ORDER BY id"
        }
        _ => {
            "SELECT id, at, actor_kind, actor_id, action, entity, entity_id, before, after \
             FROM audit_entries WHERE entity = ? AND entity_id = ? ORDER BY id"
        }
    };
    let rows = db
        .query_all_raw(Statement::from_sql_and_values(
            backend,
            sql,
            [Value::from(entity), Value::from(id)],
        ))
        .await?;
    rows.into_iter()
        .map(|row| -> Result<Entry, DomainError> {
            let kind: String = row.try_get("", "actor_kind")?;
            let actor_kind = ActorKind::parse(&kind).ok_or_else(|| {
                DomainError::internal(crate::CorruptRow(format!("audit actor kind {kind}")))
            })?;
            Ok(Entry {
                id: AuditEntryId::from_uuid(row.try_get("", "id")?),
                at: row.try_get("", "at")?,
                actor_kind,
                actor_id: row.try_get("", "actor_id")?,
                action: row.try_get("", "action")?,
                entity: row.try_get("", "entity")?,
                entity_id: row.try_get("", "entity_id")?,
                before: row.try_get("", "before")?,
                after: row.try_get("", "after")?,
            })
        })
        .collect()
}
