//! What every resolver needs, attached to each request.

use std::sync::Arc;

use async_graphql::Context;
use kernel::{Actor, Clock};
use sea_orm::DatabaseConnection;

use super::errors::internal;
use super::loaders::Loaders;

/// Per-request state: the authenticated caller, the database and the request's loaders
/// (whose caches live exactly as long as the request, so one caller's reads never serve
/// another's).
#[derive(Debug)]
pub struct RequestContext {
    pub actor: Actor,
    pub db: DatabaseConnection,
    pub clock: Arc<dyn Clock>,
    pub loaders: Loaders,
}

pub trait ContextExt {
    fn trellis(&self) -> async_graphql::Result<&RequestContext>;
}

impl ContextExt for Context<'_> {
    fn trellis(&self) -> async_graphql::Result<&RequestContext> {
        self.data::<RequestContext>()
            .map_err(|_| internal("request context missing"))
    }
}
