//! The pool stats panel inside the real window: the real `MarqueeApp` driven headless through
//! `egui_kittest` against the test cluster. F2 and the toolbar's Pool button show and hide it,
//! it shows live figures from the app's own pool, and its buttons act on that pool with their
//! outcome shown in the panel (never as the table's error).

mod common;

use std::collections::BTreeSet;
use std::time::Duration;

use egui_kittest::Harness;
use egui_kittest::kittest::{NodeT as _, Queryable};
use marquee::config::DEFAULT_APPLICATION_NAME as APPLICATION_NAME;
use marquee::config::ServerChoice;
use marquee::pool_stats::Health;
use marquee::ui::MarqueeApp;

use common::ui::{loaded_rows, shows, step_until};

fn app_for(server: ServerChoice) -> Harness<'static, MarqueeApp> {
    // Tall enough for the whole panel: widgets scrolled out of view have no accessibility node.
    common::ui::app_with(server, [1400.0, 3000.0])
}

fn panel_is_open(harness: &Harness<'static, MarqueeApp>) -> bool {
    harness.query_by_label("Connection pool").is_some()
}

/// Backend PIDs in the panel's connection rows (cells labelled exactly `pid N`).
fn shown_pids(harness: &Harness<'static, MarqueeApp>) -> BTreeSet<i32> {
    harness
        .query_all_by_label_contains("pid ")
        // A plain label's text is its accessibility value.
        .filter_map(|node| node.accesskit_node().value())
        .filter_map(|label| label.strip_prefix("pid ")?.parse().ok())
        .collect()
}

fn wait_for_table(harness: &mut Harness<'static, MarqueeApp>) {
    step_until(harness, "the first rows", Duration::from_secs(60), |h| {
        loaded_rows(h).len() >= 10
    });
}

fn checkouts(harness: &Harness<'static, MarqueeApp>) -> u64 {
    harness
        .state()
        .pool_stats()
        .snapshot()
        .map_or(0, |s| s.counters.checkouts)
}

#[test]
fn f2_opens_the_pool_panel_with_live_figures_and_the_toggle_closes_it() {
    let db = common::TestDb::default_sample();
    let mut harness = app_for(ServerChoice::External(db.params.clone()));
    wait_for_table(&mut harness);
    assert!(!panel_is_open(&harness), "the panel starts hidden");
    // Sampled while hidden, so health and history are there the moment it opens.
    assert_ne!(harness.state().pool_stats().health(), &Health::Connecting);
    assert!(harness.state().pool_stats().history().len() >= 1);

    harness.key_press(egui::Key::F2);
    step_until(
        &mut harness,
        "the panel with the pool's figures",
        Duration::from_secs(20),
        |h| {
            panel_is_open(h)
                && shows(h, "Healthy")
                && shows(h, "In use")
                && shows(h, "Waiting for a connection")
                && !shown_pids(h).is_empty()
        },
    );
    assert!(harness.state().state().pool_panel_open);

    // The rows are the pool's real connections: their PIDs are Marquee's backends on the server.
    let mut client = db.client();
    let server_pids: BTreeSet<i32> = client
        .query(
            "SELECT pid FROM pg_stat_activity WHERE application_name = $1 AND datname = current_database()",
            &[&APPLICATION_NAME],
        )
        .expect("read pg_stat_activity")
        .iter()
        .map(|row| row.get(0))
        .collect();
    let pids = shown_pids(&harness);
    assert!(
        pids.is_subset(&server_pids),
        "panel {pids:?}, server {server_pids:?}"
    );
    // The server view is read by itself while the panel is open, and agrees with the pool.
    step_until(
        &mut harness,
        "the server view",
        Duration::from_secs(60),
        |h| shows(h, "Server backends:") && shows(h, "Matches the pool"),
    );

    // Live: work done in the table shows up in the panel's figures without touching it.
    let before = checkouts(&harness);
    let samples = harness.state().pool_stats().history().len();
    harness.key_press(egui::Key::Slash);
    harness.step();
    harness.event(egui::Event::Text("star".into()));
    step_until(
        &mut harness,
        "new checkouts in the panel",
        Duration::from_secs(30),
        |h| checkouts(h) > before && h.state().pool_stats().history().len() > samples,
    );
    // A search field has the focus now; F2 types nothing and still toggles.
    harness.key_press(egui::Key::F2);
    step_until(
        &mut harness,
        "the panel hidden by F2",
        Duration::from_secs(5),
        |h| !panel_is_open(h),
    );
    harness.key_press(egui::Key::F2);
    step_until(
        &mut harness,
        "the panel back",
        Duration::from_secs(5),
        panel_is_open,
    );

    harness.get_by_label("Pool").click();
    step_until(
        &mut harness,
        "the panel hidden by the toggle",
        Duration::from_secs(5),
        |h| !panel_is_open(h),
    );
    assert!(!harness.state().state().pool_panel_open);
    // The search typed above may still be fetching its first page: wait for it, with a deadline.
    step_until(
        &mut harness,
        "the table's rows beside the closed panel",
        Duration::from_secs(20),
        |h| !loaded_rows(h).is_empty(),
    );
}

#[test]
fn the_panels_buttons_act_on_the_pool_and_answer_in_the_panel() {
    let db = common::TestDb::default_sample();
    let mut harness = app_for(ServerChoice::External(db.params.clone()));
    wait_for_table(&mut harness);
    harness.get_by_label("Pool").click();
    step_until(&mut harness, "the panel", Duration::from_secs(60), |h| {
        shows(h, "Validate all now")
    });

    harness.get_by_label("Validate all now").click();

    step_until(
        &mut harness,
        "the validation's outcome",
        Duration::from_secs(20),
        |h| shows(h, "Validated ") && shows(h, "idle connection(s)"),
    );

    let opened = harness
        .state()
        .pool_stats()
        .snapshot()
        .map_or(0, |s| s.counters.opened);
    harness.get_by_label("Recycle all").click();
    step_until(
        &mut harness,
        "the recycle's outcome and fresh connections",
        Duration::from_secs(20),
        |h| {
            shows(h, "Recycled ")
                && h.state()
                    .pool_stats()
                    .snapshot()
                    .is_some_and(|s| s.counters.opened > opened)
        },
    );

    // The stress drill runs on the app's pool, is shown while it runs, and its result stays.
    harness.get_by_label("Stress").click();
    step_until(
        &mut harness,
        "the stress drill running",
        Duration::from_secs(60),
        |h| shows(h, "Stress drill running"),
    );
    step_until(
        &mut harness,
        "the stress drill done",
        Duration::from_secs(30),
        |h| shows(h, "Stress drill done"),
    );
    let stress = harness
        .state()
        .pool_stats()
        .stress()
        .expect("the drill's final figures");
    assert!(stress.finished);
    assert!(stress.completed > 0, "{stress:?}");

    // None of it went to the table.
    assert!(harness.state().browse().last_error.is_none());
    assert!(
        harness
            .state()
            .pool_monitor()
            .note()
            .is_none_or(|note| !note.is_error)
    );
}
