//! Opaque keyset-pagination cursors.
//!
//! A cursor carries the sort key of the row it points at (for example a school's name and
//! id), so the next page is `WHERE (name, id) > (…)` on an index: no OFFSET, stable under
//! inserts. Callers must treat it as opaque; we encode it as URL-safe base64 of JSON so it
//! survives query strings untouched.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Serialize;
use serde::de::DeserializeOwned;
use thiserror::Error;

#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("cursor is not one this API issued")]
pub struct CursorError;

/// An encoded cursor string.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cursor(String);

impl Cursor {
    /// Encodes a sort key.
    #[must_use]
    pub fn encode<K: Serialize>(key: &K) -> Self {
        let json = serde_json::to_vec(key).expect("sort keys are plain data and always serialise");
        Self(URL_SAFE_NO_PAD.encode(json))
    }

    /// Decodes a cursor back into the sort key it was made from.
    pub fn decode<K: DeserializeOwned>(raw: &str) -> Result<K, CursorError> {
        let bytes = URL_SAFE_NO_PAD.decode(raw).map_err(|_| CursorError)?;
        serde_json::from_slice(&bytes).map_err(|_| CursorError)
    }

    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }

    #[must_use]
    pub fn into_string(self) -> String {
        self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_rejects_garbage() {
        let key = ("Holly Park".to_owned(), 42_u32);
        let cursor = Cursor::encode(&key);
        assert_eq!(Cursor::decode::<(String, u32)>(cursor.as_str()), Ok(key));
        assert_eq!(Cursor::decode::<(String, u32)>("!!!"), Err(CursorError));
        assert_eq!(
            Cursor::decode::<(String, u32)>(Cursor::encode(&7).as_str()),
            Err(CursorError)
        );
    }

    proptest::proptest! {
        /// A cursor comes from the client: any text decodes or is refused, never a panic.
        #[test]
        fn any_text_decodes_or_is_refused(raw in "\\PC{0,200}") {
            let _ = Cursor::decode::<(String, uuid::Uuid)>(&raw);
            let _ = Cursor::decode::<serde_json::Value>(&raw);
        }
    }
}
