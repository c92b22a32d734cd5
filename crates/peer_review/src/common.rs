//! Small helpers every service of the crate uses.

use std::str::FromStr;

use kernel::{Actor, DomainError, Permission, SchoolId, UserId};

pub use kernel::CorruptRow;

/// A stored name parsed back; an unknown one is corruption (see [`kernel::stored`]).
pub(crate) fn parse<T: FromStr>(raw: &str, what: &str) -> Result<T, DomainError> {
    kernel::stored(what, raw)
}

pub(crate) fn from_json<T: serde::de::DeserializeOwned>(
    raw: serde_json::Value,
    what: &str,
) -> Result<T, DomainError> {
    serde_json::from_value(raw)
        .map_err(|e| DomainError::internal(CorruptRow(format!("{what}: {e}"))))
}

pub(crate) fn to_json<T: serde::Serialize>(value: &T) -> serde_json::Value {
    serde_json::to_value(value).expect("peer-review documents always serialise")
}

/// The person behind the call, for "recorded by" columns (none for the system or a key).
pub(crate) fn user_of(actor: &Actor) -> Option<UserId> {
    actor.as_user().map(|u| u.id)
}

/// Partnership staff who run peer review (and Trellis itself).
pub(crate) fn is_staff(actor: &Actor) -> bool {
    actor.can(Permission::ManagePeerReview)
}

/// A school leader acting for `school` — or Trellis itself, which seeds the demo through
/// the same services and so acts for every school.
pub(crate) fn acts_for(actor: &Actor, school: SchoolId) -> bool {
    matches!(actor, Actor::System)
        || (actor.can(Permission::TakePartInPeerReview)
            && actor.as_user().is_some_and(|u| u.schools.contains(&school)))
}

pub(crate) fn forbidden(what: &str) -> DomainError {
    DomainError::Forbidden(what.to_owned())
}

pub(crate) fn not_found(entity: &'static str) -> DomainError {
    DomainError::NotFound { entity }
}
