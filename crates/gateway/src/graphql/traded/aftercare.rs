//! After booking: cancelling (by the school under the session's policy, or the whole session
//! by its provider), taking the register, and feedback from those who came. Every booking a
//! change touches is announced to its school's `bookingUpdated` subscribers.

use async_graphql::{Context, ID, InputObject, Object, SimpleObject};
use kernel::{AttendeeId, BookingId, DomainError, ErrorCode, Money, SessionId};
use traded::{AttendanceMark, Booking, BookingChange, NewFeedback, SessionChange};

use super::booking::{announce, payments, updated};
use super::enums::{Attendance, RefundState};
use super::feedback::FeedbackNode;
use super::types::{AttendeeNode, BookingNode, SessionNode};
use crate::graphql::billing::charges::ChargeNode;
use crate::graphql::billing::types::CreditNoteNode;
use crate::graphql::context::{ContextExt, RequestContext};
use crate::graphql::errors::{UserError, payload};
use crate::graphql::loaders::list_of;
use crate::graphql::relay::expect_input;
use crate::graphql::scalars::MoneyValue;

/// Whether the caller may read the billing of `account`: the charge and credit note of a
/// cancellation are shown only to them.
pub async fn reads_billing_of(
    rc: &RequestContext,
    account: kernel::BillingAccountId,
) -> async_graphql::Result<bool> {
    Ok(rc
        .loaders
        .readable_accounts()
        .load_one(account)
        .await?
        .is_some())
}

/// Input to `bookingCancel`.
#[derive(InputObject, Debug)]
pub struct BookingCancelInput {
    /// Global id of the booking.
    pub booking_id: ID,
    /// Why, kept with the booking (and on any credit note).
    pub reason: Option<String>,
}

/// What came back when a booking was cancelled, by how it was settled: OFFER gives allowance
/// units back under the policy (all before the free cut-off, the share the late fee does not
/// keep after it, none in the no-refund window), INVOICE withdraws or reduces the charge (or
/// credits it once invoiced), CARD voids the unpaid invoice or raises a credit note and
/// refunds the card. OFFER answers in units and never in money; the others in money only.
#[derive(SimpleObject, Debug)]
pub struct CancellationReturn {
    /// Money kept under the cancellation policy; zero when the cancellation was free, nothing
    /// had been paid, or it was paid from the core offer (see `unitsKept`).
    pub fee: MoneyValue,
    /// Money given back (credited or refunded); zero for OFFER, whose allowance is not money
    /// (see `unitsReturned`).
    pub refund: MoneyValue,
    /// True when the booking was settled from the core offer and some or all of its use was
    /// given back to the allowance.
    pub usage_reversed: bool,
    /// OFFER: allowance units that stay used under the policy; null for other settlements.
    pub units_kept: Option<i32>,
    /// OFFER: allowance units given back to the school's allowance; null for other
    /// settlements.
    pub units_returned: Option<i32>,
    /// INVOICE: the charge as it now stands (withdrawn, reduced to the fee, or credited).
    /// Null for callers who may not read the school's billing.
    pub charge: Option<ChargeNode>,
    /// The credit note raised: an INVOICE charge already invoiced, or a paid CARD booking.
    /// Null when none was needed, and for callers who may not read the school's billing.
    pub credit_note: Option<CreditNoteNode>,
    /// CARD: whether the refund has reached the card yet (retried until it has).
    pub card_refund: Option<RefundState>,
}

impl CancellationReturn {
    async fn of(rc: &RequestContext, booking: &Booking) -> async_graphql::Result<Self> {
        let settled_fee = booking.cancellation_fee;
        let usage_reversed = booking.settlement == Some(traded::Settlement::Offer)
            && booking.offer_entry_id.is_some()
            && booking.units_returned.is_some_and(|n| n > 0);
        let mut charge = None;
        let mut credit_note = None;
        if booking.settlement == Some(traded::Settlement::Invoice)
            && let Some(c) = rc
                .loaders
                .booking_charges()
                .load_one(booking.id.as_uuid())
                .await?
            && reads_billing_of(rc, c.account_id).await?
        {
            if let (Some(invoice), Some(note)) = (
                c.invoice_id,
                c.cancellation.as_ref().and_then(|x| x.credit_note_id),
            ) {
                credit_note = list_of(rc.loaders.invoice_credit_notes(), invoice)
                    .await?
                    .into_iter()
                    .find(|n| n.id == note);
            }
            charge = Some(ChargeNode(c));
        }
        if booking.settlement == Some(traded::Settlement::Card)
            && booking.refund.is_some_and(Money::is_positive)
            && let Some(invoice_id) = booking.invoice_id
            && let Some(invoice) = rc.loaders.invoices().load_one(invoice_id).await?
            && reads_billing_of(rc, invoice.account_id).await?
        {
            credit_note = list_of(rc.loaders.invoice_credit_notes(), invoice_id)
                .await?
                .into_iter()
                .last();
        }
        Ok(Self {
            fee: settled_fee.unwrap_or_else(Money::zero).into(),
            refund: booking.refund.unwrap_or_else(Money::zero).into(),
            usage_reversed,
            units_kept: booking.units_kept.map(crate::graphql::int::saturating),
            units_returned: booking.units_returned.map(crate::graphql::int::saturating),
            charge,
            credit_note: credit_note.map(CreditNoteNode),
            card_refund: booking.refund_state.map(Into::into),
        })
    }
}

/// What `bookingCancel` did: the changed record, or `userErrors` saying why nothing changed.
#[derive(SimpleObject, Debug)]
pub struct BookingCancelPayload {
    /// The booking as the mutation left it; null when `userErrors` says why nothing changed.
    pub booking: Option<BookingNode>,
    /// What came back. Null when nothing was cancelled.
    pub returned: Option<CancellationReturn>,
    /// Why nothing changed, each naming the input field and a code; empty when the mutation
    /// succeeded.
    pub user_errors: Vec<UserError>,
}

/// Input to `sessionCancel`.
#[derive(InputObject, Debug)]
pub struct SessionCancelInput {
    /// Global id of the session.
    pub session_id: ID,
    /// Told to every booked school.
    pub reason: String,
}

/// What `sessionCancel` did: the changed record, or `userErrors` saying why nothing changed.
#[derive(SimpleObject, Debug)]
pub struct SessionCancelPayload {
    /// The session as the mutation left it; null when `userErrors` says why nothing changed.
    pub session: Option<SessionNode>,
    /// Every booking the cancellation closed, each given everything back.
    pub bookings: Vec<BookingNode>,
    /// Why nothing changed, each naming the input field and a code; empty when the mutation
    /// succeeded.
    pub user_errors: Vec<UserError>,
}

/// One attendee's mark on the register.
#[derive(InputObject, Debug, Clone)]
pub struct AttendanceMarkInput {
    /// Global id of the attendee.
    pub attendee_id: ID,
    /// Present (ATTENDED) or absent (NO_SHOW).
    pub attendance: Attendance,
}

/// Input to `attendanceRecord`.
#[derive(InputObject, Debug)]
pub struct AttendanceRecordInput {
    /// Global id of the session.
    pub session_id: ID,
    /// Which part of the session this register is for: its 0-based index in
    /// `Session.parts`. May be omitted for a session of one part; required otherwise.
    /// A part is marked once it has started.
    pub part: Option<i32>,
    /// One mark per attendee; marking again corrects the register.
    pub marks: Vec<AttendanceMarkInput>,
}

/// What `attendanceRecord` did: the changed record, or `userErrors` saying why nothing changed.
#[derive(SimpleObject, Debug)]
pub struct AttendanceRecordPayload {
    /// The session as the mutation left it; null when `userErrors` says why nothing changed.
    pub session: Option<SessionNode>,
    /// The attendees marked, as they now stand.
    pub attendees: Vec<AttendeeNode>,
    /// Bookings whose every attendee is marked and so became ATTENDED or NO_SHOW.
    pub bookings: Vec<BookingNode>,
    /// Why nothing changed, each naming the input field and a code; empty when the mutation
    /// succeeded.
    pub user_errors: Vec<UserError>,
}

/// Input to `feedbackSubmit`.
#[derive(InputObject, Debug)]
pub struct FeedbackSubmitInput {
    /// An attendee the register marked ATTENDED, of the caller's school.
    pub attendee_id: ID,
    /// 1 (poor) to 5 (excellent).
    pub rating: i32,
    /// Anything the attendee wants to add; optional.
    pub comment: Option<String>,
}

/// What `feedbackSubmit` did: the changed record, or `userErrors` saying why nothing changed.
#[derive(SimpleObject, Debug)]
pub struct FeedbackSubmitPayload {
    /// The feedback as the mutation left it; null when `userErrors` says why nothing changed.
    pub feedback: Option<FeedbackNode>,
    /// Why nothing changed, each naming the input field and a code; empty when the mutation
    /// succeeded.
    pub user_errors: Vec<UserError>,
}

#[derive(Default, Debug)]
pub struct AftercareMutation;

#[Object]
impl AftercareMutation {
    /// Cancel a booking (or withdraw a request or a waiting-list entry) before the session
    /// starts: the school's leader. The session's cancellation policy decides what comes
    /// back (see `returned`); the freed places are offered to the waiting list at once.
    async fn booking_cancel(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "What to change; the rules for each field are on the input type.")] input: BookingCancelInput,
    ) -> async_graphql::Result<BookingCancelPayload> {
        let rc = ctx.trellis()?;
        let provider = payments(ctx);
        let result: Result<BookingChange, DomainError> = async {
            let id: BookingId = expect_input(&input.booking_id, "bookingId")?;
            traded::cancel_booking(
                &rc.db,
                &rc.actor,
                rc.clock.as_ref(),
                provider.as_ref(),
                id,
                input.reason,
            )
            .await
        }
        .await;
        let (change, user_errors) = payload(result)?;
        let Some(change) = change else {
            return Ok(BookingCancelPayload {
                booking: None,
                returned: None,
                user_errors,
            });
        };
        let changed = std::iter::once(&change.booking)
            .chain(&change.offered)
            .map(updated)
            .collect();
        announce(ctx, changed).await;
        Ok(BookingCancelPayload {
            returned: Some(CancellationReturn::of(rc, &change.booking).await?),
            booking: Some(BookingNode(change.booking)),
            user_errors,
        })
    }

    /// Cancel a session: its provider (partnership admins). Every booking gets everything
    /// back; requests and waiting-list entries are closed. Refused once it has started.
    async fn session_cancel(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "What to change; the rules for each field are on the input type.")] input: SessionCancelInput,
    ) -> async_graphql::Result<SessionCancelPayload> {
        let rc = ctx.trellis()?;
        let provider = payments(ctx);
        let result: Result<SessionChange, DomainError> = async {
            let id: SessionId = expect_input(&input.session_id, "sessionId")?;
            traded::cancel_session(
                &rc.db,
                &rc.actor,
                rc.clock.as_ref(),
                provider.as_ref(),
                id,
                &input.reason,
            )
            .await
        }
        .await;
        let (change, user_errors) = payload(result)?;
        let Some(change) = change else {
            return Ok(SessionCancelPayload {
                session: None,
                bookings: Vec::new(),
                user_errors,
            });
        };
        announce(ctx, change.bookings.iter().map(updated).collect()).await;
        Ok(SessionCancelPayload {
            session: Some(SessionNode(change.session)),
            bookings: change.bookings.into_iter().map(BookingNode).collect(),
            user_errors,
        })
    }

    /// Take (or correct) the register of one part of a session once that part has started:
    /// its provider. Certificates follow once the last part has ended, for those present at
    /// every part.
    async fn attendance_record(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "What to change; the rules for each field are on the input type.")] input: AttendanceRecordInput,
    ) -> async_graphql::Result<AttendanceRecordPayload> {
        let rc = ctx.trellis()?;
        let result = async {
            let session: SessionId = expect_input(&input.session_id, "sessionId")?;
            let mut marks = Vec::with_capacity(input.marks.len());
            let mut bad = Vec::new();
            for (i, mark) in input.marks.iter().enumerate() {
                match expect_input::<AttendeeId>(
                    &mark.attendee_id,
                    &format!("marks.{i}.attendeeId"),
                ) {
                    Ok(attendee_id) => marks.push(AttendanceMark {
                        attendee_id,
                        attendance: mark.attendance.into(),
                    }),
                    Err(DomainError::Invalid(fields)) => bad.extend(fields),
                    Err(other) => return Err(other),
                }
            }
            if !bad.is_empty() {
                return Err(DomainError::Invalid(bad));
            }
            let part = match input.part {
                None => None,
                Some(i) => Some(usize::try_from(i).map_err(|_| {
                    DomainError::invalid("part", ErrorCode::OutOfRange, "parts count from 0")
                })?),
            };
            let changed = traded::mark_attendance(
                &rc.db,
                &rc.actor,
                rc.clock.as_ref(),
                session,
                part,
                &marks,
            )
            .await?;
            let ids: Vec<AttendeeId> = marks.iter().map(|m| m.attendee_id).collect();
            let fresh = traded::visible_attendees(&rc.db, &rc.actor, &ids).await?;
            let session = traded::session(&rc.db, &rc.actor, session).await?;
            let attendees: Vec<_> = ids.iter().filter_map(|id| fresh.get(id).cloned()).collect();
            Ok((session, attendees, changed))
        }
        .await;
        let (done, user_errors) = payload(result)?;
        let Some((session, attendees, changed)) = done else {
            return Ok(AttendanceRecordPayload {
                session: None,
                attendees: Vec::new(),
                bookings: Vec::new(),
                user_errors,
            });
        };
        announce(ctx, changed.iter().map(updated).collect()).await;
        Ok(AttendanceRecordPayload {
            session: Some(SessionNode(session)),
            attendees: attendees.into_iter().map(AttendeeNode).collect(),
            bookings: changed.into_iter().map(BookingNode).collect(),
            user_errors,
        })
    }

    /// Rate a session for an attendee who came (1–5, with an optional comment), once: the
    /// attendee's school's people.
    async fn feedback_submit(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "What to change; the rules for each field are on the input type.")] input: FeedbackSubmitInput,
    ) -> async_graphql::Result<FeedbackSubmitPayload> {
        let rc = ctx.trellis()?;
        let result = async {
            let attendee_id: AttendeeId = expect_input(&input.attendee_id, "attendeeId")?;
            traded::give_feedback(
                &rc.db,
                &rc.actor,
                rc.clock.as_ref(),
                NewFeedback {
                    attendee_id,
                    // Out of range either way: the domain says so as a user error.
                    rating: u8::try_from(input.rating).unwrap_or(0),
                    comment: input.comment,
                },
            )
            .await
        }
        .await;
        let (feedback, user_errors) = payload(result)?;
        Ok(FeedbackSubmitPayload {
            feedback: feedback.map(FeedbackNode),
            user_errors,
        })
    }
}
