//! All configuration in one struct, read once at start-up.
//!
//! Sources, later wins: built-in defaults, an optional TOML file (`--config` or
//! `TRELLIS_CONFIG`), then `TRELLIS_*` environment variables. Keys in the file are the
//! field names (`database_url = "…"`); in the environment, the same upper-cased with the
//! `TRELLIS_` prefix (`TRELLIS_DATABASE_URL`).

use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use billing::provider::HostedPaymentMethod;
use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use serde::{Deserialize, Serialize};

/// GraphQL operations run at once for each CPU, unless `max_concurrent_operations` says
/// otherwise. A request spends part of its time waiting on the database, so a core is kept
/// busy by a few at once; more only hold their memory longer. On `bench/run`'s queries (#18;
/// 2 CPUs, 32 connections, runs alternating on one PostgreSQL), 12 at once against no limit:
/// the directory +5% req/s with p99 103 -> 82 ms, the 100-invoice page +5% with p99 164 ->
/// 134 ms, the dashboard and the catalogue 1% and 3% fewer req/s, and less left resident
/// after a burst (65 MB against 82 MB after the directory and the invoices).
pub const OPERATIONS_PER_CPU: u32 = 6;

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(default)]
#[allow(
    clippy::struct_excessive_bools,
    reason = "independent on/off switches, each its own env var"
)]
pub struct Config {
    /// `sqlite://trellis.db?mode=rwc` (the embedded default) or `postgres://…`.
    pub database_url: String,
    /// Address the HTTP server binds.
    pub listen: SocketAddr,
    /// HS256 secret for Trellis-minted tokens. When unset, the embedded default generates
    /// one on first run and keeps it in the database.
    pub jwt_secret: Option<String>,
    /// OIDC issuer whose RS256/ES256 tokens are accepted (production sign-in).
    pub oidc_issuer: Option<String>,
    /// Audience OIDC tokens must carry.
    pub oidc_audience: Option<String>,
    /// Load the demo directory into an empty database.
    pub demo: bool,
    /// Apply pending migrations at start-up. Production runs a migration job instead and
    /// turns this off, so replicas never race to migrate.
    pub auto_migrate: bool,
    /// Serve GraphiQL at `/graphiql`.
    pub graphiql: bool,
    /// Answer introspection queries.
    pub introspection: bool,
    /// Origins allowed by CORS; empty allows none (same-origin only). `*` allows any.
    pub cors_origins: Vec<String>,
    /// Largest request body accepted, in bytes.
    pub body_limit_bytes: usize,
    /// Largest multipart GraphQL request (a file upload: the GIAS extract, a census) accepted,
    /// in bytes. DfE's national extract is about 60 MB.
    pub upload_limit_bytes: usize,
    /// Requests with a file upload are cut off with 408 after this long (an import of the
    /// national extract takes a while; other requests keep `request_timeout_secs`).
    pub upload_timeout_secs: u64,
    /// Largest response body sent, in bytes; a larger result is replaced by a
    /// `RESPONSE_TOO_LARGE` error so one request cannot pin tens of megabytes.
    pub response_limit_bytes: usize,
    /// Requests taking longer are cut off with 408.
    pub request_timeout_secs: u64,
    /// GraphQL operations one replica runs at once; the others wait their turn (within the
    /// request timeout). Bounds the memory a burst leaves resident (see
    /// `http::admission`). Unset: [`OPERATIONS_PER_CPU`] for each CPU the process may use
    /// ([`Config::operation_slots`]); 0: no limit.
    pub max_concurrent_operations: Option<u32>,
    /// Deepest query accepted.
    pub max_depth: usize,
    /// Most complex query accepted: each field counts one, and what a connection selects
    /// counts once per item of its page (`first`/`last`, else 20), so the figure is about
    /// the most objects one response may hold. It also bounds how many selections a
    /// document may expand to once its fragments are spread.
    pub max_complexity: usize,
    /// Requests per minute each signed-in caller (a user, or an API key) may make to
    /// `/graphql`, refilling a token bucket of `rate_limit_burst`; 0 turns per-caller limits
    /// off. Per replica.
    pub rate_limit_per_min: u32,
    /// Requests a signed-in caller may make at once before the per-minute rate applies.
    pub rate_limit_burst: u32,
    /// Requests per minute from one client address that fail to sign in (no credential, or a
    /// wrong one); 0 turns this limit off. Per replica.
    pub rate_limit_anonymous_per_min: u32,
    /// Requests at once from one client address that fail to sign in.
    pub rate_limit_anonymous_burst: u32,
    /// A header that a proxy in front of Trellis sets to the client's address (e.g.
    /// `x-forwarded-for`, whose last entry is then used, or `x-real-ip`). Unset: the TCP peer's
    /// address. Set it only behind such a proxy: a client could otherwise choose its address.
    pub client_ip_header: Option<String>,
    /// How many documents automatic persisted queries (Apollo APQ) remember per replica, least
    /// recently used first out; 0 turns persisted queries off.
    pub persisted_queries_max: usize,
    /// How many bytes of document text persisted queries may hold per replica.
    pub persisted_queries_max_bytes: usize,
    /// On PostgreSQL, how long a signed-in user's role and schools may be kept between their
    /// requests, in seconds, instead of read on every one. Any change to a user or their
    /// schools empties the cache on every replica at once (LISTEN/NOTIFY); this bounds what a
    /// silently dead listening connection could miss. 0 reads the user on every request.
    /// SQLite always reads.
    pub sign_in_cache_secs: u64,
    /// `json` for machine-read logs, `pretty` for people.
    pub log_format: LogFormat,
    /// Address of the Prometheus `/metrics` listener; unset serves no metrics. A listener of
    /// its own so the public Ingress, which routes the API port, can never expose it.
    pub metrics_listen: Option<SocketAddr>,
    /// Run the scheduled jobs (lapsing unanswered renewals, resuming interrupted invoicing
    /// runs) in this process. Safe on every replica: each slot runs once across all of them.
    pub jobs: bool,
    /// Length of a job slot, in seconds: each job runs at most once per slot.
    pub jobs_interval_secs: u64,
    /// Stripe secret key (`sk_…`). When set, issued invoices are mirrored to Stripe and
    /// `POST /webhooks/stripe` is served; unset, the offline provider is used.
    pub stripe_secret_key: Option<String>,
    /// Stripe webhook signing secret (`whsec_…`); required with the secret key.
    pub stripe_webhook_secret: Option<String>,
    /// Another Stripe API base, e.g. the test stand-in; unset is Stripe itself.
    pub stripe_api_base: Option<String>,
    /// What invoices' hosted Stripe pages offer, comma-separated Stripe names:
    /// `card`, `bacs_debit` (Bacs Direct Debit), `customer_balance` (bank transfer).
    pub stripe_payment_methods: String,
    /// How often, in seconds, waiting-list offers nobody answered in time pass on to the
    /// next entry (`expire-waitlist-offers`). Offers expire on the hour they were given, so
    /// a few minutes late is the most a place sits unused.
    pub expire_waitlist_offers_interval_secs: u64,
    /// How often, in seconds, card bookings whose payment never arrived are released
    /// (`release-unpaid-bookings`).
    pub release_unpaid_bookings_interval_secs: u64,
    /// How long, in seconds, a card booking holds its places waiting for its payment before
    /// it is released.
    pub card_booking_hold_secs: u64,
    /// The SMTP server email goes through: `smtp://user:pass@host:587?tls=starttls`
    /// (STARTTLS), `smtps://user:pass@host:465` (TLS from the start) or `smtp://host:25`
    /// (plain, for a relay on the same host). Unset — the embedded default — sends nothing:
    /// every message stays in the outbox, readable in each person's inbox and by admins.
    pub smtp_url: Option<String>,
    /// The From of every email, and the organizer of calendar invitations.
    pub mail_from: String,
    /// How messages sign off ("Sent by … through Trellis"), and who issues invoices.
    pub partnership_name: String,
    /// The partnership's postal address on invoices and credit notes, comma-separated
    /// lines ending with the postcode.
    pub partnership_address: Option<String>,
    /// The partnership's VAT registration number (`GB123456789`), printed on invoices
    /// when set.
    pub vat_number: Option<String>,
    /// The bank account schools pay invoices into: name, sort code and account number,
    /// all three or none. Printed on invoices with the reference to quote.
    pub bank_account_name: Option<String>,
    pub bank_sort_code: Option<String>,
    pub bank_account_number: Option<String>,
    /// Where people reach Trellis from outside, for links in messages (unsubscribe,
    /// calendar feeds). Unset: `http://` and the listen address, right for a local run only.
    pub public_url: Option<String>,
    /// Run the notifications worker in this process: turn outbox events into messages and
    /// send them. Safe on every replica: messages are claimed in the database.
    pub notifications: bool,
    /// How often, in milliseconds, the notifications worker looks for new events and due
    /// messages: the most a message waits after its change commits.
    pub notify_poll_ms: u64,
    /// Attempts at sending one email before it is dead-lettered (admins may retry it).
    pub mail_max_attempts: u32,
    /// How long, in seconds, a worker's claim on the messages it is sending lasts. A replica
    /// killed mid-send leaves its claims to lapse after this, and another sends them; keep it
    /// well above the SMTP timeout (20 s), or a slow send may be sent twice.
    pub mail_lease_secs: u64,
    /// Days after an invoice's due date on which its account's contact is reminded while it
    /// is unpaid, comma-separated (`7,30`); empty sends no reminders.
    pub overdue_reminder_days: String,
    /// Days before a renewal's notice date on which the school's leaders are reminded while
    /// it is unanswered; 0 sends no reminders.
    pub renewal_reminder_days: u32,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Pretty,
    Json,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            database_url: "sqlite://trellis.db?mode=rwc".to_owned(),
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            jwt_secret: None,
            oidc_issuer: None,
            oidc_audience: None,
            demo: true,
            auto_migrate: true,
            graphiql: true,
            introspection: true,
            cors_origins: Vec::new(),
            body_limit_bytes: 1024 * 1024,
            upload_limit_bytes: 100 * 1024 * 1024,
            upload_timeout_secs: 300,
            response_limit_bytes: 8 * 1024 * 1024,
            request_timeout_secs: 30,
            max_concurrent_operations: None,
            max_depth: 12,
            max_complexity: 50_000,
            rate_limit_per_min: 600,
            rate_limit_burst: 120,
            rate_limit_anonymous_per_min: 60,
            rate_limit_anonymous_burst: 20,
            client_ip_header: None,
            persisted_queries_max: 2_000,
            persisted_queries_max_bytes: 16 * 1024 * 1024,
            sign_in_cache_secs: 60,
            log_format: LogFormat::Pretty,
            metrics_listen: None,
            jobs: true,
            jobs_interval_secs: 3600,
            stripe_secret_key: None,
            stripe_webhook_secret: None,
            stripe_api_base: None,
            stripe_payment_methods: "card,bacs_debit,customer_balance".to_owned(),
            expire_waitlist_offers_interval_secs: 300,
            release_unpaid_bookings_interval_secs: 900,
            card_booking_hold_secs: 2 * 3600,
            smtp_url: None,
            mail_from: "Trellis <no-reply@trellis.example>".to_owned(),
            partnership_name: "the partnership".to_owned(),
            partnership_address: None,
            vat_number: None,
            bank_account_name: None,
            bank_sort_code: None,
            bank_account_number: None,
            public_url: None,
            notifications: true,
            notify_poll_ms: 1000,
            mail_max_attempts: 8,
            mail_lease_secs: 120,
            overdue_reminder_days: "7,30".to_owned(),
            renewal_reminder_days: 14,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("configuration: {0}")]
    Invalid(#[from] Box<figment::Error>),
    #[error("configuration: TRELLIS_OIDC_ISSUER and TRELLIS_OIDC_AUDIENCE must be set together")]
    HalfOidc,
    #[error("configuration: TRELLIS_JWT_SECRET must be at least 32 characters")]
    WeakSecret,
    #[error(
        "configuration: TRELLIS_JOBS_INTERVAL_SECS, the traded sweeps' intervals and TRELLIS_CARD_BOOKING_HOLD_SECS must be at least 1"
    )]
    ZeroJobsInterval,
    #[error(
        "configuration: TRELLIS_STRIPE_SECRET_KEY needs TRELLIS_STRIPE_WEBHOOK_SECRET (and the key must start with sk_)"
    )]
    HalfStripe,
    #[error("configuration: TRELLIS_STRIPE_PAYMENT_METHODS: {0}")]
    PaymentMethods(String),
    #[error("configuration: {0}")]
    Mail(#[from] notifications::MailConfigError),
    #[error(
        "configuration: TRELLIS_OVERDUE_REMINDER_DAYS must be comma-separated days between 1 and 365, e.g. 7,30"
    )]
    ReminderDays,
    #[error(
        "configuration: TRELLIS_NOTIFY_POLL_MS must be between 50 and 60000, and TRELLIS_MAIL_MAX_ATTEMPTS and TRELLIS_MAIL_LEASE_SECS at least 1"
    )]
    NotifyTiming,
    #[error("configuration: TRELLIS_CLIENT_IP_HEADER is not a header name")]
    ClientIpHeader,
    #[error(
        "configuration: the invoice letterhead (TRELLIS_PARTNERSHIP_ADDRESS, TRELLIS_VAT_NUMBER, TRELLIS_BANK_*): {0}"
    )]
    Letterhead(#[from] billing::ledger::document::LetterheadError),
}

/// With Stripe configured, how long an invoice's email waits for its hosted payment page (the
/// mirror follows the issue, a whole run's within minutes): long enough for a national run at
/// Stripe's rate limits, short enough that an outage delays the email, not the money.
const PAYMENT_LINK_WAIT: chrono::Duration = chrono::Duration::hours(1);

/// Settings read from the environment exactly as written, never as numbers.
const VERBATIM: [&str; 5] = [
    "PARTNERSHIP_ADDRESS",
    "VAT_NUMBER",
    "BANK_ACCOUNT_NAME",
    "BANK_SORT_CODE",
    "BANK_ACCOUNT_NUMBER",
];

impl Config {
    /// Reads defaults, then the file (if any), then the environment.
    pub fn load(file: Option<&Path>) -> Result<Self, ConfigError> {
        let mut figment = Figment::from(Serialized::defaults(Self::default()));
        if let Some(path) = file {
            figment = figment.merge(Toml::file_exact(path));
        }
        // `TRELLIS_CONFIG` names the file, not a setting.
        figment = figment.merge(
            Env::prefixed("TRELLIS_")
                .ignore(&["CONFIG"])
                .map(|k| k.as_str().to_lowercase().into()),
        );
        // Figment reads an environment value that looks like a number as one: a sort code
        // `204577` would be refused as "not a string", and an account number `01234567`
        // would lose its leading zero. These settings are taken from the environment as
        // written.
        for key in VERBATIM {
            if let Ok(value) = std::env::var(format!("TRELLIS_{key}")) {
                figment = figment.merge(Serialized::default(&key.to_lowercase(), value));
            }
        }
        let config: Self = figment.extract().map_err(Box::new)?;
        config.validate()?;
        Ok(config)
    }

    fn validate(&self) -> Result<(), ConfigError> {
        if self.oidc_issuer.is_some() != self.oidc_audience.is_some() {
            return Err(ConfigError::HalfOidc);
        }
        if self.jwt_secret.as_ref().is_some_and(|s| s.len() < 32) {
            return Err(ConfigError::WeakSecret);
        }
        if self.jobs_interval_secs == 0
            || self.expire_waitlist_offers_interval_secs == 0
            || self.release_unpaid_bookings_interval_secs == 0
            || self.card_booking_hold_secs == 0
        {
            return Err(ConfigError::ZeroJobsInterval);
        }
        if let Some(key) = &self.stripe_secret_key
            && (!key.starts_with("sk_") || self.stripe_webhook_secret.is_none())
        {
            return Err(ConfigError::HalfStripe);
        }
        HostedPaymentMethod::parse_list(&self.stripe_payment_methods)
            .map_err(ConfigError::PaymentMethods)?;
        notifications::transport::check_from(&self.mail_from)?;
        if let Some(url) = &self.smtp_url {
            notifications::transport::check_url(url)?;
        }
        self.reminder_days()?;
        if let Some(name) = &self.client_ip_header
            && axum::http::HeaderName::from_bytes(name.trim().as_bytes()).is_err()
        {
            return Err(ConfigError::ClientIpHeader);
        }
        self.letterhead()?;
        if !(50..=60_000).contains(&self.notify_poll_ms)
            || self.mail_max_attempts == 0
            || self.mail_lease_secs == 0
        {
            return Err(ConfigError::NotifyTiming);
        }
        Ok(())
    }

    /// [`Config::overdue_reminder_days`], parsed.
    pub fn reminder_days(&self) -> Result<Vec<u32>, ConfigError> {
        let mut days = Vec::new();
        for part in self.overdue_reminder_days.split(',').map(str::trim) {
            if part.is_empty() {
                continue;
            }
            match part.parse::<u32>() {
                Ok(d) if (1..=365).contains(&d) => days.push(d),
                _ => return Err(ConfigError::ReminderDays),
            }
        }
        days.sort_unstable();
        days.dedup();
        Ok(days)
    }

    /// Who issues invoices and credit notes, as their documents print it.
    pub fn letterhead(&self) -> Result<billing::ledger::document::Letterhead, ConfigError> {
        Ok(billing::ledger::document::Letterhead::from_parts(
            &self.partnership_name,
            self.partnership_address.as_deref(),
            self.vat_number.as_deref(),
            (
                self.bank_account_name.as_deref(),
                self.bank_sort_code.as_deref(),
                self.bank_account_number.as_deref(),
            ),
        )?)
    }

    /// How messages present themselves.
    #[must_use]
    pub fn message_settings(&self) -> notifications::MessageSettings {
        // Checked when the configuration was loaded.
        let from = notifications::transport::check_from(&self.mail_from)
            .unwrap_or_else(|_| self.mail_from.clone());
        notifications::MessageSettings {
            // Checked when the configuration was loaded; a configuration built in code
            // without valid details gets the name alone.
            letterhead: self.letterhead().unwrap_or_else(|_| {
                billing::ledger::document::Letterhead::named(&self.partnership_name)
            }),
            partnership: self.partnership_name.clone(),
            from_address: from,
            public_url: self
                .public_url
                .clone()
                .unwrap_or_else(|| format!("http://{}", self.listen))
                .trim_end_matches('/')
                .to_owned(),
            payment_link_wait: self
                .stripe_secret_key
                .is_some()
                .then_some(PAYMENT_LINK_WAIT),
        }
    }

    /// [`Config::client_ip_header`], parsed (checked when the configuration was loaded).
    #[must_use]
    pub fn client_ip_header(&self) -> Option<axum::http::HeaderName> {
        self.client_ip_header
            .as_deref()
            .and_then(|name| axum::http::HeaderName::from_bytes(name.trim().as_bytes()).ok())
    }

    /// How many GraphQL operations run at once on a host with `cpus` CPUs for this process
    /// (0: no limit): the configured figure, else [`OPERATIONS_PER_CPU`] for each.
    #[must_use]
    pub fn operation_slots(&self, cpus: usize) -> u32 {
        self.max_concurrent_operations.unwrap_or_else(|| {
            u32::try_from(cpus)
                .unwrap_or(u32::MAX)
                .saturating_mul(OPERATIONS_PER_CPU)
        })
    }

    #[must_use]
    pub const fn request_timeout(&self) -> Duration {
        Duration::from_secs(self.request_timeout_secs)
    }

    /// Stripe's settings when a secret key is configured; `None` keeps the offline provider.
    #[must_use]
    pub fn stripe(&self) -> Option<billing::provider::StripeConfig> {
        Some(billing::provider::StripeConfig {
            secret_key: self.stripe_secret_key.clone()?,
            webhook_secret: self.stripe_webhook_secret.clone()?,
            api_base: self.stripe_api_base.clone(),
            // Checked when the configuration was loaded.
            payment_methods: HostedPaymentMethod::parse_list(&self.stripe_payment_methods)
                .unwrap_or_else(|_| HostedPaymentMethod::DEFAULTS.to_vec()),
        })
    }

    #[must_use]
    pub const fn jobs_interval(&self) -> Duration {
        Duration::from_secs(self.jobs_interval_secs)
    }

    /// Every job's interval, and how long card bookings wait for their payment.
    #[must_use]
    pub const fn job_schedule(&self) -> crate::jobs::Schedule {
        crate::jobs::Schedule {
            interval: self.jobs_interval(),
            expire_waitlist_offers: Duration::from_secs(self.expire_waitlist_offers_interval_secs),
            release_unpaid_bookings: Duration::from_secs(
                self.release_unpaid_bookings_interval_secs,
            ),
            card_booking_hold: Duration::from_secs(self.card_booking_hold_secs),
        }
    }

    #[must_use]
    pub fn is_sqlite(&self) -> bool {
        self.database_url.starts_with("sqlite:")
    }
}

#[cfg(test)]
#[allow(clippy::result_large_err, reason = "figment::Jail's closure signature")]
mod tests {
    use super::*;

    #[test]
    fn env_overrides_file_overrides_defaults() {
        figment::Jail::expect_with(|jail| {
            jail.create_file(
                "trellis.toml",
                "listen = \"127.0.0.1:9000\"\ndemo = false\nmax_depth = 8\n",
            )?;
            jail.set_env("TRELLIS_MAX_DEPTH", "10");
            let config = Config::load(Some(Path::new("trellis.toml"))).expect("loads");
            assert_eq!(config.listen.port(), 9000);
            assert!(!config.demo);
            assert_eq!(config.max_depth, 10);
            assert_eq!(config.database_url, Config::default().database_url);
            Ok(())
        });
    }

    #[test]
    fn operations_at_once_follow_the_cpus_unless_set() {
        figment::Jail::expect_with(|jail| {
            let config = Config::load(None).expect("defaults");
            assert_eq!(config.max_concurrent_operations, None);
            assert_eq!(config.operation_slots(2), 2 * OPERATIONS_PER_CPU);
            assert_eq!(config.operation_slots(16), 16 * OPERATIONS_PER_CPU);
            jail.set_env("TRELLIS_MAX_CONCURRENT_OPERATIONS", "5");
            assert_eq!(Config::load(None).expect("5").operation_slots(2), 5);
            jail.set_env("TRELLIS_MAX_CONCURRENT_OPERATIONS", "0");
            let unlimited = Config::load(None).expect("0");
            assert_eq!(
                unlimited.operation_slots(2),
                0,
                "0 is no limit, not the default"
            );
            jail.set_env("TRELLIS_MAX_CONCURRENT_OPERATIONS", "-1");
            assert!(Config::load(None).is_err(), "a negative count is refused");
            Ok(())
        });
    }

    #[test]
    fn refuses_half_oidc_and_weak_secrets() {
        figment::Jail::expect_with(|jail| {
            jail.set_env("TRELLIS_OIDC_ISSUER", "https://login.example");
            assert!(matches!(Config::load(None), Err(ConfigError::HalfOidc)));
            jail.set_env("TRELLIS_OIDC_AUDIENCE", "trellis");
            jail.set_env("TRELLIS_JWT_SECRET", "short");
            assert!(matches!(Config::load(None), Err(ConfigError::WeakSecret)));
            Ok(())
        });
    }

    #[test]
    fn the_invoice_letterhead_is_checked_when_loaded() {
        use billing::ledger::document::LetterheadError;
        figment::Jail::expect_with(|jail| {
            jail.set_env("TRELLIS_BANK_SORT_CODE", "204577");
            assert!(matches!(
                Config::load(None),
                Err(ConfigError::Letterhead(LetterheadError::HalfBank))
            ));
            jail.set_env("TRELLIS_BANK_ACCOUNT_NAME", "Barnet Partnership");
            jail.set_env("TRELLIS_BANK_ACCOUNT_NUMBER", "7321558");
            let loaded = Config::load(None);
            assert!(
                matches!(
                    loaded,
                    Err(ConfigError::Letterhead(LetterheadError::AccountNumber))
                ),
                "{loaded:?}"
            );
            jail.set_env("TRELLIS_BANK_ACCOUNT_NUMBER", "03215588");
            jail.set_env("TRELLIS_VAT_NUMBER", "GB12");
            assert!(matches!(
                Config::load(None),
                Err(ConfigError::Letterhead(LetterheadError::VatNumber))
            ));
            jail.set_env("TRELLIS_VAT_NUMBER", "GB123456789");
            jail.set_env(
                "TRELLIS_PARTNERSHIP_ADDRESS",
                "48 Station Road, London, N22 7TY",
            );
            let letterhead = Config::load(None)
                .expect("valid")
                .letterhead()
                .expect("letterhead");
            assert_eq!(letterhead.address.len(), 3);
            // Digits-only values stay text, leading zeros included.
            assert_eq!(
                letterhead
                    .bank
                    .map(|b| (b.sort_code.to_string(), b.account_number.to_string())),
                Some(("20-45-77".to_owned(), "03215588".to_owned()))
            );
            Ok(())
        });
    }

    #[test]
    fn refuses_zero_job_intervals_and_a_zero_card_hold() {
        for var in [
            "TRELLIS_JOBS_INTERVAL_SECS",
            "TRELLIS_EXPIRE_WAITLIST_OFFERS_INTERVAL_SECS",
            "TRELLIS_RELEASE_UNPAID_BOOKINGS_INTERVAL_SECS",
            "TRELLIS_CARD_BOOKING_HOLD_SECS",
        ] {
            figment::Jail::expect_with(|jail| {
                jail.set_env(var, "0");
                assert!(
                    matches!(Config::load(None), Err(ConfigError::ZeroJobsInterval)),
                    "{var}=0"
                );
                jail.set_env(var, "60");
                assert!(Config::load(None).is_ok(), "{var}=60");
                Ok(())
            });
        }
    }

    #[test]
    fn stripe_is_offline_unless_fully_configured() {
        figment::Jail::expect_with(|jail| {
            assert_eq!(Config::load(None).expect("defaults").stripe(), None);
            jail.set_env("TRELLIS_STRIPE_SECRET_KEY", "sk_test_1");
            assert!(matches!(Config::load(None), Err(ConfigError::HalfStripe)));
            jail.set_env("TRELLIS_STRIPE_WEBHOOK_SECRET", "whsec_1");
            jail.set_env("TRELLIS_STRIPE_API_BASE", "http://127.0.0.1:9");
            let stripe = Config::load(None)
                .expect("config")
                .stripe()
                .expect("stripe");
            assert_eq!(stripe.secret_key, "sk_test_1");
            assert_eq!(stripe.api_base.as_deref(), Some("http://127.0.0.1:9"));
            assert_eq!(stripe.payment_methods, HostedPaymentMethod::DEFAULTS);
            jail.set_env("TRELLIS_STRIPE_PAYMENT_METHODS", "card, bacs_debit");
            let stripe = Config::load(None)
                .expect("config")
                .stripe()
                .expect("stripe");
            assert_eq!(
                stripe.payment_methods,
                [HostedPaymentMethod::Card, HostedPaymentMethod::BacsDebit]
            );
            for bad in ["card,paypal", "card,card", ""] {
                jail.set_env("TRELLIS_STRIPE_PAYMENT_METHODS", bad);
                assert!(
                    matches!(Config::load(None), Err(ConfigError::PaymentMethods(_))),
                    "{bad:?}"
                );
            }
            jail.set_env("TRELLIS_STRIPE_PAYMENT_METHODS", "card");
            jail.set_env("TRELLIS_STRIPE_SECRET_KEY", "pk_test_publishable");
            assert!(matches!(Config::load(None), Err(ConfigError::HalfStripe)));
            Ok(())
        });
    }
}
