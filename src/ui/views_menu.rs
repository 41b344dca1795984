//! The Views menu: the saved views (open, rename, delete) and "Save current as…". It draws the
//! list the app holds and pushes commands; the app reads and writes the views file.

use egui::{RichText, Ui};

use crate::ui::command::Command;
use crate::views::SavedView;

/// The menu's own state: the names being typed.
#[derive(Debug, Default)]
pub struct ViewsMenu {
    /// The name for "Save current as…".
    new_name: String,
    /// A view being renamed, and its new name so far.
    renaming: Option<(String, String)>,
}

impl ViewsMenu {
    /// Draws the "Views" button and its menu. `note` is the last outcome or problem to show.
    pub fn ui(
        &mut self,
        ui: &mut Ui,
        views: &[SavedView],
        note: Option<&str>,
        commands: &mut Vec<Command>,
    ) {
        let button = ui
            .button("Views")
            .on_hover_text("Saved views: a filter with its sort and columns, kept by name");
        egui::Popup::menu(&button)
            .close_behavior(egui::PopupCloseBehavior::CloseOnClickOutside)
            .show(|ui| self.menu_ui(ui, views, note, commands));
    }

    fn menu_ui(
        &mut self,
        ui: &mut Ui,
        views: &[SavedView],
        note: Option<&str>,
        commands: &mut Vec<Command>,
    ) {
        ui.set_min_width(320.0);
        if views.is_empty() {
            ui.weak("No saved views yet.");
        }
        for view in views {
            ui.horizontal(|ui| match &mut self.renaming {
                Some((old, new)) if *old == view.name => {
                    let field = ui.text_edit_singleline(new);
                    let enter = field.lost_focus() && ui.input(|i| i.key_pressed(egui::Key::Enter));
                    if ui.button("Rename").clicked() || enter {
                        commands.push(Command::RenameView(old.clone(), new.trim().to_owned()));
                        self.renaming = None;
                    } else if ui.button("Cancel").clicked() {
                        self.renaming = None;
                    }
                }
                _ => {
                    if ui
                        .button(view.name.as_str())
                        .on_hover_text(format!("Open: {}", view.filter))
                        .clicked()
                    {
                        commands.push(Command::OpenView(view.name.clone()));
                    }
                    if ui.small_button("Rename…").clicked() {
                        self.renaming = Some((view.name.clone(), view.name.clone()));
                    }
                    if ui.small_button("Delete").clicked() {
                        commands.push(Command::DeleteView(view.name.clone()));
                    }
                }
            });
        }
        ui.separator();
        ui.horizontal(|ui| {
            let label = ui.label("Save current as").id;
            let field = ui
                .add(egui::TextEdit::singleline(&mut self.new_name).desired_width(150.0))
                .labelled_by(label);
            let enter = field.lost_focus() && ui.input(|i| i.key_pressed(egui::Key::Enter));
            let name = self.new_name.trim();
            if ui
                .add_enabled(!name.is_empty(), egui::Button::new("Save"))
                .clicked()
                || (enter && !name.is_empty())
            {
                commands.push(Command::SaveView(name.to_owned()));
                self.new_name.clear();
            }
        });
        if let Some(note) = note {
            ui.label(RichText::new(note).small());
        }
    }
}
