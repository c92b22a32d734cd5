//! Nobody is ever oversold: 200 simultaneous requests for one place each on a session of 30,
//! through the test database's connection pool (several connections, so the transactions
//! really overlap on PostgreSQL; SQLite serialises its writers).

use crate::support;

use futures::future::join_all;
use kernel::{DomainError, ErrorCode};
use support::*;
use testkit::TestDb;
use traded::{BookingStatus, NewBooking, Settlement};

const REQUESTS: usize = 200;
const CAPACITY: u32 = 30;

async fn two_hundred_requests_for_thirty_places(db: TestDb) {
    let w = world(&db).await;
    let c = clock();
    let session = scheduled(&db, new_session(&w.course, CAPACITY)).await;
    // Every other request would rather wait than be refused.
    let attempts = (0..REQUESTS).map(|n| {
        let (school, leader) = match n % 3 {
            0 => (w.alder, &w.head_alder),
            1 => (w.birch, &w.head_birch),
            _ => (w.cedar, &w.head_cedar),
        };
        let input = NewBooking {
            school_id: school,
            session_id: session.id,
            attendees: vec![attendee(n)],
            settlement: Settlement::Card,
            po_number: None,
            join_waitlist: n % 2 == 0,
            idempotency_key: None,
        };
        let db = &db;
        let c = &c;
        async move { (n, book(db, leader, c, input).await) }
    });
    let results = join_all(attempts).await;
    let mut held = 0;
    let mut waitlisted = 0;
    let mut refused = 0;
    for (n, result) in &results {
        match result {
            Ok(done) if done.booking.places_held == 1 => {
                assert_eq!(done.booking.status, BookingStatus::PendingPayment);
                held += 1;
            }
            Ok(done) => {
                assert_eq!(done.booking.status, BookingStatus::Waitlisted);
                assert_eq!(n % 2, 0, "only those who asked to wait are waitlisted");
                waitlisted += 1;
            }
            Err(DomainError::Invalid(fields)) => {
                assert_eq!(fields[0].field, ["attendees"]);
                assert_eq!(fields[0].code, ErrorCode::Conflict);
                assert_eq!(n % 2, 1, "those who asked to wait are never refused");
                refused += 1;
            }
            Err(other) => panic!("request {n}: {other:?}"),
        }
    }
    assert_eq!(held, 30, "exactly the thirty places are held");
    assert_eq!(held + waitlisted + refused, REQUESTS);
    assert_eq!(session_now(&db, &session).await.places_taken, CAPACITY);
    assert_eq!(
        rows(&db, "invoices").await,
        30,
        "a card invoice per held booking, none for the rest"
    );
    assert_eq!(
        rows(&db, "traded_bookings").await,
        i64::try_from(held + waitlisted).expect("count")
    );
}

testkit::db_tests!(two_hundred_requests_for_thirty_places);
