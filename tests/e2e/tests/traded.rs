//! Traded services end to end over HTTP, on SQLite and PostgreSQL: a journey per settlement
//! route (OFFER, INVOICE, CARD through the Stripe stand-in and a signed webhook), staff
//! requests and their approval, a waiting-list offer arriving over graphql-ws, the register,
//! certificates and feedback, denials, bad input as userErrors that write nothing, a
//! booking's audit trail and who may read it, and the catalogue and a school's bookings at a
//! fixed number of SQL statements.
//!
//! The app runs on a clock the test holds, so a term can end and a session can take place.

use crate::common;

use std::time::Duration;

use billing::stripe_events::sign;
use chrono::{DateTime, Utc};
use common::{ADMIN, FINANCE, HEAD, STAFF};
use gateway::Config;
use gateway::graphql::relay::GlobalId as _;
use kernel::{Actor, Clock as _};
use reqwest::StatusCode;
use serde_json::{Value, json};
use testkit::TestDb;
use testkit::graphql_ws::Subscriber;

use common::{OTHER_HEAD, Portal, code, user_errors};

const SERVICES: &str = "query { services(first: 50) { edges { node {
    id code offerItem { code } memberPrice { amountPence } } } } }";

/// A demo service by code.
async fn service(p: &Portal, code: &str) -> Value {
    p.data(HEAD, SERVICES, json!({})).await["services"]["edges"]
        .as_array()
        .expect("edges")
        .iter()
        .map(|e| e["node"].clone())
        .find(|s| s["code"] == code)
        .unwrap_or_else(|| panic!("demo service {code}"))
}

const SESSION_CREATE: &str =
    "mutation($input: SessionCreateInput!) { sessionCreate(input: $input) {
    session { id placesLeft } userErrors { field code message } } }";

/// A session of `service` (global id) a month from the clock, booking open for three weeks.
async fn session(p: &Portal, service: &str, capacity: u32) -> (String, DateTime<Utc>) {
    let starts = p.clock.now() + chrono::Duration::days(30);
    let data = p
        .data(
            ADMIN,
            SESSION_CREATE,
            json!({ "input": {
                "serviceId": service,
                "parts": [{ "startsAt": starts, "endsAt": starts + chrono::Duration::hours(6),
                            "venue": "Barnet Partnership Centre" }],
                "capacity": capacity,
                "bookingDeadline": starts - chrono::Duration::days(7),
            } }),
        )
        .await;
    assert_eq!(user_errors(&data["sessionCreate"]), vec![], "{data}");
    (
        data["sessionCreate"]["session"]["id"]
            .as_str()
            .expect("id")
            .to_owned(),
        starts,
    )
}

const BOOK: &str = "mutation($input: BookingCreateInput!) { bookingCreate(input: $input) {
    booking { id status places settlement poNumber total { amountPence }
      offerUsage { id } charge { status poNumber academicYear term }
      waitlist { hasOpenOffer } attendees { id name email } }
    cardPayment { paymentIntentRef status }
    userErrors { field code message } } }";

fn attendees(names: &[&str]) -> Value {
    names
        .iter()
        .map(|n| {
            json!({ "name": n, "email": format!("{}@holly-park.example", n.to_lowercase().replace(' ', ".")),
                    "role": "Teacher" })
        })
        .collect()
}

async fn book(p: &Portal, who: &str, input: Value) -> Value {
    p.data(who, BOOK, json!({ "input": input })).await["bookingCreate"].clone()
}

const SCHOOL_BOOKINGS: &str = "query($urn: String!, $first: Int) { school(urn: $urn) {
    bookings(first: $first) { totalCount edges { node { id status
      session { id placesLeft service { title } } attendees { name } charge { status } } } } } }";

async fn holly_park_urn(p: &Portal) -> String {
    membership::school::by_ids(p.db.conn(), &[p.holly_park])
        .await
        .expect("load")
        .remove(&p.holly_park)
        .expect("school")
        .urn
        .to_string()
}

async fn booking_count(p: &Portal) -> i64 {
    let urn = holly_park_urn(p).await;
    p.data(HEAD, SCHOOL_BOOKINGS, json!({ "urn": urn, "first": 100 }))
        .await["school"]["bookings"]["totalCount"]
        .as_i64()
        .expect("count")
}

const CANCEL: &str =
    "mutation($id: ID!) { bookingCancel(input: { bookingId: $id, reason: \"plans changed\" }) {
    booking { id status }
    returned { fee { amountPence } refund { amountPence } usageReversed
      charge { status } creditNote { id } cardRefund }
    userErrors { field code } } }";

const BOOKING: &str =
    "query($id: ID!) { booking(id: $id) { id status attendees { id attendance certificateUrl } } }";

async fn offer_and_invoice_journeys_with_approval_register_and_certificates(db: TestDb) {
    let config = common::config(&db);
    let p = Portal::spawn(db, &config).await;
    let course = service(&p, "CPD-EARLY-WRITING").await;
    assert_eq!(course["offerItem"]["code"], "CPD_PLACES");
    let course_id = course["id"].as_str().expect("id");
    let (session_id, starts) = session(&p, course_id, 4).await;
    let before = booking_count(&p).await;

    // Bad input: each a user error, nothing written.
    let base = json!({ "schoolId": p.school(), "sessionId": session_id, "settlement": "OFFER" });
    let with = |extra: Value| {
        let mut input = base.clone();
        for (k, v) in extra.as_object().expect("object") {
            input[k] = v.clone();
        }
        input
    };
    let none = book(&p, HEAD, with(json!({ "attendees": [] }))).await;
    assert!(none["booking"].is_null());
    assert_eq!(user_errors(&none)[0].0, "input.attendees", "{none}");
    let twice = book(
        &p,
        HEAD,
        with(json!({ "attendees": [attendees(&["Amy Lee"])[0], attendees(&["Amy Lee"])[0]] })),
    )
    .await;
    assert!(twice["booking"].is_null());
    assert!(
        user_errors(&twice)
            .iter()
            .any(|(f, _)| f.starts_with("input.attendees.1")),
        "{twice}"
    );
    let bad_id = book(
        &p,
        HEAD,
        with(json!({ "sessionId": "not-an-id", "attendees": attendees(&["Amy Lee"]) })),
    )
    .await;
    assert_eq!(
        user_errors(&bad_id),
        vec![("input.sessionId".to_owned(), "INVALID".to_owned())]
    );
    assert_eq!(booking_count(&p).await, before, "nothing was written");

    // Staff cannot book directly; another school's head cannot book for Holly Park.
    let token_input = with(json!({ "attendees": attendees(&["Amy Lee"]) }));
    let staff = p.gql(STAFF, BOOK, json!({ "input": token_input })).await;
    assert_eq!(code(&staff), "FORBIDDEN", "{staff}");
    let other = p
        .gql(OTHER_HEAD, BOOK, json!({ "input": token_input }))
        .await;
    assert!(matches!(code(&other), "FORBIDDEN" | "NOT_FOUND"), "{other}");
    assert_eq!(booking_count(&p).await, before);

    // OFFER: the allowance pays, and a free cancellation gives it back.
    let offered = book(&p, HEAD, token_input.clone()).await;
    assert_eq!(offered["booking"]["status"], "CONFIRMED", "{offered}");
    assert!(offered["booking"]["offerUsage"]["id"].is_string());
    let offered_id = offered["booking"]["id"].as_str().expect("id").to_owned();
    // Another school sees nothing of it.
    let peek = p
        .gql(OTHER_HEAD, BOOKING, json!({ "id": offered_id }))
        .await;
    assert_eq!(code(&peek), "NOT_FOUND", "{peek}");
    let meddle = p.gql(OTHER_HEAD, CANCEL, json!({ "id": offered_id })).await;
    assert_eq!(code(&meddle), "NOT_FOUND", "{meddle}");
    let cancelled =
        p.data(HEAD, CANCEL, json!({ "id": offered_id })).await["bookingCancel"].clone();
    assert_eq!(cancelled["booking"]["status"], "CANCELLED", "{cancelled}");
    assert_eq!(cancelled["returned"]["usageReversed"], true, "{cancelled}");
    assert_eq!(cancelled["returned"]["fee"]["amountPence"], 0);
    // Cancelling twice is a user error.
    let again = p.data(HEAD, CANCEL, json!({ "id": offered_id })).await["bookingCancel"].clone();
    assert_eq!(
        user_errors(&again),
        vec![("input.bookingId".to_owned(), "CONFLICT".to_owned())]
    );

    // INVOICE: a charge on the termly invoice, with the PO.
    let invoiced = book(
        &p,
        HEAD,
        with(json!({ "settlement": "INVOICE", "poNumber": "HP-PO-9001",
                     "attendees": attendees(&["Ben Ode", "Cara Dunn"]) })),
    )
    .await;
    assert_eq!(invoiced["booking"]["status"], "CONFIRMED", "{invoiced}");
    let charge = &invoiced["booking"]["charge"];
    assert_eq!(charge["status"], "PENDING", "{invoiced}");
    assert_eq!(charge["poNumber"], "HP-PO-9001");
    let invoiced_id = invoiced["booking"]["id"].as_str().expect("id").to_owned();

    // Approval: staff ask, another school's head cannot approve, their own head does.
    let request = p
        .data(
            STAFF,
            "mutation($input: BookingRequestInput!) { bookingRequest(input: $input) {
                booking { id status } userErrors { field code } } }",
            json!({ "input": { "schoolId": p.school(), "sessionId": session_id,
                               "attendees": attendees(&["Dev Rao"]) } }),
        )
        .await["bookingRequest"]
        .clone();
    assert_eq!(
        request["booking"]["status"], "PENDING_APPROVAL",
        "{request}"
    );
    let request_id = request["booking"]["id"].as_str().expect("id").to_owned();
    let approve = "mutation($id: ID!) { bookingApprove(input: { bookingId: $id, settlement: INVOICE, poNumber: \"HP-PO-9002\" }) {
        booking { id status charge { poNumber } } userErrors { field code } } }";
    let foreign = p
        .gql(OTHER_HEAD, approve, json!({ "id": request_id }))
        .await;
    assert_eq!(code(&foreign), "NOT_FOUND", "{foreign}");
    let approved =
        p.data(HEAD, approve, json!({ "id": request_id })).await["bookingApprove"].clone();
    assert_eq!(approved["booking"]["status"], "CONFIRMED", "{approved}");
    assert_eq!(approved["booking"]["charge"]["poNumber"], "HP-PO-9002");

    // The session takes place: the provider takes the register.
    p.clock.set(starts + chrono::Duration::hours(7));
    let detail = p.data(ADMIN, BOOKING, json!({ "id": invoiced_id })).await["booking"].clone();
    let people: Vec<String> = detail["attendees"]
        .as_array()
        .expect("attendees")
        .iter()
        .map(|a| a["id"].as_str().expect("id").to_owned())
        .collect();
    let register = "mutation($input: AttendanceRecordInput!) { attendanceRecord(input: $input) {
        attendees { id attendance } bookings { id status } userErrors { field code } } }";
    let marks = json!({ "input": { "sessionId": session_id, "marks": [
        { "attendeeId": people[0], "attendance": "ATTENDED" },
        { "attendeeId": people[1], "attendance": "NO_SHOW" } ] } });
    // Only the provider takes it.
    let by_head = p.gql(HEAD, register, marks.clone()).await;
    assert_eq!(code(&by_head), "FORBIDDEN", "{by_head}");
    let bad_mark = p
        .data(
            ADMIN,
            register,
            json!({ "input": { "sessionId": session_id, "marks": [
                { "attendeeId": "nope", "attendance": "ATTENDED" } ] } }),
        )
        .await;
    assert_eq!(
        user_errors(&bad_mark["attendanceRecord"]),
        vec![("input.marks.0.attendeeId".to_owned(), "INVALID".to_owned())]
    );
    let taken = p.data(ADMIN, register, marks).await["attendanceRecord"].clone();
    assert_eq!(user_errors(&taken), vec![], "{taken}");
    assert_eq!(taken["bookings"][0]["status"], "ATTENDED", "{taken}");

    // The certificate of the one who came: their school and the provider; others 404.
    let detail = p.data(HEAD, BOOKING, json!({ "id": invoiced_id })).await["booking"].clone();
    let url = detail["attendees"][0]["certificateUrl"]
        .as_str()
        .expect("a certificate for the attendee")
        .to_owned();
    assert!(detail["attendees"][1]["certificateUrl"].is_null());
    let fetch = |email: Option<&'static str>| {
        let url = format!("{}{url}", p.base);
        let p = &p;
        async move {
            let mut req = p.client.get(url);
            if let Some(email) = email {
                req = req.bearer_auth(p.token(email).await);
            }
            req.send().await.expect("certificate")
        }
    };
    for who in [HEAD, ADMIN] {
        let res = fetch(Some(who)).await;
        assert_eq!(res.status(), StatusCode::OK, "{who}");
        assert_eq!(res.headers()["content-type"], "application/pdf");
        let body = res.bytes().await.expect("body");
        assert!(body.starts_with(b"%PDF-"), "a PDF for {who}");
    }
    assert_eq!(
        fetch(Some(OTHER_HEAD)).await.status(),
        StatusCode::NOT_FOUND
    );
    assert_eq!(fetch(None).await.status(), StatusCode::UNAUTHORIZED);
    let missing = p
        .client
        .get(format!("{}/certificates/{}", p.base, people[1]))
        .bearer_auth(p.token(HEAD).await)
        .send()
        .await
        .expect("no certificate");
    assert_eq!(
        missing.status(),
        StatusCode::NOT_FOUND,
        "a no-show has none"
    );

    // Feedback: once, from the attendee's school, in range.
    let feedback = "mutation($input: FeedbackSubmitInput!) { feedbackSubmit(input: $input) {
        feedback { rating comment } userErrors { field code } } }";
    let out_of_range = p
        .data(
            HEAD,
            feedback,
            json!({ "input": { "attendeeId": people[0], "rating": 9 } }),
        )
        .await;
    assert_eq!(
        user_errors(&out_of_range["feedbackSubmit"]),
        vec![("input.rating".to_owned(), "OUT_OF_RANGE".to_owned())]
    );
    let given = p
        .data(
            HEAD,
            feedback,
            json!({ "input": { "attendeeId": people[0], "rating": 5, "comment": "Practical" } }),
        )
        .await;
    assert_eq!(given["feedbackSubmit"]["feedback"]["rating"], 5, "{given}");
    let rated = p
        .data(
            HEAD,
            "query($id: ID!) { service(id: $id) { rating { count average } } }",
            json!({ "id": course_id }),
        )
        .await;
    assert_eq!(rated["service"]["rating"]["count"], 1, "{rated}");

    // The term ends: finance issues its booking invoices, each booking a line with its PO.
    p.clock.set(starts + chrono::Duration::days(200));
    let issued = p
        .data(
            FINANCE,
            "mutation($input: TermInvoicesIssueInput!) { termInvoicesIssue(input: $input) {
                invoices { account { name } lines { poNumber net { amountPence } } }
                userErrors { field code } } }",
            json!({ "input": { "academicYear": charge["academicYear"], "term": charge["term"] } }),
        )
        .await["termInvoicesIssue"]
        .clone();
    assert_eq!(user_errors(&issued), vec![], "{issued}");
    let pos: Vec<&str> = issued["invoices"]
        .as_array()
        .expect("invoices")
        .iter()
        .flat_map(|i| i["lines"].as_array().expect("lines"))
        .filter_map(|l| l["poNumber"].as_str())
        .collect();
    assert!(pos.contains(&"HP-PO-9001"), "{issued}");
    assert!(pos.contains(&"HP-PO-9002"), "{issued}");
}

const STRIPE_SECRET: &str = "sk_test_e2e_traded";

/// The app's configuration with Stripe at the stand-in; `None` when the harness runs none.
fn with_stripe(db: &TestDb) -> Option<(Config, String, String)> {
    let stripe = testkit::stripe_url()?;
    let webhook_secret = format!("whsec_{}", uuid::Uuid::now_v7().simple());
    let mut config = common::config(db);
    config.stripe_secret_key = Some(STRIPE_SECRET.to_owned());
    config.stripe_webhook_secret = Some(webhook_secret.clone());
    config.stripe_api_base = Some(stripe.clone());
    Some((config, stripe, webhook_secret))
}

/// A PaymentIntent as the stand-in holds it.
async fn intent_at(p: &Portal, stripe: &str, intent: &str) -> Value {
    p.client
        .get(format!("{stripe}/v1/payment_intents/{intent}"))
        .basic_auth(STRIPE_SECRET, Some(""))
        .send()
        .await
        .expect("stand-in")
        .json()
        .await
        .expect("json")
}

/// POSTs a form to the stand-in, asserting it succeeds.
async fn stand_in_post(p: &Portal, stripe: &str, path: &str, form: &[(&str, &str)]) -> Value {
    let response = p
        .client
        .post(format!("{stripe}/v1/{path}"))
        .basic_auth(STRIPE_SECRET, Some(""))
        .form(form)
        .send()
        .await
        .expect("stand-in");
    let status = response.status();
    let body: Value = response.json().await.expect("json");
    assert!(status.is_success(), "{path}: {body}");
    body
}

/// The portal pays a PaymentIntent with a good card, as Stripe.js would; no webhook yet.
async fn pay_at_stripe(p: &Portal, stripe: &str, intent: &str) {
    let customer = intent_at(p, stripe, intent).await["customer"]
        .as_str()
        .expect("the intent's customer")
        .to_owned();
    let card = [
        ("type", "card"),
        ("card[number]", "4242424242424242"),
        ("card[exp_month]", "12"),
        ("card[exp_year]", "2031"),
        ("card[cvc]", "123"),
    ];
    let pm = stand_in_post(p, stripe, "payment_methods", &card).await["id"]
        .as_str()
        .expect("pm")
        .to_owned();
    stand_in_post(
        p,
        stripe,
        &format!("payment_methods/{pm}/attach"),
        &[("customer", customer.as_str())],
    )
    .await;
    stand_in_post(
        p,
        stripe,
        &format!("payment_intents/{intent}"),
        &[("payment_method", pm.as_str())],
    )
    .await;
    let paid = stand_in_post(p, stripe, &format!("payment_intents/{intent}/confirm"), &[]).await;
    assert_eq!(paid["status"], "succeeded", "{paid}");
}

/// Delivers `event` to the app's webhook, signed with `secret` at the app's time (the
/// signature's timestamp must be fresh by the app's clock).
async fn deliver(p: &Portal, event: &[u8], secret: &str) -> StatusCode {
    let now = p.clock.now().timestamp();
    common::post_webhook(&p.client, &p.base, event, &sign(event, secret, now)).await
}

async fn card_bookings_confirm_on_the_signed_webhook_and_refund_on_cancel(db: TestDb) {
    let Some((config, stripe, webhook_secret)) = with_stripe(&db) else {
        return;
    };
    let p = Portal::spawn(db, &config).await;
    let conference = service(&p, "CONF-2027").await;
    let (session_id, _) = session(&p, conference["id"].as_str().expect("id"), 10).await;

    let input = json!({ "schoolId": p.school(), "sessionId": session_id, "settlement": "CARD",
                        "attendees": attendees(&["Eve Moss"]) });
    let booked = book(&p, HEAD, input).await;
    assert_eq!(booked["booking"]["status"], "PENDING_PAYMENT", "{booked}");
    let intent = booked["cardPayment"]["paymentIntentRef"]
        .as_str()
        .expect("a PaymentIntent")
        .to_owned();
    let id = booked["booking"]["id"].as_str().expect("id").to_owned();
    let pay = "mutation($id: ID!) { bookingPay(input: { bookingId: $id }) {
        booking { status } cardPayment { paymentIntentRef } userErrors { field code } } }";
    // Retrying the payment resumes the same PaymentIntent.
    let retry = p.data(HEAD, pay, json!({ "id": id })).await;
    assert_eq!(
        retry["bookingPay"]["cardPayment"]["paymentIntentRef"], intent,
        "{retry}"
    );

    // The card is charged at Stripe: its signed payment_intent.succeeded confirms the booking.
    let mut pi = intent_at(&p, &stripe, &intent).await;
    assert_eq!(
        pi["amount"], booked["booking"]["total"]["amountPence"],
        "{pi}"
    );
    pi["status"] = json!("succeeded");
    pi["amount_received"] = pi["amount"].clone();
    let now = chrono::Utc::now().timestamp();
    let event = serde_json::to_vec(&json!({
        "id": format!("evt_traded_{}", uuid::Uuid::now_v7().simple()), "object": "event",
        "type": "payment_intent.succeeded", "created": now, "data": { "object": pi } }))
    .expect("json");
    for _ in 0..2 {
        let status = deliver(&p, &event, &webhook_secret).await;
        assert_eq!(status, StatusCode::OK, "delivered and redelivered");
    }
    let now_booked = p.data(HEAD, BOOKING, json!({ "id": id })).await;
    assert_eq!(now_booked["booking"]["status"], "CONFIRMED", "{now_booked}");
    // Paying twice is refused.
    let twice = p.data(HEAD, pay, json!({ "id": id })).await;
    assert_eq!(
        user_errors(&twice["bookingPay"]),
        vec![("input.bookingId".to_owned(), "CONFLICT".to_owned())]
    );

    // Cancelled a month ahead: free under the policy, a credit note and the card refunded.
    let cancelled = p.data(HEAD, CANCEL, json!({ "id": id })).await["bookingCancel"].clone();
    assert_eq!(cancelled["booking"]["status"], "CANCELLED", "{cancelled}");
    let returned = &cancelled["returned"];
    assert_eq!(returned["fee"]["amountPence"], 0, "{cancelled}");
    assert_eq!(
        returned["refund"]["amountPence"],
        booked["booking"]["total"]["amountPence"]
    );
    assert!(returned["creditNote"]["id"].is_string(), "{cancelled}");
    assert!(
        matches!(returned["cardRefund"].as_str(), Some("DONE" | "PENDING")),
        "{cancelled}"
    );
    assert_eq!(returned["usageReversed"], false);
}

/// A card booking given up on — cancelled by its school or released unpaid by the sweep —
/// calls off its PaymentIntent, so the school cannot pay for places it no longer holds; one
/// whose card was already charged is neither cancelled nor released, and its webhook
/// confirms it.
async fn an_abandoned_card_payment_is_called_off_and_a_completed_one_is_kept(db: TestDb) {
    let Some((config, stripe, webhook_secret)) = with_stripe(&db) else {
        return;
    };
    let provider = billing::provider::StripeProvider::new(&config.stripe().expect("stripe"))
        .expect("provider");
    let p = Portal::spawn(db, &config).await;
    let conference = service(&p, "CONF-2027").await;
    let (session_id, _) = session(&p, conference["id"].as_str().expect("id"), 10).await;
    let card_booking = |name: &str| {
        json!({ "schoolId": p.school(), "sessionId": session_id, "settlement": "CARD",
                "attendees": attendees(&[name]) })
    };
    let intent_of = |booked: &Value| {
        booked["cardPayment"]["paymentIntentRef"]
            .as_str()
            .expect("a PaymentIntent")
            .to_owned()
    };
    let id_of = |booked: &Value| booked["booking"]["id"].as_str().expect("id").to_owned();

    // Cancelled before paying: the intent is cancelled at Stripe, the booking cancelled.
    let abandoned = book(&p, HEAD, card_booking("Ann Able")).await;
    let cancelled = p
        .data(HEAD, CANCEL, json!({ "id": id_of(&abandoned) }))
        .await["bookingCancel"]
        .clone();
    assert_eq!(cancelled["booking"]["status"], "CANCELLED", "{cancelled}");
    assert_eq!(
        intent_at(&p, &stripe, &intent_of(&abandoned)).await["status"],
        "canceled"
    );

    // Charged at Stripe, its webhook not yet here: cancelling is a CONFLICT that changes
    // nothing, and the sweep leaves it however old it is.
    let paying = book(&p, HEAD, card_booking("Ben Bright")).await;
    let paying_intent = intent_of(&paying);
    pay_at_stripe(&p, &stripe, &paying_intent).await;
    let refused =
        p.data(HEAD, CANCEL, json!({ "id": id_of(&paying) })).await["bookingCancel"].clone();
    assert_eq!(
        user_errors(&refused),
        vec![("input.bookingId".to_owned(), "CONFLICT".to_owned())]
    );

    // Never paid: released by the sweep once the hold has passed, its intent cancelled.
    let unpaid = book(&p, HEAD, card_booking("Cat Cole")).await;
    p.clock.advance(chrono::Duration::hours(3));
    let released = traded::release_unpaid_bookings(
        p.db.conn(),
        p.clock.as_ref(),
        &provider,
        chrono::Duration::hours(2),
    )
    .await
    .expect("sweep");
    let released: Vec<String> = released
        .iter()
        .map(|b| b.id.to_global().to_string())
        .collect();
    assert_eq!(released, vec![id_of(&unpaid)], "only the unpaid booking");
    assert_eq!(
        intent_at(&p, &stripe, &intent_of(&unpaid)).await["status"],
        "canceled"
    );
    let still = p.data(HEAD, BOOKING, json!({ "id": id_of(&paying) })).await;
    assert_eq!(still["booking"]["status"], "PENDING_PAYMENT", "{still}");
    assert_eq!(
        intent_at(&p, &stripe, &paying_intent).await["status"],
        "succeeded"
    );

    // The webhook arrives and confirms the booking the sweep kept.
    let pi = intent_at(&p, &stripe, &paying_intent).await;
    let event = serde_json::to_vec(&json!({
        "id": format!("evt_kept_{}", uuid::Uuid::now_v7().simple()), "object": "event",
        "type": "payment_intent.succeeded", "created": p.clock.now().timestamp(),
        "data": { "object": pi } }))
    .expect("json");
    assert_eq!(deliver(&p, &event, &webhook_secret).await, StatusCode::OK);
    let confirmed = p.data(HEAD, BOOKING, json!({ "id": id_of(&paying) })).await;
    assert_eq!(confirmed["booking"]["status"], "CONFIRMED", "{confirmed}");
}

/// A graphql-ws subscription to `query` as `email`.
async fn subscribe(p: &Portal, email: &str, query: &str, variables: Value) -> Subscriber {
    Subscriber::open(&p.base, &p.token(email).await, query, variables)
        .await
        .expect("subscribed")
}

const UPDATED: &str = "subscription($school: ID!) { bookingUpdated(schoolId: $school) {
    id status waitlist { hasOpenOffer } } }";

async fn a_waiting_list_offer_arrives_over_the_subscription(db: TestDb) {
    let config = common::config(&db);
    let p = Portal::spawn(db, &config).await;
    let course = service(&p, "CPD-MIDDLE-LEADERS").await;
    let (session_id, _) = session(&p, course["id"].as_str().expect("id"), 1).await;

    // Monkfrith takes the only place.
    let taken = book(
        &p,
        ADMIN,
        json!({ "schoolId": p.other_school(), "sessionId": session_id, "settlement": "INVOICE",
                "attendees": [{ "name": "Jo Bell", "email": "jo.bell@monkfrith.example" }] }),
    )
    .await;
    assert_eq!(taken["booking"]["status"], "CONFIRMED", "{taken}");
    let taken_id = taken["booking"]["id"].as_str().expect("id").to_owned();

    // Full: without joining the list nothing is written; with it, Holly Park waits.
    let before = booking_count(&p).await;
    let input = json!({ "schoolId": p.school(), "sessionId": session_id, "settlement": "INVOICE",
                        "attendees": attendees(&["Fay Wu"]) });
    let full = book(&p, HEAD, input.clone()).await;
    assert_eq!(
        user_errors(&full),
        vec![("input.attendees".to_owned(), "CONFLICT".to_owned())],
        "{full}"
    );
    assert_eq!(booking_count(&p).await, before);
    let mut waiting_input = input;
    waiting_input["joinWaitlist"] = json!(true);
    let waiting = book(&p, HEAD, waiting_input).await;
    assert_eq!(waiting["booking"]["status"], "WAITLISTED", "{waiting}");
    assert_eq!(waiting["booking"]["waitlist"]["hasOpenOffer"], false);
    let waiting_id = waiting["booking"]["id"].as_str().expect("id").to_owned();

    // Another school's head may not listen to Holly Park's bookings.
    let mut nosy = subscribe(&p, OTHER_HEAD, UPDATED, json!({ "school": p.school() })).await;
    let refused = nosy
        .message(Duration::from_secs(10))
        .await
        .expect("an answer");
    assert!(refused["payload"]["data"].is_null(), "{refused}");
    assert_eq!(
        refused["payload"]["errors"][0]["extensions"]["code"], "NOT_FOUND",
        "{refused}"
    );

    // Holly Park's head listens; Monkfrith cancels; the offer arrives live.
    let mut head = subscribe(&p, HEAD, UPDATED, json!({ "school": p.school() })).await;
    let cancelled = p.data(ADMIN, CANCEL, json!({ "id": taken_id })).await;
    assert_eq!(cancelled["bookingCancel"]["booking"]["status"], "CANCELLED");
    let offer = head
        .message(Duration::from_secs(10))
        .await
        .expect("an offer arrives");
    let offered = &offer["payload"]["data"]["bookingUpdated"];
    assert_eq!(offered["id"], waiting_id.as_str(), "{offer}");
    assert_eq!(offered["waitlist"]["hasOpenOffer"], true, "{offer}");

    // Accepted, it is a booking; the subscriber hears that too.
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
    let confirmed = head
        .message(Duration::from_secs(10))
        .await
        .expect("the confirmation arrives");
    assert_eq!(
        confirmed["payload"]["data"]["bookingUpdated"]["status"],
        "CONFIRMED"
    );

    // The provider cancels the session: a reason is required, then everyone is told.
    let cancel_session = "mutation($id: ID!, $reason: String!) { sessionCancel(input: { sessionId: $id, reason: $reason }) {
        session { status } bookings { id status } userErrors { field code } } }";
    let no_reason = p
        .data(
            ADMIN,
            cancel_session,
            json!({ "id": session_id, "reason": "" }),
        )
        .await;
    assert_eq!(
        user_errors(&no_reason["sessionCancel"]),
        vec![("input.reason".to_owned(), "REQUIRED".to_owned())]
    );
    let by_head = p
        .gql(
            HEAD,
            cancel_session,
            json!({ "id": session_id, "reason": "x" }),
        )
        .await;
    assert_eq!(code(&by_head), "FORBIDDEN", "{by_head}");
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
    let told = head
        .message(Duration::from_secs(10))
        .await
        .expect("the cancellation arrives");
    assert_eq!(
        told["payload"]["data"]["bookingUpdated"]["status"],
        "CANCELLED"
    );
}

const CATALOGUE: &str = "query($first: Int!) { services(first: $first) { edges { node {
    title category rating { count } memberPrice { amountPence }
    sessions(upcoming: true) { startsAt placesLeft bookable parts { venue } } } } } }";

async fn the_catalogue_and_a_schools_bookings_cost_the_same_for_2_and_30(mut db: TestDb) {
    let counter = db.count_statements();
    let config = common::config(&db);
    let p = Portal::spawn(db, &config).await;
    let conn = p.db.conn();
    let now = p.clock.now();
    // Enough services, each with a session, and a big session with 30 of Holly Park's bookings.
    let mut big = None;
    for n in 0..25 {
        let created = traded::create_service(
            conn,
            &Actor::System,
            p.clock.as_ref(),
            traded::NewService {
                code: format!("LOAD-{n:02}"),
                title: format!("Load course {n:02}"),
                category: traded::Category::CpdCourse,
                description: String::new(),
                audience: "Teachers".to_owned(),
                phases: vec![],
                provider_school_id: None,
                provider_name: "School improvement team".to_owned(),
                delivery: traded::Delivery::InPerson,
                member_price: kernel::Money::from_pence(10_000),
                non_member_price: None,
                vat_treatment: billing::ledger::VatTreatment::Exempt,
                vat_rate_bp: 0,
                cfr_code: None,
                offer_item_id: None,
            },
        )
        .await
        .expect("service");
        traded::publish_service(conn, &Actor::System, p.clock.as_ref(), created.id)
            .await
            .expect("publish");
        let starts = now + chrono::Duration::days(40 + n);
        let session = traded::create_session(
            conn,
            &Actor::System,
            p.clock.as_ref(),
            traded::NewSession {
                service_id: created.id,
                label: None,
                parts: vec![traded::SessionPart {
                    starts_at: starts,
                    ends_at: starts + chrono::Duration::hours(3),
                    venue: Some("Centre".to_owned()),
                    online_url: None,
                }],
                capacity: 40,
                booking_deadline: starts - chrono::Duration::days(7),
                policy: traded::CancellationPolicy::default(),
                waitlist_offer_hours: None,
            },
        )
        .await
        .expect("session");
        big.get_or_insert(session);
    }
    let big = big.expect("a session");
    let admin = Actor::User(
        membership::people::users::actor_for(conn, membership::people::users::Lookup::Email(ADMIN))
            .await
            .expect("lookup")
            .expect("admin"),
    );
    for n in 0..30 {
        traded::book(
            conn,
            &admin,
            p.clock.as_ref(),
            &billing::provider::OfflineProvider,
            traded::NewBooking {
                school_id: p.holly_park,
                session_id: big.id,
                attendees: vec![traded::NewAttendee {
                    name: format!("Teacher {n}"),
                    email: format!("teacher{n}@holly-park.example"),
                    role: None,
                }],
                settlement: traded::Settlement::Invoice,
                po_number: None,
                join_waitlist: false,
                idempotency_key: None,
            },
        )
        .await
        .expect("booking");
    }
    let urn = holly_park_urn(&p).await;

    let cost = |query: &'static str, vars: Value, path: &'static [&'static str]| {
        let counter = counter.clone();
        let p = &p;
        async move {
            let _ = p.gql(HEAD, query, vars.clone()).await;
            counter.reset();
            let body = p.gql(HEAD, query, vars).await;
            let spent = counter.get();
            assert!(body.get("errors").is_none(), "{body}");
            let mut node = &body["data"];
            for key in path {
                node = &node[*key];
            }
            (node.as_array().expect("edges").len(), spent)
        }
    };
    let (two, small) = cost(CATALOGUE, json!({ "first": 2 }), &["services", "edges"]).await;
    let (thirty, large) = cost(CATALOGUE, json!({ "first": 30 }), &["services", "edges"]).await;
    assert_eq!((two, thirty), (2, 30));
    assert_eq!(
        small, large,
        "catalogue: 2 services vs 30 cost {small} vs {large} statements"
    );
    let (two, small) = cost(
        SCHOOL_BOOKINGS,
        json!({ "urn": urn, "first": 2 }),
        &["school", "bookings", "edges"],
    )
    .await;
    let (thirty, large) = cost(
        SCHOOL_BOOKINGS,
        json!({ "urn": urn, "first": 30 }),
        &["school", "bookings", "edges"],
    )
    .await;
    assert_eq!((two, thirty), (2, 30));
    assert_eq!(
        small, large,
        "bookings: 2 vs 30 cost {small} vs {large} statements"
    );
}

/// Finance records a bank transfer against a card booking's one-off invoice and allocates
/// it: the booking is confirmed by that allocation, not left PENDING_PAYMENT for the sweep.
async fn a_transfer_that_pays_a_card_booking_confirms_it_at_once(db: TestDb) {
    let Some((config, _stripe, _secret)) = with_stripe(&db) else {
        return;
    };
    let p = Portal::spawn(db, &config).await;
    let conference = service(&p, "CONF-2027").await;
    let (session_id, _) = session(&p, conference["id"].as_str().expect("id"), 10).await;
    let booked = book(
        &p,
        HEAD,
        json!({ "schoolId": p.school(), "sessionId": session_id, "settlement": "CARD",
                "attendees": attendees(&["Eve Moss"]) }),
    )
    .await;
    assert_eq!(booked["booking"]["status"], "PENDING_PAYMENT", "{booked}");
    let id = booked["booking"]["id"].as_str().expect("id").to_owned();
    let invoice = p
        .data(
            FINANCE,
            "query($id: ID!) { booking(id: $id) { invoice { id total { amountPence }
               account { id } } } }",
            json!({ "id": id }),
        )
        .await["booking"]["invoice"]
        .clone();
    let total = invoice["total"]["amountPence"].as_i64().expect("total");
    let received = p
        .data(
            FINANCE,
            "mutation($input: PaymentRecordInput!) { paymentRecord(input: $input) {
               payment { id } userErrors { field code } } }",
            json!({ "input": { "accountId": invoice["account"]["id"], "method": "BANK_TRANSFER",
                    "reference": "HOLLY PARK CONF", "receivedOn": p.clock.now().date_naive(),
                    "amountPence": total } }),
        )
        .await;
    let payment = received["paymentRecord"]["payment"]["id"].clone();
    assert!(payment.is_string(), "{received}");
    let allocated = p
        .data(
            FINANCE,
            "mutation($input: PaymentAllocateInput!) { paymentAllocate(input: $input) {
               userErrors { field code } } }",
            json!({ "input": { "paymentId": payment,
                    "allocations": [{ "invoiceId": invoice["id"], "amountPence": total }] } }),
        )
        .await;
    assert_eq!(
        user_errors(&allocated["paymentAllocate"]),
        vec![],
        "{allocated}"
    );
    let now = p.data(HEAD, BOOKING, json!({ "id": id })).await;
    assert_eq!(now["booking"]["status"], "CONFIRMED", "{now}");
}

/// Without a payment provider no card payment can be completed, so CARD is refused with a
/// userError on the settlement, and nothing is booked.
async fn card_is_refused_without_a_payment_provider(db: TestDb) {
    let config = common::config(&db);
    let p = Portal::spawn(db, &config).await;
    let conference = service(&p, "CONF-2027").await;
    let (session_id, _) = session(&p, conference["id"].as_str().expect("id"), 10).await;
    let before = booking_count(&p).await;
    let refused = book(
        &p,
        HEAD,
        json!({ "schoolId": p.school(), "sessionId": session_id, "settlement": "CARD",
                "attendees": attendees(&["Eve Moss"]) }),
    )
    .await;
    assert!(refused["booking"].is_null(), "{refused}");
    assert_eq!(
        user_errors(&refused),
        vec![("input.settlement".to_owned(), "INVALID".to_owned())],
        "{refused}"
    );
    assert_eq!(booking_count(&p).await, before, "nothing was booked");
}

const CANCEL_IN_UNITS: &str = "mutation($id: ID!) { bookingCancel(input: { bookingId: $id }) {
    booking { status cancellationFee { amountPence } refund { amountPence }
      cancellationUnitsKept cancellationUnitsReturned }
    returned { fee { amountPence } refund { amountPence } usageReversed unitsKept unitsReturned }
    userErrors { field code } } }";

/// A core-offer booking cancelled a week out (the late band: half kept) answers in units —
/// one of its two places back — and in money nothing, never its price as fee and refund.
async fn a_late_offer_cancellation_answers_in_units_not_money(db: TestDb) {
    let config = common::config(&db);
    let p = Portal::spawn(db, &config).await;
    let course = service(&p, "CPD-EARLY-WRITING").await;
    let (session_id, starts) = session(&p, course["id"].as_str().expect("id"), 4).await;
    let booked = book(
        &p,
        HEAD,
        json!({ "schoolId": p.school(), "sessionId": session_id, "settlement": "OFFER",
                "attendees": attendees(&["Amy Lee", "Ben Ode"]) }),
    )
    .await;
    assert_eq!(booked["booking"]["status"], "CONFIRMED", "{booked}");
    p.clock.set(starts - chrono::Duration::days(7));
    let cancelled = p
        .data(
            HEAD,
            CANCEL_IN_UNITS,
            json!({ "id": booked["booking"]["id"] }),
        )
        .await["bookingCancel"]
        .clone();
    assert_eq!(user_errors(&cancelled), vec![], "{cancelled}");
    assert_eq!(
        cancelled["returned"],
        json!({ "fee": { "amountPence": 0 }, "refund": { "amountPence": 0 },
                "usageReversed": true, "unitsKept": 1, "unitsReturned": 1 }),
        "{cancelled}"
    );
    assert_eq!(
        cancelled["booking"],
        json!({ "status": "CANCELLED", "cancellationFee": { "amountPence": 0 },
                "refund": { "amountPence": 0 },
                "cancellationUnitsKept": 1, "cancellationUnitsReturned": 1 }),
        "{cancelled}"
    );
}

const BY_PROVIDER: &str = "query($filter: ServiceFilterInput) {
    services(first: 100, filter: $filter) { totalCount edges { node { code providerSchool { id } } } } }";

/// `providedByPartnership: false` is school-to-school support from any school, as the schema
/// says; `true` is partnership staff only; together they are the whole catalogue.
async fn the_catalogue_filters_school_to_school_support_from_any_school(db: TestDb) {
    let config = common::config(&db);
    let p = Portal::spawn(db, &config).await;
    let list = |filter: Value| {
        let p = &p;
        async move {
            let body = p.gql(HEAD, BY_PROVIDER, json!({ "filter": filter })).await;
            assert!(body.get("errors").is_none(), "refused: {body}");
            let services = body["data"]["services"].clone();
            let total = services["totalCount"].as_i64().expect("count");
            let nodes: Vec<Value> = services["edges"]
                .as_array()
                .expect("edges")
                .iter()
                .map(|e| e["node"].clone())
                .collect();
            assert_eq!(usize::try_from(total).expect("count"), nodes.len());
            nodes
        }
    };
    let schools = list(json!({ "providedByPartnership": false })).await;
    let staff = list(json!({ "providedByPartnership": true })).await;
    let every = list(Value::Null).await;
    assert!(!schools.is_empty(), "the demo has school-to-school support");
    assert!(
        schools
            .iter()
            .all(|s| s["providerSchool"]["id"].is_string())
    );
    assert!(staff.iter().all(|s| s["providerSchool"].is_null()));
    assert_eq!(schools.len() + staff.len(), every.len());
    // With one school named, `false` narrows to that school's support only.
    let one = schools[0]["providerSchool"]["id"].clone();
    let of_one = list(json!({ "providedByPartnership": false, "providerSchoolId": one })).await;
    assert!(!of_one.is_empty() && of_one.iter().all(|s| s["providerSchool"]["id"] == one));
}

const PLACES_LEFT: &str = "query($id: ID!) { node(id: $id) { ... on Session { placesLeft } } }";

const REQUEST: &str = "mutation($input: BookingRequestInput!) { bookingRequest(input: $input) {
    booking { id status } userErrors { field code } } }";

/// A leader retrying `bookingCreate` after a timeout with the same idempotency key gets the
/// first booking back and takes no second place; the same key for another request is a
/// CONFLICT that books nothing; another caller's same key is their own request. Staff
/// requests are keyed alike.
async fn a_retried_booking_or_request_with_its_key_is_made_once(db: TestDb) {
    let config = common::config(&db);
    let p = Portal::spawn(db, &config).await;
    let course = service(&p, "CPD-EARLY-WRITING").await;
    let (session_id, _) = session(&p, course["id"].as_str().expect("id"), 6).await;
    let places_left = || async {
        p.data(ADMIN, PLACES_LEFT, json!({ "id": session_id }))
            .await["node"]["placesLeft"]
            .as_i64()
            .expect("placesLeft")
    };
    let before = booking_count(&p).await;
    let input = json!({ "schoolId": p.school(), "sessionId": session_id, "settlement": "INVOICE",
                        "attendees": attendees(&["Amy Lee", "Ben Ode"]),
                        "idempotencyKey": "hp-retry-1" });
    let first = book(&p, HEAD, input.clone()).await;
    assert_eq!(user_errors(&first), vec![], "{first}");
    let again = book(&p, HEAD, input.clone()).await;
    assert_eq!(
        again["booking"], first["booking"],
        "the retry answers the first booking"
    );
    assert_eq!(places_left().await, 4, "two places taken, once");
    assert_eq!(booking_count(&p).await, before + 1);

    let mut changed = input.clone();
    changed["attendees"] = attendees(&["Amy Lee"]);
    let conflict = book(&p, HEAD, changed).await;
    assert!(conflict["booking"].is_null(), "{conflict}");
    assert_eq!(
        user_errors(&conflict),
        vec![("input.idempotencyKey".to_owned(), "CONFLICT".to_owned())]
    );
    let mut blank = input.clone();
    blank["idempotencyKey"] = json!("  ");
    assert_eq!(
        user_errors(&book(&p, HEAD, blank).await),
        vec![("input.idempotencyKey".to_owned(), "INVALID".to_owned())]
    );
    assert_eq!(places_left().await, 4, "refused requests take nothing");

    // The partnership admin's same key is the admin's own request: neither a replay of the
    // head's booking nor a conflict with it.
    let mut admins = input.clone();
    admins["attendees"] = attendees(&["Dee Hart", "Eli Moss"]);
    let admins = book(&p, ADMIN, admins).await;
    assert_eq!(user_errors(&admins), vec![], "{admins}");
    assert_ne!(admins["booking"]["id"], first["booking"]["id"]);
    assert_eq!(places_left().await, 2);

    let request = json!({ "input": { "schoolId": p.school(), "sessionId": session_id,
                          "attendees": attendees(&["Cal Reed"]), "idempotencyKey": "req-1" } });
    let asked = p.data(STAFF, REQUEST, request.clone()).await["bookingRequest"].clone();
    assert_eq!(user_errors(&asked), vec![], "{asked}");
    let asked_again = p.data(STAFF, REQUEST, request).await["bookingRequest"].clone();
    assert_eq!(asked_again["booking"], asked["booking"]);
    assert_eq!(
        booking_count(&p).await,
        before + 3,
        "two bookings and one request"
    );
}

/// A two-part course over GraphQL: the register names the part, a part not yet started is
/// refused, and the certificate link appears only after the last part, for those present at
/// both.
async fn a_two_part_course_is_registered_per_part_and_certified_at_the_end(db: TestDb) {
    let config = common::config(&db);
    let p = Portal::spawn(db, &config).await;
    let course = service(&p, "CPD-EARLY-WRITING").await;
    let day_one = p.clock.now() + chrono::Duration::days(30);
    let day_two = day_one + chrono::Duration::days(7);
    let created = p
        .data(
            ADMIN,
            SESSION_CREATE,
            json!({ "input": {
                "serviceId": course["id"],
                "parts": [
                    { "startsAt": day_one, "endsAt": day_one + chrono::Duration::hours(3),
                      "venue": "Barnet Partnership Centre" },
                    { "startsAt": day_two, "endsAt": day_two + chrono::Duration::hours(3),
                      "venue": "Barnet Partnership Centre" }],
                "capacity": 4,
                "bookingDeadline": day_one - chrono::Duration::days(7),
            } }),
        )
        .await;
    assert_eq!(user_errors(&created["sessionCreate"]), vec![], "{created}");
    let session_id = created["sessionCreate"]["session"]["id"].clone();
    let booked = book(
        &p,
        HEAD,
        json!({ "schoolId": p.school(), "sessionId": session_id, "settlement": "OFFER",
                "attendees": attendees(&["Amy Lee", "Ben Ode"]) }),
    )
    .await;
    assert_eq!(booked["booking"]["status"], "CONFIRMED", "{booked}");
    let booking_id = booked["booking"]["id"].clone();
    let people: Vec<Value> = booked["booking"]["attendees"]
        .as_array()
        .expect("attendees")
        .iter()
        .map(|a| a["id"].clone())
        .collect();
    let register = "mutation($input: AttendanceRecordInput!) { attendanceRecord(input: $input) {
        attendees { id attendance partsAttended } userErrors { field code } } }";
    let marks = |part: Option<i32>, second: &str| {
        let mut input = json!({ "sessionId": session_id, "marks": [
            { "attendeeId": people[0], "attendance": "ATTENDED" },
            { "attendeeId": people[1], "attendance": second } ] });
        if let Some(part) = part {
            input["part"] = json!(part);
        }
        json!({ "input": input })
    };
    p.clock.set(day_one + chrono::Duration::hours(1));
    let unnamed = p.data(ADMIN, register, marks(None, "ATTENDED")).await;
    assert_eq!(
        user_errors(&unnamed["attendanceRecord"]),
        vec![("input.part".to_owned(), "REQUIRED".to_owned())]
    );
    let too_soon = p.data(ADMIN, register, marks(Some(1), "ATTENDED")).await;
    assert_eq!(
        user_errors(&too_soon["attendanceRecord"]),
        vec![("input.part".to_owned(), "CONFLICT".to_owned())]
    );
    let first = p.data(ADMIN, register, marks(Some(0), "ATTENDED")).await;
    assert_eq!(user_errors(&first["attendanceRecord"]), vec![], "{first}");
    assert_eq!(
        first["attendanceRecord"]["attendees"][0]["partsAttended"],
        1
    );
    p.clock.set(day_one + chrono::Duration::days(1));
    let between = p.data(HEAD, BOOKING, json!({ "id": booking_id })).await;
    assert!(
        between["booking"]["attendees"][0]["certificateUrl"].is_null(),
        "no certificate between the parts: {between}"
    );
    p.clock.set(day_two + chrono::Duration::hours(1));
    let second = p.data(ADMIN, register, marks(Some(1), "NO_SHOW")).await;
    assert_eq!(user_errors(&second["attendanceRecord"]), vec![], "{second}");
    p.clock.set(day_two + chrono::Duration::hours(4));
    let after = p.data(HEAD, BOOKING, json!({ "id": booking_id })).await;
    assert!(
        after["booking"]["attendees"][0]["certificateUrl"].is_string(),
        "{after}"
    );
    assert!(
        after["booking"]["attendees"][1]["certificateUrl"].is_null(),
        "absent at part two: {after}"
    );
}

const TRAIL: &str = "query($id: ID!) { auditTrail(id: $id) {
    action actorKind actor { email } before after } }";

/// A booking's history over HTTP: `auditTrail` takes a booking's id and answers its school
/// (who made and cancelled it, the booking either side) and partnership staff; a school that
/// is not party to the booking is told it does not exist, as it is for the booking itself.
async fn a_bookings_audit_trail_is_read_by_its_school_and_refused_to_another(db: TestDb) {
    let config = common::config(&db);
    let p = Portal::spawn(db, &config).await;
    let course = service(&p, "CPD-EARLY-WRITING").await;
    let (session_id, _) = session(&p, course["id"].as_str().expect("id"), 4).await;
    let booked = book(
        &p,
        HEAD,
        json!({ "schoolId": p.school(), "sessionId": session_id, "settlement": "OFFER",
                "attendees": attendees(&["Amy Lee"]) }),
    )
    .await;
    assert_eq!(booked["booking"]["status"], "CONFIRMED", "{booked}");
    let id = booked["booking"]["id"].as_str().expect("id").to_owned();
    let cancelled = p.data(HEAD, CANCEL, json!({ "id": id })).await["bookingCancel"].clone();
    assert_eq!(user_errors(&cancelled), vec![], "{cancelled}");

    let trail = p.data(HEAD, TRAIL, json!({ "id": id })).await["auditTrail"].clone();
    let entries = trail.as_array().expect("trail");
    let actions: Vec<&str> = entries
        .iter()
        .map(|e| e["action"].as_str().unwrap_or_default())
        .collect();
    assert_eq!(actions, ["booking.create", "booking.cancel"], "{trail}");
    for entry in entries {
        assert_eq!(entry["actorKind"], "USER", "{entry}");
        assert_eq!(entry["actor"]["email"], HEAD, "{entry}");
    }
    assert!(entries[0]["before"].is_null(), "{trail}");
    assert_eq!(entries[0]["after"]["booking"]["status"], "CONFIRMED");
    assert_eq!(entries[0]["after"]["attendees"][0]["name"], "Amy Lee");
    assert_eq!(entries[1]["before"], entries[0]["after"]);
    assert_eq!(entries[1]["after"]["booking"]["status"], "CANCELLED");
    assert_eq!(
        entries[1]["after"]["booking"]["closure"]["note"],
        "plans changed"
    );

    let staff = p.data(ADMIN, TRAIL, json!({ "id": id })).await["auditTrail"].clone();
    assert_eq!(staff, trail);
    let refused = p.gql(OTHER_HEAD, TRAIL, json!({ "id": id })).await;
    assert_eq!(code(&refused), "NOT_FOUND", "{refused}");
    assert!(refused["data"].is_null(), "nothing of the trail: {refused}");
}

/// Every service of the catalogue, each with its sessions asked for three ways at once.
const CATALOGUE_DATES: &str = "query { services(first: 50) { edges { node {
    id
    all: sessions(includeCancelled: true) { id startsAt status placesLeft bookable }
    upcoming: sessions(upcoming: true) { id }
    scheduled: sessions { id } } } } }";

/// One service's sessions the same three ways, read on its own (through the batch loader).
const ONE_SERVICE_DATES: &str = "query($id: ID!) { service(id: $id) {
    all: sessions(includeCancelled: true) { id startsAt status placesLeft bookable }
    upcoming: sessions(upcoming: true) { id }
    scheduled: sessions { id } } }";

/// A page of services that asks for sessions reads them with the page, in the same statement,
/// however the query reaches them (edges, nodes, a fragment, aliases with their own
/// arguments), and each service's sessions are the ones it gives when asked on its own.
async fn the_catalogue_reads_its_sessions_with_the_page(mut db: TestDb) {
    let counter = db.count_statements();
    let config = common::config(&db);
    let p = Portal::spawn(db, &config).await;
    let page = p.data(HEAD, CATALOGUE_DATES, json!({})).await;
    let edges = page["services"]["edges"].as_array().expect("edges");
    assert!(
        edges
            .iter()
            .any(|e| e["node"]["all"].as_array().is_some_and(|s| s.len() > 1)),
        "the demo has a service with several sessions: {page}"
    );
    for edge in edges {
        let node = &edge["node"];
        let alone = p
            .data(HEAD, ONE_SERVICE_DATES, json!({ "id": node["id"] }))
            .await;
        for field in ["all", "upcoming", "scheduled"] {
            assert_eq!(
                node[field], alone["service"][field],
                "{field} of {}",
                node["id"]
            );
        }
    }
    let scheduled: Vec<&Value> = edges.iter().map(|e| &e["node"]["scheduled"]).collect();
    let nodes = p
        .data(
            HEAD,
            "{ services(first: 50) { nodes { sessions { id } } } }",
            json!({}),
        )
        .await;
    let fragment = p
        .data(
            HEAD,
            "{ services(first: 50) { edges { node { ...Dates } } } }
             fragment Dates on Service { sessions { id } }",
            json!({}),
        )
        .await;
    for (n, expected) in scheduled.iter().enumerate() {
        assert_eq!(&&nodes["services"]["nodes"][n]["sessions"], expected);
        assert_eq!(
            &&fragment["services"]["edges"][n]["node"]["sessions"],
            expected
        );
    }

    // The sessions cost no statement beyond the page's own.
    let cost = |query: &'static str| {
        let counter = counter.clone();
        let p = &p;
        async move {
            let _ = p.data(HEAD, query, json!({})).await;
            counter.reset();
            let _ = p.data(HEAD, query, json!({})).await;
            counter.get()
        }
    };
    let titles = cost("{ services(first: 50) { edges { node { id title } } } }").await;
    for query in [
        CATALOGUE_DATES,
        "{ services(first: 50) { nodes { id title sessions { id } } } }",
        "{ services(first: 50) { edges { node { id title ...D } } } }
         fragment D on Service { sessions { id placesLeft } }",
    ] {
        assert_eq!(cost(query).await, titles, "{query}");
    }
}

testkit::db_tests!(
    a_bookings_audit_trail_is_read_by_its_school_and_refused_to_another,
    a_two_part_course_is_registered_per_part_and_certified_at_the_end,
    a_retried_booking_or_request_with_its_key_is_made_once,
    a_transfer_that_pays_a_card_booking_confirms_it_at_once,
    card_is_refused_without_a_payment_provider,
    a_late_offer_cancellation_answers_in_units_not_money,
    the_catalogue_filters_school_to_school_support_from_any_school,
    offer_and_invoice_journeys_with_approval_register_and_certificates,
    card_bookings_confirm_on_the_signed_webhook_and_refund_on_cancel,
    an_abandoned_card_payment_is_called_off_and_a_completed_one_is_kept,
    a_waiting_list_offer_arrives_over_the_subscription,
    the_catalogue_and_a_schools_bookings_cost_the_same_for_2_and_30,
    the_catalogue_reads_its_sessions_with_the_page,
);
