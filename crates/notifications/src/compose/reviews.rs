//! Messages about peer review: a visit scheduled (to the host school's leaders and to every
//! reviewer on the team), a report ready for the host to agree, and a report published to the
//! partnership (both to the host's leaders).
//!
//! Reports are confidential (`peer_review::confidentiality`): no message quotes one. They say
//! that something happened and where to read it, to people who may read it anyway.

use std::collections::HashMap;

use kernel::outbox::EventKind;
use kernel::{DomainError, ReviewId, Role, SchoolId, UserId};
use peer_review::reviews::{Review, TeamMember};
use peer_review::types::TeamRole;
use serde::Serialize;
use uuid::Uuid;

use super::{Event, MessageSettings, draft, each_event};
use crate::format;
use crate::model::{Category, Draft, Recipient};

#[derive(Debug, Serialize)]
struct Visit {
    host: String,
    starts: String,
    ends: String,
    focus: String,
    /// "Name (School), lead reviewer", lead first.
    team: Vec<String>,
    /// Whether this copy goes to a reviewer rather than the host.
    reviewer: bool,
}

#[derive(Debug, Serialize)]
struct Report {
    host: String,
}

/// Everything a batch of review messages needs, read once per batch.
struct Facts {
    reviews: HashMap<ReviewId, Review>,
    teams: HashMap<ReviewId, Vec<TeamMember>>,
    users: HashMap<UserId, membership::people::User>,
    schools: HashMap<SchoolId, String>,
    leaders: HashMap<SchoolId, Vec<membership::people::User>>,
}

impl Facts {
    async fn load<C: sea_orm::ConnectionTrait>(
        db: &C,
        events: &[&Event],
    ) -> Result<Self, DomainError> {
        let ids: Vec<ReviewId> = events
            .iter()
            .map(|e| ReviewId::from_uuid(e.subject))
            .collect();
        let reviews = peer_review::loaders::reviews_by_ids(db, &ids).await?;
        let teams = peer_review::loaders::teams_of(db, &ids).await?;
        let user_ids: Vec<UserId> = teams.values().flatten().map(|m| m.user_id).collect();
        let mut school_ids: Vec<SchoolId> = teams.values().flatten().map(|m| m.school_id).collect();
        let hosts: Vec<SchoolId> = reviews.values().map(|r| r.host_school_id).collect();
        school_ids.extend(&hosts);
        Ok(Self {
            users: membership::people::users::by_ids(db, &user_ids).await?,
            schools: membership::school::names_by_ids(db, &school_ids).await?,
            leaders: membership::people::users::active_with_role_at(db, Role::SchoolLeader, &hosts)
                .await?,
            reviews,
            teams,
        })
    }

    fn host_leaders(&self, review: &Review) -> Vec<Recipient> {
        self.leaders
            .get(&review.host_school_id)
            .into_iter()
            .flatten()
            .map(recipient)
            .collect()
    }

    /// The team's reviewers who can still be reached (active users), lead first.
    fn team(&self, review: &Review) -> Vec<(&TeamMember, &membership::people::User)> {
        let mut team: Vec<_> = self
            .teams
            .get(&review.id)
            .into_iter()
            .flatten()
            .filter_map(|m| self.users.get(&m.user_id).map(|u| (m, u)))
            .filter(|(_, u)| u.active)
            .collect();
        team.sort_by_key(|(m, u)| (m.role != TeamRole::Lead, u.name.clone()));
        team
    }
}

fn recipient(user: &membership::people::User) -> Recipient {
    Recipient {
        email: user.email.to_lowercase(),
        name: user.name.clone(),
        user_id: Some(user.id),
    }
}

pub(super) async fn compose<C: sea_orm::ConnectionTrait>(
    db: &C,
    settings: &MessageSettings,
    events: &[&Event],
) -> Result<HashMap<Uuid, Vec<Draft>>, DomainError> {
    if events.is_empty() {
        return Ok(HashMap::new());
    }
    let facts = Facts::load(db, events).await?;
    each_event(events, "review", |event| {
        let (Some(kind), Some(review)) = (
            event.kind,
            facts.reviews.get(&ReviewId::from_uuid(event.subject)),
        ) else {
            return Ok(None);
        };
        drafts(settings, &facts, kind, review).map(Some)
    })
}

fn drafts(
    settings: &MessageSettings,
    facts: &Facts,
    kind: EventKind,
    review: &Review,
) -> Result<Vec<Draft>, DomainError> {
    let host = review.host_name.clone();
    let school = Some(review.host_school_id);
    let mut drafts = Vec::new();
    match kind {
        EventKind::ReviewScheduled => {
            let (Some(starts), Some(ends)) = (review.visit_starts_on, review.visit_ends_on) else {
                return Ok(drafts);
            };
            let team = facts.team(review);
            let names = team
                .iter()
                .map(|(m, u)| {
                    let from = facts.schools.get(&m.school_id).cloned().unwrap_or_default();
                    let role = match m.role {
                        TeamRole::Lead => "lead reviewer",
                        TeamRole::Member => "reviewer",
                    };
                    format!("{} ({from}), {role}", u.name)
                })
                .collect::<Vec<_>>();
            let visit = |reviewer: bool| Visit {
                host: host.clone(),
                starts: format::day(starts),
                ends: format::day(ends),
                focus: review.enquiry_focus.clone(),
                team: names.clone(),
                reviewer,
            };
            let subject = format!(
                "Peer review of {host}: visit {} to {}",
                format::day(starts),
                format::day(ends)
            );
            let mut seen = std::collections::HashSet::new();
            for leader in facts.host_leaders(review) {
                if seen.insert(leader.email.clone()) {
                    drafts.push(draft(
                        settings,
                        kind,
                        Category::PeerReview,
                        school,
                        leader,
                        subject.clone(),
                        "review_scheduled",
                        &visit(false),
                    )?);
                }
            }
            for (member, user) in team {
                let to = recipient(user);
                if seen.insert(to.email.clone()) {
                    drafts.push(draft(
                        settings,
                        kind,
                        Category::PeerReview,
                        Some(member.school_id),
                        to,
                        subject.clone(),
                        "review_scheduled",
                        &visit(true),
                    )?);
                }
            }
        }
        EventKind::ReviewReportReady | EventKind::ReviewPublished => {
            let (subject, template) = if kind == EventKind::ReviewReportReady {
                (
                    format!("The peer review report for {host} is ready to agree"),
                    "review_report_ready",
                )
            } else {
                (
                    format!("The peer review report for {host} is published to the partnership"),
                    "review_published",
                )
            };
            for leader in facts.host_leaders(review) {
                drafts.push(draft(
                    settings,
                    kind,
                    Category::PeerReview,
                    school,
                    leader,
                    subject.clone(),
                    template,
                    &Report { host: host.clone() },
                )?);
            }
        }
        _ => {}
    }
    Ok(drafts)
}
