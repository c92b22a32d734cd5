//! The attendance register of a session, taken by its provider, and the certificates of
//! participation it earns.

use kernel::{Actor, DomainError, SchoolId, SessionId};
use sea_orm::{ConnectionTrait, EntityTrait};

use crate::entity::{services, sessions};
use crate::support::acts_for_provider;

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
