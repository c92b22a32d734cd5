//! Tables of partnerships. Private to the crate: callers get [`super::Partnership`].

pub mod partnerships {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "partnerships")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        #[sea_orm(unique)]
        pub name: String,
        pub kind: String,
        pub area: String,
        pub description: String,
        pub created_at: DateTimeUtc,
        pub updated_at: DateTimeUtc,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod members {
    use sea_orm::entity::prelude::*;

    use crate::school::entity::schools;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "partnership_members")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub partnership_id: Uuid,
        #[sea_orm(primary_key, auto_increment = false)]
        pub school_id: Uuid,
        pub role: String,
        pub joined_on: Option<Date>,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {
        #[sea_orm(
            belongs_to = "schools::Entity",
            from = "Column::SchoolId",
            to = "schools::Column::Id"
        )]
        School,
        #[sea_orm(
            belongs_to = "super::partnerships::Entity",
            from = "Column::PartnershipId",
            to = "super::partnerships::Column::Id"
        )]
        Partnership,
    }

    impl Related<schools::Entity> for Entity {
        fn to() -> RelationDef {
            Relation::School.def()
        }
    }

    impl Related<super::partnerships::Entity> for Entity {
        fn to() -> RelationDef {
            Relation::Partnership.def()
        }
    }

    impl ActiveModelBehavior for ActiveModel {}
}
