//! `seed`: seeding a generated collection against the COPY limit of the same rows.
//!
//! `marquee seed` generates movies, ratings and tags in the client and streams them to the
//! server by binary COPY, then builds the indexes and keys, the rating summaries and the facet
//! totals. Its floor is what PostgreSQL needs to take the same rows at all: here, their binary
//! COPY into plain tables of the same types (no index, no constraint). The rows are first
//! copied out of the seeded database to files, so only the COPY in is timed. Both run on a
//! scratch database (`bench_seed_N`), dropped at the end, or kept as the benchmark collection
//! `bench_N` when that one does not exist yet (the same spec, seeded by the same code).

use std::io::{BufReader, BufWriter, Write as _};
use std::time::Instant;

use super::in_place::{LIMIT_TABLES, limit_copies, pipe, scratch_store};
use super::report::{BenchName, Check, Options, Report};
use crate::config::ConnectParams;
use crate::db;
use crate::import::load;

/// The seeding's target, as a multiple of its COPY limit (issue #13).
const TARGET_RATIO: f64 = 2.0;

/// Runs the benchmark for `movies` movies (ratings in the default sample's proportion).
pub fn run(server: &ConnectParams, movies: u32, _options: &Options) -> anyhow::Result<Report> {
    let mut report = Report::new(BenchName::Seed, movies);
    let spec = super::dataset::spec(movies);
    let name = format!("bench_seed_{movies}");
    let params = scratch_store(server, &name)?;
    let staging = std::env::temp_dir().join(format!("marquee-seed-limit-{}", std::process::id()));
    let result = (|| -> anyhow::Result<()> {
        let mut client = db::connect_once(&params)?;
        let started = Instant::now();
        let seeded = crate::progress::with_progress_bar(|progress| {
            load::load_sample(&mut client, &name, &spec, progress)
        })?;
        let seed_secs = started.elapsed().as_secs_f64();

        std::fs::create_dir_all(&staging)?;
        let copies = limit_copies(&crate::db::source::Source::default());
        let mut bytes = 0_u64;
        for (i, (out_sql, _)) in copies.iter().enumerate() {
            let mut file = BufWriter::new(std::fs::File::create(staging.join(i.to_string()))?);
            bytes += std::io::copy(&mut client.copy_out(out_sql.as_str())?, &mut file)?;
            file.flush()?;
        }
        let mut tx = client.transaction()?;
        tx.batch_execute(LIMIT_TABLES)?;
        let started = Instant::now();
        for (i, (_, in_sql)) in copies.iter().enumerate() {
            let mut file = BufReader::new(std::fs::File::open(staging.join(i.to_string()))?);
            let mut writer = tx.copy_in(*in_sql)?;
            pipe(&mut file, &mut writer)?;
            writer.finish()?;
        }
        let limit_secs = started.elapsed().as_secs_f64();
        tx.rollback()?;

        report.figure("seed (marquee seed's code)", seed_secs, "s");
        report.figure("limit: binary COPY in of the same rows", limit_secs, "s");
        report.figure("rows' binary COPY size", bytes as f64 / 1e6, "MB");
        report.figure("movies", seeded.movies as f64, "rows");
        report.figure("ratings", seeded.ratings as f64, "rows");
        report.checks.push(Check::at_most(
            "seed / limit",
            seed_secs / limit_secs.max(1e-9),
            TARGET_RATIO,
            "x",
        ));
        Ok(())
    })();
    let _ = std::fs::remove_dir_all(&staging);
    let kept = match &result {
        Ok(()) => super::dataset::adopt(server, movies, &name)?,
        Err(_) => false,
    };
    if !kept {
        let mut admin_params = server.clone();
        admin_params.dbname = "postgres".to_owned();
        // The identifier is ours: `bench_seed_` and a number.
        db::connect_once(&admin_params)?
            .batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))?;
    }
    result?;
    Ok(report)
}
