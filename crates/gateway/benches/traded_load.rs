//! A load generator for traded services against the real server over HTTP: it starts
//! `App` on a SQLite file with the demo partnership and its traded catalogue, then
//!
//! 1. fires a booking burst: `BURST` concurrent `bookingCreate`s (each joining the waiting
//!    list when full) for a session of `PLACES` places, and checks that exactly `PLACES`
//!    were confirmed and the rest wait — nobody oversold;
//! 2. reads the catalogue (services → upcoming sessions → places left) as a school's head,
//!    sequentially and then `READERS` at a time.
//!
//! It prints latencies (p50/p95/max) and throughput. Not a timed test and not part of the
//! test run: `cargo bench -p gateway --bench traded_load`.

use std::sync::Arc;
use std::time::{Duration, Instant};

use gateway::auth::token::mint_local;
use gateway::graphql::relay::GlobalId as _;
use gateway::{App, Config};
use kernel::{Actor, Clock as _, SystemClock};
use membership::people::{Lookup, users};
use serde_json::{Value, json};

const BURST: usize = 200;
const PLACES: u32 = 30;
const CATALOGUE_SEQUENTIAL: usize = 100;
const READERS: usize = 20;
const CATALOGUE_CONCURRENT: usize = 400;

const CATALOGUE: &str = "query { services(first: 50) { edges { node {
    code title category memberPrice { amountPence } rating { count average }
    sessions(upcoming: true) { startsAt placesLeft bookable parts { venue } } } } } }";

const BOOK: &str = "mutation($input: BookingCreateInput!) { bookingCreate(input: $input) {
    booking { status } userErrors { field code message } } }";

struct Server {
    base: String,
    secret: String,
    http: reqwest::Client,
}

impl Server {
    async fn post(&self, token: &str, query: &str, variables: Value) -> (Duration, Value) {
        let started = Instant::now();
        let body = self
            .http
            .post(format!("{}/graphql", self.base))
            .bearer_auth(token)
            .json(&json!({ "query": query, "variables": variables }))
            .send()
            .await
            .expect("request")
            .json::<Value>()
            .await
            .expect("JSON");
        (started.elapsed(), body)
    }
}

fn report(what: &str, mut latencies: Vec<Duration>, wall: Duration) {
    latencies.sort();
    let at = |q: f64| {
        #[allow(
            clippy::cast_possible_truncation,
            clippy::cast_sign_loss,
            clippy::cast_precision_loss,
            reason = "an index into a short list"
        )]
        let i = ((latencies.len() as f64 - 1.0) * q).round() as usize;
        latencies[i]
    };
    #[allow(clippy::cast_precision_loss, reason = "request counts are small")]
    let rate = latencies.len() as f64 / wall.as_secs_f64();
    println!(
        "{what}: {} requests in {:.2?} ({rate:.0}/s); p50 {:.1?}, p95 {:.1?}, max {:.1?}",
        latencies.len(),
        wall,
        at(0.5),
        at(0.95),
        at(1.0),
    );
}

async fn start(dir: &std::path::Path) -> (Server, String, String, String) {
    let url = format!("sqlite://{}?mode=rwc", dir.join("load.db").display());
    let config = Config {
        database_url: url.clone(),
        jwt_secret: Some(format!("load-secret-{}", uuid::Uuid::now_v7().simple())),
        // A load test of booking, not of the rate limits.
        rate_limit_per_min: 0,
        rate_limit_anonymous_per_min: 0,
        ..Config::default()
    };
    let db = gateway::db::connect(&url).await.expect("connect");
    gateway::db::prepare(&db, true).await.expect("migrate");
    membership::demo::seed(&db, &SystemClock)
        .await
        .expect("directory");
    billing::demo::seed(&db, &SystemClock)
        .await
        .expect("billing");
    offer::demo::seed(&db, &SystemClock).await.expect("offer");
    let seeded = traded::demo::seed(&db, &SystemClock).await.expect("traded");
    println!("{seeded}");
    let head = users::actor_for(&db, Lookup::Email(traded::demo::DEMO_SCHOOL_USER))
        .await
        .expect("lookup")
        .expect("the demo head");
    let school = head.schools[0];
    // The burst's session: a conference day a month ahead with PLACES places.
    let service = traded::service_by_code(&db, &Actor::System, "CONF-2027")
        .await
        .expect("lookup")
        .expect("the demo conference");
    let starts = SystemClock.now() + chrono::Duration::days(30);
    let session = traded::create_session(
        &db,
        &Actor::System,
        &SystemClock,
        traded::NewSession {
            service_id: service.id,
            label: Some("Load test".to_owned()),
            parts: vec![traded::SessionPart {
                starts_at: starts,
                ends_at: starts + chrono::Duration::hours(6),
                venue: Some("Hall".to_owned()),
                online_url: None,
            }],
            capacity: PLACES,
            booking_deadline: starts - chrono::Duration::days(7),
            policy: traded::CancellationPolicy::default(),
            waitlist_offer_hours: None,
        },
    )
    .await
    .expect("session");
    let app = App::build(&config, db.clone(), Arc::new(SystemClock))
        .await
        .expect("app");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        app.serve(listener, std::future::pending())
            .await
            .expect("serves");
    });
    let server = Server {
        base: format!("http://{addr}"),
        secret: config.jwt_secret.expect("secret"),
        http: reqwest::Client::builder()
            .pool_max_idle_per_host(BURST)
            .timeout(Duration::from_mins(2))
            .build()
            .expect("client"),
    };
    let token = |user: &membership::people::User| {
        mint_local(
            server.secret.as_bytes(),
            &user.id.to_string(),
            &user.email,
            Duration::from_hours(1),
        )
    };
    let head_user =
        membership::people::users::find_active_by_email(&db, traded::demo::DEMO_SCHOOL_USER)
            .await
            .expect("lookup")
            .expect("head");
    let head_token = token(&head_user);
    (
        server,
        head_token,
        school.to_global().to_string(),
        session.id.to_global().to_string(),
    )
}

async fn burst(server: &Arc<Server>, token: &str, school: &str, session: &str) {
    let started = Instant::now();
    let mut tasks = Vec::with_capacity(BURST);
    for n in 0..BURST {
        let server = server.clone();
        let token = token.to_owned();
        let input = json!({ "input": {
            "schoolId": school, "sessionId": session, "settlement": "INVOICE",
            "joinWaitlist": true,
            "attendees": [{ "name": format!("Delegate {n}"), "email": format!("delegate{n}@holly-park.example") }],
        } });
        tasks.push(tokio::spawn(async move {
            server.post(&token, BOOK, input).await
        }));
    }
    let mut latencies = Vec::with_capacity(BURST);
    let (mut confirmed, mut waiting, mut other) = (0, 0, Vec::new());
    for task in tasks {
        let (took, body) = task.await.expect("task");
        latencies.push(took);
        match body["data"]["bookingCreate"]["booking"]["status"].as_str() {
            Some("CONFIRMED") => confirmed += 1,
            Some("WAITLISTED") => waiting += 1,
            _ => other.push(body),
        }
    }
    let wall = started.elapsed();
    report(
        &format!("booking burst ({BURST} concurrent for {PLACES} places)"),
        latencies,
        wall,
    );
    println!(
        "  -> {confirmed} confirmed, {waiting} waitlisted, {} failed",
        other.len()
    );
    if let Some(first) = other.first() {
        println!("  first failure: {first}");
    }
    assert_eq!(confirmed, PLACES as usize, "exactly the places, never more");
}

async fn catalogue(server: &Arc<Server>, token: &str) {
    let (_, first) = server.post(token, CATALOGUE, json!({})).await;
    assert!(first.get("errors").is_none(), "{first}");
    let services = first["data"]["services"]["edges"]
        .as_array()
        .map_or(0, Vec::len);
    let started = Instant::now();
    let mut latencies = Vec::with_capacity(CATALOGUE_SEQUENTIAL);
    for _ in 0..CATALOGUE_SEQUENTIAL {
        latencies.push(server.post(token, CATALOGUE, json!({})).await.0);
    }
    report(
        &format!("catalogue ({services} services), sequential"),
        latencies,
        started.elapsed(),
    );

    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..READERS {
        let server = server.clone();
        let token = token.to_owned();
        tasks.push(tokio::spawn(async move {
            let mut mine = Vec::new();
            for _ in 0..CATALOGUE_CONCURRENT / READERS {
                let (took, body) = server.post(&token, CATALOGUE, json!({})).await;
                assert!(body.get("errors").is_none(), "{body}");
                mine.push(took);
            }
            mine
        }));
    }
    let mut latencies = Vec::new();
    for task in tasks {
        latencies.extend(task.await.expect("task"));
    }
    report(
        &format!("catalogue ({services} services), {READERS} concurrent readers"),
        latencies,
        started.elapsed(),
    );
}

fn main() {
    // `cargo bench` passes `--bench`; a filter or `--list` from the harness is ignored.
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let _ = rustls::crypto::ring::default_provider().install_default();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let dir = tempfile::tempdir().expect("temp dir");
    runtime.block_on(async {
        let (server, token, school, session) = start(dir.path()).await;
        let server = Arc::new(server);
        burst(&server, &token, &school, &session).await;
        catalogue(&server, &token).await;
    });
}
