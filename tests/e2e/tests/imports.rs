//! GIAS, census and bank statement imports as GraphQL multipart uploads over the real server,
//! on SQLite and PostgreSQL: the grant, the refusals, line errors and the size limit.

use crate::common;

use common::{ADMIN, FINANCE, HEAD, STAFF, TestApp, config};
use reqwest::StatusCode;
use serde_json::{Value, json};
use testkit::TestDb;

const SAMPLE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../fixtures/gias/gias_sample.csv"
);

const GIAS: &str = r"
mutation($input: SchoolsImportGiasInput!) {
  schoolsImportGias(input: $input) {
    report {
      dryRun created updated closed skippedNotSchools skippedClosed trustsCreated
      changes { urn name kind fields { field before after } }
    }
    userErrors { field code message }
  }
}";

const CENSUS: &str = r"
mutation($input: SchoolRollsImportInput!) {
  schoolRollsImport(input: $input) {
    report { dryRun updated unchanged historyOnly changes { urn before { numberOnRoll } after { numberOnRoll census } } }
    userErrors { field code message }
  }
}";

const SCHOOL: &str = r"
query($urn: String!) {
  school(urn: $urn) { name status roll { numberOnRoll census } rollHistory { numberOnRoll census censusDate source } }
}";

/// A GraphQL multipart request (the spec's `operations`, `map`, then the file), written out
/// byte for byte as a browser would send it.
fn multipart(query: &str, variables: &Value, file: &[u8]) -> (String, Vec<u8>) {
    let boundary = "----trellis-test-boundary-7MA4YWxkTrZu0gW";
    let operations = json!({ "query": query, "variables": variables });
    let map = json!({ "0": ["variables.input.file"] });
    let mut body = Vec::new();
    for (name, value) in [("operations", operations), ("map", map)] {
        body.extend_from_slice(
            format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n"
            )
            .as_bytes(),
        );
    }
    body.extend_from_slice(
        format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"0\"; filename=\"upload.csv\"\r\nContent-Type: text/csv\r\n\r\n"
        )
        .as_bytes(),
    );
    body.extend_from_slice(file);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

async fn upload(
    app: &TestApp,
    email: Option<&str>,
    query: &str,
    variables: Value,
    file: &[u8],
) -> (StatusCode, Value) {
    let (content_type, body) = multipart(query, &variables, file);
    let mut req = app
        .client
        .post(format!("{}/graphql", app.base))
        .header("accept", "application/graphql-response+json")
        .header("content-type", content_type)
        .body(body);
    if let Some(email) = email {
        req = req.bearer_auth(app.token(email).await);
    }
    let res = req.send().await.expect("request");
    let status = res.status();
    (status, res.json().await.expect("JSON body"))
}

fn fixture() -> Vec<u8> {
    std::fs::read(SAMPLE).expect("fixture")
}

async fn school(app: &TestApp, urn: &str) -> Value {
    app.data_as(ADMIN, SCHOOL, json!({ "urn": urn })).await["school"].clone()
}

async fn admin_dry_runs_then_applies_a_gias_upload(db: TestDb) {
    let app = TestApp::spawn(db).await;
    let input = |dry_run: bool| json!({ "input": { "file": null, "localAuthorities": ["Barnet"], "dryRun": dry_run } });
    let (status, body) = upload(&app, Some(ADMIN), GIAS, input(true), &fixture()).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let payload = &body["data"]["schoolsImportGias"];
    assert_eq!(payload["userErrors"], json!([]), "{body}");
    let report = &payload["report"];
    assert_eq!(report["dryRun"], true);
    assert_eq!(report["created"], 47);
    assert_eq!(report["skippedNotSchools"], 15);
    assert_eq!(report["skippedClosed"], 15);
    assert_eq!(
        report["trustsCreated"],
        json!(["Saint Thérèse’s Catholic Academy Trust"])
    );
    let ecole = report["changes"]
        .as_array()
        .expect("changes")
        .iter()
        .find(|c| c["urn"] == "960901")
        .expect("listed");
    assert_eq!(ecole["name"], "École Saint-Thérèse’s Primary");
    assert_eq!(ecole["kind"], "CREATED");
    assert_eq!(
        school(&app, "960901").await,
        Value::Null,
        "dry run wrote nothing"
    );

    let (status, body) = upload(&app, Some(ADMIN), GIAS, input(false), &fixture()).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        body["data"]["schoolsImportGias"]["report"]["created"], 47,
        "{body}"
    );
    let ecole = school(&app, "960901").await;
    assert_eq!(ecole["name"], "École Saint-Thérèse’s Primary");
    assert_eq!(ecole["status"], "OPEN");
    assert_eq!(
        ecole["rollHistory"],
        json!([{ "numberOnRoll": 412, "census": "JANUARY", "censusDate": "2025-01-16", "source": "GIAS" }])
    );
}

async fn uploads_are_refused_to_everyone_but_admins(db: TestDb) {
    let app = TestApp::spawn(db).await;
    let input = json!({ "input": { "file": null, "dryRun": false } });
    for who in [FINANCE, HEAD, STAFF] {
        let (status, body) = upload(&app, Some(who), GIAS, input.clone(), &fixture()).await;
        assert_eq!(status, StatusCode::OK, "{who}: {body}");
        assert_eq!(body["data"], Value::Null, "{who}: {body}");
        assert_eq!(
            body["errors"][0]["extensions"]["code"], "FORBIDDEN",
            "{who}: {body}"
        );
        let census =
            json!({ "input": { "file": null, "census": "OCTOBER", "censusDate": "2025-10-02" } });
        let (_, body) = upload(&app, Some(who), CENSUS, census, b"URN,pupils\n900033,1\n").await;
        assert_eq!(
            body["errors"][0]["extensions"]["code"], "FORBIDDEN",
            "{who}: {body}"
        );
    }
    let (status, body) = upload(&app, None, GIAS, input.clone(), &fixture()).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    assert_eq!(body["errors"][0]["extensions"]["code"], "UNAUTHENTICATED");
    assert_eq!(
        school(&app, "960901").await,
        Value::Null,
        "nothing was written"
    );
    assert_eq!(
        school(&app, "900033").await["roll"]["numberOnRoll"],
        640,
        "the census was not applied"
    );
    // The same upload as an admin goes in.
    let (_, body) = upload(&app, Some(ADMIN), GIAS, input, &fixture()).await;
    assert!(
        body["data"]["schoolsImportGias"]["report"]["created"]
            .as_i64()
            .is_some_and(|n| n > 100),
        "{body}"
    );
}

async fn bad_files_get_line_errors_and_big_ones_413(db: TestDb) {
    let limits = gateway::Config {
        upload_limit_bytes: 64 * 1024,
        ..config(&db)
    };
    let app = TestApp::spawn_with(db, limits).await;
    let text = String::from_utf8_lossy(&fixture()).into_owned();
    let header = text.lines().next().expect("header");
    let bad = format!("{header}\r\n{}", "960999,302,Barnet\r\n");
    let input = json!({ "input": { "file": null } });
    let (status, body) = upload(&app, Some(ADMIN), GIAS, input.clone(), bad.as_bytes()).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let errors = &body["data"]["schoolsImportGias"]["userErrors"];
    assert_eq!(errors[0]["field"], json!(["input", "file", "2"]), "{body}");
    assert_eq!(errors[0]["code"], "INVALID");
    assert!(
        errors[0]["message"]
            .as_str()
            .is_some_and(|m| m.starts_with("line 2: has 3 fields")),
        "{body}"
    );
    assert_eq!(body["data"]["schoolsImportGias"]["report"], Value::Null);

    // Over the upload limit: refused before anything runs.
    let big = vec![b'x'; 70 * 1024];
    let (status, body) = upload(&app, Some(ADMIN), GIAS, input.clone(), &big).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{body}");
    assert_eq!(body["errors"][0]["extensions"]["code"], "REQUEST_TOO_LARGE");
    assert!(
        body["errors"][0]["message"]
            .as_str()
            .is_some_and(|m| m.contains("TRELLIS_UPLOAD_LIMIT_BYTES")),
        "{body}"
    );
    // A JSON request still has the (smaller) body limit.
    let padding = "x".repeat(2 * 1024 * 1024);
    let (status, body) = app
        .gql(
            Some(&app.token(ADMIN).await),
            &format!("{{ viewer {{ scopes }} }} # {padding}"),
            json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{body}");
    // The file left out of the map: the variable cannot be coerced, nothing runs.
    let (content_type, body) = multipart(GIAS, &input, b"");
    let body = String::from_utf8(body)
        .expect("ascii")
        .replace(r#"{"0":["variables.input.file"]}"#, "{}");
    let res = app
        .client
        .post(format!("{}/graphql", app.base))
        .bearer_auth(app.token(ADMIN).await)
        .header("accept", "application/graphql-response+json")
        .header("content-type", content_type)
        .body(body)
        .send()
        .await
        .expect("request");
    let status = res.status();
    let body: Value = res.json().await.expect("json");
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["errors"][0]["extensions"]["code"], "BAD_USER_INPUT");
    // Not a multipart body at all.
    let res = app
        .client
        .post(format!("{}/graphql", app.base))
        .bearer_auth(app.token(ADMIN).await)
        .header("accept", "application/graphql-response+json")
        .header("content-type", "multipart/form-data; boundary=nothing-here")
        .body("garbage")
        .send()
        .await
        .expect("request");
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    let body: Value = res.json().await.expect("json");
    assert_eq!(body["errors"][0]["extensions"]["code"], "BAD_REQUEST");
}

async fn census_upload_moves_the_roll_and_the_fee_quote(db: TestDb) {
    let app = TestApp::spawn_billing(db).await;
    const FEE: &str =
        r"{ viewer { schools { urn memberships { fee { working { label detail } } } } } }";
    let working = |data: &Value| {
        data["viewer"]["schools"][0]["memberships"][0]["fee"]["working"]
            .as_array()
            .expect("working")
            .iter()
            .map(|s| format!("{} {}", s["label"], s["detail"]))
            .collect::<Vec<_>>()
            .join("\n")
    };
    let before = app.data_as(HEAD, FEE, json!({})).await;
    assert!(
        working(&before).contains("640 pupils"),
        "{}",
        working(&before)
    );
    // The October 2025 return corrected: Holly Park had 652 on roll.
    let input = json!({ "input": { "file": null, "census": "OCTOBER", "censusDate": "2025-10-02", "dryRun": false } });
    let (status, body) = upload(
        &app,
        Some(ADMIN),
        CENSUS,
        input,
        b"URN,pupils\r\n900033,652\r\n",
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let report = &body["data"]["schoolsImportGias"];
    assert_eq!(report, &Value::Null);
    let report = &body["data"]["schoolRollsImport"]["report"];
    assert_eq!(report["updated"], 1, "{body}");
    assert_eq!(
        report["changes"],
        json!([{ "urn": "900033", "before": { "numberOnRoll": 640 }, "after": { "numberOnRoll": 652, "census": "OCTOBER" } }])
    );
    let after = app.data_as(HEAD, FEE, json!({})).await;
    assert!(
        working(&after).contains("652 pupils"),
        "{}",
        working(&after)
    );
    let holly = school(&app, "900033").await;
    assert_eq!(holly["roll"]["numberOnRoll"], 652);
    assert_eq!(
        holly["rollHistory"],
        json!([{ "numberOnRoll": 652, "census": "OCTOBER", "censusDate": "2025-10-02", "source": "CENSUS_IMPORT" }]),
        "one roll per census day"
    );
}

const BANK: &str = r"
mutation($input: BankStatementImportInput!) {
  bankStatementImport(input: $input) {
    report { proposed unmatched statement { id fileName linesNew linesKnown linesOut } }
    userErrors { field code message }
  }
}";

const BANK_LINES: &str = r"
query($filter: BankStatementLineFilter) {
  bankStatementLines(filter: $filter, first: 50) {
    nodes {
      id status matchReason description amount { amount }
      proposedInvoice { id number } payment { id method allocated { amount } }
    }
  }
}";

const CONFIRM: &str = r"
mutation($input: BankStatementLineConfirmInput!) {
  bankStatementLineConfirm(input: $input) {
    line { status }
    payment { id method amount { amount } }
    allocations { amount { amount } invoice { number status } }
    userErrors { field code message }
  }
}";

/// An open demo invoice: its number and what it still owes (pounds, as the API writes it).
async fn open_invoice(app: &TestApp) -> (String, String) {
    let data = app
        .data_as(
            FINANCE,
            "{ invoices(first: 50, filter: { statuses: [OPEN] }) { nodes { number outstanding { amount } } } }",
            json!({}),
        )
        .await;
    let invoice = &data["invoices"]["nodes"][0];
    (
        invoice["number"].as_str().expect("number").to_owned(),
        invoice["outstanding"]["amount"]
            .as_str()
            .expect("amount")
            .to_owned(),
    )
}

/// Finance uploads Lloyds' export: the line quoting an invoice number is proposed to pay it,
/// confirming it pays it once, the same statement again brings nothing in.
async fn finance_uploads_a_bank_statement_and_confirms_what_it_pays(db: TestDb) {
    let app = TestApp::spawn_billing(db).await;
    let (number, owed) = open_invoice(&app).await;
    let day = (chrono::Utc::now().date_naive() - chrono::Days::new(1))
        .format("%d/%m/%Y")
        .to_string();
    let statement = format!(
        "Transaction Date,Transaction Type,Sort Code,Account Number,Transaction Description,Debit Amount,Credit Amount,Balance\r\n\
         {day},BGC,'30-94-57,12345678,SCHOOL FEES {},,{owed},9000.00\r\n\
         {day},BGC,'30-94-57,12345678,HSBC INTEREST,,0.42,9000.42\r\n\
         {day},DD,'30-94-57,12345678,BT GROUP PLC,45.10,,8955.32\r\n",
        number.replace('-', " ")
    );
    let input = json!({ "input": { "file": null } });
    let (status, body) = upload(
        &app,
        Some(FINANCE),
        BANK,
        input.clone(),
        statement.as_bytes(),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let payload = &body["data"]["bankStatementImport"];
    assert_eq!(payload["userErrors"], json!([]), "{body}");
    assert_eq!(payload["report"]["proposed"], 1, "{body}");
    assert_eq!(payload["report"]["unmatched"], 1, "{body}");
    let stored = &payload["report"]["statement"];
    assert_eq!(stored["fileName"], "upload.csv");
    assert_eq!(
        (stored["linesNew"].as_i64(), stored["linesOut"].as_i64()),
        (Some(2), Some(1))
    );

    let lines = app
        .data_as(
            FINANCE,
            BANK_LINES,
            json!({ "filter": { "status": "PROPOSED" } }),
        )
        .await;
    let line = &lines["bankStatementLines"]["nodes"][0];
    assert_eq!(line["matchReason"], "INVOICE_NUMBER", "{lines}");
    assert_eq!(line["proposedInvoice"]["number"], number.as_str());
    assert_eq!(
        line["payment"],
        Value::Null,
        "not a receipt before it is confirmed"
    );

    let confirm = json!({ "input": { "lineId": line["id"] } });
    let done = app.data_as(FINANCE, CONFIRM, confirm.clone()).await;
    let done = &done["bankStatementLineConfirm"];
    assert_eq!(done["userErrors"], json!([]), "{done}");
    assert_eq!(done["line"]["status"], "CONFIRMED");
    assert_eq!(done["payment"]["method"], "BANK_TRANSFER");
    assert_eq!(
        done["allocations"][0]["invoice"]["status"], "PAID",
        "{done}"
    );
    let again = app.data_as(FINANCE, CONFIRM, confirm).await;
    assert_eq!(
        again["bankStatementLineConfirm"]["payment"]["id"], done["payment"]["id"],
        "confirmed once"
    );

    // The same statement again: nothing new.
    let (_, body) = upload(&app, Some(FINANCE), BANK, input, statement.as_bytes()).await;
    let stored = &body["data"]["bankStatementImport"]["report"]["statement"];
    assert_eq!(
        (stored["linesNew"].as_i64(), stored["linesKnown"].as_i64()),
        (Some(0), Some(2)),
        "{body}"
    );
}

/// Heads and staff cannot upload or read statements; a bad file is refused by line and
/// column with nothing stored.
async fn bank_statements_are_finances_and_bad_ones_are_refused_by_line(db: TestDb) {
    let app = TestApp::spawn_billing(db).await;
    let input = json!({ "input": { "file": null } });
    let good = b"Date,Description,Amount\n01/12/2026,HOLLY PARK,10.00\n";
    for who in [HEAD, STAFF] {
        let (_, body) = upload(&app, Some(who), BANK, input.clone(), good).await;
        assert_eq!(
            body["errors"][0]["extensions"]["code"], "FORBIDDEN",
            "{who}: {body}"
        );
        let token = app.token(who).await;
        let (_, body) = app.gql(Some(&token), BANK_LINES, json!({})).await;
        assert_eq!(
            body["errors"][0]["extensions"]["code"], "FORBIDDEN",
            "{who}: {body}"
        );
    }
    let (status, _) = upload(&app, None, BANK, input.clone(), good).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    let bad = b"Date,Description,Amount\n31/02/2026,A,1.00\n01/12/2026,B,lots\n";
    let (_, body) = upload(&app, Some(FINANCE), BANK, input, bad).await;
    let payload = &body["data"]["bankStatementImport"];
    assert_eq!(payload["report"], Value::Null, "{body}");
    assert_eq!(
        payload["userErrors"][0]["field"],
        json!(["input", "file", "2", "Date"]),
        "{body}"
    );
    assert_eq!(
        payload["userErrors"][1]["field"],
        json!(["input", "file", "3", "Amount"])
    );
    let lines = app.data_as(FINANCE, BANK_LINES, json!({})).await;
    assert_eq!(
        lines["bankStatementLines"]["nodes"],
        json!([]),
        "nothing stored"
    );
}

testkit::db_tests!(
    admin_dry_runs_then_applies_a_gias_upload,
    uploads_are_refused_to_everyone_but_admins,
    bad_files_get_line_errors_and_big_ones_413,
    census_upload_moves_the_roll_and_the_fee_quote,
    finance_uploads_a_bank_statement_and_confirms_what_it_pays,
    bank_statements_are_finances_and_bad_ones_are_refused_by_line,
);
