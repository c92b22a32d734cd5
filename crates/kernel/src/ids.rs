//! Typed identifiers.
//!
//! Every entity is keyed by a UUIDv7: time-ordered, so primary-key indexes stay append-mostly
//! and keyset pagination by id is stable. Wrapping each in its own type means a `SchoolId` can
//! never be passed where a `PartnershipId` is expected.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// Declares a UUIDv7-backed identifier type with a stable entity name.
///
/// The name is used by the API layer for opaque global ids, so it must never change once
/// released.
macro_rules! typed_id {
    ($(#[$meta:meta])* $name:ident, $entity:literal) => {
        $(#[$meta])*
        #[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(Uuid);

        impl $name {
            /// The entity name used in global ids.
            pub const ENTITY: &'static str = $entity;

            /// A fresh, time-ordered id.
            #[must_use]
            pub fn new() -> Self {
                Self(Uuid::now_v7())
            }

            #[must_use]
            pub const fn from_uuid(uuid: Uuid) -> Self {
                Self(uuid)
            }

            #[must_use]
            pub const fn as_uuid(&self) -> Uuid {
                self.0
            }
        }

        impl Default for $name {
            fn default() -> Self {
                Self::new()
            }
        }

        impl From<Uuid> for $name {
            fn from(uuid: Uuid) -> Self {
                Self(uuid)
            }
        }

        impl From<$name> for Uuid {
            fn from(id: $name) -> Self {
                id.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({})", $entity, self.0)
            }
        }

        impl FromStr for $name {
            type Err = uuid::Error;

            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Uuid::parse_str(s).map(Self)
            }
        }
    };
}

typed_id!(
    /// A school in the directory.
    SchoolId,
    "School"
);
typed_id!(
    /// A partnership of schools (MAT, federation, loose group, teaching-school alliance).
    PartnershipId,
    "Partnership"
);
typed_id!(
    /// A person who signs in to Trellis.
    UserId,
    "User"
);
typed_id!(
    /// An integrator's API key.
    ApiKeyId,
    "ApiKey"
);

typed_id!(
    /// A membership tier a partnership offers (e.g. FULL, ASSOCIATE).
    TierId,
    "MembershipTier"
);
typed_id!(
    /// A school's membership for one academic year.
    MembershipId,
    "Membership"
);
typed_id!(
    /// The fee rules for one academic year and tier.
    FeeScheduleId,
    "FeeSchedule"
);
typed_id!(
    /// Who pays: a school, or a trust/federation paying for several schools.
    BillingAccountId,
    "BillingAccount"
);
typed_id!(
    /// One run of membership invoicing for an academic year.
    InvoicingRunId,
    "InvoicingRun"
);
typed_id!(
    /// A membership invoice the year's run has prepared but not issued: no number yet.
    InvoiceDraftId,
    "InvoiceDraft"
);
typed_id!(
    /// An invoice (issued ones are immutable).
    InvoiceId,
    "Invoice"
);
typed_id!(
    /// One line of an invoice.
    InvoiceLineId,
    "InvoiceLine"
);
typed_id!(
    /// A school's move from one billing account to another, from a date.
    AccountMoveId,
    "BillingAccountMove"
);
typed_id!(
    /// A bank statement finance uploaded.
    BankStatementId,
    "BankStatement"
);
typed_id!(
    /// One money-in line of a bank statement, brought in once whatever statements overlap.
    BankLineId,
    "BankStatementLine"
);
typed_id!(
    /// A credit note against an issued invoice.
    CreditNoteId,
    "CreditNote"
);
typed_id!(
    /// Money received (a BACS receipt, a card payment).
    PaymentId,
    "Payment"
);
typed_id!(
    /// Part of a payment applied to one invoice.
    AllocationId,
    "Allocation"
);
typed_id!(
    /// Money returned to a billing account.
    RefundId,
    "Refund"
);
typed_id!(
    /// One entry of the money audit trail.
    AuditEntryId,
    "AuditEntry"
);
typed_id!(
    /// An item of the core offer (partner visits, CPD places, support hours...).
    OfferItemId,
    "OfferItem"
);
typed_id!(
    /// One entry of a school's core-offer entitlement ledger.
    OfferEntryId,
    "OfferLedgerEntry"
);

typed_id!(
    /// A peer-review cycle: one academic year's framework, windows and groups.
    ReviewCycleId,
    "ReviewCycle"
);
typed_id!(
    /// A school leader registered to review other schools, with their training.
    ReviewerId,
    "Reviewer"
);
typed_id!(
    /// A group (triad, quad…) of schools that review each other in a cycle.
    ReviewGroupId,
    "ReviewGroup"
);
typed_id!(
    /// One school's peer review in a cycle.
    ReviewId,
    "Review"
);
typed_id!(
    /// A host school's self-review before its visit.
    SelfReviewId,
    "SelfReview"
);
typed_id!(
    /// A strength or area for development in a review's report.
    FindingId,
    "ReviewFinding"
);
typed_id!(
    /// An agreed follow-up action of a review.
    FollowUpActionId,
    "FollowUpAction"
);
typed_id!(
    /// A request for school-to-school support against a follow-up action.
    SupportRequestId,
    "SupportRequest"
);
typed_id!(
    /// A host school's recorded consent to share its report.
    SharingConsentId,
    "SharingConsent"
);
typed_id!(
    /// A booking's charge waiting for (or on) its school's termly invoice.
    ChargeId,
    "Charge"
);

typed_id!(
    /// A traded service in the catalogue (a course, a conference, consultancy, an audit…).
    ServiceId,
    "TradedService"
);
typed_id!(
    /// One scheduled run of a traded service, with its parts, capacity and deadline.
    SessionId,
    "TradedSession"
);
typed_id!(
    /// A school's booking of places on a session (also a waiting-list entry or a request).
    BookingId,
    "Booking"
);
typed_id!(
    /// A named person a booking holds a place for.
    AttendeeId,
    "BookingAttendee"
);
typed_id!(
    /// An attendee's rating and comment after a session.
    FeedbackId,
    "SessionFeedback"
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_time_ordered() {
        let a = SchoolId::new();
        let b = SchoolId::new();
        assert!(a < b);
    }

    #[test]
    fn display_round_trips() {
        let id = PartnershipId::new();
        assert_eq!(id.to_string().parse::<PartnershipId>().ok(), Some(id));
        assert!("not-a-uuid".parse::<PartnershipId>().is_err());
    }
}

typed_id!(
    /// One message to one recipient (an email and an inbox entry).
    NotificationId,
    "Notification"
);
typed_id!(
    /// A secret calendar feed URL of a school or a person.
    CalendarFeedId,
    "CalendarFeed"
);
