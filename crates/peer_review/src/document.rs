//! The agreed report of a review as a document: what the host school agreed with its
//! review team — the enquiry, the team, each finding with its evaluation and evidence, and
//! the actions with their owners, dates and school-to-school support — as a PDF, and its
//! findings and actions as CSV.
//!
//! Read under the one confidentiality rule ([`crate::confidentiality`]): whoever may read
//! the report may have it as a file, and nobody else learns that it exists. Only an agreed
//! report is a document; a draft is still being written and is read in the portal.

use std::collections::HashMap;

use documents::{Block, Column, Document, Orientation, Table, format};
use kernel::{Actor, DomainError, ErrorCode, FindingId, ReviewId, SchoolId, UserId};
use sea_orm::DatabaseConnection;

use crate::cycles::{Cycle, cycles_by_ids};
use crate::reviews::{ReviewReport, review};
use crate::types::{ActionStatus, FindingKind, FrameworkItem, TeamRole};

/// An agreed report with the names it prints.
#[derive(Debug, Clone)]
pub struct ReportDocument {
    pub report: ReviewReport,
    pub cycle: Cycle,
    /// People on the team and who agreed the report, by id.
    pub people: HashMap<UserId, String>,
    /// Reviewers' and supporting schools, by id.
    pub schools: HashMap<SchoolId, String>,
}

/// The agreed report of review `id`, for those who may read it (`NotFound` for anyone
/// else); `reviewId` CONFLICT while the report is not agreed yet.
pub async fn agreed_report(
    db: &DatabaseConnection,
    actor: &Actor,
    id: ReviewId,
) -> Result<ReportDocument, DomainError> {
    let report = review(db, actor, id).await?;
    if !report.review.status.report_is_agreed() {
        return Err(DomainError::invalid(
            "reviewId",
            ErrorCode::Conflict,
            "the report becomes a document once the host school has agreed it",
        ));
    }
    let cycle = cycles_by_ids(db, &[report.review.cycle_id])
        .await?
        .remove(&report.review.cycle_id)
        .ok_or(DomainError::NotFound {
            entity: "ReviewCycle",
        })?;
    let mut user_ids: Vec<UserId> = report.team.iter().map(|m| m.user_id).collect();
    user_ids.extend(report.review.agreed_by);
    let people = membership::people::users::by_ids(db, &user_ids)
        .await?
        .into_iter()
        .map(|(id, u)| (id, u.name))
        .collect();
    let mut school_ids: Vec<SchoolId> = report.team.iter().map(|m| m.school_id).collect();
    school_ids.extend(
        report
            .actions
            .iter()
            .filter_map(|a| a.support.as_ref().map(|s| s.providing_school_id)),
    );
    let schools = membership::school::names_by_ids(db, &school_ids).await?;
    Ok(ReportDocument {
        report,
        cycle,
        people,
        schools,
    })
}

fn label_of(items: &[FrameworkItem], key: &str) -> String {
    items
        .iter()
        .find(|i| i.key == key)
        .map_or_else(|| key.to_owned(), |i| i.label.clone())
}

fn kind_label(kind: FindingKind) -> &'static str {
    match kind {
        FindingKind::Strength => "Strength",
        FindingKind::AreaForDevelopment => "Area for development",
    }
}

fn action_status_label(status: ActionStatus) -> &'static str {
    match status {
        ActionStatus::Open => "Open",
        ActionStatus::InProgress => "In progress",
        ActionStatus::Done => "Done",
        ActionStatus::Dropped => "Dropped",
    }
}

impl ReportDocument {
    fn name(&self, user: UserId) -> String {
        self.people.get(&user).cloned().unwrap_or_default()
    }

    fn area(&self, key: &str) -> String {
        label_of(&self.cycle.framework.areas, key)
    }

    fn evaluation(&self, key: Option<&str>) -> String {
        key.map(|k| label_of(&self.cycle.framework.scale, k))
            .unwrap_or_default()
    }

    fn finding_number(&self, id: FindingId) -> Option<usize> {
        self.report
            .findings
            .iter()
            .position(|f| f.id == id)
            .map(|i| i + 1)
    }

    /// Findings then actions, one row each (the CSV).
    #[must_use]
    pub fn table(&self) -> Table {
        let mut table = Table::new(vec![
            Column::text("Section", 1.0),
            Column::number("Number", 0.6),
            Column::text("Area or owner", 1.6),
            Column::text("Kind or due date", 1.2),
            Column::text("Evaluation or status", 1.2),
            Column::text("Summary", 3.0),
            Column::text("Evidence or support", 3.0),
            Column::text("Finding", 0.6),
        ]);
        for (i, f) in self.report.findings.iter().enumerate() {
            table.row(vec![
                "Finding".to_owned(),
                (i + 1).to_string(),
                self.area(&f.area),
                kind_label(f.kind).to_owned(),
                self.evaluation(f.evaluation.as_deref()),
                f.summary.clone(),
                f.evidence.clone(),
                String::new(),
            ]);
        }
        for (i, a) in self.report.actions.iter().enumerate() {
            table.row(vec![
                "Action".to_owned(),
                (i + 1).to_string(),
                a.owner.clone(),
                a.due_on.format("%Y-%m-%d").to_string(),
                action_status_label(a.status).to_owned(),
                a.description.clone(),
                self.support(a),
                a.finding_id
                    .and_then(|f| self.finding_number(f))
                    .map(|n| n.to_string())
                    .unwrap_or_default(),
            ]);
        }
        table
    }

    fn support(&self, action: &crate::report::Action) -> String {
        action.support.as_ref().map_or_else(String::new, |s| {
            let school = self
                .schools
                .get(&s.providing_school_id)
                .cloned()
                .unwrap_or_default();
            match s.minutes_provided {
                Some(minutes) => format!(
                    "{school}: {} ({})",
                    s.request,
                    format::duration(i64::from(minutes))
                ),
                None => format!("{school}: {}", s.request),
            }
        })
    }

    #[must_use]
    pub fn csv(&self) -> Vec<u8> {
        self.table().csv()
    }

    #[must_use]
    pub fn pdf(&self) -> Vec<u8> {
        let r = &self.report.review;
        let mut doc = Document::new(
            format!("Peer review report: {}", r.host_name),
            Orientation::Portrait,
        )
        .footer(format!(
            "{} – {} – confidential to those the school shares it with",
            r.host_name, self.cycle.name
        ));
        let visit = match (r.visit_starts_on, r.visit_ends_on) {
            (Some(s), Some(e)) if s == e => format::date(s),
            (Some(s), Some(e)) => format!("{} to {}", format::date(s), format::date(e)),
            (Some(s), None) => format::date(s),
            _ => String::new(),
        };
        let agreed = match (r.agreed_at, r.agreed_by) {
            (Some(at), Some(by)) => format!(
                "{} by {}",
                format::date(format::local_day(at)),
                self.name(by)
            ),
            (Some(at), None) => format::date(format::local_day(at)),
            _ => String::new(),
        };
        doc.push(Block::Facts(vec![
            ("School".to_owned(), r.host_name.clone()),
            ("Cycle".to_owned(), self.cycle.name.clone()),
            ("Visit".to_owned(), visit),
            ("Agreed".to_owned(), agreed),
        ]));
        doc.push(Block::Heading("Enquiry focus".to_owned()));
        doc.push(Block::Text(r.enquiry_focus.clone()));
        doc.push(Block::Heading("Review team".to_owned()));
        let mut team = Table::new(vec![
            Column::text("Name", 2.0),
            Column::text("School", 2.0),
            Column::text("Role", 1.0),
        ]);
        for m in &self.report.team {
            team.row(vec![
                self.name(m.user_id),
                self.schools.get(&m.school_id).cloned().unwrap_or_default(),
                match m.role {
                    TeamRole::Lead => "Lead reviewer".to_owned(),
                    TeamRole::Member => "Reviewer".to_owned(),
                },
            ]);
        }
        doc.push(Block::Table(team));
        if !r.report_summary.is_empty() {
            doc.push(Block::Heading("Summary".to_owned()));
            doc.push(Block::Text(r.report_summary.clone()));
        }
        for (kind, heading) in [
            (FindingKind::Strength, "Strengths"),
            (FindingKind::AreaForDevelopment, "Areas for development"),
        ] {
            let mut findings = Table::new(vec![
                Column::number("#", 0.4),
                Column::text("Area", 1.4),
                Column::text("Evaluation", 1.0),
                Column::text("Finding", 3.0),
                Column::text("Evidence", 3.0),
            ]);
            for (i, f) in self.report.findings.iter().enumerate() {
                if f.kind == kind {
                    findings.row(vec![
                        (i + 1).to_string(),
                        self.area(&f.area),
                        self.evaluation(f.evaluation.as_deref()),
                        f.summary.clone(),
                        f.evidence.clone(),
                    ]);
                }
            }
            if !findings.rows.is_empty() {
                doc.push(Block::Heading(heading.to_owned()));
                doc.push(Block::Table(findings));
            }
        }
        doc.push(Block::Heading("Agreed actions".to_owned()));
        let mut actions = Table::new(vec![
            Column::text("Action", 3.0),
            Column::text("Owner", 1.6),
            Column::text("Due", 1.3),
            Column::text("Status", 0.9),
            Column::text("Support", 2.2),
        ]);
        for a in &self.report.actions {
            let finding = a
                .finding_id
                .and_then(|f| self.finding_number(f))
                .map(|n| format!(" (finding {n})"))
                .unwrap_or_default();
            actions.row(vec![
                format!("{}{finding}", a.description),
                a.owner.clone(),
                format::date(a.due_on),
                action_status_label(a.status).to_owned(),
                self.support(a),
            ]);
        }
        if actions.rows.is_empty() {
            doc.push(Block::Text("No actions were agreed.".to_owned()));
        } else {
            doc.push(Block::Table(actions));
        }
        doc.pdf()
    }
}
