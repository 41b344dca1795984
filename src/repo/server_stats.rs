//! `ServerStatsRepository`: the server's own view of Marquee's connections
//! (`pg_stat_activity` for `application_name = 'marquee'`), shown beside the pool's view so that
//! a leak or a mismatch is visible.

use postgres::types::Type;
use serde::Serialize;

use crate::db::error::DbError;
use crate::db::pool::DatabasePool;
use crate::repo::Repo;

/// One server backend serving Marquee.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Backend {
    /// The host whose view this is (as the pool names it: with read replicas, the view is of
    /// the host that served it).
    pub host: String,
    /// Server process id.
    pub pid: i32,
    /// `active`, `idle`, `idle in transaction`, …
    pub state: String,
    /// Seconds since the backend started.
    pub backend_age_secs: f64,
    /// Seconds the current (or last) query has run.
    pub query_secs: Option<f64>,
    /// What it waits on, if anything (`Lock:relation`, `Client:ClientRead`, …).
    pub wait_event: Option<String>,
    /// The current or last query, shortened.
    pub query: String,
}

/// Reads `pg_stat_activity`.
#[derive(Clone, Debug)]
pub struct ServerStatsRepository {
    repo: Repo,
}

impl ServerStatsRepository {
    /// Shares `pool`.
    pub fn new(pool: DatabasePool) -> Self {
        Self {
            repo: Repo::new(pool),
        }
    }

    /// Every backend of this application on the server, by pid. The connection running this
    /// query is included (it is one of ours).
    pub fn backends(&self) -> Result<Vec<Backend>, DbError> {
        let app = self.repo.pool().params().application_name().to_owned();
        self.repo.read("server_stats.backends", |conn| {
            let host = conn.host().to_owned();
            let rows = conn.query_typed(
                "SELECT pid, coalesce(state, ''),
                        extract(epoch FROM now() - backend_start)::float8,
                        CASE WHEN state = 'active' THEN extract(epoch FROM now() - query_start)::float8 END,
                        CASE WHEN wait_event IS NOT NULL THEN wait_event_type || ':' || wait_event END,
                        left(coalesce(query, ''), 200)
                   FROM pg_stat_activity
                  WHERE application_name = $1 AND datname = current_database()
                  ORDER BY pid",
                &[(&app, Type::TEXT)],
            )?;
            Ok(rows
                .iter()
                .map(|r| Backend {
                    host: host.clone(),
                    pid: r.get(0),
                    state: r.get(1),
                    backend_age_secs: r.get(2),
                    query_secs: r.get(3),
                    wait_event: r.get(4),
                    query: r.get(5),
                })
                .collect())
        })
    }
}
