//! The movie table's data model, kept apart from drawing: which filter is current (and which
//! one waits for typing to pause), which pages of rows are cached, which are on their way, and
//! how many rows there are (as precisely as is known). It turns "these rows are visible" into
//! worker requests and applies the answers, dropping any from an older filter.
//!
//! Every change of the filter, whatever its source (typing, chips, a header click, Esc, history),
//! arrives as one [`FilterChange`] at [`Browse::change_filter`]: this is the one owner of the
//! debounce and of the current filter. When the filter changes, the old rows stay on screen,
//! marked stale, until the first page of the new filter lands, so the table never flashes
//! "Loading…".
//!
//! The model does no I/O: it queues its requests, and the app hands them to the workers
//! ([`Browse::take_requests`]) from `logic`. Rows are fetched in pages of [`PAGE_SIZE`]; the
//! visible pages are urgent, their neighbours are prefetched in the background, and the cache
//! keeps at most [`MAX_CACHED_PAGES`] pages (farthest from the viewport evicted first) so memory
//! stays flat however far one scrolls.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::db::error::DbError;
use crate::filter::{Filter, SortColumn};
use crate::repo::facets::Facets;
use crate::repo::movies::{MovieRow, RowCount};
use crate::worker::{Answer, Priority, Reply, Request, RequestKind, Topic, Workers};

/// Rows per fetched page.
pub const PAGE_SIZE: u32 = 100;
/// Pages kept in memory (40,000 rows).
pub const MAX_CACHED_PAGES: usize = 400;
/// Pages fetched ahead of and behind the viewport.
pub const PREFETCH_PAGES: u64 = 2;
/// Counting stops here until someone asks for the exact figure.
pub const COUNT_CAP: u64 = 100_000;
/// Typing is applied once it pauses this long; older queries are superseded and cancelled.
pub const FILTER_DEBOUNCE: Duration = Duration::from_millis(150);
/// Filters that Back can return to.
pub const HISTORY_DEPTH: usize = 100;
/// A viewport past this row asks for the result index (every id of the result in order), through
/// which a jump costs one lookup by id at any depth; above it an offset is cheap anyway.
pub const INDEX_FROM_ROW: u64 = 10_000;
/// Result indexes kept for Back and Forward, the current one included.
pub const INDEX_CACHE_RESULTS: usize = 4;
/// Ids the kept result indexes may hold together (4 bytes each: 48 MB).
pub const INDEX_CACHE_IDS: usize = 12_000_000;
/// How long to wait before asking again for pages that failed.
const PAGE_RETRY_PAUSE: Duration = Duration::from_millis(1_000);

/// A change of the filter, whatever asked for it.
#[derive(Clone, Debug, PartialEq)]
pub enum FilterChange {
    /// An edit in the filter bar (typing, a chip, a year): applied once editing pauses for
    /// [`FILTER_DEBOUNCE`]. A newer edit replaces a waiting one.
    Edit(Filter),
    /// The filter bar's text does not parse: a waiting edit is dropped, so the table keeps the
    /// last valid filter and never shows one that differs from what the field says.
    Invalid,
    /// Apply this filter now (Enter in the text field, a saved view, pasted filter text).
    Apply(Filter),
    /// A header click: sort by this column (`true`: add it as a further key).
    Sort(SortColumn, bool),
    /// Drop every condition, keep the sort (Esc, the Clear button). Back undoes it.
    ClearConditions,
    /// A tag chip in the detail pane: the current (or waiting) filter narrowed to movies with
    /// this tag (a filter holds one tag, so it replaces another), applied at once.
    AddTag(String),
    /// The filter before the current one.
    Back,
    /// Undo a Back.
    Forward,
}

/// One request for the workers, as the model asks for it.
#[derive(Clone, Debug)]
pub struct Outgoing {
    /// The filter generation it belongs to.
    pub generation: u64,
    /// Which queue it waits in.
    pub priority: Priority,
    /// The request.
    pub request: Request,
}

/// What the model wants from the workers since it was last asked.
#[derive(Debug, Default)]
pub struct Requests {
    /// Drop (and cancel) browse work of generations below this one first.
    pub supersede: Option<u64>,
    /// Then queue these.
    pub jobs: Vec<Outgoing>,
}

impl Requests {
    /// Hands the requests to the workers: supersede first, then queue.
    pub fn send(self, workers: &Workers) {
        if let Some(generation) = self.supersede {
            workers.supersede(Topic::Browse, generation);
        }
        for job in self.jobs {
            workers.submit(Topic::Browse, job.generation, job.priority, job.request);
        }
    }
}

/// Rows of the previous filter, kept on screen until the new one's first page arrives.
#[derive(Debug)]
struct Stale {
    pages: BTreeMap<u64, Vec<MovieRow>>,
    rows: u64,
}

/// The browse state for one filter at a time.
#[derive(Debug, Default)]
pub struct Browse {
    filter: Arc<Filter>,
    generation: u64,
    /// An edit waiting for typing to pause, and when it is due.
    pending: Option<(Filter, Instant)>,
    /// Earlier filters (Back), newest last.
    back: Vec<Filter>,
    /// Filters left by Back (Forward), newest last.
    forward: Vec<Filter>,
    count: Option<RowCount>,
    exact_requested: bool,
    /// The capped count is on its way.
    capped_pending: bool,
    /// The exact count is on its way.
    exact_pending: bool,
    pages: BTreeMap<u64, Vec<MovieRow>>,
    pending_pages: BTreeSet<u64>,
    stale: Option<Stale>,
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
    /// The sampled facets answered (with facets, with none, or with an error).
    sample_answered: bool,
    /// The exact facets were asked for.
    exact_facets_asked: bool,
    /// The current result's index, once built: row `r` is the movie `index[r]`.
    index: Option<Arc<Vec<i32>>>,
    /// The index of the current result was asked for (built, building, or failed).
    index_requested: bool,
    /// Indexes of recent results, the most recent last.
    indexes: std::collections::VecDeque<(Arc<Filter>, Arc<Vec<i32>>)>,
    /// Never ask for a result index (`marquee bench scroll` measures jumps by offset this way).
    offset_only: bool,
    outbox: Requests,
}

impl Browse {
    /// The current filter.
    pub fn filter(&self) -> &Filter {
        &self.filter
    }

    /// An edit waiting for typing to pause, if any.
    pub fn pending_filter(&self) -> Option<&Filter> {
        self.pending.as_ref().map(|(filter, _)| filter)
    }

    /// Generation of the current filter (increases with every change).
    pub fn generation(&self) -> u64 {
        self.generation
    }

    /// Whether Back (and Forward) have somewhere to go.
    pub fn can_go_back(&self) -> bool {
        !self.back.is_empty()
    }

    /// Whether Forward has somewhere to go.
    pub fn can_go_forward(&self) -> bool {
        !self.forward.is_empty()
    }

    /// The last `n` filters Back returns to, oldest first, as text: what a restart keeps.
    pub fn history_texts(&self, n: usize) -> Vec<String> {
        let skip = self.back.len().saturating_sub(n);
        self.back[skip..].iter().map(Filter::to_text).collect()
    }

    /// Gives Back the filters of `texts` (oldest first), as a restart restores them. A text
    /// that no longer parses is left out; the current filter and Forward are not touched.
    pub fn restore_history(&mut self, texts: &[String]) {
        let restored = texts.iter().filter_map(|text| Filter::parse(text).ok());
        self.back = restored.chain(self.back.drain(..)).collect();
        let excess = self.back.len().saturating_sub(HISTORY_DEPTH);
        self.back.drain(..excess);
    }

    /// The best known row count of the current filter, if any is known yet.
    pub fn count(&self) -> Option<RowCount> {
        self.count
    }

    /// Whether a capped or exact count of the current filter is on its way.
    pub fn is_counting(&self) -> bool {
        self.capped_pending || self.exact_pending
    }

    /// Facets of the current filter, once they arrived.
    pub fn facets(&self) -> Option<&Facets> {
        self.facets.as_ref()
    }

    /// Whether the rows shown are still the previous filter's (its first page has not arrived).
    pub fn is_stale(&self) -> bool {
        self.stale.is_some()
    }

    /// Rows the table should have: the count, or what is cached while the count is on its way
    /// (the previous filter's while its rows are still shown).
    pub fn row_count(&self) -> u64 {
        if let Some(stale) = &self.stale {
            return stale.rows;
        }
        match self.count {
            Some(count) => count.rows(),
            None => rows_cached(&self.pages),
        }
    }

    /// Whether work for the current filter is still on its way.
    pub fn is_loading(&self) -> bool {
        !self.pending_pages.is_empty() || self.count.is_none()
    }

    /// The row at `index`, if its page has arrived: of the current filter, or of the previous
    /// one while [`Browse::is_stale`].
    pub fn row(&self, index: u64) -> Option<&MovieRow> {
        let pages = self
            .stale
            .as_ref()
            .map_or(&self.pages, |stale| &stale.pages);
        let page = index / u64::from(PAGE_SIZE);
        let within = (index % u64::from(PAGE_SIZE)) as usize;
        pages.get(&page).and_then(|rows| rows.get(within))
    }

    /// The one route for filter changes. Returns the filter the bar should show when the change
    /// did not come from the bar's own editing (`None` for [`FilterChange::Edit`] and
    /// [`FilterChange::Invalid`], and when nothing changed).
    pub fn change_filter(&mut self, change: FilterChange, now: Instant) -> Option<Filter> {
        // Sort and clear build on what the user sees, which may be an edit still waiting.
        let base = || {
            self.pending
                .as_ref()
                .map_or_else(|| (*self.filter).clone(), |(f, _)| f.clone())
        };
        let next = match change {
            FilterChange::Edit(filter) => {
                self.pending = Some((filter, now + FILTER_DEBOUNCE));
                return None;
            }
            FilterChange::Invalid => {
                self.pending = None;
                return None;
            }
            FilterChange::Apply(filter) => filter,
            FilterChange::Sort(column, additive) => {
                let mut filter = base();
                filter.toggle_sort(column, additive);
                filter.normalize();
                filter
            }
            FilterChange::AddTag(tag) => {
                let mut filter = base();
                // A chip narrows: the movies must carry this tag as well as any already asked for.
                filter.tags.push(tag);
                filter.normalize();
                filter
            }
            FilterChange::ClearConditions => {
                let filter = base();
                Filter {
                    sort: filter.sort,
                    ..Filter::default()
                }
            }
            FilterChange::Back => {
                self.pending = None;
                let previous = self.back.pop()?;
                self.forward.push((*self.filter).clone());
                self.set_filter(previous.clone());
                return Some(previous);
            }
            FilterChange::Forward => {
                self.pending = None;
                let next = self.forward.pop()?;
                self.back.push((*self.filter).clone());
                self.set_filter(next.clone());
                return Some(next);
            }
        };
        self.pending = None;
        if self.apply_filter(next.clone()) {
            Some(next)
        } else {
            None
        }
    }

    /// Applies a waiting edit once it is due. Returns when it will be due otherwise, so the app
    /// can ask for a frame then.
    pub fn tick(&mut self, now: Instant) -> Option<Duration> {
        let (_, due) = self.pending.as_ref()?;
        if now < *due {
            return Some(*due - now);
        }
        if let Some((filter, _)) = self.pending.take() {
            self.apply_filter(filter);
        }
        None
    }

    /// Makes `filter` current, remembering the old one for Back. `false` if it already was.
    fn apply_filter(&mut self, filter: Filter) -> bool {
        if filter == *self.filter {
            return false;
        }
        self.back.push((*self.filter).clone());
        if self.back.len() > HISTORY_DEPTH {
            self.back.remove(0);
        }
        self.forward.clear();
        self.set_filter(filter);
        true
    }

    /// Switches to `filter`: older work is superseded (cancelled on the server), the old rows
    /// are kept on screen as stale until the new first page lands, and the first page and the
    /// planner's estimate are requested (counts and facets follow the first page). History is
    /// left alone: this is also how a restored filter is set and how Back moves.
    pub fn set_filter(&mut self, filter: Filter) {
        self.generation += 1;
        self.outbox = Requests {
            supersede: Some(self.generation),
            jobs: Vec::new(),
        };
        self.filter = Arc::new(filter);
        // Keep what is on screen: the rows of the filter before, unless those are stale too.
        if self.stale.is_none() && !self.pages.is_empty() {
            let rows = self.row_count();
            self.stale = Some(Stale {
                pages: std::mem::take(&mut self.pages),
                rows,
            });
        }
        self.pages.clear();
        self.count = None;
        self.exact_requested = false;
        self.capped_pending = false;
        self.exact_pending = false;
        self.pending_pages.clear();
        self.facets = None;
        self.changed_at = Some(Instant::now());
        self.retry_at = None;
        self.first_page_latency = None;
        self.index_requested = false;
        self.index = self
            .indexes
            .iter()
            .find(|(filter, _)| **filter == *self.filter)
            .map(|(_, ids)| Arc::clone(ids));
        if let Some(ids) = &self.index {
            // Back to a result whose index is kept: jumps are cheap, and its length is the count.
            self.count = Some(RowCount::Exact(ids.len() as u64));
            self.index_requested = true;
        }
        // The table shows a new filter from its first row.
        self.viewport = (0, self.viewport.1.saturating_sub(self.viewport.0));
        self.request_page(0, Priority::Urgent);
        // Counts and exact facets wait for the first page: on a small machine they would
        // otherwise compete with it for the same cores. The planner's estimate (no scan) goes
        // now, and so do the sampled facets: a fixed sample of pages, or no answer at all where
        // it would not be faster, so a slow first page does not hold up the first figures.
        self.followups_pending = true;
        self.sample_answered = false;
        self.exact_facets_asked = false;
        self.queue(
            Priority::Background,
            Request::EstimateCount(Arc::clone(&self.filter)),
        );
        self.queue(
            Priority::Background,
            Request::SampledFacets(Arc::clone(&self.filter)),
        );
    }

    /// Re-runs the current filter (after reconnecting, or Retry).
    pub fn refresh(&mut self) {
        let filter = (*self.filter).clone();
        self.set_filter(filter);
    }

    /// What to hand to the workers since the last call (the app calls this from `logic`; while
    /// not connected it drops them, and [`Browse::refresh`] asks again once connected).
    pub fn take_requests(&mut self) -> Requests {
        std::mem::take(&mut self.outbox)
    }

    fn queue(&mut self, priority: Priority, request: Request) {
        self.outbox.jobs.push(Outgoing {
            generation: self.generation,
            priority,
            request,
        });
    }

    /// Asks for the capped count of the current filter, once, and its exact facets if the
    /// sample has answered.
    fn request_followups(&mut self) {
        if !std::mem::take(&mut self.followups_pending) {
            return;
        }
        self.capped_pending = true;
        self.queue(
            Priority::Background,
            Request::CappedCount {
                filter: Arc::clone(&self.filter),
                cap: COUNT_CAP,
            },
        );
        self.request_exact_facets();
    }

    /// Asks for the exact facets, which replace the sampled ones, once both the first page and
    /// the sample's answer are in.
    fn request_exact_facets(&mut self) {
        if !self.sample_answered
            || self.followups_pending
            || std::mem::replace(&mut self.exact_facets_asked, true)
        {
            return;
        }
        self.queue(
            Priority::Background,
            Request::Facets(Arc::clone(&self.filter)),
        );
    }

    /// Whether the current result's index has arrived (jumps read it instead of an offset).
    pub fn has_result_index(&self) -> bool {
        self.index.is_some()
    }

    /// Whether jumps may use a result index (the default), or always go by offset.
    pub fn set_result_index(&mut self, allowed: bool) {
        self.offset_only = !allowed;
    }

    /// Asks for the current result's index, once, in the background.
    fn request_index(&mut self) {
        if self.offset_only || std::mem::replace(&mut self.index_requested, true) {
            return;
        }
        self.queue(
            Priority::Background,
            Request::ResultIds(Arc::clone(&self.filter)),
        );
    }

    /// Keeps `ids` as the index of the current result, within the cache's bounds.
    fn keep_index(&mut self, ids: Arc<Vec<i32>>) {
        self.indexes.retain(|(filter, _)| **filter != *self.filter);
        self.indexes
            .push_back((Arc::clone(&self.filter), Arc::clone(&ids)));
        while self.indexes.len() > INDEX_CACHE_RESULTS
            || (self.indexes.len() > 1
                && self.indexes.iter().map(|(_, ids)| ids.len()).sum::<usize>() > INDEX_CACHE_IDS)
        {
            self.indexes.pop_front();
        }
        self.count = Some(RowCount::Exact(ids.len() as u64));
        self.index = Some(ids);
    }

    /// Asks for the exact row count (status bar, or when scrolling reaches a capped count).
    pub fn request_exact_count(&mut self) {
        if self.exact_requested || matches!(self.count, Some(RowCount::Exact(_))) {
            return;
        }
        self.exact_requested = true;
        self.exact_pending = true;
        self.queue(
            Priority::Background,
            Request::ExactCount(Arc::clone(&self.filter)),
        );
    }

    /// Tells the model rows `first..=last` are on screen: missing visible pages are requested
    /// urgently, neighbours in the background, far pages evicted.
    pub fn show_rows(&mut self, first: u64, last: u64) {
        self.viewport = (first, last);
        if last >= INDEX_FROM_ROW {
            self.request_index();
        }
        let page_size = u64::from(PAGE_SIZE);
        let (first_page, last_page) = (first / page_size, last / page_size);
        for page in first_page..=last_page {
            self.request_page(page, Priority::Urgent);
        }
        // After a jump, the visible pages go first; neighbours follow once they have landed.
        if (first_page..=last_page).any(|page| !self.pages.contains_key(&page)) {
            self.evict(first_page, last_page);
            return;
        }
        let max_page = self.row_count().saturating_sub(1) / page_size;
        for page in first_page.saturating_sub(PREFETCH_PAGES)..first_page {
            self.request_page(page, Priority::Background);
        }
        for page in (last_page + 1)..=(last_page + PREFETCH_PAGES).min(max_page) {
            self.request_page(page, Priority::Background);
        }
        // Scrolled to the end of a capped or estimated count: find out how far it really goes.
        if !matches!(self.count, Some(RowCount::Exact(_)))
            && last + page_size * 2 >= self.row_count()
        {
            self.request_exact_count();
        }
        self.evict(first_page, last_page);
    }

    fn request_page(&mut self, page: u64, priority: Priority) {
        if self.pages.contains_key(&page) || self.pending_pages.contains(&page) {
            return;
        }
        if self.retry_at.is_some_and(|at| Instant::now() < at) {
            return;
        }
        let offset = page * u64::from(PAGE_SIZE);
        let request = match &self.index {
            // Through the index: the page's ids, looked up by key.
            Some(ids) => {
                let start = usize::try_from(offset).unwrap_or(usize::MAX).min(ids.len());
                let end = start.saturating_add(PAGE_SIZE as usize).min(ids.len());
                if start == end {
                    return; // Past the end of the result.
                }
                Request::PageAt {
                    offset,
                    ids: ids[start..end].to_vec(),
                }
            }
            None => Request::Page {
                filter: Arc::clone(&self.filter),
                offset,
                limit: PAGE_SIZE,
            },
        };
        self.pending_pages.insert(page);
        self.queue(priority, request);
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
    pub fn apply(&mut self, reply: &Reply) -> bool {
        if reply.topic != Topic::Browse || reply.generation != self.generation {
            return false;
        }
        self.last_query = Some(reply.elapsed);
        match reply.kind {
            RequestKind::CappedCount => self.capped_pending = false,
            RequestKind::ExactCount => self.exact_pending = false,
            _ => {}
        }
        match &reply.result {
            Err(error) if reply.kind == RequestKind::SampledFacets => {
                // The exact facets are what counts; the sample only answers sooner.
                tracing::warn!("the sampled facets failed: {error}");
                self.sample_answered = true;
                self.request_exact_facets();
            }
            Err(error) if reply.kind == RequestKind::ResultIds => {
                // Jumps go on by offset, as before the index; the table shows no error for it.
                tracing::warn!("the result index could not be built: {error}");
            }
            Err(error) => {
                if matches!(reply.kind, RequestKind::Page | RequestKind::PageAt) {
                    // Errors do not say which page they were for: forget every pending page so
                    // the next `show_rows` asks again, after a pause so a dead server is not
                    // asked every frame. The stale rows give way: they would claim to be
                    // on their way to being replaced.
                    self.pending_pages.clear();
                    self.stale = None;
                    self.retry_at = Some(Instant::now() + PAGE_RETRY_PAUSE);
                    self.request_followups();
                }
                self.last_error = Some(error.clone());
            }
            Ok(Answer::Page { offset, rows }) => {
                let page = offset / u64::from(PAGE_SIZE);
                self.pending_pages.remove(&page);
                self.stale = None;
                // A short page pins the end exactly (through the index, the index did).
                if rows.len() < PAGE_SIZE as usize && reply.kind == RequestKind::Page {
                    let end = offset + rows.len() as u64;
                    if rows.is_empty() && *offset > 0 {
                        // Past the end (the count was an overestimate); the exact count follows.
                    } else {
                        self.count = Some(RowCount::Exact(end));
                    }
                }
                self.request_followups();
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
            Ok(Answer::SampledFacets(sampled)) => {
                if let Some(facets) = sampled {
                    if let Some(sample) = facets.sample {
                        self.count = Some(merge_count(
                            self.count,
                            RowCount::Estimate(sample.estimated_matches()),
                        ));
                    }
                    // Exact facets never give way to estimates.
                    if self.facets.as_ref().is_none_or(|f| f.is_approximate()) {
                        self.facets = Some(facets.clone());
                    }
                }
                self.sample_answered = true;
                self.request_exact_facets();
            }
            Ok(Answer::ResultIds(ids)) => self.keep_index(Arc::clone(ids)),
            Ok(_) => {}
        }
        true
    }
}

/// Rows known from the cached pages alone (up to the end of the last one).
fn rows_cached(pages: &BTreeMap<u64, Vec<MovieRow>>) -> u64 {
    pages.iter().next_back().map_or(0, |(page, rows)| {
        page * u64::from(PAGE_SIZE) + rows.len() as u64
    })
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
            kind: RequestKind::Page,
            elapsed: Duration::from_millis(1),
            queued: Duration::ZERO,
            result: Ok(Answer::Page { offset, rows }),
        }
    }

    fn count_reply(generation: u64, kind: RequestKind, count: RowCount) -> Reply {
        Reply {
            kind,
            result: Ok(Answer::Count(count)),
            ..page_reply(generation, 0, 0)
        }
    }

    fn titled(title: &str) -> Filter {
        Filter {
            title: title.into(),
            ..Filter::default()
        }
    }

    #[test]
    fn a_new_filter_supersedes_the_old_one_and_asks_for_page_counts_and_facets() {
        let mut browse = Browse::default();
        browse.set_filter(Filter::default());
        let sent = browse.take_requests();
        assert_eq!(sent.supersede, Some(1));
        assert!(matches!(
            sent.jobs[0],
            Outgoing {
                generation: 1,
                priority: Priority::Urgent,
                request: Request::Page { offset: 0, .. }
            }
        ));
        assert!(
            !sent
                .jobs
                .iter()
                .any(|j| matches!(j.request, Request::Facets(_) | Request::CappedCount { .. })),
            "counts and exact facets wait for the first page"
        );
        assert!(
            sent.jobs.iter().any(|j| j.priority == Priority::Background
                && matches!(j.request, Request::SampledFacets(_))),
            "the sample goes at once"
        );
        browse.apply(&facets_reply(1, RequestKind::SampledFacets, None));
        assert!(
            !asks_for(&browse.take_requests(), RequestKind::Facets),
            "the exact facets still wait for the first page"
        );
        browse.apply(&page_reply(1, 0, 100));
        let sent = browse.take_requests();
        assert_eq!(sent.supersede, None);
        assert!(
            sent.jobs
                .iter()
                .any(|j| j.priority == Priority::Background
                    && matches!(j.request, Request::Facets(_)))
        );
        assert!(
            sent.jobs
                .iter()
                .any(|j| matches!(j.request, Request::CappedCount { cap: COUNT_CAP, .. }))
        );
        assert!(browse.is_counting());
        browse.apply(&count_reply(
            1,
            RequestKind::CappedCount,
            RowCount::AtLeast(COUNT_CAP),
        ));
        assert!(!browse.is_counting());
    }

    fn facets_reply(generation: u64, kind: RequestKind, facets: Option<Facets>) -> Reply {
        let result = match kind {
            RequestKind::SampledFacets => Ok(Answer::SampledFacets(facets)),
            _ => Ok(Answer::Facets(facets.unwrap_or_default())),
        };
        Reply {
            kind,
            result,
            ..page_reply(generation, 0, 0)
        }
    }

    fn drama(n: u64, sample: Option<crate::estimate::Sample>) -> Facets {
        Facets {
            genres: vec![("Drama".to_owned(), n)],
            sample,
            ..Facets::default()
        }
    }

    fn asks_for(requests: &Requests, kind: RequestKind) -> bool {
        requests.jobs.iter().any(|j| j.request.kind() == kind)
    }

    #[test]
    fn sampled_facets_come_first_and_the_exact_ones_replace_them() {
        let sample = crate::estimate::Sample {
            movies: 20_000,
            matches: 2_000,
            collection: 10_000_000,
            most_rated: 0,
        };
        let mut browse = Browse::default();
        browse.set_filter(titled("a"));
        assert!(asks_for(
            &browse.take_requests(),
            RequestKind::SampledFacets
        ));
        browse.apply(&page_reply(1, 0, 100));
        assert!(
            !asks_for(&browse.take_requests(), RequestKind::Facets),
            "the exact facets wait for the sample"
        );
        browse.apply(&facets_reply(
            1,
            RequestKind::SampledFacets,
            Some(drama(1_000_000, Some(sample))),
        ));
        assert!(browse.facets().unwrap().is_approximate());
        assert_eq!(
            browse.count(),
            Some(RowCount::Estimate(1_000_000)),
            "the sample's matches, scaled, estimate the count"
        );
        assert!(asks_for(&browse.take_requests(), RequestKind::Facets));
        browse.apply(&page_reply(1, 100, 100));
        assert!(
            !asks_for(&browse.take_requests(), RequestKind::Facets),
            "asked once"
        );
        browse.apply(&facets_reply(
            1,
            RequestKind::Facets,
            Some(drama(987_654, None)),
        ));
        assert_eq!(browse.facets(), Some(&drama(987_654, None)));
        // A late sample (it cannot come after the exact facets were asked for it, but an
        // estimate must never replace exact figures).
        browse.apply(&facets_reply(
            1,
            RequestKind::SampledFacets,
            Some(drama(1_000_000, Some(sample))),
        ));
        assert_eq!(browse.facets(), Some(&drama(987_654, None)));
    }

    #[test]
    fn no_sample_or_a_failed_one_goes_straight_to_the_exact_facets() {
        let mut browse = Browse::default();
        browse.set_filter(titled("a"));
        browse.apply(&page_reply(1, 0, 100));
        browse.take_requests();
        browse.apply(&facets_reply(1, RequestKind::SampledFacets, None));
        assert_eq!(browse.facets(), None);
        assert!(asks_for(&browse.take_requests(), RequestKind::Facets));

        browse.set_filter(titled("b"));
        browse.apply(&page_reply(2, 0, 100));
        browse.take_requests();
        browse.apply(&Reply {
            kind: RequestKind::SampledFacets,
            result: Err(DbError::new(
                crate::db::error::DbErrorKind::Query,
                "no sample".to_owned(),
            )),
            ..page_reply(2, 0, 0)
        });
        assert!(asks_for(&browse.take_requests(), RequestKind::Facets));
    }

    #[test]
    fn answers_for_an_older_filter_are_dropped() {
        let mut browse = Browse::default();
        browse.set_filter(Filter::default());
        browse.set_filter(titled("star"));
        assert!(!browse.apply(&page_reply(1, 0, 100)));
        assert!(
            browse.row(0).is_none(),
            "a row of another filter must never show"
        );
        assert!(browse.apply(&page_reply(2, 0, 100)));
        assert_eq!(browse.row(5).map(|r| r.id), Some(5));
    }

    #[test]
    fn the_old_rows_stay_marked_stale_until_the_new_first_page_lands() {
        let mut browse = Browse::default();
        browse.set_filter(Filter::default());
        browse.apply(&page_reply(1, 0, 100));
        browse.apply(&count_reply(
            1,
            RequestKind::ExactCount,
            RowCount::Exact(500),
        ));
        assert!(!browse.is_stale());

        browse.set_filter(titled("star"));
        assert!(browse.is_stale());
        assert_eq!(browse.row(3).map(|r| r.id), Some(3), "old rows stay");
        assert_eq!(browse.row_count(), 500, "and so does their count");
        // A second change before anything landed keeps the rows that were on screen.
        browse.set_filter(titled("star wars"));
        assert_eq!(browse.row(3).map(|r| r.id), Some(3));

        let mut page = page_reply(3, 0, 7);
        if let Ok(Answer::Page { rows, .. }) = &mut page.result {
            rows[3].id = 1_003;
        }
        browse.apply(&page);
        assert!(!browse.is_stale());
        assert_eq!(browse.row(3).map(|r| r.id), Some(1_003));
        assert_eq!(browse.row_count(), 7);
    }

    #[test]
    fn edits_wait_for_the_pause_and_invalid_text_drops_a_waiting_edit() {
        let mut browse = Browse::default();
        let t0 = Instant::now();
        assert_eq!(
            browse.change_filter(FilterChange::Edit(titled("y")), t0),
            None
        );
        assert_eq!(browse.tick(t0), Some(FILTER_DEBOUNCE));
        assert_eq!(
            browse.filter(),
            &Filter::default(),
            "not applied while typing"
        );
        // The rest of the text does not parse: "y" must never be applied.
        browse.change_filter(FilterChange::Invalid, t0 + Duration::from_millis(100));
        assert_eq!(browse.tick(t0 + FILTER_DEBOUNCE * 3), None);
        assert_eq!(browse.filter(), &Filter::default());

        browse.change_filter(FilterChange::Edit(titled("alien")), t0);
        browse.tick(t0 + FILTER_DEBOUNCE);
        assert_eq!(browse.filter(), &titled("alien"));
    }

    #[test]
    fn history_survives_as_text_and_comes_back_oldest_first() {
        let mut browse = Browse::default();
        let now = Instant::now();
        for title in ["a", "b", "c"] {
            browse.change_filter(FilterChange::Apply(titled(title)), now);
        }
        let texts = browse.history_texts(2);
        assert_eq!(texts, ["title:a", "title:b"]);
        let mut restarted = Browse::default();
        restarted.set_filter(titled("c"));
        restarted.restore_history(&[texts[0].clone(), "year:soon".into(), texts[1].clone()]);
        assert_eq!(
            restarted.change_filter(FilterChange::Back, now),
            Some(titled("b"))
        );
        assert_eq!(
            restarted.change_filter(FilterChange::Back, now),
            Some(titled("a")),
            "the unparsable entry is skipped"
        );
        assert!(!restarted.can_go_back());
    }

    #[test]
    fn a_tag_chip_narrows_the_waiting_edit_at_once_and_back_undoes_it() {
        let mut browse = Browse::default();
        let now = Instant::now();
        browse.change_filter(FilterChange::Edit(titled("alien")), now);
        let tagged = browse
            .change_filter(FilterChange::AddTag("space".into()), now)
            .expect("a tag chip applies at once");
        assert_eq!(tagged.title, "alien", "the waiting edit is not lost");
        assert_eq!(tagged.tags, ["space"]);
        assert_eq!(browse.filter(), &tagged);
        assert_eq!(browse.pending_filter(), None);
        assert_eq!(
            browse.change_filter(FilterChange::Back, now),
            Some(Filter::default())
        );
    }

    #[test]
    fn sort_and_clear_build_on_the_waiting_edit_and_back_undoes_them() {
        let mut browse = Browse::default();
        let now = Instant::now();
        browse.change_filter(FilterChange::Edit(titled("alien")), now);
        let sorted = browse
            .change_filter(FilterChange::Sort(SortColumn::Year, false), now)
            .expect("a header click applies at once");
        assert_eq!(sorted.title, "alien", "the waiting edit is not lost");
        assert_eq!(browse.filter(), &sorted);
        assert_eq!(browse.pending_filter(), None);

        let cleared = browse
            .change_filter(FilterChange::ClearConditions, now)
            .expect("clear applies at once");
        assert!(!cleared.has_conditions());
        assert_eq!(cleared.sort, sorted.sort, "clear keeps the sort");

        assert_eq!(
            browse.change_filter(FilterChange::Back, now),
            Some(sorted.clone())
        );
        assert_eq!(browse.filter(), &sorted);
        assert_eq!(
            browse.change_filter(FilterChange::Back, now),
            Some(Filter::default())
        );
        assert!(!browse.can_go_back());
        assert_eq!(browse.change_filter(FilterChange::Back, now), None);
        assert_eq!(
            browse.change_filter(FilterChange::Forward, now),
            Some(sorted)
        );
        assert_eq!(
            browse.change_filter(FilterChange::Forward, now),
            Some(cleared)
        );
        assert!(!browse.can_go_forward());
    }

    #[test]
    fn visible_pages_are_urgent_and_neighbours_prefetched_once() {
        let mut browse = Browse::default();
        browse.set_filter(Filter::default());
        browse.apply(&count_reply(
            1,
            RequestKind::CappedCount,
            RowCount::Exact(1_000_000),
        ));
        browse.take_requests();
        browse.show_rows(5_000, 5_030);
        // The neighbours wait until the visible page has landed, and are asked for once.
        browse.apply(&page_reply(1, 5_000, 100));
        browse.show_rows(5_000, 5_030);
        browse.show_rows(5_000, 5_030);
        let pages: Vec<(Priority, u64)> = browse
            .take_requests()
            .jobs
            .iter()
            .filter_map(|j| match &j.request {
                Request::Page { offset, .. } => Some((j.priority, offset / 100)),
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
        let mut browse = Browse::default();
        browse.set_filter(Filter::default());
        browse.apply(&page_reply(1, 0, 42));
        assert_eq!(browse.count(), Some(RowCount::Exact(42)));
        browse.apply(&count_reply(
            1,
            RequestKind::EstimateCount,
            RowCount::Estimate(60),
        ));
        assert_eq!(browse.count(), Some(RowCount::Exact(42)));
    }

    #[test]
    fn the_cache_stays_bounded_however_far_one_scrolls() {
        let mut browse = Browse::default();
        browse.set_filter(Filter::default());
        browse.apply(&count_reply(
            1,
            RequestKind::ExactCount,
            RowCount::Exact(10_000_000),
        ));
        for page in 0..(MAX_CACHED_PAGES as u64 * 2) {
            browse.show_rows(page * 100, page * 100 + 30);
            browse.apply(&page_reply(1, page * 100, 100));
        }
        assert!(browse.pages.len() <= MAX_CACHED_PAGES);
        assert!(
            browse
                .row(((MAX_CACHED_PAGES as u64 * 2) - 1) * 100)
                .is_some(),
            "the visible page stays"
        );
    }

    fn index_reply(generation: u64, ids: Vec<i32>) -> Reply {
        Reply {
            kind: RequestKind::ResultIds,
            result: Ok(Answer::ResultIds(Arc::new(ids))),
            ..page_reply(generation, 0, 0)
        }
    }

    fn index_requests(requests: &Requests) -> usize {
        requests
            .jobs
            .iter()
            .filter(|j| matches!(j.request, Request::ResultIds(_)))
            .count()
    }

    #[test]
    fn a_deep_viewport_asks_for_the_result_index_once_and_jumps_then_read_it() {
        let mut browse = Browse::default();
        browse.set_filter(Filter::default());
        browse.apply(&page_reply(1, 0, 100));
        browse.apply(&count_reply(
            1,
            RequestKind::CappedCount,
            RowCount::AtLeast(100_000),
        ));
        // Near the top an offset is cheap: no index.
        browse.show_rows(0, 39);
        assert_eq!(index_requests(&browse.take_requests()), 0);
        // Past INDEX_FROM_ROW: asked for once, in the background; pages go on by offset.
        browse.show_rows(20_000, 20_039);
        browse.show_rows(20_000, 20_039);
        let requests = browse.take_requests();
        assert_eq!(index_requests(&requests), 1);
        assert!(
            requests
                .jobs
                .iter()
                .any(|j| matches!(j.request, Request::Page { offset: 20_000, .. }))
        );
        assert!(!browse.has_result_index());

        // It arrives: the count is its length, and a page reads its ids.
        let ids: Vec<i32> = (0..30_050).rev().collect();
        browse.apply(&index_reply(1, ids.clone()));
        assert!(browse.has_result_index());
        assert_eq!(browse.count(), Some(RowCount::Exact(30_050)));
        browse.show_rows(25_000, 25_039);
        let jobs = browse.take_requests().jobs;
        let at = jobs
            .iter()
            .find_map(|j| match &j.request {
                Request::PageAt {
                    offset: 25_000,
                    ids,
                } => Some(ids.clone()),
                _ => None,
            })
            .expect("the visible page through the index");
        assert_eq!(at, ids[25_000..25_100]);
        assert!(
            !jobs
                .iter()
                .any(|j| matches!(j.request, Request::Page { .. }))
        );
        // The last page is short, and nothing is asked past the end.
        browse.apply(&page_reply(1, 25_000, 100));
        browse.show_rows(30_000, 30_049);
        let jobs = browse.take_requests().jobs;
        let last: Vec<(u64, usize)> = jobs
            .iter()
            .filter_map(|j| match &j.request {
                Request::PageAt { offset, ids } => Some((*offset, ids.len())),
                _ => None,
            })
            .collect();
        assert_eq!(last, vec![(30_000, 50)]);
        // A short page read through the index does not move the end the index gave.
        let mut short = page_reply(1, 30_000, 49);
        short.kind = RequestKind::PageAt;
        browse.apply(&short);
        assert_eq!(browse.count(), Some(RowCount::Exact(30_050)));
    }

    #[test]
    fn an_index_for_an_older_filter_is_dropped_and_back_reuses_a_kept_one() {
        let mut browse = Browse::default();
        browse.set_filter(titled("a"));
        browse.apply(&page_reply(1, 0, 100));
        browse.show_rows(15_000, 15_039);
        assert_eq!(index_requests(&browse.take_requests()), 1);
        browse.apply(&index_reply(1, (0..20_000).collect()));
        assert!(browse.has_result_index());

        // Another filter while its index builds: the old build's answer is dropped.
        browse.change_filter(FilterChange::Apply(titled("b")), Instant::now());
        browse.apply(&page_reply(2, 0, 100));
        browse.show_rows(12_000, 12_039);
        assert_eq!(index_requests(&browse.take_requests()), 1);
        browse.change_filter(FilterChange::Apply(titled("c")), Instant::now());
        assert!(!browse.apply(&index_reply(2, (0..50_000).collect())));
        assert!(!browse.has_result_index());

        // Back twice, to "a": its kept index serves at once, and gives the exact count.
        browse.change_filter(FilterChange::Back, Instant::now());
        browse.change_filter(FilterChange::Back, Instant::now());
        assert_eq!(browse.filter(), &titled("a"));
        assert!(browse.has_result_index());
        assert_eq!(browse.count(), Some(RowCount::Exact(20_000)));
        browse.take_requests();
        browse.show_rows(19_000, 19_039);
        let jobs = browse.take_requests().jobs;
        assert_eq!(
            index_requests(&Requests {
                supersede: None,
                jobs: jobs.clone()
            }),
            0
        );
        assert!(jobs.iter().any(|j| matches!(
            &j.request,
            Request::PageAt { offset: 19_000, ids } if ids[0] == 19_000
        )));
    }

    #[test]
    fn the_kept_indexes_stay_within_their_bounds() {
        let mut browse = Browse::default();
        for (n, title) in ["a", "b", "c", "d", "e", "f"].iter().enumerate() {
            browse.set_filter(titled(title));
            let generation = browse.generation();
            browse.apply(&index_reply(generation, vec![0; 1_000 + n]));
        }
        assert_eq!(browse.indexes.len(), INDEX_CACHE_RESULTS);
        // Two that together pass the id budget: only the newest is kept.
        let huge = INDEX_CACHE_IDS / 2 + 1;
        for title in ["x", "y"] {
            browse.set_filter(titled(title));
            let generation = browse.generation();
            browse.apply(&index_reply(generation, vec![0; huge]));
        }
        assert_eq!(browse.indexes.len(), 1);
        assert!(browse.has_result_index());
    }
}
