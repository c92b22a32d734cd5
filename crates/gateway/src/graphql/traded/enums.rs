//! GraphQL mirrors of the traded domain's enums; `remote` keeps them in step with the domain.

use async_graphql::Enum;

/// What kind of service a catalogue entry is.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
#[graphql(remote = "traded::Category")]
pub enum ServiceCategory {
    /// A course of professional development for staff.
    CpdCourse,
    /// A conference or large event.
    Conference,
    /// Consultancy or advisory support for a school.
    Consultancy,
    /// An audit or review of an area of a school (safeguarding, SEND, finance…).
    Audit,
    /// Training for governors and trustees.
    GovernorTraining,
    /// Clerking of governing-board meetings.
    Clerking,
    /// Induction of early-career teachers.
    EctInduction,
    /// Human-resources services.
    Hr,
    /// Anything else.
    Other,
}

/// How a service is delivered.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
#[graphql(remote = "traded::Delivery")]
pub enum ServiceDelivery {
    /// Attended in person, at a venue.
    InPerson,
    /// Attended online.
    Online,
    /// At the booking school (consultancy days, audits).
    InSchool,
}

/// Whether a session runs.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
#[graphql(remote = "traded::SessionStatus")]
pub enum SessionStatus {
    /// Going ahead as planned; bookable until its booking deadline.
    Scheduled,
    /// Cancelled by the provider: every booking was given everything back.
    Cancelled,
}

/// Where a booking stands.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
#[graphql(remote = "traded::BookingStatus")]
pub enum BookingStatus {
    /// A staff request waiting for the school's leader; holds no place.
    PendingApproval,
    /// Places held while the card payment completes.
    PendingPayment,
    /// Places held and settled: the attendees are expected.
    Confirmed,
    /// On the waiting list, possibly with an offer of places (see `Booking.waitlist`).
    Waitlisted,
    /// Ended without taking place; `closure` says why and by whom.
    Cancelled,
    /// The register is taken and at least one attendee came.
    Attended,
    /// The register is taken and nobody came.
    NoShow,
}

/// How a booking is paid for.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
#[graphql(remote = "traded::Settlement")]
pub enum BookingSettlement {
    /// From the school's core-offer allowance of the service's offer item.
    Offer,
    /// A charge on the school's consolidated termly invoice.
    Invoice,
    /// Paid now by card: a one-off invoice and a Stripe PaymentIntent.
    Card,
}

/// Which price a booking was charged.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
#[graphql(remote = "traded::PriceBasis")]
pub enum PriceBasis {
    /// The school had an active membership in the session's academic year.
    Member,
    /// The school had no active membership in the session's academic year.
    NonMember,
}

/// Why a booking ended without being delivered.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
#[graphql(remote = "traded::ClosedReason")]
pub enum BookingClosedReason {
    /// The school's leader declined a staff request.
    Declined,
    /// The school cancelled the booking, under the session's cancellation policy.
    CancelledBySchool,
    /// The provider cancelled the session.
    SessionCancelled,
    /// The school took its entry off the waiting list.
    LeftWaitlist,
    /// The school declined places offered from the waiting list.
    OfferDeclined,
    /// Nobody answered the waiting-list offer in time.
    OfferExpired,
    /// The card payment never completed.
    Unpaid,
}

/// What the register says of one attendee.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
#[graphql(remote = "traded::Attendance")]
pub enum Attendance {
    /// Present at the session (at any part of it, for a session in parts).
    Attended,
    /// Booked but absent from every part marked.
    NoShow,
}

/// A card refund owed after a cancellation.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
#[graphql(remote = "traded::RefundState")]
pub enum RefundState {
    /// Owed: made after the cancellation committed, retried until done.
    Pending,
    /// The refund was made.
    Done,
}
