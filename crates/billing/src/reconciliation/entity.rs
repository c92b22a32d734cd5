//! The reconciliation tables. Private: callers get [`super::ReconciliationRun`] and
//! [`super::Difference`].

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
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}
