//! Running a request's DataLoader batches in the request's own task, once the request waits
//! on nothing but them.
//!
//! async-graphql's DataLoader gathers keys for a fixed delay, then loads them in a task of its
//! own. The delay is a guess at how long one level of a query takes to ask for all its keys,
//! and under load the guess is wrong: with 32 requests on two cores a request's task waits
//! behind the others for longer than any sensible delay, the batch fires with the keys asked so
//! far, and the rest go in more batches. Finance's page of 100 invoices (`bench/run`'s
//! `invoices`) cost 36.6 statements a request under `hey -c 32` against 7 under `-c 4`,
//! counted in PostgreSQL's log; each split batch had its own number of parameters, so
//! PostgreSQL also prepared most of them afresh.
//!
//! A [`BatchScope`] replaces the guess with the fact. Loaders hand their batches to the scope
//! instead of spawning them ([`BatchScope::spawner`]), and [`BatchScope::run`] polls the batches
//! only when the request's future has gone quiet (it returned `Pending` without waking itself,
//! so every field of the level has asked for its keys) and every batch of the level before has
//! answered. A level's loads are therefore one batch per loader however slowly the machine gets
//! to them, and the statement count of a query is its shape, not the load on the machine.
//!
//! The DataLoader's own delay is zero here. Its timer still waits for the next millisecond
//! tick before the batch takes its keys; nothing else of the request runs meanwhile, so no
//! key is missed.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll, Wake, Waker};

use futures::future::BoxFuture;
use futures::stream::{FuturesUnordered, StreamExt};

/// How many times one poll of [`Scoped`] goes round (request, then batches) before it hands
/// the thread back to the runtime.
const ROUNDS_PER_POLL: usize = 16;

/// After this many polls in a row in which the request never went quiet, its batches run
/// anyway: a request that keeps waking itself must not starve them. async-graphql's own
/// yields (a list of futures yields once per pass over its items) go quiet within a round
/// or two.
const STARVED_AFTER_POLLS: usize = 16;

/// The batches of one request's loaders, waiting to run in its task.
#[derive(Default, Clone)]
pub struct BatchScope {
    submitted: Arc<Mutex<Vec<BoxFuture<'static, ()>>>>,
}

impl std::fmt::Debug for BatchScope {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BatchScope").finish_non_exhaustive()
    }
}

impl BatchScope {
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// The spawner to give a `DataLoader`: it queues the batch for [`BatchScope::run`].
    pub fn spawner(&self) -> impl Fn(BoxFuture<'static, ()>) + Send + Sync + 'static {
        let submitted = Arc::clone(&self.submitted);
        move |batch| {
            submitted
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .push(batch);
        }
    }

    /// Runs `request` to completion, and with it every batch its loaders submit.
    pub fn run<F: Future>(self, request: F) -> Scoped<F> {
        Scoped {
            request: Box::pin(request),
            scope: self,
            waiting: Vec::new(),
            running: FuturesUnordered::new(),
            busy_polls: 0,
        }
    }

    fn take_submitted(&self) -> Vec<BoxFuture<'static, ()>> {
        std::mem::take(
            &mut *self
                .submitted
                .lock()
                .unwrap_or_else(PoisonError::into_inner),
        )
    }
}

/// A request running with its batches: see [`BatchScope::run`].
#[must_use = "futures do nothing unless polled"]
pub struct Scoped<F: Future> {
    request: Pin<Box<F>>,
    scope: BatchScope,
    /// Batches submitted and not started: the level being asked for.
    waiting: Vec<BoxFuture<'static, ()>>,
    /// Batches loading: the level before.
    running: FuturesUnordered<BoxFuture<'static, ()>>,
    /// Polls in a row that ended with the request still asking to be polled.
    busy_polls: usize,
}

impl<F: Future> std::fmt::Debug for Scoped<F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Scoped")
            .field("waiting", &self.waiting.len())
            .field("running", &self.running.len())
            .finish_non_exhaustive()
    }
}

impl<F: Future> Future for Scoped<F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let this = self.get_mut();
        // Everything inside is polled with a waker that notes being woken (and passes the
        // wake on), so a round can tell "waiting on I/O" from "asked to be polled again".
        let woken = Arc::new(NotingWaker {
            woken: AtomicBool::new(false),
            task: cx.waker().clone(),
        });
        let waker = Waker::from(Arc::clone(&woken));
        let mut inner = Context::from_waker(&waker);
        let starved = this.busy_polls >= STARVED_AFTER_POLLS;
        for _ in 0..ROUNDS_PER_POLL {
            woken.woken.store(false, Ordering::Relaxed);
            if let Poll::Ready(output) = this.request.as_mut().poll(&mut inner) {
                return Poll::Ready(output);
            }
            this.waiting.extend(this.scope.take_submitted());
            let quiet = !woken.woken.load(Ordering::Relaxed);
            // The next level starts when the request has asked for all of it and every batch
            // of the level before has answered: until the last one answers, its answers may
            // still add keys to the next level's batches (an invoice's lines and its account's
            // schools both ask for schools, one level down from two different batches).
            if (quiet || starved) && this.running.is_empty() && !this.waiting.is_empty() {
                this.busy_polls = 0;
                this.running.extend(this.waiting.drain(..));
            }
            // A batch that finishes answers its loads, which wakes the request for the next
            // round.
            while let Poll::Ready(Some(())) = this.running.poll_next_unpin(&mut inner) {}
            if !woken.woken.load(Ordering::Relaxed) {
                // Nothing to do until the database answers.
                return Poll::Pending;
            }
        }
        // The waker was woken, so the runtime polls this again: the rounds go on then,
        // after other tasks have had their turn.
        this.busy_polls += 1;
        Poll::Pending
    }
}

/// A waker that records that it was woken before waking the task.
struct NotingWaker {
    woken: AtomicBool,
    task: Waker,
}

impl Wake for NotingWaker {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.woken.store(true, Ordering::Relaxed);
        self.task.wake_by_ref();
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;
    use std::sync::atomic::AtomicUsize;
    use std::time::Duration;

    use async_graphql::dataloader::{DataLoader, Loader};

    use super::*;

    /// Records the size of every batch it loads.
    struct Recording(Arc<Mutex<Vec<usize>>>);

    impl Loader<u32> for Recording {
        type Value = u32;
        type Error = std::convert::Infallible;

        async fn load(&self, keys: &[u32]) -> Result<HashMap<u32, u32>, Self::Error> {
            self.0.lock().expect("not poisoned").push(keys.len());
            Ok(keys.iter().map(|k| (*k, k * 2)).collect())
        }
    }

    /// A [`Recording`] whose every batch takes `.1` to answer, as a bigger statement does.
    struct Slow(Recording, Duration);

    impl Loader<u32> for Slow {
        type Value = u32;
        type Error = std::convert::Infallible;

        async fn load(&self, keys: &[u32]) -> Result<HashMap<u32, u32>, Self::Error> {
            tokio::time::sleep(self.1).await;
            self.0.load(keys).await
        }
    }

    /// Yields to the runtime `n` times, as a busy resolver does between loads.
    async fn busy(n: u32) {
        for _ in 0..n {
            tokio::task::yield_now().await;
        }
    }

    /// Holds the thread for 50 µs, as resolving a field does: 100 of them take longer than a
    /// DataLoader's usual 1 ms delay, the way a page takes on a loaded machine.
    fn resolve_a_field() {
        std::thread::sleep(Duration::from_micros(50));
    }

    /// 100 loads asked over longer than a DataLoader's delay, while the request keeps
    /// yielding and the runtime is busy with other tasks, still make one batch per level: it
    /// runs when the request has nothing else to do. (With `tokio::spawn` and a 1 ms delay,
    /// the first level went in several batches.)
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn one_level_is_one_batch_however_slowly_it_asks() {
        let sizes = Arc::new(Mutex::new(Vec::new()));
        let scope = BatchScope::new();
        let loader =
            DataLoader::new(Recording(Arc::clone(&sizes)), scope.spawner()).delay(Duration::ZERO);
        // Other work on the runtime, as other requests are.
        let spinning = Arc::new(AtomicUsize::new(0));
        let noise: Vec<_> = (0..8)
            .map(|_| {
                let spinning = Arc::clone(&spinning);
                tokio::spawn(async move {
                    for _ in 0..2_000 {
                        spinning.fetch_add(1, Ordering::Relaxed);
                        tokio::task::yield_now().await;
                    }
                })
            })
            .collect();
        let loader = &loader;
        let answers = scope
            .run(futures::future::join_all((0..100u32).map(|k| async move {
                busy(k % 3).await;
                resolve_a_field();
                let doubled = loader.load_one(k).await.expect("infallible");
                // A second level, asked as the first answers.
                busy(1).await;
                resolve_a_field();
                (
                    doubled,
                    loader.load_one(1_000 + k).await.expect("infallible"),
                )
            })))
            .await;
        for task in noise {
            task.await.expect("the noise ran");
        }
        assert_eq!(answers.len(), 100);
        assert!(
            answers
                .iter()
                .zip(0u32..)
                .all(|(a, k)| *a == (Some(k * 2), Some((1_000 + k) * 2)))
        );
        assert_eq!(*sizes.lock().expect("not poisoned"), vec![100, 100]);
    }

    /// Keys one level down from two batches of different speed go in one batch: the level
    /// starts when the slower has answered too.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_level_fed_by_a_fast_and_a_slow_batch_is_one_batch() {
        let sizes = Arc::new(Mutex::new(Vec::new()));
        let recording = || Recording(Arc::clone(&sizes));
        let scope = BatchScope::new();
        let fast = DataLoader::new(recording(), scope.spawner()).delay(Duration::ZERO);
        let slow = DataLoader::new(
            Slow(recording(), Duration::from_millis(20)),
            scope.spawner(),
        )
        .delay(Duration::ZERO);
        let below = DataLoader::new(recording(), scope.spawner()).delay(Duration::ZERO);
        let (fast, slow, below) = (&fast, &slow, &below);
        let answers = scope
            .run(futures::future::join_all((0..100u32).map(|k| async move {
                let parent = if k % 2 == 0 {
                    fast.load_one(k).await
                } else {
                    slow.load_one(k).await
                };
                let parent = parent.expect("infallible").expect("answered");
                below.load_one(parent).await.expect("infallible")
            })))
            .await;
        assert!(answers.iter().zip(0u32..).all(|(a, k)| *a == Some(k * 4)));
        let mut sizes = sizes.lock().expect("not poisoned").clone();
        sizes.sort_unstable();
        assert_eq!(
            sizes,
            vec![50, 50, 100],
            "two parents' batches, then one below"
        );
    }

    /// A request that never stops waking itself still gets its batches run.
    #[tokio::test]
    async fn a_request_that_keeps_yielding_is_not_starved_of_its_batches() {
        let sizes = Arc::new(Mutex::new(Vec::new()));
        let scope = BatchScope::new();
        let loader =
            DataLoader::new(Recording(Arc::clone(&sizes)), scope.spawner()).delay(Duration::ZERO);
        let loader = &loader;
        let (answer, ()) = scope
            .run(async move {
                futures::future::join(loader.load_one(7), async {
                    // Wakes itself on every poll for longer than the load takes.
                    busy(10_000).await;
                })
                .await
            })
            .await;
        assert_eq!(answer.expect("infallible"), Some(14));
        assert_eq!(*sizes.lock().expect("not poisoned"), vec![1]);
    }
}
