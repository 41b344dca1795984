//! The database layer: the private cluster, the shared pool, the schema. Knows nothing of egui.

pub mod cluster;
pub mod error;
pub mod facet_totals;
pub mod handshake;
pub mod hosts;
pub mod metrics;
pub mod pool;
pub mod schema;
pub mod source;
pub mod tls;

use crate::config::{ConnectParams, ServerChoice, Settings};
use cluster::{ClusterError, PRIVATE_DATABASE, PRIVATE_ROLE, PrivateCluster};
use error::DbError;
use pool::DatabasePool;

/// Why Marquee could not get a database to talk to.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The private cluster could not be set up or started.
    #[error("{0}")]
    Cluster(#[from] ClusterError),
    /// The server refused, is unreachable, or the schema is wrong.
    #[error("{0}")]
    Database(#[from] DbError),
}

/// The server Marquee talks to: connection parameters, and the private cluster if it is ours.
#[derive(Debug)]
pub struct Server {
    /// How to connect.
    pub params: ConnectParams,
    /// The private cluster, when no external server was configured.
    pub cluster: Option<PrivateCluster>,
}

impl Server {
    /// Resolves the server: starts (or attaches to) the private cluster when no server was named.
    pub fn start(settings: &Settings) -> Result<Self, StartError> {
        match &settings.server {
            ServerChoice::External(params) => Ok(Self {
                params: params.clone(),
                cluster: None,
            }),
            ServerChoice::Private { data_dir } => {
                let cluster = PrivateCluster::ensure_running(data_dir)?;
                let params = cluster.connect_params();
                ensure_private_database(&params)?;
                Ok(Self {
                    params,
                    cluster: Some(cluster),
                })
            }
        }
    }

    /// Stops the private cluster if this process started it and no other Marquee is using it.
    pub fn shutdown(self) {
        let Some(cluster) = self.cluster else { return };
        if !cluster.started_here() {
            return;
        }
        match other_marquee_sessions(&self.params) {
            Ok(0) => cluster.stop_if_started_here(),
            Ok(n) => tracing::info!(
                "Leaving the private PostgreSQL server running for {n} other Marquee connection(s); `marquee db stop` stops it"
            ),
            Err(err) => {
                tracing::warn!(
                    "could not check for other Marquee sessions ({err}); stopping the private server"
                );
                cluster.stop_if_started_here();
            }
        }
    }
}

/// Creates the `marquee` database in a fresh private cluster (initdb only makes `postgres`).
fn ensure_private_database(params: &ConnectParams) -> Result<(), DbError> {
    let mut admin = params.clone();
    admin.dbname = "postgres".to_owned();
    let target = admin.display_target();
    let mut client = connect_once(&admin)?;
    let exists = client
        .query_opt(
            "SELECT 1 FROM pg_database WHERE datname = $1",
            &[&PRIVATE_DATABASE],
        )
        .map_err(|e| DbError::from_postgres(&e, &target))?
        .is_some();
    if !exists {
        // CREATE DATABASE cannot take parameters; both names are our own constants.
        let sql = format!("CREATE DATABASE {PRIVATE_DATABASE} OWNER {PRIVATE_ROLE}");
        if let Err(err) = client.batch_execute(&sql) {
            // Another process may have created it between our check and our CREATE.
            if err.code().map(|c| c.code()) != Some("42P04") {
                return Err(DbError::from_postgres(&err, &target));
            }
        }
    }
    Ok(())
}

/// Connections from other Marquee processes (not this one's pool).
fn other_marquee_sessions(params: &ConnectParams) -> Result<i64, DbError> {
    let target = params.display_target();
    let mut client = connect_once(params)?;
    // Our own pool has just been dropped; its backends may take a moment to leave the view.
    let deadline = std::time::Instant::now() + std::time::Duration::from_millis(500);
    loop {
        let row = client
            .query_one(
                "SELECT count(*) FROM pg_stat_activity WHERE application_name = $1",
                &[&params.application_name()],
            )
            .map_err(|e| DbError::from_postgres(&e, &target))?;
        let count: i64 = row.get(0);
        if count == 0 || std::time::Instant::now() >= deadline {
            return Ok(count);
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}

/// The driver's configuration for an unpooled connection: named `marquee-admin`, so that it is
/// not counted among the pool's backends, with the user's `options` (PGOPTIONS).
fn admin_config(
    params: &ConnectParams,
) -> Result<(postgres::Config, postgres_openssl::MakeTlsConnector), DbError> {
    let (mut config, tls) = tls::driver_config(params, "marquee-admin")?;
    if let Some(options) = &params.options {
        config.options(options);
    }
    Ok((config, tls))
}

/// One unpooled connection, for administration outside the pool (creating the database,
/// checking for other sessions, "Test connection", benchmarks of a fresh connect), its whole
/// handshake bounded ([`handshake::connect_bounded`]).
pub fn connect_once(params: &ConnectParams) -> Result<postgres::Client, DbError> {
    let (config, tls) = admin_config(params)?;
    handshake::connect_bounded(params, config, tls)
}

/// Builds the shared pool for `server` and finds what its database holds
/// ([`crate::db::source::detect`]); the pool reads that source from then on.
///
/// Only the private cluster, Marquee's own, is migrated here. Any other server is only read:
/// browsing needs `SELECT` alone, and writing takes a command that says so
/// ([`open_pool_for_writing`]).
pub fn open_pool(server: &Server, settings: &Settings) -> Result<DatabasePool, DbError> {
    let pool = DatabasePool::new(&server.params, &settings.pool)?;
    let mut conn = pool.get("source.detect")?;
    if server.cluster.is_some() {
        schema::migrate(&mut conn, pool.target())?;
    }
    let source = crate::db::source::detect::detect(&mut *conn, &settings.source, pool.target())?;
    drop(conn);
    tracing::info!("Reading {} at {}", source.describe(), pool.target());
    // Said once, here: the window shows them again in its status bar.
    for note in &source.notes {
        tracing::warn!("{note}");
    }
    Ok(pool.with_source(source))
}

/// Builds the shared pool for a command that writes (`import`, `seed`, `db migrate`) and
/// brings Marquee's schema (in schema `marquee`, beside whatever else the database holds) up to
/// date. The caller has named the server and database to the user before calling this.
pub fn open_pool_for_writing(
    server: &Server,
    settings: &Settings,
) -> Result<DatabasePool, DbError> {
    let pool = DatabasePool::new(&server.params, &settings.pool)?;
    let mut conn = pool.get_for_writing("schema.migrate")?;
    schema::migrate(&mut conn, pool.target())?;
    drop(conn);
    Ok(pool)
}
