//! The status bar: which server (never the password) and its version, the connection state, the
//! row count (≈ / "100,000+" while not exact), the last query time, the pool's in-use/idle
//! connections and the last error.

use std::time::Duration;

use egui::{RichText, Ui};

use crate::plural;
use crate::repo::movies::RowCount;
use crate::ui::Command;

/// What the status bar shows, gathered by the app (the bar itself reads nothing).
#[derive(Debug, Default)]
pub struct StatusInfo {
    /// `host:port/db`.
    pub target: Option<String>,
    /// `SHOW server_version`.
    pub server_version: Option<String>,
    /// "Connected", "Starting…", "Unreachable — retrying in 4 s".
    pub state: String,
    /// Whether the state is an error.
    pub state_is_error: bool,
    /// Whether there is a connection (row figures mean nothing without one).
    pub connected: bool,
    /// Rows under the current filter.
    pub count: Option<RowCount>,
    /// Whether an exact count was asked for and is on its way.
    pub counting: bool,
    /// Duration of the last answered query.
    pub last_query: Option<Duration>,
    /// Pool connections in use / idle / max.
    pub pool: Option<(u32, u32, u32)>,
    /// The last error, for people.
    pub last_error: Option<String>,
}

/// The status bar view.
#[derive(Debug, Default)]
pub struct StatusBar;

impl StatusBar {
    /// Draws the bar.
    pub fn ui(&mut self, ui: &mut Ui, info: &StatusInfo, commands: &mut Vec<Command>) {
        ui.horizontal(|ui| {
            let state = RichText::new(&info.state);
            if info.state_is_error {
                ui.colored_label(ui.visuals().error_fg_color, state);
            } else {
                ui.label(state);
            }
            if let Some(target) = &info.target {
                ui.separator();
                let mut text = target.clone();
                if let Some(version) = &info.server_version {
                    text.push_str(&format!(" · PostgreSQL {version}"));
                }
                ui.label(text).on_hover_text("Server and database");
            }
            if info.connected {
                ui.separator();
            }
            match info.count {
                _ if !info.connected => {}
                Some(count) => {
                    let label = format!(
                        "{} {}",
                        count.label(),
                        plural::noun(count.rows(), "movie", "movies")
                    );
                    if matches!(count, RowCount::Exact(_)) {
                        ui.label(label);
                    } else if info.counting {
                        ui.label(format!("{label} (counting…)"));
                    } else if ui
                        .link(label)
                        .on_hover_text("Click for the exact count")
                        .clicked()
                    {
                        commands.push(Command::RequestExactCount);
                    }
                }
                None => {
                    ui.weak("counting…");
                }
            }
            if let Some(elapsed) = info.last_query {
                ui.separator();
                ui.label(format!("last query {}", format_duration(elapsed)));
            }
            if let Some((in_use, idle, max)) = info.pool {
                ui.separator();
                ui.label(format!("pool {in_use} in use · {idle} idle · max {max}"));
            }
            if let Some(error) = &info.last_error {
                ui.separator();
                ui.colored_label(ui.visuals().error_fg_color, format!("Error: {error}"))
                    .on_hover_text(error.as_str());
            }
        });
    }
}

/// `850 µs`, `12.3 ms`, `2.41 s`.
pub fn format_duration(d: Duration) -> String {
    let micros = d.as_micros();
    if micros < 1_000 {
        format!("{micros} µs")
    } else if micros < 1_000_000 {
        format!("{:.1} ms", micros as f64 / 1_000.0)
    } else {
        format!("{:.2} s", d.as_secs_f64())
    }
}
