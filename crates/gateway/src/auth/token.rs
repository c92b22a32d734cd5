//! Bearer JWTs: verifying who a token is about, and minting Trellis's own.
//!
//! Two sources of tokens can be active at once, and the token's header `alg` picks which one
//! judges it:
//!
//! - **HS256** tokens are Trellis's own (`trellis token --email …`, ops and the embedded
//!   default). They are checked against the configured shared secret and must carry
//!   `iss` = `aud` = [`LOCAL_ISSUER`]. An empty secret disables them: an HMAC over an empty key
//!   is something anyone can compute.
//! - **RS256 / ES256** tokens come from the configured OIDC issuer. Its keys are discovered via
//!   `{issuer}/.well-known/openid-configuration` → `jwks_uri` and cached by `kid`.
//!
//! Everything else (`none`, `HS512`, `PS256`, encrypted JWTs, …) is refused before any key is
//! looked at. Pinning the algorithm to its source is what defeats the classic confusions: an
//! "HS256" token always meets our secret, never an issuer's public key, and an issuer key is
//! only ever used with the one algorithm it was published for.
//!
//! The verifier never decides roles. It answers "who is this token about" ([`TokenSubject`]);
//! the caller looks that person up in Trellis's users table.

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, Jwk, KeyAlgorithm, PublicKeyUse};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use tokio::sync::{Mutex, RwLock};

/// `iss` of the tokens Trellis mints itself; a [`TokenSubject`] with this issuer names a user
/// by id rather than by email.
pub const LOCAL_ISSUER: &str = "trellis";
/// `aud` of the tokens Trellis mints itself.
pub const LOCAL_AUDIENCE: &str = "trellis";

/// Clock skew tolerated on `exp` and `nbf`: enough for unsynchronised hosts, small enough that
/// an expired token does not linger.
const LEEWAY_SECS: u64 = 30;
/// At most one JWKS fetch per this interval, so a flood of tokens with made-up `kid`s cannot
/// turn Trellis into a load generator against the issuer.
const REFRESH_INTERVAL: Duration = Duration::from_secs(30);
/// Cached issuer keys are re-fetched (on the next OIDC token) once this old, so a key the issuer
/// withdrew stops being trusted even if no unknown `kid` ever shows up.
const KEYS_MAX_AGE: Duration = Duration::from_hours(1);
/// Whole-request timeout for discovery and JWKS fetches: a hung issuer must not hang sign-in.
const HTTP_TIMEOUT: Duration = Duration::from_secs(5);
/// Discovery documents and JWKS are a few KiB; refuse to buffer anything absurd.
const MAX_DOCUMENT_BYTES: usize = 512 * 1024;
/// Real tokens are well under this; bigger input is refused before any parsing work.
const MAX_TOKEN_BYTES: usize = 16 * 1024;

/// Who a verified token is about. Deliberately no roles: those live in Trellis's database.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenSubject {
    /// `sub`: a Trellis user id (UUID) for local tokens, the issuer's opaque id otherwise.
    pub subject: String,
    /// `email`: always present for verified tokens of either kind (it is required); kept
    /// optional so callers do not assume every future source has one.
    pub email: Option<String>,
    /// The validated `iss`: [`LOCAL_ISSUER`] for Trellis's own tokens.
    pub issuer: String,
}

/// Why a token was refused. Everything except [`TokenError::KeySource`] is the client's fault
/// (answer 401); `KeySource` means we could not reach or use the issuer's keys (answer 503).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    #[error("the token is not a well-formed JWT")]
    Malformed,
    #[error("tokens signed with `{0}` are not accepted")]
    UnsupportedAlgorithm(String),
    #[error("the token names a signing key the issuer does not publish")]
    UnknownKey,
    #[error("the token has expired")]
    Expired,
    #[error("the token is not valid yet")]
    NotYetValid,
    #[error("the token comes from an issuer Trellis does not trust")]
    WrongIssuer,
    #[error("the token was issued for another audience")]
    WrongAudience,
    #[error("the token's signature does not verify")]
    BadSignature,
    #[error("the token has no usable `{0}` claim")]
    MissingClaim(&'static str),
    #[error("the issuer's signing keys are unavailable: {0}")]
    KeySource(String),
}

impl TokenError {
    /// Whether the token (and so the client) is to blame. Only a key-source failure is ours:
    /// the same token may well verify once the issuer is reachable again.
    pub fn is_client_fault(&self) -> bool {
        !matches!(self, Self::KeySource(_))
    }
}

/// The OIDC issuer whose RS256/ES256 tokens Trellis accepts.
#[derive(Debug, Clone)]
pub struct OidcConfig {
    /// Issuer URL, e.g. `https://login.example.org/realms/schools`. A trailing slash is
    /// ignored for discovery, and tokens may carry `iss` with or without it.
    pub issuer: String,
    /// The `aud` tokens must carry (usually the client id registered for Trellis).
    pub audience: String,
}

/// Verifies bearer JWTs from both sources. Cheap to clone: clones share the key cache.
#[derive(Clone)]
pub struct TokenVerifier {
    inner: Arc<Inner>,
}

struct Inner {
    /// `None` when the configured secret is empty (local tokens disabled).
    local: Option<DecodingKey>,
    local_validation: Validation,
    oidc: Option<Oidc>,
}

impl fmt::Debug for TokenVerifier {
    /// Never prints key material; says which sources are active.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenVerifier")
            .field("local_tokens", &self.inner.local.is_some())
            .field("oidc", &self.inner.oidc.as_ref().map(|oidc| &oidc.config))
            .finish_non_exhaustive()
    }
}

impl TokenVerifier {
    /// A verifier for Trellis's own HS256 tokens (`hs256_secret`; empty disables them) and, when
    /// `oidc` is set, the issuer's RS256/ES256 tokens, fetching its keys with `http`.
    ///
    /// No I/O happens here: the issuer's keys are fetched on the first OIDC token, so an issuer
    /// that is briefly down does not stop Trellis from starting.
    pub fn new(hs256_secret: &[u8], oidc: Option<OidcConfig>, http: reqwest::Client) -> Self {
        Self::with_refresh_interval(hs256_secret, oidc, http, REFRESH_INTERVAL)
    }

    fn with_refresh_interval(
        hs256_secret: &[u8],
        oidc: Option<OidcConfig>,
        http: reqwest::Client,
        refresh_interval: Duration,
    ) -> Self {
        let local = (!hs256_secret.is_empty()).then(|| DecodingKey::from_secret(hs256_secret));
        if local.is_none() {
            tracing::warn!("the HS256 secret is empty: Trellis-minted tokens will be refused");
        }
        let inner = Inner {
            local,
            local_validation: local_validation(),
            oidc: oidc.map(|config| Oidc::new(config, http, refresh_interval)),
        };
        Self {
            inner: Arc::new(inner),
        }
    }

    /// Verifies `token` (the bearer credential, without `Bearer `) and says who it is about.
    pub async fn verify(&self, token: &str) -> Result<TokenSubject, TokenError> {
        let header = peek_header(token)?;
        match header.alg.as_str() {
            "HS256" => self.verify_local(token),
            "RS256" | "ES256" => {
                let alg = if header.alg == "RS256" {
                    Algorithm::RS256
                } else {
                    Algorithm::ES256
                };
                match &self.inner.oidc {
                    Some(oidc) => oidc.verify(token, alg, header.kid.as_deref()).await,
                    // Without an issuer there is no key an asymmetric token could be checked
                    // against; refusing by algorithm keeps the answer the same for every token.
                    None => Err(TokenError::UnsupportedAlgorithm(header.alg)),
                }
            }
            other => Err(TokenError::UnsupportedAlgorithm(printable(other))),
        }
    }

    fn verify_local(&self, token: &str) -> Result<TokenSubject, TokenError> {
        let Some(key) = &self.inner.local else {
            return Err(TokenError::UnsupportedAlgorithm("HS256".to_owned()));
        };
        let claims = jsonwebtoken::decode::<Claims>(token, key, &self.inner.local_validation)
            .map_err(|e| classify(&e, "HS256"))?
            .claims;
        Ok(TokenSubject {
            subject: non_empty(claims.sub).ok_or(TokenError::MissingClaim("sub"))?,
            email: Some(non_empty(claims.email).ok_or(TokenError::MissingClaim("email"))?),
            issuer: LOCAL_ISSUER.to_owned(),
        })
    }
}

/// Mints a Trellis HS256 token for `user_id` (a UUID string) valid for `ttl` from now.
///
/// The claims are exactly what [`TokenVerifier::verify`] demands of local tokens: `sub`,
/// `email`, `iss` = `aud` = [`LOCAL_ISSUER`], `iat`, `nbf`, `exp`.
pub fn mint_local(secret: &[u8], user_id: &str, email: &str, ttl: Duration) -> String {
    mint_local_at(
        secret,
        user_id,
        email,
        jsonwebtoken::get_current_timestamp(),
        ttl,
    )
}

/// [`mint_local`] with an explicit "now" (seconds since the epoch), so tests can mint tokens
/// that are already expired or not yet valid.
fn mint_local_at(secret: &[u8], user_id: &str, email: &str, now: u64, ttl: Duration) -> String {
    let claims = LocalClaims {
        sub: user_id,
        email,
        iss: LOCAL_ISSUER,
        aud: LOCAL_AUDIENCE,
        iat: now,
        nbf: now,
        exp: now.saturating_add(ttl.as_secs()),
    };
    jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        &claims,
        &EncodingKey::from_secret(secret),
    )
    .expect("HMAC-signing plain string and integer claims cannot fail")
}

/// The claims Trellis writes into its own tokens.
#[derive(Serialize)]
struct LocalClaims<'a> {
    sub: &'a str,
    email: &'a str,
    iss: &'a str,
    aud: &'a str,
    iat: u64,
    nbf: u64,
    exp: u64,
}

/// The claims we read back. Optional so that a missing one surfaces as
/// [`TokenError::MissingClaim`] rather than as a malformed token; `exp`, `nbf`, `iss` and `aud`
/// are checked by jsonwebtoken's [`Validation`].
#[derive(Deserialize)]
struct Claims {
    sub: Option<String>,
    email: Option<String>,
    /// Some issuers send a boolean, some (Cognito) the string `"true"`.
    email_verified: Option<serde_json::Value>,
    iss: Option<String>,
}

/// The header's `alg` as it may appear in an error message: the header is attacker-controlled,
/// and the message goes back to the client and into logs.
fn printable(alg: &str) -> String {
    alg.chars()
        .filter(char::is_ascii_graphic)
        .take(32)
        .collect()
}

fn non_empty(value: Option<String>) -> Option<String> {
    value.filter(|v| !v.trim().is_empty())
}

fn local_validation() -> Validation {
    let mut validation = Validation::new(Algorithm::HS256);
    validation.leeway = LEEWAY_SECS;
    validation.validate_nbf = true;
    validation.set_issuer(&[LOCAL_ISSUER]);
    validation.set_audience(&[LOCAL_AUDIENCE]);
    // jsonwebtoken only checks `nbf`/`iss`/`aud` when present unless they are required; our
    // own tokens always carry them, so anything without them is not one of ours.
    validation.set_required_spec_claims(&["exp", "nbf", "iss", "aud", "sub"]);
    validation
}

/// Validation for issuer tokens signed with `alg`. `nbf` is optional in OIDC but checked when
/// present; `iss` is accepted with or without a trailing slash, as issuers differ on it.
fn oidc_validation(alg: Algorithm, config: &OidcConfig) -> Validation {
    let issuer = config.issuer.trim_end_matches('/');
    let mut validation = Validation::new(alg);
    validation.leeway = LEEWAY_SECS;
    validation.validate_nbf = true;
    validation.set_issuer(&[issuer.to_owned(), format!("{issuer}/")]);
    validation.set_audience(&[config.audience.as_str()]);
    validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
    validation
}

/// The header fields acted on before choosing a key.
#[derive(Deserialize)]
struct PeekedHeader {
    alg: String,
    kid: Option<String>,
    crit: Option<serde_json::Value>,
}

/// Reads the (unverified) header: its `alg` decides which source may judge the token. Parsed
/// here rather than by jsonwebtoken so that `none` or an unknown algorithm is reported as such
/// instead of as a JSON error; jsonwebtoken re-parses it and checks `alg` against the one
/// algorithm we then allow, so the two parsers cannot disagree to an attacker's benefit.
fn peek_header(token: &str) -> Result<PeekedHeader, TokenError> {
    if token.len() > MAX_TOKEN_BYTES {
        return Err(TokenError::Malformed);
    }
    let mut segments = token.split('.');
    let (Some(header), Some(_), Some(_), None) = (
        segments.next(),
        segments.next(),
        segments.next(),
        segments.next(),
    ) else {
        // JWE (five segments) and anything else that is not a compact JWS.
        return Err(TokenError::Malformed);
    };
    let bytes = URL_SAFE_NO_PAD
        .decode(header)
        .map_err(|_| TokenError::Malformed)?;
    let header: PeekedHeader = serde_json::from_slice(&bytes).map_err(|_| TokenError::Malformed)?;
    if header.crit.is_some() {
        // RFC 7515 §4.1.11: critical extensions we do not implement mean "reject".
        return Err(TokenError::Malformed);
    }
    Ok(header)
}

/// Maps jsonwebtoken's verdict onto ours. `alg` is the algorithm the token claimed.
fn classify(error: &jsonwebtoken::errors::Error, alg: &str) -> TokenError {
    match error.kind() {
        ErrorKind::InvalidSignature => TokenError::BadSignature,
        ErrorKind::ExpiredSignature => TokenError::Expired,
        ErrorKind::ImmatureSignature => TokenError::NotYetValid,
        ErrorKind::InvalidIssuer => TokenError::WrongIssuer,
        ErrorKind::InvalidAudience => TokenError::WrongAudience,
        ErrorKind::MissingRequiredClaim(claim) => match claim.as_str() {
            "exp" => TokenError::MissingClaim("exp"),
            "nbf" => TokenError::MissingClaim("nbf"),
            "iss" => TokenError::MissingClaim("iss"),
            "aud" => TokenError::MissingClaim("aud"),
            "sub" => TokenError::MissingClaim("sub"),
            _ => TokenError::Malformed,
        },
        ErrorKind::InvalidAlgorithm
        | ErrorKind::UnsupportedAlgorithm
        | ErrorKind::InvalidAlgorithmName => TokenError::UnsupportedAlgorithm(alg.to_owned()),
        // The key, not the token, is unusable: only an issuer key can get here.
        ErrorKind::InvalidEcdsaKey | ErrorKind::InvalidRsaKey(_) | ErrorKind::InvalidKeyFormat => {
            TokenError::KeySource(format!("the issuer published an unusable key: {error}"))
        }
        _ => TokenError::Malformed,
    }
}

/// The OIDC side: configuration, HTTP client and the key cache.
struct Oidc {
    config: OidcConfig,
    discovery_url: String,
    http: reqwest::Client,
    rs256: Validation,
    es256: Validation,
    refresh_interval: Duration,
    /// The last good JWKS. Readers clone the `Arc` and let go at once.
    keys: RwLock<Option<Arc<KeySet>>>,
    /// Held for a whole refresh, so concurrent misses share one fetch instead of stampeding.
    refresh: Mutex<RefreshState>,
}

#[derive(Default)]
struct RefreshState {
    last_attempt: Option<Instant>,
    /// Why the last attempt failed; `None` after a success.
    last_error: Option<String>,
    /// From discovery; forgotten when a JWKS fetch fails, in case the issuer moved it.
    jwks_uri: Option<String>,
}

/// The issuer's usable keys at one point in time.
struct KeySet {
    keys: HashMap<String, Arc<IssuerKey>>,
    fetched_at: Instant,
}

impl KeySet {
    fn get(&self, kid: &str) -> Option<Arc<IssuerKey>> {
        self.keys.get(kid).cloned()
    }

    fn is_fresh(&self) -> bool {
        self.fetched_at.elapsed() < KEYS_MAX_AGE
    }
}

/// One issuer key, with the single algorithm it may verify.
struct IssuerKey {
    alg: Algorithm,
    key: DecodingKey,
}

impl Oidc {
    fn new(config: OidcConfig, http: reqwest::Client, refresh_interval: Duration) -> Self {
        let discovery_url = format!(
            "{}/.well-known/openid-configuration",
            config.issuer.trim_end_matches('/')
        );
        Self {
            rs256: oidc_validation(Algorithm::RS256, &config),
            es256: oidc_validation(Algorithm::ES256, &config),
            config,
            discovery_url,
            http,
            refresh_interval,
            keys: RwLock::new(None),
            refresh: Mutex::new(RefreshState::default()),
        }
    }

    async fn verify(
        &self,
        token: &str,
        alg: Algorithm,
        kid: Option<&str>,
    ) -> Result<TokenSubject, TokenError> {
        // Without a `kid` there is nothing to look up, and guessing among the issuer's keys
        // would only give an attacker more keys to try; every mainstream issuer sends one.
        let kid = kid.ok_or(TokenError::UnknownKey)?;
        let key = self.key(kid).await?;
        if key.alg != alg {
            return Err(TokenError::UnsupportedAlgorithm(format!(
                "{alg:?} with key `{kid}`, which is published for {:?}",
                key.alg
            )));
        }
        let validation = if alg == Algorithm::RS256 {
            &self.rs256
        } else {
            &self.es256
        };
        let claims = jsonwebtoken::decode::<Claims>(token, &key.key, validation)
            .map_err(|e| classify(&e, &format!("{alg:?}")))?
            .claims;
        // An unverified address proves nothing about who signed in, and Trellis matches users by
        // email: treat it as no email at all.
        let unverified = match &claims.email_verified {
            Some(serde_json::Value::Bool(verified)) => !verified,
            Some(serde_json::Value::String(verified)) => verified.eq_ignore_ascii_case("false"),
            _ => false,
        };
        let email = non_empty(claims.email)
            .filter(|_| !unverified)
            .ok_or(TokenError::MissingClaim("email"))?;
        Ok(TokenSubject {
            subject: non_empty(claims.sub).ok_or(TokenError::MissingClaim("sub"))?,
            email: Some(email),
            issuer: claims.iss.ok_or(TokenError::MissingClaim("iss"))?,
        })
    }

    /// The key named `kid`, refreshing the cache when it is unknown or old, at most once per
    /// `refresh_interval`.
    async fn key(&self, kid: &str) -> Result<Arc<IssuerKey>, TokenError> {
        let seen = self.keys.read().await.clone();
        if let Some(set) = &seen
            && set.is_fresh()
            && let Some(key) = set.get(kid)
        {
            return Ok(key);
        }

        let mut state = self.refresh.lock().await;
        let current = self.keys.read().await.clone();
        let refreshed_meanwhile = match (&seen, &current) {
            (Some(seen), Some(current)) => !Arc::ptr_eq(seen, current),
            (None, Some(_)) => true,
            _ => false,
        };
        if refreshed_meanwhile {
            // Another request fetched while we queued: its answer is as fresh as ours would be.
            return current
                .and_then(|set| set.get(kid))
                .ok_or(TokenError::UnknownKey);
        }
        if let Some(at) = state.last_attempt
            && at.elapsed() < self.refresh_interval
        {
            if let Some(key) = current.as_ref().and_then(|set| set.get(kid)) {
                return Ok(key); // Old, but the freshest we are allowed to have.
            }
            return Err(match &state.last_error {
                Some(error) => TokenError::KeySource(error.clone()),
                None => TokenError::UnknownKey,
            });
        }

        state.last_attempt = Some(Instant::now());
        match self.fetch_keys(&mut state).await {
            Ok(set) => {
                state.last_error = None;
                tracing::info!(
                    issuer = %self.config.issuer,
                    keys = set.keys.len(),
                    "fetched the OIDC issuer's signing keys"
                );
                let set = Arc::new(set);
                *self.keys.write().await = Some(Arc::clone(&set));
                set.get(kid).ok_or(TokenError::UnknownKey)
            }
            Err(error) => {
                tracing::warn!(
                    issuer = %self.config.issuer,
                    %error,
                    "could not fetch the OIDC issuer's signing keys"
                );
                state.last_error = Some(error.clone());
                // Keep signing people in with the keys we already trust while the issuer is down.
                current
                    .and_then(|set| set.get(kid))
                    .ok_or(TokenError::KeySource(error))
            }
        }
    }

    async fn fetch_keys(&self, state: &mut RefreshState) -> Result<KeySet, String> {
        let jwks_uri = if let Some(uri) = &state.jwks_uri {
            uri.clone()
        } else {
            let uri = self.discover().await?;
            state.jwks_uri = Some(uri.clone());
            uri
        };
        let result = self.fetch_jwks(&jwks_uri).await;
        if result.is_err() {
            state.jwks_uri = None;
        }
        result
    }

    async fn discover(&self) -> Result<String, String> {
        #[derive(Deserialize)]
        struct Discovery {
            issuer: Option<String>,
            jwks_uri: String,
        }
        let discovery: Discovery = self.get_json(&self.discovery_url).await?;
        if let Some(issuer) = &discovery.issuer
            && issuer.trim_end_matches('/') != self.config.issuer.trim_end_matches('/')
        {
            // Not fatal (some multi-tenant issuers template this), but tokens will carry this
            // `iss` and be refused, which is baffling without a hint.
            tracing::warn!(
                configured = %self.config.issuer,
                discovered = %issuer,
                "the OIDC discovery document names a different issuer"
            );
        }
        Ok(discovery.jwks_uri)
    }

    async fn fetch_jwks(&self, uri: &str) -> Result<KeySet, String> {
        #[derive(Deserialize)]
        struct RawJwks {
            keys: Vec<serde_json::Value>,
        }
        let raw: RawJwks = self.get_json(uri).await?;
        let mut keys = HashMap::new();
        // Parse key by key: one exotic entry (another kty, an encryption key) must not make
        // the issuer's other keys unusable.
        for value in raw.keys {
            let jwk = match serde_json::from_value::<Jwk>(value) {
                Ok(jwk) => jwk,
                Err(error) => {
                    tracing::debug!(%error, "skipping an unreadable JWK");
                    continue;
                }
            };
            if let Some((kid, key)) = usable_key(&jwk) {
                keys.entry(kid).or_insert_with(|| Arc::new(key));
            }
        }
        if keys.is_empty() {
            return Err(format!(
                "the JWKS at {uri} holds no usable RS256 or ES256 signing key"
            ));
        }
        Ok(KeySet {
            keys,
            fetched_at: Instant::now(),
        })
    }

    async fn get_json<T: DeserializeOwned>(&self, url: &str) -> Result<T, String> {
        let mut response = self
            .http
            .get(url)
            .header(reqwest::header::ACCEPT, "application/json")
            .timeout(HTTP_TIMEOUT)
            .send()
            .await
            .map_err(|e| format!("GET {url}: {e}"))?;
        if !response.status().is_success() {
            return Err(format!("GET {url}: HTTP {}", response.status()));
        }
        let mut body = Vec::new();
        while let Some(chunk) = response
            .chunk()
            .await
            .map_err(|e| format!("GET {url}: {e}"))?
        {
            if body.len() + chunk.len() > MAX_DOCUMENT_BYTES {
                return Err(format!(
                    "GET {url}: response larger than {MAX_DOCUMENT_BYTES} bytes"
                ));
            }
            body.extend_from_slice(&chunk);
        }
        serde_json::from_slice(&body).map_err(|e| format!("GET {url}: invalid JSON: {e}"))
    }
}

/// The `kid` and verification key of a JWK we may use, or `None` to ignore it: keys without a
/// `kid`, encryption keys, and anything that is not an RSA or P-256 key. The key's algorithm is
/// fixed here: its declared `alg` if any (which must then be RS256 or ES256 and fit the key
/// type), otherwise the one algorithm we accept for its key type.
fn usable_key(jwk: &Jwk) -> Option<(String, IssuerKey)> {
    let kid = jwk.common.key_id.clone()?;
    if jwk.common.public_key_use == Some(PublicKeyUse::Encryption) {
        return None;
    }
    let alg = match &jwk.algorithm {
        AlgorithmParameters::RSA(_) => Algorithm::RS256,
        AlgorithmParameters::EllipticCurve(params) if params.curve == EllipticCurve::P256 => {
            Algorithm::ES256
        }
        _ => return None,
    };
    if let Some(declared) = jwk.common.key_algorithm
        && declared != KeyAlgorithm::from(alg)
    {
        tracing::debug!(%kid, %declared, "skipping a JWK published for an algorithm we refuse");
        return None;
    }
    match DecodingKey::from_jwk(jwk) {
        Ok(key) => Some((kid, IssuerKey { alg, key })),
        Err(error) => {
            tracing::warn!(%kid, %error, "skipping an invalid JWK");
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

    use axum::Json;
    use axum::extract::State;
    use axum::http::StatusCode;
    use axum::routing::get;
    use serde_json::{Value, json};

    use super::*;

    const SECRET: &[u8] = b"test-only hs256 secret, 32+ bytes long";
    const USER_ID: &str = "0196f1c2-7a3e-7c4d-9b1a-2f3e4d5c6b7a";
    const EMAIL: &str = "ada@example.org";
    const AUDIENCE: &str = "trellis-api";
    const RSA_KID: &str = "trellis-test-rsa";
    const EC_KID: &str = "trellis-test-ec";

    const RSA_PRIVATE: &str = include_str!("../../tests/fixtures/test-only-rsa-2048.key.pem");
    const RSA_PUBLIC: &str = include_str!("../../tests/fixtures/test-only-rsa-2048.pub.pem");
    const EC_PRIVATE: &str = include_str!("../../tests/fixtures/test-only-ec-p256.key.pem");
    const JWKS: &str = include_str!("../../tests/fixtures/test-only-jwks.json");

    fn now() -> u64 {
        jsonwebtoken::get_current_timestamp()
    }

    fn http() -> reqwest::Client {
        // reqwest is built without a bundled TLS provider; the binary installs ring at start-up.
        let _ = rustls::crypto::ring::default_provider().install_default();
        reqwest::Client::new()
    }

    fn local_only() -> TokenVerifier {
        TokenVerifier::new(SECRET, None, http())
    }

    /// A hand-built token: `base64url(header).base64url(claims).signature`.
    fn raw_token(header: &Value, claims: &Value, signature: &str) -> String {
        let header = URL_SAFE_NO_PAD.encode(header.to_string());
        let claims = URL_SAFE_NO_PAD.encode(claims.to_string());
        format!("{header}.{claims}.{signature}")
    }

    fn sign(alg: Algorithm, kid: Option<&str>, claims: &Value, key: &EncodingKey) -> String {
        let mut header = Header::new(alg);
        header.kid = kid.map(str::to_owned);
        jsonwebtoken::encode(&header, claims, key).expect("signing test claims")
    }

    fn hs256(claims: &Value) -> String {
        sign(
            Algorithm::HS256,
            None,
            claims,
            &EncodingKey::from_secret(SECRET),
        )
    }

    fn local_claims() -> Value {
        let now = now();
        json!({
            "sub": USER_ID, "email": EMAIL, "iss": LOCAL_ISSUER, "aud": LOCAL_AUDIENCE,
            "iat": now, "nbf": now, "exp": now + 600,
        })
    }

    fn rsa_key() -> EncodingKey {
        EncodingKey::from_rsa_pem(RSA_PRIVATE.as_bytes()).expect("fixture RSA key")
    }

    fn ec_key() -> EncodingKey {
        EncodingKey::from_ec_pem(EC_PRIVATE.as_bytes()).expect("fixture EC key")
    }

    // ---- Local HS256 tokens -------------------------------------------------------------

    #[tokio::test]
    async fn minted_token_verifies() {
        let token = mint_local(SECRET, USER_ID, EMAIL, Duration::from_mins(5));
        let subject = local_only()
            .verify(&token)
            .await
            .expect("minted token verifies");
        assert_eq!(
            subject,
            TokenSubject {
                subject: USER_ID.to_owned(),
                email: Some(EMAIL.to_owned()),
                issuer: LOCAL_ISSUER.to_owned(),
            }
        );
    }

    #[tokio::test]
    async fn minted_token_carries_the_documented_claims() {
        let token = mint_local(SECRET, USER_ID, EMAIL, Duration::from_mins(5));
        let payload = token.split('.').nth(1).expect("payload segment");
        let claims: Value =
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).expect("base64url payload"))
                .expect("JSON payload");
        assert_eq!(claims["sub"], USER_ID);
        assert_eq!(claims["email"], EMAIL);
        assert_eq!(claims["iss"], LOCAL_ISSUER);
        assert_eq!(claims["aud"], LOCAL_AUDIENCE);
        assert_eq!(claims["iat"], claims["nbf"]);
        let iat = claims["iat"].as_u64().expect("numeric iat");
        assert_eq!(claims["exp"].as_u64(), Some(iat + 300));
    }

    #[tokio::test]
    async fn expired_token_is_refused() {
        let token = mint_local_at(
            SECRET,
            USER_ID,
            EMAIL,
            now() - 7200,
            Duration::from_hours(1),
        );
        assert_eq!(local_only().verify(&token).await, Err(TokenError::Expired));
    }

    #[tokio::test]
    async fn token_within_the_leeway_is_accepted() {
        let token = mint_local_at(SECRET, USER_ID, EMAIL, now() - 20, Duration::from_secs(10));
        assert!(local_only().verify(&token).await.is_ok());
    }

    #[tokio::test]
    async fn not_yet_valid_token_is_refused() {
        let token = mint_local_at(
            SECRET,
            USER_ID,
            EMAIL,
            now() + 3600,
            Duration::from_mins(10),
        );
        assert_eq!(
            local_only().verify(&token).await,
            Err(TokenError::NotYetValid)
        );
    }

    #[tokio::test]
    async fn token_signed_with_another_secret_is_refused() {
        let token = mint_local(b"some other secret", USER_ID, EMAIL, Duration::from_mins(5));
        assert_eq!(
            local_only().verify(&token).await,
            Err(TokenError::BadSignature)
        );
    }

    #[tokio::test]
    async fn tampered_claims_are_refused() {
        let token = mint_local(SECRET, USER_ID, EMAIL, Duration::from_mins(5));
        let mut parts: Vec<&str> = token.split('.').collect();
        let mut claims = local_claims();
        claims["email"] = json!("mallory@example.org");
        let forged = URL_SAFE_NO_PAD.encode(claims.to_string());
        parts[1] = &forged;
        assert_eq!(
            local_only().verify(&parts.join(".")).await,
            Err(TokenError::BadSignature)
        );
    }

    #[tokio::test]
    async fn wrong_audience_is_refused() {
        let mut claims = local_claims();
        claims["aud"] = json!("someone-else");
        assert_eq!(
            local_only().verify(&hs256(&claims)).await,
            Err(TokenError::WrongAudience)
        );
    }

    #[tokio::test]
    async fn wrong_issuer_is_refused() {
        let mut claims = local_claims();
        claims["iss"] = json!("https://login.example.org");
        assert_eq!(
            local_only().verify(&hs256(&claims)).await,
            Err(TokenError::WrongIssuer)
        );
    }

    #[tokio::test]
    async fn missing_claims_are_named() {
        let verifier = local_only();
        for claim in ["exp", "nbf", "iss", "aud", "sub", "email"] {
            let mut claims = local_claims();
            claims.as_object_mut().expect("object").remove(claim);
            assert_eq!(
                verifier.verify(&hs256(&claims)).await,
                Err(TokenError::MissingClaim(claim)),
                "without `{claim}`"
            );
        }
    }

    #[tokio::test]
    async fn alg_none_is_refused() {
        let token = raw_token(&json!({"alg": "none", "typ": "JWT"}), &local_claims(), "");
        assert_eq!(
            local_only().verify(&token).await,
            Err(TokenError::UnsupportedAlgorithm("none".to_owned()))
        );
        // Even a spelling jsonwebtoken would not parse is reported as the algorithm it is.
        let token = raw_token(&json!({"alg": "None"}), &local_claims(), "");
        assert_eq!(
            local_only().verify(&token).await,
            Err(TokenError::UnsupportedAlgorithm("None".to_owned()))
        );
    }

    #[tokio::test]
    async fn unknown_algorithm_names_are_not_echoed_verbatim() {
        let alg = format!("evil\n{}", "x".repeat(1000));
        let token = raw_token(&json!({ "alg": alg }), &local_claims(), "");
        assert_eq!(
            local_only().verify(&token).await,
            Err(TokenError::UnsupportedAlgorithm(format!(
                "evil{}",
                "x".repeat(28)
            )))
        );
    }

    #[tokio::test]
    async fn other_hmac_algorithms_are_refused() {
        for alg in [Algorithm::HS384, Algorithm::HS512] {
            let token = sign(
                alg,
                None,
                &local_claims(),
                &EncodingKey::from_secret(SECRET),
            );
            assert_eq!(
                local_only().verify(&token).await,
                Err(TokenError::UnsupportedAlgorithm(format!("{alg:?}")))
            );
        }
    }

    #[tokio::test]
    async fn garbage_is_malformed() {
        let verifier = local_only();
        let huge = format!("{}.e30.", "A".repeat(MAX_TOKEN_BYTES));
        for garbage in [
            "",
            "not-a-jwt",
            "a.b.c",
            "a.b",
            "e30.e30",
            "e30.e30.",                             // `{}` header: no `alg`
            "eyJhbGciOiJIUzI1NiJ9.%%%.x",           // valid header, payload not base64url
            "eyJhbGciOiJIUzI1NiJ9.e30.e30.e30.e30", // five segments: a JWE shape
            huge.as_str(),
        ] {
            assert_eq!(
                verifier.verify(garbage).await,
                Err(TokenError::Malformed),
                "{garbage:.40}"
            );
        }
    }

    #[tokio::test]
    async fn critical_header_extensions_are_refused() {
        let claims = local_claims();
        let mut header = Header::new(Algorithm::HS256);
        header.crit = Some(vec!["exp".to_owned()]);
        let token = jsonwebtoken::encode(&header, &claims, &EncodingKey::from_secret(SECRET))
            .expect("signing");
        assert_eq!(
            local_only().verify(&token).await,
            Err(TokenError::Malformed)
        );
    }

    #[tokio::test]
    async fn empty_secret_disables_local_tokens() {
        let verifier = TokenVerifier::new(b"", None, http());
        let token = mint_local(b"", USER_ID, EMAIL, Duration::from_mins(5));
        assert_eq!(
            verifier.verify(&token).await,
            Err(TokenError::UnsupportedAlgorithm("HS256".to_owned()))
        );
    }

    #[tokio::test]
    async fn asymmetric_tokens_are_refused_without_an_issuer() {
        let claims = json!({"sub": "x", "email": EMAIL, "iss": "https://idp", "aud": AUDIENCE,
            "exp": now() + 600});
        let rs = sign(Algorithm::RS256, Some(RSA_KID), &claims, &rsa_key());
        let es = sign(Algorithm::ES256, Some(EC_KID), &claims, &ec_key());
        let verifier = local_only();
        assert_eq!(
            verifier.verify(&rs).await,
            Err(TokenError::UnsupportedAlgorithm("RS256".to_owned()))
        );
        assert_eq!(
            verifier.verify(&es).await,
            Err(TokenError::UnsupportedAlgorithm("ES256".to_owned()))
        );
    }

    #[test]
    fn only_key_source_failures_are_ours() {
        assert!(!TokenError::KeySource("down".to_owned()).is_client_fault());
        assert!(TokenError::UnknownKey.is_client_fault());
        assert!(TokenError::BadSignature.is_client_fault());
        assert!(TokenError::MissingClaim("email").is_client_fault());
    }

    #[test]
    fn debug_output_hides_the_secret() {
        let debug = format!("{:?}", local_only());
        assert!(debug.contains("local_tokens: true"), "{debug}");
        assert!(!debug.contains("test-only"), "{debug}");
    }

    // ---- OIDC tokens against a fake issuer ----------------------------------------------

    /// A fake OIDC issuer on 127.0.0.1 serving discovery and a JWKS that tests can change.
    struct FakeIssuer {
        base: String,
        jwks: std::sync::Mutex<Value>,
        discovery_hits: AtomicUsize,
        jwks_hits: AtomicUsize,
        failing: AtomicBool,
    }

    impl FakeIssuer {
        async fn start() -> Arc<Self> {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
                .await
                .expect("bind a local port");
            let base = format!("http://{}", listener.local_addr().expect("local address"));
            let issuer = Arc::new(Self {
                base,
                jwks: std::sync::Mutex::new(serde_json::from_str(JWKS).expect("fixture JWKS")),
                discovery_hits: AtomicUsize::new(0),
                jwks_hits: AtomicUsize::new(0),
                failing: AtomicBool::new(false),
            });
            let app = axum::Router::new()
                .route("/.well-known/openid-configuration", get(discovery))
                .route("/jwks.json", get(jwks))
                .with_state(Arc::clone(&issuer));
            tokio::spawn(async move { axum::serve(listener, app).await });
            issuer
        }

        /// Publishes only the keys whose `kid` is listed.
        fn publish_only(&self, kids: &[&str]) {
            let all: Value = serde_json::from_str(JWKS).expect("fixture JWKS");
            let keys: Vec<Value> = all["keys"]
                .as_array()
                .expect("keys array")
                .iter()
                .filter(|key| kids.iter().any(|kid| key["kid"] == *kid))
                .cloned()
                .collect();
            *self.jwks.lock().expect("JWKS lock") = json!({ "keys": keys });
        }

        fn jwks_hits(&self) -> usize {
            self.jwks_hits.load(Ordering::SeqCst)
        }

        fn discovery_hits(&self) -> usize {
            self.discovery_hits.load(Ordering::SeqCst)
        }

        /// A verifier trusting this issuer (configured with a trailing slash, as people do).
        fn verifier(&self, refresh_interval: Duration) -> TokenVerifier {
            let config = OidcConfig {
                issuer: format!("{}/", self.base),
                audience: AUDIENCE.to_owned(),
            };
            TokenVerifier::with_refresh_interval(SECRET, Some(config), http(), refresh_interval)
        }

        fn claims(&self) -> Value {
            json!({
                "sub": "idp-user-42", "email": EMAIL, "email_verified": true,
                "iss": self.base, "aud": AUDIENCE, "iat": now(), "exp": now() + 600,
            })
        }
    }

    async fn discovery(State(issuer): State<Arc<FakeIssuer>>) -> Json<Value> {
        issuer.discovery_hits.fetch_add(1, Ordering::SeqCst);
        Json(json!({
            "issuer": issuer.base,
            "jwks_uri": format!("{}/jwks.json", issuer.base),
        }))
    }

    async fn jwks(State(issuer): State<Arc<FakeIssuer>>) -> Result<Json<Value>, StatusCode> {
        issuer.jwks_hits.fetch_add(1, Ordering::SeqCst);
        if issuer.failing.load(Ordering::SeqCst) {
            return Err(StatusCode::SERVICE_UNAVAILABLE);
        }
        Ok(Json(issuer.jwks.lock().expect("JWKS lock").clone()))
    }

    #[tokio::test]
    async fn rs256_and_es256_tokens_verify_and_keys_are_cached() {
        let issuer = FakeIssuer::start().await;
        let verifier = issuer.verifier(REFRESH_INTERVAL);
        let rs = sign(
            Algorithm::RS256,
            Some(RSA_KID),
            &issuer.claims(),
            &rsa_key(),
        );
        let es = sign(Algorithm::ES256, Some(EC_KID), &issuer.claims(), &ec_key());

        let expected = TokenSubject {
            subject: "idp-user-42".to_owned(),
            email: Some(EMAIL.to_owned()),
            issuer: issuer.base.clone(),
        };
        assert_eq!(verifier.verify(&rs).await, Ok(expected.clone()));
        assert_eq!(verifier.verify(&es).await, Ok(expected.clone()));
        assert_eq!((issuer.discovery_hits(), issuer.jwks_hits()), (1, 1));

        // Clones share the cache: nothing is fetched again.
        let clone = verifier.clone();
        assert_eq!(clone.verify(&rs).await, Ok(expected.clone()));
        assert_eq!(clone.verify(&es).await, Ok(expected));
        assert_eq!((issuer.discovery_hits(), issuer.jwks_hits()), (1, 1));
    }

    #[tokio::test]
    async fn issuer_with_trailing_slash_in_tokens_is_accepted() {
        let issuer = FakeIssuer::start().await;
        let mut claims = issuer.claims();
        claims["iss"] = json!(format!("{}/", issuer.base));
        let token = sign(Algorithm::RS256, Some(RSA_KID), &claims, &rsa_key());
        let subject = issuer
            .verifier(REFRESH_INTERVAL)
            .verify(&token)
            .await
            .expect("verifies");
        assert_eq!(subject.issuer, format!("{}/", issuer.base));
    }

    #[tokio::test]
    async fn concurrent_first_tokens_share_one_fetch() {
        let issuer = FakeIssuer::start().await;
        let verifier = issuer.verifier(REFRESH_INTERVAL);
        let token = sign(Algorithm::ES256, Some(EC_KID), &issuer.claims(), &ec_key());
        let tasks: Vec<_> = (0..16)
            .map(|_| {
                let (verifier, token) = (verifier.clone(), token.clone());
                tokio::spawn(async move { verifier.verify(&token).await })
            })
            .collect();
        for task in tasks {
            assert!(task.await.expect("task").is_ok());
        }
        assert_eq!((issuer.discovery_hits(), issuer.jwks_hits()), (1, 1));
    }

    #[tokio::test]
    async fn unknown_kid_refreshes_once_then_fails() {
        let issuer = FakeIssuer::start().await;
        // No rate limit, to see the refresh an unknown kid triggers.
        let verifier = issuer.verifier(Duration::ZERO);
        let good = sign(
            Algorithm::RS256,
            Some(RSA_KID),
            &issuer.claims(),
            &rsa_key(),
        );
        let bogus = sign(
            Algorithm::RS256,
            Some("no-such-key"),
            &issuer.claims(),
            &rsa_key(),
        );
        assert!(verifier.verify(&good).await.is_ok());
        assert_eq!(issuer.jwks_hits(), 1);

        assert_eq!(verifier.verify(&bogus).await, Err(TokenError::UnknownKey));
        assert_eq!(
            issuer.jwks_hits(),
            2,
            "exactly one refresh for the unknown kid"
        );
        // The JWKS URI is remembered: discovery is not repeated.
        assert_eq!(issuer.discovery_hits(), 1);
    }

    #[tokio::test]
    async fn unknown_kid_refreshes_are_rate_limited() {
        let issuer = FakeIssuer::start().await;
        let verifier = issuer.verifier(REFRESH_INTERVAL);
        let good = sign(
            Algorithm::RS256,
            Some(RSA_KID),
            &issuer.claims(),
            &rsa_key(),
        );
        assert!(verifier.verify(&good).await.is_ok());
        assert_eq!(issuer.jwks_hits(), 1);

        // A flood of made-up kids within the window never reaches the issuer.
        for i in 0..20 {
            let kid = format!("bogus-{i}");
            let bogus = sign(Algorithm::RS256, Some(&kid), &issuer.claims(), &rsa_key());
            assert_eq!(verifier.verify(&bogus).await, Err(TokenError::UnknownKey));
        }
        assert_eq!(issuer.jwks_hits(), 1);
        // Known keys keep working meanwhile.
        assert!(verifier.verify(&good).await.is_ok());
    }

    #[tokio::test]
    async fn unknown_kid_on_first_use_fetches_once() {
        let issuer = FakeIssuer::start().await;
        let verifier = issuer.verifier(REFRESH_INTERVAL);
        let bogus = sign(
            Algorithm::RS256,
            Some("no-such-key"),
            &issuer.claims(),
            &rsa_key(),
        );
        assert_eq!(verifier.verify(&bogus).await, Err(TokenError::UnknownKey));
        assert_eq!(verifier.verify(&bogus).await, Err(TokenError::UnknownKey));
        assert_eq!(issuer.jwks_hits(), 1);
    }

    #[tokio::test]
    async fn rotated_in_key_is_picked_up() {
        let issuer = FakeIssuer::start().await;
        issuer.publish_only(&[RSA_KID]);
        let verifier = issuer.verifier(Duration::ZERO);
        let es = sign(Algorithm::ES256, Some(EC_KID), &issuer.claims(), &ec_key());
        assert_eq!(verifier.verify(&es).await, Err(TokenError::UnknownKey));
        assert_eq!(issuer.jwks_hits(), 1);

        issuer.publish_only(&[RSA_KID, EC_KID]);
        assert!(verifier.verify(&es).await.is_ok());
        assert_eq!(issuer.jwks_hits(), 2);
        assert!(verifier.verify(&es).await.is_ok());
        assert_eq!(issuer.jwks_hits(), 2);
    }

    #[tokio::test]
    async fn token_without_kid_is_refused_without_fetching() {
        let issuer = FakeIssuer::start().await;
        let token = sign(Algorithm::RS256, None, &issuer.claims(), &rsa_key());
        let verifier = issuer.verifier(REFRESH_INTERVAL);
        assert_eq!(verifier.verify(&token).await, Err(TokenError::UnknownKey));
        assert_eq!((issuer.discovery_hits(), issuer.jwks_hits()), (0, 0));
    }

    #[tokio::test]
    async fn hs256_with_the_public_key_as_secret_is_refused() {
        // The algorithm-confusion attack: sign HS256 with the issuer's *public* key as the
        // HMAC secret, hoping the verifier feeds that key to HMAC.
        let issuer = FakeIssuer::start().await;
        let confused = sign(
            Algorithm::HS256,
            Some(RSA_KID),
            &issuer.claims(),
            &EncodingKey::from_secret(RSA_PUBLIC.as_bytes()),
        );
        let verifier = issuer.verifier(REFRESH_INTERVAL);
        assert_eq!(
            verifier.verify(&confused).await,
            Err(TokenError::BadSignature)
        );
        // HS256 is judged against our secret alone: the issuer was never consulted.
        assert_eq!((issuer.discovery_hits(), issuer.jwks_hits()), (0, 0));

        // And with local tokens disabled, HS256 is not accepted at all.
        let config = OidcConfig {
            issuer: issuer.base.clone(),
            audience: AUDIENCE.to_owned(),
        };
        let oidc_only = TokenVerifier::new(b"", Some(config), http());
        assert_eq!(
            oidc_only.verify(&confused).await,
            Err(TokenError::UnsupportedAlgorithm("HS256".to_owned()))
        );
    }

    #[tokio::test]
    async fn key_is_pinned_to_its_algorithm() {
        let issuer = FakeIssuer::start().await;
        let verifier = issuer.verifier(REFRESH_INTERVAL);
        // ES256 signature presented under the RSA key's kid, and the reverse.
        let es_on_rsa = sign(Algorithm::ES256, Some(RSA_KID), &issuer.claims(), &ec_key());
        let rs_on_ec = sign(Algorithm::RS256, Some(EC_KID), &issuer.claims(), &rsa_key());
        for token in [es_on_rsa, rs_on_ec] {
            assert!(matches!(
                verifier.verify(&token).await,
                Err(TokenError::UnsupportedAlgorithm(_))
            ));
        }
        // Other RSA algorithms are refused before any key lookup.
        let ps = sign(
            Algorithm::PS256,
            Some(RSA_KID),
            &issuer.claims(),
            &rsa_key(),
        );
        assert_eq!(
            verifier.verify(&ps).await,
            Err(TokenError::UnsupportedAlgorithm("PS256".to_owned()))
        );
    }

    #[tokio::test]
    async fn jwk_declared_for_another_algorithm_is_not_used() {
        let issuer = FakeIssuer::start().await;
        {
            let mut jwks = issuer.jwks.lock().expect("JWKS lock");
            jwks["keys"][0]["alg"] = json!("PS256"); // The RSA key.
        }
        let verifier = issuer.verifier(REFRESH_INTERVAL);
        let rs = sign(
            Algorithm::RS256,
            Some(RSA_KID),
            &issuer.claims(),
            &rsa_key(),
        );
        assert_eq!(verifier.verify(&rs).await, Err(TokenError::UnknownKey));
        let es = sign(Algorithm::ES256, Some(EC_KID), &issuer.claims(), &ec_key());
        assert!(verifier.verify(&es).await.is_ok());
    }

    #[tokio::test]
    async fn forged_signature_is_refused() {
        let issuer = FakeIssuer::start().await;
        let verifier = issuer.verifier(REFRESH_INTERVAL);
        let token = sign(
            Algorithm::RS256,
            Some(RSA_KID),
            &issuer.claims(),
            &rsa_key(),
        );
        let mut claims = issuer.claims();
        claims["email"] = json!("mallory@example.org");
        let mut parts: Vec<&str> = token.split('.').collect();
        let forged = URL_SAFE_NO_PAD.encode(claims.to_string());
        parts[1] = &forged;
        assert_eq!(
            verifier.verify(&parts.join(".")).await,
            Err(TokenError::BadSignature)
        );
        // A different key under the right kid fails too (the EC key's signature is not ours).
        let header = URL_SAFE_NO_PAD.encode(json!({"alg": "ES256", "kid": EC_KID}).to_string());
        let other = sign(Algorithm::ES256, Some(EC_KID), &issuer.claims(), &ec_key());
        let signature = other.rsplit('.').next().expect("signature");
        let mismatched = format!("{header}.{forged}.{signature}");
        assert_eq!(
            verifier.verify(&mismatched).await,
            Err(TokenError::BadSignature)
        );
    }

    #[tokio::test]
    async fn oidc_claims_are_validated() {
        let issuer = FakeIssuer::start().await;
        let verifier = issuer.verifier(REFRESH_INTERVAL);
        let cases: [(&str, Value, TokenError); 6] = [
            ("aud", json!("another-client"), TokenError::WrongAudience),
            (
                "iss",
                json!("https://evil.example"),
                TokenError::WrongIssuer,
            ),
            ("iss", json!(LOCAL_ISSUER), TokenError::WrongIssuer),
            ("exp", json!(now() - 3600), TokenError::Expired),
            ("nbf", json!(now() + 3600), TokenError::NotYetValid),
            (
                "email_verified",
                json!(false),
                TokenError::MissingClaim("email"),
            ),
        ];
        for (claim, value, expected) in cases {
            let mut claims = issuer.claims();
            claims[claim] = value;
            let token = sign(Algorithm::ES256, Some(EC_KID), &claims, &ec_key());
            assert_eq!(verifier.verify(&token).await, Err(expected), "{claim}");
        }
    }

    #[tokio::test]
    async fn oidc_token_without_email_is_refused() {
        let issuer = FakeIssuer::start().await;
        let verifier = issuer.verifier(REFRESH_INTERVAL);
        for claim in ["email", "sub", "aud", "exp"] {
            let mut claims = issuer.claims();
            claims.as_object_mut().expect("object").remove(claim);
            let token = sign(Algorithm::RS256, Some(RSA_KID), &claims, &rsa_key());
            assert_eq!(
                verifier.verify(&token).await,
                Err(TokenError::MissingClaim(claim)),
                "without `{claim}`"
            );
        }
    }

    #[tokio::test]
    async fn local_tokens_still_work_next_to_an_issuer() {
        let issuer = FakeIssuer::start().await;
        let verifier = issuer.verifier(REFRESH_INTERVAL);
        let token = mint_local(SECRET, USER_ID, EMAIL, Duration::from_mins(5));
        let subject = verifier.verify(&token).await.expect("local token verifies");
        assert_eq!(subject.issuer, LOCAL_ISSUER);
        assert_eq!(subject.subject, USER_ID);
        assert_eq!((issuer.discovery_hits(), issuer.jwks_hits()), (0, 0));
    }

    #[tokio::test]
    async fn unreachable_issuer_is_a_key_source_error_and_is_not_hammered() {
        let issuer = FakeIssuer::start().await;
        issuer.failing.store(true, Ordering::SeqCst);
        let verifier = issuer.verifier(REFRESH_INTERVAL);
        let token = sign(
            Algorithm::RS256,
            Some(RSA_KID),
            &issuer.claims(),
            &rsa_key(),
        );
        let error = verifier.verify(&token).await.expect_err("issuer is down");
        assert!(matches!(error, TokenError::KeySource(_)), "{error:?}");
        assert!(!error.is_client_fault());
        // Within the window the failure is remembered, not retried.
        let again = verifier.verify(&token).await.expect_err("still down");
        assert!(matches!(again, TokenError::KeySource(_)), "{again:?}");
        assert_eq!(issuer.jwks_hits(), 1);
    }

    #[tokio::test]
    async fn issuer_recovering_is_noticed_after_the_window() {
        let issuer = FakeIssuer::start().await;
        issuer.failing.store(true, Ordering::SeqCst);
        let verifier = issuer.verifier(Duration::ZERO);
        let token = sign(
            Algorithm::RS256,
            Some(RSA_KID),
            &issuer.claims(),
            &rsa_key(),
        );
        assert!(matches!(
            verifier.verify(&token).await,
            Err(TokenError::KeySource(_))
        ));
        issuer.failing.store(false, Ordering::SeqCst);
        assert!(verifier.verify(&token).await.is_ok());
        // The failed JWKS fetch made us re-discover, in case the issuer moved its keys.
        assert_eq!(issuer.discovery_hits(), 2);
    }

    #[tokio::test]
    async fn issuer_that_does_not_listen_is_a_key_source_error() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let addr = listener.local_addr().expect("address");
        drop(listener); // Nothing listens there now.
        let config = OidcConfig {
            issuer: format!("http://{addr}"),
            audience: AUDIENCE.to_owned(),
        };
        let verifier = TokenVerifier::new(SECRET, Some(config), http());
        let claims = json!({"sub": "x", "email": EMAIL, "iss": format!("http://{addr}"),
            "aud": AUDIENCE, "exp": now() + 600});
        let token = sign(Algorithm::RS256, Some(RSA_KID), &claims, &rsa_key());
        assert!(matches!(
            verifier.verify(&token).await,
            Err(TokenError::KeySource(_))
        ));
    }
}
