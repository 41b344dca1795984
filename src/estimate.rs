//! Estimated figures: where they come from ([`Sample`]) and how they are printed. Counts
//! estimated from a sample of the collection ([`crate::repo::sampling`]) are shown first on a
//! large collection and replaced by the exact ones; wherever one is printed it carries `≈`.

use serde::Serialize;

/// Where estimated figures come from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Sample {
    /// Movies the sample read.
    pub movies: u64,
    /// Of those, how many match the filter.
    pub matches: u64,
    /// The collection's size as the planner knows it (`pg_class.reltuples`): the scale.
    pub collection: u64,
    /// The most-rated movies, counted exactly beside the sample rather than scaled from it
    /// (summaries; 0 where every figure is scaled from the sample, as facets are).
    pub most_rated: u64,
}

impl Sample {
    /// The sample's share of the collection, in percent.
    pub fn percent(&self) -> f64 {
        100.0 * self.movies as f64 / self.collection.max(1) as f64
    }

    /// `n` movies of the sample, scaled to the collection.
    pub fn scale(&self, n: u64) -> u64 {
        self.scale_f64(n as f64).round() as u64
    }

    /// A sum over the sample (of movies, of ratings), scaled to the collection.
    pub fn scale_f64(&self, x: f64) -> f64 {
        if self.movies == 0 {
            return 0.0;
        }
        x * self.collection as f64 / self.movies as f64
    }

    /// The estimated number of matches in the whole collection.
    pub fn estimated_matches(&self) -> u64 {
        self.scale(self.matches)
    }

    /// Where the figures come from, for a tooltip or a note.
    pub fn describe(&self) -> String {
        let mut text = format!(
            "estimated from a {:.2} % sample ({} movies read, {} matching)",
            self.percent(),
            crate::plural::thousands(self.movies),
            crate::plural::thousands(self.matches)
        );
        if self.most_rated > 0 {
            text.push_str(&format!(
                " and the {} most-rated movies, counted exactly",
                crate::plural::thousands(self.most_rated)
            ));
        }
        text
    }
}

/// `n` rounded to two significant digits: an estimate shows no more precision than it has.
pub fn two_significant_digits(n: u64) -> u64 {
    let mut unit = 1;
    while n / unit >= 100 {
        unit *= 10;
    }
    (n + unit / 2) / unit * unit
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sample_scales_to_the_collection() {
        let s = Sample {
            movies: 20_000,
            matches: 900,
            collection: 10_000_000,
            most_rated: 0,
        };
        assert_eq!(s.scale(2), 1_000);
        assert_eq!(s.estimated_matches(), 450_000);
        assert!((s.percent() - 0.2).abs() < 1e-9);
        assert!(s.describe().starts_with("estimated from a 0.20 % sample"));
        assert!(!s.describe().contains("most-rated"));
        let stratified = Sample {
            most_rated: 256,
            ..s
        };
        assert!(
            stratified
                .describe()
                .ends_with("and the 256 most-rated movies, counted exactly")
        );
        let empty = Sample {
            movies: 0,
            matches: 0,
            collection: 10,
            most_rated: 0,
        };
        assert_eq!(empty.scale(5), 0);
    }

    #[test]
    fn estimates_keep_two_significant_digits() {
        assert_eq!(two_significant_digits(0), 0);
        assert_eq!(two_significant_digits(7), 7);
        assert_eq!(two_significant_digits(99), 99);
        assert_eq!(two_significant_digits(4_361), 4_400);
        assert_eq!(two_significant_digits(4_349), 4_300);
        assert_eq!(two_significant_digits(995), 1_000);
        assert_eq!(two_significant_digits(12_345_678), 12_000_000);
    }
}
