//! Turns a [`Filter`] into parameterized SQL fragments for the `movies` table.
//!
//! User text only ever travels as bind parameters, never inside the SQL string, so no
//! title, tag or genre can change the shape of a query. Every parameter carries its
//! PostgreSQL type because queries go through `Client::query_typed`: behind PgBouncer in
//! transaction mode there are no named prepared statements to infer types from.

use postgres::types::{ToSql, Type};

use crate::db::source::Source;
use crate::filter::{Filter, Range, SortColumn, SortKey};

/// One bind parameter, owned so that [`SqlParts`] can outlive the filter it came from.
#[derive(Clone, Debug, PartialEq)]
pub enum Param {
    /// `text`: titles, patterns, tags.
    Text(String),
    /// `text[]`: genre lists.
    TextArray(Vec<String>),
    /// `smallint`: years.
    Int2(i16),
    /// `integer`: vote counts.
    Int4(i32),
    /// `real`: average ratings, compared exactly with the `real` column.
    Float4(f32),
}

impl Param {
    /// The value and its PostgreSQL type, in the shape `query_typed` takes.
    pub fn as_typed(&self) -> (&(dyn ToSql + Sync), Type) {
        match self {
            Param::Text(v) => (v, Type::TEXT),
            Param::TextArray(v) => (v, Type::TEXT_ARRAY),
            Param::Int2(v) => (v, Type::INT2),
            Param::Int4(v) => (v, Type::INT4),
            Param::Float4(v) => (v, Type::FLOAT4),
        }
    }
}

/// A WHERE condition and the parameters its `$1..$n` placeholders refer to.
#[derive(Clone, Debug, PartialEq)]
pub struct SqlParts {
    /// Conditions joined by `AND`; `TRUE` when the filter has no condition, so it can
    /// always be pasted after `WHERE`.
    pub where_sql: String,
    /// `params[i]` is `$(i + 1)`.
    pub params: Vec<Param>,
}

impl SqlParts {
    /// The parameters as `query_typed` wants them.
    pub fn typed_params(&self) -> Vec<(&(dyn ToSql + Sync), Type)> {
        self.params.iter().map(Param::as_typed).collect()
    }

    /// Adds a parameter and returns its placeholder, so callers can append their own
    /// conditions, `LIMIT` or keyset values with numbering that stays consistent.
    pub fn bind(&mut self, param: Param) -> String {
        self.params.push(param);
        format!("${}", self.params.len())
    }
}

/// The WHERE condition selecting the movies `filter` asks for. `alias` is how the query
/// names the `movies` relation (e.g. `"m"` for `FROM marquee.movies m`; `""` for no alias). It
/// is programmer-chosen, not user input. `source` says how text is folded and where the tags
/// are: the same filter reads Marquee's tables or a user's tables in place.
pub fn where_clause(filter: &Filter, alias: &str, source: &Source) -> SqlParts {
    debug_assert!(
        alias.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'),
        "table alias must be a plain identifier: {alias:?}"
    );
    let mut parts = SqlParts {
        where_sql: String::new(),
        params: Vec::new(),
    };
    let mut conditions: Vec<String> = Vec::new();

    if !filter.title.is_empty() {
        // Fold both sides so "amelie" finds "Amélie" (Marquee's schema stores the folded title);
        // the pattern is escaped before folding, and like_pattern also escapes what folding
        // would turn into wildcards.
        let p = parts.bind(Param::Text(like_pattern(&filter.title)));
        conditions.push(format!(
            "{} LIKE {} ESCAPE '\\'",
            source.folded_title(alias),
            source.fold(&p)
        ));
    }

    let genres = col(alias, "genres");
    let genre_lists = [
        (&filter.genres.any_of, "{g} && {p}"),
        (&filter.genres.all_of, "{g} @> {p}"),
        (&filter.genres.none_of, "NOT ({g} && {p})"),
    ];
    for (list, template) in genre_lists {
        if !list.is_empty() {
            let names = list.iter().map(|g| without_nul(g)).collect();
            let p = parts.bind(Param::TextArray(names));
            conditions.push(template.replace("{g}", &genres).replace("{p}", &p));
        }
    }

    range_conditions(
        &mut conditions,
        &mut parts,
        &col(alias, "year"),
        &filter.year,
        Param::Int2,
    );
    range_conditions(
        &mut conditions,
        &mut parts,
        &col(alias, "rating_avg"),
        &filter.rating,
        Param::Float4,
    );

    // rating_count is an integer column; no count can exceed i32::MAX, so clamping keeps
    // "at least N" exact for every count that can exist.
    range_conditions(
        &mut conditions,
        &mut parts,
        &col(alias, "rating_count"),
        &filter.votes,
        |v| Param::Int4(i32::try_from(v).unwrap_or(i32::MAX)),
    );

    for tag in &filter.tags {
        let p = parts.bind(Param::Text(without_nul(tag)));
        // The inner alias must differ from the outer one or `t.id` would point inward.
        let t = if alias.eq_ignore_ascii_case("t") {
            "tg"
        } else {
            "t"
        };
        let outer_id = if alias.is_empty() {
            // Without an alias, a table name is what the query can refer to.
            format!("{}.id", source.movies)
        } else {
            col(alias, "id")
        };
        conditions.push(format!(
            "EXISTS (SELECT 1 FROM {} {t} WHERE {t}.movie_id = {outer_id} AND {} = {})",
            source.tags,
            source.fold(&format!("{t}.tag")),
            source.fold(&p)
        ));
    }

    parts.where_sql = if conditions.is_empty() {
        "TRUE".to_owned()
    } else {
        conditions.join(" AND ")
    };
    parts
}

/// `>=`/`<=` conditions for a range, or a single `=` when both ends are equal so the
/// planner sees an equality (and one parameter is enough).
fn range_conditions<T: Copy + PartialEq>(
    conditions: &mut Vec<String>,
    parts: &mut SqlParts,
    column: &str,
    range: &Range<T>,
    param: fn(T) -> Param,
) {
    if range.missing {
        conditions.push(format!("{column} IS NULL"));
        return;
    }
    match (range.min, range.max) {
        (Some(a), Some(b)) if a == b => {
            let p = parts.bind(param(a));
            conditions.push(format!("{column} = {p}"));
        }
        (min, max) => {
            if let Some(a) = min {
                let p = parts.bind(param(a));
                conditions.push(format!("{column} >= {p}"));
            }
            if let Some(b) = max {
                let p = parts.bind(param(b));
                conditions.push(format!("{column} <= {p}"));
            }
        }
    }
}

/// The ORDER BY list (without the keywords) for `sort`. It always ends with the id unless
/// id is already a key, so paging sees a total order; nullable columns sort NULLs last in
/// both directions so movies without a year or rating never crowd the top.
pub fn order_by(sort: &[SortKey], alias: &str) -> String {
    sort_terms(sort)
        .iter()
        .map(|t| {
            let direction = if t.descending { "DESC" } else { "ASC" };
            let nulls = if t.nullable { " NULLS LAST" } else { "" };
            format!("{} {direction}{nulls}", col(alias, t.name))
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// A condition true of the rows of `alias` that come strictly after the row `last` in the
/// order [`order_by`] gives `sort` (keyset paging): equal on the first terms and after on the
/// next, with nulls last in both directions. The order ends in the unique id, so it is total.
pub fn after_row(sort: &[SortKey], alias: &str, last: &str) -> String {
    let terms = sort_terms(sort);
    let same = |t: &SortTerm| {
        let (a, b) = (col(alias, t.name), col(last, t.name));
        if t.nullable {
            format!("{a} IS NOT DISTINCT FROM {b}")
        } else {
            format!("{a} = {b}")
        }
    };
    let beyond = |t: &SortTerm| {
        let (a, b) = (col(alias, t.name), col(last, t.name));
        let op = if t.descending { "<" } else { ">" };
        if t.nullable {
            // After a value: past it, or null (last). After a null: only equal nulls follow.
            format!("({b} IS NOT NULL AND ({a} {op} {b} OR {a} IS NULL))")
        } else {
            format!("{a} {op} {b}")
        }
    };
    (0..terms.len())
        .map(|i| {
            let mut parts: Vec<String> = terms[..i].iter().map(same).collect();
            parts.push(beyond(&terms[i]));
            format!("({})", parts.join(" AND "))
        })
        .collect::<Vec<_>>()
        .join(" OR ")
}

/// Where a keyset read of `m` resumes: after one row, joined in by its id.
pub struct Resume {
    /// Joins that row in as `last`; appended to `FROM {movies} m`.
    pub from: String,
    /// [`after_row`] of `m` against `last`.
    pub condition: String,
}

/// Resumes after the row of `movies` whose id is `id` (an SQL expression: a bind parameter, or
/// a literal the caller read back from the server), in the order of `sort`. One way for the
/// chunked result index and the chunked export alike.
pub fn resume_after(movies: &str, sort: &[SortKey], id: &str) -> Resume {
    Resume {
        from: format!(", (SELECT * FROM {movies} l WHERE l.id = {id}) last"),
        condition: after_row(sort, "m", "last"),
    }
}

/// One column of an order: the sort's keys without repeats, then `id` if they lack it.
struct SortTerm {
    name: &'static str,
    nullable: bool,
    descending: bool,
}

fn sort_terms(sort: &[SortKey]) -> Vec<SortTerm> {
    let mut seen: Vec<SortColumn> = Vec::new();
    let mut terms = Vec::new();
    for key in sort {
        if seen.contains(&key.column) {
            continue;
        }
        seen.push(key.column);
        let (name, nullable) = match key.column {
            SortColumn::Id => ("id", false),
            SortColumn::Title => ("title", false),
            SortColumn::Year => ("year", true),
            SortColumn::Rating => ("rating_avg", true),
            SortColumn::Votes => ("rating_count", false),
        };
        terms.push(SortTerm {
            name,
            nullable,
            descending: key.descending,
        });
    }
    if !seen.contains(&SortColumn::Id) {
        terms.push(SortTerm {
            name: "id",
            nullable: false,
            descending: false,
        });
    }
    terms
}

/// A LIKE pattern matching `user_text` literally anywhere: `\`, `%` and `_` are escaped
/// with `\` (use `ESCAPE '\'`) and the result is wrapped in `%...%`. NUL is dropped (PostgreSQL
/// text cannot hold it), so the pattern is always a valid text parameter.
///
/// The title condition folds this pattern with `marquee_fold`, which keeps ASCII `\ % _`
/// as they are but, through PostgreSQL's stock unaccent rules, turns fullwidth and
/// compatibility forms into them (`％ ﹪` → `%`, `＿` → `_`, `＼ ﹨ ∖` → `\`). Those are
/// escaped as their ASCII equivalent here, so after folding they still match literally
/// (and exactly what the folded title holds) instead of becoming wildcards.
pub fn like_pattern(user_text: &str) -> String {
    let mut out = String::with_capacity(user_text.len() + 4);
    out.push('%');
    for c in user_text.chars() {
        match c {
            '\\' | '%' | '_' => {
                out.push('\\');
                out.push(c);
            }
            '％' | '﹪' => out.push_str("\\%"),
            '＿' => out.push_str("\\_"),
            '＼' | '﹨' | '∖' => out.push_str("\\\\"),
            '\0' => {}
            _ => out.push(c),
        }
    }
    out.push('%');
    out
}

/// PostgreSQL text cannot hold NUL, so no stored title or tag contains one; sending it
/// would only fail the whole query with an encoding error. Dropping it keeps the query
/// valid and the rest of the user's text meaningful.
fn without_nul(text: &str) -> String {
    text.replace('\0', "")
}

fn col(alias: &str, name: &str) -> String {
    if alias.is_empty() {
        name.to_owned()
    } else {
        format!("{alias}.{name}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Marquee's own schema, the source most databases hold.
    fn where_clause(filter: &Filter, alias: &str) -> SqlParts {
        super::where_clause(filter, alias, &Source::default())
    }
    use crate::filter::GenreFilter;
    use crate::filter::tests::arb_filter;
    use proptest::prelude::*;

    fn strings(items: &[&str]) -> Vec<String> {
        items.iter().map(|s| s.to_string()).collect()
    }

    fn parsed(text: &str) -> Filter {
        match Filter::parse(text) {
            Ok(f) => f,
            Err(e) => panic!("{e}"),
        }
    }

    #[test]
    fn empty_filter_is_true() {
        let parts = where_clause(&Filter::default(), "m");
        assert_eq!(parts.where_sql, "TRUE");
        assert!(parts.params.is_empty());
        // Sorting does not add conditions.
        let parts = where_clause(&parsed("sort:-rating"), "m");
        assert_eq!(parts.where_sql, "TRUE");
    }

    #[test]
    fn title_condition() {
        let parts = where_clause(&parsed("star wars"), "m");
        assert_eq!(
            parts.where_sql,
            r#"m.title_fold LIKE "marquee".marquee_fold($1) ESCAPE '\'"#
        );
        assert_eq!(parts.params, vec![Param::Text("%star wars%".into())]);
    }

    #[test]
    fn genre_conditions() {
        let parts = where_clause(&parsed("genre:drama,War"), "m");
        assert_eq!(parts.where_sql, "m.genres && $1");
        assert_eq!(
            parts.params,
            vec![Param::TextArray(strings(&["Drama", "War"]))]
        );

        let parts = where_clause(&parsed("genre-all:Drama,War"), "m");
        assert_eq!(parts.where_sql, "m.genres @> $1");

        let parts = where_clause(&parsed("genre-not:Horror"), "m");
        assert_eq!(parts.where_sql, "NOT (m.genres && $1)");
        assert_eq!(parts.params, vec![Param::TextArray(strings(&["Horror"]))]);
    }

    #[test]
    fn year_conditions() {
        let cases = [
            ("year:1995", "m.year = $1", vec![Param::Int2(1995)]),
            (
                "year:1990..1999",
                "m.year >= $1 AND m.year <= $2",
                vec![Param::Int2(1990), Param::Int2(1999)],
            ),
            ("year:>1990", "m.year >= $1", vec![Param::Int2(1991)]),
            ("year:..1999", "m.year <= $1", vec![Param::Int2(1999)]),
        ];
        for (text, sql, params) in cases {
            let parts = where_clause(&parsed(text), "m");
            assert_eq!(
                (parts.where_sql.as_str(), parts.params),
                (sql, params),
                "{text}"
            );
        }
    }

    #[test]
    fn rating_conditions() {
        let parts = where_clause(&parsed("rating:3.5..4.5"), "m");
        assert_eq!(parts.where_sql, "m.rating_avg >= $1 AND m.rating_avg <= $2");
        assert_eq!(parts.params, vec![Param::Float4(3.5), Param::Float4(4.5)]);
        let parts = where_clause(&parsed("rating:4"), "m");
        assert_eq!(parts.where_sql, "m.rating_avg = $1");
        let parts = where_clause(&parsed("rating:>4"), "m");
        assert_eq!(parts.params, vec![Param::Float4(4.0f32.next_up())]);
    }

    #[test]
    fn votes_condition() {
        let parts = where_clause(&parsed("votes:>=100"), "m");
        assert_eq!(parts.where_sql, "m.rating_count >= $1");
        assert_eq!(parts.params, vec![Param::Int4(100)]);
        let parts = where_clause(&parsed("votes:4294967295"), "m");
        assert_eq!(parts.params, vec![Param::Int4(i32::MAX)]);
    }

    #[test]
    fn tag_condition() {
        let parts = where_clause(&parsed("tag:Pixar"), "m");
        assert_eq!(
            parts.where_sql,
            "EXISTS (SELECT 1 FROM \"marquee\".tags t WHERE t.movie_id = m.id \
             AND \"marquee\".marquee_fold(t.tag) = \"marquee\".marquee_fold($1))"
        );
        assert_eq!(parts.params, vec![Param::Text("Pixar".into())]);
    }

    #[test]
    fn aliases() {
        let f = parsed("x tag:y year:2000");
        let parts = where_clause(&f, "");
        assert_eq!(
            parts.where_sql,
            "title_fold LIKE \"marquee\".marquee_fold($1) ESCAPE '\\' AND year = $2 AND \
             EXISTS (SELECT 1 FROM \"marquee\".tags t WHERE t.movie_id = \"marquee\".movies.id \
             AND \"marquee\".marquee_fold(t.tag) = \"marquee\".marquee_fold($3))"
        );
        let parts = where_clause(&f, "t");
        assert!(
            parts
                .where_sql
                .contains("FROM \"marquee\".tags tg WHERE tg.movie_id = t.id")
        );
        assert!(parts.where_sql.contains("\"marquee\".marquee_fold(tg.tag)"));
    }

    #[test]
    fn everything_combined_numbers_in_order() {
        let f = parsed(
            r#"title:"star wars" genre:Sci-Fi,Action genre-all:Drama,War genre-not:Horror year:1977..1983 rating:>=4 votes:>=100 tag:pixar sort:-rating,title"#,
        );
        let parts = where_clause(&f, "m");
        assert_eq!(
            parts.where_sql,
            "m.title_fold LIKE \"marquee\".marquee_fold($1) ESCAPE '\\' \
             AND m.genres && $2 AND m.genres @> $3 AND NOT (m.genres && $4) \
             AND m.year >= $5 AND m.year <= $6 AND m.rating_avg >= $7 \
             AND m.rating_count >= $8 \
             AND EXISTS (SELECT 1 FROM \"marquee\".tags t WHERE t.movie_id = m.id \
             AND \"marquee\".marquee_fold(t.tag) = \"marquee\".marquee_fold($9))"
        );
        assert_eq!(
            parts.params,
            vec![
                Param::Text("%star wars%".into()),
                Param::TextArray(strings(&["Action", "Sci-Fi"])),
                Param::TextArray(strings(&["Drama", "War"])),
                Param::TextArray(strings(&["Horror"])),
                Param::Int2(1977),
                Param::Int2(1983),
                Param::Float4(4.0),
                Param::Int4(100),
                Param::Text("pixar".into()),
            ]
        );
        let types: Vec<Type> = parts.typed_params().into_iter().map(|(_, t)| t).collect();
        assert_eq!(
            types,
            vec![
                Type::TEXT,
                Type::TEXT_ARRAY,
                Type::TEXT_ARRAY,
                Type::TEXT_ARRAY,
                Type::INT2,
                Type::INT2,
                Type::FLOAT4,
                Type::INT4,
                Type::TEXT,
            ]
        );
    }

    #[test]
    fn bind_continues_numbering() {
        let mut parts = where_clause(&parsed("year:1995 tag:x"), "m");
        assert_eq!(parts.bind(Param::Int4(50)), "$3");
        assert_eq!(parts.typed_params().len(), 3);
    }

    const HOSTILE: &[&str] = &[
        "'; DROP TABLE movies; --",
        "' OR '1'='1",
        "$1",
        "%",
        "_",
        "\\",
        "\\'",
        "a\0b",
        "\0",
        ") OR TRUE --",
        "*/ SELECT pg_sleep(10) /*",
    ];

    fn hostile_filter(text: &str) -> Filter {
        Filter {
            title: text.to_owned(),
            genres: GenreFilter {
                any_of: vec![text.to_owned()],
                all_of: vec![text.to_owned()],
                none_of: vec![text.to_owned()],
            },
            tags: vec![text.to_owned(), text.to_owned()],
            ..Filter::default()
        }
    }

    #[test]
    fn hostile_text_only_travels_in_params() {
        let benign = where_clause(&hostile_filter("x"), "m").where_sql;
        for &text in HOSTILE {
            let parts = where_clause(&hostile_filter(text), "m");
            // The SQL is exactly what harmless text gives: user text cannot shape it.
            assert_eq!(parts.where_sql, benign, "{text:?}");
            assert!(!parts.where_sql.contains('\0'));
            assert!(!parts.where_sql.contains("DROP"));
            let clean = text.replace('\0', "");
            assert_eq!(parts.params[0], Param::Text(like_pattern(&clean)));
            assert_eq!(parts.params[1], Param::TextArray(vec![clean.clone()]));
            assert_eq!(parts.params[4], Param::Text(clean.clone()));
            for param in &parts.params {
                let texts = match param {
                    Param::Text(t) => vec![t.clone()],
                    Param::TextArray(v) => v.clone(),
                    _ => Vec::new(),
                };
                // PostgreSQL rejects NUL in text; it must never reach the server.
                assert!(texts.iter().all(|t| !t.contains('\0')), "{text:?}");
            }
        }
    }

    #[test]
    fn like_pattern_escapes_wildcards() {
        assert_eq!(like_pattern(""), "%%");
        assert_eq!(like_pattern("heat"), "%heat%");
        assert_eq!(like_pattern("100%"), r"%100\%%");
        assert_eq!(like_pattern("a_b"), r"%a\_b%");
        assert_eq!(like_pattern(r"c:\x"), r"%c:\\x%");
        assert_eq!(like_pattern(r"\%_"), r"%\\\%\_%");
        assert_eq!(like_pattern("'\""), "%'\"%");
        assert_eq!(like_pattern("Amélie"), "%Amélie%");
        assert_eq!(like_pattern("a\0%"), r"%a\%%");
        // Forms that unaccent folds into wildcards or the escape character.
        assert_eq!(like_pattern("50％"), r"%50\%%");
        assert_eq!(like_pattern("﹪"), r"%\%%");
        assert_eq!(like_pattern("a＿b"), r"%a\_b%");
        assert_eq!(like_pattern("＼﹨∖"), r"%\\\\\\%");
    }

    /// Undoes `like_pattern` the way LIKE reads it; checks that every escape is complete
    /// (a dangling `\` would be an SQL error) and that no unescaped wildcard remains
    /// inside the `%...%`.
    fn like_literal(pattern: &str) -> Option<String> {
        let inner = pattern.strip_prefix('%')?.strip_suffix('%')?;
        let mut out = String::new();
        let mut chars = inner.chars();
        while let Some(c) = chars.next() {
            match c {
                '\\' => out.push(chars.next()?),
                '%' | '_' => return None,
                _ => out.push(c),
            }
        }
        Some(out)
    }

    /// What PostgreSQL's stock unaccent does to the characters like_pattern cares about.
    fn fold_specials(text: &str) -> String {
        text.chars()
            .map(|c| match c {
                '％' | '﹪' => '%',
                '＿' => '_',
                '＼' | '﹨' | '∖' => '\\',
                _ => c,
            })
            .collect()
    }

    #[test]
    fn order_by_defaults_and_tiebreak() {
        assert_eq!(order_by(&[], "m"), "m.id ASC");
        assert_eq!(
            order_by(
                &[
                    SortKey::desc(SortColumn::Rating),
                    SortKey::asc(SortColumn::Title)
                ],
                "m"
            ),
            "m.rating_avg DESC NULLS LAST, m.title ASC, m.id ASC"
        );
        assert_eq!(
            order_by(&[SortKey::asc(SortColumn::Year)], "m"),
            "m.year ASC NULLS LAST, m.id ASC"
        );
        assert_eq!(
            order_by(
                &[
                    SortKey::desc(SortColumn::Votes),
                    SortKey::desc(SortColumn::Id)
                ],
                "m"
            ),
            "m.rating_count DESC, m.id DESC"
        );
        assert_eq!(order_by(&[SortKey::desc(SortColumn::Id)], ""), "id DESC");
        assert_eq!(
            order_by(
                &[
                    SortKey::asc(SortColumn::Title),
                    SortKey::desc(SortColumn::Title)
                ],
                "m"
            ),
            "m.title ASC, m.id ASC"
        );
    }

    fn placeholders(sql: &str) -> Vec<usize> {
        let mut found = Vec::new();
        let mut rest = sql;
        while let Some(i) = rest.find('$') {
            rest = &rest[i + 1..];
            let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
            found.push(digits.parse().unwrap_or(0));
        }
        found
    }

    /// The filter with every user string replaced by a fixed one, keeping which parts
    /// are set and whether ranges are exact: everything the SQL may depend on.
    fn shape(f: &Filter) -> Filter {
        let x = |list: &Vec<String>| {
            if list.is_empty() {
                Vec::new()
            } else {
                vec!["x".to_owned()]
            }
        };
        Filter {
            title: if f.title.is_empty() {
                String::new()
            } else {
                "x".into()
            },
            genres: GenreFilter {
                any_of: x(&f.genres.any_of),
                all_of: x(&f.genres.all_of),
                none_of: x(&f.genres.none_of),
            },
            tags: f.tags.iter().map(|_| "x".to_owned()).collect(),
            ..f.clone()
        }
    }

    proptest! {
        #[test]
        fn sql_depends_only_on_the_filter_shape(f in arb_filter()) {
            let parts = where_clause(&f, "m");
            prop_assert_eq!(&parts.where_sql, &where_clause(&shape(&f), "m").where_sql);
            // $1..$n each used exactly once, in order, one per parameter.
            let expected: Vec<usize> = (1..=parts.params.len()).collect();
            prop_assert_eq!(placeholders(&parts.where_sql), expected);
            prop_assert_eq!(parts.typed_params().len(), parts.params.len());
            prop_assert_eq!(parts.where_sql == "TRUE", !f.has_conditions());
        }

        #[test]
        fn like_pattern_matches_text_literally(text in any::<String>()) {
            let pattern = like_pattern(&text);
            // Read literally, the pattern is the text as the database folds it...
            let stored = fold_specials(&text.replace('\0', ""));
            prop_assert_eq!(like_literal(&pattern), Some(stored));
            // ...and folding the pattern cannot create a wildcard or a dangling escape.
            prop_assert_eq!(fold_specials(&pattern), pattern);
        }

        #[test]
        fn order_by_always_ends_in_a_total_order(
            keys in prop::collection::vec((prop::sample::select(SortColumn::ALL.to_vec()), any::<bool>()), 0..8)
        ) {
            let sort: Vec<SortKey> = keys.into_iter()
                .map(|(column, descending)| SortKey { column, descending })
                .collect();
            let sql = order_by(&sort, "m");
            prop_assert!(sql.contains("m.id "));
            prop_assert_eq!(sql.matches("m.id ").count(), 1);
            prop_assert_eq!(sql.matches("m.year ").count(), sql.matches("m.year ASC NULLS LAST").count() + sql.matches("m.year DESC NULLS LAST").count());
        }
    }
}
