//! The core offer: what membership gives each member school, what it has used, and what is
//! left.
//!
//! * [`items`]: the catalogue of offer items (partner visits, CPD places, briefings, support
//!   hours…), each with its unit, what one unit is worth, and its rules (pro-rata,
//!   overdraft, cash-in limit, draw-forward share).
//! * [`quantities`]: how much of each item a tier gets per year and phase, or unlimited.
//! * [`derive`]: entitlements derived for every ACTIVE membership of a year, idempotently.
//! * [`movements`]: usage, reversals, adjustments, cash-in and draw-forward.
//! * [`entries`] and [`balance`]: the ledger as read back, and each school's entitlement,
//!   used and remaining computed from it; batch reads for the gateway's loaders.
//! * [`overview`]: both at once, as a dashboard shows them: each line with the newest
//!   entries of its ledger, in one statement.
//! * [`value`]: the value statement — use valued at the traded price of the equivalent
//!   service.
//! * [`demo`]: the demo partnership's 2026/27 core offer and some history; [`synthetic`]: a
//!   national one with a term's usage, for measuring.
//!
//! **Ledger, not counter.** Every change is an entry; what is left is the sum of an
//! entitlement's entries: `remaining = granted − used + reversed ± adjustments − cashed-in +
//! drawn-forward`. Writers take the entitlement's lock before reading that sum, so concurrent
//! usages never overdraw on PostgreSQL.
//!
//! **Units.** Quantities are whole units of the item's unit (a half-day partner visit is one
//! VISIT); pro-rata grants are rounded half-up.
//!
//! **API boundary:** this crate knows nothing of GraphQL, HTTP or billing (`offer →
//! membership → kernel`). Services take a [`kernel::Actor`] and check permissions: partnership
//! admins manage, school roles read their own schools' offer, `offer:read` keys read all.

pub mod balance;
pub mod demo;
pub mod derive;
mod entity;
pub mod entries;
pub mod items;
pub mod movements;
pub mod overview;
pub mod quantities;
mod support;
pub mod synthetic;
pub mod value;
pub mod visibility;
mod writer;

pub use balance::{
    Balance, OfferLine, SchoolOffer, balances_of_schools, lines_of_schools, offer_of_school,
};
pub use derive::{DerivationReport, derive_entitlements};
pub use entries::{
    EntryKey, EntryKind, LedgerEntry, RecordedEntry, entries_by_ids, entries_page,
    latest_entries_of_school_items, latest_entries_with_recorders,
};
pub use items::{
    NewOfferItem, OfferItem, OfferItemPatch, Unit, create_item, item_by_code, items, items_by_ids,
    update_item,
};
pub use movements::{
    NewAdjustment, NewTransfer, NewUsage, adjust, cash_in, draw_forward, record_usage,
    reverse_usage, reverse_usage_part,
};
pub use overview::{LineWithLatest, lines_with_latest_entries};
pub use quantities::{
    Allowance, ItemQuantity, QuantitySetting, RolledForward, quantities_of_items, roll_forward,
    set_quantity,
};
pub use support::{CorruptRow, UnknownValue};
pub use value::{ValueLine, ValueStatement, value_statement};
pub use visibility::may_read;
