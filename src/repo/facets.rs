//! The facets beside the filter: how many movies of the current result fall in each genre,
//! decade and rating bucket, counted exactly or estimated from a sample.
//!
//! Exact facets read every match in one `GROUPING SETS` pass ([`crate::db::facet_totals`]); on
//! ten million movies that pass takes seconds. On a large collection the window first asks for
//! the same groups over a sample ([`crate::repo::sampling`]), then for the exact figures, which
//! replace them.

use serde::Serialize;

use crate::db::facet_totals;
use crate::estimate::{Sample, two_significant_digits};
use crate::plural::{compact, thousands};

/// Counts under the current filter, for the genre chips.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Facets {
    /// Movies per genre, most first.
    pub genres: Vec<(String, u64)>,
    /// Movies per decade (1990 = 1990–1999), oldest first; `None` = no year.
    pub decades: Vec<(Option<i16>, u64)>,
    /// Movies per half-star bucket of the average (3.5 = 3.5 ≤ avg < 4.0); `None` = unrated.
    pub ratings: Vec<(Option<f32>, u64)>,
    /// Set when the figures are estimates from a sample (and `None` when they are exact).
    pub sample: Option<Sample>,
}

impl Facets {
    /// Whether the figures are estimates.
    pub fn is_approximate(&self) -> bool {
        self.sample.is_some()
    }

    /// One figure as a chip shows it: `4.4k`, or `≈4.4k` when estimated. Every facet figure the
    /// window prints goes through here or [`Facets::figure`], so an estimate never loses its `≈`.
    pub fn short_figure(&self, n: u64) -> String {
        match self.sample {
            Some(_) => format!("≈{}", compact(n)),
            None => compact(n),
        }
    }

    /// One figure in full: `4,361`, or `≈4,400` (two significant digits) when estimated.
    pub fn figure(&self, n: u64) -> String {
        match self.sample {
            Some(_) => format!("≈{}", thousands(two_significant_digits(n))),
            None => thousands(n),
        }
    }

    /// Where the figures come from, for a tooltip.
    pub fn provenance(&self) -> String {
        match self.sample {
            Some(s) => format!("{}; the exact figures follow", s.describe()),
            None => "exact".to_owned(),
        }
    }

    /// The facets from the rows of [`facet_totals::query`] (or its stored totals).
    pub(crate) fn from_groups(rows: &[postgres::Row]) -> Self {
        Self::assemble(rows, None)
    }

    /// The facets from the rows of [`facet_totals::query`] over `sample`, scaled to the
    /// collection.
    pub(crate) fn from_sample(rows: &[postgres::Row], sample: Sample) -> Self {
        Self::assemble(rows, Some(sample))
    }

    fn assemble(rows: &[postgres::Row], sample: Option<Sample>) -> Self {
        let scale = |n| sample.map_or(n, |s| s.scale(n));
        let mut genres: std::collections::HashMap<String, u64> = Default::default();
        let mut facets = Facets {
            sample,
            ..Facets::default()
        };
        for row in rows {
            let n = row.get::<_, i64>(4).max(0) as u64;
            match row.get::<_, i32>(3) {
                facet_totals::GENRE_LISTS => {
                    let list: Option<Vec<Option<String>>> = row.get(0);
                    for genre in list.into_iter().flatten().flatten() {
                        *genres.entry(genre).or_default() += n;
                    }
                }
                facet_totals::DECADES => facets.decades.push((row.get(1), scale(n))),
                _ => facets.ratings.push((row.get(2), scale(n))),
            }
        }
        // A genre's sampled count is scaled once, after its lists were added up.
        facets.genres = genres.into_iter().map(|(g, n)| (g, scale(n))).collect();
        facets
            .genres
            .sort_by(|(a, n), (b, m)| m.cmp(n).then_with(|| a.cmp(b)));
        // Decades oldest first with "no year" last; ratings "unrated" first.
        facets
            .decades
            .sort_by_key(|(decade, _)| (decade.is_none(), *decade));
        facets
            .ratings
            .sort_by(|(a, _), (b, _)| a.partial_cmp(b).unwrap_or(std::cmp::Ordering::Equal));
        facets
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sampled() -> Facets {
        Facets {
            genres: vec![("Drama".to_owned(), 4_361)],
            sample: Some(Sample {
                movies: 20_000,
                matches: 900,
                collection: 10_000_000,
                most_rated: 0,
            }),
            ..Facets::default()
        }
    }

    #[test]
    fn estimates_always_carry_their_mark_and_exact_figures_never_do() {
        let approximate = sampled();
        assert_eq!(approximate.figure(4_361), "≈4,400");
        assert_eq!(approximate.short_figure(4_361), "≈4.4k");
        assert!(
            approximate
                .provenance()
                .starts_with("estimated from a 0.20 % sample")
        );
        let exact = Facets {
            sample: None,
            ..approximate
        };
        assert_eq!(exact.figure(4_361), "4,361");
        assert_eq!(exact.short_figure(4_361), "4.4k");
        assert_eq!(exact.provenance(), "exact");
    }
}
