//! Reconciliation: the ledger's mirrored invoices against the provider's own list.
//!
//! A run lists every provider customer Trellis has mirrored invoices to and compares, invoice
//! by invoice: one missing on either side, a different total, a different status, a different
//! amount still to pay. Each difference is stored for finance to investigate and resolve with
//! a note; a difference still open from an earlier run is not reported twice.

mod entity;

use std::collections::{BTreeMap, HashMap, HashSet};

use chrono::{DateTime, Utc};
use kernel::{Actor, Clock, DomainError, ErrorCode, InvoiceId, Permission};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect, Set,
};
use serde::Serialize;
use uuid::Uuid;

use crate::ledger::InvoiceStatus;
use crate::ledger::invoices::{Invoice, invoices_by_ids};
use crate::ledger::support::{named_enum, required_text, stored};
use crate::mirror::{MirrorEntity, MirroredInvoice};
use crate::provider::{ListInvoices, PaymentProvider, RemoteInvoiceStatus, RemoteInvoiceSummary};
use entity::{differences, runs};

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
    }
);

/// One reconciliation run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ReconciliationRun {
    pub id: Uuid,
    pub started_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
    pub invoices_compared: u32,
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
        differences_found: u32::try_from(row.differences_found).unwrap_or(0),
    }
}

/// A difference before it is stored.
#[derive(Debug, Clone)]
struct Found {
    kind: DifferenceKind,
    invoice_id: Option<InvoiceId>,
    provider_ref: Option<String>,
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
            .map_err(DomainError::internal)?
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
                trellis: None,
                provider: Some(r.total.to_string()),
                detail: format!(
                    "{} for customer {customer} ({}) has no Trellis invoice",
                    r.invoice_ref, r.total
                ),
            });
        }
    }

    // A difference still open from an earlier run is the same difference: not stored again.
    let open = differences::Entity::find()
        .filter(differences::Column::ResolvedAt.is_null())
        .all(db)
        .await?;
    let seen: HashSet<(String, Option<String>)> = open
        .into_iter()
        .map(|d| (d.kind, d.stripe_invoice_id))
        .collect();
    let now = clock.now();
    let mut stored_count = 0_i32;
    for f in found {
        if seen.contains(&(f.kind.to_string(), f.provider_ref.clone())) {
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
        }
        .insert(db)
        .await?;
        stored_count += 1;
    }
    let mut finished: runs::ActiveModel = started.into();
    finished.finished_at = Set(Some(clock.now()));
    finished.invoices_compared = Set(compared);
    finished.differences_found = Set(stored_count);
    Ok(run_from_row(&finished.update(db).await?))
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
