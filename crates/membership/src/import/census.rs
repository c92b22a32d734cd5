//! Census rolls: a file of `URN,pupils` taken at one census (October or January) on one day.
//!
//! Each line adds to the school's roll history (a second file for the same census day
//! replaces that day's figures). The school's current roll — what fee quotes read — becomes
//! the new figure unless the school already has a roll from a later census day, so loading
//! last October's census after this January's keeps January's as current. Fee quotes are
//! computed from the current roll whenever they are asked for, so the memberships not yet
//! invoiced are priced on the new roll at once; issued invoices never change.

use std::collections::HashMap;
use std::io::Read;

use chrono::NaiveDate;
use kernel::{Actor, BeginWrite as _, Clock, DomainError, ErrorCode, Permission, SchoolId};
use sea_orm::sea_query::OnConflict;
use sea_orm::{ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter, Set, TransactionTrait};

use school_register::census::read;
use school_register::file::ProblemList;
use school_register::gias::census_of;

use super::gias::current_roll;
use super::{LineProblem, Message, Progress, spawn_reader};
use crate::school::entity::schools;
use crate::school::types::{Roll, RollCensus, RollSource};
use crate::school::{record_rolls, roll_columns};

/// Changes listed in a report at most.
pub const MAX_LISTED: usize = 1_000;

/// Which census a file holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Census {
    pub census: RollCensus,
    /// The census day (October's or January's), not in the future.
    pub date: NaiveDate,
}

/// What a census import did, or (dry run) would do.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CensusReport {
    pub dry_run: bool,
    pub rows_read: u64,
    /// Schools whose current roll changes.
    pub updated: u64,
    /// Schools whose current roll already had this figure from this census day.
    pub unchanged: u64,
    /// Schools with a roll from a later census: this one joins their history only.
    pub history_only: u64,
    /// The first [`MAX_LISTED`] schools whose current roll changes.
    pub changes: Vec<RollChange>,
    pub changes_not_listed: u64,
}

/// One school's current roll before and after.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RollChange {
    pub urn: String,
    pub name: String,
    pub before: Option<Roll>,
    pub after: Roll,
}

/// Imports a census file. Partnership admins only; all or nothing.
pub async fn import(
    db: &DatabaseConnection,
    clock: &dyn Clock,
    actor: &Actor,
    source: impl Read + Send + 'static,
    census: Census,
    dry_run: bool,
    progress: &(dyn Fn(Progress) + Send + Sync),
) -> Result<CensusReport, DomainError> {
    actor.require(Permission::ManageDirectory)?;
    let mut bad = kernel::Problems::new();
    bad.check(kernel::dates::in_window("censusDate", census.date));
    if census.date > clock.today() {
        bad.add(
            "censusDate",
            ErrorCode::OutOfRange,
            "census date is in the future",
        );
    }
    if census_of(census.date) != Some(census.census) {
        bad.add(
            "censusDate",
            ErrorCode::Invalid,
            format!(
                "{} is not in the month of the {} census",
                census.date, census.census
            ),
        );
    }
    bad.finish()?;

    let mut rx = spawn_reader(source, read);
    let txn = if dry_run {
        db.begin().await?
    } else {
        db.begin_write().await?
    };
    let now = clock.now();
    let mut problems = ProblemList::default();
    let mut report = CensusReport {
        dry_run,
        ..CensusReport::default()
    };
    while let Some(message) = rx.recv().await {
        let (lines, at) = match message {
            Message::Problem(p) => {
                problems.push(p);
                continue;
            }
            Message::Rows(lines, at) => (lines, at),
        };
        report.rows_read = at.rows_read;
        if lines.is_empty() {
            progress(at);
            continue;
        }
        let existing: HashMap<String, schools::Model> = schools::Entity::find()
            .filter(schools::Column::Urn.is_in(lines.iter().map(|l| l.urn.as_str())))
            .all(&txn)
            .await?
            .into_iter()
            .map(|s| (s.urn.clone(), s))
            .collect();
        let mut history = Vec::new();
        let mut current = Vec::new();
        for l in &lines {
            let Some(school) = existing.get(l.urn.as_str()) else {
                problems.push(LineProblem::new(
                    l.line,
                    Some("URN"),
                    ErrorCode::NotFound,
                    format!("no school with URN {} in the directory", l.urn),
                ));
                continue;
            };
            let roll = Roll::new(i64::from(l.pupils), census.census, census.date)
                .map_err(DomainError::from)?;
            history.push((SchoolId::from_uuid(school.id), roll));
            let before = current_roll(school);
            if before.is_some_and(|b| b.census_date > census.date) {
                report.history_only += 1;
            } else if before == Some(roll) {
                report.unchanged += 1;
            } else {
                report.updated += 1;
                current.push((school, roll));
                if report.changes.len() < MAX_LISTED {
                    report.changes.push(RollChange {
                        urn: l.urn.to_string(),
                        name: school.name.clone(),
                        before,
                        after: roll,
                    });
                } else {
                    report.changes_not_listed += 1;
                }
            }
        }
        if problems.is_empty() && !dry_run {
            record_rolls(&txn, &history, RollSource::CensusImport, now).await?;
            if !current.is_empty() {
                // One statement per batch: an upsert on the primary key that only ever
                // updates (every id exists), setting the roll columns.
                let models = current.iter().map(|(school, roll)| {
                    let (n, c, d) = roll_columns(Some(*roll));
                    let mut m: schools::ActiveModel = (*school).clone().into();
                    m.number_on_roll = Set(n);
                    m.roll_census = Set(c);
                    m.roll_census_date = Set(d);
                    m.updated_at = Set(now);
                    m
                });
                schools::Entity::insert_many(models)
                    .on_conflict(
                        OnConflict::column(schools::Column::Id)
                            .update_columns([
                                schools::Column::NumberOnRoll,
                                schools::Column::RollCensus,
                                schools::Column::RollCensusDate,
                                schools::Column::UpdatedAt,
                            ])
                            .to_owned(),
                    )
                    .exec_without_returning(&txn)
                    .await?;
            }
        }
        progress(at);
    }
    problems.finish()?;
    if dry_run {
        txn.rollback().await?;
    } else {
        txn.commit().await?;
        tracing::info!(
            updated = report.updated,
            history_only = report.history_only,
            "census import applied"
        );
    }
    Ok(report)
}
