//! Billing accounts: who pays. A school pays for itself, or a trust/federation pays for
//! several schools; either way each school is billed through exactly one account (the
//! school id is the key of `billing_account_schools`).

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use kernel::BeginWrite as _;
use kernel::persistence::by_position::DecodeAt;
use kernel::{
    Actor, BillingAccountId, Clock, DomainError, ErrorCode, FieldError, Permission, Problems,
    SchoolId,
};
use membership::school::types::Postcode;
use membership::{NameKey, Page, PageArgs};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait, QueryFilter,
    QuerySelect, Set,
};
use serde::Serialize;
use uuid::Uuid;

use super::audit::{self, AuditEntity};
use super::entity::{account_schools, accounts};
use super::support::{
    Sight, is_unique_violation, named_enum, optional_text, required_text, stored,
};
use membership::fetch_page;

named_enum!(
    /// Whether an account pays for one school or for a group of them.
    AccountKind {
        School => "SCHOOL",
        /// A multi-academy trust or federation paying for several schools.
        Trust => "TRUST",
    }
);

named_enum!(
    /// How an account usually pays.
    PaymentMethod {
        BankTransfer => "BANK_TRANSFER",
        Card => "CARD",
        BacsDebit => "BACS_DEBIT",
    }
);

/// A postal address for invoices.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Address {
    /// Street lines, town: one to six lines.
    pub lines: Vec<String>,
    pub postcode: String,
}

/// Who pays, and for which schools.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BillingAccount {
    pub id: BillingAccountId,
    pub kind: AccountKind,
    pub name: String,
    pub contact_name: String,
    pub contact_email: String,
    pub address: Address,
    pub default_method: PaymentMethod,
    /// The payment provider's customer id (e.g. Stripe `cus_…`), once created there.
    pub provider_customer_ref: Option<String>,
    /// Sorted.
    pub school_ids: Vec<SchoolId>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl BillingAccount {
    /// The keyset sort key of account lists.
    #[must_use]
    pub fn sort_key(&self) -> NameKey {
        (self.name.clone(), self.id.as_uuid())
    }

    fn from_rows(
        row: accounts::Model,
        schools: &[account_schools::Model],
    ) -> Result<Self, DomainError> {
        let lines: Vec<String> = serde_json::from_str(&row.address_lines).map_err(|e| {
            DomainError::internal(super::support::CorruptRow(format!(
                "account {} address: {e}",
                row.id
            )))
        })?;
        let mut school_ids: Vec<SchoolId> = schools
            .iter()
            .map(|s| SchoolId::from_uuid(s.school_id))
            .collect();
        school_ids.sort();
        Ok(Self {
            id: BillingAccountId::from_uuid(row.id),
            kind: stored("account kind", &row.kind)?,
            default_method: stored("payment method", &row.default_method)?,
            name: row.name,
            contact_name: row.contact_name,
            contact_email: row.contact_email,
            address: Address {
                lines,
                postcode: row.postcode,
            },
            provider_customer_ref: row.provider_customer_ref,
            school_ids,
            created_at: row.created_at,
            updated_at: row.updated_at,
        })
    }
}

/// A new account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewBillingAccount {
    pub kind: AccountKind,
    pub name: String,
    pub contact_name: String,
    pub contact_email: String,
    pub address: Address,
    pub default_method: PaymentMethod,
    /// The schools it pays for (a SCHOOL account: exactly one).
    pub school_ids: Vec<SchoolId>,
}

/// Changes to an account; `None` leaves a field as it is. Schools are attached with
/// [`attach_school`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AccountChanges {
    pub name: Option<String>,
    pub contact_name: Option<String>,
    pub contact_email: Option<String>,
    pub address: Option<Address>,
    pub default_method: Option<PaymentMethod>,
    /// `Some(None)` clears it.
    pub provider_customer_ref: Option<Option<String>>,
}

const NAME_MAX: usize = 200;
const LINE_MAX: usize = 100;
const MAX_LINES: usize = 6;

fn check_email(field: &str, value: &str) -> Result<String, FieldError> {
    let email = required_text(field, value, 254)?;
    let ok = email.split_once('@').is_some_and(|(local, domain)| {
        !local.is_empty() && domain.contains('.') && !email.contains(char::is_whitespace)
    });
    if ok {
        Ok(email)
    } else {
        Err(FieldError::new(
            field,
            ErrorCode::Invalid,
            "is not an email address",
        ))
    }
}

fn check_address(problems: &mut Problems, address: &Address) -> Option<Address> {
    let mut lines = Vec::new();
    if address.lines.is_empty() || address.lines.len() > MAX_LINES {
        problems.add(
            "address.lines",
            ErrorCode::OutOfRange,
            format!("give between 1 and {MAX_LINES} address lines"),
        );
    }
    for (i, line) in address.lines.iter().enumerate() {
        if let Some(line) =
            problems.check(required_text(&format!("address.lines.{i}"), line, LINE_MAX))
        {
            lines.push(line);
        }
    }
    let postcode = problems.check(Postcode::parse(&address.postcode).map_err(|e| FieldError {
        field: vec!["address".into(), "postcode".into()],
        ..e
    }));
    (lines.len() == address.lines.len() && (1..=MAX_LINES).contains(&lines.len()))
        .then_some(())
        .and(postcode)
        .map(|p| Address {
            lines,
            postcode: p.as_str().to_owned(),
        })
}

pub(super) async fn load<C: ConnectionTrait>(
    db: &C,
    id: BillingAccountId,
) -> Result<Option<BillingAccount>, DomainError> {
    let rows = accounts::Entity::find_by_id(id.as_uuid())
        .find_with_related(account_schools::Entity)
        .all(db)
        .await?;
    rows.into_iter()
        .next()
        .map(|(row, schools)| BillingAccount::from_rows(row, &schools))
        .transpose()
}

/// Errors for schools that are unknown or already billed elsewhere.
async fn check_schools<C: ConnectionTrait>(
    db: &C,
    problems: &mut Problems,
    field: &str,
    schools: &[SchoolId],
) -> Result<(), DomainError> {
    let known = super::support::existing_schools(db, schools).await?;
    let taken = account_schools::Entity::find()
        .filter(account_schools::Column::SchoolId.is_in(schools.iter().map(SchoolId::as_uuid)))
        .all(db)
        .await?;
    for (i, school) in schools.iter().enumerate() {
        let f = if schools.len() == 1 && !field.ends_with('s') {
            field.to_owned()
        } else {
            format!("{field}.{i}")
        };
        if !known.contains(school) {
            problems.add(&f, ErrorCode::NotFound, "no such school");
        } else if taken.iter().any(|t| t.school_id == school.as_uuid()) {
            problems.add(
                &f,
                ErrorCode::Taken,
                "this school is already billed through another account",
            );
        }
    }
    Ok(())
}

/// Opens a billing account.
pub async fn create(
    db: &DatabaseConnection,
    actor: &Actor,
    clock: &dyn Clock,
    input: NewBillingAccount,
) -> Result<BillingAccount, DomainError> {
    actor.require(Permission::ManageBilling)?;
    let mut problems = Problems::new();
    let name = problems.check(required_text("name", &input.name, NAME_MAX));
    let contact_name = problems.check(required_text("contactName", &input.contact_name, NAME_MAX));
    let contact_email = problems.check(check_email("contactEmail", &input.contact_email));
    let address = check_address(&mut problems, &input.address);
    let mut schools = input.school_ids.clone();
    schools.sort();
    schools.dedup();
    if input.kind == AccountKind::School && schools.len() != 1 {
        problems.add(
            "schoolIds",
            ErrorCode::Invalid,
            "a SCHOOL account pays for exactly one school",
        );
    }
    check_schools(db, &mut problems, "schoolIds", &input.school_ids).await?;
    let (name, contact_name, contact_email, address) =
        problems.finish_with((name, contact_name, contact_email, address))?;

    let now = clock.now();
    let id = BillingAccountId::new();
    let txn = db.begin_write().await?;
    accounts::ActiveModel {
        id: Set(id.as_uuid()),
        kind: Set(input.kind.as_str().to_owned()),
        name: Set(name),
        contact_name: Set(contact_name),
        contact_email: Set(contact_email),
        address_lines: Set(serde_json::to_string(&address.lines).map_err(DomainError::internal)?),
        postcode: Set(address.postcode),
        default_method: Set(input.default_method.as_str().to_owned()),
        provider_customer_ref: Set(None),
        ledger_version: Set(0),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(&txn)
    .await?;
    if !schools.is_empty() {
        let inserted = account_schools::Entity::insert_many(schools.iter().map(|s| {
            account_schools::ActiveModel {
                school_id: Set(s.as_uuid()),
                account_id: Set(id.as_uuid()),
            }
        }))
        .exec(&txn)
        .await;
        match inserted {
            Err(err) if is_unique_violation(&err) => {
                return Err(DomainError::invalid(
                    "schoolIds",
                    ErrorCode::Taken,
                    "a school is already billed through another account",
                ));
            }
            other => {
                other?;
            }
        }
    }
    let account = load(&txn, id).await?.ok_or(DomainError::NotFound {
        entity: "BillingAccount",
    })?;
    audit::record(
        &txn,
        actor,
        clock,
        "account.create",
        (AuditEntity::BillingAccount, id.as_uuid()),
        None::<&()>,
        Some(&account),
    )
    .await?;
    txn.commit().await?;
    Ok(account)
}

/// Changes an account's details.
pub async fn update(
    db: &DatabaseConnection,
    actor: &Actor,
    clock: &dyn Clock,
    id: BillingAccountId,
    changes: AccountChanges,
) -> Result<BillingAccount, DomainError> {
    actor.require(Permission::ManageBilling)?;
    let mut problems = Problems::new();
    let name = changes
        .name
        .as_deref()
        .and_then(|v| problems.check(required_text("name", v, NAME_MAX)));
    let contact_name = changes
        .contact_name
        .as_deref()
        .and_then(|v| problems.check(required_text("contactName", v, NAME_MAX)));
    let contact_email = changes
        .contact_email
        .as_deref()
        .and_then(|v| problems.check(check_email("contactEmail", v)));
    let address = changes
        .address
        .as_ref()
        .and_then(|a| check_address(&mut problems, a));
    let customer_ref = changes
        .provider_customer_ref
        .as_ref()
        .and_then(|r| problems.check(optional_text("providerCustomerRef", r.as_deref(), NAME_MAX)))
        .flatten();
    problems.finish()?;

    let txn = db.begin_write().await?;
    super::support::lock_account(&txn, id).await?;
    let before = load(&txn, id).await?.ok_or(DomainError::NotFound {
        entity: "BillingAccount",
    })?;
    let mut row = accounts::ActiveModel {
        id: sea_orm::Unchanged(id.as_uuid()),
        ..Default::default()
    };
    if let Some(v) = name {
        row.name = Set(v);
    }
    if let Some(v) = contact_name {
        row.contact_name = Set(v);
    }
    if let Some(v) = contact_email {
        row.contact_email = Set(v);
    }
    if let Some(a) = address {
        row.address_lines = Set(serde_json::to_string(&a.lines).map_err(DomainError::internal)?);
        row.postcode = Set(a.postcode);
    }
    if let Some(m) = changes.default_method {
        row.default_method = Set(m.as_str().to_owned());
    }
    if changes.provider_customer_ref.is_some() {
        row.provider_customer_ref = Set(customer_ref);
    }
    row.updated_at = Set(clock.now());
    row.update(&txn).await?;
    let after = load(&txn, id).await?.ok_or(DomainError::NotFound {
        entity: "BillingAccount",
    })?;
    audit::record(
        &txn,
        actor,
        clock,
        "account.update",
        (AuditEntity::BillingAccount, id.as_uuid()),
        Some(&before),
        Some(&after),
    )
    .await?;
    txn.commit().await?;
    Ok(after)
}

/// Makes `account` the payer for `school`. A SCHOOL account holds one school; a TRUST any.
pub async fn attach_school(
    db: &DatabaseConnection,
    actor: &Actor,
    clock: &dyn Clock,
    account: BillingAccountId,
    school: SchoolId,
) -> Result<BillingAccount, DomainError> {
    actor.require(Permission::ManageBilling)?;
    let txn = db.begin_write().await?;
    super::support::lock_account(&txn, account).await?;
    let before = load(&txn, account).await?.ok_or(DomainError::NotFound {
        entity: "BillingAccount",
    })?;
    let mut problems = Problems::new();
    if before.kind == AccountKind::School && !before.school_ids.is_empty() {
        problems.add(
            "schoolId",
            ErrorCode::Conflict,
            "a SCHOOL account pays for exactly one school; use a TRUST account",
        );
    } else {
        check_schools(&txn, &mut problems, "schoolId", &[school]).await?;
    }
    problems.finish()?;
    let inserted = account_schools::ActiveModel {
        school_id: Set(school.as_uuid()),
        account_id: Set(account.as_uuid()),
    }
    .insert(&txn)
    .await;
    match inserted {
        Err(err) if is_unique_violation(&err) => {
            return Err(DomainError::invalid(
                "schoolId",
                ErrorCode::Taken,
                "this school is already billed through another account",
            ));
        }
        other => {
            other?;
        }
    }
    accounts::ActiveModel {
        id: sea_orm::Unchanged(account.as_uuid()),
        updated_at: Set(clock.now()),
        ..Default::default()
    }
    .update(&txn)
    .await?;
    let after = load(&txn, account).await?.ok_or(DomainError::NotFound {
        entity: "BillingAccount",
    })?;
    audit::record(
        &txn,
        actor,
        clock,
        "account.attach_school",
        (AuditEntity::BillingAccount, account.as_uuid()),
        Some(&before),
        Some(&after),
    )
    .await?;
    txn.commit().await?;
    Ok(after)
}

/// One account, if the actor may see it.
pub async fn account<C: ConnectionTrait>(
    db: &C,
    actor: &Actor,
    id: BillingAccountId,
) -> Result<BillingAccount, DomainError> {
    let sight = Sight::of(actor)?;
    load(db, id)
        .await?
        .filter(|a| sight.sees(&a.school_ids))
        .ok_or(DomainError::NotFound {
            entity: "BillingAccount",
        })
}

/// The account `school` is billed through, if any. For the invoicing run: no actor.
pub async fn account_for_school<C: ConnectionTrait>(
    db: &C,
    school: SchoolId,
) -> Result<Option<BillingAccount>, DomainError> {
    Ok(accounts_of_schools(db, &[school]).await?.remove(&school))
}

/// Accounts by id, for batch loading. Missing ids are absent.
pub async fn accounts_by_ids<C: ConnectionTrait>(
    db: &C,
    ids: &[BillingAccountId],
) -> Result<HashMap<BillingAccountId, BillingAccount>, DomainError> {
    let rows = accounts::Entity::find()
        .filter(accounts::Column::Id.is_in(ids.iter().map(BillingAccountId::as_uuid)))
        .find_with_related(account_schools::Entity)
        .all(db)
        .await?;
    rows.into_iter()
        .map(|(row, schools)| BillingAccount::from_rows(row, &schools).map(|a| (a.id, a)))
        .collect()
}

/// Where [`joined_columns`] puts the account's columns and each of its schools.
const JOINED_ACCOUNT: &str = "joined_account_";
const JOINED_SCHOOL: &str = "joined_account_school_id";

/// The `SELECT` list reading an account joined as `alias` and its schools (a left join of
/// `billing_account_schools`) joined as `schools_alias`, one row per school: an invoice page
/// reads its accounts this way, in the page's statement.
pub(super) fn joined_columns(alias: &str, schools_alias: &str) -> String {
    format!(
        "{}, {schools_alias}.school_id AS {JOINED_SCHOOL}",
        kernel::persistence::joined_select_list::<accounts::Entity>(alias, JOINED_ACCOUNT)
    )
}

/// The account [`joined_columns`] put in `rows` from column `start` on: every row of one
/// account, one per school. Read by position (`kernel::persistence::by_position`): the
/// account's columns in the entity's order, then the school's id.
pub(super) fn joined_account(
    rows: &[sea_orm::QueryResult],
    start: usize,
) -> Result<BillingAccount, DomainError> {
    let first = rows.first().ok_or_else(|| {
        DomainError::internal(super::support::CorruptRow(
            "a joined account without rows".into(),
        ))
    })?;
    let row = accounts::Model::decode_at(first, start)?;
    let school_at = start + <accounts::Model as DecodeAt>::COLUMNS;
    let schools = rows
        .iter()
        .filter_map(|r| r.try_get_by_index::<Option<Uuid>>(school_at).transpose())
        .map(|school| {
            Ok(account_schools::Model {
                school_id: school?,
                account_id: row.id,
            })
        })
        .collect::<Result<Vec<_>, DomainError>>()?;
    BillingAccount::from_rows(row, &schools)
}

/// Each school's paying account, for batch loading. Schools without one are absent.
pub async fn accounts_of_schools<C: ConnectionTrait>(
    db: &C,
    schools: &[SchoolId],
) -> Result<HashMap<SchoolId, BillingAccount>, DomainError> {
    let rows = accounts::Entity::find()
        .filter(
            accounts::Column::Id.in_subquery(
                sea_orm::sea_query::Query::select()
                    .column(account_schools::Column::AccountId)
                    .from(account_schools::Entity)
                    .and_where(
                        account_schools::Column::SchoolId
                            .is_in(schools.iter().map(SchoolId::as_uuid)),
                    )
                    .to_owned(),
            ),
        )
        .find_with_related(account_schools::Entity)
        .all(db)
        .await?;
    let mut out = HashMap::new();
    for (row, linked) in rows {
        let account = BillingAccount::from_rows(row, &linked)?;
        for school in &account.school_ids {
            if schools.contains(school) {
                out.insert(*school, account.clone());
            }
        }
    }
    Ok(out)
}

/// Accounts the actor may see, by name (keyset).
pub async fn list<C: ConnectionTrait>(
    db: &C,
    actor: &Actor,
    args: &PageArgs<NameKey>,
) -> Result<Page<BillingAccount>, DomainError> {
    let sight = Sight::of(actor)?;
    let mut select = accounts::Entity::find();
    if let Sight::Schools(own) = &sight {
        select = select.filter(
            accounts::Column::Id.in_subquery(
                sea_orm::sea_query::Query::select()
                    .column(account_schools::Column::AccountId)
                    .from(account_schools::Entity)
                    .and_where(
                        account_schools::Column::SchoolId.is_in(own.iter().map(SchoolId::as_uuid)),
                    )
                    .to_owned(),
            ),
        );
    }
    let page = fetch_page(
        db,
        select,
        accounts::Column::Name,
        accounts::Column::Id,
        args,
    )
    .await?;
    let ids: Vec<uuid::Uuid> = page.items.iter().map(|r| r.id).collect();
    let links = account_schools::Entity::find()
        .filter(account_schools::Column::AccountId.is_in(ids))
        .all(db)
        .await?;
    let mut items = Vec::with_capacity(page.items.len());
    for row in page.items {
        let mine: Vec<_> = links
            .iter()
            .filter(|l| l.account_id == row.id)
            .cloned()
            .collect();
        items.push(BillingAccount::from_rows(row, &mine)?);
    }
    Ok(Page {
        items,
        has_next_page: page.has_next_page,
        has_previous_page: page.has_previous_page,
    })
}

/// The ids of the accounts an actor may see, `None` meaning all: the reports' filter.
pub(crate) async fn visible_account_ids<C: ConnectionTrait>(
    db: &C,
    sight: &Sight,
) -> Result<Option<Vec<uuid::Uuid>>, DomainError> {
    match sight {
        Sight::All => Ok(None),
        Sight::Schools(own) => {
            let rows: Vec<uuid::Uuid> = account_schools::Entity::find()
                .select_only()
                .column(account_schools::Column::AccountId)
                .filter(account_schools::Column::SchoolId.is_in(own.iter().map(SchoolId::as_uuid)))
                .into_tuple()
                .all(db)
                .await?;
            Ok(Some(rows))
        }
    }
}

/// The schools of an account, for visibility checks inside other services.
pub(crate) async fn schools_of_account<C: ConnectionTrait>(
    db: &C,
    account: uuid::Uuid,
) -> Result<Vec<SchoolId>, DomainError> {
    let rows: Vec<uuid::Uuid> = account_schools::Entity::find()
        .select_only()
        .column(account_schools::Column::SchoolId)
        .filter(account_schools::Column::AccountId.eq(account))
        .into_tuple()
        .all(db)
        .await?;
    Ok(rows.into_iter().map(SchoolId::from_uuid).collect())
}

/// The schools of each of `accounts` (one statement), for issuing many invoices at once. An
/// account with no schools, or no such account, has no entry.
pub(crate) async fn schools_of_accounts<C: ConnectionTrait>(
    db: &C,
    accounts: &[uuid::Uuid],
) -> Result<HashMap<uuid::Uuid, Vec<SchoolId>>, DomainError> {
    let rows: Vec<(uuid::Uuid, uuid::Uuid)> = account_schools::Entity::find()
        .select_only()
        .column(account_schools::Column::AccountId)
        .column(account_schools::Column::SchoolId)
        .filter(account_schools::Column::AccountId.is_in(accounts.iter().copied()))
        .into_tuple()
        .all(db)
        .await?;
    let mut out: HashMap<uuid::Uuid, Vec<SchoolId>> = HashMap::new();
    for (account, school) in rows {
        out.entry(account)
            .or_default()
            .push(SchoolId::from_uuid(school));
    }
    Ok(out)
}
