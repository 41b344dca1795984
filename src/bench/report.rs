//! What every benchmark shares: which one to run, its options and target database, and the
//! report it prints (text for people, JSON for scripts), plus the reply pump the browse-model
//! benchmarks wait with.

use std::io::Write;
use std::time::Duration;

use serde::Serialize;

use crate::config::ConnectParams;

use super::stats::{Machine, Summary, peak_rss_kib};

/// Which benchmark to run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum BenchName {
    /// Every movie into memory through the pool, against binary COPY of the same rows.
    LoadAll,
    /// Pool checkout/checkin, validation, fresh connect, and 64 threads against pgbench.
    Checkout,
    /// A scripted filter session through the workers: change → first page, count, facets.
    Filter,
    /// Sequential scrolling and random jumps through the result (1,000,000 movies by default).
    Scroll,
    /// Headless egui frames of the movie table while queries run (1,000,000 movies by default).
    Frame,
    /// Warm private cluster → pool → first page through the workers.
    Startup,
    /// Export through COPY: time, and the peak memory it adds (1,000,000 movies by default).
    Export,
    /// Summaries (one `GROUP BY` per dimension, a pivot, both under a filter).
    Summarize,
    /// MovieLens tables browsed in place, and `import postgres` against its limit.
    InPlace,
    /// Seeding a generated collection against the COPY limit of the same rows (a scratch
    /// database, kept as `bench_<N>` if that is missing, else dropped).
    Seed,
    /// All of the above, in that order.
    All,
}

impl BenchName {
    /// The name as typed on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            BenchName::LoadAll => "load-all",
            BenchName::Checkout => "checkout",
            BenchName::Filter => "filter",
            BenchName::Scroll => "scroll",
            BenchName::Frame => "frame",
            BenchName::Startup => "startup",
            BenchName::Export => "export",
            BenchName::Summarize => "summarize",
            BenchName::InPlace => "in-place",
            BenchName::Seed => "seed",
            BenchName::All => "all",
        }
    }

    /// The collection size used when `--movies` is absent: the original's 86,537, except for
    /// the benchmarks whose targets are stated for a million rows.
    pub fn default_movies(self) -> u32 {
        match self {
            BenchName::Scroll | BenchName::Frame | BenchName::Export => 1_000_000,
            _ => crate::import::sample::DEFAULT_MOVIES,
        }
    }
}

/// `marquee bench …` arguments.
#[derive(Debug, Clone, clap::Args)]
pub struct BenchArgs {
    /// The benchmark.
    #[arg(value_enum)]
    pub name: BenchName,
    /// Collection size (86,537 by default; 1,000,000 for scroll and frame). Each size is seeded
    /// once into its own database (`bench_<N>`) and reused.
    #[arg(long)]
    pub movies: Option<u32>,
    /// One JSON object per benchmark per line.
    #[arg(long)]
    pub json: bool,
    /// `load-all`: also run the original Python design (bench/run_original.sh) on the same rows.
    #[arg(long)]
    pub with_original: bool,
    /// `filter`: also run Datasette (bench/run_datasette.sh) on the same collection and script.
    #[arg(long)]
    pub with_datasette: bool,
    /// Measured repetitions (each benchmark scales its sample counts from this).
    #[arg(long, default_value_t = Options::default().repeats)]
    pub repeats: u32,
    /// Seconds of each throughput run (`checkout`: Marquee's 64 threads, then pgbench).
    #[arg(long, default_value_t = Options::default().duration.as_secs())]
    pub seconds: u64,
    /// `in-place`: ratings in the raw MovieLens tables (33,800,000 is the full release's size).
    #[arg(long, default_value_t = 1_000_000)]
    pub ratings: u64,
}

/// How long and how often to measure. Every sample count derives from these two numbers.
#[derive(Clone, Debug)]
pub struct Options {
    /// Measured repetitions.
    pub repeats: u32,
    /// Length of a throughput run.
    pub duration: Duration,
    /// Run the Python original too (`load-all`).
    pub with_original: bool,
    /// Run Datasette too (`filter`).
    pub with_datasette: bool,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            repeats: 10,
            duration: Duration::from_secs(10),
            with_original: false,
            with_datasette: false,
        }
    }
}

impl Options {
    /// Small counts and short runs: for `cargo bench` and the smoke test.
    pub fn quick() -> Self {
        Self {
            repeats: 3,
            duration: Duration::from_secs(2),
            with_original: false,
            with_datasette: false,
        }
    }

    /// The smallest run that still exercises every path (the smoke test).
    pub fn tiny() -> Self {
        Self {
            repeats: 1,
            duration: Duration::from_millis(300),
            with_original: false,
            with_datasette: false,
        }
    }
}

/// The database a benchmark runs against.
#[derive(Clone, Debug)]
pub struct Target {
    /// Connection to the seeded `bench_<N>` database.
    pub params: ConnectParams,
    /// Movies in it.
    pub movies: u32,
}

/// A named latency distribution.
#[derive(Clone, Debug, Serialize)]
pub struct Timing {
    /// What was timed, e.g. `load_all`.
    pub name: String,
    /// Its distribution.
    #[serde(flatten)]
    pub summary: Summary,
}

/// A single figure that is not a latency (throughput, bytes, speed-up).
#[derive(Clone, Debug, Serialize)]
pub struct Figure {
    /// What it is.
    pub name: String,
    /// Its value.
    pub value: f64,
    /// Its unit (`qps`, `bytes`, `x`).
    pub unit: &'static str,
}

/// A target from the issue, and whether this run met it.
#[derive(Clone, Debug, Serialize)]
pub struct Check {
    /// What is compared, e.g. `load_all / copy (median)`.
    pub name: String,
    /// The measured value.
    pub value: f64,
    /// `<=` or `>=`.
    pub op: &'static str,
    /// The limit.
    pub limit: f64,
    /// The unit of value and limit.
    pub unit: &'static str,
    /// Whether the target was met.
    pub met: bool,
}

impl Check {
    /// `value` must stay at or below `limit`.
    pub fn at_most(name: impl Into<String>, value: f64, limit: f64, unit: &'static str) -> Self {
        Self {
            name: name.into(),
            value,
            op: "<=",
            limit,
            unit,
            met: value <= limit,
        }
    }

    /// `value` must reach at least `limit`.
    pub fn at_least(name: impl Into<String>, value: f64, limit: f64, unit: &'static str) -> Self {
        Self {
            name: name.into(),
            value,
            op: ">=",
            limit,
            unit,
            met: value >= limit,
        }
    }
}

/// What one benchmark found. Printed as text, or as one JSON line with `--json`.
#[derive(Clone, Debug, Serialize)]
pub struct Report {
    /// The benchmark.
    pub bench: &'static str,
    /// Collection size.
    pub movies: u32,
    /// Latency distributions.
    pub timings: Vec<Timing>,
    /// Other figures.
    pub figures: Vec<Figure>,
    /// Targets and whether they were met.
    pub checks: Vec<Check>,
    /// Peak resident memory of this process so far (`VmHWM`), in KiB.
    pub peak_rss_kib: u64,
    /// Where it ran.
    pub machine: Machine,
    /// What exactly was measured, and anything skipped.
    pub notes: Vec<String>,
}

impl Report {
    /// An empty report for `bench` on `movies` movies.
    pub fn new(bench: BenchName, movies: u32) -> Self {
        Self {
            bench: bench.as_str(),
            movies,
            timings: Vec::new(),
            figures: Vec::new(),
            checks: Vec::new(),
            peak_rss_kib: 0,
            machine: Machine::detect(),
            notes: Vec::new(),
        }
    }

    /// Adds a timing from raw samples.
    pub fn timing(&mut self, name: impl Into<String>, samples: &[Duration]) -> Summary {
        let summary = Summary::of(samples);
        self.timings.push(Timing {
            name: name.into(),
            summary: summary.clone(),
        });
        summary
    }

    /// Adds a figure.
    pub fn figure(&mut self, name: impl Into<String>, value: f64, unit: &'static str) {
        self.figures.push(Figure {
            name: name.into(),
            value,
            unit,
        });
    }

    /// Records peak RSS; call last.
    pub fn finish(mut self) -> Self {
        self.peak_rss_kib = peak_rss_kib();
        self
    }

    /// One JSON object on one line.
    pub fn write_json(&self, out: &mut dyn Write) -> anyhow::Result<()> {
        serde_json::to_writer(&mut *out, self)?;
        writeln!(out)?;
        Ok(())
    }

    /// Aligned text for people.
    pub fn write_text(&self, out: &mut dyn Write) -> anyhow::Result<()> {
        writeln!(
            out,
            "== {} ({} movies; {} cores, {:.1} GiB) ==",
            self.bench,
            crate::plural::thousands(u64::from(self.movies)),
            self.machine.cores,
            self.machine.memory_gib
        )?;
        if !self.timings.is_empty() {
            writeln!(
                out,
                "  {:<44} {:>8} {:>12} {:>12} {:>12}",
                "timing", "samples", "median", "p95", "max"
            )?;
        }
        for t in &self.timings {
            let s = &t.summary;
            writeln!(
                out,
                "  {:<44} {:>8} {:>12} {:>12} {:>12}",
                t.name,
                s.samples,
                human_micros(s.median_micros),
                human_micros(s.p95_micros),
                human_micros(s.max_micros)
            )?;
        }
        for f in &self.figures {
            writeln!(out, "  {:<44} {:>12.2} {}", f.name, f.value, f.unit)?;
        }
        for c in &self.checks {
            writeln!(
                out,
                "  target {:<37} {:>12.3} {} {} {} {}",
                c.name,
                c.value,
                c.op,
                c.limit,
                c.unit,
                if c.met { "MET" } else { "MISSED" }
            )?;
        }
        writeln!(
            out,
            "  peak RSS {:.1} MiB",
            self.peak_rss_kib as f64 / 1024.0
        )?;
        for note in &self.notes {
            writeln!(out, "  note: {note}")?;
        }
        Ok(())
    }
}

/// `1.23 µs`, `4.56 ms`, `7.89 s`.
fn human_micros(micros: f64) -> String {
    if micros < 1_000.0 {
        format!("{micros:.2} µs")
    } else if micros < 1_000_000.0 {
        format!("{:.2} ms", micros / 1_000.0)
    } else {
        format!("{:.2} s", micros / 1_000_000.0)
    }
}

/// Receives worker replies until `done` says so or `timeout` passes; returns whether `done`.
pub fn pump(
    workers: &crate::worker::Workers,
    timeout: Duration,
    mut on_reply: impl FnMut(crate::worker::Reply) -> bool,
) -> bool {
    let deadline = std::time::Instant::now() + timeout;
    loop {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        match workers.replies().recv_timeout(left) {
            Ok(reply) => {
                if on_reply(reply) {
                    return true;
                }
            }
            Err(_) => return false,
        }
    }
}

/// The last JSON object line a peer script printed (the Python original, Datasette), parsed.
/// The scripts print progress before it; only their last `{…}` line is the result.
pub fn peer_result<T: serde::de::DeserializeOwned>(stdout: &[u8], peer: &str) -> anyhow::Result<T> {
    let stdout = String::from_utf8_lossy(stdout);
    let line = stdout
        .lines()
        .rev()
        .find(|l| l.trim_start().starts_with('{'))
        .ok_or_else(|| anyhow::anyhow!("{peer} printed no JSON line"))?;
    Ok(serde_json::from_str(line)?)
}
