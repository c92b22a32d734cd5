//! Peer review against real databases (SQLite and PostgreSQL): proposals, the workflow,
//! confidentiality, themes and bad input.

mod common;

use common::{World, admin, clock_on, day, finance, world};
use kernel::{Actor, DomainError, ErrorCode, ReviewId, SystemClock};
use membership::{NameKey, PageArgs};
use peer_review::grouping::Violation;
use peer_review::report::{self, NewAction, NewFinding};
use peer_review::reviews::{
    self, AreaEvaluation, Review, ScheduleInput, SelfReviewInput, TeamMember,
};
use peer_review::types::{
    ConsentScope, CycleWindows, DateWindow, FindingKind, Framework, GroupsStatus, ReviewStatus,
    TeamRole, TrainingStatus,
};
use peer_review::{cycles, groups, themes};
use testkit::TestDb;

fn fields(err: &DomainError) -> Vec<String> {
    match err {
        DomainError::Invalid(errors) => errors.iter().map(|e| e.field.join(".")).collect(),
        other => panic!("expected field errors, got {other:?}"),
    }
}

fn code(err: &DomainError) -> ErrorCode {
    match err {
        DomainError::Invalid(errors) => errors[0].code,
        other => panic!("expected field errors, got {other:?}"),
    }
}

async fn confirmed(db: &TestDb, n: usize) -> (World, Vec<ReviewId>) {
    let w = world(db.conn(), n).await;
    let clock = clock_on(day(2026, 9, 2));
    let proposal = groups::propose(db.conn(), &clock, &admin(), w.cycle.id)
        .await
        .expect("propose");
    assert!(proposal.warnings.is_empty(), "{:?}", proposal.warnings);
    let created = groups::confirm(db.conn(), &clock, &admin(), w.cycle.id)
        .await
        .expect("confirm");
    (w, created)
}

/// A review led by a trained lead reviewer, with its team.
async fn led_review(db: &TestDb, ids: &[ReviewId]) -> (Review, Vec<TeamMember>) {
    let all = peer_review::loaders::reviews_by_ids(db.conn(), ids)
        .await
        .expect("reviews");
    let teams = peer_review::loaders::teams_of(db.conn(), ids)
        .await
        .expect("teams");
    let mut ids = ids.to_vec();
    ids.sort();
    for id in ids {
        let team = teams.get(&id).cloned().unwrap_or_default();
        if team.len() >= 2
            && team.iter().any(|m| {
                m.role == TeamRole::Lead && m.training == TrainingStatus::TrainedLeadReviewer
            })
        {
            return (all[&id].clone(), team);
        }
    }
    panic!("no review led by a trained lead")
}

fn self_review() -> SelfReviewInput {
    SelfReviewInput {
        summary: "Strong leadership; curriculum developing.".into(),
        evaluations: vec![AreaEvaluation {
            area: "CURRICULUM".into(),
            evaluation: "DEVELOPING".into(),
        }],
    }
}

fn schedule_input() -> ScheduleInput {
    ScheduleInput {
        visit_starts_on: day(2026, 10, 13),
        visit_ends_on: day(2026, 10, 14),
        enquiry_focus: "Curriculum sequencing".into(),
    }
}

fn finding(theme: &str) -> NewFinding {
    NewFinding {
        kind: FindingKind::AreaForDevelopment,
        area: "CURRICULUM".into(),
        theme: theme.into(),
        summary: "Units are not yet sequenced.".into(),
        evidence: "Learning walks.".into(),
        evaluation: Some("DEVELOPING".into()),
    }
}

/// Staff give a team a trained lead from another school where confirmation could not (the
/// host's school had the group's only trained lead).
async fn ensure_trained_lead(db: &TestDb, w: &World, id: ReviewId) {
    let team = peer_review::loaders::teams_of(db.conn(), &[id])
        .await
        .expect("team");
    let team = team.get(&id).cloned().unwrap_or_default();
    if team
        .iter()
        .any(|m| m.role == TeamRole::Lead && m.training == TrainingStatus::TrainedLeadReviewer)
    {
        return;
    }
    let review = peer_review::loaders::reviews_by_ids(db.conn(), &[id])
        .await
        .expect("review")[&id]
        .clone();
    let lead = w
        .members
        .iter()
        .find(|m| {
            m.school != review.host_school_id
                && m.reviewer.training == TrainingStatus::TrainedLeadReviewer
        })
        .expect("a trained lead elsewhere");
    let mut members = vec![(lead.reviewer.id, TeamRole::Lead)];
    members.extend(
        team.iter()
            .filter(|m| m.reviewer_id != lead.reviewer.id)
            .map(|m| (m.reviewer_id, TeamRole::Member)),
    );
    reviews::set_team(
        db.conn(),
        &clock_on(day(2026, 10, 1)),
        &admin(),
        id,
        &members,
    )
    .await
    .expect("team");
}

/// Takes a review to AGREED as the system, with one area for development under `theme`.
async fn agree(db: &TestDb, w: &World, id: ReviewId, theme: &str) {
    let sys = Actor::System;
    let clock = clock_on(day(2026, 10, 20));
    reviews::submit_self_review(db.conn(), &clock, &sys, id, self_review())
        .await
        .expect("self");
    ensure_trained_lead(db, w, id).await;
    reviews::schedule(db.conn(), &clock, &sys, id, schedule_input())
        .await
        .expect("schedule");
    for to in [ReviewStatus::Visited, ReviewStatus::ReportDraft] {
        reviews::advance(db.conn(), &clock, &sys, id, to)
            .await
            .expect("advance");
    }
    report::add_finding(db.conn(), &clock, &sys, id, finding(theme))
        .await
        .expect("finding");
    reviews::advance(db.conn(), &clock, &sys, id, ReviewStatus::Agreed)
        .await
        .expect("agree");
}

async fn proposal_is_stored_edited_and_confirmed(db: TestDb) {
    let w = world(db.conn(), 6).await;
    let clock = clock_on(day(2026, 9, 2));
    // Only staff propose.
    let denied = groups::propose(db.conn(), &clock, &w.members[0].head, w.cycle.id).await;
    assert!(matches!(denied, Err(DomainError::Forbidden(_))));

    let proposal = groups::propose(db.conn(), &clock, &admin(), w.cycle.id)
        .await
        .expect("propose");
    assert_eq!(proposal.status, GroupsStatus::Proposed);
    assert_eq!(proposal.groups.len(), 2);
    assert!(proposal.warnings.is_empty());
    // The trust's two schools are kept apart, and every school is placed once with reasons.
    let group_of = |s| {
        proposal
            .groups
            .iter()
            .position(|g| g.members.iter().any(|m| m.school_id == s))
    };
    assert_ne!(group_of(w.members[0].school), group_of(w.members[1].school));
    assert!(
        proposal
            .groups
            .iter()
            .all(|g| g.members.iter().all(|m| !m.reasons.is_empty()))
    );

    // Moving a school leaves a pair and a quad: warned, not refused.
    let from = &proposal.groups[0];
    let to = &proposal.groups[1];
    let moved = from.members[0].school_id;
    let edited = groups::move_school(db.conn(), &clock, &admin(), w.cycle.id, moved, to.id)
        .await
        .expect("move");
    assert!(
        edited
            .warnings
            .iter()
            .any(|wn| wn.group == from.id && wn.violation == Violation::Size { size: 2 })
    );
    // Confirming now is refused and writes nothing.
    let refused = groups::confirm(db.conn(), &clock, &admin(), w.cycle.id)
        .await
        .expect_err("pair");
    // The pair is too small, and may have lost a lead school too: every problem is its own.
    let refused = fields(&refused);
    assert!(
        !refused.is_empty() && refused.iter().all(|f| *f == "groups.0"),
        "{refused:?}"
    );
    let page = reviews::reviews_of_cycle(
        db.conn(),
        &admin(),
        w.cycle.id,
        &PageArgs::<NameKey>::first(50),
    )
    .await
    .expect("page");
    assert!(page.items.is_empty());
    assert_eq!(
        cycles::cycle(db.conn(), &admin(), w.cycle.id)
            .await
            .expect("cycle")
            .groups_status,
        GroupsStatus::Proposed
    );
    // Moving an unknown school is bad input.
    let err = groups::move_school(
        db.conn(),
        &clock,
        &admin(),
        w.cycle.id,
        kernel::SchoolId::new(),
        to.id,
    )
    .await
    .expect_err("unknown");
    assert_eq!(fields(&err), ["schoolId"]);

    groups::move_school(db.conn(), &clock, &admin(), w.cycle.id, moved, from.id)
        .await
        .expect("back");
    let created = groups::confirm(db.conn(), &clock, &admin(), w.cycle.id)
        .await
        .expect("confirm");
    assert_eq!(created.len(), 6, "every school hosts once");
    let all = peer_review::loaders::reviews_by_ids(db.conn(), &created)
        .await
        .expect("reviews");
    let teams = peer_review::loaders::teams_of(db.conn(), &created)
        .await
        .expect("teams");
    for r in all.values() {
        assert_eq!(r.status, ReviewStatus::Planning);
        let team = &teams[&r.id];
        assert_eq!(
            team.len(),
            2,
            "reviewed by the two other schools of the triad"
        );
        assert!(
            team.iter().all(|m| m.school_id != r.host_school_id),
            "no school reviews itself"
        );
        assert_eq!(team.iter().filter(|m| m.role == TeamRole::Lead).count(), 1);
    }
    let again = groups::confirm(db.conn(), &clock, &admin(), w.cycle.id)
        .await
        .expect_err("twice");
    assert_eq!(code(&again), ErrorCode::Conflict);
    let page = reviews::reviews_of_cycle(
        db.conn(),
        &admin(),
        w.cycle.id,
        &PageArgs::<NameKey>::first(4),
    )
    .await
    .expect("page");
    assert_eq!(page.items.len(), 4);
    assert!(page.has_next_page);
    // Once confirmed, the framework is fixed.
    let err = cycles::update_cycle(
        db.conn(),
        &clock,
        &admin(),
        w.cycle.id,
        cycles::CycleChanges {
            framework: Some(peer_review::demo::demo_framework()),
            ..cycles::CycleChanges::default()
        },
    )
    .await
    .expect_err("fixed");
    assert_eq!(fields(&err), ["framework"]);
}

async fn workflow_moves_forward_only_and_by_the_right_people(db: TestDb) {
    let (w, ids) = confirmed(&db, 6).await;
    let (review, team) = led_review(&db, &ids).await;
    let id = review.id;
    let host = &w.member(review.host_school_id).head;
    let lead = &w
        .members
        .iter()
        .find(|m| {
            m.reviewer.id
                == team
                    .iter()
                    .find(|t| t.role == TeamRole::Lead)
                    .expect("lead")
                    .reviewer_id
        })
        .expect("m")
        .head;
    let member = &w
        .members
        .iter()
        .find(|m| {
            m.reviewer.id
                == team
                    .iter()
                    .find(|t| t.role == TeamRole::Member)
                    .expect("member")
                    .reviewer_id
        })
        .expect("m")
        .head;
    let clock = clock_on(day(2026, 10, 14));

    // Skipping a step is refused, whoever asks.
    let err = reviews::advance(db.conn(), &clock, &admin(), id, ReviewStatus::Visited)
        .await
        .expect_err("skip");
    assert_eq!(fields(&err), ["status"]);
    // A reviewer cannot schedule the host's visit; the outsider cannot even see it.
    assert!(matches!(
        reviews::schedule(db.conn(), &clock, member, id, schedule_input()).await,
        Err(DomainError::Forbidden(_))
    ));
    assert!(matches!(
        reviews::schedule(db.conn(), &clock, &w.outsider, id, schedule_input()).await,
        Err(DomainError::NotFound { .. })
    ));
    // Dates outside the visit window: field errors, nothing written.
    let err = reviews::schedule(
        db.conn(),
        &clock,
        host,
        id,
        ScheduleInput {
            visit_starts_on: day(2027, 4, 1),
            visit_ends_on: day(2027, 3, 31),
            enquiry_focus: " ".into(),
        },
    )
    .await
    .expect_err("bad dates");
    assert_eq!(
        fields(&err),
        [
            "enquiryFocus",
            "visitEndsOn",
            "visitStartsOn",
            "visitEndsOn"
        ]
    );
    let report = reviews::review(db.conn(), host, id).await.expect("read");
    assert_eq!(report.review.status, ReviewStatus::Planning);
    assert_eq!(report.review.visit_starts_on, None);

    let scheduled = reviews::schedule(db.conn(), &clock, host, id, schedule_input())
        .await
        .expect("schedule");
    assert_eq!(scheduled.status, ReviewStatus::Scheduled);
    // The visit needs the self-review first, and only the lead (or staff) records it.
    let err = reviews::advance(db.conn(), &clock, lead, id, ReviewStatus::Visited)
        .await
        .expect_err("no self-review");
    assert_eq!(fields(&err), ["selfReview"]);
    assert!(matches!(
        reviews::submit_self_review(db.conn(), &clock, lead, id, self_review()).await,
        Err(DomainError::Forbidden(_))
    ));
    reviews::submit_self_review(db.conn(), &clock, host, id, self_review())
        .await
        .expect("self-review");
    assert!(matches!(
        reviews::advance(db.conn(), &clock, host, id, ReviewStatus::Visited).await,
        Err(DomainError::Forbidden(_))
    ));
    reviews::advance(db.conn(), &clock, lead, id, ReviewStatus::Visited)
        .await
        .expect("visited");
    // Backwards is refused.
    let err = reviews::advance(db.conn(), &clock, &admin(), id, ReviewStatus::Scheduled)
        .await
        .expect_err("back");
    assert_eq!(fields(&err), ["status"]);
    // The self-review is closed after the visit.
    let err = reviews::submit_self_review(db.conn(), &clock, host, id, self_review())
        .await
        .expect_err("late");
    assert_eq!(fields(&err), ["status"]);

    reviews::advance(db.conn(), &clock, member, id, ReviewStatus::ReportDraft)
        .await
        .expect("draft");
    // The host cannot write findings; an empty report cannot be agreed.
    assert!(matches!(
        report::add_finding(db.conn(), &clock, host, id, finding("x")).await,
        Err(DomainError::Forbidden(_))
    ));
    let err = reviews::advance(db.conn(), &clock, host, id, ReviewStatus::Agreed)
        .await
        .expect_err("empty");
    assert_eq!(fields(&err), ["findings"]);
    let mut bad = finding("x");
    bad.area = "NOPE".into();
    bad.evaluation = Some("GREAT".into());
    let err = report::add_finding(db.conn(), &clock, member, id, bad)
        .await
        .expect_err("bad");
    assert_eq!(fields(&err), ["area", "evaluation"]);
    let f = report::add_finding(
        db.conn(),
        &clock,
        member,
        id,
        finding("Curriculum sequencing"),
    )
    .await
    .expect("finding");
    assert_eq!(f.theme, "curriculum sequencing");
    let action = report::add_action(
        db.conn(),
        &clock,
        lead,
        id,
        NewAction {
            finding: Some(f.id),
            description: "Re-sequence units".into(),
            owner: "Deputy head".into(),
            due_on: day(2027, 3, 1),
        },
    )
    .await
    .expect("action");
    // The team cannot agree the host's report.
    assert!(matches!(
        reviews::advance(db.conn(), &clock, lead, id, ReviewStatus::Agreed).await,
        Err(DomainError::Forbidden(_))
    ));
    let agreed = reviews::advance(db.conn(), &clock, host, id, ReviewStatus::Agreed)
        .await
        .expect("agreed");
    assert_eq!(agreed.agreed_by, host.as_user().map(|u| u.id));
    // An agreed report is never edited.
    let err = report::add_finding(db.conn(), &clock, member, id, finding("y"))
        .await
        .expect_err("locked");
    assert_eq!(fields(&err), ["status"]);
    assert_eq!(code(&err), ErrorCode::Conflict);
    assert!(
        report::remove_finding(db.conn(), member, f.id)
            .await
            .is_err()
    );

    // Follow-up support from another school, with the time it gave.
    let helper = w
        .members
        .iter()
        .find(|m| m.school != review.host_school_id)
        .expect("helper");
    let err = report::request_support(
        db.conn(),
        &clock,
        host,
        action.id,
        review.host_school_id,
        "help",
    )
    .await
    .expect_err("itself");
    assert_eq!(fields(&err), ["providingSchoolId"]);
    let support = report::request_support(
        db.conn(),
        &clock,
        host,
        action.id,
        helper.school,
        "Two half-days",
    )
    .await
    .expect("support");
    assert!(matches!(
        report::record_support_time(db.conn(), &clock, &w.outsider, support.id, 60).await,
        Err(DomainError::NotFound { .. })
    ));
    let recorded = report::record_support_time(db.conn(), &clock, &helper.head, support.id, 360)
        .await
        .expect("time");
    assert_eq!(recorded.minutes_provided, Some(360));
    let provided = report::support_provided_by(db.conn(), &finance(), helper.school)
        .await
        .expect("billing view");
    assert_eq!(provided.len(), 1);
    assert!(
        report::support_provided_by(db.conn(), &w.outsider, helper.school)
            .await
            .is_err()
    );

    // Publishing needs the host's recorded partnership consent.
    let err = reviews::advance(
        db.conn(),
        &clock,
        host,
        id,
        ReviewStatus::PublishedToPartnership,
    )
    .await
    .expect_err("no consent");
    assert_eq!(fields(&err), ["consent"]);
    report::record_consent(db.conn(), &clock, host, id, ConsentScope::Partnership, None)
        .await
        .expect("consent");
    assert!(matches!(
        reviews::advance(
            db.conn(),
            &clock,
            &admin(),
            id,
            ReviewStatus::PublishedToPartnership
        )
        .await,
        Err(DomainError::Forbidden(_))
    ));
    let published = reviews::advance(
        db.conn(),
        &clock,
        host,
        id,
        ReviewStatus::PublishedToPartnership,
    )
    .await
    .expect("published");
    assert!(published.published_at.is_some());
    let err = reviews::advance(
        db.conn(),
        &clock,
        host,
        id,
        ReviewStatus::PublishedToPartnership,
    )
    .await
    .expect_err("end");
    assert_eq!(fields(&err), ["status"]);
}

async fn reports_are_confidential(db: TestDb) {
    let (w, ids) = confirmed(&db, 6).await;
    let (review, team) = led_review(&db, &ids).await;
    let id = review.id;
    let host = w.member(review.host_school_id).head.clone();
    let on_team: Vec<_> = team.iter().map(|t| t.school_id).collect();
    let team_head = w.member(team[0].school_id).head.clone();
    // A participant of the other group: a reviewer, but not on this team.
    let stranger = w
        .members
        .iter()
        .find(|m| m.school != review.host_school_id && !on_team.contains(&m.school))
        .expect("other group")
        .clone();
    let readable = |actor: Actor| {
        let db = db.conn().clone();
        async move { reviews::review(&db, &actor, id).await.is_ok() }
    };
    for (who, actor, expected) in [
        ("host", host.clone(), true),
        ("team", team_head.clone(), true),
        ("staff", admin(), true),
        ("system", Actor::System, true),
        ("reviewer elsewhere", stranger.head.clone(), false),
        ("another school's leader", w.outsider.clone(), false),
        ("finance", finance(), false),
    ] {
        assert_eq!(readable(actor).await, expected, "{who} while planning");
    }
    let mine = reviews::my_reviews(db.conn(), &stranger.head, w.cycle.id)
        .await
        .expect("mine");
    assert!(mine.iter().all(|r| r.id != id));
    let mine = reviews::my_reviews(db.conn(), &team_head, w.cycle.id)
        .await
        .expect("mine");
    assert!(mine.iter().any(|r| r.id == id));

    agree(&db, &w, id, "sequencing").await;
    let clock = clock_on(day(2026, 11, 10));
    // Consent is the host's alone.
    assert!(matches!(
        report::record_consent(
            db.conn(),
            &clock,
            &team_head,
            id,
            ConsentScope::School,
            Some(stranger.school)
        )
        .await,
        Err(DomainError::Forbidden(_))
    ));
    let err = report::record_consent(db.conn(), &clock, &host, id, ConsentScope::School, None)
        .await
        .expect_err("which");
    assert_eq!(fields(&err), ["schoolId"]);
    report::record_consent(
        db.conn(),
        &clock,
        &host,
        id,
        ConsentScope::School,
        Some(stranger.school),
    )
    .await
    .expect("consent");
    assert!(
        readable(stranger.head.clone()).await,
        "consented school reads the agreed report"
    );
    assert!(!readable(w.outsider.clone()).await, "others still do not");
    let shared = reviews::my_reviews(db.conn(), &stranger.head, w.cycle.id)
        .await
        .expect("mine");
    assert!(shared.iter().any(|r| r.id == id));
    // Partnership consent opens the report only once it is published.
    report::record_consent(
        db.conn(),
        &clock,
        &host,
        id,
        ConsentScope::Partnership,
        None,
    )
    .await
    .expect("consent");
    assert!(!readable(w.outsider.clone()).await);
    reviews::advance(
        db.conn(),
        &clock,
        &host,
        id,
        ReviewStatus::PublishedToPartnership,
    )
    .await
    .expect("publish");
    assert!(readable(w.outsider.clone()).await);
    assert!(!readable(finance()).await, "finance never reads reports");
}

/// The agreed report as a file: for whoever may read the report, once agreed.
async fn the_agreed_report_is_a_document_for_its_readers(db: TestDb) {
    let (w, ids) = confirmed(&db, 6).await;
    let (review, team) = led_review(&db, &ids).await;
    let id = review.id;
    let host = w.member(review.host_school_id).head.clone();
    let team_head = w.member(team[0].school_id).head.clone();
    let document = |actor: Actor| {
        let db = db.conn().clone();
        async move { peer_review::document::agreed_report(&db, &actor, id).await }
    };
    // A draft is not a document yet; a reader is told so, anyone else learns nothing.
    let err = document(host.clone()).await.expect_err("not agreed");
    assert_eq!(
        (fields(&err), code(&err)),
        (vec!["reviewId".to_owned()], ErrorCode::Conflict)
    );
    assert!(matches!(
        document(w.outsider.clone()).await,
        Err(DomainError::NotFound { .. })
    ));
    // Taken to AGREED with a finding and an action (as `agree` does, plus the action).
    let sys = Actor::System;
    let clock = clock_on(day(2026, 10, 20));
    reviews::submit_self_review(db.conn(), &clock, &sys, id, self_review())
        .await
        .expect("self");
    ensure_trained_lead(&db, &w, id).await;
    reviews::schedule(db.conn(), &clock, &sys, id, schedule_input())
        .await
        .expect("schedule");
    for to in [ReviewStatus::Visited, ReviewStatus::ReportDraft] {
        reviews::advance(db.conn(), &clock, &sys, id, to)
            .await
            .expect("advance");
    }
    report::add_finding(db.conn(), &clock, &sys, id, finding("sequencing"))
        .await
        .expect("finding");
    report::add_action(
        db.conn(),
        &clock,
        &sys,
        id,
        NewAction {
            finding: None,
            description: "Sequence foundation units, \"knowledge first\"".into(),
            owner: "Deputy head (curriculum)".into(),
            due_on: day(2027, 3, 31),
        },
    )
    .await
    .expect("action");
    assert!(matches!(
        peer_review::document::agreed_report(db.conn(), &host, id).await,
        Err(DomainError::Invalid(_))
    ));
    reviews::advance(db.conn(), &clock, &sys, id, ReviewStatus::Agreed)
        .await
        .expect("agree");
    // Finance holds no peer-review permission at all (Forbidden; the route answers 404).
    for (who, actor) in [("outsider", w.outsider.clone()), ("finance", finance())] {
        assert!(
            matches!(
                document(actor).await,
                Err(DomainError::NotFound { .. } | DomainError::Forbidden(_))
            ),
            "{who}"
        );
    }
    for reader in [host.clone(), team_head, admin()] {
        document(reader).await.expect("a reader");
    }
    let doc = document(host).await.expect("host");
    let pdf = lopdf::Document::load_mem(&doc.pdf()).expect("a PDF");
    let pages: Vec<u32> = pdf.get_pages().keys().copied().collect();
    let text = pdf.extract_text(&pages).expect("text");
    for expected in [
        "Peer review report",
        "Curriculum sequencing",
        "Areas for development",
        "Units are not yet sequenced.",
        "Deputy head",
        "31 March 2027",
        "Lead reviewer",
    ] {
        assert!(text.contains(expected), "{expected} in {text}");
    }
    let rows: Vec<Vec<String>> = csv::Reader::from_reader(doc.csv().as_slice())
        .records()
        .map(|r| r.expect("record").iter().map(str::to_owned).collect())
        .collect();
    let sections: Vec<&str> = rows.iter().map(|r| r[0].as_str()).collect();
    assert_eq!(sections, ["Finding", "Action"]);
    assert_eq!(rows[0][5], "Units are not yet sequenced.");
    assert_eq!(rows[1][5], "Sequence foundation units, \"knowledge first\"");
}

async fn themes_need_five_reviews_and_name_no_school(db: TestDb) {
    let (w, ids) = confirmed(&db, 6).await;
    let mut ids = ids;
    ids.sort();
    for id in &ids[..4] {
        agree(&db, &w, *id, "Curriculum sequencing in foundation subjects").await;
    }
    // A fifth review raising the theme is still drafting: not counted.
    let fifth = ids[4];
    let clock = clock_on(day(2026, 10, 20));
    let sys = Actor::System;
    reviews::submit_self_review(db.conn(), &clock, &sys, fifth, self_review())
        .await
        .expect("self");
    ensure_trained_lead(&db, &w, fifth).await;
    reviews::schedule(db.conn(), &clock, &sys, fifth, schedule_input())
        .await
        .expect("schedule");
    reviews::advance(db.conn(), &clock, &sys, fifth, ReviewStatus::Visited)
        .await
        .expect("v");
    reviews::advance(db.conn(), &clock, &sys, fifth, ReviewStatus::ReportDraft)
        .await
        .expect("d");
    report::add_finding(
        db.conn(),
        &clock,
        &sys,
        fifth,
        finding("Curriculum sequencing in foundation subjects"),
    )
    .await
    .expect("f");
    // The same theme twice in one report counts once.
    report::add_finding(
        db.conn(),
        &clock,
        &sys,
        fifth,
        finding("Curriculum sequencing in foundation subjects"),
    )
    .await
    .expect("again");
    let leader = &w.members[0].head;
    assert!(
        themes::themes(db.conn(), leader, w.cycle.id)
            .await
            .expect("themes")
            .is_empty()
    );
    reviews::advance(db.conn(), &clock, &sys, fifth, ReviewStatus::Agreed)
        .await
        .expect("agreed");
    let found = themes::themes(db.conn(), leader, w.cycle.id)
        .await
        .expect("themes");
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].reviews, themes::MIN_THEME_REVIEWS);
    assert_eq!(
        found[0].theme,
        "curriculum sequencing in foundation subjects"
    );
    assert_eq!(found[0].area_label, "Curriculum and its sequencing");
    assert!(matches!(
        themes::themes(db.conn(), &finance(), w.cycle.id).await,
        Err(DomainError::Forbidden(_))
    ));
}

async fn bad_input_is_reported_and_writes_nothing(db: TestDb) {
    let clock = clock_on(day(2026, 9, 1));
    let err = cycles::create_cycle(
        db.conn(),
        &clock,
        &admin(),
        cycles::NewCycle {
            academic_year: 2026,
            name: " ".into(),
            framework: Framework {
                enquiry_questions: vec![],
                areas: vec![],
                scale: vec![],
            },
            windows: CycleWindows {
                self_review: DateWindow {
                    opens_on: day(2026, 9, 1),
                    closes_on: day(2026, 8, 1),
                },
                ..common::windows()
            },
            rules: cycles::GroupingRules {
                target_group_size: 9,
                ..cycles::GroupingRules::default()
            },
        },
    )
    .await
    .expect_err("bad cycle");
    let f = fields(&err);
    for expected in [
        "name",
        "framework.enquiryQuestions",
        "framework.areas",
        "framework.scale",
        "windows.selfReview.closesOn",
        "rules.targetGroupSize",
    ] {
        assert!(f.contains(&expected.to_owned()), "{expected} in {f:?}");
    }
    let page = cycles::cycles(db.conn(), &admin(), &PageArgs::<NameKey>::first(10))
        .await
        .expect("page");
    assert!(page.items.is_empty(), "nothing written");
    assert!(matches!(
        cycles::create_cycle(
            db.conn(),
            &clock,
            &common::World::leader_less(),
            cycles::NewCycle {
                academic_year: 2026,
                name: "x".into(),
                framework: peer_review::demo::demo_framework(),
                windows: common::windows(),
                rules: cycles::GroupingRules::default(),
            }
        )
        .await,
        Err(DomainError::Forbidden(_))
    ));

    // A team including the host's own reviewer: a school reviewing itself.
    let (w, ids) = confirmed(&db, 6).await;
    let all = peer_review::loaders::reviews_by_ids(db.conn(), &ids)
        .await
        .expect("reviews");
    let review = all.values().next().expect("review");
    let own = w.member(review.host_school_id).reviewer.id;
    let other = w
        .members
        .iter()
        .find(|m| {
            m.school != review.host_school_id
                && m.reviewer.training == TrainingStatus::TrainedLeadReviewer
        })
        .expect("lead")
        .reviewer
        .id;
    let before = peer_review::loaders::teams_of(db.conn(), &[review.id])
        .await
        .expect("team");
    let err = reviews::set_team(
        db.conn(),
        &clock,
        &admin(),
        review.id,
        &[(other, TeamRole::Lead), (own, TeamRole::Member)],
    )
    .await
    .expect_err("itself");
    assert_eq!(fields(&err), ["members.1.reviewerId"]);
    let err = reviews::set_team(
        db.conn(),
        &clock,
        &admin(),
        review.id,
        &[(other, TeamRole::Member)],
    )
    .await
    .expect_err("no lead");
    assert_eq!(fields(&err), ["members"]);
    let after = peer_review::loaders::teams_of(db.conn(), &[review.id])
        .await
        .expect("team");
    assert_eq!(before, after, "nothing written");
    // Windows outside the year on a second cycle for the same year.
    let err = cycles::create_cycle(
        db.conn(),
        &clock,
        &admin(),
        cycles::NewCycle {
            academic_year: 2026,
            name: "Again".into(),
            framework: peer_review::demo::demo_framework(),
            windows: common::windows(),
            rules: cycles::GroupingRules::default(),
        },
    )
    .await
    .expect_err("one a year");
    assert_eq!(fields(&err), ["academicYear"]);
    assert_eq!(code(&err), ErrorCode::Taken);
}

async fn demo_cycle_seeds_once(db: TestDb) {
    membership::demo::seed(db.conn(), &SystemClock)
        .await
        .expect("directory");
    let report = peer_review::demo::seed(db.conn(), &SystemClock)
        .await
        .expect("demo");
    assert!(!report.skipped);
    assert!(report.schools >= 15 && report.groups >= 5, "{report:?}");
    assert_eq!(report.reviews, report.schools);
    let again = peer_review::demo::seed(db.conn(), &SystemClock)
        .await
        .expect("again");
    assert!(again.skipped);
    let head = membership::people::users::find_active_by_email(
        db.conn(),
        peer_review::demo::HOLLY_PARK_HEAD,
    )
    .await
    .expect("q")
    .expect("head");
    let schools = membership::people::users::schools_of(db.conn(), &[head.id])
        .await
        .expect("s");
    let actor = Actor::User(kernel::UserActor {
        id: head.id,
        email: head.email,
        role: head.role,
        schools: schools[&head.id].clone(),
    });
    let cycle = cycles::cycles(db.conn(), &actor, &PageArgs::<NameKey>::first(5))
        .await
        .expect("cycles")
        .items[0]
        .clone();
    let mine = reviews::my_reviews(db.conn(), &actor, cycle.id)
        .await
        .expect("mine");
    assert!(
        mine.iter().any(|r| r.status == ReviewStatus::Agreed),
        "{mine:?}"
    );
    let all = reviews::reviews_of_cycle(
        db.conn(),
        &admin(),
        cycle.id,
        &PageArgs::<NameKey>::first(100),
    )
    .await
    .expect("all");
    let statuses: Vec<ReviewStatus> = all.items.iter().map(|r| r.status).collect();
    assert!(
        statuses.contains(&ReviewStatus::Scheduled) && statuses.contains(&ReviewStatus::Planning)
    );
    // The Elliot Foundation's schools never review each other.
    let grouped = groups::groups_of_cycle(db.conn(), &admin(), cycle.id)
        .await
        .expect("groups");
    assert!(
        grouped
            .warnings
            .iter()
            .all(|w| !matches!(w.violation, Violation::SameHardPartnership { .. })),
        "{:?}",
        grouped.warnings
    );
}

/// The synthetic national cycle (`trellis seed --synthetic`) at a size whose participants
/// do not fit one INSERT's bound parameters on SQLite: every member school takes part, a
/// third of the heads lead, and a proposal places each school once.
async fn a_synthetic_national_cycle_takes_everyone_and_proposes(db: TestDb) {
    const SCHOOLS: u32 = 11_000;
    let conn = db.conn();
    let year = kernel::AcademicYear::starting(2026).expect("year");
    let clock = clock_on(day(2026, 9, 2));
    membership::synthetic::seed(
        conn,
        &clock,
        membership::synthetic::Synthetic {
            schools: SCHOOLS,
            seed: 3,
            year,
        },
    )
    .await
    .expect("directory");
    let made = peer_review::synthetic::seed(conn, &clock, year)
        .await
        .expect("cycle");
    assert_eq!(
        (made.participants, made.reviewers, made.lead_reviewers),
        (SCHOOLS, SCHOOLS, SCHOOLS.div_ceil(3))
    );
    let participants = cycles::participants_of(conn, &[made.cycle])
        .await
        .expect("participants");
    assert_eq!(participants[&made.cycle].len(), SCHOOLS as usize);

    // The proposal over a regional share of them (the national one is measured by the seed,
    // in release: a debug build takes minutes over it).
    let mut region = participants[&made.cycle].clone();
    region.sort_unstable();
    region.truncate(600);
    cycles::set_participants(conn, &clock, &admin(), made.cycle, &region)
        .await
        .expect("a region");
    let proposal = groups::propose(conn, &clock, &admin(), made.cycle)
        .await
        .expect("propose");
    assert!(
        proposal
            .groups
            .iter()
            .all(|g| (3..=7).contains(&g.members.len()))
    );
    let mut placed: Vec<_> = proposal
        .groups
        .iter()
        .flat_map(|g| g.members.iter().map(|m| m.school_id))
        .collect();
    placed.sort_unstable();
    assert_eq!(placed, region, "every school in one group");
}

testkit::db_tests!(
    proposal_is_stored_edited_and_confirmed,
    workflow_moves_forward_only_and_by_the_right_people,
    reports_are_confidential,
    the_agreed_report_is_a_document_for_its_readers,
    themes_need_five_reviews_and_name_no_school,
    bad_input_is_reported_and_writes_nothing,
    demo_cycle_seeds_once,
    a_synthetic_national_cycle_takes_everyone_and_proposes,
);
