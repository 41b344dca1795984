//! `cargo bench --bench app_frame`: the frame cost of the *whole* window — the real
//! `MarqueeApp` (filter bar, table, detail pane, status bar, pool sampling), driven headless by
//! `egui_kittest` — showing the 1,000,000-movie collection while its workers answer page queries.
//!
//! `marquee bench frame` measures the movie table alone in a bare `egui::Context` (the binary
//! cannot depend on the test harness); this is the same measurement one level up. Each frame the
//! user pages down (and jumps to the end or the top now and then), so every frame asks for pages
//! that are not there yet. Timed per frame with the UI thread's CPU clock: `App::logic` +
//! `App::ui` + egui's layout and accessibility tree (kittest renders nothing, so no tessellation;
//! `marquee bench frame` reports tessellation at ~0.15 ms). One JSON line, like `marquee bench`.

use std::time::{Duration, Instant};

use egui::accesskit::Role;
use egui_kittest::Harness;
use egui_kittest::kittest::{NodeT as _, Queryable};
use marquee::bench::stats::thread_cpu;
use marquee::bench::{BenchName, Check, Report, dataset};
use marquee::config::{ServerChoice, Settings};
use marquee::db::Server;
use marquee::ui::MarqueeApp;

const MOVIES: u32 = 1_000_000;
const FRAMES: usize = 600;

/// Table rows on screen whose data has arrived.
fn loaded_rows(harness: &Harness<'static, MarqueeApp>) -> usize {
    harness
        .query_all_by_role(Role::Row)
        .filter_map(|node| node.accesskit_node().label())
        .filter(|label| label.starts_with("row ") && !label.ends_with(": loading"))
        .count()
}

fn main() -> anyhow::Result<()> {
    marquee::logging::init();
    let settings = marquee::cli::ConnectionArgs::default().settings()?;
    let server = Server::start(&settings)?;
    let params = dataset::ensure(&server.params, MOVIES)?;
    let app_settings = Settings {
        server: ServerChoice::External(params),
        pool: settings.pool.clone(),
        source: Default::default(),
    };
    let mut harness = Harness::builder()
        .with_size([1280.0, 800.0])
        .allow_missing_glyphs()
        .build_eframe(move |cc| MarqueeApp::new(cc, app_settings));

    let deadline = Instant::now() + Duration::from_secs(60);
    while loaded_rows(&harness) < 10 {
        anyhow::ensure!(Instant::now() < deadline, "the table never filled");
        harness.step();
        std::thread::sleep(Duration::from_millis(5));
    }
    // Focus the table: click its first row.
    if let Some(row) = harness.query_all_by_role(Role::Row).find(|node| {
        node.accesskit_node()
            .label()
            .is_some_and(|l| l.starts_with("row 0:"))
    }) {
        row.click();
    }
    harness.step();

    let mut cpu = Vec::with_capacity(FRAMES);
    let mut wall = Vec::with_capacity(FRAMES);
    let frame_budget = Duration::from_micros(16_667);
    for i in 0..FRAMES {
        let key = match i % 120 {
            59 => egui::Key::End,
            119 => egui::Key::Home,
            _ => egui::Key::PageDown,
        };
        harness.key_press(key);
        let (cpu_start, wall_start) = (thread_cpu(), Instant::now());
        harness.step();
        let (cpu_end, elapsed) = (thread_cpu(), wall_start.elapsed());
        cpu.push(cpu_end.saturating_sub(cpu_start));
        wall.push(elapsed);
        // Paced like a 60 Hz display, so the workers answer between frames as they would.
        std::thread::sleep(frame_budget.saturating_sub(elapsed));
    }

    let mut report = Report::new(BenchName::Frame, MOVIES);
    let summary = report.timing("real App frame CPU (logic + ui + layout, kittest)", &cpu);
    report.timing("real App frame wall time", &wall);
    report.checks.push(Check::at_most(
        "real App frame CPU p95",
        summary.p95_micros / 1e3,
        4.0,
        "ms",
    ));
    report.checks.push(Check::at_most(
        "real App frame CPU max",
        summary.max_micros / 1e3,
        16.0,
        "ms",
    ));
    report.notes.push(format!(
        "{FRAMES} frames at 60 Hz, PageDown every frame, End/Home every second; 1280x800; \
         loaded rows on screen at the end: {}",
        loaded_rows(&harness)
    ));
    let report = report.finish();
    let stdout = std::io::stdout();
    report.write_json(&mut stdout.lock())?;
    drop(harness);
    server.shutdown();
    Ok(())
}
