//! An event budget shared by every connection with the same key (a user, a
//! widget or API key, a client address): it survives reconnects.
//!
//! GCRA (`governor`) rather than the per-socket sliding-window log: a key's
//! whole state is one `u64` (the log needs N instants per key, 1.6 KB for
//! 100, and these maps hold up to `PARLEY_RATE_LIMIT_MAX_KEYS` keys), it is
//! updated lock-free, and it says exactly when the next event will pass.
//! Its price: a budget of N per window lets N through at once and then one
//! every window/N, so one window can see up to 2N. The seed's promise of
//! "100 per 60 s" stays with the per-socket log.
//!
//! Memory is bounded by a `moka` cache as governor's state store:
//! - entries idle for a whole window go (time-to-idle). Such a key's bucket
//!   is full again, as it would be for a new key, so eviction never gives a
//!   client anything back early;
//! - at most `max_keys` entries (moka evicts by its own policy past that).
//!   A busy key evicted that way starts afresh: when more keys are active at
//!   once than the cap, limits fail open for some of them, rather than
//!   refusing newcomers; the per-socket limit still holds.

use governor::clock::{Clock, MonotonicClock};
use governor::middleware::NoOpMiddleware;
use governor::nanos::Nanos;
use governor::state::{InMemoryState, NotKeyed, StateStore};
use governor::{Quota, RateLimiter};
use moka::sync::Cache;
use std::hash::Hash;
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

/// `events` per `window` for each key, over at most `max_keys` keys.
pub struct Budget<K, C: Clock = MonotonicClock>
where
    K: Hash + Eq + Clone + Send + Sync + 'static,
{
    limiter: RateLimiter<K, Store<K>, C, NoOpMiddleware<C::Instant>>,
    events: NonZeroU32,
    window: Duration,
    /// The limiter's cache (a handle on the same one), to count its keys.
    #[cfg(test)]
    keys: Cache<K, Arc<InMemoryState>>,
}

impl<K> Budget<K>
where
    K: Hash + Eq + Clone + Send + Sync + 'static,
{
    pub fn new(events: NonZeroU32, window: Duration, max_keys: u64) -> Self {
        Self::with_clock(events, window, max_keys, MonotonicClock)
    }
}

impl<K, C> Budget<K, C>
where
    K: Hash + Eq + Clone + Send + Sync + 'static,
    C: Clock,
{
    fn with_clock(events: NonZeroU32, window: Duration, max_keys: u64, clock: C) -> Self {
        // One event back every window/events; never a zero period.
        let period = (window / events.get()).max(Duration::from_nanos(1));
        let quota = Quota::with_period(period)
            .expect("a non-zero period")
            .allow_burst(events);
        let keys = Cache::builder()
            .max_capacity(max_keys)
            // A full bucket refills within one window.
            .time_to_idle(window.max(Duration::from_millis(1)))
            .build();
        Self {
            #[cfg(test)]
            keys: keys.clone(),
            limiter: RateLimiter::new(quota, Store(keys), clock),
            events,
            window,
        }
    }

    /// Count one event of `key`: `Err(retry_after)` when over budget (and
    /// then it is not counted). One cache lookup.
    pub fn check(&self, key: &K) -> Result<(), Duration> {
        self.limiter
            .check_key(key)
            .map_err(|not_until| not_until.wait_time_from(self.limiter.clock().now()))
    }

    pub fn events(&self) -> u32 {
        self.events.get()
    }

    pub fn window(&self) -> Duration {
        self.window
    }

    /// Keys held now, once pending evictions have run.
    #[cfg(test)]
    fn tracked(&self) -> u64 {
        self.keys.run_pending_tasks();
        self.keys.entry_count()
    }
}

/// governor's keyed state on a moka cache: one `InMemoryState` (an atomic
/// u64) per key, updated in place.
#[derive(Clone)]
struct Store<K: Hash + Eq + Send + Sync + 'static>(Cache<K, Arc<InMemoryState>>);

impl<K> StateStore for Store<K>
where
    K: Hash + Eq + Clone + Send + Sync + 'static,
{
    type Key = K;

    fn measure_and_replace<T, F, E>(&self, key: &K, f: F) -> Result<T, E>
    where
        F: Fn(Option<Nanos>) -> Result<(T, Nanos), E>,
    {
        self.0
            .get_with_by_ref(key, Default::default)
            .measure_and_replace(&NotKeyed::NonKey, f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use governor::clock::FakeRelativeClock;

    fn budget(
        events: u32,
        window: Duration,
        max_keys: u64,
    ) -> (Budget<u32, FakeRelativeClock>, FakeRelativeClock) {
        let clock = FakeRelativeClock::default();
        let events = NonZeroU32::new(events).unwrap();
        (
            Budget::with_clock(events, window, max_keys, clock.clone()),
            clock,
        )
    }

    #[test]
    fn a_key_gets_its_burst_then_one_event_per_period_and_is_told_when() {
        let (budget, clock) = budget(3, Duration::from_secs(60), 100);
        for _ in 0..3 {
            assert_eq!(budget.check(&1), Ok(()));
        }
        // One event comes back every 60 s / 3.
        assert_eq!(budget.check(&1), Err(Duration::from_secs(20)));
        clock.advance(Duration::from_secs(5));
        // A refused event is not counted.
        assert_eq!(budget.check(&1), Err(Duration::from_secs(15)));
        clock.advance(Duration::from_secs(15));
        assert_eq!(budget.check(&1), Ok(()));
        assert!(budget.check(&1).is_err());
    }

    #[test]
    fn keys_have_budgets_of_their_own() {
        let (budget, _clock) = budget(1, Duration::from_secs(60), 100);
        assert_eq!(budget.check(&1), Ok(()));
        assert!(budget.check(&1).is_err());
        assert_eq!(budget.check(&2), Ok(()));
    }

    #[test]
    fn a_window_after_its_last_event_a_key_has_its_whole_budget_again() {
        let (budget, clock) = budget(2, Duration::from_secs(60), 100);
        assert!(budget.check(&1).is_ok() && budget.check(&1).is_ok());
        assert!(budget.check(&1).is_err());
        clock.advance(Duration::from_secs(60));
        assert!(budget.check(&1).is_ok() && budget.check(&1).is_ok());
        assert!(budget.check(&1).is_err());
    }

    #[test]
    fn the_number_of_keys_held_never_exceeds_the_cap() {
        let (budget, _clock) = budget(10, Duration::from_secs(60), 100);
        for key in 0..10_000 {
            let _ = budget.check(&key);
        }
        let held = budget.tracked();
        assert!(held <= 100, "{held} keys held");
    }

    #[test]
    fn keys_idle_for_a_window_are_evicted_without_giving_budget_back_early() {
        // Real time: moka measures idleness with its own clock.
        let window = Duration::from_millis(200);
        let budget = Budget::<u32>::new(NonZeroU32::new(2).unwrap(), window, 1_000);
        for key in 0..50 {
            let _ = budget.check(&key);
        }
        assert!(budget.check(&0).is_ok());
        let retry = budget.check(&0).expect_err("key 0 spent its budget");
        assert!(retry <= window, "{retry:?}");
        std::thread::sleep(window + Duration::from_millis(100));
        assert_eq!(budget.tracked(), 0);
        // Evicted, key 0 has exactly the budget it would have had anyway.
        assert!(budget.check(&0).is_ok() && budget.check(&0).is_ok());
        assert!(budget.check(&0).is_err());
    }
}
