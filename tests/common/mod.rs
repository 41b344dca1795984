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

/// Seeded template databases, by spec: created once per cluster, guarded by an advisory lock so
/// parallel test binaries do not race.
pub fn template(spec: &SampleSpec) -> String {
    let name = format!(
        "tpl_v{}_s{}_{}_{}_{}",
        marquee::import::sample::GENERATOR_VERSION,
        schema::latest_version(),
        spec.movies,
        spec.ratings,
        spec.seed
    );
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

/// A temporary folder under the target dir (reachable by the server account, unlike /root).
pub fn scratch_dir(label: &str) -> PathBuf {
    let dir =
        Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("{label}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("scratch dir");
    dir
}
