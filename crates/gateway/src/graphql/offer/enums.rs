//! GraphQL mirrors of the offer's enums; `remote` keeps them in step with the domain.

use async_graphql::Enum;

/// What an offer item is counted in.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
#[graphql(remote = "offer::Unit")]
pub enum OfferUnit {
    /// Counted in visits (for example adviser visits).
    Visits,
    /// Counted in places on courses or events.
    Places,
    /// Counted in hours of support.
    Hours,
    /// Counted in days of support.
    Days,
    /// Counted in items of any other kind (reports, audits, licences).
    Items,
}

/// What a ledger entry records.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
#[graphql(remote = "offer::EntryKind")]
pub enum OfferEntryKind {
    /// The year's allowance, from the derivation (zero for unlimited items).
    Grant,
    /// Part of the allowance used: a visit held, a place booked.
    Usage,
    /// A usage given back, e.g. a cancelled booking.
    Reversal,
    /// A correction by partnership staff, with a reason.
    Adjustment,
    /// Unused units cashed in toward an external consultant.
    CashIn,
    /// Units drawn from next year's allowance (or, next year, taken back from it).
    DrawForward,
}

/// A term of the academic year, as partnerships bill them: autumn (September–December),
/// spring (January–March), summer (April–August).
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
#[graphql(remote = "kernel::Term")]
pub enum Term {
    /// The autumn term, as billed: 1 September to 31 December.
    Autumn,
    /// The spring term, as billed: 1 January to 31 March.
    Spring,
    /// The summer term, as billed: 1 April to 31 August.
    Summer,
}
