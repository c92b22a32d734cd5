//! The catalogue: services and sessions, published for everyone signed in, searched,
//! filtered and paged; managed by partnership admins only.

use crate::support;

use billing::ledger::invoices::VatTreatment;
use kernel::{Actor, ErrorCode, Money};
use membership::PageArgs;
use membership::school::types::Phase;
use support::*;
use testkit::TestDb;
use traded::{
    CancellationPolicy, Category, Delivery, NewService, ProviderFilter, ServiceFilter,
    ServicePatch, SessionFilter,
};

async fn services_are_managed_by_admins_and_read_by_everyone(db: TestDb) {
    let w = world(&db).await;
    let c = clock();
    let input = NewService {
        category: Category::GovernorTraining,
        title: "Governor induction".into(),
        delivery: Delivery::Online,
        phases: vec![],
        ..new_service("GOV-INDUCTION", 9_500, Some(14_000))
    };
    assert_forbidden(traded::create_service(db.conn(), &w.head_alder, &c, input.clone()).await);
    assert_forbidden(traded::create_service(db.conn(), &w.catalogue_key, &c, input.clone()).await);
    let draft = traded::create_service(db.conn(), &w.admin, &c, input.clone())
        .await
        .expect("create");
    assert!(!draft.published);
    // A draft is invisible outside the team that manages the catalogue.
    assert_not_found(traded::service(db.conn(), &w.head_alder, draft.id).await);
    traded::service(db.conn(), &w.admin, draft.id)
        .await
        .expect("admin sees drafts");
    let taken = traded::create_service(db.conn(), &w.admin, &c, input).await;
    assert_eq!(field_error(taken), ("code".to_owned(), ErrorCode::Taken));

    traded::publish_service(db.conn(), &w.admin, &c, draft.id)
        .await
        .expect("publish");
    for reader in [&w.head_alder, &w.staff_alder, &w.finance, &w.catalogue_key] {
        traded::service(db.conn(), reader, draft.id)
            .await
            .expect("published");
    }
    let changed = traded::update_service(
        db.conn(),
        &w.admin,
        &c,
        draft.id,
        ServicePatch {
            title: Some("Governor induction (new governors)".into()),
            member_price: Some(Money::from_pence(10_000)),
            non_member_price: Some(None),
            vat_treatment: Some(VatTreatment::Standard),
            vat_rate_bp: Some(2000),
            ..ServicePatch::default()
        },
    )
    .await
    .expect("update");
    assert_eq!(changed.title, "Governor induction (new governors)");
    assert_eq!(changed.non_member_price, None);
    assert_eq!(changed.vat_rate_bp, 2000);
    let bad = traded::update_service(
        db.conn(),
        &w.admin,
        &c,
        draft.id,
        ServicePatch {
            vat_treatment: Some(VatTreatment::Exempt),
            member_price: Some(Money::from_pence(-1)),
            ..ServicePatch::default()
        },
    )
    .await;
    let errors = field_errors(bad);
    assert!(
        errors.contains(&("vatRateBp".to_owned(), ErrorCode::Invalid)),
        "{errors:?}"
    );
    assert!(
        errors.contains(&("memberPricePence".to_owned(), ErrorCode::OutOfRange)),
        "{errors:?}"
    );
    traded::unpublish_service(db.conn(), &w.admin, &c, draft.id)
        .await
        .expect("unpublish");
    assert_not_found(traded::service(db.conn(), &w.head_alder, draft.id).await);
    let _ = w.course;
}

async fn the_catalogue_is_searched_filtered_and_paged(db: TestDb) {
    let w = world(&db).await;
    let c = clock();
    let nss = published(
        &db,
        NewService {
            title: "School-to-school support: maths mastery".into(),
            category: Category::Consultancy,
            delivery: Delivery::InSchool,
            provider_school_id: Some(w.oak),
            provider_name: "Oak Primary (NSS)".into(),
            phases: vec![Phase::Primary, Phase::Infant],
            ..new_service("S2S-MATHS", 45_000, None)
        },
    )
    .await;
    let secondary = published(
        &db,
        NewService {
            title: "Secondary curriculum conference".into(),
            category: Category::Conference,
            phases: vec![Phase::Secondary],
            ..new_service("CONF-SEC", 9_000, Some(12_000))
        },
    )
    .await;
    let reader = &w.head_alder;
    let find = |filter: ServiceFilter| {
        let db = &db;
        let c = &c;
        async move {
            traded::services(db.conn(), reader, c, &filter, &PageArgs::first(20))
                .await
                .expect("search")
                .items
                .into_iter()
                .map(|s| s.code)
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(
        find(ServiceFilter {
            text: Some("MATHS mastery".into()),
            ..Default::default()
        })
        .await,
        vec![nss.code.clone()]
    );
    assert_eq!(
        find(ServiceFilter {
            category: Some(Category::Conference),
            ..Default::default()
        })
        .await,
        vec![secondary.code.clone()]
    );
    assert_eq!(
        find(ServiceFilter {
            provider: Some(ProviderFilter::School(w.oak)),
            ..Default::default()
        })
        .await,
        vec![nss.code.clone()]
    );
    // School-to-school support from any school, and partnership staff's services only.
    assert_eq!(
        find(ServiceFilter {
            provider: Some(ProviderFilter::AnySchool),
            ..Default::default()
        })
        .await,
        vec![nss.code.clone()]
    );
    let staff = find(ServiceFilter {
        provider: Some(ProviderFilter::Partnership),
        ..Default::default()
    })
    .await;
    assert!(staff.contains(&secondary.code) && !staff.contains(&nss.code));
    let primary = find(ServiceFilter {
        phase: Some(Phase::Primary),
        ..Default::default()
    })
    .await;
    assert!(
        primary.contains(&nss.code)
            && primary.contains(&w.course.code)
            && !primary.contains(&secondary.code)
    );
    assert_eq!(
        find(ServiceFilter {
            has_upcoming_sessions: Some(true),
            ..Default::default()
        })
        .await,
        vec![w.course.code.clone()]
    );
    assert_eq!(
        find(ServiceFilter {
            delivery: Some(Delivery::InSchool),
            ..Default::default()
        })
        .await,
        vec![nss.code.clone()]
    );
    // Keyset pages by title.
    let first = traded::services(
        db.conn(),
        reader,
        &c,
        &ServiceFilter::default(),
        &PageArgs::first(2),
    )
    .await
    .expect("page");
    assert_eq!(first.items.len(), 2);
    assert!(first.has_next_page);
    let after = PageArgs {
        after: first.items.last().map(traded::Service::sort_key),
        before: None,
        limit: 2,
        backward: false,
    };
    let second = traded::services(db.conn(), reader, &c, &ServiceFilter::default(), &after)
        .await
        .expect("page 2");
    assert_eq!(second.items.len(), 1);
    assert!(!second.has_next_page);
    assert_eq!(
        traded::count_services(db.conn(), reader, &c, &ServiceFilter::default())
            .await
            .expect("count"),
        3
    );
    // Sessions of services, in one batch; upcoming sessions paged by start.
    let by_service = traded::sessions_of_services(db.conn(), &[w.course.id, nss.id])
        .await
        .expect("batch");
    assert_eq!(by_service[&w.course.id].len(), 1);
    assert!(!by_service.contains_key(&nss.id));
    let upcoming = traded::sessions_page(
        db.conn(),
        reader,
        &SessionFilter {
            starts_from: Some(at(2026, 11, 23, 10)),
            ..Default::default()
        },
        &PageArgs::first(10),
    )
    .await
    .expect("sessions");
    assert_eq!(upcoming.items.len(), 1);
    assert_eq!(upcoming.items[0].places_left(), 10);
}

async fn sessions_are_checked_before_they_are_scheduled(db: TestDb) {
    let w = world(&db).await;
    let c = clock();
    let mut bad = new_session(&w.course, 0);
    bad.booking_deadline = at(2027, 1, 13, 9);
    bad.parts.push(part(at(2027, 1, 19, 12), 2)); // overlaps the second day
    bad.parts[0].venue = None;
    bad.policy = CancellationPolicy {
        free_until_days: 2,
        late_fee_percent: 50,
        no_refund_within_days: 5,
    };
    let errors = field_errors(traded::create_session(db.conn(), &w.admin, &c, bad).await);
    for expected in [
        ("capacity", ErrorCode::OutOfRange),
        ("bookingDeadline", ErrorCode::OutOfRange),
        ("parts", ErrorCode::Conflict),
        ("parts.0.venue", ErrorCode::Required),
        ("policy.noRefundWithinDays", ErrorCode::OutOfRange),
    ] {
        assert!(
            errors.contains(&(expected.0.to_owned(), expected.1)),
            "{expected:?} in {errors:?}"
        );
    }
    let mut past = new_session(&w.course, 5);
    past.parts = vec![part(at(2026, 11, 1, 9), 3)];
    past.booking_deadline = at(2026, 10, 30, 9);
    assert_eq!(
        field_error(traded::create_session(db.conn(), &w.admin, &c, past).await),
        ("parts.0.startsAt".to_owned(), ErrorCode::OutOfRange)
    );
    assert_forbidden(
        traded::create_session(db.conn(), &w.head_oak, &c, new_session(&w.course, 5)).await,
    );
    // A consultancy day is a session of one place.
    let day_in_school = published(
        &db,
        NewService {
            category: Category::Consultancy,
            delivery: Delivery::InSchool,
            ..new_service("CONSULT-DAY", 65_000, Some(80_000))
        },
    )
    .await;
    let mut one = new_session(&day_in_school, 1);
    one.parts = vec![traded::SessionPart {
        venue: None,
        ..part(at(2027, 2, 2, 9), 6)
    }];
    let s = traded::create_session(db.conn(), &w.admin, &c, one)
        .await
        .expect("one place");
    assert_eq!((s.capacity, s.parts.len()), (1, 1));
    assert_eq!(s.academic_year, year());
}

/// `services_with_sessions` reads the page `services` reads, each service with the sessions
/// `sessions_of_services` gives it, in one statement: forward and backward, for those who
/// see drafts and those who do not, with a page's limit counting services, not sessions.
async fn a_page_of_services_comes_with_its_sessions_in_one_statement(mut db: TestDb) {
    let w = world(&db).await;
    let c = clock();
    let busy = published(&db, new_service("AAA-BUSY", 10_000, None)).await;
    // Scheduled out of date order: the page must give them by start.
    for weeks in [3, 1, 2] {
        let mut input = new_session(&busy, 5);
        let shift = chrono::Duration::weeks(weeks);
        for p in &mut input.parts {
            p.starts_at += shift;
            p.ends_at += shift;
        }
        input.booking_deadline += shift;
        scheduled(&db, input).await;
    }
    published(&db, new_service("AAB-EMPTY", 10_000, None)).await;
    let draft = traded::create_service(
        db.conn(),
        &Actor::System,
        &c,
        new_service("AAC-DRAFT", 1, None),
    )
    .await
    .expect("draft");
    scheduled(&db, new_session(&draft, 3)).await;
    let counter = db.count_statements();
    // Drafts asked for: shown only to those who manage the catalogue.
    let filter = ServiceFilter {
        include_unpublished: true,
        ..ServiceFilter::default()
    };

    for (reader, sees_drafts) in [(&w.head_alder, false), (&w.admin, true)] {
        let everything = traded::services(db.conn(), reader, &c, &filter, &PageArgs::first(100))
            .await
            .expect("all");
        let ids: Vec<_> = everything.items.iter().map(|s| s.id).collect();
        let sessions = traded::sessions_of_services(db.conn(), &ids)
            .await
            .expect("sessions");
        let expected = |page: &membership::Page<traded::Service>| -> Vec<_> {
            page.items
                .iter()
                .map(|s| (s.clone(), sessions.get(&s.id).cloned().unwrap_or_default()))
                .collect()
        };
        // The world's course, the busy one, the empty one; and the draft for its managers.
        assert_eq!(everything.items.len(), 3 + usize::from(sees_drafts));
        assert_eq!(
            everything.items.iter().any(|s| s.id == draft.id),
            sees_drafts
        );
        for backward in [false, true] {
            let mut args = PageArgs {
                after: None,
                before: None,
                limit: 2,
                backward,
            };
            let mut pages = 0;
            loop {
                let plain = traded::services(db.conn(), reader, &c, &filter, &args)
                    .await
                    .expect("page");
                counter.reset();
                let with = traded::services_with_sessions(db.conn(), reader, &c, &filter, &args)
                    .await
                    .expect("page with sessions");
                assert_eq!(
                    counter.get(),
                    1,
                    "one statement for the page and its sessions"
                );
                let shown: Vec<_> = with
                    .items
                    .iter()
                    .map(|(s, list)| (s.clone(), list.clone()))
                    .collect();
                assert_eq!(shown, expected(&plain), "page {pages}, backward {backward}");
                assert_eq!(
                    (with.has_next_page, with.has_previous_page),
                    (plain.has_next_page, plain.has_previous_page)
                );
                assert_eq!(with.items.len(), plain.items.len());
                pages += 1;
                let more = if backward {
                    with.has_previous_page
                } else {
                    with.has_next_page
                };
                if !more {
                    break;
                }
                if backward {
                    args.before = with.items.first().map(|(s, _)| s.sort_key());
                } else {
                    args.after = with.items.last().map(|(s, _)| s.sort_key());
                }
            }
            assert_eq!(pages, everything.items.len().div_ceil(2));
        }
    }
    let busy_page = traded::services_with_sessions(
        db.conn(),
        &w.head_alder,
        &c,
        &ServiceFilter {
            text: Some("AAA-BUSY".into()),
            ..Default::default()
        },
        &PageArgs::first(1),
    )
    .await
    .expect("busy");
    let (service, sessions) = &busy_page.items[0];
    assert_eq!(service.id, busy.id);
    let starts: Vec<_> = sessions.iter().map(|s| s.starts_at).collect();
    let mut sorted = starts.clone();
    sorted.sort();
    assert_eq!(
        (starts.len(), starts.clone()),
        (3, sorted),
        "three sessions, by start"
    );
}

testkit::db_tests!(
    services_are_managed_by_admins_and_read_by_everyone,
    the_catalogue_is_searched_filtered_and_paged,
    sessions_are_checked_before_they_are_scheduled,
    a_page_of_services_comes_with_its_sessions_in_one_statement,
);
