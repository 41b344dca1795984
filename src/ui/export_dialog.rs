//! The Export… dialog: where to save exactly what the current filter selects, then the export's
//! progress with Cancel, and its outcome. The app runs the export on a worker (streaming, as
//! `marquee export` does) and tells the dialog how it stands through [`ExportStatus`].

use std::path::PathBuf;

use egui::{RichText, Ui};

use crate::plural::thousands;
use crate::ui::command::Command;

/// How the export stands, as the app knows it.
#[derive(Clone, Debug, Default, PartialEq)]
pub enum ExportStatus {
    /// Nothing started yet.
    #[default]
    Idle,
    /// Writing: rows so far, and how many the filter selects, when known.
    Running {
        /// Rows written so far.
        rows: u64,
        /// The result's size, when the count is exact.
        expected: Option<u64>,
        /// Where it goes.
        path: PathBuf,
    },
    /// Done.
    Done {
        /// Rows written.
        rows: u64,
        /// Where.
        path: PathBuf,
    },
    /// Failed; nothing was written (the partial file is removed).
    Failed(String),
    /// Cancelled by the user; nothing was written.
    Cancelled,
}

/// The dialog's own state: shown or not, and the path being edited.
#[derive(Debug, Default)]
pub struct ExportDialog {
    /// Shown or not.
    pub open: bool,
    path: String,
}

impl ExportDialog {
    /// The platform's save dialog chose `path`.
    pub fn set_path(&mut self, path: &std::path::Path) {
        self.path = path.display().to_string();
    }

    /// Opens the dialog suggesting `path`.
    pub fn open_with(&mut self, path: PathBuf) {
        self.path = path.display().to_string();
        self.open = true;
    }

    /// Draws the dialog when open. `filter_text` and `count` say what will be exported.
    pub fn ui(
        &mut self,
        ctx: &egui::Context,
        filter_text: &str,
        count: Option<String>,
        status: &ExportStatus,
        commands: &mut Vec<Command>,
    ) {
        if !self.open {
            return;
        }
        let running = matches!(status, ExportStatus::Running { .. });
        let mut open = self.open;
        let mut close = false;
        egui::Window::new("Export to CSV")
            .open(&mut open)
            .collapsible(false)
            .resizable(false)
            .default_width(460.0)
            .anchor(egui::Align2::CENTER_CENTER, egui::Vec2::ZERO)
            .show(ctx, |ui| {
                close = self.form_ui(ui, filter_text, count, status, running, commands);
            });
        // Closing while it runs leaves it running; the status bar is not where it reports, so
        // closing is only offered once it is not running.
        self.open = open && !close;
    }

    fn form_ui(
        &mut self,
        ui: &mut Ui,
        filter_text: &str,
        count: Option<String>,
        status: &ExportStatus,
        running: bool,
        commands: &mut Vec<Command>,
    ) -> bool {
        let what = if filter_text.is_empty() {
            "every movie".to_owned()
        } else {
            format!("the movies of {filter_text}")
        };
        match count {
            Some(count) => ui.label(format!("Exports {what}: {count}, in the table's order.")),
            None => ui.label(format!("Exports {what}, in the table's order.")),
        };
        ui.horizontal(|ui| {
            let label = ui.label("Save to").id;
            ui.add_enabled(
                !running,
                egui::TextEdit::singleline(&mut self.path).desired_width(340.0),
            )
            .labelled_by(label);
            if ui
                .add_enabled(!running, egui::Button::new("Browse…"))
                .on_hover_text("Choose the file with the system's save dialog")
                .clicked()
            {
                commands.push(Command::ChooseExportPath(PathBuf::from(self.path.trim())));
            }
        });
        ui.add_space(4.0);
        // The status line keeps one row's height even when empty, so the centred dialog keeps
        // its size when an export starts and "Cancel export" stays where the pointer is.
        ui.scope(|ui| {
            ui.set_min_height(ui.spacing().interact_size.y);
            match status {
                ExportStatus::Idle => {}
                ExportStatus::Running { rows, expected, .. } => {
                    let text = format!("{} movies written…", thousands(*rows));
                    match expected.filter(|e| *e > 0) {
                        Some(expected) => {
                            let fraction = (*rows as f32 / expected as f32).clamp(0.0, 1.0);
                            ui.add(egui::ProgressBar::new(fraction).text(text));
                        }
                        None => {
                            ui.horizontal(|ui| {
                                ui.spinner();
                                ui.label(text);
                            });
                        }
                    }
                }
                ExportStatus::Done { rows, path } => {
                    ui.label(
                        RichText::new(format!(
                            "Exported {} movies to {}",
                            thousands(*rows),
                            path.display()
                        ))
                        .color(egui::Color32::from_rgb(80, 170, 90)),
                    );
                }
                ExportStatus::Failed(message) => {
                    ui.colored_label(ui.visuals().error_fg_color, message.as_str());
                }
                ExportStatus::Cancelled => {
                    ui.label("Cancelled; nothing was written.");
                }
            }
        });
        let mut close = false;
        ui.horizontal(|ui| {
            if running {
                if ui.button("Cancel export").clicked() {
                    commands.push(Command::CancelExport);
                }
                return;
            }
            let path = PathBuf::from(self.path.trim());
            let valid = !self.path.trim().is_empty();
            if ui.add_enabled(valid, egui::Button::new("Export")).clicked() {
                commands.push(Command::StartExport(path));
            }
            if ui.button("Close").clicked() {
                close = true;
            }
        });
        close
    }
}
