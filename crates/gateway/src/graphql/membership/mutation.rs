//! Changing tiers and memberships. Staff enrol, activate and cancel; a school's leader accepts
//! the principles and answers the renewal offer. Anything the caller can fix comes back as
//! `userErrors` with nothing changed.

use async_graphql::{Context, ID, InputObject, Object, SimpleObject};
use kernel::{DomainError, MembershipId, SchoolId, TierId};
use membership::memberships::{self, Enrolment, Membership, NewTier, Tier, TierPatch};

use super::enums::{MembershipPrinciple, RenewalDecision};
use super::types::{MembershipNode, TierNode};
use crate::graphql::context::ContextExt;
use crate::graphql::errors::{UserError, payload};
use crate::graphql::int;
use crate::graphql::relay::expect_input;
use crate::graphql::scalars::{AcademicYearScalar, Date};

/// Input to `membershipTierCreate`.
#[derive(InputObject, Debug)]
pub struct MembershipTierCreateInput {
    /// Upper-case letters and underscores, e.g. `ASSOCIATE`; unique.
    pub code: String,
    /// The tier's name (e.g. Core, Enhanced); unique.
    pub name: String,
    /// What the tier includes, in the partnership's words.
    #[graphql(default)]
    pub description: String,
}

/// Input to `membershipTierUpdate`. Fields left out are unchanged.
#[derive(InputObject, Debug)]
pub struct MembershipTierUpdateInput {
    /// Global id of the membership tier.
    pub id: ID,
    /// The tier's name; unique.
    pub name: Option<String>,
    /// What the tier includes.
    pub description: Option<String>,
    /// False to stop offering the tier; memberships on it stay.
    pub active: Option<bool>,
}

/// What `membershipTierCreate` and `membershipTierUpdate` did: the changed record, or `userErrors`
/// saying why nothing changed.
#[derive(SimpleObject, Debug)]
pub struct MembershipTierPayload {
    /// The tier as the mutation left it; null when `userErrors` says why nothing changed.
    pub tier: Option<TierNode>,
    /// Why nothing changed, each naming the input field and a code; empty when the mutation
    /// succeeded.
    pub user_errors: Vec<UserError>,
}

impl MembershipTierPayload {
    fn from(result: Result<Tier, DomainError>) -> async_graphql::Result<Self> {
        let (tier, user_errors) = payload(result)?;
        Ok(Self {
            tier: tier.map(TierNode),
            user_errors,
        })
    }
}

/// Input to `membershipEnrol`.
#[derive(InputObject, Debug)]
pub struct MembershipEnrolInput {
    /// Global id of the school.
    pub school_id: ID,
    /// The academic year, e.g. `2026/27`.
    pub academic_year: AcademicYearScalar,
    /// Global id of the membership tier.
    pub tier_id: ID,
    /// For a mid-year joiner; defaults to the first day of the year.
    pub starts_on: Option<Date>,
}

/// Input to `membershipAcceptPrinciples`.
#[derive(InputObject, Debug)]
pub struct MembershipAcceptPrinciplesInput {
    /// Global id of the membership.
    pub id: ID,
    /// The principles the school's leader accepts.
    pub principles: Vec<MembershipPrinciple>,
}

/// Input to `membershipActivate`.
#[derive(InputObject, Debug)]
pub struct MembershipActivateInput {
    /// Global id of the membership.
    pub id: ID,
}

/// Input to `membershipCancel`.
#[derive(InputObject, Debug)]
pub struct MembershipCancelInput {
    /// Global id of the membership.
    pub id: ID,
    /// Why: kept on the record and shown to the school.
    pub reason: String,
}

/// Input to `membershipLapse`.
#[derive(InputObject, Debug)]
pub struct MembershipLapseInput {
    /// Global id of the membership.
    pub id: ID,
}

/// Input to `membershipRenewalRespond`.
#[derive(InputObject, Debug)]
pub struct MembershipRenewalRespondInput {
    /// The pending renewal.
    pub id: ID,
    /// Renew, or not.
    pub decision: RenewalDecision,
}

/// What `membershipEnrol`, `membershipAcceptPrinciples`, `membershipActivate`, `membershipCancel`,
/// `membershipLapse` and `membershipRenewalRespond` did: the changed record, or `userErrors` saying
/// why nothing changed.
#[derive(SimpleObject, Debug)]
pub struct MembershipPayload {
    /// The membership as the mutation left it; null when `userErrors` says why nothing changed.
    pub membership: Option<MembershipNode>,
    /// Why nothing changed, each naming the input field and a code; empty when the mutation
    /// succeeded.
    pub user_errors: Vec<UserError>,
}

impl MembershipPayload {
    fn from(result: Result<Membership, DomainError>) -> async_graphql::Result<Self> {
        let (membership, user_errors) = payload(result)?;
        Ok(Self {
            membership: membership.map(MembershipNode::new),
            user_errors,
        })
    }
}

/// Input to `membershipRenewalsOpen`.
#[derive(InputObject, Debug)]
pub struct MembershipRenewalsOpenInput {
    /// The year being renewed: its ACTIVE memberships are offered for the year after.
    pub from_year: AcademicYearScalar,
    /// The date by which schools confirm or decline.
    pub notice_by: Date,
}

/// What `membershipRenewalsOpen` did: the changed record, or `userErrors` saying why nothing
/// changed.
#[derive(SimpleObject, Debug)]
pub struct MembershipRenewalsOpenPayload {
    /// Renewals created by this call.
    pub opened: i32,
    /// Renewals that already existed (opening again changes nothing).
    pub already_open: i32,
    /// Why nothing changed, each naming the input field and a code; empty when the mutation
    /// succeeded.
    pub user_errors: Vec<UserError>,
}

/// Input to `membershipRenewalsLapse`.
#[derive(InputObject, Debug)]
pub struct MembershipRenewalsLapseInput {
    /// The year whose unanswered renewals lapse (those past their notice date).
    pub academic_year: AcademicYearScalar,
}

/// What `membershipRenewalsLapse` did: the changed record, or `userErrors` saying why nothing
/// changed.
#[derive(SimpleObject, Debug)]
pub struct MembershipRenewalsLapsePayload {
    /// How many memberships lapsed.
    pub lapsed: i32,
    /// Why nothing changed, each naming the input field and a code; empty when the mutation
    /// succeeded.
    pub user_errors: Vec<UserError>,
}

/// Input to `membershipsActivate`.
#[derive(InputObject, Debug)]
pub struct MembershipsActivateInput {
    /// PENDING memberships whose schools have accepted every principle (and, for renewals,
    /// confirmed); at most 1,000.
    pub membership_ids: Vec<ID>,
}

/// Input to `membershipsActivateReady`.
#[derive(InputObject, Debug)]
pub struct MembershipsActivateReadyInput {
    /// The year whose ready memberships are put in force.
    pub academic_year: AcademicYearScalar,
}

/// What `membershipsActivate` and `membershipsActivateReady` did: the changed record, or
/// `userErrors` saying why nothing changed.
#[derive(SimpleObject, Debug)]
pub struct MembershipsActivatePayload {
    /// The memberships this call activated.
    pub memberships: Vec<MembershipNode>,
    /// One per membership that cannot be activated (`membershipIds.<index>`: NOT_FOUND, or
    /// CONFLICT saying why); then none was.
    pub user_errors: Vec<UserError>,
}

impl MembershipsActivatePayload {
    fn from(result: Result<Vec<Membership>, DomainError>) -> async_graphql::Result<Self> {
        let (done, user_errors) = payload(result)?;
        Ok(Self {
            memberships: done
                .unwrap_or_default()
                .into_iter()
                .map(MembershipNode::new)
                .collect(),
            user_errors,
        })
    }
}

#[derive(Default, Debug)]
pub struct MembershipMutation;

#[Object]
impl MembershipMutation {
    /// Offer a new kind of membership. Partnership admins.
    async fn membership_tier_create(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "What to change; the rules for each field are on the input type.")] input: MembershipTierCreateInput,
    ) -> async_graphql::Result<MembershipTierPayload> {
        let rc = ctx.trellis()?;
        let new = NewTier {
            code: input.code,
            name: input.name,
            description: input.description,
        };
        MembershipTierPayload::from(
            memberships::create_tier(&rc.db, &rc.actor, rc.clock.as_ref(), new).await,
        )
    }

    /// Rename, describe or retire a tier. Partnership admins.
    async fn membership_tier_update(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "What to change; the rules for each field are on the input type.")] input: MembershipTierUpdateInput,
    ) -> async_graphql::Result<MembershipTierPayload> {
        let rc = ctx.trellis()?;
        let result = async {
            let id: TierId = expect_input(&input.id, "id")?;
            let patch = TierPatch {
                name: input.name,
                description: input.description,
                active: input.active,
            };
            memberships::update_tier(&rc.db, &rc.actor, rc.clock.as_ref(), id, patch).await
        }
        .await;
        MembershipTierPayload::from(result)
    }

    /// Enrol a school for a year (PENDING until it accepts the principles and is activated).
    /// Partnership admins.
    async fn membership_enrol(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "What to change; the rules for each field are on the input type.")] input: MembershipEnrolInput,
    ) -> async_graphql::Result<MembershipPayload> {
        let rc = ctx.trellis()?;
        let result = async {
            let school_id: SchoolId = expect_input(&input.school_id, "schoolId")?;
            let tier_id: TierId = expect_input(&input.tier_id, "tierId")?;
            let enrolment = Enrolment {
                school_id,
                year: input.academic_year.0,
                tier_id,
                starts_on: input.starts_on.map(|d| d.0),
            };
            memberships::enrol(&rc.db, &rc.actor, rc.clock.as_ref(), enrolment).await
        }
        .await;
        MembershipPayload::from(result)
    }

    /// Sign the school up to principles of membership. The school's leader (or an admin).
    async fn membership_accept_principles(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "What to change; the rules for each field are on the input type.")] input: MembershipAcceptPrinciplesInput,
    ) -> async_graphql::Result<MembershipPayload> {
        let rc = ctx.trellis()?;
        let result = async {
            let id: MembershipId = expect_input(&input.id, "id")?;
            let principles: Vec<_> = input.principles.into_iter().map(Into::into).collect();
            memberships::accept_principles(&rc.db, &rc.actor, rc.clock.as_ref(), id, &principles)
                .await
        }
        .await;
        MembershipPayload::from(result)
    }

    /// Put a pending membership in force; needs every principle accepted. Partnership admins.
    async fn membership_activate(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "What to change; the rules for each field are on the input type.")] input: MembershipActivateInput,
    ) -> async_graphql::Result<MembershipPayload> {
        let rc = ctx.trellis()?;
        let result = async {
            let id: MembershipId = expect_input(&input.id, "id")?;
            memberships::activate(&rc.db, &rc.actor, rc.clock.as_ref(), id).await
        }
        .await;
        MembershipPayload::from(result)
    }

    /// End a membership early, with a reason. Partnership admins.
    async fn membership_cancel(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "What to change; the rules for each field are on the input type.")] input: MembershipCancelInput,
    ) -> async_graphql::Result<MembershipPayload> {
        let rc = ctx.trellis()?;
        let result = async {
            let id: MembershipId = expect_input(&input.id, "id")?;
            memberships::cancel(&rc.db, &rc.actor, rc.clock.as_ref(), id, input.reason).await
        }
        .await;
        MembershipPayload::from(result)
    }

    /// Record that a membership ran out. Partnership admins.
    async fn membership_lapse(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "What to change; the rules for each field are on the input type.")] input: MembershipLapseInput,
    ) -> async_graphql::Result<MembershipPayload> {
        let rc = ctx.trellis()?;
        let result = async {
            let id: MembershipId = expect_input(&input.id, "id")?;
            memberships::lapse(&rc.db, &rc.actor, rc.clock.as_ref(), id).await
        }
        .await;
        MembershipPayload::from(result)
    }

    /// Put several pending memberships in force at once, all or none: each must have every
    /// principle accepted and, for a renewal, the school's confirmation. Partnership admins.
    async fn memberships_activate(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "What to change; the rules for each field are on the input type.")] input: MembershipsActivateInput,
    ) -> async_graphql::Result<MembershipsActivatePayload> {
        let rc = ctx.trellis()?;
        let result = async {
            let ids = input
                .membership_ids
                .iter()
                .enumerate()
                .map(|(i, id)| expect_input::<MembershipId>(id, &format!("membershipIds.{i}")))
                .collect::<Result<Vec<_>, _>>()?;
            memberships::activate_many(&rc.db, &rc.actor, rc.clock.as_ref(), &ids).await
        }
        .await;
        MembershipsActivatePayload::from(result)
    }

    /// Put in force every membership of the year that is ready: PENDING, every principle
    /// accepted, and for a renewal confirmed by the school. Running it again activates only
    /// what became ready since. Partnership admins.
    async fn memberships_activate_ready(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "What to change; the rules for each field are on the input type.")] input: MembershipsActivateReadyInput,
    ) -> async_graphql::Result<MembershipsActivatePayload> {
        let rc = ctx.trellis()?;
        let result = memberships::activate_ready(
            &rc.db,
            &rc.actor,
            rc.clock.as_ref(),
            input.academic_year.0,
        )
        .await;
        MembershipsActivatePayload::from(result)
    }

    /// Offer next year's membership to every school active this year, pre-filled from this
    /// year's. Running it again opens nothing twice. Partnership admins.
    async fn membership_renewals_open(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "What to change; the rules for each field are on the input type.")] input: MembershipRenewalsOpenInput,
    ) -> async_graphql::Result<MembershipRenewalsOpenPayload> {
        let rc = ctx.trellis()?;
        let result = memberships::open_renewals(
            &rc.db,
            &rc.actor,
            rc.clock.as_ref(),
            input.from_year.0,
            input.notice_by.0,
        )
        .await;
        let (report, user_errors) = payload(result)?;
        let report = report.unwrap_or_default();
        Ok(MembershipRenewalsOpenPayload {
            opened: int::saturating(report.opened),
            already_open: int::saturating(report.already_open),
            user_errors,
        })
    }

    /// Confirm or decline a renewal, on or before its notice date. The school's leader.
    async fn membership_renewal_respond(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "What to change; the rules for each field are on the input type.")] input: MembershipRenewalRespondInput,
    ) -> async_graphql::Result<MembershipPayload> {
        let rc = ctx.trellis()?;
        let result = async {
            let id: MembershipId = expect_input(&input.id, "id")?;
            memberships::respond_to_renewal(
                &rc.db,
                &rc.actor,
                rc.clock.as_ref(),
                id,
                input.decision.into(),
            )
            .await
        }
        .await;
        MembershipPayload::from(result)
    }

    /// Lapse every renewal of the year left unanswered past its notice date. Partnership admins.
    async fn membership_renewals_lapse(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "What to change; the rules for each field are on the input type.")] input: MembershipRenewalsLapseInput,
    ) -> async_graphql::Result<MembershipRenewalsLapsePayload> {
        let rc = ctx.trellis()?;
        let result = memberships::lapse_unanswered(
            &rc.db,
            &rc.actor,
            rc.clock.as_ref(),
            input.academic_year.0,
        )
        .await;
        let (lapsed, user_errors) = payload(result)?;
        Ok(MembershipRenewalsLapsePayload {
            lapsed: int::saturating(lapsed.unwrap_or(0)),
            user_errors,
        })
    }
}
