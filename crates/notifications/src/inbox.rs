//! Reading messages: a user's own inbox and preferences, and the outbox for partnership
//! admins. Nobody reads another person's messages: the inbox is always the caller's own,
//! and only admins (who manage users) see the outbox.

use std::collections::HashSet;

use kernel::BeginWrite as _;
use kernel::{Actor, Clock, DomainError, ErrorCode, Permission, UserId};
use membership::Page;
use sea_orm::sea_query::Expr;
use sea_orm::{
    ColumnTrait as _, Condition, DatabaseConnection, EntityTrait as _, PaginatorTrait as _,
    QueryFilter as _, QueryOrder as _, QuerySelect as _, Select, Set,
};
use uuid::Uuid;

use crate::entity::{notification_mutes as mutes, notifications as rows};
use crate::model::{Category, DeliveryStatus, Notification};

/// The signed-in user: an inbox is a person's, never a key's.
fn me(actor: &Actor) -> Result<UserId, DomainError> {
    actor
        .as_user()
        .map(|u| u.id)
        .ok_or_else(|| DomainError::Forbidden("only a signed-in person has an inbox".to_owned()))
}

/// A page of messages newest first, after the message `after` (the previous page's last).
async fn newest_first(
    db: &DatabaseConnection,
    select: Select<rows::Entity>,
    after: Option<Uuid>,
    limit: u64,
) -> Result<Page<Notification>, DomainError> {
    let mut select = select;
    if let Some(after) = after {
        select = select.filter(rows::Column::Id.lt(after));
    }
    let mut found = select
        .order_by_desc(rows::Column::Id)
        .limit(limit + 1)
        .all(db)
        .await?;
    let more = found.len() > usize::try_from(limit).unwrap_or(usize::MAX);
    found.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
    Ok(Page {
        items: found
            .into_iter()
            .map(Notification::from_row)
            .collect::<Result<_, _>>()?,
        has_next_page: more,
        has_previous_page: after.is_some(),
    })
}

/// The caller's messages, newest first.
pub async fn inbox(
    db: &DatabaseConnection,
    actor: &Actor,
    unread_only: bool,
    after: Option<Uuid>,
    limit: u64,
) -> Result<Page<Notification>, DomainError> {
    let user = me(actor)?;
    let mut select = rows::Entity::find().filter(rows::Column::UserId.eq(user.as_uuid()));
    if unread_only {
        select = select.filter(rows::Column::ReadAt.is_null());
    }
    newest_first(db, select, after, limit).await
}

/// How many of the caller's messages are unread.
pub async fn unread_count(db: &DatabaseConnection, actor: &Actor) -> Result<u64, DomainError> {
    let user = me(actor)?;
    Ok(rows::Entity::find()
        .filter(rows::Column::UserId.eq(user.as_uuid()))
        .filter(rows::Column::ReadAt.is_null())
        .count(db)
        .await?)
}

/// Marks the caller's messages read. An id that is not one of the caller's messages is
/// `NOT_FOUND` (whoever's it is), and then nothing is marked.
pub async fn mark_read(
    db: &DatabaseConnection,
    actor: &Actor,
    clock: &dyn Clock,
    ids: &[Uuid],
) -> Result<Vec<Notification>, DomainError> {
    let user = me(actor)?;
    if ids.is_empty() || ids.len() > 100 {
        return Err(DomainError::invalid(
            "ids",
            ErrorCode::OutOfRange,
            "give between 1 and 100 ids",
        ));
    }
    let own = rows::Entity::find()
        .filter(rows::Column::Id.is_in(ids.iter().copied()))
        .filter(rows::Column::UserId.eq(user.as_uuid()))
        .all(db)
        .await?;
    let found: HashSet<Uuid> = own.iter().map(|r| r.id).collect();
    let problems: Vec<kernel::FieldError> = ids
        .iter()
        .enumerate()
        .filter(|(_, id)| !found.contains(id))
        .map(|(i, _)| {
            kernel::FieldError::new(&format!("ids.{i}"), ErrorCode::NotFound, "no such message")
        })
        .collect();
    if !problems.is_empty() {
        return Err(DomainError::Invalid(problems));
    }
    rows::Entity::update_many()
        .col_expr(rows::Column::ReadAt, Expr::value(Some(clock.now())))
        .filter(rows::Column::Id.is_in(ids.iter().copied()))
        .filter(rows::Column::UserId.eq(user.as_uuid()))
        .filter(rows::Column::ReadAt.is_null())
        .exec(db)
        .await?;
    let mut marked = rows::Entity::find()
        .filter(rows::Column::Id.is_in(ids.iter().copied()))
        .order_by_desc(rows::Column::Id)
        .all(db)
        .await?;
    marked.retain(|r| r.user_id == Some(user.as_uuid()));
    marked.into_iter().map(Notification::from_row).collect()
}

/// One category as the caller has it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Preference {
    pub category: Category,
    pub muted: bool,
    /// Invoices and payment reminders cannot be muted.
    pub mutable: bool,
}

/// The caller's preference for every category.
pub async fn preferences(
    db: &DatabaseConnection,
    actor: &Actor,
) -> Result<Vec<Preference>, DomainError> {
    let user = me(actor)?;
    let muted: HashSet<String> = mutes::Entity::find()
        .filter(mutes::Column::UserId.eq(user.as_uuid()))
        .all(db)
        .await?
        .into_iter()
        .map(|m| m.category)
        .collect();
    Ok(Category::ALL
        .into_iter()
        .map(|category| Preference {
            category,
            muted: muted.contains(category.as_str()),
            mutable: category.mutable(),
        })
        .collect())
}

/// Sets which categories the caller has muted (the whole set). A category that may not be
/// muted is refused, and nothing changes.
pub async fn set_muted(
    db: &DatabaseConnection,
    actor: &Actor,
    clock: &dyn Clock,
    muted: &[Category],
) -> Result<Vec<Preference>, DomainError> {
    let user = me(actor)?;
    let refused: Vec<kernel::FieldError> = muted
        .iter()
        .enumerate()
        .filter(|(_, c)| !c.mutable())
        .map(|(i, c)| {
            kernel::FieldError::new(
                &format!("muted.{i}"),
                ErrorCode::Invalid,
                format!(
                    "{} cannot be muted: a billing account's contact is always told what it owes",
                    c.as_str()
                ),
            )
        })
        .collect();
    if !refused.is_empty() {
        return Err(DomainError::Invalid(refused));
    }
    let txn = db.begin_write().await?;
    mutes::Entity::delete_many()
        .filter(mutes::Column::UserId.eq(user.as_uuid()))
        .exec(&txn)
        .await?;
    let wanted: HashSet<Category> = muted.iter().copied().collect();
    if !wanted.is_empty() {
        mutes::Entity::insert_many(wanted.into_iter().map(|category| mutes::ActiveModel {
            user_id: Set(user.as_uuid()),
            category: Set(category.as_str().to_owned()),
            created_at: Set(clock.now()),
        }))
        .exec_without_returning(&txn)
        .await?;
    }
    txn.commit().await?;
    preferences(db, actor).await
}

/// Mutes the category of the message whose unsubscribe link this is, for its user. Returns
/// the category, or `None` for a link that names no message.
pub async fn unsubscribe(
    db: &DatabaseConnection,
    clock: &dyn Clock,
    token: &str,
) -> Result<Option<Category>, DomainError> {
    if token.is_empty() || token.len() > 64 {
        return Ok(None);
    }
    let Some(row) = rows::Entity::find()
        .filter(rows::Column::UnsubscribeToken.eq(token))
        .one(db)
        .await?
    else {
        return Ok(None);
    };
    let (Some(user), Some(category)) = (row.user_id, Category::parse(&row.category)) else {
        return Ok(None);
    };
    if !category.mutable() {
        return Ok(None);
    }
    let txn = db.begin_write().await?;
    mutes::Entity::insert(mutes::ActiveModel {
        user_id: Set(user),
        category: Set(category.as_str().to_owned()),
        created_at: Set(clock.now()),
    })
    .on_conflict(
        sea_orm::sea_query::OnConflict::columns([mutes::Column::UserId, mutes::Column::Category])
            .do_nothing()
            .to_owned(),
    )
    .exec_without_returning(&txn)
    .await?;
    txn.commit().await?;
    Ok(Some(category))
}

/// Every message, newest first, optionally of one status: partnership admins, who see what
/// was sent to whom and why something was not.
pub async fn outbox(
    db: &DatabaseConnection,
    actor: &Actor,
    status: Option<DeliveryStatus>,
    after: Option<Uuid>,
    limit: u64,
) -> Result<Page<Notification>, DomainError> {
    actor.require(Permission::ManageUsers)?;
    let mut select = rows::Entity::find();
    if let Some(status) = status {
        select = select.filter(rows::Column::Status.eq(status.as_str()));
    }
    newest_first(db, select, after, limit).await
}

/// Sends a dead (or waiting) message again now, with a fresh count of attempts: admins.
pub async fn retry(
    db: &DatabaseConnection,
    actor: &Actor,
    clock: &dyn Clock,
    id: Uuid,
) -> Result<Notification, DomainError> {
    actor.require(Permission::ManageUsers)?;
    let Some(row) = rows::Entity::find_by_id(id).one(db).await? else {
        return Err(DomainError::invalid(
            "id",
            ErrorCode::NotFound,
            "no such message",
        ));
    };
    let status = DeliveryStatus::parse(&row.status);
    if !matches!(status, Some(DeliveryStatus::Dead | DeliveryStatus::Pending)) {
        return Err(DomainError::invalid(
            "id",
            ErrorCode::Conflict,
            format!(
                "only a dead or waiting message can be retried; this one is {}",
                row.status
            ),
        ));
    }
    rows::Entity::update_many()
        .col_expr(
            rows::Column::Status,
            Expr::value(DeliveryStatus::Pending.as_str()),
        )
        .col_expr(rows::Column::Attempts, Expr::value(0))
        .col_expr(rows::Column::NextAttemptAt, Expr::value(clock.now()))
        .filter(
            Condition::all()
                .add(rows::Column::Id.eq(id))
                .add(rows::Column::Status.eq(row.status.clone())),
        )
        .exec(db)
        .await?;
    let row = rows::Entity::find_by_id(id)
        .one(db)
        .await?
        .ok_or(DomainError::NotFound { entity: "message" })?;
    Notification::from_row(row)
}
