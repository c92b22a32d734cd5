//! Manual invoices: finance raises an invoice with lines of its own.
//!
//! What the invoicing run and bookings cannot: a school that joined after the year's run
//! (`invoicingRunStart` answers CONFLICT and points here), a one-off charge, a correction
//! issued alongside a credit note. A manual invoice is an ordinary invoice in every other
//! way: numbered in the same gap-free series, validated, audited and announced to the
//! account's contact exactly as [`issue_invoice`] does it, with `source` MANUAL.
//!
//! Never deduplicated by its content (two identical charges may both be meant), so a retry
//! is made safe by the caller's idempotency key: the key is stored in the transaction that
//! issues the invoice, and a repeat returns the first invoice.

use chrono::NaiveDate;
use kernel::BeginWrite as _;
use kernel::{
    AcademicYear, Actor, BillingAccountId, Clock, DomainError, Money, Permission, SchoolId,
};
use sea_orm::DatabaseConnection;
use serde::Serialize;

use super::idempotency::{Caller, Keyed, Remembered};
use super::invoices::{
    Instalment, Invoice, InvoiceCollection, InvoiceSource, NewInvoice, NewInvoiceLine,
    VatTreatment, invoice,
};
use super::issuing::issue_invoice;

/// One line finance writes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ManualLine {
    pub description: String,
    /// At least 1.
    pub quantity: u32,
    /// Net of VAT, per unit; zero or more.
    pub unit_amount: Money,
    pub vat_treatment: VatTreatment,
    /// 0 when exempt; 1..=10000 when standard-rated (2000 = 20%).
    pub vat_rate_bp: u32,
    pub cfr_code: Option<String>,
    /// The school the line is for: one the account pays for.
    pub school_id: Option<SchoolId>,
}

/// A manual invoice as finance asks for it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NewManualInvoice {
    pub account_id: BillingAccountId,
    /// The academic year it belongs to (and is numbered in).
    pub year: AcademicYear,
    pub due_on: NaiveDate,
    pub po_number: Option<String>,
    pub lines: Vec<ManualLine>,
    /// Send the same key when retrying: the invoice is issued once.
    pub idempotency_key: Option<String>,
}

/// The idempotency scope of manual invoices.
const SCOPE: &str = "invoice.manual";

/// Issues a manual invoice (ManageBilling). Field errors name the input (`lines.0.quantity`,
/// `dueOn`, `accountId`…) and nothing is written; a repeat with the same key returns the
/// first invoice, and the same key with different lines is a CONFLICT.
pub async fn issue_manual(
    db: &DatabaseConnection,
    actor: &Actor,
    clock: &dyn Clock,
    input: NewManualInvoice,
) -> Result<Invoice, DomainError> {
    actor.require(Permission::ManageBilling)?;
    let keyed = Keyed::new(
        SCOPE,
        Caller::Actor(actor),
        input.idempotency_key.as_deref(),
        &input,
    )?;
    if let Some(keyed) = &keyed
        && let Some(ids) = keyed.replay(db).await?
    {
        return first_invoice(db, actor, &ids).await;
    }
    let new = NewInvoice {
        account_id: input.account_id,
        year: input.year,
        instalment: Instalment::None,
        due_on: input.due_on,
        lines: input
            .lines
            .into_iter()
            .map(|l| NewInvoiceLine {
                description: l.description,
                quantity: l.quantity,
                unit_amount: l.unit_amount,
                vat_treatment: l.vat_treatment,
                vat_rate_bp: l.vat_rate_bp,
                cfr_code: l.cfr_code,
                school_id: l.school_id,
                membership_id: None,
                booking_id: None,
            })
            .collect(),
        po_number: input.po_number,
        source: InvoiceSource::Manual,
        collection: InvoiceCollection::Send,
    };
    let txn = db.begin_write().await?;
    // `issue_invoice` runs in a savepoint of this transaction, so the invoice and its key
    // commit together or not at all.
    let issued = issue_invoice(&txn, actor, clock, new).await?.invoice;
    if let Some(keyed) = &keyed {
        match keyed
            .remember(&txn, &[issued.id.as_uuid()], clock.now())
            .await?
        {
            Remembered::Stored => {}
            Remembered::Raced => {
                txn.rollback().await?;
                let ids = keyed.replay(db).await?.unwrap_or_default();
                return first_invoice(db, actor, &ids).await;
            }
        }
    }
    txn.commit().await?;
    Ok(issued)
}

/// The invoice an earlier request with the same key issued.
async fn first_invoice(
    db: &DatabaseConnection,
    actor: &Actor,
    ids: &[uuid::Uuid],
) -> Result<Invoice, DomainError> {
    let id = ids
        .first()
        .ok_or(DomainError::NotFound { entity: "Invoice" })?;
    invoice(db, actor, kernel::InvoiceId::from_uuid(*id)).await
}
