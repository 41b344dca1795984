//! Settings: where the database is and how the pool behaves, resolved from flags > environment >
//! config file > defaults, with the password kept out of every log and `Debug` output.
//!
//! Resolution is a pure function of its inputs ([`Settings::resolve`]) so that tests can pin the
//! precedence without touching the process environment.

use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// The original design's pool bounds, kept as Marquee's defaults.
pub const DEFAULT_POOL_MIN: u32 = 2;
/// See [`DEFAULT_POOL_MIN`].
pub const DEFAULT_POOL_MAX: u32 = 10;

/// A configuration value that was present but unusable; each names the setting and how to fix it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    /// A value could not be parsed.
    #[error("{setting}: {message}")]
    Invalid {
        /// Where the value came from, e.g. `PGPORT` or `--pool-max`.
        setting: String,
        /// What is wrong and what is accepted.
        message: String,
    },
    /// The config file exists but cannot be read or parsed.
    #[error("config file {path}: {message}")]
    File {
        /// The file's path.
        path: String,
        /// What is wrong.
        message: String,
    },
}

fn invalid(setting: &str, message: impl Into<String>) -> ConfigError {
    ConfigError::Invalid {
        setting: setting.to_owned(),
        message: message.into(),
    }
}

/// A password. Its `Debug` and `Display` never show it, so it can sit in structs that get logged.
#[derive(Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    /// Wraps a password.
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The password itself, for the one place that needs it: the connection handshake.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

/// libpq's `sslmode` values. rust-postgres itself knows only disable/prefer/require; the
/// verifying modes are implemented by configuring the TLS connector (see `db::tls`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SslMode {
    /// Never use TLS.
    Disable,
    /// Use TLS when the server offers it, without verifying the certificate (libpq's default).
    #[default]
    Prefer,
    /// Require TLS, without verifying the certificate.
    Require,
    /// Require TLS and a certificate signed by a trusted CA.
    VerifyCa,
    /// Like `VerifyCa`, and the certificate must name the host.
    VerifyFull,
}

impl SslMode {
    /// All modes, in libpq's order, for menus.
    pub const ALL: [SslMode; 5] = [
        SslMode::Disable,
        SslMode::Prefer,
        SslMode::Require,
        SslMode::VerifyCa,
        SslMode::VerifyFull,
    ];

    /// The libpq spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            SslMode::Disable => "disable",
            SslMode::Prefer => "prefer",
            SslMode::Require => "require",
            SslMode::VerifyCa => "verify-ca",
            SslMode::VerifyFull => "verify-full",
        }
    }
}

impl fmt::Display for SslMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for SslMode {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        SslMode::ALL
            .into_iter()
            .find(|mode| mode.as_str().eq_ignore_ascii_case(s.trim()))
            .ok_or_else(|| {
                format!(
                    "unknown sslmode {s:?}; use one of disable, prefer, require, verify-ca, verify-full"
                )
            })
    }
}

/// Which session a multi-host list should end on (libpq's `target_session_attrs`, as far as
/// the driver can check it: through `SHOW transaction_read_only`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum SessionAttrs {
    /// The first host that answers.
    #[default]
    Any,
    /// A server that accepts writes: the primary of a standby pair.
    ReadWrite,
    /// A read-only session: a standby (or a server whose sessions default to read-only).
    ReadOnly,
}

impl FromStr for SessionAttrs {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim() {
            "any" => Ok(Self::Any),
            "read-write" => Ok(Self::ReadWrite),
            "read-only" => Ok(Self::ReadOnly),
            "primary" | "standby" | "prefer-standby" => Err(format!(
                "target_session_attrs={s} is not supported (the driver tells sessions apart by \
                 transaction_read_only only); use read-write for the primary, read-only for a standby, or any"
            )),
            other => Err(format!(
                "unknown target_session_attrs {other:?}; use any, read-write or read-only"
            )),
        }
    }
}

impl fmt::Display for SessionAttrs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Any => "any",
            Self::ReadWrite => "read-write",
            Self::ReadOnly => "read-only",
        })
    }
}

/// One more host of a multi-host list (`host=a,b port=5432,5433`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct HostPort {
    /// Host name, IP address or socket directory.
    pub host: String,
    /// Its port.
    pub port: u16,
}

/// Where and how to connect to an external PostgreSQL server.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConnectParams {
    /// Host name, IP address, or a directory holding the server's Unix socket.
    pub host: String,
    /// TCP port (also names the Unix socket file).
    pub port: u16,
    /// Database name.
    pub dbname: String,
    /// Role name.
    pub user: String,
    /// Password, if the server asks for one.
    #[serde(skip)]
    pub password: Option<Secret>,
    /// TLS policy.
    pub sslmode: SslMode,
    /// CA certificate file for the verifying modes (libpq's `sslrootcert`).
    pub sslrootcert: Option<PathBuf>,
    /// Client certificate (PEM) to show the server (libpq's `sslcert`).
    #[serde(default)]
    pub sslcert: Option<PathBuf>,
    /// Its private key (PEM; libpq's `sslkey`), readable by its owner alone.
    #[serde(default)]
    pub sslkey: Option<PathBuf>,
    /// How long to wait for the TCP connection and handshake.
    pub connect_timeout_secs: u64,
    /// `application_name` (libpq's `PGAPPNAME`): how the server's views name the pool's
    /// connections; [`DEFAULT_APPLICATION_NAME`] when unset.
    #[serde(default)]
    pub application_name: Option<String>,
    /// Server settings for each connection (libpq's `options`, `PGOPTIONS`: `-c work_mem=64MB`).
    #[serde(default)]
    pub options: Option<String>,
    /// The rest of a multi-host list, after `host`/`port`: each connection tries them in order
    /// (or shuffled, with `load_balance_hosts`) until one answers and suits `target_session_attrs`.
    #[serde(default)]
    pub more_hosts: Vec<HostPort>,
    /// Which session to end on (`PGTARGETSESSIONATTRS`).
    #[serde(default)]
    pub target_session_attrs: SessionAttrs,
    /// Try the hosts in random order (`load_balance_hosts=random`, `PGLOADBALANCEHOSTS`).
    #[serde(default)]
    pub load_balance_hosts: bool,
    /// Read replicas of this server (the `replicas` setting): standbys, one or more hosts, where
    /// the pool sends browsing reads. Writes, and reads when no standby answers, go to the
    /// hosts above. Never nested: a replica's own `replicas` is `None`.
    #[serde(default)]
    pub replicas: Option<Box<ConnectParams>>,
}

/// The `application_name` of the pool's connections when none is configured: the pool stats
/// panel finds them in `pg_stat_activity` by it.
pub const DEFAULT_APPLICATION_NAME: &str = "marquee";

impl Default for ConnectParams {
    fn default() -> Self {
        Self {
            host: "localhost".to_owned(),
            port: 5432,
            dbname: "postgres".to_owned(),
            user: "postgres".to_owned(),
            password: None,
            sslmode: SslMode::Prefer,
            sslrootcert: None,
            sslcert: None,
            sslkey: None,
            connect_timeout_secs: 5,
            application_name: None,
            options: None,
            more_hosts: Vec::new(),
            target_session_attrs: SessionAttrs::Any,
            load_balance_hosts: false,
            replicas: None,
        }
    }
}

impl ConnectParams {
    /// `host:port/dbname` (`a:5432,b:5433/dbname` for a list), the form the log lines and the
    /// status bar show. Never holds the password.
    pub fn display_target(&self) -> String {
        format!("{}/{}", self.hosts_label(), self.dbname)
    }

    /// `host:port` (`a:5432,b:5433` for a list): how the pool panel and the host board name the
    /// hosts, and the bare form of the `replicas` setting.
    pub fn hosts_label(&self) -> String {
        self.hosts()
            .iter()
            .map(|h| format!("{}:{}", h.host, h.port))
            .collect::<Vec<_>>()
            .join(",")
    }

    /// The whole handshake's deadline: the connect timeout (which rust-postgres applies to the
    /// socket alone) and a second, so a host that never answers TCP is reported as such rather
    /// than as a silent server.
    pub fn handshake_timeout(&self) -> Duration {
        Duration::from_secs(self.connect_timeout_secs.max(1) + 1)
    }

    /// Every host of the list with its port, the first one first.
    pub fn hosts(&self) -> Vec<HostPort> {
        std::iter::once(HostPort {
            host: self.host.clone(),
            port: self.port,
        })
        .chain(self.more_hosts.iter().cloned())
        .collect()
    }

    /// The `application_name` the pool's connections report.
    pub fn application_name(&self) -> &str {
        self.application_name
            .as_deref()
            .unwrap_or(DEFAULT_APPLICATION_NAME)
    }

    /// A libpq URL that `psql` accepts, without the password.
    pub fn to_url(&self) -> String {
        let mut url = format!("postgresql://{}@", percent_encode(&self.user));
        // A socket folder, and any list, goes in the query: `host=a,b&port=1,2`.
        let socket = self.host.starts_with('/') || !self.more_hosts.is_empty();
        if !socket {
            url.push_str(&percent_encode(&self.host));
            url.push_str(&format!(":{}", self.port));
        }
        url.push('/');
        url.push_str(&percent_encode(&self.dbname));
        let mut query = Vec::new();
        if socket {
            let hosts = self.hosts();
            let names: Vec<String> = hosts.iter().map(|h| percent_encode(&h.host)).collect();
            let ports: Vec<String> = hosts.iter().map(|h| h.port.to_string()).collect();
            query.push(format!("host={}", names.join(",")));
            query.push(format!("port={}", ports.join(",")));
        }
        if self.target_session_attrs != SessionAttrs::Any {
            query.push(format!(
                "target_session_attrs={}",
                self.target_session_attrs
            ));
        }
        if self.load_balance_hosts {
            query.push("load_balance_hosts=random".to_owned());
        }
        if self.sslmode != SslMode::Prefer {
            query.push(format!("sslmode={}", self.sslmode));
        }
        if let Some(root) = &self.sslrootcert {
            query.push(format!(
                "sslrootcert={}",
                percent_encode(&root.to_string_lossy())
            ));
        }
        if let Some(name) = &self.application_name {
            query.push(format!("application_name={}", percent_encode(name)));
        }
        if let Some(options) = &self.options {
            query.push(format!("options={}", percent_encode(options)));
        }
        if !query.is_empty() {
            url.push('?');
            url.push_str(&query.join("&"));
        }
        url
    }
}

/// How the pool behaves. Every default lives in the one `Default` impl below.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PoolSettings {
    /// Connections kept open even when idle.
    pub min_idle: u32,
    /// Upper bound on open connections.
    pub max_size: u32,
    /// How long a checkout may wait before failing with a reason.
    pub checkout_timeout_ms: u64,
    /// A connection used more recently than this is handed out without a validation round trip
    /// (HikariCP's `aliveBypassWindowMs`); older ones are validated at checkout.
    pub validation_bypass_ms: u64,
    /// How long validating a connection may take before it is declared dead.
    pub validation_timeout_ms: u64,
    /// Idle connections above `min_idle` are closed after this long.
    pub idle_timeout_secs: u64,
    /// Connections are recycled after this long, so server-side memory does not grow forever.
    pub max_lifetime_secs: u64,
    /// Server-side `statement_timeout` for every query; a runaway query ends with a clear error.
    pub statement_timeout_ms: u64,
}

impl Default for PoolSettings {
    fn default() -> Self {
        Self {
            min_idle: DEFAULT_POOL_MIN,
            max_size: DEFAULT_POOL_MAX,
            checkout_timeout_ms: 5_000,
            validation_bypass_ms: 500,
            validation_timeout_ms: 2_000,
            idle_timeout_secs: 600,
            max_lifetime_secs: 1_800,
            statement_timeout_ms: 30_000,
        }
    }
}

impl PoolSettings {
    /// The checkout deadline as a `Duration`.
    pub fn checkout_timeout(&self) -> Duration {
        Duration::from_millis(self.checkout_timeout_ms)
    }

    fn validate(&self) -> Result<(), ConfigError> {
        if self.max_size == 0 {
            return Err(invalid(
                "pool max",
                "must be at least 1 (the original design used 10)",
            ));
        }
        if self.min_idle > self.max_size {
            return Err(invalid(
                "pool min",
                format!(
                    "min {} is larger than max {}; set min ≤ max",
                    self.min_idle, self.max_size
                ),
            ));
        }
        if self.checkout_timeout_ms == 0 {
            return Err(invalid("checkout timeout", "must be more than 0"));
        }
        Ok(())
    }
}

/// Which server Marquee talks to.
// One value per set of settings, moved around a handful of times: boxing the larger variant
// would cost every `External(..)` a box for no measurable gain.
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ServerChoice {
    /// Nothing named a server: Marquee runs its own cluster in this folder.
    Private {
        /// The folder holding `pgdata/`, the socket directory and the server log.
        data_dir: PathBuf,
    },
    /// A server named by flags, environment or config file.
    External(ConnectParams),
}

/// Everything resolved: which server, and the pool settings.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Settings {
    /// Which server.
    pub server: ServerChoice,
    /// How the pool behaves.
    pub pool: PoolSettings,
    /// What to read: the `[source]` section of the config file and `--schema`.
    pub source: SourceSettings,
}

/// Where a connection setting's value came from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Origin {
    /// A command-line flag.
    Flag,
    /// The `--url` flag.
    FlagUrl,
    /// Its own environment variable (`PGHOST`, …).
    Environment,
    /// `DATABASE_URL`.
    EnvironmentUrl,
    /// A key of the config file.
    ConfigFile,
    /// The config file's `url`.
    ConfigFileUrl,
    /// A section of `pg_service.conf`.
    Service(String),
    /// A line of this password file.
    PasswordFile(PathBuf),
    /// Typed into the connection dialog.
    Dialog,
}

/// Where each connection setting came from, by libpq keyword; a setting not listed has its
/// default. Holds no value, so no password.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Provenance {
    entries: std::collections::BTreeMap<&'static str, Origin>,
}

impl Provenance {
    /// Where `keyword` (`host`, `port`, `password`, …) came from; `None` for its default.
    pub fn of(&self, keyword: &str) -> Option<&Origin> {
        self.entries.get(keyword)
    }

    /// "from PGHOST", "from --url", "from service movies", "from the password file ~/.pgpass",
    /// "default".
    pub fn describe(&self, keyword: &str) -> String {
        let Some(origin) = self.of(keyword) else {
            return "default".to_owned();
        };
        match origin {
            Origin::Flag => format!("from --{}", keyword.replace('_', "-")),
            Origin::FlagUrl => "from --url".to_owned(),
            Origin::Environment => format!("from {}", environment_variable(keyword)),
            Origin::EnvironmentUrl => "from DATABASE_URL".to_owned(),
            Origin::ConfigFile => format!("from the config file ({keyword})"),
            Origin::ConfigFileUrl => "from the config file's url".to_owned(),
            Origin::Service(name) => format!("from service {name} (pg_service.conf)"),
            Origin::PasswordFile(path) => format!("from the password file {}", path.display()),
            Origin::Dialog => "set here".to_owned(),
        }
    }

    /// Records that `keyword` now comes from `origin`.
    pub fn set(&mut self, keyword: &'static str, origin: Origin) {
        self.entries.insert(keyword, origin);
    }
}

/// The environment variable of each connection setting, by libpq keyword: `ConfigLayer::from_env`
/// reads them, and the connection dialog names them.
const ENVIRONMENT: [(&str, &str); 17] = [
    ("host", "PGHOST"),
    ("port", "PGPORT"),
    ("dbname", "PGDATABASE"),
    ("user", "PGUSER"),
    ("password", "PGPASSWORD"),
    ("sslmode", "PGSSLMODE"),
    ("sslrootcert", "PGSSLROOTCERT"),
    ("sslcert", "PGSSLCERT"),
    ("sslkey", "PGSSLKEY"),
    ("connect_timeout", "PGCONNECT_TIMEOUT"),
    ("application_name", "PGAPPNAME"),
    ("options", "PGOPTIONS"),
    ("target_session_attrs", "PGTARGETSESSIONATTRS"),
    ("load_balance_hosts", "PGLOADBALANCEHOSTS"),
    ("replicas", "MARQUEE_REPLICAS"),
    ("pool_min", "MARQUEE_POOL_MIN"),
    ("pool_max", "MARQUEE_POOL_MAX"),
];

/// The environment variable that sets `keyword`.
fn environment_variable(keyword: &str) -> &'static str {
    ENVIRONMENT
        .iter()
        .find(|(k, _)| *k == keyword)
        .map_or("the environment", |(_, variable)| variable)
}

/// One source of settings (flags, environment or file); `None` means "this source is silent".
/// Its `Debug` redacts the password, including one inside `url`.
#[derive(Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ConfigLayer {
    /// `postgresql://user:password@host:port/db?sslmode=…`
    pub url: Option<String>,
    /// Server host or socket directory.
    pub host: Option<String>,
    /// Server port.
    #[serde(deserialize_with = "string_or_number")]
    pub port: Option<String>,
    /// Database name.
    pub dbname: Option<String>,
    /// Role name.
    pub user: Option<String>,
    /// Password.
    pub password: Option<Secret>,
    /// libpq's password file, read when no password is given (`PGPASSFILE`, else `~/.pgpass`).
    pub passfile: Option<PathBuf>,
    /// A libpq service: its section of `pg_service.conf` fills what this layer leaves unset.
    pub service: Option<String>,
    /// Where services are looked up, in order (from the environment: `PGSERVICEFILE` or
    /// `~/.pg_service.conf`, then `PGSYSCONFDIR/pg_service.conf`).
    #[serde(skip)]
    pub service_files: Vec<PathBuf>,
    /// libpq sslmode.
    pub sslmode: Option<String>,
    /// CA file for verify-ca/verify-full.
    pub sslrootcert: Option<PathBuf>,
    /// Client certificate.
    pub sslcert: Option<PathBuf>,
    /// Client certificate's key.
    pub sslkey: Option<PathBuf>,
    /// Connect timeout in seconds.
    #[serde(deserialize_with = "string_or_number")]
    pub connect_timeout: Option<String>,
    /// `application_name` for the server's views.
    pub application_name: Option<String>,
    /// libpq `options`: server settings sent with each connection.
    pub options: Option<String>,
    /// `any`, `read-write` or `read-only`, for a multi-host list.
    pub target_session_attrs: Option<String>,
    /// `disable` or `random`.
    pub load_balance_hosts: Option<String>,
    /// Read replicas: a host list (`r1:5432,r2`) that shares everything else with the server,
    /// or a URL of their own (`postgresql://reader@r1,r2/movies`).
    pub replicas: Option<String>,
    /// Pool minimum idle connections.
    #[serde(deserialize_with = "string_or_number")]
    pub pool_min: Option<String>,
    /// Pool maximum size.
    #[serde(deserialize_with = "string_or_number")]
    pub pool_max: Option<String>,
    /// Checkout deadline in milliseconds.
    #[serde(deserialize_with = "string_or_number")]
    pub checkout_timeout_ms: Option<String>,
    /// Statement timeout in milliseconds.
    #[serde(deserialize_with = "string_or_number")]
    pub statement_timeout_ms: Option<String>,
    /// Folder for the private cluster.
    pub data_dir: Option<PathBuf>,
    /// Force the private cluster even if the environment names a server.
    pub private: Option<bool>,
    /// `[source]`: where the movies are when they are not Marquee's own (config file only).
    pub source: Option<SourceSettings>,
}

impl fmt::Debug for ConfigLayer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ConfigLayer")
            .field("url", &self.url.as_deref().map(redact_url))
            .field("host", &self.host)
            .field("port", &self.port)
            .field("dbname", &self.dbname)
            .field("user", &self.user)
            .field("password", &self.password)
            .field("passfile", &self.passfile)
            .field("service", &self.service)
            .field("sslmode", &self.sslmode)
            .field("sslrootcert", &self.sslrootcert)
            .field("pool_min", &self.pool_min)
            .field("pool_max", &self.pool_max)
            .field("data_dir", &self.data_dir)
            .field("private", &self.private)
            .finish_non_exhaustive()
    }
}

/// The URL with any password (`user:secret@` or `password=secret`) replaced by `***`.
pub fn redact_url(url: &str) -> String {
    let mut out = url.to_owned();
    if let Some(scheme_end) = out.find("://") {
        let authority_start = scheme_end + 3;
        let authority_end = out[authority_start..]
            .find(['/', '?'])
            .map_or(out.len(), |i| authority_start + i);
        if let Some(at) = out[authority_start..authority_end].rfind('@') {
            let userinfo = &out[authority_start..authority_start + at];
            if let Some(colon) = userinfo.find(':') {
                out.replace_range(authority_start + colon + 1..authority_start + at, "***");
            }
        }
    }
    if let Some(q) = out.find('?') {
        let (head, query) = out.split_at(q + 1);
        let query: Vec<String> = query
            .split('&')
            .map(|pair| match pair.split_once('=') {
                Some(("password", _)) => "password=***".to_owned(),
                _ => pair.to_owned(),
            })
            .collect();
        out = format!("{head}{}", query.join("&"));
    }
    out
}

impl ConfigLayer {
    /// The environment layer: `DATABASE_URL`, libpq's `PG*` variables and `MARQUEE_*`.
    pub fn from_env(get: impl Fn(&str) -> Option<String>) -> Self {
        let get = |key: &str| get(key).filter(|v| !v.is_empty());
        let var = |keyword: &str| get(environment_variable(keyword));
        Self {
            url: get("DATABASE_URL"),
            host: var("host"),
            port: var("port"),
            dbname: var("dbname"),
            user: var("user"),
            password: var("password").map(Secret::new),
            // libpq's order: PGPASSFILE, else the file in the home folder.
            passfile: get("PGPASSFILE")
                .map(PathBuf::from)
                .or_else(|| get("HOME").map(|home| Path::new(&home).join(".pgpass"))),
            service: get("PGSERVICE"),
            service_files: [
                get("PGSERVICEFILE")
                    .map(PathBuf::from)
                    .or_else(|| get("HOME").map(|home| Path::new(&home).join(".pg_service.conf"))),
                Some(
                    Path::new(
                        &get("PGSYSCONFDIR").unwrap_or_else(|| "/etc/postgresql-common".to_owned()),
                    )
                    .join("pg_service.conf"),
                ),
            ]
            .into_iter()
            .flatten()
            .collect(),
            sslmode: var("sslmode"),
            sslrootcert: var("sslrootcert").map(PathBuf::from),
            sslcert: var("sslcert").map(PathBuf::from),
            sslkey: var("sslkey").map(PathBuf::from),
            connect_timeout: var("connect_timeout"),
            application_name: var("application_name"),
            options: var("options"),
            target_session_attrs: var("target_session_attrs"),
            load_balance_hosts: var("load_balance_hosts"),
            replicas: var("replicas"),
            pool_min: var("pool_min"),
            pool_max: var("pool_max"),
            checkout_timeout_ms: get("MARQUEE_CHECKOUT_TIMEOUT_MS"),
            statement_timeout_ms: get("MARQUEE_STATEMENT_TIMEOUT_MS"),
            data_dir: get("MARQUEE_DATA_DIR").map(PathBuf::from),
            private: get("MARQUEE_PRIVATE").map(|v| v == "1" || v.eq_ignore_ascii_case("true")),
            source: None,
        }
    }

    /// Reads the TOML config file; a missing file is an empty layer, a broken one an error.
    pub fn from_file(path: &Path) -> Result<Self, ConfigError> {
        let text = match std::fs::read_to_string(path) {
            Ok(text) => text,
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(Self::default()),
            Err(err) => {
                return Err(ConfigError::File {
                    path: path.display().to_string(),
                    message: err.to_string(),
                });
            }
        };
        toml::from_str(&text).map_err(|err| ConfigError::File {
            path: path.display().to_string(),
            message: err.message().to_owned(),
        })
    }

    /// Whether this layer names a server (and so turns off the private cluster).
    fn names_server(&self) -> bool {
        self.url.is_some() || self.host.is_some() || self.service.is_some()
    }

    /// This layer split the way its values are looked up: its own fields, then its URL's, then
    /// those of the service either names (explicit fields > URL > service, within a layer), each
    /// with where it comes from. `origins` name the fields and the URL of this layer.
    fn parts(
        &self,
        origins: [Origin; 2],
        source: &str,
        service_files: &[PathBuf],
    ) -> Result<Vec<(Origin, Self)>, ConfigError> {
        let [fields_origin, url_origin] = origins;
        let fields = Self {
            url: None,
            ..self.clone()
        };
        let mut parts = vec![(fields_origin, fields)];
        if let Some(url) = &self.url {
            let from_url = parse_url(url).map_err(|message| invalid(source, message))?;
            parts.push((url_origin, from_url));
        }
        if let Some(name) = parts.iter().find_map(|(_, p)| p.service.clone()) {
            let service = read_service(&name, service_files)
                .map_err(|message| invalid(&format!("{source} (service)"), message))?;
            parts.push((Origin::Service(name), service));
        }
        Ok(parts)
    }

    /// The connection settings this layer sets, by their libpq keyword.
    fn keywords_set(&self) -> Vec<&'static str> {
        let set = [
            ("host", self.host.is_some()),
            ("port", self.port.is_some()),
            ("dbname", self.dbname.is_some()),
            ("user", self.user.is_some()),
            ("password", self.password.is_some()),
            ("sslmode", self.sslmode.is_some()),
            ("sslrootcert", self.sslrootcert.is_some()),
            ("sslcert", self.sslcert.is_some()),
            ("sslkey", self.sslkey.is_some()),
            ("connect_timeout", self.connect_timeout.is_some()),
            ("application_name", self.application_name.is_some()),
            ("options", self.options.is_some()),
            ("target_session_attrs", self.target_session_attrs.is_some()),
            ("load_balance_hosts", self.load_balance_hosts.is_some()),
            ("replicas", self.replicas.is_some()),
            ("pool_min", self.pool_min.is_some()),
            ("pool_max", self.pool_max.is_some()),
        ];
        set.into_iter()
            .filter(|(_, is_set)| *is_set)
            .map(|(key, _)| key)
            .collect()
    }

    /// `self` where set, else `lower`.
    fn over(self, lower: Self) -> Self {
        Self {
            url: None,
            host: self.host.or(lower.host),
            port: self.port.or(lower.port),
            dbname: self.dbname.or(lower.dbname),
            user: self.user.or(lower.user),
            password: self.password.or(lower.password),
            passfile: self.passfile.or(lower.passfile),
            service: self.service.or(lower.service),
            service_files: if self.service_files.is_empty() {
                lower.service_files
            } else {
                self.service_files
            },
            sslmode: self.sslmode.or(lower.sslmode),
            sslrootcert: self.sslrootcert.or(lower.sslrootcert),
            sslcert: self.sslcert.or(lower.sslcert),
            sslkey: self.sslkey.or(lower.sslkey),
            connect_timeout: self.connect_timeout.or(lower.connect_timeout),
            application_name: self.application_name.or(lower.application_name),
            options: self.options.or(lower.options),
            target_session_attrs: self.target_session_attrs.or(lower.target_session_attrs),
            load_balance_hosts: self.load_balance_hosts.or(lower.load_balance_hosts),
            replicas: self.replicas.or(lower.replicas),
            pool_min: self.pool_min.or(lower.pool_min),
            pool_max: self.pool_max.or(lower.pool_max),
            checkout_timeout_ms: self.checkout_timeout_ms.or(lower.checkout_timeout_ms),
            statement_timeout_ms: self.statement_timeout_ms.or(lower.statement_timeout_ms),
            data_dir: self.data_dir.or(lower.data_dir),
            private: self.private.or(lower.private),
            source: self.source.or(lower.source),
        }
    }
}

/// The items of a libpq list (`a,b`), trimmed; empty items are dropped.
fn split_list(text: &str) -> Vec<String> {
    text.split(',')
        .map(str::trim)
        .filter(|item| !item.is_empty())
        .map(str::to_owned)
        .collect()
}

/// Lets the config file say `pool_max = 4` as well as `pool_max = "4"`.
fn string_or_number<'de, D: serde::Deserializer<'de>>(de: D) -> Result<Option<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Value {
        Text(String),
        Int(i64),
        Float(f64),
    }
    Ok(Some(match Value::deserialize(de)? {
        Value::Text(text) => text,
        Value::Int(n) => n.to_string(),
        Value::Float(n) => n.to_string(),
    }))
}

fn parse_num<T: FromStr>(
    value: &Option<String>,
    setting: &str,
    what: &str,
) -> Result<Option<T>, ConfigError> {
    value
        .as_deref()
        .map(|v| {
            v.trim()
                .parse::<T>()
                .map_err(|_| invalid(setting, format!("{v:?} is not {what}")))
        })
        .transpose()
}

impl Settings {
    /// Resolves flags > environment > file > defaults. `default_data_dir` is used for the private
    /// cluster when no layer names a folder.
    pub fn resolve(
        flags: &ConfigLayer,
        env: &ConfigLayer,
        file: &ConfigLayer,
        default_data_dir: &Path,
    ) -> Result<Settings, ConfigError> {
        Self::resolve_explained(flags, env, file, default_data_dir).map(|(settings, _)| settings)
    }

    /// [`Self::resolve`], and where each connection setting came from (for the connection
    /// dialog): the first of flags, `--url`, the service they name, environment, `DATABASE_URL`,
    /// its service, config file, its `url`, its service, then the password file and defaults.
    pub fn resolve_explained(
        flags: &ConfigLayer,
        env: &ConfigLayer,
        file: &ConfigLayer,
        default_data_dir: &Path,
    ) -> Result<(Settings, Provenance), ConfigError> {
        let names_server = flags.names_server() || env.names_server() || file.names_server();
        let mut parts =
            flags.parts([Origin::Flag, Origin::FlagUrl], "--url", &env.service_files)?;
        parts.extend(env.parts(
            [Origin::Environment, Origin::EnvironmentUrl],
            "DATABASE_URL or PGSERVICE",
            &env.service_files,
        )?);
        parts.extend(file.parts(
            [Origin::ConfigFile, Origin::ConfigFileUrl],
            "the config file's url or service",
            &env.service_files,
        )?);
        let mut provenance = Provenance::default();
        for (origin, part) in &parts {
            for key in part.keywords_set() {
                provenance
                    .entries
                    .entry(key)
                    .or_insert_with(|| origin.clone());
            }
        }
        let merged = parts
            .into_iter()
            .map(|(_, part)| part)
            .reduce(ConfigLayer::over)
            .unwrap_or_default();

        let defaults = PoolSettings::default();
        let pool = PoolSettings {
            min_idle: parse_num(
                &merged.pool_min,
                "pool min (MARQUEE_POOL_MIN/--pool-min)",
                "a whole number",
            )?
            .unwrap_or(defaults.min_idle),
            max_size: parse_num(
                &merged.pool_max,
                "pool max (MARQUEE_POOL_MAX/--pool-max)",
                "a whole number",
            )?
            .unwrap_or(defaults.max_size),
            checkout_timeout_ms: parse_num(
                &merged.checkout_timeout_ms,
                "checkout timeout (MARQUEE_CHECKOUT_TIMEOUT_MS)",
                "a number of milliseconds",
            )?
            .unwrap_or(defaults.checkout_timeout_ms),
            statement_timeout_ms: parse_num(
                &merged.statement_timeout_ms,
                "statement timeout (MARQUEE_STATEMENT_TIMEOUT_MS)",
                "a number of milliseconds",
            )?
            .unwrap_or(defaults.statement_timeout_ms),
            ..defaults
        };
        pool.validate()?;

        let sslmode = merged
            .sslmode
            .as_deref()
            .map(|v| {
                v.parse::<SslMode>()
                    .map_err(|m| invalid("sslmode (PGSSLMODE/--sslmode)", m))
            })
            .transpose()?;
        let hosts = merged.host.as_deref().map(split_list).unwrap_or_default();
        let ports = merged
            .port
            .as_deref()
            .map(split_list)
            .unwrap_or_default()
            .iter()
            .map(|p| {
                p.parse::<u16>().ok().filter(|p| *p != 0).ok_or_else(|| {
                    invalid(
                        "port (PGPORT/--port)",
                        format!("{p:?} is not a port number (1–65535)"),
                    )
                })
            })
            .collect::<Result<Vec<u16>, _>>()?;
        if ports.len() > 1 && ports.len() != hosts.len().max(1) {
            return Err(invalid(
                "port (PGPORT/--port)",
                format!(
                    "{} ports for {} hosts; give one port for all, or one per host",
                    ports.len(),
                    hosts.len().max(1)
                ),
            ));
        }
        let target_session_attrs = merged
            .target_session_attrs
            .as_deref()
            .map(|v| {
                v.parse::<SessionAttrs>()
                    .map_err(|m| invalid("target_session_attrs (PGTARGETSESSIONATTRS)", m))
            })
            .transpose()?
            .unwrap_or_default();
        let load_balance_hosts = match merged.load_balance_hosts.as_deref().map(str::trim) {
            None | Some("disable") => false,
            Some("random") => true,
            Some(other) => {
                return Err(invalid(
                    "load_balance_hosts (PGLOADBALANCEHOSTS)",
                    format!("unknown value {other:?}; use disable or random"),
                ));
            }
        };
        let connect_timeout_secs = parse_num::<u64>(
            &merged.connect_timeout,
            "connect timeout (PGCONNECT_TIMEOUT)",
            "a number of seconds",
        )?;

        let private = merged.private.unwrap_or(false) || !names_server;
        let server = if private {
            ServerChoice::Private {
                data_dir: merged
                    .data_dir
                    .unwrap_or_else(|| default_data_dir.to_owned()),
            }
        } else {
            let d = ConnectParams::default();
            let port_of = |i: usize| ports.get(i).or(ports.first()).copied().unwrap_or(d.port);
            let mut params = ConnectParams {
                host: hosts.first().cloned().unwrap_or(d.host),
                port: port_of(0),
                dbname: merged.dbname.unwrap_or(d.dbname),
                user: merged.user.unwrap_or(d.user),
                password: merged.password,
                sslmode: sslmode.unwrap_or(d.sslmode),
                sslrootcert: merged.sslrootcert,
                sslcert: merged.sslcert,
                sslkey: merged.sslkey,
                connect_timeout_secs: connect_timeout_secs.unwrap_or(d.connect_timeout_secs),
                application_name: merged.application_name,
                options: merged.options,
                more_hosts: hosts
                    .iter()
                    .enumerate()
                    .skip(1)
                    .map(|(i, host)| HostPort {
                        host: host.clone(),
                        port: port_of(i),
                    })
                    .collect(),
                target_session_attrs,
                load_balance_hosts,
                replicas: None,
            };
            if params.password.is_none()
                && let Some(passfile) = &merged.passfile
                && password_from_file(&mut params, passfile)
            {
                provenance.set("password", Origin::PasswordFile(passfile.clone()));
            }
            if let Some(text) = &merged.replicas {
                let replicas = replica_params(text, &params, merged.passfile.as_deref()).map_err(
                    |message| invalid("replicas (MARQUEE_REPLICAS/--replicas)", message),
                )?;
                params.replicas = Some(Box::new(replicas));
            }
            ServerChoice::External(params)
        };
        let source = merged.source.clone().unwrap_or_default();
        Ok((
            Settings {
                server,
                pool,
                source,
            },
            provenance,
        ))
    }
}

/// Fills `params.password` from the password file, as libpq does; whether a line matched.
///
/// libpq looks the password up for each host it tries; one password serves the whole list
/// here, so the first host with a line gives it.
fn password_from_file(params: &mut ConnectParams, passfile: &Path) -> bool {
    for host in params.hosts() {
        let target = crate::pgpass::Target {
            host: &host.host,
            port: host.port,
            dbname: &params.dbname,
            user: &params.user,
        };
        match crate::pgpass::lookup(passfile, target) {
            Ok(Some(found)) => {
                params.password = Some(Secret::new(found));
                return true;
            }
            Ok(None) => {}
            // libpq goes on without the file too; the server may not want a password.
            Err(problem) => {
                tracing::warn!("{problem}");
                return false;
            }
        }
    }
    false
}

/// The `replicas` setting that gives `replicas` for `server`: the bare host list when they share
/// the server's role and database, else their URL (without a password). For the dialog.
pub fn replicas_text(replicas: &ConnectParams, server: &ConnectParams) -> String {
    if replicas.user == server.user && replicas.dbname == server.dbname {
        replicas.hosts_label()
    } else {
        replicas.to_url()
    }
}

/// The read replicas' connection settings from the `replicas` setting: a URL of their own
/// (`postgresql://reader@r1:5432,r2/movies`), whose unset parts are the server's, or a bare
/// host list (`r1:5433,r2`), which shares everything but the hosts with the server. A role the
/// server's settings do not name finds its password in the URL or the password file.
pub fn replica_params(
    text: &str,
    server: &ConnectParams,
    passfile: Option<&Path>,
) -> Result<ConnectParams, String> {
    let is_url = text.starts_with("postgresql://") || text.starts_with("postgres://");
    let layer = if is_url {
        parse_url(text)?
    } else {
        ConfigLayer {
            host: Some(text.to_owned()),
            ..ConfigLayer::default()
        }
    };
    // `host:port` items of a bare list, or the URL's hosts and ports.
    let mut hosts = Vec::new();
    let hosts_text = layer.host.as_deref().unwrap_or_default();
    let url_ports = layer.port.as_deref().map(split_list).unwrap_or_default();
    for (i, item) in split_list(hosts_text).into_iter().enumerate() {
        let (host, port) = match (is_url, item.rsplit_once(':')) {
            (false, Some((host, port))) if !host.is_empty() => {
                (host.to_owned(), Some(port.to_owned()))
            }
            _ => (
                item.clone(),
                url_ports.get(i).or(url_ports.first()).cloned(),
            ),
        };
        let port = match port {
            None => server.port,
            Some(port) => port
                .parse::<u16>()
                .ok()
                .filter(|p| *p != 0)
                .ok_or_else(|| format!("{port:?} in {item:?} is not a port number (1–65535)"))?,
        };
        hosts.push(HostPort { host, port });
    }
    let Some(first) = hosts.first().cloned() else {
        return Err(
            "names no host; give hosts (r1:5432,r2) or a URL (postgresql://r1/movies)".to_owned(),
        );
    };
    let user_changed = layer.user.as_ref().is_some_and(|u| *u != server.user);
    let mut replicas = ConnectParams {
        host: first.host,
        port: first.port,
        more_hosts: hosts.into_iter().skip(1).collect(),
        dbname: layer.dbname.unwrap_or_else(|| server.dbname.clone()),
        user: layer.user.unwrap_or_else(|| server.user.clone()),
        password: layer
            .password
            .or_else(|| (!user_changed).then(|| server.password.clone()).flatten()),
        sslmode: match layer.sslmode {
            Some(mode) => mode.parse()?,
            None => server.sslmode,
        },
        // Standbys are read-only by nature; the pool sorts hosts by what they report.
        target_session_attrs: SessionAttrs::Any,
        load_balance_hosts: match layer.load_balance_hosts.as_deref() {
            Some("random") => true,
            Some("disable") => false,
            Some(other) => {
                return Err(format!(
                    "load_balance_hosts {other:?}: use disable or random"
                ));
            }
            None => server.load_balance_hosts,
        },
        replicas: None,
        ..server.clone()
    };
    if replicas.password.is_none()
        && let Some(passfile) = passfile
    {
        password_from_file(&mut replicas, passfile);
    }
    Ok(replicas)
}

/// Where Marquee keeps its private cluster when nothing else says: the platform's user data folder
/// (`$XDG_DATA_HOME/marquee` on Linux). For root that folder sits under `/root`, which the
/// unprivileged server account cannot enter, so root gets the system-wide `/var/lib/marquee`.
pub fn default_data_dir() -> PathBuf {
    // SAFETY: geteuid has no preconditions and cannot fail.
    let is_root = unsafe { libc::geteuid() } == 0;
    if is_root && std::env::var_os("XDG_DATA_HOME").is_none() {
        return PathBuf::from("/var/lib/marquee");
    }
    directories::ProjectDirs::from("", "", "marquee")
        .map(|dirs| dirs.data_dir().to_owned())
        .unwrap_or_else(|| PathBuf::from(".marquee"))
}

/// `$XDG_CONFIG_HOME/marquee/config.toml` or the platform equivalent.
pub fn default_config_file() -> Option<PathBuf> {
    directories::ProjectDirs::from("", "", "marquee")
        .map(|dirs| dirs.config_dir().join("config.toml"))
}

/// Components of a libpq URL; the caller decides precedence.
fn parse_url(url: &str) -> Result<ConfigLayer, String> {
    let rest = url
        .strip_prefix("postgresql://")
        .or_else(|| url.strip_prefix("postgres://"))
        .ok_or_else(|| {
            "a URL must start with postgresql:// (for example postgresql://user@host:5432/db)"
                .to_owned()
        })?;
    let (main, query) = match rest.split_once('?') {
        Some((main, query)) => (main, Some(query)),
        None => (rest, None),
    };
    let (authority, path) = match main.split_once('/') {
        Some((authority, path)) => (authority, Some(path)),
        None => (main, None),
    };
    let mut layer = ConfigLayer::default();
    let hostport = match authority.rsplit_once('@') {
        Some((userinfo, hostport)) => {
            let (user, password) = match userinfo.split_once(':') {
                Some((user, password)) => (user, Some(password)),
                None => (userinfo, None),
            };
            if !user.is_empty() {
                layer.user = Some(percent_decode(user)?);
            }
            if let Some(password) = password {
                layer.password = Some(Secret::new(percent_decode(password)?));
            }
            hostport
        }
        None => authority,
    };
    // `host1:5432,host2:5433` (libpq's multi-host URL); a host without a port gets 5432.
    let mut hosts = Vec::new();
    let mut ports = Vec::new();
    for item in hostport.split(',') {
        let (host, port) = if let Some(stripped) = item.strip_prefix('[') {
            let (host, after) = stripped
                .split_once(']')
                .ok_or_else(|| "unclosed [ in the URL's IPv6 host".to_owned())?;
            (host, after.strip_prefix(':'))
        } else {
            match item.rsplit_once(':') {
                Some((host, port)) => (host, Some(port)),
                None => (item, None),
            }
        };
        if let Some(port) = port.filter(|p| !p.is_empty())
            && port.parse::<u16>().map_or(true, |p| p == 0)
        {
            return Err(format!(
                "port {port:?} in the URL is not a port number (1–65535)"
            ));
        }
        hosts.push(percent_decode(host)?);
        ports.push(port.filter(|p| !p.is_empty()).map(str::to_owned));
    }
    if hosts.iter().any(|h| !h.is_empty()) {
        layer.host = Some(hosts.join(","));
    }
    if ports.iter().any(Option::is_some) {
        let ports: Vec<String> = ports
            .into_iter()
            .map(|p| p.unwrap_or_else(|| "5432".to_owned()))
            .collect();
        layer.port = Some(ports.join(","));
    }
    if let Some(path) = path.filter(|p| !p.is_empty()) {
        layer.dbname = Some(percent_decode(path)?);
    }
    for pair in query
        .into_iter()
        .flat_map(|q| q.split('&'))
        .filter(|p| !p.is_empty())
    {
        let (key, value) = pair
            .split_once('=')
            .ok_or_else(|| format!("URL parameter {pair:?} has no value (expected key=value)"))?;
        let value = percent_decode(value)?;
        set_keyword(&mut layer, key, value)
            .map_err(|known| format!("URL parameter {key:?} is not supported (known: {known})"))?;
    }
    Ok(layer)
}

/// Sets the libpq connection keyword `key` (from a URL or a service file) in `layer`; for an
/// unknown keyword, the list of known ones.
fn set_keyword(layer: &mut ConfigLayer, key: &str, value: String) -> Result<(), &'static str> {
    match key {
        "host" => layer.host = Some(value),
        "port" => layer.port = Some(value),
        "dbname" => layer.dbname = Some(value),
        "user" => layer.user = Some(value),
        "password" => layer.password = Some(Secret::new(value)),
        "passfile" => layer.passfile = Some(PathBuf::from(value)),
        "service" => layer.service = Some(value),
        "sslmode" => layer.sslmode = Some(value),
        "sslrootcert" => layer.sslrootcert = Some(PathBuf::from(value)),
        "sslcert" => layer.sslcert = Some(PathBuf::from(value)),
        "sslkey" => layer.sslkey = Some(PathBuf::from(value)),
        "connect_timeout" => layer.connect_timeout = Some(value),
        "application_name" => layer.application_name = Some(value),
        "options" => layer.options = Some(value),
        "target_session_attrs" => layer.target_session_attrs = Some(value),
        "load_balance_hosts" => layer.load_balance_hosts = Some(value),
        _ => {
            return Err(
                "host, port, dbname, user, password, passfile, service, sslmode, sslrootcert, sslcert, sslkey, connect_timeout, application_name, options, target_session_attrs, load_balance_hosts",
            );
        }
    }
    Ok(())
}

/// The settings of service `name` from the first of `files` that defines it (libpq's
/// `pg_service.conf`: `[name]` sections of `keyword=value` lines, `#` comments).
fn read_service(name: &str, files: &[PathBuf]) -> Result<ConfigLayer, String> {
    for file in files {
        let text = match std::fs::read_to_string(file) {
            Ok(text) => text,
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => continue,
            Err(err) => return Err(format!("{}: {err}", file.display())),
        };
        let mut layer = ConfigLayer::default();
        let mut in_section = false;
        let mut found = false;
        for (number, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            if let Some(section) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
                in_section = section.trim() == name;
                found |= in_section;
                continue;
            }
            if !in_section {
                continue;
            }
            let (key, value) = line.split_once('=').ok_or_else(|| {
                format!(
                    "{} line {}: expected keyword=value",
                    file.display(),
                    number + 1
                )
            })?;
            set_keyword(&mut layer, key.trim(), value.trim().to_owned()).map_err(|known| {
                format!(
                    "{} line {}: keyword {:?} is not supported (known: {known})",
                    file.display(),
                    number + 1,
                    key.trim()
                )
            })?;
        }
        if found {
            return Ok(layer);
        }
    }
    let looked: Vec<String> = files.iter().map(|f| f.display().to_string()).collect();
    Err(format!(
        "service {name:?} is not defined in {}; add a [{name}] section or check the name",
        looked.join(" or ")
    ))
}

fn percent_decode(text: &str) -> Result<String, String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = bytes
                .get(i + 1..i + 3)
                .and_then(|h| std::str::from_utf8(h).ok())
                .and_then(|h| u8::from_str_radix(h, 16).ok())
                .ok_or_else(|| "the URL has a % not followed by two hex digits".to_owned())?;
            out.push(hex);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| "the URL decodes to invalid UTF-8".to_owned())
}

fn percent_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~".contains(&byte) {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// What the user said about the source (config file `[source]`, `--schema`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SourceSettings {
    /// Look for MovieLens tables in this schema only (instead of every schema on the
    /// `search_path`).
    pub schema: Option<String>,
    /// Explicit table and column names, for data that is not laid out like MovieLens.
    pub movies: Option<MoviesMapping>,
    /// Ratings table, when the mapping has one.
    pub ratings: Option<RatingsMapping>,
    /// Tags table, when the mapping has one.
    pub tags: Option<TagsMapping>,
    /// Links table (IMDb and TMDB numbers), when the mapping has one.
    pub links: Option<LinksMapping>,
}

/// `[source.movies]` in the config file: a table and which of its columns mean what.
///
/// ```toml
/// [source]
/// schema = "catalog"          # optional: else the first schema on the search_path holding it
/// [source.movies]
/// table = "films"
/// id = "film_id"
/// title = "name"
/// year = "released"           # optional: a number or a date; else taken from the title
/// genres = "kinds"            # optional: 'A|B' text or text[]
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MoviesMapping {
    /// Table (or view) name.
    pub table: String,
    /// Id column.
    pub id: String,
    /// Title column.
    pub title: String,
    /// Year column.
    pub year: Option<String>,
    /// Genres column.
    pub genres: Option<String>,
}

/// `[source.ratings]`: `table`, `movie_id`, `rating`, optional `user_id` and `rated_at`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RatingsMapping {
    /// Table name.
    pub table: String,
    /// Column naming the movie.
    pub movie_id: String,
    /// Stars column.
    pub rating: String,
    /// Who rated.
    pub user_id: Option<String>,
    /// When (epoch seconds or a timestamp).
    pub rated_at: Option<String>,
}

/// `[source.tags]`: `table`, `movie_id`, `tag`, optional `user_id` and `tagged_at`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TagsMapping {
    /// Table name.
    pub table: String,
    /// Column naming the movie.
    pub movie_id: String,
    /// Tag text column.
    pub tag: String,
    /// Who tagged.
    pub user_id: Option<String>,
    /// When (epoch seconds or a timestamp).
    pub tagged_at: Option<String>,
}

/// `[source.links]`: `table`, `movie_id`, and at least one of `imdb_id` and `tmdb_id`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LinksMapping {
    /// Table name.
    pub table: String,
    /// Column naming the movie.
    pub movie_id: String,
    /// IMDb number column (`114709` for tt0114709).
    pub imdb_id: Option<String>,
    /// TMDB number column.
    pub tmdb_id: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> ConfigLayer {
        let pairs: Vec<(String, String)> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        ConfigLayer::from_env(|key| pairs.iter().find(|(k, _)| k == key).map(|(_, v)| v.clone()))
    }

    fn resolve(
        flags: ConfigLayer,
        env: ConfigLayer,
        file: ConfigLayer,
    ) -> Result<Settings, ConfigError> {
        Settings::resolve(&flags, &env, &file, Path::new("/data/marquee"))
    }

    #[test]
    fn a_service_fills_what_its_layer_leaves_unset() {
        let dir = std::env::temp_dir().join(format!("marquee-services-{}", std::process::id()));
        let sys = dir.join("sys");
        std::fs::create_dir_all(&sys).unwrap();
        let user_file = dir.join("user.conf");
        std::fs::write(
            &user_file,
            "# mine\n[movies]\nhost = db.example\nport=6543\ndbname=films\nuser=ann\n[other]\nhost=x\n",
        )
        .unwrap();
        std::fs::write(sys.join("pg_service.conf"), "[shared]\nhost=sys.example\n").unwrap();
        let files = [
            ("PGSERVICEFILE", user_file.to_str().unwrap()),
            ("PGSYSCONFDIR", sys.to_str().unwrap()),
        ];

        // PGSERVICE: the section fills the environment layer, whose own PGUSER still wins.
        let e = env(&[
            files[0],
            files[1],
            ("PGSERVICE", "movies"),
            ("PGUSER", "bob"),
        ]);
        let p = external(resolve(ConfigLayer::default(), e, ConfigLayer::default()).unwrap());
        assert_eq!(
            (p.host.as_str(), p.port, p.dbname.as_str(), p.user.as_str()),
            ("db.example", 6543, "films", "bob")
        );

        // `service=` in a URL, found in the system file when the user's has no such section.
        let flags = ConfigLayer {
            url: Some("postgresql://?service=shared".into()),
            ..ConfigLayer::default()
        };
        let p = external(resolve(flags, env(&files), ConfigLayer::default()).unwrap());
        assert_eq!(p.host, "sys.example");

        // An unknown service names it and where it was looked for.
        let e = env(&[files[0], files[1], ("PGSERVICE", "nope")]);
        let err = resolve(ConfigLayer::default(), e, ConfigLayer::default())
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("\"nope\" is not defined") && err.contains("user.conf"),
            "{err}"
        );
        let _ = std::fs::remove_dir_all(&dir);
    }

    fn external(settings: Settings) -> ConnectParams {
        match settings.server {
            ServerChoice::External(params) => params,
            ServerChoice::Private { .. } => panic!("expected an external server"),
        }
    }

    #[test]
    fn application_name_and_options_come_from_the_url_or_the_environment_and_round_trip() {
        let flags = ConfigLayer {
            url: Some(
                "postgresql://ann@db.example/films?application_name=reports&options=-c%20work_mem%3D8MB"
                    .into(),
            ),
            ..ConfigLayer::default()
        };
        let settings = resolve(flags, env(&[]), ConfigLayer::default()).unwrap();
        let ServerChoice::External(params) = settings.server else {
            panic!("the URL names a server")
        };
        assert_eq!(params.application_name(), "reports");
        assert_eq!(params.options.as_deref(), Some("-c work_mem=8MB"));
        let again = resolve(
            ConfigLayer {
                url: Some(params.to_url()),
                ..ConfigLayer::default()
            },
            env(&[]),
            ConfigLayer::default(),
        )
        .unwrap();
        assert_eq!(again.server, ServerChoice::External(params));

        let settings = resolve(
            ConfigLayer::default(),
            env(&[
                ("PGHOST", "db"),
                ("PGAPPNAME", "nightly"),
                ("PGOPTIONS", "-c search_path=catalog"),
            ]),
            ConfigLayer::default(),
        )
        .unwrap();
        let ServerChoice::External(params) = settings.server else {
            panic!("PGHOST names a server")
        };
        assert_eq!(params.application_name(), "nightly");
        assert_eq!(params.options.as_deref(), Some("-c search_path=catalog"));
        let plain = resolve(
            ConfigLayer::default(),
            env(&[("PGHOST", "db")]),
            ConfigLayer::default(),
        )
        .unwrap();
        let ServerChoice::External(params) = plain.server else {
            panic!("PGHOST names a server")
        };
        assert_eq!(params.application_name(), DEFAULT_APPLICATION_NAME);
    }

    #[test]
    fn replicas_are_a_host_list_sharing_the_server_settings_or_a_url_of_their_own() {
        use std::os::unix::fs::PermissionsExt as _;
        let dir = std::env::temp_dir().join(format!("marquee-replicas-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let passfile = dir.join("pgpass");
        std::fs::write(&passfile, "r1.example:6000:films:reader:from-the-file\n").unwrap();
        std::fs::set_permissions(&passfile, std::fs::Permissions::from_mode(0o600)).unwrap();
        let resolved = |pairs: &[(&str, &str)]| {
            let mut pairs = pairs.to_vec();
            let passfile = passfile.to_str().unwrap();
            pairs.push(("PGPASSFILE", passfile));
            resolve(ConfigLayer::default(), env(&pairs), ConfigLayer::default())
                .map(|s| match s.server {
                    ServerChoice::External(params) => params,
                    other => panic!("{other:?}"),
                })
                .map_err(|e| e.to_string())
        };
        let server = [
            ("PGHOST", "primary.example"),
            ("PGPORT", "5433"),
            ("PGDATABASE", "films"),
            ("PGUSER", "ann"),
            ("PGPASSWORD", "secret"),
            ("PGSSLMODE", "require"),
        ];

        // A bare host list: everything but the hosts is the server's; no port means its port.
        let mut pairs = server.to_vec();
        pairs.push(("MARQUEE_REPLICAS", "r1.example:6000, r2.example"));
        let p = resolved(&pairs).unwrap();
        let r = p.replicas.as_deref().expect("replicas");
        assert_eq!(r.display_target(), "r1.example:6000,r2.example:5433/films");
        assert_eq!(r.user, "ann");
        assert_eq!(r.password.as_ref().map(Secret::expose), Some("secret"));
        assert_eq!(r.sslmode, SslMode::Require);
        assert!(r.replicas.is_none());
        // The server's own settings are untouched, and its URL does not carry the replicas.
        assert_eq!(p.display_target(), "primary.example:5433/films");
        assert!(!p.to_url().contains("r1"), "{}", p.to_url());

        // A URL: its own role, whose password is not the server's but the password file's.
        let mut pairs = server.to_vec();
        pairs.push((
            "MARQUEE_REPLICAS",
            "postgresql://reader@r1.example:6000/films?load_balance_hosts=random",
        ));
        let r = *resolved(&pairs).unwrap().replicas.unwrap();
        assert_eq!((r.user.as_str(), r.port), ("reader", 6000));
        assert_eq!(
            r.password.as_ref().map(Secret::expose),
            Some("from-the-file")
        );
        assert!(r.load_balance_hosts);

        // Mistakes name the setting and say what to write.
        for (value, says) in [
            ("r1:0", "not a port number"),
            (" , ", "names no host"),
            (
                "postgresql://r1/films?load_balance_hosts=often",
                "disable or random",
            ),
        ] {
            let mut pairs = server.to_vec();
            pairs.push(("MARQUEE_REPLICAS", value));
            let err = resolved(&pairs).unwrap_err();
            assert!(
                err.contains("replicas") && err.contains(says),
                "{value}: {err}"
            );
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn host_lists_take_one_port_each_or_one_for_all_and_round_trip() {
        let url = |u: &str| ConfigLayer {
            url: Some(u.into()),
            ..ConfigLayer::default()
        };
        let external = |layer: ConfigLayer| match resolve(layer, env(&[]), ConfigLayer::default())
            .map(|s| s.server)
        {
            Ok(ServerChoice::External(params)) => Ok(params),
            Ok(other) => panic!("{other:?}"),
            Err(e) => Err(e.to_string()),
        };
        let p = external(url(
            "postgresql://ann@a.example:5433,b.example/films?target_session_attrs=read-write&load_balance_hosts=random",
        ))
        .unwrap();
        assert_eq!((p.host.as_str(), p.port), ("a.example", 5433));
        assert_eq!(
            p.more_hosts,
            vec![HostPort {
                host: "b.example".into(),
                port: 5432
            }]
        );
        assert_eq!(p.target_session_attrs, SessionAttrs::ReadWrite);
        assert!(p.load_balance_hosts);
        assert_eq!(p.display_target(), "a.example:5433,b.example:5432/films");
        assert_eq!(external(url(&p.to_url())).unwrap(), p);

        let p = external(url("postgresql:///films?host=a,b,c&port=6000")).unwrap();
        let ports: Vec<u16> = p.hosts().iter().map(|h| h.port).collect();
        assert_eq!(ports, [6000, 6000, 6000]);

        let e = external(url("postgresql:///films?host=a,b&port=1,2,3")).unwrap_err();
        assert!(e.contains("3 ports for 2 hosts"), "{e}");
        let e = external(url("postgresql://a/films?target_session_attrs=primary")).unwrap_err();
        assert!(e.contains("use read-write for the primary"), "{e}");
        let e = external(url("postgresql://a/films?load_balance_hosts=sometimes")).unwrap_err();
        assert!(e.contains("disable or random"), "{e}");
        let p = resolve(
            ConfigLayer::default(),
            env(&[
                ("PGHOST", "a,b"),
                ("PGPORT", "1,2"),
                ("PGTARGETSESSIONATTRS", "read-only"),
            ]),
            ConfigLayer::default(),
        )
        .unwrap();
        let ServerChoice::External(p) = p.server else {
            panic!("PGHOST names a server")
        };
        assert_eq!(p.display_target(), "a:1,b:2/postgres");
        assert_eq!(p.target_session_attrs, SessionAttrs::ReadOnly);
    }

    #[test]
    fn provenance_names_the_layer_each_connection_setting_came_from() {
        let dir = std::env::temp_dir().join(format!("marquee-provenance-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let services = dir.join("services.conf");
        std::fs::write(&services, "[films]\nuser=svc_user\nsslmode=require\n").unwrap();
        let pgpass = dir.join("pgpass");
        std::fs::write(&pgpass, "db.example:*:*:svc_user:from-file\n").unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            std::fs::set_permissions(&pgpass, std::fs::Permissions::from_mode(0o600)).unwrap();
        }
        let flags = ConfigLayer {
            pool_max: Some("4".into()),
            ..ConfigLayer::default()
        };
        let environment = env(&[
            ("PGHOST", "db.example"),
            ("PGSERVICE", "films"),
            ("PGSERVICEFILE", services.to_str().unwrap()),
            ("PGPASSFILE", pgpass.to_str().unwrap()),
        ]);
        let file = ConfigLayer {
            url: Some("postgresql://elsewhere:6000/movies".into()),
            port: Some("7000".into()),
            ..ConfigLayer::default()
        };
        let (settings, provenance) =
            Settings::resolve_explained(&flags, &environment, &file, Path::new("/data")).unwrap();
        let ServerChoice::External(p) = &settings.server else {
            panic!("PGHOST names a server")
        };
        assert_eq!(
            (p.host.as_str(), p.port, p.dbname.as_str(), p.user.as_str()),
            ("db.example", 7000, "movies", "svc_user")
        );
        assert_eq!(p.password.as_ref().map(Secret::expose), Some("from-file"));
        let said = |key: &str| provenance.describe(key);
        assert_eq!(said("host"), "from PGHOST");
        assert_eq!(said("port"), "from the config file (port)");
        assert_eq!(said("dbname"), "from the config file's url");
        assert_eq!(said("user"), "from service films (pg_service.conf)");
        assert_eq!(said("sslmode"), "from service films (pg_service.conf)");
        assert_eq!(
            said("password"),
            format!("from the password file {}", pgpass.display())
        );
        assert_eq!(said("pool_max"), "from --pool-max");
        assert_eq!(said("pool_min"), "default");
        assert!(
            !format!("{provenance:?}").contains("from-file"),
            "no password in the provenance"
        );
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn nothing_configured_means_private_cluster_with_original_pool_bounds() {
        let settings = resolve(ConfigLayer::default(), env(&[]), ConfigLayer::default()).unwrap();
        assert_eq!(
            settings.server,
            ServerChoice::Private {
                data_dir: PathBuf::from("/data/marquee")
            }
        );
        assert_eq!((settings.pool.min_idle, settings.pool.max_size), (2, 10));
    }

    #[test]
    fn a_named_host_uses_the_original_defaults_for_the_rest() {
        let settings = resolve(
            ConfigLayer::default(),
            env(&[("PGHOST", "db.example")]),
            ConfigLayer::default(),
        )
        .unwrap();
        let params = external(settings);
        assert_eq!(params.display_target(), "db.example:5432/postgres");
        assert_eq!(params.user, "postgres");
    }

    #[test]
    fn flags_beat_environment_beat_file() {
        let file = ConfigLayer {
            host: Some("file-host".into()),
            port: Some("6000".into()),
            dbname: Some("filedb".into()),
            user: Some("fileuser".into()),
            pool_max: Some("20".into()),
            ..Default::default()
        };
        let environment = env(&[
            ("PGHOST", "env-host"),
            ("PGPORT", "6001"),
            ("MARQUEE_POOL_MAX", "15"),
        ]);
        let flags = ConfigLayer {
            host: Some("flag-host".into()),
            ..Default::default()
        };
        let settings = resolve(flags, environment, file).unwrap();
        assert_eq!(settings.pool.max_size, 15);
        let params = external(settings);
        assert_eq!(params.host, "flag-host");
        assert_eq!(params.port, 6001);
        assert_eq!(params.dbname, "filedb");
        assert_eq!(params.user, "fileuser");
    }

    #[test]
    fn database_url_fills_fields_and_lower_layers_fill_the_gaps() {
        let environment = env(&[(
            "DATABASE_URL",
            "postgresql://alice:s%3Acret@db:5433/movies?sslmode=require",
        )]);
        let file = ConfigLayer {
            pool_min: Some("3".into()),
            ..Default::default()
        };
        let settings = resolve(ConfigLayer::default(), environment, file).unwrap();
        assert_eq!(settings.pool.min_idle, 3);
        let params = external(settings);
        assert_eq!(params.display_target(), "db:5433/movies");
        assert_eq!(params.user, "alice");
        assert_eq!(params.password.as_ref().map(Secret::expose), Some("s:cret"));
        assert_eq!(params.sslmode, SslMode::Require);
    }

    #[test]
    fn private_flag_overrides_a_server_in_the_environment() {
        let flags = ConfigLayer {
            private: Some(true),
            data_dir: Some("/elsewhere".into()),
            ..Default::default()
        };
        let settings = resolve(flags, env(&[("PGHOST", "db")]), ConfigLayer::default()).unwrap();
        assert_eq!(
            settings.server,
            ServerChoice::Private {
                data_dir: PathBuf::from("/elsewhere")
            }
        );
    }

    #[test]
    fn password_never_shows_in_debug_or_url() {
        let environment = env(&[("DATABASE_URL", "postgresql://bob:hunter2@db/x")]);
        let settings =
            resolve(ConfigLayer::default(), environment, ConfigLayer::default()).unwrap();
        let debug = format!("{settings:?}");
        assert!(!debug.contains("hunter2"), "{debug}");
        assert!(debug.contains("***"));
        let params = external(settings);
        assert!(!params.to_url().contains("hunter2"));
        let layer = env(&[
            (
                "DATABASE_URL",
                "postgresql://bob:hunter2@db/x?password=hunter2&sslmode=require",
            ),
            ("PGPASSWORD", "hunter2"),
        ]);
        let debug = format!("{layer:?}");
        assert!(!debug.contains("hunter2"), "{debug}");
        assert!(
            debug.contains("postgresql://bob:***@db/x?password=***&sslmode=require"),
            "{debug}"
        );
    }

    #[test]
    fn bad_values_give_one_clear_message_each() {
        let cases: Vec<(ConfigLayer, &str)> = vec![
            (
                env(&[("MARQUEE_POOL_MIN", "5"), ("MARQUEE_POOL_MAX", "3")]),
                "min 5 is larger than max 3",
            ),
            (env(&[("MARQUEE_POOL_MAX", "0")]), "must be at least 1"),
            (
                env(&[("PGHOST", "h"), ("PGSSLMODE", "sometimes")]),
                "unknown sslmode \"sometimes\"",
            ),
            (
                env(&[("DATABASE_URL", "mysql://x")]),
                "must start with postgresql://",
            ),
            (
                env(&[("DATABASE_URL", "postgresql://h:99999/db")]),
                "not a port number",
            ),
            (
                env(&[("PGHOST", "h"), ("PGPORT", "abc")]),
                "\"abc\" is not a port number",
            ),
            (
                env(&[("MARQUEE_POOL_MAX", "ten")]),
                "\"ten\" is not a whole number",
            ),
        ];
        for (layer, expected) in cases {
            let err = resolve(ConfigLayer::default(), layer, ConfigLayer::default()).unwrap_err();
            assert!(
                err.to_string().contains(expected),
                "{err} should contain {expected}"
            );
        }
    }

    #[test]
    fn socket_urls_round_trip_through_psql_form() {
        let params = ConnectParams {
            host: "/tmp/marquee run".into(),
            port: 5555,
            dbname: "marquee".into(),
            user: "marquee".into(),
            ..Default::default()
        };
        assert_eq!(
            params.to_url(),
            "postgresql://marquee@/marquee?host=%2Ftmp%2Fmarquee%20run&port=5555"
        );
        let layer = parse_url(&params.to_url()).unwrap();
        assert_eq!(layer.host.as_deref(), Some("/tmp/marquee run"));
        assert_eq!(layer.port.as_deref(), Some("5555"));
    }

    #[test]
    fn config_file_rejects_unknown_keys() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.toml");
        std::fs::write(&path, "hots = \"x\"\n").unwrap();
        let err = ConfigLayer::from_file(&path).unwrap_err();
        assert!(err.to_string().contains("unknown field"), "{err}");
        std::fs::write(&path, "host = \"db\"\npool_max = 4\n").unwrap();
        let layer = ConfigLayer::from_file(&path).unwrap();
        assert_eq!(layer.host.as_deref(), Some("db"));
        assert!(
            ConfigLayer::from_file(&dir.path().join("missing.toml")).unwrap()
                == ConfigLayer::default()
        );
    }
}
