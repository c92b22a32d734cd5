//! A Stripe webhook's payload, once its signature holds: `stripe_webhook::Event::parse` and
//! every reader billing applies to it (strings, amounts, currency, metadata ids, the day).
//!
//! Contract: any bytes are read or refused, never a panic; a parsed event has an `evt_` id
//! and no NUL in any string; an amount read is whole, non-negative pence in the
//! partnership's currency.
#![no_main]

use chrono::TimeZone as _;
use kernel::{FixedClock, Money};
use libfuzzer_sys::fuzz_target;
use stripe_webhook::Event;

const STRINGS: [&str; 6] = [
    "/id",
    "/currency",
    "/payment_status",
    "/status",
    "/charge",
    "/customer",
];
const AMOUNTS: [&str; 6] = [
    "/amount",
    "/amount_received",
    "/amount_refunded",
    "/amount_total",
    "/amount_paid",
    "/total",
];

/// Walks every string and key. Searching the re-serialised JSON for `\u0000` is not the
/// same thing: an escaped backslash followed by `u0000` (six harmless characters) reads as
/// one there.
fn holds_nul(value: &serde_json::Value) -> bool {
    use serde_json::Value;
    match value {
        Value::String(s) => s.contains('\0'),
        Value::Array(items) => items.iter().any(holds_nul),
        Value::Object(map) => map.iter().any(|(k, v)| k.contains('\0') || holds_nul(v)),
        _ => false,
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok(event) = Event::parse(data) else {
        return;
    };
    assert!(event.id.starts_with("evt_"));
    assert!(!holds_nul(&event.object), "a NUL got through: {}", event.object);
    for pointer in STRINGS {
        if let Ok(text) = event.required_str(pointer) {
            assert!(!text.is_empty());
        }
        let _ = event.id_of(pointer);
        let _ = event.str(pointer);
    }
    for pointer in AMOUNTS {
        if let Ok(amount) = event.amount(pointer) {
            assert!(amount.pence() >= 0);
            assert_eq!(amount.currency(), Money::zero().currency());
            assert!(event.require_currency().is_ok());
        }
    }
    let _ = event.refuse_other_currency();
    for key in ["trellis_invoice_id", "trellis_account_id", "other"] {
        let _ = event.meta(key);
        let _ = event.meta_id(key);
    }
    let _ = event.payment_ref();
    let clock = FixedClock::new(
        chrono::Utc
            .with_ymd_and_hms(2026, 12, 4, 12, 0, 0)
            .single()
            .expect("a valid time"),
    );
    if let Ok(day) = event.day(&clock) {
        assert!(day <= chrono::NaiveDate::from_ymd_opt(2026, 12, 4).expect("a date"));
    }
});
