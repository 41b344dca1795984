//! One connection whose whole handshake has a deadline. rust-postgres bounds only the socket
//! connect (`connect_timeout`), so a server that accepts TCP but never answers the startup
//! message would block the caller forever: an administrative command, "Test connection", or a
//! host's watcher, which would then stop watching.

use postgres_openssl::MakeTlsConnector;

use crate::config::ConnectParams;
use crate::db::error::{DbError, DbErrorKind};

/// Connects with `config` and `tls` (built for `params`), giving up after
/// [`ConnectParams::handshake_timeout`]. A handshake abandoned that way finishes (or fails) on
/// its own thread, and its connection is dropped there.
pub fn connect_bounded(
    params: &ConnectParams,
    config: postgres::Config,
    tls: MakeTlsConnector,
) -> Result<postgres::Client, DbError> {
    let target = params.display_target();
    let (tx, rx) = crossbeam_channel::bounded(1);
    let (inline_config, inline_tls) = (config.clone(), tls.clone());
    let spawned = std::thread::Builder::new()
        .name("marquee-handshake".into())
        .spawn(move || {
            let _ = tx.send(config.connect(tls));
        });
    if spawned.is_err() {
        // No thread to spare: connect here, bounded by the socket timeout alone.
        return inline_config
            .connect(inline_tls)
            .map_err(|e| DbError::from_postgres(&e, &target));
    }
    match rx.recv_timeout(params.handshake_timeout()) {
        Ok(result) => result.map_err(|e| DbError::from_postgres(&e, &target)),
        Err(_) => Err(DbError::new(
            DbErrorKind::Unreachable,
            format!(
                "the server at {target} accepted the connection but does not answer; is that the PostgreSQL port?"
            ),
        )),
    }
}
