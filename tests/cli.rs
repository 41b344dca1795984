//! The `marquee` binary end to end: the same filters, repositories and pool as the window, from
//! the command line, with exit codes and messages a script can rely on.

mod common;

use std::process::Output;

use common::TestDb;
use marquee::import::sample::SampleSpec;

fn marquee(args: &[&str]) -> Output {
    // The test decides the server; nothing from the developer's environment leaks in.
    common::marquee_cli()
        .args(args)
        .output()
        .expect("run marquee")
}

/// The CLI's promise: exit code 1 with a message on stderr.
#[track_caller]
fn assert_fails_with_code_1(out: &Output) {
    assert_eq!(
        out.status.code(),
        Some(1),
        "expected exit code 1; stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        !out.stderr.is_empty(),
        "a failure explains itself on stderr"
    );
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn small_sample() -> TestDb {
    TestDb::seeded(&SampleSpec {
        movies: 2_000,
        ratings: 40_000,
        seed: 7,
    })
}

#[test]
fn movies_prints_csv_json_and_tables_for_a_filter() {
    let db = small_sample();
    let url = db.params.to_url();
    let out = marquee(&[
        "--url",
        &url,
        "movies",
        "--filter",
        "genre:Comedy sort:-votes",
        "--limit",
        "5",
        "--format",
        "csv",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[0], "id,title,year,genres,rating_avg,rating_count");
    assert_eq!(lines.len(), 6, "{text}");
    assert!(lines[1..].iter().all(|l| l.contains("Comedy")), "{text}");

    let out = marquee(&["--url", &url, "movies", "--limit", "3", "--format", "json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    for line in stdout(&out).lines() {
        let value: serde_json::Value = serde_json::from_str(line).unwrap();
        assert!(value["id"].is_i64() && value["title"].is_string());
    }

    let out = marquee(&[
        "--url", &url, "movies", "--filter", "sort:id", "--limit", "2",
    ]);
    assert!(out.status.success());
    let text = stdout(&out);
    assert!(
        text.lines().next().unwrap().trim_start().starts_with("id"),
        "{text}"
    );
    assert_eq!(text.lines().count(), 3);
}

#[test]
fn bad_filter_text_exits_with_code_1_and_points_at_the_token() {
    let db = TestDb::migrated();
    let out = marquee(&[
        "--url",
        &db.params.to_url(),
        "movies",
        "--filter",
        "genre:Drama year:19x7",
    ]);
    assert_fails_with_code_1(&out);
    let err = stderr(&out);
    assert!(
        err.contains("bad filter") && err.contains("year:19x7"),
        "{err}"
    );
}

#[test]
fn export_writes_exactly_the_filtered_movies() {
    let db = small_sample();
    let url = db.params.to_url();
    let dir = common::scratch_dir("cli-export");
    let file = dir.join("drama.csv");
    let out = marquee(&[
        "--url",
        &url,
        "export",
        "--filter",
        "genre:Drama year:1990..",
        file.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let mut client = db.client();
    let expected: i64 = client
        .query_one(
            "SELECT count(*) FROM movies WHERE genres @> '{Drama}' AND year >= 1990",
            &[],
        )
        .unwrap()
        .get(0);
    let mut reader = csv::Reader::from_path(&file).unwrap();
    let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    assert_eq!(rows.len() as i64, expected);
    assert!(rows.iter().all(|r| r[3].contains("Drama")));
    assert!(!dir.join("drama.csv.partial").exists());
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn an_unreachable_server_is_a_clear_error_without_the_password() {
    let port = std::net::TcpListener::bind(("127.0.0.1", 0))
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let out = common::marquee_cli()
        .args(["movies"])
        .env("PGHOST", "127.0.0.1")
        .env("PGPORT", port.to_string())
        .env("PGPASSWORD", "hunter2-secret")
        .env("PGCONNECT_TIMEOUT", "2")
        .env("MARQUEE_CHECKOUT_TIMEOUT_MS", "1500")
        .output()
        .unwrap();
    assert_fails_with_code_1(&out);
    let err = stderr(&out);
    assert!(err.contains(&format!("127.0.0.1:{port}")), "{err}");
    assert!(
        err.contains("cannot reach") || err.contains("no answer"),
        "{err}"
    );
    assert!(!err.contains("hunter2") && !stdout(&out).contains("hunter2"));
}

#[test]
fn bad_configuration_values_are_named() {
    let out = common::marquee_cli()
        .args(["movies"])
        .env("MARQUEE_POOL_MIN", "8")
        .env("MARQUEE_POOL_MAX", "4")
        .output()
        .unwrap();
    assert_fails_with_code_1(&out);
    assert!(
        stderr(&out).contains("min 8 is larger than max 4"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn seed_replaces_the_collection_with_the_requested_size() {
    let db = TestDb::migrated();
    let out = marquee(&[
        "--url",
        &db.params.to_url(),
        "seed",
        "--movies",
        "1000",
        "--ratings",
        "5000",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("Loaded 1,000 movies, 5,000 ratings"),
        "{}",
        stdout(&out)
    );
    let mut client = db.client();
    let movies: i64 = client
        .query_one("SELECT count(*) FROM movies", &[])
        .unwrap()
        .get(0);
    let ratings: i64 = client
        .query_one("SELECT count(*) FROM ratings", &[])
        .unwrap()
        .get(0);
    assert_eq!((movies, ratings), (1000, 5000));
}

#[test]
fn db_status_and_url_describe_the_private_cluster() {
    let dir = common::shared_data_dir();
    common::cluster();
    let data_dir = dir.to_str().unwrap();
    let out = marquee(&["--private", "--data-dir", data_dir, "db", "status"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).starts_with("running"), "{}", stdout(&out));
    let out = marquee(&["--private", "--data-dir", data_dir, "db", "url"]);
    let url = stdout(&out).trim().to_owned();
    assert!(
        url.starts_with("postgresql://marquee@/marquee?host="),
        "{url}"
    );
    // psql accepts it.
    if let Some(psql) = common::require::program(
        "psql",
        "`marquee db url` read by psql",
        "apt-get install postgresql-client",
    ) {
        let psql = std::process::Command::new(psql)
            .args([url.as_str(), "-tAc", "SELECT 40 + 2"])
            .output()
            .expect("run psql");
        assert_eq!(
            String::from_utf8_lossy(&psql.stdout).trim(),
            "42",
            "{}",
            String::from_utf8_lossy(&psql.stderr)
        );
    }
}

#[test]
fn pool_stats_prints_the_pool_as_json_after_a_stress_drill() {
    let db = small_sample();
    let out = marquee(&[
        "--url",
        &db.params.to_url(),
        "--pool-max",
        "3",
        "pool-stats",
        "--json",
        "--stress",
        "8",
        "--stress-secs",
        "1",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    let report: serde_json::Value = serde_json::from_str(text.lines().last().unwrap()).unwrap();
    let counters = &report["counters"];
    assert!(counters["checkouts"].as_u64().unwrap() > 8, "{report}");
    assert!(
        counters["waited_checkouts"].as_u64().unwrap() > 0,
        "8 queries on 3 connections must wait: {report}"
    );
    assert_eq!(report["gauges"]["max"].as_u64(), Some(3), "{report}");
    assert!(
        report["connections"]
            .as_array()
            .is_some_and(|c| !c.is_empty())
    );
}
