//! The entitlement ledger as callers read it: entries, newest first, by page or in batches.

use std::collections::HashMap;

use chrono::{DateTime, NaiveDate, Utc};
use kernel::persistence::by_position::DecodeAt as _;
use kernel::{
    AcademicYear, Actor, DomainError, MembershipId, OfferEntryId, OfferItemId, SchoolId, Term,
    UserId,
};
use membership::people::users::{self, User};
use membership::{Page, PageArgs, fetch_page};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait, QueryFilter, QueryResult,
    Statement,
};

use crate::entity::entries;
use crate::support::{CorruptRow, Params, named_enum, require_sight, stored};

named_enum!(
    /// What an entry records. Each kind has one sign (adjustments and draw-forwards either).
    EntryKind {
        /// The year's allowance (positive), written by derivation; zero for unlimited items.
        Grant => "GRANT",
        /// Part of the allowance used: a visit held, a place booked (negative).
        Usage => "USAGE",
        /// A usage given back, e.g. a cancelled booking (positive, once per usage).
        Reversal => "REVERSAL",
        /// A correction by partnership staff, with a reason (either sign).
        Adjustment => "ADJUSTMENT",
        /// Unused units cashed in toward an external consultant (negative).
        CashIn => "CASH_IN",
        /// Units drawn from next year's allowance into this one (positive), or, in the next
        /// year, the same units taken back from its allowance (negative).
        DrawForward => "DRAW_FORWARD",
    }
);

named_enum!(
    /// The stored spelling of [`kernel::Term`].
    StoredTerm {
        Autumn => "AUTUMN",
        Spring => "SPRING",
        Summer => "SUMMER",
    }
);

pub(crate) const fn term_name(term: Term) -> &'static str {
    match term {
        Term::Autumn => StoredTerm::Autumn.as_str(),
        Term::Spring => StoredTerm::Spring.as_str(),
        Term::Summer => StoredTerm::Summer.as_str(),
    }
}

fn parse_term(raw: &str) -> Result<Term, DomainError> {
    Ok(match stored::<StoredTerm>("term", raw)? {
        StoredTerm::Autumn => Term::Autumn,
        StoredTerm::Spring => Term::Spring,
        StoredTerm::Summer => Term::Summer,
    })
}

/// The keyset sort key of ledger pages: when the entry was recorded, then its id.
pub type EntryKey = (DateTime<Utc>, uuid::Uuid);

/// One entry of a school's entitlement ledger.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LedgerEntry {
    pub id: OfferEntryId,
    pub school_id: SchoolId,
    pub membership_id: MembershipId,
    pub item_id: OfferItemId,
    pub year: AcademicYear,
    pub kind: EntryKind,
    /// Signed whole units: what the entry adds to (or takes from) what is left.
    pub quantity: i64,
    /// When it happened: the visit's day, the membership's start for a grant. A reversal
    /// carries the day of the usage it gives back, so both fall in the same term.
    pub occurred_on: NaiveDate,
    pub term: Term,
    /// Where it came from, e.g. a booking id.
    pub reference: Option<String>,
    pub reason: Option<String>,
    /// Reversals: the usage given back.
    pub reversal_of: Option<OfferEntryId>,
    /// The person who recorded it; `None` when Trellis itself did (derivation, imports).
    pub recorded_by: Option<UserId>,
    pub created_at: DateTime<Utc>,
}

impl LedgerEntry {
    /// The keyset sort key of [`entries_page`].
    #[must_use]
    pub fn sort_key(&self) -> EntryKey {
        (self.created_at, self.id.as_uuid())
    }

    pub(crate) fn from_row(row: entries::Model) -> Result<Self, DomainError> {
        Ok(Self {
            id: OfferEntryId::from_uuid(row.id),
            school_id: SchoolId::from_uuid(row.school_id),
            membership_id: MembershipId::from_uuid(row.membership_id),
            item_id: OfferItemId::from_uuid(row.item_id),
            year: AcademicYear::starting(row.academic_year).map_err(|_| {
                DomainError::internal(CorruptRow(format!("offer entry {}: year", row.id)))
            })?,
            kind: stored("entry kind", &row.kind)?,
            quantity: row.quantity,
            occurred_on: row.occurred_on,
            term: parse_term(&row.term)?,
            reference: row.reference,
            reason: row.reason,
            reversal_of: row.reversal_of.map(OfferEntryId::from_uuid),
            recorded_by: row.recorded_by.map(UserId::from_uuid),
            created_at: row.created_at,
        })
    }
}

fn of_entitlement(
    school: SchoolId,
    item: OfferItemId,
    year: AcademicYear,
) -> sea_orm::Select<entries::Entity> {
    entries::Entity::find()
        .filter(entries::Column::SchoolId.eq(school.as_uuid()))
        .filter(entries::Column::AcademicYear.eq(year.start_year()))
        .filter(entries::Column::ItemId.eq(item.as_uuid()))
}

/// One page of a school's ledger for an item and year, **newest first**.
///
/// The shared pager lists in ascending key order; newest-first paging forward is the same
/// rows as ascending paging backward from the mirrored cursor, so this flips the request,
/// asks [`fetch_page`], and flips the answer back.
pub async fn entries_page(
    db: &DatabaseConnection,
    actor: &Actor,
    school: SchoolId,
    item: OfferItemId,
    year: AcademicYear,
    args: &PageArgs<EntryKey>,
) -> Result<Page<LedgerEntry>, DomainError> {
    require_sight(actor, school)?;
    let ascending = PageArgs {
        after: args.before,
        before: args.after,
        limit: args.limit,
        backward: !args.backward,
    };
    let page = fetch_page(
        db,
        of_entitlement(school, item, year),
        entries::Column::CreatedAt,
        entries::Column::Id,
        &ascending,
    )
    .await?;
    let mut items = page
        .items
        .into_iter()
        .map(LedgerEntry::from_row)
        .collect::<Result<Vec<_>, _>>()?;
    items.reverse();
    Ok(Page {
        items,
        has_next_page: page.has_previous_page,
        has_previous_page: page.has_next_page,
    })
}

/// The newest `limit` entries of each (school, item) of a year, newest first: the first page
/// of every ledger on a dashboard, in **one statement** (a window function ranks each
/// entitlement's entries), whatever the number of items or entries. No actor: the gateway
/// checks visibility on the parent.
pub async fn latest_entries_of_school_items(
    db: &DatabaseConnection,
    keys: &[(SchoolId, OfferItemId)],
    year: AcademicYear,
    limit: u64,
) -> Result<HashMap<(SchoolId, OfferItemId), Vec<LedgerEntry>>, DomainError> {
    let mut out: HashMap<(SchoolId, OfferItemId), Vec<LedgerEntry>> = HashMap::new();
    for row in latest_entry_rows(db, keys, year, limit, false).await? {
        let entry = LedgerEntry::from_row(entries::Model::decode_at(&row, 0)?)?;
        out.entry((entry.school_id, entry.item_id))
            .or_default()
            .push(entry);
    }
    Ok(out)
}

/// [`latest_entries_of_school_items`] with the user who recorded each entry (`None` when
/// Trellis did), joined in the **same statement**: a dashboard showing `recordedBy` costs no
/// statement more than one that does not.
pub async fn latest_entries_with_recorders(
    db: &DatabaseConnection,
    keys: &[(SchoolId, OfferItemId)],
    year: AcademicYear,
    limit: u64,
) -> Result<HashMap<(SchoolId, OfferItemId), Vec<RecordedEntry>>, DomainError> {
    let mut out: HashMap<(SchoolId, OfferItemId), Vec<RecordedEntry>> = HashMap::new();
    for row in latest_entry_rows(db, keys, year, limit, true).await? {
        let (entry, recorder) = recorded_entry_at(&row, 0, true)?;
        out.entry((entry.school_id, entry.item_id))
            .or_default()
            .push((entry, recorder));
    }
    Ok(out)
}

/// An entry and the user who recorded it: `None` when Trellis did.
pub type RecordedEntry = (LedgerEntry, Option<User>);

/// The prefix of the recorder's columns in [`latest_select`]: they are read by position,
/// but their names must not collide with the entry's own (`id`, `created_at`).
const RECORDER: &str = "recorder_";

/// The rows behind [`latest_entries_of_school_items`], ordered by school, item and newest
/// first; with `recorders`, each also carries its recorder's columns (see
/// [`users::joined_columns`]).
async fn latest_entry_rows(
    db: &DatabaseConnection,
    keys: &[(SchoolId, OfferItemId)],
    year: AcademicYear,
    limit: u64,
    recorders: bool,
) -> Result<Vec<QueryResult>, DomainError> {
    if keys.is_empty() || limit == 0 {
        return Ok(Vec::new());
    }
    let backend = db.get_database_backend();
    let mut params = Params::new(backend);
    let mut schools: Vec<SchoolId> = keys.iter().map(|(s, _)| *s).collect();
    schools.sort();
    schools.dedup();
    let mut items: Vec<OfferItemId> = keys.iter().map(|(_, i)| *i).collect();
    items.sort();
    items.dedup();
    let select = latest_select(
        &mut params,
        &schools,
        Some(&items),
        year,
        limit,
        recorders,
        "",
    );
    let sql = format!(
        "{select} ORDER BY ranked.school_id, ranked.item_id, ranked.created_at DESC, ranked.id DESC"
    );
    Ok(db
        .query_all_raw(Statement::from_sql_and_values(backend, sql, params.values))
        .await?)
}

/// The newest `limit` entries of each of `schools`' ledgers in `year` (of `items` only, when
/// given), unordered: the entry's columns in the entity's order, then with `recorders` the
/// recorder's (see [`users::joined_columns`]), all read by position, so `lead` (a column
/// list ending in a comma, or empty) may pad the row in front, as [`crate::overview`]'s
/// `UNION ALL` does. Its parameters are pushed onto `params` in the order they appear, for
/// SQLite's `?`.
pub(crate) fn latest_select(
    params: &mut Params,
    schools: &[SchoolId],
    items: Option<&[OfferItemId]>,
    year: AcademicYear,
    limit: u64,
    recorders: bool,
    lead: &str,
) -> String {
    let year_param = params.push(year.start_year());
    let school_params = params.list(schools.iter().map(SchoolId::as_uuid));
    let item_filter = items.map_or_else(String::new, |items| {
        format!(
            " AND e.item_id IN ({})",
            params.list(items.iter().map(OfferItemId::as_uuid))
        )
    });
    let limit_param = params.push(i64::try_from(limit).unwrap_or(i64::MAX));
    let (recorder_columns, recorder_join) = if recorders {
        (
            format!(", {}", users::joined_columns("recorder", RECORDER)),
            " LEFT JOIN users recorder ON recorder.id = ranked.recorded_by",
        )
    } else {
        (String::new(), "")
    };
    let entry_columns = kernel::persistence::joined_select_list::<entries::Entity>("ranked", "");
    format!(
        "SELECT {lead}{entry_columns}{recorder_columns} \
         FROM (SELECT e.*, ROW_NUMBER() OVER (PARTITION BY e.school_id, e.item_id \
         ORDER BY e.created_at DESC, e.id DESC) AS rank_in_item \
         FROM offer_ledger_entries e WHERE e.academic_year = {year_param} \
         AND e.school_id IN ({school_params}){item_filter}) ranked\
         {recorder_join} \
         WHERE ranked.rank_in_item <= {limit_param}"
    )
}

/// The entry in `row`'s columns from `start` on, and with `recorders` the user who recorded
/// it (whose columns follow); without, `None`.
pub(crate) fn recorded_entry_at(
    row: &QueryResult,
    start: usize,
    recorders: bool,
) -> Result<RecordedEntry, DomainError> {
    let entry = LedgerEntry::from_row(entries::Model::decode_at(row, start)?)?;
    let recorder = if recorders {
        users::joined_user(row, start + entries::Model::COLUMNS)?
    } else {
        None
    };
    Ok((entry, recorder))
}

/// Entries by id, for batch loading (a reversal's usage). Missing ids are absent.
pub async fn entries_by_ids(
    db: &DatabaseConnection,
    ids: &[OfferEntryId],
) -> Result<HashMap<OfferEntryId, LedgerEntry>, DomainError> {
    if ids.is_empty() {
        return Ok(HashMap::new());
    }
    entries::Entity::find()
        .filter(entries::Column::Id.is_in(ids.iter().map(OfferEntryId::as_uuid)))
        .all(db)
        .await?
        .into_iter()
        .map(|row| LedgerEntry::from_row(row).map(|e| (e.id, e)))
        .collect()
}

/// One entry, whoever asks: for services that have already checked.
pub(crate) async fn load<C: ConnectionTrait>(
    db: &C,
    id: OfferEntryId,
) -> Result<Option<LedgerEntry>, DomainError> {
    entries::Entity::find_by_id(id.as_uuid())
        .one(db)
        .await?
        .map(LedgerEntry::from_row)
        .transpose()
}
