//! Bookings as read back: the booking, its attendees, and the batch reads the gateway's
//! loaders use. Writes live in [`crate::book`], [`crate::settlement`], [`crate::waitlist`],
//! [`crate::cancellation`] and [`crate::attendance`].
//!
//! A waiting-list entry is a booking in status WAITLISTED (see [`WaitlistPlace`]); a staff
//! request is a booking in status PENDING_APPROVAL. Both name their attendees from the start,
//! so approving or accepting an offer turns them into the booking without re-typing anyone.

use std::collections::HashMap;

use billing::ledger::invoices::VatTreatment;
use chrono::{DateTime, Utc};
use kernel::{
    AcademicYear, Actor, AttendeeId, BookingId, DomainError, InvoiceId, Money, OfferEntryId,
    SchoolId, ServiceId, SessionId, UserId,
};
use membership::{Page, PageArgs, fetch_page};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait, QueryFilter, QueryOrder,
};
use serde::Serialize;

use crate::entity::{attendees, bookings};
use crate::support::{stored, to_u32};
use crate::types::{Attendance, BookingStatus, ClosedReason, PriceBasis, RefundState, Settlement};
use crate::visibility::rules::may_read_bookings;

/// Where a waiting-list entry stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct WaitlistPlace {
    /// Its place in the queue: entries are offered places in this order.
    pub joined_at: DateTime<Utc>,
    /// Set while places are held for it: it may accept until `offer_expires_at`.
    pub offered_at: Option<DateTime<Utc>>,
    pub offer_expires_at: Option<DateTime<Utc>>,
}

impl WaitlistPlace {
    /// Whether places are being held for this entry at `now`.
    #[must_use]
    pub fn has_open_offer(&self, now: DateTime<Utc>) -> bool {
        self.offer_expires_at.is_some_and(|expiry| now < expiry)
    }
}

/// How and why a booking ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Closure {
    pub reason: ClosedReason,
    pub note: Option<String>,
    pub at: DateTime<Utc>,
    pub by: Option<UserId>,
}

/// A school's booking of places on a session.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Booking {
    pub id: BookingId,
    pub school_id: SchoolId,
    pub session_id: SessionId,
    pub service_id: ServiceId,
    pub academic_year: AcademicYear,
    pub status: BookingStatus,
    /// Places asked for: one per attendee.
    pub places: u32,
    /// Places this booking holds on the session (0, or `places`).
    pub places_held: u32,
    pub price_basis: PriceBasis,
    /// Per place, as priced when the booking was made.
    pub unit_price: Money,
    pub vat_treatment: VatTreatment,
    pub vat_rate_bp: u32,
    /// `None` until the booking is settled (requests, waiting-list entries).
    pub settlement: Option<Settlement>,
    pub po_number: Option<String>,
    /// The staff member who asked, for requests.
    pub requested_by: Option<UserId>,
    /// The leader (or admin) who committed the school to it.
    pub booked_by: Option<UserId>,
    /// The core-offer usage that paid (OFFER).
    pub offer_entry_id: Option<OfferEntryId>,
    /// The one-off invoice paid by card (CARD).
    pub invoice_id: Option<InvoiceId>,
    /// Set while, or since, it was on the waiting list.
    pub waitlist: Option<WaitlistPlace>,
    /// Set once it ended without being delivered.
    pub closure: Option<Closure>,
    /// Kept under the cancellation policy, in money (zero for OFFER: see `units_kept`).
    pub cancellation_fee: Option<Money>,
    /// Given back on cancellation, in money (allowance units are not money: zero for OFFER,
    /// whose return is `units_returned`).
    pub refund: Option<Money>,
    /// OFFER cancellations: allowance units that stay used under the policy.
    pub units_kept: Option<u32>,
    /// OFFER cancellations: allowance units given back (the usage reversed, whole or part).
    pub units_returned: Option<u32>,
    /// CARD refunds are made after the cancellation commits.
    pub refund_state: Option<RefundState>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl Booking {
    /// `places × unit price`.
    #[must_use]
    pub fn net(&self) -> Money {
        Money::from_pence(i64::from(self.places) * self.unit_price.pence())
    }

    #[must_use]
    pub fn vat(&self) -> Money {
        Money::from_pence(billing::ledger::invoices::vat_on(
            self.net().pence(),
            self.vat_rate_bp,
        ))
    }

    /// What the school pays for the booking (nothing in money when settled from the offer).
    #[must_use]
    pub fn gross(&self) -> Money {
        Money::from_pence(self.net().pence() + self.vat().pence())
    }

    /// Whether the booking still counts (not cancelled, declined or withdrawn).
    #[must_use]
    pub fn is_live(&self) -> bool {
        self.status != BookingStatus::Cancelled
    }

    pub(crate) fn from_row(row: bookings::Model) -> Result<Self, DomainError> {
        let closure = match (row.closed_reason.as_deref(), row.closed_at) {
            (Some(reason), Some(at)) => Some(Closure {
                reason: stored("closed reason", reason)?,
                note: row.closed_note.clone(),
                at,
                by: row.closed_by.map(UserId::from_uuid),
            }),
            _ => None,
        };
        Ok(Self {
            id: BookingId::from_uuid(row.id),
            school_id: SchoolId::from_uuid(row.school_id),
            session_id: SessionId::from_uuid(row.session_id),
            service_id: ServiceId::from_uuid(row.service_id),
            academic_year: AcademicYear::starting(row.academic_year)
                .map_err(DomainError::internal)?,
            status: stored("booking status", &row.status)?,
            places: to_u32(row.places),
            places_held: to_u32(row.places_held),
            price_basis: stored("price basis", &row.price_basis)?,
            unit_price: Money::from_pence(row.unit_price_pence),
            vat_treatment: stored("vat treatment", &row.vat_treatment)?,
            vat_rate_bp: to_u32(row.vat_rate_bp),
            settlement: row
                .settlement
                .as_deref()
                .map(|s| stored("settlement", s))
                .transpose()?,
            po_number: row.po_number,
            requested_by: row.requested_by.map(UserId::from_uuid),
            booked_by: row.booked_by.map(UserId::from_uuid),
            offer_entry_id: row.offer_entry_id.map(OfferEntryId::from_uuid),
            invoice_id: row.invoice_id.map(InvoiceId::from_uuid),
            waitlist: row.waitlisted_at.map(|joined_at| WaitlistPlace {
                joined_at,
                offered_at: row.offered_at,
                offer_expires_at: row.offer_expires_at,
            }),
            closure,
            cancellation_fee: row.cancellation_fee_pence.map(Money::from_pence),
            refund: row.refund_pence.map(Money::from_pence),
            units_kept: row.cancellation_units_kept.map(to_u32),
            units_returned: row.cancellation_units_returned.map(to_u32),
            refund_state: row
                .refund_state
                .as_deref()
                .map(|s| stored("refund state", s))
                .transpose()?,
            created_at: row.created_at,
            updated_at: row.updated_at,
        })
    }
}

/// A named person a booking holds a place for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Attendee {
    pub id: AttendeeId,
    pub booking_id: BookingId,
    pub session_id: SessionId,
    /// 0-based order on the booking.
    pub position: u32,
    pub name: String,
    /// Lower-cased.
    pub email: String,
    /// Their job, e.g. "Year 2 teacher".
    pub role: Option<String>,
    /// What the register says over the parts marked so far: ATTENDED once present at any
    /// part, NO_SHOW when absent at every part marked; `None` until a part is marked.
    pub attendance: Option<Attendance>,
    /// When a part of the register last marked them.
    pub attendance_marked_at: Option<DateTime<Utc>>,
    /// How many of the session's parts they were marked present at.
    pub parts_attended: u32,
    /// Set when someone else took this person's place.
    pub substituted_at: Option<DateTime<Utc>>,
}

impl Attendee {
    pub(crate) fn from_row(row: attendees::Model) -> Result<Self, DomainError> {
        Ok(Self {
            id: AttendeeId::from_uuid(row.id),
            booking_id: BookingId::from_uuid(row.booking_id),
            session_id: SessionId::from_uuid(row.session_id),
            position: to_u32(row.position),
            attendance: row
                .attendance
                .as_deref()
                .map(|a| stored("attendance", a))
                .transpose()?,
            name: row.name,
            email: row.email,
            role: row.role,
            attendance_marked_at: row.attendance_marked_at,
            parts_attended: to_u32(row.parts_attended),
            substituted_at: row.substituted_at,
        })
    }
}

/// The keyset sort key of a school's booking list: by id (newest last; ids are time-ordered).
pub type BookingKey = (uuid::Uuid, uuid::Uuid);

pub(crate) async fn load_row<C: ConnectionTrait>(
    db: &C,
    id: BookingId,
) -> Result<Option<bookings::Model>, DomainError> {
    Ok(bookings::Entity::find_by_id(id.as_uuid()).one(db).await?)
}

pub(crate) fn not_found() -> DomainError {
    DomainError::NotFound { entity: "Booking" }
}

/// One booking, if the actor may read it (its school's people, partnership staff, and the
/// provider of its session); `NotFound` otherwise.
pub async fn booking(
    db: &DatabaseConnection,
    actor: &Actor,
    id: BookingId,
) -> Result<Booking, DomainError> {
    let booking = Booking::from_row(load_row(db, id).await?.ok_or_else(not_found)?)?;
    if may_read_bookings(actor, booking.school_id)
        || crate::visibility::rules::provides_session(db, actor, booking.session_id).await?
    {
        Ok(booking)
    } else {
        Err(not_found())
    }
}

/// Bookings by id, unchecked (one statement): for edges from a record the caller was shown;
/// [`crate::visible_bookings`] is the read that answers only what the caller may see.
pub async fn bookings_by_ids<C: ConnectionTrait>(
    db: &C,
    ids: &[BookingId],
) -> Result<HashMap<BookingId, Booking>, DomainError> {
    bookings::Entity::find()
        .filter(bookings::Column::Id.is_in(ids.iter().map(BookingId::as_uuid)))
        .all(db)
        .await?
        .into_iter()
        .map(|row| Booking::from_row(row).map(|b| (b.id, b)))
        .collect()
}

/// Each booking's attendees in booking order (one statement).
pub async fn attendees_of_bookings<C: ConnectionTrait>(
    db: &C,
    ids: &[BookingId],
) -> Result<HashMap<BookingId, Vec<Attendee>>, DomainError> {
    let rows = attendees::Entity::find()
        .filter(attendees::Column::BookingId.is_in(ids.iter().map(BookingId::as_uuid)))
        .order_by_asc(attendees::Column::BookingId)
        .order_by_asc(attendees::Column::Position)
        .all(db)
        .await?;
    let mut out: HashMap<BookingId, Vec<Attendee>> = HashMap::new();
    for row in rows {
        let attendee = Attendee::from_row(row)?;
        out.entry(attendee.booking_id).or_default().push(attendee);
    }
    Ok(out)
}

/// Attendees by id (one statement).
pub async fn attendees_by_ids<C: ConnectionTrait>(
    db: &C,
    ids: &[kernel::AttendeeId],
) -> Result<HashMap<kernel::AttendeeId, Attendee>, DomainError> {
    attendees::Entity::find()
        .filter(attendees::Column::Id.is_in(ids.iter().map(kernel::AttendeeId::as_uuid)))
        .all(db)
        .await?
        .into_iter()
        .map(|row| Attendee::from_row(row).map(|a| (a.id, a)))
        .collect()
}

/// Each session's bookings, every status, oldest first (one statement). For the provider's
/// and staff's views; the gateway filters by visibility.
pub async fn bookings_of_sessions<C: ConnectionTrait>(
    db: &C,
    ids: &[SessionId],
) -> Result<HashMap<SessionId, Vec<Booking>>, DomainError> {
    let rows = bookings::Entity::find()
        .filter(bookings::Column::SessionId.is_in(ids.iter().map(SessionId::as_uuid)))
        .order_by_asc(bookings::Column::Id)
        .all(db)
        .await?;
    let mut out: HashMap<SessionId, Vec<Booking>> = HashMap::new();
    for row in rows {
        let booking = Booking::from_row(row)?;
        out.entry(booking.session_id).or_default().push(booking);
    }
    Ok(out)
}

/// Each school's bookings, oldest first (one statement).
pub async fn bookings_of_schools<C: ConnectionTrait>(
    db: &C,
    ids: &[SchoolId],
) -> Result<HashMap<SchoolId, Vec<Booking>>, DomainError> {
    let rows = bookings::Entity::find()
        .filter(bookings::Column::SchoolId.is_in(ids.iter().map(SchoolId::as_uuid)))
        .order_by_asc(bookings::Column::Id)
        .all(db)
        .await?;
    let mut out: HashMap<SchoolId, Vec<Booking>> = HashMap::new();
    for row in rows {
        let booking = Booking::from_row(row)?;
        out.entry(booking.school_id).or_default().push(booking);
    }
    Ok(out)
}

/// The places a person holds, by the (lower-cased) email they were booked under: each
/// booking with that person's attendee row, for their own calendar (one statement each).
/// Replaced attendees are not included.
pub async fn bookings_of_attendee_email<C: ConnectionTrait>(
    db: &C,
    email: &str,
) -> Result<Vec<(Booking, Attendee)>, DomainError> {
    let people = attendees::Entity::find()
        .filter(attendees::Column::Email.eq(email.trim().to_lowercase()))
        .filter(attendees::Column::SubstitutedAt.is_null())
        .all(db)
        .await?;
    let ids: Vec<BookingId> = people
        .iter()
        .map(|a| BookingId::from_uuid(a.booking_id))
        .collect();
    let mut found = bookings_by_ids(db, &ids).await?;
    let mut out = Vec::new();
    for row in people {
        let attendee = Attendee::from_row(row)?;
        if let Some(booking) = found.remove(&attendee.booking_id) {
            out.push((booking, attendee));
        }
    }
    Ok(out)
}

/// Narrows a booking list.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BookingFilter {
    /// One school's bookings; required for school roles (their own), optional for staff.
    pub school_id: Option<SchoolId>,
    pub session_id: Option<SessionId>,
    /// Any of these statuses; empty means all.
    pub status: Vec<BookingStatus>,
}

/// One page of bookings in the order they were made (ids are time-ordered). School roles
/// see their own schools' only; partnership staff every school's.
pub async fn bookings_page(
    db: &DatabaseConnection,
    actor: &Actor,
    filter: &BookingFilter,
    page: &PageArgs<BookingKey>,
) -> Result<Page<Booking>, DomainError> {
    let mut select = bookings::Entity::find();
    match (actor, filter.school_id) {
        (Actor::System, _) => {}
        (Actor::User(user), _) if user.role.is_partnership_staff() => {}
        (Actor::User(user), Some(school)) if user.schools.contains(&school) => {}
        (Actor::User(user), None) if !user.schools.is_empty() => {
            select = select.filter(
                bookings::Column::SchoolId.is_in(user.schools.iter().map(SchoolId::as_uuid)),
            );
        }
        _ => return Err(DomainError::NotFound { entity: "School" }),
    }
    if let Some(school) = filter.school_id {
        select = select.filter(bookings::Column::SchoolId.eq(school.as_uuid()));
    }
    if let Some(session) = filter.session_id {
        select = select.filter(bookings::Column::SessionId.eq(session.as_uuid()));
    }
    if !filter.status.is_empty() {
        select =
            select.filter(bookings::Column::Status.is_in(filter.status.iter().map(|s| s.as_str())));
    }
    let rows = fetch_page(db, select, bookings::Column::Id, bookings::Column::Id, page).await?;
    Ok(Page {
        items: rows
            .items
            .into_iter()
            .map(Booking::from_row)
            .collect::<Result<_, _>>()?,
        has_next_page: rows.has_next_page,
        has_previous_page: rows.has_previous_page,
    })
}
