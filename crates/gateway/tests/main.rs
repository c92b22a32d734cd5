//! Every integration test of this crate, in one binary: each file is a module, and they
//! share the support modules. One binary rather than one per file because each links the
//! whole dependency tree, and nextest still runs every test in its own process. Add a new
//! file here as a module.

mod common;
mod source;

mod admission;
mod checked_reads;
mod cli;
mod int32;
mod jobs;
mod layers;
mod mail;
mod observability;
mod replicas;
mod schema;
