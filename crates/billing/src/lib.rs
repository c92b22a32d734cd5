//! The billing domain: the only crate that moves money.
//!
//! * [`fees`]: fee schedules as data (per academic year and tier) and the quote engine that
//!   turns a school's facts into a fee with its working shown.
//! * [`ledger`]: billing accounts, invoices and their numbering, credit notes, payments and
//!   allocations, refunds, the audit trail and finance reports (aged debt, statements, CSV).
//! * [`provider`]: the `PaymentProvider` port, its offline adapter and the Stripe adapter.
//! * [`mirror`]: issued invoices, voids and credit notes mirrored at the provider, idempotently.
//! * [`reconciliation`]: the ledger's mirrored invoices compared with the provider's list.
//! * [`stripe_events`]: Stripe webhooks verified, stored once and applied to the ledger.
//! * [`run`]: the membership invoicing run of an academic year.
//! * [`visibility`]: checked reads, answering only what the caller may see.
//! * [`demo`]: the demo ledger (2026/27 fee schedules, accounts, invoices and some money) on
//!   top of the membership demo.
//!
//! **API boundary:** this crate knows nothing of GraphQL or HTTP. Every change of money happens
//! in one database transaction and is audited.

pub mod charges;
pub mod demo;
pub mod fees;
pub mod ledger;
pub mod mirror;
pub mod provider;
pub mod reconciliation;
pub mod run;
pub mod stripe_events;
pub mod synthetic;
pub mod visibility;
