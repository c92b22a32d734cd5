//! Fee schedules and quotes.
//!
//! A partnership's pricing is data, not code: [`FeeRules`] is a versioned JSON document
//! (per-pupil rate by phase on a named census, base fee, caps and minimums for selected
//! schools, fixed prices, pro-rata, discounts, VAT), stored per academic year and tier as a
//! [`FeeSchedule`]. [`quote()`] turns rules and a school's [`SchoolFacts`] into invoice lines
//! with the working shown, in integer pence. Presets for Haringey and Kent show the shape.
//!
//! * [`rules`]: the document, its validation and how a fee is worked out.
//! * [`selector`]: which schools a rule applies to.
//! * [`facts`]: what a quote needs to know about a school.
//! * [`quote`](mod@quote): the pure engine.
//! * [`schedule`]: fee schedules in the database.
//! * [`history`](mod@history): who changed a schedule, when, and what it was before.
//!
//! # One rounding rule
//!
//! Every amount is whole pence, rounded half-up (away from zero) at the step that makes it.
//! **VAT is charged per invoice line, on the line's net after discounts**
//! ([`crate::ledger::invoices::vat_on`]), and nowhere else is VAT worked out afresh: the
//! quote prices the very invoice lines the run will issue (one per instalment, the net split
//! with the odd pence on the first by [`crate::ledger::split_instalments`]), the ledger
//! computes each line's VAT with the same function, the Stripe mirror sends each line's
//! VAT-inclusive amount computed by it, and a credit note takes VAT from the credited line in
//! proportion, the last credit taking whatever VAT is left, so crediting a whole invoice gives
//! back exactly the VAT it charged. So a quote equals its invoices to the penny, termly
//! instalments included (`run/plan.rs`, `quote_is_what_the_run_invoices`, and the issue #22
//! example in `tests/run.rs`).

mod arith;
mod entity;
pub mod facts;
pub mod history;
mod presets;
pub mod quote;
pub mod rules;
pub mod schedule;
pub mod selector;

pub use facts::{CensusRolls, NEW_SCHOOL_YEARS, SchoolFacts, is_new_school};
pub use history::history;
pub use quote::{Quote, QuoteError, QuoteInstalment, QuoteLine, WorkingStep, quote};
pub use rules::{
    DEFAULT_VAT_RATE_BASIS_POINTS, Discount, DiscountAmount, FeeRules, FeeRulesInput, FixedPrice,
    InvalidRules, Limit, MAX_AMOUNT_PENCE, PhaseAmount, PhaseAmounts, ProRata, RULES_VERSION,
    VatTreatment,
};
pub use schedule::{
    BillingFrequency, FeeSchedule, FeeSchedulePatch, NewFeeSchedule, create_schedule,
    lock_schedule, schedule_for, schedules_by_ids, schedules_for_year, update_schedule,
};
pub use selector::Selector;
