//! The register, certificates of participation, and feedback.

use crate::support;

use kernel::{ErrorCode, Role};
use support::*;
use testkit::TestDb;
use traded::{Attendance, AttendanceMark, BookingStatus, NewFeedback, Settlement};

async fn the_provider_takes_the_register_and_attendees_get_certificates(db: TestDb) {
    let w = world(&db).await;
    let c = clock();
    let session = oak_session(&db, &w).await;
    let (alder, birch) = alder_two_and_birch_one(&db, &w, &c, &session).await;
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
    let early =
        traded::mark_attendance(db.conn(), &w.head_oak, &c, session.id, Some(0), &marks).await;
    assert_eq!(field_error(early), ("part".to_owned(), ErrorCode::Conflict));
    c.set(at(2027, 1, 19, 16));
    // Only the provider: another school's leader may not, and does not see the register.
    assert_forbidden(
        traded::mark_attendance(db.conn(), &w.head_alder, &c, session.id, Some(0), &marks).await,
    );
    assert_forbidden(
        traded::mark_attendance(db.conn(), &w.staff_alder, &c, session.id, Some(0), &marks).await,
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
        Some(0),
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

    let changed = traded::mark_attendance(db.conn(), &w.head_oak, &c, session.id, Some(0), &marks)
        .await
        .expect("register");
    traded::mark_attendance(db.conn(), &w.head_oak, &c, session.id, Some(1), &marks)
        .await
        .expect("register of the second part");
    let status = |id| changed.iter().find(|b| b.id == id).map(|b| b.status);
    assert_eq!(status(alder.booking.id), Some(BookingStatus::Attended));
    assert_eq!(status(birch.booking.id), Some(BookingStatus::NoShow));

    // Certificates for the one who came: the school sees its own, the provider all.
    let certs = traded::certificates(db.conn(), &w.head_oak, &c, session.id)
        .await
        .expect("provider");
    assert_eq!(certs.len(), 1);
    let cert = &certs[0];
    assert_eq!(cert.attendee_id, came);
    assert_eq!(cert.attendee_name, "Teacher 0");
    assert_eq!(cert.minutes, 12 * 60);
    assert_eq!(cert.dates, vec![day(2027, 1, 12), day(2027, 1, 19)]);
    assert!(cert.number.starts_with("TRL-2026-"), "{}", cert.number);
    let again = traded::certificate(db.conn(), &w.head_alder, &c, came)
        .await
        .expect("own");
    assert_eq!(
        again.number, cert.number,
        "a reprint is the same certificate"
    );
    assert!(
        traded::certificates(db.conn(), &w.head_birch, &c, session.id)
            .await
            .expect("none")
            .is_empty()
    );
    assert_not_found(traded::certificate(db.conn(), &w.head_birch, &c, came).await);
    assert_not_found(traded::certificate(db.conn(), &w.head_alder, &c, stayed_away).await);

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
        Some(1),
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

/// A two-part course is marked part by part, each once it has started; the certificate
/// waits for the last part's end and goes only to those present at both parts, stating the
/// hours of the parts attended.
async fn a_two_part_register_certifies_only_after_the_last_part_for_every_part(db: TestDb) {
    let w = world(&db).await;
    let c = clock();
    let session = scheduled(&db, new_session(&w.course, 6)).await;
    let alder = book(
        &db,
        &w.head_alder,
        &c,
        booking(w.alder, &session, 0..2, Settlement::Invoice),
    )
    .await
    .expect("alder");
    let both = alder.attendees[0].id;
    let first_only = alder.attendees[1].id;
    let day_one = [
        mark(both, Attendance::Attended),
        mark(first_only, Attendance::Attended),
    ];
    c.set(at(2027, 1, 12, 16));
    // Which part must be said of a session of several parts.
    assert_eq!(
        field_error(
            traded::mark_attendance(db.conn(), &w.admin, &c, session.id, None, &day_one).await
        ),
        ("part".to_owned(), ErrorCode::Required)
    );
    assert_eq!(
        field_error(
            traded::mark_attendance(db.conn(), &w.admin, &c, session.id, Some(2), &day_one).await
        ),
        ("part".to_owned(), ErrorCode::NotFound)
    );
    // The second part has not started.
    assert_eq!(
        field_error(
            traded::mark_attendance(db.conn(), &w.admin, &c, session.id, Some(1), &day_one).await
        ),
        ("part".to_owned(), ErrorCode::Conflict)
    );
    let changed = traded::mark_attendance(db.conn(), &w.admin, &c, session.id, Some(0), &day_one)
        .await
        .expect("day one");
    assert_eq!(changed[0].status, BookingStatus::Attended);
    // Between the parts: no certificate, although everyone came on day one.
    assert!(
        traded::certificates(db.conn(), &w.admin, &c, session.id)
            .await
            .expect("certificates")
            .is_empty()
    );
    assert_not_found(traded::certificate(db.conn(), &w.head_alder, &c, both).await);
    let register = traded::register(db.conn(), &w.admin, session.id)
        .await
        .expect("register");
    let line = register
        .iter()
        .find(|l| l.attendee.id == both)
        .expect("line");
    assert_eq!(line.parts, vec![Some(Attendance::Attended), None]);
    assert_eq!(line.attendee.parts_attended, 1);

    c.set(at(2027, 1, 19, 12));
    traded::mark_attendance(
        db.conn(),
        &w.admin,
        &c,
        session.id,
        Some(1),
        &[
            mark(both, Attendance::Attended),
            mark(first_only, Attendance::NoShow),
        ],
    )
    .await
    .expect("day two");
    // Day two has not ended yet.
    assert!(
        traded::certificates(db.conn(), &w.admin, &c, session.id)
            .await
            .expect("certificates")
            .is_empty()
    );
    c.set(at(2027, 1, 19, 16));
    let certs = traded::certificates(db.conn(), &w.admin, &c, session.id)
        .await
        .expect("certificates");
    assert_eq!(certs.len(), 1, "only the one present at both parts");
    assert_eq!(certs[0].attendee_id, both);
    assert_eq!(certs[0].minutes, 12 * 60);
    assert_eq!(certs[0].dates, vec![day(2027, 1, 12), day(2027, 1, 19)]);
    assert_eq!(certs[0].issued_at, at(2027, 1, 19, 15));
    assert_not_found(traded::certificate(db.conn(), &w.head_alder, &c, first_only).await);
    let register = traded::register(db.conn(), &w.admin, session.id)
        .await
        .expect("register");
    let line = register
        .iter()
        .find(|l| l.attendee.id == first_only)
        .expect("line");
    assert_eq!(
        line.parts,
        vec![Some(Attendance::Attended), Some(Attendance::NoShow)]
    );
    assert_eq!(line.attendee.attendance, Some(Attendance::Attended));
}

/// A session of one part is marked without saying which, as before, but its certificate
/// waits for the end of the session rather than being issued at its start.
async fn a_single_part_certificate_waits_for_the_end(db: TestDb) {
    let w = world(&db).await;
    let c = clock();
    let session = scheduled(
        &db,
        traded::NewSession {
            parts: vec![part(at(2027, 2, 2, 9), 6)],
            ..new_session(&w.course, 6)
        },
    )
    .await;
    let alder = book(
        &db,
        &w.head_alder,
        &c,
        booking(w.alder, &session, 0..1, Settlement::Invoice),
    )
    .await
    .expect("alder");
    let came = alder.attendees[0].id;
    let early = traded::mark_attendance(
        db.conn(),
        &w.admin,
        &c,
        session.id,
        None,
        &[mark(came, Attendance::Attended)],
    )
    .await;
    assert_eq!(
        field_error(early),
        ("sessionId".to_owned(), ErrorCode::Conflict)
    );
    c.set(at(2027, 2, 2, 9));
    traded::mark_attendance(
        db.conn(),
        &w.admin,
        &c,
        session.id,
        None,
        &[mark(came, Attendance::Attended)],
    )
    .await
    .expect("register at the start");
    assert_not_found(traded::certificate(db.conn(), &w.head_alder, &c, came).await);
    c.set(at(2027, 2, 2, 15));
    let cert = traded::certificate(db.conn(), &w.head_alder, &c, came)
        .await
        .expect("after the end");
    assert_eq!(cert.minutes, 6 * 60);
    assert_eq!(cert.issued_at, at(2027, 2, 2, 15));
}

testkit::db_tests!(
    the_provider_takes_the_register_and_attendees_get_certificates,
    feedback_is_given_once_by_the_booking_school_after_attending,
    a_two_part_register_certifies_only_after_the_last_part_for_every_part,
    a_single_part_certificate_waits_for_the_end,
);
