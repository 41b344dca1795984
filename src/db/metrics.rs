//! Lock-free pool metrics: counters and latency histograms fed by r2d2's event hooks and by the
//! checkout wrapper, read as a cheap [`PoolMetricsSnapshot`] by the stats panel and the CLI.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::Duration;

use serde::Serialize;

/// Number of buckets: bucket `i` holds durations in `[2^(i/4), 2^((i+1)/4))` microseconds, i.e.
/// four buckets per power of two (≤ 19% relative error), up to about 2^32 µs (71 minutes).
const BUCKETS: usize = 128;

/// A histogram of durations that many threads record into without locks.
#[derive(Debug)]
pub struct Histogram {
    buckets: [AtomicU64; BUCKETS],
    count: AtomicU64,
    sum_micros: AtomicU64,
    max_micros: AtomicU64,
}

impl Default for Histogram {
    fn default() -> Self {
        Self {
            buckets: std::array::from_fn(|_| AtomicU64::new(0)),
            count: AtomicU64::new(0),
            sum_micros: AtomicU64::new(0),
            max_micros: AtomicU64::new(0),
        }
    }
}

fn bucket_of(micros: u64) -> usize {
    if micros < 1 {
        return 0;
    }
    // floor(4 * log2(micros)) using the integer log and the next two bits below the top one.
    let log = 63 - u64::from(micros.leading_zeros());
    let frac = if log >= 2 {
        (micros >> (log - 2)) & 0b11
    } else {
        (micros << (2 - log)) & 0b11
    };
    ((log * 4 + frac) as usize).min(BUCKETS - 1)
}

/// The smallest duration (µs) that lands in bucket `i`.
fn bucket_floor(i: usize) -> u64 {
    let log = (i / 4) as u32;
    let frac = (i % 4) as u64;
    if log >= 2 {
        (4 + frac) << (log - 2)
    } else {
        ((4 + frac) >> (2 - log)).max(1)
    }
}

impl Histogram {
    /// Records one duration.
    pub fn record(&self, duration: Duration) {
        let micros = u64::try_from(duration.as_micros()).unwrap_or(u64::MAX);
        self.buckets[bucket_of(micros)].fetch_add(1, Relaxed);
        self.count.fetch_add(1, Relaxed);
        self.sum_micros.fetch_add(micros, Relaxed);
        self.max_micros.fetch_max(micros, Relaxed);
    }

    /// A consistent-enough copy for display (each field is read atomically).
    pub fn snapshot(&self) -> HistogramSnapshot {
        HistogramSnapshot {
            buckets: self.buckets.iter().map(|b| b.load(Relaxed)).collect(),
            count: self.count.load(Relaxed),
            sum_micros: self.sum_micros.load(Relaxed),
            max_micros: self.max_micros.load(Relaxed),
        }
    }
}

/// A copy of a [`Histogram`] with percentile queries.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct HistogramSnapshot {
    /// Counts per bucket (see [`HistogramSnapshot::bucket_floor_micros`]).
    pub buckets: Vec<u64>,
    /// Number of recorded durations.
    pub count: u64,
    /// Sum of all durations in µs.
    pub sum_micros: u64,
    /// Largest recorded duration in µs.
    pub max_micros: u64,
}

impl HistogramSnapshot {
    /// The value below which `q` (0..=1) of the recordings fall, in µs (bucket midpoint; the
    /// maximum for q = 1).
    pub fn quantile_micros(&self, q: f64) -> u64 {
        if self.count == 0 {
            return 0;
        }
        if q >= 1.0 {
            return self.max_micros;
        }
        let rank = ((self.count as f64) * q).ceil().max(1.0) as u64;
        let mut seen = 0;
        for (i, n) in self.buckets.iter().enumerate() {
            seen += n;
            if seen >= rank {
                let low = bucket_floor(i);
                let high = bucket_floor(i + 1).max(low + 1);
                return ((low + high) / 2).min(self.max_micros);
            }
        }
        self.max_micros
    }

    /// The smallest value (µs) of bucket `i`, for drawing the histogram.
    pub fn bucket_floor_micros(i: usize) -> u64 {
        bucket_floor(i)
    }

    /// Mean in µs.
    pub fn mean_micros(&self) -> u64 {
        self.sum_micros.checked_div(self.count).unwrap_or(0)
    }
}

/// Why a pooled connection was closed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum CloseReason {
    /// The socket died or the server ended the backend.
    Broken,
    /// Validation at checkout failed or timed out.
    FailedValidation,
    /// Reached the pool's maximum lifetime.
    MaxLifetime,
    /// Idle longer than the idle timeout.
    IdleTimeout,
    /// Returned while panicking or in a bad state, so it could not be trusted.
    Poisoned,
    /// The pool itself was closed or recycled.
    PoolClosed,
    /// It read from the server while no read replica answered; one does again.
    BackToReplica,
}

/// All pool counters. Shared between the r2d2 event handler, the connection manager and the
/// checkout wrapper.
#[derive(Debug, Default)]
pub struct PoolMetrics {
    /// Successful checkouts.
    pub checkouts: AtomicU64,
    /// Checkouts that found no idle connection and had to wait.
    pub waited_checkouts: AtomicU64,
    /// Checkouts that hit the deadline.
    pub timeouts: AtomicU64,
    /// Connections opened.
    pub opened: AtomicU64,
    /// Connection attempts that failed.
    pub connect_errors: AtomicU64,
    /// Connections closed, by reason.
    pub closed_broken: AtomicU64,
    /// See [`CloseReason::FailedValidation`].
    pub closed_validation: AtomicU64,
    /// See [`CloseReason::MaxLifetime`].
    pub closed_lifetime: AtomicU64,
    /// See [`CloseReason::IdleTimeout`].
    pub closed_idle: AtomicU64,
    /// See [`CloseReason::Poisoned`].
    pub closed_poisoned: AtomicU64,
    /// See [`CloseReason::PoolClosed`].
    pub closed_pool: AtomicU64,
    /// See [`CloseReason::BackToReplica`].
    pub closed_back_to_replica: AtomicU64,
    /// Validations run at checkout (connections idle beyond the bypass window).
    pub validations: AtomicU64,
    /// Queries run through the repositories.
    pub queries: AtomicU64,
    /// Queries that failed.
    pub query_errors: AtomicU64,
    /// Of the failed queries, those cancelled on purpose (superseded, or the Cancel button):
    /// the stats panel does not count them as a sign of trouble.
    pub cancelled_queries: AtomicU64,
    /// Reads a standby cancelled for a recovery conflict, each tried once more.
    pub recovery_conflicts: AtomicU64,
    /// Threads currently waiting in checkout.
    pub waiting: AtomicU64,
    /// Connections currently being opened.
    pub opening: AtomicU64,
    /// Time from checkout request to connection in hand.
    pub wait: Histogram,
    /// Time a connection was held by its user.
    pub hold: Histogram,
    /// Time to open a connection (TCP/socket + auth + session setup).
    pub connect: Histogram,
}

impl PoolMetrics {
    /// Counts a close under its reason.
    pub fn record_close(&self, reason: CloseReason) {
        let counter = match reason {
            CloseReason::Broken => &self.closed_broken,
            CloseReason::FailedValidation => &self.closed_validation,
            CloseReason::MaxLifetime => &self.closed_lifetime,
            CloseReason::IdleTimeout => &self.closed_idle,
            CloseReason::Poisoned => &self.closed_poisoned,
            CloseReason::PoolClosed => &self.closed_pool,
            CloseReason::BackToReplica => &self.closed_back_to_replica,
        };
        counter.fetch_add(1, Relaxed);
    }

    /// A copy of every counter and histogram.
    pub fn snapshot(&self) -> PoolCounters {
        PoolCounters {
            checkouts: self.checkouts.load(Relaxed),
            waited_checkouts: self.waited_checkouts.load(Relaxed),
            timeouts: self.timeouts.load(Relaxed),
            opened: self.opened.load(Relaxed),
            connect_errors: self.connect_errors.load(Relaxed),
            closed_broken: self.closed_broken.load(Relaxed),
            closed_validation: self.closed_validation.load(Relaxed),
            closed_lifetime: self.closed_lifetime.load(Relaxed),
            closed_idle: self.closed_idle.load(Relaxed),
            closed_poisoned: self.closed_poisoned.load(Relaxed),
            closed_pool: self.closed_pool.load(Relaxed),
            closed_back_to_replica: self.closed_back_to_replica.load(Relaxed),
            validations: self.validations.load(Relaxed),
            queries: self.queries.load(Relaxed),
            query_errors: self.query_errors.load(Relaxed),
            cancelled_queries: self.cancelled_queries.load(Relaxed),
            recovery_conflicts: self.recovery_conflicts.load(Relaxed),
            waiting: self.waiting.load(Relaxed),
            opening: self.opening.load(Relaxed),
            wait: self.wait.snapshot(),
            hold: self.hold.snapshot(),
            connect: self.connect.snapshot(),
        }
    }
}

/// A plain copy of [`PoolMetrics`].
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
#[expect(missing_docs, reason = "fields mirror PoolMetrics, documented there")]
pub struct PoolCounters {
    pub checkouts: u64,
    pub waited_checkouts: u64,
    pub timeouts: u64,
    pub opened: u64,
    pub connect_errors: u64,
    pub closed_broken: u64,
    pub closed_validation: u64,
    pub closed_lifetime: u64,
    pub closed_idle: u64,
    pub closed_poisoned: u64,
    pub closed_pool: u64,
    pub closed_back_to_replica: u64,
    pub validations: u64,
    pub queries: u64,
    pub query_errors: u64,
    pub cancelled_queries: u64,
    pub recovery_conflicts: u64,
    pub waiting: u64,
    pub opening: u64,
    pub wait: HistogramSnapshot,
    pub hold: HistogramSnapshot,
    pub connect: HistogramSnapshot,
}

impl PoolCounters {
    /// Connections closed for any reason.
    pub fn closed_total(&self) -> u64 {
        self.closed_broken
            + self.closed_validation
            + self.closed_lifetime
            + self.closed_idle
            + self.closed_poisoned
            + self.closed_pool
            + self.closed_back_to_replica
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_are_monotonic_and_cover_their_floor() {
        let mut last = 0;
        for micros in [
            0_u64,
            1,
            2,
            3,
            4,
            5,
            7,
            8,
            100,
            1_000,
            65_000,
            1_000_000,
            u64::MAX,
        ] {
            let b = bucket_of(micros);
            assert!(b >= last, "{micros} went backwards");
            last = b;
            if (1..1 << 30).contains(&micros) {
                assert!(
                    bucket_floor(b) <= micros
                        && micros < bucket_floor(b + 1).max(bucket_floor(b) + 1),
                    "{micros} in {b}"
                );
            }
        }
    }

    #[test]
    fn quantiles_are_within_a_bucket_of_the_truth() {
        let h = Histogram::default();
        for micros in 1..=1000_u64 {
            h.record(Duration::from_micros(micros));
        }
        let s = h.snapshot();
        assert_eq!(s.count, 1000);
        assert_eq!(s.max_micros, 1000);
        for (q, truth) in [(0.5, 500.0), (0.95, 950.0), (0.99, 990.0)] {
            let got = s.quantile_micros(q) as f64;
            assert!((got - truth).abs() / truth < 0.2, "q{q}: {got} vs {truth}");
        }
        assert_eq!(s.quantile_micros(1.0), 1000);
        assert_eq!(HistogramSnapshot::default().quantile_micros(0.5), 0);
    }
}
