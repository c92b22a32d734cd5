//! Credits for time a school gave (peer review's school-to-school support, say), paid by the
//! minute, each minute once.
//!
//! Billing does not know where the minutes were recorded: the caller names their source with a
//! stable key and says how many minutes it holds now. Each credit pays the minutes recorded
//! since the source's last credit, at the hourly rate finance gives that day, so time recorded
//! after a credit can still be paid, and rates may change between credits. Asking again with
//! nothing new returns the last credit when the rate is the same (a retry) and is a `CONFLICT`
//! when it is not (those minutes were paid at another rate).
//!
//! A credit is a receipt (method CREDIT) on the school's billing account, recorded with its
//! time-credit row in one transaction under the account's ledger lock; the row is unique per
//! (source, minutes paid up to), so the same minutes are never paid twice.

use kernel::BeginWrite as _;
use kernel::{Actor, Clock, DomainError, ErrorCode, Money, PaymentId, Permission, SchoolId};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect, Set, TransactionSession, TransactionTrait,
};
use uuid::Uuid;

use super::accounts::accounts_of_schools;
use super::entity::time_credits;
use super::payments::{NewPayment, Payment, ReceiptMethod, check, insert_receipt, payments_by_ids};
use super::support::lock_account;

/// The field errors about the source name (the caller maps it to its own input).
pub const SOURCE_FIELD: &str = "source";
/// The field errors about the rate name.
pub const RATE_FIELD: &str = "ratePencePerHour";

/// Time to credit: everything `source` has recorded so far, at `rate` an hour.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TimeCredit {
    /// Stable name of where the minutes were recorded, e.g. `review-support:<id>`.
    pub source: String,
    /// The school that gave the time: its billing account is credited.
    pub school: SchoolId,
    /// All the minutes the source holds now (earlier credits included).
    pub minutes_recorded: u32,
    /// What an hour is worth (no VAT: a credit between members, not a supply).
    pub rate_per_hour: Money,
    /// What the time was, for the receipt's reference ("School-to-school support").
    pub description: String,
}

/// A credit made for recorded time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreditedTime {
    pub payment: Payment,
    /// The minutes this credit paid for.
    pub minutes: u32,
    /// The source's minutes paid for by this credit and the ones before it.
    pub minutes_through: u32,
    pub rate_per_hour: Money,
}

/// Credits the school for the minutes `credit.source` recorded since its last credit. Finance
/// and admins.
pub async fn credit_time<C>(
    db: &C,
    actor: &Actor,
    clock: &dyn Clock,
    credit: TimeCredit,
) -> Result<CreditedTime, DomainError>
where
    C: ConnectionTrait + TransactionTrait,
{
    actor.require(Permission::ManageBilling)?;
    let rate = Money::bounded_input(RATE_FIELD, credit.rate_per_hour)
        .map_err(|e| DomainError::Invalid(vec![e]))?;
    let Some(account) = accounts_of_schools(db, &[credit.school])
        .await?
        .remove(&credit.school)
    else {
        return Err(DomainError::invalid(
            SOURCE_FIELD,
            ErrorCode::NotFound,
            "the school that gave the time has no billing account to credit",
        ));
    };

    let txn = db.begin_write().await?;
    // Every credit of a source goes to its school's account, so the account's lock also
    // serialises the source's credits.
    lock_account(&txn, account.id).await?;
    let last = time_credits::Entity::find()
        .filter(time_credits::Column::Source.eq(credit.source.as_str()))
        .order_by_desc(time_credits::Column::MinutesThrough)
        .limit(1)
        .one(&txn)
        .await?;
    let credited = last
        .as_ref()
        .map_or(Ok(0), |row| u32::try_from(row.minutes_through))
        .map_err(DomainError::internal)?;
    if credit.minutes_recorded <= credited {
        txn.rollback().await?;
        return match last {
            Some(row) if credit.minutes_recorded == credited => {
                if row.rate_pence_per_hour == rate.pence() {
                    credited_time(db, row).await
                } else {
                    Err(DomainError::invalid(
                        RATE_FIELD,
                        ErrorCode::Conflict,
                        format!(
                            "all {credited} minutes recorded were credited at {} an hour; \
                             nothing is left to credit",
                            Money::from_pence(row.rate_pence_per_hour)
                        ),
                    ))
                }
            }
            _ => Err(DomainError::invalid(
                SOURCE_FIELD,
                ErrorCode::Conflict,
                format!(
                    "{credited} minutes were credited, more than the {} recorded now: \
                     correct the record, or settle the difference by hand",
                    credit.minutes_recorded
                ),
            )),
        };
    }
    let minutes = credit.minutes_recorded - credited;
    let amount = amount_for(minutes, rate)?;
    let hours = f64::from(minutes) / 60.0;
    let receipt = check(
        &txn,
        clock,
        &NewPayment {
            account_id: account.id,
            method: ReceiptMethod::Credit,
            reference: format!("{}: {hours:.2} h at {rate} an hour", credit.description),
            received_on: clock.today(),
            amount,
            provider_payment_ref: None,
            idempotency_key: None,
        },
    )
    .await?;
    let payment = insert_receipt(&txn, actor, clock, receipt).await?;
    time_credits::ActiveModel {
        id: Set(Uuid::now_v7()),
        source: Set(credit.source.clone()),
        minutes_through: Set(i32::try_from(credit.minutes_recorded).map_err(DomainError::internal)?),
        minutes: Set(i32::try_from(minutes).map_err(DomainError::internal)?),
        rate_pence_per_hour: Set(rate.pence()),
        payment_id: Set(payment.id.as_uuid()),
        created_at: Set(clock.now()),
    }
    .insert(&txn)
    .await?;
    // The account's contact is told what the time earned (notifications).
    kernel::outbox::record(
        &txn,
        kernel::outbox::EventKind::TimeCredited,
        payment.id.as_uuid(),
        serde_json::json!({
            "minutes": minutes,
            "ratePencePerHour": rate.pence(),
            "description": credit.description,
        }),
        clock.now(),
    )
    .await?;
    txn.commit().await?;
    Ok(CreditedTime {
        payment,
        minutes,
        minutes_through: credit.minutes_recorded,
        rate_per_hour: rate,
    })
}

/// Pence for the minutes at the hourly rate, half a penny rounded up: checked, and within
/// the bound on any receipt.
fn amount_for(minutes: u32, rate: Money) -> Result<Money, DomainError> {
    i64::from(minutes)
        .checked_mul(rate.pence())
        .and_then(|p| p.checked_add(30))
        .map(|p| Money::from_pence(p / 60))
        .and_then(|amount| Money::bounded_input(RATE_FIELD, amount).ok())
        .ok_or_else(|| {
            DomainError::invalid(
                RATE_FIELD,
                ErrorCode::OutOfRange,
                format!(
                    "{minutes} minutes at this rate must come to {} to {}",
                    Money::from_pence(kernel::money::MIN_INPUT_PENCE),
                    Money::from_pence(kernel::money::MAX_INPUT_PENCE)
                ),
            )
        })
}

async fn credited_time<C: ConnectionTrait>(
    db: &C,
    row: time_credits::Model,
) -> Result<CreditedTime, DomainError> {
    let payment = payments_by_ids(db, &[PaymentId::from_uuid(row.payment_id)])
        .await?
        .into_values()
        .next()
        .ok_or(DomainError::NotFound { entity: "Payment" })?;
    Ok(CreditedTime {
        payment,
        minutes: u32::try_from(row.minutes).map_err(DomainError::internal)?,
        minutes_through: u32::try_from(row.minutes_through).map_err(DomainError::internal)?,
        rate_per_hour: Money::from_pence(row.rate_pence_per_hour),
    })
}

/// The minutes credited so far per source (absent: none), in one statement.
pub async fn minutes_credited<C: ConnectionTrait>(
    db: &C,
    sources: &[String],
) -> Result<std::collections::HashMap<String, u32>, DomainError> {
    let rows = time_credits::Entity::find()
        .filter(time_credits::Column::Source.is_in(sources.iter().map(String::as_str)))
        .all(db)
        .await?;
    let mut credited = std::collections::HashMap::new();
    for row in rows {
        let through = u32::try_from(row.minutes_through).map_err(DomainError::internal)?;
        let entry = credited.entry(row.source).or_insert(0);
        *entry = through.max(*entry);
    }
    Ok(credited)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amount_rounds_half_a_penny_up_and_refuses_what_overflows() {
        // 90 minutes at £0.01 an hour: 1.5p → 2p.
        assert_eq!(
            amount_for(90, Money::from_pence(1)).map(Money::pence).ok(),
            Some(2)
        );
        assert_eq!(
            amount_for(150, Money::from_pence(4_500))
                .map(Money::pence)
                .ok(),
            Some(11_250)
        );
        // 13 weeks of days at £10,000,000 an hour is beyond any receipt.
        assert!(amount_for(5_460, Money::from_pence(1_000_000_000)).is_err());
        // Under a penny is no credit.
        assert!(amount_for(1, Money::from_pence(29)).is_err());
    }
}
