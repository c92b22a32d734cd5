//! Changing the offer: partnership admins manage items and quantities, derive the year's
//! entitlements, record usage and its reversal, adjust, cash in and draw forward. Anything
//! the caller can fix comes back as `userErrors` with nothing changed.

use async_graphql::{Context, ID, InputObject, MaybeUndefined, Object, SimpleObject};
use kernel::{DomainError, ErrorCode, Money, OfferEntryId, OfferItemId, SchoolId, TierId};
use offer::{
    Allowance, DerivationReport, LedgerEntry, NewAdjustment, NewOfferItem, NewTransfer, NewUsage,
    OfferItem, OfferItemPatch, QuantitySetting,
};

use super::enums::OfferUnit;
use super::types::{
    OfferEntitlementNode, OfferItemNode, OfferItemQuantityNode, OfferLedgerEntryNode,
};
use crate::graphql::context::ContextExt;
use crate::graphql::directory::enums::Phase;
use crate::graphql::errors::{UserError, field_error, payload};
use crate::graphql::int;
use crate::graphql::loaders::list_of;
use crate::graphql::relay::expect_input;
use crate::graphql::scalars::{AcademicYearScalar, Date};

/// Input to `offerItemCreate`.
#[derive(InputObject, Debug)]
pub struct OfferItemCreateInput {
    /// Upper-case letters, digits and underscores, e.g. `SIP_DAYS`; unique.
    pub code: String,
    /// The item's name.
    pub name: String,
    /// What the item is, in the partnership's words.
    #[graphql(default)]
    pub description: String,
    /// What the item's quantities count.
    pub unit: OfferUnit,
    /// The traded price of the equivalent service per unit, in pence: 0 to 1,000,000,000
    /// (£10,000,000).
    pub unit_value_pence: i32,
    /// Whether schools joining mid-year get the share of the year's whole months left.
    #[graphql(default)]
    pub pro_rata: bool,
    /// Whether usage may exceed what is left (remaining goes negative).
    #[graphql(default)]
    pub allows_overdraft: bool,
    /// Units a school may cash in a year, 1 to 100,000; leave out to forbid cash-in.
    pub cash_in_limit: Option<i32>,
    /// Share (1–100%) of next year's allowance that may be drawn forward; leave out to forbid.
    pub draw_forward_percent: Option<i32>,
}

/// Input to `offerItemUpdate`. Fields left out are unchanged; `null` clears `cashInLimit` or
/// `drawForwardPercent`. The code and the unit cannot change.
#[derive(InputObject, Debug)]
pub struct OfferItemUpdateInput {
    /// Global id of the offer item.
    pub id: ID,
    /// The item's name.
    pub name: Option<String>,
    /// What the item is.
    pub description: Option<String>,
    /// In pence: 0 to 1,000,000,000 (£10,000,000).
    pub unit_value_pence: Option<i32>,
    /// Whether schools joining mid-year get the share of the year's whole months left.
    pub pro_rata: Option<bool>,
    /// Whether usage may exceed what is left.
    pub allows_overdraft: Option<bool>,
    /// 1 to 100,000 units; `null` forbids cash-in.
    pub cash_in_limit: MaybeUndefined<i32>,
    /// Share (1–100%) of next year's allowance that may be drawn into this year; null forbids
    /// drawing forward.
    pub draw_forward_percent: MaybeUndefined<i32>,
    /// False to stop granting the item; existing entitlements stay usable.
    pub active: Option<bool>,
}

/// What `offerItemCreate` and `offerItemUpdate` did: the changed record, or `userErrors` saying why
/// nothing changed.
#[derive(SimpleObject, Debug)]
pub struct OfferItemPayload {
    /// The item as the mutation left it; null when `userErrors` says why nothing changed.
    pub item: Option<OfferItemNode>,
    /// Why nothing changed, each naming the input field and a code; empty when the mutation
    /// succeeded.
    pub user_errors: Vec<UserError>,
}

impl OfferItemPayload {
    fn from(result: Result<OfferItem, DomainError>) -> async_graphql::Result<Self> {
        let (item, user_errors) = payload(result)?;
        Ok(Self {
            item: item.map(OfferItemNode),
            user_errors,
        })
    }
}

/// Input to `offerQuantitiesRollForward`.
#[derive(InputObject, Debug)]
pub struct OfferQuantitiesRollForwardInput {
    /// The year whose quantities are copied.
    pub from_year: AcademicYearScalar,
    /// A later year: it gets every quantity it has not got yet.
    pub to_year: AcademicYearScalar,
}

/// What `offerQuantitiesRollForward` did: the changed record, or `userErrors` saying why nothing
/// changed.
#[derive(SimpleObject, Debug)]
pub struct OfferQuantitiesRollForwardPayload {
    /// Quantities copied into `toYear`.
    pub copied: i32,
    /// Quantities `toYear` already had, left as they were.
    pub kept: i32,
    /// Quantities of items no longer offered, not copied.
    pub skipped_inactive: i32,
    /// OUT_OF_RANGE on `toYear` unless it is after `fromYear`.
    pub user_errors: Vec<UserError>,
}

/// Input to `offerQuantitySet`.
#[derive(InputObject, Debug)]
pub struct OfferQuantitySetInput {
    /// Global id of the core-offer item.
    pub item_id: ID,
    /// The academic year, e.g. `2026/27`.
    pub academic_year: AcademicYearScalar,
    /// Global id of the membership tier.
    pub tier_id: ID,
    /// Leave out for every phase without a quantity of its own.
    pub phase: Option<Phase>,
    /// Whole units, 0 to 100,000; required unless `unlimited`.
    pub quantity: Option<i32>,
    /// True to let the tier's schools use as much as they want.
    #[graphql(default)]
    pub unlimited: bool,
}

/// What `offerQuantitySet` did: the changed record, or `userErrors` saying why nothing changed.
#[derive(SimpleObject, Debug)]
pub struct OfferQuantityPayload {
    /// The quantity as the mutation left it; null when `userErrors` says why nothing changed.
    pub quantity: Option<OfferItemQuantityNode>,
    /// Why nothing changed, each naming the input field and a code; empty when the mutation
    /// succeeded.
    pub user_errors: Vec<UserError>,
}

/// Input to `entitlementsDerive`.
#[derive(InputObject, Debug)]
pub struct EntitlementsDeriveInput {
    /// The academic year, e.g. `2026/27`.
    pub academic_year: AcademicYearScalar,
}

/// What `entitlementsDerive` did: the changed record, or `userErrors` saying why nothing changed.
#[derive(SimpleObject, Debug, Default)]
pub struct EntitlementsDerivePayload {
    /// Active memberships of the year looked at.
    pub memberships: i32,
    /// How many entitlements were granted for the first time.
    pub entitlements_created: i32,
    /// Grants written: first grants and top-ups of raised quantities.
    pub grants: i32,
    /// How many existing entitlements were topped up to a larger quantity.
    pub top_ups: i32,
    /// Last year's draw-forwards taken back from this year's allowance.
    pub draw_forwards_repaid: i32,
    /// Why nothing changed, each naming the input field and a code; empty when the mutation
    /// succeeded.
    pub user_errors: Vec<UserError>,
}

/// Input to `offerUsageRecord`.
#[derive(InputObject, Debug)]
pub struct OfferUsageRecordInput {
    /// Global id of the school.
    pub school_id: ID,
    /// Global id of the core-offer item.
    pub item_id: ID,
    /// Whole units, 1 to 100,000.
    pub quantity: i32,
    /// The day of the visit or session (2000-01-01 to 2099-12-31); its academic year's
    /// entitlement is used.
    pub occurred_on: Date,
    /// E.g. a booking reference.
    pub reference: Option<String>,
    /// What the units were used for, for the ledger.
    pub reason: Option<String>,
}

/// Input to `offerUsageReverse`.
#[derive(InputObject, Debug)]
pub struct OfferUsageReverseInput {
    /// The usage to give back.
    pub entry_id: ID,
    /// Why the use is reversed, for the ledger.
    pub reason: Option<String>,
}

/// Input to `offerAdjust`.
#[derive(InputObject, Debug)]
pub struct OfferAdjustInput {
    /// Global id of the school.
    pub school_id: ID,
    /// Global id of the core-offer item.
    pub item_id: ID,
    /// The academic year, e.g. `2026/27`.
    pub academic_year: AcademicYearScalar,
    /// Either sign, not zero: -100,000 to 100,000.
    pub quantity: i32,
    /// Required: why.
    pub reason: String,
}

/// Cash-in toward an external consultant, or draw-forward from next year's allowance.
#[derive(InputObject, Debug)]
pub struct OfferTransferInput {
    /// Global id of the school.
    pub school_id: ID,
    /// Global id of the core-offer item.
    pub item_id: ID,
    /// The academic year, e.g. `2026/27`.
    pub academic_year: AcademicYearScalar,
    /// Whole units, 1 to 100,000.
    pub quantity: i32,
    /// The consultant's invoice or similar reference, if any.
    pub reference: Option<String>,
    /// Why, for the ledger.
    pub reason: Option<String>,
}

#[derive(Debug)]
pub struct OfferLedgerEntryPayload {
    entry: Option<LedgerEntry>,
    user_errors: Vec<UserError>,
}

/// The entry written, and the entitlement as it stands after it.
#[Object]
impl OfferLedgerEntryPayload {
    /// The entry as the mutation left it; null when `userErrors` says why nothing changed.
    async fn entry(&self) -> Option<OfferLedgerEntryNode> {
        self.entry.clone().map(OfferLedgerEntryNode::from)
    }

    /// The school's entitlement to the item after the change.
    async fn entitlement(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<Option<OfferEntitlementNode>> {
        let Some(entry) = &self.entry else {
            return Ok(None);
        };
        let rc = ctx.trellis()?;
        let Some(balance) = list_of(rc.loaders.offer_balances(), (entry.school_id, entry.year))
            .await?
            .into_iter()
            .find(|b| b.item_id == entry.item_id)
        else {
            return Ok(None);
        };
        Ok(rc
            .loaders
            .offer_items()
            .load_one(entry.item_id)
            .await?
            .map(|item| OfferEntitlementNode::from(offer::OfferLine { item, balance })))
    }

    /// Why nothing changed, each naming the input field and a code; empty when the mutation
    /// succeeded.
    async fn user_errors(&self) -> &[UserError] {
        &self.user_errors
    }
}

impl OfferLedgerEntryPayload {
    fn from(result: Result<LedgerEntry, DomainError>) -> async_graphql::Result<Self> {
        let (entry, user_errors) = payload(result)?;
        Ok(Self { entry, user_errors })
    }
}

fn ids(school: &ID, item: &ID) -> Result<(SchoolId, OfferItemId), DomainError> {
    Ok((
        expect_input(school, "schoolId")?,
        expect_input(item, "itemId")?,
    ))
}

impl OfferTransferInput {
    fn into_domain(self) -> Result<NewTransfer, DomainError> {
        let (school_id, item_id) = ids(&self.school_id, &self.item_id)?;
        Ok(NewTransfer {
            school_id,
            item_id,
            year: self.academic_year.0,
            quantity: i64::from(self.quantity),
            reference: self.reference,
            reason: self.reason,
        })
    }
}

#[derive(Default, Debug)]
pub struct OfferMutation;

#[Object]
impl OfferMutation {
    /// Add an item to the core offer. Partnership admins.
    async fn offer_item_create(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "What to change; the rules for each field are on the input type.")] input: OfferItemCreateInput,
    ) -> async_graphql::Result<OfferItemPayload> {
        let rc = ctx.trellis()?;
        let new = NewOfferItem {
            code: input.code,
            name: input.name,
            description: input.description,
            unit: input.unit.into(),
            unit_value: Money::from_pence(i64::from(input.unit_value_pence)),
            pro_rata: input.pro_rata,
            allows_overdraft: input.allows_overdraft,
            cash_in_limit: input.cash_in_limit.map(i64::from),
            draw_forward_percent: input.draw_forward_percent,
        };
        OfferItemPayload::from(offer::create_item(&rc.db, &rc.actor, rc.clock.as_ref(), new).await)
    }

    /// Change an item's name, value or rules, or retire it. Partnership admins.
    async fn offer_item_update(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "What to change; the rules for each field are on the input type.")] input: OfferItemUpdateInput,
    ) -> async_graphql::Result<OfferItemPayload> {
        let rc = ctx.trellis()?;
        let result = async {
            let id: OfferItemId = expect_input(&input.id, "id")?;
            let patch = OfferItemPatch {
                name: input.name,
                description: input.description,
                unit_value: input
                    .unit_value_pence
                    .map(|p| Money::from_pence(i64::from(p))),
                pro_rata: input.pro_rata,
                allows_overdraft: input.allows_overdraft,
                cash_in_limit: input.cash_in_limit.map_value(i64::from).into(),
                draw_forward_percent: input.draw_forward_percent.into(),
                active: input.active,
            };
            offer::update_item(&rc.db, &rc.actor, rc.clock.as_ref(), id, patch).await
        }
        .await;
        OfferItemPayload::from(result)
    }

    /// Start a year's offer from another's: copy every quantity of `fromYear` (active items
    /// only) that `toYear` has not got, never overwriting one already set. Running it again
    /// copies nothing. Takes effect at the next `entitlementsDerive`. Partnership admins.
    async fn offer_quantities_roll_forward(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "What to change; the rules for each field are on the input type.")] input: OfferQuantitiesRollForwardInput,
    ) -> async_graphql::Result<OfferQuantitiesRollForwardPayload> {
        let rc = ctx.trellis()?;
        let result = offer::roll_forward(
            &rc.db,
            &rc.actor,
            rc.clock.as_ref(),
            input.from_year.0,
            input.to_year.0,
        )
        .await;
        let (done, user_errors) = payload(result)?;
        let done = done.unwrap_or_default();
        Ok(OfferQuantitiesRollForwardPayload {
            copied: int::saturating(done.copied),
            kept: int::saturating(done.kept),
            skipped_inactive: int::saturating(done.skipped_inactive),
            user_errors,
        })
    }

    /// Set how much of an item a tier (and phase) gets in a year, or make it unlimited.
    /// Takes effect at the next `entitlementsDerive`. Partnership admins.
    async fn offer_quantity_set(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "What to change; the rules for each field are on the input type.")] input: OfferQuantitySetInput,
    ) -> async_graphql::Result<OfferQuantityPayload> {
        let rc = ctx.trellis()?;
        let result = async {
            let item_id: OfferItemId = expect_input(&input.item_id, "itemId")?;
            let tier_id: TierId = expect_input(&input.tier_id, "tierId")?;
            let allowance = match (input.unlimited, input.quantity) {
                (true, None) => Allowance::Unlimited,
                (false, Some(q)) => Allowance::Limited(i64::from(q)),
                (true, Some(_)) => {
                    return Err(field_error(
                        "quantity",
                        ErrorCode::Invalid,
                        "leave the quantity out of an unlimited allowance",
                    ));
                }
                (false, None) => {
                    return Err(field_error(
                        "quantity",
                        ErrorCode::Required,
                        "a quantity is needed unless the allowance is unlimited",
                    ));
                }
            };
            offer::set_quantity(
                &rc.db,
                &rc.actor,
                rc.clock.as_ref(),
                QuantitySetting {
                    item_id,
                    year: input.academic_year.0,
                    tier_id,
                    phase: input.phase.map(Into::into),
                    allowance,
                },
            )
            .await
        }
        .await;
        let (quantity, user_errors) = payload(result)?;
        Ok(OfferQuantityPayload {
            quantity: quantity.map(OfferItemQuantityNode),
            user_errors,
        })
    }

    /// Derive the year's entitlements for every active membership. Running it again grants
    /// nothing twice; it tops up raised quantities and grants memberships activated since.
    /// Partnership admins.
    async fn entitlements_derive(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "What to change; the rules for each field are on the input type.")] input: EntitlementsDeriveInput,
    ) -> async_graphql::Result<EntitlementsDerivePayload> {
        let rc = ctx.trellis()?;
        let result =
            offer::derive_entitlements(&rc.db, &rc.actor, rc.clock.as_ref(), input.academic_year.0)
                .await;
        let (report, user_errors) = payload(result)?;
        let r: DerivationReport = report.unwrap_or_default();
        let n = int::saturating;
        Ok(EntitlementsDerivePayload {
            memberships: n(r.memberships),
            entitlements_created: n(r.entitlements_created),
            grants: n(r.grants),
            top_ups: n(r.top_ups),
            draw_forwards_repaid: n(r.draw_forwards_repaid),
            user_errors,
        })
    }

    /// Record use of a school's entitlement: a visit held, a place booked. Refused when more
    /// is used than remains (unless the item allows overdraft) or the school has no active
    /// membership that year. Partnership admins.
    async fn offer_usage_record(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "What to change; the rules for each field are on the input type.")] input: OfferUsageRecordInput,
    ) -> async_graphql::Result<OfferLedgerEntryPayload> {
        let rc = ctx.trellis()?;
        let result = async {
            let (school_id, item_id) = ids(&input.school_id, &input.item_id)?;
            offer::record_usage(
                &rc.db,
                &rc.actor,
                rc.clock.as_ref(),
                NewUsage {
                    school_id,
                    item_id,
                    quantity: i64::from(input.quantity),
                    occurred_on: input.occurred_on.0,
                    reference: input.reference,
                    reason: input.reason,
                },
            )
            .await
        }
        .await;
        OfferLedgerEntryPayload::from(result)
    }

    /// Give a usage back (e.g. a cancelled booking); once per usage. Partnership admins.
    async fn offer_usage_reverse(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "What to change; the rules for each field are on the input type.")] input: OfferUsageReverseInput,
    ) -> async_graphql::Result<OfferLedgerEntryPayload> {
        let rc = ctx.trellis()?;
        let result = async {
            let id: OfferEntryId = expect_input(&input.entry_id, "entryId")?;
            offer::reverse_usage(&rc.db, &rc.actor, rc.clock.as_ref(), id, input.reason).await
        }
        .await;
        OfferLedgerEntryPayload::from(result)
    }

    /// Correct an entitlement up or down, with a reason. Partnership admins.
    async fn offer_adjust(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "What to change; the rules for each field are on the input type.")] input: OfferAdjustInput,
    ) -> async_graphql::Result<OfferLedgerEntryPayload> {
        let rc = ctx.trellis()?;
        let result = async {
            let (school_id, item_id) = ids(&input.school_id, &input.item_id)?;
            offer::adjust(
                &rc.db,
                &rc.actor,
                rc.clock.as_ref(),
                NewAdjustment {
                    school_id,
                    item_id,
                    year: input.academic_year.0,
                    quantity: i64::from(input.quantity),
                    reason: input.reason,
                },
            )
            .await
        }
        .await;
        OfferLedgerEntryPayload::from(result)
    }

    /// Cash in unused units toward an external consultant, up to the item's yearly limit.
    /// Partnership admins.
    async fn offer_cash_in(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "What to change; the rules for each field are on the input type.")] input: OfferTransferInput,
    ) -> async_graphql::Result<OfferLedgerEntryPayload> {
        let rc = ctx.trellis()?;
        let result = async {
            let transfer = input.into_domain()?;
            offer::cash_in(&rc.db, &rc.actor, rc.clock.as_ref(), transfer).await
        }
        .await;
        OfferLedgerEntryPayload::from(result)
    }

    /// Draw units forward from next year's allowance, up to the item's share of it.
    /// Partnership admins.
    async fn offer_draw_forward(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "What to change; the rules for each field are on the input type.")] input: OfferTransferInput,
    ) -> async_graphql::Result<OfferLedgerEntryPayload> {
        let rc = ctx.trellis()?;
        let result = async {
            let transfer = input.into_domain()?;
            offer::draw_forward(&rc.db, &rc.actor, rc.clock.as_ref(), transfer).await
        }
        .await;
        OfferLedgerEntryPayload::from(result)
    }
}
