//! The first ten minutes at the desk (issue #15), through the real `MarqueeApp` in a headless
//! `egui_kittest` harness against a real private cluster: what reaches the platform (clipboard,
//! links), best-first sorts, the detail pane's histogram and tag chips, plurals, cut-off text
//! with the whole of it on hover, and non-Latin titles drawn with a fallback font.

mod common;

use std::time::Duration;

use egui::accesskit::Role;
use egui::{OutputCommand, Pos2};
use egui_kittest::Harness;
use egui_kittest::kittest::{NodeT as _, Queryable};
use marquee::config::{PoolSettings, ServerChoice, Settings};
use marquee::ui::{FALLBACK_FONTS, MarqueeApp};

use common::ui::{App, field, loaded_rows, shows, step_until};

/// A title far wider than the title column.
const LONG_TITLE: &str = "The Remarkably Long and Winding Chronicle of a Projectionist Who Never \
                          Once Left the Booth, Extended Edition (2007)";

/// Titles in the scripts the issue names: Japanese, Chinese, Korean, Cyrillic, Greek.
const WORLD_TITLES: [&str; 5] = [
    "東京物語 (1953)",
    "英雄 (2002)",
    "살인의 추억 (2003)",
    "Брат (1997)",
    "Ο Θίασος (1975)",
];

/// A small collection whose every row is known: movie 1 has an IMDb id, two ratings and tags;
/// movie 2 one 0.5 rating, movie 3 one 5.0 rating, movie 4 none; then the long title and the
/// world titles (unrated).
fn small_collection() -> common::TestDb {
    let db = common::TestDb::migrated();
    let mut client = db.client();
    client
        .batch_execute(
            "INSERT INTO movies (id, title, year, genres, imdb_id, tmdb_id, rating_count, rating_avg) VALUES
               (1, 'Toy Story (1995)', 1995, '{Animation,Children}', 114709, 862, 2, 4.25),
               (2, 'One Bad Rating (2001)', 2001, '{Drama}', NULL, NULL, 1, 0.5),
               (3, 'One Good Rating (2002)', 2002, '{Drama}', NULL, NULL, 1, 5.0),
               (4, 'Nobody Saw It (2003)', 2003, '{Drama}', NULL, NULL, 0, NULL);
             INSERT INTO ratings (user_id, movie_id, rating, rated_at) VALUES
               (1, 1, 4.5, '2015-03-31'), (2, 1, 4.0, '2015-04-01'),
               (3, 2, 0.5, '2016-01-01'), (4, 3, 5.0, '2016-01-02');
             INSERT INTO tags (user_id, movie_id, tag, tagged_at) VALUES
               (1, 1, 'pixar', '2015-03-31'), (2, 1, 'pixar', '2015-04-01'),
               (2, 1, 'toys', '2015-04-01'), (3, 3, 'pixar', '2016-01-02');",
        )
        .expect("insert the small collection");
    for (id, title) in (10_i32..).zip(std::iter::once(LONG_TITLE).chain(WORLD_TITLES)) {
        client
            .execute(
                "INSERT INTO movies (id, title, year) VALUES ($1, $2, 2000)",
                &[&id, &title],
            )
            .expect("insert a titled movie");
    }
    client
        .batch_execute("ANALYZE movies")
        .expect("analyze movies");
    db
}

fn app_on(db: &common::TestDb) -> App {
    common::ui::app_with(ServerChoice::External(db.params.clone()), [1280.0, 800.0])
}

fn wait_for_rows(harness: &mut App, at_least: usize) {
    step_until(harness, "the first rows", Duration::from_secs(60), |h| {
        loaded_rows(h).len() >= at_least
    });
}

/// Selects the row whose title is `title` and waits for its details.
fn select_title(harness: &mut App, title: &str) {
    let row = loaded_rows(harness)
        .into_iter()
        .find(|r| field(r, 1) == title)
        .unwrap_or_else(|| panic!("no row titled {title}"));
    harness.get_by_label(&row).click();
    // The pane's heading is the title (the row's own label starts with "row N:").
    step_until(harness, "the detail pane", Duration::from_secs(30), |h| {
        h.query_by_role_and_label(Role::Label, "Top tags").is_some()
            && h.query_by_role_and_label(Role::Label, title).is_some()
    });
}

/// Steps frames until one of them asked the platform for `wanted`, failing after a deadline.
fn step_until_output(harness: &mut App, what: &str, wanted: impl Fn(&OutputCommand) -> bool) {
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    loop {
        harness.step();
        if harness
            .output()
            .platform_output
            .commands
            .iter()
            .any(&wanted)
        {
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Whether a text field currently holds exactly `value`.
fn has_text_field(harness: &App, value: &str) -> bool {
    harness
        .query_all_by_role(Role::TextInput)
        .any(|node| node.accesskit_node().value().as_deref() == Some(value))
}

#[test]
fn copy_puts_the_selected_rows_on_the_clipboard_and_a_link_asks_to_open_its_url() {
    let db = small_collection();
    let mut harness = app_on(&db);
    wait_for_rows(&mut harness, 4);
    select_title(&mut harness, "Toy Story (1995)");

    // Ctrl+C reaches egui as Event::Copy (egui-winit turns the key into it).
    harness.event(egui::Event::Copy);
    step_until_output(&mut harness, "the copied row", |c| {
        matches!(c, OutputCommand::CopyText(text)
            if text == "id\ttitle\tyear\tgenres\tavg rating\tratings\n\
                        1\tToy Story (1995)\t1995\tAnimation|Children\t4.25\t2\n")
    });

    harness.get_by_label("IMDb").click();
    step_until_output(&mut harness, "the IMDb page", |c| {
        matches!(c, OutputCommand::OpenUrl(open)
            if open.url == "https://www.imdb.com/title/tt0114709/")
    });

    // Ctrl+V into the filter field: the pasted text is what the field holds.
    harness.key_press(egui::Key::Slash);
    harness.step();
    harness.event(egui::Event::Paste("genre:Drama".into()));
    step_until(
        &mut harness,
        "the pasted filter",
        Duration::from_secs(10),
        |h| has_text_field(h, "genre:Drama"),
    );
}

#[test]
fn the_first_click_on_a_measure_sorts_best_first_and_unrated_movies_come_last() {
    let db = small_collection();
    let mut harness = app_on(&db);
    wait_for_rows(&mut harness, 4);

    harness
        .get_by_role_and_label(Role::ColumnHeader, "avg rating")
        .click();
    step_until(
        &mut harness,
        "rows sorted by average, best first",
        Duration::from_secs(30),
        |h| {
            h.query_by_role_and_label(Role::ColumnHeader, "avg rating ▼")
                .is_some()
                && loaded_rows(h)
                    .first()
                    .is_some_and(|r| field(r, 1) == "One Good Rating (2002)")
        },
    );
    let rows = loaded_rows(&harness);
    let averages: Vec<String> = rows.iter().map(|r| field(r, 4)).collect();
    // 5.0 (one rating), 4.25, 0.5 (one rating), then every unrated movie.
    assert_eq!(&averages[..4], ["5.00", "4.25", "0.50", ""], "{rows:#?}");
    assert!(averages[3..].iter().all(String::is_empty), "{rows:#?}");
    assert!(has_text_field(&harness, "sort:-rating"));

    harness
        .get_by_role_and_label(Role::ColumnHeader, "ratings")
        .click();
    step_until(
        &mut harness,
        "rows sorted by number of ratings, most first",
        Duration::from_secs(30),
        |h| {
            h.query_by_role_and_label(Role::ColumnHeader, "ratings ▼")
                .is_some()
                && loaded_rows(h)
                    .first()
                    .is_some_and(|r| field(r, 1) == "Toy Story (1995)")
        },
    );
    assert!(has_text_field(&harness, "sort:-votes"));
}

#[test]
fn the_detail_pane_counts_in_words_and_says_when_nobody_rated_a_movie() {
    let db = small_collection();
    let mut harness = app_on(&db);
    wait_for_rows(&mut harness, 4);

    select_title(&mut harness, "One Bad Rating (2001)");
    assert!(
        shows(&harness, "0.50 average from 1 rating"),
        "singular for one rating"
    );
    assert!(!shows(&harness, "1 ratings"));
    assert!(shows(&harness, "Rating histogram"));
    assert!(!shows(&harness, "no ratings yet"));

    select_title(&mut harness, "Toy Story (1995)");
    assert!(shows(&harness, "4.25 average from 2 ratings"));

    select_title(&mut harness, "Nobody Saw It (2003)");
    assert!(
        shows(&harness, "no ratings yet"),
        "an unrated movie says so instead of drawing an empty plot"
    );
}

#[test]
fn a_tag_chip_filters_the_table_by_that_tag() {
    let db = small_collection();
    let mut harness = app_on(&db);
    wait_for_rows(&mut harness, 4);
    select_title(&mut harness, "Toy Story (1995)");

    harness
        .get_by_role_and_label(Role::Button, "pixar (2)")
        .click();
    step_until(
        &mut harness,
        "the rows tagged pixar",
        Duration::from_secs(30),
        |h| {
            let titles: Vec<String> = loaded_rows(h).iter().map(|r| field(r, 1)).collect();
            titles == ["Toy Story (1995)", "One Good Rating (2002)"]
        },
    );
    assert!(has_text_field(&harness, "tag:pixar"));
}

#[test]
fn a_long_title_is_cut_with_an_ellipsis_and_shown_whole_on_hover() {
    let db = small_collection();
    let mut harness = app_on(&db);
    wait_for_rows(&mut harness, 10);
    let row = loaded_rows(&harness)
        .into_iter()
        .find(|r| field(r, 1) == LONG_TITLE)
        .expect("the long title's row");
    let short = loaded_rows(&harness)
        .into_iter()
        .find(|r| field(r, 1) == "Toy Story (1995)")
        .expect("a short title's row");
    // No tooltip for a title that fits.
    let short_rect = harness.get_by_label(&short).rect();
    harness.hover_at(Pos2::new(short_rect.left() + 120.0, short_rect.center().y));
    for _ in 0..90 {
        harness.step();
    }
    assert!(
        harness
            .query_by_role_and_label(Role::Label, "Toy Story (1995)")
            .is_none(),
        "a title that fits has no tooltip"
    );

    // The pointer rests on the title cell (after the id column) of the long one.
    let rect = harness.get_by_label(&row).rect();
    harness.hover_at(Pos2::new(rect.left() + 120.0, rect.center().y));
    step_until(
        &mut harness,
        "the whole title in a tooltip",
        Duration::from_secs(20),
        |h| h.query_by_role_and_label(Role::Label, LONG_TITLE).is_some(),
    );
}

#[test]
fn japanese_chinese_korean_cyrillic_and_greek_titles_render_with_a_fallback_font() {
    let cjk = FALLBACK_FONTS.iter().any(|path| {
        (path.contains("CJK") || path.contains("wqy") || path.contains("Droid"))
            && std::path::Path::new(path).exists()
    });
    if !cjk {
        common::require::skip(
            "CJK, Cyrillic and Greek titles",
            "no CJK fallback font on this machine (apt-get install fonts-wqy-microhei; .ci/run does)",
        );
        return;
    }
    let db = small_collection();
    let settings = Settings {
        server: ServerChoice::External(db.params.clone()),
        pool: PoolSettings::default(),
        source: Default::default(),
    };
    // Unlike the other tests, a missing glyph fails this one (kittest's default policy).
    let mut harness: Harness<'static, MarqueeApp> = Harness::builder()
        .with_size([1280.0, 800.0])
        .build_eframe(move |cc| MarqueeApp::new(cc, settings));
    step_until(
        &mut harness,
        "every world title on screen",
        Duration::from_secs(60),
        |h| {
            let titles: Vec<String> = loaded_rows(h).iter().map(|r| field(r, 1)).collect();
            WORLD_TITLES.iter().all(|t| titles.iter().any(|s| s == t))
        },
    );
    for _ in 0..5 {
        harness.step();
    }
}
