//! Sign-in rate limiting: at most N attempts per key (a user name, a client address) in a
//! sliding window. Attempts over the limit are refused before any password is checked.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Attempts per user name per window.
pub const PER_USER: usize = 5;
/// Attempts per client address per window (several users may share one address).
pub const PER_ADDRESS: usize = 10;
/// The window.
pub const WINDOW: Duration = Duration::from_secs(60);

/// Most keys tracked; past this, the oldest-looking entries are dropped (an attacker spraying
/// names cannot grow memory without bound).
const MAX_KEYS: usize = 100_000;

/// A sliding-window counter per key.
#[derive(Debug)]
pub struct RateLimiter {
    max: usize,
    window: Duration,
    hits: Mutex<HashMap<String, VecDeque<Instant>>>,
}

impl RateLimiter {
    /// At most `max` attempts per key in any `window`.
    pub fn new(max: usize, window: Duration) -> RateLimiter {
        RateLimiter {
            max,
            window,
            hits: Mutex::new(HashMap::new()),
        }
    }

    /// Counts an attempt for `key` at `now`, or refuses it with how long to wait.
    pub fn attempt(&self, key: &str, now: Instant) -> Result<(), Duration> {
        let mut hits = self.hits.lock().unwrap_or_else(|p| p.into_inner());
        if hits.len() >= MAX_KEYS {
            let window = self.window;
            hits.retain(|_, q| q.back().is_some_and(|t| now.duration_since(*t) < window));
        }
        let q = hits.entry(key.to_string()).or_default();
        while q
            .front()
            .is_some_and(|t| now.duration_since(*t) >= self.window)
        {
            q.pop_front();
        }
        if q.len() >= self.max {
            let oldest = q.front().copied().unwrap_or(now);
            return Err(self.window.saturating_sub(now.duration_since(oldest)));
        }
        q.push_back(now);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_per_key_in_a_sliding_window() {
        let l = RateLimiter::new(3, Duration::from_secs(60));
        let t0 = Instant::now();
        for i in 0..3 {
            assert!(l.attempt("user:alice", t0 + Duration::from_secs(i)).is_ok());
        }
        let wait = l
            .attempt("user:alice", t0 + Duration::from_secs(10))
            .unwrap_err();
        assert_eq!(wait, Duration::from_secs(50));
        // Other keys are not affected.
        assert!(l.attempt("user:bob", t0).is_ok());
        // Once the first attempt leaves the window, one more is allowed.
        assert!(
            l.attempt("user:alice", t0 + Duration::from_secs(60))
                .is_ok()
        );
        assert!(
            l.attempt("user:alice", t0 + Duration::from_secs(60))
                .is_err()
        );
    }
}
