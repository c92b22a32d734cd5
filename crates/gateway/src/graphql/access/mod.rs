//! Who uses Trellis: the viewer, users and API keys.

pub mod mutation;
pub mod query;
pub mod types;

pub use mutation::AccessMutation;
pub use query::AccessQuery;
