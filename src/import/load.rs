//! Loads a collection (generated sample or MovieLens folder) into PostgreSQL with binary COPY, in
//! one transaction: either the whole new collection is stored, or the previous one is untouched.
//!
//! Secondary indexes and foreign keys are dropped inside the transaction and rebuilt after the
//! COPY (DDL is transactional in PostgreSQL), which is several times faster than maintaining them
//! row by row and is rolled back with everything else if the load fails.

use std::collections::HashMap;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use postgres::Transaction;
use postgres::binary_copy::BinaryCopyInWriter;
use postgres::types::Type;

use crate::db::error::{DbError, DbErrorKind};
use crate::import::movielens::{ImportError, MovieLensDir};
use crate::import::rating_tally::RatingSums;
use crate::import::records::{LinkRecord, MovieRecord, RatingRecord, TagRecord};
use crate::import::sample::SampleSpec;
use crate::progress::Progress;

/// Rows stored by a load.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct LoadReport {
    /// Movies stored.
    pub movies: u64,
    /// Ratings stored.
    pub ratings: u64,
    /// Tags stored.
    pub tags: u64,
    /// Movies that `links.csv` gives imdb/tmdb ids (one per movie: a later row replaces an
    /// earlier one).
    pub links: u64,
    /// Wall time in milliseconds.
    pub elapsed_ms: u64,
}

/// Why a load failed. Nothing was changed in the database in either case.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// A source file is missing or malformed.
    #[error(transparent)]
    Source(#[from] ImportError),
    /// The database refused the data or failed.
    #[error("{0}; nothing was changed")]
    Database(DbError),
}

/// Reports progress every this many rows.
pub(crate) const PROGRESS_EVERY: u64 = 20_000;

pub(crate) fn db_err(target: &str) -> impl Fn(postgres::Error) -> LoadError + '_ {
    move |err| {
        let mut error = DbError::from_postgres(&err, target);
        if let Some(db) = err.as_db_error()
            && let Some(detail) = db.detail()
        {
            error.message = format!("{}: {detail}", error.message);
        }
        LoadError::Database(error)
    }
}

/// Replaces the collection with the generated sample `spec`.
pub fn load_sample(
    client: &mut postgres::Client,
    target: &str,
    spec: &SampleSpec,
    progress: &mut dyn FnMut(Progress),
) -> Result<LoadReport, LoadError> {
    let started = Instant::now();
    let mut tx = begin_replace(client, target)?;
    // The ratings first, their summaries counted as they are generated: the movies are then
    // written once, with them, in id order. Updating every movie afterwards
    // (`refresh_movie_ratings()`) would cost a second pass over the ratings and leave each
    // movie's new row wherever there was room, so that a page of consecutive ids would lie on
    // dozens of heap pages instead of two or three.
    let mut sums = RatingSums::default();
    let mut report = LoadReport {
        ratings: copy_ratings(
            &mut tx,
            target,
            spec.ratings()
                .inspect(|r| sums.add(r.movie_id, r.rating))
                .map(Ok),
            Some(spec.ratings),
            progress,
        )?,
        ..LoadReport::default()
    };
    report.movies = copy_movies(
        &mut tx,
        target,
        spec.movies().map(Ok),
        Some(u64::from(spec.movies)),
        &sums,
        progress,
    )?;
    drop(sums);
    report.tags = copy_tags(&mut tx, target, spec.tags().map(Ok), None, progress)?;
    let description = format!(
        "generated sample ({} movies, {} ratings, seed {})",
        spec.movies, spec.ratings, spec.seed
    );
    finish_replace(tx, target, &description, progress)?;
    vacuum(client);
    report.elapsed_ms = started.elapsed().as_millis() as u64;
    Ok(report)
}

/// Replaces the collection with a MovieLens folder. A malformed row aborts with its file, line
/// and reason, leaving the previous collection in place.
///
/// The files are written in the order that stores each movie once, complete and in the file's
/// order, as the seed does in id order: the ratings first (each movie's summary counted as they pass, [`RatingSums`]),
/// then the movies with their summary and their `links.csv` ids. Writing the movies first and
/// completing them by UPDATE (links, then `refresh_movie_ratings()`) left three versions of every
/// movie row, scattered, for every index build and scan after it to read.
pub fn load_movielens(
    client: &mut postgres::Client,
    target: &str,
    dir: &MovieLensDir,
    progress: &mut dyn FnMut(Progress),
) -> Result<LoadReport, LoadError> {
    let started = Instant::now();
    // movies.csv is checked whole before anything is sent: a bad row in it is then reported at
    // once, not after the ratings have streamed (minutes, for the largest releases). It is small
    // next to ratings.csv, so reading it twice costs little.
    for movie in dir.movies()? {
        movie?;
    }
    let links = if dir.has_links() {
        read_links(dir.links()?)?
    } else {
        HashMap::new()
    };
    let mut tx = begin_replace(client, target)?;
    let mut sums = RatingSums::default();
    let mut report = LoadReport::default();
    if dir.has_ratings() {
        let ratings = dir.ratings()?.inspect(|rating| {
            if let Ok(r) = rating {
                sums.add(r.movie_id, r.rating);
            }
        });
        report.ratings = copy_ratings(&mut tx, target, ratings, None, progress)?;
    }
    let movies = dir.movies()?.map(|movie| {
        movie.map(|mut m| {
            if let Some(link) = links.get(&m.id) {
                (m.imdb_id, m.tmdb_id) = (link.imdb_id, link.tmdb_id);
            }
            m
        })
    });
    report.movies = copy_movies(&mut tx, target, movies, None, &sums, progress)?;
    drop(sums);
    report.links = links.len() as u64;
    if dir.has_tags() {
        report.tags = copy_tags(&mut tx, target, dir.tags()?, None, progress)?;
    }
    let description = format!("MovieLens import of {}", dir.dir().display());
    finish_replace(tx, target, &description, progress)?;
    vacuum(client);
    report.elapsed_ms = started.elapsed().as_millis() as u64;
    Ok(report)
}

/// The external ids of `links.csv` by movie. A later row for the same movie replaces an earlier
/// one, and a row for a movie that `movies.csv` lacks is ignored.
fn read_links(
    rows: impl Iterator<Item = Result<LinkRecord, ImportError>>,
) -> Result<HashMap<i32, LinkRecord>, ImportError> {
    let mut links = HashMap::new();
    for link in rows {
        let link = link?;
        links.insert(link.movie_id, link);
    }
    Ok(links)
}

/// Sets the visibility map of the freshly loaded movies, so deep paging can skip rows with
/// index-only scans instead of visiting the table. VACUUM cannot run inside the load's
/// transaction; if it fails (permissions, a pooler) browsing still works, only slower.
pub(crate) fn vacuum(client: &mut postgres::Client) {
    if let Err(err) = client.batch_execute("VACUUM marquee.movies") {
        tracing::warn!("VACUUM after the load failed ({err}); deep paging will be slower");
    }
}

/// Secondary indexes and foreign keys dropped for the load, to be rebuilt by [`finish_replace`].
const DROPPED_TABLE: &str = "marquee_load_rebuild";

pub(crate) fn begin_replace<'a>(
    client: &'a mut postgres::Client,
    target: &str,
) -> Result<Transaction<'a>, LoadError> {
    let mut tx = client.transaction().map_err(db_err(target))?;
    // Marquee's tables live in schema `marquee`; the load names them unqualified, for this
    // transaction only. Bulk loading does not need to wait for the WAL flush of each commit; the
    // transaction is still atomic.
    tx.batch_execute(&format!(
        "SET LOCAL search_path = marquee, public;
         SET LOCAL synchronous_commit = off;
         SET LOCAL maintenance_work_mem = '256MB';
         SET LOCAL statement_timeout = 0;
         -- Every lock the load needs, first and in the order readers take them (movies, then
         -- ratings and tags): a reader can only wait for the import, never deadlock with it, as
         -- it could when dropping a foreign key locked ratings before movies.
         LOCK TABLE movies, ratings, tags IN ACCESS EXCLUSIVE MODE;
         CREATE TEMP TABLE {DROPPED_TABLE} (ord serial, ddl text, drop_ddl text) ON COMMIT DROP;
         -- Each row: how to recreate an object after the load, and how to drop it before.
         -- Rebuilt in reverse order: indexes, then foreign keys, then the statistics targets of
         -- index expressions (which recreating an index from its definition would forget).
         INSERT INTO {DROPPED_TABLE} (ddl)
             SELECT format('ALTER INDEX %s ALTER COLUMN %s SET STATISTICS %s', a.attrelid::regclass, a.attnum, a.attstattarget)
               FROM pg_attribute a JOIN pg_index i ON i.indexrelid = a.attrelid
              WHERE i.indrelid IN ('movies'::regclass, 'ratings'::regclass, 'tags'::regclass)
                AND a.attstattarget > 0;
         -- Foreign keys, then the ratings' own keys: a million ratings arrive in the source's
         -- order, and keeping a (movie, user) b-tree up to date through them costs three times
         -- what building it once after the COPY does. The movies keep theirs: the foreign keys
         -- need it, and it is small.
         INSERT INTO {DROPPED_TABLE} (ddl, drop_ddl)
             SELECT format('ALTER TABLE %s ADD CONSTRAINT %I %s', conrelid::regclass, conname, pg_get_constraintdef(oid)),
                    format('ALTER TABLE %s DROP CONSTRAINT %I', conrelid::regclass, conname)
               FROM pg_constraint
              WHERE (contype = 'f' AND conrelid IN ('ratings'::regclass, 'tags'::regclass))
                 OR (contype IN ('p', 'u') AND conrelid = 'ratings'::regclass)
              ORDER BY contype = 'f' DESC;
         INSERT INTO {DROPPED_TABLE} (ddl, drop_ddl)
             SELECT indexdef, format('DROP INDEX %I.%I', schemaname, indexname) FROM pg_indexes
              WHERE schemaname = current_schema()
                AND tablename IN ('movies', 'ratings', 'tags')
                AND indexname NOT IN (SELECT conname FROM pg_constraint WHERE contype IN ('p', 'u'));"
    ))
    .map_err(db_err(target))?;
    // Foreign keys go first: an index they depend on cannot be dropped before them.
    let drops: Vec<String> = tx
        .query(
            &format!(
                "SELECT drop_ddl FROM {DROPPED_TABLE} WHERE drop_ddl IS NOT NULL ORDER BY ord"
            ),
            &[],
        )
        .map_err(db_err(target))?
        .iter()
        .map(|row| row.get(0))
        .collect();
    for drop in drops {
        tx.batch_execute(&drop).map_err(db_err(target))?;
    }
    tx.batch_execute("TRUNCATE movies, ratings, tags")
        .map_err(db_err(target))?;
    Ok(tx)
}

pub(crate) fn finish_replace(
    mut tx: Transaction<'_>,
    target: &str,
    description: &str,
    progress: &mut dyn FnMut(Progress),
) -> Result<(), LoadError> {
    let rebuild: Vec<String> = tx
        .query(
            &format!("SELECT ddl FROM {DROPPED_TABLE} ORDER BY ord DESC"),
            &[],
        )
        .map_err(db_err(target))?
        .iter()
        .map(|row| row.get(0))
        .collect();
    let total = rebuild.len() as u64 + 1;
    progress(Progress {
        stage: "facet totals",
        done: 0,
        total: Some(total),
    });
    // After the last write to movies: its trigger empties the totals on each.
    crate::db::facet_totals::refresh(&mut tx, crate::db::schema::SCHEMA).map_err(db_err(target))?;
    // The only joins below are the foreign keys' checks, and the keys are rebuilt before them:
    // merging the ratings' primary key with the movies' is one ordered pass over each. The
    // planner prefers hashing the movies and probing once per rating, which it prices as cheap,
    // but in a MovieLens file's order (by user) nearly every probe misses the CPU cache: 7.4 s
    // against 1.5 s for the merge at 11.5M ratings.
    tx.batch_execute("SET LOCAL enable_hashjoin = off")
        .map_err(db_err(target))?;
    for (i, ddl) in rebuild.iter().enumerate() {
        progress(Progress {
            stage: "indexes",
            done: i as u64 + 1,
            total: Some(total),
        });
        tx.batch_execute(ddl)
            .map_err(|err| match db_err(target)(err) {
                LoadError::Database(mut e) if ddl.contains("FOREIGN KEY") => {
                    e.message = format!(
                        "a rating or tag refers to a movie that is not in the movies file ({})",
                        e.message
                    );
                    LoadError::Database(e)
                }
                // The ratings' key is built here, after the COPY: a duplicate shows up now.
                error if ddl.starts_with("ALTER TABLE ratings ") => {
                    duplicate_hint(error, "(user, movie) rating pairs")
                }
                error => error,
            })?;
    }
    tx.execute(
        "INSERT INTO marquee_meta (key, value) VALUES ('collection', $1)
         ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        &[&description],
    )
    .map_err(db_err(target))?;
    progress(Progress {
        stage: "statistics",
        done: total,
        total: Some(total),
    });
    analyze(&mut tx).map_err(db_err(target))?;
    tx.commit().map_err(db_err(target))?;
    Ok(())
}

/// Gathers the planner's statistics of the loaded tables, one `ANALYZE` per table and
/// statistics target. ANALYZE samples 300 rows per unit of the largest target among the columns
/// it is given and computes every one of them over that whole sample: the folded title's finer
/// target (1,000) made each other column of the movies cost up to ten times its default (at
/// 86,537 movies 700 ms, against 400 ms for the two passes). A table whose columns share one
/// target is analyzed whole, which also covers the expressions of its indexes (`tags`).
fn analyze(tx: &mut Transaction<'_>) -> Result<(), postgres::Error> {
    let groups = tx.query(
        "SELECT a.attrelid::regclass::text, count(*) OVER (PARTITION BY a.attrelid) = 1,
                string_agg(quote_ident(a.attname), ', ' ORDER BY a.attnum)
           FROM pg_attribute a
          WHERE a.attrelid IN ('movies'::regclass, 'ratings'::regclass, 'tags'::regclass)
            AND a.attnum > 0 AND NOT a.attisdropped
          GROUP BY a.attrelid, a.attstattarget
          ORDER BY a.attrelid, a.attstattarget",
        &[],
    )?;
    for group in groups {
        let (table, whole, columns): (String, bool, String) =
            (group.get(0), group.get(1), group.get(2));
        let statement = if whole {
            format!("ANALYZE {table}")
        } else {
            format!("ANALYZE {table} ({columns})")
        };
        tx.batch_execute(&statement)?;
    }
    Ok(())
}

fn epoch(secs: i64) -> SystemTime {
    if secs >= 0 {
        UNIX_EPOCH + std::time::Duration::from_secs(secs.unsigned_abs())
    } else {
        UNIX_EPOCH - std::time::Duration::from_secs(secs.unsigned_abs())
    }
}

/// One COPY: where to, and what each row becomes.
struct CopySpec<'s> {
    stage: &'static str,
    sql: &'s str,
    types: &'s [Type],
    /// What a duplicate key means in this table, for the error message.
    duplicate: &'s str,
}

/// Streams `rows` through a binary COPY, reporting progress. A source error returns early, which
/// drops the writer unfinished and so aborts the COPY on the server.
fn copy_rows<T>(
    tx: &mut Transaction<'_>,
    target: &str,
    spec: &CopySpec<'_>,
    rows: impl Iterator<Item = Result<T, ImportError>>,
    total: Option<u64>,
    progress: &mut dyn FnMut(Progress),
    write: impl Fn(&mut BinaryCopyInWriter<'_>, &T) -> Result<(), postgres::Error>,
) -> Result<u64, LoadError> {
    let sink = tx.copy_in(spec.sql).map_err(db_err(target))?;
    let mut writer = BinaryCopyInWriter::new(sink, spec.types);
    let stage = spec.stage;
    let mut count = 0_u64;
    progress(Progress {
        stage,
        done: 0,
        total,
    });
    for row in rows {
        write(&mut writer, &row?).map_err(db_err(target))?;
        count += 1;
        if count.is_multiple_of(PROGRESS_EVERY) {
            progress(Progress {
                stage,
                done: count,
                total,
            });
        }
    }
    writer
        .finish()
        .map_err(|err| duplicate_hint(db_err(target)(err), spec.duplicate))?;
    progress(Progress {
        stage,
        done: count,
        total,
    });
    Ok(count)
}

/// The types of a movie's columns as loads copy them: id, title, year, genres, imdb_id, tmdb_id.
pub(crate) const MOVIE_COPY_TYPES: [Type; 6] = [
    Type::INT4,
    Type::TEXT,
    Type::INT2,
    Type::TEXT_ARRAY,
    Type::INT4,
    Type::INT4,
];

/// Copies the movies, each with its rating summary, frozen (the table was truncated in this
/// transaction), so that neither an UPDATE nor the VACUUM after the load has to rewrite them.
fn copy_movies(
    tx: &mut Transaction<'_>,
    target: &str,
    rows: impl Iterator<Item = Result<MovieRecord, ImportError>>,
    total: Option<u64>,
    summaries: &RatingSums,
    progress: &mut dyn FnMut(Progress),
) -> Result<u64, LoadError> {
    let spec = CopySpec {
        stage: "movies",
        sql: "COPY movies (id, title, year, genres, imdb_id, tmdb_id, rating_avg, rating_count) \
              FROM STDIN (FORMAT binary, FREEZE)",
        types: &MOVIE_WITH_SUMMARY_COPY_TYPES,
        duplicate: "movie ids",
    };
    copy_rows(tx, target, &spec, rows, total, progress, |w, m| {
        let (rating_avg, rating_count) = summaries.summary(m.id);
        w.write(&[
            &m.id,
            &m.title,
            &m.year,
            &m.genres,
            &m.imdb_id,
            &m.tmdb_id,
            &rating_avg,
            &rating_count,
        ])
    })
}

/// [`MOVIE_COPY_TYPES`], then the rating summary: `rating_avg`, `rating_count`.
pub(crate) const MOVIE_WITH_SUMMARY_COPY_TYPES: [Type; 8] = {
    let [id, title, year, genres, imdb_id, tmdb_id] = MOVIE_COPY_TYPES;
    [
        id,
        title,
        year,
        genres,
        imdb_id,
        tmdb_id,
        Type::FLOAT4,
        Type::INT4,
    ]
};

/// Copies the ratings, frozen as the movies are (every load truncates the tables first).
fn copy_ratings(
    tx: &mut Transaction<'_>,
    target: &str,
    rows: impl Iterator<Item = Result<RatingRecord, ImportError>>,
    total: Option<u64>,
    progress: &mut dyn FnMut(Progress),
) -> Result<u64, LoadError> {
    let spec = CopySpec {
        stage: "ratings",
        sql: "COPY ratings (user_id, movie_id, rating, rated_at) FROM STDIN (FORMAT binary, FREEZE)",
        types: &[Type::INT4, Type::INT4, Type::FLOAT4, Type::TIMESTAMPTZ],
        duplicate: "(user, movie) rating pairs",
    };
    copy_rows(tx, target, &spec, rows, total, progress, |w, r| {
        w.write(&[&r.user_id, &r.movie_id, &r.rating, &epoch(r.timestamp_secs)])
    })
}

fn copy_tags(
    tx: &mut Transaction<'_>,
    target: &str,
    rows: impl Iterator<Item = Result<TagRecord, ImportError>>,
    total: Option<u64>,
    progress: &mut dyn FnMut(Progress),
) -> Result<u64, LoadError> {
    let spec = CopySpec {
        stage: "tags",
        sql: "COPY tags (user_id, movie_id, tag, tagged_at) FROM STDIN (FORMAT binary, FREEZE)",
        types: &[Type::INT4, Type::INT4, Type::TEXT, Type::TIMESTAMPTZ],
        duplicate: "tags",
    };
    copy_rows(tx, target, &spec, rows, total, progress, |w, t| {
        w.write(&[&t.user_id, &t.movie_id, &t.tag, &epoch(t.timestamp_secs)])
    })
}

fn duplicate_hint(error: LoadError, what: &str) -> LoadError {
    match error {
        LoadError::Database(mut e) if e.sqlstate.as_deref() == Some("23505") => {
            e.kind = DbErrorKind::Query;
            e.message = format!("the source has duplicate {what}: {}", e.message);
            LoadError::Database(e)
        }
        other => other,
    }
}

/// Number of movies in the collection.
pub fn movie_count(client: &mut impl postgres::GenericClient) -> Result<u64, postgres::Error> {
    let count: i64 = client
        .query_typed_one("SELECT count(*) FROM marquee.movies", &[])?
        .try_get(0)?;
    Ok(count.max(0) as u64)
}

/// What [`seed_if_empty`] found or did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Seeded {
    /// Movies in the collection now.
    pub movies: u64,
    /// The load, when the collection was empty and the sample was generated.
    pub report: Option<LoadReport>,
}

/// The first start's work (window and `db start` alike): generate the default sample when the
/// collection is empty, else leave it alone.
pub fn seed_if_empty(
    client: &mut postgres::Client,
    target: &str,
    progress: &mut dyn FnMut(Progress),
) -> Result<Seeded, LoadError> {
    let movies = movie_count(client).map_err(db_err(target))?;
    if movies > 0 {
        return Ok(Seeded {
            movies,
            report: None,
        });
    }
    tracing::info!("The collection is empty: generating the sample collection");
    let report = load_sample(client, target, &SampleSpec::default(), progress)?;
    Ok(Seeded {
        movies: report.movies,
        report: Some(report),
    })
}
