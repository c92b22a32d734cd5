//! Reading the catalogue and bookings. A school's bookings are also read through
//! `School.bookings`.
//!
//! The catalogue is for everyone signed in and `catalogue:read` keys; unpublished services
//! only for those who manage it. Bookings are their school's (its leaders and staff),
//! partnership staff's, and their session provider's; one that is not yours is NOT_FOUND,
//! exactly like one that does not exist.

use async_graphql::connection::Connection;
use async_graphql::{Context, ID, InputObject, Object};
use kernel::{BookingId, DomainError, SchoolId, ServiceId, SessionId};
use membership::NameKey;
use traded::{BookingFilter, BookingKey, ProviderFilter, ServiceFilter, SessionFilter, SessionKey};

use super::enums::{BookingStatus, ServiceCategory, ServiceDelivery};
use super::types::{BookingNode, ServiceNode, SessionNode};
use crate::graphql::context::ContextExt;
use crate::graphql::directory::enums::Phase;
use crate::graphql::errors::{Code, coded, to_graphql};
use crate::graphql::relay::{NoEdgeFields, connection, expect_arg, page_args};

/// Narrows the catalogue; every field is optional and they combine with AND.
#[derive(InputObject, Debug, Default)]
pub struct ServiceFilterInput {
    /// Only services of this kind.
    pub category: Option<ServiceCategory>,
    /// Services for this phase, including those for every phase.
    pub phase: Option<Phase>,
    /// Only services delivered this way.
    pub delivery: Option<ServiceDelivery>,
    /// `true`: provided by partnership staff; `false`: school-to-school support only.
    pub provided_by_partnership: Option<bool>,
    /// Only this school's school-to-school support.
    pub provider_school_id: Option<ID>,
    /// `true`: with a scheduled session still to start; `false`: without one.
    pub has_upcoming_sessions: Option<bool>,
    /// Unpublished services too (for those who manage the catalogue; ignored otherwise).
    #[graphql(default)]
    pub include_unpublished: bool,
}

impl ServiceFilterInput {
    fn into_domain(self, search: Option<String>) -> async_graphql::Result<ServiceFilter> {
        let provider = match (self.provider_school_id, self.provided_by_partnership) {
            (Some(id), None | Some(false)) => {
                Some(ProviderFilter::School(expect_arg::<SchoolId>(&id)?))
            }
            (Some(_), Some(true)) => {
                return Err(coded(
                    "`providerSchoolId` and `providedByPartnership: true` exclude each other",
                    Code::BadUserInput,
                ));
            }
            (None, Some(true)) => Some(ProviderFilter::Partnership),
            (None, Some(false)) => Some(ProviderFilter::AnySchool),
            (None, None) => None,
        };
        Ok(ServiceFilter {
            text: search.filter(|s| !s.trim().is_empty()),
            category: self.category.map(Into::into),
            phase: self.phase.map(Into::into),
            delivery: self.delivery.map(Into::into),
            provider,
            has_upcoming_sessions: self.has_upcoming_sessions,
            include_unpublished: self.include_unpublished,
        })
    }
}

#[derive(Debug, Clone)]
pub struct ServiceCount(pub ServiceFilter);

/// `totalCount` of the catalogue, counted only when asked for.
#[Object]
impl ServiceCount {
    /// How many services match, across pages.
    async fn total_count(&self, ctx: &Context<'_>) -> async_graphql::Result<i32> {
        let rc = ctx.trellis()?;
        let n = traded::count_services(&rc.db, &rc.actor, rc.clock.as_ref(), &self.0)
            .await
            .map_err(to_graphql)?;
        Ok(crate::graphql::int::saturating(n))
    }
}

/// Narrows a booking list.
#[derive(InputObject, Debug, Default)]
pub struct BookingFilterInput {
    /// One school's bookings (school roles: one of their own; leave out for all of theirs).
    pub school_id: Option<ID>,
    /// Global id of the session.
    pub session_id: Option<ID>,
    /// Any of these statuses; empty or left out: every status.
    #[graphql(default)]
    pub status: Vec<BookingStatus>,
}

/// Narrows a session list.
#[derive(InputObject, Debug, Default)]
pub struct SessionFilterInput {
    /// Global id of the service.
    pub service_id: Option<ID>,
    /// Only sessions still to start.
    #[graphql(default)]
    pub upcoming: bool,
    /// Include cancelled sessions.
    #[graphql(default)]
    pub include_cancelled: bool,
}

#[derive(Default, Debug)]
pub struct TradedQuery;

#[Object]
impl TradedQuery {
    /// The traded catalogue by title: courses, conferences, consultancy, audits, governor
    /// services, HR. `search` looks for words in the code, title, description, audience and
    /// provider. Everyone signed in and `catalogue:read` keys. `first`/`last` take 1–100.
    #[allow(
        clippy::too_many_arguments,
        reason = "Relay paging plus filter and search"
    )]
    #[graphql(complexity = "crate::graphql::relay::page_cost(first, last, child_complexity)")]
    async fn services(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Narrows the list; leave it out to list everything you may see.")] filter: Option<ServiceFilterInput>,
        #[graphql(
            desc = "Words to look for in the code, title, description, audience and provider."
        )]
        search: Option<String>,
        #[graphql(desc = "At most this many items from the start of the list: 1–100, default 20.")]
        first: Option<i32>,
        #[graphql(desc = "Start after this cursor: the `pageInfo.endCursor` of the page before.")]
        after: Option<String>,
        #[graphql(
            desc = "At most this many items from the end of the list, 1–100; use instead of `first`."
        )]
        last: Option<i32>,
        #[graphql(desc = "End before this cursor: the `pageInfo.startCursor` of the page after.")]
        before: Option<String>,
    ) -> async_graphql::Result<Connection<String, ServiceNode, ServiceCount, NoEdgeFields>> {
        let args = page_args::<NameKey>(first, after.as_deref(), last, before.as_deref())?;
        let rc = ctx.trellis()?;
        let filter = filter.unwrap_or_default().into_domain(search)?;
        let clock = rc.clock.as_ref();
        // A catalogue that lists each service's dates reads them with the page: one
        // statement, not a page and then a batch of sessions.
        let look = ctx.look_ahead();
        if look.field("edges").field("node").field("sessions").exists()
            || look.field("nodes").field("sessions").exists()
        {
            let page = traded::services_with_sessions(&rc.db, &rc.actor, clock, &filter, &args)
                .await
                .map_err(to_graphql)?;
            return Ok(connection(page, ServiceCount(filter), |(s, sessions)| {
                (s.sort_key(), ServiceNode(s, Some(sessions)), NoEdgeFields)
            }));
        }
        let page = traded::services(&rc.db, &rc.actor, clock, &filter, &args)
            .await
            .map_err(to_graphql)?;
        Ok(connection(page, ServiceCount(filter), |s| {
            (s.sort_key(), ServiceNode::from(s), NoEdgeFields)
        }))
    }

    /// One service by its global id; NOT_FOUND if it does not exist or is not published
    /// (unless you manage the catalogue).
    async fn service(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Global id of the service.")] id: ID,
    ) -> async_graphql::Result<ServiceNode> {
        let id: ServiceId = expect_arg(&id)?;
        let rc = ctx.trellis()?;
        traded::service(&rc.db, &rc.actor, id)
            .await
            .map(ServiceNode::from)
            .map_err(to_graphql)
    }

    /// Sessions of published services by start. `first`/`last` take 1–100.
    #[graphql(complexity = "crate::graphql::relay::page_cost(first, last, child_complexity)")]
    async fn sessions(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Narrows the list; leave it out to list everything you may see.")] filter: Option<SessionFilterInput>,
        #[graphql(desc = "At most this many items from the start of the list: 1–100, default 20.")]
        first: Option<i32>,
        #[graphql(desc = "Start after this cursor: the `pageInfo.endCursor` of the page before.")]
        after: Option<String>,
        #[graphql(
            desc = "At most this many items from the end of the list, 1–100; use instead of `first`."
        )]
        last: Option<i32>,
        #[graphql(desc = "End before this cursor: the `pageInfo.startCursor` of the page after.")]
        before: Option<String>,
    ) -> async_graphql::Result<Connection<String, SessionNode, NoEdgeFields, NoEdgeFields>> {
        let args = page_args::<SessionKey>(first, after.as_deref(), last, before.as_deref())?;
        let rc = ctx.trellis()?;
        let input = filter.unwrap_or_default();
        let filter = SessionFilter {
            service_id: input
                .service_id
                .as_ref()
                .map(expect_arg::<ServiceId>)
                .transpose()?,
            starts_from: input.upcoming.then(|| rc.clock.now()),
            starts_before: None,
            include_cancelled: input.include_cancelled,
        };
        let page = traded::sessions_page(&rc.db, &rc.actor, &filter, &args)
            .await
            .map_err(to_graphql)?;
        Ok(connection(page, NoEdgeFields, |s| {
            (s.sort_key(), SessionNode(s), NoEdgeFields)
        }))
    }

    /// One session by its global id; NOT_FOUND unless its service is visible to you.
    async fn session(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Global id of the session.")] id: ID,
    ) -> async_graphql::Result<SessionNode> {
        let id: SessionId = expect_arg(&id)?;
        let rc = ctx.trellis()?;
        traded::session(&rc.db, &rc.actor, id)
            .await
            .map(SessionNode)
            .map_err(to_graphql)
    }

    /// Bookings in the order they were made: school roles see their own schools' (all of
    /// them, or one with `schoolId`; another school's is NOT_FOUND), partnership staff every
    /// school's. API keys see none (bookings name people). `first`/`last` take 1–100.
    #[graphql(complexity = "crate::graphql::relay::page_cost(first, last, child_complexity)")]
    async fn bookings(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Narrows the list; leave it out to list everything you may see.")] filter: Option<BookingFilterInput>,
        #[graphql(desc = "At most this many items from the start of the list: 1–100, default 20.")]
        first: Option<i32>,
        #[graphql(desc = "Start after this cursor: the `pageInfo.endCursor` of the page before.")]
        after: Option<String>,
        #[graphql(
            desc = "At most this many items from the end of the list, 1–100; use instead of `first`."
        )]
        last: Option<i32>,
        #[graphql(desc = "End before this cursor: the `pageInfo.startCursor` of the page after.")]
        before: Option<String>,
    ) -> async_graphql::Result<Connection<String, BookingNode, NoEdgeFields, NoEdgeFields>> {
        let args = page_args::<BookingKey>(first, after.as_deref(), last, before.as_deref())?;
        let rc = ctx.trellis()?;
        let input = filter.unwrap_or_default();
        let filter = BookingFilter {
            school_id: input
                .school_id
                .as_ref()
                .map(expect_arg::<SchoolId>)
                .transpose()?,
            session_id: input
                .session_id
                .as_ref()
                .map(expect_arg::<SessionId>)
                .transpose()?,
            status: input.status.into_iter().map(Into::into).collect(),
        };
        let page = traded::bookings_page(&rc.db, &rc.actor, &filter, &args)
            .await
            .map_err(to_graphql)?;
        Ok(connection(page, NoEdgeFields, |b| {
            (
                (b.id.as_uuid(), b.id.as_uuid()),
                BookingNode(b),
                NoEdgeFields,
            )
        }))
    }

    /// One booking by its global id: its school's people, its session's provider and
    /// partnership staff; NOT_FOUND for anyone else.
    async fn booking(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Global id of the booking.")] id: ID,
    ) -> async_graphql::Result<BookingNode> {
        let id: BookingId = expect_arg(&id)?;
        let rc = ctx.trellis()?;
        match traded::booking(&rc.db, &rc.actor, id).await {
            Ok(b) => Ok(BookingNode(b)),
            Err(DomainError::Forbidden(_)) => {
                Err(to_graphql(DomainError::NotFound { entity: "Booking" }))
            }
            Err(other) => Err(to_graphql(other)),
        }
    }
}
