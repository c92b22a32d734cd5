//! Keyset cursors from clients (`after:`/`before:` of every connection): `kernel::Cursor::decode`
//! into each sort key the connections use.
//!
//! Contract: any text decodes or is refused, never a panic; a key that decodes re-encodes to
//! a cursor that decodes to the same key.
#![no_main]

use chrono::{DateTime, NaiveDate, Utc};
use kernel::Cursor;
use libfuzzer_sys::fuzz_target;
use serde::Serialize;
use serde::de::DeserializeOwned;
use uuid::Uuid;

fn round_trips<K: DeserializeOwned + Serialize + PartialEq + std::fmt::Debug>(raw: &str) {
    if let Ok(key) = Cursor::decode::<K>(raw) {
        let again = Cursor::encode(&key);
        assert_eq!(Cursor::decode::<K>(again.as_str()).ok(), Some(key), "{raw}");
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok(raw) = std::str::from_utf8(data) else {
        return;
    };
    round_trips::<(String, Uuid)>(raw); // membership::NameKey
    round_trips::<(NaiveDate, Uuid)>(raw); // billing's DateKey
    round_trips::<(DateTime<Utc>, Uuid)>(raw); // traded::SessionKey, offer::EntryKey
    round_trips::<(Uuid, Uuid)>(raw); // traded::BookingKey
    round_trips::<Uuid>(raw);
    let _ = Cursor::decode::<serde_json::Value>(raw);
});
