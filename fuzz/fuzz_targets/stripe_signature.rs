//! The `Stripe-Signature` header of `POST /webhooks/stripe`: `stripe_webhook::verify`.
//!
//! Input: 8 bytes of "now" and 8 of a signing time (both any i64), then the header up to the
//! first newline and the payload after it.
//!
//! Contract: any header and payload get an answer, never a panic; a forged header is never
//! accepted; what `sign` makes verifies exactly when the two times are within the
//! tolerance, and is refused for any other payload or secret.
#![no_main]

use libfuzzer_sys::fuzz_target;
use stripe_webhook::{SignatureError, sign, verify};

const SECRET: &str = "whsec_fuzz";
const TOLERANCE: i64 = 300;

fuzz_target!(|data: &[u8]| {
    if data.len() < 16 {
        return;
    }
    let now = i64::from_le_bytes(data[..8].try_into().expect("8 bytes"));
    let signed_at = i64::from_le_bytes(data[8..16].try_into().expect("8 bytes"));
    let rest = &data[16..];
    let (header, payload) = match rest.iter().position(|b| *b == b'\n') {
        Some(at) => (&rest[..at], &rest[at + 1..]),
        None => (rest, &[][..]),
    };
    if let Ok(header) = std::str::from_utf8(header) {
        let answer = verify(payload, Some(header), SECRET, now, TOLERANCE);
        // Accepting needs the HMAC of this payload and the header's (last) `t` under SECRET.
        if answer.is_ok() {
            let t = header
                .split(',')
                .filter_map(|part| part.trim().strip_prefix("t="))
                .filter_map(|t| t.parse::<i64>().ok())
                .last()
                .expect("an accepted header has a timestamp");
            let signed = sign(payload, SECRET, t);
            let (_, mac) = signed.split_once(",v1=").expect("sign writes a v1");
            assert!(
                header.to_ascii_lowercase().contains(mac),
                "accepted a header without a genuine signature: {header}"
            );
        }
    }
    let genuine = sign(payload, SECRET, signed_at);
    let fresh = i128::from(now).abs_diff(i128::from(signed_at)) <= TOLERANCE.unsigned_abs().into();
    let expected = if fresh {
        Ok(())
    } else {
        Err(SignatureError::Stale)
    };
    assert_eq!(
        verify(payload, Some(&genuine), SECRET, now, TOLERANCE),
        expected
    );
    if fresh {
        let mut other = payload.to_vec();
        other.push(b' ');
        assert_eq!(
            verify(&other, Some(&genuine), SECRET, now, TOLERANCE),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify(payload, Some(&genuine), "whsec_other", now, TOLERANCE),
            Err(SignatureError::Mismatch)
        );
    }
});
