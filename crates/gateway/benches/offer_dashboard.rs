//! The hottest read in the product: a member school's portal dashboard (its membership,
//! every core-offer item with used and remaining, and the latest five ledger entries of
//! each), executed through the real schema in-process against a seeded SQLite database
//! (the demo directory, its 2026/27 billing and core offer).
//!
//! Not part of the test run: `cargo bench -p gateway --bench offer_dashboard`.

use std::sync::Arc;

use async_graphql::{Request, Variables};
use criterion::{Criterion, criterion_group, criterion_main};
use gateway::Config;
use gateway::graphql::batch_scope::BatchScope;
use gateway::graphql::context::RequestContext;
use gateway::graphql::loaders::{Batching, Loaders};
use kernel::{Actor, Clock, SystemClock};
use membership::people::{Lookup, users};

const DASHBOARD: &str = r"
query($year: AcademicYear!) {
  viewer { schools {
    name
    offer(academicYear: $year) {
      membership { status tier { code } }
      items {
        item { code name unit unitValue { amountPence } }
        unlimited entitlement used remaining
        entries(first: 5) { totalCount edges { node { kind quantity occurredOn reason } } }
      }
    }
  } }
}";

fn dashboard(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let (db, actor) = runtime.block_on(async {
        let db = testkit::TestDb::sqlite().await;
        membership::demo::seed(db.conn(), &SystemClock)
            .await
            .expect("demo directory");
        billing::demo::seed(db.conn(), &SystemClock)
            .await
            .expect("demo billing");
        offer::demo::seed(db.conn(), &SystemClock)
            .await
            .expect("demo offer");
        let head = users::actor_for(db.conn(), Lookup::Email("head@holly-park.example"))
            .await
            .expect("lookup")
            .expect("the demo head");
        (db, Actor::User(head))
    });
    let config = Config::default();
    let schema = gateway::graphql::schema(&config);
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let run = || async {
        let batches = BatchScope::new();
        let context = RequestContext {
            actor: actor.clone(),
            db: db.conn().clone(),
            clock: clock.clone(),
            loaders: Loaders::new(db.conn(), &actor, Batching::Scoped(&batches)),
        };
        let request = Request::new(DASHBOARD)
            .variables(Variables::from_json(
                serde_json::json!({ "year": "2026/27" }),
            ))
            .data(context);
        let response = batches.run(schema.execute(request)).await;
        assert!(response.errors.is_empty(), "{:?}", response.errors);
        response
    };
    // One check that the dashboard shows the demo's offer before timing it.
    let first = runtime.block_on(run());
    let data = first.data.into_json().expect("json");
    assert_eq!(
        data["viewer"]["schools"][0]["offer"]["items"]
            .as_array()
            .map(Vec::len),
        Some(7),
        "{data}"
    );
    c.bench_function(
        "portal dashboard (Holly Park, 7 items, latest 5 entries each)",
        |b| {
            b.iter(|| runtime.block_on(run()));
        },
    );
}

criterion_group!(benches, dashboard);
criterion_main!(benches);
