//! GraphQL mirrors of peer review's enums; `remote` keeps them in step with the domain.

use async_graphql::Enum;
use peer_review::{grouping, types};

/// How far a reviewer has been trained.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
#[graphql(remote = "types::TrainingStatus")]
pub enum TrainingStatus {
    /// May lead a review team.
    TrainedLeadReviewer,
    /// Trained to take part in and champion peer enquiry, not to lead a team.
    ImprovementChampion,
    /// Not trained as a reviewer yet: may join a team, not lead it.
    Untrained,
}

/// Where a review is. Only ever moves forward, one step at a time.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
#[graphql(remote = "types::ReviewStatus")]
pub enum ReviewStatus {
    /// Created with the groups; visit dates and team not yet set.
    Planning,
    /// Visit dates and a team with a lead reviewer are set.
    Scheduled,
    /// The visit has taken place; the team writes the report next.
    Visited,
    /// The team is drafting the report's findings and actions.
    ReportDraft,
    /// The host school agreed the report; it is never edited again.
    Agreed,
    /// The host shared its agreed report with the partnership.
    PublishedToPartnership,
}

/// A reviewer's place in a review team.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
#[graphql(remote = "types::TeamRole")]
pub enum ReviewTeamRole {
    /// Leads the team; must be a trained lead reviewer.
    Lead,
    /// A member of the team.
    Member,
}

/// What a finding records.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
#[graphql(remote = "types::FindingKind")]
pub enum ReviewFindingKind {
    /// Something the school does well.
    Strength,
    /// Something the school should improve; follow-up actions address these.
    AreaForDevelopment,
}

/// Progress of a follow-up action.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
#[graphql(remote = "types::ActionStatus")]
pub enum FollowUpActionStatus {
    /// Agreed, not yet started.
    Open,
    /// The host school is working on it.
    InProgress,
    /// Completed.
    Done,
    /// No longer pursued.
    Dropped,
}

/// Who a host school agreed to share its report with.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
#[graphql(remote = "types::ConsentScope")]
pub enum SharingConsentScope {
    /// Every member school's leaders, once the report is published to the partnership.
    Partnership,
    /// One named school's leaders (e.g. a school giving follow-up support).
    School,
}

/// Where a cycle's group formation stands.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
#[graphql(remote = "types::GroupsStatus")]
pub enum ReviewGroupsStatus {
    /// No groups proposed yet.
    None,
    /// Proposed, open to staff edits.
    Proposed,
    /// Confirmed: the groups' reviews exist.
    Confirmed,
}

/// A rule of group formation, in the order rules are relaxed when they cannot all hold.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
#[graphql(remote = "grouping::Constraint")]
pub enum GroupingConstraint {
    /// Not with last year's group.
    LastYearGroup,
    /// At least one trained lead reviewer per group.
    LeadReviewer,
    /// No two schools of the same trust or federation (conflict of interest).
    HardPartnership,
    /// Schools of a compatible phase.
    Phase,
}

/// The phase bands groups are formed within.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
#[graphql(remote = "grouping::PhaseBand")]
pub enum PhaseBand {
    /// Nursery, infant, junior, primary and middle schools.
    Primary,
    /// Secondary, all-through and sixth-form or further-education schools.
    Secondary,
    /// Special schools and pupil referral units.
    Specialist,
}

/// Why a school is in its group.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum PlacementReasonKind {
    /// Grouped with schools of its phase band.
    Phase,
    /// Too few schools of its own band take part to form a group.
    MovedAcrossPhase,
    /// Its trained lead reviewer can lead the group's other reviews.
    ProvidesLeadReviewer,
    /// Relaxed: shares a trust or federation with other members.
    SharesHardPartnership,
    /// Relaxed: was grouped with other members last year.
    WithLastYearPeer,
}

/// A rule a group breaks.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum GroupViolationKind {
    /// Fewer than 3 or more than 7 schools: fix before confirming.
    Size,
    /// Schools of another phase band are in the group, because too few of their own take part.
    MixedPhase,
    /// Two schools of one hard partnership (a trust or federation) are in the same group.
    SameHardPartnership,
    /// Schools grouped together last year are together again.
    LastYearPeers,
    /// Some review of the group would have no trained lead reviewer among its visiting
    /// schools (`schools` lists their hosts): a group needs two schools with one.
    NoLeadReviewer,
}
