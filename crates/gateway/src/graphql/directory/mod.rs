//! The school directory: schools, partnerships and their members.

pub mod enums;
pub mod import;
pub mod mutation;
pub mod query;
pub mod types;

pub use import::DirectoryImportMutation;
pub use mutation::DirectoryMutation;
pub use query::DirectoryQuery;
