//! The bank statement tables. Private: callers get [`super::Statement`] and
//! [`super::BankLine`].

pub mod statements {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "bank_statements")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        pub file_name: String,
        pub imported_at: DateTimeUtc,
        pub imported_by: Option<Uuid>,
        pub lines_new: i32,
        pub lines_known: i32,
        pub lines_out: i32,
        pub first_day: Option<Date>,
        pub last_day: Option<Date>,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod lines {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "bank_statement_lines")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        pub statement_id: Uuid,
        pub line_no: i32,
        pub fingerprint: String,
        pub posted_on: Date,
        pub description: String,
        pub amount_pence: i64,
        pub status: String,
        pub match_reason: Option<String>,
        pub proposed_account_id: Option<Uuid>,
        pub proposed_invoice_id: Option<Uuid>,
        pub payment_id: Option<Uuid>,
        pub resolved_at: Option<DateTimeUtc>,
        pub resolved_by: Option<Uuid>,
        pub created_at: DateTimeUtc,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}
