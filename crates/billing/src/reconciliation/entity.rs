//! The reconciliation tables. Private: callers get [`super::ReconciliationRun`] and
//! [`super::Difference`] and [`super::Payout`].

pub mod runs {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "reconciliation_runs")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        pub started_at: DateTimeUtc,
        pub started_by: Option<Uuid>,
        pub finished_at: Option<DateTimeUtc>,
        pub invoices_compared: i32,
        pub differences_found: i32,
        pub payments_compared: i32,
        pub payouts_compared: i32,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod differences {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "reconciliation_differences")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        pub run_id: Uuid,
        pub kind: String,
        pub invoice_id: Option<Uuid>,
        pub stripe_invoice_id: Option<String>,
        pub trellis_value: Option<String>,
        pub stripe_value: Option<String>,
        pub detail: String,
        pub found_at: DateTimeUtc,
        pub resolved_at: Option<DateTimeUtc>,
        pub resolved_by: Option<Uuid>,
        pub resolution_note: Option<String>,
        pub provider_ref: Option<String>,
        pub payment_id: Option<Uuid>,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod payouts {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "stripe_payouts")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub payout_ref: String,
        pub amount_pence: i64,
        pub currency: String,
        pub arrival_on: Date,
        pub status: String,
        pub updated_at: DateTimeUtc,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod payout_lines {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "stripe_payout_lines")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub transaction_ref: String,
        pub payout_ref: String,
        pub kind: String,
        pub source_ref: Option<String>,
        pub amount_pence: i64,
        pub fee_pence: i64,
        pub net_pence: i64,
        pub payment_id: Option<Uuid>,
        pub refund_id: Option<Uuid>,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}
