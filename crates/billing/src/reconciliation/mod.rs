//! Reconciliation: the ledger against the provider's own lists.
//!
//! A run compares, for every provider customer of a Trellis billing account:
//! - **invoices**, one by one: missing on either side, a different total, a different status, a
//!   different amount still to pay;
//! - **payments** of the period ([`PERIOD_DAYS`]): each receipt the provider took (by its
//!   PaymentIntent or charge) against the provider's charge — missing on either side, a
//!   different amount, a charge that did not succeed — and what was refunded of it;
//!
//! and, for the whole account, **payouts** arriving in the period: each payout's balance
//! transactions are kept, tied to the Trellis receipt (or refund) each one was, so finance can
//! match a bank payout to the receipts it contains; a payout whose lines do not add up to it is
//! a difference. Each difference is stored for finance to investigate and resolve with a note;
//! a difference still open from an earlier run is not reported twice.

mod entity;

use std::collections::{BTreeMap, HashMap, HashSet};

use chrono::{DateTime, Days, NaiveDate, Utc};
use kernel::BeginWrite as _;
use kernel::{
    Actor, BillingAccountId, Clock, DomainError, ErrorCode, InvoiceId, Money, PaymentId,
    Permission, RefundId,
};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait,
    FromQueryResult, QueryFilter, QueryOrder, QuerySelect, Set, Statement,
};
use serde::Serialize;
use uuid::Uuid;

use crate::ledger::InvoiceStatus;
use crate::ledger::invoices::{Invoice, invoices_by_ids};
use crate::ledger::payments::{Payment, payments_of_accounts};
use crate::ledger::refunds::refunds_of_payments;
use crate::ledger::support::{named_enum, required_text, stored};
use crate::mirror::{MirrorEntity, MirroredInvoice};
use crate::provider::{
    ListCharges, ListInvoices, ListPayouts, PaymentProvider, RemoteCharge, RemoteChargeStatus,
    RemoteInvoiceStatus, RemoteInvoiceSummary, RemotePayout,
};
use entity::{differences, payout_lines, payouts, runs};

/// How far back a run compares payments and payouts: a little over a year, so that a refund
/// (Stripe allows them for 180 days) or a late payout of last year's receipts is still seen.
pub const PERIOD_DAYS: u64 = 400;

named_enum!(
    /// What differs.
    DifferenceKind {
        /// Trellis mirrored the invoice but the provider does not list it.
        MissingAtProvider => "MISSING_AT_PROVIDER",
        /// The provider has an invoice for a Trellis customer that Trellis did not make.
        MissingInTrellis => "MISSING_IN_TRELLIS",
        AmountMismatch => "AMOUNT_MISMATCH",
        StatusMismatch => "STATUS_MISMATCH",
        /// Both agree on the invoice but not on what is left to pay.
        OutstandingMismatch => "OUTSTANDING_MISMATCH",
        /// Trellis recorded money the provider took, but the provider has no such charge.
        PaymentMissingAtProvider => "PAYMENT_MISSING_AT_PROVIDER",
        /// The provider took money from a Trellis customer that Trellis has not recorded.
        PaymentMissingInTrellis => "PAYMENT_MISSING_IN_TRELLIS",
        PaymentAmountMismatch => "PAYMENT_AMOUNT_MISMATCH",
        /// Trellis has a receipt for a charge that did not succeed at the provider.
        PaymentStatusMismatch => "PAYMENT_STATUS_MISMATCH",
        /// Trellis and the provider disagree on how much of a payment was refunded.
        RefundMismatch => "REFUND_MISMATCH",
        /// A payout's balance transactions do not add up to what it paid.
        PayoutMismatch => "PAYOUT_MISMATCH",
    }
);

/// One reconciliation run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ReconciliationRun {
    pub id: Uuid,
    pub started_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
    pub invoices_compared: u32,
    /// Provider receipts of the period compared with the provider's charges.
    pub payments_compared: u32,
    pub payouts_compared: u32,
    /// New differences this run found.
    pub differences_found: u32,
}

/// A difference between the ledger and the provider.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Difference {
    pub id: Uuid,
    pub run_id: Uuid,
    pub kind: DifferenceKind,
    pub invoice_id: Option<InvoiceId>,
    pub provider_invoice_ref: Option<String>,
    /// The provider's payment-side object: `pi_…`/`ch_…` (payments, refunds), `po_…` (payouts).
    pub provider_ref: Option<String>,
    /// The Trellis receipt concerned, when there is one.
    pub payment_id: Option<PaymentId>,
    pub trellis_value: Option<String>,
    pub provider_value: Option<String>,
    pub detail: String,
    pub found_at: DateTime<Utc>,
    pub resolved_at: Option<DateTime<Utc>>,
    pub resolved_by: Option<Uuid>,
    pub resolution_note: Option<String>,
}

impl Difference {
    fn from_row(row: differences::Model) -> Result<Self, DomainError> {
        Ok(Self {
            id: row.id,
            run_id: row.run_id,
            kind: stored("difference kind", &row.kind)?,
            invoice_id: row.invoice_id.map(InvoiceId::from_uuid),
            provider_invoice_ref: row.stripe_invoice_id,
            provider_ref: row.provider_ref,
            payment_id: row.payment_id.map(PaymentId::from_uuid),
            trellis_value: row.trellis_value,
            provider_value: row.stripe_value,
            detail: row.detail,
            found_at: row.found_at,
            resolved_at: row.resolved_at,
            resolved_by: row.resolved_by,
            resolution_note: row.resolution_note,
        })
    }
}

fn run_from_row(row: &runs::Model) -> ReconciliationRun {
    ReconciliationRun {
        id: row.id,
        started_at: row.started_at,
        finished_at: row.finished_at,
        invoices_compared: u32::try_from(row.invoices_compared).unwrap_or(0),
        payments_compared: u32::try_from(row.payments_compared).unwrap_or(0),
        payouts_compared: u32::try_from(row.payouts_compared).unwrap_or(0),
        differences_found: u32::try_from(row.differences_found).unwrap_or(0),
    }
}

/// A difference before it is stored.
#[derive(Debug, Clone)]
struct Found {
    kind: DifferenceKind,
    invoice_id: Option<InvoiceId>,
    provider_ref: Option<String>,
    /// The payment-side object (`pi_…`, `ch_…`, `po_…`).
    object_ref: Option<String>,
    payment_id: Option<PaymentId>,
    trellis: Option<String>,
    provider: Option<String>,
    detail: String,
}

/// How the ledger's status reads at the provider.
fn expected_remote(status: InvoiceStatus) -> RemoteInvoiceStatus {
    match status {
        InvoiceStatus::Draft => RemoteInvoiceStatus::Draft,
        InvoiceStatus::Open | InvoiceStatus::PartiallyPaid => RemoteInvoiceStatus::Open,
        InvoiceStatus::Paid => RemoteInvoiceStatus::Paid,
        InvoiceStatus::Void => RemoteInvoiceStatus::Void,
        InvoiceStatus::Uncollectible => RemoteInvoiceStatus::Uncollectible,
    }
}

fn compare(
    mirror: &MirroredInvoice,
    invoice: &Invoice,
    remote: Option<&RemoteInvoiceSummary>,
) -> Vec<Found> {
    let base = |kind, trellis: String, provider: Option<String>, detail: String| Found {
        kind,
        invoice_id: Some(invoice.id),
        provider_ref: Some(mirror.provider_invoice_ref.clone()),
        object_ref: None,
        payment_id: None,
        trellis: Some(trellis),
        provider,
        detail,
    };
    let Some(remote) = remote else {
        return vec![base(
            DifferenceKind::MissingAtProvider,
            invoice.number.clone(),
            None,
            format!(
                "{} was mirrored as {} but the provider does not list it",
                invoice.number, mirror.provider_invoice_ref
            ),
        )];
    };
    let mut out = Vec::new();
    if remote.total != invoice.total {
        out.push(base(
            DifferenceKind::AmountMismatch,
            invoice.total.to_string(),
            Some(remote.total.to_string()),
            format!("{} totals differ", invoice.number),
        ));
    }
    if expected_remote(invoice.status) != remote.status {
        out.push(base(
            DifferenceKind::StatusMismatch,
            invoice.status.to_string(),
            Some(format!("{:?}", remote.status).to_uppercase()),
            format!("{} is {} in Trellis", invoice.number, invoice.status),
        ));
    } else if remote.amount_remaining != invoice.outstanding {
        out.push(base(
            DifferenceKind::OutstandingMismatch,
            invoice.outstanding.to_string(),
            Some(remote.amount_remaining.to_string()),
            format!("{}: different amounts left to pay", invoice.number),
        ));
    }
    out
}

/// Compares every mirrored invoice with the provider's list and stores the new differences
/// (ManageBilling). With the offline provider there is nothing remote: the run compares none.
pub async fn run(
    db: &DatabaseConnection,
    actor: &Actor,
    clock: &dyn Clock,
    provider: &dyn PaymentProvider,
) -> Result<ReconciliationRun, DomainError> {
    actor.require(Permission::ManageBilling)?;
    let started = runs::ActiveModel {
        id: Set(Uuid::now_v7()),
        started_at: Set(clock.now()),
        started_by: Set(actor.as_user().map(|u| u.id.as_uuid())),
        finished_at: Set(None),
        invoices_compared: Set(0),
        differences_found: Set(0),
        payments_compared: Set(0),
        payouts_compared: Set(0),
    }
    .insert(db)
    .await?;

    let mirrors: Vec<MirroredInvoice> = MirrorEntity::find()
        .all(db)
        .await?
        .into_iter()
        .map(MirroredInvoice::from_row)
        .collect::<Result<_, _>>()?;
    let ids: Vec<InvoiceId> = mirrors.iter().map(|m| m.invoice_id).collect();
    let ledger = invoices_by_ids(db, &ids).await?;
    let mut by_customer: BTreeMap<&str, Vec<&MirroredInvoice>> = BTreeMap::new();
    for m in &mirrors {
        by_customer
            .entry(m.customer_ref.as_str())
            .or_default()
            .push(m);
    }

    let mut found = Vec::new();
    let mut compared = 0_i32;
    for (customer, mine) in by_customer {
        let Some(remote) = provider
            .list_invoices(ListInvoices {
                customer_ref: customer.to_owned(),
            })
            .await
            .map_err(DomainError::from)?
        else {
            continue;
        };
        let remote_by_ref: HashMap<&str, &RemoteInvoiceSummary> =
            remote.iter().map(|r| (r.invoice_ref.as_str(), r)).collect();
        let known: HashSet<&str> = mine
            .iter()
            .map(|m| m.provider_invoice_ref.as_str())
            .collect();
        for m in &mine {
            let Some(invoice) = ledger.get(&m.invoice_id) else {
                continue;
            };
            compared += 1;
            found.extend(compare(
                m,
                invoice,
                remote_by_ref.get(m.provider_invoice_ref.as_str()).copied(),
            ));
        }
        for r in remote
            .iter()
            .filter(|r| !known.contains(r.invoice_ref.as_str()))
        {
            found.push(Found {
                kind: DifferenceKind::MissingInTrellis,
                invoice_id: r.invoice_id,
                provider_ref: Some(r.invoice_ref.clone()),
                object_ref: None,
                payment_id: None,
                trellis: None,
                provider: Some(r.total.to_string()),
                detail: format!(
                    "{} for customer {customer} ({}) has no Trellis invoice",
                    r.invoice_ref, r.total
                ),
            });
        }
    }

    let since = clock.today() - Days::new(PERIOD_DAYS);
    let mut payments_compared = 0_i32;
    let mut charges_seen: HashMap<String, (Option<PaymentId>, Vec<String>)> = HashMap::new();
    for (account, customer) in customers_of_accounts(db).await? {
        let Some(charges) = provider
            .list_charges(ListCharges {
                customer_ref: customer.clone(),
                created_since: since.and_hms_opt(0, 0, 0).unwrap_or_default().and_utc(),
            })
            .await
            .map_err(DomainError::from)?
        else {
            break;
        };
        let receipts: Vec<Payment> = payments_of_accounts(db, &[account])
            .await?
            .remove(&account)
            .unwrap_or_default()
            .into_iter()
            .filter(|p| p.received_on >= since && taken_by_provider(p))
            .collect();
        payments_compared += i32::try_from(receipts.len()).unwrap_or(i32::MAX);
        let compared = compare_payments(db, &customer, &receipts, &charges).await?;
        found.extend(compared.found);
        charges_seen.extend(compared.charges);
    }

    let mut payouts_compared = 0_i32;
    if let Some(payouts) = provider
        .list_payouts(ListPayouts {
            arriving_since: since,
        })
        .await
        .map_err(DomainError::from)?
    {
        let refunds = trellis_refunds(db, &charges_seen).await?;
        for payout in &payouts {
            payouts_compared += 1;
            found.extend(keep_payout(db, clock, payout, &charges_seen, &refunds).await?);
        }
    }

    // A difference still open from an earlier run is the same difference: not stored again.
    let open = differences::Entity::find()
        .filter(differences::Column::ResolvedAt.is_null())
        .all(db)
        .await?;
    let seen: HashSet<(String, Option<String>, Option<String>)> = open
        .into_iter()
        .map(|d| (d.kind, d.stripe_invoice_id, d.provider_ref))
        .collect();
    let now = clock.now();
    let mut stored_count = 0_i32;
    for f in found {
        if seen.contains(&(
            f.kind.to_string(),
            f.provider_ref.clone(),
            f.object_ref.clone(),
        )) {
            continue;
        }
        differences::ActiveModel {
            id: Set(Uuid::now_v7()),
            run_id: Set(started.id),
            kind: Set(f.kind.to_string()),
            invoice_id: Set(f.invoice_id.map(|i| i.as_uuid())),
            stripe_invoice_id: Set(f.provider_ref),
            trellis_value: Set(f.trellis),
            stripe_value: Set(f.provider),
            detail: Set(f.detail),
            found_at: Set(now),
            resolved_at: Set(None),
            resolved_by: Set(None),
            resolution_note: Set(None),
            provider_ref: Set(f.object_ref),
            payment_id: Set(f.payment_id.map(|p| p.as_uuid())),
        }
        .insert(db)
        .await?;
        stored_count += 1;
    }
    let mut finished: runs::ActiveModel = started.into();
    finished.finished_at = Set(Some(clock.now()));
    finished.invoices_compared = Set(compared);
    finished.payments_compared = Set(payments_compared);
    finished.payouts_compared = Set(payouts_compared);
    finished.differences_found = Set(stored_count);
    Ok(run_from_row(&finished.update(db).await?))
}

/// A receipt the provider took (rather than a bank transfer finance recorded).
fn taken_by_provider(p: &Payment) -> bool {
    p.provider_payment_ref
        .as_deref()
        .is_some_and(|r| r.starts_with("pi_") || r.starts_with("ch_") || r.starts_with("py_"))
}

#[derive(Debug, FromQueryResult)]
struct AccountCustomer {
    id: Uuid,
    provider_customer_ref: String,
}

/// Every billing account with a provider customer, and that customer (one statement; the
/// accounts' entity is the ledger's own, so this reads its table by name).
async fn customers_of_accounts<C: ConnectionTrait>(
    db: &C,
) -> Result<Vec<(BillingAccountId, String)>, DomainError> {
    let rows = AccountCustomer::find_by_statement(Statement::from_string(
        db.get_database_backend(),
        "SELECT id, provider_customer_ref FROM billing_accounts \
         WHERE provider_customer_ref IS NOT NULL ORDER BY id",
    ))
    .all(db)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| (BillingAccountId::from_uuid(r.id), r.provider_customer_ref))
        .collect())
}

/// What comparing one customer's receipts with its charges found.
struct ComparedPayments {
    found: Vec<Found>,
    /// Every charge by its `ch_…`: the receipt it was, and its refunds' `re_…`.
    charges: HashMap<String, (Option<PaymentId>, Vec<String>)>,
}

/// A customer's receipts against the provider's charges of the same period.
async fn compare_payments<C: ConnectionTrait>(
    db: &C,
    customer: &str,
    receipts: &[Payment],
    charges: &[RemoteCharge],
) -> Result<ComparedPayments, DomainError> {
    let ids: Vec<PaymentId> = receipts.iter().map(|p| p.id).collect();
    let refunds = refunds_of_payments(db, &ids).await?;
    let mut found = Vec::new();
    let mut matched: HashMap<&str, PaymentId> = HashMap::new();
    let difference = |kind, p: &Payment, object: &str, trellis: String, provider, detail| Found {
        kind,
        invoice_id: None,
        provider_ref: None,
        object_ref: Some(object.to_owned()),
        payment_id: Some(p.id),
        trellis: Some(trellis),
        provider,
        detail,
    };
    for p in receipts {
        let reference = p.provider_payment_ref.as_deref().unwrap_or_default();
        let candidates = charges
            .iter()
            .filter(|c| c.charge_ref == reference || c.payment_ref.as_deref() == Some(reference));
        // A PaymentIntent may have failed charges before the one that succeeded.
        let Some(charge) = candidates
            .clone()
            .find(|c| c.status == RemoteChargeStatus::Succeeded)
            .or_else(|| candidates.clone().next())
        else {
            found.push(difference(
                DifferenceKind::PaymentMissingAtProvider,
                p,
                reference,
                p.amount.to_string(),
                None,
                format!(
                    "{} of {} is recorded as taken by {customer} through {reference}, which the provider does not list",
                    p.amount, p.received_on
                ),
            ));
            continue;
        };
        matched.insert(charge.charge_ref.as_str(), p.id);
        if charge.status != RemoteChargeStatus::Succeeded {
            found.push(difference(
                DifferenceKind::PaymentStatusMismatch,
                p,
                reference,
                "RECEIVED".to_owned(),
                Some(format!("{:?}", charge.status).to_uppercase()),
                format!(
                    "{reference} did not succeed at the provider but Trellis recorded {}",
                    p.amount
                ),
            ));
            continue;
        }
        if charge.amount != p.amount {
            found.push(difference(
                DifferenceKind::PaymentAmountMismatch,
                p,
                reference,
                p.amount.to_string(),
                Some(charge.amount.to_string()),
                format!(
                    "{reference}: Trellis recorded {}, the provider took {}",
                    p.amount, charge.amount
                ),
            ));
        }
        let refunded_there: i64 = charge
            .refunds
            .iter()
            .filter(|r| r.status == "succeeded")
            .map(|r| r.amount.pence())
            .sum();
        let refunded_there = if charge.refunds.is_empty() {
            charge.amount_refunded
        } else {
            Money::from_pence(refunded_there)
        };
        if refunded_there != p.refunded {
            let known: HashSet<&str> = refunds
                .get(&p.id)
                .into_iter()
                .flatten()
                .filter_map(|r| r.provider_refund_ref.as_deref())
                .collect();
            let unknown: Vec<&str> = charge
                .refunds
                .iter()
                .map(|r| r.refund_ref.as_str())
                .filter(|r| !known.contains(r))
                .collect();
            found.push(difference(
                DifferenceKind::RefundMismatch,
                p,
                reference,
                p.refunded.to_string(),
                Some(refunded_there.to_string()),
                format!(
                    "{reference}: Trellis refunded {}, the provider {}; not in Trellis: {}",
                    p.refunded,
                    refunded_there,
                    if unknown.is_empty() {
                        "none".to_owned()
                    } else {
                        unknown.join(", ")
                    }
                ),
            ));
        }
    }
    for c in charges
        .iter()
        .filter(|c| c.status == RemoteChargeStatus::Succeeded)
        .filter(|c| !matched.contains_key(c.charge_ref.as_str()))
    {
        let object = c
            .payment_ref
            .clone()
            .unwrap_or_else(|| c.charge_ref.clone());
        found.push(Found {
            kind: DifferenceKind::PaymentMissingInTrellis,
            invoice_id: None,
            provider_ref: None,
            detail: format!(
                "{object} took {} from {customer} on {} and Trellis has no receipt for it",
                c.amount,
                c.created.date_naive()
            ),
            object_ref: Some(object),
            payment_id: None,
            trellis: None,
            provider: Some(c.amount.to_string()),
        });
    }
    let charges = charges
        .iter()
        .map(|c| {
            (
                c.charge_ref.clone(),
                (
                    matched.get(c.charge_ref.as_str()).copied(),
                    c.refunds.iter().map(|r| r.refund_ref.clone()).collect(),
                ),
            )
        })
        .collect();
    Ok(ComparedPayments { found, charges })
}

/// Trellis refunds by their provider reference, for the receipts behind `charges`.
async fn trellis_refunds<C: ConnectionTrait>(
    db: &C,
    charges: &HashMap<String, (Option<PaymentId>, Vec<String>)>,
) -> Result<HashMap<String, RefundId>, DomainError> {
    let ids: Vec<PaymentId> = charges.values().filter_map(|(p, _)| *p).collect();
    Ok(refunds_of_payments(db, &ids)
        .await?
        .into_values()
        .flatten()
        .filter_map(|r| r.provider_refund_ref.clone().map(|re| (re, r.id)))
        .collect())
}

/// Stores a payout with its lines, each tied to the receipt or refund it was (replacing what
/// an earlier run stored of it, in one transaction); a difference when they do not add up.
async fn keep_payout(
    db: &DatabaseConnection,
    clock: &dyn Clock,
    payout: &RemotePayout,
    charges: &HashMap<String, (Option<PaymentId>, Vec<String>)>,
    refunds: &HashMap<String, RefundId>,
) -> Result<Option<Found>, DomainError> {
    // A refund's receipt: the charge whose refunds list it.
    let refunded_payment = |refund: &str| {
        charges
            .values()
            .find(|(_, refs)| refs.iter().any(|r| r == refund))
            .and_then(|(p, _)| *p)
    };
    let txn = db.begin_write().await?;
    payout_lines::Entity::delete_many()
        .filter(payout_lines::Column::PayoutRef.eq(payout.payout_ref.as_str()))
        .exec(&txn)
        .await?;
    payouts::Entity::delete_by_id(payout.payout_ref.clone())
        .exec(&txn)
        .await?;
    payouts::ActiveModel {
        payout_ref: Set(payout.payout_ref.clone()),
        amount_pence: Set(payout.amount.pence()),
        currency: Set(payout.currency.clone()),
        arrival_on: Set(payout.arrival_on),
        status: Set(payout.status.clone()),
        updated_at: Set(clock.now()),
    }
    .insert(&txn)
    .await?;
    let rows: Vec<payout_lines::ActiveModel> = payout
        .lines
        .iter()
        .map(|line| {
            let source = line.source_ref.as_deref().unwrap_or_default();
            let (payment, refund) = if source.starts_with("re_") {
                (refunded_payment(source), refunds.get(source).copied())
            } else {
                (charges.get(source).and_then(|(p, _)| *p), None)
            };
            payout_lines::ActiveModel {
                transaction_ref: Set(line.transaction_ref.clone()),
                payout_ref: Set(payout.payout_ref.clone()),
                kind: Set(line.kind.clone()),
                source_ref: Set(line.source_ref.clone()),
                amount_pence: Set(line.amount.pence()),
                fee_pence: Set(line.fee.pence()),
                net_pence: Set(line.net.pence()),
                payment_id: Set(payment.map(|p| p.as_uuid())),
                refund_id: Set(refund.map(|r| r.as_uuid())),
            }
        })
        .collect();
    if !rows.is_empty() {
        payout_lines::Entity::insert_many(rows).exec(&txn).await?;
    }
    txn.commit().await?;
    let net: i64 = payout.lines.iter().map(|l| l.net.pence()).sum();
    if net == payout.amount.pence() || payout.status != "paid" {
        return Ok(None);
    }
    Ok(Some(Found {
        kind: DifferenceKind::PayoutMismatch,
        invoice_id: None,
        provider_ref: None,
        object_ref: Some(payout.payout_ref.clone()),
        payment_id: None,
        trellis: Some(Money::from_pence(net).to_string()),
        provider: Some(payout.amount.to_string()),
        detail: format!(
            "{} paid {} to the bank on {} but its {} transactions come to {}",
            payout.payout_ref,
            payout.amount,
            payout.arrival_on,
            payout.lines.len(),
            Money::from_pence(net)
        ),
    }))
}

/// A payout to the bank as the last reconciliation saw it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Payout {
    pub payout_ref: String,
    pub amount: Money,
    pub currency: String,
    pub arrival_on: NaiveDate,
    pub status: String,
    pub lines: Vec<PayoutEntry>,
}

/// One balance transaction of a payout, with the Trellis receipt or refund it was.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PayoutEntry {
    pub transaction_ref: String,
    /// `charge`, `refund`, … as the provider names it.
    pub kind: String,
    pub source_ref: Option<String>,
    pub amount: Money,
    pub fee: Money,
    pub net: Money,
    /// The receipt it paid out (a charge) or refunded (a refund); `None` when Trellis has none.
    pub payment_id: Option<PaymentId>,
    pub refund_id: Option<RefundId>,
}

/// The payouts the reconciliation has seen, latest arrival first, each with its lines (two
/// statements). At most 100. ManageBilling.
pub async fn payouts<C: ConnectionTrait>(
    db: &C,
    actor: &Actor,
    limit: u64,
) -> Result<Vec<Payout>, DomainError> {
    actor.require(Permission::ManageBilling)?;
    let rows = payouts::Entity::find()
        .order_by_desc(payouts::Column::ArrivalOn)
        .order_by_desc(payouts::Column::PayoutRef)
        .limit(limit.min(100))
        .all(db)
        .await?;
    let mut lines: HashMap<String, Vec<PayoutEntry>> = HashMap::new();
    for l in payout_lines::Entity::find()
        .filter(payout_lines::Column::PayoutRef.is_in(rows.iter().map(|r| r.payout_ref.clone())))
        .order_by_asc(payout_lines::Column::TransactionRef)
        .all(db)
        .await?
    {
        lines
            .entry(l.payout_ref.clone())
            .or_default()
            .push(PayoutEntry {
                transaction_ref: l.transaction_ref,
                kind: l.kind,
                source_ref: l.source_ref,
                amount: Money::from_pence(l.amount_pence),
                fee: Money::from_pence(l.fee_pence),
                net: Money::from_pence(l.net_pence),
                payment_id: l.payment_id.map(PaymentId::from_uuid),
                refund_id: l.refund_id.map(RefundId::from_uuid),
            });
    }
    Ok(rows
        .into_iter()
        .map(|r| Payout {
            lines: lines.remove(&r.payout_ref).unwrap_or_default(),
            payout_ref: r.payout_ref,
            amount: Money::from_pence(r.amount_pence),
            currency: r.currency,
            arrival_on: r.arrival_on,
            status: r.status,
        })
        .collect())
}

/// The most recent differences, newest first; only unresolved ones when asked
/// (ManageBilling: reconciliation is finance's).
pub async fn differences(
    db: &DatabaseConnection,
    actor: &Actor,
    unresolved_only: bool,
    limit: u64,
) -> Result<Vec<Difference>, DomainError> {
    actor.require(Permission::ManageBilling)?;
    let mut query = differences::Entity::find();
    if unresolved_only {
        query = query.filter(differences::Column::ResolvedAt.is_null());
    }
    query
        .order_by_desc(differences::Column::FoundAt)
        .order_by_desc(differences::Column::Id)
        .limit(limit.min(500))
        .all(db)
        .await?
        .into_iter()
        .map(Difference::from_row)
        .collect()
}

/// Marks a difference resolved with finance's note (ManageBilling). Resolving twice is a
/// conflict: the first note stands.
pub async fn resolve(
    db: &DatabaseConnection,
    actor: &Actor,
    clock: &dyn Clock,
    id: Uuid,
    note: &str,
) -> Result<Difference, DomainError> {
    actor.require(Permission::ManageBilling)?;
    let note = required_text("note", note, 2_000).map_err(|e| DomainError::Invalid(vec![e]))?;
    let updated = differences::Entity::update_many()
        .col_expr(differences::Column::ResolvedAt, Expr::value(clock.now()))
        .col_expr(
            differences::Column::ResolvedBy,
            Expr::value(actor.as_user().map(|u| u.id.as_uuid())),
        )
        .col_expr(differences::Column::ResolutionNote, Expr::value(note))
        .filter(differences::Column::Id.eq(id))
        .filter(differences::Column::ResolvedAt.is_null())
        .exec(db)
        .await?;
    let row = differences::Entity::find_by_id(id)
        .one(db)
        .await?
        .ok_or(DomainError::NotFound {
            entity: "ReconciliationDifference",
        })?;
    if updated.rows_affected == 0 {
        return Err(DomainError::invalid(
            "id",
            ErrorCode::Conflict,
            "this difference is already resolved",
        ));
    }
    Difference::from_row(row)
}
