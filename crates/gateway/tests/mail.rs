//! Email from real `trellis serve` processes to a real SMTP server on loopback: the demo
//! year's invoices and receipts are a burst of messages, two replicas drain that outbox and
//! send each message once, and one is killed with SIGKILL in the middle of the burst: what
//! it had claimed but not sent is sent by the other once its claim lapses. Nothing is lost; nothing but the one message in flight at the kill can
//! arrive twice, and it carries the same Message-ID both times.
//!
//! Two processes on one database need PostgreSQL; on SQLite one process is killed and
//! restarted instead.

use crate::common;

use std::collections::HashMap;
use std::time::{Duration, Instant};

use common::Server;
use sea_orm::{ConnectionTrait as _, Statement};
use testkit::TestDb;
use testkit::smtp::{SmtpSink, parse};

fn secret() -> String {
    format!("test-secret-{}", uuid::Uuid::now_v7().simple())
}

/// (messages in the outbox, of which SENT).
async fn outbox(db: &TestDb) -> (i64, i64) {
    let backend = db.conn().get_database_backend();
    let row = db
        .conn()
        .query_one_raw(Statement::from_string(
            backend,
            "SELECT COUNT(*) AS total, \
             COALESCE(SUM(CASE WHEN status = 'SENT' THEN 1 ELSE 0 END), 0) AS sent \
             FROM notifications"
                .to_owned(),
        ))
        .await
        .expect("count")
        .expect("row");
    let read = |c: &str| {
        row.try_get::<i64>("", c)
            .or_else(|_| row.try_get::<i32>("", c).map(i64::from))
            .expect("a count")
    };
    (read("total"), read("sent"))
}

async fn wait_until(what: &str, timeout: Duration, mut done: impl AsyncFnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !done().await {
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn a_killed_replica_loses_nothing_and_sends_nothing_twice(db: TestDb) {
    let Some(sink) = SmtpSink::start() else {
        return;
    };
    // The demo year's invoicing run: one email per invoice to its account's contact.
    membership::demo::seed(db.conn(), &kernel::SystemClock)
        .await
        .expect("demo");
    billing::demo::seed(db.conn(), &kernel::SystemClock)
        .await
        .expect("billing demo");
    let url = sink.url();
    let env = [
        ("TRELLIS_DEMO", "false"),
        ("TRELLIS_SMTP_URL", url.as_str()),
        (
            "TRELLIS_MAIL_FROM",
            "Heath Hill <finance@heathhill.example>",
        ),
        ("TRELLIS_NOTIFY_POLL_MS", "50"),
        // Short, so the test sees the killed replica's claims lapse.
        ("TRELLIS_MAIL_LEASE_SECS", "3"),
    ];
    let secret = secret();
    let postgres = db.backend() == testkit::Backend::Postgres;
    let mut a: Option<Server> = Some(common::spawn(db.url(), &secret, &env).await);
    let b = if postgres {
        Some(common::spawn(db.url(), &secret, &env).await)
    } else {
        None
    };

    // Mid-burst, SIGKILL one replica.
    wait_until(
        "the burst is under way",
        Duration::from_mins(1),
        async || sink.count() >= 5,
    )
    .await;
    drop(a.take()); // Server's Drop is SIGKILL.
    let at_kill = sink.count();
    let (total, _) = outbox(&db).await;
    assert!(total > 20, "a burst: {total} messages");
    assert!(
        usize::try_from(total).expect("count") > at_kill,
        "killed before the burst was over"
    );
    // On SQLite nobody is left: start it again, as a restarted pod would be.
    let _restarted = if postgres {
        None
    } else {
        Some(common::spawn(db.url(), &secret, &env).await)
    };

    wait_until(
        "every message is sent",
        Duration::from_mins(2),
        async || {
            let (total, sent) = outbox(&db).await;
            sent == total
        },
    )
    .await;
    drop(b);
    let received: Vec<_> = sink.raw().iter().map(|raw| parse(raw)).collect();
    let mut per_id: HashMap<&str, usize> = HashMap::new();
    for mail in &received {
        *per_id.entry(mail.message_id.as_str()).or_default() += 1;
    }
    assert_eq!(
        per_id.len(),
        usize::try_from(total).expect("count"),
        "every message arrived"
    );
    let twice: Vec<_> = per_id.iter().filter(|(_, n)| **n > 1).collect();
    assert!(
        twice.len() <= 1 && twice.iter().all(|(_, n)| **n == 2),
        "at most the message in flight at the kill arrives twice: {twice:?}"
    );
    assert!(
        received.iter().all(|m| [
            "Invoice TRL-",
            "Reminder: invoice TRL-",
            "Payment received: £"
        ]
        .iter()
        .any(|s| m.subject.starts_with(s))
            && m.from == "finance@heathhill.example"),
        "{:?}",
        received.first()
    );
}

testkit::db_tests!(a_killed_replica_loses_nothing_and_sends_nothing_twice);
