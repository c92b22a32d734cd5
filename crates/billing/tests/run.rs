//! The membership invoicing run against real databases (SQLite and PostgreSQL): over the
//! demo directory and ledger, and over small fixtures for the cases the demo does not show
//! (interruption, unpriceable schools, denials).

use std::collections::{BTreeSet, HashMap, HashSet};

use billing::demo::{self as billing_demo, BillingSeedReport, SeedSkipped};
use billing::fees::{
    self, BillingFrequency, FeeRules, FeeSchedulePatch, NewFeeSchedule, SchoolFacts,
};
use billing::ledger::accounts::{self, AccountKind, Address, NewBillingAccount, PaymentMethod};
use billing::ledger::{self, Instalment, Invoice, InvoiceFilter, InvoiceStatus};
use billing::run::{self, RunStatus};
use chrono::{NaiveDate, TimeZone, Utc};
use kernel::{
    AcademicYear, Actor, ApiKeyActor, ApiKeyId, DomainError, ErrorCode, FixedClock, InvoicingRunId,
    Money, Role, SchoolId, Scope, TierId, UserActor, UserId,
};
use membership::memberships::{
    self, Enrolment, MembershipFilter, MembershipStatus, NewTier, Principle,
};
use membership::people::{Lookup, NewUser, users};
use membership::school::types::{EstablishmentType, Phase, RollCensus};
use membership::school::{self, NewSchool, RollInput};
use membership::{MAX_PAGE, PageArgs};
use sea_orm::sea_query::{Alias, Query};
use sea_orm::{ConnectionTrait, DatabaseConnection};
use testkit::TestDb;

/// 15 September 2026: the run is made early in the autumn term.
pub(crate) fn clock() -> FixedClock {
    FixedClock::new(
        Utc.with_ymd_and_hms(2026, 9, 15, 10, 0, 0)
            .single()
            .expect("time"),
    )
}

pub(crate) fn year() -> AcademicYear {
    AcademicYear::starting(2026).expect("year")
}

pub(crate) fn day(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).expect("date")
}

pub(crate) fn user(role: Role, schools: &[SchoolId]) -> Actor {
    Actor::User(UserActor {
        id: UserId::new(),
        email: format!("{}@trellis.example", role.as_str().to_lowercase()),
        role,
        schools: schools.to_vec(),
    })
}

pub(crate) fn finance() -> Actor {
    user(Role::Finance, &[])
}

/// A person on record: a run remembers who started it, so its starter must exist.
pub(crate) async fn person(db: &DatabaseConnection, email: &str, role: Role) -> Actor {
    let created = users::create(
        db,
        &clock(),
        &Actor::System,
        NewUser {
            email: email.to_owned(),
            name: email.to_owned(),
            role,
            schools: vec![],
        },
    )
    .await
    .expect("user");
    let actor = users::actor_for(db, Lookup::Id(created.id))
        .await
        .expect("actor")
        .expect("active");
    Actor::User(actor)
}

/// An API key with every scope: keys read, they never invoice.
pub(crate) fn api_key() -> Actor {
    Actor::ApiKey(ApiKeyActor {
        id: ApiKeyId::new(),
        name: "ledger sync".into(),
        scopes: Scope::ALL.to_vec(),
    })
}

pub(crate) fn assert_forbidden<T: std::fmt::Debug>(result: Result<T, DomainError>) {
    match result {
        Err(DomainError::Forbidden(_)) => {}
        other => panic!("expected Forbidden, got {other:?}"),
    }
}

/// The field errors of an `Invalid`, or a panic naming what came instead.
pub(crate) fn field_errors<T: std::fmt::Debug>(
    result: Result<T, DomainError>,
) -> Vec<kernel::FieldError> {
    match result {
        Err(DomainError::Invalid(fields)) => fields,
        other => panic!("expected field errors, got {other:?}"),
    }
}

/// Every invoice, by number.
pub(crate) async fn all_invoices(db: &DatabaseConnection) -> Vec<Invoice> {
    let mut args = PageArgs::first(MAX_PAGE);
    let mut out = Vec::new();
    loop {
        let page = ledger::invoices::invoices(db, &finance(), &InvoiceFilter::default(), &args)
            .await
            .expect("invoices");
        args.after = page.items.last().map(Invoice::sort_key);
        out.extend(page.items);
        if !page.has_next_page {
            return out;
        }
    }
}

async fn all_accounts(db: &DatabaseConnection) -> Vec<ledger::BillingAccount> {
    let mut args = PageArgs::first(MAX_PAGE);
    let mut out = Vec::new();
    loop {
        let page = accounts::list(db, &finance(), &args)
            .await
            .expect("accounts");
        args.after = page.items.last().map(ledger::BillingAccount::sort_key);
        out.extend(page.items);
        if !page.has_next_page {
            return out;
        }
    }
}

async fn memberships_with(
    db: &DatabaseConnection,
    status: MembershipStatus,
) -> Vec<memberships::Membership> {
    memberships::for_year(
        db,
        &Actor::System,
        year(),
        &MembershipFilter {
            status: Some(status),
            tier_id: None,
        },
        &PageArgs::first(MAX_PAGE),
    )
    .await
    .expect("memberships")
    .items
}

/// Issues every scheduled instalment due by `day`, as the job would that day.
pub(crate) async fn issue_instalments_due_by(
    db: &DatabaseConnection,
    day: NaiveDate,
) -> run::IssuedInstalments {
    let clock = FixedClock::new(Utc.from_utc_datetime(&day.and_hms_opt(9, 0, 0).expect("time")));
    run::issue_due_instalments(db, &clock)
        .await
        .expect("scheduled instalments")
}

async fn seed_demo(db: &DatabaseConnection) -> BillingSeedReport {
    membership::demo::seed(db, &clock())
        .await
        .expect("membership demo");
    let report = billing_demo::seed(db, &clock())
        .await
        .expect("billing demo");
    assert_eq!(report.skipped, None, "{report}");
    report
}

async fn demo_run_bills_every_active_membership_once(db: TestDb) {
    let db = db.conn();
    let report = seed_demo(db).await;
    assert_eq!(report.schedules, 2);

    let active = memberships::active_for_year(db, year())
        .await
        .expect("active");
    let pending = memberships_with(db, MembershipStatus::Pending).await;
    let cancelled = memberships_with(db, MembershipStatus::Cancelled).await;
    assert!(active.len() > 100, "{} active", active.len());
    assert_eq!(pending.len(), 1);
    assert_eq!(cancelled.len(), 1);

    assert_eq!(all_invoices(db).await.len(), report.invoices);
    // The spring and summer instalments come out on their terms' first days.
    let later = issue_instalments_due_by(db, day(2027, 4, 1)).await;
    assert!(later.issued > 0, "termly schools have later instalments");
    let invoices = all_invoices(db).await;
    assert_eq!(invoices.len(), report.invoices + later.issued as usize);
    let ids: Vec<_> = invoices.iter().map(|i| i.id).collect();
    let by_id: HashMap<_, _> = invoices.iter().map(|i| (i.id, i)).collect();
    let lines = ledger::invoices::lines_of_invoices(db, &ids)
        .await
        .expect("lines");

    // membership -> (instalment -> gross billed)
    let mut billed: HashMap<_, Vec<(Instalment, i64)>> = HashMap::new();
    let mut billed_schools = HashSet::new();
    for line in lines.values().flatten() {
        let membership = line.membership_id.expect("run lines name their membership");
        billed_schools.insert(line.school_id.expect("run lines name their school"));
        billed
            .entry(membership)
            .or_default()
            .push((by_id[&line.invoice_id].instalment, line.gross().pence()));
    }
    let active_ids: HashSet<_> = active.iter().map(|m| m.id).collect();
    assert_eq!(
        billed.keys().copied().collect::<HashSet<_>>(),
        active_ids,
        "every active membership is billed, and nothing else"
    );
    for m in pending.iter().chain(&cancelled) {
        assert!(
            !billed_schools.contains(&m.school_id),
            "{:?} school was billed",
            m.status
        );
    }

    let schedules: HashMap<TierId, fees::FeeSchedule> =
        fees::schedules_for_year(db, &finance(), year())
            .await
            .expect("schedules")
            .into_iter()
            .map(|s| (s.tier_id, s))
            .collect();
    let schools = school::by_ids(db, &active.iter().map(|m| m.school_id).collect::<Vec<_>>())
        .await
        .expect("schools");
    let mut mid_year = 0;
    let mut annual = 0;
    for m in &active {
        let schedule = &schedules[&m.tier_id];
        let school = &schools[&m.school_id];
        let quote = fees::quote(
            &schedule.rules,
            year(),
            &SchoolFacts::of(school, school.roll, year()),
            m.starts_on,
            schedule.frequency,
        )
        .expect("quote");
        let parts = &billed[&m.id];
        let total: i64 = parts.iter().map(|(_, p)| p).sum();
        assert_eq!(total, quote.total.pence(), "{}", school.name);
        let mut instalments: Vec<Instalment> = parts.iter().map(|(i, _)| *i).collect();
        instalments.sort_by_key(|i| i.as_str());
        let expected: Vec<Instalment> = match schedule.frequency {
            BillingFrequency::Annual => {
                annual += 1;
                vec![Instalment::Annual]
            }
            BillingFrequency::Termly if m.starts_on == day(2027, 1, 5) => {
                mid_year += 1;
                vec![Instalment::Spring, Instalment::Summer]
            }
            BillingFrequency::Termly => {
                vec![Instalment::Autumn, Instalment::Spring, Instalment::Summer]
            }
        };
        let mut expected = expected;
        expected.sort_by_key(|i| i.as_str());
        assert_eq!(
            instalments, expected,
            "{} is billed once per instalment",
            school.name
        );
    }
    assert_eq!(mid_year, 1, "the demo has one mid-year joiner");
    assert!(annual > 0, "the demo has ASSOCIATE members");

    // Gap-free numbers from 1.
    let numbers: Vec<&str> = invoices.iter().map(|i| i.number.as_str()).collect();
    let expected: Vec<String> = (1..=invoices.len())
        .map(|n| format!("TRL-2026-{n:06}"))
        .collect();
    assert_eq!(numbers, expected);

    assert!(schedules.values().all(fees::FeeSchedule::is_locked));
    let done = run::of_year(db, &finance(), year())
        .await
        .expect("run")
        .expect("the seed ran");
    assert_eq!(done.status, RunStatus::Completed);
    assert_eq!(done.invoices_created as usize, report.invoices);
    assert_eq!(done.invoices_existing, 0);
    assert_eq!(done.total, report.invoiced);

    // A completed year is refused, and nothing new is written.
    let errors = field_errors(run::start(db, &finance(), &clock(), year()).await);
    assert_eq!(errors.len(), 1);
    assert_eq!(errors[0].field.join("."), "academicYear");
    assert_eq!(errors[0].code, ErrorCode::Conflict);
    assert_eq!(all_invoices(db).await.len(), invoices.len());
}

async fn demo_money_keeps_every_statement_balanced(db: TestDb) {
    let db = db.conn();
    let report = seed_demo(db).await;
    assert_eq!(report.payments, 4);
    assert_eq!(report.credit_notes, 1);
    let accounts = all_accounts(db).await;
    assert_eq!(report.accounts, accounts.len());

    let mut credit = 0;
    for account in &accounts {
        let s = ledger::account_statement(db, &finance(), account.id, year())
            .await
            .expect("statement");
        assert_eq!(
            s.invoiced.pence(),
            s.paid.pence() + s.credited.pence() + s.outstanding.pence(),
            "{}",
            account.name
        );
        assert_eq!(
            s.received.pence(),
            s.paid.pence() + s.refunded.pence() + s.account_credit.pence(),
            "{}",
            account.name
        );
        credit += s.account_credit.pence();
    }
    assert_eq!(credit, billing_demo::OVERPAYMENT.pence() + 150_000);

    let trust = accounts
        .iter()
        .find(|a| a.kind == AccountKind::Trust)
        .expect("the trust's account");
    assert_eq!(trust.school_ids.len(), 5);
    let invoices = all_invoices(db).await;
    let trust_paid: Vec<&Invoice> = invoices
        .iter()
        .filter(|i| i.account_id == trust.id && i.status == InvoiceStatus::Paid)
        .collect();
    assert!(trust_paid.len() >= 2, "one receipt paid several invoices");

    let holly_park = school::by_urn(db, &Actor::System, "900033")
        .await
        .expect("by urn")
        .expect("Holly Park");
    let holly_invoices = ledger::invoices::invoices(
        db,
        &finance(),
        &InvoiceFilter {
            school_id: Some(holly_park.id),
            ..InvoiceFilter::default()
        },
        &PageArgs::first(10),
    )
    .await
    .expect("invoices")
    .items;
    assert!(
        holly_invoices
            .iter()
            .any(|i| i.instalment == Instalment::Autumn
                && i.status == InvoiceStatus::PartiallyPaid
                && i.paid.pence() * 2 + 1 >= i.total.pence()),
        "Holly Park has paid half its autumn instalment"
    );

    let unallocated = ledger::unallocated_receipts(db, &finance())
        .await
        .expect("unallocated");
    assert_eq!(unallocated.len(), 2);
    assert!(
        unallocated
            .iter()
            .any(|p| p.reference == billing_demo::UNMATCHED_REFERENCE)
    );
    let aged = ledger::aged_debt(db, &finance(), day(2026, 12, 31))
        .await
        .expect("aged debt");
    assert!(
        aged.iter()
            .any(|r| r.d30.is_positive() || r.d60.is_positive())
    );
    assert_eq!(
        invoices.iter().filter(|i| i.credited.is_positive()).count(),
        1,
        "one invoice carries the credit note"
    );
    assert_eq!(
        invoices
            .iter()
            .filter(|i| i.status == InvoiceStatus::PartiallyPaid)
            .count(),
        1,
        "Holly Park's half-paid autumn instalment"
    );

    // Seeding again changes nothing.
    let again = billing_demo::seed(db, &clock()).await.expect("reseed");
    assert_eq!(again.skipped, Some(SeedSkipped::AccountsExist));
    assert_eq!(all_invoices(db).await.len(), invoices.len());
    assert!(again.to_string().contains("not loaded"));
    assert!(report.to_string().contains("invoices"));
}

/// A small partnership: a FULL tier (termly, Haringey rules) and schools with rolls, each
/// ACTIVE and on its own account.
pub(crate) struct Small {
    pub(crate) tier: TierId,
    pub(crate) schools: Vec<SchoolId>,
}

async fn new_school(db: &DatabaseConnection, urn: u32, name: &str, roll: Option<i64>) -> SchoolId {
    school::create(
        db,
        &clock(),
        &Actor::System,
        NewSchool {
            urn: format!("{urn:06}"),
            name: name.to_owned(),
            phase: Phase::Primary,
            establishment_type: EstablishmentType::Community,
            local_authority: "Haringey".to_owned(),
            postcode: "N22 6HH".to_owned(),
            roll: roll.map(|n| RollInput {
                number_on_roll: n,
                census: RollCensus::October,
                census_date: day(2025, 10, 2),
            }),
            designations: vec![],
            has_sixth_form: false,
            opened_on: None,
            is_demo: false,
        },
    )
    .await
    .expect("school")
    .id
}

async fn activate(db: &DatabaseConnection, school: SchoolId, tier: TierId) {
    let m = memberships::enrol(
        db,
        &Actor::System,
        &clock(),
        Enrolment {
            school_id: school,
            year: year(),
            tier_id: tier,
            starts_on: None,
        },
    )
    .await
    .expect("enrol");
    memberships::accept_principles(db, &Actor::System, &clock(), m.id, Principle::ALL)
        .await
        .expect("principles");
    memberships::activate(db, &Actor::System, &clock(), m.id)
        .await
        .expect("activate");
}

async fn open_account(db: &DatabaseConnection, school: SchoolId, name: &str) {
    accounts::create(
        db,
        &finance(),
        &clock(),
        NewBillingAccount {
            kind: AccountKind::School,
            name: name.to_owned(),
            contact_name: "Pat Bursar".to_owned(),
            contact_email: "bursar@example.org".to_owned(),
            address: Address {
                lines: vec!["1 High Road".to_owned(), "London".to_owned()],
                postcode: "N22 6HH".to_owned(),
            },
            default_method: PaymentMethod::BankTransfer,
            school_ids: vec![school],
        },
    )
    .await
    .expect("account");
}

async fn schedule(db: &DatabaseConnection, tier: TierId) {
    fees::create_schedule(
        db,
        &finance(),
        &clock(),
        NewFeeSchedule {
            year: year(),
            tier_id: tier,
            name: "Full membership 2026/27".to_owned(),
            rules: FeeRules::haringey_2026().into_document(),
            frequency: BillingFrequency::Termly,
            payment_terms_days: 30,
        },
    )
    .await
    .expect("schedule");
}

/// Tier, schools with rolls, memberships; the schedule and accounts only when asked.
pub(crate) async fn small(
    db: &DatabaseConnection,
    with_schedule: bool,
    with_accounts: bool,
) -> Small {
    let tier = memberships::create_tier(
        db,
        &Actor::System,
        &clock(),
        NewTier {
            code: "FULL".into(),
            name: "Full membership".into(),
            description: "Everything".into(),
        },
    )
    .await
    .expect("tier")
    .id;
    if with_schedule {
        schedule(db, tier).await;
    }
    let mut schools = Vec::new();
    for (urn, name, roll) in [
        (100_001, "Alder Primary School", 420),
        (100_002, "Birch Primary School", 210),
        (100_003, "Cedar Primary School", 640),
    ] {
        let id = new_school(db, urn, name, Some(roll)).await;
        activate(db, id, tier).await;
        if with_accounts {
            open_account(db, id, name).await;
        }
        schools.push(id);
    }
    Small { tier, schools }
}

/// Cancels `school`'s membership of the year: it left the partnership.
pub(crate) async fn cancel_membership_of(db: &DatabaseConnection, school: SchoolId) {
    let membership = memberships::of_schools(db, &[school])
        .await
        .expect("memberships")
        .remove(&school)
        .and_then(|list| list.into_iter().next())
        .expect("the school's membership");
    memberships::cancel(
        db,
        &Actor::System,
        &clock(),
        membership.id,
        "left the partnership".to_owned(),
    )
    .await
    .expect("cancel");
}

/// An empty TRUST account, "Alder Learning Trust", that `school` moves to today.
pub(crate) async fn move_to_new_trust(
    db: &DatabaseConnection,
    finance: &Actor,
    school: SchoolId,
) -> ledger::BillingAccount {
    let trust = accounts::create(
        db,
        finance,
        &clock(),
        NewBillingAccount {
            kind: AccountKind::Trust,
            name: "Alder Learning Trust".to_owned(),
            contact_name: "Pat Bursar".to_owned(),
            contact_email: "bursar@example.org".to_owned(),
            address: Address {
                lines: vec!["1 High Road".to_owned(), "London".to_owned()],
                postcode: "N22 6HH".to_owned(),
            },
            default_method: PaymentMethod::BankTransfer,
            school_ids: vec![],
        },
    )
    .await
    .expect("trust");
    ledger::move_school(
        db,
        finance,
        &clock(),
        ledger::NewMove {
            school,
            to_account: trust.id,
            effective_from: None,
        },
    )
    .await
    .expect("the school joins the trust");
    trust
}

/// What an interrupted attempt leaves behind: an IN_PROGRESS run row. The run API has no
/// way to stop half-way, so the row is written as the first attempt would have written it.
async fn interrupted_run_row(db: &DatabaseConnection) -> InvoicingRunId {
    let id = InvoicingRunId::new();
    let insert = Query::insert()
        .into_table(Alias::new("invoicing_runs"))
        .columns([
            Alias::new("id"),
            Alias::new("academic_year"),
            Alias::new("status"),
            Alias::new("started_at"),
            Alias::new("invoices_created"),
            Alias::new("invoices_existing"),
            Alias::new("total_pence"),
            Alias::new("notes"),
        ])
        .values_panic([
            id.as_uuid().into(),
            year().start_year().into(),
            "IN_PROGRESS".into(),
            Utc.with_ymd_and_hms(2026, 9, 15, 9, 0, 0)
                .single()
                .expect("time")
                .into(),
            0_i32.into(),
            0_i32.into(),
            0_i64.into(),
            "[]".into(),
        ])
        .to_owned();
    db.execute(&insert).await.expect("run row");
    id
}

async fn interrupted_run_completes_on_rerun(db: TestDb) {
    let db = db.conn();
    let _ = small(db, true, true).await;
    let planned = run::preview(db, &finance(), &clock(), year())
        .await
        .expect("preview");
    assert_eq!(planned.invoices.len(), 9, "three schools, three terms each");

    // The first attempt issued two autumn invoices, then stopped.
    let autumn: Vec<_> = planned
        .invoices
        .iter()
        .filter(|p| p.invoice.instalment == Instalment::Autumn)
        .collect();
    for p in &autumn[..2] {
        let outcome = ledger::issue_invoice(db, &finance(), &clock(), p.invoice.clone())
            .await
            .expect("issue");
        assert!(outcome.created);
    }
    let run_id = interrupted_run_row(db).await;
    let listed = run::list(db, &finance()).await.expect("list");
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].status, RunStatus::InProgress);

    let done = run::start(db, &finance(), &clock(), year())
        .await
        .expect("rerun");
    assert_eq!(done.id, run_id, "the interrupted run is the one completed");
    assert_eq!(done.status, RunStatus::Completed);
    assert_eq!(done.invoices_existing, 2);
    assert_eq!(done.invoices_created, 1, "the third autumn instalment");
    assert_eq!(
        done.notes.len(),
        4,
        "finance is told what was found and what waits for spring and summer: {:?}",
        done.notes
    );
    let at_run: i64 = all_invoices(db).await.iter().map(|i| i.total.pence()).sum();
    assert_eq!(done.total, Money::from_pence(at_run));
    assert!(
        done.notes.iter().any(|n| n
            .message
            .starts_with("3 instalment invoice(s) are scheduled for 1 January 2027")),
        "{:?}",
        done.notes
    );
    // Again, as a crash would make it: nothing new is scheduled or issued.
    let rows = run::scheduled_instalments(db, &finance(), year())
        .await
        .expect("scheduled");
    assert_eq!(rows.len(), 6);
    assert_eq!(
        issue_instalments_due_by(db, day(2026, 12, 31)).await.issued,
        0
    );
    assert_eq!(
        issue_instalments_due_by(db, day(2027, 1, 1)).await.issued,
        3
    );
    assert_eq!(
        issue_instalments_due_by(db, day(2027, 4, 1)).await.issued,
        3
    );
    assert_eq!(
        issue_instalments_due_by(db, day(2027, 4, 2)).await,
        run::IssuedInstalments::default(),
        "each once"
    );

    let invoices = all_invoices(db).await;
    assert_eq!(invoices.len(), 9, "no duplicates");
    let keys: HashSet<_> = invoices
        .iter()
        .map(|i| (i.account_id, i.instalment))
        .collect();
    assert_eq!(keys.len(), 9);
    let numbers: BTreeSet<&str> = invoices.iter().map(|i| i.number.as_str()).collect();
    assert_eq!(numbers.first(), Some(&"TRL-2026-000001"));
    assert_eq!(numbers.last(), Some(&"TRL-2026-000009"));
    // Each instalment is dated on its day.
    for invoice in &invoices {
        let issued = invoice.issued_at.date_naive();
        match invoice.instalment {
            Instalment::Spring => assert_eq!(issued, day(2027, 1, 1)),
            Instalment::Summer => assert_eq!(issued, day(2027, 4, 1)),
            _ => assert_eq!(issued, day(2026, 9, 15)),
        }
    }
}

/// A school's roll on `census_date` for the October census.
async fn record_october_roll(
    db: &DatabaseConnection,
    school_id: SchoolId,
    pupils: i64,
    census_date: NaiveDate,
) {
    let when = FixedClock::new(
        Utc.from_utc_datetime(
            &(census_date + chrono::Days::new(7))
                .and_hms_opt(9, 0, 0)
                .expect("time"),
        ),
    );
    school::update(
        db,
        &when,
        &Actor::System,
        school_id,
        school::SchoolChanges {
            roll: Some(Some(RollInput {
                number_on_roll: pupils,
                census: RollCensus::October,
                census_date,
            })),
            ..Default::default()
        },
    )
    .await
    .expect("roll");
}

/// Net pence of the invoice lines billing `school`.
async fn net_of_school(db: &DatabaseConnection, invoices: &[Invoice], school: SchoolId) -> i64 {
    let ids: Vec<_> = invoices.iter().map(|i| i.id).collect();
    ledger::invoices::lines_of_invoices(db, &ids)
        .await
        .expect("lines")
        .values()
        .flatten()
        .filter(|l| l.school_id == Some(school))
        .map(|l| l.unit_amount.pence() * i64::from(l.quantity))
        .sum()
}

/// Issue #22: a school without the roll of its schedule's census used to stop the whole
/// year's run. It is now the school's own problem: the run invoices everyone else and names
/// it, and the supplementary run invoices it once its roll is recorded.
async fn a_school_without_a_roll_is_left_out_until_its_roll_is_recorded(db: TestDb) {
    let db = db.conn();
    let finance = person(db, "finance@trellis.example", Role::Finance).await;
    let fx = small(db, true, true).await;
    let hazel = new_school(db, 100_009, "Hazel New Free School", None).await;
    activate(db, hazel, fx.tier).await;
    open_account(db, hazel, "Hazel New Free School").await;

    // No supplement before the year's run.
    let errors = field_errors(run::supplement(db, &finance, &clock(), year()).await);
    assert_eq!(errors[0].field.join("."), "academicYear");
    assert_eq!(errors[0].code, ErrorCode::Conflict);

    let plan = run::preview(db, &finance, &clock(), year())
        .await
        .expect("preview");
    assert_eq!(plan.invoices.len(), 9, "the three others, three terms each");
    assert_eq!(plan.skipped.len(), 1);
    assert_eq!(plan.skipped[0].school, hazel);
    let done = run::start(db, &finance, &clock(), year())
        .await
        .expect("the run goes ahead");
    assert_eq!(done.status, RunStatus::Completed);
    assert_eq!(done.invoices_created, 3, "the others' autumn instalments");
    let note = done
        .notes
        .iter()
        .find(|n| n.school_id == Some(hazel))
        .expect("Hazel is named");
    assert!(
        note.message.starts_with("Hazel New Free School (100009)")
            && note.message.contains("no October census roll")
            && note.message.contains("supplementary"),
        "{}",
        note.message
    );
    assert_eq!(net_of_school(db, &all_invoices(db).await, hazel).await, 0);

    // Until the roll is recorded the supplement has nothing to issue, and says why.
    let waiting = run::supplement_preview(db, &finance, &clock(), year())
        .await
        .expect("preview");
    assert!(waiting.invoices.is_empty());
    assert!(waiting.notes.iter().any(|n| n.school_id == Some(hazel)));

    record_october_roll(db, hazel, 300, day(2025, 10, 2)).await;
    let draft = run::supplement_preview(db, &finance, &clock(), year())
        .await
        .expect("preview");
    let instalments: Vec<Instalment> = draft
        .invoices
        .iter()
        .map(|p| p.invoice.instalment)
        .collect();
    assert_eq!(
        instalments,
        [Instalment::Autumn, Instalment::Spring, Instalment::Summer]
    );
    assert!(draft.invoices.iter().all(|p| p.memberships.len() == 1));
    assert!(draft.notes.is_empty(), "{:?}", draft.notes);
    let drafted: i64 = draft
        .invoices
        .iter()
        .flat_map(|p| &p.invoice.lines)
        .map(|l| l.unit_amount.pence() * i64::from(l.quantity))
        .sum();
    assert_eq!(drafted, 300 * 1_900, "300 on roll at £19");
    assert_eq!(all_invoices(db).await.len(), 3, "a preview writes nothing");

    let supplement = run::supplement(db, &finance, &clock(), year())
        .await
        .expect("supplement");
    assert_eq!(
        (
            supplement.invoices_created,
            supplement.instalments_scheduled
        ),
        (1, 2),
        "autumn now, spring and summer on their days"
    );
    let invoices = all_invoices(db).await;
    assert_eq!(invoices.len(), 4);
    let total: i64 = invoices
        .iter()
        .filter(|i| i.instalment == Instalment::None)
        .map(|i| i.total.pence())
        .sum();
    assert_eq!(supplement.total, Money::from_pence(total));
    let numbers: BTreeSet<&str> = invoices.iter().map(|i| i.number.as_str()).collect();
    assert_eq!(
        numbers.last(),
        Some(&"TRL-2026-000004"),
        "the same gap-free series"
    );

    // Again: nothing left to invoice, nothing issued or scheduled twice.
    let again = run::supplement(db, &finance, &clock(), year())
        .await
        .expect("again");
    assert_eq!(
        (
            again.invoices_created,
            again.invoices_existing,
            again.instalments_scheduled
        ),
        (0, 0, 0)
    );
    assert_eq!(all_invoices(db).await.len(), 4);
    let later = issue_instalments_due_by(db, day(2027, 4, 1)).await;
    assert_eq!(later.issued, 8, "four accounts' spring and summer");
    let invoices = all_invoices(db).await;
    assert_eq!(invoices.len(), 12);
    assert_eq!(net_of_school(db, &invoices, hazel).await, 300 * 1_900);
}

/// A school that joins in January, on a trust account that already holds the year's run
/// invoices, is invoiced its two remaining terms by the supplement; a school whose roll
/// changed since it was invoiced is reported, not re-invoiced.
async fn the_supplement_bills_late_joiners_and_reports_changes(db: TestDb) {
    let db = db.conn();
    let finance = person(db, "finance@trellis.example", Role::Finance).await;
    let fx = small(db, true, true).await;
    let trust = move_to_new_trust(db, &finance, fx.schools[0]).await;
    run::start(db, &finance, &clock(), year())
        .await
        .expect("run");
    let juniper = new_school(db, 100_011, "Juniper Primary School", Some(600)).await;
    let m = memberships::enrol(
        db,
        &Actor::System,
        &clock(),
        Enrolment {
            school_id: juniper,
            year: year(),
            tier_id: fx.tier,
            starts_on: Some(day(2027, 1, 5)),
        },
    )
    .await
    .expect("enrol");
    memberships::accept_principles(db, &Actor::System, &clock(), m.id, Principle::ALL)
        .await
        .expect("principles");
    memberships::activate(db, &Actor::System, &clock(), m.id)
        .await
        .expect("activate");
    // Juniper is billed through the trust, which the run already invoiced all three
    // instalments for Alder.
    accounts::attach_school(db, &finance, &clock(), trust.id, juniper)
        .await
        .expect("attach");
    // Birch's October roll grew after it was invoiced.
    record_october_roll(db, fx.schools[1], 250, day(2026, 10, 1)).await;

    let later = FixedClock::new(
        Utc.with_ymd_and_hms(2027, 1, 6, 9, 0, 0)
            .single()
            .expect("time"),
    );
    let done = run::supplement(db, &finance, &later, year())
        .await
        .expect("supplement");
    assert_eq!(
        (done.invoices_created, done.instalments_scheduled),
        (1, 1),
        "spring now (its term has begun), summer with the trust's own on 1 April"
    );
    issue_instalments_due_by(db, day(2027, 4, 1)).await;
    let invoices = all_invoices(db).await;
    let to_trust: Vec<&Invoice> = invoices
        .iter()
        .filter(|i| i.account_id == trust.id)
        .collect();
    assert_eq!(
        to_trust.len(),
        4,
        "Alder's three instalments (Juniper's summer line on the third) and Juniper's spring"
    );
    assert_eq!(
        to_trust
            .iter()
            .filter(|i| i.instalment == Instalment::None)
            .count(),
        1
    );
    // £19 × 600 = £11,400 a year; 8 of 12 months.
    assert_eq!(net_of_school(db, &invoices, juniper).await, 760_000);
    let note = done
        .notes
        .iter()
        .find(|n| n.school_id == Some(fx.schools[1]))
        .expect("Birch's change is reported");
    assert!(
        note.message.contains("£3,990.00") && note.message.contains("£4,750.00"),
        "{}",
        note.message
    );
    assert_eq!(
        net_of_school(db, &invoices, fx.schools[1]).await,
        210 * 1_900,
        "Birch is not re-invoiced"
    );
    // Only finance and admins.
    for actor in [user(Role::SchoolLeader, &[juniper]), api_key()] {
        assert_forbidden(run::supplement(db, &actor, &later, year()).await);
        assert_forbidden(run::supplement_preview(db, &actor, &later, year()).await);
    }
}

async fn schools_without_schedule_or_account_are_named(db: TestDb) {
    let db = db.conn();
    let fx = small(db, false, true).await;
    let errors = field_errors(run::start(db, &finance(), &clock(), year()).await);
    assert_eq!(errors.len(), 3, "one per school: {errors:?}");
    for name in ["Alder", "Birch", "Cedar"] {
        assert!(
            errors
                .iter()
                .any(|e| e.message.contains(name) && e.message.contains("fee schedule")),
            "{name}: {errors:?}"
        );
    }

    schedule(db, fx.tier).await;
    let orphan = new_school(db, 100_010, "Elm Primary School", Some(300)).await;
    activate(db, orphan, fx.tier).await;
    let errors = field_errors(run::start(db, &finance(), &clock(), year()).await);
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert_eq!(errors[0].field.join("."), "academicYear");
    assert!(
        errors[0].message.contains("Elm Primary School")
            && errors[0].message.contains("no billing account"),
        "{}",
        errors[0].message
    );
    assert!(all_invoices(db).await.is_empty());
    assert_eq!(
        run::of_year(db, &finance(), year()).await.expect("run"),
        None
    );
    assert_eq!(fx.schools.len(), 3);
}

async fn only_finance_and_admins_run_invoicing(db: TestDb) {
    let db = db.conn();
    let fx = small(db, true, true).await;
    let school = fx.schools[0];
    let finance = person(db, "finance@trellis.example", Role::Finance).await;
    let admin = person(db, "admin@trellis.example", Role::PartnershipAdmin).await;
    for actor in [
        user(Role::SchoolLeader, &[school]),
        user(Role::SchoolStaff, &[school]),
        api_key(),
    ] {
        assert_forbidden(run::start(db, &actor, &clock(), year()).await);
        assert_forbidden(run::preview(db, &actor, &clock(), year()).await);
        assert_forbidden(run::list(db, &actor).await);
        assert_forbidden(run::of_year(db, &actor, year()).await);
    }
    assert!(
        all_invoices(db).await.is_empty(),
        "denied starts wrote nothing"
    );
    assert!(run::list(db, &finance).await.expect("list").is_empty());

    let planned = run::preview(db, &finance, &clock(), year())
        .await
        .expect("finance previews");
    let previewed = run::preview(db, &admin, &clock(), year())
        .await
        .expect("admin previews");
    assert_eq!(planned, previewed);
    let done = run::start(db, &admin, &clock(), year())
        .await
        .expect("admin starts");
    assert_eq!(
        done.invoices_created as usize,
        planned
            .invoices
            .iter()
            .filter(|p| p.invoice.instalment == Instalment::Autumn)
            .count()
    );
    assert_forbidden(
        run::scheduled_instalments(db, &user(Role::SchoolLeader, &[school]), year()).await,
    );
    assert_eq!(
        run::scheduled_instalments(db, &finance, year())
            .await
            .expect("finance reads the schedule")
            .len(),
        planned.invoices.len() - done.invoices_created as usize
    );
    for actor in [&finance, &admin] {
        let runs = run::list(db, actor).await.expect("list");
        assert_eq!(runs.len(), 1);
        assert_eq!(runs[0].id, done.id);
    }
    // Finance may start too: here the year is done, so the answer is the year's conflict,
    // not a denial.
    let errors = field_errors(run::start(db, &finance, &clock(), year()).await);
    assert_eq!(errors[0].code, ErrorCode::Conflict);
}

/// Issue #22's finance officer: an Associate schedule (£10 a pupil, 5% discount, 20% VAT),
/// 151 on roll, joining on 5 January 2028. The quote rounded VAT per fee and discount line
/// (£1,147.60) while the invoice charged VAT on the net (£1,147.61); now both charge VAT on
/// each invoice line after discount, annually and termly.
async fn a_late_joiner_is_invoiced_exactly_what_it_was_quoted(db: TestDb) {
    let db = db.conn();
    let year = AcademicYear::starting(2027).expect("year");
    let clock = FixedClock::new(
        Utc.with_ymd_and_hms(2028, 1, 10, 10, 0, 0)
            .single()
            .expect("time"),
    );
    let associate = |frequency| {
        let mut rules = fees::FeeRulesInput {
            per_pupil: Some(fees::PhaseAmounts::flat(1_000)),
            discounts: vec![fees::Discount {
                label: "Associate discount".into(),
                off: fees::DiscountAmount::Percent { basis_points: 500 },
                when: fees::Selector::default(),
            }],
            vat: fees::VatTreatment::Standard {
                rate_basis_points: 2_000,
            },
            ..FeeRules::haringey_2026().into_document()
        };
        rules.caps.clear();
        rules.floors.clear();
        rules.fixed_prices.clear();
        rules.base_fee = None;
        rules.census = Some(RollCensus::October);
        rules.pro_rata = fees::ProRata::WholeMonths;
        (rules, frequency)
    };
    // (frequency, expected invoices' totals): annual 95,634 + 19,127; termly two terms of
    // 47,817 + 9,563 each.
    let cases = [
        ("ASSOCIATE", BillingFrequency::Annual, vec![114_761]),
        (
            "ASSOCIATE_TERMLY",
            BillingFrequency::Termly,
            vec![57_380, 57_380],
        ),
    ];
    let mut expected_memberships = Vec::new();
    for (i, (code, frequency, totals)) in cases.into_iter().enumerate() {
        let tier = memberships::create_tier(
            db,
            &Actor::System,
            &clock,
            NewTier {
                code: code.to_owned(),
                name: format!("Associate {i}"),
                description: "Associate membership".into(),
            },
        )
        .await
        .expect("tier")
        .id;
        let (rules, frequency) = associate(frequency);
        fees::create_schedule(
            db,
            &finance(),
            &clock,
            NewFeeSchedule {
                year,
                tier_id: tier,
                name: format!("Associate {year}"),
                rules,
                frequency,
                payment_terms_days: 30,
            },
        )
        .await
        .expect("schedule");
        let name = format!("Associate School {i}");
        let urn = 200_001 + u32::try_from(i).expect("small");
        let school_id = school::create(
            db,
            &clock,
            &Actor::System,
            NewSchool {
                urn: format!("{urn:06}"),
                name: name.clone(),
                phase: Phase::Primary,
                establishment_type: EstablishmentType::Academy,
                local_authority: "Barnet".to_owned(),
                postcode: "N2 0SE".to_owned(),
                roll: Some(RollInput {
                    number_on_roll: 151,
                    census: RollCensus::October,
                    census_date: day(2027, 10, 7),
                }),
                designations: vec![],
                has_sixth_form: false,
                opened_on: None,
                is_demo: false,
            },
        )
        .await
        .expect("school")
        .id;
        open_account(db, school_id, &name).await;
        let m = memberships::enrol(
            db,
            &Actor::System,
            &clock,
            Enrolment {
                school_id,
                year,
                tier_id: tier,
                starts_on: Some(day(2028, 1, 5)),
            },
        )
        .await
        .expect("enrol");
        memberships::accept_principles(db, &Actor::System, &clock, m.id, Principle::ALL)
            .await
            .expect("principles");
        memberships::activate(db, &Actor::System, &clock, m.id)
            .await
            .expect("activate");
        expected_memberships.push((m.id, school_id, frequency, totals));
    }

    let officer = person(db, "finance.officer@trellis.example", Role::Finance).await;
    run::start(db, &officer, &clock, year)
        .await
        .expect("the run");
    issue_instalments_due_by(db, day(2028, 4, 1)).await;
    let invoices = all_invoices(db).await;
    let schools = school::by_ids(
        db,
        &expected_memberships
            .iter()
            .map(|(_, s, _, _)| *s)
            .collect::<Vec<_>>(),
    )
    .await
    .expect("schools");
    for (membership, school_id, frequency, totals) in expected_memberships {
        let school = &schools[&school_id];
        let schedule = fees::schedules_for_year(db, &finance(), year)
            .await
            .expect("schedules")
            .into_iter()
            .find(|s| s.frequency == frequency)
            .expect("the schedule");
        let quote = fees::quote(
            &schedule.rules,
            year,
            &SchoolFacts::of(school, school.roll, year),
            day(2028, 1, 5),
            frequency,
        )
        .expect("quote");
        let lines = ledger::invoices::lines_of_invoices(
            db,
            &invoices.iter().map(|i| i.id).collect::<Vec<_>>(),
        )
        .await
        .expect("lines");
        let mut billed: Vec<&Invoice> = invoices
            .iter()
            .filter(|i| {
                lines[&i.id]
                    .iter()
                    .any(|l| l.membership_id == Some(membership))
            })
            .collect();
        billed.sort_by_key(|i| i.instalment.as_str() != "SPRING");
        let got: Vec<i64> = billed.iter().map(|i| i.total.pence()).collect();
        assert_eq!(got, totals, "{frequency:?}: the invoices");
        let quoted: Vec<i64> = quote.instalments.iter().map(|i| i.total.pence()).collect();
        assert_eq!(quoted, totals, "{frequency:?}: the quote's instalments");
        assert_eq!(
            quote.total.pence(),
            got.iter().sum::<i64>(),
            "{frequency:?}: quote = invoices to the penny"
        );
        assert_eq!(quote.net.pence(), 95_634);
        let vats: Vec<i64> = billed.iter().map(|i| i.vat.pence()).collect();
        let quoted_vats: Vec<i64> = quote.instalments.iter().map(|i| i.vat.pence()).collect();
        assert_eq!(vats, quoted_vats, "{frequency:?}: VAT per invoice");
    }
}

/// Issue #22: a January census recorded after October used to unprice every October
/// schedule ("the school's roll is from the January census") and so block the whole year's
/// run. Each schedule now reads its own census from the roll history: the run prices Birch on
/// its October roll, whatever January said.
async fn a_january_census_does_not_unprice_an_october_run(db: TestDb) {
    let db = db.conn();
    let fx = small(db, true, true).await;
    let birch = fx.schools[1];
    let updated = school::update(
        db,
        &clock(),
        &Actor::System,
        birch,
        school::SchoolChanges {
            roll: Some(Some(RollInput {
                number_on_roll: 260,
                census: RollCensus::January,
                census_date: day(2026, 1, 15),
            })),
            ..Default::default()
        },
    )
    .await
    .expect("January roll");
    assert_eq!(
        updated.roll.map(|r| r.census),
        Some(RollCensus::January),
        "the school's current roll is January's"
    );

    let officer = person(db, "finance.officer@trellis.example", Role::Finance).await;
    let done = run::start(db, &officer, &clock(), year())
        .await
        .expect("the run is not blocked");
    assert_eq!(
        done.invoices_created, 3,
        "autumn now; spring and summer on their days"
    );
    issue_instalments_due_by(db, day(2027, 4, 1)).await;
    let lines = ledger::invoices::lines_of_invoices(
        db,
        &all_invoices(db)
            .await
            .iter()
            .map(|i| i.id)
            .collect::<Vec<_>>(),
    )
    .await
    .expect("lines");
    let birch_net: i64 = lines
        .values()
        .flatten()
        .filter(|l| l.school_id == Some(birch))
        .map(|l| l.unit_amount.pence() * i64::from(l.quantity))
        .sum();
    assert_eq!(
        birch_net,
        210 * 1_900,
        "210 on the October roll at £19, not 260"
    );
}

/// Finance asks "who changed this fee schedule, and what was it before?": the trail holds
/// the creation, each change and the run's lock, oldest first, each with its author and the
/// schedule either side; a school's head may read the schedule but not its trail.
async fn a_fee_schedules_trail_runs_from_creation_to_the_runs_lock(db: TestDb) {
    let db = db.conn();
    let fx = small(db, false, true).await;
    let finance = person(db, "finance@trellis.example", Role::Finance).await;
    let admin = person(db, "admin@trellis.example", Role::PartnershipAdmin).await;
    let created = fees::create_schedule(
        db,
        &finance,
        &clock(),
        NewFeeSchedule {
            year: year(),
            tier_id: fx.tier,
            name: "Full membership 2026/27".to_owned(),
            rules: FeeRules::haringey_2026().into_document(),
            frequency: BillingFrequency::Annual,
            payment_terms_days: 30,
        },
    )
    .await
    .expect("schedule");
    fees::update_schedule(
        db,
        &admin,
        &clock(),
        created.id,
        FeeSchedulePatch {
            frequency: Some(BillingFrequency::Termly),
            payment_terms_days: Some(14),
            ..FeeSchedulePatch::default()
        },
    )
    .await
    .expect("update");
    run::start(db, &finance, &clock(), year())
        .await
        .expect("run");

    let trail = fees::history(db, &finance, created.id)
        .await
        .expect("finance reads");
    let actions: Vec<&str> = trail.iter().map(|e| e.action.as_str()).collect();
    assert_eq!(
        actions,
        [
            "fee_schedule.create",
            "fee_schedule.update",
            "fee_schedule.lock"
        ]
    );
    let ids = |a: &Actor| a.as_user().map(|u| u.id.as_uuid());
    let authors: Vec<_> = trail.iter().map(|e| e.actor_id).collect();
    assert_eq!(authors, [ids(&finance), ids(&admin), ids(&finance)]);
    assert!(
        trail
            .iter()
            .all(|e| e.actor_kind == ledger::ActorKind::User)
    );
    assert!(trail.iter().all(|e| e.entity_id == created.id.as_uuid()));

    let field =
        |v: &Option<serde_json::Value>, name: &str| v.as_ref().expect("snapshot")[name].clone();
    let (create, update, lock) = (&trail[0], &trail[1], &trail[2]);
    assert_eq!(create.before, None);
    assert_eq!(field(&create.after, "frequency"), "ANNUAL");
    assert_eq!(field(&create.after, "name"), "Full membership 2026/27");
    assert_eq!(
        field(&create.after, "rules"),
        serde_json::to_value(FeeRules::haringey_2026()).expect("json")
    );
    assert_eq!(
        update.before, create.after,
        "an update starts where creation left it"
    );
    assert_eq!(field(&update.after, "frequency"), "TERMLY");
    assert_eq!(field(&update.after, "payment_terms_days"), 14);
    assert_eq!(lock.before, update.after);
    assert_eq!(field(&lock.before, "locked_at"), serde_json::Value::Null);
    assert!(
        field(&lock.after, "locked_at").is_string(),
        "{:?}",
        lock.after
    );

    // A second run of the year does not lock again, so writes no entry.
    let _ = run::start(db, &finance, &clock(), year()).await;
    assert_eq!(
        fees::history(db, &admin, created.id)
            .await
            .expect("admin reads")
            .len(),
        3
    );

    // The head may read the price list, not who priced it.
    let head = user(Role::SchoolLeader, &[fx.schools[0]]);
    assert!(
        fees::schedules_for_year(db, &head, year()).await.is_ok(),
        "the schedule itself is public to members"
    );
    assert_forbidden(fees::history(db, &head, created.id).await);
    assert_forbidden(fees::history(db, &api_key(), created.id).await);
    assert!(matches!(
        fees::history(db, &finance, kernel::FeeScheduleId::new()).await,
        Err(DomainError::NotFound { .. })
    ));
}

/// Between the run and the first day of spring, Alder moves to a trust and Birch's
/// membership is cancelled: Alder's spring line is invoiced to the trust, Birch is not billed
/// for spring, Cedar's goes out as planned. Two sweeps at once issue each instalment once.
async fn scheduled_instalments_follow_moves_and_endings(db: TestDb) {
    let db = db.conn();
    let finance = person(db, "finance@trellis.example", Role::Finance).await;
    let fx = small(db, true, true).await;
    let (alder, birch, cedar) = (fx.schools[0], fx.schools[1], fx.schools[2]);
    run::start(db, &finance, &clock(), year())
        .await
        .expect("run");
    let trust = move_to_new_trust(db, &finance, alder).await;
    cancel_membership_of(db, birch).await;

    let spring = FixedClock::new(
        Utc.with_ymd_and_hms(2027, 1, 1, 6, 0, 0)
            .single()
            .expect("time"),
    );
    let (a, b) = tokio::join!(
        run::issue_due_instalments(db, &spring),
        run::issue_due_instalments(db, &spring)
    );
    let (a, b) = (a.expect("sweep"), b.expect("sweep"));
    assert_eq!(a.issued + b.issued, 2, "Alder's (to the trust) and Cedar's");
    assert_eq!(a.cancelled + b.cancelled, 1, "Birch's");

    let invoices = all_invoices(db).await;
    let lines =
        ledger::invoices::lines_of_invoices(db, &invoices.iter().map(|i| i.id).collect::<Vec<_>>())
            .await
            .expect("lines");
    let spring_of = |school: SchoolId| -> Vec<&Invoice> {
        invoices
            .iter()
            .filter(|i| {
                lines[&i.id].iter().any(|l| {
                    l.school_id == Some(school) && l.description.contains("spring instalment")
                })
            })
            .collect()
    };
    let alders = spring_of(alder);
    assert_eq!(alders.len(), 1);
    assert_eq!(alders[0].account_id, trust.id);
    assert_eq!(alders[0].instalment, Instalment::None);
    assert!(spring_of(birch).is_empty());
    let cedars = spring_of(cedar);
    assert_eq!(cedars.len(), 1);
    assert_eq!(cedars[0].instalment, Instalment::Spring);

    let rows = run::scheduled_instalments(db, &finance, year())
        .await
        .expect("rows");
    let spring_rows: Vec<_> = rows
        .iter()
        .filter(|r| r.instalment == Instalment::Spring)
        .collect();
    assert_eq!(spring_rows.len(), 3);
    assert!(
        spring_rows
            .iter()
            .all(|r| r.status != run::ScheduleStatus::Pending)
    );
    let cancelled = spring_rows
        .iter()
        .find(|r| r.status == run::ScheduleStatus::Cancelled)
        .expect("Birch's");
    assert!(
        cancelled
            .note
            .as_deref()
            .is_some_and(|n| n.contains("membership ended")),
        "{cancelled:?}"
    );
    let moved = spring_rows
        .iter()
        .find(|r| r.note.as_deref().is_some_and(|n| n.contains("new payer")))
        .expect("Alder's");
    assert_eq!(moved.status, run::ScheduleStatus::Issued);
    assert_eq!(moved.invoice_id, None);
    // Summer is still to come, and a second spring sweep does nothing.
    assert_eq!(
        run::issue_due_instalments(db, &spring)
            .await
            .expect("again"),
        run::IssuedInstalments::default()
    );
    assert_eq!(
        rows.iter()
            .filter(|r| r.status == run::ScheduleStatus::Pending)
            .count(),
        3
    );
}

testkit::db_tests!(
    a_fee_schedules_trail_runs_from_creation_to_the_runs_lock,
    a_january_census_does_not_unprice_an_october_run,
    a_late_joiner_is_invoiced_exactly_what_it_was_quoted,
    demo_run_bills_every_active_membership_once,
    demo_money_keeps_every_statement_balanced,
    interrupted_run_completes_on_rerun,
    a_school_without_a_roll_is_left_out_until_its_roll_is_recorded,
    the_supplement_bills_late_joiners_and_reports_changes,
    scheduled_instalments_follow_moves_and_endings,
    schools_without_schedule_or_account_are_named,
    only_finance_and_admins_run_invoicing,
);
