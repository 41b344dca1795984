//! Marquee: a native desktop browser for PostgreSQL movie databases.
//!
//! The crate is a library with a thin binary (`main.rs`) so that integration tests and benchmarks
//! drive the same code the window does:
//!
//! - [`config`]: settings from flags > environment > config file > defaults;
//! - [`db`]: the private cluster, the one shared pool, the schema (no egui here);
//! - [`import`]: the generated sample collection and MovieLens CSV import.

pub mod bench;
pub mod browse;
pub mod cli;
pub mod completion;
pub mod config;
pub mod connection;
pub mod db;
pub mod estimate;
pub mod export;
pub mod filter;
pub mod import;
pub mod local_copy;
pub mod logging;
pub mod pgpass;
pub mod plural;
pub mod pool_stats;
pub mod progress;
pub mod repo;
pub mod summary;
pub mod ui;
pub mod views;
pub mod worker;
