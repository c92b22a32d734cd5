//! The catalogue: services a school can buy, who provides them and at what price.
//!
//! Partnership admins create and change services and publish them; everybody signed in (and
//! `catalogue:read` keys) reads the published catalogue. A service provided by a school
//! (school-to-school support, e.g. a National Support School's leaders) names that school:
//! its leaders then take the register of its sessions.

use std::collections::HashMap;

use billing::ledger::invoices::VatTreatment;
use chrono::{DateTime, Utc};
use kernel::BeginWrite as _;
use kernel::{
    Actor, Clock, DomainError, ErrorCode, Money, OfferItemId, Permission, Problems, SchoolId,
    ServiceId,
};
use membership::school::types::Phase;
use membership::{NameKey, Page, PageArgs, fetch_page};
use sea_orm::sea_query::{Expr, ExprTrait, Query};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, ConnectionTrait, DatabaseConnection, EntityTrait,
    QueryFilter, Set,
};
use serde::Serialize;

use crate::entity::{service_phases, services, sessions};
use crate::support::{is_unique_violation, optional_text, required_text, stored};
use crate::types::{Category, Delivery, SessionStatus};
use crate::visibility::rules::may_see_service;

const CODE_MAX: usize = 40;
const TITLE_MAX: usize = 200;
const DESCRIPTION_MAX: usize = 5000;
const AUDIENCE_MAX: usize = 500;
const PROVIDER_MAX: usize = 200;
/// £100,000 a place: far above any traded price, keeps every sum inside i64.
const MAX_PRICE_PENCE: i64 = 10_000_000;

/// A catalogue entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Service {
    pub id: ServiceId,
    /// Stable upper-case handle, e.g. `CPD-PHONICS-KS1`.
    pub code: String,
    pub title: String,
    pub category: Category,
    pub description: String,
    /// Who it is for, in words.
    pub audience: String,
    /// The phases it is for; empty means every phase.
    pub phases: Vec<Phase>,
    /// `None`: partnership staff provide it; otherwise the school giving the support.
    pub provider_school_id: Option<SchoolId>,
    /// The team or person delivering, as shown in the catalogue.
    pub provider_name: String,
    pub delivery: Delivery,
    /// Per place, for schools with an ACTIVE membership in the session's year.
    pub member_price: Money,
    /// Per place for other schools; `None`: sold to member schools only.
    pub non_member_price: Option<Money>,
    pub vat_treatment: VatTreatment,
    /// Basis points: 2000 = 20%. Zero when exempt.
    pub vat_rate_bp: u32,
    /// The school's ledger code for the spend (e.g. `E19`), carried onto invoices.
    pub cfr_code: Option<String>,
    /// The core-offer item that can pay for a place (settlement OFFER).
    pub offer_item_id: Option<OfferItemId>,
    pub published: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl Service {
    /// The keyset sort key of catalogue lists (by title).
    #[must_use]
    pub fn sort_key(&self) -> NameKey {
        (self.title.clone(), self.id.as_uuid())
    }

    pub(crate) fn from_row(row: services::Model) -> Result<Self, DomainError> {
        let phases = row
            .phases
            .split(',')
            .filter(|p| !p.is_empty())
            .map(|p| stored("phase", p))
            .collect::<Result<Vec<Phase>, _>>()?;
        Ok(Self {
            id: ServiceId::from_uuid(row.id),
            category: stored("service category", &row.category)?,
            delivery: stored("delivery", &row.delivery)?,
            vat_treatment: stored("vat treatment", &row.vat_treatment)?,
            vat_rate_bp: u32::try_from(row.vat_rate_bp).unwrap_or(0),
            member_price: Money::from_pence(row.member_price_pence),
            non_member_price: row.non_member_price_pence.map(Money::from_pence),
            provider_school_id: row.provider_school_id.map(SchoolId::from_uuid),
            offer_item_id: row.offer_item_id.map(OfferItemId::from_uuid),
            phases,
            code: row.code,
            title: row.title,
            description: row.description,
            audience: row.audience,
            provider_name: row.provider_name,
            cfr_code: row.cfr_code,
            published: row.published,
            created_at: row.created_at,
            updated_at: row.updated_at,
        })
    }
}

/// A new catalogue entry (created unpublished).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewService {
    pub code: String,
    pub title: String,
    pub category: Category,
    pub description: String,
    pub audience: String,
    pub phases: Vec<Phase>,
    pub provider_school_id: Option<SchoolId>,
    pub provider_name: String,
    pub delivery: Delivery,
    pub member_price: Money,
    pub non_member_price: Option<Money>,
    pub vat_treatment: VatTreatment,
    pub vat_rate_bp: u32,
    pub cfr_code: Option<String>,
    pub offer_item_id: Option<OfferItemId>,
}

/// Changes to a service; `None` leaves a field as it is (`Some(None)` clears a nullable one).
/// Prices change for bookings made afterwards only: a booking keeps the price it was made at.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ServicePatch {
    pub title: Option<String>,
    pub category: Option<Category>,
    pub description: Option<String>,
    pub audience: Option<String>,
    pub phases: Option<Vec<Phase>>,
    pub provider_school_id: Option<Option<SchoolId>>,
    pub provider_name: Option<String>,
    pub delivery: Option<Delivery>,
    pub member_price: Option<Money>,
    pub non_member_price: Option<Option<Money>>,
    pub vat_treatment: Option<VatTreatment>,
    pub vat_rate_bp: Option<u32>,
    pub cfr_code: Option<Option<String>>,
    pub offer_item_id: Option<Option<OfferItemId>>,
}

/// Who provides a service, for filtering.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProviderFilter {
    /// Partnership staff.
    Partnership,
    /// One school's school-to-school support.
    School(SchoolId),
    /// Every school's school-to-school support (no partnership staff).
    AnySchool,
}

/// Narrows the catalogue. Empty means every published service.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ServiceFilter {
    /// Words looked for in the code, title, description, audience and provider.
    pub text: Option<String>,
    pub category: Option<Category>,
    /// Services for this phase (including those for every phase).
    pub phase: Option<Phase>,
    pub delivery: Option<Delivery>,
    pub provider: Option<ProviderFilter>,
    /// Only services with a scheduled session still to start (`true`), or without (`false`).
    pub has_upcoming_sessions: Option<bool>,
    /// Unpublished services too; only for callers who manage the catalogue.
    pub include_unpublished: bool,
}

fn code(field: &str, value: &str) -> Result<String, kernel::FieldError> {
    let value = required_text(field, value, CODE_MAX)?.to_ascii_uppercase();
    if value
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        Ok(value)
    } else {
        Err(kernel::FieldError::new(
            field,
            ErrorCode::Invalid,
            "letters, digits, '-' and '_' only",
        ))
    }
}

fn price(problems: &mut Problems, field: &str, money: Money) {
    if !(0..=MAX_PRICE_PENCE).contains(&money.pence()) {
        problems.add(
            field,
            ErrorCode::OutOfRange,
            "must be between £0 and £100,000",
        );
    }
}

fn vat(problems: &mut Problems, treatment: VatTreatment, rate_bp: u32) {
    match (treatment, rate_bp) {
        (VatTreatment::Exempt, 0) | (VatTreatment::Standard, 1..=10_000) => {}
        (VatTreatment::Exempt, _) => problems.add(
            "vatRateBp",
            ErrorCode::Invalid,
            "an exempt service has no VAT rate",
        ),
        (VatTreatment::Standard, _) => problems.add(
            "vatRateBp",
            ErrorCode::OutOfRange,
            "a standard-rated service needs a rate between 1 and 10000 basis points",
        ),
    }
}

fn cfr(value: Option<&str>) -> Result<Option<String>, kernel::FieldError> {
    let value = optional_text("cfrCode", value, 10)?;
    match value {
        Some(c) if !c.chars().all(|ch| ch.is_ascii_alphanumeric()) => Err(kernel::FieldError::new(
            "cfrCode",
            ErrorCode::Invalid,
            "letters and digits, e.g. E19",
        )),
        other => Ok(other.map(|c| c.to_ascii_uppercase())),
    }
}

async fn check_references(
    db: &DatabaseConnection,
    problems: &mut Problems,
    provider_school: Option<SchoolId>,
    offer_item: Option<OfferItemId>,
) -> Result<(), DomainError> {
    if let Some(school) = provider_school
        && membership::school::by_ids(db, &[school]).await?.is_empty()
    {
        problems.add("providerSchoolId", ErrorCode::NotFound, "no such school");
    }
    if let Some(item) = offer_item
        && offer::items_by_ids(db, &[item]).await?.is_empty()
    {
        problems.add("offerItemId", ErrorCode::NotFound, "no such offer item");
    }
    Ok(())
}

fn phases_text(phases: &[Phase]) -> String {
    let mut sorted: Vec<Phase> = phases.to_vec();
    sorted.sort();
    sorted.dedup();
    sorted
        .iter()
        .map(|p| p.as_str())
        .collect::<Vec<_>>()
        .join(",")
}

fn search_text(row: &services::ActiveModel) -> String {
    let part = |v: &sea_orm::ActiveValue<String>| match v {
        sea_orm::ActiveValue::Set(s) | sea_orm::ActiveValue::Unchanged(s) => s.clone(),
        sea_orm::ActiveValue::NotSet => String::new(),
    };
    [
        part(&row.code),
        part(&row.title),
        part(&row.description),
        part(&row.audience),
        part(&row.provider_name),
    ]
    .join(" ")
    .to_lowercase()
}

async fn write_phases<C: ConnectionTrait>(
    txn: &C,
    service: ServiceId,
    phases: &[Phase],
) -> Result<(), DomainError> {
    service_phases::Entity::delete_many()
        .filter(service_phases::Column::ServiceId.eq(service.as_uuid()))
        .exec(txn)
        .await?;
    let mut sorted: Vec<Phase> = phases.to_vec();
    sorted.sort();
    sorted.dedup();
    if !sorted.is_empty() {
        service_phases::Entity::insert_many(sorted.into_iter().map(|p| {
            service_phases::ActiveModel {
                service_id: Set(service.as_uuid()),
                phase: Set(p.as_str().to_owned()),
            }
        }))
        .exec(txn)
        .await?;
    }
    Ok(())
}

fn code_taken() -> DomainError {
    DomainError::invalid("code", ErrorCode::Taken, "another service has this code")
}

/// Adds a service to the catalogue, unpublished. Partnership admins.
pub async fn create_service(
    db: &DatabaseConnection,
    actor: &Actor,
    clock: &dyn Clock,
    input: NewService,
) -> Result<Service, DomainError> {
    actor.require(Permission::ManageCatalogue)?;
    let mut problems = Problems::new();
    let code = problems.check(code("code", &input.code));
    let title = problems.check(required_text("title", &input.title, TITLE_MAX));
    let description = problems.check(optional_text(
        "description",
        Some(&input.description),
        DESCRIPTION_MAX,
    ));
    let audience = problems.check(optional_text(
        "audience",
        Some(&input.audience),
        AUDIENCE_MAX,
    ));
    let provider_name = problems.check(required_text(
        "providerName",
        &input.provider_name,
        PROVIDER_MAX,
    ));
    price(&mut problems, "memberPricePence", input.member_price);
    if let Some(p) = input.non_member_price {
        price(&mut problems, "nonMemberPricePence", p);
    }
    vat(&mut problems, input.vat_treatment, input.vat_rate_bp);
    let cfr_code = problems.check(cfr(input.cfr_code.as_deref()));
    check_references(
        db,
        &mut problems,
        input.provider_school_id,
        input.offer_item_id,
    )
    .await?;
    if let Some(code) = &code
        && services::Entity::find()
            .filter(services::Column::Code.eq(code.as_str()))
            .one(db)
            .await?
            .is_some()
    {
        problems.add("code", ErrorCode::Taken, "another service has this code");
    }
    let (code, title, description, audience, provider_name, cfr_code) =
        problems.finish_with((code, title, description, audience, provider_name, cfr_code))?;

    let now = clock.now();
    let id = ServiceId::new();
    let mut row = services::ActiveModel {
        id: Set(id.as_uuid()),
        code: Set(code),
        title: Set(title),
        category: Set(input.category.as_str().to_owned()),
        description: Set(description.unwrap_or_default()),
        audience: Set(audience.unwrap_or_default()),
        provider_school_id: Set(input.provider_school_id.map(|s| s.as_uuid())),
        provider_name: Set(provider_name),
        delivery: Set(input.delivery.as_str().to_owned()),
        member_price_pence: Set(input.member_price.pence()),
        non_member_price_pence: Set(input.non_member_price.map(Money::pence)),
        vat_treatment: Set(input.vat_treatment.as_str().to_owned()),
        vat_rate_bp: Set(i32::try_from(input.vat_rate_bp).unwrap_or(0)),
        cfr_code: Set(cfr_code),
        offer_item_id: Set(input.offer_item_id.map(|i| i.as_uuid())),
        published: Set(false),
        search_text: Set(String::new()),
        phases: Set(phases_text(&input.phases)),
        created_at: Set(now),
        updated_at: Set(now),
    };
    row.search_text = Set(search_text(&row));
    let txn = db.begin_write().await?;
    let inserted = match row.insert(&txn).await {
        Ok(row) => row,
        Err(err) if is_unique_violation(&err) => return Err(code_taken()),
        Err(err) => return Err(err.into()),
    };
    write_phases(&txn, id, &input.phases).await?;
    txn.commit().await?;
    Service::from_row(inserted)
}

async fn load_row<C: ConnectionTrait>(
    db: &C,
    id: ServiceId,
) -> Result<services::Model, DomainError> {
    services::Entity::find_by_id(id.as_uuid())
        .one(db)
        .await?
        .ok_or(DomainError::NotFound {
            entity: "TradedService",
        })
}

/// Changes a service. Partnership admins.
pub async fn update_service(
    db: &DatabaseConnection,
    actor: &Actor,
    clock: &dyn Clock,
    id: ServiceId,
    patch: ServicePatch,
) -> Result<Service, DomainError> {
    actor.require(Permission::ManageCatalogue)?;
    let current = Service::from_row(load_row(db, id).await?)?;
    let mut problems = Problems::new();
    let title = patch
        .title
        .as_deref()
        .and_then(|t| problems.check(required_text("title", t, TITLE_MAX)));
    let description = patch
        .description
        .as_deref()
        .and_then(|t| problems.check(optional_text("description", Some(t), DESCRIPTION_MAX)));
    let audience = patch
        .audience
        .as_deref()
        .and_then(|t| problems.check(optional_text("audience", Some(t), AUDIENCE_MAX)));
    let provider_name = patch
        .provider_name
        .as_deref()
        .and_then(|t| problems.check(required_text("providerName", t, PROVIDER_MAX)));
    if let Some(p) = patch.member_price {
        price(&mut problems, "memberPricePence", p);
    }
    if let Some(Some(p)) = patch.non_member_price {
        price(&mut problems, "nonMemberPricePence", p);
    }
    vat(
        &mut problems,
        patch.vat_treatment.unwrap_or(current.vat_treatment),
        patch.vat_rate_bp.unwrap_or(current.vat_rate_bp),
    );
    let cfr_code = patch
        .cfr_code
        .as_ref()
        .map(|value| problems.check(cfr(value.as_deref())));
    check_references(
        db,
        &mut problems,
        patch.provider_school_id.flatten(),
        patch.offer_item_id.flatten(),
    )
    .await?;
    problems.finish()?;

    let mut row: services::ActiveModel = load_row(db, id).await?.into();
    if let Some(t) = title {
        row.title = Set(t);
    }
    if let Some(c) = patch.category {
        row.category = Set(c.as_str().to_owned());
    }
    if let Some(d) = description {
        row.description = Set(d.unwrap_or_default());
    }
    if let Some(a) = audience {
        row.audience = Set(a.unwrap_or_default());
    }
    if let Some(p) = &patch.phases {
        row.phases = Set(phases_text(p));
    }
    if let Some(s) = patch.provider_school_id {
        row.provider_school_id = Set(s.map(|s| s.as_uuid()));
    }
    if let Some(n) = provider_name {
        row.provider_name = Set(n);
    }
    if let Some(d) = patch.delivery {
        row.delivery = Set(d.as_str().to_owned());
    }
    if let Some(p) = patch.member_price {
        row.member_price_pence = Set(p.pence());
    }
    if let Some(p) = patch.non_member_price {
        row.non_member_price_pence = Set(p.map(Money::pence));
    }
    if let Some(v) = patch.vat_treatment {
        row.vat_treatment = Set(v.as_str().to_owned());
    }
    if let Some(r) = patch.vat_rate_bp {
        row.vat_rate_bp = Set(i32::try_from(r).unwrap_or(0));
    }
    if let Some(Some(c)) = cfr_code {
        row.cfr_code = Set(c);
    }
    if let Some(i) = patch.offer_item_id {
        row.offer_item_id = Set(i.map(|i| i.as_uuid()));
    }
    row.search_text = Set(search_text(&row));
    row.updated_at = Set(clock.now());
    let txn = db.begin_write().await?;
    let updated = row.update(&txn).await?;
    if let Some(p) = &patch.phases {
        write_phases(&txn, id, p).await?;
    }
    txn.commit().await?;
    Service::from_row(updated)
}

async fn set_published(
    db: &DatabaseConnection,
    actor: &Actor,
    clock: &dyn Clock,
    id: ServiceId,
    published: bool,
) -> Result<Service, DomainError> {
    actor.require(Permission::ManageCatalogue)?;
    let mut row: services::ActiveModel = load_row(db, id).await?.into();
    row.published = Set(published);
    row.updated_at = Set(clock.now());
    Service::from_row(row.update(db).await?)
}

/// Shows a service in the catalogue. Partnership admins.
pub async fn publish_service(
    db: &DatabaseConnection,
    actor: &Actor,
    clock: &dyn Clock,
    id: ServiceId,
) -> Result<Service, DomainError> {
    set_published(db, actor, clock, id, true).await
}

/// Takes a service out of the catalogue: no new bookings; existing ones stand.
pub async fn unpublish_service(
    db: &DatabaseConnection,
    actor: &Actor,
    clock: &dyn Clock,
    id: ServiceId,
) -> Result<Service, DomainError> {
    set_published(db, actor, clock, id, false).await
}

/// One service, if the actor may see it.
pub async fn service(
    db: &DatabaseConnection,
    actor: &Actor,
    id: ServiceId,
) -> Result<Service, DomainError> {
    actor.require(Permission::ReadCatalogue)?;
    let service = Service::from_row(load_row(db, id).await?)?;
    if may_see_service(actor, service.published) {
        Ok(service)
    } else {
        Err(DomainError::NotFound {
            entity: "TradedService",
        })
    }
}

/// A service by its code, if the actor may see it.
pub async fn service_by_code(
    db: &DatabaseConnection,
    actor: &Actor,
    code: &str,
) -> Result<Option<Service>, DomainError> {
    actor.require(Permission::ReadCatalogue)?;
    let row = services::Entity::find()
        .filter(services::Column::Code.eq(code.trim().to_ascii_uppercase()))
        .one(db)
        .await?;
    Ok(row
        .map(Service::from_row)
        .transpose()?
        .filter(|s| may_see_service(actor, s.published)))
}

/// Services by id, unchecked (one statement; missing ids are absent): for edges from a record
/// the caller was shown; [`crate::visible_services`] answers only what the caller may see.
pub async fn services_by_ids<C: ConnectionTrait>(
    db: &C,
    ids: &[ServiceId],
) -> Result<HashMap<ServiceId, Service>, DomainError> {
    services::Entity::find()
        .filter(services::Column::Id.is_in(ids.iter().map(ServiceId::as_uuid)))
        .all(db)
        .await?
        .into_iter()
        .map(|row| Service::from_row(row).map(|s| (s.id, s)))
        .collect()
}

/// The catalogue's conditions for `filter` as `actor` sees it (drafts for its managers only).
pub(crate) fn filtered(
    actor: &Actor,
    filter: &ServiceFilter,
    now: DateTime<Utc>,
) -> Result<Condition, DomainError> {
    let mut cond = Condition::all();
    if !(filter.include_unpublished && actor.can(Permission::ManageCatalogue)) {
        cond = cond.add(services::Column::Published.eq(true));
    }
    if let Some(text) = kernel::search_text("search", filter.text.as_deref())? {
        for word in text.split_whitespace() {
            cond =
                cond.add(Expr::col(services::Column::SearchText).like(
                    sea_orm::sea_query::LikeExpr::new(kernel::like_contains(word)).escape('\\'),
                ));
        }
    }
    if let Some(category) = filter.category {
        cond = cond.add(services::Column::Category.eq(category.as_str()));
    }
    if let Some(delivery) = filter.delivery {
        cond = cond.add(services::Column::Delivery.eq(delivery.as_str()));
    }
    match filter.provider {
        Some(ProviderFilter::Partnership) => {
            cond = cond.add(services::Column::ProviderSchoolId.is_null());
        }
        Some(ProviderFilter::School(school)) => {
            cond = cond.add(services::Column::ProviderSchoolId.eq(school.as_uuid()));
        }
        Some(ProviderFilter::AnySchool) => {
            cond = cond.add(services::Column::ProviderSchoolId.is_not_null());
        }
        None => {}
    }
    if let Some(phase) = filter.phase {
        let with_phase = Query::select()
            .column(service_phases::Column::ServiceId)
            .from(service_phases::Entity)
            .and_where(service_phases::Column::Phase.eq(phase.as_str()))
            .to_owned();
        cond = cond.add(
            Condition::any()
                .add(services::Column::Id.in_subquery(with_phase))
                .add(services::Column::Phases.eq("")),
        );
    }
    if let Some(upcoming) = filter.has_upcoming_sessions {
        let with_upcoming = Query::select()
            .column(sessions::Column::ServiceId)
            .from(sessions::Entity)
            .and_where(sessions::Column::StartsAt.gt(now))
            .and_where(sessions::Column::Status.eq(SessionStatus::Scheduled.as_str()))
            .to_owned();
        cond = cond.add(if upcoming {
            services::Column::Id.in_subquery(with_upcoming)
        } else {
            services::Column::Id.not_in_subquery(with_upcoming)
        });
    }
    Ok(cond)
}

/// One page of the catalogue by title.
pub async fn services(
    db: &DatabaseConnection,
    actor: &Actor,
    clock: &dyn Clock,
    filter: &ServiceFilter,
    page: &PageArgs<NameKey>,
) -> Result<Page<Service>, DomainError> {
    actor.require(Permission::ReadCatalogue)?;
    let select = services::Entity::find().filter(filtered(actor, filter, clock.now())?);
    let rows = fetch_page(
        db,
        select,
        services::Column::Title,
        services::Column::Id,
        page,
    )
    .await?;
    rows.try_map(Service::from_row)
}

/// How many services match, for `totalCount`.
pub async fn count_services(
    db: &DatabaseConnection,
    actor: &Actor,
    clock: &dyn Clock,
    filter: &ServiceFilter,
) -> Result<u64, DomainError> {
    use sea_orm::PaginatorTrait;
    actor.require(Permission::ReadCatalogue)?;
    Ok(services::Entity::find()
        .filter(filtered(actor, filter, clock.now())?)
        .count(db)
        .await?)
}
