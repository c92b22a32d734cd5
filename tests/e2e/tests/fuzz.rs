//! A seeded, bounded fuzz of the GraphQL endpoint over HTTP, on both databases.
//!
//! Thousands of documents are made by mutating real operations (the README's, the portals'
//! and finance's, and mutations with their inputs) with edits a fuzzer or a careless client
//! would make: cut, duplicated and swapped spans, stray brackets and quotes, NUL escapes,
//! extreme numbers, directives, fragments. Whatever arrives, the server must answer with a
//! 2xx or 4xx and never `INTERNAL`, and still answer an ordinary question at the end. The
//! seed is fixed (override with `TRELLIS_FUZZ_SEED`, and the count with
//! `TRELLIS_FUZZ_CASES`), so a failure names the document that caused it and reproduces.

use crate::common;

use common::{ADMIN, FINANCE, HEAD, TestApp};
use serde_json::{Value, json};
use testkit::TestDb;

/// Real operations, the starting points of every mutation.
const SEEDS: &[&str] = &[
    "{ viewer { user { name role } schools { name partnerships { edges { role node { name kind } } } } } }",
    "{ agedDebt { account { name } current { formatted } total { formatted } } unallocatedReceipts { reference unallocated { formatted } } }",
    "{ viewer { schools { name reviews { status enquiryFocus leadReviewer { name } findings { kind summary } actions { description dueOn support { hoursProvided providingSchool { name } } } } } } }",
    "{ services(first: 5) { edges { node { title category sessions { startsAt placesLeft } } } } viewer { schools { bookings(first: 10) { edges { node { status settlement service { title } } } } } } }",
    "{ viewer { schools { offer(academicYear: \"2026/27\") { items { item { name } used remaining entries(first: 5) { edges { node { kind quantity } } } } } } } }",
    "query Directory($first: Int, $after: String) { schools(first: $first, after: $after, filter: { nameContains: \"park\" }) { totalCount pageInfo { hasNextPage endCursor } edges { cursor node { id urn name phase partnerships(first: 3) { edges { node { name } } } } } } }",
    "{ invoices(first: 20) { edges { node { number status total { amountPence formatted } lines { description } allocations { amount { formatted } } } } } }",
    "{ payments(first: 10) { edges { node { reference amount { formatted } receivedOn } } } billingAccounts(first: 5) { edges { node { name } } } }",
    "{ memberships(year: \"2026/27\", first: 5) { edges { node { status fee { total { formatted } working { label detail } } } } } }",
    "{ reviewCycles(first: 3) { edges { node { name } } } partnerships(first: 5) { edges { node { name members(first: 3) { totalCount } } } } }",
    "query Node($id: ID!) { node(id: $id) { id ... on School { name urn } ... on Partnership { name } } }",
    "{ school(urn: \"900001\") { name roll { pupils } } __schema { queryType { name } } }",
    "fragment S on School { name urn } query { schools(first: 2) { edges { node { ...S } } } }",
    "mutation { schoolUpdate(input: { id: \"U2Nob29sOjE\", name: \"Renamed\" }) { school { name } userErrors { field code message } } }",
    "mutation { paymentRecord(input: { accountId: \"QmlsbGluZ0FjY291bnQ6MQ\", amountPence: 1200, receivedOn: \"2026-11-02\", reference: \"BACS 1\" }) { userErrors { field code message } } }",
    "mutation { offerUsageRecord(input: { entitlementId: \"RW50aXRsZW1lbnQ6MQ\", quantity: 1, note: \"x\" }) { userErrors { field code message } } }",
    "mutation { bookingCreate(input: { sessionId: \"U2Vzc2lvbjox\", schoolId: \"U2Nob29sOjE\", attendees: [{ name: \"A\", email: \"a@b.example\" }], settlement: INVOICE }) { userErrors { field code message } } }",
    "mutation { apiKeyCreate(input: { name: \"k\", scopes: [DIRECTORY_READ] }) { secret userErrors { code } } }",
];

/// Fragments a mutation may insert.
const TOKENS: &[&str] = &[
    "{",
    "}",
    "[",
    "]",
    "(",
    ")",
    "\"",
    "\"\"\"",
    "\\u0000",
    "\\u{0}",
    "\\",
    "...",
    "$v",
    "$",
    "@skip(if: true)",
    "@include(if: $v)",
    "@deprecated",
    "9223372036854775807",
    "-9223372036854775808",
    "2147483648",
    "1e400",
    "-1",
    "0",
    "null",
    "true",
    "\"\"",
    "__typename",
    "__schema { types { name } }",
    "fragment F on Query { __typename }",
    "...F",
    "... on School { name }",
    "#",
    "\n",
    "é",
    "\u{1F600}",
    ":",
    "=",
    "!",
    "first: 100",
    "last: -5",
    "after: \"garbage\"",
    "id: \"\"",
    "urn: \"\\u0000\"",
    "x: [[[[1]]]]",
    "input: {}",
    "input: null",
    "mutation",
    "subscription",
    "query",
    "$v: Int = 1",
];

/// xorshift64*: deterministic, dependency-free, good enough to pick edits.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: usize) -> usize {
        usize::try_from(self.next() % u64::try_from(n.max(1)).expect("fits")).expect("fits")
    }
}

fn mutate(rng: &mut Rng, seed: &str) -> String {
    let mut doc: Vec<char> = seed.chars().collect();
    for _ in 0..=rng.below(4) {
        let len = doc.len().max(1);
        let at = rng.below(len);
        let span = 1 + rng.below(12.min(len));
        let end = (at + span).min(doc.len());
        match rng.below(6) {
            0 => {
                doc.drain(at.min(doc.len())..end);
            }
            1 => {
                let copy: Vec<char> = doc[at.min(doc.len())..end].to_vec();
                let to = rng.below(doc.len() + 1);
                doc.splice(to..to, copy);
            }
            2 | 3 => {
                let token: Vec<char> = TOKENS[rng.below(TOKENS.len())].chars().collect();
                let to = rng.below(doc.len() + 1);
                doc.splice(to..to, token);
            }
            4 => {
                let other = rng.below(doc.len().max(1));
                if at < doc.len() && other < doc.len() {
                    doc.swap(at, other);
                }
            }
            _ => {
                // Up to 3,000 deep: what once overflowed the parser's stack.
                let repeat = 1 + rng.below(3_000);
                let token = TOKENS[rng.below(6)].repeat(repeat);
                let to = rng.below(doc.len() + 1);
                doc.splice(to..to, token.chars());
            }
        }
    }
    doc.into_iter().collect()
}

fn variables(rng: &mut Rng) -> Value {
    match rng.below(6) {
        0 => json!({}),
        1 => json!({ "v": i64::MAX, "first": 100, "id": "U2Nob29sOjE" }),
        2 => json!({ "v": "a\u{0}b", "first": -1, "after": "\u{0}" }),
        3 => json!({ "v": [[[[[1]]]]], "first": 2_147_483_647_i64, "id": "" }),
        4 => json!({ "v": { "a": { "b": null } }, "first": 3, "id": "garbage" }),
        _ => json!({ "v": null, "first": null, "after": "x".repeat(5_000) }),
    }
}

fn cases() -> usize {
    std::env::var("TRELLIS_FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3_000)
}

fn seed() -> u64 {
    std::env::var("TRELLIS_FUZZ_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0x7E11_15F0_2026)
}

async fn mutated_documents_never_crash_or_answer_internal(db: TestDb) {
    let app = TestApp::spawn_billing(db).await;
    let tokens = [
        app.token(ADMIN).await,
        app.token(FINANCE).await,
        app.token(HEAD).await,
    ];
    let mut rng = Rng(seed());
    let mut refused = 0usize;
    for case in 0..cases() {
        let seed = SEEDS[rng.below(SEEDS.len())];
        let document = mutate(&mut rng, seed);
        let vars = variables(&mut rng);
        let token = &tokens[rng.below(tokens.len())];
        let (status, body) = app.gql(Some(token), &document, vars.clone()).await;
        let context = || format!("case {case}: {document:?} with {vars}: {status} {body}");
        assert!(
            status.is_success() || status.is_client_error(),
            "{}",
            context()
        );
        let errors = body["errors"].as_array().cloned().unwrap_or_default();
        for error in &errors {
            assert_ne!(error["extensions"]["code"], "INTERNAL", "{}", context());
        }
        if status.is_client_error() {
            refused += 1;
        }
    }
    // Most mutations break the document; some must not, or the fuzz tests only the parser.
    assert!(refused < cases(), "every case was refused");
    let data = app
        .data_as(HEAD, "{ viewer { user { name } } }", json!({}))
        .await;
    assert!(data["viewer"]["user"]["name"].is_string(), "{data}");
}

testkit::db_tests!(mutated_documents_never_crash_or_answer_internal);
