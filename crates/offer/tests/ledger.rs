//! Usage, reversals, adjustments and the BPSI rules against real databases: what each one
//! does to the balance, every refused input with nothing written, and who may do what.

use crate::support;

use kernel::{Actor, ErrorCode, Money, OfferEntryId, Term};
use membership::PageArgs;
use offer::{EntryKind, NewAdjustment, NewTransfer, NewUsage};
use support::*;
use testkit::TestDb;

fn usage(school: kernel::SchoolId, item: kernel::OfferItemId, quantity: i64) -> NewUsage {
    NewUsage {
        school_id: school,
        item_id: item,
        quantity,
        occurred_on: day(2026, 10, 14),
        reference: Some("booking-1".into()),
        reason: None,
    }
}

fn transfer(school: kernel::SchoolId, item: kernel::OfferItemId, quantity: i64) -> NewTransfer {
    NewTransfer {
        school_id: school,
        item_id: item,
        year: year(),
        quantity,
        reference: None,
        reason: None,
    }
}

async fn usage_reversal_and_adjustment_move_the_balance(db: TestDb) {
    let w = derived_world(&db).await;
    let c = clock();
    let used = offer::record_usage(db.conn(), &w.admin, &c, usage(w.alder, w.items.cpd, 3))
        .await
        .expect("usage");
    assert_eq!(
        (used.kind, used.quantity, used.term),
        (EntryKind::Usage, -3, Term::Autumn)
    );
    assert_eq!(used.recorded_by, w.admin.as_user().map(|u| u.id));
    let b = balance(&db, w.alder, w.items.cpd).await;
    assert_eq!((b.granted, b.used(), b.remaining()), (10, 3, Some(7)));

    let back = offer::reverse_usage(db.conn(), &w.admin, &c, used.id, Some("cancelled".into()))
        .await
        .expect("reverse");
    assert_eq!((back.kind, back.quantity), (EntryKind::Reversal, 3));
    assert_eq!(back.reversal_of, Some(used.id));
    assert_eq!(back.occurred_on, used.occurred_on, "same term as the usage");
    assert_eq!(
        balance(&db, w.alder, w.items.cpd).await.remaining(),
        Some(10)
    );

    // A usage is reversed once; only usages are reversed.
    let before = footprint(&db).await;
    assert_eq!(
        field_error(offer::reverse_usage(db.conn(), &w.admin, &c, used.id, None).await),
        ("entryId".into(), ErrorCode::Conflict)
    );
    assert_eq!(
        field_error(offer::reverse_usage(db.conn(), &w.admin, &c, back.id, None).await),
        ("entryId".into(), ErrorCode::Conflict)
    );
    assert_not_found(
        offer::reverse_usage(db.conn(), &w.admin, &c, OfferEntryId::new(), None).await,
    );
    assert_eq!(footprint(&db).await, before);

    offer::adjust(
        db.conn(),
        &w.admin,
        &c,
        NewAdjustment {
            school_id: w.alder,
            item_id: w.items.cpd,
            year: year(),
            quantity: -2,
            reason: "Two places were given to the federation partner".into(),
        },
    )
    .await
    .expect("adjust");
    let b = balance(&db, w.alder, w.items.cpd).await;
    assert_eq!(
        (b.adjusted, b.entitlement(), b.remaining()),
        (-2, 8, Some(8))
    );

    // Unlimited items take any usage and never run out.
    offer::record_usage(
        db.conn(),
        &w.admin,
        &c,
        usage(w.alder, w.items.briefings, 40),
    )
    .await
    .expect("unlimited");
    let b = balance(&db, w.alder, w.items.briefings).await;
    assert_eq!((b.used(), b.remaining()), (40, None));

    // An item that allows overdraft goes below zero.
    offer::record_usage(db.conn(), &w.admin, &c, usage(w.alder, w.items.network, 3))
        .await
        .expect("overdraft");
    assert_eq!(
        balance(&db, w.alder, w.items.network).await.remaining(),
        Some(-1)
    );
}

/// Part of a usage comes back (a late cancellation returns what its policy does not keep):
/// 1 to what was used, once, and the rest stays used.
async fn part_of_a_usage_is_given_back_once(db: TestDb) {
    let w = derived_world(&db).await;
    let c = clock();
    let used = offer::record_usage(db.conn(), &w.admin, &c, usage(w.alder, w.items.cpd, 3))
        .await
        .expect("usage");
    let before = footprint(&db).await;
    for bad in [0, -1, 4, i64::MAX, i64::MIN] {
        assert_eq!(
            field_error(
                offer::reverse_usage_part(db.conn(), &w.admin, &c, used.id, bad, None).await
            ),
            ("quantity".into(), ErrorCode::OutOfRange),
            "{bad}"
        );
    }
    assert_eq!(
        footprint(&db).await,
        before,
        "a refused reversal writes nothing"
    );
    let back = offer::reverse_usage_part(db.conn(), &w.admin, &c, used.id, 2, None)
        .await
        .expect("part back");
    assert_eq!((back.kind, back.quantity), (EntryKind::Reversal, 2));
    assert_eq!(back.reversal_of, Some(used.id));
    let b = balance(&db, w.alder, w.items.cpd).await;
    assert_eq!((b.used(), b.remaining()), (1, Some(9)));
    assert_eq!(
        field_error(offer::reverse_usage(db.conn(), &w.admin, &c, used.id, None).await),
        ("entryId".into(), ErrorCode::Conflict),
        "the rest stays used"
    );
}

async fn cash_in_and_draw_forward_within_their_limits(db: TestDb) {
    let w = derived_world(&db).await;
    let c = clock();
    offer::cash_in(db.conn(), &w.admin, &c, transfer(w.alder, w.items.bpsi, 3))
        .await
        .expect("cash in");
    offer::cash_in(db.conn(), &w.admin, &c, transfer(w.alder, w.items.bpsi, 2))
        .await
        .expect("cash in up to the limit of 5");
    let before = footprint(&db).await;
    assert_eq!(
        field_error(
            offer::cash_in(db.conn(), &w.admin, &c, transfer(w.alder, w.items.bpsi, 1)).await
        ),
        ("quantity".into(), ErrorCode::OutOfRange),
        "beyond the yearly cash-in limit"
    );
    assert_eq!(footprint(&db).await, before);

    // 25% of 20 hours: 5 may be drawn forward in all.
    offer::draw_forward(db.conn(), &w.admin, &c, transfer(w.alder, w.items.bpsi, 4))
        .await
        .expect("draw forward");
    assert_eq!(
        field_error(
            offer::draw_forward(db.conn(), &w.admin, &c, transfer(w.alder, w.items.bpsi, 2)).await
        ),
        ("quantity".into(), ErrorCode::OutOfRange),
        "beyond the draw-forward limit"
    );
    offer::draw_forward(db.conn(), &w.admin, &c, transfer(w.alder, w.items.bpsi, 1))
        .await
        .expect("up to the limit");
    let b = balance(&db, w.alder, w.items.bpsi).await;
    assert_eq!(
        (b.cashed_in, b.drawn_forward, b.remaining()),
        (5, 5, Some(20))
    );
}

/// What was tried, what came back, and the field error expected.
type Case = (
    &'static str,
    Result<offer::LedgerEntry, kernel::DomainError>,
    (&'static str, ErrorCode),
);

async fn bad_input_is_refused_and_writes_nothing(db: TestDb) {
    let w = derived_world(&db).await;
    let c = clock();
    // Use most of Birch's CPD so "more than remains" is easy to hit.
    offer::record_usage(db.conn(), &w.admin, &c, usage(w.birch, w.items.cpd, 9))
        .await
        .expect("usage");
    offer::record_usage(db.conn(), &w.admin, &c, usage(w.birch, w.items.bpsi, 18))
        .await
        .expect("usage");
    let before = footprint(&db).await;

    let cases: Vec<Case> = vec![
        (
            "more than remains",
            offer::record_usage(db.conn(), &w.admin, &c, usage(w.birch, w.items.cpd, 2)).await,
            ("quantity", ErrorCode::OutOfRange),
        ),
        (
            "negative usage",
            offer::record_usage(db.conn(), &w.admin, &c, usage(w.birch, w.items.cpd, -1)).await,
            ("quantity", ErrorCode::OutOfRange),
        ),
        (
            "zero usage",
            offer::record_usage(db.conn(), &w.admin, &c, usage(w.birch, w.items.cpd, 0)).await,
            ("quantity", ErrorCode::OutOfRange),
        ),
        (
            "no active membership",
            offer::record_usage(db.conn(), &w.admin, &c, usage(w.fir, w.items.cpd, 1)).await,
            ("schoolId", ErrorCode::Conflict),
        ),
        (
            "no membership in that year",
            offer::record_usage(
                db.conn(),
                &w.admin,
                &c,
                NewUsage {
                    occurred_on: day(2027, 10, 1),
                    ..usage(w.birch, w.items.cpd, 1)
                },
            )
            .await,
            ("schoolId", ErrorCode::Conflict),
        ),
        (
            "before a mid-year joiner started",
            offer::record_usage(db.conn(), &w.admin, &c, usage(w.elm, w.items.cpd, 1)).await,
            ("occurredOn", ErrorCode::OutOfRange),
        ),
        (
            "not in the school's offer",
            offer::record_usage(db.conn(), &w.admin, &c, usage(w.damson, w.items.cpd, 1)).await,
            ("itemId", ErrorCode::Conflict),
        ),
        (
            "unknown item",
            offer::record_usage(
                db.conn(),
                &w.admin,
                &c,
                usage(w.birch, kernel::OfferItemId::new(), 1),
            )
            .await,
            ("itemId", ErrorCode::NotFound),
        ),
        (
            "unknown school",
            offer::record_usage(
                db.conn(),
                &w.admin,
                &c,
                usage(kernel::SchoolId::new(), w.items.cpd, 1),
            )
            .await,
            ("schoolId", ErrorCode::NotFound),
        ),
        (
            "cash-in of an item that does not allow it",
            offer::cash_in(db.conn(), &w.admin, &c, transfer(w.birch, w.items.cpd, 1)).await,
            ("itemId", ErrorCode::Conflict),
        ),
        (
            "cash-in of more than remains",
            offer::cash_in(db.conn(), &w.admin, &c, transfer(w.birch, w.items.bpsi, 3)).await,
            ("quantity", ErrorCode::OutOfRange),
        ),
        (
            "negative cash-in",
            offer::cash_in(db.conn(), &w.admin, &c, transfer(w.birch, w.items.bpsi, -2)).await,
            ("quantity", ErrorCode::OutOfRange),
        ),
        (
            "draw-forward beyond the limit",
            offer::draw_forward(db.conn(), &w.admin, &c, transfer(w.birch, w.items.bpsi, 6)).await,
            ("quantity", ErrorCode::OutOfRange),
        ),
        (
            "draw-forward of an item that does not allow it",
            offer::draw_forward(db.conn(), &w.admin, &c, transfer(w.birch, w.items.sip, 1)).await,
            ("itemId", ErrorCode::Conflict),
        ),
        (
            "draw-forward without an active membership",
            offer::draw_forward(db.conn(), &w.admin, &c, transfer(w.fir, w.items.bpsi, 1)).await,
            ("schoolId", ErrorCode::Conflict),
        ),
        (
            "adjustment without a reason",
            offer::adjust(
                db.conn(),
                &w.admin,
                &c,
                NewAdjustment {
                    school_id: w.birch,
                    item_id: w.items.cpd,
                    year: year(),
                    quantity: 1,
                    reason: "   ".into(),
                },
            )
            .await,
            ("reason", ErrorCode::Required),
        ),
        (
            "adjustment to below nothing",
            offer::adjust(
                db.conn(),
                &w.admin,
                &c,
                NewAdjustment {
                    school_id: w.birch,
                    item_id: w.items.cpd,
                    year: year(),
                    quantity: -2,
                    reason: "Correction".into(),
                },
            )
            .await,
            ("quantity", ErrorCode::OutOfRange),
        ),
        (
            "adjustment of an unlimited item",
            offer::adjust(
                db.conn(),
                &w.admin,
                &c,
                NewAdjustment {
                    school_id: w.birch,
                    item_id: w.items.briefings,
                    year: year(),
                    quantity: 2,
                    reason: "Correction".into(),
                },
            )
            .await,
            ("itemId", ErrorCode::Conflict),
        ),
    ];
    for (what, result, (field, code)) in cases {
        assert_eq!(field_error(result), (field.to_owned(), code), "{what}");
        assert_eq!(footprint(&db).await, before, "{what} wrote something");
    }

    // Every problem is reported at once.
    match offer::record_usage(
        db.conn(),
        &w.admin,
        &c,
        NewUsage {
            reference: Some("x".repeat(300)),
            ..usage(w.fir, kernel::OfferItemId::new(), -1)
        },
    )
    .await
    {
        Err(kernel::DomainError::Invalid(fields)) => {
            let mut got: Vec<String> = fields.iter().map(|f| f.field.join(".")).collect();
            got.sort();
            assert_eq!(got, ["itemId", "quantity", "reference", "schoolId"]);
        }
        other => panic!("expected field errors, got {other:?}"),
    }
    assert_eq!(footprint(&db).await, before);
}

async fn items_and_quantities_are_validated(db: TestDb) {
    let w = world(&db).await;
    let c = clock();
    let before = rows(&db, "offer_items").await;
    match offer::create_item(
        db.conn(),
        &w.admin,
        &c,
        offer::NewOfferItem {
            name: " ".into(),
            unit_value: Money::from_pence(-1),
            cash_in_limit: Some(0),
            draw_forward_percent: Some(101),
            ..new_item("bad code", offer::Unit::Hours, 1)
        },
    )
    .await
    {
        Err(kernel::DomainError::Invalid(fields)) => {
            let mut got: Vec<String> = fields.iter().map(|f| f.field.join(".")).collect();
            got.sort();
            assert_eq!(
                got,
                [
                    "cashInLimit",
                    "code",
                    "drawForwardPercent",
                    "name",
                    "unitValuePence"
                ]
            );
        }
        other => panic!("expected field errors, got {other:?}"),
    }
    assert_eq!(
        field_error(
            offer::create_item(
                db.conn(),
                &w.admin,
                &c,
                new_item("CPD_PLACES", offer::Unit::Places, 1)
            )
            .await
        ),
        ("code".into(), ErrorCode::Taken)
    );
    assert_eq!(rows(&db, "offer_items").await, before);
    assert_forbidden(
        offer::create_item(
            db.conn(),
            &w.finance,
            &c,
            new_item("NEW_ITEM", offer::Unit::Items, 1),
        )
        .await,
    );

    let updated = offer::update_item(
        db.conn(),
        &w.admin,
        &c,
        w.items.cpd,
        offer::OfferItemPatch {
            unit_value: Some(Money::from_pence(15_000)),
            cash_in_limit: Some(Some(2)),
            active: Some(false),
            ..offer::OfferItemPatch::default()
        },
    )
    .await
    .expect("update");
    assert_eq!(updated.unit_value, Money::from_pence(15_000));
    assert_eq!((updated.cash_in_limit, updated.active), (Some(2), false));
    let listed = offer::items(db.conn(), &w.head_alder, false)
        .await
        .expect("items");
    assert!(
        listed.iter().all(|i| i.id != w.items.cpd),
        "inactive left out"
    );
    assert_eq!(
        offer::items(db.conn(), &w.admin, true)
            .await
            .expect("all")
            .len(),
        5
    );

    let q_before = rows(&db, "offer_item_quantities").await;
    assert_eq!(
        field_error(
            offer::set_quantity(
                db.conn(),
                &w.admin,
                &c,
                offer::QuantitySetting {
                    item_id: w.items.sip,
                    year: year(),
                    tier_id: w.full,
                    phase: None,
                    allowance: offer::Allowance::Limited(-1),
                },
            )
            .await
        ),
        ("quantity".into(), ErrorCode::OutOfRange)
    );
    assert_eq!(
        field_error(
            offer::set_quantity(
                db.conn(),
                &w.admin,
                &c,
                offer::QuantitySetting {
                    item_id: w.items.sip,
                    year: year(),
                    tier_id: kernel::TierId::new(),
                    phase: None,
                    allowance: offer::Allowance::Limited(1),
                },
            )
            .await
        ),
        ("tierId".into(), ErrorCode::NotFound)
    );
    assert_eq!(rows(&db, "offer_item_quantities").await, q_before);
    let quantities = offer::quantities_of_items(db.conn(), &[w.items.sip])
        .await
        .expect("quantities");
    assert_eq!(quantities[&w.items.sip].len(), 4);
}

async fn schools_read_their_own_offer_only(db: TestDb) {
    let w = derived_world(&db).await;
    let c = clock();
    // Alder's head reads Alder's, not Birch's (which is "not found", not "forbidden").
    assert!(
        !offer::offer_of_school(db.conn(), &w.head_alder, w.alder, year())
            .await
            .expect("own")
            .lines
            .is_empty()
    );
    assert_not_found(offer::offer_of_school(db.conn(), &w.head_alder, w.birch, year()).await);
    assert_not_found(offer::offer_of_school(db.conn(), &w.staff_birch, w.alder, year()).await);
    assert_not_found(
        offer::entries_page(
            db.conn(),
            &w.staff_birch,
            w.alder,
            w.items.sip,
            year(),
            &PageArgs::first(5),
        )
        .await,
    );
    assert_not_found(offer::value_statement(db.conn(), &w.head_alder, w.birch, year(), None).await);
    assert!(offer::may_read(&w.staff_birch, w.birch) && !offer::may_read(&w.staff_birch, w.alder));
    // Staff and keys holding offer:read see everyone's; other keys nothing.
    for who in [&w.finance, &w.admin, &w.offer_key] {
        offer::offer_of_school(db.conn(), who, w.birch, year())
            .await
            .expect("staff and offer:read keys read every school");
    }
    assert_forbidden(offer::offer_of_school(db.conn(), &w.directory_key, w.birch, year()).await);
    assert_forbidden(offer::items(db.conn(), &w.directory_key, false).await);
    assert!(!offer::may_read(&w.directory_key, w.birch));

    // Nobody but partnership admins records, reverses, adjusts, cashes in or draws forward.
    let before = footprint(&db).await;
    for who in [&w.finance, &w.head_alder, &w.staff_birch, &w.offer_key] {
        assert_forbidden(
            offer::record_usage(db.conn(), who, &c, usage(w.alder, w.items.cpd, 1)).await,
        );
        assert_forbidden(offer::reverse_usage(db.conn(), who, &c, OfferEntryId::new(), None).await);
        assert_forbidden(
            offer::cash_in(db.conn(), who, &c, transfer(w.alder, w.items.bpsi, 1)).await,
        );
        assert_forbidden(
            offer::draw_forward(db.conn(), who, &c, transfer(w.alder, w.items.bpsi, 1)).await,
        );
        assert_forbidden(
            offer::adjust(
                db.conn(),
                who,
                &c,
                NewAdjustment {
                    school_id: w.alder,
                    item_id: w.items.cpd,
                    year: year(),
                    quantity: 1,
                    reason: "because".into(),
                },
            )
            .await,
        );
    }
    assert_eq!(footprint(&db).await, before);
}

async fn ledger_pages_newest_first_and_batches_in_one_statement(mut db: TestDb) {
    let w = derived_world(&db).await;
    let c = clock();
    let mut ids = Vec::new();
    for n in 0..5 {
        c.advance(chrono::Duration::seconds(1));
        let e = offer::record_usage(
            db.conn(),
            &w.admin,
            &c,
            NewUsage {
                reference: Some(format!("visit-{n}")),
                ..usage(w.alder, w.items.briefings, 1)
            },
        )
        .await
        .expect("usage");
        ids.push(e.id);
    }
    let newest_first: Vec<OfferEntryId> = ids.iter().rev().copied().collect();
    // Two pages of 3, following the cursor: 5 usages then the grant, newest first.
    let first = offer::entries_page(
        db.conn(),
        &w.head_alder,
        w.alder,
        w.items.briefings,
        year(),
        &PageArgs::first(3),
    )
    .await
    .expect("page");
    assert_eq!(
        first.items.iter().map(|e| e.id).collect::<Vec<_>>(),
        newest_first[..3]
    );
    assert!(first.has_next_page && !first.has_previous_page);
    let after = first.items.last().expect("last").sort_key();
    let second = offer::entries_page(
        db.conn(),
        &w.head_alder,
        w.alder,
        w.items.briefings,
        year(),
        &PageArgs {
            after: Some(after),
            before: None,
            limit: 3,
            backward: false,
        },
    )
    .await
    .expect("page");
    assert_eq!(second.items.len(), 3);
    assert_eq!(
        second.items[..2].iter().map(|e| e.id).collect::<Vec<_>>(),
        newest_first[3..]
    );
    assert_eq!(second.items[2].kind, EntryKind::Grant);
    assert!(!second.has_next_page && second.has_previous_page);
    // And back again with `last/before`.
    let back = offer::entries_page(
        db.conn(),
        &w.head_alder,
        w.alder,
        w.items.briefings,
        year(),
        &PageArgs {
            after: None,
            before: Some(second.items[0].sort_key()),
            limit: 2,
            backward: true,
        },
    )
    .await
    .expect("page");
    assert_eq!(
        back.items.iter().map(|e| e.id).collect::<Vec<_>>(),
        newest_first[1..3]
    );

    // The dashboard's batches: one statement each, however many schools and items.
    let keys: Vec<_> = [w.alder, w.birch, w.cedar]
        .into_iter()
        .flat_map(|s| [(s, w.items.sip), (s, w.items.briefings), (s, w.items.cpd)])
        .collect();
    let counter = db.count_statements();
    let latest = offer::latest_entries_of_school_items(db.conn(), &keys, year(), 2)
        .await
        .expect("latest");
    assert_eq!(counter.get(), 1);
    assert_eq!(
        latest[&(w.alder, w.items.briefings)]
            .iter()
            .map(|e| e.id)
            .collect::<Vec<_>>(),
        newest_first[..2]
    );
    assert_eq!(latest[&(w.birch, w.items.sip)].len(), 1, "just the grant");

    // With each entry's recorder: still one statement, the same entries in the same order,
    // and each recorder the user `recorded_by` names (none for derivation's grants).
    counter.reset();
    let with_recorders = offer::latest_entries_with_recorders(db.conn(), &keys, year(), 2)
        .await
        .expect("latest with recorders");
    assert_eq!(counter.get(), 1, "entries and recorders in one statement");
    let mut keys_seen: Vec<_> = with_recorders.keys().copied().collect();
    let mut keys_expected: Vec<_> = latest.keys().copied().collect();
    keys_seen.sort();
    keys_expected.sort();
    assert_eq!(keys_seen, keys_expected);
    let recorder_ids: Vec<_> = with_recorders
        .values()
        .flatten()
        .filter_map(|(e, _)| e.recorded_by)
        .collect();
    let users = membership::people::users::by_ids(db.conn(), &recorder_ids)
        .await
        .expect("users");
    let (mut people, mut trellis) = (0, 0);
    for (key, entries) in &with_recorders {
        let plain: Vec<_> = entries.iter().map(|(e, _)| e.clone()).collect();
        assert_eq!(plain, latest[key], "the same entries for {key:?}");
        for (entry, recorder) in entries {
            if let Some(id) = entry.recorded_by {
                people += 1;
                assert_eq!(recorder.as_ref(), Some(&users[&id]), "{entry:?}");
            } else {
                trellis += 1;
                assert_eq!(recorder, &None, "{entry:?}");
            }
        }
    }
    assert!(
        people > 0 && trellis > 0,
        "{people} by people, {trellis} by Trellis"
    );
    counter.reset();
    let balances = offer::balances_of_schools(db.conn(), &[w.alder, w.birch, w.damson], year())
        .await
        .expect("balances");
    assert_eq!(counter.get(), 1);
    assert_eq!(balances[&w.alder].len(), 5);
    assert_eq!(balances[&w.damson].len(), 3);
    let alder_briefings = balances[&w.alder]
        .iter()
        .find(|b| b.item_id == w.items.briefings)
        .expect("b");
    assert_eq!((alder_briefings.entries, alder_briefings.used()), (6, 5));

    // The same balances with their items, still one statement, each school's lines by name.
    counter.reset();
    let lines = offer::lines_of_schools(db.conn(), &[w.alder, w.birch, w.damson], year())
        .await
        .expect("lines");
    assert_eq!(counter.get(), 1, "balances and items in one statement");
    assert_eq!(lines.len(), balances.len());
    let ids: Vec<_> = lines
        .values()
        .flatten()
        .map(|l| l.balance.item_id)
        .collect();
    let items = offer::items_by_ids(db.conn(), &ids).await.expect("items");
    for (school, list) in &lines {
        let mut from_lines: Vec<_> = list.iter().map(|l| l.balance).collect();
        let mut expected = balances[school].clone();
        from_lines.sort_by_key(|b| b.item_id);
        expected.sort_by_key(|b| b.item_id);
        assert_eq!(from_lines, expected, "the same balances");
        for line in list {
            assert_eq!(line.item.id, line.balance.item_id);
            assert_eq!(
                &line.item, &items[&line.item.id],
                "the item as items_by_ids reads it"
            );
        }
        let names: Vec<&str> = list.iter().map(|l| l.item.name.as_str()).collect();
        let mut sorted = names.clone();
        sorted.sort_unstable();
        assert_eq!(names, sorted, "by item name");
    }

    // Both at once, as a dashboard shows them: one statement, each school's lines as
    // `lines_of_schools` reads them (in the same order), each line with the newest entries
    // (and their recorders when asked) as `latest_entries_with_recorders` reads them.
    let schools = [w.alder, w.birch, w.cedar, w.damson];
    let lines = offer::lines_of_schools(db.conn(), &schools, year())
        .await
        .expect("lines");
    let keys: Vec<_> = lines
        .values()
        .flatten()
        .map(|l| (l.balance.school_id, l.item.id))
        .collect();
    // 2 cuts Alder's briefings short, 7 takes all six; 0 asks for the lines alone.
    for (limit, recorders) in [(2, true), (2, false), (7, true), (0, true)] {
        counter.reset();
        let overview =
            offer::lines_with_latest_entries(db.conn(), &schools, year(), limit, recorders)
                .await
                .expect("overview");
        assert_eq!(counter.get(), 1, "one statement for {limit} rows");
        let latest = offer::latest_entries_with_recorders(db.conn(), &keys, year(), limit)
            .await
            .expect("latest");
        let mut schools_seen: Vec<_> = overview.keys().copied().collect();
        let mut schools_expected: Vec<_> = lines.keys().copied().collect();
        schools_seen.sort();
        schools_expected.sort();
        assert_eq!(schools_seen, schools_expected);
        let mut entries_seen = 0;
        for (school, list) in &lines {
            let got: Vec<_> = overview[school].iter().map(|l| &l.line).collect();
            assert_eq!(got, list.iter().collect::<Vec<_>>(), "{school:?}'s lines");
            for line in &overview[school] {
                let expected: Vec<_> = latest
                    .get(&(*school, line.line.item.id))
                    .cloned()
                    .unwrap_or_default()
                    .into_iter()
                    .map(|(entry, recorder)| (entry, recorder.filter(|_| recorders)))
                    .collect();
                assert_eq!(line.latest, expected, "{school:?}, {}", line.line.item.code);
                entries_seen += expected.len();
            }
        }
        assert_eq!(entries_seen == 0, limit == 0, "{entries_seen} entries");
    }
    let alder = offer::lines_with_latest_entries(db.conn(), &[w.alder], year(), 7, true)
        .await
        .expect("overview");
    let briefings = alder[&w.alder]
        .iter()
        .find(|l| l.line.item.id == w.items.briefings)
        .expect("briefings");
    assert_eq!(
        briefings
            .latest
            .iter()
            .map(|(e, _)| e.id)
            .collect::<Vec<_>>()[..5],
        newest_first[..],
        "newest first"
    );
    assert!(
        briefings.latest.iter().any(|(_, r)| r.is_some()),
        "recorders read"
    );
}

async fn value_statement_values_use_per_term(db: TestDb) {
    let w = derived_world(&db).await;
    let c = clock();
    let at = |y, m, d| NewUsage {
        occurred_on: day(y, m, d),
        ..usage(w.alder, w.items.sip, 1)
    };
    offer::record_usage(db.conn(), &w.admin, &c, at(2026, 10, 5))
        .await
        .expect("autumn");
    offer::record_usage(db.conn(), &w.admin, &c, at(2027, 2, 5))
        .await
        .expect("spring");
    let cancelled = offer::record_usage(db.conn(), &w.admin, &c, at(2027, 3, 5))
        .await
        .expect("spring");
    offer::reverse_usage(db.conn(), &w.admin, &c, cancelled.id, None)
        .await
        .expect("reverse");
    offer::record_usage(
        db.conn(),
        &w.admin,
        &c,
        NewUsage {
            occurred_on: day(2027, 2, 1),
            ..usage(w.alder, w.items.cpd, 2)
        },
    )
    .await
    .expect("cpd");

    let year_statement = offer::value_statement(db.conn(), &w.head_alder, w.alder, year(), None)
        .await
        .expect("statement");
    // SIP days at £650: one in autumn, one in spring (the other reversed); CPD 2 × £145.
    assert_eq!(
        year_statement.total,
        Money::from_pence(65_000 * 2 + 14_500 * 2)
    );
    let spring =
        offer::value_statement(db.conn(), &w.offer_key, w.alder, year(), Some(Term::Spring))
            .await
            .expect("spring");
    let lines: Vec<(String, i64, i64)> = spring
        .lines
        .iter()
        .map(|l| (l.item.code.clone(), l.used, l.value.pence()))
        .collect();
    assert_eq!(
        lines,
        [
            ("CPD_PLACES".to_owned(), 2, 29_000),
            ("SIP_DAYS".to_owned(), 1, 65_000)
        ]
    );
    assert_eq!(spring.total, Money::from_pence(94_000));
    let summer = offer::value_statement(
        db.conn(),
        &Actor::System,
        w.alder,
        year(),
        Some(Term::Summer),
    )
    .await
    .expect("summer");
    assert!(summer.lines.is_empty());
    assert_eq!(summer.total, Money::zero());
}

/// The audit's case: `i64::MAX` units on an unlimited item was accepted and then every read
/// of that school's offer failed for good. Now every quantity input is 1..=100,000 (adjustments
/// ±100,000, not zero), values 0p..=£10,000,000 and dates 2000..=2099, refused with the field
/// named and nothing written; the largest allowed usages still sum and read back.
async fn extreme_quantities_are_refused_and_the_offer_still_reads(db: TestDb) {
    let w = derived_world(&db).await;
    let c = clock();
    let before = footprint(&db).await;
    for q in [i64::MAX, i64::MIN, 0, -1, 100_001] {
        let unlimited = offer::record_usage(
            db.conn(),
            &w.admin,
            &c,
            usage(w.alder, w.items.briefings, q),
        )
        .await;
        assert_eq!(
            field_error(unlimited),
            ("quantity".into(), ErrorCode::OutOfRange),
            "{q}"
        );
        let limited =
            offer::record_usage(db.conn(), &w.admin, &c, usage(w.alder, w.items.cpd, q)).await;
        assert_eq!(
            field_error(limited),
            ("quantity".into(), ErrorCode::OutOfRange),
            "{q}"
        );
        for transfer_result in [
            offer::cash_in(db.conn(), &w.admin, &c, transfer(w.alder, w.items.sip, q)).await,
            offer::draw_forward(db.conn(), &w.admin, &c, transfer(w.alder, w.items.sip, q)).await,
        ] {
            // The item's own refusal may come too; the quantity is named either way.
            assert!(
                matches!(&transfer_result, Err(kernel::DomainError::Invalid(fields))
                    if fields.iter().any(|f| f.field == ["quantity"] && f.code == ErrorCode::OutOfRange)),
                "{q}: {transfer_result:?}"
            );
        }
    }
    for q in [i64::MAX, i64::MIN, 0, 100_001, -100_001] {
        let adjusted = offer::adjust(
            db.conn(),
            &w.admin,
            &c,
            NewAdjustment {
                school_id: w.alder,
                item_id: w.items.cpd,
                year: year(),
                quantity: q,
                reason: "hostile".into(),
            },
        )
        .await;
        assert_eq!(
            field_error(adjusted),
            ("quantity".into(), ErrorCode::OutOfRange),
            "{q}"
        );
    }
    for bad in [day(26, 11, 2), day(1, 1, 1)] {
        let dated = offer::record_usage(
            db.conn(),
            &w.admin,
            &c,
            NewUsage {
                occurred_on: bad,
                ..usage(w.alder, w.items.briefings, 1)
            },
        )
        .await;
        assert_eq!(
            field_error(dated),
            ("occurredOn".into(), ErrorCode::OutOfRange)
        );
    }
    let dear = offer::create_item(
        db.conn(),
        &w.admin,
        &c,
        new_item("DEAR", offer::Unit::Days, 1_000_000_001),
    )
    .await;
    assert_eq!(
        field_error(dear),
        ("unitValuePence".into(), ErrorCode::OutOfRange)
    );
    assert_eq!(footprint(&db).await, before, "nothing was written");

    // The most one usage may carry, twice, on the unlimited item: the offer still reads.
    for _ in 0..2 {
        offer::record_usage(
            db.conn(),
            &w.admin,
            &c,
            usage(w.alder, w.items.briefings, 100_000),
        )
        .await
        .expect("largest usage");
    }
    let b = balance(&db, w.alder, w.items.briefings).await;
    assert_eq!((b.used(), b.remaining()), (200_000, None));
    offer::balances_of_schools(db.conn(), &[w.alder], year())
        .await
        .expect("the dashboard's read still works");
}

testkit::db_tests!(
    usage_reversal_and_adjustment_move_the_balance,
    part_of_a_usage_is_given_back_once,
    cash_in_and_draw_forward_within_their_limits,
    bad_input_is_refused_and_writes_nothing,
    items_and_quantities_are_validated,
    schools_read_their_own_offer_only,
    ledger_pages_newest_first_and_batches_in_one_statement,
    value_statement_values_use_per_term,
    extreme_quantities_are_refused_and_the_offer_still_reads,
);
