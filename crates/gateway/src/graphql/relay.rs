//! Relay's global object identification and connections.
//!
//! Global ids are opaque to clients: URL-safe base64 of `Entity:uuid` (`kernel::global_id`). Decoding checks the
//! entity, so a partnership's id passed where a school's is expected is refused rather than
//! looked up in the wrong table.

use async_graphql::connection::{Connection, Edge};
use async_graphql::{ID, ObjectType, OutputType};
use kernel::{
    ApiKeyId, BillingAccountId, CreditNoteId, ErrorCode, FeeScheduleId, InvoiceId, InvoicingRunId,
    MembershipId, PartnershipId, PaymentId, RefundId, SchoolId, TierId, UserId,
};
use kernel::{OfferEntryId, OfferItemId};
use membership::{Page, PageArgs, PageError};
use uuid::Uuid;

use super::errors::{Code, coded, field_error};

/// An id type that has a global id.
pub trait GlobalId: Sized + Copy {
    const ENTITY: &'static str;
    fn from_uuid(uuid: Uuid) -> Self;
    fn uuid(self) -> Uuid;

    fn to_global(self) -> ID {
        ID(kernel::global_id::encode(Self::ENTITY, self.uuid()))
    }
}

macro_rules! global_id {
    ($($t:ty),*) => {$(
        impl GlobalId for $t {
            const ENTITY: &'static str = <$t>::ENTITY;
            fn from_uuid(uuid: Uuid) -> Self { <$t>::from_uuid(uuid) }
            fn uuid(self) -> Uuid { self.as_uuid() }
        }
    )*};
}
global_id!(
    SchoolId,
    PartnershipId,
    UserId,
    ApiKeyId,
    TierId,
    MembershipId,
    FeeScheduleId,
    BillingAccountId,
    InvoiceId,
    kernel::InvoiceDraftId,
    CreditNoteId,
    PaymentId,
    RefundId,
    InvoicingRunId,
    OfferItemId,
    OfferEntryId
);
global_id!(
    kernel::ReviewCycleId,
    kernel::ReviewGroupId,
    kernel::ReviewId,
    kernel::ReviewerId,
    kernel::FindingId,
    kernel::FollowUpActionId,
    kernel::SupportRequestId,
    kernel::SharingConsentId,
    kernel::SelfReviewId
);
global_id!(
    kernel::ServiceId,
    kernel::SessionId,
    kernel::BookingId,
    kernel::AttendeeId,
    kernel::FeedbackId
);
global_id!(kernel::ChargeId, kernel::AccountMoveId);
global_id!(kernel::BankStatementId, kernel::BankLineId);
global_id!(kernel::NotificationId, kernel::CalendarFeedId);

/// Splits a global id into entity name and uuid; `None` when it is not one of ours.
pub use kernel::global_id::decode;

/// Decodes a global id that must name a `T`, for query arguments: a bad one is BAD_USER_INPUT.
pub fn expect_arg<T: GlobalId>(id: &ID) -> async_graphql::Result<T> {
    match decode(id) {
        Some((entity, uuid)) if entity == T::ENTITY => Ok(T::from_uuid(uuid)),
        _ => Err(coded(
            format!("`{}` is not a {} id", id.as_str(), T::ENTITY),
            Code::BadUserInput,
        )),
    }
}

/// Decodes a global id in a mutation input: a bad one is a user error on `field`.
pub fn expect_input<T: GlobalId>(id: &ID, field: &str) -> Result<T, kernel::DomainError> {
    match decode(id) {
        Some((entity, uuid)) if entity == T::ENTITY => Ok(T::from_uuid(uuid)),
        _ => Err(field_error(
            field,
            ErrorCode::Invalid,
            &format!("not a {} id", T::ENTITY),
        )),
    }
}

/// Validated Relay paging arguments; a bad one is BAD_USER_INPUT.
pub fn page_args<K: serde::de::DeserializeOwned>(
    first: Option<i32>,
    after: Option<&str>,
    last: Option<i32>,
    before: Option<&str>,
) -> async_graphql::Result<PageArgs<K>> {
    PageArgs::parse(first, after, last, before)
        .map_err(|e: PageError| coded(e.to_string(), Code::BadUserInput))
}

/// The complexity of a connection field: one for the field plus what each item selects
/// times the page asked for (`first` or `last`, else the default page). Without the
/// multiplier a thousand aliased 100-item pages would count as a thousand fields.
#[must_use]
pub fn page_cost(first: Option<i32>, last: Option<i32>, child_complexity: usize) -> usize {
    let page = first.or(last).map_or(membership::DEFAULT_PAGE, |n| {
        u64::try_from(n).unwrap_or(1).clamp(1, membership::MAX_PAGE)
    });
    child_complexity
        .saturating_mul(usize::try_from(page).unwrap_or(usize::MAX))
        .saturating_add(1)
}

/// Builds a Relay connection from a page, with a cursor per item.
pub fn connection<T, K, N, CF, EF, CN, EN>(
    page: Page<T>,
    extra: CF,
    mut edge: impl FnMut(T) -> (K, N, EF),
) -> Connection<String, N, CF, EF, CN, EN>
where
    K: serde::Serialize,
    N: OutputType,
    CF: ObjectType,
    EF: ObjectType,
    CN: async_graphql::connection::ConnectionNameType,
    EN: async_graphql::connection::EdgeNameType,
{
    let mut conn =
        Connection::with_additional_fields(page.has_previous_page, page.has_next_page, extra);
    conn.edges.extend(page.items.into_iter().map(|item| {
        let (key, node, fields) = edge(item);
        Edge::with_additional_fields(membership::cursor_of(&key).into_string(), node, fields)
    }));
    conn
}

/// An edge (or connection) with nothing beyond the standard fields.
pub use async_graphql::connection::EmptyFields as NoEdgeFields;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_page_costs_its_size_times_its_items() {
        assert_eq!(page_cost(Some(100), None, 4), 401);
        assert_eq!(page_cost(None, Some(5), 4), 21);
        assert_eq!(page_cost(None, None, 4), 81);
        // Out-of-range sizes are refused by `page_args`; here they only must not wrap.
        assert_eq!(page_cost(Some(-3), None, 4), 5);
        assert_eq!(page_cost(Some(i32::MAX), None, 4), 401);
        assert_eq!(page_cost(Some(100), None, usize::MAX), usize::MAX);
    }

    #[test]
    fn global_ids_round_trip_and_check_the_entity() {
        let school = SchoolId::new();
        let id = school.to_global();
        assert_eq!(decode(&id), Some(("School".to_owned(), school.as_uuid())));
        assert_eq!(expect_arg::<SchoolId>(&id).ok(), Some(school));
        assert!(expect_arg::<PartnershipId>(&id).is_err());
        assert!(expect_arg::<SchoolId>(&ID("garbage".into())).is_err());
        assert!(decode("U2Nob29sOm5vdC1hLXV1aWQ").is_none());
    }

    proptest::proptest! {
        /// Global ids come from clients: any text decodes or is refused, never a panic.
        #[test]
        fn any_text_decodes_as_a_global_id_or_is_refused(id in "\\PC{0,120}") {
            let _ = decode(&id);
            let _ = expect_arg::<SchoolId>(&ID(id.clone()));
        }
    }
}
