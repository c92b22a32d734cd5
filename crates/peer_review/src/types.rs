//! Value types of peer review, each parsed once at the edge.

use chrono::NaiveDate;
use kernel::{ErrorCode, FieldError, Problems};
use serde::{Deserialize, Serialize};

pub use kernel::UnknownValue;
use kernel::named_enum;
pub(crate) use kernel::required_text;

named_enum!(
    /// How far a reviewer has been trained (Challenge Partners' lead reviewers, the Schools
    /// Partnership Programme's improvement champions).
    TrainingStatus {
        /// May lead a review team.
        TrainedLeadReviewer => "TRAINED_LEAD_REVIEWER",
        /// Trained to take part in and champion peer enquiry, not to lead a team.
        ImprovementChampion => "IMPROVEMENT_CHAMPION",
        Untrained => "UNTRAINED",
    }
);

named_enum!(
    /// Where a review is. Only ever moves forward, one step at a time.
    ReviewStatus {
        Planning => "PLANNING",
        Scheduled => "SCHEDULED",
        Visited => "VISITED",
        ReportDraft => "REPORT_DRAFT",
        Agreed => "AGREED",
        /// Optional last step: the host shared its agreed report with the partnership.
        PublishedToPartnership => "PUBLISHED_TO_PARTNERSHIP",
    }
);

impl ReviewStatus {
    /// The one status a review may move to from this one.
    #[must_use]
    pub const fn next(self) -> Option<Self> {
        match self {
            Self::Planning => Some(Self::Scheduled),
            Self::Scheduled => Some(Self::Visited),
            Self::Visited => Some(Self::ReportDraft),
            Self::ReportDraft => Some(Self::Agreed),
            Self::Agreed => Some(Self::PublishedToPartnership),
            Self::PublishedToPartnership => None,
        }
    }

    /// Agreed reports are the school's and are never edited again.
    #[must_use]
    pub const fn report_is_agreed(self) -> bool {
        matches!(self, Self::Agreed | Self::PublishedToPartnership)
    }
}

named_enum!(
    /// A reviewer's place in a review team.
    TeamRole {
        Lead => "LEAD",
        Member => "MEMBER",
    }
);

named_enum!(
    /// What a finding records.
    FindingKind {
        Strength => "STRENGTH",
        AreaForDevelopment => "AREA_FOR_DEVELOPMENT",
    }
);

named_enum!(
    /// Progress of a follow-up action.
    ActionStatus {
        Open => "OPEN",
        InProgress => "IN_PROGRESS",
        Done => "DONE",
        Dropped => "DROPPED",
    }
);

named_enum!(
    /// Who a host school agreed to share its report with.
    ConsentScope {
        /// Every member school's leaders, once the report is published to the partnership.
        Partnership => "PARTNERSHIP",
        /// One named school's leaders (e.g. a school giving follow-up support).
        School => "SCHOOL",
    }
);

named_enum!(
    /// Where a cycle's group formation stands.
    GroupsStatus {
        None => "NONE",
        Proposed => "PROPOSED",
        Confirmed => "CONFIRMED",
    }
);

/// One evaluation area of a framework (e.g. "Quality of education").
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FrameworkItem {
    /// Stable handle findings refer to, e.g. `CURRICULUM`.
    pub key: String,
    pub label: String,
}

/// What a cycle reviews against: the enquiry questions, the areas and the scale evaluations
/// use. Challenge Partners' scale differs from the Schools Partnership Programme's, so each
/// cycle carries its own.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Framework {
    pub enquiry_questions: Vec<String>,
    pub areas: Vec<FrameworkItem>,
    /// Ordered from strongest to weakest, e.g. LEADING, STRONG, DEVELOPING, EMERGING.
    pub scale: Vec<FrameworkItem>,
}

const KEY_MAX: usize = 60;
const LABEL_MAX: usize = 200;
const QUESTION_MAX: usize = 500;

impl Framework {
    /// Checks the framework, reporting under `framework.…`.
    pub fn validate(&self, problems: &mut Problems) {
        if self.enquiry_questions.is_empty() {
            problems.add(
                "framework.enquiryQuestions",
                ErrorCode::Required,
                "a framework needs at least one enquiry question",
            );
        }
        for (i, q) in self.enquiry_questions.iter().enumerate() {
            problems.check(required_text(
                &format!("framework.enquiryQuestions.{i}"),
                q,
                QUESTION_MAX,
            ));
        }
        for (field, items) in [("areas", &self.areas), ("scale", &self.scale)] {
            if items.is_empty() {
                problems.add(
                    &format!("framework.{field}"),
                    ErrorCode::Required,
                    "must not be empty",
                );
            }
            let mut seen = Vec::new();
            for (i, item) in items.iter().enumerate() {
                let key_ok = !item.key.is_empty()
                    && item.key.len() <= KEY_MAX
                    && item
                        .key
                        .bytes()
                        .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_');
                if !key_ok {
                    problems.add(
                        &format!("framework.{field}.{i}.key"),
                        ErrorCode::Invalid,
                        "keys are 1-60 characters of A-Z, 0-9 and _",
                    );
                } else if seen.contains(&item.key.as_str()) {
                    problems.add(
                        &format!("framework.{field}.{i}.key"),
                        ErrorCode::Taken,
                        "keys must be unique",
                    );
                }
                seen.push(item.key.as_str());
                problems.check(required_text(
                    &format!("framework.{field}.{i}.label"),
                    &item.label,
                    LABEL_MAX,
                ));
            }
        }
    }

    #[must_use]
    pub fn area(&self, key: &str) -> Option<&FrameworkItem> {
        self.areas.iter().find(|a| a.key == key)
    }

    #[must_use]
    pub fn has_scale_value(&self, key: &str) -> bool {
        self.scale.iter().any(|s| s.key == key)
    }
}

/// An inclusive range of dates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct DateWindow {
    pub opens_on: NaiveDate,
    pub closes_on: NaiveDate,
}

impl DateWindow {
    #[must_use]
    pub fn contains(self, date: NaiveDate) -> bool {
        (self.opens_on..=self.closes_on).contains(&date)
    }
}

/// A cycle's three windows, in order: schools evaluate themselves, are visited, then follow up.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct CycleWindows {
    pub self_review: DateWindow,
    pub visits: DateWindow,
    pub follow_up: DateWindow,
}

impl CycleWindows {
    /// Each window opens before it closes, lies inside the academic year, and starts no
    /// earlier than the one before it starts (self-review may overlap the first visits: a
    /// school visited late still self-reviews while the early ones are visited).
    pub fn validate(&self, year: kernel::AcademicYear, problems: &mut Problems) {
        let named = [
            ("windows.selfReview", self.self_review),
            ("windows.visits", self.visits),
            ("windows.followUp", self.follow_up),
        ];
        for (field, w) in named {
            if w.closes_on < w.opens_on {
                problems.add(
                    &format!("{field}.closesOn"),
                    ErrorCode::OutOfRange,
                    "a window must close on or after the day it opens",
                );
            }
            for (part, date) in [("opensOn", w.opens_on), ("closesOn", w.closes_on)] {
                if !year.contains(date) {
                    problems.add(
                        &format!("{field}.{part}"),
                        ErrorCode::OutOfRange,
                        format!("must fall within the academic year {year}"),
                    );
                }
            }
        }
        if self.visits.opens_on < self.self_review.opens_on {
            problems.add(
                "windows.visits.opensOn",
                ErrorCode::OutOfRange,
                "visits cannot open before self-review opens",
            );
        }
        if self.self_review.closes_on > self.visits.closes_on {
            problems.add(
                "windows.selfReview.closesOn",
                ErrorCode::OutOfRange,
                "self-review must close by the time visits close",
            );
        }
        if self.follow_up.opens_on < self.visits.opens_on {
            problems.add(
                "windows.followUp.opensOn",
                ErrorCode::OutOfRange,
                "follow-up cannot open before visits open",
            );
        }
        if self.follow_up.closes_on < self.visits.closes_on {
            problems.add(
                "windows.followUp.closesOn",
                ErrorCode::OutOfRange,
                "follow-up must close on or after the last visit",
            );
        }
    }
}

/// Trims `value` and allows 0..=`max` characters.
pub(crate) fn bounded_text(field: &str, value: &str, max: usize) -> Result<String, FieldError> {
    let value = value.trim();
    if value.chars().count() > max {
        Err(FieldError::new(
            field,
            ErrorCode::TooLong,
            format!("must be at most {max} characters"),
        ))
    } else {
        Ok(value.to_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kernel::AcademicYear;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).expect("date")
    }

    fn w(a: NaiveDate, b: NaiveDate) -> DateWindow {
        DateWindow {
            opens_on: a,
            closes_on: b,
        }
    }

    #[test]
    fn statuses_only_move_forward_one_step() {
        let mut s = ReviewStatus::Planning;
        let mut seen = vec![s];
        while let Some(n) = s.next() {
            assert!(n > s);
            seen.push(n);
            s = n;
        }
        assert_eq!(seen, ReviewStatus::ALL);
        for s in ReviewStatus::ALL {
            assert_eq!(s.as_str().parse::<ReviewStatus>().ok(), Some(*s));
        }
        assert!("DONE".parse::<ReviewStatus>().is_err());
    }

    #[test]
    fn windows_are_ordered_and_inside_the_year() {
        let year = AcademicYear::starting(2026).expect("year");
        let good = CycleWindows {
            self_review: w(d(2026, 9, 15), d(2026, 11, 30)),
            visits: w(d(2026, 11, 1), d(2027, 3, 31)),
            follow_up: w(d(2027, 1, 1), d(2027, 7, 20)),
        };
        let mut p = Problems::new();
        good.validate(year, &mut p);
        assert!(p.finish().is_ok());

        let bad = CycleWindows {
            self_review: w(d(2026, 11, 30), d(2026, 9, 15)),
            visits: w(d(2026, 8, 1), d(2027, 3, 31)),
            follow_up: w(d(2027, 1, 1), d(2027, 9, 20)),
        };
        let mut p = Problems::new();
        bad.validate(year, &mut p);
        let Err(kernel::DomainError::Invalid(errors)) = p.finish() else {
            panic!("invalid windows accepted")
        };
        let fields: Vec<String> = errors.iter().map(|e| e.field.join(".")).collect();
        assert!(fields.contains(&"windows.selfReview.closesOn".to_owned()));
        assert!(fields.contains(&"windows.visits.opensOn".to_owned()));
        assert!(fields.contains(&"windows.followUp.closesOn".to_owned()));
    }

    #[test]
    fn framework_keys_are_checked() {
        let f = Framework {
            enquiry_questions: vec![" ".into()],
            areas: vec![
                FrameworkItem {
                    key: "CURRICULUM".into(),
                    label: "Curriculum".into(),
                },
                FrameworkItem {
                    key: "CURRICULUM".into(),
                    label: "Again".into(),
                },
            ],
            scale: vec![FrameworkItem {
                key: "bad key".into(),
                label: "x".into(),
            }],
        };
        let mut p = Problems::new();
        f.validate(&mut p);
        let Err(kernel::DomainError::Invalid(errors)) = p.finish() else {
            panic!("accepted")
        };
        let fields: Vec<String> = errors.iter().map(|e| e.field.join(".")).collect();
        assert_eq!(
            fields,
            [
                "framework.enquiryQuestions.0",
                "framework.areas.1.key",
                "framework.scale.0.key"
            ]
        );
    }
}
