//! A draft invoicing run over HTTP, on SQLite and PostgreSQL, over the demo's accounts and
//! fee schedules before 2026/27 is invoiced: finance prepares the year, pages through the
//! drafts, leaves a school out, adds a PO number and a discount, and issues; schools cannot.

use crate::common;

use common::{FINANCE, HEAD, TestApp, first_code};
use serde_json::{Value, json};
use testkit::TestDb;

const RUN: &str = r"
query($after: String) {
  invoicingRuns {
    academicYear status invoicesCreated notes
    draftTotals { invoices schoolsExcluded net { amountPence } discounts { amountPence } }
    drafts(first: 100, after: $after) {
      pageInfo { hasNextPage endCursor }
      nodes {
        id instalment poNumber leftOut dueOn
        account { id name }
        net { amountPence }
        lines {
          school { id name } description excluded
          plannedNet { amountPence } net { amountPence }
          discount { label amount { amountPence } }
        }
      }
    }
  }
}";

const PREPARE: &str = r#"mutation { invoicingRunPrepare(input: { academicYear: "2026/27" }) {
  invoicingRun { id status invoicesCreated } userErrors { field code } } }"#;
const ISSUE: &str = r#"mutation { invoicingRunIssue(input: { academicYear: "2026/27" }) {
  invoicingRun { id status invoicesCreated notes } userErrors { field code } } }"#;

/// The run and every draft, paging through.
async fn run_and_drafts(app: &TestApp) -> (Value, Vec<Value>) {
    let mut after: Option<String> = None;
    let mut all = Vec::new();
    loop {
        let data = app.data_as(FINANCE, RUN, json!({ "after": after })).await;
        let run = data["invoicingRuns"][0].clone();
        let page = &run["drafts"];
        all.extend(page["nodes"].as_array().expect("nodes").iter().cloned());
        if page["pageInfo"]["hasNextPage"] == false {
            return (run, all);
        }
        after = page["pageInfo"]["endCursor"].as_str().map(str::to_owned);
    }
}

fn pence(v: &Value) -> i64 {
    v["amountPence"].as_i64().expect("pence")
}

async fn a_draft_run_is_reviewed_and_issued(db: TestDb) {
    let app = TestApp::spawn_unbilled(db).await;

    // A school cannot prepare, see or change drafts.
    let head = app.token(HEAD).await;
    let (_, body) = app.gql(Some(&head), PREPARE, json!({})).await;
    assert_eq!(first_code(&body), "FORBIDDEN", "{body}");

    let data = app.data_as(FINANCE, PREPARE, json!({})).await;
    let prepared = &data["invoicingRunPrepare"];
    assert_eq!(prepared["userErrors"], json!([]), "{data}");
    assert_eq!(prepared["invoicingRun"]["status"], "DRAFT");
    assert_eq!(prepared["invoicingRun"]["invoicesCreated"], 0);

    let (run, drafts) = run_and_drafts(&app).await;
    assert!(drafts.len() > 100, "more than a page: {}", drafts.len());
    assert_eq!(run["draftTotals"]["invoices"], json!(drafts.len()));
    let sum: i64 = drafts.iter().map(|d| pence(&d["net"])).sum();
    assert_eq!(pence(&run["draftTotals"]["net"]), sum);
    let (_, body) = app.gql(Some(&head), RUN, json!({})).await;
    assert_eq!(first_code(&body), "FORBIDDEN", "{body}");
    let invoices = app
        .data_as(
            FINANCE,
            "{ invoices(first: 1) { nodes { id } } }",
            json!({}),
        )
        .await;
    assert_eq!(
        invoices["invoices"]["nodes"],
        json!([]),
        "nothing issued yet"
    );

    // Leave the first draft's school out; a PO and a discount on two others.
    let left_out = drafts[0]["lines"][0]["school"]["id"].clone();
    let data = app
        .data_as(
            FINANCE,
            r#"mutation($school: ID!) { invoicingRunExcludeSchool(input: {
                academicYear: "2026/27", schoolId: $school, excluded: true }) {
                invoiceDrafts { id leftOut lines { excluded school { id } } } userErrors { field code } } }"#,
            json!({ "school": left_out }),
        )
        .await;
    let changed = &data["invoicingRunExcludeSchool"];
    assert_eq!(changed["userErrors"], json!([]), "{data}");
    for draft in changed["invoiceDrafts"].as_array().expect("drafts") {
        for line in draft["lines"].as_array().expect("lines") {
            if line["school"]["id"] == left_out {
                assert_eq!(line["excluded"], true, "{draft}");
            }
        }
    }
    // Two drafts issued now (not a later term's), of other schools.
    let now: Vec<&Value> = drafts
        .iter()
        .filter(|d| {
            matches!(d["instalment"].as_str(), Some("AUTUMN" | "ANNUAL"))
                && d["lines"][0]["school"]["id"] != left_out
        })
        .collect();
    let po_draft = now[0];
    let data = app
        .data_as(
            FINANCE,
            r"mutation($id: ID!, $po: String) { invoiceDraftSetPoNumber(input: { id: $id, poNumber: $po }) {
                invoiceDraft { poNumber } userErrors { field code } } }",
            json!({ "id": po_draft["id"], "po": "PO-2026-118" }),
        )
        .await;
    assert_eq!(
        data["invoiceDraftSetPoNumber"]["invoiceDraft"]["poNumber"], "PO-2026-118",
        "{data}"
    );
    let discounted = now[1];
    let line = &discounted["lines"][0];
    const DISCOUNT: &str = r#"mutation($id: ID!, $school: ID!, $pence: Int!) {
        invoiceDraftSetDiscount(input: { id: $id, schoolId: $school,
          discount: { label: "Hardship discount", amountPence: $pence } }) {
        invoiceDraft { net { amountPence } lines { discount { label amount { amountPence } } } }
        userErrors { field code } } }"#;
    let vars =
        |p: i64| json!({ "id": discounted["id"], "school": line["school"]["id"], "pence": p });
    let too_much = pence(&line["plannedNet"]) + 1;
    let data = app.data_as(FINANCE, DISCOUNT, vars(too_much)).await;
    assert_eq!(
        data["invoiceDraftSetDiscount"]["userErrors"],
        json!([{ "field": ["input", "discount", "amountPence"], "code": "OUT_OF_RANGE" }]),
        "{data}"
    );
    let data = app.data_as(FINANCE, DISCOUNT, vars(5_000)).await;
    let set = &data["invoiceDraftSetDiscount"];
    assert_eq!(set["userErrors"], json!([]), "{data}");
    assert_eq!(
        pence(&set["invoiceDraft"]["net"]),
        pence(&discounted["net"]) - 5_000
    );
    let (_, body) = app.gql(Some(&head), DISCOUNT, vars(100)).await;
    assert_eq!(first_code(&body), "FORBIDDEN", "{body}");

    let (run, _) = run_and_drafts(&app).await;
    assert_eq!(run["draftTotals"]["schoolsExcluded"], 1);
    assert_eq!(pence(&run["draftTotals"]["discounts"]), 5_000);
    let to_issue = run["draftTotals"]["invoices"].as_i64().expect("count");

    // Issue: what is due now is numbered and issued, the rest scheduled; the drafts go.
    let data = app.data_as(FINANCE, ISSUE, json!({})).await;
    let issued = &data["invoicingRunIssue"];
    assert_eq!(issued["userErrors"], json!([]), "{data}");
    assert_eq!(issued["invoicingRun"]["status"], "COMPLETED");
    let created = issued["invoicingRun"]["invoicesCreated"]
        .as_i64()
        .expect("n");
    assert!(
        created > 0 && created <= to_issue,
        "{created} of {to_issue}"
    );
    let notes = issued["invoicingRun"]["notes"].to_string();
    assert!(notes.contains("left out of this run by finance"), "{notes}");
    // The drafts stay as the record of what was issued.
    let (run, kept) = run_and_drafts(&app).await;
    assert_eq!(kept.len(), drafts.len(), "{run}");
    assert_eq!(run["draftTotals"]["invoices"], json!(to_issue));

    const OF: &str = r"query($filter: InvoiceFilterInput) { invoices(first: 100, filter: $filter) {
        nodes { number purchaseOrderNumber instalment } } }";
    let data = app
        .data_as(
            FINANCE,
            OF,
            json!({ "filter": { "accountId": po_draft["account"]["id"] } }),
        )
        .await;
    let theirs = data["invoices"]["nodes"].as_array().expect("invoices");
    assert!(
        theirs
            .iter()
            .any(|i| i["purchaseOrderNumber"] == "PO-2026-118"
                && i["instalment"] == po_draft["instalment"]),
        "{data}"
    );
    let data = app
        .data_as(FINANCE, OF, json!({ "filter": { "schoolId": left_out } }))
        .await;
    assert_eq!(
        data["invoices"]["nodes"],
        json!([]),
        "the school left out has no invoice"
    );

    // Issued once: again is refused, and so is any change.
    let data = app.data_as(FINANCE, ISSUE, json!({})).await;
    assert_eq!(
        data["invoicingRunIssue"]["userErrors"],
        json!([{ "field": ["input", "academicYear"], "code": "CONFLICT" }])
    );
}

testkit::db_tests!(a_draft_run_is_reviewed_and_issued);
