//! Traded services: the catalogue and its sessions, schools' bookings of named attendees
//! with their approval, waiting list and settlement, and the `bookingUpdated` subscription.
//! `School.bookings` is resolved in `directory`, the certificate download in
//! `http::certificates`.

pub mod aftercare;
pub mod booking;
pub mod enums;
pub mod feedback;
pub mod mutation;
pub mod query;
pub mod subscription;
pub mod types;

pub use aftercare::AftercareMutation;
pub use booking::BookingMutation;
pub use mutation::CatalogueMutation;
pub use query::TradedQuery;
pub use subscription::TradedSubscription;
