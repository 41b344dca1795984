//! Driving the real window headless: building `MarqueeApp` in an `egui_kittest` harness,
//! stepping it until something shows, and reading the movie table's rows back from the
//! accessibility tree (`row N: id | title | year | genres | avg | count`).

use std::time::{Duration, Instant};

use egui::accesskit::Role;
use egui_kittest::Harness;
use egui_kittest::kittest::{NodeT as _, Queryable};
use marquee::config::{PoolSettings, ServerChoice, Settings};
use marquee::ui::MarqueeApp;

/// The real app in a headless harness.
pub type App = Harness<'static, MarqueeApp>;

/// The app on `server`, in a window of `size` points. Widgets scrolled out of view have no
/// accessibility node, so tests that read long panels ask for a tall window.
pub fn app_with(server: ServerChoice, size: [f32; 2]) -> App {
    let settings = Settings {
        server,
        pool: PoolSettings::default(),
        source: Default::default(),
    };
    Harness::builder()
        .with_size(size)
        // The sample has Japanese, Chinese and Korean titles; CI machines rarely have a font
        // for them, and glyph coverage is not what these tests are about.
        .allow_missing_glyphs()
        .build_eframe(move |cc| MarqueeApp::new(cc, settings))
}

/// The app on the test database `db` in a window of `size` points, once its first rows are on
/// screen.
pub fn app_on(db: &super::TestDb, size: [f32; 2]) -> App {
    let mut harness = app_with(
        marquee::config::ServerChoice::External(db.params.clone()),
        size,
    );
    wait_for_rows(&mut harness);
    harness
}

/// Steps until the first rows of the current filter are on screen.
pub fn wait_for_rows(harness: &mut App) {
    step_until(harness, "the first rows", Duration::from_secs(60), |h| {
        loaded_rows(h).len() >= 10
    });
}

/// The applied filter, as text.
pub fn applied(harness: &App) -> String {
    harness.state().browse().filter().to_text()
}

/// Pastes filter text with no field focused (the window applies it) and waits until it applies.
pub fn apply_text(harness: &mut App, text: &str) {
    harness.event(egui::Event::Paste(text.into()));
    step_until(harness, "the pasted filter", Duration::from_secs(10), |h| {
        applied(h) == text
    });
}

/// Clicks the widget labelled `label` once it stands still: a status-bar button moves when the
/// bar's figures arrive and take a second line, and a click aimed at the frame before lands
/// beside it, as a person's would.
pub fn click_when_still(harness: &mut App, label: &str) {
    let mut at = harness.get_by_label(label).rect();
    step_until(
        harness,
        &format!("{label:?} to stand still"),
        Duration::from_secs(10),
        |h| {
            let now = h.get_by_label(label).rect();
            let still = now == at;
            at = now;
            still
        },
    );
    harness.get_by_label(label).click();
}

/// Steps frames until `done` holds, failing after `timeout` with `what`.
pub fn step_until(
    harness: &mut App,
    what: &str,
    timeout: Duration,
    mut done: impl FnMut(&App) -> bool,
) {
    let deadline = Instant::now() + timeout;
    loop {
        harness.step();
        if done(harness) {
            return;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Whether any node's label contains `text`.
pub fn shows(harness: &App, text: &str) -> bool {
    harness.query_all_by_label_contains(text).next().is_some()
}

/// Labels of the table rows on screen whose data for the current filter has arrived, in row
/// order.
pub fn loaded_rows(harness: &App) -> Vec<String> {
    rows_where(harness, |label| {
        !label.ends_with(": loading") && !label.contains(STALE)
    })
}

/// Labels of the previous filter's rows, still on screen until the new filter's first page.
pub fn stale_rows(harness: &App) -> Vec<String> {
    rows_where(harness, |label| label.contains(STALE))
}

/// How the table's accessibility labels mark the previous filter's rows.
const STALE: &str = ", previous filter:";

fn rows_where(harness: &App, keep: impl Fn(&str) -> bool) -> Vec<String> {
    let mut rows: Vec<(u64, String)> = harness
        .query_all_by_role(Role::Row)
        .filter_map(|node| node.accesskit_node().label())
        .filter(|label| keep(label))
        .filter_map(|label| {
            let number = label
                .strip_prefix("row ")?
                .split([':', ','])
                .next()?
                .parse()
                .ok()?;
            Some((number, label))
        })
        .collect();
    rows.sort_by_key(|(n, _)| *n);
    rows.into_iter().map(|(_, label)| label).collect()
}

/// Field `index` of a row label `row N: id | title | year | genres | avg | count`.
pub fn field(label: &str, index: usize) -> String {
    let body = label.split_once(": ").map_or(label, |(_, rest)| rest);
    body.split(" | ").nth(index).unwrap_or_default().to_owned()
}

/// The figures beside the genre chips (above the table), as printed (`4.4k`, or `≈4.4k` while
/// estimated), with where each is drawn.
pub fn facet_figures(harness: &App) -> Vec<(String, egui::Rect)> {
    let table_top = harness
        .get_by_role_and_label(Role::ColumnHeader, "id")
        .rect()
        .min
        .y;
    harness
        .query_all_by_role(Role::Label)
        .filter(|node| node.rect().max.y < table_top)
        .filter_map(|node| {
            let rect = node.rect();
            let node = node.accesskit_node();
            let text = node.value().or_else(|| node.label())?;
            Some((text.to_owned(), rect))
        })
        .filter(|(label, _)| {
            let digits = label.strip_prefix('≈').unwrap_or(label);
            let digits = digits.trim_end_matches(['k', 'M']);
            !digits.is_empty() && digits.chars().all(|c| c.is_ascii_digit() || c == '.')
        })
        .collect()
}
