//! The money ledger: billing accounts and schools' moves between them, invoices (the run's, bookings' and finance's manual
//! ones) and their numbering, credit notes, payments
//! and allocations, refunds, the audit trail, and finance reports.
//!
//! **Invariants** (checked by the property test in `tests/ledger_props.rs`):
//! * per invoice: `total = paid + credited + outstanding`, each term ≥ 0;
//! * per receipt: `amount = allocated + refunded + unallocated`, each term ≥ 0;
//! * invoice and credit-note numbers are gap-free and unique per series and year.
//!
//! **Concurrency:** every mutation of an account's money runs in one transaction that first
//! takes the account's ledger lock (`support::lock_account`): one writer per account at a
//! time on PostgreSQL and SQLite alike. Running totals are moreover changed by conditional
//! updates that refuse to go negative.
//!
//! **Audit:** every mutation writes [`audit`] entries in its own transaction.

pub(crate) mod entity;
pub(crate) mod support;

pub mod accounts;
pub mod audit;
pub mod bank;
pub mod billed;
pub mod credit_notes;
pub mod document;
pub mod export;
pub mod idempotency;
pub mod invoices;
pub mod issuing;
pub mod manual;
pub mod moves;
pub mod numbering;
pub mod payments;
pub mod period;
pub mod refunds;
pub mod reports;
pub mod status;
pub mod time_credits;

pub use accounts::{
    AccountChanges, AccountKind, Address, BillingAccount, NewBillingAccount, PaymentMethod,
};
pub use audit::{ActorKind, AuditEntity, AuditEntry, audit_of};
pub use credit_notes::{CreditAmount, CreditNote, CreditNoteLine, NewCreditNote};
pub use export::{ExportLayout, export_csv};
pub use invoices::{
    Instalment, Invoice, InvoiceCollection, InvoiceFilter, InvoiceLine, InvoiceSource,
    IssueOutcome, NewInvoice, NewInvoiceLine, VatTreatment, split_instalments,
};
pub use issuing::{issue_invoice, issue_invoices};
pub use manual::{ManualLine, NewManualInvoice, issue_manual};
pub use moves::{
    AccountMove, AppliedMoves, MoveStatus, NewMove, apply_due_moves, cancel_move, move_school,
};
pub use numbering::Series;
pub use payments::{
    Allocation, DateKey, NewPayment, Payment, PaymentFilter, ReceiptMethod, allocate,
    record_payment, record_payment_once,
};
pub use period::Period;
pub use refunds::{NewRefund, Refund, refund};
pub use reports::{AgedDebtRow, Statement, account_statement, aged_debt, unallocated_receipts};
pub use status::InvoiceStatus;
pub use support::UnknownValue;
