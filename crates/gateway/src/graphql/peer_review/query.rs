//! Reading cycles, reviews and themes.
//!
//! A school leader sees their schools' reviews, the reviews they are on and those shared
//! with them; partnership staff see everything; finance, school staff and API keys see no
//! report. A review the caller may not read is NOT_FOUND, exactly like one that does not exist.

use async_graphql::connection::Connection;
use async_graphql::{Context, ID, Object};
use kernel::{ReviewCycleId, ReviewId, SchoolId};
use membership::NameKey;
use peer_review::{cycles, report, reviews, themes};

use super::types::{ReviewCycleNode, ReviewNode, ReviewThemeNode, SupportRequestNode};
use crate::graphql::context::ContextExt;
use crate::graphql::errors::to_graphql;
use crate::graphql::relay::{NoEdgeFields, connection, expect_arg, page_args};

#[derive(Default, Debug)]
pub struct PeerReviewQuery;

#[Object]
impl PeerReviewQuery {
    /// Peer-review cycles by name. School leaders and partnership staff. `first`/`last` take 1–100.
    #[graphql(complexity = "crate::graphql::relay::page_cost(first, last, child_complexity)")]
    async fn review_cycles(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "At most this many items from the start of the list: 1–100, default 20.")]
        first: Option<i32>,
        #[graphql(desc = "Start after this cursor: the `pageInfo.endCursor` of the page before.")]
        after: Option<String>,
        #[graphql(
            desc = "At most this many items from the end of the list, 1–100; use instead of `first`."
        )]
        last: Option<i32>,
        #[graphql(desc = "End before this cursor: the `pageInfo.startCursor` of the page after.")]
        before: Option<String>,
    ) -> async_graphql::Result<Connection<String, ReviewCycleNode, NoEdgeFields, NoEdgeFields>>
    {
        let args = page_args::<NameKey>(first, after.as_deref(), last, before.as_deref())?;
        let rc = ctx.trellis()?;
        let page = cycles::cycles(&rc.db, &rc.actor, &args)
            .await
            .map_err(to_graphql)?;
        Ok(connection(page, NoEdgeFields, |c| {
            (c.sort_key(), ReviewCycleNode(c), NoEdgeFields)
        }))
    }

    /// One cycle by its global id.
    async fn review_cycle(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Global id of the review cycle.")] id: ID,
    ) -> async_graphql::Result<ReviewCycleNode> {
        let id: ReviewCycleId = expect_arg(&id)?;
        let rc = ctx.trellis()?;
        cycles::cycle(&rc.db, &rc.actor, id)
            .await
            .map(ReviewCycleNode)
            .map_err(to_graphql)
    }

    /// One review with its report; NOT_FOUND unless you may read the report.
    async fn review(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Global id of the review.")] id: ID,
    ) -> async_graphql::Result<ReviewNode> {
        let id: ReviewId = expect_arg(&id)?;
        let rc = ctx.trellis()?;
        reviews::review(&rc.db, &rc.actor, id)
            .await
            .map(|r| ReviewNode(r.review))
            .map_err(to_graphql)
    }

    /// The cycle's reviews you may read: your schools' own, those you are on and those shared
    /// with you (partnership staff: every one). By host school name.
    async fn my_reviews(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Global id of the peer-review cycle.")] cycle_id: ID,
    ) -> async_graphql::Result<Vec<ReviewNode>> {
        let cycle: ReviewCycleId = expect_arg(&cycle_id)?;
        let rc = ctx.trellis()?;
        // The service already keeps only the reviews the caller may read.
        let list = reviews::my_reviews(&rc.db, &rc.actor, cycle)
            .await
            .map_err(to_graphql)?;
        Ok(list.into_iter().map(ReviewNode).collect())
    }

    /// Partnership-wide areas for development, most frequent first: aggregates only, each
    /// raised in at least 5 agreed reports, never naming a school or a review.
    async fn review_themes(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Global id of the peer-review cycle.")] cycle_id: ID,
    ) -> async_graphql::Result<Vec<ReviewThemeNode>> {
        let cycle: ReviewCycleId = expect_arg(&cycle_id)?;
        let rc = ctx.trellis()?;
        themes::themes(&rc.db, &rc.actor, cycle)
            .await
            .map(|list| list.into_iter().map(ReviewThemeNode::from).collect())
            .map_err(to_graphql)
    }

    /// School-to-school support a school has given, with the time recorded: what billing pays
    /// or credits it for. Finance, partnership staff and the providing school's leaders; it
    /// shows the request, never the report it follows from.
    async fn review_support_provided_by(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Global id of the school.")] school_id: ID,
    ) -> async_graphql::Result<Vec<SupportRequestNode>> {
        let school: SchoolId = expect_arg(&school_id)?;
        let rc = ctx.trellis()?;
        report::support_provided_by(&rc.db, &rc.actor, school)
            .await
            .map(|list| list.into_iter().map(SupportRequestNode).collect())
            .map_err(to_graphql)
    }
}
