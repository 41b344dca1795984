//! `in-place`: browsing MovieLens tables where they lie, and `import postgres` against its limit.
//!
//! The raw layout is what people load: `movies("movieId" integer PRIMARY KEY, title, genres)`
//! and `ratings("userId", "movieId", rating, "timestamp")`, filled with the generated sample by
//! text COPY (like `psql \copy`), no other index. It lives in its own database
//! (`bench_raw_<movies>_<ratings>`), made once and reused.
//!
//! Measured through the app's own path (`db::open_pool` detects the source; the repositories
//! query it): the first page sorted by title, by rating, and under a genre + year filter;
//! facets; details of one movie. Then `import postgres` into a scratch store, against the limit:
//! the same rows' binary COPY out of the source piped into COPY into plain tables, in one
//! transaction rolled back.

use std::io::{Read, Write};
use std::time::{Duration, Instant};

use super::report::{BenchName, Check, Options, Report};
use super::stats::Rng;
use crate::config::{ConnectParams, PoolSettings, ServerChoice, Settings};
use crate::db::{self, Server};
use crate::filter::Filter;
use crate::import::sample::SampleSpec;
use crate::repo::movies::MoviesRepository;

/// Rows on the first page.
const PAGE_ROWS: u32 = 40;

fn raw_name(spec: &SampleSpec) -> String {
    format!("bench_raw_{}_{}", spec.movies, spec.ratings)
}

/// Creates `bench_raw_…` once (a comment on the database marks it complete).
fn ensure_raw(server: &ConnectParams, spec: &SampleSpec) -> anyhow::Result<ConnectParams> {
    let name = raw_name(spec);
    let mut params = server.clone();
    params.dbname = name.clone();
    let mut admin_params = server.clone();
    admin_params.dbname = "postgres".to_owned();
    let mut admin = db::connect_once(&admin_params)?;
    let ready: bool = admin
        .query_one(
            "SELECT coalesce((SELECT shobj_description(oid, 'pg_database') = 'ready'
                                FROM pg_database WHERE datname = $1), false)",
            &[&name],
        )?
        .get(0);
    if ready {
        return Ok(params);
    }
    tracing::info!(
        "Writing {name}: MovieLens tables with {} movies and {} ratings (done once)",
        spec.movies,
        spec.ratings
    );
    // Both identifiers are ours: `bench_raw_` and numbers.
    admin.batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))?;
    admin.batch_execute(&format!("CREATE DATABASE {name}"))?;
    let mut client = db::connect_once(&params)?;
    client.batch_execute(
        r#"CREATE EXTENSION IF NOT EXISTS unaccent;
           CREATE EXTENSION IF NOT EXISTS pg_trgm;
           CREATE TABLE movies ("movieId" integer PRIMARY KEY, title text, genres text);
           CREATE TABLE ratings ("userId" integer, "movieId" integer, rating real, "timestamp" bigint);"#,
    )?;
    let mut out = client.copy_in("COPY movies FROM STDIN (FORMAT csv)")?;
    {
        let mut csv = csv::Writer::from_writer(&mut out);
        for m in spec.movies() {
            let genres = if m.genres.is_empty() {
                "(no genres listed)".to_owned()
            } else {
                m.genres.join("|")
            };
            csv.write_record([m.id.to_string(), m.title, genres])?;
        }
        csv.flush()?;
    }
    out.finish()?;
    let mut out = client.copy_in("COPY ratings FROM STDIN")?;
    {
        let mut buf = std::io::BufWriter::with_capacity(1 << 20, &mut out);
        for r in spec.ratings() {
            writeln!(
                buf,
                "{}\t{}\t{:.1}\t{}",
                r.user_id, r.movie_id, r.rating, r.timestamp_secs
            )?;
        }
        buf.flush()?;
    }
    out.finish()?;
    // One statement each: several in one message would run as one transaction, and VACUUM
    // cannot.
    client.batch_execute("VACUUM ANALYZE movies")?;
    client.batch_execute("VACUUM ANALYZE ratings")?;
    admin.batch_execute(&format!("COMMENT ON DATABASE {name} IS 'ready'"))?;
    Ok(params)
}

fn time<T>(
    samples: &mut Vec<Duration>,
    f: impl FnOnce() -> anyhow::Result<T>,
) -> anyhow::Result<T> {
    let started = Instant::now();
    let value = f()?;
    samples.push(started.elapsed());
    Ok(value)
}

/// Runs the in-place benchmark on `movies` movies and `ratings` ratings.
pub fn run(
    server: &ConnectParams,
    movies: u32,
    ratings: u64,
    options: &Options,
) -> anyhow::Result<Report> {
    let spec = SampleSpec {
        movies,
        ratings,
        seed: 1,
    };
    let params = ensure_raw(server, &spec)?;
    let mut report = Report::new(BenchName::InPlace, movies);
    report.figure("ratings", ratings as f64, "rows");
    let settings = Settings {
        server: ServerChoice::External(params.clone()),
        pool: PoolSettings {
            statement_timeout_ms: 600_000,
            ..PoolSettings::default()
        },
        source: Default::default(),
    };
    let source_server = Server {
        params: params.clone(),
        cluster: None,
    };
    let pool = db::open_pool(&source_server, &settings)?;
    report
        .notes
        .push(format!("source: {}", pool.source().describe()));
    let repo = MoviesRepository::new(pool.clone());
    let samples = (options.repeats * 2).max(3);
    let cases = [
        ("first page, sort title", "sort:title"),
        ("first page, sort -rating", "sort:-rating"),
        (
            "first page, genre:Drama year:1990..1999",
            "genre:Drama year:1990..1999",
        ),
    ];
    for (label, text) in cases {
        let filter = Filter::parse(text).map_err(|e| anyhow::anyhow!("{e}"))?;
        repo.page(&filter, 0, PAGE_ROWS)?; // warm-up
        let mut times = Vec::new();
        for _ in 0..samples {
            time(&mut times, || Ok(repo.page(&filter, 0, PAGE_ROWS)?))?;
        }
        let summary = report.timing(format!("in place: {label}"), &times);
        if text == "sort:title" && ratings <= 1_000_000 {
            report.checks.push(Check::at_most(
                "in place first page by title p95",
                summary.p95_micros / 1_000.0,
                100.0,
                "ms",
            ));
        }
    }
    let mut times = Vec::new();
    for _ in 0..samples {
        time(&mut times, || Ok(repo.facets(&Filter::default())?))?;
    }
    report.timing("in place: facets (no filter)", &times);
    let mut rng = Rng::new(7);
    let mut times = Vec::new();
    for _ in 0..samples {
        let id = (rng.next_u64() % u64::from(movies.max(1))) as i32 + 1;
        time(&mut times, || Ok(repo.details(id)?))?;
    }
    report.timing("in place: details", &times);

    // import postgres, and the limit measured in the same run.
    let store = scratch_store(
        server,
        &format!("bench_copy_{}_{}", spec.movies, spec.ratings),
    )?;
    let mut store_client = db::connect_once(&store)?;
    let mut source_client = db::connect_once(&params)?;
    let started = Instant::now();
    let loaded = crate::import::postgres::load_from_postgres(
        &mut store_client,
        &store.dbname,
        &mut source_client,
        &params.display_target(),
        pool.source(),
        &mut |_| {},
    )?;
    let import_secs = started.elapsed().as_secs_f64();
    let started = Instant::now();
    copy_limit(&mut store_client, &mut source_client, pool.source())?;
    let limit_secs = started.elapsed().as_secs_f64();
    report.figure("import postgres", import_secs, "s");
    report.figure(
        "limit: binary COPY out + COPY in, same rows",
        limit_secs,
        "s",
    );
    report.figure("movies imported", loaded.movies as f64, "rows");
    report.checks.push(Check::at_most(
        "import postgres / limit",
        import_secs / limit_secs.max(1e-9),
        1.5,
        "x",
    ));
    pool.close();
    Ok(report)
}

/// An empty, migrated database `name` (ours: a prefix and numbers), made anew each run: the
/// store for the import here, the seeded collection in `bench seed`.
pub(super) fn scratch_store(server: &ConnectParams, name: &str) -> anyhow::Result<ConnectParams> {
    let mut admin_params = server.clone();
    admin_params.dbname = "postgres".to_owned();
    let mut admin = db::connect_once(&admin_params)?;
    admin.batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))?;
    admin.batch_execute(&format!("CREATE DATABASE {name}"))?;
    let mut params = server.clone();
    params.dbname = name.to_owned();
    let mut client = db::connect_once(&params)?;
    db::schema::migrate(&mut client, name)?;
    Ok(params)
}

/// Plain tables of the collection's types (no index, no constraint), for the COPY limits here
/// and in `bench seed`.
pub(super) const LIMIT_TABLES: &str =
    "CREATE TEMP TABLE lim_movies (id integer, title text, year smallint, genres text[], imdb_id integer, tmdb_id integer);
     CREATE TEMP TABLE lim_ratings (user_id integer, movie_id integer, rating real, rated_at timestamptz);
     CREATE TEMP TABLE lim_tags (user_id integer, movie_id integer, tag text, tagged_at timestamptz);";

/// The three binary COPYs of a collection's rows out of `relations`, each with the COPY into
/// its [`LIMIT_TABLES`] table.
pub(super) fn limit_copies(relations: &crate::db::source::Source) -> [(String, &'static str); 3] {
    [
        (
            format!(
                "COPY (SELECT id, title, year, genres, imdb_id, tmdb_id FROM {} m) TO STDOUT (FORMAT binary)",
                relations.movies
            ),
            "COPY lim_movies FROM STDIN (FORMAT binary)",
        ),
        (
            format!(
                "COPY (SELECT user_id, movie_id, rating, rated_at FROM {} r) TO STDOUT (FORMAT binary)",
                relations.ratings
            ),
            "COPY lim_ratings FROM STDIN (FORMAT binary)",
        ),
        (
            format!(
                "COPY (SELECT user_id, movie_id, tag, tagged_at FROM {} t) TO STDOUT (FORMAT binary)",
                relations.tags
            ),
            "COPY lim_tags FROM STDIN (FORMAT binary)",
        ),
    ]
}

/// Copies `reader` into `writer` in writes of 256 KiB, as the COPY limits are measured.
pub(super) fn pipe(reader: &mut impl Read, writer: &mut impl Write) -> std::io::Result<()> {
    let mut buf = vec![0_u8; 256 * 1024];
    loop {
        let n = reader.read(&mut buf)?;
        if n == 0 {
            return Ok(());
        }
        writer.write_all(&buf[..n])?;
    }
}

/// The import's floor: the same three binary COPYs out of the source piped into
/// [`LIMIT_TABLES`], rolled back.
fn copy_limit(
    store: &mut postgres::Client,
    source: &mut postgres::Client,
    relations: &crate::db::source::Source,
) -> anyhow::Result<()> {
    let mut tx = store.transaction()?;
    tx.batch_execute(LIMIT_TABLES)?;
    let mut reading = source.build_transaction().read_only(true).start()?;
    let pairs = limit_copies(relations);
    for (out_sql, in_sql) in &pairs {
        let mut reader = reading.copy_out(out_sql.as_str())?;
        let mut writer = tx.copy_in(*in_sql)?;
        pipe(&mut reader, &mut writer)?;
        drop(reader);
        writer.finish()?;
    }
    drop(reading);
    tx.rollback()?;
    Ok(())
}
