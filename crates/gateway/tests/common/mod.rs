//! Runs the real `trellis serve` binary (the one Cargo built for this package's tests) as a
//! child process on a database prepared by testkit, and talks to it over HTTP.

#![allow(dead_code)]

use std::io::Read;
use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

pub const ADMIN: &str = "admin@trellis.example";
pub const FINANCE: &str = "finance@trellis.example";
pub const HEAD: &str = "head@holly-park.example";

/// A `trellis serve` process; killed when dropped.
pub struct Server {
    child: Child,
    pub base: String,
    pub metrics: String,
    pub secret: String,
    pub log: PathBuf,
    _dir: tempfile::TempDir,
    pub client: reqwest::Client,
}

impl Server {
    /// The `trellis serve` process's id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The read end of the server's stderr, when it was spawned with a pipe for it.
    pub fn take_stderr(&mut self) -> Option<std::process::ChildStderr> {
        self.child.stderr.take()
    }

    /// Sends SIGTERM, as an orchestrator stopping the pod does, and waits for the process to
    /// exit; whether it exited successfully.
    pub fn terminate(&mut self) -> bool {
        // The shell's `kill`: sending a signal from Rust itself needs `unsafe` or a new crate.
        let sent = Command::new("sh")
            .args(["-c", &format!("kill -TERM {}", self.child.id())])
            .status()
            .expect("sh runs");
        assert!(sent.success(), "kill -TERM failed");
        self.child.wait().expect("trellis exits").success()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

/// Starts `trellis serve` on `database_url` with the shared `secret` and extra environment.
pub async fn spawn(database_url: &str, secret: &str, env: &[(&str, &str)]) -> Server {
    spawn_with(database_url, secret, env, false).await
}

/// As [`spawn`], with the server's stderr a pipe the test reads (or leaves unread) itself:
/// take it with [`Server::take_stderr`]. [`Server::log_text`] is then empty.
pub async fn spawn_with_piped_stderr(
    database_url: &str,
    secret: &str,
    env: &[(&str, &str)],
) -> Server {
    spawn_with(database_url, secret, env, true).await
}

/// How many times [`spawn_with`] starts the server before it gives up on finding free ports.
const PORT_ATTEMPTS: u32 = 5;

async fn spawn_with(
    database_url: &str,
    secret: &str,
    env: &[(&str, &str)],
    piped_stderr: bool,
) -> Server {
    let _ = rustls::crypto::ring::default_provider().install_default();
    // `free_port` finds a port that is free now, not one reserved: another test process can
    // bind it before trellis does. The server then exits with "Address already in use", and
    // is started again on other ports rather than failing a test that is not about ports.
    for attempt in 1..=PORT_ATTEMPTS {
        let mut server = start(database_url, secret, env, piped_stderr);
        match server.wait_healthy().await {
            Ok(()) => return server,
            Err(output) if output.contains("Address already in use") && attempt < PORT_ATTEMPTS => {
                eprintln!("trellis lost a port race (attempt {attempt}); starting it again");
            }
            Err(output) => panic!("trellis did not become healthy; log:\n{output}"),
        }
    }
    unreachable!("the last attempt returns or panics")
}

/// Starts `trellis serve` on two ports that are free at this moment.
fn start(database_url: &str, secret: &str, env: &[(&str, &str)], piped_stderr: bool) -> Server {
    let dir = tempfile::tempdir().expect("tempdir");
    let log = dir.path().join("server.log");
    let (port, metrics_port) = (free_port(), free_port());
    let mut command = Command::new(env!("CARGO_BIN_EXE_trellis"));
    command
        .arg("serve")
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("TRELLIS_DATABASE_URL", database_url)
        .env("TRELLIS_LISTEN", format!("127.0.0.1:{port}"))
        .env(
            "TRELLIS_METRICS_LISTEN",
            format!("127.0.0.1:{metrics_port}"),
        )
        .env("TRELLIS_JWT_SECRET", secret)
        .env("TRELLIS_LOG_FORMAT", "json")
        .env("TRELLIS_JOBS", "false")
        // These tests drive replicas hard; the rate limits have tests of their own (e2e).
        .env("TRELLIS_RATE_LIMIT_PER_MIN", "0")
        .env("TRELLIS_RATE_LIMIT_ANONYMOUS_PER_MIN", "0")
        .env("RUST_LOG", "info,sqlx=warn,sea_orm=warn")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(if piped_stderr {
            Stdio::piped()
        } else {
            std::fs::File::create(&log).expect("log file").into()
        });
    for (key, value) in env {
        command.env(key, value);
    }
    let child = command.spawn().expect("trellis starts");
    Server {
        child,
        base: format!("http://127.0.0.1:{port}"),
        metrics: format!("http://127.0.0.1:{metrics_port}/metrics"),
        secret: secret.to_owned(),
        log,
        _dir: dir,
        client: reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .build()
            .expect("client"),
    }
}

impl Server {
    /// Waits for `/healthz` to answer; on failure, what the server wrote to stderr (the log
    /// file, or the pipe once the process has exited) and how it ended.
    async fn wait_healthy(&mut self) -> Result<(), String> {
        let deadline = Instant::now() + Duration::from_mins(1);
        loop {
            if let Ok(r) = self
                .client
                .get(format!("{}/healthz", self.base))
                .send()
                .await
                && r.status().is_success()
            {
                return Ok(());
            }
            // A server that has exited will never answer: say so now, not after a minute.
            if let Some(status) = self.child.try_wait().expect("the child's status") {
                let mut output = self.log_text();
                if let Some(mut pipe) = self.child.stderr.take() {
                    let _ = pipe.read_to_string(&mut output);
                }
                return Err(format!("{output}\n(trellis exited: {status})"));
            }
            if Instant::now() >= deadline {
                return Err(format!("{}\n(no answer within a minute)", self.log_text()));
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// The log once it holds `needle`. The server writes its log from a thread of its own,
    /// a moment after the response that a line records, so a test waits for the line.
    pub async fn log_containing(&self, needle: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let log = self.log_text();
            if log.contains(needle) {
                return log;
            }
            assert!(
                Instant::now() < deadline,
                "no {needle:?} in the log:\n{log}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// A Trellis-minted token for a demo user of `db`.
    pub async fn token(&self, db: &sea_orm::DatabaseConnection, email: &str) -> String {
        let user = membership::people::users::find_active_by_email(db, email)
            .await
            .expect("lookup")
            .expect("demo user exists");
        gateway::auth::token::mint_local(
            self.secret.as_bytes(),
            &user.id.to_string(),
            &user.email,
            Duration::from_mins(10),
        )
    }

    /// POSTs a GraphQL request; returns the response's request id and body.
    pub async fn gql(
        &self,
        bearer: Option<&str>,
        operation: Option<&str>,
        query: &str,
        variables: Value,
    ) -> (String, Value) {
        let mut req = self
            .client
            .post(format!("{}/graphql", self.base))
            .header("accept", "application/graphql-response+json")
            .json(&json!({ "query": query, "variables": variables, "operationName": operation }));
        if let Some(b) = bearer {
            req = req.bearer_auth(b);
        }
        let res = req.send().await.expect("request");
        let id = res
            .headers()
            .get("x-request-id")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        (id, res.json().await.expect("JSON body"))
    }

    /// The `/metrics` exposition, parsed strictly.
    pub async fn scrape(&self) -> Vec<Sample> {
        let res = self
            .client
            .get(&self.metrics)
            .header("accept", "application/openmetrics-text; version=1.0.0")
            .send()
            .await
            .expect("scrape");
        assert!(
            res.status().is_success(),
            "/metrics answered {}",
            res.status()
        );
        let content_type = res
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        assert!(
            content_type.starts_with("application/openmetrics-text"),
            "{content_type}"
        );
        parse_exposition(&res.text().await.expect("body"))
    }
}

/// One sample line of the exposition format.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    pub name: String,
    pub labels: Vec<(String, String)>,
    pub value: f64,
}

impl Sample {
    pub fn label(&self, key: &str) -> Option<&str> {
        self.labels
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
}

/// The value of the sample `name` whose labels include every pair of `labels`, if any.
pub fn value(samples: &[Sample], name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    samples
        .iter()
        .find(|s| s.name == name && labels.iter().all(|(k, v)| s.label(k) == Some(*v)))
        .map(|s| s.value)
}

/// A strict parser of the OpenMetrics text format as far as Trellis uses it: every line is
/// a `# HELP/TYPE/UNIT` comment, a sample of a declared family, or the final `# EOF`.
/// Panics on anything else, so a malformed exposition fails the test.
pub fn parse_exposition(text: &str) -> Vec<Sample> {
    let mut families: Vec<(String, String)> = Vec::new();
    let mut samples = Vec::new();
    let mut saw_eof = false;
    for line in text.lines() {
        assert!(!saw_eof, "content after # EOF: {line}");
        if line == "# EOF" {
            saw_eof = true;
            continue;
        }
        if let Some(comment) = line.strip_prefix("# ") {
            let mut parts = comment.splitn(3, ' ');
            let kind = parts.next().unwrap_or_default();
            let family = parts.next().expect("a family name").to_owned();
            let rest = parts.next().expect("a comment body").to_owned();
            match kind {
                "TYPE" => {
                    assert!(
                        [
                            "counter",
                            "gauge",
                            "histogram",
                            "info",
                            "summary",
                            "unknown"
                        ]
                        .contains(&rest.as_str()),
                        "unknown type {rest}"
                    );
                    families.push((family, rest));
                }
                "HELP" | "UNIT" => {}
                other => panic!("unknown comment {other}: {line}"),
            }
            continue;
        }
        let sample = parse_sample(line);
        let declared = families.iter().any(|(family, ty)| {
            let suffixes: &[&str] = match ty.as_str() {
                "counter" => &["_total", "_created"],
                "histogram" => &["_bucket", "_sum", "_count", "_created"],
                "info" => &["_info"],
                _ => &[""],
            };
            suffixes
                .iter()
                .any(|s| sample.name == format!("{family}{s}"))
        });
        assert!(declared, "sample of an undeclared family: {line}");
        samples.push(sample);
    }
    assert!(saw_eof, "the exposition must end with # EOF");
    samples
}

fn parse_sample(line: &str) -> Sample {
    let name_end = line
        .find(['{', ' '])
        .unwrap_or_else(|| panic!("malformed sample: {line}"));
    let name = &line[..name_end];
    assert!(
        !name.is_empty()
            && name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b':'),
        "bad metric name in {line}"
    );
    let mut rest = &line[name_end..];
    let mut labels = Vec::new();
    if let Some(body) = rest.strip_prefix('{') {
        let mut chars = body.char_indices();
        let mut key = String::new();
        loop {
            let (i, c) = chars
                .next()
                .unwrap_or_else(|| panic!("unterminated labels: {line}"));
            match c {
                '}' if key.is_empty() => {
                    rest = &body[i + 1..];
                    break;
                }
                '=' => {
                    assert_eq!(chars.next().map(|(_, c)| c), Some('"'), "{line}");
                    let mut value = String::new();
                    loop {
                        match chars.next().map(|(_, c)| c) {
                            Some('"') => break,
                            Some('\\') => match chars.next().map(|(_, c)| c) {
                                Some('n') => value.push('\n'),
                                Some(c @ ('"' | '\\')) => value.push(c),
                                other => panic!("bad escape {other:?} in {line}"),
                            },
                            Some(c) => value.push(c),
                            None => panic!("unterminated label value: {line}"),
                        }
                    }
                    labels.push((std::mem::take(&mut key), value));
                    match chars.next() {
                        Some((_, ',')) => {}
                        Some((j, '}')) => {
                            rest = &body[j + 1..];
                            break;
                        }
                        other => panic!("expected , or }} after a label, got {other:?}: {line}"),
                    }
                }
                c if c.is_ascii_alphanumeric() || c == '_' => key.push(c),
                c => panic!("bad character {c:?} in label name: {line}"),
            }
        }
    }
    let value = rest
        .strip_prefix(' ')
        .unwrap_or_else(|| panic!("no value: {line}"));
    let value = value.split(' ').next().unwrap_or_default();
    let value = match value {
        "+Inf" => f64::INFINITY,
        "-Inf" => f64::NEG_INFINITY,
        v => v
            .parse()
            .unwrap_or_else(|_| panic!("bad value {v:?}: {line}")),
    };
    Sample {
        name: name.to_owned(),
        labels,
        value,
    }
}

pub use testkit::graphql_ws::{Refused, Subscriber};

impl Server {
    /// Subscribes to `query` over graphql-ws as `bearer` ([`Subscriber::open`]).
    pub async fn subscribe(
        &self,
        bearer: &str,
        query: &str,
        variables: Value,
    ) -> Result<Subscriber, Refused> {
        Subscriber::open(&self.base, bearer, query, variables).await
    }
}
