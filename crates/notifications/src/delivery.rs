//! Sending stored messages: claimed in the database, so each is sent by one worker of one
//! replica; retried with exponential backoff; dead-lettered with the reason after a
//! permanent refusal or too many attempts.
//!
//! A claim is a lease (`claimed_until`), not a lock held across the send: a worker killed
//! mid-batch leaves its claims to lapse, and the next worker sends what it had not marked.
//! The only message that can go twice is one whose "250 OK" arrived just before the kill; it
//! carries the same Message-ID both times.

use std::time::Duration;

use chrono::{DateTime, Utc};
use kernel::{Clock, DomainError};
use sea_orm::sea_query::{Expr, Query};
use sea_orm::{
    ColumnTrait as _, Condition, DatabaseConnection, EntityTrait as _, QueryFilter as _,
};
use uuid::Uuid;

use crate::compose::MessageSettings;
use crate::entity::notifications as rows;
use crate::model::{Attachment, DeliveryStatus};
use crate::transport::{Outgoing, SendError, Transport};

/// How hard delivery tries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeliveryPolicy {
    /// Attempts before a message is dead-lettered.
    pub max_attempts: u32,
    /// The first retry's delay; each further one doubles, up to `max_backoff`.
    pub first_backoff: Duration,
    pub max_backoff: Duration,
    /// How long a claim lasts: longer than one send can take (lettre times out at 20 s).
    pub lease: Duration,
    /// Messages claimed at once.
    pub batch: u64,
}

impl Default for DeliveryPolicy {
    fn default() -> Self {
        Self {
            max_attempts: 8,
            first_backoff: Duration::from_secs(30),
            max_backoff: Duration::from_hours(6),
            lease: Duration::from_mins(2),
            batch: 50,
        }
    }
}

impl DeliveryPolicy {
    /// The delay before attempt `attempts + 1`, after `attempts` failures.
    #[must_use]
    pub fn backoff(&self, attempts: u32) -> Duration {
        let doubling = 2u32.saturating_pow(Ord::min(attempts.saturating_sub(1), 20));
        self.first_backoff
            .saturating_mul(doubling)
            .min(self.max_backoff)
    }
}

/// What one pass did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Delivered {
    pub sent: usize,
    pub retrying: usize,
    pub dead: usize,
}

impl Delivered {
    #[must_use]
    pub const fn claimed(&self) -> usize {
        self.sent + self.retrying + self.dead
    }
}

fn due(now: DateTime<Utc>) -> Condition {
    Condition::all()
        .add(rows::Column::Status.eq(DeliveryStatus::Pending.as_str()))
        .add(rows::Column::NextAttemptAt.lte(now))
        .add(
            Condition::any()
                .add(rows::Column::ClaimedUntil.is_null())
                .add(rows::Column::ClaimedUntil.lt(now)),
        )
}

/// Claims up to `policy.batch` due messages and sends them.
pub async fn deliver_due(
    db: &DatabaseConnection,
    clock: &dyn Clock,
    settings: &MessageSettings,
    transport: &dyn Transport,
    policy: &DeliveryPolicy,
) -> Result<Delivered, DomainError> {
    let now = clock.now();
    let token = Uuid::now_v7();
    let lease = chrono::Duration::from_std(policy.lease).unwrap_or(chrono::Duration::minutes(2));
    let mut oldest = Query::select();
    oldest
        .column(rows::Column::Id)
        .from(rows::Entity)
        .cond_where(due(now))
        .order_by(rows::Column::NextAttemptAt, sea_orm::Order::Asc)
        .order_by(rows::Column::Id, sea_orm::Order::Asc)
        .limit(policy.batch);
    // The outer condition repeats the inner one: on PostgreSQL a row another replica claimed
    // while this statement waited is re-checked against it and skipped.
    rows::Entity::update_many()
        .col_expr(rows::Column::ClaimToken, Expr::value(Some(token)))
        .col_expr(rows::Column::ClaimedUntil, Expr::value(Some(now + lease)))
        .filter(due(now))
        .filter(rows::Column::Id.in_subquery(oldest))
        .exec(db)
        .await?;
    let claimed = rows::Entity::find()
        .filter(rows::Column::ClaimToken.eq(token))
        .all(db)
        .await?;

    let mut report = Delivered::default();
    for row in claimed {
        let message = Outgoing {
            id: row.id,
            to_name: row.recipient_name.clone(),
            to_email: row.recipient_email.clone(),
            subject: row.subject.clone(),
            text: row.text_body.clone(),
            html: row.html_body.clone(),
            ics: row.ics.clone(),
            attachment: match (&row.attachment_name, &row.attachment_type, &row.attachment) {
                (Some(name), Some(content_type), Some(bytes)) => Some(Attachment {
                    name: name.clone(),
                    content_type: content_type.clone(),
                    bytes: bytes.clone(),
                }),
                _ => None,
            },
            unsubscribe_url: row
                .unsubscribe_token
                .as_ref()
                .map(|token| settings.unsubscribe_url(token)),
        };
        let result = transport.send(&message).await;
        let attempts = row.attempts.saturating_add(1);
        let now = clock.now();
        let mut update = rows::Entity::update_many()
            .col_expr(rows::Column::Attempts, Expr::value(attempts))
            .col_expr(rows::Column::ClaimToken, Expr::value(Option::<Uuid>::None))
            .col_expr(
                rows::Column::ClaimedUntil,
                Expr::value(Option::<DateTime<Utc>>::None),
            );
        match result {
            Ok(()) => {
                report.sent += 1;
                update = update
                    .col_expr(
                        rows::Column::Status,
                        Expr::value(DeliveryStatus::Sent.as_str()),
                    )
                    .col_expr(rows::Column::SentAt, Expr::value(Some(now)))
                    .col_expr(rows::Column::LastError, Expr::value(Option::<String>::None));
            }
            Err(err) => {
                let give_up = matches!(err, SendError::Permanent(_))
                    || u32::try_from(attempts).unwrap_or(u32::MAX) >= policy.max_attempts;
                let reason = err.to_string();
                if give_up {
                    report.dead += 1;
                    tracing::warn!(notification = %row.id, attempts, reason = %reason, "message dead-lettered");
                    update = update.col_expr(
                        rows::Column::Status,
                        Expr::value(DeliveryStatus::Dead.as_str()),
                    );
                } else {
                    report.retrying += 1;
                    let delay = policy.backoff(u32::try_from(attempts).unwrap_or(u32::MAX));
                    let next = now
                        + chrono::Duration::from_std(delay).unwrap_or(chrono::Duration::hours(6));
                    tracing::debug!(notification = %row.id, attempts, reason = %reason, "message not sent: retrying later");
                    update = update.col_expr(rows::Column::NextAttemptAt, Expr::value(next));
                }
                update = update.col_expr(rows::Column::LastError, Expr::value(Some(reason)));
            }
        }
        // Only while the claim is still ours: a lease that lapsed mid-send may have passed
        // the message to another worker, whose outcome stands.
        update
            .filter(rows::Column::Id.eq(row.id))
            .filter(rows::Column::ClaimToken.eq(token))
            .exec(db)
            .await?;
    }
    Ok(report)
}

/// Whether any message is due now (the worker's loop keeps going while so).
pub async fn any_due(db: &DatabaseConnection, clock: &dyn Clock) -> Result<bool, DomainError> {
    use sea_orm::PaginatorTrait as _;
    Ok(rows::Entity::find()
        .filter(due(clock.now()))
        .count(db)
        .await?
        > 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_and_is_capped() {
        let policy = DeliveryPolicy::default();
        assert_eq!(policy.backoff(1), Duration::from_secs(30));
        assert_eq!(policy.backoff(2), Duration::from_mins(1));
        assert_eq!(policy.backoff(5), Duration::from_mins(8));
        assert_eq!(policy.backoff(40), Duration::from_hours(6));
    }
}
