//! `cargo bench`: the quick benchmarks (load-all, checkout, filter, startup) at the original's
//! 86,537 movies with short runs, through the same code as `marquee bench`, one JSON line each.
//! The full runs with the figures in BENCHMARKS.md are `marquee bench <name>`.
//!
//! The server is resolved like every Marquee command (`MARQUEE_DATA_DIR`, `DATABASE_URL`, …);
//! with none configured the private cluster is started and the collection seeded once.

use marquee::bench::{self, BenchArgs, BenchName, Options};

fn main() -> anyhow::Result<()> {
    marquee::logging::init();
    // `cargo bench` passes `--bench`; a name after it filters the benchmarks.
    let wanted: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .collect();
    let settings = marquee::cli::ConnectionArgs::default().settings()?;
    let quick = Options::quick();
    for name in [
        BenchName::LoadAll,
        BenchName::Checkout,
        BenchName::Filter,
        BenchName::Startup,
    ] {
        if !wanted.is_empty() && !wanted.iter().any(|w| name.as_str().contains(w.as_str())) {
            continue;
        }
        bench::run(
            &settings,
            &BenchArgs {
                name,
                movies: None,
                json: true,
                with_original: false,
                with_datasette: false,
                repeats: quick.repeats,
                seconds: quick.duration.as_secs(),
                ratings: 1_000_000,
            },
        )?;
    }
    Ok(())
}
