//! A private cluster of a test's own, started through the app's `PrivateCluster`, which the test
//! may stop, restart, reconfigure, or clone into a streaming standby.

use std::path::PathBuf;

use marquee::config::{ConnectParams, PoolSettings, Secret, ServerChoice, Settings, SslMode};
use marquee::db::cluster::PrivateCluster;
use marquee::db::{self, Server};
use marquee::import::sample::SampleSpec;

/// A private cluster of the test's own, which it may stop, restart and reconfigure.
pub struct Scratch {
    pub dir: PathBuf,
    pub cluster: PrivateCluster,
}

impl Scratch {
    /// Started, with the `marquee` database, migrated, holding a small sample.
    pub fn new(label: &str) -> Self {
        let dir = super::scratch_dir(label);
        let settings = Settings {
            server: ServerChoice::Private {
                data_dir: dir.clone(),
            },
            pool: PoolSettings::default(),
            source: Default::default(),
        };
        let server = Server::start(&settings).expect("start scratch cluster");
        let cluster = server.cluster.expect("private");
        let mut client = db::connect_once(&cluster.connect_params()).unwrap();
        db::schema::migrate(&mut client, "scratch").unwrap();
        marquee::import::load::load_sample(
            &mut client,
            "scratch",
            &SampleSpec {
                movies: 2_000,
                ratings: 20_000,
                seed: 5,
            },
            &mut |_| {},
        )
        .unwrap();
        Self { dir, cluster }
    }

    pub fn socket_params(&self) -> ConnectParams {
        self.cluster.connect_params()
    }

    pub fn admin(&self) -> postgres::Client {
        let mut params = self.socket_params();
        params.dbname = "postgres".into();
        db::connect_once(&params).unwrap()
    }

    pub fn pgdata(&self) -> PathBuf {
        self.dir.join("pgdata")
    }

    /// Replaces the TCP rules of pg_hba.conf (the private socket stays `trust`) and reloads.
    pub fn set_host_rules(&self, rules: &str) {
        std::fs::write(
            self.pgdata().join("pg_hba.conf"),
            format!("local all all trust\n{rules}\n"),
        )
        .unwrap();
        self.admin()
            .batch_execute("SELECT pg_reload_conf()")
            .unwrap();
    }

    /// A login role with a password, for TCP tests.
    pub fn create_role(&self, name: &str, password: &str, superuser: bool) {
        let su = if superuser { "SUPERUSER" } else { "" };
        self.admin()
            .batch_execute(&format!("CREATE ROLE {name} LOGIN {su} PASSWORD '{password}'; GRANT ALL ON DATABASE marquee TO {name}"))
            .unwrap();
        let mut owner = db::connect_once(&self.socket_params()).unwrap();
        owner
            .batch_execute(&format!(
                "GRANT USAGE ON SCHEMA marquee TO {name}; \
                 GRANT SELECT ON ALL TABLES IN SCHEMA marquee TO {name}"
            ))
            .unwrap();
    }

    pub fn tcp_params(
        &self,
        host: &str,
        user: &str,
        password: &str,
        sslmode: SslMode,
    ) -> ConnectParams {
        ConnectParams {
            host: host.into(),
            port: self.cluster.port(),
            dbname: "marquee".into(),
            user: user.into(),
            password: Some(Secret::new(password)),
            sslmode,
            connect_timeout_secs: 3,
            ..ConnectParams::default()
        }
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = PrivateCluster::stop_folder(&self.dir);
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
