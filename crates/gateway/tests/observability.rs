//! Metrics and logs of the real `trellis serve` process.

#![allow(
    clippy::float_cmp,
    reason = "metric values are small integers, exact in f64"
)]

use crate::common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::http::header::CONTENT_TYPE;
use axum::http::{HeaderMap, StatusCode};
use common::{ADMIN, HEAD, parse_exposition, value};
use serde_json::{Value, json};
use testkit::TestDb;

const SCHOOLS: &str = "query Schools { schools(first: 2) { nodes { name } } }";

fn secret() -> String {
    format!("test-secret-{}", uuid::Uuid::now_v7().simple())
}

async fn metrics_count_operations_errors_and_the_pool(db: TestDb) {
    let server = common::spawn(db.url(), &secret(), &[]).await;
    let token = server.token(db.conn(), ADMIN).await;

    let before = server.scrape().await;
    let count = "trellis_graphql_operation_duration_seconds_count";
    let base = value(&before, count, &[("operation", "Schools")]).unwrap_or(0.0);
    for _ in 0..2 {
        let (_, body) = server
            .gql(Some(&token), Some("Schools"), SCHOOLS, json!({}))
            .await;
        assert!(body.get("errors").is_none(), "{body}");
    }
    // Unauthenticated, and a validation failure.
    server.gql(None, Some("Schools"), SCHOOLS, json!({})).await;
    server
        .gql(
            Some(&token),
            Some("Broken"),
            "query Broken { nope }",
            json!({}),
        )
        .await;
    // A mutation refusing its input reports a userError, not a top-level error.
    let (_, body) = server
        .gql(
            Some(&token),
            Some("BadSchool"),
            "mutation BadSchool { schoolCreate(input: { urn: \"12\", name: \"\", phase: PRIMARY, \
             establishmentType: COMMUNITY, localAuthority: \"Barnet\", postcode: \"N1 1AA\" }) \
             { userErrors { code } } }",
            json!({}),
        )
        .await;
    assert!(
        body["data"]["schoolCreate"]["userErrors"][0]["code"].is_string(),
        "{body}"
    );

    let after = server.scrape().await;
    assert_eq!(
        value(&after, count, &[("operation", "Schools")]),
        Some(base + 2.0),
        "two served Schools operations; the unauthenticated one is not recorded by name"
    );
    let errors = "trellis_graphql_errors_total";
    assert_eq!(
        value(
            &after,
            errors,
            &[("operation", "other"), ("code", "UNAUTHENTICATED")]
        ),
        Some(1.0)
    );
    assert_eq!(
        value(
            &after,
            errors,
            &[
                ("operation", "Broken"),
                ("code", "GRAPHQL_VALIDATION_FAILED")
            ]
        ),
        Some(1.0)
    );
    assert!(
        value(
            &after,
            "trellis_graphql_user_errors_total",
            &[("operation", "BadSchool")]
        )
        .is_some_and(|v| v >= 1.0)
    );
    assert!(
        value(
            &after,
            "trellis_http_request_duration_seconds_count",
            &[("route", "/graphql"), ("method", "POST"), ("status", "200")]
        )
        .is_some_and(|v| v >= 3.0)
    );
    assert!(
        value(&after, "trellis_db_pool_connections", &[("state", "max")]).is_some_and(|v| v >= 1.0)
    );
    assert!(
        value(
            &after,
            "trellis_db_pool_connections",
            &[("state", "in_use")]
        )
        .is_some()
    );
    assert_eq!(
        value(
            &after,
            "trellis_build_info",
            &[("version", env!("CARGO_PKG_VERSION"))]
        ),
        Some(1.0)
    );

    assert_eq!(
        value(&after, "trellis_log_lines_dropped_total", &[]),
        Some(0.0),
        "stderr is read: no log line dropped"
    );

    // Not on the API listener: the Ingress routes that port.
    let api = server
        .client
        .get(format!("{}/metrics", server.base))
        .send()
        .await
        .expect("request");
    assert_eq!(api.status(), reqwest::StatusCode::NOT_FOUND);
}

async fn json_logs_carry_request_id_and_operation(db: TestDb) {
    let server = common::spawn(db.url(), &secret(), &[]).await;
    let token = server.token(db.conn(), ADMIN).await;
    let (request_id, body) = server
        .gql(Some(&token), Some("Schools"), SCHOOLS, json!({}))
        .await;
    assert!(body.get("errors").is_none(), "{body}");
    assert!(!request_id.is_empty());
    let log = server.log_containing("graphql operation finished").await;
    let line = log
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .find(|l| l["fields"]["message"] == "graphql operation finished")
        .unwrap_or_else(|| panic!("no JSON line for the operation in:\n{log}"));
    let spans = line["spans"].as_array().expect("span list");
    assert!(
        spans.iter().any(|s| s["request_id"] == request_id.as_str()),
        "{line}"
    );
    assert!(spans.iter().any(|s| s["operation"] == "Schools"), "{line}");

    // A resolver's failure is logged with its path and code inside the operation's span.
    let head = server.token(db.conn(), HEAD).await;
    let (_, body) = server
        .gql(
            Some(&head),
            Some("Users"),
            "query Users { users(first: 1) { nodes { email } } }",
            json!({}),
        )
        .await;
    assert_eq!(
        body["errors"][0]["extensions"]["code"], "FORBIDDEN",
        "{body}"
    );
    let log = server.log_containing("graphql error").await;
    let line = log
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .find(|l| l["fields"]["message"] == "graphql error")
        .unwrap_or_else(|| panic!("no resolver error line in:\n{log}"));
    assert_eq!(line["fields"]["path"], "users", "{line}");
    assert_eq!(line["fields"]["code"], "FORBIDDEN", "{line}");
    let spans = line["spans"].as_array().expect("span list");
    assert!(spans.iter().any(|s| s["operation"] == "Users"), "{line}");
    // No span per resolved field.
    assert!(
        !log.lines()
            .filter_map(|l| serde_json::from_str::<Value>(l).ok())
            .any(|l| l["span"]["name"] == "field"),
        "{log}"
    );
}

/// The pretty format written to a file (stderr is not a terminal) is plain text: no colour
/// escape codes in a log file or collector.
async fn pretty_logs_off_a_terminal_carry_no_colour_codes(db: TestDb) {
    let server = common::spawn(db.url(), &secret(), &[("TRELLIS_LOG_FORMAT", "pretty")]).await;
    let token = server.token(db.conn(), ADMIN).await;
    let (_, body) = server
        .gql(Some(&token), Some("Schools"), SCHOOLS, json!({}))
        .await;
    assert!(body.get("errors").is_none(), "{body}");
    let log = server.log_containing("graphql operation finished").await;
    let line = log
        .lines()
        .find(|l| l.contains("graphql operation finished"))
        .unwrap_or_else(|| panic!("no line for the operation in:\n{log}"));
    assert!(line.contains("Schools"), "{line}");
    assert!(!log.contains('\u{1b}'), "escape codes in:\n{log}");
}

/// Lines still queued for the log writer when SIGTERM arrives are written before the process
/// exits, down to the very last one. The test holds them in the queue by not reading the
/// server's stderr (a pipe) until after the signal: the pipe fills, the writer thread waits on
/// it, and the operations' lines queue behind it.
async fn the_log_is_written_out_on_sigterm(db: TestDb) {
    let mut server = common::spawn_with_piped_stderr(db.url(), &secret(), &[]).await;
    let mut stderr = server.take_stderr().expect("piped");
    let token = server.token(db.conn(), ADMIN).await;
    // Each operation's JSON line is about 1 kB: 200 of them overfill a 64 kB pipe, and stay
    // well inside the writer's queue of 4,096 lines, so none is dropped.
    let mut ids = Vec::new();
    for _ in 0..200 {
        let (request_id, body) = server
            .gql(Some(&token), Some("Schools"), SCHOOLS, json!({}))
            .await;
        assert!(body.get("errors").is_none(), "{body}");
        ids.push(request_id);
    }
    let reader = std::thread::spawn(move || {
        // Start reading a moment after the signal. A server that exits without writing out
        // its queue is gone by then, and its queued lines with it; one that writes it out
        // waits up to a second for the pipe to drain, which this read does.
        std::thread::sleep(Duration::from_millis(200));
        let mut log = String::new();
        std::io::Read::read_to_string(&mut stderr, &mut log).expect("read stderr");
        log
    });
    assert!(server.terminate(), "a clean exit on SIGTERM");
    let log = reader.join().expect("reader");
    let lines: Vec<Value> = log
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect();
    let logged = |id: &str| {
        lines.iter().any(|l| {
            l["fields"]["message"] == "graphql operation finished"
                && l["spans"]
                    .as_array()
                    .is_some_and(|s| s.iter().any(|s| s["request_id"] == id))
        })
    };
    let missing: Vec<&String> = ids.iter().filter(|id| !logged(id)).collect();
    assert!(
        missing.is_empty(),
        "{} of {} operations not logged, the first {:?}",
        missing.len(),
        ids.len(),
        missing.first()
    );
    // The plain-text start-up banner is not JSON; everything else is, and ends in this.
    assert_eq!(
        lines.last().map(|l| &l["fields"]["message"]),
        Some(&json!("shut down cleanly")),
        "the last line logged before exit is missing"
    );
    // The premise: more was logged than the pipe holds, so lines did wait in the queue.
    assert!(log.len() > 64 * 1024, "only {} bytes logged", log.len());
}

/// What the collector was sent: each body with its content type.
type Received = Arc<Mutex<Vec<(String, Vec<u8>)>>>;

/// An OTLP/HTTP collector on loopback that keeps every body it is sent, with its content type.
async fn collector() -> (String, Received) {
    let received = Arc::new(Mutex::new(Vec::new()));
    let store = Arc::clone(&received);
    let app = axum::Router::new().route(
        "/v1/traces",
        axum::routing::post(move |headers: HeaderMap, body: Bytes| {
            let store = Arc::clone(&store);
            async move {
                let kind = headers
                    .get(CONTENT_TYPE)
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or_default()
                    .to_owned();
                store.lock().expect("store").push((kind, body.to_vec()));
                // An empty protobuf message is a valid ExportTraceServiceResponse.
                StatusCode::OK
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move { axum::serve(listener, app).await.expect("collector") });
    (format!("http://{addr}"), received)
}

/// A span as the collector decoded it.
#[derive(Debug, Clone)]
struct Exported {
    name: String,
    kind: i32,
    trace_id: Vec<u8>,
    span_id: Vec<u8>,
    parent: Vec<u8>,
    status: Option<(i32, String)>,
    attributes: Vec<(String, String)>,
}

impl Exported {
    fn attr(&self, key: &str) -> Option<&str> {
        self.attributes
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
}

fn decode(bodies: &[(String, Vec<u8>)]) -> Vec<Exported> {
    use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
    use opentelemetry_proto::tonic::common::v1::any_value::Value as Any;
    use prost::Message as _;
    let mut spans = Vec::new();
    for (kind, body) in bodies {
        assert_eq!(kind, "application/x-protobuf");
        let request = ExportTraceServiceRequest::decode(body.as_slice()).expect("OTLP protobuf");
        for span in request
            .resource_spans
            .iter()
            .flat_map(|r| &r.scope_spans)
            .flat_map(|s| &s.spans)
        {
            let attributes = span
                .attributes
                .iter()
                .map(|kv| {
                    let value = match kv.value.as_ref().and_then(|v| v.value.as_ref()) {
                        Some(Any::StringValue(s)) => s.clone(),
                        Some(Any::IntValue(i)) => i.to_string(),
                        Some(Any::BoolValue(b)) => b.to_string(),
                        Some(Any::DoubleValue(d)) => d.to_string(),
                        other => format!("{other:?}"),
                    };
                    (kv.key.clone(), value)
                })
                .collect();
            spans.push(Exported {
                name: span.name.clone(),
                kind: span.kind,
                trace_id: span.trace_id.clone(),
                span_id: span.span_id.clone(),
                parent: span.parent_span_id.clone(),
                status: span.status.as_ref().map(|s| (s.code, s.message.clone())),
                attributes,
            });
        }
    }
    spans
}

fn hex(text: &str) -> Vec<u8> {
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&text[i..i + 2], 16).expect("hex"))
        .collect()
}

/// Waits until a span `pick` accepts has reached the collector; every span received then.
async fn exported_until(
    server: &common::Server,
    received: &Received,
    pick: impl Fn(&Exported) -> bool,
) -> Vec<Exported> {
    // The batch goes out within the schedule delay; allow a saturated machine plenty more.
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        let spans = decode(&received.lock().expect("store"));
        if spans.iter().any(&pick) {
            return spans;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the span did not reach the collector; got {spans:#?}\nlog:\n{}",
            server.log_text()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// OpenTelemetry's semantic conventions: an HTTP server span that continues the caller's
/// trace, a GraphQL span named by the operation with its hash and not its text, a span per
/// DataLoader batch beneath it, none per field, and errors marking the span.
async fn traces_reach_an_otlp_collector(db: TestDb) {
    const TRACE: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
    const CALLER_SPAN: &str = "00f067aa0ba902b7";
    let (endpoint, received) = collector().await;
    let server = common::spawn(
        db.url(),
        &secret(),
        &[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint.as_str()),
            ("OTEL_BSP_SCHEDULE_DELAY", "100"),
        ],
    )
    .await;
    let token = server.token(db.conn(), ADMIN).await;
    let query =
        "query Schools { schools(first: 2) { nodes { name partnerships { nodes { name } } } } }";
    let res = server
        .client
        .post(format!("{}/graphql", server.base))
        .bearer_auth(&token)
        .header("traceparent", format!("00-{TRACE}-{CALLER_SPAN}-01"))
        .json(&json!({ "query": query, "operationName": "Schools" }))
        .send()
        .await
        .expect("request");
    let body: Value = res.json().await.expect("json");
    assert!(body.get("errors").is_none(), "{body}");

    let spans = exported_until(&server, &received, |s| s.name == "query Schools").await;
    let http = spans
        .iter()
        .find(|s| s.name == "POST /graphql" && s.trace_id == hex(TRACE))
        .unwrap_or_else(|| panic!("no HTTP span in the caller's trace: {spans:#?}"));
    assert_eq!(http.kind, 2, "SERVER: {http:?}");
    assert_eq!(http.parent, hex(CALLER_SPAN), "{http:?}");
    assert_eq!(http.attr("http.request.method"), Some("POST"));
    assert_eq!(http.attr("http.route"), Some("/graphql"));
    assert_eq!(http.attr("http.response.status_code"), Some("200"));
    assert_eq!(http.attr("url.scheme"), Some("http"));
    assert!(http.attr("server.address").is_some(), "{http:?}");

    let op = spans
        .iter()
        .find(|s| s.name == "query Schools")
        .expect("operation span");
    assert_eq!(
        op.parent, http.span_id,
        "the operation is the request's child"
    );
    assert_eq!(op.trace_id, hex(TRACE));
    assert_eq!(op.attr("graphql.operation.name"), Some("Schools"));
    assert_eq!(op.attr("graphql.operation.type"), Some("query"));
    let hash = gateway::http::persisted::hash(query);
    assert_eq!(op.attr("graphql.document.hash"), Some(hash.as_str()));
    assert!(
        spans
            .iter()
            .flat_map(|s| &s.attributes)
            .all(|(_, v)| !v.contains("schools(first")),
        "the document's text was exported"
    );
    assert!(
        spans
            .iter()
            .any(|s| s.name.starts_with("dataloader ") && s.parent == op.span_id),
        "no DataLoader batch under the operation: {spans:#?}"
    );
    assert!(!spans.iter().any(|s| s.name == "field"), "a span per field");

    // An error marks the operation's span with its code.
    let head = server.token(db.conn(), HEAD).await;
    let (_, body) = server
        .gql(
            Some(&head),
            Some("Users"),
            "query Users { users(first: 1) { nodes { email } } }",
            json!({}),
        )
        .await;
    assert_eq!(body["errors"][0]["extensions"]["code"], "FORBIDDEN");
    let spans = exported_until(&server, &received, |s| s.name == "query Users").await;
    let op = spans
        .iter()
        .find(|s| s.name == "query Users")
        .expect("span");
    assert_eq!(op.status, Some((2, "FORBIDDEN".to_owned())), "{op:?}");
    server
        .log_containing("exporting traces over OTLP/HTTP")
        .await;
}

/// Whether `promtool` is installed; if not, a banner, and a failure under `CI=true` (where
/// `.ci/run` installs Debian's `prometheus`, which ships it).
fn promtool_available() -> bool {
    if std::process::Command::new("promtool")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
    {
        return true;
    }
    assert!(
        std::env::var("CI").as_deref() != Ok("true"),
        "CI=true and promtool is not installed (apt-get install prometheus)"
    );
    eprintln!(
        "\n************************************************************************\n\
         *  promtool not found (Debian: apt-get install prometheus).\n\
         *  `promtool check metrics` on /metrics is SKIPPED (passes without running).\n\
         ************************************************************************\n"
    );
    false
}

async fn get_metrics(server: &common::Server, accept: Option<&str>) -> (String, String) {
    let mut req = server.client.get(&server.metrics);
    if let Some(accept) = accept {
        req = req.header("accept", accept);
    }
    let res = req.send().await.expect("scrape");
    assert_eq!(res.status(), reqwest::StatusCode::OK);
    let content_type = res.headers()["content-type"]
        .to_str()
        .expect("content type")
        .to_owned();
    (content_type, res.text().await.expect("body"))
}

/// What Prometheus and promtool read: OpenMetrics when asked for, else the 0.0.4 text that
/// `promtool check metrics` accepts, with 4xx and 413 answers counted.
async fn the_exposition_passes_promtool_in_both_formats(db: TestDb) {
    let server = common::spawn(db.url(), &secret(), &[("TRELLIS_BODY_LIMIT_BYTES", "2048")]).await;
    let token = server.token(db.conn(), ADMIN).await;
    server
        .gql(Some(&token), Some("Schools"), SCHOOLS, json!({}))
        .await;
    let too_large = server
        .client
        .post(format!("{}/graphql", server.base))
        .header("content-type", "application/json")
        .body(format!(
            "{{\"query\": \"{{ viewer {{ scopes }} }}{}\"}}",
            " ".repeat(4096)
        ))
        .send()
        .await
        .expect("post");
    assert_eq!(too_large.status(), reqwest::StatusCode::PAYLOAD_TOO_LARGE);

    let (content_type, text) = get_metrics(&server, None).await;
    assert!(
        content_type.starts_with("text/plain; version=0.0.4"),
        "{content_type}"
    );
    assert!(!text.contains("# EOF"), "{text}");
    // Prometheus's own Accept header.
    let (content_type, om) = get_metrics(
        &server,
        Some("application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1"),
    )
    .await;
    assert!(
        content_type.starts_with("application/openmetrics-text"),
        "{content_type}"
    );
    let samples = parse_exposition(&om);
    assert_eq!(
        value(
            &samples,
            "trellis_http_request_duration_seconds_count",
            &[("route", "/graphql"), ("method", "POST"), ("status", "413")]
        ),
        Some(1.0),
        "a 413 is counted"
    );
    // The standard process metrics, read from /proc, in both formats.
    let server_pid = server.pid();
    let status = std::fs::read_to_string(format!("/proc/{server_pid}/status")).expect("status");
    let rss_kib: f64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .expect("VmRSS");
    let rss = value(&samples, "process_resident_memory_bytes", &[]).expect("RSS");
    assert!(
        (rss / 1024.0 - rss_kib).abs() < rss_kib / 2.0,
        "RSS {rss} B against /proc's {rss_kib} kB"
    );
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs_f64();
    let started = value(&samples, "process_start_time_seconds", &[]).expect("start time");
    assert!(
        started <= now + 1.0 && now - started < 600.0,
        "started {started}, now {now}"
    );
    assert!(value(&samples, "process_cpu_seconds_total", &[]).expect("cpu") > 0.0);
    assert!(value(&samples, "process_open_fds", &[]).expect("fds") >= 3.0);
    assert!(value(&samples, "process_virtual_memory_bytes", &[]).expect("vm") >= rss);
    assert!(value(&samples, "process_max_fds", &[]).expect("max fds") >= 3.0);
    for line in [
        "# TYPE process_cpu_seconds_total counter",
        "# TYPE process_resident_memory_bytes gauge",
        "# TYPE process_open_fds gauge",
    ] {
        assert!(text.contains(line), "0.0.4 text lacks {line}");
    }

    if !promtool_available() {
        return;
    }
    let mut child = std::process::Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("promtool starts");
    std::io::Write::write_all(&mut child.stdin.take().expect("stdin"), text.as_bytes())
        .expect("write");
    let out = child.wait_with_output().expect("promtool finishes");
    assert!(
        out.status.success(),
        "promtool check metrics failed:\n{}{}\n--- the exposition ---\n{text}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Made-up HTTP methods and operation names from callers who are not signed in do not grow
/// the number of series.
async fn junk_from_clients_does_not_grow_the_series(db: TestDb) {
    let server = common::spawn(db.url(), &secret(), &[]).await;
    let url = format!("{}/graphql", server.base);
    let junk = |i: usize| {
        server
            .client
            .request(
                reqwest::Method::from_bytes(format!("JUNK{i}").as_bytes()).expect("method"),
                &url,
            )
            .send()
    };
    junk(0).await.expect("junk");
    server.gql(None, Some("Junk0"), SCHOOLS, json!({})).await;
    let before = server.scrape().await.len();
    for i in 1..20 {
        junk(i).await.expect("junk");
        server
            .gql(None, Some(&format!("Junk{i}")), SCHOOLS, json!({}))
            .await;
    }
    let after = server.scrape().await;
    assert_eq!(after.len(), before, "series grew with junk");
    assert!(
        value(
            &after,
            "trellis_http_request_duration_seconds_count",
            &[("method", "other"), ("route", "/graphql")]
        )
        .is_some_and(|v| v >= 20.0)
    );
    assert!(
        !after.iter().any(|s| format!("{s:?}").contains("Junk")),
        "junk names recorded"
    );
}

testkit::db_tests!(
    the_exposition_passes_promtool_in_both_formats,
    junk_from_clients_does_not_grow_the_series,
    metrics_count_operations_errors_and_the_pool,
    json_logs_carry_request_id_and_operation,
    pretty_logs_off_a_terminal_carry_no_colour_codes,
    the_log_is_written_out_on_sigterm,
    traces_reach_an_otlp_collector
);

#[test]
fn the_parser_is_strict() {
    let good = "# HELP a_total x\n# TYPE a counter\na_total{code=\"X\",q=\"a\\\"b\"} 3\n# EOF\n";
    let samples = parse_exposition(good);
    assert_eq!(samples[0].label("q"), Some("a\"b"));
    assert_eq!(samples[0].value, 3.0);
    for bad in [
        "a_total 1\n# EOF\n",                           // undeclared
        "# TYPE a counter\na_total{code=X} 1\n# EOF\n", // unquoted
        "# TYPE a counter\na_total 1\n",                // no EOF
        "# TYPE a counter\na_total one\n# EOF\n",       // not a number
    ] {
        assert!(
            std::panic::catch_unwind(|| parse_exposition(bad)).is_err(),
            "{bad}"
        );
    }
}
