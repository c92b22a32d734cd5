//! Membership tiers: reference data the fee schedules and enrolments point at.

use std::collections::HashMap;

use kernel::BeginWrite as _;
use kernel::{Actor, Clock, DomainError, ErrorCode, FieldError, Permission, Problems, TierId};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, DatabaseConnection, EntityTrait, PaginatorTrait, QueryFilter,
    QueryOrder, QuerySelect, Set,
};

use super::entity::tiers;
use super::types::{NewTier, Tier, TierPatch};
use crate::validate::{is_unique_violation, required_text};

const CODE_MAX: usize = 32;
const NAME_MAX: usize = 100;
const DESCRIPTION_MAX: usize = 2000;

/// A tier code: trimmed and upper-cased, then letters A-Z and underscores only, starting with
/// a letter. Codes end up in fee-schedule rules and exports, so they stay plain.
fn parse_code(raw: &str) -> Result<String, FieldError> {
    let code = raw.trim().to_ascii_uppercase();
    if code.is_empty() {
        return Err(FieldError::new(
            "code",
            ErrorCode::Required,
            "must not be blank",
        ));
    }
    if code.len() > CODE_MAX {
        return Err(FieldError::new(
            "code",
            ErrorCode::TooLong,
            format!("must be at most {CODE_MAX} characters"),
        ));
    }
    let plain = code.bytes().all(|b| b.is_ascii_uppercase() || b == b'_')
        && code.as_bytes()[0].is_ascii_uppercase();
    if plain {
        Ok(code)
    } else {
        Err(FieldError::new(
            "code",
            ErrorCode::Invalid,
            "use letters A-Z and underscores, starting with a letter, e.g. FULL",
        ))
    }
}

fn check_description(problems: &mut Problems, description: &str) -> String {
    let description = description.trim().to_owned();
    if description.chars().count() > DESCRIPTION_MAX {
        problems.add(
            "description",
            ErrorCode::TooLong,
            format!("must be at most {DESCRIPTION_MAX} characters"),
        );
    }
    description
}

fn code_taken(code: &str) -> DomainError {
    DomainError::invalid(
        "code",
        ErrorCode::Taken,
        format!("another tier has the code {code}"),
    )
}

/// Every tier, active or not, by code.
pub async fn tiers(db: &DatabaseConnection) -> Result<Vec<Tier>, DomainError> {
    Ok(tiers::Entity::find()
        .order_by_asc(tiers::Column::Code)
        .all(db)
        .await?
        .into_iter()
        .map(Tier::from_row)
        .collect())
}

/// Tiers by id, for batch loading. Missing ids are absent from the map.
pub async fn tiers_by_ids<C: sea_orm::ConnectionTrait>(
    db: &C,
    ids: &[TierId],
) -> Result<HashMap<TierId, Tier>, DomainError> {
    Ok(tiers::Entity::find()
        .filter(tiers::Column::Id.is_in(ids.iter().map(TierId::as_uuid)))
        .all(db)
        .await?
        .into_iter()
        .map(|row| {
            let tier = Tier::from_row(row);
            (tier.id, tier)
        })
        .collect())
}

/// The tier with this code (compared as stored: upper case), if any.
pub async fn tier_by_code(
    db: &DatabaseConnection,
    code: &str,
) -> Result<Option<Tier>, DomainError> {
    Ok(tiers::Entity::find()
        .filter(tiers::Column::Code.eq(code.trim().to_ascii_uppercase()))
        .one(db)
        .await?
        .map(Tier::from_row))
}

pub async fn create_tier(
    db: &DatabaseConnection,
    actor: &Actor,
    clock: &dyn Clock,
    input: NewTier,
) -> Result<Tier, DomainError> {
    actor.require(Permission::ManageMemberships)?;
    let mut problems = Problems::new();
    let code = problems.check(parse_code(&input.code));
    let name = problems.check(required_text("name", &input.name, NAME_MAX));
    let description = check_description(&mut problems, &input.description);
    if let Some(code) = &code
        && tiers::Entity::find()
            .filter(tiers::Column::Code.eq(code.as_str()))
            .count(db)
            .await?
            > 0
    {
        problems.add(
            "code",
            ErrorCode::Taken,
            format!("another tier has the code {code}"),
        );
    }
    let (code, name) = problems.finish_with((code, name))?;
    let now = clock.now();
    let row = tiers::ActiveModel {
        id: Set(TierId::new().as_uuid()),
        code: Set(code.clone()),
        name: Set(name),
        description: Set(description),
        active: Set(true),
        created_at: Set(now),
        updated_at: Set(now),
    };
    match row.insert(db).await {
        Ok(row) => Ok(Tier::from_row(row)),
        // Two admins creating the same code at once: the unique index decides.
        Err(err) if is_unique_violation(&err) => Err(code_taken(&code)),
        Err(err) => Err(err.into()),
    }
}

pub async fn update_tier(
    db: &DatabaseConnection,
    actor: &Actor,
    clock: &dyn Clock,
    id: TierId,
    patch: TierPatch,
) -> Result<Tier, DomainError> {
    actor.require(Permission::ManageMemberships)?;
    let mut problems = Problems::new();
    let name = patch
        .name
        .as_deref()
        .and_then(|n| problems.check(required_text("name", n, NAME_MAX)));
    let description = patch
        .description
        .as_deref()
        .map(|d| check_description(&mut problems, d));
    problems.finish()?;
    let txn = db.begin_write().await?;
    let existing = tiers::Entity::find_by_id(id.as_uuid())
        .lock_exclusive()
        .one(&txn)
        .await?
        .ok_or(DomainError::NotFound {
            entity: "MembershipTier",
        })?;
    let mut row: tiers::ActiveModel = existing.into();
    if let Some(name) = name {
        row.name = Set(name);
    }
    if let Some(description) = description {
        row.description = Set(description);
    }
    if let Some(active) = patch.active {
        row.active = Set(active);
    }
    row.updated_at = Set(clock.now());
    let updated = row.update(&txn).await?;
    txn.commit().await?;
    Ok(Tier::from_row(updated))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_plain_upper_case() {
        assert_eq!(parse_code(" full ").ok().as_deref(), Some("FULL"));
        assert_eq!(parse_code("SIXTH_FORM").ok().as_deref(), Some("SIXTH_FORM"));
        for (bad, code) in [
            ("", ErrorCode::Required),
            ("FULL-1", ErrorCode::Invalid),
            ("_FULL", ErrorCode::Invalid),
            ("FÜLL", ErrorCode::Invalid),
            ("TIER 2", ErrorCode::Invalid),
            (&"A".repeat(33), ErrorCode::TooLong),
        ] {
            assert_eq!(parse_code(bad).map_err(|e| e.code), Err(code), "{bad}");
        }
    }
}
