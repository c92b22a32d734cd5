//! Property test: random sequences of usages, reversals, adjustments, cash-ins and
//! draw-forwards on one school keep the ledger's identities after every step, accept exactly
//! what the rules allow, and a refused step changes nothing. On SQLite, with a modest number
//! of cases to keep the run short (concurrency on PostgreSQL is `concurrency.rs`).

use crate::support;

use std::collections::HashMap;

use kernel::{Actor, DomainError, OfferEntryId, OfferItemId, SchoolId};
use offer::{NewAdjustment, NewTransfer, NewUsage};
use proptest::prelude::*;
use sea_orm::{ConnectionTrait, Statement};
use support::*;
use testkit::TestDb;

#[derive(Debug, Clone)]
enum Op {
    Use {
        item: usize,
        quantity: i64,
    },
    Reverse {
        usage: usize,
    },
    Adjust {
        item: usize,
        quantity: i64,
        reason: bool,
    },
    CashIn {
        quantity: i64,
    },
    DrawForward {
        quantity: i64,
    },
}

/// Quantities at and beyond the input bound (1..=100,000) and at i64's extremes: refused
/// without writing, or taken and summed without wrapping.
fn extreme() -> impl Strategy<Value = i64> {
    prop_oneof![
        Just(i64::MAX),
        Just(i64::MIN),
        Just(MAX),
        Just(MAX + 1),
        Just(-MAX),
        Just(-MAX - 1),
        any::<i64>(),
    ]
}

const MAX: i64 = kernel::quantity::MAX_INPUT_QUANTITY;

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        5 => (0..3usize, prop_oneof![6 => -1i64..6, 1 => extreme()]).prop_map(|(item, quantity)| Op::Use { item, quantity }),
        2 => (0..12usize).prop_map(|usage| Op::Reverse { usage }),
        2 => (0..3usize, prop_oneof![6 => -5i64..5, 1 => extreme()], any::<bool>()).prop_map(|(item, quantity, reason)| Op::Adjust { item, quantity, reason }),
        2 => prop_oneof![6 => -1i64..4, 1 => extreme()].prop_map(|quantity| Op::CashIn { quantity }),
        2 => prop_oneof![6 => -1i64..4, 1 => extreme()].prop_map(|quantity| Op::DrawForward { quantity }),
    ]
}

/// What the rules say the balances should be.
#[derive(Debug, Default)]
struct Model {
    remaining: HashMap<OfferItemId, i64>,
    usages: Vec<(OfferEntryId, OfferItemId, i64, bool)>,
    cashed_in: i64,
    drawn: i64,
}

const CASH_IN_LIMIT: i64 = 5;
/// 25% of 20 hours.
const DRAW_LIMIT: i64 = 5;

async fn sum_of_entries(db: &TestDb, school: SchoolId, item: OfferItemId) -> i64 {
    let backend = db.conn().get_database_backend();
    db.conn()
        .query_one_raw(Statement::from_sql_and_values(
            backend,
            "SELECT CAST(COALESCE(SUM(quantity), 0) AS BIGINT) AS n FROM offer_ledger_entries WHERE school_id = ? AND item_id = ?",
            [school.as_uuid().into(), item.as_uuid().into()],
        ))
        .await
        .expect("sum")
        .expect("row")
        .try_get::<i64>("", "n")
        .expect("n")
}

async fn run(ops: Vec<Op>) -> Result<(), String> {
    let db = TestDb::sqlite().await;
    let w = derived_world(&db).await;
    let c = clock();
    let school = w.alder;
    // CPD (no overdraft), network (overdraft), BPSI hours (cash-in, draw-forward).
    let items = [w.items.cpd, w.items.network, w.items.bpsi];
    let overdraft = |item: OfferItemId| item == w.items.network;
    let mut model = Model::default();
    for &item in &items {
        model.remaining.insert(
            item,
            balance(&db, school, item).await.remaining().unwrap_or(0),
        );
    }
    for (step, op) in ops.iter().enumerate() {
        let before = footprint(&db).await;
        let (result, allowed): (Result<offer::LedgerEntry, DomainError>, bool) = match *op {
            Op::Use { item, quantity } => {
                let item = items[item];
                let allowed = (1..=MAX).contains(&quantity)
                    && (overdraft(item) || quantity <= model.remaining[&item]);
                let r = offer::record_usage(
                    db.conn(),
                    &w.admin,
                    &c,
                    NewUsage {
                        school_id: school,
                        item_id: item,
                        quantity,
                        occurred_on: day(2026, 10, 1),
                        reference: None,
                        reason: None,
                    },
                )
                .await;
                if let Ok(e) = &r {
                    model.usages.push((e.id, item, quantity, false));
                }
                if allowed {
                    *model.remaining.get_mut(&item).expect("item") -= quantity;
                }
                (r, allowed)
            }
            Op::Reverse { usage } => {
                let Some(&(id, item, quantity, reversed)) = model.usages.get(usage) else {
                    continue;
                };
                let r = offer::reverse_usage(db.conn(), &w.admin, &c, id, None).await;
                if !reversed {
                    model.usages[usage].3 = true;
                    *model.remaining.get_mut(&item).expect("item") += quantity;
                }
                (r, !reversed)
            }
            Op::Adjust {
                item,
                quantity,
                reason,
            } => {
                let item = items[item];
                let allowed = quantity != 0
                    && (-MAX..=MAX).contains(&quantity)
                    && reason
                    && (quantity > 0 || overdraft(item) || model.remaining[&item] + quantity >= 0);
                let r = offer::adjust(
                    db.conn(),
                    &w.admin,
                    &c,
                    NewAdjustment {
                        school_id: school,
                        item_id: item,
                        year: year(),
                        quantity,
                        reason: if reason {
                            "correction".into()
                        } else {
                            String::new()
                        },
                    },
                )
                .await;
                if allowed {
                    *model.remaining.get_mut(&item).expect("item") += quantity;
                }
                (r, allowed)
            }
            Op::CashIn { quantity } => {
                let left = model.remaining[&w.items.bpsi];
                let allowed = (1..=MAX).contains(&quantity)
                    && model.cashed_in + quantity <= CASH_IN_LIMIT
                    && quantity <= left;
                let r = offer::cash_in(
                    db.conn(),
                    &w.admin,
                    &c,
                    NewTransfer {
                        school_id: school,
                        item_id: w.items.bpsi,
                        year: year(),
                        quantity,
                        reference: None,
                        reason: None,
                    },
                )
                .await;
                if allowed {
                    model.cashed_in += quantity;
                    *model.remaining.get_mut(&w.items.bpsi).expect("item") -= quantity;
                }
                (r, allowed)
            }
            Op::DrawForward { quantity } => {
                let allowed = (1..=MAX).contains(&quantity) && model.drawn + quantity <= DRAW_LIMIT;
                let r = offer::draw_forward(
                    db.conn(),
                    &w.admin,
                    &c,
                    NewTransfer {
                        school_id: school,
                        item_id: w.items.bpsi,
                        year: year(),
                        quantity,
                        reference: None,
                        reason: None,
                    },
                )
                .await;
                if allowed {
                    model.drawn += quantity;
                    *model.remaining.get_mut(&w.items.bpsi).expect("item") += quantity;
                }
                (r, allowed)
            }
        };
        match (&result, allowed) {
            (Ok(_), true) => {}
            (Err(DomainError::Invalid(_)), false) => {
                if footprint(&db).await != before {
                    return Err(format!("step {step} {op:?} was refused but wrote"));
                }
            }
            _ => {
                return Err(format!(
                    "step {step} {op:?}: allowed={allowed}, got {result:?}"
                ));
            }
        }
        let offer = offer::offer_of_school(db.conn(), &Actor::System, school, year())
            .await
            .map_err(|e| e.to_string())?;
        for &item in &items {
            let b = offer
                .lines
                .iter()
                .find(|l| l.item.id == item)
                .ok_or("line missing")?
                .balance;
            let remaining = b.remaining().ok_or("limited items have a remaining")?;
            let sum = sum_of_entries(&db, school, item).await;
            if remaining != sum {
                return Err(format!(
                    "step {step}: remaining {remaining} != ledger sum {sum}"
                ));
            }
            if remaining != b.granted - b.used() + b.adjusted - b.cashed_in + b.drawn_forward {
                return Err(format!("step {step}: identity broken: {b:?}"));
            }
            if remaining != model.remaining[&item] {
                return Err(format!(
                    "step {step}: remaining {remaining}, the rules say {}",
                    model.remaining[&item]
                ));
            }
            if !overdraft(item) && remaining < 0 {
                return Err(format!("step {step}: overdrawn {b:?}"));
            }
            if b.used() < 0 || b.reversed > b.usages {
                return Err(format!("step {step}: more given back than used {b:?}"));
            }
        }
        let bpsi = offer
            .lines
            .iter()
            .find(|l| l.item.id == w.items.bpsi)
            .ok_or("bpsi")?
            .balance;
        if bpsi.cashed_in > CASH_IN_LIMIT || bpsi.drawn_forward > DRAW_LIMIT {
            return Err(format!("step {step}: BPSI limits broken {bpsi:?}"));
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, max_shrink_iters: 64, ..ProptestConfig::default() })]

    #[test]
    fn ledger_identities_hold_after_every_step(ops in prop::collection::vec(op(), 1..24)) {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
        let outcome = runtime.block_on(run(ops));
        prop_assert!(outcome.is_ok(), "{}", outcome.err().unwrap_or_default());
    }
}
