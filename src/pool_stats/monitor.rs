//! Keeps the pool stats panel's [`PoolStatsModel`] fed from the live pool, and carries out what
//! the panel's buttons ask for (cancel, validate, recycle, the stress drill), taking the answers
//! of those admin jobs so none of them lands on the movie table. No egui here: the window calls
//! it from `logic`, and the panel only draws what it holds.
//!
//! The model gets a pool snapshot a few times per second, never per frame (a snapshot takes two
//! short locks), and also while the panel is hidden, so history and health are there when it
//! opens.

use std::time::{Duration, Instant};

use crate::db::pool::DatabasePool;
use crate::worker::{Answer, Priority, Reply, Request, RequestKind, Topic, Workers};

use super::drill::{StressDrill, StressSpec};
use super::{LinkStatus, PoolStatsModel, StressProgress};

/// Sampling period while the panel is open: live figures.
pub const SAMPLE_EVERY: Duration = Duration::from_millis(250);
/// Sampling period while it is hidden: enough for history and health, without waking an idle
/// window four times a second.
pub const SAMPLE_EVERY_HIDDEN: Duration = Duration::from_secs(1);
/// How often the open panel reads `pg_stat_activity` again.
pub const SERVER_VIEW_EVERY: Duration = Duration::from_secs(2);

/// What the user asked for in the panel; the app performs it from `logic`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PoolStatsAction {
    /// Cancel the query of the pooled connection with this id (server-side cancel).
    Cancel(u64),
    /// Validate every idle connection now.
    ValidateAll,
    /// Close every connection and let the pool open fresh ones.
    RecycleAll,
    /// Fire `queries` concurrent queries for `secs` seconds.
    Stress {
        /// Concurrent queries.
        queries: u32,
        /// For how long.
        secs: u32,
    },
    /// Read `pg_stat_activity` again.
    RefreshServerView,
}

/// The outcome of the panel's last action, shown at its foot.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Note {
    /// What happened.
    pub text: String,
    /// Whether it failed.
    pub is_error: bool,
}

/// What the monitor needs of the connection: the pool and workers once connected, else why not.
pub enum Link<'a> {
    /// Connected.
    Ready(&'a DatabasePool, &'a Workers),
    /// Not (yet, or any more) connected.
    Down(LinkStatus),
}

/// The model, and the work the panel started.
#[derive(Debug, Default)]
pub struct PoolMonitor {
    model: PoolStatsModel,
    sampled_at: Option<Instant>,
    server_view_at: Option<Instant>,
    /// A `ServerBackends` job is queued or running: do not queue another behind it.
    server_view_pending: bool,
    drill: Option<StressDrill>,
    /// The final figures of the last drill, kept on screen once it ended.
    last_drill: Option<StressProgress>,
    note: Option<Note>,
}

impl PoolMonitor {
    /// What the panel shows.
    pub fn model(&self) -> &PoolStatsModel {
        &self.model
    }

    /// The outcome of the last action, if any.
    pub fn note(&self) -> Option<&Note> {
        self.note.as_ref()
    }

    /// The panel was opened: sample and read the server view at once.
    pub fn opened(&mut self) {
        self.sampled_at = None;
        self.server_view_at = None;
    }

    /// Feeds the model when a sample is due (and, while the panel is `open`, asks the server for
    /// its view every [`SERVER_VIEW_EVERY`]). Returns the time until the next sample; the app
    /// asks for a frame then, since `logic` only runs when a frame does.
    pub fn logic(&mut self, link: Link<'_>, open: bool, now: Instant) -> Duration {
        let every = if open {
            SAMPLE_EVERY
        } else {
            SAMPLE_EVERY_HIDDEN
        };
        // The first snapshot of a new pool is taken at once, not up to a period later.
        let first_of_pool = matches!(link, Link::Ready(..)) && self.model.snapshot().is_none();
        if let Some(at) = self.sampled_at.filter(|_| !first_of_pool) {
            let since = now.saturating_duration_since(at);
            if since < every {
                return every - since;
            }
        }
        self.sampled_at = Some(now);
        let (pool, workers) = match link {
            Link::Down(status) => {
                self.model.set_link(status, now);
                return every;
            }
            Link::Ready(pool, workers) => (pool, workers),
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
        if open && server_view_due && !self.server_view_pending {
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
    pub fn apply(&mut self, action: PoolStatsAction, link: Link<'_>) {
        let Link::Ready(pool, workers) = link else {
            self.set_note("Not connected: nothing to do yet", true);
            return;
        };
        let admin = |request| workers.submit(Topic::Admin, 0, Priority::Urgent, request);
        match action {
            PoolStatsAction::Cancel(id) => {
                admin(Request::CancelConnection(id));
                self.set_note(format!("Cancelling the query of connection {id}…"), false);
            }
            PoolStatsAction::ValidateAll => {
                admin(Request::ValidateAll);
                self.set_note("Validating every idle connection…", false);
            }
            PoolStatsAction::RecycleAll => {
                admin(Request::RecycleAll);
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
        if reply.kind == RequestKind::ServerBackends {
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
            Ok(Answer::Validated(checked)) => self.set_note(
                format!("Validated {checked} idle connection(s); dead ones were closed"),
                false,
            ),
            Ok(Answer::Recycled(recycled)) => self.set_note(
                format!(
                    "Recycled {recycled} connection(s); busy ones close when returned, fresh ones open as needed"
                ),
                false,
            ),
            Ok(_) => {}
            Err(err) => {
                let what = match reply.kind {
                    RequestKind::ValidateAll => "Validate all",
                    RequestKind::RecycleAll => "Recycle all",
                    RequestKind::CancelConnection => "Cancel",
                    RequestKind::ServerBackends => "Reading the server view",
                    other => other.label(),
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
        *self = Self::default();
    }

    /// Asks a running stress drill to stop; its threads end after their current query, on
    /// their own (nothing waits for them).
    pub fn stop_drill(&mut self) {
        if let Some(drill) = self.drill.take() {
            drill.stop();
        }
    }
}
