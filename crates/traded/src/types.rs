//! The closed sets of names traded services are described with, stored as text.

use kernel::named_enum;

named_enum!(
    /// What kind of service a catalogue entry is.
    Category {
        CpdCourse => "CPD_COURSE",
        Conference => "CONFERENCE",
        Consultancy => "CONSULTANCY",
        Audit => "AUDIT",
        GovernorTraining => "GOVERNOR_TRAINING",
        Clerking => "CLERKING",
        EctInduction => "ECT_INDUCTION",
        Hr => "HR",
        Other => "OTHER",
    }
);

impl Category {
    /// Whether attendance earns a certificate of participation: learning, not services.
    #[must_use]
    pub const fn certifies_attendance(self) -> bool {
        matches!(
            self,
            Self::CpdCourse | Self::Conference | Self::GovernorTraining | Self::EctInduction
        )
    }
}

named_enum!(
    /// How a service is delivered.
    Delivery {
        InPerson => "IN_PERSON",
        Online => "ONLINE",
        /// At the booking school (consultancy days, audits).
        InSchool => "IN_SCHOOL",
    }
);

named_enum!(
    /// Whether a session runs.
    SessionStatus {
        Scheduled => "SCHEDULED",
        /// Cancelled by the provider: every booking was given everything back.
        Cancelled => "CANCELLED",
    }
);

named_enum!(
    /// Where a booking stands.
    BookingStatus {
        /// A staff request waiting for the school's leader; holds no place.
        PendingApproval => "PENDING_APPROVAL",
        /// Places held while the card payment completes.
        PendingPayment => "PENDING_PAYMENT",
        Confirmed => "CONFIRMED",
        /// On the waiting list (possibly with an offer of places, see `Booking::waitlist`).
        Waitlisted => "WAITLISTED",
        Cancelled => "CANCELLED",
        /// The register is taken and at least one attendee came.
        Attended => "ATTENDED",
        /// The register is taken and nobody came.
        NoShow => "NO_SHOW",
    }
);

impl BookingStatus {
    /// Statuses of a booking that still counts: its attendees hold (or wait for) a place.
    pub const LIVE: [Self; 6] = [
        Self::PendingApproval,
        Self::PendingPayment,
        Self::Confirmed,
        Self::Waitlisted,
        Self::Attended,
        Self::NoShow,
    ];
}

named_enum!(
    /// How a booking is paid for.
    Settlement {
        /// From the school's core-offer allowance of the service's offer item.
        Offer => "OFFER",
        /// A charge on the school's consolidated termly invoice.
        Invoice => "INVOICE",
        /// Paid now by card: a one-off invoice and a PaymentIntent.
        Card => "CARD",
    }
);

named_enum!(
    /// Which price a booking was charged.
    PriceBasis {
        /// The school had an ACTIVE membership in the session's academic year.
        Member => "MEMBER",
        NonMember => "NON_MEMBER",
    }
);

named_enum!(
    /// Why a booking ended without being delivered.
    ClosedReason {
        /// The school's leader declined a staff request.
        Declined => "DECLINED",
        CancelledBySchool => "CANCELLED_BY_SCHOOL",
        /// The provider cancelled the session.
        SessionCancelled => "SESSION_CANCELLED",
        /// The school took its entry off the waiting list.
        LeftWaitlist => "LEFT_WAITLIST",
        /// The school declined places offered from the waiting list.
        OfferDeclined => "OFFER_DECLINED",
        /// Nobody answered the waiting-list offer in time.
        OfferExpired => "OFFER_EXPIRED",
        /// The card payment never completed.
        Unpaid => "UNPAID",
    }
);

named_enum!(
    /// What the register says of one attendee.
    Attendance {
        Attended => "ATTENDED",
        NoShow => "NO_SHOW",
    }
);

named_enum!(
    /// A card refund owed after a cancellation: made after the cancellation commits.
    RefundState {
        Pending => "PENDING",
        Done => "DONE",
    }
);
