//! Reminders on a schedule, run by a job rather than by an event:
//!
//! - overdue invoices, on a schedule of days past the due date (e.g. 7 and 30), to the
//!   billing account's contact. An invoice first found 40 days late gets the 30-day reminder
//!   only, not every stage it missed;
//! - renewals still unanswered a set number of days before their notice date, to the
//!   school's leaders.
//!
//! Each gets at most one message per stage, even when the job runs many times a day or on
//! several replicas: the messages' unique key (the reminder's own key and the address).

use kernel::BeginWrite as _;
use kernel::{Clock, DomainError};
use sea_orm::DatabaseConnection;
use sea_orm::EntityTrait as _;
use sea_orm::sea_query::OnConflict;

use crate::compose::MessageSettings;
use crate::entity::notifications;
use crate::fanout::row;
use crate::model::Draft;

/// Queues the overdue-invoice reminders due today; returns how many were new.
pub async fn remind_overdue(
    db: &DatabaseConnection,
    clock: &dyn Clock,
    settings: &MessageSettings,
    schedule_days: &[u32],
) -> Result<u64, DomainError> {
    let Some(first) = schedule_days.iter().min().copied() else {
        return Ok(0);
    };
    let today = clock.today();
    let cutoff = today - chrono::Days::new(u64::from(first));
    let invoices = billing::ledger::invoices::unpaid_due_by(db, cutoff).await?;
    let due: Vec<_> = invoices
        .into_iter()
        .filter_map(|invoice| {
            let late = invoice.days_overdue(today);
            let stage = schedule_days
                .iter()
                .copied()
                .filter(|d| i64::from(*d) <= late)
                .max()?;
            Some((invoice, stage))
        })
        .collect();
    if due.is_empty() {
        return Ok(0);
    }
    let drafts = crate::compose::billing::overdue(db, settings, &due, today).await?;
    store(db, clock, &drafts).await
}

/// Queues a reminder for every renewal still unanswered whose notice date is at most
/// `days_before` days away; returns how many were new. Zero days turns it off.
pub async fn remind_renewals(
    db: &DatabaseConnection,
    clock: &dyn Clock,
    settings: &MessageSettings,
    days_before: u32,
) -> Result<u64, DomainError> {
    if days_before == 0 {
        return Ok(0);
    }
    let today = clock.today();
    let until = today + chrono::Days::new(u64::from(days_before));
    let renewals = membership::memberships::unanswered_due_between(db, today, until).await?;
    if renewals.is_empty() {
        return Ok(0);
    }
    let drafts = crate::compose::membership::reminders(db, settings, &renewals, today).await?;
    store(db, clock, &drafts).await
}

/// Stores keyed drafts, none twice; returns how many were new.
async fn store(
    db: &DatabaseConnection,
    clock: &dyn Clock,
    drafts: &[(String, Draft)],
) -> Result<u64, DomainError> {
    let now = clock.now();
    let rows: Vec<notifications::ActiveModel> = drafts
        .iter()
        .map(|(key, draft)| row(key, draft, false, now))
        .collect();
    let txn = db.begin_write().await?;
    let mut made = 0;
    for chunk in rows.chunks(200) {
        made += notifications::Entity::insert_many(chunk.to_vec())
            .on_conflict(
                OnConflict::columns([
                    notifications::Column::DedupeKey,
                    notifications::Column::RecipientEmail,
                ])
                .do_nothing()
                .to_owned(),
            )
            .exec_without_returning(&txn)
            .await?;
    }
    txn.commit().await?;
    Ok(made)
}
