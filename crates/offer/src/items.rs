//! The catalogue of what membership includes: offer items, each with its unit, what one unit
//! is worth and the rules for using it.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use kernel::{Actor, Clock, DomainError, ErrorCode, Money, OfferItemId, Permission, Problems};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait, QueryFilter,
    QueryOrder, Set,
};

use crate::entity::items;
use crate::support::{
    Sight, is_unique_violation, named_enum, optional_text, required_text, stored,
};

named_enum!(
    /// What an item is counted in. Quantities are whole units of it.
    Unit {
        Visits => "VISITS",
        Places => "PLACES",
        Hours => "HOURS",
        Days => "DAYS",
        Items => "ITEMS",
    }
);

/// Something membership includes, e.g. school improvement partner visits or CPD places.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OfferItem {
    pub id: OfferItemId,
    /// Stable upper-case handle, unique in the catalogue (e.g. `SIP_VISITS`).
    pub code: String,
    pub name: String,
    pub description: String,
    pub unit: Unit,
    /// The traded price of the equivalent service per unit: what a school would have paid
    /// without membership. Values usage in the value statement.
    pub unit_value: Money,
    /// Mid-year joiners get the share of the year's whole months left.
    pub pro_rata: bool,
    /// Usage may exceed what is left (remaining goes negative).
    pub allows_overdraft: bool,
    /// `Some(n)`: a school may cash in up to `n` unused units a year toward an external
    /// consultant; `None`: cannot be cashed in.
    pub cash_in_limit: Option<i64>,
    /// `Some(p)`: a school may draw up to `p`% of next year's allowance into this year;
    /// `None`: cannot be drawn forward.
    pub draw_forward_percent: Option<u8>,
    /// Inactive items are no longer granted; existing entitlements stay usable.
    pub active: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl OfferItem {
    pub(crate) fn from_row(row: items::Model) -> Result<Self, DomainError> {
        Ok(Self {
            id: OfferItemId::from_uuid(row.id),
            unit: stored("offer unit", &row.unit)?,
            unit_value: Money::from_pence(row.unit_value_pence),
            draw_forward_percent: row
                .draw_forward_percent
                .map(|p| u8::try_from(p).map_err(DomainError::internal))
                .transpose()?,
            code: row.code,
            name: row.name,
            description: row.description,
            pro_rata: row.pro_rata,
            allows_overdraft: row.allows_overdraft,
            cash_in_limit: row.cash_in_limit,
            active: row.active,
            created_at: row.created_at,
            updated_at: row.updated_at,
        })
    }
}

/// A new offer item.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewOfferItem {
    pub code: String,
    pub name: String,
    pub description: String,
    pub unit: Unit,
    pub unit_value: Money,
    pub pro_rata: bool,
    pub allows_overdraft: bool,
    pub cash_in_limit: Option<i64>,
    pub draw_forward_percent: Option<i32>,
}

/// Changes to an item; `None` leaves a field as it is. The code and the unit cannot change:
/// the ledger's quantities are counted in the unit.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OfferItemPatch {
    pub name: Option<String>,
    pub description: Option<String>,
    pub unit_value: Option<Money>,
    pub pro_rata: Option<bool>,
    pub allows_overdraft: Option<bool>,
    /// `Some(None)` stops cash-in.
    pub cash_in_limit: Option<Option<i64>>,
    /// `Some(None)` stops draw-forward.
    pub draw_forward_percent: Option<Option<i32>>,
    pub active: Option<bool>,
}

const CODE_MAX: usize = 40;
const NAME_MAX: usize = 200;
const DESCRIPTION_MAX: usize = 2000;

fn check_code(problems: &mut Problems, code: &str) -> Option<String> {
    let code = code.trim();
    let valid = (2..=CODE_MAX).contains(&code.len())
        && code.starts_with(|c: char| c.is_ascii_uppercase())
        && code
            .chars()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_');
    if valid {
        Some(code.to_owned())
    } else {
        problems.add(
            "code",
            ErrorCode::Invalid,
            format!(
                "2 to {CODE_MAX} upper-case letters, digits and underscores, starting with a letter"
            ),
        );
        None
    }
}

/// 0p to £10,000,000 a unit (`kernel::money::MAX_INPUT_PENCE`).
fn check_value(problems: &mut Problems, value: Money) {
    problems.check(Money::bounded_input_or_zero("unitValuePence", value));
}

/// 1 to 100,000 units (`kernel::quantity::MAX_INPUT_QUANTITY`); leave out to forbid cash-in.
fn check_cash_in(problems: &mut Problems, limit: Option<i64>) {
    if let Some(limit) = limit {
        problems.check(kernel::quantity::bounded_quantity("cashInLimit", limit));
    }
}

fn check_percent(problems: &mut Problems, percent: Option<i32>) {
    if percent.is_some_and(|p| !(1..=100).contains(&p)) {
        problems.add(
            "drawForwardPercent",
            ErrorCode::OutOfRange,
            "must be between 1 and 100 (leave it out to forbid draw-forward)",
        );
    }
}

/// Adds an item to the catalogue. Partnership admins.
pub async fn create_item(
    db: &DatabaseConnection,
    actor: &Actor,
    clock: &dyn Clock,
    input: NewOfferItem,
) -> Result<OfferItem, DomainError> {
    actor.require(Permission::ManageOffer)?;
    let mut problems = Problems::new();
    let code = check_code(&mut problems, &input.code);
    let name = problems.check(required_text("name", &input.name, NAME_MAX));
    let description = problems.check(optional_text(
        "description",
        Some(&input.description),
        DESCRIPTION_MAX,
    ));
    check_value(&mut problems, input.unit_value);
    check_cash_in(&mut problems, input.cash_in_limit);
    check_percent(&mut problems, input.draw_forward_percent);
    if let Some(code) = &code
        && items::Entity::find()
            .filter(items::Column::Code.eq(code.as_str()))
            .one(db)
            .await?
            .is_some()
    {
        problems.add("code", ErrorCode::Taken, "another item has this code");
    }
    let (code, name, description) = problems.finish_with((code, name, description))?;
    let now = clock.now();
    let row = items::ActiveModel {
        id: Set(OfferItemId::new().as_uuid()),
        code: Set(code),
        name: Set(name),
        description: Set(description.unwrap_or_default()),
        unit: Set(input.unit.as_str().to_owned()),
        unit_value_pence: Set(input.unit_value.pence()),
        pro_rata: Set(input.pro_rata),
        allows_overdraft: Set(input.allows_overdraft),
        cash_in_limit: Set(input.cash_in_limit),
        draw_forward_percent: Set(input.draw_forward_percent),
        active: Set(true),
        created_at: Set(now),
        updated_at: Set(now),
    };
    match row.insert(db).await {
        Ok(row) => OfferItem::from_row(row),
        Err(err) if is_unique_violation(&err) => Err(DomainError::invalid(
            "code",
            ErrorCode::Taken,
            "another item has this code",
        )),
        Err(err) => Err(err.into()),
    }
}

/// Changes an item. Partnership admins. Changing the rules applies from now on: what was
/// granted, used or cashed in stays as it was recorded.
pub async fn update_item(
    db: &DatabaseConnection,
    actor: &Actor,
    clock: &dyn Clock,
    id: OfferItemId,
    patch: OfferItemPatch,
) -> Result<OfferItem, DomainError> {
    actor.require(Permission::ManageOffer)?;
    let row = items::Entity::find_by_id(id.as_uuid())
        .one(db)
        .await?
        .ok_or(DomainError::NotFound {
            entity: "OfferItem",
        })?;
    let mut problems = Problems::new();
    let name = patch
        .name
        .as_deref()
        .and_then(|n| problems.check(required_text("name", n, NAME_MAX)));
    let description = patch.description.as_deref().and_then(|d| {
        problems
            .check(optional_text("description", Some(d), DESCRIPTION_MAX))
            .map(Option::unwrap_or_default)
    });
    if let Some(value) = patch.unit_value {
        check_value(&mut problems, value);
    }
    if let Some(limit) = patch.cash_in_limit {
        check_cash_in(&mut problems, limit);
    }
    if let Some(percent) = patch.draw_forward_percent {
        check_percent(&mut problems, percent);
    }
    problems.finish()?;

    let mut active: items::ActiveModel = row.into();
    if let Some(name) = name {
        active.name = Set(name);
    }
    if let Some(description) = description {
        active.description = Set(description);
    }
    if let Some(value) = patch.unit_value {
        active.unit_value_pence = Set(value.pence());
    }
    if let Some(pro_rata) = patch.pro_rata {
        active.pro_rata = Set(pro_rata);
    }
    if let Some(overdraft) = patch.allows_overdraft {
        active.allows_overdraft = Set(overdraft);
    }
    if let Some(limit) = patch.cash_in_limit {
        active.cash_in_limit = Set(limit);
    }
    if let Some(percent) = patch.draw_forward_percent {
        active.draw_forward_percent = Set(percent);
    }
    if let Some(flag) = patch.active {
        active.active = Set(flag);
    }
    active.updated_at = Set(clock.now());
    OfferItem::from_row(active.update(db).await?)
}

/// The catalogue by name; inactive items only when asked for. Anyone who may read the offer.
pub async fn items(
    db: &DatabaseConnection,
    actor: &Actor,
    include_inactive: bool,
) -> Result<Vec<OfferItem>, DomainError> {
    Sight::of(actor)?;
    let mut select = items::Entity::find()
        .order_by_asc(items::Column::Name)
        .order_by_asc(items::Column::Id);
    if !include_inactive {
        select = select.filter(items::Column::Active.eq(true));
    }
    select
        .all(db)
        .await?
        .into_iter()
        .map(OfferItem::from_row)
        .collect()
}

/// Items by id, for batch loading. Missing ids are absent from the map.
pub async fn items_by_ids<C: ConnectionTrait>(
    db: &C,
    ids: &[OfferItemId],
) -> Result<HashMap<OfferItemId, OfferItem>, DomainError> {
    if ids.is_empty() {
        return Ok(HashMap::new());
    }
    items::Entity::find()
        .filter(items::Column::Id.is_in(ids.iter().map(OfferItemId::as_uuid)))
        .all(db)
        .await?
        .into_iter()
        .map(|row| OfferItem::from_row(row).map(|item| (item.id, item)))
        .collect()
}

/// One item, whoever asks: for services that have already checked.
pub(crate) async fn load<C: ConnectionTrait>(
    db: &C,
    id: OfferItemId,
) -> Result<Option<OfferItem>, DomainError> {
    items::Entity::find_by_id(id.as_uuid())
        .one(db)
        .await?
        .map(OfferItem::from_row)
        .transpose()
}

/// An item by code (demo data, imports).
pub async fn item_by_code(
    db: &DatabaseConnection,
    code: &str,
) -> Result<Option<OfferItem>, DomainError> {
    items::Entity::find()
        .filter(items::Column::Code.eq(code))
        .one(db)
        .await?
        .map(OfferItem::from_row)
        .transpose()
}
