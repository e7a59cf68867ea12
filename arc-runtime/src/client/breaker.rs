//! The circuit breaker of a service client: closed, open, half-open.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio::time::Instant;

use crate::plugins::metrics::Metrics;

/// When a client stops calling a failing service, and how it tries again.
///
/// Closed, every call goes out; `failures` failed calls in a row (a transport error, a
/// timeout or a 5xx answer; a 4xx answer is the service working) open the circuit. Open,
/// calls fail at once with [`ClientError::CircuitOpen`](super::ClientError::CircuitOpen),
/// for `open_for`. Then it is half-open: up to `probes` calls go out at once; one that
/// succeeds closes the circuit, one that fails opens it again.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Breaker {
    /// Failed calls in a row that open the circuit (at least 1).
    pub failures: u32,
    /// How long the circuit stays open before it lets a probe through.
    pub open_for: Duration,
    /// Calls let through at once while half-open (at least 1).
    pub probes: u32,
}

impl Default for Breaker {
    fn default() -> Self {
        Breaker {
            failures: 5,
            open_for: Duration::from_secs(30),
            probes: 1,
        }
    }
}

/// Where a circuit is: the value of the `arc_circuit_breaker_state` gauge in brackets.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum CircuitState {
    /// Calls go out (0).
    Closed,
    /// Calls fail at once (1).
    Open,
    /// Probes go out (2).
    HalfOpen,
}

impl CircuitState {
    /// The gauge's value.
    fn gauge(self) -> f64 {
        match self {
            CircuitState::Closed => 0.0,
            CircuitState::Open => 1.0,
            CircuitState::HalfOpen => 2.0,
        }
    }
}

#[derive(Debug)]
enum Phase {
    Closed { failures: u32 },
    Open { until: Instant },
    HalfOpen { in_flight: u32 },
}

/// The phase, and how many times it changed: a call let through in an earlier phase does
/// not decide the current one (a slow success from before the circuit opened does not close
/// it; a probe of an earlier half-open does not free a place in this one).
#[derive(Debug)]
struct Inner {
    phase: Phase,
    generation: u64,
}

impl Inner {
    fn enter(&mut self, phase: Phase) {
        self.phase = phase;
        self.generation += 1;
    }
}

/// One service's breaker, shared by the clones of its client.
#[derive(Debug)]
pub(crate) struct CircuitBreaker {
    settings: Breaker,
    service: Arc<str>,
    inner: Mutex<Inner>,
    metrics: Option<Metrics>,
}

/// A call the breaker let through. Settle it with [`Permit::succeeded`] or
/// [`Permit::failed`]; dropped unsettled (the caller gave up), a probe's place is given
/// back and nothing is counted.
#[must_use]
pub(crate) struct Permit<'a> {
    breaker: &'a CircuitBreaker,
    generation: u64,
    probe: bool,
    settled: bool,
}

impl CircuitBreaker {
    pub(crate) fn new(settings: Breaker, service: Arc<str>, metrics: Option<Metrics>) -> Self {
        let settings = Breaker {
            failures: settings.failures.max(1),
            probes: settings.probes.max(1),
            ..settings
        };
        let breaker = CircuitBreaker {
            settings,
            service,
            inner: Mutex::new(Inner {
                phase: Phase::Closed { failures: 0 },
                generation: 0,
            }),
            metrics,
        };
        breaker.publish(CircuitState::Closed);
        breaker
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        // The state is a few integers, always whole: a panic elsewhere cannot tear it.
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Where the circuit is now.
    pub(crate) fn state(&self) -> CircuitState {
        match self.lock().phase {
            Phase::Closed { .. } => CircuitState::Closed,
            Phase::Open { until } if Instant::now() < until => CircuitState::Open,
            Phase::Open { .. } | Phase::HalfOpen { .. } => CircuitState::HalfOpen,
        }
    }

    /// Lets a call through, or says how long the circuit stays open.
    pub(crate) fn admit(&self) -> Result<Permit<'_>, Duration> {
        let mut inner = self.lock();
        let probe = match inner.phase {
            Phase::Closed { .. } => false,
            Phase::Open { until } => {
                let now = Instant::now();
                if now < until {
                    return Err(until - now);
                }
                inner.enter(Phase::HalfOpen { in_flight: 1 });
                tracing::info!(service = %self.service, "circuit half-open: probing");
                self.publish(CircuitState::HalfOpen);
                true
            }
            Phase::HalfOpen { ref mut in_flight } => {
                if *in_flight >= self.settings.probes {
                    // The probes out decide; the next call may ask again soon.
                    return Err(Duration::ZERO);
                }
                *in_flight += 1;
                true
            }
        };
        Ok(Permit {
            breaker: self,
            generation: inner.generation,
            probe,
            settled: false,
        })
    }

    fn succeeded(&self, generation: u64) {
        let mut inner = self.lock();
        if inner.generation != generation {
            return;
        }
        match inner.phase {
            Phase::Closed { ref mut failures } => *failures = 0,
            _ => {
                inner.enter(Phase::Closed { failures: 0 });
                tracing::info!(service = %self.service, "circuit closed");
                self.publish(CircuitState::Closed);
            }
        }
    }

    fn failed(&self, generation: u64) {
        let mut inner = self.lock();
        if inner.generation != generation {
            return;
        }
        let open = match inner.phase {
            Phase::Closed { ref mut failures } => {
                *failures += 1;
                *failures >= self.settings.failures
            }
            Phase::HalfOpen { .. } => true,
            Phase::Open { .. } => false,
        };
        if open {
            inner.enter(Phase::Open {
                until: Instant::now() + self.settings.open_for,
            });
            tracing::warn!(
                service = %self.service,
                open_for = ?self.settings.open_for,
                "circuit open"
            );
            self.publish(CircuitState::Open);
        }
    }

    fn given_back(&self, generation: u64) {
        let mut inner = self.lock();
        if inner.generation != generation {
            return;
        }
        if let Phase::HalfOpen { in_flight } = &mut inner.phase {
            *in_flight = in_flight.saturating_sub(1);
        }
    }

    fn publish(&self, state: CircuitState) {
        if let Some(metrics) = &self.metrics {
            let service = self.service.to_string();
            metrics.record(|| {
                metrics::gauge!("arc_circuit_breaker_state", "service" => service)
                    .set(state.gauge());
            });
        }
    }
}

impl Permit<'_> {
    /// The service answered (a 2xx, or a 4xx that is the caller's).
    pub(crate) fn succeeded(mut self) {
        self.settled = true;
        self.breaker.succeeded(self.generation);
    }

    /// The service failed: no answer in time, no connection, or a 5xx.
    pub(crate) fn failed(mut self) {
        self.settled = true;
        self.breaker.failed(self.generation);
    }
}

impl Drop for Permit<'_> {
    fn drop(&mut self) {
        if !self.settled && self.probe {
            self.breaker.given_back(self.generation);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn breaker(failures: u32, probes: u32) -> CircuitBreaker {
        let settings = Breaker {
            failures,
            open_for: Duration::from_secs(10),
            probes,
        };
        CircuitBreaker::new(settings, "orders".into(), None)
    }

    #[tokio::test(start_paused = true)]
    async fn failures_in_a_row_open_it_and_a_success_resets_the_count() {
        let b = breaker(3, 1);
        b.admit().unwrap().failed();
        b.admit().unwrap().failed();
        b.admit().unwrap().succeeded();
        b.admit().unwrap().failed();
        b.admit().unwrap().failed();
        assert_eq!(b.state(), CircuitState::Closed);
        b.admit().unwrap().failed();
        assert_eq!(b.state(), CircuitState::Open);
        let wait = b.admit().err().unwrap();
        assert_eq!(wait, Duration::from_secs(10));
    }

    #[tokio::test(start_paused = true)]
    async fn after_open_for_one_probe_decides() {
        let b = breaker(1, 1);
        b.admit().unwrap().failed();
        tokio::time::advance(Duration::from_secs(4)).await;
        assert_eq!(b.admit().err(), Some(Duration::from_secs(6)));
        tokio::time::advance(Duration::from_secs(6)).await;
        assert_eq!(b.state(), CircuitState::HalfOpen);
        let probe = b.admit().unwrap();
        assert_eq!(b.admit().err(), Some(Duration::ZERO), "one probe at a time");
        probe.failed();
        assert_eq!(
            b.state(),
            CircuitState::Open,
            "a failed probe opens it again"
        );
        tokio::time::advance(Duration::from_secs(10)).await;
        b.admit().unwrap().succeeded();
        assert_eq!(b.state(), CircuitState::Closed);
        b.admit().unwrap().succeeded();
    }

    #[tokio::test(start_paused = true)]
    async fn a_probe_given_up_gives_its_place_back() {
        let b = breaker(1, 2);
        b.admit().unwrap().failed();
        tokio::time::advance(Duration::from_secs(10)).await;
        let first = b.admit().unwrap();
        let second = b.admit().unwrap();
        assert!(b.admit().is_err(), "two probes at most");
        drop(first);
        let third = b.admit().unwrap();
        drop((second, third));
        assert_eq!(b.state(), CircuitState::HalfOpen, "nothing was counted");
    }

    #[tokio::test(start_paused = true)]
    async fn a_call_from_an_earlier_phase_decides_nothing() {
        let b = breaker(2, 1);
        let slow = b.admit().unwrap();
        b.admit().unwrap().failed();
        b.admit().unwrap().failed();
        assert_eq!(b.state(), CircuitState::Open);
        slow.succeeded();
        assert_eq!(
            b.state(),
            CircuitState::Open,
            "a success from before does not close it"
        );
        tokio::time::advance(Duration::from_secs(10)).await;
        let probe = b.admit().unwrap();
        b.admit().err().unwrap();
        probe.failed();
        tokio::time::advance(Duration::from_secs(10)).await;
        let fresh = b.admit().unwrap();
        assert!(b.admit().is_err(), "one probe of this half-open is out");
        fresh.succeeded();
        assert_eq!(b.state(), CircuitState::Closed);
    }

    #[test]
    fn the_gauge_follows_the_state() {
        let metrics = Metrics::new();
        let b = CircuitBreaker::new(
            Breaker {
                failures: 1,
                ..Breaker::default()
            },
            "billing".into(),
            Some(metrics.clone()),
        );
        assert!(
            metrics
                .render()
                .contains("arc_circuit_breaker_state{service=\"billing\"} 0")
        );
        b.admit().unwrap().failed();
        assert!(
            metrics
                .render()
                .contains("arc_circuit_breaker_state{service=\"billing\"} 1"),
            "{}",
            metrics.render()
        );
    }
}
