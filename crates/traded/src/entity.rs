//! The traded tables. Private to the crate: callers get the domain types of
//! [`crate::catalogue`], [`crate::sessions`] and [`crate::bookings`].

pub mod services {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "traded_services")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        #[sea_orm(unique)]
        pub code: String,
        pub title: String,
        pub category: String,
        pub description: String,
        pub audience: String,
        pub provider_school_id: Option<Uuid>,
        pub provider_name: String,
        pub delivery: String,
        pub member_price_pence: i64,
        pub non_member_price_pence: Option<i64>,
        pub vat_treatment: String,
        pub vat_rate_bp: i32,
        pub cfr_code: Option<String>,
        pub offer_item_id: Option<Uuid>,
        pub published: bool,
        pub search_text: String,
        pub phases: String,
        pub created_at: DateTimeUtc,
        pub updated_at: DateTimeUtc,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    /// A service's sessions: the catalogue reads a page of services with them in one
    /// statement (`find_with_related`).
    impl Related<super::sessions::Entity> for Entity {
        fn to() -> RelationDef {
            super::sessions::Relation::Service.def().rev()
        }
    }

    impl ActiveModelBehavior for ActiveModel {}

    kernel::decode_by_position!(
        Model,
        Column {
            id,
            code,
            title,
            category,
            description,
            audience,
            provider_school_id,
            provider_name,
            delivery,
            member_price_pence,
            non_member_price_pence,
            vat_treatment,
            vat_rate_bp,
            cfr_code,
            offer_item_id,
            published,
            search_text,
            phases,
            created_at,
            updated_at,
        }
    );
}

pub mod service_phases {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "traded_service_phases")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub service_id: Uuid,
        #[sea_orm(primary_key, auto_increment = false)]
        pub phase: String,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod sessions {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "traded_sessions")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        pub service_id: Uuid,
        pub academic_year: i32,
        pub label: Option<String>,
        pub parts: String,
        pub starts_at: DateTimeUtc,
        pub ends_at: DateTimeUtc,
        pub capacity: i32,
        pub places_taken: i32,
        pub booking_deadline: DateTimeUtc,
        pub free_cancellation_days: i32,
        pub late_fee_percent: i32,
        pub no_refund_days: i32,
        pub waitlist_offer_hours: i32,
        pub status: String,
        pub cancelled_at: Option<DateTimeUtc>,
        pub cancelled_reason: Option<String>,
        pub created_at: DateTimeUtc,
        pub updated_at: DateTimeUtc,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {
        #[sea_orm(
            belongs_to = "super::services::Entity",
            from = "Column::ServiceId",
            to = "super::services::Column::Id"
        )]
        Service,
    }

    impl ActiveModelBehavior for ActiveModel {}

    kernel::decode_by_position!(
        Model,
        Column {
            id,
            service_id,
            academic_year,
            label,
            parts,
            starts_at,
            ends_at,
            capacity,
            places_taken,
            booking_deadline,
            free_cancellation_days,
            late_fee_percent,
            no_refund_days,
            waitlist_offer_hours,
            status,
            cancelled_at,
            cancelled_reason,
            created_at,
            updated_at,
        }
    );
}

pub mod bookings {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "traded_bookings")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        pub school_id: Uuid,
        pub session_id: Uuid,
        pub service_id: Uuid,
        pub academic_year: i32,
        pub status: String,
        pub places: i32,
        pub places_held: i32,
        pub price_basis: String,
        pub unit_price_pence: i64,
        pub vat_treatment: String,
        pub vat_rate_bp: i32,
        pub settlement: Option<String>,
        pub po_number: Option<String>,
        pub requested_by: Option<Uuid>,
        pub booked_by: Option<Uuid>,
        pub offer_entry_id: Option<Uuid>,
        pub invoice_id: Option<Uuid>,
        pub waitlisted_at: Option<DateTimeUtc>,
        pub offered_at: Option<DateTimeUtc>,
        pub offer_expires_at: Option<DateTimeUtc>,
        pub closed_reason: Option<String>,
        pub closed_note: Option<String>,
        pub closed_at: Option<DateTimeUtc>,
        pub closed_by: Option<Uuid>,
        pub cancellation_fee_pence: Option<i64>,
        pub refund_pence: Option<i64>,
        pub refund_state: Option<String>,
        /// OFFER cancellations: units kept and units returned to the allowance.
        pub cancellation_units_kept: Option<i32>,
        pub cancellation_units_returned: Option<i32>,
        /// The card payment started for the booking (Stripe `pi_…`), to call off if the
        /// booking is released or cancelled unpaid.
        pub payment_ref: Option<String>,
        pub version: i64,
        pub created_at: DateTimeUtc,
        pub updated_at: DateTimeUtc,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod attendees {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "traded_attendees")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        pub booking_id: Uuid,
        pub session_id: Uuid,
        pub position: i32,
        pub name: String,
        pub email: String,
        pub role: Option<String>,
        pub live_email: Option<String>,
        pub attendance: Option<String>,
        pub attendance_marked_at: Option<DateTimeUtc>,
        pub attendance_marked_by: Option<Uuid>,
        /// How many parts of the session the register marked this person present at.
        pub parts_attended: i32,
        pub substituted_at: Option<DateTimeUtc>,
        pub created_at: DateTimeUtc,
        pub updated_at: DateTimeUtc,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// One mark of the register: an attendee at one part of their session.
pub mod attendance_parts {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "traded_attendance_parts")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub attendee_id: Uuid,
        /// 0-based index into the session's parts.
        #[sea_orm(primary_key, auto_increment = false)]
        pub part: i32,
        pub session_id: Uuid,
        pub attendance: String,
        pub marked_at: DateTimeUtc,
        pub marked_by: Option<Uuid>,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod feedback {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "traded_feedback")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        pub attendee_id: Uuid,
        pub booking_id: Uuid,
        pub session_id: Uuid,
        pub service_id: Uuid,
        pub school_id: Uuid,
        pub rating: i32,
        pub comment: Option<String>,
        pub submitted_by: Option<Uuid>,
        pub created_at: DateTimeUtc,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}
