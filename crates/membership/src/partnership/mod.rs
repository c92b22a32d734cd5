//! Partnerships of schools and their members.

pub(crate) mod entity;
mod service;
pub mod types;

pub use service::{
    Member, MemberChange, MemberInput, NewPartnership, Partnership, PartnershipChanges,
    PartnershipFilter, SchoolPartnership, by_ids, count, create, leads_of, list, members_of,
    memberships_of, put_member, remove_member, update,
};
