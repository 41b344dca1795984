//! Checks that need a program the machine may lack (PgBouncer, Xvfb, …). On a developer's machine
//! a missing program skips the check loudly instead of failing the README's `cargo test`; under CI
//! (`CI` set) or with `MARQUEE_REQUIRE_ALL=1` it is a failure, so CI runs every check.
//!
//! libtest captures what a passing test prints, so the skip line is written to the real stderr,
//! and each test binary that skipped something lists its skips again when it exits, right under
//! its `test result:` line.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// Whether a missing program fails the test instead of skipping it.
pub fn strict() -> bool {
    let set = |name: &str| std::env::var_os(name).is_some_and(|v| !v.is_empty() && v != "0");
    set("CI") || set("MARQUEE_REQUIRE_ALL")
}

/// `program` found on `PATH`, or `None` after the check `check` was skipped (outside CI) —
/// under CI a missing program panics. `install` says how to get it.
///
/// ```ignore
/// let Some(pgbouncer) = common::require::program("pgbouncer", "the PgBouncer tests", "apt-get install pgbouncer") else { return };
/// ```
pub fn program(program: &str, check: &str, install: &str) -> Option<PathBuf> {
    if let Some(found) = on_path(program) {
        return Some(found);
    }
    skip(
        check,
        &format!("`{program}` is not on PATH (install it: {install}; .ci/run does)"),
    );
    None
}

/// The first executable `name` in the folders of `PATH`.
pub fn on_path(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|candidate| is_executable(candidate))
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// Skips `check` because of `reason`: a loud line now and in the binary's closing summary.
/// Under CI (or `MARQUEE_REQUIRE_ALL=1`) this panics instead.
pub fn skip(check: &str, reason: &str) {
    if strict() {
        panic!(
            "{check} cannot run: {reason}. CI (or MARQUEE_REQUIRE_ALL=1) requires every check; unset both to skip it locally"
        );
    }
    let line = format!("SKIPPED {check}: {reason}");
    // Straight to the process's stderr: `eprintln!` would be captured and hidden for a passing test.
    let _ = writeln!(std::io::stderr(), "\n*** {line} ***");
    let mut skipped = SKIPPED.lock().unwrap_or_else(|e| e.into_inner());
    if skipped.is_empty() {
        // SAFETY: registering a plain `extern "C"` function with no captured state.
        unsafe {
            libc::atexit(print_summary);
        }
    }
    skipped.push(line);
}

static SKIPPED: Mutex<Vec<String>> = Mutex::new(Vec::new());

/// Runs when the test binary exits, after libtest's `test result:` line.
extern "C" fn print_summary() {
    let skipped = SKIPPED.lock().unwrap_or_else(|e| e.into_inner());
    let mut err = std::io::stderr();
    let _ = writeln!(
        err,
        "\n*** {} check(s) in this test binary were SKIPPED (they passed only by not running; \
         CI or MARQUEE_REQUIRE_ALL=1 makes them fail):",
        skipped.len()
    );
    for line in skipped.iter() {
        let _ = writeln!(err, "***   {line}");
    }
}
