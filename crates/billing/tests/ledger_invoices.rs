//! Billing accounts and invoices against real databases (SQLite and PostgreSQL).

use crate::ledger_support;

use billing::ledger::accounts::{self, AccountChanges, AccountKind};
use billing::ledger::invoices::{self, InvoiceFilter};
use billing::ledger::{
    AuditEntity, Instalment, InvoiceStatus, VatTreatment, audit_of, issue_invoice, issue_invoices,
    numbering,
};
use kernel::{DomainError, ErrorCode, Role};
use ledger_support::*;
use membership::{NameKey, PageArgs};
use testkit::TestDb;

async fn accounts_pay_for_schools_and_are_seen_by_their_schools(db: TestDb) {
    let conn = db.conn();
    let a = school(conn, 100_001, "Alder Primary").await;
    let b = school(conn, 100_002, "Birch Primary").await;
    let c = school(conn, 100_003, "Cedar Primary").await;
    let trust = accounts::create(
        conn,
        &finance(),
        &clock(),
        new_account(AccountKind::Trust, "Oak Trust", &[a, b]),
    )
    .await
    .expect("trust");
    assert_eq!(trust.school_ids.len(), 2);
    let single = accounts::create(
        conn,
        &finance(),
        &clock(),
        new_account(AccountKind::School, "Cedar Primary", &[c]),
    )
    .await
    .expect("school account");

    // A school is billed through exactly one account.
    assert_invalid(
        accounts::create(
            conn,
            &finance(),
            &clock(),
            new_account(AccountKind::School, "Again", &[a]),
        )
        .await,
        "schoolIds.0",
        ErrorCode::Taken,
    );
    let d = school(conn, 100_004, "Damson Primary").await;
    assert_invalid(
        accounts::attach_school(conn, &finance(), &clock(), single.id, d).await,
        "schoolId",
        ErrorCode::Conflict,
    );
    let trust = accounts::attach_school(conn, &finance(), &clock(), trust.id, d)
        .await
        .expect("attach");
    assert_eq!(trust.school_ids.len(), 3);
    assert_invalid(
        accounts::attach_school(conn, &finance(), &clock(), trust.id, d).await,
        "schoolId",
        ErrorCode::Taken,
    );
    assert_invalid(
        accounts::attach_school(
            conn,
            &finance(),
            &clock(),
            trust.id,
            kernel::SchoolId::new(),
        )
        .await,
        "schoolId",
        ErrorCode::NotFound,
    );

    // Bad input, every problem at once, nothing written.
    let mut bad = new_account(AccountKind::School, " ", &[]);
    bad.contact_email = "not-an-email".into();
    bad.address.postcode = "nope".into();
    match accounts::create(conn, &finance(), &clock(), bad).await {
        Err(DomainError::Invalid(problems)) => {
            let fields: Vec<String> = problems.iter().map(|p| p.field.join(".")).collect();
            for f in ["name", "contactEmail", "address.postcode", "schoolIds"] {
                assert!(fields.contains(&f.to_owned()), "{f} in {fields:?}");
            }
        }
        other => panic!("expected invalid, got {other:?}"),
    }

    // Who may do what.
    let leader_a = user(Role::SchoolLeader, &[a]);
    let leader_c = user(Role::SchoolLeader, &[c]);
    assert!(matches!(
        accounts::create(
            conn,
            &leader_a,
            &clock(),
            new_account(AccountKind::School, "X", &[])
        )
        .await,
        Err(DomainError::Forbidden(_))
    ));
    assert_eq!(
        accounts::account(conn, &leader_a, trust.id)
            .await
            .expect("own trust")
            .id,
        trust.id
    );
    assert!(matches!(
        accounts::account(conn, &leader_c, trust.id).await,
        Err(DomainError::NotFound { .. })
    ));
    assert!(matches!(
        accounts::account(conn, &user(Role::SchoolStaff, &[a]), trust.id).await,
        Err(DomainError::Forbidden(_))
    ));
    let all = PageArgs::<NameKey>::first(10);
    let seen: Vec<_> = accounts::list(conn, &leader_c, &all)
        .await
        .expect("list")
        .items
        .into_iter()
        .map(|x| x.id)
        .collect();
    assert_eq!(seen, vec![single.id]);
    let page = accounts::list(conn, &finance(), &PageArgs::first(1))
        .await
        .expect("list");
    assert_eq!(page.items[0].name, "Cedar Primary");
    assert!(page.has_next_page);
    let next = accounts::list(
        conn,
        &finance(),
        &PageArgs {
            after: Some(page.items[0].sort_key()),
            ..PageArgs::first(5)
        },
    )
    .await
    .expect("next");
    assert_eq!(
        next.items
            .iter()
            .map(|x| x.name.as_str())
            .collect::<Vec<_>>(),
        vec!["Oak Trust"]
    );

    // Batch loaders.
    let by_school = accounts::accounts_of_schools(conn, &[a, c, kernel::SchoolId::new()])
        .await
        .expect("of schools");
    assert_eq!(by_school.len(), 2);
    assert_eq!(by_school[&a].id, trust.id);
    assert_eq!(
        accounts::account_for_school(conn, c)
            .await
            .expect("q")
            .map(|x| x.id),
        Some(single.id)
    );
    assert_eq!(
        accounts::accounts_by_ids(conn, &[trust.id, single.id])
            .await
            .expect("ids")
            .len(),
        2
    );

    // Updates are audited with before and after.
    let updated = accounts::update(
        conn,
        &finance(),
        &clock(),
        single.id,
        AccountChanges {
            contact_name: Some("Sam Head".into()),
            provider_customer_ref: Some(Some("offline_cus_1".into())),
            ..AccountChanges::default()
        },
    )
    .await
    .expect("update");
    assert_eq!(updated.contact_name, "Sam Head");
    assert_eq!(
        updated.provider_customer_ref.as_deref(),
        Some("offline_cus_1")
    );
    let trail = audit_of(
        conn,
        &finance(),
        AuditEntity::BillingAccount,
        single.id.as_uuid(),
    )
    .await
    .expect("trail");
    assert_eq!(
        trail.iter().map(|e| e.action.as_str()).collect::<Vec<_>>(),
        vec!["account.create", "account.update"]
    );
    assert_eq!(
        trail[1].before.as_ref().expect("before")["contact_name"],
        "Pat Bursar"
    );
    assert_eq!(
        trail[1].after.as_ref().expect("after")["contact_name"],
        "Sam Head"
    );
    assert!(matches!(
        audit_of(
            conn,
            &leader_c,
            AuditEntity::BillingAccount,
            single.id.as_uuid()
        )
        .await,
        Err(DomainError::Forbidden(_))
    ));
}

async fn issuing_is_idempotent_and_numbers_are_gap_free(db: TestDb) {
    let conn = db.conn();
    let (_, first) = school_account(conn, 110_001, "Alder Primary").await;
    let (_, second) = school_account(conn, 110_002, "Birch Primary").await;
    let mut numbers = Vec::new();
    for account in [&first, &second] {
        for instalment in [Instalment::Autumn, Instalment::Spring, Instalment::Summer] {
            let outcome = issue_invoice(
                conn,
                &finance(),
                &clock(),
                new_invoice(account, instalment, vec![line(100_000)]),
            )
            .await
            .expect("issue");
            assert!(outcome.created);
            numbers.push(outcome.invoice.number);
        }
    }
    assert_eq!(
        numbers,
        (1..=6)
            .map(|n| format!("TRL-2026-{n:06}"))
            .collect::<Vec<_>>(),
        "sequential across accounts"
    );
    // The rerun: same account, year and instalment returns the first invoice.
    let again = issue_invoice(
        conn,
        &finance(),
        &clock(),
        new_invoice(&first, Instalment::Spring, vec![line(999)]),
    )
    .await
    .expect("rerun");
    assert!(!again.created);
    assert_eq!(again.invoice.number, "TRL-2026-000002");
    assert_eq!(
        again.invoice.total,
        gbp(100_000),
        "the first invoice, unchanged"
    );
    // A failed issue takes no number.
    let mut bad = new_invoice(&first, Instalment::Annual, vec![line(0)]);
    bad.lines[0].quantity = 0;
    assert_invalid(
        issue_invoice(conn, &finance(), &clock(), bad).await,
        "lines.0.quantity",
        ErrorCode::OutOfRange,
    );
    let next = invoice(conn, &first, 5_000).await;
    assert_eq!(next.number, "TRL-2026-000007");
    // Ad-hoc invoices are never deduplicated.
    let other = invoice(conn, &first, 5_000).await;
    assert_eq!(other.number, "TRL-2026-000008");

    // A configurable prefix continues the same sequence.
    numbering::set_prefix(
        conn,
        &finance(),
        &clock(),
        numbering::Series::Invoice,
        "HEP",
    )
    .await
    .expect("prefix");
    assert_eq!(
        invoice(conn, &second, 5_000).await.number,
        "HEP-2026-000009"
    );
    assert_invalid(
        numbering::set_prefix(
            conn,
            &finance(),
            &clock(),
            numbering::Series::Invoice,
            "hep-1",
        )
        .await,
        "prefix",
        ErrorCode::Invalid,
    );
    let mut next_year = new_invoice(&second, Instalment::Annual, vec![line(1)]);
    next_year.year = year().next();
    assert_eq!(
        issue_invoice(conn, &finance(), &clock(), next_year)
            .await
            .expect("next year")
            .invoice
            .number,
        "HEP-2027-000001",
        "each academic year starts again at 1"
    );
}

/// The run's way: many invoices, numbered in the order asked, each once, all or nothing per
/// chunk.
async fn issuing_many_at_once_numbers_them_in_order_and_once(db: TestDb) {
    let conn = db.conn();
    let (_, a) = school_account(conn, 115_001, "Alder Primary").await;
    let (_, b) = school_account(conn, 115_002, "Birch Primary").await;
    let (_, c) = school_account(conn, 115_003, "Cedar Primary").await;
    let before = issue_invoice(
        conn,
        &finance(),
        &clock(),
        new_invoice(&b, Instalment::Autumn, vec![line(7_000)]),
    )
    .await
    .expect("one alone");
    assert_eq!(before.invoice.number, "TRL-2026-000001");

    let batch = || {
        vec![
            new_invoice(&a, Instalment::Autumn, vec![line(10_000)]),
            new_invoice(&b, Instalment::Autumn, vec![line(99)]),
            new_invoice(&c, Instalment::Autumn, vec![line(30_000)]),
            new_invoice(&a, Instalment::Spring, vec![line(10_000), line(500)]),
        ]
    };
    let outcomes = issue_invoices(conn, &finance(), &clock(), batch())
        .await
        .expect("batch");
    let seen: Vec<(String, bool)> = outcomes
        .iter()
        .map(|o| (o.invoice.number.clone(), o.created))
        .collect();
    assert_eq!(
        seen,
        vec![
            ("TRL-2026-000002".to_owned(), true),
            ("TRL-2026-000001".to_owned(), false),
            ("TRL-2026-000003".to_owned(), true),
            ("TRL-2026-000004".to_owned(), true),
        ],
        "in the order asked, the existing instalment returned as it was"
    );
    assert_eq!(outcomes[1].invoice.total, gbp(7_000));
    assert_eq!(outcomes[3].invoice.total, gbp(10_500));
    let spring = invoices::invoice(conn, &finance(), outcomes[3].invoice.id)
        .await
        .expect("read back");
    assert_eq!(
        spring, outcomes[3].invoice,
        "what was returned is what was stored"
    );

    // Each created invoice has its audit entry, with its lines, and its outbox event.
    let trail = audit_of(
        conn,
        &finance(),
        AuditEntity::Invoice,
        outcomes[3].invoice.id.as_uuid(),
    )
    .await
    .expect("trail");
    assert_eq!(trail.len(), 1);
    assert_eq!(trail[0].action, "invoice.issue");
    let after = trail[0].after.as_ref().expect("after");
    assert_eq!(after["invoice"]["number"], "TRL-2026-000004");
    assert_eq!(after["lines"].as_array().map(Vec::len), Some(2));
    assert_eq!(
        issued_events(conn).await,
        4,
        "one event per invoice created"
    );

    // Again: nothing new.
    let again = issue_invoices(conn, &finance(), &clock(), batch())
        .await
        .expect("again");
    assert!(again.iter().all(|o| !o.created));
    assert_eq!(
        again.iter().map(|o| o.invoice.id).collect::<Vec<_>>(),
        outcomes.iter().map(|o| o.invoice.id).collect::<Vec<_>>()
    );
    assert_eq!(issued_events(conn).await, 4);

    // One bad invoice stops its chunk: the good one beside it is not issued and takes no
    // number.
    let mut bad = new_invoice(&b, Instalment::Spring, vec![line(1_000)]);
    bad.lines[0].quantity = 0;
    assert_invalid(
        issue_invoices(
            conn,
            &finance(),
            &clock(),
            vec![new_invoice(&c, Instalment::Spring, vec![line(1_000)]), bad],
        )
        .await,
        "lines.0.quantity",
        ErrorCode::OutOfRange,
    );
    assert_eq!(invoice(conn, &c, 5_000).await.number, "TRL-2026-000005");

    // Only finance issues.
    assert!(matches!(
        issue_invoices(
            conn,
            &user(Role::SchoolLeader, &[]),
            &clock(),
            vec![new_invoice(&c, Instalment::Summer, vec![line(1_000)])],
        )
        .await,
        Err(DomainError::Forbidden(_))
    ));
    assert!(matches!(
        issue_invoices(conn, &user(Role::SchoolLeader, &[]), &clock(), Vec::new()).await,
        Err(DomainError::Forbidden(_))
    ));

    // Two overlapping batches at once (a run retried while it still runs): each instalment
    // once, no deadlock between their account locks.
    let overlapping = |order: bool| {
        let mut list = vec![
            new_invoice(&a, Instalment::Summer, vec![line(1_000)]),
            new_invoice(&b, Instalment::Summer, vec![line(1_000)]),
            new_invoice(&c, Instalment::Summer, vec![line(1_000)]),
        ];
        if order {
            list.reverse();
        }
        list
    };
    let tasks: Vec<_> = [false, true, false, true]
        .into_iter()
        .map(|order| {
            let conn = conn.clone();
            let list = overlapping(order);
            tokio::spawn(async move { issue_invoices(&conn, &finance(), &clock(), list).await })
        })
        .collect();
    let mut created = 0;
    for task in tasks {
        created += task
            .await
            .expect("join")
            .expect("issue")
            .iter()
            .filter(|o| o.created)
            .count();
    }
    assert_eq!(created, 3, "each summer instalment once");
}

/// How many invoice-issued events the outbox holds.
async fn issued_events(conn: &sea_orm::DatabaseConnection) -> i64 {
    use sea_orm::ConnectionTrait as _;
    let backend = conn.get_database_backend();
    let row = conn
        .query_one_raw(sea_orm::Statement::from_string(
            backend,
            "SELECT COUNT(*) AS n FROM domain_events WHERE kind = 'invoice.issued'",
        ))
        .await
        .expect("count")
        .expect("row");
    row.try_get::<i64>("", "n").expect("n")
}

async fn concurrent_issues_of_one_instalment_make_one_invoice(db: TestDb) {
    let conn = db.conn();
    let (_, account) = school_account(conn, 120_001, "Alder Primary").await;
    let (_, other) = school_account(conn, 120_002, "Birch Primary").await;
    let tasks: Vec<_> = (0..6)
        .map(|i| {
            let conn = conn.clone();
            let account = if i % 2 == 0 {
                account.clone()
            } else {
                other.clone()
            };
            tokio::spawn(async move {
                issue_invoice(
                    &conn,
                    &finance(),
                    &clock(),
                    new_invoice(&account, Instalment::Annual, vec![line(10_000)]),
                )
                .await
            })
        })
        .collect();
    let mut created = 0;
    let mut numbers = Vec::new();
    for task in tasks {
        let outcome = task.await.expect("join").expect("issue");
        if outcome.created {
            created += 1;
        }
        numbers.push(outcome.invoice.number);
    }
    assert_eq!(created, 2, "one per account");
    numbers.sort();
    numbers.dedup();
    assert_eq!(
        numbers,
        vec!["TRL-2026-000001".to_owned(), "TRL-2026-000002".to_owned()]
    );
}

async fn lines_carry_vat_cfr_and_schools(db: TestDb) {
    let conn = db.conn();
    let a = school(conn, 130_001, "Alder Primary").await;
    let b = school(conn, 130_002, "Birch Primary").await;
    let stranger = school(conn, 130_003, "Elsewhere Primary").await;
    let trust = accounts::create(
        conn,
        &finance(),
        &clock(),
        new_account(AccountKind::Trust, "Oak Trust", &[a, b]),
    )
    .await
    .expect("trust");
    let mut course = line(1_001);
    course.quantity = 3;
    course.vat_treatment = VatTreatment::Standard;
    course.vat_rate_bp = 2_000;
    course.cfr_code = Some("e27".into());
    course.school_id = Some(b);
    let mut membership = line(600_000);
    membership.school_id = Some(a);
    let issued = issue_invoice(
        conn,
        &finance(),
        &clock(),
        new_invoice(&trust, Instalment::Annual, vec![membership, course]),
    )
    .await
    .expect("issue")
    .invoice;
    assert_eq!(issued.net, gbp(603_003));
    assert_eq!(
        issued.vat,
        gbp(601),
        "20% of £30.03 is £6.006, rounded half up"
    );
    assert_eq!(issued.total, gbp(603_604));
    assert_eq!(issued.outstanding, issued.total);
    assert_eq!(issued.status, InvoiceStatus::Open);
    let lines = invoices::lines_of_invoices(conn, &[issued.id])
        .await
        .expect("lines");
    let lines = &lines[&issued.id];
    assert_eq!(lines.len(), 2);
    assert_eq!(lines[1].cfr_code.as_deref(), Some("E27"));
    assert_eq!(lines[1].school_id, Some(b));
    assert_eq!(lines[1].gross(), gbp(3_604));

    // Schools filter: a line for that school.
    let of_b = invoices::invoices(
        conn,
        &finance(),
        &InvoiceFilter {
            school_id: Some(b),
            ..Default::default()
        },
        &PageArgs::first(10),
    )
    .await
    .expect("filter");
    assert_eq!(of_b.items.len(), 1);

    // Bad lines: every problem reported, nothing written.
    let mut wrong_vat = line(100);
    wrong_vat.vat_rate_bp = 2_000;
    let mut negative = line(-5);
    negative.school_id = Some(stranger);
    negative.cfr_code = Some("E-19".into());
    let mut bad = new_invoice(&trust, Instalment::Autumn, vec![wrong_vat, negative]);
    bad.due_on = date(2026, 9, 1);
    match issue_invoice(conn, &finance(), &clock(), bad).await {
        Err(DomainError::Invalid(problems)) => {
            let fields: Vec<String> = problems.iter().map(|p| p.field.join(".")).collect();
            for f in [
                "lines.0.vatRateBp",
                "lines.1.unitAmountPence",
                "lines.1.schoolId",
                "lines.1.cfrCode",
                "dueOn",
            ] {
                assert!(fields.contains(&f.to_owned()), "{f} in {fields:?}");
            }
        }
        other => panic!("expected invalid, got {other:?}"),
    }
    assert_invalid(
        issue_invoice(
            conn,
            &finance(),
            &clock(),
            new_invoice(&trust, Instalment::Autumn, vec![]),
        )
        .await,
        "lines",
        ErrorCode::Required,
    );
    assert_invalid(
        issue_invoice(
            conn,
            &finance(),
            &clock(),
            new_invoice(&trust, Instalment::Autumn, vec![line(0)]),
        )
        .await,
        "lines",
        ErrorCode::OutOfRange,
    );
    let mut ghost = trust.clone();
    ghost.id = kernel::BillingAccountId::new();
    assert_invalid(
        issue_invoice(
            conn,
            &finance(),
            &clock(),
            new_invoice(&ghost, Instalment::Autumn, vec![line(10)]),
        )
        .await,
        "accountId",
        ErrorCode::NotFound,
    );
    assert!(matches!(
        issue_invoice(
            conn,
            &user(Role::SchoolLeader, &[a]),
            &clock(),
            new_invoice(&trust, Instalment::Autumn, vec![line(10)])
        )
        .await,
        Err(DomainError::Forbidden(_))
    ));
    let page = invoices::invoices(
        conn,
        &finance(),
        &InvoiceFilter::default(),
        &PageArgs::first(10),
    )
    .await
    .expect("all");
    assert_eq!(page.items.len(), 1, "nothing half-written");
}

async fn purchase_orders_by_own_leader_or_finance_only(db: TestDb) {
    let conn = db.conn();
    let (own, account) = school_account(conn, 140_001, "Alder Primary").await;
    let (other, _) = school_account(conn, 140_002, "Birch Primary").await;
    let issued = invoice(conn, &account, 50_000).await;

    let leader = user(Role::SchoolLeader, &[own]);
    let updated = invoices::set_purchase_order(conn, &leader, &clock(), issued.id, " PO-123 ")
        .await
        .expect("own leader");
    assert_eq!(updated.po_number.as_deref(), Some("PO-123"));
    assert!(matches!(
        invoices::set_purchase_order(
            conn,
            &user(Role::SchoolLeader, &[other]),
            &clock(),
            issued.id,
            "PO-9"
        )
        .await,
        Err(DomainError::NotFound { .. })
    ));
    assert!(matches!(
        invoices::set_purchase_order(
            conn,
            &user(Role::SchoolStaff, &[own]),
            &clock(),
            issued.id,
            "PO-9"
        )
        .await,
        Err(DomainError::Forbidden(_))
    ));
    let by_finance = invoices::set_purchase_order(conn, &finance(), &clock(), issued.id, "PO-456")
        .await
        .expect("finance");
    assert_eq!(by_finance.po_number.as_deref(), Some("PO-456"));
    assert_invalid(
        invoices::set_purchase_order(conn, &leader, &clock(), issued.id, "  ").await,
        "poNumber",
        ErrorCode::Required,
    );
    assert!(matches!(
        invoices::set_purchase_order(conn, &leader, &clock(), kernel::InvoiceId::new(), "PO-1")
            .await,
        Err(DomainError::NotFound { .. })
    ));

    // Reading follows the same rule.
    assert_eq!(
        invoices::invoice(conn, &leader, issued.id)
            .await
            .expect("own")
            .id,
        issued.id
    );
    assert!(matches!(
        invoices::invoice(conn, &user(Role::SchoolLeader, &[other]), issued.id).await,
        Err(DomainError::NotFound { .. })
    ));
    let theirs = invoices::invoices(
        conn,
        &user(Role::SchoolLeader, &[other]),
        &InvoiceFilter::default(),
        &PageArgs::first(10),
    )
    .await
    .expect("list");
    assert!(theirs.items.is_empty());

    // Once void, the invoice is closed to purchase orders.
    invoices::void(conn, &finance(), &clock(), issued.id, "raised in error")
        .await
        .expect("void");
    assert_invalid(
        invoices::set_purchase_order(conn, &leader, &clock(), issued.id, "PO-7").await,
        "invoiceId",
        ErrorCode::Conflict,
    );
    let trail = audit_of(conn, &finance(), AuditEntity::Invoice, issued.id.as_uuid())
        .await
        .expect("trail");
    let actions: Vec<&str> = trail.iter().map(|e| e.action.as_str()).collect();
    assert_eq!(
        actions,
        vec![
            "invoice.issue",
            "invoice.set_purchase_order",
            "invoice.set_purchase_order",
            "invoice.void"
        ]
    );
    assert!(
        trail
            .iter()
            .skip(1)
            .all(|e| e.before.is_some() && e.after.is_some())
    );
}

async fn void_and_write_off_follow_the_status_table(db: TestDb) {
    let conn = db.conn();
    let (_, account) = school_account(conn, 150_001, "Alder Primary").await;
    let a = invoice(conn, &account, 10_000).await;
    assert_invalid(
        invoices::void(conn, &finance(), &clock(), a.id, " ").await,
        "reason",
        ErrorCode::Required,
    );
    assert!(matches!(
        invoices::void(
            conn,
            &user(Role::SchoolLeader, &account.school_ids),
            &clock(),
            a.id,
            "no"
        )
        .await,
        Err(DomainError::Forbidden(_))
    ));
    let voided = invoices::void(conn, &finance(), &clock(), a.id, "duplicate")
        .await
        .expect("void");
    assert_eq!(voided.status, InvoiceStatus::Void);
    assert_eq!(voided.status_reason.as_deref(), Some("duplicate"));
    assert_invalid(
        invoices::void(conn, &finance(), &clock(), a.id, "again").await,
        "invoiceId",
        ErrorCode::Conflict,
    );
    assert_invalid(
        invoices::mark_uncollectible(conn, &finance(), &clock(), a.id, "gone").await,
        "invoiceId",
        ErrorCode::Conflict,
    );

    let b = invoice(conn, &account, 10_000).await;
    let written_off =
        invoices::mark_uncollectible(conn, &finance(), &clock(), b.id, "school closed")
            .await
            .expect("write off");
    assert_eq!(written_off.status, InvoiceStatus::Uncollectible);
    assert_invalid(
        invoices::void(conn, &finance(), &clock(), kernel::InvoiceId::new(), "x").await,
        "invoiceId",
        ErrorCode::NotFound,
    );

    // Provider references may be recorded after issue; the financial content may not change.
    let c = invoice(conn, &account, 10_000).await;
    let mirrored =
        invoices::record_provider_invoice(conn, &finance(), &clock(), c.id, "offline_in_1", None)
            .await
            .expect("ref");
    assert_eq!(
        mirrored.provider_invoice_ref.as_deref(),
        Some("offline_in_1")
    );
    assert_eq!(mirrored.total, c.total);

    let overdue = invoices::invoices(
        conn,
        &finance(),
        &InvoiceFilter {
            overdue_on: Some(date(2026, 11, 1)),
            ..Default::default()
        },
        &PageArgs::first(10),
    )
    .await
    .expect("overdue");
    assert_eq!(
        overdue.items.iter().map(|i| i.id).collect::<Vec<_>>(),
        vec![c.id]
    );
    let by_status = invoices::invoices(
        conn,
        &finance(),
        &InvoiceFilter {
            status: vec![InvoiceStatus::Void, InvoiceStatus::Uncollectible],
            year: Some(year()),
            ..Default::default()
        },
        &PageArgs::first(10),
    )
    .await
    .expect("status");
    assert_eq!(by_status.items.len(), 2);
    let of_accounts = invoices::invoices_of_accounts(conn, &[account.id])
        .await
        .expect("of accounts");
    assert_eq!(of_accounts[&account.id].len(), 3);
    assert_eq!(
        invoices::invoices_by_ids(conn, &[a.id, b.id])
            .await
            .expect("ids")
            .len(),
        2
    );
}

/// Finance's invoice list with each invoice's account: one statement, the same pages as
/// `invoices` (both directions, across a cursor), and each account the one the account
/// loader reads, whether it pays for two schools, one or none. A school leader sees only
/// the invoices of accounts paying for their school, as `invoices` answers them.
async fn invoice_pages_read_their_accounts_in_the_same_statement(mut db: TestDb) {
    let counter = db.count_statements();
    let conn = db.conn();
    let a = school(conn, 131_001, "Alder Primary").await;
    let b = school(conn, 131_002, "Birch Primary").await;
    let (c, single) = school_account(conn, 131_003, "Cedar Primary").await;
    let trust = accounts::create(
        conn,
        &finance(),
        &clock(),
        new_account(AccountKind::Trust, "Oak Trust", &[a, b]),
    )
    .await
    .expect("trust");
    let bare = accounts::create(
        conn,
        &finance(),
        &clock(),
        new_account(AccountKind::Trust, "Elm Trust", &[]),
    )
    .await
    .expect("an account paying for no school yet");
    for (account, pence) in [
        (&trust, 100),
        (&single, 200),
        (&trust, 300),
        (&bare, 400),
        (&single, 500),
        (&trust, 600),
    ] {
        invoice(conn, account, pence).await;
    }
    let cursor = invoices::invoices(
        conn,
        &finance(),
        &InvoiceFilter::default(),
        &PageArgs::first(2),
    )
    .await
    .expect("first two")
    .items[1]
        .sort_key();
    let pages: [PageArgs<NameKey>; 4] = [
        PageArgs::first(100),
        PageArgs::first(2),
        PageArgs {
            after: Some(cursor.clone()),
            before: None,
            limit: 3,
            backward: false,
        },
        PageArgs {
            after: None,
            before: None,
            limit: 4,
            backward: true,
        },
    ];
    for args in &pages {
        let plain = invoices::invoices(conn, &finance(), &InvoiceFilter::default(), args)
            .await
            .expect("plain");
        counter.reset();
        let joined =
            invoices::invoices_with_accounts(conn, &finance(), &InvoiceFilter::default(), args)
                .await
                .expect("with accounts");
        assert_eq!(
            counter.get(),
            1,
            "the page and its accounts in one statement"
        );
        assert_eq!(
            (joined.has_next_page, joined.has_previous_page),
            (plain.has_next_page, plain.has_previous_page),
            "{args:?}"
        );
        let invoices: Vec<_> = joined.items.iter().map(|(i, _)| i.clone()).collect();
        assert_eq!(invoices, plain.items, "{args:?}");
        let ids: Vec<_> = invoices.iter().map(|i| i.account_id).collect();
        let by_id = accounts::accounts_by_ids(conn, &ids)
            .await
            .expect("accounts");
        for (invoice, account) in &joined.items {
            assert_eq!(account, &by_id[&invoice.account_id], "{}", invoice.number);
        }
    }
    let all = invoices::invoices_with_accounts(
        conn,
        &finance(),
        &InvoiceFilter::default(),
        &PageArgs::first(100),
    )
    .await
    .expect("all");
    let schools_paid_for: Vec<usize> = all.items.iter().map(|(_, a)| a.school_ids.len()).collect();
    assert_eq!(schools_paid_for, [2, 1, 2, 0, 1, 2]);

    // A leader of Cedar sees Cedar's two invoices, as the plain list shows them; a leader of
    // no paying school sees none.
    let leader = user(Role::SchoolLeader, &[c]);
    let theirs = invoices::invoices_with_accounts(
        conn,
        &leader,
        &InvoiceFilter::default(),
        &PageArgs::first(100),
    )
    .await
    .expect("theirs");
    let plain = invoices::invoices(
        conn,
        &leader,
        &InvoiceFilter::default(),
        &PageArgs::first(100),
    )
    .await
    .expect("plain");
    assert_eq!(theirs.items.len(), 2);
    assert!(theirs.items.iter().all(|(_, account)| account == &single));
    assert_eq!(
        theirs.items.into_iter().map(|(i, _)| i).collect::<Vec<_>>(),
        plain.items
    );
    let stranger = school(conn, 131_004, "Elsewhere Primary").await;
    let none = invoices::invoices_with_accounts(
        conn,
        &user(Role::SchoolLeader, &[stranger]),
        &InvoiceFilter::default(),
        &PageArgs::first(100),
    )
    .await
    .expect("none");
    assert!(none.items.is_empty());
}

testkit::db_tests!(
    accounts_pay_for_schools_and_are_seen_by_their_schools,
    issuing_is_idempotent_and_numbers_are_gap_free,
    issuing_many_at_once_numbers_them_in_order_and_once,
    concurrent_issues_of_one_instalment_make_one_invoice,
    lines_carry_vat_cfr_and_schools,
    purchase_orders_by_own_leader_or_finance_only,
    void_and_write_off_follow_the_status_table,
    invoice_pages_read_their_accounts_in_the_same_statement,
);
