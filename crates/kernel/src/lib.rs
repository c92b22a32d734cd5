//! The shared vocabulary of Trellis.
//!
//! Everything here is plain data and pure functions: no database (beyond the `sea-orm`
//! feature's error conversion and [`BeginWrite`]), no HTTP, no clock reads
//! except through [`Clock`]. Every domain crate depends on `kernel`; `kernel` depends on no
//! other Trellis crate. Types here make invalid states unrepresentable so that domain code
//! can take them as given: a [`Money`] is always whole pence, an [`AcademicYear`] is always a
//! September-to-August year, an [`Actor`] always carries the role it was loaded with.

pub mod academic_year;
pub mod actor;
#[cfg(feature = "sea-orm")]
pub mod audit;
pub mod clock;
pub mod cursor;
pub mod dates;
pub mod error;
pub mod financial_year;
pub mod global_id;
pub mod ids;
pub mod money;
pub mod named;
#[cfg(feature = "sea-orm")]
pub mod outbox;
#[cfg(feature = "sea-orm")]
pub mod persistence;
pub mod quantity;
pub mod text;

pub use academic_year::{AcademicYear, Term};
pub use actor::{Actor, ApiKeyActor, Permission, Role, Scope, UnknownName, UserActor};
pub use clock::{Clock, FixedClock, SystemClock};
pub use cursor::{Cursor, CursorError};
pub use error::{DomainError, ErrorCode, FieldError, Parsed, Problems};
pub use financial_year::FinancialYear;
pub use ids::ChargeId;
pub use ids::{
    AccountMoveId, AllocationId, ApiKeyId, AuditEntryId, BankLineId, BankStatementId,
    BillingAccountId, CreditNoteId, FeeScheduleId, InvoiceDraftId, InvoiceId, InvoiceLineId,
    InvoicingRunId, MembershipId, PartnershipId, PaymentId, RefundId, SchoolId, TierId, UserId,
};
pub use ids::{AttendeeId, BookingId, FeedbackId, ServiceId, SessionId};
pub use ids::{CalendarFeedId, NotificationId};
pub use ids::{
    FindingId, FollowUpActionId, ReviewCycleId, ReviewGroupId, ReviewId, ReviewerId, SelfReviewId,
    SharingConsentId, SupportRequestId,
};
pub use ids::{OfferEntryId, OfferItemId};
pub use money::{Currency, Money, MoneyError};
pub use named::{CorruptRow, UnknownValue, stored};
#[cfg(feature = "sea-orm")]
pub use persistence::BeginWrite;
pub use text::{like_contains, optional_text, required_text, search_text};
