//! Automatic persisted queries (Apollo's APQ protocol) on `/graphql`.
//!
//! A client sends `extensions: {"persistedQuery": {"version": 1, "sha256Hash": "<hex>"}}`
//! without `query`; if this replica knows the hash, the document it stands for runs, else the
//! answer is the error `PersistedQueryNotFound` (code `PERSISTED_QUERY_NOT_FOUND`) and the
//! client sends the hash again with the query, which registers it. GET works too, so a CDN can
//! cache queries by URL.
//!
//! Written here rather than with async-graphql's `ApolloPersistedQueries` extension, which
//! parses a registering document before the request limits have scanned it (a hostile document
//! could overflow the parser's stack) and stores documents that never passed validation, and
//! which runs after the transport has decided whether a GET may run the document (a persisted
//! mutation would run over GET). Here the document is resolved first, then checked and
//! executed like any other — every limit applies to the stored text on every use — and a
//! document is remembered only once it has passed them all and run. Storage is a bounded LRU
//! per replica (entries and bytes): a replica that has not seen a hash, or forgot it, answers
//! `PersistedQueryNotFound` and the client registers it again, as the protocol intends.

use std::sync::{Arc, Mutex};

use lru::LruCache;
use serde_json::{Map, Value};

/// The documents one replica remembers, by the hex SHA-256 of their text.
#[derive(Debug)]
pub struct PersistedQueries {
    max_bytes: usize,
    inner: Mutex<Stored>,
}

#[derive(Debug)]
struct Stored {
    documents: LruCache<String, Arc<str>>,
    bytes: usize,
}

/// What a request's `persistedQuery` extension asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Persisted {
    /// Run the document with this hash (no `query` was sent).
    Lookup(String),
    /// Run `query` and remember it under this hash (checked to match).
    Register(String),
}

impl PersistedQueries {
    /// A store of at most `max_entries` documents and `max_bytes` of text; `None` when
    /// `max_entries` is 0 (persisted queries off).
    #[must_use]
    pub fn new(max_entries: usize, max_bytes: usize) -> Option<Arc<Self>> {
        let cap = std::num::NonZeroUsize::new(max_entries)?;
        Some(Arc::new(Self {
            max_bytes,
            inner: Mutex::new(Stored {
                documents: LruCache::new(cap),
                bytes: 0,
            }),
        }))
    }

    /// The document stored under `hash`, if this replica remembers it.
    #[must_use]
    pub fn get(&self, hash: &str) -> Option<Arc<str>> {
        let mut stored = self
            .inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        stored.documents.get(hash).cloned()
    }

    /// Remembers `text` under `hash`, forgetting the least recently used documents while over
    /// the byte budget. A document larger than the whole budget is not kept.
    pub fn put(&self, hash: String, text: &str) {
        if text.len() > self.max_bytes {
            return;
        }
        let mut stored = self
            .inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if stored.documents.contains(&hash) {
            stored.documents.promote(&hash);
            return;
        }
        stored.bytes += text.len();
        if let Some((_, evicted)) = stored.documents.push(hash, Arc::from(text)) {
            stored.bytes -= evicted.len();
        }
        while stored.bytes > self.max_bytes {
            match stored.documents.pop_lru() {
                Some((_, evicted)) => stored.bytes -= evicted.len(),
                None => break,
            }
        }
    }

    /// How many documents are remembered, and their bytes.
    #[must_use]
    pub fn usage(&self) -> (usize, usize) {
        let stored = self
            .inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        (stored.documents.len(), stored.bytes)
    }
}

/// The hex SHA-256 of a document, as APQ names it.
pub use crate::graphql::spans::document_hash as hash;

/// Takes the `persistedQuery` extension out of a request's extensions. `Ok(None)` when there
/// is none; an error message when it is malformed, of another version, or its hash does not
/// match the `query` sent with it.
pub fn take(
    extensions: &mut Option<Map<String, Value>>,
    query: Option<&str>,
) -> Result<Option<Persisted>, &'static str> {
    let Some(value) = extensions.as_mut().and_then(|e| e.remove("persistedQuery")) else {
        return Ok(None);
    };
    let Value::Object(fields) = value else {
        return Err("`extensions.persistedQuery` must be an object");
    };
    if fields.get("version") != Some(&Value::from(1)) {
        return Err("only version 1 of `extensions.persistedQuery` is supported");
    }
    let Some(Value::String(sha)) = fields.get("sha256Hash") else {
        return Err("`extensions.persistedQuery.sha256Hash` must be a string");
    };
    let sha = sha.to_ascii_lowercase();
    if sha.len() != 64 || !sha.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err("`extensions.persistedQuery.sha256Hash` must be 64 hex digits");
    }
    match query {
        None | Some("") => Ok(Some(Persisted::Lookup(sha))),
        Some(text) if hash(text) == sha => Ok(Some(Persisted::Register(sha))),
        Some(_) => Err("`extensions.persistedQuery.sha256Hash` is not the SHA-256 of `query`"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn ext(v: Value) -> Option<Map<String, Value>> {
        match v {
            Value::Object(m) => Some(m),
            _ => None,
        }
    }

    #[test]
    fn reads_the_extension() {
        let q = "{ viewer { scopes } }";
        let h = hash(q);
        let mut e = ext(json!({ "persistedQuery": { "version": 1, "sha256Hash": h } }));
        assert_eq!(take(&mut e, None), Ok(Some(Persisted::Lookup(h.clone()))));
        assert!(e.expect("left").is_empty(), "the extension is taken out");
        let mut e = ext(json!({ "persistedQuery": { "version": 1, "sha256Hash": h } }));
        assert_eq!(
            take(&mut e, Some(q)),
            Ok(Some(Persisted::Register(h.clone())))
        );
        let mut e = ext(json!({ "persistedQuery": { "version": 1, "sha256Hash": h } }));
        assert!(take(&mut e, Some("{ other }")).is_err());
        let mut e = ext(json!({ "persistedQuery": { "version": 2, "sha256Hash": h } }));
        assert!(take(&mut e, None).is_err());
        let mut e = ext(json!({ "persistedQuery": { "version": 1, "sha256Hash": "abc" } }));
        assert!(take(&mut e, None).is_err());
        assert_eq!(take(&mut None, Some(q)), Ok(None));
    }

    #[test]
    fn the_store_is_bounded_by_entries_and_bytes() {
        let store = PersistedQueries::new(3, 10).expect("on");
        store.put("a".into(), "1234");
        store.put("b".into(), "1234");
        assert_eq!(store.usage(), (2, 8));
        // Over the byte budget: the least recently used goes.
        assert!(store.get("a").is_some());
        store.put("c".into(), "1234");
        assert_eq!(store.usage(), (2, 8));
        assert!(store.get("b").is_none(), "b was least recently used");
        assert!(store.get("a").is_some() && store.get("c").is_some());
        // Over the entry cap.
        store.put("d".into(), "1");
        store.put("e".into(), "1");
        assert_eq!(store.usage().0, 3);
        // Larger than the whole budget: not kept.
        store.put("f".into(), "12345678901");
        assert!(store.get("f").is_none());
        assert!(PersistedQueries::new(0, 10).is_none());
    }
}
