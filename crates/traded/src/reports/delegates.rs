//! A session's delegate list and its sign-in sheets: who is coming, from which school, and
//! (once taken) the register, part by part. For the session's provider and partnership
//! staff, like the register they are printed from.

use documents::{Block, Column, Document, Orientation, Table, format};
use kernel::{Actor, DomainError, SchoolId, SessionId};
use sea_orm::DatabaseConnection;

use crate::attendance::{RegisterLine, register};
use crate::catalogue::{Service, services_by_ids};
use crate::sessions::{Session, sessions_by_ids};

use super::{category_label, mark_label, status_label};

/// Everything the delegate list and the sign-in sheets print.
#[derive(Debug, Clone)]
pub struct DelegateList {
    pub service: Service,
    pub session: Session,
    pub delegates: Vec<Delegate>,
}

/// A person with a place on the session.
#[derive(Debug, Clone)]
pub struct Delegate {
    pub line: RegisterLine,
    pub school_name: String,
}

/// The delegate list of `session`: every attendee holding a place, ordered by school and
/// name. The session's provider and partnership staff; `NotFound` for anyone else.
pub async fn delegate_list(
    db: &DatabaseConnection,
    actor: &Actor,
    session: SessionId,
) -> Result<DelegateList, DomainError> {
    let lines = register(db, actor, session).await?;
    let not_found = || DomainError::NotFound {
        entity: "TradedSession",
    };
    let session = sessions_by_ids(db, &[session])
        .await?
        .remove(&session)
        .ok_or_else(not_found)?;
    let service = services_by_ids(db, &[session.service_id])
        .await?
        .remove(&session.service_id)
        .ok_or_else(not_found)?;
    let school_ids: Vec<SchoolId> = lines.iter().map(|l| l.school_id).collect();
    let names = membership::school::names_by_ids(db, &school_ids).await?;
    let mut delegates: Vec<Delegate> = lines
        .into_iter()
        .map(|line| Delegate {
            school_name: names.get(&line.school_id).cloned().unwrap_or_default(),
            line,
        })
        .collect();
    delegates.sort_by(|a, b| {
        (&a.school_name, &a.line.attendee.name, a.line.attendee.id).cmp(&(
            &b.school_name,
            &b.line.attendee.name,
            b.line.attendee.id,
        ))
    });
    Ok(DelegateList {
        service,
        session,
        delegates,
    })
}

impl DelegateList {
    /// "Phonics for new staff (CPD-101)".
    fn heading(&self) -> String {
        let label = self
            .session
            .label
            .as_deref()
            .map(|l| format!(" – {l}"))
            .unwrap_or_default();
        format!("{}{label} ({})", self.service.title, self.service.code)
    }

    fn facts(&self) -> Vec<(String, String)> {
        let mut facts = vec![
            ("Course".to_owned(), self.heading()),
            (
                "Type".to_owned(),
                category_label(self.service.category).to_owned(),
            ),
            ("Provider".to_owned(), self.service.provider_name.clone()),
        ];
        for (i, part) in self.session.parts.iter().enumerate() {
            let label = if self.session.parts.len() == 1 {
                "When".to_owned()
            } else {
                format!("Part {}", i + 1)
            };
            let place = part
                .venue
                .as_deref()
                .or(part.online_url.as_deref())
                .map(|p| format!(", {p}"))
                .unwrap_or_default();
            facts.push((
                label,
                format!("{}{place}", format::span(part.starts_at, part.ends_at)),
            ));
        }
        facts.push((
            "Places".to_owned(),
            format!(
                "{} delegates, {} of {} places taken",
                self.delegates.len(),
                self.session.places_taken,
                self.session.capacity
            ),
        ));
        facts
    }

    /// The delegate list as a table: one row per delegate, a column per part's mark.
    #[must_use]
    pub fn table(&self) -> Table {
        let parts = self.session.parts.len();
        let mut columns = vec![
            Column::number("#", 0.4),
            Column::text("Name", 2.0),
            Column::text("Role", 1.6),
            Column::text("Email", 2.4),
            Column::text("School", 2.2),
            Column::text("Booking", 1.2),
        ];
        for i in 0..parts {
            columns.push(Column::text(
                if parts == 1 {
                    "Register".to_owned()
                } else {
                    format!("Part {}", i + 1)
                },
                0.9,
            ));
        }
        let mut table = Table::new(columns);
        for (n, d) in self.delegates.iter().enumerate() {
            let mut row = vec![
                (n + 1).to_string(),
                d.line.attendee.name.clone(),
                d.line.attendee.role.clone().unwrap_or_default(),
                d.line.attendee.email.clone(),
                d.school_name.clone(),
                status_label(d.line.booking_status).to_owned(),
            ];
            row.extend(d.line.parts.iter().map(|m| mark_label(*m).to_owned()));
            table.row(row);
        }
        table
    }

    /// The table as CSV.
    #[must_use]
    pub fn csv(&self) -> Vec<u8> {
        self.table().csv()
    }

    /// The delegate list as a landscape PDF.
    #[must_use]
    pub fn pdf(&self) -> Vec<u8> {
        let mut doc = Document::new(
            format!("Delegate list: {}", self.service.title),
            Orientation::Landscape,
        )
        .footer(format!("{} – delegate list", self.heading()));
        doc.push(Block::Facts(self.facts()));
        doc.push(Block::Table(self.table()));
        doc.pdf()
    }

    /// Sign-in sheets: a page (or more) per part, a row per delegate with room to sign.
    #[must_use]
    pub fn sign_in_sheet(&self) -> Vec<u8> {
        let mut doc = Document::new(
            format!("Sign-in sheet: {}", self.service.title),
            Orientation::Portrait,
        )
        .footer(format!("{} – sign-in sheet", self.heading()));
        let parts = self.session.parts.len();
        for (i, part) in self.session.parts.iter().enumerate() {
            if i > 0 {
                doc.push(Block::PageBreak);
            }
            let when = if parts == 1 {
                format::span(part.starts_at, part.ends_at)
            } else {
                format!(
                    "Part {} of {parts}: {}",
                    i + 1,
                    format::span(part.starts_at, part.ends_at)
                )
            };
            doc.push(Block::Heading(when));
            let mut facts = vec![
                ("Course".to_owned(), self.heading()),
                ("Provider".to_owned(), self.service.provider_name.clone()),
            ];
            if let Some(venue) = part.venue.as_deref() {
                facts.push(("Venue".to_owned(), venue.to_owned()));
            }
            doc.push(Block::Facts(facts));
            let mut table = Table::new(vec![
                Column::number("#", 0.4),
                Column::text("Name", 2.2),
                Column::text("School", 2.2),
                Column::text("Signature", 2.4),
            ]);
            table.min_row_height = 26.0;
            for (n, d) in self.delegates.iter().enumerate() {
                table.row(vec![
                    (n + 1).to_string(),
                    d.line.attendee.name.clone(),
                    d.school_name.clone(),
                    String::new(),
                ]);
            }
            // Room for people who arrive without a place on the list.
            for n in self.delegates.len()..self.delegates.len() + 3 {
                table.row(vec![(n + 1).to_string()]);
            }
            doc.push(Block::Table(table));
        }
        doc.pdf()
    }
}
