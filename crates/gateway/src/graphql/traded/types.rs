//! Traded services as the API shows them: the catalogue's services and their sessions, and
//! schools' bookings with their attendees.
//!
//! Every edge goes through a DataLoader. Who may see what is checked where an object is
//! reached by id (queries, `node`); an edge from a visible parent shows what the parent's
//! reader may see, and narrows further where a field is more private than its parent
//! (`Session.attendees` and `Session.bookings` are for the provider and partnership staff,
//! `Booking.invoice` for readers of the school's billing).

use async_graphql::{Context, ID, Object, SimpleObject};
use chrono::{DateTime, Utc};
use kernel::Actor;
use traded::{Attendee, Booking, CancellationPolicy, Service, Session, SessionPart};

use super::aftercare::reads_billing_of;
use super::enums::{
    Attendance, BookingClosedReason, BookingSettlement, BookingStatus, PriceBasis, RefundState,
    ServiceCategory, ServiceDelivery, SessionStatus,
};
use super::feedback::{FeedbackNode, RatingNode};
use crate::graphql::access::types::UserNode;
use crate::graphql::billing::charges::ChargeNode;
use crate::graphql::billing::fees::VatTreatment;
use crate::graphql::billing::types::InvoiceNode;
use crate::graphql::context::{ContextExt, RequestContext};
use crate::graphql::directory::enums::Phase;
use crate::graphql::directory::types::SchoolNode;
use crate::graphql::errors::internal;
use crate::graphql::loaders::{list_of, load_list};
use crate::graphql::offer::types::{OfferItemNode, OfferLedgerEntryNode};
use crate::graphql::relay::GlobalId;
use crate::graphql::scalars::{AcademicYearScalar, MoneyValue};

/// The people behind a record are shown to signed-in people only: integrations see none.
async fn person(
    rc: &RequestContext,
    id: Option<kernel::UserId>,
) -> async_graphql::Result<Option<UserNode>> {
    match (id, &rc.actor) {
        (Some(id), Actor::User(_)) => Ok(rc.loaders.users().load_one(id).await?.map(UserNode)),
        _ => Ok(None),
    }
}

/// The service a session belongs to.
async fn service_of(rc: &RequestContext, session: &Session) -> async_graphql::Result<Service> {
    rc.loaders
        .services()
        .load_one(session.service_id)
        .await?
        .ok_or_else(|| internal("session of an unknown service"))
}

/// Whether the caller provides the session (its service's provider, or partnership staff
/// who manage the catalogue).
pub async fn provides(rc: &RequestContext, session: &Session) -> async_graphql::Result<bool> {
    let service = service_of(rc, session).await?;
    Ok(traded::acts_for_provider(
        &rc.actor,
        service.provider_school_id,
    ))
}

/// Whether the caller may read `booking`: its school's people, partnership staff, and the
/// provider of its session.
pub async fn may_read_booking(
    rc: &RequestContext,
    booking: &Booking,
) -> async_graphql::Result<bool> {
    Ok(rc
        .loaders
        .readable_bookings()
        .load_one(booking.id)
        .await?
        .is_some())
}

/// A service, with its sessions when the page that found it read them in the same statement
/// ([`traded::services_with_sessions`]); without them, `sessions` loads them in a batch.
#[derive(Debug, Clone)]
pub struct ServiceNode(pub Service, pub Option<Vec<traded::Session>>);

impl From<Service> for ServiceNode {
    fn from(service: Service) -> Self {
        Self(service, None)
    }
}

/// A catalogue entry: a course, conference, consultancy, audit or other service a school can
/// buy beyond its core offer.
#[Object(name = "Service")]
impl ServiceNode {
    /// Global id: opaque and stable; `node(id:)` finds it again.
    pub async fn id(&self) -> ID {
        self.0.id.to_global()
    }

    /// Stable upper-case handle, e.g. `CPD-PHONICS-KS1`.
    async fn code(&self) -> &str {
        &self.0.code
    }

    /// The service's title, as the catalogue shows it.
    async fn title(&self) -> &str {
        &self.0.title
    }

    /// What kind of service it is.
    async fn category(&self) -> ServiceCategory {
        self.0.category.into()
    }

    /// What the service is, for schools choosing it.
    async fn description(&self) -> &str {
        &self.0.description
    }

    /// Who it is for, in words ("Headteachers and deputies").
    async fn audience(&self) -> &str {
        &self.0.audience
    }

    /// The school phases it is for; empty: every phase.
    async fn phases(&self) -> Vec<Phase> {
        self.0.phases.iter().map(|p| (*p).into()).collect()
    }

    /// The school giving school-to-school support through this service; null when the
    /// partnership's own staff provide it.
    async fn provider_school(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<Option<SchoolNode>> {
        let Some(id) = self.0.provider_school_id else {
            return Ok(None);
        };
        Ok(ctx
            .trellis()?
            .loaders
            .schools()
            .load_one(id)
            .await?
            .map(SchoolNode::from))
    }

    /// The team or person delivering, as the catalogue shows it.
    async fn provider_name(&self) -> &str {
        &self.0.provider_name
    }

    /// In person, online, or at the booking school.
    async fn delivery(&self) -> ServiceDelivery {
        self.0.delivery.into()
    }

    /// Per place, for schools with an active membership in the session's academic year.
    async fn member_price(&self) -> MoneyValue {
        self.0.member_price.into()
    }

    /// Per place for everyone else; null: sold to member schools only.
    async fn non_member_price(&self) -> Option<MoneyValue> {
        self.0.non_member_price.map(Into::into)
    }

    /// How VAT applies to its price.
    async fn vat_treatment(&self) -> VatTreatment {
        self.0.vat_treatment.into()
    }

    /// The VAT rate, in basis points (2000 is 20%).
    async fn vat_rate_basis_points(&self) -> i32 {
        crate::graphql::int::saturating(self.0.vat_rate_bp)
    }

    /// The school's ledger (CFR) code for the spend, carried onto invoices.
    async fn cfr_code(&self) -> Option<&str> {
        self.0.cfr_code.as_deref()
    }

    /// The core-offer item that can pay for a place instead of money (settlement OFFER);
    /// null when places are paid for in money only.
    async fn offer_item(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<OfferItemNode>> {
        let Some(id) = self.0.offer_item_id else {
            return Ok(None);
        };
        Ok(ctx
            .trellis()?
            .loaders
            .offer_items()
            .load_one(id)
            .await?
            .map(OfferItemNode))
    }

    /// Unpublished services are seen only by those who manage the catalogue.
    async fn published(&self) -> bool {
        self.0.published
    }

    /// The service's sessions in date order. `upcoming`: only those still to start.
    /// Cancelled sessions only with `includeCancelled`.
    async fn sessions(
        &self,
        ctx: &Context<'_>,
        #[graphql(default, desc = "Only sessions still to start.")] upcoming: bool,
        #[graphql(default, desc = "Include cancelled sessions.")] include_cancelled: bool,
    ) -> async_graphql::Result<Vec<SessionNode>> {
        let rc = ctx.trellis()?;
        let now = rc.clock.now();
        let loaded;
        let all = if let Some(read_with_the_page) = &self.1 {
            read_with_the_page
        } else {
            loaded = list_of(rc.loaders.service_sessions(), self.0.id).await?;
            &loaded
        };
        Ok(all
            .iter()
            .filter(|s| include_cancelled || s.status == traded::SessionStatus::Scheduled)
            .filter(|s| !upcoming || !s.has_started(now))
            .map(|s| SessionNode(s.clone()))
            .collect())
    }

    /// Where to download the feedback summary of a term (PDF; the same path ending `.csv`
    /// gives every response as CSV): responses, average and spread of ratings per session
    /// and overall, and the comments, naming no one. For the provider and partnership
    /// staff; null for everyone else.
    async fn feedback_summary_url(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The academic year, written as schools write it, e.g. `2026/27`.")]
        academic_year: AcademicYearScalar,
        #[graphql(desc = "The term whose sessions the summary covers.")]
        term: crate::graphql::offer::enums::Term,
    ) -> async_graphql::Result<Option<String>> {
        let rc = ctx.trellis()?;
        let term = match kernel::Term::from(term) {
            kernel::Term::Autumn => "AUTUMN",
            kernel::Term::Spring => "SPRING",
            kernel::Term::Summer => "SUMMER",
        };
        Ok(traded::may_read_feedback(&rc.actor, &self.0).then(|| {
            format!(
                "/reports/services/{}/feedback.pdf?year={}&term={term}",
                self.0.id.to_global().as_str(),
                academic_year.0.to_string().replace('/', "%2F")
            )
        }))
    }

    /// How those who attended rated it; null until someone has.
    async fn rating(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<RatingNode>> {
        Ok(ctx
            .trellis()?
            .loaders
            .service_ratings()
            .load_one(self.0.id)
            .await?
            .and_then(RatingNode::of))
    }

    /// When it was first recorded in Trellis.
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }

    /// When it last changed.
    async fn updated_at(&self) -> DateTime<Utc> {
        self.0.updated_at
    }
}

#[derive(Debug, Clone)]
pub struct SessionNode(pub Session);

/// One scheduled run of a service, in one or more parts; one booking covers every part.
#[Object(name = "Session")]
impl SessionNode {
    /// Global id: opaque and stable; `node(id:)` finds it again.
    pub async fn id(&self) -> ID {
        self.0.id.to_global()
    }

    /// The service it is a session of.
    async fn service(&self, ctx: &Context<'_>) -> async_graphql::Result<ServiceNode> {
        service_of(ctx.trellis()?, &self.0)
            .await
            .map(ServiceNode::from)
    }

    /// The academic year of the first part: it decides member pricing and the allowance used.
    async fn academic_year(&self) -> AcademicYearScalar {
        self.0.academic_year.into()
    }

    /// The name of this run, e.g. "Spring cohort".
    async fn label(&self) -> Option<&str> {
        self.0.label.as_deref()
    }

    /// In date order, at least one.
    async fn parts(&self) -> Vec<SessionPartNode> {
        self.0.parts.iter().cloned().map(SessionPartNode).collect()
    }

    /// The first part's start.
    async fn starts_at(&self) -> DateTime<Utc> {
        self.0.starts_at
    }

    /// The last part's end.
    async fn ends_at(&self) -> DateTime<Utc> {
        self.0.ends_at
    }

    /// Total length of the parts, in minutes.
    async fn minutes(&self) -> i32 {
        crate::graphql::int::saturating(self.0.minutes())
    }

    /// How many places it has.
    async fn capacity(&self) -> i32 {
        crate::graphql::int::saturating(self.0.capacity)
    }

    /// Places held by confirmed bookings, bookings awaiting card payment and open
    /// waiting-list offers.
    async fn places_taken(&self) -> i32 {
        crate::graphql::int::saturating(self.0.places_taken)
    }

    /// Places not yet taken or held.
    async fn places_left(&self) -> i32 {
        crate::graphql::int::saturating(self.0.places_left())
    }

    /// The last moment a booking is taken.
    async fn booking_deadline(&self) -> DateTime<Utc> {
        self.0.booking_deadline
    }

    /// Whether it can be booked now: scheduled and before its deadline (a full session can
    /// still be joined on its waiting list).
    async fn bookable(&self, ctx: &Context<'_>) -> async_graphql::Result<bool> {
        Ok(self.0.is_bookable(ctx.trellis()?.clock.now()))
    }

    /// What cancelling a booking costs, by how close to the start.
    async fn cancellation_policy(&self) -> CancellationPolicyNode {
        CancellationPolicyNode::from(self.0.policy)
    }

    /// How long a freed place is held for the waiting-list entry it is offered to.
    async fn waitlist_offer_hours(&self) -> i32 {
        crate::graphql::int::saturating(self.0.waitlist_offer_hours)
    }

    /// Scheduled or cancelled.
    async fn status(&self) -> SessionStatus {
        self.0.status.into()
    }

    /// When the provider cancelled it; null unless cancelled.
    async fn cancelled_at(&self) -> Option<DateTime<Utc>> {
        self.0.cancelled_at
    }

    /// Why the provider cancelled it.
    async fn cancelled_reason(&self) -> Option<&str> {
        self.0.cancelled_reason.as_deref()
    }

    /// Every booking of the session, every status, oldest first: the provider's and
    /// partnership staff's view. Empty for everyone else (a school reads its own bookings
    /// through `School.bookings`).
    async fn bookings(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<BookingNode>> {
        let rc = ctx.trellis()?;
        if !provides(rc, &self.0).await? {
            return Ok(Vec::new());
        }
        Ok(list_of(rc.loaders.session_bookings(), self.0.id)
            .await?
            .into_iter()
            .map(BookingNode)
            .collect())
    }

    /// The people holding a place (confirmed, attended or not): the register. For the
    /// provider and partnership staff; empty for everyone else, since it names people of
    /// other schools.
    async fn attendees(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<AttendeeNode>> {
        let rc = ctx.trellis()?;
        if !provides(rc, &self.0).await? {
            return Ok(Vec::new());
        }
        let bookings: Vec<_> = list_of(rc.loaders.session_bookings(), self.0.id)
            .await?
            .into_iter()
            .filter(|b| {
                matches!(
                    b.status,
                    traded::BookingStatus::Confirmed
                        | traded::BookingStatus::Attended
                        | traded::BookingStatus::NoShow
                )
            })
            .map(|b| b.id)
            .collect();
        let mut attendees = rc
            .loaders
            .booking_attendees()
            .load_many(bookings.clone())
            .await?;
        Ok(bookings
            .into_iter()
            .flat_map(|b| attendees.remove(&b).unwrap_or_default())
            .map(AttendeeNode)
            .collect())
    }

    /// Where to download the delegate list (PDF; the same path ending `.csv` gives it as
    /// CSV; send the same bearer credential): every attendee holding a place, by school,
    /// with the register part by part once taken. For the provider and partnership staff;
    /// null for everyone else.
    async fn delegate_list_url(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<String>> {
        let rc = ctx.trellis()?;
        Ok(provides(rc, &self.0).await?.then(|| {
            format!(
                "/reports/sessions/{}/delegates.pdf",
                self.0.id.to_global().as_str()
            )
        }))
    }

    /// Where to download the sign-in sheets (PDF, a page per part with room to sign). For
    /// the provider and partnership staff; null for everyone else.
    async fn sign_in_sheet_url(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<String>> {
        let rc = ctx.trellis()?;
        Ok(provides(rc, &self.0).await?.then(|| {
            format!(
                "/reports/sessions/{}/sign-in.pdf",
                self.0.id.to_global().as_str()
            )
        }))
    }

    /// What those who attended said, oldest first: the provider's and partnership staff's
    /// view (empty for everyone else; the catalogue shows only `Service.rating`).
    async fn feedback(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<FeedbackNode>> {
        let rc = ctx.trellis()?;
        if !provides(rc, &self.0).await? {
            return Ok(Vec::new());
        }
        load_list(rc.loaders.session_feedback(), self.0.id, FeedbackNode).await
    }

    /// The waiting list in queue order: the provider's and partnership staff's view.
    async fn waitlist(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<BookingNode>> {
        let rc = ctx.trellis()?;
        if !provides(rc, &self.0).await? {
            return Ok(Vec::new());
        }
        let mut waiting: Vec<Booking> = list_of(rc.loaders.session_bookings(), self.0.id)
            .await?
            .into_iter()
            .filter(|b| b.status == traded::BookingStatus::Waitlisted)
            .collect();
        waiting.sort_by_key(|b| (b.waitlist.as_ref().map(|w| w.joined_at), b.id));
        Ok(waiting.into_iter().map(BookingNode).collect())
    }

    /// When it was first recorded in Trellis.
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }

    /// When it last changed.
    async fn updated_at(&self) -> DateTime<Utc> {
        self.0.updated_at
    }
}

#[derive(Debug, Clone)]
pub struct SessionPartNode(pub SessionPart);

/// One part of a session: a day or half-day of a course, an online twilight.
#[Object(name = "SessionPart")]
impl SessionPartNode {
    /// When the part starts.
    async fn starts_at(&self) -> DateTime<Utc> {
        self.0.starts_at
    }

    /// When the part ends.
    async fn ends_at(&self) -> DateTime<Utc> {
        self.0.ends_at
    }

    /// Where, for parts delivered in person.
    async fn venue(&self) -> Option<&str> {
        self.0.venue.as_deref()
    }

    /// The joining link, for parts delivered online.
    async fn online_url(&self) -> Option<&str> {
        self.0.online_url.as_deref()
    }

    /// The part's length in minutes.
    async fn minutes(&self) -> i32 {
        crate::graphql::int::saturating(self.0.minutes())
    }
}

/// What a school gets back when it cancels, by how long before the start it cancels
/// (whole days): free until `freeUntilDays`, then `lateFeePercent` of the price is kept,
/// and within `noRefundWithinDays` nothing comes back.
#[derive(SimpleObject, Debug, Clone, Copy)]
#[graphql(name = "CancellationPolicy")]
pub struct CancellationPolicyNode {
    /// Cancelling at least this many whole days before the start is free.
    pub free_until_days: i32,
    /// After that, this share of the price (0–100) is kept.
    pub late_fee_percent: i32,
    /// Within this many days of the start nothing is given back.
    pub no_refund_within_days: i32,
}

impl From<CancellationPolicy> for CancellationPolicyNode {
    fn from(p: CancellationPolicy) -> Self {
        Self {
            free_until_days: crate::graphql::int::saturating(p.free_until_days),
            late_fee_percent: crate::graphql::int::saturating(p.late_fee_percent),
            no_refund_within_days: crate::graphql::int::saturating(p.no_refund_within_days),
        }
    }
}

#[derive(Debug, Clone)]
pub struct BookingNode(pub Booking);

/// A school's booking of places for named attendees on a session. A staff request waiting
/// for approval and a waiting-list entry are bookings too (see `status`).
#[Object(name = "Booking")]
impl BookingNode {
    /// Global id: opaque and stable; `node(id:)` finds it again.
    pub async fn id(&self) -> ID {
        self.0.id.to_global()
    }

    /// The school the places are booked for.
    async fn school(&self, ctx: &Context<'_>) -> async_graphql::Result<SchoolNode> {
        ctx.trellis()?
            .loaders
            .schools()
            .load_one(self.0.school_id)
            .await?
            .map(SchoolNode::from)
            .ok_or_else(|| internal("booking of an unknown school"))
    }

    /// The session booked.
    async fn session(&self, ctx: &Context<'_>) -> async_graphql::Result<SessionNode> {
        ctx.trellis()?
            .loaders
            .sessions()
            .load_one(self.0.session_id)
            .await?
            .map(SessionNode)
            .ok_or_else(|| internal("booking of an unknown session"))
    }

    /// The service booked.
    async fn service(&self, ctx: &Context<'_>) -> async_graphql::Result<ServiceNode> {
        ctx.trellis()?
            .loaders
            .services()
            .load_one(self.0.service_id)
            .await?
            .map(ServiceNode::from)
            .ok_or_else(|| internal("booking of an unknown service"))
    }

    /// The academic year it belongs to, e.g. `2026/27`.
    async fn academic_year(&self) -> AcademicYearScalar {
        self.0.academic_year.into()
    }

    /// Where the booking is in its life; see `BookingStatus`.
    async fn status(&self) -> BookingStatus {
        self.0.status.into()
    }

    /// Places asked for: one per attendee.
    async fn places(&self) -> i32 {
        crate::graphql::int::saturating(self.0.places)
    }

    /// Places this booking holds on the session now (0 for requests, waiting entries
    /// without an offer, and closed bookings).
    async fn places_held(&self) -> i32 {
        crate::graphql::int::saturating(self.0.places_held)
    }

    /// The people booked, in the order the booking named them.
    async fn attendees(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<AttendeeNode>> {
        let rc = ctx.trellis()?;
        Ok(list_of(rc.loaders.booking_attendees(), self.0.id)
            .await?
            .into_iter()
            .map(AttendeeNode)
            .collect())
    }

    /// Which price applied.
    async fn price_basis(&self) -> PriceBasis {
        self.0.price_basis.into()
    }

    /// The price of one place, before VAT.
    async fn price(&self) -> MoneyValue {
        self.0.unit_price.into()
    }

    /// Every place, before VAT.
    async fn net(&self) -> MoneyValue {
        self.0.net().into()
    }

    /// VAT on the booking's price.
    async fn vat(&self) -> MoneyValue {
        self.0.vat().into()
    }

    /// What the booking costs: every place, with VAT.
    async fn total(&self) -> MoneyValue {
        self.0.gross().into()
    }

    /// How VAT applies to it: standard-rated, exempt or out of scope.
    async fn vat_treatment(&self) -> VatTreatment {
        self.0.vat_treatment.into()
    }

    /// The VAT rate applied, in basis points (2000 is 20%).
    async fn vat_rate_basis_points(&self) -> i32 {
        crate::graphql::int::saturating(self.0.vat_rate_bp)
    }

    /// How it is paid for; null until settled (a request, a waiting entry).
    async fn settlement(&self) -> Option<BookingSettlement> {
        self.0.settlement.map(Into::into)
    }

    /// The school's purchase-order number for it, if given.
    async fn po_number(&self) -> Option<&str> {
        self.0.po_number.as_deref()
    }

    /// The member of staff who asked, for bookings that began as a request.
    async fn requested_by(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<UserNode>> {
        person(ctx.trellis()?, self.0.requested_by).await
    }

    /// The leader who committed the school to it.
    async fn booked_by(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<UserNode>> {
        person(ctx.trellis()?, self.0.booked_by).await
    }

    /// The use of the core offer that paid for it (settlement OFFER); a cancellation that
    /// gives the allowance back shows as a reversal in the school's offer ledger.
    async fn offer_usage(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<Option<OfferLedgerEntryNode>> {
        let Some(id) = self.0.offer_entry_id else {
            return Ok(None);
        };
        Ok(ctx
            .trellis()?
            .loaders
            .offer_entries()
            .load_one(id)
            .await?
            .map(OfferLedgerEntryNode::from))
    }

    /// The one-off invoice a card booking is paid on. Null for other settlements (their
    /// charge is billed on the termly invoice) and for callers who may not read the
    /// school's billing.
    async fn invoice(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<InvoiceNode>> {
        let Some(id) = self.0.invoice_id else {
            return Ok(None);
        };
        let rc = ctx.trellis()?;
        Ok(rc
            .loaders
            .readable_invoices()
            .load_one(id)
            .await?
            .map(InvoiceNode::from))
    }

    /// The charge that bills it on the school's termly invoice (settlement INVOICE). Null
    /// for other settlements and for callers who may not read the school's billing.
    async fn charge(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<ChargeNode>> {
        if self.0.settlement != Some(traded::Settlement::Invoice) {
            return Ok(None);
        }
        let rc = ctx.trellis()?;
        let Some(charge) = rc
            .loaders
            .booking_charges()
            .load_one(self.0.id.as_uuid())
            .await?
        else {
            return Ok(None);
        };
        Ok(reads_billing_of(rc, charge.account_id)
            .await?
            .then_some(ChargeNode(charge)))
    }

    /// Its place on the waiting list, and any offer of places; null when not waiting.
    async fn waitlist(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<Option<WaitlistEntryNode>> {
        let now = ctx.trellis()?.clock.now();
        Ok(self.0.waitlist.map(|w| WaitlistEntryNode {
            has_open_offer: w.has_open_offer(now),
            joined_at: w.joined_at,
            offered_at: w.offered_at,
            offer_expires_at: w.offer_expires_at,
        }))
    }

    /// Why and when it ended without being delivered; null while live.
    async fn closure(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<Option<BookingClosureNode>> {
        let Some(closure) = &self.0.closure else {
            return Ok(None);
        };
        let rc = ctx.trellis()?;
        Ok(Some(BookingClosureNode {
            reason: closure.reason.into(),
            note: closure.note.clone(),
            at: closure.at,
            by: person(rc, closure.by).await?,
        }))
    }

    /// Kept under the cancellation policy, in money; zero for OFFER, whose fee is kept in
    /// allowance units (`cancellationUnitsKept`).
    async fn cancellation_fee(&self) -> Option<MoneyValue> {
        self.0.cancellation_fee.map(Into::into)
    }

    /// Money given back under the cancellation policy (a credit note, a card refund); zero for
    /// OFFER, whose allowance is not money (`cancellationUnitsReturned`).
    async fn refund(&self) -> Option<MoneyValue> {
        self.0.refund.map(Into::into)
    }

    /// OFFER: allowance units its cancellation kept under the policy; null for other
    /// settlements and while the booking stands.
    async fn cancellation_units_kept(&self) -> Option<i32> {
        self.0.units_kept.map(crate::graphql::int::saturating)
    }

    /// OFFER: allowance units its cancellation gave back (the usage reversed, whole or part);
    /// null for other settlements and while the booking stands.
    async fn cancellation_units_returned(&self) -> Option<i32> {
        self.0.units_returned.map(crate::graphql::int::saturating)
    }

    /// For card refunds: whether the money has gone back yet.
    async fn refund_state(&self) -> Option<RefundState> {
        self.0.refund_state.map(Into::into)
    }

    /// When it was first recorded in Trellis.
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }

    /// When it last changed.
    async fn updated_at(&self) -> DateTime<Utc> {
        self.0.updated_at
    }
}

/// A waiting-list entry: a booking waiting for places. The places it asks for are its
/// booking's `places`.
#[derive(SimpleObject, Debug, Clone)]
#[graphql(name = "WaitlistEntry")]
pub struct WaitlistEntryNode {
    /// When it joined: its place in the queue.
    pub joined_at: DateTime<Utc>,
    /// When places were offered to it, if they are.
    pub offered_at: Option<DateTime<Utc>>,
    /// Until when the offered places are held for it.
    pub offer_expires_at: Option<DateTime<Utc>>,
    /// Whether places are offered now and the offer has not expired: accept with
    /// `waitlistOfferAccept`.
    pub has_open_offer: bool,
}

/// Why and when a booking ended.
#[derive(SimpleObject, Debug, Clone)]
#[graphql(name = "BookingClosure")]
pub struct BookingClosureNode {
    /// Why it ended.
    pub reason: BookingClosedReason,
    /// What the person who ended it wrote, if anything.
    pub note: Option<String>,
    /// When the booking ended.
    pub at: DateTime<Utc>,
    /// Who closed it; null when Trellis did (an expired offer, an unpaid card booking).
    pub by: Option<UserNode>,
}

#[derive(Debug, Clone)]
pub struct AttendeeNode(pub Attendee);

/// A named person a booking holds a place for.
#[Object(name = "Attendee")]
impl AttendeeNode {
    /// Global id: opaque and stable; `node(id:)` finds it again.
    pub async fn id(&self) -> ID {
        self.0.id.to_global()
    }

    /// The booking the attendee's place belongs to.
    async fn booking(&self, ctx: &Context<'_>) -> async_graphql::Result<BookingNode> {
        ctx.trellis()?
            .loaders
            .bookings()
            .load_one(self.0.booking_id)
            .await?
            .map(BookingNode)
            .ok_or_else(|| internal("attendee of an unknown booking"))
    }

    /// The attendee's name, as the booking gave it.
    async fn name(&self) -> &str {
        &self.0.name
    }

    /// Lower-cased.
    async fn email(&self) -> &str {
        &self.0.email
    }

    /// Their job, e.g. "Year 2 teacher".
    async fn role(&self) -> Option<&str> {
        self.0.role.as_deref()
    }

    /// What the register says over the parts marked so far: ATTENDED once present at any
    /// part, NO_SHOW when absent at every part marked; null until a part is marked.
    async fn attendance(&self) -> Option<Attendance> {
        self.0.attendance.map(Into::into)
    }

    /// How many of the session's parts the register marked them present at.
    async fn parts_attended(&self) -> i32 {
        crate::graphql::int::saturating(self.0.parts_attended)
    }

    /// When the register was last marked for them; null until it is.
    async fn attendance_marked_at(&self) -> Option<DateTime<Utc>> {
        self.0.attendance_marked_at
    }

    /// When this person replaced the one first booked.
    async fn substituted_at(&self) -> Option<DateTime<Utc>> {
        self.0.substituted_at
    }

    /// Where to download their certificate of participation (a PDF; send the same bearer
    /// credential): for attendees of a course, conference, governor training or ECT
    /// induction marked present at every part, once the last part has ended and their
    /// booking's register is complete. Null otherwise.
    async fn certificate_url(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<String>> {
        if self.0.attendance != Some(traded::Attendance::Attended) {
            return Ok(None);
        }
        let rc = ctx.trellis()?;
        // The register is complete for the booking only once every attendee is marked.
        let attended = rc
            .loaders
            .bookings()
            .load_one(self.0.booking_id)
            .await?
            .is_some_and(|b| b.status == traded::BookingStatus::Attended);
        if !attended {
            return Ok(None);
        }
        let Some(session) = rc.loaders.sessions().load_one(self.0.session_id).await? else {
            return Ok(None);
        };
        if rc.clock.now() < session.ends_at
            || !traded::earns_certificate(&self.0, session.parts.len())
        {
            return Ok(None);
        }
        let service = service_of(rc, &session).await?;
        Ok(service
            .category
            .certifies_attendance()
            .then(|| format!("/certificates/{}", self.0.id.to_global().as_str())))
    }
}
