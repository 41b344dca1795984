//! Summaries: the movies of a filter grouped by one or two dimensions (genre, year, decade,
//! rating bucket, votes bucket, top tags) with measures per group, as analysts ask them:
//! "which genre has the best average rating?", "how many movies per decade?".
//!
//! This module holds what a summary *is*, shared by the window and `marquee summarize`: the
//! dimensions and measures and their names, the groups of a result, and the one rule that
//! matters most: every group is a filter. [`Summary::drill`] turns a group into the filter
//! that shows exactly its movies, in the text language people type, so drilling down is an
//! ordinary filter change that Back undoes, the table follows and a view can save. The SQL
//! lives in `repo::summary`.

use std::fmt;
use std::io::Write;

use serde::{Deserialize, Serialize};

use crate::filter::{Filter, MAX_RATING, Range};

/// How many tags a summary by tag shows when not told: the most used first.
pub const DEFAULT_TOP_TAGS: u32 = 20;

/// What a summary groups by.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Dimension {
    /// Each genre of a movie: a Drama-Romance counts in both groups.
    Genre,
    /// Release year; movies without one form the `none` group.
    Year,
    /// Decade of release (1990 = 1990–1999).
    Decade,
    /// Half-star bucket of the movie's average rating (3.5 = 3.5 ≤ avg < 4); unrated = `none`.
    Rating,
    /// Number of ratings on a log scale: 0, 1–9, 10–99, 100–999, …
    Votes,
    /// The most used tags among the filtered movies (a movie counts once per tag).
    Tag,
}

impl Dimension {
    /// Every dimension, in the order menus list them.
    pub const ALL: [Dimension; 6] = [
        Dimension::Genre,
        Dimension::Year,
        Dimension::Decade,
        Dimension::Rating,
        Dimension::Votes,
        Dimension::Tag,
    ];

    /// The name on the command line and in saved views (`--by genre,decade`).
    pub const fn name(self) -> &'static str {
        match self {
            Dimension::Genre => "genre",
            Dimension::Year => "year",
            Dimension::Decade => "decade",
            Dimension::Rating => "rating",
            Dimension::Votes => "votes",
            Dimension::Tag => "tag",
        }
    }

    /// Whether the groups are points on a line (years, decades): charts draw a line, not bars.
    pub const fn is_timeline(self) -> bool {
        matches!(self, Dimension::Year | Dimension::Decade)
    }
}

impl fmt::Display for Dimension {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// What a summary computes for each group.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Measure {
    /// Number of movies.
    Movies,
    /// Number of ratings.
    Ratings,
    /// Average rating over all the group's ratings: a movie with many ratings weighs more.
    Avg,
    /// Mean of the movies' average ratings: every rated movie weighs the same.
    MeanAvg,
    /// Median of the movies' average ratings.
    Median,
    /// Earliest release year.
    FirstYear,
    /// Latest release year.
    LastYear,
}

impl Measure {
    /// Every measure, in the order tables show them.
    pub const ALL: [Measure; 7] = [
        Measure::Movies,
        Measure::Ratings,
        Measure::Avg,
        Measure::MeanAvg,
        Measure::Median,
        Measure::FirstYear,
        Measure::LastYear,
    ];

    /// What a summary shows when not told.
    pub const DEFAULT: [Measure; 3] = [Measure::Movies, Measure::Ratings, Measure::Avg];

    /// The name on the command line and in CSV headers.
    pub const fn name(self) -> &'static str {
        match self {
            Measure::Movies => "movies",
            Measure::Ratings => "ratings",
            Measure::Avg => "avg",
            Measure::MeanAvg => "mean-avg",
            Measure::Median => "median",
            Measure::FirstYear => "first-year",
            Measure::LastYear => "last-year",
        }
    }

    /// The column title people read: the two averages say which one they are.
    pub const fn label(self) -> &'static str {
        match self {
            Measure::Movies => "movies",
            Measure::Ratings => "ratings",
            Measure::Avg => "avg rating (per rating)",
            Measure::MeanAvg => "mean of movie avgs",
            Measure::Median => "median of movie avgs",
            Measure::FirstYear => "first year",
            Measure::LastYear => "last year",
        }
    }

    /// The column title where space is short (the window's summary table); the hover shows
    /// [`Measure::label`].
    pub const fn short_label(self) -> &'static str {
        match self {
            Measure::Movies => "movies",
            Measure::Ratings => "ratings",
            Measure::Avg => "avg per rating",
            Measure::MeanAvg => "mean of avgs",
            Measure::Median => "median of avgs",
            Measure::FirstYear => "first year",
            Measure::LastYear => "last year",
        }
    }

    /// `value` as a table shows it: counts and years whole, ratings with two decimals.
    pub fn format(self, value: Option<f64>) -> String {
        match value {
            None => String::new(),
            Some(v) => match self {
                Measure::Movies | Measure::Ratings => {
                    crate::plural::thousands(v.max(0.0).round() as u64)
                }
                Measure::FirstYear | Measure::LastYear => format!("{v:.0}"),
                Measure::Avg | Measure::MeanAvg | Measure::Median => format!("{v:.2}"),
            },
        }
    }

    /// `value` for CSV and JSON: exact enough to compare, no thousands separators.
    fn plain(self, value: Option<f64>) -> String {
        match value {
            None => String::new(),
            Some(v) => match self {
                Measure::Movies | Measure::Ratings | Measure::FirstYear | Measure::LastYear => {
                    format!("{v:.0}")
                }
                Measure::Avg | Measure::MeanAvg | Measure::Median => format!("{v:.4}"),
            },
        }
    }
}

impl fmt::Display for Measure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// What to summarize: one or two dimensions (two make a pivot) and the measures.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SummarySpec {
    /// One or two distinct dimensions, outer first.
    pub by: Vec<Dimension>,
    /// At least one measure, in the order shown.
    pub measures: Vec<Measure>,
    /// How many tags a grouping by tag keeps (the most used).
    pub top_tags: u32,
    /// What the filter's groups are put beside, if anything (one dimension only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub compare: Option<Compare>,
}

impl Default for SummarySpec {
    fn default() -> Self {
        Self {
            by: vec![Dimension::Genre],
            measures: Measure::DEFAULT.to_vec(),
            top_tags: DEFAULT_TOP_TAGS,
            compare: None,
        }
    }
}

/// What a summary's groups are compared with: the same groups over other movies.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Compare {
    /// The movies the filter leaves out.
    Rest,
    /// The movies of another filter, e.g. a saved view's.
    Filter {
        /// What people call it (the view's name, or the filter text).
        name: String,
        /// Its text form.
        filter: String,
    },
}

impl Compare {
    /// Parses `--compare`: `rest`, or filter text.
    pub fn parse(text: &str) -> Result<Self, SpecError> {
        let text = text.trim();
        if text.eq_ignore_ascii_case("rest") {
            return Ok(Compare::Rest);
        }
        let filter = Filter::parse(text).map_err(|e| {
            SpecError(format!(
                "--compare: {e}; or write rest for the other movies"
            ))
        })?;
        Ok(Compare::Filter {
            name: text.to_owned(),
            filter: filter.to_text(),
        })
    }

    /// How tables and legends name the other side.
    pub fn label(&self) -> &str {
        match self {
            Compare::Rest => "the rest",
            Compare::Filter { name, .. } => name,
        }
    }
}

/// Why `--by` or `--measure` was rejected; the message says what would be right.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct SpecError(String);

impl SummarySpec {
    /// Parses `--by genre,decade` and `--measure movies,avg`.
    pub fn parse(by: &str, measures: &str, top_tags: u32) -> Result<Self, SpecError> {
        let by = parse_list(by, "dimension", &Dimension::ALL, Dimension::name)?;
        if by.is_empty() || by.len() > 2 {
            return Err(SpecError(format!(
                "group by one or two dimensions (e.g. genre or genre,decade), not {}",
                by.len()
            )));
        }
        let measures = parse_list(measures, "measure", &Measure::ALL, Measure::name)?;
        if measures.is_empty() {
            return Err(SpecError(format!(
                "name at least one measure: {}",
                names(&Measure::ALL, Measure::name)
            )));
        }
        if top_tags == 0 {
            return Err(SpecError("--top must be at least 1".into()));
        }
        Ok(Self {
            by,
            measures,
            top_tags,
            compare: None,
        })
    }
}

impl SummarySpec {
    /// `--by`, `--measure` and `--top` over these settings (a saved view's): what is given
    /// replaces, the rest stays.
    pub fn overridden(
        &self,
        by: Option<&str>,
        measures: Option<&str>,
        top_tags: Option<u32>,
    ) -> Result<Self, SpecError> {
        let mut spec = Self::parse(
            by.unwrap_or(&names(&self.by, Dimension::name)),
            measures.unwrap_or(&names(&self.measures, Measure::name)),
            top_tags.unwrap_or(self.top_tags),
        )?;
        spec.compare = self.compare.clone();
        Ok(spec)
    }

    /// The settings with `compare`, checked: a comparison sets two summaries side by side, so
    /// it takes one dimension, not a pivot.
    pub fn compared_with(mut self, compare: Option<Compare>) -> Result<Self, SpecError> {
        if compare.is_some() && self.by.len() > 1 {
            return Err(SpecError(
                "a comparison groups by one dimension; drop the second from --by".into(),
            ));
        }
        self.compare = compare;
        Ok(self)
    }
}

/// The settings as the command line spells them: `--by genre,decade --measure movies,avg`.
impl fmt::Display for SummarySpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "--by {} --measure {}",
            names(&self.by, Dimension::name),
            names(&self.measures, Measure::name)
        )?;
        if self.by.contains(&Dimension::Tag) {
            write!(f, " --top {}", self.top_tags)?;
        }
        match &self.compare {
            Some(Compare::Rest) => write!(f, " --compare rest")?,
            Some(Compare::Filter { filter, .. }) => write!(f, " --compare {filter:?}")?,
            None => {}
        }
        Ok(())
    }
}

fn parse_list<T: Copy + PartialEq>(
    text: &str,
    what: &str,
    all: &[T],
    name: fn(T) -> &'static str,
) -> Result<Vec<T>, SpecError> {
    let mut out = Vec::new();
    for word in text.split(',').map(str::trim).filter(|w| !w.is_empty()) {
        let Some(found) = all
            .iter()
            .copied()
            .find(|d| name(*d).eq_ignore_ascii_case(word))
        else {
            return Err(SpecError(format!(
                "unknown {what} \"{word}\"; choose from {}",
                names(all, name)
            )));
        };
        if !out.contains(&found) {
            out.push(found);
        }
    }
    Ok(out)
}

fn names<T: Copy>(all: &[T], name: fn(T) -> &'static str) -> String {
    all.iter().map(|d| name(*d)).collect::<Vec<_>>().join(",")
}

/// One group's value along one dimension.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(untagged)]
pub enum GroupKey {
    /// A genre name as stored.
    Genre(String),
    /// A year; `None` = movies without one.
    Year(Option<i16>),
    /// A decade's first year; `None` = movies without a year.
    Decade(Option<i16>),
    /// A half-star bucket's lower end; `None` = unrated.
    Rating(Option<f32>),
    /// A votes bucket's lower end: 0, 1, 10, 100, …
    Votes(u32),
    /// A tag, spelled as the collection most often writes it (matched ignoring case).
    Tag(String),
}

impl GroupKey {
    /// What a table cell or chart axis shows.
    pub fn label(&self) -> String {
        match self {
            GroupKey::Genre(g) | GroupKey::Tag(g) => g.clone(),
            GroupKey::Year(Some(y)) => y.to_string(),
            GroupKey::Decade(Some(d)) => format!("{d}s"),
            GroupKey::Year(None) | GroupKey::Decade(None) => "(no year)".into(),
            GroupKey::Rating(Some(r)) if *r >= MAX_RATING => format!("{r}"),
            GroupKey::Rating(Some(r)) => format!("{r}–{}", r + 0.5),
            GroupKey::Rating(None) => "(unrated)".into(),
            GroupKey::Votes(0) => "0".into(),
            GroupKey::Votes(low) => format!("{low}–{}", votes_bucket_end(*low)),
        }
    }

    /// The value as a number on a chart's axis (years, buckets), when it has one.
    pub fn position(&self) -> Option<f64> {
        match self {
            GroupKey::Year(y) | GroupKey::Decade(y) => y.map(f64::from),
            GroupKey::Rating(r) => r.map(f64::from),
            GroupKey::Votes(v) => Some(f64::from(*v)),
            GroupKey::Genre(_) | GroupKey::Tag(_) => None,
        }
    }

    /// Narrows `filter` to this group. The group's movies all pass `filter` already, so
    /// the group's condition is intersected with what the filter asks (a decade group under
    /// `year:1995` stays 1995), never put in its place.
    pub fn narrow(&self, filter: &mut Filter) {
        match self {
            GroupKey::Genre(g) => filter.genres.all_of.push(g.clone()),
            GroupKey::Tag(t) => filter.tags.push(t.clone()),
            GroupKey::Year(y) => filter.year = intersect(filter.year, point_or_missing(*y)),
            GroupKey::Decade(d) => {
                let group = match d {
                    Some(d) => Range::new(Some(*d), Some(d.saturating_add(9))),
                    None => Range::missing(),
                };
                filter.year = intersect(filter.year, group);
            }
            GroupKey::Rating(r) => {
                let group = match r {
                    Some(r) if *r >= MAX_RATING => Range::new(Some(*r), Some(*r)),
                    Some(r) => Range::new(Some(*r), Some((r + 0.5).next_down())),
                    None => Range::missing(),
                };
                filter.rating = intersect(filter.rating, group);
            }
            GroupKey::Votes(low) => {
                let group = Range::new(Some(*low), Some(votes_bucket_end(*low)));
                filter.votes = intersect(filter.votes, group);
            }
        }
        filter.normalize();
    }
}

/// The last vote count of the bucket starting at `low` (0 → 0, 1 → 9, 10 → 99, …).
fn votes_bucket_end(low: u32) -> u32 {
    match low {
        0 => 0,
        low => low.saturating_mul(10).saturating_sub(1),
    }
}

fn point_or_missing<T: Copy>(value: Option<T>) -> Range<T> {
    match value {
        Some(v) => Range::new(Some(v), Some(v)),
        None => Range::missing(),
    }
}

/// The values both ranges let through. `group` comes from a result under `base`, so when
/// it is the missing-value group, `base` let missing values through (it was unbounded).
fn intersect<T: Copy + PartialOrd>(base: Range<T>, group: Range<T>) -> Range<T> {
    if group.missing || base.missing {
        return group;
    }
    let pick = |a: Option<T>, b: Option<T>, higher: bool| match (a, b) {
        (Some(a), Some(b)) => Some(if (a > b) == higher { a } else { b }),
        (a, b) => a.or(b),
    };
    Range::new(
        pick(base.min, group.min, true),
        pick(base.max, group.max, false),
    )
}

/// One group and its measures.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SummaryRow {
    /// The group's value along each dimension of the spec, in order.
    pub keys: Vec<GroupKey>,
    /// One value per measure of the spec, in order; `None` where there is nothing to measure
    /// (the average of a group without ratings).
    pub values: Vec<Option<f64>>,
    /// The same measures over the compared movies (empty without a comparison; all `None`
    /// where they have no such group).
    pub other: Vec<Option<f64>>,
}

/// A computed summary: the spec and its groups, in the dimensions' natural order (genres
/// alphabetically, tags most used first, numbers ascending with the missing group last).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Summary {
    /// What was asked.
    pub spec: SummarySpec,
    /// The filter the groups are taken from.
    pub filter: Filter,
    /// The groups.
    pub rows: Vec<SummaryRow>,
    /// Set when the figures are estimates from a sample (`None`: exact).
    pub sample: Option<crate::estimate::Sample>,
}

impl Summary {
    /// The filter showing exactly the movies of `row`: the summary's filter narrowed by each
    /// of the row's keys, keeping its sort.
    pub fn drill(&self, row: &SummaryRow) -> Filter {
        let mut filter = self.filter.clone();
        for key in &row.keys {
            key.narrow(&mut filter);
        }
        filter
    }

    /// The filter showing exactly the compared movies of `row`, when they can be written as a
    /// filter: a compared filter narrowed by the row's keys. "The rest" is what the filter
    /// leaves out, which the filter language does not say, so its groups do not open.
    pub fn drill_other(&self, row: &SummaryRow) -> Option<Filter> {
        let Some(Compare::Filter { filter, .. }) = &self.spec.compare else {
            return None;
        };
        let mut filter = Filter::parse(filter).ok()?;
        filter.sort = self.filter.sort.clone();
        for key in &row.keys {
            key.narrow(&mut filter);
        }
        Some(filter)
    }

    /// The value of `measure` in `row`, if the spec has it.
    pub fn value(&self, row: &SummaryRow, measure: Measure) -> Option<f64> {
        let i = self.spec.measures.iter().position(|m| *m == measure)?;
        row.values.get(i).copied().flatten()
    }

    /// The value of `measure` over the compared movies of `row`.
    pub fn value_other(&self, row: &SummaryRow, measure: Measure) -> Option<f64> {
        let i = self.spec.measures.iter().position(|m| *m == measure)?;
        row.other.get(i).copied().flatten()
    }

    /// The value columns, each measure followed by its compared twin when there is a
    /// comparison, so the two read side by side.
    pub fn value_columns(&self) -> Vec<ValueColumn> {
        let compared = self.spec.compare.is_some();
        self.spec
            .measures
            .iter()
            .flat_map(|&measure| {
                let this = ValueColumn {
                    measure,
                    other: false,
                };
                let other = ValueColumn {
                    measure,
                    other: true,
                };
                std::iter::once(this).chain(compared.then_some(other))
            })
            .collect()
    }

    /// A value as people read it (`1,234`, `3.46`), marked `≈` when the summary is an
    /// estimate from a sample. Every value the window and the table print goes through here.
    pub fn format(&self, measure: Measure, value: Option<f64>) -> String {
        match (self.sample, value) {
            (Some(_), Some(_)) => format!("≈{}", measure.format(value)),
            _ => measure.format(value),
        }
    }

    /// A value column's cell in `row`.
    pub fn cell(&self, row: &SummaryRow, column: ValueColumn) -> Option<f64> {
        if column.other {
            self.value_other(row, column.measure)
        } else {
            self.value(row, column.measure)
        }
    }

    /// A value column's title for people: the measure, and for the compared side whom it is of.
    pub fn column_title(&self, column: ValueColumn, short: bool) -> String {
        let name = if short {
            column.measure.short_label()
        } else {
            column.measure.label()
        };
        match (&self.spec.compare, column.other) {
            (Some(compare), true) => format!("{name} ({})", compare.label()),
            _ => name.to_owned(),
        }
    }

    /// A value column's name in CSV and JSON: `avg`, and `avg_compared` for the other side.
    pub fn column_name(&self, column: ValueColumn) -> String {
        if column.other {
            format!("{}_compared", column.measure.name())
        } else {
            column.measure.name().to_owned()
        }
    }

    /// Aligned columns for people.
    pub fn write_table(&self, out: &mut dyn Write) -> std::io::Result<()> {
        let columns = self.value_columns();
        let mut header: Vec<String> = self.spec.by.iter().map(|d| d.to_string()).collect();
        header.extend(columns.iter().map(|c| self.column_title(*c, false)));
        let body: Vec<Vec<String>> = self
            .rows
            .iter()
            .map(|row| {
                let mut cells: Vec<String> = row.keys.iter().map(GroupKey::label).collect();
                cells.extend(
                    columns
                        .iter()
                        .map(|c| self.format(c.measure, self.cell(row, *c))),
                );
                cells
            })
            .collect();
        let width = |i: usize| {
            std::iter::once(&header)
                .chain(&body)
                .map(|cells| cells[i].chars().count())
                .max()
                .unwrap_or(0)
        };
        let widths: Vec<usize> = (0..header.len()).map(width).collect();
        let keys = self.spec.by.len();
        for cells in std::iter::once(&header).chain(&body) {
            let line: Vec<String> = cells
                .iter()
                .enumerate()
                .map(|(i, cell)| {
                    let pad = widths[i].saturating_sub(cell.chars().count());
                    if i < keys {
                        format!("{cell}{}", " ".repeat(pad))
                    } else {
                        format!("{}{cell}", " ".repeat(pad))
                    }
                })
                .collect();
            writeln!(out, "{}", line.join("  ").trim_end())?;
        }
        Ok(())
    }

    /// CSV with a header; each row ends with the filter text that shows its movies (and,
    /// compared with another filter, the one that shows the compared movies).
    pub fn write_csv(&self, out: &mut dyn Write) -> anyhow::Result<()> {
        let columns = self.value_columns();
        let other_filter = matches!(self.spec.compare, Some(Compare::Filter { .. }));
        let mut writer = csv::Writer::from_writer(out);
        let mut header: Vec<String> = self.spec.by.iter().map(|d| d.to_string()).collect();
        header.extend(columns.iter().map(|c| self.column_name(*c)));
        header.push("filter".into());
        if other_filter {
            header.push("filter_compared".into());
        }
        if self.sample.is_some() {
            header.push("approximate".into());
        }
        writer.write_record(&header)?;
        for row in &self.rows {
            let mut cells: Vec<String> = row.keys.iter().map(GroupKey::label).collect();
            cells.extend(columns.iter().map(|c| c.measure.plain(self.cell(row, *c))));
            cells.push(self.drill(row).to_text());
            if other_filter {
                cells.push(
                    self.drill_other(row)
                        .map(|f| f.to_text())
                        .unwrap_or_default(),
                );
            }
            if self.sample.is_some() {
                cells.push("true".into());
            }
            writer.write_record(&cells)?;
        }
        writer.flush()?;
        Ok(())
    }

    /// One JSON object per group: the keys by dimension name, the measures by measure name
    /// (`null` where there is nothing to measure; `_compared` for the compared movies) and
    /// `filter`.
    pub fn write_json_lines(&self, out: &mut dyn Write) -> anyhow::Result<()> {
        let columns = self.value_columns();
        for row in &self.rows {
            let mut object = serde_json::Map::new();
            for (dimension, key) in self.spec.by.iter().zip(&row.keys) {
                object.insert(dimension.name().into(), serde_json::to_value(key)?);
            }
            for column in &columns {
                object.insert(
                    self.column_name(*column),
                    serde_json::to_value(self.cell(row, *column))?,
                );
            }
            object.insert("filter".into(), self.drill(row).to_text().into());
            if let Some(sample) = &self.sample {
                // Values stay numbers; the row says they are estimates, and from what.
                object.insert("approximate".into(), true.into());
                object.insert("sample".into(), serde_json::to_value(sample)?);
            }
            if let Some(other) = self.drill_other(row) {
                object.insert("filter_compared".into(), other.to_text().into());
            }
            writeln!(out, "{}", serde_json::Value::Object(object))?;
        }
        Ok(())
    }
}

/// One value column of a summary: a measure, of the filter's movies or of the compared ones.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ValueColumn {
    /// Which measure.
    pub measure: Measure,
    /// Of the compared movies.
    pub other: bool,
}

/// Orders the groups of a merged comparison as a single summary orders them: numbers
/// ascending with the missing group last, names by bytes, tags by how many movies carry them.
pub fn group_order(
    a: &SummaryRow,
    b: &SummaryRow,
    movies: impl Fn(&SummaryRow) -> f64,
) -> std::cmp::Ordering {
    use std::cmp::Ordering;
    for (ka, kb) in a.keys.iter().zip(&b.keys) {
        let ordering = match (ka, kb) {
            (GroupKey::Tag(_), GroupKey::Tag(_)) => movies(b).total_cmp(&movies(a)),
            _ => match (ka.position(), kb.position()) {
                (Some(x), Some(y)) => x.total_cmp(&y),
                (Some(_), None) => Ordering::Less,
                (None, Some(_)) => Ordering::Greater,
                (None, None) => ka.label().as_bytes().cmp(kb.label().as_bytes()),
            },
        };
        if ordering != Ordering::Equal {
            return ordering;
        }
    }
    Ordering::Equal
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Filter {
        Filter::parse(text).expect("parses")
    }

    fn drilled(base: &str, keys: Vec<GroupKey>) -> String {
        let summary = Summary {
            spec: SummarySpec::default(),
            filter: parse(base),
            rows: Vec::new(),
            sample: None,
        };
        summary
            .drill(&SummaryRow {
                keys,
                values: Vec::new(),
                other: Vec::new(),
            })
            .to_text()
    }

    #[test]
    fn every_kind_of_group_is_filter_text() {
        use GroupKey::*;
        assert_eq!(drilled("", vec![Genre("Drama".into())]), "genre-all:Drama");
        assert_eq!(drilled("", vec![Year(Some(1995))]), "year:1995");
        assert_eq!(drilled("", vec![Year(None)]), "year:none");
        assert_eq!(drilled("", vec![Decade(Some(1990))]), "year:1990..1999");
        assert_eq!(drilled("", vec![Decade(None)]), "year:none");
        assert_eq!(drilled("", vec![Rating(Some(3.5))]), "rating:3.5..<4");
        assert_eq!(drilled("", vec![Rating(Some(5.0))]), "rating:5");
        assert_eq!(drilled("", vec![Rating(None)]), "rating:none");
        assert_eq!(drilled("", vec![Votes(0)]), "votes:0..0");
        assert_eq!(drilled("", vec![Votes(1)]), "votes:1..9");
        assert_eq!(drilled("", vec![Votes(100)]), "votes:100..999");
        assert_eq!(
            drilled("", vec![Tag("time travel".into())]),
            "tag:\"time travel\""
        );
        assert_eq!(
            drilled("", vec![Genre("Drama".into()), Decade(Some(1950))]),
            "genre-all:Drama year:1950..1959"
        );
    }

    #[test]
    fn drilling_narrows_and_never_widens_the_filter() {
        use GroupKey::*;
        assert_eq!(drilled("year:1995", vec![Decade(Some(1990))]), "year:1995");
        assert_eq!(
            drilled("year:1985..1994 sort:-rating", vec![Decade(Some(1990))]),
            "year:1990..1994 sort:-rating"
        );
        assert_eq!(
            drilled("rating:>=3.7", vec![Rating(Some(3.5))]),
            "rating:3.7..<4"
        );
        assert_eq!(drilled("votes:>=50", vec![Votes(10)]), "votes:50..99");
        assert_eq!(
            drilled(
                "genre:Comedy,Drama tag:pixar",
                vec![Genre("Drama".into()), Tag("funny".into())]
            ),
            "genre:Comedy,Drama genre-all:Drama tag:pixar tag:funny"
        );
    }

    #[test]
    fn specs_parse_and_say_what_is_wrong() {
        let spec = SummarySpec::parse("Genre, decade", "movies,avg,mean-avg", 5).expect("valid");
        assert_eq!(spec.by, [Dimension::Genre, Dimension::Decade]);
        assert_eq!(
            spec.measures,
            [Measure::Movies, Measure::Avg, Measure::MeanAvg]
        );
        let err = |by: &str, m: &str| SummarySpec::parse(by, m, 5).unwrap_err().to_string();
        assert!(
            err("studio", "movies").contains("unknown dimension \"studio\"; choose from genre")
        );
        assert_eq!(
            spec.to_string(),
            "--by genre,decade --measure movies,avg,mean-avg"
        );
        let saved = SummarySpec::parse("tag", "movies", 5).expect("valid");
        assert_eq!(saved.to_string(), "--by tag --measure movies --top 5");
        let changed = saved.overridden(None, Some("median"), None).expect("valid");
        assert_eq!(
            (changed.by, changed.measures, changed.top_tags),
            (vec![Dimension::Tag], vec![Measure::Median], 5)
        );
        assert!(err("genre,year,decade", "movies").contains("one or two"));
        assert!(err("", "movies").contains("one or two"));
        assert!(err("genre", "mean").contains("unknown measure \"mean\""));
        assert!(err("genre", "").contains("at least one measure"));
        assert_eq!(
            SummarySpec::parse("genre,genre", "movies", 5)
                .expect("a repeat is dropped")
                .by,
            [Dimension::Genre]
        );
    }

    #[test]
    fn labels_and_numbers_read_well() {
        assert_eq!(GroupKey::Rating(Some(3.5)).label(), "3.5–4");
        assert_eq!(GroupKey::Decade(Some(1990)).label(), "1990s");
        assert_eq!(GroupKey::Votes(10).label(), "10–99");
        assert_eq!(Measure::Ratings.format(Some(1234567.0)), "1,234,567");
        assert_eq!(Measure::Avg.format(Some(3.456)), "3.46");
        assert_eq!(Measure::Avg.format(None), "");
    }
}
