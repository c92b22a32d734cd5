//! Running the catalogue: partnership admins create, change, publish and withdraw services,
//! and schedule and change their sessions. Anything the caller can fix comes back as
//! `userErrors` with nothing changed. Bookings are changed in [`super::booking`].

use async_graphql::{Context, ID, InputObject, MaybeUndefined, Object, SimpleObject};
use chrono::{DateTime, Utc};
use kernel::{DomainError, FieldError, Money, OfferItemId, SchoolId, ServiceId, SessionId};
use traded::{
    CancellationPolicy, NewService, NewSession, Service, ServicePatch, Session, SessionPart,
    SessionPatch,
};

use super::enums::{ServiceCategory, ServiceDelivery};
use super::types::{ServiceNode, SessionNode};
use crate::graphql::billing::fees::VatTreatment;
use crate::graphql::context::ContextExt;
use crate::graphql::directory::enums::Phase;
use crate::graphql::errors::{UserError, payload};
use crate::graphql::int;
use crate::graphql::relay::{GlobalId, expect_input};

/// A `MaybeUndefined` input as a patch: left out → unchanged, `null` → cleared.
#[allow(
    clippy::option_option,
    reason = "the domain's patches spell the three cases this way"
)]
fn patch<T, U>(
    value: MaybeUndefined<T>,
    convert: impl FnOnce(T) -> Result<U, DomainError>,
) -> Result<Option<Option<U>>, DomainError> {
    match value {
        MaybeUndefined::Undefined => Ok(None),
        MaybeUndefined::Null => Ok(Some(None)),
        MaybeUndefined::Value(v) => convert(v).map(|u| Some(Some(u))),
    }
}

fn id_input<T: GlobalId>(field: &'static str) -> impl Fn(ID) -> Result<T, DomainError> {
    move |id| expect_input(&id, field)
}

/// Input to `serviceCreate`.
#[derive(InputObject, Debug)]
pub struct ServiceCreateInput {
    /// Letters, digits, `-` and `_`, stored upper-case, e.g. `CPD-PHONICS-KS1`; unique.
    pub code: String,
    /// The service's title.
    pub title: String,
    /// What kind of service it is.
    pub category: ServiceCategory,
    /// What the service is, for schools choosing it.
    #[graphql(default)]
    pub description: String,
    /// Who it is for, in words.
    #[graphql(default)]
    pub audience: String,
    /// Leave empty for every phase.
    #[graphql(default)]
    pub phases: Vec<Phase>,
    /// The school giving school-to-school support; leave out when partnership staff provide it.
    pub provider_school_id: Option<ID>,
    /// The team or person delivering, as the catalogue shows it.
    pub provider_name: String,
    /// In person, online, or at the booking school.
    pub delivery: ServiceDelivery,
    /// Per place for member schools, in pence: 0 to 10,000,000 (£100,000).
    pub member_price_pence: i32,
    /// Per place for everyone else, in pence (0 to 10,000,000, £100,000); leave out to sell
    /// to member schools only.
    pub non_member_price_pence: Option<i32>,
    /// How VAT applies to its price.
    #[graphql(default_with = "VatTreatment::Exempt")]
    pub vat_treatment: VatTreatment,
    /// VAT rate in basis points (2000 = 20%); 0 when exempt.
    #[graphql(default)]
    pub vat_rate_bp: i32,
    /// The Consistent Financial Reporting code schools book the spend to, if any.
    pub cfr_code: Option<String>,
    /// The core-offer item that can pay for a place (settlement OFFER).
    pub offer_item_id: Option<ID>,
}

/// Input to `serviceUpdate`. Fields left out are unchanged; `null` clears the nullable ones. The
/// code cannot change.
#[derive(InputObject, Debug)]
pub struct ServiceUpdateInput {
    /// Global id of the service.
    pub id: ID,
    /// The service's title.
    pub title: Option<String>,
    /// What kind of service it is.
    pub category: Option<ServiceCategory>,
    /// What the service is.
    pub description: Option<String>,
    /// Who the service is for (e.g. subject leads).
    pub audience: Option<String>,
    /// The phases of education it suits; empty: any.
    pub phases: Option<Vec<Phase>>,
    /// Global id of the provider school.
    pub provider_school_id: MaybeUndefined<ID>,
    /// The provider's name as schools should see it.
    pub provider_name: Option<String>,
    /// In person, online, or at the booking school.
    pub delivery: Option<ServiceDelivery>,
    /// In pence: 0 to 10,000,000 (£100,000).
    pub member_price_pence: Option<i32>,
    /// In pence: 0 to 10,000,000 (£100,000); `null` sells to member schools only.
    pub non_member_price_pence: MaybeUndefined<i32>,
    /// How VAT applies to its price.
    pub vat_treatment: Option<VatTreatment>,
    /// The VAT rate in basis points (2000 is 20%).
    pub vat_rate_bp: Option<i32>,
    /// The Consistent Financial Reporting code schools book the spend to.
    pub cfr_code: MaybeUndefined<String>,
    /// Global id of the offer item.
    pub offer_item_id: MaybeUndefined<ID>,
}

/// Input to `servicePublish` and `serviceUnpublish`.
#[derive(InputObject, Debug)]
pub struct ServicePublishInput {
    /// Global id of the service.
    pub id: ID,
}

/// What `serviceCreate`, `serviceUpdate`, `servicePublish` and `serviceUnpublish` did: the changed
/// record, or `userErrors` saying why nothing changed.
#[derive(SimpleObject, Debug)]
pub struct ServicePayload {
    /// The service as the mutation left it; null when `userErrors` says why nothing changed.
    pub service: Option<ServiceNode>,
    /// Why nothing changed, each naming the input field and a code; empty when the mutation
    /// succeeded.
    pub user_errors: Vec<UserError>,
}

impl ServicePayload {
    fn from(result: Result<Service, DomainError>) -> async_graphql::Result<Self> {
        let (service, user_errors) = payload(result)?;
        Ok(Self {
            service: service.map(ServiceNode::from),
            user_errors,
        })
    }
}

/// One part of a session: a day of a two-day course, say. Parts may not overlap.
#[derive(InputObject, Debug, Clone)]
pub struct SessionPartInput {
    /// In the future, and in 2000–2099.
    pub starts_at: DateTime<Utc>,
    /// After the start, and in 2000–2099.
    pub ends_at: DateTime<Utc>,
    /// Where, for parts delivered in person.
    pub venue: Option<String>,
    /// The joining link, for parts delivered online.
    pub online_url: Option<String>,
}

impl From<SessionPartInput> for SessionPart {
    fn from(p: SessionPartInput) -> Self {
        Self {
            starts_at: p.starts_at,
            ends_at: p.ends_at,
            venue: p.venue,
            online_url: p.online_url,
        }
    }
}

/// Free cancellation until `freeUntilDays` whole days before the start; after that
/// `lateFeePercent` of the price is kept; within `noRefundWithinDays` nothing comes back.
#[derive(InputObject, Debug, Clone, Copy)]
pub struct CancellationPolicyInput {
    /// Cancelling at least this many whole days before the start is free (at most 365).
    pub free_until_days: i32,
    /// After that, this share of the price is kept: 0–100.
    pub late_fee_percent: i32,
    /// Within this many days of the start nothing is given back; at most `freeUntilDays`.
    pub no_refund_within_days: i32,
}

impl CancellationPolicyInput {
    /// The policy, refusing negative numbers; the domain checks the rest.
    fn policy(self) -> Result<CancellationPolicy, FieldError> {
        Ok(CancellationPolicy {
            free_until_days: int::unsigned(self.free_until_days, "policy.freeUntilDays")?,
            late_fee_percent: int::unsigned(self.late_fee_percent, "policy.lateFeePercent")?,
            no_refund_within_days: int::unsigned(
                self.no_refund_within_days,
                "policy.noRefundWithinDays",
            )?,
        })
    }
}

/// Input to `sessionCreate`.
#[derive(InputObject, Debug)]
pub struct SessionCreateInput {
    /// Global id of the service.
    pub service_id: ID,
    /// A name for this run, e.g. "Spring cohort".
    pub label: Option<String>,
    /// At least one, in date order, not overlapping.
    pub parts: Vec<SessionPartInput>,
    /// How many places: 1–10,000.
    pub capacity: i32,
    /// The last moment a booking is taken: at or before the start of the first part; in
    /// 2000–2099.
    pub booking_deadline: DateTime<Utc>,
    /// Leave out for the partnership's usual terms (free until 14 days before, half kept
    /// after that, nothing back in the last 2 days).
    pub policy: Option<CancellationPolicyInput>,
    /// How long a freed place is held for a waiting-list entry; leave out for 48 hours.
    pub waitlist_offer_hours: Option<i32>,
}

/// Input to `sessionUpdate`. Fields left out are unchanged; `label: null` clears the label.
/// Capacity cannot fall below the places already held.
#[derive(InputObject, Debug)]
pub struct SessionUpdateInput {
    /// Global id of the session.
    pub id: ID,
    /// A label telling sessions of a service apart (e.g. Cohort 2).
    pub label: MaybeUndefined<String>,
    /// The session's parts, replacing them all.
    pub parts: Option<Vec<SessionPartInput>>,
    /// How many places: 1–10,000, and never fewer than are taken. Added places go to the waiting
    /// list first.
    pub capacity: Option<i32>,
    /// The last moment a booking is taken: at or before the start of the first part; in
    /// 2000–2099.
    pub booking_deadline: Option<DateTime<Utc>>,
    /// The cancellation policy for bookings from now on.
    pub policy: Option<CancellationPolicyInput>,
    /// How long a waiting-list offer stays open, in hours (never past the start).
    pub waitlist_offer_hours: Option<i32>,
}

/// What `sessionCreate` and `sessionUpdate` did: the changed record, or `userErrors` saying why
/// nothing changed.
#[derive(SimpleObject, Debug)]
pub struct SessionPayload {
    /// The session as the mutation left it; null when `userErrors` says why nothing changed.
    pub session: Option<SessionNode>,
    /// Why nothing changed, each naming the input field and a code; empty when the mutation
    /// succeeded.
    pub user_errors: Vec<UserError>,
}

impl SessionPayload {
    fn from(result: Result<Session, DomainError>) -> async_graphql::Result<Self> {
        let (session, user_errors) = payload(result)?;
        Ok(Self {
            session: session.map(SessionNode),
            user_errors,
        })
    }
}

#[derive(Default, Debug)]
pub struct CatalogueMutation;

#[Object]
impl CatalogueMutation {
    /// Add a service to the catalogue, unpublished. Partnership admins.
    async fn service_create(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "What to change; the rules for each field are on the input type.")] input: ServiceCreateInput,
    ) -> async_graphql::Result<ServicePayload> {
        let rc = ctx.trellis()?;
        let result = async {
            let new = NewService {
                provider_school_id: input
                    .provider_school_id
                    .map(id_input::<SchoolId>("providerSchoolId"))
                    .transpose()?,
                offer_item_id: input
                    .offer_item_id
                    .map(id_input::<OfferItemId>("offerItemId"))
                    .transpose()?,
                code: input.code,
                title: input.title,
                category: input.category.into(),
                description: input.description,
                audience: input.audience,
                phases: input.phases.into_iter().map(Into::into).collect(),
                provider_name: input.provider_name,
                delivery: input.delivery.into(),
                member_price: Money::from_pence(i64::from(input.member_price_pence)),
                non_member_price: input
                    .non_member_price_pence
                    .map(|p| Money::from_pence(i64::from(p))),
                vat_treatment: input.vat_treatment.into(),
                vat_rate_bp: int::unsigned(input.vat_rate_bp, "vatRateBp")?,
                cfr_code: input.cfr_code,
            };
            traded::create_service(&rc.db, &rc.actor, rc.clock.as_ref(), new).await
        }
        .await;
        ServicePayload::from(result)
    }

    /// Change a service. Partnership admins.
    async fn service_update(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "What to change; the rules for each field are on the input type.")] input: ServiceUpdateInput,
    ) -> async_graphql::Result<ServicePayload> {
        let rc = ctx.trellis()?;
        let result = async {
            let id: ServiceId = expect_input(&input.id, "id")?;
            let changes = ServicePatch {
                provider_school_id: patch(
                    input.provider_school_id,
                    id_input::<SchoolId>("providerSchoolId"),
                )?,
                offer_item_id: patch(input.offer_item_id, id_input::<OfferItemId>("offerItemId"))?,
                title: input.title,
                category: input.category.map(Into::into),
                description: input.description,
                audience: input.audience,
                phases: input
                    .phases
                    .map(|p| p.into_iter().map(Into::into).collect()),
                provider_name: input.provider_name,
                delivery: input.delivery.map(Into::into),
                member_price: input
                    .member_price_pence
                    .map(|p| Money::from_pence(i64::from(p))),
                non_member_price: patch(input.non_member_price_pence, |p| {
                    Ok(Money::from_pence(i64::from(p)))
                })?,
                vat_treatment: input.vat_treatment.map(Into::into),
                vat_rate_bp: input
                    .vat_rate_bp
                    .map(|bp| int::unsigned(bp, "vatRateBp"))
                    .transpose()?,
                cfr_code: patch(input.cfr_code, Ok)?,
            };
            traded::update_service(&rc.db, &rc.actor, rc.clock.as_ref(), id, changes).await
        }
        .await;
        ServicePayload::from(result)
    }

    /// Show a service in the catalogue. Partnership admins.
    async fn service_publish(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "What to change; the rules for each field are on the input type.")] input: ServicePublishInput,
    ) -> async_graphql::Result<ServicePayload> {
        let rc = ctx.trellis()?;
        let result = async {
            let id: ServiceId = expect_input(&input.id, "id")?;
            traded::publish_service(&rc.db, &rc.actor, rc.clock.as_ref(), id).await
        }
        .await;
        ServicePayload::from(result)
    }

    /// Withdraw a service from the catalogue; its sessions and bookings stand. Partnership
    /// admins.
    async fn service_unpublish(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "What to change; the rules for each field are on the input type.")] input: ServicePublishInput,
    ) -> async_graphql::Result<ServicePayload> {
        let rc = ctx.trellis()?;
        let result = async {
            let id: ServiceId = expect_input(&input.id, "id")?;
            traded::unpublish_service(&rc.db, &rc.actor, rc.clock.as_ref(), id).await
        }
        .await;
        ServicePayload::from(result)
    }

    /// Schedule a run of a service. Partnership admins.
    async fn session_create(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "What to change; the rules for each field are on the input type.")] input: SessionCreateInput,
    ) -> async_graphql::Result<SessionPayload> {
        let rc = ctx.trellis()?;
        let result = async {
            let new = NewSession {
                service_id: expect_input(&input.service_id, "serviceId")?,
                label: input.label,
                parts: input.parts.into_iter().map(Into::into).collect(),
                capacity: int::unsigned(input.capacity, "capacity")?,
                booking_deadline: input.booking_deadline,
                policy: input
                    .policy
                    .map(CancellationPolicyInput::policy)
                    .transpose()?
                    .unwrap_or_default(),
                waitlist_offer_hours: input
                    .waitlist_offer_hours
                    .map(|h| int::unsigned(h, "waitlistOfferHours"))
                    .transpose()?,
            };
            traded::create_session(&rc.db, &rc.actor, rc.clock.as_ref(), new).await
        }
        .await;
        SessionPayload::from(result)
    }

    /// Change a session. Partnership admins.
    async fn session_update(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "What to change; the rules for each field are on the input type.")] input: SessionUpdateInput,
    ) -> async_graphql::Result<SessionPayload> {
        let rc = ctx.trellis()?;
        let result = async {
            let id: SessionId = expect_input(&input.id, "id")?;
            let changes = SessionPatch {
                label: patch(input.label, Ok)?,
                parts: input.parts.map(|p| p.into_iter().map(Into::into).collect()),
                capacity: input
                    .capacity
                    .map(|c| int::unsigned(c, "capacity"))
                    .transpose()?,
                booking_deadline: input.booking_deadline,
                policy: input
                    .policy
                    .map(CancellationPolicyInput::policy)
                    .transpose()?,
                waitlist_offer_hours: input
                    .waitlist_offer_hours
                    .map(|h| int::unsigned(h, "waitlistOfferHours"))
                    .transpose()?,
            };
            traded::update_session(&rc.db, &rc.actor, rc.clock.as_ref(), id, changes).await
        }
        .await;
        SessionPayload::from(result)
    }
}
