//! The one shared connection pool: r2d2 over r2d2_postgres, instrumented, with checkouts that
//! say *why* they failed and connections that cannot be reused in a bad state.
//!
//! [`DatabasePool`] is a cheap-clone handle (like `r2d2::Pool`): every clone refers to the same
//! pool. It is built once at launch and handed to each repository; a repository cannot exist
//! without one, so the original's "DatabasePool not initialized" error cannot happen.
//!
//! A checkout ([`DatabasePool::get`]) returns a [`DbConn`] guard; dropping it returns the
//! connection. A connection dropped while its thread panics is marked poisoned and discarded.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::time::{Duration, Instant, SystemTime};

use parking_lot::Mutex;
use postgres::{CancelToken, Client};
use postgres_openssl::MakeTlsConnector;
use r2d2::{CustomizeConnection, HandleEvent, ManageConnection};
use r2d2_postgres::PostgresConnectionManager;
use serde::Serialize;

use crate::config::{ConnectParams, PoolSettings};
use crate::db::error::{DbError, DbErrorKind};
use crate::db::hosts::{self, HostBoard, HostStatus};
use crate::db::metrics::{CloseReason, PoolCounters, PoolMetrics};
use crate::db::tls;

/// A pooled connection with the bookkeeping r2d2 does not keep.
pub struct PgConn {
    client: OwnedClient,
    id: u64,
    backend_pid: i32,
    opened_at: Instant,
    last_used: Instant,
    close_reason: Option<CloseReason>,
    /// The pool's recycle generation when this connection was opened (see
    /// [`DatabasePool::recycle_all`]).
    generation: u64,
    /// Which of its manager's endpoints it was opened on.
    endpoint: usize,
    /// That endpoint's label.
    host: Arc<str>,
}

/// A driver client whose drop never blocks the dropping thread. Closing a connection waits for
/// the server to close its end, which a hung server or a confused pooler may never do; the pool
/// drops connections on the UI thread at exit and inside r2d2's locks, so that wait happens on a
/// thread of its own.
struct OwnedClient(Option<Client>);

impl std::ops::Deref for OwnedClient {
    type Target = Client;

    fn deref(&self) -> &Client {
        match &self.0 {
            Some(client) => client,
            None => unreachable!("OwnedClient is only emptied in drop"),
        }
    }
}

impl std::ops::DerefMut for OwnedClient {
    fn deref_mut(&mut self) -> &mut Client {
        match &mut self.0 {
            Some(client) => client,
            None => unreachable!("OwnedClient is only emptied in drop"),
        }
    }
}

impl Drop for OwnedClient {
    fn drop(&mut self) {
        let Some(client) = self.0.take() else { return };
        if client.is_closed() {
            return; // Nothing to wait for.
        }
        // If the thread cannot be started, the closure (and the client) drops right here.
        let _ = std::thread::Builder::new()
            .name("marquee-close".into())
            .spawn(move || drop(client));
    }
}

/// What the stats panel shows per connection.
#[derive(Clone, Debug, Serialize)]
pub struct ConnectionInfo {
    /// Marquee's id for the connection (stable for its life).
    pub id: u64,
    /// The server process serving it.
    pub backend_pid: i32,
    /// The host it is on (`host:port`, or the server's host list).
    pub host: String,
    /// Seconds since it was opened.
    #[serde(skip)]
    pub opened_at: Instant,
    /// How many checkouts it has served.
    pub use_count: u64,
    /// What it is doing now.
    pub state: ConnectionState,
    #[serde(skip)]
    cancel: CancelHandle,
}

/// The driver's cancel token, which has no `Debug` of its own.
#[derive(Clone)]
struct CancelHandle(CancelToken);

impl std::fmt::Debug for CancelHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CancelToken")
    }
}

impl ConnectionInfo {
    /// Seconds since the connection was opened.
    pub fn age(&self) -> Duration {
        self.opened_at.elapsed()
    }
}

/// Idle in the pool, or checked out for a labelled piece of work.
#[derive(Clone, Debug, Serialize)]
pub enum ConnectionState {
    /// In the pool.
    Idle,
    /// Checked out.
    InUse {
        /// What the holder said it was doing (e.g. `movies.page`).
        label: String,
        /// The worker job it serves, if any (see [`with_job`]).
        job: Option<u64>,
        /// When it was checked out.
        #[serde(skip)]
        since: Instant,
    },
}

#[derive(Debug)]
struct Shared {
    metrics: PoolMetrics,
    connections: Mutex<BTreeMap<u64, ConnectionInfo>>,
    waiters: Mutex<BTreeMap<u64, Instant>>,
    next_waiter: AtomicU64,
    closing: AtomicBool,
    last_error: Mutex<Option<(DbError, SystemTime)>>,
    last_success: Mutex<Option<SystemTime>>,
    settings: PoolSettings,
    target: String,
    /// Bumped by [`DatabasePool::recycle_all`]: a connection opened under an older generation is
    /// discarded when it is next returned, since r2d2 has no "close all idle" call of its own.
    generation: AtomicU64,
    /// Every host's role and lag, when the pool has read replicas (see [`crate::db::hosts`]).
    board: Option<Arc<HostBoard>>,
    last_logged_connect_error: Mutex<Option<(String, Instant)>>,
    /// A pooler in front of the server refused the startup `options` (which carry
    /// `statement_timeout`): connections open without them.
    options_refused: AtomicBool,
    /// A pooler sits between Marquee and the server: the startup `options` were refused, or did
    /// not reach the server. No cancel request is sent through it (see [`DatabasePool::cancel`]).
    behind_pooler: AtomicBool,
    /// Worker jobs a cancel request was sent for, until the job ends (see
    /// [`DatabasePool::take_cancel_meant_for`]).
    cancelled_jobs: Mutex<std::collections::HashSet<u64>>,
}

impl Shared {
    /// Logs a failed connection attempt, but the same message at most every 30 s: r2d2 retries
    /// in the background and a down server would otherwise flood the log.
    fn log_connect_error(&self, error: &DbError) {
        let mut last = self.last_logged_connect_error.lock();
        let repeat = last.as_ref().is_some_and(|(message, at)| {
            *message == error.message && at.elapsed() < Duration::from_secs(30)
        });
        if !repeat {
            tracing::warn!("connecting to {}: {error}", self.target);
            *last = Some((error.message.clone(), Instant::now()));
        }
    }

    fn record_error(&self, error: &DbError) {
        *self.last_error.lock() = Some((error.clone(), SystemTime::now()));
    }
}

static NEXT_CONNECTION_ID: AtomicU64 = AtomicU64::new(1);

thread_local! {
    /// The worker job the current thread is running, recorded on each checkout so that a
    /// superseded job's query can be found and cancelled on the server.
    static CURRENT_JOB: std::cell::Cell<Option<u64>> = const { std::cell::Cell::new(None) };
}

/// Runs `f` with checkouts on this thread tagged as serving worker job `job`.
pub fn with_job<T>(job: u64, f: impl FnOnce() -> T) -> T {
    let previous = CURRENT_JOB.replace(Some(job));
    let result = f();
    CURRENT_JOB.set(previous);
    result
}

/// Where a pooled connection may be opened: the server (its host list, as the settings name it)
/// or one read replica.
struct Endpoint {
    /// `host:port` (or the server's list), as the panel and the host board name it.
    label: String,
    /// `host:port/db`, as messages name it.
    target: String,
    /// A read replica rather than the server.
    replica: bool,
    driver: Arc<PostgresConnectionManager<MakeTlsConnector>>,
    /// The same without the startup `options`, for servers and poolers that refuse them.
    plain: Arc<PostgresConnectionManager<MakeTlsConnector>>,
    /// Handshakes abandoned at their deadline whose threads have not ended yet.
    stuck_connects: AtomicU64,
    /// When the pool last failed to open a connection here: a replica that failed the pool is
    /// preferred again only once its watcher has reached it since, and not for a pause.
    failed_at: Mutex<Option<Instant>>,
}

/// How long a replica that failed the pool is passed over at least: one that its watcher reaches
/// but the pool cannot would otherwise draw connections off the server at every check.
const FAILED_ENDPOINT_PAUSE: Duration = Duration::from_secs(3);

impl Endpoint {
    /// The driver to open the next connection with: with the startup `options` unless they
    /// were refused.
    fn driver(&self, options_refused: bool) -> Arc<PostgresConnectionManager<MakeTlsConnector>> {
        if options_refused {
            Arc::clone(&self.plain)
        } else {
            Arc::clone(&self.driver)
        }
    }

    /// A replica that answers its watcher and has not failed the pool since.
    fn ready(&self, board: &HostBoard) -> bool {
        let Some(answered) = board.answered_at(&self.label) else {
            return false;
        };
        match *self.failed_at.lock() {
            None => true,
            Some(failed) => failed.elapsed() >= FAILED_ENDPOINT_PAUSE && answered > failed,
        }
    }
}

/// Opens connections through r2d2_postgres and adds Marquee's bookkeeping.
struct Manager {
    /// Where connections may go. The writing route has the server alone; the reading route of a
    /// pool with replicas has each replica, then the server.
    endpoints: Vec<Arc<Endpoint>>,
    /// Spread new connections over the replicas that answer, each starting the list in turn
    /// (the replicas' `load_balance_hosts=random`); otherwise the first that answers gets them.
    spread: bool,
    /// Counts new connections, for `spread`.
    opened: AtomicU64,
    shared: Arc<Shared>,
    /// The whole handshake's deadline (libpq's `connect_timeout` semantics).
    handshake_timeout: Duration,
}

impl std::fmt::Debug for Manager {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Manager")
            .field("target", &self.shared.target)
            .finish()
    }
}

/// Why the pool could not open or keep a connection.
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    /// The driver failed (refused, rejected, TLS, …).
    #[error(transparent)]
    Postgres(#[from] postgres::Error),
    /// The server accepted the connection but did not finish the handshake in time.
    #[error("the server accepted the connection but did not answer within {secs} s")]
    NoAnswer {
        /// The deadline that passed.
        secs: u64,
    },
    /// An earlier handshake is still hanging; no new one is started until it ends.
    #[error("an earlier connection attempt is still waiting for the server to answer")]
    StillWaiting,
    /// Validation found the session inside an open or failed transaction.
    #[error("the connection was returned inside a transaction")]
    InTransaction,
    /// The connection reads from the server while a read replica answers again.
    #[error("a read replica answers again; reads move back to it")]
    BackToReplica,
}

impl ConnectError {
    fn to_db_error(&self, target: &str) -> DbError {
        match self {
            ConnectError::Postgres(err) => DbError::from_postgres(err, target),
            ConnectError::NoAnswer { .. } | ConnectError::StillWaiting => DbError::new(
                DbErrorKind::Unreachable,
                format!(
                    "the server at {target} accepted the connection but does not answer; it may be overloaded or hung"
                ),
            ),
            ConnectError::InTransaction | ConnectError::BackToReplica => {
                DbError::new(DbErrorKind::ConnectionLost, self.to_string())
            }
        }
    }
}

/// Where a bounded handshake stands, shared between the pool and the thread doing it.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Handshake {
    Pending,
    Done,
    Abandoned,
}

impl Manager {
    /// The order to try endpoints in for a new connection: replicas that answer their watcher,
    /// replicas not checked yet, the server, and last the replicas known to be down.
    fn order(&self) -> Vec<usize> {
        let Some(board) = &self.shared.board else {
            return (0..self.endpoints.len()).collect();
        };
        let rank = |e: &Endpoint| match (e.replica, e.ready(board), board.down(&e.label)) {
            (true, true, _) => 0,
            (true, false, false) if e.failed_at.lock().is_none() => 1,
            (false, _, _) => 2,
            _ => 3,
        };
        let mut order: Vec<usize> = (0..self.endpoints.len()).collect();
        if self.spread {
            let turn = self.opened.fetch_add(1, Relaxed) as usize;
            let len = order.len();
            order.rotate_left(turn % len);
        }
        // Stable: within a rank, the list's order (or this connection's turn of it) holds.
        order.sort_by_key(|&i| rank(&self.endpoints[i]));
        order
    }

    /// Whether `conn` sits on the server only because no replica answered, while one does now:
    /// it is closed at its next checkout or return, and its successor goes to the replica.
    fn misplaced(&self, conn: &PgConn) -> bool {
        let Some(board) = &self.shared.board else {
            return false;
        };
        let on_server = !self.endpoints[conn.endpoint].replica;
        on_server && self.endpoints.iter().any(|e| e.replica && e.ready(board))
    }

    /// Opens a connection on `endpoint`, without the startup `options` once a pooler refused
    /// them.
    fn open_on(&self, endpoint: &Arc<Endpoint>) -> Result<(Client, i32, i64), ConnectError> {
        let mut result = self.connect_bounded(endpoint);
        if let Err(ConnectError::Postgres(err)) = &result
            && refuses_startup_options(err)
        {
            if !self.shared.options_refused.swap(true, Relaxed) {
                tracing::warn!(
                    "{} refused the startup parameter `options` (a pooler such as PgBouncer \
                     without `ignore_startup_parameters = options`): connecting without it",
                    endpoint.target
                );
            }
            result = self.connect_bounded(endpoint);
        }
        result
    }

    /// Opens a connection on a helper thread and gives up after the connect timeout.
    ///
    /// rust-postgres applies `connect_timeout` to the socket only: a server that accepts TCP
    /// but never answers the startup message would hang the attempt (and an r2d2 thread)
    /// forever. An abandoned attempt's thread ends when the server finally answers or the
    /// socket dies; until then no second attempt is started, so at most one thread is stuck.
    fn connect_bounded(
        &self,
        endpoint: &Arc<Endpoint>,
    ) -> Result<(Client, i32, i64), ConnectError> {
        if endpoint.stuck_connects.load(Relaxed) > 0 {
            return Err(ConnectError::StillWaiting);
        }
        let (tx, rx) = crossbeam_channel::bounded(1);
        let state = Arc::new(Mutex::new(Handshake::Pending));
        let inner = endpoint.driver(self.shared.options_refused.load(Relaxed));
        let stuck = Arc::clone(endpoint);
        let thread_state = Arc::clone(&state);
        let spawned = std::thread::Builder::new()
            .name("marquee-connect".into())
            .spawn(move || {
                let result = inner.connect().and_then(identify);
                let mut state = thread_state.lock();
                if *state == Handshake::Abandoned {
                    stuck.stuck_connects.fetch_sub(1, Relaxed);
                    return; // Dropping a late connection closes it.
                }
                *state = Handshake::Done;
                let _ = tx.send(result);
            });
        if spawned.is_err() {
            let driver = endpoint.driver(self.shared.options_refused.load(Relaxed));
            return Ok(identify(driver.connect()?)?);
        }
        match rx.recv_timeout(self.handshake_timeout) {
            Ok(result) => Ok(result?),
            Err(_) => {
                let mut state = state.lock();
                if *state == Handshake::Done {
                    drop(state);
                    return rx
                        .try_recv()
                        .map_err(|_| ConnectError::StillWaiting)?
                        .map_err(ConnectError::from);
                }
                *state = Handshake::Abandoned;
                endpoint.stuck_connects.fetch_add(1, Relaxed);
                Err(ConnectError::NoAnswer {
                    secs: self.handshake_timeout.as_secs(),
                })
            }
        }
    }
}

impl ManageConnection for Manager {
    type Connection = PgConn;
    type Error = ConnectError;

    fn connect(&self) -> Result<PgConn, ConnectError> {
        let metrics = &self.shared.metrics;
        metrics.opening.fetch_add(1, Relaxed);
        let started = Instant::now();
        let mut result = Err(ConnectError::StillWaiting);
        let mut endpoint = 0;
        for index in self.order() {
            let candidate = &self.endpoints[index];
            endpoint = index;
            result = self.open_on(candidate);
            match &result {
                Ok(_) => break,
                Err(err) => {
                    *candidate.failed_at.lock() = Some(Instant::now());
                    if self.endpoints.len() > 1 {
                        let error = err.to_db_error(&candidate.target);
                        tracing::warn!(
                            "connecting to {}: {error}; trying the next host",
                            candidate.target
                        );
                    }
                }
            }
        }
        if let Ok((_, _, server_timeout_ms)) = &result {
            let asked = self.shared.settings.statement_timeout_ms;
            let dropped = asked > 0 && u64::try_from(*server_timeout_ms).ok() != Some(asked);
            if (dropped || self.shared.options_refused.load(Relaxed))
                && !self.shared.behind_pooler.swap(true, Relaxed)
            {
                tracing::warn!(
                    "a pooler sits between Marquee and {}: the statement timeout Marquee asks for \
                     at connect does not reach the server (it runs with {server_timeout_ms} ms; \
                     0 = none), so each read sets it in its own transaction; and queries are not \
                     cancelled on the server through it (PgBouncer 1.18 crashes on this driver's \
                     cancel requests): superseded work runs to its end and its answer is dropped",
                    self.shared.target
                );
            }
        }
        metrics.opening.fetch_sub(1, Relaxed);
        let (client, backend_pid, _) = match result {
            Ok(ok) => ok,
            Err(err) => {
                metrics.connect_errors.fetch_add(1, Relaxed);
                let error = err.to_db_error(&self.endpoints[endpoint].target);
                self.shared.log_connect_error(&error);
                self.shared.record_error(&error);
                return Err(err);
            }
        };
        metrics.connect.record(started.elapsed());
        metrics.opened.fetch_add(1, Relaxed);
        let id = NEXT_CONNECTION_ID.fetch_add(1, Relaxed);
        let now = Instant::now();
        self.shared.connections.lock().insert(
            id,
            ConnectionInfo {
                id,
                backend_pid,
                host: self.endpoints[endpoint].label.clone(),
                opened_at: now,
                use_count: 0,
                state: ConnectionState::Idle,
                cancel: CancelHandle(client.cancel_token()),
            },
        );
        Ok(PgConn {
            client: OwnedClient(Some(client)),
            id,
            backend_pid,
            opened_at: now,
            last_used: now,
            close_reason: None,
            generation: self.shared.generation.load(Relaxed),
            endpoint,
            host: Arc::from(self.endpoints[endpoint].label.as_str()),
        })
    }

    fn is_valid(&self, conn: &mut PgConn) -> Result<(), ConnectError> {
        if self.misplaced(conn) {
            conn.close_reason = Some(CloseReason::BackToReplica);
            return Err(ConnectError::BackToReplica);
        }
        // A connection used moments ago is almost surely alive; skipping the round trip keeps
        // checkout in the microseconds. Older ones are checked, with a deadline of their own so
        // a dead socket cannot stall a checkout past its limit.
        let bypass = Duration::from_millis(self.shared.settings.validation_bypass_ms);
        if conn.last_used.elapsed() < bypass && !conn.client.is_closed() {
            return Ok(());
        }
        self.shared.metrics.validations.fetch_add(1, Relaxed);
        let timeout = Duration::from_millis(self.shared.settings.validation_timeout_ms);
        if let Err(err) = conn.client.is_valid(timeout) {
            conn.close_reason = Some(CloseReason::FailedValidation);
            return Err(err.into());
        }
        // Outside a transaction every statement is its own, so its start is the transaction's
        // start. A session left in an open transaction answers `false`; one in a failed
        // transaction answers with an error. Either way it must not serve the next job.
        // (The simple protocol matters: with Parse/Bind/Execute the two clocks differ even
        // outside a transaction.)
        let clean = conn
            .client
            .simple_query("SELECT now() = statement_timestamp()")
            .map(|messages| {
                messages.iter().any(|m| matches!(m, postgres::SimpleQueryMessage::Row(row) if row.get(0) == Some("t")))
            });
        match clean {
            Ok(true) => Ok(()),
            Ok(false) | Err(_) => {
                conn.close_reason = Some(CloseReason::Poisoned);
                Err(ConnectError::InTransaction)
            }
        }
    }

    fn has_broken(&self, conn: &mut PgConn) -> bool {
        if conn.close_reason.is_some() {
            return true;
        }
        if conn.generation < self.shared.generation.load(Relaxed) {
            conn.close_reason = Some(CloseReason::PoolClosed);
            return true;
        }
        if self.misplaced(conn) {
            conn.close_reason = Some(CloseReason::BackToReplica);
            return true;
        }
        if conn.client.is_closed() {
            conn.close_reason = Some(CloseReason::Broken);
            return true;
        }
        false
    }
}

/// Counts closes by reason and forgets the connection, when r2d2 lets go of it.
#[derive(Debug)]
struct Customizer {
    shared: Arc<Shared>,
}

impl CustomizeConnection<PgConn, ConnectError> for Customizer {
    fn on_release(&self, conn: PgConn) {
        let reason = conn.close_reason.unwrap_or_else(|| {
            let lifetime = Duration::from_secs(self.shared.settings.max_lifetime_secs);
            if self.shared.closing.load(Relaxed) {
                CloseReason::PoolClosed
            } else if conn.opened_at.elapsed() >= lifetime {
                CloseReason::MaxLifetime
            } else {
                CloseReason::IdleTimeout
            }
        });
        self.shared.metrics.record_close(reason);
        self.shared.connections.lock().remove(&conn.id);
    }
}

/// Feeds r2d2's checkin and timeout events into the metrics.
#[derive(Debug)]
struct Events {
    shared: Arc<Shared>,
}

impl HandleEvent for Events {
    fn handle_checkin(&self, event: r2d2::event::CheckinEvent) {
        self.shared.metrics.hold.record(event.duration());
    }
}

/// The driver settings of one endpoint: `params` with the pool's statement timeout in the
/// startup `options`, and a plain twin without them.
fn endpoint(
    params: &ConnectParams,
    replica: bool,
    settings: &PoolSettings,
) -> Result<Endpoint, DbError> {
    let (mut config, tls) = tls::driver_config(params, params.application_name())?;
    let plain = PostgresConnectionManager::new(config.clone(), tls.clone());
    // The user's own `options` (PGOPTIONS) first: the pool's statement timeout is what the pool
    // enforces and reports, so it comes last and wins.
    let timeout = format!("-c statement_timeout={}", settings.statement_timeout_ms);
    config.options(&match &params.options {
        Some(options) => format!("{options} {timeout}"),
        None => timeout,
    });
    Ok(Endpoint {
        label: params.hosts_label(),
        target: params.display_target(),
        replica,
        driver: Arc::new(PostgresConnectionManager::new(config, tls)),
        plain: Arc::new(plain),
        stuck_connects: AtomicU64::new(0),
        failed_at: Mutex::new(None),
    })
}

/// One r2d2 pool over `manager`'s endpoints, instrumented into `shared`.
fn route(
    settings: &PoolSettings,
    min_idle: u32,
    shared: &Arc<Shared>,
    manager: Manager,
) -> r2d2::Pool<Manager> {
    r2d2::Pool::builder()
        .max_size(settings.max_size)
        .min_idle(Some(min_idle))
        .connection_timeout(settings.checkout_timeout())
        .test_on_check_out(true)
        .idle_timeout(Some(Duration::from_secs(settings.idle_timeout_secs)))
        .max_lifetime(Some(Duration::from_secs(settings.max_lifetime_secs)))
        .error_handler(Box::new(r2d2::NopErrorHandler))
        .event_handler(Box::new(Events {
            shared: Arc::clone(shared),
        }))
        .connection_customizer(Box::new(Customizer {
            shared: Arc::clone(shared),
        }))
        .build_unchecked(manager)
}

/// The application's connection pool. Clones share one pool.
///
/// With read replicas it has two routes over the same bookkeeping: reads (each replica, then the
/// server) and writes (the server), each up to the pool's maximum.
#[derive(Clone, Debug)]
pub struct DatabasePool {
    /// Reads; everything when there are no replicas.
    pool: r2d2::Pool<Manager>,
    /// Writes, when there are replicas.
    writes: Option<r2d2::Pool<Manager>>,
    shared: Arc<Shared>,
    params: Arc<ConnectParams>,
    source: Arc<crate::db::source::Source>,
}

impl DatabasePool {
    /// Builds the pool without waiting for the server: if it is down, the pool starts empty and
    /// keeps trying in the background, so the window can open and show that state.
    pub fn new(params: &ConnectParams, settings: &PoolSettings) -> Result<Self, DbError> {
        let target = params.display_target();
        tracing::info!("Connecting to PostgreSQL at {target}");
        let server = Arc::new(endpoint(params, false, settings)?);
        let replicas = match &params.replicas {
            Some(replicas) => {
                tracing::info!(
                    "Browsing reads go to the replicas at {}",
                    replicas.display_target()
                );
                hosts::split_hosts(replicas)
                    .iter()
                    .map(|host| endpoint(host, true, settings).map(Arc::new))
                    .collect::<Result<Vec<_>, _>>()?
            }
            None => Vec::new(),
        };
        let board = params
            .replicas
            .as_deref()
            .map(|replicas| Arc::new(HostBoard::new(params, replicas)));
        let shared = Arc::new(Shared {
            metrics: PoolMetrics::default(),
            connections: Mutex::new(BTreeMap::new()),
            waiters: Mutex::new(BTreeMap::new()),
            next_waiter: AtomicU64::new(0),
            closing: AtomicBool::new(false),
            last_error: Mutex::new(None),
            last_success: Mutex::new(None),
            settings: settings.clone(),
            target: target.clone(),
            generation: AtomicU64::new(0),
            board: board.clone(),
            last_logged_connect_error: Mutex::new(None),
            options_refused: AtomicBool::new(false),
            behind_pooler: AtomicBool::new(false),
            cancelled_jobs: Mutex::new(std::collections::HashSet::new()),
        });
        if let (Some(board), Some(replicas)) = (&board, &params.replicas) {
            HostBoard::watch(
                board,
                params,
                replicas,
                Arc::downgrade(&shared),
                |shared: &Shared| shared.closing.load(Relaxed),
            );
        }
        let handshake_timeout = params.handshake_timeout();
        let manager = |endpoints: Vec<Arc<Endpoint>>| Manager {
            endpoints,
            spread: params
                .replicas
                .as_ref()
                .is_some_and(|r| r.load_balance_hosts),
            opened: AtomicU64::new(0),
            shared: Arc::clone(&shared),
            handshake_timeout,
        };
        let (pool, writes) = if replicas.is_empty() {
            (
                route(settings, settings.min_idle, &shared, manager(vec![server])),
                None,
            )
        } else {
            // Reads go to the replicas, then the server; writes to the server alone, on
            // connections opened only when a command writes.
            let reads = replicas.into_iter().chain([Arc::clone(&server)]).collect();
            (
                route(settings, settings.min_idle, &shared, manager(reads)),
                Some(route(settings, 0, &shared, manager(vec![server]))),
            )
        };
        tracing::info!(
            "Initialized database connection pool ({}-{} connections)",
            settings.min_idle,
            settings.max_size
        );
        Ok(Self {
            pool,
            writes,
            shared,
            params: Arc::new(params.clone()),
            source: Arc::new(crate::db::source::Source::default()),
        })
    }

    /// The same pool reading `source` (what `crate::db::source::detect` found). Set it before the
    /// pool is shared: clones made earlier keep the source they had.
    pub fn with_source(mut self, source: crate::db::source::Source) -> Self {
        self.source = Arc::new(source);
        self
    }

    /// What this pool's database holds and how to read it (Marquee's current schema unless
    /// [`DatabasePool::with_source`] said otherwise).
    pub fn source(&self) -> &crate::db::source::Source {
        &self.source
    }

    /// Checks out a connection, waiting up to the checkout deadline. `label` names the work
    /// (shown in the stats panel while the connection is held).
    pub fn get(&self, label: &str) -> Result<DbConn, DbError> {
        self.get_timeout(label, self.shared.settings.checkout_timeout())
    }

    /// Like [`DatabasePool::get`] with an explicit deadline.
    pub fn get_timeout(&self, label: &str, timeout: Duration) -> Result<DbConn, DbError> {
        self.checkout(&self.pool, label, timeout)
    }

    /// A connection for a command that writes: on the server, never on a read replica. Without
    /// replicas it is [`DatabasePool::get`].
    pub fn get_for_writing(&self, label: &str) -> Result<DbConn, DbError> {
        let route = self.writes.as_ref().unwrap_or(&self.pool);
        self.checkout(route, label, self.shared.settings.checkout_timeout())
    }

    fn checkout(
        &self,
        route: &r2d2::Pool<Manager>,
        label: &str,
        timeout: Duration,
    ) -> Result<DbConn, DbError> {
        let started = Instant::now();
        let metrics = &self.shared.metrics;
        let conn = match route.try_get() {
            Some(conn) => conn,
            None => {
                metrics.waited_checkouts.fetch_add(1, Relaxed);
                metrics.waiting.fetch_add(1, Relaxed);
                let ticket = self.shared.next_waiter.fetch_add(1, Relaxed);
                self.shared.waiters.lock().insert(ticket, started);
                let result = route.get_timeout(timeout);
                self.shared.waiters.lock().remove(&ticket);
                metrics.waiting.fetch_sub(1, Relaxed);
                match result {
                    Ok(conn) => conn,
                    Err(err) => {
                        metrics.timeouts.fetch_add(1, Relaxed);
                        let error = self.checkout_error(route, timeout, err);
                        self.shared.record_error(&error);
                        return Err(error);
                    }
                }
            }
        };
        metrics.wait.record(started.elapsed());
        metrics.checkouts.fetch_add(1, Relaxed);
        let id = conn.id;
        if let Some(info) = self.shared.connections.lock().get_mut(&id) {
            info.use_count += 1;
            info.state = ConnectionState::InUse {
                label: label.to_owned(),
                job: CURRENT_JOB.get(),
                since: Instant::now(),
            };
        }
        Ok(DbConn {
            conn: Some(conn),
            shared: Arc::clone(&self.shared),
        })
    }

    /// Says whether the pool was full or the server unreachable.
    fn checkout_error(
        &self,
        route: &r2d2::Pool<Manager>,
        timeout: Duration,
        err: r2d2::Error,
    ) -> DbError {
        let state = route.state();
        let max = self.shared.settings.max_size;
        let secs = timeout.as_secs_f64();
        if state.connections >= max && state.idle_connections == 0 {
            return DbError::new(
                DbErrorKind::PoolExhausted,
                format!(
                    "pool exhausted ({}/{max} in use) for {secs:.1} s; every connection is busy with other queries",
                    state.connections
                ),
            );
        }
        if let Some((last, _)) = self.shared.last_error.lock().clone()
            && matches!(
                last.kind,
                DbErrorKind::Unreachable | DbErrorKind::Rejected | DbErrorKind::ConnectionLost
            )
        {
            return last;
        }
        let detail = err.to_string();
        if detail.contains("timed out") || detail.is_empty() {
            return DbError::new(
                DbErrorKind::Unreachable,
                format!(
                    "no connection to {} within {secs:.1} s (opening or validating a connection timed out)",
                    self.shared.target
                ),
            );
        }
        DbError::new(
            DbErrorKind::Unreachable,
            format!("cannot reach {}: {detail}", self.shared.target),
        )
    }

    /// Connection parameters (the password stays redacted in `Debug`).
    pub fn params(&self) -> &ConnectParams {
        &self.params
    }

    /// `host:port/db` of the server.
    pub fn target(&self) -> &str {
        &self.shared.target
    }

    /// The pool's settings.
    pub fn settings(&self) -> &PoolSettings {
        &self.shared.settings
    }

    /// Counts a query and its outcome; called by the repositories' query helper.
    pub fn record_query(&self, result: Result<(), &DbError>) {
        self.shared.metrics.queries.fetch_add(1, Relaxed);
        match result {
            Ok(()) => *self.shared.last_success.lock() = Some(SystemTime::now()),
            Err(error) => {
                self.shared.metrics.query_errors.fetch_add(1, Relaxed);
                if error.kind == DbErrorKind::Cancelled {
                    self.shared.metrics.cancelled_queries.fetch_add(1, Relaxed);
                }
                self.shared.record_error(error);
            }
        }
    }

    /// Asks the server to cancel whatever the connection `id` is running. Blocks for one round
    /// trip to the server; call it from a worker, not the UI thread.
    ///
    /// Behind a pooler nothing is sent: the cancel request rust-postgres sends closes its socket
    /// straight after writing, and PgBouncer 1.18 (Debian 12's) then crashes, dropping every
    /// client (measured in `tests/faults.rs`). The query runs to its end instead.
    pub fn cancel(&self, id: u64) -> Result<bool, DbError> {
        if self.is_behind_pooler() {
            return Err(DbError::new(
                DbErrorKind::Cancelled,
                format!(
                    "not cancelled: a connection pooler sits in front of {} and PgBouncer 1.18 \
                     crashes on the cancel requests Marquee's driver sends; the query runs to its \
                     end (or to the statement timeout set on the role)",
                    self.shared.target
                ),
            ));
        }
        let token = {
            let connections = self.shared.connections.lock();
            let Some(info) = connections.get(&id) else {
                return Ok(false);
            };
            if let ConnectionState::InUse { job: Some(job), .. } = info.state {
                self.record_cancel(job);
            }
            info.cancel.0.clone()
        };
        self.send_cancel(&token)
    }

    /// Notes that a cancel is being sent for `job` (see [`DatabasePool::take_cancel_meant_for`]).
    /// Called with the connections locked: a job's connection is returned under that lock, so
    /// the job cannot end before it is noted, and its worker always finds and clears the note.
    fn record_cancel(&self, job: u64) {
        self.shared.cancelled_jobs.lock().insert(job);
    }

    /// Sends a cancel request through `token`.
    fn send_cancel(&self, token: &CancelToken) -> Result<bool, DbError> {
        let (tls, _) = tls::connector(&self.params)?;
        token
            .cancel_query(tls)
            .map(|()| true)
            .map_err(|err| DbError::from_postgres(&err, &self.shared.target))
    }

    /// Whether a pooler sits between Marquee and the server (the startup `options` were refused
    /// or did not reach the server); known once a connection has been opened.
    pub fn is_behind_pooler(&self) -> bool {
        self.shared.behind_pooler.load(Relaxed)
    }

    /// Behind a pooler, the statement that gives the pool's statement timeout to one transaction
    /// (`SET LOCAL statement_timeout = …`): the startup `options` that carry it elsewhere never
    /// reach the server there, and cancel requests are not sent (see [`Self::cancel`]), so this is
    /// what ends a runaway query. `None` when the server already has the timeout.
    pub fn pooler_timeout_sql(&self) -> Option<String> {
        self.is_behind_pooler().then(|| {
            format!(
                "SET LOCAL statement_timeout = {}",
                self.shared.settings.statement_timeout_ms
            )
        })
    }

    /// Cancels the query of whichever connection is serving worker job `job` (see [`with_job`]).
    /// Returns `false` when no connection serves it (it finished, or has not started).
    pub fn cancel_job(&self, job: u64) -> Result<bool, DbError> {
        if self.is_behind_pooler() {
            // Superseded work is left to finish; its answer is dropped (see `cancel`).
            return Ok(false);
        }
        // The token is taken in the same lookup that finds the job, and the job recorded is the
        // one aimed at: looking the connection up again could find it serving the next job.
        let token = {
            let connections = self.shared.connections.lock();
            let token = connections.values().find_map(|info| match info.state {
                ConnectionState::InUse { job: Some(j), .. } if j == job => {
                    Some(info.cancel.0.clone())
                }
                _ => None,
            });
            if token.is_some() {
                self.record_cancel(job);
            }
            token
        };
        match token {
            Some(token) => self.send_cancel(&token),
            None => Ok(false),
        }
    }

    /// Whether a cancel request was sent for worker job `job` (by [`DatabasePool::cancel_job`],
    /// or [`DatabasePool::cancel`] while the job held that connection), forgetting it. A job
    /// cancelled without one was hit by a cancel meant for the query its connection ran before:
    /// the canceller looks a job's connection up, then sends, and in between the job may end
    /// and the connection start the next one.
    pub fn take_cancel_meant_for(&self, job: u64) -> bool {
        self.shared.cancelled_jobs.lock().remove(&job)
    }

    /// A cheap copy of the pool's live state, for the stats panel and `marquee pool-stats`.
    pub fn snapshot(&self) -> PoolSnapshot {
        let (total, idle) = self.routes().fold((0, 0), |(total, idle), route| {
            let state = route.state();
            (total + state.connections, idle + state.idle_connections)
        });
        let oldest_waiter = self
            .shared
            .waiters
            .lock()
            .values()
            .min()
            .map(Instant::elapsed);
        let mut connections: Vec<ConnectionInfo> =
            self.shared.connections.lock().values().cloned().collect();
        connections.sort_by_key(|c| c.id);
        let in_use = connections
            .iter()
            .filter(|c| matches!(c.state, ConnectionState::InUse { .. }))
            .count() as u32;
        PoolSnapshot {
            target: self.shared.target.clone(),
            settings: self.shared.settings.clone(),
            total,
            idle,
            in_use,
            max: self.max_connections() as u32,
            oldest_waiter_micros: oldest_waiter.map(|d| d.as_micros() as u64),
            counters: self.shared.metrics.snapshot(),
            connections,
            last_error: self.shared.last_error.lock().clone(),
            last_success: *self.shared.last_success.lock(),
            hosts: self
                .shared
                .board
                .as_ref()
                .map(|board| board.statuses())
                .unwrap_or_default(),
        }
    }

    /// The most connections the pool may hold, over both routes.
    fn max_connections(&self) -> usize {
        self.shared.settings.max_size as usize * self.routes().count()
    }

    /// With read replicas, waits until each host has been checked once (at most a connect
    /// timeout and a second), so that a report printed once shows their roles and lag. Returns
    /// at once without replicas.
    pub fn wait_for_host_checks(&self) {
        if let Some(board) = &self.shared.board {
            let limit = self.params.handshake_timeout();
            if !board.wait_checked(limit) {
                tracing::warn!("not every host answered its first check within {limit:?}");
            }
        }
    }

    /// Whether reads go to read replicas (the `replicas` setting).
    pub fn has_replicas(&self) -> bool {
        self.writes.is_some()
    }

    /// Every idle connection of both routes, taken out of the pool (each returns when dropped).
    fn take_idle(&self) -> impl Iterator<Item = r2d2::PooledConnection<Manager>> + '_ {
        self.routes()
            .flat_map(|route| std::iter::from_fn(move || route.try_get()))
            .take(self.max_connections())
    }

    /// The reading route, then the writing one if there is one.
    fn routes(&self) -> impl Iterator<Item = &r2d2::Pool<Manager>> {
        std::iter::once(&self.pool).chain(self.writes.as_ref())
    }

    /// Counts a read a standby cancelled for a recovery conflict (it is tried once more).
    pub fn record_recovery_conflict(&self) {
        self.shared.metrics.recovery_conflicts.fetch_add(1, Relaxed);
    }

    /// Checks every idle connection now (a validation round trip each, bypass window ignored)
    /// and discards those that fail, so a dead server or terminated backends show up at once
    /// instead of at the next checkouts. Busy connections are left alone. Blocks for up to one
    /// validation timeout per connection; call it from a worker, not the UI thread.
    ///
    /// The connections are taken straight from r2d2, so they are not counted as checkouts
    /// (their brief hold does land in the hold-time histogram, as r2d2 reports every checkin).
    pub fn validate_all(&self) -> ValidateReport {
        let timeout = Duration::from_millis(self.shared.settings.validation_timeout_ms);
        let mut report = ValidateReport::default();
        let mut held = Vec::new();
        for mut conn in self.take_idle() {
            report.checked += 1;
            self.shared.metrics.validations.fetch_add(1, Relaxed);
            if conn.client.is_valid(timeout).is_err() {
                conn.close_reason = Some(CloseReason::FailedValidation);
                report.failed += 1;
            } else {
                conn.last_used = Instant::now();
            }
            held.push(conn);
        }
        // Returning them all at once: the failed ones are dropped and r2d2 refills to min_idle.
        drop(held);
        report
    }

    /// Closes every idle connection now and lets the pool open fresh ones (to `min_idle`);
    /// connections in use are closed when they are returned. Use it after a server-side change
    /// that only new sessions see (settings, `search_path`, a failover).
    ///
    /// r2d2 has no such call, so the pool keeps a generation number: this bumps it, and a
    /// connection from an older generation counts as broken at checkin (closed as
    /// [`CloseReason::PoolClosed`]). The idle ones are then taken out and returned at once so
    /// they go now rather than at their next use. Returns how many idle connections were closed.
    /// Blocks only as long as r2d2's checkout validation of idle connections takes.
    pub fn recycle_all(&self) -> u32 {
        let generation = self.shared.generation.fetch_add(1, Relaxed) + 1;
        let held: Vec<_> = self.take_idle().collect();
        let stale = held.iter().filter(|c| c.generation < generation).count() as u32;
        drop(held);
        stale
    }

    /// Logs the original's shutdown line and lets idle connections go. Clones still held keep
    /// working until dropped; the pool closes when the last clone goes.
    pub fn close(&self) {
        self.shared.closing.store(true, Relaxed);
        tracing::info!("Closed database connection pool");
    }
}

/// The pool's state at one moment.
#[derive(Clone, Debug, Serialize)]
pub struct PoolSnapshot {
    /// `host:port/db`.
    pub target: String,
    /// Configured settings, shown beside the live figures.
    pub settings: PoolSettings,
    /// Open connections.
    pub total: u32,
    /// Idle connections.
    pub idle: u32,
    /// Checked-out connections.
    pub in_use: u32,
    /// Configured maximum.
    pub max: u32,
    /// How long the longest-waiting checkout has waited, if any is waiting.
    pub oldest_waiter_micros: Option<u64>,
    /// Counters and histograms since the pool was built.
    pub counters: PoolCounters,
    /// Every open connection.
    pub connections: Vec<ConnectionInfo>,
    /// The last error and when it happened.
    #[serde(skip)]
    pub last_error: Option<(DbError, SystemTime)>,
    /// When a query last succeeded.
    #[serde(skip)]
    pub last_success: Option<SystemTime>,
    /// With read replicas, every host's role and lag, the server's first; empty otherwise.
    pub hosts: Vec<HostStatus>,
}

impl PoolSnapshot {
    /// With read replicas configured and none answering, why reads are on the server: the
    /// window says so. `None` when a replica serves reads or none is configured.
    pub fn reads_fall_back(&self) -> Option<String> {
        let replicas: Vec<&HostStatus> = self
            .hosts
            .iter()
            .filter(|h| h.used_as == hosts::HostUse::Replica)
            .collect();
        if replicas.is_empty() || replicas.iter().any(|h| h.up != Some(false)) {
            return None;
        }
        let why: Vec<String> = replicas
            .iter()
            .map(|h| match &h.error {
                // The driver's sentences name the host already.
                Some(error) => error.clone(),
                None => format!("{} does not answer", h.host),
            })
            .collect();
        Some(format!(
            "No read replica answers, so reads go to {} ({}).",
            self.target,
            why.join("; ")
        ))
    }
}

/// What [`DatabasePool::validate_all`] found.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct ValidateReport {
    /// Idle connections checked.
    pub checked: u32,
    /// Of those, how many failed and were closed.
    pub failed: u32,
}

/// A checked-out connection. Derefs to `postgres::Client`; returned to the pool on drop.
pub struct DbConn {
    conn: Option<r2d2::PooledConnection<Manager>>,
    shared: Arc<Shared>,
}

impl std::fmt::Debug for DbConn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DbConn")
            .field("id", &self.id())
            .field("backend_pid", &self.backend_pid())
            .finish()
    }
}

impl DbConn {
    /// Marks the connection as not to be reused (e.g. a query left it in an unknown state).
    pub fn discard(&mut self) {
        if let Some(conn) = self.conn.as_mut() {
            conn.close_reason = Some(CloseReason::Poisoned);
        }
    }

    /// The server process serving this connection.
    pub fn backend_pid(&self) -> i32 {
        self.conn.as_ref().map_or(0, |c| c.backend_pid)
    }

    /// Marquee's id for this connection (as in the stats panel).
    pub fn id(&self) -> u64 {
        self.conn.as_ref().map_or(0, |c| c.id)
    }

    /// The host it is on, as [`ConnectionInfo::host`] names it.
    pub fn host(&self) -> &str {
        self.conn.as_ref().map_or("", |c| &c.host)
    }
}

/// The backend's pid and the `statement_timeout` it runs with (ms), asked right after connecting:
/// a timeout other than the one sent in the startup `options` means they never reached the
/// server (a pooler such as PgBouncer with `ignore_startup_parameters = options` dropped them).
fn identify(mut client: Client) -> Result<(Client, i32, i64), postgres::Error> {
    let row = client.query_typed_one(
        "SELECT pg_backend_pid(), \
         (SELECT setting::int8 FROM pg_settings WHERE name = 'statement_timeout')",
        &[],
    )?;
    Ok((client, row.get(0), row.get(1)))
}

/// Whether the server (or a pooler in front of it) refused the startup `options`: PgBouncer
/// answers `unsupported startup parameter: options` unless told to ignore it.
fn refuses_startup_options(err: &postgres::Error) -> bool {
    err.as_db_error().is_some_and(|db| {
        db.message().contains("unsupported startup parameter") && db.message().contains("options")
    })
}

impl std::ops::Deref for DbConn {
    type Target = Client;

    fn deref(&self) -> &Client {
        match &self.conn {
            Some(conn) => &conn.client,
            None => unreachable!("DbConn is only emptied in drop"),
        }
    }
}

impl std::ops::DerefMut for DbConn {
    fn deref_mut(&mut self) -> &mut Client {
        match &mut self.conn {
            Some(conn) => &mut conn.client,
            None => unreachable!("DbConn is only emptied in drop"),
        }
    }
}

impl Drop for DbConn {
    fn drop(&mut self) {
        let Some(mut conn) = self.conn.take() else {
            return;
        };
        if std::thread::panicking() {
            // The holder died mid-use: the session may be mid-transaction or mid-protocol.
            conn.close_reason = Some(CloseReason::Poisoned);
        }
        conn.last_used = Instant::now();
        if let Some(info) = self.shared.connections.lock().get_mut(&conn.id) {
            info.state = ConnectionState::Idle;
        }
        drop(conn);
    }
}
