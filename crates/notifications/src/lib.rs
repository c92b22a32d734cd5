//! Notifications: telling people what happened, by email and in their Trellis inbox.
//!
//! The other domains never call this crate. They record what happened in the transactional
//! outbox (`kernel::outbox`), in the same transaction as the change; this domain reads those
//! events and makes messages of them (`compose`), stores one per recipient (`fanout`, unique
//! per event and address), and sends them over SMTP (`delivery`, `transport`) with retries,
//! backoff and a dead letter. With no SMTP server configured — the embedded default — the
//! messages stay in the outbox, readable in each person's inbox and by admins (`inbox`).
//!
//! Also here: what a person has muted (`inbox::set_muted`, and the unsubscribe link every
//! mutable email carries), calendar invitations (`ics`) and secret calendar feeds (`feeds`),
//! and reminders of overdue invoices (`reminders`).
//!
//! Dependencies: `notifications → traded, billing, membership → kernel`; nothing depends on
//! this crate but the gateway.

pub mod compose;
pub mod delivery;
mod entity;
pub mod fanout;
pub mod feeds;
pub mod format;
pub mod ics;
pub mod inbox;
pub mod model;
pub mod reminders;
mod secret;
mod templates;
pub mod transport;
pub mod worker;

pub use compose::MessageSettings;
pub use delivery::{Delivered, DeliveryPolicy};
pub use model::{Category, DeliveryStatus, Notification};
pub use transport::{MailConfigError, Outgoing, SendError, Smtp, Transport};
