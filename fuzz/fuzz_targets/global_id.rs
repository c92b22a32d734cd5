//! Relay global ids from clients (`node(id:)`, every `…Id` argument and input):
//! `kernel::global_id::decode`, which the gateway's `relay::decode` is.
//!
//! Contract: any text decodes or is refused, never a panic; what decodes encodes back to an
//! id that decodes to the same entity and uuid; and every id we issue decodes to what it was
//! made from.
#![no_main]

use kernel::global_id::{decode, encode};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data)
        && let Some((entity, uuid)) = decode(text)
    {
        assert!(!entity.contains(':'));
        assert_eq!(decode(&encode(&entity, uuid)), Some((entity, uuid)));
    }
    // Issued ids: an entity name (never a `:` in one) and 16 bytes of uuid.
    if data.len() >= 16 {
        let (raw, name) = data.split_at(16);
        let uuid = uuid::Uuid::from_bytes(raw.try_into().expect("16 bytes"));
        let entity = String::from_utf8_lossy(name).replace(':', "");
        assert_eq!(decode(&encode(&entity, uuid)), Some((entity, uuid)));
    }
});
