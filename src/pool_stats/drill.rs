//! The stress drill: a user asks the pool for more connections than it has and watches it
//! saturate, queue and drain (the panel's Stress button and `marquee pool-stats --stress`).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use postgres::types::Type;

use crate::db::error::{DbError, DbErrorKind};
use crate::db::pool::DatabasePool;

use super::StressProgress;

/// What a stress drill does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StressSpec {
    /// Concurrent query threads; more than the pool's max makes checkouts queue.
    pub queries: u32,
    /// How long the threads keep firing.
    pub duration: Duration,
    /// How long each query holds its connection (`pg_sleep`).
    pub query_duration: Duration,
}

impl StressSpec {
    /// `queries` threads for `secs` seconds, 200 ms per query.
    pub fn new(queries: u32, secs: u32) -> Self {
        Self {
            queries,
            duration: Duration::from_secs(u64::from(secs)),
            query_duration: Duration::from_millis(200),
        }
    }
}

#[derive(Debug, Default)]
struct StressCounters {
    completed: AtomicU64,
    timeouts: AtomicU64,
    errors: AtomicU64,
    stop: AtomicBool,
}

/// A running stress drill: `queries` threads of their own (not the workers, whose number equals
/// the pool size and so could never make a checkout wait) each checking out a connection and
/// running `pg_sleep` until the time is up. Threads end by themselves; dropping the handle does
/// not stop them early (call [`StressDrill::stop`]).
#[derive(Debug)]
pub struct StressDrill {
    spec: StressSpec,
    started: Instant,
    counters: Arc<StressCounters>,
    handles: Vec<JoinHandle<()>>,
}

impl StressDrill {
    /// Starts the threads.
    pub fn start(pool: &DatabasePool, spec: StressSpec) -> Self {
        let counters = Arc::new(StressCounters::default());
        let started = Instant::now();
        let until = started + spec.duration;
        let sleep_secs = spec.query_duration.as_secs_f64();
        let mut handles = Vec::new();
        for index in 0..spec.queries {
            let pool = pool.clone();
            let counters = Arc::clone(&counters);
            let spawned = std::thread::Builder::new()
                .name(format!("marquee-stress-{index}"))
                .spawn(move || {
                    while Instant::now() < until && !counters.stop.load(Relaxed) {
                        stress_once(&pool, sleep_secs, &counters);
                    }
                });
            match spawned {
                Ok(handle) => handles.push(handle),
                Err(err) => tracing::warn!("stress drill: could not start thread {index}: {err}"),
            }
        }
        Self {
            spec,
            started,
            counters,
            handles,
        }
    }

    /// Asks the threads to stop after their current query.
    pub fn stop(&self) {
        self.counters.stop.store(true, Relaxed);
    }

    /// Whether every thread has ended.
    pub fn is_finished(&self) -> bool {
        self.handles.iter().all(JoinHandle::is_finished)
    }

    /// Where it stands at `now`.
    pub fn progress(&self, now: Instant) -> StressProgress {
        let elapsed = now.saturating_duration_since(self.started);
        StressProgress {
            threads: self.handles.len() as u32,
            completed: self.counters.completed.load(Relaxed),
            timeouts: self.counters.timeouts.load(Relaxed),
            errors: self.counters.errors.load(Relaxed),
            remaining_secs: self.spec.duration.saturating_sub(elapsed).as_secs_f64(),
            finished: self.is_finished(),
        }
    }

    /// Waits for every thread and returns the final figures.
    pub fn join(mut self) -> StressProgress {
        for handle in self.handles.drain(..) {
            if handle.join().is_err() {
                self.counters.errors.fetch_add(1, Relaxed);
            }
        }
        let mut progress = self.progress(Instant::now());
        progress.threads = self.spec.queries;
        progress.finished = true;
        progress
    }
}

fn stress_once(pool: &DatabasePool, sleep_secs: f64, counters: &StressCounters) {
    let mut conn = match pool.get("drill.stress") {
        Ok(conn) => conn,
        Err(err) => {
            if err.kind == DbErrorKind::PoolExhausted {
                counters.timeouts.fetch_add(1, Relaxed);
            } else {
                counters.errors.fetch_add(1, Relaxed);
                // The server is down or refusing: do not spin on it.
                std::thread::sleep(Duration::from_millis(200));
            }
            return;
        }
    };
    let result = conn
        .query_typed("SELECT pg_sleep($1)", &[(&sleep_secs, Type::FLOAT8)])
        .map(|_| ())
        .map_err(|e| DbError::from_postgres(&e, pool.target()));
    pool.record_query(result.as_ref().map(|_| ()));
    match result {
        Ok(()) => counters.completed.fetch_add(1, Relaxed),
        Err(_) => counters.errors.fetch_add(1, Relaxed),
    };
}
