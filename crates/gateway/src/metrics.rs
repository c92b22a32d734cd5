//! Prometheus metrics, served at `/metrics` on their own listener (`TRELLIS_METRICS_LISTEN`).
//!
//! A separate listener rather than a route on the API's: the Ingress sends everything under
//! `/` on the API port to Trellis, so a `/metrics` there would be public. On its own port it
//! is reachable inside the cluster (Prometheus scrapes the pod) and nowhere else.
//!
//! Labels are bounded on purpose, since every value comes from a client: routes are axum's
//! matched route templates; methods outside the standard set are `other`; operation names
//! are recorded only for authenticated callers (an anonymous caller's are `anonymous` or
//! `other`), and only the first [`MAX_OPERATIONS`] distinct well-formed names get their own
//! series, the rest sharing `other` — no client can exhaust the server's memory or the
//! Prometheus server's, nor push real operations into `other` without signing in.
//!
//! The exposition follows `Accept`: OpenMetrics for a scraper that asks for it (Prometheus
//! does), else the 0.0.4 text format, which `promtool check metrics` and older tools read.

pub mod process;

use std::collections::HashSet;
use std::sync::Mutex;
use std::sync::atomic::Ordering;
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

/// The OpenMetrics exposition's media type, for scrapers that ask for it.
pub const OPENMETRICS: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// The Prometheus 0.0.4 text format's media type: the default.
pub const TEXT: &str = "text/plain; version=0.0.4; charset=utf-8";

/// The methods recorded by name; any other is `other`.
const KNOWN_METHODS: [&str; 9] = [
    "GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "CONNECT", "TRACE",
];

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
    operations_waiting: Gauge,
    log_lines_dropped: Counter,
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
        let operations_waiting = Gauge::default();
        registry.register(
            "graphql_operations_waiting",
            "GraphQL operations waiting for one of this replica's TRELLIS_MAX_CONCURRENT_OPERATIONS slots",
            operations_waiting.clone(),
        );
        let log_lines_dropped = Counter::default();
        registry.register(
            "log_lines_dropped",
            "Log lines dropped because stderr was not read fast enough to keep the log writer's queue from filling",
            log_lines_dropped.clone(),
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
            operations_waiting,
            log_lines_dropped,
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

    /// The gauge of operations waiting for a slot ([`crate::http::admission`]).
    #[must_use]
    pub fn operations_waiting(&self) -> Gauge {
        self.operations_waiting.clone()
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
        // The log writer counts on its own; a counter only rises, so take the larger.
        self.log_lines_dropped
            .inner()
            .fetch_max(crate::telemetry::dropped_log_lines(), Ordering::Relaxed);
        let mut out = String::new();
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.registry);
        process::with_process_metrics(out)
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
    let method = request.method().as_str();
    let method = if KNOWN_METHODS.contains(&method) {
        method.to_owned()
    } else {
        "other".to_owned()
    };
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

/// `GET /metrics` on the metrics listener: OpenMetrics when `Accept` names it, else 0.0.4.
pub async fn scrape(
    State((metrics, db)): State<(Arc<Metrics>, DatabaseConnection)>,
    headers: axum::http::HeaderMap,
) -> Response {
    let openmetrics = headers
        .get_all(header::ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|item| {
            let mut parts = item.split(';').map(str::trim);
            let media = parts.next().unwrap_or_default();
            let refused = parts.any(|p| {
                p.strip_prefix("q=")
                    .is_some_and(|q| q.parse::<f32>().is_ok_and(|q| q <= 0.0))
            });
            media.eq_ignore_ascii_case("application/openmetrics-text") && !refused
        });
    let text = metrics.render(&db);
    let (body, content_type) = if openmetrics {
        (text, OPENMETRICS)
    } else {
        (openmetrics_to_text(&text), TEXT)
    };
    let mut response = body.into_response();
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    response
}

/// The 0.0.4 text format of an OpenMetrics exposition from prometheus-client. The samples
/// are the same; the metadata differs: 0.0.4 has no `# UNIT` and no `# EOF`, names a
/// counter's family with its `_total` suffix, and has no `info` type (an info metric is a
/// gauge named `…_info` whose value is 1).
fn openmetrics_to_text(openmetrics: &str) -> String {
    use std::fmt::Write as _;
    let mut renamed: std::collections::HashMap<&str, (String, &str)> =
        std::collections::HashMap::new();
    for line in openmetrics.lines() {
        if let Some(rest) = line.strip_prefix("# TYPE ")
            && let Some((name, kind)) = rest.split_once(' ')
        {
            match kind {
                "counter" => renamed.insert(name, (format!("{name}_total"), "counter")),
                "info" => renamed.insert(name, (format!("{name}_info"), "gauge")),
                _ => None,
            };
        }
    }
    let mut out = String::with_capacity(openmetrics.len());
    for line in openmetrics.lines() {
        if line == "# EOF" || line.starts_with("# UNIT ") {
            continue;
        }
        let meta = line
            .strip_prefix("# HELP ")
            .map(|rest| ("# HELP ", rest))
            .or_else(|| line.strip_prefix("# TYPE ").map(|rest| ("# TYPE ", rest)));
        match meta {
            Some((prefix, rest)) => {
                let (name, tail) = rest.split_once(' ').unwrap_or((rest, ""));
                match renamed.get(name) {
                    Some((new_name, kind)) if prefix == "# TYPE " => {
                        // Writing into a String cannot fail.
                        let _ = write!(out, "# TYPE {new_name} {kind}");
                    }
                    Some((new_name, _)) => {
                        let _ = write!(out, "# HELP {new_name} {tail}");
                    }
                    None => out.push_str(line),
                }
            }
            None => out.push_str(line),
        }
        out.push('\n');
    }
    out
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
    fn the_text_format_renames_counters_and_info_and_drops_open_metrics_lines() {
        let metrics = Metrics::new();
        metrics.event_published();
        let mut om = String::new();
        let _ = prometheus_client::encoding::text::encode(&mut om, &metrics.registry);
        assert!(om.contains("# TYPE trellis_build info"), "{om}");
        let text = openmetrics_to_text(&om);
        assert!(text.contains("# TYPE trellis_build_info gauge\n"), "{text}");
        assert!(
            text.contains("# TYPE trellis_events_published_total counter\n"),
            "{text}"
        );
        assert!(
            text.contains("# HELP trellis_events_published_total Change events"),
            "{text}"
        );
        assert!(
            text.contains("trellis_events_published_total 1\n"),
            "{text}"
        );
        assert!(
            !text.contains("# EOF") && !text.contains("# UNIT"),
            "{text}"
        );
    }

    #[test]
    fn codes_are_bounded() {
        assert_eq!(bounded_code("NOT_FOUND"), "NOT_FOUND");
        assert_eq!(bounded_code("weird code"), "OTHER");
    }
}
