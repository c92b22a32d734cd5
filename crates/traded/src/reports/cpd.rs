//! A member of staff's CPD record: every traded session they held a place on, with the
//! hours the register says they attended and the certificates they earned. For the person
//! themselves, the leaders of their school(s), and partnership admins.
//!
//! A place is the person's when its attendee email is their account's email: staff are
//! booked by name and email, by their leader or at their own request, before or without
//! any account. Places a substitute took over are the substitute's.

use chrono::NaiveDate;
use documents::{Block, Column, Document, Orientation, Table, format};
use kernel::{
    AcademicYear, Actor, AttendeeId, BookingId, Clock, DomainError, Permission, SchoolId,
    ServiceId, SessionId, UserId,
};
use sea_orm::{ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter};

use crate::attendance::{
    ON_REGISTER, certificate_number, earns_certificate, part_marks_of_attendees,
};
use crate::bookings::{Attendee, bookings_by_ids};
use crate::catalogue::services_by_ids;
use crate::entity::attendees;
use crate::sessions::sessions_by_ids;
use crate::types::Attendance;
use crate::visibility::rules::may_read_bookings;

use super::category_label;

/// A person's CPD record.
#[derive(Debug, Clone)]
pub struct CpdRecord {
    pub user_id: UserId,
    pub name: String,
    pub email: String,
    /// Only this year's sessions, when asked for.
    pub year: Option<AcademicYear>,
    /// Oldest first.
    pub entries: Vec<CpdEntry>,
}

/// One session on the record.
#[derive(Debug, Clone)]
pub struct CpdEntry {
    pub attendee_id: AttendeeId,
    pub session_id: SessionId,
    pub service_id: ServiceId,
    /// The first part's day.
    pub date: NaiveDate,
    pub service_code: String,
    pub service_title: String,
    pub category: &'static str,
    pub provider_name: String,
    pub school_name: String,
    pub outcome: Outcome,
    /// Length of the parts the register marked them present at.
    pub minutes_attended: i64,
    /// Set once earned: the session has ended and they were present at every part.
    pub certificate_number: Option<String>,
}

/// What became of a place.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// The session has not ended yet.
    Booked,
    /// Present at every part.
    Attended,
    /// Present at some parts: `(present, parts)`.
    Partly(usize, usize),
    DidNotAttend,
    /// The session has ended and the register was not taken.
    NotRecorded,
}

impl Outcome {
    fn label(self) -> String {
        match self {
            Self::Booked => "Booked".to_owned(),
            Self::Attended => "Attended".to_owned(),
            Self::Partly(present, parts) => format!("Attended {present} of {parts} parts"),
            Self::DidNotAttend => "Did not attend".to_owned(),
            Self::NotRecorded => "Register not taken".to_owned(),
        }
    }
}

/// Whether `actor` may read `user`'s record: the person, partnership admins, and leaders
/// of a school the person works at (`schools`).
#[must_use]
pub fn may_read_record(actor: &Actor, user: UserId, schools: &[SchoolId]) -> bool {
    if actor.can(Permission::ManageCatalogue) {
        return true;
    }
    actor.as_user().is_some_and(|me| {
        me.id == user
            || (actor.can(Permission::BookTraded) && schools.iter().any(|s| me.schools.contains(s)))
    })
}

/// The CPD record of `user`, for one academic year or every year. `NotFound` for a person
/// who does not exist or whose record the caller may not read.
pub async fn cpd_record(
    db: &DatabaseConnection,
    actor: &Actor,
    clock: &dyn Clock,
    user: UserId,
    year: Option<AcademicYear>,
) -> Result<CpdRecord, DomainError> {
    let not_found = || DomainError::NotFound { entity: "User" };
    let person = membership::people::users::by_ids(db, &[user])
        .await?
        .remove(&user)
        .ok_or_else(not_found)?;
    let schools = membership::people::users::schools_of(db, &[user])
        .await?
        .remove(&user)
        .unwrap_or_default();
    if !may_read_record(actor, user, &schools) {
        return Err(not_found());
    }
    let own = actor.as_user().is_some_and(|me| me.id == user);
    let places: Vec<Attendee> = attendees::Entity::find()
        .filter(attendees::Column::Email.eq(person.email.to_lowercase()))
        .filter(attendees::Column::SubstitutedAt.is_null())
        .all(db)
        .await?
        .into_iter()
        .map(Attendee::from_row)
        .collect::<Result<_, _>>()?;
    let booking_ids: Vec<BookingId> = places.iter().map(|a| a.booking_id).collect();
    let bookings = bookings_by_ids(db, &booking_ids).await?;
    // On a register, in the year asked for, and (for a leader) booked by a school they see.
    let places: Vec<(Attendee, crate::bookings::Booking)> = places
        .into_iter()
        .filter_map(|a| bookings.get(&a.booking_id).cloned().map(|b| (a, b)))
        .filter(|(_, b)| ON_REGISTER.contains(&b.status))
        .filter(|(_, b)| year.is_none_or(|y| b.academic_year == y))
        .filter(|(_, b)| own || may_read_bookings(actor, b.school_id))
        .collect();
    let session_ids: Vec<SessionId> = places.iter().map(|(a, _)| a.session_id).collect();
    let sessions = sessions_by_ids(db, &session_ids).await?;
    let service_ids: Vec<ServiceId> = places.iter().map(|(_, b)| b.service_id).collect();
    let services = services_by_ids(db, &service_ids).await?;
    let school_ids: Vec<SchoolId> = places.iter().map(|(_, b)| b.school_id).collect();
    let school_names = membership::school::names_by_ids(db, &school_ids).await?;
    let attendee_ids: Vec<AttendeeId> = places.iter().map(|(a, _)| a.id).collect();
    let marks = part_marks_of_attendees(db, &attendee_ids).await?;
    let now = clock.now();
    let mut entries = Vec::new();
    for (attendee, booking) in places {
        let (Some(session), Some(service)) = (
            sessions.get(&attendee.session_id),
            services.get(&booking.service_id),
        ) else {
            continue;
        };
        let present: Vec<usize> = marks
            .get(&attendee.id)
            .map_or(&[][..], Vec::as_slice)
            .iter()
            .filter(|(_, m)| *m == Attendance::Attended)
            .map(|(i, _)| *i)
            .collect();
        let parts = session.parts.len();
        let ended = now >= session.ends_at;
        let outcome = if !ended {
            Outcome::Booked
        } else if attendee.attendance.is_none() {
            Outcome::NotRecorded
        } else if present.is_empty() {
            Outcome::DidNotAttend
        } else if present.len() >= parts {
            Outcome::Attended
        } else {
            Outcome::Partly(present.len(), parts)
        };
        let certificate = (ended
            && service.category.certifies_attendance()
            && earns_certificate(&attendee, parts))
        .then(|| certificate_number(session, attendee.id));
        entries.push(CpdEntry {
            attendee_id: attendee.id,
            session_id: session.id,
            service_id: service.id,
            date: format::local_day(session.starts_at),
            service_code: service.code.clone(),
            service_title: service.title.clone(),
            category: category_label(service.category),
            provider_name: service.provider_name.clone(),
            school_name: school_names
                .get(&booking.school_id)
                .cloned()
                .unwrap_or_default(),
            outcome,
            minutes_attended: present
                .iter()
                .filter_map(|i| session.parts.get(*i))
                .map(crate::sessions::SessionPart::minutes)
                .sum(),
            certificate_number: certificate,
        });
    }
    entries.sort_by(|a, b| {
        (a.date, &a.service_title, a.attendee_id).cmp(&(b.date, &b.service_title, b.attendee_id))
    });
    Ok(CpdRecord {
        user_id: user,
        name: person.name,
        email: person.email,
        year,
        entries,
    })
}

impl CpdRecord {
    /// Hours of learning attended, in minutes.
    #[must_use]
    pub fn total_minutes(&self) -> i64 {
        self.entries.iter().map(|e| e.minutes_attended).sum()
    }

    /// One row per session (the CSV: ISO dates and whole minutes, as spreadsheets read them).
    #[must_use]
    pub fn table(&self) -> Table {
        self.rows(false)
    }

    /// The rows as a CSV reads them, or (`print`) as people read them on paper.
    fn rows(&self, print: bool) -> Table {
        let mut table = Table::new(vec![
            Column::text("Date", 1.3),
            Column::text("Course", 3.0),
            Column::text("Code", 1.0),
            Column::text("Type", 1.2),
            Column::text("Provider", 1.8),
            Column::text("School", 1.8),
            Column::text("Outcome", 1.4),
            Column::number(if print { "Time" } else { "Minutes" }, 0.9),
            Column::text("Certificate", 1.6),
        ]);
        for e in &self.entries {
            let (date, time) = if print {
                let time = if e.minutes_attended == 0 {
                    String::new()
                } else {
                    format::duration(e.minutes_attended)
                };
                (format::date(e.date), time)
            } else {
                (
                    e.date.format("%Y-%m-%d").to_string(),
                    e.minutes_attended.to_string(),
                )
            };
            table.row(vec![
                date,
                e.service_title.clone(),
                e.service_code.clone(),
                e.category.to_owned(),
                e.provider_name.clone(),
                e.school_name.clone(),
                e.outcome.label(),
                time,
                e.certificate_number.clone().unwrap_or_default(),
            ]);
        }
        table
    }

    #[must_use]
    pub fn csv(&self) -> Vec<u8> {
        self.table().csv()
    }

    #[must_use]
    pub fn pdf(&self) -> Vec<u8> {
        let mut doc = Document::new(format!("CPD record: {}", self.name), Orientation::Landscape)
            .footer(format!("CPD record of {} ({})", self.name, self.email));
        let attended = self
            .entries
            .iter()
            .filter(|e| e.minutes_attended > 0)
            .count();
        doc.push(Block::Facts(vec![
            ("Name".to_owned(), self.name.clone()),
            ("Email".to_owned(), self.email.clone()),
            (
                "Period".to_owned(),
                self.year
                    .map_or_else(|| "All years".to_owned(), |y| format!("Academic year {y}")),
            ),
            (
                "Learning".to_owned(),
                format!(
                    "{} attended at {attended} of {} sessions",
                    format::duration(self.total_minutes()),
                    self.entries.len()
                ),
            ),
        ]));
        let table = self.rows(true);
        doc.push(Block::Table(table));
        doc.pdf()
    }
}
