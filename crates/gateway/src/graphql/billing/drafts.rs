//! Draft invoicing runs (`billing::run::drafts`): finance prepares the year's membership
//! invoices as drafts, reviews them (`InvoicingRun.drafts`), leaves schools out, adds
//! purchase-order numbers and discounts, then issues them — numbers are taken only then.
//! Finance and admins only.

use async_graphql::connection::Connection;
use async_graphql::{Context, ID, InputObject, Object, SimpleObject};
use billing::run::InvoicingRun;
use billing::run::drafts::{self, DiscountInput, DraftLine, DraftTotals, InvoiceDraft};
use kernel::{AcademicYear, DomainError, InvoiceDraftId, Money, SchoolId};

use super::enums::Instalment;
use super::mutation::InvoicingRunPayload;
use super::types::AccountNode;
use crate::graphql::context::ContextExt;
use crate::graphql::directory::types::SchoolNode;
use crate::graphql::errors::{UserError, payload, to_graphql};
use crate::graphql::relay::{GlobalId, NoEdgeFields, connection, expect_input, page_args};
use crate::graphql::scalars::{AcademicYearScalar, Date, MoneyValue};

#[derive(Debug, Clone)]
pub struct InvoiceDraftNode(pub InvoiceDraft);

/// A membership invoice the year's run prepared and has not issued: it has no number yet,
/// and finance may still change it.
#[Object(name = "InvoiceDraft")]
impl InvoiceDraftNode {
    /// Global id: opaque and stable.
    async fn id(&self) -> ID {
        self.0.id.to_global()
    }

    /// The year it bills, e.g. `2026/27`.
    async fn academic_year(&self) -> AcademicYearScalar {
        self.0.year.into()
    }

    /// The account it will be issued to.
    async fn account(&self, ctx: &Context<'_>) -> async_graphql::Result<AccountNode> {
        AccountNode::load(ctx, self.0.account_id).await
    }

    /// The instalment it bills; later terms' are issued on the first day of their term.
    async fn instalment(&self) -> Instalment {
        self.0.instalment.into()
    }

    /// The day it would be due if issued today: its payment terms run from the day it is
    /// issued.
    async fn due_on(&self) -> Date {
        Date(self.0.due_on)
    }

    /// The purchase-order number the invoice will carry.
    async fn po_number(&self) -> Option<&str> {
        self.0.po_number.as_deref()
    }

    /// One line per school's membership, excluded ones included (marked).
    async fn lines(&self) -> Vec<InvoiceDraftLineNode> {
        self.0
            .lines
            .iter()
            .cloned()
            .map(InvoiceDraftLineNode)
            .collect()
    }

    /// What it will invoice, net of VAT: lines not excluded, after their discounts.
    async fn net(&self) -> MoneyValue {
        self.0.net().into()
    }

    /// Every line is excluded: issuing leaves this invoice out.
    async fn left_out(&self) -> bool {
        self.0.is_left_out()
    }
}

#[derive(Debug, Clone)]
pub struct InvoiceDraftLineNode(DraftLine);

/// A discount finance put on a draft line, netted into the line when issued.
#[derive(SimpleObject, Debug)]
pub struct InvoiceDraftDiscount {
    /// Shown on the invoice line, e.g. "Hardship discount".
    pub label: String,
    /// Taken off the line's net.
    pub amount: MoneyValue,
}

/// One school's membership line of a draft.
#[Object(name = "InvoiceDraftLine")]
impl InvoiceDraftLineNode {
    /// The school whose membership it bills.
    async fn school(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<SchoolNode>> {
        let Some(id) = self.0.planned.school_id else {
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

    /// What the line says, as planned (a discount is added to it when issued).
    async fn description(&self) -> &str {
        &self.0.planned.description
    }

    /// The net the run worked out, before any discount.
    async fn planned_net(&self) -> MoneyValue {
        self.0.planned_net().into()
    }

    /// The net it will invoice: zero when excluded, else after its discount.
    async fn net(&self) -> MoneyValue {
        self.0.net().into()
    }

    /// The VAT rate in basis points (2000 = 20%); 0 when exempt. VAT is charged on the net.
    async fn vat_rate_bp(&self) -> i32 {
        crate::graphql::int::saturating(self.0.planned.vat_rate_bp)
    }

    /// Left out of this run by finance.
    async fn excluded(&self) -> bool {
        self.0.excluded
    }

    /// The discount on it, if any.
    async fn discount(&self) -> Option<InvoiceDraftDiscount> {
        self.0.discount.as_ref().map(|d| InvoiceDraftDiscount {
            label: d.label.clone(),
            amount: d.amount.into(),
        })
    }
}

/// What a year's drafts add up to.
#[derive(SimpleObject, Debug)]
#[graphql(name = "InvoiceDraftTotals")]
pub struct InvoiceDraftTotalsNode {
    /// Drafts that will be issued (those with a line not excluded).
    pub invoices: i32,
    /// Their net, after discounts, before VAT.
    pub net: MoneyValue,
    /// Schools left out by finance.
    pub schools_excluded: i32,
    /// The discounts given, added up.
    pub discounts: MoneyValue,
}

impl From<DraftTotals> for InvoiceDraftTotalsNode {
    fn from(t: DraftTotals) -> Self {
        Self {
            invoices: crate::graphql::int::saturating(t.invoices),
            net: t.net.into(),
            schools_excluded: crate::graphql::int::saturating(t.schools_excluded),
            discounts: t.discounts.into(),
        }
    }
}

/// `InvoicingRun.drafts`: a page of the run's drafts in review order.
pub(super) async fn drafts_page(
    ctx: &Context<'_>,
    year: AcademicYear,
    (first, after, last, before): (Option<i32>, Option<String>, Option<i32>, Option<String>),
) -> async_graphql::Result<Connection<String, InvoiceDraftNode, NoEdgeFields, NoEdgeFields>> {
    let args = page_args(first, after.as_deref(), last, before.as_deref())?;
    let rc = ctx.trellis()?;
    let page = drafts::drafts(&rc.db, &rc.actor, year, &args)
        .await
        .map_err(to_graphql)?;
    Ok(connection(page, NoEdgeFields, |d| {
        (d.sort_key(), InvoiceDraftNode(d), NoEdgeFields)
    }))
}

/// `InvoicingRun.draftTotals`.
pub(super) async fn totals(
    ctx: &Context<'_>,
    year: AcademicYear,
) -> async_graphql::Result<InvoiceDraftTotalsNode> {
    let rc = ctx.trellis()?;
    drafts::totals(&rc.db, &rc.actor, year)
        .await
        .map(Into::into)
        .map_err(to_graphql)
}

/// Input to `invoicingRunPrepare`, `invoicingRunIssue` and `invoicingRunDiscard`.
#[derive(InputObject, Debug)]
pub struct InvoicingRunYearInput {
    /// The year whose membership invoicing it is, e.g. `2026/27`.
    pub academic_year: AcademicYearScalar,
}

/// Input to `invoiceDraftSetPoNumber`.
#[derive(InputObject, Debug)]
pub struct InvoiceDraftSetPoNumberInput {
    /// An `InvoiceDraft` id.
    pub id: ID,
    /// At most 50 characters; null or blank clears it.
    pub po_number: Option<String>,
}

/// A discount to put on a draft line.
#[derive(InputObject, Debug)]
pub struct InvoiceDraftDiscountInput {
    /// Shown on the invoice line: 1 to 100 characters.
    pub label: String,
    /// In pence: at least 1, and no more than the line's planned net.
    pub amount_pence: i32,
}

/// Input to `invoiceDraftSetDiscount`.
#[derive(InputObject, Debug)]
pub struct InvoiceDraftSetDiscountInput {
    /// An `InvoiceDraft` id.
    pub id: ID,
    /// The school whose line it is.
    pub school_id: ID,
    /// The discount; null removes the line's discount.
    pub discount: Option<InvoiceDraftDiscountInput>,
}

/// Input to `invoicingRunExcludeSchool`.
#[derive(InputObject, Debug)]
pub struct InvoicingRunExcludeSchoolInput {
    /// The year whose prepared run it changes, e.g. `2026/27`.
    pub academic_year: AcademicYearScalar,
    /// A school the year's drafts bill.
    pub school_id: ID,
    /// True leaves it out of the run; false puts it back.
    pub excluded: bool,
}

/// What a change to one draft did.
#[derive(SimpleObject, Debug)]
pub struct InvoiceDraftPayload {
    /// The draft as the change left it; null when `userErrors` says why nothing changed.
    pub invoice_draft: Option<InvoiceDraftNode>,
    /// NOT_FOUND (the draft, or a school it has no line for), TOO_LONG or REQUIRED text,
    /// OUT_OF_RANGE amount, CONFLICT once the run is being issued.
    pub user_errors: Vec<UserError>,
}

/// What `invoicingRunExcludeSchool` did.
#[derive(SimpleObject, Debug)]
pub struct InvoicingRunExcludeSchoolPayload {
    /// The drafts that bill the school, as the change left them.
    pub invoice_drafts: Vec<InvoiceDraftNode>,
    /// NOT_FOUND on `schoolId` when no draft bills it; CONFLICT on `academicYear` when the
    /// year has no run in draft.
    pub user_errors: Vec<UserError>,
}

/// What `invoicingRunDiscard` did.
#[derive(SimpleObject, Debug)]
pub struct InvoicingRunDiscardPayload {
    /// The year whose drafts were thrown away; null when refused.
    pub academic_year: Option<AcademicYearScalar>,
    /// CONFLICT on `academicYear` when the year has no run in draft.
    pub user_errors: Vec<UserError>,
}

fn draft_payload(
    result: Result<InvoiceDraft, DomainError>,
) -> async_graphql::Result<InvoiceDraftPayload> {
    let (draft, user_errors) = payload(result)?;
    Ok(InvoiceDraftPayload {
        invoice_draft: draft.map(InvoiceDraftNode),
        user_errors,
    })
}

#[derive(Default, Debug)]
pub struct DraftsMutation;

#[Object]
impl DraftsMutation {
    /// Prepare the year's membership invoicing as drafts for review: checked and priced as
    /// `invoicingRunStart` would (the fee schedules are frozen now), with nothing issued and
    /// no invoice number taken. Preparing a year already prepared returns its run. Finance
    /// and admins.
    async fn invoicing_run_prepare(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The year to prepare.")] input: InvoicingRunYearInput,
    ) -> async_graphql::Result<InvoicingRunPayload> {
        let rc = ctx.trellis()?;
        let result: Result<InvoicingRun, DomainError> =
            drafts::prepare(&rc.db, &rc.actor, rc.clock.as_ref(), input.academic_year.0).await;
        InvoicingRunPayload::from(result)
    }

    /// Issue the year's drafts as they stand: numbers are taken now, in order and without
    /// gaps; later terms' instalments are scheduled for their first day. Safe to repeat: an
    /// issue interrupted half-way finishes, and nothing is issued twice. Finance and admins.
    async fn invoicing_run_issue(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The year whose drafts to issue.")] input: InvoicingRunYearInput,
    ) -> async_graphql::Result<InvoicingRunPayload> {
        let rc = ctx.trellis()?;
        let year = input.academic_year.0;
        let result = drafts::issue(&rc.db, &rc.actor, rc.clock.as_ref(), year).await;
        if result.is_ok() {
            super::stripe::follow(ctx, rc, super::stripe::Change::Year(year)).await;
        }
        InvoicingRunPayload::from(result)
    }

    /// Throw the year's drafts away, to prepare them again (after a roll or an account was
    /// corrected) or to run the year directly. The fee schedules stay frozen. Finance and
    /// admins.
    async fn invoicing_run_discard(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The year whose drafts to discard.")] input: InvoicingRunYearInput,
    ) -> async_graphql::Result<InvoicingRunDiscardPayload> {
        let rc = ctx.trellis()?;
        let year = input.academic_year.0;
        let (done, user_errors) = payload(drafts::discard(&rc.db, &rc.actor, year).await)?;
        Ok(InvoicingRunDiscardPayload {
            academic_year: done.map(|()| year.into()),
            user_errors,
        })
    }

    /// Set or clear the purchase-order number a draft's invoice will carry. Finance and
    /// admins.
    async fn invoice_draft_set_po_number(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "What to change; the rules for each field are on the input type.")]
        input: InvoiceDraftSetPoNumberInput,
    ) -> async_graphql::Result<InvoiceDraftPayload> {
        let rc = ctx.trellis()?;
        let result = async {
            let id: InvoiceDraftId = expect_input(&input.id, "id")?;
            drafts::set_po_number(
                &rc.db,
                &rc.actor,
                rc.clock.as_ref(),
                id,
                input.po_number.as_deref(),
            )
            .await
        }
        .await;
        draft_payload(result)
    }

    /// Put a discount on a school's line of a draft (or remove it): netted into the line
    /// when issued, VAT charged on what remains, and named in the line's description.
    /// Finance and admins.
    async fn invoice_draft_set_discount(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "What to change; the rules for each field are on the input type.")]
        input: InvoiceDraftSetDiscountInput,
    ) -> async_graphql::Result<InvoiceDraftPayload> {
        let rc = ctx.trellis()?;
        let result = async {
            let id: InvoiceDraftId = expect_input(&input.id, "id")?;
            let school: SchoolId = expect_input(&input.school_id, "schoolId")?;
            let discount = input.discount.map(|d| DiscountInput {
                label: d.label,
                amount: Money::from_pence(i64::from(d.amount_pence)),
            });
            drafts::set_discount(&rc.db, &rc.actor, rc.clock.as_ref(), id, school, discount).await
        }
        .await;
        draft_payload(result)
    }

    /// Leave a school out of the year's prepared run, or put it back. A school left out is
    /// named in the run's notes, and the supplementary run invoices it when finance is
    /// ready. Finance and admins.
    async fn invoicing_run_exclude_school(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "What to change; the rules for each field are on the input type.")]
        input: InvoicingRunExcludeSchoolInput,
    ) -> async_graphql::Result<InvoicingRunExcludeSchoolPayload> {
        let rc = ctx.trellis()?;
        let result = async {
            let school: SchoolId = expect_input(&input.school_id, "schoolId")?;
            drafts::exclude_school(
                &rc.db,
                &rc.actor,
                rc.clock.as_ref(),
                input.academic_year.0,
                school,
                input.excluded,
            )
            .await
        }
        .await;
        let (changed, user_errors) = payload(result)?;
        Ok(InvoicingRunExcludeSchoolPayload {
            invoice_drafts: changed
                .unwrap_or_default()
                .into_iter()
                .map(InvoiceDraftNode)
                .collect(),
            user_errors,
        })
    }
}
