//! Tier and Membership as the API shows them.

use async_graphql::{Context, ID, Object};
use billing::fees::SchoolFacts;
use chrono::{DateTime, Utc};
use membership::memberships::{Membership, MembershipWithTier, PrincipleAcceptance, Tier};

use super::enums::{MembershipPrinciple, MembershipStatus};
use crate::graphql::access::types::UserNode;
use crate::graphql::billing::fees::QuoteNode;
use crate::graphql::context::ContextExt;
use crate::graphql::directory::types::SchoolNode;
use crate::graphql::errors::{internal, to_graphql};
use crate::graphql::relay::GlobalId;
use crate::graphql::scalars::{AcademicYearScalar, Date};

#[derive(Debug, Clone)]
pub struct TierNode(pub Tier);

/// A kind of membership the partnership offers, e.g. FULL or ASSOCIATE; fee schedules are
/// set per tier.
#[Object(name = "MembershipTier")]
impl TierNode {
    /// Global id: opaque and stable; `node(id:)` finds it again.
    pub async fn id(&self) -> ID {
        self.0.id.to_global()
    }

    /// Stable upper-case handle, e.g. `FULL`.
    async fn code(&self) -> &str {
        &self.0.code
    }

    /// The tier's name (e.g. Core, Enhanced).
    async fn name(&self) -> &str {
        &self.0.name
    }

    /// What the tier includes, in the partnership's words.
    async fn description(&self) -> &str {
        &self.0.description
    }

    /// Inactive tiers take no new enrolments; existing memberships keep them.
    async fn active(&self) -> bool {
        self.0.active
    }
}

/// A membership, with its tier when the read that found it brought the tier along (a
/// school's memberships do): `tier` then answers without a statement of its own. Built
/// through [`MembershipNode::new`] or from a [`MembershipWithTier`], so a tier kept here is
/// always the membership's own.
#[derive(Debug, Clone)]
pub struct MembershipNode(pub Membership, Option<Tier>);

impl MembershipNode {
    /// A membership whose tier is loaded if asked for.
    #[must_use]
    pub fn new(membership: Membership) -> Self {
        Self(membership, None)
    }
}

impl From<MembershipWithTier> for MembershipNode {
    fn from(found: MembershipWithTier) -> Self {
        Self(found.membership, Some(found.tier))
    }
}

/// A school's membership of the partnership for one academic year.
#[Object(name = "Membership")]
impl MembershipNode {
    /// Global id: opaque and stable; `node(id:)` finds it again.
    pub async fn id(&self) -> ID {
        self.0.id.to_global()
    }

    /// The member school.
    async fn school(&self, ctx: &Context<'_>) -> async_graphql::Result<SchoolNode> {
        let rc = ctx.trellis()?;
        rc.loaders
            .schools()
            .load_one(self.0.school_id)
            .await?
            .map(SchoolNode::from)
            .ok_or_else(|| internal(format!("membership {} has no school", self.0.id)))
    }

    /// The academic year it belongs to, e.g. `2026/27`.
    async fn academic_year(&self) -> AcademicYearScalar {
        self.0.year.into()
    }

    /// The tier the school is a member on.
    async fn tier(&self, ctx: &Context<'_>) -> async_graphql::Result<TierNode> {
        if let Some(tier) = &self.1 {
            return Ok(TierNode(tier.clone()));
        }
        let rc = ctx.trellis()?;
        rc.loaders
            .tiers()
            .load_one(self.0.tier_id)
            .await?
            .map(TierNode)
            .ok_or_else(|| internal(format!("membership {} has no tier", self.0.id)))
    }

    /// Where the membership is; see `MembershipStatus`.
    async fn status(&self) -> MembershipStatus {
        self.0.status.into()
    }

    /// The first day the membership covers: the year's first day, or later for a mid-year joiner.
    async fn starts_on(&self) -> Date {
        self.0.starts_on.into()
    }

    /// The membership's last day.
    async fn ends_on(&self) -> Date {
        self.0.ends_on.into()
    }

    /// Joined after the academic year began (fees are pro-rated).
    async fn is_mid_year_joiner(&self) -> bool {
        self.0.is_mid_year_joiner()
    }

    /// For a renewal: the date by which the school confirms or declines.
    async fn notice_by(&self) -> Option<Date> {
        self.0.notice_by.map(Into::into)
    }

    /// For a renewal: last year's membership it was pre-filled from.
    async fn renewed_from(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<Self>> {
        let Some(id) = self.0.renewed_from else {
            return Ok(None);
        };
        Ok(ctx
            .trellis()?
            .loaders
            .memberships_by_id()
            .load_one(id)
            .await?
            .map(MembershipNode::new))
    }

    /// When the school answered its renewal.
    async fn decided_at(&self) -> Option<DateTime<Utc>> {
        self.0.decided_at
    }

    /// Why it was cancelled or lapsed; null otherwise.
    async fn cancelled_reason(&self) -> Option<&str> {
        self.0.cancelled_reason.as_deref()
    }

    /// The principles the school has signed up to, with who accepted them and when.
    async fn principles(&self) -> Vec<PrincipleAcceptanceNode> {
        self.0
            .principles
            .iter()
            .copied()
            .map(PrincipleAcceptanceNode)
            .collect()
    }

    /// Principles still to accept before the membership can be activated.
    async fn missing_principles(&self) -> Vec<MembershipPrinciple> {
        self.0
            .missing_principles()
            .into_iter()
            .map(Into::into)
            .collect()
    }

    /// The fee for this membership under its tier's schedule for the year, with the
    /// working; null when the tier has no schedule for the year yet. BAD_USER_INPUT when the
    /// school cannot be priced (e.g. no roll at the census the schedule uses).
    async fn fee(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<QuoteNode>> {
        let rc = ctx.trellis()?;
        let Some(schedule) = rc
            .loaders
            .schedules()
            .load_one((self.0.year, self.0.tier_id))
            .await?
        else {
            return Ok(None);
        };
        let Some(school) = rc.loaders.schools().load_one(self.0.school_id).await? else {
            return Err(internal(format!("membership {} has no school", self.0.id)));
        };
        let history = rc.loaders.roll_history().load_one(self.0.school_id).await?;
        let facts = SchoolFacts::of(
            &school,
            history.iter().flatten().map(|r| r.roll),
            self.0.year,
        );
        billing::fees::quote(
            &schedule.rules,
            self.0.year,
            &facts,
            self.0.starts_on,
            schedule.frequency,
        )
        .map(|q| Some(QuoteNode(q)))
        .map_err(|e| to_graphql(e.into()))
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

#[derive(Debug, Clone, Copy)]
pub struct PrincipleAcceptanceNode(pub PrincipleAcceptance);

/// One principle accepted.
#[Object(name = "PrincipleAcceptance")]
impl PrincipleAcceptanceNode {
    /// The principle accepted.
    async fn principle(&self) -> MembershipPrinciple {
        self.0.principle.into()
    }

    /// The person who accepted it; null when recorded by Trellis itself (e.g. imported), or
    /// when the caller is an integration (API keys see no people).
    async fn accepted_by(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<UserNode>> {
        let rc = ctx.trellis()?;
        let Some(id) = self.0.accepted_by else {
            return Ok(None);
        };
        if rc.actor.as_user().is_none() {
            return Ok(None);
        }
        Ok(rc.loaders.users().load_one(id).await?.map(UserNode))
    }

    /// When the school's leader accepted it.
    async fn accepted_at(&self) -> DateTime<Utc> {
        self.0.accepted_at
    }
}
