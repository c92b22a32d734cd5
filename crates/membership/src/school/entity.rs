//! Tables of the school directory. Private to the crate: callers get [`super::School`].

pub mod schools {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "schools")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        #[sea_orm(unique)]
        pub urn: String,
        pub name: String,
        pub phase: String,
        pub establishment_type: String,
        pub local_authority: String,
        pub postcode: String,
        pub number_on_roll: Option<i32>,
        pub roll_census: Option<String>,
        pub roll_census_date: Option<Date>,
        pub is_demo: bool,
        pub has_sixth_form: bool,
        pub status: String,
        pub closed_on: Option<Date>,
        pub opened_on: Option<Date>,
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
            urn,
            name,
            phase,
            establishment_type,
            local_authority,
            postcode,
            number_on_roll,
            roll_census,
            roll_census_date,
            is_demo,
            has_sixth_form,
            status,
            closed_on,
            opened_on,
            created_at,
            updated_at,
        }
    );
}

pub mod designations {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "school_designations")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub school_id: Uuid,
        #[sea_orm(primary_key, auto_increment = false)]
        pub designation: String,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod inspections {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "school_inspections")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        pub school_id: Uuid,
        pub framework: String,
        pub inspected_on: Date,
        pub overall_grade: Option<String>,
        pub report_card: Option<Json>,
        pub created_at: DateTimeUtc,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod rolls {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "school_rolls")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        pub school_id: Uuid,
        pub census: String,
        pub census_date: Date,
        pub number_on_roll: i32,
        pub source: String,
        pub recorded_at: DateTimeUtc,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}
