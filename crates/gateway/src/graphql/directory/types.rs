//! School and Partnership as the API shows them.

use async_graphql::connection::{Connection, ConnectionNameType, EdgeNameType};
use async_graphql::{Context, ID, Object, OutputType, SimpleObject, Union};
use chrono::{DateTime, Utc};
use membership::memberships::MembershipWithTier;
use membership::partnership::{self, Member, Partnership, PartnershipFilter};
use membership::school::inspection::{Inspection, Outcome};
use membership::school::{self, School, SchoolFilter};

use super::enums::{
    Designation, EstablishmentType, MemberRole, OverallGrade, PartnershipKind, Phase,
    ReportCardArea, ReportCardGrade, RollCensus, RollSource, SchoolStatus,
};
use crate::graphql::context::ContextExt;
use crate::graphql::errors::to_graphql;
use crate::graphql::loaders::{Prefetched, list_of, load_list};
use crate::graphql::relay::{GlobalId, connection, page_args};
use crate::graphql::scalars::Date;

/// A school, and its memberships when the read that found it joined them
/// (`viewer { schools }` does when the selection shows them): then `memberships` and
/// `offer { membership }` answer from them rather than a batch.
#[derive(Debug, Clone)]
pub struct SchoolNode(pub School, pub Prefetched<Vec<MembershipWithTier>>);

impl From<School> for SchoolNode {
    fn from(school: School) -> Self {
        Self(school, Prefetched::Unread)
    }
}

/// A school in the directory.
#[Object(name = "School")]
impl SchoolNode {
    /// Global id: opaque and stable; `node(id:)` finds it again.
    pub async fn id(&self) -> ID {
        self.0.id.to_global()
    }

    /// The DfE Unique Reference Number.
    async fn urn(&self) -> &str {
        self.0.urn.as_str()
    }

    /// The school's name, as the DfE register gives it.
    async fn name(&self) -> &str {
        &self.0.name
    }

    /// The school's phase of education.
    async fn phase(&self) -> Phase {
        self.0.phase.into()
    }

    /// How the school is constituted.
    async fn establishment_type(&self) -> EstablishmentType {
        self.0.establishment_type.into()
    }

    /// The local authority the school is in.
    async fn local_authority(&self) -> &str {
        &self.0.local_authority
    }

    /// The school's postcode.
    async fn postcode(&self) -> &str {
        self.0.postcode.as_str()
    }

    /// Pupils on roll at the latest recorded census; null until one is recorded.
    async fn roll(&self) -> Option<Roll> {
        self.0.roll.map(Roll::from)
    }

    /// Every roll recorded for the school, newest census first: one per census day (October
    /// and January side by side), whichever way it was recorded.
    async fn roll_history(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<RecordedRoll>> {
        let list = list_of(ctx.trellis()?.loaders.roll_history(), self.0.id).await?;
        Ok(list
            .into_iter()
            .map(|r| RecordedRoll {
                roll: Roll::from(r.roll),
                source: r.source.into(),
                recorded_at: r.recorded_at,
            })
            .collect())
    }

    /// Open or closed, as the DfE's register says; a closed school stays in the directory.
    async fn status(&self) -> SchoolStatus {
        self.0.status.into()
    }

    /// The day the school closed, when the register gives one.
    async fn closed_on(&self) -> Option<Date> {
        self.0.closed_on.map(Into::into)
    }

    /// Whether the school teaches post-16 pupils; fee schedules may price these differently
    /// (a higher cap).
    async fn has_sixth_form(&self) -> bool {
        self.0.has_sixth_form
    }

    /// The day the school opened or is due to open (GIAS `OpenDate`, or set through
    /// `schoolCreate`/`schoolUpdate`); null when unknown or before 2000. A school is new, for
    /// fee rules that select new schools (`newSchool`), in the academic year it opens and the
    /// two after.
    async fn opened_on(&self) -> Option<Date> {
        self.0.opened_on.map(Into::into)
    }

    /// System-leadership designations the school holds.
    async fn designations(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<Designation>> {
        let list = list_of(ctx.trellis()?.loaders.designations(), self.0.id).await?;
        Ok(list.into_iter().map(Into::into).collect())
    }

    /// The school's memberships of the partnership, newest year first. Empty unless you
    /// may read this school's memberships (its own staff, partnership staff,
    /// `membership:read` keys).
    async fn memberships(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<Vec<crate::graphql::membership::types::MembershipNode>> {
        if let Prefetched::Read(list) = &self.1 {
            return Ok(list
                .iter()
                .cloned()
                .map(crate::graphql::membership::types::MembershipNode::from)
                .collect());
        }
        let rc = ctx.trellis()?;
        load_list(
            rc.loaders.school_memberships(),
            self.0.id,
            crate::graphql::membership::types::MembershipNode::from,
        )
        .await
    }

    /// What the school's membership gives it in a year: each item with its entitlement,
    /// used and remaining, and the ledger behind them. Null unless you may read this
    /// school's offer (its own staff, partnership staff, `offer:read` keys).
    async fn offer(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The academic year, written as schools write it, e.g. `2026/27`.")]
        academic_year: crate::graphql::scalars::AcademicYearScalar,
    ) -> async_graphql::Result<Option<crate::graphql::offer::types::SchoolOfferNode>> {
        let rc = ctx.trellis()?;
        let year = academic_year.0;
        Ok(offer::may_read(&rc.actor, self.0.id).then(|| {
            crate::graphql::offer::types::SchoolOfferNode {
                school: self.0.id,
                year,
                membership: match &self.1 {
                    Prefetched::Read(list) => {
                        Prefetched::Read(list.iter().find(|m| m.membership.year == year).cloned())
                    }
                    Prefetched::Unread => Prefetched::Unread,
                },
            }
        }))
    }

    /// The account that pays for the school. Null unless you may read its billing (its own
    /// leaders, partnership finance and admins, `billing:read` keys) or when it has none.
    async fn billing_account(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<Option<crate::graphql::billing::types::AccountNode>> {
        let rc = ctx.trellis()?;
        Ok(rc
            .loaders
            .school_accounts()
            .load_one(self.0.id)
            .await?
            .map(crate::graphql::billing::types::AccountNode))
    }

    /// The peer reviews this school hosts that you may read (its own leaders, the review
    /// teams, partnership staff, and schools the host shared a report with), by cycle.
    async fn reviews(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<Vec<crate::graphql::peer_review::types::ReviewNode>> {
        let rc = ctx.trellis()?;
        load_list(
            rc.loaders.school_reviews(),
            self.0.id,
            crate::graphql::peer_review::types::ReviewNode,
        )
        .await
    }

    /// The most recent Ofsted inspection; null if none is recorded.
    async fn ofsted(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<OfstedInspection>> {
        let list = list_of(ctx.trellis()?.loaders.inspections(), self.0.id).await?;
        Ok(list.into_iter().next().map(OfstedInspection::from))
    }

    /// Every recorded Ofsted inspection, newest first, each in its framework's terms.
    async fn ofsted_history(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<Vec<OfstedInspection>> {
        let list = list_of(ctx.trellis()?.loaders.inspections(), self.0.id).await?;
        Ok(list.into_iter().map(OfstedInspection::from).collect())
    }

    /// True for the invented schools of the demo data set.
    async fn is_demo(&self) -> bool {
        self.0.is_demo
    }

    /// The partnerships this school belongs to, by name, with its role in each.
    #[graphql(complexity = "crate::graphql::relay::page_cost(first, last, child_complexity)")]
    async fn partnerships(
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
        Connection<
            String,
            PartnershipNode,
            ListCount,
            MemberFields,
            SchoolPartnershipConnectionName,
            SchoolPartnershipEdgeName,
        >,
    > {
        let args = page_args(first, after.as_deref(), last, before.as_deref())?;
        let rc = ctx.trellis()?;
        let all = list_of(rc.loaders.memberships(), self.0.id).await?;
        let total = all.len();
        let page = membership::Page::from_sorted(all, &args, |p| p.member.sort_key.clone());
        Ok(connection(page, ListCount(total), |place| {
            let fields = MemberFields::from(&place.member);
            (
                place.member.sort_key,
                PartnershipNode(place.partnership),
                fields,
            )
        }))
    }

    /// When it was first recorded in Trellis.
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }

    /// When it last changed.
    async fn updated_at(&self) -> DateTime<Utc> {
        self.0.updated_at
    }

    /// The school's traded-service bookings in the order they were made, optionally of some
    /// statuses only: its own leaders and staff and partnership staff. Empty for everyone
    /// else. `first`/`last` take 1–100.
    #[allow(
        clippy::too_many_arguments,
        reason = "Relay paging plus a status filter"
    )]
    #[graphql(complexity = "crate::graphql::relay::page_cost(first, last, child_complexity)")]
    async fn bookings(
        &self,
        ctx: &Context<'_>,
        #[graphql(
            default,
            desc = "Only bookings in these statuses; empty: every status."
        )]
        status: Vec<crate::graphql::traded::enums::BookingStatus>,
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
        Connection<
            String,
            crate::graphql::traded::types::BookingNode,
            ListCount,
            crate::graphql::relay::NoEdgeFields,
            SchoolBookingConnectionName,
            SchoolBookingEdgeName,
        >,
    > {
        let args =
            page_args::<traded::BookingKey>(first, after.as_deref(), last, before.as_deref())?;
        let rc = ctx.trellis()?;
        let wanted: Vec<traded::BookingStatus> = status.into_iter().map(Into::into).collect();
        let all: Vec<traded::Booking> = list_of(rc.loaders.school_bookings(), self.0.id)
            .await?
            .into_iter()
            .filter(|b| wanted.is_empty() || wanted.contains(&b.status))
            .collect();
        let total = all.len();
        let key = |b: &traded::Booking| (b.id.as_uuid(), b.id.as_uuid());
        let page = membership::Page::from_sorted(all, &args, key);
        Ok(connection(page, ListCount(total), |b| {
            (
                key(&b),
                crate::graphql::traded::types::BookingNode(b),
                crate::graphql::relay::NoEdgeFields,
            )
        }))
    }
}

/// Pupils on roll.
#[derive(SimpleObject, Debug, Clone)]
pub struct Roll {
    /// Pupils on roll on that day.
    pub number_on_roll: i32,
    /// Which census the number comes from.
    pub census: RollCensus,
    /// The census day the number is from.
    pub census_date: Date,
}

impl From<membership::school::types::Roll> for Roll {
    fn from(r: membership::school::types::Roll) -> Self {
        Self {
            number_on_roll: i32::try_from(r.number_on_roll).unwrap_or(i32::MAX),
            census: r.census.into(),
            census_date: r.census_date.into(),
        }
    }
}

/// A roll in a school's history.
#[derive(SimpleObject, Debug, Clone)]
pub struct RecordedRoll {
    #[graphql(flatten)]
    pub roll: Roll,
    /// Where the figure came from.
    pub source: RollSource,
    /// When Trellis recorded it.
    pub recorded_at: DateTime<Utc>,
}

/// An Ofsted inspection, in the terms of the framework it was made under.
#[derive(Union, Debug, Clone)]
pub enum OfstedInspection {
    Graded(GradedInspection),
    ReportCard(ReportCardInspection),
}

/// An inspection under the pre-November-2025 framework: one overall grade.
#[derive(SimpleObject, Debug, Clone)]
pub struct GradedInspection {
    /// The day of the inspection.
    pub inspected_on: Date,
    /// The overall-effectiveness grade it gave.
    pub overall_effectiveness: OverallGrade,
}

/// An inspection under the 2025 framework: a grade per evaluation area and a safeguarding judgement.
#[derive(SimpleObject, Debug, Clone)]
pub struct ReportCardInspection {
    /// The day of the inspection.
    pub inspected_on: Date,
    /// Each evaluation area inspected, with its grade.
    pub areas: Vec<AreaGrade>,
    /// Whether safeguarding was judged met.
    pub safeguarding_met: bool,
}

/// One evaluation area of a report-card inspection and its grade.
#[derive(SimpleObject, Debug, Clone)]
pub struct AreaGrade {
    /// The evaluation area.
    pub area: ReportCardArea,
    /// Its grade on the report card's five-point scale.
    pub grade: ReportCardGrade,
}

impl From<Inspection> for OfstedInspection {
    fn from(i: Inspection) -> Self {
        match i.outcome {
            Outcome::Graded(grade) => Self::Graded(GradedInspection {
                inspected_on: i.inspected_on.into(),
                overall_effectiveness: grade.into(),
            }),
            Outcome::ReportCard(card) => Self::ReportCard(ReportCardInspection {
                inspected_on: i.inspected_on.into(),
                areas: card
                    .areas
                    .into_iter()
                    .map(|a| AreaGrade {
                        area: a.area.into(),
                        grade: a.grade.into(),
                    })
                    .collect(),
                safeguarding_met: card.safeguarding_met,
            }),
        }
    }
}

#[derive(Debug, Clone)]
pub struct PartnershipNode(pub Partnership);

/// A partnership of schools.
#[Object(name = "Partnership")]
impl PartnershipNode {
    /// Global id: opaque and stable; `node(id:)` finds it again.
    pub async fn id(&self) -> ID {
        self.0.id.to_global()
    }

    /// The partnership's name.
    async fn name(&self) -> &str {
        &self.0.name
    }

    /// How tightly it binds its schools.
    async fn kind(&self) -> PartnershipKind {
        self.0.kind.into()
    }

    /// The area it serves, e.g. "Barnet – Finchley".
    async fn area(&self) -> &str {
        &self.0.area
    }

    /// What the partnership is, in its own words.
    async fn description(&self) -> &str {
        &self.0.description
    }

    /// The lead school, if the partnership has one.
    async fn lead_school(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<SchoolNode>> {
        let rc = ctx.trellis()?;
        let Some(lead) = rc.loaders.leads().load_one(self.0.id).await? else {
            return Ok(None);
        };
        Ok(rc
            .loaders
            .schools()
            .load_one(lead)
            .await?
            .map(SchoolNode::from))
    }

    /// Member schools, by name, with each one's role.
    #[graphql(complexity = "crate::graphql::relay::page_cost(first, last, child_complexity)")]
    async fn members(
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
        Connection<
            String,
            SchoolNode,
            ListCount,
            MemberFields,
            PartnershipMemberConnectionName,
            PartnershipMemberEdgeName,
        >,
    > {
        let args = page_args(first, after.as_deref(), last, before.as_deref())?;
        let rc = ctx.trellis()?;
        let all = list_of(rc.loaders.members(), self.0.id).await?;
        let total = all.len();
        let page = membership::Page::from_sorted(all, &args, |m| m.sort_key.clone());
        let ids: Vec<_> = page.items.iter().map(|m| m.school_id).collect();
        let schools = rc.loaders.schools().load_many(ids).await?;
        let page = membership::Page {
            items: page
                .items
                .into_iter()
                .filter_map(|m| schools.get(&m.school_id).cloned().map(|s| (s, m)))
                .collect(),
            has_next_page: page.has_next_page,
            has_previous_page: page.has_previous_page,
        };
        Ok(connection(page, ListCount(total), |(s, m)| {
            (
                m.sort_key.clone(),
                SchoolNode::from(s),
                MemberFields::from(&m),
            )
        }))
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

/// What an edge between a school and a partnership says about the membership.
#[derive(SimpleObject, Debug, Clone)]
pub struct MemberFields {
    /// The school's role in the partnership.
    pub role: MemberRole,
    /// When the school joined, if recorded.
    pub joined_on: Option<Date>,
}

impl From<&Member> for MemberFields {
    fn from(m: &Member) -> Self {
        Self {
            role: m.role.into(),
            joined_on: m.joined_on.map(Date),
        }
    }
}

#[derive(Debug, Clone, Copy)]
pub struct ListCount(pub usize);

/// `totalCount` of a list loaded whole (a school's partnerships, a partnership's members).
#[Object]
impl ListCount {
    /// How many items the whole list has, across pages.
    async fn total_count(&self) -> i32 {
        crate::graphql::int::saturating(self.0)
    }
}

#[derive(Debug, Clone)]
pub struct SchoolCount(pub SchoolFilter);

/// `totalCount` of the school directory, counted only when asked for.
#[Object]
impl SchoolCount {
    /// How many schools match the filter, across pages.
    async fn total_count(&self, ctx: &Context<'_>) -> async_graphql::Result<i32> {
        let rc = ctx.trellis()?;
        let n = school::count(&rc.db, &rc.actor, &self.0)
            .await
            .map_err(to_graphql)?;
        Ok(crate::graphql::int::saturating(n))
    }
}

#[derive(Debug, Clone)]
pub struct PartnershipCount(pub PartnershipFilter);

/// `totalCount` of the partnership list, counted only when asked for.
#[Object]
impl PartnershipCount {
    /// How many partnerships match the filter, across pages.
    async fn total_count(&self, ctx: &Context<'_>) -> async_graphql::Result<i32> {
        let rc = ctx.trellis()?;
        let n = partnership::count(&rc.db, &rc.actor, &self.0)
            .await
            .map_err(to_graphql)?;
        Ok(crate::graphql::int::saturating(n))
    }
}

macro_rules! names {
    ($($conn:ident => $cname:literal, $edge:ident => $ename:literal;)*) => {$(
        #[derive(Debug)]
        pub struct $conn;
        impl ConnectionNameType for $conn {
            fn type_name<T: OutputType>() -> String { $cname.to_owned() }
        }
        #[derive(Debug)]
        pub struct $edge;
        impl EdgeNameType for $edge {
            fn type_name<T: OutputType>() -> String { $ename.to_owned() }
        }
    )*};
}

names! {
    SchoolPartnershipConnectionName => "SchoolPartnershipConnection", SchoolPartnershipEdgeName => "SchoolPartnershipEdge";
    PartnershipMemberConnectionName => "PartnershipMemberConnection", PartnershipMemberEdgeName => "PartnershipMemberEdge";
    SchoolBookingConnectionName => "SchoolBookingConnection", SchoolBookingEdgeName => "SchoolBookingEdge";
}
