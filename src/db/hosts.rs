//! The servers behind a pool that has read replicas: what each one is (primary or standby),
//! whether it answers and how far behind it replays, kept fresh by one watcher thread per host.
//!
//! The pool routes by what the watchers last saw ([`HostBoard::ready`]): a new reading connection
//! goes to a standby that answers, else to the server. The stats panel and `marquee pool-stats
//! --json` show the same board.

use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use parking_lot::Mutex;
use serde::Serialize;

use crate::config::ConnectParams;
use crate::db::error::DbError;
use crate::db::{handshake, tls};

/// How often each host is asked for its role and lag.
pub const CHECK_INTERVAL: Duration = Duration::from_secs(1);

/// A status older than this is not trusted for routing (its watcher is stuck on a silent host).
const STALE_AFTER: Duration = Duration::from_secs(5);

/// How a host takes part, by the settings.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum HostUse {
    /// Named by the connection settings: writes go here, and reads when no replica answers.
    Server,
    /// Named by the `replicas` setting: browsing reads go here.
    Replica,
}

/// What a host said it is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum Role {
    /// Accepts writes (`pg_is_in_recovery()` is false).
    Primary,
    /// Replays another server's WAL and serves reads only.
    Standby,
}

/// One host as its watcher last saw it.
#[derive(Clone, Debug, Serialize)]
pub struct HostStatus {
    /// `host:port`.
    pub host: String,
    /// How the settings use it.
    pub used_as: HostUse,
    /// What it said it is; `None` until it first answered.
    pub role: Option<Role>,
    /// Whether it answered the last check; `None` before the first check ended.
    pub up: Option<bool>,
    /// A standby's replay lag in seconds, `now() - pg_last_xact_replay_timestamp()`: how long ago
    /// the last transaction it replayed was committed on the primary. It also grows while the
    /// primary commits nothing. `None` on a primary and before a standby replayed anything.
    pub lag_secs: Option<f64>,
    /// Why the last check failed, for people (never a password).
    pub error: Option<String>,
    /// When the last check ended.
    #[serde(skip)]
    pub checked_at: Option<Instant>,
}

impl HostStatus {
    fn unchecked(host: String, used_as: HostUse) -> Self {
        Self {
            host,
            used_as,
            role: None,
            up: None,
            lag_secs: None,
            error: None,
            checked_at: None,
        }
    }

    /// Whether the last check, recent enough to trust, found it answering.
    pub fn answers(&self) -> bool {
        self.up == Some(true) && self.checked_at.is_some_and(|at| at.elapsed() < STALE_AFTER)
    }
}

/// Every host's status, shared by the pool (routing), its watchers (writing) and its snapshot.
#[derive(Debug, Default)]
pub struct HostBoard {
    hosts: Mutex<Vec<HostStatus>>,
    /// Signalled at each check, for [`HostBoard::wait_checked`].
    checked: parking_lot::Condvar,
}

impl HostBoard {
    /// A board for the server's hosts and the replicas' hosts, none checked yet.
    pub fn new(server: &ConnectParams, replicas: &ConnectParams) -> Self {
        let hosts = split_hosts(server)
            .into_iter()
            .map(|p| HostStatus::unchecked(p.hosts_label(), HostUse::Server))
            .chain(
                split_hosts(replicas)
                    .into_iter()
                    .map(|p| HostStatus::unchecked(p.hosts_label(), HostUse::Replica)),
            )
            .collect();
        Self {
            hosts: Mutex::new(hosts),
            checked: parking_lot::Condvar::new(),
        }
    }

    /// Waits until every host has been checked once, or `timeout` passed; whether they all were.
    /// For a report printed once (`marquee pool-stats`), which should not show "checking…".
    pub fn wait_checked(&self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        let mut hosts = self.hosts.lock();
        while hosts.iter().any(|h| h.checked_at.is_none()) {
            if self.checked.wait_until(&mut hosts, deadline).timed_out() {
                return false;
            }
        }
        true
    }

    /// A copy of every host's status, servers first.
    pub fn statuses(&self) -> Vec<HostStatus> {
        self.hosts.lock().clone()
    }

    /// When the replica `host` answered its last check, if it did and that is recent.
    pub fn answered_at(&self, host: &str) -> Option<Instant> {
        self.hosts
            .lock()
            .iter()
            .find(|s| s.host == host && s.used_as == HostUse::Replica && s.answers())
            .and_then(|s| s.checked_at)
    }

    /// Whether the replica `host` is known not to answer (its last check failed).
    pub fn down(&self, host: &str) -> bool {
        self.hosts
            .lock()
            .iter()
            .any(|s| s.host == host && s.used_as == HostUse::Replica && s.up == Some(false))
    }

    fn update(&self, index: usize, f: impl FnOnce(&mut HostStatus)) {
        if let Some(status) = self.hosts.lock().get_mut(index) {
            f(status);
            status.checked_at = Some(Instant::now());
        }
        self.checked.notify_all();
    }

    /// Starts one watcher thread per host. Each ends once `alive` can no longer be upgraded
    /// (the pool is gone) or says the pool closed.
    pub fn watch<T: Send + Sync + 'static>(
        board: &Arc<Self>,
        server: &ConnectParams,
        replicas: &ConnectParams,
        alive: Weak<T>,
        closing: fn(&T) -> bool,
    ) {
        let hosts = split_hosts(server)
            .into_iter()
            .chain(split_hosts(replicas))
            .enumerate();
        for (index, params) in hosts {
            let board = Arc::clone(board);
            let alive = alive.clone();
            let spawned = std::thread::Builder::new()
                .name("marquee-host-watch".into())
                .spawn(move || {
                    let mut watcher = Watcher {
                        params,
                        client: None,
                    };
                    loop {
                        match alive.upgrade() {
                            Some(owner) if !closing(&owner) => {}
                            _ => return,
                        }
                        let seen = watcher.check();
                        board.update(index, |status| match seen {
                            Ok((role, lag)) => {
                                status.up = Some(true);
                                status.role = Some(role);
                                status.lag_secs = lag;
                                status.error = None;
                            }
                            Err(error) => {
                                status.up = Some(false);
                                status.lag_secs = None;
                                status.error = Some(error.message);
                            }
                        });
                        std::thread::sleep(CHECK_INTERVAL);
                    }
                });
            if let Err(err) = spawned {
                tracing::warn!("could not start a host watcher: {err}");
            }
        }
    }
}

/// One host's watcher: a connection of its own, kept between checks and opened again after a
/// failure.
struct Watcher {
    params: ConnectParams,
    client: Option<postgres::Client>,
}

impl Watcher {
    fn check(&mut self) -> Result<(Role, Option<f64>), DbError> {
        let target = self.params.display_target();
        let client = match &mut self.client {
            Some(client) if !client.is_closed() => client,
            _ => self.client.insert(connect(&self.params)?),
        };
        let row = client
            .query_typed_one(
                "SELECT pg_is_in_recovery(), \
                 extract(epoch FROM now() - pg_last_xact_replay_timestamp())::float8",
                &[],
            )
            .map_err(|e| {
                self.client = None;
                DbError::from_postgres(&e, &target)
            })?;
        let standby: bool = row.get(0);
        Ok(if standby {
            (Role::Standby, row.get(1))
        } else {
            (Role::Primary, None)
        })
    }
}

/// A watcher's connection, named `marquee-monitor` so that it is not counted among the pool's.
/// Its handshake is bounded: a host that accepts TCP but never answers is reported down at the
/// next check instead of stopping the watcher.
fn connect(params: &ConnectParams) -> Result<postgres::Client, DbError> {
    let (config, tls) = tls::driver_config(params, "marquee-monitor")?;
    handshake::connect_bounded(params, config, tls)
}

/// Each host of `params` as settings of its own.
pub fn split_hosts(params: &ConnectParams) -> Vec<ConnectParams> {
    params
        .hosts()
        .into_iter()
        .map(|h| ConnectParams {
            host: h.host,
            port: h.port,
            more_hosts: Vec::new(),
            replicas: None,
            ..params.clone()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A replica that accepts TCP but never answers the startup message is reported down, with
    /// the reason, and its watcher goes on checking instead of hanging in the handshake.
    #[test]
    fn a_host_that_accepts_but_never_answers_is_reported_down() {
        let silent = std::net::TcpListener::bind(("127.0.0.1", 0)).expect("listen");
        let replica = ConnectParams {
            host: "127.0.0.1".into(),
            port: silent.local_addr().expect("address").port(),
            connect_timeout_secs: 1,
            ..ConnectParams::default()
        };
        let server = ConnectParams {
            host: "127.0.0.1".into(),
            // Nothing listens on port 1: refused at once.
            port: 1,
            connect_timeout_secs: 1,
            ..ConnectParams::default()
        };
        let board = Arc::new(HostBoard::new(&server, &replica));
        let alive = Arc::new(());
        HostBoard::watch(&board, &server, &replica, Arc::downgrade(&alive), |_| false);
        // Checked at all only if the handshake ended: unbounded, this waits forever.
        assert!(
            board.wait_checked(replica.handshake_timeout() * 10),
            "{:?}",
            board.statuses()
        );
        let silent_status = board
            .statuses()
            .into_iter()
            .find(|s| s.used_as == HostUse::Replica)
            .expect("the replica's row");
        assert_eq!(silent_status.up, Some(false), "{silent_status:?}");
        assert!(
            silent_status
                .error
                .as_deref()
                .is_some_and(|e| e.contains("does not answer")),
            "{silent_status:?}"
        );
        drop(alive);
    }
}
