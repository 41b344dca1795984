//! `load-all`: the original design's startup load (every movie into memory) through the pool,
//! against the physical limit measured in the same run on the same kind of connection: a binary
//! `COPY … TO STDOUT` of the same rows, read to the end and not decoded. The ratio says how much
//! of the time is Marquee's own (row decoding, allocation) rather than the server's and the
//! socket's. `--with-original` also runs the Python reproduction in `bench/` on the same rows.

use std::io::Read as _;
use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::Context as _;

use super::report::{BenchName, Check, Options, Report, Target, Timing};
use super::stats::Summary;
use crate::config::PoolSettings;
use crate::db::pool::DatabasePool;
use crate::repo::movies::MoviesRepository;

/// The physical limit: the same columns and order as `MoviesRepository::load_all`.
const COPY_SQL: &str = "COPY (SELECT id, title, year, genres, rating_avg, rating_count FROM marquee.movies ORDER BY id) TO STDOUT (FORMAT binary)";

/// Target from the issue: loading may cost at most this multiple of the COPY.
const MAX_COPY_RATIO: f64 = 1.5;

/// Runs the benchmark.
pub fn run(target: &Target, options: &Options) -> anyhow::Result<Report> {
    let mut report = Report::new(BenchName::LoadAll, target.movies);
    let pool = DatabasePool::new(&target.params, &PoolSettings::default())?;
    let movies = MoviesRepository::new(pool.clone());

    // Warm-up: caches, the pool's connections, the allocator.
    let loaded = movies.load_all()?.len();
    copy_bytes(&pool)?;

    let mut load_samples = Vec::new();
    let mut copy_samples = Vec::new();
    let mut bytes = 0;
    // Alternate the two so drift on a shared machine hits both alike.
    for _ in 0..options.repeats.max(3) {
        let started = Instant::now();
        let rows = movies.load_all()?;
        load_samples.push(started.elapsed());
        anyhow::ensure!(rows.len() == loaded, "load_all returned a different count");
        drop(rows);

        let started = Instant::now();
        bytes = copy_bytes(&pool)?;
        copy_samples.push(started.elapsed());
    }
    pool.close();
    let load = report.timing("load_all (pool, Vec<MovieRow>)", &load_samples);
    let copy = report.timing("copy binary (same rows, read only)", &copy_samples);
    report.figure("rows", loaded as f64, "rows");
    report.figure("copy bytes", bytes as f64, "bytes");
    report.figure(
        "load_all rate",
        loaded as f64 / (load.median_micros / 1e6),
        "rows/s",
    );
    let ratio = load.median_micros / copy.median_micros;
    report.checks.push(Check::at_most(
        "load_all / copy (median)",
        ratio,
        MAX_COPY_RATIO,
        "x",
    ));

    if options.with_original {
        let original = run_original(target, options.repeats.max(3))?;
        report.timings.push(Timing {
            name: "original python (psycopg2 RealDictCursor)".to_owned(),
            summary: original.summary.clone(),
        });
        report.figure(
            "original peak RSS",
            original.peak_rss_kib as f64 / 1024.0,
            "MiB",
        );
        report.figure(
            "speed-up over original (median)",
            original.summary.median_micros / load.median_micros,
            "x",
        );
        anyhow::ensure!(
            original.movies == loaded,
            "the original loaded {} movies, Marquee {loaded}",
            original.movies
        );
    }
    report.notes.push(format!(
        "{} measured repetitions of each after one warm-up, alternating; both on a pooled connection over the private Unix socket",
        load_samples.len()
    ));
    Ok(report)
}

/// Streams the COPY to the end, counting bytes (the limit: no decoding, no allocation per row).
fn copy_bytes(pool: &DatabasePool) -> anyhow::Result<u64> {
    let mut conn = pool.get("bench.copy")?;
    let mut reader = conn.copy_out(COPY_SQL)?;
    let mut buf = vec![0_u8; 64 * 1024];
    let mut total = 0_u64;
    loop {
        let n = reader.read(&mut buf)?;
        if n == 0 {
            break;
        }
        total += n as u64;
    }
    Ok(total)
}

/// What the Python original reported.
#[derive(Debug)]
struct OriginalRun {
    movies: usize,
    summary: Summary,
    peak_rss_kib: u64,
}

#[derive(serde::Deserialize)]
struct OriginalJson {
    movies: usize,
    samples_ms: Vec<f64>,
    peak_rss_kib: u64,
}

/// `bench/run_original.sh` (a venv under `target/bench-venv` with psycopg2-binary, made on
/// first use); found next to the sources, or at `MARQUEE_BENCH_DIR`.
fn original_script() -> PathBuf {
    std::env::var_os("MARQUEE_BENCH_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("bench"))
        .join("run_original.sh")
}

/// Runs the Python original on the same database and parses its JSON line.
fn run_original(target: &Target, repeats: u32) -> anyhow::Result<OriginalRun> {
    let script = original_script();
    let p = &target.params;
    let mut cmd = Command::new("bash");
    cmd.arg(&script)
        .args(["--host", &p.host])
        .args(["--port", &p.port.to_string()])
        .args(["--dbname", &p.dbname])
        .args(["--user", &p.user])
        .args(["--repeats", &repeats.to_string()]);
    if let Some(password) = &p.password {
        cmd.env("PGPASSWORD", password.expose());
    }
    let out = cmd
        .output()
        .with_context(|| format!("running {}", script.display()))?;
    anyhow::ensure!(
        out.status.success(),
        "{} failed: {}",
        script.display(),
        String::from_utf8_lossy(&out.stderr).trim()
    );
    let parsed: OriginalJson = super::report::peer_result(&out.stdout, "the original")?;
    let samples: Vec<Duration> = parsed
        .samples_ms
        .iter()
        .map(|ms| Duration::from_secs_f64(ms / 1000.0))
        .collect();
    Ok(OriginalRun {
        movies: parsed.movies,
        summary: Summary::of(&samples),
        peak_rss_kib: parsed.peak_rss_kib,
    })
}
