//! Reading users and keys (admins), and the viewer (everyone).

use async_graphql::connection::Connection;
use async_graphql::{Context, Object};
use kernel::Actor;
use membership::people::{api_keys, users};

use super::types::{ApiKeyNode, UserNode, Viewer};
use crate::graphql::context::ContextExt;
use crate::graphql::errors::to_graphql;
use crate::graphql::relay::{NoEdgeFields, connection, page_args};

#[derive(Debug)]
pub struct UserCount;

/// `totalCount` of users.
#[Object]
impl UserCount {
    /// How many users there are, across pages.
    async fn total_count(&self, ctx: &Context<'_>) -> async_graphql::Result<i32> {
        let rc = ctx.trellis()?;
        let n = users::count(&rc.db, &rc.actor).await.map_err(to_graphql)?;
        Ok(crate::graphql::int::saturating(n))
    }
}

#[derive(Debug)]
pub struct ApiKeyCount;

/// `totalCount` of API keys.
#[Object]
impl ApiKeyCount {
    /// How many API keys there are, across pages.
    async fn total_count(&self, ctx: &Context<'_>) -> async_graphql::Result<i32> {
        let rc = ctx.trellis()?;
        let n = api_keys::count(&rc.db, &rc.actor)
            .await
            .map_err(to_graphql)?;
        Ok(crate::graphql::int::saturating(n))
    }
}

#[derive(Default, Debug)]
pub struct AccessQuery;

#[Object]
impl AccessQuery {
    /// Who is calling.
    async fn viewer(&self, ctx: &Context<'_>) -> async_graphql::Result<Viewer> {
        let rc = ctx.trellis()?;
        let scopes = match &rc.actor {
            Actor::ApiKey(key) => key.scopes.iter().copied().map(Into::into).collect(),
            Actor::User(_) | Actor::System => Vec::new(),
        };
        Ok(Viewer {
            scopes,
            actor: rc.actor.clone(),
        })
    }

    /// Everyone who can sign in, by email. Admins only.
    #[graphql(complexity = "crate::graphql::relay::page_cost(first, last, child_complexity)")]
    async fn users(
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
    ) -> async_graphql::Result<Connection<String, UserNode, UserCount, NoEdgeFields>> {
        let args = page_args(first, after.as_deref(), last, before.as_deref())?;
        let rc = ctx.trellis()?;
        let page = users::list(&rc.db, &rc.actor, &args)
            .await
            .map_err(to_graphql)?;
        Ok(connection(page, UserCount, |u| {
            (u.sort_key(), UserNode(u), NoEdgeFields)
        }))
    }

    /// Integrators' API keys, by name. Admins only.
    #[graphql(complexity = "crate::graphql::relay::page_cost(first, last, child_complexity)")]
    async fn api_keys(
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
    ) -> async_graphql::Result<Connection<String, ApiKeyNode, ApiKeyCount, NoEdgeFields>> {
        let args = page_args(first, after.as_deref(), last, before.as_deref())?;
        let rc = ctx.trellis()?;
        let page = api_keys::list(&rc.db, &rc.actor, &args)
            .await
            .map_err(to_graphql)?;
        Ok(connection(page, ApiKeyCount, |k| {
            (k.sort_key(), ApiKeyNode(k), NoEdgeFields)
        }))
    }
}
