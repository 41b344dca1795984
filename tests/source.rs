//! Opening the movie databases people already have: MovieLens CSVs loaded with COPY the usual
//! way, read in place through a role that may only SELECT, give the same movies in the same
//! order as after importing the same files; a database with nothing Marquee can read gets one
//! message and is left untouched; a `[source]` mapping reads tables of any shape.

mod common;

use std::path::Path;
use std::process::{Command, Output};
use std::sync::atomic::{AtomicU32, Ordering};

use common::TestDb;
use marquee::config::SourceSettings;
use marquee::config::{ConnectParams, PoolSettings, ServerChoice, Settings};
use marquee::db::pool::DatabasePool;
use marquee::db::source::SourceKind;
use marquee::db::{self, Server};
use marquee::filter::Filter;
use marquee::import::load;
use marquee::import::movielens::MovieLensDir;
use marquee::import::sample::SampleSpec;
use marquee::import::title::parse_year;
use marquee::repo::movies::MoviesRepository;

const SPEC: SampleSpec = SampleSpec {
    movies: 1_500,
    ratings: 30_000,
    seed: 11,
};

/// Movies the sample does not have: wildcards and accents in titles, no year, untidy genres.
const EXTRA_MOVIES: &[(i32, &str, &str)] = &[
    (900_001, "100% Love (2011)", "Comedy|Romance"),
    (900_002, "Under_score, The", "(no genres listed)"),
    (900_003, "Amélie au pays (2003)", " Drama | Comedy |Drama"),
    (900_004, "AMELIE IN CAPITALS (1999-)", "Comedy"),
    (900_005, "Fawlty Towers (1975–1979)", "Comedy"),
    (900_006, "Station (0001)", "Drama"),
];

/// The sample written out as MovieLens CSV files, the way a user downloads them.
fn write_movielens(dir: &Path) {
    let mut movies = csv::Writer::from_path(dir.join("movies.csv")).unwrap();
    movies.write_record(["movieId", "title", "genres"]).unwrap();
    let mut links = csv::Writer::from_path(dir.join("links.csv")).unwrap();
    links.write_record(["movieId", "imdbId", "tmdbId"]).unwrap();
    for m in SPEC.movies() {
        let genres = if m.genres.is_empty() {
            "(no genres listed)".to_owned()
        } else {
            m.genres.join("|")
        };
        movies
            .write_record([m.id.to_string(), m.title.clone(), genres])
            .unwrap();
        links
            .write_record([
                m.id.to_string(),
                m.imdb_id.map(|i| format!("{i:07}")).unwrap_or_default(),
                m.tmdb_id.map(|i| i.to_string()).unwrap_or_default(),
            ])
            .unwrap();
    }
    for (id, title, genres) in EXTRA_MOVIES {
        movies
            .write_record([id.to_string(), (*title).to_owned(), (*genres).to_owned()])
            .unwrap();
    }
    movies.flush().unwrap();
    links.flush().unwrap();
    let mut ratings = csv::Writer::from_path(dir.join("ratings.csv")).unwrap();
    ratings
        .write_record(["userId", "movieId", "rating", "timestamp"])
        .unwrap();
    for r in SPEC.ratings() {
        ratings
            .write_record([
                r.user_id.to_string(),
                r.movie_id.to_string(),
                format!("{:.1}", r.rating),
                r.timestamp_secs.to_string(),
            ])
            .unwrap();
    }
    for (user, movie, stars) in [
        (1, 900_001, "4.5"),
        (2, 900_001, "3.0"),
        (1, 900_003, "5.0"),
    ] {
        ratings
            .write_record([&user.to_string(), &movie.to_string(), stars, "1300000000"])
            .unwrap();
    }
    ratings.flush().unwrap();
    let mut tags = csv::Writer::from_path(dir.join("tags.csv")).unwrap();
    tags.write_record(["userId", "movieId", "tag", "timestamp"])
        .unwrap();
    for t in SPEC.tags() {
        tags.write_record([
            t.user_id.to_string(),
            t.movie_id.to_string(),
            t.tag.clone(),
            t.timestamp_secs.to_string(),
        ])
        .unwrap();
    }
    tags.write_record(["3", "900003", "Paris", "1300000000"])
        .unwrap();
    tags.flush().unwrap();
}

/// `COPY table FROM STDIN` with a file's bytes: what `psql \copy` does.
fn copy_file(client: &mut postgres::Client, sql: &str, file: &Path) {
    use std::io::Write as _;
    let bytes = std::fs::read(file).unwrap();
    let mut writer = client.copy_in(sql).unwrap();
    writer.write_all(&bytes).unwrap();
    writer.finish().unwrap();
}

/// MovieLens loaded the usual way: quoted camelCase columns, `|` genres, epoch timestamps, in
/// `public`. The DBA installed unaccent and pg_trgm.
fn load_camel_case(db: &TestDb, dir: &Path) {
    let mut client = db::connect_once(&db.params).unwrap();
    client
        .batch_execute(
            r#"CREATE EXTENSION unaccent;
               CREATE EXTENSION pg_trgm;
               CREATE TABLE movies ("movieId" integer PRIMARY KEY, title text, genres text);
               CREATE TABLE ratings ("userId" integer, "movieId" integer, rating numeric(2,1), "timestamp" bigint);
               CREATE TABLE tags ("userId" integer, "movieId" integer, tag text, "timestamp" bigint);
               CREATE TABLE links ("movieId" integer, "imdbId" text, "tmdbId" integer);"#,
        )
        .unwrap();
    for table in ["movies", "ratings", "tags", "links"] {
        copy_file(
            &mut client,
            &format!("COPY {table} FROM STDIN (FORMAT csv, HEADER)"),
            &dir.join(format!("{table}.csv")),
        );
    }
}

/// The second layout: snake_case, `text[]` genres, a year column, timestamptz, in schema
/// `catalog`, from CSV files written that way.
/// The CSV fixtures in a scratch folder `label`, loaded the usual way (`COPY`) into quoted
/// camelCase tables of a database of their own: the folder and the database.
fn camel_case_source(label: &str) -> (std::path::PathBuf, TestDb) {
    let dir = common::scratch_dir(label);
    write_movielens(&dir);
    let raw = TestDb::empty();
    load_camel_case(&raw, &dir);
    (dir, raw)
}

fn load_snake_case(db: &TestDb, dir: &Path) {
    let mut movies = csv::Writer::from_path(dir.join("movies_snake.csv")).unwrap();
    let source = MovieLensDir::open(dir).unwrap();
    for m in source.movies().unwrap() {
        let m = m.unwrap();
        let genres: Vec<String> = m
            .genres
            .iter()
            .map(|g| format!("\"{}\"", g.replace('"', "\\\"")))
            .collect();
        movies
            .write_record([
                m.id.to_string(),
                m.title.clone(),
                parse_year(&m.title)
                    .map(|y| y.to_string())
                    .unwrap_or_default(),
                format!("{{{}}}", genres.join(",")),
            ])
            .unwrap();
    }
    movies.flush().unwrap();
    let mut client = db::connect_once(&db.params).unwrap();
    client
        .batch_execute(
            "CREATE EXTENSION unaccent;
             CREATE SCHEMA catalog;
             CREATE TABLE catalog.movies (movie_id integer, title text, year smallint, genres text[]);
             CREATE TABLE catalog.ratings (user_id integer, movie_id integer, rating real, rated_at timestamptz);
             CREATE TABLE catalog.tags (user_id integer, movie_id integer, tag text, created_at bigint);
             CREATE TEMP TABLE raw_ratings (u integer, m integer, r real, t bigint);",
        )
        .unwrap();
    copy_file(
        &mut client,
        "COPY catalog.movies FROM STDIN (FORMAT csv)",
        &dir.join("movies_snake.csv"),
    );
    copy_file(
        &mut client,
        "COPY raw_ratings FROM STDIN (FORMAT csv, HEADER)",
        &dir.join("ratings.csv"),
    );
    client
        .batch_execute(
            "INSERT INTO catalog.ratings SELECT u, m, r, to_timestamp(t) FROM raw_ratings",
        )
        .unwrap();
    copy_file(
        &mut client,
        "COPY catalog.tags FROM STDIN (FORMAT csv, HEADER)",
        &dir.join("tags.csv"),
    );
}

/// A login role that may only read: SELECT on the tables, no CREATE or TEMP anywhere, and
/// every transaction read-only, so any write Marquee tried would fail the test.
struct Reader {
    name: String,
    params: ConnectParams,
}

impl Reader {
    fn new(db: &TestDb, schemas: &[&str]) -> Self {
        static COUNTER: AtomicU32 = AtomicU32::new(0);
        let name = format!(
            "reader_{}_{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        );
        let mut admin = db::connect_once(&db.params).unwrap();
        let mut sql = format!(
            "CREATE ROLE {name} LOGIN;
             ALTER ROLE {name} SET default_transaction_read_only = on;
             REVOKE ALL ON DATABASE {db} FROM PUBLIC;
             GRANT CONNECT ON DATABASE {db} TO {name};
             REVOKE CREATE ON SCHEMA public FROM PUBLIC;",
            db = db.name
        );
        for schema in schemas {
            sql.push_str(&format!(
                "GRANT USAGE ON SCHEMA {schema} TO {name};
                 GRANT SELECT ON ALL TABLES IN SCHEMA {schema} TO {name};"
            ));
        }
        admin.batch_execute(&sql).unwrap();
        let mut params = db.params.clone();
        params.user = name.clone();
        Self { name, params }
    }
}

impl Drop for Reader {
    fn drop(&mut self) {
        let mut admin = self.params.clone();
        admin.user = marquee::db::cluster::PRIVATE_ROLE.to_owned();
        if let Ok(mut client) = db::connect_once(&admin) {
            let _ = client.batch_execute(&format!(
                "DROP OWNED BY {0}; DROP ROLE IF EXISTS {0}",
                self.name
            ));
        }
    }
}

fn settings_for(params: &ConnectParams, source: SourceSettings) -> Settings {
    Settings {
        server: ServerChoice::External(params.clone()),
        pool: PoolSettings {
            min_idle: 1,
            max_size: 4,
            ..PoolSettings::default()
        },
        source,
    }
}

/// The app's own path: the pool, and the source it detects.
fn open(params: &ConnectParams, source: SourceSettings) -> DatabasePool {
    let server = Server {
        params: params.clone(),
        cluster: None,
    };
    db::open_pool(&server, &settings_for(params, source)).expect("open the source")
}

/// The same files imported into Marquee's own store.
fn imported(dir: &Path) -> TestDb {
    let db = TestDb::migrated();
    let mut client = db.client();
    load::load_movielens(
        &mut client,
        &db.name,
        &MovieLensDir::open(dir).unwrap(),
        &mut |_| {},
    )
    .unwrap();
    db
}

fn rows(pool: &DatabasePool, filter: &str) -> Vec<marquee::repo::movies::MovieRow> {
    let filter = Filter::parse(filter).unwrap();
    MoviesRepository::new(pool.clone())
        .page(&filter, 0, 100_000)
        .unwrap()
}

fn most_used_tag(pool: &DatabasePool) -> String {
    let mut conn = pool.get("test").unwrap();
    conn.query_one(
        "SELECT tag FROM marquee.tags GROUP BY tag ORDER BY count(*) DESC, tag LIMIT 1",
        &[],
    )
    .unwrap()
    .get(0)
}

const FILTERS: &[&str] = &[
    "amelie",
    "100%",
    "_",
    "genre:Comedy,Drama sort:title",
    "genre-all:Comedy,Romance sort:-votes",
    "genre-not:Drama sort:-title",
    "year:1990..1999 sort:-year,title",
    "year:..1950 sort:year",
    "sort:year",
    "rating:>=4 votes:>=5 sort:-rating,-votes",
    "votes:>=20 sort:-votes,title",
    "the genre:Drama year:1980.. rating:3..4.5 sort:-rating,title",
];

fn assert_same_movies(in_place: &DatabasePool, imported: &DatabasePool, filters: &[String]) {
    for filter in filters {
        let a = rows(in_place, filter);
        let b = rows(imported, filter);
        assert_eq!(
            a.iter().map(|m| m.id).collect::<Vec<_>>(),
            b.iter().map(|m| m.id).collect::<Vec<_>>(),
            "ids for {filter:?}"
        );
        assert_eq!(a, b, "rows for {filter:?}");
        assert!(!b.is_empty(), "{filter:?} should find something");
    }
}

#[test]
fn movielens_tables_in_place_match_the_import_through_a_read_only_role() {
    let (dir, raw) = camel_case_source("source-camel");
    let reader = Reader::new(&raw, &["public"]);
    let local = imported(&dir);

    let in_place = open(&reader.params, SourceSettings::default());
    assert_eq!(
        in_place.source().kind,
        SourceKind::MovieLens {
            schema: "public".into()
        }
    );
    assert!(
        in_place.source().notes.is_empty(),
        "{:?}",
        in_place.source().notes
    );
    let store = open(&local.params, SourceSettings::default());
    assert!(store.source().is_marquee());

    let mut filters: Vec<String> = FILTERS.iter().map(|f| (*f).to_owned()).collect();
    filters.push(format!("tag:\"{}\" sort:title", most_used_tag(&store)));
    filters.push("tag:paris".to_owned());
    assert_same_movies(&in_place, &store, &filters);
    // The filters are not vacuous: each kind finds something.
    assert!(rows(&in_place, "amelie").len() >= 2);
    assert_eq!(rows(&in_place, "100%").len(), 1);
    assert_eq!(rows(&in_place, "_")[0].title, "Under_score, The");
    assert!(rows(&in_place, "sort:year").last().unwrap().year.is_none());

    // Counts, facets, details and export agree too.
    let a = MoviesRepository::new(in_place.clone());
    let b = MoviesRepository::new(store.clone());
    for filter in ["", "genre:Comedy year:1980..", "rating:>=3.5"] {
        let f = Filter::parse(filter).unwrap();
        assert_eq!(a.exact_count(&f).unwrap(), b.exact_count(&f).unwrap());
        assert_eq!(
            a.capped_count(&f, 100).unwrap(),
            b.capped_count(&f, 100).unwrap()
        );
        assert_eq!(a.facets(&f).unwrap(), b.facets(&f).unwrap(), "{filter}");
        let (mut x, mut y) = (Vec::new(), Vec::new());
        a.export_csv(&f, &mut x, &mut |_| {}).unwrap();
        b.export_csv(&f, &mut y, &mut |_| {}).unwrap();
        assert_eq!(String::from_utf8(x).unwrap(), String::from_utf8(y).unwrap());
    }
    for id in [1, 2, 900_003] {
        assert_eq!(a.details(id).unwrap(), b.details(id).unwrap());
    }
    // Summaries and column statistics read in place through the same role, and agree.
    let summaries = marquee::repo::summary::SummaryRepository::new(in_place.clone());
    let local_summaries = marquee::repo::summary::SummaryRepository::new(store.clone());
    for (filter, by) in [
        ("", "genre"),
        ("", "tag"),
        ("genre:Comedy", "decade,rating"),
        ("rating:>=3.5", "votes"),
    ] {
        let f = Filter::parse(filter).unwrap();
        let spec =
            marquee::summary::SummarySpec::parse(by, "movies,ratings,avg,median", 20).unwrap();
        let here = summaries.summarize(&f, &spec).unwrap();
        assert!(!here.rows.is_empty(), "{filter} by {by}");
        assert_eq!(
            here,
            local_summaries.summarize(&f, &spec).unwrap(),
            "{filter} by {by}"
        );
    }
    let stats = marquee::repo::column_stats::ColumnStatsRepository::new(in_place.clone());
    let local_stats = marquee::repo::column_stats::ColumnStatsRepository::new(store.clone());
    let comedies = Filter::parse("genre:Comedy").unwrap();
    for column in [
        marquee::repo::column_stats::StatColumn::Year,
        marquee::repo::column_stats::StatColumn::Genres,
        marquee::repo::column_stats::StatColumn::Rating,
    ] {
        assert_eq!(
            stats.stats(&comedies, column).unwrap(),
            local_stats.stats(&comedies, column).unwrap()
        );
    }
    let ratings = marquee::repo::ratings::RatingsRepository::new(in_place.clone());
    let local_ratings = marquee::repo::ratings::RatingsRepository::new(store.clone());
    assert_eq!(
        ratings.histogram(1).unwrap(),
        local_ratings.histogram(1).unwrap()
    );
    assert_eq!(
        ratings.recent(1, 5).unwrap(),
        local_ratings.recent(1, 5).unwrap()
    );
    let tags = marquee::repo::tags::TagsRepository::new(in_place.clone());
    let local_tags = marquee::repo::tags::TagsRepository::new(store.clone());
    assert_eq!(
        tags.search("par", 5).unwrap(),
        local_tags.search("par", 5).unwrap()
    );
    in_place.close();
    store.close();

    // Nothing was created on the server Marquee does not own.
    let mut client = raw.client();
    let marquee_schema: bool = client
        .query_one(
            "SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = 'marquee')",
            &[],
        )
        .unwrap()
        .get(0);
    assert!(!marquee_schema);
}

#[test]
fn snake_case_tables_with_array_genres_in_another_schema_match_the_import() {
    let dir = common::scratch_dir("source-snake");
    write_movielens(&dir);
    let raw = TestDb::empty();
    load_snake_case(&raw, &dir);
    let reader = Reader::new(&raw, &["catalog"]);
    let local = imported(&dir);

    // Not on the search_path: found only when named.
    let server = Server {
        params: reader.params.clone(),
        cluster: None,
    };
    let err = db::open_pool(
        &server,
        &settings_for(&reader.params, SourceSettings::default()),
    )
    .unwrap_err();
    assert!(err.message.contains("--schema"), "{err}");

    let in_place = open(
        &reader.params,
        SourceSettings {
            schema: Some("catalog".into()),
            ..SourceSettings::default()
        },
    );
    assert_eq!(
        in_place.source().kind,
        SourceKind::MovieLens {
            schema: "catalog".into()
        }
    );
    let store = open(&local.params, SourceSettings::default());
    let filters: Vec<String> = FILTERS.iter().map(|f| (*f).to_owned()).collect();
    assert_same_movies(&in_place, &store, &filters);
    in_place.close();
    store.close();
}

#[test]
fn without_unaccent_matching_ignores_case_only_and_says_so() {
    let raw = TestDb::empty();
    let mut client = raw.client();
    client
        .batch_execute(
            "CREATE TABLE movies (id integer, title text, genres text);
             INSERT INTO movies VALUES (1, 'Amélie (2001)', 'Comedy'), (2, 'AMÉLIE II (2003)', 'Drama');",
        )
        .unwrap();
    let pool = open(&raw.params, SourceSettings::default());
    let notes = pool.source().notes.join(" ");
    assert!(notes.contains("no unaccent"), "{notes}");
    assert!(rows(&pool, "amelie").is_empty());
    assert_eq!(rows(&pool, "amélie").len(), 2);
    assert_eq!(rows(&pool, "year:2001")[0].id, 1);
}

fn marquee(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_marquee"))
        .args(args)
        .env_remove("DATABASE_URL")
        .env_remove("PGHOST")
        .env_remove("PGPORT")
        .env_remove("PGDATABASE")
        .env_remove("PGUSER")
        .env("XDG_CONFIG_HOME", env!("CARGO_TARGET_TMPDIR"))
        .output()
        .expect("run marquee")
}

fn user_objects(client: &mut postgres::Client) -> Vec<String> {
    client
        .query(
            "SELECT n.nspname || '.' || c.relname FROM pg_class c
               JOIN pg_namespace n ON n.oid = c.relnamespace
              WHERE n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast')
              ORDER BY 1",
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect()
}

#[test]
fn a_database_with_unrelated_tables_gets_one_message_and_nothing_is_created() {
    let raw = TestDb::empty();
    let mut client = raw.client();
    client
        .batch_execute("CREATE TABLE invoices (id integer, total numeric)")
        .unwrap();
    let before = user_objects(&mut client);
    let out = marquee(&["--url", &raw.params.to_url(), "movies"]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("holds no movies Marquee can read"), "{err}");
    assert!(err.contains(&raw.name), "names the database: {err}");
    assert!(
        err.contains("[source]") && err.contains("--schema"),
        "{err}"
    );
    assert!(!err.contains("panicked"), "{err}");
    assert_eq!(user_objects(&mut client), before);
}

#[test]
fn a_mapping_in_the_config_file_reads_a_films_table() {
    let raw = TestDb::empty();
    let mut client = raw.client();
    client
        .batch_execute(
            "CREATE TABLE films (film_id integer, name text, released date, kinds text);
             INSERT INTO films VALUES
               (1, 'Heat', '1995-12-15', 'Crime|Thriller'),
               (2, 'Ronin', '1998-09-25', 'Action'),
               (3, 'Collateral', '2004-08-06', 'Crime');
             CREATE TABLE reviews (film integer, stars real);
             INSERT INTO reviews VALUES (1, 5), (1, 4), (3, 4);
             CREATE TABLE refs (film integer, imdb text);
             INSERT INTO refs VALUES (1, '0113277'), (3, ' 0369339 ');",
        )
        .unwrap();
    let reader = Reader::new(&raw, &["public"]);
    let dir = common::scratch_dir("source-mapping");
    let config = dir.join("config.toml");
    std::fs::write(
        &config,
        r#"
[source]
[source.movies]
table = "films"
id = "film_id"
title = "name"
year = "released"
genres = "kinds"
[source.ratings]
table = "reviews"
movie_id = "film"
rating = "stars"
[source.links]
table = "refs"
movie_id = "film"
imdb_id = "imdb"
"#,
    )
    .unwrap();
    let out = marquee(&[
        "--url",
        &reader.params.to_url(),
        "--config",
        config.to_str().unwrap(),
        "movies",
        "--filter",
        "genre:Crime sort:-rating",
        "--format",
        "csv",
    ]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    let text = String::from_utf8_lossy(&out.stdout);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(
        lines,
        [
            "id,title,year,genres,rating_avg,rating_count",
            "1,Heat,1995,Crime|Thriller,4.500,2",
            "3,Collateral,2004,Crime,4.000,1",
        ]
    );

    // The same mapping through the app's pool: details carry the mapped links.
    let text = std::fs::read_to_string(&config).unwrap();
    let layer = marquee::config::ConfigLayer::from_file(&config).unwrap();
    let pool = open(&reader.params, layer.source.unwrap());
    let movies = MoviesRepository::new(pool);
    let heat = movies.details(1).unwrap().expect("Heat is there");
    assert_eq!((heat.imdb_id, heat.tmdb_id), (Some(113277), None));
    assert_eq!(
        heat.imdb_url().as_deref(),
        Some("https://www.imdb.com/title/tt0113277/")
    );
    let collateral = movies.details(3).unwrap().expect("Collateral is there");
    assert_eq!(collateral.imdb_id, Some(369339));
    let ronin = movies.details(2).unwrap().expect("Ronin is there");
    assert_eq!((ronin.imdb_id, ronin.tmdb_id), (None, None));

    // A links table with neither number is a mistake the message names.
    std::fs::write(&config, text.replace("imdb_id = \"imdb\"\n", "")).unwrap();
    let out = marquee(&[
        "--url",
        &reader.params.to_url(),
        "--config",
        config.to_str().unwrap(),
        "movies",
    ]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("[source.links] names neither imdb_id nor tmdb_id"),
        "{err}"
    );
    assert!(!err.contains("panicked"), "{err}");
}

#[test]
fn the_cli_reads_movielens_tables_through_a_read_only_role() {
    let (dir, raw) = camel_case_source("source-cli");
    let reader = Reader::new(&raw, &["public"]);
    let url = reader.params.to_url();
    let out = marquee(&[
        "--url", &url, "movies", "--filter", "100%", "--format", "csv",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("100% Love (2011)"));
    let file = dir.join("comedy.csv");
    let out = marquee(&[
        "--url",
        &url,
        "export",
        "--filter",
        "genre:Comedy",
        file.to_str().unwrap(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = std::fs::read_to_string(&file).unwrap();
    assert!(text.lines().count() > 10);
    assert!(text.contains("Amélie au pays (2003)"));
    let out = marquee(&["--url", &url, "pool-stats", "--json"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = marquee(&[
        "--url",
        &url,
        "summarize",
        "--by",
        "genre",
        "--compare",
        "rest",
        "--filter",
        "year:..1999",
        "--format",
        "csv",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("\nComedy,"));
    // Writing needs a command that says so, and a role that may write.
    let out = marquee(&["--url", &url, "seed", "--movies", "10", "--ratings", "10"]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("writing to database"), "{err}");
}

#[test]
fn the_window_browses_movielens_tables_through_a_read_only_role_and_says_so() {
    use common::ui::{app_with, loaded_rows, shows, step_until};
    use std::time::Duration;
    let (_, raw) = camel_case_source("source-window");
    let reader = Reader::new(&raw, &["public"]);
    let mut harness = app_with(
        ServerChoice::External(reader.params.clone()),
        [1400.0, 900.0],
    );
    step_until(
        &mut harness,
        "the first rows",
        Duration::from_secs(60),
        |h| !loaded_rows(h).is_empty(),
    );
    step_until(
        &mut harness,
        "the source line",
        Duration::from_secs(30),
        |h| shows(h, "MovieLens tables in place (schema public) · read-only"),
    );
    assert!(!shows(&harness, "Error"), "no error on a read-only role");
    drop(harness);
}

#[test]
fn the_window_copies_tables_in_place_into_a_private_store_and_opens_the_copy() {
    use common::ui::{app_with, click_when_still, loaded_rows, shows, step_until};
    use egui_kittest::kittest::Queryable as _;
    use std::time::Duration;
    let (_, raw) = camel_case_source("source-window-copy");
    let before = user_objects(&mut raw.client());
    let reader = Reader::new(&raw, &["public"]);
    let store_dir = common::scratch_dir("source-window-copy-store");
    let mut harness = app_with(
        ServerChoice::External(reader.params.clone()),
        [1400.0, 900.0],
    );
    harness.state_mut().set_local_copy_dir(store_dir.clone());
    step_until(
        &mut harness,
        "the source line",
        Duration::from_secs(60),
        |h| shows(h, "MovieLens tables in place (schema public) · read-only"),
    );
    click_when_still(&mut harness, "Copy locally…");
    step_until(&mut harness, "the question", Duration::from_secs(10), |h| {
        shows(h, "The source is only read.")
    });
    // The question names what is replaced, and where.
    assert!(shows(
        &harness,
        &format!(
            "replaces the collection of the private store in {}",
            store_dir.display()
        )
    ));
    harness.get_by_label("Start the copy").click();
    // A private server is made in the scratch folder (initdb), migrated, and filled.
    step_until(
        &mut harness,
        "the finished copy",
        Duration::from_secs(180),
        |h| shows(h, "Open the copy") || shows(h, "The local copy failed"),
    );
    let movies = SPEC.movies as usize + EXTRA_MOVIES.len();
    assert!(
        shows(
            &harness,
            &format!(
                "Copied {} movies",
                marquee::plural::thousands(movies as u64)
            )
        ),
        "the copy reports what it stored"
    );
    click_when_still(&mut harness, "Open the copy");
    step_until(
        &mut harness,
        "the copy's rows",
        Duration::from_secs(60),
        |h| shows(h, "Marquee's collection") && loaded_rows(h).len() >= 10,
    );
    assert!(
        !shows(&harness, "read-only"),
        "the private store is Marquee's own"
    );
    assert!(!shows(&harness, "Copy locally…"), "nothing left to copy");
    step_until(
        &mut harness,
        "the exact count",
        Duration::from_secs(30),
        |h| {
            matches!(
                h.state().browse().count(),
                Some(marquee::repo::movies::RowCount::Exact(n)) if n == movies as u64
            )
        },
    );
    drop(harness);
    // The source was only read.
    assert_eq!(user_objects(&mut raw.client()), before);
    marquee::db::cluster::PrivateCluster::stop_folder(&store_dir).unwrap();
}

/// PgBouncer in transaction mode in front of `backend`, logging in as `user`.
struct Bouncer {
    child: std::process::Child,
    dir: std::path::PathBuf,
    port: u16,
}

impl Bouncer {
    fn start(backend: &ConnectParams) -> Self {
        let binary = ["/usr/sbin/pgbouncer", "/usr/bin/pgbouncer"]
            .into_iter()
            .map(std::path::PathBuf::from)
            .find(|p| p.exists())
            .expect("pgbouncer is not installed (apt-get install pgbouncer; .ci/run does this)");
        let dir = common::scratch_dir("source-pgbouncer");
        let port = std::net::TcpListener::bind(("127.0.0.1", 0))
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let user = &backend.user;
        std::fs::write(dir.join("userlist.txt"), format!("\"{user}\" \"\"\n")).unwrap();
        std::fs::write(
            dir.join("pgbouncer.ini"),
            format!(
                "[databases]\nmovies = host={} port={} dbname={} user={user}\n\n[pgbouncer]\n\
                 listen_addr = 127.0.0.1\nlisten_port = {port}\nunix_socket_dir =\nauth_type = trust\n\
                 auth_file = {}\npool_mode = transaction\nmax_client_conn = 100\ndefault_pool_size = 4\n\
                 ignore_startup_parameters = options,extra_float_digits\nlogfile = {}\n",
                backend.host,
                backend.port,
                backend.dbname,
                dir.join("userlist.txt").display(),
                dir.join("pgbouncer.log").display()
            ),
        )
        .unwrap();
        let mut cmd = Command::new(binary);
        // PgBouncer will not run as root.
        // SAFETY: geteuid has no preconditions.
        if unsafe { libc::geteuid() } == 0 {
            let pg = Command::new("id")
                .args(["-u", "postgres"])
                .output()
                .unwrap();
            let uid: u32 = String::from_utf8_lossy(&pg.stdout).trim().parse().unwrap();
            std::os::unix::fs::chown(&dir, Some(uid), None).unwrap();
            cmd.args(["-u", "postgres"]);
        }
        let child = cmd
            .arg(dir.join("pgbouncer.ini"))
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                std::time::Instant::now() < deadline,
                "pgbouncer did not listen"
            );
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        Self { child, dir, port }
    }
}

impl Drop for Bouncer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

#[test]
fn movielens_tables_in_place_work_through_pgbouncer_in_transaction_mode() {
    let (_, raw) = camel_case_source("source-bouncer-data");
    let reader = Reader::new(&raw, &["public"]);
    let bouncer = Bouncer::start(&reader.params);
    let params = ConnectParams {
        host: "127.0.0.1".into(),
        port: bouncer.port,
        dbname: "movies".into(),
        user: reader.name.clone(),
        password: None,
        sslmode: marquee::config::SslMode::Disable,
        connect_timeout_secs: 3,
        ..ConnectParams::default()
    };
    let through = open(&params, SourceSettings::default());
    let direct = open(&reader.params, SourceSettings::default());
    assert_eq!(through.source(), direct.source());
    let filters: Vec<String> = FILTERS.iter().map(|f| (*f).to_owned()).collect();
    assert_same_movies(&through, &direct, &filters);
    let a = MoviesRepository::new(through.clone());
    let b = MoviesRepository::new(direct.clone());
    let f = Filter::parse("genre:Comedy sort:-rating").unwrap();
    assert_eq!(a.facets(&f).unwrap(), b.facets(&f).unwrap());
    assert_eq!(a.estimate_count(&f).unwrap(), b.estimate_count(&f).unwrap());
    assert_eq!(a.details(1).unwrap(), b.details(1).unwrap());
    let (mut x, mut y) = (Vec::new(), Vec::new());
    a.export_csv(&f, &mut x, &mut |_| {}).unwrap();
    b.export_csv(&f, &mut y, &mut |_| {}).unwrap();
    assert_eq!(x, y);
    through.close();
    direct.close();
    drop(bouncer);
}

fn movie_count_and_collection(db: &TestDb) -> (i64, String) {
    let row = db
        .client()
        .query_one(
            "SELECT (SELECT count(*) FROM marquee.movies),
                    (SELECT value FROM marquee.marquee_meta WHERE key = 'collection')",
            &[],
        )
        .unwrap();
    (row.get(0), row.get(1))
}

#[test]
fn import_postgres_copies_tables_in_place_into_the_store_like_the_file_import() {
    let (dir, raw) = camel_case_source("source-import");
    let reader = Reader::new(&raw, &["public"]);
    let store = TestDb::migrated();
    let out = marquee(&[
        "--url",
        &store.params.to_url(),
        "import",
        "postgres",
        &reader.params.to_url(),
    ]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(err.contains("MovieLens tables in place"), "{err}");
    assert!(
        err.contains(&format!("writing to database {}", store.name)),
        "{err}"
    );
    let (count, description) = movie_count_and_collection(&store);
    assert_eq!(count, i64::from(SPEC.movies) + EXTRA_MOVIES.len() as i64);
    assert!(description.contains("PostgreSQL import"), "{description}");

    let copied = open(&store.params, SourceSettings::default());
    assert!(copied.source().is_marquee());
    let local = imported(&dir);
    let from_files = open(&local.params, SourceSettings::default());
    let mut filters: Vec<String> = FILTERS.iter().map(|f| (*f).to_owned()).collect();
    filters.push("tag:paris".to_owned());
    assert_same_movies(&copied, &from_files, &filters);
    let a = MoviesRepository::new(copied.clone());
    let b = MoviesRepository::new(from_files.clone());
    for id in [1, 2, 3, 900_003] {
        assert_eq!(a.details(id).unwrap(), b.details(id).unwrap());
    }
    copied.close();
    from_files.close();
}

#[test]
fn a_source_connection_killed_mid_copy_leaves_the_previous_collection() {
    let (_, raw) = camel_case_source("source-import-killed");
    // The source connection ends itself when the copy reaches the last movie's ratings, after
    // most ratings have streamed into the store (they are copied first).
    raw.client()
        .batch_execute(
            r#"ALTER TABLE ratings RENAME TO ratings_raw;
               CREATE FUNCTION die_at(movie integer) RETURNS boolean LANGUAGE plpgsql VOLATILE AS $$
               BEGIN
                   IF movie = 900001 THEN PERFORM pg_terminate_backend(pg_backend_pid()); END IF;
                   RETURN true;
               END $$;
               CREATE VIEW ratings AS SELECT * FROM ratings_raw WHERE die_at("movieId");"#,
        )
        .unwrap();
    let store = TestDb::seeded(&SampleSpec {
        movies: 300,
        ratings: 3_000,
        seed: 3,
    });
    let before = movie_count_and_collection(&store);
    let out = marquee(&[
        "--url",
        &store.params.to_url(),
        "import",
        "postgres",
        &raw.params.to_url(),
    ]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    // The client hears the backend's own FATAL ("terminating connection …") or, when the socket
    // closes first, a reset: both are the lost source, named with the phase it broke in.
    assert!(
        err.contains("while copying ratings")
            && (err.contains("terminating connection") || err.contains("was lost")),
        "{err}"
    );
    assert!(err.contains("nothing was changed"), "{err}");
    assert!(!err.contains("panicked"), "{err}");
    assert_eq!(movie_count_and_collection(&store), before);
}
