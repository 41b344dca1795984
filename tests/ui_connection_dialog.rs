//! The connection settings dialog inside the real window: the real `MarqueeApp` driven headless
//! through `egui_kittest` against the test cluster. "Test connection" answers with the server
//! version or a clear failure, Apply moves the running app to another database (new pool, old
//! one closed, same session), and a typed password is neither drawn nor saved.

mod common;

use std::collections::HashMap;
use std::net::TcpListener;
use std::path::Path;
use std::time::{Duration, Instant};

use common::TestDb;
use egui::accesskit::Role;
use egui_kittest::Harness;
use egui_kittest::kittest::{By, NodeT as _, Queryable};
use marquee::config::DEFAULT_APPLICATION_NAME as APPLICATION_NAME;
use marquee::config::{ConnectParams, ServerChoice};
use marquee::connection::Connection;
use marquee::import::sample::SampleSpec;
use marquee::ui::MarqueeApp;

use common::ui::{shows, step_until};

/// Titles that exist only in the second database.
const DIALOG_TITLES: [&str; 3] = [
    "Dialog Test Movie (2020)",
    "Dialog Test Sequel (2021)",
    "Dialog Test Finale (2022)",
];

/// The small seeded collection the app starts on.
fn first_db() -> TestDb {
    TestDb::seeded(&SampleSpec {
        movies: 2_000,
        ratings: 20_000,
        seed: 5,
    })
}

/// A second database on the same server with nothing but [`DIALOG_TITLES`].
fn second_db() -> TestDb {
    let db = TestDb::migrated();
    db.client()
        .batch_execute(
            "INSERT INTO movies (id, title, year, genres) VALUES
                (1, 'Dialog Test Movie (2020)', 2020, '{Drama}'),
                (2, 'Dialog Test Sequel (2021)', 2021, '{Drama}'),
                (3, 'Dialog Test Finale (2022)', 2022, '{Comedy}')",
        )
        .expect("insert the dialog test movies");
    db
}

/// Titles of the table rows on screen that have arrived (`row N: id | title | …`).
fn loaded_titles(harness: &Harness<'static, MarqueeApp>) -> Vec<String> {
    harness
        .query_all_by_role(Role::Row)
        .filter_map(|node| node.accesskit_node().label())
        .filter(|label| label.starts_with("row ") && !label.ends_with(": loading"))
        .filter_map(|label| {
            let (_, body) = label.split_once(": ")?;
            Some(body.split(" | ").nth(1)?.to_owned())
        })
        .collect()
}

fn dialog_is_open(harness: &Harness<'static, MarqueeApp>) -> bool {
    harness.query_by_label("Connection settings").is_some()
}

/// Starts the app on the server `params` name and waits for its rows.
fn app_showing_rows(params: ConnectParams) -> Harness<'static, MarqueeApp> {
    let mut harness = common::ui::app_with(ServerChoice::External(params), [1280.0, 900.0]);
    step_until(
        &mut harness,
        "the first rows",
        Duration::from_secs(20),
        |h| loaded_titles(h).len() >= 10,
    );
    harness
}

/// Clicks "Connection…" and picks "PostgreSQL server" (already chosen for an external start).
fn open_dialog(harness: &mut Harness<'static, MarqueeApp>) {
    harness.get_by_label("Connection…").click();
    step_until(
        harness,
        "the connection dialog",
        Duration::from_secs(5),
        dialog_is_open,
    );
    harness
        .get_by_role_and_label(Role::RadioButton, "PostgreSQL server")
        .click();
    step_until(harness, "the server form", Duration::from_secs(5), |h| {
        h.query_by_role_and_label(Role::TextInput, "Host").is_some()
    });
}

/// Replaces the text of the field named `label` (role `role`), as a screen reader would.
fn set_text(harness: &mut Harness<'static, MarqueeApp>, role: Role, label: &str, text: &str) {
    harness
        .get_by_role_and_label(role, label)
        .set_text_value_accesskit(text);
    harness.step();
}

/// Sets the number field named `label`.
fn set_number(harness: &mut Harness<'static, MarqueeApp>, label: &str, value: u32) {
    harness
        .get_by_role_and_label(Role::SpinButton, label)
        .set_value_accesskit(f64::from(value));
    harness.step();
    let shown = harness
        .get_by_role_and_label(Role::SpinButton, label)
        .value();
    assert_eq!(
        shown.as_deref(),
        Some(value.to_string().as_str()),
        "{label}"
    );
}

/// Fills host, port, database and user with `db`'s.
fn fill_server(harness: &mut Harness<'static, MarqueeApp>, db: &TestDb) {
    set_text(harness, Role::TextInput, "Host", &db.params.host);
    set_number(harness, "Port", u32::from(db.params.port));
    set_text(harness, Role::TextInput, "Database", &db.params.dbname);
    set_text(harness, Role::TextInput, "User", &db.params.user);
}

/// Waits until the app is connected to `db` and shows exactly [`DIALOG_TITLES`].
fn wait_for_second_db(harness: &mut Harness<'static, MarqueeApp>, db: &TestDb) {
    let target = db.params.display_target();
    step_until(
        harness,
        "the second database's rows",
        Duration::from_secs(20),
        |h| {
            let mut titles = loaded_titles(h);
            titles.sort();
            let mut expected = DIALOG_TITLES.map(str::to_owned).to_vec();
            expected.sort();
            titles == expected && h.query_by_label("Connected").is_some() && shows(h, &target)
        },
    );
}

/// Backends of the app's pools in database `name`.
fn app_backends_in(db: &TestDb, name: &str) -> i64 {
    db.client()
        .query_one(
            "SELECT count(*) FROM pg_stat_activity WHERE application_name = $1 AND datname = $2",
            &[&APPLICATION_NAME, &name],
        )
        .expect("count backends")
        .get(0)
}

/// A port on the test server's socket folder where nothing listens.
fn unused_port(db: &TestDb) -> u16 {
    (db.params.port.saturating_add(1)..=u16::MAX)
        .find(|port| {
            !Path::new(&db.params.host)
                .join(format!(".s.PGSQL.{port}"))
                .exists()
        })
        .expect("a free port")
}

#[test]
fn test_connection_reports_the_version_or_a_clear_failure_and_apply_switches_databases_in_place() {
    let first = first_db();
    let second = second_db();
    let server_version: String = second
        .client()
        .query_one("SHOW server_version", &[])
        .expect("server version")
        .get(0);
    let mut harness = app_showing_rows(first.params.clone());
    assert!(shows(&harness, &first.params.display_target()));
    // Session state that must survive Apply: a recreated app would start dark again.
    harness.get_by_label("Light theme").click();
    step_until(
        &mut harness,
        "the light theme",
        Duration::from_secs(5),
        |h| h.query_by_label("Dark theme").is_some(),
    );

    open_dialog(&mut harness);
    fill_server(&mut harness, &second);

    // A port where nothing listens: a sentence naming the address, not a protocol dump.
    let wrong_port = unused_port(&second);
    set_number(&mut harness, "Port", u32::from(wrong_port));
    harness.get_by_label("Test connection").click();
    step_until(
        &mut harness,
        "the failed test",
        Duration::from_secs(20),
        |h| shows(h, "cannot reach the server"),
    );
    let failure = harness
        .query_all_by_label_contains("cannot reach the server")
        .filter_map(|node| node.accesskit_node().value())
        .next()
        .unwrap_or_default();
    assert!(
        failure.contains(&format!(":{wrong_port}/{}", second.name)),
        "{failure}"
    );
    assert!(failure.contains("is it running"), "{failure}");
    assert!(!shows(&harness, "Connected to PostgreSQL"));

    // The right port: the answer names the server's version, and the failure is gone.
    set_number(&mut harness, "Port", u32::from(second.params.port));
    harness.get_by_label("Test connection").click();
    step_until(
        &mut harness,
        "the successful test",
        Duration::from_secs(20),
        |h| shows(h, "Connected to PostgreSQL"),
    );
    assert!(
        shows(
            &harness,
            &format!("Connected to PostgreSQL {server_version} in ")
        ),
        "expected version {server_version}"
    );
    assert!(!shows(&harness, "cannot reach the server"));
    // Testing only tested: the app still browses the first database.
    assert!(shows(&harness, &first.params.display_target()));

    set_number(&mut harness, "Pool min", 1);
    set_number(&mut harness, "max", 3);
    harness.get_by_label("Apply").click();
    step_until(
        &mut harness,
        "the dialog to close",
        Duration::from_secs(5),
        |h| !dialog_is_open(h),
    );
    wait_for_second_db(&mut harness, &second);

    let app = harness.state();
    let Connection::Ready { backend, .. } = app.connection() else {
        panic!("not connected after Apply");
    };
    assert_eq!(backend.server.params.dbname, second.name);
    assert_eq!(
        backend.server_version.as_deref(),
        Some(server_version.as_str())
    );
    let pool = backend.pool.settings();
    assert_eq!((pool.min_idle, pool.max_size), (1, 3));
    assert!(
        harness.query_by_label("Dark theme").is_some(),
        "the session was restarted"
    );
    // The first pool is closed in the background, not left holding connections.
    let deadline = Instant::now() + Duration::from_secs(20);
    while app_backends_in(&second, &first.name) > 0 {
        assert!(
            Instant::now() < deadline,
            "the old pool still holds connections to {}",
            first.name
        );
        harness.step();
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(app_backends_in(&second, &second.name) >= 1);
}

/// Saved key/values, as eframe would write them.
#[derive(Default)]
struct MemoryStorage(HashMap<String, String>);

impl eframe::Storage for MemoryStorage {
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

/// Every label and value in the accessibility tree that contains `text`.
fn rendered_with(harness: &Harness<'static, MarqueeApp>, text: &str) -> Vec<String> {
    harness
        .query_all(By::new())
        .flat_map(|node| {
            let node = node.accesskit_node();
            [node.label(), node.value()]
        })
        .flatten()
        .filter(|s| s.contains(text))
        .collect()
}

#[test]
fn a_typed_password_is_never_rendered_and_never_saved() {
    const PASSWORD: &str = "pw-Dialog-7c1e9f";
    let first = first_db();
    let second = second_db();
    let mut harness = app_showing_rows(first.params.clone());

    open_dialog(&mut harness);
    fill_server(&mut harness, &second);
    set_text(&mut harness, Role::PasswordInput, "Password", PASSWORD);
    // Even while typed, the field shows only a mask.
    let masked = harness
        .get_by_role_and_label(Role::PasswordInput, "Password")
        .value()
        .unwrap_or_default();
    assert_eq!(masked.chars().count(), PASSWORD.chars().count());
    assert!(rendered_with(&harness, PASSWORD).is_empty());

    // The test cluster's socket trusts local users, so the server never asks for it.
    harness.get_by_label("Apply").click();
    wait_for_second_db(&mut harness, &second);
    // Everything the status bar can show about this connection is there before looking.
    step_until(
        &mut harness,
        "the pool figures",
        Duration::from_secs(20),
        |h| shows(h, " in use · ") && shows(h, "last query"),
    );
    let Connection::Ready { backend, .. } = harness.state().connection() else {
        panic!("not connected after Apply");
    };
    // It was used for this session…
    assert_eq!(
        backend.server.params.password.as_ref().map(|p| p.expose()),
        Some(PASSWORD)
    );
    // …but shows nowhere: not in the status bar or the table, nor when the dialog
    // opens again (its field masks it).
    assert_eq!(rendered_with(&harness, PASSWORD), Vec::<String>::new());
    // (The scan does see what is drawn.)
    assert!(!rendered_with(&harness, DIALOG_TITLES[0]).is_empty());
    open_dialog(&mut harness);
    assert_eq!(rendered_with(&harness, PASSWORD), Vec::<String>::new());
    let masked_again = harness
        .get_by_role_and_label(Role::PasswordInput, "Password")
        .value()
        .unwrap_or_default();
    assert_eq!(masked_again, masked);
    harness.get_by_label("Cancel").click();
    step_until(
        &mut harness,
        "the dialog to close",
        Duration::from_secs(5),
        |h| !dialog_is_open(h),
    );

    // What eframe persists names the chosen server but not its password.
    let mut storage = MemoryStorage::default();
    eframe::App::save(harness.state_mut(), &mut storage);
    let saved = storage.0.get(eframe::APP_KEY).expect("the app's state");
    assert!(saved.contains(&second.name), "{saved}");
    assert!(!saved.contains(PASSWORD), "{saved}");
    assert!(
        storage.0.values().all(|value| !value.contains(PASSWORD)),
        "{:?}",
        storage.0
    );
}

fn test_button_enabled(harness: &Harness<'static, MarqueeApp>) -> bool {
    !harness
        .get_by_label("Test connection")
        .accesskit_node()
        .is_disabled()
}

#[test]
fn a_server_that_never_answers_fails_the_test_instead_of_spinning_forever() {
    let first = first_db();
    // Accepts TCP (the kernel completes the handshake) but never says a word.
    let silent = TcpListener::bind("127.0.0.1:0").expect("listen");
    let silent_port = silent.local_addr().expect("address").port();
    // A short connect timeout keeps the test short; the dialog inherits it.
    let mut params = first.params.clone();
    params.connect_timeout_secs = 1;
    let mut harness = app_showing_rows(params);

    open_dialog(&mut harness);
    set_text(&mut harness, Role::TextInput, "Host", "127.0.0.1");
    set_number(&mut harness, "Port", u32::from(silent_port));
    harness.get_by_label("Test connection").click();
    step_until(
        &mut harness,
        "the test to start",
        Duration::from_secs(5),
        |h| !test_button_enabled(h),
    );
    // Cancel and open again: a fresh form, free to test again at once.
    harness.get_by_label("Cancel").click();
    step_until(
        &mut harness,
        "the dialog to close",
        Duration::from_secs(5),
        |h| !dialog_is_open(h),
    );
    open_dialog(&mut harness);
    assert!(test_button_enabled(&harness), "a test still runs");

    set_text(&mut harness, Role::TextInput, "Host", "127.0.0.1");
    set_number(&mut harness, "Port", u32::from(silent_port));
    harness.get_by_label("Test connection").click();
    step_until(
        &mut harness,
        "the test to give up",
        Duration::from_secs(60),
        |h| shows(h, "does not answer"),
    );
    assert!(shows(&harness, &format!("127.0.0.1:{silent_port}/")));
    assert!(test_button_enabled(&harness));
    drop(silent);
}

#[test]
fn the_dialog_sits_centered_and_esc_closes_it_without_touching_the_filter() {
    let first = first_db();
    let mut harness = app_showing_rows(first.params.clone());
    // Filter text pasted with nothing focused applies; Esc must not clear it behind the dialog.
    harness.event(egui::Event::Paste("genre:Drama".into()));
    step_until(
        &mut harness,
        "the pasted filter",
        Duration::from_secs(5),
        |h| h.state().state().filter == "genre:Drama",
    );
    let filter_before = harness.state().state().filter;

    open_dialog(&mut harness);
    let title = harness.get_by_label("Connection settings").rect();
    assert!(
        (title.center().x - 640.0).abs() < 40.0,
        "the dialog is centered over the 1280-point window: {title:?}"
    );

    harness.key_press(egui::Key::Escape);
    step_until(
        &mut harness,
        "Esc to close the dialog",
        Duration::from_secs(5),
        |h| !dialog_is_open(h),
    );
    assert_eq!(
        harness.state().state().filter,
        filter_before,
        "the Esc that closed the dialog is not also the one that clears the filter"
    );
    assert!(loaded_titles(&harness).len() >= 10);
}

#[test]
fn the_dialog_says_where_each_setting_came_from() {
    use marquee::config::{ConfigLayer, Settings};
    let db = first_db();
    let dir = common::scratch_dir("dialog-provenance");
    let services = dir.join("pg_service.conf");
    std::fs::write(
        &services,
        format!(
            "[movies]\ndbname={}\nuser={}\n",
            db.params.dbname, db.params.user
        ),
    )
    .unwrap();
    // The private socket trusts its role; the password is read (and shown as from the file),
    // never needed.
    let pgpass = dir.join("pgpass");
    std::fs::write(&pgpass, "*:*:*:*:unused-secret\n").unwrap();
    {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(&pgpass, std::fs::Permissions::from_mode(0o600)).unwrap();
    }
    let port = db.params.port.to_string();
    let vars = [
        ("PGHOST", db.params.host.clone()),
        ("PGPORT", port),
        ("PGSERVICE", "movies".to_owned()),
        ("PGSERVICEFILE", services.display().to_string()),
        ("PGPASSFILE", pgpass.display().to_string()),
        // The same server as its own "replica": the dialog only shows the setting.
        (
            "MARQUEE_REPLICAS",
            format!("{}:{}", db.params.host, db.params.port),
        ),
    ];
    let env =
        ConfigLayer::from_env(|key| vars.iter().find(|(k, _)| *k == key).map(|(_, v)| v.clone()));
    let file = ConfigLayer {
        pool_max: Some("4".into()),
        ..ConfigLayer::default()
    };
    let (settings, provenance) = Settings::resolve_explained(
        &ConfigLayer::default(),
        &env,
        &file,
        Path::new("/nonexistent"),
    )
    .unwrap();
    let mut harness = Harness::builder()
        .with_size([1280.0, 900.0])
        .allow_missing_glyphs()
        .build_eframe(move |cc| {
            let mut app = MarqueeApp::new(cc, settings);
            app.set_provenance(provenance);
            app
        });
    step_until(
        &mut harness,
        "the first rows",
        Duration::from_secs(20),
        |h| loaded_titles(h).len() >= 10,
    );
    open_dialog(&mut harness);
    for origin in [
        "from PGHOST",
        "from PGPORT",
        "from service movies (pg_service.conf)",
        &format!("from the password file {}", pgpass.display()),
        "from MARQUEE_REPLICAS",
    ] {
        assert!(shows(&harness, origin), "the dialog shows {origin:?}");
    }
    let replicas = harness
        .get_by_role_and_label(Role::TextInput, "Read replicas")
        .value();
    assert_eq!(
        replicas.as_deref(),
        Some(format!("{}:{}", db.params.host, db.params.port).as_str())
    );
    // A replica setting that does not read says why, and Apply waits for a good one.
    let apply_enabled = |h: &Harness<'static, MarqueeApp>| {
        !h.get_by_role_and_label(Role::Button, "Apply")
            .accesskit_node()
            .is_disabled()
    };
    set_text(&mut harness, Role::TextInput, "Read replicas", "r1:0");
    step_until(
        &mut harness,
        "the replicas problem",
        Duration::from_secs(5),
        |h| shows(h, "Read replicas: \"0\" in \"r1:0\" is not a port number") && !apply_enabled(h),
    );
    set_text(&mut harness, Role::TextInput, "Read replicas", "");
    step_until(&mut harness, "Apply again", Duration::from_secs(5), |h| {
        apply_enabled(h) && !shows(h, "is not a port number")
    });
    assert!(!shows(&harness, "unused-secret"), "no password on screen");
    // The SSL mode was not set anywhere.
    assert_eq!(harness.query_all_by_label("default").count(), 1);
    // An edit says so at once.
    set_text(&mut harness, Role::TextInput, "Database", "elsewhere");
    step_until(
        &mut harness,
        "the edit's origin",
        Duration::from_secs(5),
        |h| shows(h, "set here"),
    );
    assert_eq!(
        harness
            .query_all_by_label("from service movies (pg_service.conf)")
            .count(),
        1,
        "the user still comes from the service; the database is set here"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
