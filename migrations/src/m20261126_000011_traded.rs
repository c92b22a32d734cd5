//! Traded services: the catalogue of services a school can buy beyond its core offer, their
//! scheduled sessions (one or more parts each), schools' bookings of named attendees, the
//! waiting list, the attendance register and feedback.
//!
//! **Capacity is a counter under a conditional update.** `traded_sessions.places_taken` is
//! the number of places held (confirmed, awaiting card payment, or offered to a waiting-list
//! entry). A booking takes its places with `places_taken = places_taken + n WHERE
//! places_taken + n <= capacity` inside its transaction, so PostgreSQL can never oversell
//! (the row lock serialises the increments and the condition is re-checked after the wait);
//! `traded_bookings.places_held` records exactly what each booking holds, so giving places
//! back never frees more than was taken.
//!
//! **A waiting-list entry is a booking** in status WAITLISTED: it names its attendees, asks
//! for its places, and becomes the confirmed booking when it accepts an offer. An offered
//! entry holds its places until `offer_expires_at`.
//!
//! **One live place per person and session.** `traded_attendees.live_email` is the
//! attendee's (lower-cased) email while their booking is live and NULL once it is not, under
//! a unique index with the session: NULLs are distinct on both backends, so cancelled
//! bookings never block a re-booking.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::{
    big_integer, big_integer_null, boolean, integer, pk_uuid, string, string_null, string_uniq,
    text, text_null, timestamp_with_time_zone, timestamp_with_time_zone_null, uuid, uuid_null,
};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Schools {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum OfferItems {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum TradedServices {
    Table,
    Id,
    /// Stable upper-case handle, e.g. `CPD-PHONICS-KS1`.
    Code,
    Title,
    /// CPD_COURSE, CONFERENCE, CONSULTANCY, AUDIT, GOVERNOR_TRAINING, CLERKING,
    /// ECT_INDUCTION, HR or OTHER.
    Category,
    Description,
    /// Who it is for, in words ("Headteachers and deputies", "Year 1 teachers").
    Audience,
    /// Null: partnership staff provide it; otherwise the school giving school-to-school support.
    ProviderSchoolId,
    /// The team or person delivering, as shown in the catalogue.
    ProviderName,
    /// IN_PERSON, ONLINE or IN_SCHOOL.
    Delivery,
    /// Per place, for schools with an ACTIVE membership in the session's year.
    MemberPricePence,
    /// Per place for everyone else; null: sold to member schools only.
    NonMemberPricePence,
    /// EXEMPT or STANDARD (billing's VAT treatment).
    VatTreatment,
    VatRateBp,
    /// The school's ledger code for the spend, carried onto invoices.
    CfrCode,
    /// The core-offer item that can pay for a place instead of money.
    OfferItemId,
    Published,
    /// Lower-cased code, title, description, audience and provider: what text search reads.
    SearchText,
    /// The phases, comma-separated, as read back (`traded_service_phases` is what filters).
    Phases,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum TradedServicePhases {
    Table,
    ServiceId,
    /// A school phase the service is for (membership's phase names).
    Phase,
}

#[derive(DeriveIden)]
enum TradedSessions {
    Table,
    Id,
    ServiceId,
    /// The academic year of the first part: it decides member pricing and the entitlement used.
    AcademicYear,
    /// Optional name of this run, e.g. "Spring cohort".
    Label,
    /// The parts (start, end, venue or link) as a JSON array in date order: always read and
    /// written with their session, and a session has a handful.
    Parts,
    /// The first part's start and the last part's end, denormalised from the parts for
    /// ordering and the "upcoming" filter.
    StartsAt,
    EndsAt,
    Capacity,
    /// Places held: see the module documentation.
    PlacesTaken,
    BookingDeadline,
    /// Free cancellation until this many whole days before the start.
    FreeCancellationDays,
    /// After that, this percentage of the price is kept…
    LateFeePercent,
    /// …and within this many days nothing is given back.
    NoRefundDays,
    /// How long a freed place is held for the waiting-list entry it is offered to.
    WaitlistOfferHours,
    /// SCHEDULED or CANCELLED.
    Status,
    CancelledAt,
    CancelledReason,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum TradedBookings {
    Table,
    Id,
    SchoolId,
    SessionId,
    ServiceId,
    AcademicYear,
    /// PENDING_APPROVAL, PENDING_PAYMENT, CONFIRMED, WAITLISTED, CANCELLED, ATTENDED, NO_SHOW.
    Status,
    /// Places asked for: the number of attendees.
    Places,
    /// Places this booking holds on the session's counter (0 or `places`).
    PlacesHeld,
    /// MEMBER or NON_MEMBER: which price applied when the booking was priced.
    PriceBasis,
    UnitPricePence,
    VatTreatment,
    VatRateBp,
    /// OFFER, INVOICE or CARD; null until the booking is settled.
    Settlement,
    PoNumber,
    /// The staff member who asked (PENDING_APPROVAL requests) and the leader who committed.
    RequestedBy,
    BookedBy,
    /// The offer usage that paid (OFFER).
    OfferEntryId,
    /// The one-off invoice to pay by card (CARD).
    InvoiceId,
    /// When it joined the waiting list: its place in the queue.
    WaitlistedAt,
    OfferedAt,
    OfferExpiresAt,
    /// Why it ended: DECLINED, CANCELLED_BY_SCHOOL, SESSION_CANCELLED, LEFT_WAITLIST,
    /// OFFER_DECLINED, OFFER_EXPIRED or UNPAID.
    ClosedReason,
    ClosedNote,
    ClosedAt,
    ClosedBy,
    /// Kept by the cancellation policy, and due back.
    CancellationFeePence,
    RefundPence,
    /// CARD refunds made after the cancellation commits: PENDING until done, then DONE.
    RefundState,
    /// Bumped by every change: state changes are compare-and-set on it.
    Version,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum TradedAttendees {
    Table,
    Id,
    BookingId,
    SessionId,
    Position,
    Name,
    /// Lower-cased.
    Email,
    /// Their job ("Year 2 teacher", "SENCO").
    Role,
    /// `email` while the booking is live, NULL otherwise (see the module documentation).
    LiveEmail,
    /// ATTENDED or NO_SHOW once the register is taken.
    Attendance,
    AttendanceMarkedAt,
    AttendanceMarkedBy,
    SubstitutedAt,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum TradedFeedback {
    Table,
    Id,
    AttendeeId,
    BookingId,
    SessionId,
    ServiceId,
    SchoolId,
    /// 1 to 5.
    Rating,
    Comment,
    SubmittedBy,
    CreatedAt,
}

async fn index(
    manager: &SchemaManager<'_>,
    name: &str,
    table: impl IntoIden,
    cols: Vec<DynIden>,
    unique: bool,
) -> Result<(), DbErr> {
    let mut index = Index::create();
    index.name(name).table(table);
    for col in cols {
        index.col(col);
    }
    if unique {
        index.unique();
    }
    manager.create_index(index).await
}

fn fk(
    name: &str,
    from: (impl IntoIden, impl IntoIden),
    to: (impl IntoIden, impl IntoIden),
) -> ForeignKeyCreateStatement {
    ForeignKey::create()
        .name(name)
        .from(from.0, from.1)
        .to(to.0, to.1)
        .on_delete(ForeignKeyAction::Restrict)
        .to_owned()
}

fn cols<const N: usize>(cols: [impl IntoIden; N]) -> Vec<DynIden> {
    cols.into_iter().map(IntoIden::into_iden).collect()
}

async fn services(manager: &SchemaManager<'_>) -> Result<(), DbErr> {
    use TradedServices as S;
    manager
        .create_table(
            Table::create()
                .table(S::Table)
                .col(pk_uuid(S::Id))
                .col(string_uniq(S::Code))
                .col(string(S::Title))
                .col(string(S::Category))
                .col(text(S::Description).default(""))
                .col(text(S::Audience).default(""))
                .col(uuid_null(S::ProviderSchoolId))
                .col(string(S::ProviderName))
                .col(string(S::Delivery))
                .col(big_integer(S::MemberPricePence))
                .col(big_integer_null(S::NonMemberPricePence))
                .col(string(S::VatTreatment))
                .col(integer(S::VatRateBp))
                .col(string_null(S::CfrCode))
                .col(uuid_null(S::OfferItemId))
                .col(boolean(S::Published).default(false))
                .col(text(S::SearchText).default(""))
                .col(text(S::Phases).default(""))
                .col(timestamp_with_time_zone(S::CreatedAt))
                .col(timestamp_with_time_zone(S::UpdatedAt))
                .foreign_key(&mut fk(
                    "fk_traded_services_provider_school",
                    (S::Table, S::ProviderSchoolId),
                    (Schools::Table, Schools::Id),
                ))
                .foreign_key(&mut fk(
                    "fk_traded_services_offer_item",
                    (S::Table, S::OfferItemId),
                    (OfferItems::Table, OfferItems::Id),
                ))
                .to_owned(),
        )
        .await?;
    // The catalogue is paged by title, optionally within a category.
    index(
        manager,
        "idx_traded_services_title",
        S::Table,
        cols([S::Title, S::Id]),
        false,
    )
    .await?;
    index(
        manager,
        "idx_traded_services_category_title",
        S::Table,
        cols([S::Category, S::Title, S::Id]),
        false,
    )
    .await?;
    // "What this school provides" (the providers' view, attendance rights).
    index(
        manager,
        "idx_traded_services_provider_school",
        S::Table,
        cols([S::ProviderSchoolId]),
        false,
    )
    .await?;

    use TradedServicePhases as P;
    manager
        .create_table(
            Table::create()
                .table(P::Table)
                .col(uuid(P::ServiceId))
                .col(string(P::Phase))
                .primary_key(Index::create().col(P::ServiceId).col(P::Phase))
                .foreign_key(&mut fk(
                    "fk_traded_service_phases_service",
                    (P::Table, P::ServiceId),
                    (S::Table, S::Id),
                ))
                .to_owned(),
        )
        .await?;
    // The phase filter.
    index(
        manager,
        "idx_traded_service_phases_phase",
        P::Table,
        cols([P::Phase, P::ServiceId]),
        false,
    )
    .await
}

async fn sessions(manager: &SchemaManager<'_>) -> Result<(), DbErr> {
    use TradedSessions as S;
    manager
        .create_table(
            Table::create()
                .table(S::Table)
                .col(pk_uuid(S::Id))
                .col(uuid(S::ServiceId))
                .col(integer(S::AcademicYear))
                .col(string_null(S::Label))
                .col(text(S::Parts))
                .col(timestamp_with_time_zone(S::StartsAt))
                .col(timestamp_with_time_zone(S::EndsAt))
                .col(integer(S::Capacity))
                .col(integer(S::PlacesTaken).default(0))
                .col(timestamp_with_time_zone(S::BookingDeadline))
                .col(integer(S::FreeCancellationDays))
                .col(integer(S::LateFeePercent))
                .col(integer(S::NoRefundDays))
                .col(integer(S::WaitlistOfferHours))
                .col(string(S::Status))
                .col(timestamp_with_time_zone_null(S::CancelledAt))
                .col(text_null(S::CancelledReason))
                .col(timestamp_with_time_zone(S::CreatedAt))
                .col(timestamp_with_time_zone(S::UpdatedAt))
                .check(Expr::col(S::PlacesTaken).gte(0))
                .check(Expr::col(S::PlacesTaken).lte(Expr::col(S::Capacity)))
                .foreign_key(&mut fk(
                    "fk_traded_sessions_service",
                    (S::Table, S::ServiceId),
                    (TradedServices::Table, TradedServices::Id),
                ))
                .to_owned(),
        )
        .await?;
    // A service's sessions in date order; and every upcoming session.
    index(
        manager,
        "idx_traded_sessions_service_starts",
        S::Table,
        cols([S::ServiceId, S::StartsAt, S::Id]),
        false,
    )
    .await?;
    index(
        manager,
        "idx_traded_sessions_starts",
        S::Table,
        cols([S::StartsAt, S::Id]),
        false,
    )
    .await
}

async fn bookings(manager: &SchemaManager<'_>) -> Result<(), DbErr> {
    use TradedBookings as B;
    manager
        .create_table(
            Table::create()
                .table(B::Table)
                .col(pk_uuid(B::Id))
                .col(uuid(B::SchoolId))
                .col(uuid(B::SessionId))
                .col(uuid(B::ServiceId))
                .col(integer(B::AcademicYear))
                .col(string(B::Status))
                .col(integer(B::Places))
                .col(integer(B::PlacesHeld).default(0))
                .col(string(B::PriceBasis))
                .col(big_integer(B::UnitPricePence))
                .col(string(B::VatTreatment))
                .col(integer(B::VatRateBp))
                .col(string_null(B::Settlement))
                .col(string_null(B::PoNumber))
                .col(uuid_null(B::RequestedBy))
                .col(uuid_null(B::BookedBy))
                .col(uuid_null(B::OfferEntryId))
                .col(uuid_null(B::InvoiceId))
                .col(timestamp_with_time_zone_null(B::WaitlistedAt))
                .col(timestamp_with_time_zone_null(B::OfferedAt))
                .col(timestamp_with_time_zone_null(B::OfferExpiresAt))
                .col(string_null(B::ClosedReason))
                .col(text_null(B::ClosedNote))
                .col(timestamp_with_time_zone_null(B::ClosedAt))
                .col(uuid_null(B::ClosedBy))
                .col(big_integer_null(B::CancellationFeePence))
                .col(big_integer_null(B::RefundPence))
                .col(string_null(B::RefundState))
                .col(big_integer(B::Version).default(0))
                .col(timestamp_with_time_zone(B::CreatedAt))
                .col(timestamp_with_time_zone(B::UpdatedAt))
                .foreign_key(&mut fk(
                    "fk_traded_bookings_school",
                    (B::Table, B::SchoolId),
                    (Schools::Table, Schools::Id),
                ))
                .foreign_key(&mut fk(
                    "fk_traded_bookings_session",
                    (B::Table, B::SessionId),
                    (TradedSessions::Table, TradedSessions::Id),
                ))
                .foreign_key(&mut fk(
                    "fk_traded_bookings_service",
                    (B::Table, B::ServiceId),
                    (TradedServices::Table, TradedServices::Id),
                ))
                .to_owned(),
        )
        .await?;
    // A school's bookings (its portal, newest first by id); a session's bookings by status
    // (the register, the waiting list in queue order).
    index(
        manager,
        "idx_traded_bookings_school",
        B::Table,
        cols([B::SchoolId, B::Id]),
        false,
    )
    .await?;
    index(
        manager,
        "idx_traded_bookings_session_status",
        B::Table,
        cols([B::SessionId, B::Status, B::WaitlistedAt]),
        false,
    )
    .await?;
    // The sweeps: expired waiting-list offers, unpaid card bookings, refunds still due.
    index(
        manager,
        "idx_traded_bookings_status_expiry",
        B::Table,
        cols([B::Status, B::OfferExpiresAt]),
        false,
    )
    .await?;
    index(
        manager,
        "idx_traded_bookings_status_updated",
        B::Table,
        cols([B::Status, B::UpdatedAt]),
        false,
    )
    .await?;
    index(
        manager,
        "idx_traded_bookings_refund_state",
        B::Table,
        cols([B::RefundState]),
        false,
    )
    .await?;
    // A paid invoice finds the booking it pays for.
    index(
        manager,
        "idx_traded_bookings_invoice",
        B::Table,
        cols([B::InvoiceId]),
        false,
    )
    .await?;

    use TradedAttendees as A;
    manager
        .create_table(
            Table::create()
                .table(A::Table)
                .col(pk_uuid(A::Id))
                .col(uuid(A::BookingId))
                .col(uuid(A::SessionId))
                .col(integer(A::Position))
                .col(string(A::Name))
                .col(string(A::Email))
                .col(string_null(A::Role))
                .col(string_null(A::LiveEmail))
                .col(string_null(A::Attendance))
                .col(timestamp_with_time_zone_null(A::AttendanceMarkedAt))
                .col(uuid_null(A::AttendanceMarkedBy))
                .col(timestamp_with_time_zone_null(A::SubstitutedAt))
                .col(timestamp_with_time_zone(A::CreatedAt))
                .col(timestamp_with_time_zone(A::UpdatedAt))
                .foreign_key(&mut fk(
                    "fk_traded_attendees_booking",
                    (A::Table, A::BookingId),
                    (B::Table, B::Id),
                ))
                .foreign_key(&mut fk(
                    "fk_traded_attendees_session",
                    (A::Table, A::SessionId),
                    (TradedSessions::Table, TradedSessions::Id),
                ))
                .to_owned(),
        )
        .await?;
    index(
        manager,
        "idx_traded_attendees_booking",
        A::Table,
        cols([A::BookingId, A::Position]),
        true,
    )
    .await?;
    // One live place per person per session; also the register's lookup by session.
    index(
        manager,
        "uq_traded_attendees_session_live_email",
        A::Table,
        cols([A::SessionId, A::LiveEmail]),
        true,
    )
    .await?;

    use TradedFeedback as F;
    manager
        .create_table(
            Table::create()
                .table(F::Table)
                .col(pk_uuid(F::Id))
                .col(uuid(F::AttendeeId))
                .col(uuid(F::BookingId))
                .col(uuid(F::SessionId))
                .col(uuid(F::ServiceId))
                .col(uuid(F::SchoolId))
                .col(integer(F::Rating))
                .col(text_null(F::Comment))
                .col(uuid_null(F::SubmittedBy))
                .col(timestamp_with_time_zone(F::CreatedAt))
                .check(Expr::col(F::Rating).between(1, 5))
                .foreign_key(&mut fk(
                    "fk_traded_feedback_attendee",
                    (F::Table, F::AttendeeId),
                    (A::Table, A::Id),
                ))
                .to_owned(),
        )
        .await?;
    // Feedback is given once per attendee.
    index(
        manager,
        "uq_traded_feedback_attendee",
        F::Table,
        cols([F::AttendeeId]),
        true,
    )
    .await?;
    index(
        manager,
        "idx_traded_feedback_service",
        F::Table,
        cols([F::ServiceId, F::Id]),
        false,
    )
    .await?;
    index(
        manager,
        "idx_traded_feedback_session",
        F::Table,
        cols([F::SessionId]),
        false,
    )
    .await
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        services(manager).await?;
        sessions(manager).await?;
        bookings(manager).await
    }
}
