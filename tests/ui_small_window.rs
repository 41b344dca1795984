//! The real window at 800×600 (the smallest size people commonly use, just above the minimum):
//! every control is on screen, the table keeps its numbers in view, and with the pool panel
//! open the table still has a usable width.

mod common;

use std::time::Duration;

use egui::accesskit::Role;
use egui_kittest::kittest::Queryable as _;
use marquee::config::ServerChoice;
use marquee::filter::KNOWN_GENRES;

use common::ui::{App, loaded_rows, step_until};

const SIZE: [f32; 2] = [800.0, 600.0];

fn screen() -> egui::Rect {
    egui::Rect::from_min_size(egui::Pos2::ZERO, egui::vec2(SIZE[0], SIZE[1]))
}

#[track_caller]
fn assert_on_screen(harness: &App, role: Option<Role>, label: &str) {
    let node = match role {
        Some(role) => harness.get_by_role_and_label(role, label),
        None => harness.get_by_label(label),
    };
    let rect = node.rect();
    assert!(
        screen().expand(0.5).contains_rect(rect),
        "{label:?} is cut off or outside the 800×600 window: {rect:?}"
    );
}

#[test]
fn at_800_by_600_every_control_is_reachable_and_the_table_fits() {
    let db = common::TestDb::default_sample();
    let mut harness = common::ui::app_with(ServerChoice::External(db.params.clone()), SIZE);
    step_until(
        &mut harness,
        "the first rows",
        Duration::from_secs(60),
        |h| loaded_rows(h).len() >= 10,
    );

    for button in [
        "◀ Back",
        "Forward ▶",
        "Pool",
        "Connection…",
        "Light theme",
        "Clear",
    ] {
        assert_on_screen(&harness, Some(Role::Button), button);
    }
    for genre in KNOWN_GENRES {
        assert_on_screen(&harness, None, genre);
    }
    // Fields named by their labels.
    for field in ["Filter", "Year", "Avg ≥", "Ratings ≥"] {
        let rects: Vec<egui::Rect> = harness
            .query_all_by_label(field)
            .map(|n| n.rect())
            .collect();
        assert!(!rects.is_empty(), "no {field:?} field");
        for rect in rects {
            assert!(
                screen().expand(0.5).contains_rect(rect),
                "{field:?} is cut off: {rect:?}"
            );
        }
    }
    // No control takes a row of its own: the range controls share the search's row, and Clear
    // sits on the filter's row, beside its text.
    let row_of = |label: &str| harness.get_by_label(label).rect().center().y;
    assert!(
        (row_of("Year") - row_of("Ratings ≥")).abs() < 2.0,
        "the range controls wrap at 800 points"
    );
    let clear = harness
        .get_by_role_and_label(Role::Button, "Clear")
        .rect()
        .center()
        .y;
    let filter_row = harness
        .query_all_by_label("Filter")
        .map(|n| n.rect().center().y)
        .find(|y| (y - clear).abs() < 4.0);
    assert!(
        filter_row.is_some(),
        "Clear (at y = {clear}) is not on the filter's row"
    );
    // The numbers stay in view: title and genres give way instead.
    for header in ["id", "title", "year", "genres", "avg rating", "ratings"] {
        assert_on_screen(&harness, Some(Role::ColumnHeader), header);
    }
    step_until(
        &mut harness,
        "the movie count",
        Duration::from_secs(30),
        |h| h.query_all_by_label_contains(" movies").next().is_some(),
    );
    let count = harness
        .query_all_by_label_contains(" movies")
        .next()
        .expect("the count in the status bar")
        .rect();
    assert!(
        screen().contains_rect(count),
        "the count is cut off: {count:?}"
    );

    // Each genre's figure stays on its chip's row, right beside it: the row wraps before a chip
    // whose figure would not fit, never between the two.
    step_until(
        &mut harness,
        "the facet figures",
        Duration::from_secs(60),
        |h| common::ui::facet_figures(h).len() >= 10,
    );
    let chips: Vec<egui::Rect> = KNOWN_GENRES
        .iter()
        .map(|genre| harness.get_by_label(genre).rect())
        .collect();
    let rows: std::collections::BTreeSet<i64> = chips
        .iter()
        .map(|chip| chip.center().y.round() as i64)
        .collect();
    assert!(rows.len() >= 2, "at 800 points the chips wrap: {rows:?}");
    for (figure, rect) in common::ui::facet_figures(&harness) {
        let chip = chips
            .iter()
            .filter(|chip| (chip.center().y - rect.center().y).abs() < 2.0)
            .filter(|chip| chip.right() <= rect.left() + 0.5)
            .max_by(|a, b| a.right().total_cmp(&b.right()));
        let Some(chip) = chip else {
            panic!("the figure {figure:?} at {rect:?} starts a row without its chip");
        };
        assert!(
            rect.left() - chip.right() <= 8.0,
            "the figure {figure:?} at {rect:?} is apart from its chip at {chip:?}"
        );
        assert!(
            screen().expand(0.5).contains_rect(rect),
            "the figure {figure:?} is cut off: {rect:?}"
        );
    }

    // The pool panel opens beside a table that keeps a usable width.
    harness.key_press(egui::Key::F2);
    step_until(
        &mut harness,
        "the pool panel",
        Duration::from_secs(10),
        |h| h.query_by_label("Connection pool").is_some(),
    );
    let title = harness
        .get_by_role_and_label(Role::ColumnHeader, "title")
        .rect();
    let ratings = harness
        .get_by_role_and_label(Role::ColumnHeader, "ratings")
        .rect();
    assert!(
        ratings.right() - title.left() >= 300.0,
        "the table is squeezed to {} points beside the pool panel",
        ratings.right() - title.left()
    );
    assert_on_screen(&harness, Some(Role::Button), "Validate all now");
}

/// The status bar at 800 points, its count at every place along the row (the server's name
/// longer by one letter each time): the count moves to the next line whole, never "86,537" at
/// the end of one line and "movies" on the next, as it did in the real window.
#[test]
fn the_status_count_never_breaks_over_two_lines() {
    use marquee::repo::movies::RowCount;
    use marquee::ui::status_bar::{StatusBar, StatusInfo};
    let mut seen_rows = std::collections::BTreeSet::new();
    for pad in 0..120 {
        let info = StatusInfo {
            target: Some(format!("/var/lib/marquee/run:43683/{}", "m".repeat(pad))),
            server_version: Some("15.18".into()),
            state: "Connected".into(),
            connected: true,
            count: Some(RowCount::Exact(86_537)),
            last_query: Some(Duration::from_micros(3_100)),
            pool: Some((0, 5, 10)),
            ..StatusInfo::default()
        };
        let mut harness = egui_kittest::Harness::builder()
            .with_size(egui::vec2(800.0, 200.0))
            .build_ui(|ui| StatusBar.ui(ui, &info, &mut Vec::new()));
        harness.run();
        // As tall as one word, which cannot break.
        let line = harness.get_by_label("Connected").rect().height() + 1.0;
        let count = harness.get_by_label("86,537 movies").rect();
        assert!(
            count.height() < line,
            "with {pad} more letters the count breaks over two lines: {count:?}"
        );
        seen_rows.insert(count.top().round() as i64);
    }
    assert!(
        seen_rows.len() >= 2,
        "the count ends the first line and starts the second along the way: {seen_rows:?}"
    );
}
