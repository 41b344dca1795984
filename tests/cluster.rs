//! The private cluster's lifecycle against the machine's real PostgreSQL binaries: first-use
//! init, attach from a second process, stop, restart, and recovery after a crash.

mod common;

use std::time::{Duration, Instant};

use marquee::config::{PoolSettings, ServerChoice, Settings};
use marquee::db::cluster::{ClusterStatus, PrivateCluster};
use marquee::db::{self, Server};

fn query_one_int(cluster: &PrivateCluster) -> i32 {
    let mut params = cluster.connect_params();
    params.dbname = "postgres".into();
    let mut client = db::connect_once(&params).expect("connect");
    client
        .query_one("SELECT 41 + 1", &[])
        .expect("query")
        .get(0)
}

#[test]
fn first_use_initialises_starts_and_a_second_caller_attaches() {
    let dir = common::scratch_dir("cluster-lifecycle");
    assert_eq!(
        PrivateCluster::status_of(&dir).unwrap(),
        ClusterStatus::NotInitialized
    );

    let first = PrivateCluster::ensure_running(&dir).expect("first start");
    assert!(first.started_here());
    assert_eq!(query_one_int(&first), 42);
    let ClusterStatus::Running { port, .. } = PrivateCluster::status_of(&dir).unwrap() else {
        panic!("cluster should be running");
    };
    assert_eq!(port, first.port());

    // A second Marquee on the same folder shares the running server instead of starting another.
    let second = PrivateCluster::ensure_running(&dir).expect("attach");
    assert!(!second.started_here());
    assert_eq!(second.port(), first.port());

    first.stop().expect("stop");
    assert_eq!(
        PrivateCluster::status_of(&dir).unwrap(),
        ClusterStatus::Stopped
    );

    // A later start reuses the cluster (no init) and, if it is free, the same port.
    let started = Instant::now();
    let again = PrivateCluster::ensure_running(&dir).expect("restart after stop");
    let warm_start = started.elapsed();
    assert!(again.started_here());
    assert_eq!(again.port(), first.port());
    assert_eq!(query_one_int(&again), 42);
    eprintln!("warm start took {warm_start:?}");
    assert!(PrivateCluster::stop_folder(&dir).unwrap());
    assert!(
        !PrivateCluster::stop_folder(&dir).unwrap(),
        "stopping a stopped cluster is a no-op"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_stale_pid_file_left_by_a_crash_is_recovered() {
    let dir = common::scratch_dir("cluster-crash");
    let cluster = PrivateCluster::ensure_running(&dir).expect("start");
    let ClusterStatus::Running { pid, .. } = PrivateCluster::status_of(&dir).unwrap() else {
        panic!("running");
    };
    // SAFETY: sending SIGKILL to the postmaster we started; no memory is involved.
    assert_eq!(unsafe { libc::kill(pid as i32, libc::SIGKILL) }, 0);
    let deadline = Instant::now() + Duration::from_secs(60);
    // SAFETY: signal 0 only checks that the process exists.
    while unsafe { libc::kill(pid as i32, 0) } == 0 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(
        dir.join("pgdata/postmaster.pid").exists(),
        "the crash leaves its pid file behind"
    );

    let recovered = PrivateCluster::ensure_running(&dir).expect("start after crash");
    assert!(recovered.started_here());
    assert_eq!(query_one_int(&recovered), 42);
    drop(cluster);
    recovered.stop().expect("stop");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn restart_keeps_the_port_and_the_data() {
    let dir = common::scratch_dir("cluster-restart");
    let settings = Settings {
        server: ServerChoice::Private {
            data_dir: dir.clone(),
        },
        pool: PoolSettings::default(),
        source: Default::default(),
    };
    let server = Server::start(&settings).expect("start");
    let pool = db::open_pool(&server, &settings).expect("pool + migrations");
    {
        let mut conn = pool.get("test").unwrap();
        conn.batch_execute("INSERT INTO marquee_meta VALUES ('probe', 'kept')")
            .unwrap();
    }
    let cluster = server.cluster.as_ref().unwrap();
    cluster.restart().expect("restart");
    match PrivateCluster::status_of(&dir).unwrap() {
        ClusterStatus::Running { port, .. } => assert_eq!(port, cluster.port()),
        other => panic!("expected running after restart, got {other:?}"),
    }
    let mut client = db::connect_once(&server.params).unwrap();
    let value: String = client
        .query_one("SELECT value FROM marquee_meta WHERE key = 'probe'", &[])
        .unwrap()
        .get(0);
    assert_eq!(value, "kept");
    drop(client);
    pool.close();
    drop(pool);
    server.shutdown();
    assert_eq!(
        PrivateCluster::status_of(&dir).unwrap(),
        ClusterStatus::Stopped
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_data_folder_the_server_account_cannot_enter_is_refused_clearly() {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        eprintln!("only meaningful as root (the server then runs as another account)");
        return;
    }
    use std::os::unix::fs::PermissionsExt as _;
    let outer = common::scratch_dir("cluster-private-parent");
    std::fs::set_permissions(&outer, std::fs::Permissions::from_mode(0o700)).unwrap();
    let err = PrivateCluster::ensure_running(&outer.join("data"))
        .unwrap_err()
        .to_string();
    assert!(err.contains("cannot enter"), "{err}");
    assert!(err.contains("--data-dir"), "{err}");
    let _ = std::fs::remove_dir_all(&outer);
}

#[test]
fn status_and_stop_work_with_a_relative_data_folder() {
    let dir = common::scratch_dir("cluster-relative");
    let cluster = PrivateCluster::ensure_running(&dir).expect("start");
    // How `.ci/run` and people name it: relative to the working directory.
    let cwd = std::env::current_dir().unwrap();
    let relative = dir
        .strip_prefix(&cwd)
        .map(std::path::Path::to_path_buf)
        .unwrap_or(dir.clone());
    assert!(relative.is_relative() || relative == dir);
    assert!(
        matches!(PrivateCluster::status_of(&relative).unwrap(), ClusterStatus::Running { port, .. } if port == cluster.port())
    );
    assert!(
        PrivateCluster::stop_folder(&relative).unwrap(),
        "a relative folder is stopped too"
    );
    assert_eq!(
        PrivateCluster::status_of(&dir).unwrap(),
        ClusterStatus::Stopped
    );
    let _ = std::fs::remove_dir_all(&dir);
}
