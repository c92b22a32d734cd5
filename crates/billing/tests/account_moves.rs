//! Moving a school between billing accounts, today or from a later date, on SQLite and
//! PostgreSQL: who pays afterwards, what stays behind, the job that applies pending moves,
//! cancelling, the audit trail, and every refusal changing nothing.

use crate::ledger_support;

use billing::charges::{ChargeStatus, NewCharge, add_charge, charges_by_bookings};
use billing::ledger::accounts::{self, AccountKind, BillingAccount};
use billing::ledger::invoices::invoice as read_invoice;
use billing::ledger::moves::moves_of_accounts;
use billing::ledger::{
    AccountMove, AppliedMoves, AuditEntity, Instalment, MoveStatus, NewMove, VatTreatment,
    apply_due_moves, audit_of, cancel_move, issue_invoice, move_school,
};
use chrono::{NaiveDate, TimeZone, Utc};
use kernel::{Actor, DomainError, ErrorCode, FixedClock, Role, SchoolId};
use ledger_support::*;
use sea_orm::DatabaseConnection;
use testkit::TestDb;
use uuid::Uuid;

fn on(day: NaiveDate) -> FixedClock {
    FixedClock::new(Utc.from_utc_datetime(&day.and_hms_opt(7, 0, 0).expect("time")))
}

fn charge(school: SchoolId, occurred_on: NaiveDate) -> NewCharge {
    NewCharge {
        school_id: school,
        booking_id: Uuid::now_v7(),
        occurred_on,
        description: "Phonics for new teachers".to_owned(),
        quantity: 1,
        unit_amount: gbp(12_500),
        vat_treatment: VatTreatment::Exempt,
        vat_rate_bp: 0,
        cfr_code: None,
        po_number: None,
    }
}

async fn payer(db: &DatabaseConnection, school: SchoolId) -> Option<BillingAccount> {
    accounts::account_for_school(db, school)
        .await
        .expect("account for school")
}

async fn moves_of(db: &DatabaseConnection, account: &BillingAccount) -> Vec<AccountMove> {
    moves_of_accounts(db, &[account.id])
        .await
        .expect("moves")
        .remove(&account.id)
        .unwrap_or_default()
}

async fn actions(db: &DatabaseConnection, account: &BillingAccount) -> Vec<String> {
    audit_of(
        db,
        &finance(),
        AuditEntity::BillingAccount,
        account.id.as_uuid(),
    )
    .await
    .expect("trail")
    .into_iter()
    .map(|e| e.action)
    .collect()
}

/// Alder pays for itself; the trust pays for Birch.
async fn alder_and_trust(db: &DatabaseConnection) -> (SchoolId, BillingAccount, BillingAccount) {
    let (alder, own) = school_account(db, 340_001, "Alder Primary").await;
    let birch = school(db, 340_002, "Birch Primary").await;
    let trust = accounts::create(
        db,
        &finance(),
        &clock(),
        new_account(AccountKind::Trust, "Birch Learning Trust", &[birch]),
    )
    .await
    .expect("trust");
    (alder, own, trust)
}

async fn a_school_moves_to_its_trust_today(db: TestDb) {
    let conn = db.conn();
    let (alder, own, trust) = alder_and_trust(conn).await;
    let issued = issue_invoice(
        conn,
        &finance(),
        &clock(),
        new_invoice(&own, Instalment::Annual, vec![line(50_000)]),
    )
    .await
    .expect("issue")
    .invoice;
    // A charge for a session before the move stays; one after it follows the school.
    let before = add_charge(
        conn,
        &Actor::System,
        &clock(),
        charge(alder, date(2026, 9, 10)),
    )
    .await
    .expect("earlier charge");
    let after = add_charge(
        conn,
        &Actor::System,
        &clock(),
        charge(alder, date(2026, 10, 1)),
    )
    .await
    .expect("later charge");

    let made = move_school(
        conn,
        &finance(),
        &clock(),
        NewMove {
            school: alder,
            to_account: trust.id,
            effective_from: None,
        },
    )
    .await
    .expect("move");
    assert_eq!(made.status, MoveStatus::Applied);
    assert_eq!(made.effective_from, date(2026, 9, 15));
    assert_eq!((made.from_account, made.to_account), (own.id, trust.id));
    assert!(made.settled_at.is_some());

    let now_paying = payer(conn, alder).await.expect("payer");
    assert_eq!(now_paying.id, trust.id);
    assert_eq!(now_paying.school_ids.len(), 2);
    let left = accounts::account(conn, &finance(), own.id)
        .await
        .expect("old account");
    assert!(left.school_ids.is_empty(), "{left:?}");
    // The issued invoice stays where it was.
    let kept = read_invoice(conn, &finance(), issued.id)
        .await
        .expect("invoice");
    assert_eq!(kept.account_id, own.id);
    let charges = charges_by_bookings(conn, &[before.booking_id, after.booking_id])
        .await
        .expect("charges");
    assert_eq!(charges[&before.booking_id].account_id, own.id);
    assert_eq!(charges[&after.booking_id].account_id, trust.id);
    assert_eq!(charges[&after.booking_id].status, ChargeStatus::Pending);

    // Both accounts list the move and record it on their trails.
    for account in [&own, &trust] {
        assert_eq!(moves_of(conn, account).await, vec![made.clone()]);
        assert!(
            actions(conn, account)
                .await
                .contains(&"account.move_school".to_owned())
        );
    }
    let trail = audit_of(
        conn,
        &finance(),
        AuditEntity::BillingAccount,
        trust.id.as_uuid(),
    )
    .await
    .expect("trail");
    let entry = trail
        .iter()
        .find(|e| e.action == "account.move_school")
        .expect("entry");
    let before_ids = entry.before.as_ref().expect("before")["school_ids"].clone();
    let after_ids = entry.after.as_ref().expect("after")["school_ids"].clone();
    assert_eq!(before_ids.as_array().map(Vec::len), Some(1));
    assert_eq!(after_ids.as_array().map(Vec::len), Some(2));

    // Moving it again to where it is already is a conflict.
    assert_invalid(
        move_school(
            conn,
            &finance(),
            &clock(),
            NewMove {
                school: alder,
                to_account: trust.id,
                effective_from: None,
            },
        )
        .await,
        "toAccountId",
        ErrorCode::Conflict,
    );
    // And back to its own (now empty) SCHOOL account is allowed.
    let back = move_school(
        conn,
        &finance(),
        &clock(),
        NewMove {
            school: alder,
            to_account: own.id,
            effective_from: None,
        },
    )
    .await
    .expect("back");
    assert_eq!(back.status, MoveStatus::Applied);
    assert_eq!(payer(conn, alder).await.expect("payer").id, own.id);
}

async fn a_future_move_waits_for_its_date_and_can_be_cancelled(db: TestDb) {
    let conn = db.conn();
    let (alder, own, trust) = alder_and_trust(conn).await;
    let first_of_october = date(2026, 10, 1);
    let schedule = |when| NewMove {
        school: alder,
        to_account: trust.id,
        effective_from: Some(when),
    };
    let pending = move_school(conn, &finance(), &clock(), schedule(first_of_october))
        .await
        .expect("schedule");
    assert_eq!(pending.status, MoveStatus::Pending);
    assert_eq!(pending.settled_at, None);
    assert_eq!(payer(conn, alder).await.expect("payer").id, own.id);
    assert!(
        actions(conn, &trust)
            .await
            .contains(&"account.move_scheduled".to_owned())
    );
    // One pending move per school.
    assert_invalid(
        move_school(conn, &finance(), &clock(), schedule(date(2026, 11, 1))).await,
        "schoolId",
        ErrorCode::Conflict,
    );
    // Not due yet.
    let early = apply_due_moves(conn, &on(date(2026, 9, 30)))
        .await
        .expect("sweep");
    assert_eq!(early, AppliedMoves::default());
    assert_eq!(payer(conn, alder).await.expect("payer").id, own.id);

    let cancelled = cancel_move(conn, &finance(), &clock(), pending.id)
        .await
        .expect("cancel");
    assert_eq!(cancelled.status, MoveStatus::Cancelled);
    assert_invalid(
        cancel_move(conn, &finance(), &clock(), pending.id).await,
        "id",
        ErrorCode::Conflict,
    );
    // Cancelled moves are never applied.
    let swept = apply_due_moves(conn, &on(first_of_october))
        .await
        .expect("sweep");
    assert_eq!(swept, AppliedMoves::default());
    assert_eq!(payer(conn, alder).await.expect("payer").id, own.id);

    // Scheduled again, it is applied on its date, once.
    let again = move_school(conn, &finance(), &clock(), schedule(first_of_october))
        .await
        .expect("schedule again");
    let swept = apply_due_moves(conn, &on(first_of_october))
        .await
        .expect("sweep");
    assert_eq!(
        swept,
        AppliedMoves {
            applied: 1,
            failed: 0
        }
    );
    let rerun = apply_due_moves(conn, &on(date(2026, 10, 2)))
        .await
        .expect("rerun");
    assert_eq!(rerun, AppliedMoves::default());
    assert_eq!(payer(conn, alder).await.expect("payer").id, trust.id);
    let listed = moves_of(conn, &trust).await;
    assert_eq!(listed.len(), 2, "{listed:?}");
    let applied = listed.iter().find(|m| m.id == again.id).expect("applied");
    assert_eq!(applied.status, MoveStatus::Applied);
    assert!(
        audit_of(
            conn,
            &finance(),
            AuditEntity::BillingAccount,
            own.id.as_uuid()
        )
        .await
        .expect("trail")
        .iter()
        .any(|e| e.action == "account.move_school"
            && e.actor_kind == billing::ledger::ActorKind::System)
    );
    // An applied move can no longer be cancelled.
    assert_invalid(
        cancel_move(conn, &finance(), &clock(), again.id).await,
        "id",
        ErrorCode::Conflict,
    );
}

async fn a_pending_move_fails_when_its_target_was_taken(db: TestDb) {
    let conn = db.conn();
    let (alder, own, trust) = alder_and_trust(conn).await;
    // Cedar leaves its SCHOOL account for the trust: the account is empty and may take Alder.
    let (cedar, cedars) = school_account(conn, 340_003, "Cedar Primary").await;
    move_school(
        conn,
        &finance(),
        &clock(),
        NewMove {
            school: cedar,
            to_account: trust.id,
            effective_from: None,
        },
    )
    .await
    .expect("cedar moves");
    let pending = move_school(
        conn,
        &finance(),
        &clock(),
        NewMove {
            school: alder,
            to_account: cedars.id,
            effective_from: Some(date(2026, 10, 1)),
        },
    )
    .await
    .expect("scheduled into the empty account");
    // Meanwhile another school is attached to that SCHOOL account.
    let damson = school(conn, 340_004, "Damson Primary").await;
    accounts::attach_school(conn, &finance(), &clock(), cedars.id, damson)
        .await
        .expect("attach");

    let swept = apply_due_moves(conn, &on(date(2026, 10, 1)))
        .await
        .expect("sweep");
    assert_eq!(
        swept,
        AppliedMoves {
            applied: 0,
            failed: 1
        }
    );
    assert_eq!(payer(conn, alder).await.expect("payer").id, own.id);
    let failed = moves_of(conn, &own)
        .await
        .into_iter()
        .find(|m| m.id == pending.id)
        .expect("listed");
    assert_eq!(failed.status, MoveStatus::Failed);
    assert!(
        failed
            .failure_reason
            .as_deref()
            .is_some_and(|r| r.contains("SCHOOL account")),
        "{failed:?}"
    );
    assert!(
        actions(conn, &own)
            .await
            .contains(&"account.move_failed".to_owned())
    );
    // A failed move no longer blocks a new one.
    move_school(
        conn,
        &finance(),
        &clock(),
        NewMove {
            school: alder,
            to_account: trust.id,
            effective_from: Some(date(2026, 10, 5)),
        },
    )
    .await
    .expect("a new move");
}

async fn bad_moves_are_refused_and_change_nothing(db: TestDb) {
    let conn = db.conn();
    let (alder, own, trust) = alder_and_trust(conn).await;
    let (_, cedars) = school_account(conn, 340_003, "Cedar Primary").await;
    let unbilled = school(conn, 340_005, "Elm Primary").await;
    let to = |school, account: &BillingAccount| NewMove {
        school,
        to_account: account.id,
        effective_from: None,
    };
    let cases: Vec<(NewMove, &str, ErrorCode)> = vec![
        (to(SchoolId::new(), &trust), "schoolId", ErrorCode::NotFound),
        (to(unbilled, &trust), "schoolId", ErrorCode::Conflict),
        (
            NewMove {
                school: alder,
                to_account: kernel::BillingAccountId::new(),
                effective_from: None,
            },
            "toAccountId",
            ErrorCode::NotFound,
        ),
        (to(alder, &own), "toAccountId", ErrorCode::Conflict),
        (to(alder, &cedars), "toAccountId", ErrorCode::Taken),
        (
            NewMove {
                effective_from: Some(date(2026, 9, 14)),
                ..to(alder, &trust)
            },
            "effectiveFrom",
            ErrorCode::OutOfRange,
        ),
        (
            NewMove {
                effective_from: Some(date(2029, 9, 1)),
                ..to(alder, &trust)
            },
            "effectiveFrom",
            ErrorCode::OutOfRange,
        ),
    ];
    for (input, field, code) in cases {
        assert_invalid(
            move_school(conn, &finance(), &clock(), input).await,
            field,
            code,
        );
    }
    // Only finance and admins move schools; a school's own leader may not.
    for role in [Role::SchoolLeader, Role::SchoolStaff] {
        assert!(matches!(
            move_school(conn, &user(role, &[alder]), &clock(), to(alder, &trust)).await,
            Err(DomainError::Forbidden(_))
        ));
    }
    let scheduled = move_school(
        conn,
        &finance(),
        &clock(),
        NewMove {
            effective_from: Some(date(2026, 12, 1)),
            ..to(alder, &trust)
        },
    )
    .await
    .expect("scheduled");
    assert!(matches!(
        cancel_move(
            conn,
            &user(Role::SchoolLeader, &[alder]),
            &clock(),
            scheduled.id
        )
        .await,
        Err(DomainError::Forbidden(_))
    ));
    assert!(matches!(
        cancel_move(conn, &finance(), &clock(), kernel::AccountMoveId::new()).await,
        Err(DomainError::NotFound { .. })
    ));
    // Nothing moved: Alder still pays for itself, and only the one pending move exists.
    assert_eq!(payer(conn, alder).await.expect("payer").id, own.id);
    assert_eq!(payer(conn, unbilled).await, None);
    assert_eq!(moves_of(conn, &own).await, vec![scheduled.clone()]);
    assert!(moves_of(conn, &cedars).await.is_empty());
    assert_eq!(
        actions(conn, &own).await,
        vec![
            "account.create".to_owned(),
            "account.move_scheduled".to_owned()
        ]
    );
}

async fn two_moves_at_once_leave_one_payer(db: TestDb) {
    let conn = db.conn();
    let (alder, own, trust) = alder_and_trust(conn).await;
    let other = accounts::create(
        conn,
        &finance(),
        &clock(),
        new_account(AccountKind::Trust, "Other Trust", &[]),
    )
    .await
    .expect("other trust");
    let go = |account: &BillingAccount| {
        let input = NewMove {
            school: alder,
            to_account: account.id,
            effective_from: None,
        };
        async move { move_school(conn, &finance(), &clock(), input).await }
    };
    let (a, b) = tokio::join!(go(&trust), go(&other));
    // PostgreSQL refuses the one that waited (who paid changed under it); SQLite runs them
    // one after the other, so the second moves the school on again. Either way the school has
    // exactly one payer, and it is where the last applied move took it.
    let applied: Vec<AccountMove> = [a, b]
        .into_iter()
        .filter_map(|r| match r {
            Ok(m) => Some(m),
            Err(err) => {
                assert!(
                    matches!(&err, DomainError::Invalid(p) if p[0].code == ErrorCode::Conflict),
                    "{err:?}"
                );
                None
            }
        })
        .collect();
    assert!(!applied.is_empty());
    let now_paying = payer(conn, alder).await.expect("payer");
    let mut chain = applied.clone();
    // Ids are time-ordered and taken under the locks: the order the moves were applied.
    chain.sort_by_key(|m| m.id);
    assert_eq!(chain.first().expect("first").from_account, own.id);
    assert_eq!(chain.last().expect("last").to_account, now_paying.id);
    let mut holders = 0;
    for account in [&own, &trust, &other] {
        let now = accounts::account(conn, &finance(), account.id)
            .await
            .expect("account");
        holders += usize::from(now.school_ids.contains(&alder));
    }
    assert_eq!(holders, 1);
}

testkit::db_tests!(
    a_school_moves_to_its_trust_today,
    a_future_move_waits_for_its_date_and_can_be_cancelled,
    a_pending_move_fails_when_its_target_was_taken,
    bad_moves_are_refused_and_change_nothing,
    two_moves_at_once_leave_one_payer,
);
