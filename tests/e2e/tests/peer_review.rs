//! Peer review over HTTP, on SQLite and PostgreSQL, over the demo's 2026/27 cycle (one
//! agreed report, one scheduled review, the rest planned): forming groups, who may read a
//! report, aggregate themes, the forward-only workflow and the cost of a list of reviews.

use crate::common;

use chrono::{NaiveDate, TimeZone, Utc};
use common::{ADMIN, FINANCE, HEAD, STAFF, TestApp, first_code};
use gateway::graphql::relay::GlobalId;
use kernel::{Actor, FixedClock, ReviewCycleId, ReviewId};
use membership::{NameKey, PageArgs};
use peer_review::report::{self, NewFinding};
use peer_review::reviews::{self, Review, ScheduleInput, SelfReviewInput};
use peer_review::types::{FindingKind, ReviewStatus, TeamRole, TrainingStatus};
use serde_json::{Value, json};
use testkit::TestDb;

/// The app with the demo directory and the demo peer-review cycle.
async fn spawn(db: TestDb) -> TestApp {
    let config = common::config(&db);
    spawn_with(db, config).await
}

/// As [`spawn`], with this configuration.
async fn spawn_with(db: TestDb, config: gateway::Config) -> TestApp {
    let app = TestApp::spawn_with(db, config).await;
    let report = peer_review::demo::seed(app.db.conn(), &kernel::SystemClock)
        .await
        .expect("demo peer review loads");
    assert!(report.reviews >= 6, "{report:?}");
    app
}

async fn demo_cycle(app: &TestApp) -> ReviewCycleId {
    peer_review::cycles::cycles(
        app.db.conn(),
        &Actor::System,
        &PageArgs::<NameKey>::first(10),
    )
    .await
    .expect("cycles")
    .items
    .into_iter()
    .find(|c| c.name == peer_review::demo::DEMO_CYCLE_NAME)
    .expect("demo cycle")
    .id
}

async fn demo_reviews(app: &TestApp, cycle: ReviewCycleId) -> Vec<Review> {
    reviews::reviews_of_cycle(
        app.db.conn(),
        &Actor::System,
        cycle,
        &PageArgs::<NameKey>::first(100),
    )
    .await
    .expect("reviews")
    .items
}

async fn agreed_review(app: &TestApp, cycle: ReviewCycleId) -> Review {
    demo_reviews(app, cycle)
        .await
        .into_iter()
        .find(|r| r.status == ReviewStatus::Agreed)
        .expect("the demo agrees one report")
}

/// The email of a reviewer on `review`'s team.
async fn team_member_email(app: &TestApp, review: ReviewId) -> String {
    let team = peer_review::loaders::teams_of(app.db.conn(), &[review])
        .await
        .expect("team")
        .remove(&review)
        .expect("a team");
    let user = team[0].user_id;
    membership::people::users::by_ids(app.db.conn(), &[user])
        .await
        .expect("users")
        .remove(&user)
        .expect("user")
        .email
}

/// The head of a participating school outside `review`'s group (so on none of its teams).
async fn outside_head(app: &TestApp, review: &Review) -> (String, kernel::SchoolId) {
    let group = peer_review::groups::groups_by_ids(app.db.conn(), &[review.group_id])
        .await
        .expect("group")
        .remove(&review.group_id)
        .expect("group exists");
    let cycle_groups =
        peer_review::groups::groups_of_cycle(app.db.conn(), &Actor::System, review.cycle_id)
            .await
            .expect("groups");
    let other = cycle_groups
        .groups
        .iter()
        .filter(|g| g.id != group.id)
        .flat_map(|g| g.members.iter().map(|m| m.school_id))
        .next()
        .expect("another group");
    let school = membership::school::by_ids(app.db.conn(), &[other])
        .await
        .expect("school")
        .remove(&other)
        .expect("in the directory");
    (format!("head.{}@peer-review.example", school.urn), other)
}

const REVIEW: &str = r"
query($id: ID!) {
  review(id: $id) {
    id status enquiryFocus reportSummary
    hostSchool { name }
    leadReviewer { name role training }
    team { role reviewer { training school { name } } }
    selfReview { summary evaluations { area evaluation } }
    findings { kind area theme summary evidence evaluation }
    actions { description owner dueOn status support { hoursProvided minutesProvided providingSchool { name } } }
    consents { scope school { name } }
  }
}";

const NODE: &str = r"
query($id: ID!) { node(id: $id) { id ... on Review { findings { summary } } } }";

fn user_errors(data: &Value, field: &str) -> Vec<Value> {
    data[field]["userErrors"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

async fn groups_are_proposed_explained_edited_and_confirmed(db: TestDb) {
    let app = spawn(db).await;
    let demo = demo_cycle(&app).await;
    let participants: Vec<Value> = peer_review::cycles::participants_of(app.db.conn(), &[demo])
        .await
        .expect("participants")
        .remove(&demo)
        .expect("some")
        .into_iter()
        .map(|s| json!(s.to_global()))
        .collect();

    let data = app
        .data_as(
            ADMIN,
            r"mutation($input: ReviewCycleCreateInput!) {
              reviewCycleCreate(input: $input) { reviewCycle { id groupsStatus rules { targetGroupSize } } userErrors { field code message } }
            }",
            json!({ "input": {
                "academicYear": "2027/28",
                "name": "Peer review 2027/28",
                "framework": {
                    "enquiryQuestions": ["How well do pupils read across the curriculum?"],
                    "areas": [{ "key": "CURRICULUM", "label": "Curriculum" }, { "key": "TEACHING", "label": "Teaching" }],
                    "scale": [{ "key": "STRONG", "label": "Strong" }, { "key": "DEVELOPING", "label": "Developing" }]
                },
                "windows": {
                    "selfReview": { "opensOn": "2027-09-13", "closesOn": "2027-11-26" },
                    "visits": { "opensOn": "2027-10-04", "closesOn": "2028-03-24" },
                    "followUp": { "opensOn": "2027-11-01", "closesOn": "2028-07-14" }
                }
            } }),
        )
        .await;
    assert_eq!(user_errors(&data, "reviewCycleCreate"), Vec::<Value>::new());
    let cycle = data["reviewCycleCreate"]["reviewCycle"]["id"].clone();
    assert_eq!(
        data["reviewCycleCreate"]["reviewCycle"]["rules"]["targetGroupSize"],
        3
    );

    // A head cannot run a cycle.
    let token = app.token(HEAD).await;
    let (_, body) = app
        .gql(
            Some(&token),
            r"mutation($input: ReviewGroupsProposeInput!) { reviewGroupsPropose(input: $input) { userErrors { code } } }",
            json!({ "input": { "cycleId": cycle } }),
        )
        .await;
    assert_eq!(first_code(&body), "FORBIDDEN", "{body}");

    let data = app
        .data_as(
            ADMIN,
            r"mutation($input: ReviewCycleSetParticipantsInput!) {
              reviewCycleSetParticipants(input: $input) { reviewCycle { participants { name } } userErrors { field code } }
            }",
            json!({ "input": { "cycleId": cycle, "schoolIds": participants } }),
        )
        .await;
    assert_eq!(
        data["reviewCycleSetParticipants"]["reviewCycle"]["participants"]
            .as_array()
            .map(Vec::len),
        Some(participants.len())
    );

    const GROUPS: &str = r"
      groups {
        status
        groups {
          id position
          members { rotaPosition school { id name } reasons { kind message band } }
          relaxations { constraint explanation schools { name } }
          rota { host { id } reviewers { id } }
        }
        warnings { kind constraint message group { id } schools { name } }
      }
      userErrors { field code message }";
    let data = app
        .data_as(
            ADMIN,
            &format!(
                "mutation($input: ReviewGroupsProposeInput!) {{ reviewGroupsPropose(input: $input) {{ {GROUPS} }} }}"
            ),
            json!({ "input": { "cycleId": cycle } }),
        )
        .await;
    let proposal = &data["reviewGroupsPropose"]["groups"];
    assert_eq!(proposal["status"], "PROPOSED");
    let groups = proposal["groups"].as_array().expect("groups");
    assert!(groups.len() >= 2, "{proposal}");
    let mut placed = 0;
    for g in groups {
        let members = g["members"].as_array().expect("members");
        placed += members.len();
        assert!((3..=7).contains(&members.len()), "{g}");
        for m in members {
            let reasons = m["reasons"].as_array().expect("reasons");
            assert!(!reasons.is_empty(), "every placement explains itself: {m}");
            assert!(
                reasons
                    .iter()
                    .all(|r| !r["message"].as_str().unwrap_or("").is_empty())
            );
        }
        // Reciprocity: every member hosts once, visited by all the others.
        let rota = g["rota"].as_array().expect("rota");
        assert_eq!(rota.len(), members.len());
        for visit in rota {
            assert_eq!(
                visit["reviewers"].as_array().map(Vec::len),
                Some(members.len() - 1)
            );
            assert!(
                !visit["reviewers"]
                    .as_array()
                    .expect("list")
                    .contains(&visit["host"])
            );
        }
    }
    assert_eq!(placed, participants.len(), "every participant is placed");

    // Move a school into another group: the answer re-checks and warns, nothing is refused.
    let from = &groups[0];
    let to = &groups[1];
    let moved = from["members"][0]["school"]["id"].clone();
    let data = app
        .data_as(
            ADMIN,
            &format!(
                "mutation($input: ReviewGroupsMoveSchoolInput!) {{ reviewGroupsMoveSchool(input: $input) {{ {GROUPS} }} }}"
            ),
            json!({ "input": { "cycleId": cycle, "schoolId": moved, "groupId": to["id"] } }),
        )
        .await;
    assert_eq!(
        user_errors(&data, "reviewGroupsMoveSchool"),
        Vec::<Value>::new()
    );
    let after = &data["reviewGroupsMoveSchool"]["groups"];
    let target = after["groups"]
        .as_array()
        .expect("groups")
        .iter()
        .find(|g| g["id"] == to["id"])
        .expect("target group");
    assert!(
        target["members"]
            .as_array()
            .expect("members")
            .iter()
            .any(|m| m["school"]["id"] == moved),
        "{target}"
    );
    let source_left = from["members"].as_array().map_or(0, Vec::len) - 1;
    if source_left < 3 {
        assert!(
            after["warnings"]
                .as_array()
                .expect("warnings")
                .iter()
                .any(|w| w["kind"] == "SIZE" && w["group"]["id"] == from["id"]),
            "{after}"
        );
        // A group too small cannot be confirmed: a user error, and no reviews are created.
        let data = app
            .data_as(
                ADMIN,
                r"mutation($input: ReviewGroupsConfirmInput!) { reviewGroupsConfirm(input: $input) { reviews { id } userErrors { field code } } }",
                json!({ "input": { "cycleId": cycle } }),
            )
            .await;
        assert!(
            !user_errors(&data, "reviewGroupsConfirm").is_empty(),
            "{data}"
        );
        assert_eq!(data["reviewGroupsConfirm"]["reviews"], Value::Null);
        // Move it back.
        let data = app
            .data_as(
                ADMIN,
                r"mutation($input: ReviewGroupsMoveSchoolInput!) { reviewGroupsMoveSchool(input: $input) { userErrors { code } } }",
                json!({ "input": { "cycleId": cycle, "schoolId": moved, "groupId": from["id"] } }),
            )
            .await;
        assert_eq!(
            user_errors(&data, "reviewGroupsMoveSchool"),
            Vec::<Value>::new()
        );
    }

    let data = app
        .data_as(
            ADMIN,
            r"mutation($input: ReviewGroupsConfirmInput!) {
              reviewGroupsConfirm(input: $input) {
                reviews { id status hostSchool { id } leadReviewer { role training } team { role } }
                userErrors { field code message }
              }
            }",
            json!({ "input": { "cycleId": cycle } }),
        )
        .await;
    assert_eq!(
        user_errors(&data, "reviewGroupsConfirm"),
        Vec::<Value>::new()
    );
    let created = data["reviewGroupsConfirm"]["reviews"]
        .as_array()
        .expect("reviews");
    assert_eq!(created.len(), participants.len(), "every school hosts once");
    for r in created {
        assert_eq!(r["status"], "PLANNING");
        assert!(!r["team"].as_array().expect("team").is_empty(), "{r}");
    }

    let data = app
        .data_as(
            ADMIN,
            r"query($id: ID!) { reviewCycle(id: $id) { groupsStatus groupsConfirmedAt reviews(first: 100) { edges { node { id } } } } }",
            json!({ "id": cycle }),
        )
        .await;
    assert_eq!(data["reviewCycle"]["groupsStatus"], "CONFIRMED");
    assert_eq!(
        data["reviewCycle"]["reviews"]["edges"]
            .as_array()
            .map(Vec::len),
        Some(participants.len())
    );
    // Confirming twice is refused and creates nothing more.
    let data = app
        .data_as(
            ADMIN,
            r"mutation($input: ReviewGroupsConfirmInput!) { reviewGroupsConfirm(input: $input) { reviews { id } userErrors { field code } } }",
            json!({ "input": { "cycleId": cycle } }),
        )
        .await;
    assert!(
        !user_errors(&data, "reviewGroupsConfirm").is_empty(),
        "{data}"
    );

    // Groups and their explanation are for staff: a head sees the cycle but not the groups.
    let data = app
        .data_as(
            HEAD,
            r"query($id: ID!) { reviewCycle(id: $id) { name groups { status } } }",
            json!({ "id": cycle }),
        )
        .await;
    assert_eq!(data["reviewCycle"]["groups"], Value::Null);
}

/// The agreed report as a file: linked from `Review.reportUrl` for its readers, served as
/// PDF and CSV to them, 404 to anyone else; a report not yet agreed has no file (409 for a
/// reader who asks).
async fn the_agreed_report_downloads_for_its_readers_only(db: TestDb) {
    let app = spawn(db).await;
    let cycle = demo_cycle(&app).await;
    let agreed = agreed_review(&app, cycle).await;
    let member = team_member_email(&app, agreed.id).await;
    let (outsider, _) = outside_head(&app, &agreed).await;
    let url_of = "query($id: ID!) { review(id: $id) { reportUrl } }";
    let vars = json!({ "id": agreed.id.to_global() });
    let url = app.data_as(&member, url_of, vars.clone()).await["review"]["reportUrl"]
        .as_str()
        .expect("a link for the team")
        .to_owned();
    let get = |who: Option<String>, path: String| {
        let app = &app;
        async move {
            let mut req = app.client.get(format!("{}{path}", app.base));
            if let Some(who) = who {
                req = req.bearer_auth(app.token(&who).await);
            }
            req.send().await.expect("response")
        }
    };
    for reader in [member.clone(), ADMIN.to_owned()] {
        let res = get(Some(reader.clone()), url.clone()).await;
        assert_eq!(res.status(), reqwest::StatusCode::OK, "{reader}");
        assert_eq!(res.headers()["content-type"], "application/pdf");
        let bytes = res.bytes().await.expect("body");
        let pdf = lopdf::Document::load_mem(&bytes).expect("a PDF");
        let pages: Vec<u32> = pdf.get_pages().keys().copied().collect();
        let text = pdf.extract_text(&pages).expect("text");
        assert!(text.contains("Peer review report"), "{text}");
        assert!(text.contains("Agreed actions"), "{text}");
    }
    let csv = get(Some(member.clone()), url.replace(".pdf", ".csv"))
        .await
        .bytes()
        .await
        .expect("csv");
    let sections: Vec<String> = csv::Reader::from_reader(csv.as_ref())
        .records()
        .map(|r| r.expect("record")[0].to_owned())
        .collect();
    assert!(sections.iter().any(|s| s == "Finding"), "{sections:?}");
    assert!(sections.iter().any(|s| s == "Action"), "{sections:?}");
    for who in [outsider.clone(), FINANCE.to_owned(), STAFF.to_owned()] {
        assert_eq!(
            get(Some(who.clone()), url.clone()).await.status(),
            reqwest::StatusCode::NOT_FOUND,
            "{who}"
        );
    }
    let token = app.token(&outsider).await;
    let (_, theirs) = app.gql(Some(&token), url_of, vars).await;
    assert!(
        theirs["data"]["review"].is_null() || theirs["data"]["review"]["reportUrl"].is_null(),
        "no link for a school the report is not shared with: {theirs}"
    );
    assert_eq!(
        get(None, url.clone()).await.status(),
        reqwest::StatusCode::UNAUTHORIZED
    );
    // A review still in planning: no link, and its readers are told why there is no file.
    let planned = demo_reviews(&app, cycle)
        .await
        .into_iter()
        .find(|r| !r.status.report_is_agreed())
        .expect("a review not agreed");
    let planned_vars = json!({ "id": planned.id.to_global() });
    assert!(app.data_as(ADMIN, url_of, planned_vars).await["review"]["reportUrl"].is_null());
    let draft = get(
        Some(ADMIN.to_owned()),
        format!(
            "/reports/reviews/{}/report.pdf",
            planned.id.to_global().as_str()
        ),
    )
    .await;
    assert_eq!(draft.status(), reqwest::StatusCode::CONFLICT);
}

async fn a_report_is_read_by_its_host_team_and_staff_only(db: TestDb) {
    let app = spawn(db).await;
    let cycle = demo_cycle(&app).await;
    let agreed = agreed_review(&app, cycle).await;
    let id = json!(agreed.id.to_global());
    let vars = json!({ "id": id });

    // Staff read it whole.
    let data = app.data_as(ADMIN, REVIEW, vars.clone()).await;
    let report = &data["review"];
    assert_eq!(report["status"], "AGREED");
    assert_eq!(report["leadReviewer"]["role"], "LEAD");
    assert!(!report["findings"].as_array().expect("findings").is_empty());
    assert!(!report["actions"].as_array().expect("actions").is_empty());
    assert_eq!(report["actions"][0]["support"]["hoursProvided"], 6.0);
    assert_eq!(report["actions"][0]["support"]["minutesProvided"], 360);
    assert!(report["selfReview"]["summary"].is_string());

    // The host school's head reads their own report, through every edge.
    let host_head = if agreed.host_name.contains("Holly Park") {
        HEAD.to_owned()
    } else {
        let school = membership::school::by_ids(app.db.conn(), &[agreed.host_school_id])
            .await
            .expect("school")
            .remove(&agreed.host_school_id)
            .expect("host");
        format!("head.{}@peer-review.example", school.urn)
    };
    let data = app.data_as(&host_head, REVIEW, vars.clone()).await;
    assert_eq!(data["review"]["findings"], report["findings"]);
    let data = app
        .data_as(
            &host_head,
            r"query($c: ID!) { myReviews(cycleId: $c) { id findings { summary } } }",
            json!({ "c": cycle.to_global() }),
        )
        .await;
    assert!(
        data["myReviews"]
            .as_array()
            .expect("list")
            .iter()
            .any(|r| r["id"] == id && r["findings"].is_array()),
        "{data}"
    );

    // A reviewer on the team reads it.
    let reviewer = team_member_email(&app, agreed.id).await;
    let data = app.data_as(&reviewer, REVIEW, vars.clone()).await;
    assert_eq!(data["review"]["id"], id);
    assert!(data["review"]["findings"].is_array());

    // Another school's head: NOT_FOUND, null through node, absent from lists and School.reviews.
    let (outsider, outsider_school) = outside_head(&app, &agreed).await;
    let token = app.token(&outsider).await;
    let (_, body) = app.gql(Some(&token), REVIEW, vars.clone()).await;
    assert_eq!(first_code(&body), "NOT_FOUND", "{body}");
    assert_eq!(body["data"], Value::Null);
    let data = app.data_as(&outsider, NODE, vars.clone()).await;
    assert_eq!(data["node"], Value::Null);
    let data = app
        .data_as(
            &outsider,
            r"query($c: ID!) { myReviews(cycleId: $c) { id } }",
            json!({ "c": cycle.to_global() }),
        )
        .await;
    assert!(
        !data["myReviews"]
            .as_array()
            .expect("list")
            .iter()
            .any(|r| r["id"] == id),
        "{data}"
    );
    let data = app
        .data_as(
            &outsider,
            r"query($s: ID!) { node(id: $s) { ... on School { reviews { id } } } }",
            json!({ "s": agreed.host_school_id.to_global() }),
        )
        .await;
    assert_eq!(data["node"]["reviews"], json!([]));

    // Finance, school staff and anonymous callers never read a report.
    for who in [FINANCE, STAFF] {
        let token = app.token(who).await;
        let (_, body) = app.gql(Some(&token), REVIEW, vars.clone()).await;
        assert_eq!(first_code(&body), "FORBIDDEN", "{who}: {body}");
        let data = app.data_as(who, NODE, vars.clone()).await;
        assert_eq!(data["node"], Value::Null, "{who}");
    }
    let (_, body) = app.gql(None, REVIEW, vars.clone()).await;
    assert!(
        body["data"].is_null() || body["data"]["review"].is_null(),
        "{body}"
    );

    // Someone other than the host cannot consent to sharing; the host can, and then the
    // named school's head reads the report.
    const CONSENT: &str = r"mutation($input: ReviewConsentRecordInput!) {
      reviewConsentRecord(input: $input) { consent { scope school { id } } userErrors { field code message } }
    }";
    let input = json!({ "input": { "reviewId": id, "scope": "SCHOOL", "schoolId": outsider_school.to_global() } });
    let token = app.token(&outsider).await;
    let (_, body) = app.gql(Some(&token), CONSENT, input.clone()).await;
    assert_eq!(first_code(&body), "NOT_FOUND", "{body}");
    let data = app.data_as(&host_head, CONSENT, input).await;
    assert_eq!(
        user_errors(&data, "reviewConsentRecord"),
        Vec::<Value>::new()
    );
    assert_eq!(
        data["reviewConsentRecord"]["consent"]["school"]["id"],
        json!(outsider_school.to_global())
    );
    let data = app.data_as(&outsider, REVIEW, vars.clone()).await;
    assert_eq!(data["review"]["findings"], report["findings"]);
    // Still nobody else's: finance remains refused.
    let token = app.token(FINANCE).await;
    let (_, body) = app.gql(Some(&token), REVIEW, vars).await;
    assert_eq!(first_code(&body), "FORBIDDEN", "{body}");
}

fn at(date: NaiveDate) -> FixedClock {
    FixedClock::new(Utc.from_utc_datetime(&date.and_hms_opt(9, 0, 0).expect("time")))
}

fn day(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).expect("date")
}

/// Takes a planned review through to AGREED with one area for development per theme.
async fn agree(app: &TestApp, id: ReviewId, themes: &[&str]) {
    let db = app.db.conn();
    let system = Actor::System;
    let before = at(day(2026, 10, 1));
    reviews::submit_self_review(
        db,
        &before,
        &system,
        id,
        SelfReviewInput {
            summary: "Our own view.".into(),
            evaluations: Vec::new(),
        },
    )
    .await
    .expect("self-review");
    reviews::schedule(
        db,
        &before,
        &system,
        id,
        ScheduleInput {
            visit_starts_on: day(2027, 2, 9),
            visit_ends_on: day(2027, 2, 10),
            enquiry_focus: "Reading across the curriculum".into(),
        },
    )
    .await
    .expect("scheduled");
    let visit = at(day(2027, 2, 10));
    reviews::advance(db, &visit, &system, id, ReviewStatus::Visited)
        .await
        .expect("visited");
    reviews::advance(db, &visit, &system, id, ReviewStatus::ReportDraft)
        .await
        .expect("drafting");
    for theme in themes {
        report::add_finding(
            db,
            &visit,
            &system,
            id,
            NewFinding {
                kind: FindingKind::AreaForDevelopment,
                area: "CURRICULUM".into(),
                theme: (*theme).into(),
                summary: "Units do not yet build on each other.".into(),
                evidence: "Learning walks.".into(),
                evaluation: None,
            },
        )
        .await
        .expect("finding");
    }
    reviews::advance(db, &visit, &system, id, ReviewStatus::Agreed)
        .await
        .expect("agreed");
}

/// Planned reviews led by a trained lead reviewer, which can be scheduled.
async fn schedulable(app: &TestApp, cycle: ReviewCycleId) -> Vec<Review> {
    let planned: Vec<Review> = demo_reviews(app, cycle)
        .await
        .into_iter()
        .filter(|r| r.status == ReviewStatus::Planning)
        .collect();
    let ids: Vec<ReviewId> = planned.iter().map(|r| r.id).collect();
    let teams = peer_review::loaders::teams_of(app.db.conn(), &ids)
        .await
        .expect("teams");
    planned
        .into_iter()
        .filter(|r| {
            teams.get(&r.id).is_some_and(|t| {
                t.iter().any(|m| {
                    m.role == TeamRole::Lead && m.training == TrainingStatus::TrainedLeadReviewer
                })
            })
        })
        .collect()
}

const SEQUENCING: &str = "curriculum sequencing in foundation subjects";
const READING: &str = "reading fluency in key stage 2";

async fn themes_are_aggregate_and_hide_small_counts(db: TestDb) {
    let app = spawn(db).await;
    let cycle = demo_cycle(&app).await;
    const THEMES: &str =
        r"query($c: ID!) { reviewThemes(cycleId: $c) { area areaLabel theme reviews } }";
    let vars = json!({ "c": cycle.to_global() });

    // One agreed report: below the minimum, nothing is shown.
    let data = app.data_as(HEAD, THEMES, vars.clone()).await;
    assert_eq!(data["reviewThemes"], json!([]));

    // Four more reports raise the demo's theme (five in all); only four raise another.
    let more = schedulable(&app, cycle).await;
    assert!(more.len() >= 4, "{} schedulable reviews", more.len());
    for (i, r) in more.iter().take(4).enumerate() {
        // The second theme twice in one report still counts that report once.
        let themes: &[&str] = if i == 0 {
            &[SEQUENCING, READING, READING]
        } else {
            &[SEQUENCING, READING]
        };
        agree(&app, r.id, themes).await;
    }
    let data = app.data_as(HEAD, THEMES, vars.clone()).await;
    assert_eq!(
        data["reviewThemes"],
        json!([{ "area": "CURRICULUM", "areaLabel": "Curriculum and its sequencing", "theme": SEQUENCING, "reviews": 5 }])
    );
    // Nothing in the answer names a school.
    let text = data.to_string();
    for r in demo_reviews(&app, cycle).await {
        assert!(!text.contains(&r.host_name), "{text}");
        assert!(
            !text.contains(r.host_school_id.to_global().as_str()),
            "{text}"
        );
    }
    // Finance gets no themes either.
    let token = app.token(FINANCE).await;
    let (_, body) = app.gql(Some(&token), THEMES, vars).await;
    assert_eq!(first_code(&body), "FORBIDDEN", "{body}");
}

async fn workflow_steps_out_of_order_change_nothing(db: TestDb) {
    let app = spawn(db).await;
    let cycle = demo_cycle(&app).await;
    let planned = schedulable(&app, cycle).await.remove(0);
    let id = planned.id.to_global();
    const ADVANCE: &str = r"mutation($input: ReviewAdvanceInput!) {
      reviewAdvance(input: $input) { review { status } userErrors { field code message } }
    }";
    for (to, code) in [
        ("AGREED", "CONFLICT"),
        ("VISITED", "CONFLICT"),
        ("REPORT_DRAFT", "CONFLICT"),
        ("SCHEDULED", "INVALID"),
    ] {
        let data = app
            .data_as(ADMIN, ADVANCE, json!({ "input": { "id": id, "to": to } }))
            .await;
        let errors = user_errors(&data, "reviewAdvance");
        assert_eq!(errors.len(), 1, "{to}: {data}");
        assert_eq!(errors[0]["field"], json!(["input", "status"]));
        assert_eq!(errors[0]["code"], code, "{to}: {data}");
        assert_eq!(data["reviewAdvance"]["review"], Value::Null);
    }
    // Nobody moves a review back to PLANNING: a workflow error, not a permission one.
    let data = app
        .data_as(
            ADMIN,
            ADVANCE,
            json!({ "input": { "id": id, "to": "PLANNING" } }),
        )
        .await;
    let errors = user_errors(&data, "reviewAdvance");
    assert_eq!(errors[0]["field"], json!(["input", "status"]), "{data}");
    assert_eq!(errors[0]["code"], "CONFLICT", "{data}");
    let data = app
        .data_as(
            ADMIN,
            "query($id: ID!) { review(id: $id) { status visitStartsOn } }",
            json!({ "id": id }),
        )
        .await;
    assert_eq!(data["review"]["status"], "PLANNING");
    assert_eq!(data["review"]["visitStartsOn"], Value::Null);

    // Scheduling outside the visit window: every problem at once, nothing written.
    const SCHEDULE: &str = r"mutation($input: ReviewScheduleInput!) {
      reviewSchedule(input: $input) { review { status } userErrors { field code } }
    }";
    let data = app
        .data_as(
            ADMIN,
            SCHEDULE,
            json!({ "input": { "id": id, "visitStartsOn": "2027-05-02", "visitEndsOn": "2027-05-01", "enquiryFocus": " " } }),
        )
        .await;
    let fields: Vec<Value> = user_errors(&data, "reviewSchedule")
        .into_iter()
        .map(|e| e["field"].clone())
        .collect();
    assert!(fields.contains(&json!(["input", "enquiryFocus"])), "{data}");
    assert!(fields.contains(&json!(["input", "visitEndsOn"])), "{data}");
    assert!(
        fields.contains(&json!(["input", "visitStartsOn"])),
        "{data}"
    );
    let data = app
        .data_as(
            ADMIN,
            "query($id: ID!) { review(id: $id) { status enquiryFocus } }",
            json!({ "id": id }),
        )
        .await;
    assert_eq!(data["review"]["status"], "PLANNING");

    // Scheduled properly, it moves one step.
    let data = app
        .data_as(
            ADMIN,
            SCHEDULE,
            json!({ "input": { "id": id, "visitStartsOn": "2027-02-09", "visitEndsOn": "2027-02-10", "enquiryFocus": "Reading" } }),
        )
        .await;
    assert_eq!(user_errors(&data, "reviewSchedule"), Vec::<Value>::new());
    assert_eq!(data["reviewSchedule"]["review"]["status"], "SCHEDULED");

    // An agreed report is never edited again.
    let agreed = agreed_review(&app, cycle).await;
    let before = peer_review::loaders::findings_of(app.db.conn(), &[agreed.id])
        .await
        .expect("findings")
        .remove(&agreed.id)
        .unwrap_or_default()
        .len();
    let data = app
        .data_as(
            ADMIN,
            r"mutation($input: ReviewFindingAddInput!) { reviewFindingAdd(input: $input) { finding { id } userErrors { field code } } }",
            json!({ "input": { "reviewId": agreed.id.to_global(), "kind": "STRENGTH", "area": "CURRICULUM", "summary": "More", "evidence": "More" } }),
        )
        .await;
    let errors = user_errors(&data, "reviewFindingAdd");
    assert_eq!(errors.len(), 1, "{data}");
    assert_eq!(errors[0]["code"], "CONFLICT");
    let after = peer_review::loaders::findings_of(app.db.conn(), &[agreed.id])
        .await
        .expect("findings")
        .remove(&agreed.id)
        .unwrap_or_default()
        .len();
    assert_eq!(before, after);

    // A malformed id is the caller's to fix.
    let data = app
        .data_as(
            ADMIN,
            ADVANCE,
            json!({ "input": { "id": "nonsense", "to": "VISITED" } }),
        )
        .await;
    assert_eq!(
        user_errors(&data, "reviewAdvance")[0]["field"],
        json!(["input", "id"])
    );
}

async fn head_of(app: &TestApp, school: kernel::SchoolId) -> String {
    let s = membership::school::by_ids(app.db.conn(), &[school])
        .await
        .expect("school")
        .remove(&school)
        .expect("in the directory");
    if s.name.contains("Holly Park") {
        HEAD.to_owned()
    } else {
        format!("head.{}@peer-review.example", s.urn)
    }
}

async fn email_of(app: &TestApp, user: kernel::UserId) -> String {
    membership::people::users::by_ids(app.db.conn(), &[user])
        .await
        .expect("users")
        .remove(&user)
        .expect("user")
        .email
}

async fn a_review_runs_its_whole_workflow_over_http(db: TestDb) {
    let app = spawn(db).await;
    // Billing accounts, so the support time can be paid for at the end.
    billing::demo::seed(app.db.conn(), &kernel::SystemClock)
        .await
        .expect("demo billing loads");
    let cycle = demo_cycle(&app).await;
    let review = schedulable(&app, cycle).await.remove(0);
    let id = json!(review.id.to_global());
    let team = peer_review::loaders::teams_of(app.db.conn(), &[review.id])
        .await
        .expect("team")
        .remove(&review.id)
        .expect("a team");
    let lead = team
        .iter()
        .find(|m| m.role == TeamRole::Lead)
        .expect("a lead")
        .clone();
    let lead_email = email_of(&app, lead.user_id).await;
    let host_head = head_of(&app, review.host_school_id).await;

    // Staff see the reviewers to build teams from; a head does not.
    const REVIEWERS: &str =
        r"query($c: ID!) { reviewCycle(id: $c) { reviewers { id training school { id } } } }";
    let vars = json!({ "c": cycle.to_global() });
    let data = app.data_as(ADMIN, REVIEWERS, vars.clone()).await;
    let reviewers = data["reviewCycle"]["reviewers"]
        .as_array()
        .expect("list")
        .clone();
    assert!(reviewers.len() >= 6, "{data}");
    let data = app.data_as(&host_head, REVIEWERS, vars).await;
    assert_eq!(data["reviewCycle"]["reviewers"], json!([]));

    // Nobody reviews their own school: the whole team is refused, nothing changes.
    let own = reviewers
        .iter()
        .find(|r| r["school"]["id"] == json!(review.host_school_id.to_global()))
        .expect("the host's reviewer");
    const SET_TEAM: &str = r"mutation($input: ReviewSetTeamInput!) {
      reviewSetTeam(input: $input) { review { team { role reviewer { id } } } userErrors { field code } }
    }";
    let mut members: Vec<Value> = team
        .iter()
        .map(|m| json!({ "reviewerId": m.reviewer_id.to_global(), "role": m.role.as_str() }))
        .collect();
    let valid = json!({ "input": { "id": id, "members": members.clone() } });
    members.push(json!({ "reviewerId": own["id"], "role": "MEMBER" }));
    let data = app
        .data_as(
            ADMIN,
            SET_TEAM,
            json!({ "input": { "id": id, "members": members } }),
        )
        .await;
    let errors = user_errors(&data, "reviewSetTeam");
    assert_eq!(errors.len(), 1, "{data}");
    assert_eq!(
        errors[0]["field"],
        json!(["input", "members", team.len().to_string(), "reviewerId"])
    );
    let data = app.data_as(ADMIN, SET_TEAM, valid).await;
    assert_eq!(user_errors(&data, "reviewSetTeam"), Vec::<Value>::new());
    assert_eq!(
        data["reviewSetTeam"]["review"]["team"]
            .as_array()
            .map(Vec::len),
        Some(team.len())
    );

    // The host evaluates itself (inside the self-review window) and schedules the visit.
    reviews::submit_self_review(
        app.db.conn(),
        &at(day(2026, 10, 1)),
        &Actor::System,
        review.id,
        SelfReviewInput {
            summary: "Our own view.".into(),
            evaluations: Vec::new(),
        },
    )
    .await
    .expect("self-review");
    let data = app
        .data_as(
            &host_head,
            r"mutation($input: ReviewScheduleInput!) { reviewSchedule(input: $input) { review { status visitStartsOn } userErrors { field code } } }",
            json!({ "input": { "id": id, "visitStartsOn": "2026-10-13", "visitEndsOn": "2026-10-14", "enquiryFocus": "Reading" } }),
        )
        .await;
    assert_eq!(user_errors(&data, "reviewSchedule"), Vec::<Value>::new());
    assert_eq!(data["reviewSchedule"]["review"]["status"], "SCHEDULED");

    const ADVANCE: &str = r"mutation($input: ReviewAdvanceInput!) {
      reviewAdvance(input: $input) { review { status } userErrors { field code message } }
    }";
    // The host cannot say the visit happened; the lead can, then drafts.
    let token = app.token(&host_head).await;
    let (_, body) = app
        .gql(
            Some(&token),
            ADVANCE,
            json!({ "input": { "id": id, "to": "VISITED" } }),
        )
        .await;
    assert_eq!(first_code(&body), "FORBIDDEN", "{body}");
    for to in ["VISITED", "REPORT_DRAFT"] {
        let data = app
            .data_as(
                &lead_email,
                ADVANCE,
                json!({ "input": { "id": id, "to": to } }),
            )
            .await;
        assert_eq!(
            user_errors(&data, "reviewAdvance"),
            Vec::<Value>::new(),
            "{to}"
        );
        assert_eq!(data["reviewAdvance"]["review"]["status"], to);
    }
    let data = app
        .data_as(
            &lead_email,
            r"mutation($input: ReviewFindingAddInput!) { reviewFindingAdd(input: $input) { finding { id kind } userErrors { field code } } }",
            json!({ "input": { "reviewId": id, "kind": "AREA_FOR_DEVELOPMENT", "area": "CURRICULUM", "theme": "reading", "summary": "Reading is not yet fluent.", "evidence": "Heard readers.", "evaluation": "DEVELOPING" } }),
        )
        .await;
    assert_eq!(user_errors(&data, "reviewFindingAdd"), Vec::<Value>::new());
    let finding = data["reviewFindingAdd"]["finding"]["id"].clone();
    // A framework area that does not exist is the caller's to fix.
    let data = app
        .data_as(
            &lead_email,
            r"mutation($input: ReviewFindingAddInput!) { reviewFindingAdd(input: $input) { finding { id } userErrors { field code } } }",
            json!({ "input": { "reviewId": id, "kind": "STRENGTH", "area": "ASTROLOGY", "summary": "x", "evidence": "y" } }),
        )
        .await;
    assert_eq!(
        user_errors(&data, "reviewFindingAdd")[0]["field"],
        json!(["input", "area"])
    );
    let data = app
        .data_as(
            &lead_email,
            r"mutation($input: ReviewReportSetSummaryInput!) { reviewReportSetSummary(input: $input) { review { reportSummary } userErrors { code } } }",
            json!({ "input": { "id": id, "summary": "A school ready to work on reading." } }),
        )
        .await;
    assert_eq!(
        data["reviewReportSetSummary"]["review"]["reportSummary"],
        "A school ready to work on reading."
    );
    let data = app
        .data_as(
            &host_head,
            r"mutation($input: ReviewActionAddInput!) { reviewActionAdd(input: $input) { action { id status } userErrors { field code } } }",
            json!({ "input": { "reviewId": id, "findingId": finding, "description": "Daily reading practice in Year 4.", "owner": "English lead", "dueOn": "2027-03-31" } }),
        )
        .await;
    assert_eq!(user_errors(&data, "reviewActionAdd"), Vec::<Value>::new());
    let action = data["reviewActionAdd"]["action"]["id"].clone();
    let data = app
        .data_as(
            &host_head,
            ADVANCE,
            json!({ "input": { "id": id, "to": "AGREED" } }),
        )
        .await;
    assert_eq!(data["reviewAdvance"]["review"]["status"], "AGREED");
    // The review's history: who moved it, when, and what it was either side. The host and
    // the team read it; a head outside the group, who may not read the report, may not.
    const TRAIL: &str = r"query($id: ID!) { auditTrail(id: $id) { action actorKind actor { email } before after } }";
    let data = app.data_as(&host_head, TRAIL, json!({ "id": id })).await;
    let trail = data["auditTrail"].as_array().expect("trail").clone();
    let actions: Vec<&str> = trail
        .iter()
        .map(|e| e["action"].as_str().unwrap_or_default())
        .collect();
    assert!(
        actions.ends_with(&[
            "review.schedule",
            "review.advance",
            "review.advance",
            "review.report_summary",
            "review.advance",
        ]),
        "{actions:?}"
    );
    assert!(
        actions.contains(&"review.set_team") && actions.contains(&"review.self_review"),
        "{actions:?}"
    );
    let scheduled = trail
        .iter()
        .find(|e| e["action"] == "review.schedule")
        .expect("the scheduling");
    assert_eq!(scheduled["actor"]["email"], json!(host_head));
    assert_eq!(scheduled["before"]["review"]["status"], "PLANNING");
    assert_eq!(scheduled["after"]["review"]["status"], "SCHEDULED");
    assert_eq!(
        scheduled["after"]["review"]["visit_starts_on"],
        "2026-10-13"
    );
    let agreed = trail.last().expect("the agreement");
    assert_eq!(agreed["after"]["review"]["status"], "AGREED");
    let data = app.data_as(&lead_email, TRAIL, json!({ "id": id })).await;
    assert_eq!(
        data["auditTrail"].as_array().map(Vec::len),
        Some(trail.len())
    );
    let (outsider, _) = outside_head(&app, &review).await;
    let token = app.token(&outsider).await;
    let (_, body) = app.gql(Some(&token), TRAIL, json!({ "id": id })).await;
    assert_eq!(first_code(&body), "NOT_FOUND", "{body}");

    // With the school's consent, the host publishes the agreed report to the partnership.
    let data = app
        .data_as(
            &host_head,
            r"mutation($input: ReviewConsentRecordInput!) { reviewConsentRecord(input: $input) { consent { scope } userErrors { field code } } }",
            json!({ "input": { "reviewId": id, "scope": "PARTNERSHIP" } }),
        )
        .await;
    assert_eq!(
        user_errors(&data, "reviewConsentRecord"),
        Vec::<Value>::new()
    );
    let data = app
        .data_as(
            &host_head,
            ADVANCE,
            json!({ "input": { "id": id, "to": "PUBLISHED_TO_PARTNERSHIP" } }),
        )
        .await;
    assert_eq!(
        data["reviewAdvance"]["review"]["status"], "PUBLISHED_TO_PARTNERSHIP",
        "{data}"
    );

    // Support from the lead's school; its time is recorded by that school, not the host.
    let data = app
        .data_as(
            &host_head,
            r"mutation($input: ReviewSupportRequestInput!) { reviewSupportRequest(input: $input) { supportRequest { id } userErrors { field code } } }",
            json!({ "input": { "actionId": action, "providingSchoolId": lead.school_id.to_global(), "request": "Two mornings with your English lead." } }),
        )
        .await;
    assert_eq!(
        user_errors(&data, "reviewSupportRequest"),
        Vec::<Value>::new()
    );
    let support = data["reviewSupportRequest"]["supportRequest"]["id"].clone();
    const RECORD: &str = r"mutation($input: ReviewSupportRecordTimeInput!) {
      reviewSupportRecordTime(input: $input) { supportRequest { hoursProvided } userErrors { field code } }
    }";
    let input = json!({ "input": { "id": support, "minutesProvided": 90 } });
    let token = app.token(&host_head).await;
    let (_, body) = app.gql(Some(&token), RECORD, input.clone()).await;
    assert!(body.get("errors").is_some(), "{body}");
    let data = app.data_as(&lead_email, RECORD, input).await;
    assert_eq!(
        data["reviewSupportRecordTime"]["supportRequest"]["hoursProvided"],
        1.5
    );
    let data = app
        .data_as(
            &host_head,
            r"mutation($input: ReviewActionSetStatusInput!) { reviewActionSetStatus(input: $input) { action { status support { hoursProvided } } userErrors { code } } }",
            json!({ "input": { "id": action, "status": "DONE" } }),
        )
        .await;
    assert_eq!(data["reviewActionSetStatus"]["action"]["status"], "DONE");
    assert_eq!(
        data["reviewActionSetStatus"]["action"]["support"]["hoursProvided"],
        1.5
    );

    // Finance sees the support to pay for (never the report); the host school does not.
    const PROVIDED: &str = r"query($s: ID!) {
      reviewSupportProvidedBy(schoolId: $s) { id hoursProvided providingSchool { id } }
    }";
    let vars = json!({ "s": lead.school_id.to_global() });
    let data = app.data_as(FINANCE, PROVIDED, vars.clone()).await;
    assert!(
        data["reviewSupportProvidedBy"]
            .as_array()
            .expect("list")
            .iter()
            .any(|s| s["id"] == support && s["hoursProvided"] == 1.5),
        "{data}"
    );
    let data = app.data_as(&lead_email, PROVIDED, vars.clone()).await;
    assert!(
        !data["reviewSupportProvidedBy"]
            .as_array()
            .expect("list")
            .is_empty()
    );
    let token = app.token(&host_head).await;
    let (_, body) = app.gql(Some(&token), PROVIDED, vars).await;
    assert_eq!(first_code(&body), "FORBIDDEN", "{body}");

    // Finance pays for the time: a credit on the providing school's account, once.
    const CREDIT: &str = r"mutation($input: ReviewSupportCreditInput!) {
      reviewSupportCredit(input: $input) {
        payment { id method amount { amountPence } unallocated { amountPence } account { schools { id } } }
        userErrors { field code }
      }
    }";
    let at =
        |rate: i64| json!({ "input": { "supportRequestId": support, "ratePencePerHour": rate } });
    let data = app.data_as(FINANCE, CREDIT, at(6_000)).await;
    let payment = data["reviewSupportCredit"]["payment"].clone();
    assert_eq!(payment["method"], "CREDIT", "{data}");
    assert_eq!(payment["amount"]["amountPence"], 9_000, "1.5 h at £60");
    assert_eq!(payment["unallocated"]["amountPence"], 9_000);
    assert!(
        payment["account"]["schools"]
            .as_array()
            .expect("schools")
            .iter()
            .any(|s| s["id"] == json!(lead.school_id.to_global())),
        "{payment}"
    );
    let again = app.data_as(FINANCE, CREDIT, at(6_000)).await;
    assert_eq!(again["reviewSupportCredit"]["payment"]["id"], payment["id"]);
    let data = app.data_as(FINANCE, CREDIT, at(7_000)).await;
    assert_eq!(
        data["reviewSupportCredit"]["userErrors"][0],
        json!({ "field": ["input", "ratePencePerHour"], "code": "CONFLICT" }),
        "{data}"
    );
    let data = app.data_as(FINANCE, CREDIT, at(0)).await;
    assert_eq!(
        data["reviewSupportCredit"]["userErrors"][0]["code"],
        "OUT_OF_RANGE"
    );

    // The school gives another hour after the credit: the next credit pays that hour only,
    // at the rate finance gives now, and the first credit stays as it was.
    let data = app
        .data_as(
            &lead_email,
            RECORD,
            json!({ "input": { "id": support, "minutesProvided": 150 } }),
        )
        .await;
    assert_eq!(
        data["reviewSupportRecordTime"]["supportRequest"]["hoursProvided"],
        2.5
    );
    let data = app.data_as(FINANCE, CREDIT, at(7_000)).await;
    let second = data["reviewSupportCredit"]["payment"].clone();
    assert_ne!(second["id"], payment["id"], "{data}");
    assert_eq!(
        second["amount"]["amountPence"], 7_000,
        "the new hour at £70"
    );
    // Asked again (a retry), the same credit; at another rate, nothing is left to credit.
    let again = app.data_as(FINANCE, CREDIT, at(7_000)).await;
    assert_eq!(again["reviewSupportCredit"]["payment"]["id"], second["id"]);
    let data = app.data_as(FINANCE, CREDIT, at(6_000)).await;
    assert_eq!(
        data["reviewSupportCredit"]["userErrors"][0],
        json!({ "field": ["input", "ratePencePerHour"], "code": "CONFLICT" }),
        "{data}"
    );
    // Time recorded down below what was paid cannot be credited: it is named, not wrapped.
    app.data_as(
        &lead_email,
        RECORD,
        json!({ "input": { "id": support, "minutesProvided": 60 } }),
    )
    .await;
    let data = app.data_as(FINANCE, CREDIT, at(7_000)).await;
    assert_eq!(
        data["reviewSupportCredit"]["userErrors"][0],
        json!({ "field": ["input", "supportRequestId"], "code": "CONFLICT" }),
        "{data}"
    );
    assert_eq!(data["reviewSupportCredit"]["payment"], Value::Null);
    // Each credit reaches the providing account's contact once (no SMTP here: the messages
    // wait in the outbox, readable by admins).
    let notifier = gateway::notify::Notifier::new(
        &common::config(&app.db),
        app.db.conn().clone(),
        std::sync::Arc::new(kernel::SystemClock),
    )
    .expect("notifier");
    notifier.pass().await.expect("notifications pass");
    let outbox = app
        .data_as(
            ADMIN,
            "query { outbox(first: 100) { edges { node { kind category subject text recipientEmail } } } }",
            json!({}),
        )
        .await;
    let messages: Vec<&Value> = outbox["outbox"]["edges"]
        .as_array()
        .expect("edges")
        .iter()
        .map(|e| &e["node"])
        .collect();
    let of_kind = |kind: &str| -> Vec<&Value> {
        messages
            .iter()
            .copied()
            .filter(|n| n["kind"] == kind)
            .collect()
    };
    let to_whom = |kind: &str| -> std::collections::BTreeSet<String> {
        of_kind(kind)
            .iter()
            .map(|n| n["recipientEmail"].as_str().unwrap_or_default().to_owned())
            .collect()
    };
    // The visit's dates reached the host's head and the whole team, once each; the
    // report's readiness and its publication reached the host, and no message quotes it.
    let scheduled = to_whom("review.scheduled");
    assert!(
        scheduled.contains(&host_head) && scheduled.contains(&lead_email),
        "{scheduled:?}"
    );
    assert_eq!(of_kind("review.scheduled").len(), scheduled.len());
    assert!(scheduled.len() > team.len(), "host and team: {scheduled:?}");
    let visit = of_kind("review.scheduled")
        .into_iter()
        .find(|n| n["recipientEmail"] == json!(lead_email))
        .expect("the lead's copy");
    let text = visit["text"].as_str().expect("text");
    assert!(
        text.contains("You are on the team") && text.contains("13 October 2026"),
        "{text}"
    );
    assert_eq!(visit["category"], "PEER_REVIEW");
    for kind in ["review.report_ready", "review.published"] {
        assert!(to_whom(kind).contains(&host_head), "{kind}: {outbox}");
        assert!(!to_whom(kind).contains(&lead_email), "{kind}");
        for message in of_kind(kind) {
            let text = message["text"].as_str().expect("text");
            assert!(!text.contains("ready to work on reading"), "{text}");
        }
    }
    let credits = of_kind("billing.time_credited");
    assert_eq!(credits.len(), 2, "{outbox}");
    assert!(
        credits.iter().any(|n| n["subject"]
            .as_str()
            .is_some_and(|s| s.starts_with("Credit for your time: £70.00"))
            && n["text"]
                .as_str()
                .is_some_and(|t| t.contains("School-to-school support, 1 hour at £70.00 an hour"))
            && n["category"] == "RECEIPTS"),
        "{credits:#?}"
    );
    // The providing school cannot pay itself.
    let token = app.token(&lead_email).await;
    let (_, body) = app.gql(Some(&token), CREDIT, at(6_000)).await;
    assert_eq!(first_code(&body), "FORBIDDEN", "{body}");
}

/// Each loader at one nesting level only: a loader used at two levels may or may not merge
/// its batches across them depending on timing, which would make the count flaky.
const REVIEW_LIST: &str = r"
query($c: ID!) {
  myReviews(cycleId: $c) {
    id status hostSchool { name }
    team { role name reviewer { training trainedOn } }
    selfReview { summary }
    findings { kind summary }
    actions { description support { hoursProvided } }
    consents { scope }
  }
}";

async fn a_review_list_costs_the_same_however_long(mut db: TestDb) {
    let counter = db.count_statements();
    let config = common::config(&db);
    let app = spawn_with(db, config).await;
    let cycle = demo_cycle(&app).await;
    let vars = json!({ "c": cycle.to_global() });
    let mut costs = Vec::new();
    let mut lengths = Vec::new();
    // The host head's few reviews (their own agreed one with everything) against every review.
    for who in [HEAD, ADMIN] {
        let token = app.token(who).await;
        let _ = app.gql(Some(&token), REVIEW_LIST, vars.clone()).await;
        counter.reset();
        let (_, body) = app.gql(Some(&token), REVIEW_LIST, vars.clone()).await;
        assert!(body.get("errors").is_none(), "{body}");
        lengths.push(body["data"]["myReviews"].as_array().map_or(0, Vec::len));
        costs.push(counter.get());
    }
    assert!(lengths[0] >= 1 && lengths[1] > lengths[0], "{lengths:?}");
    assert!(
        costs[1] <= costs[0],
        "statements for {} reviews vs {}: {costs:?}",
        lengths[0],
        lengths[1]
    );
}

testkit::db_tests!(
    groups_are_proposed_explained_edited_and_confirmed,
    a_report_is_read_by_its_host_team_and_staff_only,
    the_agreed_report_downloads_for_its_readers_only,
    themes_are_aggregate_and_hide_small_counts,
    workflow_steps_out_of_order_change_nothing,
    a_review_list_costs_the_same_however_long,
    a_review_runs_its_whole_workflow_over_http,
);
