//! The HTTP application: routes, middleware and serving.

use std::sync::Arc;

use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderName, HeaderValue, Method, StatusCode, header};
use axum::routing::{get, post};
use axum::{Router, middleware};
use kernel::Clock;
use sea_orm::{DatabaseConnection, DbBackend};
use tokio::net::TcpListener;
use tower_http::compression::{CompressionLayer, CompressionLevel};
use tower_http::cors::{AllowOrigin, CorsLayer};
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::TraceLayer;

use crate::auth::cache::ActorCache;
use crate::auth::{Authenticator, OidcConfig, TokenVerifier};
use crate::config::Config;
use crate::events::{self, Bus};
use crate::graphql;
use crate::http::{
    certificates, graphql as graphql_http, health, reports, stripe_webhook, subscriptions,
};
use crate::metrics::{self, Metrics};
use crate::settings;

/// What every handler shares. Cheap to clone (everything inside is a handle).
#[derive(Clone)]
pub struct AppState {
    pub db: DatabaseConnection,
    /// The schemas `/graphql` runs requests on (queries on the one without extensions).
    pub schema: graphql::execute::Schemas,
    pub auth: Authenticator,
    pub clock: Arc<dyn Clock>,
    /// Largest GraphQL response body sent (`Config::response_limit_bytes`).
    pub response_limit_bytes: usize,
    /// Largest JSON request body (`Config::body_limit_bytes`).
    pub body_limit_bytes: usize,
    /// Largest multipart (upload) request body (`Config::upload_limit_bytes`).
    pub upload_limit_bytes: usize,
    /// How long a GraphQL request without an upload may take (`Config::request_timeout`);
    /// `/graphql` carries the longer upload timeout as its layer, so the handler keeps this one.
    pub request_timeout: std::time::Duration,
    /// Prometheus metrics, rendered by the metrics listener ([`App::metrics_router`]).
    pub metrics: Arc<Metrics>,
    /// Change events across replicas (LISTEN/NOTIFY on PostgreSQL, in-process on SQLite).
    pub events: Bus,
    /// Verifies `POST /webhooks/stripe`; `None` when Stripe is not configured.
    pub stripe_webhook_secret: Option<Arc<str>>,
    /// The Stripe adapter, for jobs (reconciliation); `None` settles offline.
    pub provider: Option<Arc<dyn billing::provider::PaymentProvider>>,
    /// How many GraphQL operations run at once (`Config::operation_slots`).
    pub admission: crate::http::admission::Admission,
    /// Per-caller and per-address token buckets on `/graphql`.
    pub rate_limits: Arc<crate::http::rate_limit::RateLimits>,
    /// The header a trusted proxy puts the client's address in (`Config::client_ip_header`).
    pub client_ip_header: Option<HeaderName>,
    /// Automatic persisted queries; `None` when turned off.
    pub persisted: Option<Arc<crate::http::persisted::PersistedQueries>>,
    /// Who issues invoices, as their documents print it (`Config::letterhead`).
    pub letterhead: Arc<billing::ledger::document::Letterhead>,
}

impl std::fmt::Debug for AppState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppState")
            .field("db", &self.db)
            .field("auth", &self.auth)
            .finish_non_exhaustive()
    }
}

/// The cache of signed-in users: on PostgreSQL, kept while changes are heard; off on SQLite,
/// off when `TRELLIS_SIGN_IN_CACHE_SECS=0`, and off (with a warning) if LISTEN fails.
async fn sign_in_cache(config: &Config, db: &DatabaseConnection) -> Arc<ActorCache> {
    if config.sign_in_cache_secs == 0 || db.get_database_backend() != DbBackend::Postgres {
        return Arc::new(ActorCache::off());
    }
    let cache = Arc::new(ActorCache::new(std::time::Duration::from_secs(
        config.sign_in_cache_secs,
    )));
    if let Err(e) = crate::auth::listen::start(db, cache.clone()).await {
        tracing::warn!(error = %e, "every request reads its user");
    }
    cache
}

/// A built application, ready to serve.
#[derive(Debug)]
pub struct App {
    pub state: AppState,
    pub router: Router,
}

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error("cannot read or create the JWT secret: {0}")]
    Secret(#[source] sea_orm::DbErr),
    #[error("cannot build the HTTP client: {0}")]
    Http(#[source] reqwest::Error),
    #[error("cannot start the event bus: {0}")]
    Events(#[source] sea_orm::DbErr),
    #[error("cannot build the Stripe client: {0}")]
    Stripe(#[source] billing::provider::ProviderError),
    /// Settings `Config::load` checks; reached only by a configuration built in code.
    #[error("{0}")]
    Config(#[from] crate::config::ConfigError),
}

pub(crate) const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

impl App {
    /// Builds the app on an open, migrated database.
    pub async fn build(
        config: &Config,
        db: DatabaseConnection,
        clock: Arc<dyn Clock>,
    ) -> Result<Self, AppError> {
        let secret = settings::jwt_secret(&db, config.jwt_secret.as_deref())
            .await
            .map_err(AppError::Secret)?;
        let oidc = match (&config.oidc_issuer, &config.oidc_audience) {
            (Some(issuer), Some(audience)) => Some(OidcConfig {
                issuer: issuer.clone(),
                audience: audience.clone(),
            }),
            _ => None,
        };
        let http = reqwest::Client::builder()
            .timeout(std::time::Duration::from_secs(10))
            .build()
            .map_err(AppError::Http)?;
        let verifier = TokenVerifier::new(&secret, oidc, http);
        let metrics = Arc::new(Metrics::new());
        let events = events::connect(&db, metrics.clone())
            .await
            .map_err(AppError::Events)?;
        let provider: Option<Arc<dyn billing::provider::PaymentProvider>> = match config.stripe() {
            Some(stripe) => Some(Arc::new(
                billing::provider::StripeProvider::new(&stripe).map_err(AppError::Stripe)?,
            )),
            None => None,
        };
        let users = sign_in_cache(config, &db).await;
        let cpus = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
        let admission = crate::http::admission::Admission::new(
            config.operation_slots(cpus),
            metrics.operations_waiting(),
        );
        let state = AppState {
            auth: Authenticator {
                db: db.clone(),
                verifier,
                clock: clock.clone(),
                users,
            },
            schema: graphql::schemas(config, provider.clone()),
            provider,
            db,
            clock,
            response_limit_bytes: config.response_limit_bytes,
            body_limit_bytes: config.body_limit_bytes,
            upload_limit_bytes: config.upload_limit_bytes,
            request_timeout: config.request_timeout(),
            metrics,
            events,
            stripe_webhook_secret: config.stripe().map(|s| Arc::from(s.webhook_secret)),
            admission,
            rate_limits: crate::http::rate_limit::RateLimits::new(config),
            client_ip_header: config.client_ip_header(),
            persisted: crate::http::persisted::PersistedQueries::new(
                config.persisted_queries_max,
                config.persisted_queries_max_bytes,
            ),
            letterhead: Arc::new(config.letterhead().map_err(AppError::Config)?),
        };
        let router = router(config, state.clone());
        Ok(Self { state, router })
    }

    /// The router of the metrics listener (`TRELLIS_METRICS_LISTEN`): `/metrics` only.
    pub fn metrics_router(&self) -> Router {
        metrics::router(self.state.metrics.clone(), self.state.db.clone())
    }

    /// Serves until `shutdown` resolves, then finishes in-flight requests.
    pub async fn serve(
        self,
        listener: TcpListener,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        // With the peer's address, which rate limits key requests that do not sign in by.
        axum::serve(
            listener,
            self.router
                .into_make_service_with_connect_info::<std::net::SocketAddr>(),
        )
        .with_graceful_shutdown(shutdown)
        .await
    }
}

fn cors(config: &Config) -> CorsLayer {
    let origins = if config.cors_origins.iter().any(|o| o == "*") {
        AllowOrigin::any()
    } else {
        AllowOrigin::list(
            config
                .cors_origins
                .iter()
                .filter_map(|o| HeaderValue::from_str(o).ok()),
        )
    };
    CorsLayer::new()
        .allow_origin(origins)
        .allow_methods([Method::GET, Method::POST])
        .allow_headers([header::AUTHORIZATION, header::CONTENT_TYPE, header::ACCEPT])
}

fn router(config: &Config, state: AppState) -> Router {
    // `/graphql` takes uploads (multipart) up to their own, larger limit and timeout; its
    // handler holds JSON bodies to `body_limit_bytes` itself. Every other route has the
    // plain limits.
    let upload_limit = config.upload_limit_bytes.max(config.body_limit_bytes);
    let graphql = Router::new()
        .route("/graphql", get(subscriptions::get).post(graphql_http::post))
        .layer(DefaultBodyLimit::max(upload_limit))
        .layer(RequestBodyLimitLayer::new(upload_limit))
        .layer(TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            std::time::Duration::from_secs(
                config.upload_timeout_secs.max(config.request_timeout_secs),
            ),
        ));
    let mut router = Router::new()
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
        .route("/webhooks/stripe", post(stripe_webhook::receive))
        .route("/certificates/{id}", get(certificates::download))
        .route("/calendar/{file}", get(crate::http::calendar::feed))
        .route("/reports/sessions/{id}/{file}", get(reports::session))
        .route("/reports/people/{id}/{file}", get(reports::person))
        .route("/reports/services/{id}/{file}", get(reports::service))
        .route("/reports/reviews/{id}/{file}", get(reports::review))
        .route("/exports/ledger.csv", get(crate::http::exports::ledger))
        .route(
            "/documents/invoices/{id}/{file}",
            get(crate::http::documents::invoice),
        )
        .route(
            "/documents/credit-notes/{id}/{file}",
            get(crate::http::documents::credit_note),
        )
        .route(
            "/notifications/unsubscribe/{token}",
            get(crate::http::unsubscribe::confirm).post(crate::http::unsubscribe::unsubscribe),
        );
    if config.graphiql {
        router = router
            .route("/graphiql", get(crate::http::graphiql::page_handler))
            .route(
                "/graphiql/assets/{name}",
                get(crate::http::graphiql::asset_handler),
            );
    }
    let metrics = state.metrics.clone();
    let served = router
        .layer(DefaultBodyLimit::max(config.body_limit_bytes))
        .layer(RequestBodyLimitLayer::new(config.body_limit_bytes))
        .layer(TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            config.request_timeout(),
        ))
        .merge(graphql)
        .with_state(state);
    outer_layers(config, metrics, served)
}

/// What wraps every route, innermost first. Apart so a test can put it around a route that
/// panics, which no real route should.
fn outer_layers(config: &Config, metrics: Arc<Metrics>, routes: Router) -> Router {
    routes
        .layer(crate::http::panics::layer())
        .layer(middleware::from_fn(graphql_http::too_large_as_graphql))
        // The fastest level of whichever encoding the client asks for. On the 100-school
        // directory page (55 kB of JSON) gzip 1 gives 10.8 kB against the default's 9.5 kB in
        // less than half the CPU (0.29 ms against 0.69 ms); deflate showed in issue #18's
        // profile of that page.
        .layer(CompressionLayer::new().quality(CompressionLevel::Fastest))
        .layer(cors(config))
        .layer(PropagateRequestIdLayer::new(REQUEST_ID))
        .layer(
            TraceLayer::new_for_http()
                .make_span_with(crate::http::spans::make_span)
                .on_response(crate::http::spans::on_response),
        )
        .layer(SetRequestIdLayer::new(REQUEST_ID, MakeRequestUuid))
        // Outermost, so every answer is counted: the body limit's 413 and the timeout's 408
        // as much as the handlers' own.
        .layer(middleware::from_fn_with_state(metrics, metrics::track_http))
}

#[cfg(test)]
mod tests {
    use axum::body::Body;
    use axum::http::Request;
    use tower::ServiceExt as _;

    use super::*;

    /// A panicking handler answers 500 with the GraphQL error shape and `INTERNAL`, is
    /// counted, and the server keeps answering.
    #[tokio::test]
    async fn a_panic_is_a_coded_internal_error() {
        let metrics = Arc::new(Metrics::new());
        let routes = Router::new().route(
            "/boom",
            get(|| async {
                assert!(!std::hint::black_box(true), "a bug we have not found");
                "unreachable"
            }),
        );
        let app = outer_layers(&Config::default(), Arc::clone(&metrics), routes);
        for _ in 0..2 {
            let response = app
                .clone()
                .oneshot(Request::get("/boom").body(Body::empty()).expect("request"))
                .await
                .expect("an answer, not a dropped connection");
            assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
            assert_eq!(response.headers()[header::CONTENT_TYPE], "application/json");
            assert!(response.headers().contains_key(REQUEST_ID));
            let body = axum::body::to_bytes(response.into_body(), 1 << 16)
                .await
                .expect("body");
            let body: serde_json::Value = serde_json::from_slice(&body).expect("json");
            assert_eq!(
                body["errors"][0]["extensions"]["code"], "INTERNAL",
                "{body}"
            );
            assert!(
                !body.to_string().contains("a bug"),
                "the panic stays in the log: {body}"
            );
        }
        let text = metrics.render(&DatabaseConnection::default());
        assert!(
            text.lines()
                .any(|l| l.contains("status=\"500\"") && !l.starts_with('#')),
            "{text}"
        );
    }
}
