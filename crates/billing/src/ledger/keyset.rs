//! Keyset pages over `(key, id)` sort keys, the ledger's copy of the directory's scheme
//! (`membership` keeps its fetcher private): "the next N rows after this key", never OFFSET.

use chrono::NaiveDate;
use membership::{Page, PageArgs};
use sea_orm::sea_query::{IntoCondition, SimpleExpr};
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, EntityTrait, Order, QueryFilter, QueryOrder,
    QuerySelect, Select, Value,
};

/// A sort key of (date, id): how receipts are listed.
pub type DateKey = (NaiveDate, uuid::Uuid);

/// Runs `select` as one keyset page ordered by `(key_col, id_col)`.
pub(crate) async fn fetch_page<E, C, K>(
    db: &C,
    mut select: Select<E>,
    key_col: E::Column,
    id_col: E::Column,
    args: &PageArgs<(K, uuid::Uuid)>,
) -> Result<Page<E::Model>, sea_orm::DbErr>
where
    E: EntityTrait,
    C: ConnectionTrait,
    K: Clone + Into<Value>,
{
    if let Some(after) = &args.after {
        select = select.filter(beyond(key_col, id_col, after, true));
    }
    if let Some(before) = &args.before {
        select = select.filter(beyond(key_col, id_col, before, false));
    }
    let order = if args.backward {
        Order::Desc
    } else {
        Order::Asc
    };
    let mut rows = select
        .order_by(key_col, order.clone())
        .order_by(id_col, order)
        .limit(args.limit + 1)
        .all(db)
        .await?;
    let limit = usize::try_from(args.limit).unwrap_or(usize::MAX);
    let more = rows.len() > limit;
    rows.truncate(limit);
    Ok(if args.backward {
        rows.reverse();
        Page {
            items: rows,
            has_next_page: args.before.is_some(),
            has_previous_page: more,
        }
    } else {
        Page {
            items: rows,
            has_next_page: more,
            has_previous_page: args.after.is_some(),
        }
    })
}

/// `(key, id) > cursor` (or `<`), spelt out so both backends use the index.
fn beyond<C: ColumnTrait, K: Clone + Into<Value>>(
    key_col: C,
    id_col: C,
    key: &(K, uuid::Uuid),
    greater: bool,
) -> Condition {
    let (name, id): (Value, Value) = (key.0.clone().into(), Value::from(key.1));
    let (strict_key, strict_id): (SimpleExpr, SimpleExpr) = if greater {
        (key_col.gt(name.clone()), id_col.gt(id))
    } else {
        (key_col.lt(name.clone()), id_col.lt(id))
    };
    Condition::any().add(strict_key).add(
        Condition::all()
            .add(key_col.eq(name))
            .add(strict_id)
            .into_condition(),
    )
}
