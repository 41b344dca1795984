//! The driver configuration for a server, including TLS with libpq's `sslmode` semantics on top
//! of rust-postgres (which itself only knows disable / prefer / require). The pool and the
//! one-off administrative connections both build theirs here.

use openssl::ssl::{SslConnector, SslMethod, SslVerifyMode};
use postgres::config::{LoadBalanceHosts, TargetSessionAttrs};
use postgres_openssl::MakeTlsConnector;

use crate::config::{ConnectParams, SessionAttrs, SslMode};
use crate::db::error::{DbError, DbErrorKind};

/// Builds the connector for `params` and the driver-level mode to pair it with.
///
/// - `disable`: TLS never negotiated.
/// - `prefer` / `require`: encrypt, but accept any certificate (as libpq does without a root cert).
/// - `verify-ca`: the chain must lead to `sslrootcert` (or the system store); any host name.
/// - `verify-full`: as `verify-ca`, and the certificate must name the host.
pub fn connector(
    params: &ConnectParams,
) -> Result<(MakeTlsConnector, postgres::config::SslMode), DbError> {
    let tls_error = |err: openssl::error::ErrorStack| {
        DbError::new(
            DbErrorKind::Rejected,
            format!("could not set up TLS: {err}"),
        )
    };
    let mut builder = SslConnector::builder(SslMethod::tls_client()).map_err(tls_error)?;
    let verify = matches!(params.sslmode, SslMode::VerifyCa | SslMode::VerifyFull);
    if verify {
        builder.set_verify(SslVerifyMode::PEER);
        if let Some(root) = &params.sslrootcert {
            builder.set_ca_file(root).map_err(|err| {
                DbError::new(
                    DbErrorKind::Rejected,
                    format!(
                        "cannot read the CA certificate {} (sslrootcert): {err}",
                        root.display()
                    ),
                )
            })?;
        }
    } else {
        builder.set_verify(SslVerifyMode::NONE);
    }
    client_certificate(&mut builder, params)?;
    let mut connector = MakeTlsConnector::new(builder.build());
    let check_host = params.sslmode == SslMode::VerifyFull;
    connector.set_callback(move |config, _domain| {
        config.set_verify_hostname(check_host);
        Ok(())
    });
    let mode = match params.sslmode {
        SslMode::Disable => postgres::config::SslMode::Disable,
        SslMode::Prefer => postgres::config::SslMode::Prefer,
        SslMode::Require | SslMode::VerifyCa | SslMode::VerifyFull => {
            postgres::config::SslMode::Require
        }
    };
    Ok((connector, mode))
}

/// Loads the client certificate and key (`sslcert`, `sslkey`) into `builder`, as libpq does:
/// a key file its group or others may read is refused, and each failure names the file.
fn client_certificate(
    builder: &mut openssl::ssl::SslConnectorBuilder,
    params: &ConnectParams,
) -> Result<(), DbError> {
    let refused = |message: String| DbError::new(DbErrorKind::Rejected, message);
    match (&params.sslcert, &params.sslkey) {
        (None, None) => Ok(()),
        (Some(_), None) | (None, Some(_)) => Err(refused(
            "a client certificate needs both sslcert and sslkey (PGSSLCERT and PGSSLKEY)"
                .to_owned(),
        )),
        (Some(cert), Some(key)) => {
            #[cfg(unix)]
            {
                use std::os::unix::fs::PermissionsExt as _;
                let mode = std::fs::metadata(key)
                    .map_err(|e| {
                        refused(format!(
                            "cannot read the client key {} (sslkey): {e}",
                            key.display()
                        ))
                    })?
                    .permissions()
                    .mode();
                if mode & 0o077 != 0 {
                    return Err(refused(format!(
                        "the client key {} (sslkey) can be read by other users (mode {:04o}); \
                         run `chmod 600 {}`",
                        key.display(),
                        mode & 0o777,
                        key.display()
                    )));
                }
            }
            builder.set_certificate_chain_file(cert).map_err(|e| {
                refused(format!(
                    "cannot read the client certificate {} (sslcert): {e}",
                    cert.display()
                ))
            })?;
            builder
                .set_private_key_file(key, openssl::ssl::SslFiletype::PEM)
                .map_err(|e| {
                    refused(format!(
                        "cannot read the client key {} (sslkey): {e}",
                        key.display()
                    ))
                })?;
            builder.check_private_key().map_err(|_| {
                refused(format!(
                    "the client key {} does not belong to the certificate {}",
                    key.display(),
                    cert.display()
                ))
            })
        }
    }
}

/// The driver's configuration and TLS connector for `params`, reporting as `application_name`.
pub fn driver_config(
    params: &ConnectParams,
    application_name: &str,
) -> Result<(postgres::Config, MakeTlsConnector), DbError> {
    let (tls, ssl_mode) = connector(params)?;
    let mut config = postgres::Config::new();
    // A multi-host list: the driver tries each in turn (or shuffled) until one answers and, with
    // a `target_session_attrs`, suits it (`SHOW transaction_read_only`).
    for host in params.hosts() {
        if host.host.starts_with('/') {
            config.host_path(&host.host);
        } else {
            config.host(&host.host);
        }
        config.port(host.port);
    }
    config
        .target_session_attrs(match params.target_session_attrs {
            SessionAttrs::Any => TargetSessionAttrs::Any,
            SessionAttrs::ReadWrite => TargetSessionAttrs::ReadWrite,
            SessionAttrs::ReadOnly => TargetSessionAttrs::ReadOnly,
        })
        .load_balance_hosts(if params.load_balance_hosts {
            LoadBalanceHosts::Random
        } else {
            LoadBalanceHosts::Disable
        })
        .dbname(&params.dbname)
        .user(&params.user)
        .application_name(application_name)
        .ssl_mode(ssl_mode)
        .connect_timeout(std::time::Duration::from_secs(
            params.connect_timeout_secs.max(1),
        ))
        .keepalives(true);
    if let Some(password) = &params.password {
        config.password(password.expose());
    }
    Ok((config, tls))
}
