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

use std::io::{BufWriter, IsTerminal as _, Write};
use std::sync::OnceLock;

use opentelemetry::trace::TracerProvider as _;
use opentelemetry_otlp::SpanExporter;
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::SdkTracerProvider;
use tracing_appender::non_blocking::{ErrorCounter, NonBlocking, NonBlockingBuilder, WorkerGuard};
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

/// Log lines waiting for the writer thread before new ones are dropped (and counted in
/// `trellis_log_lines_dropped_total`) rather than making a request wait on stderr. At about
/// 1 kB a line that is at most 4 MB, reached only if stderr stops being read.
const LOG_LINES_BUFFERED: usize = 4_096;

/// How much of the log the writer thread gathers into one `write(2)`. `BufWriter` writes out
/// what it holds before a line that would not fit, so no line is split across two writes.
const LOG_WRITE_BYTES: usize = 64 * 1024;

/// Lines the log writer dropped because its queue was full; read by the metrics at a scrape.
static DROPPED_LOG_LINES: OnceLock<ErrorCounter> = OnceLock::new();

/// How many log lines have been dropped since start (0 before logging is set up).
#[must_use]
pub fn dropped_log_lines() -> u64 {
    DROPPED_LOG_LINES
        .get()
        .map_or(0, |c| u64::try_from(c.dropped_lines()).unwrap_or(u64::MAX))
}

/// Keeps the log writer thread and the trace exporter alive; [`Telemetry::shutdown`] writes
/// out the log lines still queued and flushes the spans still batched.
#[derive(Debug, Default)]
pub struct Telemetry {
    provider: Option<SdkTracerProvider>,
    log_writer: Option<WorkerGuard>,
}

impl Telemetry {
    /// Whether spans are being exported.
    #[must_use]
    pub const fn exporting(&self) -> bool {
        self.provider.is_some()
    }

    /// Flushes and stops the exporter, then the log writer. Blocks until the batch is sent
    /// (bounded by `OTEL_EXPORTER_OTLP_TIMEOUT`) and the queued lines are written (bounded by
    /// the writer's own one second), so call it off the async runtime's worker threads.
    pub fn shutdown(self) {
        if let Some(provider) = self.provider
            && let Err(e) = provider.shutdown()
        {
            eprintln!("trellis: flushing traces failed: {e}");
        }
        drop(self.log_writer);
    }
}

/// Installs the global subscriber; `RUST_LOG` overrides the default level.
///
/// A second call (tests building several apps in one process) keeps the first subscriber.
#[must_use]
pub fn init(format: LogFormat) -> Telemetry {
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn,sea_orm=warn"));
    // One line per operation is written by a thread of its own, many lines to a `write(2)`,
    // not by an async worker one syscall each: on #18's catalogue query the writes were 3% of
    // the server's CPU, on the threads that answer requests.
    let (writer, log_writer) = log_writer(
        LOG_LINES_BUFFERED,
        BufWriter::with_capacity(LOG_WRITE_BYTES, std::io::stderr()),
    );
    let dropped = writer.error_counter();
    let logs = match format {
        LogFormat::Json => tracing_subscriber::fmt::layer()
            .json()
            .with_writer(writer)
            .boxed(),
        // Colours only for a person at a terminal: redirected to a file or a log collector,
        // escape codes are noise in every line.
        LogFormat::Pretty => tracing_subscriber::fmt::layer()
            .with_ansi(std::io::stderr().is_terminal())
            .with_writer(writer)
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
        let _ = DROPPED_LOG_LINES.set(dropped);
        if provider.is_some() {
            opentelemetry::global::set_text_map_propagator(TraceContextPropagator::new());
            tracing::info!("exporting traces over OTLP/HTTP");
        }
        Telemetry {
            provider,
            log_writer: Some(log_writer),
        }
    } else {
        if let Some(p) = provider {
            drop(p.shutdown());
        }
        Telemetry::default()
    }
}

/// The writer the log layer writes to: lines queue for a thread that writes them to `out`,
/// and past `queued` waiting lines new ones are dropped (and counted), never waited for.
fn log_writer(queued: usize, out: impl Write + Send + 'static) -> (NonBlocking, WorkerGuard) {
    NonBlockingBuilder::default()
        .lossy(true)
        .buffered_lines_limit(queued)
        .thread_name("trellis-log")
        .finish(out)
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

#[cfg(test)]
mod tests {
    use std::sync::mpsc;
    use std::sync::{Arc, Mutex};

    use tracing_subscriber::fmt::MakeWriter as _;

    use super::*;

    /// Stands in for a stderr nobody reads: each write waits until the test lets it through,
    /// then keeps what was written.
    struct Stalled {
        go: Arc<Mutex<mpsc::Receiver<()>>>,
        written: Arc<Mutex<Vec<u8>>>,
    }

    impl Write for Stalled {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            let _ = self.go.lock().expect("gate").recv();
            self.written.lock().expect("out").extend_from_slice(buf);
            Ok(buf.len())
        }

        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn a_stalled_stderr_drops_and_counts_lines_instead_of_blocking_the_logger() {
        let (open, gate) = mpsc::channel();
        let written = Arc::new(Mutex::new(Vec::new()));
        let out = Stalled {
            go: Arc::new(Mutex::new(gate)),
            written: Arc::clone(&written),
        };
        let (writer, guard) = log_writer(4, out);
        // The writer thread takes the first line and stalls on it; four more queue; the
        // rest are dropped. Every call returns at once (a blocking one would hang here).
        for i in 0..20 {
            writer
                .make_writer()
                .write_all(format!("line {i}\n").as_bytes())
                .expect("queued or dropped, never an error");
        }
        let dropped = writer.error_counter().dropped_lines();
        assert!((15..20).contains(&dropped), "dropped {dropped} of 20");
        // Once stderr drains, what was queued is written in order, whole lines.
        drop(open);
        drop(guard);
        let text = String::from_utf8(written.lock().expect("out").clone()).expect("utf-8");
        assert!(text.starts_with("line 0\n"), "{text}");
        assert_eq!(text.lines().count(), 20 - dropped, "{text}");
    }
}
