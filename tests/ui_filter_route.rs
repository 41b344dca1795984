//! The filter's one route, through the real window on the real sample: text that does not
//! parse never applies, Enter applies at once, Esc clears and Back brings it back, pasted
//! filter text applies, and the detail pane lets go of a movie from the previous result.

mod common;

use std::time::Duration;

use egui::accesskit::Role;
use egui_kittest::kittest::Queryable as _;
use marquee::config::ServerChoice;
use marquee::repo::movies::RowCount;

use common::ui::{App, field, loaded_rows, shows, step_until};

fn app() -> (common::TestDb, App) {
    let db = common::TestDb::default_sample();
    let mut harness =
        common::ui::app_with(ServerChoice::External(db.params.clone()), [1280.0, 800.0]);
    step_until(
        &mut harness,
        "the first rows",
        Duration::from_secs(60),
        |h| loaded_rows(h).len() >= 10,
    );
    (db, harness)
}

fn applied(harness: &App) -> String {
    harness.state().browse().filter().to_text()
}

fn wait_for_filter(harness: &mut App, text: &str) {
    step_until(
        harness,
        &format!("filter {text:?}"),
        Duration::from_secs(10),
        |h| applied(h) == text,
    );
}

/// Rows of the current filter, once its first page has landed.
fn wait_for_rows_where(harness: &mut App, what: &str, keep: impl Fn(&str) -> bool) {
    step_until(harness, what, Duration::from_secs(30), |h| {
        let rows = loaded_rows(h);
        rows.len() >= 5 && rows.iter().all(|r| keep(r))
    });
}

#[test]
fn filter_text_that_does_not_parse_keeps_the_last_valid_filter_and_enter_applies() {
    let (_db, mut harness) = app();
    let field_node = harness.get_by_role_and_label(Role::TextInput, "Filter");
    field_node.focus();
    field_node.type_text("genre:Film-Noir year:19x7");
    // Well past the debounce: nothing of the half-typed text applies.
    let settled = std::time::Instant::now() + marquee::browse::FILTER_DEBOUNCE * 4;
    while std::time::Instant::now() < settled {
        harness.step();
    }
    step_until(
        &mut harness,
        "the parse error",
        Duration::from_secs(5),
        |h| shows(h, "the table shows the last valid filter"),
    );
    assert_eq!(applied(&harness), "", "a half-typed filter was applied");
    assert!(harness.state().browse().pending_filter().is_none());

    // Correct it and press Enter: applied at once, and the rows follow.
    let field_node = harness.get_by_role_and_label(Role::TextInput, "Filter");
    field_node.focus();
    field_node.set_text_value_accesskit("genre:Film-Noir year:1940..1949");
    harness.step();
    harness.key_press(egui::Key::Enter);
    wait_for_filter(&mut harness, "genre:Film-Noir year:1940..1949");
    assert!(!shows(&harness, "the table shows the last valid filter"));
    wait_for_rows_where(&mut harness, "Film-Noir rows of the 1940s", |r| {
        field(r, 3).contains("Film-Noir")
            && field(r, 2)
                .parse::<i32>()
                .is_ok_and(|y| (1940..=1949).contains(&y))
    });
}

#[test]
fn esc_clears_the_filter_and_back_and_forward_step_through_history() {
    let (_db, mut harness) = app();
    // Filter text pasted with nothing focused applies at once.
    harness.event(egui::Event::Paste("genre:Western year:1950..1959".into()));
    wait_for_filter(&mut harness, "genre:Western year:1950..1959");
    wait_for_rows_where(&mut harness, "westerns of the 1950s", |r| {
        field(r, 3).contains("Western")
    });

    // Esc with nothing focused clears every condition…
    harness.key_press(egui::Key::Escape);
    wait_for_filter(&mut harness, "");
    // …and Back (Alt+←) undoes it, rows included.
    harness.key_press_modifiers(egui::Modifiers::ALT, egui::Key::ArrowLeft);
    wait_for_filter(&mut harness, "genre:Western year:1950..1959");
    wait_for_rows_where(&mut harness, "the westerns again", |r| {
        field(r, 3).contains("Western")
    });
    // The bar shows what is applied.
    assert!(
        harness
            .query_all_by_role(Role::TextInput)
            .any(|n| n.value().as_deref() == Some("genre:Western year:1950..1959"))
    );

    // Forward goes to the cleared filter again; the buttons do the same as the keys.
    harness.get_by_label("Forward ▶").click();
    wait_for_filter(&mut harness, "");
    harness.get_by_label("◀ Back").click();
    wait_for_filter(&mut harness, "genre:Western year:1950..1959");
    harness.get_by_label("◀ Back").click();
    wait_for_filter(&mut harness, "");
}

#[test]
fn the_detail_pane_lets_go_of_a_movie_that_left_the_result() {
    let (_db, mut harness) = app();
    let first = loaded_rows(&harness)[0].clone();
    let title = field(&first, 1);
    harness.get_by_label(&first).click();
    step_until(&mut harness, "the details", Duration::from_secs(20), |h| {
        h.state().state().selected_id.is_some()
    });
    // A filter the selected movie is not in.
    harness.event(egui::Event::Paste(
        "title:\"zzzz no such movie zzzz\"".into(),
    ));
    step_until(
        &mut harness,
        "the empty result",
        Duration::from_secs(20),
        |h| {
            h.state().browse().count() == Some(RowCount::Exact(0)) && !h.state().browse().is_stale()
        },
    );
    // A frame for the table to see the new result, and one for the app to act on it.
    harness.step();
    harness.step();
    assert_eq!(harness.state().state().selected_id, None);
    assert!(
        !shows(&harness, &title) || title.is_empty(),
        "the detail pane still shows {title:?} from the previous result"
    );
}

fn filter_field_value(harness: &App) -> String {
    harness
        .get_by_role_and_label(Role::TextInput, "Filter")
        .value()
        .unwrap_or_default()
}

#[test]
fn the_filter_field_completes_keys_genres_and_tags_from_the_database_and_explains_itself() {
    let (db, mut harness) = app();
    // A real tag of the sample, as a user would half-remember it.
    let tag: String = db
        .client()
        .query_one(
            "SELECT tag FROM tags WHERE length(tag) >= 5 AND tag !~ '\\s'
              GROUP BY tag ORDER BY count(*) DESC, tag LIMIT 1",
            &[],
        )
        .expect("a tag")
        .get(0);

    let field_node = harness.get_by_role_and_label(Role::TextInput, "Filter");
    field_node.focus();
    field_node.type_text("gen");
    step_until(
        &mut harness,
        "key suggestions",
        Duration::from_secs(5),
        |h| h.query_by_label("genre-all:").is_some(),
    );
    harness.key_press(egui::Key::Tab);
    harness.step();
    assert_eq!(filter_field_value(&harness), "genre:");
    harness
        .get_by_role_and_label(Role::TextInput, "Filter")
        .type_text("Dr");
    harness.step();
    harness.key_press(egui::Key::Tab);
    harness.step();
    assert_eq!(filter_field_value(&harness), "genre:Drama");

    let typed = format!(" tag:{}", &tag[..3]);
    harness
        .get_by_role_and_label(Role::TextInput, "Filter")
        .type_text(&typed);
    step_until(
        &mut harness,
        "tag suggestions",
        Duration::from_secs(20),
        |h| h.query_by_label(&tag).is_some(),
    );
    harness.get_by_label(&tag).click();
    step_until(
        &mut harness,
        "the completed tag",
        Duration::from_secs(5),
        |h| filter_field_value(h) == format!("genre:Drama tag:{tag}"),
    );
    harness.key_press(egui::Key::Enter);
    wait_for_filter(&mut harness, &format!("genre:Drama tag:{tag}"));

    harness.get_by_label("?").click();
    step_until(
        &mut harness,
        "the filter help",
        Duration::from_secs(5),
        |h| shows(h, "Filter language") && shows(h, "genre-all:Drama,War"),
    );
}

#[test]
fn the_filter_copies_as_text_and_pasting_it_back_applies_it() {
    let (_db, mut harness) = app();
    harness.event(egui::Event::Paste("genre:War year:<=1950".into()));
    wait_for_filter(&mut harness, "genre:War year:<=1950");
    harness.get_by_label("Copy").click();
    let mut copied = None;
    step_until(&mut harness, "the copy", Duration::from_secs(5), |h| {
        copied = h
            .output()
            .platform_output
            .commands
            .iter()
            .find_map(|c| match c {
                egui::OutputCommand::CopyText(text) => Some(text.clone()),
                _ => None,
            });
        copied.is_some()
    });
    let copied = copied.expect("copied text");
    assert_eq!(copied, "genre:War year:<=1950");
    harness.key_press(egui::Key::Escape);
    wait_for_filter(&mut harness, "");
    harness.event(egui::Event::Paste(copied));
    wait_for_filter(&mut harness, "genre:War year:<=1950");
}
