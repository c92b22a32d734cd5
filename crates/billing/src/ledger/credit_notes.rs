//! Credit notes: how an issued invoice is corrected, in full or in part.
//!
//! **The rule.** A credit note may credit at most what is still *uncredited* on the invoice
//! (`total - credited`), line by line: never more than a line's gross less what earlier
//! credit notes took from it. It first reduces what is outstanding; whatever it credits
//! beyond that was already paid, so that much of the invoice's allocations is *released*
//! back to the receipts that paid it (newest allocation first) and becomes account credit,
//! which can then be allocated elsewhere or refunded. Hence after every credit note
//! `total = paid + credited + outstanding` still holds with each term at least zero.
//! Void invoices (nothing to correct) and drafts cannot be credited.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use kernel::money::{checked_add_i64, checked_left, checked_sum_i64};
use kernel::{
    AcademicYear, Actor, AllocationId, BillingAccountId, Clock, CreditNoteId, DomainError,
    ErrorCode, InvoiceId, InvoiceLineId, Money, Permission, Problems,
};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, Set,
    TransactionSession, TransactionTrait,
};
use serde::Serialize;

use super::accounts::schools_of_account;
use super::audit::{self, AuditEntity};
use super::entity::{allocations, credit_note_lines, credit_notes, invoice_lines, payments};
use super::idempotency::{Caller, Keyed, Remembered};
use super::invoices::{Invoice, apply_money, lock_invoice};
use super::numbering::{Series, next_number};
use super::payments::{Payment, add_allocated};
use super::status::InvoiceStatus;
use super::support::{Sight, positive, required_text, stored};

/// A credit note against one invoice.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CreditNote {
    pub id: CreditNoteId,
    /// e.g. `CN-2026-000007`.
    pub number: String,
    pub invoice_id: InvoiceId,
    pub account_id: BillingAccountId,
    /// The credited invoice's year.
    pub academic_year: AcademicYear,
    pub reason: String,
    pub net: Money,
    pub vat: Money,
    pub total: Money,
    /// The part that was already paid and went back to receipts as account credit.
    pub released: Money,
    pub issued_at: DateTime<Utc>,
    pub lines: Vec<CreditNoteLine>,
}

/// The part of a credit note that credits one invoice line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CreditNoteLine {
    pub invoice_line_id: InvoiceLineId,
    pub description: String,
    pub net: Money,
    pub vat: Money,
    pub cfr_code: Option<String>,
}

/// How much to credit (gross amounts, VAT included).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum CreditAmount {
    /// Everything still uncredited.
    Full,
    /// This much, taken from the invoice's lines in order.
    Amount(Money),
    /// These amounts from these lines.
    Lines(Vec<(InvoiceLineId, Money)>),
}

/// A credit note to raise.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NewCreditNote {
    pub invoice_id: InvoiceId,
    pub reason: String,
    pub amount: CreditAmount,
    /// Makes a retried request (a timeout, a double click) raise one note, not two: a second
    /// request with the same key returns the first note, or a `Conflict` if it differs.
    pub idempotency_key: Option<String>,
}

/// What is left to credit on one invoice line.
struct LineRoom {
    line: invoice_lines::Model,
    gross_left: i64,
    vat_left: i64,
}

async fn room<C: ConnectionTrait>(
    db: &C,
    invoice: uuid::Uuid,
) -> Result<Vec<LineRoom>, DomainError> {
    let lines = invoice_lines::Entity::find()
        .filter(invoice_lines::Column::InvoiceId.eq(invoice))
        .order_by_asc(invoice_lines::Column::Position)
        .all(db)
        .await?;
    let credited = credit_note_lines::Entity::find()
        .filter(credit_note_lines::Column::InvoiceLineId.is_in(lines.iter().map(|l| l.id)))
        .all(db)
        .await?;
    Ok(lines
        .into_iter()
        .map(|line| {
            let (net, vat) = credited
                .iter()
                .filter(|c| c.invoice_line_id == line.id)
                .fold((0, 0), |(n, v), c| (n + c.net_pence, v + c.vat_pence));
            LineRoom {
                gross_left: line.net_pence + line.vat_pence - net - vat,
                vat_left: line.vat_pence - vat,
                line,
            }
        })
        .collect())
}

/// What can still be credited on one invoice line (gross pence): zero when its invoice cannot
/// be credited at all (void, draft). For a booking cancelled after its invoice was issued.
pub(crate) async fn uncredited_on_line<C: ConnectionTrait>(
    db: &C,
    line: InvoiceLineId,
) -> Result<i64, DomainError> {
    let Some(row) = invoice_lines::Entity::find_by_id(line.as_uuid())
        .one(db)
        .await?
    else {
        return Ok(0);
    };
    let Some(invoice) = super::entity::invoices::Entity::find_by_id(row.invoice_id)
        .one(db)
        .await?
    else {
        return Ok(0);
    };
    let status: InvoiceStatus = stored("invoice status", &invoice.status)?;
    if !status.accepts_credit() {
        return Ok(0);
    }
    Ok(room(db, row.invoice_id)
        .await?
        .into_iter()
        .find(|r| r.line.id == row.id)
        .map_or(0, |r| r.gross_left))
}

/// The VAT inside `gross` credited from a line: proportional, and exact when it empties it.
fn vat_part(room: &LineRoom, gross: i64) -> i64 {
    if gross == room.gross_left {
        return room.vat_left;
    }
    let line_gross = room.line.net_pence + room.line.vat_pence;
    if line_gross == 0 {
        return 0;
    }
    let v = (i128::from(gross) * i128::from(room.line.vat_pence) + i128::from(line_gross) / 2)
        / i128::from(line_gross);
    i64::try_from(v).unwrap_or(0).min(room.vat_left)
}

/// Gross amounts per line index, or the field errors.
fn plan(rooms: &[LineRoom], amount: &CreditAmount) -> Result<Vec<(usize, i64)>, DomainError> {
    let uncredited = checked_sum_i64("invoice uncredited", rooms.iter().map(|r| r.gross_left))?;
    match amount {
        CreditAmount::Full => {
            if uncredited == 0 {
                return Err(DomainError::invalid(
                    "invoiceId",
                    ErrorCode::Conflict,
                    "the invoice is already fully credited",
                ));
            }
            Ok(rooms
                .iter()
                .enumerate()
                .filter(|(_, r)| r.gross_left > 0)
                .map(|(i, r)| (i, r.gross_left))
                .collect())
        }
        CreditAmount::Amount(money) => {
            let mut left =
                positive("amountPence", *money).map_err(|e| DomainError::Invalid(vec![e]))?;
            if left > uncredited {
                return Err(DomainError::invalid(
                    "amountPence",
                    ErrorCode::OutOfRange,
                    format!(
                        "only {} of the invoice is not yet credited",
                        Money::from_pence(uncredited)
                    ),
                ));
            }
            let mut out = Vec::new();
            for (i, r) in rooms.iter().enumerate() {
                let take = left.min(r.gross_left);
                if take > 0 {
                    out.push((i, take));
                    left -= take;
                }
            }
            Ok(out)
        }
        CreditAmount::Lines(lines) => {
            let mut problems = Problems::new();
            if lines.is_empty() {
                problems.add("lines", ErrorCode::Required, "credit at least one line");
            }
            let mut wanted: HashMap<usize, i64> = HashMap::new();
            let mut out = Vec::new();
            for (i, (line_id, money)) in lines.iter().enumerate() {
                let Some(amount) =
                    problems.check(positive(&format!("lines.{i}.amountPence"), *money))
                else {
                    continue;
                };
                let Some(idx) = rooms.iter().position(|r| r.line.id == line_id.as_uuid()) else {
                    problems.add(
                        &format!("lines.{i}.invoiceLineId"),
                        ErrorCode::NotFound,
                        "no such line on this invoice",
                    );
                    continue;
                };
                let total = wanted.entry(idx).or_default();
                *total = checked_add_i64("credit per line", *total, amount)?;
                if *total > rooms[idx].gross_left {
                    problems.add(
                        &format!("lines.{i}.amountPence"),
                        ErrorCode::OutOfRange,
                        format!(
                            "only {} of this line is not yet credited",
                            Money::from_pence(rooms[idx].gross_left)
                        ),
                    );
                } else {
                    out.push((idx, amount));
                }
            }
            problems.finish()?;
            Ok(out)
        }
    }
}

/// Raises a credit note (ManageBilling). See the module docs for the rule.
///
/// In its own transaction, or a savepoint when `db` is already one: a cancelled booking's
/// charge is credited inside the transaction that records the cancellation.
pub async fn credit<C>(
    db: &C,
    actor: &Actor,
    clock: &dyn Clock,
    input: NewCreditNote,
) -> Result<CreditNote, DomainError>
where
    C: ConnectionTrait + TransactionTrait,
{
    actor.require(Permission::ManageBilling)?;
    let keyed = Keyed::new(
        "credit_note.issue",
        Caller::Actor(actor),
        input.idempotency_key.as_deref(),
        &input,
    )?;
    if let Some(keyed) = &keyed
        && let Some(ids) = keyed.replay(db).await?
    {
        return first_note(db, actor, &ids).await;
    }
    let reason =
        required_text("reason", &input.reason, 500).map_err(|e| DomainError::Invalid(vec![e]))?;
    if let CreditAmount::Amount(m) = &input.amount {
        positive("amountPence", *m).map_err(|e| DomainError::Invalid(vec![e]))?;
    }
    let (txn, row) = lock_invoice(db, input.invoice_id, "invoiceId").await?;
    // A concurrent request with the same key may have committed while we waited for the lock.
    if let Some(keyed) = &keyed
        && let Some(ids) = keyed.replay(&txn).await?
    {
        txn.rollback().await?;
        return first_note(db, actor, &ids).await;
    }
    let status: InvoiceStatus = stored("invoice status", &row.status)?;
    if !status.accepts_credit() {
        return Err(DomainError::invalid(
            "invoiceId",
            ErrorCode::Conflict,
            format!("a {status} invoice cannot be credited"),
        ));
    }
    let rooms = room(&txn, row.id).await?;
    let parts = plan(&rooms, &input.amount)?;
    let total = checked_sum_i64("credit note total", parts.iter().map(|(_, g)| *g))?;
    let outstanding = checked_left(
        "invoice outstanding",
        row.total_pence,
        row.paid_pence,
        row.credited_pence,
    )?;
    let release = (total - outstanding).max(0);

    let now = clock.now();
    let id = CreditNoteId::new();
    let year = AcademicYear::starting(row.academic_year).map_err(DomainError::internal)?;
    let number = next_number(
        &txn,
        Series::CreditNote,
        AcademicYear::containing(clock.today()),
    )
    .await?;
    let mut lines = Vec::new();
    let mut line_rows = Vec::new();
    for (position, (idx, gross)) in parts.iter().enumerate() {
        let r = &rooms[*idx];
        let vat = vat_part(r, *gross);
        line_rows.push(credit_note_lines::ActiveModel {
            id: Set(uuid::Uuid::now_v7()),
            credit_note_id: Set(id.as_uuid()),
            invoice_line_id: Set(r.line.id),
            position: Set(i32::try_from(position).unwrap_or(i32::MAX)),
            description: Set(r.line.description.clone()),
            net_pence: Set(gross - vat),
            vat_pence: Set(vat),
            cfr_code: Set(r.line.cfr_code.clone()),
        });
        lines.push(CreditNoteLine {
            invoice_line_id: InvoiceLineId::from_uuid(r.line.id),
            description: r.line.description.clone(),
            net: Money::from_pence(gross - vat),
            vat: Money::from_pence(vat),
            cfr_code: r.line.cfr_code.clone(),
        });
    }
    let vat = checked_sum_i64("credit note VAT", lines.iter().map(|l| l.vat.pence()))?;
    credit_notes::ActiveModel {
        id: Set(id.as_uuid()),
        number: Set(number.clone()),
        invoice_id: Set(row.id),
        account_id: Set(row.account_id),
        academic_year: Set(row.academic_year),
        reason: Set(reason.clone()),
        net_pence: Set(total - vat),
        vat_pence: Set(vat),
        total_pence: Set(total),
        released_pence: Set(release),
        issued_at: Set(now),
    }
    .insert(&txn)
    .await?;
    credit_note_lines::Entity::insert_many(line_rows)
        .exec(&txn)
        .await?;
    if let Some(keyed) = &keyed
        && let Remembered::Raced = keyed.remember(&txn, &[id.as_uuid()], now).await?
    {
        txn.rollback().await?;
        let ids = keyed.replay(db).await?.ok_or(DomainError::NotFound {
            entity: "CreditNote",
        })?;
        return first_note(db, actor, &ids).await;
    }
    if release > 0 {
        release_allocations(&txn, actor, clock, row.id, id, release, now).await?;
    }
    let invoice_before = Invoice::from_row(row.clone())?;
    let invoice_after = Invoice::from_row(apply_money(&txn, row, -release, total, now).await?)?;
    let note = CreditNote {
        id,
        number,
        invoice_id: input.invoice_id,
        account_id: invoice_before.account_id,
        academic_year: year,
        reason,
        net: Money::from_pence(total - vat),
        vat: Money::from_pence(vat),
        total: Money::from_pence(total),
        released: Money::from_pence(release),
        issued_at: now,
        lines,
    };
    audit::record(
        &txn,
        actor,
        clock,
        "credit_note.issue",
        (AuditEntity::CreditNote, id.as_uuid()),
        None::<&()>,
        Some(&note),
    )
    .await?;
    audit::record(
        &txn,
        actor,
        clock,
        "invoice.credit",
        (AuditEntity::Invoice, input.invoice_id.as_uuid()),
        Some(&invoice_before),
        Some(&invoice_after),
    )
    .await?;
    txn.commit().await?;
    Ok(note)
}

/// The note an earlier request with the same idempotency key raised.
async fn first_note<C: ConnectionTrait>(
    db: &C,
    actor: &Actor,
    ids: &[uuid::Uuid],
) -> Result<CreditNote, DomainError> {
    let id = ids.first().ok_or(DomainError::NotFound {
        entity: "CreditNote",
    })?;
    credit_note(db, actor, CreditNoteId::from_uuid(*id)).await
}

/// Hands `amount` of an invoice's allocations back to the receipts, newest first.
async fn release_allocations<C: ConnectionTrait>(
    txn: &C,
    actor: &Actor,
    clock: &dyn Clock,
    invoice: uuid::Uuid,
    note: CreditNoteId,
    amount: i64,
    now: DateTime<Utc>,
) -> Result<(), DomainError> {
    let rows = allocations::Entity::find()
        .filter(allocations::Column::InvoiceId.eq(invoice))
        .order_by_desc(allocations::Column::Id)
        .all(txn)
        .await?;
    // Net per receipt, in order of each receipt's newest allocation.
    let mut order: Vec<uuid::Uuid> = Vec::new();
    let mut net: HashMap<uuid::Uuid, i64> = HashMap::new();
    for row in &rows {
        if !order.contains(&row.payment_id) {
            order.push(row.payment_id);
        }
        *net.entry(row.payment_id).or_default() += row.amount_pence;
    }
    let mut left = amount;
    for payment in order {
        if left == 0 {
            break;
        }
        let take = left.min(net[&payment]);
        if take <= 0 {
            continue;
        }
        let before_row = payments::Entity::find_by_id(payment)
            .one(txn)
            .await?
            .ok_or(DomainError::NotFound { entity: "Payment" })?;
        let before = Payment::from_row(before_row)?;
        if !add_allocated(txn, payment, -take, now).await? {
            return Err(DomainError::internal(super::support::CorruptRow(format!(
                "payment {payment} allocated below zero"
            ))));
        }
        allocations::ActiveModel {
            id: Set(AllocationId::new().as_uuid()),
            payment_id: Set(payment),
            invoice_id: Set(invoice),
            amount_pence: Set(-take),
            credit_note_id: Set(Some(note.as_uuid())),
            created_at: Set(now),
        }
        .insert(txn)
        .await?;
        let after_row = payments::Entity::find_by_id(payment)
            .one(txn)
            .await?
            .ok_or(DomainError::NotFound { entity: "Payment" })?;
        let after = Payment::from_row(after_row)?;
        audit::record(
            txn,
            actor,
            clock,
            "payment.release",
            (AuditEntity::Payment, payment),
            Some(&before),
            Some(&after),
        )
        .await?;
        left -= take;
    }
    if left != 0 {
        return Err(DomainError::internal(super::support::CorruptRow(format!(
            "invoice {invoice} is paid by less than its allocations say"
        ))));
    }
    Ok(())
}

fn from_rows(
    row: credit_notes::Model,
    lines: Vec<credit_note_lines::Model>,
) -> Result<CreditNote, DomainError> {
    Ok(CreditNote {
        id: CreditNoteId::from_uuid(row.id),
        invoice_id: InvoiceId::from_uuid(row.invoice_id),
        account_id: BillingAccountId::from_uuid(row.account_id),
        academic_year: AcademicYear::starting(row.academic_year).map_err(DomainError::internal)?,
        net: Money::from_pence(row.net_pence),
        vat: Money::from_pence(row.vat_pence),
        total: Money::from_pence(row.total_pence),
        released: Money::from_pence(row.released_pence),
        issued_at: row.issued_at,
        number: row.number,
        reason: row.reason,
        lines: lines
            .into_iter()
            .map(|l| CreditNoteLine {
                invoice_line_id: InvoiceLineId::from_uuid(l.invoice_line_id),
                description: l.description,
                net: Money::from_pence(l.net_pence),
                vat: Money::from_pence(l.vat_pence),
                cfr_code: l.cfr_code,
            })
            .collect(),
    })
}

/// Loads credit notes matching `filter` with their lines (two statements).
pub(crate) async fn load_where<C: ConnectionTrait>(
    db: &C,
    filter: sea_orm::Condition,
) -> Result<Vec<CreditNote>, DomainError> {
    let notes = credit_notes::Entity::find()
        .filter(filter)
        .order_by_asc(credit_notes::Column::Number)
        .all(db)
        .await?;
    let mut lines = credit_note_lines::Entity::find()
        .filter(credit_note_lines::Column::CreditNoteId.is_in(notes.iter().map(|n| n.id)))
        .order_by_asc(credit_note_lines::Column::Position)
        .all(db)
        .await?;
    notes
        .into_iter()
        .map(|n| {
            let mine = lines.extract_if(.., |l| l.credit_note_id == n.id).collect();
            from_rows(n, mine)
        })
        .collect()
}

/// One credit note, if the actor may see its account.
pub async fn credit_note<C: ConnectionTrait>(
    db: &C,
    actor: &Actor,
    id: CreditNoteId,
) -> Result<CreditNote, DomainError> {
    let sight = Sight::of(actor)?;
    let note = load_where(
        db,
        sea_orm::Condition::all().add(credit_notes::Column::Id.eq(id.as_uuid())),
    )
    .await?
    .pop()
    .ok_or(DomainError::NotFound {
        entity: "CreditNote",
    })?;
    if !sight.sees(&schools_of_account(db, note.account_id.as_uuid()).await?) {
        return Err(DomainError::NotFound {
            entity: "CreditNote",
        });
    }
    Ok(note)
}

/// Each invoice's credit notes by number, for batch loading.
pub async fn credit_notes_of_invoices<C: ConnectionTrait>(
    db: &C,
    ids: &[InvoiceId],
) -> Result<HashMap<InvoiceId, Vec<CreditNote>>, DomainError> {
    let notes = load_where(
        db,
        sea_orm::Condition::all()
            .add(credit_notes::Column::InvoiceId.is_in(ids.iter().map(InvoiceId::as_uuid))),
    )
    .await?;
    let mut out: HashMap<InvoiceId, Vec<CreditNote>> = HashMap::new();
    for n in notes {
        out.entry(n.invoice_id).or_default().push(n);
    }
    Ok(out)
}
