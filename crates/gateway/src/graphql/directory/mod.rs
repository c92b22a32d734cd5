//! The school directory: schools, partnerships and their members.

pub mod enums;
pub mod mutation;
pub mod query;
pub mod types;

pub use mutation::DirectoryMutation;
pub use query::DirectoryQuery;
