//! For tests only (the `test-support` feature): a provider that takes cards but makes no
//! external call. Everything is the offline adapter's, except that card payments are
//! accepted: they stay pending until the test records the money, as a card payment waits for
//! its webhook.

use async_trait::async_trait;

use super::{
    CancelPayment, CreateCustomer, CreditInvoice, IssueInvoice, ListCharges, ListInvoices,
    ListPayouts, OfflineProvider, PaymentCancel, PaymentProvider, ProviderCreditNote,
    ProviderCustomer, ProviderError, ProviderInvoice, ProviderPayment, ProviderRefund,
    RefundPayment, RemoteCharge, RemoteInvoice, RemoteInvoiceSummary, RemotePayout, SyncStatus,
    TakePayment, VoidInvoice,
};

/// The offline adapter, taking cards: a test stand-in for a card provider.
#[derive(Debug, Clone, Copy, Default)]
pub struct RecordedCards;

#[async_trait]
impl PaymentProvider for RecordedCards {
    fn name(&self) -> &'static str {
        "recorded-cards"
    }

    fn takes_cards(&self) -> bool {
        true
    }

    async fn create_customer(
        &self,
        request: CreateCustomer,
    ) -> Result<ProviderCustomer, ProviderError> {
        OfflineProvider.create_customer(request).await
    }

    async fn issue_invoice(&self, request: IssueInvoice) -> Result<ProviderInvoice, ProviderError> {
        OfflineProvider.issue_invoice(request).await
    }

    async fn take_payment(&self, request: TakePayment) -> Result<ProviderPayment, ProviderError> {
        OfflineProvider.take_payment(request).await
    }

    async fn refund(&self, request: RefundPayment) -> Result<ProviderRefund, ProviderError> {
        OfflineProvider.refund(request).await
    }

    async fn cancel_payment(&self, request: CancelPayment) -> Result<PaymentCancel, ProviderError> {
        OfflineProvider.cancel_payment(request).await
    }

    async fn sync_status(
        &self,
        request: SyncStatus,
    ) -> Result<Option<RemoteInvoice>, ProviderError> {
        OfflineProvider.sync_status(request).await
    }

    async fn void_invoice(&self, request: VoidInvoice) -> Result<(), ProviderError> {
        OfflineProvider.void_invoice(request).await
    }

    async fn credit_invoice(
        &self,
        request: CreditInvoice,
    ) -> Result<ProviderCreditNote, ProviderError> {
        OfflineProvider.credit_invoice(request).await
    }

    async fn list_invoices(
        &self,
        request: ListInvoices,
    ) -> Result<Option<Vec<RemoteInvoiceSummary>>, ProviderError> {
        OfflineProvider.list_invoices(request).await
    }

    async fn list_charges(
        &self,
        request: ListCharges,
    ) -> Result<Option<Vec<RemoteCharge>>, ProviderError> {
        OfflineProvider.list_charges(request).await
    }

    async fn list_payouts(
        &self,
        request: ListPayouts,
    ) -> Result<Option<Vec<RemotePayout>>, ProviderError> {
        OfflineProvider.list_payouts(request).await
    }
}
