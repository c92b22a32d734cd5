//! The membership domain: the school directory and the people who use Trellis.
//!
//! * [`school`]: schools with their URN, phase, roll, designations and Ofsted history.
//! * [`partnership`]: groups of schools (MATs, federations, loose partnerships,
//!   teaching-school alliances) and each member's role.
//! * [`people`]: users with their role and school links, and integrators' API keys.
//! * [`memberships`]: membership tiers and each school's membership per academic year, with
//!   the principles it accepted and the yearly renewal.
//! * [`visibility`]: checked reads, answering only what the caller may see.
//! * [`demo`]: the demo directory built from the partnership letters in `shared/seeds`.
//!
//! **API boundary:** this crate knows nothing of GraphQL or HTTP. Services take an
//! [`kernel::Actor`] and check permissions themselves, so every caller (the gateway, the CLI,
//! a future job) gets the same rules.

pub mod demo;
pub mod import;
mod keyset;
pub mod memberships;
pub mod partnership;
pub mod people;
pub mod school;
pub mod synthetic;
mod validate;
pub mod visibility;

pub use keyset::{
    DEFAULT_PAGE, MAX_PAGE, NameKey, Page, PageArgs, PageError, cursor_of, fetch_page,
    fetch_page_with_related, name_cursor, page_select,
};
