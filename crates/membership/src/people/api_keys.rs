//! Integrators' API keys: shown once, stored hashed, scoped, revocable.
//!
//! A key is `trl_` followed by 43 URL-safe characters (32 random bytes). Only its SHA-256
//! is stored, so a database leak yields no usable keys; SHA-256 rather than a slow password
//! hash is enough because the secret has 256 bits of entropy, and it keeps the per-request
//! lookup a single indexed equality match. The first characters are kept in clear so admins
//! can tell keys apart.

use std::collections::HashMap;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Duration, Utc};
use kernel::{
    Actor, ApiKeyActor, ApiKeyId, Clock, DomainError, ErrorCode, Permission, Problems, Scope,
    UserId,
};
use rand::RngCore as _;
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, DatabaseConnection, EntityTrait, PaginatorTrait,
    QueryFilter, Set,
};
use sha2::{Digest, Sha256};

use super::entity::api_keys;
use crate::keyset::{NameKey, Page, PageArgs, fetch_page};
use crate::school::CorruptRow;
use crate::validate::required_text;

/// What every key starts with, so scanners and people recognise a leaked Trellis key.
pub const KEY_PREFIX: &str = "trl_";
const SHOWN_PREFIX_LEN: usize = 12;
/// How often last-used is written: at most once a minute per key, not on every request.
const LAST_USED_GRANULARITY: Duration = Duration::minutes(1);

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiKey {
    pub id: ApiKeyId,
    pub name: String,
    /// The first characters of the secret, e.g. `trl_Ab3dE9fG`.
    pub prefix: String,
    pub scopes: Vec<Scope>,
    pub created_by: Option<UserId>,
    pub created_at: DateTime<Utc>,
    pub revoked_at: Option<DateTime<Utc>>,
    pub last_used_at: Option<DateTime<Utc>>,
}

impl ApiKey {
    #[must_use]
    pub fn sort_key(&self) -> NameKey {
        (self.name.clone(), self.id.as_uuid())
    }

    fn from_row(row: api_keys::Model) -> Result<Self, DomainError> {
        let scopes = parse_scopes(&row.scopes)
            .map_err(|_| DomainError::internal(CorruptRow(format!("api key {} scopes", row.id))))?;
        Ok(Self {
            id: ApiKeyId::from_uuid(row.id),
            name: row.name,
            prefix: row.prefix,
            scopes,
            created_by: row.created_by.map(UserId::from_uuid),
            created_at: row.created_at,
            revoked_at: row.revoked_at,
            last_used_at: row.last_used_at,
        })
    }
}

fn parse_scopes(stored: &str) -> Result<Vec<Scope>, kernel::actor::UnknownName> {
    stored.split_whitespace().map(str::parse).collect()
}

fn hash(secret: &str) -> String {
    use std::fmt::Write as _;
    Sha256::digest(secret.as_bytes())
        .iter()
        .fold(String::with_capacity(64), |mut hex, b| {
            let _ = write!(hex, "{b:02x}");
            hex
        })
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewApiKey {
    pub name: String,
    pub scopes: Vec<Scope>,
}

/// A freshly created key and its secret. The secret exists only here: it is not stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreatedKey {
    pub key: ApiKey,
    pub secret: String,
}

pub async fn create(
    db: &DatabaseConnection,
    clock: &dyn Clock,
    actor: &Actor,
    input: NewApiKey,
) -> Result<CreatedKey, DomainError> {
    actor.require(Permission::ManageApiKeys)?;
    let mut problems = Problems::new();
    let name = problems.check(required_text("name", &input.name, 100));
    if input.scopes.is_empty() {
        problems.add(
            "scopes",
            ErrorCode::Required,
            "a key needs at least one scope",
        );
    }
    let name = problems.finish_with(name)?;
    let mut scopes = input.scopes;
    scopes.sort();
    scopes.dedup();

    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    let secret = format!("{KEY_PREFIX}{}", URL_SAFE_NO_PAD.encode(bytes));
    let row = api_keys::ActiveModel {
        id: Set(ApiKeyId::new().as_uuid()),
        name: Set(name),
        prefix: Set(secret[..SHOWN_PREFIX_LEN].to_owned()),
        secret_hash: Set(hash(&secret)),
        scopes: Set(scopes
            .iter()
            .map(|s| s.as_str())
            .collect::<Vec<_>>()
            .join(" ")),
        created_by: Set(actor.as_user().map(|u| u.id.as_uuid())),
        created_at: Set(clock.now()),
        revoked_at: Set(None),
        last_used_at: Set(None),
    }
    .insert(db)
    .await?;
    tracing::info!(key = %row.id, prefix = %row.prefix, "API key created");
    Ok(CreatedKey {
        key: ApiKey::from_row(row)?,
        secret,
    })
}

pub async fn revoke(
    db: &DatabaseConnection,
    clock: &dyn Clock,
    actor: &Actor,
    id: ApiKeyId,
) -> Result<ApiKey, DomainError> {
    actor.require(Permission::ManageApiKeys)?;
    let row = api_keys::Entity::find_by_id(id.as_uuid())
        .one(db)
        .await?
        .ok_or(DomainError::NotFound { entity: "ApiKey" })?;
    if row.revoked_at.is_some() {
        return Err(DomainError::invalid(
            "id",
            ErrorCode::Conflict,
            "the key is already revoked",
        ));
    }
    let mut active: api_keys::ActiveModel = row.into();
    active.revoked_at = Set(Some(clock.now()));
    let row = active.update(db).await?;
    tracing::info!(key = %row.id, "API key revoked");
    ApiKey::from_row(row)
}

pub async fn list(
    db: &DatabaseConnection,
    actor: &Actor,
    args: &PageArgs<NameKey>,
) -> Result<Page<ApiKey>, DomainError> {
    actor.require(Permission::ManageApiKeys)?;
    let page = fetch_page(
        db,
        api_keys::Entity::find(),
        api_keys::Column::Name,
        api_keys::Column::Id,
        args,
    )
    .await?;
    let items = page
        .items
        .into_iter()
        .map(ApiKey::from_row)
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Page {
        items,
        has_next_page: page.has_next_page,
        has_previous_page: page.has_previous_page,
    })
}

pub async fn count(db: &DatabaseConnection, actor: &Actor) -> Result<u64, DomainError> {
    actor.require(Permission::ManageApiKeys)?;
    Ok(api_keys::Entity::find().count(db).await?)
}

pub async fn by_ids(
    db: &DatabaseConnection,
    ids: &[ApiKeyId],
) -> Result<HashMap<ApiKeyId, ApiKey>, DomainError> {
    let rows = api_keys::Entity::find()
        .filter(api_keys::Column::Id.is_in(ids.iter().map(ApiKeyId::as_uuid)))
        .all(db)
        .await?;
    rows.into_iter()
        .map(|row| ApiKey::from_row(row).map(|k| (k.id, k)))
        .collect()
}

/// The outcome of presenting a key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyCheck {
    Valid(ApiKeyActor),
    Revoked,
    Unknown,
}

/// Checks a presented secret and records that the key was used.
pub async fn authenticate(
    db: &DatabaseConnection,
    clock: &dyn Clock,
    secret: &str,
) -> Result<KeyCheck, DomainError> {
    if !secret.starts_with(KEY_PREFIX) {
        return Ok(KeyCheck::Unknown);
    }
    let Some(row) = api_keys::Entity::find()
        .filter(api_keys::Column::SecretHash.eq(hash(secret)))
        .one(db)
        .await?
    else {
        return Ok(KeyCheck::Unknown);
    };
    if row.revoked_at.is_some() {
        return Ok(KeyCheck::Revoked);
    }
    let now = clock.now();
    if row
        .last_used_at
        .is_none_or(|t| now - t >= LAST_USED_GRANULARITY)
    {
        api_keys::Entity::update_many()
            .col_expr(api_keys::Column::LastUsedAt, Expr::value(now))
            .filter(api_keys::Column::Id.eq(row.id))
            .filter(
                Condition::any()
                    .add(api_keys::Column::LastUsedAt.is_null())
                    .add(api_keys::Column::LastUsedAt.lt(now - LAST_USED_GRANULARITY)),
            )
            .exec(db)
            .await?;
    }
    let key = ApiKey::from_row(row)?;
    Ok(KeyCheck::Valid(ApiKeyActor {
        id: key.id,
        name: key.name,
        scopes: key.scopes,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_are_hex_sha256() {
        assert_eq!(
            hash("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn scopes_parse_from_storage() {
        assert_eq!(
            parse_scopes("directory:read").ok(),
            Some(vec![Scope::DirectoryRead])
        );
        assert!(parse_scopes("root:all").is_err());
    }
}
