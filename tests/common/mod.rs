//! Test harness: one real private PostgreSQL cluster shared by every test binary (started through
//! the same `PrivateCluster` code the app uses), a seeded template database made once, and a
//! fresh database per test cloned from it in well under a second.
#![allow(
    dead_code,
    reason = "each test binary uses a different part of the harness"
)]

use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU32, Ordering};

use marquee::config::{ConnectParams, PoolSettings};
use marquee::db::cluster::PrivateCluster;
use marquee::db::pool::DatabasePool;
use marquee::db::{self, schema};
use marquee::import::load;
use marquee::import::sample::SampleSpec;

pub mod require;
pub mod scratch;
pub mod ui;

/// Folder of the shared test cluster (kept between runs so the seeded template is reused).
pub fn shared_data_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("marquee-test-cluster")
}

/// The shared cluster: started on first use, attached to afterwards.
pub fn cluster() -> &'static PrivateCluster {
    static CLUSTER: OnceLock<PrivateCluster> = OnceLock::new();
    CLUSTER.get_or_init(|| {
        marquee::logging::init();
        let settings = marquee::config::Settings {
            server: marquee::config::ServerChoice::Private {
                data_dir: shared_data_dir(),
            },
            pool: PoolSettings::default(),
            source: Default::default(),
        };
        let server = db::Server::start(&settings).expect("start the shared test cluster");
        server.cluster.expect("a private cluster")
    })
}

/// Params for database `name` on the shared cluster.
pub fn params_for(name: &str) -> ConnectParams {
    let mut params = cluster().connect_params();
    params.dbname = name.to_owned();
    params
}

fn admin() -> postgres::Client {
    db::connect_once(&params_for("postgres")).expect("admin connection")
}

/// The code that decides what a seeded database holds: the generator and loader
/// (`src/import/`), the migrations and the code that runs them. A template is only reused while
/// all of it is unchanged.
const SEEDING_CODE: [&str; 3] = ["src/import", "src/db/migrations", "src/db/schema.rs"];

/// A hash of every file of [`SEEDING_CODE`] (paths and contents, in a fixed order), so a changed
/// loader, generator or migration never serves a stale template, even when nobody bumped a
/// version number.
pub fn seeding_code_hash() -> u64 {
    static HASH: OnceLock<u64> = OnceLock::new();
    *HASH.get_or_init(|| seeding_code_hash_in(Path::new(env!("CARGO_MANIFEST_DIR"))))
}

/// [`seeding_code_hash`] of the crate checked out at `root`.
pub fn seeding_code_hash_in(root: &Path) -> u64 {
    let mut files = Vec::new();
    for entry in SEEDING_CODE {
        collect_files(&root.join(entry), &mut files);
    }
    files.sort();
    assert!(
        !files.is_empty(),
        "no seeding code under {}",
        root.display()
    );
    // FNV-1a: stable across Rust versions and runs, unlike `DefaultHasher`.
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for file in files {
        let relative = file.strip_prefix(root).unwrap_or(&file);
        let contents = std::fs::read(&file).expect("read seeding code");
        for byte in relative
            .to_string_lossy()
            .bytes()
            .chain([0])
            .chain(contents)
        {
            hash ^= u64::from(byte);
            hash = hash.wrapping_mul(0x0100_0000_01b3);
        }
    }
    hash
}

fn collect_files(path: &Path, files: &mut Vec<PathBuf>) {
    if path.is_dir() {
        let entries = std::fs::read_dir(path).expect("list seeding code");
        for entry in entries {
            collect_files(&entry.expect("seeding code entry").path(), files);
        }
    } else if path.is_file() {
        files.push(path.to_path_buf());
    }
}

/// Name of the template for `spec` made by the current seeding code.
pub fn template_name(spec: &SampleSpec) -> String {
    format!(
        "tpl_{:016x}_{}_{}_{}",
        seeding_code_hash(),
        spec.movies,
        spec.ratings,
        spec.seed
    )
}

/// Seeded template databases, by spec and [`seeding_code_hash`]: created once per cluster,
/// guarded by an advisory lock so parallel test binaries do not race. Templates of the same spec
/// made by older code are dropped on the way.
pub fn template(spec: &SampleSpec) -> String {
    let name = template_name(spec);
    let mut admin = admin();
    admin
        .execute("SELECT pg_advisory_lock(hashtext($1))", &[&name])
        .expect("template lock");
    let ready: bool = admin
        .query_opt(
            "SELECT 1 FROM pg_database WHERE datname = $1 AND datistemplate",
            &[&name],
        )
        .expect("look up template")
        .is_some();
    if !ready {
        drop_stale_templates(&mut admin, spec, &name);
        admin
            .batch_execute(&format!("DROP DATABASE IF EXISTS {name}"))
            .expect("drop a half-made template");
        admin
            .batch_execute(&format!("CREATE DATABASE {name}"))
            .expect("create template database");
        let mut client = db::connect_once(&params_for(&name)).expect("connect to template");
        let target = name.clone();
        schema::migrate(&mut client, &target).expect("migrate template");
        load::load_sample(&mut client, &target, spec, &mut |_| {}).expect("seed template");
        drop(client);
        admin
            .batch_execute(&format!("ALTER DATABASE {name} WITH is_template true"))
            .expect("mark template");
    }
    admin
        .execute("SELECT pg_advisory_unlock(hashtext($1))", &[&name])
        .expect("template unlock");
    name
}

/// Drops the templates of `spec` that older seeding code made (and the version-numbered ones of
/// before), so the cluster does not fill up with them. Best effort: one still being copied by
/// another binary's test stays until next time.
fn drop_stale_templates(admin: &mut postgres::Client, spec: &SampleSpec, current: &str) {
    let suffix = format!("_{}_{}_{}", spec.movies, spec.ratings, spec.seed);
    let Ok(rows) = admin.query(
        "SELECT datname FROM pg_database WHERE datname LIKE 'tpl\\_%' AND right(datname, length($1)) = $1 AND datname <> $2",
        &[&suffix, &current],
    ) else {
        return;
    };
    for row in rows {
        let stale: String = row.get(0);
        // DROP DATABASE refuses to share a multi-statement string.
        let _ = admin.batch_execute(&format!("ALTER DATABASE {stale} WITH is_template false"));
        let _ = admin.batch_execute(&format!("DROP DATABASE IF EXISTS {stale}"));
    }
}

/// A database of its own for one test, dropped when the guard goes.
pub struct TestDb {
    pub name: String,
    pub params: ConnectParams,
}

impl TestDb {
    /// A copy of the seeded template for `spec`.
    pub fn seeded(spec: &SampleSpec) -> Self {
        let template = template(spec);
        Self::create(&format!("TEMPLATE {template}"))
    }

    /// The default sample (86,537 movies, 1,000,000 ratings).
    pub fn default_sample() -> Self {
        Self::seeded(&SampleSpec::default())
    }

    /// 300,000 movies and as many ratings: large enough that the window answers a broad
    /// filter's facets and summary from a sample first (`SampleRule::WINDOW`: 200,000 movies).
    pub fn large_sample() -> Self {
        Self::seeded(&SampleSpec {
            movies: 300_000,
            ratings: 300_000,
            ..SampleSpec::default()
        })
    }

    /// An empty database with the schema applied.
    pub fn migrated() -> Self {
        let db = Self::create("");
        let mut client = db.client();
        schema::migrate(&mut client, &db.name).expect("migrate");
        db
    }

    /// An empty database without the schema.
    pub fn empty() -> Self {
        Self::create("")
    }

    fn create(clause: &str) -> Self {
        static COUNTER: AtomicU32 = AtomicU32::new(0);
        let name = format!(
            "t_{}_{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        );
        admin()
            .batch_execute(&format!("CREATE DATABASE {name} {clause}"))
            .expect("create test database");
        let params = params_for(&name);
        Self { name, params }
    }

    /// One unpooled connection. Marquee's tables live in schema `marquee`; the tests' own SQL
    /// names them unqualified, so this session (a test's, not the app's) looks there first.
    pub fn client(&self) -> postgres::Client {
        let mut client = db::connect_once(&self.params).expect("connect to test database");
        client
            .batch_execute("SET search_path = marquee, public")
            .expect("search_path");
        client
    }

    /// A pool with the given settings.
    pub fn pool(&self, settings: &PoolSettings) -> DatabasePool {
        DatabasePool::new(&self.params, settings).expect("build pool")
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        // FORCE ends any connection a failed test left behind.
        let _ = admin().batch_execute(&format!(
            "DROP DATABASE IF EXISTS {} WITH (FORCE)",
            self.name
        ));
    }
}

/// Filters and sorts whose orders are hard to walk in pieces: ties (years, titles), nulls
/// (movies without a year or a rating) in both directions, several keys, and a filter with no
/// match. For tests that read a result in chunks or through its index and compare it with
/// one ordered read.
pub const ORDERINGS: [&str; 11] = [
    "",
    "sort:title",
    "sort:-year",
    "sort:year,-rating",
    "sort:-rating",
    "sort:rating,title",
    "sort:-votes,-year",
    "genre:Drama sort:-year,title",
    "year:1990..1999 sort:rating",
    "the sort:-rating",
    "tag:zzz-no-such-tag",
];

/// A temporary folder under the target dir (reachable by the server account, unlike /root).
pub fn scratch_dir(label: &str) -> PathBuf {
    let dir =
        Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("{label}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("scratch dir");
    dir
}

/// The `marquee` binary with a clean environment: every `PG*`, `MARQUEE_*` and `DATABASE_URL`
/// variable of the developer's shell removed, and `XDG_CONFIG_HOME` pointed at an empty folder,
/// so only what the test sets decides the server.
pub fn marquee_cli() -> std::process::Command {
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_marquee"));
    for (key, _) in std::env::vars_os() {
        let Some(key) = key.to_str() else { continue };
        if key.starts_with("PG") || key.starts_with("MARQUEE_") || key == "DATABASE_URL" {
            command.env_remove(key);
        }
    }
    let config_home = Path::new(env!("CARGO_TARGET_TMPDIR")).join("empty-xdg-config");
    let _ = std::fs::create_dir_all(&config_home);
    command.env("XDG_CONFIG_HOME", config_home);
    command
}
