//! Reading a membership record in another crate's statement: a `LEFT JOIN` brings its columns
//! under a prefix, so that a page and the record each row names come back in one round trip
//! instead of a page and then a batch. The entities stay private to this crate; callers get a
//! `SELECT` list and decode the domain type from the row.

use sea_orm::{EntityTrait, IdenStatic as _, Iterable as _};

/// The `SELECT` list reading every column of `E`, joined as `alias`, as `{prefix}{column}`, so
/// that none collides with the other table's own columns.
pub(crate) fn select_list<E: EntityTrait>(alias: &str, prefix: &str) -> String {
    E::Column::iter()
        .map(|column| format!("{alias}.{0} AS {prefix}{0}", column.as_str()))
        .collect::<Vec<_>>()
        .join(", ")
}
