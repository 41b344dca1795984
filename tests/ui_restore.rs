//! The window restores what it saved: filter, sort, columns and theme come back from eframe's
//! persisted storage, and a saved state that no longer fits the database (a selection that is
//! gone, a filter that matches nothing, a filter that no longer parses) does not break the start.

mod common;

use std::collections::HashMap;
use std::time::Duration;

use egui::accesskit::Role;
use egui_kittest::Harness;
use egui_kittest::kittest::{NodeT as _, Queryable};
use marquee::config::{PoolSettings, ServerChoice, Settings};
use marquee::connection::Connection;
use marquee::summary::SummarySpec;
use marquee::ui::movie_table::{ColumnKind, TableLayout};
use marquee::ui::summary_panel::SummaryPanel;
use marquee::ui::{MarqueeApp, State, ThemeChoice};

use common::ui::{App, field, loaded_rows, step_until};

/// eframe's storage, in memory: what a previous run saved.
#[derive(Default)]
struct SavedState(HashMap<String, String>);

impl eframe::Storage for SavedState {
    fn get_string(&self, key: &str) -> Option<String> {
        self.0.get(key).cloned()
    }
    fn set_string(&mut self, key: &str, value: String) {
        self.0.insert(key.to_owned(), value);
    }
    fn remove_string(&mut self, key: &str) {
        self.0.remove(key);
    }
    fn flush(&mut self) {}
}

/// The app started on `db` with `state` as the previous run left it.
fn app_restoring(db: &common::TestDb, state: &State) -> App {
    let mut saved = SavedState::default();
    eframe::set_value(&mut saved, eframe::APP_KEY, state);
    // The harness keeps the app for the test's life; the storage must outlive it.
    let saved: &'static SavedState = Box::leak(Box::new(saved));
    let settings = Settings {
        server: ServerChoice::External(db.params.clone()),
        pool: PoolSettings::default(),
        source: Default::default(),
    };
    Harness::builder()
        .with_size([1280.0, 800.0])
        .allow_missing_glyphs()
        .build_eframe(move |cc| {
            cc.storage = Some(saved);
            MarqueeApp::new(cc, settings)
        })
}

fn has_text_field(harness: &App, value: &str) -> bool {
    harness
        .query_all_by_role(Role::TextInput)
        .any(|node| node.accesskit_node().value().as_deref() == Some(value))
}

fn headers(harness: &App) -> Vec<String> {
    harness
        .query_all_by_role(Role::ColumnHeader)
        .filter_map(|node| node.accesskit_node().label())
        .collect()
}

fn small_sample() -> common::TestDb {
    common::TestDb::seeded(&marquee::import::sample::SampleSpec {
        movies: 2_000,
        ratings: 20_000,
        seed: 5,
    })
}

#[test]
fn filter_sort_columns_and_theme_come_back_from_the_saved_state() {
    let db = small_sample();
    let mut layout = TableLayout::default();
    for column in &mut layout.columns {
        if column.kind == ColumnKind::Genres {
            column.visible = false;
        }
        if column.kind == ColumnKind::Title {
            column.width = 333.0;
        }
    }
    let saved = State {
        filter: "genre:Comedy sort:-year".into(),
        theme: ThemeChoice::Light,
        table: layout.clone(),
        history: vec!["".into(), "genre:Comedy".into()],
        summary: {
            let mut panel = SummaryPanel::default();
            panel.open = true;
            panel.spec = SummarySpec::parse("decade", "movies,avg", 20).expect("spec");
            panel
        },
        ..State::default()
    };
    let mut harness = app_restoring(&db, &saved);
    step_until(
        &mut harness,
        "the restored filter's rows",
        Duration::from_secs(60),
        |h| loaded_rows(h).len() >= 10,
    );
    assert!(
        has_text_field(&harness, "genre:Comedy sort:-year"),
        "the filter field holds the saved filter"
    );
    let rows = loaded_rows(&harness);
    assert!(
        rows.iter().all(|r| field(r, 3).contains("Comedy")),
        "{rows:?}"
    );
    let years: Vec<i32> = rows
        .iter()
        .filter_map(|r| field(r, 2).parse().ok())
        .collect();
    assert!(years.windows(2).all(|w| w[0] >= w[1]), "{years:?}");
    let shown = headers(&harness);
    assert!(shown.iter().any(|h| h == "year ▼"), "{shown:?}");
    assert!(
        !shown.iter().any(|h| h.starts_with("genres")),
        "the hidden column stays hidden: {shown:?}"
    );
    assert!(
        harness.query_by_label("Dark theme").is_some(),
        "light theme restored (the button offers dark)"
    );
    // (Not `ctx.theme()`: the kittest harness sets its own theme after the app is built.)
    let state = harness.state().state();
    assert_eq!(state.theme, ThemeChoice::Light);
    assert_eq!(state.table, layout.sanitized());
    assert_eq!(state.filter, "genre:Comedy sort:-year");
    assert_eq!(state.history, ["", "genre:Comedy"]);
    // The summary panel is open again, grouped as it was.
    step_until(&mut harness, "the summary", Duration::from_secs(60), |h| {
        h.state()
            .summary()
            .summary()
            .is_some_and(|s| s.spec.by == [marquee::summary::Dimension::Decade])
    });

    // Back walks the restored history.
    harness.get_by_label("◀ Back").click();
    step_until(&mut harness, "Back", Duration::from_secs(10), |h| {
        h.state().browse().filter().to_text() == "genre:Comedy"
    });
}

#[test]
fn a_saved_state_from_another_database_does_not_break_the_start() {
    let db = small_sample();
    for (filter, expected) in [
        // Matches nothing here, with a selection that does not exist.
        (
            "genre:Western year:1900..1901 tag:only-elsewhere",
            "genre:Western year:1900..1901 tag:only-elsewhere",
        ),
        // Written by some other version: not even parseable. The start falls back to no filter.
        ("rating:>>9 frobnicate:yes", ""),
    ] {
        let saved = State {
            filter: filter.into(),
            selected_id: Some(987_654_321),
            ..State::default()
        };
        let mut harness = app_restoring(&db, &saved);
        step_until(
            &mut harness,
            "connected with the saved state",
            Duration::from_secs(60),
            |h| {
                matches!(h.state().connection(), Connection::Ready { .. })
                    && h.state().browse().count().is_some()
            },
        );
        for _ in 0..10 {
            harness.step();
        }
        assert!(
            harness.query_by_label("Connected").is_some(),
            "{filter}: the window is up"
        );
        assert_eq!(harness.state().state().filter, expected, "{filter}");
        if expected.is_empty() {
            step_until(
                &mut harness,
                "the unfiltered rows",
                Duration::from_secs(60),
                |h| !loaded_rows(h).is_empty(),
            );
        } else {
            assert!(
                loaded_rows(&harness).is_empty(),
                "{filter}: nothing matches"
            );
        }
    }
}
