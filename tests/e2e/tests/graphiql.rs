//! GraphiQL is served by Trellis itself and works with the network closed, and the example
//! operations of `schema/examples/` are GraphiQL's starting tabs and run, each as the user
//! group it is written for, against the demo data.
//!
//! The browser test drives Debian's `chromium` headless over the DevTools protocol, with every
//! origin but loopback unreachable (a dead proxy and a resolver that resolves nothing). Without
//! chromium it is skipped with a banner, except under `CI=true`, where it fails (`.ci/run`
//! installs it).

use crate::common;

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use common::{ADMIN, TestApp};
use futures::{SinkExt as _, StreamExt as _};
use gateway::http::graphiql::{ASSETS, CSP, EXAMPLES};
use kernel::SystemClock;
use reqwest::StatusCode;
use serde_json::{Value, json};
use testkit::TestDb;
use tokio_tungstenite::tungstenite::Message;

fn examples_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../schema/examples")
}

/// The `# as: …` line of an example: the demo user, or `api-key SCOPE`.
fn runs_as(example: &str) -> &str {
    example
        .lines()
        .find_map(|l| l.strip_prefix("# as: "))
        .map_or_else(|| panic!("no `# as:` line in\n{example}"), str::trim)
}

/// A bearer credential for an example's `# as:` line.
async fn credential(app: &TestApp, who: &str) -> String {
    if let Some(scope) = who.strip_prefix("api-key ") {
        let data = app
            .data_as(
                ADMIN,
                "mutation($scope: Scope!) { apiKeyCreate(input: { name: \"Example integrator\", \
                 scopes: [$scope] }) { secret userErrors { code } } }",
                json!({ "scope": scope }),
            )
            .await;
        data["apiKeyCreate"]["secret"]
            .as_str()
            .unwrap_or_else(|| panic!("no key: {data}"))
            .to_owned()
    } else {
        app.token(who).await
    }
}

/// Whether a JSON value holds any non-empty list or scalar besides nulls and empty lists.
fn has_content(value: &Value) -> bool {
    match value {
        Value::Null => false,
        Value::Array(items) => items.iter().any(has_content),
        Value::Object(fields) => fields.values().any(has_content),
        _ => true,
    }
}

/// Every file under `schema/examples/` is a starting tab, one operation each, and runs without
/// errors as its user group (its `# as:` line) against the demo data, answering something for
/// each of its root fields (but those its `# empty in the demo:` line names).
async fn every_example_runs_as_its_user_group(db: TestDb) {
    let mut on_disk: Vec<String> = std::fs::read_dir(examples_dir())
        .expect("schema/examples")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .filter(|name| name.to_ascii_lowercase().ends_with(".graphql"))
        .collect();
    on_disk.sort();
    let mut embedded: Vec<String> = EXAMPLES.iter().map(|(n, _)| (*n).to_owned()).collect();
    embedded.sort();
    assert_eq!(
        on_disk, embedded,
        "schema/examples/ and gateway::http::graphiql::EXAMPLES must list the same files"
    );

    let app = TestApp::spawn(db).await;
    common::seed_every_demo(app.db.conn(), &SystemClock).await;
    // Credentials first: the integrator's key is one of the keys the admin's example lists.
    let mut bearers = Vec::new();
    for (_, example) in EXAMPLES {
        bearers.push(credential(&app, runs_as(example)).await);
    }
    let mut groups = Vec::new();
    for ((name, example), bearer) in EXAMPLES.iter().zip(&bearers) {
        let on_disk = std::fs::read_to_string(examples_dir().join(name)).expect("example");
        assert_eq!(&on_disk, example, "{name}: the binary embeds another text");
        let operations = example
            .lines()
            .filter(|l| l.starts_with("query ") || l.starts_with("mutation "))
            .count();
        assert_eq!(operations, 1, "{name}: one named operation per tab");
        let who = runs_as(example);
        groups.push(who.to_owned());
        let (status, body) = app.gql(Some(bearer), example, json!({})).await;
        assert_eq!(status, StatusCode::OK, "{name} as {who}: {body}");
        assert!(body.get("errors").is_none(), "{name} as {who}: {body}");
        let may_be_empty: Vec<&str> = example
            .lines()
            .find_map(|l| l.strip_prefix("# empty in the demo: "))
            .map(|l| {
                l.split([' ', ','])
                    .take_while(|w| !w.starts_with('('))
                    .collect()
            })
            .unwrap_or_default();
        let data = body["data"].as_object().expect("data");
        for (field, value) in data {
            assert!(
                has_content(value) || may_be_empty.contains(&field.as_str()),
                "{name} as {who}: `{field}` came back empty: {value}"
            );
        }
    }
    for group in [
        "head@holly-park.example",
        "staff@holly-park.example",
        "finance@trellis.example",
        "admin@trellis.example",
        "api-key DIRECTORY_READ",
    ] {
        assert!(groups.iter().any(|g| g == group), "no example for {group}");
    }
}

/// The page and its assets: same-origin only, a CSP, integrity hashes, cacheable assets.
async fn the_page_and_its_assets_come_from_trellis(db: TestDb) {
    let app = TestApp::spawn(db).await;
    let res = app
        .client
        .get(format!("{}/graphiql", app.base))
        .send()
        .await
        .expect("page");
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(
        res.headers()["content-security-policy"]
            .to_str()
            .expect("CSP"),
        CSP
    );
    let page = res.text().await.expect("page text");
    assert!(
        !page.contains("https://") && !page.contains("http://"),
        "the page names another origin:\n{page}"
    );
    for (_, example) in EXAMPLES {
        let first = example
            .lines()
            .find(|l| l.starts_with("query "))
            .expect("op");
        let escaped = serde_json::to_string(first).expect("json");
        assert!(
            page.contains(escaped.trim_matches('"')),
            "the tabs lack {first}"
        );
    }
    for asset in ASSETS {
        let at = page
            .find(&format!("/graphiql/assets/{}?v=", asset.name))
            .unwrap_or_else(|| panic!("{} is not linked", asset.name));
        let url: String = page[at..].chars().take_while(|c| *c != '"').collect();
        let res = app
            .client
            .get(format!("{}{url}", app.base))
            .send()
            .await
            .expect("asset");
        assert_eq!(res.status(), StatusCode::OK, "{url}");
        assert_eq!(res.headers()["content-type"], asset.content_type, "{url}");
        assert_eq!(
            res.headers()["cache-control"],
            "public, max-age=31536000, immutable",
            "{url}"
        );
        let etag = res.headers()["etag"].clone();
        assert_eq!(&res.bytes().await.expect("bytes")[..], asset.bytes, "{url}");
        // Without the current version it is revalidated, and an unchanged one is 304.
        let plain = format!("{}/graphiql/assets/{}", app.base, asset.name);
        let res = app.client.get(&plain).send().await.expect("asset");
        assert_eq!(res.headers()["cache-control"], "no-cache", "{plain}");
        let res = app
            .client
            .get(&plain)
            .header("if-none-match", etag)
            .send()
            .await
            .expect("asset");
        assert_eq!(res.status(), StatusCode::NOT_MODIFIED, "{plain}");
    }
    let res = app
        .client
        .get(format!("{}/graphiql/assets/nope.js", app.base))
        .send()
        .await
        .expect("missing");
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
}

// --- headless Chromium ----------------------------------------------------------------------

/// The chromium binary, if installed; if not, a banner, and a failure under `CI=true`.
fn chromium() -> Option<&'static str> {
    for candidate in ["chromium", "chromium-browser", "google-chrome"] {
        if std::process::Command::new(candidate)
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success())
        {
            return Some(candidate);
        }
    }
    assert!(
        std::env::var("CI").as_deref() != Ok("true"),
        "CI=true and chromium is not installed (apt-get install chromium)"
    );
    eprintln!(
        "\n************************************************************************\n\
         *  chromium not found (Debian: apt-get install chromium).\n\
         *  The headless GraphiQL test is SKIPPED (it passes without running).\n\
         ************************************************************************\n"
    );
    None
}

/// A DevTools-protocol session with one page, collecting the events it sees.
struct Cdp {
    socket: tokio_tungstenite::WebSocketStream<
        tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>,
    >,
    next_id: u64,
    events: Vec<Value>,
}

impl Cdp {
    async fn call(&mut self, method: &str, params: Value) -> Value {
        self.next_id += 1;
        let id = self.next_id;
        let message = json!({ "id": id, "method": method, "params": params }).to_string();
        self.socket
            .send(Message::text(message))
            .await
            .expect("send to chromium");
        loop {
            let message = tokio::time::timeout(Duration::from_secs(30), self.socket.next())
                .await
                .unwrap_or_else(|_| panic!("chromium did not answer {method}"))
                .expect("chromium closed the DevTools socket")
                .expect("DevTools message");
            let Message::Text(text) = message else {
                continue;
            };
            let value: Value = serde_json::from_str(&text).expect("DevTools JSON");
            if value["id"] == id {
                assert!(
                    value.get("error").is_none(),
                    "{method} failed: {}",
                    value["error"]
                );
                return value["result"].clone();
            }
            self.events.push(value);
        }
    }

    /// Evaluates `expression` in the page; returns its value (promises awaited).
    async fn eval(&mut self, expression: &str) -> Value {
        let result = self
            .call(
                "Runtime.evaluate",
                json!({ "expression": expression, "returnByValue": true, "awaitPromise": true }),
            )
            .await;
        assert!(
            result.get("exceptionDetails").is_none(),
            "{expression} threw: {}",
            result["exceptionDetails"]
        );
        result["result"]["value"].clone()
    }

    /// The events seen, one line each (method and URL or message), for failure messages.
    fn summary(&self) -> Vec<String> {
        self.events
            .iter()
            .map(|e| {
                let p = &e["params"];
                let detail = p["request"]["url"]
                    .as_str()
                    .or_else(|| p["response"]["url"].as_str())
                    .map_or_else(
                        || {
                            let text = p.to_string();
                            text.chars().take(300).collect()
                        },
                        str::to_owned,
                    );
                format!("{} {detail}", e["method"].as_str().unwrap_or_default())
            })
            .collect()
    }

    /// Evaluates `expression` until it is truthy; panics after `within`.
    async fn wait_for(&mut self, expression: &str, within: Duration) -> Value {
        let deadline = Instant::now() + within;
        loop {
            let value = self.eval(expression).await;
            if !matches!(value, Value::Null | Value::Bool(false)) && value != json!("") {
                return value;
            }
            assert!(
                Instant::now() < deadline,
                "waited {within:?} for {expression}; page events: {:#?}",
                self.summary()
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
}

/// Kills chromium and removes its profile when the test ends, however it ends.
struct Browser {
    child: tokio::process::Child,
    profile: PathBuf,
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.child.start_kill();
        // Chromium writes into its profile until it has exited: removing it sooner left a
        // profile in the temp directory after every run.
        let deadline = Instant::now() + Duration::from_secs(5);
        while matches!(self.child.try_wait(), Ok(None)) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        for _ in 0..10 {
            if std::fs::remove_dir_all(&self.profile).is_ok() || !self.profile.exists() {
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

/// Starts headless chromium able to reach loopback only; returns it and its DevTools port.
async fn launch(binary: &str) -> (Browser, u16) {
    let profile = std::env::temp_dir().join(format!(
        "trellis-graphiql-chromium-{}",
        uuid::Uuid::now_v7().simple()
    ));
    std::fs::create_dir_all(&profile).expect("profile dir");
    let child = tokio::process::Command::new(binary)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--no-first-run",
            "--no-default-browser-check",
            "--disable-extensions",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--remote-debugging-port=0",
            // The network is closed: every request goes to a proxy that is not there, and no
            // name resolves; Chromium never proxies loopback, so only the server is reachable.
            "--proxy-server=127.0.0.1:9",
            "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .arg("about:blank")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("chromium starts");
    let browser = Browser { child, profile };
    // Chromium writes the port it chose into the profile.
    let active = browser.profile.join("DevToolsActivePort");
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Ok(text) = std::fs::read_to_string(&active)
            && let Some(port) = text.lines().next().and_then(|l| l.trim().parse().ok())
        {
            return (browser, port);
        }
        assert!(Instant::now() < deadline, "chromium did not open DevTools");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Chromium with no network but loopback loads /graphiql, GraphiQL starts with the example
/// tabs, and a query typed into it runs against the real server and shows its answer.
async fn graphiql_runs_a_query_in_headless_chromium_offline(db: TestDb) {
    let Some(binary) = chromium() else {
        return;
    };
    let app = TestApp::spawn(db).await;
    let token = app.token(common::HEAD).await;
    let (_browser, port) = launch(binary).await;

    let targets: Value = app
        .client
        .get(format!("http://127.0.0.1:{port}/json/list"))
        .send()
        .await
        .expect("DevTools targets")
        .json()
        .await
        .expect("targets JSON");
    let ws = targets
        .as_array()
        .and_then(|t| t.iter().find(|t| t["type"] == "page"))
        .and_then(|t| t["webSocketDebuggerUrl"].as_str())
        .unwrap_or_else(|| panic!("no page target: {targets}"))
        .to_owned();
    let (socket, _) = tokio_tungstenite::connect_async(ws.as_str())
        .await
        .expect("DevTools socket");
    let mut cdp = Cdp {
        socket,
        next_id: 0,
        events: Vec::new(),
    };
    for domain in [
        "Page.enable",
        "Runtime.enable",
        "Network.enable",
        "Log.enable",
    ] {
        cdp.call(domain, json!({})).await;
    }
    // The network really is closed: from a page with no CSP of its own, another origin
    // cannot be reached.
    let outside = cdp
        .eval(
            "fetch('http://example.com/', { mode: 'no-cors' }).then(() => 'reached', e => 'failed: ' + e)",
        )
        .await;
    assert!(
        outside.as_str().is_some_and(|s| s.starts_with("failed")),
        "the browser reached the internet: {outside}"
    );
    cdp.events.clear();

    // The credential, as a reverse proxy in front of GraphiQL would add it.
    cdp.call(
        "Network.setExtraHTTPHeaders",
        json!({ "headers": { "Authorization": format!("Bearer {token}") } }),
    )
    .await;
    cdp.call(
        "Page.navigate",
        json!({ "url": format!("{}/graphiql", app.base) }),
    )
    .await;

    // GraphiQL starts, with one tab per example, the head's dashboard first.
    cdp.wait_for(
        "!!document.querySelector('.graphiql-execute-button') && \
         !!document.querySelector('.graphiql-query-editor .CodeMirror')",
        Duration::from_mins(1),
    )
    .await;
    let tabs = cdp
        .eval("document.querySelectorAll('.graphiql-tab').length")
        .await;
    assert_eq!(tabs, json!(EXAMPLES.len()), "one tab per example");
    let first = cdp
        .eval("document.querySelector('.graphiql-query-editor .CodeMirror').CodeMirror.getValue()")
        .await;
    assert_eq!(
        first,
        json!(EXAMPLES[0].1),
        "the first tab is the first example"
    );

    // Run the first tab (the head's dashboard) and read the answer from the result pane.
    cdp.eval("document.querySelector('.graphiql-execute-button').click()")
        .await;
    let answer = cdp
        .wait_for(
            "(() => { const v = document.querySelector('.graphiql-response .CodeMirror')\
             .CodeMirror.getValue(); return v.includes('\"data\"') || v.includes('\"errors\"') \
             ? v : null; })()",
            Duration::from_secs(30),
        )
        .await;
    let answer: Value =
        serde_json::from_str(answer.as_str().expect("text")).expect("the result pane shows JSON");
    assert!(answer.get("errors").is_none(), "{answer}");
    assert_eq!(
        answer["data"]["viewer"]["user"]["role"], "SCHOOL_LEADER",
        "{answer}"
    );
    assert_eq!(
        answer["data"]["viewer"]["schools"][0]["name"], "Holly Park Primary School",
        "{answer}"
    );

    // Nothing was requested from another origin, nothing failed to load, no script error
    // and no CSP violation.
    let mut problems = Vec::new();
    for event in &cdp.events {
        match event["method"].as_str().unwrap_or_default() {
            "Network.requestWillBeSent" => {
                let url = event["params"]["request"]["url"]
                    .as_str()
                    .unwrap_or_default();
                if !url.starts_with(&app.base) && !url.starts_with("data:") {
                    problems.push(format!("requested {url}"));
                }
            }
            "Network.loadingFailed" => {
                problems.push(format!("failed to load: {}", event["params"]));
            }
            "Runtime.exceptionThrown" => problems.push(format!("exception: {}", event["params"])),
            "Log.entryAdded" if event["params"]["entry"]["level"] == "error" => {
                problems.push(format!("console: {}", event["params"]["entry"]));
            }
            "Runtime.consoleAPICalled" if event["params"]["type"] == "error" => {
                problems.push(format!("console.error: {}", event["params"]["args"]));
            }
            _ => {}
        }
    }
    assert!(
        problems.is_empty(),
        "{problems:#?}\nevents: {:#?}",
        cdp.summary()
    );
    let graphql_requests = cdp
        .events
        .iter()
        .filter(|e| {
            e["method"] == "Network.requestWillBeSent"
                && e["params"]["request"]["url"] == format!("{}/graphql", app.base)
        })
        .count();
    assert!(
        graphql_requests >= 2,
        "GraphiQL introspects the schema and runs the query: {graphql_requests} requests"
    );
}

testkit::db_tests!(
    every_example_runs_as_its_user_group,
    the_page_and_its_assets_come_from_trellis,
    graphiql_runs_a_query_in_headless_chromium_offline
);
