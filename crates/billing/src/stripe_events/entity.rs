//! The stripe_events table. Private: callers get [`super::StoredEvent`].

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "stripe_events")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub event_type: String,
    pub object_id: Option<String>,
    pub created_unix: Option<i64>,
    pub payload: String,
    pub received_at: DateTimeUtc,
    pub outcome: String,
    pub detail: Option<String>,
    pub applied_at: Option<DateTimeUtc>,
    /// The PaymentIntent the event's money belongs to, when it names one.
    pub payment_ref: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
