//! Tables of tiers and memberships. Private to the crate: callers get [`super::Membership`]
//! and [`super::Tier`].

pub mod tiers {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "membership_tiers")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        #[sea_orm(unique)]
        pub code: String,
        pub name: String,
        pub description: String,
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
            active,
            created_at,
            updated_at,
        }
    );
}

pub mod memberships {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "memberships")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        pub school_id: Uuid,
        /// The starting calendar year: 2026 is 2026/27.
        pub academic_year: i32,
        pub tier_id: Uuid,
        pub status: String,
        pub starts_on: Date,
        pub ends_on: Date,
        pub notice_by: Option<Date>,
        pub renewed_from: Option<Uuid>,
        pub decided_at: Option<DateTimeUtc>,
        pub decided_by: Option<Uuid>,
        pub cancelled_reason: Option<String>,
        pub created_at: DateTimeUtc,
        pub updated_at: DateTimeUtc,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {
        #[sea_orm(has_many = "super::principles::Entity")]
        Principles,
        #[sea_orm(
            belongs_to = "super::tiers::Entity",
            from = "Column::TierId",
            to = "super::tiers::Column::Id"
        )]
        Tier,
    }

    impl Related<super::principles::Entity> for Entity {
        fn to() -> RelationDef {
            Relation::Principles.def()
        }
    }

    impl Related<super::tiers::Entity> for Entity {
        fn to() -> RelationDef {
            Relation::Tier.def()
        }
    }

    impl ActiveModelBehavior for ActiveModel {}

    kernel::decode_by_position!(
        Model,
        Column {
            id,
            school_id,
            academic_year,
            tier_id,
            status,
            starts_on,
            ends_on,
            notice_by,
            renewed_from,
            decided_at,
            decided_by,
            cancelled_reason,
            created_at,
            updated_at,
        }
    );
}

pub mod principles {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "membership_principles")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub membership_id: Uuid,
        #[sea_orm(primary_key, auto_increment = false)]
        pub principle: String,
        pub accepted_by: Option<Uuid>,
        pub accepted_at: DateTimeUtc,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {
        #[sea_orm(
            belongs_to = "super::memberships::Entity",
            from = "Column::MembershipId",
            to = "super::memberships::Column::Id"
        )]
        Membership,
    }

    impl Related<super::memberships::Entity> for Entity {
        fn to() -> RelationDef {
            Relation::Membership.def()
        }
    }

    impl ActiveModelBehavior for ActiveModel {}

    kernel::decode_by_position!(
        Model,
        Column {
            membership_id,
            principle,
            accepted_by,
            accepted_at,
        }
    );
}
