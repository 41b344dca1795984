//! `summarize`: summaries as `marquee summarize` and the window compute them — one `GROUP BY`
//! on the server through the shared pool — for every single dimension, a pivot, and both under
//! a filter, with the measures the window shows first (movies, ratings, average per rating).
//! The targets are for one grouping (by genre) and one pivot (genre × decade): p95 ≤ 100 ms at
//! 86,537 movies and ≤ 500 ms at 1,000,000. One more case adds every measure: the median
//! makes the server sort each group, which is the most a summary can cost. Each case is also
//! timed as the window's first answer: the summary of a sample where the planner expects
//! 100,000 matches or more ([`crate::repo::sampling`]), else the exact one after that check.

use std::time::{Duration, Instant};

use super::report::{BenchName, Check, Options, Report, Target};
use crate::config::PoolSettings;
use crate::db::pool::DatabasePool;
use crate::filter::Filter;
use crate::repo::summary::SummaryRepository;
use crate::summary::SummarySpec;

/// The default measures, as the window first shows them.
const DEFAULT_MEASURES: &str = "movies,ratings,avg";
/// Every measure.
const ALL_MEASURES: &str = "movies,ratings,avg,mean-avg,median,first-year,last-year";

/// The cases: (label, filter text, `--by`, measures); the first two carry the targets.
const CASES: [(&str, &str, &str, &str); 9] = [
    ("by genre", "", "genre", DEFAULT_MEASURES),
    ("pivot genre × decade", "", "genre,decade", DEFAULT_MEASURES),
    ("by year", "", "year", DEFAULT_MEASURES),
    ("by rating bucket", "", "rating", DEFAULT_MEASURES),
    ("by votes bucket", "", "votes", DEFAULT_MEASURES),
    ("by tag (top 20)", "", "tag", DEFAULT_MEASURES),
    (
        "by genre, filtered",
        "year:1990..1999 votes:>=10",
        "genre",
        DEFAULT_MEASURES,
    ),
    (
        "pivot genre × decade, filtered",
        "rating:>=3.5",
        "genre,decade",
        DEFAULT_MEASURES,
    ),
    ("by genre, every measure", "", "genre", ALL_MEASURES),
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
    let mut sampled_cases = 0;
    for (i, (label, filter, by, measures)) in CASES.iter().enumerate() {
        let filter = Filter::parse(filter).map_err(|err| anyhow::anyhow!("{err}"))?;
        let spec = SummarySpec::parse(by, measures, 20)?;
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
        let mut first: Vec<Duration> = Vec::new();
        for _ in 0..options.repeats.max(1) * 2 {
            let started = Instant::now();
            let sampled =
                repo.sampled(&filter, &spec, crate::repo::sampling::SampleRule::WINDOW)?;
            if sampled.is_none() {
                repo.summarize(&filter, &spec)?;
            } else if first.is_empty() {
                sampled_cases += 1;
            }
            first.push(started.elapsed());
        }
        report.timing(
            format!("summarize {label}: first answer (≈ where sampled)"),
            &first,
        );
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
        "measures {DEFAULT_MEASURES} unless said; {} runs per case after one warm-up; first \
         answers from a sample in {sampled_cases} of {} cases; groups: {}",
        options.repeats.max(1) * 2,
        CASES.len(),
        groups.join(", ")
    ));
    pool.close();
    Ok(report)
}
