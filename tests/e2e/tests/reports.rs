//! Reports and documents as files over HTTP, on SQLite and PostgreSQL: a session's delegate
//! list and sign-in sheets, a member of staff's CPD record, a course's feedback summary,
//! and invoices and credit notes — linked
//! from GraphQL for those who may have them, served as CSV and PDF (read back by a CSV
//! parser and a PDF reader) under the same bearer credential, and 404 to everyone else.

use crate::common;

use chrono::{DateTime, Utc};
use common::{ADMIN, HEAD, OTHER_HEAD, Portal, STAFF, user_errors};
use kernel::Clock as _;
use reqwest::StatusCode;
use serde_json::{Value, json};
use testkit::TestDb;

/// GET `path` (relative to the server) as `who` (or with no credential).
async fn get(p: &Portal, who: Option<&str>, path: &str) -> reqwest::Response {
    let mut req = p.client.get(format!("{}{path}", p.base));
    if let Some(who) = who {
        req = req.bearer_auth(p.token(who).await);
    }
    req.send().await.expect("response")
}

/// The body of a 200 with `content_type`.
async fn file(p: &Portal, who: &str, path: &str, content_type: &str) -> Vec<u8> {
    let res = get(p, Some(who), path).await;
    assert_eq!(res.status(), StatusCode::OK, "{who} {path}");
    assert!(
        res.headers()["content-type"]
            .to_str()
            .expect("ascii")
            .starts_with(content_type),
        "{path}: {:?}",
        res.headers()["content-type"]
    );
    assert_eq!(res.headers()["cache-control"], "private, no-store");
    res.bytes().await.expect("body").to_vec()
}

fn pdf_text(bytes: &[u8]) -> String {
    let doc = lopdf::Document::load_mem(bytes).expect("a PDF");
    let pages: Vec<u32> = doc.get_pages().keys().copied().collect();
    doc.extract_text(&pages).expect("text")
}

fn csv_rows(bytes: &[u8]) -> Vec<Vec<String>> {
    csv::Reader::from_reader(bytes)
        .records()
        .map(|r| r.expect("record").iter().map(str::to_owned).collect())
        .collect()
}

/// A one-part session of the demo's early-writing course a month from the clock, with
/// Holly Park's head booking the member of staff and a colleague.
async fn booked_session(p: &Portal) -> (Value, Value, DateTime<Utc>, Vec<String>) {
    let services = p
        .data(
            HEAD,
            "{ services(first: 50) { edges { node { id code } } } }",
            json!({}),
        )
        .await;
    let course = services["services"]["edges"]
        .as_array()
        .expect("edges")
        .iter()
        .map(|e| e["node"].clone())
        .find(|s| s["code"] == "CPD-EARLY-WRITING")
        .expect("demo course");
    let starts = p.clock.now() + chrono::Duration::days(30);
    let created = p
        .data(
            ADMIN,
            "mutation($input: SessionCreateInput!) { sessionCreate(input: $input) {
                session { id } userErrors { field code } } }",
            json!({ "input": {
                "serviceId": course["id"],
                "parts": [{ "startsAt": starts, "endsAt": starts + chrono::Duration::hours(6),
                            "venue": "Barnet Partnership Centre" }],
                "capacity": 8,
                "bookingDeadline": starts - chrono::Duration::days(7),
            } }),
        )
        .await;
    assert_eq!(user_errors(&created["sessionCreate"]), vec![], "{created}");
    let session = created["sessionCreate"]["session"]["id"].clone();
    let booked = p
        .data(
            HEAD,
            "mutation($input: BookingCreateInput!) { bookingCreate(input: $input) {
                booking { attendees { id } } userErrors { field code } } }",
            json!({ "input": { "schoolId": p.school(), "sessionId": session,
                "settlement": "INVOICE",
                "attendees": [
                    { "name": "Sam Staff", "email": STAFF, "role": "Year 2 teacher" },
                    { "name": "Cara Dunn", "email": "cara.dunn@holly-park.example" }] } }),
        )
        .await;
    assert_eq!(user_errors(&booked["bookingCreate"]), vec![], "{booked}");
    let people = booked["bookingCreate"]["booking"]["attendees"]
        .as_array()
        .expect("attendees")
        .iter()
        .map(|a| a["id"].as_str().expect("id").to_owned())
        .collect();
    (session, course["id"].clone(), starts, people)
}

async fn delegate_lists_cpd_records_and_feedback_are_files_for_those_who_may_have_them(db: TestDb) {
    let config = common::config(&db);
    let p = Portal::spawn(db, &config).await;
    let (session, course, starts, people) = booked_session(&p).await;

    // The delegate list and sign-in sheet: linked for the provider (partnership staff),
    // not for a booking school.
    let links = "query($id: ID!) { session(id: $id) { delegateListUrl signInSheetUrl } }";
    let staff_links = p.data(ADMIN, links, json!({ "id": session })).await["session"].clone();
    let delegates = staff_links["delegateListUrl"]
        .as_str()
        .expect("a link for the provider")
        .to_owned();
    let sign_in = staff_links["signInSheetUrl"]
        .as_str()
        .expect("a link for the provider")
        .to_owned();
    let head_links = p.data(HEAD, links, json!({ "id": session })).await["session"].clone();
    assert!(head_links["delegateListUrl"].is_null(), "{head_links}");
    assert!(head_links["signInSheetUrl"].is_null(), "{head_links}");

    let text = pdf_text(&file(&p, ADMIN, &delegates, "application/pdf").await);
    for expected in [
        "Delegate list",
        "Sam Staff",
        "Cara Dunn",
        "Holly Park",
        "Year 2 teacher",
    ] {
        assert!(text.contains(expected), "{expected} in {text}");
    }
    let csv_path = delegates.replace(".pdf", ".csv");
    let rows = csv_rows(&file(&p, ADMIN, &csv_path, "text/csv").await);
    let names: Vec<&str> = rows.iter().map(|r| r[1].as_str()).collect();
    assert_eq!(names, ["Cara Dunn", "Sam Staff"]);
    assert!(pdf_text(&file(&p, ADMIN, &sign_in, "application/pdf").await).contains("Signature"));
    // Everyone else: 404 as for a session that does not exist; no credential, 401; a file
    // the route does not serve, 404.
    for who in [HEAD, STAFF, OTHER_HEAD] {
        assert_eq!(
            get(&p, Some(who), &delegates).await.status(),
            StatusCode::NOT_FOUND,
            "{who}"
        );
        assert_eq!(
            get(&p, Some(who), &sign_in).await.status(),
            StatusCode::NOT_FOUND,
            "{who}"
        );
    }
    assert_eq!(
        get(&p, None, &delegates).await.status(),
        StatusCode::UNAUTHORIZED
    );
    for bad in [
        delegates.replace("delegates.pdf", "delegates.xlsx"),
        delegates.replace("delegates.pdf", "sign-in.csv"),
        "/reports/sessions/not-an-id/delegates.pdf".to_owned(),
        format!("/reports/sessions/{}/delegates.pdf", p.school()),
    ] {
        assert_eq!(
            get(&p, Some(ADMIN), &bad).await.status(),
            StatusCode::NOT_FOUND,
            "{bad}"
        );
    }

    // The session takes place; the register says the member of staff came.
    p.clock.set(starts + chrono::Duration::hours(7));
    let marked = p
        .data(
            ADMIN,
            "mutation($input: AttendanceRecordInput!) { attendanceRecord(input: $input) {
                userErrors { field code } } }",
            json!({ "input": { "sessionId": session, "marks": [
                { "attendeeId": people[0], "attendance": "ATTENDED" },
                { "attendeeId": people[1], "attendance": "NO_SHOW" }] } }),
        )
        .await;
    assert_eq!(user_errors(&marked["attendanceRecord"]), vec![], "{marked}");

    // The CPD record: the member of staff's own, and their head's; not another school's.
    let me = "{ viewer { user { id cpdRecordUrl } } }";
    let mine = p.data(STAFF, me, json!({})).await["viewer"]["user"].clone();
    let record = mine["cpdRecordUrl"]
        .as_str()
        .expect("own record")
        .to_owned();
    let rows = csv_rows(&file(&p, STAFF, &record.replace(".pdf", ".csv"), "text/csv").await);
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!(rows[0][2], "CPD-EARLY-WRITING");
    assert_eq!(rows[0][6], "Attended");
    assert_eq!(rows[0][7], "360");
    assert!(rows[0][8].starts_with("TRL-"), "a certificate: {rows:?}");
    let text = pdf_text(&file(&p, HEAD, &record, "application/pdf").await);
    assert!(text.contains("6 h attended at 1 of 1 sessions"), "{text}");
    assert_eq!(
        get(&p, Some(OTHER_HEAD), &record).await.status(),
        StatusCode::NOT_FOUND
    );
    let by_user = "query($id: ID!) { node(id: $id) { ... on User { cpdRecordUrl } } }";
    let foreign = p
        .gql(OTHER_HEAD, by_user, json!({ "id": mine["id"] }))
        .await;
    assert!(
        foreign["data"]["node"].is_null() || foreign["data"]["node"]["cpdRecordUrl"].is_null(),
        "{foreign}"
    );
    let bad_year = get(&p, Some(STAFF), &format!("{record}?year=2026")).await;
    assert_eq!(bad_year.status(), StatusCode::BAD_REQUEST);

    // Feedback, then the course's summary for the term it ran in: the provider's.
    let given = p
        .data(
            HEAD,
            "mutation($input: FeedbackSubmitInput!) { feedbackSubmit(input: $input) {
                userErrors { field code } } }",
            json!({ "input": { "attendeeId": people[0], "rating": 4,
                               "comment": "Practical, and the moderation examples helped." } }),
        )
        .await;
    assert_eq!(user_errors(&given["feedbackSubmit"]), vec![], "{given}");
    let day = starts.date_naive();
    let year = kernel::AcademicYear::containing(day);
    let term = match kernel::Term::containing(day) {
        kernel::Term::Autumn => "AUTUMN",
        kernel::Term::Spring => "SPRING",
        kernel::Term::Summer => "SUMMER",
    };
    let summary_link = "query($id: ID!, $year: AcademicYear!, $term: Term!) { service(id: $id) {
        feedbackSummaryUrl(academicYear: $year, term: $term) } }";
    let vars = json!({ "id": course, "year": year.to_string(), "term": term });
    let link = p.data(ADMIN, summary_link, vars.clone()).await["service"]["feedbackSummaryUrl"]
        .as_str()
        .expect("the provider's link")
        .to_owned();
    assert!(p.data(HEAD, summary_link, vars).await["service"]["feedbackSummaryUrl"].is_null());
    let text = pdf_text(&file(&p, ADMIN, &link, "application/pdf").await);
    assert!(text.contains("4.00 out of 5"), "{text}");
    let rows = csv_rows(&file(&p, ADMIN, &link.replace(".pdf", ".csv"), "text/csv").await);
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0][1], "4");
    assert_eq!(
        get(&p, Some(HEAD), &link).await.status(),
        StatusCode::NOT_FOUND
    );
    let no_term = link.split('&').next().expect("path and year").to_owned();
    assert_eq!(
        get(&p, Some(ADMIN), &no_term).await.status(),
        StatusCode::BAD_REQUEST
    );
}

/// Invoices and credit notes as PDFs rendered by Trellis, without Stripe: linked from
/// `Invoice.documentUrl` and `CreditNote.documentUrl`, for the school's people and finance;
/// 404 to another school.
async fn invoice_and_credit_note_documents_are_the_schools_and_finances(db: TestDb) {
    let mut config = common::config(&db);
    config.partnership_address = Some("48 Station Road, London, N22 7TY".to_owned());
    config.bank_account_name = Some("Barnet Partnership".to_owned());
    config.bank_sort_code = Some("204577".to_owned());
    config.bank_account_number = Some("73215588".to_owned());
    let p = Portal::spawn(db, &config).await;
    let invoices = "{ invoices(first: 50) { edges { node { id number documentUrl
        outstanding { amountPence } } } } }";
    // One with money still to pay, so the document says how.
    let first = p.data(HEAD, invoices, json!({})).await["invoices"]["edges"]
        .as_array()
        .expect("edges")
        .iter()
        .map(|e| e["node"].clone())
        .find(|i| i["outstanding"]["amountPence"].as_i64() > Some(1000))
        .expect("an unpaid demo invoice");
    let url = first["documentUrl"]
        .as_str()
        .expect("a document")
        .to_owned();
    let number = first["number"].as_str().expect("number").to_owned();
    for who in [HEAD, common::FINANCE] {
        let text = pdf_text(&file(&p, who, &url, "application/pdf").await);
        for expected in [
            format!("Invoice {number}"),
            "48 Station Road".to_owned(),
            "20-45-77".to_owned(),
            format!("quoting {number} as the reference"),
        ] {
            assert!(text.contains(&expected), "{who}: {expected} in {text}");
        }
    }
    assert_eq!(
        get(&p, Some(OTHER_HEAD), &url).await.status(),
        StatusCode::NOT_FOUND
    );
    assert_eq!(get(&p, None, &url).await.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        get(&p, Some(HEAD), &url.replace("invoice.pdf", "invoice.csv"))
            .await
            .status(),
        StatusCode::NOT_FOUND
    );

    let credited = p
        .data(
            common::FINANCE,
            "mutation($input: CreditNoteCreateInput!) { creditNoteCreate(input: $input) {
                creditNote { number documentUrl } userErrors { field code } } }",
            json!({ "input": { "invoiceId": first["id"], "reason": "Joined late",
                               "amountPence": 1000 } }),
        )
        .await;
    assert_eq!(
        user_errors(&credited["creditNoteCreate"]),
        vec![],
        "{credited}"
    );
    let note = &credited["creditNoteCreate"]["creditNote"];
    let note_url = note["documentUrl"].as_str().expect("a document").to_owned();
    let text = pdf_text(&file(&p, HEAD, &note_url, "application/pdf").await);
    assert!(
        text.contains(note["number"].as_str().expect("number")),
        "{text}"
    );
    assert!(
        text.contains("Joined late") && text.contains("£10.00"),
        "{text}"
    );
    assert_eq!(
        get(&p, Some(OTHER_HEAD), &note_url).await.status(),
        StatusCode::NOT_FOUND
    );
}

testkit::db_tests!(
    delegate_lists_cpd_records_and_feedback_are_files_for_those_who_may_have_them,
    invoice_and_credit_note_documents_are_the_schools_and_finances,
);
