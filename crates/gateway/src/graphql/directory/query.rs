//! Reading the directory.

use async_graphql::connection::Connection;
use async_graphql::{Context, ID, InputObject, Object};
use kernel::{PartnershipId, Permission};
use membership::partnership::{self, PartnershipFilter};
use membership::school::{self, SchoolFilter};

use super::enums::{Designation, PartnershipKind, Phase};
use super::types::{PartnershipCount, PartnershipNode, SchoolCount, SchoolNode};
use crate::graphql::context::ContextExt;
use crate::graphql::errors::to_graphql;
use crate::graphql::relay::{NoEdgeFields, connection, expect_arg, page_args};

/// Narrows `schools`.
#[derive(InputObject, Debug, Default)]
pub struct SchoolFilterInput {
    /// Any of these phases.
    pub phases: Option<Vec<Phase>>,
    /// Exact local authority name, e.g. "Barnet".
    pub local_authority: Option<String>,
    /// Schools holding this designation.
    pub designation: Option<Designation>,
    /// Case-insensitive part of the name.
    pub name_contains: Option<String>,
}

impl From<SchoolFilterInput> for SchoolFilter {
    fn from(f: SchoolFilterInput) -> Self {
        Self {
            phases: f
                .phases
                .unwrap_or_default()
                .into_iter()
                .map(Into::into)
                .collect(),
            local_authority: f.local_authority,
            designation: f.designation.map(Into::into),
            name_contains: f.name_contains,
        }
    }
}

/// Narrows `partnerships`.
#[derive(InputObject, Debug, Default)]
pub struct PartnershipFilterInput {
    /// Any of these kinds.
    pub kinds: Option<Vec<PartnershipKind>>,
    /// Case-insensitive part of the name.
    pub name_contains: Option<String>,
}

impl From<PartnershipFilterInput> for PartnershipFilter {
    fn from(f: PartnershipFilterInput) -> Self {
        Self {
            kinds: f
                .kinds
                .unwrap_or_default()
                .into_iter()
                .map(Into::into)
                .collect(),
            name_contains: f.name_contains,
        }
    }
}

#[derive(Default, Debug)]
pub struct DirectoryQuery;

#[Object]
impl DirectoryQuery {
    /// The school directory, by name. `first`/`last` take 1–100.
    #[graphql(complexity = "crate::graphql::relay::page_cost(first, last, child_complexity)")]
    async fn schools(
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
        #[graphql(desc = "Narrows the list; leave it out to list everything you may see.")] filter: Option<SchoolFilterInput>,
    ) -> async_graphql::Result<Connection<String, SchoolNode, SchoolCount, NoEdgeFields>> {
        let args = page_args(first, after.as_deref(), last, before.as_deref())?;
        let rc = ctx.trellis()?;
        let filter: SchoolFilter = filter.unwrap_or_default().into();
        let page = school::list(&rc.db, &rc.actor, &filter, &args)
            .await
            .map_err(to_graphql)?;
        Ok(connection(page, SchoolCount(filter), |s| {
            (s.sort_key(), SchoolNode::from(s), NoEdgeFields)
        }))
    }

    /// The school with this URN, or null.
    async fn school(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The school's unique reference number (URN), as the DfE gives it.")]
        urn: String,
    ) -> async_graphql::Result<Option<SchoolNode>> {
        let rc = ctx.trellis()?;
        Ok(school::by_urn(&rc.db, &rc.actor, &urn)
            .await
            .map_err(to_graphql)?
            .map(SchoolNode::from))
    }

    /// Partnerships, by name. `first`/`last` take 1–100.
    #[graphql(complexity = "crate::graphql::relay::page_cost(first, last, child_complexity)")]
    async fn partnerships(
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
        #[graphql(desc = "Narrows the list; leave it out to list everything you may see.")] filter: Option<PartnershipFilterInput>,
    ) -> async_graphql::Result<Connection<String, PartnershipNode, PartnershipCount, NoEdgeFields>>
    {
        let args = page_args(first, after.as_deref(), last, before.as_deref())?;
        let rc = ctx.trellis()?;
        let filter: PartnershipFilter = filter.unwrap_or_default().into();
        let page = partnership::list(&rc.db, &rc.actor, &filter, &args)
            .await
            .map_err(to_graphql)?;
        Ok(connection(page, PartnershipCount(filter), |p| {
            (p.sort_key(), PartnershipNode(p), NoEdgeFields)
        }))
    }

    /// The partnership with this id, or null.
    async fn partnership(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Global id of the partnership.")] id: ID,
    ) -> async_graphql::Result<Option<PartnershipNode>> {
        let rc = ctx.trellis()?;
        rc.actor
            .require(Permission::ReadDirectory)
            .map_err(to_graphql)?;
        let id: PartnershipId = expect_arg(&id)?;
        Ok(rc
            .loaders
            .partnerships()
            .load_one(id)
            .await?
            .map(PartnershipNode))
    }
}
