//! Notifications: the viewer's inbox and preferences (fields on `Viewer`), calendar feeds,
//! and the outbox for partnership admins.

pub mod types;

use std::sync::Arc;

use async_graphql::connection::Connection;
use async_graphql::{Context, ID, InputObject, Object, SimpleObject};
use kernel::{CalendarFeedId, DomainError, ErrorCode, NotificationId, SchoolId};
use notifications::feeds::{self, FeedOwner};
use notifications::{MessageSettings, inbox};
use uuid::Uuid;

use self::types::{
    CalendarFeed, CategoryValue, DeliveryStatusValue, NotificationNode, NotificationPreference,
};
use crate::graphql::context::ContextExt as _;
use crate::graphql::errors::{UserError, field_error, payload, to_graphql};
use crate::graphql::relay::{NoEdgeFields, connection, expect_input, page_args};

/// A page of messages, newest first.
pub type NotificationConnection = Connection<String, NotificationNode, NoEdgeFields, NoEdgeFields>;

/// Reads a forward page's arguments: `first` (1–100, default 20) and `after`.
fn forward(first: Option<i32>, after: Option<&str>) -> async_graphql::Result<(Option<Uuid>, u64)> {
    let args = page_args::<Uuid>(first, after, None, None)?;
    Ok((args.after, args.limit))
}

fn page_connection(page: membership::Page<notifications::Notification>) -> NotificationConnection {
    connection(page, NoEdgeFields, |n| {
        (n.id, NotificationNode(n), NoEdgeFields)
    })
}

/// The viewer's inbox, newest first (`Viewer.notifications`).
pub async fn viewer_notifications(
    ctx: &Context<'_>,
    unread_only: bool,
    first: Option<i32>,
    after: Option<String>,
) -> async_graphql::Result<NotificationConnection> {
    let (after, limit) = forward(first, after.as_deref())?;
    let rc = ctx.trellis()?;
    let page = inbox::inbox(&rc.db, &rc.actor, unread_only, after, limit)
        .await
        .map_err(to_graphql)?;
    Ok(page_connection(page))
}

/// `Viewer.unreadNotificationCount`.
pub async fn viewer_unread(ctx: &Context<'_>) -> async_graphql::Result<i32> {
    let rc = ctx.trellis()?;
    inbox::unread_count(&rc.db, &rc.actor)
        .await
        .map(crate::graphql::int::saturating)
        .map_err(to_graphql)
}

/// `Viewer.notificationPreferences`.
pub async fn viewer_preferences(
    ctx: &Context<'_>,
) -> async_graphql::Result<Vec<NotificationPreference>> {
    let rc = ctx.trellis()?;
    Ok(inbox::preferences(&rc.db, &rc.actor)
        .await
        .map_err(to_graphql)?
        .into_iter()
        .map(Into::into)
        .collect())
}

/// `Viewer.calendarFeeds`.
pub async fn viewer_feeds(ctx: &Context<'_>) -> async_graphql::Result<Vec<CalendarFeed>> {
    let rc = ctx.trellis()?;
    Ok(feeds::feeds_of(&rc.db, &rc.actor)
        .await
        .map_err(to_graphql)?
        .into_iter()
        .map(Into::into)
        .collect())
}

#[derive(Default, Debug)]
pub struct NotificationsQuery;

#[Object]
impl NotificationsQuery {
    /// Every message Trellis has made, newest first, optionally of one status: what was
    /// sent to whom, what waits (everything, when no SMTP server is configured) and why a
    /// message was given up. Partnership admins. `first` takes 1–100.
    #[graphql(complexity = "crate::graphql::relay::page_cost(first, None, child_complexity)")]
    async fn outbox(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Only messages in this status; left out: every message.")] status: Option<
            DeliveryStatusValue,
        >,
        #[graphql(desc = "At most this many items from the start of the list: 1–100, default 20.")]
        first: Option<i32>,
        #[graphql(desc = "Start after this cursor: the `pageInfo.endCursor` of the page before.")]
        after: Option<String>,
    ) -> async_graphql::Result<NotificationConnection> {
        let (after, limit) = forward(first, after.as_deref())?;
        let rc = ctx.trellis()?;
        let page = inbox::outbox(&rc.db, &rc.actor, status.map(Into::into), after, limit)
            .await
            .map_err(to_graphql)?;
        Ok(page_connection(page))
    }
}

/// Input to `notificationMarkRead`.
#[derive(InputObject, Debug)]
pub struct NotificationMarkReadInput {
    /// 1–100 of the viewer's own messages.
    pub ids: Vec<ID>,
}

/// What `notificationMarkRead` did: the changed record, or `userErrors` saying why nothing changed.
#[derive(SimpleObject, Debug)]
pub struct NotificationMarkReadPayload {
    /// The notifications as they are now.
    pub notifications: Vec<NotificationNode>,
    /// Why nothing changed, each naming the input field and a code; empty when the mutation
    /// succeeded.
    pub user_errors: Vec<UserError>,
}

/// Input to `notificationPreferencesUpdate`.
#[derive(InputObject, Debug)]
pub struct NotificationPreferencesUpdateInput {
    /// Every category the viewer wants no email of (replaces the set). Invoices and payment
    /// reminders cannot be muted.
    pub muted: Vec<CategoryValue>,
}

/// What `notificationPreferencesUpdate` did: the changed record, or `userErrors` saying why nothing
/// changed.
#[derive(SimpleObject, Debug)]
pub struct NotificationPreferencesPayload {
    /// Every category with whether the viewer has muted it.
    pub preferences: Option<Vec<NotificationPreference>>,
    /// Why nothing changed, each naming the input field and a code; empty when the mutation
    /// succeeded.
    pub user_errors: Vec<UserError>,
}

/// Input to `calendarFeedCreate`.
#[derive(InputObject, Debug)]
pub struct CalendarFeedCreateInput {
    /// A feed of this school's confirmed sessions (its own people and partnership staff);
    /// omitted, a feed of the sessions the viewer holds a place on.
    pub school_id: Option<ID>,
}

/// What `calendarFeedCreate` did: the changed record, or `userErrors` saying why nothing changed.
#[derive(SimpleObject, Debug)]
pub struct CalendarFeedCreatePayload {
    /// The feed as the mutation left it; null when `userErrors` says why nothing changed.
    pub feed: Option<CalendarFeed>,
    /// The feed's URL, shown here only: whoever has it can read the calendar, so keep it
    /// like a password and revoke the feed if it leaks.
    pub url: Option<String>,
    /// Why nothing changed, each naming the input field and a code; empty when the mutation
    /// succeeded.
    pub user_errors: Vec<UserError>,
}

/// Input to `calendarFeedRevoke`.
#[derive(InputObject, Debug)]
pub struct CalendarFeedRevokeInput {
    /// Global id of the calendar feed.
    pub id: ID,
}

/// What `calendarFeedRevoke` did: the changed record, or `userErrors` saying why nothing changed.
#[derive(SimpleObject, Debug)]
pub struct CalendarFeedPayload {
    /// The feed as the mutation left it; null when `userErrors` says why nothing changed.
    pub feed: Option<CalendarFeed>,
    /// Why nothing changed, each naming the input field and a code; empty when the mutation
    /// succeeded.
    pub user_errors: Vec<UserError>,
}

/// Input to `outboxRetry`.
#[derive(InputObject, Debug)]
pub struct OutboxRetryInput {
    /// A DEAD (or PENDING) message.
    pub id: ID,
}

/// What `outboxRetry` did: the changed record, or `userErrors` saying why nothing changed.
#[derive(SimpleObject, Debug)]
pub struct OutboxRetryPayload {
    /// The notification as the mutation left it; null when `userErrors` says why nothing changed.
    pub notification: Option<NotificationNode>,
    /// Why nothing changed, each naming the input field and a code; empty when the mutation
    /// succeeded.
    pub user_errors: Vec<UserError>,
}

fn notification_id(id: &ID, field: &str) -> Result<Uuid, DomainError> {
    expect_input::<NotificationId>(id, field).map(|n| n.as_uuid())
}

#[derive(Default, Debug)]
pub struct NotificationsMutation;

#[Object]
impl NotificationsMutation {
    /// Marks some of the viewer's messages read.
    async fn notification_mark_read(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "What to change; the rules for each field are on the input type.")] input: NotificationMarkReadInput,
    ) -> async_graphql::Result<NotificationMarkReadPayload> {
        let rc = ctx.trellis()?;
        let result = async {
            let ids = input
                .ids
                .iter()
                .enumerate()
                .map(|(i, id)| notification_id(id, &format!("ids.{i}")))
                .collect::<Result<Vec<_>, _>>()?;
            inbox::mark_read(&rc.db, &rc.actor, rc.clock.as_ref(), &ids).await
        }
        .await;
        let (marked, user_errors) = payload(result)?;
        Ok(NotificationMarkReadPayload {
            notifications: marked
                .unwrap_or_default()
                .into_iter()
                .map(NotificationNode)
                .collect(),
            user_errors,
        })
    }

    /// Sets which categories of email the viewer does not want.
    async fn notification_preferences_update(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "What to change; the rules for each field are on the input type.")] input: NotificationPreferencesUpdateInput,
    ) -> async_graphql::Result<NotificationPreferencesPayload> {
        let rc = ctx.trellis()?;
        let muted: Vec<_> = input.muted.into_iter().map(Into::into).collect();
        let result = inbox::set_muted(&rc.db, &rc.actor, rc.clock.as_ref(), &muted).await;
        let (preferences, user_errors) = payload(result)?;
        Ok(NotificationPreferencesPayload {
            preferences: preferences.map(|ps| ps.into_iter().map(Into::into).collect()),
            user_errors,
        })
    }

    /// Creates a secret iCalendar feed URL of confirmed sessions (one event per session
    /// part) for a calendar application to subscribe to.
    async fn calendar_feed_create(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "What to change; the rules for each field are on the input type.")] input: CalendarFeedCreateInput,
    ) -> async_graphql::Result<CalendarFeedCreatePayload> {
        let rc = ctx.trellis()?;
        let settings = ctx.data::<Arc<MessageSettings>>()?;
        let result = async {
            let owner = match &input.school_id {
                Some(id) => FeedOwner::School(expect_input::<SchoolId>(id, "schoolId")?),
                None => match rc.actor.as_user() {
                    Some(user) => FeedOwner::User(user.id),
                    None => {
                        return Err(field_error(
                            "schoolId",
                            ErrorCode::Required,
                            "an API key has no sessions of its own: name a school",
                        ));
                    }
                },
            };
            feeds::create_feed(&rc.db, &rc.actor, rc.clock.as_ref(), owner).await
        }
        .await;
        let (created, user_errors) = payload(result)?;
        Ok(match created {
            Some(created) => CalendarFeedCreatePayload {
                url: Some(format!(
                    "{}/calendar/{}.ics",
                    settings.public_url, created.secret
                )),
                feed: Some(created.feed.into()),
                user_errors,
            },
            None => CalendarFeedCreatePayload {
                feed: None,
                url: None,
                user_errors,
            },
        })
    }

    /// Revokes a calendar feed: its URL stops working at once.
    async fn calendar_feed_revoke(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "What to change; the rules for each field are on the input type.")] input: CalendarFeedRevokeInput,
    ) -> async_graphql::Result<CalendarFeedPayload> {
        let rc = ctx.trellis()?;
        let result = async {
            let id = expect_input::<CalendarFeedId>(&input.id, "id")?;
            feeds::revoke_feed(&rc.db, &rc.actor, rc.clock.as_ref(), id.as_uuid()).await
        }
        .await;
        let (feed, user_errors) = payload(result)?;
        Ok(CalendarFeedPayload {
            feed: feed.map(Into::into),
            user_errors,
        })
    }

    /// Sends a dead-lettered message again, with a fresh count of attempts. Partnership
    /// admins.
    async fn outbox_retry(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "What to change; the rules for each field are on the input type.")] input: OutboxRetryInput,
    ) -> async_graphql::Result<OutboxRetryPayload> {
        let rc = ctx.trellis()?;
        let result = async {
            let id = notification_id(&input.id, "id")?;
            inbox::retry(&rc.db, &rc.actor, rc.clock.as_ref(), id).await
        }
        .await;
        let (notification, user_errors) = payload(result)?;
        Ok(OutboxRetryPayload {
            notification: notification.map(NotificationNode),
            user_errors,
        })
    }
}
