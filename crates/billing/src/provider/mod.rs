//! The `PaymentProvider` port: what Trellis asks of whoever collects its money.
//!
//! Requests carry Trellis's own ids and an idempotency key (Stripe's `Idempotency-Key`
//! header; derived from the Trellis id so a retried call is the same call); responses carry
//! the provider's references, which the ledger stores (`provider_customer_ref`,
//! `provider_invoice_ref` + hosted page, `provider_payment_ref`, `provider_refund_ref`).
//! The shapes follow what a Stripe adapter needs: customers; invoices finalised with
//! `collection_method = send_invoice` and `days_until_due`; PaymentIntents; refunds; and a
//! status read-back for reconciliation.
//!
//! **The ledger stays the book of record.** A provider call never changes the ledger by
//! itself; the caller records what came back (e.g. `invoices::record_provider_invoice`).
//!
//! [`OfflineProvider`] is the embedded default: no external calls, invoices are paid by
//! bank transfer that finance records as receipts, references are deterministic `offline_…`.
//! [`StripeProvider`] is the Stripe adapter (async-stripe), chosen when a secret key is
//! configured.

mod offline;
#[cfg(feature = "test-support")]
mod recorded_cards;
pub mod stripe;

pub use offline::OfflineProvider;
#[cfg(feature = "test-support")]
pub use recorded_cards::RecordedCards;
pub use stripe::{HostedPaymentMethod, StripeConfig, StripeProvider};

use std::collections::BTreeMap;
use std::fmt;

use async_trait::async_trait;
use chrono::{DateTime, NaiveDate, Utc};
use kernel::{BillingAccountId, DomainError, InvoiceId, Money, PaymentId, RefundId};
use serde::Serialize;
use thiserror::Error;

use crate::ledger::accounts::Address;
use crate::ledger::invoices::VatTreatment;

/// A provider idempotency key, derived from the Trellis operation and id so that a retry
/// after a timeout is recognised as the same request.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub struct IdempotencyKey(String);

impl IdempotencyKey {
    /// `trellis:<operation>:<id>`.
    #[must_use]
    pub fn derive(operation: &str, id: impl fmt::Display) -> Self {
        Self(format!("trellis:{operation}:{id}"))
    }

    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Create (or find) the provider's customer for a billing account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreateCustomer {
    pub account_id: BillingAccountId,
    pub name: String,
    pub email: String,
    pub address: Address,
    pub idempotency_key: IdempotencyKey,
}

/// The provider's customer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProviderCustomer {
    /// e.g. Stripe `cus_…`.
    pub customer_ref: String,
}

/// One line as the provider shows it (Stripe: an invoice item with a tax rate).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProviderLine {
    pub description: String,
    pub quantity: u32,
    pub unit_amount: Money,
    pub vat_treatment: VatTreatment,
    pub vat_rate_bp: u32,
}

/// How the provider should collect an invoice.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Collection {
    /// Email the invoice with a hosted payment page; due `days_until_due` after sending.
    SendInvoice { days_until_due: u32 },
    /// Charge the customer's saved method (card, Bacs Direct Debit mandate).
    ChargeAutomatically,
}

/// Mirror an issued Trellis invoice at the provider.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssueInvoice {
    pub invoice_id: InvoiceId,
    /// The Trellis number, shown on the provider's document.
    pub number: String,
    pub account_id: BillingAccountId,
    pub customer_ref: String,
    pub lines: Vec<ProviderLine>,
    pub total: Money,
    pub due_on: NaiveDate,
    pub collection: Collection,
    pub po_number: Option<String>,
    /// Shown to finance at the provider and used to match its records back: Trellis ids, the
    /// school URN(s), the academic year (e.g. `academic_year = 2026/27`).
    pub metadata: BTreeMap<String, String>,
    pub idempotency_key: IdempotencyKey,
}

/// Where the provider keeps an invoice.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProviderInvoice {
    /// e.g. Stripe `in_…`.
    pub invoice_ref: String,
    /// The page where the school can pay, when the provider has one.
    pub hosted_url: Option<String>,
    /// The invoice as a PDF, when the provider renders one.
    pub pdf_url: Option<String>,
}

/// Void a mirrored invoice (the Trellis invoice was voided).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VoidInvoice {
    pub invoice_id: InvoiceId,
    pub invoice_ref: String,
    pub idempotency_key: IdempotencyKey,
}

/// Mirror a Trellis credit note on a mirrored invoice.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreditInvoice {
    pub credit_note_id: kernel::CreditNoteId,
    pub invoice_ref: String,
    /// Gross, VAT included, as the credit note's total.
    pub amount: Money,
    pub reason: String,
    pub idempotency_key: IdempotencyKey,
}

/// The provider's credit note.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProviderCreditNote {
    /// e.g. Stripe `cn_…`.
    pub credit_note_ref: String,
}

/// List a customer's invoices at the provider, for reconciliation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListInvoices {
    pub customer_ref: String,
}

/// One invoice as the provider lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemoteInvoiceSummary {
    pub invoice_ref: String,
    /// The Trellis invoice it mirrors, from its metadata; `None` when it was made elsewhere.
    pub invoice_id: Option<InvoiceId>,
    pub total: Money,
    pub status: RemoteInvoiceStatus,
    pub amount_paid: Money,
    pub amount_remaining: Money,
}

/// Take a payment (Stripe: a PaymentIntent) for an amount, usually against an invoice.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TakePayment {
    /// The Trellis payment this will be recorded as.
    pub payment_id: PaymentId,
    pub account_id: BillingAccountId,
    pub customer_ref: String,
    pub invoice_id: Option<InvoiceId>,
    pub amount: Money,
    pub idempotency_key: IdempotencyKey,
}

/// Call off a payment that was started but should no longer complete (Stripe: cancel the
/// PaymentIntent), so a payer cannot finish paying for something Trellis has given up on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CancelPayment {
    /// What [`PaymentProvider::take_payment`] returned.
    pub payment_ref: String,
    pub idempotency_key: IdempotencyKey,
}

/// What calling off a payment came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PaymentCancel {
    /// It can no longer take money (cancelled now or before).
    Cancelled,
    /// Too late: the money has been taken or is on its way; its webhook will record it.
    Completed,
}

/// Where a payment stands at the provider.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PaymentOutcome {
    /// Money captured: record the receipt now.
    Succeeded,
    /// Money will arrive later (Bacs debit, bank transfer): record it when it does.
    Pending,
    /// The payer must act (3-D Secure); the front end continues with this secret.
    RequiresAction {
        client_secret: String,
    },
    Failed {
        reason: String,
    },
}

/// A payment at the provider.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProviderPayment {
    /// e.g. Stripe `pi_…`.
    pub payment_ref: String,
    pub outcome: PaymentOutcome,
}

/// Return money.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefundPayment {
    pub refund_id: RefundId,
    pub payment_id: PaymentId,
    /// The provider's payment, when it took the money; `None` for recorded bank receipts.
    pub payment_ref: Option<String>,
    pub amount: Money,
    pub reason: String,
    pub idempotency_key: IdempotencyKey,
}

/// Where a refund stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RefundOutcome {
    Succeeded,
    Pending,
    Failed { reason: String },
}

/// A refund at the provider.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProviderRefund {
    /// e.g. Stripe `re_…`.
    pub refund_ref: String,
    pub outcome: RefundOutcome,
}

/// Ask the provider where one invoice stands, for reconciliation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyncStatus {
    pub invoice_id: InvoiceId,
    pub invoice_ref: String,
}

/// An invoice's state as the provider sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RemoteInvoiceStatus {
    Draft,
    Open,
    Paid,
    Void,
    Uncollectible,
}

/// The provider's view of an invoice.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemoteInvoice {
    pub status: RemoteInvoiceStatus,
    pub amount_paid: Money,
    pub amount_remaining: Money,
}

/// List the money a customer paid through the provider since a moment, for reconciliation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListCharges {
    pub customer_ref: String,
    pub created_since: DateTime<Utc>,
}

/// Where a charge stands at the provider.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RemoteChargeStatus {
    Succeeded,
    Pending,
    Failed,
}

/// One charge as the provider lists it (Stripe: a charge, usually of a PaymentIntent).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemoteCharge {
    /// e.g. Stripe `ch_…`.
    pub charge_ref: String,
    /// The PaymentIntent it belongs to (`pi_…`), which is what Trellis receipts record.
    pub payment_ref: Option<String>,
    pub amount: Money,
    pub amount_refunded: Money,
    pub status: RemoteChargeStatus,
    pub created: DateTime<Utc>,
    /// Its refunds, when any.
    pub refunds: Vec<RemoteRefund>,
}

/// One refund of a charge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemoteRefund {
    /// e.g. Stripe `re_…`.
    pub refund_ref: String,
    pub amount: Money,
    /// `succeeded`, `pending`, `failed`, `canceled`.
    pub status: String,
}

/// List the payouts to the bank arriving since a day, with what each paid out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListPayouts {
    pub arriving_since: NaiveDate,
}

/// A payout to the partnership's bank account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemotePayout {
    /// e.g. Stripe `po_…`.
    pub payout_ref: String,
    /// What reaches the bank.
    pub amount: Money,
    pub currency: String,
    pub arrival_on: NaiveDate,
    /// `paid`, `pending`, `in_transit`, `failed`, `canceled`.
    pub status: String,
    /// The balance transactions it paid out (charges, refunds, fees, …), not the payout's own.
    pub lines: Vec<PayoutLine>,
}

/// One balance transaction a payout paid out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PayoutLine {
    /// e.g. Stripe `txn_…`.
    pub transaction_ref: String,
    /// `charge`, `refund`, `payment`, `adjustment`, … as the provider names it.
    pub kind: String,
    /// The charge or refund behind it (`ch_…`, `re_…`).
    pub source_ref: Option<String>,
    pub amount: Money,
    pub fee: Money,
    pub net: Money,
}

/// Why a provider call failed.
#[derive(Debug, Error)]
pub enum ProviderError {
    /// This provider does not do that (e.g. card payments offline).
    #[error("{provider} cannot {operation}")]
    Unsupported {
        provider: &'static str,
        operation: &'static str,
    },
    /// The provider refused the request (bad data, declined card); the message is theirs.
    #[error("rejected by the payment provider: {0}")]
    Rejected(String),
    /// The provider could not be reached or failed; safe to retry with the same key.
    #[error("payment provider unavailable")]
    Unavailable(#[source] Box<dyn std::error::Error + Send + Sync>),
}

/// A provider that could not be reached is a dependency outage the caller can retry; one
/// that cannot do the operation, or refused it, is ours to explain (callers with an input
/// field to blame map `Rejected` to a field error before this).
impl From<ProviderError> for DomainError {
    fn from(err: ProviderError) -> Self {
        match err {
            ProviderError::Unavailable(source) => DomainError::Unavailable {
                dependency: "payment provider",
                source,
            },
            other => DomainError::internal(other),
        }
    }
}

/// What Trellis needs from a payment provider.
#[async_trait]
pub trait PaymentProvider: Send + Sync + fmt::Debug {
    /// A short stable name (`offline`, `stripe`), for logs and stored references.
    fn name(&self) -> &'static str;

    /// Whether a card payment started here can be completed by the payer. Offline: no — a
    /// payment reference nobody can pay is no payment at all, so card settlement is refused
    /// where this is false.
    fn takes_cards(&self) -> bool;

    async fn create_customer(
        &self,
        request: CreateCustomer,
    ) -> Result<ProviderCustomer, ProviderError>;

    async fn issue_invoice(&self, request: IssueInvoice) -> Result<ProviderInvoice, ProviderError>;

    async fn take_payment(&self, request: TakePayment) -> Result<ProviderPayment, ProviderError>;

    async fn refund(&self, request: RefundPayment) -> Result<ProviderRefund, ProviderError>;

    /// Calls off a payment started by `take_payment` unless it has already completed.
    async fn cancel_payment(&self, request: CancelPayment) -> Result<PaymentCancel, ProviderError>;

    /// `None` when the provider keeps no state of its own for the invoice (offline): the
    /// ledger is then the only truth and there is nothing to reconcile against.
    async fn sync_status(
        &self,
        request: SyncStatus,
    ) -> Result<Option<RemoteInvoice>, ProviderError>;

    async fn void_invoice(&self, request: VoidInvoice) -> Result<(), ProviderError>;

    async fn credit_invoice(
        &self,
        request: CreditInvoice,
    ) -> Result<ProviderCreditNote, ProviderError>;

    /// `None` when the provider keeps no invoices of its own (offline).
    async fn list_invoices(
        &self,
        request: ListInvoices,
    ) -> Result<Option<Vec<RemoteInvoiceSummary>>, ProviderError>;

    /// A customer's charges with their refunds. `None` when the provider takes no money
    /// itself (offline).
    async fn list_charges(
        &self,
        request: ListCharges,
    ) -> Result<Option<Vec<RemoteCharge>>, ProviderError>;

    /// Payouts with their lines. `None` when the provider pays nothing out (offline).
    async fn list_payouts(
        &self,
        request: ListPayouts,
    ) -> Result<Option<Vec<RemotePayout>>, ProviderError>;
}
