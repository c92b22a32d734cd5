//! Who is calling: from an `Authorization` header to a [`kernel::Actor`].
//!
//! Two kinds of bearer credential arrive: API keys (`trl_…`) and JWTs. A JWT only says who
//! the caller is; their role and schools always come from Trellis's users table, and an
//! inactive or unknown user is refused even with a valid signature. On PostgreSQL what the
//! users table said is kept between requests until it changes ([`cache`]).

pub mod cache;
pub mod listen;
pub mod token;

use std::sync::Arc;

use cache::{ActorCache, Key};
use http::HeaderMap;
use kernel::{Actor, Clock, UserId};
use membership::people::{KeyCheck, Lookup, api_keys, users};
use sea_orm::DatabaseConnection;

pub use token::{OidcConfig, TokenError, TokenVerifier};

/// Why a request was not authenticated. Every variant is the caller's to fix except
/// [`AuthError::Unavailable`].
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    #[error("authentication required: send `Authorization: Bearer <token or API key>`")]
    Missing,
    #[error("the Authorization header must be `Bearer <token or API key>`")]
    Malformed,
    #[error("the API key is not recognised")]
    UnknownKey,
    #[error("the API key has been revoked")]
    RevokedKey,
    #[error("the token was refused: {0}")]
    Token(TokenError),
    #[error("no active Trellis user matches this token")]
    UnknownUser,
    #[error("sign-in is temporarily unavailable")]
    Unavailable(String),
}

/// Authenticates requests against the database and the token verifier.
#[derive(Clone, Debug)]
pub struct Authenticator {
    pub db: DatabaseConnection,
    pub verifier: TokenVerifier,
    pub clock: Arc<dyn Clock>,
    /// Signed-in users' role and schools, kept until the database says they changed.
    pub users: Arc<ActorCache>,
}

impl Authenticator {
    /// The actor for a request's headers.
    pub async fn authenticate(&self, headers: &HeaderMap) -> Result<Actor, AuthError> {
        let Some(value) = headers.get(http::header::AUTHORIZATION) else {
            return Err(AuthError::Missing);
        };
        let value = value.to_str().map_err(|_| AuthError::Malformed)?;
        let (scheme, credential) = value.split_once(' ').ok_or(AuthError::Malformed)?;
        if !scheme.eq_ignore_ascii_case("bearer") || credential.trim().is_empty() {
            return Err(AuthError::Malformed);
        }
        let credential = credential.trim();
        if credential.starts_with(api_keys::KEY_PREFIX) {
            return match api_keys::authenticate(&self.db, self.clock.as_ref(), credential).await {
                Ok(KeyCheck::Valid(key)) => Ok(Actor::ApiKey(key)),
                Ok(KeyCheck::Revoked) => Err(AuthError::RevokedKey),
                Ok(KeyCheck::Unknown) => Err(AuthError::UnknownKey),
                Err(e) => Err(AuthError::Unavailable(e.chain())),
            };
        }
        let subject = self.verifier.verify(credential).await.map_err(|e| {
            if e.is_client_fault() {
                AuthError::Token(e)
            } else {
                AuthError::Unavailable(e.to_string())
            }
        })?;
        let key = if subject.issuer == token::LOCAL_ISSUER {
            let id = subject
                .subject
                .parse::<UserId>()
                .map_err(|_| AuthError::UnknownUser)?;
            Key::Id(id)
        } else {
            let email = subject.email.as_deref().ok_or(AuthError::UnknownUser)?;
            Key::Email(email.trim().to_lowercase())
        };
        let ticket = match self.users.lookup(&key) {
            Ok(user) => return Ok(Actor::User(user)),
            Err(ticket) => ticket,
        };
        let lookup = match &key {
            Key::Id(id) => Lookup::Id(*id),
            Key::Email(email) => Lookup::Email(email),
        };
        match users::actor_for(&self.db, lookup).await {
            Ok(Some(user)) => {
                self.users.keep(key, ticket, &user);
                Ok(Actor::User(user))
            }
            Ok(None) => Err(AuthError::UnknownUser),
            Err(e) => Err(AuthError::Unavailable(e.chain())),
        }
    }
}
