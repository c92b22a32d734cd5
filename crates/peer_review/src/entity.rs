//! Tables of peer review. Private to the crate: callers get the domain types.

macro_rules! no_relations {
    () => {
        #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
        pub enum Relation {}

        impl ActiveModelBehavior for ActiveModel {}
    };
}

pub mod cycles {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "peer_review_cycles")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        pub academic_year: i32,
        pub name: String,
        pub framework: Json,
        pub self_review_opens_on: Date,
        pub self_review_closes_on: Date,
        pub visits_open_on: Date,
        pub visits_close_on: Date,
        pub follow_up_opens_on: Date,
        pub follow_up_closes_on: Date,
        pub target_group_size: i32,
        pub allow_same_hard_partnership: bool,
        pub avoid_last_year_groups: bool,
        pub require_lead_reviewer: bool,
        pub groups_status: String,
        pub groups_confirmed_at: Option<DateTimeUtc>,
        pub created_at: DateTimeUtc,
        pub updated_at: DateTimeUtc,
    }

    no_relations!();
}

pub mod participants {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "peer_review_participants")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub cycle_id: Uuid,
        #[sea_orm(primary_key, auto_increment = false)]
        pub school_id: Uuid,
        pub added_at: DateTimeUtc,
    }

    no_relations!();
}

pub mod reviewers {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "peer_reviewers")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        pub user_id: Uuid,
        pub school_id: Uuid,
        pub training_status: String,
        pub trained_on: Option<Date>,
        pub created_at: DateTimeUtc,
        pub updated_at: DateTimeUtc,
    }

    no_relations!();
}

pub mod groups {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "peer_review_groups")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        pub cycle_id: Uuid,
        pub position: i32,
        pub relaxations: Json,
        pub created_at: DateTimeUtc,
    }

    no_relations!();
}

pub mod group_members {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "peer_review_group_members")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub group_id: Uuid,
        #[sea_orm(primary_key, auto_increment = false)]
        pub school_id: Uuid,
        pub cycle_id: Uuid,
        pub rota_position: i32,
        pub reasons: Json,
    }

    no_relations!();
}

pub mod reviews {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "peer_reviews")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        pub cycle_id: Uuid,
        pub group_id: Uuid,
        pub host_school_id: Uuid,
        pub host_name: String,
        pub status: String,
        pub visit_starts_on: Option<Date>,
        pub visit_ends_on: Option<Date>,
        pub enquiry_focus: String,
        pub report_summary: String,
        pub agreed_at: Option<DateTimeUtc>,
        pub agreed_by: Option<Uuid>,
        pub published_at: Option<DateTimeUtc>,
        pub created_at: DateTimeUtc,
        pub updated_at: DateTimeUtc,
    }

    no_relations!();
}

pub mod team_members {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "peer_review_team_members")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub review_id: Uuid,
        #[sea_orm(primary_key, auto_increment = false)]
        pub reviewer_id: Uuid,
        pub role: String,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {
        #[sea_orm(
            belongs_to = "super::reviewers::Entity",
            from = "Column::ReviewerId",
            to = "super::reviewers::Column::Id"
        )]
        Reviewer,
    }

    impl Related<super::reviewers::Entity> for Entity {
        fn to() -> RelationDef {
            Relation::Reviewer.def()
        }
    }

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod self_reviews {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "peer_review_self_reviews")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        pub review_id: Uuid,
        pub summary: String,
        pub evaluations: Json,
        pub submitted_by: Option<Uuid>,
        pub submitted_at: DateTimeUtc,
    }

    no_relations!();
}

pub mod findings {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "peer_review_findings")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        pub review_id: Uuid,
        pub kind: String,
        pub area: String,
        pub theme: String,
        pub summary: String,
        pub evidence: String,
        pub evaluation: Option<String>,
        pub created_by: Option<Uuid>,
        pub created_at: DateTimeUtc,
    }

    no_relations!();
}

pub mod actions {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "peer_review_actions")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        pub review_id: Uuid,
        pub finding_id: Option<Uuid>,
        pub description: String,
        pub owner: String,
        pub due_on: Date,
        pub status: String,
        pub created_at: DateTimeUtc,
        pub updated_at: DateTimeUtc,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {
        #[sea_orm(has_one = "super::support_requests::Entity")]
        Support,
    }

    impl Related<super::support_requests::Entity> for Entity {
        fn to() -> RelationDef {
            Relation::Support.def()
        }
    }

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod support_requests {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "peer_review_support_requests")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        pub action_id: Uuid,
        pub providing_school_id: Uuid,
        pub request: String,
        pub requested_by: Option<Uuid>,
        pub requested_at: DateTimeUtc,
        pub minutes_provided: Option<i32>,
        pub recorded_by: Option<Uuid>,
        pub recorded_at: Option<DateTimeUtc>,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {
        #[sea_orm(
            belongs_to = "super::actions::Entity",
            from = "Column::ActionId",
            to = "super::actions::Column::Id"
        )]
        Action,
    }

    impl Related<super::actions::Entity> for Entity {
        fn to() -> RelationDef {
            Relation::Action.def()
        }
    }

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod consents {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "peer_review_sharing_consents")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        pub review_id: Uuid,
        pub scope: String,
        pub school_id: Option<Uuid>,
        pub recorded_by: Option<Uuid>,
        pub recorded_at: DateTimeUtc,
    }

    no_relations!();
}
