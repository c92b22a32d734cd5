//! Concurrent writers against one entitlement: the last units are used once, a usage is
//! reversed once. On SQLite and PostgreSQL (where the transactions really overlap, each on
//! its own pooled connection).

use crate::support;

use futures::future::join_all;
use kernel::{DomainError, ErrorCode};
use offer::NewUsage;
use support::*;
use testkit::TestDb;

const RACERS: usize = 16;

async fn simultaneous_usages_never_overdraw(db: TestDb) {
    let w = derived_world(&db).await;
    let c = clock();
    // Ten CPD places; sixteen requests for one each at the same moment.
    let attempts = (0..RACERS).map(|n| {
        offer::record_usage(
            db.conn(),
            &w.admin,
            &c,
            NewUsage {
                school_id: w.alder,
                item_id: w.items.cpd,
                quantity: 1,
                occurred_on: day(2026, 10, 14),
                reference: Some(format!("booking-{n}")),
                reason: None,
            },
        )
    });
    let results = join_all(attempts).await;
    let accepted = results.iter().filter(|r| r.is_ok()).count();
    for refused in results.iter().filter_map(|r| r.as_ref().err()) {
        match refused {
            DomainError::Invalid(fields) => {
                assert_eq!(fields[0].field, ["quantity"]);
                assert_eq!(fields[0].code, ErrorCode::OutOfRange);
            }
            other => panic!("a losing racer is told nothing is left, not {other:?}"),
        }
    }
    assert_eq!(accepted, 10, "exactly the ten places are used");
    let b = balance(&db, w.alder, w.items.cpd).await;
    assert_eq!((b.used(), b.remaining()), (10, Some(0)));
}

async fn the_last_unit_is_used_once(db: TestDb) {
    let w = derived_world(&db).await;
    let c = clock();
    offer::record_usage(
        db.conn(),
        &w.admin,
        &c,
        NewUsage {
            school_id: w.cedar,
            item_id: w.items.sip,
            quantity: 5,
            occurred_on: day(2026, 10, 1),
            reference: None,
            reason: None,
        },
    )
    .await
    .expect("five of six days");
    let attempts = (0..RACERS).map(|_| {
        offer::record_usage(
            db.conn(),
            &w.admin,
            &c,
            NewUsage {
                school_id: w.cedar,
                item_id: w.items.sip,
                quantity: 1,
                occurred_on: day(2026, 11, 1),
                reference: None,
                reason: None,
            },
        )
    });
    let accepted = join_all(attempts)
        .await
        .iter()
        .filter(|r| r.is_ok())
        .count();
    assert_eq!(accepted, 1);
    assert_eq!(
        balance(&db, w.cedar, w.items.sip).await.remaining(),
        Some(0)
    );
}

async fn simultaneous_reversals_give_back_once(db: TestDb) {
    let w = derived_world(&db).await;
    let c = clock();
    let used = offer::record_usage(
        db.conn(),
        &w.admin,
        &c,
        NewUsage {
            school_id: w.alder,
            item_id: w.items.cpd,
            quantity: 4,
            occurred_on: day(2026, 10, 14),
            reference: None,
            reason: None,
        },
    )
    .await
    .expect("usage");
    let attempts =
        (0..RACERS).map(|_| offer::reverse_usage(db.conn(), &w.admin, &c, used.id, None));
    let results = join_all(attempts).await;
    assert_eq!(results.iter().filter(|r| r.is_ok()).count(), 1);
    assert!(
        results
            .iter()
            .filter_map(|r| r.as_ref().err())
            .all(|e| matches!(e, DomainError::Invalid(f) if f[0].code == ErrorCode::Conflict)),
        "{results:?}"
    );
    assert_eq!(
        balance(&db, w.alder, w.items.cpd).await.remaining(),
        Some(10)
    );
}

testkit::db_tests!(
    simultaneous_usages_never_overdraw,
    the_last_unit_is_used_once,
    simultaneous_reversals_give_back_once,
);
