//! Bookings on the consolidated termly invoice over HTTP, on SQLite and PostgreSQL: charges
//! are added through the domain API (as the traded-services domain does), finance previews
//! and issues a finished term, and a school sees only its own pending charges.

use crate::common;

use billing::charges::{NewCharge, add_charge};
use billing::ledger::accounts;
use billing::ledger::{BillingAccount, VatTreatment};
use chrono::{Days, NaiveDate};
use common::{FINANCE, HEAD, STAFF, TestApp, first_code};
use kernel::{AcademicYear, Actor, Clock, Money, SchoolId, SystemClock, Term};
use membership::PageArgs;
use sea_orm::DatabaseConnection;
use serde_json::{Value, json};
use testkit::TestDb;

/// A day whose term has ended by today: at most five months long, so 200 days back is safe.
fn in_an_ended_term() -> NaiveDate {
    SystemClock.today() - Days::new(200)
}

fn term_name(term: Term) -> &'static str {
    match term {
        Term::Autumn => "AUTUMN",
        Term::Spring => "SPRING",
        Term::Summer => "SUMMER",
    }
}

/// Holly Park's account (the demo head's school), and another school's.
async fn accounts_of_demo(db: &DatabaseConnection) -> (BillingAccount, BillingAccount) {
    let all = accounts::list(db, &Actor::System, &PageArgs::first(100))
        .await
        .expect("accounts")
        .items;
    let holly = all
        .iter()
        .find(|a| a.name == "Holly Park Primary School")
        .expect("Holly Park's account")
        .clone();
    let other = all
        .iter()
        .find(|a| a.id != holly.id && a.school_ids.len() == 1)
        .expect("another school's account")
        .clone();
    (holly, other)
}

async fn charge(
    db: &DatabaseConnection,
    school: SchoolId,
    on: NaiveDate,
    pence: i64,
    po: Option<&str>,
) -> billing::charges::Charge {
    add_charge(
        db,
        &Actor::System,
        &SystemClock,
        NewCharge {
            school_id: school,
            booking_id: uuid::Uuid::now_v7(),
            occurred_on: on,
            description: format!("Maths subject leaders' network, {on}"),
            quantity: 1,
            unit_amount: Money::from_pence(pence),
            vat_treatment: VatTreatment::Exempt,
            vat_rate_bp: 0,
            cfr_code: Some("E19".to_owned()),
            po_number: po.map(str::to_owned),
        },
    )
    .await
    .expect("charge added")
}

const ISSUE: &str = r"
mutation($input: TermInvoicesIssueInput!) {
  termInvoicesIssue(input: $input) {
    chargesInvoiced
    total { amountPence }
    invoices { id source purchaseOrderNumber account { name }
      lines { description poNumber net { amountPence } school { name } } }
    userErrors { field code message }
  }
}";

const PREVIEW: &str = r"
query($year: AcademicYear!, $term: Term!) {
  termInvoicePreview(academicYear: $year, term: $term) {
    account { name }
    total { amountPence }
    charges { poNumber status total { amountPence } }
  }
}";

async fn finance_issues_a_finished_terms_booking_invoices(db: TestDb) {
    let app = TestApp::spawn_billing(db).await;
    let conn = app.db.conn();
    let (holly, other) = accounts_of_demo(conn).await;
    let on = in_an_ended_term();
    let (year, term) = (AcademicYear::containing(on), Term::containing(on));
    charge(conn, holly.school_ids[0], on, 12_000, Some("HP-1")).await;
    charge(conn, holly.school_ids[0], on, 8_000, Some("HP-2")).await;
    charge(conn, other.school_ids[0], on, 5_000, Some("OT-1")).await;
    let input = json!({ "input": { "academicYear": year.to_string(), "term": term_name(term) } });

    let preview = app
        .data_as(
            FINANCE,
            PREVIEW,
            json!({ "year": year.to_string(), "term": term_name(term) }),
        )
        .await;
    let drafts = preview["termInvoicePreview"].as_array().expect("drafts");
    assert_eq!(drafts.len(), 2, "{preview}");
    let holly_draft = drafts
        .iter()
        .find(|d| d["account"]["name"] == holly.name)
        .expect("Holly Park's draft");
    assert_eq!(holly_draft["total"]["amountPence"], 20_000);
    assert_eq!(holly_draft["charges"].as_array().expect("charges").len(), 2);

    // A head can neither preview nor issue.
    let head = app.token(HEAD).await;
    let (_, body) = app.gql(Some(&head), ISSUE, input.clone()).await;
    assert_eq!(first_code(&body), "FORBIDDEN", "{body}");
    let (_, body) = app
        .gql(
            Some(&head),
            PREVIEW,
            json!({ "year": year.to_string(), "term": term_name(term) }),
        )
        .await;
    assert_eq!(first_code(&body), "FORBIDDEN", "{body}");

    // The current term has not ended: a user error, nothing issued.
    let today = SystemClock.today();
    let current = json!({ "input": {
        "academicYear": AcademicYear::containing(today).to_string(),
        "term": term_name(Term::containing(today)),
    } });
    let data = app.data_as(FINANCE, ISSUE, current).await;
    let errors = &data["termInvoicesIssue"]["userErrors"];
    assert_eq!(errors[0]["field"], json!(["input", "term"]), "{data}");
    assert_eq!(errors[0]["code"], "CONFLICT");

    let data = app.data_as(FINANCE, ISSUE, input.clone()).await;
    let issued = &data["termInvoicesIssue"];
    assert_eq!(issued["userErrors"], json!([]));
    assert_eq!(issued["chargesInvoiced"], 3);
    assert_eq!(issued["total"]["amountPence"], 25_000);
    let invoices = issued["invoices"].as_array().expect("invoices");
    assert_eq!(invoices.len(), 2, "one invoice per account: {data}");
    let holly_invoice = invoices
        .iter()
        .find(|i| i["account"]["name"] == holly.name)
        .expect("Holly Park's invoice");
    assert_eq!(holly_invoice["source"], "BOOKING");
    assert_eq!(
        holly_invoice["purchaseOrderNumber"],
        Value::Null,
        "two POs: each on its own line"
    );
    let pos: Vec<&Value> = holly_invoice["lines"]
        .as_array()
        .expect("lines")
        .iter()
        .map(|l| &l["poNumber"])
        .collect();
    assert_eq!(pos, [&json!("HP-1"), &json!("HP-2")]);
    let other_invoice = invoices
        .iter()
        .find(|i| i["account"]["name"] == other.name)
        .expect("the other invoice");
    assert_eq!(other_invoice["purchaseOrderNumber"], "OT-1");

    // The head sees the invoice with its lines' POs, and nothing left pending.
    let own = app
        .data_as(
            HEAD,
            "query($id: ID!) { node(id: $id) { ... on Invoice { lines { poNumber } } } }",
            json!({ "id": holly_invoice["id"] }),
        )
        .await;
    assert_eq!(own["node"]["lines"][1]["poNumber"], "HP-2");
    let pending = app
        .data_as(
            FINANCE,
            "{ pendingCharges(first: 10) { edges { node { id } } } }",
            json!({}),
        )
        .await;
    assert_eq!(pending["pendingCharges"]["edges"], json!([]));

    // Again: nothing left to bill, nothing billed twice.
    let again = app.data_as(FINANCE, ISSUE, input).await;
    assert_eq!(again["termInvoicesIssue"]["chargesInvoiced"], 0);
    assert_eq!(again["termInvoicesIssue"]["invoices"], json!([]));
}

const PENDING: &str = r"
query($first: Int) {
  pendingCharges(first: $first) {
    pageInfo { hasNextPage }
    edges { node {
      id description poNumber status term academicYear occurredOn
      total { amountPence }
      school { name }
      account { name schools { name } }
      invoice { number }
    } }
  }
}";

async fn a_head_sees_only_their_own_pending_charges(db: TestDb) {
    let app = TestApp::spawn_billing(db).await;
    let conn = app.db.conn();
    let (holly, other) = accounts_of_demo(conn).await;
    let on = in_an_ended_term();
    let own = charge(conn, holly.school_ids[0], on, 12_000, Some("HP-1")).await;
    let theirs = charge(conn, other.school_ids[0], on, 5_000, None).await;

    let data = app.data_as(HEAD, PENDING, json!({ "first": 10 })).await;
    let nodes = &data["pendingCharges"]["edges"];
    assert_eq!(nodes.as_array().expect("edges").len(), 1, "{data}");
    assert_eq!(nodes[0]["node"]["poNumber"], "HP-1");
    assert_eq!(nodes[0]["node"]["status"], "PENDING");
    assert_eq!(
        nodes[0]["node"]["school"]["name"],
        "Holly Park Primary School"
    );

    let all = app.data_as(FINANCE, PENDING, json!({ "first": 10 })).await;
    assert_eq!(
        all["pendingCharges"]["edges"]
            .as_array()
            .expect("edges")
            .len(),
        2
    );

    // Through the account too.
    let accounts = app
        .data_as(
            HEAD,
            "{ billingAccounts(first: 10) { edges { node { pendingCharges { poNumber } } } } }",
            json!({}),
        )
        .await;
    assert_eq!(
        accounts["billingAccounts"]["edges"][0]["node"]["pendingCharges"],
        json!([{ "poNumber": "HP-1" }])
    );

    // Another school's charge by id is as invisible as an unknown one.
    use gateway::graphql::relay::GlobalId as _;
    let node = "query($id: ID!) { node(id: $id) { id ... on Charge { poNumber } } }";
    let data = app
        .data_as(HEAD, node, json!({ "id": theirs.id.to_global() }))
        .await;
    assert_eq!(data["node"], Value::Null);
    let data = app
        .data_as(HEAD, node, json!({ "id": own.id.to_global() }))
        .await;
    assert_eq!(data["node"]["poNumber"], "HP-1");

    // School staff do not see billing at all.
    let staff = app.token(STAFF).await;
    let (_, body) = app.gql(Some(&staff), PENDING, json!({ "first": 10 })).await;
    assert_eq!(first_code(&body), "FORBIDDEN", "{body}");
}

async fn the_pending_list_costs_the_same_however_long(mut db: TestDb) {
    let counter = db.count_statements();
    let config = common::config(&db);
    let app = TestApp::spawn_billing_with(db, config).await;
    let conn = app.db.conn();
    let all = accounts::list(conn, &Actor::System, &PageArgs::first(100))
        .await
        .expect("accounts")
        .items;
    let on = in_an_ended_term();
    for i in 0..50 {
        let account = &all[i % all.len()];
        charge(
            conn,
            account.school_ids[0],
            on,
            1_000 + i64::try_from(i).expect("small"),
            None,
        )
        .await;
    }
    let token = app.token(FINANCE).await;
    let mut costs = Vec::new();
    for first in [1, 50] {
        let _ = app
            .gql(Some(&token), PENDING, json!({ "first": first }))
            .await;
        counter.reset();
        let (_, body) = app
            .gql(Some(&token), PENDING, json!({ "first": first }))
            .await;
        assert!(body.get("errors").is_none(), "{body}");
        assert_eq!(
            body["data"]["pendingCharges"]["edges"]
                .as_array()
                .expect("edges")
                .len(),
            first
        );
        costs.push(counter.get());
    }
    assert!(
        costs[1] <= costs[0],
        "statements for 1 charge vs 50: {costs:?}"
    );
}

async fn the_scheduled_job_issues_ended_terms_once(db: TestDb) {
    use gateway::jobs::{Job, Tick, tick};
    let app = TestApp::spawn_billing(db).await;
    let conn = app.db.conn();
    let (holly, _) = accounts_of_demo(conn).await;
    let ended = charge(conn, holly.school_ids[0], in_an_ended_term(), 4_000, None).await;
    let current = charge(conn, holly.school_ids[0], SystemClock.today(), 4_000, None).await;
    let slot = gateway::jobs::slot_of(SystemClock.now(), std::time::Duration::from_hours(1));

    let Tick::Ran(detail) = tick(conn, &SystemClock, "a", Job::IssueTermInvoices, slot)
        .await
        .expect("tick")
    else {
        panic!("the job should run");
    };
    assert!(detail.contains("1 invoice(s) for 1 charge(s)"), "{detail}");
    assert_eq!(
        tick(conn, &SystemClock, "b", Job::IssueTermInvoices, slot)
            .await
            .expect("tick"),
        Tick::Taken,
        "one replica per slot"
    );
    let now = billing::charges::charges_by_bookings(conn, &[ended.booking_id, current.booking_id])
        .await
        .expect("read");
    assert_eq!(
        now[&ended.booking_id].status,
        billing::charges::ChargeStatus::Invoiced
    );
    assert_eq!(
        now[&current.booking_id].status,
        billing::charges::ChargeStatus::Pending,
        "the current term is not over"
    );
    let next = slot + chrono::Duration::hours(1);
    assert_eq!(
        tick(conn, &SystemClock, "a", Job::IssueTermInvoices, next)
            .await
            .expect("tick"),
        Tick::Ran("no ended term with pending charges".to_owned())
    );
}

testkit::db_tests!(
    the_scheduled_job_issues_ended_terms_once,
    finance_issues_a_finished_terms_booking_invoices,
    a_head_sees_only_their_own_pending_charges,
    the_pending_list_costs_the_same_however_long,
);
