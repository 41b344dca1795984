//! The pool stats panel in the window: keeps the [`PoolStatsModel`] fed from the live connection,
//! carries out what the panel's buttons ask for, and takes the answers of those admin jobs (so
//! none of them lands on the movie table). The drawing itself is [`PoolStatsView`].
//!
//! The model gets a pool snapshot a few times per second, never per frame (a snapshot takes two
//! short locks), and also while the panel is hidden, so history and health are there when it
//! opens.

use std::sync::Arc;
use std::time::{Duration, Instant};

use egui::{RichText, Ui};

use crate::app::Connection;
use crate::pool_stats::{PoolStatsModel, StressDrill, StressProgress, StressSpec};
use crate::worker::{Answer, CustomWork, Priority, Reply, Request, Topic, Workers};

use super::pool_stats::{PoolStatsAction, PoolStatsView};

/// Sampling period while the panel is open: live figures.
pub const SAMPLE_EVERY: Duration = Duration::from_millis(250);
/// Sampling period while it is hidden: enough for history and health, without waking an idle
/// window four times a second.
pub const SAMPLE_EVERY_HIDDEN: Duration = Duration::from_secs(1);
/// How often the open panel reads `pg_stat_activity` again.
pub const SERVER_VIEW_EVERY: Duration = Duration::from_secs(2);

const VALIDATE_ALL: &str = "pool.validate_all";
const RECYCLE_ALL: &str = "pool.recycle_all";

/// The outcome of the panel's last action, shown at its foot.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Note {
    /// What happened.
    pub text: String,
    /// Whether it failed.
    pub is_error: bool,
}

/// The panel's state beside its view: shown or not, the model, and the work it started.
#[derive(Debug, Default)]
pub struct PoolPanel {
    /// Whether the panel is shown (persisted in `State`).
    pub open: bool,
    model: PoolStatsModel,
    view: PoolStatsView,
    sampled_at: Option<Instant>,
    server_view_at: Option<Instant>,
    /// A `ServerBackends` job is queued or running: do not queue another behind it.
    server_view_pending: bool,
    drill: Option<StressDrill>,
    /// The final figures of the last drill, kept on screen once it ended.
    last_drill: Option<StressProgress>,
    note: Option<Note>,
}

impl PoolPanel {
    /// A panel, shown or not.
    pub fn new(open: bool) -> Self {
        Self {
            open,
            ..Self::default()
        }
    }

    /// What the panel shows.
    pub fn model(&self) -> &PoolStatsModel {
        &self.model
    }

    /// The outcome of the last action, if any.
    pub fn note(&self) -> Option<&Note> {
        self.note.as_ref()
    }

    /// Shows or hides the panel. Opening samples and reads the server view at once.
    pub fn toggle(&mut self) {
        self.open = !self.open;
        if self.open {
            self.sampled_at = None;
            self.server_view_at = None;
        }
    }

    /// Feeds the model when a sample is due (and, while open, asks the server for its view every
    /// [`SERVER_VIEW_EVERY`]). Returns the time until the next sample; the app asks for a
    /// repaint then, since `logic` only runs when a frame does.
    pub fn logic(&mut self, connection: &Connection, now: Instant) -> Duration {
        let every = if self.open {
            SAMPLE_EVERY
        } else {
            SAMPLE_EVERY_HIDDEN
        };
        // The first snapshot of a new pool is taken at once, not up to a period later.
        let first_of_pool = connection.pool().is_some() && self.model.snapshot().is_none();
        if let Some(at) = self.sampled_at.filter(|_| !first_of_pool) {
            let since = now.saturating_duration_since(at);
            if since < every {
                return every - since;
            }
        }
        self.sampled_at = Some(now);
        if let Some(link) = connection.link_status() {
            self.model.set_link(link, now);
            return every;
        }
        let (Some(pool), Some(workers)) = (connection.pool(), connection.workers()) else {
            return every;
        };
        self.model.update(
            pool.snapshot(),
            None,
            workers.job_log(),
            workers.worker_states(),
            now,
        );
        let stress = self.drill_progress(now);
        self.model.set_stress(stress);
        let server_view_due = self
            .server_view_at
            .is_none_or(|at| now.saturating_duration_since(at) >= SERVER_VIEW_EVERY);
        if self.open && server_view_due && !self.server_view_pending {
            self.read_server_view(workers, now);
        }
        every
    }

    fn drill_progress(&mut self, now: Instant) -> Option<StressProgress> {
        if self.drill.as_ref().is_some_and(StressDrill::is_finished)
            && let Some(drill) = self.drill.take()
        {
            // Every thread has ended: joining does not wait.
            self.last_drill = Some(drill.join());
        }
        self.drill
            .as_ref()
            .map(|drill| drill.progress(now))
            .or(self.last_drill)
    }

    fn read_server_view(&mut self, workers: &Workers, now: Instant) {
        self.server_view_at = Some(now);
        self.server_view_pending = true;
        workers.submit(
            Topic::Admin,
            0,
            Priority::Background,
            Request::ServerBackends,
        );
    }

    /// Carries out what the user clicked in the panel.
    pub fn apply(&mut self, action: PoolStatsAction, connection: &Connection) {
        let (Some(pool), Some(workers)) = (connection.pool(), connection.workers()) else {
            self.set_note("Not connected: nothing to do yet", true);
            return;
        };
        match action {
            PoolStatsAction::Cancel(id) => {
                workers.submit(
                    Topic::Admin,
                    0,
                    Priority::Urgent,
                    Request::CancelConnection(id),
                );
                self.set_note(format!("Cancelling the query of connection {id}…"), false);
            }
            PoolStatsAction::ValidateAll => {
                workers.submit(
                    Topic::Admin,
                    0,
                    Priority::Urgent,
                    Request::Custom {
                        label: VALIDATE_ALL,
                        work: CustomWork(Arc::new(|p| Ok(u64::from(p.validate_all().checked)))),
                    },
                );
                self.set_note("Validating every idle connection…", false);
            }
            PoolStatsAction::RecycleAll => {
                workers.submit(
                    Topic::Admin,
                    0,
                    Priority::Urgent,
                    Request::Custom {
                        label: RECYCLE_ALL,
                        work: CustomWork(Arc::new(|p| Ok(u64::from(p.recycle_all())))),
                    },
                );
                self.set_note("Recycling every connection…", false);
            }
            PoolStatsAction::RefreshServerView => self.read_server_view(workers, Instant::now()),
            PoolStatsAction::Stress { queries, secs } => {
                if self.drill.is_some() {
                    return;
                }
                self.last_drill = None;
                self.drill = Some(StressDrill::start(pool, StressSpec::new(queries, secs)));
                // Show it running from the next frame, not the next sample.
                self.sampled_at = None;
                self.note = None;
            }
        }
    }

    /// Takes the answer of an admin job (server view, cancel, validate, recycle).
    pub fn apply_reply(&mut self, reply: Reply) {
        let server_view = reply.label == Request::ServerBackends.label();
        if server_view {
            self.server_view_pending = false;
        }
        match reply.result {
            Ok(Answer::Backends(backends)) => {
                self.model.set_server_backends(backends, Instant::now());
            }
            Ok(Answer::Cancelled(true)) => {
                self.set_note("Cancel request sent to the server", false);
            }
            Ok(Answer::Cancelled(false)) => self.set_note(
                "Nothing to cancel: the connection was no longer running a query",
                false,
            ),
            Ok(Answer::Done(checked)) if reply.label == VALIDATE_ALL => self.set_note(
                format!("Validated {checked} idle connection(s); dead ones were closed"),
                false,
            ),
            Ok(Answer::Done(recycled)) if reply.label == RECYCLE_ALL => self.set_note(
                format!(
                    "Recycled {recycled} connection(s); busy ones close when returned, fresh ones open as needed"
                ),
                false,
            ),
            Ok(_) => {}
            Err(err) => {
                let what = match reply.label {
                    VALIDATE_ALL => "Validate all",
                    RECYCLE_ALL => "Recycle all",
                    "pool.cancel" => "Cancel",
                    _ if server_view => "Reading the server view",
                    other => other,
                };
                self.set_note(format!("{what} failed: {err}"), true);
            }
        }
    }

    fn set_note(&mut self, text: impl Into<String>, is_error: bool) {
        self.note = Some(Note {
            text: text.into(),
            is_error,
        });
    }

    /// The connection is being replaced: stop what ran on the old pool and start afresh
    /// (a new pool's counters start at zero).
    pub fn disconnect(&mut self) {
        self.stop_drill();
        *self = Self {
            open: self.open,
            view: std::mem::take(&mut self.view),
            ..Self::default()
        };
    }

    /// Asks a running stress drill to stop; its threads end after their current query, on
    /// their own (nothing waits for them).
    pub fn stop_drill(&mut self) {
        if let Some(drill) = self.drill.take() {
            drill.stop();
        }
    }

    /// Draws the panel: the view, with the last action's outcome at its foot. Returns what the
    /// user clicked; the app calls [`PoolPanel::apply`] after drawing.
    pub fn ui(&mut self, ui: &mut Ui) -> Vec<PoolStatsAction> {
        if let Some(note) = &self.note {
            egui::Panel::bottom("pool_stats_note").show(ui, |ui| {
                ui.add_space(2.0);
                let text = RichText::new(&note.text);
                if note.is_error {
                    ui.colored_label(ui.visuals().error_fg_color, text);
                } else {
                    ui.label(text);
                }
            });
        }
        ui.add_space(4.0);
        // Its grids are wider than a side panel should be: scroll sideways rather than let the
        // panel grow over the table.
        egui::ScrollArea::horizontal()
            .id_salt("pool_stats_sideways")
            .auto_shrink([false, false])
            .show(ui, |ui| self.view.ui(ui, &self.model))
            .inner
    }
}
