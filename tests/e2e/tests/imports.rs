//! GIAS and census imports as GraphQL multipart uploads over the real server, on SQLite and
//! PostgreSQL: the grant, the refusals, line errors and the size limit.

mod common;

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

testkit::db_tests!(
    admin_dry_runs_then_applies_a_gias_upload,
    uploads_are_refused_to_everyone_but_admins,
    bad_files_get_line_errors_and_big_ones_413,
    census_upload_moves_the_roll_and_the_fee_quote,
);
