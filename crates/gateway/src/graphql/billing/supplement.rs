//! The supplementary invoicing run (`billing::run::supplement`): after the year's run,
//! invoice the memberships it did not bill — late joiners, pro-rata, and schools left out for
//! want of a census roll — previewed first as drafts. Finance and admins.

use async_graphql::{Context, InputObject, Object, SimpleObject};
use billing::run::{self, PlannedInvoice, Supplement, SupplementPlan};
use kernel::DomainError;

use super::enums::Instalment;
use super::types::AccountNode;
use crate::graphql::context::ContextExt;
use crate::graphql::directory::types::SchoolNode;
use crate::graphql::errors::{UserError, internal, payload, to_graphql};
use crate::graphql::scalars::{AcademicYearScalar, Date, MoneyValue};

#[derive(Debug, Clone)]
pub struct SupplementDraftNode(PlannedInvoice);

/// One invoice the supplementary run would issue: one membership's share of one instalment.
#[Object(name = "SupplementaryInvoiceDraft")]
impl SupplementDraftNode {
    /// The account paying for the school today: the one invoiced.
    async fn account(&self, ctx: &Context<'_>) -> async_graphql::Result<AccountNode> {
        AccountNode::load(ctx, self.0.invoice.account_id).await
    }

    /// The school whose membership it bills.
    async fn school(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<SchoolNode>> {
        let Some(id) = self.0.invoice.lines.first().and_then(|l| l.school_id) else {
            return Ok(None);
        };
        Ok(ctx
            .trellis()?
            .loaders
            .schools()
            .load_one(id)
            .await?
            .map(SchoolNode::from))
    }

    /// The instalment it bills (the invoice itself is issued with instalment NONE, since the
    /// account may already hold the year's run invoice for it).
    async fn instalment(&self) -> Instalment {
        self.0.invoice.instalment.into()
    }

    /// The day the invoice would be due.
    async fn due_on(&self) -> Date {
        Date(self.0.invoice.due_on)
    }

    /// What the line will say.
    async fn description(&self) -> String {
        self.0
            .invoice
            .lines
            .iter()
            .map(|l| l.description.as_str())
            .collect::<Vec<_>>()
            .join("; ")
    }

    /// Net of VAT; VAT is added per line at the schedule's rate when issued.
    async fn net(&self) -> async_graphql::Result<MoneyValue> {
        let pence = self.0.invoice.lines.iter().try_fold(0_i64, |sum, l| {
            l.unit_amount
                .pence()
                .checked_mul(i64::from(l.quantity))
                .and_then(|n| sum.checked_add(n))
        });
        pence
            .map(|p| MoneyValue(kernel::Money::from_pence(p)))
            .ok_or_else(|| internal("draft net overflows"))
    }

    /// The VAT rate in basis points (2000 = 20%); 0 when exempt.
    async fn vat_rate_bp(&self) -> i32 {
        self.0
            .invoice
            .lines
            .first()
            .map_or(0, |l| i32::try_from(l.vat_rate_bp).unwrap_or(i32::MAX))
    }
}

#[derive(Debug, Clone)]
pub struct SupplementPlanNode(SupplementPlan);

/// What the supplementary run would issue now, and what finance should know.
#[Object(name = "InvoicingSupplementPreview")]
impl SupplementPlanNode {
    /// The invoices the supplementary run would issue now, as drafts.
    async fn invoices(&self) -> Vec<SupplementDraftNode> {
        self.0
            .invoices
            .iter()
            .cloned()
            .map(SupplementDraftNode)
            .collect()
    }

    /// Memberships still left out (no roll yet) and memberships priced differently now from
    /// what they were invoiced (to credit or invoice by hand).
    async fn notes(&self) -> Vec<String> {
        self.0.notes.iter().map(|n| n.message.clone()).collect()
    }
}

#[derive(Debug, Clone)]
pub struct SupplementNode(Supplement);

/// What a supplementary run did.
#[Object(name = "InvoicingSupplement")]
impl SupplementNode {
    /// The academic year it belongs to, e.g. `2026/27`.
    async fn academic_year(&self) -> AcademicYearScalar {
        self.0.year.into()
    }

    /// How many invoices this run issued.
    async fn invoices_created(&self) -> i32 {
        i32::try_from(self.0.invoices_created).unwrap_or(i32::MAX)
    }

    /// Invoices another run at the same moment had already issued.
    async fn invoices_existing(&self) -> i32 {
        i32::try_from(self.0.invoices_existing).unwrap_or(i32::MAX)
    }

    /// The total of the invoices created.
    async fn total(&self) -> MoneyValue {
        self.0.total.into()
    }

    /// Instalments of terms not yet begun, kept for their day (see
    /// `InvoicingRun.scheduledInstalments`).
    async fn instalments_scheduled(&self) -> i32 {
        i32::try_from(self.0.instalments_scheduled).unwrap_or(i32::MAX)
    }

    /// As the preview's notes.
    async fn notes(&self) -> Vec<String> {
        self.0.notes.iter().map(|n| n.message.clone()).collect()
    }
}

#[derive(Default, Debug)]
pub struct SupplementQuery;

#[Object]
impl SupplementQuery {
    /// The drafts of the supplementary invoicing run of a year whose run has completed: what
    /// `invoicingSupplementRun` would issue now. Writes nothing. Finance and admins.
    async fn invoicing_supplement_preview(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The academic year, written as schools write it, e.g. `2026/27`.")]
        academic_year: AcademicYearScalar,
    ) -> async_graphql::Result<SupplementPlanNode> {
        let rc = ctx.trellis()?;
        run::supplement_preview(&rc.db, &rc.actor, rc.clock.as_ref(), academic_year.0)
            .await
            .map(SupplementPlanNode)
            .map_err(to_graphql)
    }
}

/// Input to `invoicingSupplementRun`.
#[derive(InputObject, Debug)]
pub struct InvoicingSupplementRunInput {
    /// A year whose invoicing run has completed.
    pub academic_year: AcademicYearScalar,
}

/// What `invoicingSupplementRun` did: the changed record, or `userErrors` saying why nothing
/// changed.
#[derive(SimpleObject, Debug)]
pub struct InvoicingSupplementPayload {
    /// The supplement as the mutation left it; null when `userErrors` says why nothing changed.
    pub supplement: Option<SupplementNode>,
    /// CONFLICT on `academicYear` before the year's run has completed; CONFLICT per
    /// membership without a fee schedule or a paying account.
    pub user_errors: Vec<UserError>,
}

impl InvoicingSupplementPayload {
    fn from(result: Result<Supplement, DomainError>) -> async_graphql::Result<Self> {
        let (done, user_errors) = payload(result)?;
        Ok(Self {
            supplement: done.map(SupplementNode),
            user_errors,
        })
    }
}

#[derive(Default, Debug)]
pub struct SupplementMutation;

#[Object]
impl SupplementMutation {
    /// Invoice the year's active memberships that no invoice bills yet: schools that joined
    /// or were activated after the run (pro-rata, as their schedule says) and schools the run
    /// left out for want of a census roll. One invoice per membership and instalment, each
    /// issued once however often this is called. Finance and admins.
    async fn invoicing_supplement_run(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "What to change; the rules for each field are on the input type.")] input: InvoicingSupplementRunInput,
    ) -> async_graphql::Result<InvoicingSupplementPayload> {
        let rc = ctx.trellis()?;
        let result =
            run::supplement(&rc.db, &rc.actor, rc.clock.as_ref(), input.academic_year.0).await;
        if result.is_ok() {
            super::stripe::follow(ctx, rc, super::stripe::Change::Year(input.academic_year.0))
                .await;
        }
        InvoicingSupplementPayload::from(result)
    }
}
