//! Reading and changing the directory over HTTP, on SQLite and PostgreSQL.

use crate::common;

use common::{ADMIN, HEAD, STAFF, TestApp, first_code};
use reqwest::StatusCode;
use serde_json::{Value, json};
use testkit::TestDb;

const SCHOOLS_PAGE: &str = r"
query($first: Int, $after: String, $filter: SchoolFilterInput) {
  schools(first: $first, after: $after, filter: $filter) {
    totalCount
    pageInfo { hasNextPage endCursor }
    edges { cursor node { id urn name phase isDemo } }
  }
}";

async fn pages_through_the_whole_directory(db: TestDb) {
    let app = TestApp::spawn(db).await;
    let mut after: Option<String> = None;
    let mut names = Vec::new();
    let total = loop {
        let data = app
            .data_as(HEAD, SCHOOLS_PAGE, json!({ "first": 37, "after": after }))
            .await;
        let conn = &data["schools"];
        for edge in conn["edges"].as_array().expect("edges") {
            names.push(edge["node"]["name"].as_str().expect("name").to_owned());
            assert_eq!(edge["node"]["isDemo"], true);
        }
        if conn["pageInfo"]["hasNextPage"] == false {
            break conn["totalCount"].as_u64().expect("count");
        }
        after = conn["pageInfo"]["endCursor"].as_str().map(str::to_owned);
    };
    assert_eq!(names.len() as u64, total, "every school seen exactly once");
    let mut sorted = names.clone();
    sorted.sort();
    assert_eq!(names, sorted, "ordered by name");
    assert!(
        total > 100,
        "the Barnet letter names over a hundred schools, got {total}"
    );
}

async fn filters_and_looks_up_by_urn(db: TestDb) {
    let app = TestApp::spawn(db).await;
    let data = app
        .data_as(
            STAFF,
            SCHOOLS_PAGE,
            json!({ "first": 100, "filter": { "phases": ["INFANT"], "nameContains": "grasv" } }),
        )
        .await;
    let edges = data["schools"]["edges"].as_array().expect("edges");
    assert_eq!(edges.len(), 1);
    let urn = edges[0]["node"]["urn"].as_str().expect("urn").to_owned();

    let data = app
        .data_as(
            STAFF,
            "query($urn: String!) { school(urn: $urn) { name partnerships(first: 10) { totalCount edges { role node { name kind } } } } }",
            json!({ "urn": urn }),
        )
        .await;
    assert_eq!(data["school"]["name"], "Grasvenor Infant School");
    assert!(
        data["school"]["partnerships"]["totalCount"]
            .as_i64()
            .expect("count")
            >= 2,
        "{data}"
    );

    let nle = app
        .data_as(
            HEAD,
            SCHOOLS_PAGE,
            json!({ "first": 100, "filter": { "designation": "NATIONAL_LEADER_OF_EDUCATION" } }),
        )
        .await;
    assert!(
        nle["schools"]["totalCount"].as_i64().expect("count") >= 8,
        "{nle}"
    );

    let none = app
        .data_as(HEAD, "{ school(urn: \"999999\") { name } }", json!({}))
        .await;
    assert_eq!(none["school"], Value::Null);
}

async fn holly_park_partnership_has_members_and_lead(db: TestDb) {
    let app = TestApp::spawn(db).await;
    let data = app
        .data_as(
            HEAD,
            r#"{ partnerships(first: 50, filter: { nameContains: "Partnership 6" }) {
                   edges { node { id name kind members(first: 20) { totalCount edges { role node { name } } } } } } }"#,
            json!({}),
        )
        .await;
    let edges = data["partnerships"]["edges"].as_array().expect("edges");
    assert_eq!(edges.len(), 1, "{data}");
    let members: Vec<&str> = edges[0]["node"]["members"]["edges"]
        .as_array()
        .expect("members")
        .iter()
        .map(|e| e["node"]["name"].as_str().expect("name"))
        .collect();
    assert!(
        members.iter().any(|n| n.starts_with("Holly Park")),
        "{members:?}"
    );
    // node(id:) round-trips the global id.
    let id = edges[0]["node"]["id"].clone();
    let node = app
        .data_as(
            HEAD,
            "query($id: ID!) { node(id: $id) { id ... on Partnership { name } } }",
            json!({ "id": id }),
        )
        .await;
    assert_eq!(node["node"]["id"], id);
}

async fn bad_arguments_are_refused_with_codes(db: TestDb) {
    let app = TestApp::spawn(db).await;
    let token = app.token(HEAD).await;
    let (status, body) = app
        .gql(
            Some(&token),
            "{ schools(first: 101) { totalCount } }",
            json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(first_code(&body), "BAD_USER_INPUT", "{body}");

    let (_, body) = app
        .gql(
            Some(&token),
            "{ node(id: \"not-an-id\") { id } }",
            json!({}),
        )
        .await;
    assert_eq!(first_code(&body), "BAD_USER_INPUT", "{body}");

    let (_, body) = app
        .gql(
            Some(&token),
            "{ schools(after: \"garbage\") { totalCount } }",
            json!({}),
        )
        .await;
    assert_eq!(first_code(&body), "BAD_USER_INPUT", "{body}");

    let (_, body) = app
        .gql(
            Some(&token),
            "{ school(urn: \"12AB\") { name } }",
            json!({}),
        )
        .await;
    assert_eq!(first_code(&body), "BAD_USER_INPUT", "{body}");

    // An unknown enum value fails validation: a request error, 400, no data.
    let (status, body) = app
        .gql(
            Some(&token),
            "{ schools(filter: { phases: [COLLEGE] }) { totalCount } }",
            json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(body.get("data").is_none());
}

const CREATE: &str = r"
mutation($input: SchoolCreateInput!) {
  schoolCreate(input: $input) { school { id urn name postcode roll { numberOnRoll census } designations } userErrors { field code message } }
}";

fn new_school(urn: &str) -> Value {
    json!({ "input": {
        "urn": urn, "name": "  Trellis Test Primary ", "phase": "PRIMARY", "establishmentType": "ACADEMY",
        "localAuthority": "Barnet", "postcode": "n10 2hn",
        "roll": { "numberOnRoll": 420, "census": "OCTOBER", "censusDate": "2025-10-02" },
        "designations": ["LOCAL_LEADER_OF_EDUCATION"]
    }})
}

async fn admins_create_schools_and_bad_input_changes_nothing(db: TestDb) {
    let app = TestApp::spawn(db).await;
    let count = || async {
        app.data_as(ADMIN, "{ schools { totalCount } }", json!({}))
            .await["schools"]["totalCount"]
            .as_i64()
            .expect("n")
    };
    let before = count().await;

    let created = app.data_as(ADMIN, CREATE, new_school("123456")).await;
    let school = &created["schoolCreate"]["school"];
    assert_eq!(school["name"], "Trellis Test Primary");
    assert_eq!(school["postcode"], "N10 2HN");
    assert_eq!(school["roll"]["numberOnRoll"], 420);
    assert_eq!(school["designations"], json!(["LOCAL_LEADER_OF_EDUCATION"]));
    assert_eq!(count().await, before + 1);

    // Duplicate URN, malformed URN, bad postcode, roll out of range: user errors, nothing written.
    let dup = app.data_as(ADMIN, CREATE, new_school("123456")).await;
    assert_eq!(dup["schoolCreate"]["school"], Value::Null);
    assert_eq!(dup["schoolCreate"]["userErrors"][0]["code"], "TAKEN");
    assert_eq!(
        dup["schoolCreate"]["userErrors"][0]["field"],
        json!(["input", "urn"])
    );

    let mut bad = new_school("12345");
    bad["input"]["postcode"] = json!("nowhere");
    bad["input"]["roll"]["numberOnRoll"] = json!(-3);
    bad["input"]["name"] = json!("   ");
    let bad = app.data_as(ADMIN, CREATE, bad).await;
    let codes: Vec<(String, String)> = bad["schoolCreate"]["userErrors"]
        .as_array()
        .expect("errors")
        .iter()
        .map(|e| {
            (
                e["field"][1].as_str().expect("f").to_owned(),
                e["code"].as_str().expect("c").to_owned(),
            )
        })
        .collect();
    for expected in [
        ("urn", "INVALID"),
        ("name", "REQUIRED"),
        ("postcode", "INVALID"),
        ("roll", "OUT_OF_RANGE"),
    ] {
        assert!(
            codes
                .iter()
                .any(|(f, c)| f == expected.0 && c == expected.1),
            "{expected:?} in {codes:?}"
        );
    }
    assert_eq!(count().await, before + 1, "refused input wrote nothing");
}

async fn school_roles_cannot_change_the_directory(db: TestDb) {
    let app = TestApp::spawn(db).await;
    for who in [HEAD, STAFF, common::FINANCE] {
        let token = app.token(who).await;
        let (_, body) = app.gql(Some(&token), CREATE, new_school("654321")).await;
        assert_eq!(first_code(&body), "FORBIDDEN", "{who}: {body}");
    }
    let admin = app
        .data_as(ADMIN, "{ school(urn: \"654321\") { name } }", json!({}))
        .await;
    assert_eq!(admin["school"], Value::Null, "nothing was written");
}

async fn partnership_membership_rules(db: TestDb) {
    let app = TestApp::spawn(db).await;
    let created = app
        .data_as(
            ADMIN,
            "mutation { partnershipCreate(input: { name: \"Test Triad\", kind: LOOSE, area: \"Barnet\" }) { partnership { id } userErrors { code } } }",
            json!({}),
        )
        .await;
    let pid = created["partnershipCreate"]["partnership"]["id"].clone();
    let dup = app
        .data_as(
            ADMIN,
            "mutation { partnershipCreate(input: { name: \"Test Triad\", kind: LOOSE, area: \"Barnet\" }) { partnership { id } userErrors { code field } } }",
            json!({}),
        )
        .await;
    assert_eq!(dup["partnershipCreate"]["userErrors"][0]["code"], "TAKEN");

    let ids = app
        .data_as(
            ADMIN,
            "{ schools(first: 2) { edges { node { id } } } }",
            json!({}),
        )
        .await;
    let a = ids["schools"]["edges"][0]["node"]["id"].clone();
    let b = ids["schools"]["edges"][1]["node"]["id"].clone();
    let add = "mutation($input: PartnershipMemberInput!) { partnershipMemberAdd(input: $input) { partnership { leadSchool { id } members { totalCount } } userErrors { field code } } }";
    let first = app
        .data_as(
            ADMIN,
            add,
            json!({ "input": { "partnershipId": pid, "schoolId": a, "role": "LEAD" } }),
        )
        .await;
    assert_eq!(
        first["partnershipMemberAdd"]["partnership"]["leadSchool"]["id"],
        a
    );
    let second = app
        .data_as(
            ADMIN,
            add,
            json!({ "input": { "partnershipId": pid, "schoolId": b, "role": "LEAD" } }),
        )
        .await;
    assert_eq!(
        second["partnershipMemberAdd"]["userErrors"][0]["code"], "CONFLICT",
        "{second}"
    );
    let again = app
        .data_as(
            ADMIN,
            add,
            json!({ "input": { "partnershipId": pid, "schoolId": a } }),
        )
        .await;
    assert_eq!(
        again["partnershipMemberAdd"]["userErrors"][0]["code"],
        "TAKEN"
    );
    let wrong_kind = app
        .data_as(
            ADMIN,
            add,
            json!({ "input": { "partnershipId": a, "schoolId": b } }),
        )
        .await;
    assert_eq!(
        wrong_kind["partnershipMemberAdd"]["userErrors"][0]["field"],
        json!(["input", "partnershipId"])
    );

    let remove = "mutation($input: PartnershipMemberRemoveInput!) { partnershipMemberRemove(input: $input) { partnership { members { totalCount } } userErrors { code } } }";
    let removed = app
        .data_as(
            ADMIN,
            remove,
            json!({ "input": { "partnershipId": pid, "schoolId": a } }),
        )
        .await;
    assert_eq!(
        removed["partnershipMemberRemove"]["partnership"]["members"]["totalCount"],
        0
    );
    let missing = app
        .data_as(
            ADMIN,
            remove,
            json!({ "input": { "partnershipId": pid, "schoolId": a } }),
        )
        .await;
    assert_eq!(
        missing["partnershipMemberRemove"]["userErrors"][0]["code"],
        "NOT_FOUND"
    );
}

async fn inspections_keep_their_framework(db: TestDb) {
    let app = TestApp::spawn(db).await;
    let ids = app
        .data_as(
            ADMIN,
            "{ schools(first: 1) { edges { node { id } } } }",
            json!({}),
        )
        .await;
    let id = ids["schools"]["edges"][0]["node"]["id"].clone();
    let record = "mutation($input: SchoolRecordInspectionInput!) { schoolRecordInspection(input: $input) { school { ofsted { __typename ... on ReportCardInspection { areas { area grade } safeguardingMet } } } userErrors { field code } } }";
    let card = json!({ "input": { "schoolId": id, "inspectedOn": "2026-03-10", "reportCard": {
        "areas": [{ "area": "INCLUSION", "grade": "STRONG_STANDARD" }], "safeguardingMet": true } } });
    let ok = app.data_as(ADMIN, record, card).await;
    assert_eq!(
        ok["schoolRecordInspection"]["school"]["ofsted"]["__typename"], "ReportCardInspection",
        "{ok}"
    );
    let graded_after_2025 = json!({ "input": { "schoolId": id, "inspectedOn": "2026-03-10", "overallEffectiveness": "GOOD" } });
    let refused = app.data_as(ADMIN, record, graded_after_2025).await;
    assert_eq!(
        refused["schoolRecordInspection"]["userErrors"][0]["code"], "INVALID",
        "{refused}"
    );
    let both = json!({ "input": { "schoolId": id, "inspectedOn": "2020-03-10" } });
    let refused = app.data_as(ADMIN, record, both).await;
    assert_eq!(
        refused["schoolRecordInspection"]["userErrors"][0]["code"],
        "INVALID"
    );
}

testkit::db_tests!(
    pages_through_the_whole_directory,
    filters_and_looks_up_by_urn,
    holly_park_partnership_has_members_and_lead,
    bad_arguments_are_refused_with_codes,
    admins_create_schools_and_bad_input_changes_nothing,
    school_roles_cannot_change_the_directory,
    partnership_membership_rules,
    inspections_keep_their_framework,
);
