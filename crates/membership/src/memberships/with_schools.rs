//! Schools read with their memberships in one statement.
//!
//! A head's dashboard opens on their schools and shows each one's membership of the year; a
//! statement for the schools and then a batch for their memberships cost it a round trip
//! that this join saves (#18). Each school's rows come together (ordered by school), one per
//! membership and principle it accepted, so the school is decoded once and each membership
//! once; every model is read by column position (`kernel::persistence::by_position`).

use kernel::persistence::by_position::DecodeAt;
use kernel::persistence::joined_select_list;
use kernel::{DomainError, SchoolId};
use sea_orm::sea_query::{Alias, Condition, Expr, ExprTrait as _, JoinType};
use sea_orm::{
    ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect, QueryTrait,
};
use uuid::Uuid;

use super::entity::{memberships, principles, tiers};
use super::types::{Membership, MembershipWithTier, PrincipleAcceptance, Tier};
use crate::school::CorruptRow;
use crate::school::School;
use crate::school::entity::schools;

/// A school and its memberships with their tiers, newest year first.
pub type SchoolWithMemberships = (School, Vec<MembershipWithTier>);

/// The schools of `ids` in id order (unknown ids are left out), each with its memberships
/// newest year first, those of the schools in `readable` only (the others' lists are empty,
/// as a checked read leaves them): what `school::by_ids` and `of_schools_with_tiers` answer,
/// in one statement. No actor: `visibility::visible_schools_with_memberships` decides.
pub(crate) async fn schools_with_memberships<C: ConnectionTrait>(
    db: &C,
    ids: &[SchoolId],
    readable: &[SchoolId],
) -> Result<Vec<SchoolWithMemberships>, DomainError> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let mut select = schools::Entity::find()
        .filter(schools::Column::Id.is_in(ids.iter().map(SchoolId::as_uuid)))
        .order_by_asc(schools::Column::Id);
    let query = QuerySelect::query(&mut select);
    // A school none of whose memberships may be read joins none: the condition names only
    // the readable schools.
    query
        .join_as(
            JoinType::LeftJoin,
            memberships::Entity,
            Alias::new(MEMBERSHIP),
            Condition::all()
                .add(Expr::cust(format!("{MEMBERSHIP}.school_id = schools.id")))
                .add(
                    Expr::col((Alias::new(MEMBERSHIP), memberships::Column::SchoolId))
                        .is_in(readable.iter().map(SchoolId::as_uuid)),
                ),
        )
        .join_as(
            JoinType::LeftJoin,
            tiers::Entity,
            Alias::new(TIER),
            Expr::cust(format!("{TIER}.id = {MEMBERSHIP}.tier_id")),
        )
        .join_as(
            JoinType::LeftJoin,
            principles::Entity,
            Alias::new(PRINCIPLE),
            Expr::cust(format!("{PRINCIPLE}.membership_id = {MEMBERSHIP}.id")),
        )
        .expr(Expr::cust(joined_select_list::<memberships::Entity>(
            MEMBERSHIP, "jm_",
        )))
        .expr(Expr::cust(joined_select_list::<tiers::Entity>(TIER, "jt_")))
        .expr(Expr::cust(joined_select_list::<principles::Entity>(
            PRINCIPLE, "jp_",
        )))
        .order_by(
            (Alias::new(MEMBERSHIP), memberships::Column::AcademicYear),
            sea_orm::Order::Desc,
        )
        .order_by(
            (Alias::new(MEMBERSHIP), memberships::Column::Id),
            sea_orm::Order::Asc,
        );
    let rows = db
        .query_all_raw(select.build(db.get_database_backend()))
        .await?;

    // Where each model's columns start: the school's own, then each join's in the order
    // they were added above.
    let membership_at = <schools::Model as DecodeAt>::COLUMNS;
    let tier_at = membership_at + <memberships::Model as DecodeAt>::COLUMNS;
    let principle_at = tier_at + <tiers::Model as DecodeAt>::COLUMNS;

    let mut out: Vec<(School, Vec<Reading>)> = Vec::new();
    for row in rows {
        let school_id: Uuid = row.try_get_by_index(0)?;
        if out
            .last()
            .is_none_or(|(school, _)| school.id.as_uuid() != school_id)
        {
            let school = School::from_row(schools::Model::decode_at(&row, 0)?)?;
            out.push((school, Vec::new()));
        }
        let Some((_, readings)) = out.last_mut() else {
            continue;
        };
        let Some(membership) = memberships::Model::decode_optional_at(&row, membership_at)? else {
            continue;
        };
        if readings
            .last()
            .is_none_or(|r| r.membership.id != membership.id)
        {
            // `tier_id` is a non-null foreign key, so the join always finds one.
            let tier = tiers::Model::decode_optional_at(&row, tier_at)?.ok_or_else(|| {
                DomainError::internal(CorruptRow(format!(
                    "membership {} has no tier",
                    membership.id
                )))
            })?;
            readings.push(Reading {
                membership,
                tier,
                accepted: Vec::new(),
            });
        }
        if let (Some(reading), Some(principle)) = (
            readings.last_mut(),
            principles::Model::decode_optional_at(&row, principle_at)?,
        ) {
            reading
                .accepted
                .push(PrincipleAcceptance::from_row(&principle)?);
        }
    }
    out.into_iter()
        .map(|(school, readings)| {
            let memberships = readings
                .into_iter()
                .map(|r| {
                    Ok(MembershipWithTier {
                        membership: Membership::from_row(r.membership, r.accepted)?,
                        tier: Tier::from_row(r.tier),
                    })
                })
                .collect::<Result<_, DomainError>>()?;
            Ok((school, memberships))
        })
        .collect()
}

/// The aliases the memberships, their tiers and their principles are joined under.
const MEMBERSHIP: &str = "jm";
const TIER: &str = "jt";
const PRINCIPLE: &str = "jp";

/// A membership as read so far: its row, its tier, the principles of the rows seen.
struct Reading {
    membership: memberships::Model,
    tier: tiers::Model,
    accepted: Vec<PrincipleAcceptance>,
}
