//! The offline adapter: the embedded default when no payment provider is configured.

use async_trait::async_trait;

use super::{
    CancelPayment, CreateCustomer, CreditInvoice, IssueInvoice, ListCharges, ListInvoices,
    ListPayouts, PaymentCancel, PaymentOutcome, PaymentProvider, ProviderCreditNote,
    ProviderCustomer, ProviderError, ProviderInvoice, ProviderPayment, ProviderRefund,
    RefundOutcome, RefundPayment, RemoteCharge, RemoteInvoice, RemoteInvoiceSummary, RemotePayout,
    SyncStatus, TakePayment, VoidInvoice,
};

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

    /// Nobody can pay an offline card payment: schools pay by transfer instead.
    fn takes_cards(&self) -> bool {
        false
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
            pdf_url: None,
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

    /// An offline payment is a bank transfer Trellis never started, so there is nothing to
    /// call off: money that arrives anyway is recorded by finance as account credit.
    async fn cancel_payment(
        &self,
        _request: CancelPayment,
    ) -> Result<PaymentCancel, ProviderError> {
        Ok(PaymentCancel::Cancelled)
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

    /// Nothing is held remotely, so there is nothing to void.
    async fn void_invoice(&self, _request: VoidInvoice) -> Result<(), ProviderError> {
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
        Ok(ProviderCreditNote {
            credit_note_ref: offline_ref("cn", request.credit_note_id.as_uuid()),
        })
    }

    async fn list_invoices(
        &self,
        _request: ListInvoices,
    ) -> Result<Option<Vec<RemoteInvoiceSummary>>, ProviderError> {
        Ok(None)
    }

    async fn list_charges(
        &self,
        _request: ListCharges,
    ) -> Result<Option<Vec<RemoteCharge>>, ProviderError> {
        Ok(None)
    }

    async fn list_payouts(
        &self,
        _request: ListPayouts,
    ) -> Result<Option<Vec<RemotePayout>>, ProviderError> {
        Ok(None)
    }
}

#[cfg(test)]
mod tests {
    use super::super::{Collection, IdempotencyKey, ProviderLine};
    use super::*;
    use crate::ledger::accounts::Address;
    use crate::ledger::invoices::VatTreatment;
    use chrono::NaiveDate;
    use kernel::{BillingAccountId, InvoiceId, Money, PaymentId, RefundId};

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
                metadata: std::collections::BTreeMap::new(),
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
