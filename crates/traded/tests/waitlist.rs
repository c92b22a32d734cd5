//! The waiting list: freed places offered in order and held, accepted or declined, expiring
//! on the clock and passing on; entries leaving; groups that do not fit.

use crate::support;

use chrono::Duration;
use kernel::{Actor, ErrorCode, SchoolId};
use support::*;
use testkit::TestDb;
use traded::{
    BookingOutcome, BookingStatus, ClosedReason, Session, SessionPatch, Settlement,
    WaitlistAcceptance,
};

async fn wait(
    db: &TestDb,
    actor: &Actor,
    c: &kernel::FixedClock,
    school: SchoolId,
    session: &Session,
    people: std::ops::Range<usize>,
) -> BookingOutcome {
    let mut input = booking(school, session, people, Settlement::Invoice);
    input.join_waitlist = true;
    let done = book(db, actor, c, input).await.expect("joins the list");
    assert_eq!(done.booking.status, BookingStatus::Waitlisted);
    done
}

async fn entry(db: &TestDb, id: kernel::BookingId) -> traded::Booking {
    traded::bookings_by_ids(db.conn(), &[id])
        .await
        .expect("load")
        .remove(&id)
        .expect("booking")
}

async fn a_freed_place_is_offered_in_order_held_and_accepted(db: TestDb) {
    let w = world(&db).await;
    let c = clock();
    let two = scheduled(&db, new_session(&w.course, 2)).await;
    let first = book(
        &db,
        &w.head_alder,
        &c,
        booking(w.alder, &two, 0..2, Settlement::Invoice),
    )
    .await
    .expect("fills it");
    c.advance(Duration::minutes(1));
    let birch = wait(&db, &w.head_birch, &c, w.birch, &two, 2..3).await;
    c.advance(Duration::minutes(1));
    let cedar = wait(&db, &w.head_cedar, &c, w.cedar, &two, 3..4).await;
    // Nobody was offered anything yet, and accepting is refused.
    let early = traded::accept_waitlist_offer(
        db.conn(),
        &w.head_birch,
        &c,
        &PROVIDER,
        birch.booking.id,
        WaitlistAcceptance::default(),
    )
    .await;
    assert_eq!(
        field_error(early),
        ("bookingId".to_owned(), ErrorCode::Conflict)
    );

    // Alder cancels its booking of two.
    let change = traded::cancel_booking(
        db.conn(),
        &w.head_alder,
        &c,
        &PROVIDER,
        first.booking.id,
        None,
    )
    .await
    .expect("cancel");
    let offered: Vec<_> = change.offered.iter().map(|b| b.id).collect();
    assert_eq!(
        offered,
        vec![birch.booking.id, cedar.booking.id],
        "both fit, first come first"
    );
    let birch_now = entry(&db, birch.booking.id).await;
    let wl = birch_now.waitlist.expect("waitlist");
    assert_eq!(wl.offer_expires_at, Some(c.now_plus(Duration::hours(48))));
    assert_eq!(birch_now.places_held, 1);
    assert_eq!(
        session_now(&db, &two).await.places_taken,
        2,
        "offers hold their places"
    );
    // Nobody else can take a held place.
    let refused = book(
        &db,
        &w.head_alder,
        &c,
        booking(w.alder, &two, 9..10, Settlement::Invoice),
    )
    .await;
    assert_eq!(
        field_error(refused),
        ("attendees".to_owned(), ErrorCode::Conflict)
    );

    // Birch accepts, settling on its termly invoice (what it asked for when it joined).
    let accepted = traded::accept_waitlist_offer(
        db.conn(),
        &w.head_birch,
        &c,
        &PROVIDER,
        birch.booking.id,
        WaitlistAcceptance::default(),
    )
    .await
    .expect("accept");
    assert_eq!(accepted.booking.status, BookingStatus::Confirmed);
    assert_eq!(accepted.booking.settlement, Some(Settlement::Invoice));
    assert!(charge_of(&db, birch.booking.id).await.is_some());
    // Another school's leader cannot touch Cedar's entry.
    assert_not_found(
        traded::accept_waitlist_offer(
            db.conn(),
            &w.head_birch,
            &c,
            &PROVIDER,
            cedar.booking.id,
            WaitlistAcceptance::default(),
        )
        .await,
    );
    // Cedar declines; its place would pass on (nobody else is waiting).
    let declined = traded::decline_waitlist_offer(db.conn(), &w.head_cedar, &c, cedar.booking.id)
        .await
        .expect("decline");
    assert_eq!(declined.booking.status, BookingStatus::Cancelled);
    assert_eq!(
        declined.booking.closure.map(|c| c.reason),
        Some(ClosedReason::OfferDeclined)
    );
    assert_eq!(session_now(&db, &two).await.places_taken, 1);
}

trait Later {
    fn now_plus(&self, by: Duration) -> chrono::DateTime<chrono::Utc>;
}

impl Later for kernel::FixedClock {
    fn now_plus(&self, by: Duration) -> chrono::DateTime<chrono::Utc> {
        use kernel::Clock as _;
        self.now() + by
    }
}

async fn unanswered_offers_expire_and_pass_on(db: TestDb) {
    let w = world(&db).await;
    let c = clock();
    let one = scheduled(&db, new_session(&w.course, 1)).await;
    let taken = book(
        &db,
        &w.head_alder,
        &c,
        booking(w.alder, &one, 0..1, Settlement::Invoice),
    )
    .await
    .expect("the place");
    c.advance(Duration::minutes(1));
    let birch = wait(&db, &w.head_birch, &c, w.birch, &one, 1..2).await;
    c.advance(Duration::minutes(1));
    let cedar = wait(&db, &w.head_cedar, &c, w.cedar, &one, 2..3).await;
    traded::cancel_booking(
        db.conn(),
        &w.head_alder,
        &c,
        &PROVIDER,
        taken.booking.id,
        None,
    )
    .await
    .expect("cancel");
    assert!(entry(&db, birch.booking.id).await.places_held == 1);

    // 47 hours on, nothing has expired.
    c.advance(Duration::hours(47));
    assert!(
        traded::expire_waitlist_offers(db.conn(), &c)
            .await
            .expect("sweep")
            .is_empty()
    );
    // 49 hours on, Birch's offer expires and Cedar is offered the place.
    c.advance(Duration::hours(2));
    let changes = traded::expire_waitlist_offers(db.conn(), &c)
        .await
        .expect("sweep");
    assert_eq!(changes.len(), 1);
    assert_eq!(changes[0].booking.id, birch.booking.id);
    assert_eq!(
        changes[0].booking.closure.as_ref().map(|c| c.reason),
        Some(ClosedReason::OfferExpired)
    );
    assert_eq!(
        changes[0].offered.iter().map(|b| b.id).collect::<Vec<_>>(),
        vec![cedar.booking.id]
    );
    let late = traded::accept_waitlist_offer(
        db.conn(),
        &w.head_birch,
        &c,
        &PROVIDER,
        birch.booking.id,
        WaitlistAcceptance::default(),
    )
    .await;
    assert_eq!(
        field_error(late),
        ("bookingId".to_owned(), ErrorCode::Conflict)
    );
    assert_eq!(session_now(&db, &one).await.places_taken, 1);
    // A rerun finds nothing more to do.
    assert!(
        traded::expire_waitlist_offers(db.conn(), &c)
            .await
            .expect("rerun")
            .is_empty()
    );
    // Cedar accepts by card, overriding what it asked for.
    let accepted = traded::accept_waitlist_offer(
        db.conn(),
        &w.head_cedar,
        &c,
        &PROVIDER,
        cedar.booking.id,
        WaitlistAcceptance {
            settlement: Some(Settlement::Card),
            po_number: Some("PO-C1".into()),
        },
    )
    .await
    .expect("accept");
    assert_eq!(accepted.booking.status, BookingStatus::PendingPayment);
    assert_eq!(accepted.booking.po_number.as_deref(), Some("PO-C1"));
    assert!(accepted.card_payment.is_some());
}

async fn entries_leave_and_groups_that_do_not_fit_do_not_block(db: TestDb) {
    let w = world(&db).await;
    let c = clock();
    let three = scheduled(&db, new_session(&w.course, 3)).await;
    let alder = book(
        &db,
        &w.head_alder,
        &c,
        booking(w.alder, &three, 0..2, Settlement::Invoice),
    )
    .await
    .expect("two");
    book(
        &db,
        &w.head_birch,
        &c,
        booking(w.birch, &three, 2..3, Settlement::Invoice),
    )
    .await
    .expect("one");
    c.advance(Duration::minutes(1));
    let group = wait(&db, &w.head_cedar, &c, w.cedar, &three, 10..13).await; // three places
    c.advance(Duration::minutes(1));
    let single = wait(&db, &w.head_birch, &c, w.birch, &three, 20..21).await;
    c.advance(Duration::minutes(1));
    let leaver = wait(&db, &w.head_alder, &c, w.alder, &three, 30..31).await;

    // An entry leaves the list on its own.
    let left = traded::leave_waitlist(db.conn(), &w.head_alder, &c, leaver.booking.id)
        .await
        .expect("leave");
    assert_eq!(
        left.booking.closure.map(|c| c.reason),
        Some(ClosedReason::LeftWaitlist)
    );
    assert_not_found(traded::leave_waitlist(db.conn(), &w.head_birch, &c, group.booking.id).await);

    // Two places free: the group of three does not fit, the single behind it is offered.
    let change = traded::cancel_booking(
        db.conn(),
        &w.head_alder,
        &c,
        &PROVIDER,
        alder.booking.id,
        None,
    )
    .await
    .expect("cancel");
    assert_eq!(
        change.offered.iter().map(|b| b.id).collect::<Vec<_>>(),
        vec![single.booking.id]
    );
    let still = entry(&db, group.booking.id).await;
    assert_eq!(still.places_held, 0);
    assert_eq!(still.status, BookingStatus::Waitlisted);

    // Capacity grows to six: the group is offered the places now free.
    let updated = traded::update_session(
        db.conn(),
        &w.admin,
        &c,
        three.id,
        SessionPatch {
            capacity: Some(6),
            ..SessionPatch::default()
        },
    )
    .await
    .expect("more places");
    assert_eq!(updated.capacity, 6);
    assert_eq!(entry(&db, group.booking.id).await.places_held, 3);
    assert_eq!(updated.places_taken, 5);
    // Capacity can never drop below what is held.
    let squeeze = traded::update_session(
        db.conn(),
        &w.admin,
        &c,
        three.id,
        SessionPatch {
            capacity: Some(4),
            ..SessionPatch::default()
        },
    )
    .await;
    assert_eq!(
        field_error(squeeze),
        ("capacity".to_owned(), ErrorCode::Conflict)
    );
}

testkit::db_tests!(
    a_freed_place_is_offered_in_order_held_and_accepted,
    unanswered_offers_expire_and_pass_on,
    entries_leave_and_groups_that_do_not_fit_do_not_block,
);
