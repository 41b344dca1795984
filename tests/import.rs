//! Loading collections into a real server: the generated sample's counts and derived columns,
//! the MovieLens fixture with every quirk, and failed imports that leave the earlier data intact.

mod common;

use std::path::{Path, PathBuf};

use common::TestDb;
use marquee::import::load::{self, LoadError};
use marquee::import::movielens::MovieLensDir;
use marquee::import::sample::SampleSpec;

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

fn count(client: &mut postgres::Client, sql: &str) -> i64 {
    client.query_one(sql, &[]).unwrap().get(0)
}

/// Movies whose stored rating count or average differs from their ratings'.
fn summaries_off(client: &mut postgres::Client) -> i64 {
    count(
        client,
        "SELECT count(*) FROM movies m
           LEFT JOIN (SELECT movie_id, count(*) n, avg(rating)::real a FROM ratings GROUP BY movie_id) r
             ON r.movie_id = m.id
          WHERE m.rating_count <> coalesce(r.n, 0) OR m.rating_avg IS DISTINCT FROM r.a",
    )
}

fn import(db: &TestDb, dir: &Path) -> Result<load::LoadReport, LoadError> {
    let folder = MovieLensDir::open(dir)?;
    let mut client = db.client();
    load::load_movielens(&mut client, &db.name, &folder, &mut |_| {})
}

#[test]
fn the_default_sample_has_the_original_size_and_consistent_derived_columns() {
    let db = TestDb::default_sample();
    let mut client = db.client();
    assert_eq!(count(&mut client, "SELECT count(*) FROM movies"), 86_537);
    assert_eq!(
        count(&mut client, "SELECT count(*) FROM ratings"),
        1_000_000
    );
    let spec = SampleSpec::default();
    assert_eq!(
        count(&mut client, "SELECT count(*) FROM tags") as u64,
        spec.tag_count()
    );
    // rating_count / rating_avg are derived from ratings for every movie.
    assert_eq!(summaries_off(&mut client), 0);
    // Written once, with their summaries, in id order: consecutive ids share heap pages (a page
    // of the table is a few reads, not one per row as after an UPDATE of every movie).
    assert_eq!(
        count(
            &mut client,
            "SELECT count(*) FROM (SELECT id, lag(id) OVER (ORDER BY ctid) AS before FROM movies) m
              WHERE id < before"
        ),
        0,
        "the movies are stored in id order"
    );
    assert!(
        count(
            &mut client,
            "SELECT count(*) FROM movies WHERE year IS NULL"
        ) > 0,
        "some titles have no year"
    );
    let description: String = client
        .query_one(
            "SELECT value FROM marquee_meta WHERE key = 'collection'",
            &[],
        )
        .unwrap()
        .get(0);
    assert!(description.contains("86537 movies"), "{description}");
    // The stored folded title keeps its finer statistics target through the load, and holds
    // exactly what folding the title gives.
    assert_eq!(
        count(
            &mut client,
            "SELECT a.attstattarget::bigint FROM pg_attribute a
              WHERE a.attrelid = 'marquee.movies'::regclass AND a.attname = 'title_fold'"
        ),
        1000
    );
    assert_eq!(
        count(
            &mut client,
            "SELECT count(*) FROM movies WHERE title_fold IS DISTINCT FROM marquee_fold(title)"
        ),
        0
    );
    // The load leaves statistics for every column, at each column's own target (the folded
    // title's histogram is finer than the default 100 buckets), and for the index expressions.
    assert_eq!(
        count(
            &mut client,
            "SELECT count(*) FROM pg_attribute a
              WHERE a.attrelid IN ('marquee.movies'::regclass, 'marquee.ratings'::regclass, 'marquee.tags'::regclass)
                AND a.attnum > 0 AND NOT a.attisdropped
                AND NOT EXISTS (SELECT FROM pg_stats s WHERE s.schemaname = 'marquee'
                                   AND s.tablename = a.attrelid::regclass::text AND s.attname = a.attname)"
        ),
        0,
        "a column without statistics"
    );
    assert!(
        count(
            &mut client,
            "SELECT array_length(histogram_bounds, 1)::bigint FROM pg_stats
              WHERE schemaname = 'marquee' AND tablename = 'movies' AND attname = 'title_fold'"
        ) > 101
    );
    assert!(
        count(
            &mut client,
            "SELECT count(*) FROM pg_stats WHERE schemaname = 'marquee' AND tablename = 'tags_tag_fold'"
        ) >= 1,
        "the folded tag index has no statistics"
    );
    // Every index and foreign key dropped for the load is back.
    assert!(
        count(
            &mut client,
            "SELECT count(*) FROM pg_indexes WHERE tablename = 'movies'"
        ) >= 7
    );
    assert_eq!(
        count(
            &mut client,
            "SELECT count(*) FROM pg_constraint WHERE contype = 'f'"
        ),
        2
    );
}

#[test]
fn seeding_a_chosen_size_gives_exactly_that_many_rows() {
    let db = TestDb::migrated();
    let mut client = db.client();
    let spec = SampleSpec {
        movies: 3_000,
        ratings: 45_000,
        seed: 11,
    };
    let report = load::load_sample(&mut client, &db.name, &spec, &mut |_| {}).unwrap();
    assert_eq!((report.movies, report.ratings), (3_000, 45_000));
    assert_eq!(count(&mut client, "SELECT count(*) FROM movies"), 3_000);
    assert_eq!(count(&mut client, "SELECT count(*) FROM ratings"), 45_000);
}

#[test]
fn the_movielens_fixture_imports_with_every_quirk_intact() {
    let db = TestDb::migrated();
    let report = import(&db, &fixture("movielens-quirks")).unwrap();
    assert_eq!((report.movies, report.ratings, report.tags), (16, 40, 10));
    let mut client = db.client();
    let title_year =
        |client: &mut postgres::Client, id: i32| -> (String, Option<i16>, Vec<String>) {
            let row = client
                .query_one(
                    "SELECT title, year, genres FROM movies WHERE id = $1",
                    &[&id],
                )
                .unwrap();
            (row.get(0), row.get(1), row.get(2))
        };
    assert_eq!(
        title_year(&mut client, 29),
        (
            "City of Lost Children, The (Cité des enfants perdus, La) (1995)".to_owned(),
            Some(1995),
            vec!["Adventure", "Drama", "Fantasy", "Mystery", "Sci-Fi"]
                .into_iter()
                .map(String::from)
                .collect()
        )
    );
    assert_eq!(
        title_year(&mut client, 2157).0,
        "\"Great Performances\" Cats (1998)"
    );
    assert_eq!(title_year(&mut client, 5618).1, Some(2001));
    assert_eq!(title_year(&mut client, 171495).1, None, "no year");
    assert_eq!(
        title_year(&mut client, 147250).1,
        Some(1975),
        "a year range starts the range"
    );
    assert_eq!(
        title_year(&mut client, 164179).0,
        "Paterson (2016) ",
        "kept byte for byte, trailing space too"
    );
    assert_eq!(title_year(&mut client, 164179).1, Some(2016));
    assert_eq!(
        title_year(&mut client, 167570).2,
        Vec::<String>::new(),
        "(no genres listed)"
    );
    assert_eq!(title_year(&mut client, 1984).1, Some(1984));
    let (imdb, tmdb): (Option<i32>, Option<i32>) = {
        let row = client
            .query_one("SELECT imdb_id, tmdb_id FROM movies WHERE id = 1", &[])
            .unwrap();
        (row.get(0), row.get(1))
    };
    assert_eq!((imdb, tmdb), (Some(114_709), Some(862)));
    assert!(
        count(
            &mut client,
            "SELECT count(*) FROM movies WHERE tmdb_id IS NULL AND imdb_id IS NOT NULL"
        ) >= 1,
        "an empty tmdbId is stored as NULL"
    );
    assert_eq!(
        count(
            &mut client,
            "SELECT count(*) FROM tags WHERE tag = 'funny, but sad'"
        ),
        1
    );
    assert_eq!(
        count(
            &mut client,
            "SELECT count(*) FROM tags WHERE tag = '宮崎駿'"
        ),
        1
    );
    assert_eq!(
        count(
            &mut client,
            "SELECT count(*) FROM tags WHERE tag = '\"classic\"'"
        ),
        1
    );
    let toy_story: (i32, f32) = {
        let row = client
            .query_one(
                "SELECT rating_count, rating_avg FROM movies WHERE id = 1",
                &[],
            )
            .unwrap();
        (row.get(0), row.get(1))
    };
    let expected: (i64, f64) = {
        let row = client
            .query_one(
                "SELECT count(*), avg(rating)::float8 FROM ratings WHERE movie_id = 1",
                &[],
            )
            .unwrap();
        (row.get(0), row.get(1))
    };
    assert_eq!(i64::from(toy_story.0), expected.0);
    assert!((f64::from(toy_story.1) - expected.1).abs() < 1e-5);
    // Every movie's summary is its ratings' (counted on the client as they streamed past).
    assert_eq!(summaries_off(&mut client), 0);
    // Each movie is written once, complete (links and summary included), in the file's order:
    // the rows hold the first line pointers of the first page, in movies.csv's order. An UPDATE
    // of the links or of the summaries would have left each movie's row at a later pointer.
    let file_order: Vec<i32> =
        std::fs::read_to_string(fixture("movielens-quirks").join("movies.csv"))
            .unwrap()
            .lines()
            .skip(1)
            .map(|line| line.split(',').next().unwrap().parse().unwrap())
            .collect();
    let stored: Vec<(i32, String)> = client
        .query(
            "SELECT id, ctid::text AS place FROM movies ORDER BY movies.ctid",
            &[],
        )
        .unwrap()
        .iter()
        .map(|row| (row.get(0), row.get(1)))
        .collect();
    let expected: Vec<(i32, String)> = file_order
        .iter()
        .enumerate()
        .map(|(i, &id)| (id, format!("(0,{})", i + 1)))
        .collect();
    assert_eq!(stored, expected);
}

#[test]
fn a_malformed_file_stops_the_import_and_leaves_the_earlier_collection_untouched() {
    let db = TestDb::migrated();
    import(&db, &fixture("movielens-quirks")).unwrap();
    let err = import(&db, &fixture("movielens-malformed"))
        .unwrap_err()
        .to_string();
    assert!(err.contains("ratings.csv, line 7"), "{err}");
    assert!(err.contains("abc"), "{err}");
    let mut client = db.client();
    assert_eq!(
        count(&mut client, "SELECT count(*) FROM movies"),
        16,
        "the previous movies are still there"
    );
    assert_eq!(count(&mut client, "SELECT count(*) FROM ratings"), 40);
    assert_eq!(
        count(&mut client, "SELECT count(*) FROM movies WHERE id = 260"),
        1
    );
    assert!(
        count(
            &mut client,
            "SELECT count(*) FROM pg_indexes WHERE tablename = 'movies'"
        ) >= 7,
        "indexes intact"
    );
}

#[test]
fn ratings_for_unknown_movies_are_refused_with_a_reason_and_nothing_changes() {
    let db = TestDb::migrated();
    import(&db, &fixture("movielens-quirks")).unwrap();
    let dir = common::scratch_dir("import-orphans");
    std::fs::write(
        dir.join("movies.csv"),
        "movieId,title,genres\n1,Alone (2000),Drama\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("ratings.csv"),
        "userId,movieId,rating,timestamp\n1,1,4.0,964982703\n1,999,3.0,964982703\n",
    )
    .unwrap();
    let err = import(&db, &dir).unwrap_err().to_string();
    assert!(
        err.contains("refers to a movie that is not in the movies file"),
        "{err}"
    );
    assert!(err.contains("999"), "{err}");
    assert!(err.contains("nothing was changed"), "{err}");
    let mut client = db.client();
    assert_eq!(count(&mut client, "SELECT count(*) FROM movies"), 16);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn re_running_an_import_replaces_the_collection() {
    let db = TestDb::migrated();
    let mut client = db.client();
    load::load_sample(
        &mut client,
        &db.name,
        &SampleSpec {
            movies: 500,
            ratings: 2_000,
            seed: 3,
        },
        &mut |_| {},
    )
    .unwrap();
    import(&db, &fixture("movielens-quirks")).unwrap();
    import(&db, &fixture("movielens-quirks")).unwrap();
    assert_eq!(count(&mut client, "SELECT count(*) FROM movies"), 16);
    assert_eq!(count(&mut client, "SELECT count(*) FROM ratings"), 40);
    let description: String = client
        .query_one(
            "SELECT value FROM marquee_meta WHERE key = 'collection'",
            &[],
        )
        .unwrap()
        .get(0);
    assert!(
        description.starts_with("MovieLens import of"),
        "{description}"
    );
}

#[test]
fn duplicate_movie_ids_are_named() {
    let db = TestDb::migrated();
    let dir = common::scratch_dir("import-duplicates");
    std::fs::write(
        dir.join("movies.csv"),
        "movieId,title,genres\n1,A (2000),Drama\n1,B (2001),Comedy\n",
    )
    .unwrap();
    let err = import(&db, &dir).unwrap_err().to_string();
    assert!(err.contains("duplicate movie ids"), "{err}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn duplicate_rating_pairs_are_named_and_the_previous_collection_stays() {
    let db = TestDb::migrated();
    let dir = common::scratch_dir("import-duplicate-ratings");
    std::fs::write(
        dir.join("movies.csv"),
        "movieId,title,genres\n1,A (2000),Drama\n2,B (2001),Comedy\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("ratings.csv"),
        "userId,movieId,rating,timestamp\n7,1,4.0,1000\n7,2,3.0,1000\n",
    )
    .unwrap();
    import(&db, &dir).expect("a clean collection loads");
    // The ratings' key is dropped for the load and rebuilt after it: a pair rated twice is found
    // then, named, and rolls the whole load back.
    std::fs::write(
        dir.join("ratings.csv"),
        "userId,movieId,rating,timestamp\n7,1,4.0,1000\n8,2,1.0,1000\n7,1,5.0,2000\n",
    )
    .unwrap();
    let err = import(&db, &dir).unwrap_err().to_string();
    assert!(
        err.contains("duplicate (user, movie) rating pairs"),
        "{err}"
    );
    let mut client = db.client();
    assert_eq!(count(&mut client, "SELECT count(*) FROM ratings"), 2);
    let key: String = client
        .query_one(
            "SELECT pg_get_constraintdef(oid) FROM pg_constraint \
             WHERE conrelid = 'marquee.ratings'::regclass AND contype = 'p'",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(key, "PRIMARY KEY (movie_id, user_id)");
    // A load that succeeds leaves the key in place too.
    std::fs::write(
        dir.join("ratings.csv"),
        "userId,movieId,rating,timestamp\n7,1,4.0,1000\n8,2,1.0,1000\n9,1,5.0,2000\n",
    )
    .unwrap();
    import(&db, &dir).expect("the fixed file loads");
    assert_eq!(count(&mut client, "SELECT count(*) FROM ratings"), 3);
    let err = client
        .execute("INSERT INTO marquee.ratings VALUES (7, 1, 1.0, now())", &[])
        .unwrap_err();
    assert_eq!(
        err.code(),
        Some(&postgres::error::SqlState::UNIQUE_VIOLATION)
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn the_cli_import_reports_counts_and_fails_clearly() {
    let db = TestDb::migrated();
    let url = db.params.to_url();
    let run = |dir: &Path| {
        common::marquee_cli()
            .args(["--url", &url, "import", "movielens", dir.to_str().unwrap()])
            .output()
            .unwrap()
    };
    let ok = run(&fixture("movielens-quirks"));
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    assert!(String::from_utf8_lossy(&ok.stdout).contains("Loaded 16 movies, 40 ratings, 10 tags"));
    let bad = run(&fixture("movielens-malformed"));
    assert_eq!(bad.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("ratings.csv, line 7"));
    let missing = run(Path::new("/nonexistent/ml"));
    assert_eq!(missing.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&missing.stderr).contains("movies.csv"));
}

#[test]
fn hostile_csv_files_are_refused_with_file_line_and_reason_and_change_nothing() {
    let db = TestDb::migrated();
    import(&db, &fixture("movielens-quirks")).unwrap();
    let header = b"movieId,title,genres\n".to_vec();
    let ok_row = b"1,Fine (2000),Drama\n".to_vec();
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        (
            "invalid UTF-8",
            [&header[..], &ok_row[..], b"2,Bad \xff\xfe (2001),Drama\n"].concat(),
            "UTF-8",
        ),
        (
            "NUL byte",
            [&header[..], &ok_row[..], b"2,Nul\0Title (2001),Drama\n"].concat(),
            "NUL",
        ),
        (
            "wrong column count",
            [&header[..], &ok_row[..], b"2,Two (2001)\n"].concat(),
            "expected 3 fields",
        ),
        (
            "huge number",
            [
                &header[..],
                &ok_row[..],
                b"99999999999999,Big (2001),Drama\n",
            ]
            .concat(),
            "99999999999999",
        ),
        (
            "1 MB field",
            [
                &header[..],
                &ok_row[..],
                b"2,",
                &vec![b'x'; 1_100_000][..],
                b",Drama\n",
            ]
            .concat(),
            "line 3",
        ),
        (
            "SQL in a title",
            [
                &header[..],
                b"1,\"Robert'); DROP TABLE movies; --\",Drama\n1,Dup (2001),Drama\n",
            ]
            .concat(),
            "duplicate movie ids",
        ),
    ];
    for (what, movies_csv, expected) in cases {
        let dir = common::scratch_dir("import-hostile");
        std::fs::write(dir.join("movies.csv"), movies_csv).unwrap();
        let err = import(&db, &dir).unwrap_err().to_string();
        assert!(err.contains(expected), "{what}: {err}");
        if what != "SQL in a title" {
            assert!(err.contains("movies.csv, line 3"), "{what}: {err}");
        }
        let mut client = db.client();
        assert_eq!(
            count(&mut client, "SELECT count(*) FROM movies"),
            16,
            "{what} changed the collection"
        );
        let _ = std::fs::remove_dir_all(&dir);
    }
}
