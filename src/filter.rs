//! The movie filter shared by the GUI and the CLI: what the user asked to see, plus its
//! one-line text form (`genre:Drama year:1990..1999 sort:-rating`) that people type, paste
//! into a terminal and save in settings.
//!
//! This module knows nothing about SQL or widgets, so both front ends agree on one meaning
//! of a filter and one spelling of it; `repo::movie_sql` turns it into a query.
//!
//! Text form, tokens separated by whitespace:
//!
//! ```text
//! title:"star wars" genre:Sci-Fi,Action genre-all:Drama,War genre-not:Horror
//! year:1977..1983 rating:>=4 votes:>=100 tag:pixar sort:-rating,title
//! year:none rating:3.5..<4 votes:10..99 tag:pixar tag:"time travel"
//! ```
//!
//! * A token is `key:value` or a bare word; bare words are appended to the title, so typing
//!   `star wars` searches titles. Keys are case-insensitive; a key is ASCII letters, digits,
//!   `-` or `_`, starting with a letter, so `12:30` is a bare word, not a key. Bare words
//!   go after any `title:` value. An unknown key with nothing after its colon is a bare
//!   word too, so `Star Trek: The Motion Picture` just works.
//! * Values may be double-quoted (`"..."`, escapes `\"` and `\\`); quoted text may hold
//!   spaces, commas and colons, and a quoted word is never taken for a key.
//! * `genre:` (any of), `genre-all:` (all of), `genre-not:` (none of) take comma lists and
//!   accumulate when repeated; every other key is a single setting and the last one wins.
//! * `year:` and `rating:` take `N`, `A..B`, `A..`, `..B`, `A-B`, `A..<B` (B excluded), `>=N`,
//!   `<=N`, `>N`, `<N`, or `none` (movies without a year / without ratings).
//! * `votes:` takes the same ranges, except that a bare `N` means at least N (`votes:100`).
//! * `tag:` accumulates when repeated: `tag:a tag:b` keeps the movies tagged with both.
//!
//! Every group of a summary is one of these conditions, so drilling into a group is always a
//! filter the user can read, edit and save (see `summary`).
//! * `sort:` takes a comma list of `id`, `title`, `year`, `rating`, `votes`, `-` = descending.

use std::borrow::Cow;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// The MovieLens genre names, spelled exactly as they are stored in `movies.genres`.
/// The parser maps any capitalisation of these to this spelling because array operators in
/// SQL compare case-sensitively.
pub const KNOWN_GENRES: &[&str] = &[
    "Action",
    "Adventure",
    "Animation",
    "Children",
    "Comedy",
    "Crime",
    "Documentary",
    "Drama",
    "Fantasy",
    "Film-Noir",
    "Horror",
    "IMAX",
    "Musical",
    "Mystery",
    "Romance",
    "Sci-Fi",
    "Thriller",
    "War",
    "Western",
];

/// Every key the text form understands, in the order `to_text` writes them; the GUI can
/// offer them for completion and the parser lists them when it meets an unknown key.
pub const FILTER_KEYS: &[&str] = &[
    "title",
    "genre",
    "genre-all",
    "genre-not",
    "year",
    "rating",
    "votes",
    "tag",
    "sort",
];

/// Earliest year the parser accepts: anything earlier is a typo, not a film.
pub const MIN_YEAR: i16 = 1800;
/// Latest year the parser accepts: leaves room for announced films without admitting typos.
pub const MAX_YEAR: i16 = 2200;
/// Highest average rating; MovieLens ratings go from 0.5 to 5 stars.
pub const MAX_RATING: f32 = 5.0;

/// What the user wants to see in the movie table.
///
/// The default value shows everything in id order. `Filter::parse` always returns a
/// normalized filter (see [`Filter::normalize`]), for which `parse(to_text())` gives the
/// same filter back.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Filter {
    /// Substring of the title, matched ignoring case and accents; "" = no title filter.
    pub title: String,
    /// Genre conditions; each list sorted, deduplicated, known genres in canonical spelling.
    pub genres: GenreFilter,
    /// Release year, inclusive at both ends.
    pub year: Range<i16>,
    /// Average rating, inclusive at both ends, within 0..=5.
    pub rating: Range<f32>,
    /// Number of ratings, inclusive at both ends: mostly a minimum, so that averages over a
    /// handful of votes can be hidden.
    pub votes: Range<u32>,
    /// The movie has every one of these tags (exact match, ignoring case and accents), in the
    /// order they were added.
    pub tags: Vec<String>,
    /// Sort keys, most significant first; empty = by id.
    pub sort: Vec<SortKey>,
}

/// Genre conditions; an empty list is no condition.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct GenreFilter {
    /// The movie has at least one of these genres.
    pub any_of: Vec<String>,
    /// The movie has every one of these genres.
    pub all_of: Vec<String>,
    /// The movie has none of these genres.
    pub none_of: Vec<String>,
}

impl GenreFilter {
    /// True when no genre condition is set.
    pub fn is_empty(&self) -> bool {
        self.any_of.is_empty() && self.all_of.is_empty() && self.none_of.is_empty()
    }
}

/// An inclusive range where either end may be open, or the condition that the value is
/// missing (`year:none`).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Range<T> {
    /// Lowest value let through; `None` = no lower limit.
    pub min: Option<T>,
    /// Highest value let through; `None` = no upper limit.
    pub max: Option<T>,
    /// Only rows without a value (no year, no ratings); `min` and `max` are then unset.
    pub missing: bool,
}

// Written by hand so that `Range<T>: Default` does not demand `T: Default`.
impl<T> Default for Range<T> {
    fn default() -> Self {
        Range {
            min: None,
            max: None,
            missing: false,
        }
    }
}

impl<T> Range<T> {
    /// A range from optional bounds, as the GUI's two edit boxes produce it.
    pub const fn new(min: Option<T>, max: Option<T>) -> Self {
        Range {
            min,
            max,
            missing: false,
        }
    }

    /// Only the rows where the value is missing.
    pub const fn missing() -> Self {
        Range {
            min: None,
            max: None,
            missing: true,
        }
    }

    /// True when neither end is set and missing values are not asked for, i.e. the range
    /// filters nothing out.
    pub fn is_unbounded(&self) -> bool {
        self.min.is_none() && self.max.is_none() && !self.missing
    }
}

/// One sort key: a column and its direction.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct SortKey {
    /// What to sort by.
    pub column: SortColumn,
    /// Largest first when true.
    pub descending: bool,
}

impl SortKey {
    /// Ascending key on `column`.
    pub const fn asc(column: SortColumn) -> Self {
        SortKey {
            column,
            descending: false,
        }
    }

    /// Descending key on `column`.
    pub const fn desc(column: SortColumn) -> Self {
        SortKey {
            column,
            descending: true,
        }
    }
}

/// The columns the movie table can be sorted by.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SortColumn {
    /// The MovieLens movie id (the default order).
    Id,
    /// The title as stored, in the database's collation.
    Title,
    /// Release year; movies without one come last.
    Year,
    /// Average rating; unrated movies come last in both directions.
    Rating,
    /// Number of ratings.
    Votes,
}

impl SortColumn {
    /// Whether a first header click sorts this column descending: for the measures (average
    /// rating, number of ratings) people want the best first; names, years and ids read
    /// naturally from the smallest.
    pub const fn best_first(self) -> bool {
        matches!(self, SortColumn::Rating | SortColumn::Votes)
    }
}

impl SortColumn {
    /// All columns, in the order the table shows them.
    pub const ALL: [SortColumn; 5] = [
        SortColumn::Id,
        SortColumn::Title,
        SortColumn::Year,
        SortColumn::Rating,
        SortColumn::Votes,
    ];

    /// The name used in the text form (`sort:-rating`).
    pub const fn name(self) -> &'static str {
        match self {
            SortColumn::Id => "id",
            SortColumn::Title => "title",
            SortColumn::Year => "year",
            SortColumn::Rating => "rating",
            SortColumn::Votes => "votes",
        }
    }

    /// The column with this text-form name, ignoring ASCII case.
    pub fn from_name(name: &str) -> Option<SortColumn> {
        SortColumn::ALL
            .into_iter()
            .find(|c| c.name().eq_ignore_ascii_case(name))
    }
}

impl fmt::Display for SortColumn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Why a filter text was rejected, and where, so the GUI can underline the bad token.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{} — {message} (at character {offset})", shown_token(.token))]
pub struct FilterParseError {
    /// Byte offset of the bad token in the input; always a char boundary.
    pub offset: usize,
    /// The bad token exactly as typed (`input[offset..].starts_with(token)` holds).
    pub token: String,
    /// What is wrong and what would be right.
    pub message: String,
}

/// Keeps error messages one line and readable when the token is huge or holds control
/// characters.
fn shown_token(token: &str) -> String {
    const LIMIT: usize = 40;
    let mut out = String::new();
    for c in token.chars().take(LIMIT) {
        if c.is_control() {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    if token.chars().nth(LIMIT).is_some() {
        out.push('…');
    }
    out
}

impl Filter {
    /// True when the filter is the default: no condition and the default order, which is
    /// exactly when `to_text` is empty.
    pub fn is_empty(&self) -> bool {
        *self == Filter::default()
    }

    /// True when some condition restricts which movies are shown (sorting aside).
    pub fn has_conditions(&self) -> bool {
        !self.title.is_empty()
            || !self.genres.is_empty()
            || !self.year.is_unbounded()
            || !self.rating.is_unbounded()
            || !self.votes.is_unbounded()
            || !self.tags.is_empty()
    }

    /// True when a condition or a sort key reads the ratings (average or votes): in place, those
    /// are aggregated from the user's whole ratings table.
    pub fn reads_ratings(&self) -> bool {
        !self.rating.is_unbounded()
            || !self.votes.is_unbounded()
            || self
                .sort
                .iter()
                .any(|key| matches!(key.column, SortColumn::Rating | SortColumn::Votes))
    }

    /// The canonical text form: keys in a fixed order, values quoted only when needed.
    pub fn to_text(&self) -> String {
        let mut parts: Vec<String> = Vec::new();
        if !self.title.is_empty() {
            parts.push(format!("title:{}", quote(&self.title)));
        }
        for (key, list) in [
            ("genre", &self.genres.any_of),
            ("genre-all", &self.genres.all_of),
            ("genre-not", &self.genres.none_of),
        ] {
            if !list.is_empty() {
                let values: Vec<Cow<'_, str>> = list.iter().map(|g| quote(g)).collect();
                parts.push(format!("{key}:{}", values.join(",")));
            }
        }
        if let Some(text) = range_text(&self.year) {
            parts.push(format!("year:{text}"));
        }
        if let Some(text) = rating_text(&self.rating) {
            parts.push(format!("rating:{text}"));
        }
        if let Some(text) = votes_text(&self.votes) {
            parts.push(format!("votes:{text}"));
        }
        for tag in &self.tags {
            parts.push(format!("tag:{}", quote(tag)));
        }
        if !self.sort.is_empty() {
            let keys: Vec<String> = self
                .sort
                .iter()
                .map(|k| format!("{}{}", if k.descending { "-" } else { "" }, k.column))
                .collect();
            parts.push(format!("sort:{}", keys.join(",")));
        }
        parts.join(" ")
    }

    /// Parses the text form. The result is normalized; the first bad token is reported.
    pub fn parse(text: &str) -> Result<Filter, FilterParseError> {
        let mut filter = Filter::default();
        let mut title_value: Option<String> = None;
        let mut words: Vec<String> = Vec::new();
        let mut pos = 0;
        while let Some(token) = next_token(text, &mut pos)? {
            let Some(key) = token.key else {
                if !token.value.text.is_empty() {
                    words.push(token.value.text);
                }
                continue;
            };
            let value = &token.value;
            match key.to_ascii_lowercase().as_str() {
                "title" => {
                    // `title:""` deliberately clears the title; `title:` alone is a slip.
                    if value.text.is_empty() && !value.quoted {
                        return Err(token.empty_value());
                    }
                    title_value = Some(value.text.clone());
                }
                "genre" => filter.genres.any_of.extend(token.genre_list()?),
                "genre-all" => filter.genres.all_of.extend(token.genre_list()?),
                "genre-not" => filter.genres.none_of.extend(token.genre_list()?),
                "year" => filter.year = token.year_range()?,
                "rating" => filter.rating = token.rating_range()?,
                "votes" => filter.votes = token.votes_range()?,
                "tag" => {
                    if value.text.is_empty() {
                        return Err(token.empty_value());
                    }
                    filter.tags.push(value.text.clone());
                }
                "sort" => filter.sort = token.sort_keys()?,
                // `Star Trek: The Motion Picture`: an unknown word ending in a colon with
                // nothing after it is title text, not a key; titles are full of these.
                _ if value.text.is_empty() && !value.quoted => words.push(token.raw.to_owned()),
                _ => return Err(token.unknown_key(key)),
            }
        }
        let mut title = title_value.unwrap_or_default();
        for word in words {
            title.push(' ');
            title.push_str(&word);
        }
        filter.title = title;
        filter.normalize();
        Ok(filter)
    }

    /// Puts the filter in the form the text form round-trips: title trimmed; genre names
    /// trimmed, canonical, sorted and deduplicated; backwards ranges swapped; NaN bounds and
    /// an empty tag dropped; repeated sort columns removed (the first one counts).
    /// The GUI calls this after editing fields directly.
    pub fn normalize(&mut self) {
        let trimmed = self.title.trim();
        if trimmed.len() != self.title.len() {
            self.title = trimmed.to_owned();
        }
        normalize_genres(&mut self.genres.any_of);
        normalize_genres(&mut self.genres.all_of);
        normalize_genres(&mut self.genres.none_of);
        order_range(&mut self.year);
        for bound in [&mut self.rating.min, &mut self.rating.max] {
            match bound {
                Some(v) if v.is_nan() => *bound = None,
                // -0.0 equals 0.0 but prints as "-0"; keep the text form tidy.
                Some(v) => *v += 0.0,
                None => {}
            }
        }
        order_range(&mut self.rating);
        order_range(&mut self.votes);
        // Tags match ignoring case (and accents, on the server); an exact repeat is dropped.
        let mut seen: Vec<String> = Vec::with_capacity(self.tags.len());
        self.tags.retain(|tag| {
            let key = tag.to_lowercase();
            let keep = !tag.is_empty() && !seen.contains(&key);
            seen.push(key);
            keep
        });
        let mut seen = Vec::with_capacity(self.sort.len());
        self.sort.retain(|k| {
            let first = !seen.contains(&k.column);
            seen.push(k.column);
            first
        });
    }

    /// Header-click behaviour: a plain click sorts by `column` alone (a second click on the
    /// sole sort column flips it); an additive (shift) click appends `column` or flips it where
    /// it already is, keeping the other keys. A column enters the sort in its natural direction:
    /// descending for the measures ([`SortColumn::best_first`]), ascending otherwise.
    pub fn toggle_sort(&mut self, column: SortColumn, additive: bool) {
        let existing = self.sort.iter().position(|k| k.column == column);
        if additive {
            match existing {
                Some(i) => {
                    if let Some(key) = self.sort.get_mut(i) {
                        key.descending = !key.descending;
                    }
                }
                None => self.sort.push(SortKey {
                    column,
                    descending: column.best_first(),
                }),
            }
            return;
        }
        match self.sort.as_slice() {
            [only] if only.column == column => {
                self.sort = vec![SortKey {
                    column,
                    descending: !only.descending,
                }];
            }
            keys => {
                // Keep the direction the column already had, so narrowing a multi-column
                // sort to one column does not silently reverse it.
                let descending = existing
                    .and_then(|i| keys.get(i))
                    .map_or(column.best_first(), |k| k.descending);
                self.sort = vec![SortKey { column, descending }];
            }
        }
    }

    /// Where `column` is in the sort (0 = most significant) and whether it is descending,
    /// for drawing the header arrow and its number.
    pub fn sort_direction(&self, column: SortColumn) -> Option<(usize, bool)> {
        self.sort
            .iter()
            .enumerate()
            .find(|(_, k)| k.column == column)
            .map(|(i, k)| (i, k.descending))
    }
}

impl fmt::Display for Filter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_text())
    }
}

impl FromStr for Filter {
    type Err = FilterParseError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Filter::parse(s)
    }
}

/// The stored spelling of a genre: known genres in any case map to their canonical name,
/// anything else is kept as typed because a real database may have other genres.
pub fn canonical_genre(name: &str) -> Cow<'_, str> {
    match KNOWN_GENRES.iter().find(|g| g.eq_ignore_ascii_case(name)) {
        Some(known) => Cow::Borrowed(*known),
        None => Cow::Borrowed(name),
    }
}

fn normalize_genres(list: &mut Vec<String>) {
    let mut out: Vec<String> = list
        .iter()
        .map(|g| g.trim())
        .filter(|g| !g.is_empty())
        .map(|g| canonical_genre(g).into_owned())
        .collect();
    out.sort();
    out.dedup();
    *list = out;
}

fn order_range<T: PartialOrd>(range: &mut Range<T>) {
    if range.missing {
        range.min = None;
        range.max = None;
    }
    if let (Some(min), Some(max)) = (&range.min, &range.max)
        && min > max
    {
        std::mem::swap(&mut range.min, &mut range.max);
    }
}

/// Canonical text of a range, `None` when it is unbounded. `{}` formatting gives the
/// shortest text that parses back to the same value, which makes `f32` round-trip.
fn range_text<T: PartialEq + fmt::Display>(range: &Range<T>) -> Option<String> {
    if range.missing {
        return Some("none".to_owned());
    }
    match (&range.min, &range.max) {
        (None, None) => None,
        (Some(a), Some(b)) if a == b => Some(a.to_string()),
        (Some(a), Some(b)) => Some(format!("{a}..{b}")),
        (Some(a), None) => Some(format!(">={a}")),
        (None, Some(b)) => Some(format!("<={b}")),
    }
}

/// Like [`range_text`], but writes `>4` rather than `>=4.0000005` when the bound is the
/// float just above (or below) a shorter number; the parser reads both back identically.
fn rating_text(range: &Range<f32>) -> Option<String> {
    let shorter = |bound: f32, neighbour: f32| {
        let (b, n) = (bound.to_string(), neighbour.to_string());
        (n.len() < b.len()).then_some(n)
    };
    if range.missing {
        return range_text(range);
    }
    match (range.min, range.max) {
        (Some(a), None) => shorter(a, a.next_down()).map(|n| format!(">{n}")),
        (None, Some(b)) => shorter(b, b.next_up()).map(|n| format!("<{n}")),
        // A half-star bucket of a summary: 3.5 ≤ avg < 4.
        (Some(a), Some(b)) if a != b => shorter(b, b.next_up()).map(|n| format!("{a}..<{n}")),
        _ => None,
    }
    .or_else(|| range_text(range))
}

/// The votes range as text: a minimum alone is the familiar `>=N`.
fn votes_text(range: &Range<u32>) -> Option<String> {
    match (range.min, range.max) {
        (Some(a), Some(b)) if a == b => Some(format!("{a}..{b}")),
        _ => range_text(range),
    }
}

/// Quotes a value when it would otherwise be split, misread or lost: empty, whitespace or
/// control characters, quote, comma, colon, backslash, or a leading character that means
/// something in some value (`-` descending, `<`, `>`, `=`, `.`, `+` in ranges).
fn quote(value: &str) -> Cow<'_, str> {
    let needs = value.is_empty()
        || value.starts_with(['-', '<', '>', '=', '.', '+'])
        || value
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || matches!(c, '"' | ',' | ':' | '\\'));
    if !needs {
        return Cow::Borrowed(value);
    }
    let mut out = String::with_capacity(value.len() + 2);
    out.push('"');
    for c in value.chars() {
        if matches!(c, '"' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
    Cow::Owned(out)
}

/// A value with its quotes removed. `commas` are the byte positions (in `text`) of commas
/// typed outside quotes: only those separate list items, so `"Film, Noir"` stays whole.
struct Value {
    text: String,
    commas: Vec<usize>,
    quoted: bool,
}

/// One whitespace-separated token of the input.
struct Token<'a> {
    start: usize,
    raw: &'a str,
    key: Option<&'a str>,
    value: Value,
}

/// Reads the token at or after `*pos` and moves `*pos` past it; `Ok(None)` at the end.
fn next_token<'a>(input: &'a str, pos: &mut usize) -> Result<Option<Token<'a>>, FilterParseError> {
    let rest = input.get(*pos..).unwrap_or("");
    let start = *pos + (rest.len() - rest.trim_start().len());
    let rest = input.get(start..).unwrap_or("");
    if rest.is_empty() {
        *pos = input.len();
        return Ok(None);
    }

    let key_len = rest
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '-' || c == '_'))
        .unwrap_or(rest.len());
    let starts_with_letter = rest.as_bytes().first().is_some_and(u8::is_ascii_alphabetic);
    let (key, value_start) =
        if key_len > 0 && starts_with_letter && rest[key_len..].starts_with(':') {
            (Some(&rest[..key_len]), start + key_len + 1)
        } else {
            (None, start)
        };

    let mut value = Value {
        text: String::new(),
        commas: Vec::new(),
        quoted: false,
    };
    let mut end = input.len();
    let mut in_quotes = false;
    let tail = input.get(value_start..).unwrap_or("");
    let mut chars = tail.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        if in_quotes {
            match c {
                '"' => in_quotes = false,
                '\\' => match chars.peek() {
                    Some(&(_, next @ ('"' | '\\'))) => {
                        value.text.push(next);
                        chars.next();
                    }
                    // Any other backslash is literal, which keeps Windows-ish text typable.
                    _ => value.text.push('\\'),
                },
                _ => value.text.push(c),
            }
        } else if c.is_whitespace() {
            end = value_start + i;
            break;
        } else if c == '"' {
            in_quotes = true;
            value.quoted = true;
        } else {
            if c == ',' {
                value.commas.push(value.text.len());
            }
            value.text.push(c);
        }
    }
    let raw = input.get(start..end).unwrap_or("");
    if in_quotes {
        return Err(FilterParseError {
            offset: start,
            token: raw.to_owned(),
            message: "unterminated quote: close it with \" (write \\\" for a quote inside \
                      quotes)"
                .to_owned(),
        });
    }
    *pos = end;
    Ok(Some(Token {
        start,
        raw,
        key,
        value,
    }))
}

/// Why a range value was rejected; turned into a message naming the key.
enum RangeError<T> {
    Shape,
    OutOfRange(T),
    Backwards(T, T),
}

/// Parses the range shapes shared by `year:` and `rating:`. `number` rejects what is not a
/// number; `above`/`below` turn `>N`/`<N` into inclusive bounds; `valid` is the allowed span.
fn parse_range<T: Copy + PartialOrd>(
    text: &str,
    number: impl Fn(&str) -> Option<T>,
    above: impl Fn(T) -> T,
    below: impl Fn(T) -> T,
    valid: (T, T),
) -> Result<(Option<T>, Option<T>), RangeError<T>> {
    let num = |s: &str| number(s.trim()).ok_or(RangeError::Shape);
    let opt = |s: &str| {
        if s.trim().is_empty() {
            Ok(None)
        } else {
            num(s).map(Some)
        }
    };
    let (min, max) = if let Some(r) = text.strip_prefix(">=") {
        (Some(num(r)?), None)
    } else if let Some(r) = text.strip_prefix("<=") {
        (None, Some(num(r)?))
    } else if let Some(r) = text.strip_prefix('>') {
        (Some(above(num(r)?)), None)
    } else if let Some(r) = text.strip_prefix('<') {
        (None, Some(below(num(r)?)))
    } else if let Some(r) = text.strip_prefix('=') {
        let v = num(r)?;
        (Some(v), Some(v))
    } else if let Some((a, b)) = text.split_once("..<") {
        (opt(a)?, Some(below(num(b)?)))
    } else if let Some((a, b)) = text.split_once("..") {
        let range = (opt(a)?, opt(b)?);
        if range == (None, None) {
            return Err(RangeError::Shape);
        }
        range
    } else if let Some((a, b)) = text.split_once('-')
        && !a.trim().is_empty()
    {
        // `1990-1999` is how people write decades; a leading `-` is a negative number.
        (Some(num(a)?), Some(num(b)?))
    } else {
        let v = num(text)?;
        (Some(v), Some(v))
    };
    for v in [min, max].into_iter().flatten() {
        if !within(v, valid) {
            return Err(RangeError::OutOfRange(v));
        }
    }
    if let (Some(a), Some(b)) = (min, max)
        && a > b
    {
        return Err(RangeError::Backwards(a, b));
    }
    Ok((min, max))
}

/// Inclusive bounds check written so that NaN counts as outside.
fn within<T: PartialOrd>(v: T, (lo, hi): (T, T)) -> bool {
    v >= lo && v <= hi
}

/// ASCII digits only, saturating instead of overflowing so that absurd numbers get the
/// "out of range" message rather than "not a number".
fn parse_digits(s: &str) -> Option<u64> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some(s.bytes().fold(0u64, |acc, b| {
        acc.saturating_mul(10).saturating_add(u64::from(b - b'0'))
    }))
}

/// A decimal number: optional sign, digits, at most one point. Exponents, `inf` and `NaN`,
/// which Rust's float parser would accept, are not ratings anyone types.
fn parse_decimal(s: &str) -> Option<f32> {
    let body = s.strip_prefix(['-', '+']).unwrap_or(s);
    let digits = body.bytes().filter(u8::is_ascii_digit).count();
    let points = body.bytes().filter(|&b| b == b'.').count();
    if digits == 0 || points > 1 || digits + points != body.len() {
        return None;
    }
    s.parse::<f32>().ok()
}

const YEAR_SHAPE: &str = "expected a year like 1995 or a range like 1990..1999";
const RATING_SHAPE: &str = "expected a rating like 4 or 3.5, or a range like 3.5..5 or >=4";
const VOTES_SHAPE: &str =
    "expected a minimum number of votes like 100 or >=100, or a range like 10..99";

impl Token<'_> {
    fn error(&self, message: impl Into<String>) -> FilterParseError {
        FilterParseError {
            offset: self.start,
            token: self.raw.to_owned(),
            message: message.into(),
        }
    }

    fn empty_value(&self) -> FilterParseError {
        self.error("empty value: write it right after the colon, like year:1995")
    }

    fn unknown_key(&self, key: &str) -> FilterParseError {
        let lower = key.to_ascii_lowercase();
        let suggestion = FILTER_KEYS
            .iter()
            .map(|k| (edit_distance(&lower, k), *k))
            .filter(|(d, _)| *d <= 2)
            .min_by_key(|(d, _)| *d)
            .map(|(_, k)| format!("did you mean {k}? "))
            .unwrap_or_default();
        self.error(format!(
            "unknown key \"{key}\"; {suggestion}known keys: {}. To search titles for this \
             text, quote it: {}",
            FILTER_KEYS.join(", "),
            quote(self.raw)
        ))
    }

    /// The comma-separated items; empty items (a trailing comma while typing) are skipped.
    fn items(&self) -> Result<Vec<&str>, FilterParseError> {
        let text = self.value.text.as_str();
        let mut items = Vec::new();
        let mut from = 0;
        for &comma in self.value.commas.iter().chain(std::iter::once(&text.len())) {
            let item = text.get(from..comma).unwrap_or("").trim();
            if !item.is_empty() {
                items.push(item);
            }
            from = comma + 1;
        }
        if items.is_empty() {
            return Err(self.empty_value());
        }
        Ok(items)
    }

    fn genre_list(&self) -> Result<Vec<String>, FilterParseError> {
        Ok(self
            .items()?
            .into_iter()
            .map(|g| canonical_genre(g).into_owned())
            .collect())
    }

    fn sort_keys(&self) -> Result<Vec<SortKey>, FilterParseError> {
        let mut keys: Vec<SortKey> = Vec::new();
        for item in self.items()? {
            let (name, descending) = match item.strip_prefix('-') {
                Some(name) => (name, true),
                None => (item.strip_prefix('+').unwrap_or(item), false),
            };
            let Some(column) = SortColumn::from_name(name.trim()) else {
                let names: Vec<&str> = SortColumn::ALL.iter().map(|c| c.name()).collect();
                return Err(self.error(format!(
                    "unknown sort column \"{name}\"; expected {} (prefix - for descending)",
                    names.join(", ")
                )));
            };
            if !keys.iter().any(|k| k.column == column) {
                keys.push(SortKey { column, descending });
            }
        }
        Ok(keys)
    }

    fn trimmed_value(&self) -> Result<&str, FilterParseError> {
        let text = self.value.text.trim();
        if text.is_empty() {
            return Err(self.empty_value());
        }
        Ok(text)
    }

    fn year_range(&self) -> Result<Range<i16>, FilterParseError> {
        let text = self.trimmed_value()?;
        if text.eq_ignore_ascii_case("none") {
            return Ok(Range::missing());
        }
        // Years are parsed wide (i64) so absurd values get the out-of-range message.
        let number = |s: &str| parse_digits(s).map(|v| i64::try_from(v).unwrap_or(i64::MAX));
        let valid = (i64::from(MIN_YEAR), i64::from(MAX_YEAR));
        let above = |v: i64| v.saturating_add(1);
        let below = |v: i64| v.saturating_sub(1);
        match parse_range(text, number, above, below, valid) {
            Ok((min, max)) => {
                let narrow = |v: Option<i64>| v.and_then(|v| i16::try_from(v).ok());
                Ok(Range::new(narrow(min), narrow(max)))
            }
            Err(RangeError::Shape) => Err(self.error(YEAR_SHAPE)),
            Err(RangeError::OutOfRange(v)) => Err(self.error(format!(
                "year {v} is out of range; years go from {MIN_YEAR} to {MAX_YEAR}"
            ))),
            Err(RangeError::Backwards(a, b)) => Err(self.error(format!(
                "the range is backwards: {a} is after {b}; write {b}..{a}"
            ))),
        }
    }

    fn rating_range(&self) -> Result<Range<f32>, FilterParseError> {
        let text = self.trimmed_value()?;
        if text.eq_ignore_ascii_case("none") {
            return Ok(Range::missing());
        }
        // next_up/next_down make `>4` exact on a `real` column: the smallest f32 above 4.
        let number = |s: &str| parse_decimal(s).map(|v| v + 0.0);
        match parse_range(
            text,
            number,
            f32::next_up,
            f32::next_down,
            (0.0, MAX_RATING),
        ) {
            Ok((min, max)) => Ok(Range::new(min, max)),
            Err(RangeError::Shape) => Err(self.error(RATING_SHAPE)),
            Err(RangeError::OutOfRange(v)) => Err(self.error(format!(
                "rating {v} is out of range; ratings go from 0 to {MAX_RATING}"
            ))),
            Err(RangeError::Backwards(a, b)) => Err(self.error(format!(
                "the range is backwards: {a} is above {b}; write {b}..{a}"
            ))),
        }
    }

    fn votes_range(&self) -> Result<Range<u32>, FilterParseError> {
        let text = self.trimmed_value()?;
        // A bare number is a minimum: `votes:100` hides averages over fewer than 100 votes.
        if let Some(n) = parse_digits(text) {
            return Ok(Range::new(Some(self.vote_count(n)?), None));
        }
        let number = |s: &str| parse_digits(s);
        let above = |v: u64| v.saturating_add(1);
        let below = |v: u64| v.saturating_sub(1);
        match parse_range(text, number, above, below, (0, u64::MAX)) {
            Ok((min, max)) => {
                let min = min.map(|n| self.vote_count(n)).transpose()?;
                let max = max.map(|n| self.vote_count(n)).transpose()?;
                Ok(Range::new(min, max))
            }
            Err(RangeError::Shape) => Err(self.error(VOTES_SHAPE)),
            Err(RangeError::OutOfRange(v)) => Err(self.error(format!("{v} votes is out of range"))),
            Err(RangeError::Backwards(a, b)) => Err(self.error(format!(
                "the range is backwards: {a} is above {b}; write {b}..{a}"
            ))),
        }
    }

    fn vote_count(&self, n: u64) -> Result<u32, FilterParseError> {
        u32::try_from(n).map_err(|_| {
            self.error(format!(
                "{n} votes is too many; the most that can be asked for is {}",
                u32::MAX
            ))
        })
    }
}

/// Levenshtein distance over chars, to suggest the key the user probably meant.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, &cb) in b.iter().enumerate() {
            let substitute = diagonal + usize::from(ca != cb);
            diagonal = row[j + 1];
            row[j + 1] = substitute.min(row[j] + 1).min(diagonal + 1);
        }
    }
    row[b.len()]
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use proptest::prelude::*;

    fn parse(text: &str) -> Filter {
        match Filter::parse(text) {
            Ok(f) => f,
            Err(e) => panic!("{text:?} should parse, got: {e}"),
        }
    }

    fn parse_err(text: &str) -> FilterParseError {
        match Filter::parse(text) {
            Ok(f) => panic!("{text:?} should fail, got {f:?}"),
            Err(e) => e,
        }
    }

    fn strings(items: &[&str]) -> Vec<String> {
        items.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn spec_example_parses_and_prints_back() {
        let text = r#"title:"star wars" genre:Sci-Fi,Action genre-all:Drama,War genre-not:Horror year:1977..1983 rating:>=4 votes:>=100 tag:pixar sort:-rating,title"#;
        let f = parse(text);
        assert_eq!(f.title, "star wars");
        assert_eq!(f.genres.any_of, strings(&["Action", "Sci-Fi"]));
        assert_eq!(f.genres.all_of, strings(&["Drama", "War"]));
        assert_eq!(f.genres.none_of, strings(&["Horror"]));
        assert_eq!(f.year, Range::new(Some(1977), Some(1983)));
        assert_eq!(f.rating, Range::new(Some(4.0), None));
        assert_eq!(f.votes, Range::new(Some(100), None));
        assert_eq!(f.tags, ["pixar"]);
        assert_eq!(
            f.sort,
            vec![
                SortKey::desc(SortColumn::Rating),
                SortKey::asc(SortColumn::Title)
            ]
        );
        // Canonical form only differs in genre order.
        assert_eq!(f.to_text(), text.replace("Sci-Fi,Action", "Action,Sci-Fi"));
        assert_eq!(f.to_string(), f.to_text());
        assert_eq!(text.parse::<Filter>(), Ok(f));
    }

    #[test]
    fn empty_input_is_empty_filter() {
        for text in ["", "   ", "\t\n "] {
            let f = parse(text);
            assert!(f.is_empty());
            assert!(!f.has_conditions());
            assert_eq!(f.to_text(), "");
        }
        assert_eq!(Filter::default().to_text(), "");
    }

    #[test]
    fn is_empty_and_has_conditions() {
        let mut f = Filter::default();
        f.sort.push(SortKey::asc(SortColumn::Year));
        assert!(!f.is_empty());
        assert!(!f.has_conditions());
        let f = parse("votes:0");
        assert!(!f.is_empty());
        assert!(f.has_conditions());
    }

    #[test]
    fn bare_words_are_a_title_search() {
        assert_eq!(parse("star wars").title, "star wars");
        assert_eq!(parse("  star   wars  ").title, "star wars");
        assert_eq!(parse("\"star  wars\"").title, "star  wars");
        assert_eq!(parse("title:star wars").title, "star wars");
        assert_eq!(parse("wars title:star").title, "star wars");
        assert_eq!(parse("12:30 am").title, "12:30 am");
        assert_eq!(parse("\"year:1990\"").title, "year:1990");
        assert_eq!(parse("-horror").title, "-horror");
        assert_eq!(parse("a \"\" b").title, "a b");
        assert_eq!(parse("Amélie").title, "Amélie");
        assert_eq!(
            parse("Star Trek: The Motion Picture").title,
            "Star Trek: The Motion Picture"
        );
        assert_eq!(parse("alien: year:1979").title, "alien:");
        let f = parse("alien year:1979");
        assert_eq!(f.title, "alien");
        assert_eq!(f.year, Range::new(Some(1979), Some(1979)));
    }

    #[test]
    fn quoting_and_escapes() {
        assert_eq!(parse(r#"title:"a \"b\" c""#).title, r#"a "b" c"#);
        assert_eq!(parse(r#"title:"back\\slash""#).title, r"back\slash");
        assert_eq!(parse(r#"title:"c:\dir""#).title, r"c:\dir");
        assert_eq!(parse(r#"title:"x, y: z""#).title, "x, y: z");
        assert_eq!(parse(r#"title:ab"c d"e"#).title, "abc de");
        assert_eq!(parse(r#"title:"""#).title, "");
        assert_eq!(parse(r#"title:"year:1990""#).title, "year:1990");
        assert_eq!(parse("title:a:b").title, "a:b");
        let f = parse(r#"genre:"Film, Noir",Drama"#);
        assert_eq!(f.genres.any_of, strings(&["Drama", "Film, Noir"]));
    }

    #[test]
    fn keys_are_case_insensitive_and_scalars_last_wins() {
        let f = parse("YEAR:1990 Title:x TAG:a tag:b year:2001 sort:id SORT:-votes");
        assert_eq!(f.year, Range::new(Some(2001), Some(2001)));
        assert_eq!(f.title, "x");
        assert_eq!(f.tags, ["a", "b"], "tags accumulate");
        assert_eq!(f.sort, vec![SortKey::desc(SortColumn::Votes)]);
    }

    #[test]
    fn genres_normalize_and_accumulate() {
        let f = parse("genre:drama,SCI-FI genre:Comedy,drama genre-all:war,imax genre-not:x-genre");
        assert_eq!(f.genres.any_of, strings(&["Comedy", "Drama", "Sci-Fi"]));
        assert_eq!(f.genres.all_of, strings(&["IMAX", "War"]));
        assert_eq!(f.genres.none_of, strings(&["x-genre"]));
        // Trailing and doubled commas are forgiven while typing.
        assert_eq!(
            parse("genre:Drama,,War,").genres.any_of,
            strings(&["Drama", "War"])
        );
        assert_eq!(canonical_genre("film-noir"), "Film-Noir");
        assert_eq!(canonical_genre("Telenovela"), "Telenovela");
    }

    #[test]
    fn year_shapes() {
        let cases: &[(&str, Option<i16>, Option<i16>)] = &[
            ("year:1995", Some(1995), Some(1995)),
            ("year:=1995", Some(1995), Some(1995)),
            ("year:1990..1999", Some(1990), Some(1999)),
            ("year:1990-1999", Some(1990), Some(1999)),
            ("year:1990..", Some(1990), None),
            ("year:..1999", None, Some(1999)),
            ("year:>=1990", Some(1990), None),
            ("year:<=1999", None, Some(1999)),
            ("year:>1990", Some(1991), None),
            ("year:<2000", None, Some(1999)),
            ("year:1800..2200", Some(1800), Some(2200)),
            ("year:\" 1990 .. 1999 \"", Some(1990), Some(1999)),
        ];
        for &(text, min, max) in cases {
            assert_eq!(parse(text).year, Range::new(min, max), "{text}");
        }
    }

    #[test]
    fn rating_shapes() {
        assert_eq!(parse("rating:4").rating, Range::new(Some(4.0), Some(4.0)));
        assert_eq!(
            parse("rating:3.5..5").rating,
            Range::new(Some(3.5), Some(5.0))
        );
        assert_eq!(parse("rating:.5..").rating, Range::new(Some(0.5), None));
        assert_eq!(parse("rating:..4.5").rating, Range::new(None, Some(4.5)));
        assert_eq!(parse("rating:<=2").rating, Range::new(None, Some(2.0)));
        assert_eq!(parse("rating:3-4").rating, Range::new(Some(3.0), Some(4.0)));
        let above = parse("rating:>4").rating;
        assert_eq!(above.min, Some(4.0f32.next_up()));
        assert_eq!(
            parse(&format!("rating:{}", 4.0f32.next_up())).rating.min,
            above.min
        );
        assert_eq!(parse("rating:<5").rating.max, Some(5.0f32.next_down()));
        let zero = parse("rating:-0").rating;
        assert!(zero.min.is_some_and(|v| v.is_sign_positive()));
        assert_eq!(parse("rating:0.1").to_text(), "rating:0.1");
        assert_eq!(parse("rating:>4").to_text(), "rating:>4");
        assert_eq!(parse("rating:<4.5").to_text(), "rating:<4.5");
        assert_eq!(parse("rating:>=4.0000005").to_text(), "rating:>4");
        let both = Filter {
            rating: Range::new(Some(4.0f32.next_up()), Some(5.0)),
            ..Filter::default()
        };
        assert_eq!(both.to_text(), "rating:4.0000005..5");
    }

    #[test]
    fn votes_shapes() {
        let at_least = |n| Range::new(Some(n), None);
        assert_eq!(parse("votes:100").votes, at_least(100));
        assert_eq!(parse("votes:>=100").votes, at_least(100));
        assert_eq!(parse("votes:>100").votes, at_least(101));
        assert_eq!(parse("votes:100..").votes, at_least(100));
        assert_eq!(parse("votes:4294967295").votes, at_least(u32::MAX));
        assert_eq!(parse("votes:10..99").votes, Range::new(Some(10), Some(99)));
        assert_eq!(
            parse("votes:10..<100").votes,
            Range::new(Some(10), Some(99))
        );
        assert_eq!(parse("votes:<=0").votes, Range::new(None, Some(0)));
        assert_eq!(parse("votes:10..99").to_text(), "votes:10..99");
        assert_eq!(parse("votes:0..0").to_text(), "votes:0..0");
        assert_eq!(parse("votes:100").to_text(), "votes:>=100");
    }

    #[test]
    fn missing_values_and_half_open_ranges_round_trip() {
        let f = parse("year:none rating:NONE");
        assert_eq!(f.year, Range::missing());
        assert_eq!(f.rating, Range::missing());
        assert!(f.has_conditions());
        assert_eq!(f.to_text(), "year:none rating:none");
        // The last one wins, as for every single-valued key.
        assert_eq!(
            parse("year:none year:1995").year,
            Range::new(Some(1995), Some(1995))
        );
        let bucket = parse("rating:3.5..<4");
        assert_eq!(
            bucket.rating,
            Range::new(Some(3.5), Some(4.0f32.next_down()))
        );
        assert_eq!(bucket.to_text(), "rating:3.5..<4");
        assert_eq!(
            parse("year:1990..<2000").year,
            Range::new(Some(1990), Some(1999))
        );
        for text in [
            "year:none",
            "rating:3.5..<4",
            "votes:10..99",
            "tag:a tag:\"b c\"",
        ] {
            assert_eq!(parse(&parse(text).to_text()), parse(text), "{text}");
        }
    }

    #[test]
    fn sort_parsing() {
        let f = parse("sort:-Rating,+title,year,-rating");
        assert_eq!(
            f.sort,
            vec![
                SortKey::desc(SortColumn::Rating),
                SortKey::asc(SortColumn::Title),
                SortKey::asc(SortColumn::Year)
            ]
        );
        assert_eq!(f.to_text(), "sort:-rating,title,year");
    }

    #[test]
    fn to_text_quotes_only_when_needed() {
        let mut f = Filter {
            title: "Heat".into(),
            tags: vec!["pixar".into()],
            ..Filter::default()
        };
        assert_eq!(f.to_text(), "title:Heat tag:pixar");
        for (title, text) in [
            ("star wars", r#"title:"star wars""#),
            ("a\"b", r#"title:"a\"b""#),
            ("a\\b", r#"title:"a\\b""#),
            ("a,b", r#"title:"a,b""#),
            ("year:1990", r#"title:"year:1990""#),
            ("-x", r#"title:"-x""#),
            (">=4", r#"title:">=4""#),
            ("Amélie", "title:Amélie"),
        ] {
            f.title = title.into();
            assert!(
                f.to_text().starts_with(text),
                "{title:?} -> {}",
                f.to_text()
            );
            assert_eq!(Filter::parse(&f.to_text()), Ok(f.clone()));
        }
        f.tags = vec![String::new()];
        assert!(f.to_text().ends_with("tag:\"\""));
    }

    #[test]
    fn range_text_forms() {
        let f = Filter {
            year: Range::new(Some(1990), None),
            rating: Range::new(None, Some(4.5)),
            ..Filter::default()
        };
        assert_eq!(f.to_text(), "year:>=1990 rating:<=4.5");
    }

    #[test]
    fn error_display_reads_well() {
        let e = parse_err("genre:Drama year:19x7");
        assert_eq!(e.offset, 12);
        assert_eq!(e.token, "year:19x7");
        assert_eq!(
            e.to_string(),
            "year:19x7 — expected a year like 1995 or a range like 1990..1999 (at character 12)"
        );
    }

    #[test]
    fn errors_cover_each_mistake() {
        let cases: &[(&str, usize, &str, &str)] = &[
            ("yaer:1990", 0, "yaer:1990", "did you mean year?"),
            ("trek:the", 0, "trek:the", "quote it: \"trek:the\""),
            ("a foo:bar", 2, "foo:bar", "known keys: title, genre"),
            ("x title:\"abc", 2, "title:\"abc", "unterminated quote"),
            ("\"abc def", 0, "\"abc def", "unterminated quote"),
            ("title:\"a\\\"", 0, "title:\"a\\\"", "unterminated quote"),
            (
                "votes:lots",
                0,
                "votes:lots",
                "expected a minimum number of votes",
            ),
            ("votes:99..10", 0, "votes:99..10", "backwards"),
            ("votes:99999999999", 0, "votes:99999999999", "too many"),
            ("votes:>4294967295", 0, "votes:>4294967295", "too many"),
            ("rating:abc", 0, "rating:abc", "expected a rating"),
            ("rating:1e3", 0, "rating:1e3", "expected a rating"),
            ("rating:NaN", 0, "rating:NaN", "expected a rating"),
            ("rating:inf", 0, "rating:inf", "expected a rating"),
            ("year:1799", 0, "year:1799", "out of range"),
            ("year:2201", 0, "year:2201", "out of range"),
            ("year:>2200", 0, "year:>2200", "out of range"),
            (
                "year:99999999999999999999999",
                0,
                "year:99999999999999999999999",
                "out of range",
            ),
            ("year:-5", 0, "year:-5", "expected a year"),
            ("year:..", 0, "year:..", "expected a year"),
            ("rating:5.5", 0, "rating:5.5", "out of range"),
            ("rating:-1", 0, "rating:-1", "out of range"),
            ("rating:>5", 0, "rating:>5", "out of range"),
            ("year:1999..1990", 0, "year:1999..1990", "backwards"),
            ("rating:4..3", 0, "rating:4..3", "backwards"),
            (
                "sort:rating,bogus",
                0,
                "sort:rating,bogus",
                "unknown sort column \"bogus\"",
            ),
            ("year:", 0, "year:", "empty value"),
            ("title:", 0, "title:", "empty value"),
            ("tag:\"\"", 0, "tag:\"\"", "empty value"),
            ("bogus:\"\"", 0, "bogus:\"\"", "unknown key"),
            ("genre:,", 0, "genre:,", "empty value"),
            ("sort:", 0, "sort:", "empty value"),
            ("year:\"\"", 0, "year:\"\"", "empty value"),
        ];
        for &(text, offset, token, needle) in cases {
            let e = parse_err(text);
            assert_eq!((e.offset, e.token.as_str()), (offset, token), "{text}");
            assert!(e.message.contains(needle), "{text}: {}", e.message);
        }
    }

    #[test]
    fn first_error_wins_and_offsets_are_bytes() {
        let e = parse_err("Amélie year:x sort:nope");
        assert_eq!(e.offset, "Amélie ".len());
        assert_eq!(e.token, "year:x");
    }

    #[test]
    fn error_display_is_short_and_escaped() {
        let long = format!("year:{}", "9".repeat(10_000));
        let shown = parse_err(&long).to_string();
        assert!(shown.len() < 300, "{shown}");
        assert!(shown.contains('…'));
        let shown = parse_err("year:1\u{0}").to_string();
        assert!(!shown.contains('\u{0}'));
        assert!(shown.contains("\\u{0}"));
    }

    #[test]
    fn huge_inputs_do_not_panic() {
        let inputs = [
            "a".repeat(10_000),
            "\"".repeat(10_000),
            "\"".repeat(10_001),
            "\\".repeat(10_000),
            ",".repeat(10_000),
            format!("genre:{}", ",".repeat(10_000)),
            format!("rating:{}", "9".repeat(10_000)),
            format!("rating:0.{}", "1".repeat(10_000)),
            format!("{}:x", "k".repeat(10_000)),
            "year:1990 ".repeat(1_000),
            "\u{0}".repeat(10_000),
            "é:".repeat(5_000),
            "\"\\".repeat(5_000),
        ];
        for input in &inputs {
            if let Err(e) = Filter::parse(input) {
                assert!(input.is_char_boundary(e.offset));
                assert!(input[e.offset..].starts_with(&e.token));
            }
        }
    }

    #[test]
    fn toggle_sort_behaves_like_table_headers() {
        let mut f = Filter::default();
        f.toggle_sort(SortColumn::Title, false);
        assert_eq!(f.sort, vec![SortKey::asc(SortColumn::Title)]);
        f.toggle_sort(SortColumn::Title, false);
        assert_eq!(f.sort, vec![SortKey::desc(SortColumn::Title)]);
        f.toggle_sort(SortColumn::Year, false);
        assert_eq!(f.sort, vec![SortKey::asc(SortColumn::Year)]);
        // Measures enter best first (descending), also as an added key.
        f.toggle_sort(SortColumn::Rating, true);
        f.toggle_sort(SortColumn::Votes, true);
        assert_eq!(f.sort_direction(SortColumn::Rating), Some((1, true)));
        f.toggle_sort(SortColumn::Rating, true);
        assert_eq!(f.sort_direction(SortColumn::Rating), Some((1, false)));
        assert_eq!(f.sort_direction(SortColumn::Votes), Some((2, true)));
        assert_eq!(f.sort_direction(SortColumn::Id), None);
        // Plain click on a column of a multi-sort keeps only it, with its direction.
        f.toggle_sort(SortColumn::Rating, false);
        assert_eq!(f.sort, vec![SortKey::asc(SortColumn::Rating)]);
        f.toggle_sort(SortColumn::Rating, false);
        assert_eq!(f.sort, vec![SortKey::desc(SortColumn::Rating)]);
        // Additive click on an empty sort just adds the column, best first.
        let mut g = Filter::default();
        g.toggle_sort(SortColumn::Votes, true);
        assert_eq!(g.sort, vec![SortKey::desc(SortColumn::Votes)]);
    }

    #[test]
    fn the_first_click_on_a_measure_sorts_best_first() {
        for column in [SortColumn::Rating, SortColumn::Votes] {
            let mut f = Filter::default();
            f.toggle_sort(column, false);
            assert_eq!(f.sort, vec![SortKey::desc(column)]);
            assert_eq!(f.to_text(), format!("sort:-{column}"));
            f.toggle_sort(column, false);
            assert_eq!(f.sort, vec![SortKey::asc(column)]);
        }
        for column in [SortColumn::Id, SortColumn::Title, SortColumn::Year] {
            let mut f = Filter::default();
            f.toggle_sort(column, false);
            assert_eq!(f.sort, vec![SortKey::asc(column)]);
        }
    }

    #[test]
    fn normalize_fixes_what_the_gui_might_produce() {
        let mut f = Filter {
            title: "  x ".into(),
            genres: GenreFilter {
                any_of: strings(&["drama", " Drama ", "", "zzz", "Action"]),
                ..GenreFilter::default()
            },
            year: Range::new(Some(2000), Some(1990)),
            rating: Range::new(Some(f32::NAN), Some(-0.0)),
            tags: vec![String::new(), "Pixar".into(), "pixar".into()],
            sort: vec![SortKey::asc(SortColumn::Id), SortKey::desc(SortColumn::Id)],
            ..Filter::default()
        };
        f.normalize();
        assert_eq!(f.title, "x");
        assert_eq!(f.genres.any_of, strings(&["Action", "Drama", "zzz"]));
        assert_eq!(f.year, Range::new(Some(1990), Some(2000)));
        assert_eq!(f.rating, Range::new(None, Some(0.0)));
        assert!(f.rating.max.is_some_and(|v| v.is_sign_positive()));
        assert_eq!(f.tags, ["Pixar"], "empty and repeated tags are dropped");
        assert_eq!(f.sort, vec![SortKey::asc(SortColumn::Id)]);
    }

    #[test]
    fn serde_defaults_missing_fields() {
        // Saved settings from an older version must still load.
        let f: Filter = match serde::Deserialize::deserialize(serde::de::value::MapDeserializer::<
            _,
            serde::de::value::Error,
        >::new(std::iter::once((
            "title", "x",
        )))) {
            Ok(f) => f,
            Err(e) => panic!("{e}"),
        };
        assert_eq!(f.title, "x");
        assert!(f.sort.is_empty());
    }

    #[test]
    fn edit_distance_basics() {
        assert_eq!(edit_distance("yaer", "year"), 2);
        assert_eq!(edit_distance("genres", "genre"), 1);
        assert_eq!(edit_distance("", "tag"), 3);
        assert_eq!(edit_distance("tag", "tag"), 0);
    }

    // ---- property tests -------------------------------------------------------------

    /// Text that stresses the text form: anything at all, plus the characters and shapes
    /// that need quoting or look like syntax.
    pub(crate) fn arb_text() -> impl Strategy<Value = String> {
        prop_oneof![
            any::<String>(),
            "[a-zA-Z0-9 :,\"\\\\'éüß日本\\-<>=.+\t\\x00\u{a0}\u{2028}]{0,24}",
            prop::sample::select(vec![
                "year:1990",
                "title:\"x\"",
                "genre:Drama",
                "sort:-rating",
                "\"",
                "\\",
                "\\\"",
                ",",
                ":",
                "-rating",
                "..",
                ">=4",
                "Amélie",
                "WALL·E",
                "'; DROP TABLE movies; --",
                "100%_",
            ])
            .prop_map(String::from),
        ]
    }

    fn arb_genre() -> impl Strategy<Value = String> {
        prop_oneof![
            (prop::sample::select(KNOWN_GENRES), 0..3u8).prop_map(|(g, case)| match case {
                0 => g.to_lowercase(),
                1 => g.to_uppercase(),
                _ => g.to_string(),
            }),
            arb_text(),
        ]
    }

    fn arb_rating() -> impl Strategy<Value = f32> {
        prop_oneof![
            0.0f32..=MAX_RATING,
            prop::sample::select(vec![
                0.0f32,
                0.5,
                MAX_RATING,
                4.0f32.next_up(),
                MAX_RATING.next_down(),
                f32::from_bits(1),
                f32::MIN_POSITIVE,
                0.1,
                1.0 / 3.0,
            ]),
        ]
    }

    fn ordered<T: PartialOrd>(a: Option<T>, b: Option<T>) -> Range<T> {
        let mut r = Range::new(a, b);
        order_range(&mut r);
        r
    }

    /// Valid, normalized filters: the domain of the round-trip property.
    pub(crate) fn arb_filter() -> impl Strategy<Value = Filter> {
        let genres = || prop::collection::vec(arb_genre(), 0..4);
        let year = || prop::option::of(MIN_YEAR..=MAX_YEAR);
        let rating = || prop::option::of(arb_rating());
        let sort = prop::sample::subsequence(SortColumn::ALL.to_vec(), 0..=5)
            .prop_shuffle()
            .prop_flat_map(|cols| {
                let n = cols.len();
                (Just(cols), prop::collection::vec(any::<bool>(), n))
            })
            .prop_map(|(cols, desc)| {
                cols.into_iter()
                    .zip(desc)
                    .map(|(column, descending)| SortKey { column, descending })
                    .collect::<Vec<_>>()
            });
        (
            arb_text(),
            (genres(), genres(), genres()),
            (year(), year()),
            (rating(), rating()),
            (
                prop::option::of(any::<u32>()),
                prop::option::of(any::<u32>()),
            ),
            prop::collection::vec(arb_text(), 0..3),
            sort,
        )
            .prop_map(
                |(title, (any_of, all_of, none_of), (y1, y2), (r1, r2), (v1, v2), tags, sort)| {
                    let mut f = Filter {
                        title,
                        genres: GenreFilter {
                            any_of,
                            all_of,
                            none_of,
                        },
                        year: ordered(y1, y2),
                        rating: ordered(r1, r2),
                        votes: ordered(v1, v2),
                        tags,
                        sort,
                    };
                    f.normalize();
                    f
                },
            )
    }

    /// Inputs built from syntax fragments, so that parsing reaches every branch (an
    /// arbitrary string rarely spells `year:`).
    fn arb_soup(max_tokens: usize) -> impl Strategy<Value = String> {
        let piece = prop_oneof![
            prop::sample::select(vec![
                "title:",
                "genre:",
                "genre-all:",
                "genre-not:",
                "year:",
                "rating:",
                "votes:",
                "tag:",
                "sort:",
                "YEAR:",
                "bogus:",
                "\"",
                "\\",
                "\\\"",
                ",",
                ":",
                "..",
                ">=",
                "<=",
                ">",
                "<",
                "=",
                "-",
                "+",
                ".",
                " ",
                "  ",
                "\t",
                "\u{0}",
                "1995",
                "1800",
                "2200",
                "0",
                "4.5",
                "5",
                "99999999999999999999999999",
                "4294967296",
                "Drama",
                "sci-fi",
                "rating",
                "-votes",
                "é",
                "日本",
                "\u{a0}",
                "\u{2028}",
                "NaN",
                "inf",
                "1e3",
                "x",
            ])
            .prop_map(String::from),
            any::<String>(),
        ];
        prop::collection::vec(piece, 0..max_tokens).prop_map(|v| v.concat())
    }

    fn check_parse_contract(input: &str) -> Result<(), TestCaseError> {
        match Filter::parse(input) {
            Ok(f) => {
                // Whatever parses is normalized and round-trips through its canonical text.
                let mut normalized = f.clone();
                normalized.normalize();
                prop_assert_eq!(&normalized, &f);
                prop_assert_eq!(Filter::parse(&f.to_text()), Ok(f));
            }
            Err(e) => {
                prop_assert!(e.offset < input.len().max(1));
                prop_assert!(input.is_char_boundary(e.offset));
                prop_assert!(!e.token.is_empty());
                prop_assert!(input[e.offset..].starts_with(&e.token));
                prop_assert!(!e.message.is_empty());
                prop_assert!(e.to_string().contains(&e.message));
            }
        }
        Ok(())
    }

    proptest! {
        #[test]
        fn round_trip(f in arb_filter()) {
            let text = f.to_text();
            prop_assert_eq!(Filter::parse(&text), Ok(f.clone()), "text: {}", text);
            prop_assert_eq!(text.is_empty(), f.is_empty());
        }

        #[test]
        fn parse_never_panics_on_arbitrary_strings(s in any::<String>()) {
            check_parse_contract(&s)?;
        }

        #[test]
        fn parse_never_panics_on_syntax_soup(s in arb_soup(24)) {
            check_parse_contract(&s)?;
        }

        #[test]
        fn known_genres_any_case(g in prop::sample::select(KNOWN_GENRES), flips in prop::collection::vec(any::<bool>(), 12)) {
            let typed: String = g.chars().zip(flips.iter().cycle()).map(|(c, &up)| {
                if up { c.to_ascii_uppercase() } else { c.to_ascii_lowercase() }
            }).collect();
            let f = Filter::parse(&format!("genre:{typed}"));
            prop_assert_eq!(f.map(|f| f.genres.any_of), Ok(vec![g.to_string()]));
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(24))]

        #[test]
        fn parse_never_panics_on_long_inputs(s in arb_soup(2_500)) {
            check_parse_contract(&s)?;
        }

        #[test]
        fn parse_never_panics_on_long_arbitrary(s in prop::collection::vec(any::<char>(), 9_000..10_001)) {
            let s: String = s.into_iter().collect();
            check_parse_contract(&s)?;
        }
    }
}
