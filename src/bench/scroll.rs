//! `scroll`: how long the visible rows take to be there while scrolling, through the same
//! [`Browse`] model and workers the window uses (pages of 100 rows, two pages prefetched each
//! way, LIMIT/OFFSET paging in index order).
//!
//! - sequential: a fast flick, 40 rows (one screen) per 16 ms frame from the top down; a step
//!   served from the prefetched cache counts as 0;
//! - random jumps: the scrollbar dragged to a uniformly random row, the worst case for offset
//!   paging (the server walks the index up to the offset);
//! - the same jumps once the result index (every id of the result, in order) has arrived: each
//!   page is then one lookup by id, whatever its depth. The index's build time is reported.

use std::time::{Duration, Instant};

use super::report::{BenchName, Check, Options, Report, Target, pump};
use super::stats::Rng;
use crate::browse::{Browse, INDEX_FROM_ROW};
use crate::config::PoolSettings;
use crate::db::pool::DatabasePool;
use crate::filter::Filter;
use crate::worker::Workers;

/// Rows on screen.
const VISIBLE_ROWS: u64 = 40;
/// A 60 Hz frame: the pace of the sequential scroll.
const FRAME: Duration = Duration::from_millis(16);
/// Target from the issue.
const MAX_P95_MS: f64 = 50.0;
/// Give up waiting for one viewport after this long.
const STEP_TIMEOUT: Duration = Duration::from_secs(30);

fn visible(browse: &Browse, first: u64, last: u64) -> bool {
    (first..=last).all(|i| browse.row(i).is_some())
}

/// Shows rows `first..first+40` and waits until all of them are there; returns how long.
pub fn show(browse: &mut Browse, workers: &Workers, first: u64) -> Duration {
    let started = Instant::now();
    let last = (first + VISIBLE_ROWS - 1).min(browse.row_count().saturating_sub(1));
    browse.show_rows(first, last);
    browse.take_requests().send(workers);
    // Apply whatever already arrived (prefetched pages) before deciding we must wait.
    while let Some(reply) = workers.try_recv() {
        browse.apply(&reply);
    }
    browse.take_requests().send(workers);
    if !visible(browse, first, last) {
        pump(workers, STEP_TIMEOUT, |reply| {
            browse.apply(&reply);
            browse.take_requests().send(workers);
            visible(browse, first, last)
        });
    }
    started.elapsed()
}

/// Runs the benchmark.
pub fn run(target: &Target, options: &Options) -> anyhow::Result<Report> {
    let mut report = Report::new(BenchName::Scroll, target.movies);
    let settings = PoolSettings::default();
    let pool = DatabasePool::new(&target.params, &settings)?;
    let workers = Workers::start(pool.clone(), settings.max_size as usize, Box::new(|| {}));
    let mut browse = Browse::default();
    // By offset first, as before the result index (and as the window is until it arrives).
    browse.set_result_index(false);
    browse.set_filter(Filter::default());
    // The table is sized by the count: wait for the first page and the exact count.
    browse.request_exact_count();
    browse.take_requests().send(&workers);
    pump(&workers, Duration::from_secs(120), |reply| {
        browse.apply(&reply);
        browse.take_requests().send(&workers);
        browse.row(0).is_some()
            && matches!(
                browse.count(),
                Some(crate::repo::movies::RowCount::Exact(_))
            )
    });
    let rows = browse.row_count();
    anyhow::ensure!(rows > VISIBLE_ROWS, "too few rows to scroll ({rows})");

    // Sequential: one screen per frame from the top, as far as the step budget goes.
    let steps = (options.repeats.max(1) as u64 * 100).min(rows / VISIBLE_ROWS - 1);
    let mut sequential = Vec::with_capacity(steps as usize);
    let mut waited = 0;
    for step in 0..steps {
        let frame_start = Instant::now();
        let took = show(&mut browse, &workers, step * VISIBLE_ROWS);
        if took > Duration::from_micros(200) {
            waited += 1;
        }
        sequential.push(took);
        if let Some(rest) = FRAME.checked_sub(frame_start.elapsed()) {
            std::thread::sleep(rest);
        }
    }

    // Random jumps anywhere in the result.
    let mut rng = Rng::new(42);
    let jumps = options.repeats.max(1) as usize * 20;
    let mut random = Vec::with_capacity(jumps);
    for _ in 0..jumps {
        let first = rng.range(0, rows - VISIBLE_ROWS);
        random.push(show(&mut browse, &workers, first));
    }
    // Deep jumps alone: the last tenth of the result, where offset paging costs most.
    let mut deep = Vec::with_capacity(jumps / 2 + 1);
    for _ in 0..=jumps / 2 {
        let first = rng.range(rows - rows / 10, rows - VISIBLE_ROWS);
        deep.push(show(&mut browse, &workers, first));
    }
    // Now as the window does: a row past INDEX_FROM_ROW asks for the result index; wait for it
    // (its build time), then the same kinds of jumps through it. A smaller result has none.
    let mut indexed = Vec::with_capacity(jumps);
    let mut indexed_deep = Vec::with_capacity(jumps / 2 + 1);
    let mut index_build = None;
    if rows > INDEX_FROM_ROW {
        browse.set_result_index(true);
        let index_asked = Instant::now();
        browse.show_rows(rows - VISIBLE_ROWS, rows - 1);
        browse.take_requests().send(&workers);
        let arrived = pump(&workers, Duration::from_secs(600), |reply| {
            browse.apply(&reply);
            browse.take_requests().send(&workers);
            browse.has_result_index()
        });
        anyhow::ensure!(arrived, "the result index did not arrive within 600 s");
        index_build = Some(index_asked.elapsed());
        let mut rng = Rng::new(42);
        for _ in 0..jumps {
            let first = rng.range(0, rows - VISIBLE_ROWS);
            indexed.push(show(&mut browse, &workers, first));
        }
        for _ in 0..=jumps / 2 {
            let first = rng.range(rows - rows / 10, rows - VISIBLE_ROWS);
            indexed_deep.push(show(&mut browse, &workers, first));
        }
    }
    workers.shutdown(Duration::from_secs(5));
    pool.close();

    let seq = report.timing("sequential, 40 rows per 16 ms frame", &sequential);
    let jump = report.timing("random jump", &random);
    report.timing("jump into the last 10%", &deep);
    // Below INDEX_FROM_ROW rows the window never builds an index: offsets are what it uses.
    let window_jump = match index_build {
        Some(build) => {
            report.timing("jump into the last 10% through the index", &indexed_deep);
            report.figure(
                "result index: asked to arrived (one ordered scan of ids)",
                build.as_secs_f64() * 1000.0,
                "ms",
            );
            report.timing("random jump through the result index", &indexed)
        }
        None => jump.clone(),
    };
    report.figure("rows in the result", rows as f64, "rows");
    report.figure(
        "sequential steps that waited for a page",
        f64::from(waited),
        "steps",
    );
    report.checks.push(Check::at_most(
        "sequential p95",
        seq.p95_micros / 1000.0,
        MAX_P95_MS,
        "ms",
    ));
    report.checks.push(Check::at_most(
        "random jump p95 as the window jumps (through the result index past 10,000 rows)",
        window_jump.p95_micros / 1000.0,
        MAX_P95_MS,
        "ms",
    ));
    report.figure(
        "random jump p95 by offset, before the index",
        jump.p95_micros / 1000.0,
        "ms",
    );
    report.notes.push(format!(
        "unfiltered, id order; {steps} sequential steps from row 0; {jumps} random jumps (seed 42); time from show_rows to all 40 visible rows present"
    ));
    Ok(report)
}
