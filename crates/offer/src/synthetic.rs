//! The core offer of a synthetic national directory (`trellis seed --synthetic`,
//! `membership::synthetic`): the demo's catalogue and allowances for the year, entitlements
//! derived by the real service for every member school, and a term's usage on them, so a
//! head's dashboard at national scale reads what a demo head's does (issue #18 asks for its
//! p50 within 2× of the demo's).
//!
//! Usage is written in batched INSERTs of ledger entries (hundreds of thousands through
//! `record_usage` would take an hour); what `record_usage` checks holds by construction:
//! units of one, within the membership's dates, never past a limited allowance.

use std::collections::HashMap;
use std::fmt;

use chrono::{Days, NaiveDate};
use kernel::BeginWrite as _;
use kernel::{AcademicYear, Actor, Clock, DomainError};
use membership::synthetic::Rng;
use sea_orm::{ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter, QuerySelect};
use uuid::Uuid;

use crate::derive::derive_entitlements;
use crate::entity::{entitlements, entries};
use crate::entries::EntryKind;
use crate::writer::EntryDraft;

/// Entries per INSERT (15 columns each).
const CHUNK: usize = 1_000;
/// The most usages an entitlement gets.
const MAX_USES: u64 = 4;

/// What was built.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SyntheticOffer {
    pub items: usize,
    pub entitlements: usize,
    pub usages: usize,
}

impl fmt::Display for SyntheticOffer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "synthetic core offer: {} items, {} entitlements, {} usages",
            self.items, self.entitlements, self.usages
        )
    }
}

/// Opens `year`'s offer with the demo's items, derives the entitlements of every active
/// membership, and records up to four single-unit usages on each, dated from the start of the
/// year to `clock`'s today, drawn from `seed`.
///
/// # Errors
/// When the FULL or ASSOCIATE tier is missing, or offer items exist already (`create_item`'s
/// TAKEN codes); database errors.
pub async fn seed(
    db: &DatabaseConnection,
    clock: &dyn Clock,
    year: AcademicYear,
    seed: u64,
) -> Result<SyntheticOffer, DomainError> {
    let (full, associate) = membership::synthetic::member_tiers(db).await?;
    let (items, _, _) = crate::demo::open_catalogue(db, clock, year, full.id, associate.id).await?;
    let derived = derive_entitlements(db, &Actor::System, clock, year).await?;

    let rows = entitlements::Entity::find()
        .filter(entitlements::Column::AcademicYear.eq(year.start_year()))
        .all(db)
        .await?;
    let granted: HashMap<Uuid, i64> = entries::Entity::find()
        .select_only()
        .column(entries::Column::EntitlementId)
        .column(entries::Column::Quantity)
        .filter(entries::Column::AcademicYear.eq(year.start_year()))
        .filter(entries::Column::Kind.eq(EntryKind::Grant.as_str()))
        .into_tuple::<(Uuid, i64)>()
        .all(db)
        .await?
        .into_iter()
        .fold(HashMap::new(), |mut sum, (id, q)| {
            *sum.entry(id).or_default() += q;
            sum
        });

    let first = year.first_day();
    let today = clock.today().min(year.last_day());
    let span = u64::try_from((today - first).num_days().max(0)).unwrap_or(0) + 1;
    let mut rng = Rng::new(seed);
    let now = clock.now();
    let mut usage_rows = Vec::new();
    // In id order, so the same seed gives the same usage whatever order the rows came in.
    let mut rows = rows;
    rows.sort_by_key(|e| e.id);
    for entitlement in &rows {
        let limit = if entitlement.unlimited {
            MAX_USES
        } else {
            u64::try_from(granted.get(&entitlement.id).copied().unwrap_or(0)).unwrap_or(0)
        };
        let uses = rng.below(MAX_USES + 1).min(limit);
        for _ in 0..uses {
            let occurred_on = first
                .checked_add_days(Days::new(rng.below(span)))
                .unwrap_or(first);
            usage_rows.push(usage(entitlement, occurred_on, now));
        }
    }
    let usages = usage_rows.len();
    let txn = db.begin_write().await?;
    let mut usage_rows = usage_rows.into_iter().peekable();
    while usage_rows.peek().is_some() {
        let chunk: Vec<_> = usage_rows.by_ref().take(CHUNK).collect();
        entries::Entity::insert_many(chunk)
            .exec_without_returning(&txn)
            .await?;
    }
    txn.commit().await?;
    Ok(SyntheticOffer {
        items,
        entitlements: derived.entitlements_created,
        usages,
    })
}

fn usage(
    entitlement: &entitlements::Model,
    occurred_on: NaiveDate,
    now: chrono::DateTime<chrono::Utc>,
) -> entries::ActiveModel {
    EntryDraft {
        kind: EntryKind::Usage,
        quantity: -1,
        occurred_on,
        reference: None,
        reason: Some("Synthetic usage".to_owned()),
        reversal_of: None,
        recorded_by: None,
    }
    .row(entitlement, now)
}
