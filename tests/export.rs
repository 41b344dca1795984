//! `marquee export` end to end: an export that fails half way leaves no partial file and the
//! earlier file untouched, and a million movies arrive complete. (Its memory use is measured by
//! `marquee bench export`, not asserted here.)

mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use common::TestDb;
use marquee::import::sample::SampleSpec;

const PATIENCE: Duration = Duration::from_secs(60);

fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + PATIENCE;
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Every file in `dir`, by name.
fn files_in(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

#[test]
fn an_export_that_fails_half_way_leaves_no_partial_file_and_the_old_file_untouched() {
    let db = TestDb::seeded(&SampleSpec {
        movies: 2_000,
        ratings: 20_000,
        seed: 5,
    });
    let dir = common::scratch_dir("export-fails");
    let file = dir.join("movies.csv");
    std::fs::write(&file, "the earlier export\n").unwrap();

    // Hold the movies table so the export's COPY waits on the server, its file already open.
    let mut holder = db.client();
    holder
        .batch_execute("BEGIN; LOCK TABLE movies IN ACCESS EXCLUSIVE MODE")
        .unwrap();
    let export = common::marquee_cli()
        .args([
            "--url",
            &db.params.to_url(),
            "export",
            "--filter",
            "sort:id",
            file.to_str().unwrap(),
        ])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut observer = db.client();
    let mut blocked_pid = || -> Option<i32> {
        observer
            .query_opt(
                "SELECT pid FROM pg_stat_activity \
                  WHERE datname = current_database() AND wait_event_type = 'Lock' \
                    AND query ILIKE 'COPY%' LIMIT 1",
                &[],
            )
            .unwrap()
            .map(|row| row.get(0))
    };
    wait_until("the export's COPY to wait on the lock", || {
        blocked_pid().is_some()
    });
    assert!(
        files_in(&dir).len() > 1,
        "the export writes beside the target while it runs: {:?}",
        files_in(&dir)
    );
    // The export's connection dies under it.
    let pid = blocked_pid().unwrap();
    observer_terminate(&db, pid);
    let out = export.wait_with_output().unwrap();
    holder.batch_execute("COMMIT").unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert_eq!(
        files_in(&dir),
        vec!["movies.csv".to_owned()],
        "no partial file is left: {stderr}"
    );
    assert_eq!(
        std::fs::read_to_string(&file).unwrap(),
        "the earlier export\n",
        "a failed export does not touch the earlier file"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

fn observer_terminate(db: &TestDb, pid: i32) {
    let ended: bool = db
        .client()
        .query_one("SELECT pg_terminate_backend($1)", &[&pid])
        .unwrap()
        .get(0);
    assert!(ended, "could not end the export's backend {pid}");
}

#[test]
fn exporting_a_million_movies_writes_every_row_once_in_order() {
    const MOVIES: u32 = 1_000_000;
    let db = TestDb::seeded(&SampleSpec {
        movies: MOVIES,
        ratings: 100_000,
        seed: 3,
    });
    let dir = common::scratch_dir("export-million");
    let file = dir.join("all.csv");
    let out = common::marquee_cli()
        .args([
            "--url",
            &db.params.to_url(),
            "export",
            "--filter",
            "sort:id",
            file.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let expected_ids: Vec<i32> = db
        .client()
        .query("SELECT id FROM movies ORDER BY id", &[])
        .unwrap()
        .iter()
        .map(|row| row.get(0))
        .collect();
    assert_eq!(expected_ids.len(), MOVIES as usize);
    let mut reader = csv::Reader::from_path(&file).unwrap();
    assert_eq!(
        reader.headers().unwrap(),
        vec![
            "id",
            "title",
            "year",
            "genres",
            "rating_avg",
            "rating_count"
        ]
    );
    let mut rows = 0_usize;
    for (record, expected) in reader.records().zip(&expected_ids) {
        let record = record.unwrap();
        assert_eq!(record.len(), 6, "row {rows}: {record:?}");
        assert_eq!(
            record[0].parse::<i32>().unwrap(),
            *expected,
            "row {rows} holds the wrong movie"
        );
        rows += 1;
    }
    assert_eq!(rows, expected_ids.len(), "every row arrives, once");
    assert_eq!(files_in(&dir), vec!["all.csv".to_owned()]);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn an_export_outlasts_the_statement_timeout_that_guards_browsing() {
    use marquee::config::PoolSettings;
    use marquee::filter::Filter;
    use marquee::repo::movies::MoviesRepository;
    let db = TestDb::default_sample();
    // Far shorter than sorting and streaming 86,537 movies takes, and far longer than the one
    // small query the export runs before its COPY.
    let pool = db.pool(&PoolSettings {
        statement_timeout_ms: 5,
        min_idle: 1,
        max_size: 2,
        ..PoolSettings::default()
    });
    let repo = MoviesRepository::new(pool.clone());
    let sorted = Filter::parse("sort:title").unwrap();
    // A read that outlasts it is cut off ...
    let err = marquee::repo::Repo::new(pool.clone())
        .read("test.slow", |c| {
            c.query_typed("SELECT pg_sleep(0.2)", &[]).map(|_| ())
        })
        .unwrap_err();
    assert_eq!(
        err.kind,
        marquee::db::error::DbErrorKind::StatementTimeout,
        "{err}"
    );
    // ... the export is not.
    let mut out = Vec::new();
    let rows = repo.export_csv(&sorted, &mut out, &mut |_| {}).unwrap();
    assert_eq!(rows, 86_537);
    assert_eq!(String::from_utf8(out).unwrap().lines().count(), 86_537 + 1);
    pool.close();
}

#[test]
fn an_export_in_chunks_is_byte_for_byte_the_single_copy() {
    use marquee::filter::Filter;
    use marquee::repo::movies::MoviesRepository;
    // Small and many-tied: a year sort has runs of equal years, ratings have nulls, titles
    // repeat, so each chunk boundary falls inside a run somewhere.
    let db = TestDb::seeded(&SampleSpec {
        movies: 2_000,
        ratings: 20_000,
        seed: 5,
    });
    let pool = db.pool(&marquee::config::PoolSettings::default());
    let repo = MoviesRepository::new(pool.clone());
    for text in common::ORDERINGS {
        let filter = Filter::parse(text).unwrap();
        let mut whole = Vec::new();
        let rows = repo.export_csv(&filter, &mut whole, &mut |_| {}).unwrap();
        // One row per chunk only where the rows are few: every chunk is a statement.
        let smallest = if rows < 300 { 1 } else { 37 };
        for chunk_rows in [smallest, 150, rows.max(1), rows + 1] {
            let mut chunked = Vec::new();
            let mut reported = Vec::new();
            let n = repo
                .export_csv_in_chunks(&filter, &mut chunked, &mut |r| reported.push(r), chunk_rows)
                .unwrap();
            assert_eq!(n, rows, "{text:?} in chunks of {chunk_rows}");
            assert!(
                chunked == whole,
                "{text:?} in chunks of {chunk_rows}: the output differs"
            );
            assert_eq!(reported.last(), Some(&rows));
        }
    }
    pool.close();
}
