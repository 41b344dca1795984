//! Background workers: a fixed set of threads that run repository calls on pooled connections
//! and send the answers back over a channel, so the UI thread never waits on the database.
//!
//! - **Priorities**: urgent jobs (the visible page, the selected movie) are taken before
//!   background ones (prefetch, counts, facets).
//! - **Supersession**: every job carries a topic and a generation. When the filter changes the
//!   UI calls [`Workers::supersede`]: queued jobs of older generations are skipped, running ones
//!   are cancelled on the server (postgres `CancelToken`), and their answers are never delivered.
//! - **Isolation**: a panicking job becomes an error answer; the connection it held is poisoned
//!   and discarded by the pool; the worker thread carries on.
//! - **Job log**: each finished job (label, duration, rows, error) goes into a ring buffer the
//!   stats panel shows.

use std::collections::{HashMap, VecDeque};
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime};

use crossbeam_channel::{Receiver, Sender, select};
use parking_lot::Mutex;
use serde::Serialize;

use crate::db::error::{DbError, DbErrorKind};
use crate::db::pool::{self, DatabasePool};
use crate::filter::Filter;
use crate::repo::facets::Facets;
use crate::repo::movies::{MovieDetails, MovieRow, MoviesRepository, RowCount};
use crate::repo::ratings::{RatingsRepository, RecentRating};
use crate::repo::server_stats::{Backend, ServerStatsRepository};
use crate::repo::tags::TagsRepository;

/// Identifies one submitted job.
pub type JobId = u64;

/// What a stream of requests is about; supersession is per topic.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
pub enum Topic {
    /// The movie table under the current filter: pages, counts, facets.
    Browse,
    /// The selected movie's details.
    Detail,
    /// Everything else (stats panel, cancels, drills); never superseded.
    Admin,
    /// Completion for the filter text (tags matching what is typed).
    Suggest,
    /// An export to a file from the window; superseding it cancels it.
    Export,
    /// The summary beside the table: a new filter or grouping supersedes (and cancels) it.
    Summary,
    /// A column's statistics for its header menu.
    ColumnStats,
}

impl Topic {
    fn index(self) -> usize {
        match self {
            Topic::Browse => 0,
            Topic::Detail => 1,
            Topic::Admin => 2,
            Topic::Suggest => 3,
            Topic::Export => 4,
            Topic::Summary => 5,
            Topic::ColumnStats => 6,
        }
    }
}

/// Which queue a job waits in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Priority {
    /// Taken first: what the user is looking at.
    Urgent,
    /// Taken when no urgent job waits.
    Background,
}

/// What to do. Filters are shared (`Arc`) because one change fans out into several jobs.
#[derive(Clone, Debug)]
pub enum Request {
    /// Rows `offset..offset+limit` under the filter.
    Page {
        /// The filter and sort.
        filter: Arc<Filter>,
        /// First row.
        offset: u64,
        /// Number of rows.
        limit: u32,
    },
    /// The rows of these ids, in this order: a page read through the result index (see
    /// [`Request::ResultIds`]).
    PageAt {
        /// The page's first row in the result.
        offset: u64,
        /// The ids of its rows.
        ids: Vec<i32>,
    },
    /// Every id of the result in order: the result index, which makes a jump cost the same at
    /// any depth ([`crate::repo::movies::MoviesRepository::result_ids`]).
    ResultIds(Arc<Filter>),
    /// The planner's estimate of the match count.
    EstimateCount(Arc<Filter>),
    /// The match count, stopping at `cap`.
    CappedCount {
        /// The filter.
        filter: Arc<Filter>,
        /// Where to stop counting.
        cap: u64,
    },
    /// The exact match count.
    ExactCount(Arc<Filter>),
    /// Counts per genre, decade and rating bucket.
    Facets(Arc<Filter>),
    /// The same counts estimated from a sample of a large collection
    /// ([`MoviesRepository::sampled_facets`]): the fast first answer.
    SampledFacets(Arc<Filter>),
    /// Details, rating histogram, top tags and recent ratings of one movie.
    Details(i32),
    /// The server's view of Marquee's backends.
    ServerBackends,
    /// Cancel whatever the pooled connection with this id runs (stats panel's Cancel button).
    CancelConnection(u64),
    /// Hold a connection for this long running `pg_sleep` (the stress drill, and tests).
    Sleep(Duration),
    /// The most used tags containing this text (filter completion).
    TagSuggestions(String),
    /// Write the filtered movies to a CSV file ([`crate::export::export_to_file`]).
    Export {
        /// What to export.
        filter: Arc<Filter>,
        /// Where.
        path: std::path::PathBuf,
        /// Rows written so far, for the window's progress bar.
        progress: Arc<AtomicU64>,
    },
    /// Groups and measures of the filtered movies ([`crate::repo::summary`]).
    Summarize {
        /// Whose movies.
        filter: Arc<Filter>,
        /// Grouped how, measured how.
        spec: crate::summary::SummarySpec,
    },
    /// The same summary estimated from a sample of a large collection
    /// ([`crate::repo::summary::SummaryRepository::sampled`]): the fast first answer.
    SampledSummary {
        /// Whose movies.
        filter: Arc<Filter>,
        /// Grouped how, measured how.
        spec: crate::summary::SummarySpec,
    },
    /// Distinct values, min, max, empties and a histogram of one column under the filter.
    ColumnStats {
        /// Whose movies.
        filter: Arc<Filter>,
        /// Which column.
        column: crate::repo::column_stats::StatColumn,
    },
    /// Check every idle connection now; dead ones are closed (stats panel's Validate all).
    ValidateAll,
    /// Retire every connection; busy ones close when returned (stats panel's Recycle all).
    RecycleAll,
    /// Any other unit of work on the shared pool, e.g. a one-off administrative query. It is
    /// treated like every other job: prioritised, logged, superseded, isolated if it panics.
    Custom {
        /// Shown in the job log.
        label: &'static str,
        /// The work; its result is the number of rows (or items) it handled.
        work: CustomWork,
    },
}

/// The work of a [`Request::Custom`] job: runs on a worker with the shared pool.
pub type CustomFn = dyn Fn(&DatabasePool) -> Result<u64, DbError> + Send + Sync;

/// The closure of a [`Request::Custom`] job.
#[derive(Clone)]
pub struct CustomWork(pub Arc<CustomFn>);

impl std::fmt::Debug for CustomWork {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CustomWork")
    }
}

/// Which kind of request a [`Reply`] answers: replies are routed on this, never on a label.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
pub enum RequestKind {
    /// [`Request::Page`].
    Page,
    /// [`Request::PageAt`].
    PageAt,
    /// [`Request::ResultIds`].
    ResultIds,
    /// [`Request::EstimateCount`].
    EstimateCount,
    /// [`Request::CappedCount`].
    CappedCount,
    /// [`Request::ExactCount`].
    ExactCount,
    /// [`Request::Facets`].
    Facets,
    /// [`Request::SampledFacets`].
    SampledFacets,
    /// [`Request::Details`].
    Details,
    /// [`Request::ServerBackends`].
    ServerBackends,
    /// [`Request::CancelConnection`].
    CancelConnection,
    /// [`Request::Sleep`].
    Sleep,
    /// [`Request::TagSuggestions`].
    TagSuggestions,
    /// [`Request::Export`].
    Export,
    /// [`Request::Summarize`].
    Summarize,
    /// [`Request::SampledSummary`].
    SampledSummary,
    /// [`Request::ColumnStats`].
    ColumnStats,
    /// [`Request::ValidateAll`].
    ValidateAll,
    /// [`Request::RecycleAll`].
    RecycleAll,
    /// [`Request::Custom`], with its label.
    Custom(&'static str),
}

impl RequestKind {
    /// The repository call, as the job log and the pool panel show it.
    pub fn label(self) -> &'static str {
        match self {
            RequestKind::Page => "movies.page",
            RequestKind::PageAt => "movies.rows_at",
            RequestKind::ResultIds => "movies.result_ids",
            RequestKind::EstimateCount => "movies.estimate",
            RequestKind::CappedCount => "movies.count_capped",
            RequestKind::ExactCount => "movies.count_exact",
            RequestKind::Facets => "movies.facets",
            RequestKind::SampledFacets => "movies.facets_sampled",
            RequestKind::Details => "movies.details",
            RequestKind::ServerBackends => "server_stats.backends",
            RequestKind::CancelConnection => "pool.cancel",
            RequestKind::Sleep => "drill.sleep",
            RequestKind::TagSuggestions => "tags.search",
            RequestKind::Export => "movies.export",
            RequestKind::Summarize => "summary",
            RequestKind::SampledSummary => "summary.sampled",
            RequestKind::ColumnStats => "movies.column_stats",
            RequestKind::ValidateAll => "pool.validate_all",
            RequestKind::RecycleAll => "pool.recycle_all",
            RequestKind::Custom(label) => label,
        }
    }
}

impl Request {
    /// Whether running it twice is the same as running it once: reads are; an export (it writes
    /// a file), a cancel, pool maintenance and custom work are not run again.
    fn may_run_again(&self) -> bool {
        !matches!(
            self,
            Request::Export { .. }
                | Request::CancelConnection(_)
                | Request::ValidateAll
                | Request::RecycleAll
                | Request::Custom { .. }
        )
    }

    /// Which kind of request this is.
    pub fn kind(&self) -> RequestKind {
        match self {
            Request::Page { .. } => RequestKind::Page,
            Request::PageAt { .. } => RequestKind::PageAt,
            Request::ResultIds(_) => RequestKind::ResultIds,
            Request::EstimateCount(_) => RequestKind::EstimateCount,
            Request::CappedCount { .. } => RequestKind::CappedCount,
            Request::ExactCount(_) => RequestKind::ExactCount,
            Request::Facets(_) => RequestKind::Facets,
            Request::SampledFacets(_) => RequestKind::SampledFacets,
            Request::Details(_) => RequestKind::Details,
            Request::ServerBackends => RequestKind::ServerBackends,
            Request::CancelConnection(_) => RequestKind::CancelConnection,
            Request::Sleep(_) => RequestKind::Sleep,
            Request::TagSuggestions(_) => RequestKind::TagSuggestions,
            Request::Export { .. } => RequestKind::Export,
            Request::Summarize { .. } => RequestKind::Summarize,
            Request::SampledSummary { .. } => RequestKind::SampledSummary,
            Request::ColumnStats { .. } => RequestKind::ColumnStats,
            Request::ValidateAll => RequestKind::ValidateAll,
            Request::RecycleAll => RequestKind::RecycleAll,
            Request::Custom { label, .. } => RequestKind::Custom(label),
        }
    }

    /// The repository call, as shown in the job log.
    pub fn label(&self) -> &'static str {
        self.kind().label()
    }
}

/// Everything the detail pane shows about one movie.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct DetailBundle {
    /// The movie.
    pub details: MovieDetails,
    /// Ratings per star value.
    pub histogram: Vec<(f32, u64)>,
    /// Most used tags.
    pub top_tags: Vec<(String, u64)>,
    /// Latest ratings.
    pub recent: Vec<RecentRating>,
}

/// A successful answer.
#[derive(Clone, Debug)]
pub enum Answer {
    /// A page of rows starting at `offset`.
    Page {
        /// First row's index.
        offset: u64,
        /// The rows.
        rows: Vec<MovieRow>,
    },
    /// The result index: every id of the result, in order.
    ResultIds(Arc<Vec<i32>>),
    /// A count.
    Count(RowCount),
    /// Facets.
    Facets(Facets),
    /// Facets from a sample, or `None` where a sample would not be faster.
    SampledFacets(Option<Facets>),
    /// Details (`None`: no such movie).
    Details(Option<Box<DetailBundle>>),
    /// Server backends.
    Backends(Vec<Backend>),
    /// Whether a cancel request was sent.
    Cancelled(bool),
    /// The sleep finished.
    Slept,
    /// Tags with how many times each was given, most used first.
    Tags(Vec<(String, u64)>),
    /// The export is complete: this many movies were written.
    Exported(u64),
    /// A summary.
    Summary(Box<crate::summary::Summary>),
    /// A summary from a sample, or `None` where a sample would not be faster.
    SampledSummary(Option<Box<crate::summary::Summary>>),
    /// A column's statistics.
    ColumnStats(Box<crate::repo::column_stats::ColumnStats>),
    /// Validate all: this many idle connections were checked.
    Validated(u32),
    /// Recycle all: this many connections were retired.
    Recycled(u32),
    /// A custom job finished, having handled this many rows.
    Done(u64),
}

impl Answer {
    fn row_count(&self) -> u64 {
        match self {
            Answer::Page { rows, .. } => rows.len() as u64,
            Answer::ResultIds(ids) => ids.len() as u64,
            Answer::Count(_) | Answer::Details(_) | Answer::Cancelled(_) | Answer::Slept => 1,
            Answer::Facets(f) | Answer::SampledFacets(Some(f)) => {
                (f.genres.len() + f.decades.len() + f.ratings.len()) as u64
            }
            Answer::SampledFacets(None) => 0,
            Answer::Backends(b) => b.len() as u64,
            Answer::Tags(t) => t.len() as u64,
            Answer::Exported(n) => *n,
            Answer::Summary(s) | Answer::SampledSummary(Some(s)) => s.rows.len() as u64,
            Answer::SampledSummary(None) => 0,
            Answer::ColumnStats(s) => s.rows,
            Answer::Validated(n) | Answer::Recycled(n) => u64::from(*n),
            Answer::Done(n) => *n,
        }
    }
}

/// What comes back for a job: tagged with the job, topic and generation it answers.
#[derive(Debug)]
pub struct Reply {
    /// The job.
    pub job: JobId,
    /// Its topic.
    pub topic: Topic,
    /// Its generation.
    pub generation: u64,
    /// What kind of request it answers.
    pub kind: RequestKind,
    /// Time from the worker picking it up to the answer.
    pub elapsed: Duration,
    /// Time the job waited in the queue.
    pub queued: Duration,
    /// The answer or the error.
    pub result: Result<Answer, DbError>,
}

/// One finished job, for the stats panel.
#[derive(Clone, Debug, Serialize)]
pub struct JobRecord {
    /// The job.
    pub job: JobId,
    /// The repository call.
    pub label: &'static str,
    /// Its topic.
    pub topic: Topic,
    /// When it finished.
    #[serde(skip)]
    pub finished_at: SystemTime,
    /// How long it ran.
    pub duration_micros: u64,
    /// Rows (or items) it returned.
    pub rows: u64,
    /// The error, if it failed; "superseded" if its answer was dropped.
    pub error: Option<String>,
}

/// What a worker thread is doing.
#[derive(Clone, Debug, Serialize)]
pub enum WorkerState {
    /// Waiting for a job.
    Idle,
    /// Running a job.
    Running {
        /// The job.
        job: JobId,
        /// Its label.
        label: &'static str,
        /// Since when.
        #[serde(skip)]
        since: Instant,
    },
}

/// How many finished jobs the log keeps.
const JOB_LOG_CAPACITY: usize = 256;

struct Job {
    id: JobId,
    topic: Topic,
    generation: u64,
    request: Request,
    queued_at: Instant,
}

struct Shared {
    /// The lowest generation still wanted, per topic.
    wanted: [AtomicU64; 7],
    /// Running jobs: id → (topic, generation).
    running: Mutex<HashMap<JobId, (Topic, u64)>>,
    log: Mutex<VecDeque<JobRecord>>,
    states: Mutex<Vec<WorkerState>>,
    notify: Box<dyn Fn() + Send + Sync>,
}

impl Shared {
    fn is_stale(&self, topic: Topic, generation: u64) -> bool {
        generation < self.wanted[topic.index()].load(Relaxed)
    }

    fn log(&self, record: JobRecord) {
        let mut log = self.log.lock();
        if log.len() == JOB_LOG_CAPACITY {
            log.pop_front();
        }
        log.push_back(record);
    }
}

/// The repositories a worker calls, all sharing one pool.
#[derive(Clone, Debug)]
struct Repos {
    pool: DatabasePool,
    movies: MoviesRepository,
    ratings: RatingsRepository,
    tags: TagsRepository,
    server: ServerStatsRepository,
    summary: crate::repo::summary::SummaryRepository,
    column_stats: crate::repo::column_stats::ColumnStatsRepository,
}

/// The worker threads and their channels.
pub struct Workers {
    urgent: Option<Sender<Job>>,
    background: Option<Sender<Job>>,
    replies: Receiver<Reply>,
    cancels: Option<Sender<JobId>>,
    shared: Arc<Shared>,
    handles: Vec<JoinHandle<()>>,
    next_job: AtomicU64,
    pool: DatabasePool,
}

impl std::fmt::Debug for Workers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Workers")
            .field("threads", &self.handles.len())
            .finish()
    }
}

impl Workers {
    /// Starts `count` workers (the app uses the pool's max size) and one canceller thread.
    /// `notify` runs after every delivered answer (the app passes `ctx.request_repaint`).
    pub fn start(pool: DatabasePool, count: usize, notify: Box<dyn Fn() + Send + Sync>) -> Self {
        let (urgent_tx, urgent_rx) = crossbeam_channel::unbounded::<Job>();
        let (background_tx, background_rx) = crossbeam_channel::unbounded::<Job>();
        let (reply_tx, reply_rx) = crossbeam_channel::unbounded::<Reply>();
        let (cancel_tx, cancel_rx) = crossbeam_channel::unbounded::<JobId>();
        let count = count.max(1);
        let shared = Arc::new(Shared {
            wanted: Default::default(),
            running: Mutex::new(HashMap::new()),
            log: Mutex::new(VecDeque::with_capacity(JOB_LOG_CAPACITY)),
            states: Mutex::new(vec![WorkerState::Idle; count]),
            notify,
        });
        let repos = Repos {
            pool: pool.clone(),
            movies: MoviesRepository::new(pool.clone()),
            ratings: RatingsRepository::new(pool.clone()),
            tags: TagsRepository::new(pool.clone()),
            server: ServerStatsRepository::new(pool.clone()),
            summary: crate::repo::summary::SummaryRepository::new(pool.clone()),
            column_stats: crate::repo::column_stats::ColumnStatsRepository::new(pool.clone()),
        };
        let mut handles = Vec::with_capacity(count + 1);
        for index in 0..count {
            let urgent = urgent_rx.clone();
            let background = background_rx.clone();
            let replies = reply_tx.clone();
            let shared = Arc::clone(&shared);
            let repos = repos.clone();
            let spawned = std::thread::Builder::new()
                .name(format!("marquee-worker-{index}"))
                .spawn(move || worker_loop(index, &urgent, &background, &replies, &shared, &repos));
            match spawned {
                Ok(handle) => handles.push(handle),
                Err(err) => tracing::error!("could not start worker thread {index}: {err}"),
            }
        }
        let canceller_pool = pool.clone();
        if let Ok(handle) = std::thread::Builder::new()
            .name("marquee-canceller".into())
            .spawn(move || {
                for job in cancel_rx {
                    match canceller_pool.cancel_job(job) {
                        Ok(true) => tracing::debug!("cancelled superseded job {job} on the server"),
                        Ok(false) => {}
                        Err(err) => tracing::warn!("cancelling job {job}: {err}"),
                    }
                }
            })
        {
            handles.push(handle);
        }
        Self {
            urgent: Some(urgent_tx),
            background: Some(background_tx),
            replies: reply_rx,
            cancels: Some(cancel_tx),
            shared,
            handles,
            next_job: AtomicU64::new(1),
            pool,
        }
    }

    /// The pool the workers share.
    pub fn pool(&self) -> &DatabasePool {
        &self.pool
    }

    /// Queues a job; returns its id at once.
    pub fn submit(
        &self,
        topic: Topic,
        generation: u64,
        priority: Priority,
        request: Request,
    ) -> JobId {
        let id = self.next_job.fetch_add(1, Relaxed);
        let job = Job {
            id,
            topic,
            generation,
            request,
            queued_at: Instant::now(),
        };
        let queue = match priority {
            Priority::Urgent => &self.urgent,
            Priority::Background => &self.background,
        };
        if let Some(queue) = queue
            && queue.send(job).is_err()
        {
            tracing::warn!("job {id} submitted after shutdown");
        }
        id
    }

    /// Declares every job of `topic` older than `generation` unwanted: queued ones are skipped,
    /// running ones cancelled on the server, and none of their answers is delivered.
    pub fn supersede(&self, topic: Topic, generation: u64) {
        self.shared.wanted[topic.index()].fetch_max(generation, Relaxed);
        let stale: Vec<JobId> = self
            .shared
            .running
            .lock()
            .iter()
            .filter(|(_, (t, g))| *t == topic && *g < generation)
            .map(|(id, _)| *id)
            .collect();
        if let Some(cancels) = &self.cancels {
            for job in stale {
                let _ = cancels.send(job);
            }
        }
    }

    /// The next delivered answer, if one is waiting (the UI drains this every frame).
    pub fn try_recv(&self) -> Option<Reply> {
        self.replies.try_recv().ok()
    }

    /// The reply channel, for callers that want to block (CLI, tests).
    pub fn replies(&self) -> &Receiver<Reply> {
        &self.replies
    }

    /// The most recent finished jobs, oldest first.
    pub fn job_log(&self) -> Vec<JobRecord> {
        self.shared.log.lock().iter().cloned().collect()
    }

    /// What each worker is doing.
    pub fn worker_states(&self) -> Vec<WorkerState> {
        self.shared.states.lock().clone()
    }

    /// Stops accepting jobs, lets running ones finish, and joins every thread within `deadline`.
    /// Returns whether all threads ended in time (stragglers are left to finish on their own).
    pub fn shutdown(mut self, deadline: Duration) -> bool {
        self.urgent = None;
        self.background = None;
        self.cancels = None;
        let until = Instant::now() + deadline;
        while Instant::now() < until && self.handles.iter().any(|h| !h.is_finished()) {
            std::thread::sleep(Duration::from_millis(5));
        }
        let mut all = true;
        for handle in self.handles.drain(..) {
            if handle.is_finished() {
                let _ = handle.join();
            } else {
                all = false;
            }
        }
        if !all {
            tracing::warn!(
                "some worker threads were still busy at shutdown; leaving them to finish"
            );
        }
        all
    }
}

fn worker_loop(
    index: usize,
    urgent: &Receiver<Job>,
    background: &Receiver<Job>,
    replies: &Sender<Reply>,
    shared: &Shared,
    repos: &Repos,
) {
    loop {
        // Urgent work first; otherwise whichever queue yields a job.
        let job = match urgent.try_recv() {
            Ok(job) => job,
            Err(_) => select! {
                recv(urgent) -> job => match job { Ok(job) => job, Err(_) => break },
                recv(background) -> job => match job {
                    Ok(job) => job,
                    // Background closed: drain what urgent work remains, then stop.
                    Err(_) => match urgent.recv() { Ok(job) => job, Err(_) => break },
                },
            },
        };
        if shared.is_stale(job.topic, job.generation) {
            continue;
        }
        let kind = job.request.kind();
        let label = kind.label();
        let queued = job.queued_at.elapsed();
        shared
            .running
            .lock()
            .insert(job.id, (job.topic, job.generation));
        shared.states.lock()[index] = WorkerState::Running {
            job: job.id,
            label,
            since: Instant::now(),
        };
        let started = Instant::now();
        let run = || {
            pool::with_job(job.id, || {
                std::panic::catch_unwind(AssertUnwindSafe(|| execute(repos, &job.request)))
                    .unwrap_or_else(|panic| {
                        let what = panic
                            .downcast_ref::<&str>()
                            .map(|s| (*s).to_owned())
                            .or_else(|| panic.downcast_ref::<String>().cloned())
                            .unwrap_or_else(|| "unknown panic".to_owned());
                        tracing::error!("job {} ({label}) panicked: {what}", job.id);
                        Err(DbError::new(
                            DbErrorKind::Panicked,
                            format!("{label} failed unexpectedly: {what}"),
                        ))
                    })
            })
        };
        let mut result = run();
        let meant = repos.pool.take_cancel_meant_for(job.id);
        // A cancel that nobody sent for this job was meant for the query its connection ran
        // before (see `DatabasePool::take_cancel_meant_for`): a job still wanted runs once more.
        if matches!(&result, Err(err) if err.kind == DbErrorKind::Cancelled)
            && !meant
            && !shared.is_stale(job.topic, job.generation)
            && job.request.may_run_again()
        {
            tracing::info!(
                "job {} ({label}) was hit by a stray cancel; running it again",
                job.id
            );
            result = run();
            repos.pool.take_cancel_meant_for(job.id);
        }
        let elapsed = started.elapsed();
        shared.running.lock().remove(&job.id);
        shared.states.lock()[index] = WorkerState::Idle;
        let stale = shared.is_stale(job.topic, job.generation);
        shared.log(JobRecord {
            job: job.id,
            label,
            topic: job.topic,
            finished_at: SystemTime::now(),
            duration_micros: elapsed.as_micros() as u64,
            rows: result.as_ref().map_or(0, Answer::row_count),
            error: match (&result, stale) {
                (_, true) => Some("superseded".to_owned()),
                (Err(err), false) => Some(err.to_string()),
                (Ok(_), false) => None,
            },
        });
        if stale {
            continue;
        }
        let reply = Reply {
            job: job.id,
            topic: job.topic,
            generation: job.generation,
            kind,
            elapsed,
            queued,
            result,
        };
        if replies.send(reply).is_err() {
            break;
        }
        (shared.notify)();
    }
}

fn execute(repos: &Repos, request: &Request) -> Result<Answer, DbError> {
    match request {
        Request::Page {
            filter,
            offset,
            limit,
        } => Ok(Answer::Page {
            offset: *offset,
            rows: repos.movies.page(filter, *offset, *limit)?,
        }),
        Request::PageAt { offset, ids } => Ok(Answer::Page {
            offset: *offset,
            rows: repos.movies.rows_at(ids)?,
        }),
        Request::ResultIds(filter) => Ok(Answer::ResultIds(Arc::new(
            repos.movies.result_ids(filter)?,
        ))),
        Request::EstimateCount(filter) => Ok(Answer::Count(repos.movies.estimate_count(filter)?)),
        Request::CappedCount { filter, cap } => {
            Ok(Answer::Count(repos.movies.capped_count(filter, *cap)?))
        }
        Request::ExactCount(filter) => Ok(Answer::Count(repos.movies.exact_count(filter)?)),
        Request::Facets(filter) => Ok(Answer::Facets(repos.movies.facets(filter)?)),
        Request::SampledFacets(filter) => Ok(Answer::SampledFacets(
            repos
                .movies
                .sampled_facets(filter, crate::repo::sampling::SampleRule::WINDOW)?,
        )),
        Request::Details(id) => {
            let Some(details) = repos.movies.details(*id)? else {
                return Ok(Answer::Details(None));
            };
            Ok(Answer::Details(Some(Box::new(DetailBundle {
                details,
                histogram: repos.ratings.histogram(*id)?,
                top_tags: repos.tags.top_for_movie(*id, 12)?,
                recent: repos.ratings.recent(*id, 10)?,
            }))))
        }
        Request::ServerBackends => Ok(Answer::Backends(repos.server.backends()?)),
        Request::CancelConnection(id) => Ok(Answer::Cancelled(repos.pool.cancel(*id)?)),
        Request::Sleep(duration) => {
            let secs = duration.as_secs_f64();
            let mut conn = repos.pool.get("drill.sleep")?;
            let result = conn.query_typed(
                "SELECT pg_sleep($1)",
                &[(&secs, postgres::types::Type::FLOAT8)],
            );
            let result = result
                .map(|_| Answer::Slept)
                .map_err(|e| DbError::from_postgres(&e, repos.pool.target()));
            repos.pool.record_query(result.as_ref().map(|_| ()));
            result
        }
        Request::TagSuggestions(text) => Ok(Answer::Tags(repos.tags.search(text, 20)?)),
        Request::Export {
            filter,
            path,
            progress,
        } => crate::export::export_to_file(&repos.pool, filter, path, &mut |n| {
            progress.store(n, Relaxed);
        })
        .map(Answer::Exported)
        .map_err(|e| match e {
            crate::repo::movies::ExportError::Database(db) => db,
            other => DbError::new(DbErrorKind::Query, other.to_string()),
        }),
        Request::Summarize { filter, spec } => Ok(Answer::Summary(Box::new(
            repos.summary.summarize(filter, spec)?,
        ))),
        Request::SampledSummary { filter, spec } => Ok(Answer::SampledSummary(
            repos
                .summary
                .sampled(filter, spec, crate::repo::sampling::SampleRule::WINDOW)?
                .map(Box::new),
        )),
        Request::ColumnStats { filter, column } => Ok(Answer::ColumnStats(Box::new(
            repos.column_stats.stats(filter, *column)?,
        ))),
        Request::ValidateAll => Ok(Answer::Validated(repos.pool.validate_all().checked)),
        Request::RecycleAll => Ok(Answer::Recycled(repos.pool.recycle_all())),
        Request::Custom { work, .. } => Ok(Answer::Done((work.0)(&repos.pool)?)),
    }
}
