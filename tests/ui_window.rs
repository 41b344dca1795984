//! The window, driven headless through `egui_kittest` against a real private cluster: the real
//! `MarqueeApp`, real workers and pool, assertions on what is rendered (the accessibility tree).

mod common;

use std::time::{Duration, Instant};

use egui::accesskit::Role;
use egui_kittest::Harness;
use egui_kittest::kittest::{NodeT as _, Queryable};
use marquee::config::{PoolSettings, ServerChoice, Settings};
use marquee::connection::Connection;
use marquee::db::cluster::PrivateCluster;
use marquee::ui::MarqueeApp;

use common::ui::{App, field, loaded_rows, shows, stale_rows, step_until};

fn app_for(server: ServerChoice) -> App {
    common::ui::app_with(server, [1280.0, 800.0])
}

/// Whether a text field currently holds exactly `value`.
fn has_text_field(harness: &Harness<'static, MarqueeApp>, value: &str) -> bool {
    harness
        .query_all_by_role(Role::TextInput)
        .any(|node| node.accesskit_node().value().as_deref() == Some(value))
}

fn wait_for_rows(harness: &mut Harness<'static, MarqueeApp>) {
    step_until(harness, "the first rows", Duration::from_secs(60), |h| {
        loaded_rows(h).len() >= 10
    });
}

#[test]
fn typing_in_search_narrows_the_rows_to_matching_titles() {
    let db = common::TestDb::default_sample();
    let mut harness = app_for(ServerChoice::External(db.params.clone()));
    wait_for_rows(&mut harness);
    let before = loaded_rows(&harness);

    // `/` focuses the search field; then type as a person would.
    harness.key_press(egui::Key::Slash);
    harness.step();
    harness.event(egui::Event::Text("star wars".into()));
    step_until(
        &mut harness,
        "rows matching the search",
        Duration::from_secs(30),
        |h| {
            let rows = loaded_rows(h);
            !rows.is_empty()
                && rows
                    .iter()
                    .all(|r| field(r, 1).to_lowercase().contains("star wars"))
        },
    );
    let after = loaded_rows(&harness);
    assert_ne!(before, after);
    assert!(
        after.iter().any(|r| field(r, 1).starts_with("Star Wars")),
        "{after:#?}"
    );
    // The text form follows the widgets.
    assert!(has_text_field(&harness, "title:\"star wars\""));
}

#[test]
fn clicking_a_header_sorts_and_clicking_again_reverses() {
    let db = common::TestDb::default_sample();
    let mut harness = app_for(ServerChoice::External(db.params.clone()));
    wait_for_rows(&mut harness);

    harness
        .get_by_role_and_label(Role::ColumnHeader, "year")
        .click();
    step_until(
        &mut harness,
        "rows sorted by year",
        Duration::from_secs(30),
        |h| {
            h.query_by_role_and_label(Role::ColumnHeader, "year ▲")
                .is_some()
                && loaded_rows(h).len() >= 10
        },
    );
    let years: Vec<i32> = loaded_rows(&harness)
        .iter()
        .filter_map(|r| field(r, 2).parse().ok())
        .collect();
    assert!(years.len() >= 10, "{years:?}");
    assert!(years.windows(2).all(|w| w[0] <= w[1]), "{years:?}");

    harness
        .get_by_role_and_label(Role::ColumnHeader, "year ▲")
        .click();
    step_until(
        &mut harness,
        "rows sorted by year descending",
        Duration::from_secs(30),
        |h| {
            h.query_by_role_and_label(Role::ColumnHeader, "year ▼")
                .is_some()
                && loaded_rows(h).len() >= 10
        },
    );
    let years: Vec<i32> = loaded_rows(&harness)
        .iter()
        .filter_map(|r| field(r, 2).parse().ok())
        .collect();
    assert!(years.windows(2).all(|w| w[0] >= w[1]), "{years:?}");
    assert!(has_text_field(&harness, "sort:-year"));
}

#[test]
fn selecting_a_row_shows_its_details() {
    let db = common::TestDb::default_sample();
    let mut harness = app_for(ServerChoice::External(db.params.clone()));
    wait_for_rows(&mut harness);
    let third = loaded_rows(&harness)[2].clone();
    let title = field(&third, 1);
    harness.get_by_label(&third).click();
    step_until(
        &mut harness,
        "the detail pane",
        Duration::from_secs(30),
        |h| h.query_by_label("Rating histogram").is_some(),
    );
    // The title shows twice: in the selected row and as the pane's heading.
    assert!(harness.query_all_by_label(&title).count() >= 1, "{title}");
    assert!(harness.query_by_label_contains("average from").is_some());

    // The keyboard moves the selection and the pane follows.
    let fourth_title = field(&loaded_rows(&harness)[3], 1);
    harness.key_press(egui::Key::ArrowDown);
    step_until(
        &mut harness,
        "the next movie's details",
        Duration::from_secs(30),
        |h| h.query_by_label(&fourth_title).is_some(),
    );
}

#[test]
fn an_unreachable_server_shows_the_error_and_retry_recovers() {
    let dir = common::scratch_dir("ui-unreachable");
    // Make a cluster with its database, then stop it: the app meets a server that is down.
    let settings = Settings {
        server: ServerChoice::Private {
            data_dir: dir.clone(),
        },
        pool: PoolSettings::default(),
        source: Default::default(),
    };
    let server = marquee::db::Server::start(&settings).expect("start scratch cluster");
    let params = server.params.clone();
    // Marquee's own cluster migrates itself; reached as any other server it is only read, so
    // the (empty) schema must be there before.
    marquee::db::open_pool(&server, &settings)
        .expect("migrate scratch cluster")
        .close();
    PrivateCluster::stop_folder(&dir).expect("stop scratch cluster");

    let mut harness = app_for(ServerChoice::External(params));
    step_until(
        &mut harness,
        "the error state",
        Duration::from_secs(60),
        |h| {
            h.query_by_label("Cannot reach the database server")
                .is_some()
        },
    );
    assert!(harness.query_by_label("Retry").is_some());
    assert!(harness.query_by_label("Connection settings…").is_some());

    PrivateCluster::ensure_running(&dir).expect("restart scratch cluster");
    harness.get_by_label("Retry").click();
    step_until(&mut harness, "connected", Duration::from_secs(30), |h| {
        matches!(h.state().connection(), Connection::Ready { .. })
            && h.query_by_label("Connected").is_some()
    });
    // An empty collection is a state too, not a blank window.
    step_until(
        &mut harness,
        "the empty table",
        Duration::from_secs(60),
        |h| h.state().browse().count().is_some(),
    );
    drop(harness);
    let _ = PrivateCluster::stop_folder(&dir);
}

#[test]
fn while_a_slow_query_runs_the_old_rows_stay_marked_and_the_ui_keeps_drawing() {
    let db = common::TestDb::default_sample();
    let mut harness = app_for(ServerChoice::External(db.params.clone()));
    wait_for_rows(&mut harness);

    // Hold a lock on movies until the test lets go: every page query of the next filter blocks
    // on the server. (Frame cost is a benchmark, `cargo bench --bench app_frame`, not timed here.)
    let mut blocker = db.client();
    blocker
        .batch_execute("BEGIN; LOCK TABLE movies IN ACCESS EXCLUSIVE MODE")
        .expect("lock movies");
    let mut observer = db.client();
    let mut blocked_queries = move || -> i64 {
        observer
            .query_one(
                "SELECT count(*) FROM pg_stat_activity \
                  WHERE datname = current_database() AND wait_event_type = 'Lock'",
                &[],
            )
            .expect("read pg_stat_activity")
            .get(0)
    };

    harness.key_press(egui::Key::Slash);
    harness.step();
    harness.event(egui::Event::Text("love".into()));
    // The window keeps drawing frames while the new filter's query waits on the server. (Other
    // queries of the old filter may block on the lock too: wait for the new filter's state.)
    step_until(
        &mut harness,
        "the new filter's query to block on the lock",
        Duration::from_secs(60),
        |h| shows(h, "Updating for the new filter") && blocked_queries() > 0,
    );
    for _ in 0..10 {
        harness.step();
    }
    // Blocked: the old filter's rows stay on screen, marked as the previous filter's, and no
    // row is passed off as the new result before it has arrived.
    assert!(
        shows(&harness, "Updating for the new filter"),
        "the table says its rows are the previous filter's"
    );
    assert!(
        !stale_rows(&harness).is_empty(),
        "the old rows stay on screen instead of a blank 'Loading…'"
    );
    assert!(
        loaded_rows(&harness).is_empty(),
        "rows of the old filter showed as the new result while the new one was blocked"
    );
    blocker.batch_execute("COMMIT").expect("release the lock");
    step_until(
        &mut harness,
        "rows after the lock",
        Duration::from_secs(30),
        |h| {
            let rows = loaded_rows(h);
            stale_rows(h).is_empty()
                && !shows(h, "Updating for the new filter")
                && !rows.is_empty()
                && rows
                    .iter()
                    .all(|r| field(r, 1).to_lowercase().contains("love"))
        },
    );
}

#[test]
fn paging_down_fetches_the_rows_further_down_the_table() {
    // Frame *cost* is a benchmark (`cargo bench --bench app_frame`), not a timed test; this pins
    // the behaviour: keys move the window over the result and the rows there arrive (labels count
    // rows from 1).
    let db = common::TestDb::default_sample();
    let mut harness = app_for(ServerChoice::External(db.params.clone()));
    wait_for_rows(&mut harness);
    harness.get_by_label(&loaded_rows(&harness)[0]).click();
    harness.step();
    for _ in 0..20 {
        harness.key_press(egui::Key::PageDown);
        harness.step();
    }
    let row_number = |label: &String| -> u64 {
        label
            .strip_prefix("row ")
            .and_then(|rest| rest.split(':').next())
            .and_then(|n| n.parse().ok())
            .unwrap_or(0)
    };
    step_until(
        &mut harness,
        "rows after paging down",
        Duration::from_secs(60),
        |h| {
            loaded_rows(h)
                .first()
                .is_some_and(|label| row_number(label) >= 200)
        },
    );
    // End goes to the last row of the count the table knows; wait until that count is exact.
    step_until(
        &mut harness,
        "the exact row count",
        Duration::from_secs(60),
        |h| h.query_by_label_contains("86,537 movies").is_some(),
    );
    harness.key_press(egui::Key::End);
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        harness.step();
        let rows = loaded_rows(&harness);
        if rows.last().is_some_and(|label| row_number(label) == 86_537) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "End did not reach the last row: {:?}",
            rows.last()
        );
        std::thread::sleep(Duration::from_millis(5));
    }
}

#[test]
fn a_server_that_comes_back_is_reconnected_without_a_click() {
    let dir = common::scratch_dir("ui-auto-retry");
    let settings = Settings {
        server: ServerChoice::Private {
            data_dir: dir.clone(),
        },
        pool: PoolSettings::default(),
        source: Default::default(),
    };
    let server = marquee::db::Server::start(&settings).expect("start scratch cluster");
    let params = server.params.clone();
    // Reached as any other server it is only read: its (empty) schema must be there first.
    marquee::db::open_pool(&server, &settings)
        .expect("migrate scratch cluster")
        .close();
    PrivateCluster::stop_folder(&dir).expect("stop scratch cluster");

    let mut harness = app_for(ServerChoice::External(params));
    step_until(
        &mut harness,
        "the error state",
        Duration::from_secs(60),
        |h| {
            h.query_by_label("Cannot reach the database server")
                .is_some()
        },
    );
    // Only frames from here on: the backoff's own retry must find the server.
    PrivateCluster::ensure_running(&dir).expect("restart scratch cluster");
    step_until(
        &mut harness,
        "connected by the automatic retry",
        Duration::from_secs(90),
        |h| {
            matches!(h.state().connection(), Connection::Ready { .. })
                && h.query_by_label("Connected").is_some()
        },
    );
    drop(harness);
    let _ = PrivateCluster::stop_folder(&dir);
}

/// The figures beside the genre chips, as printed.
fn facet_figures(harness: &App) -> Vec<String> {
    common::ui::facet_figures(harness)
        .into_iter()
        .map(|(figure, _)| figure)
        .collect()
}

#[test]
fn estimated_facets_show_their_mark_until_the_exact_figures_replace_them() {
    let db = common::TestDb::large_sample();
    let mut harness = app_for(ServerChoice::External(db.params.clone()));
    wait_for_rows(&mut harness);
    let text = "year:1970..2029";
    harness.event(egui::Event::Paste(text.into()));
    // Every frame, from the paste until the exact figures: the figures on screen are the
    // model's, and estimated ones carry their mark.
    let mut estimated_frames = 0;
    step_until(
        &mut harness,
        "the exact facets",
        Duration::from_secs(60),
        |h| {
            let figures = facet_figures(h);
            let facets = h
                .state()
                .browse()
                .facets()
                .filter(|_| h.state().browse().filter().to_text() == text);
            match facets {
                Some(f) if f.is_approximate() => {
                    assert!(!figures.is_empty());
                    assert!(
                        figures.iter().all(|s| s.starts_with('≈')),
                        "an estimate without its mark: {figures:?}"
                    );
                    estimated_frames += 1;
                    false
                }
                Some(_) => {
                    assert!(
                        figures.iter().all(|s| !s.starts_with('≈')),
                        "exact figures marked as estimates: {figures:?}"
                    );
                    true
                }
                None => false,
            }
        },
    );
    assert!(
        estimated_frames > 0,
        "a broad filter on 300,000 movies is sampled first, and the window shows the sample"
    );
    // The figures now on screen are the exact ones of the database, chip by chip.
    let pool = db.pool(&PoolSettings::default());
    let exact = marquee::repo::movies::MoviesRepository::new(pool)
        .facets(&marquee::filter::Filter::parse(text).unwrap())
        .unwrap();
    let mut expected: Vec<String> = marquee::filter::KNOWN_GENRES
        .iter()
        .filter_map(|g| exact.genres.iter().find(|(name, _)| name == g))
        .map(|(_, n)| marquee::plural::compact(*n))
        .collect();
    let mut shown = facet_figures(&harness);
    expected.sort();
    shown.sort();
    assert_eq!(shown, expected);
}
