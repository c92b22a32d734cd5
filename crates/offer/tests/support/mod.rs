//! A small partnership for the offer's tests: schools of several phases and both tiers, a
//! mid-year joiner and a pending member, the people who act on them, and a catalogue.

#![allow(dead_code)]

use chrono::{NaiveDate, TimeZone, Utc};
use kernel::{
    AcademicYear, Actor, ApiKeyActor, ApiKeyId, DomainError, ErrorCode, FixedClock, Money,
    OfferItemId, Role, SchoolId, Scope, SystemClock, TierId,
};
use membership::memberships::{self, Enrolment, NewTier, Principle};
use membership::people::{NewUser, users};
use membership::school::types::{EstablishmentType, Phase};
use membership::school::{self, NewSchool};
use offer::{Allowance, NewOfferItem, QuantitySetting, Unit};
use sea_orm::{ConnectionTrait, Statement};
use testkit::TestDb;

pub fn day(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).expect("valid date")
}

pub fn year() -> AcademicYear {
    AcademicYear::starting(2026).expect("year")
}

/// 23 November 2026: the autumn term of the year under test.
pub fn clock() -> FixedClock {
    FixedClock::new(
        Utc.with_ymd_and_hms(2026, 11, 23, 10, 0, 0)
            .single()
            .expect("time"),
    )
}

/// The field path and code of a single-field `Invalid`, or a panic naming what came instead.
pub fn field_error<T: std::fmt::Debug>(result: Result<T, DomainError>) -> (String, ErrorCode) {
    match result {
        Err(DomainError::Invalid(fields)) if fields.len() == 1 => {
            (fields[0].field.join("."), fields[0].code)
        }
        other => panic!("expected one field error, got {other:?}"),
    }
}

pub fn assert_forbidden<T: std::fmt::Debug>(result: Result<T, DomainError>) {
    match result {
        Err(DomainError::Forbidden(_)) => {}
        other => panic!("expected Forbidden, got {other:?}"),
    }
}

pub fn assert_not_found<T: std::fmt::Debug>(result: Result<T, DomainError>) {
    match result {
        Err(DomainError::NotFound { .. }) => {}
        other => panic!("expected NotFound, got {other:?}"),
    }
}

pub struct Items {
    /// Partner days: FULL 4, infant 3, secondary 6; ASSOCIATE 1; pro-rata.
    pub sip: OfferItemId,
    /// Unlimited for both tiers.
    pub briefings: OfferItemId,
    /// Support hours: FULL 20, ASSOCIATE 10; pro-rata; cash-in up to 5, draw-forward 25%.
    pub bpsi: OfferItemId,
    /// Network places: FULL 2, may be overdrawn; not for ASSOCIATE.
    pub network: OfferItemId,
    /// CPD places: FULL 10, not pro-rata.
    pub cpd: OfferItemId,
}

pub struct World {
    pub full: TierId,
    pub associate: TierId,
    /// FULL primary.
    pub alder: SchoolId,
    /// FULL infant.
    pub birch: SchoolId,
    /// FULL secondary.
    pub cedar: SchoolId,
    /// ASSOCIATE primary.
    pub damson: SchoolId,
    /// FULL primary joining on 5 January 2027.
    pub elm: SchoolId,
    /// FULL primary, enrolled but not active.
    pub fir: SchoolId,
    pub items: Items,
    pub admin: Actor,
    pub finance: Actor,
    /// Alder's head.
    pub head_alder: Actor,
    /// Birch's staff.
    pub staff_birch: Actor,
    /// An integration holding `offer:read`.
    pub offer_key: Actor,
    /// An integration holding only `directory:read`.
    pub directory_key: Actor,
}

async fn new_school(db: &TestDb, urn: &str, name: &str, phase: Phase) -> SchoolId {
    school::create(
        db.conn(),
        &SystemClock,
        &Actor::System,
        NewSchool {
            urn: urn.to_owned(),
            name: name.to_owned(),
            phase,
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

fn key(scopes: Vec<Scope>) -> Actor {
    Actor::ApiKey(ApiKeyActor {
        id: ApiKeyId::new(),
        name: "portal".into(),
        scopes,
    })
}

async fn tier(db: &TestDb, code: &str) -> TierId {
    memberships::create_tier(
        db.conn(),
        &Actor::System,
        &SystemClock,
        NewTier {
            code: code.into(),
            name: code.into(),
            description: String::new(),
        },
    )
    .await
    .expect("tier")
    .id
}

pub async fn enrol(
    db: &TestDb,
    school: SchoolId,
    tier: TierId,
    start: i32,
    starts_on: Option<NaiveDate>,
    activate: bool,
) {
    let year = AcademicYear::starting(start).expect("year");
    let m = memberships::enrol(
        db.conn(),
        &Actor::System,
        &SystemClock,
        Enrolment {
            school_id: school,
            year,
            tier_id: tier,
            starts_on,
        },
    )
    .await
    .expect("enrol");
    memberships::accept_principles(
        db.conn(),
        &Actor::System,
        &SystemClock,
        m.id,
        Principle::ALL,
    )
    .await
    .expect("accept");
    if activate {
        memberships::activate(db.conn(), &Actor::System, &SystemClock, m.id)
            .await
            .expect("activate");
    }
}

pub fn new_item(code: &str, unit: Unit, pence: i64) -> NewOfferItem {
    NewOfferItem {
        code: code.into(),
        name: code.replace('_', " ").to_lowercase(),
        description: String::new(),
        unit,
        unit_value: Money::from_pence(pence),
        pro_rata: false,
        allows_overdraft: false,
        cash_in_limit: None,
        draw_forward_percent: None,
    }
}

pub async fn quantity(
    db: &TestDb,
    item: OfferItemId,
    tier: TierId,
    phase: Option<Phase>,
    allowance: Allowance,
) {
    offer::set_quantity(
        db.conn(),
        &Actor::System,
        &SystemClock,
        QuantitySetting {
            item_id: item,
            year: year(),
            tier_id: tier,
            phase,
            allowance,
        },
    )
    .await
    .expect("quantity");
}

async fn create(db: &TestDb, item: NewOfferItem) -> OfferItemId {
    offer::create_item(db.conn(), &Actor::System, &SystemClock, item)
        .await
        .expect("item")
        .id
}

/// The partnership, its catalogue and quantities; memberships of 2026/27 are enrolled and
/// activated but entitlements are not yet derived.
pub async fn world(db: &TestDb) -> World {
    let full = tier(db, "FULL").await;
    let associate = tier(db, "ASSOCIATE").await;
    let alder = new_school(db, "100001", "Alder Primary", Phase::Primary).await;
    let birch = new_school(db, "100002", "Birch Infant", Phase::Infant).await;
    let cedar = new_school(db, "100003", "Cedar High", Phase::Secondary).await;
    let damson = new_school(db, "100004", "Damson Primary", Phase::Primary).await;
    let elm = new_school(db, "100005", "Elm Primary", Phase::Primary).await;
    let fir = new_school(db, "100006", "Fir Primary", Phase::Primary).await;
    for s in [alder, birch, cedar] {
        enrol(db, s, full, 2026, None, true).await;
    }
    enrol(db, damson, associate, 2026, None, true).await;
    enrol(db, elm, full, 2026, Some(day(2027, 1, 5)), true).await;
    enrol(db, fir, full, 2026, None, false).await;

    let sip = create(
        db,
        NewOfferItem {
            pro_rata: true,
            ..new_item("SIP_DAYS", Unit::Days, 65_000)
        },
    )
    .await;
    let briefings = create(db, new_item("BRIEFINGS", Unit::Places, 9_500)).await;
    let bpsi = create(
        db,
        NewOfferItem {
            pro_rata: true,
            cash_in_limit: Some(5),
            draw_forward_percent: Some(25),
            ..new_item("BPSI_HOURS", Unit::Hours, 8_500)
        },
    )
    .await;
    let network = create(
        db,
        NewOfferItem {
            allows_overdraft: true,
            ..new_item("NETWORK", Unit::Places, 6_000)
        },
    )
    .await;
    let cpd = create(db, new_item("CPD_PLACES", Unit::Places, 14_500)).await;
    use Allowance::{Limited, Unlimited};
    quantity(db, sip, full, None, Limited(4)).await;
    quantity(db, sip, full, Some(Phase::Infant), Limited(3)).await;
    quantity(db, sip, full, Some(Phase::Secondary), Limited(6)).await;
    quantity(db, sip, associate, None, Limited(1)).await;
    quantity(db, briefings, full, None, Unlimited).await;
    quantity(db, briefings, associate, None, Unlimited).await;
    quantity(db, bpsi, full, None, Limited(20)).await;
    quantity(db, bpsi, associate, None, Limited(10)).await;
    quantity(db, network, full, None, Limited(2)).await;
    quantity(db, cpd, full, None, Limited(10)).await;

    World {
        full,
        associate,
        alder,
        birch,
        cedar,
        damson,
        elm,
        fir,
        items: Items {
            sip,
            briefings,
            bpsi,
            network,
            cpd,
        },
        admin: person(db, "admin@p.example", Role::PartnershipAdmin, vec![]).await,
        finance: person(db, "finance@p.example", Role::Finance, vec![]).await,
        head_alder: person(db, "head@alder.example", Role::SchoolLeader, vec![alder]).await,
        staff_birch: person(db, "staff@birch.example", Role::SchoolStaff, vec![birch]).await,
        offer_key: key(vec![Scope::OfferRead]),
        directory_key: key(vec![Scope::DirectoryRead]),
    }
}

/// The world with 2026/27's entitlements derived.
pub async fn derived_world(db: &TestDb) -> World {
    let w = world(db).await;
    offer::derive_entitlements(db.conn(), &w.admin, &clock(), year())
        .await
        .expect("derive");
    w
}

/// Rows in a table: to prove a refused request wrote nothing.
pub async fn rows(db: &TestDb, table: &str) -> i64 {
    db.conn()
        .query_one_raw(Statement::from_string(
            db.conn().get_database_backend(),
            format!("SELECT COUNT(*) AS n FROM {table}"),
        ))
        .await
        .expect("count")
        .expect("row")
        .try_get::<i64>("", "n")
        .expect("n")
}

/// Every row the offer writes, as (entitlements, entries, sum of versions).
pub async fn footprint(db: &TestDb) -> (i64, i64, i64) {
    let versions = db
        .conn()
        .query_one_raw(Statement::from_string(
            db.conn().get_database_backend(),
            "SELECT CAST(COALESCE(SUM(version), 0) AS BIGINT) AS n FROM offer_entitlements",
        ))
        .await
        .expect("sum")
        .expect("row")
        .try_get::<i64>("", "n")
        .expect("n");
    (
        rows(db, "offer_entitlements").await,
        rows(db, "offer_ledger_entries").await,
        versions,
    )
}

/// A school's balance on an item, as the admin sees it.
pub async fn balance(db: &TestDb, school: SchoolId, item: OfferItemId) -> offer::Balance {
    offer::offer_of_school(db.conn(), &Actor::System, school, year())
        .await
        .expect("offer")
        .lines
        .into_iter()
        .find(|l| l.item.id == item)
        .expect("entitled")
        .balance
}
