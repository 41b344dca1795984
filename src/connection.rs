//! The connection lifecycle, without egui: start the server and pool on a background thread,
//! retry with backoff while the server is down, wait for the user when settings must change, and
//! close on exit. The window drives it from `logic`; a [`Waker`] handed in lets its threads ask
//! for the next frame.

use std::sync::Arc;
use std::time::{Duration, Instant};

use crossbeam_channel::Receiver;

use crate::config::Settings;
use crate::db::cluster::ClusterError;
use crate::db::error::{DbError, DbErrorKind};
use crate::db::pool::DatabasePool;
use crate::db::{self, Server, StartError};
use crate::pool_stats::LinkStatus;
use crate::progress::Progress;
use crate::worker::{Reply, Workers};

/// Asks the window for a frame after the given delay (`Duration::ZERO`: as soon as possible).
/// The window passes `egui::Context::request_repaint_after`; tests and the CLI pass what they need.
pub type Waker = Arc<dyn Fn(Duration) + Send + Sync>;

/// What the startup thread reports.
pub enum StartupEvent {
    /// A step of the first start (init, seeding) with its progress.
    Progress(String, Option<Progress>),
    /// Everything is up.
    Ready(Box<Backend>),
    /// It failed; the message says what to do.
    Failed(StartFailure),
}

/// A failed start, for the error state.
#[derive(Clone, Debug)]
pub struct StartFailure {
    /// Whether retrying can help (server down) or settings must change (wrong password).
    pub kind: DbErrorKind,
    /// The message for people.
    pub message: String,
}

impl From<StartError> for StartFailure {
    fn from(err: StartError) -> Self {
        match err {
            StartError::Database(db) => Self {
                kind: db.kind,
                message: db.to_string(),
            },
            StartError::Cluster(c) => Self {
                kind: cluster_failure_kind(&c),
                message: c.to_string(),
            },
        }
    }
}

/// Whether a private-cluster failure can heal by itself. Only starting the server can (a port
/// taken meanwhile, a server still shutting down, another Marquee holding the folder's lock):
/// that is [`DbErrorKind::Unreachable`], retried with backoff. Missing server programs, a data
/// folder the server account cannot reach, no account to run it as, a failed `initdb` or a
/// folder we may not write are [`DbErrorKind::Setup`]: retrying would fail the same way forever.
pub fn cluster_failure_kind(err: &ClusterError) -> DbErrorKind {
    use std::io::ErrorKind as Io;
    match err {
        ClusterError::Command { program, .. } if program == "pg_ctl" => DbErrorKind::Unreachable,
        ClusterError::Io { source, .. }
            if !matches!(
                source.kind(),
                Io::PermissionDenied
                    | Io::NotFound
                    | Io::ReadOnlyFilesystem
                    | Io::NotADirectory
                    | Io::IsADirectory
                    | Io::StorageFull
                    | Io::QuotaExceeded
            ) =>
        {
            DbErrorKind::Unreachable
        }
        ClusterError::BinariesNotFound { .. }
        | ClusterError::Unreachable { .. }
        | ClusterError::NoServerAccount { .. }
        | ClusterError::Command { .. }
        | ClusterError::Io { .. } => DbErrorKind::Setup,
    }
}

/// The live connection: server, pool, workers.
pub struct Backend {
    /// The server (and the private cluster, if ours).
    pub server: Server,
    /// The shared pool.
    pub pool: DatabasePool,
    /// The collection loaded (`marquee_meta.collection`), for the status bar.
    pub collection: Option<String>,
    /// `SHOW server_version`, for the status bar.
    pub server_version: Option<String>,
}

/// Where the connection stands.
pub enum Connection {
    /// The startup thread is working.
    Starting {
        /// Its reports.
        events: Receiver<StartupEvent>,
        /// The latest step.
        step: String,
        /// The latest progress.
        progress: Option<Progress>,
        /// Since when.
        since: Instant,
        /// Failed attempts before this one.
        attempt: u32,
    },
    /// Connected.
    Ready {
        /// Server and pool.
        backend: Box<Backend>,
        /// The workers.
        workers: Workers,
    },
    /// Failed; retrying at `next_retry` (unless the failure needs a settings change).
    Failed {
        /// What went wrong.
        failure: StartFailure,
        /// Retries so far.
        attempt: u32,
        /// When the next automatic retry happens, if any.
        next_retry: Option<Instant>,
    },
}

/// Backoff before retry `attempt` (1-based): 1, 2, 4, 8, 16, 30, 30 … seconds, each with ±20%
/// jitter so that many clients do not reconnect in lockstep.
pub fn retry_delay(attempt: u32) -> Duration {
    let base_ms = 1_000_u64
        .saturating_mul(1 << attempt.saturating_sub(1).min(5))
        .min(30_000);
    // Cheap jitter without a random crate: the sub-second clock is random enough here.
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::from(d.subsec_nanos()));
    let jitter = (nanos % 401) as i64 - 200; // -200..=200 per mille
    let ms = base_ms as i64 + base_ms as i64 * jitter / 1_000;
    Duration::from_millis(ms.max(100) as u64)
}

/// Starts the server, pool, migrations and (first start) seeding on a background thread.
pub fn spawn_startup(
    settings: Settings,
    repaint: impl Fn() + Send + 'static,
) -> Receiver<StartupEvent> {
    let (tx, rx) = crossbeam_channel::unbounded();
    let spawned = std::thread::Builder::new()
        .name("marquee-startup".into())
        .spawn(move || {
            let send = |event: StartupEvent| {
                let _ = tx.send(event);
                repaint();
            };
            let private = matches!(settings.server, crate::config::ServerChoice::Private { .. });
            send(StartupEvent::Progress(
                if private {
                    "Starting the private PostgreSQL server…"
                } else {
                    "Connecting…"
                }
                .to_owned(),
                None,
            ));
            let server = match Server::start(&settings) {
                Ok(server) => server,
                Err(err) => return send(StartupEvent::Failed(err.into())),
            };
            send(StartupEvent::Progress(
                format!("Connecting to {}…", server.params.display_target()),
                None,
            ));
            let pool = match db::open_pool(&server, &settings) {
                Ok(pool) => pool,
                Err(err) => {
                    server.shutdown();
                    return send(StartupEvent::Failed(StartError::from(err).into()));
                }
            };
            let seeded = (|| -> Result<(Option<String>, Option<String>), DbError> {
                let mut conn = pool.get("startup.seed")?;
                let target = pool.target().to_owned();
                let movies = if private {
                    // The window shows the progress; so does the terminal it was started from.
                    crate::progress::with_progress_bar(|terminal| {
                        crate::import::load::seed_if_empty(&mut conn, &target, &mut |p| {
                            terminal(p.clone());
                            send(StartupEvent::Progress(
                                "Generating the sample collection…".to_owned(),
                                Some(p),
                            ));
                        })
                    })
                    .map_err(|e| match e {
                        crate::import::load::LoadError::Database(db) => db,
                        other => DbError::new(DbErrorKind::Query, other.to_string()),
                    })?
                    .movies
                } else {
                    crate::db::source::movie_count(&mut *conn, pool.source())
                        .map_err(|e| DbError::from_postgres(&e, &target))?
                };
                tracing::info!("Loaded {movies} movies");
                // Unnamed statements only: named prepared statements break behind PgBouncer in
                // transaction mode.
                let version = conn
                    .query_typed_one("SHOW server_version", &[])
                    .ok()
                    .and_then(|row| row.try_get::<_, String>(0).ok());
                let collection =
                    crate::db::source::collection_description(&mut *conn, pool.source())
                        .map_err(|e| DbError::from_postgres(&e, &target))?;
                Ok((collection, version))
            })();
            match seeded {
                Ok((collection, server_version)) => send(StartupEvent::Ready(Box::new(Backend {
                    server,
                    pool,
                    collection,
                    server_version,
                }))),
                Err(err) => {
                    pool.close();
                    drop(pool);
                    server.shutdown();
                    send(StartupEvent::Failed(StartFailure {
                        kind: err.kind,
                        message: err.to_string(),
                    }));
                }
            }
        });
    if let Err(err) = spawned {
        tracing::error!("could not start the startup thread: {err}");
    }
    rx
}

impl Connection {
    /// Begins connecting.
    pub fn start(settings: &Settings, waker: &Waker) -> Self {
        Self::start_attempt(settings, waker, 0)
    }

    fn start_attempt(settings: &Settings, waker: &Waker, attempt: u32) -> Self {
        let waker = Arc::clone(waker);
        Connection::Starting {
            events: spawn_startup(settings.clone(), move || waker(Duration::ZERO)),
            step: "Starting…".to_owned(),
            progress: None,
            since: Instant::now(),
            attempt,
        }
    }

    /// The pool, once connected.
    pub fn pool(&self) -> Option<&DatabasePool> {
        match self {
            Connection::Ready { backend, .. } => Some(&backend.pool),
            _ => None,
        }
    }

    /// The workers, once connected.
    pub fn workers(&self) -> Option<&Workers> {
        match self {
            Connection::Ready { workers, .. } => Some(workers),
            _ => None,
        }
    }

    /// What the pool stats panel shows while there is no pool; `None` once connected (the
    /// pool's own snapshots tell the rest).
    pub fn link_status(&self) -> Option<LinkStatus> {
        match self {
            Connection::Starting { attempt, .. } => {
                Some(LinkStatus::Connecting { attempt: *attempt })
            }
            Connection::Failed {
                failure,
                attempt,
                next_retry,
            } => Some(LinkStatus::Failed {
                kind: failure.kind,
                message: failure.message.clone(),
                attempt: *attempt,
                next_retry: *next_retry,
            }),
            Connection::Ready { .. } => None,
        }
    }

    /// Advances the state machine: startup reports, automatic retries. Returns `true` when the
    /// connection just became ready (so the caller can run the current filter).
    pub fn poll(&mut self, settings: &Settings, waker: &Waker) -> bool {
        let next = match self {
            Connection::Starting {
                events,
                step,
                progress,
                attempt,
                ..
            } => {
                let mut next = None;
                while let Ok(event) = events.try_recv() {
                    match event {
                        StartupEvent::Progress(s, p) => {
                            *step = s;
                            *progress = p;
                        }
                        StartupEvent::Ready(backend) => {
                            let wake = Arc::clone(waker);
                            let size = backend.pool.settings().max_size as usize;
                            let workers = Workers::start(
                                backend.pool.clone(),
                                size,
                                Box::new(move || wake(Duration::ZERO)),
                            );
                            next = Some(Connection::Ready { backend, workers });
                        }
                        StartupEvent::Failed(failure) => {
                            tracing::warn!("could not connect: {}", failure.message);
                            next = Some(Connection::failed(failure, *attempt + 1));
                        }
                    }
                }
                next
            }
            Connection::Failed {
                next_retry: Some(at),
                attempt,
                ..
            } if Instant::now() >= *at => {
                Some(Connection::start_attempt(settings, waker, *attempt))
            }
            Connection::Failed {
                next_retry: Some(at),
                ..
            } => {
                waker(at.saturating_duration_since(Instant::now()));
                None
            }
            _ => None,
        };
        let Some(next) = next else { return false };
        let became_ready = matches!(next, Connection::Ready { .. });
        std::mem::replace(self, next).close_in_background();
        became_ready
    }

    fn failed(failure: StartFailure, attempt: u32) -> Self {
        // A rejected login or a bad schema will not fix itself: wait for the user.
        let retry = failure
            .kind
            .is_transient()
            .then(|| Instant::now() + retry_delay(attempt));
        Connection::Failed {
            failure,
            attempt,
            next_retry: retry,
        }
    }

    /// Hands worker replies to `f` (the UI drains them every frame).
    pub fn drain_replies(&self, mut f: impl FnMut(Reply)) {
        if let Connection::Ready { workers, .. } = self {
            while let Some(reply) = workers.try_recv() {
                f(reply);
            }
        }
    }

    /// [`Connection::close`] on another thread, so the window never waits for it.
    pub fn close_in_background(self) {
        if matches!(self, Connection::Ready { .. }) {
            let _ = std::thread::Builder::new()
                .name("marquee-close".into())
                .spawn(move || self.close());
        }
    }

    /// Shuts down workers, pool and (if ours and unused) the private server. Blocks briefly;
    /// called on exit (so the private server is stopped before the process ends).
    pub fn close(self) {
        if let Connection::Ready { backend, workers } = self {
            workers.shutdown(Duration::from_secs(2));
            let Backend { server, pool, .. } = *backend;
            pool.close();
            drop(pool);
            server.shutdown();
        }
    }
}

/// A "Test connection" under way: one connect on a thread of its own, so the window keeps
/// drawing, bounded by a deadline of its own.
pub struct ConnectionTest {
    answer: Receiver<Result<String, String>>,
    /// rust-postgres bounds only the socket connect by `connect_timeout`: a server that accepts
    /// and never answers would keep the test going for hours. The pool's handshake deadline: a
    /// second past the connect timeout.
    deadline: Instant,
    /// `host:port/db`, for the message.
    target: String,
}

impl ConnectionTest {
    /// Connects once to `params` and asks for the server version; `waker` is called when the
    /// answer is there.
    pub fn start(params: crate::config::ConnectParams, waker: &Waker) -> Result<Self, String> {
        let (tx, rx) = crossbeam_channel::bounded(1);
        let deadline = Instant::now() + params.handshake_timeout();
        let target = params.display_target();
        let wake = Arc::clone(waker);
        std::thread::Builder::new()
            .name("marquee-test-connection".into())
            .spawn(move || {
                let started = Instant::now();
                let result = db::connect_once(&params)
                    .and_then(|mut client| {
                        // An unnamed statement: the server may be PgBouncer in transaction
                        // mode, where named prepared statements break.
                        client
                            .query_typed_one("SHOW server_version", &[])
                            .and_then(|row| row.try_get::<_, String>(0))
                            .map_err(|e| DbError::from_postgres(&e, &params.display_target()))
                    })
                    .map(|version| {
                        format!(
                            "Connected to PostgreSQL {version} in {} ms",
                            started.elapsed().as_millis()
                        )
                    })
                    .map_err(|e| e.to_string());
                let _ = tx.send(result);
                wake(Duration::ZERO);
            })
            .map_err(|err| format!("could not start the test: {err}"))?;
        waker(deadline.saturating_duration_since(Instant::now()));
        Ok(Self {
            answer: rx,
            deadline,
            target,
        })
    }

    /// The answer once there (or once the deadline passed); `None` while waiting.
    pub fn poll(&self, now: Instant) -> Option<Result<String, String>> {
        if let Ok(result) = self.answer.try_recv() {
            return Some(result);
        }
        (now >= self.deadline).then(|| {
            Err(format!(
                "the server at {} accepted the connection but does not answer; is that the PostgreSQL port, and is the server overloaded or hung?",
                self.target
            ))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kind_of(err: ClusterError) -> DbErrorKind {
        StartFailure::from(StartError::Cluster(err)).kind
    }

    fn io(kind: std::io::ErrorKind) -> ClusterError {
        ClusterError::Io {
            path: "/var/lib/marquee".into(),
            source: std::io::Error::from(kind),
        }
    }

    #[test]
    fn setup_problems_wait_for_the_user_instead_of_retrying_forever() {
        let needs_the_user = [
            ClusterError::BinariesNotFound {
                searched: "/usr/lib/postgresql".into(),
            },
            ClusterError::Unreachable {
                user: "postgres".into(),
                blocked: "/root".into(),
            },
            ClusterError::NoServerAccount {
                tried: "postgres, nobody".into(),
            },
            ClusterError::Command {
                program: "initdb".into(),
                detail: "invalid locale name".into(),
                log: "/var/lib/marquee/server.log".into(),
            },
            io(std::io::ErrorKind::PermissionDenied),
            io(std::io::ErrorKind::ReadOnlyFilesystem),
        ];
        for err in needs_the_user {
            let text = err.to_string();
            let kind = kind_of(err);
            assert_eq!(kind, DbErrorKind::Setup, "{text}");
            assert!(!kind.is_transient(), "{text}");
            let failed = Connection::failed(
                StartFailure {
                    kind,
                    message: text,
                },
                1,
            );
            assert!(matches!(
                failed,
                Connection::Failed {
                    next_retry: None,
                    ..
                }
            ));
        }
    }

    #[test]
    fn a_server_that_did_not_start_is_retried() {
        let not_started = [
            ClusterError::Command {
                program: "pg_ctl".into(),
                detail: "could not start server".into(),
                log: "/var/lib/marquee/server.log".into(),
            },
            // Another Marquee held the folder's lock for too long.
            ClusterError::Io {
                path: "/var/lib/marquee/marquee.lock".into(),
                source: std::io::Error::other("lock held for two minutes"),
            },
        ];
        for err in not_started {
            let text = err.to_string();
            let kind = kind_of(err);
            assert_eq!(kind, DbErrorKind::Unreachable, "{text}");
            let failed = Connection::failed(
                StartFailure {
                    kind,
                    message: text,
                },
                1,
            );
            assert!(matches!(
                failed,
                Connection::Failed {
                    next_retry: Some(_),
                    ..
                }
            ));
        }
    }
}
