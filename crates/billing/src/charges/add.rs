//! Adding a booking's charge to its school's next termly invoice.

use kernel::BeginWrite as _;
use kernel::{
    AcademicYear, Actor, ChargeId, Clock, DomainError, ErrorCode, Permission, Problems, Term,
};
use sea_orm::{ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, Set};
use sea_orm::{TransactionSession, TransactionTrait};
use uuid::Uuid;

use super::entity::charges;
use super::types::{Charge, ChargeStatus, NewCharge, term_str};
use crate::ledger::accounts::account_for_school;
use crate::ledger::audit::{self, AuditEntity};
use crate::ledger::invoices::{NewInvoiceLine, PO_MAX, check_line};
use crate::ledger::support::{is_unique_violation, optional_text};

pub(super) async fn by_booking<C: ConnectionTrait>(
    db: &C,
    booking: Uuid,
) -> Result<Option<charges::Model>, DomainError> {
    Ok(charges::Entity::find()
        .filter(charges::Column::BookingId.eq(booking))
        .one(db)
        .await?)
}

/// Adds a booking to its school's termly invoice (ManageBilling; the traded crate calls it as
/// `Actor::System`).
///
/// Idempotent per `booking_id`: a second call returns the existing charge unchanged, whatever
/// it asks. Validated as an invoice line is (field names relative to [`NewCharge`]), with a
/// charge of more than zero, for a school with a billing account (`schoolId`). Written with
/// its audit entry in one transaction, a savepoint when `db` already is one, so a booking and
/// its charge commit together.
pub async fn add_charge<C: ConnectionTrait + TransactionTrait>(
    db: &C,
    actor: &Actor,
    clock: &dyn Clock,
    input: NewCharge,
) -> Result<Charge, DomainError> {
    actor.require(Permission::ManageBilling)?;
    if let Some(existing) = by_booking(db, input.booking_id).await? {
        return Charge::from_row(existing);
    }
    let account = account_for_school(db, input.school_id).await?;
    let mut problems = Problems::new();
    if account.is_none() {
        problems.add(
            "schoolId",
            ErrorCode::NotFound,
            "no billing account pays for this school",
        );
    }
    let line = NewInvoiceLine {
        description: input.description.clone(),
        quantity: input.quantity,
        unit_amount: input.unit_amount,
        vat_treatment: input.vat_treatment,
        vat_rate_bp: input.vat_rate_bp,
        cfr_code: input.cfr_code.clone(),
        school_id: None,
        membership_id: None,
        booking_id: Some(input.booking_id),
    };
    let checked = check_line(&mut problems, "", &line, &[]);
    if checked.as_ref().is_some_and(|c| c.net <= 0) {
        problems.add(
            "unitAmountPence",
            ErrorCode::OutOfRange,
            "a charge must be for more than zero",
        );
    }
    let year = AcademicYear::containing(input.occurred_on);
    if AcademicYear::starting(year.start_year()).is_err() {
        problems.add(
            "occurredOn",
            ErrorCode::OutOfRange,
            "the date is outside the academic years Trellis bills",
        );
    }
    let po_number = problems
        .check(optional_text(
            "poNumber",
            input.po_number.as_deref(),
            PO_MAX,
        ))
        .flatten();
    problems.finish()?;
    let (Some(account), Some(checked)) = (account, checked) else {
        return Err(DomainError::internal(kernel::CorruptRow(
            "a checked charge lost its account or line".to_owned(),
        )));
    };

    let term = Term::containing(input.occurred_on);
    let now = clock.now();
    let (created_by_kind, created_by) = kernel::audit::actor_parts(actor);
    let id = ChargeId::new();
    let txn = db.begin_write().await?;
    let inserted = charges::ActiveModel {
        id: Set(id.as_uuid()),
        account_id: Set(account.id.as_uuid()),
        school_id: Set(input.school_id.as_uuid()),
        booking_id: Set(input.booking_id),
        academic_year: Set(year.start_year()),
        term: Set(term_str(term).to_owned()),
        occurred_on: Set(input.occurred_on),
        description: Set(checked.description),
        quantity: Set(i64::from(checked.quantity)),
        unit_pence: Set(checked.unit),
        vat_treatment: Set(input.vat_treatment.as_str().to_owned()),
        vat_rate_bp: Set(i32::try_from(input.vat_rate_bp).map_err(DomainError::internal)?),
        net_pence: Set(checked.net),
        vat_pence: Set(checked.vat),
        total_pence: Set(checked.net + checked.vat),
        cfr_code: Set(checked.cfr),
        po_number: Set(po_number),
        status: Set(ChargeStatus::Pending.as_str().to_owned()),
        invoice_id: Set(None),
        invoice_line_id: Set(None),
        cancelled_at: Set(None),
        cancellation_fee_pence: Set(None),
        cancellation_reason: Set(None),
        credit_note_id: Set(None),
        created_by_kind: Set(created_by_kind.as_str().to_owned()),
        created_by: Set(created_by),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(&txn)
    .await;
    let row = match inserted {
        Ok(row) => row,
        // A concurrent add for the same booking committed first: it is the charge.
        Err(err) if is_unique_violation(&err) => {
            txn.rollback().await?;
            let existing = by_booking(db, input.booking_id)
                .await?
                .ok_or_else(|| DomainError::internal(err))?;
            return Charge::from_row(existing);
        }
        Err(err) => return Err(err.into()),
    };
    let charge = Charge::from_row(row)?;
    audit::record(
        &txn,
        actor,
        clock,
        "charge.add",
        (AuditEntity::Charge, id.as_uuid()),
        None::<&()>,
        Some(&charge),
    )
    .await?;
    txn.commit().await?;
    tracing::debug!(charge = %charge.id, booking = %charge.booking_id, total = %charge.total, "booking charge added");
    Ok(charge)
}
