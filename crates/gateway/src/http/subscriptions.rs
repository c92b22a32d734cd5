//! GraphQL subscriptions over WebSocket: `GET /graphql` with an upgrade, speaking graphql-ws
//! (`graphql-transport-ws`) or the legacy `graphql-ws` subprotocol.
//!
//! Browsers cannot set headers on a WebSocket, so the credential travels in the
//! `connection_init` payload as `{"Authorization": "Bearer …"}` and goes through exactly the
//! same [`crate::auth::Authenticator`] as an HTTP request's header. A refused credential
//! closes the connection (4403) before any subscription starts.

use std::time::Duration;

use async_graphql::Data;
use async_graphql::http::ALL_WEBSOCKET_PROTOCOLS;
use async_graphql_axum::{GraphQLProtocol, GraphQLWebSocket};
use axum::extract::{FromRequestParts as _, RawQuery, Request, State, WebSocketUpgrade};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse as _, Response};
use serde_json::Value;

use crate::app::AppState;
use crate::graphql::context::RequestContext;
use crate::graphql::loaders::{Batching, Loaders};
use crate::http::graphql as graphql_http;
use crate::http::rate_limit::PeerIp;

/// How long a subscription's loaders gather keys before a batch runs. A subscription's
/// resolvers run inside the connection's stream, which no `BatchScope` wraps, so its batches
/// go back to the DataLoader's timer; an event resolves a handful of fields, not a page.
const SUBSCRIPTION_BATCH_DELAY: Duration = Duration::from_millis(1);

/// How long a client may stay silent after our keep-alive ping.
const KEEPALIVE: Duration = Duration::from_mins(1);

fn wants_websocket(headers: &HeaderMap) -> bool {
    headers
        .get(header::UPGRADE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("websocket"))
}

/// `GET /graphql`: a WebSocket upgrade for subscriptions, otherwise a query over HTTP.
pub async fn get(State(state): State<AppState>, request: Request) -> Response {
    let (mut parts, _body) = request.into_parts();
    if !wants_websocket(&parts.headers) {
        let raw = parts.uri.query().map(str::to_owned);
        let peer = PeerIp(
            parts
                .extensions
                .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
                .map(|c| c.0.ip()),
        );
        return graphql_http::get(State(state), peer, parts.headers, RawQuery(raw)).await;
    }
    let protocol = match GraphQLProtocol::from_request_parts(&mut parts, &state).await {
        Ok(p) => p,
        Err(rejection) => return rejection.into_response(),
    };
    let upgrade = match WebSocketUpgrade::from_request_parts(&mut parts, &state).await {
        Ok(u) => u,
        Err(rejection) => return rejection.into_response(),
    };
    upgrade
        .protocols(ALL_WEBSOCKET_PROTOCOLS)
        .on_upgrade(move |socket| {
            let schema = state.schema.clone();
            GraphQLWebSocket::new(socket, schema, protocol)
                .keepalive_timeout(KEEPALIVE)
                .on_connection_init(move |payload| connection_data(state, payload))
                .serve()
        })
}

/// Authenticates `connection_init` and builds what every subscription of the connection runs
/// with.
async fn connection_data(state: AppState, payload: Value) -> async_graphql::Result<Data> {
    let credential = payload
        .as_object()
        .and_then(|o| {
            o.iter()
                .find(|(k, _)| k.eq_ignore_ascii_case("authorization"))
                .map(|(_, v)| v)
        })
        .and_then(Value::as_str)
        .unwrap_or_default();
    let mut headers = HeaderMap::new();
    if !credential.is_empty() {
        let value = HeaderValue::from_str(credential)
            .map_err(|_| async_graphql::Error::new("malformed Authorization"))?;
        headers.insert(header::AUTHORIZATION, value);
    }
    let actor = state.auth.authenticate(&headers).await.map_err(|e| {
        if let crate::auth::AuthError::Unavailable(detail) = &e {
            tracing::error!(error = %detail, "authentication backend failed");
        }
        async_graphql::Error::new(e.to_string())
    })?;
    let mut data = Data::default();
    data.insert(RequestContext {
        // Loaders do not cache across loads (no stale reads over a long connection).
        loaders: Loaders::new(
            &state.db,
            &actor,
            Batching::Spawned(SUBSCRIPTION_BATCH_DELAY),
        ),
        actor,
        db: state.db.clone(),
        clock: state.clock.clone(),
    });
    data.insert(state.events.clone());
    data.insert(state.metrics.clone());
    data.insert(state.auth.users.clone());
    Ok(data)
}
