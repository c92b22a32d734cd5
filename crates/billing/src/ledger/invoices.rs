//! Invoices: issued once, numbered without gaps, immutable afterwards.
//!
//! After issue only these change: the purchase-order number (the school's own reference),
//! the provider's references, the money columns (through allocations and credit notes, see
//! [`super::payments`] and [`super::credit_notes`]) and the status those imply, and the
//! people's decisions VOID and UNCOLLECTIBLE. Everything else is corrected by a credit note.

use std::collections::HashMap;

use chrono::{DateTime, NaiveDate, Utc};
use kernel::BeginWrite as _;
use kernel::money::{checked_add_i64, checked_left};
use kernel::persistence::by_position::DecodeAt as _;
use kernel::{
    AcademicYear, Actor, BillingAccountId, Clock, DomainError, ErrorCode, InvoiceId, InvoiceLineId,
    MembershipId, Money, Permission, Problems, SchoolId,
};
use membership::{NameKey, Page, PageArgs};
use sea_orm::sea_query::{Alias, Expr, JoinType};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, ConnectionTrait, DatabaseConnection, EntityTrait,
    QueryFilter, QueryOrder, QuerySelect, QueryTrait as _, Set, TransactionSession,
    TransactionTrait,
};
use serde::Serialize;
use uuid::Uuid;

use super::accounts::{self, BillingAccount, schools_of_account, visible_account_ids};
use super::audit::{self, AuditEntity};
use super::entity::{invoice_lines, invoices};
use super::status::InvoiceStatus;
use super::support::{Sight, lock_account, named_enum, optional_text, required_text, stored};
use membership::{fetch_page, page_select};

named_enum!(
    /// Which part of a membership year an invoice bills.
    Instalment {
        Annual => "ANNUAL",
        Autumn => "AUTUMN",
        Spring => "SPRING",
        Summer => "SUMMER",
        /// Not a membership instalment: ad-hoc and booking invoices.
        None => "NONE",
    }
);

named_enum!(
    /// VAT treatment of a line. Education services by an eligible body are exempt.
    VatTreatment {
        Exempt => "EXEMPT",
        Standard => "STANDARD",
    }
);

named_enum!(
    /// What raised an invoice.
    InvoiceSource {
        MembershipRun => "MEMBERSHIP_RUN",
        Booking => "BOOKING",
        Manual => "MANUAL",
    }
);

named_enum!(
    /// How an invoice is collected. Only a sent invoice is mirrored at the payment provider
    /// (a hosted Stripe invoice, whose link its email carries): a card booking's invoice is
    /// paid through the PaymentIntent started with the booking, and a second, payable Stripe
    /// invoice for it would invite paying twice.
    InvoiceCollection {
        /// Sent to the account's contact, paid by transfer or on the provider's hosted page.
        Send => "SEND",
        /// Charged by card when a traded booking was made.
        Card => "CARD",
    }
);

/// An issued invoice. `outstanding = total - paid - credited`, never negative.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Invoice {
    pub id: InvoiceId,
    /// e.g. `TRL-2026-000123`.
    pub number: String,
    pub account_id: BillingAccountId,
    pub academic_year: AcademicYear,
    pub instalment: Instalment,
    pub status: InvoiceStatus,
    pub source: InvoiceSource,
    pub collection: InvoiceCollection,
    pub net: Money,
    pub vat: Money,
    pub total: Money,
    /// Allocated from payments (net of releases by credit notes).
    pub paid: Money,
    pub credited: Money,
    pub outstanding: Money,
    pub due_on: NaiveDate,
    pub issued_at: DateTime<Utc>,
    pub po_number: Option<String>,
    pub provider_invoice_ref: Option<String>,
    pub hosted_url: Option<String>,
    /// Why it was voided or written off.
    pub status_reason: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl Invoice {
    /// The keyset sort key of invoice lists (by number).
    #[must_use]
    pub fn sort_key(&self) -> NameKey {
        (self.number.clone(), self.id.as_uuid())
    }

    /// Whether the payment provider should hold this invoice (a hosted invoice), once one is
    /// configured: a sent invoice still to be paid.
    #[must_use]
    pub fn goes_to_provider(&self) -> bool {
        self.collection == InvoiceCollection::Send
            && matches!(
                self.status,
                InvoiceStatus::Open | InvoiceStatus::PartiallyPaid
            )
    }

    /// Days past due on `as_of` (zero or negative when not yet due).
    #[must_use]
    pub fn days_overdue(&self, as_of: NaiveDate) -> i64 {
        (as_of - self.due_on).num_days()
    }

    pub(crate) fn from_row(row: invoices::Model) -> Result<Self, DomainError> {
        Ok(Self {
            id: InvoiceId::from_uuid(row.id),
            account_id: BillingAccountId::from_uuid(row.account_id),
            academic_year: AcademicYear::starting(row.academic_year)
                .map_err(DomainError::internal)?,
            instalment: stored("instalment", &row.instalment)?,
            status: stored("invoice status", &row.status)?,
            source: stored("invoice source", &row.source)?,
            collection: stored("invoice collection", &row.collection)?,
            net: Money::from_pence(row.net_pence),
            vat: Money::from_pence(row.vat_pence),
            total: Money::from_pence(row.total_pence),
            paid: Money::from_pence(row.paid_pence),
            credited: Money::from_pence(row.credited_pence),
            outstanding: Money::from_pence(checked_left(
                "invoice outstanding",
                row.total_pence,
                row.paid_pence,
                row.credited_pence,
            )?),
            number: row.number,
            due_on: row.due_on,
            issued_at: row.issued_at,
            po_number: row.po_number,
            provider_invoice_ref: row.provider_invoice_ref,
            hosted_url: row.hosted_url,
            status_reason: row.status_reason,
            created_at: row.created_at,
            updated_at: row.updated_at,
        })
    }
}

/// One line of an invoice. `net = quantity × unit_amount`; `vat = net × rate` rounded half up.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct InvoiceLine {
    pub id: InvoiceLineId,
    pub invoice_id: InvoiceId,
    /// 0-based order on the invoice.
    pub position: u32,
    pub description: String,
    pub quantity: u32,
    pub unit_amount: Money,
    pub net: Money,
    pub vat_treatment: VatTreatment,
    /// Basis points: 2000 = 20%.
    pub vat_rate_bp: u32,
    pub vat: Money,
    /// Consistent Financial Reporting code the school books it under (e.g. `E19`).
    pub cfr_code: Option<String>,
    /// The school the line is for (a trust's invoice names each school).
    pub school_id: Option<SchoolId>,
    pub membership_id: Option<MembershipId>,
    /// The traded-services booking it bills, if any.
    pub booking_id: Option<Uuid>,
    /// The school's purchase order for this line (a termly invoice bills bookings raised on
    /// different POs); `None` on membership and manual invoices.
    pub po_number: Option<String>,
}

impl InvoiceLine {
    #[must_use]
    pub fn gross(&self) -> Money {
        Money::from_pence(self.net.pence() + self.vat.pence())
    }

    pub(crate) fn from_row(row: invoice_lines::Model) -> Result<Self, DomainError> {
        let corrupt = |what: &str| {
            DomainError::internal(super::support::CorruptRow(format!(
                "invoice line {}: {what}",
                row.id
            )))
        };
        Ok(Self {
            id: InvoiceLineId::from_uuid(row.id),
            invoice_id: InvoiceId::from_uuid(row.invoice_id),
            position: u32::try_from(row.position).map_err(|_| corrupt("position"))?,
            quantity: u32::try_from(row.quantity).map_err(|_| corrupt("quantity"))?,
            unit_amount: Money::from_pence(row.unit_pence),
            net: Money::from_pence(row.net_pence),
            vat_treatment: stored("vat treatment", &row.vat_treatment)?,
            vat_rate_bp: u32::try_from(row.vat_rate_bp).map_err(|_| corrupt("rate"))?,
            vat: Money::from_pence(row.vat_pence),
            description: row.description,
            cfr_code: row.cfr_code,
            school_id: row.school_id.map(SchoolId::from_uuid),
            membership_id: row.membership_id.map(MembershipId::from_uuid),
            booking_id: row.booking_id,
            po_number: row.po_number,
        })
    }
}

/// A line to invoice. Serialisable so the run can keep the lines of an instalment it
/// schedules for later exactly as it priced them.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct NewInvoiceLine {
    pub description: String,
    /// At least 1.
    pub quantity: u32,
    /// Zero or more: discounts are netted into the line by the fee engine, never negative lines.
    pub unit_amount: Money,
    pub vat_treatment: VatTreatment,
    /// 0 for EXEMPT; 1..=10000 for STANDARD (2000 = 20%).
    pub vat_rate_bp: u32,
    pub cfr_code: Option<String>,
    /// Must be a school the account pays for.
    pub school_id: Option<SchoolId>,
    pub membership_id: Option<MembershipId>,
    pub booking_id: Option<Uuid>,
}

/// What the invoicing run (or a booking, or finance by hand) asks to issue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewInvoice {
    pub account_id: BillingAccountId,
    pub year: AcademicYear,
    /// Membership instalments are unique per account and year; NONE is never deduplicated.
    pub instalment: Instalment,
    pub due_on: NaiveDate,
    pub lines: Vec<NewInvoiceLine>,
    pub po_number: Option<String>,
    pub source: InvoiceSource,
    pub collection: InvoiceCollection,
}

/// The result of [`issue_invoice`]: `created` is false when the instalment was already
/// invoiced and the existing invoice is returned unchanged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssueOutcome {
    pub invoice: Invoice,
    pub created: bool,
}

/// Narrows invoice lists. Empty means everything visible.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct InvoiceFilter {
    pub account_id: Option<BillingAccountId>,
    /// Invoices with a line for this school.
    pub school_id: Option<SchoolId>,
    /// Any of these statuses.
    pub status: Vec<InvoiceStatus>,
    pub year: Option<AcademicYear>,
    /// Unsettled (OPEN, PARTIALLY_PAID) invoices due before this date.
    pub overdue_on: Option<NaiveDate>,
}

/// Splits `total` into `n` instalments that add up exactly, the odd pence on the first
/// (so the autumn invoice carries them). `n == 0` gives no instalments.
#[must_use]
pub fn split_instalments(total: Money, n: usize) -> Vec<Money> {
    let Ok(count) = i64::try_from(n) else {
        return Vec::new();
    };
    if count == 0 {
        return Vec::new();
    }
    let base = total.pence() / count;
    let first = total.pence() - base * (count - 1);
    std::iter::once(first)
        .chain(std::iter::repeat_n(base, n - 1))
        .map(Money::from_pence)
        .collect()
}

/// VAT on `net` at `rate_bp` basis points, rounded half up (HMRC allows rounding per line).
#[must_use]
pub fn vat_on(net: i64, rate_bp: u32) -> i64 {
    let product = i128::from(net) * i128::from(rate_bp);
    i64::try_from((product + 5_000) / 10_000).unwrap_or(i64::MAX)
}

const DESCRIPTION_MAX: usize = 500;
pub(crate) const PO_MAX: usize = 50;
/// The most lines one invoice carries: a termly booking invoice with more is split.
pub(crate) const MAX_LINES: usize = 200;
/// Far above any partnership fee; keeps every sum well inside i64.
const MAX_LINE_PENCE: i64 = 100_000_000_000;

pub(crate) fn check_cfr(
    field: &str,
    code: Option<&str>,
) -> Result<Option<String>, kernel::FieldError> {
    let code = optional_text(field, code, 10)?;
    match code {
        Some(c) if !c.chars().all(|ch| ch.is_ascii_alphanumeric()) => Err(kernel::FieldError::new(
            field,
            ErrorCode::Invalid,
            "a CFR code is letters and digits, e.g. E19",
        )),
        other => Ok(other.map(|c| c.to_ascii_uppercase())),
    }
}

/// A line that passed [`check_line`], with its amounts computed.
pub(crate) struct CheckedLine {
    pub(crate) description: String,
    pub(crate) quantity: u32,
    pub(crate) unit: i64,
    pub(crate) net: i64,
    pub(crate) vat: i64,
    pub(crate) cfr: Option<String>,
    pub(crate) line: NewInvoiceLine,
}

/// Checks one line, naming fields `{prefix}{field}`: every problem goes to `problems`, the
/// checked line comes back only when it has none. Booking charges are checked here too, so
/// a charge can always become an invoice line.
pub(crate) fn check_line(
    problems: &mut Problems,
    prefix: &str,
    line: &NewInvoiceLine,
    account_schools: &[SchoolId],
) -> Option<CheckedLine> {
    let f = |name: &str| format!("{prefix}{name}");
    let description = problems.check(required_text(
        &f("description"),
        &line.description,
        DESCRIPTION_MAX,
    ));
    if line.quantity == 0 || line.quantity > 1_000_000 {
        problems.add(
            &f("quantity"),
            ErrorCode::OutOfRange,
            "must be between 1 and 1,000,000",
        );
    }
    let unit = line.unit_amount.pence();
    problems.check(Money::bounded_input_or_zero(
        &f("unitAmountPence"),
        line.unit_amount,
    ));
    match (line.vat_treatment, line.vat_rate_bp) {
        (VatTreatment::Exempt, 0) | (VatTreatment::Standard, 1..=10_000) => {}
        (VatTreatment::Exempt, _) => problems.add(
            &f("vatRateBp"),
            ErrorCode::Invalid,
            "an exempt line has no VAT rate",
        ),
        (VatTreatment::Standard, _) => problems.add(
            &f("vatRateBp"),
            ErrorCode::OutOfRange,
            "a standard-rated line needs a rate between 1 and 10000 basis points",
        ),
    }
    let cfr = problems.check(check_cfr(&f("cfrCode"), line.cfr_code.as_deref()));
    if let Some(school) = line.school_id
        && !account_schools.contains(&school)
    {
        problems.add(
            &f("schoolId"),
            ErrorCode::NotFound,
            "the account does not pay for this school",
        );
    }
    let net = i64::from(line.quantity)
        .checked_mul(unit)
        .filter(|n| *n <= MAX_LINE_PENCE);
    if net.is_none() && unit >= 0 {
        problems.add(
            &f("unitAmountPence"),
            ErrorCode::OutOfRange,
            "the line total is too large",
        );
    }
    let (description, net, cfr) = (description?, net?, cfr?);
    Some(CheckedLine {
        description,
        quantity: line.quantity,
        unit,
        net,
        vat: vat_on(net, line.vat_rate_bp),
        cfr,
        line: line.clone(),
    })
}

pub(crate) fn check_lines(
    problems: &mut Problems,
    lines: &[NewInvoiceLine],
    account_schools: &[SchoolId],
) -> Vec<CheckedLine> {
    if lines.is_empty() {
        problems.add(
            "lines",
            ErrorCode::Required,
            "an invoice needs at least one line",
        );
    }
    if lines.len() > MAX_LINES {
        problems.add(
            "lines",
            ErrorCode::OutOfRange,
            format!("at most {MAX_LINES} lines"),
        );
    }
    let mut out = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        if let Some(checked) = check_line(problems, &format!("lines.{i}."), line, account_schools) {
            out.push(checked);
        }
    }
    out
}

/// Loads an invoice row for a mutation, then locks its account and reads it again under the
/// lock. Returns the open transaction with the fresh row.
pub(crate) async fn lock_invoice<C>(
    db: &C,
    id: InvoiceId,
    field: &str,
) -> Result<(C::Transaction, invoices::Model), DomainError>
where
    C: ConnectionTrait + TransactionTrait,
{
    let not_found = || DomainError::invalid(field, ErrorCode::NotFound, "no such invoice");
    let row = invoices::Entity::find_by_id(id.as_uuid())
        .one(db)
        .await?
        .ok_or_else(not_found)?;
    let txn = db.begin_write().await?;
    lock_account(&txn, BillingAccountId::from_uuid(row.account_id)).await?;
    let row = invoices::Entity::find_by_id(id.as_uuid())
        .one(&txn)
        .await?
        .ok_or_else(not_found)?;
    Ok((txn, row))
}

/// Applies a change of the money columns and the status it implies; returns the new row.
pub(crate) async fn apply_money<C: ConnectionTrait>(
    txn: &C,
    row: invoices::Model,
    paid_delta: i64,
    credited_delta: i64,
    now: DateTime<Utc>,
) -> Result<invoices::Model, DomainError> {
    let paid = checked_add_i64("invoice paid", row.paid_pence, paid_delta)?;
    let credited = checked_add_i64("invoice credited", row.credited_pence, credited_delta)?;
    let outstanding = checked_left("invoice outstanding", row.total_pence, paid, credited)?;
    if paid < 0 || credited < 0 || outstanding < 0 {
        return Err(DomainError::internal(super::support::CorruptRow(format!(
            "invoice {} would leave paid {paid}, credited {credited}, outstanding {outstanding}",
            row.number
        ))));
    }
    let current: InvoiceStatus = stored("invoice status", &row.status)?;
    let status = super::status::settled_status(current, paid, outstanding);
    debug_assert!(current.can_become(status) || current == InvoiceStatus::PartiallyPaid);
    // Compare-and-set on the running totals: a writer that somehow skipped the account lock
    // fails here instead of overwriting another's payment.
    let result = invoices::Entity::update_many()
        .col_expr(invoices::Column::PaidPence, Expr::value(paid))
        .col_expr(invoices::Column::CreditedPence, Expr::value(credited))
        .col_expr(invoices::Column::Status, Expr::value(status.as_str()))
        .col_expr(invoices::Column::UpdatedAt, Expr::value(now))
        .filter(invoices::Column::Id.eq(row.id))
        .filter(invoices::Column::PaidPence.eq(row.paid_pence))
        .filter(invoices::Column::CreditedPence.eq(row.credited_pence))
        .exec(txn)
        .await?;
    if result.rows_affected != 1 {
        return Err(DomainError::internal(super::support::CorruptRow(format!(
            "invoice {} changed under the account lock",
            row.number
        ))));
    }
    invoices::Entity::find_by_id(row.id)
        .one(txn)
        .await?
        .ok_or(DomainError::NotFound { entity: "Invoice" })
}

async fn visible<C: ConnectionTrait>(
    db: &C,
    sight: &Sight,
    row: &invoices::Model,
) -> Result<bool, DomainError> {
    Ok(match sight {
        Sight::All => true,
        Sight::Schools(_) => sight.sees(&schools_of_account(db, row.account_id).await?),
    })
}

/// One invoice, if the actor may see it.
pub async fn invoice<C: ConnectionTrait>(
    db: &C,
    actor: &Actor,
    id: InvoiceId,
) -> Result<Invoice, DomainError> {
    let sight = Sight::of(actor)?;
    let row = invoices::Entity::find_by_id(id.as_uuid())
        .one(db)
        .await?
        .ok_or(DomainError::NotFound { entity: "Invoice" })?;
    if !visible(db, &sight, &row).await? {
        return Err(DomainError::NotFound { entity: "Invoice" });
    }
    Invoice::from_row(row)
}

/// A page of the invoices the actor may see, by number.
pub async fn invoices<C: ConnectionTrait>(
    db: &C,
    actor: &Actor,
    filter: &InvoiceFilter,
    args: &PageArgs<NameKey>,
) -> Result<Page<Invoice>, DomainError> {
    let select = visible_invoices(db, actor, filter).await?;
    let page = fetch_page(
        db,
        select,
        invoices::Column::Number,
        invoices::Column::Id,
        args,
    )
    .await?;
    page.try_map(Invoice::from_row)
}

/// [`invoices`] with each invoice's account, in one statement: the page joined to its
/// accounts and their schools, one row per invoice and account school. For a list that
/// shows each invoice's account (finance's invoice list): one round trip, not a page and
/// then a batch of accounts. The account is read as the unchecked account loader reads it:
/// it is as visible as the invoice that names it.
pub async fn invoices_with_accounts<C: ConnectionTrait>(
    db: &C,
    actor: &Actor,
    filter: &InvoiceFilter,
    args: &PageArgs<NameKey>,
) -> Result<Page<(Invoice, BillingAccount)>, DomainError> {
    const ACCOUNT: &str = "invoice_account";
    const ACCOUNT_SCHOOL: &str = "invoice_account_school";
    let mut select = page_select(
        visible_invoices(db, actor, filter).await?,
        (invoices::Column::Number, invoices::Column::Id),
        args,
    );
    QuerySelect::query(&mut select)
        .join_as(
            JoinType::InnerJoin,
            Alias::new("billing_accounts"),
            Alias::new(ACCOUNT),
            Expr::cust(format!("{ACCOUNT}.id = invoices.account_id")),
        )
        .join_as(
            JoinType::LeftJoin,
            Alias::new("billing_account_schools"),
            Alias::new(ACCOUNT_SCHOOL),
            Expr::cust(format!("{ACCOUNT_SCHOOL}.account_id = invoices.account_id")),
        )
        .expr(Expr::cust(accounts::joined_columns(
            ACCOUNT,
            ACCOUNT_SCHOOL,
        )));
    let rows = db
        .query_all_raw(select.build(db.get_database_backend()))
        .await?;
    // The rows come in page order, so one invoice's rows (one per school of its account)
    // are next to each other.
    let mut groups: Vec<(Uuid, Vec<sea_orm::QueryResult>)> = Vec::new();
    for row in rows {
        let id: Uuid = row.try_get("", "id")?;
        match groups.last_mut() {
            Some((last, group)) if *last == id => group.push(row),
            _ => groups.push((id, vec![row])),
        }
    }
    let items = groups
        .iter()
        .map(|(_, group)| {
            // The invoice's columns first (`page_select` selects them in the entity's order),
            // then the account's: both read by position.
            let invoice = Invoice::from_row(invoices::Model::decode_at(&group[0], 0)?)?;
            Ok((
                invoice,
                accounts::joined_account(group, invoices::Model::COLUMNS)?,
            ))
        })
        .collect::<Result<Vec<_>, DomainError>>()?;
    Ok(Page::from_overfetch(items, args))
}

/// The invoices `actor` may see, narrowed by `filter`: the one rule both invoice lists page.
async fn visible_invoices<C: ConnectionTrait>(
    db: &C,
    actor: &Actor,
    filter: &InvoiceFilter,
) -> Result<sea_orm::Select<invoices::Entity>, DomainError> {
    let sight = Sight::of(actor)?;
    let mut select = invoices::Entity::find();
    if let Some(ids) = visible_account_ids(db, &sight).await? {
        select = select.filter(invoices::Column::AccountId.is_in(ids));
    }
    if let Some(account) = filter.account_id {
        select = select.filter(invoices::Column::AccountId.eq(account.as_uuid()));
    }
    if let Some(school) = filter.school_id {
        select = select.filter(
            invoices::Column::Id.in_subquery(
                sea_orm::sea_query::Query::select()
                    .column(invoice_lines::Column::InvoiceId)
                    .from(invoice_lines::Entity)
                    .and_where(invoice_lines::Column::SchoolId.eq(school.as_uuid()))
                    .to_owned(),
            ),
        );
    }
    if !filter.status.is_empty() {
        select =
            select.filter(invoices::Column::Status.is_in(filter.status.iter().map(|s| s.as_str())));
    }
    if let Some(year) = filter.year {
        select = select.filter(invoices::Column::AcademicYear.eq(year.start_year()));
    }
    if let Some(date) = filter.overdue_on {
        select = select.filter(Condition::all().add(invoices::Column::DueOn.lt(date)).add(
            invoices::Column::Status.is_in([
                InvoiceStatus::Open.as_str(),
                InvoiceStatus::PartiallyPaid.as_str(),
            ]),
        ));
    }
    Ok(select)
}

/// Issued invoices still owed (OPEN or PARTIALLY_PAID) that fell due on or before `due_by`,
/// oldest due first: what payment reminders are about (one statement).
pub async fn unpaid_due_by<C: ConnectionTrait>(
    db: &C,
    due_by: NaiveDate,
) -> Result<Vec<Invoice>, DomainError> {
    invoices::Entity::find()
        .filter(invoices::Column::Status.is_in([
            InvoiceStatus::Open.as_str(),
            InvoiceStatus::PartiallyPaid.as_str(),
        ]))
        .filter(invoices::Column::DueOn.lte(due_by))
        .order_by_asc(invoices::Column::DueOn)
        .order_by_asc(invoices::Column::Id)
        .all(db)
        .await?
        .into_iter()
        .map(Invoice::from_row)
        .collect()
}

/// Invoices by id, for batch loading. Missing ids are absent.
pub async fn invoices_by_ids<C: ConnectionTrait>(
    db: &C,
    ids: &[InvoiceId],
) -> Result<HashMap<InvoiceId, Invoice>, DomainError> {
    let rows = invoices::Entity::find()
        .filter(invoices::Column::Id.is_in(ids.iter().map(InvoiceId::as_uuid)))
        .all(db)
        .await?;
    rows.into_iter()
        .map(|r| Invoice::from_row(r).map(|i| (i.id, i)))
        .collect()
}

/// Each invoice's lines in order, for batch loading.
pub async fn lines_of_invoices<C: ConnectionTrait>(
    db: &C,
    ids: &[InvoiceId],
) -> Result<HashMap<InvoiceId, Vec<InvoiceLine>>, DomainError> {
    let rows = invoice_lines::Entity::find()
        .filter(invoice_lines::Column::InvoiceId.is_in(ids.iter().map(InvoiceId::as_uuid)))
        .order_by_asc(invoice_lines::Column::InvoiceId)
        .order_by_asc(invoice_lines::Column::Position)
        .all(db)
        .await?;
    let mut out: HashMap<InvoiceId, Vec<InvoiceLine>> = HashMap::new();
    for row in rows {
        let line = InvoiceLine::from_row(row)?;
        out.entry(line.invoice_id).or_default().push(line);
    }
    Ok(out)
}

/// [`lines_of_invoices`] with the school each line is for (`None` for a line for no school),
/// joined in the **same statement**: an invoice list that names each line's school costs no
/// statement more than one that does not.
pub async fn lines_of_invoices_with_schools<C: ConnectionTrait>(
    db: &C,
    ids: &[InvoiceId],
) -> Result<HashMap<InvoiceId, Vec<LineWithSchool>>, DomainError> {
    const SCHOOL: &str = "line_school_";
    let mut select = invoice_lines::Entity::find()
        .filter(invoice_lines::Column::InvoiceId.is_in(ids.iter().map(InvoiceId::as_uuid)))
        .order_by_asc(invoice_lines::Column::InvoiceId)
        .order_by_asc(invoice_lines::Column::Position);
    QuerySelect::query(&mut select)
        .join_as(
            JoinType::LeftJoin,
            Alias::new("schools"),
            Alias::new("line_school"),
            Expr::cust("line_school.id = invoice_lines.school_id"),
        )
        .expr(Expr::cust(membership::school::joined_columns(
            "line_school",
            SCHOOL,
        )));
    let rows = db
        .query_all_raw(select.build(db.get_database_backend()))
        .await?;
    let mut out: HashMap<InvoiceId, Vec<LineWithSchool>> = HashMap::new();
    for row in rows {
        // The line's columns in the entity's order, then the school's: read by position.
        let line = InvoiceLine::from_row(invoice_lines::Model::decode_at(&row, 0)?)?;
        let school = membership::school::joined_school(&row, invoice_lines::Model::COLUMNS)?;
        out.entry(line.invoice_id).or_default().push((line, school));
    }
    Ok(out)
}

/// An invoice line and the school it is for.
pub type LineWithSchool = (InvoiceLine, Option<membership::school::School>);

/// Each account's invoices by number, for batch loading.
pub async fn invoices_of_accounts<C: ConnectionTrait>(
    db: &C,
    accounts: &[BillingAccountId],
) -> Result<HashMap<BillingAccountId, Vec<Invoice>>, DomainError> {
    let rows = invoices::Entity::find()
        .filter(invoices::Column::AccountId.is_in(accounts.iter().map(BillingAccountId::as_uuid)))
        .order_by_asc(invoices::Column::Number)
        .all(db)
        .await?;
    let mut out: HashMap<BillingAccountId, Vec<Invoice>> = HashMap::new();
    for row in rows {
        let invoice = Invoice::from_row(row)?;
        out.entry(invoice.account_id).or_default().push(invoice);
    }
    Ok(out)
}

/// Adds or replaces the purchase-order number of an unsettled invoice: finance, or a school
/// leader of a school the invoice's account pays for.
pub async fn set_purchase_order(
    db: &DatabaseConnection,
    actor: &Actor,
    clock: &dyn Clock,
    id: InvoiceId,
    po_number: &str,
) -> Result<Invoice, DomainError> {
    let finance = actor.can(Permission::ManageBilling);
    if !finance {
        actor.require(Permission::SetPurchaseOrder)?;
    }
    let po =
        required_text("poNumber", po_number, PO_MAX).map_err(|e| DomainError::Invalid(vec![e]))?;
    let sight = if finance {
        Sight::All
    } else {
        Sight::of(actor)?
    };
    let (txn, row) = lock_invoice(db, id, "invoiceId")
        .await
        .map_err(|e| match e {
            DomainError::Invalid(_) => DomainError::NotFound { entity: "Invoice" },
            other => other,
        })?;
    if !visible(&txn, &sight, &row).await? {
        return Err(DomainError::NotFound { entity: "Invoice" });
    }
    let before = Invoice::from_row(row.clone())?;
    if !before.status.accepts_purchase_order() {
        return Err(DomainError::invalid(
            "invoiceId",
            ErrorCode::Conflict,
            format!(
                "a purchase order can be added only to an open invoice; this one is {}",
                before.status
            ),
        ));
    }
    let mut active: invoices::ActiveModel = row.into();
    active.po_number = Set(Some(po));
    active.updated_at = Set(clock.now());
    let after = Invoice::from_row(active.update(&txn).await?)?;
    audit::record(
        &txn,
        actor,
        clock,
        "invoice.set_purchase_order",
        (AuditEntity::Invoice, id.as_uuid()),
        Some(&before),
        Some(&after),
    )
    .await?;
    txn.commit().await?;
    Ok(after)
}

async fn decide<C>(
    db: &C,
    actor: &Actor,
    clock: &dyn Clock,
    id: InvoiceId,
    reason: &str,
    to: InvoiceStatus,
) -> Result<Invoice, DomainError>
where
    C: ConnectionTrait + TransactionTrait,
{
    actor.require(Permission::ManageBilling)?;
    let reason = required_text("reason", reason, DESCRIPTION_MAX)
        .map_err(|e| DomainError::Invalid(vec![e]))?;
    let (txn, row) = lock_invoice(db, id, "invoiceId").await?;
    let before = Invoice::from_row(row.clone())?;
    if !before.status.can_become(to) || before.status == to {
        return Err(DomainError::invalid(
            "invoiceId",
            ErrorCode::Conflict,
            format!("a {} invoice cannot become {to}", before.status),
        ));
    }
    if to == InvoiceStatus::Void && (row.paid_pence != 0 || row.credited_pence != 0) {
        return Err(DomainError::invalid(
            "invoiceId",
            ErrorCode::Conflict,
            "money has moved against this invoice: raise a credit note instead of voiding it",
        ));
    }
    let mut active: invoices::ActiveModel = row.into();
    active.status = Set(to.as_str().to_owned());
    active.status_reason = Set(Some(reason));
    active.updated_at = Set(clock.now());
    let after = Invoice::from_row(active.update(&txn).await?)?;
    let action = if to == InvoiceStatus::Void {
        "invoice.void"
    } else {
        "invoice.mark_uncollectible"
    };
    audit::record(
        &txn,
        actor,
        clock,
        action,
        (AuditEntity::Invoice, id.as_uuid()),
        Some(&before),
        Some(&after),
    )
    .await?;
    txn.commit().await?;
    Ok(after)
}

/// Cancels an invoice against which no money has moved (no allocation, no credit note).
/// Its number stays used: the gap-free sequence shows it as VOID.
pub async fn void<C>(
    db: &C,
    actor: &Actor,
    clock: &dyn Clock,
    id: InvoiceId,
    reason: &str,
) -> Result<Invoice, DomainError>
where
    C: ConnectionTrait + TransactionTrait,
{
    decide(db, actor, clock, id, reason, InvoiceStatus::Void).await
}

/// Writes an unsettled invoice off as bad debt. A late payment can still settle it.
pub async fn mark_uncollectible(
    db: &DatabaseConnection,
    actor: &Actor,
    clock: &dyn Clock,
    id: InvoiceId,
    reason: &str,
) -> Result<Invoice, DomainError> {
    decide(db, actor, clock, id, reason, InvoiceStatus::Uncollectible).await
}

/// Records where the payment provider holds the invoice (e.g. Stripe `in_…` and its hosted
/// page). Not part of what was invoiced, so allowed after issue.
pub async fn record_provider_invoice<C>(
    db: &C,
    actor: &Actor,
    clock: &dyn Clock,
    id: InvoiceId,
    provider_invoice_ref: &str,
    hosted_url: Option<&str>,
) -> Result<Invoice, DomainError>
where
    C: ConnectionTrait + TransactionTrait,
{
    actor.require(Permission::ManageBilling)?;
    let mut problems = Problems::new();
    let reference = problems.check(required_text(
        "providerInvoiceRef",
        provider_invoice_ref,
        255,
    ));
    let url = problems.check(optional_text("hostedUrl", hosted_url, 2_000));
    problems.finish()?;
    let (txn, row) = lock_invoice(db, id, "invoiceId").await?;
    let before = Invoice::from_row(row.clone())?;
    let mut active: invoices::ActiveModel = row.into();
    active.provider_invoice_ref = Set(reference);
    active.hosted_url = Set(url.flatten());
    active.updated_at = Set(clock.now());
    let after = Invoice::from_row(active.update(&txn).await?)?;
    audit::record(
        &txn,
        actor,
        clock,
        "invoice.record_provider_invoice",
        (AuditEntity::Invoice, id.as_uuid()),
        Some(&before),
        Some(&after),
    )
    .await?;
    txn.commit().await?;
    Ok(after)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn instalments_add_up_with_odd_pence_first() {
        let parts = split_instalments(Money::from_pence(1_000_001), 3);
        assert_eq!(
            parts,
            vec![
                Money::from_pence(333_335),
                Money::from_pence(333_333),
                Money::from_pence(333_333)
            ]
        );
        assert_eq!(
            split_instalments(Money::from_pence(500), 1),
            vec![Money::from_pence(500)]
        );
        assert!(split_instalments(Money::from_pence(500), 0).is_empty());
    }

    #[test]
    fn vat_rounds_half_up() {
        assert_eq!(vat_on(1_000, 2_000), 200);
        assert_eq!(vat_on(3, 2_000), 1, "0.6p rounds up");
        assert_eq!(vat_on(2, 2_000), 0, "0.4p rounds down");
        assert_eq!(vat_on(1_000, 0), 0);
    }

    proptest! {
        #[test]
        fn split_is_exact(total in 0i64..10_000_000_000, n in 1usize..12) {
            let parts = split_instalments(Money::from_pence(total), n);
            prop_assert_eq!(parts.len(), n);
            prop_assert_eq!(parts.iter().map(|m| m.pence()).sum::<i64>(), total);
            prop_assert!(parts.iter().all(|p| p.pence() >= parts[n - 1].pence()));
            prop_assert!(parts[0].pence() - parts[n - 1].pence() < i64::try_from(n).expect("small"));
        }
    }
}
