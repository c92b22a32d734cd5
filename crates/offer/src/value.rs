//! The value statement: what a school used of its offer, valued at the traded price of the
//! equivalent service, per item and term. The fee it paid lives in billing, which this crate
//! may not use; the gateway sets the two side by side.

use kernel::{AcademicYear, Actor, DomainError, Money, OfferItemId, SchoolId, Term};
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter, QuerySelect};

use crate::entity::entries;
use crate::entries::{EntryKind, StoredTerm, term_name};
use crate::items::{OfferItem, items_by_ids};
use crate::support::{CorruptRow, require_sight, stored};

/// One item's use in one term, valued.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValueLine {
    pub item: OfferItem,
    pub term: Term,
    /// Units used, net of reversals.
    pub used: i64,
    /// `used × unit value`.
    pub value: Money,
}

/// What a school's use of its offer was worth in a year, or in one term of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValueStatement {
    pub school_id: SchoolId,
    pub year: AcademicYear,
    /// `None`: the whole year.
    pub term: Option<Term>,
    /// By term, then item name; items unused in a term are left out.
    pub lines: Vec<ValueLine>,
    pub total: Money,
}

const fn from_stored(term: StoredTerm) -> Term {
    match term {
        StoredTerm::Autumn => Term::Autumn,
        StoredTerm::Spring => Term::Spring,
        StoredTerm::Summer => Term::Summer,
    }
}

/// A school's value statement for a year or one term. Whoever may read the school's offer;
/// another school's, or one that does not exist, is `NotFound`. Three statements: the usage summed by item and term, and
/// the items.
pub async fn value_statement(
    db: &DatabaseConnection,
    actor: &Actor,
    school: SchoolId,
    year: AcademicYear,
    term: Option<Term>,
) -> Result<ValueStatement, DomainError> {
    require_sight(actor, school)?;
    // Partnership staff see every school, including ids of none: that is `NotFound` too, not
    // a statement about a school that does not exist.
    if membership::school::by_ids(db, &[school]).await?.is_empty() {
        return Err(DomainError::NotFound { entity: "School" });
    }
    let mut select = entries::Entity::find()
        .select_only()
        .column(entries::Column::ItemId)
        .column(entries::Column::Term)
        .column_as(Expr::cust("CAST(SUM(quantity) AS BIGINT)"), "total")
        .filter(entries::Column::SchoolId.eq(school.as_uuid()))
        .filter(entries::Column::AcademicYear.eq(year.start_year()))
        .filter(
            entries::Column::Kind.is_in([EntryKind::Usage.as_str(), EntryKind::Reversal.as_str()]),
        )
        .group_by(entries::Column::ItemId)
        .group_by(entries::Column::Term);
    if let Some(term) = term {
        select = select.filter(entries::Column::Term.eq(term_name(term)));
    }
    let sums: Vec<(uuid::Uuid, String, i64)> = select.into_tuple().all(db).await?;
    let ids: Vec<OfferItemId> = sums
        .iter()
        .map(|(item, _, _)| OfferItemId::from_uuid(*item))
        .collect();
    let items = items_by_ids(db, &ids).await?;
    let mut lines = Vec::new();
    let mut total = Money::zero();
    for (item_id, stored_term, sum) in sums {
        let used = -sum;
        if used == 0 {
            continue;
        }
        let item = items
            .get(&OfferItemId::from_uuid(item_id))
            .cloned()
            .ok_or_else(|| {
                DomainError::internal(CorruptRow(format!("offer entry of unknown item {item_id}")))
            })?;
        let value = item
            .unit_value
            .pence()
            .checked_mul(used)
            .map(Money::from_pence)
            .ok_or_else(|| DomainError::internal(kernel::MoneyError::Overflow))?;
        total = total.checked_add(value).map_err(DomainError::internal)?;
        lines.push(ValueLine {
            term: from_stored(stored("term", &stored_term)?),
            item,
            used,
            value,
        });
    }
    lines.sort_by(|a, b| {
        a.term
            .cmp(&b.term)
            .then_with(|| a.item.name.cmp(&b.item.name))
    });
    Ok(ValueStatement {
        school_id: school,
        year,
        term,
        lines,
        total,
    })
}
