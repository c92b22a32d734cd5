//! What every booking workflow shares: the session being booked, checked open; the price a
//! school pays; a booking of the actor's own school; and closing a booking. Booking,
//! settlement, cancellation and the waiting list build on these, and these on nothing of
//! theirs, so the workflows depend on each other in one direction only.

use billing::ledger::invoices::VatTreatment;
use chrono::{DateTime, Utc};
use kernel::{
    Actor, BookingId, DomainError, ErrorCode, FieldError, Money, Permission, Problems, SchoolId,
    SessionId,
};
use membership::memberships::MembershipStatus;
use sea_orm::{ActiveModelTrait, ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter, Set};

use crate::bookings::{self, not_found};
use crate::catalogue::Service;
use crate::entity::{attendees, bookings as rows, services};
use crate::sessions::{self, Session};
use crate::support::recorder;
use crate::types::{BookingStatus, ClosedReason, PriceBasis, SessionStatus};

/// The session and service a booking is for, checked open for booking.
pub(crate) struct Target {
    pub(crate) session: Session,
    pub(crate) service: Service,
}

pub(crate) async fn target(
    db: &DatabaseConnection,
    actor: &Actor,
    problems: &mut Problems,
    session_id: SessionId,
    now: DateTime<Utc>,
) -> Result<Option<Target>, DomainError> {
    let Some(row) = sessions::load_row(db, session_id).await? else {
        problems.add("sessionId", ErrorCode::NotFound, "no such session");
        return Ok(None);
    };
    let session = Session::from_row(row)?;
    let service = services::Entity::find_by_id(session.service_id.as_uuid())
        .one(db)
        .await?
        .map(Service::from_row)
        .transpose()?
        .ok_or(DomainError::NotFound {
            entity: "TradedService",
        })?;
    if !service.published && !actor.can(Permission::ManageCatalogue) {
        problems.add("sessionId", ErrorCode::NotFound, "no such session");
        return Ok(None);
    }
    if session.status == SessionStatus::Cancelled {
        problems.add("sessionId", ErrorCode::Conflict, "the session is cancelled");
    } else if now > session.booking_deadline {
        problems.add(
            "sessionId",
            ErrorCode::Conflict,
            format!("booking closed at {}", session.booking_deadline),
        );
    }
    Ok(Some(Target { session, service }))
}

/// The price a booking is made at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Priced {
    pub(crate) basis: PriceBasis,
    pub(crate) unit: Money,
    pub(crate) vat_treatment: VatTreatment,
    pub(crate) vat_rate_bp: u32,
}

impl Priced {
    pub(crate) fn gross(&self, places: u32) -> Money {
        let net = i64::from(places) * self.unit.pence();
        Money::from_pence(net + billing::ledger::invoices::vat_on(net, self.vat_rate_bp))
    }
}

/// The price a school pays per place on a session, or why it cannot book.
pub(crate) async fn price(
    db: &DatabaseConnection,
    service: &Service,
    session: &Session,
    school: SchoolId,
) -> Result<Result<Priced, FieldError>, DomainError> {
    if membership::school::by_ids(db, &[school]).await?.is_empty() {
        return Ok(Err(FieldError::new(
            "schoolId",
            ErrorCode::NotFound,
            "no such school",
        )));
    }
    let member = membership::memberships::of_schools(db, &[school])
        .await?
        .remove(&school)
        .unwrap_or_default()
        .iter()
        .any(|m| m.year == session.academic_year && m.status == MembershipStatus::Active);
    let (basis, unit) = if member {
        (PriceBasis::Member, service.member_price)
    } else if let Some(p) = service.non_member_price {
        (PriceBasis::NonMember, p)
    } else {
        return Ok(Err(FieldError::new(
            "schoolId",
            ErrorCode::Conflict,
            format!(
                "this service is for member schools only, and the school has no active membership in {}",
                session.academic_year
            ),
        )));
    };
    Ok(Ok(Priced {
        basis,
        unit,
        vat_treatment: service.vat_treatment,
        vat_rate_bp: service.vat_rate_bp,
    }))
}

/// A request (or booking) of a school the actor acts for with `permission`; `NotFound` for
/// another school's, so a leader elsewhere learns nothing.
pub(crate) async fn own_booking(
    db: &DatabaseConnection,
    actor: &Actor,
    permission: Permission,
    id: BookingId,
) -> Result<rows::Model, DomainError> {
    actor.require(permission)?;
    let row = bookings::load_row(db, id).await?.ok_or_else(not_found)?;
    if actor.may_see_school_records(SchoolId::from_uuid(row.school_id)) {
        Ok(row)
    } else {
        Err(not_found())
    }
}

/// Marks a locked booking CANCELLED for `reason` and frees its attendees' emails; the caller
/// gives back any places it held.
pub(crate) async fn close<C: sea_orm::ConnectionTrait>(
    txn: &C,
    actor: &Actor,
    now: DateTime<Utc>,
    row: rows::Model,
    reason: ClosedReason,
    note: Option<String>,
) -> Result<rows::Model, DomainError> {
    use sea_orm::sea_query::Expr;
    let id = row.id;
    let mut active: rows::ActiveModel = row.into();
    active.status = Set(BookingStatus::Cancelled.as_str().to_owned());
    active.places_held = Set(0);
    active.offer_expires_at = Set(None);
    active.closed_reason = Set(Some(reason.as_str().to_owned()));
    active.closed_note = Set(note);
    active.closed_at = Set(Some(now));
    active.closed_by = Set(recorder(actor).map(|u| u.as_uuid()));
    active.updated_at = Set(now);
    let updated = active.update(txn).await?;
    attendees::Entity::update_many()
        .col_expr(
            attendees::Column::LiveEmail,
            Expr::value(Option::<String>::None),
        )
        .col_expr(attendees::Column::UpdatedAt, Expr::value(now))
        .filter(attendees::Column::BookingId.eq(id))
        .exec(txn)
        .await?;
    Ok(updated)
}
