//! Turning pending outbox events into stored messages.
//!
//! Events are taken oldest first, their messages composed (reads only), and then — in one
//! transaction — every message is inserted and the events marked handled. A message is
//! unique per (event, recipient address), so a fan-out that runs twice (two replicas at once,
//! or a process killed between insert and commit) cannot make a second copy.

use std::collections::HashSet;

use kernel::BeginWrite as _;
use kernel::{Clock, DomainError};
use sea_orm::sea_query::{Expr, OnConflict};
use sea_orm::{
    ColumnTrait as _, DatabaseConnection, EntityTrait as _, QueryFilter as _, QueryOrder as _,
    QuerySelect as _, Set,
};
use uuid::Uuid;

use crate::compose::{Event, MessageSettings, compose};
use crate::entity::{domain_events, notification_mutes, notifications};
use crate::model::{DeliveryStatus, Draft};

/// Rows per INSERT: well under SQLite's bound on statement parameters.
const INSERT_CHUNK: usize = 200;

/// What one pass did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FanOut {
    /// Events handled.
    pub events: usize,
    /// Messages stored (copies refused by the unique key not counted).
    pub messages: u64,
}

/// Handles up to `batch` pending events.
pub async fn fan_out(
    db: &DatabaseConnection,
    clock: &dyn Clock,
    settings: &MessageSettings,
    batch: u64,
) -> Result<FanOut, DomainError> {
    let rows = domain_events::Entity::find()
        .filter(domain_events::Column::HandledAt.is_null())
        .order_by_asc(domain_events::Column::Id)
        .limit(batch)
        .all(db)
        .await?;
    if rows.is_empty() {
        return Ok(FanOut::default());
    }
    let events: Vec<Event> = rows.into_iter().map(Event::from).collect();
    let drafts = compose(db, settings, &events).await?;
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
    txn.commit().await?;
    Ok(FanOut {
        events: events.len(),
        messages,
    })
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
