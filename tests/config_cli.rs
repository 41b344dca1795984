//! Configuration precedence end to end, through the `marquee` binary with a real `config.toml`
//! (`--config`) and a clean environment: flags > environment > config file > defaults, a URL and
//! individual settings in one layer, the private-cluster switches, `--sslrootcert`, and the
//! password kept out of every line the CLI prints or logs.

mod common;

use std::path::{Path, PathBuf};
use std::process::Output;

use common::TestDb;
use marquee::import::sample::SampleSpec;

fn small_sample() -> TestDb {
    TestDb::seeded(&SampleSpec {
        movies: 2_000,
        ratings: 20_000,
        seed: 5,
    })
}

/// A `config.toml` of the test's own.
fn config_file(label: &str, text: &str) -> PathBuf {
    let dir = common::scratch_dir(label);
    let file = dir.join("config.toml");
    std::fs::write(&file, text).expect("write config.toml");
    file
}

/// Runs `marquee` with `env` on top of a clean environment.
fn run(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut command = common::marquee_cli();
    command.args(args);
    for (key, value) in env {
        command.env(key, value);
    }
    command.output().expect("run marquee")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[track_caller]
fn succeeded(out: &Output) -> String {
    assert!(
        out.status.success(),
        "exit {:?}: {}",
        out.status.code(),
        text(&out.stderr)
    );
    text(&out.stdout)
}

/// `pool-stats --json`: where the CLI connected and with which pool settings.
#[track_caller]
fn pool_report(args: &[&str], env: &[(&str, &str)]) -> serde_json::Value {
    let mut all = args.to_vec();
    all.extend(["pool-stats", "--json"]);
    let stdout = succeeded(&run(&all, env));
    serde_json::from_str(stdout.lines().last().expect("one report")).expect("JSON report")
}

fn path(p: &Path) -> &str {
    p.to_str().expect("UTF-8 path")
}

#[test]
fn a_url_and_individual_settings_in_one_layer_and_flags_over_environment_over_file() {
    let db = small_sample();
    let right_url = db.params.to_url();
    let mut wrong = db.params.clone();
    wrong.dbname = "no_such_db".into();
    let wrong_url = wrong.to_url();
    let target = |report: &serde_json::Value| report["target"].as_str().unwrap_or("").to_owned();

    // The file's URL names the wrong database; the file's own `dbname` overrides it.
    let file = config_file(
        "config-file-layer",
        &format!(
            "url = \"{wrong_url}\"\ndbname = \"{}\"\npool_max = 3\n",
            db.name
        ),
    );
    let report = pool_report(&["--config", path(&file)], &[]);
    assert!(
        target(&report).ends_with(&format!("/{}", db.name)),
        "{report}"
    );
    assert_eq!(report["settings"]["max_size"], 3, "{report}");

    // The same inside the environment layer.
    let report = pool_report(
        &[],
        &[("DATABASE_URL", &wrong_url), ("PGDATABASE", &db.name)],
    );
    assert!(
        target(&report).ends_with(&format!("/{}", db.name)),
        "{report}"
    );

    // Across layers: flags > environment > file > defaults, setting by setting.
    let file = config_file(
        "config-three-layers",
        &format!(
            "url = \"{right_url}\"\npool_min = 1\npool_max = 3\ncheckout_timeout_ms = 7000\nstatement_timeout_ms = 4321\n"
        ),
    );
    let report = pool_report(
        &["--config", path(&file), "--pool-max", "4"],
        &[
            ("MARQUEE_POOL_MAX", "5"),
            ("MARQUEE_STATEMENT_TIMEOUT_MS", "2345"),
        ],
    );
    let settings = &report["settings"];
    assert_eq!(settings["max_size"], 4, "the flag wins: {report}");
    assert_eq!(
        settings["statement_timeout_ms"], 2345,
        "the environment beats the file: {report}"
    );
    assert_eq!(
        settings["checkout_timeout_ms"], 7000,
        "the file beats the default: {report}"
    );
    assert_eq!(settings["min_idle"], 1, "{report}");

    // A higher layer's single setting beats a lower layer's URL.
    let file = config_file("config-url-below", &format!("url = \"{wrong_url}\"\n"));
    let report = pool_report(&["--config", path(&file)], &[("PGDATABASE", &db.name)]);
    assert!(
        target(&report).ends_with(&format!("/{}", db.name)),
        "{report}"
    );
    let report = pool_report(&["--config", path(&file), "--dbname", &db.name], &[]);
    assert!(
        target(&report).ends_with(&format!("/{}", db.name)),
        "{report}"
    );

    // And a lower layer's wrong database really is used when nothing overrides it.
    let out = run(&["--config", path(&file), "movies"], &[]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("no_such_db"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn the_statement_timeout_from_the_environment_or_the_file_reaches_the_pool() {
    // That the pool's setting ends a runaway query is pinned in tests/pool.rs.
    let db = small_sample();
    let report = pool_report(
        &["--url", &db.params.to_url()],
        &[("MARQUEE_STATEMENT_TIMEOUT_MS", "1500")],
    );
    assert_eq!(report["settings"]["statement_timeout_ms"], 1500, "{report}");
    let file = config_file("config-statement-timeout", "statement_timeout_ms = 1500\n");
    let report = pool_report(
        &["--config", path(&file), "--url", &db.params.to_url()],
        &[],
    );
    assert_eq!(report["settings"]["statement_timeout_ms"], 1500, "{report}");
}

#[test]
fn marquee_private_and_the_data_folder_from_flag_environment_and_file() {
    let shared = common::shared_data_dir();
    common::cluster();
    let shared_text = path(&shared);
    let elsewhere = common::scratch_dir("config-elsewhere");
    let elsewhere_text = path(&elsewhere);

    // The environment names a server, MARQUEE_PRIVATE=1 overrides it; MARQUEE_DATA_DIR says where.
    let status = succeeded(&run(
        &["db", "status"],
        &[
            ("PGHOST", "127.0.0.1"),
            ("PGPORT", "1"),
            ("MARQUEE_PRIVATE", "1"),
            ("MARQUEE_DATA_DIR", shared_text),
        ],
    ));
    assert!(
        status.starts_with("running") && status.contains(shared_text),
        "{status}"
    );

    // Without MARQUEE_PRIVATE the named server is used, and `db status` refuses with code 1.
    let out = run(
        &["db", "status"],
        &[
            ("PGHOST", "127.0.0.1"),
            ("PGPORT", "1"),
            ("MARQUEE_DATA_DIR", shared_text),
        ],
    );
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stdout));
    assert!(
        text(&out.stderr).contains("--private"),
        "{}",
        text(&out.stderr)
    );

    // The file's data folder loses to the environment's, which loses to the flag.
    let file = config_file(
        "config-data-dir",
        &format!("private = true\ndata_dir = \"{elsewhere_text}\"\n"),
    );
    let status = succeeded(&run(&["--config", path(&file), "db", "status"], &[]));
    assert!(
        status.starts_with("not initialized") && status.contains(elsewhere_text),
        "the file's folder: {status}"
    );
    let status = succeeded(&run(
        &["--config", path(&file), "db", "status"],
        &[("MARQUEE_DATA_DIR", shared_text)],
    ));
    assert!(
        status.starts_with("running") && status.contains(shared_text),
        "the environment's folder: {status}"
    );
    let status = succeeded(&run(
        &[
            "--config",
            path(&file),
            "--data-dir",
            elsewhere_text,
            "db",
            "status",
        ],
        &[("MARQUEE_DATA_DIR", shared_text)],
    ));
    assert!(
        status.contains(elsewhere_text),
        "the flag's folder: {status}"
    );
    let _ = std::fs::remove_dir_all(&elsewhere);
}

#[test]
fn sslrootcert_from_the_flag_beats_the_environment_and_the_file() {
    let port = common::cluster().port().to_string();
    let file = config_file(
        "config-sslrootcert",
        "sslrootcert = \"/nonexistent/file-ca.pem\"\nsslmode = \"verify-full\"\n",
    );
    let base = [
        "--config",
        path(&file),
        "--host",
        "127.0.0.1",
        "--port",
        &port,
        "movies",
    ];
    let check = |args: &[&str], env: &[(&str, &str)], expected: &str| {
        let out = run(args, env);
        let stderr = text(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{stderr}");
        assert!(
            stderr.contains(expected) && stderr.contains("sslrootcert"),
            "expected {expected} to be named: {stderr}"
        );
    };
    check(&base, &[], "/nonexistent/file-ca.pem");
    check(
        &base,
        &[("PGSSLROOTCERT", "/nonexistent/env-ca.pem")],
        "/nonexistent/env-ca.pem",
    );
    let mut with_flag = base.to_vec();
    with_flag.splice(0..0, ["--sslrootcert", "/nonexistent/flag-ca.pem"]);
    check(
        &with_flag,
        &[("PGSSLROOTCERT", "/nonexistent/env-ca.pem")],
        "/nonexistent/flag-ca.pem",
    );
}

#[test]
fn the_password_appears_in_no_line_the_cli_prints_or_logs() {
    let db = small_sample();
    // `to_url` never writes the password; this URL carries one, as a user's might.
    let url = db.params.to_url().replacen(
        "postgresql://marquee@",
        "postgresql://marquee:pw-in-url-7c1f@",
        1,
    );
    assert!(url.contains("pw-in-url-7c1f"), "{url}");
    let file = config_file(
        "config-password",
        &format!("url = \"{url}\"\npassword = \"pw-in-file-93ad\"\n"),
    );
    let secrets = ["pw-in-url-7c1f", "pw-in-file-93ad", "pw-in-env-51be"];
    let env = [("PGPASSWORD", "pw-in-env-51be"), ("RUST_LOG", "trace")];
    let assert_clean = |out: &Output| {
        let all = format!("{}{}", text(&out.stdout), text(&out.stderr));
        for secret in secrets {
            assert!(!all.contains(secret), "{secret} leaked:\n{all}");
        }
    };

    // Success (the private socket trusts its owner, so the password is carried but unused).
    let out = run(&["--config", path(&file), "movies", "--limit", "2"], &env);
    succeeded(&out);
    assert_clean(&out);

    // Failure against a port where nothing listens, with the password in the flag's URL too.
    let free_port = std::net::TcpListener::bind(("127.0.0.1", 0))
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    let out = run(
        &[
            "--config",
            path(&file),
            "--host",
            "127.0.0.1",
            "--port",
            &free_port.to_string(),
            "movies",
        ],
        &[
            ("PGPASSWORD", "pw-in-env-51be"),
            ("RUST_LOG", "trace"),
            ("PGCONNECT_TIMEOUT", "2"),
            ("MARQUEE_CHECKOUT_TIMEOUT_MS", "1500"),
        ],
    );
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    assert_clean(&out);
    let out = run(
        &[
            "--url",
            &format!("postgresql://marquee:pw-in-url-7c1f@127.0.0.1:{free_port}/movies"),
            "movies",
        ],
        &[
            ("RUST_LOG", "trace"),
            ("PGCONNECT_TIMEOUT", "2"),
            ("MARQUEE_CHECKOUT_TIMEOUT_MS", "1500"),
        ],
    );
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    assert_clean(&out);
}

#[test]
fn pool_stats_watch_prints_count_reports_and_exits() {
    let db = small_sample();
    let out = run(
        &[
            "--url",
            &db.params.to_url(),
            "pool-stats",
            "--json",
            "--watch",
            "--interval-ms",
            "100",
            "--count",
            "3",
        ],
        &[],
    );
    let stdout = succeeded(&out);
    let reports: Vec<serde_json::Value> = stdout
        .lines()
        .map(|line| serde_json::from_str(line).expect("one JSON report per line"))
        .collect();
    assert_eq!(reports.len(), 3, "{stdout}");
    assert!(
        reports
            .iter()
            .all(|r| r["target"].as_str().is_some_and(|t| t.ends_with(&db.name)))
    );
}

#[test]
fn pgappname_and_pgoptions_reach_every_connection_and_the_pool_keeps_its_timeout() {
    use marquee::config::{ConfigLayer, ServerChoice, Settings};
    let db = small_sample();
    let env = [
        ("PGAPPNAME", "marquee-reports"),
        // The user's statement timeout would end every query after 1 ms: the pool's own
        // (statement_timeout_ms) is sent after the user's options, so it wins.
        ("PGOPTIONS", "-c work_mem=7MB -c statement_timeout=1"),
    ];
    // The CLI's pool finds its backends in pg_stat_activity by the name it was given.
    let report = pool_report(&["--url", &db.params.to_url()], &env);
    assert!(
        report["server"]["total"].as_u64().unwrap_or(0) >= 1,
        "the server view finds the pool's backends under PGAPPNAME: {report}"
    );

    // Through the library, the settings a connection ends up with.
    let mut vars: Vec<(String, String)> = env
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    vars.push(("DATABASE_URL".into(), db.params.to_url()));
    let layer =
        ConfigLayer::from_env(|key| vars.iter().find(|(k, _)| k == key).map(|(_, v)| v.clone()));
    let settings = Settings::resolve(
        &ConfigLayer::default(),
        &layer,
        &ConfigLayer::default(),
        Path::new("/nonexistent"),
    )
    .unwrap();
    let ServerChoice::External(params) = &settings.server else {
        panic!("DATABASE_URL names a server");
    };
    assert_eq!(params.application_name(), "marquee-reports");
    let server = marquee::db::Server {
        params: params.clone(),
        cluster: None,
    };
    let pool = marquee::db::open_pool(&server, &settings).unwrap();
    let mut conn = pool.get("test").unwrap();
    let row = conn
        .query_one(
            "SELECT current_setting('work_mem'), current_setting('statement_timeout'), \
             (SELECT application_name FROM pg_stat_activity WHERE pid = pg_backend_pid())",
            &[],
        )
        .unwrap();
    let (work_mem, timeout, name): (String, String, String) = (row.get(0), row.get(1), row.get(2));
    assert_eq!(work_mem, "7MB");
    assert_eq!(
        timeout,
        format!("{}s", settings.pool.statement_timeout_ms / 1000),
        "the pool's timeout wins"
    );
    assert_eq!(name, "marquee-reports");
    drop(conn);
    pool.close();
    // An unpooled connection (import's source, "Test connection") gets the options too.
    let mut once = marquee::db::connect_once(params).unwrap();
    let work_mem: String = once
        .query_one("SELECT current_setting('work_mem')", &[])
        .unwrap()
        .get(0);
    assert_eq!(work_mem, "7MB");
}
