//! Messages about bookings: confirmed (with a calendar invitation for each attendee),
//! waiting-listed, places offered and lapsed, staff requests and their answer, cancellations
//! by the school or the provider (with a calendar cancellation for each attendee).

use std::collections::HashMap;

use kernel::outbox::EventKind;
use kernel::{BookingId, DomainError, Money, Role, SchoolId, UserId};
use membership::people::User;
use serde::Serialize;
use traded::bookings::{Attendee, Booking};
use traded::catalogue::Service;
use traded::sessions::Session;
use traded::types::{ClosedReason, Settlement};
use uuid::Uuid;

use super::{Event, MessageSettings, draft, each_event};
use crate::format;
use crate::ics::{self, Method, Occurrence};
use crate::model::{Category, Draft, Recipient};

/// Everything the batch's messages need, read in one statement per table.
struct Facts {
    bookings: HashMap<BookingId, Booking>,
    attendees: HashMap<BookingId, Vec<Attendee>>,
    sessions: HashMap<kernel::SessionId, Session>,
    services: HashMap<kernel::ServiceId, Service>,
    schools: HashMap<SchoolId, String>,
    users: HashMap<UserId, User>,
    leaders: HashMap<SchoolId, Vec<User>>,
    attendee_users: HashMap<String, User>,
}

async fn load<C: sea_orm::ConnectionTrait>(
    db: &C,
    ids: &[BookingId],
) -> Result<Facts, DomainError> {
    let bookings = traded::bookings::bookings_by_ids(db, ids).await?;
    let attendees = traded::bookings::attendees_of_bookings(db, ids).await?;
    let session_ids: Vec<_> = bookings.values().map(|b| b.session_id).collect();
    let service_ids: Vec<_> = bookings.values().map(|b| b.service_id).collect();
    let school_ids: Vec<_> = bookings.values().map(|b| b.school_id).collect();
    let user_ids: Vec<UserId> = bookings
        .values()
        .flat_map(|b| {
            [
                b.booked_by,
                b.requested_by,
                b.closure.as_ref().and_then(|c| c.by),
            ]
        })
        .flatten()
        .collect();
    let emails: Vec<String> = attendees
        .values()
        .flatten()
        .map(|a| a.email.clone())
        .collect();
    Ok(Facts {
        sessions: traded::sessions::sessions_by_ids(db, &session_ids).await?,
        services: traded::catalogue::services_by_ids(db, &service_ids).await?,
        schools: membership::school::names_by_ids(db, &school_ids).await?,
        users: membership::people::users::by_ids(db, &user_ids).await?,
        leaders: membership::people::users::active_with_role_at(
            db,
            Role::SchoolLeader,
            &school_ids,
        )
        .await?,
        attendee_users: membership::people::users::active_by_emails(db, &emails).await?,
        bookings,
        attendees,
    })
}

/// The session as every booking message shows it.
#[derive(Debug, Serialize)]
struct SessionFacts {
    service: String,
    label: Option<String>,
    provider: String,
    parts: Vec<PartFacts>,
    school: String,
    places: u32,
    attendees: Vec<String>,
}

#[derive(Debug, Serialize)]
struct PartFacts {
    when: String,
    venue: Option<String>,
    online_url: Option<String>,
}

pub(super) async fn compose<C: sea_orm::ConnectionTrait>(
    db: &C,
    settings: &MessageSettings,
    events: &[&Event],
) -> Result<HashMap<Uuid, Vec<Draft>>, DomainError> {
    if events.is_empty() {
        return Ok(HashMap::new());
    }
    let ids: Vec<BookingId> = events
        .iter()
        .map(|e| BookingId::from_uuid(e.subject))
        .collect();
    let facts = load(db, &ids).await?;
    each_event(events, "booking", |event| {
        let Some(kind) = event.kind else {
            return Ok(Some(Vec::new()));
        };
        booking_view(&facts, BookingId::from_uuid(event.subject))
            .map(|view| messages(settings, kind, &view, event))
            .transpose()
    })
}

/// One booking with what surrounds it.
struct View<'a> {
    booking: &'a Booking,
    attendees: Vec<&'a Attendee>,
    session: &'a Session,
    service: &'a Service,
    school: &'a str,
    facts: &'a Facts,
}

fn booking_view(facts: &Facts, id: BookingId) -> Option<View<'_>> {
    let booking = facts.bookings.get(&id)?;
    let session = facts.sessions.get(&booking.session_id)?;
    let service = facts.services.get(&booking.service_id)?;
    let school = facts.schools.get(&booking.school_id)?;
    let attendees = facts
        .attendees
        .get(&id)
        .map(|list| list.iter().filter(|a| a.substituted_at.is_none()).collect())
        .unwrap_or_default();
    Some(View {
        booking,
        attendees,
        session,
        service,
        school,
        facts,
    })
}

impl View<'_> {
    fn session_facts(&self) -> SessionFacts {
        SessionFacts {
            service: self.service.title.clone(),
            label: self.session.label.clone(),
            provider: self.service.provider_name.clone(),
            parts: self
                .session
                .parts
                .iter()
                .map(|p| PartFacts {
                    when: format::span(p.starts_at, p.ends_at),
                    venue: p.venue.clone(),
                    online_url: p.online_url.clone(),
                })
                .collect(),
            school: self.school.to_owned(),
            places: self.booking.places,
            attendees: self.attendees.iter().map(|a| a.name.clone()).collect(),
        }
    }

    fn occurrences(&self) -> Vec<Occurrence> {
        let count = self.session.parts.len();
        self.session
            .parts
            .iter()
            .enumerate()
            .map(|(i, p)| Occurrence {
                booking: self.booking.id,
                part: i + 1,
                title: if count > 1 {
                    format!("{} (part {} of {count})", self.service.title, i + 1)
                } else {
                    self.service.title.clone()
                },
                starts_at: p.starts_at,
                ends_at: p.ends_at,
                location: p.venue.clone().or_else(|| p.online_url.clone()),
                description: format!(
                    "{}, provided by {}. Booked by {}.",
                    self.service.title, self.service.provider_name, self.school
                ),
            })
            .collect()
    }

    fn user(&self, id: Option<UserId>) -> Option<Recipient> {
        let user = self.facts.users.get(&id?)?;
        user.active.then(|| as_recipient(user))
    }

    /// Whoever placed the booking (or, when a system or key did, the school's leaders).
    fn bookers(&self) -> Vec<Recipient> {
        match self
            .user(self.booking.booked_by)
            .or_else(|| self.user(self.booking.requested_by))
        {
            Some(one) => vec![one],
            None => self.leaders(),
        }
    }

    fn leaders(&self) -> Vec<Recipient> {
        self.facts
            .leaders
            .get(&self.booking.school_id)
            .map(|users| users.iter().map(as_recipient).collect())
            .unwrap_or_default()
    }

    fn attendee_recipients(&self) -> Vec<Recipient> {
        self.attendees
            .iter()
            .map(|a| Recipient {
                email: a.email.clone(),
                name: a.name.clone(),
                user_id: self.facts.attendee_users.get(&a.email).map(|u| u.id),
            })
            .collect()
    }
}

fn as_recipient(user: &User) -> Recipient {
    Recipient {
        email: user.email.clone(),
        name: user.name.clone(),
        user_id: Some(user.id),
    }
}

fn settlement_text(settlement: Option<Settlement>) -> &'static str {
    match settlement {
        Some(Settlement::Offer) => "the school's core offer allowance",
        Some(Settlement::Invoice) => "the school's termly invoice",
        Some(Settlement::Card) => "card",
        None => "not yet decided",
    }
}

/// What the cancellation terms meant, for the person who booked.
fn terms_lines(booking: &Booking) -> Vec<String> {
    let fee = booking.cancellation_fee.unwrap_or_else(Money::zero);
    let refund = booking.refund.unwrap_or_else(Money::zero);
    let mut lines = Vec::new();
    if fee.pence() > 0 {
        lines.push(format!(
            "A cancellation fee of {fee} applies under the session's cancellation policy."
        ));
    }
    match booking.settlement {
        Some(Settlement::Offer) => {
            let plural = |n: u32| if n == 1 { "place" } else { "places" };
            if let Some(kept) = booking.units_kept.filter(|n| *n > 0) {
                lines.push(format!(
                    "{kept} {} of the core offer allowance stay used under the session's cancellation policy.",
                    plural(kept)
                ));
            }
            if let Some(back) = booking.units_returned.filter(|n| *n > 0) {
                lines.push(format!(
                    "{back} {} go back to the school's core offer allowance.",
                    plural(back)
                ));
            }
        }
        Some(Settlement::Card) if refund.pence() > 0 => {
            lines.push(format!("{refund} will be refunded to the card that paid."));
        }
        Some(Settlement::Invoice) if refund.pence() > 0 => {
            lines.push(format!(
                "{refund} is taken off the school's termly invoice (or credited, if it has been issued)."
            ));
        }
        _ => {}
    }
    if lines.is_empty() {
        lines.push("Nothing is charged for this booking.".to_owned());
    }
    lines
}

#[derive(Debug, Serialize)]
struct Confirmed<'a> {
    #[serde(flatten)]
    session: &'a SessionFacts,
    as_attendee: bool,
    requested: bool,
    settlement: &'static str,
    po_number: Option<&'a str>,
}

#[derive(Debug, Serialize)]
#[allow(
    clippy::struct_excessive_bools,
    reason = "the flags the templates branch on"
)]
struct Plain<'a> {
    #[serde(flatten)]
    session: &'a SessionFacts,
    expires: Option<String>,
    declined: bool,
    requester: Option<String>,
    price: String,
    unit_price: String,
    vat: bool,
    reason: Option<String>,
    decided_by: Option<String>,
    as_attendee: bool,
    by_provider: bool,
    terms: Vec<String>,
}

#[allow(clippy::too_many_lines)]
fn messages(
    settings: &MessageSettings,
    kind: EventKind,
    view: &View<'_>,
    event: &Event,
) -> Result<Vec<Draft>, DomainError> {
    let booking = view.booking;
    let session = view.session_facts();
    let service = &view.service.title;
    let school = Some(booking.school_id);
    let closure = booking.closure.as_ref();
    let plain = |as_attendee: bool| Plain {
        session: &session,
        expires: booking
            .waitlist
            .as_ref()
            .and_then(|w| w.offer_expires_at)
            .or_else(|| closure.map(|c| c.at))
            .map(format::when),
        declined: closure.is_some_and(|c| c.reason == ClosedReason::OfferDeclined),
        requester: view.user(booking.requested_by).map(|r| r.name),
        price: booking.gross().to_string(),
        unit_price: booking.unit_price.to_string(),
        vat: booking.vat_rate_bp > 0,
        reason: closure.and_then(|c| c.note.clone()),
        decided_by: closure.and_then(|c| view.user(c.by)).map(|r| r.name),
        as_attendee,
        by_provider: kind == EventKind::SessionCancelled,
        terms: terms_lines(booking),
    };
    let confirmed = |as_attendee: bool, requested: bool| Confirmed {
        session: &session,
        as_attendee,
        requested,
        settlement: settlement_text(booking.settlement),
        po_number: booking.po_number.as_deref(),
    };
    let mut drafts = Vec::new();
    match kind {
        EventKind::BookingConfirmed => {
            let occurrences = view.occurrences();
            for attendee in view.attendee_recipients() {
                let facts = confirmed(true, false);
                let invite = ics::invitation(
                    Method::Request,
                    &settings.from_address,
                    (&attendee.name, &attendee.email),
                    &occurrences,
                    event_stamp(event),
                );
                let mut d = draft(
                    settings,
                    kind,
                    Category::Bookings,
                    school,
                    attendee,
                    format!("Your place on {service}"),
                    "booking_confirmed",
                    &facts,
                )?;
                d.ics = Some(invite);
                drafts.push(d);
            }
            let requester = view.user(booking.requested_by);
            for booker in view.bookers() {
                let asked_for_it = requester.as_ref().is_some_and(|r| r.email == booker.email);
                let facts = confirmed(false, asked_for_it);
                let subject = if asked_for_it {
                    format!("Request approved: {service}")
                } else {
                    format!("Booking confirmed: {service}")
                };
                drafts.push(draft(
                    settings,
                    kind,
                    Category::Bookings,
                    school,
                    booker,
                    subject,
                    "booking_confirmed",
                    &facts,
                )?);
            }
            if let Some(requester) = requester {
                let facts = confirmed(false, true);
                drafts.push(draft(
                    settings,
                    kind,
                    Category::Requests,
                    school,
                    requester,
                    format!("Request approved: {service}"),
                    "booking_confirmed",
                    &facts,
                )?);
            }
        }
        EventKind::BookingWaitlisted => {
            for booker in view.bookers() {
                drafts.push(draft(
                    settings,
                    kind,
                    Category::Waitlist,
                    school,
                    booker,
                    format!("On the waiting list: {service}"),
                    "booking_waitlisted",
                    &plain(false),
                )?);
            }
        }
        EventKind::WaitlistPlaceOffered => {
            for who in dedupe(view.bookers().into_iter().chain(view.leaders())) {
                drafts.push(draft(
                    settings,
                    kind,
                    Category::Waitlist,
                    school,
                    who,
                    format!("Places offered: {service}"),
                    "waitlist_offered",
                    &plain(false),
                )?);
            }
        }
        EventKind::WaitlistOfferLapsed => {
            for who in dedupe(view.bookers().into_iter().chain(view.leaders())) {
                drafts.push(draft(
                    settings,
                    kind,
                    Category::Waitlist,
                    school,
                    who,
                    format!("Offer passed on: {service}"),
                    "waitlist_lapsed",
                    &plain(false),
                )?);
            }
        }
        EventKind::BookingRequested => {
            for leader in view.leaders() {
                drafts.push(draft(
                    settings,
                    kind,
                    Category::Requests,
                    school,
                    leader,
                    format!("Request awaiting your approval: {service}"),
                    "booking_requested",
                    &plain(false),
                )?);
            }
        }
        EventKind::BookingRequestDeclined => {
            if let Some(requester) = view.user(booking.requested_by) {
                drafts.push(draft(
                    settings,
                    kind,
                    Category::Requests,
                    school,
                    requester,
                    format!("Request declined: {service}"),
                    "booking_declined",
                    &plain(false),
                )?);
            }
        }
        EventKind::BookingCancelled | EventKind::SessionCancelled => {
            let left_waitlist = closure.is_some_and(|c| c.reason == ClosedReason::LeftWaitlist);
            let subject = if kind == EventKind::SessionCancelled {
                format!("Session cancelled: {service}")
            } else {
                format!("Booking cancelled: {service}")
            };
            if !left_waitlist {
                let occurrences = view.occurrences();
                for attendee in view.attendee_recipients() {
                    let cancel = ics::invitation(
                        Method::Cancel,
                        &settings.from_address,
                        (&attendee.name, &attendee.email),
                        &occurrences,
                        event_stamp(event),
                    );
                    let mut d = draft(
                        settings,
                        kind,
                        Category::Bookings,
                        school,
                        attendee,
                        subject.clone(),
                        "booking_cancelled",
                        &plain(true),
                    )?;
                    d.ics = Some(cancel);
                    drafts.push(d);
                }
            }
            for booker in view.bookers() {
                drafts.push(draft(
                    settings,
                    kind,
                    Category::Bookings,
                    school,
                    booker,
                    subject.clone(),
                    "booking_cancelled",
                    &plain(false),
                )?);
            }
        }
        EventKind::InvoiceIssued
        | EventKind::ReceiptAllocated
        | EventKind::CardPaymentFailed
        | EventKind::TimeCredited
        | EventKind::RenewalOpened
        | EventKind::ReviewScheduled
        | EventKind::ReviewReportReady
        | EventKind::ReviewPublished => {}
    }
    Ok(drafts)
}

/// The same person once, first mention first.
fn dedupe(recipients: impl Iterator<Item = Recipient>) -> Vec<Recipient> {
    let mut seen = std::collections::HashSet::new();
    recipients
        .filter(|r| seen.insert(r.email.clone()))
        .collect()
}

/// DTSTAMP: when the event happened (UUIDv7 carries it), so a re-rendered invitation is
/// byte-for-byte the one sent.
fn event_stamp(event: &Event) -> chrono::DateTime<chrono::Utc> {
    event
        .id
        .get_timestamp()
        .and_then(|ts| {
            let (secs, nanos) = ts.to_unix();
            chrono::DateTime::from_timestamp(i64::try_from(secs).ok()?, nanos)
        })
        .unwrap_or_default()
}
