//! Small helpers shared by the ledger's services: stored-name enums, input checks, the
//! account lock and the visibility rule.

use std::collections::HashSet;

use kernel::{BillingAccountId, DomainError, FieldError, Money, SchoolId};
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QueryOrder, QuerySelect, SqlErr,
};

use super::entity::accounts;

pub use kernel::CorruptRow;
pub use kernel::UnknownValue;
pub(crate) use kernel::named_enum;
pub(crate) use kernel::{optional_text, required_text, stored};

/// An amount from 1p to £10,000,000 (the kernel's one bound on money inputs,
/// [`Money::bounded_input`]) as pence, or an `OUT_OF_RANGE` field error naming `field`.
pub(crate) fn positive(field: &str, amount: Money) -> Result<i64, FieldError> {
    Money::bounded_input(field, amount).map(Money::pence)
}

pub(crate) fn is_unique_violation(err: &DbErr) -> bool {
    matches!(err.sql_err(), Some(SqlErr::UniqueConstraintViolation(_)))
}

/// Takes the account's ledger lock for the rest of the transaction.
///
/// Every money mutation of an account begins with this write, so they run one at a time per
/// account on PostgreSQL (a row lock held to commit) and on SQLite (whose writer lock is taken
/// by the first write, before anything was read that a concurrent writer could make stale).
/// One lock per transaction, always the first: no lock-order deadlocks between allocations,
/// credit notes and refunds touching the same receipts and invoices.
pub(crate) async fn lock_account<C: ConnectionTrait>(
    txn: &C,
    account: BillingAccountId,
) -> Result<(), DomainError> {
    let result = accounts::Entity::update_many()
        .col_expr(
            accounts::Column::LedgerVersion,
            Expr::col(accounts::Column::LedgerVersion).add(1),
        )
        .filter(accounts::Column::Id.eq(account.as_uuid()))
        .exec(txn)
        .await?;
    if result.rows_affected == 0 {
        return Err(DomainError::NotFound {
            entity: "BillingAccount",
        });
    }
    Ok(())
}

/// Takes the ledger locks of `accounts` (sorted, without repeats) for the rest of the
/// transaction: a run's chunk of invoices. On PostgreSQL the rows are locked in id order
/// first, so two such issuers whose chunks overlap take turns instead of deadlocking.
///
/// # Errors
/// `Invalid` on `accountId` when one of them does not exist.
pub(crate) async fn lock_accounts<C: ConnectionTrait>(
    txn: &C,
    accounts_ids: &[uuid::Uuid],
) -> Result<(), DomainError> {
    debug_assert!(accounts_ids.is_sorted());
    let _: Vec<uuid::Uuid> = accounts::Entity::find()
        .select_only()
        .column(accounts::Column::Id)
        .filter(accounts::Column::Id.is_in(accounts_ids.iter().copied()))
        .order_by_asc(accounts::Column::Id)
        .lock_exclusive()
        .into_tuple()
        .all(txn)
        .await?;
    let result = accounts::Entity::update_many()
        .col_expr(
            accounts::Column::LedgerVersion,
            Expr::col(accounts::Column::LedgerVersion).add(1),
        )
        .filter(accounts::Column::Id.is_in(accounts_ids.iter().copied()))
        .exec(txn)
        .await?;
    if result.rows_affected != accounts_ids.len() as u64 {
        return Err(DomainError::invalid(
            "accountId",
            kernel::ErrorCode::NotFound,
            "no such billing account",
        ));
    }
    Ok(())
}

/// Who sees which billing records is [`crate::visibility`]'s to say.
pub(crate) use crate::visibility::sight::Sight;

/// Which of `ids` are schools in the directory (one statement). The directory's entities
/// are private to `membership`, so this reads its table by name.
pub(crate) async fn existing_schools<C: ConnectionTrait>(
    db: &C,
    ids: &[SchoolId],
) -> Result<HashSet<SchoolId>, DomainError> {
    if ids.is_empty() {
        return Ok(HashSet::new());
    }
    let id = sea_orm::sea_query::Alias::new("id");
    let select = sea_orm::sea_query::Query::select()
        .column(id.clone())
        .from(sea_orm::sea_query::Alias::new("schools"))
        .and_where(Expr::col(id).is_in(ids.iter().map(SchoolId::as_uuid)))
        .to_owned();
    let rows = db.query_all(&select).await?;
    rows.iter()
        .map(|row| {
            row.try_get::<uuid::Uuid>("", "id")
                .map(SchoolId::from_uuid)
                .map_err(DomainError::from)
        })
        .collect()
}
