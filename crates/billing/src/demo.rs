//! The demo ledger: 2026/27 fee schedules, billing accounts, the invoicing run and some
//! money, on top of the membership crate's demo directory (`membership::demo::seed`).
//!
//! Everything goes through the public services as [`Actor::System`], so the demo obeys every
//! rule real data does, and a newcomer finds each report with something in it: paid and
//! part-paid invoices, one BACS receipt spread over several invoices, account credit from an
//! overpayment, a receipt nobody could match, a credit note, and open invoices for aged debt.

use std::collections::BTreeMap;
use std::fmt;

use kernel::{
    AcademicYear, Actor, BillingAccountId, Clock, DomainError, InvoiceId, Money, SchoolId,
};
use membership::memberships::{self, Membership, MembershipFilter, MembershipStatus};
use membership::partnership::types::PartnershipKind;
use membership::partnership::{self, PartnershipFilter};
use membership::people::{Lookup, users};
use membership::school::types::RollCensus;
use membership::school::{self, School};
use membership::{MAX_PAGE, PageArgs};
use sea_orm::DatabaseConnection;

use crate::fees::{
    self, BillingFrequency, FeeRules, FeeRulesInput, Limit, NewFeeSchedule, PhaseAmounts, ProRata,
    RULES_VERSION, Selector, VatTreatment,
};
use crate::ledger::{
    self, AccountKind, Address, BillingAccount, CreditAmount, Instalment, Invoice,
    NewBillingAccount, NewCreditNote, NewPayment, PaymentMethod, ReceiptMethod,
};
use crate::run;

/// The year the demo is invoiced for (the membership demo's year).
pub const DEMO_YEAR: i32 = membership::demo::DEMO_YEAR;
/// The multi-academy trust that pays for its academies through one account.
pub const DEMO_TRUST: &str = "Barnet Partnership 15 – The Elliot Foundation";
/// The school leader whose school has paid part of its autumn instalment.
pub const PAID_SCHOOL_USER: &str = "head@holly-park.example";
/// How much one school overpaid, left on its account as credit.
pub const OVERPAYMENT: Money = Money::from_pence(10_000);
/// The partial credit note: 12 pupils at the FULL tier's £19, taken off an autumn instalment.
pub const CREDIT_NOTE_AMOUNT: Money = Money::from_pence(22_800);
pub const CREDIT_NOTE_REASON: &str = "October census corrected: the school's return counted 12 pupils \
     twice; 12 pupils at £19 credited against the autumn instalment";
/// The reference of the receipt finance could not match to an account's invoices.
pub const UNMATCHED_REFERENCE: &str = "BGC 0417 SCH FEES";

/// Why the seed did nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SeedSkipped {
    /// Billing accounts exist: the ledger holds real (or earlier demo) data.
    AccountsExist,
    /// The membership demo's FULL and ASSOCIATE tiers are not there to price.
    NoDemoTiers,
}

/// What seeding the demo ledger did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BillingSeedReport {
    pub accounts: usize,
    pub schedules: usize,
    pub invoices: usize,
    pub payments: usize,
    pub credit_notes: usize,
    /// The total invoiced by the run.
    pub invoiced: Money,
    pub skipped: Option<SeedSkipped>,
}

impl BillingSeedReport {
    const NOTHING: Self = Self {
        accounts: 0,
        schedules: 0,
        invoices: 0,
        payments: 0,
        credit_notes: 0,
        invoiced: Money::zero(),
        skipped: None,
    };
}

impl fmt::Display for BillingSeedReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.skipped {
            Some(SeedSkipped::AccountsExist) => {
                write!(f, "demo billing not loaded: billing accounts already exist")
            }
            Some(SeedSkipped::NoDemoTiers) => write!(
                f,
                "demo billing not loaded: the FULL and ASSOCIATE membership tiers are missing"
            ),
            None => write!(
                f,
                "demo billing loaded: {} fee schedules, {} billing accounts, {} invoices \
                 ({} in all), {} payments, {} credit notes",
                self.schedules,
                self.accounts,
                self.invoices,
                self.invoiced,
                self.payments,
                self.credit_notes
            ),
        }
    }
}

#[derive(Debug, thiserror::Error)]
#[error("demo billing data is inconsistent: {0}")]
struct BadDemoBilling(String);

fn bad(what: impl Into<String>) -> DomainError {
    DomainError::internal(BadDemoBilling(what.into()))
}

/// Loads the demo ledger; does nothing when any billing account exists.
///
/// # Errors
/// Whatever the services refuse (the demo is built to pass them), or infrastructure.
pub async fn seed(
    db: &DatabaseConnection,
    clock: &dyn Clock,
) -> Result<BillingSeedReport, DomainError> {
    let (mut report, accounts) = match open_ledger(db, clock).await? {
        Ok(opened) => opened,
        Err(skipped) => return Ok(skipped),
    };
    let year = AcademicYear::starting(DEMO_YEAR).map_err(|_| bad("year"))?;
    let run = run::start(db, &Actor::System, clock, year).await?;
    report.invoices = usize::try_from(run.invoices_created + run.invoices_existing)
        .map_err(DomainError::internal)?;
    report.invoiced = run.total;

    let money = record_money(db, clock, &accounts).await?;
    report.payments = money.payments;
    report.credit_notes = money.credit_notes;
    Ok(report)
}

/// The demo ledger before its invoicing run: the fee schedules and the accounts, with the
/// year not yet invoiced — where finance starts a draft run (`run::drafts`). Does nothing
/// if there are accounts.
///
/// # Errors
/// As [`seed`].
pub async fn seed_unbilled(
    db: &DatabaseConnection,
    clock: &dyn Clock,
) -> Result<BillingSeedReport, DomainError> {
    Ok(match open_ledger(db, clock).await? {
        Ok((report, _)) => report,
        Err(skipped) => skipped,
    })
}

/// The schedules and accounts of the demo year; `Err` with the report of why nothing was
/// loaded.
async fn open_ledger(
    db: &DatabaseConnection,
    clock: &dyn Clock,
) -> Result<Result<(BillingSeedReport, DemoAccounts), BillingSeedReport>, DomainError> {
    let system = Actor::System;
    if !ledger::accounts::list(db, &system, &PageArgs::first(1))
        .await?
        .items
        .is_empty()
    {
        return Ok(Err(skipped(SeedSkipped::AccountsExist)));
    }
    let (Some(full), Some(associate)) = (
        memberships::tier_by_code(db, "FULL").await?,
        memberships::tier_by_code(db, "ASSOCIATE").await?,
    ) else {
        return Ok(Err(skipped(SeedSkipped::NoDemoTiers)));
    };
    let year = AcademicYear::starting(DEMO_YEAR).map_err(|_| bad("year"))?;
    let mut report = BillingSeedReport::NOTHING;

    for (tier_id, name, rules, frequency) in [
        (
            full.id,
            format!("Full membership {year}"),
            FeeRules::haringey_2026().into_document(),
            BillingFrequency::Termly,
        ),
        (
            associate.id,
            format!("Associate membership {year}"),
            associate_rules(),
            BillingFrequency::Annual,
        ),
    ] {
        fees::create_schedule(
            db,
            &system,
            clock,
            NewFeeSchedule {
                year,
                tier_id,
                name,
                rules,
                frequency,
                payment_terms_days: 30,
            },
        )
        .await?;
        report.schedules += 1;
    }

    let accounts = open_accounts(db, clock, year).await?;
    report.accounts = accounts.len();
    Ok(Ok((report, accounts)))
}

fn skipped(why: SeedSkipped) -> BillingSeedReport {
    BillingSeedReport {
        skipped: Some(why),
        ..BillingSeedReport::NOTHING
    }
}

/// Schools outside the borough: £10 a pupil on the October census, at least £1,500 and at
/// most £6,000, exempt from VAT, pro-rata for mid-year joiners.
pub(crate) fn associate_rules() -> FeeRulesInput {
    FeeRulesInput {
        version: RULES_VERSION,
        census: Some(RollCensus::October),
        per_pupil: Some(PhaseAmounts::flat(1_000)),
        base_fee: None,
        fixed_prices: Vec::new(),
        caps: vec![Limit {
            amount_pence: 600_000,
            when: Selector::every_school(),
        }],
        floors: vec![Limit {
            amount_pence: 150_000,
            when: Selector::every_school(),
        }],
        pro_rata: ProRata::WholeMonths,
        discounts: Vec::new(),
        vat: VatTreatment::Exempt,
    }
}

/// The demo's accounts by kind: the trust's, then one per other school, by school name.
struct DemoAccounts {
    trust: Option<BillingAccount>,
    /// SCHOOL accounts, keyed by school name for a stable order.
    schools: BTreeMap<String, (SchoolId, BillingAccount)>,
}

impl DemoAccounts {
    fn len(&self) -> usize {
        self.schools.len() + usize::from(self.trust.is_some())
    }
}

/// One TRUST account for the Elliot Foundation's academies, and a SCHOOL account for every
/// other school with an active or pending membership of `year`.
async fn open_accounts(
    db: &DatabaseConnection,
    clock: &dyn Clock,
    year: AcademicYear,
) -> Result<DemoAccounts, DomainError> {
    let system = Actor::System;
    let mut enrolled = year_memberships(db, year, MembershipStatus::Active).await?;
    enrolled.extend(year_memberships(db, year, MembershipStatus::Pending).await?);
    let school_ids: Vec<SchoolId> = enrolled.iter().map(|m| m.school_id).collect();
    let schools = school::by_ids(db, &school_ids).await?;

    let trust = open_trust_account(db, clock).await?;
    let billed: Vec<SchoolId> = trust
        .as_ref()
        .map(|t| t.school_ids.clone())
        .unwrap_or_default();
    let mut out = DemoAccounts {
        trust,
        schools: BTreeMap::new(),
    };
    let already = ledger::accounts::accounts_of_schools(db, &school_ids).await?;
    for school_id in school_ids {
        if billed.contains(&school_id) || already.contains_key(&school_id) {
            continue;
        }
        let school = schools
            .get(&school_id)
            .ok_or_else(|| bad(format!("membership of unknown school {school_id}")))?;
        let account = ledger::accounts::create(
            db,
            &system,
            clock,
            NewBillingAccount {
                kind: AccountKind::School,
                name: school.name.clone(),
                contact_name: format!("School Business Manager, {}", school.name),
                contact_email: format!("bursar@{}.example", slug(&school.name)),
                address: address_of(school, &school.name),
                default_method: PaymentMethod::BankTransfer,
                school_ids: vec![school_id],
            },
        )
        .await?;
        out.schools
            .insert(school.name.clone(), (school_id, account));
    }
    Ok(out)
}

/// The trust's account, paying for every academy of it not yet billed elsewhere; `None`
/// when the demo directory has no such trust.
async fn open_trust_account(
    db: &DatabaseConnection,
    clock: &dyn Clock,
) -> Result<Option<BillingAccount>, DomainError> {
    let system = Actor::System;
    let found = partnership::list(
        db,
        &system,
        &PartnershipFilter {
            kinds: vec![PartnershipKind::MultiAcademyTrust],
            name_contains: Some(DEMO_TRUST.to_owned()),
        },
        &PageArgs::first(1),
    )
    .await?;
    let Some(trust) = found.items.into_iter().next() else {
        return Ok(None);
    };
    let members: Vec<SchoolId> = partnership::members_of(db, &[trust.id])
        .await?
        .remove(&trust.id)
        .unwrap_or_default()
        .into_iter()
        .map(|m| m.school_id)
        .collect();
    let taken = ledger::accounts::accounts_of_schools(db, &members).await?;
    let free: Vec<SchoolId> = members
        .into_iter()
        .filter(|s| !taken.contains_key(s))
        .collect();
    let schools = school::by_ids(db, &free).await?;
    let Some(first) = free.first().and_then(|s| schools.get(s)) else {
        return Ok(None);
    };
    let account = ledger::accounts::create(
        db,
        &system,
        clock,
        NewBillingAccount {
            kind: AccountKind::Trust,
            name: "The Elliot Foundation Academies Trust".to_owned(),
            contact_name: "Trust Finance Team".to_owned(),
            contact_email: "accounts@elliot-foundation.example".to_owned(),
            address: address_of(first, "The Elliot Foundation, central finance"),
            default_method: PaymentMethod::BankTransfer,
            school_ids: free,
        },
    )
    .await?;
    Ok(Some(account))
}

/// Every membership of `year` with `status`, a page at a time.
async fn year_memberships(
    db: &DatabaseConnection,
    year: AcademicYear,
    status: MembershipStatus,
) -> Result<Vec<Membership>, DomainError> {
    let filter = MembershipFilter {
        status: Some(status),
        tier_id: None,
    };
    let mut args = PageArgs::first(MAX_PAGE);
    let mut out = Vec::new();
    loop {
        let page = memberships::for_year(db, &Actor::System, year, &filter, &args).await?;
        args.after = page.items.last().map(Membership::sort_key);
        out.extend(page.items);
        if !page.has_next_page {
            return Ok(out);
        }
    }
}

/// An invoice address: who, the local authority area, and the school's postcode.
fn address_of(school: &School, first_line: &str) -> Address {
    Address {
        lines: vec![first_line.to_owned(), school.local_authority.clone()],
        postcode: school.postcode.as_str().to_owned(),
    }
}

/// "Holly Park Primary School" -> "holly-park": the school's web-style name.
fn slug(name: &str) -> String {
    let words: Vec<String> = name
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_ascii_lowercase)
        .collect();
    let mut end = words.len();
    while end > 1 && matches!(words[end - 1].as_str(), "school" | "primary") {
        end -= 1;
    }
    words[..end].join("-")
}

struct MoneyReport {
    payments: usize,
    credit_notes: usize,
}

/// Receipts, allocations and a credit note that give every finance report something to show.
async fn record_money(
    db: &DatabaseConnection,
    clock: &dyn Clock,
    accounts: &DemoAccounts,
) -> Result<MoneyReport, DomainError> {
    let mut ids: Vec<BillingAccountId> = accounts.schools.values().map(|(_, a)| a.id).collect();
    ids.extend(accounts.trust.as_ref().map(|t| t.id));
    let invoices = ledger::invoices::invoices_of_accounts(db, &ids).await?;
    let autumn_of = |account: BillingAccountId| -> Option<&Invoice> {
        invoices
            .get(&account)?
            .iter()
            .find(|i| i.instalment == Instalment::Autumn)
    };
    let mut report = MoneyReport {
        payments: 0,
        credit_notes: 0,
    };

    // Holly Park has paid half its autumn instalment so far: its head sees a part-paid
    // invoice with money still to pay (the spring and summer instalments are not issued
    // until their terms begin).
    let holly_park = school_of_user(db, PAID_SCHOOL_USER).await?;
    let holly_park_account = accounts
        .schools
        .values()
        .find(|(s, _)| Some(*s) == holly_park)
        .map(|(_, a)| a.id);
    if let Some(invoice) = holly_park_account.and_then(autumn_of) {
        let half = Money::from_pence(invoice.total.pence() / 2);
        pay(
            db,
            clock,
            invoice.account_id,
            format!("HOLLY PARK PS {}", invoice.number),
            half,
            &[(invoice.id, half)],
            "demo-holly-park-autumn",
        )
        .await?;
        report.payments += 1;
    }

    // The trust pays all its academies' first instalments in one BACS transfer.
    if let Some(trust) = &accounts.trust {
        let split: Vec<(InvoiceId, Money)> = invoices
            .get(&trust.id)
            .into_iter()
            .flatten()
            .filter(|i| matches!(i.instalment, Instalment::Autumn | Instalment::Annual))
            .map(|i| (i.id, i.total))
            .collect();
        let lump = split
            .iter()
            .try_fold(Money::zero(), |sum, (_, m)| sum.checked_add(*m))
            .map_err(DomainError::internal)?;
        if lump.is_positive() {
            pay(
                db,
                clock,
                trust.id,
                "ELLIOT FOUNDATION AUT26 MEMBERSHIP".to_owned(),
                lump,
                &split,
                "demo-elliot-autumn",
            )
            .await?;
            report.payments += 1;
        }
    }

    // Three more schools with autumn invoices: one overpays, one pays without a reference
    // anybody recognises, one is credited. The rest stay open for aged debt.
    let mut others = accounts
        .schools
        .values()
        .filter(|(s, _)| Some(*s) != holly_park)
        .filter_map(|(_, a)| autumn_of(a.id));
    if let Some(invoice) = others.next() {
        let amount = invoice
            .total
            .checked_add(OVERPAYMENT)
            .map_err(DomainError::internal)?;
        pay(
            db,
            clock,
            invoice.account_id,
            format!("{} AUTUMN", invoice.number),
            amount,
            &[(invoice.id, invoice.total)],
            "demo-overpayment",
        )
        .await?;
        report.payments += 1;
    }
    if let Some(invoice) = others.next() {
        pay(
            db,
            clock,
            invoice.account_id,
            UNMATCHED_REFERENCE.to_owned(),
            Money::from_pence(150_000),
            &[],
            "demo-unmatched-receipt",
        )
        .await?;
        report.payments += 1;
    }
    if let Some(invoice) = others.find(|i| i.total.pence() > CREDIT_NOTE_AMOUNT.pence()) {
        ledger::credit_notes::credit(
            db,
            &Actor::System,
            clock,
            NewCreditNote {
                invoice_id: invoice.id,
                reason: CREDIT_NOTE_REASON.to_owned(),
                amount: CreditAmount::Amount(CREDIT_NOTE_AMOUNT),
                idempotency_key: None,
            },
        )
        .await?;
        report.credit_notes += 1;
    }
    Ok(report)
}

/// The (first) school of the demo user with this email, if that user exists.
async fn school_of_user(
    db: &DatabaseConnection,
    email: &str,
) -> Result<Option<SchoolId>, DomainError> {
    Ok(users::actor_for(db, Lookup::Email(email))
        .await?
        .and_then(|u| u.schools.first().copied()))
}

/// Records a BACS receipt dated today and allocates it, both under idempotency keys.
async fn pay(
    db: &DatabaseConnection,
    clock: &dyn Clock,
    account_id: BillingAccountId,
    reference: String,
    amount: Money,
    split: &[(InvoiceId, Money)],
    key: &str,
) -> Result<(), DomainError> {
    let payment = ledger::record_payment(
        db,
        &Actor::System,
        clock,
        NewPayment {
            account_id,
            method: ReceiptMethod::Bacs,
            reference,
            received_on: clock.today(),
            amount,
            provider_payment_ref: None,
            idempotency_key: Some(format!("{key}-receipt")),
        },
    )
    .await?;
    if !split.is_empty() {
        ledger::allocate(
            db,
            &Actor::System,
            clock,
            payment.id,
            split,
            Some(&format!("{key}-allocation")),
        )
        .await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs_drop_the_generic_words() {
        assert_eq!(slug("Holly Park Primary School"), "holly-park");
        assert_eq!(slug("St John's CE Primary School"), "st-john-s-ce");
        assert_eq!(slug("The Hyde School"), "the-hyde");
        assert_eq!(slug("School"), "school");
    }

    #[test]
    fn the_associate_rules_are_valid() {
        assert!(FeeRules::new(associate_rules()).is_ok());
    }
}
