//! GraphQL numbers and mutation inputs over HTTP, on SQLite and PostgreSQL (issue 19):
//! `Int` is 32-bit; a mutation input that cannot be coerced (a number past `Int`, a malformed
//! `Date` or `AcademicYear`) comes back in the payload's `userErrors` with its field and
//! nothing written — literal or variable, under aliases and fragments — and stays a
//! top-level `BAD_USER_INPUT` only where the payload could not carry it.

use crate::common;

use common::{ADMIN, FINANCE, TestApp, first_code};
use reqwest::StatusCode;
use serde_json::{Value, json};
use testkit::TestDb;

const CREATE: &str = r"
mutation($input: SchoolCreateInput!) {
  made: schoolCreate(input: $input) {
    __typename
    ...Made
    problems: userErrors { path: field code }
  }
}
fragment Made on SchoolPayload { school { id } userErrors { message } }";

const NEW_URN: &str = "987654";

fn school(roll: &Value) -> Value {
    json!({ "input": {
        "urn": NEW_URN, "name": "Coercion Primary", "phase": "PRIMARY",
        "establishmentType": "ACADEMY", "localAuthority": "Barnet",
        "postcode": "N3 1AA", "roll": roll } })
}

async fn school_exists(app: &TestApp) -> bool {
    let data = app
        .data_as(
            ADMIN,
            r"query($urn: String!) { school(urn: $urn) { id } }",
            json!({ "urn": NEW_URN }),
        )
        .await;
    !data["school"].is_null()
}

async fn uncoercible_mutation_input_is_a_user_error(db: TestDb) {
    let app = TestApp::spawn(db).await;

    // A number past GraphQL's Int, in a variable, two objects down.
    let data = app
        .data_as(
            ADMIN,
            CREATE,
            school(
                &json!({ "numberOnRoll": 3_000_000_000_i64, "census": "OCTOBER",
                "censusDate": "2026-10-01" }),
            ),
        )
        .await;
    assert_eq!(
        data["made"],
        json!({
            "__typename": "SchoolPayload",
            "school": null,
            "userErrors": [{ "message":
                "must be a whole number from -2147483648 to 2147483647 (GraphQL's Int)" }],
            "problems": [{ "path": ["input", "roll", "numberOnRoll"], "code": "OUT_OF_RANGE" }],
        }),
        "{data}"
    );

    // A malformed date written as a literal in the document.
    let data = app
        .data_as(
            ADMIN,
            &format!(
                r#"mutation {{ schoolCreate(input: {{ urn: "{NEW_URN}", name: "Coercion Primary",
                phase: PRIMARY, establishmentType: ACADEMY, localAuthority: "Barnet",
                postcode: "N3 1AA", roll: {{ numberOnRoll: 200, census: OCTOBER,
                censusDate: "26-10-01" }} }}) {{ school {{ id }} userErrors {{ field code }} }} }}"#
            ),
            json!({}),
        )
        .await;
    assert_eq!(
        data["schoolCreate"]["userErrors"],
        json!([{ "field": ["input", "roll", "censusDate"], "code": "INVALID" }]),
        "{data}"
    );
    assert!(!school_exists(&app).await, "nothing was written");

    // The same input, well formed, is accepted: the errors above were the input's alone.
    let data = app
        .data_as(
            ADMIN,
            CREATE,
            school(&json!({ "numberOnRoll": 200, "census": "OCTOBER",
                "censusDate": "2026-10-01" })),
        )
        .await;
    assert_eq!(data["made"]["problems"], json!([]), "{data}");
    assert!(school_exists(&app).await);
}

async fn where_the_payload_cannot_carry_it_the_error_stays_top_level(db: TestDb) {
    let app = TestApp::spawn(db).await;
    let token = app.token(FINANCE).await;
    let issue = |selection: &str| {
        format!(
            r#"mutation {{ termInvoicesIssue(input: {{ academicYear: "2026/28", term: AUTUMN }})
            {{ {selection} }} }}"#
        )
    };

    // `chargesInvoiced` cannot be null, so the payload cannot stand in for the error.
    let (status, body) = app
        .gql(
            Some(&token),
            &issue("chargesInvoiced userErrors { field }"),
            json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(first_code(&body), "BAD_USER_INPUT", "{body}");
    assert!(body["data"].is_null(), "{body}");

    // Without it, the same input is a user error of the payload.
    let data = app
        .data_as(
            FINANCE,
            &issue("total { amount } userErrors { field code }"),
            json!({}),
        )
        .await;
    assert_eq!(
        data["termInvoicesIssue"],
        json!({ "total": null,
            "userErrors": [{ "field": ["input", "academicYear"], "code": "INVALID" }] }),
        "{data}"
    );
}

async fn query_arguments_are_32_bit_and_refused_top_level(db: TestDb) {
    let app = TestApp::spawn(db).await;
    let token = app.token(FINANCE).await;
    for first in [
        json!(3_000_000_000_i64),
        json!(-1),
        json!(18_446_744_073_709_551_615_u64),
    ] {
        let (status, body) = app
            .gql(
                Some(&token),
                r"query($first: Int!) { stripeEvents(first: $first) { id } }",
                json!({ "first": first }),
            )
            .await;
        assert_eq!(
            first_code(&body),
            "BAD_USER_INPUT",
            "{first}: {status} {body}"
        );
    }
    let data = app
        .data_as(
            FINANCE,
            r"query($first: Int!) { stripeEvents(first: $first) { id } }",
            json!({ "first": 2_147_483_647 }),
        )
        .await;
    assert!(data["stripeEvents"].is_array(), "{data}");
}

testkit::db_tests!(
    uncoercible_mutation_input_is_a_user_error,
    where_the_payload_cannot_carry_it_the_error_stays_top_level,
    query_arguments_are_32_bit_and_refused_top_level
);
