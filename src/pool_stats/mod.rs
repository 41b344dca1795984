//! The pool stats panel's model (no egui): a 60-second history of pool snapshots, the health
//! state derived from it, and the figures the panel and `marquee pool-stats` show. The stress
//! drill is in [`drill`], the terminal report in [`report`].
//!
//! The app feeds [`PoolStatsModel::update`] a few times per second with
//! [`DatabasePool::snapshot`] (lock-free counters plus two short mutex copies), so drawing a
//! frame never touches the pool. Everything shown is computed from what the model holds, with
//! the clock passed in, so tests can pin every figure.

pub mod drill;
pub mod monitor;
pub mod report;

use std::collections::{BTreeMap, VecDeque};
use std::time::{Duration, Instant, SystemTime};

use serde::Serialize;

use crate::config::PoolSettings;
use crate::db::error::{DbError, DbErrorKind};
use crate::db::metrics::{HistogramSnapshot, PoolCounters};
use crate::db::pool::{ConnectionState, PoolSnapshot};
use crate::plural::count;
use crate::repo::server_stats::{Backend, ServerStatsRepository};
use crate::worker::{JobRecord, WorkerState};

/// How much history the sparklines show.
pub const HISTORY_WINDOW: Duration = Duration::from_secs(60);
/// Over how long rising waits, timeouts or errors make the pool "Degraded".
pub const DEGRADED_WINDOW: Duration = Duration::from_secs(10);
/// How long after the server came back the state reads "Recovering".
pub const RECOVERY_WINDOW: Duration = Duration::from_secs(10);
/// A checkout waiting longer than this makes the pool "Degraded" on its own.
pub const SLOW_WAITER: Duration = Duration::from_secs(1);
/// Samples closer together than this are merged, so a fast caller cannot grow the history.
const MIN_SAMPLE_GAP: Duration = Duration::from_millis(50);
/// How many finished jobs the panel lists.
pub const RECENT_JOBS: usize = 20;

/// An error as the panel shows it: kind, SQLSTATE, message and when.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ErrorInfo {
    /// What kind of failure.
    pub kind: DbErrorKind,
    /// The server's code, if it sent one.
    pub sqlstate: Option<String>,
    /// The sentence for people.
    pub message: String,
    /// When it happened.
    pub at: SystemTime,
}

impl ErrorInfo {
    fn from_pair((error, at): &(DbError, SystemTime)) -> Self {
        Self {
            kind: error.kind,
            sqlstate: error.sqlstate.clone(),
            message: error.message.clone(),
            at: *at,
        }
    }
}

/// One point of history: the gauges and the counters that health is judged on.
#[derive(Clone, Debug, PartialEq)]
pub struct Sample {
    /// When it was taken (monotonic, for the sparklines and windows).
    pub at: Instant,
    /// The same moment on the wall clock, to compare with error and success times.
    pub wall: SystemTime,
    /// Open connections.
    pub total: u32,
    /// Idle connections.
    pub idle: u32,
    /// Checked-out connections.
    pub in_use: u32,
    /// Connections being opened.
    pub opening: u64,
    /// Checkouts waiting for a connection.
    pub waiting: u64,
    /// How long the oldest waiting checkout has waited.
    pub oldest_waiter_micros: Option<u64>,
    /// Successful checkouts so far.
    pub checkouts: u64,
    /// Checkouts that had to wait so far.
    pub waited_checkouts: u64,
    /// Checkouts that hit the deadline so far.
    pub timeouts: u64,
    /// Connections opened so far.
    pub opened: u64,
    /// Failed connection attempts so far.
    pub connect_errors: u64,
    /// Queries so far.
    pub queries: u64,
    /// Failed queries so far (cancelled ones included).
    pub query_errors: u64,
    /// Of those, cancelled on purpose.
    pub cancelled_queries: u64,
    /// The last error the pool saw.
    pub last_error: Option<ErrorInfo>,
    /// When a query last succeeded.
    pub last_success: Option<SystemTime>,
}

impl Sample {
    /// The figures of `snapshot`, taken at `at` / `wall`.
    pub fn from_snapshot(snapshot: &PoolSnapshot, at: Instant, wall: SystemTime) -> Self {
        let c = &snapshot.counters;
        Self {
            at,
            wall,
            total: snapshot.total,
            idle: snapshot.idle,
            in_use: snapshot.in_use,
            opening: c.opening,
            waiting: c.waiting,
            oldest_waiter_micros: snapshot.oldest_waiter_micros,
            checkouts: c.checkouts,
            waited_checkouts: c.waited_checkouts,
            timeouts: c.timeouts,
            opened: c.opened,
            connect_errors: c.connect_errors,
            queries: c.queries,
            query_errors: c.query_errors,
            cancelled_queries: c.cancelled_queries,
            last_error: snapshot.last_error.as_ref().map(ErrorInfo::from_pair),
            last_success: snapshot.last_success,
        }
    }

    /// Errors that signal trouble: failed queries other than deliberate cancels, and failed
    /// connection attempts.
    fn trouble_errors(&self) -> u64 {
        self.query_errors.saturating_sub(self.cancelled_queries) + self.connect_errors
    }

    /// The last error says the server cannot be reached and nothing succeeded after it.
    fn error_unanswered(&self) -> Option<&ErrorInfo> {
        let error = self.last_error.as_ref()?;
        let unanswered = error.kind == DbErrorKind::Unreachable
            && self.last_success.is_none_or(|ok| ok < error.at);
        unanswered.then_some(error)
    }
}

/// Where the app's connection stands, for the states the pool cannot see (no pool yet, or the
/// app gave up on it and retries with backoff). Taken from `app::Connection`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum LinkStatus {
    /// A pool exists; its snapshots tell the rest.
    #[default]
    Connected,
    /// The app is starting the server or the pool.
    Connecting {
        /// Failed attempts before this one.
        attempt: u32,
    },
    /// Starting failed; the app retries at `next_retry` (if the failure can heal by itself).
    Failed {
        /// What kind of failure.
        kind: DbErrorKind,
        /// The message for people.
        message: String,
        /// Attempts so far.
        attempt: u32,
        /// When the app tries again.
        next_retry: Option<Instant>,
    },
}

/// The pool's health as one word plus the reasons.
#[derive(Clone, Debug, PartialEq)]
pub enum Health {
    /// No pool yet.
    Connecting,
    /// Nothing to worry about.
    Healthy,
    /// Waits, timeouts or errors rose over the last [`DEGRADED_WINDOW`].
    Degraded {
        /// Each reason in words ("2 checkout timeouts in the last 10 s").
        reasons: Vec<String>,
    },
    /// The server cannot be reached and nothing has succeeded since.
    Unreachable {
        /// Retry attempt, when the app is retrying.
        attempt: Option<u32>,
        /// Time until the next retry, when one is scheduled.
        next_retry_in: Option<Duration>,
        /// When the failure was first seen (the last error's time).
        since: Option<SystemTime>,
    },
    /// Work succeeds again after the server was unreachable within [`RECOVERY_WINDOW`].
    Recovering,
    /// The server (or the private cluster's setup) refuses us: wrong password, unknown
    /// database, TLS policy, a data folder the server cannot use. Retrying will not help.
    Refused {
        /// What the app said, for people.
        message: String,
    },
}

impl Health {
    /// The state's name as shown.
    pub fn label(&self) -> &'static str {
        match self {
            Health::Connecting => "Connecting",
            Health::Healthy => "Healthy",
            Health::Degraded { .. } => "Degraded",
            Health::Unreachable { .. } => "Server unreachable",
            Health::Recovering => "Recovering",
            Health::Refused { .. } => "Cannot connect",
        }
    }

    /// The lines under the state's name.
    pub fn details(&self) -> Vec<String> {
        match self {
            Health::Degraded { reasons } => reasons.clone(),
            Health::Unreachable {
                attempt,
                next_retry_in,
                ..
            } => {
                let mut lines = Vec::new();
                if let Some(attempt) = attempt {
                    lines.push(format!("retry attempt {attempt}"));
                }
                if let Some(wait) = next_retry_in {
                    lines.push(format!("next retry in {} s", wait.as_secs_f64().ceil()));
                }
                lines
            }
            Health::Recovering => vec!["the server answers again".to_owned()],
            Health::Refused { message } => {
                vec![
                    message.clone(),
                    "change the connection settings, then Retry".to_owned(),
                ]
            }
            Health::Connecting | Health::Healthy => Vec::new(),
        }
    }
}

/// Classifies the pool's health from its history alone (plus what the app says about the
/// connection), so the rule is one pure function that tests can pin:
///
/// - the app's connection failed, or the last error is "unreachable" with no success, no new
///   connection since → **Server unreachable**;
/// - otherwise, unreachable at some point in the last [`RECOVERY_WINDOW`] → **Recovering**;
/// - otherwise, over the last [`DEGRADED_WINDOW`]: checkout timeouts, errors (deliberate
///   cancels excluded), most checkouts waiting, or a checkout waiting past [`SLOW_WAITER`] now →
///   **Degraded**;
/// - otherwise **Healthy** (or **Connecting** before the first sample).
pub fn classify(history: &[Sample], link: &LinkStatus, now: Instant) -> Health {
    match link {
        LinkStatus::Failed { kind, message, .. } if !kind.is_transient() => {
            return Health::Refused {
                message: message.clone(),
            };
        }
        LinkStatus::Failed {
            attempt,
            next_retry,
            ..
        } => {
            return Health::Unreachable {
                attempt: Some(*attempt),
                next_retry_in: next_retry.map(|at| at.saturating_duration_since(now)),
                since: history
                    .last()
                    .and_then(|s| s.last_error.as_ref())
                    .map(|e| e.at),
            };
        }
        LinkStatus::Connecting { .. } if history.is_empty() => return Health::Connecting,
        _ => {}
    }
    let Some(latest) = history.last() else {
        return Health::Connecting;
    };
    if let Some(error) = unreachable_at(history, history.len() - 1) {
        return Health::Unreachable {
            attempt: None,
            next_retry_in: None,
            since: Some(error.at),
        };
    }
    let recent_outage = history
        .iter()
        .enumerate()
        .rev()
        .take_while(|(_, s)| now.saturating_duration_since(s.at) <= RECOVERY_WINDOW)
        .any(|(i, _)| unreachable_at(history, i).is_some());
    let error_recently_healed = latest.last_error.as_ref().is_some_and(|error| {
        error.kind == DbErrorKind::Unreachable
            && latest.wall.duration_since(error.at).unwrap_or_default() <= RECOVERY_WINDOW
    });
    if recent_outage || error_recently_healed {
        return Health::Recovering;
    }
    let reasons = degraded_reasons(history, now);
    if reasons.is_empty() {
        Health::Healthy
    } else {
        Health::Degraded { reasons }
    }
}

/// The unreachable error in force at sample `index`: the last error says "unreachable", no
/// query has succeeded since, and no connection was opened since the error was first sampled.
fn unreachable_at(history: &[Sample], index: usize) -> Option<&ErrorInfo> {
    let sample = &history[index];
    let error = sample.error_unanswered()?;
    let first_seen = history[..=index]
        .iter()
        .find(|s| s.last_error.as_ref() == Some(error))
        .unwrap_or(sample);
    (sample.opened <= first_seen.opened).then_some(error)
}

/// Why the pool is degraded, in words (empty when it is not).
fn degraded_reasons(history: &[Sample], now: Instant) -> Vec<String> {
    let Some(latest) = history.last() else {
        return Vec::new();
    };
    let window_secs = DEGRADED_WINDOW.as_secs();
    let start = now.checked_sub(DEGRADED_WINDOW);
    // The baseline is the newest sample at or before the window's start, or the oldest held.
    let baseline = history
        .iter()
        .rev()
        .find(|s| start.is_some_and(|start| s.at <= start))
        .or(history.first())
        .unwrap_or(latest);
    let mut reasons = Vec::new();
    let timeouts = latest.timeouts.saturating_sub(baseline.timeouts);
    if timeouts > 0 {
        reasons.push(format!(
            "{} in the last {window_secs} s",
            count(timeouts, "checkout timeout", "checkout timeouts")
        ));
    }
    let errors = latest
        .trouble_errors()
        .saturating_sub(baseline.trouble_errors());
    if errors > 0 {
        reasons.push(format!(
            "{} in the last {window_secs} s",
            count(errors, "error", "errors")
        ));
    }
    let waited = latest
        .waited_checkouts
        .saturating_sub(baseline.waited_checkouts);
    let attempts = latest.checkouts.saturating_sub(baseline.checkouts) + timeouts;
    if waited >= 3 && waited * 2 >= attempts {
        reasons.push(format!(
            "{waited} of {attempts} checkouts had to wait in the last {window_secs} s"
        ));
    }
    if let Some(micros) = latest.oldest_waiter_micros
        && Duration::from_micros(micros) >= SLOW_WAITER
    {
        reasons.push(format!("a checkout has waited {}", format_micros(micros)));
    }
    reasons
}

/// The gauges that have a sparkline.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Gauge {
    /// Open connections.
    Total,
    /// Idle connections.
    Idle,
    /// Checked-out connections.
    InUse,
    /// Connections being opened.
    Opening,
    /// Checkouts waiting.
    Waiting,
    /// Age of the oldest waiting checkout, in milliseconds.
    OldestWaiterMillis,
}

impl Gauge {
    /// Its name in the legend.
    pub fn label(self) -> &'static str {
        match self {
            Gauge::Total => "total",
            Gauge::Idle => "idle",
            Gauge::InUse => "in use",
            Gauge::Opening => "being opened",
            Gauge::Waiting => "waiting",
            Gauge::OldestWaiterMillis => "oldest waiter (ms)",
        }
    }

    fn of(self, s: &Sample) -> f64 {
        match self {
            Gauge::Total => f64::from(s.total),
            Gauge::Idle => f64::from(s.idle),
            Gauge::InUse => f64::from(s.in_use),
            Gauge::Opening => s.opening as f64,
            Gauge::Waiting => s.waiting as f64,
            Gauge::OldestWaiterMillis => s.oldest_waiter_micros.unwrap_or(0) as f64 / 1_000.0,
        }
    }
}

/// p50 / p95 / p99 / max of one histogram, in µs.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Quantiles {
    /// Recordings.
    pub count: u64,
    /// Median.
    pub p50_micros: u64,
    /// 95th percentile.
    pub p95_micros: u64,
    /// 99th percentile.
    pub p99_micros: u64,
    /// Largest.
    pub max_micros: u64,
    /// Mean.
    pub mean_micros: u64,
}

impl Quantiles {
    /// The figures of `h`.
    pub fn of(h: &HistogramSnapshot) -> Self {
        Self {
            count: h.count,
            p50_micros: h.quantile_micros(0.50),
            p95_micros: h.quantile_micros(0.95),
            p99_micros: h.quantile_micros(0.99),
            max_micros: h.max_micros,
            mean_micros: h.mean_micros(),
        }
    }
}

/// One bar of a latency histogram.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct HistogramBar {
    /// The bucket's index (four per power of two of µs), used as the bar's position.
    pub bucket: usize,
    /// The smallest duration in the bucket, µs.
    pub floor_micros: u64,
    /// Recordings in it.
    pub count: u64,
}

/// The non-empty stretch of `h`'s buckets, for drawing.
pub fn histogram_bars(h: &HistogramSnapshot) -> Vec<HistogramBar> {
    let first = h.buckets.iter().position(|&n| n > 0);
    let last = h.buckets.iter().rposition(|&n| n > 0);
    let (Some(first), Some(last)) = (first, last) else {
        return Vec::new();
    };
    (first..=last)
        .map(|bucket| HistogramBar {
            bucket,
            floor_micros: HistogramSnapshot::bucket_floor_micros(bucket),
            count: h.buckets[bucket],
        })
        .collect()
}

/// The connection held longest right now.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Holder {
    /// Marquee's connection id.
    pub id: u64,
    /// Its server process.
    pub backend_pid: i32,
    /// What it is doing.
    pub label: String,
    /// How long it has been held.
    pub held_micros: u64,
}

/// Connections closed, by reason.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct ClosedCounts {
    /// The socket died or the server ended the backend.
    pub broken: u64,
    /// Validation failed.
    pub failed_validation: u64,
    /// Reached the maximum lifetime.
    pub max_lifetime: u64,
    /// Idle past the idle timeout.
    pub idle_timeout: u64,
    /// Returned while panicking or in a bad state.
    pub poisoned: u64,
    /// Pool closed, or "Recycle all".
    pub pool_closed_or_recycled: u64,
    /// Read from the server while no replica answered; one does again.
    pub back_to_replica: u64,
}

/// The counters since the pool started, as shown.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Counters {
    /// Successful checkouts.
    pub checkouts: u64,
    /// Checkouts that had to wait.
    pub waited_checkouts: u64,
    /// Checkouts that hit the deadline.
    pub timeouts: u64,
    /// Connections opened.
    pub opened: u64,
    /// Failed connection attempts.
    pub connect_errors: u64,
    /// Connections closed, by reason.
    pub closed: ClosedCounts,
    /// Connections closed in all.
    pub closed_total: u64,
    /// Validations run.
    pub validations: u64,
    /// Queries run.
    pub queries: u64,
    /// Queries that failed (cancelled ones included).
    pub query_errors: u64,
    /// Queries cancelled on purpose.
    pub cancelled_queries: u64,
    /// Reads a standby cancelled for a recovery conflict (each tried once more).
    pub recovery_conflicts: u64,
}

impl Counters {
    /// The shown counters of `c`.
    pub fn of(c: &PoolCounters) -> Self {
        Self {
            checkouts: c.checkouts,
            waited_checkouts: c.waited_checkouts,
            timeouts: c.timeouts,
            opened: c.opened,
            connect_errors: c.connect_errors,
            closed: ClosedCounts {
                broken: c.closed_broken,
                failed_validation: c.closed_validation,
                max_lifetime: c.closed_lifetime,
                idle_timeout: c.closed_idle,
                poisoned: c.closed_poisoned,
                pool_closed_or_recycled: c.closed_pool,
                back_to_replica: c.closed_back_to_replica,
            },
            closed_total: c.closed_total(),
            validations: c.validations,
            queries: c.queries,
            query_errors: c.query_errors,
            cancelled_queries: c.cancelled_queries,
            recovery_conflicts: c.recovery_conflicts,
        }
    }
}

/// One pooled connection, joined with the server's row for its backend.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ConnectionRow {
    /// Marquee's connection id (what Cancel takes).
    pub id: u64,
    /// Server process id.
    pub backend_pid: i32,
    /// `idle` or `in use`.
    pub state: &'static str,
    /// What the holder is doing (`movies.page`), when in use.
    pub label: Option<String>,
    /// The worker job it serves, if any.
    pub job: Option<u64>,
    /// Seconds since it was opened.
    pub age_secs: f64,
    /// Checkouts it has served.
    pub use_count: u64,
    /// Seconds it has been held, when in use.
    pub held_secs: Option<f64>,
    /// The server's state for this backend (`active`, `idle`…), from the last server view.
    pub server_state: Option<String>,
    /// The server's current (or last) query text for it.
    pub server_query: Option<String>,
    /// How long the server says the current query has run.
    pub server_query_secs: Option<f64>,
    /// Whether the server still lists the backend (`None`: no server view yet, or the view is
    /// of another host).
    pub on_server: Option<bool>,
    /// The host it is on (`host:port`, or the server's host list).
    pub host: String,
}

/// The server's own view (`pg_stat_activity`), compared with the pool's.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct ServerView {
    /// Seconds since it was read.
    pub age_secs: f64,
    /// Backends of the pool's `application_name` (`marquee` unless PGAPPNAME says) here.
    pub total: usize,
    /// Backends by state, sorted by state.
    pub by_state: Vec<(String, usize)>,
    /// Backends the pool does not hold: another Marquee process on this database, or a leak.
    pub not_in_pool: Vec<Backend>,
    /// Pool connections whose backend the server no longer lists (terminated; the pool finds
    /// out at their next checkout or checkin).
    pub gone_from_server: Vec<i32>,
}

/// One worker thread, as shown.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct WorkerRow {
    /// Its index.
    pub index: usize,
    /// The job it runs, if any.
    pub job: Option<u64>,
    /// The job's repository call, if any.
    pub label: Option<&'static str>,
    /// For how long, if running.
    pub running_secs: Option<f64>,
}

/// Where a running stress drill stands.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize)]
pub struct StressProgress {
    /// Concurrent query threads.
    pub threads: u32,
    /// Queries completed.
    pub completed: u64,
    /// Checkouts that timed out.
    pub timeouts: u64,
    /// Other failures.
    pub errors: u64,
    /// Seconds left (0 once it stops firing).
    pub remaining_secs: f64,
    /// Whether every thread has ended.
    pub finished: bool,
}

/// Gauges now and their peaks over the history window.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize)]
pub struct Gauges {
    /// Open connections.
    pub total: u32,
    /// Configured maximum.
    pub max: u32,
    /// Idle connections.
    pub idle: u32,
    /// Checked-out connections.
    pub in_use: u32,
    /// Connections being opened.
    pub opening: u64,
    /// Checkouts waiting.
    pub waiting: u64,
    /// Age of the oldest waiting checkout.
    pub oldest_waiter_micros: Option<u64>,
    /// The min-idle target.
    pub min_idle: u32,
    /// Most connections in use at once in the window.
    pub peak_in_use: u32,
    /// Most checkouts waiting at once in the window.
    pub peak_waiting: u64,
    /// Longest wait seen in progress in the window.
    pub peak_oldest_waiter_micros: u64,
}

/// Everything the panel and the CLI show, serialisable for `marquee pool-stats --json`.
#[derive(Clone, Debug, Serialize)]
pub struct PoolStatsReport {
    /// `host:port/db`.
    pub target: String,
    /// The health state's name.
    pub health: String,
    /// Its reasons / retry details.
    pub health_details: Vec<String>,
    /// The gauges.
    pub gauges: Gauges,
    /// Counters since the pool started.
    pub counters: Counters,
    /// Checkout wait.
    pub wait: Quantiles,
    /// Share of checkouts (0..=1) that found no idle connection and had to wait.
    pub waited_share: f64,
    /// Time held by the user.
    pub hold: Quantiles,
    /// The longest current holder.
    pub longest_holder: Option<Holder>,
    /// Connection setup time.
    pub connect: Quantiles,
    /// Seconds since a query last succeeded.
    pub last_success_secs_ago: Option<f64>,
    /// The last error.
    pub last_error: Option<ErrorReport>,
    /// The configured settings.
    pub settings: PoolSettings,
    /// How statements are sent.
    pub statements: &'static str,
    /// One row per pooled connection.
    pub connections: Vec<ConnectionRow>,
    /// With read replicas, each host's role and replay lag (the server's first).
    pub hosts: Vec<crate::db::hosts::HostStatus>,
    /// With read replicas, why reads are on the server, when no replica answers.
    pub reads_fall_back: Option<String>,
    /// The server's view, if read.
    pub server: Option<ServerView>,
    /// The worker threads (empty outside the window).
    pub workers: Vec<WorkerRow>,
    /// The most recent jobs, newest first (empty outside the window).
    pub recent_jobs: Vec<JobRecord>,
    /// The stress drill, if one ran or runs.
    pub stress: Option<StressProgress>,
}

/// The last error, for the report.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ErrorReport {
    /// Its kind.
    pub kind: DbErrorKind,
    /// Its SQLSTATE.
    pub sqlstate: Option<String>,
    /// Its message.
    pub message: String,
    /// Seconds ago.
    pub secs_ago: f64,
}

/// How statements reach the server (repositories use `query_typed`).
pub const STATEMENTS: &str =
    "unnamed (query_typed: no named prepared statements, PgBouncer transaction mode safe)";

/// The stats panel's state: the latest inputs and the 60-second history.
#[derive(Clone, Debug)]
pub struct PoolStatsModel {
    history: VecDeque<Sample>,
    snapshot: Option<PoolSnapshot>,
    backends: Option<(Vec<Backend>, Instant)>,
    jobs: Vec<JobRecord>,
    workers: Vec<WorkerState>,
    link: LinkStatus,
    stress: Option<StressProgress>,
    now: Instant,
    wall: SystemTime,
    health: Health,
}

impl Default for PoolStatsModel {
    fn default() -> Self {
        Self {
            history: VecDeque::new(),
            snapshot: None,
            backends: None,
            jobs: Vec::new(),
            workers: Vec::new(),
            link: LinkStatus::Connected,
            stress: None,
            now: Instant::now(),
            wall: SystemTime::now(),
            health: Health::Connecting,
        }
    }
}

impl PoolStatsModel {
    /// Takes in the pool's latest state. Call a few times per second (not per frame) with
    /// [`DatabasePool::snapshot`]; `backends` is the latest server view when a new one arrived
    /// (`None` keeps the previous), `jobs` and `workers` come from `Workers::job_log` and
    /// `Workers::worker_states`.
    pub fn update(
        &mut self,
        snapshot: PoolSnapshot,
        backends: Option<Vec<Backend>>,
        jobs: Vec<JobRecord>,
        workers: Vec<WorkerState>,
        now: Instant,
    ) {
        self.update_at(snapshot, backends, jobs, workers, now, SystemTime::now());
    }

    /// [`PoolStatsModel::update`] with the wall clock given too (tests).
    pub fn update_at(
        &mut self,
        snapshot: PoolSnapshot,
        backends: Option<Vec<Backend>>,
        jobs: Vec<JobRecord>,
        workers: Vec<WorkerState>,
        now: Instant,
        wall: SystemTime,
    ) {
        let sample = Sample::from_snapshot(&snapshot, now, wall);
        // Counters going backwards means a new pool (the app reconnected): start afresh.
        if self
            .history
            .back()
            .is_some_and(|last| sample.checkouts < last.checkouts || sample.opened < last.opened)
        {
            self.history.clear();
        }
        // Points closer than the gap to the one before the newest replace the newest, so the
        // history keeps at most one point per gap however often the caller updates.
        let len = self.history.len();
        if len >= 2 && now.saturating_duration_since(self.history[len - 2].at) < MIN_SAMPLE_GAP {
            self.history.pop_back();
        }
        self.history.push_back(sample);
        while self
            .history
            .front()
            .is_some_and(|s| now.saturating_duration_since(s.at) > HISTORY_WINDOW)
        {
            self.history.pop_front();
        }
        self.snapshot = Some(snapshot);
        if let Some(backends) = backends {
            self.backends = Some((backends, now));
        }
        self.jobs = jobs;
        self.workers = workers;
        self.link = LinkStatus::Connected;
        self.now = now;
        self.wall = wall;
        self.reclassify();
    }

    /// A new server view (`Answer::Backends` from `Request::ServerBackends`).
    pub fn set_server_backends(&mut self, backends: Vec<Backend>, now: Instant) {
        self.backends = Some((backends, now));
    }

    /// What the app knows about the connection when it has no pool (starting, or failed and
    /// retrying); the app passes `LinkStatus::Connected` (or just calls `update`) once ready.
    pub fn set_link(&mut self, link: LinkStatus, now: Instant) {
        self.link = link;
        self.now = now;
        self.wall = SystemTime::now();
        self.reclassify();
    }

    /// The stress drill's progress (`None` when none runs or ran).
    pub fn set_stress(&mut self, stress: Option<StressProgress>) {
        self.stress = stress;
    }

    fn reclassify(&mut self) {
        self.health = classify(self.history.make_contiguous(), &self.link, self.now);
    }

    /// The health state as of the last update.
    pub fn health(&self) -> &Health {
        &self.health
    }

    /// The history, oldest first.
    pub fn history(&self) -> impl ExactSizeIterator<Item = &Sample> {
        self.history.iter()
    }

    /// The latest snapshot, if any.
    pub fn snapshot(&self) -> Option<&PoolSnapshot> {
        self.snapshot.as_ref()
    }

    /// What the app said about the connection.
    pub fn link(&self) -> &LinkStatus {
        &self.link
    }

    /// The stress drill's progress.
    pub fn stress(&self) -> Option<StressProgress> {
        self.stress
    }

    /// The time of the last update.
    pub fn now(&self) -> Instant {
        self.now
    }

    /// One gauge over the window as `[seconds relative to now (≤ 0), value]` points.
    pub fn series(&self, gauge: Gauge) -> Vec<[f64; 2]> {
        self.history
            .iter()
            .map(|s| {
                let ago = self.now.saturating_duration_since(s.at).as_secs_f64();
                [-ago, gauge.of(s)]
            })
            .collect()
    }

    /// The gauges now and their window peaks.
    pub fn gauges(&self) -> Gauges {
        let Some(snapshot) = &self.snapshot else {
            return Gauges::default();
        };
        let c = &snapshot.counters;
        Gauges {
            total: snapshot.total,
            max: snapshot.max,
            idle: snapshot.idle,
            in_use: snapshot.in_use,
            opening: c.opening,
            waiting: c.waiting,
            oldest_waiter_micros: snapshot.oldest_waiter_micros,
            min_idle: snapshot.settings.min_idle,
            peak_in_use: self.history.iter().map(|s| s.in_use).max().unwrap_or(0),
            peak_waiting: self.history.iter().map(|s| s.waiting).max().unwrap_or(0),
            peak_oldest_waiter_micros: self
                .history
                .iter()
                .filter_map(|s| s.oldest_waiter_micros)
                .max()
                .unwrap_or(0),
        }
    }

    /// The pool in one plain sentence, for the top of the panel: "10 connections, all idle;
    /// nobody waits; checkouts wait 0 µs (p95)". Operators and newcomers read this first.
    pub fn plain_summary(&self) -> String {
        let Some(snapshot) = self.snapshot() else {
            return match &self.link {
                LinkStatus::Connected => "No pool yet".to_owned(),
                _ => "Not connected: no pool".to_owned(),
            };
        };
        let connections =
            crate::plural::count(u64::from(snapshot.total), "connection", "connections");
        let use_now = match (snapshot.in_use, snapshot.idle) {
            (0, _) if snapshot.total > 0 => format!("{connections}, all idle"),
            (0, _) => "no connections open yet".to_owned(),
            (busy, 0) => format!("{connections}, all {busy} busy"),
            (busy, idle) => format!("{connections}: {busy} busy, {idle} idle"),
        };
        let gauges = self.gauges();
        let waiting = match gauges.waiting {
            0 => "nobody waits".to_owned(),
            n => format!("{} waiting", crate::plural::count(n, "query", "queries")),
        };
        let wait = Quantiles::of(&snapshot.counters.wait);
        format!(
            "{use_now} (max {}); {waiting}; checkouts wait {} (p95)",
            snapshot.max,
            format_micros(wait.p95_micros)
        )
    }

    /// Share (0..=1) of checkout attempts that had to wait.
    pub fn waited_share(&self) -> f64 {
        let Some(c) = self.snapshot.as_ref().map(|s| &s.counters) else {
            return 0.0;
        };
        let attempts = c.checkouts + c.timeouts;
        if attempts == 0 {
            0.0
        } else {
            c.waited_checkouts as f64 / attempts as f64
        }
    }

    /// The connection held longest right now.
    pub fn longest_holder(&self) -> Option<Holder> {
        let snapshot = self.snapshot.as_ref()?;
        snapshot
            .connections
            .iter()
            .filter_map(|c| match &c.state {
                ConnectionState::InUse { label, since, .. } => Some(Holder {
                    id: c.id,
                    backend_pid: c.backend_pid,
                    label: label.clone(),
                    held_micros: self.now.saturating_duration_since(*since).as_micros() as u64,
                }),
                ConnectionState::Idle => None,
            })
            .max_by_key(|h| h.held_micros)
    }

    /// One row per pooled connection, joined by backend pid with the server's view.
    pub fn connection_rows(&self) -> Vec<ConnectionRow> {
        let Some(snapshot) = &self.snapshot else {
            return Vec::new();
        };
        // With read replicas the view is of one host; a connection elsewhere is not in it.
        let server: Option<BTreeMap<(&str, i32), &Backend>> = self
            .backends
            .as_ref()
            .map(|(b, _)| b.iter().map(|b| ((b.host.as_str(), b.pid), b)).collect());
        let view_host = self.view_host();
        snapshot
            .connections
            .iter()
            .map(|c| {
                let (state, label, job, held) = match &c.state {
                    ConnectionState::Idle => ("idle", None, None, None),
                    ConnectionState::InUse { label, job, since } => (
                        "in use",
                        Some(label.clone()),
                        *job,
                        Some(self.now.saturating_duration_since(*since).as_secs_f64()),
                    ),
                };
                let key = (c.host.as_str(), c.backend_pid);
                let backend = server.as_ref().and_then(|s| s.get(&key));
                ConnectionRow {
                    id: c.id,
                    backend_pid: c.backend_pid,
                    state,
                    label,
                    job,
                    age_secs: self
                        .now
                        .saturating_duration_since(c.opened_at)
                        .as_secs_f64(),
                    use_count: c.use_count,
                    held_secs: held,
                    server_state: backend.map(|b| b.state.clone()),
                    server_query: backend.map(|b| b.query.clone()),
                    server_query_secs: backend.and_then(|b| b.query_secs),
                    on_server: server
                        .as_ref()
                        .filter(|_| view_host == Some(c.host.as_str()))
                        .map(|s| s.contains_key(&key)),
                    host: c.host.clone(),
                }
            })
            .collect()
    }

    /// The host the last server view was read on (`None` before one, or if it listed no one).
    fn view_host(&self) -> Option<&str> {
        self.backends
            .as_ref()
            .and_then(|(b, _)| b.first())
            .map(|b| b.host.as_str())
    }

    /// The server's view compared with the pool's, if one was read.
    pub fn server_view(&self) -> Option<ServerView> {
        let (backends, at) = self.backends.as_ref()?;
        let view_host = self.view_host();
        let pool_pids: Vec<i32> = self
            .snapshot
            .as_ref()
            .map(|s| {
                s.connections
                    .iter()
                    .filter(|c| view_host.is_none_or(|host| host == c.host))
                    .map(|c| c.backend_pid)
                    .collect()
            })
            .unwrap_or_default();
        let mut by_state: BTreeMap<String, usize> = BTreeMap::new();
        for b in backends {
            *by_state.entry(b.state.clone()).or_default() += 1;
        }
        Some(ServerView {
            age_secs: self.now.saturating_duration_since(*at).as_secs_f64(),
            total: backends.len(),
            by_state: by_state.into_iter().collect(),
            not_in_pool: backends
                .iter()
                .filter(|b| !pool_pids.contains(&b.pid))
                .cloned()
                .collect(),
            gone_from_server: pool_pids
                .iter()
                .copied()
                .filter(|pid| !backends.iter().any(|b| b.pid == *pid))
                .collect(),
        })
    }

    /// One row per worker thread.
    pub fn worker_rows(&self) -> Vec<WorkerRow> {
        self.workers
            .iter()
            .enumerate()
            .map(|(index, w)| match w {
                WorkerState::Idle => WorkerRow {
                    index,
                    job: None,
                    label: None,
                    running_secs: None,
                },
                WorkerState::Running { job, label, since } => WorkerRow {
                    index,
                    job: Some(*job),
                    label: Some(label),
                    running_secs: Some(self.now.saturating_duration_since(*since).as_secs_f64()),
                },
            })
            .collect()
    }

    /// The latest finished jobs, newest first.
    pub fn recent_jobs(&self) -> Vec<JobRecord> {
        self.jobs.iter().rev().take(RECENT_JOBS).cloned().collect()
    }

    /// The settings beside the live figures, as label/value pairs.
    pub fn settings_rows(&self) -> Vec<(&'static str, String)> {
        let Some(snapshot) = &self.snapshot else {
            return Vec::new();
        };
        let s = &snapshot.settings;
        vec![
            ("server", snapshot.target.clone()),
            ("min idle / max", format!("{} / {}", s.min_idle, s.max_size)),
            ("checkout deadline", format_millis(s.checkout_timeout_ms)),
            ("validation bypass", format_millis(s.validation_bypass_ms)),
            ("validation timeout", format_millis(s.validation_timeout_ms)),
            ("idle timeout", format_secs(s.idle_timeout_secs)),
            ("max lifetime", format_secs(s.max_lifetime_secs)),
            ("statement timeout", format_millis(s.statement_timeout_ms)),
            ("statements", STATEMENTS.to_owned()),
        ]
    }

    /// Seconds since a query last succeeded.
    pub fn last_success_secs_ago(&self) -> Option<f64> {
        let at = self.snapshot.as_ref()?.last_success?;
        Some(
            self.wall
                .duration_since(at)
                .unwrap_or_default()
                .as_secs_f64(),
        )
    }

    /// The last error with how long ago it happened; when the app has no pool, its failure.
    pub fn last_error(&self) -> Option<ErrorReport> {
        if let LinkStatus::Failed { kind, message, .. } = &self.link {
            return Some(ErrorReport {
                kind: *kind,
                sqlstate: None,
                message: message.clone(),
                secs_ago: 0.0,
            });
        }
        let (error, at) = self.snapshot.as_ref()?.last_error.as_ref()?;
        Some(ErrorReport {
            kind: error.kind,
            sqlstate: error.sqlstate.clone(),
            message: error.message.clone(),
            secs_ago: self
                .wall
                .duration_since(*at)
                .unwrap_or_default()
                .as_secs_f64(),
        })
    }

    /// Everything, as one serialisable report (the CLI prints it; the panel draws the same).
    pub fn report(&self) -> Option<PoolStatsReport> {
        let snapshot = self.snapshot.as_ref()?;
        let c = &snapshot.counters;
        Some(PoolStatsReport {
            target: snapshot.target.clone(),
            health: self.health.label().to_owned(),
            health_details: self.health.details(),
            gauges: self.gauges(),
            counters: Counters::of(c),
            wait: Quantiles::of(&c.wait),
            waited_share: self.waited_share(),
            hold: Quantiles::of(&c.hold),
            longest_holder: self.longest_holder(),
            connect: Quantiles::of(&c.connect),
            last_success_secs_ago: self.last_success_secs_ago(),
            last_error: self.last_error(),
            settings: snapshot.settings.clone(),
            statements: STATEMENTS,
            connections: self.connection_rows(),
            hosts: snapshot.hosts.clone(),
            reads_fall_back: snapshot.reads_fall_back(),
            server: self.server_view(),
            workers: self.worker_rows(),
            recent_jobs: self.recent_jobs(),
            stress: self.stress,
        })
    }
}

/// `1234` µs → `1.2 ms`.
pub fn format_micros(micros: u64) -> String {
    if micros < 1_000 {
        format!("{micros} µs")
    } else if micros < 1_000_000 {
        format!("{:.1} ms", micros as f64 / 1_000.0)
    } else {
        format!("{:.2} s", micros as f64 / 1_000_000.0)
    }
}

/// `1500` ms → `1.5 s`.
pub fn format_millis(millis: u64) -> String {
    if millis < 1_000 {
        format!("{millis} ms")
    } else {
        format!("{} s", millis as f64 / 1_000.0)
    }
}

/// `125` s → `2 min 5 s`.
pub fn format_secs(secs: u64) -> String {
    match secs {
        0..60 => format!("{secs} s"),
        60..3_600 if secs.is_multiple_of(60) => format!("{} min", secs / 60),
        60..3_600 => format!("{} min {} s", secs / 60, secs % 60),
        _ if secs.is_multiple_of(3_600) => format!("{} h", secs / 3_600),
        _ => format!("{} h {} min", secs / 3_600, secs % 3_600 / 60),
    }
}

/// A fractional number of seconds, short: `0.4 s`, `12 s`, `3 min 5 s`.
pub fn format_secs_f64(secs: f64) -> String {
    if secs < 10.0 {
        format!("{secs:.1} s")
    } else {
        format_secs(secs as u64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(base: Instant, wall0: SystemTime, at_secs: u64) -> Sample {
        Sample {
            at: base + Duration::from_secs(at_secs),
            wall: wall0 + Duration::from_secs(at_secs),
            total: 2,
            idle: 2,
            in_use: 0,
            opening: 0,
            waiting: 0,
            oldest_waiter_micros: None,
            checkouts: 10 * at_secs,
            waited_checkouts: 0,
            timeouts: 0,
            opened: 2,
            connect_errors: 0,
            queries: 10 * at_secs,
            query_errors: 0,
            cancelled_queries: 0,
            last_error: None,
            last_success: Some(wall0 + Duration::from_secs(at_secs)),
        }
    }

    fn steady(base: Instant, wall0: SystemTime, secs: u64) -> Vec<Sample> {
        (0..=secs).map(|t| sample(base, wall0, t)).collect()
    }

    fn unreachable(at: SystemTime) -> ErrorInfo {
        ErrorInfo {
            kind: DbErrorKind::Unreachable,
            sqlstate: None,
            message: "cannot reach the server".into(),
            at,
        }
    }

    #[test]
    fn no_history_is_connecting_and_a_quiet_pool_is_healthy() {
        let base = Instant::now();
        let wall = SystemTime::now();
        assert_eq!(
            classify(&[], &LinkStatus::Connected, base),
            Health::Connecting
        );
        let history = steady(base, wall, 30);
        let now = history[30].at;
        assert_eq!(
            classify(&history, &LinkStatus::Connected, now),
            Health::Healthy
        );
    }

    #[test]
    fn timeouts_in_the_window_degrade_and_old_ones_do_not() {
        let base = Instant::now();
        let wall = SystemTime::now();
        let mut history = steady(base, wall, 30);
        for s in &mut history[25..] {
            s.timeouts = 2;
        }
        let now = history[30].at;
        let Health::Degraded { reasons } = classify(&history, &LinkStatus::Connected, now) else {
            panic!("expected degraded");
        };
        assert_eq!(reasons, vec!["2 checkout timeouts in the last 10 s"]);
        // The same timeouts 20 s ago no longer count.
        for s in &mut history[5..] {
            s.timeouts = 2;
        }
        assert_eq!(
            classify(&history, &LinkStatus::Connected, now),
            Health::Healthy
        );
    }

    #[test]
    fn cancels_are_not_errors_but_other_failures_are() {
        let base = Instant::now();
        let wall = SystemTime::now();
        let mut history = steady(base, wall, 30);
        for s in &mut history[28..] {
            s.query_errors = 3;
            s.cancelled_queries = 3;
        }
        let now = history[30].at;
        assert_eq!(
            classify(&history, &LinkStatus::Connected, now),
            Health::Healthy
        );
        history[30].query_errors = 4;
        history[30].connect_errors = 1;
        let health = classify(&history, &LinkStatus::Connected, now);
        assert_eq!(
            health.details(),
            vec!["2 errors in the last 10 s".to_owned()]
        );
    }

    #[test]
    fn mostly_waiting_checkouts_or_a_slow_waiter_degrade() {
        let base = Instant::now();
        let wall = SystemTime::now();
        let mut history = steady(base, wall, 30);
        for (i, s) in history.iter_mut().enumerate().skip(21) {
            s.waited_checkouts = (i as u64 - 20) * 8;
        }
        let now = history[30].at;
        assert_eq!(
            classify(&history, &LinkStatus::Connected, now).details(),
            vec!["80 of 100 checkouts had to wait in the last 10 s".to_owned()]
        );
        let mut history = steady(base, wall, 30);
        history[30].waiting = 1;
        history[30].oldest_waiter_micros = Some(1_500_000);
        assert_eq!(
            classify(&history, &LinkStatus::Connected, now).details(),
            vec!["a checkout has waited 1.50 s".to_owned()]
        );
    }

    #[test]
    fn an_unanswered_unreachable_error_is_unreachable_until_work_succeeds_then_recovering() {
        let base = Instant::now();
        let wall = SystemTime::now();
        let mut history = steady(base, wall, 30);
        let down_at = wall + Duration::from_secs(20);
        for s in &mut history[20..] {
            s.last_error = Some(unreachable(down_at));
            s.last_success = Some(wall + Duration::from_secs(19));
            s.checkouts = 200;
            s.connect_errors = 5;
        }
        let now = history[30].at;
        assert_eq!(
            classify(&history, &LinkStatus::Connected, now),
            Health::Unreachable {
                attempt: None,
                next_retry_in: None,
                since: Some(down_at)
            }
        );
        // Work succeeds again at 29 s: recovering (the outage is within the last 10 s).
        history[30].last_success = Some(wall + Duration::from_secs(29));
        assert_eq!(
            classify(&history, &LinkStatus::Connected, now),
            Health::Recovering
        );
        // A fresh connection alone also proves the server is back.
        history[30].last_success = Some(wall + Duration::from_secs(19));
        history[30].opened = 3;
        assert_eq!(
            classify(&history, &LinkStatus::Connected, now),
            Health::Recovering
        );
        // 40 s later with nothing new going wrong: healthy.
        let mut later = steady(base, wall, 70);
        for s in &mut later {
            s.last_error = Some(unreachable(down_at));
        }
        for s in &mut later[..30] {
            s.last_success = Some(wall + Duration::from_secs(19));
        }
        assert_eq!(
            classify(&later[10..], &LinkStatus::Connected, later[70].at),
            Health::Healthy
        );
    }

    #[test]
    fn a_refused_login_or_setup_problem_is_not_called_unreachable() {
        let now = Instant::now();
        for kind in [
            DbErrorKind::Rejected,
            DbErrorKind::Setup,
            DbErrorKind::Schema,
        ] {
            let link = LinkStatus::Failed {
                kind,
                message: "the server rejected the password".into(),
                attempt: 1,
                next_retry: None,
            };
            let health = classify(&[], &link, now);
            assert_eq!(health.label(), "Cannot connect", "{kind:?}");
            assert_eq!(health.details()[0], "the server rejected the password");
        }
    }

    #[test]
    fn a_failed_connection_reports_attempt_and_next_retry() {
        let now = Instant::now();
        let link = LinkStatus::Failed {
            kind: DbErrorKind::Unreachable,
            message: "cannot reach the server".into(),
            attempt: 3,
            next_retry: Some(now + Duration::from_millis(3_200)),
        };
        let health = classify(&[], &link, now);
        assert_eq!(health.label(), "Server unreachable");
        assert_eq!(
            health.details(),
            vec!["retry attempt 3".to_owned(), "next retry in 4 s".to_owned()]
        );
        assert_eq!(
            classify(&[], &LinkStatus::Connecting { attempt: 0 }, now),
            Health::Connecting
        );
    }

    #[test]
    fn histogram_bars_span_the_recorded_buckets() {
        let h = crate::db::metrics::Histogram::default();
        h.record(Duration::from_micros(100));
        h.record(Duration::from_millis(3));
        let bars = histogram_bars(&h.snapshot());
        assert_eq!(bars.iter().map(|b| b.count).sum::<u64>(), 2);
        assert!(bars[0].floor_micros <= 100 && bars[0].count == 1);
        assert!(
            bars.last()
                .is_some_and(|b| b.floor_micros <= 3_000 && b.count == 1)
        );
        assert!(histogram_bars(&HistogramSnapshot::default()).is_empty());
    }

    #[test]
    fn durations_read_naturally() {
        assert_eq!(format_micros(950), "950 µs");
        assert_eq!(format_micros(1_240), "1.2 ms");
        assert_eq!(format_micros(2_500_000), "2.50 s");
        assert_eq!(format_millis(5_000), "5 s");
        assert_eq!(format_secs(1_800), "30 min");
        assert_eq!(format_secs(125), "2 min 5 s");
        assert_eq!(format_secs(7_200), "2 h");
    }
}
