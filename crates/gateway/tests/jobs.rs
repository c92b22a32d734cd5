//! Scheduled jobs: each slot runs once, whoever reaches it; the jobs do their domain's work.

use std::time::Duration;

use chrono::{DateTime, NaiveDate, TimeZone as _, Utc};
use gateway::events::{Bus, Event, LocalBus};
use gateway::jobs::{Extras, Job, STALE_RUN, Tick, slot_of, tick, tick_in, tick_with};
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

/// The demo directory and its ledger, seeded today.
async fn ledger_demo(conn: &DatabaseConnection) {
    membership::demo::seed(conn, &SystemClock)
        .await
        .expect("demo");
    billing::demo::seed(conn, &SystemClock)
        .await
        .expect("billing demo");
}

/// The Stripe adapter, pointed at the test run's stand-in.
fn stand_in(api_base: String) -> billing::provider::StripeProvider {
    billing::provider::StripeProvider::new(&billing::provider::StripeConfig {
        secret_key: "sk_test_jobs".to_owned(),
        webhook_secret: "whsec_jobs".to_owned(),
        api_base: Some(api_base),
        payment_methods: billing::provider::HostedPaymentMethod::DEFAULTS.to_vec(),
    })
    .expect("provider")
}

async fn resumes_only_interrupted_invoicing_runs(db: TestDb) {
    let conn = db.conn();
    ledger_demo(conn).await;
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
    let provider = stand_in(api_base);
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

/// The spring instalments the job issues reach Stripe as the invoicing run's do, so each gets
/// its hosted page (and its email the link): before, only invoices issued through GraphQL were
/// mirrored, and these emails waited the hour for a link that never came.
async fn scheduled_instalments_are_mirrored_as_the_job_issues_them(db: TestDb) {
    let Some(api_base) = testkit::stripe_url() else {
        return;
    };
    let conn = db.conn();
    ledger_demo(conn).await;
    let year = AcademicYear::starting(membership::demo::DEMO_YEAR).expect("year");
    let spring = billing::run::scheduled_instalments(conn, &Actor::System, year)
        .await
        .expect("schedule")
        .into_iter()
        .filter(|s| s.status == billing::run::ScheduleStatus::Pending)
        .map(|s| s.issue_on)
        .min()
        .expect("the demo's termly accounts have instalments to come");
    let clock = FixedClock::new(Utc.from_utc_datetime(&spring.and_hms_opt(7, 0, 0).expect("time")));
    let provider = stand_in(api_base);
    let slot = slot_of(clock.now(), HOUR);
    let Tick::Ran(detail) = tick_with(
        conn,
        &clock,
        Some(&provider),
        "a",
        Job::IssueScheduledInstalments,
        slot,
    )
    .await
    .expect("tick") else {
        panic!("the job ran");
    };
    let issued: Vec<kernel::InvoiceId> =
        billing::run::scheduled_instalments(conn, &Actor::System, year)
            .await
            .expect("schedule")
            .into_iter()
            .filter(|s| s.issue_on == spring && s.status == billing::run::ScheduleStatus::Issued)
            .filter_map(|s| s.invoice_id)
            .collect();
    assert!(!issued.is_empty(), "{detail}");
    assert!(
        detail.ends_with(&format!(", {} mirrored to stripe", issued.len())),
        "{detail}"
    );
    let invoices = billing::ledger::invoices::invoices_by_ids(conn, &issued)
        .await
        .expect("invoices");
    let mirrors = billing::mirror::mirrored_invoices_by_ids(conn, &issued)
        .await
        .expect("mirrors");
    for id in &issued {
        let invoice = &invoices[id];
        assert_eq!(invoice.collection, billing::ledger::InvoiceCollection::Send);
        let mirror = mirrors.get(id).expect("at Stripe");
        assert!(mirror.provider_invoice_ref.starts_with("in_"), "{mirror:?}");
        assert!(invoice.hosted_url.is_some(), "{invoice:?}");
        assert_eq!(invoice.hosted_url, mirror.hosted_url);
    }

    // Nothing left to issue: nothing mirrored again, and the summary says nothing of Stripe.
    let again = tick_with(
        conn,
        &clock,
        Some(&provider),
        "a",
        Job::IssueScheduledInstalments,
        slot + chrono::Duration::hours(1),
    )
    .await
    .expect("tick");
    assert_eq!(
        again,
        Tick::Ran("issued 0 scheduled instalment(s), 0 cancelled, 0 mirrored to stripe".into())
    );
}

/// The demo partnership with its traded catalogue, seeded on `clock`.
async fn traded_demo(conn: &DatabaseConnection, clock: &FixedClock) {
    membership::demo::seed(conn, clock)
        .await
        .expect("directory");
    billing::demo::seed(conn, clock).await.expect("billing");
    offer::demo::seed(conn, clock).await.expect("offer");
    let report = traded::demo::seed(conn, clock).await.expect("traded");
    assert!(report.bookings > 0, "{report}");
}

/// A card booking of Holly Park awaiting its payment, on the demo conference's session. The
/// demo makes none (it runs without a payment provider, where CARD is refused), so it is
/// made through a provider that takes cards.
async fn pending_card_booking(conn: &DatabaseConnection, clock: &FixedClock) -> traded::Booking {
    let head = membership::people::users::actor_for(
        conn,
        membership::people::users::Lookup::Email(traded::demo::DEMO_SCHOOL_USER),
    )
    .await
    .expect("lookup")
    .expect("head");
    let school = head.schools[0];
    let conference = all_bookings(conn)
        .await
        .into_iter()
        .find(|b| b.school_id == school && b.po_number.as_deref() == Some("HP-PO-2224"))
        .expect("the demo's conference booking");
    let done = traded::book(
        conn,
        &Actor::User(head),
        clock,
        &billing::provider::RecordedCards,
        traded::NewBooking {
            school_id: school,
            session_id: conference.session_id,
            attendees: vec![traded::NewAttendee {
                name: "Card Payer".to_owned(),
                email: "card.payer@holly-park.example".to_owned(),
                role: None,
            }],
            settlement: traded::Settlement::Card,
            po_number: None,
            join_waitlist: false,
            idempotency_key: None,
        },
    )
    .await
    .expect("card booking");
    assert_eq!(done.booking.status, traded::BookingStatus::PendingPayment);
    done.booking
}

fn bus() -> Bus {
    std::sync::Arc::new(LocalBus::new(std::sync::Arc::new(
        gateway::metrics::Metrics::new(),
    )))
}

/// Every `BookingUpdated` published so far, as (booking, school).
fn booking_events(
    rx: &mut tokio::sync::broadcast::Receiver<Event>,
) -> Vec<(kernel::BookingId, kernel::SchoolId)> {
    let mut out = Vec::new();
    while let Ok(event) = rx.try_recv() {
        if let Event::BookingUpdated { booking, school } = event {
            out.push((booking, school));
        }
    }
    out
}

async fn all_bookings(conn: &DatabaseConnection) -> Vec<traded::Booking> {
    let ids: Vec<kernel::SessionId> = traded::sessions_page(
        conn,
        &Actor::System,
        &traded::SessionFilter::default(),
        &membership::PageArgs::first(100),
    )
    .await
    .expect("sessions")
    .items
    .into_iter()
    .map(|s| s.id)
    .collect();
    traded::bookings_of_sessions(conn, &ids)
        .await
        .expect("bookings")
        .into_values()
        .flatten()
        .collect()
}

async fn releases_unpaid_card_bookings_once_per_slot(db: TestDb) {
    let conn = db.conn();
    let clock = FixedClock::new(at(2026, 11, 23));
    traded_demo(conn, &clock).await;
    pending_card_booking(conn, &clock).await;
    let unpaid: Vec<traded::Booking> = all_bookings(conn)
        .await
        .into_iter()
        .filter(|b| b.status == traded::BookingStatus::PendingPayment)
        .collect();
    assert_eq!(unpaid.len(), 1, "the card booking waits for its payment");
    let card = &unpaid[0];
    let events = bus();
    let mut rx = events.subscribe();
    let extras = Extras {
        events: Some(&events),
        card_booking_hold: Duration::from_hours(2),
        ..Extras::default()
    };

    // Within the hold the booking keeps its places.
    clock.advance(chrono::Duration::hours(1));
    let slot = slot_of(clock.now(), HOUR);
    let early = tick_in(conn, &clock, extras, "a", Job::ReleaseUnpaidBookings, slot)
        .await
        .expect("tick");
    assert_eq!(
        early,
        Tick::Ran("released 0 unpaid booking(s); 0 booking(s) changed".into())
    );
    assert!(booking_events(&mut rx).is_empty());

    // Past it, the booking is released and its school hears of it.
    clock.advance(chrono::Duration::hours(2));
    let slot = slot_of(clock.now(), HOUR);
    let Tick::Ran(detail) = tick_in(conn, &clock, extras, "a", Job::ReleaseUnpaidBookings, slot)
        .await
        .expect("tick")
    else {
        panic!("the job ran");
    };
    assert!(
        detail.starts_with("released 1 unpaid booking(s)"),
        "{detail}"
    );
    let now = traded::bookings_by_ids(conn, &[card.id])
        .await
        .expect("load")
        .remove(&card.id)
        .expect("booking");
    assert_eq!(now.status, traded::BookingStatus::Cancelled);
    assert_eq!(now.places_held, 0);
    assert!(booking_events(&mut rx).contains(&(card.id, card.school_id)));

    // Another replica in the same slot: taken, nothing runs, nothing announced.
    let again = tick_in(conn, &clock, extras, "b", Job::ReleaseUnpaidBookings, slot)
        .await
        .expect("tick");
    assert_eq!(again, Tick::Taken);
    assert!(booking_events(&mut rx).is_empty());
    assert_eq!(rows(conn, Job::ReleaseUnpaidBookings).await, 2);
}

async fn expires_unanswered_waitlist_offers_once_per_slot(db: TestDb) {
    let conn = db.conn();
    let clock = FixedClock::new(at(2026, 11, 23));
    traded_demo(conn, &clock).await;
    let bookings = all_bookings(conn).await;
    let waiting = bookings
        .iter()
        .find(|b| b.status == traded::BookingStatus::Waitlisted)
        .expect("the demo has a waiting-list entry");
    let holder = bookings
        .iter()
        .find(|b| {
            b.session_id == waiting.session_id && b.status == traded::BookingStatus::Confirmed
        })
        .expect("someone holds the place");
    // The holder cancels: the place is offered to the waiting entry.
    let change = traded::cancel_booking(
        conn,
        &Actor::System,
        &clock,
        &billing::provider::OfflineProvider,
        holder.id,
        None,
    )
    .await
    .expect("cancel");
    assert_eq!(
        change.offered.iter().map(|b| b.id).collect::<Vec<_>>(),
        vec![waiting.id]
    );
    let events = bus();
    let mut rx = events.subscribe();
    let extras = Extras {
        events: Some(&events),
        ..Extras::default()
    };

    // While the offer stands, the sweep leaves it alone.
    clock.advance(chrono::Duration::hours(1));
    let slot = slot_of(clock.now(), HOUR);
    let standing = tick_in(conn, &clock, extras, "a", Job::ExpireWaitlistOffers, slot)
        .await
        .expect("tick");
    assert_eq!(
        standing,
        Tick::Ran("0 offer(s) expired, 0 entr(ies) offered the places".into())
    );

    // Unanswered past its window, it expires (nobody else waits) and the school is told.
    clock.advance(chrono::Duration::days(4));
    let slot = slot_of(clock.now(), HOUR);
    let expired = tick_in(conn, &clock, extras, "a", Job::ExpireWaitlistOffers, slot)
        .await
        .expect("tick");
    assert_eq!(
        expired,
        Tick::Ran("1 offer(s) expired, 0 entr(ies) offered the places".into())
    );
    let entry = traded::bookings_by_ids(conn, &[waiting.id])
        .await
        .expect("load")
        .remove(&waiting.id)
        .expect("entry");
    assert_ne!(entry.status, traded::BookingStatus::Confirmed);
    assert_eq!(entry.places_held, 0);
    assert_eq!(
        booking_events(&mut rx),
        vec![(waiting.id, waiting.school_id)]
    );

    let again = tick_in(conn, &clock, extras, "b", Job::ExpireWaitlistOffers, slot)
        .await
        .expect("tick");
    assert_eq!(again, Tick::Taken);
    assert!(booking_events(&mut rx).is_empty());
}

async fn completes_card_refunds_left_pending_once_per_slot(db: TestDb) {
    use billing::ledger::payments::{self, NewPayment, ReceiptMethod};
    let conn = db.conn();
    let clock = FixedClock::new(at(2026, 11, 23));
    traded_demo(conn, &clock).await;
    let card = pending_card_booking(conn, &clock).await;
    // The card money arrives and the booking is confirmed, as the webhook would.
    let invoice_id = card.invoice_id.expect("card invoice");
    let invoice = billing::ledger::invoices::invoices_by_ids(conn, &[invoice_id])
        .await
        .expect("load")
        .remove(&invoice_id)
        .expect("invoice");
    let receipt = payments::record_payment(
        conn,
        &Actor::System,
        &clock,
        NewPayment {
            account_id: invoice.account_id,
            method: ReceiptMethod::Card,
            reference: "card payment".to_owned(),
            received_on: clock.today(),
            amount: invoice.total,
            provider_payment_ref: None,
            idempotency_key: None,
        },
    )
    .await
    .expect("receipt");
    payments::allocate(
        conn,
        &Actor::System,
        &clock,
        receipt.id,
        &[(invoice_id, invoice.total)],
        None,
    )
    .await
    .expect("allocate");
    traded::confirm_paid_bookings(conn, &clock, &[invoice_id])
        .await
        .expect("confirm");
    // Cancelled well ahead: all of it comes back to the card.
    let cancelled = traded::cancel_booking(
        conn,
        &Actor::System,
        &clock,
        &billing::provider::OfflineProvider,
        card.id,
        None,
    )
    .await
    .expect("cancel")
    .booking;
    assert_eq!(cancelled.refund, Some(invoice.total));
    assert_eq!(cancelled.refund_state, Some(traded::RefundState::Done));
    // Say the provider had been unreachable: the refund is still owed.
    let owed = Query::update()
        .table(Alias::new("traded_bookings"))
        .value(Alias::new("refund_state"), "PENDING")
        .and_where(Expr::col(Alias::new("id")).eq(card.id.as_uuid()))
        .to_owned();
    assert_eq!(
        conn.execute(&owed).await.expect("update").rows_affected(),
        1
    );

    let events = bus();
    let mut rx = events.subscribe();
    let extras = Extras {
        events: Some(&events),
        ..Extras::default()
    };
    let slot = slot_of(clock.now(), HOUR);
    let done = tick_in(conn, &clock, extras, "a", Job::CompleteCardRefunds, slot)
        .await
        .expect("tick");
    assert_eq!(done, Tick::Ran("completed 1 card refund(s)".into()));
    let now = traded::bookings_by_ids(conn, &[card.id])
        .await
        .expect("load")
        .remove(&card.id)
        .expect("booking");
    assert_eq!(now.refund_state, Some(traded::RefundState::Done));
    assert_eq!(booking_events(&mut rx), vec![(card.id, card.school_id)]);
    // Refunded once: the receipt shows the one refund.
    let paid = payments::payments_by_ids(conn, &[receipt.id])
        .await
        .expect("load")
        .remove(&receipt.id)
        .expect("receipt");
    assert_eq!(paid.refunded, invoice.total);

    let again = tick_in(conn, &clock, extras, "b", Job::CompleteCardRefunds, slot)
        .await
        .expect("tick");
    assert_eq!(again, Tick::Taken);
    let next = slot + chrono::Duration::hours(1);
    let none = tick_in(conn, &clock, extras, "b", Job::CompleteCardRefunds, next)
        .await
        .expect("tick");
    assert_eq!(none, Tick::Ran("completed 0 card refund(s)".into()));
}

testkit::db_tests!(
    completes_card_refunds_left_pending_once_per_slot,
    releases_unpaid_card_bookings_once_per_slot,
    expires_unanswered_waitlist_offers_once_per_slot,
    stripe_reconciliation_runs_as_a_job,
    scheduled_instalments_are_mirrored_as_the_job_issues_them,
    lapses_unanswered_renewals_once_per_slot,
    resumes_only_interrupted_invoicing_runs,
    a_job_still_running_elsewhere_is_skipped
);
