//! `schema/trellis.graphql` is the contract third-party front ends integrate against: it
//! must be exactly what the server serves. Regenerate it with
//! `cargo run --bin trellis -- schema > schema/trellis.graphql`, or run this test with
//! `TRELLIS_UPDATE_SCHEMA=1`, and review the diff: a removed or changed field must go
//! through `@deprecated` first.

use std::path::PathBuf;

#[test]
fn exported_schema_is_current() {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../schema/trellis.graphql");
    let served = format!("{}\n", gateway::graphql::sdl());
    if std::env::var_os("TRELLIS_UPDATE_SCHEMA").is_some() {
        std::fs::write(&path, &served).expect("write schema");
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == served,
        "schema/trellis.graphql is stale: run `cargo run --bin trellis -- schema > schema/trellis.graphql` and commit it"
    );
}
