//! The window: `MarqueeApp` wires the connection lifecycle and the browse model to the views.
//! Views draw and return commands; they never touch the database.

use std::sync::Arc;

use crate::app::Connection;
use crate::browse::Browse;
use crate::config::Settings;

/// The app icon, from `assets/icon.png`.
pub fn icon() -> egui::IconData {
    eframe::icon_data::from_png_bytes(include_bytes!("../../assets/icon.png")).unwrap_or_default()
}

/// The eframe application.
pub struct MarqueeApp {
    settings: Settings,
    connection: Connection,
    browse: Browse,
}

impl MarqueeApp {
    /// Creates the app and starts connecting in the background.
    pub fn new(cc: &eframe::CreationContext<'_>, settings: Settings) -> Self {
        let connection = Connection::start(&settings, &cc.egui_ctx);
        Self {
            settings,
            connection,
            browse: Browse::default(),
        }
    }

    /// For tests: an app on an already resolved connection state.
    pub fn with_context(ctx: &egui::Context, settings: Settings) -> Self {
        let connection = Connection::start(&settings, ctx);
        Self {
            settings,
            connection,
            browse: Browse::default(),
        }
    }
}

impl eframe::App for MarqueeApp {
    fn logic(&mut self, ctx: &egui::Context, _frame: &mut eframe::Frame) {
        if self.connection.poll(&self.settings, ctx)
            && let Some(workers) = self.connection.workers()
        {
            self.browse.refresh(workers);
        }
        let browse = &mut self.browse;
        self.connection.drain_replies(|reply| {
            browse.apply(&reply);
        });
    }

    fn ui(&mut self, ui: &mut egui::Ui, _frame: &mut eframe::Frame) {
        egui::CentralPanel::default().show(ui, |ui| match &self.connection {
            Connection::Starting { step, .. } => {
                ui.label(step.as_str());
            }
            Connection::Failed { failure, .. } => {
                ui.label(failure.message.as_str());
            }
            Connection::Ready { workers, .. } => {
                let count = self.browse.row_count();
                ui.label(format!("{count} movies"));
                let last = count.min(40).saturating_sub(1);
                self.browse.show_rows(0, last, workers);
                for i in 0..=last {
                    if let Some(row) = self.browse.row(i) {
                        ui.label(row.title.as_str());
                    }
                }
            }
        });
        let _ = Arc::clone(&Arc::new(()));
    }

    fn on_exit(&mut self, _gl: Option<&eframe::glow::Context>) {
        std::mem::replace(
            &mut self.connection,
            Connection::Failed {
                failure: crate::app::StartFailure {
                    kind: crate::db::error::DbErrorKind::Unreachable,
                    message: "closed".into(),
                },
                attempt: 0,
                next_retry: None,
            },
        )
        .close();
    }
}
