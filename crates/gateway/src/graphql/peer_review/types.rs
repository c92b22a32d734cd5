//! Cycles, groups, reviews and their reports as the API shows them.
//!
//! Visibility: a cycle is readable by anyone who takes part in peer review; groups, with
//! their explanation, by the staff who form them; a review by whoever
//! [`confidentiality::may_read_report`] lets read it. Roots and `node` never hand out a review
//! the caller may not read, and the report's fields re-check the rule themselves (they are
//! null otherwise), so a review reached through any edge shows its report only to its readers.

use async_graphql::connection::Connection;
use async_graphql::{Context, ID, InputObject, Object, SimpleObject};
use chrono::{DateTime, Utc};
use kernel::{DomainError, SchoolId};
use membership::NameKey;
use peer_review::cycles::{Cycle, GroupingRules};
use peer_review::grouping::{self, Reason, Relaxation, Violation};
use peer_review::groups::{self, Group, GroupWarning, Groups};
use peer_review::report::{Action, Consent, Finding, SupportRequest};
use peer_review::reviewers::Reviewer;
use peer_review::reviews::{self, AreaEvaluation, Review, SelfReview, TeamMember};
use peer_review::themes;
use peer_review::themes::Theme;
use peer_review::types::{CycleWindows, DateWindow, Framework, FrameworkItem};

use super::enums::{
    FollowUpActionStatus, GroupViolationKind, GroupingConstraint, PhaseBand, PlacementReasonKind,
    ReviewFindingKind, ReviewGroupsStatus, ReviewStatus, ReviewTeamRole, SharingConsentScope,
    TrainingStatus,
};
use crate::graphql::context::{ContextExt, RequestContext};
use crate::graphql::directory::types::{PartnershipNode, SchoolNode};
use crate::graphql::errors::{internal, to_graphql};
use crate::graphql::loaders::list_of;
use crate::graphql::relay::{GlobalId, NoEdgeFields, connection, page_args};
use crate::graphql::scalars::{AcademicYearScalar, Date};

/// The schools with these ids, in the order given (ids no longer in the directory are left out).
pub(super) async fn schools(
    rc: &RequestContext,
    ids: &[SchoolId],
) -> async_graphql::Result<Vec<SchoolNode>> {
    let found = rc.loaders.schools().load_many(ids.iter().copied()).await?;
    Ok(ids
        .iter()
        .filter_map(|id| found.get(id).cloned().map(SchoolNode::from))
        .collect())
}

async fn school(rc: &RequestContext, id: SchoolId) -> async_graphql::Result<SchoolNode> {
    rc.loaders
        .schools()
        .load_one(id)
        .await?
        .map(SchoolNode::from)
        .ok_or_else(|| internal(format!("school {id} missing from the directory")))
}

/// Whether the caller may read `review`'s report: the one rule, over batched reads.
pub(crate) async fn may_read(rc: &RequestContext, review: &Review) -> async_graphql::Result<bool> {
    Ok(rc
        .loaders
        .readable_reviews()
        .load_one(review.id)
        .await?
        .is_some())
}

/// One evaluation area or scale point of a framework.
#[derive(SimpleObject, Debug, Clone)]
#[graphql(name = "ReviewFrameworkItem")]
pub struct FrameworkItemNode {
    /// Stable upper-case handle findings refer to, e.g. `CURRICULUM`.
    pub key: String,
    /// How it reads.
    pub label: String,
}

impl From<FrameworkItem> for FrameworkItemNode {
    fn from(i: FrameworkItem) -> Self {
        Self {
            key: i.key,
            label: i.label,
        }
    }
}

/// What a cycle reviews against.
#[derive(SimpleObject, Debug, Clone)]
#[graphql(name = "ReviewFramework")]
pub struct FrameworkNode {
    /// The questions a review enquires into.
    pub enquiry_questions: Vec<String>,
    /// The areas a review looks at.
    pub areas: Vec<FrameworkItemNode>,
    /// Ordered from strongest to weakest.
    pub scale: Vec<FrameworkItemNode>,
}

impl From<Framework> for FrameworkNode {
    fn from(f: Framework) -> Self {
        Self {
            enquiry_questions: f.enquiry_questions,
            areas: f.areas.into_iter().map(Into::into).collect(),
            scale: f.scale.into_iter().map(Into::into).collect(),
        }
    }
}

/// One area or question of a review framework.
#[derive(InputObject, Debug, Clone)]
#[graphql(name = "ReviewFrameworkItemInput")]
pub struct FrameworkItemInput {
    /// 1–60 characters of A-Z, 0-9 and _; unique within the list.
    pub key: String,
    /// How it reads.
    pub label: String,
}

/// The areas and enquiry questions reviews of a cycle look at.
#[derive(InputObject, Debug, Clone)]
#[graphql(name = "ReviewFrameworkInput")]
pub struct FrameworkInput {
    /// The questions a review enquires into.
    pub enquiry_questions: Vec<String>,
    /// The areas a review looks at.
    pub areas: Vec<FrameworkItemInput>,
    /// Ordered from strongest to weakest.
    pub scale: Vec<FrameworkItemInput>,
}

impl From<FrameworkInput> for Framework {
    fn from(f: FrameworkInput) -> Self {
        let items = |list: Vec<FrameworkItemInput>| {
            list.into_iter()
                .map(|i| FrameworkItem {
                    key: i.key,
                    label: i.label,
                })
                .collect()
        };
        Self {
            enquiry_questions: f.enquiry_questions,
            areas: items(f.areas),
            scale: items(f.scale),
        }
    }
}

/// An inclusive range of dates.
#[derive(SimpleObject, InputObject, Debug, Clone, Copy)]
#[graphql(name = "DateWindow", input_name = "DateWindowInput")]
pub struct DateWindowNode {
    /// The window's first day.
    pub opens_on: Date,
    /// The window's last day.
    pub closes_on: Date,
}

impl From<DateWindow> for DateWindowNode {
    fn from(w: DateWindow) -> Self {
        Self {
            opens_on: w.opens_on.into(),
            closes_on: w.closes_on.into(),
        }
    }
}

impl From<DateWindowNode> for DateWindow {
    fn from(w: DateWindowNode) -> Self {
        Self {
            opens_on: w.opens_on.0,
            closes_on: w.closes_on.0,
        }
    }
}

/// A cycle's windows, in order: schools evaluate themselves, are visited, then follow up.
#[derive(SimpleObject, InputObject, Debug, Clone, Copy)]
#[graphql(name = "ReviewCycleWindows", input_name = "ReviewCycleWindowsInput")]
pub struct WindowsNode {
    /// When host schools submit their self-review.
    pub self_review: DateWindowNode,
    /// When visits take place.
    pub visits: DateWindowNode,
    /// When follow-up actions are worked on.
    pub follow_up: DateWindowNode,
}

impl From<CycleWindows> for WindowsNode {
    fn from(w: CycleWindows) -> Self {
        Self {
            self_review: w.self_review.into(),
            visits: w.visits.into(),
            follow_up: w.follow_up.into(),
        }
    }
}

impl From<WindowsNode> for CycleWindows {
    fn from(w: WindowsNode) -> Self {
        Self {
            self_review: w.self_review.into(),
            visits: w.visits.into(),
            follow_up: w.follow_up.into(),
        }
    }
}

/// The rules groups are formed under.
#[derive(SimpleObject, InputObject, Debug, Clone, Copy)]
#[graphql(name = "GroupingRules", input_name = "GroupingRulesInput")]
pub struct RulesNode {
    /// 3 (triads) to 7.
    pub target_group_size: u8,
    /// Let schools of the same trust or federation review each other.
    pub allow_same_hard_partnership: bool,
    /// Keep schools apart from last year's group where possible.
    pub avoid_last_year_groups: bool,
    /// Every group needs a trained lead reviewer.
    pub require_lead_reviewer: bool,
}

impl From<GroupingRules> for RulesNode {
    fn from(r: GroupingRules) -> Self {
        Self {
            target_group_size: r.target_group_size,
            allow_same_hard_partnership: r.allow_same_hard_partnership,
            avoid_last_year_groups: r.avoid_last_year_groups,
            require_lead_reviewer: r.require_lead_reviewer,
        }
    }
}

impl From<RulesNode> for GroupingRules {
    fn from(r: RulesNode) -> Self {
        Self {
            target_group_size: r.target_group_size,
            allow_same_hard_partnership: r.allow_same_hard_partnership,
            avoid_last_year_groups: r.avoid_last_year_groups,
            require_lead_reviewer: r.require_lead_reviewer,
        }
    }
}

#[derive(Debug, Clone)]
pub struct ReviewCycleNode(pub Cycle);

/// A peer-review cycle for one academic year.
#[Object(name = "ReviewCycle")]
impl ReviewCycleNode {
    /// Global id: opaque and stable; `node(id:)` finds it again.
    pub async fn id(&self) -> ID {
        self.0.id.to_global()
    }

    /// The academic year it belongs to, e.g. `2026/27`.
    async fn academic_year(&self) -> AcademicYearScalar {
        self.0.academic_year.into()
    }

    /// The cycle's name.
    async fn name(&self) -> &str {
        &self.0.name
    }

    /// The areas and enquiry questions reviews of the cycle look at.
    async fn framework(&self) -> FrameworkNode {
        self.0.framework.clone().into()
    }

    /// When self-reviews, visits and follow-up happen.
    async fn windows(&self) -> WindowsNode {
        self.0.windows.into()
    }

    /// The rules groups are formed by.
    async fn rules(&self) -> RulesNode {
        self.0.rules.into()
    }

    /// Whether groups are proposed, confirmed or not yet formed.
    async fn groups_status(&self) -> ReviewGroupsStatus {
        self.0.groups_status.into()
    }

    /// When staff confirmed the groups; null before.
    async fn groups_confirmed_at(&self) -> Option<DateTime<Utc>> {
        self.0.groups_confirmed_at
    }

    /// The participating schools, by name.
    async fn participants(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<SchoolNode>> {
        let rc = ctx.trellis()?;
        let ids = list_of(rc.loaders.cycle_participants(), self.0.id).await?;
        let mut list = schools(rc, &ids).await?;
        list.sort_by(|a, b| a.0.name.cmp(&b.0.name));
        Ok(list)
    }

    /// The participating schools' registered reviewers, school by school, best trained first.
    /// Empty unless you run peer review (partnership staff, who set review teams from it).
    async fn reviewers(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<ReviewerNode>> {
        let rc = ctx.trellis()?;
        let ids = list_of(rc.loaders.cycle_participants(), self.0.id).await?;
        let found = rc
            .loaders
            .school_reviewers()
            .load_many(ids.iter().copied())
            .await?;
        Ok(ids
            .iter()
            .filter_map(|s| found.get(s))
            .flatten()
            .cloned()
            .map(ReviewerNode)
            .collect())
    }

    /// The proposed or confirmed groups with their explanation and what they break now.
    /// Null unless you run peer review (partnership staff).
    async fn groups(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<ReviewGroupsNode>> {
        let rc = ctx.trellis()?;
        // The domain decides: those who may not see the groups get null, not an error.
        match groups::groups_of_cycle(&rc.db, &rc.actor, self.0.id).await {
            Ok(g) => Ok(Some(ReviewGroupsNode(g))),
            Err(DomainError::Forbidden(_)) => Ok(None),
            Err(other) => Err(to_graphql(other)),
        }
    }

    /// Every review of the cycle, by host school name. Partnership staff only (school leaders
    /// use `myReviews`). `first`/`last` take 1–100.
    #[graphql(complexity = "crate::graphql::relay::page_cost(first, last, child_complexity)")]
    async fn reviews(
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
    ) -> async_graphql::Result<Connection<String, ReviewNode, NoEdgeFields, NoEdgeFields>> {
        let args = page_args::<NameKey>(first, after.as_deref(), last, before.as_deref())?;
        let rc = ctx.trellis()?;
        let page = reviews::reviews_of_cycle(&rc.db, &rc.actor, self.0.id, &args)
            .await
            .map_err(to_graphql)?;
        Ok(connection(page, NoEdgeFields, |r| {
            (r.sort_key(), ReviewNode(r), NoEdgeFields)
        }))
    }

    /// Partnership-wide areas for development, in aggregate only (see `reviewThemes`).
    async fn themes(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<ReviewThemeNode>> {
        let rc = ctx.trellis()?;
        themes::themes(&rc.db, &rc.actor, self.0.id)
            .await
            .map(|list| list.into_iter().map(ReviewThemeNode::from).collect())
            .map_err(to_graphql)
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
pub struct ReviewGroupsNode(pub Groups);

/// A cycle's groups as they stand.
#[Object(name = "ReviewGroups")]
impl ReviewGroupsNode {
    /// Proposed (staff may still edit) or confirmed.
    async fn status(&self) -> ReviewGroupsStatus {
        self.0.status.into()
    }

    /// The groups, each with its schools.
    async fn groups(&self) -> Vec<ReviewGroupNode> {
        self.0.groups.iter().cloned().map(ReviewGroupNode).collect()
    }

    /// Rules the groups break now, re-checked against today's directory and reviewers
    /// (after staff moves, or because the directory changed).
    async fn warnings(&self) -> Vec<GroupWarningNode> {
        self.0
            .warnings
            .iter()
            .cloned()
            .map(GroupWarningNode)
            .collect()
    }
}

#[derive(Debug, Clone)]
pub struct ReviewGroupNode(pub Group);

/// A group of schools that review each other: every school hosts once, reviewed by the others.
#[Object(name = "ReviewGroup")]
impl ReviewGroupNode {
    /// Global id: opaque and stable; `node(id:)` finds it again.
    pub async fn id(&self) -> ID {
        self.0.id.to_global()
    }

    /// The cycle the group belongs to.
    async fn cycle(&self, ctx: &Context<'_>) -> async_graphql::Result<ReviewCycleNode> {
        let rc = ctx.trellis()?;
        rc.loaders
            .review_cycles()
            .load_one(self.0.cycle_id)
            .await?
            .map(ReviewCycleNode)
            .ok_or_else(|| internal(format!("group {} has no cycle", self.0.id)))
    }

    /// The group's place in the proposal (0 first).
    async fn position(&self) -> i32 {
        crate::graphql::int::saturating(self.0.position)
    }

    /// In rota order, each with why it is in this group.
    async fn members(&self) -> Vec<ReviewGroupMember> {
        self.0
            .members
            .iter()
            .map(|m| ReviewGroupMember {
                school_id: m.school_id,
                rota_position: m.rota_position,
                reasons: m.reasons.clone(),
            })
            .collect()
    }

    /// Constraints given up for this group because none of the proposals could keep them.
    async fn relaxations(&self) -> Vec<RelaxationNode> {
        self.0
            .relaxations
            .iter()
            .cloned()
            .map(RelaxationNode)
            .collect()
    }

    /// Who hosts in turn and who visits: every school hosts once and reviews the others.
    async fn rota(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<RotaVisitNode>> {
        let rc = ctx.trellis()?;
        let order: Vec<SchoolId> = self.0.members.iter().map(|m| m.school_id).collect();
        let found = rc
            .loaders
            .schools()
            .load_many(order.iter().copied())
            .await?;
        let node = |id: &SchoolId| {
            found
                .get(id)
                .cloned()
                .map(SchoolNode::from)
                .ok_or_else(|| internal(format!("school {id} missing from the directory")))
        };
        grouping::rota(&order)
            .into_iter()
            .map(|visit| {
                Ok(RotaVisitNode {
                    host: node(&visit.host)?,
                    reviewers: visit.reviewers.iter().map(node).collect::<Result<_, _>>()?,
                })
            })
            .collect()
    }

    /// When it was first recorded in Trellis.
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
}

#[derive(Debug, Clone)]
pub struct ReviewGroupMember {
    school_id: SchoolId,
    rota_position: u32,
    reasons: Vec<Reason>,
}

/// One school's place in a group.
#[Object]
impl ReviewGroupMember {
    /// The member school.
    async fn school(&self, ctx: &Context<'_>) -> async_graphql::Result<SchoolNode> {
        school(ctx.trellis()?, self.school_id).await
    }

    /// The school's turn to host (0 first).
    async fn rota_position(&self) -> i32 {
        crate::graphql::int::saturating(self.rota_position)
    }

    /// Why the school is where it is.
    async fn reasons(&self) -> Vec<PlacementReasonNode> {
        self.reasons
            .iter()
            .cloned()
            .map(PlacementReasonNode)
            .collect()
    }
}

#[derive(Debug, Clone)]
pub struct PlacementReasonNode(pub Reason);

/// Why a school is in its group.
#[Object(name = "PlacementReason")]
impl PlacementReasonNode {
    /// Why the school is in its group.
    async fn kind(&self) -> PlacementReasonKind {
        match self.0 {
            Reason::Phase { .. } => PlacementReasonKind::Phase,
            Reason::MovedAcrossPhase { .. } => PlacementReasonKind::MovedAcrossPhase,
            Reason::ProvidesLeadReviewer => PlacementReasonKind::ProvidesLeadReviewer,
            Reason::SharesHardPartnership { .. } => PlacementReasonKind::SharesHardPartnership,
            Reason::WithLastYearPeer { .. } => PlacementReasonKind::WithLastYearPeer,
        }
    }

    /// A sentence for staff.
    async fn message(&self) -> String {
        self.0.message()
    }

    /// The band the school was grouped in (PHASE and MOVED_ACROSS_PHASE).
    async fn band(&self) -> Option<PhaseBand> {
        match self.0 {
            Reason::Phase { band } => Some(band.into()),
            Reason::MovedAcrossPhase { to, .. } => Some(to.into()),
            _ => None,
        }
    }

    /// The school's own band, when it was moved out of it.
    async fn from_band(&self) -> Option<PhaseBand> {
        match self.0 {
            Reason::MovedAcrossPhase { from, .. } => Some(from.into()),
            _ => None,
        }
    }

    /// The trust or federation shared (SHARES_HARD_PARTNERSHIP).
    async fn partnership(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<Option<PartnershipNode>> {
        let Reason::SharesHardPartnership { partnership, .. } = self.0 else {
            return Ok(None);
        };
        Ok(ctx
            .trellis()?
            .loaders
            .partnerships()
            .load_one(partnership)
            .await?
            .map(PartnershipNode))
    }

    /// The other group members concerned (relaxed constraints).
    async fn with_schools(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<SchoolNode>> {
        let ids: &[SchoolId] = match &self.0 {
            Reason::SharesHardPartnership { with, .. } | Reason::WithLastYearPeer { with } => with,
            _ => &[],
        };
        schools(ctx.trellis()?, ids).await
    }
}

#[derive(Debug, Clone)]
pub struct RelaxationNode(pub Relaxation);

/// A constraint given up for one group, and why.
#[Object(name = "GroupRelaxation")]
impl RelaxationNode {
    /// The grouping rule that could not hold.
    async fn constraint(&self) -> GroupingConstraint {
        self.0.constraint.into()
    }

    /// The schools concerned (empty when the group as a whole is).
    async fn schools(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<SchoolNode>> {
        schools(ctx.trellis()?, &self.0.schools).await
    }

    /// Why, in a sentence finance and staff can read.
    async fn explanation(&self) -> &str {
        &self.0.explanation
    }
}

/// One visit of a group's rota.
#[derive(SimpleObject, Debug, Clone)]
#[graphql(name = "RotaVisit")]
pub struct RotaVisitNode {
    /// The school visited.
    pub host: SchoolNode,
    /// The other schools of the group, who send the review team.
    pub reviewers: Vec<SchoolNode>,
}

#[derive(Debug, Clone)]
pub struct GroupWarningNode(pub GroupWarning);

/// A rule a group breaks now.
#[Object(name = "GroupWarning")]
impl GroupWarningNode {
    /// The group the warning is about.
    async fn group(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<ReviewGroupNode>> {
        Ok(ctx
            .trellis()?
            .loaders
            .review_groups()
            .load_one(self.0.group)
            .await?
            .map(ReviewGroupNode))
    }

    /// Which rule the group breaks.
    async fn kind(&self) -> GroupViolationKind {
        match self.0.violation {
            Violation::Size { .. } => GroupViolationKind::Size,
            Violation::MixedPhase { .. } => GroupViolationKind::MixedPhase,
            Violation::SameHardPartnership { .. } => GroupViolationKind::SameHardPartnership,
            Violation::LastYearPeers { .. } => GroupViolationKind::LastYearPeers,
            Violation::NoLeadReviewer { .. } => GroupViolationKind::NoLeadReviewer,
        }
    }

    /// The rule broken; null for SIZE, which is not a rule that can be relaxed.
    async fn constraint(&self) -> Option<GroupingConstraint> {
        self.0.violation.constraint().map(Into::into)
    }

    /// The warning, in a sentence.
    async fn message(&self) -> String {
        self.0.violation.message()
    }

    /// The schools involved.
    async fn schools(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<SchoolNode>> {
        schools(ctx.trellis()?, &self.0.violation.schools()).await
    }
}

#[derive(Debug, Clone)]
pub struct ReviewerNode(pub Reviewer);

/// A school leader registered as a reviewer.
#[Object(name = "Reviewer")]
impl ReviewerNode {
    /// Global id: opaque and stable; `node(id:)` finds it again.
    pub async fn id(&self) -> ID {
        self.0.id.to_global()
    }

    /// The reviewer's name.
    async fn name(&self, ctx: &Context<'_>) -> async_graphql::Result<String> {
        user_name(ctx.trellis()?, self.0.user_id).await
    }

    /// The school the reviewer leads in, whose reviews they never join.
    async fn school(&self, ctx: &Context<'_>) -> async_graphql::Result<SchoolNode> {
        school(ctx.trellis()?, self.0.school_id).await
    }

    /// How far the reviewer has been trained.
    async fn training(&self) -> TrainingStatus {
        self.0.training.into()
    }

    /// When the reviewer completed their training, if recorded.
    async fn trained_on(&self) -> Option<Date> {
        self.0.trained_on.map(Into::into)
    }
}

async fn user_name(rc: &RequestContext, id: kernel::UserId) -> async_graphql::Result<String> {
    rc.loaders
        .users()
        .load_one(id)
        .await?
        .map(|u| u.name)
        .ok_or_else(|| internal(format!("reviewer user {id} missing")))
}

#[derive(Debug, Clone)]
pub struct TeamMemberNode(pub TeamMember);

/// A reviewer on a review's team.
#[Object(name = "ReviewTeamMember")]
impl TeamMemberNode {
    /// The reviewer.
    async fn reviewer(&self, ctx: &Context<'_>) -> async_graphql::Result<ReviewerNode> {
        ctx.trellis()?
            .loaders
            .reviewers()
            .load_one(self.0.reviewer_id)
            .await?
            .map(ReviewerNode)
            .ok_or_else(|| internal(format!("reviewer {} missing", self.0.reviewer_id)))
    }

    /// The reviewer's name.
    async fn name(&self, ctx: &Context<'_>) -> async_graphql::Result<String> {
        user_name(ctx.trellis()?, self.0.user_id).await
    }

    /// The reviewer's school.
    async fn school(&self, ctx: &Context<'_>) -> async_graphql::Result<SchoolNode> {
        school(ctx.trellis()?, self.0.school_id).await
    }

    /// Lead or member of the team.
    async fn role(&self) -> ReviewTeamRole {
        self.0.role.into()
    }

    /// How far the reviewer has been trained.
    async fn training(&self) -> TrainingStatus {
        self.0.training.into()
    }
}

/// One area's evaluation on the cycle's scale.
#[derive(SimpleObject, InputObject, Debug, Clone)]
#[graphql(name = "AreaEvaluation", input_name = "AreaEvaluationInput")]
pub struct AreaEvaluationNode {
    /// A key of the cycle framework's areas.
    pub area: String,
    /// A key of the cycle framework's scale.
    pub evaluation: String,
}

impl From<AreaEvaluation> for AreaEvaluationNode {
    fn from(e: AreaEvaluation) -> Self {
        Self {
            area: e.area,
            evaluation: e.evaluation,
        }
    }
}

impl From<AreaEvaluationNode> for AreaEvaluation {
    fn from(e: AreaEvaluationNode) -> Self {
        Self {
            area: e.area,
            evaluation: e.evaluation,
        }
    }
}

#[derive(Debug, Clone)]
pub struct SelfReviewNode(pub SelfReview);

/// The host school's evaluation of itself before the visit.
#[Object(name = "SelfReview")]
impl SelfReviewNode {
    /// The host school's summary.
    async fn summary(&self) -> &str {
        &self.0.summary
    }

    /// The host school's evaluation of each framework area.
    async fn evaluations(&self) -> Vec<AreaEvaluationNode> {
        self.0.evaluations.iter().cloned().map(Into::into).collect()
    }

    /// When it was submitted.
    async fn submitted_at(&self) -> DateTime<Utc> {
        self.0.submitted_at
    }
}

#[derive(Debug, Clone)]
pub struct FindingNode(pub Finding);

/// A strength or area for development the review found.
#[Object(name = "ReviewFinding")]
impl FindingNode {
    /// Global id: opaque and stable; `node(id:)` finds it again.
    pub async fn id(&self) -> ID {
        self.0.id.to_global()
    }

    /// A strength or an area for development.
    async fn kind(&self) -> ReviewFindingKind {
        self.0.kind.into()
    }

    /// A key of the cycle framework's areas.
    async fn area(&self) -> &str {
        &self.0.area
    }

    /// A short label shared across reviews, which partnership themes count.
    async fn theme(&self) -> &str {
        &self.0.theme
    }

    /// The finding, in a sentence.
    async fn summary(&self) -> &str {
        &self.0.summary
    }

    /// What the team saw that supports it.
    async fn evidence(&self) -> &str {
        &self.0.evidence
    }

    /// A key of the cycle framework's scale, when the finding evaluates its area.
    async fn evaluation(&self) -> Option<&str> {
        self.0.evaluation.as_deref()
    }

    /// When it was first recorded in Trellis.
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
}

#[derive(Debug, Clone)]
pub struct SupportRequestNode(pub SupportRequest);

/// Support another school gives towards an action; its time can be paid through billing.
#[Object(name = "SupportRequest")]
impl SupportRequestNode {
    /// Global id: opaque and stable; `node(id:)` finds it again.
    pub async fn id(&self) -> ID {
        self.0.id.to_global()
    }

    /// The school giving the support.
    async fn providing_school(&self, ctx: &Context<'_>) -> async_graphql::Result<SchoolNode> {
        school(ctx.trellis()?, self.0.providing_school_id).await
    }

    /// What support the host school asked for.
    async fn request(&self) -> &str {
        &self.0.request
    }

    /// When it was asked for.
    async fn requested_at(&self) -> DateTime<Utc> {
        self.0.requested_at
    }

    /// Time given so far, in minutes; null until recorded.
    async fn minutes_provided(&self) -> Option<i32> {
        self.0.minutes_provided.map(crate::graphql::int::saturating)
    }

    /// The same time in hours (two decimals), for people.
    async fn hours_provided(&self) -> Option<f64> {
        self.0
            .minutes_provided
            .map(|m| (f64::from(m) / 60.0 * 100.0).round() / 100.0)
    }

    /// When the support time was recorded; null until it is.
    async fn recorded_at(&self) -> Option<DateTime<Utc>> {
        self.0.recorded_at
    }
}

#[derive(Debug, Clone)]
pub struct ActionNode(pub Action);

/// An agreed follow-up action.
#[Object(name = "FollowUpAction")]
impl ActionNode {
    /// Global id: opaque and stable; `node(id:)` finds it again.
    pub async fn id(&self) -> ID {
        self.0.id.to_global()
    }

    /// The finding the action answers, if any (its global id).
    async fn finding_id(&self) -> Option<ID> {
        self.0.finding_id.map(GlobalId::to_global)
    }

    /// What the host school will do.
    async fn description(&self) -> &str {
        &self.0.description
    }

    /// Who in the host school owns it.
    async fn owner(&self) -> &str {
        &self.0.owner
    }

    /// When it should be done by; always inside the cycle's follow-up window.
    async fn due_on(&self) -> Date {
        self.0.due_on.into()
    }

    /// How far the host school has got with it.
    async fn status(&self) -> FollowUpActionStatus {
        self.0.status.into()
    }

    /// Support asked of another school for this action.
    async fn support(&self) -> Option<SupportRequestNode> {
        self.0.support.clone().map(SupportRequestNode)
    }

    /// When it last changed.
    async fn updated_at(&self) -> DateTime<Utc> {
        self.0.updated_at
    }
}

#[derive(Debug, Clone)]
pub struct ConsentNode(pub Consent);

/// The host school's recorded agreement to share its report.
#[Object(name = "SharingConsent")]
impl ConsentNode {
    /// Global id: opaque and stable; `node(id:)` finds it again.
    pub async fn id(&self) -> ID {
        self.0.id.to_global()
    }

    /// Who may read the report under it.
    async fn scope(&self) -> SharingConsentScope {
        self.0.scope.into()
    }

    /// The school shared with (scope SCHOOL).
    async fn school(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<SchoolNode>> {
        match self.0.school_id {
            Some(id) => school(ctx.trellis()?, id).await.map(Some),
            None => Ok(None),
        }
    }

    /// When the host school recorded it.
    async fn recorded_at(&self) -> DateTime<Utc> {
        self.0.recorded_at
    }
}

#[derive(Debug, Clone)]
pub struct ReviewNode(pub Review);

impl ReviewNode {
    /// The request context, if the caller may read this review's report.
    async fn reader<'a>(
        &self,
        ctx: &'a Context<'_>,
    ) -> async_graphql::Result<Option<&'a RequestContext>> {
        let rc = ctx.trellis()?;
        Ok(may_read(rc, &self.0).await?.then_some(rc))
    }
}

/// A review of one host school by the rest of its group.
#[Object(name = "Review")]
impl ReviewNode {
    /// Global id: opaque and stable; `node(id:)` finds it again.
    pub async fn id(&self) -> ID {
        self.0.id.to_global()
    }

    /// The cycle the review belongs to.
    async fn cycle(&self, ctx: &Context<'_>) -> async_graphql::Result<ReviewCycleNode> {
        ctx.trellis()?
            .loaders
            .review_cycles()
            .load_one(self.0.cycle_id)
            .await?
            .map(ReviewCycleNode)
            .ok_or_else(|| internal(format!("review {} has no cycle", self.0.id)))
    }

    /// The school reviewed.
    async fn host_school(&self, ctx: &Context<'_>) -> async_graphql::Result<SchoolNode> {
        school(ctx.trellis()?, self.0.host_school_id).await
    }

    /// Where the review is; it only moves forward.
    async fn status(&self) -> ReviewStatus {
        self.0.status.into()
    }

    /// The visit's first day, once scheduled.
    async fn visit_starts_on(&self) -> Option<Date> {
        self.0.visit_starts_on.map(Into::into)
    }

    /// The visit's last day, once scheduled.
    async fn visit_ends_on(&self) -> Option<Date> {
        self.0.visit_ends_on.map(Into::into)
    }

    /// The question the host asked the team to look into.
    async fn enquiry_focus(&self) -> &str {
        &self.0.enquiry_focus
    }

    /// The team, lead first. Null unless you may read the report.
    async fn team(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<Vec<TeamMemberNode>>> {
        let Some(rc) = self.reader(ctx).await? else {
            return Ok(None);
        };
        let mut team = list_of(rc.loaders.review_teams(), self.0.id).await?;
        team.sort_by_key(|m| m.role);
        Ok(Some(team.into_iter().map(TeamMemberNode).collect()))
    }

    /// The team's lead reviewer. Null unless you may read the report (or none is set).
    async fn lead_reviewer(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<Option<TeamMemberNode>> {
        let Some(rc) = self.reader(ctx).await? else {
            return Ok(None);
        };
        Ok(list_of(rc.loaders.review_teams(), self.0.id)
            .await?
            .into_iter()
            .find(|m| m.role == peer_review::types::TeamRole::Lead)
            .map(TeamMemberNode))
    }

    /// Where to download the agreed report (PDF: enquiry, team, findings with evaluations
    /// and evidence, agreed actions and support; the same path ending `.csv` gives the
    /// findings and actions as CSV). Null until the host has agreed the report, and unless
    /// you may read it.
    async fn report_url(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<String>> {
        Ok(self
            .reader(ctx)
            .await?
            .filter(|_| self.0.status.report_is_agreed())
            .map(|_| {
                format!(
                    "/reports/reviews/{}/report.pdf",
                    self.0.id.to_global().as_str()
                )
            }))
    }

    /// The report's summary. Null unless you may read the report.
    async fn report_summary(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<String>> {
        Ok(self
            .reader(ctx)
            .await?
            .map(|_| self.0.report_summary.clone()))
    }

    /// The host's self-review. Null until submitted, or unless you may read the report.
    async fn self_review(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<Option<SelfReviewNode>> {
        let Some(rc) = self.reader(ctx).await? else {
            return Ok(None);
        };
        Ok(rc
            .loaders
            .self_reviews()
            .load_one(self.0.id)
            .await?
            .map(SelfReviewNode))
    }

    /// Strengths and areas for development. Null unless you may read the report.
    async fn findings(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<Vec<FindingNode>>> {
        let Some(rc) = self.reader(ctx).await? else {
            return Ok(None);
        };
        Ok(Some(
            list_of(rc.loaders.review_findings(), self.0.id)
                .await?
                .into_iter()
                .map(FindingNode)
                .collect(),
        ))
    }

    /// Agreed follow-up actions, by due date. Null unless you may read the report.
    async fn actions(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<Vec<ActionNode>>> {
        let Some(rc) = self.reader(ctx).await? else {
            return Ok(None);
        };
        Ok(Some(
            list_of(rc.loaders.review_actions(), self.0.id)
                .await?
                .into_iter()
                .map(ActionNode)
                .collect(),
        ))
    }

    /// Who the host agreed to share the report with. Null unless you may read the report.
    async fn consents(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<Vec<ConsentNode>>> {
        let Some(rc) = self.reader(ctx).await? else {
            return Ok(None);
        };
        Ok(Some(
            list_of(rc.loaders.review_consents(), self.0.id)
                .await?
                .into_iter()
                .map(ConsentNode)
                .collect(),
        ))
    }

    /// When the host school agreed the report; null before.
    async fn agreed_at(&self) -> Option<DateTime<Utc>> {
        self.0.agreed_at
    }

    /// When the host school published the report to the partnership; null before.
    async fn published_at(&self) -> Option<DateTime<Utc>> {
        self.0.published_at
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

/// A partnership-wide area for development. Never names a school or a review, and only
/// themes raised in enough agreed reports are shown.
#[derive(SimpleObject, Debug, Clone)]
#[graphql(name = "ReviewTheme")]
pub struct ReviewThemeNode {
    /// A key of the cycle framework's areas.
    pub area: String,
    /// The framework area's label.
    pub area_label: String,
    /// The findings' shared theme label; empty for area-level findings.
    pub theme: String,
    /// In how many agreed reports of the cycle it was raised.
    pub reviews: i32,
}

impl From<Theme> for ReviewThemeNode {
    fn from(t: Theme) -> Self {
        Self {
            area: t.area,
            area_label: t.area_label,
            theme: t.theme,
            reviews: crate::graphql::int::saturating(t.reviews),
        }
    }
}
