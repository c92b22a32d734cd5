//! Reading accounts, invoices, payments and finance reports.
//!
//! A school leader sees only the account paying for their school (and what is billed to it);
//! partnership finance and admins, and `billing:read` keys, see every account.

use async_graphql::connection::Connection;
use async_graphql::{Context, ID, InputObject, Object};
use billing::ledger::{
    self, DateKey, InvoiceFilter, PaymentFilter, accounts, export, invoices, payments,
};
use billing::run;
use kernel::{BillingAccountId, Permission, SchoolId};
use membership::NameKey;

use super::enums::{InvoiceStatus, LedgerExportLayout};
use super::types::{
    AccountNode, AgedDebtRow, InvoiceNode, InvoicingRunNode, PaymentNode, StatementNode, today,
};
use crate::graphql::context::ContextExt;
use crate::graphql::errors::to_graphql;
use crate::graphql::loaders::Prefetched;
use crate::graphql::relay::{NoEdgeFields, connection, expect_arg, page_args};
use crate::graphql::scalars::{AcademicYearScalar, Date, FinancialYearScalar};

/// Narrows `invoices`.
#[derive(InputObject, Debug, Default)]
pub struct InvoiceFilterInput {
    /// A `BillingAccount` id.
    pub account_id: Option<ID>,
    /// Invoices with a line for this school.
    pub school_id: Option<ID>,
    /// Any of these statuses.
    pub statuses: Option<Vec<InvoiceStatus>>,
    /// Invoices belonging to this academic year, e.g. `2026/27`.
    pub academic_year: Option<AcademicYearScalar>,
    /// Only unsettled invoices past their due date today.
    #[graphql(default)]
    pub overdue: bool,
}

/// Narrows `payments`.
#[derive(InputObject, Debug, Default)]
pub struct PaymentFilterInput {
    /// Receipts from this account: a `BillingAccount` id.
    pub account_id: Option<ID>,
    /// Only receipts with money not yet allocated or refunded.
    #[graphql(default)]
    pub unallocated_only: bool,
}

#[derive(Default, Debug)]
pub struct LedgerQuery;

#[Object]
impl LedgerQuery {
    /// Billing accounts by name. `first`/`last` take 1–100.
    #[graphql(complexity = "crate::graphql::relay::page_cost(first, last, child_complexity)")]
    async fn billing_accounts(
        &self,
        ctx: &Context<'_>,
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
    ) -> async_graphql::Result<Connection<String, AccountNode, NoEdgeFields, NoEdgeFields>> {
        let args = page_args::<NameKey>(first, after.as_deref(), last, before.as_deref())?;
        let rc = ctx.trellis()?;
        let page = accounts::list(&rc.db, &rc.actor, &args)
            .await
            .map_err(to_graphql)?;
        Ok(connection(page, NoEdgeFields, |a| {
            (a.sort_key(), AccountNode(a), NoEdgeFields)
        }))
    }

    /// Invoices by number. `first`/`last` take 1–100.
    #[allow(clippy::too_many_arguments)]
    #[graphql(complexity = "crate::graphql::relay::page_cost(first, last, child_complexity)")]
    async fn invoices(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Narrows the list; omit it for everything you may see.")] filter: Option<
            InvoiceFilterInput,
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
    ) -> async_graphql::Result<Connection<String, InvoiceNode, NoEdgeFields, NoEdgeFields>> {
        let args = page_args::<NameKey>(first, after.as_deref(), last, before.as_deref())?;
        let rc = ctx.trellis()?;
        let f = filter.unwrap_or_default();
        let filter = InvoiceFilter {
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
            status: f
                .statuses
                .unwrap_or_default()
                .into_iter()
                .map(Into::into)
                .collect(),
            year: f.academic_year.map(|y| y.0),
            overdue_on: if f.overdue { Some(today(ctx)?) } else { None },
        };
        // A list showing each invoice's account reads the accounts with the page: one
        // statement, not a page and then a batch.
        let look = ctx.look_ahead();
        let page = if look.field("edges").field("node").field("account").exists()
            || look.field("nodes").field("account").exists()
        {
            invoices::invoices_with_accounts(&rc.db, &rc.actor, &filter, &args)
                .await
                .map_err(to_graphql)?
                .map(|(invoice, account)| InvoiceNode(invoice, Prefetched::Read(account)))
        } else {
            invoices::invoices(&rc.db, &rc.actor, &filter, &args)
                .await
                .map_err(to_graphql)?
                .map(InvoiceNode::from)
        };
        Ok(connection(page, NoEdgeFields, |i| {
            (i.0.sort_key(), i, NoEdgeFields)
        }))
    }

    /// Receipts by the day they arrived, oldest first. `first`/`last` take 1–100.
    #[graphql(complexity = "crate::graphql::relay::page_cost(first, last, child_complexity)")]
    async fn payments(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Narrows the list; omit it for everything you may see.")] filter: Option<
            PaymentFilterInput,
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
    ) -> async_graphql::Result<Connection<String, PaymentNode, NoEdgeFields, NoEdgeFields>> {
        let args = page_args::<DateKey>(first, after.as_deref(), last, before.as_deref())?;
        let rc = ctx.trellis()?;
        let f = filter.unwrap_or_default();
        let filter = PaymentFilter {
            account_id: f
                .account_id
                .as_ref()
                .map(expect_arg::<BillingAccountId>)
                .transpose()?,
            unallocated_only: f.unallocated_only,
        };
        let page = payments::payments(&rc.db, &rc.actor, &filter, &args)
            .await
            .map_err(to_graphql)?;
        Ok(connection(page, NoEdgeFields, |p| {
            (p.sort_key(), PaymentNode(p), NoEdgeFields)
        }))
    }

    /// Unpaid invoices per account by age (current, 30, 60, 90+ days past due) on `asOf`
    /// (default today).
    async fn aged_debt(
        &self,
        ctx: &Context<'_>,
        #[graphql(
            desc = "The day to age on; defaults to today. Invoices issued after it are left out."
        )]
        as_of: Option<Date>,
    ) -> async_graphql::Result<Vec<AgedDebtRow>> {
        let rc = ctx.trellis()?;
        let as_of = match as_of {
            Some(d) => d.0,
            None => today(ctx)?,
        };
        let rows = ledger::aged_debt(&rc.db, &rc.actor, as_of)
            .await
            .map_err(to_graphql)?;
        Ok(rows
            .into_iter()
            .map(|r| AgedDebtRow {
                account: AccountNode(r.account),
                current: r.current.into(),
                days_30: r.d30.into(),
                days_60: r.d60.into(),
                days_90_plus: r.d90_plus.into(),
                total: r.total.into(),
            })
            .collect())
    }

    /// Receipts with money not yet allocated to an invoice or refunded.
    async fn unallocated_receipts(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<Vec<PaymentNode>> {
        let rc = ctx.trellis()?;
        Ok(ledger::unallocated_receipts(&rc.db, &rc.actor)
            .await
            .map_err(to_graphql)?
            .into_iter()
            .map(PaymentNode)
            .collect())
    }

    /// An account's academic or financial year: invoiced, paid, credited, outstanding,
    /// refunds and credit. Give exactly one of the years.
    async fn account_statement(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The account: a `BillingAccount` id.")] account_id: ID,
        #[graphql(desc = "An academic year: the invoices billing it.")] academic_year: Option<
            AcademicYearScalar,
        >,
        #[graphql(desc = "A financial year: the invoices issued from 1 April to 31 March.")]
        financial_year: Option<FinancialYearScalar>,
    ) -> async_graphql::Result<StatementNode> {
        let rc = ctx.trellis()?;
        let id: BillingAccountId = expect_arg(&account_id)?;
        let period = super::types::period_of(academic_year, financial_year)?;
        ledger::account_statement(&rc.db, &rc.actor, id, period)
            .await
            .map(StatementNode)
            .map_err(to_graphql)
    }

    /// Invoices, payments and credit notes of an academic year (those billing it) or a
    /// financial year (those issued from 1 April to 31 March) as CSV: Trellis' ledger columns
    /// (with due dates, VAT rates, POs, URNs, account codes and receipt allocations), or ready
    /// to import into Xero or Sage 50. Give exactly one of the years. Finance and admins.
    /// Costs as much as 1,000 fields of the complexity limit: it reads the whole year. A year
    /// larger than the response limit (a national partnership's) is `RESPONSE_TOO_LARGE`
    /// here: download it from `GET /exports/ledger.csv?academicYear=2026/27` (or
    /// `financialYear=`, and `layout=XERO|SAGE50`) with the same bearer token.
    #[graphql(complexity = 1000)]
    async fn ledger_export(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "An academic year: the documents billing it.")] academic_year: Option<
            AcademicYearScalar,
        >,
        #[graphql(desc = "A financial year: the documents issued from 1 April to 31 March.")]
        financial_year: Option<FinancialYearScalar>,
        #[graphql(
            default,
            desc = "The columns: LEDGER (Trellis' own, the default), XERO or SAGE50."
        )]
        layout: LedgerExportLayout,
    ) -> async_graphql::Result<String> {
        let rc = ctx.trellis()?;
        rc.actor
            .require(Permission::ManageBilling)
            .map_err(to_graphql)?;
        let period = super::types::period_of(academic_year, financial_year)?;
        export::export_csv(&rc.db, &rc.actor, period, layout.into())
            .await
            .map_err(to_graphql)
    }

    /// Every membership invoicing run, newest year first. Finance and admins.
    async fn invoicing_runs(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<Vec<InvoicingRunNode>> {
        let rc = ctx.trellis()?;
        Ok(run::list(&rc.db, &rc.actor)
            .await
            .map_err(to_graphql)?
            .into_iter()
            .map(InvoicingRunNode)
            .collect())
    }
}
