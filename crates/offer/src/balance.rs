//! What a school has of each item in a year: entitlement, used and remaining, computed from
//! the ledger's entries (never a stored counter).

use std::collections::HashMap;
use std::collections::hash_map::Entry;

use kernel::money::{SumError, checked_add_i64, checked_sub_i64, checked_sum_i64};
use kernel::persistence::by_position::DecodeAt as _;
use kernel::{AcademicYear, Actor, DomainError, OfferItemId, SchoolId};
use sea_orm::{ConnectionTrait, DatabaseConnection, QueryResult, Statement};

use crate::entity;
use crate::entries::EntryKind;
use crate::items::OfferItem;
use crate::support::{Params, require_sight, stored};

/// A school's position on one item for one year, summed from its ledger.
///
/// `remaining = granted − used − cashed_in + adjusted + drawn_forward`, where
/// `used = usages − reversed`: the sum of every entry's signed quantity.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Balance {
    pub school_id: SchoolId,
    pub item_id: OfferItemId,
    pub year: AcademicYear,
    /// As many as the school wants: `remaining` is `None`.
    pub unlimited: bool,
    pub granted: i64,
    /// Units recorded as used, before reversals.
    pub usages: i64,
    /// Units given back by reversals.
    pub reversed: i64,
    /// Net adjustments by partnership staff (either sign).
    pub adjusted: i64,
    pub cashed_in: i64,
    /// Drawn from next year (positive) less what was taken back from this year's allowance
    /// for last year's draw-forward (negative).
    pub drawn_forward: i64,
    /// Number of ledger entries.
    pub entries: u64,
}

impl Balance {
    fn empty(
        school_id: SchoolId,
        item_id: OfferItemId,
        year: AcademicYear,
        unlimited: bool,
    ) -> Self {
        Self {
            school_id,
            item_id,
            year,
            unlimited,
            granted: 0,
            usages: 0,
            reversed: 0,
            adjusted: 0,
            cashed_in: 0,
            drawn_forward: 0,
            entries: 0,
        }
    }

    /// Units used, net of reversals. Cannot overflow: [`Balance::add`] checked it.
    #[must_use]
    pub const fn used(&self) -> i64 {
        self.usages - self.reversed
    }

    /// What the school has to use this year: granted, adjusted and drawn forward.
    #[must_use]
    pub const fn entitlement(&self) -> i64 {
        self.granted + self.adjusted + self.drawn_forward
    }

    /// What is left; `None` when unlimited. Negative only for items that allow overdraft.
    #[must_use]
    pub const fn remaining(&self) -> Option<i64> {
        if self.unlimited {
            None
        } else {
            Some(self.entitlement() - self.used() - self.cashed_in)
        }
    }

    /// Adds one kind's sum, checked, and checks that `used`, `entitlement` and `remaining`
    /// still fit, so those (plain `const fn`s) can never overflow. Inputs are bounded
    /// (`kernel::quantity`), so only corrupt rows get an error here, never a wrapped balance.
    fn add(&mut self, kind: EntryKind, sum: i64, count: u64) -> Result<(), DomainError> {
        const WHAT: &str = "offer balance";
        let mut next = *self;
        next.entries = self.entries.saturating_add(count);
        match kind {
            EntryKind::Grant => next.granted = checked_add_i64(WHAT, self.granted, sum)?,
            EntryKind::Usage => next.usages = checked_sub_i64(WHAT, self.usages, sum)?,
            EntryKind::Reversal => next.reversed = checked_add_i64(WHAT, self.reversed, sum)?,
            EntryKind::Adjustment => next.adjusted = checked_add_i64(WHAT, self.adjusted, sum)?,
            EntryKind::CashIn => next.cashed_in = checked_sub_i64(WHAT, self.cashed_in, sum)?,
            EntryKind::DrawForward => {
                next.drawn_forward = checked_add_i64(WHAT, self.drawn_forward, sum)?;
            }
        }
        let used = checked_sub_i64(WHAT, next.usages, next.reversed)?;
        let entitlement = checked_sum_i64(WHAT, [next.granted, next.adjusted, next.drawn_forward])?;
        checked_sub_i64(
            WHAT,
            checked_sub_i64(WHAT, entitlement, used)?,
            next.cashed_in,
        )?;
        *self = next;
        Ok(())
    }
}

/// Each school's balances for a year, one per entitlement, in **one statement** (the
/// entitlements left-joined to their entries, summed by kind). No actor: the gateway checks
/// visibility on the parent.
pub async fn balances_of_schools<C: ConnectionTrait>(
    db: &C,
    schools: &[SchoolId],
    year: AcademicYear,
) -> Result<HashMap<SchoolId, Vec<Balance>>, DomainError> {
    let mut out: HashMap<SchoolId, Vec<Balance>> = HashMap::new();
    for (balance, ()) in read_balances::<_, ()>(db, schools, year).await? {
        out.entry(balance.school_id).or_default().push(balance);
    }
    Ok(out)
}

/// Each school's offer for a year, line by line (by item name): [`balances_of_schools`]
/// with each balance's item, still in **one statement** (the items joined too), since a
/// portal never shows a balance without its item. No actor, as there.
pub async fn lines_of_schools<C: ConnectionTrait>(
    db: &C,
    schools: &[SchoolId],
    year: AcademicYear,
) -> Result<HashMap<SchoolId, Vec<OfferLine>>, DomainError> {
    let mut out: HashMap<SchoolId, Vec<OfferLine>> = HashMap::new();
    for (balance, item) in read_balances::<_, OfferItem>(db, schools, year).await? {
        out.entry(balance.school_id)
            .or_default()
            .push(OfferLine { item, balance });
    }
    for lines in out.values_mut() {
        sort_lines(lines);
    }
    Ok(out)
}

/// What [`read_balances`] reads beside each balance: nothing, or the balance's item.
pub(crate) trait Beside: Sized {
    /// Whether the statement joins the items.
    const ITEMS: bool;
    /// How many columns it reads, before the balance's.
    const COLUMNS: usize;
    /// What sits beside the balance, from the row's columns at `start..start + COLUMNS`.
    fn read(row: &QueryResult, start: usize) -> Result<Self, DomainError>;
}

impl Beside for () {
    const ITEMS: bool = false;
    const COLUMNS: usize = 0;
    fn read(_: &QueryResult, _: usize) -> Result<Self, DomainError> {
        Ok(())
    }
}

impl Beside for OfferItem {
    const ITEMS: bool = true;
    const COLUMNS: usize = entity::items::Model::COLUMNS;
    fn read(row: &QueryResult, start: usize) -> Result<Self, DomainError> {
        Self::from_row(entity::items::Model::decode_at(row, start)?)
    }
}

/// The prefix of the item's columns in [`balances_select`]'s rows: not `item_`, whose `id`
/// would come back as a second `item_id` beside the entitlement's.
const ITEM_COLUMN: &str = "i_";

/// How many columns [`balances_select`] gives each row after the item's: the school, the
/// item, `unlimited`, the entry kind, its sum and its count.
pub(crate) const BALANCE_COLUMNS: usize = 6;

/// The statement behind [`balances_of_schools`] and [`lines_of_schools`]: a row per
/// (school, item, entry kind) with the kind's sum and count, after the item's columns for
/// [`OfferItem`] (in the entity's order, named `i_<column>`; grouping by the item's key
/// carries them on both backends). Every column is read by position, so `lead` and `trail`
/// (column lists ending and starting with a comma, or empty) may pad the row on either side,
/// as [`crate::overview`]'s `UNION ALL` does. Its parameters are pushed onto `params` in the
/// order they appear, for SQLite's `?`.
pub(crate) fn balances_select<B: Beside>(
    params: &mut Params,
    schools: &[SchoolId],
    year: AcademicYear,
    lead: &str,
    trail: &str,
) -> String {
    // The entries are narrowed by their own school and year as well as by entitlement (the
    // same rows: an entry carries its entitlement's school and year), so PostgreSQL finds
    // them through `idx_offer_ledger_entries_school_year_item` rather than reading the whole
    // ledger to hash-join it.
    let entry_year = params.push(year.start_year());
    let entry_schools = params.list(schools.iter().map(SchoolId::as_uuid));
    let year_param = params.push(year.start_year());
    let school_params = params.list(schools.iter().map(SchoolId::as_uuid));
    let (item_columns, item_join, item_group) = if B::ITEMS {
        (
            format!(
                "{}, ",
                kernel::persistence::joined_select_list::<entity::items::Entity>("i", ITEM_COLUMN)
            ),
            " JOIN offer_items i ON i.id = en.item_id",
            ", i.id",
        )
    } else {
        (String::new(), "", "")
    };
    format!(
        "SELECT {lead}{item_columns}en.school_id AS school_id, en.item_id AS item_id, \
         en.unlimited AS unlimited, e.kind AS kind, \
         CAST(COALESCE(SUM(e.quantity), 0) AS BIGINT) AS total, COUNT(e.id) AS entries{trail} \
         FROM offer_entitlements en{item_join} \
         LEFT JOIN offer_ledger_entries e ON e.entitlement_id = en.id \
         AND e.academic_year = {entry_year} AND e.school_id IN ({entry_schools}) \
         WHERE en.academic_year = {year_param} AND en.school_id IN ({school_params}) \
         GROUP BY en.school_id, en.item_id, en.unlimited, e.kind{item_group}"
    )
}

/// The balances of a year summed from [`balances_select`]'s rows, one per (school, item),
/// each with what was read beside it.
pub(crate) struct Summed<B> {
    year: AcademicYear,
    by_key: HashMap<(SchoolId, OfferItemId), (Balance, B)>,
}

impl<B: Beside> Summed<B> {
    pub(crate) fn new(year: AcademicYear) -> Self {
        Self {
            year,
            by_key: HashMap::new(),
        }
    }

    /// Adds one row whose [`Beside`] columns start at `start` (the balance's follow them).
    pub(crate) fn add(&mut self, row: &QueryResult, start: usize) -> Result<(), DomainError> {
        let at = start + B::COLUMNS;
        let school = SchoolId::from_uuid(row.try_get_by_index::<uuid::Uuid>(at)?);
        let item = OfferItemId::from_uuid(row.try_get_by_index::<uuid::Uuid>(at + 1)?);
        let unlimited: bool = row.try_get_by_index(at + 2)?;
        let (balance, _) = match self.by_key.entry((school, item)) {
            Entry::Occupied(found) => found.into_mut(),
            Entry::Vacant(slot) => slot.insert((
                Balance::empty(school, item, self.year, unlimited),
                B::read(row, start)?,
            )),
        };
        if let Some(kind) = row.try_get_by_index::<Option<String>>(at + 3)? {
            let total: i64 = row.try_get_by_index(at + 4)?;
            let count: i64 = row.try_get_by_index(at + 5)?;
            balance.add(
                stored("entry kind", &kind)?,
                total,
                u64::try_from(count).unwrap_or(0),
            )?;
        }
        Ok(())
    }

    pub(crate) fn into_balances(self) -> impl Iterator<Item = (Balance, B)> {
        self.by_key.into_values()
    }
}

/// A sum too large for BIGINT (only from corrupt rows: inputs are bounded) fails the
/// statement on either backend; reported as the total it is.
pub(crate) fn sum_failed(err: &sea_orm::DbErr) -> DomainError {
    DomainError::internal(SumError(format!("offer balances: {err}")))
}

/// The balances of `schools` in `year`, each with what [`Beside`] reads: one statement.
async fn read_balances<C: ConnectionTrait, B: Beside>(
    db: &C,
    schools: &[SchoolId],
    year: AcademicYear,
) -> Result<Vec<(Balance, B)>, DomainError> {
    if schools.is_empty() {
        return Ok(Vec::new());
    }
    let backend = db.get_database_backend();
    let mut params = Params::new(backend);
    let sql = balances_select::<B>(&mut params, schools, year, "", "");
    let rows = db
        .query_all_raw(Statement::from_sql_and_values(backend, sql, params.values))
        .await
        .map_err(|e| sum_failed(&e))?;
    let mut summed = Summed::<B>::new(year);
    for row in &rows {
        summed.add(row, 0)?;
    }
    Ok(summed.into_balances().collect())
}

/// One line of a school's offer: an item and the school's balance on it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OfferLine {
    pub item: OfferItem,
    pub balance: Balance,
}

/// What a school's membership gives it in a year, item by item (by item name).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SchoolOffer {
    pub school_id: SchoolId,
    pub year: AcademicYear,
    pub lines: Vec<OfferLine>,
}

/// A school's offer for a year: every item it is entitled to with entitlement, used and
/// remaining. The school's own staff, partnership staff and `offer:read` keys; another
/// school's is `NotFound`.
pub async fn offer_of_school(
    db: &DatabaseConnection,
    actor: &Actor,
    school: SchoolId,
    year: AcademicYear,
) -> Result<SchoolOffer, DomainError> {
    require_sight(actor, school)?;
    let lines = lines_of_schools(db, &[school], year)
        .await?
        .remove(&school)
        .unwrap_or_default();
    Ok(SchoolOffer {
        school_id: school,
        year,
        lines,
    })
}

/// The order a portal lists an offer in: by item name.
fn sort_lines(lines: &mut [OfferLine]) {
    lines.sort_by(line_order);
}

/// [`sort_lines`]'s order of two lines: by item name, then item id.
pub(crate) fn line_order(a: &OfferLine, b: &OfferLine) -> std::cmp::Ordering {
    a.item
        .name
        .cmp(&b.item.name)
        .then(a.item.id.cmp(&b.item.id))
}

/// One entitlement's balance, read inside a writer's transaction after taking its lock.
pub(crate) async fn balance_of<C: ConnectionTrait>(
    db: &C,
    school: SchoolId,
    item: OfferItemId,
    year: AcademicYear,
) -> Result<Option<Balance>, DomainError> {
    Ok(balances_of_schools(db, &[school], year)
        .await?
        .remove(&school)
        .and_then(|list| list.into_iter().find(|b| b.item_id == item)))
}
