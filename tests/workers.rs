//! Worker threads on a real pool: answers are tagged and delivered, superseded work is
//! cancelled on the server and never delivered, a panicking job is isolated, shutdown joins.

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use common::TestDb;
use marquee::config::PoolSettings;
use marquee::db::error::DbErrorKind;
use marquee::db::pool::DatabasePool;
use marquee::filter::Filter;
use marquee::worker::{Answer, CustomWork, Priority, Reply, Request, RequestKind, Topic, Workers};

/// A pool of `threads` connections at most, one kept open.
fn pool(db: &TestDb, threads: usize) -> DatabasePool {
    db.pool(&PoolSettings {
        min_idle: 1,
        max_size: threads as u32,
        ..PoolSettings::default()
    })
}

fn start(db: &TestDb, threads: usize) -> Workers {
    Workers::start(pool(db, threads), threads, Box::new(|| {}))
}

fn next_reply(workers: &Workers, within: Duration) -> Option<Reply> {
    workers.replies().recv_timeout(within).ok()
}

/// Whether a backend of this database is running `pg_sleep` right now.
fn sleeping_backends(db: &TestDb) -> i64 {
    let mut client = db.client();
    client
        .query_one(
            "SELECT count(*) FROM pg_stat_activity
              WHERE datname = current_database() AND state = 'active' AND query LIKE '%pg_sleep%'
                AND pid <> pg_backend_pid()",
            &[],
        )
        .unwrap()
        .get(0)
}

/// Waits until a backend of this database runs `pg_sleep` (the job `what` has started).
fn wait_until_sleeping(db: &TestDb, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while sleeping_backends(db) == 0 {
        assert!(Instant::now() < deadline, "{what} never started");
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn answers_name_the_job_topic_and_generation_they_answer() {
    let db = TestDb::migrated();
    db.client()
        .batch_execute(
            "INSERT INTO movies (id, title) SELECT n, 'Movie ' || n FROM generate_series(1, 250) n",
        )
        .unwrap();
    let workers = start(&db, 2);
    let filter = Arc::new(Filter::default());
    let job = workers.submit(
        Topic::Browse,
        7,
        Priority::Urgent,
        Request::Page {
            filter,
            offset: 200,
            limit: 100,
        },
    );
    let reply = next_reply(&workers, Duration::from_secs(60)).expect("a reply");
    assert_eq!(
        (reply.job, reply.topic, reply.generation),
        (job, Topic::Browse, 7)
    );
    let Ok(Answer::Page { offset: 200, rows }) = reply.result else {
        panic!("{:?}", reply.result)
    };
    assert_eq!(rows.len(), 50);
    assert_eq!(rows[0].id, 201);
    let log = workers.job_log();
    assert_eq!(
        log.last().map(|r| (r.label, r.rows)),
        Some(("movies.page", 50))
    );
    assert!(workers.shutdown(Duration::from_secs(5)));
}

#[test]
fn superseded_work_is_cancelled_on_the_server_and_never_delivered() {
    let db = TestDb::migrated();
    let workers = start(&db, 2);
    // Generation 1 starts a long query...
    workers.submit(
        Topic::Browse,
        1,
        Priority::Urgent,
        Request::Sleep(Duration::from_secs(600)),
    );
    wait_until_sleeping(&db, "the slow query");
    // ...and queued work of generation 1 is waiting behind it.
    workers.submit(
        Topic::Browse,
        1,
        Priority::Background,
        Request::Sleep(Duration::from_secs(600)),
    );
    workers.submit(
        Topic::Browse,
        1,
        Priority::Background,
        Request::Sleep(Duration::from_secs(600)),
    );

    // The user types: generation 2 supersedes everything older.
    let superseded_at = Instant::now();
    workers.supersede(Topic::Browse, 2);
    while sleeping_backends(&db) > 0 {
        assert!(
            superseded_at.elapsed() < Duration::from_secs(60),
            "the server never cancelled the 600 s query"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    let cancel_latency = superseded_at.elapsed();
    eprintln!("server-side cancel observed after {cancel_latency:?}");

    let job = workers.submit(
        Topic::Browse,
        2,
        Priority::Urgent,
        Request::EstimateCount(Arc::new(Filter::default())),
    );
    let reply = next_reply(&workers, Duration::from_secs(60)).expect("the new answer");
    assert_eq!(
        (reply.job, reply.generation),
        (job, 2),
        "only the current generation is delivered"
    );
    assert!(
        next_reply(&workers, Duration::from_millis(300)).is_none(),
        "nothing of generation 1 arrives"
    );
    let log = workers.job_log();
    assert!(
        log.iter()
            .any(|r| r.label == "drill.sleep" && r.error.as_deref() == Some("superseded"))
    );
    assert!(workers.shutdown(Duration::from_secs(5)));
}

/// A facet scan made stale by the next keystroke must not keep the only worker: superseding it
/// cancels it on the server, and the next filter's page is answered while the scan's cause (here
/// a lock it waits behind, standing in for a long scan) is still there.
#[test]
fn a_superseded_facet_scan_is_cancelled_and_frees_its_worker() {
    let db = TestDb::migrated();
    let workers = start(&db, 1);
    let mut locker = db.client();
    let mut lock = locker.transaction().unwrap();
    lock.batch_execute("LOCK TABLE marquee.tags IN ACCESS EXCLUSIVE MODE")
        .unwrap();

    // Generation 1: facets under a tag filter, which must read the locked tags table.
    let stale = Arc::new(Filter::parse("tag:pixar").unwrap());
    workers.submit(
        Topic::Browse,
        1,
        Priority::Background,
        Request::Facets(stale),
    );
    let waiting_facets = || -> i64 {
        db.client()
            .query_one(
                "SELECT count(*) FROM pg_stat_activity
                  WHERE datname = current_database() AND wait_event_type = 'Lock'
                    AND query LIKE '%GROUPING SETS%'",
                &[],
            )
            .unwrap()
            .get(0)
    };
    let deadline = Instant::now() + Duration::from_secs(60);
    while waiting_facets() == 0 {
        assert!(Instant::now() < deadline, "the facet scan never started");
        std::thread::sleep(Duration::from_millis(10));
    }

    // The next keystroke: generation 2 supersedes it and asks for its own first page.
    workers.supersede(Topic::Browse, 2);
    let job = workers.submit(
        Topic::Browse,
        2,
        Priority::Urgent,
        Request::Page {
            filter: Arc::new(Filter::parse("star").unwrap()),
            offset: 0,
            limit: 40,
        },
    );
    let reply = next_reply(&workers, Duration::from_secs(60)).expect("the new page");
    assert_eq!((reply.job, reply.generation), (job, 2));
    assert!(
        matches!(reply.result, Ok(Answer::Page { .. })),
        "{:?}",
        reply.result
    );
    assert_eq!(
        waiting_facets(),
        0,
        "the stale scan is gone from the server"
    );
    // Still locked: the page was answered because the scan was cancelled, not because it ended.
    lock.rollback().unwrap();
    assert!(
        workers
            .job_log()
            .iter()
            .any(|r| r.label == "movies.facets" && r.error.as_deref() == Some("superseded"))
    );
    assert!(workers.shutdown(Duration::from_secs(5)));
}

/// A cancel nobody sent for a job, which is what lands when the canceller aims at a superseded
/// job whose connection has just moved on to the next one, does not fail a job still wanted: it
/// runs once more. A cancel sent for the job (the pool panel's Cancel) ends it.
#[test]
fn a_stray_cancel_runs_the_job_again_and_a_meant_one_ends_it() {
    let db = TestDb::migrated();
    let pool = pool(&db, 1);
    let workers = Workers::start(pool.clone(), 1, Box::new(|| {}));

    let job = workers.submit(
        Topic::Browse,
        1,
        Priority::Urgent,
        Request::Sleep(Duration::from_millis(1500)),
    );
    wait_until_sleeping(&db, "the query");
    // From outside the pool: no cancel was sent for this job.
    let stray: i64 = db
        .client()
        .query_one(
            "SELECT count(*) FROM (SELECT pg_cancel_backend(pid) FROM pg_stat_activity
              WHERE datname = current_database() AND query LIKE '%pg_sleep%'
                AND pid <> pg_backend_pid()) c",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(stray, 1);
    let reply = next_reply(&workers, Duration::from_secs(60)).expect("an answer");
    assert_eq!(reply.job, job);
    assert!(
        matches!(reply.result, Ok(Answer::Slept)),
        "the job ran again: {:?}",
        reply.result
    );

    let job = workers.submit(
        Topic::Browse,
        2,
        Priority::Urgent,
        Request::Sleep(Duration::from_secs(600)),
    );
    wait_until_sleeping(&db, "the query");
    let connection = pool
        .snapshot()
        .connections
        .iter()
        .find(|c| matches!(c.state, marquee::db::pool::ConnectionState::InUse { .. }))
        .map(|c| c.id)
        .expect("the connection serving it");
    assert!(pool.cancel(connection).unwrap());
    let reply = next_reply(&workers, Duration::from_secs(60)).expect("an answer");
    assert_eq!(reply.job, job);
    let err = reply.result.expect_err("cancelled as asked");
    assert_eq!(err.kind, DbErrorKind::Cancelled, "{err}");
    assert!(workers.shutdown(Duration::from_secs(5)));
}

#[test]
fn a_panicking_job_becomes_an_error_and_its_connection_is_discarded() {
    let db = TestDb::migrated();
    let workers = start(&db, 1);
    let panicking = CustomWork(Arc::new(|pool: &marquee::db::pool::DatabasePool| {
        let mut conn = pool.get("test.panics")?;
        conn.batch_execute("BEGIN").ok();
        panic!("bug in a job");
    }));
    workers.submit(
        Topic::Admin,
        0,
        Priority::Urgent,
        Request::Custom {
            label: "test.panics",
            work: panicking,
        },
    );
    let reply = next_reply(&workers, Duration::from_secs(60)).expect("reply");
    let err = reply.result.unwrap_err();
    assert_eq!(err.kind, DbErrorKind::Panicked);
    assert!(err.message.contains("bug in a job"), "{err}");

    // The same (only) worker carries on, on a fresh connection.
    workers.submit(
        Topic::Admin,
        0,
        Priority::Urgent,
        Request::EstimateCount(Arc::new(Filter::default())),
    );
    let reply = next_reply(&workers, Duration::from_secs(60)).expect("reply after panic");
    assert!(reply.result.is_ok(), "{:?}", reply.result);
    assert_eq!(workers.pool().snapshot().counters.closed_poisoned, 1);
    assert!(workers.shutdown(Duration::from_secs(5)));
}

#[test]
fn urgent_jobs_overtake_queued_background_work() {
    let db = TestDb::migrated();
    let workers = start(&db, 1);
    // Occupy the single worker, then queue background work and one urgent job behind it.
    workers.submit(
        Topic::Admin,
        0,
        Priority::Urgent,
        Request::Sleep(Duration::from_secs(3)),
    );
    // Queue the rest only once the worker is busy with it (long enough to queue behind it).
    wait_until_sleeping(&db, "the first job");
    for _ in 0..3 {
        workers.submit(
            Topic::Admin,
            0,
            Priority::Background,
            Request::Sleep(Duration::from_millis(1)),
        );
    }
    let urgent = workers.submit(
        Topic::Admin,
        0,
        Priority::Urgent,
        Request::EstimateCount(Arc::new(Filter::default())),
    );
    let first = next_reply(&workers, Duration::from_secs(60)).unwrap();
    assert_eq!(first.kind, RequestKind::Sleep);
    let second = next_reply(&workers, Duration::from_secs(60)).unwrap();
    assert_eq!(
        second.job, urgent,
        "the urgent job runs before the queued background ones"
    );
    assert!(workers.shutdown(Duration::from_secs(5)));
}

#[test]
fn shutdown_joins_every_worker_within_the_deadline() {
    let db = TestDb::migrated();
    let workers = start(&db, 4);
    for _ in 0..8 {
        workers.submit(
            Topic::Browse,
            0,
            Priority::Background,
            Request::EstimateCount(Arc::new(Filter::default())),
        );
    }
    let started = Instant::now();
    assert!(
        workers.shutdown(Duration::from_secs(5)),
        "all threads ended"
    );
    // Several times the deadline: only a shutdown that ignores its deadline fails this.
    assert!(started.elapsed() < Duration::from_secs(25));
}

/// Hands `browse`'s requests to the workers and applies replies until `done` holds.
fn settle(
    browse: &mut marquee::browse::Browse,
    workers: &Workers,
    what: &str,
    done: impl Fn(&marquee::browse::Browse) -> bool,
) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        browse.take_requests().send(workers);
        if done(browse) {
            return;
        }
        assert!(Instant::now() < deadline, "{what}: not within 60 s");
        if let Ok(reply) = workers.replies().recv_timeout(Duration::from_millis(100)) {
            browse.apply(&reply);
        }
    }
}

#[test]
fn a_jump_reads_the_result_index_once_it_is_built_and_lands_on_the_row_offset_gives() {
    use marquee::browse::Browse;
    use marquee::repo::movies::{MovieRow, MoviesRepository};
    let db = TestDb::default_sample();
    let workers = start(&db, 4);
    let repo = MoviesRepository::new(pool(&db, 2));
    // Many ties (years), nulls (movies without a year) and a second key.
    let filter = Filter::parse("sort:-year,title").unwrap();
    let mut browse = Browse::default();
    browse.set_filter(filter.clone());
    settle(&mut browse, &workers, "the first page", |b| {
        b.row(0).is_some()
    });
    let shown = |b: &Browse, first: u64| -> Option<Vec<MovieRow>> {
        (first..first + 40).map(|i| b.row(i).cloned()).collect()
    };

    // A deep jump before the index: by offset, and it asks for the index.
    browse.show_rows(50_000, 50_039);
    settle(&mut browse, &workers, "rows at 50,000 and the index", |b| {
        shown(b, 50_000).is_some() && b.has_result_index()
    });
    let by_offset = repo.page(&filter, 50_000, 40).unwrap();
    assert_eq!(shown(&browse, 50_000).unwrap(), by_offset);

    // Jumps after it: through the index, onto exactly the rows OFFSET gives, to the last row.
    let total = browse.row_count();
    assert_eq!(total, 86_537, "the index's length is the exact count");
    for first in [70_000, 12_345, total - 40] {
        browse.show_rows(first, first + 39);
        settle(&mut browse, &workers, "rows through the index", |b| {
            shown(b, first).is_some()
        });
        assert_eq!(
            shown(&browse, first).unwrap(),
            repo.page(&filter, first, 40).unwrap(),
            "rows at {first}"
        );
    }
    let log = workers.job_log();
    assert!(log.iter().any(|j| j.label == "movies.result_ids"));
    assert!(log.iter().any(|j| j.label == "movies.rows_at"));
    workers.shutdown(Duration::from_secs(5));
}
