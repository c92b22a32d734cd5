//! Reading charges back: batches for the gateway's loaders, the pending list, the preview.

use std::collections::{BTreeMap, HashMap};

use kernel::{AcademicYear, Actor, BillingAccountId, ChargeId, DomainError, Money, Permission};
use kernel::{SchoolId, Term};
use membership::{Page, PageArgs, fetch_page};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder};
use uuid::Uuid;

use super::entity::charges;
use super::types::{Charge, ChargeStatus, term_str};
use crate::ledger::DateKey;
use crate::ledger::accounts::{schools_of_account, visible_account_ids};
use crate::ledger::support::Sight;

/// Narrows the pending list. Empty means every pending charge the actor may see.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ChargeFilter {
    pub account_id: Option<BillingAccountId>,
    pub school_id: Option<SchoolId>,
    pub year: Option<AcademicYear>,
    /// Only with `year`: a term is a term of a year.
    pub term: Option<Term>,
}

/// One account's draft termly invoice: the pending charges the next issue will bill it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountPreview {
    pub account_id: BillingAccountId,
    /// In invoice-line order (by day of booking).
    pub charges: Vec<Charge>,
    pub net: Money,
    pub vat: Money,
    pub total: Money,
}

fn from_rows(rows: Vec<charges::Model>) -> Result<Vec<Charge>, DomainError> {
    rows.into_iter().map(Charge::from_row).collect()
}

/// Each booking's charge, for batch loading (one statement). Bookings without one are absent.
pub async fn charges_by_bookings<C: ConnectionTrait>(
    db: &C,
    bookings: &[Uuid],
) -> Result<HashMap<Uuid, Charge>, DomainError> {
    let rows = charges::Entity::find()
        .filter(charges::Column::BookingId.is_in(bookings.iter().copied()))
        .all(db)
        .await?;
    Ok(from_rows(rows)?
        .into_iter()
        .map(|c| (c.booking_id, c))
        .collect())
}

/// Charges by id, for batch loading (one statement). Missing ids are absent.
pub async fn charges_by_ids<C: ConnectionTrait>(
    db: &C,
    ids: &[ChargeId],
) -> Result<HashMap<ChargeId, Charge>, DomainError> {
    let rows = charges::Entity::find()
        .filter(charges::Column::Id.is_in(ids.iter().map(ChargeId::as_uuid)))
        .all(db)
        .await?;
    Ok(from_rows(rows)?.into_iter().map(|c| (c.id, c)).collect())
}

/// Each account's pending charges by day of booking, for batch loading (one statement).
pub async fn pending_by_account<C: ConnectionTrait>(
    db: &C,
    accounts: &[BillingAccountId],
) -> Result<HashMap<BillingAccountId, Vec<Charge>>, DomainError> {
    let rows = charges::Entity::find()
        .filter(charges::Column::AccountId.is_in(accounts.iter().map(BillingAccountId::as_uuid)))
        .filter(charges::Column::Status.eq(ChargeStatus::Pending.as_str()))
        .order_by_asc(charges::Column::OccurredOn)
        .order_by_asc(charges::Column::Id)
        .all(db)
        .await?;
    let mut out: HashMap<BillingAccountId, Vec<Charge>> = HashMap::new();
    for charge in from_rows(rows)? {
        out.entry(charge.account_id).or_default().push(charge);
    }
    Ok(out)
}

/// One charge, if the actor may see its account.
pub async fn charge<C: ConnectionTrait>(
    db: &C,
    actor: &Actor,
    id: ChargeId,
) -> Result<Charge, DomainError> {
    let sight = Sight::of(actor)?;
    let row = charges::Entity::find_by_id(id.as_uuid())
        .one(db)
        .await?
        .ok_or(DomainError::NotFound { entity: "Charge" })?;
    if !sight.sees(&schools_of_account(db, row.account_id).await?) {
        return Err(DomainError::NotFound { entity: "Charge" });
    }
    Charge::from_row(row)
}

/// A page of the pending charges the actor may see (a school user: their own accounts'), by
/// day of booking.
pub async fn pending_charges<C: ConnectionTrait>(
    db: &C,
    actor: &Actor,
    filter: &ChargeFilter,
    args: &PageArgs<DateKey>,
) -> Result<Page<Charge>, DomainError> {
    let sight = Sight::of(actor)?;
    let mut select =
        charges::Entity::find().filter(charges::Column::Status.eq(ChargeStatus::Pending.as_str()));
    if let Some(ids) = visible_account_ids(db, &sight).await? {
        select = select.filter(charges::Column::AccountId.is_in(ids));
    }
    if let Some(account) = filter.account_id {
        select = select.filter(charges::Column::AccountId.eq(account.as_uuid()));
    }
    if let Some(school) = filter.school_id {
        select = select.filter(charges::Column::SchoolId.eq(school.as_uuid()));
    }
    if let Some(year) = filter.year {
        select = select.filter(charges::Column::AcademicYear.eq(year.start_year()));
    }
    if let Some(term) = filter.term {
        select = select.filter(charges::Column::Term.eq(term_str(term)));
    }
    let page = fetch_page(
        db,
        select,
        charges::Column::OccurredOn,
        charges::Column::Id,
        args,
    )
    .await?;
    Ok(Page {
        items: from_rows(page.items)?,
        has_next_page: page.has_next_page,
        has_previous_page: page.has_previous_page,
    })
}

/// The draft of a term's booking invoices: its pending charges grouped per account, as
/// [`super::issue_term_invoices`] would bill them now. Finance and admins.
pub async fn term_preview<C: ConnectionTrait>(
    db: &C,
    actor: &Actor,
    year: AcademicYear,
    term: Term,
) -> Result<Vec<AccountPreview>, DomainError> {
    actor.require(Permission::ManageBilling)?;
    let rows = charges::Entity::find()
        .filter(charges::Column::Status.eq(ChargeStatus::Pending.as_str()))
        .filter(charges::Column::AcademicYear.eq(year.start_year()))
        .filter(charges::Column::Term.eq(term_str(term)))
        .order_by_asc(charges::Column::OccurredOn)
        .order_by_asc(charges::Column::Id)
        .all(db)
        .await?;
    let mut grouped: BTreeMap<BillingAccountId, Vec<Charge>> = BTreeMap::new();
    for charge in from_rows(rows)? {
        grouped.entry(charge.account_id).or_default().push(charge);
    }
    Ok(grouped
        .into_iter()
        .map(|(account_id, charges)| {
            let sum = |f: fn(&Charge) -> Money| {
                Money::from_pence(charges.iter().map(|c| f(c).pence()).sum())
            };
            AccountPreview {
                account_id,
                net: sum(|c| c.net),
                vat: sum(|c| c.vat),
                total: sum(|c| c.total),
                charges,
            }
        })
        .collect())
}
