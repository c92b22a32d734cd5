//! The charge as the rest of Trellis sees it.

use chrono::{DateTime, NaiveDate, Utc};
use kernel::{
    AcademicYear, BillingAccountId, ChargeId, CreditNoteId, DomainError, InvoiceId, InvoiceLineId,
    Money, SchoolId, Term,
};
use serde::Serialize;
use uuid::Uuid;

use super::entity::charges;
use crate::ledger::VatTreatment;
use crate::ledger::support::{CorruptRow, named_enum, stored};

named_enum!(
    /// Where a charge is on its way to an invoice.
    ChargeStatus {
        /// Waiting for its term's invoice (possibly reduced to a cancellation fee).
        Pending => "PENDING",
        /// A line of an issued invoice.
        Invoiced => "INVOICED",
        /// Cancelled before invoicing with no fee: it will never be invoiced.
        Withdrawn => "WITHDRAWN",
    }
);

/// A booking to bill on the school's termly invoice.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewCharge {
    pub school_id: SchoolId,
    /// The traded booking: one charge per booking.
    pub booking_id: Uuid,
    /// The session date: it picks the academic year and term.
    pub occurred_on: NaiveDate,
    pub description: String,
    /// Places booked, at least 1.
    pub quantity: u32,
    /// Net of VAT, per place.
    pub unit_amount: Money,
    pub vat_treatment: VatTreatment,
    /// 0 for EXEMPT; 1..=10000 for STANDARD.
    pub vat_rate_bp: u32,
    pub cfr_code: Option<String>,
    pub po_number: Option<String>,
}

/// How a booking's cancellation was settled on its charge, kept so a repeat returns it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Cancellation {
    pub at: DateTime<Utc>,
    /// Net of VAT; zero when nothing was kept.
    pub fee: Money,
    pub reason: String,
    /// The credit note raised when the charge had already been invoiced.
    pub credit_note_id: Option<CreditNoteId>,
}

/// A booking's charge.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Charge {
    pub id: ChargeId,
    pub account_id: BillingAccountId,
    pub school_id: SchoolId,
    pub booking_id: Uuid,
    pub academic_year: AcademicYear,
    pub term: Term,
    pub occurred_on: NaiveDate,
    pub description: String,
    pub quantity: u32,
    pub unit_amount: Money,
    pub vat_treatment: VatTreatment,
    pub vat_rate_bp: u32,
    pub net: Money,
    pub vat: Money,
    pub total: Money,
    pub cfr_code: Option<String>,
    pub po_number: Option<String>,
    pub status: ChargeStatus,
    pub invoice_id: Option<InvoiceId>,
    pub invoice_line_id: Option<InvoiceLineId>,
    pub cancellation: Option<Cancellation>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// What [`super::cancel_charge`] did.
// Returned once per cancellation, never stored in bulk: the unboxed charge is the shape the
// traded crate was promised.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChargeCancellation {
    /// The pending charge will never be invoiced.
    Withdrawn,
    /// The pending charge now bills only the cancellation fee.
    ReducedToFee(Charge),
    /// The charge was invoiced: this credit note gives back what the fee does not keep
    /// (gross, VAT included).
    Credited {
        credit_note_id: CreditNoteId,
        amount: Money,
    },
    /// The charge was invoiced and the fee keeps all of it (or its invoice was voided, or
    /// already credited by hand): no credit note.
    NothingToCredit,
}

impl Charge {
    /// The keyset sort key of charge lists: by the day of the booking.
    #[must_use]
    pub fn sort_key(&self) -> crate::ledger::DateKey {
        (self.occurred_on, self.id.as_uuid())
    }

    pub(crate) fn from_row(row: charges::Model) -> Result<Self, DomainError> {
        let corrupt =
            |what: &str| DomainError::internal(CorruptRow(format!("charge {}: {what}", row.id)));
        let cancellation = match row.cancelled_at {
            Some(at) => Some(Cancellation {
                at,
                fee: Money::from_pence(row.cancellation_fee_pence.unwrap_or(0)),
                reason: row.cancellation_reason.clone().unwrap_or_default(),
                credit_note_id: row.credit_note_id.map(CreditNoteId::from_uuid),
            }),
            None => None,
        };
        Ok(Self {
            id: ChargeId::from_uuid(row.id),
            account_id: BillingAccountId::from_uuid(row.account_id),
            school_id: SchoolId::from_uuid(row.school_id),
            booking_id: row.booking_id,
            academic_year: AcademicYear::starting(row.academic_year)
                .map_err(DomainError::internal)?,
            term: parse_term(&row.term).ok_or_else(|| corrupt("term"))?,
            occurred_on: row.occurred_on,
            quantity: u32::try_from(row.quantity).map_err(|_| corrupt("quantity"))?,
            unit_amount: Money::from_pence(row.unit_pence),
            vat_treatment: stored("vat treatment", &row.vat_treatment)?,
            vat_rate_bp: u32::try_from(row.vat_rate_bp).map_err(|_| corrupt("rate"))?,
            net: Money::from_pence(row.net_pence),
            vat: Money::from_pence(row.vat_pence),
            total: Money::from_pence(row.total_pence),
            status: stored("charge status", &row.status)?,
            invoice_id: row.invoice_id.map(InvoiceId::from_uuid),
            invoice_line_id: row.invoice_line_id.map(InvoiceLineId::from_uuid),
            cancellation,
            description: row.description,
            cfr_code: row.cfr_code,
            po_number: row.po_number,
            created_at: row.created_at,
            updated_at: row.updated_at,
        })
    }
}

/// How a term is stored (as the API spells it).
pub(crate) fn term_str(term: Term) -> &'static str {
    match term {
        Term::Autumn => "AUTUMN",
        Term::Spring => "SPRING",
        Term::Summer => "SUMMER",
    }
}

fn parse_term(raw: &str) -> Option<Term> {
    Term::ALL.into_iter().find(|t| term_str(*t) == raw)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn terms_round_trip_through_storage() {
        for term in Term::ALL {
            assert_eq!(parse_term(term_str(term)), Some(term));
        }
        assert_eq!(parse_term("autumn"), None);
    }
}
