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
    BankTransfer,
    Card,
    BacsDebit,
}

/// How a receipt arrived.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
#[graphql(remote = "ledger::ReceiptMethod")]
pub enum ReceiptMethod {
    BankTransfer,
    Bacs,
    Card,
    Cheque,
    /// A credit the partnership granted (e.g. for school-to-school support); no money arrived.
    Credit,
}

/// Where an invoice stands.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
#[graphql(remote = "ledger::InvoiceStatus")]
pub enum InvoiceStatus {
    Draft,
    /// Issued, nothing paid yet.
    Open,
    Paid,
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
    Annual,
    Autumn,
    Spring,
    Summer,
    /// Not a membership instalment (ad-hoc or booking invoices).
    None,
}

/// What raised an invoice.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
#[graphql(remote = "ledger::InvoiceSource")]
pub enum InvoiceSource {
    MembershipRun,
    Booking,
    Manual,
}

/// Where an invoicing run stands.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
#[graphql(remote = "billing::run::RunStatus")]
pub enum InvoicingRunStatus {
    /// Running, or interrupted: start it again to finish it.
    InProgress,
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
