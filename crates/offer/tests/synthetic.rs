//! The synthetic national offer (`trellis seed --synthetic`) at a small size, on SQLite and
//! PostgreSQL: every member school entitled by the real derivation, its usage within what it
//! was granted, read back through the services as a dashboard reads it.

use crate::support;

use kernel::{Actor, ErrorCode};
use membership::synthetic::Synthetic;
use support::*;
use testkit::TestDb;

async fn a_synthetic_offer_is_derived_used_and_read_back(db: TestDb) {
    let conn = db.conn();
    membership::synthetic::seed(
        conn,
        &clock(),
        Synthetic {
            schools: 40,
            seed: 5,
            year: year(),
        },
    )
    .await
    .expect("directory");
    let made = offer::synthetic::seed(conn, &clock(), year(), 5)
        .await
        .expect("offer");
    assert_eq!(made.items, 7, "the demo's catalogue");
    assert!(made.entitlements >= 40 * 3, "{made}");
    assert!(made.usages > 0, "{made}");

    let schools: Vec<_> = membership::memberships::active_for_year(conn, year())
        .await
        .expect("members")
        .into_iter()
        .map(|m| m.school_id)
        .collect();
    let balances = offer::balances_of_schools(conn, &schools, year())
        .await
        .expect("balances");
    assert_eq!(balances.len(), 40, "every member school is entitled");
    let all: Vec<_> = balances.values().flatten().collect();
    assert_eq!(all.len(), made.entitlements);
    assert_eq!(
        all.iter().map(|b| b.usages).sum::<i64>(),
        i64::try_from(made.usages).expect("count"),
        "every usage is on an entitlement"
    );
    for b in &all {
        assert!(b.usages <= 4, "{b:?}");
        assert!(
            b.unlimited || b.usages <= b.granted,
            "within the allowance: {b:?}"
        );
    }
    // As the portal reads it: used and remaining agree with the ledger.
    let offer = offer::offer_of_school(conn, &Actor::System, schools[0], year())
        .await
        .expect("a school's offer");
    assert!(!offer.lines.is_empty());
    for line in &offer.lines {
        if let Some(left) = line.balance.remaining() {
            assert_eq!(left, line.balance.granted - line.balance.usages);
        }
    }

    // Once: the catalogue's codes are taken.
    match offer::synthetic::seed(conn, &clock(), year(), 5).await {
        Err(kernel::DomainError::Invalid(errors)) => assert_eq!(errors[0].code, ErrorCode::Taken),
        other => panic!("expected TAKEN, got {other:?}"),
    }
}

testkit::db_tests!(a_synthetic_offer_is_derived_used_and_read_back);
