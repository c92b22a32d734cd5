//! GraphQL mirrors of the membership enums; `remote` keeps them in step with the domain.

use async_graphql::Enum;
use membership::memberships::types as m;

/// Where a school's membership of a year stands.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
#[graphql(remote = "m::MembershipStatus")]
pub enum MembershipStatus {
    /// Enrolled or offered for renewal; not yet in force.
    Pending,
    /// In force: the school receives the core offer and is invoiced.
    Active,
    /// Ran out: the year ended, or a renewal went unanswered past its notice date.
    Lapsed,
    /// Ended early by the partnership, or declined at renewal.
    Cancelled,
}

/// A principle a member school signs up to.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
#[graphql(remote = "m::Principle")]
pub enum MembershipPrinciple {
    /// Sharing performance data with the partnership.
    DataSharing,
    /// An openness to peer challenge and support.
    PeerChallenge,
}

/// A school's answer to the renewal offer.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
#[graphql(remote = "m::RenewalDecision")]
pub enum RenewalDecision {
    /// The school renews: next year's membership goes ahead.
    Confirm,
    /// The school does not renew: next year's membership is cancelled.
    Decline,
}
