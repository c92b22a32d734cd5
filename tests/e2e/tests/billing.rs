//! Billing over HTTP, on SQLite and PostgreSQL, over the demo's 2026/27 invoicing: what a
//! school sees of its account, what finance can do with money, and that nothing moves twice.

use crate::common;

use common::{ADMIN, FINANCE, HEAD, STAFF, TestApp, first_code};
use serde_json::{Value, json};
use testkit::TestDb;

const INVOICES: &str = r"
query($first: Int, $after: String, $filter: InvoiceFilterInput) {
  invoices(first: $first, after: $after, filter: $filter) {
    pageInfo { hasNextPage endCursor }
    edges { node {
      id number status instalment
      total { amountPence } paid { amountPence } credited { amountPence } outstanding { amountPence }
      account { id name }
      lines { description net { amountPence } cfrCode school { name } }
    } }
  }
}";

fn edges(data: &Value, field: &str) -> Vec<Value> {
    data[field]["edges"]
        .as_array()
        .expect("edges")
        .iter()
        .map(|e| e["node"].clone())
        .collect()
}

async fn all_invoices(app: &TestApp, who: &str) -> Vec<Value> {
    let mut after: Option<String> = None;
    let mut all = Vec::new();
    loop {
        let data = app
            .data_as(who, INVOICES, json!({ "first": 100, "after": after }))
            .await;
        all.extend(edges(&data, "invoices"));
        if data["invoices"]["pageInfo"]["hasNextPage"] == false {
            return all;
        }
        after = data["invoices"]["pageInfo"]["endCursor"]
            .as_str()
            .map(str::to_owned);
    }
}

/// A new membership tier `code` with an annual 2026/27 fee schedule on `rules` (a fee
/// rules document as JSON), created as an admin and finance would; returns the tier's id.
async fn tier_with_schedule(app: &TestApp, code: &str, rules: Value) -> Value {
    let tier = app
        .data_as(
            ADMIN,
            "mutation($code: String!) { membershipTierCreate(input: { code: $code, name: $code }) { tier { id } userErrors { field code } } }",
            json!({ "code": code }),
        )
        .await["membershipTierCreate"]["tier"]["id"]
        .clone();
    assert!(tier.is_string(), "{tier}");
    let created = app
        .data_as(
            FINANCE,
            "mutation($input: FeeScheduleCreateInput!) { feeScheduleCreate(input: $input) { userErrors { field code message } } }",
            json!({ "input": {
                "academicYear": "2026/27", "tierId": tier, "name": format!("{code} 2026/27"),
                "rules": rules, "frequency": "ANNUAL"
            } }),
        )
        .await;
    assert_eq!(
        created["feeScheduleCreate"]["userErrors"],
        json!([]),
        "{created}"
    );
    tier
}

fn pence(v: &Value) -> i64 {
    v["amountPence"].as_i64().expect("pence")
}

async fn schools_see_only_their_own_billing(db: TestDb) {
    let app = TestApp::spawn_billing(db).await;

    let every = all_invoices(&app, FINANCE).await;
    assert!(
        every.len() > 100,
        "the run invoices the partnership: {}",
        every.len()
    );
    for invoice in &every {
        assert_eq!(
            pence(&invoice["total"]),
            pence(&invoice["paid"]) + pence(&invoice["credited"]) + pence(&invoice["outstanding"]),
            "{invoice}"
        );
    }

    let own = all_invoices(&app, HEAD).await;
    assert!(!own.is_empty(), "Holly Park is invoiced");
    let own_account = own[0]["account"]["id"].clone();
    assert!(own.iter().all(|i| i["account"]["id"] == own_account));
    assert!(own.iter().all(|i| {
        i["lines"]
            .as_array()
            .expect("lines")
            .iter()
            .all(|l| l["school"]["name"] == "Holly Park Primary School")
    }));

    let accounts = app
        .data_as(
            HEAD,
            "{ billingAccounts(first: 100) { edges { node { id name } } } }",
            json!({}),
        )
        .await;
    assert_eq!(edges(&accounts, "billingAccounts").len(), 1);

    // Somebody else's invoice, by id: invisible.
    let other = every
        .iter()
        .find(|i| i["account"]["id"] != own_account)
        .expect("another account's invoice");
    let data = app
        .data_as(
            HEAD,
            "query($id: ID!) { node(id: $id) { id } }",
            json!({ "id": other["id"] }),
        )
        .await;
    assert_eq!(data["node"], Value::Null);
    let data = app
        .data_as(
            HEAD,
            "query($id: ID!) { node(id: $id) { id } }",
            json!({ "id": other["account"]["id"] }),
        )
        .await;
    assert_eq!(data["node"], Value::Null);

    // Reports are scoped the same way.
    let debt = app
        .data_as(
            HEAD,
            "{ agedDebt { account { id } total { amountPence amount currencyCode formatted } } }",
            json!({}),
        )
        .await;
    assert!(
        debt["agedDebt"]
            .as_array()
            .expect("rows")
            .iter()
            .all(|r| r["account"]["id"] == own_account)
    );
    // Money as MoneyV2: an exact decimal string beside the (deprecated) pence.
    for row in debt["agedDebt"].as_array().expect("rows") {
        let total = &row["total"];
        let pence = total["amountPence"].as_i64().expect("pence");
        let decimal = format!(
            "{}{}.{:02}",
            if pence < 0 { "-" } else { "" },
            pence.abs() / 100,
            pence.abs() % 100
        );
        assert_eq!(total["amount"], json!(decimal), "{total}");
        assert_eq!(total["currencyCode"], "GBP", "{total}");
    }

    // School staff see no billing at all; API-less heads cannot export or run.
    let staff = app.token(STAFF).await;
    let (_, body) = app.gql(Some(&staff), INVOICES, json!({ "first": 5 })).await;
    assert_eq!(first_code(&body), "FORBIDDEN", "{body}");
    let head = app.token(HEAD).await;
    let (_, body) = app
        .gql(
            Some(&head),
            r#"{ ledgerExport(academicYear: "2026/27") }"#,
            json!({}),
        )
        .await;
    assert_eq!(first_code(&body), "FORBIDDEN", "{body}");
    let (_, body) = app
        .gql(
            Some(&head),
            r#"mutation { invoicingRunStart(input: { academicYear: "2026/27" }) { userErrors { code } } }"#,
            json!({}),
        )
        .await;
    assert_eq!(first_code(&body), "FORBIDDEN", "{body}");
}

/// `GET /exports/ledger.csv`: the same CSV as `ledgerExport` (which a national year outgrows),
/// to finance only, with the same credential.
async fn the_export_downloads_as_a_file(app: &TestApp, from_graphql: &str) {
    let get = |who: Option<String>, query: &str| {
        let mut req = app
            .client
            .get(format!("{}/exports/ledger.csv?{query}", app.base));
        if let Some(token) = who {
            req = req.bearer_auth(token);
        }
        req.send()
    };
    let finance = app.token(FINANCE).await;
    let res = get(Some(finance.clone()), "academicYear=2026/27")
        .await
        .expect("download");
    assert_eq!(res.status(), reqwest::StatusCode::OK);
    assert!(
        res.headers()["content-type"]
            .to_str()
            .expect("ascii")
            .starts_with("text/csv"),
        "{:?}",
        res.headers()
    );
    assert_eq!(
        res.headers()["content-disposition"],
        "attachment; filename=\"ledger-academic-year-2026.csv\""
    );
    assert_eq!(res.headers()["cache-control"], "private, no-store");
    assert_eq!(res.text().await.expect("body"), from_graphql);
    let xero = app
        .data_as(
            FINANCE,
            r#"{ ledgerExport(academicYear: "2026/27", layout: XERO) }"#,
            json!({}),
        )
        .await;
    let res = get(Some(finance.clone()), "academicYear=2026%2F27&layout=XERO")
        .await
        .expect("download");
    assert_eq!(res.status(), reqwest::StatusCode::OK);
    assert_eq!(
        res.text().await.expect("body"),
        xero["ledgerExport"].as_str().expect("csv")
    );

    // Refusals: no credential, not finance, and a malformed request.
    let status = |res: reqwest::Result<reqwest::Response>| res.expect("response").status();
    assert_eq!(
        status(get(None, "academicYear=2026/27").await),
        reqwest::StatusCode::UNAUTHORIZED
    );
    for who in [HEAD, STAFF] {
        assert_eq!(
            status(get(Some(app.token(who).await), "academicYear=2026/27").await),
            reqwest::StatusCode::FORBIDDEN,
            "{who}"
        );
    }
    for query in [
        "",
        "academicYear=2026",
        "academicYear=2026/27&financialYear=2026/27",
        "academicYear=2026/27&layout=QUICKBOOKS",
    ] {
        assert_eq!(
            status(get(Some(finance.clone()), query).await),
            reqwest::StatusCode::BAD_REQUEST,
            "{query}"
        );
    }
}

const SET_PO: &str = r"
mutation($id: ID!, $po: String!) {
  invoiceSetPurchaseOrder(input: { id: $id, poNumber: $po }) {
    invoice { purchaseOrderNumber }
    userErrors { field code message }
  }
}";

async fn a_head_adds_a_po_number_to_their_own_open_invoice_only(db: TestDb) {
    let app = TestApp::spawn_billing(db).await;
    let own = all_invoices(&app, HEAD).await;
    let open = own
        .iter()
        .find(|i| i["status"] == "OPEN" || i["status"] == "PARTIALLY_PAID")
        .expect("Holly Park has an unsettled invoice");
    let data = app
        .data_as(
            HEAD,
            SET_PO,
            json!({ "id": open["id"], "po": "HP-2026-114" }),
        )
        .await;
    assert_eq!(
        data["invoiceSetPurchaseOrder"]["invoice"]["purchaseOrderNumber"],
        "HP-2026-114"
    );

    let every = all_invoices(&app, FINANCE).await;
    let other = every
        .iter()
        .find(|i| i["account"]["id"] != open["account"]["id"] && i["status"] == "OPEN")
        .expect("another school's open invoice");
    let head = app.token(HEAD).await;
    let (_, body) = app
        .gql(
            Some(&head),
            SET_PO,
            json!({ "id": other["id"], "po": "NOT-MINE" }),
        )
        .await;
    assert_eq!(first_code(&body), "NOT_FOUND", "{body}");
    let staff = app.token(STAFF).await;
    let (_, body) = app
        .gql(Some(&staff), SET_PO, json!({ "id": open["id"], "po": "X" }))
        .await;
    assert_eq!(first_code(&body), "FORBIDDEN", "{body}");
}

const RECORD: &str = r"
mutation($input: PaymentRecordInput!) {
  paymentRecord(input: $input) {
    payment { id amount { amountPence } unallocated { amountPence } }
    userErrors { field code message }
  }
}";

const ALLOCATE: &str = r"
mutation($input: PaymentAllocateInput!) {
  paymentAllocate(input: $input) {
    payment { unallocated { amountPence } }
    allocations { amount { amountPence } invoice { status outstanding { amountPence } } }
    userErrors { field code message }
  }
}";

async fn finance_records_and_allocates_money_exactly_once(db: TestDb) {
    let app = TestApp::spawn_billing(db).await;
    let every = all_invoices(&app, FINANCE).await;
    let invoice = every
        .iter()
        .find(|i| i["status"] == "OPEN")
        .expect("an open invoice")
        .clone();
    let owed = pence(&invoice["outstanding"]);
    let account = invoice["account"]["id"].clone();

    // Bad input: nothing written.
    let bad = json!({ "input": {
        "accountId": account, "method": "BANK_TRANSFER", "reference": "BACS 0",
        "receivedOn": "2026-11-20", "amountPence": 0 } });
    let data = app.data_as(FINANCE, RECORD, bad).await;
    assert_eq!(data["paymentRecord"]["payment"], Value::Null);
    assert_eq!(
        data["paymentRecord"]["userErrors"][0]["field"],
        json!(["input", "amountPence"])
    );

    // The same receipt twice with one idempotency key is one receipt.
    let input = json!({ "input": {
        "accountId": account, "method": "BANK_TRANSFER", "reference": "BACS 4471",
        "receivedOn": "2026-11-20", "amountPence": owed + 10_000,
        "idempotencyKey": "bacs-4471" } });
    let first = app.data_as(FINANCE, RECORD, input.clone()).await;
    let again = app.data_as(FINANCE, RECORD, input).await;
    let payment = first["paymentRecord"]["payment"].clone();
    assert_eq!(payment["id"], again["paymentRecord"]["payment"]["id"]);

    // More than the invoice owes is refused; exactly what it owes settles it.
    let too_much = json!({ "input": { "paymentId": payment["id"],
        "allocations": [{ "invoiceId": invoice["id"], "amountPence": owed + 1 }] } });
    let data = app.data_as(FINANCE, ALLOCATE, too_much).await;
    assert!(
        !data["paymentAllocate"]["userErrors"]
            .as_array()
            .expect("errors")
            .is_empty(),
        "{data}"
    );

    let exact = json!({ "input": { "paymentId": payment["id"], "idempotencyKey": "alloc-4471",
        "allocations": [{ "invoiceId": invoice["id"], "amountPence": owed }] } });
    let data = app.data_as(FINANCE, ALLOCATE, exact.clone()).await;
    let done = &data["paymentAllocate"];
    assert_eq!(done["userErrors"], json!([]), "{data}");
    assert_eq!(done["allocations"][0]["invoice"]["status"], "PAID");
    assert_eq!(
        pence(&done["payment"]["unallocated"]),
        10_000,
        "the rest is account credit"
    );
    let repeat = app.data_as(FINANCE, ALLOCATE, exact).await;
    assert_eq!(repeat["paymentAllocate"]["userErrors"], json!([]));
    assert_eq!(
        pence(&repeat["paymentAllocate"]["payment"]["unallocated"]),
        10_000,
        "a repeated allocation moved nothing"
    );

    // A refund of the credit, then the statement still balances.
    let refund = r#"mutation($id: ID!) { refundCreate(input: { paymentId: $id, amountPence: 10000, reason: "overpaid", idempotencyKey: "refund-4471" }) { refund { amount { amountPence } } userErrors { code } } }"#;
    let data = app
        .data_as(FINANCE, refund, json!({ "id": payment["id"] }))
        .await;
    assert_eq!(pence(&data["refundCreate"]["refund"]["amount"]), 10_000);
    let data = app
        .data_as(FINANCE, refund, json!({ "id": payment["id"] }))
        .await;
    assert_eq!(
        data["refundCreate"]["userErrors"],
        json!([]),
        "idempotent: {data}"
    );

    let statement = app
        .data_as(
            FINANCE,
            r#"query($id: ID!) { accountStatement(accountId: $id, academicYear: "2026/27") {
                invoiced { amountPence } paid { amountPence } credited { amountPence } outstanding { amountPence }
                received { amountPence } refunded { amountPence } accountCredit { amountPence } } }"#,
            json!({ "id": account }),
        )
        .await;
    let s = &statement["accountStatement"];
    assert_eq!(
        pence(&s["invoiced"]),
        pence(&s["paid"]) + pence(&s["credited"]) + pence(&s["outstanding"])
    );
    assert_eq!(
        pence(&s["received"]),
        pence(&s["paid"]) + pence(&s["refunded"]) + pence(&s["accountCredit"])
    );
    assert_eq!(pence(&s["refunded"]), 10_000);

    // The receipt's trail: recorded, allocated once, refunded once, each by finance, with the
    // state before and after.
    const TRAIL: &str = r"query($id: ID!) { auditTrail(id: $id) {
        action actorKind actor { email } before after } }";
    let data = app
        .data_as(FINANCE, TRAIL, json!({ "id": payment["id"] }))
        .await;
    let trail = data["auditTrail"].as_array().expect("trail");
    let actions: Vec<&str> = trail
        .iter()
        .map(|e| e["action"].as_str().expect("action"))
        .collect();
    assert_eq!(
        actions,
        ["payment.record", "payment.allocate", "payment.refund"],
        "{data}"
    );
    assert!(
        trail
            .iter()
            .all(|e| e["actorKind"] == "USER" && e["actor"]["email"] == "finance@trellis.example")
    );
    assert_eq!(trail[0]["before"], Value::Null);
    assert_ne!(trail[1]["before"], trail[1]["after"]);

    // It names people, so schools cannot read it; and only ledger records have one.
    let head = app.token(HEAD).await;
    let (_, body) = app
        .gql(Some(&head), TRAIL, json!({ "id": invoice["id"] }))
        .await;
    assert_eq!(first_code(&body), "FORBIDDEN", "{body}");
    let finance = app.token(FINANCE).await;
    let (_, body) = app
        .gql(Some(&finance), TRAIL, json!({ "id": "not-an-id" }))
        .await;
    assert_eq!(first_code(&body), "BAD_USER_INPUT", "{body}");
}

async fn the_year_is_invoiced_once_and_exported(db: TestDb) {
    let app = TestApp::spawn_billing(db).await;
    let data = app
        .data_as(
            ADMIN,
            r#"mutation { invoicingRunStart(input: { academicYear: "2026/27" }) { invoicingRun { id } userErrors { field code } } }"#,
            json!({}),
        )
        .await;
    assert_eq!(data["invoicingRunStart"]["invoicingRun"], Value::Null);
    assert_eq!(
        data["invoicingRunStart"]["userErrors"][0],
        json!({ "field": ["input", "academicYear"], "code": "CONFLICT" })
    );
    let runs = app
        .data_as(
            FINANCE,
            "{ invoicingRuns { academicYear status invoicesCreated total { amountPence } } }",
            json!({}),
        )
        .await;
    assert_eq!(runs["invoicingRuns"][0]["status"], "COMPLETED");

    let csv = app
        .data_as(
            FINANCE,
            r#"{ ledgerExport(academicYear: "2026/27") }"#,
            json!({}),
        )
        .await;
    let csv = csv["ledgerExport"].as_str().expect("csv");
    assert!(csv.lines().count() > 100, "{csv:.400}");
    assert!(csv.contains("TRL-2026-000001"));
    // The demo's run was issued today: the financial year containing today holds it too,
    // and the one before holds none of it.
    let this_fy = kernel::FinancialYear::containing(chrono::Utc::now().date_naive());
    let last_fy = kernel::FinancialYear::starting(this_fy.start_year() - 1).expect("year");
    for (fy, has_run) in [(this_fy, true), (last_fy, false)] {
        let by_fy = app
            .data_as(
                FINANCE,
                "query($fy: FinancialYear) { ledgerExport(financialYear: $fy) }",
                json!({ "fy": fy.to_string() }),
            )
            .await;
        let by_fy = by_fy["ledgerExport"].as_str().expect("csv");
        assert_eq!(by_fy.contains("TRL-2026-000001"), has_run, "{fy}");
    }
    let token = app.token(FINANCE).await;
    for args in [r#"academicYear: "2026/27", financialYear: "2026-27""#, ""] {
        let (_, body) = app
            .gql(
                Some(&token),
                &format!("{{ ledgerExport({args}) }}").replace("()", ""),
                json!({}),
            )
            .await;
        assert_eq!(first_code(&body), "BAD_USER_INPUT", "{args}: {body}");
    }
    the_export_downloads_as_a_file(&app, csv).await;
    let ledger = read_csv(csv);
    assert_eq!(ledger.0.last().map(String::as_str), Some("allocated_to"));
    // The year's net, VAT and gross as the ledger has them, VOID invoices aside.
    let (kind, status, net, vat) = (0, 3, 9, 10);
    let posted = |r: &&csv::StringRecord| {
        matches!(&r[kind], "INVOICE_LINE" | "CREDIT_NOTE_LINE") && &r[status] != "VOID"
    };
    let ledger_net: i64 = ledger
        .1
        .iter()
        .filter(posted)
        .map(|r| pence_of(&r[net]))
        .sum();
    let ledger_vat: i64 = ledger
        .1
        .iter()
        .filter(posted)
        .map(|r| pence_of(&r[vat]))
        .sum();
    assert!(ledger_net > 0);

    // The Xero and Sage 50 layouts hold the same money.
    let xero = app
        .data_as(
            FINANCE,
            r#"{ ledgerExport(academicYear: "2026/27", layout: XERO) }"#,
            json!({}),
        )
        .await;
    let (header, rows) = read_csv(xero["ledgerExport"].as_str().expect("xero"));
    assert_eq!(
        (header[0].as_str(), header[10].as_str(), header[21].as_str()),
        ("*ContactName", "*InvoiceNumber", "*TaxType")
    );
    let xero_net: i64 = rows
        .iter()
        .map(|r| r[17].parse::<i64>().expect("quantity") * pence_of(&r[18]))
        .sum();
    let xero_vat: i64 = rows.iter().map(|r| pence_of(&r[22])).sum();
    assert_eq!((xero_net, xero_vat), (ledger_net, ledger_vat));
    let sage = app
        .data_as(
            FINANCE,
            r#"{ ledgerExport(academicYear: "2026/27", layout: SAGE50) }"#,
            json!({}),
        )
        .await;
    let (header, rows) = read_csv(sage["ledgerExport"].as_str().expect("sage"));
    assert_eq!(
        (header[0].as_str(), header[1].as_str(), header[7].as_str()),
        ("Type", "Account Reference", "Net Amount")
    );
    let signed = |col: usize| -> i64 {
        rows.iter()
            .map(|r| match &r[0] {
                "SI" => pence_of(&r[col]),
                "SC" => -pence_of(&r[col]),
                _ => 0,
            })
            .sum()
    };
    assert_eq!((signed(7), signed(9)), (ledger_net, ledger_vat));
    assert!(rows.iter().all(|r| (1..=8).contains(&r[1].len())));

    // Every membership's fee shows its working; a head sees their own.
    let data = app
        .data_as(
            HEAD,
            r#"{ memberships(year: "2026/27", first: 1) { edges { node { fee { total { formatted } working { label detail } } } } } }"#,
            json!({}),
        )
        .await;
    let fee = &data["memberships"]["edges"][0]["node"]["fee"];
    assert!(
        fee["working"].as_array().expect("steps").len() >= 3,
        "{fee}"
    );
}

const DASHBOARD: &str = r"
query($first: Int!) {
  invoices(first: $first) {
    edges { node {
      number total { formatted }
      account { name schools { name } }
      lines { description school { name } }
      creditNotes { number }
      allocations { amount { amountPence } payment { reference } }
    } }
  }
}";

async fn an_invoice_list_costs_the_same_however_long(mut db: TestDb) {
    let counter = db.count_statements();
    let config = common::config(&db);
    let app = TestApp::spawn_billing_with(db, config).await;
    let token = app.token(FINANCE).await;
    let mut costs = Vec::new();
    for first in [1, 100] {
        let _ = app
            .gql(Some(&token), DASHBOARD, json!({ "first": first }))
            .await;
        counter.reset();
        let (_, body) = app
            .gql(Some(&token), DASHBOARD, json!({ "first": first }))
            .await;
        assert!(body.get("errors").is_none(), "{body}");
        assert_eq!(edges(&body["data"], "invoices").len(), first);
        costs.push(counter.get());
    }
    assert!(
        costs[1] <= costs[0],
        "statements for 1 invoice vs 100: {costs:?}"
    );
}

/// An invoice page whose lines name their schools reads the schools with the lines
/// (`lines_of_invoices_with_schools`): the page costs no statement more than the same page
/// without schools, and every school is the one `node(id:)` gives through the batch loader.
async fn an_invoice_page_reads_its_lines_schools_with_the_lines(mut db: TestDb) {
    const WITHOUT: &str = r"{ invoices(first: 100) { edges { node {
        number account { name } lines { description } } } } }";
    const WITH: &str = r"{ invoices(first: 100) { edges { node {
        number account { name } lines { description school { id name urn } } } } } }";
    const SCHOOL: &str = r"query($id: ID!) { node(id: $id) { ... on School { id name urn } } }";
    let counter = db.count_statements();
    let config = common::config(&db);
    let app = TestApp::spawn_billing_with(db, config).await;
    let token = app.token(FINANCE).await;
    let mut costs = Vec::new();
    let mut with = Value::Null;
    for query in [WITHOUT, WITH] {
        let _ = app.gql(Some(&token), query, json!({})).await;
        counter.reset();
        let (_, body) = app.gql(Some(&token), query, json!({})).await;
        assert!(body.get("errors").is_none(), "{body}");
        costs.push(counter.get());
        with = body;
    }
    assert_eq!(costs[1], costs[0], "statements without and with schools");

    let invoices = edges(&with["data"], "invoices");
    assert!(invoices.len() > 10, "{with}");
    let mut schools = std::collections::BTreeMap::new();
    for invoice in &invoices {
        for line in invoice["lines"].as_array().expect("lines") {
            if !line["school"].is_null() {
                schools.insert(
                    line["school"]["id"].as_str().expect("id").to_owned(),
                    line["school"].clone(),
                );
            }
        }
    }
    assert!(schools.len() > 10, "lines name schools: {with}");
    for (id, school) in schools {
        let alone = app.data_as(FINANCE, SCHOOL, json!({ "id": id })).await;
        assert_eq!(alone["node"], school);
    }
}

/// An invoice page that shows each invoice's account reads the accounts with the page
/// (`invoices_with_accounts`): no statement more than the same page without accounts but the
/// batch of the schools they pay for, through `edges` and through `nodes`, and every account
/// is the one `node(id:)` gives through the batch loader.
async fn an_invoice_page_reads_its_accounts_with_the_page(mut db: TestDb) {
    const ACCOUNT: &str = "id kind name contactName contactEmail defaultPaymentMethod
        address { lines postcode } schools { id name }";
    let without = "{ invoices(first: 100) { edges { node { number lines { description } } } } }";
    let with = format!(
        "{{ invoices(first: 100) {{ edges {{ node {{ number account {{ {ACCOUNT} }} lines {{ description }} }} }} }} }}"
    );
    let with_nodes = format!(
        "{{ invoices(first: 100) {{ nodes {{ number account {{ {ACCOUNT} }} lines {{ description }} }} }} }}"
    );
    let alone =
        format!("query($id: ID!) {{ node(id: $id) {{ ... on BillingAccount {{ {ACCOUNT} }} }} }}");
    let counter = db.count_statements();
    let config = common::config(&db);
    let app = TestApp::spawn_billing_with(db, config).await;
    let token = app.token(FINANCE).await;
    let mut costs = Vec::new();
    let mut answers = Vec::new();
    for query in [without, with.as_str(), with_nodes.as_str()] {
        let _ = app.gql(Some(&token), query, json!({})).await;
        counter.reset();
        let (_, body) = app.gql(Some(&token), query, json!({})).await;
        assert!(body.get("errors").is_none(), "{body}");
        costs.push(counter.get());
        answers.push(body);
    }
    // The accounts come with the page; only the schools they pay for cost a batch.
    assert_eq!(
        costs[1],
        costs[0] + 1,
        "statements without and with accounts"
    );
    assert_eq!(costs[2], costs[1], "statements through nodes");

    let invoices = edges(&answers[1]["data"], "invoices");
    let nodes = answers[2]["data"]["invoices"]["nodes"]
        .as_array()
        .expect("nodes")
        .clone();
    assert_eq!(invoices, nodes, "edges and nodes agree");
    assert!(invoices.len() > 10, "{}", answers[1]);
    let mut accounts = std::collections::BTreeMap::new();
    for invoice in &invoices {
        let account = &invoice["account"];
        accounts.insert(
            account["id"].as_str().expect("id").to_owned(),
            account.clone(),
        );
    }
    assert!(
        accounts.len() > 5,
        "invoices of several accounts: {}",
        answers[1]
    );
    assert!(
        accounts
            .values()
            .any(|a| a["schools"].as_array().is_some_and(|s| s.len() > 1)),
        "an account paying for several schools is among them"
    );
    for (id, account) in accounts {
        let found = app.data_as(FINANCE, &alone, json!({ "id": id })).await;
        assert_eq!(found["node"], account);
    }
}

/// Issue #22, fee facts as data: every fact a fee rule can select on (`hasSixthForm`,
/// `newSchool`, `rollBelow`, `establishmentTypes`, `phases`) is set through
/// `schoolCreate`/`schoolUpdate`, and a school reaches each selector's price through the API.
async fn every_fee_selector_is_reachable_through_the_api(db: TestDb) {
    let app = TestApp::spawn(db).await;
    // A fixed price per selector, first match wins, so each price names the selector met.
    let rules = json!({
        "version": 1,
        "census": "OCTOBER",
        "perPupil": { "defaultPence": 1000 },
        "fixedPrices": [
            { "label": "Sixth form", "amountPence": 100, "when": { "hasSixthForm": true } },
            { "label": "New school", "amountPence": 200, "when": { "newSchool": true } },
            { "label": "Small school", "amountPence": 300, "when": { "rollBelow": 100 } },
            { "label": "Academy", "amountPence": 400, "when": { "establishmentTypes": ["ACADEMY"] } },
            { "label": "Special", "amountPence": 500, "when": { "phases": ["SPECIAL"] } }
        ],
        "proRata": "NONE",
        "vat": { "treatment": "EXEMPT" }
    });
    let tier = tier_with_schedule(&app, "SELECTORS", rules).await;

    const SCHOOL: &str = "school { id hasSixthForm openedOn }";
    let school = app
        .data_as(
            ADMIN,
            &format!("mutation($input: SchoolCreateInput!) {{ schoolCreate(input: $input) {{ {SCHOOL} userErrors {{ field code }} }} }}"),
            json!({ "input": {
                "urn": "777001", "name": "Selector High School", "phase": "SECONDARY",
                "establishmentType": "COMMUNITY", "localAuthority": "Haringey",
                "postcode": "N22 6HH", "hasSixthForm": true,
                "roll": { "numberOnRoll": 500, "census": "OCTOBER", "censusDate": "2025-10-02" }
            } }),
        )
        .await;
    let school = &school["schoolCreate"]["school"];
    assert_eq!(school["hasSixthForm"], true, "{school}");
    assert_eq!(school["openedOn"], Value::Null);
    let id = school["id"].clone();

    let quote = |expected: i64, why: &'static str| {
        let app = &app;
        let (id, tier) = (id.clone(), tier.clone());
        async move {
            let data = app
                .data_as(
                    FINANCE,
                    r#"query($s: ID!, $t: ID!) { feeQuote(schoolId: $s, academicYear: "2026/27", tierId: $t) { annualFee { amountPence } } }"#,
                    json!({ "s": id, "t": tier }),
                )
                .await;
            assert_eq!(
                pence(&data["feeQuote"]["annualFee"]),
                expected,
                "{why}: {data}"
            );
        }
    };
    let update = |input: Value| {
        let app = &app;
        let id = id.clone();
        async move {
            let mut input = input;
            input["id"] = id;
            let data = app
                .data_as(
                    ADMIN,
                    &format!("mutation($input: SchoolUpdateInput!) {{ schoolUpdate(input: $input) {{ {SCHOOL} userErrors {{ field code }} }} }}"),
                    json!({ "input": input }),
                )
                .await;
            data["schoolUpdate"].clone()
        }
    };

    quote(100, "hasSixthForm from schoolCreate").await;
    let updated = update(json!({ "hasSixthForm": false, "openedOn": "2025-09-01" })).await;
    assert_eq!(updated["school"]["openedOn"], "2025-09-01", "{updated}");
    quote(200, "newSchool: opened in 2025/26, new in 2026/27").await;
    update(json!({ "openedOn": "2022-09-01" })).await;
    quote(
        500_000,
        "opened four years before: not new, priced per pupil",
    )
    .await;
    update(json!({ "openedOn": null, "roll": { "numberOnRoll": 50, "census": "OCTOBER", "censusDate": "2025-10-02" } })).await;
    quote(300, "rollBelow").await;
    update(json!({ "roll": { "numberOnRoll": 500, "census": "OCTOBER", "censusDate": "2025-10-02" }, "establishmentType": "ACADEMY" })).await;
    quote(400, "establishmentTypes").await;
    update(json!({ "establishmentType": "COMMUNITY", "phase": "SPECIAL" })).await;
    quote(500, "phases").await;

    // Bad facts are typed userErrors, and nothing is written.
    let bad =
        update(json!({ "phase": "PRIMARY", "hasSixthForm": true, "openedOn": "1999-12-31" })).await;
    assert_eq!(bad["school"], Value::Null, "{bad}");
    let mut errors: Vec<Value> = bad["userErrors"].as_array().expect("errors").clone();
    errors.sort_by_key(|e| e["field"].to_string());
    assert_eq!(
        errors,
        [
            json!({ "field": ["input", "hasSixthForm"], "code": "INVALID" }),
            json!({ "field": ["input", "openedOn"], "code": "OUT_OF_RANGE" }),
        ]
    );
    quote(500, "the refused update changed nothing").await;

    // An opening further ahead than a school is planned is a typo, refused the same way.
    let far = update(json!({ "openedOn": "2062-09-01" })).await;
    assert_eq!(
        far["userErrors"],
        json!([{ "field": ["input", "openedOn"], "code": "OUT_OF_RANGE" }]),
        "{far}"
    );
    let now = app
        .data_as(
            ADMIN,
            "query($id: ID!) { node(id: $id) { ... on School { phase hasSixthForm openedOn } } }",
            json!({ "id": id }),
        )
        .await;
    assert_eq!(
        now["node"],
        json!({ "phase": "SPECIAL", "hasSixthForm": false, "openedOn": null }),
        "nothing written"
    );
}

/// Issue #22 as reported, on Haringey's published terms: a secondary with a sixth form set
/// through `schoolCreate` is capped at £13,000 (not the £12,500 of other schools), and a small
/// school whose opening date is set through `schoolUpdate` pays the £6,000 new-school minimum.
async fn haringey_caps_a_sixth_form_higher_and_floors_a_new_school(db: TestDb) {
    let app = TestApp::spawn(db).await;
    let rules = serde_json::to_value(billing::fees::FeeRules::haringey_2026().into_document())
        .expect("rules as JSON");
    let tier = tier_with_schedule(&app, "HARINGEY", rules).await;
    let create = |urn: &'static str, phase: &'static str, pupils: u32, sixth: bool| {
        let app = &app;
        async move {
            let data = app
                .data_as(
                    ADMIN,
                    "mutation($input: SchoolCreateInput!) { schoolCreate(input: $input) { school { id } userErrors { field code } } }",
                    json!({ "input": {
                        "urn": urn, "name": format!("School {urn}"), "phase": phase,
                        "establishmentType": "ACADEMY", "localAuthority": "Haringey",
                        "postcode": "N22 6HH", "hasSixthForm": sixth,
                        "roll": { "numberOnRoll": pupils, "census": "OCTOBER", "censusDate": "2025-10-02" }
                    } }),
                )
                .await;
            assert_eq!(data["schoolCreate"]["userErrors"], json!([]), "{data}");
            data["schoolCreate"]["school"]["id"].clone()
        }
    };
    let quote = |school: Value| {
        let (app, tier) = (&app, tier.clone());
        async move {
            let data = app
                .data_as(
                    FINANCE,
                    r#"query($s: ID!, $t: ID!) { feeQuote(schoolId: $s, academicYear: "2026/27", tierId: $t) { annualFee { amountPence } } }"#,
                    json!({ "s": school, "t": tier }),
                )
                .await;
            pence(&data["feeQuote"]["annualFee"])
        }
    };

    // 900 pupils at £19 is £17,100: capped.
    let sixth_form = create("777101", "SECONDARY", 900, true).await;
    let no_sixth_form = create("777102", "SECONDARY", 900, false).await;
    assert_eq!(quote(sixth_form).await, 1_300_000, "the sixth-form cap");
    assert_eq!(quote(no_sixth_form).await, 1_250_000, "the cap of the rest");

    // 120 pupils at £19 is £2,280: a new school pays the minimum, an old one its roll.
    let small = create("777103", "PRIMARY", 120, false).await;
    assert_eq!(quote(small.clone()).await, 228_000, "not known to be new");
    let updated = app
        .data_as(
            ADMIN,
            "mutation($input: SchoolUpdateInput!) { schoolUpdate(input: $input) { school { openedOn } userErrors { field code } } }",
            json!({ "input": { "id": small, "openedOn": "2026-09-01" } }),
        )
        .await;
    assert_eq!(
        updated["schoolUpdate"],
        json!({ "school": { "openedOn": "2026-09-01" }, "userErrors": [] }),
        "{updated}"
    );
    assert_eq!(quote(small).await, 600_000, "the new-school minimum");
}

/// Issue #22 as reported: after a January census is recorded, `feeQuote` on an October
/// schedule answered BAD_USER_INPUT "roll is from the January census". It now prices on the
/// school's October roll and says so in `roll`; a Kent-style January schedule reads January's.
async fn each_schedule_prices_on_its_own_census(db: TestDb) {
    let app = TestApp::spawn(db).await;
    let mut tiers = Vec::new();
    for (code, rules) in [
        ("OCTOBER", billing::fees::FeeRules::haringey_2026()),
        ("JANUARY", billing::fees::FeeRules::kent_provider()),
    ] {
        let rules = serde_json::to_value(rules.into_document()).expect("rules as JSON");
        tiers.push(tier_with_schedule(&app, code, rules).await);
    }
    let school = app
        .data_as(
            ADMIN,
            "mutation($input: SchoolCreateInput!) { schoolCreate(input: $input) { school { id } userErrors { field code } } }",
            json!({ "input": {
                "urn": "777201", "name": "Census Primary School", "phase": "PRIMARY",
                "establishmentType": "COMMUNITY", "localAuthority": "Haringey", "postcode": "N22 6HH",
                "roll": { "numberOnRoll": 300, "census": "OCTOBER", "censusDate": "2025-10-02" }
            } }),
        )
        .await["schoolCreate"]["school"]["id"]
        .clone();
    let quote = |tier: Value| {
        let (app, school) = (&app, school.clone());
        async move {
            let token = app.token(FINANCE).await;
            app.gql(
                Some(&token),
                r#"query($s: ID!, $t: ID!) { feeQuote(schoolId: $s, academicYear: "2026/27", tierId: $t) { annualFee { amountPence } roll { numberOnRoll census censusDate } } }"#,
                json!({ "s": school, "t": tier }),
            )
            .await
            .1
        }
    };
    let before = quote(tiers[0].clone()).await;
    assert_eq!(
        pence(&before["data"]["feeQuote"]["annualFee"]),
        570_000,
        "{before}"
    );
    let no_january = quote(tiers[1].clone()).await;
    assert_eq!(
        no_january["errors"][0]["extensions"]["code"], "BAD_USER_INPUT",
        "{no_january}"
    );

    let updated = app
        .data_as(
            ADMIN,
            "mutation($input: SchoolUpdateInput!) { schoolUpdate(input: $input) { school { roll { census } } userErrors { field code } } }",
            json!({ "input": { "id": school, "roll": { "numberOnRoll": 320, "census": "JANUARY", "censusDate": "2026-01-15" } } }),
        )
        .await;
    assert_eq!(
        updated["schoolUpdate"]["school"]["roll"]["census"], "JANUARY",
        "{updated}"
    );

    let october = quote(tiers[0].clone()).await;
    assert_eq!(
        october["data"]["feeQuote"],
        json!({
            "annualFee": { "amountPence": 570_000 },
            "roll": { "numberOnRoll": 300, "census": "OCTOBER", "censusDate": "2025-10-02" }
        }),
        "{october}"
    );
    let january = quote(tiers[1].clone()).await;
    assert_eq!(
        january["data"]["feeQuote"]["roll"],
        json!({ "numberOnRoll": 320, "census": "JANUARY", "censusDate": "2026-01-15" }),
        "{january}"
    );
}

const INVOICE_CREATE: &str = r"
mutation($input: InvoiceCreateInput!) {
  invoiceCreate(input: $input) {
    invoice { id number source purchaseOrderNumber net { amountPence } vat { amountPence } total { amountPence } }
    userErrors { field code message }
  }
}";

/// Issue #22: "a school that joins after the run can never be invoiced: no mutation makes a
/// manual invoice." Finance raises one with free lines; a retry with its key issues nothing
/// twice; bad lines come back as user errors on the line's field; a head cannot.
async fn finance_raises_a_manual_invoice_once(db: TestDb) {
    let app = TestApp::spawn_billing(db).await;
    let before = all_invoices(&app, FINANCE).await;
    let account = before[0]["account"]["id"].clone();
    let due = (chrono::Utc::now().date_naive() + chrono::Days::new(30)).to_string();
    let input = |pence: i64, quantity: i64| {
        json!({ "input": {
            "accountId": account, "dueOn": due, "poNumber": "PO-LATE-1",
            "idempotencyKey": "late-joiner-1",
            "lines": [
                { "description": "Membership (joined in January)", "unitAmountPence": pence, "cfrCode": "E19" },
                { "description": "Governor training", "quantity": quantity, "unitAmountPence": 4500,
                  "vatTreatment": "STANDARD", "vatRateBp": 2000 }
            ]
        } })
    };
    let made = app.data_as(FINANCE, INVOICE_CREATE, input(50_000, 2)).await;
    let made = &made["invoiceCreate"];
    assert_eq!(made["userErrors"], json!([]), "{made}");
    let invoice = &made["invoice"];
    assert_eq!(invoice["source"], "MANUAL");
    assert_eq!(invoice["purchaseOrderNumber"], "PO-LATE-1");
    assert_eq!(pence(&invoice["net"]), 59_000);
    assert_eq!(pence(&invoice["vat"]), 1_800);
    assert_eq!(pence(&invoice["total"]), 60_800);
    assert!(
        invoice["number"]
            .as_str()
            .is_some_and(|n| n.starts_with("TRL-")),
        "{invoice}"
    );

    let again = app.data_as(FINANCE, INVOICE_CREATE, input(50_000, 2)).await;
    assert_eq!(
        again["invoiceCreate"]["invoice"]["id"], invoice["id"],
        "{again}"
    );
    let reused = app.data_as(FINANCE, INVOICE_CREATE, input(60_000, 2)).await;
    assert_eq!(
        reused["invoiceCreate"]["userErrors"][0]["code"], "CONFLICT",
        "{reused}"
    );
    let mut bad = input(50_000, 0);
    bad["input"]["idempotencyKey"] = json!("another");
    let bad = app.data_as(FINANCE, INVOICE_CREATE, bad).await;
    assert_eq!(
        bad["invoiceCreate"]["userErrors"],
        json!([{ "field": ["input", "lines", "1", "quantity"], "code": "OUT_OF_RANGE",
                 "message": "must be between 1 and 1,000,000" }]),
        "{bad}"
    );
    assert_eq!(bad["invoiceCreate"]["invoice"], Value::Null);

    let token = app.token(HEAD).await;
    let mut head = input(50_000, 2);
    head["input"]["idempotencyKey"] = json!("head");
    let (_, body) = app.gql(Some(&token), INVOICE_CREATE, head).await;
    assert_eq!(first_code(&body), "FORBIDDEN", "{body}");
    assert_eq!(
        all_invoices(&app, FINANCE).await.len(),
        before.len() + 1,
        "one invoice, whatever was retried or refused"
    );
}

/// Finance reads who set and changed a fee schedule through `auditTrail`, with the schedule
/// either side; a head, who may read the price list, may not read who priced it.
async fn a_fee_schedules_audit_trail_is_finances(db: TestDb) {
    let app = TestApp::spawn(db).await;
    let tier = app
        .data_as(
            ADMIN,
            r#"mutation { membershipTierCreate(input: { code: "AUDITED", name: "Audited" }) { tier { id } } }"#,
            json!({}),
        )
        .await;
    let tier = tier["membershipTierCreate"]["tier"]["id"].clone();
    let created = app
        .data_as(
            FINANCE,
            "mutation($input: FeeScheduleCreateInput!) { feeScheduleCreate(input: $input) { feeSchedule { id } userErrors { field code } } }",
            json!({ "input": {
                "academicYear": "2026/27", "tierId": tier, "name": "Audited 2026/27",
                "rules": { "version": 1, "census": "OCTOBER", "perPupil": { "defaultPence": 1000 },
                           "proRata": "NONE", "vat": { "treatment": "EXEMPT" } },
                "frequency": "ANNUAL"
            } }),
        )
        .await;
    let id = created["feeScheduleCreate"]["feeSchedule"]["id"].clone();
    assert!(id.is_string(), "{created}");
    let updated = app
        .data_as(
            ADMIN,
            "mutation($id: ID!) { feeScheduleUpdate(input: { id: $id, frequency: TERMLY }) { userErrors { field code } } }",
            json!({ "id": id }),
        )
        .await;
    assert_eq!(updated["feeScheduleUpdate"]["userErrors"], json!([]));

    const TRAIL: &str = r"query($id: ID!) { auditTrail(id: $id) { action actorKind actor { email } before after } }";
    let data = app.data_as(FINANCE, TRAIL, json!({ "id": id })).await;
    let trail = data["auditTrail"].as_array().expect("trail");
    let steps: Vec<(&str, &str)> = trail
        .iter()
        .map(|e| {
            (
                e["action"].as_str().unwrap_or_default(),
                e["actor"]["email"].as_str().unwrap_or_default(),
            )
        })
        .collect();
    assert_eq!(
        steps,
        [
            ("fee_schedule.create", FINANCE),
            ("fee_schedule.update", ADMIN)
        ],
        "{data}"
    );
    assert!(trail[0]["before"].is_null(), "{data}");
    assert_eq!(trail[0]["after"]["frequency"], "ANNUAL");
    assert_eq!(trail[0]["after"]["rules"]["perPupil"]["defaultPence"], 1000);
    assert_eq!(trail[1]["before"], trail[0]["after"]);
    assert_eq!(trail[1]["after"]["frequency"], "TERMLY");
    assert_eq!(
        app.data_as(ADMIN, TRAIL, json!({ "id": id })).await,
        data,
        "admins read it too"
    );

    let head = app.token(HEAD).await;
    let (_, body) = app.gql(Some(&head), TRAIL, json!({ "id": id })).await;
    assert_eq!(first_code(&body), "FORBIDDEN", "{body}");
    assert!(body["data"].is_null(), "nothing of the trail: {body}");
}

const ACCOUNTS_OF: &str = r"
query($after: String) { billingAccounts(first: 100, after: $after) {
  pageInfo { hasNextPage endCursor }
  edges { node {
    id kind name schools { id name }
    invoices { id }
    schoolMoves { id status effectiveFrom school { name }
                  fromAccount { id } toAccount { id } }
} } } }";

/// Every billing account `who` may see, with its schools, invoices and moves.
async fn accounts_seen(app: &TestApp, who: &str) -> Vec<Value> {
    let mut all = Vec::new();
    let mut after = Value::Null;
    loop {
        let page = app
            .data_as(who, ACCOUNTS_OF, json!({ "after": after }))
            .await;
        all.extend(edges(&page, "billingAccounts"));
        let info = &page["billingAccounts"]["pageInfo"];
        if info["hasNextPage"] != true {
            return all;
        }
        after = info["endCursor"].clone();
    }
}

const MOVE: &str = r"
mutation($input: BillingAccountMoveSchoolInput!) {
  billingAccountMoveSchool(input: $input) {
    billingAccountMove { id status effectiveFrom fromAccount { id } toAccount { id } }
    userErrors { field code message }
  }
}";

const CANCEL_MOVE: &str = r"
mutation($id: ID!) {
  billingAccountMoveCancel(input: { id: $id }) {
    billingAccountMove { id status }
    userErrors { field code }
  }
}";

/// Holly Park joins the Elliot Foundation's account: finance schedules it, cancels it, then
/// moves it today. Its invoices stay on its own account; its head cannot move anything.
async fn finance_moves_a_school_into_a_trust_account(db: TestDb) {
    let app = TestApp::spawn_billing(db).await;
    let mine = accounts_seen(&app, HEAD).await;
    assert_eq!(mine.len(), 1);
    let own = mine[0].clone();
    let school = own["schools"][0]["id"].clone();
    let invoices_before = own["invoices"].as_array().expect("invoices").len();
    assert!(invoices_before > 0, "{own}");
    let trust = accounts_seen(&app, FINANCE)
        .await
        .into_iter()
        .find(|a| a["kind"] == "TRUST")
        .expect("the demo's trust account");
    let tomorrow = (chrono::Utc::now().date_naive() + chrono::Days::new(1)).to_string();
    let yesterday = (chrono::Utc::now().date_naive() - chrono::Days::new(1)).to_string();
    let input = |when: Option<&str>| json!({ "input": { "schoolId": school, "toAccountId": trust["id"], "effectiveFrom": when } });

    // The head may not move their school.
    let head = app.token(HEAD).await;
    let (_, body) = app.gql(Some(&head), MOVE, input(None)).await;
    assert_eq!(first_code(&body), "FORBIDDEN", "{body}");

    let pending = app.data_as(FINANCE, MOVE, input(Some(&tomorrow))).await;
    let pending = &pending["billingAccountMoveSchool"];
    assert_eq!(pending["userErrors"], json!([]), "{pending}");
    let pending = &pending["billingAccountMove"];
    assert_eq!(pending["status"], "PENDING");
    assert_eq!(pending["effectiveFrom"], json!(tomorrow));
    for (when, field, code) in [
        (Some(tomorrow.as_str()), "schoolId", "CONFLICT"),
        (Some(yesterday.as_str()), "effectiveFrom", "OUT_OF_RANGE"),
    ] {
        let refused = app.data_as(FINANCE, MOVE, input(when)).await;
        let refused = &refused["billingAccountMoveSchool"];
        assert_eq!(refused["billingAccountMove"], Value::Null, "{refused}");
        assert_eq!(
            refused["userErrors"][0]["field"],
            json!(["input", field]),
            "{refused}"
        );
        assert_eq!(refused["userErrors"][0]["code"], code, "{refused}");
    }
    // The head sees the pending move on their account, but not the trust's account.
    let seen = &accounts_seen(&app, HEAD).await[0]["schoolMoves"];
    assert_eq!(seen.as_array().map(Vec::len), Some(1), "{seen}");
    assert_eq!(seen[0]["fromAccount"]["id"], own["id"]);
    assert_eq!(seen[0]["toAccount"], Value::Null, "{seen}");
    // Only finance cancels.
    let (_, body) = app
        .gql(Some(&head), CANCEL_MOVE, json!({ "id": pending["id"] }))
        .await;
    assert_eq!(first_code(&body), "FORBIDDEN", "{body}");
    let cancelled = app
        .data_as(FINANCE, CANCEL_MOVE, json!({ "id": pending["id"] }))
        .await;
    assert_eq!(
        cancelled["billingAccountMoveCancel"]["billingAccountMove"]["status"], "CANCELLED",
        "{cancelled}"
    );

    let moved = app.data_as(FINANCE, MOVE, input(None)).await;
    let moved = &moved["billingAccountMoveSchool"];
    assert_eq!(moved["userErrors"], json!([]), "{moved}");
    assert_eq!(moved["billingAccountMove"]["status"], "APPLIED");
    assert_eq!(moved["billingAccountMove"]["toAccount"]["id"], trust["id"]);

    let after = accounts_seen(&app, FINANCE).await;
    let by_id = |id: &Value| {
        after
            .iter()
            .find(|a| &a["id"] == id)
            .expect("account")
            .clone()
    };
    let (own_now, trust_now) = (by_id(&own["id"]), by_id(&trust["id"]));
    assert_eq!(own_now["schools"], json!([]));
    assert!(
        trust_now["schools"]
            .as_array()
            .expect("schools")
            .iter()
            .any(|s| s["id"] == school)
    );
    // Issued invoices stay where they were.
    assert_eq!(
        own_now["invoices"].as_array().map(Vec::len),
        Some(invoices_before)
    );
    let statuses: Vec<&Value> = trust_now["schoolMoves"]
        .as_array()
        .expect("moves")
        .iter()
        .map(|m| &m["status"])
        .collect();
    assert_eq!(statuses.len(), 2, "{trust_now}");
    assert!(statuses.contains(&&json!("APPLIED")) && statuses.contains(&&json!("CANCELLED")));
    // The head now sees the trust's account, which pays for Holly Park.
    let seen = accounts_seen(&app, HEAD).await;
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0]["id"], trust["id"]);
}

const SUPPLEMENT_PREVIEW: &str = r"
query($year: AcademicYear!) { invoicingSupplementPreview(academicYear: $year) {
  invoices { account { id } school { name } instalment dueOn description net { amountPence } vatRateBp }
  notes
} }";

const SUPPLEMENT_RUN: &str = r"
mutation($year: AcademicYear!) { invoicingSupplementRun(input: { academicYear: $year }) {
  supplement { academicYear invoicesCreated invoicesExisting instalmentsScheduled
               total { amountPence } notes }
  userErrors { field code message }
} }";

/// A school joins after the demo's 2026/27 run: finance previews the supplementary run,
/// issues it once, and a second call issues nothing. Heads may not.
async fn a_late_joiner_is_invoiced_by_the_supplementary_run_once(db: TestDb) {
    use kernel::{Actor, SystemClock};
    use membership::memberships::{self, Enrolment, Principle};
    use membership::school::types::{EstablishmentType, Phase, RollCensus};
    use membership::school::{self, NewSchool, RollInput};

    let app = TestApp::spawn_billing(db).await;
    let year = json!({ "year": "2026/27" });
    let head = app.token(HEAD).await;
    let (_, body) = app.gql(Some(&head), SUPPLEMENT_PREVIEW, year.clone()).await;
    assert_eq!(first_code(&body), "FORBIDDEN", "{body}");
    let (_, body) = app.gql(Some(&head), SUPPLEMENT_RUN, year.clone()).await;
    assert_eq!(first_code(&body), "FORBIDDEN", "{body}");
    let not_run = app
        .data_as(FINANCE, SUPPLEMENT_RUN, json!({ "year": "2027/28" }))
        .await;
    assert_eq!(
        not_run["invoicingSupplementRun"]["userErrors"][0]["field"],
        json!(["input", "academicYear"]),
        "{not_run}"
    );
    assert_eq!(
        not_run["invoicingSupplementRun"]["userErrors"][0]["code"],
        "CONFLICT"
    );
    let before = app.data_as(FINANCE, SUPPLEMENT_PREVIEW, year.clone()).await;
    let drafted_before = before["invoicingSupplementPreview"]["invoices"]
        .as_array()
        .expect("drafts")
        .len();

    // Rowan joins now: a school, its membership and its own account, set up as the
    // directory and membership screens would.
    let conn = app.db.conn();
    let clock = SystemClock;
    let today = chrono::Utc::now().date_naive();
    let rowan = school::create(
        conn,
        &clock,
        &Actor::System,
        NewSchool {
            urn: "999201".into(),
            name: "Rowan Primary School".into(),
            phase: Phase::Primary,
            establishment_type: EstablishmentType::Academy,
            local_authority: "Barnet".into(),
            postcode: "N12 8PE".into(),
            roll: Some(RollInput {
                number_on_roll: 240,
                census: RollCensus::October,
                census_date: chrono::NaiveDate::from_ymd_opt(2025, 10, 2).expect("date"),
            }),
            designations: vec![],
            has_sixth_form: false,
            opened_on: None,
            is_demo: false,
        },
    )
    .await
    .expect("school");
    let tier = memberships::tier_by_code(conn, "FULL")
        .await
        .expect("tier")
        .expect("the demo's FULL tier");
    let joined = memberships::enrol(
        conn,
        &Actor::System,
        &clock,
        Enrolment {
            school_id: rowan.id,
            year: kernel::AcademicYear::starting(2026).expect("year"),
            tier_id: tier.id,
            starts_on: Some(today),
        },
    )
    .await
    .expect("enrol");
    memberships::accept_principles(conn, &Actor::System, &clock, joined.id, Principle::ALL)
        .await
        .expect("principles");
    memberships::activate(conn, &Actor::System, &clock, joined.id)
        .await
        .expect("activate");
    let account = app
        .data_as(
            FINANCE,
            r"mutation($input: BillingAccountCreateInput!) { billingAccountCreate(input: $input) {
                billingAccount { id } userErrors { field code } } }",
            json!({ "input": {
                "kind": "SCHOOL", "name": "Rowan Primary School", "contactName": "Sam Bursar",
                "contactEmail": "bursar@rowan.example",
                "address": { "lines": ["1 Rowan Way", "London"], "postcode": "N12 8PE" },
                "defaultPaymentMethod": "BANK_TRANSFER",
                "schoolIds": [kernel::global_id::encode("School", rowan.id.as_uuid())]
            } }),
        )
        .await;
    let account_id = account["billingAccountCreate"]["billingAccount"]["id"].clone();
    assert!(account_id.is_string(), "{account}");

    let draft = app.data_as(FINANCE, SUPPLEMENT_PREVIEW, year.clone()).await;
    let drafts = draft["invoicingSupplementPreview"]["invoices"]
        .as_array()
        .expect("drafts")
        .clone();
    let rowan_drafts: Vec<&Value> = drafts
        .iter()
        .filter(|d| d["school"]["name"] == "Rowan Primary School")
        .collect();
    assert!(!rowan_drafts.is_empty(), "{draft}");
    assert_eq!(drafts.len(), drafted_before + rowan_drafts.len());
    assert!(
        rowan_drafts
            .iter()
            .all(|d| d["account"]["id"] == account_id)
    );
    let drafted_net: i64 = rowan_drafts.iter().map(|d| pence(&d["net"])).sum();
    assert!(drafted_net > 0);
    let invoices_before = all_invoices(&app, FINANCE).await.len();

    let done = app.data_as(FINANCE, SUPPLEMENT_RUN, year.clone()).await;
    let done = &done["invoicingSupplementRun"];
    assert_eq!(done["userErrors"], json!([]), "{done}");
    // What is due now is issued; later terms' instalments wait for their day.
    let created = done["supplement"]["invoicesCreated"]
        .as_u64()
        .expect("count");
    let waiting = done["supplement"]["instalmentsScheduled"]
        .as_u64()
        .expect("count");
    assert_eq!(
        usize::try_from(created + waiting).expect("small"),
        drafts.len(),
        "{done}"
    );
    let after = all_invoices(&app, FINANCE).await;
    assert_eq!(
        after.len(),
        invoices_before + usize::try_from(created).expect("small")
    );
    let rowan_invoices: Vec<&Value> = after
        .iter()
        .filter(|i| i["account"]["id"] == account_id)
        .collect();
    assert!(rowan_invoices.iter().all(|i| i["instalment"] == "NONE"));
    let invoiced_net: i64 = rowan_invoices
        .iter()
        .flat_map(|i| i["lines"].as_array().expect("lines").iter())
        .map(|l| pence(&l["net"]))
        .sum();
    let runs = app
        .data_as(
            FINANCE,
            "{ invoicingRuns { academicYear scheduledInstalments {
                account { id } instalment issueOn status net { amountPence } } } }",
            json!({}),
        )
        .await;
    let scheduled = runs["invoicingRuns"][0]["scheduledInstalments"]
        .as_array()
        .expect("scheduled")
        .clone();
    let today = chrono::Utc::now().date_naive().to_string();
    assert!(
        scheduled.iter().all(|r| r["status"] == "PENDING"
            && r["issueOn"].as_str().is_some_and(|d| d > today.as_str())),
        "{scheduled:?}"
    );
    let scheduled_net: i64 = scheduled
        .iter()
        .filter(|r| r["account"]["id"] == account_id)
        .map(|r| pence(&r["net"]))
        .sum();
    assert_eq!(
        invoiced_net + scheduled_net,
        drafted_net,
        "the drafts are what was issued and scheduled"
    );

    let again = app.data_as(FINANCE, SUPPLEMENT_RUN, year).await;
    assert_eq!(
        again["invoicingSupplementRun"]["supplement"]["invoicesCreated"], 0,
        "{again}"
    );
    assert_eq!(all_invoices(&app, FINANCE).await.len(), after.len());
}

testkit::db_tests!(
    finance_raises_a_manual_invoice_once,
    a_late_joiner_is_invoiced_by_the_supplementary_run_once,
    finance_moves_a_school_into_a_trust_account,
    a_fee_schedules_audit_trail_is_finances,
    each_schedule_prices_on_its_own_census,
    every_fee_selector_is_reachable_through_the_api,
    haringey_caps_a_sixth_form_higher_and_floors_a_new_school,
    schools_see_only_their_own_billing,
    a_head_adds_a_po_number_to_their_own_open_invoice_only,
    finance_records_and_allocates_money_exactly_once,
    the_year_is_invoiced_once_and_exported,
    an_invoice_list_costs_the_same_however_long,
    an_invoice_page_reads_its_accounts_with_the_page,
    an_invoice_page_reads_its_lines_schools_with_the_lines,
);

/// A CSV export's header and rows.
fn read_csv(text: &str) -> (Vec<String>, Vec<csv::StringRecord>) {
    let mut reader = csv::Reader::from_reader(text.as_bytes());
    let header = reader
        .headers()
        .expect("header")
        .iter()
        .map(str::to_owned)
        .collect();
    let rows = reader.records().collect::<Result<_, _>>().expect("rows");
    (header, rows)
}

/// Pounds text (`-12.34`) as pence.
fn pence_of(text: &str) -> i64 {
    let (sign, digits) = text.strip_prefix('-').map_or((1, text), |rest| (-1, rest));
    let (whole, frac) = digits.split_once('.').expect("two decimals");
    sign * (whole.parse::<i64>().expect("pounds") * 100 + frac.parse::<i64>().expect("pence"))
}
