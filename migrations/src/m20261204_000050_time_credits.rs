//! Credits for time a school gave (peer review's support hours), one row per credit, keyed by
//! the source of the minutes and how many of its minutes the credit pays up to. A source whose
//! recorded time grows is credited again for the new minutes only, at the rate of the day.
//!
//! Before this table a support request was credited once, by a payment whose idempotency key
//! Trellis derived from the request (`review-support:<id>`); more time recorded afterwards could
//! never be paid. Those credits are carried over as paying every minute the request recorded,
//! at the hourly rate their amount works out to.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::{big_integer, integer, text, timestamp_with_time_zone, uuid};
use sea_orm_migration::sea_orm::prelude::DateTimeUtc;
use sea_orm_migration::sea_orm::{ConnectionTrait, Statement, Value};
use uuid::Uuid;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum TimeCredits {
    Table,
    Id,
    /// Who recorded the minutes, as the caller names it (`review-support:<id>`).
    Source,
    /// The source's recorded minutes this credit pays up to (all earlier ones included).
    MinutesThrough,
    /// The minutes this credit pays for.
    Minutes,
    RatePencePerHour,
    PaymentId,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Payments {
    Table,
    Id,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(TimeCredits::Table)
                    .col(uuid(TimeCredits::Id).primary_key())
                    .col(text(TimeCredits::Source))
                    .col(integer(TimeCredits::MinutesThrough))
                    .col(integer(TimeCredits::Minutes))
                    .col(big_integer(TimeCredits::RatePencePerHour))
                    .col(uuid(TimeCredits::PaymentId))
                    .col(timestamp_with_time_zone(TimeCredits::CreatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(TimeCredits::Table, TimeCredits::PaymentId)
                            .to(Payments::Table, Payments::Id),
                    )
                    .to_owned(),
            )
            .await?;
        // The same minutes are never paid twice, whoever asks and however often.
        manager
            .create_index(
                Index::create()
                    .name("time_credits_source_minutes")
                    .table(TimeCredits::Table)
                    .col(TimeCredits::Source)
                    .col(TimeCredits::MinutesThrough)
                    .unique()
                    .to_owned(),
            )
            .await?;
        carry_over_support_credits(manager).await
    }
}

/// The once-only support credits made before this table, as rows of it.
async fn carry_over_support_credits(manager: &SchemaManager<'_>) -> Result<(), DbErr> {
    let db = manager.get_connection();
    let backend = manager.get_database_backend();
    let keys = db
        .query_all_raw(Statement::from_string(
            backend,
            "SELECT key, result, created_at FROM idempotency_keys \
             WHERE scope = 'payment.record' AND caller = 'trellis' \
               AND key LIKE 'review-support:%'",
        ))
        .await?;
    for key in keys {
        let name: String = key.try_get("", "key")?;
        let result: String = key.try_get("", "result")?;
        let created_at: DateTimeUtc = key.try_get("", "created_at")?;
        let request = name
            .strip_prefix("review-support:")
            .and_then(|id| Uuid::parse_str(id).ok());
        // The stored result is the JSON list of the one payment's id.
        let payment = result
            .trim_matches(|c| c == '[' || c == ']' || c == '"')
            .parse::<Uuid>()
            .ok();
        let (Some(request), Some(payment)) = (request, payment) else {
            continue;
        };
        let Some(found) = db
            .query_one_raw(Statement::from_sql_and_values(
                backend,
                "SELECT p.amount_pence AS amount, s.minutes_provided AS minutes \
                 FROM payments p, peer_review_support_requests s \
                 WHERE p.id = $1 AND s.id = $2",
                [Value::from(payment), Value::from(request)],
            ))
            .await?
        else {
            continue;
        };
        let amount: i64 = found.try_get("", "amount")?;
        let minutes: Option<i32> = found.try_get("", "minutes")?;
        let Some(minutes) = minutes.filter(|m| *m > 0) else {
            continue;
        };
        // The rate the credit was made at: pence = minutes × rate / 60, rounded.
        let rate = (amount * 60 + i64::from(minutes) / 2) / i64::from(minutes);
        db.execute_raw(Statement::from_sql_and_values(
            backend,
            "INSERT INTO time_credits \
               (id, source, minutes_through, minutes, rate_pence_per_hour, payment_id, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
            [
                Value::from(Uuid::now_v7()),
                Value::from(name),
                Value::from(minutes),
                Value::from(minutes),
                Value::from(rate),
                Value::from(payment),
                Value::from(created_at),
            ],
        ))
        .await?;
    }
    Ok(())
}
