//! An optional request-rate limit (a token bucket), for operations AWS throttles — LookupEvents
//! at 2 requests per second per account and region. Off unless configured.

use std::sync::Mutex;
use std::time::Instant;

use crate::ApiError;

/// A token bucket: `rate` requests per second, bursts up to `rate` (at least 1).
#[derive(Debug)]
pub struct Throttle {
    rate: Option<f64>,
    state: Mutex<(f64, Instant)>,
}

impl Throttle {
    /// A limit of `rate` requests per second, or none.
    pub fn new(rate: Option<f64>) -> Throttle {
        let rate = rate.filter(|r| *r > 0.0);
        let burst = rate.map(|r| r.max(1.0)).unwrap_or(0.0);
        Throttle {
            rate,
            state: Mutex::new((burst, Instant::now())),
        }
    }

    /// Takes a token, or answers `ThrottlingException`.
    pub fn check(&self) -> Result<(), ApiError> {
        let Some(rate) = self.rate else { return Ok(()) };
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        let (tokens, last) = &mut *state;
        let now = Instant::now();
        *tokens = (*tokens + now.duration_since(*last).as_secs_f64() * rate).min(rate.max(1.0));
        *last = now;
        if *tokens >= 1.0 {
            *tokens -= 1.0;
            Ok(())
        } else {
            Err(ApiError::client("ThrottlingException", "Rate exceeded"))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_only_when_configured() {
        let off = Throttle::new(None);
        for _ in 0..1000 {
            off.check().unwrap();
        }
        let two = Throttle::new(Some(2.0));
        assert!(two.check().is_ok());
        assert!(two.check().is_ok());
        assert_eq!(two.check().unwrap_err().code, "ThrottlingException");
        std::thread::sleep(std::time::Duration::from_millis(600));
        assert!(two.check().is_ok());
    }
}
