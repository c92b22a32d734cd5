//! The demo partnership's traded catalogue for 2026/27, on top of the membership, billing and
//! offer demos: CPD courses, the annual conference, consultancy and audit days, governor
//! training and clerking, ECT induction and HR advice from the partnership's team, and
//! school-to-school support from two National Support Schools (Moss Hall Infant for early
//! reading, East Barnet for secondary curriculum reviews). Sessions run through the year;
//! Holly Park Primary (`head@holly-park.example`) has bookings settled each way, a waiting-list
//! entry and a staff request waiting for its head; a few other schools have booked too.
//!
//! Everything goes through the public services, so the demo obeys every rule real data does;
//! sessions whose dates have already passed on the clock are left out (the demo can be loaded
//! on any day of the year), and a booking the rules refuse (no allowance left, no billing
//! account) is skipped rather than failing the seed.

use std::fmt;

use billing::ledger::invoices::VatTreatment;
use billing::provider::OfflineProvider;
use chrono::{DateTime, Duration, TimeZone, Utc};
use kernel::{Actor, Clock, DomainError, Money, OfferItemId, SchoolId};
use membership::people::{Lookup, users};
use membership::school::types::Phase;
use sea_orm::DatabaseConnection;

use crate::book::{NewAttendee, NewBooking, NewBookingRequest, book, request_booking};
use crate::catalogue::{NewService, Service, create_service, publish_service};
use crate::entity::services;
use crate::policy::CancellationPolicy;
use crate::sessions::{NewSession, Session, SessionPart, create_session};
use crate::types::{Category, Delivery, Settlement};

/// The demo school's head: their portal shows bookings of every kind.
pub const DEMO_SCHOOL_USER: &str = "head@holly-park.example";
const DEMO_STAFF_USER: &str = "staff@holly-park.example";
const VENUE: &str = "Barnet Partnership Centre, Friern Barnet Road, N11 3DS";

/// What seeding the demo catalogue did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TradedSeedReport {
    pub services: usize,
    pub sessions: usize,
    pub bookings: usize,
    /// Services existed already (real or earlier demo data): nothing was loaded.
    pub skipped: bool,
}

impl fmt::Display for TradedSeedReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.skipped {
            write!(
                f,
                "demo traded services not loaded: the catalogue has services already"
            )
        } else {
            write!(
                f,
                "traded services: {} services, {} sessions, {} bookings",
                self.services, self.sessions, self.bookings
            )
        }
    }
}

#[derive(Debug, thiserror::Error)]
#[error("demo traded data is inconsistent: {0}")]
struct BadDemo(&'static str);

/// A demo service and its sessions: (first day, days, capacity).
pub(crate) struct DemoService {
    pub(crate) new: NewService,
    sessions: &'static [((i32, u32, u32), u32, u32)],
    /// Hours per day, starting at 9:00 (13:30 for a half day).
    pub(crate) hours: i64,
}

#[allow(clippy::too_many_arguments)]
fn service(
    code: &str,
    title: &str,
    category: Category,
    delivery: Delivery,
    description: &str,
    audience: &str,
    phases: &[Phase],
    prices: (i64, Option<i64>),
    vat: (VatTreatment, u32),
    offer_item: Option<OfferItemId>,
    provider: (Option<SchoolId>, &str),
) -> NewService {
    NewService {
        code: code.to_owned(),
        title: title.to_owned(),
        category,
        description: description.to_owned(),
        audience: audience.to_owned(),
        phases: phases.to_vec(),
        provider_school_id: provider.0,
        provider_name: provider.1.to_owned(),
        delivery,
        member_price: Money::from_pence(prices.0),
        non_member_price: prices.1.map(Money::from_pence),
        vat_treatment: vat.0,
        vat_rate_bp: vat.1,
        cfr_code: Some("E19".to_owned()),
        offer_item_id: offer_item,
    }
}

const TEAM: &str = "Barnet Partnership school improvement team";
const EXEMPT: (VatTreatment, u32) = (VatTreatment::Exempt, 0);
const STANDARD: (VatTreatment, u32) = (VatTreatment::Standard, 2000);

/// The demo's services (the synthetic national catalogue's too, `crate::synthetic`).
pub(crate) fn catalogue(
    cpd: Option<OfferItemId>,
    moss_hall: Option<SchoolId>,
    east_barnet: Option<SchoolId>,
) -> Vec<DemoService> {
    use Category as C;
    use Delivery as D;
    use Phase as P;
    let mut out = vec![
        DemoService {
            new: service(
                "CPD-EARLY-WRITING",
                "Early writing in EYFS and Key Stage 1",
                C::CpdCourse,
                D::InPerson,
                "Two days on composition and transcription from Reception to Year 2: modelled \
                 writing, oral rehearsal, handwriting and spelling routines, with gap tasks \
                 between the days.",
                "EYFS and KS1 teachers and English leads",
                &[P::Nursery, P::Infant, P::Primary],
                (15_000, Some(22_500)),
                EXEMPT,
                cpd,
                (None, TEAM),
            ),
            sessions: &[((2027, 1, 19), 2, 24), ((2027, 4, 27), 2, 24)],
            hours: 6,
        },
        DemoService {
            new: service(
                "CPD-MIDDLE-LEADERS",
                "Middle leadership programme",
                C::CpdCourse,
                D::InPerson,
                "Three days for subject and phase leaders: curriculum intent to impact, \
                 leading colleagues, monitoring that helps. Each participant leads a small \
                 improvement project in their school.",
                "Subject leaders and phase leaders",
                &[],
                (45_000, Some(65_000)),
                EXEMPT,
                cpd,
                (None, TEAM),
            ),
            sessions: &[((2027, 2, 2), 3, 20)],
            hours: 6,
        },
        DemoService {
            new: service(
                "CONF-2027",
                "Barnet Partnership annual conference 2027",
                C::Conference,
                D::InPerson,
                "Keynotes, workshops and the partnership's year in review. Lunch included.",
                "Headteachers, governors and senior leaders",
                &[],
                (9_500, Some(15_000)),
                EXEMPT,
                None,
                (None, "Barnet Partnership"),
            ),
            sessions: &[((2027, 3, 5), 1, 200)],
            hours: 7,
        },
        DemoService {
            new: service(
                "CONSULT-SIP-DAY",
                "School improvement consultancy day",
                C::Consultancy,
                D::InSchool,
                "A day in your school with an experienced adviser: learning walks, \
                 curriculum deep dives or inspection readiness, agreed with you beforehand.",
                "Headteachers",
                &[],
                (65_000, Some(80_000)),
                EXEMPT,
                None,
                (None, TEAM),
            ),
            sessions: &[
                ((2027, 1, 26), 1, 1),
                ((2027, 2, 23), 1, 1),
                ((2027, 3, 16), 1, 1),
            ],
            hours: 6,
        },
        DemoService {
            new: service(
                "AUDIT-SEND",
                "SEND provision review",
                C::Audit,
                D::InSchool,
                "A review of SEND provision against the Code of Practice, with a written \
                 report and action plan.",
                "Headteachers and SENCOs",
                &[],
                (120_000, Some(150_000)),
                STANDARD,
                None,
                (None, TEAM),
            ),
            sessions: &[((2027, 2, 9), 1, 1)],
            hours: 6,
        },
        DemoService {
            new: service(
                "GOV-INDUCTION",
                "New governor induction",
                C::GovernorTraining,
                D::Online,
                "Roles and responsibilities, holding leaders to account, finance and \
                 safeguarding: three twilight sessions online.",
                "Governors in their first year",
                &[],
                (6_000, Some(9_000)),
                EXEMPT,
                None,
                (None, "Barnet governor services"),
            ),
            sessions: &[((2027, 1, 13), 1, 40), ((2027, 5, 12), 1, 40)],
            hours: 2,
        },
        DemoService {
            new: service(
                "CLERK-FGB",
                "Clerking a full governing board meeting",
                C::Clerking,
                D::InSchool,
                "A professional clerk for one meeting: agenda, papers, minutes within ten \
                 working days.",
                "Chairs of governors",
                &[],
                (22_000, Some(26_000)),
                STANDARD,
                None,
                (None, "Barnet governor services"),
            ),
            sessions: &[((2027, 3, 23), 1, 1)],
            hours: 3,
        },
        DemoService {
            new: service(
                "ECT-INDUCTION",
                "ECT induction: appropriate body and core training",
                C::EctInduction,
                D::InPerson,
                "Appropriate-body registration, assessment points and six core training \
                 days for early career teachers. Member schools only.",
                "Early career teachers and their mentors",
                &[],
                (110_000, None),
                EXEMPT,
                None,
                (None, TEAM),
            ),
            sessions: &[((2027, 1, 21), 3, 30)],
            hours: 6,
        },
        DemoService {
            new: service(
                "HR-CASEWORK",
                "HR casework advice (half day)",
                C::Hr,
                D::Online,
                "Advice from an HR consultant on a capability, absence or disciplinary case.",
                "Headteachers and business managers",
                &[],
                (30_000, Some(37_500)),
                STANDARD,
                None,
                (None, "Barnet Partnership HR service"),
            ),
            sessions: &[((2027, 2, 16), 1, 4)],
            hours: 3,
        },
    ];
    if let Some(school) = moss_hall {
        out.push(DemoService {
            new: service(
                "S2S-EARLY-READING",
                "Early reading: school-to-school support",
                C::Consultancy,
                D::InSchool,
                "Leaders from Moss Hall Infant School, a National Support School, work with \
                 your reading leader on phonics fidelity and keep-up sessions.",
                "Reading leads in infant and primary schools",
                &[P::Infant, P::Primary],
                (50_000, None),
                EXEMPT,
                None,
                (
                    Some(school),
                    "Moss Hall Infant School (National Support School)",
                ),
            ),
            sessions: &[((2027, 2, 25), 1, 1), ((2027, 3, 11), 1, 1)],
            hours: 6,
        });
    }
    if let Some(school) = east_barnet {
        out.push(DemoService {
            new: service(
                "S2S-CURRICULUM-REVIEW",
                "Secondary curriculum review",
                C::Audit,
                D::InSchool,
                "Senior leaders from East Barnet School, a National Support School, review a \
                 department's curriculum and its sequencing with your subject leader.",
                "Secondary senior and subject leaders",
                &[P::Secondary, P::AllThrough],
                (80_000, Some(95_000)),
                EXEMPT,
                None,
                (Some(school), "East Barnet School (National Support School)"),
            ),
            sessions: &[((2027, 3, 2), 1, 1)],
            hours: 6,
        });
    }
    out
}

fn start_of(day: (i32, u32, u32), hours: i64) -> Option<DateTime<Utc>> {
    let hour = if hours <= 3 { 13 } else { 9 };
    Utc.with_ymd_and_hms(day.0, day.1, day.2, hour, 0, 0)
        .single()
}

/// Days of a multi-day session: a week apart (courses with gap tasks).
fn parts(first: DateTime<Utc>, days: u32, hours: i64, delivery: Delivery) -> Vec<SessionPart> {
    (0..days)
        .map(|i| {
            let starts_at = first + Duration::weeks(i64::from(i));
            SessionPart {
                starts_at,
                ends_at: starts_at + Duration::hours(hours),
                venue: (delivery == Delivery::InPerson).then(|| VENUE.to_owned()),
                online_url: (delivery == Delivery::Online)
                    .then(|| "https://meet.barnet-partnership.example/cpd".to_owned()),
            }
        })
        .collect()
}

async fn school_by_urn(
    db: &DatabaseConnection,
    urn: &str,
) -> Result<Option<SchoolId>, DomainError> {
    Ok(membership::school::by_urn(db, &Actor::System, urn)
        .await?
        .map(|s| s.id))
}

async fn user(db: &DatabaseConnection, email: &str) -> Result<Option<Actor>, DomainError> {
    Ok(users::actor_for(db, Lookup::Email(email))
        .await?
        .map(Actor::User))
}

fn people(school: &str, names: &[(&str, &str)]) -> Vec<NewAttendee> {
    names
        .iter()
        .map(|(name, role)| NewAttendee {
            name: (*name).to_owned(),
            email: format!("{}@{school}.example", name.to_lowercase().replace(' ', ".")),
            role: Some((*role).to_owned()),
        })
        .collect()
}

/// Loads the demo catalogue. Does nothing when any service exists.
pub async fn seed(
    db: &DatabaseConnection,
    clock: &dyn Clock,
) -> Result<TradedSeedReport, DomainError> {
    use sea_orm::{EntityTrait, PaginatorTrait};
    if services::Entity::find().count(db).await? > 0 {
        return Ok(TradedSeedReport {
            skipped: true,
            ..TradedSeedReport::default()
        });
    }
    let system = Actor::System;
    let cpd = offer::item_by_code(db, "CPD_PLACES").await?.map(|i| i.id);
    let moss_hall = school_by_urn(db, "900001").await?;
    let east_barnet = school_by_urn(db, "900024").await?;
    let now = clock.now();
    let mut report = TradedSeedReport::default();
    let mut scheduled: Vec<(Service, Session)> = Vec::new();
    for demo in catalogue(cpd, moss_hall, east_barnet) {
        let delivery = demo.new.delivery;
        let created = create_service(db, &system, clock, demo.new).await?;
        let created = publish_service(db, &system, clock, created.id).await?;
        report.services += 1;
        for &(day, days, capacity) in demo.sessions {
            let first = start_of(day, demo.hours).ok_or(DomainError::internal(BadDemo("date")))?;
            let deadline = first - Duration::days(7);
            if deadline <= now + Duration::days(1) {
                continue;
            }
            let session = create_session(
                db,
                &system,
                clock,
                NewSession {
                    service_id: created.id,
                    label: None,
                    parts: parts(first, days, demo.hours, delivery),
                    capacity,
                    booking_deadline: deadline,
                    policy: CancellationPolicy::default(),
                    waitlist_offer_hours: None,
                },
            )
            .await?;
            report.sessions += 1;
            scheduled.push((created.clone(), session));
        }
    }
    report.bookings = bookings(db, clock, &scheduled).await?;
    Ok(report)
}

/// Bookings for Holly Park (each settlement, a waiting-list entry, a staff request) and a
/// few other member schools.
async fn bookings(
    db: &DatabaseConnection,
    clock: &dyn Clock,
    scheduled: &[(Service, Session)],
) -> Result<usize, DomainError> {
    let session_of = |code: &str| {
        scheduled
            .iter()
            .find(|(s, _)| s.code == code)
            .map(|(_, session)| session.id)
    };
    let (Some(head), Some(admin)) = (
        user(db, DEMO_SCHOOL_USER).await?,
        user(db, "admin@trellis.example").await?,
    ) else {
        return Ok(0);
    };
    let Some(holly_park) = head.as_user().and_then(|u| u.schools.first().copied()) else {
        return Ok(0);
    };
    let provider = OfflineProvider;
    let mut made = 0;
    let attempt = |actor: Actor, input: NewBooking| {
        let provider = &provider;
        async move {
            match book(db, &actor, clock, provider, input).await {
                Ok(_) => Ok(1),
                // The rules said no (an allowance used up, no billing account): leave it out.
                Err(DomainError::Invalid(fields)) => {
                    tracing::debug!(?fields, "demo booking skipped");
                    Ok(0)
                }
                Err(err) => Err(err),
            }
        }
    };
    let hp = |names: &[(&str, &str)]| people("holly-park", names);
    let plan = [
        (
            session_of("CPD-EARLY-WRITING"),
            hp(&[
                ("Amira Khan", "Reception teacher"),
                ("Tom Reilly", "Year 1 teacher"),
            ]),
            Settlement::Offer,
            None,
        ),
        (
            session_of("CPD-MIDDLE-LEADERS"),
            hp(&[("Grace Okafor", "Maths lead")]),
            Settlement::Invoice,
            Some("HP-PO-2217"),
        ),
        (
            session_of("CONF-2027"),
            hp(&[
                ("Holly Park Headteacher", "Headteacher"),
                ("Sam Patel", "Chair of governors"),
            ]),
            // Not by card: the demo runs without a payment provider, where CARD is refused.
            Settlement::Invoice,
            Some("HP-PO-2224"),
        ),
        (
            session_of("CONSULT-SIP-DAY"),
            hp(&[("Holly Park Headteacher", "Headteacher")]),
            Settlement::Invoice,
            Some("HP-PO-2230"),
        ),
    ];
    for (session, attendees, settlement, po) in plan {
        let Some(session_id) = session else { continue };
        made += attempt(
            head.clone(),
            NewBooking {
                school_id: holly_park,
                session_id,
                attendees,
                settlement,
                po_number: po.map(str::to_owned),
                join_waitlist: false,
                idempotency_key: None,
            },
        )
        .await?;
    }
    // Other member schools: the consultancy day Holly Park wanted next is taken, so Holly
    // Park waits for it; two schools book the writing course and the conference.
    let others = [
        ("900019", "monkfrith", "CONSULT-SIP-DAY"),
        ("900021", "danegrove", "CPD-EARLY-WRITING"),
        ("900022", "cromer-road", "CONF-2027"),
    ];
    let mut taken_day = None;
    for (urn, key, code) in others {
        let (Some(school), Some(session_id)) = (school_by_urn(db, urn).await?, session_of(code))
        else {
            continue;
        };
        // The first consultancy day went to Holly Park: Monkfrith takes the second.
        let session_id = if code == "CONSULT-SIP-DAY" {
            let second = scheduled
                .iter()
                .filter(|(s, _)| s.code == code)
                .nth(1)
                .map(|(_, s)| s.id);
            taken_day = second;
            match second {
                Some(id) => id,
                None => continue,
            }
        } else {
            session_id
        };
        made += attempt(
            admin.clone(),
            NewBooking {
                school_id: school,
                session_id,
                attendees: people(key, &[("Jordan Lee", "Deputy headteacher")]),
                settlement: Settlement::Invoice,
                po_number: None,
                join_waitlist: false,
                idempotency_key: None,
            },
        )
        .await?;
    }
    if let Some(day) = taken_day {
        made += attempt(
            head.clone(),
            NewBooking {
                school_id: holly_park,
                session_id: day,
                attendees: hp(&[("Grace Okafor", "Maths lead")]),
                settlement: Settlement::Invoice,
                po_number: None,
                join_waitlist: true,
                idempotency_key: None,
            },
        )
        .await?;
    }
    // A teacher asks for a place on the governor induction for a new parent governor; the
    // head has not answered yet.
    if let (Some(staff), Some(session_id)) = (
        user(db, DEMO_STAFF_USER).await?,
        session_of("GOV-INDUCTION"),
    ) && request_booking(
        db,
        &staff,
        clock,
        NewBookingRequest {
            school_id: holly_park,
            session_id,
            attendees: hp(&[("Priya Shah", "Parent governor")]),
            idempotency_key: None,
        },
    )
    .await
    .is_ok()
    {
        made += 1;
    }
    Ok(made)
}
