//! The attendance register of a session, taken by its provider, and the certificates of
//! participation it earns.

use chrono::{DateTime, NaiveDate, Utc};
use kernel::BeginWrite as _;
use kernel::{
    Actor, AttendeeId, BookingId, Clock, DomainError, ErrorCode, Permission, Problems, SchoolId,
    ServiceId, SessionId,
};
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait, QueryFilter, QueryOrder,
};
use serde::Serialize;

use crate::bookings::{Attendee, Booking};
use crate::catalogue::Service;
use crate::entity::{attendees, bookings, services, sessions};
use crate::sessions::Session;
use crate::support::{acts_for_provider, may_read_bookings, recorder};
use crate::types::{Attendance, BookingStatus, Category, SessionStatus};

/// The school providing the session's service (`None` for partnership staff), if the
/// session exists.
pub(crate) async fn provider_of<C: ConnectionTrait>(
    db: &C,
    session: SessionId,
) -> Result<Option<Option<SchoolId>>, DomainError> {
    let Some(row) = sessions::Entity::find_by_id(session.as_uuid())
        .one(db)
        .await?
    else {
        return Ok(None);
    };
    Ok(services::Entity::find_by_id(row.service_id)
        .one(db)
        .await?
        .map(|s| s.provider_school_id.map(SchoolId::from_uuid)))
}

/// Whether `actor` provides `session`: partnership admins every session, a providing
/// school's leaders their school's.
pub async fn provides_session<C: ConnectionTrait>(
    db: &C,
    actor: &Actor,
    session: SessionId,
) -> Result<bool, DomainError> {
    Ok(match provider_of(db, session).await? {
        Some(provider) => acts_for_provider(actor, provider),
        None => false,
    })
}

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
    /// The days of the parts, in order.
    pub dates: Vec<NaiveDate>,
    /// Hours of learning, in minutes (the parts' total length).
    pub minutes: i64,
    /// When the register recorded the attendance.
    pub issued_at: DateTime<Utc>,
}

/// Booking statuses whose attendees are on the register: they hold places.
const ON_REGISTER: [BookingStatus; 4] = [
    BookingStatus::PendingPayment,
    BookingStatus::Confirmed,
    BookingStatus::Attended,
    BookingStatus::NoShow,
];

/// Whether `actor` may see a session's register: its provider and partnership staff.
async fn may_see_register<C: ConnectionTrait>(
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

/// The register of a session: every attendee holding a place, by booking. Its provider and
/// partnership staff; `NotFound` for anyone else.
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
    Ok(on
        .into_iter()
        .flat_map(|b| {
            people
                .remove(&b.id)
                .unwrap_or_default()
                .into_iter()
                .map(move |attendee| RegisterLine {
                    attendee,
                    booking_id: b.id,
                    school_id: b.school_id,
                    booking_status: b.status,
                })
        })
        .collect())
}

/// Takes (or corrects) the register of a session once it has started: its provider —
/// partnership admins, or the leaders of the school providing it. A booking whose attendees
/// are all marked becomes ATTENDED when anyone came and NO_SHOW when nobody did. Returns the
/// bookings whose status changed.
pub async fn mark_attendance(
    db: &DatabaseConnection,
    actor: &Actor,
    clock: &dyn Clock,
    session: SessionId,
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
    let mut problems = Problems::new();
    if row.status == SessionStatus::Cancelled.as_str() {
        problems.add(
            "sessionId",
            ErrorCode::Conflict,
            "the session was cancelled",
        );
    } else if now < row.starts_at {
        problems.add(
            "sessionId",
            ErrorCode::Conflict,
            "the register is taken once the session has started",
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
    problems.finish()?;

    let txn = db.begin_write().await?;
    for mark in marks {
        attendees::Entity::update_many()
            .col_expr(
                attendees::Column::Attendance,
                Expr::value(mark.attendance.as_str()),
            )
            .col_expr(attendees::Column::AttendanceMarkedAt, Expr::value(now))
            .col_expr(
                attendees::Column::AttendanceMarkedBy,
                Expr::value(recorder(actor).map(|u| u.as_uuid())),
            )
            .col_expr(attendees::Column::UpdatedAt, Expr::value(now))
            .filter(attendees::Column::Id.eq(mark.attendee_id.as_uuid()))
            .exec(&txn)
            .await?;
    }
    let touched: Vec<BookingId> = register
        .iter()
        .filter(|l| seen.contains(&l.attendee.id))
        .map(|l| l.booking_id)
        .collect();
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
    txn.commit().await?;
    let mut found = crate::bookings::bookings_by_ids(db, &changed).await?;
    Ok(changed.iter().filter_map(|id| found.remove(id)).collect())
}

fn certificate_number(session: &Session, attendee: AttendeeId) -> String {
    let simple = attendee.as_uuid().simple().to_string().to_uppercase();
    // The last twelve hex digits of a UUIDv7 are random: no two attendees share them in
    // practice, and the year makes the number readable.
    format!(
        "TRL-{}-{}",
        session.academic_year.start_year(),
        &simple[simple.len() - 12..]
    )
}

/// The certificates of participation of a session: one per ATTENDED attendee, for learning
/// (courses, conferences, governor training, ECT induction). Visible to the session's
/// provider and partnership staff (every attendee), and to each booking school's people
/// (their own attendees).
pub async fn certificates(
    db: &DatabaseConnection,
    actor: &Actor,
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
    if !service.category.certifies_attendance() {
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
    let dates: Vec<NaiveDate> = {
        let mut d: Vec<NaiveDate> = session_full
            .parts
            .iter()
            .map(|p| p.starts_at.date_naive())
            .collect();
        d.dedup();
        d
    };
    let mut out = Vec::new();
    for booking in &attended {
        for a in people.get(&booking.id).map_or(&[][..], Vec::as_slice) {
            if a.attendance != Some(Attendance::Attended) {
                continue;
            }
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
                dates: dates.clone(),
                minutes: session_full.minutes(),
                issued_at: a.attendance_marked_at.unwrap_or(session_full.ends_at),
            });
        }
    }
    Ok(out)
}

/// One attendee's certificate, if they attended a course and the actor may see it.
pub async fn certificate(
    db: &DatabaseConnection,
    actor: &Actor,
    attendee: AttendeeId,
) -> Result<Certificate, DomainError> {
    let not_found = || DomainError::NotFound {
        entity: "Certificate",
    };
    let row = attendees::Entity::find_by_id(attendee.as_uuid())
        .one(db)
        .await?
        .ok_or_else(not_found)?;
    certificates(db, actor, SessionId::from_uuid(row.session_id))
        .await?
        .into_iter()
        .find(|c| c.attendee_id == attendee)
        .ok_or_else(not_found)
}
