//! A small partnership for the traded services' tests: member and non-member schools with
//! billing accounts, a providing school, the people who act for them, a core-offer CPD
//! allowance, and a catalogue with sessions in the spring term of 2026/27.

#![allow(dead_code)]

use billing::ledger::accounts::{self, AccountKind, Address, NewBillingAccount, PaymentMethod};
use billing::ledger::invoices::VatTreatment;
use billing::provider::RecordedCards;
use chrono::{DateTime, Duration, NaiveDate, TimeZone, Utc};
use kernel::{
    AcademicYear, Actor, ApiKeyActor, ApiKeyId, DomainError, ErrorCode, FixedClock, Money,
    OfferItemId, Role, SchoolId, Scope, SystemClock, TierId,
};
use membership::memberships::{self, Enrolment, NewTier, Principle};
use membership::people::{NewUser, users};
use membership::school::types::{Designation, EstablishmentType, Phase};
use membership::school::{self, NewSchool};
use offer::{Allowance, NewOfferItem, QuantitySetting, Unit};
use sea_orm::{ConnectionTrait, Statement};
use testkit::TestDb;
use traded::{
    Attendance, AttendanceMark, BookingOutcome, CancellationPolicy, Category, Delivery,
    NewAttendee, NewBooking, NewService, NewSession, Service, Session, SessionPart, Settlement,
};

/// Takes cards (payments wait until the test records the money), like Stripe without a call.
pub const PROVIDER: RecordedCards = RecordedCards;

pub fn at(y: i32, m: u32, d: u32, h: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(y, m, d, h, 0, 0)
        .single()
        .expect("time")
}

pub fn day(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).expect("date")
}

pub fn year() -> AcademicYear {
    AcademicYear::starting(2026).expect("year")
}

/// 23 November 2026, 10:00: the autumn term.
pub fn clock() -> FixedClock {
    FixedClock::new(at(2026, 11, 23, 10))
}

pub fn field_error<T: std::fmt::Debug>(result: Result<T, DomainError>) -> (String, ErrorCode) {
    match result {
        Err(DomainError::Invalid(fields)) if fields.len() == 1 => {
            (fields[0].field.join("."), fields[0].code)
        }
        other => panic!("expected one field error, got {other:?}"),
    }
}

/// Every field error, as (path, code).
pub fn field_errors<T: std::fmt::Debug>(
    result: Result<T, DomainError>,
) -> Vec<(String, ErrorCode)> {
    match result {
        Err(DomainError::Invalid(fields)) => fields
            .into_iter()
            .map(|f| (f.field.join("."), f.code))
            .collect(),
        other => panic!("expected field errors, got {other:?}"),
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

pub struct World {
    pub full: TierId,
    /// Member primary with a CPD allowance of 3 places and a billing account.
    pub alder: SchoolId,
    /// Member primary with a billing account.
    pub birch: SchoolId,
    /// Not a member; billing account.
    pub cedar: SchoolId,
    /// Member, a National Support School providing school-to-school support.
    pub oak: SchoolId,
    pub cpd: OfferItemId,
    pub admin: Actor,
    pub finance: Actor,
    pub head_alder: Actor,
    pub staff_alder: Actor,
    pub head_birch: Actor,
    pub head_cedar: Actor,
    pub head_oak: Actor,
    pub catalogue_key: Actor,
    /// A published CPD course payable from the offer: £150 members, £225 others.
    pub course: Service,
    /// Its session: two days, 12 and 19 January 2027, ten places, booking closes 5 January.
    pub session: Session,
}

async fn new_school(
    db: &TestDb,
    urn: &str,
    name: &str,
    designations: Vec<Designation>,
) -> SchoolId {
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
            designations,
            has_sixth_form: false,
            opened_on: None,
            is_demo: false,
        },
    )
    .await
    .expect("school")
    .id
}

pub async fn person(db: &TestDb, email: &str, role: Role, schools: Vec<SchoolId>) -> Actor {
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

async fn enrol(db: &TestDb, school: SchoolId, tier: TierId) {
    let m = memberships::enrol(
        db.conn(),
        &Actor::System,
        &SystemClock,
        Enrolment {
            school_id: school,
            year: year(),
            tier_id: tier,
            starts_on: None,
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
    memberships::activate(db.conn(), &Actor::System, &SystemClock, m.id)
        .await
        .expect("activate");
}

async fn account(db: &TestDb, school: SchoolId, name: &str) {
    accounts::create(
        db.conn(),
        &Actor::System,
        &clock(),
        NewBillingAccount {
            kind: AccountKind::School,
            name: name.to_owned(),
            contact_name: "Pat Bursar".to_owned(),
            contact_email: "bursar@example.org".to_owned(),
            address: Address {
                lines: vec!["1 High Road".to_owned(), "London".to_owned()],
                postcode: "N11 3HG".to_owned(),
            },
            default_method: PaymentMethod::BankTransfer,
            school_ids: vec![school],
        },
    )
    .await
    .expect("account");
}

pub fn new_service(code: &str, member_pence: i64, non_member_pence: Option<i64>) -> NewService {
    NewService {
        code: code.to_owned(),
        title: format!("{code} course"),
        category: Category::CpdCourse,
        description: "Practical strategies for the classroom.".to_owned(),
        audience: "Teachers".to_owned(),
        phases: vec![Phase::Primary],
        provider_school_id: None,
        provider_name: "School improvement team".to_owned(),
        delivery: Delivery::InPerson,
        member_price: Money::from_pence(member_pence),
        non_member_price: non_member_pence.map(Money::from_pence),
        vat_treatment: VatTreatment::Exempt,
        vat_rate_bp: 0,
        cfr_code: Some("E19".to_owned()),
        offer_item_id: None,
    }
}

pub fn part(start: DateTime<Utc>, hours: i64) -> SessionPart {
    SessionPart {
        starts_at: start,
        ends_at: start + Duration::hours(hours),
        venue: Some("Barnet Teachers' Centre".to_owned()),
        online_url: None,
    }
}

pub fn new_session(service: &Service, capacity: u32) -> NewSession {
    NewSession {
        service_id: service.id,
        label: Some("Spring cohort".to_owned()),
        parts: vec![part(at(2027, 1, 12, 9), 6), part(at(2027, 1, 19, 9), 6)],
        capacity,
        booking_deadline: at(2027, 1, 5, 17),
        policy: CancellationPolicy {
            free_until_days: 14,
            late_fee_percent: 50,
            no_refund_within_days: 2,
        },
        waitlist_offer_hours: Some(48),
    }
}

/// Creates and publishes a service.
pub async fn published(db: &TestDb, input: NewService) -> Service {
    let s = traded::create_service(db.conn(), &Actor::System, &clock(), input)
        .await
        .expect("service");
    traded::publish_service(db.conn(), &Actor::System, &clock(), s.id)
        .await
        .expect("publish")
}

/// A session of six places on a course Oak Primary (a National Support School) provides, so
/// Oak's leader takes its register.
pub async fn oak_session(db: &TestDb, w: &World) -> Session {
    let oak_course = published(
        db,
        NewService {
            provider_school_id: Some(w.oak),
            provider_name: "Oak Primary maths hub".into(),
            ..new_service("S2S-MATHS", 12_000, Some(18_000))
        },
    )
    .await;
    scheduled(db, new_session(&oak_course, 6)).await
}

pub async fn scheduled(db: &TestDb, input: NewSession) -> Session {
    traded::create_session(db.conn(), &Actor::System, &clock(), input)
        .await
        .expect("session")
}

pub async fn world(db: &TestDb) -> World {
    let full = memberships::create_tier(
        db.conn(),
        &Actor::System,
        &SystemClock,
        NewTier {
            code: "FULL".into(),
            name: "Full".into(),
            description: String::new(),
        },
    )
    .await
    .expect("tier")
    .id;
    let alder = new_school(db, "100001", "Alder Primary", vec![]).await;
    let birch = new_school(db, "100002", "Birch Primary", vec![]).await;
    let cedar = new_school(db, "100003", "Cedar Primary", vec![]).await;
    let oak = new_school(
        db,
        "100004",
        "Oak Primary",
        vec![Designation::NationalSupportSchool],
    )
    .await;
    for s in [alder, birch, oak] {
        enrol(db, s, full).await;
    }
    account(db, alder, "Alder Primary").await;
    account(db, birch, "Birch Primary").await;
    account(db, cedar, "Cedar Primary").await;
    let cpd = offer::create_item(
        db.conn(),
        &Actor::System,
        &SystemClock,
        NewOfferItem {
            code: "CPD_PLACES".into(),
            name: "CPD places".into(),
            description: String::new(),
            unit: Unit::Places,
            unit_value: Money::from_pence(15_000),
            pro_rata: false,
            allows_overdraft: false,
            cash_in_limit: None,
            draw_forward_percent: None,
        },
    )
    .await
    .expect("item")
    .id;
    offer::set_quantity(
        db.conn(),
        &Actor::System,
        &SystemClock,
        QuantitySetting {
            item_id: cpd,
            year: year(),
            tier_id: full,
            phase: None,
            allowance: Allowance::Limited(3),
        },
    )
    .await
    .expect("quantity");
    offer::derive_entitlements(db.conn(), &Actor::System, &clock(), year())
        .await
        .expect("derive");
    let course = published(
        db,
        NewService {
            offer_item_id: Some(cpd),
            ..new_service("CPD-PHONICS", 15_000, Some(22_500))
        },
    )
    .await;
    let session = scheduled(db, new_session(&course, 10)).await;
    World {
        full,
        alder,
        birch,
        cedar,
        oak,
        cpd,
        admin: person(db, "admin@p.example", Role::PartnershipAdmin, vec![]).await,
        finance: person(db, "finance@p.example", Role::Finance, vec![]).await,
        head_alder: person(db, "head@alder.example", Role::SchoolLeader, vec![alder]).await,
        staff_alder: person(db, "staff@alder.example", Role::SchoolStaff, vec![alder]).await,
        head_birch: person(db, "head@birch.example", Role::SchoolLeader, vec![birch]).await,
        head_cedar: person(db, "head@cedar.example", Role::SchoolLeader, vec![cedar]).await,
        head_oak: person(db, "head@oak.example", Role::SchoolLeader, vec![oak]).await,
        catalogue_key: Actor::ApiKey(ApiKeyActor {
            id: ApiKeyId::new(),
            name: "course finder".into(),
            scopes: vec![Scope::CatalogueRead],
        }),
        course,
        session,
    }
}

pub fn attendee(n: usize) -> NewAttendee {
    NewAttendee {
        name: format!("Teacher {n}"),
        email: format!("teacher{n}@school.example"),
        role: Some("Class teacher".to_owned()),
    }
}

pub fn booking(
    school: SchoolId,
    session: &Session,
    people: std::ops::Range<usize>,
    settlement: Settlement,
) -> NewBooking {
    NewBooking {
        school_id: school,
        session_id: session.id,
        attendees: people.map(attendee).collect(),
        settlement,
        po_number: Some("PO-1234".to_owned()),
        join_waitlist: false,
        idempotency_key: None,
    }
}

pub async fn book(
    db: &TestDb,
    actor: &Actor,
    clock: &FixedClock,
    input: NewBooking,
) -> Result<BookingOutcome, DomainError> {
    traded::book(db.conn(), actor, clock, &PROVIDER, input).await
}

/// Alder's leader books two places (teachers 0 and 1) and Birch's one (teacher 2) on
/// `session`, both on the termly invoice: the register most tests take.
pub async fn alder_two_and_birch_one(
    db: &TestDb,
    w: &World,
    clock: &FixedClock,
    session: &Session,
) -> (BookingOutcome, BookingOutcome) {
    let alder = book(
        db,
        &w.head_alder,
        clock,
        booking(w.alder, session, 0..2, Settlement::Invoice),
    )
    .await
    .expect("alder");
    let birch = book(
        db,
        &w.head_birch,
        clock,
        booking(w.birch, session, 2..3, Settlement::Invoice),
    )
    .await
    .expect("birch");
    (alder, birch)
}

/// One attendee's mark on a register.
pub fn mark(attendee_id: kernel::AttendeeId, attendance: Attendance) -> AttendanceMark {
    AttendanceMark {
        attendee_id,
        attendance,
    }
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

/// Everything a booking can write, for "nothing was written" checks.
pub async fn footprint(db: &TestDb) -> Vec<i64> {
    let mut out = Vec::new();
    for table in [
        "traded_bookings",
        "traded_attendees",
        "offer_ledger_entries",
        "invoices",
        "invoice_lines",
    ] {
        out.push(rows(db, table).await);
    }
    out.push(places_taken_total(db).await);
    out
}

pub async fn places_taken_total(db: &TestDb) -> i64 {
    db.conn()
        .query_one_raw(Statement::from_string(
            db.conn().get_database_backend(),
            "SELECT CAST(COALESCE(SUM(places_taken), 0) AS BIGINT) AS n FROM traded_sessions",
        ))
        .await
        .expect("sum")
        .expect("row")
        .try_get::<i64>("", "n")
        .expect("n")
}

pub async fn session_now(db: &TestDb, session: &Session) -> Session {
    traded::sessions_by_ids(db.conn(), &[session.id])
        .await
        .expect("load")
        .remove(&session.id)
        .expect("session")
}

pub async fn cpd_left(db: &TestDb, w: &World, school: SchoolId) -> Option<i64> {
    offer::offer_of_school(db.conn(), &Actor::System, school, year())
        .await
        .expect("offer")
        .lines
        .into_iter()
        .find(|l| l.item.id == w.cpd)
        .expect("entitled")
        .balance
        .remaining()
}

/// Records the card money for a booking's invoice, as the Stripe webhook would, and confirms
/// the booking.
pub async fn pay(db: &TestDb, clock: &FixedClock, done: &BookingOutcome) {
    use billing::ledger::payments::{self, NewPayment, ReceiptMethod};
    use kernel::Clock as _;
    let invoice_id = done.booking.invoice_id.expect("card invoice");
    let invoice = billing::ledger::invoices::invoices_by_ids(db.conn(), &[invoice_id])
        .await
        .expect("load")
        .remove(&invoice_id)
        .expect("invoice");
    let receipt = payments::record_payment(
        db.conn(),
        &Actor::System,
        clock,
        NewPayment {
            account_id: invoice.account_id,
            method: ReceiptMethod::Card,
            reference: format!("card {}", done.booking.id),
            received_on: clock.today(),
            amount: invoice.total,
            provider_payment_ref: done
                .card_payment
                .as_ref()
                .map(|p| p.payment.payment_ref.clone()),
            idempotency_key: None,
        },
    )
    .await
    .expect("receipt");
    payments::allocate(
        db.conn(),
        &Actor::System,
        clock,
        receipt.id,
        &[(invoice_id, invoice.total)],
        None,
    )
    .await
    .expect("allocate");
    traded::confirm_paid_bookings(db.conn(), clock, &[invoice_id])
        .await
        .expect("confirm");
}

pub async fn charge_of(
    db: &TestDb,
    booking: kernel::BookingId,
) -> Option<billing::charges::Charge> {
    billing::charges::charges_by_bookings(db.conn(), &[booking.as_uuid()])
        .await
        .expect("charges")
        .remove(&booking.as_uuid())
}
