//! Schema migrations against a real server: idempotent, and a newer schema is refused.

mod common;

use common::TestDb;
use marquee::db::error::DbErrorKind;
use marquee::db::schema;

#[test]
fn migrating_twice_changes_nothing_the_second_time() {
    let db = TestDb::empty();
    let mut client = db.client();
    let first = schema::migrate(&mut client, &db.name).unwrap();
    assert_eq!(
        (first.from_version, first.to_version),
        (0, schema::latest_version())
    );
    client
        .batch_execute("INSERT INTO movies (id, title) VALUES (1, 'Kept (2001)')")
        .unwrap();
    let second = schema::migrate(&mut client, &db.name).unwrap();
    assert_eq!(second.from_version, second.to_version);
    let count: i64 = client
        .query_one("SELECT count(*) FROM movies", &[])
        .unwrap()
        .get(0);
    assert_eq!(count, 1, "a second migration must not touch data");
    let applied: i64 = client
        .query_one("SELECT count(*) FROM marquee_schema", &[])
        .unwrap()
        .get(0);
    assert_eq!(applied, schema::MIGRATIONS.len() as i64);
}

#[test]
fn concurrent_migrations_queue_instead_of_colliding() {
    let db = TestDb::empty();
    let handles: Vec<_> = (0..4)
        .map(|_| {
            let params = db.params.clone();
            let name = db.name.clone();
            std::thread::spawn(move || {
                let mut client = marquee::db::connect_once(&params).unwrap();
                schema::migrate(&mut client, &name).map(|r| r.to_version)
            })
        })
        .collect();
    for handle in handles {
        assert_eq!(handle.join().unwrap().unwrap(), schema::latest_version());
    }
}

#[test]
fn a_database_from_a_newer_marquee_is_refused_untouched() {
    let db = TestDb::migrated();
    let mut client = db.client();
    client
        .batch_execute("INSERT INTO marquee_schema (version, name) VALUES (999, 'future')")
        .unwrap();
    let err = schema::migrate(&mut client, &db.name).unwrap_err();
    assert_eq!(err.kind, DbErrorKind::Schema);
    assert!(err.message.contains("schema version 999"), "{err}");
    assert!(err.message.contains("upgrade Marquee"), "{err}");
}

#[test]
fn accent_and_case_folding_is_available_to_queries() {
    let db = TestDb::migrated();
    let mut client = db.client();
    let folded: String = client
        .query_one("SELECT marquee_fold('Amélie À LA Carte')", &[])
        .unwrap()
        .get(0);
    assert_eq!(folded, "amelie a la carte");
}

/// Migration 7 rewrites the fold in PL/pgSQL and gives plain ASCII text a shortcut past unaccent
/// and the collation's lowercasing.
/// It must fold every string exactly as the full path does: the stored folds and the tags'
/// index were computed by the full path, and a search term is folded by the new one.
#[test]
fn the_ascii_shortcut_folds_exactly_as_unaccent_and_lower_do() {
    let db = TestDb::migrated();
    let mut client = db.client();
    let source: String = client
        .query_one(
            "SELECT prosrc FROM pg_proc WHERE oid = 'marquee.marquee_fold(text)'::regprocedure",
            &[],
        )
        .unwrap()
        .get(0);
    assert!(
        source.contains("octet_length"),
        "the test cluster (UTF-8, ICU or libc, default unaccent rules) takes the shortcut: {source}"
    );
    // Every ASCII character alone and together, and text just past ASCII: accents, ligatures,
    // other scripts, the Turkish dotted capital I, a final sigma, a character outside the BMP.
    let texts = [
        "(SELECT string_agg(chr(c), '' ORDER BY c) FROM generate_series(1, 127) AS c)",
        "'The Matrix (1999)'",
        "'ALL CAPS, digits 0-9 and \\ % _ kept'",
        "'Amélie À LA Carte'",
        "'Œuvre ÆSIR straße'",
        "'ИВАН Грозный'",
        "'ΟΔΥΣΣΕΥΣ'",
        "'İstanbul'",
        "'千と千尋の神隠し'",
        "'Emoji 🎬 Film'",
        "''",
    ];
    for text in texts {
        let row = client
            .query_one(
                &format!(
                    "SELECT marquee_fold(t), lower(public.unaccent('public.unaccent'::regdictionary, t))
                       FROM (SELECT {text} AS t) AS s"
                ),
                &[],
            )
            .unwrap();
        let (shortcut, full): (String, String) = (row.get(0), row.get(1));
        assert_eq!(shortcut, full, "folding {text}");
    }
}

/// A database as Marquee before schema version 4 left it: everything in `public`.
fn legacy_database() -> TestDb {
    let db = TestDb::empty();
    let mut client = marquee::db::connect_once(&db.params).unwrap();
    client
        .batch_execute(
            "CREATE TABLE marquee_schema (version integer PRIMARY KEY, name text NOT NULL,
                                          applied_at timestamptz NOT NULL DEFAULT now())",
        )
        .unwrap();
    for (version, name, sql) in schema::MIGRATIONS.iter().filter(|(v, _, _)| *v <= 3) {
        client.batch_execute(sql).unwrap();
        client
            .execute(
                "INSERT INTO marquee_schema (version, name) VALUES ($1, $2)",
                &[version, name],
            )
            .unwrap();
    }
    client
        .batch_execute(
            "INSERT INTO movies (id, title, year, genres) VALUES (1, 'Amélie (2001)', 2001, '{Comedy}');
             INSERT INTO ratings VALUES (7, 1, 4.5, now());
             SELECT refresh_movie_ratings();",
        )
        .unwrap();
    db
}

#[test]
fn an_older_schema_on_a_shared_server_is_browsed_read_only_with_a_note() {
    let db = legacy_database();
    let settings = marquee::config::Settings {
        server: marquee::config::ServerChoice::External(db.params.clone()),
        pool: marquee::config::PoolSettings::default(),
        source: Default::default(),
    };
    let server = marquee::db::Server::start(&settings).unwrap();
    let pool = marquee::db::open_pool(&server, &settings).unwrap();
    assert_eq!(
        pool.source().kind,
        marquee::db::source::SourceKind::MarqueeOlder { version: 3 }
    );
    let note = pool.source().notes.join(" ");
    assert!(
        note.contains("marquee db migrate") && note.contains("marquee schema"),
        "{note}"
    );
    let movies = marquee::repo::movies::MoviesRepository::new(pool.clone());
    let found = movies
        .page(&marquee::filter::Filter::parse("amelie").unwrap(), 0, 10)
        .unwrap();
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].rating_count, 1);
    pool.close();
    // Browsing left it as it was.
    let mut client = marquee::db::connect_once(&db.params).unwrap();
    assert_eq!(schema::current_version(&mut client).unwrap(), 3);
}

#[test]
fn migrating_an_older_database_moves_its_tables_into_the_marquee_schema() {
    let db = legacy_database();
    let mut client = marquee::db::connect_once(&db.params).unwrap();
    let report = schema::migrate(&mut client, &db.name).unwrap();
    assert_eq!(
        (report.from_version, report.to_version),
        (3, schema::latest_version())
    );
    // Migration 5 rewrote the table; the VACUUM after it marks every page all-visible again,
    // so title walks stay index-only.
    let visible: bool = client
        .query_one(
            "SELECT relpages > 0 AND relallvisible = relpages FROM pg_class
              WHERE oid = 'marquee.movies'::regclass",
            &[],
        )
        .unwrap()
        .get(0);
    assert!(visible, "marquee.movies is not all-visible after migrating");
    // Migration 6 stored the facets of the movie already there: one genre list, one decade,
    // one rating bucket.
    let totals: Vec<(i32, i64)> = client
        .query(
            "SELECT grouping, movies FROM marquee.facet_totals ORDER BY grouping",
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    assert_eq!(totals, vec![(0b011, 1), (0b101, 1), (0b110, 1)]);
    let row = client
        .query_one(
            "SELECT (SELECT count(*) FROM marquee.movies),
                    to_regclass('public.movies') IS NULL,
                    to_regclass('public.marquee_schema') IS NULL,
                    (SELECT rating_count FROM marquee.movies WHERE id = 1),
                    marquee.marquee_fold('Amélie'),
                    (SELECT title_fold FROM marquee.movies WHERE id = 1)",
            &[],
        )
        .unwrap();
    assert_eq!(row.get::<_, i64>(0), 1);
    assert!(row.get::<_, bool>(1) && row.get::<_, bool>(2));
    assert_eq!(row.get::<_, i32>(3), 1);
    assert_eq!(row.get::<_, String>(4), "amelie");
    // Version 5 stored the folded title of the movie that was already there.
    assert_eq!(row.get::<_, String>(5), "amelie (2001)");
    // The refresh function now works whatever the caller's search_path.
    client
        .batch_execute("SET search_path = pg_catalog; SELECT marquee.refresh_movie_ratings()")
        .unwrap();
    assert_eq!(
        schema::migrate(&mut client, &db.name).unwrap().from_version,
        schema::latest_version()
    );
}
