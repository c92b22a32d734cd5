//! The synthetic national partnership (`trellis seed --synthetic`) at a small size, on SQLite
//! and PostgreSQL: built in batches, read back through the services as any data is, and
//! invoiced by the real run.

use billing::ledger::InvoiceStatus;
use billing::ledger::invoices::InvoiceFilter;
use billing::run::{self, RunStatus};
use kernel::{Clock as _, ErrorCode, Role};
use membership::memberships;
use membership::people::{Lookup, users};
use membership::school::{self};
use membership::synthetic::{self, Synthetic};
use membership::{NameKey, PageArgs};
use testkit::TestDb;

use super::run::{clock, field_errors, person, year};

async fn a_synthetic_partnership_is_read_back_and_invoiced(db: TestDb) {
    let db = db.conn();
    let what = Synthetic {
        schools: 60,
        seed: 7,
        year: year(),
    };
    let refused = synthetic::seed(db, &clock(), Synthetic { schools: 0, ..what }).await;
    assert_eq!(field_errors(refused)[0].code, ErrorCode::OutOfRange);

    let report = synthetic::seed(db, &clock(), what).await.expect("seed");
    assert_eq!(
        (report.schools, report.memberships, report.users),
        (60, 60, 62)
    );
    assert!(
        report.partnerships >= 4,
        "clustered by local authority: {report}"
    );
    let again = synthetic::seed(db, &clock(), what).await;
    assert_eq!(
        field_errors(again)[0].code,
        ErrorCode::Conflict,
        "only into an empty directory"
    );

    // Through the services, as the API reads it.
    let active = memberships::active_for_year(db, year())
        .await
        .expect("active");
    assert_eq!(active.len(), 60);
    assert!(active.iter().all(|m| m.missing_principles().is_empty()));
    let ids: Vec<_> = active.iter().map(|m| m.school_id).collect();
    let schools = school::by_ids(db, &ids).await.expect("schools");
    assert_eq!(schools.len(), 60);
    assert!(schools.values().all(|s| s.roll.is_some()));
    let head = users::find_active_by_email(db, "head1@synthetic.example")
        .await
        .expect("lookup")
        .expect("a head per school");
    let head = users::actor_for(db, Lookup::Id(head.id))
        .await
        .expect("actor")
        .expect("active");
    assert_eq!(head.role, Role::SchoolLeader);
    assert_eq!(head.schools.len(), 1);

    let ledger = billing::synthetic::seed(db, &clock(), year())
        .await
        .expect("ledger");
    assert_eq!((ledger.schedules, ledger.accounts), (2, 60));
    let finance = person(db, "finance@trellis.example", Role::Finance).await;
    let done = run::start(db, &finance, &clock(), year())
        .await
        .expect("run");
    assert_eq!(done.status, RunStatus::Completed);
    assert_eq!(
        done.invoices_created, 60,
        "every school's autumn or annual invoice"
    );
    let associates = u32::try_from(active.len() / 10).expect("count");
    let scheduled = run::scheduled_instalments(db, &finance, year())
        .await
        .expect("scheduled");
    assert_eq!(
        u32::try_from(scheduled.len()).expect("count"),
        2 * (60 - associates),
        "spring and summer for each FULL (termly) member"
    );

    // Receipts: two in four paid, one in four half paid, one in four not at all, read back
    // through the ledger's services.
    let paid = billing::synthetic::receipts(db, &clock(), year())
        .await
        .expect("receipts");
    assert_eq!((paid.paid, paid.part_paid, paid.unpaid), (30, 15, 15));
    let all = billing::ledger::invoices::invoices(
        db,
        &finance,
        &InvoiceFilter::default(),
        &PageArgs::<NameKey>::first(100),
    )
    .await
    .expect("invoices")
    .items;
    let count = |status: InvoiceStatus| all.iter().filter(|i| i.status == status).count();
    assert_eq!(
        (
            count(InvoiceStatus::Paid),
            count(InvoiceStatus::PartiallyPaid),
            count(InvoiceStatus::Open)
        ),
        (30, 15, 15)
    );
    let owed: i64 = all.iter().map(|i| i.outstanding.pence()).sum();
    assert!(
        all.iter()
            .all(|i| i.total.pence() == i.paid.pence() + i.outstanding.pence())
    );
    let debt = billing::ledger::aged_debt(db, &finance, clock().today())
        .await
        .expect("aged debt");
    assert_eq!(
        debt.iter().map(|r| r.total.pence()).sum::<i64>(),
        owed,
        "aged debt is what the receipts left"
    );
    assert_eq!(debt.len(), 30, "the half-paid and the unpaid accounts");
    assert!(
        billing::ledger::unallocated_receipts(db, &finance)
            .await
            .expect("unallocated")
            .is_empty(),
        "every receipt allocated"
    );
}

testkit::db_tests!(a_synthetic_partnership_is_read_back_and_invoiced);
