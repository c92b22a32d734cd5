//! Deriving entitlements per tier, phase and pro-rata; idempotency; late activations;
//! draw-forward repaid from the next year. On SQLite and PostgreSQL.

use crate::support;

use kernel::{AcademicYear, Actor};
use membership::school::types::Phase;
use offer::{Allowance, EntryKind, NewTransfer};
use support::*;
use testkit::TestDb;

async fn grants_follow_tier_phase_and_pro_rata(db: TestDb) {
    let w = world(&db).await;
    let report = offer::derive_entitlements(db.conn(), &w.admin, &clock(), year())
        .await
        .expect("derive");
    // Alder, Birch, Cedar, Damson and Elm are active; Fir is pending and gets nothing.
    assert_eq!(report.memberships, 5);
    // FULL schools: 5 items each (4 schools); ASSOCIATE: SIP, briefings, BPSI.
    assert_eq!(report.entitlements_created, 4 * 5 + 3);
    assert_eq!(report.top_ups, 0);

    let sip = |school| balance(&db, school, w.items.sip);
    assert_eq!(sip(w.alder).await.granted, 4, "FULL, every phase");
    assert_eq!(sip(w.birch).await.granted, 3, "FULL, infant row");
    assert_eq!(sip(w.cedar).await.granted, 6, "FULL, secondary row");
    assert_eq!(sip(w.damson).await.granted, 1, "ASSOCIATE");
    // Elm joins on 5 January: 8 of 12 months. 4 × 8 / 12 = 2.67 → 3; 20 × 8 / 12 = 13.3 → 13.
    assert_eq!(sip(w.elm).await.granted, 3);
    assert_eq!(balance(&db, w.elm, w.items.bpsi).await.granted, 13);
    // CPD places are not pro-rata: the joiner gets the full ten.
    assert_eq!(balance(&db, w.elm, w.items.cpd).await.granted, 10);

    let briefings = balance(&db, w.alder, w.items.briefings).await;
    assert!(briefings.unlimited);
    assert_eq!(briefings.remaining(), None);

    let damson = offer::offer_of_school(db.conn(), &Actor::System, w.damson, year())
        .await
        .expect("offer");
    let names: Vec<&str> = damson.lines.iter().map(|l| l.item.code.as_str()).collect();
    assert_eq!(names, ["BPSI_HOURS", "BRIEFINGS", "SIP_DAYS"]);
    assert!(
        offer::offer_of_school(db.conn(), &Actor::System, w.fir, year())
            .await
            .expect("offer")
            .lines
            .is_empty(),
        "a pending member has no offer yet"
    );

    // The grant says where it came from.
    let page = offer::entries_page(
        db.conn(),
        &Actor::System,
        w.elm,
        w.items.sip,
        year(),
        &membership::PageArgs::first(10),
    )
    .await
    .expect("page");
    assert_eq!(page.items.len(), 1);
    let grant = &page.items[0];
    assert_eq!(grant.kind, EntryKind::Grant);
    assert_eq!(grant.occurred_on, day(2027, 1, 5));
    assert!(
        grant
            .reason
            .as_deref()
            .unwrap_or("")
            .contains("8 of 12 months"),
        "{grant:?}"
    );
}

async fn rerunning_grants_nothing_twice_and_tops_up_raised_quantities(db: TestDb) {
    let w = derived_world(&db).await;
    let before = footprint(&db).await;
    let again = offer::derive_entitlements(db.conn(), &w.admin, &clock(), year())
        .await
        .expect("rerun");
    assert_eq!(again.entitlements_created, 0);
    assert_eq!(again.grants, 0);
    let after = footprint(&db).await;
    assert_eq!((before.0, before.1), (after.0, after.1), "no new rows");

    // Raise the infant quantity: the rerun grants the difference, once.
    quantity(
        &db,
        w.items.sip,
        w.full,
        Some(Phase::Infant),
        Allowance::Limited(5),
    )
    .await;
    let raised = offer::derive_entitlements(db.conn(), &w.admin, &clock(), year())
        .await
        .expect("rerun");
    assert_eq!((raised.grants, raised.top_ups), (1, 1));
    assert_eq!(balance(&db, w.birch, w.items.sip).await.granted, 5);
    let third = offer::derive_entitlements(db.conn(), &w.admin, &clock(), year())
        .await
        .expect("rerun");
    assert_eq!(third.grants, 0);

    // Lowering takes nothing back: that is an adjustment, with a reason.
    quantity(
        &db,
        w.items.sip,
        w.full,
        Some(Phase::Infant),
        Allowance::Limited(1),
    )
    .await;
    offer::derive_entitlements(db.conn(), &w.admin, &clock(), year())
        .await
        .expect("rerun");
    assert_eq!(balance(&db, w.birch, w.items.sip).await.granted, 5);
}

async fn a_membership_activated_later_is_granted_on_the_next_run(db: TestDb) {
    let w = derived_world(&db).await;
    let fir_membership = membership::memberships::of_schools(db.conn(), &[w.fir])
        .await
        .expect("memberships")
        .remove(&w.fir)
        .expect("fir")
        .remove(0);
    membership::memberships::activate(db.conn(), &Actor::System, &clock(), fir_membership.id)
        .await
        .expect("activate");
    let report = offer::derive_entitlements(db.conn(), &w.admin, &clock(), year())
        .await
        .expect("derive");
    assert_eq!(report.entitlements_created, 5);
    assert_eq!(report.top_ups, 0);
    assert_eq!(balance(&db, w.fir, w.items.sip).await.granted, 4);
    assert_eq!(
        balance(&db, w.alder, w.items.sip).await.granted,
        4,
        "untouched"
    );
}

async fn only_admins_derive(db: TestDb) {
    let w = world(&db).await;
    for who in [&w.finance, &w.head_alder, &w.staff_birch, &w.offer_key] {
        assert_forbidden(offer::derive_entitlements(db.conn(), who, &clock(), year()).await);
    }
    assert_eq!(footprint(&db).await, (0, 0, 0));
}

async fn draw_forward_is_taken_back_from_next_years_allowance(db: TestDb) {
    let w = derived_world(&db).await;
    offer::draw_forward(
        db.conn(),
        &w.admin,
        &clock(),
        NewTransfer {
            school_id: w.alder,
            item_id: w.items.bpsi,
            year: year(),
            quantity: 4,
            reference: None,
            reason: Some("Extra support before the inspection window".into()),
        },
    )
    .await
    .expect("draw forward");
    assert_eq!(
        balance(&db, w.alder, w.items.bpsi).await.remaining(),
        Some(24)
    );

    // 2027/28: Alder renews; the derivation grants 20 and takes the 4 back, once.
    let next = AcademicYear::starting(2027).expect("year");
    enrol(&db, w.alder, w.full, 2027, None, true).await;
    offer::set_quantity(
        db.conn(),
        &Actor::System,
        &clock(),
        offer::QuantitySetting {
            item_id: w.items.bpsi,
            year: next,
            tier_id: w.full,
            phase: None,
            allowance: Allowance::Limited(20),
        },
    )
    .await
    .expect("quantity");
    let report = offer::derive_entitlements(db.conn(), &w.admin, &clock(), next)
        .await
        .expect("derive");
    assert_eq!(report.draw_forwards_repaid, 1);
    let again = offer::derive_entitlements(db.conn(), &w.admin, &clock(), next)
        .await
        .expect("rerun");
    assert_eq!(again.draw_forwards_repaid, 0);
    let next_year = offer::offer_of_school(db.conn(), &Actor::System, w.alder, next)
        .await
        .expect("offer")
        .lines
        .into_iter()
        .find(|l| l.item.id == w.items.bpsi)
        .expect("bpsi")
        .balance;
    assert_eq!(next_year.granted, 20);
    assert_eq!(next_year.drawn_forward, -4);
    assert_eq!(next_year.remaining(), Some(16));
}

/// Next year's offer starts as this year's: every quantity is copied once, a quantity the
/// admin already set for next year is kept, an item no longer offered is left behind, and a
/// second roll copies nothing.
async fn a_years_quantities_roll_forward_once(db: TestDb) {
    use kernel::ErrorCode;
    use offer::{ItemQuantity, QuantitySetting, RolledForward};

    let w = world(&db).await;
    let next = kernel::AcademicYear::starting(2027).expect("year");
    // Already decided for next year: more school-improvement days.
    offer::set_quantity(
        db.conn(),
        &w.admin,
        &clock(),
        QuantitySetting {
            item_id: w.items.sip,
            year: next,
            tier_id: w.full,
            phase: None,
            allowance: Allowance::Limited(5),
        },
    )
    .await
    .expect("set");
    // Network meetings are no longer offered.
    offer::update_item(
        db.conn(),
        &w.admin,
        &clock(),
        w.items.network,
        offer::OfferItemPatch {
            active: Some(false),
            ..offer::OfferItemPatch::default()
        },
    )
    .await
    .expect("retire");

    for actor in [&w.head_alder, &w.finance] {
        assert_forbidden(offer::roll_forward(db.conn(), actor, &clock(), year(), next).await);
    }
    let (field, code) =
        field_error(offer::roll_forward(db.conn(), &w.admin, &clock(), next, year()).await);
    assert_eq!((field.as_str(), code), ("toYear", ErrorCode::OutOfRange));

    let done = offer::roll_forward(db.conn(), &w.admin, &clock(), year(), next)
        .await
        .expect("roll");
    assert_eq!(
        done,
        RolledForward {
            copied: 8,
            kept: 1,
            skipped_inactive: 1
        }
    );
    let again = offer::roll_forward(db.conn(), &w.admin, &clock(), year(), next)
        .await
        .expect("again");
    assert_eq!(again.copied, 0);
    assert_eq!(again.kept, 9);

    let all = offer::quantities_of_items(
        db.conn(),
        &[w.items.sip, w.items.briefings, w.items.network],
    )
    .await
    .expect("quantities");
    let of = |item, year: kernel::AcademicYear| -> Vec<ItemQuantity> {
        all.get(&item)
            .into_iter()
            .flatten()
            .filter(|q| q.year == year)
            .cloned()
            .collect()
    };
    let sip_next = of(w.items.sip, next);
    assert_eq!(
        sip_next.len(),
        4,
        "FULL, FULL infant, FULL secondary, ASSOCIATE"
    );
    let full_all_phases = sip_next
        .iter()
        .find(|q| q.tier_id == w.full && q.phase.is_none())
        .expect("FULL");
    assert_eq!(
        full_all_phases.allowance,
        Allowance::Limited(5),
        "kept, not overwritten"
    );
    assert!(
        of(w.items.briefings, next)
            .iter()
            .all(|q| q.allowance == Allowance::Unlimited)
    );
    assert_eq!(of(w.items.briefings, next).len(), 2);
    assert!(
        of(w.items.network, next).is_empty(),
        "a retired item is not rolled"
    );
}

testkit::db_tests!(
    a_years_quantities_roll_forward_once,
    grants_follow_tier_phase_and_pro_rata,
    rerunning_grants_nothing_twice_and_tops_up_raised_quantities,
    a_membership_activated_later_is_granted_on_the_next_run,
    only_admins_derive,
    draw_forward_is_taken_back_from_next_years_allowance,
);
