//! Sessions: one scheduled run of a service, in one or more parts (a three-day course is one
//! session of three parts, and one booking covers them all), with its capacity, booking
//! deadline, cancellation policy and how long a freed place is held for the waiting list.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use kernel::BeginWrite as _;
use kernel::{
    AcademicYear, Actor, Clock, DomainError, ErrorCode, Permission, Problems, ServiceId, SessionId,
};
use membership::{NameKey, Page, PageArgs, fetch_page, fetch_page_with_related};
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait, QueryFilter,
    QueryOrder, Set,
};
use serde::{Deserialize, Serialize};

use crate::catalogue::{Service, ServiceFilter, filtered};
use crate::entity::{services, sessions};
use crate::policy::CancellationPolicy;
use crate::support::{optional_text, stored, to_i32, to_u32};
use crate::types::{Delivery, SessionStatus};
use crate::visibility::rules::may_see_service;

const LABEL_MAX: usize = 200;
const VENUE_MAX: usize = 300;
const URL_MAX: usize = 500;
const MAX_PARTS: usize = 20;
const MAX_CAPACITY: u32 = 10_000;
/// How long a freed place is held for a waiting-list entry unless the session says otherwise.
pub const DEFAULT_WAITLIST_OFFER_HOURS: u32 = 48;
const MAX_WAITLIST_OFFER_HOURS: u32 = 14 * 24;

/// The keyset sort key of session lists: by start, then id.
pub type SessionKey = (DateTime<Utc>, uuid::Uuid);

/// One part of a session: a day (or half-day) of a course, an online twilight.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionPart {
    pub starts_at: DateTime<Utc>,
    pub ends_at: DateTime<Utc>,
    /// Where, for sessions delivered in person.
    pub venue: Option<String>,
    /// The joining link, for sessions delivered online.
    pub online_url: Option<String>,
}

impl SessionPart {
    /// Length in whole minutes (certificates state the hours of learning).
    #[must_use]
    pub fn minutes(&self) -> i64 {
        (self.ends_at - self.starts_at).num_minutes()
    }
}

/// A scheduled run of a service.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Session {
    pub id: SessionId,
    pub service_id: ServiceId,
    /// The academic year of the first part: it decides member pricing and the allowance used.
    pub academic_year: AcademicYear,
    pub label: Option<String>,
    /// In date order, at least one.
    pub parts: Vec<SessionPart>,
    /// The first part's start.
    pub starts_at: DateTime<Utc>,
    /// The last part's end.
    pub ends_at: DateTime<Utc>,
    pub capacity: u32,
    /// Places held by confirmed bookings, bookings awaiting card payment and waiting-list
    /// offers.
    pub places_taken: u32,
    pub booking_deadline: DateTime<Utc>,
    pub policy: CancellationPolicy,
    /// How long a freed place is held for the waiting-list entry it is offered to.
    pub waitlist_offer_hours: u32,
    pub status: SessionStatus,
    pub cancelled_at: Option<DateTime<Utc>>,
    pub cancelled_reason: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl Session {
    #[must_use]
    pub fn places_left(&self) -> u32 {
        self.capacity.saturating_sub(self.places_taken)
    }

    #[must_use]
    pub fn has_started(&self, now: DateTime<Utc>) -> bool {
        now >= self.starts_at
    }

    /// Whether a booking may still be made at `now`.
    #[must_use]
    pub fn is_bookable(&self, now: DateTime<Utc>) -> bool {
        self.status == SessionStatus::Scheduled && now <= self.booking_deadline
    }

    /// Total length of the parts in minutes.
    #[must_use]
    pub fn minutes(&self) -> i64 {
        self.parts.iter().map(SessionPart::minutes).sum()
    }

    /// The keyset sort key of session lists.
    #[must_use]
    pub fn sort_key(&self) -> SessionKey {
        (self.starts_at, self.id.as_uuid())
    }

    pub(crate) fn from_row(row: sessions::Model) -> Result<Self, DomainError> {
        let parts: Vec<SessionPart> =
            serde_json::from_str(&row.parts).map_err(DomainError::internal)?;
        Ok(Self {
            id: SessionId::from_uuid(row.id),
            service_id: ServiceId::from_uuid(row.service_id),
            academic_year: AcademicYear::starting(row.academic_year)
                .map_err(DomainError::internal)?,
            label: row.label,
            parts,
            starts_at: row.starts_at,
            ends_at: row.ends_at,
            capacity: to_u32(row.capacity),
            places_taken: to_u32(row.places_taken),
            booking_deadline: row.booking_deadline,
            policy: CancellationPolicy {
                free_until_days: to_u32(row.free_cancellation_days),
                late_fee_percent: to_u32(row.late_fee_percent),
                no_refund_within_days: to_u32(row.no_refund_days),
            },
            waitlist_offer_hours: to_u32(row.waitlist_offer_hours),
            status: stored("session status", &row.status)?,
            cancelled_at: row.cancelled_at,
            cancelled_reason: row.cancelled_reason,
            created_at: row.created_at,
            updated_at: row.updated_at,
        })
    }
}

/// A session to schedule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewSession {
    pub service_id: ServiceId,
    pub label: Option<String>,
    pub parts: Vec<SessionPart>,
    /// 1 for a consultancy day in one school.
    pub capacity: u32,
    /// At or before the first part's start.
    pub booking_deadline: DateTime<Utc>,
    pub policy: CancellationPolicy,
    /// `None`: [`DEFAULT_WAITLIST_OFFER_HOURS`].
    pub waitlist_offer_hours: Option<u32>,
}

/// Changes to a scheduled session; `None` leaves a field as it is.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SessionPatch {
    pub label: Option<Option<String>>,
    pub parts: Option<Vec<SessionPart>>,
    /// Never below the places already held.
    pub capacity: Option<u32>,
    pub booking_deadline: Option<DateTime<Utc>>,
    /// Applies to cancellations from now on.
    pub policy: Option<CancellationPolicy>,
    pub waitlist_offer_hours: Option<u32>,
}

/// Checks parts against the service's delivery; returns them in date order.
fn check_parts(
    problems: &mut Problems,
    parts: &[SessionPart],
    delivery: Delivery,
    now: DateTime<Utc>,
) -> Vec<SessionPart> {
    if parts.is_empty() {
        problems.add(
            "parts",
            ErrorCode::Required,
            "a session needs at least one part",
        );
    }
    if parts.len() > MAX_PARTS {
        problems.add(
            "parts",
            ErrorCode::OutOfRange,
            format!("at most {MAX_PARTS} parts"),
        );
    }
    let mut out = Vec::new();
    for (i, part) in parts.iter().enumerate() {
        let f = |name: &str| format!("parts.{i}.{name}");
        if part.ends_at <= part.starts_at {
            problems.add(
                &f("endsAt"),
                ErrorCode::OutOfRange,
                "must be after the start",
            );
        }
        if part.starts_at <= now {
            problems.add(
                &f("startsAt"),
                ErrorCode::OutOfRange,
                "must be in the future",
            );
        }
        problems.check(kernel::dates::instant_in_window(
            &f("startsAt"),
            part.starts_at,
        ));
        problems.check(kernel::dates::instant_in_window(&f("endsAt"), part.ends_at));
        let venue = problems.check(optional_text(&f("venue"), part.venue.as_deref(), VENUE_MAX));
        let url = problems.check(optional_text(
            &f("onlineUrl"),
            part.online_url.as_deref(),
            URL_MAX,
        ));
        if let Some(Some(u)) = &url
            && !u.starts_with("https://")
        {
            problems.add(
                &f("onlineUrl"),
                ErrorCode::Invalid,
                "must be an https:// link",
            );
        }
        match delivery {
            Delivery::InPerson if venue.as_ref().is_some_and(Option::is_none) => {
                problems.add(
                    &f("venue"),
                    ErrorCode::Required,
                    "an in-person session needs a venue",
                );
            }
            Delivery::Online if url.as_ref().is_some_and(Option::is_none) => problems.add(
                &f("onlineUrl"),
                ErrorCode::Required,
                "an online session needs its joining link",
            ),
            _ => {}
        }
        if let (Some(venue), Some(online_url)) = (venue, url) {
            out.push(SessionPart {
                starts_at: part.starts_at,
                ends_at: part.ends_at,
                venue,
                online_url,
            });
        }
    }
    out.sort_by_key(|p| p.starts_at);
    if out
        .windows(2)
        .any(|pair| pair[1].starts_at < pair[0].ends_at)
    {
        problems.add("parts", ErrorCode::Conflict, "parts must not overlap");
    }
    out
}

fn check_capacity(problems: &mut Problems, capacity: u32) {
    if !(1..=MAX_CAPACITY).contains(&capacity) {
        problems.add(
            "capacity",
            ErrorCode::OutOfRange,
            format!("must be between 1 and {MAX_CAPACITY}"),
        );
    }
}

fn check_offer_hours(problems: &mut Problems, hours: u32) {
    if !(1..=MAX_WAITLIST_OFFER_HOURS).contains(&hours) {
        problems.add(
            "waitlistOfferHours",
            ErrorCode::OutOfRange,
            format!("must be between 1 and {MAX_WAITLIST_OFFER_HOURS}"),
        );
    }
}

fn check_deadline(
    problems: &mut Problems,
    deadline: DateTime<Utc>,
    first_start: Option<DateTime<Utc>>,
) {
    problems.check(kernel::dates::instant_in_window(
        "bookingDeadline",
        deadline,
    ));
    if let Some(start) = first_start
        && deadline > start
    {
        problems.add(
            "bookingDeadline",
            ErrorCode::OutOfRange,
            "must be at or before the start of the first part",
        );
    }
}

async fn service_row<C: ConnectionTrait>(
    db: &C,
    id: ServiceId,
) -> Result<Option<Service>, DomainError> {
    services::Entity::find_by_id(id.as_uuid())
        .one(db)
        .await?
        .map(Service::from_row)
        .transpose()
}

/// Schedules a session of a service. Partnership admins.
pub async fn create_session(
    db: &DatabaseConnection,
    actor: &Actor,
    clock: &dyn Clock,
    input: NewSession,
) -> Result<Session, DomainError> {
    actor.require(Permission::ManageCatalogue)?;
    let now = clock.now();
    let mut problems = Problems::new();
    let service = service_row(db, input.service_id).await?;
    if service.is_none() {
        problems.add("serviceId", ErrorCode::NotFound, "no such service");
    }
    let delivery = service.as_ref().map_or(Delivery::InSchool, |s| s.delivery);
    let parts = check_parts(&mut problems, &input.parts, delivery, now);
    let label = problems.check(optional_text("label", input.label.as_deref(), LABEL_MAX));
    check_capacity(&mut problems, input.capacity);
    let hours = input
        .waitlist_offer_hours
        .unwrap_or(DEFAULT_WAITLIST_OFFER_HOURS);
    check_offer_hours(&mut problems, hours);
    problems.check(input.policy.check("policy"));
    check_deadline(
        &mut problems,
        input.booking_deadline,
        parts.first().map(|p| p.starts_at),
    );
    let (label, first, last) = problems.finish_with((label, parts.first(), parts.last()))?;

    let row = sessions::ActiveModel {
        id: Set(SessionId::new().as_uuid()),
        service_id: Set(input.service_id.as_uuid()),
        academic_year: Set(AcademicYear::containing(first.starts_at.date_naive()).start_year()),
        label: Set(label),
        parts: Set(serde_json::to_string(&parts).map_err(DomainError::internal)?),
        starts_at: Set(first.starts_at),
        ends_at: Set(last.ends_at),
        capacity: Set(to_i32(input.capacity)),
        places_taken: Set(0),
        booking_deadline: Set(input.booking_deadline),
        free_cancellation_days: Set(to_i32(input.policy.free_until_days)),
        late_fee_percent: Set(to_i32(input.policy.late_fee_percent)),
        no_refund_days: Set(to_i32(input.policy.no_refund_within_days)),
        waitlist_offer_hours: Set(to_i32(hours)),
        status: Set(SessionStatus::Scheduled.as_str().to_owned()),
        cancelled_at: Set(None),
        cancelled_reason: Set(None),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(db)
    .await?;
    Session::from_row(row)
}

pub(crate) async fn load_row<C: ConnectionTrait>(
    db: &C,
    id: SessionId,
) -> Result<Option<sessions::Model>, DomainError> {
    Ok(sessions::Entity::find_by_id(id.as_uuid()).one(db).await?)
}

/// Changes a scheduled session. Partnership admins. Capacity never drops below the places
/// held (a conditional update, so a booking committing meanwhile is never squeezed out);
/// places added go to the waiting list first.
pub async fn update_session(
    db: &DatabaseConnection,
    actor: &Actor,
    clock: &dyn Clock,
    id: SessionId,
    patch: SessionPatch,
) -> Result<Session, DomainError> {
    actor.require(Permission::ManageCatalogue)?;
    let now = clock.now();
    let current = load_row(db, id)
        .await?
        .map(Session::from_row)
        .transpose()?
        .ok_or(DomainError::NotFound {
            entity: "TradedSession",
        })?;
    let mut problems = Problems::new();
    if current.status == SessionStatus::Cancelled {
        problems.add("sessionId", ErrorCode::Conflict, "the session is cancelled");
    }
    if current.has_started(now) {
        problems.add("sessionId", ErrorCode::Conflict, "the session has started");
    }
    let service = service_row(db, current.service_id)
        .await?
        .ok_or(DomainError::NotFound {
            entity: "TradedService",
        })?;
    let parts = patch
        .parts
        .as_ref()
        .map(|p| check_parts(&mut problems, p, service.delivery, now));
    let label = patch
        .label
        .as_ref()
        .map(|l| problems.check(optional_text("label", l.as_deref(), LABEL_MAX)));
    if let Some(c) = patch.capacity {
        check_capacity(&mut problems, c);
        if c < current.places_taken {
            problems.add(
                "capacity",
                ErrorCode::Conflict,
                format!("{} places are already held", current.places_taken),
            );
        }
    }
    if let Some(h) = patch.waitlist_offer_hours {
        check_offer_hours(&mut problems, h);
    }
    if let Some(policy) = &patch.policy {
        problems.check(policy.check("policy"));
    }
    let first_start = parts
        .as_ref()
        .map_or(Some(current.starts_at), |p| p.first().map(|p| p.starts_at));
    check_deadline(
        &mut problems,
        patch.booking_deadline.unwrap_or(current.booking_deadline),
        first_start,
    );
    problems.finish()?;

    let txn = db.begin_write().await?;
    if let Some(capacity) = patch.capacity {
        let changed = sessions::Entity::update_many()
            .col_expr(sessions::Column::Capacity, Expr::value(to_i32(capacity)))
            .filter(sessions::Column::Id.eq(id.as_uuid()))
            .filter(Expr::col(sessions::Column::PlacesTaken).lte(to_i32(capacity)))
            .exec(&txn)
            .await?;
        if changed.rows_affected == 0 {
            return Err(DomainError::invalid(
                "capacity",
                ErrorCode::Conflict,
                "more places are now held than that",
            ));
        }
    }
    let mut row: sessions::ActiveModel = load_row(&txn, id)
        .await?
        .ok_or(DomainError::NotFound {
            entity: "TradedSession",
        })?
        .into();
    if let Some(Some(label)) = label {
        row.label = Set(label);
    }
    if let Some(parts) = &parts
        && let (Some(first), Some(last)) = (parts.first(), parts.last())
    {
        row.academic_year =
            Set(AcademicYear::containing(first.starts_at.date_naive()).start_year());
        row.starts_at = Set(first.starts_at);
        row.ends_at = Set(last.ends_at);
        row.parts = Set(serde_json::to_string(parts).map_err(DomainError::internal)?);
    }
    if let Some(deadline) = patch.booking_deadline {
        row.booking_deadline = Set(deadline);
    }
    if let Some(policy) = patch.policy {
        row.free_cancellation_days = Set(to_i32(policy.free_until_days));
        row.late_fee_percent = Set(to_i32(policy.late_fee_percent));
        row.no_refund_days = Set(to_i32(policy.no_refund_within_days));
    }
    if let Some(hours) = patch.waitlist_offer_hours {
        row.waitlist_offer_hours = Set(to_i32(hours));
    }
    row.updated_at = Set(now);
    row.update(&txn).await?;
    crate::places::offer_free_places(&txn, clock, id, now).await?;
    txn.commit().await?;
    load_row(db, id)
        .await?
        .map(Session::from_row)
        .transpose()?
        .ok_or(DomainError::NotFound {
            entity: "TradedSession",
        })
}

/// One session, if the actor may see its service.
pub async fn session(
    db: &DatabaseConnection,
    actor: &Actor,
    id: SessionId,
) -> Result<Session, DomainError> {
    actor.require(Permission::ReadCatalogue)?;
    let not_found = || DomainError::NotFound {
        entity: "TradedSession",
    };
    let session = load_row(db, id)
        .await?
        .map(Session::from_row)
        .transpose()?
        .ok_or_else(not_found)?;
    let service = service_row(db, session.service_id)
        .await?
        .ok_or_else(not_found)?;
    if may_see_service(actor, service.published) {
        Ok(session)
    } else {
        Err(not_found())
    }
}

/// Sessions by id, unchecked (one statement): for edges from a record the caller was shown;
/// [`crate::visible_sessions`] is the read that answers only what the caller may see.
pub async fn sessions_by_ids<C: ConnectionTrait>(
    db: &C,
    ids: &[SessionId],
) -> Result<HashMap<SessionId, Session>, DomainError> {
    sessions::Entity::find()
        .filter(sessions::Column::Id.is_in(ids.iter().map(SessionId::as_uuid)))
        .all(db)
        .await?
        .into_iter()
        .map(|row| Session::from_row(row).map(|s| (s.id, s)))
        .collect()
}

/// Each service's sessions in date order (one statement).
pub async fn sessions_of_services<C: ConnectionTrait>(
    db: &C,
    ids: &[ServiceId],
) -> Result<HashMap<ServiceId, Vec<Session>>, DomainError> {
    let rows = sessions::Entity::find()
        .filter(sessions::Column::ServiceId.is_in(ids.iter().map(ServiceId::as_uuid)))
        .order_by_asc(sessions::Column::StartsAt)
        .order_by_asc(sessions::Column::Id)
        .all(db)
        .await?;
    let mut out: HashMap<ServiceId, Vec<Session>> = HashMap::new();
    for row in rows {
        let session = Session::from_row(row)?;
        out.entry(session.service_id).or_default().push(session);
    }
    Ok(out)
}

/// [`crate::services`] with each service's sessions, every status, in date order: the page a
/// catalogue that lists the dates shows, in one statement rather than a page and a batch
/// of sessions.
pub async fn services_with_sessions(
    db: &DatabaseConnection,
    actor: &Actor,
    clock: &dyn Clock,
    filter: &ServiceFilter,
    page: &PageArgs<NameKey>,
) -> Result<Page<(Service, Vec<Session>)>, DomainError> {
    actor.require(Permission::ReadCatalogue)?;
    let select = services::Entity::find().filter(filtered(actor, filter, clock.now())?);
    fetch_page_with_related(
        db,
        select,
        (services::Column::Title, services::Column::Id),
        page,
        sessions::Entity,
        &[sessions::Column::StartsAt, sessions::Column::Id],
    )
    .await?
    .try_map(|(service, sessions)| {
        Ok((
            Service::from_row(service)?,
            sessions
                .into_iter()
                .map(Session::from_row)
                .collect::<Result<_, _>>()?,
        ))
    })
}

/// Narrows session lists.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SessionFilter {
    pub service_id: Option<ServiceId>,
    /// Sessions starting at or after this moment (e.g. now, for "upcoming").
    pub starts_from: Option<DateTime<Utc>>,
    pub starts_before: Option<DateTime<Utc>>,
    /// Cancelled sessions too.
    pub include_cancelled: bool,
}

/// One page of sessions by start, of published services (all services for those who manage
/// the catalogue).
pub async fn sessions_page(
    db: &DatabaseConnection,
    actor: &Actor,
    filter: &SessionFilter,
    page: &PageArgs<SessionKey>,
) -> Result<Page<Session>, DomainError> {
    actor.require(Permission::ReadCatalogue)?;
    let mut select = sessions::Entity::find();
    if !actor.can(Permission::ManageCatalogue) {
        let published = sea_orm::sea_query::Query::select()
            .column(services::Column::Id)
            .from(services::Entity)
            .and_where(services::Column::Published.eq(true))
            .to_owned();
        select = select.filter(sessions::Column::ServiceId.in_subquery(published));
    }
    if let Some(service) = filter.service_id {
        select = select.filter(sessions::Column::ServiceId.eq(service.as_uuid()));
    }
    if let Some(from) = filter.starts_from {
        select = select.filter(sessions::Column::StartsAt.gte(from));
    }
    if let Some(before) = filter.starts_before {
        select = select.filter(sessions::Column::StartsAt.lt(before));
    }
    if !filter.include_cancelled {
        select = select.filter(sessions::Column::Status.eq(SessionStatus::Scheduled.as_str()));
    }
    let rows = fetch_page(
        db,
        select,
        sessions::Column::StartsAt,
        sessions::Column::Id,
        page,
    )
    .await?;
    Ok(Page {
        items: rows
            .items
            .into_iter()
            .map(Session::from_row)
            .collect::<Result<_, _>>()?,
        has_next_page: rows.has_next_page,
        has_previous_page: rows.has_previous_page,
    })
}
