//! Reports as files: delegate lists and sign-in sheets, CPD records and feedback summaries,
//! who may have each, and what the CSV and PDF say (read back by a CSV parser and a PDF
//! reader).

use crate::support;

use kernel::{AcademicYear, Role, Term, UserId};
use support::*;
use testkit::TestDb;
use traded::{Attendance, NewFeedback, Settlement};

/// The rows of a CSV, header first.
fn csv_rows(bytes: &[u8]) -> Vec<Vec<String>> {
    csv::ReaderBuilder::new()
        .has_headers(false)
        .from_reader(bytes)
        .records()
        .map(|r| r.expect("a CSV record").iter().map(str::to_owned).collect())
        .collect()
}

/// The text of a PDF, as a reader extracts it, and its page count.
fn pdf_text(bytes: &[u8]) -> (usize, String) {
    let doc = lopdf::Document::load_mem(bytes).expect("a PDF");
    let pages: Vec<u32> = doc.get_pages().keys().copied().collect();
    (pages.len(), doc.extract_text(&pages).expect("text"))
}

fn user_id(actor: &kernel::Actor) -> UserId {
    actor.as_user().expect("a user").id
}

async fn the_delegate_list_and_sign_in_sheet_are_the_providers(db: TestDb) {
    let w = world(&db).await;
    let c = clock();
    let session = oak_session(&db, &w).await;
    let (_, birch) = alder_two_and_birch_one(&db, &w, &c, &session).await;

    // The provider and partnership staff; nobody else learns the session has delegates.
    for outsider in [
        &w.head_alder,
        &w.staff_alder,
        &w.head_cedar,
        &w.catalogue_key,
    ] {
        assert_not_found(traded::delegate_list(db.conn(), outsider, session.id).await);
    }
    assert_not_found(traded::delegate_list(db.conn(), &w.admin, kernel::SessionId::new()).await);
    let staff = traded::delegate_list(db.conn(), &w.admin, session.id)
        .await
        .expect("admin");
    assert_eq!(staff.delegates.len(), 3);

    c.set(at(2027, 1, 12, 16));
    traded::mark_attendance(
        db.conn(),
        &w.head_oak,
        &c,
        session.id,
        Some(0),
        &[mark(birch.attendees[0].id, Attendance::Attended)],
    )
    .await
    .expect("part 1");
    let list = traded::delegate_list(db.conn(), &w.head_oak, session.id)
        .await
        .expect("provider");

    let rows = csv_rows(&list.csv());
    assert_eq!(
        rows[0],
        [
            "#", "Name", "Role", "Email", "School", "Booking", "Part 1", "Part 2"
        ]
    );
    // By school, then name: Alder's two, then Birch's one, marked present at part 1.
    let people: Vec<(&str, &str, &str)> = rows[1..]
        .iter()
        .map(|r| (r[1].as_str(), r[4].as_str(), r[6].as_str()))
        .collect();
    assert_eq!(
        people,
        [
            ("Teacher 0", "Alder Primary", ""),
            ("Teacher 1", "Alder Primary", ""),
            ("Teacher 2", "Birch Primary", "Present"),
        ]
    );
    assert_eq!(rows[3][3], "teacher2@school.example");
    assert_eq!(rows[3][7], "", "part 2 is not marked yet");

    let (_, text) = pdf_text(&list.pdf());
    for expected in [
        "Delegate list",
        "Teacher 2",
        "Birch Primary",
        "S2S-MATHS",
        "3 of 6 places",
    ] {
        assert!(text.contains(expected), "{expected} in {text}");
    }
    // A sign-in sheet per part (London time: 09:00 GMT in January), with room to sign.
    let (pages, text) = pdf_text(&list.sign_in_sheet());
    assert_eq!(pages, 2, "one page per part");
    assert!(
        text.contains("Part 1 of 2: Tue 12 January 2027, 09:00"),
        "{text}"
    );
    assert!(
        text.contains("Part 2 of 2: Tue 19 January 2027, 09:00"),
        "{text}"
    );
    assert!(text.contains("Signature") && text.contains("Teacher 1"));
}

async fn a_cpd_record_is_the_persons_and_their_leaders(db: TestDb) {
    let w = world(&db).await;
    let c = clock();
    // Teacher 0 works at Alder and has an account; places are theirs by email.
    let teacher = person(
        &db,
        "teacher0@school.example",
        Role::SchoolStaff,
        vec![w.alder],
    )
    .await;
    let session = oak_session(&db, &w).await;
    let two_days = book(
        &db,
        &w.head_alder,
        &c,
        booking(w.alder, &session, 0..2, Settlement::Invoice),
    )
    .await
    .expect("two days");
    let phonics = book(
        &db,
        &w.head_alder,
        &c,
        booking(w.alder, &w.session, 0..1, Settlement::Offer),
    )
    .await
    .expect("phonics");
    c.set(at(2027, 1, 19, 16));
    let me = two_days.attendees[0].id;
    traded::mark_attendance(
        db.conn(),
        &w.head_oak,
        &c,
        session.id,
        Some(0),
        &[mark(me, Attendance::Attended)],
    )
    .await
    .expect("part 1");
    traded::mark_attendance(
        db.conn(),
        &w.head_oak,
        &c,
        session.id,
        Some(1),
        &[mark(me, Attendance::Attended)],
    )
    .await
    .expect("part 2");
    traded::mark_attendance(
        db.conn(),
        &w.admin,
        &c,
        w.session.id,
        Some(0),
        &[mark(phonics.attendees[0].id, Attendance::Attended)],
    )
    .await
    .expect("phonics part 1");
    traded::mark_attendance(
        db.conn(),
        &w.admin,
        &c,
        w.session.id,
        Some(1),
        &[mark(phonics.attendees[0].id, Attendance::NoShow)],
    )
    .await
    .expect("phonics part 2");

    let id = user_id(&teacher);
    // The person, their school's leader and partnership admins; not a colleague, another
    // school's leader, finance or a key.
    let other = person(
        &db,
        "teacher9@school.example",
        Role::SchoolStaff,
        vec![w.alder],
    )
    .await;
    for outsider in [
        &other,
        &w.head_birch,
        &w.head_oak,
        &w.finance,
        &w.catalogue_key,
    ] {
        assert_not_found(traded::cpd_record(db.conn(), outsider, &c, id, None).await);
    }
    assert_not_found(traded::cpd_record(db.conn(), &w.admin, &c, UserId::new(), None).await);
    assert!(traded::may_read_record(&w.head_alder, id, &[w.alder]));
    assert!(!traded::may_read_record(&w.head_birch, id, &[w.alder]));

    let record = traded::cpd_record(db.conn(), &teacher, &c, id, None)
        .await
        .expect("own");
    let led = traded::cpd_record(db.conn(), &w.head_alder, &c, id, None)
        .await
        .expect("leader");
    assert_eq!(record.entries.len(), 2);
    assert_eq!(led.entries.len(), 2);
    traded::cpd_record(db.conn(), &w.admin, &c, id, None)
        .await
        .expect("admin");
    // Both courses ran 12 and 19 January: present at both parts of one (12 h, a
    // certificate), at one part of the other (6 h, none).
    let rows = csv_rows(&record.csv());
    assert_eq!(rows[0][0], "Date");
    let outcomes: Vec<(&str, &str, &str, bool)> = rows[1..]
        .iter()
        .map(|r| {
            (
                r[2].as_str(),
                r[6].as_str(),
                r[7].as_str(),
                r[8].starts_with("TRL-2026-"),
            )
        })
        .collect();
    assert_eq!(
        outcomes,
        [
            ("CPD-PHONICS", "Attended 1 of 2 parts", "360", false),
            ("S2S-MATHS", "Attended", "720", true),
        ]
    );
    assert_eq!(record.total_minutes(), 18 * 60);
    let (_, text) = pdf_text(&record.pdf());
    assert!(
        text.contains("CPD record: teacher0@school.example"),
        "{text}"
    );
    assert!(text.contains("18 h attended at 2 of 2 sessions"), "{text}");

    // Another year's record is empty; a place someone else took over is theirs.
    let next = traded::cpd_record(
        db.conn(),
        &teacher,
        &c,
        id,
        Some(AcademicYear::starting(2027).expect("y")),
    )
    .await
    .expect("next year");
    assert!(next.entries.is_empty());
}

async fn a_feedback_summary_counts_a_terms_ratings_for_the_provider(db: TestDb) {
    let w = world(&db).await;
    let c = clock();
    let session = oak_session(&db, &w).await;
    let done = book(
        &db,
        &w.head_alder,
        &c,
        booking(w.alder, &session, 0..3, Settlement::Invoice),
    )
    .await
    .expect("alder");
    c.set(at(2027, 1, 19, 16));
    for part in [0, 1] {
        let marks: Vec<_> = done
            .attendees
            .iter()
            .map(|a| mark(a.id, Attendance::Attended))
            .collect();
        traded::mark_attendance(db.conn(), &w.head_oak, &c, session.id, Some(part), &marks)
            .await
            .expect("register");
    }
    for (attendee, rating, comment) in [
        (
            done.attendees[0].id,
            5,
            Some("=cmd|' /C calc'!A0, but useful"),
        ),
        (done.attendees[1].id, 4, None),
        (done.attendees[2].id, 4, Some("Clear, practical")),
    ] {
        traded::give_feedback(
            db.conn(),
            &w.head_alder,
            &c,
            NewFeedback {
                attendee_id: attendee,
                rating,
                comment: comment.map(str::to_owned),
            },
        )
        .await
        .expect("feedback");
    }
    let spring = |actor| {
        traded::feedback_summary(db.conn(), actor, session.service_id, year(), Term::Spring)
    };
    // The provider and partnership staff; not the school that gave it, nor anyone else.
    for outsider in [
        &w.head_alder,
        &w.staff_alder,
        &w.head_birch,
        &w.catalogue_key,
    ] {
        assert_not_found(spring(outsider).await);
    }
    spring(&w.finance).await.expect("staff");
    let summary = spring(&w.head_oak).await.expect("provider");
    assert_eq!(summary.spread().0, [0, 0, 0, 2, 1]);
    assert_eq!(summary.spread().average(), "4.33");
    let rows = csv_rows(&summary.csv());
    assert_eq!(rows[0], ["Session", "Rating", "Comment", "Given on"]);
    assert_eq!(rows.len(), 4);
    // A comment a spreadsheet would run as a formula is written as text.
    assert_eq!(rows[1][2], "'=cmd|' /C calc'!A0, but useful");
    let (_, text) = pdf_text(&summary.pdf());
    assert!(text.contains("4.33 out of 5"), "{text}");
    assert!(text.contains("Clear, practical"), "{text}");
    // The autumn term had no sessions of this course.
    let autumn = traded::feedback_summary(
        db.conn(),
        &w.head_oak,
        session.service_id,
        year(),
        Term::Autumn,
    )
    .await
    .expect("autumn");
    assert!(autumn.sessions.is_empty());
    assert!(pdf_text(&autumn.pdf()).1.contains("no ratings yet"));
}

testkit::db_tests!(
    the_delegate_list_and_sign_in_sheet_are_the_providers,
    a_cpd_record_is_the_persons_and_their_leaders,
    a_feedback_summary_counts_a_terms_ratings_for_the_provider,
);
