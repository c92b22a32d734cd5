//! Traded services: what a school buys beyond its core offer — courses, conferences,
//! consultancy, audits, governor services, HR — and everything from finding a course to the
//! certificate after it.
//!
//! * [`catalogue`]: services, their provider (partnership staff, or a school giving
//!   school-to-school support), delivery, member and non-member prices, VAT, and the
//!   core-offer item that can pay for a place; publish, search, filter, keyset pages.
//! * [`sessions`]: scheduled runs of a service in one or more parts, with capacity, booking
//!   deadline, cancellation [`policy`] and waiting-list offer window.
//! * [`book`]: bookings of named attendees by a school's leader, staff requests and their
//!   approval, substitutions; [`bookings`] reads them back (pages and one-statement batches).
//! * [`settlement`]: paying from the core offer, on the termly invoice, or by card.
//! * [`cancellation`]: cancelling under the policy, or by the provider, and the refunds.
//! * [`waitlist`]: the waiting list, offers that expire, passing places on; freed places
//!   are offered to it first (`places`).
//! * [`attendance`]: the register, certificates of participation, and feedback.
//! * [`reports`]: delegate lists and sign-in sheets, a person's CPD record, a service's
//!   feedback summary for a term — as CSV and PDF, for those who may read them.
//! * [`visibility`]: who may see and act on which bookings and sessions.
//! * [`history`]: each booking's audit trail — every change above, who made it, before and
//!   after.
//! * [`demo`]: the demo partnership's catalogue, sessions and some bookings.
//!
//! **Nobody is ever oversold.** A session's `places_taken` only grows through one
//! conditional update inside the booking's transaction (see [`hold`]).
//!
//! **API boundary:** this crate knows nothing of GraphQL or HTTP (`traded → billing, offer,
//! membership → kernel`); money moves only through billing, allowances only through offer.
//! Every service takes a [`kernel::Actor`] and checks permissions itself. Each mutation
//! returns the booking(s) it changed, so the gateway can tell each school (`bookingUpdated`).

pub mod attendance;
pub mod book;
pub mod bookings;
pub mod cancellation;
pub mod catalogue;
pub mod demo;
mod entity;
mod events;
pub mod feedback;
pub mod history;
mod hold;
mod lifecycle;
mod places;
pub mod policy;
pub mod reports;
pub mod sessions;
pub mod settlement;
mod support;
pub mod synthetic;
pub mod types;
pub mod visibility;
pub mod waitlist;

pub use attendance::{
    AttendanceMark, Certificate, RegisterLine, certificate, certificates, earns_certificate,
    mark_attendance, register,
};
pub use book::{
    Approval, BookingOutcome, MAX_PLACES_PER_BOOKING, NewAttendee, NewBooking, NewBookingRequest,
    approve_request, book, decline_request, request_booking, substitute_attendee,
};
pub use bookings::{
    Attendee, Booking, BookingFilter, BookingKey, Closure, WaitlistPlace, attendees_by_ids,
    attendees_of_bookings, booking, bookings_by_ids, bookings_of_schools, bookings_of_sessions,
    bookings_page,
};
pub use cancellation::{
    SessionChange, cancel_booking, cancel_session, complete_card_refunds, free_cancellation_until,
    release_unpaid_bookings,
};
pub use catalogue::{
    NewService, ProviderFilter, Service, ServiceFilter, ServicePatch, count_services,
    create_service, publish_service, service, service_by_code, services, services_by_ids,
    unpublish_service, update_service,
};
pub use feedback::{
    Feedback, NewFeedback, RatingSummary, feedback_of_sessions, give_feedback, ratings_of_services,
};
pub use places::BookingChange;
pub use policy::{CancellationBand, CancellationPolicy, CancellationTerms, UnitTerms};
pub use reports::cpd::{CpdEntry, CpdRecord, Outcome as CpdOutcome, cpd_record, may_read_record};
pub use reports::delegates::{Delegate, DelegateList, delegate_list};
pub use reports::feedback::{FeedbackSummary, Spread, feedback_summary, may_read_feedback};
pub use sessions::{
    DEFAULT_WAITLIST_OFFER_HOURS, NewSession, Session, SessionFilter, SessionKey, SessionPart,
    SessionPatch, create_session, services_with_sessions, session, sessions_by_ids,
    sessions_of_services, sessions_page, update_session,
};
pub use settlement::{CardPayment, confirm_paid_bookings, pay_booking_by_card};
pub use types::{
    Attendance, BookingStatus, Category, ClosedReason, Delivery, PriceBasis, RefundState,
    SessionStatus, Settlement,
};
pub use visibility::{
    acts_for_provider, may_read_booking, may_read_bookings, may_see_service, provides_session,
    visible_attendees, visible_bookings, visible_bookings_of_schools, visible_services,
    visible_sessions,
};
pub use waitlist::{
    WaitlistAcceptance, accept_waitlist_offer, decline_waitlist_offer, expire_waitlist_offers,
    leave_waitlist,
};
