//! How much of each item a member school gets: a quantity per item, academic year, tier and
//! phase (or every phase), or unlimited.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use kernel::{
    AcademicYear, Actor, Clock, DomainError, ErrorCode, OfferItemId, Permission, Problems, TierId,
};
use membership::school::types::Phase;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait, QueryFilter,
    QueryOrder, Set,
};

use crate::entity::quantities;
use crate::items;
use crate::support::{CorruptRow, is_unique_violation, stored};

/// The stored phase of a row that applies to every phase.
const ALL_PHASES: &str = "ALL";

/// How much of an item a school gets for a year.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Allowance {
    /// This many units (before pro-rata for a mid-year joiner).
    Limited(i64),
    /// As many as the school wants (e.g. headteacher briefings).
    Unlimited,
}

/// The quantity of one item for one year, tier and phase.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ItemQuantity {
    pub item_id: OfferItemId,
    pub year: AcademicYear,
    pub tier_id: TierId,
    /// `None`: every phase without a row of its own.
    pub phase: Option<Phase>,
    pub allowance: Allowance,
    pub updated_at: DateTime<Utc>,
}

impl ItemQuantity {
    fn from_row(row: &quantities::Model) -> Result<Self, DomainError> {
        let corrupt = |what: &str| {
            DomainError::internal(CorruptRow(format!("offer quantity {}: {what}", row.id)))
        };
        Ok(Self {
            item_id: OfferItemId::from_uuid(row.item_id),
            year: AcademicYear::starting(row.academic_year).map_err(|_| corrupt("year"))?,
            tier_id: TierId::from_uuid(row.tier_id),
            phase: if row.phase == ALL_PHASES {
                None
            } else {
                Some(stored("phase", &row.phase)?)
            },
            allowance: row
                .quantity
                .map_or(Allowance::Unlimited, Allowance::Limited),
            updated_at: row.updated_at,
        })
    }
}

/// A quantity to set (replacing any for the same item, year, tier and phase).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QuantitySetting {
    pub item_id: OfferItemId,
    pub year: AcademicYear,
    pub tier_id: TierId,
    pub phase: Option<Phase>,
    pub allowance: Allowance,
}

/// Sets how much of an item a tier (and phase) gets for a year. Partnership admins. Takes
/// effect at the next derivation, which tops up entitlements already granted.
pub async fn set_quantity(
    db: &DatabaseConnection,
    actor: &Actor,
    clock: &dyn Clock,
    setting: QuantitySetting,
) -> Result<ItemQuantity, DomainError> {
    actor.require(Permission::ManageOffer)?;
    let mut problems = Problems::new();
    if let Allowance::Limited(q) = setting.allowance {
        problems.check(kernel::quantity::bounded_quantity_or_zero("quantity", q));
    }
    if items::load(db, setting.item_id).await?.is_none() {
        problems.add("itemId", ErrorCode::NotFound, "no such offer item");
    }
    if membership::memberships::tiers_by_ids(db, &[setting.tier_id])
        .await?
        .is_empty()
    {
        problems.add("tierId", ErrorCode::NotFound, "no such membership tier");
    }
    problems.finish()?;

    let phase = setting.phase.map_or(ALL_PHASES, Phase::as_str);
    let quantity = match setting.allowance {
        Allowance::Limited(q) => Some(q),
        Allowance::Unlimited => None,
    };
    let now = clock.now();
    let existing = quantities::Entity::find()
        .filter(quantities::Column::ItemId.eq(setting.item_id.as_uuid()))
        .filter(quantities::Column::AcademicYear.eq(setting.year.start_year()))
        .filter(quantities::Column::TierId.eq(setting.tier_id.as_uuid()))
        .filter(quantities::Column::Phase.eq(phase))
        .one(db)
        .await?;
    let written = match existing {
        Some(row) => {
            let mut active: quantities::ActiveModel = row.into();
            active.quantity = Set(quantity);
            active.updated_at = Set(now);
            active.update(db).await
        }
        None => {
            quantities::ActiveModel {
                id: Set(uuid::Uuid::now_v7()),
                item_id: Set(setting.item_id.as_uuid()),
                academic_year: Set(setting.year.start_year()),
                tier_id: Set(setting.tier_id.as_uuid()),
                phase: Set(phase.to_owned()),
                quantity: Set(quantity),
                created_at: Set(now),
                updated_at: Set(now),
            }
            .insert(db)
            .await
        }
    };
    match written {
        Ok(row) => ItemQuantity::from_row(&row),
        Err(err) if is_unique_violation(&err) => Err(DomainError::invalid(
            "itemId",
            ErrorCode::Conflict,
            "the quantity was set by someone else at the same time; try again",
        )),
        Err(err) => Err(err.into()),
    }
}

/// Each item's quantities, newest year first: for the gateway's loader.
pub async fn quantities_of_items(
    db: &DatabaseConnection,
    ids: &[OfferItemId],
) -> Result<HashMap<OfferItemId, Vec<ItemQuantity>>, DomainError> {
    let mut out: HashMap<OfferItemId, Vec<ItemQuantity>> = HashMap::new();
    if ids.is_empty() {
        return Ok(out);
    }
    let rows = quantities::Entity::find()
        .filter(quantities::Column::ItemId.is_in(ids.iter().map(OfferItemId::as_uuid)))
        .order_by_desc(quantities::Column::AcademicYear)
        .order_by_asc(quantities::Column::TierId)
        .order_by_asc(quantities::Column::Phase)
        .all(db)
        .await?;
    for row in rows {
        let q = ItemQuantity::from_row(&row)?;
        out.entry(q.item_id).or_default().push(q);
    }
    Ok(out)
}

/// Every quantity of a year, for derivation and the draw-forward limit.
pub(crate) async fn for_year<C: ConnectionTrait>(
    db: &C,
    year: AcademicYear,
) -> Result<QuantityTable, DomainError> {
    let rows = quantities::Entity::find()
        .filter(quantities::Column::AcademicYear.eq(year.start_year()))
        .all(db)
        .await?;
    let mut table = QuantityTable::default();
    for row in rows {
        let q = ItemQuantity::from_row(&row)?;
        table.0.insert((q.item_id, q.tier_id, q.phase), q.allowance);
    }
    Ok(table)
}

/// A year's quantities keyed for lookup.
#[derive(Debug, Default)]
pub(crate) struct QuantityTable(HashMap<(OfferItemId, TierId, Option<Phase>), Allowance>);

impl QuantityTable {
    /// What a school of `phase` in `tier` gets of `item`: its phase's row, else the
    /// every-phase row, else nothing (the item is not part of its offer).
    pub(crate) fn resolve(
        &self,
        item: OfferItemId,
        tier: TierId,
        phase: Phase,
    ) -> Option<Allowance> {
        self.0
            .get(&(item, tier, Some(phase)))
            .or_else(|| self.0.get(&(item, tier, None)))
            .copied()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_phase_row_wins_over_the_every_phase_row() {
        let item = OfferItemId::new();
        let tier = TierId::new();
        let mut table = QuantityTable::default();
        table.0.insert((item, tier, None), Allowance::Limited(3));
        table
            .0
            .insert((item, tier, Some(Phase::Secondary)), Allowance::Limited(6));
        assert_eq!(
            table.resolve(item, tier, Phase::Secondary),
            Some(Allowance::Limited(6))
        );
        assert_eq!(
            table.resolve(item, tier, Phase::Infant),
            Some(Allowance::Limited(3))
        );
        assert_eq!(table.resolve(item, TierId::new(), Phase::Infant), None);
    }
}

/// What [`roll_forward`] did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RolledForward {
    /// Quantities copied into the new year.
    pub copied: u32,
    /// Quantities the new year already had, left as they were.
    pub kept: u32,
    /// Quantities of items no longer offered (inactive), not copied.
    pub skipped_inactive: u32,
}

/// Rows per INSERT: well inside SQLite's bound-parameter limit (8 columns a row).
const CHUNK: usize = 100;

/// Copies every quantity of `from` into `to` for each active item, tier and phase that has
/// none in `to` yet: next year's offer starts as this year's, and admins change only what
/// changes. Never overwrites a quantity already set for `to`, so it is safe to rerun (the
/// second run copies nothing). Partnership admins. One transaction, a fixed number of
/// statements per hundred quantities.
///
/// # Errors
/// `OUT_OF_RANGE` on `toYear` unless `to` is after `from`.
pub async fn roll_forward(
    db: &DatabaseConnection,
    actor: &Actor,
    clock: &dyn Clock,
    from: AcademicYear,
    to: AcademicYear,
) -> Result<RolledForward, DomainError> {
    use kernel::BeginWrite as _;

    actor.require(Permission::ManageOffer)?;
    if to <= from {
        return Err(DomainError::invalid(
            "toYear",
            ErrorCode::OutOfRange,
            format!("roll forward into a year after {from}"),
        ));
    }
    let txn = db.begin_write().await?;
    let source = quantities::Entity::find()
        .filter(quantities::Column::AcademicYear.eq(from.start_year()))
        .order_by_asc(quantities::Column::Id)
        .all(&txn)
        .await?;
    let existing: std::collections::HashSet<(uuid::Uuid, uuid::Uuid, String)> =
        quantities::Entity::find()
            .filter(quantities::Column::AcademicYear.eq(to.start_year()))
            .all(&txn)
            .await?
            .into_iter()
            .map(|r| (r.item_id, r.tier_id, r.phase))
            .collect();
    let item_ids: Vec<OfferItemId> = source
        .iter()
        .map(|r| OfferItemId::from_uuid(r.item_id))
        .collect();
    let active: std::collections::HashSet<OfferItemId> = items::items_by_ids(&txn, &item_ids)
        .await?
        .into_values()
        .filter(|i| i.active)
        .map(|i| i.id)
        .collect();
    let now = clock.now();
    let mut done = RolledForward::default();
    let mut new_rows = Vec::new();
    for row in source {
        if !active.contains(&OfferItemId::from_uuid(row.item_id)) {
            done.skipped_inactive += 1;
        } else if existing.contains(&(row.item_id, row.tier_id, row.phase.clone())) {
            done.kept += 1;
        } else {
            done.copied += 1;
            new_rows.push(quantities::ActiveModel {
                id: Set(uuid::Uuid::now_v7()),
                item_id: Set(row.item_id),
                academic_year: Set(to.start_year()),
                tier_id: Set(row.tier_id),
                phase: Set(row.phase),
                quantity: Set(row.quantity),
                created_at: Set(now),
                updated_at: Set(now),
            });
        }
    }
    let mut rows = new_rows.into_iter().peekable();
    while rows.peek().is_some() {
        let chunk: Vec<_> = rows.by_ref().take(CHUNK).collect();
        match quantities::Entity::insert_many(chunk).exec(&txn).await {
            Err(err) if is_unique_violation(&err) => {
                return Err(DomainError::invalid(
                    "toYear",
                    ErrorCode::Conflict,
                    "quantities for the year were set by someone else at the same time; try again",
                ));
            }
            other => {
                other?;
            }
        }
    }
    txn.commit().await?;
    tracing::info!(%from, %to, copied = done.copied, kept = done.kept, "offer quantities rolled forward");
    Ok(done)
}
