//! The demo peer-review cycle for 2026/27, seeded after membership's demo directory.
//!
//! Four demo partnerships take part, chosen to show what group formation does: the Heath Hill
//! Partnership (two infant and two junior schools), Barnet Partnership 6 (Holly Park's group),
//! the Elliot Foundation (a MAT, whose schools must not review each other) and Barnet's special
//! schools (their own phase band). Each participating school's head is registered as a
//! reviewer — every other one a trained lead reviewer, Holly Park's head among them. The
//! proposal is confirmed; Holly Park's review (or the first review led by a trained lead) is
//! taken to AGREED with findings, an action and a support request, one review is SCHEDULED
//! with its self-review in, and the rest are PLANNING. Every step goes through the services
//! as [`Actor::System`], with the clock set to the day each step would happen in 2026/27.

use chrono::{NaiveDate, TimeZone, Utc};
use kernel::{Actor, Clock, DomainError, FixedClock, Role, SchoolId};
use membership::partnership::{self, PartnershipFilter};
use membership::people::{NewUser, users};
use membership::{NameKey, PageArgs};

use crate::cycles::{self, GroupingRules, NewCycle};
use crate::groups;
use crate::report::{self, NewAction, NewFinding};
use crate::reviewers::{self, NewReviewer};
use crate::reviews::{self, AreaEvaluation, ScheduleInput, SelfReviewInput};
use crate::types::{
    CycleWindows, DateWindow, FindingKind, Framework, FrameworkItem, ReviewStatus, TeamRole,
    TrainingStatus,
};

pub const DEMO_YEAR: i32 = 2026;
pub const DEMO_CYCLE_NAME: &str = "Peer review 2026/27";
/// Demo partnerships whose schools take part, by name.
pub const DEMO_PARTNERSHIPS: &[&str] = &[
    "The Heath Hill Partnership",
    "Barnet Partnership 6 – N10, N11 and N20",
    "Barnet Partnership 15 – The Elliot Foundation",
    "Barnet Partnership 3 – Special Schools",
];
/// The demo head whose school's review is agreed, when it can be.
pub const HOLLY_PARK_HEAD: &str = "head@holly-park.example";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct DemoReport {
    pub schools: usize,
    pub reviewers: usize,
    pub groups: usize,
    pub reviews: usize,
    /// A demo cycle for 2026/27 existed, so nothing was loaded.
    pub skipped: bool,
}

#[derive(Debug, thiserror::Error)]
#[error("peer-review demo: {0}")]
struct DemoProblem(String);

fn problem(msg: impl Into<String>) -> DomainError {
    DomainError::internal(DemoProblem(msg.into()))
}

fn day(y: i32, m: u32, d: u32) -> Result<NaiveDate, DomainError> {
    NaiveDate::from_ymd_opt(y, m, d).ok_or_else(|| problem("impossible date"))
}

fn at(date: NaiveDate) -> FixedClock {
    FixedClock::new(Utc.from_utc_datetime(&date.and_hms_opt(9, 0, 0).unwrap_or_default()))
}

fn item(key: &str, label: &str) -> FrameworkItem {
    FrameworkItem {
        key: key.to_owned(),
        label: label.to_owned(),
    }
}

/// The framework the demo cycle uses.
#[must_use]
pub fn demo_framework() -> Framework {
    Framework {
        enquiry_questions: vec![
            "How well does the curriculum build knowledge over time in foundation subjects?".into(),
            "How consistently do pupils with SEND access the full curriculum?".into(),
            "What difference is leadership development making in the classroom?".into(),
        ],
        areas: vec![
            item("LEADERSHIP", "Leadership at all levels"),
            item("CURRICULUM", "Curriculum and its sequencing"),
            item("TEACHING", "Quality of teaching and learning"),
            item("INCLUSION", "Inclusion and SEND"),
            item("BEHAVIOUR_ATTENDANCE", "Behaviour and attendance"),
        ],
        scale: vec![
            item("LEADING", "Leading"),
            item("STRONG", "Strong"),
            item("DEVELOPING", "Developing"),
            item("EMERGING", "Emerging"),
        ],
    }
}

/// Loads the demo cycle; does nothing if 2026/27 already has one or the directory is empty.
pub async fn seed(
    db: &sea_orm::DatabaseConnection,
    clock: &dyn Clock,
) -> Result<DemoReport, DomainError> {
    let system = Actor::System;
    let existing = cycles::cycles(db, &system, &PageArgs::<NameKey>::first(100)).await?;
    if existing
        .items
        .iter()
        .any(|c| c.academic_year.start_year() == DEMO_YEAR)
    {
        return Ok(DemoReport {
            skipped: true,
            ..DemoReport::default()
        });
    }

    // The participating schools, in partnership order, each once.
    let mut schools: Vec<SchoolId> = Vec::new();
    for name in DEMO_PARTNERSHIPS {
        let found = partnership::list(
            db,
            &system,
            &PartnershipFilter {
                name_contains: Some((*name).to_owned()),
                ..PartnershipFilter::default()
            },
            &PageArgs::<NameKey>::first(5),
        )
        .await?;
        let p = found
            .items
            .into_iter()
            .find(|p| p.name == *name)
            .ok_or_else(|| problem(format!("demo partnership `{name}` missing")))?;
        let members = partnership::members_of(db, &[p.id]).await?;
        for m in members.get(&p.id).into_iter().flatten() {
            if !schools.contains(&m.school_id) {
                schools.push(m.school_id);
            }
        }
    }
    let directory = membership::school::by_ids(db, &schools).await?;

    // A head per school, registered as a reviewer: every other one a trained lead.
    let holly_head = users::find_active_by_email(db, HOLLY_PARK_HEAD).await?;
    let holly_school = match &holly_head {
        Some(u) => users::schools_of(db, &[u.id])
            .await?
            .remove(&u.id)
            .and_then(|s| s.first().copied()),
        None => None,
    };
    let mut reviewer_count = 0;
    for (i, school) in schools.iter().enumerate() {
        let s = directory
            .get(school)
            .ok_or_else(|| problem("participant missing from the directory"))?;
        let user = match (&holly_head, holly_school) {
            (Some(u), Some(h)) if h == *school => u.id,
            _ => {
                users::create(
                    db,
                    clock,
                    &system,
                    NewUser {
                        email: format!("head.{}@peer-review.example", s.urn),
                        name: format!("{} Headteacher", s.name),
                        role: Role::SchoolLeader,
                        schools: vec![*school],
                    },
                )
                .await?
                .id
            }
        };
        let lead = i % 2 == 0 || holly_school == Some(*school);
        reviewers::register_reviewer(
            db,
            clock,
            &system,
            NewReviewer {
                user,
                school: *school,
                training: if lead {
                    TrainingStatus::TrainedLeadReviewer
                } else {
                    TrainingStatus::ImprovementChampion
                },
                trained_on: Some(day(2025, 6, 20)?),
            },
        )
        .await?;
        reviewer_count += 1;
    }

    let cycle = cycles::create_cycle(
        db,
        clock,
        &system,
        NewCycle {
            academic_year: DEMO_YEAR,
            name: DEMO_CYCLE_NAME.to_owned(),
            framework: demo_framework(),
            windows: CycleWindows {
                self_review: DateWindow {
                    opens_on: day(2026, 9, 14)?,
                    closes_on: day(2026, 11, 27)?,
                },
                visits: DateWindow {
                    opens_on: day(2026, 10, 5)?,
                    closes_on: day(2027, 3, 26)?,
                },
                follow_up: DateWindow {
                    opens_on: day(2026, 11, 2)?,
                    closes_on: day(2027, 7, 16)?,
                },
            },
            rules: GroupingRules::default(),
        },
    )
    .await?;
    cycles::set_participants(db, clock, &system, cycle.id, &schools).await?;
    let proposal = groups::propose(db, clock, &system, cycle.id).await?;
    let created = groups::confirm(db, clock, &system, cycle.id).await?;

    // The agreed review: Holly Park's if a trained lead leads it, else the first that is.
    let all = crate::loaders::reviews_by_ids(db, &created).await?;
    let teams = crate::loaders::teams_of(db, &created).await?;
    let led = |id: &kernel::ReviewId| {
        teams.get(id).is_some_and(|t| {
            t.iter().any(|m| {
                m.role == TeamRole::Lead && m.training == TrainingStatus::TrainedLeadReviewer
            })
        })
    };
    let mut order: Vec<kernel::ReviewId> = created.clone();
    order.sort_by_key(|id| {
        let holly = all
            .get(id)
            .is_some_and(|r| Some(r.host_school_id) == holly_school);
        (!holly, all.get(id).map(|r| r.host_name.clone()))
    });
    let mut led_reviews = order.iter().filter(|id| led(id));
    let agreed = *led_reviews
        .next()
        .ok_or_else(|| problem("no review is led by a trained lead reviewer"))?;
    let scheduled = led_reviews.next().copied();

    progress_to_agreed(db, agreed).await?;
    if let Some(id) = scheduled {
        let on = day(2026, 10, 1)?;
        reviews::submit_self_review(db, &at(on), &system, id, self_review()).await?;
        reviews::schedule(
            db,
            &at(on),
            &system,
            id,
            ScheduleInput {
                visit_starts_on: day(2027, 2, 9)?,
                visit_ends_on: day(2027, 2, 10)?,
                enquiry_focus: "How consistently do pupils with SEND access the full curriculum?"
                    .into(),
            },
        )
        .await?;
    }
    Ok(DemoReport {
        schools: schools.len(),
        reviewers: reviewer_count,
        groups: proposal.groups.len(),
        reviews: created.len(),
        skipped: false,
    })
}

fn self_review() -> SelfReviewInput {
    SelfReviewInput {
        summary: "Curriculum leadership is strong in core subjects; foundation subjects are \
                  less well sequenced and subject leaders are new to their roles."
            .into(),
        evaluations: vec![
            AreaEvaluation {
                area: "LEADERSHIP".into(),
                evaluation: "STRONG".into(),
            },
            AreaEvaluation {
                area: "CURRICULUM".into(),
                evaluation: "DEVELOPING".into(),
            },
        ],
    }
}

async fn progress_to_agreed(
    db: &sea_orm::DatabaseConnection,
    id: kernel::ReviewId,
) -> Result<(), DomainError> {
    let system = Actor::System;
    let prepared = at(day(2026, 9, 21)?);
    reviews::submit_self_review(db, &prepared, &system, id, self_review()).await?;
    reviews::schedule(
        db,
        &prepared,
        &system,
        id,
        ScheduleInput {
            visit_starts_on: day(2026, 10, 13)?,
            visit_ends_on: day(2026, 10, 14)?,
            enquiry_focus:
                "How well does the curriculum build knowledge over time in foundation subjects?"
                    .into(),
        },
    )
    .await?;
    let visit = at(day(2026, 10, 14)?);
    reviews::advance(db, &visit, &system, id, ReviewStatus::Visited).await?;
    reviews::advance(db, &visit, &system, id, ReviewStatus::ReportDraft).await?;
    let drafting = at(day(2026, 10, 21)?);
    report::add_finding(
        db,
        &drafting,
        &system,
        id,
        NewFinding {
            kind: FindingKind::Strength,
            area: "LEADERSHIP".into(),
            theme: "coaching for early-career teachers".into(),
            summary: "Leaders have built a coaching culture that early-career teachers value."
                .into(),
            evidence: "Interviews with four ECTs and their mentors; coaching logs.".into(),
            evaluation: Some("STRONG".into()),
        },
    )
    .await?;
    let development = report::add_finding(
        db,
        &drafting,
        &system,
        id,
        NewFinding {
            kind: FindingKind::AreaForDevelopment,
            area: "CURRICULUM".into(),
            theme: "curriculum sequencing in foundation subjects".into(),
            summary: "History and geography units are not yet sequenced so that pupils build \
                      on what they learned before."
                .into(),
            evidence: "Learning walks in Years 3 and 5; pupil voice; curriculum maps.".into(),
            evaluation: Some("DEVELOPING".into()),
        },
    )
    .await?;
    reviews::set_report_summary(
        db,
        &drafting,
        &system,
        id,
        "A school with a strong coaching culture whose next step is the sequencing of its \
         foundation-subject curriculum.",
    )
    .await?;
    let action = report::add_action(
        db,
        &drafting,
        &system,
        id,
        NewAction {
            finding: Some(development.id),
            description: "Re-sequence the history and geography units of Years 3 to 6 with \
                          subject leaders, and check it through learning walks."
                .into(),
            owner: "Deputy headteacher (curriculum)".into(),
            due_on: day(2027, 3, 31)?,
        },
    )
    .await?;
    let agreed_on = at(day(2026, 11, 4)?);
    let review = reviews::advance(db, &agreed_on, &system, id, ReviewStatus::Agreed).await?;
    // Support from another school of the group, which has the sequencing this needs.
    let group = groups::groups_by_ids(db, &[review.group_id]).await?;
    if let Some(helper) = group.get(&review.group_id).and_then(|g| {
        g.members
            .iter()
            .find(|m| m.school_id != review.host_school_id)
    }) {
        let support = report::request_support(
            db,
            &agreed_on,
            &system,
            action.id,
            helper.school_id,
            "Two half-days with your humanities lead to review our unit sequence.",
        )
        .await?;
        report::record_support_time(db, &at(day(2026, 11, 18)?), &system, support.id, 6 * 60)
            .await?;
    }
    Ok(())
}
