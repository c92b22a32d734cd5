//! Gap-free document numbers: `TRL-2026-000123`, `CN-2026-000007`.
//!
//! A counter row per series and academic year (the year's starting calendar year) is
//! incremented *inside the issuing transaction*: the row stays locked until commit, so two
//! issuers take turns, and a rolled-back issue rolls its number back too. Numbers therefore
//! never repeat and never skip, which is what an auditor checks first.

use kernel::BeginWrite as _;
use kernel::{AcademicYear, Actor, Clock, DomainError, ErrorCode, Permission};
use sea_orm::sea_query::{Expr, ExprTrait, OnConflict};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait, QueryFilter,
    Set,
};
use serde::Serialize;

use super::audit::{self, AuditEntity};
use super::entity::{number_counters, number_series};
use super::support::{CorruptRow, named_enum};

named_enum!(
    /// A numbered kind of document.
    Series {
        Invoice => "INVOICE",
        CreditNote => "CREDIT_NOTE",
    }
);

/// A series and its configured prefix.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SeriesPrefix {
    pub series: Series,
    pub prefix: String,
}

/// Formats a document number.
#[must_use]
pub fn format_number(prefix: &str, year: AcademicYear, n: i64) -> String {
    format!("{prefix}-{}-{n:06}", year.start_year())
}

/// Takes the next `count` numbers of `series` for `year`, in order: one block, so a run's
/// chunk of invoices costs the statements of one. Call only inside the issuing transaction.
pub(crate) async fn next_numbers<C: ConnectionTrait>(
    txn: &C,
    series: Series,
    year: AcademicYear,
    count: usize,
) -> Result<Vec<String>, DomainError> {
    let step = i64::try_from(count).map_err(DomainError::internal)?;
    number_counters::Entity::insert(number_counters::ActiveModel {
        series: Set(series.as_str().to_owned()),
        academic_year: Set(year.start_year()),
        last_number: Set(0),
    })
    .on_conflict(
        OnConflict::columns([
            number_counters::Column::Series,
            number_counters::Column::AcademicYear,
        ])
        .do_nothing()
        .to_owned(),
    )
    .exec_without_returning(txn)
    .await?;
    number_counters::Entity::update_many()
        .col_expr(
            number_counters::Column::LastNumber,
            Expr::col(number_counters::Column::LastNumber).add(step),
        )
        .filter(number_counters::Column::Series.eq(series.as_str()))
        .filter(number_counters::Column::AcademicYear.eq(year.start_year()))
        .exec(txn)
        .await?;
    let counter =
        number_counters::Entity::find_by_id((series.as_str().to_owned(), year.start_year()))
            .one(txn)
            .await?
            .ok_or_else(|| {
                DomainError::internal(CorruptRow(format!("counter {series} {year} vanished")))
            })?;
    let prefix = prefix_of(txn, series).await?;
    let first = counter.last_number - step + 1;
    Ok((first..=counter.last_number)
        .map(|n| format_number(&prefix, year, n))
        .collect())
}

/// Takes the next number of `series` for `year`. Call only inside the issuing transaction.
pub(crate) async fn next_number<C: ConnectionTrait>(
    txn: &C,
    series: Series,
    year: AcademicYear,
) -> Result<String, DomainError> {
    next_numbers(txn, series, year, 1)
        .await?
        .pop()
        .ok_or_else(|| DomainError::internal(CorruptRow(format!("no number of {series} {year}"))))
}

async fn prefix_of<C: ConnectionTrait>(db: &C, series: Series) -> Result<String, DomainError> {
    number_series::Entity::find_by_id(series.as_str().to_owned())
        .one(db)
        .await?
        .map(|row| row.prefix)
        .ok_or_else(|| DomainError::internal(CorruptRow(format!("number series {series} missing"))))
}

/// The prefixes in force.
pub async fn prefixes<C: ConnectionTrait>(
    db: &C,
    actor: &Actor,
) -> Result<Vec<SeriesPrefix>, DomainError> {
    actor.require(Permission::ReadBilling)?;
    let mut out = Vec::new();
    for series in Series::ALL {
        out.push(SeriesPrefix {
            series: *series,
            prefix: prefix_of(db, *series).await?,
        });
    }
    Ok(out)
}

/// Changes the prefix of future numbers of a series (1–8 capital letters or digits). The
/// counter is per series, not per prefix, so numbering continues without a gap.
pub async fn set_prefix(
    db: &DatabaseConnection,
    actor: &Actor,
    clock: &dyn Clock,
    series: Series,
    prefix: &str,
) -> Result<SeriesPrefix, DomainError> {
    actor.require(Permission::ManageBilling)?;
    let prefix = prefix.trim();
    if prefix.is_empty()
        || prefix.len() > 8
        || !prefix
            .chars()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit())
    {
        return Err(DomainError::invalid(
            "prefix",
            ErrorCode::Invalid,
            "use 1 to 8 capital letters or digits",
        ));
    }
    let txn = db.begin_write().await?;
    let before = SeriesPrefix {
        series,
        prefix: prefix_of(&txn, series).await?,
    };
    number_series::ActiveModel {
        series: sea_orm::Unchanged(series.as_str().to_owned()),
        prefix: Set(prefix.to_owned()),
    }
    .update(&txn)
    .await?;
    let after = SeriesPrefix {
        series,
        prefix: prefix.to_owned(),
    };
    audit::record(
        &txn,
        actor,
        clock,
        "numbering.set_prefix",
        (AuditEntity::NumberSeries, series_audit_id(series)),
        Some(&before),
        Some(&after),
    )
    .await?;
    txn.commit().await?;
    Ok(after)
}

/// The audit-trail id of a series (series have no uuid of their own).
#[must_use]
pub fn series_audit_id(series: Series) -> uuid::Uuid {
    uuid::Uuid::from_u128(u128::from(series == Series::CreditNote) + 1)
}
