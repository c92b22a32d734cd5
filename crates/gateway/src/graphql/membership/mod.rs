//! Memberships: the tiers a partnership offers and each school's membership per academic year.

pub mod enums;
pub mod mutation;
pub mod query;
pub mod types;

pub use mutation::MembershipMutation;
pub use query::MembershipQuery;
