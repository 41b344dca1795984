//! `filter --with-datasette`: Datasette, the tool many analysts pick for browsing a table with
//! facets, beside Marquee on the same collection and the same script of changes.
//!
//! `bench/run_datasette.sh` copies the seeded collection into SQLite (genres as a JSON array, the
//! decade and rating bucket as columns, indexes on the sorted and filtered columns, FTS5 on the
//! title), serves it with Datasette 0.65.5 and its time limits raised, and times each change as
//! Marquee's are timed: to the first page, then to the count and the facets, asked for together.
//! This module turns each [`Filter`] of the script into Datasette's table query parameters.

use std::io::Write as _;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Duration;

use anyhow::Context as _;
use serde::{Deserialize, Serialize};

use super::report::Target;
use crate::filter::{Filter, SortColumn};

/// One change of the script, as Datasette's table view takes it.
#[derive(Debug, Serialize)]
pub struct PeerStep {
    /// The change's name in the script.
    pub name: String,
    /// Query parameters selecting and sorting the same movies.
    pub params: Vec<(String, String)>,
}

/// What Datasette answered to one change, and when.
#[derive(Debug, Deserialize)]
pub struct PeerSample {
    /// The change's name.
    pub name: String,
    /// Milliseconds from the change to its first page.
    pub page_ms: f64,
    /// Milliseconds from the change to its (exact) count.
    pub count_ms: f64,
    /// Milliseconds from the change to all three facets.
    pub facets_ms: f64,
    /// Datasette's exact count.
    pub count: u64,
    /// Rows on its first page.
    pub rows: u64,
}

/// A whole run of the peer.
#[derive(Debug, Deserialize)]
pub struct PeerRun {
    /// Datasette's version.
    pub datasette: String,
    /// SQLite's version.
    pub sqlite: String,
    /// One sample per change per pass.
    pub samples: Vec<PeerSample>,
}

impl PeerRun {
    /// The samples of the change `name`, as durations picked by `field`.
    pub fn times(&self, name: Option<&str>, field: fn(&PeerSample) -> f64) -> Vec<Duration> {
        self.samples
            .iter()
            .filter(|s| name.is_none_or(|n| s.name == n))
            .map(|s| Duration::from_secs_f64(field(s) / 1000.0))
            .collect()
    }
}

/// Datasette's table parameters for `filter`. Only what the benchmark script uses is
/// translated; anything else is refused rather than silently compared on different rows.
pub fn params(filter: &Filter) -> anyhow::Result<Vec<(String, String)>> {
    let mut params = Vec::new();
    if !filter.title.is_empty() {
        // `LIKE '%…%'`: case-insensitive for ASCII, as Marquee's match is (Marquee also ignores
        // accents; the generated titles have none).
        params.push(("title__contains".to_owned(), filter.title.clone()));
    }
    anyhow::ensure!(
        filter.genres.all_of.is_empty()
            && filter.genres.none_of.is_empty()
            && filter.tags.is_empty()
            && filter.rating.is_unbounded()
            && filter.votes.is_unbounded()
            && !filter.year.missing,
        "the Datasette peer translates title, any-of genres, year ranges and sorts only"
    );
    if !filter.genres.any_of.is_empty() {
        let names: Vec<String> = filter
            .genres
            .any_of
            .iter()
            .map(|g| format!("'{}'", g.replace('\'', "''")))
            .collect();
        params.push((
            "_where".to_owned(),
            format!(
                "exists (select 1 from json_each(movies.genres) where value in ({}))",
                names.join(", ")
            ),
        ));
    }
    if let Some(min) = filter.year.min {
        params.push(("year__gte".to_owned(), min.to_string()));
    }
    if let Some(max) = filter.year.max {
        params.push(("year__lte".to_owned(), max.to_string()));
    }
    // Datasette sorts by one column (then by its primary key, as Marquee ties on id).
    anyhow::ensure!(filter.sort.len() <= 1, "Datasette sorts by one column");
    if let Some(key) = filter.sort.first() {
        let column = match key.column {
            SortColumn::Title => "title",
            SortColumn::Year => "year",
            SortColumn::Rating => "rating_avg",
            SortColumn::Votes => "rating_count",
            SortColumn::Id => "id",
        };
        let param = if key.descending {
            "_sort_desc"
        } else {
            "_sort"
        };
        params.push((param.to_owned(), column.to_owned()));
    }
    Ok(params)
}

/// `bench/run_datasette.sh`, found next to the sources or at `MARQUEE_BENCH_DIR`.
fn peer_script() -> PathBuf {
    std::env::var_os("MARQUEE_BENCH_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("bench"))
        .join("run_datasette.sh")
}

/// Runs Datasette through `script` on a SQLite copy of `target`'s collection (made once per
/// collection and reused while its mark matches).
pub fn run(
    target: &Target,
    mark: &str,
    script: &[(String, Filter)],
    repeats: u32,
) -> anyhow::Result<PeerRun> {
    let steps = script
        .iter()
        .map(|(name, filter)| {
            Ok(PeerStep {
                name: name.clone(),
                params: params(filter).with_context(|| format!("change {name:?}"))?,
            })
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    let p = &target.params;
    let dsn = format!(
        "host='{}' port={} dbname='{}' user='{}'",
        p.host.replace('\'', "\\'"),
        p.port,
        p.dbname.replace('\'', "\\'"),
        p.user.replace('\'', "\\'")
    );
    let sqlite = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("target")
        .join("bench-datasette")
        .join(format!("{}.db", p.dbname));
    let script_path = peer_script();
    let mut cmd = Command::new("bash");
    cmd.arg(&script_path)
        .args(["--pg-dsn", &dsn])
        .arg("--sqlite")
        .arg(&sqlite)
        .args(["--mark", mark])
        .args(["--repeats", &repeats.to_string()])
        // The window's first request is one page of this many rows; Datasette is asked for the
        // same number, so both walk the same distance through a sorted result.
        .args(["--page-size", &crate::browse::PAGE_SIZE.to_string()])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
    if let Some(password) = &p.password {
        cmd.env("PGPASSWORD", password.expose());
    }
    let mut child = cmd
        .spawn()
        .with_context(|| format!("running {}", script_path.display()))?;
    let input = serde_json::to_vec(&steps)?;
    child
        .stdin
        .take()
        .context("the peer's stdin")?
        .write_all(&input)?;
    let out = child.wait_with_output()?;
    anyhow::ensure!(
        out.status.success(),
        "{} failed (its messages are above)",
        script_path.display()
    );
    super::report::peer_result(&out.stdout, "the Datasette peer")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn translated(text: &str) -> Vec<(String, String)> {
        params(&Filter::parse(text).unwrap()).unwrap()
    }

    fn pair(k: &str, v: &str) -> (String, String) {
        (k.to_owned(), v.to_owned())
    }

    #[test]
    fn the_scripts_filters_become_datasette_parameters() {
        assert!(translated("").is_empty());
        assert_eq!(translated("star"), vec![pair("title__contains", "star")]);
        assert_eq!(
            translated("genre:Action,Sci-Fi year:1977..1983 sort:-rating"),
            vec![
                pair(
                    "_where",
                    "exists (select 1 from json_each(movies.genres) where value in ('Action', 'Sci-Fi'))"
                ),
                pair("year__gte", "1977"),
                pair("year__lte", "1983"),
                pair("_sort_desc", "rating_avg"),
            ]
        );
        assert_eq!(translated("sort:title"), vec![pair("_sort", "title")]);
        assert_eq!(
            translated("sort:-votes"),
            vec![pair("_sort_desc", "rating_count")]
        );
    }

    #[test]
    fn filters_the_peer_cannot_express_are_refused() {
        for text in [
            "tag:pixar",
            "genre-not:Drama",
            "rating:>=4",
            "year:none",
            "sort:-rating,title",
        ] {
            assert!(params(&Filter::parse(text).unwrap()).is_err(), "{text}");
        }
    }
}
