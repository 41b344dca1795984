//! `startup`: the library path from launch to the first page of rows, on a warm private cluster:
//! attach to the running server (`Server::start`: lock, `pg_ctl status`, make sure the database
//! exists), build the pool and migrate (`db::open_pool`), start the workers, and wait for the
//! first 40 rows through a [`Browse`] model — everything the window does before it can paint
//! rows, except creating the window and its GL context (which needs a display) and the painting
//! itself (measured by `frame`). Process exec and dynamic linking are measured separately by
//! running `marquee --version` when the benchmark runs inside the `marquee` binary.

use std::time::{Duration, Instant};

use super::report::{BenchName, Check, Options, Report, Target, pump};
use crate::browse::Browse;
use crate::config::Settings;
use crate::db::{self, Server};
use crate::filter::Filter;
use crate::worker::Workers;

/// Target from the issue.
const MAX_STARTUP_MS: f64 = 1_000.0;

/// Times of one start.
struct Start {
    server: Duration,
    pool: Duration,
    first_page: Duration,
    total: Duration,
}

fn start_once(settings: &Settings, target: &Target) -> anyhow::Result<Start> {
    let t0 = Instant::now();
    let mut server = Server::start(settings)?;
    let server_done = t0.elapsed();
    // The same server, but the benchmark's collection instead of the app's `marquee` database.
    server.params.dbname = target.params.dbname.clone();
    let pool = db::open_pool(&server, settings)?;
    let pool_done = t0.elapsed();
    let workers = Workers::start(
        pool.clone(),
        settings.pool.max_size as usize,
        Box::new(|| {}),
    );
    let mut browse = Browse::default();
    browse.set_filter(Filter::default());
    browse.show_rows(0, 39);
    browse.take_requests().send(&workers);
    let arrived = pump(&workers, Duration::from_secs(30), |reply| {
        browse.apply(&reply);
        browse.take_requests().send(&workers);
        browse.row(0).is_some()
    });
    let total = t0.elapsed();
    workers.shutdown(Duration::from_secs(5));
    pool.close();
    drop(pool);
    server.shutdown();
    anyhow::ensure!(arrived, "no first page within 30 s");
    Ok(Start {
        server: server_done,
        pool: pool_done - server_done,
        first_page: total - pool_done,
        total,
    })
}

/// Runs the benchmark. `settings` must name the same server as `target` (the private cluster,
/// already running: this measures a warm start).
pub fn run(settings: &Settings, target: &Target, options: &Options) -> anyhow::Result<Report> {
    let mut report = Report::new(BenchName::Startup, target.movies);
    start_once(settings, target)?;
    let (mut server, mut pool, mut page, mut total) = (vec![], vec![], vec![], vec![]);
    for _ in 0..options.repeats.max(3) {
        let s = start_once(settings, target)?;
        server.push(s.server);
        pool.push(s.pool);
        page.push(s.first_page);
        total.push(s.total);
    }
    let whole = report.timing("attach → pool → first page", &total);
    report.timing("  attach to warm server", &server);
    report.timing("  open pool + migrate check", &pool);
    report.timing("  workers + first page", &page);
    if let Some(exec) = exec_time(options.repeats.max(3)) {
        report.timing("process exec (`marquee --version`)", &exec);
    }
    report.checks.push(Check::at_most(
        "startup p95",
        whole.p95_micros / 1000.0,
        MAX_STARTUP_MS,
        "ms",
    ));
    report.notes.push(
        "library path on a warm private cluster; excludes window/GL creation and painting (see `frame`)"
            .to_owned(),
    );
    Ok(report)
}

/// How long starting the `marquee` binary itself takes (exec, dynamic linking, argument
/// parsing), when this is the `marquee` binary; `None` inside tests and `cargo bench`.
fn exec_time(repeats: u32) -> Option<Vec<Duration>> {
    let exe = std::env::current_exe().ok()?;
    if exe.file_stem()? != "marquee" {
        return None;
    }
    let mut samples = Vec::new();
    for _ in 0..repeats {
        let started = Instant::now();
        let status = std::process::Command::new(&exe)
            .arg("--version")
            .stdout(std::process::Stdio::null())
            .status()
            .ok()?;
        samples.push(started.elapsed());
        if !status.success() {
            return None;
        }
    }
    Some(samples)
}
