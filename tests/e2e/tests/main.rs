//! Every end-to-end test, in one binary: each file is a module, and they share `common`.
//!
//! One binary rather than one per file because each links the whole gateway: twenty-odd
//! links of the same code took minutes of CI, and nextest still runs every test in its own
//! process, so no test can see another's state. Add a file here as a module.

mod common;

mod auth;
mod billing;
mod bounds;
mod charges;
mod coercion;
mod directory;
mod error_codes;
mod fuzz;
mod graphiql;
mod hostile;
mod http;
mod imports;
mod introspection;
mod invoice_drafts;
mod memberships;
mod n_plus_one;
mod notifications;
mod offer;
mod oidc;
mod peer_review;
mod protection;
mod reports;
mod stripe;
mod traded;
