//! Feedback after a session: a rating from 1 to 5 and a comment, once per attendee who came,
//! given by the booking school; aggregated per service for the catalogue.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use kernel::{
    Actor, AttendeeId, BookingId, Clock, DomainError, ErrorCode, FeedbackId, Permission, Problems,
    SchoolId, ServiceId, SessionId,
};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait, QueryFilter,
    QueryOrder, QuerySelect, Set,
};
use serde::Serialize;

use crate::entity::{attendees, bookings, feedback};
use crate::support::{is_unique_violation, optional_text, recorder, require_for_school};
use crate::types::Attendance;

const COMMENT_MAX: usize = 2000;

/// One attendee's feedback.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Feedback {
    pub id: FeedbackId,
    pub attendee_id: AttendeeId,
    pub booking_id: BookingId,
    pub session_id: SessionId,
    pub service_id: ServiceId,
    pub school_id: SchoolId,
    /// 1 to 5.
    pub rating: u8,
    pub comment: Option<String>,
    pub created_at: DateTime<Utc>,
}

impl Feedback {
    fn from_row(row: feedback::Model) -> Self {
        Self {
            id: FeedbackId::from_uuid(row.id),
            attendee_id: AttendeeId::from_uuid(row.attendee_id),
            booking_id: BookingId::from_uuid(row.booking_id),
            session_id: SessionId::from_uuid(row.session_id),
            service_id: ServiceId::from_uuid(row.service_id),
            school_id: SchoolId::from_uuid(row.school_id),
            rating: u8::try_from(row.rating).unwrap_or(0),
            comment: row.comment,
            created_at: row.created_at,
        }
    }
}

/// Feedback to give.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewFeedback {
    pub attendee_id: AttendeeId,
    pub rating: u8,
    pub comment: Option<String>,
}

/// A service's ratings: count and total, so callers average without floating-point sums.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct RatingSummary {
    pub count: u32,
    pub total: u32,
}

impl RatingSummary {
    /// The mean rating, `None` before anyone rated.
    #[must_use]
    pub fn average(&self) -> Option<f64> {
        (self.count > 0).then(|| f64::from(self.total) / f64::from(self.count))
    }
}

/// Gives feedback for an attendee who came: the booking school's people (leader or staff),
/// once per attendee.
pub async fn give_feedback(
    db: &DatabaseConnection,
    actor: &Actor,
    clock: &dyn Clock,
    input: NewFeedback,
) -> Result<Feedback, DomainError> {
    let not_found = || DomainError::NotFound {
        entity: "BookingAttendee",
    };
    actor.require(Permission::RequestBooking)?;
    let attendee = attendees::Entity::find_by_id(input.attendee_id.as_uuid())
        .one(db)
        .await?
        .ok_or_else(not_found)?;
    let booking = bookings::Entity::find_by_id(attendee.booking_id)
        .one(db)
        .await?
        .ok_or_else(not_found)?;
    require_for_school(
        actor,
        Permission::RequestBooking,
        SchoolId::from_uuid(booking.school_id),
    )
    .map_err(|e| match e {
        DomainError::NotFound { .. } => not_found(),
        other => other,
    })?;
    let mut problems = Problems::new();
    if !(1..=5).contains(&input.rating) {
        problems.add("rating", ErrorCode::OutOfRange, "must be between 1 and 5");
    }
    let comment = problems.check(optional_text(
        "comment",
        input.comment.as_deref(),
        COMMENT_MAX,
    ));
    if attendee.attendance.as_deref() != Some(Attendance::Attended.as_str()) {
        problems.add(
            "attendeeId",
            ErrorCode::Conflict,
            "feedback is given after attending, once the register says so",
        );
    }
    if feedback::Entity::find()
        .filter(feedback::Column::AttendeeId.eq(attendee.id))
        .one(db)
        .await?
        .is_some()
    {
        problems.add(
            "attendeeId",
            ErrorCode::Taken,
            "feedback was already given for this attendee",
        );
    }
    problems.finish()?;
    let inserted = feedback::ActiveModel {
        id: Set(FeedbackId::new().as_uuid()),
        attendee_id: Set(attendee.id),
        booking_id: Set(booking.id),
        session_id: Set(booking.session_id),
        service_id: Set(booking.service_id),
        school_id: Set(booking.school_id),
        rating: Set(i32::from(input.rating)),
        comment: Set(comment.flatten()),
        submitted_by: Set(recorder(actor).map(|u| u.as_uuid())),
        created_at: Set(clock.now()),
    }
    .insert(db)
    .await;
    match inserted {
        Ok(row) => Ok(Feedback::from_row(row)),
        Err(err) if is_unique_violation(&err) => Err(DomainError::invalid(
            "attendeeId",
            ErrorCode::Taken,
            "feedback was already given for this attendee",
        )),
        Err(err) => Err(err.into()),
    }
}

/// Each service's rating summary (one grouped statement). Services nobody rated are absent.
pub async fn ratings_of_services<C: ConnectionTrait>(
    db: &C,
    ids: &[ServiceId],
) -> Result<HashMap<ServiceId, RatingSummary>, DomainError> {
    let rows: Vec<(uuid::Uuid, i64, i64)> = feedback::Entity::find()
        .select_only()
        .column(feedback::Column::ServiceId)
        .column_as(Expr::cust("CAST(COUNT(*) AS BIGINT)"), "n")
        .column_as(Expr::cust("CAST(SUM(rating) AS BIGINT)"), "total")
        .filter(feedback::Column::ServiceId.is_in(ids.iter().map(ServiceId::as_uuid)))
        .group_by(feedback::Column::ServiceId)
        .into_tuple()
        .all(db)
        .await?;
    Ok(rows
        .into_iter()
        .map(|(service, n, total)| {
            (
                ServiceId::from_uuid(service),
                RatingSummary {
                    count: u32::try_from(n).unwrap_or(0),
                    total: u32::try_from(total).unwrap_or(0),
                },
            )
        })
        .collect())
}

/// Each session's feedback, oldest first (one statement). Comments name no one, but they are
/// the booking schools' words: the gateway shows them to the provider and partnership staff.
pub async fn feedback_of_sessions<C: ConnectionTrait>(
    db: &C,
    ids: &[SessionId],
) -> Result<HashMap<SessionId, Vec<Feedback>>, DomainError> {
    let rows = feedback::Entity::find()
        .filter(feedback::Column::SessionId.is_in(ids.iter().map(SessionId::as_uuid)))
        .order_by_asc(feedback::Column::Id)
        .all(db)
        .await?;
    let mut out: HashMap<SessionId, Vec<Feedback>> = HashMap::new();
    for row in rows {
        let f = Feedback::from_row(row);
        out.entry(f.session_id).or_default().push(f);
    }
    Ok(out)
}
