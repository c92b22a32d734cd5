//! Keyset pagination shared by every list in Trellis (the directory here, billing through
//! [`fetch_page`]).
//!
//! Lists are ordered by a sort key plus the row id as tie-breaker, and a page is "the next
//! N rows after this key" — an index range scan, never OFFSET, so page 500 costs what page 1
//! costs and rows inserted meanwhile do not shift what the caller sees.

use kernel::Cursor;
use kernel::persistence::by_position::DecodeAt;
use sea_orm::sea_query::{IntoCondition, SimpleExpr};
use sea_orm::{
    ColumnTrait, Condition, EntityTrait, IdenStatic as _, Iterable as _, Order, QueryFilter,
    QueryOrder, QuerySelect, QueryTrait, Select, Value,
};
use serde::Serialize;
use serde::de::DeserializeOwned;
use thiserror::Error;

/// Smallest and largest page a caller may ask for.
pub const MAX_PAGE: u64 = 100;
/// The page size when the caller names none.
pub const DEFAULT_PAGE: u64 = 20;

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum PageError {
    #[error("`{0}` must be between 1 and 100")]
    OutOfRange(&'static str),
    #[error("pass `first` or `last`, not both")]
    BothDirections,
    #[error("`{0}` is not a cursor this API issued")]
    BadCursor(&'static str),
}

/// A validated page request over sort keys of type `K`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageArgs<K> {
    pub after: Option<K>,
    pub before: Option<K>,
    pub limit: u64,
    /// `last`/`before` paging: take the rows nearest the upper bound.
    pub backward: bool,
}

impl<K: DeserializeOwned> PageArgs<K> {
    /// Validates Relay's `first/after/last/before`.
    pub fn parse(
        first: Option<i32>,
        after: Option<&str>,
        last: Option<i32>,
        before: Option<&str>,
    ) -> Result<Self, PageError> {
        let size = |n: i32, name| {
            u64::try_from(n)
                .ok()
                .filter(|n| (1..=MAX_PAGE).contains(n))
                .ok_or(PageError::OutOfRange(name))
        };
        let (limit, backward) = match (first, last) {
            (Some(_), Some(_)) => return Err(PageError::BothDirections),
            (Some(n), None) => (size(n, "first")?, false),
            (None, Some(n)) => (size(n, "last")?, true),
            (None, None) => (DEFAULT_PAGE, false),
        };
        let decode = |raw: Option<&str>, name| {
            raw.map(|raw| Cursor::decode::<K>(raw).map_err(|_| PageError::BadCursor(name)))
                .transpose()
        };
        Ok(Self {
            after: decode(after, "after")?,
            before: decode(before, "before")?,
            limit,
            backward,
        })
    }
}

impl<K> PageArgs<K> {
    /// The first `n` rows: for internal callers that want a plain page.
    #[must_use]
    pub const fn first(n: u64) -> Self {
        Self {
            after: None,
            before: None,
            limit: n,
            backward: false,
        }
    }
}

/// One page of results, in ascending order, with Relay's page info.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub has_next_page: bool,
    pub has_previous_page: bool,
}

impl<T> Page<T> {
    /// Builds a page from rows fetched `limit + 1` at a time in the page's direction (as
    /// [`fetch_page`] and a statement on [`page_select`] read them).
    ///
    /// Relay lets a server answer `hasPreviousPage` for forward paging (and `hasNextPage`
    /// for backward) with "a cursor was given", when the exact answer would cost a query.
    pub fn from_overfetch<K>(mut rows: Vec<T>, args: &PageArgs<K>) -> Self {
        let limit = usize::try_from(args.limit).unwrap_or(usize::MAX);
        let more = rows.len() > limit;
        rows.truncate(limit);
        if args.backward {
            rows.reverse();
            Self {
                items: rows,
                has_next_page: args.before.is_some(),
                has_previous_page: more,
            }
        } else {
            Self {
                items: rows,
                has_next_page: more,
                has_previous_page: args.after.is_some(),
            }
        }
    }

    /// Pages through a small list already in memory and already sorted by `key`.
    ///
    /// For edges whose lists are short by nature (a school's partnerships, a partnership's
    /// members): the dataloader fetches every parent's list in one query and each parent's
    /// page is cut here, which keeps a list of parents at a fixed number of statements.
    pub fn from_sorted<K: Ord>(items: Vec<T>, args: &PageArgs<K>, key: impl Fn(&T) -> K) -> Self {
        let in_range: Vec<T> = items
            .into_iter()
            .filter(|item| {
                let k = key(item);
                args.after.as_ref().is_none_or(|a| &k > a)
                    && args.before.as_ref().is_none_or(|b| &k < b)
            })
            .collect();
        let rows = if args.backward {
            in_range.into_iter().rev().collect()
        } else {
            in_range
        };
        let limit = usize::try_from(args.limit).unwrap_or(usize::MAX);
        let rows: Vec<T> = rows.into_iter().take(limit + 1).collect();
        Self::from_overfetch(rows, args)
    }

    pub fn map<U>(self, f: impl FnMut(T) -> U) -> Page<U> {
        Page {
            items: self.items.into_iter().map(f).collect(),
            has_next_page: self.has_next_page,
            has_previous_page: self.has_previous_page,
        }
    }

    /// [`map`](Self::map) with a conversion that can fail: the first failure, or the page.
    pub fn try_map<U, E>(self, f: impl FnMut(T) -> Result<U, E>) -> Result<Page<U>, E> {
        Ok(Page {
            items: self.items.into_iter().map(f).collect::<Result<_, _>>()?,
            has_next_page: self.has_next_page,
            has_previous_page: self.has_previous_page,
        })
    }
}

/// A sort key of (text, id): how the directory orders schools, partnerships and people.
pub type NameKey = (String, uuid::Uuid);

/// Runs `select` as one keyset page ordered by `(key_col, id_col)`, for any sort key whose
/// first part is a column value (a name, a date, a number). Public so every domain pages the
/// same way: billing lists invoices and receipts through it.
pub async fn fetch_page<E, C, K>(
    db: &C,
    select: Select<E>,
    key_col: E::Column,
    id_col: E::Column,
    args: &PageArgs<(K, uuid::Uuid)>,
) -> Result<Page<E::Model>, sea_orm::DbErr>
where
    E: EntityTrait,
    C: sea_orm::ConnectionTrait,
    K: Clone + Into<Value>,
{
    let rows = keyset(select, key_col, id_col, args).all(db).await?;
    Ok(Page::from_overfetch(rows, args))
}

/// [`fetch_page`] with each row's related rows of `R`, ordered by `related_order`, in the
/// same statement: for a page whose every row shows its children (the catalogue's services
/// with their sessions), one round trip instead of a page and then a batch.
///
/// The page is chosen by id in a subquery, so its limit counts rows of `E` however many
/// children each has; the outer statement joins the children to those rows. Each parent is
/// decoded once, from the first of its rows, not once per child as sea-orm's
/// `find_with_related(..).all()` does, and both models are read by column position
/// ([`DecodeAt`]): the statement selects `E`'s columns, then `R`'s, each in `Column::iter()`
/// order.
pub async fn fetch_page_with_related<E, R, C, K>(
    db: &C,
    select: Select<E>,
    (key_col, id_col): (E::Column, E::Column),
    args: &PageArgs<(K, uuid::Uuid)>,
    related: R,
    related_order: &[R::Column],
) -> Result<Page<(E::Model, Vec<R::Model>)>, sea_orm::DbErr>
where
    E: EntityTrait + sea_orm::Related<R>,
    E::Model: DecodeAt,
    R: EntityTrait,
    R::Model: DecodeAt,
    C: sea_orm::ConnectionTrait,
    K: Clone + Into<Value>,
{
    // In page order, so one parent's rows are next to each other, then its children's order.
    let mut joined = page_select(select, (key_col, id_col), args).find_with_related(related);
    for &column in related_order {
        joined = joined.order_by_asc(column);
    }
    let rows = db
        .query_all_raw(joined.build(db.get_database_backend()))
        .await?;
    let parent_id = E::Column::iter()
        .position(|c| c.as_str() == id_col.as_str())
        .ok_or_else(|| sea_orm::DbErr::Custom(format!("{} is not a column", id_col.as_str())))?;
    let child_start = <E::Model as DecodeAt>::COLUMNS;
    let mut items: Vec<(uuid::Uuid, E::Model, Vec<R::Model>)> = Vec::new();
    for row in rows {
        let id: uuid::Uuid = row.try_get_by_index(parent_id)?;
        let child = R::Model::decode_optional_at(&row, child_start)?;
        match items.last_mut() {
            Some((last, _, children)) if *last == id => children.extend(child),
            _ => {
                let parent = E::Model::decode_at(&row, 0)?;
                items.push((id, parent, child.into_iter().collect()));
            }
        }
    }
    let items = items
        .into_iter()
        .map(|(_, parent, children)| (parent, children))
        .collect();
    Ok(Page::from_overfetch(items, args))
}

/// The rows of `select`'s page, in page order, chosen by id in a subquery: a statement built
/// on it can join what each row shows (its children, the record it names) and its limit
/// still counts rows of `E`. [`Page::from_overfetch`] makes the page of what it reads.
pub fn page_select<E, K>(
    select: Select<E>,
    (key_col, id_col): (E::Column, E::Column),
    args: &PageArgs<(K, uuid::Uuid)>,
) -> Select<E>
where
    E: EntityTrait,
    K: Clone + Into<Value>,
{
    let page_ids = keyset(select, key_col, id_col, args)
        .select_only()
        .column(id_col)
        .into_query();
    let order = direction(args);
    E::find()
        .filter(id_col.in_subquery(page_ids))
        .order_by(key_col, order.clone())
        .order_by(id_col, order)
}

/// `select` narrowed to the page after (or before) the cursor, in page order, one row more
/// than the page holds so that [`Page::from_overfetch`] can tell whether another follows.
fn keyset<E, K>(
    mut select: Select<E>,
    key_col: E::Column,
    id_col: E::Column,
    args: &PageArgs<(K, uuid::Uuid)>,
) -> Select<E>
where
    E: EntityTrait,
    K: Clone + Into<Value>,
{
    if let Some(after) = &args.after {
        select = select.filter(beyond(key_col, id_col, after, true));
    }
    if let Some(before) = &args.before {
        select = select.filter(beyond(key_col, id_col, before, false));
    }
    let order = direction(args);
    select
        .order_by(key_col, order.clone())
        .order_by(id_col, order)
        .limit(args.limit + 1)
}

/// Forward pages read ascending; backward pages read descending from the cursor and are
/// turned round by [`Page::from_overfetch`].
fn direction<K>(args: &PageArgs<K>) -> Order {
    if args.backward {
        Order::Desc
    } else {
        Order::Asc
    }
}

/// `(key, id) > cursor` (or `<`), spelt out so both SQLite and PostgreSQL use the index.
fn beyond<C: ColumnTrait, K: Clone + Into<Value>>(
    key_col: C,
    id_col: C,
    key: &(K, uuid::Uuid),
    greater: bool,
) -> Condition {
    let (first, id): (Value, Value) = (key.0.clone().into(), Value::from(key.1));
    let (strict_key, strict_id): (SimpleExpr, SimpleExpr) = if greater {
        (key_col.gt(first.clone()), id_col.gt(id))
    } else {
        (key_col.lt(first.clone()), id_col.lt(id))
    };
    Condition::any().add(strict_key).add(
        Condition::all()
            .add(key_col.eq(first))
            .add(strict_id)
            .into_condition(),
    )
}

/// The cursor of a row ordered by `(name, id)`.
#[must_use]
pub fn name_cursor(name: &str, id: uuid::Uuid) -> Cursor {
    Cursor::encode(&(name, id))
}

/// Encodes any sort key.
#[must_use]
pub fn cursor_of<K: Serialize>(key: &K) -> Cursor {
    Cursor::encode(key)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validates_relay_arguments() {
        assert_eq!(
            PageArgs::<NameKey>::parse(Some(0), None, None, None),
            Err(PageError::OutOfRange("first"))
        );
        assert_eq!(
            PageArgs::<NameKey>::parse(Some(101), None, None, None),
            Err(PageError::OutOfRange("first"))
        );
        assert_eq!(
            PageArgs::<NameKey>::parse(None, None, Some(-1), None),
            Err(PageError::OutOfRange("last"))
        );
        assert_eq!(
            PageArgs::<NameKey>::parse(Some(1), None, Some(1), None),
            Err(PageError::BothDirections)
        );
        assert_eq!(
            PageArgs::<NameKey>::parse(None, Some("zz"), None, None),
            Err(PageError::BadCursor("after"))
        );
        let args = PageArgs::<NameKey>::parse(None, None, None, None).expect("defaults");
        assert_eq!(args.limit, DEFAULT_PAGE);
        assert!(PageArgs::<NameKey>::parse(Some(100), None, None, None).is_ok());
    }

    #[test]
    fn pages_sorted_lists_both_ways() {
        let items: Vec<u32> = (1..=10).collect();
        let page = Page::from_sorted(
            items.clone(),
            &PageArgs {
                after: Some(3),
                before: None,
                limit: 4,
                backward: false,
            },
            |i| *i,
        );
        assert_eq!(page.items, vec![4, 5, 6, 7]);
        assert!(page.has_next_page && page.has_previous_page);
        let page = Page::from_sorted(
            items.clone(),
            &PageArgs {
                after: None,
                before: Some(4),
                limit: 2,
                backward: true,
            },
            |i| *i,
        );
        assert_eq!(page.items, vec![2, 3]);
        assert!(page.has_previous_page && page.has_next_page);
        let page = Page::from_sorted(
            items,
            &PageArgs {
                after: Some(8),
                before: None,
                limit: 5,
                backward: false,
            },
            |i| *i,
        );
        assert_eq!(page.items, vec![9, 10]);
        assert!(!page.has_next_page);
    }
}
