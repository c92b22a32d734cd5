//! A booking's history in the audit trail: every write records who did it, with the booking
//! before and after, and only those who may read the booking may read its history.

use crate::support;

use kernel::audit::{ActorKind, Entry};
use kernel::{Actor, BookingId};
use serde_json::Value;
use support::*;
use testkit::TestDb;
use traded::history::{AUDIT_ENTITY, history};
use traded::{Attendance, AttendanceMark, Settlement};

/// How the trail stores a person as the author of a change.
fn user_id(actor: &Actor) -> Option<uuid::Uuid> {
    kernel::audit::actor_parts(actor).1
}

fn actions(trail: &[Entry]) -> Vec<&str> {
    trail.iter().map(|e| e.action.as_str()).collect()
}

/// A field of a snapshot's booking, e.g. `status`.
fn booking_field<'a>(snapshot: Option<&'a Value>, field: &str) -> &'a Value {
    &snapshot.expect("a snapshot")["booking"][field]
}

async fn trail_of(db: &TestDb, actor: &Actor, id: BookingId) -> Vec<Entry> {
    history(db.conn(), actor, id).await.expect("history")
}

async fn a_booking_made_then_cancelled_has_both_changes_in_order(db: TestDb) {
    let w = world(&db).await;
    let c = clock();
    let done = book(
        &db,
        &w.head_alder,
        &c,
        booking(w.alder, &w.session, 0..2, Settlement::Invoice),
    )
    .await
    .expect("booking");
    let id = done.booking.id;
    c.set(at(2027, 1, 1, 9)); // 11 days before: the late fee applies
    traded::cancel_booking(
        db.conn(),
        &w.head_alder,
        &c,
        &PROVIDER,
        id,
        Some("the course clashes with moderation".to_owned()),
    )
    .await
    .expect("cancel");

    let trail = trail_of(&db, &w.head_alder, id).await;
    assert_eq!(actions(&trail), ["booking.create", "booking.cancel"]);
    for entry in &trail {
        assert_eq!(entry.entity, AUDIT_ENTITY);
        assert_eq!(entry.entity_id, id.as_uuid());
        assert_eq!(entry.actor_kind, ActorKind::User);
        assert_eq!(entry.actor_id, user_id(&w.head_alder));
    }
    let (made, cancelled) = (&trail[0], &trail[1]);
    assert_eq!(made.at, at(2026, 11, 23, 10));
    assert_eq!(cancelled.at, at(2027, 1, 1, 9));
    // Creation has no before; the after is the booking as made, with its attendees and PO.
    assert!(made.before.is_none());
    assert_eq!(booking_field(made.after.as_ref(), "status"), "CONFIRMED");
    assert_eq!(booking_field(made.after.as_ref(), "po_number"), "PO-1234");
    let attendees = &made.after.as_ref().expect("after")["attendees"];
    assert_eq!(attendees.as_array().map(Vec::len), Some(2));
    assert_eq!(attendees[0]["email"], "teacher0@school.example");
    // The cancellation's before is the creation's after; its after has the closure and terms.
    assert_eq!(cancelled.before, made.after);
    assert_eq!(
        booking_field(cancelled.after.as_ref(), "status"),
        "CANCELLED"
    );
    let closure = booking_field(cancelled.after.as_ref(), "closure");
    assert_eq!(closure["reason"], "CANCELLED_BY_SCHOOL");
    assert_eq!(closure["note"], "the course clashes with moderation");
    assert!(!booking_field(cancelled.after.as_ref(), "cancellation_fee").is_null());
}

async fn a_request_approved_and_an_attendee_replaced_are_each_recorded(db: TestDb) {
    let w = world(&db).await;
    let c = clock();
    let asked = traded::request_booking(
        db.conn(),
        &w.staff_alder,
        &c,
        traded::NewBookingRequest {
            school_id: w.alder,
            session_id: w.session.id,
            attendees: vec![attendee(0)],
            idempotency_key: None,
        },
    )
    .await
    .expect("request");
    let id = asked.booking.id;
    traded::approve_request(
        db.conn(),
        &w.head_alder,
        &c,
        &PROVIDER,
        id,
        traded::Approval {
            settlement: Settlement::Invoice,
            po_number: None,
            join_waitlist: false,
        },
    )
    .await
    .expect("approve");
    traded::substitute_attendee(
        db.conn(),
        &w.head_alder,
        &c,
        asked.attendees[0].id,
        attendee(7),
    )
    .await
    .expect("substitute");

    let trail = trail_of(&db, &w.staff_alder, id).await;
    assert_eq!(
        actions(&trail),
        ["booking.request", "booking.approve", "booking.substitute"]
    );
    assert_eq!(trail[0].actor_id, user_id(&w.staff_alder));
    assert_eq!(trail[1].actor_id, user_id(&w.head_alder));
    assert_eq!(
        booking_field(trail[1].before.as_ref(), "status"),
        "PENDING_APPROVAL"
    );
    assert_eq!(
        booking_field(trail[1].after.as_ref(), "status"),
        "CONFIRMED"
    );
    let replaced = &trail[2];
    assert_eq!(
        replaced.before.as_ref().expect("before")["attendees"][0]["email"],
        "teacher0@school.example"
    );
    assert_eq!(
        replaced.after.as_ref().expect("after")["attendees"][0]["email"],
        "teacher7@school.example"
    );
}

async fn card_payment_and_refund_are_recorded_with_the_system_as_actor(db: TestDb) {
    let w = world(&db).await;
    let c = clock();
    let done = book(
        &db,
        &w.head_cedar,
        &c,
        booking(w.cedar, &w.session, 0..1, Settlement::Card),
    )
    .await
    .expect("card booking");
    pay(&db, &c, &done).await;
    traded::cancel_booking(
        db.conn(),
        &w.head_cedar,
        &c,
        &PROVIDER,
        done.booking.id,
        None,
    )
    .await
    .expect("cancel");

    let trail = trail_of(&db, &w.head_cedar, done.booking.id).await;
    assert_eq!(
        actions(&trail),
        [
            "booking.create",
            "booking.card_payment",
            "booking.paid",
            "booking.cancel",
            "booking.refund",
        ]
    );
    let kinds: Vec<_> = trail.iter().map(|e| e.actor_kind).collect();
    assert_eq!(
        kinds,
        [
            ActorKind::User,
            ActorKind::User,
            ActorKind::System,
            ActorKind::User,
            ActorKind::System,
        ]
    );
    assert_eq!(
        booking_field(trail[2].before.as_ref(), "status"),
        "PENDING_PAYMENT"
    );
    assert_eq!(
        booking_field(trail[2].after.as_ref(), "status"),
        "CONFIRMED"
    );
    assert_eq!(
        booking_field(trail[4].after.as_ref(), "refund_state"),
        "DONE"
    );
}

async fn a_cancelled_session_writes_an_entry_for_every_booking(db: TestDb) {
    let w = world(&db).await;
    let c = clock();
    let small = scheduled(&db, new_session(&w.course, 2)).await;
    let alder = book(
        &db,
        &w.head_alder,
        &c,
        booking(w.alder, &small, 0..1, Settlement::Invoice),
    )
    .await
    .expect("alder");
    let birch = book(
        &db,
        &w.head_birch,
        &c,
        booking(w.birch, &small, 1..2, Settlement::Invoice),
    )
    .await
    .expect("birch");
    let mut wait = booking(w.birch, &small, 2..3, Settlement::Invoice);
    wait.join_waitlist = true;
    let waiting = book(&db, &w.head_birch, &c, wait).await.expect("waiting");

    traded::cancel_session(
        db.conn(),
        &w.admin,
        &c,
        &PROVIDER,
        small.id,
        "trainer unwell",
    )
    .await
    .expect("cancel session");

    for id in [alder.booking.id, birch.booking.id, waiting.booking.id] {
        let trail = trail_of(&db, &w.admin, id).await;
        assert_eq!(
            actions(&trail),
            ["booking.create", "booking.session_cancelled"]
        );
        let ended = &trail[1];
        assert_eq!(ended.actor_id, user_id(&w.admin));
        assert_eq!(booking_field(ended.after.as_ref(), "status"), "CANCELLED");
        assert_eq!(
            booking_field(ended.after.as_ref(), "closure")["reason"],
            "SESSION_CANCELLED"
        );
    }
}

async fn a_place_passed_on_from_the_waiting_list_is_recorded(db: TestDb) {
    let w = world(&db).await;
    let c = clock();
    let small = scheduled(&db, new_session(&w.course, 1)).await;
    let first = book(
        &db,
        &w.head_alder,
        &c,
        booking(w.alder, &small, 0..1, Settlement::Invoice),
    )
    .await
    .expect("first");
    let mut wait = booking(w.birch, &small, 1..2, Settlement::Invoice);
    wait.join_waitlist = true;
    let waiting = book(&db, &w.head_birch, &c, wait).await.expect("waiting");
    traded::cancel_booking(
        db.conn(),
        &w.head_alder,
        &c,
        &PROVIDER,
        first.booking.id,
        None,
    )
    .await
    .expect("cancel");
    traded::accept_waitlist_offer(
        db.conn(),
        &w.head_birch,
        &c,
        &PROVIDER,
        waiting.booking.id,
        traded::WaitlistAcceptance::default(),
    )
    .await
    .expect("accept");

    let trail = trail_of(&db, &w.head_birch, waiting.booking.id).await;
    assert_eq!(
        actions(&trail),
        [
            "booking.create",
            "booking.waitlist_offer",
            "booking.waitlist_accept"
        ]
    );
    assert_eq!(trail[1].actor_kind, ActorKind::System);
    assert_eq!(trail[2].actor_id, user_id(&w.head_birch));
    assert_eq!(
        booking_field(trail[2].after.as_ref(), "status"),
        "CONFIRMED"
    );
}

async fn marking_the_register_records_one_entry_per_booking(db: TestDb) {
    let w = world(&db).await;
    let c = clock();
    let session = oak_session(&db, &w).await;
    let (alder, birch) = alder_two_and_birch_one(&db, &w, &c, &session).await;
    c.set(at(2027, 1, 12, 16));
    traded::mark_attendance(
        db.conn(),
        &w.head_oak,
        &c,
        session.id,
        Some(0),
        &[
            AttendanceMark {
                attendee_id: alder.attendees[0].id,
                attendance: Attendance::Attended,
            },
            AttendanceMark {
                attendee_id: alder.attendees[1].id,
                attendance: Attendance::NoShow,
            },
        ],
    )
    .await
    .expect("register");

    // Two attendees marked, one booking: one entry, by the provider.
    let trail = trail_of(&db, &w.head_oak, alder.booking.id).await;
    assert_eq!(actions(&trail), ["booking.create", "booking.attendance"]);
    let marked = &trail[1];
    assert_eq!(marked.actor_id, user_id(&w.head_oak));
    let before = &marked.before.as_ref().expect("before")["attendees"];
    let after = &marked.after.as_ref().expect("after")["attendees"];
    assert!(before[0]["attendance"].is_null());
    assert_eq!(after[0]["attendance"], "ATTENDED");
    assert_eq!(after[1]["attendance"], "NO_SHOW");
    // Nobody on Birch's booking was marked: nothing recorded for it.
    assert_eq!(
        actions(&trail_of(&db, &w.head_birch, birch.booking.id).await),
        ["booking.create"]
    );
}

async fn only_those_who_may_read_the_booking_read_its_history(db: TestDb) {
    let w = world(&db).await;
    let c = clock();
    let session = oak_session(&db, &w).await;
    let done = book(
        &db,
        &w.head_alder,
        &c,
        booking(w.alder, &session, 0..1, Settlement::Invoice),
    )
    .await
    .expect("booking");
    let id = done.booking.id;
    // The booking school's people, partnership staff and the session's provider.
    for reader in [
        &w.head_alder,
        &w.staff_alder,
        &w.admin,
        &w.finance,
        &w.head_oak,
    ] {
        assert_eq!(
            actions(&trail_of(&db, reader, id).await),
            ["booking.create"]
        );
    }
    // Another school, and an integration's key, are told it does not exist: as the booking.
    for stranger in [&w.head_birch, &w.head_cedar, &w.catalogue_key] {
        assert_not_found(history(db.conn(), stranger, id).await);
        assert_not_found(traded::booking(db.conn(), stranger, id).await);
    }
    assert_not_found(history(db.conn(), &w.head_alder, BookingId::new()).await);
}

testkit::db_tests!(
    a_booking_made_then_cancelled_has_both_changes_in_order,
    a_request_approved_and_an_attendee_replaced_are_each_recorded,
    card_payment_and_refund_are_recorded_with_the_system_as_actor,
    a_cancelled_session_writes_an_entry_for_every_booking,
    a_place_passed_on_from_the_waiting_list_is_recorded,
    marking_the_register_records_one_entry_per_booking,
    only_those_who_may_read_the_booking_read_its_history,
);
