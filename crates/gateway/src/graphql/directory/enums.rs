//! GraphQL mirrors of the directory's domain enums. `remote` derives the conversions, so a
//! variant added to the domain without its mirror here fails to compile.

use async_graphql::Enum;
use membership::partnership::types as p;
use membership::school::inspection as i;
use membership::school::types as s;

/// Phase of education.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
#[graphql(remote = "s::Phase")]
pub enum Phase {
    Nursery,
    Infant,
    Junior,
    Primary,
    Middle,
    Secondary,
    AllThrough,
    Special,
    /// Pupil referral unit / alternative provision.
    Pru,
    /// Sixth-form or further-education college.
    SixthFormFe,
}

/// How a school is constituted.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
#[graphql(remote = "s::EstablishmentType")]
pub enum EstablishmentType {
    Community,
    VoluntaryAided,
    VoluntaryControlled,
    Foundation,
    Academy,
    FreeSchool,
    Independent,
    FurtherEducation,
    LocalAuthorityNursery,
}

/// System-leadership designation.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
#[graphql(remote = "s::Designation")]
pub enum Designation {
    /// National Leader of Education.
    NationalLeaderOfEducation,
    /// National Support School (the school of an NLE).
    NationalSupportSchool,
    /// Local Leader of Education.
    LocalLeaderOfEducation,
    TeachingSchool,
}

/// The census a number on roll comes from.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
#[graphql(remote = "s::RollCensus")]
pub enum RollCensus {
    October,
    January,
}

/// Whether an establishment is open, as the DfE's register (GIAS) says. A school that
/// closes stays in the directory, flagged.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
#[graphql(remote = "s::SchoolStatus")]
pub enum SchoolStatus {
    Open,
    OpenProposedToClose,
    ProposedToOpen,
    Closed,
}

/// Where a recorded roll came from.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
#[graphql(remote = "s::RollSource")]
pub enum RollSource {
    /// Entered through `schoolCreate`/`schoolUpdate`.
    Manual,
    /// The DfE register's number of pupils (its January census), from a GIAS import.
    Gias,
    /// A census file import.
    CensusImport,
}

/// How tightly a partnership binds its schools.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
#[graphql(remote = "p::PartnershipKind")]
pub enum PartnershipKind {
    MultiAcademyTrust,
    Federation,
    /// Another hard partnership with an executive leader and governance board.
    Hard,
    Structured,
    Loose,
    TeachingSchoolAlliance,
}

/// A school's role in a partnership.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
#[graphql(remote = "p::MemberRole")]
pub enum MemberRole {
    /// The lead school; at most one per partnership.
    Lead,
    Member,
    Associate,
}

/// Pre-November-2025 overall-effectiveness grade.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
#[graphql(remote = "i::OverallGrade")]
pub enum OverallGrade {
    Outstanding,
    Good,
    RequiresImprovement,
    Inadequate,
}

/// Evaluation area of a 2025 report card.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
#[graphql(remote = "i::ReportCardArea")]
pub enum ReportCardArea {
    Inclusion,
    CurriculumAndTeaching,
    Achievement,
    AttendanceAndBehaviour,
    PersonalDevelopmentAndWellBeing,
    EarlyYears,
    SixthForm,
    LeadershipAndGovernance,
}

/// The five-point scale of a 2025 report card.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
#[graphql(remote = "i::ReportCardGrade")]
pub enum ReportCardGrade {
    Exceptional,
    StrongStandard,
    ExpectedStandard,
    NeedsAttention,
    UrgentImprovement,
}
