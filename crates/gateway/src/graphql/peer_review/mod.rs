//! Peer review: cycles, group proposals with their explanation, reviews with their
//! confidential reports, follow-up support and partnership-wide themes.

pub mod enums;
pub mod mutation;
pub mod query;
pub mod support;
pub mod types;

pub use mutation::PeerReviewMutation;
pub use query::PeerReviewQuery;
