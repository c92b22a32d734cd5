//! Deriving entitlements: every ACTIVE membership of a year gets, for every active item with
//! a quantity for its tier and phase, an entitlement and a GRANT.
//!
//! Idempotent: the entitlement row (unique per school, item and year) marks what was
//! derived, and a rerun only *tops up* — it grants the difference when a quantity was
//! raised, and nothing when the grants already reach it. A membership activated after a
//! run gets its grant on the next. Lowering a quantity takes nothing back: that is an
//! adjustment, with a reason. The same run takes back from this year's allowance what each
//! school drew forward into last year.

use std::collections::HashMap;
use std::fmt;

use chrono::{Datelike, NaiveDate};
use kernel::BeginWrite as _;
use kernel::{
    AcademicYear, Actor, Clock, DomainError, ErrorCode, OfferItemId, Permission, SchoolId,
};
use membership::memberships::Membership;
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{ActiveModelTrait, ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter, Set};

use crate::balance::balances_of_schools;
use crate::entity::{entitlements, entries, items};
use crate::entries::EntryKind;
use crate::items::OfferItem;
use crate::quantities::{self, Allowance};
use crate::support::is_unique_violation;
use crate::writer::EntryDraft;

/// What a derivation did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DerivationReport {
    /// Active memberships of the year looked at.
    pub memberships: usize,
    /// Entitlements created by this run.
    pub entitlements_created: usize,
    /// GRANT entries written: first grants and top-ups.
    pub grants: usize,
    /// Of those, top-ups of entitlements granted before.
    pub top_ups: usize,
    /// Last year's draw-forwards taken back from this year's allowance.
    pub draw_forwards_repaid: usize,
}

impl fmt::Display for DerivationReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} active memberships: {} entitlements created, {} grants ({} top-ups), {} draw-forwards repaid",
            self.memberships,
            self.entitlements_created,
            self.grants,
            self.top_ups,
            self.draw_forwards_repaid
        )
    }
}

/// Calendar months from the month of `starts_on` to August, both counted: 12 from
/// September, 8 from any day of January (the billing crate's rule for fees).
fn months_remaining(year: AcademicYear, starts_on: NaiveDate) -> i64 {
    let months_since_september = (starts_on.year() - year.start_year()) * 12
        + i32::try_from(starts_on.month()).unwrap_or(9)
        - 9;
    i64::from((12 - months_since_september).clamp(1, 12))
}

/// The allowance a membership gets of an item: pro-rata by whole months for a mid-year
/// joiner when the item says so, rounded half-up to whole units.
#[must_use]
pub fn granted_quantity(item_pro_rata: bool, quantity: i64, membership: &Membership) -> i64 {
    if item_pro_rata && membership.is_mid_year_joiner() {
        let months = months_remaining(membership.year, membership.starts_on);
        (quantity * months * 2 + 12) / 24
    } else {
        quantity
    }
}

fn grant_reason(item: &OfferItem, allowance: Allowance, granted: i64, m: &Membership) -> String {
    let unit = item.unit.as_str().to_lowercase();
    match allowance {
        Allowance::Unlimited => format!("{} allowance: unlimited {unit}", m.year),
        Allowance::Limited(q) if granted == q => format!("{} allowance: {q} {unit}", m.year),
        Allowance::Limited(q) => format!(
            "{} allowance: {granted} {unit}, pro-rata {} of 12 months of {q} from {}",
            m.year,
            months_remaining(m.year, m.starts_on),
            m.starts_on
        ),
    }
}

/// A draw-forward entry's reference on the next year's repayment, so it is repaid once.
fn repayment_reference(id: uuid::Uuid) -> String {
    format!("draw-forward:{id}")
}

/// Derives `year`'s entitlements for every active membership. Partnership admins (and
/// Trellis's own jobs). One transaction: a failed run leaves nothing half-granted.
pub async fn derive_entitlements(
    db: &DatabaseConnection,
    actor: &Actor,
    clock: &dyn Clock,
    year: AcademicYear,
) -> Result<DerivationReport, DomainError> {
    actor.require(Permission::ManageOffer)?;
    let memberships = membership::memberships::active_for_year(db, year).await?;
    let school_ids: Vec<SchoolId> = memberships.iter().map(|m| m.school_id).collect();
    let schools = membership::school::by_ids(db, &school_ids).await?;
    let items: Vec<OfferItem> = items::Entity::find()
        .filter(items::Column::Active.eq(true))
        .all(db)
        .await?
        .into_iter()
        .map(OfferItem::from_row)
        .collect::<Result<_, _>>()?;
    let table = quantities::for_year(db, year).await?;
    let mut report = DerivationReport {
        memberships: memberships.len(),
        ..DerivationReport::default()
    };
    let now = clock.now();

    let txn = db.begin_write().await?;
    // Every existing entitlement of the year is locked first, so usage recorded meanwhile
    // and a second derivation wait for this one.
    entitlements::Entity::update_many()
        .col_expr(
            entitlements::Column::Version,
            Expr::col(entitlements::Column::Version).add(1),
        )
        .filter(entitlements::Column::AcademicYear.eq(year.start_year()))
        .exec(&txn)
        .await?;
    let mut existing: HashMap<(SchoolId, OfferItemId), entitlements::Model> =
        entitlements::Entity::find()
            .filter(entitlements::Column::AcademicYear.eq(year.start_year()))
            .all(&txn)
            .await?
            .into_iter()
            .map(|e| {
                (
                    (
                        SchoolId::from_uuid(e.school_id),
                        OfferItemId::from_uuid(e.item_id),
                    ),
                    e,
                )
            })
            .collect();
    let granted: HashMap<(SchoolId, OfferItemId), i64> =
        balances_of_schools(&txn, &school_ids, year)
            .await?
            .into_values()
            .flatten()
            .map(|b| ((b.school_id, b.item_id), b.granted))
            .collect();

    let mut new_entitlements = Vec::new();
    let mut new_entries = Vec::new();
    for m in &memberships {
        let Some(school) = schools.get(&m.school_id) else {
            continue;
        };
        for item in &items {
            let Some(allowance) = table.resolve(item.id, m.tier_id, school.phase) else {
                continue;
            };
            let unlimited = allowance == Allowance::Unlimited;
            let target = match allowance {
                Allowance::Limited(q) => granted_quantity(item.pro_rata, q, m),
                Allowance::Unlimited => 0,
            };
            let key = (m.school_id, item.id);
            let entitlement = if let Some(e) = existing.get(&key) {
                if e.unlimited != unlimited {
                    let mut active: entitlements::ActiveModel = e.clone().into();
                    active.unlimited = Set(unlimited);
                    active.updated_at = Set(now);
                    let updated = active.update(&txn).await?;
                    existing.insert(key, updated);
                }
                existing.get(&key).cloned()
            } else {
                let row = entitlements::Model {
                    id: uuid::Uuid::now_v7(),
                    school_id: m.school_id.as_uuid(),
                    membership_id: m.id.as_uuid(),
                    item_id: item.id.as_uuid(),
                    academic_year: year.start_year(),
                    unlimited,
                    version: 0,
                    created_at: now,
                    updated_at: now,
                };
                new_entitlements.push(entitlements::ActiveModel::from(row.clone()));
                report.entitlements_created += 1;
                existing.insert(key, row.clone());
                if unlimited {
                    new_entries.push(
                        EntryDraft {
                            kind: EntryKind::Grant,
                            quantity: 0,
                            occurred_on: m.starts_on,
                            reference: None,
                            reason: Some(grant_reason(item, allowance, 0, m)),
                            reversal_of: None,
                            recorded_by: None,
                        }
                        .row(&row, now),
                    );
                    report.grants += 1;
                }
                Some(row)
            };
            let Some(entitlement) = entitlement else {
                continue;
            };
            let already = granted.get(&key).copied().unwrap_or(0);
            if !unlimited && target > already {
                let top_up = granted.contains_key(&key);
                new_entries.push(
                    EntryDraft {
                        kind: EntryKind::Grant,
                        quantity: target - already,
                        occurred_on: m.starts_on,
                        reference: None,
                        reason: Some(if top_up {
                            format!("{year} allowance raised to {target}")
                        } else {
                            grant_reason(item, allowance, target, m)
                        }),
                        reversal_of: None,
                        recorded_by: None,
                    }
                    .row(&entitlement, now),
                );
                report.grants += 1;
                if top_up {
                    report.top_ups += 1;
                }
            }
        }
    }

    // Last year's draw-forwards come out of this year's allowance, once each.
    if let Ok(previous) = AcademicYear::starting(year.start_year() - 1) {
        let drawn = entries::Entity::find()
            .filter(entries::Column::AcademicYear.eq(previous.start_year()))
            .filter(entries::Column::Kind.eq(EntryKind::DrawForward.as_str()))
            .filter(entries::Column::Quantity.gt(0))
            .all(&txn)
            .await?;
        let repaid: std::collections::HashSet<String> = entries::Entity::find()
            .filter(entries::Column::AcademicYear.eq(year.start_year()))
            .filter(entries::Column::Kind.eq(EntryKind::DrawForward.as_str()))
            .filter(entries::Column::Quantity.lt(0))
            .all(&txn)
            .await?
            .into_iter()
            .filter_map(|e| e.reference)
            .collect();
        for d in drawn {
            let key = (
                SchoolId::from_uuid(d.school_id),
                OfferItemId::from_uuid(d.item_id),
            );
            let reference = repayment_reference(d.id);
            if repaid.contains(&reference) {
                continue;
            }
            let (Some(entitlement), Some(m)) = (
                existing.get(&key),
                memberships.iter().find(|m| m.school_id == key.0),
            ) else {
                continue;
            };
            new_entries.push(
                EntryDraft {
                    kind: EntryKind::DrawForward,
                    quantity: -d.quantity,
                    occurred_on: m.starts_on,
                    reference: Some(reference),
                    reason: Some(format!("Drawn forward into {previous}")),
                    reversal_of: None,
                    recorded_by: None,
                }
                .row(entitlement, now),
            );
            report.draw_forwards_repaid += 1;
        }
    }

    for chunk in new_entitlements.chunks(200) {
        let inserted = entitlements::Entity::insert_many(chunk.to_vec())
            .exec(&txn)
            .await;
        match inserted {
            Ok(_) => {}
            Err(err) if is_unique_violation(&err) => {
                return Err(DomainError::invalid(
                    "year",
                    ErrorCode::Conflict,
                    "entitlements were being derived at the same time; run the derivation again",
                ));
            }
            Err(err) => return Err(err.into()),
        }
    }
    for chunk in new_entries.chunks(200) {
        entries::Entity::insert_many(chunk.to_vec())
            .exec(&txn)
            .await?;
    }
    txn.commit().await?;
    tracing::info!(%year, %report, "entitlements derived");
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn months_count_the_joining_month() {
        let y = AcademicYear::starting(2026).expect("year");
        let d = |y, m, d| NaiveDate::from_ymd_opt(y, m, d).expect("date");
        assert_eq!(months_remaining(y, d(2026, 9, 1)), 12);
        assert_eq!(months_remaining(y, d(2026, 12, 31)), 9);
        assert_eq!(months_remaining(y, d(2027, 1, 5)), 8);
        assert_eq!(months_remaining(y, d(2027, 8, 31)), 1);
    }
}
