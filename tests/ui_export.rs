//! Export from the window: exactly what the filter selects lands in the chosen file, in the
//! table's order, and a cancelled export leaves no file behind (the server's query is cancelled).

mod common;

use std::path::Path;
use std::time::Duration;

use egui::accesskit::Role;
use egui_kittest::kittest::Queryable as _;

use common::ui::{App, shows, step_until};

fn app(db: &common::TestDb) -> App {
    common::ui::app_on(db, [1280.0, 800.0])
}

fn export_to(harness: &mut App, file: &Path) {
    harness.get_by_label("Export…").click();
    step_until(harness, "the export dialog", Duration::from_secs(5), |h| {
        h.query_by_label("Export to CSV").is_some()
    });
    let field = harness.get_by_role_and_label(Role::TextInput, "Save to");
    field.focus();
    field.set_text_value_accesskit(&file.display().to_string());
    harness.step();
    harness
        .get_by_role_and_label(Role::Button, "Export")
        .click();
}

#[test]
fn the_window_exports_exactly_the_filtered_movies_in_table_order() {
    let db = common::TestDb::default_sample();
    let mut harness = app(&db);
    harness.event(egui::Event::Paste(
        "genre:Film-Noir sort:-year,title".into(),
    ));
    step_until(&mut harness, "the filter", Duration::from_secs(10), |h| {
        h.state().browse().filter().to_text() == "genre:Film-Noir sort:-year,title"
    });
    let dir = common::scratch_dir("ui-export");
    let file = dir.join("noir.csv");
    export_to(&mut harness, &file);
    step_until(&mut harness, "the export", Duration::from_secs(60), |h| {
        shows(h, "Exported ")
    });

    // The same selection, written independently in SQL.
    let expected: Vec<i32> = db
        .client()
        .query(
            "SELECT id FROM movies WHERE 'Film-Noir' = ANY (genres)
              ORDER BY year DESC NULLS LAST, title, id",
            &[],
        )
        .expect("query")
        .iter()
        .map(|r| r.get(0))
        .collect();
    let mut reader = csv::Reader::from_path(&file).expect("the file");
    let ids: Vec<i32> = reader
        .records()
        .map(|r| r.expect("a record")[0].parse().expect("an id"))
        .collect();
    assert!(!expected.is_empty());
    assert_eq!(ids, expected);
    assert!(shows(
        &harness,
        &format!(
            "Exported {} movies",
            marquee::plural::thousands(ids.len() as u64)
        )
    ));
    assert!(!marquee::export::partial_path(&file).exists());
}

#[test]
fn a_cancelled_export_writes_nothing_and_stops_the_server_query() {
    let db = common::TestDb::default_sample();
    let mut harness = app(&db);
    // Hold the table so the export's COPY waits on the server until it is cancelled.
    let mut blocker = db.client();
    let mut lock = blocker.transaction().expect("begin");
    lock.batch_execute("LOCK TABLE movies IN ACCESS EXCLUSIVE MODE")
        .expect("lock");
    let dir = common::scratch_dir("ui-export-cancel");
    let file = dir.join("all.csv");
    export_to(&mut harness, &file);
    let mut watcher = db.client();
    let copy_waits = |watcher: &mut postgres::Client| -> bool {
        watcher
            .query_one(
                "SELECT count(*) FROM pg_stat_activity
                  WHERE datname = current_database() AND query LIKE 'COPY%'
                    AND wait_event_type = 'Lock'",
                &[],
            )
            .map(|r| r.get::<_, i64>(0) > 0)
            .unwrap_or(false)
    };
    step_until(
        &mut harness,
        "the export to wait on the lock",
        Duration::from_secs(30),
        |_| copy_waits(&mut watcher),
    );
    assert!(shows(&harness, "Cancel export"));
    harness.get_by_label("Cancel export").click();
    step_until(&mut harness, "the cancel", Duration::from_secs(10), |h| {
        shows(h, "Cancelled; nothing was written.")
    });
    step_until(
        &mut harness,
        "the server query to end",
        Duration::from_secs(20),
        |_| !copy_waits(&mut watcher),
    );
    lock.rollback().expect("release the lock");
    step_until(
        &mut harness,
        "the partial file to go",
        Duration::from_secs(20),
        |_| !marquee::export::partial_path(&file).exists(),
    );
    assert!(!file.exists(), "a cancelled export left {}", file.display());
}
