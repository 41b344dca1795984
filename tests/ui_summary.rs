//! The summary panel through the real window on the sample: summarize by genre, click a bar to
//! drill down (the filter, the table and the summary follow), press Back and see all three
//! restored; a pivot draws a heat map whose cells drill into both dimensions.

mod common;

use std::time::Duration;

use egui::accesskit::Role;
use egui_kittest::kittest::Queryable as _;
use marquee::repo::movies::RowCount;
use marquee::summary::{GroupKey, Measure, Summary};
use marquee::ui::summary_panel::SummaryData;

use common::ui::{App, applied, apply_text, field, loaded_rows, shows, step_until};

fn app(db: &common::TestDb) -> App {
    common::ui::app_on(db, [1280.0, 900.0])
}

/// Opens the summary panel and waits for its first answer for `filter`.
fn open_summary(harness: &mut App, filter: &str) -> Summary {
    harness
        .get_by_role_and_label(Role::Button, "Summary")
        .click();
    summary_for(harness, filter, 1)
}

/// Picks `item` from the combo box labelled `combo`.
fn choose(harness: &mut App, combo: &str, item: &str) {
    harness.get_by_role_and_label(Role::ComboBox, combo).click();
    step_until(harness, "the menu", Duration::from_secs(5), |h| {
        h.query_by_label(item).is_some()
    });
    // Through accessibility: a menu's first frame is a sizing pass, so a pointer click at the
    // rect of the frame the item appeared in can miss it (a clean-clone CI run did).
    harness.get_by_label(item).click_accesskit();
}

/// The exact summary on screen once it answers for `filter` (its conditions, as text) grouped
/// by `dimensions` dimensions (an estimate from a sample comes first on the sample's 86,537
/// movies).
fn summary_for(harness: &mut App, filter: &str, dimensions: usize) -> Summary {
    step_until(harness, "the summary", Duration::from_secs(60), |h| {
        matches!(h.state().summary(),
            SummaryData::Ready(s) if s.filter.to_text() == filter && s.spec.by.len() == dimensions
                && s.sample.is_none())
    });
    harness.state().summary().summary().expect("ready").clone()
}

#[test]
fn clicking_a_bar_drills_down_and_back_restores_filter_table_and_summary() {
    let db = common::TestDb::default_sample();
    let mut harness = app(&db);
    let first_rows = loaded_rows(&harness);
    let all = open_summary(&mut harness, "");
    let drama = all
        .rows
        .iter()
        .find(|r| r.keys[0] == GroupKey::Genre("Drama".into()))
        .expect("a Drama group");
    let drama_movies = all.value(drama, Measure::Movies).expect("movies") as u64;
    step_until(&mut harness, "the Drama bar", Duration::from_secs(5), |h| {
        shows(h, "bar: Drama: movies")
    });
    assert!(
        shows(&harness, "summary row: Drama: movies"),
        "the table has the group"
    );

    harness
        .query_all_by_label_contains("bar: Drama: movies")
        .next()
        .expect("bar")
        .click();
    step_until(
        &mut harness,
        "the drill-down",
        Duration::from_secs(10),
        |h| applied(h) == "genre-all:Drama",
    );
    step_until(&mut harness, "Drama rows", Duration::from_secs(30), |h| {
        let rows = loaded_rows(h);
        rows.len() >= 10 && rows.iter().all(|r| field(r, 3).contains("Drama"))
    });
    step_until(
        &mut harness,
        "the exact count",
        Duration::from_secs(30),
        |h| matches!(h.state().browse().count(), Some(RowCount::Exact(_))),
    );
    assert_eq!(
        harness.state().browse().count(),
        Some(RowCount::Exact(drama_movies)),
        "the table shows as many movies as the group had"
    );
    let drilled = summary_for(&mut harness, "genre-all:Drama", 1);
    let only = drilled
        .rows
        .iter()
        .find(|r| r.keys[0] == GroupKey::Genre("Drama".into()))
        .expect("Drama");
    assert_eq!(
        drilled.value(only, Measure::Movies),
        Some(drama_movies as f64)
    );
    assert!(
        drilled
            .rows
            .iter()
            .all(|r| drilled.value(r, Measure::Movies) <= Some(drama_movies as f64)),
        "every group is within Drama"
    );

    harness
        .get_by_role_and_label(Role::Button, "◀ Back")
        .click();
    step_until(&mut harness, "Back", Duration::from_secs(10), |h| {
        applied(h).is_empty()
    });
    step_until(
        &mut harness,
        "the first rows again",
        Duration::from_secs(30),
        |h| {
            loaded_rows(h)
                .iter()
                .take(10)
                .eq(first_rows.iter().take(10))
        },
    );
    assert_eq!(summary_for(&mut harness, "", 1).rows, all.rows);
}

#[test]
fn a_pivot_is_a_heat_map_whose_cells_drill_into_both_dimensions() {
    let db = common::TestDb::default_sample();
    let mut harness = app(&db);
    apply_text(&mut harness, "genre:Film-Noir");
    open_summary(&mut harness, "genre:Film-Noir");
    // Then by decade: the second dimension's menu.
    choose(&mut harness, "then", "decade");
    let pivot = summary_for(&mut harness, "genre:Film-Noir", 2);
    let cell = pivot
        .rows
        .iter()
        .find(|r| {
            r.keys[0] == GroupKey::Genre("Crime".into())
                && r.keys[1] == GroupKey::Decade(Some(1940))
        })
        .expect("Crime in the 1940s");
    let label = "cell: Crime, 1940s: movies";
    step_until(&mut harness, "the cell", Duration::from_secs(5), |h| {
        shows(h, label)
    });
    harness
        .query_all_by_label_contains(label)
        .next()
        .expect("cell")
        .click();
    step_until(
        &mut harness,
        "the drill-down",
        Duration::from_secs(10),
        |h| applied(h) == "genre:Film-Noir genre-all:Crime year:1940..1949",
    );
    step_until(&mut harness, "the count", Duration::from_secs(30), |h| {
        matches!(h.state().browse().count(), Some(RowCount::Exact(_)))
    });
    assert_eq!(
        harness.state().browse().count(),
        Some(RowCount::Exact(
            pivot.value(cell, Measure::Movies).expect("movies") as u64
        ))
    );
}

#[test]
fn the_summary_saves_as_csv_with_the_filter_of_each_group() {
    let db = common::TestDb::default_sample();
    let mut harness = app(&db);
    let summary = open_summary(&mut harness, "");
    harness.get_by_role_and_label(Role::Button, "Save…").click();
    step_until(&mut harness, "the save row", Duration::from_secs(5), |h| {
        h.query_by_role_and_label(Role::TextInput, "Save summary to")
            .is_some()
    });
    let dir = common::scratch_dir("ui-summary-csv");
    let field = harness.get_by_role_and_label(Role::TextInput, "Save summary to");
    field.focus();
    field.set_text_value_accesskit(&dir.join("genres").display().to_string());
    harness.step();
    harness.get_by_role_and_label(Role::Button, "CSV").click();
    step_until(
        &mut harness,
        "the saved note",
        Duration::from_secs(10),
        |h| shows(h, "Saved 19 groups to"),
    );
    let mut expected = Vec::new();
    summary.write_csv(&mut expected).expect("csv");
    assert_eq!(
        std::fs::read(dir.join("genres.csv")).expect("the file"),
        expected
    );
    assert!(!dir.join("genres.csv.partial").exists());
}

#[test]
fn a_header_menu_shows_the_columns_statistics_for_the_filter() {
    let db = common::TestDb::default_sample();
    let mut harness = app(&db);
    apply_text(&mut harness, "genre:Film-Noir");
    step_until(&mut harness, "noir rows", Duration::from_secs(30), |h| {
        loaded_rows(h)
            .iter()
            .all(|r| field(r, 3).contains("Film-Noir"))
            && !loaded_rows(h).is_empty()
    });
    harness
        .get_by_role_and_label(Role::ColumnHeader, "year")
        .click_secondary();
    step_until(
        &mut harness,
        "the statistics",
        Duration::from_secs(30),
        |h| shows(h, "distinct values"),
    );
    let (distinct, empty, first, last): (i64, i64, i16, i16) = {
        let row = db
            .client()
            .query_one(
                "SELECT count(DISTINCT year), count(*) FILTER (WHERE year IS NULL), min(year), max(year)
                   FROM movies WHERE 'Film-Noir' = ANY (genres)",
                &[],
            )
            .expect("oracle");
        (row.get(0), row.get(1), row.get(2), row.get(3))
    };
    for text in [
        distinct.to_string(),
        empty.to_string(),
        first.to_string(),
        last.to_string(),
    ] {
        assert!(
            harness.query_all_by_label(&text).next().is_some(),
            "the menu shows {text}"
        );
    }
    assert!(
        shows(&harness, "histogram of year:"),
        "the histogram is described"
    );
}

#[test]
fn compared_with_the_rest_both_sides_are_drawn_and_only_the_filters_side_opens() {
    let db = common::TestDb::default_sample();
    let mut harness = app(&db);
    apply_text(&mut harness, "year:1990..1999");
    open_summary(&mut harness, "year:1990..1999");
    choose(&mut harness, "compare with", "the rest");
    step_until(
        &mut harness,
        "the comparison",
        Duration::from_secs(60),
        |h| matches!(h.state().summary(), SummaryData::Ready(s) if s.spec.compare.is_some()),
    );
    step_until(&mut harness, "both bars", Duration::from_secs(5), |h| {
        shows(h, "bar: Drama: movies") && shows(h, "bar (the rest): Drama: movies")
    });
    assert!(
        shows(&harness, "movies (the rest)"),
        "the table has the compared columns"
    );
    harness
        .query_all_by_label_contains("bar (the rest): Drama: movies")
        .next()
        .expect("bar")
        .click();
    for _ in 0..5 {
        harness.step();
    }
    assert_eq!(
        applied(&harness),
        "year:1990..1999",
        "the rest does not open"
    );
    harness
        .query_all_by_label_contains("bar: Drama: movies")
        .next()
        .expect("bar")
        .click();
    step_until(
        &mut harness,
        "the drill-down",
        Duration::from_secs(10),
        |h| applied(h) == "genre-all:Drama year:1990..1999",
    );
}

#[test]
fn an_estimated_summary_is_marked_until_the_exact_one_replaces_it() {
    let db = common::TestDb::large_sample();
    let mut harness = app(&db);
    apply_text(&mut harness, "year:1970..2029");
    harness
        .get_by_role_and_label(Role::Button, "Summary")
        .click();
    let marked = |h: &App| shows(h, "≈ ") && shows(h, "groups");
    let mut estimated_frames = 0;
    step_until(
        &mut harness,
        "the exact summary",
        Duration::from_secs(60),
        |h| match h.state().summary() {
            SummaryData::Ready(s) if s.sample.is_some() => {
                assert!(marked(h), "an estimated summary without its mark");
                estimated_frames += 1;
                false
            }
            SummaryData::Ready(s) => {
                assert!(!marked(h), "the exact summary still marked as an estimate");
                assert!(shows(h, &format!("{} groups", s.rows.len())));
                true
            }
            _ => false,
        },
    );
    assert!(
        estimated_frames > 0,
        "a broad filter on 300,000 movies is sampled first"
    );
    let shown = harness.state().summary().summary().expect("ready").clone();
    let pool = db.pool(&marquee::config::PoolSettings::default());
    let exact = marquee::repo::summary::SummaryRepository::new(pool)
        .summarize(&shown.filter, &shown.spec)
        .expect("exact");
    assert_eq!(shown.rows, exact.rows);
}
