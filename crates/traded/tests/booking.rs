//! Booking journeys: from the core offer and by card, staff requests and their approval,
//! substitutions, and every refusal writing nothing.

use crate::support;

use billing::ledger::InvoiceStatus;
use billing::ledger::payments::{self, NewPayment, ReceiptMethod};
use kernel::{Actor, Clock, ErrorCode, Money};
use support::*;
use testkit::TestDb;
use traded::{Approval, BookingStatus, ClosedReason, NewBookingRequest, PriceBasis, Settlement};

async fn offer_journey_uses_the_allowance_and_fails_whole_when_it_runs_out(db: TestDb) {
    let w = world(&db).await;
    let c = clock();
    let done = book(
        &db,
        &w.head_alder,
        &c,
        booking(w.alder, &w.session, 0..2, Settlement::Offer),
    )
    .await
    .expect("two places from the offer");
    let b = &done.booking;
    assert_eq!(b.status, BookingStatus::Confirmed);
    assert_eq!((b.places, b.places_held), (2, 2));
    assert_eq!(b.price_basis, PriceBasis::Member);
    assert_eq!(b.unit_price, Money::from_pence(15_000));
    assert!(b.offer_entry_id.is_some());
    assert_eq!(done.attendees.len(), 2);
    assert_eq!(done.attendees[0].email, "teacher0@school.example");
    assert_eq!(session_now(&db, &w.session).await.places_taken, 2);
    assert_eq!(cpd_left(&db, &w, w.alder).await, Some(1));

    // Two more places, one left in the allowance: the whole booking fails, nothing held.
    let before = footprint(&db).await;
    let refused = book(
        &db,
        &w.head_alder,
        &c,
        booking(w.alder, &w.session, 2..4, Settlement::Offer),
    )
    .await;
    assert_eq!(
        field_error(refused),
        ("settlement".to_owned(), ErrorCode::OutOfRange)
    );
    assert_eq!(footprint(&db).await, before);
    assert_eq!(cpd_left(&db, &w, w.alder).await, Some(1));

    // A non-member has no allowance to pay from.
    let refused = book(
        &db,
        &w.head_cedar,
        &c,
        booking(w.cedar, &w.session, 4..5, Settlement::Offer),
    )
    .await;
    assert_eq!(field_error(refused).0, "settlement");
    assert_eq!(footprint(&db).await, before);
}

async fn card_journey_holds_places_until_paid_and_refuses_paying_twice(db: TestDb) {
    let w = world(&db).await;
    let c = clock();
    let done = book(
        &db,
        &w.head_cedar,
        &c,
        booking(w.cedar, &w.session, 0..2, Settlement::Card),
    )
    .await
    .expect("card booking");
    let b = &done.booking;
    assert_eq!(b.status, BookingStatus::PendingPayment);
    assert_eq!(b.price_basis, PriceBasis::NonMember);
    assert_eq!(b.gross(), Money::from_pence(45_000));
    assert_eq!(
        b.places_held, 2,
        "places are held while the card payment completes"
    );
    let invoice_id = b.invoice_id.expect("one-off invoice");
    let payment = done.card_payment.expect("payment started");
    assert_eq!(payment.invoice_id, invoice_id);
    let invoice = billing::ledger::invoices::invoices_by_ids(db.conn(), &[invoice_id])
        .await
        .expect("load")
        .remove(&invoice_id)
        .expect("invoice");
    assert_eq!(invoice.total, Money::from_pence(45_000));
    assert_eq!(invoice.po_number.as_deref(), Some("PO-1234"));
    let lines = billing::ledger::invoices::lines_of_invoices(db.conn(), &[invoice_id])
        .await
        .expect("lines")
        .remove(&invoice_id)
        .expect("line");
    assert_eq!(lines[0].booking_id, Some(b.id.as_uuid()));

    // Not paid yet: nothing to confirm.
    assert!(
        traded::confirm_paid_bookings(db.conn(), &c, &[invoice_id])
            .await
            .expect("noop")
            .is_empty()
    );
    // Retrying the card payment is the same PaymentIntent.
    let again = traded::pay_booking_by_card(db.conn(), &w.head_cedar, &c, &PROVIDER, b.id)
        .await
        .expect("resume");
    assert_eq!(again.payment.payment_ref, payment.payment.payment_ref);

    // The money arrives (as a webhook would record it) and the booking is confirmed once.
    let account = invoice.account_id;
    let receipt = payments::record_payment(
        db.conn(),
        &Actor::System,
        &c,
        NewPayment {
            account_id: account,
            method: ReceiptMethod::Card,
            reference: "card".into(),
            received_on: c.today(),
            amount: Money::from_pence(45_000),
            provider_payment_ref: Some(payment.payment.payment_ref.clone()),
            idempotency_key: None,
        },
    )
    .await
    .expect("receipt");
    payments::allocate(
        db.conn(),
        &Actor::System,
        &c,
        receipt.id,
        &[(invoice_id, Money::from_pence(45_000))],
        None,
    )
    .await
    .expect("allocate");
    let confirmed = traded::confirm_paid_bookings(db.conn(), &c, &[invoice_id])
        .await
        .expect("confirm");
    assert_eq!(confirmed.len(), 1);
    assert_eq!(confirmed[0].status, BookingStatus::Confirmed);
    assert!(
        traded::confirm_paid_bookings(db.conn(), &c, &[invoice_id])
            .await
            .expect("again")
            .is_empty()
    );
    let paying_twice =
        traded::pay_booking_by_card(db.conn(), &w.head_cedar, &c, &PROVIDER, b.id).await;
    assert_eq!(
        field_error(paying_twice),
        ("bookingId".to_owned(), ErrorCode::Conflict)
    );
    let invoice = billing::ledger::invoices::invoices_by_ids(db.conn(), &[invoice_id])
        .await
        .expect("load")
        .remove(&invoice_id)
        .expect("invoice");
    assert_eq!(invoice.status, InvoiceStatus::Paid);
}

async fn unpaid_card_bookings_are_released_and_their_invoice_voided(db: TestDb) {
    let w = world(&db).await;
    let c = clock();
    let done = book(
        &db,
        &w.head_cedar,
        &c,
        booking(w.cedar, &w.session, 0..3, Settlement::Card),
    )
    .await
    .expect("card booking");
    // Not old enough yet.
    assert!(
        traded::release_unpaid_bookings(db.conn(), &c, &PROVIDER, chrono::Duration::hours(24))
            .await
            .expect("sweep")
            .is_empty()
    );
    c.advance(chrono::Duration::hours(25));
    let released =
        traded::release_unpaid_bookings(db.conn(), &c, &PROVIDER, chrono::Duration::hours(24))
            .await
            .expect("sweep");
    assert_eq!(released.len(), 1);
    assert_eq!(released[0].status, BookingStatus::Cancelled);
    assert_eq!(
        released[0].closure.as_ref().map(|c| c.reason),
        Some(ClosedReason::Unpaid)
    );
    assert_eq!(session_now(&db, &w.session).await.places_taken, 0);
    let invoice_id = done.booking.invoice_id.expect("invoice");
    let invoice = billing::ledger::invoices::invoices_by_ids(db.conn(), &[invoice_id])
        .await
        .expect("load")
        .remove(&invoice_id)
        .expect("invoice");
    assert_eq!(invoice.status, InvoiceStatus::Void);
    // The attendees are free to be booked again.
    book(
        &db,
        &w.head_cedar,
        &c,
        booking(w.cedar, &w.session, 0..1, Settlement::Card),
    )
    .await
    .expect("rebook");
    assert!(
        traded::release_unpaid_bookings(db.conn(), &c, &PROVIDER, chrono::Duration::hours(24))
            .await
            .expect("rerun")
            .is_empty()
    );
}

/// Offline, a card payment could never be completed: CARD is refused on `settlement` and
/// nothing is written; paying an existing booking by card is refused too.
async fn card_is_refused_where_the_provider_takes_no_cards(db: TestDb) {
    let w = world(&db).await;
    let c = clock();
    let before = footprint(&db).await;
    let offline = billing::provider::OfflineProvider;
    let refused = traded::book(
        db.conn(),
        &w.head_cedar,
        &c,
        &offline,
        booking(w.cedar, &w.session, 0..1, Settlement::Card),
    )
    .await;
    assert_eq!(
        field_error(refused),
        ("settlement".to_owned(), ErrorCode::Invalid)
    );
    assert_eq!(footprint(&db).await, before, "nothing was written");
    let done = book(
        &db,
        &w.head_cedar,
        &c,
        booking(w.cedar, &w.session, 0..1, Settlement::Card),
    )
    .await
    .expect("where cards are taken");
    assert_eq!(
        field_error(
            traded::pay_booking_by_card(db.conn(), &w.head_cedar, &c, &offline, done.booking.id)
                .await
        ),
        ("bookingId".to_owned(), ErrorCode::Invalid)
    );
}

async fn staff_request_holds_nothing_until_their_leader_approves(db: TestDb) {
    let w = world(&db).await;
    let c = clock();
    let request = |people: std::ops::Range<usize>| NewBookingRequest {
        school_id: w.alder,
        session_id: w.session.id,
        attendees: people.map(attendee).collect(),
        idempotency_key: None,
    };
    let asked = traded::request_booking(db.conn(), &w.staff_alder, &c, request(0..2))
        .await
        .expect("request");
    assert_eq!(asked.booking.status, BookingStatus::PendingApproval);
    assert_eq!(asked.booking.places_held, 0);
    assert!(asked.booking.requested_by.is_some());
    assert_eq!(
        session_now(&db, &w.session).await.places_taken,
        0,
        "a request holds no place"
    );

    let approval = Approval {
        settlement: Settlement::Offer,
        po_number: Some("PO-77".into()),
        join_waitlist: false,
    };
    let id = asked.booking.id;
    // Staff cannot approve; another school's leader does not even see the request.
    assert_forbidden(
        traded::approve_request(
            db.conn(),
            &w.staff_alder,
            &c,
            &PROVIDER,
            id,
            approval.clone(),
        )
        .await,
    );
    assert_not_found(
        traded::approve_request(
            db.conn(),
            &w.head_birch,
            &c,
            &PROVIDER,
            id,
            approval.clone(),
        )
        .await,
    );
    assert_not_found(traded::decline_request(db.conn(), &w.head_birch, &c, id, "no").await);

    let approved = traded::approve_request(
        db.conn(),
        &w.head_alder,
        &c,
        &PROVIDER,
        id,
        approval.clone(),
    )
    .await
    .expect("approve");
    assert_eq!(approved.booking.status, BookingStatus::Confirmed);
    assert_eq!(approved.booking.po_number.as_deref(), Some("PO-77"));
    assert_eq!(approved.booking.settlement, Some(Settlement::Offer));
    assert_eq!(session_now(&db, &w.session).await.places_taken, 2);
    assert_eq!(cpd_left(&db, &w, w.alder).await, Some(1));
    let twice =
        traded::approve_request(db.conn(), &w.head_alder, &c, &PROVIDER, id, approval).await;
    assert_eq!(
        field_error(twice),
        ("bookingId".to_owned(), ErrorCode::Conflict)
    );

    // Declining needs a reason, and frees the people to be asked for again.
    let second = traded::request_booking(db.conn(), &w.staff_alder, &c, request(5..6))
        .await
        .expect("request");
    let no_reason =
        traded::decline_request(db.conn(), &w.head_alder, &c, second.booking.id, " ").await;
    assert_eq!(
        field_error(no_reason),
        ("reason".to_owned(), ErrorCode::Required)
    );
    let declined = traded::decline_request(
        db.conn(),
        &w.head_alder,
        &c,
        second.booking.id,
        "budget spent",
    )
    .await
    .expect("decline");
    assert_eq!(declined.booking.status, BookingStatus::Cancelled);
    let closure = declined.booking.closure.expect("closed");
    assert_eq!(closure.reason, ClosedReason::Declined);
    assert_eq!(closure.note.as_deref(), Some("budget spent"));
    traded::request_booking(db.conn(), &w.staff_alder, &c, request(5..6))
        .await
        .expect("asked again");
}

async fn a_full_session_refuses_or_waitlists_an_approval(db: TestDb) {
    let w = world(&db).await;
    let c = clock();
    let small = scheduled(&db, new_session(&w.course, 1)).await;
    book(
        &db,
        &w.head_birch,
        &c,
        booking(w.birch, &small, 0..1, Settlement::Card),
    )
    .await
    .expect("the only place");
    let asked = traded::request_booking(
        db.conn(),
        &w.staff_alder,
        &c,
        NewBookingRequest {
            school_id: w.alder,
            session_id: small.id,
            attendees: vec![attendee(1)],
            idempotency_key: None,
        },
    )
    .await
    .expect("request");
    let full = traded::approve_request(
        db.conn(),
        &w.head_alder,
        &c,
        &PROVIDER,
        asked.booking.id,
        Approval {
            settlement: Settlement::Offer,
            po_number: None,
            join_waitlist: false,
        },
    )
    .await;
    assert_eq!(
        field_error(full),
        ("attendees".to_owned(), ErrorCode::Conflict)
    );
    let waiting = traded::approve_request(
        db.conn(),
        &w.head_alder,
        &c,
        &PROVIDER,
        asked.booking.id,
        Approval {
            settlement: Settlement::Offer,
            po_number: None,
            join_waitlist: true,
        },
    )
    .await
    .expect("waitlisted");
    assert_eq!(waiting.booking.status, BookingStatus::Waitlisted);
    assert_eq!(
        cpd_left(&db, &w, w.alder).await,
        Some(3),
        "nothing used while waiting"
    );
}

async fn bad_bookings_are_refused_and_write_nothing(db: TestDb) {
    let w = world(&db).await;
    let c = clock();
    book(
        &db,
        &w.head_alder,
        &c,
        booking(w.alder, &w.session, 0..1, Settlement::Card),
    )
    .await
    .expect("first");
    let before = footprint(&db).await;

    let none = book(
        &db,
        &w.head_alder,
        &c,
        booking(w.alder, &w.session, 0..0, Settlement::Card),
    )
    .await;
    assert_eq!(
        field_error(none),
        ("attendees".to_owned(), ErrorCode::Required)
    );
    let too_many = book(
        &db,
        &w.head_alder,
        &c,
        booking(w.alder, &w.session, 10..21, Settlement::Card),
    )
    .await;
    assert_eq!(
        field_error(too_many),
        ("attendees".to_owned(), ErrorCode::OutOfRange)
    );
    let mut twice = booking(w.alder, &w.session, 1..3, Settlement::Card);
    twice.attendees[1].email = "TEACHER1@school.example".into();
    assert_eq!(
        field_error(book(&db, &w.head_alder, &c, twice).await),
        ("attendees.1.email".to_owned(), ErrorCode::Taken)
    );
    let already = book(
        &db,
        &w.head_birch,
        &c,
        booking(w.birch, &w.session, 0..1, Settlement::Card),
    )
    .await;
    assert_eq!(
        field_error(already),
        ("attendees.0.email".to_owned(), ErrorCode::Taken)
    );
    let mut bad_email = booking(w.alder, &w.session, 1..2, Settlement::Card);
    bad_email.attendees[0].email = "not an email".into();
    assert_eq!(
        field_error(book(&db, &w.head_alder, &c, bad_email).await).0,
        "attendees.0.email"
    );
    assert_eq!(footprint(&db).await, before);
    // Members only, and the school is not a member.
    let members_only = published(&db, new_service("MEMBERS-ONLY", 10_000, None)).await;
    let members_session = scheduled(&db, new_session(&members_only, 5)).await;
    let not_member = book(
        &db,
        &w.head_cedar,
        &c,
        booking(w.cedar, &members_session, 0..1, Settlement::Card),
    )
    .await;
    assert_eq!(
        field_error(not_member),
        ("schoolId".to_owned(), ErrorCode::Conflict)
    );
    // After the deadline.
    let late = clock();
    late.set(at(2027, 1, 6, 9));
    let after = book(
        &db,
        &w.head_alder,
        &late,
        booking(w.alder, &w.session, 1..2, Settlement::Card),
    )
    .await;
    assert_eq!(
        field_error(after),
        ("sessionId".to_owned(), ErrorCode::Conflict)
    );
    // An unknown session.
    let mut nowhere = booking(w.alder, &w.session, 1..2, Settlement::Card);
    nowhere.session_id = kernel::SessionId::new();
    assert_eq!(
        field_error(book(&db, &w.head_alder, &c, nowhere).await),
        ("sessionId".to_owned(), ErrorCode::NotFound)
    );
    // Several problems at once are all reported.
    let mut many = booking(w.alder, &w.session, 1..2, Settlement::Offer);
    many.attendees[0].name = String::new();
    many.po_number = Some("P".repeat(51));
    let errors = field_errors(book(&db, &w.head_alder, &c, many).await);
    assert!(
        errors.contains(&("attendees.0.name".to_owned(), ErrorCode::Required)),
        "{errors:?}"
    );
    assert!(
        errors.contains(&("poNumber".to_owned(), ErrorCode::TooLong)),
        "{errors:?}"
    );
    assert_eq!(footprint(&db).await, before);
    // Full, without the waiting list.
    let tiny = scheduled(&db, new_session(&w.course, 1)).await;
    book(
        &db,
        &w.head_alder,
        &c,
        booking(w.alder, &tiny, 1..2, Settlement::Card),
    )
    .await
    .expect("only place");
    let with_one = footprint(&db).await;
    let full = book(
        &db,
        &w.head_birch,
        &c,
        booking(w.birch, &tiny, 2..3, Settlement::Card),
    )
    .await;
    assert_eq!(
        field_error(full),
        ("attendees".to_owned(), ErrorCode::Conflict)
    );
    assert_eq!(footprint(&db).await, with_one);
}

async fn only_leaders_book_and_only_for_their_own_school(db: TestDb) {
    let w = world(&db).await;
    let c = clock();
    let before = footprint(&db).await;
    assert_forbidden(
        book(
            &db,
            &w.staff_alder,
            &c,
            booking(w.alder, &w.session, 0..1, Settlement::Card),
        )
        .await,
    );
    assert_forbidden(
        book(
            &db,
            &w.finance,
            &c,
            booking(w.alder, &w.session, 0..1, Settlement::Card),
        )
        .await,
    );
    assert_forbidden(
        book(
            &db,
            &w.catalogue_key,
            &c,
            booking(w.alder, &w.session, 0..1, Settlement::Card),
        )
        .await,
    );
    assert_not_found(
        book(
            &db,
            &w.head_birch,
            &c,
            booking(w.alder, &w.session, 0..1, Settlement::Card),
        )
        .await,
    );
    assert_not_found(
        traded::request_booking(
            db.conn(),
            &w.staff_alder,
            &c,
            NewBookingRequest {
                school_id: w.birch,
                session_id: w.session.id,
                attendees: vec![attendee(0)],
                idempotency_key: None,
            },
        )
        .await,
    );
    assert_eq!(footprint(&db).await, before);
    // A partnership admin may book for any school.
    book(
        &db,
        &w.admin,
        &c,
        booking(w.birch, &w.session, 0..1, Settlement::Card),
    )
    .await
    .expect("admin books for a school");
}

async fn an_attendee_is_replaced_free_before_the_session(db: TestDb) {
    let w = world(&db).await;
    let c = clock();
    let done = book(
        &db,
        &w.head_alder,
        &c,
        booking(w.alder, &w.session, 0..2, Settlement::Offer),
    )
    .await
    .expect("booking");
    let first = done.attendees[0].id;
    let swapped = traded::substitute_attendee(db.conn(), &w.head_alder, &c, first, attendee(7))
        .await
        .expect("substitute");
    let now = swapped
        .attendees
        .iter()
        .find(|a| a.id == first)
        .expect("same place");
    assert_eq!(now.email, "teacher7@school.example");
    assert!(now.substituted_at.is_some());
    assert_eq!(swapped.booking.places, 2);
    assert_eq!(cpd_left(&db, &w, w.alder).await, Some(1), "free of charge");
    // The person replaced may be booked by anyone again; the one on the other place may not
    // be put in twice.
    book(
        &db,
        &w.head_birch,
        &c,
        booking(w.birch, &w.session, 0..1, Settlement::Card),
    )
    .await
    .expect("teacher 0 is free again");
    let dup = traded::substitute_attendee(db.conn(), &w.head_alder, &c, first, attendee(1)).await;
    assert_eq!(field_error(dup), ("email".to_owned(), ErrorCode::Taken));
    assert_not_found(
        traded::substitute_attendee(db.conn(), &w.head_birch, &c, first, attendee(9)).await,
    );
    let started = clock();
    started.set(at(2027, 1, 12, 10));
    let late =
        traded::substitute_attendee(db.conn(), &w.head_alder, &started, first, attendee(9)).await;
    assert_eq!(
        field_error(late),
        ("attendeeId".to_owned(), ErrorCode::Conflict)
    );
}

async fn bookings_are_seen_by_their_school_and_partnership_staff(db: TestDb) {
    let w = world(&db).await;
    let c = clock();
    let done = book(
        &db,
        &w.head_alder,
        &c,
        booking(w.alder, &w.session, 0..1, Settlement::Offer),
    )
    .await
    .expect("booking");
    let id = done.booking.id;
    traded::booking(db.conn(), &w.staff_alder, id)
        .await
        .expect("own school's staff");
    traded::booking(db.conn(), &w.finance, id)
        .await
        .expect("partnership staff");
    assert_not_found(traded::booking(db.conn(), &w.head_birch, id).await);
    assert_not_found(traded::booking(db.conn(), &w.catalogue_key, id).await);
    assert!(traded::may_read_bookings(&w.head_alder, w.alder));
    assert!(!traded::may_read_bookings(&w.head_alder, w.birch));
    let page = traded::bookings_page(
        db.conn(),
        &w.head_birch,
        &traded::BookingFilter::default(),
        &membership::PageArgs::first(10),
    )
    .await
    .expect("own page");
    assert!(page.items.is_empty());
    let all = traded::bookings_page(
        db.conn(),
        &w.admin,
        &traded::BookingFilter::default(),
        &membership::PageArgs::first(10),
    )
    .await
    .expect("all");
    assert_eq!(all.items.len(), 1);
    assert_not_found(
        traded::bookings_page(
            db.conn(),
            &w.head_birch,
            &traded::BookingFilter {
                school_id: Some(w.alder),
                ..Default::default()
            },
            &membership::PageArgs::first(10),
        )
        .await,
    );
    let by_school = traded::bookings_of_schools(db.conn(), &[w.alder, w.birch])
        .await
        .expect("batch");
    assert_eq!(by_school.get(&w.alder).map(Vec::len), Some(1));
    assert!(!by_school.contains_key(&w.birch));
    let by_session = traded::bookings_of_sessions(db.conn(), &[w.session.id])
        .await
        .expect("batch");
    assert_eq!(by_session[&w.session.id][0].id, id);
}

testkit::db_tests!(
    card_is_refused_where_the_provider_takes_no_cards,
    offer_journey_uses_the_allowance_and_fails_whole_when_it_runs_out,
    card_journey_holds_places_until_paid_and_refuses_paying_twice,
    unpaid_card_bookings_are_released_and_their_invoice_voided,
    staff_request_holds_nothing_until_their_leader_approves,
    a_full_session_refuses_or_waitlists_an_approval,
    bad_bookings_are_refused_and_write_nothing,
    only_leaders_book_and_only_for_their_own_school,
    an_attendee_is_replaced_free_before_the_session,
    bookings_are_seen_by_their_school_and_partnership_staff,
);
