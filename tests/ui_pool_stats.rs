//! The pool stats panel rendered with `egui_kittest`, fed by a real pool under a known load: it
//! shows the figures, and its buttons return the actions that the app then carries out.

mod common;

use std::time::{Duration, Instant};

use common::TestDb;
use egui_kittest::Harness;
use egui_kittest::kittest::Queryable as _;
use marquee::config::PoolSettings;
use marquee::db::error::DbErrorKind;
use marquee::pool_stats::monitor::PoolStatsAction;
use marquee::pool_stats::{LinkStatus, PoolStatsModel};
use marquee::repo::server_stats::ServerStatsRepository;
use marquee::ui::pool_stats::PoolStatsView;
use marquee::worker::{Priority, Request, Topic, Workers};

struct Panel {
    view: PoolStatsView,
    actions: Vec<PoolStatsAction>,
}

fn harness(model: &PoolStatsModel) -> Harness<'_, Panel> {
    Harness::builder()
        .with_size(egui::vec2(1400.0, 3000.0))
        .build_ui_state(
            move |ui, panel: &mut Panel| {
                let actions = panel.view.ui(ui, model);
                panel.actions.extend(actions);
            },
            Panel {
                view: PoolStatsView::default(),
                actions: Vec::new(),
            },
        )
}

fn shows(harness: &Harness<'_, Panel>, text: &str) -> bool {
    harness.query_all_by_label_contains(text).next().is_some()
}

#[track_caller]
fn assert_shows(harness: &Harness<'_, Panel>, texts: &[&str]) {
    for text in texts {
        assert!(shows(harness, text), "the panel does not show {text:?}");
    }
}

#[test]
fn the_panel_shows_a_loaded_pool_and_its_cancel_button_ends_the_query() {
    let db = TestDb::migrated();
    let pool = db.pool(&PoolSettings {
        min_idle: 1,
        max_size: 2,
        checkout_timeout_ms: 150,
        ..PoolSettings::default()
    });
    let workers = Workers::start(pool.clone(), 2, Box::new(|| {}));
    let sleep_job = workers.submit(
        Topic::Admin,
        0,
        Priority::Background,
        Request::Sleep(Duration::from_secs(600)),
    );
    // Wait until the sleep holds its connection, then take the other one and starve two more.
    let until = Instant::now() + Duration::from_secs(60);
    let mut observer = db.client();
    let mut sleeping = move || -> bool {
        observer
            .query_one(
                "SELECT count(*) > 0 FROM pg_stat_activity \
                  WHERE datname = current_database() AND state = 'active' \
                    AND strpos(query, 'pg_sleep') > 0",
                &[],
            )
            .unwrap()
            .get(0)
    };
    while pool.snapshot().in_use == 0 || !sleeping() {
        assert!(Instant::now() < until, "the sleep never started");
        std::thread::sleep(Duration::from_millis(10));
    }
    // The app updates the model continuously; this is the sample before the trouble.
    let mut model = PoolStatsModel::default();
    model.update(
        pool.snapshot(),
        None,
        workers.job_log(),
        workers.worker_states(),
        Instant::now(),
    );
    let held = pool.get("test.hold").unwrap();
    for _ in 0..2 {
        assert_eq!(
            pool.get("test.starved").unwrap_err().kind,
            DbErrorKind::PoolExhausted
        );
    }
    // The server's view through another pool: this one is full.
    let other = db.pool(&PoolSettings {
        min_idle: 0,
        max_size: 1,
        ..PoolSettings::default()
    });
    let backends = ServerStatsRepository::new(other).backends().unwrap();
    model.update(
        pool.snapshot(),
        Some(backends),
        workers.job_log(),
        workers.worker_states(),
        Instant::now(),
    );
    let rows = model.connection_rows();
    let sleep_row = rows
        .iter()
        .find(|r| r.label.as_deref() == Some("drill.sleep"))
        .expect("the sleeping connection has a row");
    let sleep_id = sleep_row.id;
    let sleep_pid = sleep_row.backend_pid;

    let mut harness = harness(&model);
    harness.run();
    assert_shows(
        &harness,
        &[
            // The plain summary on top: both connections are held, nobody waits right now.
            "2 connections, all 2 busy (max 2); nobody waits; checkouts wait",
            "Degraded",
            "2 checkout timeouts in the last 10 s",
            "Last error",
            "pool exhausted (2/2 in use)",
            "2 / 2",
            "Waiting for a connection",
            "Min idle target",
            "Checkout wait",
            "had to wait",
            "Time held",
            "Connection setup",
            "Longest current holder",
            "Checkout timeouts",
            "Closed: failed validation",
            &format!("pid {sleep_pid}"),
            "drill.sleep",
            "test.hold",
            "Server backends: 3",
            "not in this pool",
            &format!("job {sleep_job}: drill.sleep"),
            "unnamed (query_typed",
            "statement timeout",
        ],
    );

    // One Cancel button per busy connection, in row order.
    let busy: Vec<u64> = rows
        .iter()
        .filter(|r| r.state == "in use")
        .map(|r| r.id)
        .collect();
    assert_eq!(busy.len(), 2);
    let index = busy.iter().position(|id| *id == sleep_id).unwrap();
    harness
        .query_all_by_label("Cancel")
        .nth(index)
        .expect("a Cancel button for the sleeping connection")
        .click();
    harness.run();
    for label in [
        "Validate all now",
        "Recycle all",
        "Stress",
        "Refresh server view",
    ] {
        harness.get_by_label(label).click();
        harness.run();
    }
    let actions = std::mem::take(&mut harness.state_mut().actions);
    assert_eq!(
        actions,
        vec![
            PoolStatsAction::Cancel(sleep_id),
            PoolStatsAction::ValidateAll,
            PoolStatsAction::RecycleAll,
            PoolStatsAction::Stress {
                queries: 30,
                secs: 5
            },
            PoolStatsAction::RefreshServerView,
        ]
    );
    drop(harness);

    // What the app does with Cancel: the sleep ends on the server long before its 600 s.
    let started = Instant::now();
    workers.submit(
        Topic::Admin,
        0,
        Priority::Urgent,
        Request::CancelConnection(sleep_id),
    );
    loop {
        let reply = workers
            .replies()
            .recv_timeout(Duration::from_secs(60))
            .expect("the sleep answers once cancelled");
        if reply.job == sleep_job {
            assert_eq!(reply.result.unwrap_err().kind, DbErrorKind::Cancelled);
            break;
        }
    }
    assert!(
        started.elapsed() < Duration::from_secs(300),
        "ended by the cancel"
    );
    drop(held);
    assert!(workers.shutdown(Duration::from_secs(5)));
}

#[test]
fn without_a_pool_the_panel_shows_the_retry_state() {
    let mut model = PoolStatsModel::default();
    let now = Instant::now();
    model.set_link(
        LinkStatus::Failed {
            kind: DbErrorKind::Unreachable,
            message: "cannot reach the server at db.example:5432/movies".into(),
            attempt: 2,
            next_retry: Some(now + Duration::from_millis(4_500)),
        },
        now,
    );
    let mut harness = harness(&model);
    harness.run();
    assert_shows(
        &harness,
        &[
            "Server unreachable",
            "retry attempt 2",
            "next retry in 5 s",
            "cannot reach the server at db.example:5432/movies",
            "No query has succeeded yet",
            "No pool yet",
        ],
    );
    assert!(!shows(&harness, "Validate all now"));
}
