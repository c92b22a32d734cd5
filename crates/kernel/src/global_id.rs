//! Relay global ids on the wire: URL-safe base64 (no padding) of `Entity:uuid`.
//!
//! The gateway gives every object such an id and reads them back from clients; the text
//! handling lives here, beside the typed ids and the cursors, so that it is pure and can be
//! fuzzed without the server. The gateway's `graphql::relay` checks the entity.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use uuid::Uuid;

/// The global id of the `entity` whose id is `uuid`.
#[must_use]
pub fn encode(entity: &str, uuid: Uuid) -> String {
    URL_SAFE_NO_PAD.encode(format!("{entity}:{uuid}"))
}

/// Splits a global id into entity name and uuid; `None` when it is not one of ours.
#[must_use]
pub fn decode(id: &str) -> Option<(String, Uuid)> {
    let bytes = URL_SAFE_NO_PAD.decode(id).ok()?;
    let text = String::from_utf8(bytes).ok()?;
    let (entity, uuid) = text.split_once(':')?;
    Some((entity.to_owned(), Uuid::parse_str(uuid).ok()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_refuses_garbage() {
        let uuid = Uuid::now_v7();
        assert_eq!(
            decode(&encode("School", uuid)),
            Some(("School".to_owned(), uuid))
        );
        assert_eq!(decode("garbage"), None);
        assert_eq!(decode("U2Nob29sOm5vdC1hLXV1aWQ"), None);
    }
}
