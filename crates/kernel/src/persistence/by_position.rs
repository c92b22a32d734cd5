//! Reading a model from a row by the position of its columns, not by their names.
//!
//! sea-orm's derived `FromQueryResult` finds every column by name: for a joined read it
//! first formats `{prefix}{column}`, then hashes that into the row's table of names, for
//! every column of every row. On the catalogue (a page of services with their sessions, one
//! statement) that was most of the fifth of the process's CPU spent decoding. A statement
//! that selects an entity's columns in `Column::iter()` order (as [`super::joined_select_list`]
//! and sea-orm's `find_with_related` do) can read them by index instead.
//!
//! A model opts in with [`decode_by_position!`](crate::decode_by_position), which lists its
//! fields in that order; the struct literal it expands to makes the compiler check that none
//! is missing, and debug builds (every test) check the order against `Column::iter()`.

use sea_orm::{DbErr, QueryResult, TryGetError};

/// A model read from `COLUMNS` consecutive columns of a row, starting at a given index.
pub trait DecodeAt: Sized {
    /// How many columns the model reads.
    const COLUMNS: usize;

    /// The model from the columns at `start..start + COLUMNS`, telling a NULL apart from
    /// other failures (what [`DecodeAt::decode_optional_at`] needs).
    fn try_decode_at(row: &QueryResult, start: usize) -> Result<Self, TryGetError>;

    /// The model from the columns at `start..start + COLUMNS`.
    fn decode_at(row: &QueryResult, start: usize) -> Result<Self, DbErr> {
        Ok(Self::try_decode_at(row, start)?)
    }

    /// The model, or `None` when a left join found none: its first column (the primary key,
    /// never NULL in a stored row) is NULL.
    fn decode_optional_at(row: &QueryResult, start: usize) -> Result<Option<Self>, DbErr> {
        match Self::try_decode_at(row, start) {
            Ok(model) => Ok(Some(model)),
            Err(TryGetError::Null(_)) if first_is_null(row, start) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }
}

/// Whether the column at `index` is NULL, whatever its type: sqlx checks a value's type only
/// when it is not NULL.
fn first_is_null(row: &QueryResult, index: usize) -> bool {
    matches!(
        row.try_get_by_index_nullable::<Option<String>>(index),
        Ok(None)
    )
}

/// Implements [`DecodeAt`] for a sea-orm `Model` from the list of its fields in column order:
/// `decode_by_position!(Model, Column { id, name, created_at });` inside the entity's module.
#[macro_export]
macro_rules! decode_by_position {
    ($model:ident, $column:ident { $($field:ident),+ $(,)? }) => {
        impl $crate::persistence::by_position::DecodeAt for $model {
            const COLUMNS: usize = [$(stringify!($field)),+].len();

            fn try_decode_at(
                row: &::sea_orm::QueryResult,
                start: usize,
            ) -> ::core::result::Result<Self, ::sea_orm::TryGetError> {
                debug_assert!(
                    <$column as ::sea_orm::Iterable>::iter()
                        .map(|c| ::sea_orm::IdenStatic::as_str(&c))
                        .eq([$(stringify!($field)),+]),
                    "decode_by_position!({}) lists the fields out of column order",
                    stringify!($model),
                );
                let mut at = start;
                let mut next = || {
                    at += 1;
                    at - 1
                };
                Ok(Self {
                    $($field: row.try_get_by_index_nullable(next())?,)+
                })
            }
        }
    };
}
