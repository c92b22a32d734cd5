//! Memberships: the tiers a partnership offers and each school's membership per academic
//! year, with the principles it signed up to.
//!
//! A membership starts PENDING (enrolled, or opened for renewal), becomes ACTIVE when the
//! school has accepted the principles and partnership staff activate it, and ends CANCELLED
//! or LAPSED. The allowed moves are one table, [`MembershipStatus::can_transition`].
//!
//! Who may do what: partnership admins manage tiers and memberships; a school leader may
//! accept the principles and answer a renewal for their own school only; anyone with
//! `ReadMemberships` reads, school roles their own schools' records only. Another school's
//! membership is `NotFound`, never `Forbidden`, so its existence is not revealed.

pub mod bulk;
pub(crate) mod entity;
pub mod history;
mod lifecycle;
mod queries;
mod renewal;
mod tiers;
pub mod types;
mod with_schools;

pub use bulk::{MAX_BULK, activate_many, activate_ready};
pub use history::history;
pub use lifecycle::{accept_principles, activate, cancel, enrol, lapse};
pub use queries::{
    active_for_year, by_ids, count_for_year, for_year, get, may_read, of_schools,
    of_schools_with_tiers,
};
pub use renewal::{
    DECLINED_AT_RENEWAL, lapse_unanswered, open_renewals, respond_to_renewal,
    unanswered_due_between,
};
pub use tiers::{create_tier, tier_by_code, tiers, tiers_by_ids, update_tier};
pub use types::{
    Enrolment, Membership, MembershipFilter, MembershipStatus, MembershipWithTier, NewTier,
    Principle, PrincipleAcceptance, RenewalDecision, RenewalReport, Tier, TierPatch,
};
pub use with_schools::SchoolWithMemberships;
pub(crate) use with_schools::schools_with_memberships;
