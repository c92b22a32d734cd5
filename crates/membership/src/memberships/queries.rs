//! Reading memberships: one record, batches for the gateway's loaders, a year's list.
//!
//! A read with no row limit (one record, the loaders' batches) joins the principles to the
//! memberships and costs one statement; a school's memberships join their tiers too. A page
//! cannot: a limit on the joined rows would cut a membership's principles off, so a page
//! reads its principles in one extra statement, two statements for a hundred memberships,
//! not a hundred and one.

use std::collections::HashMap;

use kernel::{AcademicYear, Actor, DomainError, MembershipId, Permission, SchoolId};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait, Order, PaginatorTrait,
    QueryFilter, QueryOrder, QuerySelect, Select,
};

use super::entity::{memberships, principles, tiers};
use super::types::{
    Membership, MembershipFilter, MembershipStatus, MembershipWithTier, PrincipleAcceptance, Tier,
};
use crate::keyset::{NameKey, Page, PageArgs};
use crate::school::CorruptRow;

/// Which schools' memberships an actor may read.
enum ReadScope {
    All,
    Schools(Vec<SchoolId>),
}

impl ReadScope {
    /// Partnership staff and integrators holding `membership:read` read every school's
    /// memberships; school roles their own schools' only.
    fn of(actor: &Actor) -> Result<Self, DomainError> {
        actor.require(Permission::ReadMemberships)?;
        Ok(match actor {
            Actor::User(user) if !user.role.is_partnership_staff() => {
                Self::Schools(user.schools.clone())
            }
            Actor::User(_) | Actor::ApiKey(_) | Actor::System => Self::All,
        })
    }

    fn allows(&self, school: SchoolId) -> bool {
        match self {
            Self::All => true,
            Self::Schools(schools) => schools.contains(&school),
        }
    }

    fn apply(&self, select: Select<memberships::Entity>) -> Select<memberships::Entity> {
        match self {
            Self::All => select,
            Self::Schools(schools) => select
                .filter(memberships::Column::SchoolId.is_in(schools.iter().map(SchoolId::as_uuid))),
        }
    }
}

/// Whether `actor` may read `school`'s memberships: its own people, partnership staff and
/// `membership:read` keys. [`crate::visibility`]'s checked reads apply it.
#[must_use]
pub fn may_read(actor: &Actor, school: SchoolId) -> bool {
    ReadScope::of(actor).is_ok_and(|scope| scope.allows(school))
}

/// Turns rows into memberships, loading all their principles in one statement.
pub(super) async fn hydrate<C: ConnectionTrait>(
    db: &C,
    rows: Vec<memberships::Model>,
) -> Result<Vec<Membership>, DomainError> {
    if rows.is_empty() {
        return Ok(Vec::new());
    }
    let accepted = principles::Entity::find()
        .filter(principles::Column::MembershipId.is_in(rows.iter().map(|r| r.id)))
        .all(db)
        .await?;
    let mut by_membership: HashMap<uuid::Uuid, Vec<PrincipleAcceptance>> = HashMap::new();
    for row in &accepted {
        by_membership
            .entry(row.membership_id)
            .or_default()
            .push(PrincipleAcceptance::from_row(row)?);
    }
    rows.into_iter()
        .map(|row| {
            let accepted = by_membership.remove(&row.id).unwrap_or_default();
            Membership::from_row(row, accepted)
        })
        .collect()
}

/// One membership, whoever may see it: for services that have already checked.
pub(super) async fn load<C: ConnectionTrait>(
    db: &C,
    id: MembershipId,
) -> Result<Membership, DomainError> {
    with_principles(db, memberships::Entity::find_by_id(id.as_uuid()))
        .await?
        .pop()
        .ok_or(DomainError::NotFound {
            entity: "Membership",
        })
}

/// Every membership `select` finds with its principles, in one statement (a left join).
/// Only for a select with no limit or offset, which would count the joined rows: a page
/// reads its rows and then [`hydrate`]s them.
async fn with_principles<C: ConnectionTrait>(
    db: &C,
    select: Select<memberships::Entity>,
) -> Result<Vec<Membership>, DomainError> {
    select
        .find_with_related(principles::Entity)
        .all(db)
        .await?
        .into_iter()
        .map(|(row, accepted)| {
            let accepted = accepted
                .iter()
                .map(PrincipleAcceptance::from_row)
                .collect::<Result<_, _>>()?;
            Membership::from_row(row, accepted)
        })
        .collect()
}

/// A membership the actor may read; `NotFound` when it does not exist *or* belongs to a
/// school the actor may not see, so ids of other schools' records reveal nothing.
pub async fn get(
    db: &DatabaseConnection,
    actor: &Actor,
    id: MembershipId,
) -> Result<Membership, DomainError> {
    let scope = ReadScope::of(actor)?;
    let membership = load(db, id).await?;
    if scope.allows(membership.school_id) {
        Ok(membership)
    } else {
        Err(DomainError::NotFound {
            entity: "Membership",
        })
    }
}

/// Memberships by id, for batch loading. Missing ids are absent from the map.
pub async fn by_ids<C: ConnectionTrait>(
    db: &C,
    ids: &[MembershipId],
) -> Result<HashMap<MembershipId, Membership>, DomainError> {
    let select = memberships::Entity::find()
        .filter(memberships::Column::Id.is_in(ids.iter().map(MembershipId::as_uuid)));
    Ok(with_principles(db, select)
        .await?
        .into_iter()
        .map(|m| (m.id, m))
        .collect())
}

/// Each school's memberships, newest year first.
pub async fn of_schools(
    db: &DatabaseConnection,
    ids: &[SchoolId],
) -> Result<HashMap<SchoolId, Vec<Membership>>, DomainError> {
    let mut out: HashMap<SchoolId, Vec<Membership>> = HashMap::new();
    for membership in with_principles(db, of_schools_newest_first(ids)).await? {
        out.entry(membership.school_id)
            .or_default()
            .push(membership);
    }
    Ok(out)
}

/// [`of_schools`], each membership with its tier, still in one statement (the tier is
/// left-joined too): what a school's page shows, where `tier` would otherwise cost a
/// statement of its own.
pub async fn of_schools_with_tiers(
    db: &DatabaseConnection,
    ids: &[SchoolId],
) -> Result<HashMap<SchoolId, Vec<MembershipWithTier>>, DomainError> {
    let rows = of_schools_newest_first(ids)
        .find_also_related(tiers::Entity)
        .find_also_related(principles::Entity)
        .consolidate()
        .all(db)
        .await?;
    let mut out: HashMap<SchoolId, Vec<MembershipWithTier>> = HashMap::new();
    for (row, tier, accepted) in rows {
        // `tier_id` is a non-null foreign key, so the left join always finds one.
        let tier = tier.into_iter().next().map(Tier::from_row).ok_or_else(|| {
            DomainError::internal(CorruptRow(format!("membership {} has no tier", row.id)))
        })?;
        let accepted = accepted
            .iter()
            .map(PrincipleAcceptance::from_row)
            .collect::<Result<_, _>>()?;
        let membership = Membership::from_row(row, accepted)?;
        out.entry(membership.school_id)
            .or_default()
            .push(MembershipWithTier { membership, tier });
    }
    Ok(out)
}

fn of_schools_newest_first(ids: &[SchoolId]) -> Select<memberships::Entity> {
    memberships::Entity::find()
        .filter(memberships::Column::SchoolId.is_in(ids.iter().map(SchoolId::as_uuid)))
        .order_by_desc(memberships::Column::AcademicYear)
}

fn of_year(year: AcademicYear, filter: &MembershipFilter) -> Select<memberships::Entity> {
    let mut select =
        memberships::Entity::find().filter(memberships::Column::AcademicYear.eq(year.start_year()));
    if let Some(status) = filter.status {
        select = select.filter(memberships::Column::Status.eq(status.as_str()));
    }
    if let Some(tier) = filter.tier_id {
        select = select.filter(memberships::Column::TierId.eq(tier.as_uuid()));
    }
    select
}

/// One page of a year's memberships in creation order (see [`Membership::sort_key`]); school
/// roles see their own schools' rows only.
///
/// Ordered by id rather than school name: the index `(year, status, id)` serves it without a
/// join, and a finance list is as often sorted by status as by name. A caller wanting names
/// resolves the schools through their loader.
pub async fn for_year(
    db: &DatabaseConnection,
    actor: &Actor,
    year: AcademicYear,
    filter: &MembershipFilter,
    args: &PageArgs<NameKey>,
) -> Result<Page<Membership>, DomainError> {
    let scope = ReadScope::of(actor)?;
    let mut select = scope.apply(of_year(year, filter));
    if let Some((_, after)) = &args.after {
        select = select.filter(memberships::Column::Id.gt(*after));
    }
    if let Some((_, before)) = &args.before {
        select = select.filter(memberships::Column::Id.lt(*before));
    }
    let order = if args.backward {
        Order::Desc
    } else {
        Order::Asc
    };
    let mut rows = select
        .order_by(memberships::Column::Id, order)
        .limit(args.limit + 1)
        .all(db)
        .await?;
    let limit = usize::try_from(args.limit).unwrap_or(usize::MAX);
    let more = rows.len() > limit;
    rows.truncate(limit);
    if args.backward {
        rows.reverse();
    }
    let items = hydrate(db, rows).await?;
    // As in the rest of the API, the far side's flag is "a cursor was given" (Relay allows
    // it where the exact answer would cost a query).
    Ok(if args.backward {
        Page {
            items,
            has_next_page: args.before.is_some(),
            has_previous_page: more,
        }
    } else {
        Page {
            items,
            has_next_page: more,
            has_previous_page: args.after.is_some(),
        }
    })
}

/// How many of a year's memberships [`for_year`] would list in all.
pub async fn count_for_year(
    db: &DatabaseConnection,
    actor: &Actor,
    year: AcademicYear,
    filter: &MembershipFilter,
) -> Result<u64, DomainError> {
    let scope = ReadScope::of(actor)?;
    Ok(scope.apply(of_year(year, filter)).count(db).await?)
}

/// Every active membership of a year, for the invoicing run. No actor: only Trellis's own
/// jobs call this, and they bill every school.
pub async fn active_for_year(
    db: &DatabaseConnection,
    year: AcademicYear,
) -> Result<Vec<Membership>, DomainError> {
    let rows = of_year(
        year,
        &MembershipFilter {
            status: Some(MembershipStatus::Active),
            tier_id: None,
        },
    )
    .order_by_asc(memberships::Column::Id)
    .all(db)
    .await?;
    hydrate(db, rows).await
}
