//! How many GraphQL operations one replica runs at once (`TRELLIS_MAX_CONCURRENT_OPERATIONS`).
//!
//! An operation's memory is at its peak while it runs: the rows read, the response tree
//! async-graphql builds and the JSON it is written into (55–60 kB for `bench/run`'s 100-row
//! pages, the tree behind it several times that). The allocator keeps what a peak made
//! resident, so the process's memory after a burst follows how many operations ran side by
//! side, not how many requests came. Past a few per core, more at once buy no throughput: they
//! share the same cores and the same database pool, and each holds its memory longer. So
//! `/graphql` runs at most this many operations at once and the others wait their turn, in
//! arrival order (tokio's semaphore is fair), inside the request timeout like any other wait. Waiting operations are counted in
//! `trellis_graphql_operations_waiting`: one that stays above zero asks for another replica.
//! The wait is part of the operation's time in `trellis_graphql_operation_duration_seconds`,
//! as it is of the client's.
//!
//! Only operations take a slot. The body is read and the caller signed in and rate-limited
//! first, so a slot is never held for a slow client or a refused one. Operations over the
//! graphql-ws socket take none: they are mostly subscriptions, which live for hours.

use std::sync::Arc;

use prometheus_client::metrics::gauge::Gauge;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// The operation slots of one replica.
#[derive(Clone, Debug)]
pub struct Admission {
    /// `None` when unlimited (`TRELLIS_MAX_CONCURRENT_OPERATIONS=0`).
    slots: Option<Arc<Semaphore>>,
    waiting: Gauge,
}

/// An operation's slot, given back when dropped.
#[derive(Debug)]
#[must_use = "the operation holds its slot only while this is alive"]
pub struct Slot {
    _permit: Option<OwnedSemaphorePermit>,
}

impl Admission {
    /// At most `limit` operations at once (0: no limit); waits are counted in `waiting`.
    #[must_use]
    pub fn new(limit: u32, waiting: Gauge) -> Self {
        // More than tokio's semaphore holds is no limit in practice, and would panic.
        let permits = usize::try_from(limit)
            .unwrap_or(usize::MAX)
            .min(Semaphore::MAX_PERMITS);
        let slots = (limit > 0).then(|| Arc::new(Semaphore::new(permits)));
        Self { slots, waiting }
    }

    /// A slot for one operation, once one is free.
    pub async fn enter(&self) -> Slot {
        let Some(slots) = &self.slots else {
            return Slot { _permit: None };
        };
        if let Ok(permit) = Arc::clone(slots).try_acquire_owned() {
            return Slot {
                _permit: Some(permit),
            };
        }
        // Counted until this returns or the request is dropped while waiting (the client went
        // away, or the request timed out).
        let _waiting = Waiting::start(&self.waiting);
        // The semaphore is never closed, so this only fails if that changes; the operation
        // then runs rather than failing for it.
        Slot {
            _permit: Arc::clone(slots).acquire_owned().await.ok(),
        }
    }
}

/// One waiting operation on the gauge, for as long as it lives.
struct Waiting<'a>(&'a Gauge);

impl<'a> Waiting<'a> {
    fn start(gauge: &'a Gauge) -> Self {
        gauge.inc();
        Self(gauge)
    }
}

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.0.dec();
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use tokio::task::JoinHandle;

    use super::*;

    /// An operation started on its own task, once it is the `behind`th waiting.
    async fn queue(admission: &Admission, waiting: &Gauge, behind: i64) -> JoinHandle<Slot> {
        let task = tokio::spawn({
            let admission = admission.clone();
            async move { admission.enter().await }
        });
        while waiting.get() < behind {
            tokio::task::yield_now().await;
        }
        task
    }

    #[tokio::test]
    async fn operations_past_the_limit_wait_for_a_slot_in_turn() {
        let waiting = Gauge::default();
        let admission = Admission::new(2, waiting.clone());
        let first = admission.enter().await;
        let second = admission.enter().await;
        assert_eq!(waiting.get(), 0, "two slots, two operations: nobody waits");

        // One after the other, so the queue's order is known.
        let third = queue(&admission, &waiting, 1).await;
        let fourth = queue(&admission, &waiting, 2).await;
        assert!(!third.is_finished() && !fourth.is_finished());

        drop(first);
        let third = third
            .await
            .expect("the third operation gets the freed slot");
        assert_eq!(waiting.get(), 1);
        assert!(!fourth.is_finished(), "one slot freed, one waiter let in");

        drop((second, third));
        let _fourth = fourth.await.expect("the fourth operation runs next");
        assert_eq!(waiting.get(), 0);
    }

    #[tokio::test]
    async fn a_request_dropped_while_waiting_leaves_the_count() {
        let waiting = Gauge::default();
        let admission = Admission::new(1, waiting.clone());
        let held = admission.enter().await;
        let gave_up = tokio::time::timeout(Duration::from_millis(20), admission.enter()).await;
        assert!(gave_up.is_err(), "the only slot is held");
        assert_eq!(waiting.get(), 0, "the timed-out request no longer waits");
        drop(held);
        let _next = admission.enter().await;
    }

    #[tokio::test]
    async fn zero_is_no_limit() {
        let waiting = Gauge::default();
        let admission = Admission::new(0, waiting.clone());
        let slots: Vec<Slot> =
            futures::future::join_all((0..1000).map(|_| admission.enter())).await;
        assert_eq!(slots.len(), 1000);
        assert_eq!(waiting.get(), 0);
    }
}
