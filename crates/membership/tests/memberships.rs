//! Memberships per academic year against real databases (SQLite and PostgreSQL).

use chrono::{NaiveDate, TimeZone, Utc};
use kernel::{
    AcademicYear, Actor, ApiKeyActor, ApiKeyId, DomainError, ErrorCode, FixedClock, MembershipId,
    Role, SchoolId, Scope, SystemClock, TierId, UserId,
};
use membership::memberships::{
    self, Enrolment, Membership, MembershipFilter, MembershipStatus, NewTier, Principle,
    RenewalDecision, RenewalReport, TierPatch,
};
use membership::people::{NewUser, users};
use membership::school::types::{EstablishmentType, Phase};
use membership::school::{self, NewSchool};
use membership::{NameKey, PageArgs};
use testkit::TestDb;

fn day(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).expect("valid date")
}

fn clock_on(y: i32, m: u32, d: u32) -> FixedClock {
    FixedClock::new(
        Utc.with_ymd_and_hms(y, m, d, 10, 0, 0)
            .single()
            .expect("time"),
    )
}

fn year(start: i32) -> AcademicYear {
    AcademicYear::starting(start).expect("year")
}

/// The field path and code of a single-field `Invalid`, or a panic naming what came instead.
fn field_error<T: std::fmt::Debug>(result: Result<T, DomainError>) -> (String, ErrorCode) {
    match result {
        Err(DomainError::Invalid(fields)) if fields.len() == 1 => {
            (fields[0].field.join("."), fields[0].code)
        }
        other => panic!("expected one field error, got {other:?}"),
    }
}

fn assert_not_found<T: std::fmt::Debug>(result: Result<T, DomainError>) {
    match result {
        Err(DomainError::NotFound { .. }) => {}
        other => panic!("expected NotFound, got {other:?}"),
    }
}

fn assert_forbidden<T: std::fmt::Debug>(result: Result<T, DomainError>) {
    match result {
        Err(DomainError::Forbidden(_)) => {}
        other => panic!("expected Forbidden, got {other:?}"),
    }
}

/// Three schools, a tier, and the people who act on them.
struct Fixture {
    a: SchoolId,
    b: SchoolId,
    c: SchoolId,
    tier: TierId,
    admin: Actor,
    finance: Actor,
    leader_a: Actor,
    leader_a_id: UserId,
    staff_a: Actor,
    leader_b: Actor,
}

async fn new_school(db: &TestDb, urn: &str, name: &str) -> SchoolId {
    school::create(
        db.conn(),
        &SystemClock,
        &Actor::System,
        NewSchool {
            urn: urn.to_owned(),
            name: name.to_owned(),
            phase: Phase::Primary,
            establishment_type: EstablishmentType::Community,
            local_authority: "Barnet".to_owned(),
            postcode: "N11 3HG".to_owned(),
            roll: None,
            designations: vec![],
            has_sixth_form: false,
            opened_on: None,
            is_demo: false,
        },
    )
    .await
    .expect("school")
    .id
}

async fn person(db: &TestDb, email: &str, role: Role, schools: Vec<SchoolId>) -> Actor {
    let user = users::create(
        db.conn(),
        &SystemClock,
        &Actor::System,
        NewUser {
            email: email.to_owned(),
            name: email.to_owned(),
            role,
            schools,
        },
    )
    .await
    .expect("user");
    Actor::User(
        users::actor_for(db.conn(), users::Lookup::Id(user.id))
            .await
            .expect("q")
            .expect("actor"),
    )
}

async fn fixture(db: &TestDb) -> Fixture {
    let a = new_school(db, "100001", "Alder Primary").await;
    let b = new_school(db, "100002", "Beech Primary").await;
    let c = new_school(db, "100003", "Cedar Primary").await;
    let tier = memberships::create_tier(
        db.conn(),
        &Actor::System,
        &SystemClock,
        NewTier {
            code: "FULL".into(),
            name: "Full membership".into(),
            description: String::new(),
        },
    )
    .await
    .expect("tier")
    .id;
    let leader_a = person(db, "head@alder.example", Role::SchoolLeader, vec![a]).await;
    let leader_a_id = leader_a.as_user().expect("user").id;
    Fixture {
        a,
        b,
        c,
        tier,
        admin: person(db, "admin@p.example", Role::PartnershipAdmin, vec![]).await,
        finance: person(db, "finance@p.example", Role::Finance, vec![]).await,
        leader_a,
        leader_a_id,
        staff_a: person(db, "staff@alder.example", Role::SchoolStaff, vec![a]).await,
        leader_b: person(db, "head@beech.example", Role::SchoolLeader, vec![b]).await,
    }
}

fn enrolment(school_id: SchoolId, tier_id: TierId, start: i32) -> Enrolment {
    Enrolment {
        school_id,
        year: year(start),
        tier_id,
        starts_on: None,
    }
}

/// Enrols, accepts both principles and activates, as the admin.
async fn active_member(db: &TestDb, f: &Fixture, school: SchoolId, start: i32) -> Membership {
    let clock = SystemClock;
    let m = memberships::enrol(
        db.conn(),
        &f.admin,
        &clock,
        enrolment(school, f.tier, start),
    )
    .await
    .expect("enrol");
    memberships::accept_principles(db.conn(), &f.admin, &clock, m.id, Principle::ALL)
        .await
        .expect("accept");
    memberships::activate(db.conn(), &f.admin, &clock, m.id)
        .await
        .expect("activate")
}

async fn enrol_accept_activate(db: TestDb) {
    let f = fixture(&db).await;
    let clock = clock_on(2026, 7, 1);
    let m = memberships::enrol(db.conn(), &f.admin, &clock, enrolment(f.a, f.tier, 2026))
        .await
        .expect("enrol");
    assert_eq!(m.status, MembershipStatus::Pending);
    assert_eq!(
        (m.starts_on, m.ends_on),
        (day(2026, 9, 1), day(2027, 8, 31))
    );
    assert!(!m.is_mid_year_joiner() && !m.is_renewal());
    assert!(m.principles.is_empty());

    // Only staff who manage memberships enrol and activate.
    for who in [&f.finance, &f.leader_a, &f.staff_a] {
        assert_forbidden(
            memberships::enrol(db.conn(), who, &clock, enrolment(f.b, f.tier, 2026)).await,
        );
        assert_forbidden(memberships::activate(db.conn(), who, &clock, m.id).await);
    }

    let m = memberships::accept_principles(
        db.conn(),
        &f.leader_a,
        &clock,
        m.id,
        &[Principle::DataSharing],
    )
    .await
    .expect("leader accepts for own school");
    assert_eq!(m.principles.len(), 1);
    assert_eq!(m.principles[0].accepted_by, Some(f.leader_a_id));
    let first_accepted_at = m.principles[0].accepted_at;

    let (field, code) = field_error(memberships::activate(db.conn(), &f.admin, &clock, m.id).await);
    assert_eq!((field.as_str(), code), ("id", ErrorCode::Conflict));
    match memberships::activate(db.conn(), &f.admin, &clock, m.id).await {
        Err(DomainError::Invalid(fields)) => {
            assert!(
                fields[0].message.contains("peer challenge"),
                "{}",
                fields[0].message
            );
            assert!(
                !fields[0].message.contains("data sharing"),
                "{}",
                fields[0].message
            );
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(
        memberships::get(db.conn(), &f.admin, m.id)
            .await
            .expect("get")
            .status,
        MembershipStatus::Pending,
        "a refused activation changes nothing"
    );

    clock.advance(chrono::Duration::days(1));
    let m = memberships::accept_principles(db.conn(), &f.leader_a, &clock, m.id, Principle::ALL)
        .await
        .expect("accept both");
    assert!(m.has_accepted_all_principles());
    let sharing = m
        .principles
        .iter()
        .find(|p| p.principle == Principle::DataSharing)
        .expect("sharing");
    assert_eq!(
        sharing.accepted_at, first_accepted_at,
        "accepting again keeps the first acceptance"
    );
    assert_field(
        memberships::accept_principles(db.conn(), &f.leader_a, &clock, m.id, &[]).await,
        "principles",
        ErrorCode::Required,
    );

    let m = memberships::activate(db.conn(), &f.admin, &clock, m.id)
        .await
        .expect("activate");
    assert_eq!(m.status, MembershipStatus::Active);
    assert_field(
        memberships::activate(db.conn(), &f.admin, &clock, m.id).await,
        "id",
        ErrorCode::Conflict,
    );
}

fn assert_field<T: std::fmt::Debug>(result: Result<T, DomainError>, field: &str, code: ErrorCode) {
    assert_eq!(field_error(result), (field.to_owned(), code));
}

async fn enrolment_input_is_checked(db: TestDb) {
    let f = fixture(&db).await;
    let clock = SystemClock;
    memberships::enrol(db.conn(), &f.admin, &clock, enrolment(f.a, f.tier, 2026))
        .await
        .expect("first");
    assert_field(
        memberships::enrol(db.conn(), &f.admin, &clock, enrolment(f.a, f.tier, 2026)).await,
        "schoolId",
        ErrorCode::Taken,
    );
    memberships::enrol(db.conn(), &f.admin, &clock, enrolment(f.a, f.tier, 2027))
        .await
        .expect("another year is another membership");

    for outside in [day(2026, 8, 31), day(2027, 9, 1)] {
        assert_field(
            memberships::enrol(
                db.conn(),
                &f.admin,
                &clock,
                Enrolment {
                    starts_on: Some(outside),
                    ..enrolment(f.b, f.tier, 2026)
                },
            )
            .await,
            "startsOn",
            ErrorCode::OutOfRange,
        );
    }
    assert_field(
        memberships::enrol(
            db.conn(),
            &f.admin,
            &clock,
            enrolment(SchoolId::new(), f.tier, 2026),
        )
        .await,
        "schoolId",
        ErrorCode::NotFound,
    );
    assert_field(
        memberships::enrol(
            db.conn(),
            &f.admin,
            &clock,
            enrolment(f.b, TierId::new(), 2026),
        )
        .await,
        "tierId",
        ErrorCode::NotFound,
    );
    let retired = memberships::create_tier(
        db.conn(),
        &f.admin,
        &clock,
        NewTier {
            code: "legacy".into(),
            name: "Legacy".into(),
            description: String::new(),
        },
    )
    .await
    .expect("tier");
    assert_eq!(retired.code, "LEGACY");
    memberships::update_tier(
        db.conn(),
        &f.admin,
        &clock,
        retired.id,
        TierPatch {
            active: Some(false),
            ..TierPatch::default()
        },
    )
    .await
    .expect("retire");
    assert_field(
        memberships::enrol(
            db.conn(),
            &f.admin,
            &clock,
            enrolment(f.b, retired.id, 2026),
        )
        .await,
        "tierId",
        ErrorCode::NotFound,
    );
    // Several problems are reported together.
    match memberships::enrol(
        db.conn(),
        &f.admin,
        &clock,
        Enrolment {
            starts_on: Some(day(2020, 1, 1)),
            ..enrolment(SchoolId::new(), TierId::new(), 2026)
        },
    )
    .await
    {
        Err(DomainError::Invalid(fields)) => assert_eq!(fields.len(), 3, "{fields:?}"),
        other => panic!("{other:?}"),
    }

    let joiner = memberships::enrol(
        db.conn(),
        &f.admin,
        &clock,
        Enrolment {
            starts_on: Some(day(2027, 1, 5)),
            ..enrolment(f.b, f.tier, 2026)
        },
    )
    .await
    .expect("mid-year joiner");
    assert!(joiner.is_mid_year_joiner());
    assert_eq!(joiner.ends_on, day(2027, 8, 31));
}

async fn tiers_are_managed_by_admins(db: TestDb) {
    let f = fixture(&db).await;
    let clock = SystemClock;
    let new = |code: &str| NewTier {
        code: code.into(),
        name: format!("{code} tier"),
        description: "for testing".into(),
    };
    assert_forbidden(memberships::create_tier(db.conn(), &f.finance, &clock, new("X")).await);
    assert_forbidden(memberships::create_tier(db.conn(), &f.leader_a, &clock, new("X")).await);
    assert_field(
        memberships::create_tier(db.conn(), &f.admin, &clock, new("full")).await,
        "code",
        ErrorCode::Taken,
    );
    assert_field(
        memberships::create_tier(db.conn(), &f.admin, &clock, new("FULL-2")).await,
        "code",
        ErrorCode::Invalid,
    );
    let associate = memberships::create_tier(db.conn(), &f.admin, &clock, new("ASSOCIATE"))
        .await
        .expect("create");
    let codes: Vec<String> = memberships::tiers(db.conn())
        .await
        .expect("tiers")
        .into_iter()
        .map(|t| t.code)
        .collect();
    assert_eq!(codes, ["ASSOCIATE", "FULL"]);
    assert_eq!(
        memberships::tier_by_code(db.conn(), "associate")
            .await
            .expect("q")
            .map(|t| t.id),
        Some(associate.id)
    );
    assert!(
        memberships::tier_by_code(db.conn(), "NONE")
            .await
            .expect("q")
            .is_none()
    );
    let renamed = memberships::update_tier(
        db.conn(),
        &f.admin,
        &clock,
        associate.id,
        TierPatch {
            name: Some("Associate membership".into()),
            ..TierPatch::default()
        },
    )
    .await
    .expect("update");
    assert_eq!(renamed.name, "Associate membership");
    assert_eq!(renamed.description, "for testing");
    assert_field(
        memberships::update_tier(
            db.conn(),
            &f.admin,
            &clock,
            associate.id,
            TierPatch {
                name: Some("  ".into()),
                ..TierPatch::default()
            },
        )
        .await,
        "name",
        ErrorCode::Required,
    );
    assert_not_found(
        memberships::update_tier(
            db.conn(),
            &f.admin,
            &clock,
            TierId::new(),
            TierPatch::default(),
        )
        .await,
    );
    let loaded = memberships::tiers_by_ids(db.conn(), &[associate.id, f.tier, TierId::new()])
        .await
        .expect("batch");
    assert_eq!(loaded.len(), 2);
}

async fn cancel_and_lapse(db: TestDb) {
    let f = fixture(&db).await;
    let clock = clock_on(2026, 10, 1);
    let active = active_member(&db, &f, f.a, 2026).await;
    let pending = memberships::enrol(db.conn(), &f.admin, &clock, enrolment(f.b, f.tier, 2026))
        .await
        .expect("enrol");

    assert_field(
        memberships::cancel(db.conn(), &f.admin, &clock, pending.id, "  ".into()).await,
        "reason",
        ErrorCode::Required,
    );
    assert_forbidden(
        memberships::cancel(db.conn(), &f.leader_a, &clock, active.id, "no".into()).await,
    );
    let cancelled = memberships::cancel(
        db.conn(),
        &f.admin,
        &clock,
        pending.id,
        "merged into a federation".into(),
    )
    .await
    .expect("cancel");
    assert_eq!(cancelled.status, MembershipStatus::Cancelled);
    assert_eq!(
        cancelled.cancelled_reason.as_deref(),
        Some("merged into a federation")
    );
    for refused in [
        memberships::cancel(db.conn(), &f.admin, &clock, pending.id, "again".into()).await,
        memberships::activate(db.conn(), &f.admin, &clock, pending.id).await,
        memberships::lapse(db.conn(), &f.admin, &clock, pending.id).await,
        memberships::accept_principles(db.conn(), &f.admin, &clock, pending.id, Principle::ALL)
            .await,
    ] {
        assert_field(refused, "id", ErrorCode::Conflict);
    }

    assert_field(
        memberships::lapse(db.conn(), &f.admin, &clock, active.id).await,
        "id",
        ErrorCode::Conflict,
    );
    clock.set(
        Utc.with_ymd_and_hms(2027, 9, 1, 0, 0, 1)
            .single()
            .expect("t"),
    );
    assert_forbidden(memberships::lapse(db.conn(), &f.finance, &clock, active.id).await);
    let lapsed = memberships::lapse(db.conn(), &f.admin, &clock, active.id)
        .await
        .expect("lapse after the year");
    assert_eq!(lapsed.status, MembershipStatus::Lapsed);
    assert_not_found(memberships::lapse(db.conn(), &f.admin, &clock, MembershipId::new()).await);
}

async fn renewals_open_once_and_are_answered_by_the_notice_date(db: TestDb) {
    let f = fixture(&db).await;
    let a_now = active_member(&db, &f, f.a, 2026).await;
    let b_now = active_member(&db, &f, f.b, 2026).await;
    // Still pending in 2026/27: not renewed.
    memberships::enrol(
        db.conn(),
        &f.admin,
        &SystemClock,
        enrolment(f.c, f.tier, 2026),
    )
    .await
    .expect("enrol c");
    let clock = clock_on(2027, 3, 1);
    let notice_by = day(2027, 5, 31);

    assert_forbidden(
        memberships::open_renewals(db.conn(), &f.leader_a, &clock, year(2026), notice_by).await,
    );
    assert_field(
        memberships::open_renewals(db.conn(), &f.admin, &clock, year(2026), day(2027, 2, 28)).await,
        "noticeBy",
        ErrorCode::OutOfRange,
    );
    assert_field(
        memberships::open_renewals(db.conn(), &f.admin, &clock, year(2026), day(2028, 9, 1)).await,
        "noticeBy",
        ErrorCode::OutOfRange,
    );
    let report = memberships::open_renewals(db.conn(), &f.admin, &clock, year(2026), notice_by)
        .await
        .expect("open");
    assert_eq!(
        report,
        RenewalReport {
            opened: 2,
            already_open: 0
        }
    );
    let again = memberships::open_renewals(db.conn(), &f.admin, &clock, year(2026), notice_by)
        .await
        .expect("rerun");
    assert_eq!(
        again,
        RenewalReport {
            opened: 0,
            already_open: 2
        }
    );

    let next = memberships::of_schools(db.conn(), &[f.a, f.b, f.c])
        .await
        .expect("of schools");
    assert!(next.get(&f.c).is_some_and(|list| list.len() == 1));
    let a_next = next[&f.a][0].clone();
    assert_eq!(next[&f.a].len(), 2, "one per year, newest first");
    assert_eq!(a_next.year, year(2027));
    assert_eq!(a_next.status, MembershipStatus::Pending);
    assert_eq!(a_next.renewed_from, Some(a_now.id));
    assert_eq!(a_next.notice_by, Some(notice_by));
    assert_eq!(a_next.tier_id, a_now.tier_id);
    assert_eq!(
        (a_next.starts_on, a_next.ends_on),
        (day(2027, 9, 1), day(2028, 8, 31))
    );
    assert!(
        a_next.principles.is_empty(),
        "principles are accepted per year"
    );
    let b_next = next[&f.b][0].clone();
    assert_eq!(b_next.renewed_from, Some(b_now.id));

    assert_forbidden(
        memberships::respond_to_renewal(
            db.conn(),
            &f.staff_a,
            &clock,
            a_next.id,
            RenewalDecision::Confirm,
        )
        .await,
    );
    let confirmed = memberships::respond_to_renewal(
        db.conn(),
        &f.leader_a,
        &clock,
        a_next.id,
        RenewalDecision::Confirm,
    )
    .await
    .expect("confirm");
    assert_eq!(confirmed.status, MembershipStatus::Pending);
    assert_eq!(confirmed.decided_by, Some(f.leader_a_id));
    assert!(confirmed.decided_at.is_some());
    assert_field(
        memberships::respond_to_renewal(
            db.conn(),
            &f.leader_a,
            &clock,
            a_next.id,
            RenewalDecision::Confirm,
        )
        .await,
        "id",
        ErrorCode::Conflict,
    );
    // A plain enrolment is not a renewal.
    assert_field(
        memberships::respond_to_renewal(
            db.conn(),
            &f.admin,
            &clock,
            next[&f.c][0].id,
            RenewalDecision::Confirm,
        )
        .await,
        "id",
        ErrorCode::Conflict,
    );

    // On the notice date itself the school may still answer; nobody lapses yet.
    clock.set(
        Utc.with_ymd_and_hms(2027, 5, 31, 23, 0, 0)
            .single()
            .expect("t"),
    );
    assert_eq!(
        memberships::lapse_unanswered(db.conn(), &f.admin, &clock, year(2027))
            .await
            .expect("lapse"),
        0
    );
    // The day after, B's silence lapses its renewal; A's confirmation stands.
    clock.set(
        Utc.with_ymd_and_hms(2027, 6, 1, 8, 0, 0)
            .single()
            .expect("t"),
    );
    assert_field(
        memberships::respond_to_renewal(
            db.conn(),
            &f.leader_b,
            &clock,
            b_next.id,
            RenewalDecision::Decline,
        )
        .await,
        "id",
        ErrorCode::Conflict,
    );
    assert_forbidden(
        memberships::lapse_unanswered(db.conn(), &f.leader_a, &clock, year(2027)).await,
    );
    assert_eq!(
        memberships::lapse_unanswered(db.conn(), &f.admin, &clock, year(2027))
            .await
            .expect("lapse"),
        1
    );
    let after = memberships::by_ids(db.conn(), &[a_next.id, b_next.id])
        .await
        .expect("by ids");
    assert_eq!(after[&b_next.id].status, MembershipStatus::Lapsed);
    assert_eq!(after[&a_next.id].status, MembershipStatus::Pending);
    assert_eq!(
        memberships::lapse_unanswered(db.conn(), &f.admin, &clock, year(2027))
            .await
            .expect("rerun"),
        0
    );
    // The confirmed renewal is activated the usual way.
    memberships::accept_principles(db.conn(), &f.leader_a, &clock, a_next.id, Principle::ALL)
        .await
        .expect("accept");
    let active = memberships::activate(db.conn(), &f.admin, &clock, a_next.id)
        .await
        .expect("activate");
    assert_eq!(active.status, MembershipStatus::Active);
}

async fn declining_a_renewal_cancels_it(db: TestDb) {
    let f = fixture(&db).await;
    active_member(&db, &f, f.a, 2026).await;
    let clock = clock_on(2027, 4, 1);
    memberships::open_renewals(db.conn(), &f.admin, &clock, year(2026), day(2027, 6, 30))
        .await
        .expect("open");
    let renewal = memberships::of_schools(db.conn(), &[f.a]).await.expect("q")[&f.a][0].clone();
    memberships::respond_to_renewal(
        db.conn(),
        &f.leader_a,
        &clock,
        renewal.id,
        RenewalDecision::Confirm,
    )
    .await
    .expect("confirm");
    // A change of mind before the notice date is allowed.
    let declined = memberships::respond_to_renewal(
        db.conn(),
        &f.leader_a,
        &clock,
        renewal.id,
        RenewalDecision::Decline,
    )
    .await
    .expect("decline");
    assert_eq!(declined.status, MembershipStatus::Cancelled);
    assert_eq!(
        declined.cancelled_reason.as_deref(),
        Some(memberships::DECLINED_AT_RENEWAL)
    );
    assert_eq!(declined.decided_by, Some(f.leader_a_id));
    assert_field(
        memberships::respond_to_renewal(
            db.conn(),
            &f.leader_a,
            &clock,
            renewal.id,
            RenewalDecision::Confirm,
        )
        .await,
        "id",
        ErrorCode::Conflict,
    );
}

async fn schools_see_and_answer_only_their_own(db: TestDb) {
    let f = fixture(&db).await;
    let clock = clock_on(2027, 3, 1);
    let a_now = active_member(&db, &f, f.a, 2026).await;
    let b_now = active_member(&db, &f, f.b, 2026).await;
    memberships::open_renewals(db.conn(), &f.admin, &clock, year(2026), day(2027, 5, 31))
        .await
        .expect("open");
    let renewals = memberships::of_schools(db.conn(), &[f.a]).await.expect("q");
    let a_next = renewals[&f.a][0].clone();

    // Leader of B: A's records do not exist for them.
    assert_not_found(memberships::get(db.conn(), &f.leader_b, a_now.id).await);
    assert_not_found(
        memberships::accept_principles(db.conn(), &f.leader_b, &clock, a_next.id, Principle::ALL)
            .await,
    );
    assert_not_found(
        memberships::respond_to_renewal(
            db.conn(),
            &f.leader_b,
            &clock,
            a_next.id,
            RenewalDecision::Decline,
        )
        .await,
    );
    assert_eq!(
        memberships::get(db.conn(), &f.admin, a_next.id)
            .await
            .expect("unchanged")
            .status,
        MembershipStatus::Pending
    );
    assert_eq!(
        memberships::get(db.conn(), &f.leader_b, b_now.id)
            .await
            .expect("own")
            .id,
        b_now.id
    );

    // Staff of A read their own school's but may not answer for it.
    assert_eq!(
        memberships::get(db.conn(), &f.staff_a, a_now.id)
            .await
            .expect("own")
            .id,
        a_now.id
    );
    assert_forbidden(
        memberships::accept_principles(db.conn(), &f.staff_a, &clock, a_next.id, Principle::ALL)
            .await,
    );
    assert_forbidden(
        memberships::respond_to_renewal(
            db.conn(),
            &f.staff_a,
            &clock,
            a_next.id,
            RenewalDecision::Confirm,
        )
        .await,
    );
    // Finance reads every school's but does not answer for schools.
    assert!(
        memberships::get(db.conn(), &f.finance, b_now.id)
            .await
            .is_ok()
    );
    assert_forbidden(
        memberships::respond_to_renewal(
            db.conn(),
            &f.finance,
            &clock,
            a_next.id,
            RenewalDecision::Confirm,
        )
        .await,
    );

    let all = PageArgs::<NameKey>::first(50);
    let none = MembershipFilter::default();
    let own = memberships::for_year(db.conn(), &f.leader_b, year(2026), &none, &all)
        .await
        .expect("list");
    assert_eq!(
        own.items.iter().map(|m| m.id).collect::<Vec<_>>(),
        vec![b_now.id]
    );
    assert_eq!(
        memberships::count_for_year(db.conn(), &f.leader_b, year(2026), &none)
            .await
            .expect("count"),
        1
    );
    let everyone = memberships::for_year(db.conn(), &f.finance, year(2026), &none, &all)
        .await
        .expect("list");
    assert_eq!(everyone.items.len(), 2);

    // Integrators read everything with membership:read, nothing without it.
    let reader = Actor::ApiKey(ApiKeyActor {
        id: ApiKeyId::new(),
        name: "ledger".into(),
        scopes: vec![Scope::MembershipRead],
    });
    assert_eq!(
        memberships::get(db.conn(), &reader, a_now.id)
            .await
            .expect("key reads")
            .id,
        a_now.id
    );
    assert_eq!(
        memberships::for_year(db.conn(), &reader, year(2026), &none, &all)
            .await
            .expect("list")
            .items
            .len(),
        2
    );
    assert_forbidden(
        memberships::accept_principles(db.conn(), &reader, &clock, a_next.id, Principle::ALL).await,
    );
    let directory_only = Actor::ApiKey(ApiKeyActor {
        id: ApiKeyId::new(),
        name: "site".into(),
        scopes: vec![Scope::DirectoryRead],
    });
    assert_forbidden(memberships::get(db.conn(), &directory_only, a_now.id).await);
    assert_forbidden(
        memberships::for_year(db.conn(), &directory_only, year(2026), &none, &all).await,
    );
    assert_not_found(memberships::get(db.conn(), &f.admin, MembershipId::new()).await);
}

async fn year_lists_page_and_filter(db: TestDb) {
    let f = fixture(&db).await;
    let ids = vec![
        active_member(&db, &f, f.a, 2026).await.id,
        active_member(&db, &f, f.b, 2026).await.id,
        memberships::enrol(
            db.conn(),
            &f.admin,
            &SystemClock,
            enrolment(f.c, f.tier, 2026),
        )
        .await
        .expect("enrol")
        .id,
    ];
    let none = MembershipFilter::default();
    let mut seen = Vec::new();
    let mut args = PageArgs::<NameKey>::first(2);
    loop {
        let page = memberships::for_year(db.conn(), &f.admin, year(2026), &none, &args)
            .await
            .expect("page");
        seen.extend(page.items.iter().map(|m| m.id));
        if !page.has_next_page {
            break;
        }
        args = PageArgs {
            after: page.items.last().map(Membership::sort_key),
            ..PageArgs::first(2)
        };
    }
    assert_eq!(seen, ids);
    let back = memberships::for_year(
        db.conn(),
        &f.admin,
        year(2026),
        &none,
        &PageArgs {
            before: Some((String::new(), ids[2].as_uuid())),
            backward: true,
            ..PageArgs::first(1)
        },
    )
    .await
    .expect("backward");
    assert_eq!(
        back.items.iter().map(|m| m.id).collect::<Vec<_>>(),
        vec![ids[1]]
    );
    assert!(back.has_previous_page && back.has_next_page);

    let pending = memberships::for_year(
        db.conn(),
        &f.admin,
        year(2026),
        &MembershipFilter {
            status: Some(MembershipStatus::Pending),
            tier_id: None,
        },
        &PageArgs::first(10),
    )
    .await
    .expect("filter");
    assert_eq!(
        pending.items.iter().map(|m| m.id).collect::<Vec<_>>(),
        vec![ids[2]]
    );
    let other_tier = memberships::for_year(
        db.conn(),
        &f.admin,
        year(2026),
        &MembershipFilter {
            status: None,
            tier_id: Some(TierId::new()),
        },
        &PageArgs::first(10),
    )
    .await
    .expect("filter");
    assert!(other_tier.items.is_empty());
    assert!(
        memberships::for_year(db.conn(), &f.admin, year(2027), &none, &PageArgs::first(10))
            .await
            .expect("empty year")
            .items
            .is_empty()
    );
    let active = memberships::active_for_year(db.conn(), year(2026))
        .await
        .expect("active");
    assert_eq!(active.iter().map(|m| m.id).collect::<Vec<_>>(), ids[..2]);
    assert!(active.iter().all(Membership::has_accepted_all_principles));
}

async fn loaders_batch_principles(mut db: TestDb) {
    let f = fixture(&db).await;
    let mut ids = Vec::new();
    for school in [f.a, f.b, f.c] {
        for start in [2025, 2026] {
            ids.push(active_member(&db, &f, school, start).await.id);
        }
    }
    // A membership with no principles accepted yet still comes back (the join is a left one).
    let pending = memberships::enrol(
        db.conn(),
        &f.admin,
        &SystemClock,
        enrolment(f.a, f.tier, 2027),
    )
    .await
    .expect("enrol");
    ids.push(pending.id);
    let statements = db.count_statements();
    let by_school = memberships::of_schools(db.conn(), &[f.a, f.b, f.c, SchoolId::new()])
        .await
        .expect("of schools");
    assert_eq!(
        statements.get(),
        1,
        "memberships joined to their principles, whatever the count"
    );
    assert_eq!(by_school.len(), 3);
    for (school, list) in &by_school {
        let years: Vec<i32> = list.iter().map(|m| m.year.start_year()).collect();
        let expected: &[i32] = if *school == f.a {
            &[2027, 2026, 2025]
        } else {
            &[2026, 2025]
        };
        assert_eq!(years, expected, "newest year first");
        for m in list {
            let principles: Vec<Principle> = m.principles.iter().map(|p| p.principle).collect();
            if m.id == pending.id {
                assert!(principles.is_empty(), "nothing accepted yet");
            } else {
                assert_eq!(principles, Principle::ALL, "each once, in order");
            }
        }
    }
    statements.reset();
    let loaded = memberships::by_ids(db.conn(), &ids).await.expect("by ids");
    assert_eq!(statements.get(), 1);
    assert_eq!(loaded.len(), 7);
    assert!(
        loaded
            .values()
            .all(|m| m.principles.len() == if m.id == pending.id { 0 } else { 2 })
    );
    statements.reset();
    let one = memberships::get(db.conn(), &f.admin, ids[0])
        .await
        .expect("get");
    assert_eq!(statements.get(), 1);
    assert_eq!(one.principles.len(), 2);
    statements.reset();
    let page = memberships::for_year(
        db.conn(),
        &f.admin,
        year(2026),
        &MembershipFilter::default(),
        &PageArgs::first(10),
    )
    .await
    .expect("page");
    assert_eq!(
        statements.get(),
        2,
        "a page reads its principles after its rows"
    );
    assert_eq!(page.items.len(), 3);
    assert!(page.items.iter().all(|m| m.principles.len() == 2));
    statements.reset();
    let empty = memberships::of_schools(db.conn(), &[SchoolId::new()])
        .await
        .expect("none");
    assert!(empty.is_empty());
    assert_eq!(statements.get(), 1, "no principles query for no rows");
}

/// A school's page shows each membership's tier: read in the same statement as the
/// memberships, each membership with its own tier, and the memberships the same as
/// `of_schools` gives.
async fn school_memberships_come_with_their_tiers(mut db: TestDb) {
    let f = fixture(&db).await;
    for school in [f.a, f.b] {
        for start in [2025, 2026] {
            active_member(&db, &f, school, start).await;
        }
    }
    let associate = memberships::create_tier(
        db.conn(),
        &f.admin,
        &SystemClock,
        NewTier {
            code: "ASSOCIATE".into(),
            name: "Associate".into(),
            description: String::new(),
        },
    )
    .await
    .expect("tier");
    // Pending, so no principles: the join to them must still keep the membership and its tier.
    let associate_member = memberships::enrol(
        db.conn(),
        &f.admin,
        &SystemClock,
        enrolment(f.b, associate.id, 2027),
    )
    .await
    .expect("enrol");
    let schools = [f.a, f.b, f.c, SchoolId::new()];
    let statements = db.count_statements();
    let with_tiers = memberships::of_schools_with_tiers(db.conn(), &schools)
        .await
        .expect("with tiers");
    assert_eq!(
        statements.get(),
        1,
        "memberships joined to their tiers and principles"
    );
    let plain = memberships::of_schools(db.conn(), &schools)
        .await
        .expect("of schools");
    assert_eq!(with_tiers.len(), 2, "schools with no membership are absent");
    for (school, list) in &with_tiers {
        let found: Vec<_> = list.iter().map(|t| t.membership.clone()).collect();
        assert_eq!(
            found, plain[school],
            "the same memberships, in the same order"
        );
        for t in list {
            let expected = if t.membership.id == associate_member.id {
                "ASSOCIATE"
            } else {
                "FULL"
            };
            assert_eq!(t.tier.id, t.membership.tier_id);
            assert_eq!(t.tier.code, expected, "{}", t.membership.id);
        }
    }
    assert_eq!(with_tiers[&f.b].len(), 3);
    assert!(with_tiers[&f.b][0].membership.principles.is_empty());
    assert!(
        with_tiers[&f.a]
            .iter()
            .all(|t| t.membership.principles.len() == Principle::ALL.len()),
        "each principle once, though the tier is joined too"
    );
}

/// A dashboard opening on the caller's schools reads them with their memberships in one
/// statement: the same schools as `visible_schools`, each with the same memberships (tiers
/// and principles too) as `visible_memberships_of_schools`, and nothing the caller may not
/// read.
async fn schools_come_with_their_visible_memberships(mut db: TestDb) {
    use membership::visibility::{
        visible_memberships_of_schools, visible_schools, visible_schools_with_memberships,
    };
    let f = fixture(&db).await;
    for school in [f.a, f.b] {
        for start in [2025, 2026] {
            active_member(&db, &f, school, start).await;
        }
    }
    // Pending: no principles accepted, so the principles' join finds none for it.
    memberships::enrol(
        db.conn(),
        &f.admin,
        &SystemClock,
        enrolment(f.a, f.tier, 2027),
    )
    .await
    .expect("enrol");
    let ids = [f.c, f.b, SchoolId::new(), f.a];
    let directory_only = Actor::ApiKey(ApiKeyActor {
        id: ApiKeyId::new(),
        name: "directory".into(),
        scopes: vec![Scope::DirectoryRead],
    });
    let memberships_only = Actor::ApiKey(ApiKeyActor {
        id: ApiKeyId::new(),
        name: "ledger".into(),
        scopes: vec![Scope::MembershipRead],
    });
    for (who, actor) in [
        ("admin", &f.admin),
        ("leader of a", &f.leader_a),
        ("leader of b", &f.leader_b),
        ("directory key", &directory_only),
        ("membership key", &memberships_only),
    ] {
        let statements = db.count_statements();
        let read = visible_schools_with_memberships(db.conn(), actor, &ids)
            .await
            .expect("schools with memberships");
        let cost = usize::from(who != "membership key");
        assert_eq!(
            statements.get(),
            cost,
            "{who}: one statement, none without the directory"
        );
        let schools = visible_schools(db.conn(), actor, &ids)
            .await
            .expect("schools");
        let mut expected: Vec<_> = schools.keys().copied().collect();
        expected.sort();
        assert_eq!(
            read.iter().map(|(s, _)| s.id).collect::<Vec<_>>(),
            expected,
            "{who}: the schools visible_schools answers, in id order"
        );
        let visible = visible_memberships_of_schools(db.conn(), actor, &ids)
            .await
            .expect("memberships");
        for (school, list) in &read {
            assert_eq!(&schools[&school.id], school, "{who}: {}", school.name);
            assert_eq!(
                list,
                visible.get(&school.id).map_or(&[][..], Vec::as_slice),
                "{who}: {}'s memberships",
                school.name
            );
        }
        let counts: Vec<usize> = read.iter().map(|(_, list)| list.len()).collect();
        let a_first = read.iter().position(|(s, _)| s.id == f.a);
        match who {
            "admin" => {
                assert_eq!(counts.iter().sum::<usize>(), 5, "{who}: every membership");
                let a = &read[a_first.expect("a")].1;
                let years: Vec<i32> = a.iter().map(|m| m.membership.year.start_year()).collect();
                assert_eq!(years, [2027, 2026, 2025], "newest year first");
                assert!(
                    a[0].membership.principles.is_empty(),
                    "pending: none accepted"
                );
                assert!(
                    a[1..]
                        .iter()
                        .all(|m| m.membership.principles.len() == Principle::ALL.len()),
                    "each principle once"
                );
            }
            "leader of a" => {
                let a = &read[a_first.expect("a")].1;
                assert_eq!(a.len(), 3, "{who}: their own school's");
                assert_eq!(counts.iter().sum::<usize>(), 3, "{who}: no other school's");
            }
            "leader of b" => assert_eq!(counts.iter().sum::<usize>(), 2, "{who}"),
            "directory key" => {
                assert_eq!(read.len(), 3, "{who}: the schools");
                assert_eq!(counts.iter().sum::<usize>(), 0, "{who}: no memberships");
            }
            _ => assert!(read.is_empty(), "{who}: no directory, no schools"),
        }
    }
}

async fn demo_memberships(db: TestDb) {
    let report = membership::demo::seed(db.conn(), &SystemClock)
        .await
        .expect("seeds");
    let e = report.enrolments;
    assert!(!e.skipped && e.tiers == 2, "{report}");
    assert_eq!((e.pending, e.cancelled), (1, 1), "{report}");
    assert_eq!(e.active + 2, report.schools, "{report}");
    assert!(report.to_string().contains("active"), "{report}");
    let again = membership::demo::seed_memberships(db.conn(), &SystemClock)
        .await
        .expect("again");
    assert!(again.skipped);
    assert!(
        membership::demo::seed(db.conn(), &SystemClock)
            .await
            .expect("again")
            .skipped
    );

    let y = year(membership::demo::DEMO_YEAR);
    let count = |status| {
        let conn = db.conn().clone();
        async move {
            memberships::count_for_year(
                &conn,
                &Actor::System,
                y,
                &MembershipFilter {
                    status: Some(status),
                    tier_id: None,
                },
            )
            .await
            .expect("count")
        }
    };
    assert_eq!(
        count(MembershipStatus::Active).await,
        u64::try_from(e.active).expect("fits")
    );
    assert_eq!(count(MembershipStatus::Pending).await, 1);
    assert_eq!(count(MembershipStatus::Cancelled).await, 1);

    let by_urn = |urn: &'static str| {
        let conn = db.conn().clone();
        async move {
            school::by_urn(&conn, &Actor::System, urn)
                .await
                .expect("q")
                .expect("demo school")
        }
    };
    let of = |id: SchoolId| {
        let conn = db.conn().clone();
        async move {
            let mut all = memberships::of_schools(&conn, &[id]).await.expect("q");
            let mut list = all.remove(&id).expect("a membership");
            assert_eq!(list.len(), 1);
            list.remove(0)
        }
    };

    // Holly Park, the demo head's school: a full, active member with both principles.
    let head = users::find_active_by_email(db.conn(), "head@holly-park.example")
        .await
        .expect("q")
        .expect("head");
    let holly_park = users::schools_of(db.conn(), &[head.id]).await.expect("q")[&head.id][0];
    let hp = of(holly_park).await;
    assert_eq!(hp.status, MembershipStatus::Active);
    assert!(hp.has_accepted_all_principles());
    assert!(hp.principles.iter().all(|p| p.accepted_by.is_none()));
    let full = memberships::tier_by_code(db.conn(), "FULL")
        .await
        .expect("q")
        .expect("FULL");
    assert_eq!(full.name, "Full membership");
    assert_eq!(hp.tier_id, full.id);
    let head_actor = Actor::User(
        users::actor_for(db.conn(), users::Lookup::Id(head.id))
            .await
            .expect("q")
            .expect("actor"),
    );
    let own = memberships::for_year(
        db.conn(),
        &head_actor,
        y,
        &MembershipFilter::default(),
        &PageArgs::first(10),
    )
    .await
    .expect("head lists");
    assert_eq!(
        own.items.iter().map(|m| m.id).collect::<Vec<_>>(),
        vec![hp.id]
    );

    let associate = memberships::tier_by_code(db.conn(), "ASSOCIATE")
        .await
        .expect("q")
        .expect("ASSOCIATE");
    assert_eq!(associate.name, "Associate membership");
    let herts = of(by_urn("900129").await.id).await;
    assert_eq!(
        herts.tier_id, associate.id,
        "Bernards Heath is outside Barnet"
    );

    let pending = of(by_urn("900132").await.id).await;
    assert_eq!(pending.status, MembershipStatus::Pending);
    assert!(pending.principles.is_empty());
    let joiner = of(by_urn("900071").await.id).await;
    assert_eq!(joiner.status, MembershipStatus::Active);
    assert!(joiner.is_mid_year_joiner());
    assert_eq!(joiner.starts_on, day(2027, 1, 5));
    let cancelled = of(by_urn("900126").await.id).await;
    assert_eq!(cancelled.status, MembershipStatus::Cancelled);
    assert_eq!(
        cancelled.cancelled_reason.as_deref(),
        Some(membership::demo::CANCELLED_REASON)
    );

    assert!(
        by_urn("900090").await.has_sixth_form,
        "Queen Elizabeth's School"
    );
    assert!(
        !by_urn("900128").await.has_sixth_form,
        "Friern Barnet is 11-16"
    );
    assert!(
        !by_urn("900033").await.has_sixth_form,
        "Holly Park is a primary"
    );
}

async fn sixth_forms_only_on_schools_that_can_have_one(db: TestDb) {
    let clock = SystemClock;
    let mut new = NewSchool {
        urn: "100009".into(),
        name: "Oak Secondary".into(),
        phase: Phase::Primary,
        establishment_type: EstablishmentType::Academy,
        local_authority: "Barnet".into(),
        postcode: "N12 8PE".into(),
        roll: None,
        designations: vec![],
        has_sixth_form: true,
        opened_on: None,
        is_demo: false,
    };
    assert_field(
        school::create(db.conn(), &clock, &Actor::System, new.clone()).await,
        "hasSixthForm",
        ErrorCode::Invalid,
    );
    new.phase = Phase::Secondary;
    let created = school::create(db.conn(), &clock, &Actor::System, new)
        .await
        .expect("secondary with a sixth form");
    assert!(created.has_sixth_form);
    assert_field(
        school::update(
            db.conn(),
            &clock,
            &Actor::System,
            created.id,
            school::SchoolChanges {
                phase: Some(Phase::Primary),
                ..school::SchoolChanges::default()
            },
        )
        .await,
        "hasSixthForm",
        ErrorCode::Invalid,
    );
    let closed = school::update(
        db.conn(),
        &clock,
        &Actor::System,
        created.id,
        school::SchoolChanges {
            has_sixth_form: Some(false),
            ..school::SchoolChanges::default()
        },
    )
    .await
    .expect("sixth form closes");
    assert!(!closed.has_sixth_form);
}

/// The actions and authors of a membership's trail, oldest first.
fn actions_of(trail: &[kernel::audit::Entry]) -> Vec<(&str, Option<uuid::Uuid>)> {
    trail
        .iter()
        .map(|e| (e.action.as_str(), e.actor_id))
        .collect()
}

fn uid(actor: &Actor) -> Option<uuid::Uuid> {
    actor.as_user().map(|u| u.id.as_uuid())
}

/// A snapshot's field, from an entry's before or after.
fn field(snapshot: Option<&serde_json::Value>, name: &str) -> serde_json::Value {
    snapshot.expect("snapshot")[name].clone()
}

/// Finance asks who enrolled, accepted, activated and cancelled a membership: each change is
/// one entry with its author and the membership either side; refused changes and repeated
/// acceptances leave none. The school's own people read the trail; another school's head is
/// told it does not exist.
async fn a_memberships_trail_names_every_change_and_its_author(db: TestDb) {
    let f = fixture(&db).await;
    let clock = clock_on(2026, 7, 1);
    let m = memberships::enrol(db.conn(), &f.admin, &clock, enrolment(f.a, f.tier, 2026))
        .await
        .expect("enrol");
    let (_, code) = field_error(memberships::activate(db.conn(), &f.admin, &clock, m.id).await);
    assert_eq!(code, ErrorCode::Conflict, "principles not yet accepted");
    memberships::accept_principles(db.conn(), &f.leader_a, &clock, m.id, Principle::ALL)
        .await
        .expect("accept");
    memberships::accept_principles(
        db.conn(),
        &f.leader_a,
        &clock,
        m.id,
        &[Principle::DataSharing],
    )
    .await
    .expect("accept again");
    memberships::activate(db.conn(), &f.admin, &clock, m.id)
        .await
        .expect("activate");
    memberships::cancel(db.conn(), &f.admin, &clock, m.id, "closing".into())
        .await
        .expect("cancel");

    let trail = memberships::history(db.conn(), &f.finance, m.id)
        .await
        .expect("finance reads");
    assert_eq!(
        actions_of(&trail),
        [
            ("membership.enrol", uid(&f.admin)),
            ("membership.accept_principles", uid(&f.leader_a)),
            ("membership.activate", uid(&f.admin)),
            ("membership.cancel", uid(&f.admin)),
        ]
    );
    assert!(trail.iter().all(|e| e.entity == "MEMBERSHIP"));
    assert!(trail.iter().all(|e| e.entity_id == m.id.as_uuid()));
    let (enrol, accept, activate, cancel) = (&trail[0], &trail[1], &trail[2], &trail[3]);
    assert_eq!(enrol.before, None);
    assert_eq!(field(enrol.after.as_ref(), "status"), "PENDING");
    assert_eq!(field(enrol.after.as_ref(), "year"), "2026/27");
    assert_eq!(
        field(enrol.after.as_ref(), "school_id"),
        f.a.as_uuid().to_string()
    );
    assert_eq!(accept.before, enrol.after);
    let principles = field(accept.after.as_ref(), "principles");
    assert_eq!(principles.as_array().map(Vec::len), Some(2), "{principles}");
    assert_eq!(
        principles[0]["accepted_by"],
        serde_json::json!(uid(&f.leader_a))
    );
    assert_eq!(activate.before, accept.after);
    assert_eq!(field(activate.after.as_ref(), "status"), "ACTIVE");
    assert_eq!(field(cancel.before.as_ref(), "status"), "ACTIVE");
    assert_eq!(field(cancel.after.as_ref(), "status"), "CANCELLED");
    assert_eq!(field(cancel.after.as_ref(), "cancelled_reason"), "closing");

    for own in [&f.leader_a, &f.staff_a, &f.admin] {
        let read = memberships::history(db.conn(), own, m.id)
            .await
            .expect("the school's people and staff read");
        assert_eq!(read, trail);
    }
    assert_not_found(memberships::history(db.conn(), &f.leader_b, m.id).await);
    assert_not_found(memberships::history(db.conn(), &f.admin, MembershipId::new()).await);
}

/// Opening renewals and lapsing the unanswered ones are bulk writes: each membership they
/// touch still gets its own entry, and the school's answer is in between.
async fn renewals_and_their_lapse_are_in_the_trail(db: TestDb) {
    let f = fixture(&db).await;
    active_member(&db, &f, f.a, 2026).await;
    active_member(&db, &f, f.b, 2026).await;
    let clock = clock_on(2027, 3, 1);
    memberships::open_renewals(db.conn(), &f.admin, &clock, year(2026), day(2027, 5, 31))
        .await
        .expect("open");
    let next = memberships::of_schools(db.conn(), &[f.a, f.b])
        .await
        .expect("of schools");
    let (a_next, b_next) = (next[&f.a][0].id, next[&f.b][0].id);
    memberships::respond_to_renewal(
        db.conn(),
        &f.leader_a,
        &clock,
        a_next,
        RenewalDecision::Confirm,
    )
    .await
    .expect("confirm");
    clock.set(
        Utc.with_ymd_and_hms(2027, 6, 1, 8, 0, 0)
            .single()
            .expect("t"),
    );
    let lapsed = memberships::lapse_unanswered(db.conn(), &f.admin, &clock, year(2027))
        .await
        .expect("lapse");
    assert_eq!(lapsed, 1);

    let a_trail = memberships::history(db.conn(), &f.leader_a, a_next)
        .await
        .expect("a");
    assert_eq!(
        actions_of(&a_trail),
        [
            ("membership.renewal_open", uid(&f.admin)),
            ("membership.renewal_respond", uid(&f.leader_a)),
        ]
    );
    assert_eq!(a_trail[0].before, None);
    assert_eq!(field(a_trail[0].after.as_ref(), "notice_by"), "2027-05-31");
    assert_eq!(
        field(a_trail[1].before.as_ref(), "decided_by"),
        serde_json::Value::Null
    );
    assert_eq!(
        field(a_trail[1].after.as_ref(), "decided_by"),
        serde_json::json!(uid(&f.leader_a))
    );

    let b_trail = memberships::history(db.conn(), &f.leader_b, b_next)
        .await
        .expect("b");
    assert_eq!(
        actions_of(&b_trail),
        [
            ("membership.renewal_open", uid(&f.admin)),
            ("membership.renewal_lapse", uid(&f.admin)),
        ]
    );
    assert_eq!(field(b_trail[1].before.as_ref(), "status"), "PENDING");
    assert_eq!(field(b_trail[1].after.as_ref(), "status"), "LAPSED");
    assert_not_found(memberships::history(db.conn(), &f.leader_a, b_next).await);
}

/// Renewal season: Alder confirms and accepts, Beech accepts but has not confirmed, Cedar
/// joins fresh and accepts. One call puts Alder and Cedar in force; Beech waits, and a list
/// naming it is refused whole, saying why, until Beech confirms.
async fn ready_memberships_are_activated_in_bulk(db: TestDb) {
    let f = fixture(&db).await;
    active_member(&db, &f, f.a, 2026).await;
    active_member(&db, &f, f.b, 2026).await;
    let clock = clock_on(2027, 3, 1);
    memberships::open_renewals(db.conn(), &f.admin, &clock, year(2026), day(2027, 5, 31))
        .await
        .expect("open");
    let next = memberships::of_schools(db.conn(), &[f.a, f.b])
        .await
        .expect("next");
    let (a_next, b_next) = (next[&f.a][0].clone(), next[&f.b][0].clone());
    memberships::respond_to_renewal(
        db.conn(),
        &f.leader_a,
        &clock,
        a_next.id,
        RenewalDecision::Confirm,
    )
    .await
    .expect("confirm");
    for (leader, id) in [(&f.leader_a, a_next.id), (&f.leader_b, b_next.id)] {
        memberships::accept_principles(db.conn(), leader, &clock, id, Principle::ALL)
            .await
            .expect("accept");
    }
    let c_next = memberships::enrol(db.conn(), &f.admin, &clock, enrolment(f.c, f.tier, 2027))
        .await
        .expect("enrol");
    memberships::accept_principles(db.conn(), &f.admin, &clock, c_next.id, Principle::ALL)
        .await
        .expect("accept");

    // Only partnership admins.
    for actor in [&f.leader_a, &f.finance] {
        assert_forbidden(memberships::activate_ready(db.conn(), actor, &clock, year(2027)).await);
        assert_forbidden(memberships::activate_many(db.conn(), actor, &clock, &[a_next.id]).await);
    }

    let done = memberships::activate_ready(db.conn(), &f.admin, &clock, year(2027))
        .await
        .expect("activate ready");
    let mut ids: Vec<MembershipId> = done.iter().map(|m| m.id).collect();
    ids.sort();
    let mut expected = vec![a_next.id, c_next.id];
    expected.sort();
    assert_eq!(ids, expected);
    assert!(done.iter().all(|m| m.status == MembershipStatus::Active));
    let trail = memberships::history(db.conn(), &f.admin, a_next.id)
        .await
        .expect("trail");
    assert_eq!(
        actions_of(&trail).last(),
        Some(&("membership.activate", uid(&f.admin)))
    );
    assert!(
        memberships::activate_ready(db.conn(), &f.admin, &clock, year(2027))
            .await
            .expect("again")
            .is_empty(),
        "nothing new is ready"
    );

    // A list is all or nothing, with a reason per entry.
    match memberships::activate_many(
        db.conn(),
        &f.admin,
        &clock,
        &[MembershipId::new(), b_next.id, a_next.id],
    )
    .await
    {
        Err(DomainError::Invalid(problems)) => {
            let got: Vec<(String, ErrorCode)> = problems
                .iter()
                .map(|p| (p.field.join("."), p.code))
                .collect();
            assert_eq!(
                got,
                vec![
                    ("membershipIds.0".to_owned(), ErrorCode::NotFound),
                    ("membershipIds.1".to_owned(), ErrorCode::Conflict),
                    ("membershipIds.2".to_owned(), ErrorCode::Conflict),
                ]
            );
            assert!(
                problems[1].message.contains("confirmed its renewal"),
                "{problems:?}"
            );
            assert!(problems[2].message.contains("ACTIVE"), "{problems:?}");
        }
        other => panic!("expected per-entry errors, got {other:?}"),
    }
    assert_eq!(
        memberships::get(db.conn(), &f.admin, b_next.id)
            .await
            .expect("beech")
            .status,
        MembershipStatus::Pending,
        "nothing was written"
    );
    assert_field(
        memberships::activate_many(db.conn(), &f.admin, &clock, &[]).await,
        "membershipIds",
        ErrorCode::OutOfRange,
    );

    memberships::respond_to_renewal(
        db.conn(),
        &f.leader_b,
        &clock,
        b_next.id,
        RenewalDecision::Confirm,
    )
    .await
    .expect("beech confirms");
    let done = memberships::activate_many(db.conn(), &f.admin, &clock, &[b_next.id, b_next.id])
        .await
        .expect("activate beech");
    assert_eq!(done.len(), 1, "an id given twice counts once");
    assert_eq!(done[0].status, MembershipStatus::Active);
}

testkit::db_tests!(
    ready_memberships_are_activated_in_bulk,
    a_memberships_trail_names_every_change_and_its_author,
    renewals_and_their_lapse_are_in_the_trail,
    enrol_accept_activate,
    enrolment_input_is_checked,
    tiers_are_managed_by_admins,
    cancel_and_lapse,
    renewals_open_once_and_are_answered_by_the_notice_date,
    declining_a_renewal_cancels_it,
    schools_see_and_answer_only_their_own,
    year_lists_page_and_filter,
    loaders_batch_principles,
    school_memberships_come_with_their_tiers,
    schools_come_with_their_visible_memberships,
    demo_memberships,
    sixth_forms_only_on_schools_that_can_have_one,
);
