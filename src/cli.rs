//! The command line: the window by default, and the same database paths for scripts
//! (`db`, `seed`, `import`, …). Every command that touches data resolves settings the same way
//! and migrates the schema first.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use clap::{Args, Parser, Subcommand};

use crate::config::{self, ConfigLayer, Secret, Settings};
use crate::db::cluster::{ClusterStatus, PrivateCluster};
use crate::db::{self, Server};
use crate::filter::Filter;
use crate::import::load::{self, LoadReport};
use crate::import::movielens::MovieLensDir;
use crate::import::sample::SampleSpec;
use crate::plural;
use crate::progress::with_progress_bar;
use crate::repo::movies::{MovieRow, MoviesRepository};

/// Marquee: a desktop browser for PostgreSQL movie databases.
#[derive(Debug, Parser)]
#[command(name = "marquee", version, about, long_about = None)]
pub struct Cli {
    /// Where the database is.
    #[command(flatten)]
    pub connection: ConnectionArgs,
    /// What to do; the window when absent.
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// Where the database is; each flag beats its environment variable and the config file.
#[derive(Debug, Args, Clone, Default)]
pub struct ConnectionArgs {
    /// Server URL, e.g. postgresql://user@host:5432/db?sslmode=require (env DATABASE_URL).
    #[arg(long, global = true)]
    pub url: Option<String>,
    /// Server host or socket directory (env PGHOST).
    #[arg(long, global = true)]
    pub host: Option<String>,
    /// Server port (env PGPORT).
    #[arg(long, global = true)]
    pub port: Option<String>,
    /// Database name (env PGDATABASE).
    #[arg(long, global = true)]
    pub dbname: Option<String>,
    /// Role name (env PGUSER). The password comes from PGPASSWORD or the config file, never a flag.
    #[arg(long, global = true)]
    pub user: Option<String>,
    /// disable, prefer, require, verify-ca or verify-full (env PGSSLMODE).
    #[arg(long, global = true)]
    pub sslmode: Option<String>,
    /// CA certificate for verify-ca / verify-full (env PGSSLROOTCERT).
    #[arg(long, global = true)]
    pub sslrootcert: Option<PathBuf>,
    /// Pool minimum idle connections (env MARQUEE_POOL_MIN, default 2).
    #[arg(long, global = true)]
    pub pool_min: Option<String>,
    /// Pool maximum connections (env MARQUEE_POOL_MAX, default 10).
    #[arg(long, global = true)]
    pub pool_max: Option<String>,
    /// Folder of the private cluster (env MARQUEE_DATA_DIR).
    #[arg(long, global = true)]
    pub data_dir: Option<PathBuf>,
    /// Use the private cluster even if the environment names a server.
    #[arg(long, global = true)]
    pub private: bool,
    /// Config file (default $XDG_CONFIG_HOME/marquee/config.toml).
    #[arg(long, global = true)]
    pub config: Option<PathBuf>,
}

impl ConnectionArgs {
    fn layer(&self) -> ConfigLayer {
        ConfigLayer {
            url: self.url.clone(),
            host: self.host.clone(),
            port: self.port.clone(),
            dbname: self.dbname.clone(),
            user: self.user.clone(),
            password: None::<Secret>,
            sslmode: self.sslmode.clone(),
            sslrootcert: self.sslrootcert.clone(),
            pool_min: self.pool_min.clone(),
            pool_max: self.pool_max.clone(),
            data_dir: self.data_dir.clone(),
            private: self.private.then_some(true),
            ..ConfigLayer::default()
        }
    }

    /// Resolves flags > environment > config file > defaults.
    pub fn settings(&self) -> anyhow::Result<Settings> {
        let env = ConfigLayer::from_env(|key| std::env::var(key).ok());
        let file_path = self.config.clone().or_else(config::default_config_file);
        let file = match &file_path {
            Some(path) => ConfigLayer::from_file(path)?,
            None => ConfigLayer::default(),
        };
        Ok(Settings::resolve(
            &self.layer(),
            &env,
            &file,
            &config::default_data_dir(),
        )?)
    }
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Manage the private PostgreSQL cluster.
    Db {
        /// The action.
        #[command(subcommand)]
        action: DbAction,
    },
    /// Replace the collection with a generated sample.
    Seed {
        /// Number of movies.
        #[arg(long, default_value_t = crate::import::sample::DEFAULT_MOVIES)]
        movies: u32,
        /// Number of ratings.
        #[arg(long, default_value_t = crate::import::sample::DEFAULT_RATINGS)]
        ratings: u64,
        /// Generator seed (same seed, same collection).
        #[arg(long, default_value_t = 1)]
        seed: u64,
    },
    /// Print the movies matching a filter.
    Movies {
        /// Filter text, e.g. 'title:"star wars" genre:Sci-Fi year:1977..1983 rating:>=4 sort:-rating'.
        #[arg(long, short, default_value = "")]
        filter: String,
        /// At most this many rows.
        #[arg(long, default_value_t = 50)]
        limit: u32,
        /// Rows to skip first.
        #[arg(long, default_value_t = 0)]
        offset: u64,
        /// Output format.
        #[arg(long, value_enum, default_value_t = OutputFormat::Table)]
        format: OutputFormat,
    },
    /// Write every movie matching a filter to a CSV file (streamed, constant memory).
    Export {
        /// Filter text (same language as `movies --filter` and the window's filter field).
        #[arg(long, short, default_value = "")]
        filter: String,
        /// The CSV file to write (`-` for standard output).
        file: PathBuf,
    },
    /// Print the pool's live state (counters, wait/hold percentiles, connections, server view).
    PoolStats {
        /// One JSON object per report.
        #[arg(long)]
        json: bool,
        /// Keep printing a report every --interval-ms.
        #[arg(long)]
        watch: bool,
        /// Milliseconds between reports with --watch.
        #[arg(long, default_value_t = 1_000)]
        interval_ms: u64,
        /// Stop after this many reports (with --watch).
        #[arg(long)]
        count: Option<u32>,
        /// First fire this many concurrent queries for --stress-secs, to watch the pool saturate.
        #[arg(long)]
        stress: Option<u32>,
        /// How long the stress drill runs.
        #[arg(long, default_value_t = 3)]
        stress_secs: u64,
    },
    /// Import a dataset.
    Import {
        /// The source format.
        #[command(subcommand)]
        source: ImportSource,
    },
    /// Measure: load-all, checkout, filter, scroll, frame, startup (see BENCHMARKS.md).
    Bench(crate::bench::BenchArgs),
}

/// How `marquee movies` prints.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum OutputFormat {
    /// Aligned columns for people.
    Table,
    /// CSV with a header row.
    Csv,
    /// One JSON object per line.
    Json,
}

/// `marquee db …`
#[derive(Debug, Subcommand)]
pub enum DbAction {
    /// Initialise (first use), start, migrate and seed the private cluster, and leave it running.
    Start,
    /// Stop the private cluster.
    Stop,
    /// Say whether the private cluster is running.
    Status,
    /// Print a libpq URL for psql (no password needed: the private socket is used).
    Url,
    /// Apply schema migrations to the configured server.
    Migrate,
}

/// `marquee import …`
#[derive(Debug, Subcommand)]
pub enum ImportSource {
    /// A MovieLens folder (movies.csv; optional ratings.csv, tags.csv, links.csv).
    Movielens {
        /// The folder.
        dir: PathBuf,
    },
}

/// Runs a subcommand. The window is started by `main` when there is none.
pub fn run(connection: &ConnectionArgs, command: Command) -> anyhow::Result<()> {
    let settings = connection.settings()?;
    match command {
        Command::Db { action } => db_command(&settings, action),
        Command::Seed {
            movies,
            ratings,
            seed,
        } => with_database(&settings, |_, pool| {
            let spec = SampleSpec {
                movies,
                ratings,
                seed,
            };
            let mut conn = pool.get("seed")?;
            let report = with_progress_bar(|progress| {
                load::load_sample(&mut conn, pool.target(), &spec, progress)
            })?;
            print_report(&report);
            Ok(())
        }),
        Command::Movies {
            filter,
            limit,
            offset,
            format,
        } => {
            let filter = parse_filter(&filter)?;
            with_database(&settings, |_, pool| {
                let movies = MoviesRepository::new(pool.clone()).page(&filter, offset, limit)?;
                let stdout = std::io::stdout();
                print_movies(&movies, format, &mut stdout.lock())?;
                Ok(())
            })
        }
        Command::Export { filter, file } => {
            let filter = parse_filter(&filter)?;
            with_database(&settings, |_, pool| export(pool, &filter, &file))
        }
        Command::PoolStats {
            json,
            watch,
            interval_ms,
            count,
            stress,
            stress_secs,
        } => {
            let options = crate::pool_stats::report::PoolStatsOptions {
                json,
                watch,
                interval: std::time::Duration::from_millis(interval_ms.max(50)),
                stress,
                stress_duration: std::time::Duration::from_secs(stress_secs),
                max_reports: count,
                server_view: true,
            };
            with_database(&settings, |_, pool| {
                let stdout = std::io::stdout();
                crate::pool_stats::report::pool_stats_command(pool, &options, &mut stdout.lock())
            })
        }
        Command::Import {
            source: ImportSource::Movielens { dir },
        } => with_database(&settings, |_, pool| {
            let folder = MovieLensDir::open(&dir)?;
            let mut conn = pool.get("import")?;
            let report = with_progress_bar(|progress| {
                load::load_movielens(&mut conn, pool.target(), &folder, progress)
            })?;
            print_report(&report);
            Ok(())
        }),
        Command::Bench(args) => crate::bench::run(&settings, &args),
    }
}

/// Parses filter text, or explains what is wrong with which token.
pub fn parse_filter(text: &str) -> anyhow::Result<Filter> {
    Filter::parse(text).map_err(|err| anyhow::anyhow!("bad filter: {err}"))
}

/// Prints movies as a table, CSV or JSON lines.
pub fn print_movies(
    movies: &[MovieRow],
    format: OutputFormat,
    out: &mut dyn Write,
) -> anyhow::Result<()> {
    match format {
        OutputFormat::Table => {
            let title_width = movies
                .iter()
                .map(|m| m.title.chars().count())
                .max()
                .unwrap_or(5)
                .clamp(5, 60);
            writeln!(
                out,
                "{:>7}  {:<title_width$}  {:>4}  {:<30}  {:>6}  {:>7}",
                "id", "title", "year", "genres", "rating", "votes"
            )?;
            for m in movies {
                let title: String = if m.title.chars().count() > title_width {
                    m.title
                        .chars()
                        .take(title_width - 1)
                        .chain(std::iter::once('…'))
                        .collect()
                } else {
                    m.title.clone()
                };
                let pad = title_width.saturating_sub(title.chars().count());
                writeln!(
                    out,
                    "{:>7}  {title}{:pad$}  {:>4}  {:<30}  {:>6}  {:>7}",
                    m.id,
                    "",
                    m.year.map(|y| y.to_string()).unwrap_or_default(),
                    m.genres.join("|"),
                    m.rating_avg.map(|r| format!("{r:.2}")).unwrap_or_default(),
                    m.rating_count,
                )?;
            }
        }
        OutputFormat::Csv => {
            let mut writer = csv::Writer::from_writer(out);
            writer.write_record([
                "id",
                "title",
                "year",
                "genres",
                "rating_avg",
                "rating_count",
            ])?;
            for m in movies {
                writer.write_record([
                    m.id.to_string(),
                    m.title.clone(),
                    m.year.map(|y| y.to_string()).unwrap_or_default(),
                    m.genres.join("|"),
                    m.rating_avg.map(|r| format!("{r:.3}")).unwrap_or_default(),
                    m.rating_count.to_string(),
                ])?;
            }
            writer.flush()?;
        }
        OutputFormat::Json => {
            for m in movies {
                serde_json::to_writer(&mut *out, m)?;
                writeln!(out)?;
            }
        }
    }
    Ok(())
}

/// Streams the filtered movies to `file` (or stdout for `-`), with a progress bar. On failure a
/// partially written file is removed, so an export is either whole or absent.
fn export(pool: &db::pool::DatabasePool, filter: &Filter, file: &Path) -> anyhow::Result<()> {
    let movies = MoviesRepository::new(pool.clone());
    if file == Path::new("-") {
        let stdout = std::io::stdout();
        movies.export_csv(filter, &mut stdout.lock(), &mut |_| {})?;
        return Ok(());
    }
    let partial = file.with_extension("csv.partial");
    let out = std::fs::File::create(&partial)
        .with_context(|| format!("cannot create {}", partial.display()))?;
    let mut out = std::io::BufWriter::new(out);
    let bar = indicatif::ProgressBar::new_spinner();
    bar.set_message("exporting");
    let result = movies.export_csv(filter, &mut out, &mut |n| bar.set_position(n));
    bar.finish_and_clear();
    let result = result.map_err(anyhow::Error::from).and_then(|n| {
        out.flush()?;
        drop(out);
        std::fs::rename(&partial, file)
            .with_context(|| format!("cannot write {}", file.display()))?;
        Ok(n)
    });
    match result {
        Ok(n) => {
            eprintln!(
                "Exported {} to {}",
                plural::count(n, "movie", "movies"),
                file.display()
            );
            Ok(())
        }
        Err(err) => {
            let _ = std::fs::remove_file(&partial);
            Err(err)
        }
    }
}

fn print_report(report: &LoadReport) {
    println!(
        "Loaded {}, {}, {} ({}) in {:.1} s",
        plural::count(report.movies, "movie", "movies"),
        plural::count(report.ratings, "rating", "ratings"),
        plural::count(report.tags, "tag", "tags"),
        plural::count(report.links, "link", "links"),
        report.elapsed_ms as f64 / 1000.0
    );
}

/// Starts the server (private cluster if none configured), opens the pool, migrates, runs `f`,
/// then closes the pool and stops a cluster this process started.
pub fn with_database<T>(
    settings: &Settings,
    f: impl FnOnce(&Server, &db::pool::DatabasePool) -> anyhow::Result<T>,
) -> anyhow::Result<T> {
    let server = Server::start(settings)?;
    let result = db::open_pool(&server, settings)
        .map_err(anyhow::Error::from)
        .and_then(|pool| {
            let result = f(&server, &pool);
            pool.close();
            drop(pool);
            result
        });
    server.shutdown();
    result
}

fn db_command(settings: &Settings, action: DbAction) -> anyhow::Result<()> {
    let private_dir = match &settings.server {
        config::ServerChoice::Private { data_dir } => Some(data_dir.clone()),
        config::ServerChoice::External(_) => None,
    };
    match action {
        DbAction::Start => {
            let data_dir = private_dir.context(
                "`db start` manages the private cluster, but a server is configured (DATABASE_URL/PGHOST/--host); use --private",
            )?;
            let server = Server::start(settings)?;
            let pool = db::open_pool(&server, settings)?;
            let mut conn = pool.get("db.start")?;
            let seeded = with_progress_bar(|progress| {
                load::seed_if_empty(&mut conn, pool.target(), progress)
            })?;
            if let Some(report) = &seeded.report {
                print_report(report);
            }
            drop(conn);
            pool.close();
            println!("Private PostgreSQL is running in {}", data_dir.display());
            println!("{}", server.params.to_url());
            // Deliberately not shut down: `db start` leaves the server for other commands.
            Ok(())
        }
        DbAction::Stop => {
            let data_dir =
                private_dir.context("`db stop` manages the private cluster; use --private")?;
            if PrivateCluster::stop_folder(&data_dir)? {
                println!("Stopped the private PostgreSQL in {}", data_dir.display());
            } else {
                println!(
                    "The private PostgreSQL in {} was not running",
                    data_dir.display()
                );
            }
            Ok(())
        }
        DbAction::Status => {
            let data_dir =
                private_dir.context("`db status` reports on the private cluster; use --private")?;
            match PrivateCluster::status_of(&data_dir)? {
                ClusterStatus::NotInitialized => {
                    println!("not initialized ({})", data_dir.display())
                }
                ClusterStatus::Stopped => println!("stopped ({})", data_dir.display()),
                ClusterStatus::Running { pid, port } => {
                    println!("running (pid {pid}, port {port}) in {}", data_dir.display());
                }
            }
            Ok(())
        }
        DbAction::Url => {
            let data_dir =
                private_dir.context("`db url` prints the private cluster's URL; use --private")?;
            let cluster = PrivateCluster::ensure_running(&data_dir)?;
            println!("{}", cluster.connect_params().to_url());
            Ok(())
        }
        DbAction::Migrate => with_database(settings, |_, pool| {
            let mut conn = pool.get("db.migrate")?;
            let version = db::schema::current_version(&mut *conn)?;
            println!("Schema is at version {version} on {}", pool.target());
            Ok(())
        }),
    }
}

/// Opens the window (the default when no subcommand is given).
pub fn run_window(connection: &ConnectionArgs) -> anyhow::Result<()> {
    let settings = connection.settings()?;
    crate::ui::window::run(settings)
}
