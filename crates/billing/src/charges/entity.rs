//! The `billing_charges` table. Private to the crate: the API returns [`super::Charge`].

pub mod charges {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "billing_charges")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        pub account_id: Uuid,
        pub school_id: Uuid,
        pub booking_id: Uuid,
        pub academic_year: i32,
        pub term: String,
        pub occurred_on: Date,
        pub description: String,
        pub quantity: i64,
        pub unit_pence: i64,
        pub vat_treatment: String,
        pub vat_rate_bp: i32,
        pub net_pence: i64,
        pub vat_pence: i64,
        pub total_pence: i64,
        pub cfr_code: Option<String>,
        pub po_number: Option<String>,
        pub status: String,
        pub invoice_id: Option<Uuid>,
        pub invoice_line_id: Option<Uuid>,
        pub cancelled_at: Option<DateTimeUtc>,
        pub cancellation_fee_pence: Option<i64>,
        pub cancellation_reason: Option<String>,
        pub credit_note_id: Option<Uuid>,
        pub created_by_kind: String,
        pub created_by: Option<Uuid>,
        pub created_at: DateTimeUtc,
        pub updated_at: DateTimeUtc,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}
