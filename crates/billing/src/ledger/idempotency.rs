//! Idempotency keys for mutations that move money or take capacity (payments, credit notes,
//! refunds, bookings).
//!
//! A client retrying after a timeout sends the same key: the first request's result comes
//! back and nothing is done twice. The same key with a *different* request is a caller bug
//! and a `Conflict`, never a silent replay of something else. The key is stored in the same
//! transaction as the effect, so a key exists exactly when its effect does.
//!
//! A key belongs to its caller ([`kernel::Actor::caller_id`]): another caller sending the same
//! key makes a fresh request and never receives the first caller's result. Keys Trellis
//! derives from its own ids (a support request's credit, say) are shared by every caller
//! instead ([`Caller::Trellis`]), so the effect happens once whoever asks.

use chrono::{DateTime, Utc};
use kernel::{Actor, DomainError, ErrorCode};
use sea_orm::{ActiveModelTrait, ConnectionTrait, EntityTrait, Set};
use serde::Serialize;
use uuid::Uuid;

use super::entity::idempotency_keys;
use super::support::{CorruptRow, is_unique_violation};

/// The field name callers' inputs use for the key.
const FIELD: &str = "idempotencyKey";
const KEY_MAX: usize = 255;

/// Whose key it is.
#[derive(Debug, Clone, Copy)]
pub enum Caller<'a> {
    /// The caller chose the key: it is theirs alone.
    Actor(&'a Actor),
    /// Trellis derived the key from its own ids: one effect whoever asks.
    Trellis,
}

impl Caller<'_> {
    fn id(self) -> String {
        match self {
            Self::Actor(actor) => actor.caller_id(),
            Self::Trellis => TRELLIS_CALLER.to_owned(),
        }
    }
}

/// The stored caller of keys Trellis derives itself.
const TRELLIS_CALLER: &str = "trellis";

/// One keyed request: its scope (which mutation), its caller, the key and the request's
/// canonical form.
#[derive(Debug, Clone)]
pub struct Keyed {
    scope: &'static str,
    caller: String,
    key: String,
    request: String,
}

/// What [`Keyed::remember`] found.
#[derive(Debug)]
pub enum Remembered {
    Stored,
    /// A concurrent request with the same key committed first: replay its result.
    Raced,
}

impl Keyed {
    /// `None` when the caller sent no key. Blank or overlong keys are field errors.
    pub fn new<R: Serialize>(
        scope: &'static str,
        caller: Caller<'_>,
        key: Option<&str>,
        request: &R,
    ) -> Result<Option<Self>, DomainError> {
        let Some(key) = key else {
            return Ok(None);
        };
        let key = key.trim();
        if key.is_empty() || key.len() > KEY_MAX {
            return Err(DomainError::invalid(
                FIELD,
                ErrorCode::Invalid,
                format!("an idempotency key is 1 to {KEY_MAX} characters"),
            ));
        }
        Ok(Some(Self {
            scope,
            caller: caller.id(),
            key: key.to_owned(),
            request: serde_json::to_string(request).map_err(DomainError::internal)?,
        }))
    }

    /// The ids the first request with this key produced, or a `Conflict` when that request
    /// was different; `None` when the key is new.
    pub async fn replay<C: ConnectionTrait>(
        &self,
        db: &C,
    ) -> Result<Option<Vec<Uuid>>, DomainError> {
        let Some(row) = idempotency_keys::Entity::find_by_id((
            self.scope.to_owned(),
            self.caller.clone(),
            self.key.clone(),
        ))
        .one(db)
        .await?
        else {
            return Ok(None);
        };
        if row.request != self.request {
            return Err(DomainError::invalid(
                FIELD,
                ErrorCode::Conflict,
                "this idempotency key was already used for a different request",
            ));
        }
        serde_json::from_str(&row.result).map(Some).map_err(|e| {
            DomainError::internal(CorruptRow(format!("idempotency key {}: {e}", self.key)))
        })
    }

    /// Stores the key with its result in the caller's transaction.
    pub async fn remember<C: ConnectionTrait>(
        &self,
        txn: &C,
        result: &[Uuid],
        now: DateTime<Utc>,
    ) -> Result<Remembered, DomainError> {
        let inserted = idempotency_keys::ActiveModel {
            scope: Set(self.scope.to_owned()),
            caller: Set(self.caller.clone()),
            key: Set(self.key.clone()),
            request: Set(self.request.clone()),
            result: Set(serde_json::to_string(result).map_err(DomainError::internal)?),
            created_at: Set(now),
        }
        .insert(txn)
        .await;
        match inserted {
            Ok(_) => Ok(Remembered::Stored),
            Err(err) if is_unique_violation(&err) => Ok(Remembered::Raced),
            Err(err) => Err(err.into()),
        }
    }
}
