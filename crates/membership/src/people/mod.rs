//! People who use Trellis and integrators' API keys.

pub mod api_keys;
pub(crate) mod entity;
pub mod users;

pub use api_keys::{ApiKey, CreatedKey, KeyCheck, NewApiKey};
pub use users::{Lookup, NewUser, User, UserChanges};
