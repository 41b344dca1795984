//! `ColumnStatsRepository`: what a column of the movie table holds under the current filter —
//! distinct values, smallest and largest, empty values, and a small histogram — for the
//! header's menu. One statement per column, over the same WHERE clause the table uses.
//!
//! Every column is described by a numeric "measure" for its histogram and its min/max: the
//! value itself for id, year, average and votes, the length for titles and the number of
//! genres for genres (whose distinct count is of the genre names).

use postgres::types::{ToSql, Type};
use serde::Serialize;

use crate::db::error::DbError;
use crate::db::pool::DatabasePool;
use crate::filter::Filter;
use crate::repo::Repo;
use crate::repo::movie_sql;

/// Bars in a column's histogram.
pub const HISTOGRAM_BARS: i32 = 10;

/// The movie table's columns, as far as statistics go.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
pub enum StatColumn {
    /// MovieLens id.
    Id,
    /// Title (statistics of its length; min and max are alphabetical).
    Title,
    /// Release year.
    Year,
    /// Genres (distinct genre names; min, max and histogram of genres per movie).
    Genres,
    /// Average rating.
    Rating,
    /// Number of ratings.
    Votes,
}

impl StatColumn {
    /// What the histogram and min/max are of, for people.
    pub const fn measure_label(self) -> &'static str {
        match self {
            StatColumn::Id => "id",
            StatColumn::Title => "title length",
            StatColumn::Year => "year",
            StatColumn::Genres => "genres per movie",
            StatColumn::Rating => "average rating",
            StatColumn::Votes => "ratings",
        }
    }

    /// How the smallest and largest read in the header menu.
    pub const fn extremes(self) -> (&'static str, &'static str) {
        match self {
            StatColumn::Id => ("lowest id", "highest id"),
            StatColumn::Title => ("first title", "last title"),
            StatColumn::Year => ("earliest", "latest"),
            StatColumn::Genres => ("fewest genres", "most genres"),
            StatColumn::Rating => ("lowest average", "highest average"),
            StatColumn::Votes => ("fewest ratings", "most ratings"),
        }
    }

    /// (value counted as distinct, value counted as empty, the numeric measure).
    fn sql(self) -> (&'static str, &'static str, &'static str) {
        match self {
            StatColumn::Id => ("m.id", "FALSE", "m.id::float8"),
            StatColumn::Title => ("m.title", "m.title = ''", "length(m.title)::float8"),
            StatColumn::Year => ("m.year", "m.year IS NULL", "m.year::float8"),
            StatColumn::Genres => (
                "NULL",
                "cardinality(m.genres) = 0",
                "cardinality(m.genres)::float8",
            ),
            StatColumn::Rating => (
                "m.rating_avg",
                "m.rating_avg IS NULL",
                "m.rating_avg::float8",
            ),
            StatColumn::Votes => (
                "m.rating_count",
                "m.rating_count = 0",
                "m.rating_count::float8",
            ),
        }
    }
}

/// A column's statistics under one filter.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ColumnStats {
    /// Which column.
    pub column: StatColumn,
    /// Movies under the filter.
    pub rows: u64,
    /// Distinct values (genre names, for genres).
    pub distinct: u64,
    /// Empty values: no year, no ratings, no genres, an empty title.
    pub empty: u64,
    /// Smallest and largest, as shown (titles alphabetically, the rest by their measure).
    pub min: Option<String>,
    /// See `min`.
    pub max: Option<String>,
    /// Equal-width bars over the measure: (lower end, movies), lowest first.
    pub histogram: Vec<(f64, u64)>,
    /// Width of each bar.
    pub bar_width: f64,
}

/// Column statistics of the movies table.
#[derive(Clone, Debug)]
pub struct ColumnStatsRepository {
    repo: Repo,
}

impl ColumnStatsRepository {
    /// Shares `pool`.
    pub fn new(pool: DatabasePool) -> Self {
        Self {
            repo: Repo::new(pool),
        }
    }

    /// `column`'s statistics over the movies `filter` selects.
    pub fn stats(&self, filter: &Filter, column: StatColumn) -> Result<ColumnStats, DbError> {
        let source = self.repo.pool().source();
        let parts = movie_sql::where_clause(filter, "m", source);
        let (value, empty, measure) = column.sql();
        let distinct = match column {
            StatColumn::Genres => format!(
                "(SELECT count(DISTINCT g) FROM {} m CROSS JOIN LATERAL unnest(m.genres) g WHERE {})",
                source.movies, parts.where_sql
            ),
            _ => format!("count(DISTINCT {value})"),
        };
        let (min, max) = match column {
            StatColumn::Title => ("min(m.title)".to_owned(), "max(m.title)".to_owned()),
            _ => (
                format!("min({measure})::text"),
                format!("max({measure})::text"),
            ),
        };
        let sql = format!(
            "SELECT count(*), {distinct}, count(*) FILTER (WHERE {empty}), {min}, {max}, \
             min({measure}), max({measure}) FROM {} m WHERE {}",
            source.movies, parts.where_sql
        );
        let histogram_sql = format!(
            "SELECT least(width_bucket({measure}, $lo, $hi, {HISTOGRAM_BARS}), {HISTOGRAM_BARS}) AS bar, \
             count(*) FROM {} m WHERE {} AND {measure} IS NOT NULL GROUP BY 1 ORDER BY 1",
            source.movies, parts.where_sql
        );
        self.repo.read("movies.column_stats", |conn| {
            let params: Vec<(&(dyn ToSql + Sync), Type)> = parts.typed_params();
            let row = conn.query_typed_one(&sql, &params)?;
            let count = |i: usize| row.get::<_, i64>(i).max(0) as u64;
            let lo: Option<f64> = row.get(5);
            let hi: Option<f64> = row.get(6);
            let mut stats = ColumnStats {
                column,
                rows: count(0),
                distinct: count(1),
                empty: count(2),
                min: row.get(3),
                max: row.get(4),
                histogram: Vec::new(),
                bar_width: 0.0,
            };
            let (Some(lo), Some(hi)) = (lo, hi) else {
                return Ok(stats);
            };
            // One bar when every value is the same; otherwise ten over [lo, hi].
            let hi_open = if hi > lo { hi } else { lo + 1.0 };
            let width = (hi_open - lo) / f64::from(HISTOGRAM_BARS);
            let mut typed = params.clone();
            typed.push((&lo, Type::FLOAT8));
            typed.push((&hi_open, Type::FLOAT8));
            let n = params.len();
            let histogram_sql = histogram_sql
                .replace("$lo", &format!("${}", n + 1))
                .replace("$hi", &format!("${}", n + 2));
            let mut bars = vec![0u64; HISTOGRAM_BARS as usize];
            for bar in conn.query_typed(&histogram_sql, &typed)? {
                let index = (bar.get::<_, i32>(0).clamp(1, HISTOGRAM_BARS) - 1) as usize;
                bars[index] += bar.get::<_, i64>(1).max(0) as u64;
            }
            stats.histogram = bars
                .into_iter()
                .enumerate()
                .map(|(i, n)| (lo + width * i as f64, n))
                .collect();
            stats.bar_width = width;
            Ok(stats)
        })
    }
}
