//! The register, certificates of participation, and feedback.

mod support;

use kernel::{ErrorCode, Role};
use support::*;
use testkit::TestDb;
use traded::{Attendance, AttendanceMark, BookingStatus, NewFeedback, NewService, Settlement};

async fn the_provider_takes_the_register_and_attendees_get_certificates(db: TestDb) {
    let w = world(&db).await;
    let c = clock();
    // A course Oak Primary (a National Support School) provides.
    let oak_course = published(
        &db,
        NewService {
            provider_school_id: Some(w.oak),
            provider_name: "Oak Primary maths hub".into(),
            ..new_service("S2S-MATHS", 12_000, Some(18_000))
        },
    )
    .await;
    let session = scheduled(&db, new_session(&oak_course, 6)).await;
    let alder = book(
        &db,
        &w.head_alder,
        &c,
        booking(w.alder, &session, 0..2, Settlement::Invoice),
    )
    .await
    .expect("alder");
    let birch = book(
        &db,
        &w.head_birch,
        &c,
        booking(w.birch, &session, 2..3, Settlement::Invoice),
    )
    .await
    .expect("birch");
    let came = alder.attendees[0].id;
    let stayed_away = alder.attendees[1].id;
    let birch_person = birch.attendees[0].id;
    let marks = [
        AttendanceMark {
            attendee_id: came,
            attendance: Attendance::Attended,
        },
        AttendanceMark {
            attendee_id: stayed_away,
            attendance: Attendance::NoShow,
        },
        AttendanceMark {
            attendee_id: birch_person,
            attendance: Attendance::NoShow,
        },
    ];

    // Before it starts, nobody takes the register.
    let early = traded::mark_attendance(db.conn(), &w.head_oak, &c, session.id, &marks).await;
    assert_eq!(
        field_error(early),
        ("sessionId".to_owned(), ErrorCode::Conflict)
    );
    c.set(at(2027, 1, 12, 16));
    // Only the provider: another school's leader may not, and does not see the register.
    assert_forbidden(
        traded::mark_attendance(db.conn(), &w.head_alder, &c, session.id, &marks).await,
    );
    assert_forbidden(
        traded::mark_attendance(db.conn(), &w.staff_alder, &c, session.id, &marks).await,
    );
    assert_not_found(traded::register(db.conn(), &w.head_birch, session.id).await);
    assert_eq!(
        traded::register(db.conn(), &w.head_oak, session.id)
            .await
            .expect("provider")
            .len(),
        3
    );
    assert_eq!(
        traded::register(db.conn(), &w.finance, session.id)
            .await
            .expect("staff")
            .len(),
        3
    );
    // Someone not on the register.
    let stranger = traded::mark_attendance(
        db.conn(),
        &w.head_oak,
        &c,
        session.id,
        &[AttendanceMark {
            attendee_id: kernel::AttendeeId::new(),
            attendance: Attendance::Attended,
        }],
    )
    .await;
    assert_eq!(
        field_error(stranger),
        ("marks.0.attendeeId".to_owned(), ErrorCode::NotFound)
    );

    let changed = traded::mark_attendance(db.conn(), &w.head_oak, &c, session.id, &marks)
        .await
        .expect("register");
    let status = |id| changed.iter().find(|b| b.id == id).map(|b| b.status);
    assert_eq!(status(alder.booking.id), Some(BookingStatus::Attended));
    assert_eq!(status(birch.booking.id), Some(BookingStatus::NoShow));

    // Certificates for the one who came: the school sees its own, the provider all.
    let certs = traded::certificates(db.conn(), &w.head_oak, session.id)
        .await
        .expect("provider");
    assert_eq!(certs.len(), 1);
    let cert = &certs[0];
    assert_eq!(cert.attendee_id, came);
    assert_eq!(cert.attendee_name, "Teacher 0");
    assert_eq!(cert.minutes, 12 * 60);
    assert_eq!(cert.dates, vec![day(2027, 1, 12), day(2027, 1, 19)]);
    assert!(cert.number.starts_with("TRL-2026-"), "{}", cert.number);
    let again = traded::certificate(db.conn(), &w.head_alder, came)
        .await
        .expect("own");
    assert_eq!(
        again.number, cert.number,
        "a reprint is the same certificate"
    );
    assert!(
        traded::certificates(db.conn(), &w.head_birch, session.id)
            .await
            .expect("none")
            .is_empty()
    );
    assert_not_found(traded::certificate(db.conn(), &w.head_birch, came).await);
    assert_not_found(traded::certificate(db.conn(), &w.head_alder, stayed_away).await);

    // Cancelling an attended booking is refused.
    let late = traded::cancel_booking(
        db.conn(),
        &w.head_alder,
        &c,
        &PROVIDER,
        alder.booking.id,
        None,
    )
    .await;
    assert_eq!(
        field_error(late),
        ("bookingId".to_owned(), ErrorCode::Conflict)
    );
}

async fn feedback_is_given_once_by_the_booking_school_after_attending(db: TestDb) {
    let w = world(&db).await;
    let c = clock();
    let alder = book(
        &db,
        &w.head_alder,
        &c,
        booking(w.alder, &w.session, 0..2, Settlement::Offer),
    )
    .await
    .expect("alder");
    let came = alder.attendees[0].id;
    let absent = alder.attendees[1].id;
    let give = |attendee, rating| NewFeedback {
        attendee_id: attendee,
        rating,
        comment: Some("Practical and well paced.".into()),
    };
    let too_early = traded::give_feedback(db.conn(), &w.staff_alder, &c, give(came, 5)).await;
    assert_eq!(
        field_error(too_early),
        ("attendeeId".to_owned(), ErrorCode::Conflict)
    );
    c.set(at(2027, 1, 19, 16));
    traded::mark_attendance(
        db.conn(),
        &w.admin,
        &c,
        w.session.id,
        &[
            AttendanceMark {
                attendee_id: came,
                attendance: Attendance::Attended,
            },
            AttendanceMark {
                attendee_id: absent,
                attendance: Attendance::NoShow,
            },
        ],
    )
    .await
    .expect("register");
    let out_of_range = traded::give_feedback(db.conn(), &w.staff_alder, &c, give(came, 6)).await;
    assert_eq!(
        field_error(out_of_range),
        ("rating".to_owned(), ErrorCode::OutOfRange)
    );
    assert_not_found(traded::give_feedback(db.conn(), &w.head_birch, &c, give(came, 1)).await);
    let key = person(&db, "finance2@p.example", Role::Finance, vec![]).await;
    assert_forbidden(traded::give_feedback(db.conn(), &key, &c, give(came, 1)).await);
    let given = traded::give_feedback(db.conn(), &w.staff_alder, &c, give(came, 5))
        .await
        .expect("feedback");
    assert_eq!(given.rating, 5);
    let twice = traded::give_feedback(db.conn(), &w.head_alder, &c, give(came, 4)).await;
    assert_eq!(
        field_error(twice),
        ("attendeeId".to_owned(), ErrorCode::Taken)
    );
    let absent_feedback =
        traded::give_feedback(db.conn(), &w.head_alder, &c, give(absent, 1)).await;
    assert_eq!(
        field_error(absent_feedback),
        ("attendeeId".to_owned(), ErrorCode::Conflict)
    );
    let ratings = traded::ratings_of_services(db.conn(), &[w.course.id])
        .await
        .expect("ratings");
    let summary = ratings[&w.course.id];
    assert_eq!((summary.count, summary.total), (1, 5));
    assert_eq!(summary.average(), Some(5.0));
    let by_session = traded::feedback_of_sessions(db.conn(), &[w.session.id])
        .await
        .expect("feedback");
    assert_eq!(by_session[&w.session.id].len(), 1);
}

testkit::db_tests!(
    the_provider_takes_the_register_and_attendees_get_certificates,
    feedback_is_given_once_by_the_booking_school_after_attending,
);
