//! Staying up through faults, against real servers the tests start and break themselves: a server
//! down at launch, restarted mid-session, backends killed, the pool exhausted, too few server
//! slots, wrong credentials, a silent host, TLS policy, and PgBouncer in transaction mode.
//!
//! Each test prints how long detection and recovery took (`cargo test --test faults -- --nocapture`).

mod common;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::TestDb;
use common::scratch::Scratch;
use marquee::config::{ConnectParams, PoolSettings, Secret, ServerChoice, Settings, SslMode};
use marquee::connection::{Connection, Waker};
use marquee::db::cluster::PrivateCluster;
use marquee::db::error::DbErrorKind;
use marquee::db::pool::DatabasePool;
use marquee::db::{self, Server};
use marquee::filter::Filter;
use marquee::import::sample::SampleSpec;
use marquee::repo::movies::MoviesRepository;
use marquee::worker::{Answer, Priority, Request, RequestKind, Topic, Workers};

fn settings(min: u32, max: u32) -> PoolSettings {
    PoolSettings {
        min_idle: min,
        max_size: max,
        checkout_timeout_ms: 2_000,
        ..PoolSettings::default()
    }
}

fn wait_until(what: &str, limit: Duration, mut done: impl FnMut() -> bool) -> Duration {
    let started = Instant::now();
    while !done() {
        assert!(started.elapsed() < limit, "{what}: not within {limit:?}");
        std::thread::sleep(Duration::from_millis(10));
    }
    started.elapsed()
}

/// How many backends connected to `client`'s server are running a query containing `text`
/// right now (the observable sign that a query has really started).
fn running(client: &mut postgres::Client, text: &str) -> i64 {
    client
        .query_one(
            "SELECT count(*) FROM pg_stat_activity \
              WHERE state = 'active' AND pid <> pg_backend_pid() AND strpos(query, $1) > 0",
            &[&text],
        )
        .unwrap()
        .get(0)
}

/// Generous: these waits end as soon as their condition holds, so only a broken build hits them.
const PATIENCE: Duration = Duration::from_secs(60);

#[test]
fn a_server_down_at_launch_is_retried_with_backoff_and_recovers_by_itself() {
    let scratch = Scratch::new("fault-down-at-launch");
    let params = scratch.socket_params();
    scratch.cluster.stop().unwrap();

    // Nothing to wake: the test polls.
    let waker: Waker = std::sync::Arc::new(|_| {});
    let app_settings = Settings {
        server: ServerChoice::External(params),
        pool: settings(1, 2),
        source: Default::default(),
    };
    let mut connection = Connection::start(&app_settings, &waker);
    wait_until("the unreachable state", PATIENCE, || {
        connection.poll(&app_settings, &waker);
        matches!(connection, Connection::Failed { .. })
    });
    let Connection::Failed {
        failure,
        next_retry,
        ..
    } = &connection
    else {
        unreachable!()
    };
    assert_eq!(
        failure.kind,
        DbErrorKind::Unreachable,
        "{}",
        failure.message
    );
    assert!(
        next_retry.is_some(),
        "a transient failure schedules a retry"
    );

    // Let one more automatic retry fail by itself (nothing but polling, as the window's frames
    // do), so the backoff grows, then bring the server up.
    wait_until("a second failed attempt", PATIENCE, || {
        connection.poll(&app_settings, &waker);
        matches!(connection, Connection::Failed { attempt: 2.., .. })
    });
    let Connection::Failed {
        next_retry: Some(retry_at),
        ..
    } = &connection
    else {
        panic!("the second transient failure schedules a retry too");
    };
    let retry_at = *retry_at;
    let up = PrivateCluster::ensure_running(&scratch.dir).unwrap();
    let server_up = Instant::now();
    // The second retry waits 2 s ±20 %: recovery comes from that scheduled retry, not a click.
    let recovered = wait_until("recovery", PATIENCE, || {
        connection.poll(&app_settings, &waker);
        matches!(connection, Connection::Ready { .. })
    });
    eprintln!(
        "server down at launch: recovered {recovered:?} after the server came up ({:?} after the scheduled retry)",
        server_up.max(retry_at).elapsed()
    );
    connection.close();
    drop(up);
}

#[test]
fn the_retry_backoff_doubles_from_one_second_to_thirty_with_twenty_percent_jitter() {
    let base_secs = [1.0, 2.0, 4.0, 8.0, 16.0, 30.0, 30.0, 30.0];
    for (attempt, base) in (1..).zip(base_secs) {
        for _ in 0..20 {
            let delay = marquee::connection::retry_delay(attempt).as_secs_f64();
            assert!(
                delay >= base * 0.8 - 0.001 && delay <= base * 1.2 + 0.001,
                "retry {attempt}: {delay} s is not {base} s ±20 %"
            );
        }
    }
}

#[test]
fn a_refused_login_is_not_retried_until_the_settings_change() {
    let scratch = Scratch::new("fault-refused-login");
    scratch.create_role("dave", "right-pw-dave", false);
    scratch.set_host_rules("host all all 127.0.0.1/32 scram-sha-256");
    let waker: Waker = std::sync::Arc::new(|_| {});
    let app_settings = Settings {
        server: ServerChoice::External(scratch.tcp_params(
            "127.0.0.1",
            "dave",
            "wrong-pw-dave",
            SslMode::Disable,
        )),
        pool: settings(0, 2),
        source: Default::default(),
    };
    let mut connection = Connection::start(&app_settings, &waker);
    wait_until("the refusal", PATIENCE, || {
        connection.poll(&app_settings, &waker);
        matches!(connection, Connection::Failed { .. })
    });
    let Connection::Failed {
        failure,
        next_retry,
        attempt,
    } = &connection
    else {
        unreachable!()
    };
    assert_eq!(failure.kind, DbErrorKind::Rejected, "{}", failure.message);
    assert!(!failure.message.contains("wrong-pw"), "{}", failure.message);
    assert_eq!(*attempt, 1);
    assert!(next_retry.is_none(), "a refused login schedules no retry");
    // Longer than the first retry's longest backoff (1.2 s): still the same single attempt, and
    // the server sees no further login. (Within the one attempt, the pool's checkout may have
    // tried the login more than once before its deadline; that is not a retry of the window.)
    let refusals = || {
        std::fs::read_to_string(scratch.dir.join("postgres.log"))
            .unwrap_or_default()
            .matches("password authentication failed for user \"dave\"")
            .count()
    };
    let refused_at_failure = refusals();
    assert!(refused_at_failure >= 1, "the server saw no login attempt");
    let until = Instant::now() + Duration::from_secs(3);
    while Instant::now() < until {
        connection.poll(&app_settings, &waker);
        assert!(
            matches!(
                connection,
                Connection::Failed {
                    attempt: 1,
                    next_retry: None,
                    ..
                }
            ),
            "a refused login was retried"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(refusals(), refused_at_failure, "the login was tried again");
    connection.close();
}

#[test]
fn a_restart_mid_session_fails_only_in_flight_queries_and_the_next_action_works() {
    let scratch = Scratch::new("fault-restart");
    let pool = DatabasePool::new(&scratch.socket_params(), &settings(2, 4)).unwrap();
    let movies = MoviesRepository::new(pool.clone());
    assert_eq!(movies.page(&Filter::default(), 0, 10).unwrap().len(), 10);

    let in_flight = {
        let pool = pool.clone();
        std::thread::spawn(move || {
            let mut conn = pool.get("test.in-flight")?;
            conn.batch_execute("SELECT pg_sleep(30)")
                .map_err(|e| marquee::db::error::DbError::from_postgres(&e, pool.target()))
        })
    };
    wait_until("the in-flight query to run", PATIENCE, || {
        running(&mut scratch.admin(), "pg_sleep(30)") > 0
    });
    let restarted_at = Instant::now();
    scratch.cluster.restart().unwrap();
    let restart_took = restarted_at.elapsed();
    let err = in_flight.join().unwrap().unwrap_err();
    assert_eq!(err.kind, DbErrorKind::ConnectionLost, "{err}");
    assert!(
        err.message.contains("reconnect") || err.message.contains("closed"),
        "{err}"
    );

    // The very next user action works: dead connections are discarded and the read retried.
    let next = Instant::now();
    let page = movies.page(&Filter::default(), 0, 10);
    assert!(page.is_ok(), "{page:?}");
    eprintln!(
        "restart mid-session: restart took {restart_took:?}; next action answered in {:?}",
        next.elapsed()
    );
}

#[test]
fn killed_backends_fail_at_most_running_queries_and_the_pool_refills() {
    let scratch = Scratch::new("fault-killed");
    let pool = DatabasePool::new(&scratch.socket_params(), &settings(3, 5)).unwrap();
    let movies = MoviesRepository::new(pool.clone());
    wait_until("pool at its minimum", PATIENCE, || {
        pool.snapshot().total >= 3
    });
    movies.page(&Filter::default(), 0, 10).unwrap();

    let killed_at = Instant::now();
    let killed: i64 = scratch
        .admin()
        .query_one(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name = 'marquee'",
            &[],
        )
        .unwrap()
        .get(0);
    assert!(killed >= 3, "killed {killed}");
    // Idle connections were not running anything: the next reads all succeed.
    for _ in 0..5 {
        movies.page(&Filter::default(), 0, 10).unwrap();
    }
    let refill = wait_until("refilled to the minimum", PATIENCE, || {
        let snap = pool.snapshot();
        snap.total >= 3 && snap.counters.closed_total() >= 3
    });
    let counters = pool.snapshot().counters;
    eprintln!(
        "killed backends: refilled in {refill:?} ({:?} after the kill); closed broken {} / failed validation {}",
        killed_at.elapsed(),
        counters.closed_broken,
        counters.closed_validation
    );
}

#[test]
fn an_exhausted_pool_fails_new_jobs_at_the_deadline_without_blocking_and_recovers() {
    let db = TestDb::seeded(&SampleSpec {
        movies: 2_000,
        ratings: 20_000,
        seed: 5,
    });
    let pool = db.pool(&PoolSettings {
        checkout_timeout_ms: 1_000,
        ..settings(2, 2)
    });
    let workers = Workers::start(pool, 3, Box::new(|| {}));
    for _ in 0..2 {
        workers.submit(
            Topic::Admin,
            0,
            Priority::Urgent,
            Request::Sleep(Duration::from_secs(4)),
        );
    }
    let mut observer = db.client();
    wait_until(
        "both slow queries to hold their connections",
        PATIENCE,
        || running(&mut observer, "pg_sleep") == 2,
    );
    workers.submit(
        Topic::Browse,
        1,
        Priority::Urgent,
        Request::Page {
            filter: Arc::new(Filter::default()),
            offset: 0,
            limit: 10,
        },
    );
    // Had submitting waited for a connection, the job's answer (its checkout fails after 1 s,
    // while the slow queries hold both for 4 s) would be here already.
    assert!(
        workers.replies().is_empty(),
        "submitting never waits for the pool"
    );
    let reply = loop {
        let reply = workers.replies().recv_timeout(PATIENCE).unwrap();
        if reply.kind == RequestKind::Page {
            break reply;
        }
    };
    let err = reply.result.unwrap_err();
    assert_eq!(err.kind, DbErrorKind::PoolExhausted);
    assert!(err.message.contains("pool exhausted (2/2 in use)"), "{err}");
    // Once the slow queries end, work flows again.
    let mut recovered = false;
    let deadline = Instant::now() + PATIENCE;
    while !recovered && Instant::now() < deadline {
        workers.submit(
            Topic::Browse,
            1,
            Priority::Urgent,
            Request::Page {
                filter: Arc::new(Filter::default()),
                offset: 0,
                limit: 10,
            },
        );
        while let Ok(reply) = workers.replies().recv_timeout(Duration::from_secs(3)) {
            if reply.kind == RequestKind::Page {
                recovered = matches!(reply.result, Ok(Answer::Page { .. }));
                break;
            }
        }
    }
    assert!(recovered);
    workers.shutdown(Duration::from_secs(5));
}

/// The password comes from libpq's password file when nothing else gives one: the file that
/// `PGPASSFILE` names, read with libpq's rules, through the real CLI against a server that asks
/// for a password; the server can also be named by a service of `pg_service.conf`. A file others
/// can read is refused with the fix, and the password appears in no output either way.
#[test]
fn the_password_and_service_files_are_used_as_libpq_uses_them() {
    use std::os::unix::fs::PermissionsExt as _;
    let scratch = Scratch::new("fault-pgpass");
    scratch.create_role("carol", "pass:word-from-file", false);
    scratch.set_host_rules("host all all 127.0.0.1/32 scram-sha-256");
    let dir = common::scratch_dir("pgpass-file");
    let passfile = dir.join("pgpass");
    let port = scratch.cluster.port();
    std::fs::write(
        &passfile,
        format!(
            "# the first matching line wins\n\
             127.0.0.1:{port}:other_db:carol:not-this-one\n\
             127.0.0.1:{port}:*:carol:pass\\:word-from-file\n\
             *:*:*:*:nor-this-one\n"
        ),
    )
    .unwrap();
    let run = || {
        common::marquee_cli()
            .args(["movies", "--limit", "3"])
            .env("PGHOST", "127.0.0.1")
            .env("PGPORT", port.to_string())
            .env("PGDATABASE", "marquee")
            .env("PGUSER", "carol")
            .env("PGSSLMODE", "disable")
            .env("PGPASSFILE", &passfile)
            .output()
            .unwrap()
    };

    std::fs::set_permissions(&passfile, std::fs::Permissions::from_mode(0o600)).unwrap();
    let out = run();
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert!(out.status.success(), "{stderr}");
    assert!(
        stdout.lines().filter(|l| !l.trim().is_empty()).count() >= 3,
        "{stdout}"
    );
    assert!(!stdout.contains("word-from-file") && !stderr.contains("word-from-file"));

    // The same server named by a service (pg_service.conf), the password still from the file.
    let services = dir.join("pg_service.conf");
    std::fs::write(
        &services,
        format!(
            "[films]\nhost=127.0.0.1\nport={port}\ndbname=marquee\nuser=carol\nsslmode=disable\n"
        ),
    )
    .unwrap();
    let out = common::marquee_cli()
        .args(["movies", "--limit", "3"])
        .env("PGSERVICEFILE", &services)
        .env("PGSERVICE", "films")
        .env("PGPASSFILE", &passfile)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "through the service: {stderr}");
    let out = common::marquee_cli()
        .args(["movies", "--limit", "3"])
        .env("PGSERVICEFILE", &services)
        .env("PGSERVICE", "no_such_service")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("\"no_such_service\" is not defined"),
        "{stderr}"
    );

    // Readable by others: not used, and the message says how to fix it.
    std::fs::set_permissions(&passfile, std::fs::Permissions::from_mode(0o644)).unwrap();
    let out = run();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("chmod 600"), "{stderr}");
    assert!(!stderr.contains("word-from-file"), "{stderr}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn wrong_password_unknown_database_and_a_silent_host_each_get_one_clear_message() {
    let scratch = Scratch::new("fault-credentials");
    scratch.create_role("alice", "right-horse-battery", false);
    scratch.set_host_rules("host all all 127.0.0.1/32 scram-sha-256");

    let mut params = scratch.tcp_params(
        "127.0.0.1",
        "alice",
        "wrong-horse-battery",
        SslMode::Disable,
    );
    let err = DatabasePool::new(&params, &settings(0, 2))
        .unwrap()
        .get("test")
        .unwrap_err();
    assert_eq!(err.kind, DbErrorKind::Rejected);
    assert!(err.message.contains("rejected the password"), "{err}");
    assert!(!err.to_string().contains("wrong-horse"), "{err}");

    params.password = Some(Secret::new("right-horse-battery"));
    let pool = DatabasePool::new(&params, &settings(0, 2)).unwrap();
    pool.get("test").expect("the right password works over TCP");

    params.dbname = "no_such_db".into();
    let err = DatabasePool::new(&params, &settings(0, 2))
        .unwrap()
        .get("test")
        .unwrap_err();
    assert!(
        err.message.contains("no_such_db") && err.message.contains("does not exist"),
        "{err}"
    );

    // An unreachable host (its SYNs go unanswered): the connect timeout ends each attempt and
    // the checkout fails at its deadline with the reason.
    let (unreachable_port, _hold) = unanswering_port();
    let unreachable = ConnectParams {
        port: unreachable_port,
        connect_timeout_secs: 1,
        ..scratch.tcp_params("127.0.0.1", "alice", "x", SslMode::Disable)
    };
    let started = Instant::now();
    let err = DatabasePool::new(
        &unreachable,
        &PoolSettings {
            checkout_timeout_ms: CHECKOUT_DEADLINE.as_millis() as u64,
            ..settings(0, 1)
        },
    )
    .unwrap()
    .get("test")
    .unwrap_err();
    assert_eq!(err.kind, DbErrorKind::Unreachable, "{err}");
    assert!(err.message.contains("connect timeout"), "{err}");
    assert!(
        started.elapsed() < CHECKOUT_DEADLINE * 5,
        "{:?}",
        started.elapsed()
    );
    eprintln!(
        "unreachable host: gave up after {:?}: {err}",
        started.elapsed()
    );

    // A host that accepts TCP but never answers the handshake: the checkout deadline still holds.
    let silent = std::net::TcpListener::bind(("127.0.0.1", 0)).unwrap();
    let silent_params = ConnectParams {
        port: silent.local_addr().unwrap().port(),
        connect_timeout_secs: 1,
        ..scratch.tcp_params("127.0.0.1", "alice", "x", SslMode::Disable)
    };
    let started = Instant::now();
    let err = DatabasePool::new(
        &silent_params,
        &PoolSettings {
            checkout_timeout_ms: CHECKOUT_DEADLINE.as_millis() as u64,
            ..settings(0, 1)
        },
    )
    .unwrap()
    .get("test")
    .unwrap_err();
    assert_eq!(err.kind, DbErrorKind::Unreachable, "{err}");
    assert!(
        started.elapsed() < CHECKOUT_DEADLINE * 5,
        "{:?}",
        started.elapsed()
    );
    eprintln!(
        "silent server: gave up after {:?}: {err}",
        started.elapsed()
    );
    // The one-off administrative connection is bounded the same way.
    let started = Instant::now();
    let Err(err) = db::connect_once(&silent_params) else {
        panic!("a server that never answers cannot have connected");
    };
    assert_eq!(err.kind, DbErrorKind::Unreachable, "{err}");
    assert!(err.message.contains("does not answer"), "{err}");
    assert!(
        started.elapsed() < CHECKOUT_DEADLINE * 5,
        "{:?}",
        started.elapsed()
    );

    // The CLI says the same and exits with code 1.
    let out = common::marquee_cli()
        .args([
            "--url",
            &format!(
                "postgresql://alice@127.0.0.1:{}/marquee?sslmode=disable",
                scratch.cluster.port()
            ),
            "movies",
        ])
        .env("PGPASSWORD", "wrong-horse-battery")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("rejected the password"), "{stderr}");
    assert!(!stderr.contains("wrong-horse"));
}

/// The checkout deadline of the unreachable-host checks. They fail at it; the tests allow five
/// times as much, so a busy machine cannot fail them, while a hang (no deadline) still does.
const CHECKOUT_DEADLINE: Duration = Duration::from_millis(2_500);

/// A loopback port whose accept queue is full, so new SYNs are dropped as if the host were
/// unreachable. Returns the port and what keeps it that way.
fn unanswering_port() -> (u16, (std::os::fd::OwnedFd, Vec<std::net::TcpStream>)) {
    use std::os::fd::{AsRawFd as _, FromRawFd as _, OwnedFd};
    // SAFETY: plain socket calls on a descriptor we own; every return value is checked.
    let fd = unsafe { libc::socket(libc::AF_INET, libc::SOCK_STREAM, 0) };
    assert!(fd >= 0);
    // SAFETY: `fd` is a fresh socket that nothing else owns.
    let owned = unsafe { OwnedFd::from_raw_fd(fd) };
    // SAFETY: sockaddr_in is plain old data; all zeroes is a valid value.
    let mut addr: libc::sockaddr_in = unsafe { std::mem::zeroed() };
    addr.sin_family = libc::AF_INET as libc::sa_family_t;
    addr.sin_addr.s_addr = u32::from_ne_bytes([127, 0, 0, 1]);
    let len = std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t;
    // SAFETY: `addr` is a valid sockaddr_in of length `len`.
    let bound_rc = unsafe { libc::bind(owned.as_raw_fd(), (&raw const addr).cast(), len) };
    assert_eq!(bound_rc, 0);
    // SAFETY: listening on our bound socket with a backlog of zero.
    assert_eq!(unsafe { libc::listen(owned.as_raw_fd(), 0) }, 0);
    // SAFETY: sockaddr_in is plain old data; all zeroes is a valid value.
    let mut bound: libc::sockaddr_in = unsafe { std::mem::zeroed() };
    let mut bound_len = len;
    // SAFETY: `bound` has room for a sockaddr_in.
    let name_rc =
        unsafe { libc::getsockname(owned.as_raw_fd(), (&raw mut bound).cast(), &mut bound_len) };
    assert_eq!(name_rc, 0);
    let port = u16::from_be(bound.sin_port);
    // Fill the queue; connections beyond it hang in SYN_SENT.
    let fillers = (0..2)
        .filter_map(|_| {
            std::net::TcpStream::connect_timeout(
                &([127, 0, 0, 1], port).into(),
                Duration::from_millis(200),
            )
            .ok()
        })
        .collect();
    (port, (owned, fillers))
}

#[test]
fn server_slots_below_the_pool_minimum_degrade_with_a_clear_message() {
    let scratch = Scratch::new("fault-slots");
    scratch.create_role("bob", "pw-bob", false);
    scratch.set_host_rules("host all all 127.0.0.1/32 scram-sha-256");
    scratch
        .admin()
        .batch_execute("ALTER SYSTEM SET max_connections = 5")
        .unwrap();
    scratch
        .admin()
        .batch_execute("ALTER SYSTEM SET superuser_reserved_connections = 2")
        .unwrap();
    scratch.cluster.restart().unwrap();
    let params = scratch.tcp_params("127.0.0.1", "bob", "pw-bob", SslMode::Disable);
    let pool = DatabasePool::new(&params, &settings(6, 8)).unwrap();
    let movies = MoviesRepository::new(pool.clone());
    // Work still gets done on the slots there are...
    assert_eq!(movies.page(&Filter::default(), 0, 5).unwrap().len(), 5);
    // ...and the pool says why it cannot reach its minimum.
    wait_until("the slot shortage to be reported", PATIENCE, || {
        pool.snapshot()
            .last_error
            .is_some_and(|(e, _)| e.message.contains("no free connection slots"))
    });
    let snap = pool.snapshot();
    assert!(
        snap.total <= 3,
        "the server allows 3 ordinary connections, pool has {}",
        snap.total
    );
    let (err, _) = snap.last_error.unwrap();
    assert!(
        err.message
            .contains("lower the pool size or raise max_connections"),
        "{err}"
    );
    assert!(!err.message.contains("pw-bob"));
}

/// A self-signed certificate for `localhost` (no IP in its names) and its key, as PEM.
fn self_signed(common_name: &str) -> (Vec<u8>, Vec<u8>) {
    use openssl::asn1::Asn1Time;
    use openssl::bn::BigNum;
    use openssl::hash::MessageDigest;
    use openssl::pkey::PKey;
    use openssl::rsa::Rsa;
    use openssl::x509::extension::{BasicConstraints, SubjectAlternativeName};
    use openssl::x509::{X509Builder, X509NameBuilder};
    let key = PKey::from_rsa(Rsa::generate(2048).unwrap()).unwrap();
    let mut name = X509NameBuilder::new().unwrap();
    name.append_entry_by_text("CN", common_name).unwrap();
    let name = name.build();
    let mut cert = X509Builder::new().unwrap();
    cert.set_version(2).unwrap();
    cert.set_serial_number(&BigNum::from_u32(1).unwrap().to_asn1_integer().unwrap())
        .unwrap();
    cert.set_subject_name(&name).unwrap();
    cert.set_issuer_name(&name).unwrap();
    cert.set_pubkey(&key).unwrap();
    cert.set_not_before(&Asn1Time::days_from_now(0).unwrap())
        .unwrap();
    cert.set_not_after(&Asn1Time::days_from_now(30).unwrap())
        .unwrap();
    cert.append_extension(BasicConstraints::new().critical().ca().build().unwrap())
        .unwrap();
    let san = SubjectAlternativeName::new()
        .dns(common_name)
        .build(&cert.x509v3_context(None, None))
        .unwrap();
    cert.append_extension(san).unwrap();
    cert.sign(&key, MessageDigest::sha256()).unwrap();
    (
        cert.build().to_pem().unwrap(),
        key.private_key_to_pem_pkcs8().unwrap(),
    )
}

/// A certificate for `common_name` signed by the CA whose PEM certificate and key are given, and
/// its key, as PEM.
fn signed_by(ca_cert: &[u8], ca_key: &[u8], common_name: &str) -> (Vec<u8>, Vec<u8>) {
    use openssl::asn1::Asn1Time;
    use openssl::bn::BigNum;
    use openssl::hash::MessageDigest;
    use openssl::pkey::PKey;
    use openssl::rsa::Rsa;
    use openssl::x509::{X509, X509Builder, X509NameBuilder};
    let ca = X509::from_pem(ca_cert).unwrap();
    let ca_key = PKey::private_key_from_pem(ca_key).unwrap();
    let key = PKey::from_rsa(Rsa::generate(2048).unwrap()).unwrap();
    let mut name = X509NameBuilder::new().unwrap();
    name.append_entry_by_text("CN", common_name).unwrap();
    let mut cert = X509Builder::new().unwrap();
    cert.set_version(2).unwrap();
    cert.set_serial_number(&BigNum::from_u32(2).unwrap().to_asn1_integer().unwrap())
        .unwrap();
    cert.set_subject_name(&name.build()).unwrap();
    cert.set_issuer_name(ca.subject_name()).unwrap();
    cert.set_pubkey(&key).unwrap();
    cert.set_not_before(&Asn1Time::days_from_now(0).unwrap())
        .unwrap();
    cert.set_not_after(&Asn1Time::days_from_now(30).unwrap())
        .unwrap();
    cert.sign(&ca_key, MessageDigest::sha256()).unwrap();
    (
        cert.build().to_pem().unwrap(),
        key.private_key_to_pem_pkcs8().unwrap(),
    )
}

fn uses_tls(pool: &DatabasePool) -> bool {
    let mut conn = pool.get("test.tls").unwrap();
    conn.query_one(
        "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()",
        &[],
    )
    .unwrap()
    .get(0)
}

/// A server that logs roles in by client certificate (`hostssl … cert`): `sslcert`/`sslkey`
/// (here `PGSSLCERT`/`PGSSLKEY`, through the CLI) get in; no certificate, or one the server's CA
/// did not sign, gets the server's refusal; a key others can read is refused before connecting.
#[test]
fn a_client_certificate_logs_in_where_the_server_asks_for_one() {
    use std::os::unix::fs::PermissionsExt as _;
    let scratch = Scratch::new("fault-client-cert");
    let (ca_cert, ca_key) = self_signed("localhost");
    let pgdata = scratch.pgdata();
    let owner = std::fs::metadata(&pgdata)
        .map(|m| std::os::unix::fs::MetadataExt::uid(&m))
        .unwrap();
    for (file, pem) in [
        ("server.crt", &ca_cert),
        ("server.key", &ca_key),
        ("root.crt", &ca_cert),
    ] {
        std::fs::write(pgdata.join(file), pem).unwrap();
        std::fs::set_permissions(pgdata.join(file), std::fs::Permissions::from_mode(0o600))
            .unwrap();
        std::os::unix::fs::chown(pgdata.join(file), Some(owner), None).unwrap();
    }
    let mut admin = scratch.admin();
    admin.batch_execute("ALTER SYSTEM SET ssl = on").unwrap();
    admin
        .batch_execute("ALTER SYSTEM SET ssl_ca_file = 'root.crt'")
        .unwrap();
    drop(admin);
    scratch.cluster.restart().unwrap();
    scratch.create_role("carol", "unused-password", false);
    scratch.set_host_rules("hostssl all all 127.0.0.1/32 cert");

    let dir = common::scratch_dir("client-cert-files");
    let write = |name: &str, pem: &[u8]| {
        let path = dir.join(name);
        std::fs::write(&path, pem).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        path
    };
    let (cert, key) = signed_by(&ca_cert, &ca_key, "carol");
    let (cert, key) = (write("carol.crt", &cert), write("carol.key", &key));
    let (stranger_ca, stranger_ca_key) = self_signed("localhost");
    let (other_cert, other_key) = signed_by(&stranger_ca, &stranger_ca_key, "carol");
    let (other_cert, other_key) = (
        write("other.crt", &other_cert),
        write("other.key", &other_key),
    );

    let run = |cert: Option<&Path>, key: Option<&Path>| {
        let mut cli = common::marquee_cli();
        cli.args(["movies", "--limit", "2"])
            .env("PGHOST", "127.0.0.1")
            .env("PGPORT", scratch.cluster.port().to_string())
            .env("PGDATABASE", "marquee")
            .env("PGUSER", "carol")
            .env("PGSSLMODE", "require");
        if let Some(cert) = cert {
            cli.env("PGSSLCERT", cert);
        }
        if let Some(key) = key {
            cli.env("PGSSLKEY", key);
        }
        let out = cli.output().unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };

    let (code, stderr) = run(Some(&cert), Some(&key));
    assert_eq!(code, Some(0), "the signed certificate logs in: {stderr}");

    let (code, stderr) = run(None, None);
    assert_eq!(code, Some(1), "{stderr}");
    assert!(stderr.contains("certificate"), "no certificate: {stderr}");

    let (code, stderr) = run(Some(&other_cert), Some(&other_key));
    assert_eq!(code, Some(1), "{stderr}");
    assert!(
        !stderr.contains("BEGIN"),
        "no key material in messages: {stderr}"
    );

    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644)).unwrap();
    let (code, stderr) = run(Some(&cert), Some(&key));
    assert_eq!(code, Some(1), "{stderr}");
    assert!(stderr.contains("chmod 600"), "{stderr}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn every_sslmode_against_a_server_with_a_self_signed_certificate() {
    let scratch = Scratch::new("fault-tls");
    let (cert, key) = self_signed("localhost");
    let pgdata = scratch.pgdata();
    std::fs::write(pgdata.join("server.crt"), &cert).unwrap();
    std::fs::write(pgdata.join("server.key"), &key).unwrap();
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::set_permissions(
        pgdata.join("server.key"),
        std::fs::Permissions::from_mode(0o600),
    )
    .unwrap();
    let owner = std::fs::metadata(&pgdata)
        .map(|m| std::os::unix::fs::MetadataExt::uid(&m))
        .unwrap();
    let group = std::fs::metadata(&pgdata)
        .map(|m| std::os::unix::fs::MetadataExt::gid(&m))
        .unwrap();
    for file in ["server.crt", "server.key"] {
        std::os::unix::fs::chown(pgdata.join(file), Some(owner), Some(group)).unwrap();
    }
    scratch
        .admin()
        .batch_execute("ALTER SYSTEM SET ssl = on")
        .unwrap();
    scratch.cluster.restart().unwrap();
    scratch.create_role("carol", "pw-carol", false);
    scratch.set_host_rules(
        "hostssl all all 127.0.0.1/32 scram-sha-256\nhostnossl all all 127.0.0.1/32 reject",
    );
    let ca_file = scratch.dir.join("ca.crt");
    std::fs::write(&ca_file, &cert).unwrap();
    let other_ca = scratch.dir.join("other-ca.crt");
    std::fs::write(&other_ca, self_signed("localhost").0).unwrap();

    let pool_for = |host: &str, mode: SslMode, root: Option<&Path>| {
        let mut params = scratch.tcp_params(host, "carol", "pw-carol", mode);
        params.sslrootcert = root.map(Path::to_path_buf);
        DatabasePool::new(&params, &settings(0, 1)).unwrap()
    };

    // The server requires TLS: sslmode=disable gets one clear message.
    let err = pool_for("127.0.0.1", SslMode::Disable, None)
        .get("test")
        .unwrap_err();
    assert_eq!(err.kind, DbErrorKind::Rejected);
    assert!(
        err.message
            .contains("requires an encrypted (TLS) connection"),
        "{err}"
    );

    assert!(uses_tls(&pool_for("127.0.0.1", SslMode::Prefer, None)));
    assert!(uses_tls(&pool_for("127.0.0.1", SslMode::Require, None)));
    assert!(
        uses_tls(&pool_for("127.0.0.1", SslMode::VerifyCa, Some(&ca_file))),
        "verify-ca ignores the host name"
    );
    assert!(uses_tls(&pool_for(
        "localhost",
        SslMode::VerifyFull,
        Some(&ca_file)
    )));

    let err = pool_for("127.0.0.1", SslMode::VerifyFull, Some(&ca_file))
        .get("test")
        .unwrap_err();
    assert!(
        err.message.contains("TLS"),
        "verify-full must check the host name: {err}"
    );
    let err = pool_for("127.0.0.1", SslMode::VerifyCa, Some(&other_ca))
        .get("test")
        .unwrap_err();
    assert!(
        err.message.contains("TLS"),
        "an unknown CA is refused: {err}"
    );
    assert!(!err.to_string().contains("pw-carol"));
}

/// PgBouncer in transaction mode in front of the shared test cluster.
struct Bouncer {
    child: std::process::Child,
    dir: PathBuf,
    port: u16,
}

impl Bouncer {
    /// Started in front of `backend`, or `None` (after a loud skip line naming `check`) when
    /// the machine has no `pgbouncer`; under CI a missing `pgbouncer` fails the test.
    /// `ignore_startup_parameters` is the setting's value, or `None` for none (as it comes).
    fn start(
        backend: &ConnectParams,
        check: &str,
        ignore_startup_parameters: Option<&str>,
    ) -> Option<Self> {
        let binary = common::require::program("pgbouncer", check, "apt-get install pgbouncer")?;
        let port = std::net::TcpListener::bind(("127.0.0.1", 0))
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        // One folder per instance: the PgBouncer tests run in parallel.
        let dir = common::scratch_dir(&format!("pgbouncer-{port}"));
        std::fs::write(dir.join("userlist.txt"), "\"marquee\" \"\"\n").unwrap();
        std::fs::write(
            dir.join("pgbouncer.ini"),
            format!(
                "[databases]\nmovies = host={} port={} dbname={} user=marquee\n\n[pgbouncer]\nlisten_addr = 127.0.0.1\nlisten_port = {port}\n\
                 unix_socket_dir =\nauth_type = trust\nauth_file = {}\npool_mode = transaction\nmax_client_conn = 100\n\
                 default_pool_size = 4\n{}logfile = {}\n",
                backend.host,
                backend.port,
                backend.dbname,
                dir.join("userlist.txt").display(),
                ignore_startup_parameters
                    .map(|v| format!("ignore_startup_parameters = {v}\n"))
                    .unwrap_or_default(),
                dir.join("pgbouncer.log").display()
            ),
        )
        .unwrap();
        // PgBouncer will not run as root either.
        let mut cmd = std::process::Command::new(binary);
        // SAFETY: geteuid has no preconditions.
        if unsafe { libc::geteuid() } == 0 {
            let pg = std::process::Command::new("id")
                .args(["-u", "postgres"])
                .output()
                .expect("look up the postgres account");
            let uid: u32 = String::from_utf8_lossy(&pg.stdout)
                .trim()
                .parse()
                .expect("the postgres account runs PgBouncer when tests run as root");
            std::os::unix::fs::chown(&dir, Some(uid), None).unwrap();
            cmd.args(["-u", "postgres"]);
        }
        let child = cmd
            .arg(dir.join("pgbouncer.ini"))
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("start pgbouncer");
        let bouncer = Self { child, dir, port };
        wait_until("pgbouncer to listen", PATIENCE, || {
            std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
        });
        Some(bouncer)
    }
}

impl Bouncer {
    /// How a client reaches the database through this PgBouncer.
    fn params(&self) -> ConnectParams {
        ConnectParams {
            host: "127.0.0.1".into(),
            port: self.port,
            dbname: "movies".into(),
            user: "marquee".into(),
            password: None,
            sslmode: SslMode::Disable,
            connect_timeout_secs: 3,
            ..ConnectParams::default()
        }
    }

    /// The app's own path through this PgBouncer (pool, migration check, workers), checked on
    /// every kind of browsing request and an export. The pool and workers are handed back.
    fn serves_browsing_and_export(&self, db: &TestDb) -> (DatabasePool, Workers) {
        let settings = Settings {
            server: ServerChoice::External(self.params()),
            pool: settings(2, 6),
            source: Default::default(),
        };
        let server = Server::start(&settings).unwrap();
        let pool = db::open_pool(&server, &settings).expect("a pool through pgbouncer");
        let workers = Workers::start(pool.clone(), 6, Box::new(|| {}));
        let filter = Arc::new(Filter::parse("genre:Drama year:1980.. sort:-rating").unwrap());
        let requests = vec![
            Request::Page {
                filter: Arc::clone(&filter),
                offset: 0,
                limit: 100,
            },
            Request::Page {
                filter: Arc::clone(&filter),
                offset: 100,
                limit: 100,
            },
            Request::EstimateCount(Arc::clone(&filter)),
            Request::CappedCount {
                filter: Arc::clone(&filter),
                cap: 100_000,
            },
            Request::ExactCount(Arc::clone(&filter)),
            Request::Facets(Arc::clone(&filter)),
            Request::Details(1),
        ];
        let n = requests.len();
        for request in requests {
            workers.submit(Topic::Browse, 1, Priority::Urgent, request);
        }
        for _ in 0..n {
            let reply = workers
                .replies()
                .recv_timeout(Duration::from_secs(20))
                .unwrap();
            assert!(
                reply.result.is_ok(),
                "{} through pgbouncer: {:?}",
                reply.kind.label(),
                reply.result
            );
        }
        let mut out = Vec::new();
        let exported = MoviesRepository::new(pool.clone())
            .export_csv(&filter, &mut out, &mut |_| {})
            .unwrap();
        let expected: i64 = db
            .client()
            .query_one(
                "SELECT count(*) FROM movies WHERE genres @> '{Drama}' AND year >= 1980",
                &[],
            )
            .unwrap()
            .get(0);
        assert_eq!(exported as i64, expected);
        (pool, workers)
    }
}

impl Drop for Bouncer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

#[test]
fn browsing_filtering_details_and_export_work_through_pgbouncer_in_transaction_mode() {
    let db = TestDb::seeded(&SampleSpec {
        movies: 2_000,
        ratings: 20_000,
        seed: 5,
    });
    let Some(bouncer) = Bouncer::start(
        &db.params,
        "browsing, filtering, details and export through PgBouncer",
        Some("options,extra_float_digits"),
    ) else {
        return;
    };
    let (pool, workers) = bouncer.serves_browsing_and_export(&db);
    workers.shutdown(Duration::from_secs(5));
    drop(pool);
    drop(bouncer);
}

#[test]
fn a_runaway_query_behind_pgbouncer_ends_at_the_timeout_set_on_the_role() {
    let db = TestDb::migrated();
    // PgBouncer drops the startup `options` that carry the pool's statement_timeout, so the README
    // puts the timeout on the role; here on the role within this test's database only.
    db.client()
        .batch_execute(&format!(
            "ALTER ROLE {} IN DATABASE {} SET statement_timeout = '1s'",
            db.params.user, db.name
        ))
        .unwrap();
    let Some(bouncer) = Bouncer::start(
        &db.params,
        "statement_timeout behind PgBouncer",
        Some("options,extra_float_digits"),
    ) else {
        return;
    };
    let params = bouncer.params();
    let pool = DatabasePool::new(
        &params,
        &PoolSettings {
            // Would be ten minutes, if PgBouncer let it through.
            statement_timeout_ms: 600_000,
            ..settings(1, 2)
        },
    )
    .unwrap();
    let mut conn = pool
        .get("test.runaway")
        .expect("a connection through pgbouncer");
    let timeout: String = conn
        .query_typed_one("SHOW statement_timeout", &[])
        .unwrap()
        .get(0);
    assert_eq!(timeout, "1s", "the role's setting applies behind pgbouncer");
    // Only the timeout can end this within the test's life.
    let err = conn
        .query_typed("SELECT pg_sleep(600)", &[])
        .map(|_| ())
        .unwrap_err();
    let err = marquee::db::error::DbError::from_postgres(&err, pool.target());
    assert_eq!(err.kind, DbErrorKind::StatementTimeout, "{err}");
    assert!(err.message.contains("statement timeout"), "{err}");
    drop(conn);
    drop(pool);
    drop(bouncer);
}

/// PgBouncer as it comes refuses the startup `options` that carry the statement timeout, and
/// Marquee sends no cancel through it: each read then runs in a transaction that sets the pool's
/// timeout itself, so a runaway read still ends at the timeout, with the usual message.
#[test]
fn a_runaway_read_behind_pgbouncer_as_it_comes_ends_at_the_pools_own_timeout() {
    let db = TestDb::migrated();
    let Some(bouncer) = Bouncer::start(&db.params, "the pool's timeout behind PgBouncer", None)
    else {
        return;
    };
    let pool = DatabasePool::new(
        &bouncer.params(),
        &PoolSettings {
            statement_timeout_ms: 1_000,
            ..settings(1, 2)
        },
    )
    .unwrap();
    let repo = marquee::repo::Repo::new(pool.clone());
    let shown: String = repo
        .read("test.show", |c| {
            Ok(c.query_typed_one("SHOW statement_timeout", &[])?.get(0))
        })
        .unwrap();
    assert!(pool.is_behind_pooler());
    assert_eq!(shown, "1s", "each read carries the pool's timeout");
    // Only the timeout can end this within the test's life.
    let err = repo
        .read("test.runaway", |c| {
            c.query_typed("SELECT pg_sleep(600)", &[]).map(|_| ())
        })
        .unwrap_err();
    assert_eq!(err.kind, DbErrorKind::StatementTimeout, "{err}");
    // The transaction was rolled back: the connection serves the next read, and outside a read
    // the server session has no timeout of Marquee's left on it.
    let one: i32 = repo
        .read("test.after", |c| {
            Ok(c.query_typed_one("SELECT 1", &[])?.get(0))
        })
        .unwrap();
    assert_eq!(one, 1);
    let mut conn = pool.get("test.outside").unwrap();
    let outside: String = conn
        .query_typed_one("SHOW statement_timeout", &[])
        .unwrap()
        .get(0);
    assert_eq!(outside, "0");
    drop(conn);
    drop(pool);
    drop(bouncer);
}

/// A query superseded while it runs, and then the next request: PgBouncer 1.18 crashes on the
/// cancel request rust-postgres sends (it closes its socket straight after writing), which
/// dropped every client. Behind a pooler Marquee sends none: the old query runs to its end, its
/// answer is dropped, and the pooler stays up to answer the next request.
fn superseding_a_running_query_leaves_the_pooler_up(pool: &DatabasePool, workers: &Workers) {
    workers.submit(
        Topic::Browse,
        10,
        Priority::Urgent,
        Request::Sleep(Duration::from_secs(2)),
    );
    let started = Instant::now();
    // Checked out for the job: from here a cancel would be sent for it.
    while !pool.snapshot().connections.iter().any(|c| {
        matches!(&c.state, marquee::db::pool::ConnectionState::InUse { label, .. } if label == "drill.sleep")
    }) {
        assert!(started.elapsed() < PATIENCE, "the sleep never started");
        std::thread::yield_now();
    }
    workers.supersede(Topic::Browse, 11);
    workers.submit(Topic::Browse, 11, Priority::Urgent, Request::Details(1));
    let reply = workers
        .replies()
        .recv_timeout(Duration::from_secs(30))
        .expect("an answer after superseding");
    assert_eq!(reply.generation, 11, "the superseded answer is dropped");
    assert!(
        reply.result.is_ok(),
        "the pooler is still up: {:?}",
        reply.result
    );
}

/// PgBouncer as it comes: transaction mode and no `ignore_startup_parameters`, so it refuses the
/// startup `options` that carry the statement timeout. Marquee connects again without them at
/// once (it used to fail every command after the 5 s checkout deadline), and everything works.
#[test]
fn pgbouncer_as_it_comes_serves_everything_and_survives_a_superseded_query() {
    let db = TestDb::seeded(&SampleSpec {
        movies: 2_000,
        ratings: 20_000,
        seed: 5,
    });
    let Some(bouncer) = Bouncer::start(&db.params, "PgBouncer with its stock settings", None)
    else {
        return;
    };
    let (pool, workers) = bouncer.serves_browsing_and_export(&db);
    // The timeout sent at connect did not reach the server, so Marquee knows a pooler is there.
    let mut conn = pool.get("test.show").unwrap();
    let server_timeout: String = conn
        .query_typed_one("SHOW statement_timeout", &[])
        .unwrap()
        .get(0);
    assert_eq!(
        server_timeout, "0",
        "the startup options did not reach the server"
    );
    drop(conn);
    assert!(pool.is_behind_pooler());
    superseding_a_running_query_leaves_the_pooler_up(&pool, &workers);
    workers.shutdown(Duration::from_secs(5));
    drop(pool);
    drop(bouncer);
}

/// PgBouncer told to drop the startup `options` (the README's setting): the statement timeout
/// Marquee asks for never reaches the server, which is how Marquee knows the pooler is there,
/// and a superseded query no longer crashes it.
#[test]
fn a_superseded_query_behind_pgbouncer_ignoring_options_leaves_it_up() {
    let db = TestDb::seeded(&SampleSpec {
        movies: 200,
        ratings: 1_000,
        seed: 5,
    });
    let Some(bouncer) = Bouncer::start(
        &db.params,
        "superseding through PgBouncer",
        Some("options,extra_float_digits"),
    ) else {
        return;
    };
    let params = bouncer.params();
    let pool = DatabasePool::new(&params, &settings(1, 3)).unwrap();
    drop(pool.get("test.first").unwrap());
    assert!(pool.is_behind_pooler());
    let workers = Workers::start(pool.clone(), 3, Box::new(|| {}));
    superseding_a_running_query_leaves_the_pooler_up(&pool, &workers);
    workers.shutdown(Duration::from_secs(5));
    drop(pool);
    drop(bouncer);
}

/// The port of the server a pool connection of `params` ends on.
fn landed_on(params: &ConnectParams) -> u16 {
    let server = Server {
        params: params.clone(),
        cluster: None,
    };
    let settings = Settings {
        server: ServerChoice::External(params.clone()),
        pool: settings(1, 2),
        source: Default::default(),
    };
    let pool = db::open_pool(&server, &settings).expect("open the pool on the host list");
    let port: String = pool
        .get("test")
        .unwrap()
        .query_one("SHOW port", &[])
        .unwrap()
        .get(0);
    // The pool browses there too.
    let movies = MoviesRepository::new(pool.clone());
    assert_eq!(movies.page(&Filter::default(), 0, 5).unwrap().len(), 5);
    pool.close();
    port.parse().unwrap()
}

#[test]
fn a_host_list_ends_on_the_session_target_session_attrs_asks_for() {
    use marquee::config::{HostPort, SessionAttrs};
    // Two servers with the same database; on the first every session is read-only, as on a
    // standby (a real primary and standby pair is what `pg_basebackup -R` would give).
    let standby = Scratch::new("multihost-standby");
    let primary = Scratch::new("multihost-primary");
    standby
        .admin()
        .batch_execute("ALTER DATABASE marquee SET default_transaction_read_only = on")
        .unwrap();
    let list = |attrs: SessionAttrs| ConnectParams {
        more_hosts: vec![HostPort {
            host: primary.socket_params().host,
            port: primary.cluster.port(),
        }],
        target_session_attrs: attrs,
        ..standby.socket_params()
    };
    assert_eq!(
        landed_on(&list(SessionAttrs::ReadWrite)),
        primary.cluster.port()
    );
    assert_eq!(
        landed_on(&list(SessionAttrs::ReadOnly)),
        standby.cluster.port()
    );
    assert_eq!(landed_on(&list(SessionAttrs::Any)), standby.cluster.port());

    // A first host that does not answer is passed over.
    let dead_first = ConnectParams {
        host: common::scratch_dir("multihost-nobody")
            .display()
            .to_string(),
        more_hosts: vec![HostPort {
            host: primary.socket_params().host,
            port: primary.cluster.port(),
        }],
        ..standby.socket_params()
    };
    assert_eq!(landed_on(&dead_first), primary.cluster.port());

    // Random order reaches both servers (20 connections: all on one has odds of 2 in a million).
    let mut balanced = list(SessionAttrs::Any);
    balanced.load_balance_hosts = true;
    let mut seen = std::collections::BTreeSet::new();
    for _ in 0..20 {
        let mut client = db::connect_once(&balanced).unwrap();
        let port: String = client.query_one("SHOW port", &[]).unwrap().get(0);
        seen.insert(port);
    }
    assert_eq!(
        seen.len(),
        2,
        "load_balance_hosts=random uses both: {seen:?}"
    );

    // The URL form, through the CLI; no host that accepts writes is one clear message.
    let url = list(SessionAttrs::ReadWrite).to_url();
    assert!(url.contains("target_session_attrs=read-write"), "{url}");
    let out = common::marquee_cli()
        .args([
            "--url", &url, "movies", "--filter", "sort:id", "--format", "csv",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let only_standby = ConnectParams {
        target_session_attrs: SessionAttrs::ReadWrite,
        ..standby.socket_params()
    };
    let out = common::marquee_cli()
        .args(["--url", &only_standby.to_url(), "movies"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("accepts writes") && err.contains("target_session_attrs=read-write"),
        "{err}"
    );
    assert!(!err.contains("panicked"), "{err}");
}
