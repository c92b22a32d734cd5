//! Small helpers shared by the traded services: input checks and the person behind a write.
//! Who may see what is [`crate::visibility`]'s.

use kernel::{Actor, DomainError, ErrorCode, FieldError, Permission, SchoolId, UserId};
use sea_orm::{DbErr, SqlErr};

pub(crate) use kernel::{optional_text, required_text, stored};

pub(crate) fn is_unique_violation(err: &DbErr) -> bool {
    matches!(err.sql_err(), Some(SqlErr::UniqueConstraintViolation(_)))
}

/// The person behind a write, for `booked_by`, `closed_by`, `marked_by`.
pub(crate) fn recorder(actor: &Actor) -> Option<UserId> {
    actor.as_user().map(|u| u.id)
}

/// A plausible email address, lower-cased: one `@`, something either side, a dot in the
/// domain, no spaces. Deliverability is the school's business; duplicates are ours.
pub(crate) fn email(field: &str, value: &str) -> Result<String, FieldError> {
    let value = required_text(field, value, 254)?.to_lowercase();
    let valid = value.split_once('@').is_some_and(|(local, domain)| {
        !local.is_empty()
            && domain.contains('.')
            && !domain.starts_with('.')
            && !domain.ends_with('.')
            && !domain.contains('@')
    }) && !value.chars().any(char::is_whitespace);
    if valid {
        Ok(value)
    } else {
        Err(FieldError::new(
            field,
            ErrorCode::Invalid,
            "is not an email address",
        ))
    }
}

/// `Ok` when the actor may act for `school` with `permission`; `NotFound` (school) when it is
/// another school's, so ids of other schools' records reveal nothing.
pub(crate) fn require_for_school(
    actor: &Actor,
    permission: Permission,
    school: SchoolId,
) -> Result<(), DomainError> {
    actor.require(permission)?;
    if actor.may_see_school_records(school) {
        Ok(())
    } else {
        Err(DomainError::NotFound { entity: "School" })
    }
}

/// Whole days from `now` until `start`, rounded down (a session starting in 47 hours is one
/// day away). Negative once started.
pub(crate) fn days_until(
    now: chrono::DateTime<chrono::Utc>,
    start: chrono::DateTime<chrono::Utc>,
) -> i64 {
    (start - now).num_days()
}

pub(crate) fn to_u32(value: i32) -> u32 {
    u32::try_from(value).unwrap_or(0)
}

pub(crate) fn to_i32(value: u32) -> i32 {
    i32::try_from(value).unwrap_or(i32::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_are_lower_cased_and_checked() {
        assert_eq!(
            email("e", " Ada.Lovelace@Alder.sch.UK ").ok().as_deref(),
            Some("ada.lovelace@alder.sch.uk")
        );
        for bad in [
            "ada",
            "ada@",
            "@alder.uk",
            "ada@alder",
            "a da@alder.uk",
            "a@b@c.uk",
        ] {
            assert!(email("e", bad).is_err(), "{bad}");
        }
    }
}
