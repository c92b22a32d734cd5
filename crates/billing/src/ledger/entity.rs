//! Tables of the ledger. Private to the crate: callers get the domain types of each module.

pub mod accounts {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "billing_accounts")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        pub kind: String,
        pub name: String,
        pub contact_name: String,
        pub contact_email: String,
        pub address_lines: String,
        pub postcode: String,
        pub default_method: String,
        pub provider_customer_ref: Option<String>,
        pub ledger_version: i64,
        pub created_at: DateTimeUtc,
        pub updated_at: DateTimeUtc,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {
        #[sea_orm(has_many = "super::account_schools::Entity")]
        Schools,
    }

    impl Related<super::account_schools::Entity> for Entity {
        fn to() -> RelationDef {
            Relation::Schools.def()
        }
    }

    impl ActiveModelBehavior for ActiveModel {}

    kernel::decode_by_position!(
        Model,
        Column {
            id,
            kind,
            name,
            contact_name,
            contact_email,
            address_lines,
            postcode,
            default_method,
            provider_customer_ref,
            ledger_version,
            created_at,
            updated_at,
        }
    );
}

pub mod account_schools {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "billing_account_schools")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub school_id: Uuid,
        pub account_id: Uuid,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {
        #[sea_orm(
            belongs_to = "super::accounts::Entity",
            from = "Column::AccountId",
            to = "super::accounts::Column::Id"
        )]
        Account,
    }

    impl Related<super::accounts::Entity> for Entity {
        fn to() -> RelationDef {
            Relation::Account.def()
        }
    }

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod number_series {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "number_series")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub series: String,
        pub prefix: String,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod number_counters {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "number_counters")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub series: String,
        #[sea_orm(primary_key, auto_increment = false)]
        pub academic_year: i32,
        pub last_number: i64,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod invoices {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "invoices")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        pub number: String,
        pub account_id: Uuid,
        pub academic_year: i32,
        pub instalment: String,
        pub status: String,
        pub source: String,
        pub collection: String,
        pub net_pence: i64,
        pub vat_pence: i64,
        pub total_pence: i64,
        pub paid_pence: i64,
        pub credited_pence: i64,
        pub due_on: Date,
        pub issued_at: DateTimeUtc,
        pub po_number: Option<String>,
        pub provider_invoice_ref: Option<String>,
        pub hosted_url: Option<String>,
        pub status_reason: Option<String>,
        pub created_at: DateTimeUtc,
        pub updated_at: DateTimeUtc,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}

    kernel::decode_by_position!(
        Model,
        Column {
            id,
            number,
            account_id,
            academic_year,
            instalment,
            status,
            source,
            collection,
            net_pence,
            vat_pence,
            total_pence,
            paid_pence,
            credited_pence,
            due_on,
            issued_at,
            po_number,
            provider_invoice_ref,
            hosted_url,
            status_reason,
            created_at,
            updated_at,
        }
    );
}

pub mod invoice_lines {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "invoice_lines")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        pub invoice_id: Uuid,
        pub position: i32,
        pub description: String,
        pub quantity: i64,
        pub unit_pence: i64,
        pub net_pence: i64,
        pub vat_treatment: String,
        pub vat_rate_bp: i32,
        pub vat_pence: i64,
        pub cfr_code: Option<String>,
        pub school_id: Option<Uuid>,
        pub membership_id: Option<Uuid>,
        pub booking_id: Option<Uuid>,
        /// The line's own purchase order: a termly invoice bills bookings with different POs.
        pub po_number: Option<String>,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}

    kernel::decode_by_position!(
        Model,
        Column {
            id,
            invoice_id,
            position,
            description,
            quantity,
            unit_pence,
            net_pence,
            vat_treatment,
            vat_rate_bp,
            vat_pence,
            cfr_code,
            school_id,
            membership_id,
            booking_id,
            po_number,
        }
    );
}

pub mod credit_notes {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "credit_notes")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        pub number: String,
        pub invoice_id: Uuid,
        pub account_id: Uuid,
        pub academic_year: i32,
        pub reason: String,
        pub net_pence: i64,
        pub vat_pence: i64,
        pub total_pence: i64,
        pub released_pence: i64,
        pub issued_at: DateTimeUtc,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod credit_note_lines {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "credit_note_lines")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        pub credit_note_id: Uuid,
        pub invoice_line_id: Uuid,
        pub position: i32,
        pub description: String,
        pub net_pence: i64,
        pub vat_pence: i64,
        pub cfr_code: Option<String>,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod payments {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "payments")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        pub account_id: Uuid,
        pub method: String,
        pub reference: String,
        pub received_on: Date,
        pub amount_pence: i64,
        pub allocated_pence: i64,
        pub refunded_pence: i64,
        pub provider_payment_ref: Option<String>,
        pub created_at: DateTimeUtc,
        pub updated_at: DateTimeUtc,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod allocations {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "allocations")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        pub payment_id: Uuid,
        pub invoice_id: Uuid,
        pub amount_pence: i64,
        pub credit_note_id: Option<Uuid>,
        pub created_at: DateTimeUtc,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod refunds {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "refunds")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        pub payment_id: Uuid,
        pub account_id: Uuid,
        pub amount_pence: i64,
        pub reason: String,
        pub refunded_on: Date,
        pub provider_refund_ref: Option<String>,
        pub created_at: DateTimeUtc,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod idempotency_keys {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "idempotency_keys")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub scope: String,
        /// `Actor::caller_id` of who sent the key (`trellis` for keys derived from ids).
        #[sea_orm(primary_key, auto_increment = false)]
        pub caller: String,
        #[sea_orm(primary_key, auto_increment = false)]
        pub key: String,
        pub request: String,
        pub result: String,
        pub created_at: DateTimeUtc,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod time_credits {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "time_credits")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        pub source: String,
        pub minutes_through: i32,
        pub minutes: i32,
        pub rate_pence_per_hour: i64,
        pub payment_id: Uuid,
        pub created_at: DateTimeUtc,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod account_moves {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "billing_account_moves")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        pub school_id: Uuid,
        pub from_account_id: Uuid,
        pub to_account_id: Uuid,
        pub effective_from: Date,
        pub status: String,
        pub pending_school_id: Option<Uuid>,
        pub failure_reason: Option<String>,
        pub created_at: DateTimeUtc,
        pub settled_at: Option<DateTimeUtc>,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}
