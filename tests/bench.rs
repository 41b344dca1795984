//! Smoke test of `marquee bench`: every benchmark runs at a tiny size through the library and
//! prints one well-formed JSON line. No timing is asserted (CI machines vary too much); the
//! figures live in BENCHMARKS.md.

mod common;

use marquee::bench::{self, BenchName, Options, Target};
use marquee::config::{PoolSettings, ServerChoice, Settings};

const MOVIES: u32 = 2_000;

#[test]
fn every_benchmark_runs_at_a_tiny_size_and_prints_one_json_line() {
    let cluster = common::cluster();
    let params = bench::dataset::ensure(&cluster.connect_params(), MOVIES).expect("prepare data");
    // Prepared once: a second call finds the readiness mark and reuses the database.
    let again = bench::dataset::ensure(&cluster.connect_params(), MOVIES).expect("reuse data");
    assert_eq!(params.dbname, again.dbname);
    assert_eq!(params.dbname, "bench_2000");

    let settings = Settings {
        server: ServerChoice::Private {
            data_dir: common::shared_data_dir(),
        },
        pool: PoolSettings::default(),
        source: Default::default(),
    };
    let target = Target {
        params,
        movies: MOVIES,
    };
    for name in [
        BenchName::LoadAll,
        BenchName::Checkout,
        BenchName::Filter,
        BenchName::Scroll,
        BenchName::Frame,
        BenchName::Startup,
        BenchName::Export,
        BenchName::Summarize,
    ] {
        let report = bench::run_one(name, &settings, &target, &Options::tiny())
            .unwrap_or_else(|err| panic!("{}: {err:#}", name.as_str()));
        let mut out = Vec::new();
        report.write_json(&mut out).expect("write json");
        let text = String::from_utf8(out).expect("utf-8");
        assert_eq!(text.lines().count(), 1, "{}: one line", name.as_str());
        let json: serde_json::Value = serde_json::from_str(&text).expect("well-formed JSON");
        assert_eq!(json["bench"], name.as_str());
        assert_eq!(json["movies"], MOVIES);
        assert!(json["peak_rss_kib"].as_u64().is_some_and(|k| k > 0));
        assert!(json["machine"]["cores"].as_u64().is_some_and(|c| c > 0));
        let timings = json["timings"].as_array().expect("timings");
        assert!(!timings.is_empty(), "{}: no timings", name.as_str());
        for timing in timings {
            assert!(
                timing["samples"].as_u64().is_some_and(|n| n > 0),
                "{timing}"
            );
            for key in ["median_micros", "p95_micros", "max_micros"] {
                assert!(timing[key].as_f64().is_some(), "{key} in {timing}");
            }
        }
        for check in json["checks"].as_array().expect("checks") {
            assert!(check["met"].is_boolean(), "{check}");
        }
        let mut human = Vec::new();
        report.write_text(&mut human).expect("write text");
        assert!(String::from_utf8_lossy(&human).contains(name.as_str()));
    }
}

/// `bench seed` seeds a scratch database while timed, times the binary COPY in of the same rows,
/// and reports both and their ratio. The scratch database becomes the benchmark collection of
/// that size when there is none, so the other benchmarks need not seed it again; otherwise it is
/// dropped.
#[test]
fn the_seed_benchmark_reports_seeding_against_its_copy_limit_and_keeps_or_drops_its_database() {
    // A size of its own, so that no other test's collection is in play.
    const SEEDED: u32 = 1_500;
    let cluster = common::cluster();
    let server = cluster.connect_params();
    let mut admin = marquee::db::connect_once(&common::params_for("postgres")).expect("admin");
    admin
        .batch_execute(&format!(
            "DROP DATABASE IF EXISTS bench_{SEEDED} WITH (FORCE)"
        ))
        .expect("start without the collection");
    let exists = |admin: &mut postgres::Client, name: &str| {
        admin
            .query_opt("SELECT 1 FROM pg_database WHERE datname = $1", &[&name])
            .expect("look up")
            .is_some()
    };

    let report = bench::seed::run(&server, SEEDED, &Options::tiny()).expect("bench seed");
    let mut out = Vec::new();
    report.finish().write_json(&mut out).expect("write json");
    let json: serde_json::Value = serde_json::from_slice(&out).expect("well-formed JSON");
    assert_eq!(json["bench"], "seed");
    let figure = |name: &str| {
        json["figures"]
            .as_array()
            .expect("figures")
            .iter()
            .find(|f| f["name"] == name)
            .and_then(|f| f["value"].as_f64())
            .unwrap_or_else(|| panic!("no figure {name:?} in {json}"))
    };
    assert!(figure("seed (marquee seed's code)") > 0.0);
    assert!(figure("limit: binary COPY in of the same rows") > 0.0);
    assert!(figure("rows' binary COPY size") > 0.0);
    assert_eq!(figure("movies"), f64::from(SEEDED));
    let ratio = json["checks"]
        .as_array()
        .expect("checks")
        .iter()
        .find(|c| c["name"] == "seed / limit")
        .expect("the ratio is checked");
    assert!(ratio["met"].is_boolean(), "{ratio}");

    // Kept as the collection of that size, marked ready: `ensure` reuses it as it is.
    let scratch = format!("bench_seed_{SEEDED}");
    assert!(!exists(&mut admin, &scratch), "the scratch name is gone");
    let params = common::params_for(&format!("bench_{SEEDED}"));
    let stamp = |params: &marquee::config::ConnectParams| -> (String, i64) {
        let mut client = marquee::db::connect_once(params).expect("the kept collection");
        let mark: String = client
            .query_one(
                "SELECT value FROM marquee.marquee_meta WHERE key = 'bench_ready'",
                &[],
            )
            .expect("marked ready")
            .get(0);
        let oid: i64 = client
            .query_one(
                "SELECT oid::bigint FROM pg_database WHERE datname = current_database()",
                &[],
            )
            .expect("its oid")
            .get(0);
        (mark, oid)
    };
    let (mark, kept_oid) = stamp(&params);
    assert_eq!(mark, bench::dataset::mark(SEEDED));
    let reused = bench::dataset::ensure(&server, SEEDED).expect("reuse the kept collection");
    assert_eq!(stamp(&reused).1, kept_oid, "ensure did not seed it again");
    let mut client = marquee::db::connect_once(&reused).expect("connect");
    let movies: i64 = client
        .query_one("SELECT count(*) FROM marquee.movies", &[])
        .expect("count")
        .get(0);
    assert_eq!(movies, i64::from(SEEDED));
    drop(client);

    // With the collection there, a second run drops its scratch database and leaves it alone.
    bench::seed::run(&server, SEEDED, &Options::tiny()).expect("bench seed again");
    assert!(
        !exists(&mut admin, &scratch),
        "the scratch database is dropped"
    );
    assert_eq!(stamp(&params).1, kept_oid, "the collection is untouched");
}
