//! People who sign in, with the role and schools Trellis trusts (never a token's claims).

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use kernel::BeginWrite as _;
use kernel::persistence::by_position::DecodeAt as _;
use kernel::{
    Actor, Clock, DomainError, ErrorCode, FieldError, Permission, Problems, Role, SchoolId,
    UserActor, UserId,
};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, DatabaseConnection, EntityTrait, PaginatorTrait, QueryFilter,
    QueryResult, QuerySelect, Set,
};

use super::entity::{user_schools, users};
use crate::keyset::{NameKey, Page, PageArgs, fetch_page};
use crate::school::CorruptRow;
use crate::school::entity::schools;
use crate::validate::{is_unique_violation, required_text};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    pub id: UserId,
    pub email: String,
    pub name: String,
    pub role: Role,
    pub active: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl User {
    /// Users are listed by email.
    #[must_use]
    pub fn sort_key(&self) -> NameKey {
        (self.email.clone(), self.id.as_uuid())
    }

    fn from_row(row: users::Model) -> Result<Self, DomainError> {
        Ok(Self {
            id: UserId::from_uuid(row.id),
            role: row
                .role
                .parse()
                .map_err(|_| DomainError::internal(CorruptRow(format!("user {} role", row.id))))?,
            email: row.email,
            name: row.name,
            active: row.active,
            created_at: row.created_at,
            updated_at: row.updated_at,
        })
    }
}

/// An email address, lower-cased: how a token's subject is matched to a person.
pub fn parse_email(raw: &str) -> Result<String, FieldError> {
    let email = raw.trim().to_lowercase();
    let invalid = || FieldError::new("email", ErrorCode::Invalid, "not an email address");
    if email.len() > 254 || email.chars().any(char::is_whitespace) {
        return Err(invalid());
    }
    let (local, domain) = email.split_once('@').ok_or_else(invalid)?;
    if local.is_empty()
        || domain.is_empty()
        || domain.contains('@')
        || !domain.contains('.')
        || domain.starts_with('.')
    {
        return Err(invalid());
    }
    Ok(email)
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewUser {
    pub email: String,
    pub name: String,
    pub role: Role,
    pub schools: Vec<SchoolId>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UserChanges {
    pub name: Option<String>,
    pub role: Option<Role>,
    pub active: Option<bool>,
    /// Replaces the whole set.
    pub schools: Option<Vec<SchoolId>>,
}

async fn check_schools(
    db: &impl sea_orm::ConnectionTrait,
    problems: &mut Problems,
    role: Role,
    schools_given: &[SchoolId],
) -> Result<(), DomainError> {
    if role.is_school_role() && schools_given.is_empty() {
        problems.add(
            "schoolIds",
            ErrorCode::Required,
            "school leaders and staff must be linked to a school",
        );
    }
    if !role.is_school_role() && !schools_given.is_empty() {
        problems.add(
            "schoolIds",
            ErrorCode::Invalid,
            "partnership staff see every school and are not linked to one",
        );
    }
    if !schools_given.is_empty() {
        let found = schools::Entity::find()
            .filter(schools::Column::Id.is_in(schools_given.iter().map(SchoolId::as_uuid)))
            .count(db)
            .await?;
        let mut distinct = schools_given.to_vec();
        distinct.sort();
        distinct.dedup();
        if found != distinct.len() as u64 {
            problems.add(
                "schoolIds",
                ErrorCode::NotFound,
                "one or more schools do not exist",
            );
        }
    }
    Ok(())
}

async fn replace_schools(
    db: &impl sea_orm::ConnectionTrait,
    user: UserId,
    list: &[SchoolId],
) -> Result<(), DomainError> {
    user_schools::Entity::delete_many()
        .filter(user_schools::Column::UserId.eq(user.as_uuid()))
        .exec(db)
        .await?;
    let mut distinct = list.to_vec();
    distinct.sort();
    distinct.dedup();
    if !distinct.is_empty() {
        user_schools::Entity::insert_many(distinct.into_iter().map(|s| {
            user_schools::ActiveModel {
                user_id: Set(user.as_uuid()),
                school_id: Set(s.as_uuid()),
            }
        }))
        .exec(db)
        .await?;
    }
    Ok(())
}

pub async fn create(
    db: &DatabaseConnection,
    clock: &dyn Clock,
    actor: &Actor,
    input: NewUser,
) -> Result<User, DomainError> {
    actor.require(Permission::ManageUsers)?;
    let mut problems = Problems::new();
    let email = problems.check(parse_email(&input.email));
    let name = problems.check(required_text("name", &input.name, 200));
    let txn = db.begin_write().await?;
    check_schools(&txn, &mut problems, input.role, &input.schools).await?;
    if let Some(email) = &email
        && users::Entity::find()
            .filter(users::Column::Email.eq(email.as_str()))
            .count(&txn)
            .await?
            > 0
    {
        problems.add("email", ErrorCode::Taken, "a user with this email exists");
    }
    let (email, name) = problems.finish_with((email, name))?;
    let now = clock.now();
    let id = UserId::new();
    let row = users::ActiveModel {
        id: Set(id.as_uuid()),
        email: Set(email),
        name: Set(name),
        role: Set(input.role.as_str().to_owned()),
        active: Set(true),
        created_at: Set(now),
        updated_at: Set(now),
        last_seen_at: Set(None),
    };
    let row = match row.insert(&txn).await {
        Ok(row) => row,
        Err(err) if is_unique_violation(&err) => {
            return Err(DomainError::invalid(
                "email",
                ErrorCode::Taken,
                "a user with this email exists",
            ));
        }
        Err(err) => return Err(err.into()),
    };
    replace_schools(&txn, id, &input.schools).await?;
    txn.commit().await?;
    User::from_row(row)
}

pub async fn update(
    db: &DatabaseConnection,
    clock: &dyn Clock,
    actor: &Actor,
    id: UserId,
    changes: UserChanges,
) -> Result<User, DomainError> {
    actor.require(Permission::ManageUsers)?;
    let mut problems = Problems::new();
    let name = changes
        .name
        .as_deref()
        .and_then(|n| problems.check(required_text("name", n, 200)));
    let is_self = actor.as_user().is_some_and(|u| u.id == id);
    if is_self && changes.active == Some(false) {
        problems.add(
            "active",
            ErrorCode::Conflict,
            "you cannot deactivate yourself",
        );
    }
    if is_self && changes.role.is_some_and(|r| r != Role::PartnershipAdmin) {
        problems.add(
            "role",
            ErrorCode::Conflict,
            "you cannot remove your own admin role",
        );
    }
    let txn = db.begin_write().await?;
    let existing = users::Entity::find_by_id(id.as_uuid())
        .one(&txn)
        .await?
        .ok_or(DomainError::NotFound { entity: "User" })?;
    let current = User::from_row(existing.clone())?;
    let role = changes.role.unwrap_or(current.role);
    let schools_now = match &changes.schools {
        Some(list) => list.clone(),
        None => schools_of(&txn, &[id])
            .await?
            .remove(&id)
            .unwrap_or_default(),
    };
    if changes.role.is_some() || changes.schools.is_some() {
        check_schools(&txn, &mut problems, role, &schools_now).await?;
    }
    problems.finish()?;
    let mut row: users::ActiveModel = existing.into();
    if let Some(name) = name {
        row.name = Set(name);
    }
    row.role = Set(role.as_str().to_owned());
    if let Some(active) = changes.active {
        row.active = Set(active);
    }
    row.updated_at = Set(clock.now());
    let row = row.update(&txn).await?;
    if changes.schools.is_some() {
        replace_schools(&txn, id, &schools_now).await?;
    }
    txn.commit().await?;
    User::from_row(row)
}

/// One page of users, ordered by email. Admins only.
pub async fn list(
    db: &DatabaseConnection,
    actor: &Actor,
    args: &PageArgs<NameKey>,
) -> Result<Page<User>, DomainError> {
    actor.require(Permission::ManageUsers)?;
    let page = fetch_page(
        db,
        users::Entity::find(),
        users::Column::Email,
        users::Column::Id,
        args,
    )
    .await?;
    let items = page
        .items
        .into_iter()
        .map(User::from_row)
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Page {
        items,
        has_next_page: page.has_next_page,
        has_previous_page: page.has_previous_page,
    })
}

pub async fn count(db: &DatabaseConnection, actor: &Actor) -> Result<u64, DomainError> {
    actor.require(Permission::ManageUsers)?;
    Ok(users::Entity::find().count(db).await?)
}

pub async fn by_ids(
    db: &impl sea_orm::ConnectionTrait,
    ids: &[UserId],
) -> Result<HashMap<UserId, User>, DomainError> {
    let rows = users::Entity::find()
        .filter(users::Column::Id.is_in(ids.iter().map(UserId::as_uuid)))
        .all(db)
        .await?;
    rows.into_iter()
        .map(|row| User::from_row(row).map(|u| (u.id, u)))
        .collect()
}

/// The `SELECT` list that reads the user joined as `alias` in another table's statement, each
/// column as `{prefix}{column}`: an offer entry's recorder is read with the entry this way, in
/// one statement, not a second.
#[must_use]
pub fn joined_columns(alias: &str, prefix: &str) -> String {
    kernel::persistence::joined_select_list::<users::Entity>(alias, prefix)
}

/// How many columns [`joined_columns`] lists: what a statement that pads its rows to a
/// common width (a `UNION ALL`) must know.
pub const JOINED_COLUMNS: usize = users::Model::COLUMNS;

/// The user [`joined_columns`] put in `row` from column `start` on (read by position, see
/// `kernel::persistence::by_position`); `None` when the left join found none.
pub fn joined_user(row: &QueryResult, start: usize) -> Result<Option<User>, DomainError> {
    users::Model::decode_optional_at(row, start)?
        .map(User::from_row)
        .transpose()
}

/// The schools each user acts for.
pub async fn schools_of(
    db: &impl sea_orm::ConnectionTrait,
    ids: &[UserId],
) -> Result<HashMap<UserId, Vec<SchoolId>>, DomainError> {
    let rows = user_schools::Entity::find()
        .filter(user_schools::Column::UserId.is_in(ids.iter().map(UserId::as_uuid)))
        .all(db)
        .await?;
    let mut out: HashMap<UserId, Vec<SchoolId>> = HashMap::new();
    for row in rows {
        out.entry(UserId::from_uuid(row.user_id))
            .or_default()
            .push(SchoolId::from_uuid(row.school_id));
    }
    Ok(out)
}

/// Who to authenticate a verified token as.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Lookup<'a> {
    /// A Trellis-minted token names the user id.
    Id(UserId),
    /// An OIDC token names an email.
    Email(&'a str),
}

/// The actor for a verified token, if the person exists and is active. Role and schools come
/// from here, never from the token.
///
/// Every authenticated request asks this, so it is one statement: the user joined to their
/// schools, a row per school.
pub async fn actor_for(
    db: &DatabaseConnection,
    who: Lookup<'_>,
) -> Result<Option<UserActor>, DomainError> {
    let who = match who {
        Lookup::Id(id) => users::Column::Id.eq(id.as_uuid()),
        Lookup::Email(email) => users::Column::Email.eq(email.trim().to_lowercase()),
    };
    let their_schools: sea_orm::RelationDef = user_schools::Entity::belongs_to(users::Entity)
        .from(user_schools::Column::UserId)
        .to(users::Column::Id)
        .into();
    let rows = users::Entity::find()
        .filter(who)
        .filter(users::Column::Active.eq(true))
        .select_also(user_schools::Entity)
        .join(sea_orm::JoinType::LeftJoin, their_schools.rev())
        .all(db)
        .await?;
    let mut rows = rows.into_iter();
    let Some((row, first)) = rows.next() else {
        return Ok(None);
    };
    let schools: Vec<SchoolId> = first
        .into_iter()
        .chain(rows.filter_map(|(_, link)| link))
        .map(|link| SchoolId::from_uuid(link.school_id))
        .collect();
    let user = User::from_row(row)?;
    Ok(Some(UserActor {
        id: user.id,
        email: user.email,
        role: user.role,
        schools,
    }))
}

/// The active users with `role` who act for each of `schools`: e.g. the leaders a staff
/// request waits on. Two statements whatever the number of schools.
pub async fn active_with_role_at(
    db: &impl sea_orm::ConnectionTrait,
    role: Role,
    schools: &[SchoolId],
) -> Result<HashMap<SchoolId, Vec<User>>, DomainError> {
    let links = user_schools::Entity::find()
        .filter(user_schools::Column::SchoolId.is_in(schools.iter().map(SchoolId::as_uuid)))
        .all(db)
        .await?;
    let rows = users::Entity::find()
        .filter(users::Column::Id.is_in(links.iter().map(|l| l.user_id)))
        .filter(users::Column::Role.eq(role.as_str()))
        .filter(users::Column::Active.eq(true))
        .all(db)
        .await?;
    let people: HashMap<UserId, User> = rows
        .into_iter()
        .map(|row| User::from_row(row).map(|u| (u.id, u)))
        .collect::<Result<_, _>>()?;
    let mut out: HashMap<SchoolId, Vec<User>> = HashMap::new();
    for link in links {
        if let Some(user) = people.get(&UserId::from_uuid(link.user_id)) {
            out.entry(SchoolId::from_uuid(link.school_id))
                .or_default()
                .push(user.clone());
        }
    }
    for users in out.values_mut() {
        users.sort_by(|a, b| a.email.cmp(&b.email));
    }
    Ok(out)
}

/// The active users with these (lower-cased) emails, by email: which attendees of a booking
/// are Trellis users, so their messages reach their inbox too.
pub async fn active_by_emails(
    db: &impl sea_orm::ConnectionTrait,
    emails: &[String],
) -> Result<HashMap<String, User>, DomainError> {
    let rows = users::Entity::find()
        .filter(users::Column::Email.is_in(emails.iter().map(|e| e.trim().to_lowercase())))
        .filter(users::Column::Active.eq(true))
        .all(db)
        .await?;
    rows.into_iter()
        .map(|row| User::from_row(row).map(|u| (u.email.clone(), u)))
        .collect()
}

/// The active user with this email, for `trellis token`.
pub async fn find_active_by_email(
    db: &DatabaseConnection,
    email: &str,
) -> Result<Option<User>, DomainError> {
    users::Entity::find()
        .filter(users::Column::Email.eq(email.trim().to_lowercase()))
        .filter(users::Column::Active.eq(true))
        .one(db)
        .await?
        .map(User::from_row)
        .transpose()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_are_lowercased_and_checked() {
        assert_eq!(
            parse_email(" Head@Holly-Park.Example ").ok().as_deref(),
            Some("head@holly-park.example")
        );
        for bad in [
            "",
            "head",
            "head@",
            "@x.example",
            "a b@x.example",
            "a@b@c.example",
            "a@localhost",
        ] {
            assert!(parse_email(bad).is_err(), "{bad}");
        }
    }
}
