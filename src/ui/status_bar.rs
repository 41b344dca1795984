//! The status bar: which server (never the password) and its version, what it holds (Marquee's
//! collection, MovieLens tables in place, mapped tables) and whether it is read-only, the
//! connection state, the row count (≈ / "100,000+" while not exact), the last query time, the pool's in-use/idle
//! connections and the last error.

use std::time::Duration;

use egui::{RichText, Ui};

use crate::db::hosts::{HostStatus, HostUse};
use crate::local_copy::CopyPhase;
use crate::plural;
use crate::repo::movies::RowCount;
use crate::ui::command::Command;

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
    /// What the database holds and how it is read, once connected.
    pub source: Option<SourceStatus>,
    /// The window's local copy, once asked for.
    pub local_copy: Option<LocalCopyStatus>,
    /// With read replicas: where the reads go.
    pub reads: Option<ReadsStatus>,
}

/// Where the reads go when the pool has read replicas.
#[derive(Clone, Debug, PartialEq)]
pub struct ReadsStatus {
    /// "reads: replica r1:5432 · lag 0.4 s", "reads: 2 of 3 replicas", "reads: on the server".
    pub label: String,
    /// Why the reads are on the server (no replica answers), if they are.
    pub fallback: Option<String>,
}

impl ReadsStatus {
    /// From the pool's host board and its fallback sentence; `None` without replicas.
    pub fn of(hosts: &[HostStatus], fallback: Option<String>) -> Option<Self> {
        let replicas: Vec<&HostStatus> = hosts
            .iter()
            .filter(|h| h.used_as == HostUse::Replica)
            .collect();
        if replicas.is_empty() {
            return None;
        }
        let answering: Vec<&&HostStatus> = replicas.iter().filter(|h| h.up == Some(true)).collect();
        let lag = answering
            .iter()
            .filter_map(|h| h.lag_secs)
            .reduce(f64::max)
            .map(|secs| {
                format!(
                    " · lag {}",
                    crate::pool_stats::format_secs_f64(secs.max(0.0))
                )
            })
            .unwrap_or_default();
        let label = match (fallback.is_some(), answering.as_slice(), replicas.len()) {
            (true, _, _) => "reads on the server: no replica answers".to_owned(),
            (false, [], _) => "reads: checking the replicas…".to_owned(),
            (false, [one], 1) => format!("reads: replica {}{lag}", one.host),
            (false, some, all) => format!("reads: {} of {all} replicas{lag}", some.len()),
        };
        Some(Self { label, fallback })
    }
}

/// The local copy's line in the bar.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LocalCopyStatus {
    /// "Copying locally: ratings (12.3 MB)", "Copied 86,537 movies …", "The local copy failed: …".
    pub label: String,
    /// Where it stands.
    pub phase: CopyPhase,
}

/// A query in place slower than this makes the bar offer the local copy.
pub const SLOW_IN_PLACE: Duration = Duration::from_secs(1);

/// The source line of the bar: "MovieLens tables in place (schema public) · read-only".
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SourceStatus {
    /// Which source (`Source::describe`).
    pub description: String,
    /// Whether Marquee only reads this database (any server but its private one).
    pub read_only: bool,
    /// Whether the data is read where it lies (a local copy would be faster).
    pub in_place: bool,
    /// What the user should know (older schema, no accent folding…), shown on hover.
    pub notes: Vec<String>,
}

impl SourceStatus {
    /// The line for `source`; `private` when the server is Marquee's own cluster.
    pub fn new(source: &crate::db::source::Source, private: bool) -> Self {
        Self {
            description: source.describe(),
            read_only: !private,
            in_place: source.in_place(),
            notes: source.notes.clone(),
        }
    }

    /// The text shown in the bar.
    pub fn label(&self) -> String {
        if self.read_only {
            format!("{} · read-only", self.description)
        } else {
            self.description.clone()
        }
    }

    /// Whether to offer the local copy: reading in place, and the last query took over a second.
    pub fn offer_copy(&self, last_query: Option<Duration>) -> bool {
        self.in_place && last_query.is_some_and(|d| d > SLOW_IN_PLACE)
    }

    /// The hover text: the promise, and the notes.
    pub fn hover(&self) -> String {
        let mut text = if self.read_only {
            "Marquee only reads this database: browsing runs no migration and creates nothing."
                .to_owned()
        } else {
            "Marquee's private server: its own collection.".to_owned()
        };
        if self.in_place {
            text.push_str(
                "\nThe data is read where it lies; \"Copy locally…\" (or `marquee import \
                 postgres`) makes a fast, indexed local copy.",
            );
        }
        for note in &self.notes {
            text.push('\n');
            text.push_str(note);
        }
        text
    }
}

/// The status bar view.
#[derive(Debug, Default)]
pub struct StatusBar;

impl StatusBar {
    /// Draws the bar.
    pub fn ui(&mut self, ui: &mut Ui, info: &StatusInfo, commands: &mut Vec<Command>) {
        // A second line in a narrow window, rather than figures cut off at the edge.
        ui.horizontal_wrapped(|ui| {
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
            if let Some(source) = &info.source {
                ui.separator();
                ui.label(source.label()).on_hover_text(source.hover());
                if source.offer_copy(info.last_query) {
                    ui.colored_label(ui.visuals().warn_fg_color, "slow in place")
                        .on_hover_text(
                            "Queries on this data take over a second where it lies. \
                             A local copy is indexed for browsing.",
                        );
                }
                let phase = info.local_copy.as_ref().map(|c| c.phase);
                if source.in_place && matches!(phase, None | Some(CopyPhase::Failed)) {
                    let button = ui.button("Copy locally…").on_hover_text(
                        "Copy this data into Marquee's private store, indexed for fast \
                         browsing (`marquee import postgres`). The source is only read.",
                    );
                    if button.clicked() {
                        commands.push(Command::AskLocalCopy);
                    }
                }
            }
            if let Some(copy) = &info.local_copy {
                ui.separator();
                match copy.phase {
                    CopyPhase::Running => {
                        ui.spinner();
                        ui.label(&copy.label);
                    }
                    CopyPhase::Done => {
                        ui.label(&copy.label);
                        if ui.button("Open the copy").clicked() {
                            commands.push(Command::OpenLocalCopy);
                        }
                    }
                    CopyPhase::Failed => {
                        ui.colored_label(ui.visuals().error_fg_color, &copy.label);
                    }
                }
            }
            if info.connected {
                ui.separator();
            }
            // The figures from here on move to the next line whole instead of breaking in two
            // ("86,537" at the end of one line, "movies" on the next); the error after them may
            // be long, and wraps.
            let wrap = ui.style().wrap_mode;
            ui.style_mut().wrap_mode = Some(egui::TextWrapMode::Extend);
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
            if let Some(reads) = &info.reads {
                ui.separator();
                match &reads.fallback {
                    Some(why) => {
                        ui.colored_label(ui.visuals().warn_fg_color, &reads.label)
                            .on_hover_text(why.as_str());
                    }
                    None => {
                        ui.label(&reads.label)
                            .on_hover_text("Browsing reads go to the read replicas; the pool stats panel shows each host");
                    }
                }
            }
            if let Some((in_use, idle, max)) = info.pool {
                ui.separator();
                ui.label(format!("pool {in_use} in use · {idle} idle · max {max}"));
            }
            ui.style_mut().wrap_mode = wrap;
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_source_line_says_what_and_read_only() {
        let mut source = crate::db::source::Source::default();
        source.kind = crate::db::source::SourceKind::MovieLens {
            schema: "public".into(),
        };
        source.notes.push("no unaccent".into());
        let status = SourceStatus::new(&source, false);
        assert_eq!(
            status.label(),
            "MovieLens tables in place (schema public) · read-only"
        );
        assert!(status.hover().contains("no unaccent"));
        assert!(status.hover().contains("import postgres"));
        assert!(!status.offer_copy(Some(Duration::from_millis(300))));
        assert!(status.offer_copy(Some(Duration::from_millis(1_500))));
        let own = SourceStatus::new(&crate::db::source::Source::default(), true);
        assert_eq!(own.label(), "Marquee's collection");
        assert!(!own.offer_copy(Some(Duration::from_secs(5))));
    }
}
