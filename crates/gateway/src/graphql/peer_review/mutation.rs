//! The peer-review workflow. Staff run cycles, reviewers and groups; host schools schedule,
//! self-review, agree and consent; teams write the report. Anything the caller can fix comes
//! back as `userErrors` with nothing changed; a review the caller may not read is NOT_FOUND.

use async_graphql::{Context, ID, InputObject, Object, SimpleObject};
use kernel::{
    DomainError, FindingId, FollowUpActionId, ReviewCycleId, ReviewGroupId, ReviewId, ReviewerId,
    SchoolId, SupportRequestId, UserId,
};
use peer_review::cycles::{self, CycleChanges, NewCycle};
use peer_review::groups;
use peer_review::report::{self, NewAction, NewFinding};
use peer_review::reviewers::{self, NewReviewer};
use peer_review::reviews::{self, Review, ScheduleInput, SelfReviewInput};

use super::enums::{
    FollowUpActionStatus, ReviewFindingKind, ReviewStatus, ReviewTeamRole, SharingConsentScope,
    TrainingStatus,
};
use super::types::{
    ActionNode, AreaEvaluationNode, ConsentNode, FindingNode, FrameworkInput, ReviewCycleNode,
    ReviewGroupsNode, ReviewNode, ReviewerNode, RulesNode, SupportRequestNode, WindowsNode,
};
use crate::graphql::context::{ContextExt, RequestContext};
use crate::graphql::errors::{UserError, payload};
use crate::graphql::int;
use crate::graphql::relay::{GlobalId, expect_input};
use crate::graphql::scalars::{AcademicYearScalar, Date};

/// Input to `reviewCycleCreate`.
#[derive(InputObject, Debug)]
pub struct ReviewCycleCreateInput {
    /// The academic year, e.g. `2026/27`.
    pub academic_year: AcademicYearScalar,
    /// The cycle's name.
    pub name: String,
    /// The areas and enquiry questions reviews look at.
    pub framework: FrameworkInput,
    /// When self-reviews, visits and follow-up happen.
    pub windows: WindowsNode,
    /// Defaults: triads, no two schools of a trust together, not with last year's group,
    /// a trained lead reviewer in every group.
    pub rules: Option<RulesNode>,
}

/// Input to `reviewCycleUpdate`. Fields left out are unchanged.
#[derive(InputObject, Debug)]
pub struct ReviewCycleUpdateInput {
    /// Global id of the review cycle.
    pub id: ID,
    /// The cycle's name.
    pub name: Option<String>,
    /// The areas and enquiry questions reviews look at.
    pub framework: Option<FrameworkInput>,
    /// When self-reviews, visits and follow-up happen.
    pub windows: Option<WindowsNode>,
    /// The rules groups are formed by.
    pub rules: Option<RulesNode>,
}

/// Input to `reviewCycleSetParticipants`.
#[derive(InputObject, Debug)]
pub struct ReviewCycleSetParticipantsInput {
    /// Global id of the peer-review cycle.
    pub cycle_id: ID,
    /// Every participating school (replaces the list).
    pub school_ids: Vec<ID>,
}

/// What `reviewCycleCreate`, `reviewCycleUpdate` and `reviewCycleSetParticipants` did: the changed
/// record, or `userErrors` saying why nothing changed.
#[derive(SimpleObject, Debug)]
pub struct ReviewCyclePayload {
    /// The review cycle as the mutation left it; null when `userErrors` says why nothing changed.
    pub review_cycle: Option<ReviewCycleNode>,
    /// Why nothing changed, each naming the input field and a code; empty when the mutation
    /// succeeded.
    pub user_errors: Vec<UserError>,
}

impl ReviewCyclePayload {
    fn from(result: Result<cycles::Cycle, DomainError>) -> async_graphql::Result<Self> {
        let (cycle, user_errors) = payload(result)?;
        Ok(Self {
            review_cycle: cycle.map(ReviewCycleNode),
            user_errors,
        })
    }
}

/// Input to `reviewerRegister`.
#[derive(InputObject, Debug)]
pub struct ReviewerRegisterInput {
    /// A school leader.
    pub user_id: ID,
    /// The school they lead in (one of theirs).
    pub school_id: ID,
    /// How far the reviewer has been trained.
    pub training: TrainingStatus,
    /// When the reviewer completed their training, if they have.
    pub trained_on: Option<Date>,
}

/// Input to `reviewerUpdateTraining`.
#[derive(InputObject, Debug)]
pub struct ReviewerUpdateTrainingInput {
    /// Global id of the reviewer.
    pub id: ID,
    /// How far the reviewer has now been trained.
    pub training: TrainingStatus,
    /// When the reviewer completed their training.
    pub trained_on: Option<Date>,
}

/// What `reviewerRegister` and `reviewerUpdateTraining` did: the changed record, or `userErrors`
/// saying why nothing changed.
#[derive(SimpleObject, Debug)]
pub struct ReviewerPayload {
    /// The reviewer as the mutation left it; null when `userErrors` says why nothing changed.
    pub reviewer: Option<ReviewerNode>,
    /// Why nothing changed, each naming the input field and a code; empty when the mutation
    /// succeeded.
    pub user_errors: Vec<UserError>,
}

impl ReviewerPayload {
    fn from(result: Result<reviewers::Reviewer, DomainError>) -> async_graphql::Result<Self> {
        let (reviewer, user_errors) = payload(result)?;
        Ok(Self {
            reviewer: reviewer.map(ReviewerNode),
            user_errors,
        })
    }
}

/// Input to `reviewGroupsPropose`.
#[derive(InputObject, Debug)]
pub struct ReviewGroupsProposeInput {
    /// Global id of the peer-review cycle.
    pub cycle_id: ID,
}

/// Input to `reviewGroupsMoveSchool`.
#[derive(InputObject, Debug)]
pub struct ReviewGroupsMoveSchoolInput {
    /// Global id of the peer-review cycle.
    pub cycle_id: ID,
    /// Global id of the school.
    pub school_id: ID,
    /// The group to move it to.
    pub group_id: ID,
}

/// Input to `reviewGroupsConfirm`.
#[derive(InputObject, Debug)]
pub struct ReviewGroupsConfirmInput {
    /// Global id of the peer-review cycle.
    pub cycle_id: ID,
}

/// What `reviewGroupsPropose` and `reviewGroupsMoveSchool` did: the changed record, or `userErrors`
/// saying why nothing changed.
#[derive(SimpleObject, Debug)]
pub struct ReviewGroupsPayload {
    /// The groups with their explanation, and the rules they break now as warnings.
    pub groups: Option<ReviewGroupsNode>,
    /// Why nothing changed, each naming the input field and a code; empty when the mutation
    /// succeeded.
    pub user_errors: Vec<UserError>,
}

impl ReviewGroupsPayload {
    fn from(result: Result<groups::Groups, DomainError>) -> async_graphql::Result<Self> {
        let (groups, user_errors) = payload(result)?;
        Ok(Self {
            groups: groups.map(ReviewGroupsNode),
            user_errors,
        })
    }
}

/// What `reviewGroupsConfirm` did: the changed record, or `userErrors` saying why nothing changed.
#[derive(SimpleObject, Debug)]
pub struct ReviewGroupsConfirmPayload {
    /// The reviews created: every school hosts once, reviewed by the rest of its group.
    pub reviews: Option<Vec<ReviewNode>>,
    /// Why nothing changed, each naming the input field and a code; empty when the mutation
    /// succeeded.
    pub user_errors: Vec<UserError>,
}

/// Input to `reviewSchedule`.
#[derive(InputObject, Debug)]
pub struct ReviewScheduleInput {
    /// Global id of the review.
    pub id: ID,
    /// Inside the cycle's visit window.
    pub visit_starts_on: Date,
    /// The visit's last day; inside the cycle's visit window.
    pub visit_ends_on: Date,
    /// What the host school wants the review to look into.
    pub enquiry_focus: String,
}

/// One reviewer on a review's team.
#[derive(InputObject, Debug)]
pub struct ReviewTeamMemberInput {
    /// Global id of the reviewer.
    pub reviewer_id: ID,
    /// Lead (exactly one per team) or member.
    pub role: ReviewTeamRole,
}

/// Input to `reviewSetTeam`.
#[derive(InputObject, Debug)]
pub struct ReviewSetTeamInput {
    /// Global id of the review.
    pub id: ID,
    /// The whole team: one LEAD (a trained lead reviewer), none from the host school.
    pub members: Vec<ReviewTeamMemberInput>,
}

/// Input to `reviewAdvance`.
#[derive(InputObject, Debug)]
pub struct ReviewAdvanceInput {
    /// Global id of the review.
    pub id: ID,
    /// The next status: VISITED, REPORT_DRAFT, AGREED or PUBLISHED_TO_PARTNERSHIP
    /// (SCHEDULED is reached through `reviewSchedule`).
    pub to: ReviewStatus,
}

/// Input to `reviewSelfReviewSubmit`.
#[derive(InputObject, Debug)]
pub struct ReviewSelfReviewSubmitInput {
    /// Global id of the review.
    pub id: ID,
    /// The host school's summary of its self-review.
    pub summary: String,
    /// At most one per framework area, on the cycle's scale.
    #[graphql(default)]
    pub evaluations: Vec<AreaEvaluationNode>,
}

/// Input to `reviewReportSetSummary`.
#[derive(InputObject, Debug)]
pub struct ReviewReportSetSummaryInput {
    /// Global id of the review.
    pub id: ID,
    /// The report's summary, replacing the draft's.
    pub summary: String,
}

/// What `reviewSchedule`, `reviewSetTeam`, `reviewAdvance`, `reviewSelfReviewSubmit` and
/// `reviewReportSetSummary` did: the changed record, or `userErrors` saying why nothing changed.
#[derive(SimpleObject, Debug)]
pub struct ReviewPayload {
    /// The review as the mutation left it; null when `userErrors` says why nothing changed.
    pub review: Option<ReviewNode>,
    /// Why nothing changed, each naming the input field and a code; empty when the mutation
    /// succeeded.
    pub user_errors: Vec<UserError>,
}

impl ReviewPayload {
    fn from(result: Result<Review, DomainError>) -> async_graphql::Result<Self> {
        let (review, user_errors) = payload(result)?;
        Ok(Self {
            review: review.map(ReviewNode),
            user_errors,
        })
    }
}

/// The review as stored now (not from the request's loader cache, which may predate the change).
async fn fresh(rc: &RequestContext, id: ReviewId) -> Result<Review, DomainError> {
    peer_review::visibility::visible_reviews(&rc.db, &rc.actor, &[id])
        .await?
        .remove(&id)
        .ok_or(DomainError::NotFound { entity: "Review" })
}

/// Input to `reviewFindingAdd`.
#[derive(InputObject, Debug)]
pub struct ReviewFindingAddInput {
    /// Global id of the review.
    pub review_id: ID,
    /// A strength or an area for development.
    pub kind: ReviewFindingKind,
    /// A key of the cycle framework's areas.
    pub area: String,
    /// A short label shared across reviews, which partnership themes count.
    #[graphql(default)]
    pub theme: String,
    /// The finding, in a sentence.
    pub summary: String,
    /// What the team saw that supports it.
    pub evidence: String,
    /// A key of the cycle framework's scale.
    pub evaluation: Option<String>,
}

/// Input to `reviewFindingRemove`.
#[derive(InputObject, Debug)]
pub struct ReviewFindingRemoveInput {
    /// Global id of the finding to remove.
    pub id: ID,
}

/// What `reviewFindingAdd` did: the changed record, or `userErrors` saying why nothing changed.
#[derive(SimpleObject, Debug)]
pub struct ReviewFindingPayload {
    /// The finding as the mutation left it; null when `userErrors` says why nothing changed.
    pub finding: Option<FindingNode>,
    /// Why nothing changed, each naming the input field and a code; empty when the mutation
    /// succeeded.
    pub user_errors: Vec<UserError>,
}

/// What `reviewFindingRemove` did: the changed record, or `userErrors` saying why nothing changed.
#[derive(SimpleObject, Debug)]
pub struct ReviewFindingRemovePayload {
    /// The removed finding's id.
    pub removed_id: Option<ID>,
    /// Why nothing changed, each naming the input field and a code; empty when the mutation
    /// succeeded.
    pub user_errors: Vec<UserError>,
}

/// Input to `reviewActionAdd`.
#[derive(InputObject, Debug)]
pub struct ReviewActionAddInput {
    /// Global id of the review.
    pub review_id: ID,
    /// The finding the action answers.
    pub finding_id: Option<ID>,
    /// What the host school will do.
    pub description: String,
    /// Who in the host school owns it.
    pub owner: String,
    /// When it should be done by; inside the cycle's follow-up window.
    pub due_on: Date,
}

/// Input to `reviewActionSetStatus`.
#[derive(InputObject, Debug)]
pub struct ReviewActionSetStatusInput {
    /// Global id of the follow-up action.
    pub id: ID,
    /// How far the host school has got with it.
    pub status: FollowUpActionStatus,
}

/// What `reviewActionAdd` and `reviewActionSetStatus` did: the changed record, or `userErrors`
/// saying why nothing changed.
#[derive(SimpleObject, Debug)]
pub struct FollowUpActionPayload {
    /// The action as the mutation left it; null when `userErrors` says why nothing changed.
    pub action: Option<ActionNode>,
    /// Why nothing changed, each naming the input field and a code; empty when the mutation
    /// succeeded.
    pub user_errors: Vec<UserError>,
}

impl FollowUpActionPayload {
    fn from(result: Result<report::Action, DomainError>) -> async_graphql::Result<Self> {
        let (action, user_errors) = payload(result)?;
        Ok(Self {
            action: action.map(ActionNode),
            user_errors,
        })
    }
}

/// Input to `reviewSupportRequest`.
#[derive(InputObject, Debug)]
pub struct ReviewSupportRequestInput {
    /// Global id of the action.
    pub action_id: ID,
    /// Another school of the partnership.
    pub providing_school_id: ID,
    /// What support the host school asks for.
    pub request: String,
}

/// Input to `reviewSupportRecordTime`.
#[derive(InputObject, Debug)]
pub struct ReviewSupportRecordTimeInput {
    /// Global id of the support request.
    pub id: ID,
    /// Total time given so far, in minutes: 1 to 5,460 (13 weeks of 7 hours).
    pub minutes_provided: i32,
}

/// What `reviewSupportRequest` and `reviewSupportRecordTime` did: the changed record, or
/// `userErrors` saying why nothing changed.
#[derive(SimpleObject, Debug)]
pub struct SupportRequestPayload {
    /// The support request as the mutation left it; null when `userErrors` says why nothing
    /// changed.
    pub support_request: Option<SupportRequestNode>,
    /// Why nothing changed, each naming the input field and a code; empty when the mutation
    /// succeeded.
    pub user_errors: Vec<UserError>,
}

impl SupportRequestPayload {
    fn from(result: Result<report::SupportRequest, DomainError>) -> async_graphql::Result<Self> {
        let (support, user_errors) = payload(result)?;
        Ok(Self {
            support_request: support.map(SupportRequestNode),
            user_errors,
        })
    }
}

/// Input to `reviewConsentRecord`.
#[derive(InputObject, Debug)]
pub struct ReviewConsentRecordInput {
    /// Global id of the review.
    pub review_id: ID,
    /// Who the host school agrees may read the report.
    pub scope: SharingConsentScope,
    /// The school that may read the report (scope SCHOOL only).
    pub school_id: Option<ID>,
}

/// What `reviewConsentRecord` did: the changed record, or `userErrors` saying why nothing changed.
#[derive(SimpleObject, Debug)]
pub struct SharingConsentPayload {
    /// The consent as the mutation left it; null when `userErrors` says why nothing changed.
    pub consent: Option<ConsentNode>,
    /// Why nothing changed, each naming the input field and a code; empty when the mutation
    /// succeeded.
    pub user_errors: Vec<UserError>,
}

#[derive(Default, Debug)]
pub struct PeerReviewMutation;

#[Object]
impl PeerReviewMutation {
    /// Open a cycle for an academic year. Partnership admins.
    async fn review_cycle_create(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "What to change; the rules for each field are on the input type.")] input: ReviewCycleCreateInput,
    ) -> async_graphql::Result<ReviewCyclePayload> {
        let rc = ctx.trellis()?;
        let new = NewCycle {
            academic_year: input.academic_year.0.start_year(),
            name: input.name,
            framework: input.framework.into(),
            windows: input.windows.into(),
            rules: input.rules.map(Into::into).unwrap_or_default(),
        };
        ReviewCyclePayload::from(
            cycles::create_cycle(&rc.db, rc.clock.as_ref(), &rc.actor, new).await,
        )
    }

    /// Change a cycle's name, framework, windows or rules. Partnership admins.
    async fn review_cycle_update(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "What to change; the rules for each field are on the input type.")] input: ReviewCycleUpdateInput,
    ) -> async_graphql::Result<ReviewCyclePayload> {
        let rc = ctx.trellis()?;
        let result = async {
            let id: ReviewCycleId = expect_input(&input.id, "id")?;
            let changes = CycleChanges {
                name: input.name,
                framework: input.framework.map(Into::into),
                windows: input.windows.map(Into::into),
                rules: input.rules.map(Into::into),
            };
            cycles::update_cycle(&rc.db, rc.clock.as_ref(), &rc.actor, id, changes).await
        }
        .await;
        ReviewCyclePayload::from(result)
    }

    /// Set the schools taking part. Partnership admins, before groups are confirmed.
    async fn review_cycle_set_participants(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "What to change; the rules for each field are on the input type.")] input: ReviewCycleSetParticipantsInput,
    ) -> async_graphql::Result<ReviewCyclePayload> {
        let rc = ctx.trellis()?;
        let result = async {
            let id: ReviewCycleId = expect_input(&input.cycle_id, "cycleId")?;
            let schools = input
                .school_ids
                .iter()
                .enumerate()
                .map(|(i, s)| expect_input::<SchoolId>(s, &format!("schoolIds.{i}")))
                .collect::<Result<Vec<_>, _>>()?;
            cycles::set_participants(&rc.db, rc.clock.as_ref(), &rc.actor, id, &schools).await?;
            cycles::cycle(&rc.db, &rc.actor, id).await
        }
        .await;
        ReviewCyclePayload::from(result)
    }

    /// Register a school leader as a reviewer. Partnership admins.
    async fn reviewer_register(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "What to change; the rules for each field are on the input type.")] input: ReviewerRegisterInput,
    ) -> async_graphql::Result<ReviewerPayload> {
        let rc = ctx.trellis()?;
        let result = async {
            let new = NewReviewer {
                user: expect_input::<UserId>(&input.user_id, "userId")?,
                school: expect_input::<SchoolId>(&input.school_id, "schoolId")?,
                training: input.training.into(),
                trained_on: input.trained_on.map(|d| d.0),
            };
            reviewers::register_reviewer(&rc.db, rc.clock.as_ref(), &rc.actor, new).await
        }
        .await;
        ReviewerPayload::from(result)
    }

    /// Record a reviewer's training. Partnership admins.
    async fn reviewer_update_training(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "What to change; the rules for each field are on the input type.")] input: ReviewerUpdateTrainingInput,
    ) -> async_graphql::Result<ReviewerPayload> {
        let rc = ctx.trellis()?;
        let result = async {
            let id: ReviewerId = expect_input(&input.id, "id")?;
            reviewers::update_training(
                &rc.db,
                rc.clock.as_ref(),
                &rc.actor,
                id,
                input.training.into(),
                input.trained_on.map(|d| d.0),
            )
            .await
        }
        .await;
        ReviewerPayload::from(result)
    }

    /// Propose groups for the cycle's participants (replacing an unconfirmed proposal), each
    /// explained. Partnership admins.
    async fn review_groups_propose(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "What to change; the rules for each field are on the input type.")] input: ReviewGroupsProposeInput,
    ) -> async_graphql::Result<ReviewGroupsPayload> {
        let rc = ctx.trellis()?;
        let result = async {
            let id: ReviewCycleId = expect_input(&input.cycle_id, "cycleId")?;
            groups::propose(&rc.db, rc.clock.as_ref(), &rc.actor, id).await
        }
        .await;
        ReviewGroupsPayload::from(result)
    }

    /// Move a school to another group of the proposal; the answer warns of the rules the
    /// groups now break. Partnership admins.
    async fn review_groups_move_school(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "What to change; the rules for each field are on the input type.")] input: ReviewGroupsMoveSchoolInput,
    ) -> async_graphql::Result<ReviewGroupsPayload> {
        let rc = ctx.trellis()?;
        let result = async {
            let id: ReviewCycleId = expect_input(&input.cycle_id, "cycleId")?;
            let school: SchoolId = expect_input(&input.school_id, "schoolId")?;
            let to: ReviewGroupId = expect_input(&input.group_id, "groupId")?;
            groups::move_school(&rc.db, rc.clock.as_ref(), &rc.actor, id, school, to).await
        }
        .await;
        ReviewGroupsPayload::from(result)
    }

    /// Confirm the groups: creates every group's reviews with the host rota and teams.
    /// Partnership admins.
    async fn review_groups_confirm(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "What to change; the rules for each field are on the input type.")] input: ReviewGroupsConfirmInput,
    ) -> async_graphql::Result<ReviewGroupsConfirmPayload> {
        let rc = ctx.trellis()?;
        let result = async {
            let id: ReviewCycleId = expect_input(&input.cycle_id, "cycleId")?;
            let created = groups::confirm(&rc.db, rc.clock.as_ref(), &rc.actor, id).await?;
            let mut found =
                peer_review::visibility::visible_reviews(&rc.db, &rc.actor, &created).await?;
            let mut list: Vec<Review> = created.iter().filter_map(|r| found.remove(r)).collect();
            list.sort_by_key(Review::sort_key);
            Ok(list)
        }
        .await;
        let (reviews, user_errors) = payload(result)?;
        Ok(ReviewGroupsConfirmPayload {
            reviews: reviews.map(|list| list.into_iter().map(ReviewNode).collect()),
            user_errors,
        })
    }

    /// PLANNING → SCHEDULED: set the visit dates and the enquiry focus. The host school's
    /// leaders or partnership staff.
    async fn review_schedule(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "What to change; the rules for each field are on the input type.")] input: ReviewScheduleInput,
    ) -> async_graphql::Result<ReviewPayload> {
        let rc = ctx.trellis()?;
        let result = async {
            let id: ReviewId = expect_input(&input.id, "id")?;
            let schedule = ScheduleInput {
                visit_starts_on: input.visit_starts_on.0,
                visit_ends_on: input.visit_ends_on.0,
                enquiry_focus: input.enquiry_focus,
            };
            reviews::schedule(&rc.db, rc.clock.as_ref(), &rc.actor, id, schedule).await
        }
        .await;
        ReviewPayload::from(result)
    }

    /// Set the whole team before the visit. Partnership admins.
    async fn review_set_team(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "What to change; the rules for each field are on the input type.")] input: ReviewSetTeamInput,
    ) -> async_graphql::Result<ReviewPayload> {
        let rc = ctx.trellis()?;
        let result = async {
            let id: ReviewId = expect_input(&input.id, "id")?;
            let members = input
                .members
                .iter()
                .enumerate()
                .map(|(i, m)| {
                    expect_input::<ReviewerId>(&m.reviewer_id, &format!("members.{i}.reviewerId"))
                        .map(|r| (r, m.role.into()))
                })
                .collect::<Result<Vec<_>, _>>()?;
            reviews::set_team(&rc.db, rc.clock.as_ref(), &rc.actor, id, &members).await?;
            fresh(rc, id).await
        }
        .await;
        ReviewPayload::from(result)
    }

    /// Move a review one step forward. Who may move it to each status: VISITED, partnership staff
    /// or the lead reviewer; REPORT_DRAFT, staff or the review team; AGREED, staff or the host
    /// school; PUBLISHED_TO_PARTNERSHIP, the host school only.
    async fn review_advance(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "What to change; the rules for each field are on the input type.")] input: ReviewAdvanceInput,
    ) -> async_graphql::Result<ReviewPayload> {
        let rc = ctx.trellis()?;
        let result = async {
            let id: ReviewId = expect_input(&input.id, "id")?;
            reviews::advance(&rc.db, rc.clock.as_ref(), &rc.actor, id, input.to.into()).await
        }
        .await;
        ReviewPayload::from(result)
    }

    /// Submit (or resubmit) the host school's self-review before the visit. Its leaders.
    async fn review_self_review_submit(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "What to change; the rules for each field are on the input type.")] input: ReviewSelfReviewSubmitInput,
    ) -> async_graphql::Result<ReviewPayload> {
        let rc = ctx.trellis()?;
        let result = async {
            let id: ReviewId = expect_input(&input.id, "id")?;
            let submission = SelfReviewInput {
                summary: input.summary,
                evaluations: input.evaluations.into_iter().map(Into::into).collect(),
            };
            reviews::submit_self_review(&rc.db, rc.clock.as_ref(), &rc.actor, id, submission)
                .await?;
            fresh(rc, id).await
        }
        .await;
        ReviewPayload::from(result)
    }

    /// Set the report's summary while the team drafts it.
    async fn review_report_set_summary(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "What to change; the rules for each field are on the input type.")] input: ReviewReportSetSummaryInput,
    ) -> async_graphql::Result<ReviewPayload> {
        let rc = ctx.trellis()?;
        let result = async {
            let id: ReviewId = expect_input(&input.id, "id")?;
            reviews::set_report_summary(&rc.db, rc.clock.as_ref(), &rc.actor, id, &input.summary)
                .await
        }
        .await;
        ReviewPayload::from(result)
    }

    /// Add a finding to a draft report. The team or partnership staff.
    async fn review_finding_add(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "What to change; the rules for each field are on the input type.")] input: ReviewFindingAddInput,
    ) -> async_graphql::Result<ReviewFindingPayload> {
        let rc = ctx.trellis()?;
        let result = async {
            let id: ReviewId = expect_input(&input.review_id, "reviewId")?;
            let new = NewFinding {
                kind: input.kind.into(),
                area: input.area,
                theme: input.theme,
                summary: input.summary,
                evidence: input.evidence,
                evaluation: input.evaluation,
            };
            report::add_finding(&rc.db, rc.clock.as_ref(), &rc.actor, id, new).await
        }
        .await;
        let (finding, user_errors) = payload(result)?;
        Ok(ReviewFindingPayload {
            finding: finding.map(FindingNode),
            user_errors,
        })
    }

    /// Remove a finding from a draft report. The team or partnership staff.
    async fn review_finding_remove(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "What to change; the rules for each field are on the input type.")] input: ReviewFindingRemoveInput,
    ) -> async_graphql::Result<ReviewFindingRemovePayload> {
        let rc = ctx.trellis()?;
        let result = async {
            let id: FindingId = expect_input(&input.id, "id")?;
            report::remove_finding(&rc.db, &rc.actor, id).await?;
            Ok(id)
        }
        .await;
        let (removed, user_errors) = payload(result)?;
        Ok(ReviewFindingRemovePayload {
            removed_id: removed.map(GlobalId::to_global),
            user_errors,
        })
    }

    /// Agree a follow-up action with an owner and a date.
    async fn review_action_add(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "What to change; the rules for each field are on the input type.")] input: ReviewActionAddInput,
    ) -> async_graphql::Result<FollowUpActionPayload> {
        let rc = ctx.trellis()?;
        let result = async {
            let id: ReviewId = expect_input(&input.review_id, "reviewId")?;
            let new = NewAction {
                finding: input
                    .finding_id
                    .as_ref()
                    .map(|f| expect_input::<FindingId>(f, "findingId"))
                    .transpose()?,
                description: input.description,
                owner: input.owner,
                due_on: input.due_on.0,
            };
            report::add_action(&rc.db, rc.clock.as_ref(), &rc.actor, id, new).await
        }
        .await;
        FollowUpActionPayload::from(result)
    }

    /// Record an action's progress. The host school's leaders or partnership staff.
    async fn review_action_set_status(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "What to change; the rules for each field are on the input type.")] input: ReviewActionSetStatusInput,
    ) -> async_graphql::Result<FollowUpActionPayload> {
        let rc = ctx.trellis()?;
        let result = async {
            let id: FollowUpActionId = expect_input(&input.id, "id")?;
            report::set_action_status(
                &rc.db,
                rc.clock.as_ref(),
                &rc.actor,
                id,
                input.status.into(),
            )
            .await
        }
        .await;
        FollowUpActionPayload::from(result)
    }

    /// Ask another school for school-to-school support towards an action.
    async fn review_support_request(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "What to change; the rules for each field are on the input type.")] input: ReviewSupportRequestInput,
    ) -> async_graphql::Result<SupportRequestPayload> {
        let rc = ctx.trellis()?;
        let result = async {
            let action: FollowUpActionId = expect_input(&input.action_id, "actionId")?;
            let school: SchoolId = expect_input(&input.providing_school_id, "providingSchoolId")?;
            report::request_support(
                &rc.db,
                rc.clock.as_ref(),
                &rc.actor,
                action,
                school,
                &input.request,
            )
            .await
        }
        .await;
        SupportRequestPayload::from(result)
    }

    /// Record the time the providing school has given (billing can pay for it).
    async fn review_support_record_time(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "What to change; the rules for each field are on the input type.")] input: ReviewSupportRecordTimeInput,
    ) -> async_graphql::Result<SupportRequestPayload> {
        let rc = ctx.trellis()?;
        let result = async {
            let id: SupportRequestId = expect_input(&input.id, "id")?;
            report::record_support_time(
                &rc.db,
                rc.clock.as_ref(),
                &rc.actor,
                id,
                int::unsigned(input.minutes_provided, "minutesProvided")?,
            )
            .await
        }
        .await;
        SupportRequestPayload::from(result)
    }

    /// The host school agrees to share its agreed report with a school or the partnership.
    async fn review_consent_record(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "What to change; the rules for each field are on the input type.")] input: ReviewConsentRecordInput,
    ) -> async_graphql::Result<SharingConsentPayload> {
        let rc = ctx.trellis()?;
        let result = async {
            let id: ReviewId = expect_input(&input.review_id, "reviewId")?;
            let school = input
                .school_id
                .as_ref()
                .map(|s| expect_input::<SchoolId>(s, "schoolId"))
                .transpose()?;
            report::record_consent(
                &rc.db,
                rc.clock.as_ref(),
                &rc.actor,
                id,
                input.scope.into(),
                school,
            )
            .await
        }
        .await;
        let (consent, user_errors) = payload(result)?;
        Ok(SharingConsentPayload {
            consent: consent.map(ConsentNode),
            user_errors,
        })
    }
}
