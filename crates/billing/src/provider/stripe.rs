//! The Stripe adapter of the [`PaymentProvider`] port, on async-stripe's 1.0 line.
//!
//! Every call carries the caller's [`IdempotencyKey`] as Stripe's `Idempotency-Key`; an
//! operation made of several calls (an invoice: create, add each item, finalise) suffixes the
//! key per step, so a retry after a timeout replays each step and ends at the same Stripe
//! invoice instead of a second one.
//!
//! Invoices offer the configured payment methods on Stripe's hosted page
//! ([`StripeConfig::payment_methods`], by default card, Bacs Direct Debit and bank transfer to
//! the customer's balance) rather than whatever the Stripe account's defaults happen to be.
//!
//! Amounts are sent gross (VAT included), so the Stripe invoice's total is the Trellis total
//! and the school pays exactly what the ledger says; each item's description names its VAT.
//! Trellis ids travel as metadata (`trellis_invoice_id`, …) so webhooks and reconciliation
//! can find their way back without a lookup table.
//!
//! Reconciliation's lists (charges, refunds, payouts, balance transactions) go through the same
//! client but are read as plain JSON ([`StripeProvider::get_json`]): Trellis reads a handful of
//! fields of each, and a typed parse of the whole object would fail on any field an API
//! version adds or a stand-in leaves out, for data it never looks at.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::time::Duration;

use async_trait::async_trait;
use kernel::{InvoiceId, Money};
use stripe::{Client, ClientBuilder, RequestStrategy, StripeError, StripeRequest as _};
use stripe_billing::credit_note::CreateCreditNote;
use stripe_billing::invoice::{
    BankTransferParam, CreateInvoice, CreateInvoicePaymentSettings,
    CreateInvoicePaymentSettingsPaymentMethodOptions,
    CreateInvoicePaymentSettingsPaymentMethodTypes, CreateInvoicePendingInvoiceItemsBehavior,
    CustomFieldParams, FinalizeInvoiceInvoice, InvoicePaymentMethodOptionsParam, ListInvoice,
    RetrieveInvoice, VoidInvoiceInvoice,
};
use stripe_billing::invoice_item::CreateInvoiceItem;
use stripe_billing::{CreditNoteReason, Invoice, InvoiceCollectionMethod, InvoiceStatus};
use stripe_client_core::{RequestBuilder, StripeMethod};
use stripe_core::PaymentIntentStatus;
use stripe_core::customer::CreateCustomer as StripeCreateCustomer;
use stripe_core::payment_intent::{
    CancelPaymentIntent, CreatePaymentIntent, RetrievePaymentIntent,
};
use stripe_core::refund::{CreateRefund, CreateRefundReason};
use stripe_types::Currency;

use super::{
    CancelPayment, Collection, CreateCustomer, CreditInvoice, IdempotencyKey, IssueInvoice,
    ListCharges, ListInvoices, ListPayouts, PaymentCancel, PaymentOutcome, PaymentProvider,
    PayoutLine, ProviderCreditNote, ProviderCustomer, ProviderError, ProviderInvoice,
    ProviderPayment, ProviderRefund, RefundOutcome, RefundPayment, RemoteCharge,
    RemoteChargeStatus, RemoteInvoice, RemoteInvoiceStatus, RemoteInvoiceSummary, RemotePayout,
    RemoteRefund, SyncStatus, TakePayment, VoidInvoice,
};
use crate::ledger::invoices::{VatTreatment, vat_on};

/// Metadata key holding the Trellis invoice id on Stripe invoices, items and intents.
pub const META_INVOICE_ID: &str = "trellis_invoice_id";
/// Metadata key holding the Trellis payment id on PaymentIntents.
pub const META_PAYMENT_ID: &str = "trellis_payment_id";
/// Metadata key holding the Trellis billing account id on customers and invoices.
pub const META_ACCOUNT_ID: &str = "trellis_account_id";
/// Metadata key holding the Trellis refund reason (Stripe's own `reason` is an enum).
pub const META_REFUND_REASON: &str = "trellis_reason";

/// A way to pay that an invoice's hosted page offers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum HostedPaymentMethod {
    Card,
    /// Bacs Direct Debit.
    BacsDebit,
    /// Bank transfer: the school pays into a virtual account number Stripe gives it, and the
    /// money is applied from the customer's balance.
    CustomerBalance,
}

impl HostedPaymentMethod {
    /// What a partnership gets unless it says otherwise.
    pub const DEFAULTS: [Self; 3] = [Self::Card, Self::BacsDebit, Self::CustomerBalance];

    /// Stripe's name.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Card => "card",
            Self::BacsDebit => "bacs_debit",
            Self::CustomerBalance => "customer_balance",
        }
    }

    /// A comma-separated list of Stripe's names (`card,bacs_debit,customer_balance`): every
    /// method once, at least one; the error names what is wrong.
    pub fn parse_list(list: &str) -> Result<Vec<Self>, String> {
        let mut out = Vec::new();
        for name in list.split(',').map(str::trim).filter(|n| !n.is_empty()) {
            let method = Self::DEFAULTS
                .into_iter()
                .find(|m| m.as_str() == name)
                .ok_or_else(|| {
                    format!("unknown payment method {name:?} (card, bacs_debit, customer_balance)")
                })?;
            if out.contains(&method) {
                return Err(format!("{name} is listed twice"));
            }
            out.push(method);
        }
        if out.is_empty() {
            return Err("at least one payment method is needed".into());
        }
        Ok(out)
    }

    fn stripe(self) -> CreateInvoicePaymentSettingsPaymentMethodTypes {
        match self {
            Self::Card => CreateInvoicePaymentSettingsPaymentMethodTypes::Card,
            Self::BacsDebit => CreateInvoicePaymentSettingsPaymentMethodTypes::BacsDebit,
            Self::CustomerBalance => {
                CreateInvoicePaymentSettingsPaymentMethodTypes::CustomerBalance
            }
        }
    }
}

/// How to reach Stripe.
#[derive(Clone, PartialEq, Eq)]
pub struct StripeConfig {
    /// `sk_live_…` / `sk_test_…`.
    pub secret_key: String,
    /// `whsec_…`: verifies `Stripe-Signature` on webhooks.
    pub webhook_secret: String,
    /// Another API base (the test stand-in); `None` is Stripe itself.
    pub api_base: Option<String>,
    /// What invoices' hosted pages offer (`TRELLIS_STRIPE_PAYMENT_METHODS`).
    pub payment_methods: Vec<HostedPaymentMethod>,
}

impl fmt::Debug for StripeConfig {
    /// Secrets never reach a log.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StripeConfig")
            .field("secret_key", &"<redacted>")
            .field("webhook_secret", &"<redacted>")
            .field("api_base", &self.api_base)
            .field("payment_methods", &self.payment_methods)
            .finish()
    }
}

/// The Stripe adapter.
pub struct StripeProvider {
    client: Client,
    currency: Currency,
    payment_methods: Vec<HostedPaymentMethod>,
}

impl fmt::Debug for StripeProvider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StripeProvider").finish_non_exhaustive()
    }
}

impl StripeProvider {
    /// Builds the client; amounts are in pounds sterling (pence), as [`Money`] is.
    pub fn new(config: &StripeConfig) -> Result<Self, ProviderError> {
        let mut builder = ClientBuilder::new(config.secret_key.clone())
            .timeout(Duration::from_secs(30))
            .request_strategy(RequestStrategy::Once);
        if let Some(base) = &config.api_base {
            // async-stripe appends `v1/…` to the base.
            let base = base.trim_end_matches('/');
            builder = builder.url(format!("{base}/"));
        }
        let client = builder.build().map_err(unavailable)?;
        Ok(Self {
            client,
            currency: Currency::GBP,
            payment_methods: config.payment_methods.clone(),
        })
    }
}

fn unavailable(err: StripeError) -> ProviderError {
    ProviderError::Unavailable(Box::new(err))
}

/// Stripe's own refusals (4xx other than conflicts and rate limits) are final; anything else
/// may succeed when retried with the same key.
fn classify(err: StripeError) -> ProviderError {
    match err {
        StripeError::Stripe(api, status)
            if (400..500).contains(&status) && status != 409 && status != 429 =>
        {
            ProviderError::Rejected(
                api.message
                    .clone()
                    .unwrap_or_else(|| format!("{} ({status})", api.type_.as_str())),
            )
        }
        other => unavailable(other),
    }
}

fn strategy(key: &IdempotencyKey, step: &str) -> Result<RequestStrategy, ProviderError> {
    let key = if step.is_empty() {
        key.as_str().to_owned()
    } else {
        format!("{}:{step}", key.as_str())
    };
    let key = stripe::IdempotencyKey::new(key)
        .map_err(|e| ProviderError::Rejected(format!("bad idempotency key: {e}")))?;
    Ok(RequestStrategy::Idempotent(key))
}

/// Sends `request` with the idempotency key for `step`. (A macro: async-stripe's `send`
/// bound names miniserde, which Trellis does not otherwise depend on.)
macro_rules! send {
    ($client:expr, $request:expr, $key:expr, $step:expr $(,)?) => {
        $request
            .customize()
            .request_strategy(strategy($key, $step)?)
            .send($client)
            .await
            .map_err(classify)
    };
}

/// A list page's items and the id to continue after, when there are more.
fn page_of(body: &serde_json::Value) -> (Vec<serde_json::Value>, Option<String>) {
    let data = body["data"].as_array().cloned().unwrap_or_default();
    let next = if body["has_more"].as_bool() == Some(true) {
        data.last()
            .and_then(|o| o["id"].as_str())
            .map(str::to_owned)
    } else {
        None
    };
    (data, next)
}

fn text(v: &serde_json::Value, key: &str) -> Option<String> {
    match &v[key] {
        serde_json::Value::String(s) => Some(s.clone()),
        // Expanded: an object carrying its id.
        serde_json::Value::Object(o) => o.get("id").and_then(|id| id.as_str()).map(str::to_owned),
        _ => None,
    }
}

fn pence(v: &serde_json::Value, key: &str) -> Money {
    money(v[key].as_i64().unwrap_or(0))
}

fn timestamp(v: &serde_json::Value, key: &str) -> chrono::DateTime<chrono::Utc> {
    chrono::DateTime::from_timestamp(v[key].as_i64().unwrap_or(0), 0).unwrap_or_default()
}

fn money(pence: i64) -> Money {
    Money::from_pence(pence)
}

fn remote_status(status: Option<&InvoiceStatus>) -> RemoteInvoiceStatus {
    match status {
        Some(InvoiceStatus::Open) => RemoteInvoiceStatus::Open,
        Some(InvoiceStatus::Paid) => RemoteInvoiceStatus::Paid,
        Some(InvoiceStatus::Void) => RemoteInvoiceStatus::Void,
        Some(InvoiceStatus::Uncollectible) => RemoteInvoiceStatus::Uncollectible,
        _ => RemoteInvoiceStatus::Draft,
    }
}

fn summary(invoice: &Invoice) -> RemoteInvoiceSummary {
    RemoteInvoiceSummary {
        invoice_ref: invoice
            .id
            .as_ref()
            .map(ToString::to_string)
            .unwrap_or_default(),
        invoice_id: invoice
            .metadata
            .as_ref()
            .and_then(|m| m.get(META_INVOICE_ID))
            .and_then(|id| id.parse::<uuid::Uuid>().ok())
            .map(InvoiceId::from_uuid),
        total: money(invoice.total),
        status: remote_status(invoice.status.as_ref()),
        amount_paid: money(invoice.amount_paid),
        amount_remaining: money(invoice.amount_remaining),
    }
}

/// What one Trellis line costs, VAT included, and how its description says so.
fn gross_line(line: &super::ProviderLine) -> (i64, String) {
    let net = line.unit_amount.pence() * i64::from(line.quantity);
    match line.vat_treatment {
        VatTreatment::Exempt => (net, format!("{} (VAT exempt)", line.description)),
        VatTreatment::Standard => {
            let vat = vat_on(net, line.vat_rate_bp);
            let rate = f64::from(line.vat_rate_bp) / 100.0;
            (
                net + vat,
                format!(
                    "{} (incl. VAT at {rate}%: {})",
                    line.description,
                    money(vat)
                ),
            )
        }
    }
}

impl StripeProvider {
    /// The hosted page's payment methods; a bank transfer is a UK one (GBP).
    fn payment_settings(&self) -> CreateInvoicePaymentSettings {
        let mut settings = CreateInvoicePaymentSettings::new();
        settings.payment_method_types =
            Some(self.payment_methods.iter().map(|m| m.stripe()).collect());
        if self
            .payment_methods
            .contains(&HostedPaymentMethod::CustomerBalance)
        {
            let mut bank_transfer = BankTransferParam::new();
            bank_transfer.type_ = Some("gb_bank_transfer".to_owned());
            let mut balance = InvoicePaymentMethodOptionsParam::new();
            balance.bank_transfer = Some(bank_transfer);
            balance.funding_type = Some("bank_transfer".to_owned());
            let mut options = CreateInvoicePaymentSettingsPaymentMethodOptions::new();
            options.customer_balance = Some(balance);
            settings.payment_method_options = Some(options);
        }
        settings
    }

    /// GETs `path` (below `/v1`) with `query` and returns the body as JSON.
    async fn get_json<Q: serde::Serialize>(
        &self,
        path: &str,
        query: &Q,
    ) -> Result<serde_json::Value, ProviderError> {
        let body: miniserde::json::Value = RequestBuilder::new(StripeMethod::Get, path)
            .query(query)
            .customize()
            .send(&self.client)
            .await
            .map_err(classify)?;
        serde_json::from_str(&miniserde::json::to_string(&body))
            .map_err(|e| ProviderError::Unavailable(Box::new(e)))
    }

    /// Every item of a list endpoint, page after page.
    async fn list_all(
        &self,
        path: &str,
        filter: &BTreeMap<&str, serde_json::Value>,
    ) -> Result<Vec<serde_json::Value>, ProviderError> {
        let mut out = Vec::new();
        let mut query = filter.clone();
        query.insert("limit", serde_json::json!(100));
        loop {
            let (items, next) = page_of(&self.get_json(path, &query).await?);
            out.extend(items);
            match next {
                Some(after) => {
                    query.insert("starting_after", serde_json::json!(after));
                }
                None => return Ok(out),
            }
        }
    }

    async fn refunds_of(&self, charge_ref: &str) -> Result<Vec<RemoteRefund>, ProviderError> {
        let filter = BTreeMap::from([("charge", serde_json::json!(charge_ref))]);
        Ok(self
            .list_all("/refunds", &filter)
            .await?
            .iter()
            .map(|r| RemoteRefund {
                refund_ref: text(r, "id").unwrap_or_default(),
                amount: pence(r, "amount"),
                status: text(r, "status").unwrap_or_default(),
            })
            .collect())
    }
}

#[async_trait]
impl PaymentProvider for StripeProvider {
    fn name(&self) -> &'static str {
        "stripe"
    }

    /// Stripe.js completes the PaymentIntent in the payer's browser.
    fn takes_cards(&self) -> bool {
        true
    }

    async fn create_customer(
        &self,
        request: CreateCustomer,
    ) -> Result<ProviderCustomer, ProviderError> {
        let mut metadata = HashMap::new();
        metadata.insert(META_ACCOUNT_ID.to_owned(), request.account_id.to_string());
        let mut description = request.address.lines.join(", ");
        if !request.address.postcode.is_empty() {
            description = format!("{description} {}", request.address.postcode);
        }
        let create = StripeCreateCustomer::new()
            .name(request.name)
            .email(request.email)
            .description(description)
            .metadata(metadata);
        let customer = send!(&self.client, create, &request.idempotency_key, "")?;
        Ok(ProviderCustomer {
            customer_ref: customer.id.to_string(),
        })
    }

    async fn issue_invoice(&self, request: IssueInvoice) -> Result<ProviderInvoice, ProviderError> {
        if request.total.pence() <= 0 {
            return Err(ProviderError::Rejected(
                "an invoice total must be positive".into(),
            ));
        }
        let lines: Vec<(i64, String)> = request.lines.iter().map(gross_line).collect();
        let sum: i64 = lines.iter().map(|(pence, _)| pence).sum();
        if sum != request.total.pence() {
            return Err(ProviderError::Rejected(format!(
                "the lines add up to {} but the invoice total is {}",
                money(sum),
                request.total
            )));
        }
        let mut metadata: HashMap<String, String> = request.metadata.clone().into_iter().collect();
        metadata.insert(META_INVOICE_ID.to_owned(), request.invoice_id.to_string());
        metadata.insert(META_ACCOUNT_ID.to_owned(), request.account_id.to_string());
        metadata.insert("trellis_invoice_number".to_owned(), request.number.clone());

        let mut create = CreateInvoice::new()
            .customer(request.customer_ref.clone())
            .currency(self.currency.clone())
            .description(format!("Invoice {}", request.number))
            .metadata(metadata.clone())
            .pending_invoice_items_behavior(CreateInvoicePendingInvoiceItemsBehavior::Exclude)
            .auto_advance(false);
        create = match request.collection {
            Collection::SendInvoice { days_until_due } => create
                .collection_method(InvoiceCollectionMethod::SendInvoice)
                .days_until_due(days_until_due),
            Collection::ChargeAutomatically => {
                create.collection_method(InvoiceCollectionMethod::ChargeAutomatically)
            }
        };
        let mut fields = vec![CustomFieldParams {
            name: "Invoice".into(),
            value: request.number.clone(),
        }];
        if let Some(po) = &request.po_number {
            fields.push(CustomFieldParams {
                name: "PO number".into(),
                value: po.clone(),
            });
        }
        create = create
            .custom_fields(fields)
            .payment_settings(self.payment_settings());
        let draft = send!(&self.client, create, &request.idempotency_key, "create")?;
        let invoice_ref = draft.id.as_ref().map(ToString::to_string).ok_or_else(|| {
            ProviderError::Rejected("Stripe returned an invoice without an id".into())
        })?;

        for (i, (pence, description)) in lines.into_iter().enumerate() {
            let item = CreateInvoiceItem::new()
                .customer(request.customer_ref.clone())
                .invoice(invoice_ref.clone())
                .currency(self.currency.clone())
                .amount(pence)
                .description(description)
                .metadata(HashMap::from([(
                    META_INVOICE_ID.to_owned(),
                    request.invoice_id.to_string(),
                )]));
            send!(
                &self.client,
                item,
                &request.idempotency_key,
                &format!("item:{i}")
            )?;
        }

        let finalized = if draft.status.as_ref() == Some(&InvoiceStatus::Draft) {
            send!(
                &self.client,
                FinalizeInvoiceInvoice::new(invoice_ref.as_str()),
                &request.idempotency_key,
                "finalize",
            )?
        } else {
            // A replayed create of an invoice finalised since: read it back as it is now.
            send!(
                &self.client,
                RetrieveInvoice::new(invoice_ref.as_str()),
                &request.idempotency_key,
                "",
            )?
        };
        if finalized.total != request.total.pence() {
            return Err(ProviderError::Rejected(format!(
                "Stripe totals the invoice at {} but Trellis at {}",
                money(finalized.total),
                request.total
            )));
        }
        Ok(ProviderInvoice {
            invoice_ref,
            hosted_url: finalized.hosted_invoice_url,
            pdf_url: finalized.invoice_pdf,
        })
    }

    async fn take_payment(&self, request: TakePayment) -> Result<ProviderPayment, ProviderError> {
        if request.amount.pence() <= 0 {
            return Err(ProviderError::Rejected("a payment must be positive".into()));
        }
        let mut metadata =
            BTreeMap::from([(META_PAYMENT_ID.to_owned(), request.payment_id.to_string())]);
        metadata.insert(META_ACCOUNT_ID.to_owned(), request.account_id.to_string());
        if let Some(invoice) = request.invoice_id {
            metadata.insert(META_INVOICE_ID.to_owned(), invoice.to_string());
        }
        let create = CreatePaymentIntent::new(request.amount.pence(), self.currency.clone())
            .customer(request.customer_ref)
            .metadata(metadata.into_iter().collect::<HashMap<_, _>>());
        let intent = send!(&self.client, create, &request.idempotency_key, "")?;
        let secret = intent.client_secret.clone().unwrap_or_default();
        let outcome = match intent.status {
            PaymentIntentStatus::Succeeded => PaymentOutcome::Succeeded,
            PaymentIntentStatus::Processing => PaymentOutcome::Pending,
            PaymentIntentStatus::Canceled => PaymentOutcome::Failed {
                reason: "the payment was cancelled".into(),
            },
            _ => PaymentOutcome::RequiresAction {
                client_secret: secret,
            },
        };
        Ok(ProviderPayment {
            payment_ref: intent.id.to_string(),
            outcome,
        })
    }

    /// Looks first: a PaymentIntent that succeeded or is processing cannot be cancelled, and
    /// its money must be left to arrive; one already cancelled needs nothing.
    async fn cancel_payment(&self, request: CancelPayment) -> Result<PaymentCancel, ProviderError> {
        let current = RetrievePaymentIntent::new(request.payment_ref.as_str())
            .send(&self.client)
            .await
            .map_err(classify)?;
        match current.status {
            PaymentIntentStatus::Succeeded | PaymentIntentStatus::Processing => {
                return Ok(PaymentCancel::Completed);
            }
            PaymentIntentStatus::Canceled => return Ok(PaymentCancel::Cancelled),
            _ => {}
        }
        let cancelled = send!(
            &self.client,
            CancelPaymentIntent::new(request.payment_ref.as_str()),
            &request.idempotency_key,
            "",
        )?;
        Ok(if cancelled.status == PaymentIntentStatus::Canceled {
            PaymentCancel::Cancelled
        } else {
            PaymentCancel::Completed
        })
    }

    async fn refund(&self, request: RefundPayment) -> Result<ProviderRefund, ProviderError> {
        if request.amount.pence() <= 0 {
            return Err(ProviderError::Rejected("a refund must be positive".into()));
        }
        let Some(payment_ref) = request.payment_ref else {
            return Err(ProviderError::Unsupported {
                provider: "stripe",
                operation: "refund a payment Stripe did not take",
            });
        };
        let mut create = CreateRefund::new()
            .amount(request.amount.pence())
            .reason(CreateRefundReason::RequestedByCustomer)
            .metadata(HashMap::from([
                (META_REFUND_REASON.to_owned(), request.reason.clone()),
                (
                    "trellis_refund_id".to_owned(),
                    request.refund_id.to_string(),
                ),
            ]));
        create = if payment_ref.starts_with("ch_") {
            create.charge(payment_ref)
        } else {
            create.payment_intent(payment_ref)
        };
        let refund = send!(&self.client, create, &request.idempotency_key, "")?;
        let outcome = match refund.status.as_deref() {
            Some("succeeded") => RefundOutcome::Succeeded,
            Some("failed" | "canceled") => RefundOutcome::Failed {
                reason: refund
                    .failure_reason
                    .as_ref()
                    .map_or_else(|| "refused by Stripe".to_owned(), |r| r.as_str().to_owned()),
            },
            _ => RefundOutcome::Pending,
        };
        Ok(ProviderRefund {
            refund_ref: refund.id.to_string(),
            outcome,
        })
    }

    async fn sync_status(
        &self,
        request: SyncStatus,
    ) -> Result<Option<RemoteInvoice>, ProviderError> {
        let invoice = RetrieveInvoice::new(request.invoice_ref.as_str())
            .send(&self.client)
            .await
            .map_err(classify)?;
        Ok(Some(RemoteInvoice {
            status: remote_status(invoice.status.as_ref()),
            amount_paid: money(invoice.amount_paid),
            amount_remaining: money(invoice.amount_remaining),
        }))
    }

    async fn void_invoice(&self, request: VoidInvoice) -> Result<(), ProviderError> {
        let current = RetrieveInvoice::new(request.invoice_ref.as_str())
            .send(&self.client)
            .await
            .map_err(classify)?;
        if current.status.as_ref() == Some(&InvoiceStatus::Void) {
            return Ok(());
        }
        send!(
            &self.client,
            VoidInvoiceInvoice::new(request.invoice_ref.as_str()),
            &request.idempotency_key,
            "",
        )?;
        Ok(())
    }

    async fn credit_invoice(
        &self,
        request: CreditInvoice,
    ) -> Result<ProviderCreditNote, ProviderError> {
        if request.amount.pence() <= 0 {
            return Err(ProviderError::Rejected(
                "a credit note must be positive".into(),
            ));
        }
        let create = CreateCreditNote::new(request.invoice_ref)
            .amount(request.amount.pence())
            .reason(CreditNoteReason::OrderChange)
            .memo(request.reason)
            .metadata(HashMap::from([(
                "trellis_credit_note_id".to_owned(),
                request.credit_note_id.to_string(),
            )]));
        let note = send!(&self.client, create, &request.idempotency_key, "")?;
        Ok(ProviderCreditNote {
            credit_note_ref: note.id.to_string(),
        })
    }

    async fn list_invoices(
        &self,
        request: ListInvoices,
    ) -> Result<Option<Vec<RemoteInvoiceSummary>>, ProviderError> {
        let mut out = Vec::new();
        let mut after: Option<String> = None;
        loop {
            let mut list = ListInvoice::new()
                .customer(request.customer_ref.clone())
                .limit(100);
            if let Some(after) = &after {
                list = list.starting_after(after.clone());
            }
            let page = list.send(&self.client).await.map_err(classify)?;
            out.extend(page.data.iter().map(summary));
            match (page.has_more, page.data.last().and_then(|i| i.id.as_ref())) {
                (true, Some(last_id)) => after = Some(last_id.to_string()),
                _ => break,
            }
        }
        Ok(Some(out))
    }

    async fn list_charges(
        &self,
        request: ListCharges,
    ) -> Result<Option<Vec<RemoteCharge>>, ProviderError> {
        let filter = BTreeMap::from([
            ("customer", serde_json::json!(request.customer_ref)),
            (
                "created",
                serde_json::json!({ "gt": request.created_since.timestamp() - 1 }),
            ),
        ]);
        let mut out = Vec::new();
        for c in self.list_all("/charges", &filter).await? {
            let charge_ref = text(&c, "id").unwrap_or_default();
            let amount_refunded = pence(&c, "amount_refunded");
            let refunds = if amount_refunded.pence() > 0 {
                self.refunds_of(&charge_ref).await?
            } else {
                Vec::new()
            };
            let status = match c["status"].as_str() {
                Some("succeeded") => RemoteChargeStatus::Succeeded,
                Some("pending") => RemoteChargeStatus::Pending,
                _ => RemoteChargeStatus::Failed,
            };
            out.push(RemoteCharge {
                payment_ref: text(&c, "payment_intent"),
                amount: pence(&c, "amount"),
                amount_refunded,
                status,
                created: timestamp(&c, "created"),
                refunds,
                charge_ref,
            });
        }
        Ok(Some(out))
    }

    async fn list_payouts(
        &self,
        request: ListPayouts,
    ) -> Result<Option<Vec<RemotePayout>>, ProviderError> {
        let since = request
            .arriving_since
            .and_hms_opt(0, 0, 0)
            .map_or(0, |t| t.and_utc().timestamp());
        let filter = BTreeMap::from([("arrival_date", serde_json::json!({ "gte": since }))]);
        let mut out = Vec::new();
        for p in self.list_all("/payouts", &filter).await? {
            let payout_ref = text(&p, "id").unwrap_or_default();
            let lines = self
                .list_all(
                    "/balance_transactions",
                    &BTreeMap::from([("payout", serde_json::json!(payout_ref))]),
                )
                .await?
                .iter()
                .filter(|t| t["type"].as_str() != Some("payout"))
                .map(|t| PayoutLine {
                    transaction_ref: text(t, "id").unwrap_or_default(),
                    kind: text(t, "type").unwrap_or_default(),
                    source_ref: text(t, "source"),
                    amount: pence(t, "amount"),
                    fee: pence(t, "fee"),
                    net: pence(t, "net"),
                })
                .collect();
            out.push(RemotePayout {
                amount: pence(&p, "amount"),
                currency: text(&p, "currency").unwrap_or_default(),
                arrival_on: timestamp(&p, "arrival_date").date_naive(),
                status: text(&p, "status").unwrap_or_default(),
                lines,
                payout_ref,
            });
        }
        Ok(Some(out))
    }
}
