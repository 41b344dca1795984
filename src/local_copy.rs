//! "Copy locally" in the window: the data the window reads in place, copied into Marquee's
//! private store on a thread of its own, so that browsing it becomes fast.
//!
//! It is the CLI's `marquee import postgres` (`import::postgres::load_from_postgres`) with the
//! window's source: the same detected [`Source`], read in one read-only snapshot, written in one
//! transaction on the store. So the source is only read, and if anything fails, the store keeps
//! its previous collection. The window follows the copy through [`LocalCopy::poll`] and, once it
//! is done, offers to open it.

use std::path::PathBuf;
use std::time::Duration;

use crossbeam_channel::Receiver;

use crate::config::{ConnectParams, PoolSettings, ServerChoice, Settings, SourceSettings};
use crate::connection::Waker;
use crate::db::source::Source;
use crate::db::{self, Server};
use crate::import::load::LoadReport;
use crate::progress::Progress;

/// What the copy's thread reports.
enum CopyEvent {
    Progress(Progress),
    Finished(Result<LoadReport, String>),
}

/// Where a copy stands, with its details.
#[derive(Clone, Debug, PartialEq)]
enum CopyState {
    /// Still copying: the latest progress (bytes of a table, then index and summary steps).
    Running(Option<Progress>),
    /// Committed into the store.
    Done(LoadReport),
    /// Nothing was changed in the store; why, for people.
    Failed(String),
}

/// Where a copy stands, without its details: what the status bar offers next to it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CopyPhase {
    /// Under way.
    Running,
    /// Committed: "Open the copy".
    Done,
    /// Nothing changed: "Copy locally…" again.
    Failed,
}

/// A copy under way (or finished), started by [`LocalCopy::start`].
pub struct LocalCopy {
    events: Receiver<CopyEvent>,
    state: CopyState,
    /// The private store's folder.
    data_dir: PathBuf,
}

impl LocalCopy {
    /// Copies what `source` (detected at `source_params`) holds into the private store in
    /// `data_dir`, starting that server if needed; `waker` is called on each report.
    pub fn start(
        source_params: ConnectParams,
        source: Source,
        data_dir: PathBuf,
        waker: &Waker,
    ) -> Result<Self, String> {
        let (tx, rx) = crossbeam_channel::unbounded();
        let wake = std::sync::Arc::clone(waker);
        let store = store_settings(&data_dir);
        std::thread::Builder::new()
            .name("marquee-local-copy".into())
            .spawn(move || {
                let mut report = |p: Progress| {
                    let _ = tx.send(CopyEvent::Progress(p));
                    wake(Duration::ZERO);
                };
                let result = copy(&store, &source_params, &source, &mut report);
                let _ = tx.send(CopyEvent::Finished(result));
                wake(Duration::ZERO);
            })
            .map_err(|err| format!("could not start the copy: {err}"))?;
        Ok(Self {
            events: rx,
            state: CopyState::Running(None),
            data_dir,
        })
    }

    /// Takes in what the thread reported.
    pub fn poll(&mut self) {
        while let Ok(event) = self.events.try_recv() {
            match event {
                CopyEvent::Progress(p) => self.state = CopyState::Running(Some(p)),
                CopyEvent::Finished(Ok(report)) => self.state = CopyState::Done(report),
                CopyEvent::Finished(Err(message)) => self.state = CopyState::Failed(message),
            }
        }
    }

    /// Where it stands.
    pub fn phase(&self) -> CopyPhase {
        match self.state {
            CopyState::Running(_) => CopyPhase::Running,
            CopyState::Done(_) => CopyPhase::Done,
            CopyState::Failed(_) => CopyPhase::Failed,
        }
    }

    /// One line for the status bar.
    pub fn label(&self) -> String {
        match &self.state {
            CopyState::Running(None) => "Copying locally: starting the private server…".to_owned(),
            CopyState::Running(Some(p)) => match p.total {
                Some(total) => format!("Copying locally: {} ({}/{total})", p.stage, p.done),
                None => format!(
                    "Copying locally: {} ({:.1} MB)",
                    p.stage,
                    p.done as f64 / 1_000_000.0
                ),
            },
            CopyState::Done(report) => format!(
                "Copied {} movies and {} ratings locally in {:.1} s",
                crate::plural::thousands(report.movies),
                crate::plural::thousands(report.ratings),
                report.elapsed_ms as f64 / 1_000.0
            ),
            CopyState::Failed(message) => format!("The local copy failed: {message}"),
        }
    }

    /// The settings that open the copy: the private store, Marquee's own collection.
    pub fn open_settings(&self, current: &Settings) -> Settings {
        Settings {
            server: ServerChoice::Private {
                data_dir: self.data_dir.clone(),
            },
            pool: current.pool.clone(),
            source: SourceSettings::default(),
        }
    }
}

/// The store's settings: the private server in `data_dir`, one connection.
fn store_settings(data_dir: &std::path::Path) -> Settings {
    Settings {
        server: ServerChoice::Private {
            data_dir: data_dir.to_path_buf(),
        },
        pool: PoolSettings {
            min_idle: 0,
            max_size: 1,
            ..PoolSettings::default()
        },
        source: SourceSettings::default(),
    }
}

/// The copy itself, on the copy's thread.
fn copy(
    store: &Settings,
    source_params: &ConnectParams,
    source: &Source,
    progress: &mut dyn FnMut(Progress),
) -> Result<LoadReport, String> {
    let server = Server::start(store).map_err(|e| e.to_string())?;
    let result = db::open_pool_for_writing(&server, store)
        .map_err(|e| e.to_string())
        .and_then(|pool| {
            let result = (|| {
                let mut conn = pool.get_for_writing("local copy").map_err(|e| e.to_string())?;
                let source_target = source_params.display_target();
                let mut source_client =
                    db::connect_once(source_params).map_err(|e| e.to_string())?;
                tracing::info!(
                    "Copying {} at {source_target} into the private store at {} (only reading the source)",
                    source.describe(),
                    pool.target()
                );
                crate::import::postgres::load_from_postgres(
                    &mut conn,
                    pool.target(),
                    &mut source_client,
                    &source_target,
                    source,
                    progress,
                )
                .map_err(|e| e.to_string())
            })();
            pool.close();
            result
        });
    server.shutdown();
    result
}
