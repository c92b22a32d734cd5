//! Directory services against real databases (SQLite and PostgreSQL).

use kernel::{Actor, DomainError, ErrorCode, SystemClock};
use membership::partnership::{self, PartnershipFilter};
use membership::people::users;
use membership::school::types::{EstablishmentType, Phase};
use membership::school::{self, NewSchool, SchoolFilter};
use membership::{NameKey, PageArgs};
use testkit::TestDb;

fn school(urn: &str, name: &str) -> NewSchool {
    NewSchool {
        urn: urn.to_owned(),
        name: name.to_owned(),
        phase: Phase::Primary,
        establishment_type: EstablishmentType::Community,
        local_authority: "Barnet".to_owned(),
        postcode: "N10 2HN".to_owned(),
        roll: None,
        designations: vec![],
        has_sixth_form: false,
        opened_on: None,
        is_demo: false,
    }
}

async fn demo_directory_loads_once(db: TestDb) {
    let report = membership::demo::seed(db.conn(), &SystemClock)
        .await
        .expect("seeds");
    assert!(!report.skipped);
    assert!(
        report.schools > 100 && report.partnerships >= 23,
        "{report}"
    );
    let again = membership::demo::seed(db.conn(), &SystemClock)
        .await
        .expect("second run");
    assert!(again.skipped, "seeding an existing directory does nothing");

    let all = PageArgs::<NameKey>::first(100);
    let grasvenor = school::list(
        db.conn(),
        &Actor::System,
        &SchoolFilter {
            name_contains: Some("grasvenor".into()),
            ..SchoolFilter::default()
        },
        &all,
    )
    .await
    .expect("list");
    assert_eq!(
        grasvenor.items.len(),
        1,
        "one Grasvenor Infant, in several partnerships"
    );
    let memberships = partnership::memberships_of(db.conn(), &[grasvenor.items[0].id])
        .await
        .expect("memberships");
    assert!(memberships[&grasvenor.items[0].id].len() >= 2);

    let partnerships = partnership::count(db.conn(), &Actor::System, &PartnershipFilter::default())
        .await
        .expect("n");
    assert_eq!(
        partnerships,
        u64::try_from(report.partnerships).expect("fits")
    );
    let head = users::find_active_by_email(db.conn(), "head@holly-park.example")
        .await
        .expect("q")
        .expect("head");
    let schools = users::schools_of(db.conn(), &[head.id])
        .await
        .expect("schools");
    assert_eq!(schools[&head.id].len(), 1);
}

async fn keyset_pages_are_stable_both_ways(db: TestDb) {
    for i in 0..25 {
        school::create(
            db.conn(),
            &SystemClock,
            &Actor::System,
            school(
                &format!("{}", 100_100 + i),
                &format!("School {:02}", i % 10),
            ),
        )
        .await
        .expect("create");
    }
    let filter = SchoolFilter::default();
    let mut forward = Vec::new();
    let mut args = PageArgs::<NameKey>::first(7);
    loop {
        let page = school::list(db.conn(), &Actor::System, &filter, &args)
            .await
            .expect("page");
        forward.extend(page.items.iter().map(|s| s.id));
        if !page.has_next_page {
            break;
        }
        args = PageArgs {
            after: page.items.last().map(school::School::sort_key),
            ..PageArgs::first(7)
        };
    }
    assert_eq!(
        forward.len(),
        25,
        "duplicate names do not lose or repeat rows"
    );
    let mut backward = Vec::new();
    let mut args = PageArgs::<NameKey> {
        backward: true,
        ..PageArgs::first(6)
    };
    loop {
        let page = school::list(db.conn(), &Actor::System, &filter, &args)
            .await
            .expect("page");
        backward.splice(0..0, page.items.iter().map(|s| s.id));
        if !page.has_previous_page {
            break;
        }
        args = PageArgs {
            before: page.items.first().map(school::School::sort_key),
            backward: true,
            ..PageArgs::first(6)
        };
    }
    assert_eq!(forward, backward);
}

async fn concurrent_duplicate_urns_create_one_school(db: TestDb) {
    let attempts = (0..8).map(|i| {
        let conn = db.conn().clone();
        tokio::spawn(async move {
            school::create(
                &conn,
                &SystemClock,
                &Actor::System,
                school("100001", &format!("Racer {i}")),
            )
            .await
        })
    });
    let results = futures_join(attempts).await;
    let created = results.iter().filter(|r| r.is_ok()).count();
    assert_eq!(created, 1, "exactly one create wins");
    for r in results.into_iter().filter_map(Result::err) {
        match r {
            DomainError::Invalid(fields) => assert_eq!(fields[0].code, ErrorCode::Taken),
            other => panic!("unexpected error {other:?}"),
        }
    }
}

async fn futures_join<T>(handles: impl Iterator<Item = tokio::task::JoinHandle<T>>) -> Vec<T> {
    let mut out = Vec::new();
    for h in handles {
        out.push(h.await.expect("task"));
    }
    out
}

async fn permissions_are_checked_by_services(db: TestDb) {
    membership::demo::seed(db.conn(), &SystemClock)
        .await
        .expect("seeds");
    let head = users::find_active_by_email(db.conn(), "head@holly-park.example")
        .await
        .expect("q")
        .expect("u");
    let actor = users::actor_for(db.conn(), users::Lookup::Id(head.id))
        .await
        .expect("q")
        .expect("actor");
    let actor = Actor::User(actor);
    let refused = school::create(db.conn(), &SystemClock, &actor, school("100002", "Nope")).await;
    assert!(matches!(refused, Err(DomainError::Forbidden(_))));
    let refused = users::list(db.conn(), &actor, &PageArgs::first(10)).await;
    assert!(matches!(refused, Err(DomainError::Forbidden(_))));
}

/// `26-11-02` once reached the database as the year 26: a census date must lie in
/// 2000..=2099, and a roll in 0..=10,000, refused with the field named and nothing written.
async fn census_dates_and_rolls_out_of_range_are_refused(db: TestDb) {
    use membership::school::RollInput;
    use membership::school::types::RollCensus;

    let roll = |number_on_roll: i64, y: i32| RollInput {
        number_on_roll,
        census: RollCensus::October,
        census_date: chrono::NaiveDate::from_ymd_opt(y, 10, 2).expect("date"),
    };
    let cases = [
        (roll(420, 26), "roll.censusDate"),
        (roll(420, 1), "roll.censusDate"),
        (roll(i64::MAX, 2025), "roll.numberOnRoll"),
        (roll(-1, 2025), "roll.numberOnRoll"),
    ];
    for (i, (r, field)) in cases.into_iter().enumerate() {
        let result = school::create(
            db.conn(),
            &SystemClock,
            &Actor::System,
            NewSchool {
                roll: Some(r),
                ..school(&format!("30000{i}"), "Hostile Primary")
            },
        )
        .await;
        match result {
            Err(DomainError::Invalid(fields)) => assert!(
                fields
                    .iter()
                    .any(|f| f.field.join(".") == field && f.code == ErrorCode::OutOfRange),
                "{field}: {fields:?}"
            ),
            other => panic!("expected {field} refused, got {other:?}"),
        }
    }
    let all = school::list(
        db.conn(),
        &Actor::System,
        &SchoolFilter::default(),
        &PageArgs::<NameKey>::first(10),
    )
    .await
    .expect("list");
    assert!(all.items.is_empty(), "nothing was written");
}

/// A token's user becomes an actor with the role and every school they act for, read in one
/// statement; an inactive or unknown user is no actor; an OIDC email is matched whatever its
/// case.
async fn a_token_resolves_to_its_user_and_schools(db: TestDb) {
    use kernel::{Role, SchoolId};
    use membership::people::users::{Lookup, NewUser, UserChanges};

    let mut schools = Vec::new();
    for (urn, name) in [("400001", "Ash Primary"), ("400002", "Birch Primary")] {
        let made = school::create(db.conn(), &SystemClock, &Actor::System, school(urn, name))
            .await
            .expect("school");
        schools.push(made.id);
    }
    let new = |email: &str, role: Role, schools: Vec<SchoolId>| NewUser {
        email: email.to_owned(),
        name: "Someone".to_owned(),
        role,
        schools,
    };
    let exec = users::create(
        db.conn(),
        &SystemClock,
        &Actor::System,
        new("exec@trust.example", Role::SchoolLeader, schools.clone()),
    )
    .await
    .expect("head of two");
    let finance = users::create(
        db.conn(),
        &SystemClock,
        &Actor::System,
        new("money@trust.example", Role::Finance, vec![]),
    )
    .await
    .expect("finance");

    let actor = users::actor_for(db.conn(), Lookup::Id(exec.id))
        .await
        .expect("q")
        .expect("an actor");
    assert_eq!((actor.id, actor.role), (exec.id, Role::SchoolLeader));
    let mut theirs = actor.schools.clone();
    theirs.sort();
    let mut expected = schools.clone();
    expected.sort();
    assert_eq!(theirs, expected, "both schools, each once");

    let by_email = users::actor_for(db.conn(), Lookup::Email("  EXEC@Trust.example "))
        .await
        .expect("q")
        .expect("found by email");
    assert_eq!(by_email.id, exec.id);

    let finance_actor = users::actor_for(db.conn(), Lookup::Id(finance.id))
        .await
        .expect("q")
        .expect("an actor");
    assert_eq!(finance_actor.role, Role::Finance);
    assert!(finance_actor.schools.is_empty(), "no school, no row lost");

    users::update(
        db.conn(),
        &SystemClock,
        &Actor::System,
        exec.id,
        UserChanges {
            active: Some(false),
            ..UserChanges::default()
        },
    )
    .await
    .expect("deactivate");
    for lookup in [Lookup::Id(exec.id), Lookup::Email("exec@trust.example")] {
        let gone = users::actor_for(db.conn(), lookup).await.expect("q");
        assert!(gone.is_none(), "an inactive user is no actor");
    }
    let unknown = users::actor_for(db.conn(), Lookup::Id(kernel::UserId::new()))
        .await
        .expect("q");
    assert!(unknown.is_none());
}

testkit::db_tests!(
    a_token_resolves_to_its_user_and_schools,
    demo_directory_loads_once,
    keyset_pages_are_stable_both_ways,
    concurrent_duplicate_urns_create_one_school,
    permissions_are_checked_by_services,
    census_dates_and_rolls_out_of_range_are_refused,
);
