//! Shared set-up for peer-review database tests: a small directory, leaders, reviewers and a
//! 2026/27 cycle.

#![allow(dead_code)]

use chrono::{NaiveDate, TimeZone, Utc};
use kernel::{Actor, FixedClock, PartnershipId, Role, SchoolId, UserActor, UserId};
use membership::partnership::types::{MemberRole, PartnershipKind};
use membership::partnership::{self, MemberChange, MemberInput, NewPartnership};
use membership::people::{NewUser, users};
use membership::school::types::{EstablishmentType, Phase};
use membership::school::{self, NewSchool};
use peer_review::cycles::{self, Cycle, GroupingRules, NewCycle};
use peer_review::reviewers::{self, NewReviewer, Reviewer};
use peer_review::types::{CycleWindows, DateWindow, TrainingStatus};
use sea_orm::DatabaseConnection;

pub fn day(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).expect("date")
}

pub fn clock_on(date: NaiveDate) -> FixedClock {
    FixedClock::new(Utc.from_utc_datetime(&date.and_hms_opt(10, 0, 0).expect("time")))
}

pub fn windows() -> CycleWindows {
    CycleWindows {
        self_review: DateWindow {
            opens_on: day(2026, 9, 14),
            closes_on: day(2026, 11, 27),
        },
        visits: DateWindow {
            opens_on: day(2026, 10, 5),
            closes_on: day(2027, 3, 26),
        },
        follow_up: DateWindow {
            opens_on: day(2026, 11, 2),
            closes_on: day(2027, 7, 16),
        },
    }
}

pub fn admin() -> Actor {
    Actor::User(UserActor {
        id: UserId::new(),
        email: "admin@trellis.example".into(),
        role: Role::PartnershipAdmin,
        schools: vec![],
    })
}

pub fn finance() -> Actor {
    Actor::User(UserActor {
        id: UserId::new(),
        email: "finance@trellis.example".into(),
        role: Role::Finance,
        schools: vec![],
    })
}

/// One participating school with its head (a school leader registered as a reviewer).
#[derive(Debug, Clone)]
pub struct Member {
    pub school: SchoolId,
    pub head: Actor,
    pub reviewer: Reviewer,
}

#[derive(Debug)]
pub struct World {
    pub cycle: Cycle,
    pub members: Vec<Member>,
    pub trust: PartnershipId,
    /// A leader of a school outside the cycle.
    pub outsider: Actor,
}

impl World {
    pub fn member(&self, school: SchoolId) -> &Member {
        self.members
            .iter()
            .find(|m| m.school == school)
            .expect("participant")
    }
}

async fn leader(db: &DatabaseConnection, clock: &FixedClock, school: SchoolId, n: usize) -> Actor {
    let user = users::create(
        db,
        clock,
        &Actor::System,
        NewUser {
            email: format!("head{n}@school.example"),
            name: format!("Head {n}"),
            role: Role::SchoolLeader,
            schools: vec![school],
        },
    )
    .await
    .expect("user");
    Actor::User(UserActor {
        id: user.id,
        email: user.email,
        role: Role::SchoolLeader,
        schools: vec![school],
    })
}

/// `n` primary schools (the first two in one trust), every school's head a reviewer and
/// the heads of schools 0, 1, 2 and 4 trained lead reviewers (two for each triad of six, as
/// every review needs a visiting lead); a cycle with them all taking part.
pub async fn world(db: &DatabaseConnection, n: usize) -> World {
    let clock = clock_on(day(2026, 9, 1));
    let sys = Actor::System;
    let trust = partnership::create(
        db,
        &clock,
        &sys,
        NewPartnership {
            name: "Test Trust".into(),
            kind: PartnershipKind::MultiAcademyTrust,
            area: "Barnet".into(),
            description: String::new(),
        },
    )
    .await
    .expect("trust");
    let mut members = Vec::new();
    for i in 0..=n {
        let s = school::create(
            db,
            &clock,
            &sys,
            NewSchool {
                urn: format!("{}", 910_000 + i),
                name: format!("School {i:02}"),
                phase: Phase::Primary,
                establishment_type: EstablishmentType::Academy,
                local_authority: "Barnet".into(),
                postcode: "N10 2HN".into(),
                roll: None,
                designations: vec![],
                has_sixth_form: false,
                opened_on: None,
                is_demo: false,
            },
        )
        .await
        .expect("school");
        let head = leader(db, &clock, s.id, i).await;
        if i == n {
            // The outsider: a leader whose school is not in the cycle.
            return finish(db, &clock, members, trust.id, head).await;
        }
        if i < 2 {
            partnership::put_member(
                db,
                &clock,
                &sys,
                MemberInput {
                    partnership: trust.id,
                    school: s.id,
                    role: MemberRole::Member,
                    joined_on: None,
                },
                MemberChange::Add,
            )
            .await
            .expect("member");
        }
        let lead = i <= 4 && i != 3;
        let reviewer = reviewers::register_reviewer(
            db,
            &clock,
            &sys,
            NewReviewer {
                user: head.as_user().expect("user").id,
                school: s.id,
                training: if lead {
                    TrainingStatus::TrainedLeadReviewer
                } else {
                    TrainingStatus::ImprovementChampion
                },
                trained_on: Some(day(2025, 6, 1)),
            },
        )
        .await
        .expect("reviewer");
        members.push(Member {
            school: s.id,
            head,
            reviewer,
        });
    }
    unreachable!("the loop returns")
}

async fn finish(
    db: &DatabaseConnection,
    clock: &FixedClock,
    members: Vec<Member>,
    trust: PartnershipId,
    outsider: Actor,
) -> World {
    let cycle = cycles::create_cycle(
        db,
        clock,
        &admin(),
        NewCycle {
            academic_year: 2026,
            name: "Peer review 2026/27".into(),
            framework: peer_review::demo::demo_framework(),
            windows: windows(),
            rules: GroupingRules::default(),
        },
    )
    .await
    .expect("cycle");
    let schools: Vec<SchoolId> = members.iter().map(|m| m.school).collect();
    cycles::set_participants(db, clock, &admin(), cycle.id, &schools)
        .await
        .expect("participants");
    World {
        cycle,
        members,
        trust,
        outsider,
    }
}

impl World {
    /// A school leader with no school in any cycle and no peer-review management rights.
    pub fn leader_less() -> Actor {
        Actor::User(UserActor {
            id: UserId::new(),
            email: "lead@school.example".into(),
            role: Role::SchoolLeader,
            schools: vec![],
        })
    }
}
