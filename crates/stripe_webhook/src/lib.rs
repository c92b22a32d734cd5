//! Stripe webhooks as they arrive: the `Stripe-Signature` header ([`signature`]) and the
//! event payload with the readers of its fields ([`Event`]).
//!
//! This is the part of billing's `stripe_events` that reads outside input and does no I/O.
//! It is a crate of its own, on `kernel` and a few small crates only, so that the fuzz
//! targets (`fuzz/`) build it with coverage instrumentation without building SeaORM, sqlx
//! and async-stripe. `billing::stripe_events` re-exports it and does the storing and
//! applying; nothing here touches the database or the ledger.

pub mod event;
pub mod signature;

pub use event::{Event, PayloadError};
pub use signature::{DEFAULT_TOLERANCE_SECS, SignatureError, sign, verify};
