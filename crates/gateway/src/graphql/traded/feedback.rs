//! Feedback after a session, and the ratings the catalogue shows.

use async_graphql::{Context, Object, SimpleObject};
use chrono::{DateTime, Utc};
use traded::{Feedback, RatingSummary};

use super::types::AttendeeNode;
use crate::graphql::context::ContextExt;
use crate::graphql::directory::types::SchoolNode;
use crate::graphql::errors::internal;

#[derive(Debug, Clone)]
pub struct FeedbackNode(pub Feedback);

/// One attendee's rating of a session they attended.
#[Object(name = "Feedback")]
impl FeedbackNode {
    /// 1 (poor) to 5 (excellent).
    async fn rating(&self) -> u8 {
        self.0.rating
    }

    /// What they wrote, if anything.
    async fn comment(&self) -> Option<&str> {
        self.0.comment.as_deref()
    }

    /// The attendee who gave it.
    async fn attendee(&self, ctx: &Context<'_>) -> async_graphql::Result<AttendeeNode> {
        ctx.trellis()?
            .loaders
            .attendees()
            .load_one(self.0.attendee_id)
            .await?
            .map(AttendeeNode)
            .ok_or_else(|| internal("feedback of an unknown attendee"))
    }

    /// The attendee's school.
    async fn school(&self, ctx: &Context<'_>) -> async_graphql::Result<SchoolNode> {
        ctx.trellis()?
            .loaders
            .schools()
            .load_one(self.0.school_id)
            .await?
            .map(SchoolNode::from)
            .ok_or_else(|| internal("feedback of an unknown school"))
    }

    /// When it was first recorded in Trellis.
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
}

/// How those who attended rated a service, over all its sessions.
#[derive(SimpleObject, Debug, Clone, Copy)]
#[graphql(name = "ServiceRating")]
pub struct RatingNode {
    /// How many ratings were given.
    pub count: i32,
    /// The mean, 1 to 5.
    pub average: f64,
}

impl RatingNode {
    /// `None` before anyone rated.
    #[must_use]
    pub fn of(summary: RatingSummary) -> Option<Self> {
        summary.average().map(|average| Self {
            count: crate::graphql::int::saturating(summary.count),
            average,
        })
    }
}
