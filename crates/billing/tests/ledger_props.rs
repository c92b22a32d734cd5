//! Property test: random sequences of invoices, receipts, allocations, credit notes,
//! refunds and voids keep the ledger's identities after every step, and a refused step
//! changes nothing. On SQLite, with a modest number of cases to keep the run short (the
//! PostgreSQL behaviour under concurrency is covered by `ledger_money`).

use crate::ledger_support;

use billing::ledger::credit_notes::{self, CreditAmount, NewCreditNote};
use billing::ledger::invoices::{self, InvoiceFilter};
use billing::ledger::payments::{self, NewPayment, PaymentFilter, ReceiptMethod};
use billing::ledger::refunds::NewRefund;
use billing::ledger::{
    BillingAccount, Instalment, Invoice, Payment, Statement, VatTreatment, account_statement,
    allocate, issue_invoice, record_payment, refund,
};
use kernel::{DomainError, InvoiceId, Money, PaymentId};
use ledger_support::*;
use membership::PageArgs;
use proptest::prelude::*;
use sea_orm::DatabaseConnection;
use testkit::TestDb;

#[derive(Debug, Clone)]
enum Op {
    Invoice {
        account: usize,
        exempt: i64,
        standard: i64,
    },
    Receipt {
        account: usize,
        pence: i64,
    },
    Allocate {
        payment: usize,
        invoice: usize,
        pence: i64,
    },
    AllocateMax {
        payment: usize,
        invoice: usize,
    },
    Credit {
        invoice: usize,
        pence: i64,
    },
    CreditFull {
        invoice: usize,
    },
    Refund {
        payment: usize,
        pence: i64,
    },
    RefundMax {
        payment: usize,
    },
    Void {
        invoice: usize,
    },
}

fn op() -> impl Strategy<Value = Op> {
    // Mostly ordinary amounts; some at and beyond the input bound (1p..=£10,000,000) and at
    // i64's extremes, which must be refused without changing anything, or taken and summed
    // without wrapping.
    let extreme = prop_oneof![
        Just(i64::MAX),
        Just(i64::MIN),
        Just(kernel::money::MAX_INPUT_PENCE),
        Just(kernel::money::MAX_INPUT_PENCE + 1),
        any::<i64>(),
    ];
    let amount = prop_oneof![4 => 1i64..50_000, 1 => -100i64..=0, 1 => extreme];
    prop_oneof![
        3 => (0..2usize, 0i64..40_000, 0i64..10_000).prop_map(|(account, exempt, standard)| Op::Invoice { account, exempt, standard }),
        3 => (0..2usize, amount.clone()).prop_map(|(account, pence)| Op::Receipt { account, pence }),
        2 => (0..8usize, 0..8usize, amount.clone()).prop_map(|(payment, invoice, pence)| Op::Allocate { payment, invoice, pence }),
        3 => (0..8usize, 0..8usize).prop_map(|(payment, invoice)| Op::AllocateMax { payment, invoice }),
        2 => (0..8usize, amount.clone()).prop_map(|(invoice, pence)| Op::Credit { invoice, pence }),
        1 => (0..8usize).prop_map(|invoice| Op::CreditFull { invoice }),
        1 => (0..8usize, amount).prop_map(|(payment, pence)| Op::Refund { payment, pence }),
        1 => (0..8usize).prop_map(|payment| Op::RefundMax { payment }),
        1 => (0..8usize).prop_map(|invoice| Op::Void { invoice }),
    ]
}

struct World {
    accounts: Vec<BillingAccount>,
    invoices: Vec<InvoiceId>,
    payments: Vec<PaymentId>,
}

fn pick<T: Copy>(items: &[T], i: usize) -> Option<T> {
    (!items.is_empty()).then(|| items[i % items.len()])
}

async fn apply(db: &DatabaseConnection, world: &mut World, op: &Op) -> Result<(), DomainError> {
    let (f, c) = (finance(), clock());
    match op.clone() {
        Op::Invoice {
            account,
            exempt,
            standard,
        } => {
            let mut lines = vec![line(exempt)];
            if standard > 0 {
                let mut l = line(standard);
                l.vat_treatment = VatTreatment::Standard;
                l.vat_rate_bp = 2_000;
                lines.push(l);
            }
            let issued = issue_invoice(
                db,
                &f,
                &c,
                new_invoice(&world.accounts[account], Instalment::None, lines),
            )
            .await?;
            world.invoices.push(issued.invoice.id);
        }
        Op::Receipt { account, pence } => {
            let p = record_payment(
                db,
                &f,
                &c,
                NewPayment {
                    account_id: world.accounts[account].id,
                    method: ReceiptMethod::Bacs,
                    reference: "BACS".into(),
                    received_on: date(2026, 9, 15),
                    amount: gbp(pence),
                    provider_payment_ref: None,
                    idempotency_key: None,
                },
            )
            .await?;
            world.payments.push(p.id);
        }
        Op::Allocate {
            payment,
            invoice,
            pence,
        } => {
            let (Some(p), Some(i)) = (
                pick(&world.payments, payment),
                pick(&world.invoices, invoice),
            ) else {
                return Ok(());
            };
            allocate(db, &f, &c, p, &[(i, gbp(pence))], None).await?;
        }
        Op::AllocateMax { payment, invoice } => {
            let (Some(p), Some(i)) = (
                pick(&world.payments, payment),
                pick(&world.invoices, invoice),
            ) else {
                return Ok(());
            };
            let left = payments::payment(db, &f, p).await?.unallocated.pence();
            let owed = invoices::invoice(db, &f, i).await?.outstanding.pence();
            allocate(db, &f, &c, p, &[(i, gbp(left.min(owed)))], None).await?;
        }
        Op::Credit { invoice, pence } => {
            let Some(i) = pick(&world.invoices, invoice) else {
                return Ok(());
            };
            credit_notes::credit(
                db,
                &f,
                &c,
                NewCreditNote {
                    invoice_id: i,
                    reason: "adjustment".into(),
                    amount: CreditAmount::Amount(gbp(pence)),
                    idempotency_key: None,
                },
            )
            .await?;
        }
        Op::CreditFull { invoice } => {
            let Some(i) = pick(&world.invoices, invoice) else {
                return Ok(());
            };
            credit_notes::credit(
                db,
                &f,
                &c,
                NewCreditNote {
                    invoice_id: i,
                    reason: "cancelled".into(),
                    amount: CreditAmount::Full,
                    idempotency_key: None,
                },
            )
            .await?;
        }
        Op::Refund { payment, pence } => {
            let Some(p) = pick(&world.payments, payment) else {
                return Ok(());
            };
            refund(db, &f, &c, new_refund(p, pence)).await?;
        }
        Op::RefundMax { payment } => {
            let Some(p) = pick(&world.payments, payment) else {
                return Ok(());
            };
            let left = payments::payment(db, &f, p).await?.unallocated.pence();
            refund(db, &f, &c, new_refund(p, left)).await?;
        }
        Op::Void { invoice } => {
            let Some(i) = pick(&world.invoices, invoice) else {
                return Ok(());
            };
            invoices::void(db, &f, &c, i, "raised in error").await?;
        }
    }
    Ok(())
}

fn new_refund(payment: PaymentId, pence: i64) -> NewRefund {
    NewRefund {
        payment_id: payment,
        amount: gbp(pence),
        reason: "returned".into(),
        refunded_on: date(2026, 9, 15),
        provider_refund_ref: None,
        idempotency_key: None,
    }
}

/// Everything the invariants look at, to compare before and after a refused step.
#[derive(Debug, PartialEq)]
struct Snapshot {
    statements: Vec<Statement>,
    invoices: Vec<Invoice>,
    payments: Vec<Payment>,
}

async fn snapshot(db: &DatabaseConnection, world: &World) -> Snapshot {
    let mut statements = Vec::new();
    for a in &world.accounts {
        statements.push(
            account_statement(db, &finance(), a.id, year())
                .await
                .expect("statement"),
        );
    }
    let invoices = invoices::invoices(
        db,
        &finance(),
        &InvoiceFilter::default(),
        &PageArgs::first(100),
    )
    .await
    .expect("invoices")
    .items;
    let payments = payments::payments(
        db,
        &finance(),
        &PaymentFilter::default(),
        &PageArgs::first(100),
    )
    .await
    .expect("payments")
    .items;
    Snapshot {
        statements,
        invoices,
        payments,
    }
}

fn check(s: &Snapshot) -> Result<(), String> {
    for st in &s.statements {
        if st.invoiced.pence() != st.paid.pence() + st.credited.pence() + st.outstanding.pence() {
            return Err(format!("invoiced ≠ paid + credited + outstanding: {st:?}"));
        }
        if st.received.pence() != st.paid.pence() + st.refunded.pence() + st.account_credit.pence()
        {
            return Err(format!("received ≠ allocated + refunded + credit: {st:?}"));
        }
        if [
            st.paid,
            st.credited,
            st.outstanding,
            st.account_credit,
            st.refunded,
        ]
        .iter()
        .any(|m| m.pence() < 0)
        {
            return Err(format!("negative balance: {st:?}"));
        }
    }
    for i in &s.invoices {
        let zero = Money::zero().pence();
        if i.paid.pence() < zero || i.credited.pence() < zero || i.outstanding.pence() < zero {
            return Err(format!("negative on {i:?}"));
        }
        if i.total.pence() != i.paid.pence() + i.credited.pence() + i.outstanding.pence() {
            return Err(format!("unbalanced {i:?}"));
        }
    }
    for p in &s.payments {
        if p.unallocated.pence() < 0 || p.allocated.pence() < 0 || p.refunded.pence() < 0 {
            return Err(format!("negative on {p:?}"));
        }
    }
    let mut numbers: Vec<&str> = s.invoices.iter().map(|i| i.number.as_str()).collect();
    numbers.sort_unstable();
    let expected: Vec<String> = (1..=numbers.len())
        .map(|n| format!("TRL-2026-{n:06}"))
        .collect();
    if numbers != expected {
        return Err(format!("numbers not gap-free: {numbers:?}"));
    }
    Ok(())
}

async fn run(ops: Vec<Op>) -> Result<(), String> {
    let db = TestDb::sqlite().await;
    let conn = db.conn();
    let (_, a) = school_account(conn, 400_001, "Alder Primary").await;
    let (_, b) = school_account(conn, 400_002, "Birch Primary").await;
    let mut world = World {
        accounts: vec![a, b],
        invoices: vec![],
        payments: vec![],
    };
    for op in &ops {
        let before = snapshot(conn, &world).await;
        match apply(conn, &mut world, op).await {
            Ok(()) => {}
            Err(DomainError::Invalid(_)) => {
                let after = snapshot(conn, &world).await;
                if after != before {
                    return Err(format!("refused {op:?} still changed the ledger"));
                }
            }
            Err(other) => return Err(format!("{op:?} failed: {other:?}")),
        }
        check(&snapshot(conn, &world).await).map_err(|e| format!("after {op:?}: {e}"))?;
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 32, max_shrink_iters: 64, ..ProptestConfig::default() })]

    #[test]
    fn ledger_identities_hold_after_every_step(ops in prop::collection::vec(op(), 1..24)) {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
        let outcome = runtime.block_on(run(ops));
        prop_assert!(outcome.is_ok(), "{}", outcome.err().unwrap_or_default());
    }
}
