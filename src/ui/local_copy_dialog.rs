//! The question "Copy locally…" asks before it writes: what is copied from where, into which
//! store, and that the store's current collection is replaced. A browser never writes unless
//! asked, and the private store is where the copy writes.

use egui::Ui;

use crate::ui::command::Command;

/// What the question names.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LocalCopyQuestion {
    /// What is read in place ("MovieLens tables in place (schema public)").
    pub source: String,
    /// The source's `host:port/db`.
    pub source_target: String,
    /// The private store's folder.
    pub data_dir: std::path::PathBuf,
}

/// The dialog view: shown while the app holds a question.
#[derive(Debug, Default)]
pub struct LocalCopyDialog;

impl LocalCopyDialog {
    /// Draws the question; the answer is a command.
    pub fn ui(
        &self,
        ctx: &egui::Context,
        question: &LocalCopyQuestion,
        commands: &mut Vec<Command>,
    ) {
        let mut open = true;
        egui::Window::new("Copy locally")
            .open(&mut open)
            .collapsible(false)
            .resizable(false)
            .default_width(460.0)
            .anchor(egui::Align2::CENTER_CENTER, egui::Vec2::ZERO)
            .show(ctx, |ui| Self::body_ui(ui, question, commands));
        if !open {
            commands.push(Command::CancelLocalCopy);
        }
    }

    fn body_ui(ui: &mut Ui, question: &LocalCopyQuestion, commands: &mut Vec<Command>) {
        ui.label(format!(
            "Copies {} at {} into Marquee's private store, indexed for fast browsing.",
            question.source, question.source_target
        ));
        ui.label("The source is only read.");
        ui.label(format!(
            "The copy replaces the collection of the private store in {}. If it fails, that \
             collection stays as it is.",
            question.data_dir.display()
        ));
        ui.add_space(6.0);
        ui.horizontal(|ui| {
            if ui.button("Start the copy").clicked() {
                commands.push(Command::StartLocalCopy);
            }
            if ui.button("Cancel").clicked() {
                commands.push(Command::CancelLocalCopy);
            }
        });
    }
}
