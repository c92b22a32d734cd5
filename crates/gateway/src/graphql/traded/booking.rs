//! Booking: a school's leader books places for named staff (or staff ask and their leader
//! approves or declines), substitutes an attendee, pays by card, and takes up or turns down
//! places offered from the waiting list. Every change is announced to the school's
//! `bookingUpdated` subscribers once it has committed, and to every school a freed place was
//! offered to.

use std::sync::Arc;

use async_graphql::{Context, ID, InputObject, Object, SimpleObject};
use billing::provider::{OfflineProvider, PaymentOutcome, PaymentProvider, ProviderPayment};
use kernel::{AttendeeId, BookingId, DomainError, SchoolId, SessionId};
use traded::{
    Approval, Booking, BookingChange, BookingOutcome, NewAttendee, NewBooking, NewBookingRequest,
    WaitlistAcceptance,
};

use super::enums::BookingSettlement;
use super::types::{AttendeeNode, BookingNode};
use crate::events::{self, Event};
use crate::graphql::billing::stripe::{CardPayment, provider};
use crate::graphql::context::ContextExt;
use crate::graphql::errors::{UserError, payload};
use crate::graphql::relay::expect_input;

/// The configured payment provider (Stripe), else the offline one: card bookings then wait
/// for finance to record the money, like any invoice.
pub fn payments(ctx: &Context<'_>) -> Arc<dyn PaymentProvider> {
    provider(ctx).unwrap_or_else(|| Arc::new(OfflineProvider))
}

/// The event that tells `booking`'s school (and only it) that the booking changed.
#[must_use]
pub const fn updated(booking: &Booking) -> Event {
    Event::BookingUpdated {
        booking: booking.id,
        school: booking.school_id,
    }
}

/// Tells the subscribers of every school whose booking changed.
pub async fn announce(ctx: &Context<'_>, changed: Vec<Event>) {
    events::publish(ctx, changed).await;
}

fn card_payment(p: ProviderPayment) -> CardPayment {
    let (status, client_secret) = match p.outcome {
        PaymentOutcome::RequiresAction { client_secret } => {
            ("REQUIRES_ACTION", Some(client_secret))
        }
        PaymentOutcome::Succeeded => ("SUCCEEDED", None),
        PaymentOutcome::Pending => ("PENDING", None),
        PaymentOutcome::Failed { .. } => ("FAILED", None),
    };
    CardPayment {
        payment_intent_ref: p.payment_ref,
        client_secret,
        status: status.to_owned(),
    }
}

/// A person to hold a place for.
#[derive(InputObject, Debug, Clone)]
pub struct AttendeeInput {
    /// The attendee's full name, as it should appear on the register and certificate.
    pub name: String,
    /// One live place per email per session.
    pub email: String,
    /// Their job, e.g. "Year 2 teacher".
    pub role: Option<String>,
}

impl From<AttendeeInput> for NewAttendee {
    fn from(a: AttendeeInput) -> Self {
        Self {
            name: a.name,
            email: a.email,
            role: a.role,
        }
    }
}

/// Input to `bookingCreate`.
#[derive(InputObject, Debug)]
pub struct BookingCreateInput {
    /// Global id of the school.
    pub school_id: ID,
    /// Global id of the session.
    pub session_id: ID,
    /// One place each, at least one.
    pub attendees: Vec<AttendeeInput>,
    /// OFFER uses the school's core-offer allowance; INVOICE adds a charge to its termly
    /// invoice; CARD issues a one-off invoice to pay now (see the payload's `cardPayment`).
    pub settlement: BookingSettlement,
    /// The school's purchase-order number, printed on the invoice line.
    pub po_number: Option<String>,
    /// When too few places are left: join the waiting list (`true`) or refuse (`false`).
    #[graphql(default)]
    pub join_waitlist: bool,
    /// Send the same key when retrying: the places are booked once, and the retry answers
    /// the first booking (with its card payment, if it still awaits one). The same key with
    /// a different request is a CONFLICT. Keys are the caller's own: another caller's same
    /// key is a request of its own.
    pub idempotency_key: Option<String>,
}

/// Input to `bookingRequest`.
#[derive(InputObject, Debug)]
pub struct BookingRequestInput {
    /// Global id of the school.
    pub school_id: ID,
    /// Global id of the session.
    pub session_id: ID,
    /// Who would attend: the requester and any colleagues, each once.
    pub attendees: Vec<AttendeeInput>,
    /// Send the same key when retrying: the request is made once, and the retry answers
    /// it. The same key with a different request is a CONFLICT. Keys are the caller's own.
    pub idempotency_key: Option<String>,
}

/// Input to `bookingApprove`.
#[derive(InputObject, Debug)]
pub struct BookingApproveInput {
    /// Global id of the booking.
    pub booking_id: ID,
    /// How the booking is paid: from the core offer, on the termly invoice, or by card.
    pub settlement: BookingSettlement,
    /// The school's purchase-order number, if it has one.
    pub po_number: Option<String>,
    /// When the session is full: join the waiting list (true) or leave the request pending (false).
    #[graphql(default)]
    pub join_waitlist: bool,
}

/// Input to `bookingDecline`.
#[derive(InputObject, Debug)]
pub struct BookingDeclineInput {
    /// Global id of the booking.
    pub booking_id: ID,
    /// Told to the member of staff who asked.
    pub reason: String,
}

/// Input to `attendeeSubstitute`.
#[derive(InputObject, Debug)]
pub struct AttendeeSubstituteInput {
    /// The attendee to replace.
    pub attendee_id: ID,
    /// The replacement's full name.
    pub name: String,
    /// The replacement's email address: where their confirmation goes.
    pub email: String,
    /// The replacement's role at the school (e.g. Class teacher).
    pub role: Option<String>,
}

/// A booking awaiting card payment, or a waiting-list entry.
#[derive(InputObject, Debug)]
pub struct BookingRefInput {
    /// Global id of the booking.
    pub booking_id: ID,
}

/// Input to `waitlistOfferAccept`.
#[derive(InputObject, Debug)]
pub struct WaitlistOfferAcceptInput {
    /// Global id of the booking.
    pub booking_id: ID,
    /// Leave out for the settlement chosen when the entry joined.
    pub settlement: Option<BookingSettlement>,
    /// Leave out for the PO number given when the entry joined.
    pub po_number: Option<String>,
}

/// A booking as it stands after the change, and for card bookings the payment to confirm
/// with Stripe.js.
#[derive(SimpleObject, Debug)]
pub struct BookingPayload {
    /// The booking as the mutation left it; null when `userErrors` says why nothing changed.
    pub booking: Option<BookingNode>,
    /// For CARD settlement: the PaymentIntent to confirm. Null when none was started (retry
    /// with `bookingPay`).
    pub card_payment: Option<CardPayment>,
    /// Why nothing changed, each naming the input field and a code; empty when the mutation
    /// succeeded.
    pub user_errors: Vec<UserError>,
}

impl BookingPayload {
    async fn from(
        ctx: &Context<'_>,
        result: Result<BookingOutcome, DomainError>,
    ) -> async_graphql::Result<Self> {
        let (outcome, user_errors) = payload(result)?;
        if let Some(outcome) = &outcome {
            announce(ctx, vec![updated(&outcome.booking)]).await;
        }
        Ok(match outcome {
            Some(o) => Self {
                booking: Some(BookingNode(o.booking)),
                card_payment: o.card_payment.map(|c| card_payment(c.payment)),
                user_errors,
            },
            None => Self {
                booking: None,
                card_payment: None,
                user_errors,
            },
        })
    }

    async fn changed(
        ctx: &Context<'_>,
        result: Result<BookingChange, DomainError>,
    ) -> async_graphql::Result<Self> {
        let (change, user_errors) = payload(result)?;
        if let Some(change) = &change {
            let changed = std::iter::once(&change.booking)
                .chain(&change.offered)
                .map(updated)
                .collect();
            announce(ctx, changed).await;
        }
        Ok(Self {
            booking: change.map(|c| BookingNode(c.booking)),
            card_payment: None,
            user_errors,
        })
    }
}

/// What `attendeeSubstitute` did: the changed record, or `userErrors` saying why nothing changed.
#[derive(SimpleObject, Debug)]
pub struct AttendeeSubstitutePayload {
    /// The attendee with the new person's details.
    pub attendee: Option<AttendeeNode>,
    /// The booking as the mutation left it; null when `userErrors` says why nothing changed.
    pub booking: Option<BookingNode>,
    /// Why nothing changed, each naming the input field and a code; empty when the mutation
    /// succeeded.
    pub user_errors: Vec<UserError>,
}

#[derive(Default, Debug)]
pub struct BookingMutation;

#[Object]
impl BookingMutation {
    /// Book places on a session for named people: a school leader, for their own school
    /// (partnership admins for any). Places are held in the same transaction, so a session
    /// is never oversold; when it is full the booking joins the waiting list if
    /// `joinWaitlist`, else nothing is written and `attendees` has a CONFLICT.
    async fn booking_create(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "What to change; the rules for each field are on the input type.")] input: BookingCreateInput,
    ) -> async_graphql::Result<BookingPayload> {
        let rc = ctx.trellis()?;
        let provider = payments(ctx);
        let result = async {
            let new = NewBooking {
                school_id: expect_input::<SchoolId>(&input.school_id, "schoolId")?,
                session_id: expect_input::<SessionId>(&input.session_id, "sessionId")?,
                attendees: input.attendees.into_iter().map(Into::into).collect(),
                settlement: input.settlement.into(),
                po_number: input.po_number,
                join_waitlist: input.join_waitlist,
                idempotency_key: input.idempotency_key,
            };
            traded::book(&rc.db, &rc.actor, rc.clock.as_ref(), provider.as_ref(), new).await
        }
        .await;
        BookingPayload::from(ctx, result).await
    }

    /// Ask for places for named people (school staff, for their own school): no place is
    /// held until the school's leader approves with `bookingApprove`.
    async fn booking_request(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "What to change; the rules for each field are on the input type.")] input: BookingRequestInput,
    ) -> async_graphql::Result<BookingPayload> {
        let rc = ctx.trellis()?;
        let result = async {
            let new = NewBookingRequest {
                school_id: expect_input::<SchoolId>(&input.school_id, "schoolId")?,
                session_id: expect_input::<SessionId>(&input.session_id, "sessionId")?,
                attendees: input.attendees.into_iter().map(Into::into).collect(),
                idempotency_key: input.idempotency_key,
            };
            traded::request_booking(&rc.db, &rc.actor, rc.clock.as_ref(), new).await
        }
        .await;
        BookingPayload::from(ctx, result).await
    }

    /// Approve a staff request, choosing how to pay: the school's own leader. It is booked
    /// as `bookingCreate` books. Another school's request is NOT_FOUND.
    async fn booking_approve(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "What to change; the rules for each field are on the input type.")] input: BookingApproveInput,
    ) -> async_graphql::Result<BookingPayload> {
        let rc = ctx.trellis()?;
        let provider = payments(ctx);
        let result = async {
            let id: BookingId = expect_input(&input.booking_id, "bookingId")?;
            let approval = Approval {
                settlement: input.settlement.into(),
                po_number: input.po_number,
                join_waitlist: input.join_waitlist,
            };
            traded::approve_request(
                &rc.db,
                &rc.actor,
                rc.clock.as_ref(),
                provider.as_ref(),
                id,
                approval,
            )
            .await
        }
        .await;
        BookingPayload::from(ctx, result).await
    }

    /// Decline a staff request with a reason: the school's own leader.
    async fn booking_decline(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "What to change; the rules for each field are on the input type.")] input: BookingDeclineInput,
    ) -> async_graphql::Result<BookingPayload> {
        let rc = ctx.trellis()?;
        let result = async {
            let id: BookingId = expect_input(&input.booking_id, "bookingId")?;
            traded::decline_request(&rc.db, &rc.actor, rc.clock.as_ref(), id, &input.reason).await
        }
        .await;
        BookingPayload::from(ctx, result).await
    }

    /// Put someone else in an attendee's place, free, before the session starts: the
    /// booking school's leader.
    async fn attendee_substitute(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "What to change; the rules for each field are on the input type.")] input: AttendeeSubstituteInput,
    ) -> async_graphql::Result<AttendeeSubstitutePayload> {
        let rc = ctx.trellis()?;
        let result = async {
            let id: AttendeeId = expect_input(&input.attendee_id, "attendeeId")?;
            let replacement = NewAttendee {
                name: input.name,
                email: input.email,
                role: input.role,
            };
            let outcome =
                traded::substitute_attendee(&rc.db, &rc.actor, rc.clock.as_ref(), id, replacement)
                    .await?;
            Ok((id, outcome))
        }
        .await;
        let (done, user_errors) = payload(result)?;
        let Some((id, outcome)) = done else {
            return Ok(AttendeeSubstitutePayload {
                attendee: None,
                booking: None,
                user_errors,
            });
        };
        announce(ctx, vec![updated(&outcome.booking)]).await;
        Ok(AttendeeSubstitutePayload {
            attendee: outcome
                .attendees
                .into_iter()
                .find(|a| a.id == id)
                .map(AttendeeNode),
            booking: Some(BookingNode(outcome.booking)),
            user_errors,
        })
    }

    /// Start (or resume) the card payment of a booking awaiting it: the same PaymentIntent
    /// however often it is retried. A booking already settled is a CONFLICT: nothing is paid
    /// twice. The school's own leader.
    async fn booking_pay(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "What to change; the rules for each field are on the input type.")] input: BookingRefInput,
    ) -> async_graphql::Result<BookingPayload> {
        let rc = ctx.trellis()?;
        let provider = payments(ctx);
        let result = async {
            let id: BookingId = expect_input(&input.booking_id, "bookingId")?;
            let paying = traded::pay_booking_by_card(
                &rc.db,
                &rc.actor,
                rc.clock.as_ref(),
                provider.as_ref(),
                id,
            )
            .await?;
            let booking = traded::booking(&rc.db, &rc.actor, id).await?;
            Ok((booking, paying))
        }
        .await;
        let (done, user_errors) = payload(result)?;
        Ok(match done {
            Some((booking, paying)) => BookingPayload {
                booking: Some(BookingNode(booking)),
                card_payment: Some(card_payment(paying.payment)),
                user_errors,
            },
            None => BookingPayload {
                booking: None,
                card_payment: None,
                user_errors,
            },
        })
    }

    /// Take up places offered from the waiting list before the offer expires: the school's
    /// leader. The entry becomes a booking settled as chosen.
    async fn waitlist_offer_accept(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "What to change; the rules for each field are on the input type.")] input: WaitlistOfferAcceptInput,
    ) -> async_graphql::Result<BookingPayload> {
        let rc = ctx.trellis()?;
        let provider = payments(ctx);
        let result = async {
            let id: BookingId = expect_input(&input.booking_id, "bookingId")?;
            let acceptance = WaitlistAcceptance {
                settlement: input.settlement.map(Into::into),
                po_number: input.po_number,
            };
            traded::accept_waitlist_offer(
                &rc.db,
                &rc.actor,
                rc.clock.as_ref(),
                provider.as_ref(),
                id,
                acceptance,
            )
            .await
        }
        .await;
        BookingPayload::from(ctx, result).await
    }

    /// Turn down places offered from the waiting list: they pass to the next entry.
    async fn waitlist_offer_decline(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "What to change; the rules for each field are on the input type.")] input: BookingRefInput,
    ) -> async_graphql::Result<BookingPayload> {
        let rc = ctx.trellis()?;
        let result = async {
            let id: BookingId = expect_input(&input.booking_id, "bookingId")?;
            traded::decline_waitlist_offer(&rc.db, &rc.actor, rc.clock.as_ref(), id).await
        }
        .await;
        BookingPayload::changed(ctx, result).await
    }

    /// Take an entry off the waiting list (any places it was offered pass on).
    async fn waitlist_leave(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "What to change; the rules for each field are on the input type.")] input: BookingRefInput,
    ) -> async_graphql::Result<BookingPayload> {
        let rc = ctx.trellis()?;
        let result = async {
            let id: BookingId = expect_input(&input.booking_id, "bookingId")?;
            traded::leave_waitlist(&rc.db, &rc.actor, rc.clock.as_ref(), id).await
        }
        .await;
        BookingPayload::changed(ctx, result).await
    }
}
