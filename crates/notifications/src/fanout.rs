//! Turning pending outbox events into stored messages.
//!
//! Events are taken oldest first, their messages composed (reads only), and then — in one
//! transaction — every message is inserted and the events marked handled. A message is
//! unique per (event, recipient address), so a fan-out that runs twice (two replicas at once,
//! or a process killed between insert and commit) cannot make a second copy.
//!
//! One event whose messages cannot be made (a row that no longer reads, a template fault)
//! must not hold up every event behind it: when a batch fails, its events are composed one
//! by one, and each that fails alone is set aside — tried again after the delivery backoff,
//! and after [`EVENT_MAX_ATTEMPTS`] marked handled with its error kept and logged.

use std::collections::{HashMap, HashSet};

use kernel::BeginWrite as _;
use kernel::{Clock, DomainError};
use sea_orm::sea_query::{Expr, OnConflict};
use sea_orm::{
    ColumnTrait as _, DatabaseConnection, EntityTrait as _, QueryFilter as _, QueryOrder as _,
    QuerySelect as _, Set,
};
use uuid::Uuid;

use crate::compose::{Event, MessageSettings, compose};
use crate::delivery::DeliveryPolicy;
use crate::entity::{domain_events, notification_mutes, notifications};
use crate::model::{DeliveryStatus, Draft};

/// Rows per INSERT: well under SQLite's bound on statement parameters.
const INSERT_CHUNK: usize = 200;

/// Passes that may fail to make an event's messages before it is given up. With the
/// delivery backoff (30 s doubling, at most 6 h) that is about a day of retries, long
/// enough to outlast a bad deploy.
pub const EVENT_MAX_ATTEMPTS: i32 = 10;

/// What one pass did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FanOut {
    /// Events handled.
    pub events: usize,
    /// Messages stored (copies refused by the unique key not counted).
    pub messages: u64,
    /// Events whose messages could not be made, set aside to be tried again later.
    pub set_aside: usize,
    /// Events left to wait a little (an invoice email for its payment link), looked at
    /// again after [`WAIT_POLL`].
    pub waiting: usize,
}

/// How soon an event left waiting is looked at again.
pub const WAIT_POLL: chrono::Duration = chrono::Duration::seconds(30);

/// Handles up to `batch` pending events.
pub async fn fan_out(
    db: &DatabaseConnection,
    clock: &dyn Clock,
    settings: &MessageSettings,
    batch: u64,
) -> Result<FanOut, DomainError> {
    let rows = domain_events::Entity::find()
        .filter(domain_events::Column::HandledAt.is_null())
        .filter(
            sea_orm::Condition::any()
                .add(domain_events::Column::RetryAt.is_null())
                .add(domain_events::Column::RetryAt.lte(clock.now())),
        )
        .order_by_asc(domain_events::Column::Id)
        .limit(batch)
        .all(db)
        .await?;
    if rows.is_empty() {
        return Ok(FanOut::default());
    }
    let fetched = rows.len();
    let (events, drafts, waiting) = compose_isolating(db, clock, settings, rows).await?;
    let users: Vec<Uuid> = drafts
        .values()
        .flatten()
        .filter_map(|d| d.recipient.user_id.map(|u| u.as_uuid()))
        .collect();
    let muted: HashSet<(Uuid, String)> = notification_mutes::Entity::find()
        .filter(notification_mutes::Column::UserId.is_in(users))
        .all(db)
        .await?
        .into_iter()
        .map(|m| (m.user_id, m.category))
        .collect();

    let now = clock.now();
    let rows: Vec<notifications::ActiveModel> = events
        .iter()
        .flat_map(|event| {
            drafts
                .get(&event.id)
                .into_iter()
                .flatten()
                .map(move |draft| (event.id, draft))
        })
        .map(|(event, draft)| {
            let is_muted = draft.category.mutable()
                && draft.recipient.user_id.is_some_and(|u| {
                    muted.contains(&(u.as_uuid(), draft.category.as_str().to_owned()))
                });
            row(&event.to_string(), draft, is_muted, now)
        })
        .collect();

    let txn = db.begin_write().await?;
    let mut messages = 0;
    for chunk in rows.chunks(INSERT_CHUNK) {
        messages += notifications::Entity::insert_many(chunk.to_vec())
            .on_conflict(
                OnConflict::columns([
                    notifications::Column::DedupeKey,
                    notifications::Column::RecipientEmail,
                ])
                .do_nothing()
                .to_owned(),
            )
            .exec_without_returning(&txn)
            .await?;
    }
    domain_events::Entity::update_many()
        .col_expr(domain_events::Column::HandledAt, Expr::value(now))
        .filter(domain_events::Column::Id.is_in(events.iter().map(|e| e.id)))
        .filter(domain_events::Column::HandledAt.is_null())
        .exec(&txn)
        .await?;
    if !waiting.is_empty() {
        domain_events::Entity::update_many()
            .col_expr(domain_events::Column::RetryAt, Expr::value(now + WAIT_POLL))
            .filter(domain_events::Column::Id.is_in(waiting.iter().copied()))
            .filter(domain_events::Column::HandledAt.is_null())
            .exec(&txn)
            .await?;
    }
    txn.commit().await?;
    Ok(FanOut {
        events: events.len(),
        messages,
        set_aside: fetched - events.len() - waiting.len(),
        waiting: waiting.len(),
    })
}

/// The events handled now, their drafts, and the events left waiting.
type Outcome = (Vec<Event>, HashMap<Uuid, Vec<Draft>>, HashSet<Uuid>);

/// Composes a batch; when that fails, each event alone, setting aside those that fail alone.
/// Returns the events that composed, with their drafts, and those that wait.
async fn compose_isolating(
    db: &DatabaseConnection,
    clock: &dyn Clock,
    settings: &MessageSettings,
    rows: Vec<domain_events::Model>,
) -> Result<Outcome, DomainError> {
    let mut events: Vec<Event> = rows.into_iter().map(Event::from).collect();
    let (now, today) = (clock.now(), clock.today());
    let batch_error = match compose(db, settings, &events, now, today).await {
        Ok(made) => {
            events.retain(|e| !made.waiting.contains(&e.id));
            return Ok((events, made.drafts, made.waiting));
        }
        Err(err) => err,
    };
    tracing::warn!(error = %batch_error.chain(), events = events.len(), "making a batch of messages failed; trying its events one by one");
    let mut kept = Vec::with_capacity(events.len());
    let mut drafts = HashMap::new();
    let mut waiting = HashSet::new();
    for event in events {
        match compose(db, settings, std::slice::from_ref(&event), now, today).await {
            Ok(made) if made.waiting.contains(&event.id) => {
                waiting.insert(event.id);
            }
            Ok(made) => {
                drafts.extend(made.drafts);
                kept.push(event);
            }
            Err(err) => set_aside(db, clock, &event, &err).await?,
        }
    }
    Ok((kept, drafts, waiting))
}

/// Counts a failed attempt at `event`'s messages: tried again after the backoff, or given up
/// (handled, with its error kept) after [`EVENT_MAX_ATTEMPTS`].
async fn set_aside(
    db: &DatabaseConnection,
    clock: &dyn Clock,
    event: &Event,
    err: &DomainError,
) -> Result<(), DomainError> {
    let attempts = event.attempts.saturating_add(1);
    let now = clock.now();
    let give_up = attempts >= EVENT_MAX_ATTEMPTS;
    let backoff = DeliveryPolicy::default().backoff(u32::try_from(attempts).unwrap_or(u32::MAX));
    let retry_at = now + chrono::Duration::from_std(backoff).unwrap_or(chrono::Duration::MAX);
    if give_up {
        tracing::error!(event = %event.id, kind = %event.stored_kind, attempts, error = %err.chain(), "gave up making the messages of an outbox event");
    } else {
        tracing::warn!(event = %event.id, kind = %event.stored_kind, attempts, %retry_at, error = %err.chain(), "could not make the messages of an outbox event; it will be tried again");
    }
    domain_events::Entity::update_many()
        .col_expr(domain_events::Column::Attempts, Expr::value(attempts))
        .col_expr(domain_events::Column::LastError, Expr::value(err.chain()))
        .col_expr(domain_events::Column::RetryAt, Expr::value(retry_at))
        .col_expr(
            domain_events::Column::HandledAt,
            Expr::value(give_up.then_some(now)),
        )
        .filter(domain_events::Column::Id.eq(event.id))
        .filter(domain_events::Column::HandledAt.is_null())
        .exec(db)
        .await?;
    Ok(())
}

/// A draft as a row, keyed by `dedupe_key` (an event id, or a reminder's own key).
pub(crate) fn row(
    dedupe_key: &str,
    draft: &Draft,
    muted: bool,
    now: chrono::DateTime<chrono::Utc>,
) -> notifications::ActiveModel {
    notifications::ActiveModel {
        id: Set(Uuid::now_v7()),
        dedupe_key: Set(dedupe_key.to_owned()),
        kind: Set(draft.kind.to_owned()),
        category: Set(draft.category.as_str().to_owned()),
        user_id: Set(draft.recipient.user_id.map(|u| u.as_uuid())),
        school_id: Set(draft.school_id.map(|s| s.as_uuid())),
        recipient_email: Set(draft.recipient.email.clone()),
        recipient_name: Set(draft.recipient.name.clone()),
        subject: Set(draft.subject.clone()),
        text_body: Set(draft.text.clone()),
        html_body: Set(draft.html.clone()),
        ics: Set(draft.ics.clone()),
        attachment_name: Set(draft.attachment.as_ref().map(|a| a.name.clone())),
        attachment_type: Set(draft.attachment.as_ref().map(|a| a.content_type.clone())),
        attachment: Set(draft.attachment.as_ref().map(|a| a.bytes.clone())),
        unsubscribe_token: Set(draft.unsubscribe_token.clone()),
        status: Set(if muted {
            DeliveryStatus::Muted
        } else {
            DeliveryStatus::Pending
        }
        .as_str()
        .to_owned()),
        attempts: Set(0),
        next_attempt_at: Set(now),
        claimed_until: Set(None),
        claim_token: Set(None),
        last_error: Set(None),
        sent_at: Set(None),
        read_at: Set(None),
        created_at: Set(now),
    }
}
