//! Scheduled jobs that run inside every replica and take effect once across all of them.
//!
//! Time is cut into slots of `TRELLIS_JOBS_INTERVAL_SECS` (the traded-services sweeps have
//! shorter intervals of their own, see [`Schedule`]), aligned to the Unix epoch so every
//! replica computes the same slot. At each slot every replica tries every job due; for each job:
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

use crate::events::Bus;
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
    /// Passes waiting-list offers nobody answered in time on to the next entries.
    ExpireWaitlistOffers,
    /// Gives up on card bookings whose payment never arrived: voids the invoice, frees the
    /// places and offers them to the waiting list.
    ReleaseUnpaidBookings,
    /// Makes the card refunds of cancelled bookings that could not be made when they were
    /// cancelled (the provider was unreachable); each is keyed, so none is made twice.
    CompleteCardRefunds,
    /// Applies the billing-account moves dated today or earlier (a school joining its trust's
    /// account from a date); one that no longer makes sense is kept as FAILED with the reason.
    ApplyAccountMoves,
    /// Issues the membership instalments scheduled for the first day of their term (spring
    /// and summer), to the school's payer on the day.
    IssueScheduledInstalments,
}

impl Job {
    pub const ALL: [Self; 9] = [
        Self::LapseUnansweredRenewals,
        Self::ResumeInterruptedInvoicing,
        Self::ReconcileStripe,
        Self::IssueTermInvoices,
        Self::ExpireWaitlistOffers,
        Self::ReleaseUnpaidBookings,
        Self::CompleteCardRefunds,
        Self::ApplyAccountMoves,
        Self::IssueScheduledInstalments,
    ];

    /// Stable name: the `job` column and the `job` metric label.
    #[must_use]
    pub const fn name(self) -> &'static str {
        match self {
            Self::LapseUnansweredRenewals => "lapse-unanswered-renewals",
            Self::ResumeInterruptedInvoicing => "resume-interrupted-invoicing",
            Self::ReconcileStripe => "reconcile-stripe",
            Self::IssueTermInvoices => "issue-term-invoices",
            Self::ExpireWaitlistOffers => "expire-waitlist-offers",
            Self::ReleaseUnpaidBookings => "release-unpaid-bookings",
            Self::CompleteCardRefunds => "complete-card-refunds",
            Self::ApplyAccountMoves => "apply-account-moves",
            Self::IssueScheduledInstalments => "issue-scheduled-instalments",
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
                Self::ExpireWaitlistOffers => 5,
                Self::ReleaseUnpaidBookings => 6,
                Self::CompleteCardRefunds => 7,
                Self::ApplyAccountMoves => 8,
                Self::IssueScheduledInstalments => 9,
            }
    }

    /// How often the job runs: its slot length.
    #[must_use]
    pub const fn interval(self, schedule: &Schedule) -> Duration {
        match self {
            Self::ExpireWaitlistOffers => schedule.expire_waitlist_offers,
            // A school waits for its refund as another waits for a place: the same sweep.
            Self::ReleaseUnpaidBookings | Self::CompleteCardRefunds => {
                schedule.release_unpaid_bookings
            }
            Self::LapseUnansweredRenewals
            | Self::ResumeInterruptedInvoicing
            | Self::ReconcileStripe
            | Self::IssueTermInvoices
            | Self::ApplyAccountMoves
            | Self::IssueScheduledInstalments => schedule.interval,
        }
    }
}

/// When the jobs run, from the configuration. Waiting-list offers and unpaid card bookings
/// hold places other schools are waiting for, so their sweeps run more often than the
/// hourly housekeeping.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Schedule {
    /// The slot of every job without an interval of its own.
    pub interval: Duration,
    pub expire_waitlist_offers: Duration,
    pub release_unpaid_bookings: Duration,
    /// How long a card booking holds its places waiting for the payment before
    /// `release-unpaid-bookings` gives up on it.
    pub card_booking_hold: Duration,
}

impl Schedule {
    /// Every job on one interval (tests), with the default card-booking hold.
    #[must_use]
    pub const fn every(interval: Duration) -> Self {
        Self {
            interval,
            expire_waitlist_offers: interval,
            release_unpaid_bookings: interval,
            card_booking_hold: DEFAULT_CARD_BOOKING_HOLD,
        }
    }
}

/// How long a card booking holds its places for its payment unless configured otherwise.
pub const DEFAULT_CARD_BOOKING_HOLD: Duration = Duration::from_hours(2);

/// What a job may need beyond the database and the clock.
#[derive(Clone, Copy)]
pub struct Extras<'a> {
    /// The Stripe adapter (reconciliation); `None` when Stripe is not configured.
    pub provider: Option<&'a dyn PaymentProvider>,
    /// Where the traded sweeps announce the bookings they changed (`bookingUpdated`).
    pub events: Option<&'a Bus>,
    /// See [`Schedule::card_booking_hold`].
    pub card_booking_hold: Duration,
}

impl Default for Extras<'_> {
    fn default() -> Self {
        Self {
            provider: None,
            events: None,
            card_booking_hold: DEFAULT_CARD_BOOKING_HOLD,
        }
    }
}

impl std::fmt::Debug for Extras<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Extras")
            .field("provider", &self.provider.map(PaymentProvider::name))
            .field("events", &self.events.is_some())
            .field("card_booking_hold", &self.card_booking_hold)
            .finish()
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

/// [`tick_in`] with a payment provider and nothing else: no events are published.
pub async fn tick_with(
    db: &DatabaseConnection,
    clock: &dyn Clock,
    provider: Option<&dyn PaymentProvider>,
    runner: &str,
    job: Job,
    slot: DateTime<Utc>,
) -> Result<Tick, DbErr> {
    let extras = Extras {
        provider,
        ..Extras::default()
    };
    tick_in(db, clock, extras, runner, job, slot).await
}

/// One replica's attempt at `job` for `slot`. Errors are the database's; a job's own failure
/// is a [`Tick::Failed`].
pub async fn tick_in(
    db: &DatabaseConnection,
    clock: &dyn Clock,
    extras: Extras<'_>,
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
        // Per-run detail is debug: every slot of every job would otherwise log twice, and
        // the outcome is kept in `job_runs` and counted in the metrics. Failures are errors.
        tracing::debug!(job = job.name(), slot = %slot_text, "job starting");
        let (tick, outcome, detail) = match work::run(db, &Actor::System, clock, extras, job).await
        {
            Ok(detail) => {
                tracing::debug!(job = job.name(), slot = %slot_text, %detail, "job finished");
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

/// Every job, every slot of its own interval, until the task is dropped. `trellis serve`
/// spawns this unless `TRELLIS_JOBS=false`.
pub async fn run_scheduler(
    db: DatabaseConnection,
    clock: Arc<dyn Clock>,
    provider: Option<Arc<dyn PaymentProvider>>,
    metrics: Arc<Metrics>,
    events: Option<Bus>,
    schedule: Schedule,
) {
    let runner = runner_name();
    tracing::debug!(%runner, interval_secs = schedule.interval.as_secs(), "job scheduler started");
    let mut done: std::collections::HashMap<Job, DateTime<Utc>> = std::collections::HashMap::new();
    loop {
        let now = clock.now();
        for job in Job::ALL {
            let slot = slot_of(now, job.interval(&schedule));
            if done.get(&job) == Some(&slot) {
                continue;
            }
            let extras = Extras {
                provider: provider.as_deref(),
                events: events.as_ref(),
                card_booking_hold: schedule.card_booking_hold,
            };
            match tick_in(&db, clock.as_ref(), extras, &runner, job, slot).await {
                Ok(t) => {
                    metrics.job_tick(job.name(), t.outcome());
                    done.insert(job, slot);
                }
                Err(e) => {
                    metrics.job_tick(job.name(), "failed");
                    tracing::error!(job = job.name(), error = %e, "job tick failed");
                }
            }
        }
        // Sleep to the next slot boundary of any job, so every replica ticks the same slots.
        let next = Job::ALL
            .into_iter()
            .map(|job| {
                let interval = job.interval(&schedule);
                slot_of(now, interval)
                    + chrono::Duration::from_std(interval).unwrap_or(chrono::Duration::hours(1))
            })
            .min()
            .unwrap_or(now);
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
