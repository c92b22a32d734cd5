//! The `PaymentProvider` port: what Trellis asks of whoever collects its money.
//!
//! Requests carry Trellis's own ids and an idempotency key (Stripe's `Idempotency-Key`
//! header; derived from the Trellis id so a retried call is the same call); responses carry
//! the provider's references, which the ledger stores (`provider_customer_ref`,
//! `provider_invoice_ref` + hosted page, `provider_payment_ref`, `provider_refund_ref`).
//! The shapes follow what a Stripe adapter needs: customers; invoices finalised with
//! `collection_method = send_invoice` and `days_until_due`; PaymentIntents; refunds; and a
//! status read-back for reconciliation.
//!
//! **The ledger stays the book of record.** A provider call never changes the ledger by
//! itself; the caller records what came back (e.g. `invoices::record_provider_invoice`).
//!
//! [`OfflineProvider`] is the embedded default: no external calls, invoices are paid by
//! bank transfer that finance records as receipts, references are deterministic `offline_…`.

use std::fmt;

use async_trait::async_trait;
use chrono::NaiveDate;
use kernel::{BillingAccountId, InvoiceId, Money, PaymentId, RefundId};
use serde::Serialize;
use thiserror::Error;

use crate::ledger::accounts::Address;
use crate::ledger::invoices::VatTreatment;

/// A provider idempotency key, derived from the Trellis operation and id so that a retry
/// after a timeout is recognised as the same request.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub struct IdempotencyKey(String);

impl IdempotencyKey {
    /// `trellis:<operation>:<id>`.
    #[must_use]
    pub fn derive(operation: &str, id: impl fmt::Display) -> Self {
        Self(format!("trellis:{operation}:{id}"))
    }

    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Create (or find) the provider's customer for a billing account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreateCustomer {
    pub account_id: BillingAccountId,
    pub name: String,
    pub email: String,
    pub address: Address,
    pub idempotency_key: IdempotencyKey,
}

/// The provider's customer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProviderCustomer {
    /// e.g. Stripe `cus_…`.
    pub customer_ref: String,
}

/// One line as the provider shows it (Stripe: an invoice item with a tax rate).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProviderLine {
    pub description: String,
    pub quantity: u32,
    pub unit_amount: Money,
    pub vat_treatment: VatTreatment,
    pub vat_rate_bp: u32,
}

/// How the provider should collect an invoice.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Collection {
    /// Email the invoice with a hosted payment page; due `days_until_due` after sending.
    SendInvoice { days_until_due: u32 },
    /// Charge the customer's saved method (card, Bacs Direct Debit mandate).
    ChargeAutomatically,
}

/// Mirror an issued Trellis invoice at the provider.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssueInvoice {
    pub invoice_id: InvoiceId,
    /// The Trellis number, shown on the provider's document.
    pub number: String,
    pub account_id: BillingAccountId,
    pub customer_ref: String,
    pub lines: Vec<ProviderLine>,
    pub total: Money,
    pub due_on: NaiveDate,
    pub collection: Collection,
    pub po_number: Option<String>,
    pub idempotency_key: IdempotencyKey,
}

/// Where the provider keeps an invoice.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProviderInvoice {
    /// e.g. Stripe `in_…`.
    pub invoice_ref: String,
    /// The page where the school can pay, when the provider has one.
    pub hosted_url: Option<String>,
}

/// Take a payment (Stripe: a PaymentIntent) for an amount, usually against an invoice.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TakePayment {
    /// The Trellis payment this will be recorded as.
    pub payment_id: PaymentId,
    pub account_id: BillingAccountId,
    pub customer_ref: String,
    pub invoice_id: Option<InvoiceId>,
    pub amount: Money,
    pub idempotency_key: IdempotencyKey,
}

/// Where a payment stands at the provider.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PaymentOutcome {
    /// Money captured: record the receipt now.
    Succeeded,
    /// Money will arrive later (Bacs debit, bank transfer): record it when it does.
    Pending,
    /// The payer must act (3-D Secure); the front end continues with this secret.
    RequiresAction {
        client_secret: String,
    },
    Failed {
        reason: String,
    },
}

/// A payment at the provider.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProviderPayment {
    /// e.g. Stripe `pi_…`.
    pub payment_ref: String,
    pub outcome: PaymentOutcome,
}

/// Return money.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefundPayment {
    pub refund_id: RefundId,
    pub payment_id: PaymentId,
    /// The provider's payment, when it took the money; `None` for recorded bank receipts.
    pub payment_ref: Option<String>,
    pub amount: Money,
    pub reason: String,
    pub idempotency_key: IdempotencyKey,
}

/// Where a refund stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RefundOutcome {
    Succeeded,
    Pending,
    Failed { reason: String },
}

/// A refund at the provider.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProviderRefund {
    /// e.g. Stripe `re_…`.
    pub refund_ref: String,
    pub outcome: RefundOutcome,
}

/// Ask the provider where one invoice stands, for reconciliation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyncStatus {
    pub invoice_id: InvoiceId,
    pub invoice_ref: String,
}

/// An invoice's state as the provider sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RemoteInvoiceStatus {
    Draft,
    Open,
    Paid,
    Void,
    Uncollectible,
}

/// The provider's view of an invoice.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemoteInvoice {
    pub status: RemoteInvoiceStatus,
    pub amount_paid: Money,
    pub amount_remaining: Money,
}

/// Why a provider call failed.
#[derive(Debug, Error)]
pub enum ProviderError {
    /// This provider does not do that (e.g. card payments offline).
    #[error("{provider} cannot {operation}")]
    Unsupported {
        provider: &'static str,
        operation: &'static str,
    },
    /// The provider refused the request (bad data, declined card); the message is theirs.
    #[error("rejected by the payment provider: {0}")]
    Rejected(String),
    /// The provider could not be reached or failed; safe to retry with the same key.
    #[error("payment provider unavailable")]
    Unavailable(#[source] Box<dyn std::error::Error + Send + Sync>),
}

/// What Trellis needs from a payment provider.
#[async_trait]
pub trait PaymentProvider: Send + Sync + fmt::Debug {
    /// A short stable name (`offline`, `stripe`), for logs and stored references.
    fn name(&self) -> &'static str;

    async fn create_customer(
        &self,
        request: CreateCustomer,
    ) -> Result<ProviderCustomer, ProviderError>;

    async fn issue_invoice(&self, request: IssueInvoice) -> Result<ProviderInvoice, ProviderError>;

    async fn take_payment(&self, request: TakePayment) -> Result<ProviderPayment, ProviderError>;

    async fn refund(&self, request: RefundPayment) -> Result<ProviderRefund, ProviderError>;

    /// `None` when the provider keeps no state of its own for the invoice (offline): the
    /// ledger is then the only truth and there is nothing to reconcile against.
    async fn sync_status(
        &self,
        request: SyncStatus,
    ) -> Result<Option<RemoteInvoice>, ProviderError>;
}

/// The embedded default: makes no external call. Schools pay by bank transfer quoting the
/// invoice number and finance records the receipt; refunds are paid out by the bank and
/// recorded. References are deterministic, `offline_<kind>_<trellis id>`, so repeating a
/// call repeats its answer, as an idempotency key would make a real provider do.
#[derive(Debug, Clone, Copy, Default)]
pub struct OfflineProvider;

fn offline_ref(kind: &str, id: uuid::Uuid) -> String {
    format!("offline_{kind}_{}", id.simple())
}

#[async_trait]
impl PaymentProvider for OfflineProvider {
    fn name(&self) -> &'static str {
        "offline"
    }

    async fn create_customer(
        &self,
        request: CreateCustomer,
    ) -> Result<ProviderCustomer, ProviderError> {
        Ok(ProviderCustomer {
            customer_ref: offline_ref("cus", request.account_id.as_uuid()),
        })
    }

    async fn issue_invoice(&self, request: IssueInvoice) -> Result<ProviderInvoice, ProviderError> {
        if request.total.pence() <= 0 {
            return Err(ProviderError::Rejected(
                "an invoice total must be positive".into(),
            ));
        }
        Ok(ProviderInvoice {
            invoice_ref: offline_ref("in", request.invoice_id.as_uuid()),
            hosted_url: None,
        })
    }

    /// No money can be taken offline: the payment is pending until the bank transfer
    /// arrives and is recorded.
    async fn take_payment(&self, request: TakePayment) -> Result<ProviderPayment, ProviderError> {
        if request.amount.pence() <= 0 {
            return Err(ProviderError::Rejected("a payment must be positive".into()));
        }
        Ok(ProviderPayment {
            payment_ref: offline_ref("pay", request.payment_id.as_uuid()),
            outcome: PaymentOutcome::Pending,
        })
    }

    /// Offline refunds are paid out by finance through the bank; the ledger records them.
    async fn refund(&self, request: RefundPayment) -> Result<ProviderRefund, ProviderError> {
        if request.amount.pence() <= 0 {
            return Err(ProviderError::Rejected("a refund must be positive".into()));
        }
        Ok(ProviderRefund {
            refund_ref: offline_ref("re", request.refund_id.as_uuid()),
            outcome: RefundOutcome::Succeeded,
        })
    }

    async fn sync_status(
        &self,
        _request: SyncStatus,
    ) -> Result<Option<RemoteInvoice>, ProviderError> {
        Ok(None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn address() -> Address {
        Address {
            lines: vec!["1 High Road".into(), "London".into()],
            postcode: "N22 6HH".into(),
        }
    }

    #[tokio::test]
    async fn offline_references_are_deterministic() {
        let provider = OfflineProvider;
        let account = BillingAccountId::new();
        let ask = || CreateCustomer {
            account_id: account,
            name: "Holly Park".into(),
            email: "bursar@holly-park.example".into(),
            address: address(),
            idempotency_key: IdempotencyKey::derive("create_customer", account),
        };
        let first = provider.create_customer(ask()).await.expect("customer");
        let again = provider.create_customer(ask()).await.expect("customer");
        assert_eq!(first, again);
        assert_eq!(
            first.customer_ref,
            format!("offline_cus_{}", account.as_uuid().simple())
        );

        let invoice = InvoiceId::new();
        let issued = provider
            .issue_invoice(IssueInvoice {
                invoice_id: invoice,
                number: "TRL-2026-000001".into(),
                account_id: account,
                customer_ref: first.customer_ref.clone(),
                lines: vec![ProviderLine {
                    description: "Membership 2026/27".into(),
                    quantity: 1,
                    unit_amount: Money::from_pence(600_000),
                    vat_treatment: VatTreatment::Exempt,
                    vat_rate_bp: 0,
                }],
                total: Money::from_pence(600_000),
                due_on: NaiveDate::from_ymd_opt(2026, 10, 1).expect("date"),
                collection: Collection::SendInvoice { days_until_due: 30 },
                po_number: None,
                idempotency_key: IdempotencyKey::derive("issue_invoice", invoice),
            })
            .await
            .expect("invoice");
        assert!(issued.invoice_ref.starts_with("offline_in_"));
        assert_eq!(
            issued.hosted_url, None,
            "offline invoices are paid by bank transfer"
        );
        let status = provider
            .sync_status(SyncStatus {
                invoice_id: invoice,
                invoice_ref: issued.invoice_ref,
            })
            .await
            .expect("sync");
        assert_eq!(status, None, "nothing remote to reconcile");
    }

    #[tokio::test]
    async fn offline_payments_wait_for_the_bank_and_reject_nonsense() {
        let provider = OfflineProvider;
        let payment = PaymentId::new();
        let take = |pence| TakePayment {
            payment_id: payment,
            account_id: BillingAccountId::new(),
            customer_ref: "offline_cus_x".into(),
            invoice_id: None,
            amount: Money::from_pence(pence),
            idempotency_key: IdempotencyKey::derive("take_payment", payment),
        };
        let taken = provider.take_payment(take(100)).await.expect("pending");
        assert_eq!(taken.outcome, PaymentOutcome::Pending);
        assert_eq!(
            taken.payment_ref,
            format!("offline_pay_{}", payment.as_uuid().simple())
        );
        assert!(matches!(
            provider.take_payment(take(0)).await,
            Err(ProviderError::Rejected(_))
        ));

        let refund = RefundId::new();
        let ask = |pence| RefundPayment {
            refund_id: refund,
            payment_id: payment,
            payment_ref: None,
            amount: Money::from_pence(pence),
            reason: "overpaid".into(),
            idempotency_key: IdempotencyKey::derive("refund", refund),
        };
        let done = provider.refund(ask(50)).await.expect("refund");
        assert_eq!(done.outcome, RefundOutcome::Succeeded);
        assert!(done.refund_ref.starts_with("offline_re_"));
        assert!(matches!(
            provider.refund(ask(-1)).await,
            Err(ProviderError::Rejected(_))
        ));
        assert_eq!(
            IdempotencyKey::derive("refund", "x").as_str(),
            "trellis:refund:x"
        );
    }
}
