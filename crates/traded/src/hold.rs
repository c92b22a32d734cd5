//! Places and booking rows under concurrency: the two writes every booking change starts with.
//!
//! * [`take_places`] is the conditional increment that makes overselling impossible:
//!   `places_taken = places_taken + n WHERE places_taken + n <= capacity`. On PostgreSQL the
//!   row lock makes a concurrent increment wait and then re-check the condition against the
//!   committed count; on SQLite the first write of the transaction takes the database's
//!   writer lock. It is the first statement of a booking's transaction, so everything the
//!   transaction reads afterwards is read under that lock.
//! * [`lock_booking`] is a compare-and-set on the booking's version, so two changes of one
//!   booking (an approval and a decline, an acceptance and an expiry) cannot both apply.

use kernel::{BookingId, DomainError, ErrorCode, SessionId};
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter};

use crate::entity::{bookings, sessions};
use crate::support::to_i32;
use crate::types::SessionStatus;

/// Takes `n` places on a scheduled session if that many are free; `false` when not.
pub(crate) async fn take_places<C: ConnectionTrait>(
    txn: &C,
    session: SessionId,
    n: u32,
) -> Result<bool, DomainError> {
    let n = to_i32(n);
    let taken = sessions::Entity::update_many()
        .col_expr(
            sessions::Column::PlacesTaken,
            Expr::col(sessions::Column::PlacesTaken).add(n),
        )
        .filter(sessions::Column::Id.eq(session.as_uuid()))
        .filter(sessions::Column::Status.eq(SessionStatus::Scheduled.as_str()))
        .filter(
            Expr::col(sessions::Column::PlacesTaken)
                .add(n)
                .lte(Expr::col(sessions::Column::Capacity)),
        )
        .exec(txn)
        .await?;
    Ok(taken.rows_affected == 1)
}

/// Gives `n` held places back to the session.
pub(crate) async fn release_places<C: ConnectionTrait>(
    txn: &C,
    session: SessionId,
    n: u32,
) -> Result<(), DomainError> {
    if n == 0 {
        return Ok(());
    }
    let n = to_i32(n);
    let released = sessions::Entity::update_many()
        .col_expr(
            sessions::Column::PlacesTaken,
            Expr::col(sessions::Column::PlacesTaken).sub(n),
        )
        .filter(sessions::Column::Id.eq(session.as_uuid()))
        .filter(Expr::col(sessions::Column::PlacesTaken).gte(n))
        .exec(txn)
        .await?;
    if released.rows_affected == 1 {
        Ok(())
    } else {
        Err(DomainError::internal(kernel::CorruptRow(format!(
            "session {session} holds fewer than the {n} places a booking gives back"
        ))))
    }
}

/// The booking's row, locked for the rest of the transaction, provided nobody changed it
/// since it was read at `version`; a `Conflict` on `bookingId` otherwise.
pub(crate) async fn lock_booking<C: ConnectionTrait>(
    txn: &C,
    id: BookingId,
    version: i64,
) -> Result<bookings::Model, DomainError> {
    let locked = bookings::Entity::update_many()
        .col_expr(
            bookings::Column::Version,
            Expr::col(bookings::Column::Version).add(1),
        )
        .filter(bookings::Column::Id.eq(id.as_uuid()))
        .filter(bookings::Column::Version.eq(version))
        .exec(txn)
        .await?;
    if locked.rows_affected != 1 {
        return Err(DomainError::invalid(
            "bookingId",
            ErrorCode::Conflict,
            "the booking changed meanwhile: reload it and try again",
        ));
    }
    bookings::Entity::find_by_id(id.as_uuid())
        .one(txn)
        .await?
        .ok_or(DomainError::NotFound { entity: "Booking" })
}
