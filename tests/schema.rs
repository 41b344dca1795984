//! Schema migrations against a real server: idempotent, and a newer schema is refused.

mod common;

use common::TestDb;
use marquee::db::error::DbErrorKind;
use marquee::db::schema;

#[test]
fn migrating_twice_changes_nothing_the_second_time() {
    let db = TestDb::empty();
    let mut client = db.client();
    let first = schema::migrate(&mut client, &db.name).unwrap();
    assert_eq!(
        (first.from_version, first.to_version),
        (0, schema::latest_version())
    );
    client
        .batch_execute("INSERT INTO movies (id, title) VALUES (1, 'Kept (2001)')")
        .unwrap();
    let second = schema::migrate(&mut client, &db.name).unwrap();
    assert_eq!(second.from_version, second.to_version);
    let count: i64 = client
        .query_one("SELECT count(*) FROM movies", &[])
        .unwrap()
        .get(0);
    assert_eq!(count, 1, "a second migration must not touch data");
    let applied: i64 = client
        .query_one("SELECT count(*) FROM marquee_schema", &[])
        .unwrap()
        .get(0);
    assert_eq!(applied, schema::MIGRATIONS.len() as i64);
}

#[test]
fn concurrent_migrations_queue_instead_of_colliding() {
    let db = TestDb::empty();
    let handles: Vec<_> = (0..4)
        .map(|_| {
            let params = db.params.clone();
            let name = db.name.clone();
            std::thread::spawn(move || {
                let mut client = marquee::db::connect_once(&params).unwrap();
                schema::migrate(&mut client, &name).map(|r| r.to_version)
            })
        })
        .collect();
    for handle in handles {
        assert_eq!(handle.join().unwrap().unwrap(), schema::latest_version());
    }
}

#[test]
fn a_database_from_a_newer_marquee_is_refused_untouched() {
    let db = TestDb::migrated();
    let mut client = db.client();
    client
        .batch_execute("INSERT INTO marquee_schema (version, name) VALUES (999, 'future')")
        .unwrap();
    let err = schema::migrate(&mut client, &db.name).unwrap_err();
    assert_eq!(err.kind, DbErrorKind::Schema);
    assert!(err.message.contains("schema version 999"), "{err}");
    assert!(err.message.contains("upgrade Marquee"), "{err}");
}

#[test]
fn accent_and_case_folding_is_available_to_queries() {
    let db = TestDb::migrated();
    let mut client = db.client();
    let folded: String = client
        .query_one("SELECT marquee_fold('Amélie À LA Carte')", &[])
        .unwrap()
        .get(0);
    assert_eq!(folded, "amelie a la carte");
}
