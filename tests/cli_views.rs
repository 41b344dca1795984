//! Saved views from the command line: `marquee views list|show|delete` read the file the window
//! writes, and `--view NAME` on `movies`, `export` and `summarize` gives exactly what `--filter`
//! with the view's text (and its summary settings) gives.

mod common;

use std::process::Output;

use marquee::import::sample::SampleSpec;
use marquee::views::{SavedView, ViewStore};

fn marquee(config: &std::path::Path, args: &[&str]) -> Output {
    common::marquee_cli()
        .arg("--config")
        .arg(config)
        .args(args)
        .output()
        .expect("run marquee")
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn views_list_show_delete_and_view_on_movies_and_export() {
    let db = common::TestDb::seeded(&SampleSpec {
        movies: 2_000,
        ratings: 40_000,
        seed: 7,
    });
    let url = db.params.to_url();
    let dir = common::scratch_dir("cli-views");
    let config = dir.join("config.toml");
    std::fs::write(&config, "").expect("config file");
    // The same store the window writes, beside the config file.
    let store = ViewStore::new(dir.join("views.toml"));
    let filter = "genre:Comedy year:1990..1999 sort:-votes,title";
    store
        .save(SavedView {
            name: "90s comedies".into(),
            filter: filter.into(),
            columns: vec!["title".into(), "year".into()],
            summary: Some(
                marquee::summary::SummarySpec::parse("decade", "movies,avg", 20).expect("spec"),
            ),
        })
        .expect("save");

    let list = marquee(&config, &["views", "list"]);
    assert!(list.status.success());
    assert_eq!(stdout(&list), format!("90s comedies\t{filter}\n"));
    let show = marquee(&config, &["views", "show", "90s comedies"]);
    assert!(stdout(&show).contains(&format!("filter = \"{filter}\"")));

    let by_view = marquee(
        &config,
        &[
            "--url",
            &url,
            "movies",
            "--view",
            "90s comedies",
            "--format",
            "csv",
            "--limit",
            "500",
        ],
    );
    let by_filter = marquee(
        &config,
        &[
            "--url", &url, "movies", "--filter", filter, "--format", "csv", "--limit", "500",
        ],
    );
    assert!(
        by_view.status.success(),
        "{}",
        String::from_utf8_lossy(&by_view.stderr)
    );
    assert!(stdout(&by_view).lines().count() > 5, "{}", stdout(&by_view));
    assert_eq!(stdout(&by_view), stdout(&by_filter));

    // The view's summary settings apply; flags override them.
    let summary_by_view = marquee(
        &config,
        &[
            "--url",
            &url,
            "summarize",
            "--view",
            "90s comedies",
            "--format",
            "csv",
        ],
    );
    let summary_by_flags = marquee(
        &config,
        &[
            "--url",
            &url,
            "summarize",
            "--filter",
            filter,
            "--by",
            "decade",
            "--measure",
            "movies,avg",
            "--format",
            "csv",
        ],
    );
    assert!(
        summary_by_view.status.success(),
        "{}",
        String::from_utf8_lossy(&summary_by_view.stderr)
    );
    assert!(stdout(&summary_by_view).starts_with("decade,movies,avg,filter\n"));
    assert_eq!(stdout(&summary_by_view), stdout(&summary_by_flags));
    assert!(stdout(&show).contains("summary = --by decade --measure movies,avg"));

    let file = dir.join("comedies.csv");
    let export = marquee(
        &config,
        &[
            "--url",
            &url,
            "export",
            "--view",
            "90s comedies",
            file.to_str().expect("path"),
        ],
    );
    assert!(
        export.status.success(),
        "{}",
        String::from_utf8_lossy(&export.stderr)
    );
    let exported = std::fs::read_to_string(&file).expect("export file");
    assert_eq!(exported.lines().count(), {
        let mut client = db.client();
        let n: i64 = client
            .query_one(
                "SELECT count(*) FROM movies WHERE 'Comedy' = ANY (genres) AND year BETWEEN 1990 AND 1999",
                &[],
            )
            .expect("count")
            .get(0);
        n as usize + 1
    });

    let unknown = marquee(
        &config,
        &["--url", &url, "movies", "--view", "no such view"],
    );
    assert_eq!(unknown.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&unknown.stderr).contains("no saved view named"));

    let delete = marquee(&config, &["views", "delete", "90s comedies"]);
    assert!(delete.status.success());
    assert!(store.load().expect("load").views.is_empty());
    assert_eq!(
        marquee(&config, &["views", "delete", "90s comedies"])
            .status
            .code(),
        Some(1)
    );
}
