//! Fee schedules and quotes as the API shows them.
//!
//! Rules travel as a JSON document (the same versioned document the fee engine stores, see
//! `billing::fees::FeeRulesInput`): pricing is data a partnership writes, and mirroring its
//! every variant as GraphQL input types would only add a second place to keep in step.
//! Invalid rules come back as `userErrors` under `rules`, with the path to the bad value.

use async_graphql::{Context, Enum, ID, InputObject, Json, Object, SimpleObject};
use billing::fees::{
    self, FeeRulesInput, FeeSchedule, FeeSchedulePatch, NewFeeSchedule, Quote, QuoteInstalment,
    QuoteLine, SchoolFacts, WorkingStep,
};
use chrono::{DateTime, Utc};
use kernel::{DomainError, ErrorCode, FeeScheduleId, FieldError, SchoolId, TierId};

use crate::graphql::billing::enums::Instalment;
use crate::graphql::context::ContextExt;
use crate::graphql::errors::{Code, UserError, coded, payload, to_graphql};
use crate::graphql::membership::types::TierNode;
use crate::graphql::relay::{GlobalId, expect_arg, expect_input};
use crate::graphql::scalars::{AcademicYearScalar, Date, MoneyValue};

/// How often a schedule's members are invoiced.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
#[graphql(remote = "fees::BillingFrequency")]
pub enum BillingFrequency {
    /// One invoice for the year.
    Annual,
    /// Three instalments: autumn, spring and summer.
    Termly,
}

/// VAT on a line.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum VatTreatment {
    /// Exempt (education services supplied by an eligible body).
    Exempt,
    /// Standard-rated; see the line's rate.
    Standard,
}

impl From<billing::ledger::VatTreatment> for VatTreatment {
    fn from(treatment: billing::ledger::VatTreatment) -> Self {
        match treatment {
            billing::ledger::VatTreatment::Exempt => Self::Exempt,
            billing::ledger::VatTreatment::Standard => Self::Standard,
        }
    }
}

impl From<VatTreatment> for billing::ledger::VatTreatment {
    fn from(treatment: VatTreatment) -> Self {
        match treatment {
            VatTreatment::Exempt => Self::Exempt,
            VatTreatment::Standard => Self::Standard,
        }
    }
}

#[derive(Debug, Clone)]
pub struct FeeScheduleNode(pub FeeSchedule);

/// The price list of one tier for one academic year.
#[Object(name = "FeeSchedule")]
impl FeeScheduleNode {
    /// Global id: opaque and stable; `node(id:)` finds it again.
    pub async fn id(&self) -> ID {
        self.0.id.to_global()
    }

    /// The academic year it belongs to, e.g. `2026/27`.
    async fn academic_year(&self) -> AcademicYearScalar {
        self.0.year.into()
    }

    /// The membership tier it prices.
    async fn tier(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<TierNode>> {
        Ok(ctx
            .trellis()?
            .loaders
            .tiers()
            .load_one(self.0.tier_id)
            .await?
            .map(TierNode))
    }

    /// The schedule's name, as finance calls it.
    async fn name(&self) -> &str {
        &self.0.name
    }

    /// The pricing rules: the fee engine's versioned JSON document.
    async fn rules(&self) -> Json<FeeRulesInput> {
        Json(self.0.rules.document().clone())
    }

    /// Whether memberships on it are invoiced annually or termly.
    async fn frequency(&self) -> BillingFrequency {
        self.0.frequency.into()
    }

    /// Days from issue (or from the start of the term, for termly instalments) to due date.
    async fn payment_terms_days(&self) -> u16 {
        self.0.payment_terms_days
    }

    /// Set when the year's invoices were issued from it; a locked schedule cannot change.
    async fn locked_at(&self) -> Option<DateTime<Utc>> {
        self.0.locked_at
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

#[derive(Debug, Clone)]
pub struct QuoteNode(pub Quote);

/// A fee worked out for one school, with the working shown so a headteacher can check it.
#[Object(name = "FeeQuote")]
impl QuoteNode {
    /// The academic year it belongs to, e.g. `2026/27`.
    async fn academic_year(&self) -> AcademicYearScalar {
        self.0.year.into()
    }

    /// The day the membership would start: a later start is priced pro rata where the rules say so.
    async fn starts_on(&self) -> Date {
        self.0.starts_on.into()
    }

    /// The roll the per-pupil fee multiplied: the school's newest at the schedule's census
    /// (October or January) taken by the end of the year, so a January census never
    /// reprices an October schedule. Null when the fee is not per pupil.
    async fn roll(&self) -> Option<crate::graphql::directory::types::Roll> {
        self.0.roll.map(Into::into)
    }

    /// The full year's fee after caps and minimums, before pro-rata and discounts.
    async fn annual_fee(&self) -> MoneyValue {
        self.0.annual_fee.into()
    }

    /// The fee and each discount off it, net of VAT.
    async fn lines(&self) -> Vec<QuoteLineNode> {
        self.0.lines.iter().cloned().map(QuoteLineNode).collect()
    }

    /// How the schedule bills: one invoice for the year, or termly instalments.
    async fn frequency(&self) -> BillingFrequency {
        self.0.frequency.into()
    }

    /// The invoices the invoicing run will issue for this fee, each to the penny (VAT is
    /// charged on each invoice line after discounts); empty when nothing is left to pay.
    async fn instalments(&self) -> Vec<QuoteInstalmentNode> {
        self.0
            .instalments
            .iter()
            .copied()
            .map(QuoteInstalmentNode)
            .collect()
    }

    /// The fee before VAT.
    async fn net(&self) -> MoneyValue {
        self.0.net.into()
    }

    /// VAT on the fee.
    async fn vat(&self) -> MoneyValue {
        self.0.vat.into()
    }

    /// The fee with VAT: what the school's invoices add up to.
    async fn total(&self) -> MoneyValue {
        self.0.total.into()
    }

    /// Each step of the calculation, in order.
    async fn working(&self) -> Vec<WorkingStepNode> {
        self.0
            .working
            .iter()
            .cloned()
            .map(WorkingStepNode)
            .collect()
    }
}

#[derive(Debug, Clone, Copy)]
pub struct QuoteInstalmentNode(pub QuoteInstalment);

/// One invoice a quote becomes: the year's, or one term's instalment.
#[Object(name = "FeeQuoteInstalment")]
impl QuoteInstalmentNode {
    /// Which part of the year the invoice bills (ANNUAL, or AUTUMN, SPRING, SUMMER).
    async fn instalment(&self) -> Instalment {
        self.0.instalment.into()
    }

    /// The invoice's net: its share of the fee after discounts.
    async fn net(&self) -> MoneyValue {
        self.0.net.into()
    }

    /// VAT on `net`, to the penny, half-up: exactly what the invoice will charge.
    async fn vat(&self) -> MoneyValue {
        self.0.vat.into()
    }

    /// `net + vat`.
    async fn total(&self) -> MoneyValue {
        self.0.total.into()
    }
}

#[derive(Debug, Clone)]
pub struct QuoteLineNode(pub QuoteLine);

/// One line of a quote, as it will appear on the invoice.
#[Object(name = "FeeQuoteLine")]
impl QuoteLineNode {
    /// The line as the invoice words it.
    async fn description(&self) -> &str {
        &self.0.description
    }

    /// Net of VAT; negative for a discount.
    async fn amount(&self) -> MoneyValue {
        self.0.amount.into()
    }

    /// How VAT applies to the line.
    async fn vat_treatment(&self) -> VatTreatment {
        match self.0.vat {
            fees::VatTreatment::Exempt => VatTreatment::Exempt,
            fees::VatTreatment::Standard { .. } => VatTreatment::Standard,
        }
    }

    /// 2000 is 20%; 0 when exempt.
    async fn vat_rate_basis_points(&self) -> i32 {
        crate::graphql::int::saturating(self.0.vat.rate_basis_points())
    }

    /// The change this line makes to the VAT of the invoices: the fee line carries the VAT
    /// of the fee alone, each discount the (negative) difference it makes, so the lines add
    /// up to the quote's `vat`.
    async fn vat_amount(&self) -> MoneyValue {
        self.0.vat_amount.into()
    }
}

#[derive(Debug, Clone)]
pub struct WorkingStepNode(pub WorkingStep);

/// One step of how a fee was worked out, in order: what the rules applied and the amount after it.
#[Object(name = "FeeWorkingStep")]
impl WorkingStepNode {
    /// What the step is: "Roll", "Per-pupil fee", "Cap", "Pro-rata"…
    async fn label(&self) -> &str {
        &self.0.label
    }

    /// The step in words, e.g. "412 × £19.00 = £7,828.00".
    async fn detail(&self) -> &str {
        &self.0.detail
    }

    /// The running amount after this step, where it produces one.
    async fn amount(&self) -> Option<MoneyValue> {
        self.0.amount.map(Into::into)
    }
}

/// Parses a rules document from the API; a malformed one is a user error under `rules`.
fn rules_from(json: serde_json::Value) -> Result<FeeRulesInput, DomainError> {
    serde_json::from_value(json).map_err(|e| {
        DomainError::Invalid(vec![FieldError::new(
            "rules",
            ErrorCode::Invalid,
            format!("not a fee rules document: {e}"),
        )])
    })
}

/// Input to `feeScheduleCreate`.
#[derive(InputObject, Debug)]
pub struct FeeScheduleCreateInput {
    /// The academic year, e.g. `2026/27`.
    pub academic_year: AcademicYearScalar,
    /// Global id of the membership tier.
    pub tier_id: ID,
    /// The schedule's name, as finance calls it.
    pub name: String,
    /// The fee engine's rules document (`version: 1`).
    pub rules: Json<serde_json::Value>,
    /// Invoice annually or in three termly instalments.
    pub frequency: BillingFrequency,
    /// Days from issue to the invoices' due date.
    #[graphql(default = 30)]
    pub payment_terms_days: u16,
}

/// Input to `feeScheduleUpdate`. Fields left out are unchanged. Locked schedules refuse every
/// change.
#[derive(InputObject, Debug)]
pub struct FeeScheduleUpdateInput {
    /// Global id of the fee schedule.
    pub id: ID,
    /// The schedule's name.
    pub name: Option<String>,
    /// The pricing rules, replacing the schedule's; refused once the run has locked it.
    pub rules: Option<Json<serde_json::Value>>,
    /// Invoice annually or in three termly instalments.
    pub frequency: Option<BillingFrequency>,
    /// Days from issue to the invoices' due date.
    pub payment_terms_days: Option<u16>,
}

/// What `feeScheduleCreate` and `feeScheduleUpdate` did: the changed record, or `userErrors` saying
/// why nothing changed.
#[derive(SimpleObject, Debug)]
pub struct FeeSchedulePayload {
    /// The fee schedule as the mutation left it; null when `userErrors` says why nothing changed.
    pub fee_schedule: Option<FeeScheduleNode>,
    /// Why nothing changed, each naming the input field and a code; empty when the mutation
    /// succeeded.
    pub user_errors: Vec<UserError>,
}

impl FeeSchedulePayload {
    fn from(result: Result<FeeSchedule, DomainError>) -> async_graphql::Result<Self> {
        let (schedule, user_errors) = payload(result)?;
        Ok(Self {
            fee_schedule: schedule.map(FeeScheduleNode),
            user_errors,
        })
    }
}

#[derive(Default, Debug)]
pub struct FeesQuery;

#[Object]
impl FeesQuery {
    /// Every tier's fee schedule for the year, by name. Schedules are a published price
    /// list: every signed-in role and `membership:read`/`billing:read` keys may read them.
    async fn fee_schedules(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The academic year, written as schools write it, e.g. `2026/27`.")]
        academic_year: AcademicYearScalar,
    ) -> async_graphql::Result<Vec<FeeScheduleNode>> {
        let rc = ctx.trellis()?;
        Ok(fees::schedules_for_year(&rc.db, &rc.actor, academic_year.0)
            .await
            .map_err(to_graphql)?
            .into_iter()
            .map(FeeScheduleNode)
            .collect())
    }

    /// What `school` would pay in `academicYear` on `tier`'s schedule, joining on `startsOn`
    /// (default: the first day of the year), with the working. Null when the tier has no
    /// schedule for the year; BAD_USER_INPUT when the school cannot be priced (no roll…).
    async fn fee_quote(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Global id of the school.")] school_id: ID,
        #[graphql(desc = "The academic year, written as schools write it, e.g. `2026/27`.")]
        academic_year: AcademicYearScalar,
        #[graphql(desc = "Global id of the membership tier.")] tier_id: ID,
        #[graphql(
            desc = "The day the membership would start; defaults to the first day of the year."
        )]
        starts_on: Option<Date>,
    ) -> async_graphql::Result<Option<QuoteNode>> {
        let rc = ctx.trellis()?;
        if !billing::visibility::may_read_fee_schedules(&rc.actor) {
            return Err(coded("you are not allowed to do this", Code::Forbidden));
        }
        let school_id: SchoolId = expect_arg(&school_id)?;
        let tier_id: TierId = expect_arg(&tier_id)?;
        let year = academic_year.0;
        let Some(school) = rc.loaders.schools().load_one(school_id).await? else {
            return Err(coded("school not found", Code::NotFound));
        };
        let Some(schedule) = fees::schedule_for(&rc.db, year, tier_id)
            .await
            .map_err(to_graphql)?
        else {
            return Ok(None);
        };
        let history = rc.loaders.roll_history().load_one(school_id).await?;
        let facts = SchoolFacts::of(&school, history.iter().flatten().map(|r| r.roll), year);
        let starts_on = starts_on.map_or(year.first_day(), |d| d.0);
        fees::quote(&schedule.rules, year, &facts, starts_on, schedule.frequency)
            .map(|q| Some(QuoteNode(q)))
            .map_err(|e| to_graphql(e.into()))
    }
}

#[derive(Default, Debug)]
pub struct FeesMutation;

#[Object]
impl FeesMutation {
    /// Set a tier's fee schedule for a year. Finance and admins.
    async fn fee_schedule_create(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "What to change; the rules for each field are on the input type.")] input: FeeScheduleCreateInput,
    ) -> async_graphql::Result<FeeSchedulePayload> {
        let rc = ctx.trellis()?;
        let result = async {
            let tier_id: TierId = expect_input(&input.tier_id, "tierId")?;
            let rules = rules_from(input.rules.0)?;
            let new = NewFeeSchedule {
                year: input.academic_year.0,
                tier_id,
                name: input.name,
                rules,
                frequency: input.frequency.into(),
                payment_terms_days: input.payment_terms_days,
            };
            fees::create_schedule(&rc.db, &rc.actor, rc.clock.as_ref(), new).await
        }
        .await;
        FeeSchedulePayload::from(result)
    }

    /// Change a schedule that has not yet been invoiced from. Finance and admins.
    async fn fee_schedule_update(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "What to change; the rules for each field are on the input type.")] input: FeeScheduleUpdateInput,
    ) -> async_graphql::Result<FeeSchedulePayload> {
        let rc = ctx.trellis()?;
        let result = async {
            let id: FeeScheduleId = expect_input(&input.id, "id")?;
            let patch = FeeSchedulePatch {
                name: input.name,
                rules: input.rules.map(|r| rules_from(r.0)).transpose()?,
                frequency: input.frequency.map(Into::into),
                payment_terms_days: input.payment_terms_days,
            };
            fees::update_schedule(&rc.db, &rc.actor, rc.clock.as_ref(), id, patch).await
        }
        .await;
        FeeSchedulePayload::from(result)
    }
}
