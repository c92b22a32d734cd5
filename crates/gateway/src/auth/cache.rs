//! Who a signed-in user is, kept between their requests while the database says nothing
//! about it has changed.
//!
//! A token only names its user; the role and schools a request acts with are read from the
//! users table, so a deactivated user or a removed school stops working at once. That read
//! was a statement on every request: one of the three the traded catalogue costs. This
//! cache keeps each user's answer and drops every answer the moment any user or school link
//! changes:
//!
//! - On PostgreSQL, triggers on `users` and `user_schools` NOTIFY [`super::listen::CHANNEL`]
//!   when a change commits, whoever makes it: any replica, the CLI, a migration, psql. Each
//!   replica LISTENs on a connection of its own and calls [`ActorCache::forget_all`].
//! - A change made through this replica forgets at once too (`userUpdate` calls
//!   [`ActorCache::forget_all`] before answering), so its caller's next request sees it
//!   without waiting for the notification to come back.
//! - While the listening connection is down nothing is served from the cache or kept in it,
//!   since a notification could be missed, and it is emptied again once LISTEN is back.
//! - A read that started before a change and finished after its notification is not kept:
//!   [`ActorCache::lookup`] hands out the generation it saw, and [`ActorCache::keep`] refuses
//!   an answer read under an older one. Without it a stale row could outlive the
//!   notification meant to remove it.
//! - Every answer is also dropped after `ttl`, a bound for the one failure nobody hears of:
//!   a listening connection that died without closing, whose notifications stop silently.
//!
//! On SQLite the cache stays off: the CLI writes the same file from another process, which
//! has no way to tell the server, and an in-process read costs microseconds, not a round
//! trip. Unknown or inactive users are never kept, so creating or reactivating one needs no
//! notification to take effect.

use std::num::NonZeroUsize;
use std::sync::Mutex;
use std::time::Duration;

use kernel::{UserActor, UserId};
use lru::LruCache;
use tokio::time::Instant;

/// Users whose answer is kept per replica. A kept answer is a few hundred bytes, so this is
/// at most a few MB; past it the least recently seen user is read again.
const CAPACITY: NonZeroUsize = NonZeroUsize::new(10_000).expect("non-zero");

/// What a verified token names its user by.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Key {
    /// A Trellis-minted token: the user's id.
    Id(UserId),
    /// An OIDC token: the user's email, lower-cased.
    Email(String),
}

/// Permission to keep what a read that missed the cache finds; see [`ActorCache::keep`].
/// Copying it grants nothing more: it is only honoured while nothing has changed.
#[derive(Debug, Clone, Copy)]
#[must_use]
pub struct Ticket(Option<u64>);

/// The per-replica cache of signed-in users; see the module documentation.
#[derive(Debug)]
pub struct ActorCache {
    /// How long an answer is kept at most; `None` turns the cache off.
    ttl: Option<Duration>,
    state: Mutex<State>,
}

#[derive(Debug)]
struct State {
    /// Whether changes are being heard. Until they are, nothing is served or kept.
    hearing: bool,
    /// Moves on whenever kept answers are dropped, so a read that began before cannot keep
    /// its answer.
    generation: u64,
    entries: LruCache<Key, (UserActor, Instant)>,
}

impl ActorCache {
    /// A cache keeping answers for `ttl` once [`ActorCache::hearing`] says changes are heard.
    #[must_use]
    pub fn new(ttl: Duration) -> Self {
        Self::with(Some(ttl))
    }

    /// A cache that keeps nothing: every request reads its user.
    #[must_use]
    pub fn off() -> Self {
        Self::with(None)
    }

    fn with(ttl: Option<Duration>) -> Self {
        Self {
            ttl: ttl.filter(|t| !t.is_zero()),
            state: Mutex::new(State {
                hearing: false,
                generation: 0,
                entries: LruCache::new(CAPACITY),
            }),
        }
    }

    /// The kept answer for `key`, or a ticket to keep the one about to be read.
    pub fn lookup(&self, key: &Key) -> Result<UserActor, Ticket> {
        let Some(ttl) = self.ttl else {
            return Err(Ticket(None));
        };
        let mut state = self.lock();
        if !state.hearing {
            return Err(Ticket(None));
        }
        let ticket = Ticket(Some(state.generation));
        match state.entries.get(key) {
            Some((actor, at)) if at.elapsed() < ttl => Ok(actor.clone()),
            Some(_) => {
                state.entries.pop(key);
                Err(ticket)
            }
            None => Err(ticket),
        }
    }

    /// Keeps `actor` for `key` unless something changed since `ticket` was handed out.
    pub fn keep(&self, key: Key, ticket: Ticket, actor: &UserActor) {
        let Ticket(Some(generation)) = ticket else {
            return;
        };
        let mut state = self.lock();
        if state.hearing && state.generation == generation {
            state.entries.put(key, (actor.clone(), Instant::now()));
        }
    }

    /// Drops every kept answer: some user or school link changed.
    pub fn forget_all(&self) {
        let mut state = self.lock();
        state.generation = state.generation.wrapping_add(1);
        state.entries.clear();
    }

    /// Whether changes are heard from now on. Either way everything kept is dropped: what
    /// was kept before a gap in hearing may have changed during it.
    pub fn hearing(&self, hearing: bool) {
        let mut state = self.lock();
        state.hearing = hearing;
        state.generation = state.generation.wrapping_add(1);
        state.entries.clear();
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // Every critical section leaves the state whole, so a panic elsewhere never poisons
        // it in a way that matters.
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use kernel::{Role, SchoolId};

    use super::*;

    fn head() -> (Key, UserActor) {
        let id = UserId::new();
        let actor = UserActor {
            id,
            email: "head@holly-park.example".into(),
            role: Role::SchoolLeader,
            schools: vec![SchoolId::new()],
        };
        (Key::Id(id), actor)
    }

    /// A request that misses the cache and keeps what it read.
    fn read_and_keep(cache: &ActorCache, key: &Key, actor: &UserActor) {
        let ticket = cache.lookup(key).expect_err("a miss");
        cache.keep(key.clone(), ticket, actor);
    }

    fn heard(ttl: Duration) -> ActorCache {
        let cache = ActorCache::new(ttl);
        cache.hearing(true);
        cache
    }

    #[tokio::test]
    async fn an_answer_is_kept_for_the_next_request() {
        let cache = heard(Duration::from_mins(1));
        let (key, actor) = head();
        read_and_keep(&cache, &key, &actor);
        assert_eq!(cache.lookup(&key).expect("kept"), actor);
        assert!(
            cache
                .lookup(&Key::Email("head@holly-park.example".into()))
                .is_err(),
            "kept by the key it was read by only"
        );
    }

    #[tokio::test]
    async fn a_change_drops_every_answer() {
        let cache = heard(Duration::from_mins(1));
        let (key, actor) = head();
        read_and_keep(&cache, &key, &actor);
        cache.forget_all();
        assert!(cache.lookup(&key).is_err());
    }

    #[tokio::test]
    async fn a_read_overtaken_by_a_change_is_not_kept() {
        let cache = heard(Duration::from_mins(1));
        let (key, actor) = head();
        let ticket = cache.lookup(&key).expect_err("miss");
        // The user is deactivated while their row is being read, the old row arrives after.
        cache.forget_all();
        cache.keep(key.clone(), ticket, &actor);
        assert!(cache.lookup(&key).is_err(), "the stale row was kept");
    }

    #[tokio::test]
    async fn nothing_is_kept_or_served_while_changes_are_not_heard() {
        let cache = ActorCache::new(Duration::from_mins(1));
        let (key, actor) = head();
        read_and_keep(&cache, &key, &actor);
        assert!(cache.lookup(&key).is_err(), "kept before LISTEN");

        cache.hearing(true);
        read_and_keep(&cache, &key, &actor);
        assert!(cache.lookup(&key).is_ok());
        // The listening connection is lost: what was kept may miss a change from now on.
        cache.hearing(false);
        assert!(cache.lookup(&key).is_err(), "served while deaf");
        let ticket = cache.lookup(&key).expect_err("miss");
        cache.hearing(true);
        cache.keep(key.clone(), ticket, &actor);
        assert!(
            cache.lookup(&key).is_err(),
            "a read from the gap was kept after it"
        );
    }

    #[tokio::test]
    async fn an_answer_expires_after_its_ttl() {
        let cache = heard(Duration::from_millis(20));
        let (key, actor) = head();
        read_and_keep(&cache, &key, &actor);
        tokio::time::sleep(Duration::from_millis(40)).await;
        assert!(cache.lookup(&key).is_err(), "kept past its ttl");
    }

    #[tokio::test]
    async fn off_keeps_nothing() {
        for cache in [ActorCache::off(), ActorCache::new(Duration::ZERO)] {
            cache.hearing(true);
            let (key, actor) = head();
            read_and_keep(&cache, &key, &actor);
            assert!(cache.lookup(&key).is_err());
        }
    }
}
