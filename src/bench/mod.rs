//! `marquee bench`: measured figures instead of claimed ones. Each benchmark runs the same code
//! the window runs (pool, repositories, workers, browse model) against a cached private database
//! of a generated collection, and reports every timing through one statistics helper
//! ([`Summary`]) so the numbers are comparable across benchmarks and runs.
//!
//! ```text
//! marquee bench load-all [--movies 86537] [--with-original] [--json]
//! marquee bench filter [--movies 86537] [--with-datasette]
//! marquee bench checkout | filter | scroll | frame | startup | export | summarize | all
//! marquee bench in-place [--movies 86537] [--ratings 1000000]
//! marquee bench seed [--movies 86537]
//! ```
//!
//! `--json` prints one [`Report`] per benchmark, one per line, for scripts (see `BENCHMARKS.md`).

pub mod checkout;
pub mod dataset;
pub mod datasette;
pub mod export;
pub mod filter;
pub mod frame;
pub mod in_place;
pub mod load_all;
pub mod report;
pub mod scroll;
pub mod seed;
pub mod startup;
pub mod stats;
pub mod summarize;

use std::io::Write;
use std::time::Duration;

use crate::config::Settings;
use crate::db::Server;
pub use report::{BenchArgs, BenchName, Check, Figure, Options, Report, Target, Timing};
pub use stats::{Machine, Rng, Summary, peak_rss_kib};

/// Runs one benchmark on a prepared database. `settings` is only used by `startup` (which
/// attaches to the server itself).
pub fn run_one(
    name: BenchName,
    settings: &Settings,
    target: &Target,
    options: &Options,
) -> anyhow::Result<Report> {
    let report = match name {
        BenchName::LoadAll => load_all::run(target, options)?,
        BenchName::Checkout => checkout::run(target, options)?,
        BenchName::Filter => filter::run(target, options)?,
        BenchName::Scroll => scroll::run(target, options)?,
        BenchName::Frame => frame::run(target, options)?,
        BenchName::Startup => startup::run(settings, target, options)?,
        BenchName::Export => export::run(target, options)?,
        BenchName::Summarize => summarize::run(target, options)?,
        BenchName::InPlace => in_place::run(
            &target.params,
            target.movies,
            dataset::spec(target.movies).ratings,
            options,
        )?,
        BenchName::Seed => seed::run(&target.params, target.movies, options)?,
        BenchName::All => anyhow::bail!("`all` is not a single benchmark"),
    };
    Ok(report.finish())
}

/// `marquee bench …`: starts (or attaches to) the server, prepares each size once, runs and
/// prints. A private cluster this process started is stopped at the end; seeded databases stay.
pub fn run(settings: &Settings, args: &BenchArgs) -> anyhow::Result<()> {
    let options = Options {
        repeats: args.repeats.max(1),
        duration: Duration::from_secs(args.seconds.max(1)),
        with_original: args.with_original,
        with_datasette: args.with_datasette,
    };
    let names: Vec<BenchName> = match args.name {
        BenchName::All => vec![
            BenchName::LoadAll,
            BenchName::Checkout,
            BenchName::Filter,
            BenchName::Scroll,
            BenchName::Frame,
            BenchName::Startup,
            BenchName::Export,
            BenchName::Summarize,
            BenchName::InPlace,
            BenchName::Seed,
        ],
        one => vec![one],
    };
    let server = Server::start(settings)?;
    let result = (|| -> anyhow::Result<()> {
        for name in names {
            let movies = args.movies.unwrap_or_else(|| name.default_movies());
            let report = if name == BenchName::InPlace {
                // Its own raw tables, not the seeded Marquee collection.
                in_place::run(&server.params, movies, args.ratings, &options)?.finish()
            } else if name == BenchName::Seed {
                // A scratch database of its own, seeded while timed.
                seed::run(&server.params, movies, &options)?.finish()
            } else {
                let params = dataset::ensure(&server.params, movies)?;
                let target = Target { params, movies };
                run_one(name, settings, &target, &options)?
            };
            let stdout = std::io::stdout();
            let mut out = stdout.lock();
            if args.json {
                report.write_json(&mut out)?;
            } else {
                report.write_text(&mut out)?;
            }
            out.flush()?;
        }
        Ok(())
    })();
    server.shutdown();
    result
}
