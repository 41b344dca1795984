//! The test harness itself: seeded templates are keyed by the code that seeds them, so a changed
//! loader, generator or migration never serves a stale template; and a check that needs a missing
//! program skips outside CI.

mod common;

use std::path::Path;

use marquee::import::sample::SampleSpec;

/// Copies the seeding code of this checkout under `root`.
fn copy_seeding_code(root: &Path) {
    let source = Path::new(env!("CARGO_MANIFEST_DIR"));
    for dir in ["src/import", "src/db/migrations"] {
        std::fs::create_dir_all(root.join(dir)).unwrap();
        for entry in std::fs::read_dir(source.join(dir)).unwrap() {
            let path = entry.unwrap().path();
            std::fs::copy(&path, root.join(dir).join(path.file_name().unwrap())).unwrap();
        }
    }
    std::fs::copy(
        source.join("src/db/schema.rs"),
        root.join("src/db/schema.rs"),
    )
    .unwrap();
}

#[test]
fn a_changed_loader_generator_or_migration_changes_the_template_key() {
    let root = common::scratch_dir("harness-seeding-code");
    copy_seeding_code(&root);
    let original = common::seeding_code_hash_in(&root);
    assert_eq!(
        original,
        common::seeding_code_hash(),
        "the copy hashes like the checkout"
    );
    for file in [
        "src/import/load.rs",
        "src/import/sample.rs",
        "src/db/migrations/0001_movies.sql",
        "src/db/schema.rs",
    ] {
        let path = root.join(file);
        let before = std::fs::read(&path).unwrap();
        let mut changed = before.clone();
        changed.extend_from_slice(b"\n// one more line\n");
        std::fs::write(&path, &changed).unwrap();
        assert_ne!(
            common::seeding_code_hash_in(&root),
            original,
            "editing {file} must change the key"
        );
        std::fs::write(&path, &before).unwrap();
    }
    // A new file counts too.
    std::fs::write(root.join("src/db/migrations/0999_new.sql"), "SELECT 1;").unwrap();
    assert_ne!(common::seeding_code_hash_in(&root), original);
    let _ = std::fs::remove_dir_all(&root);
}

#[test]
fn the_template_in_use_carries_the_current_code_key() {
    let spec = SampleSpec {
        movies: 300,
        ratings: 1_000,
        seed: 11,
    };
    let name = common::template(&spec);
    assert_eq!(name, common::template_name(&spec));
    assert!(
        name.contains(&format!("{:016x}", common::seeding_code_hash())),
        "{name}"
    );
    let db = common::TestDb::seeded(&spec);
    let movies: i64 = db
        .client()
        .query_one("SELECT count(*) FROM movies", &[])
        .unwrap()
        .get(0);
    assert_eq!(movies, 300);
}

/// Run only by the test below, in a child process, with the environment it chooses.
#[test]
#[ignore = "a probe that a_missing_program_skips_outside_ci_and_fails_under_ci runs"]
fn probe_a_check_needing_a_missing_program() {
    let Some(_) = common::require::program(
        "marquee-no-such-program-4f2a",
        "the probe check",
        "nothing to install",
    ) else {
        return;
    };
    panic!("the program cannot exist");
}

#[test]
fn a_missing_program_skips_outside_ci_and_fails_under_ci() {
    assert!(common::require::on_path("sh").is_some());
    let probe = |env: &[(&str, &str)]| {
        let mut command = std::process::Command::new(std::env::current_exe().unwrap());
        command
            .args([
                "--ignored",
                "--exact",
                "probe_a_check_needing_a_missing_program",
            ])
            .env_remove("CI")
            .env_remove("MARQUEE_REQUIRE_ALL");
        for (key, value) in env {
            command.env(key, value);
        }
        let out = command.output().unwrap();
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stderr).into_owned()
                + &String::from_utf8_lossy(&out.stdout),
        )
    };
    let (passed, output) = probe(&[]);
    assert!(passed, "outside CI the check skips: {output}");
    assert!(
        output.contains("SKIPPED the probe check")
            && output.contains("1 check(s) in this test binary were SKIPPED"),
        "the skip is loud, as it happens and in the summary: {output}"
    );
    let (passed, output) = probe(&[("CI", "true")]);
    assert!(!passed, "under CI a missing program fails: {output}");
    let (passed, _) = probe(&[("MARQUEE_REQUIRE_ALL", "1")]);
    assert!(!passed, "MARQUEE_REQUIRE_ALL=1 requires it too");
}
