//! Everything that moves an entitlement after it was granted: usage and its reversal,
//! adjustments by staff, and the BPSI rules (cash-in toward an external consultant,
//! draw-forward from next year's allowance).
//!
//! Each service validates its input first and reports every problem at once; then, in one
//! transaction, takes the entitlement's lock, re-reads the balance from the ledger and
//! checks the limits against it, and writes one entry. A refused request writes nothing.

use chrono::NaiveDate;
use kernel::BeginWrite as _;
use kernel::money::checked_add_i64;
use kernel::{
    AcademicYear, Actor, Clock, DomainError, ErrorCode, FieldError, OfferEntryId, OfferItemId,
    Permission, Problems, SchoolId,
};
use sea_orm::sea_query::{Alias, Expr, Query};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait, QueryFilter, TransactionSession,
    TransactionTrait,
};

use crate::balance::{Balance, balance_of};
use crate::entity::{entitlements, entries};
use crate::entries::{EntryKind, LedgerEntry};
use crate::items::{self, OfferItem};
use crate::quantities::{self, Allowance};
use crate::support::{is_unique_violation, optional_text, positive, required_text};
use crate::writer::{
    EntryDraft, active_membership, lock_entitlement, not_entitled, recorder, within,
};

const REFERENCE_MAX: usize = 200;
const REASON_MAX: usize = 1000;

/// Part of an entitlement used: a visit held, a CPD place booked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewUsage {
    pub school_id: SchoolId,
    pub item_id: OfferItemId,
    /// Whole units, more than zero.
    pub quantity: i64,
    /// The day of the visit or session; its academic year is the entitlement used.
    pub occurred_on: NaiveDate,
    /// Where it came from, e.g. a booking id.
    pub reference: Option<String>,
    pub reason: Option<String>,
}

/// A correction by partnership staff.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewAdjustment {
    pub school_id: SchoolId,
    pub item_id: OfferItemId,
    pub year: AcademicYear,
    /// Either sign, not zero.
    pub quantity: i64,
    /// Required: an adjustment nobody can explain is a hole in the ledger.
    pub reason: String,
}

/// Unused units cashed in toward an external consultant, or units drawn forward from next
/// year's allowance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewTransfer {
    pub school_id: SchoolId,
    pub item_id: OfferItemId,
    pub year: AcademicYear,
    /// Whole units, more than zero.
    pub quantity: i64,
    /// E.g. the consultant's invoice or the agreement reference.
    pub reference: Option<String>,
    pub reason: Option<String>,
}

/// The item, or a field error on `itemId`.
async fn item_for<C: ConnectionTrait>(
    db: &C,
    problems: &mut Problems,
    id: OfferItemId,
) -> Result<Option<OfferItem>, DomainError> {
    let item = items::load(db, id).await?;
    if item.is_none() {
        problems.add("itemId", ErrorCode::NotFound, "no such offer item");
    }
    Ok(item)
}

/// Locks the entitlement and reads its balance; refuses unlimited ones when `limited`.
async fn locked_balance<C: ConnectionTrait>(
    txn: &C,
    school: SchoolId,
    item: OfferItemId,
    year: AcademicYear,
) -> Result<(entitlements::Model, Balance), DomainError> {
    let entitlement = lock_entitlement(txn, school, item, year)
        .await?
        .ok_or_else(|| not_entitled(year))?;
    let balance = balance_of(txn, school, item, year)
        .await?
        .ok_or_else(|| not_entitled(year))?;
    Ok((entitlement, balance))
}

fn unlimited_error(what: &str) -> DomainError {
    DomainError::invalid(
        "itemId",
        ErrorCode::Conflict,
        format!("the school's allowance of this item is unlimited: there is nothing to {what}"),
    )
}

fn left(balance: &Balance) -> i64 {
    balance.remaining().unwrap_or(i64::MAX)
}

/// The dates of the school's ACTIVE membership of `year`, or the field error saying why there
/// is none: `writer::active_membership`'s rule, read through any connection so that usage
/// can be recorded inside a caller's transaction (membership's own reads need a pool).
async fn active_membership_dates<C: ConnectionTrait>(
    db: &C,
    school: SchoolId,
    year: AcademicYear,
) -> Result<Result<(NaiveDate, NaiveDate), FieldError>, DomainError> {
    use sea_orm::sea_query::ExprTrait as _;
    let select = Query::select()
        .columns([
            Alias::new("status"),
            Alias::new("starts_on"),
            Alias::new("ends_on"),
        ])
        .from(Alias::new("memberships"))
        .and_where(Expr::col(Alias::new("school_id")).eq(school.as_uuid()))
        .and_where(Expr::col(Alias::new("academic_year")).eq(year.start_year()))
        .to_owned();
    let row = db.query_one(&select).await?;
    let found = match row {
        Some(row) => Some((
            row.try_get::<String>("", "status")?,
            row.try_get::<NaiveDate>("", "starts_on")?,
            row.try_get::<NaiveDate>("", "ends_on")?,
        )),
        None => None,
    };
    if let Some((status, starts_on, ends_on)) = found {
        if status == membership::memberships::MembershipStatus::Active.as_str() {
            return Ok(Ok((starts_on, ends_on)));
        }
    } else {
        let school_row = Query::select()
            .expr(Expr::val(1))
            .from(Alias::new("schools"))
            .and_where(Expr::col(Alias::new("id")).eq(school.as_uuid()))
            .to_owned();
        let memberships = Query::select()
            .expr(Expr::val(1))
            .from(Alias::new("memberships"))
            .and_where(Expr::col(Alias::new("school_id")).eq(school.as_uuid()))
            .to_owned();
        if db.query_one(&school_row).await?.is_none() && db.query_one(&memberships).await?.is_none()
        {
            return Ok(Err(FieldError::new(
                "schoolId",
                ErrorCode::NotFound,
                "no such school",
            )));
        }
    }
    Ok(Err(FieldError::new(
        "schoolId",
        ErrorCode::Conflict,
        format!("the school has no active membership in {year}"),
    )))
}

/// Records usage against a school's entitlement. Partnership staff (and Trellis itself, for
/// bookings settled against the allowance). Refused when more is used than remains, unless
/// the item allows overdraft; when the school has no active membership that year; or when
/// the item is not part of its offer.
///
/// Runs in its own transaction, or in a savepoint when `db` is already one, so a booking can
/// use its school's allowance atomically with holding its places.
pub async fn record_usage<C>(
    db: &C,
    actor: &Actor,
    clock: &dyn Clock,
    input: NewUsage,
) -> Result<LedgerEntry, DomainError>
where
    C: ConnectionTrait + TransactionTrait,
{
    actor.require(Permission::RecordOfferUsage)?;
    let year = AcademicYear::containing(input.occurred_on);
    let mut problems = Problems::new();
    let quantity = problems.check(positive("quantity", input.quantity));
    let reference = problems.check(optional_text(
        "reference",
        input.reference.as_deref(),
        REFERENCE_MAX,
    ));
    let reason = problems.check(optional_text("reason", input.reason.as_deref(), REASON_MAX));
    let item = item_for(db, &mut problems, input.item_id).await?;
    if problems
        .check(kernel::dates::in_window("occurredOn", input.occurred_on))
        .is_some()
        && let Some((starts_on, ends_on)) =
            problems.check(active_membership_dates(db, input.school_id, year).await?)
        && !(starts_on..=ends_on).contains(&input.occurred_on)
    {
        problems.add(
            "occurredOn",
            ErrorCode::OutOfRange,
            format!("the membership runs from {starts_on} to {ends_on}"),
        );
    }
    let (quantity, reference, reason, item) =
        problems.finish_with((quantity, reference, reason, item))?;

    let txn = db.begin_write().await?;
    let (entitlement, balance) = locked_balance(&txn, input.school_id, input.item_id, year).await?;
    if !balance.unlimited && !item.allows_overdraft && quantity > left(&balance) {
        return Err(DomainError::invalid(
            "quantity",
            ErrorCode::OutOfRange,
            format!(
                "only {} {} left of this allowance",
                left(&balance).max(0),
                item.unit.as_str().to_lowercase()
            ),
        ));
    }
    let row = EntryDraft {
        kind: EntryKind::Usage,
        quantity: -quantity,
        occurred_on: input.occurred_on,
        reference,
        reason,
        reversal_of: None,
        recorded_by: recorder(actor),
    }
    .insert(&txn, &entitlement, clock.now())
    .await?;
    txn.commit().await?;
    LedgerEntry::from_row(row)
}

/// Gives a usage back (e.g. a cancelled booking returns its place). A usage is reversed at
/// most once; the reversal carries the usage's date, so both fall in the same term.
///
/// Like [`record_usage`], a savepoint when `db` is already a transaction.
pub async fn reverse_usage<C>(
    db: &C,
    actor: &Actor,
    clock: &dyn Clock,
    usage: OfferEntryId,
    reason: Option<String>,
) -> Result<LedgerEntry, DomainError>
where
    C: ConnectionTrait + TransactionTrait,
{
    reverse(db, actor, clock, usage, None, reason).await
}

/// Gives part of a usage back: `quantity` whole units, 1 to what was used (e.g. a late
/// cancellation returns the places the cancellation policy does not keep). Like
/// [`reverse_usage`], it is the usage's one reversal: the rest stays used for good.
pub async fn reverse_usage_part<C>(
    db: &C,
    actor: &Actor,
    clock: &dyn Clock,
    usage: OfferEntryId,
    quantity: i64,
    reason: Option<String>,
) -> Result<LedgerEntry, DomainError>
where
    C: ConnectionTrait + TransactionTrait,
{
    reverse(db, actor, clock, usage, Some(quantity), reason).await
}

/// A reversal of the whole usage (`quantity: None`) or of part of it.
async fn reverse<C>(
    db: &C,
    actor: &Actor,
    clock: &dyn Clock,
    usage: OfferEntryId,
    quantity: Option<i64>,
    reason: Option<String>,
) -> Result<LedgerEntry, DomainError>
where
    C: ConnectionTrait + TransactionTrait,
{
    actor.require(Permission::RecordOfferUsage)?;
    let reason = optional_text("reason", reason.as_deref(), REASON_MAX)
        .map_err(|e| DomainError::Invalid(vec![e]))?;
    let entry = crate::entries::load(db, usage)
        .await?
        .ok_or(DomainError::NotFound {
            entity: "OfferLedgerEntry",
        })?;
    if entry.kind != EntryKind::Usage {
        return Err(DomainError::invalid(
            "entryId",
            ErrorCode::Conflict,
            format!("only a usage can be reversed, not a {}", entry.kind),
        ));
    }
    let already = || {
        DomainError::invalid(
            "entryId",
            ErrorCode::Conflict,
            "this usage has already been reversed",
        )
    };
    // A usage is stored negative: what was used is its opposite.
    let used = entry.quantity.checked_neg().ok_or_else(|| {
        DomainError::internal(kernel::CorruptRow(format!(
            "usage {usage} has an impossible quantity"
        )))
    })?;
    let returned = match quantity {
        None => used,
        Some(q) if (1..=used).contains(&q) => q,
        Some(_) => {
            return Err(DomainError::invalid(
                "quantity",
                ErrorCode::OutOfRange,
                format!("must be between 1 and the {used} used"),
            ));
        }
    };

    let txn = db.begin_write().await?;
    let entitlement = lock_entitlement(&txn, entry.school_id, entry.item_id, entry.year)
        .await?
        .ok_or_else(|| not_entitled(entry.year))?;
    if entries::Entity::find()
        .filter(entries::Column::ReversalOf.eq(usage.as_uuid()))
        .one(&txn)
        .await?
        .is_some()
    {
        return Err(already());
    }
    let written = EntryDraft {
        kind: EntryKind::Reversal,
        quantity: returned,
        occurred_on: entry.occurred_on,
        reference: entry.reference.clone(),
        reason,
        reversal_of: Some(usage),
        recorded_by: recorder(actor),
    }
    .insert(&txn, &entitlement, clock.now())
    .await;
    let row = match written {
        Ok(row) => row,
        Err(err) if is_unique_violation(&err) => return Err(already()),
        Err(err) => return Err(err.into()),
    };
    txn.commit().await?;
    LedgerEntry::from_row(row)
}

/// Corrects an entitlement up or down, with a reason. Partnership admins. A negative
/// adjustment may not leave less than nothing unless the item allows overdraft.
pub async fn adjust(
    db: &DatabaseConnection,
    actor: &Actor,
    clock: &dyn Clock,
    input: NewAdjustment,
) -> Result<LedgerEntry, DomainError> {
    actor.require(Permission::ManageOffer)?;
    let mut problems = Problems::new();
    problems.check(kernel::quantity::bounded_adjustment(
        "quantity",
        input.quantity,
    ));
    let reason = problems.check(required_text("reason", &input.reason, REASON_MAX));
    let item = item_for(db, &mut problems, input.item_id).await?;
    let (reason, item) = problems.finish_with((reason, item))?;

    let txn = db.begin_write().await?;
    let (entitlement, balance) =
        locked_balance(&txn, input.school_id, input.item_id, input.year).await?;
    if balance.unlimited {
        return Err(unlimited_error("adjust"));
    }
    if input.quantity < 0
        && !item.allows_overdraft
        && left(&balance).saturating_add(input.quantity) < 0
    {
        return Err(DomainError::invalid(
            "quantity",
            ErrorCode::OutOfRange,
            format!(
                "only {} left: the adjustment would leave less than nothing",
                left(&balance).max(0)
            ),
        ));
    }
    let row = EntryDraft {
        kind: EntryKind::Adjustment,
        quantity: input.quantity,
        occurred_on: within(input.year, clock.today()),
        reference: None,
        reason: Some(reason),
        reversal_of: None,
        recorded_by: recorder(actor),
    }
    .insert(&txn, &entitlement, clock.now())
    .await?;
    txn.commit().await?;
    LedgerEntry::from_row(row)
}

/// What cash-in and draw-forward both check before their own rules.
struct TransferInput {
    quantity: i64,
    reference: Option<String>,
    reason: Option<String>,
    item: OfferItem,
    membership: membership::memberships::Membership,
}

async fn validate_transfer(
    db: &DatabaseConnection,
    input: &NewTransfer,
    rule: impl Fn(&OfferItem) -> Option<&'static str>,
) -> Result<TransferInput, DomainError> {
    let mut problems = Problems::new();
    let quantity = problems.check(positive("quantity", input.quantity));
    let reference = problems.check(optional_text(
        "reference",
        input.reference.as_deref(),
        REFERENCE_MAX,
    ));
    let reason = problems.check(optional_text("reason", input.reason.as_deref(), REASON_MAX));
    let item = item_for(db, &mut problems, input.item_id).await?;
    if let Some(refusal) = item.as_ref().and_then(&rule) {
        problems.add("itemId", ErrorCode::Conflict, refusal);
    }
    let membership = problems.check(active_membership(db, input.school_id, input.year).await?);
    let (quantity, reference, reason, item, membership) =
        problems.finish_with((quantity, reference, reason, item, membership))?;
    Ok(TransferInput {
        quantity,
        reference,
        reason,
        item,
        membership,
    })
}

/// Cashes in unused units toward an external consultant (BPSI): up to the item's yearly
/// limit, and never more than is left. Partnership admins.
pub async fn cash_in(
    db: &DatabaseConnection,
    actor: &Actor,
    clock: &dyn Clock,
    input: NewTransfer,
) -> Result<LedgerEntry, DomainError> {
    actor.require(Permission::ManageOffer)?;
    let valid = validate_transfer(db, &input, |item| {
        item.cash_in_limit
            .is_none()
            .then_some("this item cannot be cashed in")
    })
    .await?;
    let limit = valid.item.cash_in_limit.unwrap_or(0);

    let txn = db.begin_write().await?;
    let (entitlement, balance) =
        locked_balance(&txn, input.school_id, input.item_id, input.year).await?;
    if balance.unlimited {
        return Err(unlimited_error("cash in"));
    }
    if checked_add_i64("cashed in", balance.cashed_in, valid.quantity)? > limit {
        return Err(DomainError::invalid(
            "quantity",
            ErrorCode::OutOfRange,
            format!(
                "at most {limit} a year may be cashed in; {} already has been",
                balance.cashed_in
            ),
        ));
    }
    if valid.quantity > left(&balance) {
        return Err(DomainError::invalid(
            "quantity",
            ErrorCode::OutOfRange,
            format!("only {} left to cash in", left(&balance).max(0)),
        ));
    }
    let row = EntryDraft {
        kind: EntryKind::CashIn,
        quantity: -valid.quantity,
        occurred_on: within(input.year, clock.today()),
        reference: valid.reference,
        reason: valid.reason,
        reversal_of: None,
        recorded_by: recorder(actor),
    }
    .insert(&txn, &entitlement, clock.now())
    .await?;
    txn.commit().await?;
    LedgerEntry::from_row(row)
}

/// The most a school may draw forward into `year`: the item's share of next year's
/// allowance for its tier and phase. Next year's quantity when already set, otherwise this
/// year's (the allowance a renewal would get unchanged); rounded down to whole units.
async fn draw_forward_limit(
    db: &DatabaseConnection,
    item: &OfferItem,
    membership: &membership::memberships::Membership,
    year: AcademicYear,
) -> Result<Result<(i64, i64), DomainError>, DomainError> {
    let percent = i64::from(item.draw_forward_percent.unwrap_or(0));
    let Some(school) = membership::school::by_ids(db, &[membership.school_id])
        .await?
        .remove(&membership.school_id)
    else {
        return Err(DomainError::NotFound { entity: "School" });
    };
    let next = quantities::for_year(db, year.next()).await?.resolve(
        item.id,
        membership.tier_id,
        school.phase,
    );
    let allowance = match next {
        Some(a) => Some(a),
        None => {
            quantities::for_year(db, year)
                .await?
                .resolve(item.id, membership.tier_id, school.phase)
        }
    };
    Ok(match allowance {
        Some(Allowance::Limited(q)) => Ok((q * percent / 100, q)),
        Some(Allowance::Unlimited) => Err(unlimited_error("draw forward")),
        None => Err(DomainError::invalid(
            "itemId",
            ErrorCode::Conflict,
            "the school has no allowance of this item to draw from",
        )),
    })
}

/// Draws units from next year's allowance into `year` (BPSI): up to the item's share of
/// next year's allowance in all. Next year's derivation takes them back from that year's
/// allowance. Partnership admins.
pub async fn draw_forward(
    db: &DatabaseConnection,
    actor: &Actor,
    clock: &dyn Clock,
    input: NewTransfer,
) -> Result<LedgerEntry, DomainError> {
    actor.require(Permission::ManageOffer)?;
    let valid = validate_transfer(db, &input, |item| {
        item.draw_forward_percent
            .is_none()
            .then_some("this item cannot be drawn forward")
    })
    .await?;
    let (limit, allowance) =
        draw_forward_limit(db, &valid.item, &valid.membership, input.year).await??;

    let txn = db.begin_write().await?;
    let (entitlement, balance) =
        locked_balance(&txn, input.school_id, input.item_id, input.year).await?;
    if balance.unlimited {
        return Err(unlimited_error("draw forward"));
    }
    let drawn: i64 = entries::Entity::find()
        .filter(entries::Column::EntitlementId.eq(entitlement.id))
        .filter(entries::Column::Kind.eq(EntryKind::DrawForward.as_str()))
        .filter(entries::Column::Quantity.gt(0))
        .all(&txn)
        .await?
        .iter()
        .map(|e| e.quantity)
        .try_fold(0_i64, |sum, q| checked_add_i64("drawn forward", sum, q))?;
    if checked_add_i64("drawn forward", drawn, valid.quantity)? > limit {
        return Err(DomainError::invalid(
            "quantity",
            ErrorCode::OutOfRange,
            format!(
                "at most {limit} may be drawn forward ({}% of next year's {allowance}); {drawn} already has been",
                valid.item.draw_forward_percent.unwrap_or(0)
            ),
        ));
    }
    let row = EntryDraft {
        kind: EntryKind::DrawForward,
        quantity: valid.quantity,
        occurred_on: within(input.year, clock.today()),
        reference: valid.reference,
        reason: valid.reason,
        reversal_of: None,
        recorded_by: recorder(actor),
    }
    .insert(&txn, &entitlement, clock.now())
    .await?;
    txn.commit().await?;
    LedgerEntry::from_row(row)
}
