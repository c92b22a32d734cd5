//! Booking charges and the school's consolidated termly invoice.
//!
//! A traded-services booking settled "on the termly invoice" becomes a [`Charge`]: PENDING
//! until the term's invoices are issued, then INVOICED as one line (with the booking's own
//! PO number) of one invoice per billing account and term. Cancelling a booking withdraws
//! its pending charge, shrinks it to the cancellation fee, or — once invoiced — credits the
//! invoice for what the fee does not keep.
//!
//! **Invariants.** One charge per booking (a unique index, so [`add_charge`] is idempotent);
//! a charge is invoiced at most once (it moves PENDING → INVOICED under its account's ledger
//! lock, by a conditional update); a cancellation happens once (recorded on the charge, and
//! its credit note carries an idempotency key derived from the booking).
//!
//! **Amounts.** `unit_amount` and a cancellation `fee` are net of VAT, like invoice lines:
//! VAT is added at the charge's rate, rounded per line as the ledger does.

mod add;
mod cancel;
mod entity;
mod issue;
mod moved;
mod read;
mod types;

pub use add::add_charge;
pub use cancel::cancel_charge;
pub use issue::{TermInvoicing, issue_term_invoices, terms_to_issue};
pub(crate) use moved::follow_move;
pub use read::{
    AccountPreview, ChargeFilter, charge, charges_by_bookings, charges_by_ids, pending_by_account,
    pending_charges, term_preview,
};
pub use types::{Cancellation, Charge, ChargeCancellation, ChargeStatus, NewCharge};
