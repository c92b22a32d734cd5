//! Reminders of overdue invoices, on a schedule of days past the due date (e.g. 7 and 30),
//! to the billing account's contact. Each invoice gets at most one reminder per stage, even
//! when the job runs many times a day or on several replicas (the messages' unique key), and
//! an invoice first found 40 days late gets the 30-day reminder only, not every stage it
//! missed.

use kernel::BeginWrite as _;
use kernel::{Clock, DomainError};
use sea_orm::DatabaseConnection;
use sea_orm::EntityTrait as _;
use sea_orm::sea_query::OnConflict;

use crate::compose::MessageSettings;
use crate::entity::notifications;
use crate::fanout::row;

/// Queues the reminders due today; returns how many were new.
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
