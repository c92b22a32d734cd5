//! Peer review: cycles with their framework and windows, reviewers and their training,
//! proposed and confirmed groups, reviews with their teams, self-reviews, findings, follow-up
//! actions with school-to-school support, and the host's consents to share a report.
//!
//! A cycle's framework (enquiry questions, evaluation areas, the scale) is one JSON document
//! rather than three child tables: it is written and read whole with its cycle, copied forward
//! year to year, and never queried by part. Findings store the area and scale keys they use as
//! plain text, validated against the framework by the service, so the themes aggregate is a
//! GROUP BY on the findings table alone.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::{
    boolean, date, date_null, integer, integer_null, json, pk_uuid, string, string_null, text,
    timestamp_with_time_zone, timestamp_with_time_zone_null, uuid, uuid_null,
};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Schools {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum Users {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum PeerReviewCycles {
    Table,
    Id,
    /// The starting calendar year of the academic year: 2026 is 2026/27. One cycle a year.
    AcademicYear,
    Name,
    Framework,
    SelfReviewOpensOn,
    SelfReviewClosesOn,
    VisitsOpenOn,
    VisitsCloseOn,
    FollowUpOpensOn,
    FollowUpClosesOn,
    TargetGroupSize,
    AllowSameHardPartnership,
    AvoidLastYearGroups,
    RequireLeadReviewer,
    /// NONE, PROPOSED or CONFIRMED.
    GroupsStatus,
    GroupsConfirmedAt,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum PeerReviewParticipants {
    Table,
    CycleId,
    SchoolId,
    AddedAt,
}

#[derive(DeriveIden)]
enum PeerReviewers {
    Table,
    Id,
    UserId,
    SchoolId,
    TrainingStatus,
    TrainedOn,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum PeerReviewGroups {
    Table,
    Id,
    CycleId,
    Position,
    /// The constraints relaxed for this group and why (the proposal's explanation).
    Relaxations,
    CreatedAt,
}

#[derive(DeriveIden)]
enum PeerReviewGroupMembers {
    Table,
    GroupId,
    SchoolId,
    CycleId,
    /// The school's turn to host in the group's rota.
    RotaPosition,
    /// Why the school is in this group (the proposal's explanation).
    Reasons,
}

#[derive(DeriveIden)]
enum PeerReviews {
    Table,
    Id,
    CycleId,
    GroupId,
    HostSchoolId,
    /// The host's name when the review was created: the keyset sort key of review lists.
    HostName,
    Status,
    VisitStartsOn,
    VisitEndsOn,
    EnquiryFocus,
    ReportSummary,
    AgreedAt,
    AgreedBy,
    PublishedAt,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum PeerReviewTeamMembers {
    Table,
    ReviewId,
    ReviewerId,
    Role,
}

#[derive(DeriveIden)]
enum PeerReviewSelfReviews {
    Table,
    Id,
    ReviewId,
    Summary,
    Evaluations,
    SubmittedBy,
    SubmittedAt,
}

#[derive(DeriveIden)]
enum PeerReviewFindings {
    Table,
    Id,
    ReviewId,
    Kind,
    Area,
    Theme,
    Summary,
    Evidence,
    Evaluation,
    CreatedBy,
    CreatedAt,
}

#[derive(DeriveIden)]
enum PeerReviewActions {
    Table,
    Id,
    ReviewId,
    FindingId,
    Description,
    Owner,
    DueOn,
    Status,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum PeerReviewSupportRequests {
    Table,
    Id,
    ActionId,
    ProvidingSchoolId,
    Request,
    RequestedBy,
    RequestedAt,
    /// Time the providing school gave, in minutes; what billing pays or credits for.
    MinutesProvided,
    RecordedBy,
    RecordedAt,
}

#[derive(DeriveIden)]
enum PeerReviewSharingConsents {
    Table,
    Id,
    ReviewId,
    /// PARTNERSHIP (every member school's leaders) or SCHOOL (the named school's).
    Scope,
    SchoolId,
    RecordedBy,
    RecordedAt,
}

fn fk(
    name: &str,
    from: (impl IntoIden, impl IntoIden),
    to: (impl IntoIden, impl IntoIden),
    on_delete: ForeignKeyAction,
) -> ForeignKeyCreateStatement {
    ForeignKey::create()
        .name(name)
        .from(from.0, from.1)
        .to(to.0, to.1)
        .on_delete(on_delete)
        .to_owned()
}

async fn index(
    manager: &SchemaManager<'_>,
    name: &str,
    table: impl IntoIden,
    cols: Vec<DynIden>,
    unique: bool,
) -> Result<(), DbErr> {
    let mut stmt = Index::create();
    stmt.name(name).table(table);
    for col in cols {
        stmt.col(col);
    }
    if unique {
        stmt.unique();
    }
    manager.create_index(stmt).await
}

macro_rules! cols {
    ($($c:expr),+) => { vec![$($c.into_iden()),+] };
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        use ForeignKeyAction::{Cascade, Restrict, SetNull};
        use PeerReviewCycles as C;
        manager
            .create_table(
                Table::create()
                    .table(C::Table)
                    .col(pk_uuid(C::Id))
                    .col(integer(C::AcademicYear))
                    .col(string(C::Name))
                    .col(json(C::Framework))
                    .col(date(C::SelfReviewOpensOn))
                    .col(date(C::SelfReviewClosesOn))
                    .col(date(C::VisitsOpenOn))
                    .col(date(C::VisitsCloseOn))
                    .col(date(C::FollowUpOpensOn))
                    .col(date(C::FollowUpClosesOn))
                    .col(integer(C::TargetGroupSize))
                    .col(boolean(C::AllowSameHardPartnership))
                    .col(boolean(C::AvoidLastYearGroups))
                    .col(boolean(C::RequireLeadReviewer))
                    .col(string(C::GroupsStatus))
                    .col(timestamp_with_time_zone_null(C::GroupsConfirmedAt))
                    .col(timestamp_with_time_zone(C::CreatedAt))
                    .col(timestamp_with_time_zone(C::UpdatedAt))
                    .to_owned(),
            )
            .await?;
        index(
            manager,
            "uq_peer_review_cycles_year",
            C::Table,
            cols!(C::AcademicYear),
            true,
        )
        .await?;
        // Cycles are listed by name (keyset).
        index(
            manager,
            "idx_peer_review_cycles_name",
            C::Table,
            cols!(C::Name, C::Id),
            false,
        )
        .await?;

        use PeerReviewParticipants as P;
        manager
            .create_table(
                Table::create()
                    .table(P::Table)
                    .col(uuid(P::CycleId))
                    .col(uuid(P::SchoolId))
                    .col(timestamp_with_time_zone(P::AddedAt))
                    .primary_key(Index::create().col(P::CycleId).col(P::SchoolId))
                    .foreign_key(&mut fk(
                        "fk_peer_review_participants_cycle",
                        (P::Table, P::CycleId),
                        (C::Table, C::Id),
                        Cascade,
                    ))
                    .foreign_key(&mut fk(
                        "fk_peer_review_participants_school",
                        (P::Table, P::SchoolId),
                        (Schools::Table, Schools::Id),
                        Restrict,
                    ))
                    .to_owned(),
            )
            .await?;
        index(
            manager,
            "idx_peer_review_participants_school",
            P::Table,
            cols!(P::SchoolId),
            false,
        )
        .await?;

        use PeerReviewers as R;
        manager
            .create_table(
                Table::create()
                    .table(R::Table)
                    .col(pk_uuid(R::Id))
                    .col(uuid(R::UserId))
                    .col(uuid(R::SchoolId))
                    .col(string(R::TrainingStatus))
                    .col(date_null(R::TrainedOn))
                    .col(timestamp_with_time_zone(R::CreatedAt))
                    .col(timestamp_with_time_zone(R::UpdatedAt))
                    .foreign_key(&mut fk(
                        "fk_peer_reviewers_user",
                        (R::Table, R::UserId),
                        (Users::Table, Users::Id),
                        Restrict,
                    ))
                    .foreign_key(&mut fk(
                        "fk_peer_reviewers_school",
                        (R::Table, R::SchoolId),
                        (Schools::Table, Schools::Id),
                        Restrict,
                    ))
                    .to_owned(),
            )
            .await?;
        // One reviewer record per person: the training belongs to the person.
        index(
            manager,
            "uq_peer_reviewers_user",
            R::Table,
            cols!(R::UserId),
            true,
        )
        .await?;
        index(
            manager,
            "idx_peer_reviewers_school",
            R::Table,
            cols!(R::SchoolId),
            false,
        )
        .await?;

        use PeerReviewGroups as G;
        manager
            .create_table(
                Table::create()
                    .table(G::Table)
                    .col(pk_uuid(G::Id))
                    .col(uuid(G::CycleId))
                    .col(integer(G::Position))
                    .col(json(G::Relaxations))
                    .col(timestamp_with_time_zone(G::CreatedAt))
                    .foreign_key(&mut fk(
                        "fk_peer_review_groups_cycle",
                        (G::Table, G::CycleId),
                        (C::Table, C::Id),
                        Cascade,
                    ))
                    .to_owned(),
            )
            .await?;
        index(
            manager,
            "uq_peer_review_groups_position",
            G::Table,
            cols!(G::CycleId, G::Position),
            true,
        )
        .await?;

        use PeerReviewGroupMembers as M;
        manager
            .create_table(
                Table::create()
                    .table(M::Table)
                    .col(uuid(M::GroupId))
                    .col(uuid(M::SchoolId))
                    .col(uuid(M::CycleId))
                    .col(integer(M::RotaPosition))
                    .col(json(M::Reasons))
                    .primary_key(Index::create().col(M::GroupId).col(M::SchoolId))
                    .foreign_key(&mut fk(
                        "fk_peer_review_group_members_group",
                        (M::Table, M::GroupId),
                        (G::Table, G::Id),
                        Cascade,
                    ))
                    .foreign_key(&mut fk(
                        "fk_peer_review_group_members_school",
                        (M::Table, M::SchoolId),
                        (Schools::Table, Schools::Id),
                        Restrict,
                    ))
                    .foreign_key(&mut fk(
                        "fk_peer_review_group_members_cycle",
                        (M::Table, M::CycleId),
                        (C::Table, C::Id),
                        Cascade,
                    ))
                    .to_owned(),
            )
            .await?;
        // A school is in exactly one group of a cycle.
        index(
            manager,
            "uq_peer_review_group_members_cycle_school",
            M::Table,
            cols!(M::CycleId, M::SchoolId),
            true,
        )
        .await?;
        index(
            manager,
            "idx_peer_review_group_members_school",
            M::Table,
            cols!(M::SchoolId),
            false,
        )
        .await?;

        use PeerReviews as V;
        manager
            .create_table(
                Table::create()
                    .table(V::Table)
                    .col(pk_uuid(V::Id))
                    .col(uuid(V::CycleId))
                    .col(uuid(V::GroupId))
                    .col(uuid(V::HostSchoolId))
                    .col(string(V::HostName))
                    .col(string(V::Status))
                    .col(date_null(V::VisitStartsOn))
                    .col(date_null(V::VisitEndsOn))
                    .col(text(V::EnquiryFocus))
                    .col(text(V::ReportSummary))
                    .col(timestamp_with_time_zone_null(V::AgreedAt))
                    .col(uuid_null(V::AgreedBy))
                    .col(timestamp_with_time_zone_null(V::PublishedAt))
                    .col(timestamp_with_time_zone(V::CreatedAt))
                    .col(timestamp_with_time_zone(V::UpdatedAt))
                    .foreign_key(&mut fk(
                        "fk_peer_reviews_cycle",
                        (V::Table, V::CycleId),
                        (C::Table, C::Id),
                        Restrict,
                    ))
                    .foreign_key(&mut fk(
                        "fk_peer_reviews_group",
                        (V::Table, V::GroupId),
                        (G::Table, G::Id),
                        Restrict,
                    ))
                    .foreign_key(&mut fk(
                        "fk_peer_reviews_host",
                        (V::Table, V::HostSchoolId),
                        (Schools::Table, Schools::Id),
                        Restrict,
                    ))
                    .foreign_key(&mut fk(
                        "fk_peer_reviews_agreed_by",
                        (V::Table, V::AgreedBy),
                        (Users::Table, Users::Id),
                        SetNull,
                    ))
                    .to_owned(),
            )
            .await?;
        // Every school hosts once per cycle.
        index(
            manager,
            "uq_peer_reviews_cycle_host",
            V::Table,
            cols!(V::CycleId, V::HostSchoolId),
            true,
        )
        .await?;
        index(
            manager,
            "idx_peer_reviews_host",
            V::Table,
            cols!(V::HostSchoolId),
            false,
        )
        .await?;
        index(
            manager,
            "idx_peer_reviews_group",
            V::Table,
            cols!(V::GroupId),
            false,
        )
        .await?;
        // A cycle's reviews listed by host name (keyset), and counted by status.
        index(
            manager,
            "idx_peer_reviews_cycle_name",
            V::Table,
            cols!(V::CycleId, V::HostName, V::Id),
            false,
        )
        .await?;
        index(
            manager,
            "idx_peer_reviews_cycle_status",
            V::Table,
            cols!(V::CycleId, V::Status),
            false,
        )
        .await?;

        use PeerReviewTeamMembers as T;
        manager
            .create_table(
                Table::create()
                    .table(T::Table)
                    .col(uuid(T::ReviewId))
                    .col(uuid(T::ReviewerId))
                    .col(string(T::Role))
                    .primary_key(Index::create().col(T::ReviewId).col(T::ReviewerId))
                    .foreign_key(&mut fk(
                        "fk_peer_review_team_review",
                        (T::Table, T::ReviewId),
                        (V::Table, V::Id),
                        Cascade,
                    ))
                    .foreign_key(&mut fk(
                        "fk_peer_review_team_reviewer",
                        (T::Table, T::ReviewerId),
                        (R::Table, R::Id),
                        Restrict,
                    ))
                    .to_owned(),
            )
            .await?;
        // "The reviews I am on".
        index(
            manager,
            "idx_peer_review_team_reviewer",
            T::Table,
            cols!(T::ReviewerId),
            false,
        )
        .await?;

        use PeerReviewSelfReviews as S;
        manager
            .create_table(
                Table::create()
                    .table(S::Table)
                    .col(pk_uuid(S::Id))
                    .col(uuid(S::ReviewId))
                    .col(text(S::Summary))
                    .col(json(S::Evaluations))
                    .col(uuid_null(S::SubmittedBy))
                    .col(timestamp_with_time_zone(S::SubmittedAt))
                    .foreign_key(&mut fk(
                        "fk_peer_review_self_reviews_review",
                        (S::Table, S::ReviewId),
                        (V::Table, V::Id),
                        Cascade,
                    ))
                    .foreign_key(&mut fk(
                        "fk_peer_review_self_reviews_user",
                        (S::Table, S::SubmittedBy),
                        (Users::Table, Users::Id),
                        SetNull,
                    ))
                    .to_owned(),
            )
            .await?;
        index(
            manager,
            "uq_peer_review_self_reviews_review",
            S::Table,
            cols!(S::ReviewId),
            true,
        )
        .await?;

        use PeerReviewFindings as F;
        manager
            .create_table(
                Table::create()
                    .table(F::Table)
                    .col(pk_uuid(F::Id))
                    .col(uuid(F::ReviewId))
                    .col(string(F::Kind))
                    .col(string(F::Area))
                    .col(string(F::Theme))
                    .col(text(F::Summary))
                    .col(text(F::Evidence))
                    .col(string_null(F::Evaluation))
                    .col(uuid_null(F::CreatedBy))
                    .col(timestamp_with_time_zone(F::CreatedAt))
                    .foreign_key(&mut fk(
                        "fk_peer_review_findings_review",
                        (F::Table, F::ReviewId),
                        (V::Table, V::Id),
                        Cascade,
                    ))
                    .foreign_key(&mut fk(
                        "fk_peer_review_findings_user",
                        (F::Table, F::CreatedBy),
                        (Users::Table, Users::Id),
                        SetNull,
                    ))
                    .to_owned(),
            )
            .await?;
        index(
            manager,
            "idx_peer_review_findings_review",
            F::Table,
            cols!(F::ReviewId),
            false,
        )
        .await?;
        // The themes aggregate: areas for development grouped by area and theme.
        index(
            manager,
            "idx_peer_review_findings_theme",
            F::Table,
            cols!(F::Kind, F::Area, F::Theme, F::ReviewId),
            false,
        )
        .await?;

        use PeerReviewActions as A;
        manager
            .create_table(
                Table::create()
                    .table(A::Table)
                    .col(pk_uuid(A::Id))
                    .col(uuid(A::ReviewId))
                    .col(uuid_null(A::FindingId))
                    .col(text(A::Description))
                    .col(string(A::Owner))
                    .col(date(A::DueOn))
                    .col(string(A::Status))
                    .col(timestamp_with_time_zone(A::CreatedAt))
                    .col(timestamp_with_time_zone(A::UpdatedAt))
                    .foreign_key(&mut fk(
                        "fk_peer_review_actions_review",
                        (A::Table, A::ReviewId),
                        (V::Table, V::Id),
                        Cascade,
                    ))
                    .foreign_key(&mut fk(
                        "fk_peer_review_actions_finding",
                        (A::Table, A::FindingId),
                        (F::Table, F::Id),
                        SetNull,
                    ))
                    .to_owned(),
            )
            .await?;
        index(
            manager,
            "idx_peer_review_actions_review",
            A::Table,
            cols!(A::ReviewId),
            false,
        )
        .await?;
        index(
            manager,
            "idx_peer_review_actions_finding",
            A::Table,
            cols!(A::FindingId),
            false,
        )
        .await?;

        use PeerReviewSupportRequests as Q;
        manager
            .create_table(
                Table::create()
                    .table(Q::Table)
                    .col(pk_uuid(Q::Id))
                    .col(uuid(Q::ActionId))
                    .col(uuid(Q::ProvidingSchoolId))
                    .col(text(Q::Request))
                    .col(uuid_null(Q::RequestedBy))
                    .col(timestamp_with_time_zone(Q::RequestedAt))
                    .col(integer_null(Q::MinutesProvided))
                    .col(uuid_null(Q::RecordedBy))
                    .col(timestamp_with_time_zone_null(Q::RecordedAt))
                    .foreign_key(&mut fk(
                        "fk_peer_review_support_action",
                        (Q::Table, Q::ActionId),
                        (A::Table, A::Id),
                        Cascade,
                    ))
                    .foreign_key(&mut fk(
                        "fk_peer_review_support_school",
                        (Q::Table, Q::ProvidingSchoolId),
                        (Schools::Table, Schools::Id),
                        Restrict,
                    ))
                    .foreign_key(&mut fk(
                        "fk_peer_review_support_requested_by",
                        (Q::Table, Q::RequestedBy),
                        (Users::Table, Users::Id),
                        SetNull,
                    ))
                    .foreign_key(&mut fk(
                        "fk_peer_review_support_recorded_by",
                        (Q::Table, Q::RecordedBy),
                        (Users::Table, Users::Id),
                        SetNull,
                    ))
                    .to_owned(),
            )
            .await?;
        // One support request per action.
        index(
            manager,
            "uq_peer_review_support_action",
            Q::Table,
            cols!(Q::ActionId),
            true,
        )
        .await?;
        // "Support this school provided" (what billing pays it for).
        index(
            manager,
            "idx_peer_review_support_school",
            Q::Table,
            cols!(Q::ProvidingSchoolId),
            false,
        )
        .await?;

        use PeerReviewSharingConsents as K;
        manager
            .create_table(
                Table::create()
                    .table(K::Table)
                    .col(pk_uuid(K::Id))
                    .col(uuid(K::ReviewId))
                    .col(string(K::Scope))
                    .col(uuid_null(K::SchoolId))
                    .col(uuid_null(K::RecordedBy))
                    .col(timestamp_with_time_zone(K::RecordedAt))
                    .foreign_key(&mut fk(
                        "fk_peer_review_consents_review",
                        (K::Table, K::ReviewId),
                        (V::Table, V::Id),
                        Cascade,
                    ))
                    .foreign_key(&mut fk(
                        "fk_peer_review_consents_school",
                        (K::Table, K::SchoolId),
                        (Schools::Table, Schools::Id),
                        Restrict,
                    ))
                    .foreign_key(&mut fk(
                        "fk_peer_review_consents_user",
                        (K::Table, K::RecordedBy),
                        (Users::Table, Users::Id),
                        SetNull,
                    ))
                    .to_owned(),
            )
            .await?;
        index(
            manager,
            "idx_peer_review_consents_review",
            K::Table,
            cols!(K::ReviewId),
            false,
        )
        .await?;
        index(
            manager,
            "idx_peer_review_consents_school",
            K::Table,
            cols!(K::SchoolId),
            false,
        )
        .await?;
        Ok(())
    }
}
