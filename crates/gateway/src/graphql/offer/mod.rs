//! The core offer: the catalogue of items and their quantities, each school's entitlements
//! with what is used and left and the ledger behind them, and the value statement.

pub mod enums;
pub mod mutation;
pub mod query;
pub mod types;

pub use mutation::OfferMutation;
pub use query::OfferQuery;
