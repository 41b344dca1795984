//! What the central area shows while there is no table to show: the startup steps with their
//! progress (starting the private server, seeding), or a failure that says what happened and
//! what to do, with Retry and a way to the connection settings. Never a blank window.

use std::time::Instant;

use egui::{RichText, Ui};

use crate::connection::StartFailure;
use crate::db::error::DbErrorKind;
use crate::plural::thousands;
use crate::progress::Progress;
use crate::ui::command::Command;

/// The startup view.
#[derive(Debug, Default)]
pub struct ConnectionState;

impl ConnectionState {
    /// While the startup thread works.
    pub fn starting_ui(
        &mut self,
        ui: &mut Ui,
        step: &str,
        progress: Option<&Progress>,
        since: Instant,
        attempt: u32,
    ) {
        ui.vertical_centered(|ui| {
            ui.add_space(ui.available_height() * 0.3);
            ui.spinner();
            ui.add_space(8.0);
            ui.label(RichText::new(step).size(17.0));
            if let Some(progress) = progress {
                let text = match progress.total {
                    Some(total) => format!(
                        "{}: {} of {}",
                        progress.stage,
                        thousands(progress.done),
                        thousands(total)
                    ),
                    None => format!("{}: {}", progress.stage, thousands(progress.done)),
                };
                let fraction = progress
                    .total
                    .filter(|t| *t > 0)
                    .map(|t| progress.done as f32 / t as f32);
                let bar = egui::ProgressBar::new(fraction.unwrap_or(0.0))
                    .text(text)
                    .desired_width(420.0);
                ui.add(if fraction.is_some() {
                    bar
                } else {
                    bar.animate(true)
                });
            }
            ui.add_space(4.0);
            let mut note = format!("{} s", since.elapsed().as_secs());
            if attempt > 0 {
                note.push_str(&format!(" · attempt {}", attempt + 1));
            }
            ui.weak(note);
        });
    }

    /// After a failed start.
    pub fn failed_ui(
        &mut self,
        ui: &mut Ui,
        failure: &StartFailure,
        next_retry: Option<Instant>,
        commands: &mut Vec<Command>,
    ) {
        ui.vertical_centered(|ui| {
            ui.add_space(ui.available_height() * 0.25);
            let (title, advice) = explain(failure.kind);
            ui.label(
                RichText::new(title)
                    .size(20.0)
                    .color(ui.visuals().error_fg_color),
            );
            ui.add_space(6.0);
            ui.label(failure.message.as_str());
            ui.add_space(4.0);
            ui.weak(advice);
            ui.add_space(10.0);
            ui.horizontal(|ui| {
                // Centre the two buttons: vertical_centered only centres single widgets.
                let width = 250.0;
                ui.add_space(((ui.available_width() - width) / 2.0).max(0.0));
                if ui.button(RichText::new("Retry").size(15.0)).clicked() {
                    commands.push(Command::Retry);
                }
                if ui
                    .button(RichText::new("Connection settings…").size(15.0))
                    .clicked()
                {
                    commands.push(Command::OpenSettings);
                }
            });
            if let Some(at) = next_retry {
                let secs = at.saturating_duration_since(Instant::now()).as_secs_f32();
                ui.add_space(6.0);
                ui.weak(format!("Retrying automatically in {secs:.0} s"));
                // Keep the countdown moving without spinning every frame.
                ui.ctx()
                    .request_repaint_after(std::time::Duration::from_millis(250));
            }
        });
    }
}

/// A heading and what to do, per kind of failure.
pub fn explain(kind: DbErrorKind) -> (&'static str, &'static str) {
    match kind {
        DbErrorKind::Unreachable | DbErrorKind::ConnectionLost => (
            "Cannot reach the database server",
            "Check that PostgreSQL is running and that host and port are right. Marquee retries on its own.",
        ),
        DbErrorKind::Rejected => (
            "The server refused the connection",
            "Check user, password, database name and SSL mode in the connection settings.",
        ),
        DbErrorKind::Schema => (
            "The database schema is missing or not usable",
            "Point Marquee at a database it may create tables in, or run `marquee db migrate`.",
        ),
        DbErrorKind::PoolExhausted
        | DbErrorKind::StatementTimeout
        | DbErrorKind::RecoveryConflict => (
            "The server is too busy",
            "Try again in a moment, or raise the pool size in the connection settings.",
        ),
        DbErrorKind::Setup => (
            "The private database server cannot be set up",
            "Follow the steps above, then press Retry, or connect to another server in the connection settings.",
        ),
        DbErrorKind::Cancelled | DbErrorKind::Query | DbErrorKind::Panicked => (
            "Starting failed",
            "Retry; if it keeps failing, the server log says more.",
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_error_screen_names_a_setup_problem_as_such() {
        let (title, advice) = explain(DbErrorKind::Setup);
        assert_eq!(title, "The private database server cannot be set up");
        assert!(!advice.contains("retries on its own"), "{advice}");
    }
}
