//! Small helpers shared by the offer's services: stored-name enums, input checks and the
//! visibility rule.

use std::collections::HashSet;

use kernel::{Actor, DomainError, FieldError, Permission, SchoolId};
use sea_orm::{DbBackend, DbErr, SqlErr, Value};

pub(crate) use kernel::named_enum;
pub use kernel::{CorruptRow, UnknownValue};
pub(crate) use kernel::{optional_text, required_text, stored};

/// A number of units from 1 to `kernel::quantity::MAX_INPUT_QUANTITY` (100,000), the one
/// bound on quantity inputs.
pub(crate) fn positive(field: &str, quantity: i64) -> Result<i64, FieldError> {
    kernel::quantity::bounded_quantity(field, quantity)
}

pub(crate) fn is_unique_violation(err: &DbErr) -> bool {
    matches!(err.sql_err(), Some(SqlErr::UniqueConstraintViolation(_)))
}

/// Which schools' offer an actor may read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Sight {
    /// Partnership staff, the system, and integrators holding `offer:read`.
    All,
    /// A school user: their own schools.
    Schools(HashSet<SchoolId>),
}

impl Sight {
    /// Requires `ReadOffer` and says how far the actor sees.
    pub(crate) fn of(actor: &Actor) -> Result<Self, DomainError> {
        actor.require(Permission::ReadOffer)?;
        Ok(match actor {
            Actor::User(user) if !user.role.is_partnership_staff() => {
                Self::Schools(user.schools.iter().copied().collect())
            }
            Actor::User(_) | Actor::ApiKey(_) | Actor::System => Self::All,
        })
    }

    pub(crate) fn sees(&self, school: SchoolId) -> bool {
        match self {
            Self::All => true,
            Self::Schools(own) => own.contains(&school),
        }
    }
}

/// The school's offer, when the actor may read it; `NotFound` otherwise, so another
/// school's records reveal nothing, not even that they exist.
pub(crate) fn require_sight(actor: &Actor, school: SchoolId) -> Result<(), DomainError> {
    if Sight::of(actor)?.sees(school) {
        Ok(())
    } else {
        Err(DomainError::NotFound { entity: "School" })
    }
}

/// Bind parameters of a hand-written statement, numbered as the backend wants them (`$1` on
/// PostgreSQL, `?` on SQLite). For the two reads sea-query cannot express portably (a window
/// function over a filtered set, a grouped left join with casts).
#[derive(Debug)]
pub(crate) struct Params {
    backend: DbBackend,
    pub(crate) values: Vec<Value>,
}

impl Params {
    pub(crate) const fn new(backend: DbBackend) -> Self {
        Self {
            backend,
            values: Vec::new(),
        }
    }

    /// Adds a value; returns its placeholder.
    pub(crate) fn push(&mut self, value: impl Into<Value>) -> String {
        self.values.push(value.into());
        match self.backend {
            DbBackend::Postgres => format!("${}", self.values.len()),
            _ => "?".to_owned(),
        }
    }

    /// Adds each value; returns the placeholders joined for an `IN (…)` list.
    pub(crate) fn list<V: Into<Value>>(&mut self, values: impl IntoIterator<Item = V>) -> String {
        values
            .into_iter()
            .map(|v| self.push(v))
            .collect::<Vec<_>>()
            .join(", ")
    }
}
