//! Who may see and act on what in traded services: the rules every read and write here
//! applies, and the gateway asks instead of deciding for itself. They need nothing of this
//! crate but its types, so every module may ask them.

use kernel::{Actor, DomainError, Permission, SchoolId, SessionId};
use sea_orm::{ConnectionTrait, EntityTrait};

use crate::entity::{services, sessions};

/// Whether `actor` may see a service, `published` or not: published ones are for every
/// reader of the catalogue, drafts for those who manage it.
#[must_use]
pub fn may_see_service(actor: &Actor, published: bool) -> bool {
    actor.can(Permission::ReadCatalogue) && (published || actor.can(Permission::ManageCatalogue))
}

/// Whether `actor` may read `school`'s bookings: partnership staff and Trellis itself see
/// every school's, school roles their own schools', keys none (bookings name people).
#[must_use]
pub fn may_read_bookings(actor: &Actor, school: SchoolId) -> bool {
    match actor {
        Actor::User(_) | Actor::System => actor.may_see_school_records(school),
        Actor::ApiKey(_) => false,
    }
}

/// Whether `actor` may read a booking of `school` on a session whose service `provider_school`
/// provides (`None` for partnership staff): the booking school's people and partnership staff
/// ([`may_read_bookings`]), and whoever acts for the provider ([`acts_for_provider`]), who
/// takes its register.
#[must_use]
pub fn may_read_booking(
    actor: &Actor,
    school: SchoolId,
    provider_school: Option<SchoolId>,
) -> bool {
    may_read_bookings(actor, school) || acts_for_provider(actor, provider_school)
}

/// Whether `actor` acts for the provider of a session: partnership admins for every session,
/// a providing school's leaders for the sessions of their school's services.
#[must_use]
pub fn acts_for_provider(actor: &Actor, provider_school: Option<SchoolId>) -> bool {
    if actor.can(Permission::ManageCatalogue) {
        return true;
    }
    match (actor, provider_school) {
        (Actor::User(user), Some(school)) => {
            actor.can(Permission::RecordAttendance) && user.schools.contains(&school)
        }
        _ => false,
    }
}

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
