//! Reading tiers and memberships.

use async_graphql::connection::Connection;
use async_graphql::{Context, ID, InputObject, Object};
use kernel::{AcademicYear, Permission, TierId};
use membership::memberships::{self, MembershipFilter};

use super::enums::MembershipStatus;
use super::types::{MembershipNode, TierNode};
use crate::graphql::context::ContextExt;
use crate::graphql::errors::to_graphql;
use crate::graphql::relay::{NoEdgeFields, connection, expect_arg, page_args};
use crate::graphql::scalars::AcademicYearScalar;

/// Narrows `memberships`.
#[derive(InputObject, Debug, Default)]
pub struct MembershipFilterInput {
    /// Only memberships in this status; left out: every status.
    pub status: Option<MembershipStatus>,
    /// Only memberships on this tier: a `MembershipTier` id.
    pub tier_id: Option<ID>,
}

impl MembershipFilterInput {
    fn into_domain(self) -> async_graphql::Result<MembershipFilter> {
        Ok(MembershipFilter {
            status: self.status.map(Into::into),
            tier_id: self
                .tier_id
                .as_ref()
                .map(expect_arg::<TierId>)
                .transpose()?,
        })
    }
}

#[derive(Debug)]
pub struct MembershipCount {
    year: AcademicYear,
    filter: MembershipFilter,
}

/// `totalCount` of a memberships connection, counted only when asked for.
#[Object]
impl MembershipCount {
    /// How many memberships match, across all pages.
    async fn total_count(&self, ctx: &Context<'_>) -> async_graphql::Result<i32> {
        let rc = ctx.trellis()?;
        memberships::count_for_year(&rc.db, &rc.actor, self.year, &self.filter)
            .await
            .map(crate::graphql::int::saturating)
            .map_err(to_graphql)
    }
}

pub type MembershipConnection = Connection<String, MembershipNode, MembershipCount, NoEdgeFields>;

#[derive(Default, Debug)]
pub struct MembershipQuery;

#[Object]
impl MembershipQuery {
    /// The kinds of membership on offer, by code.
    async fn membership_tiers(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<TierNode>> {
        let rc = ctx.trellis()?;
        rc.actor
            .require(Permission::ReadMemberships)
            .map_err(to_graphql)?;
        let tiers = memberships::tiers(&rc.db).await.map_err(to_graphql)?;
        Ok(tiers.into_iter().map(TierNode).collect())
    }

    /// Memberships of an academic year: every school's for partnership staff and
    /// `membership:read` keys, your own schools' otherwise. `first`/`last` take 1–100.
    #[allow(clippy::too_many_arguments)]
    #[graphql(complexity = "crate::graphql::relay::page_cost(first, last, child_complexity)")]
    async fn memberships(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The academic year, written as schools write it, e.g. `2026/27`.")]
        year: AcademicYearScalar,
        #[graphql(desc = "Narrows the list; leave it out to list everything you may see.")] filter: Option<MembershipFilterInput>,
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
    ) -> async_graphql::Result<MembershipConnection> {
        let args = page_args(first, after.as_deref(), last, before.as_deref())?;
        let rc = ctx.trellis()?;
        let filter = filter.unwrap_or_default().into_domain()?;
        let page = memberships::for_year(&rc.db, &rc.actor, year.0, &filter, &args)
            .await
            .map_err(to_graphql)?;
        Ok(connection(
            page,
            MembershipCount {
                year: year.0,
                filter,
            },
            |m| (m.sort_key(), MembershipNode::new(m), NoEdgeFields),
        ))
    }
}
