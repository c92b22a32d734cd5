//! The synthetic national trade (`trellis seed --synthetic`) at a small size, on SQLite and
//! PostgreSQL: sessions scheduled by the real service and filled by batched bookings that
//! read back through the services as `book` would have left them.

use std::collections::HashSet;

use crate::support;

use membership::synthetic::Synthetic;
use support::*;
use testkit::TestDb;
use traded::synthetic::SyntheticTrade;

async fn a_synthetic_trade_fills_sessions_once_per_school(db: TestDb) {
    let conn = db.conn();
    membership::synthetic::seed(
        conn,
        &clock(),
        Synthetic {
            schools: 30,
            seed: 2,
            year: year(),
        },
    )
    .await
    .expect("directory");
    let what = SyntheticTrade {
        sessions: 4,
        bookings: 50,
        seed: 2,
    };
    let made = traded::synthetic::seed(conn, &clock(), year(), what)
        .await
        .expect("trade");
    assert_eq!((made.sessions, made.bookings), (4, 50), "{made}");
    assert!(made.services > 0);

    let schools: Vec<_> = membership::memberships::active_for_year(conn, year())
        .await
        .expect("members")
        .into_iter()
        .map(|m| m.school_id)
        .collect();
    let by_school = traded::bookings::bookings_of_schools(conn, &schools)
        .await
        .expect("bookings");
    let all: Vec<_> = by_school.values().flatten().collect();
    assert_eq!(all.len(), 50, "every booking is a member school's");
    let mut pairs = HashSet::new();
    for b in &all {
        assert!(
            pairs.insert((b.school_id, b.session_id)),
            "one booking per school and session"
        );
        assert_eq!(b.status, traded::types::BookingStatus::Confirmed);
        assert_eq!((b.places, b.places_held), (1, 1));
    }
    let session_ids: Vec<_> = pairs
        .iter()
        .map(|(_, s)| *s)
        .collect::<HashSet<_>>()
        .into_iter()
        .collect();
    let sessions = traded::sessions::sessions_by_ids(conn, &session_ids)
        .await
        .expect("sessions");
    assert_eq!(sessions.len(), 4);
    let attendees = traded::bookings::attendees_of_bookings(
        conn,
        &all.iter().map(|b| b.id).collect::<Vec<_>>(),
    )
    .await
    .expect("attendees");
    assert_eq!(
        attendees.values().map(Vec::len).sum::<usize>(),
        50,
        "a delegate each"
    );
    for session in sessions.values() {
        let booked = all.iter().filter(|b| b.session_id == session.id).count();
        assert_eq!(session.places_taken as usize, booked, "places taken match");
        assert!(session.places_taken <= session.capacity);
        assert_eq!(session.capacity, 13, "50 places over 4 sessions");
    }

    // Once: the catalogue's codes are taken.
    assert!(
        traded::synthetic::seed(conn, &clock(), year(), what)
            .await
            .is_err()
    );
}

testkit::db_tests!(a_synthetic_trade_fills_sessions_once_per_school);
