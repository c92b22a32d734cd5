//! Fixtures shared by the ledger's database tests.
#![allow(dead_code)]

use billing::ledger::accounts::{
    self, AccountKind, Address, BillingAccount, NewBillingAccount, PaymentMethod,
};
use billing::ledger::{
    Instalment, Invoice, InvoiceCollection, InvoiceSource, NewInvoice, NewInvoiceLine,
    VatTreatment, issue_invoice,
};
use chrono::{NaiveDate, TimeZone, Utc};
use kernel::{
    AcademicYear, Actor, DomainError, ErrorCode, FixedClock, Money, Role, SchoolId, UserActor,
    UserId,
};
use membership::school::types::{EstablishmentType, Phase};
use membership::school::{self, NewSchool};
use sea_orm::DatabaseConnection;

/// 15 September 2026, early in 2026/27.
pub fn clock() -> FixedClock {
    FixedClock::new(
        Utc.with_ymd_and_hms(2026, 9, 15, 10, 0, 0)
            .single()
            .expect("time"),
    )
}

pub fn year() -> AcademicYear {
    AcademicYear::starting(2026).expect("year")
}

pub fn date(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).expect("date")
}

pub fn gbp(pence: i64) -> Money {
    Money::from_pence(pence)
}

pub fn user(role: Role, schools: &[SchoolId]) -> Actor {
    Actor::User(UserActor {
        id: UserId::new(),
        email: format!("{}@example.org", role.as_str().to_lowercase()),
        role,
        schools: schools.to_vec(),
    })
}

/// The one finance officer: the same caller every time, so a retried idempotency key is
/// theirs (keys are scoped to their caller).
pub fn finance() -> Actor {
    Actor::User(UserActor {
        id: UserId::from_uuid(uuid::Uuid::from_u128(0xF1)),
        email: "finance@example.org".to_owned(),
        role: Role::Finance,
        schools: vec![],
    })
}

pub async fn school(db: &DatabaseConnection, urn: u32, name: &str) -> SchoolId {
    school::create(
        db,
        &clock(),
        &Actor::System,
        NewSchool {
            urn: format!("{urn:06}"),
            name: name.to_owned(),
            phase: Phase::Primary,
            establishment_type: EstablishmentType::Community,
            local_authority: "Haringey".to_owned(),
            postcode: "N22 6HH".to_owned(),
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

pub fn new_account(kind: AccountKind, name: &str, schools: &[SchoolId]) -> NewBillingAccount {
    NewBillingAccount {
        kind,
        name: name.to_owned(),
        contact_name: "Pat Bursar".to_owned(),
        contact_email: "bursar@example.org".to_owned(),
        address: Address {
            lines: vec!["1 High Road".to_owned(), "London".to_owned()],
            postcode: "N22 6HH".to_owned(),
        },
        default_method: PaymentMethod::BankTransfer,
        school_ids: schools.to_vec(),
    }
}

/// A SCHOOL account paying for one new school.
pub async fn school_account(
    db: &DatabaseConnection,
    urn: u32,
    name: &str,
) -> (SchoolId, BillingAccount) {
    let s = school(db, urn, name).await;
    let account = accounts::create(
        db,
        &finance(),
        &clock(),
        new_account(AccountKind::School, name, &[s]),
    )
    .await
    .expect("account");
    (s, account)
}

pub fn line(pence: i64) -> NewInvoiceLine {
    NewInvoiceLine {
        description: "Membership 2026/27".to_owned(),
        quantity: 1,
        unit_amount: gbp(pence),
        vat_treatment: VatTreatment::Exempt,
        vat_rate_bp: 0,
        cfr_code: Some("E19".to_owned()),
        school_id: None,
        membership_id: None,
        booking_id: None,
    }
}

pub fn new_invoice(
    account: &BillingAccount,
    instalment: Instalment,
    lines: Vec<NewInvoiceLine>,
) -> NewInvoice {
    NewInvoice {
        account_id: account.id,
        year: year(),
        instalment,
        due_on: date(2026, 10, 15),
        lines,
        po_number: None,
        source: InvoiceSource::Manual,
        collection: InvoiceCollection::Send,
    }
}

/// Issues an ad-hoc invoice of one exempt line.
pub async fn invoice(db: &DatabaseConnection, account: &BillingAccount, pence: i64) -> Invoice {
    issue_invoice(
        db,
        &finance(),
        &clock(),
        new_invoice(account, Instalment::None, vec![line(pence)]),
    )
    .await
    .expect("issue")
    .invoice
}

/// Asserts an `Invalid` error with exactly one problem at `field` with `code`.
#[track_caller]
pub fn assert_invalid<T: std::fmt::Debug>(
    result: Result<T, DomainError>,
    field: &str,
    code: ErrorCode,
) {
    match result {
        Err(DomainError::Invalid(problems)) => {
            assert!(
                problems
                    .iter()
                    .any(|p| p.field.join(".") == field && p.code == code),
                "expected {field} {code:?}, got {problems:?}"
            );
        }
        other => panic!("expected invalid {field}, got {other:?}"),
    }
}
