//! `filter`: a scripted session through the same path the window uses — a [`Browse`] model on
//! the worker threads — timing each change from the moment it is made to its first page, to its
//! first count (an estimate), to its capped count, to its first facets (estimated from a sample
//! where the collection is large) and to its exact facets. Each change waits at most
//! [`CHANGE_TIMEOUT`]; what did not arrive by then is counted and reported, not waited for.
//!
//! The script: type "star wars" one key at a time, clear it, toggle genres, move the year range,
//! sort by rating (both ways) and by votes. Each change waits for its answers before the next,
//! so every sample is a clean latency; superseding and cancelling of overlapping changes is
//! exercised by the worker tests, not here.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use super::report::{BenchName, Check, Options, Report, Target, pump};
use super::{dataset, datasette};
use crate::browse::Browse;
use crate::config::PoolSettings;
use crate::db::pool::DatabasePool;
use crate::filter::{Filter, Range, SortColumn, SortKey};
use crate::repo::movies::RowCount;
use crate::worker::{RequestKind, Workers};

/// First rows on screen (a window of 40 rows, as the table shows at a normal size).
const VISIBLE_ROWS: u64 = 40;
/// Give up on one change after this long (reported as a sample of this length).
const CHANGE_TIMEOUT: Duration = Duration::from_secs(60);

/// The session, in order.
pub fn script() -> Vec<(String, Filter)> {
    let mut steps = Vec::new();
    let mut filter = Filter::default();
    steps.push(("show all".to_owned(), filter.clone()));
    for (i, _) in "star wars".char_indices() {
        filter.title = "star wars"[..=i].to_owned();
        steps.push((format!("type {:?}", filter.title), filter.clone()));
    }
    filter.title.clear();
    steps.push(("clear title".to_owned(), filter.clone()));
    for genres in [
        vec!["Sci-Fi"],
        vec!["Action", "Sci-Fi"],
        vec!["Action", "Adventure", "Sci-Fi"],
        vec!["Adventure", "Sci-Fi"],
    ] {
        filter.genres.any_of = genres.iter().map(|g| (*g).to_owned()).collect();
        steps.push((format!("genres {}", genres.join("|")), filter.clone()));
    }
    for (min, max) in [
        (Some(1950), None),
        (Some(1960), Some(1999)),
        (Some(1977), Some(1999)),
        (Some(1977), Some(1983)),
    ] {
        filter.year = Range::new(min, max);
        steps.push((format!("year {min:?}..{max:?}"), filter.clone()));
    }
    for sort in [
        SortKey::desc(SortColumn::Rating),
        SortKey::asc(SortColumn::Rating),
        SortKey::desc(SortColumn::Votes),
    ] {
        filter.sort = vec![sort];
        steps.push((
            format!(
                "sort {}{}",
                if sort.descending { "-" } else { "" },
                sort.column.name()
            ),
            filter.clone(),
        ));
    }
    // The same sorts over the whole collection: the expensive case for a sort.
    let mut all = Filter {
        sort: vec![SortKey::desc(SortColumn::Rating)],
        ..Filter::default()
    };
    steps.push(("all, sort rating desc".to_owned(), all.clone()));
    all.sort = vec![SortKey::asc(SortColumn::Title)];
    steps.push((FIRST_PAGE_BY_TITLE.to_owned(), all.clone()));
    // A common word sorted by title (walks the title index until a page matches), and the
    // analyst's structured page: both rows of the comparison with Datasette.
    all.title = "love".to_owned();
    steps.push((TITLE_LOVE.to_owned(), all));
    let drama_90s = Filter {
        genres: crate::filter::GenreFilter {
            any_of: vec!["Drama".to_owned()],
            ..Default::default()
        },
        year: Range::new(Some(1990), Some(1999)),
        sort: vec![SortKey::desc(SortColumn::Rating)],
        ..Filter::default()
    };
    steps.push((DRAMA_90S_BEST_FIRST.to_owned(), drama_90s));
    steps
}

/// Script steps named in the comparison with Datasette.
const FIRST_PAGE_BY_TITLE: &str = "all, sort title";
const TITLE_LOVE: &str = "title love, sort title";
const TITLE_STAR: &str = "type \"star\"";
const DRAMA_90S_BEST_FIRST: &str = "Drama + 1990s, best first";

/// Latencies of one change.
#[derive(Debug, Default)]
pub struct ChangeTimes {
    /// To the first page.
    pub first_page: Option<Duration>,
    /// To the first count the status bar shows (the planner's or the sample's estimate).
    pub first_count: Option<Duration>,
    /// To the capped count.
    pub count: Option<Duration>,
    /// To the first facet figures (estimated from a sample, or exact).
    pub first_facets: Option<Duration>,
    /// Whether those first figures were estimates.
    pub first_facets_estimated: bool,
    /// To the exact facets.
    pub facets: Option<Duration>,
    /// Requests of this change that failed (a page, a count, facets), by label.
    pub failed: Vec<&'static str>,
}

/// Applies `filter` to `browse` and waits for its first page, counts and facets, at most
/// [`CHANGE_TIMEOUT`].
pub fn change(browse: &mut Browse, workers: &Workers, filter: Filter) -> ChangeTimes {
    let started = Instant::now();
    browse.set_filter(filter);
    browse.show_rows(0, VISIBLE_ROWS - 1);
    browse.take_requests().send(workers);
    let generation = browse.generation();
    let mut times = ChangeTimes::default();
    pump(workers, CHANGE_TIMEOUT, |reply| {
        let applied = browse.apply(&reply);
        browse.take_requests().send(workers);
        if !applied || reply.generation != generation {
            return false;
        }
        let at = started.elapsed();
        if reply.result.is_err() {
            times.failed.push(reply.kind.label());
        }
        if browse.count().is_some() {
            times.first_count.get_or_insert(at);
        }
        if let Some(facets) = browse.facets()
            && times.first_facets.is_none()
        {
            times.first_facets = Some(at);
            times.first_facets_estimated = facets.is_approximate();
        }
        match reply.kind {
            RequestKind::Page if reply.result.is_ok() => {
                times.first_page.get_or_insert(at);
            }
            RequestKind::CappedCount => times.count = Some(at),
            RequestKind::Facets => times.facets = Some(at),
            _ => {}
        }
        let facets_done = times.facets.is_some();
        let page_done =
            times.first_page.is_some() || times.failed.contains(&RequestKind::Page.label());
        page_done && times.count.is_some() && facets_done
    });
    times
}

/// Runs the benchmark.
pub fn run(target: &Target, options: &Options) -> anyhow::Result<Report> {
    let mut report = Report::new(BenchName::Filter, target.movies);
    let settings = PoolSettings::default();
    let pool = DatabasePool::new(&target.params, &settings)?;
    let workers = Workers::start(pool.clone(), settings.max_size as usize, Box::new(|| {}));
    let script = script();

    let mut browse = Browse::default();
    for (_, filter) in &script {
        change(&mut browse, &workers, filter.clone());
    }
    let (mut pages, mut counts, mut facets) = (Vec::new(), Vec::new(), Vec::new());
    let (mut first_counts, mut first_facets) = (Vec::new(), Vec::new());
    let (mut estimated, mut unfinished, mut failed) = (0, 0, Vec::new());
    let mut by_step: Vec<(String, Duration)> = Vec::new();
    let mut counted: HashMap<String, Option<RowCount>> = HashMap::new();
    let mut slowest: Vec<(Duration, String)> = Vec::new();
    let mut missing = 0;
    for _ in 0..options.repeats.max(1) {
        for (name, filter) in &script {
            let times = change(&mut browse, &workers, filter.clone());
            match times.first_page {
                Some(t) => {
                    pages.push(t);
                    slowest.push((t, name.clone()));
                    by_step.push((name.clone(), t));
                }
                None => missing += 1,
            }
            counts.extend(times.count);
            facets.extend(times.facets);
            first_counts.extend(times.first_count);
            first_facets.extend(times.first_facets);
            estimated += usize::from(times.first_facets_estimated);
            if times.count.is_none() || times.facets.is_none() {
                unfinished += 1;
            }
            failed.extend(times.failed.iter().map(|label| format!("{name}: {label}")));
            counted.insert(name.clone(), browse.count());
        }
    }
    workers.shutdown(Duration::from_secs(5));
    pool.close();

    let page = report.timing("change → first page", &pages);
    report.timing("change → first count (estimate)", &first_counts);
    report.timing("change → count (capped)", &counts);
    let first = report.timing("change → first facets (≈ where sampled)", &first_facets);
    let exact = report.timing("change → exact facets", &facets);
    report.checks.push(Check::at_most(
        "first facets p95",
        first.p95_micros / 1000.0,
        if target.movies <= 100_000 {
            100.0
        } else {
            300.0
        },
        "ms",
    ));
    if (500_000..=2_000_000).contains(&target.movies) {
        report.checks.push(Check::at_most(
            "exact facets p95",
            exact.p95_micros / 1000.0,
            1000.0,
            "ms",
        ));
    }
    report.notes.push(format!(
        "first facets were estimates from a sample in {estimated} of {} changes; {unfinished} \
         changes did not finish within {} s; failed requests: {}",
        first_facets.len(),
        CHANGE_TIMEOUT.as_secs(),
        if failed.is_empty() {
            "none".to_owned()
        } else {
            failed.join(", ")
        }
    ));
    let limit_ms = if target.movies <= 100_000 {
        20.0
    } else {
        100.0
    };
    report.checks.push(Check::at_most(
        "first page p95",
        page.p95_micros / 1000.0,
        limit_ms,
        "ms",
    ));
    anyhow::ensure!(missing == 0, "{missing} changes got no first page");
    slowest.sort_by_key(|(took, _)| std::cmp::Reverse(*took));
    let mut named = std::collections::HashSet::new();
    let worst: Vec<String> = slowest
        .iter()
        .filter(|(_, name)| named.insert(name.clone()))
        .take(3)
        .map(|(t, n)| format!("{n} {:.1} ms", t.as_secs_f64() * 1000.0))
        .collect();
    report.notes.push(format!(
        "{} changes per pass × {} passes after one warm-up pass; 40 visible rows in a first page of {} rows; slowest first pages: {}",
        script.len(),
        options.repeats.max(1),
        crate::browse::PAGE_SIZE,
        worst.join(", ")
    ));
    if options.with_datasette {
        let peer = datasette::run(
            target,
            &dataset::mark(target.movies),
            &script,
            options.repeats.max(1),
        )?;
        // Like with like: both sides must have matched the same movies. Marquee also ignores
        // accents ("sta" finds "Smultronstället"), so under a title it may find more.
        for sample in &peer.samples {
            let titled = script
                .iter()
                .any(|(name, f)| *name == sample.name && !f.title.is_empty());
            let agrees = match counted.get(&sample.name).copied().flatten() {
                Some(RowCount::Exact(n)) if titled => n >= sample.count,
                Some(RowCount::Exact(n)) => n == sample.count,
                Some(RowCount::AtLeast(n)) => sample.count >= n,
                _ => false,
            };
            anyhow::ensure!(
                sample.rows == sample.count.min(u64::from(crate::browse::PAGE_SIZE)),
                "{}: Datasette's first page held {} rows",
                sample.name,
                sample.rows
            );
            anyhow::ensure!(
                agrees,
                "{}: Datasette counted {} movies, Marquee {:?}",
                sample.name,
                sample.count,
                counted.get(&sample.name)
            );
        }
        // One row per named step (its first pages on both sides), then every change.
        let named = [
            ("first page, by title", FIRST_PAGE_BY_TITLE),
            ("Drama + 1990s page, best first", DRAMA_90S_BEST_FIRST),
            ("title contains love, by title", TITLE_LOVE),
            ("title contains star", TITLE_STAR),
        ];
        let mut rows: Vec<(&str, Vec<Duration>, Vec<Duration>)> = named
            .iter()
            .map(|&(row, step)| {
                let ours = by_step
                    .iter()
                    .filter(|(name, _)| name == step)
                    .map(|(_, t)| *t)
                    .collect();
                (row, ours, peer.times(Some(step), |s| s.page_ms))
            })
            .collect();
        rows.extend([
            (
                "every change → first page",
                pages.clone(),
                peer.times(None, |s| s.page_ms),
            ),
            (
                "every change → exact facets",
                facets.clone(),
                peer.times(None, |s| s.facets_ms),
            ),
            (
                "every change → count (Marquee capped, Datasette exact)",
                counts.clone(),
                peer.times(None, |s| s.count_ms),
            ),
        ]);
        let ms = |micros: f64| format!("{:.2}", micros / 1000.0);
        let mut table = format!(
            "side by side, median / p95 in ms, ratio = Marquee ÷ Datasette\n  {:<56} {:>17} {:>17} {:>13}",
            "", "Datasette", "Marquee", "ratio"
        );
        for (row, ours, theirs) in rows {
            let ours = report.timing(format!("Marquee: {row}"), &ours);
            let theirs = report.timing(format!("Datasette: {row}"), &theirs);
            table.push_str(&format!(
                "\n  {row:<56} {:>17} {:>17} {:>13}",
                format!("{} / {}", ms(theirs.median_micros), ms(theirs.p95_micros)),
                format!("{} / {}", ms(ours.median_micros), ms(ours.p95_micros)),
                format!(
                    "{:.2} / {:.2}",
                    ours.median_micros / theirs.median_micros.max(1.0),
                    ours.p95_micros / theirs.p95_micros.max(1.0)
                ),
            ));
            for (stat, a, b) in [
                ("median", ours.median_micros, theirs.median_micros),
                ("p95", ours.p95_micros, theirs.p95_micros),
            ] {
                report.checks.push(Check::at_most(
                    format!("{row}, {stat}: Marquee ÷ Datasette"),
                    a / b.max(1.0),
                    1.0,
                    "x",
                ));
            }
        }
        report.notes.push(format!(
            "Datasette {} on SQLite {}, same collection and script, same passes; its page, \
             then count and facets together, timed from each change as Marquee's are",
            peer.datasette, peer.sqlite
        ));
        report.notes.push(table);
    }
    Ok(report)
}
