//! GraphQL mirrors of the ledger's enums; `remote` keeps them in step with the domain.

use async_graphql::Enum;
use billing::ledger;

/// Who an account bills.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
#[graphql(remote = "ledger::AccountKind")]
pub enum BillingAccountKind {
    /// A single school pays for itself.
    School,
    /// A multi-academy trust or federation pays for several schools.
    Trust,
}

/// How an account prefers to pay.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
#[graphql(remote = "ledger::PaymentMethod")]
pub enum PaymentMethod {
    /// Bank transfer to the partnership's account, quoting the invoice number.
    BankTransfer,
    /// Debit or credit card, online.
    Card,
    /// Bacs Direct Debit from the payer's bank account.
    BacsDebit,
}

/// How a receipt arrived.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
#[graphql(remote = "ledger::ReceiptMethod")]
pub enum ReceiptMethod {
    /// A bank transfer; receipts confirmed from an uploaded bank statement are recorded so.
    BankTransfer,
    /// A Bacs payment (the three-day bank clearing, e.g. a Direct Debit collection).
    Bacs,
    /// A card payment; money collected through Stripe is recorded as CARD.
    Card,
    /// A cheque paid in.
    Cheque,
    /// A credit the partnership granted (e.g. for school-to-school support); no money arrived.
    Credit,
}

/// Where an invoice stands.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
#[graphql(remote = "ledger::InvoiceStatus")]
pub enum InvoiceStatus {
    /// Being prepared: not yet numbered or issued. Issuing makes it OPEN.
    Draft,
    /// Issued, nothing paid yet.
    Open,
    /// Nothing left outstanding: paid, credited, or both. Final.
    Paid,
    /// Some payment allocated, some still outstanding.
    PartiallyPaid,
    /// Cancelled before anything was paid or credited.
    Void,
    /// Written off.
    Uncollectible,
}

/// Which part of a membership year an invoice bills.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
#[graphql(remote = "ledger::Instalment")]
pub enum Instalment {
    /// The whole membership year on one invoice.
    Annual,
    /// The first of three termly instalments, issued by the invoicing run.
    Autumn,
    /// The second termly instalment, issued on the first day of the spring term (at once if the
    /// run comes later).
    Spring,
    /// The third termly instalment, issued on the first day of the summer term (at once if the run
    /// comes later).
    Summer,
    /// Not a membership instalment (ad-hoc or booking invoices).
    None,
}

/// What raised an invoice.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
#[graphql(remote = "ledger::InvoiceSource")]
pub enum InvoiceSource {
    /// The membership invoicing run, including its scheduled instalments and supplementary runs.
    MembershipRun,
    /// Traded-services bookings: a term's consolidated invoice, or a card booking's one-off
    /// invoice.
    Booking,
    /// Raised by finance by hand (`invoiceCreate`).
    Manual,
}

/// How an invoice is collected.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
#[graphql(remote = "ledger::InvoiceCollection")]
pub enum InvoiceCollection {
    /// Sent to the account's contact and paid by transfer, or on the provider's hosted page
    /// (`hostedInvoiceUrl`) when Stripe is configured.
    Send,
    /// A card booking's one-off invoice, paid by card when the booking was made. It never
    /// gets a hosted invoice page.
    Card,
}

/// Where an invoicing run stands.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
#[graphql(remote = "billing::run::RunStatus")]
pub enum InvoicingRunStatus {
    /// Prepared as drafts for review (`drafts`): nothing issued, no number taken. Issue them
    /// with `invoicingRunIssue`, or discard them with `invoicingRunDiscard`.
    Draft,
    /// Running, or interrupted: start it again to finish it.
    InProgress,
    /// Finished: every invoice due now was issued. Starting the year again is refused.
    Completed,
}

/// The columns of `ledgerExport`.
#[derive(Enum, Debug, Clone, Copy, Default, PartialEq, Eq)]
#[graphql(remote = "ledger::ExportLayout")]
pub enum LedgerExportLayout {
    /// Trellis' ledger: one row per invoice line, credit-note line, receipt and refund.
    #[default]
    Ledger,
    /// Xero's sales-invoice import template (credit notes as negative-quantity lines).
    Xero,
    /// Sage 50 Accounts (UK) audit-trail transactions (SI, SC, SA, SP).
    #[graphql(name = "SAGE50")]
    Sage50,
}
