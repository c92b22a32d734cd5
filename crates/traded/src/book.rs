//! Booking places: a leader books for named attendees (or joins the waiting list when the
//! session is full); a member of staff requests a place, which their leader approves or
//! declines; anyone booked may be replaced by a colleague before the session starts.
//!
//! **Price.** A school with an ACTIVE membership in the session's academic year pays the
//! member price; any other school pays the non-member price, and a service with no
//! non-member price is sold to members only: booking it without a membership is refused
//! (`schoolId`, CONFLICT) rather than silently charged something else.
//!
//! **Requests hold no place.** A staff request waits for a leader who may never answer;
//! holding places for it would let requests fill a session that schools ready to commit
//! money are turned away from. The place is taken when the leader approves, atomically, and
//! the approval may find the session full (then it joins the waiting list, if asked to).

use chrono::{DateTime, Utc};
use kernel::BeginWrite as _;
use kernel::outbox::EventKind;
use kernel::{
    Actor, AttendeeId, BookingId, Clock, DomainError, ErrorCode, Permission, Problems, SchoolId,
    SessionId,
};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, DatabaseConnection, DatabaseTransaction, EntityTrait,
    QueryFilter, Set,
};

use crate::bookings::{self, Attendee, Booking, attendees_of_bookings, not_found};
use crate::catalogue::Service;
use crate::entity::{attendees, bookings as rows};
use crate::history::{Action, audit, snapshot};
use crate::hold::{lock_booking, take_places};
use crate::lifecycle::{Priced, Target, close, own_booking, price, target};
use crate::sessions::{self, Session};
use crate::settlement::{CardPayment, check_settlement, settle_in, start_card};
use crate::support::{
    email, is_unique_violation, optional_text, recorder, require_for_school, required_text, stored,
    to_i32,
};
use crate::types::{BookingStatus, ClosedReason, Settlement};
use billing::ledger::idempotency::{Caller, Keyed, Remembered};
use billing::provider::PaymentProvider;

const NAME_MAX: usize = 200;
const ROLE_MAX: usize = 200;
const PO_MAX: usize = 50;
const REASON_MAX: usize = 1000;
/// The most places one booking may ask for.
pub const MAX_PLACES_PER_BOOKING: usize = 50;

/// A person to book a place for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewAttendee {
    pub name: String,
    pub email: String,
    /// Their job, e.g. "Year 2 teacher".
    pub role: Option<String>,
}

/// A leader's booking.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewBooking {
    pub school_id: SchoolId,
    pub session_id: SessionId,
    /// One place each; at least one.
    pub attendees: Vec<NewAttendee>,
    pub settlement: Settlement,
    pub po_number: Option<String>,
    /// When the session has too few places left: join the waiting list (`true`) or refuse.
    pub join_waitlist: bool,
    /// Sent again with a retry: the booking is made once (see [`book`]).
    pub idempotency_key: Option<String>,
}

/// A member of staff's request for places, for their leader to approve.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewBookingRequest {
    pub school_id: SchoolId,
    pub session_id: SessionId,
    pub attendees: Vec<NewAttendee>,
    /// Sent again with a retry: the request is made once (see [`request_booking`]).
    pub idempotency_key: Option<String>,
}

/// A leader's approval of a request: how the school pays, and what to do when it is full.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Approval {
    pub settlement: Settlement,
    pub po_number: Option<String>,
    pub join_waitlist: bool,
}

/// What a booking change produced: the booking, its attendees, and for card bookings the
/// payment the portal completes with Stripe.js (`None` when it could not be started: retry
/// with [`crate::pay_booking_by_card`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BookingOutcome {
    pub booking: Booking,
    pub attendees: Vec<Attendee>,
    pub card_payment: Option<CardPayment>,
}

/// The attendees, checked: names, emails, no one twice, no one already booked on the
/// session (other than on `except`, the booking being approved).
pub(crate) async fn check_attendees(
    db: &DatabaseConnection,
    problems: &mut Problems,
    list: &[NewAttendee],
    session: Option<&Session>,
    except: Option<BookingId>,
) -> Result<Vec<NewAttendee>, DomainError> {
    if list.is_empty() {
        problems.add(
            "attendees",
            ErrorCode::Required,
            "name at least one attendee: a booking is for places for named people",
        );
    }
    if list.len() > MAX_PLACES_PER_BOOKING {
        problems.add(
            "attendees",
            ErrorCode::OutOfRange,
            format!("at most {MAX_PLACES_PER_BOOKING} places in one booking"),
        );
    } else if let Some(s) = session
        && list.len() > usize::try_from(s.capacity).unwrap_or(usize::MAX)
    {
        problems.add(
            "attendees",
            ErrorCode::OutOfRange,
            format!("the session has {} places in all", s.capacity),
        );
    }
    let mut out = Vec::new();
    let mut seen: Vec<String> = Vec::new();
    for (i, a) in list.iter().enumerate() {
        let f = |name: &str| format!("attendees.{i}.{name}");
        let name = problems.check(required_text(&f("name"), &a.name, NAME_MAX));
        let mail = problems.check(email(&f("email"), &a.email));
        let role = problems.check(optional_text(&f("role"), a.role.as_deref(), ROLE_MAX));
        if let Some(m) = &mail {
            if seen.contains(m) {
                problems.add(
                    &f("email"),
                    ErrorCode::Taken,
                    "this person is already on the booking",
                );
            }
            seen.push(m.clone());
        }
        if let (Some(name), Some(email), Some(role)) = (name, mail, role) {
            out.push(NewAttendee { name, email, role });
        }
    }
    if let Some(s) = session
        && !seen.is_empty()
    {
        let live = attendees::Entity::find()
            .filter(attendees::Column::SessionId.eq(s.id.as_uuid()))
            .filter(attendees::Column::LiveEmail.is_in(seen.iter().map(String::as_str)))
            .all(db)
            .await?;
        for row in live {
            if Some(BookingId::from_uuid(row.booking_id)) == except {
                continue;
            }
            if let Some(i) = seen.iter().position(|e| Some(e) == row.live_email.as_ref()) {
                problems.add(
                    &format!("attendees.{i}.email"),
                    ErrorCode::Taken,
                    "this person already has a place (or a request) on this session",
                );
            }
        }
    }
    Ok(out)
}

pub(crate) fn full_error(left: u32) -> DomainError {
    DomainError::invalid(
        "attendees",
        ErrorCode::Conflict,
        if left == 0 {
            "the session is full".to_owned()
        } else {
            format!("only {left} places are left")
        },
    )
}

/// A booking row as first written: PENDING_APPROVAL, holding nothing, with every later
/// step (settlement, waiting list, closure, refund) still empty; callers set what differs.
pub(crate) fn new_row(
    id: BookingId,
    school: SchoolId,
    session: &Session,
    service: &Service,
    priced: &Priced,
    places: u32,
    now: DateTime<Utc>,
) -> rows::ActiveModel {
    rows::ActiveModel {
        id: Set(id.as_uuid()),
        school_id: Set(school.as_uuid()),
        session_id: Set(session.id.as_uuid()),
        service_id: Set(service.id.as_uuid()),
        academic_year: Set(session.academic_year.start_year()),
        status: Set(BookingStatus::PendingApproval.as_str().to_owned()),
        places: Set(to_i32(places)),
        places_held: Set(0),
        price_basis: Set(priced.basis.as_str().to_owned()),
        unit_price_pence: Set(priced.unit.pence()),
        vat_treatment: Set(priced.vat_treatment.as_str().to_owned()),
        vat_rate_bp: Set(to_i32(priced.vat_rate_bp)),
        settlement: Set(None),
        po_number: Set(None),
        requested_by: Set(None),
        booked_by: Set(None),
        offer_entry_id: Set(None),
        invoice_id: Set(None),
        waitlisted_at: Set(None),
        offered_at: Set(None),
        offer_expires_at: Set(None),
        closed_reason: Set(None),
        closed_note: Set(None),
        closed_at: Set(None),
        closed_by: Set(None),
        cancellation_fee_pence: Set(None),
        refund_pence: Set(None),
        cancellation_units_kept: Set(None),
        cancellation_units_returned: Set(None),
        refund_state: Set(None),
        payment_ref: Set(None),
        version: Set(0),
        created_at: Set(now),
        updated_at: Set(now),
    }
}

/// Inserts a new booking and its attendees in `txn`. An attendee already booked on the
/// session (the unique index, which also catches a concurrent booking) is a userError.
async fn insert_with_attendees(
    txn: &DatabaseTransaction,
    row: rows::ActiveModel,
    session: SessionId,
    people: &[NewAttendee],
    now: DateTime<Utc>,
) -> Result<rows::Model, DomainError> {
    let row = row.insert(txn).await?;
    let booking = BookingId::from_uuid(row.id);
    match attendees::Entity::insert_many(attendee_rows(booking, session, people, now))
        .exec(txn)
        .await
    {
        Ok(_) => Ok(row),
        Err(err) if is_unique_violation(&err) => Err(attendee_taken()),
        Err(err) => Err(err.into()),
    }
}

pub(crate) fn attendee_rows(
    booking: BookingId,
    session: SessionId,
    list: &[NewAttendee],
    now: DateTime<Utc>,
) -> Vec<attendees::ActiveModel> {
    list.iter()
        .enumerate()
        .map(|(i, a)| attendees::ActiveModel {
            id: Set(AttendeeId::new().as_uuid()),
            booking_id: Set(booking.as_uuid()),
            session_id: Set(session.as_uuid()),
            position: Set(i32::try_from(i).unwrap_or(i32::MAX)),
            name: Set(a.name.clone()),
            email: Set(a.email.clone()),
            role: Set(a.role.clone()),
            live_email: Set(Some(a.email.clone())),
            attendance: Set(None),
            attendance_marked_at: Set(None),
            attendance_marked_by: Set(None),
            parts_attended: Set(0),
            substituted_at: Set(None),
            created_at: Set(now),
            updated_at: Set(now),
        })
        .collect()
}

fn attendee_taken() -> DomainError {
    DomainError::invalid(
        "attendees",
        ErrorCode::Taken,
        "someone on this booking was booked on the session meanwhile",
    )
}

pub(crate) async fn outcome(
    db: &DatabaseConnection,
    id: BookingId,
    card_payment: Option<CardPayment>,
) -> Result<BookingOutcome, DomainError> {
    let booking = Booking::from_row(bookings::load_row(db, id).await?.ok_or_else(not_found)?)?;
    let attendees = attendees_of_bookings(db, &[id])
        .await?
        .remove(&id)
        .unwrap_or_default();
    Ok(BookingOutcome {
        booking,
        attendees,
        card_payment,
    })
}

/// Books places on a session for named attendees: a school's leader (or partnership admin).
///
/// Everything is checked first and nothing is written when anything is wrong. Then, in one
/// transaction: the places are taken (or, when too few are left, the booking joins the
/// waiting list if `join_waitlist`, else is refused), the booking and attendees are written,
/// and it is settled — the allowance used (OFFER), the charge added to the termly invoice
/// (INVOICE), or a one-off invoice issued (CARD). A settlement that fails (the allowance ran
/// out) fails the whole booking: no place is held without a booking, no charge without one.
/// A card payment is started after the commit, never inside the transaction.
///
/// With an idempotency key, a retry (the same caller, key and request) answers the booking
/// the first request made — resuming its card payment when it still awaits one — and takes
/// no place; the same key with a different request is a CONFLICT. The key is stored in the
/// booking's transaction, so a refused request (full, invalid) leaves nothing to replay.
pub async fn book(
    db: &DatabaseConnection,
    actor: &Actor,
    clock: &dyn Clock,
    provider: &dyn PaymentProvider,
    input: NewBooking,
) -> Result<BookingOutcome, DomainError> {
    require_for_school(actor, Permission::BookTraded, input.school_id)?;
    let keyed = Keyed::new(
        "booking.create",
        Caller::Actor(actor),
        input.idempotency_key.as_deref(),
        &serde_json::json!({
            "school": input.school_id,
            "session": input.session_id,
            "attendees": canonical_attendees(&input.attendees),
            "settlement": input.settlement.as_str(),
            "poNumber": input.po_number,
            "joinWaitlist": input.join_waitlist,
        }),
    )?;
    if let Some(keyed) = &keyed
        && let Some(ids) = keyed.replay(db).await?
    {
        return replayed(db, actor, clock, Some(provider), &ids).await;
    }
    let now = clock.now();
    let mut problems = Problems::new();
    let target = target(db, actor, &mut problems, input.session_id, now).await?;
    let people = check_attendees(
        db,
        &mut problems,
        &input.attendees,
        target.as_ref().map(|t| &t.session),
        None,
    )
    .await?;
    let po_number = problems.check(optional_text(
        "poNumber",
        input.po_number.as_deref(),
        PO_MAX,
    ));
    let priced = match &target {
        Some(t) => problems.check(price(db, &t.service, &t.session, input.school_id).await?),
        None => None,
    };
    if let (Some(t), Some(p)) = (&target, &priced) {
        let places = u32::try_from(people.len()).unwrap_or(u32::MAX);
        check_settlement(
            db,
            &mut problems,
            provider,
            &t.service,
            input.school_id,
            input.settlement,
            p.gross(places),
        )
        .await?;
    }
    let (Target { session, service }, po_number, priced) =
        problems.finish_with((target, po_number, priced))?;
    let places = u32::try_from(people.len()).unwrap_or(u32::MAX);

    let id = BookingId::new();
    let txn = db.begin_write().await?;
    if let Some(keyed) = &keyed
        && let Some(ids) = keyed.replay(&txn).await?
    {
        txn.rollback().await?;
        return replayed(db, actor, clock, Some(provider), &ids).await;
    }
    let held = take_places(&txn, session.id, places).await?;
    if !held && !input.join_waitlist {
        return Err(full_error(session.places_left()));
    }
    let mut row = new_row(
        id,
        input.school_id,
        &session,
        &service,
        &priced,
        places,
        now,
    );
    if held {
        row.status = Set(BookingStatus::Confirmed.as_str().to_owned());
        row.places_held = Set(to_i32(places));
    } else {
        row.status = Set(BookingStatus::Waitlisted.as_str().to_owned());
        row.waitlisted_at = Set(Some(now));
    }
    // A waiting-list entry keeps the settlement it asked for, as the default when it
    // accepts an offer.
    row.settlement = Set(Some(input.settlement.as_str().to_owned()));
    row.po_number = Set(po_number);
    row.booked_by = Set(recorder(actor).map(|u| u.as_uuid()));
    let row = insert_with_attendees(&txn, row, session.id, &people, now).await?;
    let card = if held {
        settle_in(&txn, clock, row, &service, &session, input.settlement)
            .await?
            .card_invoice
    } else {
        None
    };
    audit(&txn, actor, clock, Action::Create, id, None).await?;
    crate::events::announce_placed(&txn, id, held, card.is_some(), now).await?;
    if let Some(keyed) = &keyed
        && let Remembered::Raced = keyed.remember(&txn, &[id.as_uuid()], now).await?
    {
        txn.rollback().await?;
        return replay_raced(db, actor, clock, Some(provider), keyed).await;
    }
    txn.commit().await?;
    let card_payment = match card {
        Some(invoice) => start_card(db, actor, clock, provider, id, invoice).await,
        None => None,
    };
    outcome(db, id, card_payment).await
}

/// Asks for places for named colleagues: school staff (and leaders) of the school. No place
/// is held until a leader approves.
pub async fn request_booking(
    db: &DatabaseConnection,
    actor: &Actor,
    clock: &dyn Clock,
    input: NewBookingRequest,
) -> Result<BookingOutcome, DomainError> {
    require_for_school(actor, Permission::RequestBooking, input.school_id)?;
    let keyed = Keyed::new(
        "booking.request",
        Caller::Actor(actor),
        input.idempotency_key.as_deref(),
        &serde_json::json!({
            "school": input.school_id,
            "session": input.session_id,
            "attendees": canonical_attendees(&input.attendees),
        }),
    )?;
    if let Some(keyed) = &keyed
        && let Some(ids) = keyed.replay(db).await?
    {
        return replayed(db, actor, clock, None, &ids).await;
    }
    let now = clock.now();
    let mut problems = Problems::new();
    let target = target(db, actor, &mut problems, input.session_id, now).await?;
    let people = check_attendees(
        db,
        &mut problems,
        &input.attendees,
        target.as_ref().map(|t| &t.session),
        None,
    )
    .await?;
    let priced = match &target {
        Some(t) => problems.check(price(db, &t.service, &t.session, input.school_id).await?),
        None => None,
    };
    let (Target { session, service }, priced) = problems.finish_with((target, priced))?;
    let places = u32::try_from(people.len()).unwrap_or(u32::MAX);
    let id = BookingId::new();
    let txn = db.begin_write().await?;
    if let Some(keyed) = &keyed
        && let Some(ids) = keyed.replay(&txn).await?
    {
        txn.rollback().await?;
        return replayed(db, actor, clock, None, &ids).await;
    }
    let mut row = new_row(
        id,
        input.school_id,
        &session,
        &service,
        &priced,
        places,
        now,
    );
    row.requested_by = Set(recorder(actor).map(|u| u.as_uuid()));
    insert_with_attendees(&txn, row, session.id, &people, now).await?;
    audit(&txn, actor, clock, Action::Request, id, None).await?;
    crate::events::announce(&txn, EventKind::BookingRequested, id, now).await?;
    if let Some(keyed) = &keyed
        && let Remembered::Raced = keyed.remember(&txn, &[id.as_uuid()], now).await?
    {
        txn.rollback().await?;
        return replay_raced(db, actor, clock, None, keyed).await;
    }
    txn.commit().await?;
    outcome(db, id, None).await
}

/// Attendees as a keyed request compares them: in the order given, text as sent.
fn canonical_attendees(attendees: &[NewAttendee]) -> Vec<[Option<&str>; 3]> {
    attendees
        .iter()
        .map(|a| {
            [
                Some(a.name.as_str()),
                Some(a.email.as_str()),
                a.role.as_deref(),
            ]
        })
        .collect()
}

/// The booking a keyed request made before. A card booking still awaiting payment resumes
/// its payment (the same PaymentIntent: its provider key derives from the booking), so a
/// retry gets what the first answer would have given.
async fn replayed(
    db: &DatabaseConnection,
    actor: &Actor,
    clock: &dyn Clock,
    provider: Option<&dyn PaymentProvider>,
    ids: &[uuid::Uuid],
) -> Result<BookingOutcome, DomainError> {
    let id = ids
        .first()
        .map(|id| BookingId::from_uuid(*id))
        .ok_or_else(not_found)?;
    let row = bookings::load_row(db, id).await?.ok_or_else(not_found)?;
    let awaiting_card =
        stored::<BookingStatus>("booking status", &row.status)? == BookingStatus::PendingPayment;
    let card = match (provider, row.invoice_id) {
        (Some(provider), Some(invoice)) if awaiting_card && provider.takes_cards() => {
            let invoice = kernel::InvoiceId::from_uuid(invoice);
            start_card(db, actor, clock, provider, id, invoice).await
        }
        _ => None,
    };
    outcome(db, id, card).await
}

/// A concurrent request with the same key committed first: answer what it made.
async fn replay_raced(
    db: &DatabaseConnection,
    actor: &Actor,
    clock: &dyn Clock,
    provider: Option<&dyn PaymentProvider>,
    keyed: &Keyed,
) -> Result<BookingOutcome, DomainError> {
    let ids = keyed.replay(db).await?.ok_or_else(not_found)?;
    replayed(db, actor, clock, provider, &ids).await
}

/// Approves a staff request: the school's leader, choosing how to pay. The places are taken
/// and the booking settled atomically, as [`book`] does; when the session is full the
/// request joins the waiting list if `join_waitlist`, and is otherwise left pending with a
/// CONFLICT.
pub async fn approve_request(
    db: &DatabaseConnection,
    actor: &Actor,
    clock: &dyn Clock,
    provider: &dyn PaymentProvider,
    id: BookingId,
    approval: Approval,
) -> Result<BookingOutcome, DomainError> {
    let row = own_booking(db, actor, Permission::BookTraded, id).await?;
    let now = clock.now();
    let mut problems = Problems::new();
    let status: BookingStatus = stored("booking status", &row.status)?;
    if status != BookingStatus::PendingApproval {
        problems.add(
            "bookingId",
            ErrorCode::Conflict,
            format!("only a pending request can be approved; this booking is {status}"),
        );
    }
    let school = SchoolId::from_uuid(row.school_id);
    let target = target(
        db,
        actor,
        &mut problems,
        SessionId::from_uuid(row.session_id),
        now,
    )
    .await?;
    let po_number = problems.check(optional_text(
        "poNumber",
        approval.po_number.as_deref(),
        PO_MAX,
    ));
    let priced = match &target {
        Some(t) => problems.check(price(db, &t.service, &t.session, school).await?),
        None => None,
    };
    let places = u32::try_from(row.places).unwrap_or(0);
    if let (Some(t), Some(p)) = (&target, &priced) {
        check_settlement(
            db,
            &mut problems,
            provider,
            &t.service,
            school,
            approval.settlement,
            p.gross(places),
        )
        .await?;
    }
    let (Target { session, service }, po_number, priced) =
        problems.finish_with((target, po_number, priced))?;

    let txn = db.begin_write().await?;
    let held = take_places(&txn, session.id, places).await?;
    if !held && !approval.join_waitlist {
        return Err(full_error(session.places_left()));
    }
    let locked = lock_booking(&txn, id, row.version).await?;
    let before = snapshot(&txn, id).await?;
    let mut active: rows::ActiveModel = locked.into();
    active.status = Set(if held {
        BookingStatus::Confirmed
    } else {
        BookingStatus::Waitlisted
    }
    .as_str()
    .to_owned());
    active.places_held = Set(if held { to_i32(places) } else { 0 });
    active.price_basis = Set(priced.basis.as_str().to_owned());
    active.unit_price_pence = Set(priced.unit.pence());
    active.vat_treatment = Set(priced.vat_treatment.as_str().to_owned());
    active.vat_rate_bp = Set(to_i32(priced.vat_rate_bp));
    active.settlement = Set(Some(approval.settlement.as_str().to_owned()));
    active.po_number = Set(po_number);
    active.booked_by = Set(recorder(actor).map(|u| u.as_uuid()));
    active.waitlisted_at = Set((!held).then_some(now));
    active.updated_at = Set(now);
    let updated = active.update(&txn).await?;
    let card = if held {
        settle_in(
            &txn,
            clock,
            updated,
            &service,
            &session,
            approval.settlement,
        )
        .await?
        .card_invoice
    } else {
        None
    };
    audit(&txn, actor, clock, Action::Approve, id, Some(before)).await?;
    crate::events::announce_placed(&txn, id, held, card.is_some(), now).await?;
    txn.commit().await?;
    let card_payment = match card {
        Some(invoice) => start_card(db, actor, clock, provider, id, invoice).await,
        None => None,
    };
    outcome(db, id, card_payment).await
}

/// Declines a staff request, with a reason for the colleague who asked. The school's leader.
pub async fn decline_request(
    db: &DatabaseConnection,
    actor: &Actor,
    clock: &dyn Clock,
    id: BookingId,
    reason: &str,
) -> Result<BookingOutcome, DomainError> {
    let row = own_booking(db, actor, Permission::BookTraded, id).await?;
    let mut problems = Problems::new();
    let reason = problems.check(required_text("reason", reason, REASON_MAX));
    let status: BookingStatus = stored("booking status", &row.status)?;
    if status != BookingStatus::PendingApproval {
        problems.add(
            "bookingId",
            ErrorCode::Conflict,
            format!("only a pending request can be declined; this booking is {status}"),
        );
    }
    problems.finish()?;
    let txn = db.begin_write().await?;
    let locked = lock_booking(&txn, id, row.version).await?;
    let before = snapshot(&txn, id).await?;
    close(
        &txn,
        actor,
        clock.now(),
        locked,
        ClosedReason::Declined,
        reason,
    )
    .await?;
    audit(&txn, actor, clock, Action::Decline, id, Some(before)).await?;
    crate::events::announce(&txn, EventKind::BookingRequestDeclined, id, clock.now()).await?;
    txn.commit().await?;
    outcome(db, id, None).await
}

/// Puts someone else in an attendee's place, free of charge, before the session starts: the
/// booking school's leader.
pub async fn substitute_attendee(
    db: &DatabaseConnection,
    actor: &Actor,
    clock: &dyn Clock,
    attendee_id: AttendeeId,
    replacement: NewAttendee,
) -> Result<BookingOutcome, DomainError> {
    actor.require(Permission::BookTraded)?;
    let attendee = attendees::Entity::find_by_id(attendee_id.as_uuid())
        .one(db)
        .await?
        .ok_or(DomainError::NotFound {
            entity: "BookingAttendee",
        })?;
    let booking_id = BookingId::from_uuid(attendee.booking_id);
    let row = own_booking(db, actor, Permission::BookTraded, booking_id)
        .await
        .map_err(|_| DomainError::NotFound {
            entity: "BookingAttendee",
        })?;
    let now = clock.now();
    let session = Session::from_row(
        sessions::load_row(db, SessionId::from_uuid(row.session_id))
            .await?
            .ok_or(DomainError::NotFound {
                entity: "TradedSession",
            })?,
    )?;
    let mut problems = Problems::new();
    let status: BookingStatus = stored("booking status", &row.status)?;
    if !matches!(
        status,
        BookingStatus::PendingApproval
            | BookingStatus::PendingPayment
            | BookingStatus::Confirmed
            | BookingStatus::Waitlisted
    ) {
        problems.add(
            "attendeeId",
            ErrorCode::Conflict,
            format!("attendees of a {status} booking cannot be replaced"),
        );
    }
    if session.has_started(now) {
        problems.add(
            "attendeeId",
            ErrorCode::Conflict,
            "the session has started: the register is what it is",
        );
    }
    problems.finish()?;
    // The replacement is the mutation's own input: its fields are `name`, `email`, `role`.
    let mut checked = Problems::new();
    let people = check_attendees(
        db,
        &mut checked,
        std::slice::from_ref(&replacement),
        Some(&session),
        None,
    )
    .await?;
    let person = checked
        .finish_with(people.into_iter().next())
        .map_err(as_replacement)?;
    let txn = db.begin_write().await?;
    lock_booking(&txn, booking_id, row.version).await?;
    let before = snapshot(&txn, booking_id).await?;
    let mut active: attendees::ActiveModel = attendee.into();
    active.name = Set(person.name);
    active.email = Set(person.email.clone());
    active.role = Set(person.role);
    active.live_email = Set(Some(person.email));
    active.substituted_at = Set(Some(now));
    active.updated_at = Set(now);
    match active.update(&txn).await {
        Ok(_) => {}
        Err(err) if is_unique_violation(&err) => {
            return Err(DomainError::invalid(
                "email",
                ErrorCode::Taken,
                "this person already has a place on this session",
            ));
        }
        Err(err) => return Err(err.into()),
    }
    audit(
        &txn,
        actor,
        clock,
        Action::Substitute,
        booking_id,
        Some(before),
    )
    .await?;
    txn.commit().await?;
    outcome(db, booking_id, None).await
}

/// Field errors about `attendees.0.x` as errors about `x`.
fn as_replacement(err: DomainError) -> DomainError {
    match err {
        DomainError::Invalid(fields) => DomainError::Invalid(
            fields
                .into_iter()
                .map(|mut f| {
                    if f.field.first().is_some_and(|s| s == "attendees") && f.field.len() > 2 {
                        f.field = f.field.split_off(2);
                    }
                    f
                })
                .collect(),
        ),
        other => other,
    }
}
