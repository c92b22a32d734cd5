//! The offer as the API shows it.

use async_graphql::connection::Connection;
use async_graphql::{Context, ID, Lookahead, Object, Value as ConstValue};
use chrono::{DateTime, Utc};
use kernel::{AcademicYear, SchoolId};
use membership::memberships::MembershipWithTier;
use membership::people::User;
use offer::{
    Balance, EntryKey, ItemQuantity, LedgerEntry, LineWithLatest, OfferItem, RecordedEntry,
    ValueLine, ValueStatement,
};

use super::enums::{OfferEntryKind, OfferUnit, Term};
use crate::graphql::access::types::UserNode;
use crate::graphql::context::ContextExt;
use crate::graphql::directory::enums::Phase;
use crate::graphql::directory::types::SchoolNode;
use crate::graphql::errors::{internal, to_graphql};
use crate::graphql::loaders::{Prefetched, list_of};
use crate::graphql::membership::types::{MembershipNode, TierNode};
use crate::graphql::relay::{GlobalId, NoEdgeFields, connection, page_args};
use crate::graphql::scalars::{AcademicYearScalar, Date, MoneyValue};

#[derive(Debug, Clone)]
pub struct OfferItemNode(pub OfferItem);

/// Something membership includes, e.g. school improvement partner days or CPD places.
#[Object(name = "OfferItem")]
impl OfferItemNode {
    /// Global id: opaque and stable; `node(id:)` finds it again.
    pub async fn id(&self) -> ID {
        self.0.id.to_global()
    }

    /// Stable upper-case handle, e.g. `SIP_DAYS`.
    async fn code(&self) -> &str {
        &self.0.code
    }

    /// The item's name.
    async fn name(&self) -> &str {
        &self.0.name
    }

    /// What the item is, in the partnership's words.
    async fn description(&self) -> &str {
        &self.0.description
    }

    /// What quantities are counted in; always whole units.
    async fn unit(&self) -> OfferUnit {
        self.0.unit.into()
    }

    /// The traded price of the equivalent service per unit: what one unit is worth.
    async fn unit_value(&self) -> MoneyValue {
        self.0.unit_value.into()
    }

    /// Mid-year joiners get the share of whole months left.
    async fn pro_rata(&self) -> bool {
        self.0.pro_rata
    }

    /// Usage may exceed what is left.
    async fn allows_overdraft(&self) -> bool {
        self.0.allows_overdraft
    }

    /// The most units a school may cash in a year toward an external consultant; null when
    /// the item cannot be cashed in.
    async fn cash_in_limit(&self) -> async_graphql::Result<Option<i32>> {
        self.0
            .cash_in_limit
            .map(crate::graphql::int::out)
            .transpose()
    }

    /// The largest share (percent) of next year's allowance a school may draw into this
    /// year; null when the item cannot be drawn forward.
    async fn draw_forward_percent(&self) -> Option<i32> {
        self.0.draw_forward_percent.map(i32::from)
    }

    /// Inactive items are no longer granted; existing entitlements stay usable.
    async fn active(&self) -> bool {
        self.0.active
    }

    /// How much of the item each tier (and phase) gets in a year.
    async fn quantities(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The academic year, written as schools write it, e.g. `2026/27`.")]
        academic_year: AcademicYearScalar,
    ) -> async_graphql::Result<Vec<OfferItemQuantityNode>> {
        let rc = ctx.trellis()?;
        Ok(list_of(rc.loaders.offer_quantities(), self.0.id)
            .await?
            .into_iter()
            .filter(|q| q.year == academic_year.0)
            .map(OfferItemQuantityNode)
            .collect())
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
pub struct OfferItemQuantityNode(pub ItemQuantity);

/// How much of an item a tier (and phase) gets in a year.
#[Object(name = "OfferItemQuantity")]
impl OfferItemQuantityNode {
    /// The academic year it belongs to, e.g. `2026/27`.
    async fn academic_year(&self) -> AcademicYearScalar {
        self.0.year.into()
    }

    /// The membership tier the quantity is for.
    async fn tier(&self, ctx: &Context<'_>) -> async_graphql::Result<TierNode> {
        ctx.trellis()?
            .loaders
            .tiers()
            .load_one(self.0.tier_id)
            .await?
            .map(TierNode)
            .ok_or_else(|| internal("offer quantity of an unknown tier"))
    }

    /// Null: every phase without a quantity of its own.
    async fn phase(&self) -> Option<Phase> {
        self.0.phase.map(Into::into)
    }

    /// Null when unlimited.
    async fn quantity(&self) -> async_graphql::Result<Option<i32>> {
        match self.0.allowance {
            offer::Allowance::Limited(q) => crate::graphql::int::out(q).map(Some),
            offer::Allowance::Unlimited => Ok(None),
        }
    }

    /// True when the tier's schools may use as much as they want.
    async fn unlimited(&self) -> bool {
        self.0.allowance == offer::Allowance::Unlimited
    }
}

#[derive(Debug, Clone)]
pub struct SchoolOfferNode {
    pub school: SchoolId,
    pub year: AcademicYear,
    /// The school's membership of the year, when the school was read with its memberships.
    pub membership: Prefetched<Option<MembershipWithTier>>,
}

/// What a school's membership gives it in a year.
#[Object(name = "SchoolOffer")]
impl SchoolOfferNode {
    /// The academic year it belongs to, e.g. `2026/27`.
    async fn academic_year(&self) -> AcademicYearScalar {
        self.year.into()
    }

    /// The school.
    async fn school(&self, ctx: &Context<'_>) -> async_graphql::Result<SchoolNode> {
        ctx.trellis()?
            .loaders
            .schools()
            .load_one(self.school)
            .await?
            .map(SchoolNode::from)
            .ok_or_else(|| internal("offer of an unknown school"))
    }

    /// The school's membership of the year; null when it has none (or you may not read
    /// memberships).
    async fn membership(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<MembershipNode>> {
        if let Prefetched::Read(membership) = &self.membership {
            return Ok(membership.clone().map(MembershipNode::from));
        }
        let rc = ctx.trellis()?;
        Ok(list_of(rc.loaders.school_memberships(), self.school)
            .await?
            .into_iter()
            .find(|m| m.membership.year == self.year)
            .map(MembershipNode::from))
    }

    /// Every item the school is entitled to this year, by item name, with what is used and
    /// left.
    async fn items(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<OfferEntitlementNode>> {
        let rc = ctx.trellis()?;
        // A dashboard shows each item's first page of entries: read the two together.
        if let Some((rows, recorders)) = first_page_asked(&ctx.look_ahead().field("entries")) {
            let key = (self.school, self.year, rows, recorders);
            let lines = list_of(rc.loaders.offer_overview(), key).await?;
            return Ok(lines
                .into_iter()
                .map(|LineWithLatest { line, latest }| {
                    let page = FirstPage {
                        rows,
                        recorders,
                        entries: latest,
                    };
                    OfferEntitlementNode(line, Prefetched::Read(page))
                })
                .collect());
        }
        let lines = list_of(rc.loaders.offer_lines(), (self.school, self.year)).await?;
        Ok(lines.into_iter().map(OfferEntitlementNode::from).collect())
    }
}

/// The rows of the first page of entries that `entries` (every selection of the field, under
/// whatever alias) asks for, and whether any shows each entry's recorder; `None` when none
/// asks for a first page, or they ask for pages of different sizes (then each reads its own).
fn first_page_asked(entries: &Lookahead<'_>) -> Option<(u64, bool)> {
    let mut asked: Option<(u64, bool)> = None;
    for field in entries.selection_fields() {
        let mut first = None;
        let mut from_start = true;
        for (name, value) in field.arguments().ok()? {
            match (name.as_str(), value) {
                (_, ConstValue::Null) => {}
                ("first", ConstValue::Number(n)) => {
                    first = Some(n.as_i64().and_then(|n| i32::try_from(n).ok())?);
                }
                // `after`, `before` or `last`: not the first page.
                _ => from_start = false,
            }
        }
        if !from_start {
            continue;
        }
        // An invalid size reads nothing here; `entries` reports it.
        let rows = page_args::<EntryKey>(first, None, None, None).ok()?.limit + 1;
        let recorders = shows_recorders(&Lookahead::from(field));
        asked = match asked {
            None => Some((rows, recorders)),
            Some((same, other)) if same == rows => Some((rows, other || recorders)),
            Some(_) => return None,
        };
    }
    asked
}

/// Whether a page of entries shows each entry's recorder.
fn shows_recorders(page: &Lookahead<'_>) -> bool {
    page.field("edges")
        .field("node")
        .field("recordedBy")
        .exists()
        || page.field("nodes").field("recordedBy").exists()
}

#[derive(Debug)]
pub struct EntryCount(pub u64);

/// `totalCount` of a ledger connection: known from the balance, so free.
#[Object]
impl EntryCount {
    /// How many entries there are, across pages.
    async fn total_count(&self) -> i32 {
        crate::graphql::int::saturating(self.0)
    }
}

pub type OfferLedgerEntryConnection =
    Connection<String, OfferLedgerEntryNode, EntryCount, NoEdgeFields>;

#[derive(Debug, Clone)]
pub struct OfferEntitlementNode(pub offer::OfferLine, pub Prefetched<FirstPage>);

impl From<offer::OfferLine> for OfferEntitlementNode {
    fn from(line: offer::OfferLine) -> Self {
        Self(line, Prefetched::Unread)
    }
}

/// The first page of a line's ledger, read with the line ([`offer::lines_with_latest_entries`]):
/// the rows asked for (the page size and one more, which tells whether there is a next page)
/// and whether each entry's recorder was read (otherwise each is `None`).
#[derive(Debug, Clone)]
pub struct FirstPage {
    rows: u64,
    recorders: bool,
    entries: Vec<RecordedEntry>,
}

impl OfferEntitlementNode {
    const fn balance(&self) -> &Balance {
        &self.0.balance
    }
}

/// A school's entitlement to one item in one year.
#[Object(name = "OfferEntitlement")]
impl OfferEntitlementNode {
    /// The core-offer item.
    async fn item(&self) -> OfferItemNode {
        OfferItemNode(self.0.item.clone())
    }

    /// What the quantities count.
    async fn unit(&self) -> OfferUnit {
        self.0.item.unit.into()
    }

    /// As many as the school wants: `remaining` is null.
    async fn unlimited(&self) -> bool {
        self.balance().unlimited
    }

    /// Granted for the year (pro-rata for a mid-year joiner).
    async fn granted(&self) -> async_graphql::Result<i32> {
        crate::graphql::int::out(self.balance().granted)
    }

    /// What the school has to use: granted, adjusted and drawn forward.
    async fn entitlement(&self) -> async_graphql::Result<i32> {
        crate::graphql::int::out(self.balance().entitlement())
    }

    /// Used, net of reversals.
    async fn used(&self) -> async_graphql::Result<i32> {
        crate::graphql::int::out(self.balance().used())
    }

    /// Given back by reversals (e.g. cancelled bookings).
    async fn reversed(&self) -> async_graphql::Result<i32> {
        crate::graphql::int::out(self.balance().reversed)
    }

    /// Net adjustments by partnership staff.
    async fn adjusted(&self) -> async_graphql::Result<i32> {
        crate::graphql::int::out(self.balance().adjusted)
    }

    /// Units cashed in toward an external consultant.
    async fn cashed_in(&self) -> async_graphql::Result<i32> {
        crate::graphql::int::out(self.balance().cashed_in)
    }

    /// Units drawn from next year's allowance (less any taken back for last year's).
    async fn drawn_forward(&self) -> async_graphql::Result<i32> {
        crate::graphql::int::out(self.balance().drawn_forward)
    }

    /// What is left; null when unlimited. Negative only for items that allow overdraft.
    async fn remaining(&self) -> async_graphql::Result<Option<i32>> {
        self.balance()
            .remaining()
            .map(crate::graphql::int::out)
            .transpose()
    }

    /// The ledger behind the numbers, newest first. `first`/`last` take 1–100.
    #[graphql(complexity = "crate::graphql::relay::page_cost(first, last, child_complexity)")]
    async fn entries(
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
    ) -> async_graphql::Result<OfferLedgerEntryConnection> {
        let args = page_args::<EntryKey>(first, after.as_deref(), last, before.as_deref())?;
        let rc = ctx.trellis()?;
        let b = self.balance();
        let page = if args.after.is_none() && args.before.is_none() && !args.backward {
            // A dashboard's first page: batched across every item shown, each entry's
            // recorder read in the same statement when the page shows it.
            let recorders = shows_recorders(&ctx.look_ahead());
            let asked = args.limit + 1;
            let mut rows = match &self.1 {
                // Read with the line, as `SchoolOffer.items` looked ahead.
                Prefetched::Read(page) if page.rows == asked && (page.recorders || !recorders) => {
                    page.entries.clone()
                }
                _ => {
                    let key = (b.school_id, b.item_id, b.year, asked, recorders);
                    list_of(rc.loaders.offer_latest_entries(), key).await?
                }
            };
            let limit = usize::try_from(args.limit).unwrap_or(usize::MAX);
            let more = rows.len() > limit;
            rows.truncate(limit);
            membership::Page {
                items: rows
                    .into_iter()
                    .map(|(entry, recorder)| {
                        let recorder = if recorders {
                            Prefetched::Read(recorder)
                        } else {
                            Prefetched::Unread
                        };
                        OfferLedgerEntryNode(entry, recorder)
                    })
                    .collect(),
                has_next_page: more,
                has_previous_page: false,
            }
        } else {
            offer::entries_page(&rc.db, &rc.actor, b.school_id, b.item_id, b.year, &args)
                .await
                .map_err(to_graphql)?
                .map(OfferLedgerEntryNode::from)
        };
        Ok(connection(page, EntryCount(b.entries), |node| {
            (node.0.sort_key(), node, NoEdgeFields)
        }))
    }
}

/// A ledger entry, with its recorder (`None` when Trellis recorded it) when the page that found
/// it read them in the same statement ([`offer::latest_entries_with_recorders`]); otherwise
/// `recordedBy` loads the recorder in a batch.
#[derive(Debug, Clone)]
pub struct OfferLedgerEntryNode(pub LedgerEntry, pub Prefetched<Option<User>>);

impl From<LedgerEntry> for OfferLedgerEntryNode {
    fn from(entry: LedgerEntry) -> Self {
        Self(entry, Prefetched::Unread)
    }
}

/// One entry of a school's entitlement ledger.
#[Object(name = "OfferLedgerEntry")]
impl OfferLedgerEntryNode {
    /// Global id: opaque and stable; `node(id:)` finds it again.
    pub async fn id(&self) -> ID {
        self.0.id.to_global()
    }

    /// What the entry records; see its enum.
    async fn kind(&self) -> OfferEntryKind {
        self.0.kind.into()
    }

    /// Signed whole units: what the entry adds to (or takes from) what is left.
    async fn quantity(&self) -> async_graphql::Result<i32> {
        crate::graphql::int::out(self.0.quantity)
    }

    /// The day it happened (a reversal carries its usage's day).
    async fn occurred_on(&self) -> Date {
        self.0.occurred_on.into()
    }

    /// The term it counts in (a reversal counts in its usage's term).
    async fn term(&self) -> Term {
        self.0.term.into()
    }

    /// The academic year it belongs to, e.g. `2026/27`.
    async fn academic_year(&self) -> AcademicYearScalar {
        self.0.year.into()
    }

    /// Where it came from, e.g. a booking reference.
    async fn reference(&self) -> Option<&str> {
        self.0.reference.as_deref()
    }

    /// Why, as the person who made the entry wrote it.
    async fn reason(&self) -> Option<&str> {
        self.0.reason.as_deref()
    }

    /// The core-offer item.
    async fn item(&self, ctx: &Context<'_>) -> async_graphql::Result<OfferItemNode> {
        ctx.trellis()?
            .loaders
            .offer_items()
            .load_one(self.0.item_id)
            .await?
            .map(OfferItemNode)
            .ok_or_else(|| internal("offer entry of an unknown item"))
    }

    /// The school whose allowance it changes.
    async fn school(&self, ctx: &Context<'_>) -> async_graphql::Result<SchoolNode> {
        ctx.trellis()?
            .loaders
            .schools()
            .load_one(self.0.school_id)
            .await?
            .map(SchoolNode::from)
            .ok_or_else(|| internal("offer entry of an unknown school"))
    }

    /// For a reversal: the usage it gave back.
    async fn reversal_of(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<Self>> {
        let Some(id) = self.0.reversal_of else {
            return Ok(None);
        };
        Ok(ctx
            .trellis()?
            .loaders
            .offer_entries()
            .load_one(id)
            .await?
            .map(OfferLedgerEntryNode::from))
    }

    /// The person who recorded it; null when Trellis did (derivation), or when the caller
    /// is an integration (API keys see no people).
    async fn recorded_by(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<UserNode>> {
        let rc = ctx.trellis()?;
        let Some(id) = self.0.recorded_by else {
            return Ok(None);
        };
        if rc.actor.as_user().is_none() {
            return Ok(None);
        }
        if let Prefetched::Read(recorder) = &self.1 {
            return Ok(recorder.clone().map(UserNode));
        }
        Ok(rc.loaders.users().load_one(id).await?.map(UserNode))
    }

    /// When it was first recorded in Trellis.
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
}

#[derive(Debug, Clone)]
pub struct ValueLineNode(pub ValueLine);

/// One item's use in one term, valued at the traded price of the equivalent service.
#[Object(name = "ValueStatementLine")]
impl ValueLineNode {
    /// The core-offer item.
    async fn item(&self) -> OfferItemNode {
        OfferItemNode(self.0.item.clone())
    }

    /// The term this line's use counts in; a whole-year statement has a line for each term in
    /// which the item was used.
    async fn term(&self) -> Term {
        self.0.term.into()
    }

    /// Units used, net of reversals.
    async fn used(&self) -> async_graphql::Result<i32> {
        crate::graphql::int::out(self.0.used)
    }

    /// The traded price of one unit of the equivalent service.
    async fn unit_value(&self) -> MoneyValue {
        self.0.item.unit_value.into()
    }

    /// `used × unitValue`.
    async fn value(&self) -> MoneyValue {
        self.0.value.into()
    }
}

#[derive(Debug, Clone)]
pub struct ValueStatementNode(pub ValueStatement);

/// What a school's use of its offer was worth, against the membership fee it was invoiced.
#[Object(name = "ValueStatement")]
impl ValueStatementNode {
    /// The school.
    async fn school(&self, ctx: &Context<'_>) -> async_graphql::Result<SchoolNode> {
        ctx.trellis()?
            .loaders
            .schools()
            .load_one(self.0.school_id)
            .await?
            .map(SchoolNode::from)
            .ok_or_else(|| internal("value statement of an unknown school"))
    }

    /// The academic year it belongs to, e.g. `2026/27`.
    async fn academic_year(&self) -> AcademicYearScalar {
        self.0.year.into()
    }

    /// Null: the whole year.
    async fn term(&self) -> Option<Term> {
        self.0.term.map(Into::into)
    }

    /// By term, then item name; items unused in a term are left out.
    async fn lines(&self) -> Vec<ValueLineNode> {
        self.0.lines.iter().cloned().map(ValueLineNode).collect()
    }

    /// What the school's use was worth in all.
    async fn total_value(&self) -> MoneyValue {
        self.0.total.into()
    }

    /// The membership fee invoiced for the term (a third of an annual fee) or the year, VAT
    /// included, void invoices left out. Null unless you may read the school's billing.
    async fn membership_fee(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<MoneyValue>> {
        let rc = ctx.trellis()?;
        if !billing::visibility::may_read_billing_of_school(&rc.actor, self.0.school_id) {
            return Ok(None);
        }
        let fees = rc
            .loaders
            .membership_fees()
            .load_one((self.0.school_id, self.0.year))
            .await?
            .unwrap_or_default();
        let fee = self
            .0
            .term
            .map_or_else(|| fees.total(), |t| fees.for_term(t))
            .map_err(to_graphql)?;
        Ok(Some(fee.into()))
    }
}
