//! Hostile numbers and dates over HTTP, on SQLite and PostgreSQL (issue 19): the largest
//! 64-bit integer as an amount or a quantity, and dates with a two-digit or ancient year, are
//! typed `userErrors` that change nothing, and the statement and the
//! head's offer dashboard read as before.

use crate::common;

use common::{ADMIN, FINANCE, HEAD, TestApp};
use kernel::SystemClock;
use reqwest::StatusCode;
use sea_orm::{ConnectionTrait, Statement};
use serde_json::{Value, json};
use testkit::TestDb;

const HOLLY_PARK_URN: &str = "900033";

const RECORD: &str = r"
mutation($input: PaymentRecordInput!) {
  paymentRecord(input: $input) {
    payment { id }
    userErrors { field code message }
  }
}";

const STATEMENT: &str = r#"query($id: ID!) { accountStatement(accountId: $id, academicYear: "2026/27") {
    invoiced { amountPence } paid { amountPence } credited { amountPence } outstanding { amountPence }
    received { amountPence } refunded { amountPence } accountCredit { amountPence } } }"#;

const USE: &str = r"mutation($input: OfferUsageRecordInput!) { offerUsageRecord(input: $input) {
    entry { id } userErrors { field code message } } }";

const DASHBOARD: &str = r#"{ viewer { schools { offer(academicYear: "2026/27") {
    items { item { code } unlimited used remaining entries(first: 5) { totalCount } } } } } }"#;

async fn rows(app: &TestApp, table: &str) -> i64 {
    app.db
        .conn()
        .query_one_raw(Statement::from_string(
            app.db.conn().get_database_backend(),
            format!("SELECT COUNT(*) AS n FROM {table}"),
        ))
        .await
        .expect("count")
        .expect("row")
        .try_get::<i64>("", "n")
        .expect("n")
}

#[track_caller]
fn assert_user_error(payload: &Value, field: &str, code: &str) {
    assert_eq!(
        payload["userErrors"][0]["field"],
        json!(["input", field]),
        "{payload}"
    );
    assert_eq!(payload["userErrors"][0]["code"], code, "{payload}");
}

async fn hostile_amounts_quantities_and_dates_change_nothing(db: TestDb) {
    let app = TestApp::spawn_billing(db).await;
    offer::demo::seed(app.db.conn(), &SystemClock)
        .await
        .expect("demo offer loads");

    // Money: i64::MAX pence, one penny over £10,000,000, and dates out of the window.
    let account = app
        .data_as(
            FINANCE,
            r"{ invoices(first: 1) { edges { node { account { id } } } } }",
            json!({}),
        )
        .await["invoices"]["edges"][0]["node"]["account"]["id"]
        .clone();
    let statement = || app.data_as(FINANCE, STATEMENT, json!({ "id": account }));
    let before = statement().await;
    let payments_before = rows(&app, "payments").await;
    let receipt = |amount: Value, received_on: &str| {
        json!({ "input": {
            "accountId": account, "method": "BANK_TRANSFER", "reference": "HOSTILE",
            "receivedOn": received_on, "amountPence": amount } })
    };
    for amount in [
        json!(9_223_372_036_854_775_807_i64),
        json!(1_000_000_001),
        json!(0),
        json!(-1),
    ] {
        let data = app
            .data_as(FINANCE, RECORD, receipt(amount, "2026-11-20"))
            .await;
        assert_eq!(data["paymentRecord"]["payment"], Value::Null, "{data}");
        assert_user_error(&data["paymentRecord"], "amountPence", "OUT_OF_RANGE");
    }
    let data = app
        .data_as(FINANCE, RECORD, receipt(json!(100), "0001-01-01"))
        .await;
    assert_user_error(&data["paymentRecord"], "receivedOn", "OUT_OF_RANGE");
    // A two-digit year is not a Date at all: the resolver never runs, and the payload says
    // which field, as for any other input problem.
    let data = app
        .data_as(FINANCE, RECORD, receipt(json!(100), "26-11-02"))
        .await;
    assert_eq!(data["paymentRecord"]["payment"], Value::Null, "{data}");
    assert_user_error(&data["paymentRecord"], "receivedOn", "INVALID");
    assert_eq!(
        data["paymentRecord"]["userErrors"][0]["message"],
        "expected a date like 2026-09-01 (YYYY-MM-DD, four-digit year)"
    );
    assert_eq!(
        rows(&app, "payments").await,
        payments_before,
        "nothing was written"
    );
    assert_eq!(statement().await, before, "the statement is unchanged");

    // Quantities: i64::MAX units of an unlimited item, then the head's dashboard still reads.
    let ids = app
        .data_as(
            ADMIN,
            r"query($urn: String!) { school(urn: $urn) { id } offerItems { id code } }",
            json!({ "urn": HOLLY_PARK_URN }),
        )
        .await;
    let briefings = common::id_of_code(&ids["offerItems"], "HEAD_BRIEFINGS");
    let entries_before = rows(&app, "offer_ledger_entries").await;
    for quantity in [json!(9_223_372_036_854_775_807_i64), json!(100_001)] {
        let data = app
            .data_as(
                ADMIN,
                USE,
                json!({ "input": { "schoolId": ids["school"]["id"], "itemId": briefings,
                    "quantity": quantity, "occurredOn": "2026-12-01" } }),
            )
            .await;
        assert_eq!(data["offerUsageRecord"]["entry"], Value::Null, "{data}");
        assert_user_error(&data["offerUsageRecord"], "quantity", "OUT_OF_RANGE");
    }
    assert_eq!(rows(&app, "offer_ledger_entries").await, entries_before);
    let head = app.token(HEAD).await;
    let (status, body) = app.gql(Some(&head), DASHBOARD, json!({})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(
        body.get("errors").is_none(),
        "the dashboard still answers: {body}"
    );
}

testkit::db_tests!(hostile_amounts_quantities_and_dates_change_nothing);
