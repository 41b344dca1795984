//! The query engine against the seeded sample (86,537 movies, 1,000,000 ratings): filter
//! semantics checked against an in-memory oracle, sorts with ties, paging continuity, counts,
//! facets, and literal matching of hostile text.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::OnceLock;

use common::TestDb;
use marquee::config::PoolSettings;
use marquee::db::pool::DatabasePool;
use marquee::filter::{Filter, SortColumn, SortKey};
use marquee::repo::movies::{MovieRow, MoviesRepository, RowCount};
use marquee::repo::tags::TagsRepository;

/// One seeded database and every movie loaded into memory, shared by the tests here.
struct Fixture {
    _db: TestDb,
    pool: DatabasePool,
    all: Vec<MovieRow>,
}

fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let db = TestDb::default_sample();
        let pool = db.pool(&PoolSettings::default());
        let all = MoviesRepository::new(pool.clone())
            .load_all()
            .expect("load all");
        Fixture { _db: db, pool, all }
    })
}

fn movies() -> MoviesRepository {
    MoviesRepository::new(fixture().pool.clone())
}

fn f(text: &str) -> Filter {
    Filter::parse(text).unwrap_or_else(|e| panic!("{text}: {e}"))
}

/// The filter's meaning, written independently of the SQL (title text is tested separately).
fn oracle(filter: &Filter, m: &MovieRow) -> bool {
    let g = &filter.genres;
    (g.any_of.is_empty() || g.any_of.iter().any(|x| m.genres.contains(x)))
        && g.all_of.iter().all(|x| m.genres.contains(x))
        && !g.none_of.iter().any(|x| m.genres.contains(x))
        && filter
            .year
            .min
            .is_none_or(|min| m.year.is_some_and(|y| y >= min))
        && filter
            .year
            .max
            .is_none_or(|max| m.year.is_some_and(|y| y <= max))
        && filter
            .rating
            .min
            .is_none_or(|min| m.rating_avg.is_some_and(|r| r >= min))
        && filter
            .rating
            .max
            .is_none_or(|max| m.rating_avg.is_some_and(|r| r <= max))
        && filter
            .votes
            .min
            .is_none_or(|v| i64::from(m.rating_count) >= i64::from(v))
        && filter
            .votes
            .max
            .is_none_or(|v| i64::from(m.rating_count) <= i64::from(v))
        && (!filter.year.missing || m.year.is_none())
        && (!filter.rating.missing || m.rating_avg.is_none())
}

fn ids(rows: &[MovieRow]) -> BTreeSet<i32> {
    rows.iter().map(|m| m.id).collect()
}

#[test]
fn the_sample_has_the_original_size() {
    assert_eq!(fixture().all.len(), 86_537);
    let rated = fixture().all.iter().filter(|m| m.rating_count > 0).count();
    assert!(rated > 60_000, "most movies have ratings ({rated})");
}

#[test]
fn each_filter_field_and_combinations_match_the_oracle() {
    let cases = [
        "genre:Comedy",
        "genre:Film-Noir,Western",
        "genre-all:Action,Sci-Fi",
        "genre-not:Drama,Comedy",
        "genre:Horror genre-not:Comedy",
        "year:1995",
        "year:1977..1983",
        "year:..1930",
        "year:>=2015",
        "rating:>=4",
        "rating:2.5..3",
        "rating:<=1",
        "votes:>=100",
        "votes:>=1000 rating:>=3.5",
        "genre:Sci-Fi,Action year:1977..1983 rating:>=3 votes:>=10",
        "genre-all:Children,Animation genre-not:Horror year:1990.. votes:>=5",
        "year:none",
        "rating:none",
        "rating:3.5..<4",
        "votes:10..99",
        "votes:..0 genre:Drama",
    ];
    for text in cases {
        let filter = f(text);
        let expected: BTreeSet<i32> = fixture()
            .all
            .iter()
            .filter(|m| oracle(&filter, m))
            .map(|m| m.id)
            .collect();
        assert!(
            !expected.is_empty(),
            "{text}: the sample should have matches"
        );
        let got = movies().page(&filter, 0, 100_000).unwrap();
        assert_eq!(ids(&got), expected, "{text}");
        assert_eq!(
            movies().exact_count(&filter).unwrap(),
            RowCount::Exact(expected.len() as u64),
            "{text}"
        );
    }
}

#[test]
fn sorts_with_ties_are_total_and_match_the_oracle() {
    let filter = f("genre:Drama sort:-year,-votes");
    let got = movies().page(&filter, 0, 100_000).unwrap();
    let mut expected: Vec<&MovieRow> = fixture()
        .all
        .iter()
        .filter(|m| oracle(&filter, m))
        .collect();
    // NULL years last, then newest first, then most votes, then id as the final tie-breaker.
    expected.sort_by_key(|m| {
        (
            m.year.is_none(),
            std::cmp::Reverse(m.year),
            std::cmp::Reverse(m.rating_count),
            m.id,
        )
    });
    let expected: Vec<i32> = expected.iter().map(|m| m.id).collect();
    assert_eq!(got.iter().map(|m| m.id).collect::<Vec<_>>(), expected);

    let by_rating = movies().page(&f("sort:-rating"), 0, 2_000).unwrap();
    for pair in by_rating.windows(2) {
        let (a, b) = (&pair[0], &pair[1]);
        assert!(
            a.rating_avg >= b.rating_avg || b.rating_avg.is_none(),
            "{a:?} before {b:?}"
        );
        if a.rating_avg == b.rating_avg {
            assert!(a.id < b.id, "ties are broken by id: {a:?} {b:?}");
        }
    }
}

#[test]
fn pages_concatenated_equal_one_unpaged_query() {
    for text in [
        "sort:-rating,title",
        "genre:Comedy sort:year,-votes",
        "title:the sort:title",
    ] {
        let filter = f(text);
        let whole = movies().page(&filter, 0, 3_000).unwrap();
        let mut paged = Vec::new();
        for page in 0..30 {
            paged.extend(movies().page(&filter, page * 100, 100).unwrap());
        }
        assert_eq!(paged, whole, "{text}");
    }
}

#[test]
fn title_search_is_case_and_accent_insensitive_over_the_sample() {
    let filter = f("star");
    let got = movies().page(&filter, 0, 100_000).unwrap();
    let expected: BTreeSet<i32> = fixture()
        .all
        .iter()
        .filter(|m| m.title.to_lowercase().contains("star"))
        .map(|m| m.id)
        .collect();
    assert!(
        expected.len() > 50,
        "the sample has many star titles ({})",
        expected.len()
    );
    let got_ids = ids(&got);
    assert!(got_ids.is_superset(&expected));
    for m in &got {
        assert!(fold(&m.title).contains("star"), "{} matched star", m.title);
    }
}

/// Lowercases and strips the accents the sample generator uses.
fn fold(text: &str) -> String {
    text.to_lowercase()
        .chars()
        .map(|c| match c {
            'à' | 'á' | 'â' | 'ã' | 'ä' | 'å' => 'a',
            'è' | 'é' | 'ê' | 'ë' => 'e',
            'ì' | 'í' | 'î' | 'ï' => 'i',
            'ò' | 'ó' | 'ô' | 'õ' | 'ö' | 'ø' => 'o',
            'ù' | 'ú' | 'û' | 'ü' => 'u',
            'ç' => 'c',
            'ñ' => 'n',
            'ý' | 'ÿ' => 'y',
            other => other,
        })
        .collect()
}

#[test]
fn counts_come_in_tiers_and_agree_with_each_other() {
    let everything = Filter::default();
    let RowCount::Estimate(estimate) = movies().estimate_count(&everything).unwrap() else {
        panic!("estimate");
    };
    assert!((80_000..=95_000).contains(&estimate), "estimate {estimate}");
    assert_eq!(
        movies().capped_count(&everything, 10_000).unwrap(),
        RowCount::AtLeast(10_000)
    );
    assert_eq!(
        movies().capped_count(&everything, 100_000).unwrap(),
        RowCount::Exact(86_537)
    );
    assert_eq!(
        movies().exact_count(&everything).unwrap(),
        RowCount::Exact(86_537)
    );
}

#[test]
fn facets_count_what_the_filter_matches() {
    let filter = f("year:1990..1999 votes:>=1");
    let facets = movies().facets(&filter).unwrap();
    let matching: Vec<&MovieRow> = fixture()
        .all
        .iter()
        .filter(|m| oracle(&filter, m))
        .collect();
    let mut genres: BTreeMap<&str, u64> = BTreeMap::new();
    for m in &matching {
        for g in &m.genres {
            *genres.entry(g.as_str()).or_default() += 1;
        }
    }
    let got: BTreeMap<&str, u64> = facets
        .genres
        .iter()
        .map(|(g, n)| (g.as_str(), *n))
        .collect();
    assert_eq!(got, genres);
    assert_eq!(facets.decades, vec![(Some(1990), matching.len() as u64)]);
    let rated: u64 = facets.ratings.iter().map(|(_, n)| n).sum();
    assert_eq!(rated, matching.len() as u64);
}

/// The facets come from one `GROUPING SETS` pass; the oracle is one plain query per facet, as
/// the panel was first built: `unnest` per row for genres, and the decade and half-star buckets
/// grouped on their own. Both the counts and their order must agree.
#[test]
fn one_pass_facets_agree_with_one_query_per_facet() {
    let source = marquee::db::source::Source::default();
    let mut client = fixture()._db.client();
    // The unfiltered case below reads the totals the load stored, so those are checked too.
    let stored: i64 = client
        .query_one("SELECT count(*) FROM marquee.facet_totals", &[])
        .unwrap()
        .get(0);
    assert!(stored > 0, "the seeded collection stores its facet totals");
    for text in [
        "",
        "st",
        "love",
        "amelie",
        "year:none",
        "rating:none",
        "genre:Drama year:1990..1999",
        "genre-not:Drama,Comedy votes:>=5",
        "no such title at all",
    ] {
        let filter = f(text);
        let got = movies().facets(&filter).unwrap();
        let parts = marquee::repo::movie_sql::where_clause(&filter, "m", &source);
        let params = parts.typed_params();
        let mut rows = |sql: String| client.query_typed(&sql, &params).unwrap();
        let genres: Vec<(String, u64)> = rows(format!(
            "SELECT g, count(*) FROM marquee.movies m CROSS JOIN LATERAL unnest(m.genres) g
              WHERE {} GROUP BY g ORDER BY count(*) DESC, g COLLATE \"C\"",
            parts.where_sql
        ))
        .iter()
        .map(|r| (r.get(0), r.get::<_, i64>(1) as u64))
        .collect();
        let decades: Vec<(Option<i16>, u64)> = rows(format!(
            "SELECT (m.year / 10 * 10)::smallint, count(*) FROM marquee.movies m WHERE {}
              GROUP BY 1 ORDER BY 1 NULLS LAST",
            parts.where_sql
        ))
        .iter()
        .map(|r| (r.get(0), r.get::<_, i64>(1) as u64))
        .collect();
        let ratings: Vec<(Option<f32>, u64)> = rows(format!(
            "SELECT (floor(m.rating_avg * 2) / 2)::real, count(*) FROM marquee.movies m WHERE {}
              GROUP BY 1 ORDER BY 1 NULLS FIRST",
            parts.where_sql
        ))
        .iter()
        .map(|r| (r.get(0), r.get::<_, i64>(1) as u64))
        .collect();
        assert_eq!(got.genres, genres, "genres under {text:?}");
        assert_eq!(got.decades, decades, "decades under {text:?}");
        assert_eq!(got.ratings, ratings, "ratings under {text:?}");
    }
    // The sample has movies without a year and without ratings, so both NULL groups were seen.
    let all = movies().facets(&Filter::default()).unwrap();
    assert!(all.decades.last().is_some_and(|(d, _)| d.is_none()));
    assert!(all.ratings.first().is_some_and(|(r, _)| r.is_none()));
}

#[test]
fn details_and_load_all_see_the_same_movie() {
    let sample = &fixture().all[1234];
    let details = movies().details(sample.id).unwrap().expect("exists");
    assert_eq!(&details.movie, sample);
    if let Some(url) = details.imdb_url() {
        assert!(
            url.starts_with("https://www.imdb.com/title/tt")
                && url.len() == "https://www.imdb.com/title/tt0000000/".len()
        );
    }
    assert_eq!(movies().details(-1).unwrap(), None);
}

/// The stored facets of the whole collection are filled by a load, emptied by any other write to
/// the movies (so a hand-edited collection is never shown stale counts), and agree with a scan.
#[test]
fn stored_facet_totals_follow_every_write_to_the_movies() {
    let db = TestDb::migrated();
    let mut client = db.client();
    let stored = |client: &mut postgres::Client| -> i64 {
        client
            .query_one("SELECT count(*) FROM marquee.facet_totals", &[])
            .unwrap()
            .get(0)
    };
    let spec = marquee::import::sample::SampleSpec {
        movies: 500,
        ratings: 3_000,
        seed: 7,
    };
    marquee::import::load::load_sample(&mut client, &db.name, &spec, &mut |_| {}).unwrap();
    assert!(stored(&mut client) > 0, "a load stores the totals");

    let pool = db.pool(&PoolSettings::default());
    let repo = MoviesRepository::new(pool.clone());
    let everything = Filter::default();
    let loaded = repo.facets(&everything).unwrap();
    // The same facets under a condition every movie meets are computed by a scan.
    let scanned = repo.facets(&f("votes:>=0")).unwrap();
    assert_eq!(loaded, scanned);
    let westerns = |facets: &marquee::repo::facets::Facets| {
        facets
            .genres
            .iter()
            .find(|(g, _)| g == "Western")
            .map_or(0, |(_, n)| *n)
    };

    // A write that is not a load: the totals are forgotten, and the new movie is counted.
    client
        .batch_execute(
            "INSERT INTO marquee.movies (id, title, year, genres) \
             VALUES (900001, 'Hand Added (1950)', 1950, '{Western}')",
        )
        .unwrap();
    assert_eq!(
        stored(&mut client),
        0,
        "any write to the movies empties the totals"
    );
    let after = repo.facets(&everything).unwrap();
    assert_eq!(westerns(&after), westerns(&loaded) + 1);
    assert_eq!(after, repo.facets(&f("votes:>=0")).unwrap());

    // A load stores them again, for the collection it wrote.
    marquee::import::load::load_sample(&mut client, &db.name, &spec, &mut |_| {}).unwrap();
    assert!(stored(&mut client) > 0);
    assert_eq!(repo.facets(&everything).unwrap(), loaded);
    pool.close();

    // A role that may read the movies but was not granted the totals gets the same facets.
    let role = format!("no_totals_{}", std::process::id());
    client
        .batch_execute(&format!(
            "CREATE ROLE {role} LOGIN; GRANT CONNECT ON DATABASE {db} TO {role};
             GRANT USAGE ON SCHEMA marquee TO {role};
             GRANT SELECT ON ALL TABLES IN SCHEMA marquee TO {role};
             REVOKE SELECT ON marquee.facet_totals FROM {role};",
            db = db.name
        ))
        .unwrap();
    let mut params = db.params.clone();
    params.user = role.clone();
    let limited = DatabasePool::new(&params, &PoolSettings::default()).unwrap();
    let seen = MoviesRepository::new(limited.clone()).facets(&everything);
    limited.close();
    client
        .batch_execute(&format!("DROP OWNED BY {role}; DROP ROLE {role}"))
        .unwrap();
    assert_eq!(seen.unwrap(), loaded);
}

/// Hostile and unusual text in a small database of our own.
fn literal_db() -> (TestDb, MoviesRepository, TagsRepository) {
    let db = TestDb::migrated();
    let mut client = db.client();
    client
        .batch_execute(
            r#"INSERT INTO movies (id, title, year, genres) VALUES
                (1, '50% Off (2001)', 2001, '{Comedy}'),
                (2, '500 Days (2009)', 2009, '{Romance}'),
                (3, 'a_b (1999)', 1999, '{}'),
                (4, 'axb (1999)', 1999, '{}'),
                (5, 'Back\slash (2010)', 2010, '{Drama}'),
                (6, 'O''Brien "Quoted" (1970)', 1970, '{Drama}'),
                (7, 'Amélie (2001)', 2001, '{Comedy,Romance}'),
                (8, '千と千尋の神隠し (2001)', 2001, '{Animation}'),
                (9, 'Robert''); DROP TABLE movies; -- (2000)', 2000, '{}');
               INSERT INTO tags VALUES (1, 7, 'Paris', now()), (2, 7, 'PARIS', now()), (3, 1, 'sale', now());"#,
        )
        .unwrap();
    let pool = db.pool(&PoolSettings {
        min_idle: 1,
        max_size: 2,
        ..PoolSettings::default()
    });
    (
        db,
        MoviesRepository::new(pool.clone()),
        TagsRepository::new(pool),
    )
}

fn titles(repo: &MoviesRepository, filter: Filter) -> Vec<i32> {
    let mut ids: Vec<i32> = repo
        .page(&filter, 0, 100)
        .unwrap()
        .iter()
        .map(|m| m.id)
        .collect();
    ids.sort_unstable();
    ids
}

#[test]
fn user_text_is_matched_literally_never_as_sql_or_wildcards() {
    let (_db, repo, tags) = literal_db();
    let title = |t: &str| Filter {
        title: t.into(),
        ..Filter::default()
    };
    assert_eq!(
        titles(&repo, title("50%")),
        vec![1],
        "% is a character, not a wildcard"
    );
    assert_eq!(
        titles(&repo, title("a_b")),
        vec![3],
        "_ is a character, not a wildcard"
    );
    assert_eq!(
        titles(&repo, title("k\\s")),
        vec![5],
        "backslash is literal"
    );
    assert_eq!(titles(&repo, title("o'brien \"quoted\"")), vec![6]);
    assert_eq!(titles(&repo, title("amelie")), vec![7], "accents fold");
    assert_eq!(titles(&repo, title("AMÉLIE")), vec![7]);
    assert_eq!(titles(&repo, title("千尋")), vec![8]);
    assert_eq!(titles(&repo, title("'); DROP TABLE movies; --")), vec![9]);
    assert_eq!(
        titles(&repo, title(&"x".repeat(10_000))),
        Vec::<i32>::new(),
        "a 10,000-character search just finds nothing"
    );
    assert_eq!(
        titles(
            &repo,
            Filter {
                tags: vec!["paris".into()],
                ..Filter::default()
            }
        ),
        vec![7]
    );
    assert_eq!(
        tags.search("PAR", 10).unwrap().len(),
        2,
        "tag search folds case"
    );
    assert_eq!(
        repo.exact_count(&Filter::default()).unwrap(),
        RowCount::Exact(9),
        "nothing was dropped"
    );
}

#[test]
fn filter_text_from_the_cli_round_trips_through_the_database() {
    let (_db, repo, _) = literal_db();
    let filter = f(r#"title:"o'brien \"quoted\"" year:1960..1980 genre:Drama sort:-year"#);
    assert_eq!(Filter::parse(&filter.to_text()).unwrap(), filter);
    assert_eq!(titles(&repo, filter), vec![6]);
}

#[test]
fn the_sort_key_helpers_order_by_the_chosen_columns() {
    let filter = Filter {
        sort: vec![SortKey {
            column: SortColumn::Votes,
            descending: true,
        }],
        ..Filter::default()
    };
    let top = movies().page(&filter, 0, 5).unwrap();
    let max_votes = fixture().all.iter().map(|m| m.rating_count).max().unwrap();
    assert_eq!(top[0].rating_count, max_votes);
}

#[test]
fn export_streams_exactly_what_the_filter_matches_even_for_hostile_text() {
    let (_db, repo, _) = literal_db();
    let export = |filter: Filter| {
        let mut out = Vec::new();
        let n = repo.export_csv(&filter, &mut out, &mut |_| {}).unwrap();
        let mut reader = csv::Reader::from_reader(out.as_slice());
        let ids: Vec<i32> = reader
            .records()
            .map(|r| r.unwrap()[0].parse().unwrap())
            .collect();
        assert_eq!(ids.len() as u64, n);
        ids
    };
    let title = |t: &str| Filter {
        title: t.into(),
        ..Filter::default()
    };
    assert_eq!(export(title("50%")), vec![1]);
    assert_eq!(export(title("a_b")), vec![3]);
    assert_eq!(export(title("k\\s")), vec![5]);
    assert_eq!(export(title("o'brien \"quoted\"")), vec![6]);
    assert_eq!(export(title("'); DROP TABLE movies; --")), vec![9]);
    assert_eq!(export(f("genre:Comedy,Romance sort:-id")), vec![7, 2, 1]);
    assert_eq!(
        export(f("year:1999..2001 genre-not:Animation sort:id")),
        vec![1, 3, 4, 7, 9]
    );
    assert_eq!(export(Filter::default()).len(), 9);
    let mut out = Vec::new();
    repo.export_csv(&title("amelie"), &mut out, &mut |_| {})
        .unwrap();
    let text = String::from_utf8(out).unwrap();
    assert_eq!(
        text.lines().next(),
        Some("id,title,year,genres,rating_avg,rating_count")
    );
    assert!(
        text.contains("7,Amélie (2001),2001,Comedy|Romance,,0"),
        "{text}"
    );
}

#[test]
fn the_result_index_gives_the_rows_offset_gives_with_ties_nulls_and_mixed_directions() {
    let db = TestDb::seeded(&marquee::import::sample::SampleSpec {
        movies: 2_000,
        ratings: 20_000,
        seed: 5,
    });
    let pool = db.pool(&marquee::config::PoolSettings::default());
    let repo = MoviesRepository::new(pool.clone());
    for text in common::ORDERINGS {
        let filter = Filter::parse(text).unwrap();
        let ids = repo.result_ids(&filter).unwrap();
        let len = ids.len() as u64;
        // In chunks (as from read replicas), the same ids in the same order.
        for chunk in [37, len.max(1), len + 1] {
            assert_eq!(
                repo.result_ids_in_chunks(&filter, chunk).unwrap(),
                ids,
                "{text:?} in chunks of {chunk}"
            );
        }
        assert_eq!(
            repo.exact_count(&filter).unwrap(),
            marquee::repo::movies::RowCount::Exact(len),
            "{text:?}"
        );
        let offsets = [
            0,
            1,
            37,
            99,
            100,
            len / 2,
            len.saturating_sub(40),
            len.saturating_sub(1),
        ];
        for offset in offsets.into_iter().filter(|o| *o < len.max(1)) {
            let end = (offset + 40).min(len);
            let by_index = repo.rows_at(&ids[offset as usize..end as usize]).unwrap();
            let by_offset = repo.page(&filter, offset, 40).unwrap();
            assert_eq!(by_index, by_offset, "{text:?} at {offset}");
        }
    }
    pool.close();
}

/// The first facets of a large collection come from a fixed sample, scaled to the collection:
/// marked approximate, close to the exact figures, and the same sample every time.
#[test]
fn sampled_facets_estimate_the_exact_ones_and_say_so() {
    use marquee::repo::sampling::{SAMPLE_ROWS, SampleRule};
    // The window samples only collections of 200,000 movies or more; the rule is the
    // caller's, and this one makes the 86,537 movies here worth sampling.
    const FROM: SampleRule = SampleRule {
        from_matches: 10_000,
        max_percent: 50.0,
    };
    let repo = movies();
    for text in ["genre:Drama", "year:1990..2009", "votes:>=1", "title:a"] {
        let filter = f(text);
        let exact = repo.facets(&filter).unwrap();
        assert!(!exact.is_approximate());
        let sampled = repo
            .sampled_facets(&filter, FROM)
            .unwrap()
            .unwrap_or_else(|| panic!("{text}: 86,537 movies are worth sampling"));
        let sample = sampled
            .sample
            .expect("sampled facets say where they come from");
        // Whole pages are sampled, so the size only comes close to what was asked for.
        assert!(
            (SAMPLE_ROWS / 2..SAMPLE_ROWS * 2).contains(&sample.movies),
            "{text}: {sample:?}"
        );
        assert!(
            (80_000..95_000).contains(&sample.collection),
            "{text}: {sample:?}"
        );
        let exact_matches = movies().exact_count(&filter).unwrap().rows();
        let close = |estimate: u64, exact: u64| {
            (estimate as f64 - exact as f64).abs() <= 0.2 * exact as f64 + 50.0
        };
        assert!(
            close(sample.estimated_matches(), exact_matches),
            "{text}: ≈{} for {exact_matches}",
            sample.estimated_matches()
        );
        // Every genre the exact facets count at 1,000 or more is within 20 % (the error is
        // about 7 % there); no genre is invented.
        for (genre, n) in &exact.genres {
            let estimate = sampled
                .genres
                .iter()
                .find(|(g, _)| g == genre)
                .map_or(0, |(_, e)| *e);
            if *n >= 1_000 {
                assert!(close(estimate, *n), "{text}: {genre} ≈{estimate} for {n}");
            }
        }
        for (genre, _) in &sampled.genres {
            assert!(
                exact.genres.iter().any(|(g, _)| g == genre),
                "{text}: {genre}"
            );
        }
        let decades: u64 = sampled.decades.iter().map(|(_, n)| n).sum();
        assert!(close(decades, exact_matches), "{text}: decades ≈{decades}");
        assert_eq!(
            repo.sampled_facets(&filter, FROM).unwrap(),
            Some(sampled),
            "{text}: the same pages every time"
        );
    }
    // No sample where it would not be faster: by the window's rule 86,537 movies are counted
    // exactly at once, and the whole collection has its stored totals.
    assert_eq!(
        repo.sampled_facets(&f("genre:Drama"), SampleRule::WINDOW)
            .unwrap(),
        None
    );
    assert_eq!(repo.sampled_facets(&Filter::default(), FROM).unwrap(), None);
}
