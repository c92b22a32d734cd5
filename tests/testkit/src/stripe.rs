//! The run's Stripe stand-in (`tests/stripe-standin`, started by `scripts/test`).

use std::sync::Once;

/// Base URL of the stand-in, e.g. `http://127.0.0.1:41234` (no trailing `/v1`).
pub const STRIPE_URL_ENV: &str = "TRELLIS_TEST_STRIPE_URL";

/// The stand-in's base URL; `None`, after warning loudly once per process, when the variable is
/// unset, so a test can return early. Panics instead when `CI=true`: CI must run the Stripe
/// tests, exactly as it must run the PostgreSQL half of every database test.
#[must_use]
pub fn stripe_url() -> Option<String> {
    let url = std::env::var(STRIPE_URL_ENV)
        .ok()
        .map(|v| v.trim().trim_end_matches('/').to_owned())
        .filter(|v| !v.is_empty());
    if url.is_none() {
        assert!(
            !super::is_ci(),
            "testkit: {STRIPE_URL_ENV} is not set but CI=true: the Stripe tests must run in CI. \
             Run the tests through scripts/test, which starts the Stripe stand-in."
        );
        static WARNED: Once = Once::new();
        WARNED.call_once(|| {
            eprintln!(
                "\n\
                 ************************************************************************\n\
                 *  testkit: {STRIPE_URL_ENV} is not set.\n\
                 *  Stripe tests are SKIPPED (they pass without running).\n\
                 *  Run scripts/test to start the Stripe stand-in and run them.\n\
                 ************************************************************************\n"
            );
        });
    }
    url
}
