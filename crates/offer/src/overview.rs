//! A school's offer as a portal first shows it: every line with the newest entries of its
//! ledger, in **one statement**.
//!
//! A dashboard shows each item's balance and the first page of its ledger. Read apart
//! ([`crate::lines_of_schools`], then [`crate::latest_entries_with_recorders`]) that is two
//! statements a request, each a round trip and a pooled connection's check-out; here the two
//! selects are one `UNION ALL`. Their rows have different shapes, so each is padded with
//! NULLs to the width of both and tagged in column 0 with the shape it holds:
//!
//! | column | 0 | 1.. | then | then |
//! | --- | --- | --- | --- | --- |
//! | a balance row | `0` | the item's columns | the balance's six | NULLs |
//! | an entry row | `1` | NULLs | NULLs | the entry's columns (and its recorder's) |
//!
//! Every column is read by position, so the names PostgreSQL or SQLite give the padding do
//! not matter, and a NULL takes the type of the other select's column.

use std::collections::HashMap;

use kernel::persistence::by_position::DecodeAt as _;
use kernel::{AcademicYear, DomainError, OfferItemId, SchoolId};
use membership::people::users;
use sea_orm::{ConnectionTrait, Statement};

use crate::balance::{
    BALANCE_COLUMNS, Beside as _, OfferLine, Summed, balances_select, line_order, lines_of_schools,
    sum_failed,
};
use crate::entity::entries;
use crate::entries::{RecordedEntry, latest_select, recorded_entry_at};
use crate::items::OfferItem;
use crate::support::{CorruptRow, Params};

/// One line of a school's offer with the newest entries of its ledger.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LineWithLatest {
    pub line: OfferLine,
    /// At most the `limit` asked for, newest first; each with the user who recorded it when
    /// the recorders were asked for (otherwise `None`).
    pub latest: Vec<RecordedEntry>,
}

/// Column 0 of a row holding a balance.
const BALANCE_ROW: i32 = 0;
/// Column 0 of a row holding an entry.
const ENTRY_ROW: i32 = 1;

/// Each school's offer for a year, line by line (by item name, as [`lines_of_schools`]),
/// each line with the newest `limit` entries of its ledger (as
/// [`crate::latest_entries_of_school_items`]) and, with `recorders`, the user who recorded
/// each: in **one statement**, however many schools, items and entries. No actor: the gateway
/// checks visibility on the parent.
pub async fn lines_with_latest_entries<C: ConnectionTrait>(
    db: &C,
    schools: &[SchoolId],
    year: AcademicYear,
    limit: u64,
    recorders: bool,
) -> Result<HashMap<SchoolId, Vec<LineWithLatest>>, DomainError> {
    if schools.is_empty() {
        return Ok(HashMap::new());
    }
    if limit == 0 {
        return Ok(lines_of_schools(db, schools, year)
            .await?
            .into_iter()
            .map(|(school, lines)| {
                let lines = lines
                    .into_iter()
                    .map(|line| LineWithLatest {
                        line,
                        latest: Vec::new(),
                    })
                    .collect();
                (school, lines)
            })
            .collect());
    }
    let line_width = OfferItem::COLUMNS + BALANCE_COLUMNS;
    let entry_width = entries::Model::COLUMNS + if recorders { users::JOINED_COLUMNS } else { 0 };
    let backend = db.get_database_backend();
    let mut params = Params::new(backend);
    let balances = balances_select::<OfferItem>(
        &mut params,
        schools,
        year,
        &format!("{BALANCE_ROW} AS shape, "),
        &format!(", {}", nulls(entry_width)),
    );
    let latest = latest_select(
        &mut params,
        schools,
        None,
        year,
        limit,
        recorders,
        &format!("{ENTRY_ROW}, {}, ", nulls(line_width)),
    );
    let sql = format!("{balances} UNION ALL {latest}");
    let rows = db
        .query_all_raw(Statement::from_sql_and_values(backend, sql, params.values))
        .await
        .map_err(|e| sum_failed(&e))?;

    let mut summed = Summed::<OfferItem>::new(year);
    let mut latest: HashMap<(SchoolId, OfferItemId), Vec<RecordedEntry>> = HashMap::new();
    for row in &rows {
        match row.try_get_by_index::<i32>(0)? {
            BALANCE_ROW => summed.add(row, 1)?,
            ENTRY_ROW => {
                let recorded = recorded_entry_at(row, 1 + line_width, recorders)?;
                latest
                    .entry((recorded.0.school_id, recorded.0.item_id))
                    .or_default()
                    .push(recorded);
            }
            other => {
                return Err(DomainError::internal(CorruptRow(format!(
                    "offer overview: a row of shape {other}"
                ))));
            }
        }
    }

    let mut out: HashMap<SchoolId, Vec<LineWithLatest>> = HashMap::new();
    for (balance, item) in summed.into_balances() {
        let mut entries = latest
            .remove(&(balance.school_id, balance.item_id))
            .unwrap_or_default();
        // Newest first, as the ledger's pages are (the union itself is unordered).
        entries.sort_by_key(|(entry, _)| std::cmp::Reverse(entry.sort_key()));
        out.entry(balance.school_id)
            .or_default()
            .push(LineWithLatest {
                line: OfferLine { item, balance },
                latest: entries,
            });
    }
    for lines in out.values_mut() {
        lines.sort_by(|a, b| line_order(&a.line, &b.line));
    }
    Ok(out)
}

/// `n` NULL columns, comma-separated.
fn nulls(n: usize) -> String {
    vec!["NULL"; n].join(", ")
}
