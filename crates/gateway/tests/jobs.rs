//! Scheduled jobs: each slot runs once, whoever reaches it; the jobs do their domain's work.

use std::time::Duration;

use chrono::{DateTime, NaiveDate, TimeZone as _, Utc};
use gateway::jobs::{Job, STALE_RUN, Tick, slot_of, tick, tick_with};
use kernel::{AcademicYear, Actor, Clock as _, FixedClock, SystemClock};
use membership::memberships::{MembershipFilter, MembershipStatus};
use sea_orm::sea_query::{Alias, Expr, ExprTrait as _, Query};
use sea_orm::{ConnectionTrait as _, DatabaseConnection, Statement};
use testkit::{Backend, TestDb};

const HOUR: Duration = Duration::from_hours(1);

fn at(y: i32, m: u32, d: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(y, m, d, 9, 0, 0)
        .single()
        .expect("valid date")
}

async fn rows(db: &DatabaseConnection, job: Job) -> i64 {
    let row = db
        .query_one_raw(Statement::from_string(
            db.get_database_backend(),
            format!(
                "SELECT COUNT(*) AS n FROM job_runs WHERE job = '{}'",
                job.name()
            ),
        ))
        .await
        .expect("count")
        .expect("a row");
    row.try_get::<i64>("", "n").expect("n")
}

async fn lapsed(db: &DatabaseConnection, year: AcademicYear) -> u64 {
    membership::memberships::count_for_year(
        db,
        &Actor::System,
        year,
        &MembershipFilter {
            status: Some(MembershipStatus::Lapsed),
            tier_id: None,
        },
    )
    .await
    .expect("count")
}

async fn lapses_unanswered_renewals_once_per_slot(db: TestDb) {
    let conn = db.conn();
    membership::demo::seed(conn, &SystemClock)
        .await
        .expect("demo");
    let from = AcademicYear::starting(membership::demo::DEMO_YEAR).expect("year");
    let clock = FixedClock::new(at(2027, 3, 1));
    let opened = membership::memberships::open_renewals(
        conn,
        &Actor::System,
        &clock,
        from,
        NaiveDate::from_ymd_opt(2027, 4, 30).expect("date"),
    )
    .await
    .expect("renewals open")
    .opened;
    assert!(opened > 0);

    // Before the notice date nothing lapses.
    let slot = slot_of(clock.now(), HOUR);
    let before = tick(conn, &clock, "a", Job::LapseUnansweredRenewals, slot)
        .await
        .expect("tick");
    assert_eq!(before, Tick::Ran("lapsed 0 unanswered renewal(s)".into()));

    clock.set(at(2027, 5, 5));
    let slot = slot_of(clock.now(), HOUR);
    let first = tick(conn, &clock, "a", Job::LapseUnansweredRenewals, slot)
        .await
        .expect("tick");
    assert_eq!(
        first,
        Tick::Ran(format!("lapsed {opened} unanswered renewal(s)"))
    );
    assert_eq!(lapsed(conn, from.next()).await, opened);

    // The same slot again, from "another replica": claimed already, nothing runs.
    let second = tick(conn, &clock, "b", Job::LapseUnansweredRenewals, slot)
        .await
        .expect("tick");
    assert_eq!(second, Tick::Taken);
    assert_eq!(rows(conn, Job::LapseUnansweredRenewals).await, 2);

    // The next slot runs again and finds nothing left.
    clock.advance(chrono::Duration::hours(1));
    let next = slot_of(clock.now(), HOUR);
    let third = tick(conn, &clock, "b", Job::LapseUnansweredRenewals, next)
        .await
        .expect("tick");
    assert_eq!(third, Tick::Ran("lapsed 0 unanswered renewal(s)".into()));
    assert_eq!(rows(conn, Job::LapseUnansweredRenewals).await, 3);
}

async fn set_run(db: &DatabaseConnection, started_at: DateTime<Utc>) {
    let stmt = Query::update()
        .table(Alias::new("invoicing_runs"))
        .value(Alias::new("status"), "IN_PROGRESS")
        .value(Alias::new("completed_at"), Option::<DateTime<Utc>>::None)
        .value(Alias::new("started_at"), started_at)
        .and_where(Expr::col(Alias::new("academic_year")).eq(membership::demo::DEMO_YEAR))
        .to_owned();
    assert_eq!(db.execute(&stmt).await.expect("update").rows_affected(), 1);
}

async fn run_status(db: &DatabaseConnection) -> billing::run::RunStatus {
    let year = AcademicYear::starting(membership::demo::DEMO_YEAR).expect("year");
    billing::run::of_year(db, &Actor::System, year)
        .await
        .expect("run")
        .expect("the demo year was invoiced")
        .status
}

async fn resumes_only_interrupted_invoicing_runs(db: TestDb) {
    let conn = db.conn();
    membership::demo::seed(conn, &SystemClock)
        .await
        .expect("demo");
    billing::demo::seed(conn, &SystemClock)
        .await
        .expect("billing demo");
    let now = SystemClock.now();

    // A run started a minute ago may be running right now: left alone.
    set_run(conn, now - chrono::Duration::minutes(1)).await;
    let slot = slot_of(now, HOUR);
    let fresh = tick(
        conn,
        &SystemClock,
        "a",
        Job::ResumeInterruptedInvoicing,
        slot,
    )
    .await
    .expect("tick");
    assert_eq!(fresh, Tick::Ran("no interrupted invoicing run".into()));
    assert_eq!(run_status(conn).await, billing::run::RunStatus::InProgress);

    // One older than STALE_RUN was interrupted: finished, without issuing anything twice.
    set_run(conn, now - STALE_RUN - chrono::Duration::minutes(1)).await;
    let next = slot + chrono::Duration::hours(1);
    let Tick::Ran(detail) = tick(
        conn,
        &SystemClock,
        "a",
        Job::ResumeInterruptedInvoicing,
        next,
    )
    .await
    .expect("tick") else {
        panic!("the job should have run");
    };
    assert!(
        detail.starts_with("resumed 2026/27: 0 created, "),
        "{detail}"
    );
    assert_eq!(run_status(conn).await, billing::run::RunStatus::Completed);
}

async fn a_job_still_running_elsewhere_is_skipped(db: TestDb) {
    if db.backend() != Backend::Postgres {
        return; // SQLite is one process: the slot's row is all it needs.
    }
    let conn = db.conn();
    // Another replica holds the job's lock on its own connection, in its own transaction.
    let other = sea_orm::Database::connect(db.url()).await.expect("connect");
    let txn = sea_orm::TransactionTrait::begin(&other)
        .await
        .expect("begin");
    txn.execute_unprepared(&format!(
        "SELECT pg_advisory_xact_lock({})",
        Job::LapseUnansweredRenewals.lock_key()
    ))
    .await
    .expect("lock");
    let slot = slot_of(Utc::now(), HOUR);
    let busy = tick(conn, &SystemClock, "a", Job::LapseUnansweredRenewals, slot)
        .await
        .expect("tick");
    assert_eq!(busy, Tick::Busy);
    assert_eq!(
        rows(conn, Job::LapseUnansweredRenewals).await,
        0,
        "a busy tick claims nothing"
    );
    txn.commit().await.expect("release the lock");
    let free = tick(conn, &SystemClock, "a", Job::LapseUnansweredRenewals, slot)
        .await
        .expect("tick");
    assert!(matches!(free, Tick::Ran(_)), "{free:?}");
}

async fn stripe_reconciliation_runs_as_a_job(db: TestDb) {
    let conn = db.conn();
    let slot = slot_of(at(2026, 11, 23), HOUR);
    // Offline: the job has nothing to compare, and says so.
    let Tick::Ran(detail) = tick(conn, &SystemClock, "a", Job::ReconcileStripe, slot)
        .await
        .expect("tick")
    else {
        panic!("the job ran");
    };
    assert!(detail.contains("not configured"), "{detail}");

    // With Stripe (the stand-in), a reconciliation run is recorded, once per slot.
    let Some(api_base) = testkit::stripe_url() else {
        return;
    };
    let provider = billing::provider::StripeProvider::new(&billing::provider::StripeConfig {
        secret_key: "sk_test_jobs".to_owned(),
        webhook_secret: "whsec_jobs".to_owned(),
        api_base: Some(api_base),
        payment_methods: billing::provider::HostedPaymentMethod::DEFAULTS.to_vec(),
    })
    .expect("provider");
    let next = slot + chrono::Duration::hours(1);
    let Tick::Ran(detail) = tick_with(
        conn,
        &SystemClock,
        Some(&provider),
        "a",
        Job::ReconcileStripe,
        next,
    )
    .await
    .expect("tick") else {
        panic!("the job ran");
    };
    assert!(detail.starts_with("compared "), "{detail}");
    let again = tick_with(
        conn,
        &SystemClock,
        Some(&provider),
        "b",
        Job::ReconcileStripe,
        next,
    )
    .await
    .expect("tick");
    assert_eq!(again, Tick::Taken);
    let runs = conn
        .query_one_raw(Statement::from_string(
            conn.get_database_backend(),
            "SELECT COUNT(*) AS n FROM reconciliation_runs".to_owned(),
        ))
        .await
        .expect("count")
        .expect("row")
        .try_get::<i64>("", "n")
        .expect("n");
    assert_eq!(runs, 1);
}

testkit::db_tests!(
    stripe_reconciliation_runs_as_a_job,
    lapses_unanswered_renewals_once_per_slot,
    resumes_only_interrupted_invoicing_runs,
    a_job_still_running_elsewhere_is_skipped
);
