//! `marquee import postgres SOURCE_URL`: copies whatever another database holds (Marquee's
//! schema, MovieLens tables, mapped tables — see `crate::source`) into Marquee's own indexed
//! store, for speed on big foreign data.
//!
//! The rows stream straight from the source's `COPY (SELECT …) TO STDOUT (FORMAT binary)` into
//! the store's `COPY … FROM STDIN (FORMAT binary)`: the source relations already have the store's
//! column types, so no row is decoded on the way. The source is only read, in one read-only
//! repeatable-read transaction (one consistent snapshot for all three tables). The store is
//! written in one transaction too, as every load is ([`super::load`]): if the source dies
//! mid-copy, the previous collection is still there.

use std::io::{Read as _, Write as _};
use std::time::Instant;

use postgres::Transaction;

use crate::db::error::{DbError, DbErrorKind};
use crate::db::source::Source;
use crate::import::load::{self, LoadError, LoadReport};
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
    let tables = [
        (
            "movies",
            format!(
                "COPY (SELECT id, coalesce(title, ''), year, coalesce(genres, '{{}}'), imdb_id, tmdb_id, \
                 rating_avg, rating_count FROM {} m WHERE id IS NOT NULL) TO STDOUT (FORMAT binary)",
                source.movies
            ),
            // FREEZE: the table was truncated in this transaction, so its rows can be written
            // frozen and all-visible, and with the rating summary already in them no row is
            // rewritten afterwards: the VACUUM below finds nothing to do.
            "COPY movies (id, title, year, genres, imdb_id, tmdb_id, rating_avg, rating_count) \
             FROM STDIN (FORMAT binary, FREEZE)",
        ),
        (
            "ratings",
            format!(
                "COPY (SELECT coalesce(user_id, 0), movie_id, rating, coalesce(rated_at, to_timestamp(0)) \
                 FROM {} r WHERE movie_id IS NOT NULL AND rating IS NOT NULL) TO STDOUT (FORMAT binary)",
                source.ratings
            ),
            "COPY ratings (user_id, movie_id, rating, rated_at) FROM STDIN (FORMAT binary, FREEZE)",
        ),
        (
            "tags",
            format!(
                "COPY (SELECT coalesce(user_id, 0), movie_id, tag, coalesce(tagged_at, to_timestamp(0)) \
                 FROM {} t WHERE movie_id IS NOT NULL AND tag IS NOT NULL) TO STDOUT (FORMAT binary)",
                source.tags
            ),
            "COPY tags (user_id, movie_id, tag, tagged_at) FROM STDIN (FORMAT binary, FREEZE)",
        ),
    ];
    let mut counts = [0_u64; 3];
    for (i, (stage, out_sql, in_sql)) in tables.iter().enumerate() {
        counts[i] = pipe(
            &mut reading,
            out_sql,
            &mut tx,
            in_sql,
            stage,
            (store_target, source_target),
            progress,
        )?;
    }
    // Nothing was written on the source; ending its transaction either way is the same.
    drop(reading);
    let description = format!(
        "PostgreSQL import of {} at {source_target}",
        source.describe()
    );
    load::finish_replace(
        tx,
        store_target,
        &description,
        load::RatingSummary::Copied,
        progress,
    )?;
    load::vacuum(store_client);
    Ok(LoadReport {
        movies: counts[0],
        ratings: counts[1],
        tags: counts[2],
        links: 0,
        elapsed_ms: started.elapsed().as_millis() as u64,
    })
}

/// One table: the source's COPY OUT streamed into the store's COPY IN. Returns the rows stored.
/// Any error returns before `finish`, which aborts the store's COPY (and so its transaction).
fn pipe(
    reading: &mut Transaction<'_>,
    out_sql: &str,
    tx: &mut Transaction<'_>,
    in_sql: &str,
    stage: &'static str,
    (store_target, source_target): (&str, &str),
    progress: &mut dyn FnMut(Progress),
) -> Result<u64, LoadError> {
    // The COPY streams report a server error as an io::Error wrapping the driver's error,
    // whose own text is only "db error": the server's message is what people need.
    let lost = |what: &str, target: &str, e: &std::io::Error| {
        let cause = e
            .get_ref()
            .and_then(|inner| inner.downcast_ref::<postgres::Error>())
            .map_or_else(
                || e.to_string(),
                |pg| DbError::from_postgres(pg, target).message,
            );
        LoadError::Database(DbError::new(
            DbErrorKind::ConnectionLost,
            format!("{what} broke while copying {stage}: {cause}"),
        ))
    };
    let mut reader = reading.copy_out(out_sql).map_err(|e| {
        let mut error = DbError::from_postgres(&e, source_target);
        error.message = format!(
            "reading {stage} from {source_target} failed: {}",
            error.message
        );
        LoadError::Database(error)
    })?;
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
