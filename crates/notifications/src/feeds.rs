//! Secret calendar feed URLs: each school, and each person, may have feeds of their confirmed
//! sessions (one event per session part, the same UIDs as the invitations) for a calendar
//! application to subscribe to. The URL is the only credential, as calendar applications
//! need; it is shown once, stored hashed, and revocable.

use chrono::{DateTime, Utc};
use kernel::BeginWrite as _;
use kernel::{Actor, BookingId, Clock, DomainError, ErrorCode, SchoolId, UserId};
use sea_orm::{
    ActiveModelTrait as _, ColumnTrait as _, Condition, DatabaseConnection, EntityTrait as _,
    QueryFilter as _, QueryOrder as _, Set,
};
use traded::bookings::Booking;
use traded::types::BookingStatus;
use uuid::Uuid;

use crate::entity::calendar_feeds as rows;
use crate::ics::{self, Occurrence};
use crate::secret;

/// Whose sessions a feed lists.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FeedOwner {
    /// Every confirmed booking of the school.
    School(SchoolId),
    /// The sessions the person holds a place on (booked under their email).
    User(UserId),
}

impl FeedOwner {
    fn parts(self) -> (&'static str, Uuid) {
        match self {
            Self::School(id) => ("SCHOOL", id.as_uuid()),
            Self::User(id) => ("USER", id.as_uuid()),
        }
    }
}

/// A feed, without its secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Feed {
    pub id: Uuid,
    pub owner: FeedOwner,
    pub active: bool,
    pub created_at: DateTime<Utc>,
    pub revoked_at: Option<DateTime<Utc>>,
}

impl Feed {
    fn from_row(row: &rows::Model) -> Option<Self> {
        let owner = match row.owner_kind.as_str() {
            "SCHOOL" => FeedOwner::School(SchoolId::from_uuid(row.owner_id)),
            "USER" => FeedOwner::User(UserId::from_uuid(row.owner_id)),
            _ => return None,
        };
        Some(Self {
            id: row.id,
            owner,
            active: row.active,
            created_at: row.created_at,
            revoked_at: row.revoked_at,
        })
    }
}

/// A new feed and its secret, which is shown this once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreatedFeed {
    pub feed: Feed,
    pub secret: String,
}

/// Who may hold a feed of `owner`: the person themself; for a school, its own people and
/// partnership staff. Keys do not hold feeds.
fn may_hold(actor: &Actor, owner: FeedOwner) -> bool {
    match (actor.as_user(), owner) {
        (Some(user), FeedOwner::User(id)) => user.id == id,
        (Some(_), FeedOwner::School(school)) => actor.may_see_school_records(school),
        (None, _) => false,
    }
}

fn forbidden() -> DomainError {
    DomainError::Forbidden(
        "a calendar feed is its owner's: the person, or the school's own people".to_owned(),
    )
}

pub async fn create_feed(
    db: &DatabaseConnection,
    actor: &Actor,
    clock: &dyn Clock,
    owner: FeedOwner,
) -> Result<CreatedFeed, DomainError> {
    if !may_hold(actor, owner) {
        return Err(forbidden());
    }
    let secret = secret::token();
    let (kind, id) = owner.parts();
    let txn = db.begin_write().await?;
    let row = rows::ActiveModel {
        id: Set(Uuid::now_v7()),
        owner_kind: Set(kind.to_owned()),
        owner_id: Set(id),
        token_hash: Set(secret::hash(&secret)),
        active: Set(true),
        created_at: Set(clock.now()),
        revoked_at: Set(None),
    }
    .insert(&txn)
    .await?;
    txn.commit().await?;
    let feed = Feed::from_row(&row).ok_or(DomainError::NotFound { entity: "feed" })?;
    Ok(CreatedFeed { feed, secret })
}

/// Revokes a feed: its URL stops working at once.
pub async fn revoke_feed(
    db: &DatabaseConnection,
    actor: &Actor,
    clock: &dyn Clock,
    id: Uuid,
) -> Result<Feed, DomainError> {
    let not_found = || DomainError::invalid("id", ErrorCode::NotFound, "no such calendar feed");
    let row = rows::Entity::find_by_id(id)
        .one(db)
        .await?
        .ok_or_else(not_found)?;
    let feed = Feed::from_row(&row).ok_or_else(not_found)?;
    if !may_hold(actor, feed.owner) {
        return Err(not_found());
    }
    let mut active: rows::ActiveModel = row.into();
    active.active = Set(false);
    active.revoked_at = Set(Some(clock.now()));
    let txn = db.begin_write().await?;
    let row = active.update(&txn).await?;
    txn.commit().await?;
    Feed::from_row(&row).ok_or_else(not_found)
}

/// The caller's own feeds and those of the schools they act for, newest first.
pub async fn feeds_of(db: &DatabaseConnection, actor: &Actor) -> Result<Vec<Feed>, DomainError> {
    let Some(user) = actor.as_user() else {
        return Ok(Vec::new());
    };
    let mut owners = Condition::any().add(
        Condition::all()
            .add(rows::Column::OwnerKind.eq("USER"))
            .add(rows::Column::OwnerId.eq(user.id.as_uuid())),
    );
    if !user.schools.is_empty() {
        owners = owners.add(
            Condition::all()
                .add(rows::Column::OwnerKind.eq("SCHOOL"))
                .add(rows::Column::OwnerId.is_in(user.schools.iter().map(SchoolId::as_uuid))),
        );
    }
    Ok(rows::Entity::find()
        .filter(owners)
        .order_by_desc(rows::Column::Id)
        .all(db)
        .await?
        .into_iter()
        .filter_map(|row| Feed::from_row(&row))
        .collect())
}

/// The calendar of the active feed whose secret this is, or `None` (unknown or revoked —
/// the same answer either way).
pub async fn render(
    db: &DatabaseConnection,
    secret: &str,
    stamp: DateTime<Utc>,
) -> Result<Option<String>, DomainError> {
    if secret.is_empty() || secret.len() > 64 {
        return Ok(None);
    }
    let Some(feed) = rows::Entity::find()
        .filter(rows::Column::TokenHash.eq(secret::hash(secret)))
        .filter(rows::Column::Active.eq(true))
        .one(db)
        .await?
        .and_then(|row| Feed::from_row(&row))
    else {
        return Ok(None);
    };
    let (name, bookings) = match feed.owner {
        FeedOwner::School(school) => {
            let name = membership::school::names_by_ids(db, &[school])
                .await?
                .remove(&school)
                .unwrap_or_default();
            let bookings = traded::bookings::bookings_of_schools(db, &[school])
                .await?
                .remove(&school)
                .unwrap_or_default();
            (format!("{name}: training and events"), bookings)
        }
        FeedOwner::User(user) => {
            let Some(person) = membership::people::users::by_ids(db, &[user])
                .await?
                .remove(&user)
            else {
                return Ok(None);
            };
            let bookings = traded::bookings::bookings_of_attendee_email(db, &person.email)
                .await?
                .into_iter()
                .map(|(b, _)| b)
                .collect();
            (format!("{}: training and events", person.name), bookings)
        }
    };
    let confirmed: Vec<Booking> = bookings
        .into_iter()
        .filter(|b| matches!(b.status, BookingStatus::Confirmed | BookingStatus::Attended))
        .collect();
    let occurrences = occurrences(db, &confirmed).await?;
    Ok(Some(ics::feed(&name, &occurrences, stamp)))
}

async fn occurrences(
    db: &DatabaseConnection,
    bookings: &[Booking],
) -> Result<Vec<Occurrence>, DomainError> {
    let session_ids: Vec<_> = bookings.iter().map(|b| b.session_id).collect();
    let service_ids: Vec<_> = bookings.iter().map(|b| b.service_id).collect();
    let sessions = traded::sessions::sessions_by_ids(db, &session_ids).await?;
    let services = traded::catalogue::services_by_ids(db, &service_ids).await?;
    let mut out = Vec::new();
    for booking in bookings {
        let (Some(session), Some(service)) = (
            sessions.get(&booking.session_id),
            services.get(&booking.service_id),
        ) else {
            continue;
        };
        let count = session.parts.len();
        for (i, part) in session.parts.iter().enumerate() {
            out.push(Occurrence {
                booking: BookingId::from_uuid(booking.id.as_uuid()),
                part: i + 1,
                title: if count > 1 {
                    format!("{} (part {} of {count})", service.title, i + 1)
                } else {
                    service.title.clone()
                },
                starts_at: part.starts_at,
                ends_at: part.ends_at,
                location: part.venue.clone().or_else(|| part.online_url.clone()),
                description: format!("{}, provided by {}.", service.title, service.provider_name),
            });
        }
    }
    out.sort_by_key(|o| o.starts_at);
    Ok(out)
}
