//! The demo catalogue loads on top of the other demos, through the public services, once.

use kernel::{Actor, FixedClock};
use testkit::TestDb;
use traded::BookingStatus;

async fn the_demo_catalogue_loads_once(db: TestDb) {
    let clock = FixedClock::new(
        chrono::TimeZone::with_ymd_and_hms(&chrono::Utc, 2026, 11, 23, 10, 0, 0)
            .single()
            .expect("time"),
    );
    let conn = db.conn();
    membership::demo::seed(conn, &clock)
        .await
        .expect("directory");
    billing::demo::seed(conn, &clock).await.expect("billing");
    offer::demo::seed(conn, &clock).await.expect("offer");
    let report = traded::demo::seed(conn, &clock).await.expect("traded");
    assert!(!report.skipped);
    assert_eq!(report.services, 11);
    assert!(report.sessions >= 15, "{report}");
    assert!(report.bookings >= 8, "{report}");
    let again = traded::demo::seed(conn, &clock).await.expect("rerun");
    assert!(again.skipped);

    let head = membership::people::users::actor_for(
        conn,
        membership::people::users::Lookup::Email(traded::demo::DEMO_SCHOOL_USER),
    )
    .await
    .expect("q")
    .expect("head");
    let school = head.schools[0];
    let mine = traded::bookings_of_schools(conn, &[school])
        .await
        .expect("bookings")
        .remove(&school)
        .expect("Holly Park has bookings");
    let statuses: Vec<BookingStatus> = mine.iter().map(|b| b.status).collect();
    for expected in [
        BookingStatus::Confirmed,
        BookingStatus::Waitlisted,
        BookingStatus::PendingApproval,
    ] {
        assert!(statuses.contains(&expected), "{expected} in {statuses:?}");
    }
    let catalogue = traded::services(
        conn,
        &Actor::User(head),
        &clock,
        &traded::ServiceFilter::default(),
        &membership::PageArgs::first(50),
    )
    .await
    .expect("catalogue");
    assert_eq!(catalogue.items.len(), 11);
}

testkit::db_tests!(the_demo_catalogue_loads_once);
