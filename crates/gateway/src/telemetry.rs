//! Logging and trace export. Logs go to stderr, so `trellis token` and `trellis schema` keep
//! stdout for their output alone.
//!
//! When `OTEL_EXPORTER_OTLP_ENDPOINT` (or `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`) is set, every
//! `tracing` span — the HTTP request (`http::spans`), the GraphQL operation
//! (`graphql::spans`), each DataLoader batch — is also exported as an OpenTelemetry span over
//! OTLP/HTTP with protobuf bodies, the transport every collector accepts. A W3C
//! `traceparent` on an incoming request is honoured (the trace-context propagator is
//! installed with the exporter). The exporter reads the standard `OTEL_*` variables itself (endpoint, headers,
//! timeout, batch delay), so operators configure it as they configure any other service;
//! `OTEL_SERVICE_NAME` defaults to `trellis`.

use std::io::IsTerminal as _;

use opentelemetry::trace::TracerProvider as _;
use opentelemetry_otlp::SpanExporter;
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::SdkTracerProvider;
use tracing_subscriber::filter::filter_fn;
use tracing_subscriber::layer::SubscriberExt as _;
use tracing_subscriber::util::SubscriberInitExt as _;
use tracing_subscriber::{EnvFilter, Layer as _};

use crate::config::LogFormat;

/// The variables that switch trace export on, as the OpenTelemetry specification names them.
const ENDPOINT_VARS: [&str; 2] = [
    "OTEL_EXPORTER_OTLP_ENDPOINT",
    "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
];

/// Keeps the trace exporter alive; [`Telemetry::shutdown`] flushes what is still batched.
#[derive(Debug, Default)]
pub struct Telemetry {
    provider: Option<SdkTracerProvider>,
}

impl Telemetry {
    /// Whether spans are being exported.
    #[must_use]
    pub const fn exporting(&self) -> bool {
        self.provider.is_some()
    }

    /// Flushes and stops the exporter. Blocks until the batch is sent (bounded by
    /// `OTEL_EXPORTER_OTLP_TIMEOUT`), so call it off the async runtime's worker threads.
    pub fn shutdown(self) {
        if let Some(provider) = self.provider
            && let Err(e) = provider.shutdown()
        {
            eprintln!("trellis: flushing traces failed: {e}");
        }
    }
}

/// Installs the global subscriber; `RUST_LOG` overrides the default level.
///
/// A second call (tests building several apps in one process) keeps the first subscriber.
#[must_use]
pub fn init(format: LogFormat) -> Telemetry {
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn,sea_orm=warn"));
    let logs = match format {
        LogFormat::Json => tracing_subscriber::fmt::layer()
            .json()
            .with_writer(std::io::stderr)
            .boxed(),
        // Colours only for a person at a terminal: redirected to a file or a log collector,
        // escape codes are noise in every line.
        LogFormat::Pretty => tracing_subscriber::fmt::layer()
            .with_ansi(std::io::stderr().is_terminal())
            .with_writer(std::io::stderr)
            .boxed(),
    };
    // A `dataloader` span (one per batch, `graphql::loaders`) is there for the trace
    // exporter; a log line gains nothing from it, and formatting its fields for the log
    // cost 2-4% of a query's CPU (#18). Events inside one are still logged.
    let logs = logs.with_filter(filter_fn(|meta| !is_trace_only(meta)));
    let provider = exporter_configured().then(tracer_provider).flatten();
    let traces = provider
        .as_ref()
        .map(|p| tracing_opentelemetry::layer().with_tracer(p.tracer("trellis")));
    let installed = tracing_subscriber::registry()
        .with(filter)
        .with(logs)
        .with(traces)
        .try_init()
        .is_ok();
    if installed {
        if provider.is_some() {
            opentelemetry::global::set_text_map_propagator(TraceContextPropagator::new());
            tracing::info!("exporting traces over OTLP/HTTP");
        }
        Telemetry { provider }
    } else {
        if let Some(p) = provider {
            drop(p.shutdown());
        }
        Telemetry::default()
    }
}

/// Spans that only the trace exporter records, not the logs.
fn is_trace_only(meta: &tracing::Metadata<'_>) -> bool {
    meta.is_span() && meta.name() == "dataloader"
}

fn exporter_configured() -> bool {
    ENDPOINT_VARS
        .iter()
        .any(|v| std::env::var(v).is_ok_and(|s| !s.trim().is_empty()))
}

/// The provider with a batch exporter, or `None` (after saying why) when the exporter cannot
/// be built: a broken telemetry setting must not keep the API from serving.
fn tracer_provider() -> Option<SdkTracerProvider> {
    let exporter = match SpanExporter::builder().with_http().build() {
        Ok(exporter) => exporter,
        Err(e) => {
            eprintln!("trellis: not exporting traces: {e}");
            return None;
        }
    };
    let mut resource = Resource::builder();
    if std::env::var("OTEL_SERVICE_NAME").is_err() {
        resource = resource.with_service_name("trellis");
    }
    Some(
        SdkTracerProvider::builder()
            .with_batch_exporter(exporter)
            .with_resource(resource.build())
            .build(),
    )
}
