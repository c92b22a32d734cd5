//! Prometheus metrics, served at `/metrics` on their own listener (`TRELLIS_METRICS_LISTEN`).
//!
//! A separate listener rather than a route on the API's: the Ingress sends everything under
//! `/` on the API port to Trellis, so a `/metrics` there would be public. On its own port it
//! is reachable inside the cluster (Prometheus scrapes the pod) and nowhere else.
//!
//! Labels are bounded on purpose: routes are axum's matched route templates, operation names
//! are whatever clients send, so only the first [`MAX_OPERATIONS`] distinct well-formed names
//! get their own series and the rest share `other` — a client inventing names per request
//! cannot exhaust the server's memory or the Prometheus server's.

use std::collections::HashSet;
use std::sync::Mutex;
use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderValue, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::metrics::info::Info;
use prometheus_client::registry::{Registry, Unit};
use sea_orm::{DatabaseConnection, DatabaseConnectionType};
use std::sync::Arc;

/// Distinct operation names that get a series of their own.
pub const MAX_OPERATIONS: usize = 200;

/// The exposition format's media type (OpenMetrics text, which Prometheus prefers).
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct HttpLabels {
    method: String,
    route: String,
    status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OperationLabels {
    operation: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ErrorLabels {
    operation: String,
    code: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct PoolLabels {
    state: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct WebhookLabels {
    outcome: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct JobLabels {
    job: String,
    outcome: &'static str,
}

/// Latency buckets from 1 ms to ~16 s: GraphQL operations span lookups and invoicing runs.
fn latency() -> Histogram {
    Histogram::new(prometheus_client::metrics::histogram::exponential_buckets(
        0.001, 2.0, 15,
    ))
}

/// Webhook lag buckets from 0.1 s to ~5 days: Stripe retries a failed delivery for three days.
fn webhook_lag() -> Histogram {
    Histogram::new(prometheus_client::metrics::histogram::exponential_buckets(
        0.1, 4.0, 12,
    ))
}

/// Every metric the gateway records, and the registry that renders them.
pub struct Metrics {
    registry: Registry,
    http: Family<HttpLabels, Histogram, fn() -> Histogram>,
    operations: Family<OperationLabels, Histogram, fn() -> Histogram>,
    errors: Family<ErrorLabels, Counter>,
    user_errors: Family<ErrorLabels, Counter>,
    pool: Family<PoolLabels, Gauge>,
    jobs: Family<JobLabels, Counter>,
    webhooks: Family<WebhookLabels, Histogram, fn() -> Histogram>,
    events_published: Counter,
    events_received: Counter,
    subscriptions: Gauge,
    known_operations: Mutex<HashSet<String>>,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    #[must_use]
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("trellis");
        let http = Family::new_with_constructor(latency as fn() -> Histogram);
        registry.register_with_unit(
            "http_request_duration",
            "HTTP requests by route template, method and status",
            Unit::Seconds,
            http.clone(),
        );
        let operations = Family::new_with_constructor(latency as fn() -> Histogram);
        registry.register_with_unit(
            "graphql_operation_duration",
            "GraphQL operations executed, by operation name",
            Unit::Seconds,
            operations.clone(),
        );
        let errors = Family::default();
        registry.register(
            "graphql_errors",
            "Top-level GraphQL errors by extensions.code",
            errors.clone(),
        );
        let user_errors = Family::default();
        registry.register(
            "graphql_user_errors",
            "userErrors returned in mutation payloads, by code",
            user_errors.clone(),
        );
        let pool = Family::default();
        registry.register(
            "db_pool_connections",
            "Database pool connections by state (in_use, idle, max)",
            pool.clone(),
        );
        let jobs = Family::default();
        registry.register(
            "job_ticks",
            "Scheduled job ticks by outcome (ran, failed, taken: another replica ran the slot, busy: a previous run still holds the lock)",
            jobs.clone(),
        );
        let webhooks = Family::new_with_constructor(webhook_lag as fn() -> Histogram);
        registry.register_with_unit(
            "stripe_webhook_lag",
            "Stripe webhooks by outcome (applied, ignored, replayed, failed), observed as the time from the event's creation at Stripe to its receipt here",
            Unit::Seconds,
            webhooks.clone(),
        );
        let events_published = Counter::default();
        registry.register(
            "events_published",
            "Change events published to the event bus",
            events_published.clone(),
        );
        let events_received = Counter::default();
        registry.register(
            "events_received",
            "Change events received from the event bus (from any replica)",
            events_received.clone(),
        );
        let subscriptions = Gauge::default();
        registry.register(
            "graphql_subscriptions_active",
            "GraphQL subscriptions currently open on this replica",
            subscriptions.clone(),
        );
        registry.register(
            "build",
            "The running build",
            Info::new(vec![
                ("version", env!("CARGO_PKG_VERSION")),
                (
                    "revision",
                    option_env!("TRELLIS_REVISION").unwrap_or("unknown"),
                ),
            ]),
        );
        Self {
            registry,
            http,
            operations,
            errors,
            user_errors,
            pool,
            jobs,
            webhooks,
            events_published,
            events_received,
            subscriptions,
            known_operations: Mutex::new(HashSet::new()),
        }
    }

    /// The label an operation name is recorded under (see the module docs).
    #[must_use]
    pub fn operation_label(&self, name: Option<&str>) -> String {
        let Some(name) = name else {
            return "anonymous".to_owned();
        };
        let well_formed = !name.is_empty()
            && name.len() <= 64
            && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
            && !name.as_bytes()[0].is_ascii_digit();
        if !well_formed {
            return "other".to_owned();
        }
        let mut known = self
            .known_operations
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if known.contains(name) || known.len() < MAX_OPERATIONS && known.insert(name.to_owned()) {
            name.to_owned()
        } else {
            "other".to_owned()
        }
    }

    /// Records one executed GraphQL operation with its top-level error codes and userError codes.
    pub fn graphql_operation<'a>(
        &self,
        operation: &str,
        seconds: f64,
        error_codes: impl IntoIterator<Item = &'a str>,
        user_error_codes: impl IntoIterator<Item = &'a str>,
    ) {
        self.operations
            .get_or_create(&OperationLabels {
                operation: operation.to_owned(),
            })
            .observe(seconds);
        for code in error_codes {
            self.errors
                .get_or_create(&ErrorLabels {
                    operation: operation.to_owned(),
                    code: bounded_code(code),
                })
                .inc();
        }
        for code in user_error_codes {
            self.user_errors
                .get_or_create(&ErrorLabels {
                    operation: operation.to_owned(),
                    code: bounded_code(code),
                })
                .inc();
        }
    }

    /// Records the outcome of one scheduled job tick.
    pub fn job_tick(&self, job: &str, outcome: &'static str) {
        self.jobs
            .get_or_create(&JobLabels {
                job: job.to_owned(),
                outcome,
            })
            .inc();
    }

    /// Records a verified Stripe webhook: how long after its creation at Stripe it arrived.
    /// Refused deliveries are not observed: their timestamps are not to be trusted.
    pub fn stripe_webhook(&self, outcome: &'static str, lag_secs: f64) {
        self.webhooks
            .get_or_create(&WebhookLabels { outcome })
            .observe(lag_secs.max(0.0));
    }

    pub fn event_published(&self) {
        self.events_published.inc();
    }

    pub fn event_received(&self) {
        self.events_received.inc();
    }

    /// Counts an open subscription until the guard drops.
    #[must_use]
    pub fn subscription_opened(self: &Arc<Self>) -> SubscriptionGuard {
        self.subscriptions.inc();
        SubscriptionGuard(Arc::clone(self))
    }

    /// The exposition text, with the pool gauges read now.
    #[must_use]
    pub fn render(&self, db: &DatabaseConnection) -> String {
        if let Some((size, idle, max)) = pool_state(db) {
            self.pool_gauge("in_use")
                .set(i64::from(size.saturating_sub(idle)));
            self.pool_gauge("idle").set(i64::from(idle));
            self.pool_gauge("max").set(i64::from(max));
        }
        let mut out = String::new();
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.registry);
        out
    }

    fn pool_gauge(&self, state: &'static str) -> Gauge {
        self.pool.get_or_create(&PoolLabels { state }).clone()
    }
}

/// Decrements the open-subscriptions gauge when the subscription ends.
#[derive(Debug)]
pub struct SubscriptionGuard(Arc<Metrics>);

impl Drop for SubscriptionGuard {
    fn drop(&mut self) {
        self.0.subscriptions.dec();
    }
}

/// Codes come from our own error mapping, but a code label must never be unbounded.
fn bounded_code(code: &str) -> String {
    if code.len() <= 32 && code.bytes().all(|b| b.is_ascii_uppercase() || b == b'_') {
        code.to_owned()
    } else {
        "OTHER".to_owned()
    }
}

/// (open connections, idle connections, configured maximum) of the sqlx pool behind `db`.
fn pool_state(db: &DatabaseConnection) -> Option<(u32, u32, u32)> {
    match &db.inner {
        DatabaseConnectionType::SqlxPostgresPoolConnection(_) => {
            let pool = db.get_postgres_connection_pool();
            Some((
                pool.size(),
                u32::try_from(pool.num_idle()).unwrap_or(u32::MAX),
                pool.options().get_max_connections(),
            ))
        }
        DatabaseConnectionType::SqlxSqlitePoolConnection(_) => {
            let pool = db.get_sqlite_connection_pool();
            Some((
                pool.size(),
                u32::try_from(pool.num_idle()).unwrap_or(u32::MAX),
                pool.options().get_max_connections(),
            ))
        }
        DatabaseConnectionType::Disconnected => None,
    }
}

/// Axum middleware timing every request under its route template.
pub async fn track_http(
    State(metrics): State<Arc<Metrics>>,
    request: Request,
    next: Next,
) -> Response {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |p| p.as_str().to_owned());
    let method = request.method().as_str().to_owned();
    let started = Instant::now();
    let response = next.run(request).await;
    metrics
        .http
        .get_or_create(&HttpLabels {
            method,
            route,
            status: response.status().as_u16(),
        })
        .observe(started.elapsed().as_secs_f64());
    response
}

/// `GET /metrics` on the metrics listener.
pub async fn scrape(State((metrics, db)): State<(Arc<Metrics>, DatabaseConnection)>) -> Response {
    let mut response = metrics.render(&db).into_response();
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(CONTENT_TYPE));
    response
}

/// The metrics listener's router: `/metrics` and nothing else.
pub fn router(metrics: Arc<Metrics>, db: DatabaseConnection) -> axum::Router {
    axum::Router::new()
        .route("/metrics", axum::routing::get(scrape))
        .with_state((metrics, db))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn operation_names_are_bounded() {
        let metrics = Metrics::new();
        assert_eq!(metrics.operation_label(None), "anonymous");
        assert_eq!(metrics.operation_label(Some("Schools")), "Schools");
        assert_eq!(metrics.operation_label(Some("has space")), "other");
        assert_eq!(metrics.operation_label(Some("1bad")), "other");
        for i in 0..MAX_OPERATIONS {
            let _ = metrics.operation_label(Some(&format!("Op{i}")));
        }
        assert_eq!(metrics.operation_label(Some("Schools")), "Schools");
        assert_eq!(metrics.operation_label(Some("OneTooMany")), "other");
    }

    #[test]
    fn codes_are_bounded() {
        assert_eq!(bounded_code("NOT_FOUND"), "NOT_FOUND");
        assert_eq!(bounded_code("weird code"), "OTHER");
    }
}
