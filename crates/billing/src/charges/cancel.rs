//! Cancelling a booking's charge: withdrawn, reduced to the fee, or credited once invoiced.

use kernel::BeginWrite as _;
use kernel::{Actor, Clock, DomainError, ErrorCode, Money, Permission};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, TransactionSession};
use sea_orm::{Set, TransactionTrait};
use uuid::Uuid;

use super::add::by_booking;
use super::entity::charges;
use super::types::{Charge, ChargeCancellation, ChargeStatus};
use crate::ledger::audit::{self, AuditEntity};
use crate::ledger::credit_notes::{self, CreditAmount, NewCreditNote, uncredited_on_line};
use crate::ledger::invoices::vat_on;
use crate::ledger::support::{CorruptRow, lock_account, required_text, stored};
use kernel::{BillingAccountId, CreditNoteId, InvoiceId, InvoiceLineId};

const REASON_MAX: usize = 500;

/// The prefix of a charge reduced to its cancellation fee, so the invoice line says why.
pub const FEE_PREFIX: &str = "Cancellation fee: ";

/// Applies a booking's cancellation to its charge (ManageBilling), keeping `fee` (net of VAT,
/// zero for a free cancellation):
///
/// * PENDING, no fee → WITHDRAWN, never invoiced;
/// * PENDING with a fee → reduced to one line of `fee`, described "Cancellation fee: …";
/// * INVOICED → a credit note on its invoice line for the line's gross less the fee's gross
///   (capped at what is still uncredited on the line), or `NothingToCredit` when that is
///   nothing (or the invoice was voided).
///
/// Done once: a repeat returns what the first did (a charge reduced to its fee and invoiced
/// since reads as `NothingToCredit`) and raises no second credit note. One transaction under
/// the account's ledger lock (a savepoint when `db` already is a transaction).
///
/// # Errors
/// `NotFound` for a booking without a charge; `Invalid` on `fee` (negative, or more than
/// the charge's net) or `reason` (blank, too long).
pub async fn cancel_charge<C: ConnectionTrait + TransactionTrait>(
    db: &C,
    actor: &Actor,
    clock: &dyn Clock,
    booking_id: Uuid,
    fee: Money,
    reason: &str,
) -> Result<ChargeCancellation, DomainError> {
    actor.require(Permission::ManageBilling)?;
    let reason =
        required_text("reason", reason, REASON_MAX).map_err(|e| DomainError::Invalid(vec![e]))?;
    if fee.pence() < 0 {
        return Err(DomainError::invalid(
            "fee",
            ErrorCode::OutOfRange,
            "a cancellation fee cannot be negative",
        ));
    }
    let not_found = || DomainError::NotFound { entity: "Charge" };
    let row = by_booking(db, booking_id).await?.ok_or_else(not_found)?;
    if row.cancelled_at.is_some() {
        return earlier_outcome(db, actor, row).await;
    }
    let txn = db.begin_write().await?;
    lock_account(&txn, BillingAccountId::from_uuid(row.account_id)).await?;
    // Under the lock: a concurrent cancellation or issue has committed by now.
    let row = by_booking(&txn, booking_id).await?.ok_or_else(not_found)?;
    if row.cancelled_at.is_some() {
        txn.rollback().await?;
        return earlier_outcome(db, actor, row).await;
    }
    if fee.pence() > row.net_pence {
        return Err(DomainError::invalid(
            "fee",
            ErrorCode::OutOfRange,
            format!(
                "the fee is more than the charge of {}",
                Money::from_pence(row.net_pence)
            ),
        ));
    }
    let before = Charge::from_row(row.clone())?;
    let now = clock.now();
    let mut change = charges::ActiveModel {
        cancelled_at: Set(Some(now)),
        cancellation_fee_pence: Set(Some(fee.pence())),
        cancellation_reason: Set(Some(reason.clone())),
        updated_at: Set(now),
        ..Default::default()
    };
    let status: ChargeStatus = stored("charge status", &row.status)?;
    let mut credited = None;
    match status {
        ChargeStatus::Pending if fee.pence() == 0 => {
            change.status = Set(ChargeStatus::Withdrawn.as_str().to_owned());
        }
        ChargeStatus::Pending => {
            let vat = vat_on(fee.pence(), u32::try_from(row.vat_rate_bp).unwrap_or(0));
            change.description = Set(format!("{FEE_PREFIX}{}", row.description));
            change.quantity = Set(1);
            change.unit_pence = Set(fee.pence());
            change.net_pence = Set(fee.pence());
            change.vat_pence = Set(vat);
            change.total_pence = Set(fee.pence() + vat);
        }
        ChargeStatus::Invoiced => {
            let (Some(invoice), Some(line)) = (row.invoice_id, row.invoice_line_id) else {
                return Err(DomainError::internal(CorruptRow(format!(
                    "invoiced charge {} names no invoice line",
                    row.id
                ))));
            };
            let kept =
                fee.pence() + vat_on(fee.pence(), u32::try_from(row.vat_rate_bp).unwrap_or(0));
            let left = uncredited_on_line(&txn, InvoiceLineId::from_uuid(line)).await?;
            let amount = (row.total_pence - kept).min(left);
            if amount > 0 {
                let note = credit_notes::credit(
                    &txn,
                    actor,
                    clock,
                    NewCreditNote {
                        invoice_id: InvoiceId::from_uuid(invoice),
                        reason: format!("Booking cancelled: {reason}"),
                        amount: CreditAmount::Lines(vec![(
                            InvoiceLineId::from_uuid(line),
                            Money::from_pence(amount),
                        )]),
                        idempotency_key: Some(format!("charge-cancel:{booking_id}")),
                    },
                )
                .await?;
                change.credit_note_id = Set(Some(note.id.as_uuid()));
                credited = Some((note.id, note.total));
            }
        }
        ChargeStatus::Withdrawn => {
            return Err(DomainError::internal(CorruptRow(format!(
                "charge {} is withdrawn but not cancelled",
                row.id
            ))));
        }
    }
    let result = charges::Entity::update_many()
        .set(change)
        .filter(charges::Column::Id.eq(row.id))
        .filter(charges::Column::CancelledAt.is_null())
        .filter(charges::Column::Status.eq(row.status.clone()))
        .exec(&txn)
        .await?;
    if result.rows_affected != 1 {
        return Err(DomainError::internal(CorruptRow(format!(
            "charge {} changed under its account lock",
            row.id
        ))));
    }
    let after_row = charges::Entity::find_by_id(row.id)
        .one(&txn)
        .await?
        .ok_or_else(not_found)?;
    let after = Charge::from_row(after_row)?;
    audit::record(
        &txn,
        actor,
        clock,
        "charge.cancel",
        (AuditEntity::Charge, row.id),
        Some(&before),
        Some(&after),
    )
    .await?;
    txn.commit().await?;
    tracing::debug!(charge = %after.id, booking = %booking_id, fee = %fee, "booking charge cancelled");
    Ok(outcome(after, credited))
}

fn outcome(charge: Charge, credited: Option<(CreditNoteId, Money)>) -> ChargeCancellation {
    match (charge.status, credited) {
        (_, Some((credit_note_id, amount))) => ChargeCancellation::Credited {
            credit_note_id,
            amount,
        },
        (ChargeStatus::Withdrawn, None) => ChargeCancellation::Withdrawn,
        (ChargeStatus::Pending, None) => ChargeCancellation::ReducedToFee(charge),
        (ChargeStatus::Invoiced, None) => ChargeCancellation::NothingToCredit,
    }
}

/// What the first cancellation of this charge did, read back.
async fn earlier_outcome<C: ConnectionTrait>(
    db: &C,
    actor: &Actor,
    row: charges::Model,
) -> Result<ChargeCancellation, DomainError> {
    let charge = Charge::from_row(row)?;
    let credited = match charge.cancellation.as_ref().and_then(|c| c.credit_note_id) {
        Some(id) => {
            let note = credit_notes::credit_note(db, actor, id).await?;
            Some((id, note.total))
        }
        None => None,
    };
    Ok(outcome(charge, credited))
}
