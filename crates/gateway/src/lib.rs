//! The Trellis gateway: the one GraphQL API over every domain, and the `trellis` binary.
//!
//! **Architecture invariant:** this is the only crate that knows GraphQL and HTTP. Domain
//! crates expose plain types, services and [`kernel::DomainError`]; this crate
//! authenticates the caller, builds the [`kernel::Actor`], calls the services and maps their
//! errors (in [`graphql::errors`]).

pub mod app;
pub mod auth;
pub mod cli;
pub mod config;
pub mod db;
pub mod events;
pub mod graphql;
pub mod http;
pub mod jobs;
pub mod metrics;
pub mod notify;
pub mod settings;
pub mod telemetry;

pub use app::{App, AppState};
pub use config::Config;
