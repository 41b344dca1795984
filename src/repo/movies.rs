//! `MoviesRepository`: pages of movies for a filter and sort, counts in tiers that never block
//! browsing, facets, one movie's details, and the original's "load every movie".
//!
//! Paging is LIMIT/OFFSET over an index-ordered scan. Keyset paging ("after this key") is faster
//! deep into a result, but a virtualized table jumps: dragging the scrollbar to row 6,000,000
//! has no key to start from. Every sort has an index ending in `id` (see the migration), so
//! PostgreSQL walks the index and the cost grows with the offset but not with the table. Once a
//! user goes deep, the window reads the result's ordered ids once ([`MoviesRepository::result_ids`])
//! and a jump becomes a lookup by id ([`MoviesRepository::rows_at`]); the benchmark
//! (`marquee bench scroll`) measures both.

use std::collections::HashMap;
use std::io::Write;

use postgres::error::SqlState;
use postgres::types::{ToSql, Type};
use serde::Serialize;

use crate::db::error::DbError;
use crate::db::facet_totals;
use crate::db::pool::DatabasePool;
use crate::filter::Filter;
use crate::plural::thousands;
use crate::repo::Repo;
use crate::repo::facets::Facets;
use crate::repo::movie_sql::{self, SqlParts};
use crate::repo::sampling;

/// One row of the movie table.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct MovieRow {
    /// MovieLens id.
    pub id: i32,
    /// Title as written (with the year in parentheses, MovieLens style).
    pub title: String,
    /// Release year, when the title had one.
    pub year: Option<i16>,
    /// Genres (empty for "(no genres listed)").
    pub genres: Vec<String>,
    /// Average rating (0.5–5), `None` without ratings.
    pub rating_avg: Option<f32>,
    /// Number of ratings.
    pub rating_count: i32,
}

/// From this offset on, pages skip rows over ids only (see [`MoviesRepository::page`]).
const DEFERRED_JOIN_OFFSET: u64 = 10_000;

/// The columns of [`MovieRow`], in order, for every SELECT here.
const MOVIE_COLUMNS: &str = "m.id, m.title, m.year, m.genres, m.rating_avg, m.rating_count";

impl MovieRow {
    fn from_row(row: &postgres::Row) -> Self {
        Self {
            id: row.get(0),
            title: row.get(1),
            year: row.get(2),
            genres: row.get(3),
            rating_avg: row.get(4),
            rating_count: row.get(5),
        }
    }
}

/// A movie with everything the detail pane shows about the movie itself.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct MovieDetails {
    /// The table row.
    pub movie: MovieRow,
    /// IMDb id (number of `tt0114709`).
    pub imdb_id: Option<i32>,
    /// TMDB id.
    pub tmdb_id: Option<i32>,
}

impl MovieDetails {
    /// `https://www.imdb.com/title/tt0114709/`
    pub fn imdb_url(&self) -> Option<String> {
        self.imdb_id
            .map(|id| format!("https://www.imdb.com/title/tt{id:07}/"))
    }

    /// `https://www.themoviedb.org/movie/862`
    pub fn tmdb_url(&self) -> Option<String> {
        self.tmdb_id
            .map(|id| format!("https://www.themoviedb.org/movie/{id}"))
    }
}

/// How many movies match, as precisely as was affordable.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum RowCount {
    /// The planner's estimate (instant, may be off).
    Estimate(u64),
    /// At least this many (the capped count stopped there).
    AtLeast(u64),
    /// Exactly this many.
    Exact(u64),
}

impl RowCount {
    /// The number to size the table by.
    pub fn rows(self) -> u64 {
        match self {
            RowCount::Estimate(n) | RowCount::AtLeast(n) | RowCount::Exact(n) => n,
        }
    }

    /// `≈86,000`, `10,000+` or `86,537`.
    pub fn label(self) -> String {
        match self {
            RowCount::Estimate(n) => format!("≈{}", thousands(n)),
            RowCount::AtLeast(n) => format!("{}+", thousands(n)),
            RowCount::Exact(n) => thousands(n),
        }
    }
}

/// The movies table.
#[derive(Clone, Debug)]
pub struct MoviesRepository {
    repo: Repo,
}

fn typed(parts: &SqlParts) -> Vec<(&(dyn ToSql + Sync), Type)> {
    parts.typed_params()
}

impl MoviesRepository {
    /// Shares `pool`.
    pub fn new(pool: DatabasePool) -> Self {
        Self {
            repo: Repo::new(pool),
        }
    }

    /// What the pool's database holds: Marquee's tables, or a user's tables read in place.
    fn source(&self) -> &crate::db::source::Source {
        self.repo.pool().source()
    }

    /// The movies at `offset..offset + limit` of the filtered, sorted result.
    pub fn page(&self, filter: &Filter, offset: u64, limit: u32) -> Result<Vec<MovieRow>, DbError> {
        if self.source().layout.is_some() && !filter.reads_ratings() {
            return self.page_in_place(filter, offset, limit);
        }
        let movies = &self.source().movies;
        let parts = movie_sql::where_clause(filter, "m", self.source());
        let order = movie_sql::order_by(&filter.sort, "m");
        // A title condition also takes the deferred join: the title-order indexes carry the
        // folded title, so the inner query tests titles in an index-only scan and the table is
        // visited for the page's rows alone (a common word sorted by title at 1M: 309 -> 32 ms).
        let sql = if offset < DEFERRED_JOIN_OFFSET && filter.title.is_empty() {
            format!(
                "SELECT {MOVIE_COLUMNS} FROM {movies} m WHERE {} ORDER BY {order} LIMIT {limit} OFFSET {offset}",
                parts.where_sql
            )
        } else {
            // Deep in the result, skipping `offset` rows is the cost. Skip them over ids alone
            // (an index-only scan where the sort has an index) and fetch whole rows for the
            // page only: the "deferred join".
            format!(
                "SELECT {MOVIE_COLUMNS} FROM {movies} m JOIN (SELECT m.id FROM {movies} m WHERE {} \
                 ORDER BY {order} LIMIT {limit} OFFSET {offset}) page ON page.id = m.id ORDER BY {order}",
                parts.where_sql
            )
        };
        self.repo.read("movies.page", |conn| {
            Ok(conn
                .query_typed(&sql, &typed(&parts))?
                .iter()
                .map(MovieRow::from_row)
                .collect())
        })
    }

    /// A page of a source read in place whose filter and sort do not read the ratings, in two
    /// steps on one connection. The first finds the page's ids over the user's movies alone: the
    /// ratings are not referenced, so the planner drops their aggregate and no genre list is
    /// split. The second derives the rows of those ids only, aggregating their ratings in one
    /// filtering scan. The first page by title at 1M ratings drops from an aggregate of every
    /// movie's ratings (about 340 ms) to a top-N sort of the titles plus that scan.
    fn page_in_place(
        &self,
        filter: &Filter,
        offset: u64,
        limit: u32,
    ) -> Result<Vec<MovieRow>, DbError> {
        let source = self.source();
        let parts = movie_sql::where_clause(filter, "m", source);
        let order = movie_sql::order_by(&filter.sort, "m");
        let ids_sql = format!(
            "SELECT m.id FROM {} m WHERE {} ORDER BY {order} LIMIT {limit} OFFSET {offset}",
            source.movies, parts.where_sql
        );
        let rows_sql = format!(
            "SELECT {MOVIE_COLUMNS} FROM {} m WHERE m.id = ANY ($1) ORDER BY {order}",
            source.movies_among("$1")
        );
        self.repo.read("movies.page", |conn| {
            let ids: Vec<i32> = conn
                .query_typed(&ids_sql, &typed(&parts))?
                .iter()
                .map(|row| row.get(0))
                .collect();
            if ids.is_empty() {
                return Ok(Vec::new());
            }
            Ok(conn
                .query_typed(&rows_sql, &[(&ids, Type::INT4_ARRAY)])?
                .iter()
                .map(MovieRow::from_row)
                .collect())
        })
    }

    /// Every id of `filter`'s result, in its order: the **result index** a jump reads instead
    /// of walking an offset. Row `r` of the result is the movie `ids[r]`, exactly as
    /// `page(filter, r, 1)` gives it, ties, nulls and mixed directions included, because the
    /// ids come from the same `ORDER BY` (which always ends in the unique id).
    ///
    /// One ordered scan of ids, streamed (index-only where the sort has an index); 4 bytes a
    /// row in memory. Built in the background while the user looks at a result. From read
    /// replicas it is read in chunks ([`MoviesRepository::result_ids_in_chunks`]), like an
    /// export, so that no one statement outlasts a standby's replay delay.
    pub fn result_ids(&self, filter: &Filter) -> Result<Vec<i32>, DbError> {
        if self.repo.pool().has_replicas() && self.source().layout.is_none() {
            return self.result_ids_in_chunks(filter, RESULT_IDS_CHUNK);
        }
        let parts = movie_sql::where_clause(filter, "m", self.source());
        let sql = format!(
            "SELECT m.id FROM {} m WHERE {} ORDER BY {}",
            self.source().movies,
            parts.where_sql,
            movie_sql::order_by(&filter.sort, "m")
        );
        self.repo.read("movies.result_ids", |conn| {
            use postgres::fallible_iterator::FallibleIterator as _;
            let mut ids = Vec::new();
            let mut rows = conn.query_typed_raw(&sql, typed(&parts))?;
            while let Some(row) = rows.next()? {
                ids.push(row.get(0));
            }
            Ok(ids)
        })
    }

    /// [`MoviesRepository::result_ids`] as statements of at most `chunk` ids each, every one
    /// starting after the last id of the one before in the filter's order (the keyset of
    /// [`movie_sql::resume_after`]); each is one read, tried again on a recovery conflict. The same
    /// ids in the same order; each chunk reads its own snapshot.
    pub fn result_ids_in_chunks(&self, filter: &Filter, chunk: u64) -> Result<Vec<i32>, DbError> {
        let chunk = chunk.max(1);
        let movies = &self.source().movies;
        let parts = movie_sql::where_clause(filter, "m", self.source());
        let order = movie_sql::order_by(&filter.sort, "m");
        let first_sql = format!(
            "SELECT m.id FROM {movies} m WHERE {} ORDER BY {order} LIMIT {chunk}",
            parts.where_sql
        );
        let resume = movie_sql::resume_after(
            movies,
            &filter.sort,
            &format!("${}", parts.params.len() + 1),
        );
        let next_sql = format!(
            "SELECT m.id FROM {movies} m{} WHERE {} AND ({}) ORDER BY {order} LIMIT {chunk}",
            resume.from, parts.where_sql, resume.condition
        );
        let mut ids: Vec<i32> = Vec::new();
        loop {
            let last = ids.last().copied();
            let batch: Vec<i32> = self.repo.read("movies.result_ids", |conn| {
                let mut params = typed(&parts);
                let rows = match &last {
                    None => conn.query_typed(&first_sql, &params)?,
                    Some(id) => {
                        params.push((id as &(dyn ToSql + Sync), Type::INT4));
                        conn.query_typed(&next_sql, &params)?
                    }
                };
                Ok(rows.iter().map(|row| row.get(0)).collect())
            })?;
            let done = (batch.len() as u64) < chunk;
            ids.extend(batch);
            if done {
                return Ok(ids);
            }
        }
    }

    /// The rows of `ids`, in that order (a page read through the result index): one lookup
    /// by primary key, whatever the page's depth.
    pub fn rows_at(&self, ids: &[i32]) -> Result<Vec<MovieRow>, DbError> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let sql = format!(
            "SELECT {MOVIE_COLUMNS} FROM {} m WHERE m.id = ANY ($1)",
            self.source().movies_among("$1")
        );
        let wanted = ids.to_vec();
        self.repo.read("movies.rows_at", |conn| {
            let mut by_id: HashMap<i32, MovieRow> = conn
                .query_typed(&sql, &[(&wanted, Type::INT4_ARRAY)])?
                .iter()
                .map(|row| {
                    let movie = MovieRow::from_row(row);
                    (movie.id, movie)
                })
                .collect();
            // A movie deleted since the index was read is left out, not an error.
            Ok(wanted.iter().filter_map(|id| by_id.remove(id)).collect())
        })
    }

    /// The planner's estimate of the number of matches: one planning round trip, no scan.
    pub fn estimate_count(&self, filter: &Filter) -> Result<RowCount, DbError> {
        let movies = &self.source().movies;
        let parts = movie_sql::where_clause(filter, "m", self.source());
        self.repo.read("movies.estimate", |conn| {
            Ok(RowCount::Estimate(sampling::planned_matches(
                conn, movies, &parts,
            )?))
        })
    }

    /// Counts matches but stops at `cap`, so a broad filter on 10M rows stays cheap.
    pub fn capped_count(&self, filter: &Filter, cap: u64) -> Result<RowCount, DbError> {
        let movies = &self.source().movies;
        let parts = movie_sql::where_clause(filter, "m", self.source());
        let sql = format!(
            "SELECT count(*) FROM (SELECT 1 FROM {movies} m WHERE {} LIMIT {cap}) capped",
            parts.where_sql
        );
        self.repo.read("movies.count_capped", |conn| {
            let n: i64 = conn.query_typed_one(&sql, &typed(&parts))?.get(0);
            let n = n.max(0) as u64;
            Ok(if n >= cap {
                RowCount::AtLeast(cap)
            } else {
                RowCount::Exact(n)
            })
        })
    }

    /// The exact number of matches (a full scan for broad filters: ask for it explicitly).
    pub fn exact_count(&self, filter: &Filter) -> Result<RowCount, DbError> {
        let movies = &self.source().movies;
        let parts = movie_sql::where_clause(filter, "m", self.source());
        let sql = format!("SELECT count(*) FROM {movies} m WHERE {}", parts.where_sql);
        self.repo.read("movies.count_exact", |conn| {
            let n: i64 = conn.query_typed_one(&sql, &typed(&parts))?.get(0);
            Ok(RowCount::Exact(n.max(0) as u64))
        })
    }

    /// Movies per genre, decade and rating bucket under `filter`, in one pass over the matches.
    ///
    /// One `GROUP BY GROUPING SETS` pays the filter once where three queries paid it three times
    /// (at 1M movies: 1.27 s -> 0.53 s under a two-letter title, 1.9 s -> 1.2 s with no filter).
    /// Genres are grouped by whole genre list, a few hundred distinct lists, and each list's count
    /// is added to its genres here, which is what `unnest` did row by row on the server. With no
    /// condition, Marquee's own collection answers from its stored totals (schema 6) when they
    /// are known, without reading a movie.
    pub fn facets(&self, filter: &Filter) -> Result<Facets, DbError> {
        let source = self.source();
        let parts = movie_sql::where_clause(filter, "m", source);
        let scan = facet_totals::query(&source.movies, "", &parts.where_sql);
        let stored = (source.is_marquee() && !filter.has_conditions())
            .then(|| facet_totals::stored(crate::db::schema::SCHEMA));
        self.repo.read("movies.facets", |conn| {
            let mut rows = match &stored {
                Some(sql) => match conn.query_typed(sql, &[]) {
                    Ok(rows) => rows,
                    // A role may be granted the movies but not the totals: then it scans.
                    Err(e) if e.code() == Some(&SqlState::INSUFFICIENT_PRIVILEGE) => Vec::new(),
                    Err(e) => return Err(e),
                },
                None => Vec::new(),
            };
            if rows.is_empty() {
                rows = conn.query_typed(&scan, &typed(&parts))?;
            }
            Ok(Facets::from_groups(&rows))
        })
    }

    /// The facets of a fixed sample of Marquee's collection, scaled to it and marked
    /// approximate: the first answer while [`MoviesRepository::facets`] reads every match.
    ///
    /// `None` when a sample would not be faster: where `rule` says the exact answer is as fast
    /// ([`sampling::draw`]), the whole collection (its stored totals answer at once), or data
    /// read in place, whose movies are a query over the user's tables and cannot be sampled by
    /// page.
    pub fn sampled_facets(
        &self,
        filter: &Filter,
        rule: sampling::SampleRule,
    ) -> Result<Option<Facets>, DbError> {
        let source = self.source();
        if !source.is_marquee() || !filter.has_conditions() {
            return Ok(None);
        }
        let movies = &source.movies;
        let parts = movie_sql::where_clause(filter, "m", source);
        self.repo.read("movies.facets_sampled", |conn| {
            let Some((sample, tablesample)) = sampling::draw(conn, movies, &parts, rule)? else {
                return Ok(None);
            };
            let sql = facet_totals::query(movies, &tablesample, &parts.where_sql);
            let rows = conn.query_typed(&sql, &typed(&parts))?;
            Ok(Some(Facets::from_sample(&rows, sample)))
        })
    }

    /// One movie, or `None` if the id does not exist.
    pub fn details(&self, id: i32) -> Result<Option<MovieDetails>, DbError> {
        let movies = &self.source().movies;
        let sql =
            format!("SELECT {MOVIE_COLUMNS}, m.imdb_id, m.tmdb_id FROM {movies} m WHERE m.id = $1");
        self.repo.read("movies.details", |conn| {
            Ok(conn
                .query_typed_opt(&sql, &[(&id, Type::INT4)])?
                .map(|row| MovieDetails {
                    movie: MovieRow::from_row(&row),
                    imdb_id: row.get(6),
                    tmdb_id: row.get(7),
                }))
        })
    }

    /// Every movie, in id order: the original design's startup load, kept for the benchmark.
    pub fn load_all(&self) -> Result<Vec<MovieRow>, DbError> {
        let movies = &self.source().movies;
        let sql = format!("SELECT {MOVIE_COLUMNS} FROM {movies} m ORDER BY m.id");
        self.repo.read("movies.load_all", |conn| {
            use postgres::fallible_iterator::FallibleIterator as _;
            let mut movies = Vec::new();
            let mut rows =
                conn.query_typed_raw(&sql, std::iter::empty::<(&(dyn ToSql + Sync), Type)>())?;
            while let Some(row) = rows.next()? {
                movies.push(MovieRow::from_row(&row));
            }
            Ok(movies)
        })
    }

    /// Streams every movie matching `filter` (in its sort order) as CSV into `out` with the
    /// server's own `COPY … TO STDOUT (FORMAT csv)`, calling `progress` with the row count as it
    /// goes. Memory stays constant: the COPY stream is copied through in chunks.
    ///
    /// COPY cannot take bind parameters, and Marquee never splices user text into SQL itself.
    /// So the server builds the COPY statement: `format()` with `%L` quotes each parameter as a
    /// literal (the same quoting `quote_literal` does), and the result is run as the COPY.
    ///
    /// A pool with read replicas reads an export of Marquee's own tables in chunks instead
    /// ([`MoviesRepository::export_csv_in_chunks`]): one long COPY on a standby is what a
    /// recovery conflict cancels.
    pub fn export_csv(
        &self,
        filter: &Filter,
        out: &mut dyn Write,
        progress: &mut dyn FnMut(u64),
    ) -> Result<u64, ExportError> {
        // In place, the rating summary is computed anew by each statement, and a chunk's
        // boundary compares it for equality; Marquee's stored summary compares exactly.
        if self.repo.pool().has_replicas() && self.source().layout.is_none() {
            return self.export_csv_in_chunks(filter, out, progress, EXPORT_CHUNK_ROWS);
        }
        let target = self.repo.pool().target().to_owned();
        let db_err =
            |e: postgres::Error| ExportError::Database(DbError::from_postgres(&e, &target));
        let mut conn = self.repo.pool().get("movies.export")?;
        let copy_sql = self
            .export_copy_sql(&mut conn, filter, ExportChunk::Whole)
            .map_err(db_err)?;
        // rust-postgres prepares COPY as a named statement and closes it when done. Inside one
        // transaction, PgBouncer (transaction mode) keeps the same server session for the
        // prepare, the COPY and the close; outside, the close would reach another session.
        let mut tx = conn.transaction().map_err(db_err)?;
        // The statement timeout guards the queries the window waits on. An export was asked
        // for, reports its progress and can be cancelled (the dialog's Cancel, Ctrl+C), and a
        // whole large collection takes longer than the timeout to stream.
        tx.batch_execute("SET LOCAL statement_timeout = 0")
            .map_err(db_err)?;
        let mut reader = tx.copy_out(copy_sql.as_str()).map_err(db_err)?;
        let mut rows = CsvRowCounter::default();
        let mut buf = vec![0_u8; 64 * 1024];
        let mut reported = 0;
        loop {
            let n = std::io::Read::read(&mut reader, &mut buf).map_err(|e| {
                ExportError::Database(DbError::new(
                    crate::db::error::DbErrorKind::ConnectionLost,
                    format!("the export stream from {target} broke: {e}"),
                ))
            })?;
            if n == 0 {
                break;
            }
            out.write_all(&buf[..n])
                .map_err(|e| ExportError::Write(e.to_string()))?;
            rows.feed(&buf[..n]);
            if rows.records() >= reported + 10_000 {
                reported = rows.records();
                progress(reported.saturating_sub(1));
            }
        }
        drop(reader);
        tx.commit().map_err(db_err)?;
        out.flush().map_err(|e| ExportError::Write(e.to_string()))?;
        let count = rows.records().saturating_sub(1); // the header
        progress(count);
        self.repo.pool().record_query(Ok(()));
        Ok(count)
    }

    /// [`MoviesRepository::export_csv`] as a series of COPY statements of at most `chunk_rows`
    /// rows each, every one starting after the last row of the one before in the filter's
    /// order (keyset: that row's sort values, read by its id). Each is short, so it finishes
    /// within a standby's `max_standby_streaming_delay`; one cancelled by a recovery conflict
    /// is run again (it is held in memory until complete, so nothing is written twice). The
    /// output is byte for byte that of the single COPY. Each chunk reads its own snapshot: a
    /// change replayed between two chunks shows in the later ones.
    pub fn export_csv_in_chunks(
        &self,
        filter: &Filter,
        out: &mut dyn Write,
        progress: &mut dyn FnMut(u64),
        chunk_rows: u64,
    ) -> Result<u64, ExportError> {
        let chunk_rows = chunk_rows.max(1);
        let mut total = 0;
        let mut after = None;
        loop {
            let chunk = match after {
                None => ExportChunk::First { rows: chunk_rows },
                Some(id) => ExportChunk::After {
                    id,
                    rows: chunk_rows,
                },
            };
            let read = self.repo.read("movies.export", |conn| {
                let copy_sql = self.export_copy_sql(conn, filter, chunk)?;
                let mut reader = conn.copy_out(copy_sql.as_str())?;
                let mut bytes = Vec::new();
                match std::io::Read::read_to_end(&mut reader, &mut bytes) {
                    Ok(_) => Ok(Ok(bytes)),
                    // The driver's own error (a conflict, a lost connection) goes back to the
                    // read, which may try the chunk again; anything else ends the export.
                    Err(e) => {
                        let text = e.to_string();
                        match e
                            .into_inner()
                            .map(|inner| inner.downcast::<postgres::Error>())
                        {
                            Some(Ok(err)) => Err(*err),
                            _ => Ok(Err(text)),
                        }
                    }
                }
            })?;
            let bytes = read.map_err(|e| {
                ExportError::Database(DbError::new(
                    crate::db::error::DbErrorKind::ConnectionLost,
                    format!(
                        "the export stream from {} broke: {e}",
                        self.repo.pool().target()
                    ),
                ))
            })?;
            let records = CsvRecords::of(&bytes);
            out.write_all(&bytes)
                .map_err(|e| ExportError::Write(e.to_string()))?;
            let rows = records.count - u64::from(after.is_none()); // the header
            total += rows;
            progress(total);
            if rows < chunk_rows {
                break;
            }
            after = records.last_id;
        }
        out.flush().map_err(|e| ExportError::Write(e.to_string()))?;
        Ok(total)
    }

    /// The COPY statement of an export (or one chunk of it), built by the server: COPY cannot
    /// take bind parameters, so `format()` quotes each as a literal.
    fn export_copy_sql(
        &self,
        conn: &mut postgres::Client,
        filter: &Filter,
        chunk: ExportChunk,
    ) -> Result<String, postgres::Error> {
        let movies = &self.source().movies;
        let parts = movie_sql::where_clause(filter, "m", self.source());
        let order = movie_sql::order_by(&filter.sort, "m");
        let (from, after, limit, header) = match chunk {
            ExportChunk::Whole => (String::new(), String::new(), String::new(), ", HEADER"),
            ExportChunk::First { rows } => (
                String::new(),
                String::new(),
                format!(" LIMIT {rows}"),
                ", HEADER",
            ),
            // The id is one this export read back from the server; the row it names gives the
            // sort values to start after.
            ExportChunk::After { id, rows } => {
                let resume = movie_sql::resume_after(movies, &filter.sort, &id.to_string());
                (
                    resume.from,
                    format!(" AND ({})", resume.condition),
                    format!(" LIMIT {rows}"),
                    "",
                )
            }
        };
        let copy_template = format!(
            "COPY (SELECT m.id, m.title, m.year, array_to_string(m.genres, '|') AS genres, \
             round(m.rating_avg::numeric, 3) AS rating_avg, m.rating_count \
             FROM {movies} m{from} WHERE {}{after} ORDER BY {order}{limit}) \
             TO STDOUT (FORMAT csv{header})",
            parts.where_sql,
        );
        let format_string = placeholders_to_format(&copy_template, parts.params.len());
        let format_sql = format!(
            "SELECT format($1{})",
            (2..=parts.params.len() + 1)
                .map(|n| format!(", ${n}"))
                .collect::<String>()
        );
        let mut typed = vec![(&format_string as &(dyn ToSql + Sync), Type::TEXT)];
        typed.extend(parts.typed_params());
        Ok(conn.query_typed_one(&format_sql, &typed)?.get(0))
    }
}

/// Ids per statement when the result index is read from read replicas.
pub const RESULT_IDS_CHUNK: u64 = 200_000;

/// Rows per COPY when an export reads from read replicas: a few MB, a fraction of a second.
pub const EXPORT_CHUNK_ROWS: u64 = 50_000;

/// Which part of an export one COPY reads.
#[derive(Clone, Copy, Debug)]
enum ExportChunk {
    /// All of it, with the header.
    Whole,
    /// The header and the first `rows` rows.
    First { rows: u64 },
    /// `rows` rows after the movie `id`, in the filter's order.
    After { id: i64, rows: u64 },
}

/// What one chunk of CSV holds: its records, and the id (first field) of the last one.
#[derive(Debug, PartialEq, Eq)]
struct CsvRecords {
    count: u64,
    last_id: Option<i64>,
}

impl CsvRecords {
    fn of(bytes: &[u8]) -> Self {
        let mut in_quotes = false;
        let mut count = 0;
        let mut start = 0;
        let mut last_start = None;
        for (i, &b) in bytes.iter().enumerate() {
            match b {
                b'"' => in_quotes = !in_quotes,
                b'\n' if !in_quotes => {
                    count += 1;
                    last_start = Some(start);
                    start = i + 1;
                }
                _ => {}
            }
        }
        let last_id = last_start.and_then(|s| {
            let field = bytes[s..].split(|&b| b == b',').next()?;
            std::str::from_utf8(field).ok()?.trim().parse().ok()
        });
        Self { count, last_id }
    }
}

/// Turns `$1…$n` into `format()`'s `%1$L…%n$L` (literal-quoted arguments) and doubles every
/// other `%`, highest number first so `$1` never eats the start of `$10`.
fn placeholders_to_format(sql: &str, params: usize) -> String {
    let mut text = sql.replace('%', "%%");
    for n in (1..=params).rev() {
        text = text.replace(&format!("${n}"), &format!("%{n}$L"));
    }
    text
}

/// Counts CSV records in a byte stream: newlines outside quoted fields.
#[derive(Default)]
struct CsvRowCounter {
    in_quotes: bool,
    records: u64,
}

impl CsvRowCounter {
    fn feed(&mut self, bytes: &[u8]) {
        for &b in bytes {
            match b {
                b'"' => self.in_quotes = !self.in_quotes,
                b'\n' if !self.in_quotes => self.records += 1,
                _ => {}
            }
        }
    }

    fn records(&self) -> u64 {
        self.records
    }
}

/// Why an export stopped.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    /// The database failed.
    #[error("{0}")]
    Database(#[from] DbError),
    /// Writing the file failed (disk full, permissions).
    #[error("writing the export failed: {0}")]
    Write(String),
}

impl From<csv::Error> for ExportError {
    fn from(err: csv::Error) -> Self {
        ExportError::Write(err.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_become_literal_format_arguments() {
        let sql = "SELECT 1 WHERE a LIKE $1 ESCAPE '\\' AND b = $10 AND c = '50%'";
        assert_eq!(
            placeholders_to_format(sql, 10),
            "SELECT 1 WHERE a LIKE %1$L ESCAPE '\\' AND b = %10$L AND c = '50%%'"
        );
    }

    #[test]
    fn csv_records_are_counted_outside_quotes() {
        let mut counter = CsvRowCounter::default();
        counter.feed(b"id,title\n1,\"A, \"\"quoted\"\"\nline\"\n2,");
        counter.feed(b"B\n");
        assert_eq!(counter.records(), 3);
    }

    #[test]
    fn counts_read_like_people_write_them() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(86_537), "86,537");
        assert_eq!(thousands(10_000_000), "10,000,000");
        assert_eq!(RowCount::AtLeast(10_000).label(), "10,000+");
        assert_eq!(RowCount::Estimate(1_200).label(), "≈1,200");
    }
}
