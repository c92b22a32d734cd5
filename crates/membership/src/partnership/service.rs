//! Reading and changing partnerships and their membership.

use std::collections::HashMap;

use chrono::{DateTime, NaiveDate, Utc};
use kernel::BeginWrite as _;
use kernel::{
    Actor, Clock, DomainError, ErrorCode, PartnershipId, Permission, Problems, SchoolId,
    like_contains, search_text,
};
use sea_orm::sea_query::{Expr, ExprTrait, Func, LikeExpr};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, DatabaseConnection, EntityTrait, PaginatorTrait, QueryFilter,
    QuerySelect, Set,
};

use super::entity::{members, partnerships};
use super::types::{MemberRole, PartnershipKind};
use crate::keyset::{NameKey, Page, PageArgs, fetch_page};
use crate::school::CorruptRow;
use crate::school::entity::schools;
use crate::validate::{is_unique_violation, required_text};

/// A partnership as the rest of Trellis sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Partnership {
    pub id: PartnershipId,
    pub name: String,
    pub kind: PartnershipKind,
    pub area: String,
    pub description: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl Partnership {
    #[must_use]
    pub fn sort_key(&self) -> NameKey {
        (self.name.clone(), self.id.as_uuid())
    }

    fn from_row(row: partnerships::Model) -> Result<Self, DomainError> {
        Ok(Self {
            id: PartnershipId::from_uuid(row.id),
            kind: row.kind.parse().map_err(|_| {
                DomainError::internal(CorruptRow(format!("partnership {} kind", row.id)))
            })?,
            name: row.name,
            area: row.area,
            description: row.description,
            created_at: row.created_at,
            updated_at: row.updated_at,
        })
    }
}

/// One school's place in one partnership.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    pub partnership_id: PartnershipId,
    pub school_id: SchoolId,
    pub role: MemberRole,
    pub joined_on: Option<NaiveDate>,
    /// The other side's name and id: what lists of members (by school name) and of a school's
    /// partnerships (by partnership name) are sorted and paged by.
    pub sort_key: NameKey,
}

fn member_from_row(row: &members::Model, sort_key: NameKey) -> Result<Member, DomainError> {
    Ok(Member {
        partnership_id: PartnershipId::from_uuid(row.partnership_id),
        school_id: SchoolId::from_uuid(row.school_id),
        role: row
            .role
            .parse()
            .map_err(|_| DomainError::internal(CorruptRow(format!("member role {}", row.role))))?,
        joined_on: row.joined_on,
        sort_key,
    })
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewPartnership {
    pub name: String,
    pub kind: PartnershipKind,
    pub area: String,
    pub description: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PartnershipChanges {
    pub name: Option<String>,
    pub kind: Option<PartnershipKind>,
    pub area: Option<String>,
    pub description: Option<String>,
}

/// Narrows the partnership listing.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PartnershipFilter {
    pub kinds: Vec<PartnershipKind>,
    pub name_contains: Option<String>,
}

const NAME_MAX: usize = 200;
const AREA_MAX: usize = 200;
const DESCRIPTION_MAX: usize = 4000;

fn apply_filter(
    mut select: sea_orm::Select<partnerships::Entity>,
    filter: &PartnershipFilter,
) -> Result<sea_orm::Select<partnerships::Entity>, DomainError> {
    if !filter.kinds.is_empty() {
        select = select
            .filter(partnerships::Column::Kind.is_in(filter.kinds.iter().map(|k| k.as_str())));
    }
    if let Some(text) = search_text("nameContains", filter.name_contains.as_deref())? {
        select = select.filter(
            Expr::expr(Func::lower(Expr::col(partnerships::Column::Name)))
                .like(LikeExpr::new(like_contains(&text)).escape('\\')),
        );
    }
    Ok(select)
}

pub async fn list(
    db: &DatabaseConnection,
    actor: &Actor,
    filter: &PartnershipFilter,
    args: &PageArgs<NameKey>,
) -> Result<Page<Partnership>, DomainError> {
    actor.require(Permission::ReadDirectory)?;
    let select = apply_filter(partnerships::Entity::find(), filter)?;
    let page = fetch_page(
        db,
        select,
        partnerships::Column::Name,
        partnerships::Column::Id,
        args,
    )
    .await?;
    let items = page
        .items
        .into_iter()
        .map(Partnership::from_row)
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Page {
        items,
        has_next_page: page.has_next_page,
        has_previous_page: page.has_previous_page,
    })
}

pub async fn count(
    db: &DatabaseConnection,
    actor: &Actor,
    filter: &PartnershipFilter,
) -> Result<u64, DomainError> {
    actor.require(Permission::ReadDirectory)?;
    Ok(apply_filter(partnerships::Entity::find(), filter)?
        .count(db)
        .await?)
}

pub async fn by_ids(
    db: &DatabaseConnection,
    ids: &[PartnershipId],
) -> Result<HashMap<PartnershipId, Partnership>, DomainError> {
    let rows = partnerships::Entity::find()
        .filter(partnerships::Column::Id.is_in(ids.iter().map(PartnershipId::as_uuid)))
        .all(db)
        .await?;
    rows.into_iter()
        .map(|row| Partnership::from_row(row).map(|p| (p.id, p)))
        .collect()
}

/// Every member of each partnership, sorted by school name; one statement for the batch.
pub async fn members_of(
    db: &DatabaseConnection,
    ids: &[PartnershipId],
) -> Result<HashMap<PartnershipId, Vec<Member>>, DomainError> {
    let rows = members::Entity::find()
        .filter(members::Column::PartnershipId.is_in(ids.iter().map(PartnershipId::as_uuid)))
        .find_also_related(schools::Entity)
        .all(db)
        .await?;
    let mut out: HashMap<PartnershipId, Vec<Member>> = HashMap::new();
    for (row, school) in rows {
        let school = school
            .ok_or_else(|| DomainError::internal(CorruptRow("member without school".into())))?;
        let member = member_from_row(&row, (school.name, school.id))?;
        out.entry(member.partnership_id).or_default().push(member);
    }
    for list in out.values_mut() {
        list.sort_by(|a, b| a.sort_key.cmp(&b.sort_key));
    }
    Ok(out)
}

/// A school's place in a partnership, with the partnership: the statement that finds the
/// place reads the partnership's row anyway (its name is what the list is sorted by), so
/// the caller need not read it again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SchoolPartnership {
    pub member: Member,
    pub partnership: Partnership,
}

/// Every partnership each school belongs to, sorted by partnership name; one statement.
pub async fn memberships_of(
    db: &DatabaseConnection,
    schools: &[SchoolId],
) -> Result<HashMap<SchoolId, Vec<SchoolPartnership>>, DomainError> {
    let rows = members::Entity::find()
        .filter(members::Column::SchoolId.is_in(schools.iter().map(SchoolId::as_uuid)))
        .find_also_related(partnerships::Entity)
        .all(db)
        .await?;
    let mut out: HashMap<SchoolId, Vec<SchoolPartnership>> = HashMap::new();
    for (row, partnership) in rows {
        let partnership = partnership.ok_or_else(|| {
            DomainError::internal(CorruptRow("member without partnership".into()))
        })?;
        let partnership = Partnership::from_row(partnership)?;
        let member = member_from_row(&row, partnership.sort_key())?;
        out.entry(member.school_id)
            .or_default()
            .push(SchoolPartnership {
                member,
                partnership,
            });
    }
    for list in out.values_mut() {
        list.sort_by(|a, b| a.member.sort_key.cmp(&b.member.sort_key));
    }
    Ok(out)
}

/// The lead school of each partnership that has one.
pub async fn leads_of(
    db: &DatabaseConnection,
    ids: &[PartnershipId],
) -> Result<HashMap<PartnershipId, SchoolId>, DomainError> {
    let rows = members::Entity::find()
        .filter(members::Column::PartnershipId.is_in(ids.iter().map(PartnershipId::as_uuid)))
        .filter(members::Column::Role.eq(MemberRole::Lead.as_str()))
        .all(db)
        .await?;
    Ok(rows
        .into_iter()
        .map(|r| {
            (
                PartnershipId::from_uuid(r.partnership_id),
                SchoolId::from_uuid(r.school_id),
            )
        })
        .collect())
}

async fn name_taken(
    db: &impl sea_orm::ConnectionTrait,
    name: &str,
    except: Option<PartnershipId>,
) -> Result<bool, DomainError> {
    let mut q = partnerships::Entity::find().filter(partnerships::Column::Name.eq(name));
    if let Some(id) = except {
        q = q.filter(partnerships::Column::Id.ne(id.as_uuid()));
    }
    Ok(q.count(db).await? > 0)
}

pub async fn create(
    db: &DatabaseConnection,
    clock: &dyn Clock,
    actor: &Actor,
    input: NewPartnership,
) -> Result<Partnership, DomainError> {
    actor.require(Permission::ManageDirectory)?;
    let mut problems = Problems::new();
    let name = problems.check(required_text("name", &input.name, NAME_MAX));
    let area = problems.check(required_text("area", &input.area, AREA_MAX));
    let description = input.description.trim().to_owned();
    if description.chars().count() > DESCRIPTION_MAX {
        problems.add(
            "description",
            ErrorCode::TooLong,
            format!("must be at most {DESCRIPTION_MAX} characters"),
        );
    }
    if let Some(name) = &name
        && name_taken(db, name, None).await?
    {
        problems.add(
            "name",
            ErrorCode::Taken,
            "another partnership has this name",
        );
    }
    let (name, area) = problems.finish_with((name, area))?;
    let now = clock.now();
    let row = partnerships::ActiveModel {
        id: Set(PartnershipId::new().as_uuid()),
        name: Set(name),
        kind: Set(input.kind.as_str().to_owned()),
        area: Set(area),
        description: Set(description),
        created_at: Set(now),
        updated_at: Set(now),
    };
    match row.insert(db).await {
        Ok(row) => Partnership::from_row(row),
        Err(err) if is_unique_violation(&err) => Err(DomainError::invalid(
            "name",
            ErrorCode::Taken,
            "another partnership has this name",
        )),
        Err(err) => Err(err.into()),
    }
}

pub async fn update(
    db: &DatabaseConnection,
    clock: &dyn Clock,
    actor: &Actor,
    id: PartnershipId,
    changes: PartnershipChanges,
) -> Result<Partnership, DomainError> {
    actor.require(Permission::ManageDirectory)?;
    let mut problems = Problems::new();
    let name = changes
        .name
        .as_deref()
        .and_then(|n| problems.check(required_text("name", n, NAME_MAX)));
    let area = changes
        .area
        .as_deref()
        .and_then(|a| problems.check(required_text("area", a, AREA_MAX)));
    let description = changes.description.map(|d| d.trim().to_owned());
    if description
        .as_ref()
        .is_some_and(|d| d.chars().count() > DESCRIPTION_MAX)
    {
        problems.add(
            "description",
            ErrorCode::TooLong,
            format!("must be at most {DESCRIPTION_MAX} characters"),
        );
    }
    if let Some(name) = &name
        && name_taken(db, name, Some(id)).await?
    {
        problems.add(
            "name",
            ErrorCode::Taken,
            "another partnership has this name",
        );
    }
    problems.finish()?;
    let existing = partnerships::Entity::find_by_id(id.as_uuid())
        .one(db)
        .await?
        .ok_or(DomainError::NotFound {
            entity: "Partnership",
        })?;
    let mut row: partnerships::ActiveModel = existing.into();
    if let Some(name) = name {
        row.name = Set(name);
    }
    if let Some(kind) = changes.kind {
        row.kind = Set(kind.as_str().to_owned());
    }
    if let Some(area) = area {
        row.area = Set(area);
    }
    if let Some(description) = description {
        row.description = Set(description);
    }
    row.updated_at = Set(clock.now());
    match row.update(db).await {
        Ok(row) => Partnership::from_row(row),
        Err(err) if is_unique_violation(&err) => Err(DomainError::invalid(
            "name",
            ErrorCode::Taken,
            "another partnership has this name",
        )),
        Err(err) => Err(err.into()),
    }
}

/// A school joining (or its place changing in) a partnership.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberInput {
    pub partnership: PartnershipId,
    pub school: SchoolId,
    pub role: MemberRole,
    pub joined_on: Option<NaiveDate>,
}

/// Whether the change adds a member or changes an existing one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MemberChange {
    Add,
    Update,
}

/// Adds a school to a partnership, or changes its role; one lead school at most.
pub async fn put_member(
    db: &DatabaseConnection,
    clock: &dyn Clock,
    actor: &Actor,
    input: MemberInput,
    change: MemberChange,
) -> Result<Partnership, DomainError> {
    actor.require(Permission::ManageDirectory)?;
    if let Some(d) = input.joined_on {
        kernel::dates::in_window("joinedOn", d).map_err(|e| DomainError::Invalid(vec![e]))?;
    }
    if input.joined_on.is_some_and(|d| d > clock.today()) {
        return Err(DomainError::invalid(
            "joinedOn",
            ErrorCode::OutOfRange,
            "joining date is in the future",
        ));
    }
    let txn = db.begin_write().await?;
    let partnership = partnerships::Entity::find_by_id(input.partnership.as_uuid())
        .lock_exclusive()
        .one(&txn)
        .await?
        .ok_or_else(|| {
            DomainError::invalid("partnershipId", ErrorCode::NotFound, "no such partnership")
        })?;
    if schools::Entity::find_by_id(input.school.as_uuid())
        .count(&txn)
        .await?
        == 0
    {
        return Err(DomainError::invalid(
            "schoolId",
            ErrorCode::NotFound,
            "no such school",
        ));
    }
    let existing =
        members::Entity::find_by_id((input.partnership.as_uuid(), input.school.as_uuid()))
            .one(&txn)
            .await?;
    match (change, &existing) {
        (MemberChange::Add, Some(_)) => {
            return Err(DomainError::invalid(
                "schoolId",
                ErrorCode::Taken,
                "the school is already a member",
            ));
        }
        (MemberChange::Update, None) => {
            return Err(DomainError::invalid(
                "schoolId",
                ErrorCode::NotFound,
                "the school is not a member",
            ));
        }
        _ => {}
    }
    if input.role == MemberRole::Lead {
        let other_lead = members::Entity::find()
            .filter(members::Column::PartnershipId.eq(input.partnership.as_uuid()))
            .filter(members::Column::Role.eq(MemberRole::Lead.as_str()))
            .filter(members::Column::SchoolId.ne(input.school.as_uuid()))
            .count(&txn)
            .await?;
        if other_lead > 0 {
            return Err(DomainError::invalid(
                "role",
                ErrorCode::Conflict,
                "the partnership already has a lead school; change that school's role first",
            ));
        }
    }
    let row = members::ActiveModel {
        partnership_id: Set(input.partnership.as_uuid()),
        school_id: Set(input.school.as_uuid()),
        role: Set(input.role.as_str().to_owned()),
        joined_on: Set(input
            .joined_on
            .or(existing.as_ref().and_then(|e| e.joined_on))),
    };
    let result = if existing.is_some() {
        row.update(&txn).await.map(|_| ())
    } else {
        row.insert(&txn).await.map(|_| ())
    };
    match result {
        Ok(()) => {}
        Err(err) if is_unique_violation(&err) => {
            return Err(DomainError::invalid(
                "role",
                ErrorCode::Conflict,
                "the partnership already has a lead school",
            ));
        }
        Err(err) => return Err(err.into()),
    }
    touch(&txn, partnership.id, clock).await?;
    txn.commit().await?;
    by_ids(db, &[input.partnership])
        .await?
        .remove(&input.partnership)
        .ok_or(DomainError::NotFound {
            entity: "Partnership",
        })
}

/// Removes a school from a partnership.
pub async fn remove_member(
    db: &DatabaseConnection,
    clock: &dyn Clock,
    actor: &Actor,
    partnership: PartnershipId,
    school: SchoolId,
) -> Result<Partnership, DomainError> {
    actor.require(Permission::ManageDirectory)?;
    let txn = db.begin_write().await?;
    let deleted = members::Entity::delete_by_id((partnership.as_uuid(), school.as_uuid()))
        .exec(&txn)
        .await?;
    if deleted.rows_affected == 0 {
        return Err(DomainError::invalid(
            "schoolId",
            ErrorCode::NotFound,
            "the school is not a member",
        ));
    }
    touch(&txn, partnership.as_uuid(), clock).await?;
    txn.commit().await?;
    by_ids(db, &[partnership])
        .await?
        .remove(&partnership)
        .ok_or(DomainError::NotFound {
            entity: "Partnership",
        })
}

async fn touch(
    db: &impl sea_orm::ConnectionTrait,
    id: uuid::Uuid,
    clock: &dyn Clock,
) -> Result<(), DomainError> {
    partnerships::Entity::update_many()
        .col_expr(partnerships::Column::UpdatedAt, Expr::value(clock.now()))
        .filter(partnerships::Column::Id.eq(id))
        .exec(db)
        .await?;
    Ok(())
}
