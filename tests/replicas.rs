//! Read replicas against a real primary and a real streaming standby (`pg_basebackup -R`), both
//! started by the tests through the app's `PrivateCluster`: reads on the standby, writes on the
//! primary, failover to the primary when the standby stops and back when it returns, replay lag
//! in the pool snapshot and in `marquee pool-stats --json`, and a read that a recovery conflict
//! cancelled, tried once more.

mod common;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use common::scratch::Scratch;
use marquee::config::{ConnectParams, PoolSettings};
use marquee::db::cluster::PrivateCluster;
use marquee::db::error::DbErrorKind;
use marquee::db::hosts::{HostUse, Role};
use marquee::db::pool::DatabasePool;
use marquee::db::{self};
use marquee::filter::Filter;
use marquee::repo::Repo;
use marquee::repo::movies::MoviesRepository;

/// A primary that streams, and its standby in a folder of its own.
struct Pair {
    primary: Scratch,
    standby_dir: PathBuf,
    standby: PrivateCluster,
}

impl Pair {
    /// `standby_settings` are appended to the standby's `postgresql.auto.conf` before it starts.
    fn new(label: &str, standby_settings: &str) -> Self {
        let primary = Scratch::new(&format!("{label}-primary"));
        primary.cluster.restart_for_standbys().unwrap();
        let standby_dir = common::scratch_dir(&format!("{label}-standby"));
        primary.cluster.make_standby(&standby_dir).unwrap();
        let auto_conf = standby_dir.join("pgdata/postgresql.auto.conf");
        let mut text = std::fs::read_to_string(&auto_conf).unwrap();
        text.push_str(standby_settings);
        // Rewritten in place, so the file keeps its owner (the server account).
        std::fs::write(&auto_conf, text).unwrap();
        let standby = PrivateCluster::ensure_running(&standby_dir).unwrap();
        let pair = Self {
            primary,
            standby_dir,
            standby,
        };
        let mut client = db::connect_once(&pair.standby_params()).unwrap();
        let in_recovery: bool = client
            .query_one("SELECT pg_is_in_recovery()", &[])
            .unwrap()
            .get(0);
        assert!(in_recovery, "the clone runs as a standby");
        pair
    }

    fn standby_params(&self) -> ConnectParams {
        self.standby.connect_params()
    }

    /// The primary's settings, with the standby as its read replica.
    fn params(&self) -> ConnectParams {
        ConnectParams {
            replicas: Some(Box::new(self.standby_params())),
            ..self.primary.socket_params()
        }
    }

    fn label(params: &ConnectParams) -> String {
        format!("{}:{}", params.host, params.port)
    }
}

impl Drop for Pair {
    fn drop(&mut self) {
        let _ = PrivateCluster::stop_folder(&self.standby_dir);
        let _ = std::fs::remove_dir_all(&self.standby_dir);
    }
}

/// The port of the server that runs `repo`'s next read.
fn read_port(repo: &Repo) -> Result<u16, marquee::db::error::DbError> {
    repo.read("test.port", |conn| {
        let port: i32 = conn
            .query_typed_one("SELECT current_setting('port')::int4", &[])?
            .get(0);
        Ok(port as u16)
    })
}

fn wait_until(what: &str, mut done: impl FnMut() -> bool) -> Duration {
    let started = Instant::now();
    while !done() {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "{what}: not within 60 s"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    started.elapsed()
}

fn settings() -> PoolSettings {
    PoolSettings {
        min_idle: 1,
        max_size: 4,
        checkout_timeout_ms: 5_000,
        ..PoolSettings::default()
    }
}

#[test]
fn reads_go_to_the_standby_fail_over_to_the_primary_and_come_back() {
    let pair = Pair::new("replica-route", "");
    let primary_port = pair.primary.cluster.port();
    let standby_port = pair.standby.port();
    let pool = DatabasePool::new(&pair.params(), &settings()).unwrap();
    let repo = Repo::new(pool.clone());

    // The board learns each host's role.
    wait_until("both hosts checked", || {
        pool.snapshot().hosts.iter().all(|h| h.up == Some(true))
    });
    let hosts = pool.snapshot().hosts;
    assert_eq!(hosts.len(), 2, "{hosts:?}");
    assert_eq!(
        (hosts[0].used_as, hosts[0].role),
        (HostUse::Server, Some(Role::Primary))
    );
    assert_eq!(
        (hosts[1].used_as, hosts[1].role),
        (HostUse::Replica, Some(Role::Standby))
    );

    // Reads are served by the standby, browsing included; writes by the primary.
    wait_until("a read on the standby", || {
        read_port(&repo).unwrap() == standby_port
    });
    let movies = MoviesRepository::new(pool.clone());
    assert_eq!(movies.page(&Filter::default(), 0, 5).unwrap().len(), 5);
    let mut writer = pool.get_for_writing("test.write").unwrap();
    let port: i32 = writer
        .query_one("SELECT current_setting('port')::int4", &[])
        .unwrap()
        .get(0);
    assert_eq!(port as u16, primary_port);
    writer
        .batch_execute("CREATE TABLE marquee.replica_probe AS SELECT 1 AS x")
        .unwrap();
    drop(writer);
    // The write reaches the standby, and its replay lag shows.
    wait_until("the write replayed", || {
        repo.read("test.probe", |conn| {
            conn.query_typed_opt("SELECT to_regclass('marquee.replica_probe')::text", &[])
                .map(|row| row.and_then(|r| r.get::<_, Option<String>>(0)).is_some())
        })
        .unwrap()
    });
    wait_until("lag in the snapshot", || {
        pool.snapshot().hosts[1].lag_secs.is_some()
    });
    let standby_label = Pair::label(&pair.standby_params());
    assert!(
        pool.snapshot()
            .connections
            .iter()
            .any(|c| c.host == standby_label),
        "a connection is on the standby"
    );
    assert_eq!(pool.snapshot().reads_fall_back(), None);

    // An export through the replicas is read in chunks, and is the primary's, byte for byte.
    let sorted = Filter::parse("sort:-year").unwrap();
    let mut via_replica = Vec::new();
    let rows = movies
        .export_csv(&sorted, &mut via_replica, &mut |_| {})
        .unwrap();
    let primary_only = DatabasePool::new(&pair.primary.socket_params(), &settings()).unwrap();
    let mut via_primary = Vec::new();
    MoviesRepository::new(primary_only.clone())
        .export_csv(&sorted, &mut via_primary, &mut |_| {})
        .unwrap();
    assert_eq!(rows, 2_000);
    assert!(via_replica == via_primary, "the two exports differ");
    // The result index is read in chunks there too, and is the primary's.
    assert_eq!(
        movies.result_ids(&sorted).unwrap(),
        MoviesRepository::new(primary_only.clone())
            .result_ids(&sorted)
            .unwrap()
    );
    primary_only.close();

    // The CLI shows the same board.
    let primary_url = pair.primary.socket_params().to_url();
    let standby_url = pair.standby_params().to_url();
    let mut lag_in_json = None;
    wait_until("lag in pool-stats --json", || {
        let out = common::marquee_cli()
            .args([
                "--url",
                &primary_url,
                "--replicas",
                &standby_url,
                "pool-stats",
                "--json",
            ])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        let standby = report["hosts"]
            .as_array()
            .unwrap()
            .iter()
            .find(|h| h["used_as"] == "Replica")
            .cloned()
            .unwrap();
        lag_in_json = standby["lag_secs"].as_f64();
        standby["role"] == "Standby" && lag_in_json.is_some()
    });
    assert!(lag_in_json.unwrap() >= 0.0);

    // The standby stops mid-session: the next read is served by the primary, within the
    // checkout deadline (it does not fail), and the board says reads fell back.
    PrivateCluster::stop_folder(&pair.standby_dir).unwrap();
    let started = Instant::now();
    assert_eq!(read_port(&repo).unwrap(), primary_port);
    assert!(
        started.elapsed() < Duration::from_millis(settings().checkout_timeout_ms),
        "failover took {:?}",
        started.elapsed()
    );
    println!("failover read: {:?}", started.elapsed());
    assert_eq!(movies.page(&Filter::default(), 0, 5).unwrap().len(), 5);
    wait_until("the fallback is said", || {
        pool.snapshot().reads_fall_back().is_some()
    });
    let said = pool.snapshot().reads_fall_back().unwrap();
    assert!(said.contains(&standby_label), "{said}");
    // The panel's per-host count finds the reading connections on the server.
    let primary_label = Pair::label(&pair.primary.socket_params());
    assert!(
        pool.snapshot()
            .connections
            .iter()
            .any(|c| c.host == primary_label),
        "a connection is on the primary"
    );

    // It comes back and serves the reads again; the connections on the primary are let go.
    PrivateCluster::ensure_running(&pair.standby_dir).unwrap();
    let back = wait_until("reads back on the standby", || {
        read_port(&repo).unwrap() == standby_port
    });
    println!("back on the standby after {back:?}");
    assert!(pool.snapshot().counters.closed_back_to_replica >= 1);
    assert_eq!(pool.snapshot().reads_fall_back(), None);
    pool.close();
}

#[test]
fn a_read_a_recovery_conflict_cancelled_is_tried_once_more() {
    // No grace: any conflicting replay cancels the standby's reads at once.
    let pair = Pair::new(
        "replica-conflict",
        "\nmax_standby_streaming_delay = 0\nhot_standby_feedback = off\n",
    );
    let pool = DatabasePool::new(&pair.params(), &settings()).unwrap();
    let repo = Repo::new(pool.clone());
    wait_until("the standby checked", || {
        pool.snapshot().hosts.iter().all(|h| h.up == Some(true))
    });
    wait_until("a read on the standby", || {
        read_port(&repo).unwrap() == pair.standby.port()
    });

    let reader = std::thread::spawn(move || {
        let mut attempts = 0;
        let result = repo.read("test.conflict", |conn| {
            attempts += 1;
            // The first attempt holds a lock on the movies for a long while; the retry not.
            let sleep = if attempts == 1 { 30 } else { 0 };
            let row = conn.query_typed_one(
                &format!("SELECT count(*) FROM marquee.movies, pg_sleep({sleep})"),
                &[],
            )?;
            Ok(row.get::<_, i64>(0))
        });
        (result, attempts)
    });
    let mut standby = db::connect_once(&pair.standby_params()).unwrap();
    wait_until("the long read runs on the standby", || {
        let n: i64 = standby
            .query_one(
                "SELECT count(*) FROM pg_stat_activity \
                  WHERE state = 'active' AND pid <> pg_backend_pid() \
                    AND strpos(query, 'pg_sleep(30)') > 0",
                &[],
            )
            .unwrap()
            .get(0);
        n == 1
    });
    // An exclusive lock on the primary is replayed on the standby and conflicts with the read.
    let mut primary = db::connect_once(&pair.primary.socket_params()).unwrap();
    primary
        .batch_execute("BEGIN; LOCK TABLE marquee.movies IN ACCESS EXCLUSIVE MODE; COMMIT")
        .unwrap();

    let (result, attempts) = reader.join().unwrap();
    assert_eq!(result.unwrap(), 2_000, "the retry answered");
    assert_eq!(attempts, 2);
    let counters = pool.snapshot().counters;
    assert_eq!(counters.recovery_conflicts, 1);
    let error = pool.snapshot().last_error.unwrap().0;
    assert_eq!(error.kind, DbErrorKind::RecoveryConflict, "{error}");
    assert!(
        error.message.contains("max_standby_streaming_delay"),
        "{error}"
    );
    pool.close();
}

#[test]
fn the_window_says_where_reads_go_and_keeps_browsing_when_they_fall_back() {
    use common::ui::{apply_text, loaded_rows, shows, step_until};
    let pair = Pair::new("replica-window", "");
    let standby_label = Pair::label(&pair.standby_params());
    let mut harness = common::ui::app_with(
        marquee::config::ServerChoice::External(pair.params()),
        [1400.0, 3000.0],
    );
    common::ui::wait_for_rows(&mut harness);
    let patience = Duration::from_secs(60);
    step_until(&mut harness, "reads on the replica", patience, |h| {
        shows(h, &format!("reads: replica {standby_label}"))
    });

    // The pool panel lists both hosts with their roles, and which host each connection is on.
    harness.key_press(egui::Key::F2);
    step_until(&mut harness, "the hosts in the panel", patience, |h| {
        shows(h, "Hosts") && shows(h, "standby") && shows(h, "primary")
    });
    assert!(shows(&harness, "Lag") && shows(&harness, "reads"));

    // The standby stops: the window says reads fell back, and a new filter still loads.
    PrivateCluster::stop_folder(&pair.standby_dir).unwrap();
    step_until(
        &mut harness,
        "the fallback in the status bar",
        patience,
        |h| shows(h, "reads on the server: no replica answers"),
    );
    apply_text(&mut harness, "year:1990..1999");
    step_until(&mut harness, "the filtered rows", patience, |h| {
        loaded_rows(h).len() >= 10
    });
    assert!(harness.state().browse().last_error.is_none());
}
