//! Who may read the core offer, and checked reads that answer only what the caller may see.
//! The offer's items are a partnership-wide list; a school's ledger is its own people's and
//! partnership staff's.

use std::collections::HashMap;

use kernel::{Actor, DomainError, OfferEntryId, OfferItemId, Permission, SchoolId};
use sea_orm::DatabaseConnection;

use crate::entries::{LedgerEntry, entries_by_ids};
use crate::items::{OfferItem, items_by_ids};
use crate::support::Sight;

/// Whether `actor` may read `school`'s offer: its own people, partnership staff, and
/// `offer:read` keys.
#[must_use]
pub fn may_read(actor: &Actor, school: SchoolId) -> bool {
    Sight::of(actor).is_ok_and(|sight| sight.sees(school))
}

/// Offer items: the partnership's list, to all who read the offer.
pub async fn visible_items(
    db: &DatabaseConnection,
    actor: &Actor,
    ids: &[OfferItemId],
) -> Result<HashMap<OfferItemId, OfferItem>, DomainError> {
    if !actor.can(Permission::ReadOffer) {
        return Ok(HashMap::new());
    }
    items_by_ids(db, ids).await
}

/// Ledger entries of the schools whose offer the caller may read.
pub async fn visible_entries(
    db: &DatabaseConnection,
    actor: &Actor,
    ids: &[OfferEntryId],
) -> Result<HashMap<OfferEntryId, LedgerEntry>, DomainError> {
    let mut found = entries_by_ids(db, ids).await?;
    found.retain(|_, e| may_read(actor, e.school_id));
    Ok(found)
}
