//! `marquee pool-stats`: the panel's report in the terminal, once or while watching, optionally
//! after a stress drill.

use std::io::Write;
use std::time::{Duration, Instant};

use crate::db::pool::DatabasePool;
use crate::plural::count;

use super::drill::{StressDrill, StressSpec};
use super::*;

/// What `marquee pool-stats` does.
#[derive(Clone, Debug, PartialEq)]
pub struct PoolStatsOptions {
    /// One JSON object per report (NDJSON with `--watch`) instead of text.
    pub json: bool,
    /// Keep printing a report every `interval`.
    pub watch: bool,
    /// Time between reports with `watch`.
    pub interval: Duration,
    /// Run a stress drill with this many concurrent queries first (while watching, if `watch`).
    pub stress: Option<u32>,
    /// How long the stress drill fires.
    pub stress_duration: Duration,
    /// Stop after this many reports (`None`: one report, or forever with `watch`).
    pub max_reports: Option<u32>,
    /// Read the server's view (`pg_stat_activity`) for each report.
    pub server_view: bool,
}

impl Default for PoolStatsOptions {
    fn default() -> Self {
        Self {
            json: false,
            watch: false,
            interval: Duration::from_secs(1),
            stress: None,
            stress_duration: Duration::from_secs(3),
            max_reports: None,
            server_view: true,
        }
    }
}

/// `marquee pool-stats [--json] [--watch] [--stress N]`: prints the stats panel's report for
/// `pool`, after (or, with `--watch`, while) running a stress drill if asked. The pool is sampled
/// every 100 ms in between, so window peaks (most in use, most waiting) are real.
pub fn pool_stats_command(
    pool: &DatabasePool,
    options: &PoolStatsOptions,
    out: &mut dyn Write,
) -> anyhow::Result<()> {
    const SAMPLE_EVERY: Duration = Duration::from_millis(100);
    let server = ServerStatsRepository::new(pool.clone());
    let mut model = PoolStatsModel::default();
    pool.wait_for_host_checks();
    let drill = options.stress.map(|n| {
        StressDrill::start(
            pool,
            StressSpec {
                duration: options.stress_duration,
                ..StressSpec::new(n, 0)
            },
        )
    });
    let sample = |model: &mut PoolStatsModel, with_server: bool| {
        let backends = if with_server && options.server_view {
            match server.backends() {
                Ok(b) => Some(b),
                Err(err) => {
                    tracing::warn!("reading the server's view: {err}");
                    None
                }
            }
        } else {
            None
        };
        model.update(
            pool.snapshot(),
            backends,
            Vec::new(),
            Vec::new(),
            Instant::now(),
        );
        model.set_stress(drill.as_ref().map(|d| d.progress(Instant::now())));
    };
    let mut printed = 0_u32;
    let limit = options
        .max_reports
        .unwrap_or(if options.watch { u32::MAX } else { 1 });
    let mut next_report = Instant::now()
        + if options.watch || drill.is_none() {
            Duration::ZERO
        } else {
            options.stress_duration
        };
    sample(&mut model, false);
    while printed < limit {
        let now = Instant::now();
        let drill_running = drill.as_ref().is_some_and(|d| !d.is_finished());
        let due = now >= next_report && (options.watch || !drill_running);
        if due {
            sample(&mut model, true);
            let Some(report) = model.report() else {
                anyhow::bail!("the pool gave no snapshot");
            };
            if options.json {
                serde_json::to_writer(&mut *out, &report)?;
                writeln!(out)?;
            } else {
                write_text(out, &report)?;
            }
            out.flush()?;
            printed += 1;
            next_report = now + options.interval;
            continue;
        }
        let until_report = next_report.saturating_duration_since(now);
        let pause = if until_report.is_zero() {
            SAMPLE_EVERY
        } else {
            until_report.min(SAMPLE_EVERY)
        };
        std::thread::sleep(pause);
        sample(&mut model, false);
    }
    if let Some(drill) = drill {
        drill.stop();
        drill.join();
    }
    Ok(())
}

/// The report as text for people (what the panel shows, in the terminal).
pub fn write_text(out: &mut dyn Write, r: &PoolStatsReport) -> std::io::Result<()> {
    let g = &r.gauges;
    writeln!(out, "Pool {}: {}", r.target, r.health)?;
    for line in &r.health_details {
        writeln!(out, "  {line}")?;
    }
    writeln!(
        out,
        "connections {}/{} (idle {}, in use {}, being opened {}, min idle {}); waiting {}{}",
        g.total,
        g.max,
        g.idle,
        g.in_use,
        g.opening,
        g.min_idle,
        g.waiting,
        g.oldest_waiter_micros
            .map(|m| format!(" (oldest {})", format_micros(m)))
            .unwrap_or_default()
    )?;
    writeln!(
        out,
        "peaks over the last {} s: in use {}, waiting {}, longest wait in progress {}",
        HISTORY_WINDOW.as_secs(),
        g.peak_in_use,
        g.peak_waiting,
        format_micros(g.peak_oldest_waiter_micros)
    )?;
    let q = |q: &Quantiles| {
        format!(
            "p50 {}  p95 {}  p99 {}  max {}  (n={})",
            format_micros(q.p50_micros),
            format_micros(q.p95_micros),
            format_micros(q.p99_micros),
            format_micros(q.max_micros),
            q.count
        )
    };
    writeln!(
        out,
        "checkout wait: {}; {:.1}% had to wait",
        q(&r.wait),
        r.waited_share * 100.0
    )?;
    writeln!(out, "time held:     {}", q(&r.hold))?;
    if let Some(h) = &r.longest_holder {
        writeln!(
            out,
            "longest holder: connection {} (pid {}) {} for {}",
            h.id,
            h.backend_pid,
            h.label,
            format_micros(h.held_micros)
        )?;
    }
    writeln!(out, "connect:       {}", q(&r.connect))?;
    let c = &r.counters;
    writeln!(
        out,
        "checkouts {} (waited {}), timeouts {}, opened {}, connect errors {}, validations {}",
        c.checkouts, c.waited_checkouts, c.timeouts, c.opened, c.connect_errors, c.validations
    )?;
    writeln!(
        out,
        "closed {}: broken {}, failed validation {}, max lifetime {}, idle timeout {}, poisoned {}, recycled/pool closed {}",
        c.closed_total,
        c.closed.broken,
        c.closed.failed_validation,
        c.closed.max_lifetime,
        c.closed.idle_timeout,
        c.closed.poisoned,
        c.closed.pool_closed_or_recycled
    )?;
    writeln!(
        out,
        "queries {}, errors {} (cancelled {})",
        c.queries, c.query_errors, c.cancelled_queries
    )?;
    match r.last_success_secs_ago {
        Some(secs) => writeln!(out, "last success {} ago", format_secs_f64(secs))?,
        None => writeln!(out, "no query has succeeded yet")?,
    }
    if let Some(e) = &r.last_error {
        writeln!(
            out,
            "last error {} ago [{:?}{}]: {}",
            format_secs_f64(e.secs_ago),
            e.kind,
            e.sqlstate
                .as_ref()
                .map(|s| format!(", SQLSTATE {s}"))
                .unwrap_or_default(),
            e.message
        )?;
    }
    let s = &r.settings;
    writeln!(
        out,
        "settings: min idle {}, max {}, checkout deadline {}, idle timeout {}, max lifetime {}, statement timeout {}, statements {}",
        s.min_idle,
        s.max_size,
        format_millis(s.checkout_timeout_ms),
        format_secs(s.idle_timeout_secs),
        format_secs(s.max_lifetime_secs),
        format_millis(s.statement_timeout_ms),
        r.statements
    )?;
    writeln!(out, "connections:")?;
    for row in &r.connections {
        writeln!(
            out,
            "  #{:<4} pid {:<7} {:<6} age {:<8} uses {:<6} {}{}",
            row.id,
            row.backend_pid,
            row.state,
            format_secs_f64(row.age_secs),
            row.use_count,
            row.label.as_deref().unwrap_or(""),
            row.held_secs
                .map(|s| format!(" for {}", format_secs_f64(s)))
                .unwrap_or_default()
        )?;
    }
    if let Some(view) = &r.server {
        let states: Vec<String> = view
            .by_state
            .iter()
            .map(|(state, n)| format!("{state} {n}"))
            .collect();
        writeln!(
            out,
            "server (pg_stat_activity, the pool's application_name): {} backends: {}",
            view.total,
            states.join(", ")
        )?;
        for b in &view.not_in_pool {
            writeln!(out, "  pid {} not in this pool ({})", b.pid, b.state)?;
        }
        for pid in &view.gone_from_server {
            writeln!(out, "  pid {pid} is in the pool but gone from the server")?;
        }
    }
    if let Some(s) = &r.stress {
        writeln!(
            out,
            "stress drill: {}, {} done, {}, {}{}",
            count(u64::from(s.threads), "thread", "threads"),
            count(s.completed, "query", "queries"),
            count(s.timeouts, "checkout timeout", "checkout timeouts"),
            count(s.errors, "error", "errors"),
            if s.finished {
                String::new()
            } else {
                format!(", {} left", format_secs_f64(s.remaining_secs))
            }
        )?;
    }
    writeln!(out)
}
