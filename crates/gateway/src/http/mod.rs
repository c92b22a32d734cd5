//! HTTP endpoints other than the router's assembly.

pub mod admission;
pub mod booking_payments;
pub mod calendar;
pub mod certificates;
pub mod documents;
pub mod download;
pub mod exports;
pub mod graphiql;
pub mod graphql;
pub mod health;
pub mod panics;
pub mod persisted;
pub mod rate_limit;
pub mod reports;
pub mod spans;
pub mod stripe_webhook;
pub mod subscriptions;
pub mod unsubscribe;
