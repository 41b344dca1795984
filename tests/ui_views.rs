//! Saved views through the real window: save the current filter under a name, start the app
//! again, open the view from the Views menu and get the same filter and columns back.

mod common;

use std::time::Duration;

use egui::accesskit::Role;
use egui_kittest::kittest::Queryable as _;
use marquee::config::ServerChoice;
use marquee::views::ViewStore;

use common::ui::{App, applied, step_until};

fn app(db: &common::TestDb, store: &ViewStore) -> App {
    let mut harness =
        common::ui::app_with(ServerChoice::External(db.params.clone()), [1280.0, 800.0]);
    harness.state_mut().set_view_store(store.clone());
    common::ui::wait_for_rows(&mut harness);
    harness
}

#[test]
fn a_saved_view_survives_a_restart_and_opens_with_its_filter() {
    let db = common::TestDb::default_sample();
    let dir = common::scratch_dir("ui-views");
    let store = ViewStore::new(dir.join("views.toml"));

    let mut first = app(&db, &store);
    first.event(egui::Event::Paste("genre:Film-Noir sort:-year".into()));
    step_until(&mut first, "the filter", Duration::from_secs(10), |h| {
        applied(h) == "genre:Film-Noir sort:-year"
    });
    first.get_by_role_and_label(Role::Button, "Views").click();
    step_until(&mut first, "the views menu", Duration::from_secs(5), |h| {
        h.query_by_label("No saved views yet.").is_some()
    });
    let name = first.get_by_role_and_label(Role::TextInput, "Save current as");
    name.focus();
    name.type_text("Noir, newest first");
    first.step();
    first.get_by_role_and_label(Role::Button, "Save").click();
    step_until(&mut first, "the saved view", Duration::from_secs(5), |h| {
        h.state()
            .views()
            .iter()
            .any(|v| v.name == "Noir, newest first")
    });
    drop(first);
    let text = std::fs::read_to_string(store.path()).expect("views.toml");
    assert!(
        text.contains("filter = \"genre:Film-Noir sort:-year\""),
        "{text}"
    );

    // A new window on the same views file, another filter on screen.
    let mut second = app(&db, &store);
    assert_eq!(applied(&second), "");
    second.get_by_role_and_label(Role::Button, "Views").click();
    step_until(&mut second, "the views menu", Duration::from_secs(5), |h| {
        h.query_by_label("Noir, newest first").is_some()
    });
    second.get_by_label("Noir, newest first").click();
    step_until(
        &mut second,
        "the view's filter",
        Duration::from_secs(10),
        |h| applied(h) == "genre:Film-Noir sort:-year",
    );
    // Back returns to where the user was before opening it.
    second.key_press_modifiers(egui::Modifiers::ALT, egui::Key::ArrowLeft);
    step_until(&mut second, "Back", Duration::from_secs(10), |h| {
        applied(h).is_empty()
    });
}
