//! Bookings billed on the school's consolidated termly invoice: the pending charges (the
//! draft of next term's invoice) and finance's issuing of a term's invoices.
//!
//! Charges are added and cancelled by the traded-services domain through
//! `billing::charges`, never directly through the API: a charge exists exactly when its
//! booking does. Visibility follows the account, as for invoices: a school leader sees the
//! pending charges of the account paying for their school.

use async_graphql::connection::Connection;
use async_graphql::{Context, ID, InputObject, Object, SimpleObject};
use billing::charges::{self, AccountPreview, Charge, ChargeFilter, TermInvoicing};
use billing::ledger::DateKey;
use chrono::{DateTime, Utc};
use kernel::{BillingAccountId, DomainError, SchoolId};

use super::fees::VatTreatment;
use super::types::{AccountNode, InvoiceNode};
use crate::graphql::context::ContextExt;
use crate::graphql::directory::types::SchoolNode;
use crate::graphql::errors::{UserError, internal, payload, to_graphql};
use crate::graphql::offer::enums::Term;
use crate::graphql::relay::{GlobalId, NoEdgeFields, connection, expect_arg, page_args};
use crate::graphql::scalars::{AcademicYearScalar, Date, MoneyValue};

/// Where a booking's charge is on its way to an invoice.
#[derive(async_graphql::Enum, Debug, Clone, Copy, PartialEq, Eq)]
#[graphql(remote = "charges::ChargeStatus")]
pub enum ChargeStatus {
    /// Waiting for its term's invoice (possibly reduced to a cancellation fee).
    Pending,
    /// A line of an issued invoice.
    Invoiced,
    /// Cancelled before invoicing without a fee: never invoiced.
    Withdrawn,
}

#[derive(Debug, Clone)]
pub struct ChargeNode(pub Charge);

/// A traded-services booking billed on its school's termly invoice.
#[Object(name = "Charge")]
impl ChargeNode {
    /// Global id: opaque and stable; `node(id:)` finds it again.
    pub async fn id(&self) -> ID {
        self.0.id.to_global()
    }

    /// The account whose termly invoice bills it.
    async fn account(&self, ctx: &Context<'_>) -> async_graphql::Result<AccountNode> {
        ctx.trellis()?
            .loaders
            .accounts()
            .load_one(self.0.account_id)
            .await?
            .map(AccountNode)
            .ok_or_else(|| internal(format!("charge {} has no account", self.0.id)))
    }

    /// The school that made the booking.
    async fn school(&self, ctx: &Context<'_>) -> async_graphql::Result<SchoolNode> {
        ctx.trellis()?
            .loaders
            .schools()
            .load_one(self.0.school_id)
            .await?
            .map(SchoolNode::from)
            .ok_or_else(|| internal(format!("charge {} has no school", self.0.id)))
    }

    /// The traded-services booking it bills (the booking's UUID).
    async fn booking_reference(&self) -> String {
        self.0.booking_id.to_string()
    }

    /// The academic year of the booked session, e.g. `2026/27`.
    async fn academic_year(&self) -> AcademicYearScalar {
        self.0.academic_year.into()
    }

    /// The term whose invoice bills it.
    async fn term(&self) -> Term {
        self.0.term.into()
    }

    /// The day of the booked session: it picks the term.
    async fn occurred_on(&self) -> Date {
        self.0.occurred_on.into()
    }

    /// The text its invoice line carries; prefixed "Cancellation fee: " once the booking was
    /// cancelled with a fee.
    async fn description(&self) -> &str {
        &self.0.description
    }

    /// Places booked; 1 once reduced to a cancellation fee.
    async fn quantity(&self) -> i32 {
        crate::graphql::int::saturating(self.0.quantity)
    }

    /// Net of VAT.
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

    /// VAT on `net` at its rate, rounded half up to the penny as invoice lines are.
    async fn vat(&self) -> MoneyValue {
        self.0.vat.into()
    }

    /// `net + vat`: what the invoice bills for it.
    async fn total(&self) -> MoneyValue {
        self.0.total.into()
    }

    /// The CFR (Consistent Financial Reporting) code its invoice line carries.
    async fn cfr_code(&self) -> Option<&str> {
        self.0.cfr_code.as_deref()
    }

    /// The school's purchase-order number for this booking; it goes on the invoice line.
    async fn po_number(&self) -> Option<&str> {
        self.0.po_number.as_deref()
    }

    /// Whether it is still pending, invoiced, or withdrawn.
    async fn status(&self) -> ChargeStatus {
        self.0.status.into()
    }

    /// The invoice that bills it, once invoiced.
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

    /// When its booking was cancelled; null while it stands.
    async fn cancelled_at(&self) -> Option<DateTime<Utc>> {
        self.0.cancellation.as_ref().map(|c| c.at)
    }

    /// What the cancellation kept (net of VAT).
    async fn cancellation_fee(&self) -> Option<MoneyValue> {
        self.0.cancellation.as_ref().map(|c| c.fee.into())
    }

    /// When the booking raised it.
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }

    /// When it last changed.
    async fn updated_at(&self) -> DateTime<Utc> {
        self.0.updated_at
    }
}

#[derive(Debug, Clone)]
pub struct TermInvoiceDraftNode(pub AccountPreview);

/// The pending charges of one account for a term: the draft of its next termly invoice.
#[Object(name = "TermInvoiceDraft")]
impl TermInvoiceDraftNode {
    /// The account the invoice would bill.
    async fn account(&self, ctx: &Context<'_>) -> async_graphql::Result<AccountNode> {
        ctx.trellis()?
            .loaders
            .accounts()
            .load_one(self.0.account_id)
            .await?
            .map(AccountNode)
            .ok_or_else(|| internal(format!("no account {}", self.0.account_id)))
    }

    /// The lines-to-be, by day of booking.
    async fn charges(&self) -> Vec<ChargeNode> {
        self.0.charges.iter().cloned().map(ChargeNode).collect()
    }

    /// Its charges' net amounts added up, before VAT.
    async fn net(&self) -> MoneyValue {
        self.0.net.into()
    }

    /// Its charges' VAT added up.
    async fn vat(&self) -> MoneyValue {
        self.0.vat.into()
    }

    /// `net + vat`: what the account would be invoiced (over several invoices past 200 lines).
    async fn total(&self) -> MoneyValue {
        self.0.total.into()
    }
}

/// Narrows `pendingCharges`.
#[derive(InputObject, Debug, Default)]
pub struct PendingChargeFilterInput {
    /// A `BillingAccount` id.
    pub account_id: Option<ID>,
    /// A `School` id.
    pub school_id: Option<ID>,
    /// Charges for sessions in this academic year, e.g. `2026/27`.
    pub academic_year: Option<AcademicYearScalar>,
    /// Charges for sessions in this term; give `academicYear` too for one term of one year.
    pub term: Option<Term>,
}

#[derive(Default, Debug)]
pub struct ChargesQuery;

#[Object]
impl ChargesQuery {
    /// Bookings waiting for their school's termly invoice, by day of booking. A school leader
    /// sees their own account's. `first`/`last` take 1–100.
    #[allow(clippy::too_many_arguments)]
    #[graphql(complexity = "crate::graphql::relay::page_cost(first, last, child_complexity)")]
    async fn pending_charges(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Narrows the list; omit it for everything you may see.")] filter: Option<
            PendingChargeFilterInput,
        >,
        #[graphql(
            desc = "Page size from the start of the list: 1–100 (20 when neither `first` nor `last` is given)."
        )]
        first: Option<i32>,
        #[graphql(
            desc = "An opaque cursor, the previous page's `pageInfo.endCursor`: the page starts after it."
        )]
        after: Option<String>,
        #[graphql(desc = "Page size from the end of the list: 1–100; not together with `first`.")]
        last: Option<i32>,
        #[graphql(
            desc = "An opaque cursor, the next page's `pageInfo.startCursor`: the page ends before it."
        )]
        before: Option<String>,
    ) -> async_graphql::Result<Connection<String, ChargeNode, NoEdgeFields, NoEdgeFields>> {
        let args = page_args::<DateKey>(first, after.as_deref(), last, before.as_deref())?;
        let rc = ctx.trellis()?;
        let f = filter.unwrap_or_default();
        let filter = ChargeFilter {
            account_id: f
                .account_id
                .as_ref()
                .map(expect_arg::<BillingAccountId>)
                .transpose()?,
            school_id: f
                .school_id
                .as_ref()
                .map(expect_arg::<SchoolId>)
                .transpose()?,
            year: f.academic_year.map(|y| y.0),
            term: f.term.map(Into::into),
        };
        let page = charges::pending_charges(&rc.db, &rc.actor, &filter, &args)
            .await
            .map_err(to_graphql)?;
        Ok(connection(page, NoEdgeFields, |c| {
            (c.sort_key(), ChargeNode(c), NoEdgeFields)
        }))
    }

    /// The draft of a term's booking invoices: its pending charges grouped per account, as
    /// `termInvoicesIssue` would bill them now. Finance and admins.
    async fn term_invoice_preview(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The academic year of the term, e.g. `2026/27`.")]
        academic_year: AcademicYearScalar,
        #[graphql(desc = "The term whose pending charges to group.")] term: Term,
    ) -> async_graphql::Result<Vec<TermInvoiceDraftNode>> {
        let rc = ctx.trellis()?;
        Ok(
            charges::term_preview(&rc.db, &rc.actor, academic_year.0, term.into())
                .await
                .map_err(to_graphql)?
                .into_iter()
                .map(TermInvoiceDraftNode)
                .collect(),
        )
    }
}

/// Input to `termInvoicesIssue`.
#[derive(InputObject, Debug)]
pub struct TermInvoicesIssueInput {
    /// The academic year of the term, e.g. `2026/27`.
    pub academic_year: AcademicYearScalar,
    /// The term to invoice. It must have ended (its last day passed), else CONFLICT on `term`.
    pub term: Term,
}

/// What issuing a term's booking invoices did.
#[derive(SimpleObject, Debug)]
pub struct TermInvoicesIssuePayload {
    /// The invoices this call issued: one per account with pending charges (none when an
    /// earlier call issued everything).
    pub invoices: Vec<InvoiceNode>,
    /// How many pending charges those invoices bill, one line each.
    pub charges_invoiced: i32,
    /// Their total, VAT included.
    pub total: Option<MoneyValue>,
    /// Why nothing was issued: CONFLICT on `term` while the term has not ended. Empty on success.
    pub user_errors: Vec<UserError>,
}

impl TermInvoicesIssuePayload {
    fn from(result: Result<TermInvoicing, DomainError>) -> async_graphql::Result<Self> {
        let (done, user_errors) = payload(result)?;
        Ok(match done {
            Some(done) => Self {
                charges_invoiced: crate::graphql::int::saturating(done.charges_invoiced),
                total: Some(done.total.into()),
                invoices: done.invoices.into_iter().map(InvoiceNode::from).collect(),
                user_errors,
            },
            None => Self {
                invoices: Vec::new(),
                charges_invoiced: 0,
                total: None,
                user_errors,
            },
        })
    }
}

#[derive(Default, Debug)]
pub struct ChargesMutation;

#[Object]
impl ChargesMutation {
    /// Issue a finished term's booking invoices: one per billing account, every pending
    /// booking a line with its PO number. Safe to repeat: a rerun bills only what is still
    /// pending. Finance and admins.
    async fn term_invoices_issue(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Which term's booking invoices to issue.")] input: TermInvoicesIssueInput,
    ) -> async_graphql::Result<TermInvoicesIssuePayload> {
        let rc = ctx.trellis()?;
        let year = input.academic_year.0;
        let result = charges::issue_term_invoices(
            &rc.db,
            &rc.actor,
            rc.clock.as_ref(),
            year,
            input.term.into(),
        )
        .await;
        if result.as_ref().is_ok_and(|done| !done.invoices.is_empty()) {
            super::stripe::follow(ctx, rc, super::stripe::Change::Year(year)).await;
        }
        TermInvoicesIssuePayload::from(result)
    }
}

/// `BillingAccount.pendingCharges`: the account is visible, so its charges are.
pub(super) async fn pending_of_account(
    ctx: &Context<'_>,
    account: BillingAccountId,
) -> async_graphql::Result<Vec<ChargeNode>> {
    Ok(ctx
        .trellis()?
        .loaders
        .account_pending_charges()
        .load_one(account)
        .await?
        .unwrap_or_default()
        .into_iter()
        .map(ChargeNode)
        .collect())
}
