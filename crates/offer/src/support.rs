//! Small helpers shared by the offer's services: stored-name enums, input checks and the
//! visibility rule.

use std::collections::HashSet;

use kernel::{Actor, DomainError, ErrorCode, FieldError, Permission, SchoolId};
use sea_orm::{DbBackend, DbErr, SqlErr, Value};

/// Declares a closed set of names stored as SCREAMING_SNAKE_CASE text, so the database,
/// the domain and the API agree on one spelling.
macro_rules! named_enum {
    ($(#[$meta:meta])* $name:ident { $($(#[$vmeta:meta])* $variant:ident => $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum $name {
            $($(#[$vmeta])* $variant),+
        }

        impl $name {
            pub const ALL: &'static [Self] = &[$(Self::$variant),+];

            #[must_use]
            pub const fn as_str(self) -> &'static str {
                match self {
                    $(Self::$variant => $text),+
                }
            }
        }

        impl ::std::fmt::Display for $name {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl ::std::str::FromStr for $name {
            type Err = $crate::support::UnknownValue;

            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Self::ALL
                    .iter()
                    .copied()
                    .find(|v| v.as_str() == s)
                    .ok_or_else(|| $crate::support::UnknownValue { kind: stringify!($name), value: s.to_owned() })
            }
        }
    };
}
pub(crate) use named_enum;

/// A stored value this build does not recognise.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown {kind} `{value}`")]
pub struct UnknownValue {
    pub kind: &'static str,
    pub value: String,
}

/// A stored row that this build cannot read back: written by hand or by a newer release.
#[derive(Debug, thiserror::Error)]
#[error("corrupt row: {0}")]
pub struct CorruptRow(pub String);

/// Parses a stored name, treating an unknown one as corruption (ours, not the caller's).
pub(crate) fn stored<T: std::str::FromStr>(what: &str, raw: &str) -> Result<T, DomainError> {
    raw.parse()
        .map_err(|_| DomainError::internal(CorruptRow(format!("{what} `{raw}`"))))
}

/// Trims `value` and requires 1..=`max` characters.
pub(crate) fn required_text(field: &str, value: &str, max: usize) -> Result<String, FieldError> {
    let value = value.trim();
    if value.is_empty() {
        Err(FieldError::new(
            field,
            ErrorCode::Required,
            "must not be blank",
        ))
    } else if value.chars().count() > max {
        Err(FieldError::new(
            field,
            ErrorCode::TooLong,
            format!("must be at most {max} characters"),
        ))
    } else {
        Ok(value.to_owned())
    }
}

/// Optional text: blank means absent.
pub(crate) fn optional_text(
    field: &str,
    value: Option<&str>,
    max: usize,
) -> Result<Option<String>, FieldError> {
    match value.map(str::trim).filter(|v| !v.is_empty()) {
        None => Ok(None),
        Some(v) => required_text(field, v, max).map(Some),
    }
}

/// A strictly positive number of units.
pub(crate) fn positive(field: &str, quantity: i64) -> Result<i64, FieldError> {
    if quantity > 0 {
        Ok(quantity)
    } else {
        Err(FieldError::new(
            field,
            ErrorCode::OutOfRange,
            "must be more than zero",
        ))
    }
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

/// Whether `actor` may read `school`'s offer: for the gateway, which loads offers in batches
/// and checks each parent before showing it.
#[must_use]
pub fn may_read(actor: &Actor, school: SchoolId) -> bool {
    Sight::of(actor).is_ok_and(|sight| sight.sees(school))
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
