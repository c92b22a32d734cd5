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
    /// Nursery: ages 2 to 5.
    Nursery,
    /// Infant: reception to year 2.
    Infant,
    /// Junior: years 3 to 6.
    Junior,
    /// Primary: reception to year 6.
    Primary,
    /// Middle: spanning the primary and secondary years (deemed either).
    Middle,
    /// Secondary: years 7 to 11, with or without a sixth form.
    Secondary,
    /// All-through: primary and secondary in one school.
    AllThrough,
    /// A special school, for pupils with special educational needs.
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
    /// A community school, run by the local authority.
    Community,
    /// A voluntary-aided school, usually a faith school whose governors employ the staff.
    VoluntaryAided,
    /// A voluntary-controlled school, usually a faith school run by the local authority.
    VoluntaryControlled,
    /// A foundation or trust school, whose governing body employs the staff.
    Foundation,
    /// An academy, funded directly by the DfE and run by an academy trust.
    Academy,
    /// A free school: a newly founded academy.
    FreeSchool,
    /// An independent (fee-paying) school.
    Independent,
    /// A further-education or sixth-form college.
    FurtherEducation,
    /// A nursery school maintained by the local authority.
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
    /// A teaching school (a teaching school hub), leading training and development for others.
    TeachingSchool,
}

/// The census a number on roll comes from.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
#[graphql(remote = "s::RollCensus")]
pub enum RollCensus {
    /// The autumn (October) school census.
    October,
    /// The spring (January) school census.
    January,
}

/// Whether an establishment is open, as the DfE's register (GIAS) says. A school that
/// closes stays in the directory, flagged.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
#[graphql(remote = "s::SchoolStatus")]
pub enum SchoolStatus {
    /// Open.
    Open,
    /// Open, with a proposal to close it.
    OpenProposedToClose,
    /// Not open yet: proposed to open.
    ProposedToOpen,
    /// Closed; kept in the directory, flagged.
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
    /// A multi-academy trust: one trust runs the academies. A hard partnership.
    MultiAcademyTrust,
    /// A federation: the schools share one governing board. A hard partnership.
    Federation,
    /// Another hard partnership with an executive leader and governance board.
    Hard,
    /// A soft partnership with a written agreement, but no shared governance.
    Structured,
    /// An informal network of schools.
    Loose,
    /// An alliance led by a teaching school.
    TeachingSchoolAlliance,
}

/// A school's role in a partnership.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
#[graphql(remote = "p::MemberRole")]
pub enum MemberRole {
    /// The lead school; at most one per partnership.
    Lead,
    /// A member school.
    Member,
    /// An associate school: linked to the partnership without being a full member.
    Associate,
}

/// Pre-November-2025 overall-effectiveness grade.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
#[graphql(remote = "i::OverallGrade")]
pub enum OverallGrade {
    /// Ofsted grade 1.
    Outstanding,
    /// Ofsted grade 2.
    Good,
    /// Ofsted grade 3.
    RequiresImprovement,
    /// Ofsted grade 4.
    Inadequate,
}

/// Evaluation area of a 2025 report card.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
#[graphql(remote = "i::ReportCardArea")]
pub enum ReportCardArea {
    /// Inclusion.
    Inclusion,
    /// Curriculum and teaching.
    CurriculumAndTeaching,
    /// Achievement.
    Achievement,
    /// Attendance and behaviour.
    AttendanceAndBehaviour,
    /// Personal development and well-being.
    PersonalDevelopmentAndWellBeing,
    /// Early years, where the school has them.
    EarlyYears,
    /// Sixth form, where the school has one.
    SixthForm,
    /// Leadership and governance.
    LeadershipAndGovernance,
}

/// The five-point scale of a 2025 report card.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
#[graphql(remote = "i::ReportCardGrade")]
pub enum ReportCardGrade {
    /// Exceptional: the highest grade.
    Exceptional,
    /// Strong standard: above the expected standard.
    StrongStandard,
    /// Expected standard.
    ExpectedStandard,
    /// Needs attention: below the expected standard.
    NeedsAttention,
    /// Urgent improvement: the lowest grade.
    UrgentImprovement,
}
