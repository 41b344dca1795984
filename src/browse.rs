//! The movie table's data model, kept apart from drawing: which filter is current, which pages
//! of rows are cached, which are on their way, and how many rows there are (as precisely as is
//! known). It turns "these rows are visible" into worker requests and applies the answers,
//! dropping any from an older filter.
//!
//! Rows are fetched in pages of [`PAGE_SIZE`]; the visible pages are urgent, their neighbours are
//! prefetched in the background, and the cache keeps at most [`MAX_CACHED_PAGES`] pages (farthest
//! from the viewport evicted first) so memory stays flat however far one scrolls.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::db::error::DbError;
use crate::filter::Filter;
use crate::repo::movies::{Facets, MovieRow, RowCount};
use crate::worker::{Answer, Priority, Reply, Request, Topic, Workers};

/// Rows per fetched page.
pub const PAGE_SIZE: u32 = 100;
/// Pages kept in memory (40,000 rows).
pub const MAX_CACHED_PAGES: usize = 400;
/// Pages fetched ahead of and behind the viewport.
pub const PREFETCH_PAGES: u64 = 2;
/// Counting stops here until someone asks for the exact figure.
pub const COUNT_CAP: u64 = 100_000;
/// How long to wait before asking again for pages that failed.
const PAGE_RETRY_PAUSE: Duration = Duration::from_millis(1_000);

/// Anything that accepts worker requests; the app passes [`Workers`], tests can record them.
pub trait Submit {
    /// Queues a request.
    fn submit(&self, topic: Topic, generation: u64, priority: Priority, request: Request);
    /// Drops everything of `topic` older than `generation`.
    fn supersede(&self, topic: Topic, generation: u64);
}

impl Submit for Workers {
    fn submit(&self, topic: Topic, generation: u64, priority: Priority, request: Request) {
        Workers::submit(self, topic, generation, priority, request);
    }
    fn supersede(&self, topic: Topic, generation: u64) {
        Workers::supersede(self, topic, generation);
    }
}

/// The browse state for one filter at a time.
#[derive(Debug, Default)]
pub struct Browse {
    filter: Arc<Filter>,
    generation: u64,
    count: Option<RowCount>,
    exact_requested: bool,
    pages: BTreeMap<u64, Vec<MovieRow>>,
    pending: BTreeSet<u64>,
    facets: Option<Facets>,
    /// When the current filter was set, to time its first page.
    changed_at: Option<Instant>,
    /// Time from the last filter change to its first page.
    pub first_page_latency: Option<Duration>,
    /// Duration of the last query that answered.
    pub last_query: Option<Duration>,
    /// The last error, cleared by the next success.
    pub last_error: Option<DbError>,
    viewport: (u64, u64),
    /// After a failed page, no new page requests until then.
    retry_at: Option<Instant>,
    /// The capped count and facets are due once the first page has arrived.
    followups_pending: bool,
}

impl Browse {
    /// The current filter.
    pub fn filter(&self) -> &Filter {
        &self.filter
    }

    /// Generation of the current filter (increases with every change).
    pub fn generation(&self) -> u64 {
        self.generation
    }

    /// The best known row count, if any is known yet.
    pub fn count(&self) -> Option<RowCount> {
        self.count
    }

    /// Facets of the current filter, once they arrived.
    pub fn facets(&self) -> Option<&Facets> {
        self.facets.as_ref()
    }

    /// Rows the table should have: the count, or what is cached while the count is on its way.
    pub fn row_count(&self) -> u64 {
        match self.count {
            Some(count) => count.rows(),
            None => self.pages.iter().next_back().map_or(0, |(page, rows)| {
                page * u64::from(PAGE_SIZE) + rows.len() as u64
            }),
        }
    }

    /// Whether work for the current filter is still on its way.
    pub fn is_loading(&self) -> bool {
        !self.pending.is_empty() || self.count.is_none()
    }

    /// The row at `index`, if its page has arrived. Never a row of another filter.
    pub fn row(&self, index: u64) -> Option<&MovieRow> {
        let page = index / u64::from(PAGE_SIZE);
        let within = (index % u64::from(PAGE_SIZE)) as usize;
        self.pages.get(&page).and_then(|rows| rows.get(within))
    }

    /// Switches to `filter`: older work is superseded (cancelled on the server), cached rows of
    /// the old filter are dropped, and the first page, the counts and the facets are requested.
    pub fn set_filter(&mut self, filter: Filter, workers: &dyn Submit) {
        self.generation += 1;
        workers.supersede(Topic::Browse, self.generation);
        self.filter = Arc::new(filter);
        self.count = None;
        self.exact_requested = false;
        self.pages.clear();
        self.pending.clear();
        self.facets = None;
        self.changed_at = Some(Instant::now());
        self.retry_at = None;
        self.followups_pending = false;
        self.first_page_latency = None;
        let first = self.viewport.0 / u64::from(PAGE_SIZE);
        self.request_page(first, Priority::Urgent, workers);
        // Counts and facets wait for the first page: on a small machine they would otherwise
        // compete with it for the same cores. Only the planner's estimate (no scan) goes now.
        self.followups_pending = true;
        workers.submit(
            Topic::Browse,
            self.generation,
            Priority::Background,
            Request::EstimateCount(Arc::clone(&self.filter)),
        );
    }

    /// Asks for the capped count and the facets of the current filter, once.
    fn request_followups(&mut self, workers: &dyn Submit) {
        if !std::mem::take(&mut self.followups_pending) {
            return;
        }
        let g = self.generation;
        workers.submit(
            Topic::Browse,
            g,
            Priority::Background,
            Request::CappedCount {
                filter: Arc::clone(&self.filter),
                cap: COUNT_CAP,
            },
        );
        workers.submit(
            Topic::Browse,
            g,
            Priority::Background,
            Request::Facets(Arc::clone(&self.filter)),
        );
    }

    /// Re-runs the current filter (after reconnecting, or Retry).
    pub fn refresh(&mut self, workers: &dyn Submit) {
        let filter = (*self.filter).clone();
        self.set_filter(filter, workers);
    }

    /// Asks for the exact row count (status bar, or when scrolling reaches a capped count).
    pub fn request_exact_count(&mut self, workers: &dyn Submit) {
        if self.exact_requested || matches!(self.count, Some(RowCount::Exact(_))) {
            return;
        }
        self.exact_requested = true;
        workers.submit(
            Topic::Browse,
            self.generation,
            Priority::Background,
            Request::ExactCount(Arc::clone(&self.filter)),
        );
    }

    /// Tells the model rows `first..=last` are on screen: missing visible pages are requested
    /// urgently, neighbours in the background, far pages evicted.
    pub fn show_rows(&mut self, first: u64, last: u64, workers: &dyn Submit) {
        self.viewport = (first, last);
        let page_size = u64::from(PAGE_SIZE);
        let (first_page, last_page) = (first / page_size, last / page_size);
        for page in first_page..=last_page {
            self.request_page(page, Priority::Urgent, workers);
        }
        // After a jump, the visible pages go first; neighbours follow once they have landed.
        if (first_page..=last_page).any(|page| !self.pages.contains_key(&page)) {
            self.evict(first_page, last_page);
            return;
        }
        let max_page = self.row_count().saturating_sub(1) / page_size;
        for page in first_page.saturating_sub(PREFETCH_PAGES)..first_page {
            self.request_page(page, Priority::Background, workers);
        }
        for page in (last_page + 1)..=(last_page + PREFETCH_PAGES).min(max_page) {
            self.request_page(page, Priority::Background, workers);
        }
        // Scrolled to the end of a capped or estimated count: find out how far it really goes.
        if !matches!(self.count, Some(RowCount::Exact(_)))
            && last + page_size * 2 >= self.row_count()
        {
            self.request_exact_count(workers);
        }
        self.evict(first_page, last_page);
    }

    fn request_page(&mut self, page: u64, priority: Priority, workers: &dyn Submit) {
        if self.pages.contains_key(&page) || self.pending.contains(&page) {
            return;
        }
        if self.retry_at.is_some_and(|at| Instant::now() < at) {
            return;
        }
        self.pending.insert(page);
        workers.submit(
            Topic::Browse,
            self.generation,
            priority,
            Request::Page {
                filter: Arc::clone(&self.filter),
                offset: page * u64::from(PAGE_SIZE),
                limit: PAGE_SIZE,
            },
        );
    }

    fn evict(&mut self, first_page: u64, last_page: u64) {
        while self.pages.len() > MAX_CACHED_PAGES {
            let (Some((&low, _)), Some((&high, _))) =
                (self.pages.first_key_value(), self.pages.last_key_value())
            else {
                return;
            };
            let far_low = first_page.saturating_sub(low);
            let far_high = high.saturating_sub(last_page);
            let victim = if far_low >= far_high { low } else { high };
            self.pages.remove(&victim);
        }
    }

    /// Applies a worker reply. Returns `false` (and changes nothing) for replies of another
    /// topic or an older filter.
    pub fn apply(&mut self, reply: &Reply, workers: &dyn Submit) -> bool {
        if reply.topic != Topic::Browse || reply.generation != self.generation {
            return false;
        }
        self.last_query = Some(reply.elapsed);
        match &reply.result {
            Err(error) => {
                if reply.label == "movies.page" {
                    // Errors do not say which page they were for: forget every pending page so
                    // the next `show_rows` asks again, after a pause so a dead server is not
                    // asked every frame.
                    self.pending.clear();
                    self.retry_at = Some(Instant::now() + PAGE_RETRY_PAUSE);
                    self.request_followups(workers);
                }
                self.last_error = Some(error.clone());
            }
            Ok(Answer::Page { offset, rows }) => {
                let page = offset / u64::from(PAGE_SIZE);
                self.pending.remove(&page);
                if rows.len() < PAGE_SIZE as usize {
                    // A short page pins the end exactly.
                    let end = offset + rows.len() as u64;
                    if rows.is_empty() && *offset > 0 {
                        // Past the end (the count was an overestimate); the exact count follows.
                    } else {
                        self.count = Some(RowCount::Exact(end));
                    }
                }
                self.request_followups(workers);
                if self.first_page_latency.is_none()
                    && let Some(changed) = self.changed_at
                {
                    self.first_page_latency = Some(changed.elapsed());
                }
                self.pages.insert(page, rows.clone());
                let page_size = u64::from(PAGE_SIZE);
                self.evict(self.viewport.0 / page_size, self.viewport.1 / page_size);
                self.last_error = None;
            }
            Ok(Answer::Count(count)) => {
                self.count = Some(merge_count(self.count, *count));
                self.last_error = None;
            }
            Ok(Answer::Facets(facets)) => self.facets = Some(facets.clone()),
            Ok(_) => {}
        }
        true
    }
}

/// A better count never gives way to a worse one (an estimate arriving after the exact count).
fn merge_count(old: Option<RowCount>, new: RowCount) -> RowCount {
    match (old, new) {
        (Some(RowCount::Exact(n)), _) => RowCount::Exact(n),
        (Some(RowCount::AtLeast(n)), RowCount::Estimate(_)) => RowCount::AtLeast(n),
        _ => new,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::RefCell;

    #[derive(Default)]
    struct Recorder {
        submitted: RefCell<Vec<(u64, Priority, Request)>>,
        superseded: RefCell<Vec<u64>>,
    }

    impl Submit for Recorder {
        fn submit(&self, _topic: Topic, generation: u64, priority: Priority, request: Request) {
            self.submitted
                .borrow_mut()
                .push((generation, priority, request));
        }
        fn supersede(&self, _topic: Topic, generation: u64) {
            self.superseded.borrow_mut().push(generation);
        }
    }

    fn page_reply(generation: u64, offset: u64, n: usize) -> Reply {
        let rows = (0..n)
            .map(|i| MovieRow {
                id: (offset as usize + i) as i32,
                title: format!("Movie {}", offset as usize + i),
                year: None,
                genres: vec![],
                rating_avg: None,
                rating_count: 0,
            })
            .collect();
        Reply {
            job: 1,
            topic: Topic::Browse,
            generation,
            label: "movies.page",
            elapsed: Duration::from_millis(1),
            queued: Duration::ZERO,
            result: Ok(Answer::Page { offset, rows }),
        }
    }

    #[test]
    fn a_new_filter_supersedes_the_old_one_and_asks_for_page_counts_and_facets() {
        let workers = Recorder::default();
        let mut browse = Browse::default();
        browse.set_filter(Filter::default(), &workers);
        assert_eq!(*workers.superseded.borrow(), vec![1]);
        {
            let submitted = workers.submitted.borrow();
            assert!(matches!(
                submitted[0],
                (1, Priority::Urgent, Request::Page { offset: 0, .. })
            ));
            assert!(
                !submitted
                    .iter()
                    .any(|(_, _, r)| matches!(r, Request::Facets(_))),
                "counts and facets wait for the first page"
            );
        }
        browse.apply(&page_reply(1, 0, 100), &workers);
        let submitted = workers.submitted.borrow();
        assert!(
            submitted
                .iter()
                .any(|(_, p, r)| *p == Priority::Background && matches!(r, Request::Facets(_)))
        );
        assert!(
            submitted
                .iter()
                .any(|(_, _, r)| matches!(r, Request::CappedCount { cap: COUNT_CAP, .. }))
        );
    }

    #[test]
    fn answers_for_an_older_filter_are_dropped() {
        let workers = Recorder::default();
        let mut browse = Browse::default();
        browse.set_filter(Filter::default(), &workers);
        browse.set_filter(
            Filter {
                title: "star".into(),
                ..Filter::default()
            },
            &workers,
        );
        assert!(!browse.apply(&page_reply(1, 0, 100), &workers));
        assert!(
            browse.row(0).is_none(),
            "a row of another filter must never show"
        );
        assert!(browse.apply(&page_reply(2, 0, 100), &workers));
        assert_eq!(browse.row(5).map(|r| r.id), Some(5));
    }

    #[test]
    fn visible_pages_are_urgent_and_neighbours_prefetched_once() {
        let workers = Recorder::default();
        let mut browse = Browse::default();
        browse.set_filter(Filter::default(), &workers);
        browse.apply(
            &Reply {
                result: Ok(Answer::Count(RowCount::Exact(1_000_000))),
                label: "movies.count_capped",
                ..page_reply(1, 0, 0)
            },
            &workers,
        );
        workers.submitted.borrow_mut().clear();
        browse.show_rows(5_000, 5_030, &workers);
        // The neighbours wait until the visible page has landed, and are asked for once.
        browse.apply(&page_reply(1, 5_000, 100), &workers);
        browse.show_rows(5_000, 5_030, &workers);
        browse.show_rows(5_000, 5_030, &workers);
        let submitted = workers.submitted.borrow();
        let pages: Vec<(Priority, u64)> = submitted
            .iter()
            .filter_map(|(_, p, r)| match r {
                Request::Page { offset, .. } => Some((*p, offset / 100)),
                _ => None,
            })
            .collect();
        assert_eq!(
            pages,
            vec![
                (Priority::Urgent, 50),
                (Priority::Background, 48),
                (Priority::Background, 49),
                (Priority::Background, 51),
                (Priority::Background, 52)
            ]
        );
    }

    #[test]
    fn a_short_page_pins_the_exact_count_and_estimates_never_overwrite_it() {
        let workers = Recorder::default();
        let mut browse = Browse::default();
        browse.set_filter(Filter::default(), &workers);
        browse.apply(&page_reply(1, 0, 42), &workers);
        assert_eq!(browse.count(), Some(RowCount::Exact(42)));
        browse.apply(
            &Reply {
                result: Ok(Answer::Count(RowCount::Estimate(60))),
                label: "movies.estimate",
                ..page_reply(1, 0, 0)
            },
            &workers,
        );
        assert_eq!(browse.count(), Some(RowCount::Exact(42)));
    }

    #[test]
    fn the_cache_stays_bounded_however_far_one_scrolls() {
        let workers = Recorder::default();
        let mut browse = Browse::default();
        browse.set_filter(Filter::default(), &workers);
        browse.apply(
            &Reply {
                result: Ok(Answer::Count(RowCount::Exact(10_000_000))),
                label: "movies.count_exact",
                ..page_reply(1, 0, 0)
            },
            &workers,
        );
        for page in 0..(MAX_CACHED_PAGES as u64 * 2) {
            browse.show_rows(page * 100, page * 100 + 30, &workers);
            browse.apply(&page_reply(1, page * 100, 100), &workers);
        }
        assert!(browse.pages.len() <= MAX_CACHED_PAGES);
        assert!(
            browse
                .row(((MAX_CACHED_PAGES as u64 * 2) - 1) * 100)
                .is_some(),
            "the visible page stays"
        );
    }
}
