//! Mirroring issued invoices, voids and credit notes at the payment provider.
//!
//! The ledger commits first; the mirror follows. Every provider call carries an idempotency
//! key derived from the Trellis id (`customer:<account>`, `invoice:<invoice>`, …), so a mirror
//! retried after a timeout or a crash between the provider call and the local record finds the
//! same provider objects rather than making new ones. Which provider object mirrors which
//! invoice is stored in `stripe_invoices` (with its hosted page and PDF) and, for the ledger's
//! own record, in the invoice's `provider_invoice_ref` / `hosted_url`.

mod entity;

use std::collections::{BTreeMap, BTreeSet, HashMap};

use chrono::{DateTime, Utc};
use kernel::{Actor, Clock, CreditNoteId, DomainError, ErrorCode, InvoiceId, Permission, SchoolId};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait, QueryFilter,
    Set,
};
use serde::Serialize;

use crate::ledger::accounts::{self, AccountChanges, BillingAccount};
use crate::ledger::invoices::{self, Invoice, lines_of_invoices};
use crate::ledger::support::is_unique_violation;
use crate::ledger::{InvoiceCollection, InvoiceStatus, credit_notes};
use crate::provider::{
    Collection, CreateCustomer, CreditInvoice, IdempotencyKey, IssueInvoice, PaymentProvider,
    ProviderCreditNote, ProviderError, ProviderLine, VoidInvoice,
};

pub(crate) use entity::{Column as MirrorColumn, Entity as MirrorEntity, Model as MirrorRow};

/// Where the provider holds a Trellis invoice.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MirroredInvoice {
    pub invoice_id: InvoiceId,
    /// e.g. Stripe `in_…`.
    pub provider_invoice_ref: String,
    pub hosted_url: Option<String>,
    pub pdf_url: Option<String>,
    pub customer_ref: String,
    /// The last payment attempt as the provider reported it.
    pub payment_state: PaymentState,
    /// The provider's message when the last attempt failed.
    pub payment_error: Option<String>,
    pub created_at: DateTime<Utc>,
}

crate::ledger::support::named_enum!(
    /// The last payment attempt on a mirrored invoice, from the provider's webhooks.
    PaymentState {
        None => "NONE",
        PaymentFailed => "PAYMENT_FAILED",
        Paid => "PAID",
    }
);

impl MirroredInvoice {
    pub(crate) fn from_row(row: MirrorRow) -> Result<Self, DomainError> {
        Ok(Self {
            invoice_id: InvoiceId::from_uuid(row.invoice_id),
            provider_invoice_ref: row.stripe_invoice_id,
            hosted_url: row.hosted_url,
            pdf_url: row.pdf_url,
            customer_ref: row.customer_ref,
            payment_state: crate::ledger::support::stored("payment state", &row.payment_state)?,
            payment_error: row.payment_error,
            created_at: row.created_at,
        })
    }
}

fn provider_failed(err: ProviderError) -> DomainError {
    match err {
        ProviderError::Rejected(message) => DomainError::invalid(
            "invoiceId",
            ErrorCode::Conflict,
            format!("the payment provider refused the request: {message}"),
        ),
        other => other.into(),
    }
}

/// Mirrors of these invoices (batch loader: one statement, no actor).
pub async fn mirrored_invoices_by_ids<C: ConnectionTrait>(
    db: &C,
    ids: &[InvoiceId],
) -> Result<HashMap<InvoiceId, MirroredInvoice>, DomainError> {
    let rows = MirrorEntity::find()
        .filter(MirrorColumn::InvoiceId.is_in(ids.iter().map(InvoiceId::as_uuid)))
        .all(db)
        .await?;
    rows.into_iter()
        .map(|row| MirroredInvoice::from_row(row).map(|m| (m.invoice_id, m)))
        .collect()
}

/// The mirror of the provider invoice `provider_invoice_ref`, if Trellis made it.
pub async fn mirror_by_provider_ref<C: ConnectionTrait>(
    db: &C,
    provider_invoice_ref: &str,
) -> Result<Option<MirroredInvoice>, DomainError> {
    MirrorEntity::find()
        .filter(MirrorColumn::StripeInvoiceId.eq(provider_invoice_ref))
        .one(db)
        .await?
        .map(MirroredInvoice::from_row)
        .transpose()
}

/// The provider customer of an account, created once and stored on the account.
pub async fn ensure_customer(
    db: &DatabaseConnection,
    actor: &Actor,
    clock: &dyn Clock,
    provider: &dyn PaymentProvider,
    account: &BillingAccount,
) -> Result<String, DomainError> {
    actor.require(Permission::ManageBilling)?;
    let ours = |r: &str| (provider.name() == "offline") == r.starts_with("offline_");
    if let Some(existing) = account.provider_customer_ref.as_deref().filter(|r| ours(r)) {
        return Ok(existing.to_owned());
    }
    let customer = provider
        .create_customer(CreateCustomer {
            account_id: account.id,
            name: account.name.clone(),
            email: account.contact_email.clone(),
            address: account.address.clone(),
            idempotency_key: IdempotencyKey::derive("customer", account.id),
        })
        .await
        .map_err(provider_failed)?;
    accounts::update(
        db,
        actor,
        clock,
        account.id,
        AccountChanges {
            provider_customer_ref: Some(Some(customer.customer_ref.clone())),
            ..AccountChanges::default()
        },
    )
    .await?;
    Ok(customer.customer_ref)
}

async fn school_urns(
    db: &DatabaseConnection,
    schools: BTreeSet<SchoolId>,
) -> Result<Vec<String>, DomainError> {
    let ids: Vec<SchoolId> = schools.into_iter().collect();
    let found = membership::school::by_ids(db, &ids).await?;
    let mut urns: Vec<String> = found.values().map(|s| s.urn.to_string()).collect();
    urns.sort();
    Ok(urns)
}

/// The metadata a mirrored invoice carries: who it is for and which year.
async fn invoice_metadata(
    db: &DatabaseConnection,
    invoice: &Invoice,
    account: &BillingAccount,
    line_schools: impl Iterator<Item = SchoolId>,
) -> Result<BTreeMap<String, String>, DomainError> {
    let mut schools: BTreeSet<SchoolId> = line_schools.collect();
    if schools.is_empty() {
        schools.extend(account.school_ids.iter().copied());
    }
    let urns = school_urns(db, schools).await?;
    Ok(BTreeMap::from([
        ("school_urns".to_owned(), urns.join(",")),
        (
            "academic_year".to_owned(),
            invoice.academic_year.to_string(),
        ),
        ("instalment".to_owned(), invoice.instalment.to_string()),
    ]))
}

/// Mirrors an issued invoice at the provider (ManageBilling). Idempotent: an invoice already
/// mirrored returns its mirror, and a retry after a failure finds the provider's objects by
/// their idempotency keys.
pub async fn mirror_invoice(
    db: &DatabaseConnection,
    actor: &Actor,
    clock: &dyn Clock,
    provider: &dyn PaymentProvider,
    invoice_id: InvoiceId,
) -> Result<MirroredInvoice, DomainError> {
    actor.require(Permission::ManageBilling)?;
    if let Some(found) = mirrored_invoices_by_ids(db, &[invoice_id])
        .await?
        .remove(&invoice_id)
    {
        return Ok(found);
    }
    let invoice = invoices::invoice(db, actor, invoice_id).await?;
    if matches!(invoice.status, InvoiceStatus::Void) {
        return Err(DomainError::invalid(
            "invoiceId",
            ErrorCode::Conflict,
            "a void invoice is not sent to the payment provider",
        ));
    }
    if invoice.collection == InvoiceCollection::Card {
        return Err(DomainError::invalid(
            "invoiceId",
            ErrorCode::Conflict,
            "a card booking's invoice is paid by card, not through a hosted invoice",
        ));
    }
    let account = accounts::account(db, actor, invoice.account_id).await?;
    let customer_ref = ensure_customer(db, actor, clock, provider, &account).await?;
    let lines = lines_of_invoices(db, &[invoice_id])
        .await?
        .remove(&invoice_id)
        .unwrap_or_default();
    let metadata = invoice_metadata(
        db,
        &invoice,
        &account,
        lines.iter().filter_map(|l| l.school_id),
    )
    .await?;
    let days_until_due = (invoice.due_on - invoice.issued_at.date_naive())
        .num_days()
        .clamp(1, 365);
    let remote = provider
        .issue_invoice(IssueInvoice {
            invoice_id,
            number: invoice.number.clone(),
            account_id: account.id,
            customer_ref: customer_ref.clone(),
            lines: lines
                .iter()
                .map(|l| ProviderLine {
                    description: l.description.clone(),
                    quantity: l.quantity,
                    unit_amount: l.unit_amount,
                    vat_treatment: l.vat_treatment,
                    vat_rate_bp: l.vat_rate_bp,
                })
                .collect(),
            total: invoice.total,
            due_on: invoice.due_on,
            collection: Collection::SendInvoice {
                days_until_due: u32::try_from(days_until_due).unwrap_or(30),
            },
            po_number: invoice.po_number.clone(),
            metadata,
            idempotency_key: IdempotencyKey::derive("invoice", invoice_id),
        })
        .await
        .map_err(provider_failed)?;
    let now = clock.now();
    let row = entity::ActiveModel {
        invoice_id: Set(invoice_id.as_uuid()),
        stripe_invoice_id: Set(remote.invoice_ref.clone()),
        hosted_url: Set(remote.hosted_url.clone()),
        pdf_url: Set(remote.pdf_url.clone()),
        customer_ref: Set(customer_ref),
        payment_state: Set(PaymentState::None.to_string()),
        payment_error: Set(None),
        created_at: Set(now),
        updated_at: Set(now),
    };
    let stored = match row.insert(db).await {
        Ok(row) => row,
        // A concurrent mirror of the same invoice stored first: same provider objects.
        Err(err) if is_unique_violation(&err) => MirrorEntity::find_by_id(invoice_id.as_uuid())
            .one(db)
            .await?
            .ok_or(DomainError::NotFound { entity: "Invoice" })?,
        Err(err) => return Err(err.into()),
    };
    invoices::record_provider_invoice(
        db,
        actor,
        clock,
        invoice_id,
        &remote.invoice_ref,
        remote.hosted_url.as_deref(),
    )
    .await?;
    MirroredInvoice::from_row(stored)
}

/// Voids the provider's invoice of a voided Trellis invoice (ManageBilling). `None` when the
/// invoice was never mirrored.
pub async fn mirror_void(
    db: &DatabaseConnection,
    actor: &Actor,
    provider: &dyn PaymentProvider,
    invoice_id: InvoiceId,
) -> Result<Option<MirroredInvoice>, DomainError> {
    actor.require(Permission::ManageBilling)?;
    let Some(mirror) = mirrored_invoices_by_ids(db, &[invoice_id])
        .await?
        .remove(&invoice_id)
    else {
        return Ok(None);
    };
    let invoice = invoices::invoice(db, actor, invoice_id).await?;
    if !matches!(invoice.status, InvoiceStatus::Void) {
        return Err(DomainError::invalid(
            "invoiceId",
            ErrorCode::Conflict,
            "void the invoice in Trellis first; the provider follows the ledger",
        ));
    }
    provider
        .void_invoice(VoidInvoice {
            invoice_id,
            invoice_ref: mirror.provider_invoice_ref.clone(),
            idempotency_key: IdempotencyKey::derive("void", invoice_id),
        })
        .await
        .map_err(provider_failed)?;
    Ok(Some(mirror))
}

/// Raises the provider's credit note for a Trellis credit note on a mirrored invoice
/// (ManageBilling). `None` when the invoice was never mirrored.
pub async fn mirror_credit_note(
    db: &DatabaseConnection,
    actor: &Actor,
    provider: &dyn PaymentProvider,
    credit_note_id: CreditNoteId,
) -> Result<Option<ProviderCreditNote>, DomainError> {
    actor.require(Permission::ManageBilling)?;
    let note = credit_notes::credit_note(db, actor, credit_note_id).await?;
    let Some(mirror) = mirrored_invoices_by_ids(db, &[note.invoice_id])
        .await?
        .remove(&note.invoice_id)
    else {
        return Ok(None);
    };
    let made = provider
        .credit_invoice(CreditInvoice {
            credit_note_id,
            invoice_ref: mirror.provider_invoice_ref,
            amount: note.total,
            reason: note.reason.clone(),
            idempotency_key: IdempotencyKey::derive("credit_note", credit_note_id),
        })
        .await
        .map_err(provider_failed)?;
    Ok(Some(made))
}
/// Records what the provider's webhooks said about the last payment attempt, in the caller's
/// transaction (the webhook's).
///
/// When the invoice *becomes* PAYMENT_FAILED, the account's contact is told (notifications),
/// through the outbox in this same transaction. Stripe reports one failed attempt twice
/// (`invoice.payment_failed` and `payment_intent.payment_failed`, in either order), and its
/// automatic retries reuse the invoice's one PaymentIntent, so an invoice already failed is
/// not announced again: the contact hears once, and the invoice shows the latest reason.
pub(crate) async fn set_payment_state<C: ConnectionTrait>(
    db: &C,
    clock: &dyn Clock,
    provider_invoice_ref: &str,
    state: PaymentState,
    error: Option<String>,
) -> Result<bool, DomainError> {
    let Some(row) = MirrorEntity::find()
        .filter(MirrorColumn::StripeInvoiceId.eq(provider_invoice_ref))
        .one(db)
        .await?
    else {
        return Ok(false);
    };
    // A late failure report never overwrites a payment.
    if row.payment_state == PaymentState::Paid.to_string() {
        return Ok(true);
    }
    let newly_failed = state == PaymentState::PaymentFailed
        && row.payment_state != PaymentState::PaymentFailed.to_string();
    let invoice_id = row.invoice_id;
    let now = clock.now();
    let mut active: entity::ActiveModel = row.into();
    active.payment_state = Set(state.to_string());
    active.payment_error = Set(error.clone());
    active.updated_at = Set(now);
    active.update(db).await?;
    if newly_failed {
        kernel::outbox::record(
            db,
            kernel::outbox::EventKind::CardPaymentFailed,
            invoice_id,
            serde_json::json!({ "reason": error }),
            now,
        )
        .await?;
    }
    Ok(true)
}

#[allow(clippy::too_many_arguments)]
/// Stores the provider's links when its `invoice.finalized` arrives before (or instead of)
/// the mirror's own record, e.g. after a crash between the provider call and the insert.
pub(crate) async fn adopt<C: ConnectionTrait>(
    db: &C,
    clock: &dyn Clock,
    invoice_id: InvoiceId,
    provider_invoice_ref: &str,
    customer_ref: &str,
    hosted_url: Option<String>,
    pdf_url: Option<String>,
) -> Result<(), DomainError> {
    if let Some(row) = MirrorEntity::find_by_id(invoice_id.as_uuid())
        .one(db)
        .await?
    {
        if row.hosted_url.is_none() || row.pdf_url.is_none() {
            let mut active: entity::ActiveModel = row.clone().into();
            active.hosted_url = Set(row.hosted_url.or(hosted_url));
            active.pdf_url = Set(row.pdf_url.or(pdf_url));
            active.updated_at = Set(clock.now());
            active.update(db).await?;
        }
        return Ok(());
    }
    let now = clock.now();
    let row = entity::ActiveModel {
        invoice_id: Set(invoice_id.as_uuid()),
        stripe_invoice_id: Set(provider_invoice_ref.to_owned()),
        hosted_url: Set(hosted_url),
        pdf_url: Set(pdf_url),
        customer_ref: Set(customer_ref.to_owned()),
        payment_state: Set(PaymentState::None.to_string()),
        payment_error: Set(None),
        created_at: Set(now),
        updated_at: Set(now),
    };
    match row.insert(db).await {
        Ok(_) => Ok(()),
        Err(err) if is_unique_violation(&err) => Ok(()),
        Err(err) => Err(err.into()),
    }
}

/// What [`mirror_year`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct YearMirrored {
    /// Sent to the provider now.
    pub mirrored: u32,
    /// Already there.
    pub existing: u32,
    /// Left for a retry, with the reason: the ledger stands whatever the provider says.
    pub failed: Vec<(InvoiceId, String)>,
}

/// Mirrors every unsettled sent invoice of an academic year not yet at the provider (after
/// the invoicing run committed; card bookings' invoices are paid by card and stay out). Idempotent: run it again to retry what failed.
pub async fn mirror_year(
    db: &DatabaseConnection,
    actor: &Actor,
    clock: &dyn Clock,
    provider: &dyn PaymentProvider,
    year: kernel::AcademicYear,
) -> Result<YearMirrored, DomainError> {
    actor.require(Permission::ManageBilling)?;
    let filter = invoices::InvoiceFilter {
        year: Some(year),
        status: vec![InvoiceStatus::Open, InvoiceStatus::PartiallyPaid],
        ..invoices::InvoiceFilter::default()
    };
    let mut done = YearMirrored::default();
    let mut after = None;
    loop {
        let args = membership::PageArgs {
            after: after.clone(),
            before: None,
            limit: 100,
            backward: false,
        };
        let page = invoices::invoices(db, actor, &filter, &args).await?;
        let ids: Vec<InvoiceId> = page.items.iter().map(|i| i.id).collect();
        let known = mirrored_invoices_by_ids(db, &ids).await?;
        for invoice in &page.items {
            if known.contains_key(&invoice.id) {
                done.existing += 1;
                continue;
            }
            if !invoice.goes_to_provider() {
                continue;
            }
            match mirror_invoice(db, actor, clock, provider, invoice.id).await {
                Ok(_) => done.mirrored += 1,
                Err(err) => done.failed.push((invoice.id, err.chain())),
            }
        }
        match (page.has_next_page, page.items.last()) {
            (true, Some(last)) => after = Some(last.sort_key()),
            _ => return Ok(done),
        }
    }
}

/// Calls off a card payment Trellis has given up on (a booking released unpaid), so the
/// payer can no longer complete it — unless the money is already taken or on its way, which
/// the answer says and its webhook will record.
pub async fn cancel_card_payment(
    provider: &dyn PaymentProvider,
    payment_ref: &str,
) -> Result<crate::provider::PaymentCancel, DomainError> {
    provider
        .cancel_payment(crate::provider::CancelPayment {
            payment_ref: payment_ref.to_owned(),
            idempotency_key: IdempotencyKey::derive("cancel_card_payment", payment_ref),
        })
        .await
        .map_err(provider_failed)
}

/// Starts a card payment of an invoice's outstanding amount (a Stripe PaymentIntent) and
/// returns what the portal needs to confirm it with Stripe.js. The caller's idempotency key
/// makes a retried request the same PaymentIntent. The school's own leader, or finance.
pub async fn start_card_payment(
    db: &DatabaseConnection,
    actor: &Actor,
    clock: &dyn Clock,
    provider: &dyn PaymentProvider,
    invoice_id: InvoiceId,
    idempotency_key: &str,
) -> Result<crate::provider::ProviderPayment, DomainError> {
    actor.require(Permission::ReadBilling)?;
    let key = crate::ledger::support::required_text("idempotencyKey", idempotency_key, 200)
        .map_err(|e| DomainError::Invalid(vec![e]))?;
    let invoice = invoices::invoice(db, actor, invoice_id).await?;
    if !matches!(
        invoice.status,
        InvoiceStatus::Open | InvoiceStatus::PartiallyPaid
    ) || invoice.outstanding.pence() <= 0
    {
        return Err(DomainError::invalid(
            "invoiceId",
            ErrorCode::Conflict,
            "only an unsettled invoice can be paid",
        ));
    }
    let account = accounts::account(db, &Actor::System, invoice.account_id).await?;
    // The customer is Trellis's to create, whoever pays.
    let customer = ensure_customer(db, &Actor::System, clock, provider, &account).await?;
    provider
        .take_payment(crate::provider::TakePayment {
            payment_id: card_payment_id(invoice_id, &key),
            account_id: account.id,
            customer_ref: customer,
            invoice_id: Some(invoice_id),
            amount: invoice.outstanding,
            idempotency_key: IdempotencyKey::derive("card_payment", format!("{invoice_id}:{key}")),
        })
        .await
        .map_err(provider_failed)
}

/// The same id for the same request, so that a retry sends Stripe identical parameters.
fn card_payment_id(invoice_id: InvoiceId, key: &str) -> kernel::PaymentId {
    use sha2::Digest as _;
    let digest = sha2::Sha256::digest(format!("card_payment:{invoice_id}:{key}").as_bytes());
    let mut bytes = [0_u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    kernel::PaymentId::from_uuid(uuid::Uuid::from_bytes(bytes))
}
