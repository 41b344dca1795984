//! The shared pool against a real server: reuse, metrics, deadlines, and errors that say why.

mod common;

use std::time::{Duration, Instant};

use common::TestDb;
use marquee::config::PoolSettings;
use marquee::db::error::DbErrorKind;
use marquee::db::pool::DatabasePool;

fn settings(min: u32, max: u32, checkout_ms: u64) -> PoolSettings {
    PoolSettings {
        min_idle: min,
        max_size: max,
        checkout_timeout_ms: checkout_ms,
        ..PoolSettings::default()
    }
}

#[test]
fn sequential_checkouts_reuse_connections_and_are_counted() {
    let db = TestDb::migrated();
    let pool = db.pool(&settings(2, 4, 5_000));
    for _ in 0..100 {
        let mut conn = pool.get("test.loop").unwrap();
        let one: i32 = conn.query_one("SELECT 1", &[]).unwrap().get(0);
        assert_eq!(one, 1);
    }
    let snap = pool.snapshot();
    assert_eq!(snap.counters.checkouts, 100);
    assert_eq!(snap.counters.wait.count, 100);
    assert_eq!(snap.counters.hold.count, 100);
    assert!(
        (1..=4).contains(&snap.counters.opened),
        "opened {}",
        snap.counters.opened
    );
    assert_eq!(snap.in_use, 0);
    assert!(snap.connections.iter().all(|c| c.backend_pid > 0));
    assert_eq!(
        snap.connections.iter().map(|c| c.use_count).sum::<u64>(),
        100
    );
}

#[test]
fn every_connection_reports_application_name_marquee() {
    let db = TestDb::migrated();
    let pool = db.pool(&settings(1, 2, 5_000));
    let mut conn = pool.get("test.appname").unwrap();
    let name: String = conn
        .query_one(
            "SELECT application_name FROM pg_stat_activity WHERE pid = pg_backend_pid()",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(name, "marquee");
    let pid = conn.backend_pid();
    let server_pid: i32 = conn
        .query_one("SELECT pg_backend_pid()", &[])
        .unwrap()
        .get(0);
    assert_eq!(pid, server_pid);
}

#[test]
fn an_exhausted_pool_waits_until_the_deadline_then_says_it_is_full() {
    let db = TestDb::migrated();
    // Long enough that the test sees the waiter while it waits, even on a busy machine.
    let pool = db.pool(&settings(1, 1, 3_000));
    let held = pool.get("test.hold").unwrap();

    let waiter = {
        let pool = pool.clone();
        std::thread::spawn(move || {
            let started = Instant::now();
            let result = pool.get("test.wait").map(|_| ());
            (result, started.elapsed())
        })
    };
    // While the waiter waits, the pool shows it.
    let mut saw_waiting = false;
    while !waiter.is_finished() && !saw_waiting {
        let snap = pool.snapshot();
        saw_waiting = snap.counters.waiting == 1 && snap.oldest_waiter_micros.is_some();
        std::thread::sleep(Duration::from_millis(5));
    }
    assert!(
        saw_waiting,
        "the snapshot never showed the waiting checkout"
    );
    let (result, waited) = waiter.join().unwrap();
    let err = result.unwrap_err();
    assert_eq!(err.kind, DbErrorKind::PoolExhausted);
    assert!(err.message.contains("pool exhausted (1/1 in use)"), "{err}");
    assert!(
        waited >= Duration::from_millis(3_000),
        "gave up after {waited:?}"
    );
    // A bound several times the deadline: only a checkout that ignores its deadline fails it.
    assert!(waited < Duration::from_secs(15), "waited {waited:?}");

    let snap = pool.snapshot();
    assert_eq!(snap.counters.timeouts, 1);
    assert_eq!(snap.counters.waiting, 0);
    drop(held);
    // Once the holder is done, work flows again.
    let mut conn = pool.get("test.after").unwrap();
    conn.query_one("SELECT 1", &[]).unwrap();
}

#[test]
fn an_unreachable_server_fails_the_checkout_with_the_reason_not_a_hang() {
    let free_port = std::net::TcpListener::bind(("127.0.0.1", 0))
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let params = marquee::config::ConnectParams {
        host: "127.0.0.1".into(),
        port: free_port,
        dbname: "movies".into(),
        user: "nobody".into(),
        password: Some(marquee::config::Secret::new("hunter2")),
        sslmode: marquee::config::SslMode::Disable,
        ..Default::default()
    };
    let started = Instant::now();
    // Nothing listens on the port, yet the pool builds: it opens connections in the background.
    let pool = DatabasePool::new(&params, &settings(2, 4, 1_000))
        .expect("building never waits for the server");
    let err = pool.get("test.unreachable").unwrap_err();
    assert_eq!(err.kind, DbErrorKind::Unreachable, "{err}");
    assert!(
        err.message
            .contains(&format!("127.0.0.1:{free_port}/movies")),
        "{err}"
    );
    assert!(!err.to_string().contains("hunter2"));
    assert!(!format!("{pool:?}").contains("hunter2"));
    // Five times the 1 s checkout deadline: a hang fails, a busy machine does not.
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "took {:?}",
        started.elapsed()
    );
}

#[test]
fn an_unknown_database_is_named_in_the_error() {
    let mut params = common::params_for("no_such_database");
    params.connect_timeout_secs = 2;
    let pool = DatabasePool::new(&params, &settings(0, 2, 1_000)).unwrap();
    let err = pool.get("test.unknown-db").unwrap_err();
    assert_eq!(err.kind, DbErrorKind::Rejected, "{err}");
    assert!(err.message.contains("no_such_database"), "{err}");
    assert_eq!(err.sqlstate.as_deref(), Some("3D000"));
}

#[test]
fn a_connection_returned_during_a_panic_is_discarded_not_reused() {
    let db = TestDb::migrated();
    let pool = db.pool(&settings(1, 1, 5_000));
    let first_pid = pool.get("test.first").unwrap().backend_pid();
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let mut conn = pool.get("test.panics").unwrap();
        conn.batch_execute("BEGIN; CREATE TEMP TABLE half_done (x int);")
            .unwrap();
        panic!("job failed mid-transaction");
    }));
    assert!(result.is_err());
    let mut conn = pool.get("test.after-panic").unwrap();
    assert_ne!(
        conn.backend_pid(),
        first_pid,
        "the poisoned connection must not be handed out again"
    );
    // A fresh session: no transaction left open, no temp table.
    let exists: bool = conn
        .query_one("SELECT to_regclass('pg_temp.half_done') IS NOT NULL", &[])
        .unwrap()
        .get(0);
    assert!(!exists);
    assert_eq!(pool.snapshot().counters.closed_poisoned, 1);
}

#[test]
fn a_runaway_query_is_ended_by_the_statement_timeout_with_a_clear_message() {
    let db = TestDb::migrated();
    let pool = db.pool(&PoolSettings {
        statement_timeout_ms: 200,
        ..settings(1, 2, 5_000)
    });
    let mut conn = pool.get("test.runaway").unwrap();
    // Only the timeout can end this query within the test's life; the error kind says it did.
    let err = conn.batch_execute("SELECT pg_sleep(600)").unwrap_err();
    let err = marquee::db::error::DbError::from_postgres(&err, pool.target());
    assert_eq!(err.kind, DbErrorKind::StatementTimeout);
    assert!(err.message.contains("statement timeout"), "{err}");
}

#[test]
fn a_connection_returned_inside_a_transaction_is_discarded_at_its_next_validation() {
    let db = TestDb::migrated();
    // Validate at every checkout (no bypass window), as happens to any connection idle > 500 ms.
    let pool = db.pool(&PoolSettings {
        validation_bypass_ms: 0,
        ..settings(1, 1, 5_000)
    });
    let clean_pid = pool.get("test.clean").unwrap().backend_pid();
    assert_eq!(
        pool.get("test.clean-again").unwrap().backend_pid(),
        clean_pid,
        "a clean session is reused"
    );
    {
        let mut conn = pool.get("test.leaves-a-transaction-open").unwrap();
        conn.batch_execute("BEGIN; CREATE TEMP TABLE half_done (x int)")
            .unwrap();
    }
    let mut conn = pool.get("test.after").unwrap();
    assert_ne!(
        conn.backend_pid(),
        clean_pid,
        "the session inside a transaction must not be handed out"
    );
    let in_tx: bool = conn
        .query_one("SELECT to_regclass('pg_temp.half_done') IS NOT NULL", &[])
        .unwrap()
        .get(0);
    assert!(!in_tx);
    drop(conn);
    {
        let mut conn = pool.get("test.fails-a-transaction").unwrap();
        conn.batch_execute("BEGIN").unwrap();
        assert!(conn.batch_execute("SELECT 1/0").is_err());
    }
    let pid_before = pool.snapshot().connections[0].backend_pid;
    let conn = pool.get("test.after-failed").unwrap();
    assert_ne!(
        conn.backend_pid(),
        pid_before,
        "a session in a failed transaction is discarded too"
    );
    assert_eq!(pool.snapshot().counters.closed_poisoned, 2);
}
