//! What a database holds, and how Marquee reads it: its own schema, MovieLens tables as people
//! load them, or tables described by an explicit `[source]` mapping in the config file.
//!
//! Browsing must work on servers Marquee does not own, often with credentials that may only
//! `SELECT`. So a [`Source`] is found by looking (see [`detect`]), never by creating anything,
//! and it presents every kind of data in one shape: three relations (`movies`, `ratings`, `tags`)
//! with Marquee's column names, plus the function that folds text for matching. For Marquee's own
//! schema those are its indexed tables; for anything else they are derived tables (subqueries)
//! over the user's tables, so the one `Filter` translation in `repo::movie_sql` serves all.

pub mod detect;
pub mod layout;

/// Which kind of source was found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SourceKind {
    /// Marquee's own schema at the version this build writes: full speed.
    Marquee,
    /// Marquee's schema from an older Marquee, browsed read-only as it is.
    MarqueeOlder {
        /// Its schema version.
        version: i32,
    },
    /// MovieLens tables as people load them, read in place.
    MovieLens {
        /// The schema holding them.
        schema: String,
    },
    /// Tables described by the `[source]` mapping, read in place.
    Mapped {
        /// The schema holding them.
        schema: String,
    },
}

/// How text is folded for title and tag matching.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Fold {
    /// Marquee's `marquee_fold()` (unaccent + lower, indexable) in this schema.
    MarqueeFold(String),
    /// The `unaccent` extension, installed in this schema, then `lower`.
    Unaccent(String),
    /// `lower` only: the server has no `unaccent`, so "amelie" does not find "Amélie".
    Lower,
}

/// A database's movies, ratings and tags as relations with Marquee's column names.
///
/// - `movies`: `id integer, title text, year smallint, genres text[], rating_avg real,
///   rating_count integer, imdb_id integer, tmdb_id integer`;
/// - `ratings`: `user_id integer, movie_id integer, rating real, rated_at timestamptz`;
/// - `tags`: `user_id integer, movie_id integer, tag text, tagged_at timestamptz`.
///
/// Each is either a (schema-qualified) table name or a parenthesized subquery: both can follow
/// `FROM` and take an alias. None holds user text from the filter; identifiers from the
/// database's catalog are quoted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Source {
    /// What was found.
    pub kind: SourceKind,
    /// `FROM` item for movies.
    pub movies: String,
    /// `FROM` item for ratings.
    pub ratings: String,
    /// `FROM` item for tags.
    pub tags: String,
    /// How text is folded for matching.
    pub fold: Fold,
    /// Things the user should know once (older schema, no accent folding, …).
    pub notes: Vec<String>,
    /// The user's tables behind the derived relations, for a source read in place.
    pub layout: Option<layout::Layout>,
}

impl Default for Source {
    /// Marquee's own, current schema: what a migrated database holds.
    fn default() -> Self {
        Self::marquee_in(crate::db::schema::SCHEMA, SourceKind::Marquee)
    }
}

impl Source {
    /// Marquee's tables in `schema` (`marquee` now, `public` before schema version 4).
    pub fn marquee_in(schema: &str, kind: SourceKind) -> Self {
        let schema = quote_ident(schema);
        Self {
            kind,
            movies: format!("{schema}.movies"),
            ratings: format!("{schema}.ratings"),
            tags: format!("{schema}.tags"),
            fold: Fold::MarqueeFold(schema),
            notes: Vec::new(),
            layout: None,
        }
    }

    /// The `movies` relation for a query that reads only the movies whose ids the `integer[]`
    /// expression `ids` holds. Marquee's tables are indexed, so that is [`Self::movies`]; a
    /// source read in place then aggregates the ratings of those movies alone.
    pub fn movies_among(&self, ids: &str) -> String {
        match &self.layout {
            Some(layout) => layout.movies_sql_among(Some(ids)),
            None => self.movies.clone(),
        }
    }

    /// `expr` folded for matching (case, and accents where the server can).
    pub fn fold(&self, expr: &str) -> String {
        match &self.fold {
            Fold::MarqueeFold(schema) => format!("{schema}.marquee_fold({expr})"),
            Fold::Unaccent(schema) => format!(
                "lower({schema}.unaccent('{}'::regdictionary, {expr}))",
                format!("{schema}.unaccent").replace('\'', "''")
            ),
            Fold::Lower => format!("lower({expr})"),
        }
    }

    /// The title of `alias`'s movie, folded for matching. Marquee's current schema stores it
    /// (`title_fold`, schema version 5), which makes a title test a plain `LIKE`; anything else
    /// folds at query time.
    pub fn folded_title(&self, alias: &str) -> String {
        let column = |name: &str| {
            if alias.is_empty() {
                name.to_owned()
            } else {
                format!("{alias}.{name}")
            }
        };
        if self.is_marquee() {
            column("title_fold")
        } else {
            self.fold(&column("title"))
        }
    }

    /// Whether this is Marquee's own indexed store at the current version.
    pub fn is_marquee(&self) -> bool {
        self.kind == SourceKind::Marquee
    }

    /// Whether Marquee reads the data where it is rather than from its own current schema.
    /// Everything here is read-only anyway; this says whether `import postgres` would help.
    pub fn in_place(&self) -> bool {
        !self.is_marquee()
    }

    /// One line for people: "MovieLens tables in place (schema public)".
    pub fn describe(&self) -> String {
        match &self.kind {
            SourceKind::Marquee => "Marquee's collection".to_owned(),
            SourceKind::MarqueeOlder { version } => {
                format!("Marquee's collection (schema version {version}, read-only)")
            }
            SourceKind::MovieLens { schema } => {
                format!("MovieLens tables in place (schema {schema})")
            }
            SourceKind::Mapped { schema } => format!("mapped tables in place (schema {schema})"),
        }
    }
}

/// Number of movies `source` holds (for the startup log line and the status bar).
pub fn movie_count(
    client: &mut impl postgres::GenericClient,
    source: &Source,
) -> Result<u64, postgres::Error> {
    let count: i64 = client
        .query_typed_one(&format!("SELECT count(*) FROM {} m", source.movies), &[])?
        .try_get(0)?;
    Ok(count.max(0) as u64)
}

/// What collection is shown: Marquee's own description of what it loaded, or what was found.
pub fn collection_description(
    client: &mut impl postgres::GenericClient,
    source: &Source,
) -> Result<Option<String>, postgres::Error> {
    if source.is_marquee() {
        Ok(client
            .query_typed_opt(
                "SELECT value FROM marquee.marquee_meta WHERE key = 'collection'",
                &[],
            )?
            .map(|row| row.get(0)))
    } else {
        Ok(Some(source.describe()))
    }
}

/// `name` as a quoted SQL identifier (`"movieId"`), doubling any `"` inside.
pub fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// `'text'` as a SQL string literal, doubling any `'` inside (for catalog names only).
pub fn quote_literal(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifiers_and_literals_are_quoted() {
        assert_eq!(quote_ident("movieId"), "\"movieId\"");
        assert_eq!(quote_ident("a\"b"), "\"a\"\"b\"");
        assert_eq!(quote_literal("it's"), "'it''s'");
    }

    #[test]
    fn folding_follows_what_the_server_has() {
        let marquee = Source::default();
        assert_eq!(marquee.movies, "\"marquee\".movies");
        assert_eq!(marquee.fold("m.title"), "\"marquee\".marquee_fold(m.title)");
        let lower = Source {
            fold: Fold::Lower,
            ..Source::default()
        };
        assert_eq!(lower.fold("t.tag"), "lower(t.tag)");
        let unaccent = Source {
            fold: Fold::Unaccent("\"ext\"".into()),
            ..Source::default()
        };
        assert_eq!(
            unaccent.fold("x"),
            "lower(\"ext\".unaccent('\"ext\".unaccent'::regdictionary, x))"
        );
    }

    #[test]
    fn only_the_current_schema_reads_the_stored_folded_title() {
        assert_eq!(Source::default().folded_title("m"), "m.title_fold");
        assert_eq!(Source::default().folded_title(""), "title_fold");
        let older = Source::marquee_in("public", SourceKind::MarqueeOlder { version: 4 });
        assert_eq!(older.folded_title("m"), "\"public\".marquee_fold(m.title)");
        let in_place = Source {
            kind: SourceKind::MovieLens {
                schema: "public".into(),
            },
            fold: Fold::Lower,
            ..Source::default()
        };
        assert_eq!(in_place.folded_title(""), "lower(title)");
    }
}
