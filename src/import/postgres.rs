//! `marquee import postgres SOURCE_URL`: copies whatever another database holds (Marquee's
//! schema, MovieLens tables, mapped tables — see `crate::source`) into Marquee's own indexed
//! store, for speed on big foreign data.
//!
//! The ratings and tags stream straight from the source's `COPY (SELECT …) TO STDOUT (FORMAT
//! binary)` into the store's `COPY … FROM STDIN (FORMAT binary)`: the source relations already
//! have the store's column types, so those rows are not decoded on the way, only counted per
//! movie as they pass ([`super::rating_tally`]). The movies, far fewer, are decoded and written
//! with that rating summary added. The source is only read, in one read-only
//! repeatable-read transaction (one consistent snapshot for all three tables). The store is
//! written in one transaction too, as every load is ([`super::load`]): if the source dies
//! mid-copy, the previous collection is still there.

use std::io::{Read as _, Write as _};
use std::time::Instant;

use postgres::Transaction;
use postgres::binary_copy::{BinaryCopyInWriter, BinaryCopyOutIter};
use postgres::fallible_iterator::FallibleIterator as _;

use crate::db::error::{DbError, DbErrorKind};
use crate::db::source::Source;
use crate::import::load::{self, LoadError, LoadReport};
use crate::import::rating_tally::RatingTally;
use crate::progress::Progress;

/// Bytes per read from the source stream.
const CHUNK_BYTES: usize = 256 * 1024;

/// Replaces the collection in `store` (Marquee's schema, migrated) with what `source` holds in
/// the database `source_client` is connected to. `store_target` and `source_target` name the two
/// databases in messages. Progress is reported in bytes per table.
pub fn load_from_postgres(
    store_client: &mut postgres::Client,
    store_target: &str,
    source_client: &mut postgres::Client,
    source_target: &str,
    source: &Source,
    progress: &mut dyn FnMut(Progress),
) -> Result<LoadReport, LoadError> {
    let started = Instant::now();
    let source_err = |e: postgres::Error| {
        let mut error = DbError::from_postgres(&e, source_target);
        error.message = format!(
            "reading the source {source_target} failed: {}",
            error.message
        );
        LoadError::Database(error)
    };
    let mut reading = source_client
        .build_transaction()
        .read_only(true)
        .isolation_level(postgres::IsolationLevel::RepeatableRead)
        .start()
        .map_err(source_err)?;
    let mut tx = load::begin_replace(store_client, store_target)?;
    // The ratings go first: the client counts each movie's summary as they stream through it
    // (see `rating_tally`), and the movies are then written once, with it. The foreign keys are
    // rebuilt after the load, so the order does not matter to them.
    let mut tally = RatingTally::new(1, 2);
    let ratings_out = format!(
        "COPY (SELECT coalesce(user_id, 0), movie_id, rating, coalesce(rated_at, to_timestamp(0)) \
         FROM {} r WHERE movie_id IS NOT NULL AND rating IS NOT NULL) TO STDOUT (FORMAT binary)",
        source.ratings
    );
    let ratings = pipe(
        &mut reading,
        &ratings_out,
        &mut tx,
        // FREEZE: the table was truncated in this transaction, so its rows can be written frozen
        // and all-visible.
        "COPY ratings (user_id, movie_id, rating, rated_at) FROM STDIN (FORMAT binary, FREEZE)",
        "ratings",
        (store_target, source_target),
        Some(&mut tally),
        progress,
    )?;
    if !tally.is_complete() {
        return Err(LoadError::Database(DbError::new(
            DbErrorKind::ConnectionLost,
            format!("the ratings stream from {source_target} ended before its end marker"),
        )));
    }
    let movies = copy_movies(
        &mut reading,
        source,
        &mut tx,
        &tally,
        (store_target, source_target),
        progress,
    )?;
    let tags = pipe(
        &mut reading,
        &format!(
            "COPY (SELECT coalesce(user_id, 0), movie_id, tag, coalesce(tagged_at, to_timestamp(0)) \
             FROM {} t WHERE movie_id IS NOT NULL AND tag IS NOT NULL) TO STDOUT (FORMAT binary)",
            source.tags
        ),
        &mut tx,
        "COPY tags (user_id, movie_id, tag, tagged_at) FROM STDIN (FORMAT binary, FREEZE)",
        "tags",
        (store_target, source_target),
        None,
        progress,
    )?;
    // Nothing was written on the source; ending its transaction either way is the same.
    drop(reading);
    let description = format!(
        "PostgreSQL import of {} at {source_target}",
        source.describe()
    );
    load::finish_replace(tx, store_target, &description, progress)?;
    load::vacuum(store_client);
    Ok(LoadReport {
        movies,
        ratings,
        tags,
        links: 0,
        elapsed_ms: started.elapsed().as_millis() as u64,
    })
}

/// One table: the source's COPY OUT streamed into the store's COPY IN. Returns the rows stored.
/// Any error returns before `finish`, which aborts the store's COPY (and so its transaction).
#[allow(clippy::too_many_arguments)] // each is one of the two ends, or what to tell
fn pipe(
    reading: &mut Transaction<'_>,
    out_sql: &str,
    tx: &mut Transaction<'_>,
    in_sql: &str,
    stage: &'static str,
    (store_target, source_target): (&str, &str),
    mut tally: Option<&mut RatingTally>,
    progress: &mut dyn FnMut(Progress),
) -> Result<u64, LoadError> {
    let lost =
        |what: &str, target: &str, e: &std::io::Error| broke(stage, what, io_cause(e, target));
    let mut reader = reading
        .copy_out(out_sql)
        .map_err(|e| read_failed(stage, source_target, &e))?;
    let mut writer = tx.copy_in(in_sql).map_err(load::db_err(store_target))?;
    let mut buf = vec![0_u8; CHUNK_BYTES];
    let mut bytes = 0_u64;
    progress(Progress {
        stage,
        done: 0,
        total: None,
    });
    loop {
        let n = reader.read(&mut buf).map_err(|e| {
            lost(
                &format!("the source stream from {source_target}"),
                source_target,
                &e,
            )
        })?;
        if n == 0 {
            break;
        }
        if let Some(tally) = tally.as_deref_mut() {
            tally.feed(&buf[..n]).map_err(|e| {
                LoadError::Database(DbError::new(DbErrorKind::Query, e.to_string()))
            })?;
        }
        writer
            .write_all(&buf[..n])
            .map_err(|e| lost(&format!("the stream into {store_target}"), store_target, &e))?;
        bytes += n as u64;
        progress(Progress {
            stage,
            done: bytes,
            total: None,
        });
    }
    drop(reader);
    writer.finish().map_err(load::db_err(store_target))
}

/// The movies, decoded from the source's binary COPY and written to the store's with the rating
/// summary `tally` counted: one write per movie, frozen, so no UPDATE rewrites them and the
/// VACUUM after the load finds nothing to do. Returns the movies stored.
fn copy_movies(
    reading: &mut Transaction<'_>,
    source: &Source,
    tx: &mut Transaction<'_>,
    tally: &RatingTally,
    (store_target, source_target): (&str, &str),
    progress: &mut dyn FnMut(Progress),
) -> Result<u64, LoadError> {
    const STAGE: &str = "movies";
    let out_sql = format!(
        "COPY (SELECT id, coalesce(title, ''), year, coalesce(genres, '{{}}'), imdb_id, tmdb_id \
         FROM {} m WHERE id IS NOT NULL) TO STDOUT (FORMAT binary)",
        source.movies
    );
    let reader = reading
        .copy_out(out_sql.as_str())
        .map_err(|e| read_failed(STAGE, source_target, &e))?;
    let mut rows = BinaryCopyOutIter::new(reader, &load::MOVIE_COPY_TYPES);
    let sink = tx
        .copy_in(
            "COPY movies (id, title, year, genres, imdb_id, tmdb_id, rating_avg, rating_count) \
             FROM STDIN (FORMAT binary, FREEZE)",
        )
        .map_err(load::db_err(store_target))?;
    let mut writer = BinaryCopyInWriter::new(sink, &load::MOVIE_WITH_SUMMARY_COPY_TYPES);
    let source_broke = |e: postgres::Error| {
        broke(
            STAGE,
            &format!("the source stream from {source_target}"),
            DbError::from_postgres(&e, source_target).message,
        )
    };
    let mut count = 0_u64;
    while let Some(row) = rows.next().map_err(source_broke)? {
        let id: i32 = row.try_get(0).map_err(source_broke)?;
        let title: &str = row.try_get(1).map_err(source_broke)?;
        let year: Option<i16> = row.try_get(2).map_err(source_broke)?;
        let genres: Vec<&str> = row.try_get(3).map_err(source_broke)?;
        let imdb_id: Option<i32> = row.try_get(4).map_err(source_broke)?;
        let tmdb_id: Option<i32> = row.try_get(5).map_err(source_broke)?;
        let (rating_avg, rating_count) = tally.sums().summary(id);
        writer
            .write(&[
                &id,
                &title,
                &year,
                &genres,
                &imdb_id,
                &tmdb_id,
                &rating_avg,
                &rating_count,
            ])
            .map_err(load::db_err(store_target))?;
        count += 1;
        if count.is_multiple_of(load::PROGRESS_EVERY) {
            progress(Progress {
                stage: STAGE,
                done: count,
                total: None,
            });
        }
    }
    writer.finish().map_err(load::db_err(store_target))?;
    progress(Progress {
        stage: STAGE,
        done: count,
        total: None,
    });
    Ok(count)
}

/// A stream (`what`) that broke while copying `stage`, and why.
fn broke(stage: &str, what: &str, cause: String) -> LoadError {
    LoadError::Database(DbError::new(
        DbErrorKind::ConnectionLost,
        format!("{what} broke while copying {stage}: {cause}"),
    ))
}

/// The COPY streams report a server error as an io::Error wrapping the driver's error, whose own
/// text is only "db error": the server's message is what people need.
fn io_cause(e: &std::io::Error, target: &str) -> String {
    e.get_ref()
        .and_then(|inner| inner.downcast_ref::<postgres::Error>())
        .map_or_else(
            || e.to_string(),
            |pg| DbError::from_postgres(pg, target).message,
        )
}

/// The source refused to start streaming `stage`.
fn read_failed(stage: &str, source_target: &str, e: &postgres::Error) -> LoadError {
    let mut error = DbError::from_postgres(e, source_target);
    error.message = format!(
        "reading {stage} from {source_target} failed: {}",
        error.message
    );
    LoadError::Database(error)
}
