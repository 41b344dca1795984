//! The command line: the window by default, and the same database paths for scripts
//! (`db`, `seed`, `import`, …). Every command that touches data resolves settings the same way.
//! Reading commands (`movies`, `export`, `pool-stats`) only read, whatever the database holds;
//! the commands that write (`seed`, `import`, `db migrate`) say where before they write.

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
use crate::views::ViewStore;

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
    /// Read replicas for browsing: hosts (r1:5432,r2) or a URL (env MARQUEE_REPLICAS).
    #[arg(long, global = true)]
    pub replicas: Option<String>,
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
    /// Read MovieLens tables (or the `[source]` mapping) in this schema instead of the search_path.
    #[arg(long, global = true)]
    pub schema: Option<String>,
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
            replicas: self.replicas.clone(),
            pool_min: self.pool_min.clone(),
            pool_max: self.pool_max.clone(),
            data_dir: self.data_dir.clone(),
            private: self.private.then_some(true),
            ..ConfigLayer::default()
        }
    }

    /// Resolves flags > environment > config file > defaults.
    pub fn settings(&self) -> anyhow::Result<Settings> {
        self.settings_explained().map(|(settings, _)| settings)
    }

    /// [`Self::settings`], and where each connection setting came from.
    pub fn settings_explained(&self) -> anyhow::Result<(Settings, config::Provenance)> {
        let env = ConfigLayer::from_env(|key| std::env::var(key).ok());
        let file_path = self.config.clone().or_else(config::default_config_file);
        let file = match &file_path {
            Some(path) => ConfigLayer::from_file(path)?,
            None => ConfigLayer::default(),
        };
        let (mut settings, provenance) =
            Settings::resolve_explained(&self.layer(), &env, &file, &config::default_data_dir())?;
        if let Some(schema) = &self.schema {
            settings.source.schema = Some(schema.clone());
        }
        Ok((settings, provenance))
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
        #[arg(long, short, default_value = "", conflicts_with = "view")]
        filter: String,
        /// Use the filter of this saved view (see `marquee views list`).
        #[arg(long)]
        view: Option<String>,
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
    /// Group the movies matching a filter and measure each group, on the server.
    ///
    /// Each CSV/JSON row ends with the filter text that shows exactly that group's movies.
    Summarize {
        /// One or two dimensions (two make a pivot): genre, year, decade, rating, votes, tag
        /// [default: genre, or the view's summary].
        #[arg(long)]
        by: Option<String>,
        /// Measures: movies, ratings, avg (per rating), mean-avg (mean of movie averages),
        /// median (of movie averages), first-year, last-year [default: movies,ratings,avg].
        #[arg(long)]
        measure: Option<String>,
        /// Filter text (same language as `movies --filter`).
        #[arg(long, short, default_value = "", conflicts_with = "view")]
        filter: String,
        /// Use the filter (and summary settings) of this saved view.
        #[arg(long)]
        view: Option<String>,
        /// Tags kept when grouping by tag: the most used [default: 20].
        #[arg(long)]
        top: Option<u32>,
        /// Put the groups beside the same groups of other movies: `rest` (what the filter leaves
        /// out) or filter text. Adds `<measure>_compared` columns.
        #[arg(long, conflicts_with = "compare_view")]
        compare: Option<String>,
        /// Compare with the movies of this saved view.
        #[arg(long)]
        compare_view: Option<String>,
        /// Estimate from a sample of about 20,000 movies, as the window's first answer does:
        /// fast on a large collection, every value marked `≈` (JSON: `"approximate": true`,
        /// CSV: an `approximate` column). Data read in place, and a collection under 40,000
        /// movies, are summarized exactly.
        #[arg(long)]
        sample: bool,
        /// Output format.
        #[arg(long, value_enum, default_value_t = OutputFormat::Table)]
        format: OutputFormat,
    },
    /// Write every movie matching a filter to a CSV file (streamed, constant memory).
    Export {
        /// Filter text (same language as `movies --filter` and the window's filter field).
        #[arg(long, short, default_value = "", conflicts_with = "view")]
        filter: String,
        /// Use the filter of this saved view (see `marquee views list`).
        #[arg(long)]
        view: Option<String>,
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
    /// The window's saved views (`views.toml` beside the config file).
    Views {
        /// The action.
        #[command(subcommand)]
        action: ViewsAction,
    },
    /// Import a dataset.
    Import {
        /// The source format.
        #[command(subcommand)]
        source: ImportSource,
    },
    /// Measure: load-all, checkout, filter, scroll, frame, startup, export, summarize, in-place
    /// (see BENCHMARKS.md).
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

/// `marquee views …`
#[derive(Debug, Subcommand)]
pub enum ViewsAction {
    /// Every saved view: name and filter.
    List,
    /// One view as it is stored.
    Show {
        /// The view's name.
        name: String,
    },
    /// Delete a view.
    Delete {
        /// The view's name.
        name: String,
    },
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
    /// Another PostgreSQL database (Marquee's schema, MovieLens tables, or the `[source]`
    /// mapping; `--schema` names where), copied into Marquee's own indexed store: the private
    /// server, or the server --url/PGHOST names. The source is only read.
    Postgres {
        /// The source, e.g. postgresql://reader@db.example/movielens (password from the URL).
        source_url: String,
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
        } => with_database_for_writing(&settings, "seed", |_, pool| {
            let spec = SampleSpec {
                movies,
                ratings,
                seed,
            };
            let mut conn = pool.get_for_writing("seed")?;
            let report = with_progress_bar(|progress| {
                load::load_sample(&mut conn, pool.target(), &spec, progress)
            })?;
            print_report(&report);
            Ok(())
        }),
        Command::Movies {
            filter,
            view,
            limit,
            offset,
            format,
        } => {
            let filter = filter_or_view(connection, &filter, view.as_deref())?;
            with_database(&settings, |_, pool| {
                let movies = MoviesRepository::new(pool.clone()).page(&filter, offset, limit)?;
                let stdout = std::io::stdout();
                print_movies(&movies, format, &mut stdout.lock())?;
                Ok(())
            })
        }
        Command::Summarize {
            by,
            measure,
            filter,
            view,
            top,
            compare,
            compare_view,
            sample,
            format,
        } => {
            let (filter, saved) = match view.as_deref() {
                Some(name) => {
                    let view = view_store(connection).get(name)?;
                    (view.parsed_filter()?, view.summary)
                }
                None => (parse_filter(&filter)?, None),
            };
            let spec =
                saved
                    .unwrap_or_default()
                    .overridden(by.as_deref(), measure.as_deref(), top)?;
            let compare = match (compare, compare_view) {
                (Some(text), _) => Some(crate::summary::Compare::parse(&text)?),
                (None, Some(name)) => {
                    let other = view_store(connection).get(&name)?;
                    Some(crate::summary::Compare::Filter {
                        name: other.name,
                        filter: other.filter,
                    })
                }
                (None, None) => spec.compare.clone(),
            };
            let spec = spec.compared_with(compare)?;
            with_database(&settings, |_, pool| {
                let repo = crate::repo::summary::SummaryRepository::new(pool.clone());
                let sampled = if sample {
                    repo.sampled(&filter, &spec, crate::repo::sampling::SampleRule::ASKED)?
                } else {
                    None
                };
                if sample && sampled.is_none() {
                    eprintln!(
                        "Summarized exactly: only Marquee's own collection is sampled, and \
                         only where the sample ({} movies) is under half of it",
                        crate::plural::thousands(crate::repo::sampling::SAMPLE_ROWS)
                    );
                }
                let summary = match sampled {
                    Some(summary) => summary,
                    None => repo.summarize(&filter, &spec)?,
                };
                let stdout = std::io::stdout();
                let mut out = stdout.lock();
                match format {
                    OutputFormat::Table => summary.write_table(&mut out)?,
                    OutputFormat::Csv => summary.write_csv(&mut out)?,
                    OutputFormat::Json => summary.write_json_lines(&mut out)?,
                }
                Ok(())
            })
        }
        Command::Export { filter, view, file } => {
            let filter = filter_or_view(connection, &filter, view.as_deref())?;
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
        } => with_database_for_writing(&settings, "import", |_, pool| {
            let folder = MovieLensDir::open(&dir)?;
            let mut conn = pool.get_for_writing("import")?;
            let report = with_progress_bar(|progress| {
                load::load_movielens(&mut conn, pool.target(), &folder, progress)
            })?;
            print_report(&report);
            Ok(())
        }),
        Command::Views { action } => views_command(connection, action),
        Command::Import {
            source: ImportSource::Postgres { source_url },
        } => import_postgres(&settings, &source_url),
        Command::Bench(args) => crate::bench::run(&settings, &args),
    }
}

/// The saved views the window uses: beside `--config` when given, else in the config folder.
fn view_store(connection: &ConnectionArgs) -> ViewStore {
    match connection.config.as_deref().and_then(Path::parent) {
        Some(folder) => ViewStore::new(folder.join("views.toml")),
        None => ViewStore::default_location(),
    }
}

/// `--filter TEXT`, or the filter of `--view NAME`.
fn filter_or_view(
    connection: &ConnectionArgs,
    text: &str,
    view: Option<&str>,
) -> anyhow::Result<Filter> {
    match view {
        Some(name) => Ok(view_store(connection).get(name)?.parsed_filter()?),
        None => parse_filter(text),
    }
}

fn views_command(connection: &ConnectionArgs, action: ViewsAction) -> anyhow::Result<()> {
    let store = view_store(connection);
    match action {
        ViewsAction::List => {
            let loaded = store.load()?;
            if let Some(aside) = loaded.set_aside {
                eprintln!(
                    "The saved views file did not parse; it was kept as {}",
                    aside.display()
                );
            }
            if loaded.views.is_empty() {
                eprintln!("No saved views in {}", store.path().display());
            }
            for view in loaded.views {
                println!("{}\t{}", view.name, view.filter);
            }
        }
        ViewsAction::Show { name } => {
            let view = store.get(&name)?;
            println!("name = {:?}\nfilter = {:?}", view.name, view.filter);
            if !view.columns.is_empty() {
                println!("columns = {:?}", view.columns);
            }
            if let Some(summary) = &view.summary {
                println!("summary = {summary}");
            }
        }
        ViewsAction::Delete { name } => {
            store.delete(&name)?;
            eprintln!("Deleted the saved view \"{name}\"");
        }
    }
    Ok(())
}

/// `marquee import postgres`: detects what the source holds (read-only), then streams it into
/// the store in one transaction.
fn import_postgres(settings: &Settings, source_url: &str) -> anyhow::Result<()> {
    let layer = ConfigLayer {
        url: Some(source_url.to_owned()),
        ..ConfigLayer::default()
    };
    let resolved = Settings::resolve(
        &layer,
        &ConfigLayer::default(),
        &ConfigLayer::default(),
        &config::default_data_dir(),
    )
    .context("the source URL")?;
    let config::ServerChoice::External(source_params) = resolved.server else {
        anyhow::bail!("the source URL names no server");
    };
    let source_target = source_params.display_target();
    let mut source_client = db::connect_once(&source_params)?;
    let source =
        crate::db::source::detect::detect(&mut source_client, &settings.source, &source_target)?;
    eprintln!(
        "Reading {} at {source_target} (only reading)",
        source.describe()
    );
    with_database_for_writing(settings, "import postgres", |_, pool| {
        let mut conn = pool.get_for_writing("import")?;
        let report = with_progress_bar(|progress| {
            crate::import::postgres::load_from_postgres(
                &mut conn,
                pool.target(),
                &mut source_client,
                &source_target,
                &source,
                progress,
            )
        })?;
        print_report(&report);
        Ok(())
    })
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

/// Streams the filtered movies to `file` (or stdout for `-`), with a progress spinner.
fn export(pool: &db::pool::DatabasePool, filter: &Filter, file: &Path) -> anyhow::Result<()> {
    if file == Path::new("-") {
        let stdout = std::io::stdout();
        MoviesRepository::new(pool.clone()).export_csv(filter, &mut stdout.lock(), &mut |_| {})?;
        return Ok(());
    }
    let bar = indicatif::ProgressBar::new_spinner();
    bar.set_message("exporting");
    let result = crate::export::export_to_file(pool, filter, file, &mut |n| bar.set_position(n));
    bar.finish_and_clear();
    let n = result?;
    eprintln!(
        "Exported {} to {}",
        plural::count(n, "movie", "movies"),
        file.display()
    );
    Ok(())
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

/// Starts the server (private cluster if none configured), opens the pool on the source the
/// database holds (migrating only the private cluster), runs `f`, then closes the pool and stops
/// a cluster this process started.
pub fn with_database<T>(
    settings: &Settings,
    f: impl FnOnce(&Server, &db::pool::DatabasePool) -> anyhow::Result<T>,
) -> anyhow::Result<T> {
    let server = Server::start(settings)?;
    let pool = db::open_pool(&server, settings);
    run_on_pool(server, pool, f)
}

/// [`with_database`] for the commands that write: names the server and database on stderr,
/// then brings Marquee's schema (schema `marquee`) up to date before `f` writes.
pub fn with_database_for_writing<T>(
    settings: &Settings,
    command: &str,
    f: impl FnOnce(&Server, &db::pool::DatabasePool) -> anyhow::Result<T>,
) -> anyhow::Result<T> {
    let server = Server::start(settings)?;
    let place = if server.cluster.is_some() {
        "Marquee's private server"
    } else {
        "a shared server; Marquee's tables go in schema `marquee`"
    };
    eprintln!(
        "marquee {command}: writing to database {} at {} ({place})",
        server.params.dbname,
        server.params.display_target()
    );
    let pool = db::open_pool_for_writing(&server, settings);
    run_on_pool(server, pool, f)
}

/// Runs `f` on the opened pool, then closes the pool and stops a cluster this process started,
/// whether `f` (or opening the pool) failed or not.
fn run_on_pool<T>(
    server: Server,
    pool: Result<db::pool::DatabasePool, db::error::DbError>,
    f: impl FnOnce(&Server, &db::pool::DatabasePool) -> anyhow::Result<T>,
) -> anyhow::Result<T> {
    let result = pool.map_err(anyhow::Error::from).and_then(|pool| {
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
            let mut conn = pool.get_for_writing("db.start")?;
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
                    println!("not initialized ({})", data_dir.display());
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
        DbAction::Migrate => with_database_for_writing(settings, "db migrate", |_, pool| {
            let mut conn = pool.get_for_writing("db.migrate")?;
            let version = db::schema::current_version(&mut *conn)?;
            println!("Schema is at version {version} on {}", pool.target());
            Ok(())
        }),
    }
}

/// Opens the window (the default when no subcommand is given).
pub fn run_window(connection: &ConnectionArgs) -> anyhow::Result<()> {
    let (settings, provenance) = connection.settings_explained()?;
    crate::ui::window::run(settings, provenance)
}
