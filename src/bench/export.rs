//! `export`: the filtered movies streamed through the server's COPY, as `marquee export` does, to
//! a sink, for the whole collection (1,000,000 movies by default) and for a smaller slice of it.
//! The figure that matters is the peak resident memory *added* by each export: with a streaming
//! export it stays flat however many rows there are. The process's peak is reset before each
//! run (`/proc/self/clear_refs`), so earlier work does not hide it.

use std::time::Instant;

use super::report::{BenchName, Options, Report, Target};
use super::stats::peak_rss_kib;
use crate::config::PoolSettings;
use crate::db::pool::DatabasePool;
use crate::filter::Filter;
use crate::repo::movies::MoviesRepository;

/// Resets the process's peak RSS to its current RSS; returns the current RSS in KiB, or `None`
/// when the kernel does not allow it (the growth is then measured against the earlier peak).
fn reset_peak_rss_kib() -> Option<u64> {
    std::fs::write("/proc/self/clear_refs", "5").ok()?;
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|kib| kib.parse().ok())
}

/// Runs the benchmark.
pub fn run(target: &Target, options: &Options) -> anyhow::Result<Report> {
    let pool = DatabasePool::new(&target.params, &PoolSettings::default())?;
    let movies = MoviesRepository::new(pool.clone());
    let mut report = Report::new(BenchName::Export, target.movies);
    let mut reset_worked = true;
    for (label, text) in [("all", "sort:id"), ("before 1990", "year:..1989 sort:id")] {
        let filter = Filter::parse(text).map_err(|err| anyhow::anyhow!("{err}"))?;
        let mut times = Vec::new();
        let mut rows = 0;
        let mut growth_kib = 0;
        for _ in 0..options.repeats.clamp(1, 3) {
            let base = reset_peak_rss_kib().unwrap_or_else(|| {
                reset_worked = false;
                peak_rss_kib()
            });
            let started = Instant::now();
            rows = movies.export_csv(&filter, &mut std::io::sink(), &mut |_| {})?;
            times.push(started.elapsed());
            growth_kib = growth_kib.max(peak_rss_kib().saturating_sub(base));
        }
        report.timing(format!("export {label} ({rows} rows)"), &times);
        report.figure(format!("export {label}: rows"), rows as f64, "rows");
        report.figure(
            format!("export {label}: peak RSS added"),
            growth_kib as f64,
            "KiB",
        );
    }
    if !reset_worked {
        report
            .notes
            .push("could not reset the peak RSS: growth is over the earlier peak".into());
    }
    report
        .notes
        .push("rows go to a sink: the memory is Marquee's, not the page cache's".into());
    pool.close();
    Ok(report)
}
