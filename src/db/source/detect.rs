//! Finds what a database holds, by reading the catalog only (no temp table, no `SET`): Marquee's
//! schema, then MovieLens tables on the `search_path` (or in the schema named), then the
//! `[source]` mapping; or one message saying what was looked for and what to do.

use std::collections::BTreeMap;

use postgres::GenericClient;
use postgres::types::Type;

use super::layout::{Column, Layout, LinksLayout, MoviesLayout, RatingsLayout, Table, TagsLayout};
use super::{Fold, Source, SourceKind, quote_ident};
use crate::config::SourceSettings;
use crate::db::error::{DbError, DbErrorKind};
use crate::db::schema;

/// Reads the catalog of the database `client` is connected to and says which source it holds.
/// `target` (`host:port/db`) names the database in messages.
pub fn detect(
    client: &mut impl GenericClient,
    settings: &SourceSettings,
    target: &str,
) -> Result<Source, DbError> {
    let db = |e: postgres::Error| DbError::from_postgres(&e, target);
    let may_be_marquee = settings
        .schema
        .as_deref()
        .is_none_or(|s| s == schema::SCHEMA);
    if may_be_marquee && let Some(source) = marquee_schema(client, target)? {
        return Ok(source);
    }
    let schemas = match &settings.schema {
        Some(schema) => vec![schema.clone()],
        None => client
            .query_typed("SELECT unnest(current_schemas(false))::text", &[])
            .map_err(db)?
            .iter()
            .map(|row| row.get(0))
            .collect(),
    };
    let mut findings = Vec::new();
    for schema in &schemas {
        let tables =
            tables_in(client, schema, &["movies", "ratings", "tags", "links"]).map_err(db)?;
        match movielens_layout(schema, &tables) {
            Ok(Some(layout)) => {
                let kind = SourceKind::MovieLens {
                    schema: schema.clone(),
                };
                return in_place(client, kind, &layout).map_err(db);
            }
            Ok(None) => {}
            Err(why) => findings.push(why),
        }
    }
    if let Some(movies) = &settings.movies {
        let layout = mapped_layout(client, settings, movies, &schemas, target)?;
        let kind = SourceKind::Mapped {
            schema: layout.movies.table.schema.clone(),
        };
        return in_place(client, kind, &layout).map_err(db);
    }
    let looked_in = if schemas.is_empty() {
        "no schema (the search_path is empty)".to_owned()
    } else {
        format!("schema {}", schemas.join(", "))
    };
    let mut message = format!(
        "the database at {target} holds no movies Marquee can read: it looked for Marquee's \
         schema (`marquee`) and for MovieLens tables (a `movies` table with movieId/movie_id/id \
         and title columns) in {looked_in}"
    );
    for finding in findings {
        message.push_str("; ");
        message.push_str(&finding);
    }
    message.push_str(
        ". Name the schema that holds them with --schema, describe your tables in a [source] \
         section of the config file (see README, \"Open your own database\"), or create \
         Marquee's collection here with `marquee import …` or `marquee seed` (these write)",
    );
    Err(DbError::new(DbErrorKind::Schema, message))
}

/// Marquee's own schema, if the database has it (current, older or refused when newer).
fn marquee_schema(
    client: &mut impl GenericClient,
    target: &str,
) -> Result<Option<Source>, DbError> {
    let db = |e: postgres::Error| DbError::from_postgres(&e, target);
    let row = client
        .query_typed_one(
            "SELECT to_regclass('marquee.marquee_schema') IS NOT NULL, \
                    to_regclass('public.marquee_schema') IS NOT NULL",
            &[],
        )
        .map_err(db)?;
    let (in_marquee, in_public): (bool, bool) = (row.get(0), row.get(1));
    if !in_marquee && !in_public {
        return Ok(None);
    }
    let version = schema::current_version(client).map_err(db)?;
    let latest = schema::latest_version();
    if version > latest {
        return Err(DbError::new(
            DbErrorKind::Schema,
            format!(
                "the database at {target} has schema version {version}, newer than this Marquee \
                 understands ({latest}); upgrade Marquee or use another database"
            ),
        ));
    }
    if version == latest {
        return Ok(Some(Source::default()));
    }
    let home = if in_marquee { schema::SCHEMA } else { "public" };
    let mut source = Source::marquee_in(home, SourceKind::MarqueeOlder { version });
    source.notes.push(format!(
        "This collection has Marquee's schema version {version} (this Marquee writes {latest}); \
         it is browsed read-only as it is. `marquee db migrate` would add: {} (that writes to \
         the database).",
        schema::pending_names(version).join(", ")
    ));
    Ok(Some(source))
}

/// Columns of the tables in `schema` whose lower-cased names are in `names`, keyed by the
/// lower-cased name. An exact lower-case table name wins over one that differs only in case.
fn tables_in(
    client: &mut impl GenericClient,
    schema: &str,
    names: &[&str],
) -> Result<BTreeMap<String, (Table, Vec<Column>)>, postgres::Error> {
    let names: Vec<String> = names.iter().map(|n| (*n).to_owned()).collect();
    let rows = client.query_typed(
        "SELECT c.relname::text, a.attname::text, format_type(a.atttypid, a.atttypmod)
           FROM pg_class c
           JOIN pg_namespace n ON n.oid = c.relnamespace
           JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
          WHERE n.nspname = $1 AND c.relkind IN ('r', 'p', 'v', 'm', 'f')
            AND lower(c.relname) = ANY($2)
          ORDER BY c.relname <> lower(c.relname), c.relname, a.attnum",
        &[(&schema, Type::TEXT), (&names, Type::TEXT_ARRAY)],
    )?;
    let mut tables: BTreeMap<String, (Table, Vec<Column>)> = BTreeMap::new();
    for row in rows {
        let table: String = row.get(0);
        let key = table.to_lowercase();
        let entry = tables.entry(key).or_insert_with(|| {
            (
                Table {
                    schema: schema.to_owned(),
                    name: table.clone(),
                },
                Vec::new(),
            )
        });
        if entry.0.name == table {
            entry.1.push(Column {
                name: row.get(1),
                type_name: row.get(2),
            });
        }
    }
    Ok(tables)
}

/// `movieId`, `movie_id` and `MOVIEID` all become `movieid`.
fn normalized(name: &str) -> String {
    name.chars()
        .filter(|c| *c != '_')
        .flat_map(char::to_lowercase)
        .collect()
}

/// The first column whose normalized name is one of `wanted`, in `wanted`'s order.
fn find(columns: &[Column], wanted: &[&str]) -> Option<Column> {
    wanted
        .iter()
        .find_map(|w| columns.iter().find(|c| normalized(&c.name) == *w))
        .cloned()
}

/// A MovieLens layout in one schema; `Err` says why a `movies` table there does not fit.
fn movielens_layout(
    schema: &str,
    tables: &BTreeMap<String, (Table, Vec<Column>)>,
) -> Result<Option<Layout>, String> {
    let Some((table, columns)) = tables.get("movies") else {
        return Ok(None);
    };
    let (Some(id), Some(title)) = (find(columns, &["movieid", "id"]), find(columns, &["title"]))
    else {
        let names: Vec<&str> = columns.iter().map(|c| c.name.as_str()).collect();
        return Err(format!(
            "{schema}.{} has columns {} but no movieId/movie_id/id and title",
            table.name,
            names.join(", ")
        ));
    };
    let movies = MoviesLayout {
        table: table.clone(),
        id,
        title,
        year: find(columns, &["year"]),
        genres: find(columns, &["genres"]),
    };
    let ratings = tables.get("ratings").and_then(|(table, columns)| {
        Some(RatingsLayout {
            table: table.clone(),
            movie_id: find(columns, &["movieid"])?,
            user_id: find(columns, &["userid"]),
            rating: find(columns, &["rating"])?,
            rated_at: find(columns, &["timestamp", "ratedat"]),
        })
    });
    let tags = tables.get("tags").and_then(|(table, columns)| {
        Some(TagsLayout {
            table: table.clone(),
            movie_id: find(columns, &["movieid"])?,
            tag: find(columns, &["tag"])?,
            user_id: find(columns, &["userid"]),
            tagged_at: find(columns, &["timestamp", "taggedat"]),
        })
    });
    let links = tables.get("links").and_then(|(table, columns)| {
        Some(LinksLayout {
            table: table.clone(),
            movie_id: find(columns, &["movieid"])?,
            imdb_id: find(columns, &["imdbid"]),
            tmdb_id: find(columns, &["tmdbid"]),
        })
    });
    Ok(Some(Layout {
        movies,
        ratings,
        tags,
        links,
    }))
}

/// The layout the `[source]` mapping describes, checked against the catalog.
fn mapped_layout(
    client: &mut impl GenericClient,
    settings: &SourceSettings,
    movies: &crate::config::MoviesMapping,
    schemas: &[String],
    target: &str,
) -> Result<Layout, DbError> {
    let db = |e: postgres::Error| DbError::from_postgres(&e, target);
    let mapping_error = |message: String| {
        DbError::new(
            DbErrorKind::Schema,
            format!(
                "the [source] mapping does not fit the database at {target}: {message}; fix the config file"
            ),
        )
    };
    let mut wanted = vec![movies.table.to_lowercase()];
    if let Some(r) = &settings.ratings {
        wanted.push(r.table.to_lowercase());
    }
    if let Some(t) = &settings.tags {
        wanted.push(t.table.to_lowercase());
    }
    if let Some(l) = &settings.links {
        wanted.push(l.table.to_lowercase());
    }
    let wanted_refs: Vec<&str> = wanted.iter().map(String::as_str).collect();
    let mut found = None;
    for schema in schemas {
        let tables = tables_in(client, schema, &wanted_refs).map_err(db)?;
        if tables.contains_key(&wanted[0]) {
            found = Some(tables);
            break;
        }
    }
    let Some(tables) = found else {
        return Err(mapping_error(format!(
            "no table {} in schema {}",
            movies.table,
            schemas.join(", ")
        )));
    };
    let table = |name: &str| {
        tables
            .get(&name.to_lowercase())
            .cloned()
            .ok_or_else(|| mapping_error(format!("no table {name} next to {}", movies.table)))
    };
    let column = |(table, columns): &(Table, Vec<Column>), name: &str| {
        columns
            .iter()
            .find(|c| c.name == name)
            .or_else(|| columns.iter().find(|c| c.name.eq_ignore_ascii_case(name)))
            .cloned()
            .ok_or_else(|| {
                let names: Vec<&str> = columns.iter().map(|c| c.name.as_str()).collect();
                mapping_error(format!(
                    "{} has no column {name} (it has {})",
                    table.name,
                    names.join(", ")
                ))
            })
    };
    let optional = |t: &(Table, Vec<Column>), name: &Option<String>| {
        name.as_deref().map(|n| column(t, n)).transpose()
    };
    let m = table(&movies.table)?;
    let movies_layout = MoviesLayout {
        table: m.0.clone(),
        id: column(&m, &movies.id)?,
        title: column(&m, &movies.title)?,
        year: optional(&m, &movies.year)?,
        genres: optional(&m, &movies.genres)?,
    };
    let ratings = match &settings.ratings {
        Some(r) => {
            let t = table(&r.table)?;
            Some(RatingsLayout {
                table: t.0.clone(),
                movie_id: column(&t, &r.movie_id)?,
                user_id: optional(&t, &r.user_id)?,
                rating: column(&t, &r.rating)?,
                rated_at: optional(&t, &r.rated_at)?,
            })
        }
        None => None,
    };
    let tags = match &settings.tags {
        Some(g) => {
            let t = table(&g.table)?;
            Some(TagsLayout {
                table: t.0.clone(),
                movie_id: column(&t, &g.movie_id)?,
                tag: column(&t, &g.tag)?,
                user_id: optional(&t, &g.user_id)?,
                tagged_at: optional(&t, &g.tagged_at)?,
            })
        }
        None => None,
    };
    let links = match &settings.links {
        Some(l) => {
            if l.imdb_id.is_none() && l.tmdb_id.is_none() {
                return Err(mapping_error(format!(
                    "[source.links] names neither imdb_id nor tmdb_id for {}",
                    l.table
                )));
            }
            let t = table(&l.table)?;
            Some(LinksLayout {
                table: t.0.clone(),
                movie_id: column(&t, &l.movie_id)?,
                imdb_id: optional(&t, &l.imdb_id)?,
                tmdb_id: optional(&t, &l.tmdb_id)?,
            })
        }
        None => None,
    };
    Ok(Layout {
        movies: movies_layout,
        ratings,
        tags,
        links,
    })
}

/// The source for an in-place layout, with text folding as good as the server allows.
fn in_place(
    client: &mut impl GenericClient,
    kind: SourceKind,
    layout: &Layout,
) -> Result<Source, postgres::Error> {
    let row = client.query_typed_one(
        "SELECT (SELECT n.nspname::text FROM pg_extension e \
                   JOIN pg_namespace n ON n.oid = e.extnamespace WHERE e.extname = 'unaccent'), \
                EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'pg_trgm')",
        &[],
    )?;
    let unaccent: Option<String> = row.get(0);
    let trigram: bool = row.get(1);
    let mut notes = Vec::new();
    let fold = match unaccent {
        Some(schema) => Fold::Unaccent(quote_ident(&schema)),
        None => {
            notes.push(
                "The server has no unaccent extension: title and tag matching ignores case only \
                 (\"amelie\" does not find \"Amélie\")."
                    .to_owned(),
            );
            Fold::Lower
        }
    };
    if !trigram {
        notes.push(
            "The server has no pg_trgm extension: title search reads the whole table; \
             `marquee import postgres` makes an indexed local copy."
                .to_owned(),
        );
    }
    Ok(Source {
        kind,
        movies: layout.movies_sql(),
        ratings: layout.ratings_sql(),
        tags: layout.tags_sql(),
        fold,
        notes,
        layout: Some(layout.clone()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn col(name: &str, type_name: &str) -> Column {
        Column {
            name: name.into(),
            type_name: type_name.into(),
        }
    }

    #[test]
    fn column_names_match_in_any_case_with_or_without_underscores() {
        let columns = [col("movieId", "integer"), col("title", "text")];
        assert_eq!(find(&columns, &["movieid", "id"]).unwrap().name, "movieId");
        let columns = [col("id", "integer"), col("movie_id", "integer")];
        assert_eq!(find(&columns, &["movieid", "id"]).unwrap().name, "movie_id");
        assert_eq!(normalized("MOVIE_ID"), "movieid");
    }

    #[test]
    fn a_movies_table_without_a_title_is_explained() {
        let mut tables = BTreeMap::new();
        tables.insert(
            "movies".to_owned(),
            (
                Table {
                    schema: "public".into(),
                    name: "movies".into(),
                },
                vec![col("id", "integer"), col("name", "text")],
            ),
        );
        let err = movielens_layout("public", &tables).unwrap_err();
        assert!(err.contains("no movieId/movie_id/id and title"), "{err}");
    }
}
