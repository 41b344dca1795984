//! Marquee's private PostgreSQL cluster: found, initialised, started and stopped with the
//! machine's own `initdb`/`pg_ctl`, so that Marquee works with no server configured.
//!
//! Layout of the data folder (`--data-dir`, `MARQUEE_DATA_DIR`, else the platform data folder):
//!
//! ```text
//! <data_dir>/pgdata/        the cluster (owned by the server account)
//! <data_dir>/run/           private Unix socket directory (owned by the server account, 0700)
//! <data_dir>/postgres.log   the server's log
//! <data_dir>/marquee.lock   serialises init/start/stop between Marquee processes
//! <data_dir>/port           the last port used, reused when free so `db url` stays stable
//! ```
//!
//! PostgreSQL refuses to run as root. Started as root (CI, containers), Marquee runs the server
//! as an unprivileged account (`MARQUEE_CLUSTER_USER`, else `postgres`, else `nobody`) and hands it
//! ownership of `pgdata/` and `run/`.
//!
//! Two Marquee processes on one folder share one server: the second finds `postmaster.pid`, asks
//! `pg_ctl status`, and attaches. A stale pid file left by a crash is recovered by the server
//! itself on start (it checks whether the recorded process still exists).

use std::fs::{self, File};
use std::io::Write as _;
use std::net::TcpListener;
use std::os::unix::fs::{MetadataExt as _, PermissionsExt as _};
use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::config::{ConnectParams, SslMode};

/// The role and database Marquee creates in its private cluster.
pub const PRIVATE_ROLE: &str = "marquee";
/// See [`PRIVATE_ROLE`].
pub const PRIVATE_DATABASE: &str = "marquee";

/// Why the private cluster could not be used; each message says what to do.
#[derive(Debug, thiserror::Error)]
pub enum ClusterError {
    /// No server binaries anywhere we looked.
    #[error(
        "PostgreSQL server programs (initdb, pg_ctl) were not found on PATH, via pg_config, or in {searched}.\n\
         Install them (Debian/Ubuntu: `sudo apt-get install postgresql`; Fedora: `sudo dnf install postgresql-server`; \
         macOS: `brew install postgresql@16`), or point Marquee at a server with DATABASE_URL or --host."
    )]
    BinariesNotFound {
        /// The folders searched, for the message.
        searched: String,
    },
    /// The server account cannot reach the data folder.
    #[error(
        "the private PostgreSQL server runs as user '{user}' (PostgreSQL refuses to run as root), \
         and that user cannot enter {blocked}. Choose a data folder it can reach with --data-dir or \
         MARQUEE_DATA_DIR (for example /var/lib/marquee)."
    )]
    Unreachable {
        /// The account.
        user: String,
        /// The first folder it cannot enter.
        blocked: String,
    },
    /// No unprivileged account exists to run the server as.
    #[error(
        "Marquee runs as root, and PostgreSQL refuses root; no unprivileged account was found to run it \
         (tried {tried}). Create one (`useradd postgres`) or set MARQUEE_CLUSTER_USER."
    )]
    NoServerAccount {
        /// The names tried.
        tried: String,
    },
    /// A program ran and failed.
    #[error("{program} failed: {detail}\nThe server log is at {log}.")]
    Command {
        /// Which program.
        program: String,
        /// Its output, trimmed.
        detail: String,
        /// Where the server log is.
        log: String,
    },
    /// Any file-system problem, with the path.
    #[error("{path}: {source}")]
    Io {
        /// The path involved.
        path: String,
        /// The underlying error.
        source: std::io::Error,
    },
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> ClusterError + '_ {
    move |source| ClusterError::Io {
        path: path.display().to_string(),
        source,
    }
}

/// Where the server programs live.
#[derive(Clone, Debug)]
pub struct PgBinaries {
    /// The folder holding `initdb`, `pg_ctl` and `postgres`.
    pub bindir: PathBuf,
}

impl PgBinaries {
    /// Looks on `PATH`, then `pg_config --bindir`, then the usual Debian/Ubuntu, Fedora and
    /// Homebrew folders (newest version first).
    pub fn locate() -> Result<Self, ClusterError> {
        let mut candidates: Vec<PathBuf> = Vec::new();
        if let Some(dir) = std::env::var_os("MARQUEE_PG_BINDIR") {
            candidates.push(PathBuf::from(dir));
        }
        if let Some(path) = std::env::var_os("PATH") {
            candidates.extend(std::env::split_paths(&path));
        }
        if let Ok(out) = Command::new("pg_config")
            .arg("--bindir")
            .stderr(Stdio::null())
            .output()
            && out.status.success()
        {
            candidates.push(PathBuf::from(String::from_utf8_lossy(&out.stdout).trim()));
        }
        let mut versioned: Vec<PathBuf> = Vec::new();
        for parent in ["/usr/lib/postgresql", "/opt/homebrew/opt", "/usr/local/opt"] {
            if let Ok(entries) = fs::read_dir(parent) {
                for entry in entries.flatten() {
                    versioned.push(entry.path().join("bin"));
                }
            }
        }
        for n in 13..=20 {
            versioned.push(PathBuf::from(format!("/usr/pgsql-{n}/bin")));
        }
        versioned.sort_by_key(|dir| std::cmp::Reverse(version_key(dir)));
        candidates.extend(versioned);
        candidates.push(PathBuf::from("/usr/bin"));
        for dir in &candidates {
            if dir.join("initdb").is_file() && dir.join("pg_ctl").is_file() {
                // Where `initdb` really lives, when `dir` holds links to it (as /usr/local/bin
                // may): the server's other programs (`pg_basebackup`) sit beside it there.
                let bindir = fs::canonicalize(dir.join("initdb"))
                    .ok()
                    .and_then(|initdb| initdb.parent().map(Path::to_path_buf))
                    .filter(|real| real.join("pg_ctl").is_file())
                    .unwrap_or_else(|| dir.clone());
                return Ok(Self { bindir });
            }
        }
        Err(ClusterError::BinariesNotFound {
            searched: "/usr/lib/postgresql/*/bin, /usr/pgsql-*/bin, Homebrew's opt folders"
                .to_owned(),
        })
    }

    fn program(&self, name: &str) -> PathBuf {
        self.bindir.join(name)
    }

    /// The server's major version, from `pg_ctl --version` ("pg_ctl (PostgreSQL) 15.18").
    pub fn major_version(&self) -> Option<u32> {
        let out = Command::new(self.program("pg_ctl"))
            .arg("--version")
            .output()
            .ok()?;
        let text = String::from_utf8_lossy(&out.stdout);
        let version = text.split_whitespace().last()?;
        version.split('.').next()?.parse().ok()
    }
}

/// Orders `/usr/lib/postgresql/15/bin` by its number so the newest is tried first.
fn version_key(path: &Path) -> u32 {
    path.components()
        .filter_map(|c| c.as_os_str().to_str())
        .filter_map(|s| {
            s.trim_start_matches("postgresql@")
                .trim_start_matches("pgsql-")
                .parse::<u32>()
                .ok()
        })
        .next()
        .unwrap_or(0)
}

/// The account the server runs as when Marquee itself is root.
#[derive(Clone, Debug)]
struct ServerAccount {
    name: String,
    uid: u32,
    gid: u32,
}

impl ServerAccount {
    /// `None` when Marquee is not root (the server then runs as the current user).
    fn for_current_process() -> Result<Option<Self>, ClusterError> {
        // SAFETY: geteuid has no preconditions.
        if unsafe { libc::geteuid() } != 0 {
            return Ok(None);
        }
        let mut tried = Vec::new();
        let wanted = std::env::var("MARQUEE_CLUSTER_USER").ok();
        for name in wanted
            .iter()
            .map(String::as_str)
            .chain(["postgres", "nobody"])
        {
            tried.push(name.to_owned());
            if let Some((uid, gid)) = lookup_user(name)
                && uid != 0
            {
                return Ok(Some(Self {
                    name: name.to_owned(),
                    uid,
                    gid,
                }));
            }
        }
        Err(ClusterError::NoServerAccount {
            tried: tried.join(", "),
        })
    }

    /// Whether this account may enter `dir` (execute bit for its class on the folder).
    fn can_enter(&self, dir: &Path) -> bool {
        let Ok(meta) = fs::metadata(dir) else {
            return true;
        };
        let mode = meta.mode();
        if meta.uid() == self.uid {
            mode & 0o100 != 0
        } else if meta.gid() == self.gid {
            mode & 0o010 != 0
        } else {
            mode & 0o001 != 0
        }
    }
}

fn lookup_user(name: &str) -> Option<(u32, u32)> {
    let cname = std::ffi::CString::new(name).ok()?;
    let mut buf = vec![0_u8; 16 * 1024];
    // SAFETY: passwd is plain old data; getpwnam_r writes into it and into `buf`, whose length we pass.
    let mut pwd: libc::passwd = unsafe { std::mem::zeroed() };
    let mut result: *mut libc::passwd = std::ptr::null_mut();
    // SAFETY: all pointers are valid for the call; `buf` outlives it.
    let rc = unsafe {
        libc::getpwnam_r(
            cname.as_ptr(),
            &mut pwd,
            buf.as_mut_ptr().cast(),
            buf.len(),
            &mut result,
        )
    };
    if rc != 0 || result.is_null() {
        return None;
    }
    Some((pwd.pw_uid, pwd.pw_gid))
}

fn chown(path: &Path, account: &ServerAccount) -> Result<(), ClusterError> {
    std::os::unix::fs::chown(path, Some(account.uid), Some(account.gid)).map_err(io_err(path))
}

/// Whether a cluster in a folder is running, and where.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ClusterStatus {
    /// No `pgdata/` yet.
    NotInitialized,
    /// Initialised, not running.
    Stopped,
    /// Running, with the server's pid and port.
    Running {
        /// The postmaster's process id.
        pid: u32,
        /// Its port.
        port: u16,
    },
}

/// A private cluster Marquee can connect to. Dropping it does nothing; call [`PrivateCluster::stop`]
/// (the app does so on exit when it started the server and no other Marquee is connected).
#[derive(Debug)]
pub struct PrivateCluster {
    root: PathBuf,
    bin: PgBinaries,
    account: Option<ServerAccount>,
    port: u16,
    started_here: bool,
}

impl PrivateCluster {
    /// The data folder's layout.
    fn pgdata(root: &Path) -> PathBuf {
        root.join("pgdata")
    }
    fn socket_dir(root: &Path) -> PathBuf {
        root.join("run")
    }
    fn log_file(root: &Path) -> PathBuf {
        root.join("postgres.log")
    }

    /// Initialises the cluster on first use, starts it if it is not running, or attaches to the
    /// server another Marquee process started. Safe to call from several processes at once.
    pub fn ensure_running(root: &Path) -> Result<Self, ClusterError> {
        let bin = PgBinaries::locate()?;
        let account = ServerAccount::for_current_process()?;
        fs::create_dir_all(root).map_err(io_err(root))?;
        let root = fs::canonicalize(root).map_err(io_err(root))?;
        if let Some(account) = &account {
            for dir in root.ancestors() {
                if !account.can_enter(dir) {
                    return Err(ClusterError::Unreachable {
                        user: account.name.clone(),
                        blocked: dir.display().to_string(),
                    });
                }
            }
        }
        let _lock = FolderLock::acquire(&root)?;
        let mut cluster = Self {
            root,
            bin,
            account,
            port: 0,
            started_here: false,
        };
        if !Self::pgdata(&cluster.root).join("PG_VERSION").is_file() {
            cluster.init()?;
        }
        match cluster.status()? {
            ClusterStatus::Running { port, .. } => cluster.port = port,
            ClusterStatus::Stopped | ClusterStatus::NotInitialized => {
                cluster.start()?;
                cluster.started_here = true;
            }
        }
        Ok(cluster)
    }

    /// The cluster in `root` as it is, for status and stop (nothing started or attached).
    fn describe(root: &Path) -> Result<Self, ClusterError> {
        // Absolute, because the server programs run with the data folder as their working
        // directory when Marquee is root: a relative path would point elsewhere.
        let root = fs::canonicalize(root).unwrap_or_else(|_| root.to_owned());
        Ok(Self {
            root,
            bin: PgBinaries::locate()?,
            account: ServerAccount::for_current_process()?,
            port: 0,
            started_here: false,
        })
    }

    /// Reads the state of the cluster in `root` without changing anything.
    pub fn status_of(root: &Path) -> Result<ClusterStatus, ClusterError> {
        Self::describe(root)?.status()
    }

    /// Stops the cluster in `root` if it is running (`pg_ctl stop -m fast`).
    pub fn stop_folder(root: &Path) -> Result<bool, ClusterError> {
        let _lock = FolderLock::acquire(root)?;
        let cluster = Self::describe(root)?;
        match cluster.status()? {
            ClusterStatus::Running { .. } => {
                cluster.stop()?;
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    /// The data folder.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The server's port (its Unix socket is `run/.s.PGSQL.<port>`).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Whether this process started the server (and so should stop it).
    pub fn started_here(&self) -> bool {
        self.started_here
    }

    /// How to reach the server: its private socket, as the `marquee` role, no password needed.
    pub fn connect_params(&self) -> ConnectParams {
        ConnectParams {
            host: Self::socket_dir(&self.root).display().to_string(),
            port: self.port,
            dbname: PRIVATE_DATABASE.to_owned(),
            user: PRIVATE_ROLE.to_owned(),
            password: None,
            sslmode: SslMode::Disable,
            connect_timeout_secs: 5,
            ..ConnectParams::default()
        }
    }

    fn command(&self, program: &str) -> Command {
        let mut cmd = Command::new(self.bin.program(program));
        // The caller's libpq settings describe *their* server, not ours.
        for var in [
            "PGDATA",
            "PGHOST",
            "PGPORT",
            "PGUSER",
            "PGDATABASE",
            "PGPASSWORD",
            "PGOPTIONS",
        ] {
            cmd.env_remove(var);
        }
        cmd.env("LC_ALL", "C.UTF-8");
        cmd.stdin(Stdio::null());
        if let Some(account) = &self.account {
            // std drops supplementary groups when switching uid from root.
            cmd.uid(account.uid).gid(account.gid);
            cmd.current_dir(&self.root);
        }
        cmd
    }

    fn run(&self, program: &str, mut cmd: Command) -> Result<String, ClusterError> {
        let out = cmd.output().map_err(|source| ClusterError::Io {
            path: self.bin.program(program).display().to_string(),
            source,
        })?;
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        if out.status.success() {
            Ok(text)
        } else {
            Err(ClusterError::Command {
                program: program.to_owned(),
                detail: text.trim().to_owned(),
                log: Self::log_file(&self.root).display().to_string(),
            })
        }
    }

    /// Makes `dir` exist, owned by the server account, mode 0700.
    fn private_dir(&self, dir: &Path) -> Result<(), ClusterError> {
        fs::create_dir_all(dir).map_err(io_err(dir))?;
        fs::set_permissions(dir, fs::Permissions::from_mode(0o700)).map_err(io_err(dir))?;
        if let Some(account) = &self.account {
            chown(dir, account)?;
        }
        Ok(())
    }

    fn init(&self) -> Result<(), ClusterError> {
        let pgdata = Self::pgdata(&self.root);
        // A half-made pgdata from an interrupted initdb would make initdb refuse forever.
        if pgdata.exists() {
            fs::remove_dir_all(&pgdata).map_err(io_err(&pgdata))?;
        }
        self.private_dir(&pgdata)?;
        let log = Self::log_file(&self.root);
        File::create(&log).map_err(io_err(&log))?;
        if let Some(account) = &self.account {
            chown(&log, account)?;
        }
        tracing::info!(
            "Initializing private PostgreSQL cluster in {}",
            pgdata.display()
        );
        let mut cmd = self.command("initdb");
        cmd.arg("-D").arg(&pgdata);
        cmd.args([
            "-U",
            PRIVATE_ROLE,
            "-E",
            "UTF8",
            "--locale=C.UTF-8",
            "--no-instructions",
        ]);
        // Only the socket is used, and its folder is private to the server account (and root).
        cmd.args(["--auth-local=trust", "--auth-host=reject"]);
        if self.bin.major_version().is_some_and(|v| v >= 15) {
            // ICU's root collation sorts titles the way people expect ("a" next to "A").
            cmd.args(["--locale-provider=icu", "--icu-locale=und"]);
        }
        self.run("initdb", cmd)?;
        let conf = pgdata.join("postgresql.conf");
        let mut file = fs::OpenOptions::new()
            .append(true)
            .open(&conf)
            .map_err(io_err(&conf))?;
        // The private cluster serves one desktop user: modest memory, but room for a pool of
        // pools (app + CLI + tests) and enough work memory for sorts on a million rows.
        writeln!(
            file,
            "\n# Marquee private cluster\nmax_connections = 100\nshared_buffers = 128MB\nwork_mem = 16MB\n\
             maintenance_work_mem = 256MB\nlog_min_messages = warning\nlog_line_prefix = '%m [%p] '\n"
        )
        .map_err(io_err(&conf))?;
        Ok(())
    }

    fn status(&self) -> Result<ClusterStatus, ClusterError> {
        let pgdata = Self::pgdata(&self.root);
        if !pgdata.join("PG_VERSION").is_file() {
            return Ok(ClusterStatus::NotInitialized);
        }
        let mut cmd = self.command("pg_ctl");
        cmd.arg("status").arg("-D").arg(&pgdata);
        let out = cmd.output().map_err(io_err(&pgdata))?;
        // pg_ctl status: 0 running, 3 not running, 4 no accessible data directory.
        if !out.status.success() {
            return Ok(ClusterStatus::Stopped);
        }
        let pid_file = pgdata.join("postmaster.pid");
        let text = fs::read_to_string(&pid_file).map_err(io_err(&pid_file))?;
        let mut lines = text.lines();
        let pid = lines
            .next()
            .and_then(|l| l.trim().parse().ok())
            .unwrap_or(0);
        let port = lines
            .nth(2)
            .and_then(|l| l.trim().parse().ok())
            .unwrap_or(0);
        Ok(ClusterStatus::Running { pid, port })
    }

    fn start(&mut self) -> Result<(), ClusterError> {
        let socket_dir = Self::socket_dir(&self.root);
        self.private_dir(&socket_dir)?;
        let port_file = self.root.join("port");
        let remembered = fs::read_to_string(&port_file)
            .ok()
            .and_then(|p| p.trim().parse::<u16>().ok());
        let mut last_error = None;
        for attempt in 0..3 {
            let port = match remembered.filter(|p| attempt == 0 && port_is_free(*p)) {
                Some(port) => port,
                None => free_port().map_err(io_err(&self.root))?,
            };
            let started = Instant::now();
            match self.run("pg_ctl", self.pg_ctl_start("start", port, &[], self.wal())) {
                Ok(_) => {
                    self.port = port;
                    if let Err(err) = fs::write(&port_file, port.to_string()) {
                        tracing::warn!(
                            "could not remember the port in {}: {err}",
                            port_file.display()
                        );
                    }
                    tracing::info!(
                        "Started private PostgreSQL on port {port} in {} ms",
                        started.elapsed().as_millis()
                    );
                    return Ok(());
                }
                Err(err) => {
                    tracing::warn!(
                        "starting the private server on port {port} failed; trying another port"
                    );
                    last_error = Some(err);
                }
            }
        }
        Err(last_error.unwrap_or_else(|| ClusterError::Command {
            program: "pg_ctl".to_owned(),
            detail: "could not start".to_owned(),
            log: Self::log_file(&self.root).display().to_string(),
        }))
    }

    /// Stops the server (`-m fast`: running queries are cancelled, clients disconnected).
    pub fn stop(&self) -> Result<(), ClusterError> {
        let mut cmd = self.command("pg_ctl");
        cmd.arg("stop").arg("-D").arg(Self::pgdata(&self.root));
        cmd.args(["-m", "fast", "-w", "-t", "60", "-s"]);
        self.run("pg_ctl", cmd)?;
        tracing::info!("Stopped private PostgreSQL in {}", self.root.display());
        Ok(())
    }

    /// Restarts the server on the same port (`pg_ctl restart -m fast`), as an operator would.
    pub fn restart(&self) -> Result<(), ClusterError> {
        self.run(
            "pg_ctl",
            self.pg_ctl_start("restart", self.port, &["-m", "fast"], self.wal()),
        )?;
        Ok(())
    }

    /// The WAL this cluster writes when Marquee starts it: the least, unless it is a standby
    /// (made by [`PrivateCluster::make_standby`]), which must match its primary's settings.
    fn wal(&self) -> Wal {
        if Self::pgdata(&self.root).join("standby.signal").is_file() {
            Wal::Replica
        } else {
            Wal::Minimal
        }
    }

    /// Restarts the server on the same port so that standbys can stream from it (`wal_level =
    /// replica`, WAL senders). Its next start by Marquee goes back to `minimal`.
    pub fn restart_for_standbys(&self) -> Result<(), ClusterError> {
        self.run(
            "pg_ctl",
            self.pg_ctl_start("restart", self.port, &["-m", "fast"], Wal::Replica),
        )?;
        Ok(())
    }

    /// Makes `root` hold a streaming standby of this server (`pg_basebackup -R` over the private
    /// socket), ready for [`PrivateCluster::ensure_running`] to start. This server must stream
    /// ([`PrivateCluster::restart_for_standbys`]).
    pub fn make_standby(&self, root: &Path) -> Result<(), ClusterError> {
        fs::create_dir_all(root).map_err(io_err(root))?;
        let pgdata = Self::pgdata(root);
        self.private_dir(&pgdata)?;
        let log = Self::log_file(root);
        File::create(&log).map_err(io_err(&log))?;
        if let Some(account) = &self.account {
            chown(&log, account)?;
        }
        let mut cmd = self.command("pg_basebackup");
        cmd.arg("-D").arg(&pgdata);
        cmd.arg("-h").arg(Self::socket_dir(&self.root));
        cmd.args(["-p", &self.port.to_string(), "-U", PRIVATE_ROLE]);
        cmd.args(["-R", "-X", "stream", "-c", "fast"]);
        self.run("pg_basebackup", cmd)?;
        Ok(())
    }

    /// `pg_ctl start|restart` on `port`, listening on loopback and the private socket folder,
    /// waiting until the server accepts connections.
    ///
    /// `wal_level = minimal`: the private cluster has no standby and no archive, and at this
    /// level a load, which truncates and refills its tables in one transaction, writes them
    /// without WAL (they are synced at commit instead; crash recovery is unchanged). Given at
    /// each start, so clusters made by earlier versions get it too.
    fn pg_ctl_start(&self, action: &str, port: u16, extra: &[&str], wal: Wal) -> Command {
        let mut cmd = self.command("pg_ctl");
        cmd.arg(action).arg("-D").arg(Self::pgdata(&self.root));
        cmd.arg("-l").arg(Self::log_file(&self.root));
        cmd.args(extra);
        cmd.args(["-w", "-t", "60", "-s", "-o"]);
        let wal = match wal {
            Wal::Minimal => "-c wal_level=minimal -c max_wal_senders=0",
            Wal::Replica => "-c wal_level=replica -c max_wal_senders=4",
        };
        cmd.arg(format!(
            "-p {port} -c listen_addresses=127.0.0.1 -c unix_socket_directories='{}' {wal}",
            Self::socket_dir(&self.root).display()
        ));
        cmd
    }

    /// Stops the server if this process started it; used at exit.
    pub fn stop_if_started_here(&self) {
        if self.started_here
            && let Err(err) = self.stop()
        {
            tracing::warn!("could not stop the private PostgreSQL server: {err}");
        }
    }
}

/// How much WAL the server writes: the private cluster's usual least, or enough for standbys.
#[derive(Clone, Copy)]
enum Wal {
    Minimal,
    Replica,
}

fn free_port() -> std::io::Result<u16> {
    Ok(TcpListener::bind(("127.0.0.1", 0))?.local_addr()?.port())
}

fn port_is_free(port: u16) -> bool {
    TcpListener::bind(("127.0.0.1", port)).is_ok()
}

/// An exclusive lock on `<root>/marquee.lock`, so two processes never init or start one cluster
/// at the same time. The kernel releases it if the process dies, so a crash leaves no stale lock.
struct FolderLock {
    _file: File,
}

impl FolderLock {
    fn acquire(root: &Path) -> Result<Self, ClusterError> {
        let path = root.join("marquee.lock");
        let file = File::options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(io_err(&path))?;
        let deadline = Instant::now() + Duration::from_secs(120);
        loop {
            match file.try_lock() {
                Ok(()) => return Ok(Self { _file: file }),
                Err(std::fs::TryLockError::WouldBlock) if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(50));
                }
                Err(std::fs::TryLockError::WouldBlock) => {
                    return Err(ClusterError::Io {
                        path: path.display().to_string(),
                        source: std::io::Error::other(
                            "another Marquee process has held this data folder's lock for two minutes",
                        ),
                    });
                }
                Err(std::fs::TryLockError::Error(source)) => {
                    return Err(ClusterError::Io {
                        path: path.display().to_string(),
                        source,
                    });
                }
            }
        }
    }
}
