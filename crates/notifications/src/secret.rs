//! Secrets that travel in URLs (unsubscribe links, calendar feeds): 32 random bytes as
//! URL-safe base64, stored as given (unsubscribe: it only mutes) or hashed (feeds: a stolen
//! database must not reveal whose calendar a URL opens).

use std::fmt::Write as _;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::RngCore as _;
use sha2::{Digest as _, Sha256};

/// A fresh secret.
#[must_use]
pub fn token() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

/// The stored form of a feed's secret: SHA-256, hex.
#[must_use]
pub fn hash(secret: &str) -> String {
    Sha256::digest(secret.as_bytes())
        .iter()
        .fold(String::with_capacity(64), |mut hex, b| {
            let _ = write!(hex, "{b:02x}");
            hex
        })
}
