//! The invoicing_runs table. Private: callers get [`super::InvoicingRun`].

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "invoicing_runs")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    #[sea_orm(unique)]
    pub academic_year: i32,
    pub status: String,
    pub started_at: DateTimeUtc,
    pub started_by: Option<Uuid>,
    pub completed_at: Option<DateTimeUtc>,
    pub invoices_created: i32,
    pub invoices_existing: i32,
    pub total_pence: i64,
    pub notes: String,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
