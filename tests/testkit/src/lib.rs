//! Test harness: a fresh, migrated database per test, on SQLite and on PostgreSQL.
//!
//! Every test that touches the database runs on both backends (see `DESIGN.md`,
//! *Persistence*). Write the test once, taking a [`TestDb`], and let [`db_tests!`] generate
//! one `#[test]` per backend:
//!
//! ```no_run
//! async fn creates_school(db: testkit::TestDb) {
//!     let conn = db.conn();
//!     // ...
//! #   let _ = conn;
//! }
//!
//! testkit::db_tests!(creates_school);
//! // => creates_school::sqlite and creates_school::postgres
//! # fn main() {}
//! ```
//!
//! # Where the databases come from
//!
//! * **SQLite**: a new file database in its own temporary directory, deleted when the
//!   [`TestDb`] is dropped.
//! * **PostgreSQL**: a new database `trellis_test_<uuid>` on the cluster whose admin URL is in
//!   `TRELLIS_TEST_POSTGRES_URL` (`scripts/test` starts a throwaway cluster and sets it).
//!   Databases are not dropped afterwards: the cluster is thrown away at the end of the run,
//!   so point the variable only at a cluster you are happy to litter.
//!   Without the variable, PostgreSQL tests are skipped with a loud warning, except under
//!   `CI=true`, where a missing cluster is a failure rather than a silent half-run.
//!
//! Both are migrated with [`migration::Migrator`]. On PostgreSQL the migrations run once per
//! test binary build into a template database (`trellis_tpl_<hash>`), and each test's
//! database is a `CREATE DATABASE … TEMPLATE` copy of it: copying is much cheaper than
//! re-running every migration for every test. The hash covers the migration names and the
//! identity (path, size, mtime) of the running test executable, so rebuilding after a
//! migration change always produces a fresh template.

use std::fmt;
use std::hash::{Hash, Hasher};
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Once, OnceLock};
use std::time::{Duration, Instant};

use migration::{Migrator, MigratorTrait};
use sea_orm::{ConnectOptions, ConnectionTrait, Database, DbErr};
use tempfile::TempDir;

pub use sea_orm::DatabaseConnection;
/// Re-exported so callers (and [`db_tests!`]) need no tokio dependency of their own.
pub use tokio;

pub mod graphql_ws;
pub mod smtp;
pub mod stripe;
pub use stripe::{STRIPE_URL_ENV, stripe_url};

/// Environment variable holding the admin URL of the PostgreSQL cluster for this run,
/// e.g. `postgres://postgres@127.0.0.1:5433/postgres`.
pub const POSTGRES_URL_ENV: &str = "TRELLIS_TEST_POSTGRES_URL";

/// Which database engine a [`TestDb`] runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl fmt::Display for Backend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgres",
        })
    }
}

/// A fresh, migrated, empty database that lives as long as this value.
#[derive(Debug)]
pub struct TestDb {
    conn: DatabaseConnection,
    url: String,
    backend: Backend,
    /// Keeps the SQLite file's directory alive; `None` on PostgreSQL.
    _dir: Option<TempDir>,
}

impl TestDb {
    /// Fresh SQLite file database in a temporary directory, migrated.
    pub async fn sqlite() -> TestDb {
        let dir = tempfile::Builder::new()
            .prefix("trellis-testdb-")
            .tempdir()
            .expect("testkit: cannot create a temporary directory for the SQLite database");
        let path = dir.path().join("trellis.db");
        let url = sqlite_url(&path);
        let conn = connect(&url, None).await;
        Migrator::up(&conn, None)
            .await
            .unwrap_or_else(|e| panic!("testkit: migrating the SQLite test database failed: {e}"));
        TestDb {
            conn,
            url,
            backend: Backend::Sqlite,
            _dir: Some(dir),
        }
    }

    /// Fresh database on the run's PostgreSQL cluster (`TRELLIS_TEST_POSTGRES_URL`), migrated.
    ///
    /// Returns `None`, after warning loudly once per process, when the variable is unset;
    /// panics instead when `CI=true`.
    pub async fn postgres() -> Option<TestDb> {
        let Some(admin_url) = postgres_admin_url() else {
            assert!(
                !is_ci(),
                "testkit: {POSTGRES_URL_ENV} is not set but CI=true: PostgreSQL tests must run in CI. \
                 Run the tests through scripts/test, which starts a throwaway PostgreSQL cluster."
            );
            warn_postgres_skipped();
            return None;
        };
        let template = postgres_template(&admin_url).await;
        let name = format!("trellis_test_{}", uuid::Uuid::now_v7().simple());
        let admin = connect(&admin_url, Some(1)).await;
        retry_while_in_use(
            &admin,
            &format!(r#"CREATE DATABASE "{name}" TEMPLATE "{template}""#),
        )
        .await
        .unwrap_or_else(|e| panic!("testkit: creating PostgreSQL database {name} failed: {e}"));
        close(admin).await;
        let url = with_database(&admin_url, &name);
        let conn = connect(&url, None).await;
        Some(TestDb {
            conn,
            url,
            backend: Backend::Postgres,
            _dir: None,
        })
    }

    /// Fresh database on `backend`; `None` only when PostgreSQL tests are skipped.
    pub async fn new(backend: Backend) -> Option<TestDb> {
        match backend {
            Backend::Sqlite => Some(TestDb::sqlite().await),
            Backend::Postgres => TestDb::postgres().await,
        }
    }

    /// The connection pool to this database.
    pub fn conn(&self) -> &DatabaseConnection {
        &self.conn
    }

    /// Connection URL of this database, for handing to another connection pool, the app
    /// under test, or a child process.
    pub fn url(&self) -> &str {
        &self.url
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Starts counting the statements run through [`TestDb::conn`], e.g. to pin down N+1
    /// queries.
    ///
    /// Counts every statement sea-orm executes through this connection (and transactions
    /// begun on it), whether it succeeded or not. Not counted: `execute_unprepared` (sea-orm
    /// does not report it to metric callbacks), clones of the connection taken *before* this
    /// call, and other pools opened on [`TestDb::url`]. Calling this again replaces the
    /// previous counter, which then stops counting.
    pub fn count_statements(&mut self) -> StatementCounter {
        let counter = StatementCounter(Arc::new(AtomicUsize::new(0)));
        let count = Arc::clone(&counter.0);
        self.conn.set_metric_callback(move |_info| {
            count.fetch_add(1, Ordering::SeqCst);
        });
        counter
    }
}

/// Number of statements run since [`TestDb::count_statements`] or the last [`reset`](Self::reset).
#[derive(Debug, Clone)]
pub struct StatementCounter(Arc<AtomicUsize>);

impl StatementCounter {
    pub fn get(&self) -> usize {
        self.0.load(Ordering::SeqCst)
    }

    pub fn reset(&self) {
        self.0.store(0, Ordering::SeqCst);
    }
}

/// Writes each `async fn name(db: TestDb)` test once and runs it on both backends.
///
/// For every listed function `name` this generates `mod name { fn sqlite(); fn postgres(); }`,
/// two `#[test]`s that each build a tokio current-thread runtime (what `#[tokio::test]` does),
/// create a fresh [`TestDb`] and call `super::name(db)`. The PostgreSQL variant returns early,
/// i.e. passes as skipped, when [`TestDb::postgres`] is `None`. Callers need no tokio
/// dependency: the runtime comes through `testkit`.
///
/// ```no_run
/// async fn lists_schools(db: testkit::TestDb) {
///     let _ = db.conn(); // ...
/// }
///
/// async fn counts_queries(mut db: testkit::TestDb) {
///     let statements = db.count_statements();
///     // ... run the code under test through db.conn() ...
///     assert!(statements.get() <= 2, "N+1: {} statements", statements.get());
/// }
///
/// testkit::db_tests!(lists_schools, counts_queries);
/// # fn main() {}
/// ```
#[macro_export]
macro_rules! db_tests {
    ($($name:ident),+ $(,)?) => {
        $(
            mod $name {
                #[test]
                fn sqlite() {
                    $crate::__private::block_on(async {
                        super::$name($crate::TestDb::sqlite().await).await;
                    });
                }

                #[test]
                fn postgres() {
                    $crate::__private::block_on(async {
                        let Some(db) = $crate::TestDb::postgres().await else {
                            return;
                        };
                        super::$name(db).await;
                    });
                }
            }
        )+
    };
}

#[doc(hidden)]
pub mod __private {
    use std::future::Future;

    /// Runs `future` to completion on a fresh current-thread runtime, exactly as
    /// `#[tokio::test]` does.
    pub fn block_on<F: Future>(future: F) -> F::Output {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("testkit: cannot build a tokio runtime")
            .block_on(future)
    }
}

// ---------------------------------------------------------------------------------------------

fn is_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true")
}

fn postgres_admin_url() -> Option<String> {
    std::env::var(POSTGRES_URL_ENV)
        .ok()
        .filter(|v| !v.trim().is_empty())
}

fn warn_postgres_skipped() {
    static WARNED: Once = Once::new();
    WARNED.call_once(|| {
        eprintln!(
            "\n\
             ************************************************************************\n\
             *  testkit: {POSTGRES_URL_ENV} is not set.\n\
             *  PostgreSQL tests are SKIPPED (they pass without running).\n\
             *  Run scripts/test to start a throwaway PostgreSQL cluster and run both.\n\
             ************************************************************************\n"
        );
    });
}

fn sqlite_url(path: &Path) -> String {
    format!("sqlite://{}?mode=rwc", path.display())
}

async fn connect(url: &str, max_connections: Option<u32>) -> DatabaseConnection {
    let mut options = ConnectOptions::new(url);
    options
        .sqlx_logging(false)
        .connect_timeout(Duration::from_secs(30))
        .acquire_timeout(Duration::from_secs(30));
    if let Some(max) = max_connections {
        options.max_connections(max).min_connections(0);
    }
    if url.starts_with("sqlite:") {
        // The service's own settings, so tests see the locking production sees.
        kernel::persistence::sqlite_options(&mut options);
    }
    Database::connect(options)
        .await
        .unwrap_or_else(|e| panic!("testkit: cannot connect to {}: {e}", redact(url)))
}

async fn close(conn: DatabaseConnection) {
    // Best effort: a failed close only leaves an idle connection to a throwaway database.
    let _ = conn.close().await;
}

/// `url` with its password, if any, replaced by `***`, for panic messages.
fn redact(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let authority_end = rest.find('/').unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);
    match authority.rsplit_once('@') {
        Some((userinfo, host)) => match userinfo.split_once(':') {
            Some((user, _password)) => format!("{scheme}://{user}:***@{host}{tail}"),
            None => url.to_owned(),
        },
        None => url.to_owned(),
    }
}

/// `url` (`scheme://authority[/database][?query]`) pointing at `database` instead.
fn with_database(url: &str, database: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((base, query)) => (base, Some(query)),
        None => (url, None),
    };
    let authority_start = base.find("://").map_or(0, |i| i + 3);
    let path_start = base[authority_start..]
        .find('/')
        .map_or(base.len(), |i| authority_start + i);
    let mut out = format!("{}/{database}", &base[..path_start]);
    if let Some(query) = query {
        out.push('?');
        out.push_str(query);
    }
    out
}

/// Name of a migrated template database on the cluster, building it on first use.
///
/// Builds are serialised across processes with an advisory lock; a template is built under a
/// temporary name and renamed only once fully migrated, so a failed build never leaves a
/// half-migrated template behind.
async fn postgres_template(admin_url: &str) -> String {
    static READY: OnceLock<String> = OnceLock::new();
    if let Some(name) = READY.get() {
        return name.clone();
    }
    let name = format!("trellis_tpl_{:016x}", template_key());
    let admin = connect(admin_url, Some(1)).await;
    let result = async {
        // Session-level lock on the admin connection (a pool of exactly one connection).
        exec(&admin, "SELECT pg_advisory_lock(7467382915)").await?;
        let exists = admin
            .query_one_raw(sea_orm::Statement::from_sql_and_values(
                admin.get_database_backend(),
                "SELECT 1 FROM pg_database WHERE datname = $1",
                [name.clone().into()],
            ))
            .await?
            .is_some();
        if !exists {
            let building = format!("{name}_build_{}", uuid::Uuid::now_v7().simple());
            exec(&admin, &format!(r#"CREATE DATABASE "{building}""#)).await?;
            let conn = connect(&with_database(admin_url, &building), Some(1)).await;
            let migrated = Migrator::up(&conn, None).await;
            close(conn).await;
            migrated.map_err(|e| DbErr::Custom(format!("migrating the template failed: {e}")))?;
            retry_while_in_use(
                &admin,
                &format!(r#"ALTER DATABASE "{building}" RENAME TO "{name}""#),
            )
            .await?;
        }
        exec(&admin, "SELECT pg_advisory_unlock(7467382915)").await?;
        Ok::<_, DbErr>(())
    }
    .await;
    close(admin).await;
    if let Err(e) = result {
        panic!("testkit: preparing the PostgreSQL template database {name} failed: {e}");
    }
    READY.get_or_init(|| name).clone()
}

/// Identifies this build's migrations: their names plus the running test executable, which is
/// relinked whenever the migration crate changes.
fn template_key() -> u64 {
    // DefaultHasher::new() uses fixed keys, so the key is stable across processes of one build.
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    for migration in Migrator::migrations() {
        migration.name().hash(&mut hasher);
    }
    if let Ok(exe) = std::env::current_exe() {
        exe.hash(&mut hasher);
        if let Ok(meta) = std::fs::metadata(&exe) {
            meta.len().hash(&mut hasher);
            if let Ok(modified) = meta.modified() {
                modified.hash(&mut hasher);
            }
        }
    }
    hasher.finish()
}

async fn exec(conn: &DatabaseConnection, sql: &str) -> Result<(), DbErr> {
    conn.execute_unprepared(sql).await.map(|_| ())
}

/// Runs `sql`, retrying for a while if PostgreSQL says a database involved is still being
/// accessed: a just-closed connection's backend can take a moment to exit.
async fn retry_while_in_use(conn: &DatabaseConnection, sql: &str) -> Result<(), DbErr> {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        match exec(conn, sql).await {
            Err(e)
                if e.to_string().contains("being accessed by other users")
                    && Instant::now() < deadline =>
            {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            other => return other,
        }
    }
}

#[cfg(test)]
mod tests;
