//! Every integration test of this crate, in one binary: each file is a module, and they
//! share the support modules. One binary rather than one per file because each links the
//! whole dependency tree, and nextest still runs every test in its own process. Add a new
//! file here as a module.

mod ledger_support;
mod stripe_support;

mod account_moves;
mod bank_statements;
mod charges;
mod documents;
mod fees;
mod ledger_exports;
mod ledger_invoices;
mod ledger_money;
mod ledger_props;
mod ledger_reports;
mod manual_invoices;
mod run;
mod run_drafts;
mod stripe;
mod stripe_webhooks;
mod synthetic;
mod time_credits;
