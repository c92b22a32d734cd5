//! What every ledger writer shares: finding the school's active membership, taking the
//! entitlement's lock, and writing an entry.

use chrono::{DateTime, NaiveDate, Utc};
use kernel::{
    AcademicYear, Actor, DomainError, ErrorCode, FieldError, OfferEntryId, OfferItemId, SchoolId,
    Term, UserId,
};
use membership::memberships::{Membership, MembershipStatus};
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait, QueryFilter,
    Set,
};

use crate::entity::{entitlements, entries};
use crate::entries::{EntryKind, term_name};

/// The school's ACTIVE membership of `year`, or the field error saying why there is none.
pub(crate) async fn active_membership(
    db: &DatabaseConnection,
    school: SchoolId,
    year: AcademicYear,
) -> Result<Result<Membership, FieldError>, DomainError> {
    let memberships = membership::memberships::of_schools(db, &[school])
        .await?
        .remove(&school)
        .unwrap_or_default();
    if memberships.is_empty() && membership::school::by_ids(db, &[school]).await?.is_empty() {
        return Ok(Err(FieldError::new(
            "schoolId",
            ErrorCode::NotFound,
            "no such school",
        )));
    }
    Ok(memberships
        .into_iter()
        .find(|m| m.year == year && m.status == MembershipStatus::Active)
        .ok_or_else(|| {
            FieldError::new(
                "schoolId",
                ErrorCode::Conflict,
                format!("the school has no active membership in {year}"),
            )
        }))
}

/// Takes the entitlement's lock for the rest of the transaction and returns it; `None` when
/// the school has no entitlement to the item that year.
///
/// The lock is a write (`version = version + 1`), made before the balance is read: on
/// PostgreSQL a row lock held to commit, so a second writer waits and then reads the first
/// one's entry; on SQLite the first write takes the database's writer lock. Either way two
/// usages of the last unit cannot both see it free.
pub(crate) async fn lock_entitlement<C: ConnectionTrait>(
    txn: &C,
    school: SchoolId,
    item: OfferItemId,
    year: AcademicYear,
) -> Result<Option<entitlements::Model>, DomainError> {
    let locked = matching(entitlements::Entity::update_many(), school, item, year)
        .col_expr(
            entitlements::Column::Version,
            Expr::col(entitlements::Column::Version).add(1),
        )
        .exec(txn)
        .await?;
    if locked.rows_affected == 0 {
        return Ok(None);
    }
    Ok(matching(entitlements::Entity::find(), school, item, year)
        .one(txn)
        .await?)
}

fn matching<Q: QueryFilter>(
    query: Q,
    school: SchoolId,
    item: OfferItemId,
    year: AcademicYear,
) -> Q {
    query
        .filter(entitlements::Column::SchoolId.eq(school.as_uuid()))
        .filter(entitlements::Column::ItemId.eq(item.as_uuid()))
        .filter(entitlements::Column::AcademicYear.eq(year.start_year()))
}

/// The error for an item that is not part of a school's offer.
pub(crate) fn not_entitled(year: AcademicYear) -> DomainError {
    DomainError::invalid(
        "itemId",
        ErrorCode::Conflict,
        format!("this item is not part of the school's offer for {year}"),
    )
}

/// An entry to write against a locked entitlement.
#[derive(Debug)]
pub(crate) struct EntryDraft {
    pub(crate) kind: EntryKind,
    pub(crate) quantity: i64,
    pub(crate) occurred_on: NaiveDate,
    pub(crate) reference: Option<String>,
    pub(crate) reason: Option<String>,
    pub(crate) reversal_of: Option<OfferEntryId>,
    pub(crate) recorded_by: Option<UserId>,
}

impl EntryDraft {
    pub(crate) fn row(
        self,
        entitlement: &entitlements::Model,
        now: DateTime<Utc>,
    ) -> entries::ActiveModel {
        entries::ActiveModel {
            id: Set(OfferEntryId::new().as_uuid()),
            entitlement_id: Set(entitlement.id),
            school_id: Set(entitlement.school_id),
            membership_id: Set(entitlement.membership_id),
            item_id: Set(entitlement.item_id),
            academic_year: Set(entitlement.academic_year),
            kind: Set(self.kind.as_str().to_owned()),
            quantity: Set(self.quantity),
            occurred_on: Set(self.occurred_on),
            term: Set(term_name(Term::containing(self.occurred_on)).to_owned()),
            reference: Set(self.reference),
            reason: Set(self.reason),
            reversal_of: Set(self.reversal_of.map(|id| id.as_uuid())),
            recorded_by: Set(self.recorded_by.map(|id| id.as_uuid())),
            created_at: Set(now),
        }
    }

    pub(crate) async fn insert<C: ConnectionTrait>(
        self,
        txn: &C,
        entitlement: &entitlements::Model,
        now: DateTime<Utc>,
    ) -> Result<entries::Model, sea_orm::DbErr> {
        self.row(entitlement, now).insert(txn).await
    }
}

/// The person behind a write, for `recorded_by`.
pub(crate) fn recorder(actor: &Actor) -> Option<UserId> {
    actor.as_user().map(|u| u.id)
}

/// `date` moved into `year` if it falls outside (an adjustment made after the year ended is
/// dated on its last day).
pub(crate) fn within(year: AcademicYear, date: NaiveDate) -> NaiveDate {
    date.clamp(year.first_day(), year.last_day())
}
