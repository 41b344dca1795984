//! `summarize`: summaries as `marquee summarize` and the window compute them — one `GROUP BY`
//! on the server through the shared pool — for every single dimension, a pivot, and both under
//! a filter. The targets are for one grouping (by genre) and one pivot (genre × decade): p95
//! ≤ 100 ms at 86,537 movies and ≤ 500 ms at 1,000,000.

use std::time::{Duration, Instant};

use super::report::{BenchName, Check, Options, Report, Target};
use crate::config::PoolSettings;
use crate::db::pool::DatabasePool;
use crate::filter::Filter;
use crate::repo::summary::SummaryRepository;
use crate::summary::SummarySpec;

/// The cases: (label, filter text, `--by`); the first two carry the targets.
const CASES: [(&str, &str, &str); 8] = [
    ("by genre", "", "genre"),
    ("pivot genre × decade", "", "genre,decade"),
    ("by year", "", "year"),
    ("by rating bucket", "", "rating"),
    ("by votes bucket", "", "votes"),
    ("by tag (top 20)", "", "tag"),
    ("by genre, filtered", "year:1990..1999 votes:>=10", "genre"),
    (
        "pivot genre × decade, filtered",
        "rating:>=3.5",
        "genre,decade",
    ),
];

/// Runs the benchmark.
pub fn run(target: &Target, options: &Options) -> anyhow::Result<Report> {
    let pool = DatabasePool::new(&target.params, &PoolSettings::default())?;
    let repo = SummaryRepository::new(pool.clone());
    let mut report = Report::new(BenchName::Summarize, target.movies);
    let limit_ms = if target.movies <= 100_000 {
        100.0
    } else {
        500.0
    };
    let mut groups = Vec::new();
    for (i, (label, filter, by)) in CASES.iter().enumerate() {
        let filter = Filter::parse(filter).map_err(|err| anyhow::anyhow!("{err}"))?;
        let spec = SummarySpec::parse(by, "movies,ratings,avg,mean-avg,median", 20)?;
        // One warm-up, then the measured runs.
        let warm = repo.summarize(&filter, &spec)?;
        groups.push(format!("{label}: {}", warm.rows.len()));
        let mut times: Vec<Duration> = Vec::new();
        for _ in 0..options.repeats.max(1) * 2 {
            let started = Instant::now();
            repo.summarize(&filter, &spec)?;
            times.push(started.elapsed());
        }
        let timing = report.timing(format!("summarize {label}"), &times);
        if i < 2 {
            report.checks.push(Check::at_most(
                format!("{label} p95"),
                timing.p95_micros / 1000.0,
                limit_ms,
                "ms",
            ));
        }
    }
    report.notes.push(format!(
        "measures movies, ratings, avg, mean-avg, median; {} runs per case after one warm-up; groups: {}",
        options.repeats.max(1) * 2,
        groups.join(", ")
    ));
    pool.close();
    Ok(report)
}
