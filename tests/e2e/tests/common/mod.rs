//! Starts the real Trellis app on a free loopback port against a fresh database, and talks
//! to it over HTTP like any client.

#![allow(dead_code)]

use std::sync::Arc;
use std::time::Duration;

use gateway::auth::token::mint_local;
use gateway::{App, Config};
use kernel::SystemClock;
use reqwest::StatusCode;
use serde_json::{Value, json};
use testkit::TestDb;

pub const ADMIN: &str = "admin@trellis.example";
pub const FINANCE: &str = "finance@trellis.example";
pub const HEAD: &str = "head@holly-park.example";
pub const STAFF: &str = "staff@holly-park.example";

pub struct TestApp {
    pub base: String,
    pub db: TestDb,
    pub secret: String,
    pub client: reqwest::Client,
    server: tokio::task::JoinHandle<()>,
}

impl Drop for TestApp {
    fn drop(&mut self) {
        self.server.abort();
    }
}

/// Test configuration: a random secret and the given tweaks.
pub fn config(db: &TestDb) -> Config {
    Config {
        database_url: db.url().to_owned(),
        jwt_secret: Some(format!("test-secret-{}", uuid::Uuid::now_v7().simple())),
        // Tests send requests as fast as they can, and the fuzz test thousands; the rate
        // limits are on in `ratelimit.rs`, which tests them.
        rate_limit_per_min: 0,
        rate_limit_anonymous_per_min: 0,
        ..Config::default()
    }
}

impl TestApp {
    /// The app over `db`, with the demo directory loaded.
    pub async fn spawn(db: TestDb) -> Self {
        let config = config(&db);
        Self::spawn_with(db, config).await
    }

    /// The app over `db` with the demo directory, memberships and the demo's 2026/27 billing
    /// (fee schedules, accounts, the invoicing run, some payments and a credit note).
    pub async fn spawn_billing(db: TestDb) -> Self {
        let config = config(&db);
        Self::spawn_billing_with(db, config).await
    }

    /// The app with the demo directory and the demo's accounts and fee schedules, its year
    /// not yet invoiced: where a draft invoicing run starts.
    pub async fn spawn_unbilled(db: TestDb) -> Self {
        let config = config(&db);
        Self::spawn_unbilled_with(db, config).await
    }

    /// As [`TestApp::spawn_unbilled`], with this configuration.
    pub async fn spawn_unbilled_with(db: TestDb, config: Config) -> Self {
        let app = Self::spawn_with(db, config).await;
        billing::demo::seed_unbilled(app.db.conn(), &SystemClock)
            .await
            .expect("demo accounts and schedules load");
        app
    }

    /// As [`TestApp::spawn_billing`], with this configuration.
    pub async fn spawn_billing_with(db: TestDb, config: Config) -> Self {
        let app = Self::spawn_with(db, config).await;
        billing::demo::seed(app.db.conn(), &SystemClock)
            .await
            .expect("demo billing loads");
        app
    }

    /// The app over `db` with `config`, with the demo directory loaded.
    pub async fn spawn_with(db: TestDb, config: Config) -> Self {
        membership::demo::seed(db.conn(), &SystemClock)
            .await
            .expect("demo data loads");
        Self::serve_on(db, &config, Arc::new(SystemClock)).await
    }

    /// The app over `db` as it is, with `config` and `clock`, served on a free loopback
    /// port: every app a test talks to over HTTP is started here.
    pub async fn serve_on(db: TestDb, config: &Config, clock: Arc<dyn kernel::Clock>) -> Self {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let app = App::build(config, db.conn().clone(), clock)
            .await
            .expect("app builds");
        let (base, server) = serve(app).await;
        Self {
            base,
            db,
            secret: config.jwt_secret.clone().expect("test config has a secret"),
            client: reqwest::Client::builder()
                .timeout(Duration::from_secs(30))
                .build()
                .expect("client"),
            server,
        }
    }

    /// A Trellis-minted token for a demo user, valid for 30 minutes of real time (tokens are
    /// checked against the wall clock, not the app's).
    pub async fn token(&self, email: &str) -> String {
        let user = membership::people::users::find_active_by_email(self.db.conn(), email)
            .await
            .expect("lookup")
            .expect("demo user exists");
        mint_local(
            self.secret.as_bytes(),
            &user.id.to_string(),
            &user.email,
            Duration::from_mins(30),
        )
    }

    /// POSTs a GraphQL request with a bearer credential; returns status and body.
    pub async fn gql(
        &self,
        bearer: Option<&str>,
        query: &str,
        variables: Value,
    ) -> (StatusCode, Value) {
        let mut req = self
            .client
            .post(format!("{}/graphql", self.base))
            .header("accept", "application/graphql-response+json")
            .json(&json!({ "query": query, "variables": variables }));
        if let Some(b) = bearer {
            req = req.bearer_auth(b);
        }
        let res = req.send().await.expect("request");
        let status = res.status();
        let body = res.json::<Value>().await.expect("JSON body");
        (status, body)
    }

    /// As `gql`, for a demo user, expecting no errors; returns `data`.
    pub async fn data_as(&self, email: &str, query: &str, variables: Value) -> Value {
        let token = self.token(email).await;
        let (status, body) = self.gql(Some(&token), query, variables).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert!(body.get("errors").is_none(), "unexpected errors: {body}");
        body["data"].clone()
    }
}

/// The `id` of the element of `list` (a JSON array of `{ id code }`) whose `code` is `code`.
pub fn id_of_code(list: &Value, code: &str) -> Value {
    list.as_array()
        .expect("a list")
        .iter()
        .find(|i| i["code"] == code)
        .map_or_else(|| panic!("no {code} in {list}"), |i| i["id"].clone())
}

/// The `extensions.code` of the first error.
pub fn first_code(body: &Value) -> &str {
    body["errors"][0]["extensions"]["code"]
        .as_str()
        .unwrap_or("<none>")
}

/// POSTs a Stripe event to the app's webhook with the given `Stripe-Signature` header.
pub async fn post_webhook(
    client: &reqwest::Client,
    base: &str,
    payload: &[u8],
    signature: &str,
) -> StatusCode {
    client
        .post(format!("{base}/webhooks/stripe"))
        .header("stripe-signature", signature)
        .header("content-type", "application/json")
        .body(payload.to_vec())
        .send()
        .await
        .expect("webhook")
        .status()
}

/// A member school other than Holly Park (Monkfrith), and the head the tests make for it.
pub const OTHER_URN: &str = "900019";
pub const OTHER_HEAD: &str = "head@monkfrith.example";

/// Loads every demo (directory, billing, core offer, traded catalogue) into `conn` on `clock`
/// and makes a head for Monkfrith; returns (Holly Park, Monkfrith).
pub async fn seed_every_demo(
    conn: &sea_orm::DatabaseConnection,
    clock: &dyn kernel::Clock,
) -> (kernel::SchoolId, kernel::SchoolId) {
    use kernel::{Actor, Role};
    membership::demo::seed(conn, clock)
        .await
        .expect("directory");
    billing::demo::seed(conn, clock).await.expect("billing");
    offer::demo::seed(conn, clock).await.expect("offer");
    traded::demo::seed(conn, clock).await.expect("traded");
    let other = membership::school::by_urn(conn, &Actor::System, OTHER_URN)
        .await
        .expect("lookup")
        .expect("Monkfrith")
        .id;
    membership::people::users::create(
        conn,
        clock,
        &Actor::System,
        membership::people::NewUser {
            email: OTHER_HEAD.to_owned(),
            name: "Monkfrith Head".to_owned(),
            role: Role::SchoolLeader,
            schools: vec![other],
        },
    )
    .await
    .expect("other head");
    let holly_park =
        membership::people::users::actor_for(conn, membership::people::users::Lookup::Email(HEAD))
            .await
            .expect("lookup")
            .expect("head")
            .schools[0];
    (holly_park, other)
}

/// Serves `app` on a free loopback port: its base URL and the task serving it.
pub async fn serve(app: App) -> (String, tokio::task::JoinHandle<()>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let server = tokio::spawn(async move {
        app.serve(listener, std::future::pending())
            .await
            .expect("serves");
    });
    (format!("http://{addr}"), server)
}

/// The app with every demo loaded ([`seed_every_demo`]) on a clock the test holds, so a term
/// can end, a session take place or a retry come due: what the traded and notification
/// journeys share.
pub struct Portal {
    app: TestApp,
    pub clock: Arc<kernel::FixedClock>,
    pub holly_park: kernel::SchoolId,
    pub other: kernel::SchoolId,
}

impl std::ops::Deref for Portal {
    type Target = TestApp;

    fn deref(&self) -> &TestApp {
        &self.app
    }
}

impl Portal {
    /// The app over `db` with `config`, every demo loaded and a head for a second school, on
    /// a clock starting now.
    pub async fn spawn(db: TestDb, config: &Config) -> Self {
        use kernel::Clock as _;
        let clock = Arc::new(kernel::FixedClock::new(SystemClock.now()));
        let (holly_park, other) = seed_every_demo(db.conn(), clock.as_ref()).await;
        let app = TestApp::serve_on(db, config, clock.clone()).await;
        Self {
            app,
            clock,
            holly_park,
            other,
        }
    }

    /// The whole GraphQL response to `query` asked as `email`.
    pub async fn gql(&self, email: &str, query: &str, variables: Value) -> Value {
        let token = self.token(email).await;
        self.client
            .post(format!("{}/graphql", self.base))
            .header("accept", "application/graphql-response+json")
            .bearer_auth(token)
            .json(&json!({ "query": query, "variables": variables }))
            .send()
            .await
            .expect("request")
            .json::<Value>()
            .await
            .expect("JSON")
    }

    /// `data`, expecting no errors.
    pub async fn data(&self, email: &str, query: &str, variables: Value) -> Value {
        let body = self.gql(email, query, variables).await;
        assert!(body.get("errors").is_none(), "unexpected errors: {body}");
        body["data"].clone()
    }

    /// Holly Park's global id.
    pub fn school(&self) -> String {
        use gateway::graphql::relay::GlobalId as _;
        self.holly_park.to_global().to_string()
    }

    /// Monkfrith's global id.
    pub fn other_school(&self) -> String {
        use gateway::graphql::relay::GlobalId as _;
        self.other.to_global().to_string()
    }
}

/// The code of the first top-level error.
pub fn code(body: &Value) -> &str {
    first_code(body)
}

/// (field path, code) of each user error of a mutation payload.
pub fn user_errors(payload: &Value) -> Vec<(String, String)> {
    payload["userErrors"]
        .as_array()
        .expect("userErrors")
        .iter()
        .map(|e| {
            let path: Vec<&str> = e["field"]
                .as_array()
                .expect("field")
                .iter()
                .map(|p| p.as_str().expect("segment"))
                .collect();
            (path.join("."), e["code"].as_str().expect("code").to_owned())
        })
        .collect()
}

/// The Stripe stand-in's API, as a customer's browser and Stripe's dashboard would use it.
pub struct Stand {
    pub base: String,
    pub http: reqwest::Client,
}

/// The secret key the tests give the app for the stand-in (which accepts any).
pub const STRIPE_SECRET: &str = "sk_test_e2e";
/// A card the stand-in declines.
pub const DECLINED_CARD: &str = "4000000000000341";
/// A card the stand-in accepts.
pub const GOOD_CARD: &str = "4242424242424242";

impl Stand {
    /// The stand-in of this run, and `config` pointed at it with a fresh webhook secret;
    /// `None` when the run has no stand-in (the test skips).
    pub fn configure(config: &mut Config) -> Option<Self> {
        let base = testkit::stripe_url()?;
        // reqwest's TLS needs the process's crypto provider, even for plain HTTP.
        let _ = rustls::crypto::ring::default_provider().install_default();
        config.stripe_secret_key = Some(STRIPE_SECRET.to_owned());
        config.stripe_webhook_secret = Some(format!("whsec_{}", uuid::Uuid::now_v7().simple()));
        config.stripe_api_base = Some(base.clone());
        Some(Self {
            base,
            http: reqwest::Client::new(),
        })
    }

    /// Has the stand-in deliver its signed webhooks to the app at `app_base`.
    pub async fn deliver_to(&self, app_base: &str, webhook_secret: &str) {
        let hook = format!("trellis-e2e-{}", uuid::Uuid::now_v7().simple());
        let registered = self
            .http
            .post(format!("{}/_config/webhooks/{hook}", self.base))
            .form(&[
                ("url", format!("{app_base}/webhooks/stripe")),
                ("secret", webhook_secret.to_owned()),
            ])
            .send()
            .await
            .expect("register webhook");
        assert!(registered.status().is_success());
    }

    pub async fn get(&self, path: &str) -> Value {
        self.http
            .get(format!("{}/v1/{path}", self.base))
            .basic_auth(STRIPE_SECRET, Some(""))
            .send()
            .await
            .expect("stand-in")
            .json()
            .await
            .expect("json")
    }

    pub async fn post(&self, path: &str, form: &[(&str, &str)]) -> (u16, Value) {
        let response = self
            .http
            .post(format!("{}/v1/{path}", self.base))
            .basic_auth(STRIPE_SECRET, Some(""))
            .form(form)
            .send()
            .await
            .expect("stand-in");
        (
            response.status().as_u16(),
            response.json().await.expect("json"),
        )
    }

    /// A card payment method attached to the customer.
    pub async fn card(&self, customer: &str, card: &str) -> String {
        let (_, pm) = self
            .post(
                "payment_methods",
                &[
                    ("type", "card"),
                    ("card[number]", card),
                    ("card[exp_month]", "12"),
                    ("card[exp_year]", "2031"),
                    ("card[cvc]", "123"),
                ],
            )
            .await;
        let pm = pm["id"].as_str().expect("pm").to_owned();
        self.post(
            &format!("payment_methods/{pm}/attach"),
            &[("customer", customer)],
        )
        .await;
        pm
    }

    /// Pays the stand-in's invoice with a new card of the customer's.
    pub async fn pay(&self, invoice: &str, customer: &str, card: &str) -> (u16, Value) {
        let pm = self.card(customer, card).await;
        self.post(
            &format!("invoices/{invoice}/pay"),
            &[("payment_method", pm.as_str())],
        )
        .await
    }

    /// The stand-in's invoices that mirror the Trellis invoice whose UUID is `uuid`.
    pub async fn invoices_of(&self, uuid: &str) -> Vec<Value> {
        self.get("invoices?limit=100").await["data"]
            .as_array()
            .expect("list")
            .iter()
            .filter(|i| i["metadata"]["trellis_invoice_id"] == uuid)
            .cloned()
            .collect()
    }
}

/// The UUID inside a global id (`Type:<uuid>`, base64).
pub fn uuid_of(id: &str) -> String {
    use base64::Engine as _;
    let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(id)
        .expect("global id");
    let text = String::from_utf8(raw).expect("utf8");
    text.rsplit(':').next().expect("uuid").to_owned()
}
