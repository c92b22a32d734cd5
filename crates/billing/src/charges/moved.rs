//! A school's charges not yet invoiced follow it to its new billing account.

use chrono::{DateTime, NaiveDate, Utc};
use kernel::{BillingAccountId, DomainError, SchoolId};
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter};

use super::entity::charges;
use super::types::ChargeStatus;

/// Moves `school`'s PENDING charges for bookings on or after `from_date` from account `from`
/// to account `to`; returns how many moved. Earlier ones stay: the old account paid for the
/// school until the move. The caller holds both accounts' ledger locks, as the termly
/// invoicing does before it reads pending charges, so no charge is invoiced to the old account
/// while it moves.
pub(crate) async fn follow_move<C: ConnectionTrait>(
    txn: &C,
    school: SchoolId,
    from: BillingAccountId,
    to: BillingAccountId,
    from_date: NaiveDate,
    now: DateTime<Utc>,
) -> Result<u64, DomainError> {
    let moved = charges::Entity::update_many()
        .col_expr(charges::Column::AccountId, Expr::value(to.as_uuid()))
        .col_expr(charges::Column::UpdatedAt, Expr::value(now))
        .filter(charges::Column::SchoolId.eq(school.as_uuid()))
        .filter(charges::Column::AccountId.eq(from.as_uuid()))
        .filter(charges::Column::Status.eq(ChargeStatus::Pending.as_str()))
        .filter(charges::Column::OccurredOn.gte(from_date))
        .exec(txn)
        .await?;
    Ok(moved.rows_affected)
}
