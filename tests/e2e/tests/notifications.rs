//! Notifications end to end, on SQLite and PostgreSQL: changes made over GraphQL reach a real
//! SMTP server on loopback as MIME messages (both parts, calendar invitations and
//! cancellations read back by a real iCalendar parser), the same messages reach each
//! person's inbox and nobody else's, mutes and unsubscribe links hold, a refused address is
//! dead-lettered and retried by an admin, an SMTP server that goes away loses nothing and
//! sends nothing twice, and calendar feeds are served and revoked.
//!
//! The worker runs as the server runs it (`gateway::notify::Notifier`), one pass at a time,
//! on a clock the test holds so retries can come due.

use crate::common;

use std::collections::HashSet;
use std::time::Duration;

use chrono::{DateTime, Utc};
use common::{ADMIN, FINANCE, HEAD, STAFF};
use gateway::Config;
use gateway::graphql::relay::GlobalId as _;
use gateway::notify::Notifier;
use icalendar::parser::{read_calendar, unfold};
use kernel::{Actor, Clock as _};
use serde_json::{Value, json};
use testkit::TestDb;
use testkit::smtp::{Mail, SmtpSink, parse};

use common::{OTHER_HEAD, OTHER_URN, code, user_errors};

/// The shared portal ([`common::Portal`]) with a notifications worker beside it, as the
/// server runs one, mailing to the test's SMTP sink.
struct Portal {
    inner: common::Portal,
    notifier: Notifier,
}

impl std::ops::Deref for Portal {
    type Target = common::Portal;

    fn deref(&self) -> &common::Portal {
        &self.inner
    }
}

/// How every notification test configures the app: mail to `sink`, as a partnership.
fn mailing_config(db: &TestDb, sink: &SmtpSink) -> Config {
    Config {
        smtp_url: Some(sink.url()),
        mail_from: "Heath Hill CPD <cpd@heathhill.example>".to_owned(),
        partnership_name: "Heath Hill Partnership".to_owned(),
        public_url: Some("https://trellis.heathhill.example".to_owned()),
        ..common::config(db)
    }
}

async fn spawn(db: TestDb, sink: &SmtpSink) -> Portal {
    let config = mailing_config(&db, sink);
    spawn_with(db, &config).await
}

async fn spawn_with(db: TestDb, config: &Config) -> Portal {
    let inner = common::Portal::spawn(db, config).await;
    let notifier =
        Notifier::new(config, inner.db.conn().clone(), inner.clock.clone()).expect("notifier");
    Portal { inner, notifier }
}

impl Portal {
    /// One worker pass, as the server's loop makes.
    async fn pass(&self) -> notifications::worker::Pass {
        self.notifier.pass().await.expect("notifications pass")
    }
}

const SERVICES: &str = "query { services(first: 50) { edges { node { id code } } } }";
const SESSION_CREATE: &str =
    "mutation($input: SessionCreateInput!) { sessionCreate(input: $input) {
    session { id } userErrors { field code message } } }";
const BOOK: &str = "mutation($input: BookingCreateInput!) { bookingCreate(input: $input) {
    booking { id status } userErrors { field code message } } }";
const REQUEST: &str = "mutation($input: BookingRequestInput!) { bookingRequest(input: $input) {
    booking { id status } userErrors { field code } } }";
const DECLINE: &str = "mutation($id: ID!, $reason: String!) {
    bookingDecline(input: { bookingId: $id, reason: $reason }) { booking { id status } userErrors { field code } } }";
const CANCEL: &str =
    "mutation($id: ID!) { bookingCancel(input: { bookingId: $id, reason: \"plans changed\" }) {
    booking { id status } userErrors { field code } } }";
const INBOX: &str = "query($unread: Boolean! = false) { viewer { unreadNotificationCount
    notifications(first: 100, unreadOnly: $unread) { edges { node {
      id kind category subject text html calendar recipientEmail status readAt } } } } }";

/// A session of a demo course a month ahead, in two parts a week apart.
async fn session(p: &Portal, capacity: u32) -> String {
    let services = p.data(HEAD, SERVICES, json!({})).await;
    let course = services["services"]["edges"]
        .as_array()
        .expect("edges")
        .iter()
        .find(|e| e["node"]["code"] == "CPD-EARLY-WRITING")
        .expect("demo course")["node"]["id"]
        .clone();
    let starts: DateTime<Utc> = p.clock.now() + chrono::Duration::days(30);
    let data = p
        .data(
            ADMIN,
            SESSION_CREATE,
            json!({ "input": {
                "serviceId": course,
                "parts": [
                    { "startsAt": starts, "endsAt": starts + chrono::Duration::hours(3),
                      "venue": "Barnet Partnership Centre" },
                    { "startsAt": starts + chrono::Duration::days(7),
                      "endsAt": starts + chrono::Duration::days(7) + chrono::Duration::hours(3),
                      "venue": "Barnet Partnership Centre" }
                ],
                "capacity": capacity,
                "bookingDeadline": starts - chrono::Duration::days(7),
            } }),
        )
        .await;
    assert_eq!(user_errors(&data["sessionCreate"]), vec![], "{data}");
    data["sessionCreate"]["session"]["id"]
        .as_str()
        .expect("id")
        .to_owned()
}

fn person(name: &str, email: &str) -> Value {
    json!({ "name": name, "email": email, "role": "Teacher" })
}

/// The messages received since `from`, parsed.
fn mails(sink: &SmtpSink, from: usize) -> Vec<Mail> {
    sink.raw().iter().skip(from).map(|raw| parse(raw)).collect()
}

fn to<'a>(mails: &'a [Mail], address: &str) -> Vec<&'a Mail> {
    mails.iter().filter(|m| m.to == address).collect()
}

/// Asserts that the calendar carries Europe/London's VTIMEZONE and that every event's start
/// and end are local times naming it (`DTSTART;TZID=Europe/London:20270112T093000`).
fn zoned_in_london(calendar: &icalendar::parser::Calendar<'_>) {
    let zone = calendar
        .components
        .iter()
        .find(|c| c.name == "VTIMEZONE")
        .expect("a VTIMEZONE");
    assert!(
        zone.properties
            .iter()
            .any(|p| p.name == "TZID" && p.val == "Europe/London"),
        "{zone:?}"
    );
    for event in calendar.components.iter().filter(|c| c.name == "VEVENT") {
        for name in ["DTSTART", "DTEND"] {
            let p = event
                .properties
                .iter()
                .find(|p| p.name == name)
                .expect("start and end");
            let tzid = p
                .params
                .iter()
                .find(|k| k.key == "TZID")
                .and_then(|k| k.val.as_ref())
                .map(|v| v.as_str().to_owned());
            assert_eq!(tzid.as_deref(), Some("Europe/London"), "{p:?}");
            assert!(!p.val.as_str().ends_with('Z'), "a local time: {p:?}");
        }
    }
}

/// The calendar attachment of a message, parsed: (METHOD, [(UID, DTSTART)]).
fn calendar_of(mail: &Mail) -> (String, Vec<(String, String)>) {
    let (content_type, body) = mail
        .attachments
        .iter()
        .find(|(ct, _)| ct.starts_with("text/calendar"))
        .unwrap_or_else(|| panic!("no calendar attachment in {mail:?}"));
    let unfolded = unfold(body);
    let calendar = read_calendar(&unfolded).expect("an iCalendar parser reads it");
    let method = calendar
        .properties
        .iter()
        .find(|p| p.name == "METHOD")
        .map(|p| p.val.to_string())
        .unwrap_or_default();
    assert!(
        content_type.contains(&format!("method={method}")),
        "{content_type}"
    );
    zoned_in_london(&calendar);
    let events = calendar
        .components
        .iter()
        .filter(|c| c.name == "VEVENT")
        .map(|c| {
            let prop = |n: &str| {
                c.properties
                    .iter()
                    .find(|p| p.name == n)
                    .map(|p| p.val.to_string())
                    .unwrap_or_default()
            };
            (prop("UID"), prop("DTSTART"))
        })
        .collect();
    (method, events)
}

async fn booking_journeys_reach_inboxes_and_the_smtp_server(db: TestDb) {
    let Some(sink) = SmtpSink::start() else {
        return;
    };
    let p = spawn(db, &sink).await;

    // The demo year's invoices were issued at seeding: each account's contact is told.
    let demo = p.pass().await;
    assert!(demo.delivered.sent > 0, "{demo:?}");
    assert_eq!(demo.delivered.dead, 0, "{demo:?}");
    let received = mails(&sink, 0);
    let invoice = received
        .iter()
        .find(|m| m.subject.starts_with("Invoice TRL-"))
        .expect("an invoice email from the demo run");
    assert!(
        invoice.subject.contains("from Heath Hill Partnership"),
        "{}",
        invoice.subject
    );
    assert!(invoice.text.contains("Due:"), "{}", invoice.text);
    assert!(
        invoice.text.contains("quoting TRL-"),
        "offline: pay by transfer\n{}",
        invoice.text
    );
    assert!(invoice.html.contains("<strong>TRL-"), "{}", invoice.html);
    assert_eq!(invoice.from, "cpd@heathhill.example");
    // The invoice itself rides along as a PDF a reader opens.
    let number = invoice
        .subject
        .split_whitespace()
        .nth(1)
        .expect("Invoice TRL-… from …");
    let (name, pdf) = invoice
        .files
        .iter()
        .find(|(name, _)| name.starts_with("invoice-"))
        .expect("the invoice attached");
    assert_eq!(name, &format!("invoice-{number}.pdf"));
    assert!(
        invoice
            .attachments
            .iter()
            .any(|(ct, _)| ct.starts_with("application/pdf")),
        "{:?}",
        invoice
            .attachments
            .iter()
            .map(|(ct, _)| ct)
            .collect::<Vec<_>>()
    );
    let document = lopdf::Document::load_mem(pdf).expect("a PDF");
    let pages: Vec<u32> = document.get_pages().keys().copied().collect();
    let printed = document.extract_text(&pages).expect("text");
    assert!(printed.contains(&format!("Invoice {number}")), "{printed}");
    assert!(printed.contains("Heath Hill Partnership"), "{printed}");
    // The demo's receipts were allocated: the contact is told what each paid.
    let receipt = received
        .iter()
        .find(|m| m.subject.starts_with("Payment received: £"))
        .expect("a receipt email from the demo's payments");
    assert!(
        receipt.text.contains("has been applied to:"),
        "{}",
        receipt.text
    );
    assert!(
        receipt.text.contains(": £") && receipt.text.contains("TRL-"),
        "{}",
        receipt.text
    );
    // Nothing is sent twice: a second pass finds nothing to do.
    let again = p.pass().await;
    assert_eq!(
        (again.fanned_out.events, again.delivered.claimed()),
        (0, 0),
        "{again:?}"
    );
    let baseline = sink.count();

    // A head books two named people, one of them with a name that is markup.
    let session_id = session(&p, 10).await;
    let booked = p
        .data(
            HEAD,
            BOOK,
            json!({ "input": { "schoolId": p.school(), "sessionId": session_id, "settlement": "INVOICE",
                "poNumber": "HP-77",
                "attendees": [person("<script>alert(1)</script>", "amy.lee@holly-park.example"),
                              person("Ben Ode", "ben.ode@holly-park.example")] } }),
        )
        .await["bookingCreate"]
        .clone();
    assert_eq!(booked["booking"]["status"], "CONFIRMED", "{booked}");
    let booking_id = booked["booking"]["id"].as_str().expect("id").to_owned();
    let pass = p.pass().await;
    assert_eq!(pass.fanned_out.events, 1, "{pass:?}");
    let confirmed = mails(&sink, baseline);
    // One invitation per attendee, one confirmation to the head who booked.
    assert_eq!(confirmed.len(), 3, "{confirmed:#?}");
    let amy = to(&confirmed, "amy.lee@holly-park.example");
    assert_eq!(amy.len(), 1);
    let amy = amy[0];
    assert_eq!(
        amy.envelope_to,
        vec!["amy.lee@holly-park.example".to_owned()]
    );
    assert!(amy.subject.starts_with("Your place on "), "{}", amy.subject);
    assert!(amy.text.contains("You have a place on:"), "{}", amy.text);
    assert!(
        amy.text.contains("Barnet Partnership Centre"),
        "{}",
        amy.text
    );
    assert!(
        amy.text.contains("<script>alert(1)</script>"),
        "plain text is plain: {}",
        amy.text
    );
    assert!(amy.html.contains("&lt;script&gt;"), "{}", amy.html);
    assert!(
        !amy.html.contains("<script>"),
        "user text is escaped in HTML: {}",
        amy.html
    );
    let (method, events) = calendar_of(amy);
    assert_eq!(method, "REQUEST");
    assert_eq!(events.len(), 2, "one event per session part: {events:?}");
    let uid_of_booking = kernel::BookingId::from_uuid(
        gateway::graphql::relay::decode(&booking_id)
            .expect("global id")
            .1,
    );
    assert_eq!(events[0].0, format!("{uid_of_booking}-1@trellis"));
    // The invitation's local start is the time the message gives (both Europe/London).
    let start = &events[0].1;
    assert_eq!(start.len(), 15, "local YYYYMMDDTHHMMSS: {events:?}");
    let hh_mm = format!("{}:{}", &start[9..11], &start[11..13]);
    assert!(amy.text.contains(&hh_mm), "{hh_mm} in {}", amy.text);
    let head = to(&confirmed, HEAD);
    assert_eq!(head.len(), 1, "{confirmed:#?}");
    assert!(
        head[0].subject.starts_with("Booking confirmed: "),
        "{}",
        head[0].subject
    );
    assert!(head[0].text.contains("(PO HP-77)"), "{}", head[0].text);
    assert!(
        head[0].attachments.is_empty(),
        "the booker gets no invitation"
    );
    let ids: HashSet<&str> = confirmed.iter().map(|m| m.message_id.as_str()).collect();
    assert_eq!(ids.len(), 3, "each message has its own Message-ID");

    // The head's inbox has the confirmation; the member of staff's does not.
    let inbox = p.data(HEAD, INBOX, json!({ "unread": true })).await;
    let head_items = inbox["viewer"]["notifications"]["edges"]
        .as_array()
        .expect("edges")
        .clone();
    assert!(
        head_items
            .iter()
            .any(|e| e["node"]["kind"] == "booking.confirmed"
                && e["node"]["status"] == "SENT"
                && e["node"]["recipientEmail"] == HEAD),
        "{inbox}"
    );
    let staff_inbox = p.data(STAFF, INBOX, json!({})).await;
    let staff_items = staff_inbox["viewer"]["notifications"]["edges"]
        .as_array()
        .expect("edges");
    assert!(
        staff_items
            .iter()
            .all(|e| e["node"]["recipientEmail"] == STAFF),
        "nobody reads another's messages: {staff_inbox}"
    );
    // Marking another person's message read is NOT_FOUND and marks nothing.
    let heads_id = head_items[0]["node"]["id"].clone();
    let mark = "mutation($ids: [ID!]!) { notificationMarkRead(input: { ids: $ids }) {
        notifications { id readAt } userErrors { field code } } }";
    let meddle = p.data(STAFF, mark, json!({ "ids": [heads_id] })).await;
    assert_eq!(
        user_errors(&meddle["notificationMarkRead"]),
        vec![("input.ids.0".to_owned(), "NOT_FOUND".to_owned())]
    );
    let unread_before = inbox["viewer"]["unreadNotificationCount"]
        .as_u64()
        .expect("count");
    let marked = p.data(HEAD, mark, json!({ "ids": [heads_id] })).await;
    assert!(
        marked["notificationMarkRead"]["notifications"][0]["readAt"].is_string(),
        "{marked}"
    );
    let after = p.data(HEAD, INBOX, json!({})).await;
    assert_eq!(
        after["viewer"]["unreadNotificationCount"].as_u64(),
        Some(unread_before - 1)
    );

    // A staff request goes to the school's leaders; the decline, with its reason, to staff.
    let mark_count = sink.count();
    let request = p
        .data(
            STAFF,
            REQUEST,
            json!({ "input": { "schoolId": p.school(), "sessionId": session_id,
                "attendees": [person("Dev Rao", "dev.rao@holly-park.example")] } }),
        )
        .await["bookingRequest"]
        .clone();
    assert_eq!(
        request["booking"]["status"], "PENDING_APPROVAL",
        "{request}"
    );
    p.pass().await;
    let asked = mails(&sink, mark_count);
    let to_head = to(&asked, HEAD);
    assert_eq!(to_head.len(), 1, "{asked:#?}");
    assert!(
        to_head[0]
            .subject
            .starts_with("Request awaiting your approval"),
        "{}",
        to_head[0].subject
    );
    assert!(to_head[0].text.contains("Dev Rao"), "{}", to_head[0].text);
    assert!(
        to(&asked, STAFF).is_empty(),
        "the requester is not told they asked"
    );
    let declined = p
        .data(
            HEAD,
            DECLINE,
            json!({ "id": request["booking"]["id"], "reason": "Budget & cover: <next term>" }),
        )
        .await;
    assert_eq!(
        user_errors(&declined["bookingDecline"]),
        vec![],
        "{declined}"
    );
    let mark_count = sink.count();
    p.pass().await;
    let told = mails(&sink, mark_count);
    let to_staff = to(&told, STAFF);
    assert_eq!(to_staff.len(), 1, "{told:#?}");
    assert!(
        to_staff[0].subject.starts_with("Request declined"),
        "{}",
        to_staff[0].subject
    );
    assert!(
        to_staff[0]
            .text
            .contains("Reason: Budget & cover: <next term>"),
        "{}",
        to_staff[0].text
    );
    assert!(
        to_staff[0]
            .html
            .contains("Budget &amp; cover: &lt;next term&gt;"),
        "{}",
        to_staff[0].html
    );

    // Cancelling: each attendee's calendar gets a CANCEL for the same UIDs; the head the terms.
    let cancelled = p.data(HEAD, CANCEL, json!({ "id": booking_id })).await;
    assert_eq!(
        cancelled["bookingCancel"]["booking"]["status"], "CANCELLED",
        "{cancelled}"
    );
    let mark_count = sink.count();
    p.pass().await;
    let gone = mails(&sink, mark_count);
    let ben = to(&gone, "ben.ode@holly-park.example");
    assert_eq!(ben.len(), 1, "{gone:#?}");
    let (method, cancelled_events) = calendar_of(ben[0]);
    assert_eq!(method, "CANCEL");
    assert_eq!(
        cancelled_events.iter().map(|e| &e.0).collect::<Vec<_>>(),
        events.iter().map(|e| &e.0).collect::<Vec<_>>(),
        "the cancellation names the invitation's UIDs"
    );
    let head_cancel = to(&gone, HEAD);
    assert_eq!(head_cancel.len(), 1);
    assert!(
        head_cancel[0].subject.starts_with("Booking cancelled"),
        "{}",
        head_cancel[0].subject
    );
    assert!(
        head_cancel[0].text.contains("plans changed"),
        "{}",
        head_cancel[0].text
    );

    // Unsubscribing from the link in an email mutes that category for its recipient only.
    let link = head_cancel[0]
        .text
        .lines()
        .find_map(|l| {
            l.split_once("Stop emails about bookings: ")
                .map(|(_, url)| url.trim().to_owned())
        })
        .expect("an unsubscribe link");
    assert!(
        link.starts_with("https://trellis.heathhill.example/notifications/unsubscribe/"),
        "{link}"
    );
    // Mail clients offer the same link as an unsubscribe button (RFC 8058).
    assert_eq!(
        head_cancel[0].list_unsubscribe.as_deref(),
        Some(format!("<{link}>").as_str())
    );
    assert_eq!(
        invoice.list_unsubscribe, None,
        "an invoice cannot be unsubscribed from"
    );
    let local = link.replace("https://trellis.heathhill.example", &p.base);
    let page = p.client.get(&local).send().await.expect("GET");
    assert_eq!(page.status(), 200);
    assert!(
        page.text()
            .await
            .expect("page")
            .contains("<form method=\"post\""),
        "GET never unsubscribes"
    );
    let prefs = "query { viewer { notificationPreferences { category muted mutable } } }";
    let muted_now = |v: &Value, category: &str| {
        v["viewer"]["notificationPreferences"]
            .as_array()
            .expect("prefs")
            .iter()
            .find(|x| x["category"] == category)
            .expect("category")["muted"]
            .as_bool()
            .expect("muted")
    };
    assert!(!muted_now(
        &p.data(HEAD, prefs, json!({})).await,
        "BOOKINGS"
    ));
    let done = p.client.post(&local).send().await.expect("POST");
    assert_eq!(done.status(), 200);
    assert!(
        done.text()
            .await
            .expect("page")
            .contains("no longer receive emails about bookings")
    );
    assert!(muted_now(&p.data(HEAD, prefs, json!({})).await, "BOOKINGS"));
    assert!(!muted_now(
        &p.data(STAFF, prefs, json!({})).await,
        "BOOKINGS"
    ));
    let forged = p
        .client
        .post(format!("{}/notifications/unsubscribe/not-a-token", p.base))
        .send()
        .await
        .expect("POST");
    assert_eq!(forged.status(), 404);

    // Muted: the next booking's confirmation reaches the head's inbox but not their email.
    let mark_count = sink.count();
    let second = p
        .data(
            HEAD,
            BOOK,
            json!({ "input": { "schoolId": p.school(), "sessionId": session_id, "settlement": "INVOICE",
                "attendees": [person("Cara Dunn", "cara.dunn@holly-park.example")] } }),
        )
        .await;
    assert_eq!(
        second["bookingCreate"]["booking"]["status"], "CONFIRMED",
        "{second}"
    );
    p.pass().await;
    let now_sent = mails(&sink, mark_count);
    assert!(to(&now_sent, HEAD).is_empty(), "muted: {now_sent:#?}");
    assert_eq!(to(&now_sent, "cara.dunn@holly-park.example").len(), 1);
    let inbox = p.data(HEAD, INBOX, json!({})).await;
    assert!(
        inbox["viewer"]["notifications"]["edges"]
            .as_array()
            .expect("edges")
            .iter()
            .any(|e| e["node"]["status"] == "MUTED"),
        "{inbox}"
    );
    // Money owed cannot be muted.
    let update = "mutation($muted: [NotificationCategory!]!) {
        notificationPreferencesUpdate(input: { muted: $muted }) {
          preferences { category muted } userErrors { field code } } }";
    let refused = p
        .data(HEAD, update, json!({ "muted": ["BOOKINGS", "INVOICES"] }))
        .await;
    assert_eq!(
        user_errors(&refused["notificationPreferencesUpdate"]),
        vec![("input.muted.1".to_owned(), "INVALID".to_owned())]
    );
    let reset = p.data(HEAD, update, json!({ "muted": [] })).await;
    assert_eq!(user_errors(&reset["notificationPreferencesUpdate"]), vec![]);
    assert!(!muted_now(
        &p.data(HEAD, prefs, json!({})).await,
        "BOOKINGS"
    ));
}

async fn a_refused_address_is_dead_lettered_and_a_lost_server_loses_nothing(db: TestDb) {
    let Some(mut sink) = SmtpSink::start() else {
        return;
    };
    let p = spawn(db, &sink).await;
    p.pass().await;
    let session_id = session(&p, 30).await;

    // The server refuses one address for good: that message is DEAD with the reason.
    let baseline = sink.count();
    let booked = p
        .data(
            HEAD,
            BOOK,
            json!({ "input": { "schoolId": p.school(), "sessionId": session_id, "settlement": "INVOICE",
                "attendees": [person("Rex Jay", "reject.rex@holly-park.example"),
                              person("Ann Bee", "ann.bee@holly-park.example")] } }),
        )
        .await;
    assert_eq!(
        booked["bookingCreate"]["booking"]["status"], "CONFIRMED",
        "{booked}"
    );
    let pass = p.pass().await;
    assert_eq!(
        (pass.delivered.sent, pass.delivered.dead),
        (2, 1),
        "{pass:?}"
    );
    assert_eq!(sink.count(), baseline + 2);
    let outbox = "query($status: DeliveryStatusValue) { outbox(first: 10, status: $status) {
        edges { node { id recipientEmail status attempts lastError } } } }";
    let dead = p.data(ADMIN, outbox, json!({ "status": "DEAD" })).await;
    let dead = dead["outbox"]["edges"].as_array().expect("edges").clone();
    assert_eq!(dead.len(), 1, "{dead:?}");
    assert_eq!(
        dead[0]["node"]["recipientEmail"],
        "reject.rex@holly-park.example"
    );
    assert!(
        dead[0]["node"]["lastError"]
            .as_str()
            .expect("reason")
            .contains("550"),
        "{dead:?}"
    );
    // Only admins see the outbox or retry.
    assert_eq!(code(&p.gql(HEAD, outbox, json!({})).await), "FORBIDDEN");
    let retry = "mutation($id: ID!) { outboxRetry(input: { id: $id }) {
        notification { status attempts } userErrors { field code } } }";
    assert_eq!(
        code(
            &p.gql(HEAD, retry, json!({ "id": dead[0]["node"]["id"] }))
                .await
        ),
        "FORBIDDEN"
    );
    let retried = p
        .data(ADMIN, retry, json!({ "id": dead[0]["node"]["id"] }))
        .await;
    assert_eq!(
        retried["outboxRetry"]["notification"]["status"], "PENDING",
        "{retried}"
    );
    assert_eq!(retried["outboxRetry"]["notification"]["attempts"], 0);
    let again = p.pass().await;
    assert_eq!(again.delivered.dead, 1, "refused again: {again:?}");

    // The SMTP server goes away during a burst: nothing is lost, nothing is sent twice.
    sink.stop();
    let before = sink.count();
    let mut expected = 0;
    for i in 0..5 {
        let b = p
            .data(
                HEAD,
                BOOK,
                json!({ "input": { "schoolId": p.school(), "sessionId": session_id, "settlement": "INVOICE",
                    "attendees": [person(&format!("Person {i}"), &format!("person{i}@holly-park.example"))] } }),
            )
            .await;
        assert_eq!(b["bookingCreate"]["booking"]["status"], "CONFIRMED", "{b}");
        expected += 2; // the attendee and the head
    }
    let down = p.pass().await;
    assert_eq!(down.delivered.sent, 0, "{down:?}");
    assert_eq!(down.delivered.retrying, expected, "{down:?}");
    let waiting = p.data(ADMIN, outbox, json!({ "status": "PENDING" })).await;
    let waiting = waiting["outbox"]["edges"]
        .as_array()
        .expect("edges")
        .clone();
    assert_eq!(waiting.len(), expected, "{waiting:?}");
    assert!(
        waiting
            .iter()
            .all(|e| e["node"]["attempts"] == 1 && e["node"]["lastError"].is_string())
    );
    // Back up, but the retry is not due yet: nothing is sent early.
    sink.restart();
    assert_eq!(p.pass().await.delivered.claimed(), 0);
    // Due after the backoff: each is sent once.
    p.clock.advance(chrono::Duration::minutes(1));
    let up = p.pass().await;
    assert_eq!(up.delivered.sent, expected, "{up:?}");
    p.clock.advance(chrono::Duration::hours(1));
    assert_eq!(p.pass().await.delivered.claimed(), 0);
    let arrived = mails(&sink, before);
    assert_eq!(arrived.len(), expected);
    let unique: HashSet<&str> = arrived.iter().map(|m| m.message_id.as_str()).collect();
    assert_eq!(unique.len(), expected, "no message arrived twice");
}

async fn calendar_feeds_are_secret_revocable_and_list_confirmed_sessions(db: TestDb) {
    let Some(sink) = SmtpSink::start() else {
        return;
    };
    let p = spawn(db, &sink).await;
    let session_id = session(&p, 10).await;
    let booked = p
        .data(
            HEAD,
            BOOK,
            json!({ "input": { "schoolId": p.school(), "sessionId": session_id, "settlement": "INVOICE",
                "attendees": [person("Amy Lee", "amy.lee@holly-park.example")] } }),
        )
        .await;
    let booking = kernel::BookingId::from_uuid(
        gateway::graphql::relay::decode(
            booked["bookingCreate"]["booking"]["id"]
                .as_str()
                .expect("id"),
        )
        .expect("global id")
        .1,
    );
    let create = "mutation($school: ID) { calendarFeedCreate(input: { schoolId: $school }) {
        feed { id active schoolId } url userErrors { field code } } }";
    // Another school's head cannot make a feed of Holly Park's sessions.
    let other = p
        .gql(OTHER_HEAD, create, json!({ "school": p.school() }))
        .await;
    assert_eq!(code(&other), "FORBIDDEN", "{other}");
    let made = p.data(HEAD, create, json!({ "school": p.school() })).await;
    let url = made["calendarFeedCreate"]["url"]
        .as_str()
        .expect("url")
        .to_owned();
    assert!(
        url.starts_with("https://trellis.heathhill.example/calendar/"),
        "{url}"
    );
    let local = url.replace("https://trellis.heathhill.example", &p.base);
    let res = p.client.get(&local).send().await.expect("GET");
    assert_eq!(res.status(), 200);
    assert!(
        res.headers()["content-type"]
            .to_str()
            .expect("ct")
            .starts_with("text/calendar"),
        "{:?}",
        res.headers()
    );
    let body = res.text().await.expect("body");
    let unfolded = unfold(&body);
    let calendar = read_calendar(&unfolded).expect("an iCalendar parser reads the feed");
    zoned_in_london(&calendar);
    let uids: Vec<String> = calendar
        .components
        .iter()
        .filter(|c| c.name == "VEVENT")
        .filter_map(|c| {
            c.properties
                .iter()
                .find(|p| p.name == "UID")
                .map(|p| p.val.to_string())
        })
        .collect();
    assert!(uids.contains(&format!("{booking}-1@trellis")), "{uids:?}");
    assert!(uids.contains(&format!("{booking}-2@trellis")), "{uids:?}");
    // A person's own feed lists what they hold a place on (Amy is no Trellis user; the head holds none).
    let mine = p.data(HEAD, create, json!({ "school": null })).await;
    let my_url = mine["calendarFeedCreate"]["url"]
        .as_str()
        .expect("url")
        .replace("https://trellis.heathhill.example", &p.base);
    let my_body = p
        .client
        .get(&my_url)
        .send()
        .await
        .expect("GET")
        .text()
        .await
        .expect("body");
    assert!(!my_body.contains(&booking.to_string()), "{my_body}");
    // Listed without URLs; revoked, the URL is 404 like one never made.
    let feeds = p
        .data(
            HEAD,
            "query { viewer { calendarFeeds { id active schoolId } } }",
            json!({}),
        )
        .await;
    assert_eq!(
        feeds["viewer"]["calendarFeeds"]
            .as_array()
            .expect("feeds")
            .len(),
        2,
        "{feeds}"
    );
    let revoke = "mutation($id: ID!) { calendarFeedRevoke(input: { id: $id }) { feed { active } userErrors { field code } } }";
    let id = made["calendarFeedCreate"]["feed"]["id"].clone();
    let foreign = p.data(OTHER_HEAD, revoke, json!({ "id": id })).await;
    assert_eq!(
        user_errors(&foreign["calendarFeedRevoke"]),
        vec![("input.id".to_owned(), "NOT_FOUND".to_owned())]
    );
    let revoked = p.data(HEAD, revoke, json!({ "id": id })).await;
    assert_eq!(
        revoked["calendarFeedRevoke"]["feed"]["active"], false,
        "{revoked}"
    );
    assert_eq!(
        p.client.get(&local).send().await.expect("GET").status(),
        404
    );
    let guessed = format!("{}/calendar/{}.ics", p.base, "A".repeat(43));
    assert_eq!(
        p.client.get(&guessed).send().await.expect("GET").status(),
        404
    );
}

async fn waiting_lists_approvals_provider_cancellations_and_overdue_reminders(db: TestDb) {
    let Some(sink) = SmtpSink::start() else {
        return;
    };
    let p = spawn(db, &sink).await;
    p.pass().await;
    let session_id = session(&p, 1).await;
    let monkfrith = membership::school::by_urn(p.db.conn(), &Actor::System, OTHER_URN)
        .await
        .expect("lookup")
        .expect("Monkfrith")
        .id
        .to_global()
        .to_string();

    // Monkfrith takes the only place; Holly Park joins the waiting list and is told so.
    let taken = p
        .data(
            ADMIN,
            BOOK,
            json!({ "input": { "schoolId": monkfrith, "sessionId": session_id, "settlement": "INVOICE",
                "attendees": [person("Jo Bell", "jo.bell@monkfrith.example")] } }),
        )
        .await;
    assert_eq!(
        taken["bookingCreate"]["booking"]["status"], "CONFIRMED",
        "{taken}"
    );
    let waiting = p
        .data(
            HEAD,
            BOOK,
            json!({ "input": { "schoolId": p.school(), "sessionId": session_id, "settlement": "INVOICE",
                "joinWaitlist": true, "attendees": [person("Fay Wu", "fay.wu@holly-park.example")] } }),
        )
        .await;
    assert_eq!(
        waiting["bookingCreate"]["booking"]["status"], "WAITLISTED",
        "{waiting}"
    );
    let waiting_id = waiting["bookingCreate"]["booking"]["id"].clone();
    let mark = sink.count();
    p.pass().await;
    let listed = mails(&sink, mark);
    let to_head = to(&listed, HEAD);
    assert_eq!(to_head.len(), 1, "{listed:#?}");
    assert!(
        to_head[0].subject.starts_with("On the waiting list: "),
        "{}",
        to_head[0].subject
    );
    assert!(
        to(&listed, "fay.wu@holly-park.example").is_empty(),
        "no invitation while waiting"
    );

    // Monkfrith cancels: Holly Park is offered the place until a stated time.
    let cancelled = p
        .data(
            ADMIN,
            CANCEL,
            json!({ "id": taken["bookingCreate"]["booking"]["id"] }),
        )
        .await;
    assert_eq!(
        cancelled["bookingCancel"]["booking"]["status"], "CANCELLED",
        "{cancelled}"
    );
    let mark = sink.count();
    p.pass().await;
    let offered = mails(&sink, mark);
    let offer = to(&offered, HEAD);
    assert_eq!(offer.len(), 1, "{offered:#?}");
    assert!(
        offer[0].subject.starts_with("Places offered: "),
        "{}",
        offer[0].subject
    );
    assert!(
        offer[0].text.contains("held for Holly Park"),
        "{}",
        offer[0].text
    );
    assert!(
        offer[0].text.contains(" until "),
        "the expiry is stated: {}",
        offer[0].text
    );
    let (method, _) = calendar_of(to(&offered, "jo.bell@monkfrith.example")[0]);
    assert_eq!(
        method, "CANCEL",
        "Monkfrith's attendee's calendar is updated"
    );

    // Accepted: a confirmation, and the attendee's invitation.
    let accepted = p
        .data(
            HEAD,
            "mutation($id: ID!) { waitlistOfferAccept(input: { bookingId: $id }) {
                booking { status } userErrors { field code } } }",
            json!({ "id": waiting_id }),
        )
        .await;
    assert_eq!(
        accepted["waitlistOfferAccept"]["booking"]["status"], "CONFIRMED",
        "{accepted}"
    );
    let mark = sink.count();
    p.pass().await;
    let confirmed = mails(&sink, mark);
    assert_eq!(
        calendar_of(to(&confirmed, "fay.wu@holly-park.example")[0]).0,
        "REQUEST"
    );
    assert!(
        to(&confirmed, HEAD)[0]
            .subject
            .starts_with("Booking confirmed: ")
    );

    // A staff request approved: the member of staff hears it was approved.
    let bigger = session(&p, 5).await;
    let request = p
        .data(
            STAFF,
            REQUEST,
            json!({ "input": { "schoolId": p.school(), "sessionId": bigger,
                "attendees": [person("Dev Rao", "dev.rao@holly-park.example")] } }),
        )
        .await;
    let approve = "mutation($id: ID!) { bookingApprove(input: { bookingId: $id, settlement: INVOICE, poNumber: \"HP-9\" }) {
        booking { status } userErrors { field code } } }";
    let approved = p
        .data(
            HEAD,
            approve,
            json!({ "id": request["bookingRequest"]["booking"]["id"] }),
        )
        .await;
    assert_eq!(
        approved["bookingApprove"]["booking"]["status"], "CONFIRMED",
        "{approved}"
    );
    let mark = sink.count();
    p.pass().await;
    let decided = mails(&sink, mark);
    let staff = to(&decided, STAFF);
    assert_eq!(staff.len(), 1, "{decided:#?}");
    assert!(
        staff[0].subject.starts_with("Request approved: "),
        "{}",
        staff[0].subject
    );
    assert!(
        staff[0].text.contains("Your request has been approved"),
        "{}",
        staff[0].text
    );
    assert_eq!(
        calendar_of(to(&decided, "dev.rao@holly-park.example")[0]).0,
        "REQUEST"
    );

    // The provider cancels the session: attendees' calendars and the school are told why.
    let cancel_session = "mutation($id: ID!, $reason: String!) { sessionCancel(input: { sessionId: $id, reason: $reason }) {
        session { status } userErrors { field code } } }";
    let done = p
        .data(
            ADMIN,
            cancel_session,
            json!({ "id": session_id, "reason": "The trainer is ill" }),
        )
        .await;
    assert_eq!(
        done["sessionCancel"]["session"]["status"], "CANCELLED",
        "{done}"
    );
    let mark = sink.count();
    p.pass().await;
    let told = mails(&sink, mark);
    assert_eq!(
        calendar_of(to(&told, "fay.wu@holly-park.example")[0]).0,
        "CANCEL"
    );
    let head = to(&told, HEAD);
    assert_eq!(head.len(), 1, "{told:#?}");
    assert!(
        head[0].subject.starts_with("Session cancelled: "),
        "{}",
        head[0].subject
    );
    assert!(
        head[0]
            .text
            .contains("has cancelled this session: The trainer is ill"),
        "{}",
        head[0].text
    );

    // Overdue reminders: once per invoice and stage, to the account's contact.
    assert_eq!(
        p.notifier.remind().await.expect("reminders"),
        0,
        "nothing is overdue yet"
    );
    p.clock.advance(chrono::Duration::days(75));
    let first = p.notifier.remind().await.expect("reminders");
    assert!(first > 0, "the demo year's unpaid invoices are overdue");
    assert_eq!(
        p.notifier.remind().await.expect("reminders"),
        0,
        "not twice in a stage"
    );
    let mark = sink.count();
    let pass = p.pass().await;
    assert_eq!(pass.delivered.sent as u64, first, "{pass:?}");
    let reminders = mails(&sink, mark);
    assert!(
        reminders
            .iter()
            .all(|m| m.subject.starts_with("Reminder: invoice TRL-")),
        "{reminders:#?}"
    );
    assert!(
        reminders[0].text.contains("still\noutstanding")
            || reminders[0].text.contains("outstanding"),
        "{}",
        reminders[0].text
    );
    assert!(
        !reminders[0].text.contains("Stop emails"),
        "money owed cannot be muted"
    );
}

/// Finance sends an invoice to Stripe (the stand-in): its hosted payment page.
async fn mirror(p: &Portal, id: &str) -> String {
    let mirrored = p
        .data(
            FINANCE,
            "mutation($id: ID!) { invoiceMirror(input: { id: $id }) {
                invoice { hostedInvoiceUrl } userErrors { field code } } }",
            json!({ "id": id }),
        )
        .await;
    mirrored["invoiceMirror"]["invoice"]["hostedInvoiceUrl"]
        .as_str()
        .unwrap_or_else(|| panic!("mirrored: {mirrored}"))
        .to_owned()
}

/// Reads one column of the rows `sql` selects, as text.
async fn texts(p: &Portal, sql: &str) -> Vec<Option<String>> {
    use sea_orm::ConnectionTrait as _;
    let conn = p.db.conn();
    conn.query_all_raw(sea_orm::Statement::from_string(
        conn.get_database_backend(),
        sql.to_owned(),
    ))
    .await
    .expect("query")
    .iter()
    .map(|row| {
        row.try_get_by_index::<Option<String>>(0)
            .expect("a text column")
    })
    .collect()
}

async fn one_event_that_cannot_be_told_never_holds_up_the_others(db: TestDb) {
    use sea_orm::ConnectionTrait as _;
    let Some(sink) = SmtpSink::start() else {
        return;
    };
    let p = spawn(db, &sink).await;
    p.pass().await;
    // Two issued invoices; the older event's invoice has a line that no longer reads.
    let page = p
        .data(
            common::FINANCE,
            "{ invoices(first: 2) { edges { node { id } } } }",
            json!({}),
        )
        .await;
    let ids: Vec<uuid::Uuid> = page["invoices"]["edges"]
        .as_array()
        .expect("a page")
        .iter()
        .map(|edge| {
            let id = edge["node"]["id"].as_str().expect("an id");
            gateway::graphql::relay::decode(id).expect("a global id").1
        })
        .collect();
    let [broken, fine] = ids.as_slice() else {
        panic!("two invoices: {ids:?}");
    };
    let conn = p.db.conn();
    let backend = conn.get_database_backend();
    let sql = match backend {
        sea_orm::DbBackend::Postgres => {
            "UPDATE invoice_lines SET quantity = -1 WHERE invoice_id = $1"
        }
        _ => "UPDATE invoice_lines SET quantity = -1 WHERE invoice_id = ?",
    };
    conn.execute_raw(sea_orm::Statement::from_sql_and_values(
        backend,
        sql,
        [sea_orm::Value::from(*broken)],
    ))
    .await
    .expect("a line no longer reads");
    for id in [broken, fine] {
        kernel::outbox::record(
            conn,
            kernel::outbox::EventKind::InvoiceIssued,
            *id,
            json!({}),
            p.clock.now(),
        )
        .await
        .expect("event recorded");
    }

    // The fine invoice is told at once; the broken one is set aside, not lost.
    let mark = sink.count();
    let pass = p.pass().await;
    assert_eq!(pass.fanned_out.set_aside, 1, "{pass:?}");
    let sent = mails(&sink, mark);
    assert_eq!(sent.len(), 1, "{sent:#?}");
    assert!(
        sent[0].subject.starts_with("Invoice "),
        "{}",
        sent[0].subject
    );
    const PENDING: &str = "SELECT last_error FROM domain_events WHERE handled_at IS NULL";
    let waiting = texts(&p, PENDING).await;
    assert_eq!(waiting.len(), 1, "{waiting:?}");
    assert!(
        waiting[0]
            .as_deref()
            .is_some_and(|e| e.contains("quantity")),
        "the reason is kept: {waiting:?}"
    );

    // Not retried before its time; retried with backoff after; given up, with its error
    // kept, after the last attempt. Nothing else is held up meanwhile.
    assert_eq!(
        p.pass().await.fanned_out.set_aside,
        0,
        "waits for its retry"
    );
    let mut passes = 1;
    while !texts(&p, PENDING).await.is_empty() {
        p.clock.advance(chrono::Duration::hours(7));
        assert_eq!(p.pass().await.fanned_out.set_aside, 1);
        passes += 1;
        assert!(
            passes <= notifications::fanout::EVENT_MAX_ATTEMPTS,
            "gives up in time"
        );
    }
    assert_eq!(passes, notifications::fanout::EVENT_MAX_ATTEMPTS);
    let given_up = texts(
        &p,
        "SELECT last_error FROM domain_events WHERE last_error IS NOT NULL AND handled_at IS NOT NULL",
    )
    .await;
    assert_eq!(given_up.len(), 1, "{given_up:?}");
    assert_eq!(
        mails(&sink, mark).len(),
        1,
        "the broken invoice was never half-told"
    );
}

async fn renewals_reach_the_schools_leaders_and_are_chased_before_the_notice_date(db: TestDb) {
    let Some(sink) = SmtpSink::start() else {
        return;
    };
    let p = spawn(db, &sink).await;
    p.pass().await;
    let notice_by = p.clock.today() + chrono::Days::new(20);
    let open = || {
        p.data(
            ADMIN,
            r"mutation($input: MembershipRenewalsOpenInput!) { membershipRenewalsOpen(input: $input)
                { opened alreadyOpen userErrors { field code } } }",
            json!({ "input": { "fromYear": "2026/27", "noticeBy": notice_by.to_string() } }),
        )
    };
    let opened = open().await;
    assert_eq!(
        opened["membershipRenewalsOpen"]["userErrors"],
        json!([]),
        "{opened}"
    );
    assert!(
        opened["membershipRenewalsOpen"]["opened"]
            .as_i64()
            .is_some_and(|n| n > 1),
        "{opened}"
    );

    // Each school's leaders hear of their own renewal, once, and cannot mute it.
    let mark = sink.count();
    p.pass().await;
    let told = mails(&sink, mark);
    let to_head = to(&told, HEAD);
    assert_eq!(to_head.len(), 1, "{told:#?}");
    let mail = to_head[0];
    assert!(
        mail.subject.starts_with("Renew Holly Park") && mail.subject.ends_with("for 2027/28"),
        "{}",
        mail.subject
    );
    let notice = notifications::format::day(notice_by);
    assert!(mail.text.contains(&notice), "{}", mail.text);
    assert!(mail.html.contains(&notice), "{}", mail.html);
    assert!(
        !mail.text.contains("Stop emails"),
        "renewals cannot be muted"
    );
    assert!(
        told.iter()
            .all(|m| !m.envelope_to.iter().any(|t| t == STAFF)),
        "staff do not answer renewals"
    );

    // Opening again opens nothing and tells nobody twice.
    let again = open().await;
    assert_eq!(again["membershipRenewalsOpen"]["opened"], 0, "{again}");
    let mark = sink.count();
    p.pass().await;
    assert!(mails(&sink, mark).is_empty());

    // Not yet within the reminder window (14 days by default): no reminder.
    assert_eq!(p.notifier.remind().await.expect("reminders"), 0);
    // A week on, 13 days before the notice date: one reminder per leader, once.
    p.clock.advance(chrono::Duration::days(7));
    let queued = p.notifier.remind().await.expect("reminders");
    assert!(queued > 0);
    assert_eq!(p.notifier.remind().await.expect("reminders"), 0, "once");
    let mark = sink.count();
    p.pass().await;
    let chased = mails(&sink, mark);
    let to_head = to(&chased, HEAD);
    assert_eq!(to_head.len(), 1, "{chased:#?}");
    assert!(
        to_head[0].subject.starts_with("Reminder: renew Holly Park"),
        "{}",
        to_head[0].subject
    );
    assert!(
        to_head[0].text.contains("13 days from now"),
        "{}",
        to_head[0].text
    );
}

/// A declined card at the Stripe stand-in: its signed webhooks (`payment_intent.payment_failed`
/// and `invoice.payment_failed`, both for one attempt) reach the app, and the invoice's
/// account contact — and nobody else — is told once, with the outstanding amount, the due
/// date and the link to try again.
async fn a_failed_card_payment_reaches_the_accounts_contact_once(db: TestDb) {
    let Some(sink) = SmtpSink::start() else {
        return;
    };
    let mut config = mailing_config(&db, &sink);
    let Some(stand) = common::Stand::configure(&mut config) else {
        return;
    };
    let p = spawn_with(db, &config).await;
    let webhook_secret = config.stripe_webhook_secret.clone().expect("configured");
    stand.deliver_to(&p.base, &webhook_secret).await;
    p.pass().await;

    // An open invoice of one school's own account, sent to Stripe by finance.
    let invoices = p
        .data(
            FINANCE,
            "query { invoices(first: 100) { edges { node { id number status
                outstanding { amountPence } dueOn
                account { contactEmail schools { id } } } } } }",
            json!({}),
        )
        .await;
    let invoice = invoices["invoices"]["edges"]
        .as_array()
        .expect("edges")
        .iter()
        .map(|e| e["node"].clone())
        .find(|i| {
            i["status"] == "OPEN"
                && i["outstanding"]["amountPence"]
                    .as_i64()
                    .is_some_and(|n| n > 0)
                && i["account"]["schools"]
                    .as_array()
                    .is_some_and(|s| s.len() == 1)
        })
        .expect("an open invoice of a school's own account");
    let id = invoice["id"].as_str().expect("id").to_owned();
    let contact = invoice["account"]["contactEmail"]
        .as_str()
        .expect("contact")
        .to_lowercase();
    let hosted = mirror(&p, &id).await;
    let remote = stand.invoices_of(&common::uuid_of(&id)).await;
    assert_eq!(remote.len(), 1, "one Stripe invoice");
    let stripe_id = remote[0]["id"].as_str().expect("in_").to_owned();
    let customer = remote[0]["customer"].as_str().expect("cus_").to_owned();
    // Mirroring announces nothing by itself.
    let mark = sink.count();
    p.pass().await;
    assert!(to(&mails(&sink, mark), &contact).is_empty());

    // The card is declined; Stripe's reports of the attempt arrive, signed.
    let (status, body) = stand
        .pay(&stripe_id, &customer, common::DECLINED_CARD)
        .await;
    assert_eq!(status, 402, "{body}");
    // The stand-in delivers every test's events to every registered app: count this
    // invoice's. Its PaymentIntent's report is emitted first; the invoice's follows.
    let reported = async |n: usize| {
        let sql = format!(
            "SELECT event_type FROM stripe_events \
             WHERE event_type = 'invoice.payment_failed' AND object_id = '{stripe_id}'"
        );
        for _ in 0..80 {
            if texts(&p, &sql).await.len() >= n {
                // The PaymentIntent's report, if it trails, lands within this.
                tokio::time::sleep(Duration::from_secs(1)).await;
                return;
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
        panic!("the stand-in's report of attempt {n} never arrived");
    };
    reported(1).await;

    let mark = sink.count();
    p.pass().await;
    let told = mails(&sink, mark);
    assert_eq!(
        told.len(),
        1,
        "one message for one failed attempt: {told:#?}"
    );
    let mail = &told[0];
    assert_eq!(mail.to, contact);
    assert_eq!(mail.envelope_to, vec![contact.clone()]);
    let number = invoice["number"].as_str().expect("number");
    assert!(
        mail.subject
            .starts_with(&format!("Card payment failed: invoice {number}")),
        "{}",
        mail.subject
    );
    let outstanding = kernel::Money::from_pence(
        invoice["outstanding"]["amountPence"]
            .as_i64()
            .expect("pence"),
    )
    .to_string();
    assert!(outstanding.starts_with('£'), "{outstanding}");
    let due = notifications::format::day(
        invoice["dueOn"]
            .as_str()
            .and_then(|d| d.parse().ok())
            .expect("dueOn"),
    );
    for part in [&mail.text, &mail.html] {
        assert!(part.contains(number), "{part}");
        assert!(part.contains(&outstanding), "{part}");
        assert!(part.contains(&due), "{part}");
    }
    assert!(mail.text.contains(&hosted), "{}", mail.text);
    // The reason is the provider's, as the webhook that failed the invoice gave it.
    let reasons = texts(
        &p,
        "SELECT detail FROM domain_events WHERE kind = 'invoice.card_payment_failed'",
    )
    .await;
    assert_eq!(reasons.len(), 1, "one event for one failed attempt");
    let detail: Value =
        serde_json::from_str(reasons[0].as_deref().expect("detail")).expect("JSON detail");
    let reason = detail["reason"].as_str().expect("a reason");
    assert!(mail.text.contains(reason), "{reason}: {}", mail.text);
    // Money owed cannot be muted: no unsubscribe link.
    assert!(!mail.text.contains("Stop emails"), "{}", mail.text);
    assert!(mail.html.contains("<a href=\""), "{}", mail.html);

    // Nobody else hears of it: neither school's head, in mail or in an inbox.
    for head in [HEAD, OTHER_HEAD] {
        let inbox = p.data(head, INBOX, json!({})).await;
        let kinds: Vec<&Value> = inbox["viewer"]["notifications"]["edges"]
            .as_array()
            .expect("edges")
            .iter()
            .map(|e| &e["node"]["kind"])
            .collect();
        assert!(
            !kinds.contains(&&json!("invoice.card_payment_failed")),
            "{head}: {kinds:?}"
        );
    }
    // One message stored, to the contact alone.
    let stored = texts(
        &p,
        "SELECT recipient_email FROM notifications WHERE kind = 'invoice.card_payment_failed'",
    )
    .await;
    assert_eq!(stored, vec![Some(contact.clone())]);

    // A second declined attempt on an invoice already failed is not announced again (the
    // invoice shows the latest reason).
    let (status, _) = stand
        .pay(&stripe_id, &customer, common::DECLINED_CARD)
        .await;
    assert_eq!(status, 402);
    reported(2).await;
    let mark = sink.count();
    p.pass().await;
    assert!(mails(&sink, mark).is_empty(), "told once");
}

/// A thousand bookings in one burst, eight at a time over HTTP: one worker pass drains the
/// outbox, every attendee's confirmation arrives once, and nothing is left pending or dead.
/// (The head has muted booking news, as the head of a busy school would, so the burst is a
/// thousand messages rather than two.)
async fn a_burst_of_a_thousand_bookings_drains_the_outbox(db: TestDb) {
    use futures::StreamExt as _;

    let Some(sink) = SmtpSink::start() else {
        return;
    };
    let p = spawn(db, &sink).await;
    let session_id = session(&p, 1_000).await;
    let mute = "mutation { notificationPreferencesUpdate(input: { muted: [BOOKINGS] }) {
        userErrors { field code } } }";
    let muted = p.data(HEAD, mute, json!({})).await;
    assert_eq!(user_errors(&muted["notificationPreferencesUpdate"]), vec![]);
    p.pass().await;
    let before = sink.count();
    let token = p.token(HEAD).await;
    let app: &common::TestApp = &p;
    let confirmed = futures::stream::iter(0..1_000)
        .map(|i| {
            let (token, session_id, p) = (&token, &session_id, &p);
            async move {
                let input = json!({ "input": { "schoolId": p.school(), "sessionId": session_id,
                    "settlement": "INVOICE",
                    "attendees": [person(&format!("Person {i}"), &format!("person{i}@holly-park.example"))] } });
                let (_, body) = app.gql(Some(token), BOOK, input).await;
                body["data"]["bookingCreate"]["booking"]["status"] == "CONFIRMED"
            }
        })
        .buffer_unordered(8)
        .filter(|ok| std::future::ready(*ok))
        .count()
        .await;
    assert_eq!(confirmed, 1_000, "every booking of the burst is confirmed");

    let drained = p.pass().await;
    assert_eq!(drained.fanned_out.events, 1_000, "{drained:?}");
    assert_eq!(drained.delivered.sent, 1_000, "{drained:?}");
    assert_eq!(
        drained.delivered.retrying + drained.delivered.dead,
        0,
        "{drained:?}"
    );
    assert_eq!(
        p.pass().await.delivered.claimed(),
        0,
        "nothing left to send"
    );
    let arrived = mails(&sink, before);
    assert_eq!(arrived.len(), 1_000);
    let unique: HashSet<&str> = arrived.iter().map(|m| m.message_id.as_str()).collect();
    assert_eq!(unique.len(), 1_000, "no message arrived twice");
    assert!(to(&arrived, HEAD).is_empty(), "muted");
    for i in [0, 500, 999] {
        assert_eq!(
            to(&arrived, &format!("person{i}@holly-park.example")).len(),
            1
        );
    }
}

/// With Stripe configured, an invoice's email waits for its hosted payment page, so the school
/// is sent the link to pay rather than told to pay by bank transfer; once the wait is over (the
/// mirror never came) the email goes anyway, without it. Each invoice is told exactly once.
async fn an_invoice_email_waits_for_its_payment_link(db: TestDb) {
    let Some(sink) = SmtpSink::start() else {
        return;
    };
    let mut config = mailing_config(&db, &sink);
    let Some(_stand) = common::Stand::configure(&mut config) else {
        return;
    };
    let p = spawn_with(db, &config).await;
    let invoice_mails = |from: usize| -> Vec<Mail> {
        mails(&sink, from)
            .into_iter()
            .filter(|m| m.subject.starts_with("Invoice TRL-"))
            .collect()
    };
    let issued = texts(
        &p,
        "SELECT kind FROM domain_events WHERE kind = 'invoice.issued'",
    )
    .await
    .len();
    assert!(issued > 1, "the demo run issued invoices");

    // Issued at seeding, none yet at Stripe: every invoice email still to pay waits (those
    // already settled by the demo go at once: there is nothing to pay).
    let pass = p.pass().await;
    let waiting = pass.fanned_out.waiting;
    assert!(waiting > 1 && waiting <= issued, "{pass:?}");
    let settled = invoice_mails(0);
    assert_eq!(settled.len(), issued - waiting, "only the settled are told");

    // Finance sends one to Stripe; its email goes at the next look, with the link.
    let invoices = p
        .data(
            FINANCE,
            "query { invoices(first: 1, filter: { statuses: [OPEN] }) { edges { node { id number
                account { contactEmail } } } } }",
            json!({}),
        )
        .await;
    let invoice = invoices["invoices"]["edges"][0]["node"].clone();
    let id = invoice["id"].as_str().expect("an open invoice").to_owned();
    let number = invoice["number"].as_str().expect("number").to_owned();
    let contact = invoice["account"]["contactEmail"]
        .as_str()
        .expect("contact")
        .to_lowercase();
    let hosted = mirror(&p, &id).await;
    p.clock.advance(chrono::Duration::minutes(1));
    let mark = sink.count();
    let pass = p.pass().await;
    assert_eq!(pass.fanned_out.waiting, waiting - 1, "{pass:?}");
    let told = invoice_mails(mark);
    assert_eq!(told.len(), 1, "{told:#?}");
    let mail = &told[0];
    assert_eq!(mail.to, contact);
    assert!(mail.subject.starts_with(&format!("Invoice {number} ")));
    assert!(
        mail.text.contains(&format!(
            "Pay online (card, Bacs Direct Debit or bank transfer): {hosted}"
        )),
        "{}",
        mail.text
    );
    assert!(!mail.text.contains("quoting"), "{}", mail.text);
    assert!(
        // The link is an attribute value, HTML-escaped as minijinja escapes it.
        mail.html.contains(&format!(
            "<a href=\"{}\">Pay online</a>",
            hosted.replace('&', "&amp;").replace('/', "&#x2f;")
        )),
        "{}",
        mail.html
    );

    // The rest never reach Stripe: after the wait they go without a link, each once.
    p.clock.advance(chrono::Duration::minutes(61));
    let mark = sink.count();
    let pass = p.pass().await;
    assert_eq!(pass.fanned_out.waiting, 0, "{pass:?}");
    let rest = invoice_mails(mark);
    assert_eq!(rest.len(), waiting - 1, "every other invoice told once");
    assert!(rest.iter().all(|m| m.text.contains("quoting TRL-")));
    assert!(
        rest.iter()
            .chain(&settled)
            .all(|m| !m.subject.starts_with(&format!("Invoice {number} "))),
        "the mirrored invoice is not told twice"
    );
    p.clock.advance(chrono::Duration::minutes(5));
    p.pass().await;
    assert_eq!(invoice_mails(0).len(), issued, "nothing more");

    // A card booking's invoice is paid by the booking's PaymentIntent and never becomes a
    // hosted Stripe invoice: its email has no link to wait for, and says the card settles it.
    let session_id = session(&p, 5).await;
    let booked = p
        .data(
            HEAD,
            "mutation($input: BookingCreateInput!) { bookingCreate(input: $input) {
                booking { status invoice { id number collection } } userErrors { field code } } }",
            json!({ "input": { "schoolId": p.school(), "sessionId": session_id, "settlement": "CARD",
                "attendees": [person("Dee Card", "dee.card@holly-park.example")] } }),
        )
        .await["bookingCreate"]
        .clone();
    assert_eq!(booked["booking"]["status"], "PENDING_PAYMENT", "{booked}");
    let card_invoice = booked["booking"]["invoice"].clone();
    assert_eq!(card_invoice["collection"], "CARD", "{booked}");
    let mark = sink.count();
    let pass = p.pass().await;
    assert_eq!(pass.fanned_out.waiting, 0, "{pass:?}");
    let told = invoice_mails(mark);
    assert_eq!(told.len(), 1, "{told:#?}");
    let number = card_invoice["number"].as_str().expect("number");
    assert!(told[0].subject.starts_with(&format!("Invoice {number} ")));
    for part in [&told[0].text, &told[0].html] {
        assert!(
            part.contains("paid by card: the card payment settles it"),
            "{part}"
        );
        assert!(
            !part.contains("quoting") && !part.contains("Pay online"),
            "{part}"
        );
    }
    // Finance cannot make it a second, payable Stripe invoice either.
    let refused = p
        .data(
            FINANCE,
            "mutation($id: ID!) { invoiceMirror(input: { id: $id }) {
                invoice { hostedInvoiceUrl } userErrors { field code } } }",
            json!({ "id": card_invoice["id"] }),
        )
        .await;
    assert_eq!(
        user_errors(&refused["invoiceMirror"]),
        vec![("input.id".to_owned(), "CONFLICT".to_owned())],
        "{refused}"
    );
}

/// A peer review through its steps, then the support time it led to paid for: each step that
/// tells someone reaches the SMTP server as a MIME message to exactly the people it is for —
/// the visit to the host's leaders and (in their own words) to every reviewer, the report
/// ready to agree and then published to the host's leaders only, the credit for the time to
/// the providing school's account contact.
async fn peer_review_steps_and_support_credit_reach_the_right_people(db: TestDb) {
    use kernel::{FixedClock, ReviewCycleId, Role};
    use peer_review::report::{self, NewAction, NewFinding};
    use peer_review::reviews::{self, ScheduleInput, SelfReviewInput};
    use peer_review::types::{ConsentScope, FindingKind, ReviewStatus, TeamRole};
    let Some(sink) = SmtpSink::start() else {
        return;
    };
    let p = spawn(db, &sink).await;
    let conn = p.db.conn();
    peer_review::demo::seed(conn, p.clock.as_ref())
        .await
        .expect("demo peer review");
    p.pass().await;
    let at = |y: i32, m: u32, d: u32| {
        FixedClock::new(
            chrono::NaiveDate::from_ymd_opt(y, m, d)
                .and_then(|d| d.and_hms_opt(9, 0, 0))
                .expect("day")
                .and_utc(),
        )
    };
    let system = Actor::System;

    // A planned review of the demo cycle, with its team (lead first).
    let cycle: ReviewCycleId = peer_review::cycles::cycles(
        conn,
        &system,
        &membership::PageArgs::<membership::NameKey>::first(10),
    )
    .await
    .expect("cycles")
    .items
    .into_iter()
    .find(|c| c.name == peer_review::demo::DEMO_CYCLE_NAME)
    .expect("demo cycle")
    .id;
    let planned: Vec<_> = reviews::reviews_of_cycle(
        conn,
        &system,
        cycle,
        &membership::PageArgs::<membership::NameKey>::first(100),
    )
    .await
    .expect("reviews")
    .items
    .into_iter()
    .filter(|r| r.status == ReviewStatus::Planning)
    .collect();
    let ids: Vec<_> = planned.iter().map(|r| r.id).collect();
    let teams = peer_review::loaders::teams_of(conn, &ids)
        .await
        .expect("teams");
    let review = planned
        .into_iter()
        .find(|r| {
            teams
                .get(&r.id)
                .is_some_and(|t| t.len() >= 2 && t.iter().any(|m| m.role == TeamRole::Lead))
        })
        .expect("a planned review with a team");
    let team = &teams[&review.id];
    let emails_of = async |users: Vec<kernel::UserId>| -> Vec<String> {
        let found = membership::people::users::by_ids(conn, &users)
            .await
            .expect("users");
        users
            .iter()
            .map(|u| found[u].email.to_lowercase())
            .collect()
    };
    let reviewers = emails_of(team.iter().map(|m| m.user_id).collect()).await;
    let leaders: Vec<String> = membership::people::users::active_with_role_at(
        conn,
        Role::SchoolLeader,
        &[review.host_school_id],
    )
    .await
    .expect("leaders")
    .remove(&review.host_school_id)
    .unwrap_or_default()
    .iter()
    .map(|u| u.email.to_lowercase())
    .collect();
    assert!(!leaders.is_empty(), "the host has a leader");
    let host = review.host_name.clone();
    let addressed = |mails: &[Mail]| -> Vec<String> {
        let mut to: Vec<String> = mails.iter().map(|m| m.to.clone()).collect();
        to.sort();
        to
    };
    let sorted = |mut v: Vec<String>| {
        v.sort();
        v.dedup();
        v
    };

    // Scheduled: the host's leaders and every reviewer, each once, each in their own words.
    let before = at(2026, 10, 1);
    reviews::submit_self_review(
        conn,
        &before,
        &system,
        review.id,
        SelfReviewInput {
            summary: "Our own view.".into(),
            evaluations: Vec::new(),
        },
    )
    .await
    .expect("self-review");
    reviews::schedule(
        conn,
        &before,
        &system,
        review.id,
        ScheduleInput {
            visit_starts_on: chrono::NaiveDate::from_ymd_opt(2027, 2, 9).expect("day"),
            visit_ends_on: chrono::NaiveDate::from_ymd_opt(2027, 2, 10).expect("day"),
            enquiry_focus: "Reading <across> the curriculum".into(),
        },
    )
    .await
    .expect("scheduled");
    let mark = sink.count();
    p.pass().await;
    let told = mails(&sink, mark);
    let everyone = sorted(leaders.iter().chain(&reviewers).cloned().collect());
    assert_eq!(addressed(&told), everyone, "{told:#?}");
    for mail in &told {
        assert_eq!(
            mail.subject,
            format!("Peer review of {host}: visit 9 February 2027 to 10 February 2027")
        );
        assert!(
            mail.text
                .contains("Enquiry focus: Reading <across> the curriculum")
        );
        // User text is escaped in the HTML part, never markup.
        assert!(
            mail.html.contains("Reading &lt;across&gt; the curriculum"),
            "{}",
            mail.html
        );
        assert!(!mail.html.contains("<across>"));
        assert!(mail.text.contains("lead reviewer"), "the team is listed");
        assert!(
            mail.list_unsubscribe.is_some(),
            "peer-review news may be muted"
        );
        let reviewer = reviewers.contains(&mail.to) && !leaders.contains(&mail.to);
        if reviewer {
            assert!(
                mail.text.contains(&format!(
                    "You are on the team for the peer review of {host}"
                )),
                "{}",
                mail.text
            );
        } else {
            assert!(
                mail.text.contains("Please submit your self-review"),
                "{}",
                mail.text
            );
        }
    }

    // The visit, then the draft: the host's leaders are asked to agree it; nobody else hears.
    let visit = at(2027, 2, 10);
    reviews::advance(conn, &visit, &system, review.id, ReviewStatus::Visited)
        .await
        .expect("visited");
    let mark = sink.count();
    p.pass().await;
    assert!(
        mails(&sink, mark).is_empty(),
        "a visit taking place tells no one"
    );
    reviews::advance(conn, &visit, &system, review.id, ReviewStatus::ReportDraft)
        .await
        .expect("drafting");
    let mark = sink.count();
    p.pass().await;
    let told = mails(&sink, mark);
    assert_eq!(addressed(&told), sorted(leaders.clone()), "{told:#?}");
    assert!(told.iter().all(|m| m.subject
        == format!("The peer review report for {host} is ready to agree")
        && m.text.contains("once agreed it is never edited")
        && m.html.contains("<p>")));

    // A finding and an action with support from the lead's school; then agreed and published.
    report::add_finding(
        conn,
        &visit,
        &system,
        review.id,
        NewFinding {
            kind: FindingKind::AreaForDevelopment,
            area: "CURRICULUM".into(),
            theme: "reading".into(),
            summary: "Reading is not yet fluent.".into(),
            evidence: "Heard readers.".into(),
            evaluation: None,
        },
    )
    .await
    .expect("finding");
    let action = report::add_action(
        conn,
        &visit,
        &system,
        review.id,
        NewAction {
            finding: None,
            description: "Daily reading practice in Year 4.".into(),
            owner: "English lead".into(),
            due_on: chrono::NaiveDate::from_ymd_opt(2027, 3, 31).expect("day"),
        },
    )
    .await
    .expect("action");
    reviews::advance(conn, &visit, &system, review.id, ReviewStatus::Agreed)
        .await
        .expect("agreed");
    report::record_consent(
        conn,
        &visit,
        &system,
        review.id,
        ConsentScope::Partnership,
        None,
    )
    .await
    .expect("consent");
    reviews::advance(
        conn,
        &visit,
        &system,
        review.id,
        ReviewStatus::PublishedToPartnership,
    )
    .await
    .expect("published");
    let mark = sink.count();
    p.pass().await;
    let told = mails(&sink, mark);
    assert_eq!(addressed(&told), sorted(leaders.clone()), "{told:#?}");
    assert!(told.iter().all(|m| m.subject
        == format!("The peer review report for {host} is published to the partnership")));

    // The lead's school gives 90 minutes; finance credits them at £60 an hour.
    let lead = team
        .iter()
        .find(|m| m.role == TeamRole::Lead)
        .expect("a lead");
    let support = report::request_support(
        conn,
        &visit,
        &system,
        action.id,
        lead.school_id,
        "Two mornings with your English lead.",
    )
    .await
    .expect("support");
    report::record_support_time(conn, &visit, &system, support.id, 90)
        .await
        .expect("time");
    let data = p
        .data(
            FINANCE,
            "mutation($input: ReviewSupportCreditInput!) { reviewSupportCredit(input: $input) {
                payment { account { contactEmail name } } userErrors { field code } } }",
            json!({ "input": {
                "supportRequestId": support.id.to_global(),
                "ratePencePerHour": 6_000 } }),
        )
        .await;
    let account = &data["reviewSupportCredit"]["payment"]["account"];
    let contact = account["contactEmail"]
        .as_str()
        .unwrap_or_else(|| panic!("credited: {data}"))
        .to_lowercase();
    let mark = sink.count();
    p.pass().await;
    let told = mails(&sink, mark);
    assert_eq!(addressed(&told), vec![contact], "{told:#?}");
    let mail = &told[0];
    let name = account["name"].as_str().expect("name");
    assert_eq!(
        mail.subject,
        format!("Credit for your time: £90.00 to {name}")
    );
    assert!(
        mail.text.contains(
            "for the time it gave: School-to-school support, 1.5 hours at £60.00 an hour."
        ),
        "{}",
        mail.text
    );
    assert!(mail.html.contains("£90.00"), "{}", mail.html);
}

/// A place offered from the waiting list and never answered passes on when it expires, and
/// the school that let it go is told, as MIME at the SMTP server: its booker and its leaders,
/// once, with the session and the hour the offer ran out; the school that took the place is
/// not told anything by the lapse.
async fn an_unanswered_offer_passes_on_and_the_school_is_told(db: TestDb) {
    let Some(sink) = SmtpSink::start() else {
        return;
    };
    let p = spawn(db, &sink).await;
    p.pass().await;
    let session_id = session(&p, 1).await;
    let monkfrith = membership::school::by_urn(p.db.conn(), &Actor::System, OTHER_URN)
        .await
        .expect("lookup")
        .expect("Monkfrith")
        .id
        .to_global()
        .to_string();
    let book = async |who: &str, school: &str, attendee: Value| {
        let data = p
            .data(
                who,
                BOOK,
                json!({ "input": { "schoolId": school, "sessionId": session_id,
                    "settlement": "INVOICE", "joinWaitlist": true, "attendees": [attendee] } }),
            )
            .await;
        data["bookingCreate"]["booking"].clone()
    };
    // Monkfrith takes the only place; Holly Park waits.
    let taken = book(
        ADMIN,
        &monkfrith,
        person("Jo Bell", "jo.bell@monkfrith.example"),
    )
    .await;
    assert_eq!(taken["status"], "CONFIRMED", "{taken}");
    let waiting = book(
        HEAD,
        &p.school(),
        person("Fay Wu", "fay.wu@holly-park.example"),
    )
    .await;
    assert_eq!(waiting["status"], "WAITLISTED", "{waiting}");
    // Monkfrith cancels: the place is offered to Holly Park, which never answers.
    let cancelled = p.data(ADMIN, CANCEL, json!({ "id": taken["id"] })).await;
    assert_eq!(cancelled["bookingCancel"]["booking"]["status"], "CANCELLED");
    p.pass().await;
    let offered = to(&mails(&sink, 0), HEAD)
        .into_iter()
        .find(|m| m.subject.starts_with("Places offered: "))
        .cloned()
        .expect("the offer reached the head");

    // A day and more later the job passes it on.
    p.clock.advance(chrono::Duration::hours(49));
    let changes = traded::waitlist::expire_waitlist_offers(p.db.conn(), p.clock.as_ref())
        .await
        .expect("expiry");
    assert_eq!(changes.len(), 1, "{changes:?}");
    let mark = sink.count();
    p.pass().await;
    let told = mails(&sink, mark);
    let to_head = to(&told, HEAD);
    assert_eq!(to_head.len(), 1, "{told:#?}");
    let mail = to_head[0];
    let service = offered
        .subject
        .trim_start_matches("Places offered: ")
        .to_owned();
    assert_eq!(mail.subject, format!("Offer passed on: {service}"));
    assert!(
        mail.text.contains("were not accepted by ")
            && mail
                .text
                .contains("passed to the next school on the waiting list"),
        "{}",
        mail.text
    );
    assert!(mail.html.contains("were not accepted by "), "{}", mail.html);
    assert!(
        mail.list_unsubscribe.is_some(),
        "waiting-list news may be muted"
    );
    assert!(
        to(&told, "jo.bell@monkfrith.example").is_empty()
            && to(&told, OTHER_HEAD).is_empty()
            && to(&told, "fay.wu@holly-park.example").is_empty(),
        "only Holly Park's people hear of its lapse: {told:#?}"
    );
    // Told once: another pass and another run of the job add nothing.
    traded::waitlist::expire_waitlist_offers(p.db.conn(), p.clock.as_ref())
        .await
        .expect("expiry");
    let mark = sink.count();
    p.pass().await;
    assert!(mails(&sink, mark).is_empty());
}

testkit::db_tests!(
    an_unanswered_offer_passes_on_and_the_school_is_told,
    peer_review_steps_and_support_credit_reach_the_right_people,
    an_invoice_email_waits_for_its_payment_link,
    a_failed_card_payment_reaches_the_accounts_contact_once,
    renewals_reach_the_schools_leaders_and_are_chased_before_the_notice_date,
    one_event_that_cannot_be_told_never_holds_up_the_others,
    booking_journeys_reach_inboxes_and_the_smtp_server,
    a_refused_address_is_dead_lettered_and_a_lost_server_loses_nothing,
    calendar_feeds_are_secret_revocable_and_list_confirmed_sessions,
    waiting_lists_approvals_provider_cancellations_and_overdue_reminders,
    a_burst_of_a_thousand_bookings_drains_the_outbox,
);
