//! Fast first answers from a sample of a large collection: the facets beside the filter and
//! the summary are first estimated from a fixed block sample of about [`SAMPLE_ROWS`] movies,
//! scaled to the collection and marked `≈`, and then replaced by the exact figures.
//!
//! The sample is `TABLESAMPLE SYSTEM (p) REPEATABLE (0)`: whole pages, the same pages for every
//! filter and every question, so after the first one they are in the server's cache. Only
//! Marquee's own table can be sampled by page; data read in place is a query over the user's
//! tables and is always counted exactly.

use postgres::types::Type;

use crate::estimate::Sample;
use crate::repo::movie_sql::SqlParts;

/// About this many movies are read for a first answer. For a group holding a share `p` of
/// them, the relative error of its count is about `√((1-p) / (p · 20,000))`: 7 % at 1 %.
pub const SAMPLE_ROWS: u64 = 20_000;

/// When a sample is worth reading before the exact answer.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SampleRule {
    /// The planner must expect at least this many matches: below it the exact pass visits
    /// about as few pages as the sample does.
    pub from_matches: u64,
    /// The sample may be at most this share of the collection, in percent: on a small
    /// collection the exact pass costs little more than the sample.
    pub max_percent: f64,
}

impl SampleRule {
    /// The window's first answers: where the planner expects as many matches as the sample
    /// reads, in a collection of 200,000 movies or more. At 86,537 movies every filter's exact
    /// facets are as fast as a sample's; at 10,000,000 a title word matching 50,000 movies
    /// costs seconds to count exactly and tens of milliseconds to sample (`marquee bench
    /// filter`).
    pub const WINDOW: SampleRule = SampleRule {
        from_matches: SAMPLE_ROWS,
        max_percent: 10.0,
    };

    /// Asked for (`marquee summarize --sample`): whenever the sample is under half of the
    /// collection.
    pub const ASKED: SampleRule = SampleRule {
        from_matches: 1,
        max_percent: 50.0,
    };
}

/// Draws the sample of `movies m` for a question under `parts`: what it holds (its size, its
/// matches, the collection it scales to) and the `TABLESAMPLE` clause that reads it again, or
/// `None` where `rule` says the exact answer is as fast.
pub fn draw(
    conn: &mut postgres::Client,
    movies: &str,
    parts: &SqlParts,
    rule: SampleRule,
) -> Result<Option<(Sample, String)>, postgres::Error> {
    let Some((collection, percent)) = plan(conn, movies, parts, rule)? else {
        return Ok(None);
    };
    let tablesample = tablesample(percent);
    let sql = format!(
        "SELECT count(*), count(*) FILTER (WHERE coalesce(({}), false)) FROM {movies} m \
         {tablesample}",
        parts.where_sql
    );
    let row = conn.query_typed_one(&sql, &parts.typed_params())?;
    let sample = Sample {
        movies: row.get::<_, i64>(0).max(0) as u64,
        matches: row.get::<_, i64>(1).max(0) as u64,
        collection,
        most_rated: 0,
    };
    Ok(Some((sample, tablesample)))
}

/// About this many of the most-rated movies are counted exactly beside a summary's sample.
pub const MOST_RATED: u64 = 256;

/// A summary's sample split in two strata by rating count. Ratings are spread very unevenly (at
/// 86,537 movies, 49 hold 500 or more and the most-rated 2,538), so whether one of those falls
/// in the sample moved a genre's scaled rating count by up to 54 %. The most-rated movies are
/// few and found through the `rating_count` index: they are counted exactly, and only the
/// others are scaled from the sample (the worst genre then comes to 13–19 % over four samples).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Strata {
    /// Movies with at least this many ratings are counted exactly.
    pub threshold: i32,
    /// How many movies of the collection that is.
    pub most_rated: u64,
    /// What each sampled movie under the threshold stands for: the collection's other movies
    /// over the sample's.
    pub weight: f64,
}

/// The strata of `sample` (read again by `tablesample`) over `movies m`, or `None` where the
/// collection has no few most-rated movies to set apart (fewer movies than [`MOST_RATED`], or
/// so many ties at the threshold that counting them exactly would not be cheap).
pub fn stratify(
    conn: &mut postgres::Client,
    movies: &str,
    sample: &Sample,
    tablesample: &str,
) -> Result<Option<Strata>, postgres::Error> {
    let row = conn.query_typed(
        &format!(
            "SELECT t.c, (SELECT count(*) FROM {movies} m WHERE m.rating_count >= t.c) \
             FROM (SELECT rating_count AS c FROM {movies} ORDER BY rating_count DESC \
                   LIMIT 1 OFFSET {}) t",
            MOST_RATED - 1
        ),
        &[],
    )?;
    let Some(row) = row.first() else {
        return Ok(None);
    };
    let (threshold, most_rated): (i32, i64) = (row.get(0), row.get(1));
    let most_rated = most_rated.max(0) as u64;
    if threshold < 2 || most_rated > 4 * MOST_RATED || most_rated >= sample.collection {
        return Ok(None);
    }
    let others: i64 = conn
        .query_typed_one(
            &format!(
                "SELECT count(*) FROM {movies} m {tablesample} WHERE m.rating_count < {threshold}"
            ),
            &[],
        )?
        .get(0);
    if others <= 0 {
        return Ok(None);
    }
    Ok(Some(Strata {
        threshold,
        most_rated,
        weight: (sample.collection - most_rated) as f64 / others as f64,
    }))
}

/// How to sample `movies m` under `parts`: the collection's size and the share of its pages to
/// read, or `None` where `rule` says the exact answer is as fast.
fn plan(
    conn: &mut postgres::Client,
    movies: &str,
    parts: &SqlParts,
    rule: SampleRule,
) -> Result<Option<(u64, f64)>, postgres::Error> {
    let reltuples: f32 = conn
        .query_typed_one(
            "SELECT reltuples FROM pg_class WHERE oid = $1::text::regclass",
            &[(&movies, Type::TEXT)],
        )?
        .get(0);
    // reltuples is -1 for a table never analyzed: then there is nothing to scale by.
    let collection = reltuples.max(0.0) as u64;
    let percent = 100.0 * SAMPLE_ROWS as f64 / collection.max(1) as f64;
    if percent > rule.max_percent
        || planned_matches(conn, movies, parts)? < rule.from_matches.max(1)
    {
        return Ok(None);
    }
    Ok(Some((collection, percent)))
}

/// The planner's estimate of how many movies of `movies m` match `parts`: one planning round
/// trip, no scan.
pub fn planned_matches(
    conn: &mut postgres::Client,
    movies: &str,
    parts: &SqlParts,
) -> Result<u64, postgres::Error> {
    let sql = format!("EXPLAIN SELECT 1 FROM {movies} m WHERE {}", parts.where_sql);
    let rows = conn.query_typed(&sql, &parts.typed_params())?;
    let plan: String = rows.first().map(|r| r.get(0)).unwrap_or_default();
    Ok(parse_plan_rows(&plan).unwrap_or(0))
}

/// The `rows=` figure of the top plan node in text EXPLAIN output.
fn parse_plan_rows(plan: &str) -> Option<u64> {
    let start = plan.find("rows=")? + "rows=".len();
    let digits: String = plan[start..]
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    digits.parse().ok()
}

/// The clause that samples a table, after its alias (`FROM movies m TABLESAMPLE …`).
fn tablesample(percent: f64) -> String {
    format!("TABLESAMPLE SYSTEM ({percent}) REPEATABLE (0)")
}

#[cfg(test)]
mod tests {
    use super::{parse_plan_rows, tablesample};

    #[test]
    fn plan_rows_are_read_from_the_top_node() {
        let plan = "Seq Scan on movies m  (cost=0.00..2164.37 rows=86537 width=4)";
        assert_eq!(parse_plan_rows(plan), Some(86_537));
        assert_eq!(parse_plan_rows("Result"), None);
    }

    #[test]
    fn the_sample_clause_reads_the_same_pages_every_time() {
        assert_eq!(tablesample(0.2), "TABLESAMPLE SYSTEM (0.2) REPEATABLE (0)");
    }
}
