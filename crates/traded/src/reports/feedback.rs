//! A service's feedback for one term: how many responded, the average and spread of the
//! ratings, per session and overall, and every comment. For the service's provider and
//! partnership staff. Feedback names no one: the summary does not say which school or
//! person gave a rating.

use documents::{Block, Column, Document, Orientation, Table, format};
use kernel::{AcademicYear, Actor, DomainError, ServiceId, SessionId, Term};
use sea_orm::DatabaseConnection;

use crate::catalogue::{Service, services_by_ids};
use crate::feedback::{Feedback, feedback_of_sessions};
use crate::sessions::{Session, sessions_of_services};
use crate::visibility::rules::acts_for_provider;

/// A service's feedback in a term.
#[derive(Debug, Clone)]
pub struct FeedbackSummary {
    pub service: Service,
    pub year: AcademicYear,
    pub term: Term,
    /// The sessions that started in the term, in date order, each with its feedback.
    pub sessions: Vec<(Session, Vec<Feedback>)>,
}

/// Ratings counted: how many gave each rating from 1 to 5.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Spread(pub [u32; 5]);

impl Spread {
    fn of<'a>(feedback: impl IntoIterator<Item = &'a Feedback>) -> Self {
        let mut counts = [0_u32; 5];
        for f in feedback {
            if let Some(slot) = usize::from(f.rating)
                .checked_sub(1)
                .and_then(|i| counts.get_mut(i))
            {
                *slot += 1;
            }
        }
        Self(counts)
    }

    #[must_use]
    pub fn count(&self) -> u32 {
        self.0.iter().sum()
    }

    /// The mean rating to two decimals, as text; empty when nobody rated.
    #[must_use]
    pub fn average(&self) -> String {
        let count = self.count();
        if count == 0 {
            return String::new();
        }
        let total: u32 = self.0.iter().zip(1_u32..).map(|(n, r)| n * r).sum();
        // Hundredths, rounded half up, in integers.
        let hundredths = (total * 200 + count) / (2 * count);
        format!("{}.{:02}", hundredths / 100, hundredths % 100)
    }
}

/// Whether `actor` may read a service's feedback: partnership staff and its provider.
#[must_use]
pub fn may_read_feedback(actor: &Actor, service: &Service) -> bool {
    matches!(actor, Actor::System)
        || actor
            .as_user()
            .is_some_and(|u| u.role.is_partnership_staff())
        || acts_for_provider(actor, service.provider_school_id)
}

fn term_label(term: Term, year: AcademicYear) -> String {
    let name = match term {
        Term::Autumn => "Autumn",
        Term::Spring => "Spring",
        Term::Summer => "Summer",
    };
    format!("{name} term {year}")
}

/// The feedback summary of `service` for `term` of `year`: sessions whose first part falls
/// in the term (by the partnership's billing terms). The provider and partnership staff;
/// `NotFound` for anyone else.
pub async fn feedback_summary(
    db: &DatabaseConnection,
    actor: &Actor,
    service: ServiceId,
    year: AcademicYear,
    term: Term,
) -> Result<FeedbackSummary, DomainError> {
    let not_found = || DomainError::NotFound {
        entity: "TradedService",
    };
    let found = services_by_ids(db, &[service])
        .await?
        .remove(&service)
        .ok_or_else(not_found)?;
    if !may_read_feedback(actor, &found) {
        return Err(not_found());
    }
    let (first, last) = term.dates(year);
    let mut sessions: Vec<Session> = sessions_of_services(db, &[service])
        .await?
        .remove(&service)
        .unwrap_or_default()
        .into_iter()
        .filter(|s| (first..=last).contains(&format::local_day(s.starts_at)))
        .collect();
    sessions.sort_by_key(|s| (s.starts_at, s.id));
    let ids: Vec<SessionId> = sessions.iter().map(|s| s.id).collect();
    let mut feedback = feedback_of_sessions(db, &ids).await?;
    Ok(FeedbackSummary {
        service: found,
        year,
        term,
        sessions: sessions
            .into_iter()
            .map(|s| {
                let given = feedback.remove(&s.id).unwrap_or_default();
                (s, given)
            })
            .collect(),
    })
}

impl FeedbackSummary {
    /// Every rating of the term.
    #[must_use]
    pub fn spread(&self) -> Spread {
        Spread::of(self.sessions.iter().flat_map(|(_, f)| f))
    }

    fn session_label(session: &Session) -> String {
        let day = format::date(format::local_day(session.starts_at));
        match session.label.as_deref() {
            Some(label) => format!("{day} ({label})"),
            None => day,
        }
    }

    /// One row per response: the session, the rating and the comment (the CSV).
    #[must_use]
    pub fn responses(&self) -> Table {
        let mut table = Table::new(vec![
            Column::text("Session", 2.0),
            Column::number("Rating", 0.7),
            Column::text("Comment", 6.0),
            Column::text("Given on", 1.2),
        ]);
        for (session, given) in &self.sessions {
            for f in given {
                table.row(vec![
                    Self::session_label(session),
                    f.rating.to_string(),
                    f.comment.clone().unwrap_or_default(),
                    format::date(format::local_day(f.created_at)),
                ]);
            }
        }
        table
    }

    #[must_use]
    pub fn csv(&self) -> Vec<u8> {
        self.responses().csv()
    }

    #[must_use]
    pub fn pdf(&self) -> Vec<u8> {
        let when = term_label(self.term, self.year);
        let mut doc = Document::new(
            format!("Feedback: {}", self.service.title),
            Orientation::Portrait,
        )
        .footer(format!(
            "{} ({}) – feedback, {when}",
            self.service.title, self.service.code
        ));
        let spread = self.spread();
        let attended: usize = self.sessions.len();
        doc.push(Block::Facts(vec![
            (
                "Course".to_owned(),
                format!("{} ({})", self.service.title, self.service.code),
            ),
            ("Provider".to_owned(), self.service.provider_name.clone()),
            ("Term".to_owned(), when),
            ("Sessions".to_owned(), attended.to_string()),
            ("Responses".to_owned(), spread.count().to_string()),
            (
                "Average rating".to_owned(),
                if spread.count() == 0 {
                    "no ratings yet".to_owned()
                } else {
                    format!("{} out of 5", spread.average())
                },
            ),
        ]));
        doc.push(Block::Heading("Ratings by session".to_owned()));
        let mut by_session = Table::new(vec![
            Column::text("Session", 2.4),
            Column::number("Responses", 1.0),
            Column::number("Average", 0.9),
            Column::number("5", 0.5),
            Column::number("4", 0.5),
            Column::number("3", 0.5),
            Column::number("2", 0.5),
            Column::number("1", 0.5),
        ]);
        let mut rows: Vec<(String, Spread)> = self
            .sessions
            .iter()
            .map(|(s, f)| (Self::session_label(s), Spread::of(f)))
            .collect();
        rows.push(("All sessions".to_owned(), spread));
        for (label, s) in rows {
            let mut row = vec![label, s.count().to_string(), s.average()];
            row.extend(s.0.iter().rev().map(ToString::to_string));
            by_session.row(row);
        }
        doc.push(Block::Table(by_session));
        doc.push(Block::Heading("Comments".to_owned()));
        let mut comments = Table::new(vec![
            Column::text("Session", 1.6),
            Column::number("Rating", 0.7),
            Column::text("Comment", 6.0),
        ]);
        for (session, given) in &self.sessions {
            for f in given.iter().filter(|f| f.comment.is_some()) {
                comments.row(vec![
                    Self::session_label(session),
                    f.rating.to_string(),
                    f.comment.clone().unwrap_or_default(),
                ]);
            }
        }
        if comments.rows.is_empty() {
            doc.push(Block::Text("No comments were given.".to_owned()));
        } else {
            doc.push(Block::Table(comments));
        }
        doc.pdf()
    }
}

#[cfg(test)]
mod tests {
    use super::Spread;

    #[test]
    fn averages_round_half_up_in_integers() {
        assert_eq!(Spread([0, 0, 0, 0, 0]).average(), "");
        assert_eq!(Spread([0, 0, 0, 1, 2]).average(), "4.67");
        assert_eq!(Spread([1, 0, 0, 0, 1]).average(), "3.00");
        assert_eq!(Spread([0, 0, 1, 0, 2]).average(), "4.33");
        assert_eq!(Spread([0, 0, 0, 1, 1]).count(), 2);
    }
}
