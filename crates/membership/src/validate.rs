//! Input checks shared by the directory's services.

use sea_orm::{DbErr, SqlErr};

pub(crate) use kernel::required_text;

/// Whether a write failed on a unique index: the race a pre-check cannot close.
pub(crate) fn is_unique_violation(err: &DbErr) -> bool {
    matches!(err.sql_err(), Some(SqlErr::UniqueConstraintViolation(_)))
}
