//! Versioned schema migrations: numbered SQL files applied once each, in order, in one
//! transaction, under an advisory lock so two Marquee processes never migrate at once.
//!
//! Everything Marquee creates lives in the schema [`SCHEMA`] (`marquee`), so a user's own
//! `public.movies` on a shared server is never touched or shadowed. Migrating is a write: only
//! the private cluster migrates by itself; elsewhere it takes `marquee db migrate`, `seed` or
//! `import` (see `crate::source`).

use postgres::GenericClient;

use crate::db::error::{DbError, DbErrorKind};

/// The migrations, in order. A migration is never edited once released; changes get a new file.
pub const MIGRATIONS: &[(i32, &str, &str)] = &[
    (1, "movies", include_str!("migrations/0001_movies.sql")),
    (
        2,
        "sort indexes",
        include_str!("migrations/0002_sort_indexes.sql"),
    ),
    (
        3,
        "title statistics",
        include_str!("migrations/0003_title_statistics.sql"),
    ),
    (
        4,
        "marquee schema",
        include_str!("migrations/0004_marquee_schema.sql"),
    ),
    (
        5,
        "stored folded title",
        include_str!("migrations/0005_stored_title_fold.sql"),
    ),
    (
        6,
        "facet totals",
        include_str!("migrations/0006_facet_totals.sql"),
    ),
    (
        7,
        "cheaper title folding",
        include_str!("migrations/0007_ascii_fold.sql"),
    ),
];

/// The schema that holds Marquee's tables and functions.
pub const SCHEMA: &str = "marquee";

/// What each migration adds, for the note shown when an older schema is browsed read-only.
pub fn pending_names(from_version: i32) -> Vec<&'static str> {
    MIGRATIONS
        .iter()
        .filter(|(v, _, _)| *v > from_version)
        .map(|(_, name, _)| *name)
        .collect()
}

/// The newest schema version this build knows.
pub fn latest_version() -> i32 {
    MIGRATIONS.last().map_or(0, |(v, _, _)| *v)
}

/// The migration that rewrites `movies` (adding the stored folded title).
const REWRITES_MOVIES: i32 = 5;
/// The migration that adds the stored facets of the whole collection.
const FACET_TOTALS: i32 = 6;

/// Arbitrary, fixed key for `pg_advisory_xact_lock`, so concurrent migrations queue.
const MIGRATION_LOCK_KEY: i64 = 0x6d61_7271_7565_6501;

/// What [`migrate`] did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MigrationReport {
    /// Schema version before.
    pub from_version: i32,
    /// Schema version after.
    pub to_version: i32,
}

fn schema_error(err: &postgres::Error, target: &str, step: &str) -> DbError {
    let mut error = DbError::from_postgres(err, target);
    if error.kind == DbErrorKind::Query {
        error.kind = DbErrorKind::Schema;
        error.message = format!("migrating the schema failed at {step}: {}", error.message);
    }
    error
}

/// Brings the database up to [`latest_version`]. Migrating an up-to-date database changes
/// nothing; a database from a newer Marquee is refused rather than touched.
pub fn migrate(client: &mut postgres::Client, target: &str) -> Result<MigrationReport, DbError> {
    let mut tx = client
        .transaction()
        .map_err(|e| schema_error(&e, target, "BEGIN"))?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK_KEY])
        .map_err(|e| schema_error(&e, target, "locking"))?;
    // Checked first rather than `IF NOT EXISTS`, whose notices would log on every start.
    let row = tx
        .query_one(
            "SELECT to_regnamespace('marquee') IS NULL,
                    to_regclass('marquee.marquee_schema') IS NULL,
                    to_regclass('public.marquee_schema') IS NOT NULL",
            &[],
        )
        .map_err(|e| schema_error(&e, target, "the version table"))?;
    let (no_schema, no_table, legacy): (bool, bool, bool) = (row.get(0), row.get(1), row.get(2));
    if no_schema {
        tx.batch_execute("CREATE SCHEMA marquee")
            .map_err(|e| schema_error(&e, target, "the marquee schema"))?;
    }
    // SET LOCAL ends with this transaction: the migrations create their objects in `marquee`
    // and find the extensions in `public`, and nothing outlives the migration.
    tx.batch_execute("SET LOCAL search_path = marquee, public")
        .map_err(|e| schema_error(&e, target, "the search_path"))?;
    if no_table && !legacy {
        // A database from before version 4 keeps its version table in `public` until
        // migration 4 moves it; a new one gets it in `marquee` straight away.
        tx.batch_execute(
            "CREATE TABLE marquee.marquee_schema (
                 version    integer PRIMARY KEY,
                 name       text NOT NULL,
                 applied_at timestamptz NOT NULL DEFAULT now()
             )",
        )
        .map_err(|e| schema_error(&e, target, "the version table"))?;
    }
    let current =
        current_version(&mut tx).map_err(|e| schema_error(&e, target, "reading the version"))?;
    let latest = latest_version();
    if current > latest {
        return Err(DbError::new(
            DbErrorKind::Schema,
            format!(
                "the database at {target} has schema version {current}, newer than this Marquee understands ({latest}); \
                 upgrade Marquee or use another database"
            ),
        ));
    }
    if current == 0 {
        // Migration 1 asks for the extensions "if not exists"; with `marquee` first on the
        // search_path they would land there, but `marquee_fold` calls `public.unaccent`.
        tx.batch_execute(
            "CREATE EXTENSION IF NOT EXISTS pg_trgm SCHEMA public;
             CREATE EXTENSION IF NOT EXISTS unaccent SCHEMA public;",
        )
        .map_err(|e| schema_error(&e, target, "the extensions"))?;
    }
    for (version, name, sql) in MIGRATIONS.iter().filter(|(v, _, _)| *v > current) {
        tx.batch_execute(sql)
            .map_err(|e| schema_error(&e, target, &format!("migration {version} ({name})")))?;
        tx.execute(
            "INSERT INTO marquee_schema (version, name) VALUES ($1, $2)",
            &[version, name],
        )
        .map_err(|e| schema_error(&e, target, "recording the version"))?;
        tracing::info!("Applied schema migration {version} ({name})");
    }
    if current < FACET_TOTALS && latest >= FACET_TOTALS {
        // The table is new: fill it for the collection already there, in the same transaction.
        crate::db::facet_totals::refresh(&mut tx, SCHEMA)
            .map_err(|e| schema_error(&e, target, "the facet totals"))?;
    }
    tx.commit()
        .map_err(|e| schema_error(&e, target, "COMMIT"))?;
    if current < REWRITES_MOVIES && latest >= REWRITES_MOVIES {
        // Migration 5 rewrote the table, which empties its visibility map: until a VACUUM every
        // "index-only" title walk would visit the table (at 1M movies, 32 -> 585 ms). VACUUM
        // cannot run inside the migration's transaction, so it runs right after it.
        // The migration itself is committed: a role that may not vacuum only loses speed.
        if let Err(err) = client.batch_execute("VACUUM (ANALYZE) marquee.movies") {
            tracing::warn!(
                "migrated {target}, but VACUUM marquee.movies failed ({}); title search stays \
                 slower until it runs: run it as the table's owner",
                DbError::from_postgres(&err, target)
            );
        }
    }
    Ok(MigrationReport {
        from_version: current,
        to_version: latest.max(current),
    })
}

/// The applied schema version (0 for an empty database). A database migrated before version 4
/// keeps its version table in `public`; it is read there.
pub fn current_version(client: &mut impl GenericClient) -> Result<i32, postgres::Error> {
    let table: Option<String> = client
        .query_typed_one(
            "SELECT coalesce(to_regclass('marquee.marquee_schema'), \
                             to_regclass('public.marquee_schema'))::text",
            &[],
        )?
        .get(0);
    let Some(table) = table else {
        return Ok(0);
    };
    // `table` is the server's own rendering of one of the two names above, never user text.
    let row = client.query_typed_one(
        &format!("SELECT coalesce(max(version), 0) FROM {table}"),
        &[],
    )?;
    Ok(row.get(0))
}
