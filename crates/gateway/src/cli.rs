//! The `trellis` command line.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use clap::{Parser, Subcommand};
use kernel::{Clock, SystemClock};
use migration::{Migrator, MigratorTrait};
use tokio::net::TcpListener;

use crate::app::App;
use crate::config::Config;
use crate::{db, graphql, jobs, settings, telemetry};

/// Trellis: the GraphQL API of a school-owned education partnership.
#[derive(Debug, Parser)]
#[command(name = "trellis", version, about)]
pub struct Cli {
    /// A TOML configuration file; `TRELLIS_*` environment variables override it.
    #[arg(long, global = true, env = "TRELLIS_CONFIG")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serve the API (migrating, and loading demo data into an empty database, first).
    Serve,
    /// Apply pending database migrations and exit.
    Migrate,
    /// Load data into the database.
    Seed {
        /// The demo directory: Barnet's partnerships, Heath Hill, and demo users.
        #[arg(long)]
        demo: bool,
        /// A national-size synthetic partnership for benchmarks: schools in the register's
        /// phase mix, a member of the year each, their accounts, the year's invoicing run
        /// (timed), receipts for most of it, the core offer with a term's usage, a traded
        /// session per five schools with 40 bookings a school, and a peer-review cycle of
        /// every school whose groups are proposed (timed). Into an empty database only.
        #[arg(long, conflicts_with = "demo")]
        synthetic: bool,
        /// How many schools `--synthetic` makes (1 to 30,000).
        #[arg(long, default_value_t = 25_000, requires = "synthetic")]
        schools: u32,
        /// The same seed makes the same partnership.
        #[arg(long, default_value_t = 1, requires = "synthetic")]
        seed: u64,
    },
    /// Print the GraphQL schema (SDL).
    Schema,
    /// Import data a partnership already has (all or nothing; `--dry-run` shows the effect).
    #[command(subcommand)]
    Import(ImportCommand),
    /// Print a bearer token for an existing, active user.
    Token {
        #[arg(long)]
        email: String,
        /// How long the token lasts, e.g. `8h`, `30m`.
        #[arg(long, default_value = "8h", value_parser = humantime::parse_duration)]
        ttl: Duration,
    },
}

#[derive(Debug, Subcommand)]
enum ImportCommand {
    /// Schools from the DfE's register: a GIAS establishment extract (CSV, Windows-1252).
    Schools {
        /// The extract, e.g. edubasealldata20261201.csv.
        #[arg(long, value_name = "FILE")]
        gias: PathBuf,
        /// Only establishments of this local authority (`LA (name)`); repeat for several.
        #[arg(long = "la", value_name = "NAME")]
        local_authorities: Vec<String>,
        /// Only these URNs (repeat, or separate with commas).
        #[arg(long = "urn", value_name = "URN", value_delimiter = ',')]
        urns: Vec<String>,
        /// Print what would change and write nothing.
        #[arg(long)]
        dry_run: bool,
    },
    /// Census rolls: a CSV of `URN,pupils` taken at one census.
    Census {
        #[arg(long, value_name = "FILE")]
        file: PathBuf,
        /// OCTOBER or JANUARY.
        #[arg(long, value_parser = parse_census)]
        census: membership::school::types::RollCensus,
        /// The census day, YYYY-MM-DD.
        #[arg(long, value_name = "DATE")]
        date: chrono::NaiveDate,
        /// Print what would change and write nothing.
        #[arg(long)]
        dry_run: bool,
    },
    /// A bank statement export (CSV as UK banks give it, or a date/description/amount CSV).
    /// Each money-in line not seen before is kept once, with the open invoice it seems to
    /// pay proposed for finance to confirm in Trellis; lines already imported are not stored
    /// again, and money out is counted, not kept.
    BankStatement {
        #[arg(long, value_name = "FILE")]
        file: PathBuf,
    },
}

fn parse_census(raw: &str) -> Result<membership::school::types::RollCensus, String> {
    raw.to_ascii_uppercase()
        .parse()
        .map_err(|_| "OCTOBER or JANUARY".to_owned())
}

#[derive(Debug, thiserror::Error)]
enum CliError {
    #[error(transparent)]
    Config(#[from] crate::config::ConfigError),
    #[error(transparent)]
    Db(#[from] db::DbError),
    #[error(transparent)]
    App(#[from] crate::app::AppError),
    #[error("{0}")]
    Domain(String),
    #[error("{0}")]
    Io(#[from] std::io::Error),
    #[error("no active user with email {0}")]
    NoSuchUser(String),
    #[error("--ttl must be between 1 minute and 30 days")]
    Ttl,
    #[error("nothing to seed: pass --demo or --synthetic")]
    NothingToSeed,
    #[error("cannot open {0}: {1}")]
    Open(PathBuf, std::io::Error),
    #[error("the file was refused, nothing was written:\n{0}")]
    Refused(String),
}

impl From<kernel::DomainError> for CliError {
    fn from(e: kernel::DomainError) -> Self {
        Self::Domain(e.chain())
    }
}

/// Parses arguments and runs the command; errors are printed, not panicked.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("trellis: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("trellis: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> Result<(), CliError> {
    // reqwest's TLS (JWKS fetches) uses rustls with ring; install it once for the process.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let config = Config::load(cli.config.as_deref())?;
    let telemetry = telemetry::init(config.log_format);
    let result = execute(cli.command, config).await;
    // Flushing waits for the exporter's last batch: a blocking call, kept off the workers.
    drop(tokio::task::spawn_blocking(move || telemetry.shutdown()).await);
    result
}

async fn execute(command: Command, config: Config) -> Result<(), CliError> {
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    match command {
        // Boxed: the server's future holds the app, the scheduler and the notifier (16 KB).
        Command::Serve => Box::pin(serve(config, clock)).await,
        Command::Migrate => {
            let conn = db::connect(&config.database_url).await?;
            Migrator::up(&conn, None)
                .await
                .map_err(db::DbError::Migrate)?;
            tracing::info!("migrations applied");
            Ok(())
        }
        Command::Seed {
            demo,
            synthetic,
            schools,
            seed,
        } => {
            if synthetic {
                let conn = db::connect(&config.database_url).await?;
                db::prepare(&conn, config.auto_migrate).await?;
                return seed_synthetic(&conn, clock.as_ref(), schools, seed).await;
            }
            if !demo {
                return Err(CliError::NothingToSeed);
            }
            let conn = db::connect(&config.database_url).await?;
            db::prepare(&conn, config.auto_migrate).await?;
            let report = membership::demo::seed(&conn, clock.as_ref()).await?;
            eprintln!("{report}");
            let billing = billing::demo::seed(&conn, clock.as_ref()).await?;
            eprintln!("{billing}");
            let offer = offer::demo::seed(&conn, clock.as_ref()).await?;
            eprintln!("{offer}");
            let traded = traded::demo::seed(&conn, clock.as_ref()).await?;
            eprintln!("{traded}");
            let peer = peer_review::demo::seed(&conn, clock.as_ref()).await?;
            eprintln!(
                "peer review: {} schools, {} reviewers, {} groups, {} reviews{}",
                peer.schools,
                peer.reviewers,
                peer.groups,
                peer.reviews,
                if peer.skipped {
                    " (already loaded)"
                } else {
                    ""
                }
            );
            Ok(())
        }
        Command::Schema => {
            println!("{}", graphql::sdl());
            Ok(())
        }
        Command::Import(what) => {
            let conn = db::connect(&config.database_url).await?;
            db::prepare(&conn, config.auto_migrate).await?;
            import(&conn, clock.as_ref(), what).await
        }
        Command::Token { email, ttl } => {
            if ttl < Duration::from_mins(1) || ttl > Duration::from_hours(30 * 24) {
                return Err(CliError::Ttl);
            }
            let conn = db::connect(&config.database_url).await?;
            db::prepare(&conn, config.auto_migrate).await?;
            let user = membership::people::users::find_active_by_email(&conn, &email)
                .await?
                .ok_or_else(|| CliError::NoSuchUser(email.clone()))?;
            let secret = settings::jwt_secret(&conn, config.jwt_secret.as_deref())
                .await
                .map_err(|e| CliError::Domain(e.to_string()))?;
            println!(
                "{}",
                crate::auth::token::mint_local(&secret, &user.id.to_string(), &user.email, ttl)
            );
            Ok(())
        }
    }
}

/// A traded session per this many schools of a synthetic partnership (issue #18: 5,000
/// sessions for 25,000 schools).
const SCHOOLS_PER_SESSION: u32 = 5;
/// Traded bookings per school (issue #18: a million for 25,000 schools).
const SYNTHETIC_BOOKINGS_PER_SCHOOL: u32 = 40;

/// `seed --synthetic`: the directory, the ledger, the year's invoicing run, receipts, the
/// core offer with usage, traded sessions and bookings, and a peer-review cycle whose groups are proposed, each timed (the run's and the proposal's
/// times are national-scale figures of issue #18).
async fn seed_synthetic(
    conn: &sea_orm::DatabaseConnection,
    clock: &dyn Clock,
    schools: u32,
    seed: u64,
) -> Result<(), CliError> {
    let year = kernel::AcademicYear::containing(clock.today());
    let started = std::time::Instant::now();
    let directory = membership::synthetic::seed(
        conn,
        clock,
        membership::synthetic::Synthetic {
            schools,
            seed,
            year,
        },
    )
    .await?;
    eprintln!("{directory} ({:.1} s)", started.elapsed().as_secs_f64());
    let step = std::time::Instant::now();
    let ledger = billing::synthetic::seed(conn, clock, year).await?;
    eprintln!("{ledger} ({:.1} s)", step.elapsed().as_secs_f64());
    let step = std::time::Instant::now();
    let run = billing::run::start(conn, &kernel::Actor::System, clock, year).await?;
    eprintln!(
        "invoicing run {year}: {} invoices issued, {} total, {} notes ({:.1} s)",
        run.invoices_created,
        run.total,
        run.notes.len(),
        step.elapsed().as_secs_f64()
    );
    let step = std::time::Instant::now();
    let receipts = billing::synthetic::receipts(conn, clock, year).await?;
    eprintln!("{receipts} ({:.1} s)", step.elapsed().as_secs_f64());
    let step = std::time::Instant::now();
    let offer = offer::synthetic::seed(conn, clock, year, seed).await?;
    eprintln!("{offer} ({:.1} s)", step.elapsed().as_secs_f64());
    let step = std::time::Instant::now();
    let traded = traded::synthetic::seed(
        conn,
        clock,
        year,
        traded::synthetic::SyntheticTrade {
            sessions: (schools / SCHOOLS_PER_SESSION).max(1),
            bookings: SYNTHETIC_BOOKINGS_PER_SCHOOL.saturating_mul(schools),
            seed,
        },
    )
    .await?;
    eprintln!("{traded} ({:.1} s)", step.elapsed().as_secs_f64());
    let step = std::time::Instant::now();
    let cycle = peer_review::synthetic::seed(conn, clock, year).await?;
    eprintln!("{cycle} ({:.1} s)", step.elapsed().as_secs_f64());
    let step = std::time::Instant::now();
    let proposal =
        peer_review::groups::propose(conn, clock, &kernel::Actor::System, cycle.cycle).await?;
    eprintln!(
        "peer-review groups proposed: {} groups, {} warnings ({:.1} s)",
        proposal.groups.len(),
        proposal.warnings.len(),
        step.elapsed().as_secs_f64()
    );
    eprintln!("seeded in {:.1} s", started.elapsed().as_secs_f64());
    Ok(())
}

/// `trellis import …`: the same imports as the GraphQL uploads, run as the system (whoever
/// can run this holds the database credentials). Progress goes to stderr, the report to
/// stdout.
async fn import(
    conn: &sea_orm::DatabaseConnection,
    clock: &dyn Clock,
    command: ImportCommand,
) -> Result<(), CliError> {
    use membership::import::{Progress, census, gias};

    let started = std::time::Instant::now();
    let progress = move |p: Progress| {
        eprint!(
            "\rread {} rows ({:.1} s)",
            p.rows_read,
            started.elapsed().as_secs_f64()
        );
    };
    let refused = |e: kernel::DomainError| match e {
        kernel::DomainError::Invalid(errors) => CliError::Refused(
            errors
                .iter()
                .map(|e| format!("  {}", e.message))
                .collect::<Vec<_>>()
                .join("\n"),
        ),
        other => other.into(),
    };
    match command {
        ImportCommand::Schools {
            gias: path,
            local_authorities,
            urns,
            dry_run,
        } => {
            let file = std::fs::File::open(&path).map_err(|e| CliError::Open(path.clone(), e))?;
            let result = gias::import(
                conn,
                clock,
                &kernel::Actor::System,
                file,
                gias::GiasFilter {
                    local_authorities,
                    urns,
                },
                dry_run,
                &progress,
            )
            .await;
            eprintln!();
            let report = result.map_err(refused)?;
            print_gias(&report, started.elapsed());
        }
        ImportCommand::Census {
            file: path,
            census,
            date,
            dry_run,
        } => {
            let file = std::fs::File::open(&path).map_err(|e| CliError::Open(path.clone(), e))?;
            let result = census::import(
                conn,
                clock,
                &kernel::Actor::System,
                file,
                census::Census { census, date },
                dry_run,
                &progress,
            )
            .await;
            eprintln!();
            let r = result.map_err(refused)?;
            for c in &r.changes {
                let before = c
                    .before
                    .map_or_else(|| "none".to_owned(), |b| b.number_on_roll.to_string());
                println!(
                    "{} {}: {} -> {}",
                    c.urn, c.name, before, c.after.number_on_roll
                );
            }
            if r.changes_not_listed > 0 {
                println!("… and {} more", r.changes_not_listed);
            }
            println!(
                "{}{} rows: {} current rolls changed, {} unchanged, {} kept as history only ({:.1} s)",
                if r.dry_run {
                    "DRY RUN, nothing written. "
                } else {
                    ""
                },
                r.rows_read,
                r.updated,
                r.unchanged,
                r.history_only,
                started.elapsed().as_secs_f64()
            );
        }
        ImportCommand::BankStatement { file: path } => {
            let file = std::fs::File::open(&path).map_err(|e| CliError::Open(path.clone(), e))?;
            let name = path.file_name().map_or_else(
                || "statement.csv".to_owned(),
                |n| n.to_string_lossy().into_owned(),
            );
            let r = billing::ledger::bank::import_statement(
                conn,
                &kernel::Actor::System,
                clock,
                &name,
                file,
            )
            .await
            .map_err(refused)?;
            print_bank_statement(&r, started.elapsed());
        }
    }
    Ok(())
}

fn print_bank_statement(r: &billing::ledger::bank::ImportReport, elapsed: Duration) {
    let s = &r.statement;
    let days = match (s.first_day, s.last_day) {
        (Some(first), Some(last)) => format!(", {first} to {last}"),
        _ => String::new(),
    };
    println!(
        "{}{days}: {} new money-in lines ({} with a proposed invoice, {} unmatched), {} already imported, {} money-out lines not kept ({:.1} s)",
        s.file_name,
        s.lines_new,
        r.proposed,
        r.unmatched,
        s.lines_known,
        s.lines_out,
        elapsed.as_secs_f64()
    );
    if r.proposed > 0 || r.unmatched > 0 {
        println!("Finance confirms or re-allocates them in Trellis (`bankStatementLines`).");
    }
}

fn print_gias(r: &membership::import::gias::GiasReport, elapsed: Duration) {
    use membership::import::gias::ChangeKind;
    for c in &r.changes {
        let kind = match c.kind {
            ChangeKind::Created => "new",
            ChangeKind::Updated => "changed",
            ChangeKind::Closed => "CLOSED",
        };
        println!("{kind} {} {}", c.urn, c.name);
        if c.kind != ChangeKind::Created {
            for f in &c.fields {
                println!(
                    "    {}: {} -> {}",
                    f.field,
                    f.before.as_deref().unwrap_or("-"),
                    f.after.as_deref().unwrap_or("-")
                );
            }
        }
    }
    if r.changes_not_listed > 0 {
        println!("… and {} more changes", r.changes_not_listed);
    }
    for t in &r.trusts_created {
        println!("new MAT partnership: {t}");
    }
    for urn in &r.urns_not_in_file {
        println!("not in the file: URN {urn}");
    }
    println!(
        "{}{} rows read, {} selected: {} new, {} changed ({} now closed), {} unchanged; \
         skipped {} establishments Trellis does not list and {} closed ones not in the directory; \
         {} MATs created, {} trust moves, {} rolls, {} inspections ({:.1} s)",
        if r.dry_run {
            "DRY RUN, nothing written. "
        } else {
            ""
        },
        r.rows_read,
        r.selected,
        r.created,
        r.updated,
        r.closed,
        r.unchanged,
        r.skipped_not_schools,
        r.skipped_closed,
        r.trusts_created.len(),
        r.trust_moves,
        r.rolls_recorded,
        r.inspections_recorded,
        elapsed.as_secs_f64()
    );
}

async fn serve(config: Config, clock: Arc<dyn Clock>) -> Result<(), CliError> {
    let conn = db::connect(&config.database_url).await?;
    db::prepare(&conn, config.auto_migrate).await?;
    if config.demo && membership::school::is_empty(&conn).await? {
        let report = membership::demo::seed(&conn, clock.as_ref()).await?;
        tracing::info!("{report}");
        let billing = billing::demo::seed(&conn, clock.as_ref()).await?;
        tracing::info!("{billing}");
        let offer = offer::demo::seed(&conn, clock.as_ref()).await?;
        tracing::info!("{offer}");
        let traded = traded::demo::seed(&conn, clock.as_ref()).await?;
        tracing::info!("{traded}");
        let peer = peer_review::demo::seed(&conn, clock.as_ref()).await?;
        tracing::info!(
            schools = peer.schools,
            reviewers = peer.reviewers,
            groups = peer.groups,
            reviews = peer.reviews,
            "peer-review demo loaded"
        );
    }
    let app = App::build(&config, conn, clock).await?;
    let listener = TcpListener::bind(config.listen).await?;
    let addr = listener.local_addr()?;
    if let Some(metrics_addr) = config.metrics_listen {
        let metrics_listener = TcpListener::bind(metrics_addr).await?;
        tracing::info!(addr = %metrics_listener.local_addr()?, "serving Prometheus metrics at /metrics");
        let router = app.metrics_router();
        // Scrapes are stateless GETs: no graceful shutdown needed, it ends with the process.
        tokio::spawn(async move {
            if let Err(e) = axum::serve(metrics_listener, router).await {
                tracing::error!(error = %e, "the metrics listener failed");
            }
        });
    }
    let scheduler = config.jobs.then(|| {
        tracing::info!(
            interval_secs = config.jobs_interval_secs,
            "scheduled jobs on (each slot runs once across replicas)"
        );
        tokio::spawn(jobs::run_scheduler(
            app.state.db.clone(),
            app.state.clock.clone(),
            app.state.provider.clone(),
            app.state.metrics.clone(),
            Some(app.state.events.clone()),
            config.job_schedule(),
        ))
    });
    let notifier = if config.notifications {
        let notifier =
            crate::notify::Notifier::new(&config, app.state.db.clone(), app.state.clock.clone())
                .map_err(crate::config::ConfigError::from)?;
        if notifier.sends_email() {
            tracing::info!("notifications on: email through TRELLIS_SMTP_URL");
        } else {
            tracing::info!(
                "notifications on: no TRELLIS_SMTP_URL, so messages stay in the outbox (readable over GraphQL)"
            );
        }
        Some(tokio::spawn(notifier.run()))
    } else {
        None
    };
    // The banner is the last thing a first run prints: the token hint must not scroll away.
    eprintln!(
        "\nTrellis is serving GraphQL at http://{addr}/graphql\n\
         GraphiQL: http://{addr}/graphiql{}\n\
         Get a token: trellis token --email admin@trellis.example\n\
         (send it as `Authorization: Bearer <token>`; demo users are listed in the README)\n",
        if config.graphiql { "" } else { " (disabled)" }
    );
    app.serve(listener, shutdown_signal()).await?;
    // A job cut off here leaves its slot RUNNING; both jobs resume safely at the next slot.
    if let Some(scheduler) = scheduler {
        scheduler.abort();
    }
    // A message cut off mid-send keeps its claim until the lease lapses, then is sent again.
    if let Some(notifier) = notifier {
        notifier.abort();
    }
    tracing::info!("shut down cleanly");
    Ok(())
}

/// Resolves on SIGINT or SIGTERM.
async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
    tracing::info!("shutdown signal received; finishing in-flight requests");
}
