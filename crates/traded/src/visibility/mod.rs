//! Who may see and act on what in traded services ([`rules`]), and checked reads that answer
//! only what the caller may see: an id the caller may not see is left out exactly like an
//! unknown one.

use std::collections::HashMap;

use kernel::{
    Actor, AttendeeId, BookingId, DomainError, Permission, SchoolId, ServiceId, SessionId,
};
use sea_orm::DatabaseConnection;

use crate::bookings::{Attendee, Booking, attendees_by_ids, bookings_by_ids};
use crate::catalogue::{Service, services_by_ids};
use crate::sessions::{Session, sessions_by_ids};

pub mod rules;

pub use rules::{
    acts_for_provider, may_read_booking, may_read_bookings, may_see_service, provides_session,
};

/// Services the caller may see ([`may_see_service`]).
pub async fn visible_services(
    db: &DatabaseConnection,
    actor: &Actor,
    ids: &[ServiceId],
) -> Result<HashMap<ServiceId, Service>, DomainError> {
    if !actor.can(Permission::ReadCatalogue) {
        return Ok(HashMap::new());
    }
    let mut found = services_by_ids(db, ids).await?;
    found.retain(|_, s| may_see_service(actor, s.published));
    Ok(found)
}

/// Sessions of services the caller may see: two statements.
pub async fn visible_sessions(
    db: &DatabaseConnection,
    actor: &Actor,
    ids: &[SessionId],
) -> Result<HashMap<SessionId, Session>, DomainError> {
    if !actor.can(Permission::ReadCatalogue) {
        return Ok(HashMap::new());
    }
    let mut found = sessions_by_ids(db, ids).await?;
    let services: Vec<ServiceId> = found.values().map(|s| s.service_id).collect();
    let seen = visible_services(db, actor, &services).await?;
    found.retain(|_, s| seen.contains_key(&s.service_id));
    Ok(found)
}

/// Bookings the caller may read ([`may_read_booking`]): three statements.
pub async fn visible_bookings(
    db: &DatabaseConnection,
    actor: &Actor,
    ids: &[BookingId],
) -> Result<HashMap<BookingId, Booking>, DomainError> {
    let mut found = bookings_by_ids(db, ids).await?;
    // The provider is only asked about where the school's own rule does not answer.
    let undecided: Vec<SessionId> = found
        .values()
        .filter(|b| !may_read_bookings(actor, b.school_id))
        .map(|b| b.session_id)
        .collect();
    if undecided.is_empty() {
        return Ok(found);
    }
    let sessions = sessions_by_ids(db, &undecided).await?;
    let services: Vec<ServiceId> = sessions.values().map(|s| s.service_id).collect();
    let services = services_by_ids(db, &services).await?;
    found.retain(|_, b| {
        let provider = sessions
            .get(&b.session_id)
            .and_then(|s| services.get(&s.service_id))
            .map(|s| s.provider_school_id);
        match provider {
            Some(provider) => may_read_booking(actor, b.school_id, provider),
            None => may_read_bookings(actor, b.school_id),
        }
    });
    Ok(found)
}

/// Attendees of bookings the caller may read.
pub async fn visible_attendees(
    db: &DatabaseConnection,
    actor: &Actor,
    ids: &[AttendeeId],
) -> Result<HashMap<AttendeeId, Attendee>, DomainError> {
    let mut found = attendees_by_ids(db, ids).await?;
    let bookings: Vec<BookingId> = found.values().map(|a| a.booking_id).collect();
    let readable = visible_bookings(db, actor, &bookings).await?;
    found.retain(|_, a| readable.contains_key(&a.booking_id));
    Ok(found)
}

/// Each school's bookings in the order they were made, for the schools whose bookings the
/// caller may read ([`may_read_bookings`]); the others are left out.
pub async fn visible_bookings_of_schools(
    db: &DatabaseConnection,
    actor: &Actor,
    schools: &[SchoolId],
) -> Result<HashMap<SchoolId, Vec<Booking>>, DomainError> {
    let readable: Vec<SchoolId> = schools
        .iter()
        .copied()
        .filter(|s| may_read_bookings(actor, *s))
        .collect();
    if readable.is_empty() {
        return Ok(HashMap::new());
    }
    crate::bookings::bookings_of_schools(db, &readable).await
}
