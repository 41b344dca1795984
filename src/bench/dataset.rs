//! The benchmark collections: one database per size (`bench_86537`, `bench_1000000`, …) in the
//! same server, seeded once with the generated sample and reused by every later run.
//!
//! Seeding a million movies (≈11.6 million ratings) takes minutes, so a database is only rebuilt
//! when its readiness mark in `marquee_meta` is missing or different: a run killed half-way
//! leaves no mark and the next run starts that size over. An advisory lock keeps two benchmark
//! processes from seeding the same size at once.

use crate::config::ConnectParams;
use crate::db::{self, schema};
use crate::import::load;
use crate::import::sample::{DEFAULT_MOVIES, SampleSpec};

/// `marquee_meta` key holding the seeded spec once seeding committed.
const READY_KEY: &str = "bench_ready";

/// The database name for a collection of `movies` movies.
pub fn database_name(movies: u32) -> String {
    format!("bench_{movies}")
}

/// The generated collection for `movies`: ratings in the same proportion as the default sample
/// (1,000,000 ratings for 86,537 movies, ≈11.6 a movie), seed 1.
pub fn spec(movies: u32) -> SampleSpec {
    SampleSpec {
        movies,
        ratings: u64::from(movies) * 1_000_000 / u64::from(DEFAULT_MOVIES),
        seed: 1,
    }
}

/// What a collection of `movies` movies is made of, as stored in its readiness mark; copies of it
/// (the Datasette peer's SQLite file) carry the same mark.
pub fn mark(movies: u32) -> String {
    ready_mark(&spec(movies))
}

fn ready_mark(spec: &SampleSpec) -> String {
    format!(
        "movies={} ratings={} seed={}",
        spec.movies, spec.ratings, spec.seed
    )
}

/// Makes sure `bench_<movies>` exists on the server of `server` and holds the seeded collection;
/// returns the parameters to connect to it. Seeds (minutes for a million movies) only when the
/// database is missing or was left half-made.
pub fn ensure(server: &ConnectParams, movies: u32) -> anyhow::Result<ConnectParams> {
    with_collection_locked(server, movies, |admin, collection, ready| {
        if !ready {
            seed(admin, collection, &spec(movies))?;
        }
        // What an earlier run wrote (a seed, an import, a dropped scratch database) is put on
        // disk before anything is timed: its write-back otherwise stalls the reads measured
        // (random jumps at 10M through the result index: p95 52.5 ms straight after a 1M seed,
        // 2.6 ms in the next run). Only a superuser (or pg_checkpoint) may; others measure as is.
        if let Err(err) = admin.batch_execute("CHECKPOINT") {
            tracing::info!(
                "no CHECKPOINT before measuring ({err}): earlier writes may still be in flight"
            );
        }
        Ok(collection.params.clone())
    })
}

/// Keeps a database that `bench seed` has just seeded with [`spec`]`(movies)` as the benchmark
/// collection `bench_<movies>` when that one is missing or half-made, so that seeding 10M movies
/// (six minutes here) is not done twice. Returns whether it was kept; if not, the caller drops
/// `seeded`. No client may be connected to `seeded`.
pub fn adopt(server: &ConnectParams, movies: u32, seeded: &str) -> anyhow::Result<bool> {
    with_collection_locked(server, movies, |admin, collection, ready| {
        if ready {
            return Ok(false);
        }
        let mut seeded_params = server.clone();
        seeded_params.dbname = seeded.to_owned();
        settle_and_mark(&mut db::connect_once(&seeded_params)?, &collection.mark)?;
        let name = &collection.name;
        // Identifiers are ours: `bench_` (or `bench_seed_`) and a number.
        admin.batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))?;
        admin.batch_execute(&format!("ALTER DATABASE {seeded} RENAME TO {name}"))?;
        tracing::info!("Kept the seeded database as {name} for the other benchmarks");
        Ok(true)
    })
}

/// `bench_<movies>`: its name, how to reach it, and the mark it carries once ready.
struct Collection {
    name: String,
    params: ConnectParams,
    mark: String,
}

/// Runs `work` on `bench_<movies>` while holding its advisory lock, so that no two benchmark
/// processes seed or replace it at once. `work` gets the admin connection (to `postgres`) that
/// holds the lock, and whether the collection is ready already.
fn with_collection_locked<T>(
    server: &ConnectParams,
    movies: u32,
    work: impl FnOnce(&mut postgres::Client, &Collection, bool) -> anyhow::Result<T>,
) -> anyhow::Result<T> {
    let name = database_name(movies);
    let mut params = server.clone();
    params.dbname = name.clone();
    let collection = Collection {
        name,
        params,
        mark: mark(movies),
    };
    let mut admin_params = server.clone();
    admin_params.dbname = "postgres".to_owned();
    let mut admin = db::connect_once(&admin_params)?;
    admin.execute("SELECT pg_advisory_lock(hashtext($1))", &[&collection.name])?;
    let result =
        is_ready(&mut admin, &collection).and_then(|ready| work(&mut admin, &collection, ready));
    let _ = admin.execute(
        "SELECT pg_advisory_unlock(hashtext($1))",
        &[&collection.name],
    );
    result
}

/// Seeds `collection` from scratch with `spec`, and marks it ready.
fn seed(
    admin: &mut postgres::Client,
    collection: &Collection,
    spec: &SampleSpec,
) -> anyhow::Result<()> {
    let name = &collection.name;
    tracing::info!(
        "Seeding {name}: {} movies, {} ratings (done once, then reused)",
        spec.movies,
        spec.ratings
    );
    // Both identifiers are ours: `bench_` and a number.
    admin.batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))?;
    admin.batch_execute(&format!("CREATE DATABASE {name}"))?;
    let mut client = db::connect_once(&collection.params)?;
    schema::migrate(&mut client, name)?;
    let report = crate::progress::with_progress_bar(|progress| {
        load::load_sample(&mut client, name, spec, progress)
    })?;
    settle_and_mark(&mut client, &collection.mark)?;
    tracing::info!(
        "Seeded {name}: {} movies, {} ratings in {:.1} s",
        report.movies,
        report.ratings,
        report.elapsed_ms as f64 / 1000.0
    );
    Ok(())
}

/// Vacuums so index-only scans and the visibility map are as a settled database has them (and
/// autovacuum does not wake up in the middle of a measurement), then marks the collection ready.
fn settle_and_mark(client: &mut postgres::Client, mark: &str) -> anyhow::Result<()> {
    client.batch_execute("VACUUM ANALYZE marquee.movies")?;
    client.execute(
        "INSERT INTO marquee_meta (key, value) VALUES ($1, $2)
         ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        &[&READY_KEY, &mark],
    )?;
    Ok(())
}

/// Whether `collection` exists and carries the readiness mark of exactly its spec.
fn is_ready(admin: &mut postgres::Client, collection: &Collection) -> anyhow::Result<bool> {
    let Collection { name, params, mark } = collection;
    let exists = admin
        .query_opt("SELECT 1 FROM pg_database WHERE datname = $1", &[&name])?
        .is_some();
    if !exists {
        return Ok(false);
    }
    let mut client = db::connect_once(params)?;
    // A database dropped mid-creation may not even have the table: that is "not ready" too.
    let found: Option<String> = client
        .query_opt(
            "SELECT value FROM marquee_meta WHERE key = $1",
            &[&READY_KEY],
        )
        .ok()
        .flatten()
        .map(|row| row.get(0));
    if found.as_deref() != Some(mark.as_str()) {
        return Ok(false);
    }
    // Later migrations apply to cached databases too.
    schema::migrate(&mut client, name)?;
    Ok(true)
}
