//! `checkout`: what a pooled connection costs.
//!
//! - checkout + checkin of a connection used moments ago (inside the validation bypass window,
//!   so no round trip: this is what every worker job pays);
//! - the same with the bypass window at 0, so every checkout validates (what a connection idle
//!   for longer than the window pays, and what catches dead connections);
//! - a fresh connect, for comparison (what the pool saves);
//! - 64 threads sharing a pool of 10 running a point query for a fixed time, against `pgbench`
//!   running the same query with 10 clients in the same run: the pool's overhead under contention.

use std::path::PathBuf;
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use postgres::types::Type;

use super::report::{BenchName, Check, Options, Report, Target};
use super::stats::Rng;
use crate::config::PoolSettings;
use crate::db::{self, pool::DatabasePool};

/// The point query, as the issue states it.
const POINT_SQL: &str = "SELECT id, title, year FROM marquee.movies WHERE id = $1";
/// Threads sharing the pool in the contended run.
const THREADS: usize = 64;
/// Pool size in the contended run (the original's maximum) and pgbench's client count.
const POOL_SIZE: u32 = 10;
/// Target: median uncontended checkout + checkin.
const MAX_CHECKOUT_P50_MICROS: f64 = 5.0;
/// Target: throughput against pgbench.
const MIN_PGBENCH_RATIO: f64 = 0.9;

/// Runs the benchmark.
pub fn run(target: &Target, options: &Options) -> anyhow::Result<Report> {
    let mut report = Report::new(BenchName::Checkout, target.movies);
    let repeats = options.repeats.max(1) as usize;

    // Recently used: bypass window at its default, connections returned a moment ago.
    let settings = PoolSettings::default();
    let pool = DatabasePool::new(&target.params, &settings)?;
    drop(pool.get("bench.warmup")?);
    for _ in 0..1_000 {
        drop(pool.get("bench.warmup")?);
    }
    let before = pool.snapshot().counters.validations;
    let mut samples = Vec::with_capacity(repeats * 10_000);
    for _ in 0..repeats * 10_000 {
        let started = Instant::now();
        let conn = pool.get("bench.checkout")?;
        drop(conn);
        samples.push(started.elapsed());
    }
    let validated = pool.snapshot().counters.validations - before;
    let recent = report.timing("checkout+checkin, recently used", &samples);
    report.checks.push(Check::at_most(
        "checkout p50 (recently used)",
        recent.median_micros,
        MAX_CHECKOUT_P50_MICROS,
        "µs",
    ));
    report.figure(
        "validations during recently-used run",
        validated as f64,
        "count",
    );
    pool.close();
    drop(pool);

    // Needs validation: bypass window 0, so every checkout does the round trip.
    let validating = DatabasePool::new(
        &target.params,
        &PoolSettings {
            validation_bypass_ms: 0,
            ..settings.clone()
        },
    )?;
    drop(validating.get("bench.warmup")?);
    let mut samples = Vec::with_capacity(repeats * 500);
    for _ in 0..repeats * 500 {
        let started = Instant::now();
        let conn = validating.get("bench.checkout")?;
        drop(conn);
        samples.push(started.elapsed());
    }
    report.timing("checkout+checkin, validated", &samples);
    validating.close();
    drop(validating);

    // A fresh connection, as the original paid on every cold start (~100 ms claimed).
    let mut samples = Vec::with_capacity(repeats * 20);
    for _ in 0..repeats * 20 {
        let started = Instant::now();
        let client = db::connect_once(&target.params)?;
        samples.push(started.elapsed());
        drop(client);
    }
    report.timing("fresh connect (unpooled)", &samples);

    // Contended: 64 threads, pool of 10, point queries, then pgbench with the same query.
    let (ops, latencies) = contended(target, THREADS, options.duration)?;
    let ours_qps = ops as f64 / options.duration.as_secs_f64();
    report.timing(
        format!("point query, {THREADS} threads / pool {POOL_SIZE}"),
        &latencies,
    );
    report.figure(
        format!("marquee throughput, {THREADS} threads"),
        ours_qps,
        "qps",
    );
    // The same with one thread per connection: no waiting in the pool, so the difference to
    // the 64-thread run is the cost of contention, and the rest to pgbench is the driver's.
    let (ops, _) = contended(target, POOL_SIZE as usize, options.duration)?;
    report.figure(
        format!("marquee throughput, {POOL_SIZE} threads (no waiting)"),
        ops as f64 / options.duration.as_secs_f64(),
        "qps",
    );
    match pgbench(target, options.duration) {
        Ok(tps) => {
            report.figure("pgbench throughput (10 clients)", tps, "qps");
            report.checks.push(Check::at_least(
                "throughput / pgbench",
                ours_qps / tps,
                MIN_PGBENCH_RATIO,
                "x",
            ));
        }
        Err(err) => report.notes.push(format!("pgbench skipped: {err:#}")),
    }
    report.notes.push(format!(
        "point query `{POINT_SQL}` with uniform random ids in 1..={}; {:.1} s per throughput run; pgbench -n -c {POOL_SIZE} -j 2 (simple protocol) over the same Unix socket",
        target.movies,
        options.duration.as_secs_f64()
    ));
    Ok(report)
}

/// `threads` threads on a pool of 10 for `duration`; returns operations done and each one's
/// latency (checkout wait + query), sampled.
fn contended(
    target: &Target,
    threads: usize,
    duration: Duration,
) -> anyhow::Result<(u64, Vec<Duration>)> {
    let pool = DatabasePool::new(
        &target.params,
        &PoolSettings {
            min_idle: POOL_SIZE,
            max_size: POOL_SIZE,
            ..PoolSettings::default()
        },
    )?;
    // Open all ten before the clock starts, as pgbench does before its timer.
    let held: Vec<_> = (0..POOL_SIZE)
        .map(|_| pool.get("bench.warmup"))
        .collect::<Result<_, _>>()?;
    drop(held);
    let stop = Arc::new(AtomicBool::new(false));
    let max_id = u64::from(target.movies.max(1));
    let mut handles = Vec::with_capacity(threads);
    for thread in 0..threads {
        let pool = pool.clone();
        let stop = Arc::clone(&stop);
        handles.push(std::thread::spawn(
            move || -> anyhow::Result<(u64, Vec<Duration>)> {
                let mut rng = Rng::new(thread as u64 + 1);
                let mut ops = 0_u64;
                let mut latencies = Vec::new();
                while !stop.load(Relaxed) {
                    let id = rng.range(1, max_id) as i32;
                    let started = Instant::now();
                    let mut conn = pool.get("bench.point")?;
                    let rows = conn.query_typed(POINT_SQL, &[(&id, Type::INT4)])?;
                    drop(conn);
                    let elapsed = started.elapsed();
                    anyhow::ensure!(rows.len() == 1, "movie {id} missing");
                    ops += 1;
                    // Every 8th, so 64 threads do not fill memory on long runs.
                    if ops.is_multiple_of(8) {
                        latencies.push(elapsed);
                    }
                }
                Ok((ops, latencies))
            },
        ));
    }
    std::thread::sleep(duration);
    stop.store(true, Relaxed);
    let mut ops = 0;
    let mut latencies = Vec::new();
    for handle in handles {
        let (n, l) = handle
            .join()
            .map_err(|_| anyhow::anyhow!("a benchmark thread panicked"))??;
        ops += n;
        latencies.extend(l);
    }
    pool.close();
    Ok((ops, latencies))
}

/// Runs pgbench with the same query; returns its tps (excluding connection time).
fn pgbench(target: &Target, duration: Duration) -> anyhow::Result<f64> {
    let dir = std::env::temp_dir().join(format!("marquee-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let file: PathBuf = dir.join("point.sql");
    std::fs::write(
        &file,
        format!(
            "\\set id random(1, {})\nSELECT id, title, year FROM marquee.movies WHERE id = :id;\n",
            target.movies.max(1)
        ),
    )?;
    let p = &target.params;
    let mut cmd = Command::new("pgbench");
    cmd.args(["-n", "-c", &POOL_SIZE.to_string(), "-j", "2"])
        .args(["-T", &duration.as_secs().max(1).to_string()])
        .arg("-f")
        .arg(&file)
        .args(["-h", &p.host, "-p", &p.port.to_string(), "-U", &p.user])
        .arg(&p.dbname);
    if let Some(password) = &p.password {
        cmd.env("PGPASSWORD", password.expose());
    }
    let out = cmd.output().context("running pgbench")?;
    let _ = std::fs::remove_dir_all(&dir);
    let stdout = String::from_utf8_lossy(&out.stdout);
    anyhow::ensure!(
        out.status.success(),
        "pgbench failed: {}",
        String::from_utf8_lossy(&out.stderr).trim()
    );
    parse_tps(&stdout).context("no `tps =` line in pgbench's output")
}

/// `tps = 41234.567 (without initial connection time)` → 41234.567.
fn parse_tps(output: &str) -> Option<f64> {
    output
        .lines()
        .filter_map(|l| l.trim().strip_prefix("tps = "))
        .find_map(|rest| rest.split_whitespace().next()?.parse().ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tps_is_read_from_pgbench_output() {
        let out = "latency average = 0.241 ms\ninitial connection time = 4.1 ms\ntps = 41234.567 (without initial connection time)\n";
        assert_eq!(parse_tps(out), Some(41234.567));
        assert_eq!(parse_tps("nothing"), None);
    }
}
