//! The facet query's groups, in one place: the one-pass facets under a filter
//! (`repo::movies::MoviesRepository::facets`) and the stored facets of the whole collection
//! (`marquee.facet_totals`, schema 6) are the same `GROUPING SETS` query.
//!
//! The stored totals are refilled after every load and after migration 6, inside the writing
//! transaction; a trigger empties them on any other write to `movies` (see the migration), and
//! an empty table means "not known".

use postgres::GenericClient;

/// Decade of `m.year` (1990 for 1990–1999).
const DECADE: &str = "(m.year / 10 * 10)::smallint";
/// Half-star bucket of `m.rating_avg` (3.5 for 3.5 ≤ avg < 4.0).
const BUCKET: &str = "(floor(m.rating_avg * 2) / 2)::real";

/// `GROUPING()` of a row counting one genre list.
pub const GENRE_LISTS: i32 = 0b011;
/// `GROUPING()` of a row counting one decade.
pub const DECADES: i32 = 0b101;

/// Movies per genre list, decade and rating bucket of `movies m` under `where_sql`, in one pass:
/// columns `genres text[]`, `decade smallint`, `bucket real`, `grouping int4`, `movies int8`.
/// `GROUPING()` sets a bit for each expression a row is *not* grouped by. `tablesample` is
/// empty, or the clause that reads a sample of the movies instead of all of them.
pub fn query(movies: &str, tablesample: &str, where_sql: &str) -> String {
    format!(
        "SELECT m.genres, {DECADE}, {BUCKET}, GROUPING(m.genres, {DECADE}, {BUCKET})::int4, \
         count(*) FROM {movies} m {tablesample} WHERE {where_sql} \
         GROUP BY GROUPING SETS ((m.genres), ({DECADE}), ({BUCKET}))"
    )
}

/// The stored totals, as [`query`] returns them (no rows when they are not known).
pub fn stored(schema: &str) -> String {
    format!("SELECT genres, decade, bucket, grouping, movies FROM {schema}.facet_totals")
}

/// Recomputes the stored totals of Marquee's collection in `schema`. Run inside the transaction
/// that wrote the movies, after its last write to them (the trigger empties the table on each).
pub fn refresh(client: &mut impl GenericClient, schema: &str) -> Result<(), postgres::Error> {
    client.batch_execute(&format!(
        "DELETE FROM {schema}.facet_totals; \
         INSERT INTO {schema}.facet_totals (genres, decade, bucket, grouping, movies) {}",
        query(&format!("{schema}.movies"), "", "TRUE")
    ))
}
