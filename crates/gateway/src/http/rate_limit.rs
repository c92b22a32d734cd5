//! Rate limits on `/graphql`: a token bucket per caller, and one per client address for
//! requests that do not sign in.
//!
//! A signed-in caller (a user, whatever token they came with, or an API key) has a bucket of
//! `rate_limit_burst` requests refilled at `rate_limit_per_min`; a request that fails to sign
//! in is charged to its client address (`rate_limit_anonymous_*`), so guessing credentials is
//! slowed as much as flooding. Buckets are governor's GCRA (no timers, one small state per
//! key); keys idle for a full bucket are forgotten every minute, so the maps stay bounded by
//! the callers of the last minute. Limits are per replica: N replicas let a caller through N
//! times the rate, which the configured figures should allow for.
//!
//! Every answer on `/graphql` carries the IETF draft's fields
//! (draft-ietf-httpapi-ratelimit-headers): `RateLimit-Policy: "caller";q=600;w=60` (the quota
//! per window of seconds) and `RateLimit: "caller";r=99;t=12` (requests left in the bucket,
//! seconds until it is full again). A refused request gets 429 with `Retry-After` (seconds)
//! and a GraphQL error coded `RATE_LIMITED`.

use std::net::{IpAddr, SocketAddr};
use std::num::NonZeroU32;
use std::sync::{Arc, Weak};
use std::time::Duration;

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderName, HeaderValue};
use governor::clock::{Clock as _, DefaultClock};
use governor::middleware::StateInformationMiddleware;
use governor::{Quota, RateLimiter};

use crate::config::Config;

type Limiter<K> = RateLimiter<
    K,
    governor::state::keyed::DefaultKeyedStateStore<K>,
    DefaultClock,
    StateInformationMiddleware,
>;

pub const RATE_LIMIT: HeaderName = HeaderName::from_static("ratelimit");
pub const RATE_LIMIT_POLICY: HeaderName = HeaderName::from_static("ratelimit-policy");

/// One bucket per key, and how to describe it.
struct Bucket<K: std::hash::Hash + Eq + Clone> {
    name: &'static str,
    limiter: Limiter<K>,
    per_min: u32,
    burst: u32,
    policy: HeaderValue,
}

impl<K: std::hash::Hash + Eq + Clone> Bucket<K> {
    fn new(name: &'static str, per_min: u32, burst: u32) -> Option<Self> {
        let rate = NonZeroU32::new(per_min)?;
        let burst_nz = NonZeroU32::new(burst).unwrap_or(rate);
        let quota = Quota::per_minute(rate).allow_burst(burst_nz);
        let policy = HeaderValue::from_str(&format!("\"{name}\";q={per_min};w=60"))
            .unwrap_or_else(|_| HeaderValue::from_static("\"caller\""));
        Some(Self {
            name,
            limiter: RateLimiter::dashmap(quota).with_middleware::<StateInformationMiddleware>(),
            per_min,
            burst: burst_nz.get(),
            policy,
        })
    }

    fn replenish(&self) -> Duration {
        Duration::from_mins(1) / self.per_min.max(1)
    }

    fn check(&self, key: &K) -> Verdict {
        match self.limiter.check_key(key) {
            Ok(snapshot) => {
                let left = snapshot.remaining_burst_capacity();
                let until_full = self.replenish() * self.burst.saturating_sub(left);
                Verdict {
                    policy: self.policy.clone(),
                    state: header(&format!(
                        "\"{}\";r={left};t={}",
                        self.name,
                        ceil_secs(until_full)
                    )),
                    retry_after: None,
                }
            }
            Err(not_until) => {
                let wait = ceil_secs(not_until.wait_time_from(self.limiter.clock().now())).max(1);
                Verdict {
                    policy: self.policy.clone(),
                    state: header(&format!("\"{}\";r=0;t={wait}", self.name)),
                    retry_after: Some(wait),
                }
            }
        }
    }

    fn forget_idle(&self) {
        self.limiter.retain_recent();
        self.limiter.shrink_to_fit();
    }
}

fn header(text: &str) -> HeaderValue {
    HeaderValue::from_str(text).unwrap_or_else(|_| HeaderValue::from_static("\"caller\""))
}

fn ceil_secs(duration: Duration) -> u64 {
    duration.as_secs() + u64::from(duration.subsec_nanos() > 0)
}

/// The outcome of one check: the headers to send, and whether to refuse.
#[derive(Debug, Clone)]
pub struct Verdict {
    policy: HeaderValue,
    state: HeaderValue,
    /// `Some(seconds)` when the request is refused.
    pub retry_after: Option<u64>,
}

impl Verdict {
    /// Adds `RateLimit-Policy`, `RateLimit` and, when refused, `Retry-After`.
    pub fn apply(&self, headers: &mut HeaderMap) {
        headers.insert(RATE_LIMIT_POLICY, self.policy.clone());
        headers.insert(RATE_LIMIT, self.state.clone());
        if let Some(secs) = self.retry_after {
            headers.insert(axum::http::header::RETRY_AFTER, HeaderValue::from(secs));
        }
    }
}

/// The buckets of one replica.
pub struct RateLimits {
    callers: Option<Bucket<String>>,
    anonymous: Option<Bucket<IpAddr>>,
}

impl std::fmt::Debug for RateLimits {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RateLimits")
            .field(
                "callers",
                &self.callers.as_ref().map(|b| (b.per_min, b.burst)),
            )
            .field(
                "anonymous",
                &self.anonymous.as_ref().map(|b| (b.per_min, b.burst)),
            )
            .finish()
    }
}

impl RateLimits {
    /// The configured limits; a zero rate turns that bucket off. Starts the task that
    /// forgets idle keys (it ends when the limits are dropped).
    #[must_use]
    pub fn new(config: &Config) -> Arc<Self> {
        let limits = Arc::new(Self {
            callers: Bucket::new("caller", config.rate_limit_per_min, config.rate_limit_burst),
            anonymous: Bucket::new(
                "anonymous",
                config.rate_limit_anonymous_per_min,
                config.rate_limit_anonymous_burst,
            ),
        });
        if limits.callers.is_some() || limits.anonymous.is_some() {
            let weak: Weak<Self> = Arc::downgrade(&limits);
            tokio::spawn(async move {
                let mut tick = tokio::time::interval(Duration::from_mins(1));
                tick.tick().await;
                loop {
                    tick.tick().await;
                    let Some(limits) = weak.upgrade() else { break };
                    if let Some(b) = &limits.callers {
                        b.forget_idle();
                    }
                    if let Some(b) = &limits.anonymous {
                        b.forget_idle();
                    }
                }
            });
        }
        limits
    }

    /// Charges one request to a signed-in caller (`Actor::caller_id`).
    #[must_use]
    pub fn check_caller(&self, caller_id: &str) -> Option<Verdict> {
        self.callers
            .as_ref()
            .map(|b| b.check(&caller_id.to_owned()))
    }

    /// Charges one request that did not sign in to its client address (all unknown
    /// addresses share one bucket).
    #[must_use]
    pub fn check_anonymous(&self, ip: Option<IpAddr>) -> Option<Verdict> {
        self.anonymous
            .as_ref()
            .map(|b| b.check(&ip.unwrap_or(IpAddr::from([0, 0, 0, 0]))))
    }
}

/// The TCP peer's address (when the server was started with connect info, as `App::serve`
/// does).
#[derive(Debug, Clone, Copy)]
pub struct PeerIp(pub Option<IpAddr>);

impl<S: Send + Sync> FromRequestParts<S> for PeerIp {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(Self(
            parts
                .extensions
                .get::<ConnectInfo<SocketAddr>>()
                .map(|c| c.0.ip()),
        ))
    }
}

/// The client's address: the TCP peer, or, behind a proxy Trellis is told to trust
/// (`TRELLIS_CLIENT_IP_HEADER`, e.g. `x-forwarded-for`), the last address in that header —
/// the one the trusted proxy appended itself.
#[must_use]
pub fn client_ip(
    trusted_header: Option<&HeaderName>,
    headers: &HeaderMap,
    peer: PeerIp,
) -> Option<IpAddr> {
    let forwarded = trusted_header.and_then(|name| {
        headers
            .get_all(name)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .filter_map(|v| v.trim().parse::<IpAddr>().ok())
            .next_back()
    });
    forwarded.or(peer.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(per_min: u32, burst: u32) -> RateLimits {
        RateLimits {
            callers: Bucket::new("caller", per_min, burst),
            anonymous: Bucket::new("anonymous", per_min, burst),
        }
    }

    #[test]
    fn a_bucket_lets_its_burst_through_then_says_when_to_retry() {
        let limits = limits(60, 3);
        let mut left = Vec::new();
        for _ in 0..3 {
            let verdict = limits.check_caller("user:a").expect("on");
            assert_eq!(verdict.retry_after, None);
            left.push(verdict.state.to_str().expect("ascii").to_owned());
        }
        assert_eq!(left[0], "\"caller\";r=2;t=1");
        assert_eq!(left[2], "\"caller\";r=0;t=3");
        let refused = limits.check_caller("user:a").expect("on");
        assert_eq!(refused.retry_after, Some(1));
        assert_eq!(refused.policy, "\"caller\";q=60;w=60");
        // Another caller has a bucket of their own.
        assert_eq!(
            limits.check_caller("api_key:b").expect("on").retry_after,
            None
        );
        let mut headers = HeaderMap::new();
        refused.apply(&mut headers);
        assert_eq!(headers["retry-after"], "1");
        assert_eq!(headers["ratelimit"], "\"caller\";r=0;t=1");
    }

    #[test]
    fn the_client_is_the_peer_unless_a_trusted_proxy_says() {
        let peer = PeerIp(Some(IpAddr::from([10, 0, 0, 7])));
        let mut headers = HeaderMap::new();
        headers.append(
            "x-forwarded-for",
            HeaderValue::from_static("1.1.1.1, 203.0.113.9"),
        );
        assert_eq!(client_ip(None, &headers, peer), peer.0);
        let name = HeaderName::from_static("x-forwarded-for");
        assert_eq!(
            client_ip(Some(&name), &headers, peer),
            Some(IpAddr::from([203, 0, 113, 9]))
        );
        assert_eq!(client_ip(Some(&name), &HeaderMap::new(), peer), peer.0);
    }

    #[test]
    fn zero_turns_a_bucket_off() {
        let limits = limits(0, 10);
        assert!(limits.check_caller("user:a").is_none());
        assert!(limits.check_anonymous(None).is_none());
    }
}
