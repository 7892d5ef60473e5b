//! The seed's per-socket rate limit: at most N events in any window of W.
//!
//! A sliding-window log (the instants of the last N accepted events) rather
//! than a token bucket such as `governor`'s GCRA: a bucket of burst N that
//! refills over W lets up to 2N events through in one window, and the seed
//! promises "100 events per 60 seconds". N instants per socket are cheap
//! (1.6 KB for the seed's 100).

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

#[derive(Clone)]
pub struct RateLimit(Arc<Mutex<Window>>);

struct Window {
    limit: usize,
    window: Duration,
    accepted: VecDeque<Instant>,
}

impl RateLimit {
    pub fn new(limit: u32, window: Duration) -> Self {
        Self(Arc::new(Mutex::new(Window {
            limit: limit as usize,
            window,
            accepted: VecDeque::with_capacity((limit as usize).min(1024)),
        })))
    }

    /// Count an event at `now`: `Err(retry_after)` when it is over the limit
    /// (and then it is not counted).
    pub fn check(&self, now: Instant) -> Result<(), Duration> {
        let mut w = self
            .0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let window = w.window;
        while w
            .accepted
            .front()
            .is_some_and(|&t| now.saturating_duration_since(t) >= window)
        {
            w.accepted.pop_front();
        }
        if w.accepted.len() >= w.limit {
            let oldest = w.accepted.front().copied().unwrap_or(now);
            return Err((oldest + window).saturating_duration_since(now));
        }
        w.accepted.push_back(now);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_event_after_the_limit_is_refused_until_the_oldest_leaves_the_window() {
        let limit = RateLimit::new(3, Duration::from_secs(60));
        let start = Instant::now();
        for i in 0..3 {
            assert_eq!(limit.check(start + Duration::from_secs(i)), Ok(()));
        }
        // The 4th, 10 s in: the oldest (at 0 s) leaves the window at 60 s.
        assert_eq!(
            limit.check(start + Duration::from_secs(10)),
            Err(Duration::from_secs(50))
        );
        // A refused event is not counted: at 60 s exactly one slot is free.
        assert_eq!(limit.check(start + Duration::from_secs(60)), Ok(()));
        assert!(limit.check(start + Duration::from_secs(60)).is_err());
    }

    #[test]
    fn a_full_window_later_everything_is_allowed_again() {
        let limit = RateLimit::new(2, Duration::from_secs(1));
        let start = Instant::now();
        assert!(limit.check(start).is_ok());
        assert!(limit.check(start).is_ok());
        assert!(limit.check(start).is_err());
        let later = start + Duration::from_secs(1);
        assert!(limit.check(later).is_ok());
        assert!(limit.check(later).is_ok());
    }
}
