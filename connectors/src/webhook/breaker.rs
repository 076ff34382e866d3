//! The per-endpoint circuit breaker: closed → open after N consecutive failures → half-open
//! probe after a cool-down → closed on success (see [`BreakerConfig`]).
//!
//! Time is passed in, so the state machine is tested without sleeping.

use std::time::{Duration, Instant};

use super::BreakerConfig;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Closed {
        failures: u32,
    },
    Open {
        until: Instant,
    },
    /// One probe call is out; everything else fails fast until it ends.
    HalfOpen,
}

/// Whether a call may go out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Permit {
    /// Call the endpoint.
    Call,
    /// Call it as the half-open probe.
    Probe,
    /// Fail fast: the breaker is open.
    Rejected,
}

/// A circuit breaker for one endpoint.
#[derive(Debug)]
pub(crate) struct CircuitBreaker {
    threshold: u32,
    cool_down: Duration,
    state: State,
}

impl CircuitBreaker {
    pub(crate) fn new(config: &BreakerConfig) -> Self {
        Self {
            threshold: config.failure_threshold.max(1),
            cool_down: Duration::from_millis(config.cool_down_ms),
            state: State::Closed { failures: 0 },
        }
    }

    /// Asks to make a call at `now`.
    pub(crate) fn permit(&mut self, now: Instant) -> Permit {
        match self.state {
            State::Closed { .. } => Permit::Call,
            State::Open { until } if now >= until => {
                self.state = State::HalfOpen;
                Permit::Probe
            }
            State::Open { .. } | State::HalfOpen => Permit::Rejected,
        }
    }

    /// A permitted call succeeded: the breaker closes.
    pub(crate) fn succeeded(&mut self) {
        self.state = State::Closed { failures: 0 };
    }

    /// A permitted call failed at `now` (a retryable failure: a 4xx the endpoint answered
    /// deliberately is not the endpoint failing, and counts as success here).
    pub(crate) fn failed(&mut self, now: Instant) {
        self.state = match self.state {
            State::Closed { failures } if failures + 1 < self.threshold => State::Closed { failures: failures + 1 },
            State::Closed { .. } | State::HalfOpen | State::Open { .. } => State::Open {
                until: now + self.cool_down,
            },
        };
    }

    /// Whether calls fail fast right now (open, or half-open with the probe out).
    pub(crate) fn is_open(&self) -> bool {
        !matches!(self.state, State::Closed { .. })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opens_after_the_threshold_probes_after_the_cool_down_and_closes_on_success() {
        let mut b = CircuitBreaker::new(&BreakerConfig {
            failure_threshold: 2,
            cool_down_ms: 100,
        });
        let t0 = Instant::now();
        assert_eq!(b.permit(t0), Permit::Call);
        b.failed(t0);
        assert!(!b.is_open(), "one failure is below the threshold");
        b.succeeded();
        b.failed(t0);
        assert!(!b.is_open(), "a success resets the count");
        b.failed(t0);
        assert!(b.is_open());
        assert_eq!(b.permit(t0 + Duration::from_millis(99)), Permit::Rejected);
        let later = t0 + Duration::from_millis(100);
        assert_eq!(b.permit(later), Permit::Probe);
        assert_eq!(b.permit(later), Permit::Rejected, "only one probe at a time");
        b.failed(later);
        assert_eq!(
            b.permit(later + Duration::from_millis(50)),
            Permit::Rejected,
            "re-opened"
        );
        let again = later + Duration::from_millis(100);
        assert_eq!(b.permit(again), Permit::Probe);
        b.succeeded();
        assert!(!b.is_open());
        assert_eq!(b.permit(again), Permit::Call);
    }
}
