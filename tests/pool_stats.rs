//! The pool stats model against a real server: its counters match a known workload, waiting
//! rises and falls with exhaustion, terminated backends show up as closed and reopened, the
//! Cancel, Validate-all and Recycle-all actions do what they say, and `marquee pool-stats`
//! prints the same figures.

mod common;

use std::time::{Duration, Instant};

use common::TestDb;
use marquee::config::PoolSettings;
use marquee::db::error::DbErrorKind;
use marquee::db::pool::DatabasePool;
use marquee::pool_stats::drill::{StressDrill, StressSpec};
use marquee::pool_stats::report::{PoolStatsOptions, pool_stats_command};
use marquee::pool_stats::{Health, PoolStatsModel};
use marquee::repo::Repo;
use marquee::repo::server_stats::ServerStatsRepository;
use marquee::worker::{Answer, Priority, Request, Topic, Workers};

fn settings(min: u32, max: u32, checkout_ms: u64) -> PoolSettings {
    PoolSettings {
        min_idle: min,
        max_size: max,
        checkout_timeout_ms: checkout_ms,
        ..PoolSettings::default()
    }
}

fn update(model: &mut PoolStatsModel, pool: &DatabasePool) {
    model.update(
        pool.snapshot(),
        None,
        Vec::new(),
        Vec::new(),
        Instant::now(),
    );
}

/// How long a wait on an observable condition may take before the test gives up: generous, since
/// the waits end as soon as the condition holds.
const PATIENCE: Duration = Duration::from_secs(60);

/// Whether a backend of `db` other than the asking one is running a query containing `text`.
fn running(db: &TestDb, text: &str) -> bool {
    db.client()
        .query_one(
            "SELECT count(*) > 0 FROM pg_stat_activity \
              WHERE datname = current_database() AND state = 'active' \
                AND pid <> pg_backend_pid() AND strpos(query, $1) > 0",
            &[&text],
        )
        .unwrap()
        .get(0)
}

/// Whether backend `pid` has gone from the server.
fn backend_gone(db: &TestDb, pid: i32) -> bool {
    db.client()
        .query_one(
            "SELECT count(*) = 0 FROM pg_stat_activity WHERE pid = $1",
            &[&pid],
        )
        .unwrap()
        .get(0)
}

/// Polls `cond` every 10 ms for up to `within`; returns whether it became true.
fn eventually(within: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let until = Instant::now() + within;
    loop {
        if cond() {
            return true;
        }
        if Instant::now() >= until {
            return false;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Waits until the pool has opened its `min_idle` connections, so no checkout of the test waits
/// for the initial fill.
fn warmed(pool: DatabasePool) -> DatabasePool {
    let min = pool.settings().min_idle;
    assert!(
        eventually(PATIENCE, || pool.snapshot().idle >= min),
        "the pool never opened its {min} idle connections"
    );
    pool
}

fn select_one(repo: &Repo) {
    let one: i32 = repo
        .read("test.select", |c| {
            c.query_typed("SELECT 1", &[]).map(|rows| rows[0].get(0))
        })
        .unwrap();
    assert_eq!(one, 1);
}

fn terminate(db: &TestDb, pid: i32) {
    let ended: bool = db
        .client()
        .query_one("SELECT pg_terminate_backend($1)", &[&pid])
        .unwrap()
        .get(0);
    assert!(ended, "could not terminate {pid}");
}

#[test]
fn counters_match_a_known_workload_of_checkouts_and_timeouts() {
    const CHECKOUTS: u64 = 25;
    const TIMEOUTS: u64 = 3;
    let db = TestDb::migrated();
    let pool = warmed(db.pool(&settings(1, 1, 150)));
    let repo = Repo::new(pool.clone());
    let mut model = PoolStatsModel::default();
    for _ in 0..CHECKOUTS {
        select_one(&repo);
    }
    update(&mut model, &pool);
    assert_eq!(model.health(), &Health::Healthy);

    let held = pool.get("test.hold").unwrap();
    for _ in 0..TIMEOUTS {
        let err = pool.get("test.starved").unwrap_err();
        assert_eq!(err.kind, DbErrorKind::PoolExhausted);
    }
    update(&mut model, &pool);
    let report = model.report().unwrap();
    let c = report.counters;
    assert_eq!(c.checkouts, CHECKOUTS + 1, "the held one counts too");
    assert_eq!(c.timeouts, TIMEOUTS);
    assert_eq!(c.waited_checkouts, TIMEOUTS);
    assert_eq!(c.queries, CHECKOUTS);
    assert_eq!(c.query_errors, 0);
    assert_eq!(c.opened, 1);
    assert_eq!(c.closed_total, 0);
    assert_eq!(report.wait.count, CHECKOUTS + 1);
    assert_eq!(report.hold.count, CHECKOUTS);
    assert_eq!(report.connect.count, 1);
    assert!(report.connect.p50_micros > 0);
    let share = TIMEOUTS as f64 / (CHECKOUTS + 1 + TIMEOUTS) as f64;
    assert!((report.waited_share - share).abs() < 1e-9);
    assert_eq!(
        model.health(),
        &Health::Degraded {
            reasons: vec![
                format!("{TIMEOUTS} checkout timeouts in the last 10 s"),
                // The window starts at the first sample: the held checkout and the timeouts.
                format!(
                    "{TIMEOUTS} of {} checkouts had to wait in the last 10 s",
                    TIMEOUTS + 1
                ),
            ]
        }
    );
    let last = report.last_error.unwrap();
    assert_eq!(last.kind, DbErrorKind::PoolExhausted);
    assert!(
        last.message.contains("pool exhausted (1/1 in use)"),
        "{}",
        last.message
    );
    assert!(report.last_success_secs_ago.is_some_and(|s| s < 60.0));

    // The held connection is the longest holder and shows its label.
    let holder = report.longest_holder.unwrap();
    assert_eq!(holder.id, held.id());
    assert_eq!(holder.backend_pid, held.backend_pid());
    assert_eq!(holder.label, "test.hold");
    let row = &report.connections[0];
    assert_eq!(
        (row.state, row.label.as_deref()),
        ("in use", Some("test.hold"))
    );
    assert_eq!(row.use_count, CHECKOUTS + 1);
    drop(held);
    update(&mut model, &pool);
    assert_eq!(model.gauges().in_use, 0);
    assert!(model.longest_holder().is_none());
}

#[test]
fn waiting_rises_while_the_pool_is_exhausted_and_falls_after() {
    let db = TestDb::migrated();
    let pool = warmed(db.pool(&settings(2, 2, 10_000)));
    let held = [
        pool.get("test.hold-a").unwrap(),
        pool.get("test.hold-b").unwrap(),
    ];
    let waiters: Vec<_> = (0..3)
        .map(|i| {
            let pool = pool.clone();
            std::thread::spawn(move || pool.get(&format!("test.waiter-{i}")).map(|_| ()))
        })
        .collect();
    let mut model = PoolStatsModel::default();
    let saw_three = eventually(PATIENCE, || {
        update(&mut model, &pool);
        model.gauges().waiting == 3
    });
    assert!(saw_three, "waiting never reached 3: {:?}", model.gauges());
    // The oldest waiter passes one second (the health's threshold) while the pool stays full.
    let waited_a_second = eventually(PATIENCE, || {
        update(&mut model, &pool);
        model
            .gauges()
            .oldest_waiter_micros
            .is_some_and(|m| m >= 1_000_000)
    });
    assert!(waited_a_second, "{:?}", model.gauges());
    let g = model.gauges();
    assert_eq!((g.total, g.in_use, g.idle), (2, 2, 0));
    let Health::Degraded { reasons } = model.health() else {
        panic!("expected degraded, got {:?}", model.health());
    };
    assert!(
        reasons
            .iter()
            .any(|r| r.starts_with("a checkout has waited")),
        "{reasons:?}"
    );

    drop(held);
    for waiter in waiters {
        waiter.join().unwrap().unwrap();
    }
    update(&mut model, &pool);
    let g = model.gauges();
    assert_eq!((g.waiting, g.oldest_waiter_micros, g.in_use), (0, None, 0));
    assert_eq!((g.peak_waiting, g.peak_in_use), (3, 2));
    let waited = model.series(marquee::pool_stats::Gauge::Waiting);
    assert!(waited.iter().any(|p| p[1] == 3.0) && waited.last().is_some_and(|p| p[1] == 0.0));
    assert_eq!(model.report().unwrap().counters.waited_checkouts, 3);
}

#[test]
fn terminated_backends_are_counted_closed_and_reopened_and_the_server_view_shows_it() {
    let db = TestDb::migrated();
    // Validate at every checkout so the pool notices the terminated backends there.
    let pool = db.pool(&PoolSettings {
        validation_bypass_ms: 0,
        ..settings(2, 2, 5_000)
    });
    let repo = Repo::new(pool.clone());
    let pids: Vec<i32> = {
        let a = pool.get("test.warm-a").unwrap();
        let b = pool.get("test.warm-b").unwrap();
        vec![a.backend_pid(), b.backend_pid()]
    };
    let mut model = PoolStatsModel::default();
    update(&mut model, &pool);
    assert_eq!(model.report().unwrap().counters.opened, 2);
    for pid in &pids {
        terminate(&db, *pid);
    }
    // The server's view, read through a second pool (as another Marquee process would be).
    let other = db.pool(&settings(0, 1, 5_000));
    let gone = eventually(PATIENCE, || {
        let backends = ServerStatsRepository::new(other.clone())
            .backends()
            .unwrap();
        model.update(
            pool.snapshot(),
            Some(backends),
            Vec::new(),
            Vec::new(),
            Instant::now(),
        );
        model
            .server_view()
            .is_some_and(|v| v.gone_from_server.len() == 2)
    });
    assert!(gone, "{:?}", model.server_view());
    let view = model.server_view().unwrap();
    // The view lists them in the pool's connection order, which need not be checkout order.
    let mut gone = view.gone_from_server.clone();
    gone.sort_unstable();
    let mut expected = pids.clone();
    expected.sort_unstable();
    assert_eq!(gone, expected);
    assert_eq!(view.not_in_pool.len(), 1, "the other pool's own backend");
    assert!(
        model
            .connection_rows()
            .iter()
            .all(|r| r.on_server == Some(false))
    );

    // r2d2 only finds out at checkout: run work, then the counters add up.
    for _ in 0..4 {
        select_one(&repo);
    }
    update(&mut model, &pool);
    let c = model.report().unwrap().counters;
    assert_eq!(c.closed.failed_validation, 2, "{c:?}");
    assert_eq!(c.closed_total, 2);
    assert_eq!(c.query_errors, 0, "no query ran on a dead connection");
    assert!(eventually(PATIENCE, || {
        pool.snapshot().counters.opened == 4
    }));
    update(&mut model, &pool);
    let rows = model.connection_rows();
    assert!(
        rows.iter().all(|r| !pids.contains(&r.backend_pid)),
        "{rows:?}"
    );
}

#[test]
fn cancel_ends_a_running_pg_sleep_on_the_server() {
    let db = TestDb::migrated();
    let pool = db.pool(&settings(1, 3, 5_000));
    let workers = Workers::start(pool.clone(), 2, Box::new(|| {}));
    let started = Instant::now();
    let sleep_job = workers.submit(
        Topic::Admin,
        0,
        Priority::Background,
        Request::Sleep(Duration::from_secs(600)),
    );
    let mut model = PoolStatsModel::default();
    let found = eventually(PATIENCE, || {
        model.update(
            pool.snapshot(),
            None,
            workers.job_log(),
            workers.worker_states(),
            Instant::now(),
        );
        model
            .connection_rows()
            .iter()
            .any(|r| r.label.as_deref() == Some("drill.sleep"))
    });
    assert!(found, "the sleeping connection never showed");
    let row = model
        .connection_rows()
        .into_iter()
        .find(|r| r.label.as_deref() == Some("drill.sleep"))
        .unwrap();
    assert_eq!(row.job, Some(sleep_job));
    assert!(
        model
            .worker_rows()
            .iter()
            .any(|w| w.job == Some(sleep_job) && w.label == Some("drill.sleep"))
    );
    // The statement must have reached the server before it can be cancelled there.
    assert!(
        eventually(PATIENCE, || running(&db, "pg_sleep")),
        "the sleep never started on the server"
    );
    // What the app does for PoolStatsAction::Cancel(row.id).
    workers.submit(
        Topic::Admin,
        0,
        Priority::Urgent,
        Request::CancelConnection(row.id),
    );
    let mut cancelled = None;
    let mut slept = None;
    while cancelled.is_none() || slept.is_none() {
        let reply = workers
            .replies()
            .recv_timeout(PATIENCE)
            .expect("both jobs answer long before the 600 s sleep would end");
        match reply.result {
            Ok(Answer::Cancelled(sent)) => cancelled = Some(sent),
            Err(err) if reply.job == sleep_job => slept = Some(err),
            other => panic!("unexpected answer {other:?}"),
        }
    }
    assert_eq!(cancelled, Some(true));
    assert_eq!(slept.map(|e| e.kind), Some(DbErrorKind::Cancelled));
    assert!(
        started.elapsed() < Duration::from_secs(300),
        "ended by the cancel"
    );
    model.update(
        pool.snapshot(),
        None,
        workers.job_log(),
        workers.worker_states(),
        Instant::now(),
    );
    let report = model.report().unwrap();
    assert_eq!(report.counters.cancelled_queries, 1);
    assert_eq!(model.health(), &Health::Healthy, "a cancel is not trouble");
    let job = report
        .recent_jobs
        .iter()
        .find(|j| j.job == sleep_job)
        .unwrap();
    assert!(
        job.error
            .as_deref()
            .is_some_and(|e| e.contains("cancelled")),
        "{job:?}"
    );
    assert!(workers.shutdown(Duration::from_secs(5)));
}

#[test]
fn validate_all_closes_the_idle_connections_whose_backend_is_gone() {
    let db = TestDb::migrated();
    // A long bypass window: only validate_all checks, not the checkouts. No min_idle, so r2d2
    // opens no replacement while the test counts.
    let pool = db.pool(&PoolSettings {
        validation_bypass_ms: 600_000,
        ..settings(0, 3, 5_000)
    });
    let pids: Vec<i32> = {
        let a = pool.get("test.warm-a").unwrap();
        let b = pool.get("test.warm-b").unwrap();
        vec![a.backend_pid(), b.backend_pid()]
    };
    terminate(&db, pids[0]);
    assert!(eventually(PATIENCE, || backend_gone(&db, pids[0])));
    let report = pool.validate_all();
    assert_eq!((report.checked, report.failed), (2, 1), "{report:?}");
    let snap = pool.snapshot();
    assert_eq!(snap.counters.closed_validation, 1);
    assert!(snap.counters.validations >= 2);
    assert_eq!(
        snap.connections
            .iter()
            .map(|c| c.backend_pid)
            .collect::<Vec<_>>(),
        vec![pids[1]]
    );
    assert_eq!((snap.total, snap.idle), (1, 1));
    assert_eq!(
        pool.validate_all(),
        marquee::db::pool::ValidateReport {
            checked: 1,
            failed: 0
        }
    );
    assert_eq!(pool.snapshot().counters.closed_total(), 1);
}

#[test]
fn recycle_all_closes_idle_connections_now_and_busy_ones_on_return() {
    let db = TestDb::migrated();
    // At most two: with both checked out, r2d2 cannot open a third in the background to keep
    // its minimum idle, which recycle_all would then also close (seen once in a full run).
    let pool = db.pool(&settings(2, 2, 5_000));
    let (busy, idle_pid) = {
        let a = pool.get("test.busy").unwrap();
        let b = pool.get("test.warm").unwrap();
        let pid = b.backend_pid();
        (a, pid)
    };
    let busy_pid = busy.backend_pid();
    assert_eq!(pool.recycle_all(), 1, "one idle connection to close");
    assert_eq!(pool.snapshot().counters.closed_pool, 1);
    assert!(
        pool.snapshot()
            .connections
            .iter()
            .all(|c| c.backend_pid != idle_pid)
    );
    // The busy one keeps working, then goes when returned.
    let mut busy = busy;
    busy.query_one("SELECT 1", &[]).unwrap();
    drop(busy);
    assert_eq!(pool.snapshot().counters.closed_pool, 2);
    assert!(eventually(PATIENCE, || pool.snapshot().idle >= 2));
    let snap = pool.snapshot();
    assert!(
        snap.connections
            .iter()
            .all(|c| c.backend_pid != idle_pid && c.backend_pid != busy_pid)
    );
    let mut conn = pool.get("test.after").unwrap();
    conn.query_one("SELECT 1", &[]).unwrap();
}

#[test]
fn a_stress_drill_saturates_queues_and_drains() {
    let db = TestDb::migrated();
    let pool = db.pool(&settings(1, 2, 5_000));
    let drill = StressDrill::start(
        &pool,
        StressSpec {
            queries: 6,
            duration: Duration::from_millis(1_500),
            query_duration: Duration::from_millis(100),
        },
    );
    let mut model = PoolStatsModel::default();
    while !drill.is_finished() {
        update(&mut model, &pool);
        model.set_stress(Some(drill.progress(Instant::now())));
        std::thread::sleep(Duration::from_millis(20));
    }
    let done = drill.join();
    update(&mut model, &pool);
    let g = model.gauges();
    assert_eq!(g.peak_in_use, 2, "{g:?}");
    assert!(g.peak_waiting >= 3, "{g:?}");
    assert_eq!((g.waiting, g.in_use), (0, 0), "drained");
    assert!(done.completed >= 10, "{done:?}");
    assert_eq!((done.timeouts, done.errors), (0, 0));
    let c = model.report().unwrap().counters;
    assert_eq!(c.queries, done.completed);
    assert!(c.waited_checkouts > 0);
}

#[test]
fn pool_stats_command_prints_text_and_json_after_a_stress_run() {
    let db = TestDb::migrated();
    let pool = db.pool(&settings(1, 2, 5_000));
    let mut text = Vec::new();
    pool_stats_command(&pool, &PoolStatsOptions::default(), &mut text).unwrap();
    let text = String::from_utf8(text).unwrap();
    assert!(
        text.starts_with(&format!("Pool {}: ", pool.target())),
        "{text}"
    );
    for needle in [
        "checkout wait: p50",
        "time held:",
        "statements unnamed",
        "server (pg_stat_activity",
    ] {
        assert!(text.contains(needle), "{needle} missing from\n{text}");
    }

    let mut json = Vec::new();
    let options = PoolStatsOptions {
        json: true,
        stress: Some(5),
        stress_duration: Duration::from_millis(1_000),
        ..PoolStatsOptions::default()
    };
    pool_stats_command(&pool, &options, &mut json).unwrap();
    let json = String::from_utf8(json).unwrap();
    assert_eq!(json.lines().count(), 1, "{json}");
    let report: serde_json::Value = serde_json::from_str(&json).unwrap();
    let stress = &report["stress"];
    assert_eq!(stress["finished"], true, "{report}");
    let completed = stress["completed"].as_u64().unwrap();
    assert!(completed > 0);
    // The server-view query of the first report counts as a query too.
    assert!(report["counters"]["queries"].as_u64().unwrap() >= completed);
    assert!(
        report["gauges"]["peak_waiting"].as_u64().unwrap() >= 1,
        "{report}"
    );
    assert_eq!(report["gauges"]["peak_in_use"], 2);
    assert_eq!(report["gauges"]["waiting"], 0);
    assert!(
        report["statements"]
            .as_str()
            .unwrap()
            .starts_with("unnamed")
    );
    assert_eq!(report["settings"]["max_size"], 2);

    let mut watched = Vec::new();
    let options = PoolStatsOptions {
        json: true,
        watch: true,
        interval: Duration::from_millis(150),
        max_reports: Some(3),
        server_view: false,
        ..PoolStatsOptions::default()
    };
    let started = Instant::now();
    pool_stats_command(&pool, &options, &mut watched).unwrap();
    assert!(started.elapsed() >= Duration::from_millis(300));
    let lines: Vec<serde_json::Value> = String::from_utf8(watched)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 3);
    assert!(lines.iter().all(|l| l["server"].is_null()));
}

/// Drives the panel's monitor the way `MarqueeApp::logic` does, on a clock the test sets.
fn monitor_samples(
    monitor: &mut marquee::pool_stats::monitor::PoolMonitor,
    pool: &DatabasePool,
    workers: &Workers,
    open: bool,
    now: Instant,
) -> (Duration, Option<Instant>) {
    use marquee::pool_stats::monitor::Link;
    let next = monitor.logic(Link::Ready(pool, workers), open, now);
    (next, monitor.model().history().last().map(|s| s.at))
}

#[test]
fn the_panel_samples_four_times_a_second_while_open_and_once_while_hidden() {
    use marquee::pool_stats::monitor::{PoolMonitor, SAMPLE_EVERY, SAMPLE_EVERY_HIDDEN};
    assert_eq!(SAMPLE_EVERY, Duration::from_millis(250));
    assert_eq!(SAMPLE_EVERY_HIDDEN, Duration::from_secs(1));
    let db = TestDb::migrated();
    let pool = db.pool(&settings(1, 2, 5_000));
    let workers = Workers::start(pool.clone(), 2, Box::new(|| {}));
    let mut monitor = PoolMonitor::default();
    let t0 = Instant::now();
    let at = |ms: u64| t0 + Duration::from_millis(ms);

    // Hidden: the first snapshot at once, the next one a second later, none in between.
    let (next, last) = monitor_samples(&mut monitor, &pool, &workers, false, at(0));
    assert_eq!((next, last), (SAMPLE_EVERY_HIDDEN, Some(at(0))));
    for ms in [250, 500, 999] {
        let (next, last) = monitor_samples(&mut monitor, &pool, &workers, false, at(ms));
        assert_eq!(last, Some(at(0)), "no sample at {ms} ms while hidden");
        assert_eq!(
            next,
            Duration::from_millis(1_000 - ms),
            "the next is due at 1 s"
        );
    }
    let (_, last) = monitor_samples(&mut monitor, &pool, &workers, false, at(1_000));
    assert_eq!(last, Some(at(1_000)));

    // Opened: sampled at once, then every 250 ms, frames in between change nothing.
    monitor.opened();
    let (next, last) = monitor_samples(&mut monitor, &pool, &workers, true, at(1_100));
    assert_eq!((next, last), (SAMPLE_EVERY, Some(at(1_100))));
    let (next, last) = monitor_samples(&mut monitor, &pool, &workers, true, at(1_200));
    assert_eq!((next, last), (Duration::from_millis(150), Some(at(1_100))));
    let (_, last) = monitor_samples(&mut monitor, &pool, &workers, true, at(1_350));
    assert_eq!(last, Some(at(1_350)));
    let mut samples = 0;
    for frame in 0..200 {
        // 200 frames at 100 fps over two seconds: eight samples, not two hundred.
        let before = monitor.model().history().last().map(|s| s.at);
        let (_, last) = monitor_samples(
            &mut monitor,
            &pool,
            &workers,
            true,
            at(1_350 + 10 * (frame + 1)),
        );
        samples += usize::from(last != before);
    }
    assert_eq!(samples, 8, "open: four samples a second");
    assert!(workers.shutdown(Duration::from_secs(5)));
}

#[test]
fn the_history_keeps_sixty_seconds_and_no_more() {
    use marquee::pool_stats::HISTORY_WINDOW;
    use marquee::pool_stats::monitor::PoolMonitor;
    assert_eq!(HISTORY_WINDOW, Duration::from_secs(60));
    let db = TestDb::migrated();
    let pool = db.pool(&settings(1, 2, 5_000));
    let workers = Workers::start(pool.clone(), 2, Box::new(|| {}));
    let mut monitor = PoolMonitor::default();
    let t0 = Instant::now();
    // Five minutes of hidden sampling, once a second, on the test's clock.
    for secs in 0..=300 {
        monitor_samples(
            &mut monitor,
            &pool,
            &workers,
            false,
            t0 + Duration::from_secs(secs),
        );
    }
    let history: Vec<Instant> = monitor.model().history().map(|s| s.at).collect();
    let newest = *history.last().unwrap();
    assert_eq!(newest, t0 + Duration::from_secs(300));
    assert_eq!(
        history.len(),
        61,
        "one sample a second for sixty seconds, both ends included"
    );
    assert!(
        history
            .iter()
            .all(|at| newest.duration_since(*at) <= HISTORY_WINDOW)
    );
    assert!(workers.shutdown(Duration::from_secs(5)));
}
