//! Draft invoicing runs against real databases (SQLite and PostgreSQL): prepared, reviewed,
//! adjusted and issued; discarded; interrupted while issuing; refused to everyone but
//! finance and admins.

use std::collections::BTreeSet;

use billing::ledger::{self, Instalment, Invoice};
use billing::run::drafts::{self, DiscountInput, InvoiceDraft};
use billing::run::{self, RunStatus};
use chrono::{TimeZone, Utc};
use kernel::{Actor, ErrorCode, FixedClock, Money, Role, SchoolId};
use membership::{MAX_PAGE, PageArgs};
use sea_orm::sea_query::{Alias, Expr, ExprTrait, Query};
use sea_orm::{ConnectionTrait, DatabaseConnection};
use testkit::TestDb;

use super::run::{
    all_invoices, api_key, assert_forbidden, cancel_membership_of, clock, day, field_errors,
    issue_instalments_due_by, move_to_new_trust, person, small, user, year,
};

/// Every draft of the year, paging through as a client would.
async fn all_drafts(db: &DatabaseConnection, actor: &Actor) -> Vec<InvoiceDraft> {
    let mut args = PageArgs::first(4);
    let mut out = Vec::new();
    loop {
        let page = drafts::drafts(db, actor, year(), &args)
            .await
            .expect("drafts");
        args.after = page.items.last().map(InvoiceDraft::sort_key);
        out.extend(page.items);
        if !page.has_next_page {
            return out;
        }
    }
}

fn draft_of(all: &[InvoiceDraft], school: SchoolId, instalment: Instalment) -> InvoiceDraft {
    all.iter()
        .find(|d| {
            d.instalment == instalment
                && d.lines.iter().any(|l| l.planned.school_id == Some(school))
        })
        .cloned()
        .expect("a draft for the school and instalment")
}

fn invoice_of(
    all: &[Invoice],
    account: kernel::BillingAccountId,
    instalment: Instalment,
) -> Invoice {
    all.iter()
        .find(|i| i.account_id == account && i.instalment == instalment)
        .cloned()
        .expect("an invoice for the account and instalment")
}

/// 25 September 2026: ten days after the drafts were prepared.
fn ten_days_on() -> FixedClock {
    FixedClock::new(
        Utc.with_ymd_and_hms(2026, 9, 25, 10, 0, 0)
            .single()
            .expect("time"),
    )
}

fn codes(errors: &[kernel::FieldError]) -> Vec<(String, ErrorCode)> {
    errors.iter().map(|e| (e.field.join("."), e.code)).collect()
}

async fn drafts_are_reviewed_adjusted_and_issued(db: TestDb) {
    let db = db.conn();
    let fixture = small(db, true, true).await;
    let [alder, birch, cedar] = fixture.schools[..] else {
        panic!("three schools");
    };
    let finance = person(db, "finance@trellis.example", Role::Finance).await;

    let prepared = drafts::prepare(db, &finance, &clock(), year())
        .await
        .expect("prepare");
    assert_eq!(prepared.status, RunStatus::Draft);
    assert!(all_invoices(db).await.is_empty(), "nothing issued");
    let again = drafts::prepare(db, &finance, &clock(), year())
        .await
        .expect("prepare again");
    assert_eq!(again.id, prepared.id, "preparing twice keeps the one run");

    let listed = all_drafts(db, &finance).await;
    assert_eq!(listed.len(), 9, "three accounts, three terms each");
    let positions: Vec<i32> = listed.iter().map(|d| d.position).collect();
    assert_eq!(
        positions,
        (0..9).collect::<Vec<_>>(),
        "pages meet, in order"
    );
    let planned = run::preview(db, &finance, &clock(), year())
        .await
        .expect("preview");
    let planned_net: i64 = planned
        .invoices
        .iter()
        .flat_map(|p| &p.invoice.lines)
        .map(|l| l.unit_amount.pence())
        .sum();
    let totals = drafts::totals(db, &finance, year()).await.expect("totals");
    assert_eq!(
        totals.net,
        Money::from_pence(planned_net),
        "the drafts are the plan"
    );

    // A direct run cannot go around the drafts.
    let refused = field_errors(run::start(db, &finance, &clock(), year()).await);
    assert_eq!(
        codes(&refused),
        [("academicYear".into(), ErrorCode::Conflict)]
    );

    // Leave Birch out, put a PO on Alder's autumn and spring, a discount on Cedar's autumn.
    let changed = drafts::exclude_school(db, &finance, &clock(), year(), birch, true)
        .await
        .expect("exclude");
    assert_eq!(changed.len(), 3, "each of Birch's instalments");
    let alder_autumn = draft_of(&listed, alder, Instalment::Autumn);
    let alder_spring = draft_of(&listed, alder, Instalment::Spring);
    for draft in [&alder_autumn, &alder_spring] {
        let set = drafts::set_po_number(db, &finance, &clock(), draft.id, Some(" PO-4471 "))
            .await
            .expect("po");
        assert_eq!(set.po_number.as_deref(), Some("PO-4471"));
    }
    let cedar_autumn = draft_of(&listed, cedar, Instalment::Autumn);
    let cedar_net = cedar_autumn.lines[0].planned_net();
    let discount = |label: &str, pence: i64| {
        Some(DiscountInput {
            label: label.to_owned(),
            amount: Money::from_pence(pence),
        })
    };
    // Bad discounts change nothing.
    for (school, label, pence, expected) in [
        (
            cedar,
            "Hardship discount",
            cedar_net.pence() + 1,
            vec![("discount.amountPence", ErrorCode::OutOfRange)],
        ),
        (
            cedar,
            " ",
            0,
            vec![
                ("discount.label", ErrorCode::Required),
                ("discount.amountPence", ErrorCode::OutOfRange),
            ],
        ),
        (
            alder,
            "Hardship discount",
            100,
            vec![("schoolId", ErrorCode::NotFound)],
        ),
    ] {
        let refused = drafts::set_discount(
            db,
            &finance,
            &clock(),
            cedar_autumn.id,
            school,
            discount(label, pence),
        )
        .await;
        let expected: Vec<(String, ErrorCode)> = expected
            .into_iter()
            .map(|(field, code)| (field.to_owned(), code))
            .collect();
        assert_eq!(codes(&field_errors(refused)), expected, "{label:?} {pence}");
    }
    let unknown =
        drafts::exclude_school(db, &finance, &clock(), year(), SchoolId::new(), true).await;
    assert_eq!(
        codes(&field_errors(unknown)),
        [("schoolId".into(), ErrorCode::NotFound)]
    );
    let too_long_po = drafts::set_po_number(
        db,
        &finance,
        &clock(),
        alder_autumn.id,
        Some(&"P".repeat(51)),
    )
    .await;
    assert_eq!(
        codes(&field_errors(too_long_po)),
        [("poNumber".into(), ErrorCode::TooLong)]
    );
    let discounted = drafts::set_discount(
        db,
        &finance,
        &clock(),
        cedar_autumn.id,
        cedar,
        discount("Hardship discount", 10_000),
    )
    .await
    .expect("discount");
    assert_eq!(
        discounted.net(),
        Money::from_pence(cedar_net.pence() - 10_000)
    );
    let totals = drafts::totals(db, &finance, year()).await.expect("totals");
    assert_eq!(totals.invoices, 6, "Birch's three are left out");
    assert_eq!(totals.schools_excluded, 1);
    assert_eq!(totals.discounts, Money::from_pence(10_000));
    // Every change is on the draft's trail, with who made it.
    let trail = ledger::audit_of(
        db,
        &finance,
        ledger::AuditEntity::InvoiceDraft,
        cedar_autumn.id.as_uuid(),
    )
    .await
    .expect("trail");
    assert_eq!(trail.len(), 1, "the one discount that was accepted");

    // Issued ten days later: numbers are taken now, gap-free, for what the review left.
    let done = drafts::issue(db, &finance, &ten_days_on(), year())
        .await
        .expect("issue");
    assert_eq!(done.id, prepared.id);
    assert_eq!(done.status, RunStatus::Completed);
    assert_eq!(
        done.invoices_created, 2,
        "Alder's and Cedar's autumn instalments"
    );
    let invoices = all_invoices(db).await;
    let numbers: BTreeSet<&str> = invoices.iter().map(|i| i.number.as_str()).collect();
    assert_eq!(
        numbers.into_iter().collect::<Vec<_>>(),
        ["TRL-2026-000001", "TRL-2026-000002"]
    );
    let alder_invoice = invoice_of(&invoices, alder_autumn.account_id, Instalment::Autumn);
    assert_eq!(alder_invoice.po_number.as_deref(), Some("PO-4471"));
    assert_eq!(
        alder_invoice.due_on,
        day(2026, 10, 25),
        "30 days from the day it was issued, not prepared"
    );
    assert_eq!(alder_invoice.issued_at.date_naive(), day(2026, 9, 25));
    let cedar_invoice = invoice_of(&invoices, cedar_autumn.account_id, Instalment::Autumn);
    assert_eq!(
        cedar_invoice.net,
        Money::from_pence(cedar_net.pence() - 10_000)
    );
    let lines = ledger::invoices::lines_of_invoices(db, &[cedar_invoice.id])
        .await
        .expect("lines");
    let line = &lines[&cedar_invoice.id][0];
    assert!(
        line.description
            .ends_with("(less Hardship discount: £100.00)"),
        "{}",
        line.description
    );
    assert_eq!(
        line.vat,
        Money::from_pence(ledger::invoices::vat_on(line.net.pence(), line.vat_rate_bp)),
        "VAT on the net after the discount"
    );
    assert!(
        done.notes
            .iter()
            .any(|n| n.school_id == Some(birch)
                && n.message.contains("left out of this run by finance")),
        "{:?}",
        done.notes
    );

    // The drafts stay as the record of what was issued, and nothing can change them now.
    let kept = all_drafts(db, &finance).await;
    assert_eq!(kept.len(), 9);
    assert_eq!(draft_of(&kept, cedar, Instalment::Autumn), discounted);
    let late = drafts::set_po_number(db, &finance, &clock(), alder_autumn.id, Some("X")).await;
    assert_eq!(
        codes(&field_errors(late)),
        [("id".into(), ErrorCode::Conflict)]
    );
    let late = drafts::exclude_school(db, &finance, &clock(), year(), alder, true).await;
    assert_eq!(
        codes(&field_errors(late)),
        [("academicYear".into(), ErrorCode::Conflict)]
    );
    let again = field_errors(drafts::issue(db, &finance, &ten_days_on(), year()).await);
    assert_eq!(
        codes(&again),
        [("academicYear".into(), ErrorCode::Conflict)]
    );

    // Later terms: Alder's spring instalment carries its PO; Birch's are not scheduled.
    let scheduled = run::scheduled_instalments(db, &finance, year())
        .await
        .expect("scheduled");
    assert_eq!(scheduled.len(), 4, "spring and summer for Alder and Cedar");
    assert_eq!(
        issue_instalments_due_by(db, day(2027, 1, 1)).await.issued,
        2
    );
    let invoices = all_invoices(db).await;
    let spring = invoice_of(&invoices, alder_spring.account_id, Instalment::Spring);
    assert_eq!(spring.po_number.as_deref(), Some("PO-4471"));
    assert_eq!(spring.number, "TRL-2026-000003");

    // Birch is the supplementary run's to invoice, when finance is ready.
    let supplement = run::supplement_preview(db, &finance, &ten_days_on(), year())
        .await
        .expect("supplement");
    let billed: BTreeSet<SchoolId> = supplement
        .invoices
        .iter()
        .flat_map(|p| &p.invoice.lines)
        .filter_map(|l| l.school_id)
        .collect();
    assert_eq!(billed.into_iter().collect::<Vec<_>>(), [birch]);
    // Cedar was billed its price less finance's discount: not "priced differently now".
    assert!(
        supplement.notes.iter().all(|n| n.school_id != Some(cedar)),
        "{:?}",
        supplement.notes
    );
}

async fn discarded_drafts_leave_the_year_to_prepare_again(db: TestDb) {
    let db = db.conn();
    let _ = small(db, true, true).await;
    let finance = person(db, "finance@trellis.example", Role::Finance).await;
    let nothing = field_errors(drafts::issue(db, &finance, &clock(), year()).await);
    assert_eq!(
        codes(&nothing),
        [("academicYear".into(), ErrorCode::NotFound)]
    );
    let nothing = field_errors(drafts::discard(db, &finance, year()).await);
    assert_eq!(
        codes(&nothing),
        [("academicYear".into(), ErrorCode::Conflict)]
    );

    let first = drafts::prepare(db, &finance, &clock(), year())
        .await
        .expect("prepare");
    drafts::discard(db, &finance, year())
        .await
        .expect("discard");
    assert!(run::list(db, &finance).await.expect("runs").is_empty());
    assert!(all_drafts(db, &finance).await.is_empty());

    let second = drafts::prepare(db, &finance, &clock(), year())
        .await
        .expect("prepare again");
    assert_ne!(second.id, first.id);
    assert_eq!(all_drafts(db, &finance).await.len(), 9);
    drafts::discard(db, &finance, year())
        .await
        .expect("discard");
    // And the year can still be run directly.
    let direct = run::start(db, &finance, &clock(), year())
        .await
        .expect("direct run");
    assert_eq!(direct.invoices_created, 3);
    let refused = field_errors(drafts::prepare(db, &finance, &clock(), year()).await);
    assert_eq!(
        codes(&refused),
        [("academicYear".into(), ErrorCode::Conflict)]
    );
}

/// Issuing stopped half-way (a crash after one invoice): the resume job's `run::start`
/// finishes from the drafts, adjustments and all, and nothing is issued twice.
async fn an_interrupted_issue_finishes_from_its_drafts(db: TestDb) {
    let db = db.conn();
    let fixture = small(db, true, true).await;
    let [alder, birch, _] = fixture.schools[..] else {
        panic!("three schools");
    };
    let finance = person(db, "finance@trellis.example", Role::Finance).await;
    drafts::prepare(db, &finance, &clock(), year())
        .await
        .expect("prepare");
    let listed = all_drafts(db, &finance).await;
    let alder_autumn = draft_of(&listed, alder, Instalment::Autumn);
    drafts::set_po_number(db, &finance, &clock(), alder_autumn.id, Some("PO-1"))
        .await
        .expect("po");
    drafts::exclude_school(db, &finance, &clock(), year(), birch, true)
        .await
        .expect("exclude");

    // What the first attempt left: the run claimed, Alder's autumn invoice issued.
    db.execute(
        &Query::update()
            .table(Alias::new("invoicing_runs"))
            .value(Alias::new("status"), "IN_PROGRESS")
            .and_where(Expr::col(Alias::new("academic_year")).eq(2026))
            .to_owned(),
    )
    .await
    .expect("claim");
    let first = ledger::issue_invoice(
        db,
        &finance,
        &clock(),
        ledger::NewInvoice {
            po_number: Some("PO-1".into()),
            ..run::preview(db, &finance, &clock(), year())
                .await
                .expect("plan")
                .invoices
                .into_iter()
                .find(|p| {
                    p.invoice.account_id == alder_autumn.account_id
                        && p.invoice.instalment == Instalment::Autumn
                })
                .expect("alder's autumn")
                .invoice
        },
    )
    .await
    .expect("first invoice");
    let adjusting =
        drafts::set_po_number(db, &finance, &clock(), alder_autumn.id, Some("PO-2")).await;
    assert_eq!(
        codes(&field_errors(adjusting)),
        [("id".into(), ErrorCode::Conflict)],
        "no change once issuing began"
    );

    let done = run::start(db, &finance, &clock(), year())
        .await
        .expect("resume");
    assert_eq!(done.status, RunStatus::Completed);
    assert_eq!((done.invoices_created, done.invoices_existing), (1, 1));
    let invoices = all_invoices(db).await;
    assert_eq!(invoices.len(), 2, "Birch stays left out: {invoices:?}");
    assert!(invoices.iter().any(|i| i.id == first.invoice.id));
    assert_eq!(
        all_drafts(db, &finance).await.len(),
        9,
        "kept as the run's record"
    );
}

/// Between preparing and issuing, Alder joins a trust: the drafts are refused until prepared
/// again, since Alder's would go to the account that no longer pays for it. Then Birch's
/// membership is cancelled: issuing leaves it out, and says so.
async fn drafts_follow_what_changed_before_issue(db: TestDb) {
    let db = db.conn();
    let fixture = small(db, true, true).await;
    let [alder, birch, _] = fixture.schools[..] else {
        panic!("three schools");
    };
    let finance = person(db, "finance@trellis.example", Role::Finance).await;
    drafts::prepare(db, &finance, &clock(), year())
        .await
        .expect("prepare");
    let trust = move_to_new_trust(db, &finance, alder).await;

    let refused = field_errors(drafts::issue(db, &finance, &clock(), year()).await);
    assert_eq!(
        codes(&refused),
        [("academicYear".into(), ErrorCode::Conflict)]
    );
    assert!(
        refused[0]
            .message
            .starts_with("Alder Primary School is paid for by another account")
    );
    let runs = run::list(db, &finance).await.expect("runs");
    assert_eq!(runs[0].status, RunStatus::Draft, "nothing claimed");
    assert!(all_invoices(db).await.is_empty(), "nothing issued");

    drafts::discard(db, &finance, year())
        .await
        .expect("discard");
    drafts::prepare(db, &finance, &clock(), year())
        .await
        .expect("prepare again");
    // Cancelled after this preparation: the draft still has Birch; issuing leaves it out.
    cancel_membership_of(db, birch).await;
    let done = drafts::issue(db, &finance, &clock(), year())
        .await
        .expect("issue");
    let invoices = all_invoices(db).await;
    assert_eq!(invoices.len(), 2, "Alder (to the trust) and Cedar");
    assert!(invoices.iter().any(|i| i.account_id == trust.id));
    let lines =
        ledger::invoices::lines_of_invoices(db, &invoices.iter().map(|i| i.id).collect::<Vec<_>>())
            .await
            .expect("lines");
    assert!(
        lines.values().flatten().all(|l| l.school_id != Some(birch)),
        "no invoice bills Birch"
    );
    assert!(
        done.notes.iter().any(|n| n.school_id == Some(birch)
            && n.message
                .ends_with("not invoiced, the membership is no longer active")),
        "{:?}",
        done.notes
    );
}

async fn only_finance_and_admins_prepare_and_adjust(db: TestDb) {
    let db = db.conn();
    let fixture = small(db, true, true).await;
    let finance = person(db, "finance@trellis.example", Role::Finance).await;
    drafts::prepare(db, &finance, &clock(), year())
        .await
        .expect("prepare");
    let draft = all_drafts(db, &finance).await.remove(0);
    let school = fixture.schools[0];
    for actor in [
        user(Role::SchoolLeader, &[school]),
        user(Role::SchoolStaff, &[school]),
        api_key(),
    ] {
        assert_forbidden(drafts::prepare(db, &actor, &clock(), year()).await);
        assert_forbidden(drafts::drafts(db, &actor, year(), &PageArgs::first(MAX_PAGE)).await);
        assert_forbidden(drafts::totals(db, &actor, year()).await);
        assert_forbidden(drafts::set_po_number(db, &actor, &clock(), draft.id, Some("PO")).await);
        assert_forbidden(drafts::set_discount(db, &actor, &clock(), draft.id, school, None).await);
        assert_forbidden(drafts::exclude_school(db, &actor, &clock(), year(), school, true).await);
        assert_forbidden(drafts::issue(db, &actor, &clock(), year()).await);
        assert_forbidden(drafts::discard(db, &actor, year()).await);
    }
    // Nothing changed.
    assert_eq!(all_drafts(db, &finance).await[0], draft);
    let admin = person(db, "admin@trellis.example", Role::PartnershipAdmin).await;
    drafts::issue(db, &admin, &clock(), year())
        .await
        .expect("an admin issues");
}

testkit::db_tests!(
    drafts_are_reviewed_adjusted_and_issued,
    discarded_drafts_leave_the_year_to_prepare_again,
    an_interrupted_issue_finishes_from_its_drafts,
    drafts_follow_what_changed_before_issue,
    only_finance_and_admins_prepare_and_adjust,
);
