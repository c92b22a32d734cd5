//! Every integration test of this crate, in one binary: each file is a module, and they
//! share the support modules. One binary rather than one per file because each links the
//! whole dependency tree, and nextest still runs every test in its own process. Add a new
//! file here as a module.

mod support;

mod attendance;
mod booking;
mod cancellation;
mod catalogue;
mod demo;
mod history;
mod oversell;
mod reports;
mod synthetic;
mod waitlist;
