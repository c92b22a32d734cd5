//! The attendance register of a session, taken by its provider part by part, and the
//! certificates of participation it earns.
//!
//! The register holds one mark per attendee and session part (`traded_attendance_parts`):
//! a two-day course is marked on each day, once that day has started. The attendee row keeps
//! a summary every reader uses — ATTENDED once present at any part, NO_SHOW when absent at
//! every part marked — and the number of parts they were present at. A certificate of
//! participation is issued once the session's last part has ended, to attendees marked
//! present at every part; it states the days and hours of those parts.

use chrono::{DateTime, NaiveDate, Utc};
use kernel::BeginWrite as _;
use kernel::{
    Actor, AttendeeId, BookingId, Clock, DomainError, ErrorCode, Permission, Problems, SchoolId,
    ServiceId, SessionId,
};
use sea_orm::ActiveValue::Set;
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait, QueryFilter, QueryOrder,
};
use serde::Serialize;
use std::collections::HashMap;

use crate::bookings::{Attendee, Booking};
use crate::catalogue::Service;
use crate::entity::{attendance_parts, attendees, bookings, services, sessions};
use crate::history::{Action, audit_many, snapshots};
use crate::sessions::Session;
use crate::support::{recorder, stored};
use crate::types::{Attendance, BookingStatus, Category, SessionStatus};
use crate::visibility::rules::{
    acts_for_provider, may_read_bookings, provider_of, provides_session,
};

/// One attendee's mark on the register.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AttendanceMark {
    pub attendee_id: AttendeeId,
    pub attendance: Attendance,
}

/// One line of a session's register: a person with a place, and whose booking it is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RegisterLine {
    pub attendee: Attendee,
    /// The attendee's mark at each part of the session, in part order; `None` where that
    /// part is not marked yet.
    pub parts: Vec<Option<Attendance>>,
    pub booking_id: BookingId,
    pub school_id: SchoolId,
    pub booking_status: BookingStatus,
}

/// A certificate of participation: what the downloadable document states.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Certificate {
    /// `TRL-<year>-<12 characters>`: unique per attendee, and the same every time it is
    /// produced, so a reprint is the same certificate.
    pub number: String,
    pub attendee_id: AttendeeId,
    pub attendee_name: String,
    pub school_id: SchoolId,
    pub service_id: ServiceId,
    pub service_code: String,
    pub service_title: String,
    pub category: Category,
    pub provider_name: String,
    pub session_id: SessionId,
    /// The days of the parts attended, in order.
    pub dates: Vec<NaiveDate>,
    /// Hours of learning, in minutes: the total length of the parts attended.
    pub minutes: i64,
    /// When it was earned: the end of the session's last part, or the register's last mark
    /// for the attendee if that came later.
    pub issued_at: DateTime<Utc>,
}

/// Booking statuses whose attendees are on the register: they hold places.
pub(crate) const ON_REGISTER: [BookingStatus; 4] = [
    BookingStatus::PendingPayment,
    BookingStatus::Confirmed,
    BookingStatus::Attended,
    BookingStatus::NoShow,
];

/// Whether `actor` may see a session's register: its provider and partnership staff.
pub(crate) async fn may_see_register<C: ConnectionTrait>(
    db: &C,
    actor: &Actor,
    session: SessionId,
) -> Result<bool, DomainError> {
    let staff = matches!(actor, Actor::System)
        || actor
            .as_user()
            .is_some_and(|u| u.role.is_partnership_staff());
    Ok(staff || provides_session(db, actor, session).await?)
}

/// The register of a session: every attendee holding a place, by booking, with their mark
/// at each part. Its provider and partnership staff; `NotFound` for anyone else.
pub async fn register(
    db: &DatabaseConnection,
    actor: &Actor,
    session: SessionId,
) -> Result<Vec<RegisterLine>, DomainError> {
    if provider_of(db, session).await?.is_none() || !may_see_register(db, actor, session).await? {
        return Err(DomainError::NotFound {
            entity: "TradedSession",
        });
    }
    let Some(row) = sessions::Entity::find_by_id(session.as_uuid())
        .one(db)
        .await?
    else {
        return Err(DomainError::NotFound {
            entity: "TradedSession",
        });
    };
    let part_count = Session::from_row(row)?.parts.len();
    let on = bookings::Entity::find()
        .filter(bookings::Column::SessionId.eq(session.as_uuid()))
        .filter(bookings::Column::Status.is_in(ON_REGISTER.iter().map(|s| s.as_str())))
        .order_by_asc(bookings::Column::Id)
        .all(db)
        .await?
        .into_iter()
        .map(Booking::from_row)
        .collect::<Result<Vec<_>, _>>()?;
    let ids: Vec<BookingId> = on.iter().map(|b| b.id).collect();
    let mut people = crate::bookings::attendees_of_bookings(db, &ids).await?;
    let mut marks = part_marks_of_session(db, session).await?;
    Ok(on
        .into_iter()
        .flat_map(|b| {
            people
                .remove(&b.id)
                .unwrap_or_default()
                .into_iter()
                .map(|attendee| {
                    let mut parts = vec![None; part_count];
                    for (part, mark) in marks.remove(&attendee.id).unwrap_or_default() {
                        if let Some(slot) = parts.get_mut(part) {
                            *slot = Some(mark);
                        }
                    }
                    RegisterLine {
                        attendee,
                        parts,
                        booking_id: b.id,
                        school_id: b.school_id,
                        booking_status: b.status,
                    }
                })
                .collect::<Vec<_>>()
        })
        .collect())
}

/// Every per-part mark of a session (one statement): by attendee, `(part index, mark)`.
async fn part_marks_of_session<C: ConnectionTrait>(
    db: &C,
    session: SessionId,
) -> Result<HashMap<AttendeeId, Vec<(usize, Attendance)>>, DomainError> {
    part_marks(
        db,
        attendance_parts::Column::SessionId.eq(session.as_uuid()),
    )
    .await
}

/// Every per-part mark of some attendees (one statement), as [`part_marks_of_session`].
pub(crate) async fn part_marks_of_attendees<C: ConnectionTrait>(
    db: &C,
    ids: &[AttendeeId],
) -> Result<HashMap<AttendeeId, Vec<(usize, Attendance)>>, DomainError> {
    part_marks(
        db,
        attendance_parts::Column::AttendeeId.is_in(ids.iter().map(AttendeeId::as_uuid)),
    )
    .await
}

async fn part_marks<C: ConnectionTrait>(
    db: &C,
    which: sea_orm::sea_query::SimpleExpr,
) -> Result<HashMap<AttendeeId, Vec<(usize, Attendance)>>, DomainError> {
    let rows = attendance_parts::Entity::find()
        .filter(which)
        .order_by_asc(attendance_parts::Column::AttendeeId)
        .order_by_asc(attendance_parts::Column::Part)
        .all(db)
        .await?;
    let mut out: HashMap<AttendeeId, Vec<(usize, Attendance)>> = HashMap::new();
    for row in rows {
        let mark = stored::<Attendance>("attendance", &row.attendance)?;
        out.entry(AttendeeId::from_uuid(row.attendee_id))
            .or_default()
            .push((usize::try_from(row.part).unwrap_or(usize::MAX), mark));
    }
    Ok(out)
}

/// Takes (or corrects) the register of one part of a session once that part has started:
/// its provider — partnership admins, or the leaders of the school providing it. `part` is
/// the 0-based index of the part; it may be omitted for a session of one part (clients from
/// before registers per part keep working), and is required otherwise (`part`, REQUIRED).
/// A part that has not started is refused (`part`, CONFLICT; `sessionId` when the part was
/// implied). Each attendee's summary follows the parts marked so far: ATTENDED once present
/// at any part, NO_SHOW when absent at every part marked. A booking whose attendees all
/// have a summary becomes ATTENDED when anyone came and NO_SHOW when nobody did. Returns
/// the bookings whose status changed.
pub async fn mark_attendance(
    db: &DatabaseConnection,
    actor: &Actor,
    clock: &dyn Clock,
    session: SessionId,
    part: Option<usize>,
    marks: &[AttendanceMark],
) -> Result<Vec<Booking>, DomainError> {
    actor.require(Permission::RecordAttendance)?;
    let Some(provider) = provider_of(db, session).await? else {
        return Err(DomainError::NotFound {
            entity: "TradedSession",
        });
    };
    if !acts_for_provider(actor, provider) {
        return Err(DomainError::Forbidden(
            "only the session's provider takes its register".to_owned(),
        ));
    }
    let now = clock.now();
    let row = sessions::Entity::find_by_id(session.as_uuid())
        .one(db)
        .await?
        .ok_or(DomainError::NotFound {
            entity: "TradedSession",
        })?;
    let cancelled = row.status == SessionStatus::Cancelled.as_str();
    let full = Session::from_row(row)?;
    let mut problems = Problems::new();
    let index = match part {
        Some(i) if i >= full.parts.len() => {
            problems.add(
                "part",
                ErrorCode::NotFound,
                format!(
                    "the session has {} part(s), numbered from 0",
                    full.parts.len()
                ),
            );
            None
        }
        Some(i) => Some(i),
        None if full.parts.len() == 1 => Some(0),
        None => {
            problems.add(
                "part",
                ErrorCode::Required,
                "say which part of the session this register is for",
            );
            None
        }
    };
    if cancelled {
        problems.add(
            "sessionId",
            ErrorCode::Conflict,
            "the session was cancelled",
        );
    } else if let Some(i) = index
        && now < full.parts[i].starts_at
    {
        problems.add(
            if part.is_some() { "part" } else { "sessionId" },
            ErrorCode::Conflict,
            "the register of a part is taken once that part has started",
        );
    }
    if marks.is_empty() {
        problems.add("marks", ErrorCode::Required, "mark at least one attendee");
    }
    let register = register(db, actor, session).await?;
    let mut seen = Vec::new();
    for (i, mark) in marks.iter().enumerate() {
        if seen.contains(&mark.attendee_id) {
            problems.add(
                &format!("marks.{i}.attendeeId"),
                ErrorCode::Taken,
                "this attendee is marked twice",
            );
        }
        seen.push(mark.attendee_id);
        if !register.iter().any(|l| l.attendee.id == mark.attendee_id) {
            problems.add(
                &format!("marks.{i}.attendeeId"),
                ErrorCode::NotFound,
                "no such attendee on this session's register",
            );
        }
    }
    let index = problems.finish_with(index)?;
    let part_no = i32::try_from(index).unwrap_or(i32::MAX);
    let by = recorder(actor).map(|u| u.as_uuid());
    let touched: Vec<BookingId> = register
        .iter()
        .filter(|l| seen.contains(&l.attendee.id))
        .map(|l| l.booking_id)
        .collect();
    // One trail entry per booking whose attendees were marked, however many of them.
    let mut marked_bookings = touched.clone();
    marked_bookings.sort_unstable();
    marked_bookings.dedup();

    let txn = db.begin_write().await?;
    let before = snapshots(&txn, &marked_bookings).await?;
    // The part's marks for these attendees are replaced: marking again corrects.
    attendance_parts::Entity::delete_many()
        .filter(attendance_parts::Column::Part.eq(part_no))
        .filter(attendance_parts::Column::AttendeeId.is_in(seen.iter().map(AttendeeId::as_uuid)))
        .exec(&txn)
        .await?;
    attendance_parts::Entity::insert_many(marks.iter().map(|mark| attendance_parts::ActiveModel {
        attendee_id: Set(mark.attendee_id.as_uuid()),
        part: Set(part_no),
        session_id: Set(session.as_uuid()),
        attendance: Set(mark.attendance.as_str().to_owned()),
        marked_at: Set(now),
        marked_by: Set(by),
    }))
    .exec_without_returning(&txn)
    .await?;
    let all_marks = part_marks_of_session(&txn, session).await?;
    for mark in marks {
        let theirs = all_marks
            .get(&mark.attendee_id)
            .map_or(&[][..], Vec::as_slice);
        let present = theirs
            .iter()
            .filter(|(_, a)| *a == Attendance::Attended)
            .count();
        let summary = if present > 0 {
            Attendance::Attended
        } else {
            Attendance::NoShow
        };
        attendees::Entity::update_many()
            .col_expr(attendees::Column::Attendance, Expr::value(summary.as_str()))
            .col_expr(
                attendees::Column::PartsAttended,
                Expr::value(i32::try_from(present).unwrap_or(i32::MAX)),
            )
            .col_expr(attendees::Column::AttendanceMarkedAt, Expr::value(now))
            .col_expr(attendees::Column::AttendanceMarkedBy, Expr::value(by))
            .col_expr(attendees::Column::UpdatedAt, Expr::value(now))
            .filter(attendees::Column::Id.eq(mark.attendee_id.as_uuid()))
            .exec(&txn)
            .await?;
    }
    let people = crate::bookings::attendees_of_bookings(&txn, &touched).await?;
    let mut changed = Vec::new();
    for line in register.iter().filter(|l| touched.contains(&l.booking_id)) {
        if changed.contains(&line.booking_id)
            || !matches!(
                line.booking_status,
                BookingStatus::Confirmed | BookingStatus::Attended | BookingStatus::NoShow
            )
        {
            continue;
        }
        let list = people.get(&line.booking_id).map_or(&[][..], Vec::as_slice);
        if list.iter().any(|a| a.attendance.is_none()) {
            continue;
        }
        let derived = if list
            .iter()
            .any(|a| a.attendance == Some(Attendance::Attended))
        {
            BookingStatus::Attended
        } else {
            BookingStatus::NoShow
        };
        if derived != line.booking_status {
            bookings::Entity::update_many()
                .col_expr(bookings::Column::Status, Expr::value(derived.as_str()))
                .col_expr(bookings::Column::UpdatedAt, Expr::value(now))
                .col_expr(
                    bookings::Column::Version,
                    Expr::col(bookings::Column::Version).add(1),
                )
                .filter(bookings::Column::Id.eq(line.booking_id.as_uuid()))
                .exec(&txn)
                .await?;
            changed.push(line.booking_id);
        }
    }
    audit_many(&txn, actor, clock, Action::Attendance, &before).await?;
    txn.commit().await?;
    let mut found = crate::bookings::bookings_by_ids(db, &changed).await?;
    Ok(changed.iter().filter_map(|id| found.remove(id)).collect())
}

pub(crate) fn certificate_number(session: &Session, attendee: AttendeeId) -> String {
    let simple = attendee.as_uuid().simple().to_string().to_uppercase();
    // The last twelve hex digits of a UUIDv7 are random: no two attendees share them in
    // practice, and the year makes the number readable.
    format!(
        "TRL-{}-{}",
        session.academic_year.start_year(),
        &simple[simple.len() - 12..]
    )
}

/// The certificates of participation of a session, for learning (courses, conferences,
/// governor training, ECT induction): none before the session's last part has ended, then
/// one per attendee the register marked present at every part. Visible to the session's
/// provider and partnership staff (every attendee), and to each booking school's people
/// (their own attendees).
pub async fn certificates(
    db: &DatabaseConnection,
    actor: &Actor,
    clock: &dyn Clock,
    session: SessionId,
) -> Result<Vec<Certificate>, DomainError> {
    let Some(row) = sessions::Entity::find_by_id(session.as_uuid())
        .one(db)
        .await?
    else {
        return Err(DomainError::NotFound {
            entity: "TradedSession",
        });
    };
    let session_full = Session::from_row(row)?;
    let service = services::Entity::find_by_id(session_full.service_id.as_uuid())
        .one(db)
        .await?
        .map(Service::from_row)
        .transpose()?
        .ok_or(DomainError::NotFound {
            entity: "TradedService",
        })?;
    if !service.category.certifies_attendance() || clock.now() < session_full.ends_at {
        return Ok(Vec::new());
    }
    let sees_all = may_see_register(db, actor, session).await?;
    let attended = bookings::Entity::find()
        .filter(bookings::Column::SessionId.eq(session.as_uuid()))
        .filter(bookings::Column::Status.eq(BookingStatus::Attended.as_str()))
        .order_by_asc(bookings::Column::Id)
        .all(db)
        .await?
        .into_iter()
        .map(Booking::from_row)
        .collect::<Result<Vec<_>, _>>()?
        .into_iter()
        .filter(|b| sees_all || may_read_bookings(actor, b.school_id))
        .collect::<Vec<_>>();
    let ids: Vec<BookingId> = attended.iter().map(|b| b.id).collect();
    let people = crate::bookings::attendees_of_bookings(db, &ids).await?;
    let marks = part_marks_of_session(db, session).await?;
    let mut out = Vec::new();
    for booking in &attended {
        for a in people.get(&booking.id).map_or(&[][..], Vec::as_slice) {
            if !earns_certificate(a, session_full.parts.len()) {
                continue;
            }
            let present: Vec<&crate::sessions::SessionPart> = marks
                .get(&a.id)
                .map_or(&[][..], Vec::as_slice)
                .iter()
                .filter(|(_, mark)| *mark == Attendance::Attended)
                .filter_map(|(i, _)| session_full.parts.get(*i))
                .collect();
            let mut dates: Vec<NaiveDate> =
                present.iter().map(|p| p.starts_at.date_naive()).collect();
            dates.dedup();
            out.push(Certificate {
                number: certificate_number(&session_full, a.id),
                attendee_id: a.id,
                attendee_name: a.name.clone(),
                school_id: booking.school_id,
                service_id: service.id,
                service_code: service.code.clone(),
                service_title: service.title.clone(),
                category: service.category,
                provider_name: service.provider_name.clone(),
                session_id: session,
                dates,
                minutes: present.iter().map(|p| p.minutes()).sum(),
                issued_at: a.attendance_marked_at.map_or(session_full.ends_at, |at| {
                    Ord::max(at, session_full.ends_at)
                }),
            });
        }
    }
    Ok(out)
}

/// Whether an attendee's register earns a certificate of a session of `parts` parts: marked
/// present at every part. (Callers also check the session has ended and certifies.)
#[must_use]
pub fn earns_certificate(attendee: &Attendee, parts: usize) -> bool {
    attendee.attendance == Some(Attendance::Attended)
        && usize::try_from(attendee.parts_attended).is_ok_and(|n| n >= parts)
}

/// One attendee's certificate, if they earned one on a course and the actor may see it.
pub async fn certificate(
    db: &DatabaseConnection,
    actor: &Actor,
    clock: &dyn Clock,
    attendee: AttendeeId,
) -> Result<Certificate, DomainError> {
    let not_found = || DomainError::NotFound {
        entity: "Certificate",
    };
    let row = attendees::Entity::find_by_id(attendee.as_uuid())
        .one(db)
        .await?
        .ok_or_else(not_found)?;
    certificates(db, actor, clock, SessionId::from_uuid(row.session_id))
        .await?
        .into_iter()
        .find(|c| c.attendee_id == attendee)
        .ok_or_else(not_found)
}
