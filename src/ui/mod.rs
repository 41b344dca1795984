//! The window: `MarqueeApp` wires the connection lifecycle and the browse model to the views.
//!
//! Data moves one way: a view draws and pushes [`Command`]s; `App::logic` carries them out (the
//! one place with side effects: worker jobs, the connection test, drills), hands the browse
//! model's requests to the workers, and feeds worker [`Reply`]s back into the models that the
//! views draw next frame. No view touches the database, the pool or the workers, so each can be
//! tested on its own. See ARCHITECTURE.md.

pub mod command;
pub mod connection_dialog;
pub mod connection_state;
pub mod detail_pane;
pub mod export_dialog;
pub mod filter_bar;
pub mod local_copy_dialog;
pub mod movie_table;
pub mod pool_panel;
pub mod pool_stats;
pub mod status_bar;
pub mod summary_panel;
pub mod views_menu;
pub mod window;

use std::time::Instant;

use serde::{Deserialize, Serialize};

use crate::browse::{Browse, FilterChange};
use crate::config::{ConnectParams, PoolSettings, ServerChoice, Settings};
use crate::connection::{Connection, ConnectionTest, StartFailure, Waker};
use crate::db::error::DbErrorKind;
use crate::filter::Filter;
use crate::pool_stats::PoolStatsModel;
use crate::pool_stats::monitor::{Link, PoolMonitor};
use crate::worker::{Answer, Priority, Reply, Request, Topic};

pub use command::{Command, ThemeChoice};
use connection_dialog::ConnectionDialog;
use connection_state::ConnectionState;
use detail_pane::{DetailPane, DetailState};
use export_dialog::{ExportDialog, ExportStatus};
use filter_bar::FilterBar;
use movie_table::{MovieTable, TableLayout};
use pool_panel::PoolPanel;
use status_bar::{StatusBar, StatusInfo};
use summary_panel::{SummaryData, SummaryPanel};
use views_menu::ViewsMenu;

/// System fonts tried as fallbacks, so titles in Japanese, Chinese, Korean, Cyrillic, Greek or
/// with symbols the bundled font lacks are drawn instead of shown as boxes. Missing files are
/// skipped; the .deb depends on `fonts-wqy-microhei | fonts-noto-cjk` and `fonts-dejavu-core`
/// so an installed Marquee has them.
pub const FALLBACK_FONTS: &[&str] = &[
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/TTF/DejaVuSans.ttf",
    "/usr/share/fonts/dejavu-sans-fonts/DejaVuSans.ttf",
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/noto-cjk/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/google-noto-cjk/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
    "/usr/share/fonts/wqy-microhei/wqy-microhei.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",
    "/usr/share/fonts/truetype/droid/DroidSansFallbackFull.ttf",
    "/usr/share/fonts/google-droid-sans-fonts/DroidSansFallbackFull.ttf",
    "/System/Library/Fonts/PingFang.ttc",
    "/System/Library/Fonts/AppleSDGothicNeo.ttc",
    "C:\\Windows\\Fonts\\msyh.ttc",
    "C:\\Windows\\Fonts\\malgun.ttf",
    "C:\\Windows\\Fonts\\segoeui.ttf",
];

/// Adds whichever [`FALLBACK_FONTS`] exist, after egui's own fonts.
fn install_fallback_fonts(ctx: &egui::Context) {
    for path in FALLBACK_FONTS {
        let Ok(bytes) = std::fs::read(path) else {
            continue;
        };
        let families = [egui::FontFamily::Proportional, egui::FontFamily::Monospace]
            .into_iter()
            .map(|family| egui::epaint::text::InsertFontFamily {
                family,
                priority: egui::epaint::text::FontPriority::Lowest,
            })
            .collect();
        ctx.add_font(egui::epaint::text::FontInsert::new(
            path,
            egui::FontData::from_owned(bytes),
            families,
        ));
    }
}

/// An export under way: where it goes and how far it is.
struct RunningExport {
    path: std::path::PathBuf,
    progress: std::sync::Arc<std::sync::atomic::AtomicU64>,
    expected: Option<u64>,
}

/// The movie table keeps at least this width; side panels give way first.
const MIN_TABLE_WIDTH: f32 = 380.0;

/// What survives a restart (eframe persistence). Never holds the password: `ConnectParams`
/// skips it when serialized.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct State {
    /// The filter's text form (the same spelling the CLI takes).
    pub filter: String,
    /// Theme.
    pub theme: ThemeChoice,
    /// Column widths and visibility.
    pub table: TableLayout,
    /// The movie whose details were shown.
    pub selected_id: Option<i32>,
    /// A server chosen in the connection dialog (password not included).
    pub server: Option<ConnectParams>,
    /// Pool settings chosen in the connection dialog.
    pub pool: Option<PoolSettings>,
    /// Whether the pool stats panel is shown.
    pub pool_panel_open: bool,
    /// The summary panel: shown or not, and its settings.
    pub summary: SummaryPanel,
    /// The last filters Back returns to, oldest first (at most [`PERSISTED_HISTORY`]).
    pub history: Vec<String>,
}

/// How many Back steps survive a restart.
pub const PERSISTED_HISTORY: usize = 20;

/// The eframe application.
pub struct MarqueeApp {
    settings: Settings,
    /// Lets the connection's threads ask for a frame.
    waker: Waker,
    connection: Connection,
    browse: Browse,
    theme: ThemeChoice,
    filter_bar: FilterBar,
    table: MovieTable,
    detail_pane: DetailPane,
    detail: DetailState,
    detail_generation: u64,
    selected_id: Option<i32>,
    status_bar: StatusBar,
    connection_state: ConnectionState,
    dialog: ConnectionDialog,
    /// The dialog's "Test connection", while it runs.
    connection_test: Option<ConnectionTest>,
    /// The pool stats panel.
    pool_panel: PoolPanel,
    /// What the panel shows and the work it starts; also feeds the status bar's pool figures.
    pool_monitor: PoolMonitor,
    commands: Vec<Command>,
    /// Saved views: where they live, what was read, the menu, and the last outcome.
    view_store: crate::views::ViewStore,
    views: Vec<crate::views::SavedView>,
    views_menu: ViewsMenu,
    views_note: Option<String>,
    /// The Export… dialog, and the export the app runs for it.
    export_dialog: ExportDialog,
    export: Option<RunningExport>,
    export_status: ExportStatus,
    export_generation: u64,
    /// The platform save dialog's answer, while it is open.
    export_path_choice: Option<crossbeam_channel::Receiver<Option<std::path::PathBuf>>>,
    /// The tag completion asked for last, and its generation.
    suggest_text: Option<String>,
    suggest_generation: u64,
    /// The last error of a detail request, for the status bar.
    detail_error: Option<String>,
    /// The summary panel, what it shows, and the filter and settings last asked for.
    summary_panel: SummaryPanel,
    summary: SummaryData,
    summary_generation: u64,
    summary_asked: Option<(Filter, crate::summary::SummarySpec)>,
    summary_note: Option<String>,
    /// The column statistics asked for last (a header menu), and their generation.
    column_stats_asked: Option<(crate::repo::column_stats::StatColumn, Filter)>,
    column_stats_generation: u64,
    /// A chart being saved as PNG: the answer arrives here.
    chart_png: Option<crossbeam_channel::Receiver<Result<std::path::PathBuf, String>>>,
    /// "Copy locally…": the question while it is asked, and the copy once started.
    local_copy_question: Option<local_copy_dialog::LocalCopyQuestion>,
    local_copy: Option<crate::local_copy::LocalCopy>,
    /// The private store a local copy goes into.
    local_copy_dir: std::path::PathBuf,
}

impl MarqueeApp {
    /// Creates the app, restores the saved state and starts connecting in the background.
    /// `settings` come from flags > environment > config file; a server chosen in the dialog
    /// and saved last time is used only when none of those named one.
    pub fn new(cc: &eframe::CreationContext<'_>, settings: Settings) -> Self {
        let state: State = cc
            .storage
            .and_then(|storage| eframe::get_value(storage, eframe::APP_KEY))
            .unwrap_or_default();
        let mut settings = settings;
        if matches!(settings.server, ServerChoice::Private { .. })
            && let Some(server) = &state.server
        {
            settings.server = ServerChoice::External(server.clone());
        }
        if let Some(pool) = &state.pool {
            settings.pool = pool.clone();
        }
        state.theme.apply(&cc.egui_ctx);
        install_fallback_fonts(&cc.egui_ctx);
        let filter = Filter::parse(&state.filter).unwrap_or_default();
        let mut browse = Browse::default();
        // Not connected yet: the filter is recorded, and run once connected.
        browse.set_filter(filter.clone());
        browse.restore_history(&state.history);
        let waker = window_waker(&cc.egui_ctx);
        let connection = Connection::start(&settings, &waker);
        let local_copy_dir = match &settings.server {
            ServerChoice::Private { data_dir } => data_dir.clone(),
            ServerChoice::External(_) => std::env::var_os("MARQUEE_DATA_DIR")
                .map(std::path::PathBuf::from)
                .unwrap_or_else(crate::config::default_data_dir),
        };
        let mut app = Self {
            waker,
            dialog: ConnectionDialog::new(&settings),
            settings,
            connection,
            browse,
            theme: state.theme,
            filter_bar: FilterBar::new(&filter),
            table: MovieTable::new(state.table),
            detail_pane: DetailPane,
            detail: DetailState::Nothing,
            detail_generation: 0,
            selected_id: state.selected_id,
            status_bar: StatusBar,
            connection_state: ConnectionState,
            connection_test: None,
            pool_panel: PoolPanel::new(state.pool_panel_open),
            pool_monitor: PoolMonitor::default(),
            commands: Vec::new(),
            view_store: crate::views::ViewStore::default_location(),
            views: Vec::new(),
            views_menu: ViewsMenu::default(),
            views_note: None,
            export_dialog: ExportDialog::default(),
            export: None,
            export_status: ExportStatus::Idle,
            export_generation: 0,
            export_path_choice: None,
            suggest_text: None,
            suggest_generation: 0,
            detail_error: None,
            summary_panel: state.summary,
            summary: SummaryData::Empty,
            summary_generation: 0,
            summary_asked: None,
            summary_note: None,
            chart_png: None,
            column_stats_asked: None,
            column_stats_generation: 0,
            local_copy_question: None,
            local_copy: None,
            local_copy_dir,
        };
        app.reload_views();
        app
    }

    /// Where the settings came from (flags, environment, config file, service, password file),
    /// for the connection dialog.
    pub fn set_provenance(&mut self, provenance: crate::config::Provenance) {
        self.dialog.set_provenance(provenance);
    }

    /// Where "Copy locally…" writes: Marquee's private store in `dir` (tests use a scratch one).
    pub fn set_local_copy_dir(&mut self, dir: std::path::PathBuf) {
        self.local_copy_dir = dir;
    }

    /// Asks what "Copy locally…" would copy; `None` unless connected to data read in place.
    fn local_copy_question(&self) -> Option<local_copy_dialog::LocalCopyQuestion> {
        let Connection::Ready { backend, .. } = &self.connection else {
            return None;
        };
        let source = backend.pool.source();
        source
            .in_place()
            .then(|| local_copy_dialog::LocalCopyQuestion {
                source: source.describe(),
                source_target: backend.server.params.display_target(),
                data_dir: self.local_copy_dir.clone(),
            })
    }

    /// Starts the copy the question asked about, from the connection's server and source.
    fn start_local_copy(&mut self) {
        self.local_copy_question = None;
        let Connection::Ready { backend, .. } = &self.connection else {
            return;
        };
        match crate::local_copy::LocalCopy::start(
            backend.server.params.clone(),
            backend.pool.source().clone(),
            self.local_copy_dir.clone(),
            &self.waker,
        ) {
            Ok(copy) => self.local_copy = Some(copy),
            Err(message) => self.detail_error = Some(message),
        }
    }

    /// The browse model (tests and benchmarks read counts and rows from it).
    pub fn browse(&self) -> &Browse {
        &self.browse
    }

    /// What the summary panel shows (tests read the groups from it).
    pub fn summary(&self) -> &SummaryData {
        &self.summary
    }

    /// The connection state.
    pub fn connection(&self) -> &Connection {
        &self.connection
    }

    /// Reads saved views from `store` from now on (the config folder by default; tests use
    /// a folder of their own).
    pub fn set_view_store(&mut self, store: crate::views::ViewStore) {
        self.view_store = store;
        self.reload_views();
    }

    /// The saved views as last read.
    pub fn views(&self) -> &[crate::views::SavedView] {
        &self.views
    }

    fn reload_views(&mut self) {
        let result = self.view_store.load();
        self.apply_views_result(result);
    }

    /// Takes the views file's answer: the list, or the problem in words for the menu.
    fn apply_views_result(
        &mut self,
        result: Result<crate::views::Loaded, crate::views::ViewsError>,
    ) {
        match result {
            Ok(loaded) => {
                self.views_note = loaded.set_aside.map(|aside| {
                    format!(
                        "The saved views file did not parse; it was kept as {} and a new one started",
                        aside.display()
                    )
                });
                self.views = loaded.views;
            }
            Err(err) => self.views_note = Some(err.to_string()),
        }
    }

    fn open_view(&mut self, name: &str) {
        let Some(view) = self.views.iter().find(|v| v.name == name).cloned() else {
            self.views_note = Some(crate::views::ViewsError::NotFound(name.to_owned()).to_string());
            return;
        };
        match view.parsed_filter() {
            Ok(filter) => {
                if !view.columns.is_empty() {
                    self.table.show_only_columns(&view.columns);
                }
                if let Some(spec) = view.summary {
                    self.summary_panel.spec = spec;
                    self.summary_panel.open = true;
                }
                self.change_filter(FilterChange::Apply(filter));
                self.views_note = None;
            }
            Err(err) => self.views_note = Some(err.to_string()),
        }
    }

    /// What the pool stats panel shows and the outcome of its actions (tests read it).
    pub fn pool_monitor(&self) -> &PoolMonitor {
        &self.pool_monitor
    }

    /// What the pool stats panel shows.
    pub fn pool_stats(&self) -> &PoolStatsModel {
        self.pool_monitor.model()
    }

    /// The state that [`eframe::App::save`] writes.
    pub fn state(&self) -> State {
        let (server, pool) = match &self.settings.server {
            ServerChoice::External(params) => {
                (Some(params.clone()), Some(self.settings.pool.clone()))
            }
            ServerChoice::Private { .. } => (None, Some(self.settings.pool.clone())),
        };
        State {
            filter: self.browse.filter().to_text(),
            theme: self.theme,
            table: self.table.layout.clone(),
            selected_id: self.selected_id,
            server,
            pool,
            pool_panel_open: self.pool_panel.open,
            summary: self.summary_panel.clone(),
            history: self.browse.history_texts(PERSISTED_HISTORY),
        }
    }

    /// The one route for filter changes: the browse model applies (or waits), and the bar shows
    /// the result when the change did not come from its own editing.
    fn change_filter(&mut self, change: FilterChange) {
        if let Some(shown) = self.browse.change_filter(change, Instant::now()) {
            self.filter_bar.show(&shown);
        }
    }

    /// Hands what the browse model asked for to the workers. Not connected: dropped, and asked
    /// again by `refresh` once connected.
    fn send_browse_requests(&mut self) {
        let requests = self.browse.take_requests();
        if let Some(workers) = self.connection.workers() {
            requests.send(workers);
        }
    }

    fn pool_link(&self) -> Link<'_> {
        match (
            self.connection.pool(),
            self.connection.workers(),
            self.connection.link_status(),
        ) {
            (Some(pool), Some(workers), _) => Link::Ready(pool, workers),
            (_, _, Some(status)) => Link::Down(status),
            // Connected without workers cannot happen; say "connecting" rather than guess.
            _ => Link::Down(crate::pool_stats::LinkStatus::Connecting { attempt: 0 }),
        }
    }

    fn request_details(&mut self, id: i32) {
        self.selected_id = Some(id);
        self.detail_generation += 1;
        let Some(workers) = self.connection.workers() else {
            self.detail = DetailState::Loading(id);
            return;
        };
        workers.supersede(Topic::Detail, self.detail_generation);
        workers.submit(
            Topic::Detail,
            self.detail_generation,
            Priority::Urgent,
            Request::Details(id),
        );
        // Keep showing the previous movie until the new one arrives, unless nothing was shown.
        if !matches!(self.detail, DetailState::Loaded(_)) {
            self.detail = DetailState::Loading(id);
        }
    }

    fn apply_reply(&mut self, reply: Reply) {
        match reply.topic {
            Topic::Browse => {
                self.browse.apply(&reply);
            }
            Topic::Detail if reply.generation == self.detail_generation => match reply.result {
                Ok(Answer::Details(Some(bundle))) => {
                    self.detail_error = None;
                    self.detail = DetailState::Loaded(bundle);
                }
                Ok(Answer::Details(None)) => {
                    if let Some(id) = self.selected_id {
                        self.detail = DetailState::Missing(id);
                    }
                }
                Ok(_) => {}
                Err(err) => {
                    self.detail_error = Some(err.to_string());
                    self.detail = DetailState::Failed(err.to_string());
                }
            },
            Topic::Admin => self.pool_monitor.apply_reply(reply),
            Topic::Suggest if reply.generation == self.suggest_generation => {
                if let (Ok(Answer::Tags(tags)), Some(text)) = (reply.result, &self.suggest_text) {
                    let tags = tags.into_iter().map(|(tag, _)| tag).collect();
                    self.filter_bar.set_tag_suggestions(text, tags);
                }
            }
            Topic::Suggest => {}
            Topic::Export if reply.generation == self.export_generation => {
                if let Some(export) = self.export.take() {
                    self.export_status = match reply.result {
                        Ok(Answer::Exported(rows)) => ExportStatus::Done {
                            rows,
                            path: export.path,
                        },
                        Ok(_) => ExportStatus::Idle,
                        Err(err) => ExportStatus::Failed(format!(
                            "The export failed and nothing was written: {err}"
                        )),
                    };
                }
            }
            Topic::Export => {}
            Topic::Detail => {}
            Topic::Summary if reply.generation == self.summary_generation => {
                match reply.result {
                    // The estimate shows (marked ≈) while the exact summary is read; with none,
                    // the panel goes on loading. Either way the exact one is asked for now.
                    Ok(Answer::SampledSummary(sampled)) => {
                        if let Some(summary) = sampled {
                            self.summary = SummaryData::Ready(summary);
                        }
                        self.request_exact_summary();
                    }
                    Err(err) if reply.kind == crate::worker::RequestKind::SampledSummary => {
                        tracing::warn!("the sampled summary failed: {err}");
                        self.request_exact_summary();
                    }
                    Ok(Answer::Summary(summary)) => self.summary = SummaryData::Ready(summary),
                    Ok(_) => self.summary = SummaryData::Empty,
                    Err(err) => {
                        self.summary = SummaryData::Failed(format!("The summary failed: {err}"));
                    }
                }
            }
            Topic::Summary => {}
            Topic::ColumnStats if reply.generation == self.column_stats_generation => {
                if let Some((column, _)) = &self.column_stats_asked {
                    self.table.column_stats = match reply.result {
                        Ok(Answer::ColumnStats(stats)) => Some((*column, Ok(*stats))),
                        Ok(_) => None,
                        Err(err) => Some((*column, Err(format!("No statistics: {err}")))),
                    };
                }
            }
            Topic::ColumnStats => {}
        }
    }

    /// Carries out what the views asked for: the one place with side effects.
    fn apply_commands(&mut self, ctx: &egui::Context) {
        for command in std::mem::take(&mut self.commands) {
            match command {
                Command::Filter(change) => self.change_filter(change),
                Command::OpenView(name) => self.open_view(&name),
                Command::SaveView(name) => {
                    let view = crate::views::SavedView {
                        name,
                        filter: self.browse.filter().to_text(),
                        columns: self.table.visible_column_names(),
                        summary: self
                            .summary_panel
                            .open
                            .then(|| self.summary_panel.spec.clone()),
                    };
                    let result = self.view_store.save(view);
                    self.apply_views_result(result);
                }
                Command::RenameView(old, new) => {
                    let result = self.view_store.rename(&old, &new);
                    self.apply_views_result(result);
                }
                Command::DeleteView(name) => {
                    let result = self.view_store.delete(&name);
                    self.apply_views_result(result);
                }
                Command::OpenExport => {
                    if self.export.is_none() {
                        self.export_status = ExportStatus::Idle;
                    }
                    self.export_dialog
                        .open_with(crate::export::default_path("marquee-export.csv"));
                }
                Command::StartExport(path) => self.start_export(path),
                Command::ChooseExportPath(suggested) => {
                    let (tx, rx) = crossbeam_channel::bounded(1);
                    let waker = std::sync::Arc::clone(&self.waker);
                    crate::export::choose_path(&suggested, move |chosen| {
                        let _ = tx.send(chosen);
                        waker(std::time::Duration::ZERO);
                    });
                    self.export_path_choice = Some(rx);
                }
                Command::CancelExport => {
                    self.export_generation += 1;
                    if let Some(workers) = self.connection.workers() {
                        workers.supersede(Topic::Export, self.export_generation);
                    }
                    self.export = None;
                    self.export_status = ExportStatus::Cancelled;
                }
                Command::SuggestTags(text) => {
                    self.suggest_generation += 1;
                    if let Some(workers) = self.connection.workers() {
                        workers.supersede(Topic::Suggest, self.suggest_generation);
                        workers.submit(
                            Topic::Suggest,
                            self.suggest_generation,
                            Priority::Urgent,
                            Request::TagSuggestions(text.clone()),
                        );
                    }
                    self.suggest_text = Some(text);
                }
                Command::ShowRows(first, last) => self.browse.show_rows(first, last),
                Command::Select(Some(id)) => self.request_details(id),
                Command::Select(None) => {
                    self.selected_id = None;
                    self.detail = DetailState::Nothing;
                }
                Command::Copy(text) => ctx.copy_text(text),
                Command::RequestExactCount => self.browse.request_exact_count(),
                Command::Retry => self.reconnect(),
                Command::AskLocalCopy => {
                    let running = self
                        .local_copy
                        .as_ref()
                        .is_some_and(|c| c.phase() == crate::local_copy::CopyPhase::Running);
                    if !running {
                        self.local_copy_question = self.local_copy_question();
                    }
                }
                Command::StartLocalCopy => self.start_local_copy(),
                Command::CancelLocalCopy => self.local_copy_question = None,
                Command::OpenLocalCopy => {
                    if let Some(copy) = self.local_copy.take() {
                        self.settings = copy.open_settings(&self.settings);
                        self.dialog.load(&self.settings);
                        self.reconnect();
                    }
                }
                Command::OpenSettings => {
                    // A test of the last opening must not answer for this one.
                    self.connection_test = None;
                    self.dialog.load(&self.settings);
                    self.dialog.open = true;
                }
                Command::TestConnection(params) => {
                    match ConnectionTest::start(*params, &self.waker) {
                        Ok(test) => self.connection_test = Some(test),
                        Err(message) => self.dialog.set_test_result(Err(message)),
                    }
                }
                Command::ApplySettings(settings) => {
                    self.settings = *settings;
                    self.reconnect();
                }
                Command::SetTheme(theme) => {
                    self.theme = theme;
                    theme.apply(ctx);
                }
                Command::ToggleSummary => {
                    self.summary_panel.open = !self.summary_panel.open;
                }
                Command::SaveSummaryCsv(path) => self.save_summary_csv(&path),
                Command::SaveChartPng(path) => self.save_chart_png(ctx, path),
                Command::ColumnStats(column) => self.request_column_stats(column),
                Command::TogglePoolPanel => {
                    self.pool_panel.open = !self.pool_panel.open;
                    if self.pool_panel.open {
                        self.pool_monitor.opened();
                    }
                    ctx.request_repaint();
                }
                Command::PoolStats(action) => {
                    let link = match (self.connection.pool(), self.connection.workers()) {
                        (Some(pool), Some(workers)) => Link::Ready(pool, workers),
                        _ => Link::Down(crate::pool_stats::LinkStatus::Connecting { attempt: 0 }),
                    };
                    self.pool_monitor.apply(action, link);
                    ctx.request_repaint();
                }
            }
        }
    }

    /// Asks the workers for the summary when the panel is open and the filter's conditions or
    /// the panel's settings differ from what was last asked; the one before is superseded
    /// (cancelled on the server) and stays on screen until the answer comes.
    fn refresh_summary(&mut self) {
        if !self.summary_panel.open {
            return;
        }
        let Some(workers) = self.connection.workers() else {
            return;
        };
        // The sort does not change the groups.
        let filter = Filter {
            sort: Vec::new(),
            ..self.browse.filter().clone()
        };
        let wanted = (filter, self.summary_panel.spec.clone());
        if self.summary_asked.as_ref() == Some(&wanted) {
            return;
        }
        self.summary_generation += 1;
        workers.supersede(Topic::Summary, self.summary_generation);
        // A sample answers first on a large collection; the exact summary follows its answer.
        workers.submit(
            Topic::Summary,
            self.summary_generation,
            Priority::Urgent,
            Request::SampledSummary {
                filter: std::sync::Arc::new(wanted.0.clone()),
                spec: wanted.1.clone(),
            },
        );
        self.summary_asked = Some(wanted);
        let previous = match std::mem::take(&mut self.summary) {
            SummaryData::Ready(s) | SummaryData::Loading(Some(s)) => Some(s),
            _ => None,
        };
        self.summary = SummaryData::Loading(previous);
    }

    /// Asks for the exact summary of what was last asked, in the same generation: after its
    /// sampled answer (or none) came in.
    fn request_exact_summary(&mut self) {
        let (Some(workers), Some((filter, spec))) =
            (self.connection.workers(), self.summary_asked.as_ref())
        else {
            return;
        };
        workers.submit(
            Topic::Summary,
            self.summary_generation,
            Priority::Urgent,
            Request::Summarize {
                filter: std::sync::Arc::new(filter.clone()),
                spec: spec.clone(),
            },
        );
    }

    /// Asks for a column's statistics under the current filter, unless they were just asked.
    fn request_column_stats(&mut self, column: crate::repo::column_stats::StatColumn) {
        let wanted = (column, self.browse.filter().clone());
        if self.column_stats_asked.as_ref() == Some(&wanted) {
            return;
        }
        let Some(workers) = self.connection.workers() else {
            return;
        };
        self.column_stats_generation += 1;
        workers.supersede(Topic::ColumnStats, self.column_stats_generation);
        workers.submit(
            Topic::ColumnStats,
            self.column_stats_generation,
            Priority::Urgent,
            Request::ColumnStats {
                filter: std::sync::Arc::new(wanted.1.clone()),
                column,
            },
        );
        self.column_stats_asked = Some(wanted);
        self.table.column_stats = None;
    }

    /// Writes the summary on screen as CSV, whole or not at all (a temporary file renamed).
    fn save_summary_csv(&mut self, path: &std::path::Path) {
        let Some(summary) = self.summary.summary() else {
            return;
        };
        let result = crate::export::write_whole(path, |out| summary.write_csv(out));
        self.summary_note = Some(match result {
            Ok(()) => format!(
                "Saved {} to {}",
                crate::plural::count(summary.rows.len() as u64, "group", "groups"),
                path.display()
            ),
            Err(err) => format!("Could not save {}: {err:#}", path.display()),
        });
    }

    /// Saves the chart as drawn: the next frame's pixels, cropped to the chart, are encoded and
    /// written on a thread of their own; the note reports back.
    fn save_chart_png(&mut self, ctx: &egui::Context, path: std::path::PathBuf) {
        let Some(rect) = self.summary_panel.chart_rect() else {
            self.summary_note = Some("There is no chart on screen to save".into());
            return;
        };
        let (tx, rx) = crossbeam_channel::bounded(1);
        let waker = std::sync::Arc::clone(&self.waker);
        let pixels_per_point = ctx.pixels_per_point();
        ctx.request_screenshot(move |image| {
            let spawned = std::thread::Builder::new()
                .name("marquee-save-png".into())
                .spawn(move || {
                    let chart = image.region(&rect, Some(pixels_per_point));
                    let result = crate::export::write_png(&chart, &path)
                        .map(|()| path.clone())
                        .map_err(|err| format!("Could not save {}: {err:#}", path.display()));
                    let _ = tx.send(result);
                    waker(std::time::Duration::ZERO);
                });
            if let Err(err) = spawned {
                tracing::warn!("could not save the chart: {err}");
            }
        });
        self.chart_png = Some(rx);
        self.summary_note = Some("Saving the chart…".into());
    }

    /// Starts exporting the current filter to `path` on a worker; the dialog follows it.
    fn start_export(&mut self, path: std::path::PathBuf) {
        let Some(workers) = self.connection.workers() else {
            self.export_status =
                ExportStatus::Failed("Not connected: nothing to export yet".into());
            return;
        };
        self.export_generation += 1;
        let progress = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
        workers.submit(
            Topic::Export,
            self.export_generation,
            Priority::Background,
            Request::Export {
                filter: std::sync::Arc::new(self.browse.filter().clone()),
                path: path.clone(),
                progress: std::sync::Arc::clone(&progress),
            },
        );
        let expected = match self.browse.count() {
            Some(crate::repo::movies::RowCount::Exact(n)) => Some(n),
            _ => None,
        };
        self.export = Some(RunningExport {
            path,
            progress,
            expected,
        });
    }

    /// Replaces the connection (Retry, Apply): the old one closes on a background thread.
    fn reconnect(&mut self) {
        let next = Connection::start(&self.settings, &self.waker);
        std::mem::replace(&mut self.connection, next).close_in_background();
        self.pool_monitor.disconnect();
    }

    /// Keyboard shortcuts that belong to no single view: `/` focuses search, Esc clears (Back
    /// undoes it), Alt+←/→ go back and forward, F2 shows or hides the pool stats panel, and
    /// filter text pasted outside a text field is applied.
    fn shortcuts(&mut self, ctx: &egui::Context) {
        // F2 and Alt+arrows type nothing, so they work even while a text field has the focus.
        let (f2, f3, back, forward) = ctx.input_mut(|i| {
            (
                i.consume_key(egui::Modifiers::NONE, egui::Key::F2),
                i.consume_key(egui::Modifiers::NONE, egui::Key::F3),
                i.consume_key(egui::Modifiers::ALT, egui::Key::ArrowLeft),
                i.consume_key(egui::Modifiers::ALT, egui::Key::ArrowRight),
            )
        });
        if f2 {
            self.commands.push(Command::TogglePoolPanel);
        }
        if f3 {
            self.commands.push(Command::ToggleSummary);
        }
        if back {
            self.commands.push(Command::Filter(FilterChange::Back));
        }
        if forward {
            self.commands.push(Command::Filter(FilterChange::Forward));
        }
        let typing = ctx
            .memory(|m| m.focused())
            .is_some_and(|id| egui::TextEdit::load_state(ctx, id).is_some());
        if typing {
            return;
        }
        let dialog_open =
            self.dialog.open || self.export_dialog.open || self.local_copy_question.is_some();
        let (slash, escape) = ctx.input_mut(|i| {
            let slash = i.consume_key(egui::Modifiers::NONE, egui::Key::Slash);
            if slash {
                // The same keystroke also arrives as text; it must not land in the field.
                i.events
                    .retain(|e| !matches!(e, egui::Event::Text(t) if t == "/"));
            }
            // With the dialog open, Esc is the dialog's (it closes it).
            let escape = !dialog_open && i.consume_key(egui::Modifiers::NONE, egui::Key::Escape);
            (slash, escape)
        });
        if slash {
            self.filter_bar.focus_search();
        }
        if escape {
            self.commands
                .push(Command::Filter(FilterChange::ClearConditions));
        }
        // Filter text pasted with nothing focused (a text field takes its own paste).
        let pasted = ctx.input(|i| {
            i.events.iter().find_map(|e| match e {
                egui::Event::Paste(text) => Some(text.clone()),
                _ => None,
            })
        });
        if let Some(text) = pasted
            && let Ok(filter) = Filter::parse(text.trim())
        {
            self.commands
                .push(Command::Filter(FilterChange::Apply(filter)));
        }
    }

    fn status_info(&self) -> StatusInfo {
        let (state, state_is_error, target, server_version) = match &self.connection {
            Connection::Starting { step, .. } => (step.clone(), false, None, None),
            Connection::Failed {
                failure,
                next_retry,
                ..
            } => {
                let mut text = connection_state::explain(failure.kind).0.to_owned();
                if let Some(at) = next_retry {
                    let secs = at.saturating_duration_since(Instant::now()).as_secs();
                    text.push_str(&format!(" — retrying in {secs} s"));
                }
                (text, true, None, None)
            }
            Connection::Ready { backend, .. } => (
                "Connected".to_owned(),
                false,
                Some(backend.server.params.display_target()),
                backend.server_version.clone(),
            ),
        };
        let target = target.or_else(|| match &self.settings.server {
            ServerChoice::External(params) => Some(params.display_target()),
            ServerChoice::Private { .. } => Some("private server".to_owned()),
        });
        let connected = matches!(self.connection, Connection::Ready { .. });
        let source = match &self.connection {
            Connection::Ready { backend, .. } => Some(status_bar::SourceStatus::new(
                backend.pool.source(),
                backend.server.cluster.is_some(),
            )),
            _ => None,
        };
        let snapshot = self.pool_monitor.model().snapshot().filter(|_| connected);
        // Only while it stands: once a query succeeded after it, it is history (the pool stats
        // panel keeps it), not something the status bar should keep shouting.
        let pool_error = snapshot
            .and_then(|s| {
                s.last_error
                    .as_ref()
                    .filter(|(_, at)| s.last_success.is_none_or(|ok| ok < *at))
            })
            .map(|(e, _)| e.to_string());
        StatusInfo {
            target,
            server_version,
            state,
            state_is_error,
            connected,
            count: self.browse.count(),
            counting: self.browse.is_counting(),
            last_query: self.browse.last_query,
            pool: snapshot.map(|s| (s.in_use, s.idle, s.max)),
            reads: snapshot
                .and_then(|s| status_bar::ReadsStatus::of(&s.hosts, s.reads_fall_back())),
            last_error: self
                .browse
                .last_error
                .as_ref()
                .map(ToString::to_string)
                .or_else(|| self.detail_error.clone())
                .or(pool_error),
            source,
            local_copy: self
                .local_copy
                .as_ref()
                .map(|copy| status_bar::LocalCopyStatus {
                    label: copy.label(),
                    phase: copy.phase(),
                }),
        }
    }

    fn top_bar_ui(&mut self, ui: &mut egui::Ui) {
        ui.horizontal(|ui| {
            ui.label(egui::RichText::new("Marquee").strong().size(16.0));
            if ui
                .add_enabled(self.browse.can_go_back(), egui::Button::new("◀ Back"))
                .on_hover_text("The filter before this one (Alt+←)")
                .clicked()
            {
                self.commands.push(Command::Filter(FilterChange::Back));
            }
            if ui
                .add_enabled(self.browse.can_go_forward(), egui::Button::new("Forward ▶"))
                .on_hover_text("Undo Back (Alt+→)")
                .clicked()
            {
                self.commands.push(Command::Filter(FilterChange::Forward));
            }
            ui.with_layout(egui::Layout::right_to_left(egui::Align::Center), |ui| {
                let (label, next) = match self.theme {
                    ThemeChoice::Dark => ("Light theme", ThemeChoice::Light),
                    ThemeChoice::Light => ("Dark theme", ThemeChoice::Dark),
                };
                if ui.button(label).on_hover_text("Switch theme").clicked() {
                    self.commands.push(Command::SetTheme(next));
                }
                if ui.button("Connection…").clicked() {
                    self.commands.push(Command::OpenSettings);
                }
                self.views_menu.ui(
                    ui,
                    &self.views,
                    self.views_note.as_deref(),
                    &mut self.commands,
                );
                if ui
                    .button("Export…")
                    .on_hover_text("Save the movies of the current filter as CSV")
                    .clicked()
                {
                    self.commands.push(Command::OpenExport);
                }
                if ui
                    .add(egui::Button::new("Summary").selected(self.summary_panel.open))
                    .on_hover_text("Group the filtered movies and chart them (F3)")
                    .clicked()
                {
                    self.commands.push(Command::ToggleSummary);
                }
                if ui
                    .add(egui::Button::new("Pool").selected(self.pool_panel.open))
                    .on_hover_text("Show or hide the connection pool panel (F2)")
                    .clicked()
                {
                    self.commands.push(Command::TogglePoolPanel);
                }
            });
        });
    }
}

/// A [`Waker`] that asks egui for a frame.
fn window_waker(ctx: &egui::Context) -> Waker {
    let ctx = ctx.clone();
    std::sync::Arc::new(move |after| ctx.request_repaint_after(after))
}

impl eframe::App for MarqueeApp {
    fn logic(&mut self, ctx: &egui::Context, _frame: &mut eframe::Frame) {
        let now = Instant::now();
        if self.connection.poll(&self.settings, &self.waker) {
            self.browse.refresh();
            self.summary_asked = None;
            if let Some(id) = self.selected_id {
                self.request_details(id);
            }
        }
        let mut replies = Vec::new();
        self.connection.drain_replies(|reply| replies.push(reply));
        for reply in replies {
            self.apply_reply(reply);
        }
        self.apply_commands(ctx);
        if let Some(wait) = self.browse.tick(now) {
            ctx.request_repaint_after(wait);
        }
        self.send_browse_requests();
        self.refresh_summary();
        // Column statistics belong to the filter they were counted for.
        if self
            .column_stats_asked
            .as_ref()
            .is_some_and(|(_, filter)| filter != self.browse.filter())
        {
            self.column_stats_asked = None;
            self.table.column_stats = None;
        }
        if let Some(saved) = self.chart_png.as_ref().and_then(|rx| rx.try_recv().ok()) {
            self.chart_png = None;
            self.summary_note = Some(match saved {
                Ok(path) => format!("Saved the chart to {}", path.display()),
                Err(message) => message,
            });
        }
        if let Some(choice) = &self.export_path_choice
            && let Ok(chosen) = choice.try_recv()
        {
            self.export_path_choice = None;
            if let Some(path) = chosen {
                self.export_dialog.set_path(&path);
            }
        }
        if let Some(export) = &self.export {
            self.export_status = ExportStatus::Running {
                rows: export.progress.load(std::sync::atomic::Ordering::Relaxed),
                expected: export.expected,
                path: export.path.clone(),
            };
            // The progress has no event of its own: look again a few times a second.
            ctx.request_repaint_after(std::time::Duration::from_millis(200));
        }
        if let Some(copy) = &mut self.local_copy {
            copy.poll();
        }
        if let Some(result) = self.connection_test.as_ref().and_then(|t| t.poll(now)) {
            self.connection_test = None;
            self.dialog.set_test_result(result);
        }
        // Also while hidden, so the panel has history and health when it opens; `logic` only
        // runs when a frame does, hence the repaint.
        let open = self.pool_panel.open;
        let mut monitor = std::mem::take(&mut self.pool_monitor);
        let next_sample = monitor.logic(self.pool_link(), open, now);
        self.pool_monitor = monitor;
        ctx.request_repaint_after(next_sample);
    }

    fn ui(&mut self, ui: &mut egui::Ui, _frame: &mut eframe::Frame) {
        let ctx = ui.ctx().clone();
        self.shortcuts(&ctx);
        let mut commands = std::mem::take(&mut self.commands);

        egui::Panel::top("top_bar").show(ui, |ui| {
            self.top_bar_ui(ui);
            ui.add_space(2.0);
            self.filter_bar.ui(ui, self.browse.facets(), &mut commands);
            ui.add_space(2.0);
        });
        let info = self.status_info();
        egui::Panel::bottom("status_bar").show(ui, |ui| {
            self.status_bar.ui(ui, &info, &mut commands);
        });
        // Side panels give way to the table: it keeps at least MIN_TABLE_WIDTH points, and in a
        // narrow window an open pool panel takes the detail pane's place.
        let width = ui.available_width();
        let detail_width = (width * 0.28).clamp(220.0, 360.0);
        let pool_width = (width * 0.4).clamp(300.0, 460.0);
        let show_detail = matches!(self.connection, Connection::Ready { .. })
            && (!self.pool_panel.open || width - pool_width - detail_width >= MIN_TABLE_WIDTH);
        if self.pool_panel.open {
            let max_width = (width - MIN_TABLE_WIDTH).max(pool_width);
            egui::Panel::right("pool_stats")
                .resizable(true)
                .default_size(pool_width)
                .size_range(280.0..=max_width)
                .show(ui, |ui| {
                    let actions = self.pool_panel.ui(ui, &self.pool_monitor);
                    commands.extend(actions.into_iter().map(Command::PoolStats));
                });
        }
        if show_detail {
            egui::Panel::right("detail_pane")
                .resizable(true)
                .default_size(detail_width)
                .size_range(200.0..=(width * 0.5).max(220.0))
                .show(ui, |ui| {
                    ui.add_space(6.0);
                    self.detail_pane.ui(ui, &self.detail, &mut commands);
                });
        }
        if self.summary_panel.open && matches!(self.connection, Connection::Ready { .. }) {
            let height = ui.available_height();
            egui::Panel::bottom("summary_panel")
                .resizable(true)
                .default_size((height * 0.45).clamp(180.0, 420.0))
                // The movie table keeps at least 40 % of the height.
                .size_range(140.0..=(height * 0.6).max(160.0))
                .show(ui, |ui| {
                    // Fill the panel, so its remembered size is the size given, not the
                    // content's (a spinner's) height.
                    ui.set_min_height(ui.available_height());
                    ui.add_space(4.0);
                    self.summary_panel.ui(
                        ui,
                        &self.summary,
                        self.browse.filter(),
                        &self.views,
                        self.summary_note.as_deref(),
                        &mut commands,
                    );
                });
        }
        egui::CentralPanel::default().show(ui, |ui| match &self.connection {
            Connection::Starting {
                step,
                progress,
                since,
                attempt,
                ..
            } => {
                self.connection_state
                    .starting_ui(ui, step, progress.as_ref(), *since, *attempt);
            }
            Connection::Failed {
                failure,
                next_retry,
                ..
            } => {
                self.connection_state
                    .failed_ui(ui, failure, *next_retry, &mut commands);
            }
            Connection::Ready { .. } => {
                self.table.ui(ui, &self.browse, &mut commands);
            }
        });
        self.dialog.ui(&ctx, &mut commands);
        let count = self.browse.count().map(|c| format!("{} movies", c.label()));
        self.export_dialog.ui(
            &ctx,
            &self.browse.filter().to_text(),
            count,
            &self.export_status,
            &mut commands,
        );
        if let Some(question) = &self.local_copy_question {
            local_copy_dialog::LocalCopyDialog.ui(&ctx, question, &mut commands);
        }

        commands.append(&mut self.commands);
        self.commands = commands;
        // `logic` carries them out at the start of the next frame: ask for it now.
        if !self.commands.is_empty() {
            ctx.request_repaint();
        }
    }

    fn save(&mut self, storage: &mut dyn eframe::Storage) {
        eframe::set_value(storage, eframe::APP_KEY, &self.state());
    }

    fn on_exit(&mut self, _gl: Option<&eframe::glow::Context>) {
        self.pool_monitor.stop_drill();
        let closed = Connection::Failed {
            failure: StartFailure {
                kind: DbErrorKind::Unreachable,
                message: "Marquee is closing".into(),
            },
            attempt: 0,
            next_retry: None,
        };
        std::mem::replace(&mut self.connection, closed).close();
    }
}
