//! The offer's tables. Private to the crate: callers get the domain types of
//! [`crate::items`], [`crate::quantities`] and [`crate::entries`].

pub mod items {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "offer_items")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        #[sea_orm(unique)]
        pub code: String,
        pub name: String,
        pub description: String,
        pub unit: String,
        pub unit_value_pence: i64,
        pub pro_rata: bool,
        pub allows_overdraft: bool,
        pub cash_in_limit: Option<i64>,
        pub draw_forward_percent: Option<i32>,
        pub active: bool,
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
            code,
            name,
            description,
            unit,
            unit_value_pence,
            pro_rata,
            allows_overdraft,
            cash_in_limit,
            draw_forward_percent,
            active,
            created_at,
            updated_at,
        }
    );
}

pub mod quantities {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "offer_item_quantities")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        pub item_id: Uuid,
        pub academic_year: i32,
        pub tier_id: Uuid,
        pub phase: String,
        pub quantity: Option<i64>,
        pub created_at: DateTimeUtc,
        pub updated_at: DateTimeUtc,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod entitlements {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "offer_entitlements")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        pub school_id: Uuid,
        pub membership_id: Uuid,
        pub item_id: Uuid,
        pub academic_year: i32,
        pub unlimited: bool,
        pub version: i64,
        pub created_at: DateTimeUtc,
        pub updated_at: DateTimeUtc,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod entries {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "offer_ledger_entries")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        pub entitlement_id: Uuid,
        pub school_id: Uuid,
        pub membership_id: Uuid,
        pub item_id: Uuid,
        pub academic_year: i32,
        pub kind: String,
        pub quantity: i64,
        pub occurred_on: Date,
        pub term: String,
        pub reference: Option<String>,
        pub reason: Option<String>,
        pub reversal_of: Option<Uuid>,
        pub recorded_by: Option<Uuid>,
        pub created_at: DateTimeUtc,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}

    kernel::decode_by_position!(
        Model,
        Column {
            id,
            entitlement_id,
            school_id,
            membership_id,
            item_id,
            academic_year,
            kind,
            quantity,
            occurred_on,
            term,
            reference,
            reason,
            reversal_of,
            recorded_by,
            created_at,
        }
    );
}
