//! Database errors phrased for people: what happened, and what to do about it. Every error that
//! reaches the window or the terminal passes through [`DbError`], so none shows a password or a
//! raw protocol message without context.

use std::fmt;

/// What kind of failure, so callers can react (retry, show the unreachable state, …).
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
pub enum DbErrorKind {
    /// Every connection is in use and none came free before the checkout deadline.
    PoolExhausted,
    /// The server cannot be reached (down, wrong host/port, network, connect timeout).
    Unreachable,
    /// The server refused us: wrong password, unknown role or database, TLS policy, too many
    /// connections. Retrying will not help until the settings change.
    Rejected,
    /// The query ran longer than `statement_timeout`.
    StatementTimeout,
    /// Someone cancelled the query (a superseded request, or the Cancel button).
    Cancelled,
    /// The connection died while the query ran (server restart, backend terminated).
    ConnectionLost,
    /// A standby cancelled the read: replaying the primary's changes needed what the read was
    /// looking at (a recovery conflict). The same read usually succeeds when tried again.
    RecoveryConflict,
    /// The schema is missing or from a newer Marquee.
    Schema,
    /// Any other error the server reported.
    Query,
    /// A worker job panicked; the connection it held was discarded.
    Panicked,
    /// The private server cannot be set up on this machine (no server programs, a data folder
    /// its account cannot reach, no account to run it as). Only the user can fix it.
    Setup,
}

impl DbErrorKind {
    /// Whether a read that failed this way may simply be tried again on a fresh connection.
    pub fn is_transient(self) -> bool {
        matches!(self, DbErrorKind::ConnectionLost | DbErrorKind::Unreachable)
    }
}

/// A database error for people.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub struct DbError {
    /// The kind.
    pub kind: DbErrorKind,
    /// The sentence to show.
    pub message: String,
    /// The server's SQLSTATE, when it sent one.
    pub sqlstate: Option<String>,
}

impl fmt::Display for DbError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)?;
        if let Some(code) = &self.sqlstate {
            write!(f, " (SQLSTATE {code})")?;
        }
        Ok(())
    }
}

impl DbError {
    /// An error of `kind` with `message`.
    pub fn new(kind: DbErrorKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
            sqlstate: None,
        }
    }

    /// Classifies a driver error. `target` is `host:port/db` (never the password) for messages
    /// about reaching the server.
    pub fn from_postgres(err: &postgres::Error, target: &str) -> Self {
        if let Some(db) = err.as_db_error() {
            let code = db.code().code().to_owned();
            let (kind, message) = match code.as_str() {
                "28P01" => (
                    DbErrorKind::Rejected,
                    format!("the server at {target} rejected the password for this user; check the password in the connection settings or PGPASSWORD"),
                ),
                "28000" if db.message().contains("no encryption") || db.message().contains("SSL off") => (
                    DbErrorKind::Rejected,
                    format!("the server at {target} requires an encrypted (TLS) connection; set sslmode to require (or verify-full)"),
                ),
                "28000" => (
                    DbErrorKind::Rejected,
                    format!("the server at {target} refused the login: {}", db.message()),
                ),
                "3D000" => (
                    DbErrorKind::Rejected,
                    format!("{} on {target}; create it or choose another database in the connection settings", db.message()),
                ),
                "53300" => (
                    DbErrorKind::Rejected,
                    format!("the server at {target} has no free connection slots ({}); lower the pool size or raise max_connections", db.message()),
                ),
                "57014" if db.message().contains("statement timeout") => (
                    DbErrorKind::StatementTimeout,
                    "the query ran longer than the statement timeout and was stopped by the server; narrow the filter or raise the statement timeout".to_owned(),
                ),
                "57014" => (DbErrorKind::Cancelled, "the query was cancelled".to_owned()),
                _ if db.message().contains("conflict with recovery") => (
                    DbErrorKind::RecoveryConflict,
                    format!("the standby at {target} cancelled the read to replay the primary's changes (a recovery conflict); raise max_standby_streaming_delay or turn on hot_standby_feedback there if it keeps happening"),
                ),
                "57P01" | "57P02" | "57P03" => (
                    DbErrorKind::ConnectionLost,
                    format!("the server at {target} ended the connection ({}); the window reconnects by itself, a command can simply be run again", db.message()),
                ),
                "42P01" | "42703" | "42883" => (
                    DbErrorKind::Schema,
                    format!("the database at {target} does not have Marquee's schema ({}); run `marquee db migrate` or let Marquee create it", db.message()),
                ),
                _ => (DbErrorKind::Query, db.message().to_owned()),
            };
            return Self {
                kind,
                message,
                sqlstate: Some(code),
            };
        }
        if err.is_closed() {
            return Self::new(
                DbErrorKind::ConnectionLost,
                format!(
                    "the connection to {target} was closed (server restarted or the backend was terminated)"
                ),
            );
        }
        let text = error_chain(err);
        let lower = text.to_lowercase();
        if lower.contains("password") && lower.contains("missing") {
            return Self::new(
                DbErrorKind::Rejected,
                format!(
                    "the server at {target} asks for a password and none was given; set it in the connection settings or PGPASSWORD"
                ),
            );
        }
        if lower.contains("ssl") || lower.contains("tls") || lower.contains("certificate") {
            return Self::new(
                DbErrorKind::Rejected,
                format!("TLS with {target} failed: {text}; check sslmode and sslrootcert"),
            );
        }
        // The driver's target_session_attrs check failed on the last host of the list it tried.
        if lower.contains("database does not allow writes") {
            return Self::new(
                DbErrorKind::Rejected,
                format!(
                    "no server of {target} that answered accepts writes, as target_session_attrs=read-write asks (they are read-only: standbys); add the primary to the host list, or use target_session_attrs=any"
                ),
            );
        }
        if lower.contains("database is not read only") {
            return Self::new(
                DbErrorKind::Rejected,
                format!(
                    "no server of {target} that answered is read-only, as target_session_attrs=read-only asks; add a standby to the host list, or use target_session_attrs=any"
                ),
            );
        }
        if lower.contains("timeout") || lower.contains("timed out") {
            return Self::new(
                DbErrorKind::Unreachable,
                format!(
                    "no answer from {target} within the connect timeout; is the host right and the server up?"
                ),
            );
        }
        if lower.contains("error connecting")
            || lower.contains("refused")
            || lower.contains("no such file")
            || lower.contains("failed to lookup")
            || lower.contains("unreachable")
        {
            return Self::new(
                DbErrorKind::Unreachable,
                format!(
                    "cannot reach the server at {target} ({text}); is it running and is the address right?"
                ),
            );
        }
        if lower.contains("connection reset")
            || lower.contains("broken pipe")
            || lower.contains("unexpected eof")
        {
            return Self::new(
                DbErrorKind::ConnectionLost,
                format!("the connection to {target} was lost ({text})"),
            );
        }
        Self::new(DbErrorKind::Query, text)
    }
}

/// The error and its causes joined, since the driver's top-level text ("error connecting to
/// server") hides the useful part.
fn error_chain(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}
