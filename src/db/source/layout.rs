//! Tables found in (or mapped onto) a database, and the derived tables that present them with
//! Marquee's column names.
//!
//! The derivations follow the import's rules exactly (`import::title`), so a filter gives the
//! same rows in place as after importing the same data: the year comes from the title's last
//! parentheses (`(1995)`, `(1975-1979)`, `(2007-)`, 1800–2200) when there is no year column;
//! `'A|B'` genres are split, trimmed, de-duplicated and `(no genres listed)` dropped; the average
//! rating is `avg(rating::real)::real`, as the import's summary computes it.

use super::{quote_ident, quote_literal};

/// One column of a user's table, as the catalog names and types it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Column {
    /// The name exactly as stored (`movieId`).
    pub name: String,
    /// `format_type()` of its type (`integer`, `text[]`, `timestamp with time zone`).
    pub type_name: String,
}

impl Column {
    fn sql(&self, alias: &str) -> String {
        format!("{alias}.{}", quote_ident(&self.name))
    }

    fn is_array(&self) -> bool {
        self.type_name.ends_with("[]")
    }

    fn is_number(&self) -> bool {
        matches!(
            self.type_name.as_str(),
            "smallint" | "integer" | "bigint" | "numeric" | "real" | "double precision"
        ) || self.type_name.starts_with("numeric(")
    }

    fn is_date_or_time(&self) -> bool {
        self.type_name == "date" || self.type_name.starts_with("timestamp")
    }
}

/// A table (or view) and its schema.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Table {
    /// Schema name as stored.
    pub schema: String,
    /// Table name as stored.
    pub name: String,
}

impl Table {
    /// `"schema"."name"`
    pub fn sql(&self) -> String {
        format!("{}.{}", quote_ident(&self.schema), quote_ident(&self.name))
    }
}

/// The movies table: id and title are required, the rest optional.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MoviesLayout {
    /// Where.
    pub table: Table,
    /// Movie id (integer-valued).
    pub id: Column,
    /// Title.
    pub title: Column,
    /// Release year (a number, or a date whose year is taken); from the title when absent.
    pub year: Option<Column>,
    /// Genres: `'A|B'` text or `text[]`.
    pub genres: Option<Column>,
}

/// The ratings table.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RatingsLayout {
    /// Where.
    pub table: Table,
    /// The rated movie.
    pub movie_id: Column,
    /// Who rated (optional in a mapping).
    pub user_id: Option<Column>,
    /// Stars.
    pub rating: Column,
    /// When: epoch seconds or a timestamp.
    pub rated_at: Option<Column>,
}

/// The tags table.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TagsLayout {
    /// Where.
    pub table: Table,
    /// The tagged movie.
    pub movie_id: Column,
    /// The tag text.
    pub tag: Column,
    /// Who tagged.
    pub user_id: Option<Column>,
    /// When: epoch seconds or a timestamp.
    pub tagged_at: Option<Column>,
}

/// The links table (IMDb and TMDB ids).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LinksLayout {
    /// Where.
    pub table: Table,
    /// The movie.
    pub movie_id: Column,
    /// IMDb number.
    pub imdb_id: Option<Column>,
    /// TMDB number.
    pub tmdb_id: Option<Column>,
}

/// Everything found for one in-place source.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Layout {
    /// Movies (required).
    pub movies: MoviesLayout,
    /// Ratings, if any.
    pub ratings: Option<RatingsLayout>,
    /// Tags, if any.
    pub tags: Option<TagsLayout>,
    /// Links, if any.
    pub links: Option<LinksLayout>,
}

/// The import's year rule as a regular expression over the whole title: the last parentheses
/// hold a four-digit year, optionally followed by a dash (`-` or `–`) and an end year or nothing.
/// Mirrors `import::title::parse_year`; `tests/source.rs` pins them together.
const YEAR_PATTERN: &str = r"\(\s*([0-9]{4})\s*(?:[-–]\s*(?:[0-9]{4})?\s*)?\)\s*$";

/// The year `title_sql` carries, by the import's rules, as `smallint` (NULL when none).
pub fn year_from_title(title_sql: &str) -> String {
    format!(
        "(SELECT CASE WHEN y BETWEEN 1800 AND 2200 THEN y::smallint END \
         FROM (SELECT substring({title_sql} FROM {})::integer AS y) yr)",
        quote_literal(YEAR_PATTERN)
    )
}

/// `'A|B'` text split the import's way (`import::title::parse_genres`), as `text[]`.
pub fn genres_from_text(genres_sql: &str) -> String {
    format!(
        "ARRAY(SELECT g FROM (SELECT btrim(part) AS g, min(n) AS first \
         FROM unnest(string_to_array({genres_sql}, '|')) WITH ORDINALITY AS p(part, n) \
         WHERE btrim(part) NOT IN ('', '(no genres listed)') GROUP BY 1) gs ORDER BY first)"
    )
}

impl Layout {
    /// The `movies` relation (see [`super::Source`]).
    pub fn movies_sql(&self) -> String {
        self.movies_sql_among(None)
    }

    /// The `movies` relation for a query that reads only the movies whose ids the `integer[]`
    /// expression `ids` holds (a bind parameter): the ratings are aggregated for those movies
    /// alone. Without an index on the user's ratings that is still one scan of the table, but a
    /// filtering one (a hashed `= ANY` over a constant array, in parallel), not an aggregate of
    /// every movie's ratings followed by a join; the planner cannot push an `= ANY` through the
    /// `GROUP BY` itself, as it does an `=`.
    pub fn movies_sql_among(&self, ids: Option<&str>) -> String {
        let m = &self.movies;
        let id = m.id.sql("mv");
        let title = m.title.sql("mv");
        let year = match &m.year {
            Some(c) if c.is_date_or_time() => {
                format!("extract(year FROM {})::smallint", c.sql("mv"))
            }
            Some(c) if c.is_number() => format!("{}::smallint", c.sql("mv")),
            Some(c) => format!("nullif(btrim({}::text), '')::smallint", c.sql("mv")),
            None => year_from_title(&format!("{title}::text")),
        };
        let genres = match &m.genres {
            Some(c) if c.is_array() => format!(
                "array_remove(coalesce({}::text[], '{{}}'), '(no genres listed)')",
                c.sql("mv")
            ),
            Some(c) => genres_from_text(&format!("{}::text", c.sql("mv"))),
            None => "'{}'::text[]".to_owned(),
        };
        let (ratings_join, rating_avg, rating_count) = match &self.ratings {
            Some(r) => {
                // A rating row without stars counts for nothing, as the import skips it.
                let rating = r.rating.sql("rt");
                let movie = r.movie_id.sql("rt");
                let among =
                    ids.map_or(String::new(), |ids| format!(" WHERE {movie} = ANY ({ids})"));
                (
                    format!(
                        " LEFT JOIN (SELECT {movie} AS movie_id, avg({rating}::real)::real AS rating_avg, \
                         count({rating})::integer AS rating_count FROM {} rt{among} GROUP BY 1) r \
                         ON r.movie_id = {id}",
                        r.table.sql()
                    ),
                    "r.rating_avg",
                    "coalesce(r.rating_count, 0)",
                )
            }
            None => (String::new(), "NULL::real", "0"),
        };
        // Scalar subqueries, so a query that does not read the ids does not pay for them.
        let link = |column: &Option<Column>| match (&self.links, column) {
            (Some(l), Some(c)) => format!(
                "(SELECT nullif(btrim({}::text), '')::integer FROM {} lk WHERE {} = {id} LIMIT 1)",
                c.sql("lk"),
                l.table.sql(),
                l.movie_id.sql("lk")
            ),
            _ => "NULL::integer".to_owned(),
        };
        let (imdb, tmdb) = match &self.links {
            Some(l) => (link(&l.imdb_id), link(&l.tmdb_id)),
            None => ("NULL::integer".to_owned(), "NULL::integer".to_owned()),
        };
        format!(
            "(SELECT {id}::integer AS id, {title}::text AS title, {year} AS year, \
             {genres} AS genres, {rating_avg} AS rating_avg, {rating_count} AS rating_count, \
             {imdb} AS imdb_id, {tmdb} AS tmdb_id FROM {} mv{ratings_join})",
            m.table.sql()
        )
    }

    /// The `ratings` relation.
    pub fn ratings_sql(&self) -> String {
        let Some(r) = &self.ratings else {
            return "(SELECT NULL::integer AS user_id, NULL::integer AS movie_id, \
                    NULL::real AS rating, NULL::timestamptz AS rated_at WHERE false)"
                .to_owned();
        };
        let user = r.user_id.as_ref().map_or("NULL::integer".to_owned(), |c| {
            format!("{}::integer", c.sql("rt"))
        });
        let at = timestamp(&r.rated_at, "rt");
        format!(
            "(SELECT {user} AS user_id, {}::integer AS movie_id, {}::real AS rating, \
             {at} AS rated_at FROM {} rt)",
            r.movie_id.sql("rt"),
            r.rating.sql("rt"),
            r.table.sql()
        )
    }

    /// The `tags` relation.
    pub fn tags_sql(&self) -> String {
        let Some(t) = &self.tags else {
            return "(SELECT NULL::integer AS user_id, NULL::integer AS movie_id, \
                    NULL::text AS tag, NULL::timestamptz AS tagged_at WHERE false)"
                .to_owned();
        };
        let user = t.user_id.as_ref().map_or("NULL::integer".to_owned(), |c| {
            format!("{}::integer", c.sql("tg"))
        });
        format!(
            "(SELECT {user} AS user_id, {}::integer AS movie_id, {}::text AS tag, \
             {} AS tagged_at FROM {} tg)",
            t.movie_id.sql("tg"),
            t.tag.sql("tg"),
            timestamp(&t.tagged_at, "tg"),
            t.table.sql()
        )
    }
}

/// A time column as `timestamptz`: epoch seconds, a timestamp (read as UTC) or a timestamptz.
fn timestamp(column: &Option<Column>, alias: &str) -> String {
    match column {
        Some(c) if c.is_number() => format!("to_timestamp({})", c.sql(alias)),
        Some(c) if c.type_name == "timestamp with time zone" => c.sql(alias),
        Some(c) if c.is_date_or_time() => {
            format!("({}::timestamp AT TIME ZONE 'UTC')", c.sql(alias))
        }
        Some(c) => format!("{}::timestamptz", c.sql(alias)),
        None => "NULL::timestamptz".to_owned(),
    }
}
