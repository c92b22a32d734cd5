//! Memberships over HTTP, on SQLite and PostgreSQL: who sees which memberships, the
//! enrolment workflow end to end, and the denials.

use crate::common;

use common::{ADMIN, FINANCE, HEAD, STAFF, TestApp, first_code};
use serde_json::{Value, json};
use testkit::TestDb;

const YEAR_PAGE: &str = r#"
query($first: Int, $after: String, $status: MembershipStatus) {
  memberships(year: "2026/27", first: $first, after: $after, filter: { status: $status }) {
    totalCount
    pageInfo { hasNextPage endCursor }
    edges { node { id status isMidYearJoiner startsOn school { id name } tier { code } } }
  }
}"#;

fn nodes(data: &Value) -> Vec<Value> {
    data["memberships"]["edges"]
        .as_array()
        .expect("edges")
        .iter()
        .map(|e| e["node"].clone())
        .collect()
}

async fn staff_see_every_membership_schools_only_their_own(db: TestDb) {
    let app = TestApp::spawn(db).await;

    // Partnership staff page through the whole year.
    let mut after: Option<String> = None;
    let mut seen = Vec::new();
    let total = loop {
        let data = app
            .data_as(ADMIN, YEAR_PAGE, json!({ "first": 40, "after": after }))
            .await;
        seen.extend(nodes(&data));
        let conn = &data["memberships"];
        if conn["pageInfo"]["hasNextPage"] == false {
            break conn["totalCount"].as_u64().expect("count");
        }
        after = conn["pageInfo"]["endCursor"].as_str().map(str::to_owned);
    };
    assert_eq!(seen.len() as u64, total, "every membership exactly once");
    assert!(total > 100, "the demo enrols the Barnet schools: {total}");
    assert!(
        seen.iter()
            .any(|m| m["isMidYearJoiner"] == true && m["startsOn"] == "2027-01-05"),
        "the demo's mid-year joiner"
    );
    for status in ["PENDING", "CANCELLED"] {
        let data = app
            .data_as(FINANCE, YEAR_PAGE, json!({ "first": 10, "status": status }))
            .await;
        assert_eq!(nodes(&data).len(), 1, "one demo membership is {status}");
    }

    // A head sees only their own school's, in the list and on other schools.
    let own = nodes(&app.data_as(HEAD, YEAR_PAGE, json!({ "first": 100 })).await);
    assert_eq!(own.len(), 1, "{own:?}");
    assert_eq!(own[0]["school"]["name"], "Holly Park Primary School");
    assert_eq!(own[0]["status"], "ACTIVE");
    assert_eq!(own[0]["tier"]["code"], "FULL");

    let other_id = seen
        .iter()
        .find(|m| m["school"]["name"] != "Holly Park Primary School")
        .expect("another school")["id"]
        .clone();
    let data = app
        .data_as(
            HEAD,
            "query($id: ID!) { node(id: $id) { id } }",
            json!({ "id": other_id }),
        )
        .await;
    assert_eq!(
        data["node"],
        Value::Null,
        "another school's membership is invisible"
    );

    let data = app
        .data_as(
            HEAD,
            r#"{ grasvenor: schools(first: 1, filter: { nameContains: "grasvenor" }) { edges { node { memberships { id } } } }
                 own: schools(first: 1, filter: { nameContains: "holly park" }) { edges { node { memberships { academicYear status principles { principle } missingPrinciples } } } } }"#,
            json!({}),
        )
        .await;
    assert_eq!(
        data["grasvenor"]["edges"][0]["node"]["memberships"],
        json!([]),
        "School.memberships of another school is empty for a head"
    );
    let mine = &data["own"]["edges"][0]["node"]["memberships"][0];
    assert_eq!(mine["academicYear"], "2026/27");
    assert_eq!(mine["missingPrinciples"], json!([]));
    assert_eq!(mine["principles"].as_array().expect("list").len(), 2);
}

const ENROL: &str = r"
mutation($input: MembershipEnrolInput!) {
  membershipEnrol(input: $input) {
    membership { id status missingPrinciples academicYear }
    userErrors { field code message }
  }
}";

async fn ids(app: &TestApp, name: &str) -> (Value, Value) {
    let data = app
        .data_as(
            ADMIN,
            r"query($name: String!) {
                schools(first: 1, filter: { nameContains: $name }) { edges { node { id } } }
                membershipTiers { id code }
            }",
            json!({ "name": name }),
        )
        .await;
    let school = data["schools"]["edges"][0]["node"]["id"].clone();
    let tier = data["membershipTiers"]
        .as_array()
        .expect("tiers")
        .iter()
        .find(|t| t["code"] == "FULL")
        .expect("FULL tier")["id"]
        .clone();
    (school, tier)
}

async fn enrolment_workflow_with_its_refusals(db: TestDb) {
    let app = TestApp::spawn(db).await;
    let (school, tier) = ids(&app, "holly park").await;

    // Next year's enrolment: staff enrol, the head accepts, staff activate.
    let input = json!({ "schoolId": school, "academicYear": "2027/28", "tierId": tier });
    let head = app.token(HEAD).await;
    let (_, body) = app.gql(Some(&head), ENROL, json!({ "input": input })).await;
    assert_eq!(
        first_code(&body),
        "FORBIDDEN",
        "a head cannot enrol: {body}"
    );

    let data = app.data_as(ADMIN, ENROL, json!({ "input": input })).await;
    let enrolled = &data["membershipEnrol"];
    assert_eq!(enrolled["userErrors"], json!([]));
    assert_eq!(enrolled["membership"]["status"], "PENDING");
    let id = enrolled["membership"]["id"].clone();

    let again = app.data_as(ADMIN, ENROL, json!({ "input": input })).await;
    assert_eq!(again["membershipEnrol"]["membership"], Value::Null);
    assert_eq!(
        again["membershipEnrol"]["userErrors"][0]["code"], "TAKEN",
        "one membership per school per year: {again}"
    );

    let outside = json!({ "schoolId": school, "academicYear": "2028/29", "tierId": tier, "startsOn": "2027-01-01" });
    let data = app.data_as(ADMIN, ENROL, json!({ "input": outside })).await;
    assert_eq!(
        data["membershipEnrol"]["userErrors"][0]["field"],
        json!(["input", "startsOn"]),
        "{data}"
    );

    let activate = "mutation($id: ID!) { membershipActivate(input: { id: $id }) { membership { status } userErrors { field code message } } }";
    let data = app.data_as(ADMIN, activate, json!({ "id": id })).await;
    assert_eq!(
        data["membershipActivate"]["userErrors"][0]["code"], "CONFLICT",
        "principles first: {data}"
    );

    let accept = r"mutation($id: ID!) { membershipAcceptPrinciples(input: { id: $id, principles: [DATA_SHARING, PEER_CHALLENGE] }) {
        membership { missingPrinciples principles { principle acceptedBy { email } } } userErrors { code } } }";
    let staff = app.token(STAFF).await;
    let (_, body) = app.gql(Some(&staff), accept, json!({ "id": id })).await;
    assert_eq!(
        first_code(&body),
        "FORBIDDEN",
        "school staff cannot sign up: {body}"
    );
    let data = app.data_as(HEAD, accept, json!({ "id": id })).await;
    let accepted = &data["membershipAcceptPrinciples"]["membership"];
    assert_eq!(accepted["missingPrinciples"], json!([]));
    assert_eq!(accepted["principles"][0]["acceptedBy"]["email"], HEAD);

    let data = app.data_as(ADMIN, activate, json!({ "id": id })).await;
    assert_eq!(data["membershipActivate"]["membership"]["status"], "ACTIVE");

    let data = app
        .data_as(
            HEAD,
            "query($id: ID!) { node(id: $id) { ... on Membership { status } } }",
            json!({ "id": id }),
        )
        .await;
    assert_eq!(data["node"]["status"], "ACTIVE", "the head sees their own");
}

async fn renewals_open_once_and_schools_answer(db: TestDb) {
    let app = TestApp::spawn(db).await;
    let open = r#"mutation { membershipRenewalsOpen(input: { fromYear: "2026/27", noticeBy: "2027-03-31" }) { opened alreadyOpen userErrors { code } } }"#;
    let head = app.token(HEAD).await;
    let (_, body) = app.gql(Some(&head), open, json!({})).await;
    assert_eq!(first_code(&body), "FORBIDDEN");

    let first = app.data_as(ADMIN, open, json!({})).await;
    let opened = first["membershipRenewalsOpen"]["opened"]
        .as_u64()
        .expect("n");
    assert!(opened > 100, "{first}");
    let second = app.data_as(ADMIN, open, json!({})).await;
    assert_eq!(second["membershipRenewalsOpen"]["opened"], 0);
    assert_eq!(second["membershipRenewalsOpen"]["alreadyOpen"], opened);

    let mine = app
        .data_as(
            HEAD,
            r#"{ memberships(year: "2027/28", first: 10) { edges { node { id status noticeBy renewedFrom { academicYear } } } } }"#,
            json!({}),
        )
        .await;
    let renewal = &mine["memberships"]["edges"][0]["node"];
    assert_eq!(renewal["status"], "PENDING");
    assert_eq!(renewal["noticeBy"], "2027-03-31");
    assert_eq!(renewal["renewedFrom"]["academicYear"], "2026/27");

    let respond = "mutation($id: ID!) { membershipRenewalRespond(input: { id: $id, decision: DECLINE }) { membership { status cancelledReason } userErrors { code } } }";
    let data = app
        .data_as(HEAD, respond, json!({ "id": renewal["id"] }))
        .await;
    assert_eq!(
        data["membershipRenewalRespond"]["membership"]["status"],
        "CANCELLED"
    );
}

/// A membership's trail through `auditTrail`: the head reads who enrolled, accepted,
/// activated and cancelled their school's membership; another school's membership is
/// NOT_FOUND to them, as the membership itself is.
async fn a_memberships_audit_trail_is_read_by_its_school_only(db: TestDb) {
    let app = TestApp::spawn(db).await;
    let (school, tier) = ids(&app, "holly park").await;
    let input = json!({ "schoolId": school, "academicYear": "2027/28", "tierId": tier });
    let data = app.data_as(ADMIN, ENROL, json!({ "input": input })).await;
    let id = data["membershipEnrol"]["membership"]["id"].clone();
    assert!(id.is_string(), "{data}");
    let accept = r"mutation($id: ID!) { membershipAcceptPrinciples(input: { id: $id, principles: [DATA_SHARING, PEER_CHALLENGE] }) { userErrors { code } } }";
    app.data_as(HEAD, accept, json!({ "id": id })).await;
    let activate =
        "mutation($id: ID!) { membershipActivate(input: { id: $id }) { userErrors { code } } }";
    app.data_as(ADMIN, activate, json!({ "id": id })).await;
    let cancel = r#"mutation($id: ID!) { membershipCancel(input: { id: $id, reason: "closing" }) { membership { status } userErrors { code } } }"#;
    let data = app.data_as(ADMIN, cancel, json!({ "id": id })).await;
    assert_eq!(
        data["membershipCancel"]["membership"]["status"], "CANCELLED",
        "{data}"
    );

    const TRAIL: &str = r"query($id: ID!) { auditTrail(id: $id) { action actorKind actor { email } before after } }";
    let data = app.data_as(HEAD, TRAIL, json!({ "id": id })).await;
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
            ("membership.enrol", ADMIN),
            ("membership.accept_principles", HEAD),
            ("membership.activate", ADMIN),
            ("membership.cancel", ADMIN),
        ],
        "{data}"
    );
    assert!(trail[0]["before"].is_null(), "{data}");
    assert_eq!(trail[0]["after"]["status"], "PENDING");
    assert_eq!(trail[3]["before"]["status"], "ACTIVE");
    assert_eq!(trail[3]["after"]["status"], "CANCELLED");
    assert_eq!(trail[3]["after"]["cancelled_reason"], "closing");
    assert_eq!(app.data_as(FINANCE, TRAIL, json!({ "id": id })).await, data);

    // Another school's membership: the head is told it does not exist.
    let (other, _) = ids(&app, "monkfrith").await;
    let input = json!({ "schoolId": other, "academicYear": "2027/28", "tierId": tier });
    let data = app.data_as(ADMIN, ENROL, json!({ "input": input })).await;
    let other_id = data["membershipEnrol"]["membership"]["id"].clone();
    assert!(other_id.is_string(), "{data}");
    let head = app.token(HEAD).await;
    let (_, body) = app.gql(Some(&head), TRAIL, json!({ "id": other_id })).await;
    assert_eq!(first_code(&body), "NOT_FOUND", "{body}");
    assert!(body["data"].is_null(), "nothing of the trail: {body}");
}

const ACTIVATE_READY: &str = r"
mutation($year: AcademicYear!) { membershipsActivateReady(input: { academicYear: $year }) {
  memberships { id status school { name } }
  userErrors { field code message }
} }";

const ACTIVATE: &str = r"
mutation($ids: [ID!]!) { membershipsActivate(input: { membershipIds: $ids }) {
  memberships { id status }
  userErrors { field code message }
} }";

/// Every ready membership put in force in one call, a chosen list refused whole with a
/// reason per entry; heads may do neither.
async fn admins_activate_memberships_in_bulk(db: TestDb) {
    let app = TestApp::spawn(db).await;
    let head = app.token(HEAD).await;
    for (query, vars) in [
        (ACTIVATE_READY, json!({ "year": "2026/27" })),
        (ACTIVATE, json!({ "ids": [] })),
    ] {
        let (_, body) = app.gql(Some(&head), query, vars).await;
        assert_eq!(first_code(&body), "FORBIDDEN", "{body}");
    }

    // The demo's pending membership: refused in a list until it is ready, with the reason.
    let pending = app
        .data_as(
            ADMIN,
            YEAR_PAGE,
            json!({ "first": 10, "status": "PENDING" }),
        )
        .await;
    let pending_id = pending["memberships"]["edges"][0]["node"]["id"].clone();
    assert!(pending_id.is_string(), "{pending}");
    let refused = app
        .data_as(ADMIN, ACTIVATE, json!({ "ids": [pending_id] }))
        .await;
    let refused = &refused["membershipsActivate"];
    assert_eq!(refused["memberships"], json!([]), "{refused}");
    assert_eq!(
        refused["userErrors"][0]["field"],
        json!(["input", "membershipIds", "0"])
    );
    assert_eq!(refused["userErrors"][0]["code"], "CONFLICT");
    // Nothing is ready that was not activated already, so the bulk call changes nothing.
    let ready = app
        .data_as(ADMIN, ACTIVATE_READY, json!({ "year": "2026/27" }))
        .await;
    assert_eq!(
        ready["membershipsActivateReady"],
        json!({ "memberships": [], "userErrors": [] })
    );
    let still = app
        .data_as(
            ADMIN,
            YEAR_PAGE,
            json!({ "first": 10, "status": "PENDING" }),
        )
        .await;
    assert_eq!(
        still["memberships"]["totalCount"],
        pending["memberships"]["totalCount"]
    );
}

testkit::db_tests!(
    admins_activate_memberships_in_bulk,
    a_memberships_audit_trail_is_read_by_its_school_only,
    staff_see_every_membership_schools_only_their_own,
    enrolment_workflow_with_its_refusals,
    renewals_open_once_and_schools_answer,
);
