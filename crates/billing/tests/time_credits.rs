//! Credits for recorded time against real databases: each minute paid once, however often
//! and however concurrently finance asks.

use crate::ledger_support;

use billing::ledger::time_credits::{self, RATE_FIELD, SOURCE_FIELD, TimeCredit};
use kernel::{DomainError, ErrorCode, Role, SchoolId};
use ledger_support::*;
use sea_orm::DatabaseConnection;
use testkit::TestDb;

fn credit(school: SchoolId, minutes: u32, rate: i64) -> TimeCredit {
    TimeCredit {
        source: "review-support:0192f".to_owned(),
        school,
        minutes_recorded: minutes,
        rate_per_hour: gbp(rate),
        description: "School-to-school support".to_owned(),
    }
}

fn field_code(err: DomainError) -> (String, ErrorCode) {
    match err {
        DomainError::Invalid(fields) => (fields[0].field.join("."), fields[0].code),
        other => panic!("expected a field error, got {other:?}"),
    }
}

async fn credited(db: &DatabaseConnection, school: SchoolId, minutes: u32, rate: i64) -> i64 {
    time_credits::credit_time(db, &finance(), &clock(), credit(school, minutes, rate))
        .await
        .expect("credit")
        .payment
        .amount
        .pence()
}

async fn time_recorded_after_a_credit_is_paid_by_the_next(db: TestDb) {
    let conn = db.conn();
    let (school, _) = school_account(conn, 250_001, "Birch Primary").await;
    assert_eq!(credited(conn, school, 90, 6_000).await, 9_000);
    // A retry with nothing new returns the same credit; at another rate it is a conflict.
    let first = time_credits::credit_time(conn, &finance(), &clock(), credit(school, 90, 6_000))
        .await
        .expect("retry");
    assert_eq!((first.minutes, first.minutes_through), (90, 90));
    let err = time_credits::credit_time(conn, &finance(), &clock(), credit(school, 90, 7_000))
        .await
        .expect_err("other rate");
    assert_eq!(
        field_code(err),
        (RATE_FIELD.to_owned(), ErrorCode::Conflict)
    );
    // Another hour recorded: the next credit pays that hour only, at today's rate.
    let second = time_credits::credit_time(conn, &finance(), &clock(), credit(school, 150, 7_000))
        .await
        .expect("second");
    assert_ne!(second.payment.id, first.payment.id);
    assert_eq!(second.payment.amount.pence(), 7_000);
    assert_eq!((second.minutes, second.minutes_through), (60, 150));
    let credited_so_far =
        time_credits::minutes_credited(conn, &["review-support:0192f".to_owned()])
            .await
            .expect("credited");
    assert_eq!(credited_so_far.get("review-support:0192f"), Some(&150));
    // Fewer minutes than were paid: named, nothing written.
    let err = time_credits::credit_time(conn, &finance(), &clock(), credit(school, 60, 7_000))
        .await
        .expect_err("fewer");
    assert_eq!(
        field_code(err),
        (SOURCE_FIELD.to_owned(), ErrorCode::Conflict)
    );
}

async fn concurrent_credits_pay_the_minutes_once(db: TestDb) {
    let conn = db.conn();
    let (school, account) = school_account(conn, 250_002, "Cedar Primary").await;
    let tasks: Vec<_> = (0..6)
        .map(|_| {
            let conn = conn.clone();
            tokio::spawn(async move {
                time_credits::credit_time(&conn, &finance(), &clock(), credit(school, 120, 4_500))
                    .await
            })
        })
        .collect();
    let mut ids = Vec::new();
    for task in tasks {
        ids.push(task.await.expect("join").expect("credit").payment.id);
    }
    ids.dedup();
    assert_eq!(ids.len(), 1, "one credit for six askers: {ids:?}");
    let statement = billing::ledger::account_statement(conn, &finance(), account.id, year())
        .await
        .expect("statement");
    assert_eq!(statement.received.pence(), 9_000, "{statement:?}");
}

async fn only_finance_credits_and_only_accounts_are_credited(db: TestDb) {
    let conn = db.conn();
    let (school, _) = school_account(conn, 250_003, "Damson Primary").await;
    let head = user(Role::SchoolLeader, &[school]);
    let err = time_credits::credit_time(conn, &head, &clock(), credit(school, 60, 6_000))
        .await
        .expect_err("head");
    assert!(matches!(err, DomainError::Forbidden(_)), "{err:?}");
    let unbilled = ledger_support::school(conn, 250_004, "Elm Primary").await;
    let err = time_credits::credit_time(conn, &finance(), &clock(), credit(unbilled, 60, 6_000))
        .await
        .expect_err("no account");
    assert_eq!(
        field_code(err),
        (SOURCE_FIELD.to_owned(), ErrorCode::NotFound)
    );
    let err = time_credits::credit_time(conn, &finance(), &clock(), credit(school, 60, 0))
        .await
        .expect_err("no rate");
    assert_eq!(
        field_code(err),
        (RATE_FIELD.to_owned(), ErrorCode::OutOfRange)
    );
}

testkit::db_tests!(
    time_recorded_after_a_credit_is_paid_by_the_next,
    concurrent_credits_pay_the_minutes_once,
    only_finance_credits_and_only_accounts_are_credited,
);
