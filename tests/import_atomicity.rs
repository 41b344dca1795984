//! An import is one transaction, whatever breaks and whoever watches: a bad row in the tags or
//! links file, a failure while the indexes are rebuilt, or the connection lost in the middle of the
//! load leave the earlier collection exactly as it was; and a reader browsing while an import runs
//! sees the old collection, then the new one, never a mix.

mod common;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, mpsc};
use std::time::{Duration, Instant};

use common::TestDb;
use marquee::import::load::{self, LoadError};
use marquee::import::movielens::MovieLensDir;
use marquee::import::sample::SampleSpec;

const PATIENCE: Duration = Duration::from_secs(60);

/// A copy of the MovieLens fixture that a test may break.
fn fixture_copy(label: &str) -> PathBuf {
    let source = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/movielens-quirks");
    let dir = common::scratch_dir(label);
    for entry in std::fs::read_dir(&source).unwrap() {
        let path = entry.unwrap().path();
        std::fs::copy(&path, dir.join(path.file_name().unwrap())).unwrap();
    }
    dir
}

fn append(file: &Path, line: &str) {
    let mut text = std::fs::read_to_string(file).unwrap();
    text.push_str(line);
    std::fs::write(file, text).unwrap();
}

fn import_with(
    client: &mut postgres::Client,
    db: &TestDb,
    dir: &Path,
    progress: &mut dyn FnMut(marquee::progress::Progress),
) -> Result<load::LoadReport, LoadError> {
    let folder = MovieLensDir::open(dir)?;
    load::load_movielens(client, &db.name, &folder, progress)
}

/// Everything a collection is, in one statement (one snapshot): its rows, the derived columns,
/// the indexes and constraints, and its description.
fn collection(client: &mut postgres::Client) -> String {
    client
        .query_one(
            "SELECT concat_ws(' / ',
                (SELECT count(*) || ' movies, id sum ' || coalesce(sum(id), 0) || ', titles ' || md5(coalesce(string_agg(title, '|' ORDER BY id), '')) FROM movies),
                (SELECT count(*) || ' ratings, votes ' || coalesce(sum(rating_count), 0) FROM movies),
                (SELECT count(*) || ' rating rows' FROM ratings),
                (SELECT count(*) || ' tags' FROM tags),
                (SELECT count(*) || ' links' FROM movies WHERE imdb_id IS NOT NULL),
                (SELECT count(*) || ' indexes' FROM pg_indexes WHERE schemaname = 'public'),
                (SELECT count(*) || ' constraints' FROM pg_constraint WHERE connamespace = 'public'::regnamespace),
                (SELECT value FROM marquee_meta WHERE key = 'collection'))",
            &[],
        )
        .unwrap()
        .get(0)
}

/// The earlier collection: the fixture, imported whole.
fn with_earlier_collection(label: &str) -> (TestDb, String) {
    let db = TestDb::migrated();
    let mut client = db.client();
    import_with(&mut client, &db, &fixture_copy(label), &mut |_| {}).unwrap();
    let before = collection(&mut client);
    assert!(before.starts_with("16 movies"), "{before}");
    (db, before)
}

#[test]
fn a_bad_row_in_the_tags_or_links_file_leaves_the_earlier_collection() {
    let (db, before) = with_earlier_collection("atomic-tags-links-base");
    let mut client = db.client();

    let dir = fixture_copy("atomic-bad-tags");
    append(&dir.join("tags.csv"), "2,1,late tag,not-a-time\n");
    let err = import_with(&mut client, &db, &dir, &mut |_| {})
        .unwrap_err()
        .to_string();
    assert!(err.contains("tags.csv"), "{err}");
    assert_eq!(collection(&mut client), before, "after a bad tags.csv");

    let dir = fixture_copy("atomic-bad-links");
    append(&dir.join("links.csv"), "1,tt-not-a-number,862\n");
    let err = import_with(&mut client, &db, &dir, &mut |_| {})
        .unwrap_err()
        .to_string();
    assert!(err.contains("links.csv"), "{err}");
    assert_eq!(collection(&mut client), before, "after a bad links.csv");
}

#[test]
fn a_failure_while_rebuilding_the_indexes_leaves_the_earlier_collection() {
    let (db, before) = with_earlier_collection("atomic-index-base");
    let mut client = db.client();
    // The server refuses every CREATE INDEX in this database from now on: the load gets through
    // its rows and fails in its last phase.
    client
        .batch_execute(
            "CREATE FUNCTION refuse_index() RETURNS event_trigger LANGUAGE plpgsql AS
               $$ BEGIN RAISE EXCEPTION 'index rebuild refused by the test'; END $$;
             CREATE EVENT TRIGGER refuse_index ON ddl_command_end
               WHEN TAG IN ('CREATE INDEX') EXECUTE FUNCTION refuse_index();",
        )
        .unwrap();
    let mut stages = Vec::new();
    let err = import_with(&mut client, &db, &fixture_copy("atomic-index"), &mut |p| {
        if stages.last() != Some(&p.stage) {
            stages.push(p.stage);
        }
    })
    .unwrap_err()
    .to_string();
    assert!(err.contains("index rebuild refused"), "{err}");
    assert_eq!(
        stages.last(),
        Some(&"indexes"),
        "it failed in the index phase: {stages:?}"
    );
    assert_eq!(collection(&mut client), before);
}

#[test]
fn a_connection_lost_in_the_middle_of_the_load_leaves_the_earlier_collection() {
    let (db, before) = with_earlier_collection("atomic-lost-base");
    let dir = fixture_copy("atomic-lost");
    let (at_ratings, reached) = mpsc::channel::<i32>();
    let (go_on, resume) = mpsc::channel::<()>();
    let params = db.params.clone();
    let name = db.name.clone();
    let importer = std::thread::spawn(move || {
        let mut client = marquee::db::connect_once(&params).unwrap();
        let pid: i32 = client
            .query_one("SELECT pg_backend_pid()", &[])
            .unwrap()
            .get(0);
        let folder = MovieLensDir::open(&dir).unwrap();
        let mut paused = false;
        load::load_movielens(&mut client, &name, &folder, &mut |p| {
            // The movies are in, the ratings are being copied: the middle of the load.
            if p.stage == "ratings" && !paused {
                paused = true;
                at_ratings.send(pid).unwrap();
                resume.recv().unwrap();
            }
        })
        .map(|_| ())
    });
    let pid = reached
        .recv_timeout(PATIENCE)
        .expect("the load reaches its ratings");
    let mut admin = db.client();
    let ended: bool = admin
        .query_one("SELECT pg_terminate_backend($1)", &[&pid])
        .unwrap()
        .get(0);
    assert!(ended);
    let deadline = Instant::now() + PATIENCE;
    while admin
        .query_one(
            "SELECT count(*) > 0 FROM pg_stat_activity WHERE pid = $1",
            &[&pid],
        )
        .unwrap()
        .get::<_, bool>(0)
    {
        assert!(Instant::now() < deadline, "the backend never ended");
        std::thread::sleep(Duration::from_millis(10));
    }
    go_on.send(()).unwrap();
    let result = importer.join().unwrap();
    assert!(
        result.is_err(),
        "a load whose connection died cannot succeed"
    );
    assert_eq!(collection(&mut admin), before);
}

#[test]
fn a_reader_during_an_import_sees_the_old_collection_then_the_new_never_a_mix() {
    let (db, before) = with_earlier_collection("atomic-reader-base");
    let stop = Arc::new(AtomicBool::new(false));
    let (first_read, read_once) = mpsc::channel::<()>();
    let reader = {
        let params = db.params.clone();
        let stop = Arc::clone(&stop);
        std::thread::spawn(move || {
            let mut client = marquee::db::connect_once(&params).unwrap();
            let mut seen: Vec<String> = Vec::new();
            let mut reads = 0_u64;
            while !stop.load(Ordering::Relaxed) {
                let now = collection(&mut client);
                if seen.last() != Some(&now) {
                    seen.push(now);
                }
                if reads == 0 {
                    let _ = first_read.send(());
                }
                reads += 1;
            }
            (seen, reads)
        })
    };
    read_once
        .recv_timeout(PATIENCE)
        .expect("the reader reads the earlier collection first");
    let mut client = db.client();
    let mut observer = db.client();
    let mut waited_for_reader = false;
    // In the middle of the load, wait until the reader is blocked behind the import, so at least
    // one read spans the commit.
    let report = load::load_sample(
        &mut client,
        &db.name,
        &SampleSpec {
            movies: 3_000,
            ratings: 30_000,
            seed: 9,
        },
        &mut |p| {
            if p.stage == "ratings" && !waited_for_reader {
                waited_for_reader = true;
                let deadline = Instant::now() + PATIENCE;
                loop {
                    let blocked: bool = observer
                        .query_one(
                            "SELECT count(*) > 0 FROM pg_stat_activity \
                              WHERE datname = current_database() AND wait_event_type = 'Lock'",
                            &[],
                        )
                        .unwrap()
                        .get(0);
                    if blocked {
                        break;
                    }
                    assert!(
                        Instant::now() < deadline,
                        "the reader never waited on the import"
                    );
                    std::thread::sleep(Duration::from_millis(10));
                }
            }
        },
    )
    .unwrap();
    assert_eq!(report.movies, 3_000);
    let after = collection(&mut client);
    assert!(after.starts_with("3000 movies"), "{after}");
    // Let the reader see the new collection at least once more, then stop it.
    let deadline = Instant::now() + PATIENCE;
    while !reader.is_finished() && Instant::now() < deadline {
        let settled: bool = observer
            .query_one(
                "SELECT count(*) = 0 FROM pg_stat_activity \
                  WHERE datname = current_database() AND wait_event_type = 'Lock'",
                &[],
            )
            .unwrap()
            .get(0);
        if settled {
            break;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    stop.store(true, Ordering::Relaxed);
    let (seen, reads) = reader.join().unwrap();
    assert_eq!(
        seen,
        vec![before, after],
        "the reader saw only the old collection, then the new one ({reads} reads)"
    );
}
