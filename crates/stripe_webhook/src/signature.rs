//! `Stripe-Signature` verification: `t=<unix seconds>,v1=<hex HMAC-SHA256 of "t.payload">`,
//! possibly several `v1`s while a secret is being rolled. The timestamp must be within the
//! tolerance of now, so a captured request cannot be replayed later; the comparison is
//! constant-time (`Mac::verify_slice`).

use hmac::{Hmac, Mac};
use sha2::Sha256;
use thiserror::Error;

/// Stripe's own libraries default to five minutes.
pub const DEFAULT_TOLERANCE_SECS: i64 = 300;

/// Why a webhook's signature was refused.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum SignatureError {
    #[error("no Stripe-Signature header")]
    Missing,
    #[error("the Stripe-Signature header is malformed")]
    Malformed,
    #[error("the signature's timestamp is outside the tolerance")]
    Stale,
    #[error("no signature matches")]
    Mismatch,
}

fn unhex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok())
        .collect()
}

/// Checks `header` against `payload` signed with `secret`, at `now_unix`.
pub fn verify(
    payload: &[u8],
    header: Option<&str>,
    secret: &str,
    now_unix: i64,
    tolerance_secs: i64,
) -> Result<(), SignatureError> {
    let header = header.ok_or(SignatureError::Missing)?;
    let mut timestamp: Option<i64> = None;
    let mut signatures = Vec::new();
    for part in header.split(',') {
        let (key, value) = part
            .trim()
            .split_once('=')
            .ok_or(SignatureError::Malformed)?;
        match key {
            "t" => timestamp = Some(value.parse().map_err(|_| SignatureError::Malformed)?),
            "v1" => signatures.push(unhex(value).ok_or(SignatureError::Malformed)?),
            _ => {}
        }
    }
    let timestamp = timestamp.ok_or(SignatureError::Malformed)?;
    if signatures.is_empty() {
        return Err(SignatureError::Malformed);
    }
    // `abs_diff`: the timestamp is the sender's text, and `now - t` overflows for a `t` near
    // `i64::MIN` (a panic with overflow checks on, as in every Trellis build).
    if now_unix.abs_diff(timestamp) > u64::try_from(tolerance_secs).unwrap_or(0) {
        return Err(SignatureError::Stale);
    }
    let matches = signatures.iter().any(|signature| {
        let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(secret.as_bytes()) else {
            return false;
        };
        mac.update(timestamp.to_string().as_bytes());
        mac.update(b".");
        mac.update(payload);
        mac.verify_slice(signature).is_ok()
    });
    if matches {
        Ok(())
    } else {
        Err(SignatureError::Mismatch)
    }
}

/// The header Stripe would send for `payload` at `timestamp`: for tests and the e2e suite,
/// which sign what the stand-in cannot send (checkout sessions, forged and stale variants).
#[must_use]
pub fn sign(payload: &[u8], secret: &str, timestamp: i64) -> String {
    let mut mac =
        Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes any key length");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(payload);
    let digest = mac.finalize().into_bytes();
    let hex = digest.iter().fold(String::new(), |mut out, b| {
        use std::fmt::Write as _;
        let _ = write!(out, "{b:02x}");
        out
    });
    format!("t={timestamp},v1={hex}")
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "whsec_test";

    #[test]
    fn accepts_its_own_signature_and_refuses_the_rest() {
        let payload = br#"{"id":"evt_1"}"#;
        let now = 1_800_000_000;
        let header = sign(payload, SECRET, now);
        assert_eq!(verify(payload, Some(&header), SECRET, now, 300), Ok(()));
        assert_eq!(
            verify(payload, Some(&header), SECRET, now + 299, 300),
            Ok(())
        );
        assert_eq!(
            verify(payload, Some(&header), SECRET, now + 301, 300),
            Err(SignatureError::Stale)
        );
        assert_eq!(
            verify(payload, Some(&header), "whsec_other", now, 300),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify(br#"{"id":"evt_2"}"#, Some(&header), SECRET, now, 300),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify(payload, None, SECRET, now, 300),
            Err(SignatureError::Missing)
        );
        for bad in ["", "t=abc,v1=00", "v1=00", "t=1", "t=1,v1=zz", "garbage"] {
            assert_eq!(
                verify(payload, Some(bad), SECRET, now, 300),
                Err(SignatureError::Malformed),
                "{bad}"
            );
        }
        // A rolled secret: any matching v1 will do; unknown schemes are ignored.
        let rolled = format!("{header},v1={},v0=abcd", "00".repeat(32));
        assert_eq!(verify(payload, Some(&rolled), SECRET, now, 300), Ok(()));
    }

    #[test]
    fn extreme_timestamps_are_stale_not_a_panic() {
        // A `t` near `i64::MIN` made `now - t` overflow: a panic, not a 400.
        let payload = br#"{"id":"evt_1"}"#;
        for (t, now) in [
            (i64::MIN, 1_800_000_000),
            (i64::MIN, i64::MAX),
            (i64::MAX, i64::MIN),
            (-1, i64::MAX),
        ] {
            let header = format!("t={t},v1={}", "00".repeat(32));
            assert_eq!(
                verify(payload, Some(&header), SECRET, now, 300),
                Err(SignatureError::Stale),
                "{header} at {now}"
            );
        }
        let header = sign(payload, SECRET, i64::MAX);
        assert_eq!(
            verify(payload, Some(&header), SECRET, i64::MAX, 300),
            Ok(())
        );
    }

    proptest::proptest! {
        /// Whatever arrives in the header or the body, verification answers; it never panics.
        #[test]
        fn any_header_and_payload_gets_an_answer(
            payload in proptest::collection::vec(proptest::num::u8::ANY, 0..512),
            header in "\\PC{0,200}",
            now in proptest::num::i64::ANY,
        ) {
            let _ = verify(&payload, Some(&header), SECRET, now, 300);
        }
    }
}
