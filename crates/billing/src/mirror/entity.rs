//! The stripe_invoices table. Private: callers get [`super::MirroredInvoice`].

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "stripe_invoices")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub invoice_id: Uuid,
    #[sea_orm(unique)]
    pub stripe_invoice_id: String,
    pub hosted_url: Option<String>,
    pub pdf_url: Option<String>,
    pub customer_ref: String,
    pub payment_state: String,
    pub payment_error: Option<String>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
