//! Scheduled jobs that run inside every replica and take effect once across all of them.
//!
//! Time is cut into slots of `TRELLIS_JOBS_INTERVAL_SECS`, aligned to the Unix epoch so every
//! replica computes the same slot. At each slot every replica tries every job; for each job:
//!
//! 1. **PostgreSQL only:** `pg_try_advisory_xact_lock(job)` inside a transaction held for the
//!    job's duration. A replica that cannot take it skips (`busy`): the job is still running
//!    elsewhere, e.g. a long invoicing resume that outlived its slot.
//! 2. **Both backends:** claim the slot by inserting `job_runs (job, slot)`; the unique index
//!    lets exactly one insert win. The losers skip (`taken`). SQLite is one process by nature,
//!    so this row is all it needs, and it is the same code path.
//! 3. The winner runs the job as [`Actor::System`] and records the outcome on its row.
//!
//! A job is killed with its process (a deploy); its row then stays RUNNING, and both jobs
//! are written to be rerun safely: the next slot picks up whatever is left.

mod work;

use std::sync::Arc;
use std::time::Duration;

use billing::provider::PaymentProvider;
use chrono::{DateTime, TimeZone as _, Utc};
use kernel::{Actor, Clock};
use sea_orm::sea_query::{Alias, Expr, ExprTrait as _, OnConflict, Query};
use sea_orm::{
    ConnectionTrait, DatabaseConnection, DbBackend, DbErr, Statement, TransactionTrait as _,
};

use crate::metrics::Metrics;

pub use work::STALE_RUN;

/// Every scheduled job.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Job {
    /// Lapses renewals nobody answered by their notice date (this year's and next year's).
    LapseUnansweredRenewals,
    /// Finishes an invoicing run left IN_PROGRESS for longer than [`STALE_RUN`].
    ResumeInterruptedInvoicing,
    /// Compares the mirrored invoices with Stripe's and records new differences for finance
    /// (a no-op when Stripe is not configured).
    ReconcileStripe,
    /// Issues the booking invoices of every term that has ended and still has pending
    /// charges (one invoice per account and term; a rerun bills only what is left).
    IssueTermInvoices,
}

impl Job {
    pub const ALL: [Self; 4] = [
        Self::LapseUnansweredRenewals,
        Self::ResumeInterruptedInvoicing,
        Self::ReconcileStripe,
        Self::IssueTermInvoices,
    ];

    /// Stable name: the `job` column and the `job` metric label.
    #[must_use]
    pub const fn name(self) -> &'static str {
        match self {
            Self::LapseUnansweredRenewals => "lapse-unanswered-renewals",
            Self::ResumeInterruptedInvoicing => "resume-interrupted-invoicing",
            Self::ReconcileStripe => "reconcile-stripe",
            Self::IssueTermInvoices => "issue-term-invoices",
        }
    }

    /// The PostgreSQL advisory-lock key: fixed per job, in a range of its own ("TRLJ" + n).
    #[must_use]
    pub const fn lock_key(self) -> i64 {
        0x5452_4C4A_0000_0000
            + match self {
                Self::LapseUnansweredRenewals => 1,
                Self::ResumeInterruptedInvoicing => 2,
                Self::ReconcileStripe => 3,
                Self::IssueTermInvoices => 4,
            }
    }
}

/// What one replica's attempt at one job in one slot came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Tick {
    /// This replica ran it; what it did.
    Ran(String),
    /// This replica ran it and it failed; why (also recorded on the row).
    Failed(String),
    /// Another replica (or an earlier tick of this one) already claimed the slot.
    Taken,
    /// The job is still running elsewhere (PostgreSQL's advisory lock is held).
    Busy,
}

impl Tick {
    /// The `outcome` metric label.
    #[must_use]
    pub const fn outcome(&self) -> &'static str {
        match self {
            Self::Ran(_) => "ran",
            Self::Failed(_) => "failed",
            Self::Taken => "taken",
            Self::Busy => "busy",
        }
    }
}

/// The slot `now` falls in: the start of its `interval`, counted from the Unix epoch.
#[must_use]
pub fn slot_of(now: DateTime<Utc>, interval: Duration) -> DateTime<Utc> {
    let step = i64::try_from(Ord::max(interval.as_secs(), 1)).unwrap_or(i64::MAX);
    let start = now.timestamp().div_euclid(step) * step;
    Utc.timestamp_opt(start, 0).single().unwrap_or(now)
}

/// This process, as recorded in `job_runs.runner`: the pod name on Kubernetes, and the pid.
#[must_use]
pub fn runner_name() -> String {
    let host = std::env::var("HOSTNAME")
        .ok()
        .or_else(|| std::fs::read_to_string("/etc/hostname").ok())
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "unknown".to_owned());
    format!("{host}:{}", std::process::id())
}

/// [`tick_with`] without a payment provider: every job but Stripe reconciliation.
pub async fn tick(
    db: &DatabaseConnection,
    clock: &dyn Clock,
    runner: &str,
    job: Job,
    slot: DateTime<Utc>,
) -> Result<Tick, DbErr> {
    tick_with(db, clock, None, runner, job, slot).await
}

/// One replica's attempt at `job` for `slot`. Errors are the database's; a job's own failure
/// is a [`Tick::Failed`].
pub async fn tick_with(
    db: &DatabaseConnection,
    clock: &dyn Clock,
    provider: Option<&dyn PaymentProvider>,
    runner: &str,
    job: Job,
    slot: DateTime<Utc>,
) -> Result<Tick, DbErr> {
    // The transaction only holds the advisory lock (on PostgreSQL); the job's own work goes
    // through the pool and commits on its own terms.
    let lock = if db.get_database_backend() == DbBackend::Postgres {
        let txn = db.begin().await?;
        let row = txn
            .query_one_raw(Statement::from_sql_and_values(
                DbBackend::Postgres,
                "SELECT pg_try_advisory_xact_lock($1) AS locked",
                [job.lock_key().into()],
            ))
            .await?;
        let locked = row.map(|r| r.try_get::<bool>("", "locked")).transpose()?;
        if locked != Some(true) {
            txn.rollback().await?;
            return Ok(Tick::Busy);
        }
        Some(txn)
    } else {
        None
    };

    let slot_text = slot.to_rfc3339();
    let claim = Query::insert()
        .into_table(Alias::new("job_runs"))
        .columns(["job", "slot", "runner", "started_at", "outcome"].map(Alias::new))
        .values_panic([
            job.name().into(),
            slot_text.clone().into(),
            runner.into(),
            clock.now().into(),
            "RUNNING".into(),
        ])
        .on_conflict(
            OnConflict::columns([Alias::new("job"), Alias::new("slot")])
                .do_nothing()
                .to_owned(),
        )
        .to_owned();
    let claimed = db.execute(&claim).await?.rows_affected() == 1;
    let tick = if claimed {
        tracing::info!(job = job.name(), slot = %slot_text, "job starting");
        let (tick, outcome, detail) = match work::run(db, &Actor::System, clock, provider, job)
            .await
        {
            Ok(detail) => {
                tracing::info!(job = job.name(), slot = %slot_text, %detail, "job finished");
                (Tick::Ran(detail.clone()), "SUCCEEDED", detail)
            }
            Err(e) => {
                let detail = e.chain();
                tracing::error!(job = job.name(), slot = %slot_text, error = %detail, "job failed");
                (Tick::Failed(detail.clone()), "FAILED", detail)
            }
        };
        let record = Query::update()
            .table(Alias::new("job_runs"))
            .value(Alias::new("outcome"), outcome)
            .value(Alias::new("detail"), detail)
            .value(Alias::new("finished_at"), clock.now())
            .and_where(Expr::col(Alias::new("job")).eq(job.name()))
            .and_where(Expr::col(Alias::new("slot")).eq(slot_text.as_str()))
            .to_owned();
        db.execute(&record).await?;
        tick
    } else {
        Tick::Taken
    };
    if let Some(txn) = lock {
        txn.rollback().await?;
    }
    Ok(tick)
}

/// Every job, every slot, until the task is dropped. `trellis serve` spawns this unless
/// `TRELLIS_JOBS=false`.
pub async fn run_scheduler(
    db: DatabaseConnection,
    clock: Arc<dyn Clock>,
    provider: Option<Arc<dyn PaymentProvider>>,
    metrics: Arc<Metrics>,
    interval: Duration,
) {
    let runner = runner_name();
    tracing::info!(%runner, interval_secs = interval.as_secs(), "job scheduler started");
    loop {
        let slot = slot_of(clock.now(), interval);
        for job in Job::ALL {
            match tick_with(&db, clock.as_ref(), provider.as_deref(), &runner, job, slot).await {
                Ok(t) => metrics.job_tick(job.name(), t.outcome()),
                Err(e) => {
                    metrics.job_tick(job.name(), "failed");
                    tracing::error!(job = job.name(), error = %e, "job tick failed");
                }
            }
        }
        // Sleep to the next slot boundary, so every replica ticks the same slot.
        let next =
            slot + chrono::Duration::from_std(interval).unwrap_or(chrono::Duration::hours(1));
        let wait = (next - clock.now()).to_std().unwrap_or(Duration::ZERO);
        tokio::time::sleep(Ord::max(wait, Duration::from_millis(50))).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_align_to_the_epoch() {
        let at = |s| Utc.timestamp_opt(s, 0).single().expect("valid");
        let hour = Duration::from_hours(1);
        assert_eq!(slot_of(at(7_200), hour), at(7_200));
        assert_eq!(slot_of(at(7_199), hour), at(3_600));
        assert_eq!(slot_of(at(10_799), hour), at(7_200));
        assert_eq!(slot_of(at(10), Duration::ZERO), at(10));
    }
}
