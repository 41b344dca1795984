//! Repositories: one per table or concern, each built from the shared [`DatabasePool`] and
//! nothing else. Adding one is a new file here and nothing more.
//!
//! Every statement goes through [`Repo::read`], which checks out a labelled connection, runs the
//! statement with `query_typed` (unnamed statements, so PgBouncer in transaction mode works),
//! counts it in the pool metrics, and retries an idempotent read once when the connection turned
//! out to be dead (a server restart or a terminated backend) or a standby cancelled it for a
//! recovery conflict.

pub mod column_stats;
pub mod facets;
pub mod movie_sql;
pub mod movies;
pub mod ratings;
pub mod sampling;
pub mod server_stats;
pub mod summary;
pub mod tags;

use crate::db::error::{DbError, DbErrorKind};
use crate::db::pool::{DatabasePool, DbConn};

/// The part every repository shares: the pool and the read helper.
#[derive(Clone, Debug)]
pub struct Repo {
    pool: DatabasePool,
}

impl Repo {
    /// Wraps the shared pool.
    pub fn new(pool: DatabasePool) -> Self {
        Self { pool }
    }

    /// The pool (for its target name and metrics).
    pub fn pool(&self) -> &DatabasePool {
        &self.pool
    }

    /// Runs a read-only unit of work on a pooled connection. `label` shows in the stats panel.
    /// A read that failed because its connection died is tried once more on a fresh one; one
    /// that a standby cancelled for a recovery conflict is tried once more as it is (the
    /// conflicting change has been replayed by then).
    pub fn read<T>(
        &self,
        label: &str,
        mut work: impl FnMut(&mut DbConn) -> Result<T, postgres::Error>,
    ) -> Result<T, DbError> {
        let mut attempt = 0;
        loop {
            attempt += 1;
            let mut conn = self.pool.get(label)?;
            let result = match self.pool.pooler_timeout_sql() {
                Some(timeout) => in_timed_transaction(&mut conn, &timeout, &mut work),
                None => work(&mut conn),
            };
            match result {
                Ok(value) => {
                    self.pool.record_query(Ok(()));
                    return Ok(value);
                }
                Err(err) => {
                    let error = DbError::from_postgres(&err, self.pool.target());
                    if conn.is_closed() || error.kind == DbErrorKind::ConnectionLost {
                        conn.discard();
                    }
                    self.pool.record_query(Err(&error));
                    if attempt == 1 && error.kind == DbErrorKind::RecoveryConflict {
                        tracing::warn!("{label}: {error}; retrying once");
                        self.pool.record_recovery_conflict();
                        continue;
                    }
                    if attempt == 1 && error.kind.is_transient() {
                        tracing::warn!("{label}: {error}; retrying once on a fresh connection");
                        // The server probably restarted: its other idle connections are dead
                        // too. Weed them out now so the retry does not draw another one.
                        drop(conn);
                        self.pool.validate_all();
                        continue;
                    }
                    return Err(error);
                }
            }
        }
    }
}

/// Runs `work` in a read-only transaction that starts with `timeout` (`SET LOCAL
/// statement_timeout = …`), for a pool behind a pooler: there the transaction is also what keeps
/// the unit of work on one server session. An error rolls it back before the connection returns
/// to the pool.
fn in_timed_transaction<T>(
    conn: &mut DbConn,
    timeout: &str,
    work: &mut impl FnMut(&mut DbConn) -> Result<T, postgres::Error>,
) -> Result<T, postgres::Error> {
    conn.batch_execute(&format!("BEGIN READ ONLY; {timeout}"))?;
    match work(conn) {
        Ok(value) => {
            conn.batch_execute("COMMIT")?;
            Ok(value)
        }
        Err(err) => {
            // On a dead connection this fails too; the connection is discarded then anyway.
            let _ = conn.batch_execute("ROLLBACK");
            Err(err)
        }
    }
}
