//! Cancellations under the session's policy for each settlement route, and by the provider.

use crate::support;

use billing::charges::ChargeStatus;
use billing::ledger::InvoiceStatus;
use kernel::{ErrorCode, Money};
use support::*;
use testkit::TestDb;
use traded::{BookingStatus, ClosedReason, RefundState, Settlement};

async fn invoice_journey_charges_then_cancels_under_the_policy(db: TestDb) {
    let w = world(&db).await;
    let c = clock();
    let done = book(
        &db,
        &w.head_alder,
        &c,
        booking(w.alder, &w.session, 0..2, Settlement::Invoice),
    )
    .await
    .expect("on the termly invoice");
    assert_eq!(done.booking.status, BookingStatus::Confirmed);
    let charge = charge_of(&db, done.booking.id).await.expect("charge");
    assert_eq!(charge.status, ChargeStatus::Pending);
    assert_eq!(charge.total, Money::from_pence(30_000));
    assert_eq!(charge.po_number.as_deref(), Some("PO-1234"));
    assert_eq!(charge.quantity, 2);

    // Fifty days before: free. The pending charge is withdrawn.
    let cancelled = traded::cancel_booking(
        db.conn(),
        &w.head_alder,
        &c,
        &PROVIDER,
        done.booking.id,
        Some("staff off sick".into()),
    )
    .await
    .expect("cancel");
    let b = &cancelled.booking;
    assert_eq!(b.status, BookingStatus::Cancelled);
    assert_eq!(
        b.closure.as_ref().map(|c| c.reason),
        Some(ClosedReason::CancelledBySchool)
    );
    assert_eq!(
        (b.cancellation_fee, b.refund),
        (Some(Money::zero()), Some(Money::from_pence(30_000)))
    );
    assert_eq!(
        charge_of(&db, b.id).await.expect("charge").status,
        ChargeStatus::Withdrawn
    );
    assert_eq!(session_now(&db, &w.session).await.places_taken, 0);

    // Ten days before: half is kept, the charge shrinks to the fee.
    let late = book(
        &db,
        &w.head_alder,
        &c,
        booking(w.alder, &w.session, 0..2, Settlement::Invoice),
    )
    .await
    .expect("again");
    c.set(at(2027, 1, 2, 9));
    let cancelled = traded::cancel_booking(
        db.conn(),
        &w.head_alder,
        &c,
        &PROVIDER,
        late.booking.id,
        None,
    )
    .await
    .expect("late cancel");
    assert_eq!(
        cancelled.booking.cancellation_fee,
        Some(Money::from_pence(15_000))
    );
    assert_eq!(cancelled.booking.refund, Some(Money::from_pence(15_000)));
    let charge = charge_of(&db, late.booking.id).await.expect("charge");
    assert_eq!(charge.status, ChargeStatus::Pending);
    assert_eq!(
        charge.total,
        Money::from_pence(15_000),
        "only the fee is invoiced"
    );
    // Cancelling twice is a conflict.
    let twice = traded::cancel_booking(
        db.conn(),
        &w.head_alder,
        &c,
        &PROVIDER,
        late.booking.id,
        None,
    )
    .await;
    assert_eq!(
        field_error(twice),
        ("bookingId".to_owned(), ErrorCode::Conflict)
    );
}

async fn offer_places_come_back_only_when_cancelled_in_time(db: TestDb) {
    let w = world(&db).await;
    let c = clock();
    let early = book(
        &db,
        &w.head_alder,
        &c,
        booking(w.alder, &w.session, 0..1, Settlement::Offer),
    )
    .await
    .expect("booking");
    let late = book(
        &db,
        &w.head_alder,
        &c,
        booking(w.alder, &w.session, 1..2, Settlement::Offer),
    )
    .await
    .expect("booking");
    assert_eq!(cpd_left(&db, &w, w.alder).await, Some(1));
    traded::cancel_booking(
        db.conn(),
        &w.head_alder,
        &c,
        &PROVIDER,
        early.booking.id,
        None,
    )
    .await
    .expect("free cancel");
    assert_eq!(
        cpd_left(&db, &w, w.alder).await,
        Some(2),
        "the place returns to the allowance"
    );
    let b = traded::booking(db.conn(), &w.head_alder, early.booking.id)
        .await
        .expect("read");
    assert_eq!(
        (b.cancellation_fee, b.refund, b.units_kept, b.units_returned),
        (Some(Money::zero()), Some(Money::zero()), Some(0), Some(1)),
        "OFFER answers in units, never the price in money"
    );
    c.set(at(2027, 1, 11, 9));
    traded::cancel_booking(
        db.conn(),
        &w.head_alder,
        &c,
        &PROVIDER,
        late.booking.id,
        None,
    )
    .await
    .expect("late cancel");
    assert_eq!(
        cpd_left(&db, &w, w.alder).await,
        Some(2),
        "a late cancellation keeps the use"
    );
}

/// The policy in units: 10 days before (the late band, half kept) a two-place OFFER booking
/// keeps one place and gives one back; a one-place booking keeps its place (half a place
/// rounds up, like the money fee); the money fee and refund are zero, never the price.
async fn a_late_offer_cancellation_gives_back_the_units_the_fee_does_not_keep(db: TestDb) {
    let w = world(&db).await;
    let c = clock();
    let two = book(
        &db,
        &w.head_alder,
        &c,
        booking(w.alder, &w.session, 0..2, Settlement::Offer),
    )
    .await
    .expect("two places");
    let one = book(
        &db,
        &w.head_alder,
        &c,
        booking(w.alder, &w.session, 2..3, Settlement::Offer),
    )
    .await
    .expect("one place");
    assert_eq!(cpd_left(&db, &w, w.alder).await, Some(0));
    c.set(at(2027, 1, 2, 9)); // ten days before: late, half kept
    let cancelled = traded::cancel_booking(
        db.conn(),
        &w.head_alder,
        &c,
        &PROVIDER,
        two.booking.id,
        None,
    )
    .await
    .expect("late cancel");
    let b = &cancelled.booking;
    assert_eq!(
        (b.cancellation_fee, b.refund, b.units_kept, b.units_returned),
        (Some(Money::zero()), Some(Money::zero()), Some(1), Some(1))
    );
    assert_eq!(
        cpd_left(&db, &w, w.alder).await,
        Some(1),
        "one of the two places returns to the allowance"
    );
    let cancelled = traded::cancel_booking(
        db.conn(),
        &w.head_alder,
        &c,
        &PROVIDER,
        one.booking.id,
        None,
    )
    .await
    .expect("late cancel");
    let b = &cancelled.booking;
    assert_eq!(
        (b.cancellation_fee, b.refund, b.units_kept, b.units_returned),
        (Some(Money::zero()), Some(Money::zero()), Some(1), Some(0))
    );
    assert_eq!(
        cpd_left(&db, &w, w.alder).await,
        Some(1),
        "half a place is kept"
    );
}

async fn a_paid_card_booking_is_credited_and_refunded(db: TestDb) {
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
    pay(&db, &c, &done).await;
    c.set(at(2027, 1, 1, 9)); // 11 days before: half back
    let cancelled = traded::cancel_booking(
        db.conn(),
        &w.head_cedar,
        &c,
        &PROVIDER,
        done.booking.id,
        None,
    )
    .await
    .expect("cancel");
    let b = &cancelled.booking;
    assert_eq!(b.refund, Some(Money::from_pence(22_500)));
    assert_eq!(b.cancellation_fee, Some(Money::from_pence(22_500)));
    assert_eq!(b.refund_state, Some(RefundState::Done));
    let invoice_id = b.invoice_id.expect("invoice");
    let notes = billing::ledger::credit_notes::credit_notes_of_invoices(db.conn(), &[invoice_id])
        .await
        .expect("notes")
        .remove(&invoice_id)
        .expect("a credit note");
    assert_eq!(notes.len(), 1);
    assert_eq!(notes[0].total, Money::from_pence(22_500));
    let allocations = billing::ledger::payments::allocations_of_invoices(db.conn(), &[invoice_id])
        .await
        .expect("allocations")
        .remove(&invoice_id)
        .expect("allocated");
    let payment = allocations[0].payment_id;
    let payment = billing::ledger::payments::payments_by_ids(db.conn(), &[payment])
        .await
        .expect("payment")
        .remove(&payment)
        .expect("payment");
    assert_eq!(payment.refunded, Money::from_pence(22_500));
    // Nothing left for the sweep to do.
    assert!(
        traded::complete_card_refunds(db.conn(), &c, &PROVIDER)
            .await
            .expect("sweep")
            .is_empty()
    );
}

async fn an_unpaid_card_booking_cancels_by_voiding_its_invoice(db: TestDb) {
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
    let cancelled = traded::cancel_booking(
        db.conn(),
        &w.head_cedar,
        &c,
        &PROVIDER,
        done.booking.id,
        None,
    )
    .await
    .expect("cancel");
    assert_eq!(cancelled.booking.status, BookingStatus::Cancelled);
    assert_eq!(cancelled.booking.refund_state, None);
    let invoice_id = done.booking.invoice_id.expect("invoice");
    let invoice = billing::ledger::invoices::invoices_by_ids(db.conn(), &[invoice_id])
        .await
        .expect("load")
        .remove(&invoice_id)
        .expect("invoice");
    assert_eq!(invoice.status, InvoiceStatus::Void);
    assert_eq!(session_now(&db, &w.session).await.places_taken, 0);
}

async fn a_started_session_cannot_be_cancelled_and_nothing_changes(db: TestDb) {
    let w = world(&db).await;
    let c = clock();
    let done = book(
        &db,
        &w.head_alder,
        &c,
        booking(w.alder, &w.session, 0..1, Settlement::Invoice),
    )
    .await
    .expect("booking");
    let before = footprint(&db).await;
    let started = clock();
    started.set(at(2027, 1, 12, 11));
    let refused = traded::cancel_booking(
        db.conn(),
        &w.head_alder,
        &started,
        &PROVIDER,
        done.booking.id,
        None,
    )
    .await;
    assert_eq!(
        field_error(refused),
        ("bookingId".to_owned(), ErrorCode::Conflict)
    );
    let refused = traded::cancel_session(
        db.conn(),
        &w.admin,
        &started,
        &PROVIDER,
        w.session.id,
        "snow",
    )
    .await;
    assert_eq!(
        field_error(refused),
        ("sessionId".to_owned(), ErrorCode::Conflict)
    );
    assert_eq!(footprint(&db).await, before);
    assert_eq!(
        charge_of(&db, done.booking.id)
            .await
            .expect("charge")
            .status,
        ChargeStatus::Pending
    );
    // Other schools and staff may not cancel it; leaders may not cancel sessions.
    assert_not_found(
        traded::cancel_booking(
            db.conn(),
            &w.head_birch,
            &c,
            &PROVIDER,
            done.booking.id,
            None,
        )
        .await,
    );
    assert_forbidden(
        traded::cancel_booking(
            db.conn(),
            &w.staff_alder,
            &c,
            &PROVIDER,
            done.booking.id,
            None,
        )
        .await,
    );
    assert_forbidden(
        traded::cancel_session(db.conn(), &w.head_alder, &c, &PROVIDER, w.session.id, "no").await,
    );
}

async fn a_provider_cancellation_gives_everyone_everything_back(db: TestDb) {
    let w = world(&db).await;
    let c = clock();
    let small = scheduled(&db, new_session(&w.course, 4)).await;
    let offer = book(
        &db,
        &w.head_alder,
        &c,
        booking(w.alder, &small, 0..1, Settlement::Offer),
    )
    .await
    .expect("offer");
    let invoice = book(
        &db,
        &w.head_birch,
        &c,
        booking(w.birch, &small, 1..2, Settlement::Invoice),
    )
    .await
    .expect("invoice");
    let card = book(
        &db,
        &w.head_cedar,
        &c,
        booking(w.cedar, &small, 2..3, Settlement::Card),
    )
    .await
    .expect("card");
    pay(&db, &c, &card).await;
    let unpaid = book(
        &db,
        &w.head_cedar,
        &c,
        booking(w.cedar, &small, 3..4, Settlement::Card),
    )
    .await
    .expect("unpaid");
    let mut waiting = booking(w.birch, &small, 4..5, Settlement::Invoice);
    waiting.join_waitlist = true;
    let waiting = book(&db, &w.head_birch, &c, waiting)
        .await
        .expect("waitlisted");
    assert_eq!(waiting.booking.status, BookingStatus::Waitlisted);
    assert_eq!(cpd_left(&db, &w, w.alder).await, Some(2));

    c.set(at(2027, 1, 11, 9)); // the day before: inside the no-refund band, which does not apply
    let change = traded::cancel_session(
        db.conn(),
        &w.admin,
        &c,
        &PROVIDER,
        small.id,
        "trainer unwell",
    )
    .await
    .expect("cancel session");
    assert_eq!(change.session.status, traded::SessionStatus::Cancelled);
    assert_eq!(change.session.places_taken, 0);
    assert_eq!(change.bookings.len(), 5);
    assert!(
        change
            .bookings
            .iter()
            .all(|b| b.status == BookingStatus::Cancelled
                && b.closure.as_ref().map(|c| c.reason) == Some(ClosedReason::SessionCancelled))
    );
    assert_eq!(
        cpd_left(&db, &w, w.alder).await,
        Some(3),
        "the allowance is given back"
    );
    assert_eq!(
        charge_of(&db, invoice.booking.id)
            .await
            .expect("charge")
            .status,
        ChargeStatus::Withdrawn
    );
    let card_after = change
        .bookings
        .iter()
        .find(|b| b.id == card.booking.id)
        .expect("card");
    assert_eq!(card_after.refund, Some(card.booking.gross()));
    assert_eq!(card_after.refund_state, Some(RefundState::Done));
    let unpaid_invoice = unpaid.booking.invoice_id.expect("invoice");
    let status = billing::ledger::invoices::invoices_by_ids(db.conn(), &[unpaid_invoice])
        .await
        .expect("load")[&unpaid_invoice]
        .status;
    assert_eq!(status, InvoiceStatus::Void);
    let offer_after = change
        .bookings
        .iter()
        .find(|b| b.id == offer.booking.id)
        .expect("offer");
    assert_eq!(
        (
            offer_after.cancellation_fee,
            offer_after.refund,
            offer_after.units_kept,
            offer_after.units_returned
        ),
        (Some(Money::zero()), Some(Money::zero()), Some(0), Some(1)),
        "an OFFER booking gets its unit back, and no money"
    );
    // Nobody can book a cancelled session.
    let refused = book(
        &db,
        &w.head_alder,
        &clock(),
        booking(w.alder, &small, 9..10, Settlement::Invoice),
    )
    .await;
    assert_eq!(
        field_error(refused),
        ("sessionId".to_owned(), ErrorCode::Conflict)
    );
}

testkit::db_tests!(
    invoice_journey_charges_then_cancels_under_the_policy,
    offer_places_come_back_only_when_cancelled_in_time,
    a_late_offer_cancellation_gives_back_the_units_the_fee_does_not_keep,
    a_paid_card_booking_is_credited_and_refunded,
    an_unpaid_card_booking_cancels_by_voiding_its_invoice,
    a_started_session_cannot_be_cancelled_and_nothing_changes,
    a_provider_cancellation_gives_everyone_everything_back,
);
