//! The ledger of a synthetic national directory (`membership::synthetic`): the year's two fee
//! schedules (the demo's rules: FULL termly on Haringey's 2026 rates, ASSOCIATE annual), and
//! one SCHOOL account paying for each member school — what an invoicing run needs, written in
//! batched INSERTs like the directory. The run itself is the real one (`run::start`), so
//! seeding measures it. After the run, [`receipts`] pays most of what it issued, so finance's
//! reports have receipts and allocations to read at national scale.

use std::fmt;

use kernel::BeginWrite as _;
use kernel::{AcademicYear, Actor, Clock, DomainError, SchoolId};
use membership::memberships;
use membership::school;
use sea_orm::{DatabaseConnection, EntityTrait, Set};

use crate::fees::{self, BillingFrequency, FeeRules, NewFeeSchedule};
use crate::ledger::accounts::{AccountKind, PaymentMethod};
use crate::ledger::entity::{account_schools, accounts};

/// Rows per INSERT (accounts have 12 columns).
const CHUNK: usize = 500;

/// What was built.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SyntheticLedger {
    pub schedules: u32,
    pub accounts: u32,
}

impl fmt::Display for SyntheticLedger {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "synthetic ledger: {} fee schedules, {} accounts",
            self.schedules, self.accounts
        )
    }
}

/// Opens the schedules and an account per member school of `year`.
///
/// # Errors
/// When the directory has no FULL and ASSOCIATE tiers; database errors.
pub async fn seed(
    db: &DatabaseConnection,
    clock: &dyn Clock,
    year: AcademicYear,
) -> Result<SyntheticLedger, DomainError> {
    let system = Actor::System;
    let (full, associate) = membership::synthetic::member_tiers(db).await?;
    for (tier, name, rules, frequency) in [
        (
            full.id,
            format!("Full membership {year}"),
            FeeRules::haringey_2026().into_document(),
            BillingFrequency::Termly,
        ),
        (
            associate.id,
            format!("Associate membership {year}"),
            crate::demo::associate_rules(),
            BillingFrequency::Annual,
        ),
    ] {
        fees::create_schedule(
            db,
            &system,
            clock,
            NewFeeSchedule {
                year,
                tier_id: tier,
                name,
                rules,
                frequency,
                payment_terms_days: 30,
            },
        )
        .await?;
    }

    let members: Vec<SchoolId> = memberships::active_for_year(db, year)
        .await?
        .into_iter()
        .map(|m| m.school_id)
        .collect();
    let schools = school::by_ids(db, &members).await?;
    let now = clock.now();
    let mut account_rows = Vec::new();
    let mut link_rows = Vec::new();
    for id in &members {
        let Some(s) = schools.get(id) else { continue };
        let account = uuid::Uuid::now_v7();
        account_rows.push(accounts::ActiveModel {
            id: Set(account),
            kind: Set(AccountKind::School.as_str().to_owned()),
            name: Set(s.name.clone()),
            contact_name: Set("School Business Manager".to_owned()),
            contact_email: Set(format!("bursar{}@synthetic.example", s.urn)),
            address_lines: Set(serde_json::to_string(&[
                s.name.as_str(),
                s.local_authority.as_str(),
            ])
            .map_err(DomainError::internal)?),
            postcode: Set(s.postcode.as_str().to_owned()),
            default_method: Set(PaymentMethod::BankTransfer.as_str().to_owned()),
            provider_customer_ref: Set(None),
            ledger_version: Set(0),
            created_at: Set(now),
            updated_at: Set(now),
        });
        link_rows.push(account_schools::ActiveModel {
            school_id: Set(id.as_uuid()),
            account_id: Set(account),
        });
    }
    let made = u32::try_from(account_rows.len()).unwrap_or(u32::MAX);
    let txn = db.begin_write().await?;
    let mut account_rows = account_rows.into_iter().peekable();
    while account_rows.peek().is_some() {
        let chunk: Vec<_> = account_rows.by_ref().take(CHUNK).collect();
        accounts::Entity::insert_many(chunk)
            .exec_without_returning(&txn)
            .await?;
    }
    let mut link_rows = link_rows.into_iter().peekable();
    while link_rows.peek().is_some() {
        let chunk: Vec<_> = link_rows.by_ref().take(CHUNK).collect();
        account_schools::Entity::insert_many(chunk)
            .exec_without_returning(&txn)
            .await?;
    }
    txn.commit().await?;
    Ok(SyntheticLedger {
        schedules: 2,
        accounts: made,
    })
}

/// What [`receipts`] recorded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SyntheticReceipts {
    pub paid: u32,
    pub part_paid: u32,
    pub unpaid: u32,
}

impl fmt::Display for SyntheticReceipts {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "synthetic receipts: {} invoices paid, {} half paid, {} unpaid",
            self.paid, self.part_paid, self.unpaid
        )
    }
}

/// Pays the open invoices of `year` by bank transfer, in number order: two in four in full,
/// one in four half, one in four not at all (aged debt). A receipt per invoice, allocated to
/// it, and the invoice's paid amount and status to match — what `record_payment` and
/// `allocate` leave, written in batches (no audit trail: nobody received this money).
///
/// # Errors
/// Database errors.
pub async fn receipts(
    db: &DatabaseConnection,
    clock: &dyn Clock,
    year: AcademicYear,
) -> Result<SyntheticReceipts, DomainError> {
    use sea_orm::sea_query::{Expr, ExprTrait as _};
    use sea_orm::{ColumnTrait as _, QueryFilter as _, QueryOrder as _};

    use crate::ledger::entity::{allocations, invoices, payments};
    use crate::ledger::{InvoiceStatus, payments::ReceiptMethod};

    let open = invoices::Entity::find()
        .filter(invoices::Column::AcademicYear.eq(year.start_year()))
        .filter(invoices::Column::Status.eq(InvoiceStatus::Open.as_str()))
        .order_by_asc(invoices::Column::Number)
        .all(db)
        .await?;
    let now = clock.now();
    let received_on = clock.today();
    let (mut full, mut half) = (Vec::new(), Vec::new());
    let mut payment_rows = Vec::new();
    let mut allocation_rows = Vec::new();
    for (i, invoice) in open.iter().enumerate() {
        let amount = match i % 4 {
            0 | 1 => {
                full.push(invoice.id);
                invoice.total_pence
            }
            2 => {
                half.push(invoice.id);
                invoice.total_pence / 2
            }
            _ => continue,
        };
        let payment = uuid::Uuid::now_v7();
        payment_rows.push(payments::ActiveModel {
            id: Set(payment),
            account_id: Set(invoice.account_id),
            method: Set(ReceiptMethod::BankTransfer.as_str().to_owned()),
            reference: Set(format!("BACS {}", invoice.number)),
            received_on: Set(received_on),
            amount_pence: Set(amount),
            allocated_pence: Set(amount),
            refunded_pence: Set(0),
            provider_payment_ref: Set(None),
            created_at: Set(now),
            updated_at: Set(now),
        });
        allocation_rows.push(allocations::ActiveModel {
            id: Set(uuid::Uuid::now_v7()),
            payment_id: Set(payment),
            invoice_id: Set(invoice.id),
            amount_pence: Set(amount),
            credit_note_id: Set(None),
            created_at: Set(now),
        });
    }
    let txn = db.begin_write().await?;
    for chunk in payment_rows.chunks(CHUNK) {
        payments::Entity::insert_many(chunk.to_vec())
            .exec_without_returning(&txn)
            .await?;
    }
    for chunk in allocation_rows.chunks(CHUNK) {
        allocations::Entity::insert_many(chunk.to_vec())
            .exec_without_returning(&txn)
            .await?;
    }
    // Half is rounded down, in SQL as in Rust above (amounts are positive).
    for (ids, paid, status) in [
        (
            &full,
            Expr::col(invoices::Column::TotalPence),
            InvoiceStatus::Paid,
        ),
        (
            &half,
            Expr::col(invoices::Column::TotalPence).div(2),
            InvoiceStatus::PartiallyPaid,
        ),
    ] {
        for chunk in ids.chunks(CHUNK) {
            invoices::Entity::update_many()
                .col_expr(invoices::Column::PaidPence, paid.clone())
                .col_expr(invoices::Column::Status, Expr::value(status.as_str()))
                .col_expr(invoices::Column::UpdatedAt, Expr::value(now))
                .filter(invoices::Column::Id.is_in(chunk.iter().copied()))
                .exec(&txn)
                .await?;
        }
    }
    txn.commit().await?;
    let count = |n: usize| u32::try_from(n).unwrap_or(u32::MAX);
    Ok(SyntheticReceipts {
        paid: count(full.len()),
        part_paid: count(half.len()),
        unpaid: count(open.len() - full.len() - half.len()),
    })
}
