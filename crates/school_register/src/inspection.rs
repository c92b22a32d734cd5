//! Ofsted outcomes, kept per framework.
//!
//! Until November 2025 Ofsted gave state schools one overall-effectiveness grade. Its
//! renewed framework gives a report card instead: a grade on each evaluation area and a
//! met/not-met judgement on safeguarding. The two are not comparable, so Trellis keeps each
//! inspection in the shape of the framework it was made under rather than squeezing report
//! cards into the old four grades.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use crate::types::named_enum;

named_enum!(
    /// The pre-2025 overall-effectiveness grade.
    OverallGrade {
        Outstanding => "OUTSTANDING",
        Good => "GOOD",
        RequiresImprovement => "REQUIRES_IMPROVEMENT",
        Inadequate => "INADEQUATE",
    }
);

named_enum!(
    /// An evaluation area of the 2025 report card.
    ReportCardArea {
        Inclusion => "INCLUSION",
        CurriculumAndTeaching => "CURRICULUM_AND_TEACHING",
        Achievement => "ACHIEVEMENT",
        AttendanceAndBehaviour => "ATTENDANCE_AND_BEHAVIOUR",
        PersonalDevelopmentAndWellBeing => "PERSONAL_DEVELOPMENT_AND_WELL_BEING",
        EarlyYears => "EARLY_YEARS",
        SixthForm => "SIXTH_FORM",
        LeadershipAndGovernance => "LEADERSHIP_AND_GOVERNANCE",
    }
);

named_enum!(
    /// The five-point scale of the 2025 report card.
    ReportCardGrade {
        Exceptional => "EXCEPTIONAL",
        StrongStandard => "STRONG_STANDARD",
        ExpectedStandard => "EXPECTED_STANDARD",
        NeedsAttention => "NEEDS_ATTENTION",
        UrgentImprovement => "URGENT_IMPROVEMENT",
    }
);

named_enum!(
    /// Which framework an inspection was made under.
    Framework {
        /// The education inspection framework in force until November 2025.
        Eif2019 => "EIF_2019",
        /// The renewed framework with report cards, from November 2025.
        ReportCard2025 => "REPORT_CARD_2025",
    }
);

/// One area's grade on a report card.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct AreaGrade {
    pub area: ReportCardArea,
    pub grade: ReportCardGrade,
}

/// A 2025 report card: graded areas plus the safeguarding judgement.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReportCard {
    pub areas: Vec<AreaGrade>,
    pub safeguarding_met: bool,
}

/// The outcome of one inspection, in its framework's own terms.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Graded(OverallGrade),
    ReportCard(ReportCard),
}

impl Outcome {
    #[must_use]
    pub const fn framework(&self) -> Framework {
        match self {
            Self::Graded(_) => Framework::Eif2019,
            Self::ReportCard(_) => Framework::ReportCard2025,
        }
    }
}

/// An inspection as recorded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Inspection {
    pub inspected_on: NaiveDate,
    pub outcome: Outcome,
}

/// The day the renewed framework took effect. A graded outcome after it, or a report card
/// before it, is a data-entry mistake.
#[must_use]
pub fn report_cards_from() -> NaiveDate {
    NaiveDate::from_ymd_opt(2025, 11, 10).expect("valid date")
}
