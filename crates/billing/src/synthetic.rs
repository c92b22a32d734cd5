//! The ledger of a synthetic national directory (`membership::synthetic`): the year's two fee
//! schedules (the demo's rules: FULL termly on Haringey's 2026 rates, ASSOCIATE annual), and
//! one SCHOOL account paying for each member school — what an invoicing run needs, written in
//! batched INSERTs like the directory. The run itself is the real one (`run::start`), so
//! seeding measures it.

use std::fmt;

use kernel::BeginWrite as _;
use kernel::{AcademicYear, Actor, Clock, DomainError, SchoolId};
use membership::memberships;
use membership::school;
use sea_orm::{DatabaseConnection, EntityTrait, Set};

use crate::fees::{self, BillingFrequency, FeeRules, NewFeeSchedule};
use crate::ledger::accounts::{AccountKind, PaymentMethod};
use crate::ledger::entity::{account_schools, accounts};

/// Rows per INSERT (accounts have 12 columns).
const CHUNK: usize = 500;

/// What was built.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SyntheticLedger {
    pub schedules: u32,
    pub accounts: u32,
}

impl fmt::Display for SyntheticLedger {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "synthetic ledger: {} fee schedules, {} accounts",
            self.schedules, self.accounts
        )
    }
}

#[derive(Debug, thiserror::Error)]
#[error("the synthetic directory has no {0} tier")]
struct NoTier(&'static str);

/// Opens the schedules and an account per member school of `year`.
///
/// # Errors
/// When the directory has no FULL and ASSOCIATE tiers; database errors.
pub async fn seed(
    db: &DatabaseConnection,
    clock: &dyn Clock,
    year: AcademicYear,
) -> Result<SyntheticLedger, DomainError> {
    let system = Actor::System;
    let full = memberships::tier_by_code(db, "FULL")
        .await?
        .ok_or_else(|| DomainError::internal(NoTier("FULL")))?;
    let associate = memberships::tier_by_code(db, "ASSOCIATE")
        .await?
        .ok_or_else(|| DomainError::internal(NoTier("ASSOCIATE")))?;
    for (tier, name, rules, frequency) in [
        (
            full.id,
            format!("Full membership {year}"),
            FeeRules::haringey_2026().into_document(),
            BillingFrequency::Termly,
        ),
        (
            associate.id,
            format!("Associate membership {year}"),
            crate::demo::associate_rules(),
            BillingFrequency::Annual,
        ),
    ] {
        fees::create_schedule(
            db,
            &system,
            clock,
            NewFeeSchedule {
                year,
                tier_id: tier,
                name,
                rules,
                frequency,
                payment_terms_days: 30,
            },
        )
        .await?;
    }

    let members: Vec<SchoolId> = memberships::active_for_year(db, year)
        .await?
        .into_iter()
        .map(|m| m.school_id)
        .collect();
    let schools = school::by_ids(db, &members).await?;
    let now = clock.now();
    let mut account_rows = Vec::new();
    let mut link_rows = Vec::new();
    for id in &members {
        let Some(s) = schools.get(id) else { continue };
        let account = uuid::Uuid::now_v7();
        account_rows.push(accounts::ActiveModel {
            id: Set(account),
            kind: Set(AccountKind::School.as_str().to_owned()),
            name: Set(s.name.clone()),
            contact_name: Set("School Business Manager".to_owned()),
            contact_email: Set(format!("bursar{}@synthetic.example", s.urn)),
            address_lines: Set(serde_json::to_string(&[
                s.name.as_str(),
                s.local_authority.as_str(),
            ])
            .map_err(DomainError::internal)?),
            postcode: Set(s.postcode.as_str().to_owned()),
            default_method: Set(PaymentMethod::BankTransfer.as_str().to_owned()),
            provider_customer_ref: Set(None),
            ledger_version: Set(0),
            created_at: Set(now),
            updated_at: Set(now),
        });
        link_rows.push(account_schools::ActiveModel {
            school_id: Set(id.as_uuid()),
            account_id: Set(account),
        });
    }
    let made = u32::try_from(account_rows.len()).unwrap_or(u32::MAX);
    let txn = db.begin_write().await?;
    let mut account_rows = account_rows.into_iter().peekable();
    while account_rows.peek().is_some() {
        let chunk: Vec<_> = account_rows.by_ref().take(CHUNK).collect();
        accounts::Entity::insert_many(chunk)
            .exec_without_returning(&txn)
            .await?;
    }
    let mut link_rows = link_rows.into_iter().peekable();
    while link_rows.peek().is_some() {
        let chunk: Vec<_> = link_rows.by_ref().take(CHUNK).collect();
        account_schools::Entity::insert_many(chunk)
            .exec_without_returning(&txn)
            .await?;
    }
    txn.commit().await?;
    Ok(SyntheticLedger {
        schedules: 2,
        accounts: made,
    })
}
