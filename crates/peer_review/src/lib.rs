//! Peer review: schools challenging and supporting each other.
//!
//! Modelled on Challenge Partners' QA Review (a trained lead reviewer with senior leaders of
//! other schools, a report the host owns and agrees to share) and the Schools Partnership
//! Programme (clusters of 3–7 schools; self-review, peer review, school-to-school support).
//!
//! * [`cycles`]: a cycle per academic year with its framework, windows and participants.
//! * [`reviewers`]: school leaders registered as reviewers, with their training.
//! * [`grouping`]: the pure, deterministic group formation ([`grouping::propose_groups`]).
//! * [`groups`]: proposals persisted, edited by staff and confirmed into reviews.
//! * [`reviews`]: the review workflow, teams and self-review.
//! * [`report`]: findings, follow-up actions, support requests and sharing consents.
//! * [`records`]: a review and its report as every reader receives them.
//! * [`confidentiality`]: the one rule deciding who may read a report.
//! * [`document`]: the agreed report as a file (PDF, and its findings and actions as CSV).
//! * [`themes`]: partnership-wide areas for development, only in aggregate.
//! * [`loaders`]: batch reads for the gateway's DataLoaders.
//! * [`demo`]: the 2026/27 demo cycle; [`synthetic`]: a national one, for measuring.
//!
//! **API boundary:** no GraphQL or HTTP here; services take a [`kernel::Actor`] and check
//! permissions themselves. Payment for support goes through billing at the gateway: this
//! crate records the hours and the providing school, and never depends on billing.

mod common;
pub mod confidentiality;
pub mod cycles;
pub mod demo;
pub mod document;
mod entity;
pub mod grouping;
pub mod groups;
pub mod loaders;
pub mod records;
pub mod report;
pub mod reviewers;
pub mod reviews;
pub mod synthetic;
pub mod themes;
pub mod types;
pub mod visibility;

pub use common::CorruptRow;
