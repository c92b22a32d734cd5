//! Traded services at national scale (`trellis seed --synthetic`, on a synthetic directory
//! and offer): the demo's catalogue, thousands of sessions of it over the rest of the year,
//! and a million confirmed bookings of one place, each with its delegate, every session
//! full. Issue #18 asks that a school's bookings page read as fast at this scale as on the
//! demo.
//!
//! Services and sessions go through the services (`create_service`, `create_session`), so
//! they obey every rule real ones do. Bookings are written in batched INSERTs, as `book`
//! would leave a confirmed booking settled on the termly invoice (a million through `book`
//! would take hours); what `book` checks holds by construction: one booking per school per
//! session, places taken never past capacity, the member's price of the day.

use std::collections::BTreeMap;
use std::fmt;

use chrono::{Duration, NaiveTime};
use kernel::BeginWrite as _;
use kernel::{AcademicYear, Actor, BookingId, Clock, DomainError, SchoolId};
use membership::synthetic::Rng;
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter, Set};

use crate::book::{NewAttendee, attendee_rows as attendee_rows_of, new_row};
use crate::catalogue::{Service, create_service, publish_service};
use crate::entity::{attendees, bookings, sessions};
use crate::lifecycle::Priced;
use crate::policy::CancellationPolicy;
use crate::sessions::{NewSession, Session, SessionPart, create_session};
use crate::types::{BookingStatus, Delivery, PriceBasis, Settlement};

/// Bookings or attendees per INSERT (at most 36 columns each).
const CHUNK: usize = 500;

/// How much to build.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SyntheticTrade {
    pub sessions: u32,
    pub bookings: u32,
    pub seed: u64,
}

/// What was built.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SyntheticTraded {
    pub services: usize,
    pub sessions: usize,
    pub bookings: usize,
}

impl fmt::Display for SyntheticTraded {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "synthetic traded services: {} services, {} sessions, {} bookings",
            self.services, self.sessions, self.bookings
        )
    }
}

#[derive(Debug, thiserror::Error)]
#[error("synthetic traded data: {0}")]
struct Impossible(&'static str);

/// Publishes the demo's catalogue, schedules `what.sessions` sessions of it between a fortnight
/// from `clock`'s today and the end of `year`, and fills them with `what.bookings` bookings of
/// `year`'s member schools.
///
/// # Errors
/// When the catalogue's codes are taken (traded services exist already), or there are no
/// member schools or no days left in `year`; database errors.
pub async fn seed(
    db: &DatabaseConnection,
    clock: &dyn Clock,
    year: AcademicYear,
    what: SyntheticTrade,
) -> Result<SyntheticTraded, DomainError> {
    let system = Actor::System;
    let mut schools: Vec<SchoolId> = membership::memberships::active_for_year(db, year)
        .await?
        .into_iter()
        .map(|m| m.school_id)
        .collect();
    schools.sort_unstable();
    schools.dedup();
    if schools.is_empty() || what.sessions == 0 {
        return Err(DomainError::internal(Impossible(
            "no schools or no sessions",
        )));
    }
    let cpd = offer::item_by_code(db, "CPD_PLACES").await?.map(|i| i.id);
    let mut services: Vec<(Service, i64)> = Vec::new();
    for demo in crate::demo::catalogue(cpd, None, None) {
        let created = create_service(db, &system, clock, demo.new).await?;
        services.push((
            publish_service(db, &system, clock, created.id).await?,
            demo.hours,
        ));
    }

    // Sessions a day apart or closer, from a fortnight ahead to a week before the year ends.
    let first = clock.today() + Duration::days(14);
    let days = (year.last_day() - Duration::days(7) - first).num_days();
    if days < 1 {
        return Err(DomainError::internal(Impossible(
            "no days left in the year",
        )));
    }
    let capacity = what.bookings.div_ceil(what.sessions).max(1);
    let nine = NaiveTime::from_hms_opt(9, 0, 0).unwrap_or_default();
    let mut scheduled: Vec<(Session, &Service)> = Vec::with_capacity(what.sessions as usize);
    for i in 0..what.sessions {
        let (service, hours) = &services[i as usize % services.len()];
        let day = first + Duration::days(i64::from(i) * days / i64::from(what.sessions));
        let starts_at = day.and_time(nine).and_utc();
        let session = create_session(
            db,
            &system,
            clock,
            NewSession {
                service_id: service.id,
                label: None,
                parts: vec![SessionPart {
                    starts_at,
                    ends_at: starts_at + Duration::hours(*hours),
                    venue: (service.delivery != Delivery::Online)
                        .then(|| "Partnership Centre".to_owned()),
                    online_url: (service.delivery == Delivery::Online)
                        .then(|| "https://meet.synthetic.example/cpd".to_owned()),
                }],
                capacity,
                booking_deadline: starts_at - Duration::days(7),
                policy: CancellationPolicy::default(),
                waitlist_offer_hours: None,
            },
        )
        .await?;
        scheduled.push((session, service));
    }

    // Each session's places go to consecutive schools from a random start: no school books
    // a session twice.
    let now = clock.now();
    let mut rng = Rng::new(what.seed);
    let mut booking_rows = Vec::new();
    let mut attendee_rows = Vec::new();
    let mut taken: Vec<(uuid::Uuid, i32)> = Vec::with_capacity(scheduled.len());
    let mut left = what.bookings as usize;
    let n = schools.len();
    for (session, service) in &scheduled {
        // The member's price of the day, as `book` prices a member school.
        let priced = Priced {
            basis: PriceBasis::Member,
            unit: service.member_price,
            vat_treatment: service.vat_treatment,
            vat_rate_bp: service.vat_rate_bp,
        };
        let places = left.min(capacity as usize).min(n);
        left -= places;
        let start = usize::try_from(rng.below(n as u64)).unwrap_or(0);
        for k in 0..places {
            let school = schools[(start + k) % n];
            let booking = BookingId::new();
            let mut row = new_row(booking, school, session, service, &priced, 1, now);
            row.status = Set(BookingStatus::Confirmed.as_str().to_owned());
            row.places_held = Set(1);
            row.settlement = Set(Some(Settlement::Invoice.as_str().to_owned()));
            booking_rows.push(row);
            attendee_rows.extend(attendee_rows_of(
                booking,
                session.id,
                &[NewAttendee {
                    name: "Synthetic Delegate".to_owned(),
                    email: format!("delegate.{}@synthetic.example", booking.as_uuid().simple()),
                    role: None,
                }],
                now,
            ));
        }
        taken.push((
            session.id.as_uuid(),
            i32::try_from(places).unwrap_or(i32::MAX),
        ));
    }
    let made = booking_rows.len();

    let txn = db.begin_write().await?;
    for chunk in booking_rows.chunks(CHUNK) {
        bookings::Entity::insert_many(chunk.to_vec())
            .exec_without_returning(&txn)
            .await?;
    }
    for chunk in attendee_rows.chunks(CHUNK) {
        attendees::Entity::insert_many(chunk.to_vec())
            .exec_without_returning(&txn)
            .await?;
    }
    // Places taken, one statement per distinct count (all sessions but the last are full).
    let mut by_count: BTreeMap<i32, Vec<uuid::Uuid>> = BTreeMap::new();
    for (id, count) in taken {
        by_count.entry(count).or_default().push(id);
    }
    for (count, ids) in by_count {
        for chunk in ids.chunks(CHUNK) {
            sessions::Entity::update_many()
                .col_expr(sessions::Column::PlacesTaken, Expr::value(count))
                .filter(sessions::Column::Id.is_in(chunk.iter().copied()))
                .exec(&txn)
                .await?;
        }
    }
    txn.commit().await?;
    Ok(SyntheticTraded {
        services: services.len(),
        sessions: scheduled.len(),
        bookings: made,
    })
}
