//! Accounts, invoices, credit notes, payments and reports as the API shows them.
//!
//! Visibility is decided once, on the account: whoever may read an account (its schools'
//! leaders, partnership finance and admins, `billing:read` keys) may read what is billed to
//! it, so edges below an account need no further checks; roots and `node` check the account.

use async_graphql::{Context, ID, Object, SimpleObject};
use billing::ledger::{
    Address, Allocation, BillingAccount, CreditNote, CreditNoteLine, Invoice, InvoiceLine, Payment,
    Refund, Statement,
};
use billing::run::InvoicingRun;
use chrono::{DateTime, NaiveDate, Utc};
use membership::school::School;

use super::enums::{
    BillingAccountKind, Instalment, InvoiceCollection, InvoiceSource, InvoiceStatus,
    InvoicingRunStatus, PaymentMethod, ReceiptMethod,
};
use super::fees::VatTreatment;
use crate::graphql::context::ContextExt;
use crate::graphql::directory::types::SchoolNode;
use crate::graphql::errors::{UserError, internal, payload};
use crate::graphql::loaders::{Prefetched, list_of, load_list};
use crate::graphql::relay::GlobalId;
use crate::graphql::scalars::{AcademicYearScalar, Date, FinancialYearScalar, MoneyValue};

/// A postal address.
#[derive(SimpleObject, Debug, Clone)]
#[graphql(name = "PostalAddress")]
pub struct AddressNode {
    /// Street lines and town, one to six of them, in order; the postcode is separate.
    pub lines: Vec<String>,
    /// The UK postcode, in capitals with one space, e.g. `N10 2HN`.
    pub postcode: String,
}

impl From<&Address> for AddressNode {
    fn from(a: &Address) -> Self {
        Self {
            lines: a.lines.clone(),
            postcode: a.postcode.clone(),
        }
    }
}

#[derive(Debug, Clone)]
pub struct AccountNode(pub BillingAccount);

impl AccountNode {
    /// Account `id` through the request's loader. The ids come from the ledger's own rows
    /// (a draft's, an instalment's), so a missing account is an internal error.
    pub async fn load(
        ctx: &Context<'_>,
        id: kernel::BillingAccountId,
    ) -> async_graphql::Result<Self> {
        ctx.trellis()?
            .loaders
            .accounts()
            .load_one(id)
            .await?
            .map(AccountNode)
            .ok_or_else(|| internal(format!("no account {id}")))
    }
}

/// Who pays: a school, or a trust paying for several schools.
#[Object(name = "BillingAccount")]
impl AccountNode {
    /// Global id: opaque and stable; `node(id:)` finds it again.
    pub async fn id(&self) -> ID {
        self.0.id.to_global()
    }

    /// Whether it pays for one school or for several (a trust or federation).
    async fn kind(&self) -> BillingAccountKind {
        self.0.kind.into()
    }

    /// The payer's name, as its invoices address it.
    async fn name(&self) -> &str {
        &self.0.name
    }

    /// The person its invoices are addressed to.
    async fn contact_name(&self) -> &str {
        &self.0.contact_name
    }

    /// Where its invoices, receipts and payment reminders are emailed.
    async fn contact_email(&self) -> &str {
        &self.0.contact_email
    }

    /// The postal address printed on its invoices.
    async fn address(&self) -> AddressNode {
        (&self.0.address).into()
    }

    /// How the account usually pays, as finance recorded it.
    async fn default_payment_method(&self) -> PaymentMethod {
        self.0.default_method.into()
    }

    /// The schools this account pays for.
    async fn schools(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<SchoolNode>> {
        let rc = ctx.trellis()?;
        let found = rc
            .loaders
            .schools()
            .load_many(self.0.school_ids.iter().copied())
            .await?;
        let mut schools: Vec<_> = found.into_values().map(SchoolNode::from).collect();
        schools.sort_by(|a, b| a.0.name.cmp(&b.0.name));
        Ok(schools)
    }

    /// The account's invoices, newest number first; optionally of one year.
    async fn invoices(
        &self,
        ctx: &Context<'_>,
        #[graphql(
            desc = "Only invoices of this academic year, e.g. `2026/27`; omit it for every year."
        )]
        academic_year: Option<AcademicYearScalar>,
    ) -> async_graphql::Result<Vec<InvoiceNode>> {
        let rc = ctx.trellis()?;
        let mut list = list_of(rc.loaders.account_invoices(), self.0.id).await?;
        if let Some(year) = academic_year {
            list.retain(|i| i.academic_year == year.0);
        }
        list.sort_by(|a, b| b.number.cmp(&a.number));
        Ok(list.into_iter().map(InvoiceNode::from).collect())
    }

    /// Receipts from this account, newest first.
    async fn payments(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<PaymentNode>> {
        let rc = ctx.trellis()?;
        let mut list = list_of(rc.loaders.account_payments(), self.0.id).await?;
        list.sort_by_key(|p| std::cmp::Reverse((p.received_on, p.id)));
        Ok(list.into_iter().map(PaymentNode).collect())
    }

    /// Bookings waiting for this account's next termly invoice, by day of booking.
    async fn pending_charges(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<Vec<super::charges::ChargeNode>> {
        super::charges::pending_of_account(ctx, self.0.id).await
    }

    /// Schools moved into or out of this account, newest date first (pending ones included).
    async fn school_moves(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<Vec<super::moves::AccountMoveNode>> {
        super::moves::moves_of_account(ctx, self.0.id).await
    }

    /// What the account was invoiced, paid and credited for a year, and what it owes. Give
    /// exactly one of the years.
    async fn statement(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "An academic year: the invoices billing it.")] academic_year: Option<
            AcademicYearScalar,
        >,
        #[graphql(desc = "A financial year: the invoices issued from 1 April to 31 March.")]
        financial_year: Option<FinancialYearScalar>,
    ) -> async_graphql::Result<StatementNode> {
        let rc = ctx.trellis()?;
        let period = period_of(academic_year, financial_year)?;
        billing::ledger::account_statement(&rc.db, &rc.actor, self.0.id, period)
            .await
            .map(StatementNode)
            .map_err(crate::graphql::errors::to_graphql)
    }

    /// When it was first recorded in Trellis.
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }

    /// When it last changed.
    async fn updated_at(&self) -> DateTime<Utc> {
        self.0.updated_at
    }
}

/// An invoice, with its account when the page that found it read the accounts in the same
/// statement ([`billing::ledger::invoices::invoices_with_accounts`]); otherwise `account`
/// loads it in a batch.
#[derive(Debug, Clone)]
pub struct InvoiceNode(pub Invoice, pub Prefetched<BillingAccount>);

impl From<Invoice> for InvoiceNode {
    fn from(invoice: Invoice) -> Self {
        Self(invoice, Prefetched::Unread)
    }
}

/// An issued invoice. Immutable once issued except its purchase-order number and status;
/// corrections are credit notes.
#[Object(name = "Invoice")]
impl InvoiceNode {
    /// Global id: opaque and stable; `node(id:)` finds it again.
    pub async fn id(&self) -> ID {
        self.0.id.to_global()
    }

    /// Sequential without gaps per year, e.g. `TRL-2026-000123`.
    async fn number(&self) -> &str {
        &self.0.number
    }

    /// The account billed.
    async fn account(&self, ctx: &Context<'_>) -> async_graphql::Result<AccountNode> {
        if let Prefetched::Read(account) = &self.1 {
            return Ok(AccountNode(account.clone()));
        }
        ctx.trellis()?
            .loaders
            .accounts()
            .load_one(self.0.account_id)
            .await?
            .map(AccountNode)
            .ok_or_else(|| internal(format!("invoice {} has no account", self.0.id)))
    }

    /// The academic year it belongs to and is numbered in, e.g. `2026/27`.
    async fn academic_year(&self) -> AcademicYearScalar {
        self.0.academic_year.into()
    }

    /// Which part of a membership year it bills; NONE for booking and manual invoices.
    async fn instalment(&self) -> Instalment {
        self.0.instalment.into()
    }

    /// Where it stands: money moves it between OPEN, PARTIALLY_PAID and PAID; finance voids it or
    /// writes it off (UNCOLLECTIBLE).
    async fn status(&self) -> InvoiceStatus {
        self.0.status.into()
    }

    /// What raised it: the membership run, bookings, or finance by hand.
    async fn source(&self) -> InvoiceSource {
        self.0.source.into()
    }

    /// How it is collected: sent (with a hosted payment page when on Stripe), or charged by
    /// card with a booking.
    async fn collection(&self) -> InvoiceCollection {
        self.0.collection.into()
    }

    /// The lines' net amounts added up, before VAT.
    async fn net(&self) -> MoneyValue {
        self.0.net.into()
    }

    /// The lines' VAT added up (each line rounded to the penny).
    async fn vat(&self) -> MoneyValue {
        self.0.vat.into()
    }

    /// `net + vat`: what the invoice bills.
    async fn total(&self) -> MoneyValue {
        self.0.total.into()
    }

    /// Allocated from payments.
    async fn paid(&self) -> MoneyValue {
        self.0.paid.into()
    }

    /// Taken off by credit notes, VAT included.
    async fn credited(&self) -> MoneyValue {
        self.0.credited.into()
    }

    /// `total − paid − credited`.
    async fn outstanding(&self) -> MoneyValue {
        self.0.outstanding.into()
    }

    /// The day payment is due; an invoice still unsettled after it is overdue.
    async fn due_on(&self) -> Date {
        self.0.due_on.into()
    }

    /// Unsettled and past its due date today.
    async fn is_overdue(&self, ctx: &Context<'_>) -> async_graphql::Result<bool> {
        let today = ctx.trellis()?.clock.today();
        Ok(is_unsettled(&self.0) && self.0.days_overdue(today) > 0)
    }

    /// When it was issued and numbered.
    async fn issued_at(&self) -> DateTime<Utc> {
        self.0.issued_at
    }

    /// The school's purchase-order number, which its finance office needs on the invoice.
    async fn purchase_order_number(&self) -> Option<&str> {
        self.0.po_number.as_deref()
    }

    /// The payment provider's page for paying online, when the provider offers one.
    async fn hosted_invoice_url(&self) -> Option<&str> {
        self.0.hosted_url.as_deref()
    }

    /// Where to download the invoice as a PDF rendered by Trellis (send the same bearer
    /// credential): the partnership's letterhead, the account billed, lines with VAT rates
    /// and POs, the VAT summary, totals, what is due and by when, and how to pay — the bank
    /// account and the reference to quote. There with or without a payment provider.
    async fn document_url(&self) -> String {
        format!(
            "/documents/invoices/{}/invoice.pdf",
            self.0.id.to_global().as_str()
        )
    }

    /// The invoice as a PDF at the payment provider (Stripe), once mirrored there.
    async fn pdf_url(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<String>> {
        Ok(super::stripe::mirror_of(ctx, self.0.id)
            .await?
            .and_then(|m| m.pdf_url))
    }

    /// The last online payment attempt as Stripe reported it (`NONE`, `PAYMENT_FAILED`,
    /// `PAID`); null when the invoice is not at Stripe.
    async fn provider_payment_state(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<Option<String>> {
        Ok(super::stripe::mirror_of(ctx, self.0.id)
            .await?
            .map(|m| m.payment_state.to_string()))
    }

    /// Stripe's message when the last online payment failed (e.g. a declined card).
    async fn provider_payment_error(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<Option<String>> {
        Ok(super::stripe::mirror_of(ctx, self.0.id)
            .await?
            .and_then(|m| m.payment_error))
    }

    /// Why it was voided or written off.
    async fn status_reason(&self) -> Option<&str> {
        self.0.status_reason.as_deref()
    }

    /// Its lines, in the order printed.
    async fn lines(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<InvoiceLineNode>> {
        let loaders = &ctx.trellis()?.loaders;
        // A list naming each line's school reads the schools with the lines: one statement.
        if ctx.look_ahead().field("school").exists() {
            return load_list(
                loaders.invoice_lines_with_schools(),
                self.0.id,
                |(line, school)| InvoiceLineNode(line, Prefetched::Read(school)),
            )
            .await;
        }
        load_list(loaders.invoice_lines(), self.0.id, InvoiceLineNode::from).await
    }

    /// The credit notes against it, by number.
    async fn credit_notes(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<CreditNoteNode>> {
        load_list(
            ctx.trellis()?.loaders.invoice_credit_notes(),
            self.0.id,
            CreditNoteNode,
        )
        .await
    }

    /// The payments that settled it (negative amounts: money released by a credit note).
    async fn allocations(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<AllocationNode>> {
        load_list(
            ctx.trellis()?.loaders.invoice_allocations(),
            self.0.id,
            AllocationNode,
        )
        .await
    }
}

pub(super) fn is_unsettled(invoice: &Invoice) -> bool {
    matches!(
        invoice.status,
        billing::ledger::InvoiceStatus::Open | billing::ledger::InvoiceStatus::PartiallyPaid
    )
}

/// An invoice line, with its school (`None` for a line for no school) when the list that found
/// it read them in the same statement ([`billing::ledger::invoices::lines_of_invoices_with_schools`]);
/// otherwise `school` loads the school in a batch.
#[derive(Debug, Clone)]
pub struct InvoiceLineNode(pub InvoiceLine, pub Prefetched<Option<School>>);

impl From<InvoiceLine> for InvoiceLineNode {
    fn from(line: InvoiceLine) -> Self {
        Self(line, Prefetched::Unread)
    }
}

/// Result of `invoiceCreate`, `invoiceSetPurchaseOrder`, `invoiceVoid`, `invoiceMarkUncollectible`
/// or `invoiceMirror`.
#[derive(SimpleObject, Debug)]
pub struct InvoicePayload {
    /// The invoice as it now stands; null when refused.
    pub invoice: Option<InvoiceNode>,
    /// Why nothing changed, by input field: e.g. OUT_OF_RANGE (a past due date, a zero total),
    /// NOT_FOUND (account, school), CONFLICT (the invoice's status does not allow it, or an
    /// idempotency key reused with another input).
    pub user_errors: Vec<UserError>,
}

impl InvoicePayload {
    pub(super) fn from(
        result: Result<Invoice, kernel::DomainError>,
    ) -> async_graphql::Result<Self> {
        let (invoice, user_errors) = payload(result)?;
        Ok(Self {
            invoice: invoice.map(InvoiceNode::from),
            user_errors,
        })
    }
}

/// One line of an invoice.
#[Object(name = "InvoiceLine")]
impl InvoiceLineNode {
    /// What the line bills, as printed.
    async fn description(&self) -> &str {
        &self.0.description
    }

    /// How many units (e.g. places booked); at least 1.
    async fn quantity(&self) -> i32 {
        crate::graphql::int::saturating(self.0.quantity)
    }

    /// The price of one unit, before VAT.
    async fn unit_amount(&self) -> MoneyValue {
        self.0.unit_amount.into()
    }

    /// `quantity × unitAmount`, before VAT.
    async fn net(&self) -> MoneyValue {
        self.0.net.into()
    }

    /// Whether VAT is charged: education services by an eligible body are exempt.
    async fn vat_treatment(&self) -> VatTreatment {
        self.0.vat_treatment.into()
    }

    /// The VAT rate in basis points (2000 = 20%); 0 when exempt.
    async fn vat_rate_basis_points(&self) -> i32 {
        crate::graphql::int::saturating(self.0.vat_rate_bp)
    }

    /// VAT on `net` at the line's rate, rounded half up to the penny.
    async fn vat(&self) -> MoneyValue {
        self.0.vat.into()
    }

    /// The school's CFR (Consistent Financial Reporting) code for posting it.
    async fn cfr_code(&self) -> Option<&str> {
        self.0.cfr_code.as_deref()
    }

    /// The purchase-order number of this line (a termly booking invoice carries each
    /// booking's own); null when only the invoice's applies.
    async fn po_number(&self) -> Option<&str> {
        self.0.po_number.as_deref()
    }

    /// The school the line is for, when it is for one.
    async fn school(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<SchoolNode>> {
        let Some(id) = self.0.school_id else {
            return Ok(None);
        };
        if let Prefetched::Read(school) = &self.1 {
            return Ok(school.clone().map(SchoolNode::from));
        }
        Ok(ctx
            .trellis()?
            .loaders
            .schools()
            .load_one(id)
            .await?
            .map(SchoolNode::from))
    }
}

#[derive(Debug, Clone)]
pub struct CreditNoteNode(pub CreditNote);

/// A credit against an issued invoice.
#[Object(name = "CreditNote")]
impl CreditNoteNode {
    /// Global id: opaque and stable; `node(id:)` finds it again.
    pub async fn id(&self) -> ID {
        self.0.id.to_global()
    }

    /// e.g. `CN-2026-000007`.
    async fn number(&self) -> &str {
        &self.0.number
    }

    /// Where to download the credit note as a PDF rendered by Trellis (send the same bearer
    /// credential).
    async fn document_url(&self) -> String {
        format!(
            "/documents/credit-notes/{}/credit-note.pdf",
            self.0.id.to_global().as_str()
        )
    }

    /// The invoice it credits.
    async fn invoice(&self, ctx: &Context<'_>) -> async_graphql::Result<InvoiceNode> {
        ctx.trellis()?
            .loaders
            .invoices()
            .load_one(self.0.invoice_id)
            .await?
            .map(InvoiceNode::from)
            .ok_or_else(|| internal(format!("credit note {} has no invoice", self.0.id)))
    }

    /// Why it was raised, as finance wrote it (printed on the credit note).
    async fn reason(&self) -> &str {
        &self.0.reason
    }

    /// The amount credited, before VAT.
    async fn net(&self) -> MoneyValue {
        self.0.net.into()
    }

    /// The VAT credited.
    async fn vat(&self) -> MoneyValue {
        self.0.vat.into()
    }

    /// `net + vat`: what it takes off the invoice.
    async fn total(&self) -> MoneyValue {
        self.0.total.into()
    }

    /// The part that had already been paid, returned to the account as credit.
    async fn released_to_account_credit(&self) -> MoneyValue {
        self.0.released.into()
    }

    /// When it was issued and numbered.
    async fn issued_at(&self) -> DateTime<Utc> {
        self.0.issued_at
    }

    /// What it credits: one entry per invoice line it takes money off.
    async fn lines(&self) -> Vec<CreditNoteLineNode> {
        self.0
            .lines
            .iter()
            .cloned()
            .map(CreditNoteLineNode)
            .collect()
    }
}

#[derive(Debug, Clone)]
pub struct CreditNoteLineNode(pub CreditNoteLine);

/// The part of a credit note that credits one invoice line.
#[Object(name = "CreditNoteLine")]
impl CreditNoteLineNode {
    /// The credited invoice line's description.
    async fn description(&self) -> &str {
        &self.0.description
    }

    /// Credited from the line, before VAT.
    async fn net(&self) -> MoneyValue {
        self.0.net.into()
    }

    /// The VAT credited from the line.
    async fn vat(&self) -> MoneyValue {
        self.0.vat.into()
    }

    /// The credited invoice line's CFR code, for posting the credit.
    async fn cfr_code(&self) -> Option<&str> {
        self.0.cfr_code.as_deref()
    }
}

#[derive(Debug, Clone)]
pub struct PaymentNode(pub Payment);

/// Money received from an account.
#[Object(name = "Payment")]
impl PaymentNode {
    /// Global id: opaque and stable; `node(id:)` finds it again.
    pub async fn id(&self) -> ID {
        self.0.id.to_global()
    }

    /// The account the money came from.
    async fn account(&self, ctx: &Context<'_>) -> async_graphql::Result<AccountNode> {
        ctx.trellis()?
            .loaders
            .accounts()
            .load_one(self.0.account_id)
            .await?
            .map(AccountNode)
            .ok_or_else(|| internal(format!("payment {} has no account", self.0.id)))
    }

    /// How the money arrived.
    async fn method(&self) -> ReceiptMethod {
        self.0.method.into()
    }

    /// The bank reference the payer gave.
    async fn reference(&self) -> &str {
        &self.0.reference
    }

    /// The day the money arrived.
    async fn received_on(&self) -> Date {
        self.0.received_on.into()
    }

    /// The whole sum received: `allocated + refunded + unallocated`.
    async fn amount(&self) -> MoneyValue {
        self.0.amount.into()
    }

    /// Applied to invoices, less what credit notes released back to it.
    async fn allocated(&self) -> MoneyValue {
        self.0.allocated.into()
    }

    /// Returned to the payer out of it.
    async fn refunded(&self) -> MoneyValue {
        self.0.refunded.into()
    }

    /// Not yet allocated or refunded: the account's credit.
    async fn unallocated(&self) -> MoneyValue {
        self.0.unallocated.into()
    }

    /// Where its money went, oldest first; negative ones are releases by credit notes.
    async fn allocations(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<AllocationNode>> {
        load_list(
            ctx.trellis()?.loaders.payment_allocations(),
            self.0.id,
            AllocationNode,
        )
        .await
    }

    /// Money returned out of it, oldest first.
    async fn refunds(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<RefundNode>> {
        load_list(
            ctx.trellis()?.loaders.payment_refunds(),
            self.0.id,
            RefundNode,
        )
        .await
    }

    /// When it was first recorded in Trellis.
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
}

#[derive(Debug, Clone)]
pub struct AllocationNode(pub Allocation);

/// Part of a payment applied to an invoice.
#[Object(name = "Allocation")]
impl AllocationNode {
    /// The invoice it paid.
    async fn invoice(&self, ctx: &Context<'_>) -> async_graphql::Result<InvoiceNode> {
        ctx.trellis()?
            .loaders
            .invoices()
            .load_one(self.0.invoice_id)
            .await?
            .map(InvoiceNode::from)
            .ok_or_else(|| internal(format!("allocation {} has no invoice", self.0.id)))
    }

    /// The receipt the money came from.
    async fn payment(&self, ctx: &Context<'_>) -> async_graphql::Result<PaymentNode> {
        ctx.trellis()?
            .loaders
            .payments()
            .load_one(self.0.payment_id)
            .await?
            .map(PaymentNode)
            .ok_or_else(|| internal(format!("allocation {} has no payment", self.0.id)))
    }

    /// Negative when a credit note released money back to the payment.
    async fn amount(&self) -> MoneyValue {
        self.0.amount.into()
    }

    /// When it was applied.
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
}

#[derive(Debug, Clone)]
pub struct RefundNode(pub Refund);

/// Money returned to an account.
#[Object(name = "Refund")]
impl RefundNode {
    /// Global id: opaque and stable.
    pub async fn id(&self) -> ID {
        self.0.id.to_global()
    }

    /// The sum returned.
    async fn amount(&self) -> MoneyValue {
        self.0.amount.into()
    }

    /// Why it was returned, as finance wrote it.
    async fn reason(&self) -> &str {
        &self.0.reason
    }

    /// The day the money went back.
    async fn refunded_on(&self) -> Date {
        self.0.refunded_on.into()
    }

    /// When it was first recorded in Trellis.
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
}

#[derive(Debug, Clone)]
pub struct StatementNode(pub Statement);

/// An account's year in figures. The invoice side always adds up:
/// `invoiced = paid + credited + outstanding`, over the invoices dated in the period. The cash
/// side is by date, not by invoice: `received` and `refunded` are what came in and went back in
/// the period, whatever it paid, and `accountCredit` is what the account holds unallocated now.
#[Object(name = "AccountStatement")]
impl StatementNode {
    /// The academic year covered; null for a financial year's statement.
    async fn academic_year(&self) -> Option<AcademicYearScalar> {
        self.0.period.academic_year().map(Into::into)
    }

    /// The financial year covered; null for an academic year's statement.
    async fn financial_year(&self) -> Option<FinancialYearScalar> {
        self.0.period.financial_year().map(Into::into)
    }

    /// The period's invoices added up, VAT included (void ones left out).
    async fn invoiced(&self) -> MoneyValue {
        self.0.invoiced.into()
    }

    /// Allocated to those invoices from receipts, less what credit notes released.
    async fn paid(&self) -> MoneyValue {
        self.0.paid.into()
    }

    /// Credit notes against those invoices, VAT included.
    async fn credited(&self) -> MoneyValue {
        self.0.credited.into()
    }

    /// Still owed on those invoices now.
    async fn outstanding(&self) -> MoneyValue {
        self.0.outstanding.into()
    }

    /// Receipts dated in the period, whatever they paid.
    async fn received(&self) -> MoneyValue {
        self.0.received.into()
    }

    /// Refunds dated in the period.
    async fn refunded(&self) -> MoneyValue {
        self.0.refunded.into()
    }

    /// What the account holds now, received on any date and neither allocated nor refunded.
    async fn account_credit(&self) -> MoneyValue {
        self.0.account_credit.into()
    }
}

/// An account's unpaid invoices by how late they are.
#[derive(SimpleObject, Debug)]
pub struct AgedDebtRow {
    /// The account that owes.
    pub account: AccountNode,
    /// Not yet due, or under 30 days past due.
    pub current: MoneyValue,
    /// 30–59 days past due.
    pub days_30: MoneyValue,
    /// 60–89 days past due.
    pub days_60: MoneyValue,
    /// 90 days or more past due.
    pub days_90_plus: MoneyValue,
    /// Everything it owes: the four columns added up.
    pub total: MoneyValue,
}

#[derive(Debug, Clone)]
pub struct InvoicingRunNode(pub InvoicingRun);

/// The invoicing of one academic year's memberships.
#[Object(name = "InvoicingRun")]
impl InvoicingRunNode {
    /// Global id: opaque and stable.
    pub async fn id(&self) -> ID {
        self.0.id.to_global()
    }

    /// The year it invoices, e.g. `2026/27`.
    async fn academic_year(&self) -> AcademicYearScalar {
        self.0.year.into()
    }

    /// Whether it finished.
    async fn status(&self) -> InvoicingRunStatus {
        self.0.status.into()
    }

    /// When it was first started.
    async fn started_at(&self) -> DateTime<Utc> {
        self.0.started_at
    }

    /// When it finished; null while IN_PROGRESS.
    async fn completed_at(&self) -> Option<DateTime<Utc>> {
        self.0.completed_at
    }

    /// Invoices it issued (instalments scheduled for later are not counted).
    async fn invoices_created(&self) -> i32 {
        crate::graphql::int::saturating(self.0.invoices_created)
    }

    /// Invoices an interrupted attempt had already issued, left as they were.
    async fn invoices_existing(&self) -> i32 {
        crate::graphql::int::saturating(self.0.invoices_existing)
    }

    /// The invoices it issued or found, added up with VAT; scheduled instalments are not counted.
    async fn total(&self) -> MoneyValue {
        self.0.total.into()
    }

    /// Things finance should know that did not stop the run.
    async fn notes(&self) -> Vec<String> {
        self.0.notes.iter().map(|n| n.message.clone()).collect()
    }
    /// The drafts of a run prepared for review (`invoicingRunPrepare`), in review order; once
    /// the run is COMPLETED, the record of what was issued from them (no longer changeable).
    /// Empty for a run made directly. Finance and admins. `first`/`last` take 1–100.
    #[graphql(complexity = "crate::graphql::relay::page_cost(first, last, child_complexity)")]
    async fn drafts(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "At most this many items from the start of the list: 1–100, default 20.")]
        first: Option<i32>,
        #[graphql(desc = "Start after this cursor: the `pageInfo.endCursor` of the page before.")]
        after: Option<String>,
        #[graphql(
            desc = "At most this many items from the end of the list, 1–100; use instead of `first`."
        )]
        last: Option<i32>,
        #[graphql(desc = "End before this cursor: the `pageInfo.startCursor` of the page after.")]
        before: Option<String>,
    ) -> async_graphql::Result<
        async_graphql::connection::Connection<
            String,
            super::drafts::InvoiceDraftNode,
            crate::graphql::relay::NoEdgeFields,
            crate::graphql::relay::NoEdgeFields,
        >,
    > {
        super::drafts::drafts_page(ctx, self.0.year, (first, after, last, before)).await
    }

    /// What the run's drafts add up to (all zero for a run made directly). Finance and admins.
    async fn draft_totals(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<super::drafts::InvoiceDraftTotalsNode> {
        super::drafts::totals(ctx, self.0.year).await
    }

    /// The later instalments the run planned, issued on the first day of their terms, by
    /// issue date.
    async fn scheduled_instalments(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<Vec<ScheduledInstalmentNode>> {
        let rc = ctx.trellis()?;
        Ok(
            billing::run::scheduled_instalments(&rc.db, &rc.actor, self.0.year)
                .await
                .map_err(crate::graphql::errors::to_graphql)?
                .into_iter()
                .map(ScheduledInstalmentNode)
                .collect(),
        )
    }
}

/// Where a scheduled instalment is.
#[derive(async_graphql::Enum, Debug, Clone, Copy, PartialEq, Eq)]
#[graphql(remote = "billing::run::ScheduleStatus")]
pub enum ScheduledInstalmentStatus {
    /// Waiting for the first day of its term.
    Pending,
    /// Issued on its day: see `invoice`.
    Issued,
    /// Every membership it billed ended before its term: nothing was issued.
    Cancelled,
}

#[derive(Debug, Clone)]
pub struct ScheduledInstalmentNode(pub billing::run::ScheduledInstalment);

/// A termly instalment invoice the run planned for the first day of its term.
#[Object(name = "ScheduledInstalment")]
impl ScheduledInstalmentNode {
    /// The account it was planned for (a school moved since is invoiced to its new payer).
    async fn account(&self, ctx: &Context<'_>) -> async_graphql::Result<AccountNode> {
        AccountNode::load(ctx, self.0.account_id).await
    }

    /// Which term's instalment it is.
    async fn instalment(&self) -> Instalment {
        self.0.instalment.into()
    }

    /// The first day of its term.
    async fn issue_on(&self) -> Date {
        Date(self.0.issue_on)
    }

    /// When payment will be due; issued late, the invoice still gets its full payment terms from
    /// the issue day.
    async fn due_on(&self) -> Date {
        Date(self.0.due_on)
    }

    /// Net of VAT, as the run priced it.
    async fn net(&self) -> MoneyValue {
        self.0.net().into()
    }

    /// Whether it is waiting, issued or cancelled.
    async fn status(&self) -> ScheduledInstalmentStatus {
        self.0.status.into()
    }

    /// The invoice issued to the account, once issued.
    async fn invoice(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<InvoiceNode>> {
        let Some(id) = self.0.invoice_id else {
            return Ok(None);
        };
        Ok(ctx
            .trellis()?
            .loaders
            .invoices()
            .load_one(id)
            .await?
            .map(InvoiceNode::from))
    }

    /// What issuing changed from the plan (lines moved to a new payer, memberships ended).
    async fn note(&self) -> Option<&str> {
        self.0.note.as_deref()
    }
}

/// The report period a caller chose: exactly one of an academic and a financial year.
pub(super) fn period_of(
    academic_year: Option<AcademicYearScalar>,
    financial_year: Option<FinancialYearScalar>,
) -> async_graphql::Result<billing::ledger::Period> {
    match (academic_year, financial_year) {
        (Some(year), None) => Ok(year.0.into()),
        (None, Some(year)) => Ok(year.0.into()),
        _ => Err(crate::graphql::errors::coded(
            "give exactly one of academicYear and financialYear",
            crate::graphql::errors::Code::BadUserInput,
        )),
    }
}

/// Today's date for a request, from the request's clock.
pub(super) fn today(ctx: &Context<'_>) -> async_graphql::Result<NaiveDate> {
    Ok(ctx.trellis()?.clock.today())
}
