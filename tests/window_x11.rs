//! The real binary in a real X11 session (Xvfb): select a row, Ctrl+C, read the system clipboard
//! with `xclip`; put a word of that title on the clipboard, Ctrl+V into the search field, and
//! see the table follow it. This is what the kittest tests cannot show: that eframe is built with its
//! clipboard support and the keys reach it.
//!
//! Needs `Xvfb`, `xdotool` and `xclip` (`apt-get install xvfb xdotool xclip`). Without them the
//! test says so loudly and passes, unless `CI` (or `MARQUEE_REQUIRE_ALL`) is set: then it fails.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Kills a started process (by its own id) when the test ends, however it ends.
struct Started(Child);

impl Drop for Started {
    fn drop(&mut self) {
        // SIGTERM first: Xvfb removes its /tmp/.X<n>-lock only when it is asked to stop.
        let pid = self.0.id() as libc::pid_t;
        // SAFETY: signals our own child, whose pid is still reserved until we wait for it.
        unsafe { libc::kill(pid, libc::SIGTERM) };
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.0.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn have(tool: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {tool}")])
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Polls `check` every 250 ms until it gives a value, failing with `what` after `timeout`.
fn wait_for<T>(what: &str, timeout: Duration, mut check: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(value) = check() {
            return value;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(250));
    }
}

/// Runs an X client on `display` and returns its stdout, or `None` when it failed.
fn x_tool(display: &str, program: &str, args: &[&str]) -> Option<String> {
    let out = Command::new("timeout")
        .arg("10")
        .arg(program)
        .args(args)
        .env("DISPLAY", display)
        .stderr(Stdio::null())
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Gives the window the keyboard focus (there is no window manager to do it; a window that
/// was not mapped yet refuses it, so every attempt asks again).
fn focus(display: &str, window: &str) {
    x_tool(display, "xdotool", &["windowfocus", "--sync", window]);
}

/// Clicks a row of the table and presses Ctrl+C. The key waits a moment after the click: in
/// one frame the table reads keys before the click selects the row.
fn click_row_and_copy(display: &str, window: &str, y: &str) {
    focus(display, window);
    x_tool(
        display,
        "xdotool",
        &["mousemove", "--window", window, "300", y, "click", "1"],
    );
    std::thread::sleep(Duration::from_millis(300));
    x_tool(display, "xdotool", &["key", "ctrl+c"]);
    std::thread::sleep(Duration::from_millis(500));
}

fn clipboard(display: &str) -> String {
    x_tool(display, "xclip", &["-o", "-selection", "clipboard"]).unwrap_or_default()
}

fn start_xvfb(dir: &Path) -> (Started, String) {
    // A display number nobody uses: the lock file of :N is /tmp/.XN-lock.
    let number = (100 + std::process::id() % 400..600)
        .find(|n| !Path::new(&format!("/tmp/.X{n}-lock")).exists())
        .expect("a free X display number");
    let display = format!(":{number}");
    let log = std::fs::File::create(dir.join("xvfb.log")).expect("xvfb log");
    // -noreset: by default the server resets when its last client leaves. The readiness probe
    // below is such a client, and the app starts right after it; once, in a CI rehearsal under
    // load, the app then failed with "Failed to open connection to X server" while the server
    // had answered the probe. A reset in between is the likely cause; without resets there is
    // no such window.
    let child = Command::new("Xvfb")
        .args([
            &display,
            "-screen",
            "0",
            "1600x1000x24",
            "-nolisten",
            "tcp",
            "-noreset",
        ])
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .expect("start Xvfb");
    let xvfb = Started(child);
    wait_for("Xvfb to accept clients", Duration::from_secs(20), || {
        x_tool(&display, "xdotool", &["getmouselocation"]).map(|_| ())
    });
    (xvfb, display)
}

#[test]
fn ctrl_c_copies_the_selected_row_and_ctrl_v_pastes_a_search_in_a_real_x11_window() {
    let missing: Vec<&str> = ["Xvfb", "xdotool", "xclip"]
        .into_iter()
        .filter(|t| !have(t))
        .collect();
    if !missing.is_empty() {
        common::require::skip(
            "the clipboard in a real X11 window",
            &format!(
                "cannot start an X display here, missing {missing:?} (apt-get install xvfb xdotool xclip; .ci/run does)"
            ),
        );
        return;
    }

    // The CLI tests' small sample: enough rows to fill the table.
    let db = common::TestDb::seeded(&marquee::import::sample::SampleSpec {
        movies: 2_000,
        ratings: 40_000,
        seed: 7,
    });
    let dir: PathBuf = common::scratch_dir("window-x11");
    let (_xvfb, display) = start_xvfb(&dir);

    // The binary on its own config and data folders, pointed at this test's database.
    let app_log = dir.join("app.log");
    let app = Command::new(env!("CARGO_BIN_EXE_marquee"))
        .env("DISPLAY", &display)
        .env("LIBGL_ALWAYS_SOFTWARE", "1")
        .env_remove("WAYLAND_DISPLAY")
        .env_remove("DATABASE_URL")
        .env("XDG_CONFIG_HOME", dir.join("config"))
        .env("XDG_DATA_HOME", dir.join("share"))
        .env("XDG_RUNTIME_DIR", &dir)
        .env("MARQUEE_DATA_DIR", dir.join("data"))
        .env("PGHOST", &db.params.host)
        .env("PGPORT", db.params.port.to_string())
        .env("PGDATABASE", &db.params.dbname)
        .env("PGUSER", &db.params.user)
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&app_log).expect("app log"))
        .spawn()
        .expect("start marquee");
    let mut app = Started(app);

    let window = wait_for("the Marquee window", Duration::from_secs(60), || {
        if let Ok(Some(status)) = app.0.try_wait() {
            panic!(
                "marquee exited ({status}): {}",
                std::fs::read_to_string(&app_log).unwrap_or_default()
            );
        }
        x_tool(&display, "xdotool", &["search", "--name", "^Marquee$"])
            .and_then(|out| out.lines().next().map(str::to_owned))
    });
    // The window manager groups windows by WM_CLASS: it is the app id.
    let class = x_tool(&display, "xprop", &["-id", &window, "WM_CLASS"]);
    if let Some(class) = class {
        assert!(class.contains("\"marquee\""), "WM_CLASS: {class}");
    }

    // Click a row and press Ctrl+C until the clipboard holds a row (the first page may still
    // be on its way when the first click lands).
    let copied = wait_for(
        "a row on the clipboard after Ctrl+C",
        Duration::from_secs(90),
        || {
            click_row_and_copy(&display, &window, "310");
            // A header line, then the row.
            let text = clipboard(&display);
            let row = text.lines().nth(1).unwrap_or_default().to_owned();
            (text.starts_with("id\t") && row.split('\t').count() == 6).then_some(row)
        },
    );
    let fields: Vec<&str> = copied.trim_end().split('\t').collect();
    let id: i32 = fields[0].parse().expect("the row starts with its id");
    let title: String = db
        .client()
        .query_one("SELECT title FROM movies WHERE id = $1", &[&id])
        .expect("the copied movie")
        .get(0);
    assert_eq!(fields[1], title, "{copied:?}");

    // Put a word of that title on the clipboard (xclip serves it until another owner takes
    // over) and paste it into the search field: `/` focuses it, Ctrl+A selects its text. Keys
    // pause between steps: the field takes keys only from the frame after `/` focused it.
    let word: String = title
        .split(|c: char| !c.is_alphabetic())
        .find(|w| w.chars().count() >= 4)
        .unwrap_or("the")
        .to_owned();
    let mut xclip = Command::new("xclip")
        .args(["-selection", "clipboard", "-i"])
        .env("DISPLAY", &display)
        .stdin(Stdio::piped())
        .spawn()
        .expect("start xclip");
    {
        use std::io::Write as _;
        let mut stdin = xclip.stdin.take().expect("xclip stdin");
        stdin
            .write_all(word.as_bytes())
            .expect("write the clipboard");
    }
    let _ = xclip.wait();
    wait_for(
        "the filter on the clipboard",
        Duration::from_secs(10),
        || (clipboard(&display) == word).then_some(()),
    );
    focus(&display, &window);
    for keys in [&["slash"][..], &["ctrl+a", "ctrl+v"], &["Return"]] {
        let mut args = vec!["key"];
        args.extend_from_slice(keys);
        x_tool(&display, "xdotool", &args);
        std::thread::sleep(Duration::from_millis(300));
    }

    // The table follows the pasted search: its first row's title holds the word.
    wait_for(
        "a row matching the pasted search on the clipboard",
        Duration::from_secs(90),
        || {
            click_row_and_copy(&display, &window, "169");
            let text = clipboard(&display);
            let row = text.lines().nth(1).unwrap_or_default();
            let title = row.split('\t').nth(1).unwrap_or_default();
            title
                .to_lowercase()
                .contains(&word.to_lowercase())
                .then_some(())
        },
    );
    drop(app);
    let _ = std::fs::remove_dir_all(&dir);
}
