//! `SummaryRepository`: a [`SummarySpec`] over a filter as one `GROUP BY` on the server.
//!
//! The filtered movies are read once (a CTE over the same WHERE clause the table uses), then
//! grouped. Measures come from each movie's stored average and count, never from a scan of
//! the ratings table, so a summary costs one pass over the filtered movies whatever the number
//! of ratings:
//! - the average per rating is `Σ(avg × count) / Σ count`, which equals the mean of every
//!   rating the group's movies received;
//! - the mean of movie averages and the median weigh each rated movie once.
//!
//! Text keys (genres, tags) group under the "C" collation: grouping and ordering by bytes is
//! about twice as fast as by the database's linguistic collation (`marquee bench summarize`),
//! and genre names sort the same either way.

use crate::db::error::DbError;
use crate::db::pool::DatabasePool;
use crate::db::source::Source;
use crate::estimate::Sample;
use crate::filter::Filter;
use crate::repo::Repo;
use crate::repo::movie_sql;
use crate::repo::sampling;
use crate::summary::{
    Compare, Dimension, GroupKey, Measure, Summary, SummaryRow, SummarySpec, group_order,
};

/// Summaries of the movies table.
#[derive(Clone, Debug)]
pub struct SummaryRepository {
    repo: Repo,
}

impl SummaryRepository {
    /// Shares `pool`.
    pub fn new(pool: DatabasePool) -> Self {
        Self {
            repo: Repo::new(pool),
        }
    }

    /// The groups of `spec` over the movies `filter` selects (its sort is ignored), and with
    /// a comparison the same groups over the compared movies, merged by group.
    pub fn summarize(&self, filter: &Filter, spec: &SummarySpec) -> Result<Summary, DbError> {
        self.run(filter, spec, None)?.ok_or_else(|| {
            DbError::new(
                crate::db::error::DbErrorKind::Query,
                "the summary came back empty".to_owned(),
            )
        })
    }

    /// The same summary over a sample of Marquee's collection, scaled to it and marked
    /// approximate ([`crate::repo::sampling`]): the first answer on a large collection. Counts
    /// of movies and ratings are scaled; averages and the median are the sample's; first and
    /// last years are the sample's, so they may fall inside the true range. `None` where a
    /// sample would not be faster: where `rule` says the exact answer is as fast
    /// ([`sampling::draw`]), or data read in place.
    pub fn sampled(
        &self,
        filter: &Filter,
        spec: &SummarySpec,
        rule: sampling::SampleRule,
    ) -> Result<Option<Summary>, DbError> {
        if !self.repo.pool().source().is_marquee() {
            return Ok(None);
        }
        self.run(filter, spec, Some(rule))
    }

    /// An exact summary, or with `sample_rule` a sampled one (`None`: not worth sampling).
    fn run(
        &self,
        filter: &Filter,
        spec: &SummarySpec,
        sample_rule: Option<sampling::SampleRule>,
    ) -> Result<Option<Summary>, DbError> {
        let source = self.repo.pool().source();
        let this = movie_sql::where_clause(filter, "m", source);
        let other = match &spec.compare {
            None => None,
            Some(Compare::Rest) => Some(movie_sql::SqlParts {
                // A condition on a missing value is NULL, not false: those movies are "the
                // rest" too.
                where_sql: format!("NOT COALESCE(({}), FALSE)", this.where_sql),
                params: this.params.clone(),
            }),
            Some(Compare::Filter { filter: text, .. }) => {
                let other = Filter::parse(text).map_err(|e| {
                    DbError::new(
                        crate::db::error::DbErrorKind::Query,
                        format!("the compared filter does not parse: {e}"),
                    )
                })?;
                Some(movie_sql::where_clause(&other, "m", source))
            }
        };
        let label = if sample_rule.is_some() {
            "summary.sampled"
        } else {
            "summary"
        };
        let results = self.repo.read(label, |conn| {
            let (sample, tablesample, strata) = match sample_rule {
                None => (None, String::new(), None),
                Some(rule) => match sampling::draw(conn, &source.movies, &this, rule)? {
                    Some((sample, tablesample)) => {
                        let strata =
                            sampling::stratify(conn, &source.movies, &sample, &tablesample)?;
                        (Some(sample), tablesample, strata)
                    }
                    None => return Ok(None),
                },
            };
            let reading = match (&sample, strata) {
                (None, _) => Reading::Exact,
                (Some(_), None) => Reading::Sample(&tablesample),
                (Some(_), Some(strata)) => Reading::Stratified(&tablesample, strata),
            };
            let sides = std::iter::once(&this)
                .chain(other.as_ref())
                .map(|parts| {
                    let (sql, parts) = summary_sql(parts.clone(), spec, source, &reading);
                    conn.query_typed(&sql, &parts.typed_params())
                })
                .collect::<Result<Vec<_>, _>>()?;
            let sample = sample.map(|sample| Sample {
                most_rated: strata.map_or(0, |s| s.most_rated),
                ..sample
            });
            Ok(Some((sides, sample)))
        })?;
        let Some((results, sample)) = results else {
            return Ok(None);
        };
        let mut sides = results.iter().map(|rows| {
            rows.iter()
                .map(|row| row_from(row, spec))
                .collect::<Vec<SummaryRow>>()
        });
        let mut rows = sides.next().unwrap_or_default();
        if let Some(others) = sides.next() {
            rows = merge(rows, others, spec);
        }
        match sample {
            // Weighted in SQL: the sums are the collection's already, only not whole numbers.
            Some(sample) if sample.most_rated > 0 => scale(&mut rows, spec, |x| x.round()),
            Some(sample) => scale(&mut rows, spec, |x| sample.scale_f64(x).round()),
            None => {}
        }
        Ok(Some(Summary {
            spec: spec.clone(),
            filter: filter.clone(),
            rows,
            sample,
        }))
    }
}

/// Applies `to_collection` to a sample's sums (movies, ratings); averages stay as they are.
fn scale(rows: &mut [SummaryRow], spec: &SummarySpec, to_collection: impl Fn(f64) -> f64) {
    for (i, measure) in spec.measures.iter().enumerate() {
        if matches!(measure, Measure::Movies | Measure::Ratings) {
            for row in rows.iter_mut() {
                for side in [&mut row.values, &mut row.other] {
                    if let Some(Some(x)) = side.get_mut(i) {
                        *x = to_collection(*x);
                    }
                }
            }
        }
    }
}

/// Which movies a summary reads.
#[derive(Clone, Copy, Debug)]
pub enum Reading<'a> {
    /// Every movie the filter selects.
    Exact,
    /// Those of a sample (the `TABLESAMPLE` clause), whose sums are scaled afterwards.
    Sample(&'a str),
    /// The most-rated movies exactly, and a sample of the others, each of those weighted by
    /// what it stands for ([`sampling::Strata`]): the sums come out scaled.
    Stratified(&'a str, sampling::Strata),
}

fn row_from(row: &postgres::Row, spec: &SummarySpec) -> SummaryRow {
    let dims = spec.by.len();
    SummaryRow {
        keys: spec
            .by
            .iter()
            .enumerate()
            .map(|(i, d)| key_from(row, i, *d))
            .collect(),
        values: (0..spec.measures.len())
            .map(|i| row.get::<_, Option<f64>>(dims + i))
            .collect(),
        other: Vec::new(),
    }
}

/// The filter's groups beside the compared ones: every group of either side, each with both
/// sides' values (`None` on the side without it), in the summary's order.
fn merge(this: Vec<SummaryRow>, others: Vec<SummaryRow>, spec: &SummarySpec) -> Vec<SummaryRow> {
    let width = spec.measures.len();
    let mut rows: Vec<SummaryRow> = this
        .into_iter()
        .map(|mut row| {
            row.other = vec![None; width];
            row
        })
        .collect();
    for other in others {
        match rows.iter_mut().find(|row| row.keys == other.keys) {
            Some(row) => row.other = other.values,
            None => rows.push(SummaryRow {
                keys: other.keys,
                values: vec![None; width],
                other: other.values,
            }),
        }
    }
    let movies = spec.measures.iter().position(|m| *m == Measure::Movies);
    let count = |row: &SummaryRow| movies.and_then(|i| row.values[i]).unwrap_or(0.0);
    rows.sort_by(|a, b| group_order(a, b, count));
    rows
}

fn key_from(row: &postgres::Row, i: usize, dimension: Dimension) -> GroupKey {
    match dimension {
        Dimension::Genre => GroupKey::Genre(row.get(i)),
        Dimension::Tag => GroupKey::Tag(row.get(i)),
        Dimension::Year => GroupKey::Year(row.get(i)),
        Dimension::Decade => GroupKey::Decade(row.get(i)),
        Dimension::Rating => GroupKey::Rating(row.get(i)),
        Dimension::Votes => GroupKey::Votes(row.get::<_, i32>(i).max(0) as u32),
    }
}

/// The SQL and its parameters. Only the WHERE clause carries user text, as bind parameters;
/// everything else is built from the spec's closed set of names, `top_tags` and the numbers of
/// `reading`.
pub fn summary_sql(
    mut parts: movie_sql::SqlParts,
    spec: &SummarySpec,
    source: &Source,
    reading: &Reading<'_>,
) -> (String, movie_sql::SqlParts) {
    const COLUMNS: &str = "m.id, m.year, m.genres, m.rating_avg, m.rating_count";
    let (movies, condition) = (&source.movies, &parts.where_sql);
    let f = match reading {
        Reading::Exact => format!("SELECT {COLUMNS} FROM {movies} m WHERE {condition}"),
        Reading::Sample(tablesample) => {
            format!("SELECT {COLUMNS} FROM {movies} m {tablesample} WHERE {condition}")
        }
        // `wt`: how many movies of the collection the row stands for.
        Reading::Stratified(tablesample, strata) => format!(
            "SELECT {COLUMNS}, 1::float8 AS wt FROM {movies} m \
             WHERE m.rating_count >= {threshold} AND ({condition}) \
             UNION ALL \
             SELECT {COLUMNS}, {weight}::float8 FROM {movies} m {tablesample} \
             WHERE m.rating_count < {threshold} AND ({condition})",
            threshold = strata.threshold,
            weight = strata.weight,
        ),
    };
    let weighted = matches!(reading, Reading::Stratified(..));
    let mut ctes = vec![format!("f AS ({f})")];
    let mut from = String::from("f");
    let mut keys = Vec::new();
    let mut order = Vec::new();
    for dimension in &spec.by {
        match dimension {
            Dimension::Genre => {
                from.push_str(" CROSS JOIN LATERAL unnest(f.genres) AS g(genre)");
                keys.push("g.genre COLLATE \"C\"".to_owned());
                order.push(keys.len().to_string());
            }
            Dimension::Tag => {
                // A movie counts once per tag whatever the spelling or how many users gave it;
                // the label is one spelling of the folded tag, which `tag:` matches again.
                let limit = parts.bind(movie_sql::Param::Int4(
                    i32::try_from(spec.top_tags).unwrap_or(i32::MAX),
                ));
                // Weighted, a tag's movies are counted as the collection's: what each stands for.
                let (weight, movies) = if weighted {
                    (", max(f.wt) AS wt", "sum(wt)")
                } else {
                    ("", "count(*)")
                };
                ctes.push(format!(
                    "ft AS (SELECT t.movie_id, {} COLLATE \"C\" AS k, min(t.tag) AS label{weight} \
                     FROM {} t JOIN f ON f.id = t.movie_id GROUP BY 1, 2)",
                    source.fold("t.tag"),
                    source.tags
                ));
                ctes.push(format!(
                    "top AS (SELECT k, min(label) AS label, \
                     row_number() OVER (ORDER BY {movies} DESC, k) AS rank \
                     FROM ft GROUP BY k ORDER BY rank LIMIT {limit})"
                ));
                from.push_str(" JOIN ft ON ft.movie_id = f.id JOIN top ON top.k = ft.k");
                keys.push("top.label".to_owned());
                order.push("min(top.rank)".to_owned());
            }
            Dimension::Year => {
                keys.push("f.year".to_owned());
                order.push(format!("{} NULLS LAST", keys.len()));
            }
            Dimension::Decade => {
                keys.push("(f.year / 10 * 10)::smallint".to_owned());
                order.push(format!("{} NULLS LAST", keys.len()));
            }
            Dimension::Rating => {
                keys.push("(floor(f.rating_avg * 2) / 2)::real".to_owned());
                order.push(format!("{} NULLS LAST", keys.len()));
            }
            Dimension::Votes => {
                // 0, then powers of ten by digit count: exact, no floating-point logarithm.
                let bucket = "(CASE WHEN f.rating_count <= 0 THEN 0 \
                              ELSE (10 ^ (length(f.rating_count::text) - 1))::int END)";
                keys.push(bucket.to_owned());
                order.push(keys.len().to_string());
            }
        }
    }
    let mut measures: Vec<&str> = spec
        .measures
        .iter()
        .map(|m| measure_sql(*m, weighted))
        .collect();
    if let Some(genre) = spec.by.iter().position(|d| *d == Dimension::Genre)
        && spec.by.len() == 1
        && !spec.measures.contains(&Measure::Median)
    {
        // Unnesting every movie's genres is most of a summary by genre. Movies share few
        // genre lists (about 10,000 among a million), so the measures are first summed per
        // list and only those partial sums are unnested: 535 → 320 ms p95 at 1,000,000
        // movies (`marquee bench summarize`). The median is not a sum of parts. A pivot has
        // many more (list, key) pairs than lists, and measured slower this way (424 → 737 ms),
        // so it takes the plain route too.
        let others: Vec<String> = keys
            .iter()
            .enumerate()
            .filter(|(i, _)| *i != genre)
            .map(|(i, key)| format!("{key} AS k{i}"))
            .collect();
        let mut partial_keys = vec!["f.genres".to_owned()];
        partial_keys.extend(others);
        let sums = if weighted {
            "sum(f.wt) AS n, sum(f.wt * f.rating_count) AS r, \
             sum(f.wt * f.rating_avg::float8 * f.rating_count) AS w, \
             sum(f.wt * f.rating_avg::float8) AS sa, \
             sum(f.wt) FILTER (WHERE f.rating_avg IS NOT NULL) AS ca"
        } else {
            "count(*) AS n, sum(f.rating_count) AS r, \
             sum(f.rating_avg::float8 * f.rating_count) AS w, sum(f.rating_avg::float8) AS sa, \
             count(f.rating_avg) AS ca"
        };
        ctes.push(format!(
            "fg AS (SELECT {}, {sums}, min(f.year) AS y0, max(f.year) AS y1 \
             FROM f GROUP BY {})",
            partial_keys.join(", "),
            (1..=partial_keys.len())
                .map(|i| i.to_string())
                .collect::<Vec<_>>()
                .join(", ")
        ));
        from = "fg CROSS JOIN LATERAL unnest(fg.genres) AS g(genre)".to_owned();
        keys = (0..keys.len())
            .map(|i| {
                if i == genre {
                    "g.genre COLLATE \"C\"".to_owned()
                } else {
                    format!("fg.k{i}")
                }
            })
            .collect();
        measures = spec
            .measures
            .iter()
            .map(|m| partial_measure_sql(*m))
            .collect();
    }
    let group_by: Vec<String> = (1..=keys.len()).map(|i| i.to_string()).collect();
    let sql = format!(
        "WITH {} SELECT {}, {} FROM {from} GROUP BY {} ORDER BY {}",
        ctes.join(", "),
        keys.join(", "),
        measures.join(", "),
        group_by.join(", "),
        order.join(", ")
    );
    (sql, parts)
}

/// Each measure as a `float8` aggregate over `f` (NULL where there is nothing to measure);
/// `weighted`, each row counts as the movies it stands for (`f.wt`). The median is not
/// weighted: it is the middle of the rows read, the most-rated movies among them once each.
fn measure_sql(measure: Measure, weighted: bool) -> &'static str {
    if weighted {
        match measure {
            Measure::Movies => return "sum(f.wt)",
            Measure::Ratings => return "sum(f.wt * f.rating_count)",
            Measure::Avg => {
                return "sum(f.wt * f.rating_avg::float8 * f.rating_count) \
                        / nullif(sum(f.wt * f.rating_count), 0)";
            }
            Measure::MeanAvg => {
                return "sum(f.wt * f.rating_avg::float8) \
                        / nullif(sum(f.wt) FILTER (WHERE f.rating_avg IS NOT NULL), 0)";
            }
            Measure::Median | Measure::FirstYear | Measure::LastYear => {}
        }
    }
    match measure {
        Measure::Movies => "count(*)::float8",
        Measure::Ratings => "sum(f.rating_count)::float8",
        Measure::Avg => {
            "sum(f.rating_avg::float8 * f.rating_count) / nullif(sum(f.rating_count), 0)"
        }
        Measure::MeanAvg => "avg(f.rating_avg)::float8",
        Measure::Median => "percentile_cont(0.5) WITHIN GROUP (ORDER BY f.rating_avg)",
        Measure::FirstYear => "min(f.year)::float8",
        Measure::LastYear => "max(f.year)::float8",
    }
}

/// Each measure over the per-genre-list partial sums of `fg` (every measure but the median).
fn partial_measure_sql(measure: Measure) -> &'static str {
    match measure {
        Measure::Movies => "sum(fg.n)::float8",
        Measure::Ratings => "sum(fg.r)::float8",
        Measure::Avg => "sum(fg.w) / nullif(sum(fg.r), 0)",
        Measure::MeanAvg => "sum(fg.sa) / nullif(sum(fg.ca), 0)",
        Measure::Median => "NULL::float8",
        Measure::FirstYear => "min(fg.y0)::float8",
        Measure::LastYear => "max(fg.y1)::float8",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_text_stays_in_parameters() {
        let filter = Filter::parse("title:\"'; DROP TABLE x; --\" tag:\"a'b\"").expect("parses");
        let spec = SummarySpec::parse("tag,decade", "movies,avg,median", 7).expect("spec");
        let parts = movie_sql::where_clause(&filter, "m", &Source::default());
        let (sql, parts) = summary_sql(parts, &spec, &Source::default(), &Reading::Exact);
        assert!(!sql.contains("DROP"), "{sql}");
        assert!(!sql.contains("a'b"), "{sql}");
        assert!(
            sql.contains("LIMIT $"),
            "the tag limit is a parameter: {sql}"
        );
        assert_eq!(parts.params.len(), 3);
        assert!(
            sql.contains("ORDER BY min(top.rank), 2 NULLS LAST"),
            "{sql}"
        );
    }

    #[test]
    fn a_stratified_sample_reads_the_most_rated_exactly_and_weighs_the_rest() {
        let filter = Filter::parse("year:1980..2009 tag:\"a'b\"").expect("parses");
        let strata = sampling::Strata {
            threshold: 300,
            most_rated: 256,
            weight: 4.5,
        };
        let tablesample = "TABLESAMPLE SYSTEM (23.1) REPEATABLE (0)";
        let reading = Reading::Stratified(tablesample, strata);
        for (by, measures) in [
            ("genre", "movies,ratings,avg,mean-avg"),
            ("tag,decade", "movies,ratings"),
        ] {
            let spec = SummarySpec::parse(by, measures, 7).expect("spec");
            let parts = movie_sql::where_clause(&filter, "m", &Source::default());
            let (sql, parts) = summary_sql(parts, &spec, &Source::default(), &reading);
            assert!(!sql.contains("a'b"), "{sql}");
            assert!(
                sql.contains(
                    "1::float8 AS wt FROM \"marquee\".movies m WHERE m.rating_count >= 300 AND ("
                ),
                "{sql}"
            );
            assert!(
                sql.contains(&format!(
                    "4.5::float8 FROM \"marquee\".movies m {tablesample} WHERE m.rating_count < 300 AND ("
                )),
                "{sql}"
            );
            assert!(sql.contains("sum(f.wt * f.rating_count)"), "{sql}");
            assert!(!sql.contains("count(*)"), "every count is weighted: {sql}");
            // Both branches bind the same parameters.
            assert_eq!(parts.params.len(), if by == "genre" { 3 } else { 4 });
        }
    }
}
