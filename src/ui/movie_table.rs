//! The movie table: a virtual table that lays out only the rows on screen, with its own
//! vertical scrollbar that maps the thumb to a row index in `f64`/`u64`.
//!
//! egui's `ScrollArea` keeps its offset in `f32` pixels, which cannot address single rows above
//! about 2–3 million rows (egui#1391). Here the scroll position *is* a row index (`top_row`)
//! plus a sub-row pixel offset for smooth wheel scrolling, so 10 million rows stay exactly
//! reachable with the wheel, the keys, or a drag of the thumb.

use std::time::{Duration, Instant};

use egui::{
    Align2, Color32, CursorIcon, EventFilter, FontId, Key, Rect, Role, Sense, Stroke, Ui,
    WidgetInfo, pos2, vec2,
};
use serde::{Deserialize, Serialize};

use crate::browse::{Browse, FilterChange};
use crate::filter::{Filter, SortColumn};
use crate::repo::column_stats::{ColumnStats, StatColumn};
use crate::repo::movies::MovieRow;
use crate::ui::command::Command;

/// Height of one row; fixed so a row index maps to a pixel position without measuring.
pub const ROW_HEIGHT: f32 = 22.0;
const HEADER_HEIGHT: f32 = 26.0;
const SCROLLBAR_WIDTH: f32 = 14.0;
const MIN_THUMB: f32 = 28.0;
const CELL_PAD: f32 = 6.0;
const MIN_COLUMN_WIDTH: f32 = 30.0;
/// Title and genres give up width down to this before the table scrolls sideways.
const FLEX_MIN_WIDTH: f32 = 110.0;
/// Most rows one copy puts on the clipboard; rows not cached are skipped anyway.
const MAX_COPY_ROWS: u64 = 40_000;
/// While the thumb is dragged, pages are requested only once it rests this long, so a fast drag
/// across 10M rows does not queue hundreds of deep-offset queries nobody will look at.
const DRAG_SETTLE: Duration = Duration::from_millis(80);

/// The table's columns.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum ColumnKind {
    /// MovieLens id.
    Id,
    /// Title as written.
    Title,
    /// Release year.
    Year,
    /// Genres, `|`-separated.
    Genres,
    /// Average rating.
    Rating,
    /// Number of ratings.
    Votes,
}

impl ColumnKind {
    /// Every column, in display order.
    pub const ALL: [ColumnKind; 6] = [
        ColumnKind::Id,
        ColumnKind::Title,
        ColumnKind::Year,
        ColumnKind::Genres,
        ColumnKind::Rating,
        ColumnKind::Votes,
    ];

    /// Header text.
    pub fn title(self) -> &'static str {
        match self {
            ColumnKind::Id => "id",
            ColumnKind::Title => "title",
            ColumnKind::Year => "year",
            ColumnKind::Genres => "genres",
            ColumnKind::Rating => "avg rating",
            ColumnKind::Votes => "ratings",
        }
    }

    /// The sort this header click toggles (genres has no sort of its own).
    pub fn sort(self) -> Option<SortColumn> {
        match self {
            ColumnKind::Id => Some(SortColumn::Id),
            ColumnKind::Title => Some(SortColumn::Title),
            ColumnKind::Year => Some(SortColumn::Year),
            ColumnKind::Genres => None,
            ColumnKind::Rating => Some(SortColumn::Rating),
            ColumnKind::Votes => Some(SortColumn::Votes),
        }
    }

    fn default_width(self) -> f32 {
        match self {
            ColumnKind::Id => 70.0,
            ColumnKind::Title => 380.0,
            ColumnKind::Year => 56.0,
            ColumnKind::Genres => 260.0,
            ColumnKind::Rating => 86.0,
            ColumnKind::Votes => 80.0,
        }
    }

    /// Long text columns: they give up width first when the table is narrow, and are cut with
    /// "…" to the column width, the whole text on hover.
    fn long_text(self) -> bool {
        matches!(self, ColumnKind::Title | ColumnKind::Genres)
    }

    /// The column as far as statistics go.
    pub const fn stat_column(self) -> StatColumn {
        match self {
            ColumnKind::Id => StatColumn::Id,
            ColumnKind::Title => StatColumn::Title,
            ColumnKind::Year => StatColumn::Year,
            ColumnKind::Genres => StatColumn::Genres,
            ColumnKind::Rating => StatColumn::Rating,
            ColumnKind::Votes => StatColumn::Votes,
        }
    }

    fn numeric(self) -> bool {
        matches!(
            self,
            ColumnKind::Id | ColumnKind::Year | ColumnKind::Rating | ColumnKind::Votes
        )
    }

    /// The cell's text (also what a TSV copy holds).
    pub fn cell_text(self, row: &MovieRow) -> String {
        match self {
            ColumnKind::Id => row.id.to_string(),
            ColumnKind::Title => row.title.clone(),
            ColumnKind::Year => row.year.map(|y| y.to_string()).unwrap_or_default(),
            ColumnKind::Genres => row.genres.join("|"),
            ColumnKind::Rating => row
                .rating_avg
                .map(|r| format!("{r:.2}"))
                .unwrap_or_default(),
            ColumnKind::Votes => row.rating_count.to_string(),
        }
    }
}

/// One column's width and visibility (persisted).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Column {
    /// Which column.
    pub kind: ColumnKind,
    /// Width in points.
    pub width: f32,
    /// Shown or hidden (right-click a header).
    pub visible: bool,
}

/// Column layout, as saved between runs.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct TableLayout {
    /// Columns in display order.
    pub columns: Vec<Column>,
}

impl Default for TableLayout {
    fn default() -> Self {
        Self {
            columns: ColumnKind::ALL
                .into_iter()
                .map(|kind| Column {
                    kind,
                    width: kind.default_width(),
                    visible: true,
                })
                .collect(),
        }
    }
}

impl TableLayout {
    /// Repairs a layout read from disk: every column exactly once, sane widths, one visible.
    pub fn sanitized(mut self) -> Self {
        let mut columns: Vec<Column> = Vec::with_capacity(ColumnKind::ALL.len());
        for kind in ColumnKind::ALL {
            let saved = self.columns.iter().find(|c| c.kind == kind).copied();
            let mut column = saved.unwrap_or(Column {
                kind,
                width: kind.default_width(),
                visible: true,
            });
            if !column.width.is_finite() {
                column.width = kind.default_width();
            }
            column.width = column.width.clamp(MIN_COLUMN_WIDTH, 2_000.0);
            columns.push(column);
        }
        if columns.iter().all(|c| !c.visible)
            && let Some(title) = columns.iter_mut().find(|c| c.kind == ColumnKind::Title)
        {
            title.visible = true;
        }
        self.columns = columns;
        self
    }
}

/// Where the thumb sits: `(offset from the track's start, length)`, in points. The position is
/// computed in `f64` from row indices, so it is exact for any row count.
pub fn thumb_geometry(
    track_len: f32,
    total_rows: u64,
    visible_rows: u64,
    top_row: u64,
) -> (f32, f32) {
    if total_rows == 0 || total_rows <= visible_rows || track_len <= 0.0 {
        return (0.0, track_len.max(0.0));
    }
    let ratio = visible_rows as f64 / total_rows as f64;
    let thumb = (f64::from(track_len) * ratio)
        .max(f64::from(MIN_THUMB))
        .min(f64::from(track_len));
    let max_top = total_rows - visible_rows;
    let fraction = top_row.min(max_top) as f64 / max_top as f64;
    let start = fraction * (f64::from(track_len) - thumb);
    (start as f32, thumb as f32)
}

/// The top row for a thumb whose start is `thumb_start` points into the track: the inverse of
/// [`thumb_geometry`], rounded to the nearest row.
pub fn row_for_thumb(
    track_len: f32,
    thumb_len: f32,
    thumb_start: f32,
    total_rows: u64,
    visible_rows: u64,
) -> u64 {
    let max_top = total_rows.saturating_sub(visible_rows);
    let room = f64::from(track_len - thumb_len);
    if max_top == 0 || room <= 0.0 {
        return 0;
    }
    let fraction = (f64::from(thumb_start) / room).clamp(0.0, 1.0);
    ((fraction * max_top as f64).round() as u64).min(max_top)
}

/// The table view: scroll position, selection, and the column layout.
#[derive(Debug)]
pub struct MovieTable {
    /// Column widths and visibility.
    pub layout: TableLayout,
    /// First row (partly) on screen.
    top_row: u64,
    /// How far the first row is scrolled out of view, in points (`0..ROW_HEIGHT`).
    offset_px: f32,
    /// Horizontal scroll, in points.
    scroll_x: f32,
    /// The row the keyboard moves (the last clicked).
    cursor: Option<u64>,
    /// Other end of a shift-extended selection.
    anchor: Option<u64>,
    /// The id last reported with [`Command::Select`], so it is sent once per change.
    reported_id: Option<i32>,
    /// Thumb drag: pointer distance from the thumb's start.
    drag_grab: Option<f32>,
    /// When the top row last changed during a drag.
    drag_moved_at: Option<Instant>,
    /// Rows fully on screen at the last layout (page size for PgUp/PgDn).
    page_rows: u64,
    /// Generation of the filter the position belongs to.
    generation: u64,
    /// Statistics of one column under the current filter, or why they failed, for its header
    /// menu (the app sets them, and clears them when the filter changes).
    pub column_stats: Option<(StatColumn, Result<ColumnStats, String>)>,
}

impl Default for MovieTable {
    fn default() -> Self {
        Self::new(TableLayout::default())
    }
}

impl MovieTable {
    /// A table with a saved layout.
    pub fn new(layout: TableLayout) -> Self {
        Self {
            layout: layout.sanitized(),
            top_row: 0,
            offset_px: 0.0,
            scroll_x: 0.0,
            cursor: None,
            anchor: None,
            reported_id: None,
            drag_grab: None,
            drag_moved_at: None,
            page_rows: 20,
            generation: 0,
            column_stats: None,
        }
    }

    /// First row on screen.
    pub fn top_row(&self) -> u64 {
        self.top_row
    }

    /// The selected rows, inclusive.
    pub fn selection(&self) -> Option<(u64, u64)> {
        let cursor = self.cursor?;
        let anchor = self.anchor.unwrap_or(cursor);
        Some((cursor.min(anchor), cursor.max(anchor)))
    }

    /// Scrolls so that `row` is the first row on screen (clamped later to the row count).
    pub fn scroll_to_row(&mut self, row: u64) {
        self.top_row = row;
        self.offset_px = 0.0;
    }

    /// The visible columns' names, in order (what a saved view keeps).
    pub fn visible_column_names(&self) -> Vec<String> {
        self.visible_columns()
            .map(|c| c.kind.title().to_owned())
            .collect()
    }

    /// Shows exactly the columns named (by header title), leaving the others' widths alone.
    /// Names that match no column are ignored; if none matches, nothing changes.
    pub fn show_only_columns(&mut self, names: &[String]) {
        let wanted = |c: &Column| names.iter().any(|n| n == c.kind.title());
        if !self.layout.columns.iter().any(wanted) {
            return;
        }
        for column in &mut self.layout.columns {
            column.visible = wanted(column);
        }
    }

    /// Draws the table and pushes commands (sort, select, copy, visible range).
    pub fn ui(&mut self, ui: &mut Ui, browse: &Browse, commands: &mut Vec<Command>) {
        // While the previous filter's rows are still shown (stale), they stay where they were;
        // the new filter takes over once its first page has landed.
        let stale = browse.is_stale();
        if browse.generation() != self.generation && !stale {
            // A new filter: its rows start at the top and the old selection means nothing.
            self.generation = browse.generation();
            self.top_row = 0;
            self.offset_px = 0.0;
            self.cursor = None;
            self.anchor = None;
            // The movie picked under the old filter may not be in this result: the detail
            // pane lets go of it rather than show it as if it were selected.
            if self.reported_id.take().is_some() {
                commands.push(Command::Select(None));
            }
        }
        let total = browse.row_count();
        let full = ui.available_rect_before_wrap();
        let id = ui.scope_id().with("movie_table");
        let response = ui.interact(full, id, Sense::click());
        ui.allocate_rect(full, Sense::hover());

        let header = Rect::from_min_size(full.min, vec2(full.width(), HEADER_HEIGHT));
        let body = Rect::from_min_max(
            pos2(full.left(), header.bottom()),
            pos2(full.right() - SCROLLBAR_WIDTH, full.bottom()),
        );
        let track = Rect::from_min_max(pos2(body.right(), body.top()), full.max);
        let rows_on_screen = ((body.height() + self.offset_px) / ROW_HEIGHT)
            .ceil()
            .max(1.0) as u64;
        let fully_visible = ((body.height() / ROW_HEIGHT).floor() as u64).max(1);
        self.page_rows = fully_visible;
        let max_top = total.saturating_sub(fully_visible);

        // Input first, so this frame already draws the new position.
        let focused = response.has_focus();
        if focused {
            ui.memory_mut(|m| {
                m.set_focus_lock_filter(
                    id,
                    EventFilter {
                        vertical_arrows: true,
                        horizontal_arrows: true,
                        tab: false,
                        escape: false,
                    },
                );
            });
        }
        let nothing_focused = ui.memory(|m| m.focused().is_none());
        if (focused || nothing_focused) && total > 0 {
            self.keyboard(ui, browse, total, commands);
        }
        if ui.rect_contains_pointer(full) {
            let delta = ui.input(|i| i.smooth_scroll_delta);
            if delta.y != 0.0 {
                self.scroll_by_px(-delta.y, max_top);
            }
            if delta.x != 0.0 {
                self.scroll_x = (self.scroll_x - delta.x).max(0.0);
            }
        }
        let dragging = self.scrollbar(ui, track, id, total, fully_visible, max_top);
        if self.top_row >= max_top {
            self.top_row = max_top;
            self.offset_px = 0.0;
        }
        let content_width: f32 = self
            .fitted_columns(body.width())
            .iter()
            .map(|c| c.width)
            .sum();
        self.scroll_x = self.scroll_x.min((content_width - body.width()).max(0.0));

        self.header_ui(ui, header, body.width(), id, browse.filter(), commands);
        self.body_ui(ui, body, id, browse, total, rows_on_screen, commands);

        if stale && total > 0 {
            let text = "Updating for the new filter…";
            let galley = ui.painter().layout_no_wrap(
                text.to_owned(),
                FontId::proportional(13.0),
                ui.visuals().strong_text_color(),
            );
            let at = pos2(body.right() - galley.size().x - 12.0, body.top() + 6.0);
            let badge = Rect::from_min_size(at, galley.size()).expand(4.0);
            ui.painter()
                .rect_filled(badge, 4.0, ui.visuals().extreme_bg_color);
            ui.painter()
                .galley(at, galley, ui.visuals().strong_text_color());
            // Read by screen readers and tests: the rows shown are the previous filter's.
            ui.interact(badge, id.with("stale"), Sense::hover())
                .widget_info(|| WidgetInfo::labeled(Role::Label, true, text));
        }
        if total == 0 {
            let text = if browse.is_loading() {
                "Loading…"
            } else {
                "No movies match this filter."
            };
            ui.painter().text(
                body.center(),
                Align2::CENTER_CENTER,
                text,
                FontId::proportional(16.0),
                ui.visuals().weak_text_color(),
            );
        }

        if response.clicked() {
            response.request_focus();
        }

        // The visible range goes to the model after drawing; mid-drag only once the thumb rests.
        let settled = !dragging
            || self
                .drag_moved_at
                .is_none_or(|at| at.elapsed() >= DRAG_SETTLE);
        // Stale rows are not asked for: the model already asked for the new filter's first page.
        if total > 0 && settled && !stale {
            let last = (self.top_row + rows_on_screen).min(total) - 1;
            commands.push(Command::ShowRows(self.top_row, last.max(self.top_row)));
        } else if dragging {
            ui.ctx().request_repaint_after(DRAG_SETTLE);
        }
        // The detail pane follows the cursor once its row has arrived.
        if let Some(row) = self.cursor.and_then(|c| browse.row(c))
            && self.reported_id != Some(row.id)
        {
            self.reported_id = Some(row.id);
            commands.push(Command::Select(Some(row.id)));
        }
    }

    fn visible_columns(&self) -> impl Iterator<Item = &Column> {
        self.layout.columns.iter().filter(|c| c.visible)
    }

    /// The visible columns at the widths they are drawn with: when they do not fit `width`,
    /// title and genres give up space (down to [`FLEX_MIN_WIDTH`]) before the table scrolls
    /// sideways, so the numbers stay in view in a small window. The saved widths are unchanged.
    fn fitted_columns(&self, width: f32) -> Vec<Column> {
        let mut columns: Vec<Column> = self.visible_columns().copied().collect();
        let excess = columns.iter().map(|c| c.width).sum::<f32>() - width;
        let room = |c: &Column| {
            if c.kind.long_text() {
                (c.width - FLEX_MIN_WIDTH).max(0.0)
            } else {
                0.0
            }
        };
        let flexible: f32 = columns.iter().map(room).sum();
        if excess <= 0.0 || flexible <= 0.0 {
            return columns;
        }
        let shrink = (excess / flexible).min(1.0);
        for column in &mut columns {
            column.width -= room(column) * shrink;
        }
        columns
    }

    fn scroll_by_px(&mut self, px: f32, max_top: u64) {
        let moved = self.offset_px + px;
        let rows = (moved / ROW_HEIGHT).floor();
        self.offset_px = moved - rows * ROW_HEIGHT;
        if rows < 0.0 {
            let up = (-rows) as u64;
            if up > self.top_row {
                self.top_row = 0;
                self.offset_px = 0.0;
            } else {
                self.top_row -= up;
            }
        } else {
            self.top_row = self.top_row.saturating_add(rows as u64);
        }
        if self.top_row >= max_top {
            self.top_row = max_top;
            self.offset_px = 0.0;
        }
    }

    fn keyboard(&mut self, ui: &Ui, browse: &Browse, total: u64, commands: &mut Vec<Command>) {
        let page = self.page_rows.max(1);
        let (moves, shift, copy) = ui.input(|i| {
            let last = total - 1;
            let current = self.cursor;
            let mut target: Option<u64> = None;
            let at = current.unwrap_or(self.top_row);
            if i.key_pressed(Key::ArrowDown) {
                target = Some(if current.is_some() {
                    (at + 1).min(last)
                } else {
                    at
                });
            }
            if i.key_pressed(Key::ArrowUp) {
                target = Some(at.saturating_sub(1));
            }
            if i.key_pressed(Key::PageDown) {
                target = Some((at + page).min(last));
            }
            if i.key_pressed(Key::PageUp) {
                target = Some(at.saturating_sub(page));
            }
            if i.key_pressed(Key::Home) {
                target = Some(0);
            }
            if i.key_pressed(Key::End) {
                target = Some(last);
            }
            let copy = i.events.iter().any(|e| matches!(e, egui::Event::Copy));
            (target, i.modifiers.shift, copy)
        });
        if let Some(target) = moves {
            self.select(target, shift);
            self.ensure_visible(target);
        }
        if copy && let Some(text) = self.selection_tsv(browse) {
            commands.push(Command::Copy(text));
        }
    }

    fn select(&mut self, row: u64, extend: bool) {
        if extend {
            if self.anchor.is_none() {
                self.anchor = self.cursor.or(Some(row));
            }
        } else {
            self.anchor = None;
        }
        self.cursor = Some(row);
    }

    fn ensure_visible(&mut self, row: u64) {
        let page = self.page_rows.max(1);
        if row < self.top_row || (row == self.top_row && self.offset_px > 0.0) {
            self.top_row = row;
            self.offset_px = 0.0;
        } else if row >= self.top_row + page {
            self.top_row = row + 1 - page;
            self.offset_px = 0.0;
        }
    }

    /// The selected rows that are loaded, as TSV with a header line.
    pub fn selection_tsv(&self, browse: &Browse) -> Option<String> {
        let (first, last) = self.selection()?;
        let last = last.min(first + MAX_COPY_ROWS - 1);
        let columns: Vec<ColumnKind> = self.visible_columns().map(|c| c.kind).collect();
        let mut out = columns
            .iter()
            .map(|c| c.title())
            .collect::<Vec<_>>()
            .join("\t");
        out.push('\n');
        for index in first..=last {
            let Some(row) = browse.row(index) else {
                continue;
            };
            let cells: Vec<String> = columns
                .iter()
                .map(|c| c.cell_text(row).replace(['\t', '\n'], " "))
                .collect();
            out.push_str(&cells.join("\t"));
            out.push('\n');
        }
        Some(out)
    }

    /// Draws the scrollbar; returns whether the thumb is being dragged.
    fn scrollbar(
        &mut self,
        ui: &Ui,
        track: Rect,
        id: egui::Id,
        total: u64,
        visible: u64,
        max_top: u64,
    ) -> bool {
        let visuals = ui.visuals().clone();
        ui.painter()
            .rect_filled(track, 0.0, visuals.extreme_bg_color);
        if max_top == 0 {
            return false;
        }
        let (start, len) = thumb_geometry(track.height(), total, visible, self.top_row);
        let thumb = Rect::from_min_size(
            pos2(track.left() + 2.0, track.top() + start),
            vec2(track.width() - 4.0, len),
        );
        let track_response = ui.interact(track, id.with("track"), Sense::click());
        let thumb_response = ui
            .interact(thumb, id.with("thumb"), Sense::drag())
            .on_hover_cursor(CursorIcon::Grab);
        thumb_response.widget_info(|| {
            WidgetInfo::labeled(
                Role::ScrollBar,
                true,
                format!("row {} of {total}", self.top_row + 1),
            )
        });
        if thumb_response.drag_started()
            && let Some(pointer) = thumb_response.interact_pointer_pos()
        {
            self.drag_grab = Some(pointer.y - thumb.top());
        }
        let mut dragging = false;
        if thumb_response.dragged()
            && let (Some(grab), Some(pointer)) =
                (self.drag_grab, thumb_response.interact_pointer_pos())
        {
            dragging = true;
            let new_top = row_for_thumb(
                track.height(),
                len,
                pointer.y - grab - track.top(),
                total,
                visible,
            );
            if new_top != self.top_row {
                self.top_row = new_top;
                self.offset_px = 0.0;
                self.drag_moved_at = Some(Instant::now());
            }
        } else {
            self.drag_grab = None;
        }
        if track_response.clicked()
            && let Some(pointer) = track_response.interact_pointer_pos()
        {
            // A click beside the thumb pages towards the pointer, like every native scrollbar.
            if pointer.y < thumb.top() {
                self.top_row = self.top_row.saturating_sub(visible);
            } else if pointer.y > thumb.bottom() {
                self.top_row = (self.top_row + visible).min(max_top);
            }
            self.offset_px = 0.0;
        }
        let fill = if thumb_response.dragged() {
            visuals.widgets.active.bg_fill
        } else if thumb_response.hovered() {
            visuals.widgets.hovered.bg_fill
        } else {
            visuals.widgets.inactive.bg_fill
        };
        ui.painter().rect_filled(thumb, 4.0, fill);
        dragging
    }

    fn header_ui(
        &mut self,
        ui: &Ui,
        header: Rect,
        fit_width: f32,
        id: egui::Id,
        filter: &Filter,
        commands: &mut Vec<Command>,
    ) {
        let visuals = ui.visuals().clone();
        let painter = ui.painter_at(header);
        painter.rect_filled(header, 0.0, visuals.widgets.noninteractive.weak_bg_fill);
        painter.hline(
            header.x_range(),
            header.bottom() - 0.5,
            visuals.widgets.noninteractive.bg_stroke,
        );
        let mut x = header.left() - self.scroll_x;
        let columns = self.fitted_columns(fit_width);
        for column in columns {
            let cell =
                Rect::from_min_size(pos2(x, header.top()), vec2(column.width, HEADER_HEIGHT));
            x += column.width;
            if cell.right() < header.left() || cell.left() > header.right() {
                continue;
            }
            let clip = cell.intersect(header);
            let sort = column.kind.sort();
            let direction = sort.and_then(|s| filter.sort_direction(s));
            let mut label = column.kind.title().to_owned();
            if let Some((rank, descending)) = direction {
                label.push_str(if descending { " ▼" } else { " ▲" });
                if filter.sort.len() > 1 {
                    label.push_str(&(rank + 1).to_string());
                }
            }
            let response = ui.interact(clip, id.with(("header", column.kind)), Sense::click());
            let shown = label.clone();
            response.widget_info(|| WidgetInfo::labeled(Role::ColumnHeader, true, shown.clone()));
            if response.hovered() {
                painter.rect_filled(clip, 0.0, visuals.widgets.hovered.weak_bg_fill);
            }
            let align = if column.kind.numeric() {
                Align2::RIGHT_CENTER
            } else {
                Align2::LEFT_CENTER
            };
            let anchor = if column.kind.numeric() {
                pos2(cell.right() - CELL_PAD, cell.center().y)
            } else {
                pos2(cell.left() + CELL_PAD, cell.center().y)
            };
            ui.painter().with_clip_rect(clip).text(
                anchor,
                align,
                label,
                FontId::proportional(13.0),
                visuals.strong_text_color(),
            );
            if response.clicked()
                && let Some(sort) = sort
            {
                let shift = ui.input(|i| i.modifiers.shift);
                commands.push(Command::Filter(FilterChange::Sort(sort, shift)));
            }
            response.context_menu(|ui| {
                self.stats_ui(ui, column.kind.stat_column(), commands);
                ui.separator();
                self.columns_menu(ui);
            });

            // Resize handle on the right edge.
            let handle = Rect::from_center_size(
                pos2(cell.right(), header.center().y),
                vec2(8.0, HEADER_HEIGHT),
            );
            let drag = ui
                .interact(handle, id.with(("resize", column.kind)), Sense::drag())
                .on_hover_cursor(CursorIcon::ResizeColumn);
            if drag.dragged()
                && let Some(c) = self
                    .layout
                    .columns
                    .iter_mut()
                    .find(|c| c.kind == column.kind)
            {
                c.width = (c.width + drag.drag_delta().x).max(MIN_COLUMN_WIDTH);
            }
            let stroke = if drag.hovered() || drag.dragged() {
                visuals.widgets.active.fg_stroke
            } else {
                visuals.widgets.noninteractive.bg_stroke
            };
            painter.vline(cell.right() - 0.5, header.y_range().shrink(4.0), stroke);
        }
    }

    /// The column's statistics under the current filter, asked for when the menu opens.
    fn stats_ui(&self, ui: &mut Ui, column: StatColumn, commands: &mut Vec<Command>) {
        let stats = match &self.column_stats {
            Some((asked, Ok(stats))) if *asked == column => stats,
            Some((asked, Err(message))) if *asked == column => {
                ui.colored_label(ui.visuals().error_fg_color, message.as_str());
                return;
            }
            _ => {
                ui.horizontal(|ui| {
                    ui.spinner();
                    ui.label("Counting…");
                });
                commands.push(Command::ColumnStats(column));
                return;
            }
        };
        ui.weak("For the current filter");
        egui::Grid::new("column_stats")
            .num_columns(2)
            .show(ui, |ui| {
                let plain = |n: u64| crate::plural::thousands(n);
                for (name, value) in [
                    ("movies", plain(stats.rows)),
                    ("distinct values", plain(stats.distinct)),
                    ("empty", plain(stats.empty)),
                ] {
                    ui.label(name);
                    ui.label(value);
                    ui.end_row();
                }
                let (low, high) = column.extremes();
                for (name, value) in [(low, &stats.min), (high, &stats.max)] {
                    ui.label(name);
                    ui.label(value.as_deref().unwrap_or("—"));
                    ui.end_row();
                }
            });
        let total = stats.histogram.iter().map(|(_, n)| *n).max().unwrap_or(0);
        if total > 0 {
            let (rect, response) = ui.allocate_exact_size(vec2(200.0, 44.0), Sense::hover());
            let painter = ui.painter_at(rect);
            let bar_width = rect.width() / stats.histogram.len() as f32;
            for (i, (_, n)) in stats.histogram.iter().enumerate() {
                let height = (*n as f32 / total as f32) * rect.height();
                let bar = Rect::from_min_max(
                    pos2(
                        rect.left() + i as f32 * bar_width + 1.0,
                        rect.bottom() - height,
                    ),
                    pos2(
                        rect.left() + (i + 1) as f32 * bar_width - 1.0,
                        rect.bottom(),
                    ),
                );
                painter.rect_filled(bar, 1.0, ui.visuals().selection.bg_fill);
            }
            let described: Vec<String> = stats
                .histogram
                .iter()
                .map(|(lo, n)| format!("{lo:.1}+: {n}"))
                .collect();
            response.widget_info(|| {
                WidgetInfo::labeled(
                    Role::Image,
                    true,
                    format!(
                        "histogram of {}: {}",
                        column.measure_label(),
                        described.join(", ")
                    ),
                )
            });
            let first = stats.histogram.first().map_or(0.0, |(lo, _)| *lo);
            let last = first + stats.bar_width * stats.histogram.len() as f64;
            ui.weak(format!(
                "histogram of the {}, {first:.0} to {last:.0}",
                column.measure_label()
            ));
        }
    }

    fn columns_menu(&mut self, ui: &mut Ui) {
        ui.label("Columns");
        let visible_count = self.visible_columns().count();
        for column in &mut self.layout.columns {
            let last_one = column.visible && visible_count == 1;
            ui.add_enabled_ui(!last_one, |ui| {
                ui.checkbox(&mut column.visible, column.kind.title());
            });
        }
        if ui.button("Reset widths").clicked() {
            for column in &mut self.layout.columns {
                column.width = column.kind.default_width();
            }
        }
    }

    #[expect(
        clippy::too_many_arguments,
        reason = "one call site; a struct would only rename them"
    )]
    fn body_ui(
        &mut self,
        ui: &Ui,
        body: Rect,
        id: egui::Id,
        browse: &Browse,
        total: u64,
        rows_on_screen: u64,
        commands: &mut Vec<Command>,
    ) {
        let visuals = ui.visuals().clone();
        let painter = ui.painter_at(body);
        let selection = self.selection();
        let columns = self.fitted_columns(body.width());
        // The previous filter's rows, still on screen until the new ones land, are dimmed.
        let text_color = if browse.is_stale() {
            visuals.weak_text_color()
        } else {
            visuals.text_color()
        };
        let weak = visuals.weak_text_color();
        let font = FontId::proportional(13.5);
        let end = (self.top_row + rows_on_screen).min(total);
        let mut copy_clicked = false;
        for index in self.top_row..end {
            let y = body.top() - self.offset_px + (index - self.top_row) as f32 * ROW_HEIGHT;
            let row_rect =
                Rect::from_min_size(pos2(body.left(), y), vec2(body.width(), ROW_HEIGHT));
            let selected = selection.is_some_and(|(a, b)| (a..=b).contains(&index));
            if selected {
                painter.rect_filled(row_rect, 0.0, visuals.selection.bg_fill);
            } else if index % 2 == 1 {
                painter.rect_filled(row_rect, 0.0, visuals.faint_bg_color);
            }
            let row = browse.row(index);
            let response = ui.interact(
                row_rect.intersect(body),
                id.with(("row", index)),
                Sense::click(),
            );
            response.widget_info(|| {
                // Screen readers (and tests) hear which rows are the previous filter's.
                let stale = if browse.is_stale() {
                    ", previous filter"
                } else {
                    ""
                };
                let label = match row {
                    Some(row) => format!(
                        "row {}{stale}: {} | {} | {} | {} | {} | {}",
                        index + 1,
                        row.id,
                        row.title,
                        ColumnKind::Year.cell_text(row),
                        ColumnKind::Genres.cell_text(row),
                        ColumnKind::Rating.cell_text(row),
                        row.rating_count
                    ),
                    None => format!("row {}: loading", index + 1),
                };
                WidgetInfo::selected(Role::Row, true, selected, label)
            });
            if response.clicked() {
                let shift = ui.input(|i| i.modifiers.shift);
                self.select(index, shift);
                ui.memory_mut(|m| m.request_focus(id));
            }
            if response.secondary_clicked() && !selected {
                self.select(index, false);
            }
            response.context_menu(|ui| {
                if ui.button("Copy selected rows (TSV)").clicked() {
                    copy_clicked = true;
                    ui.close();
                }
            });
            if response.hovered() && !selected {
                painter.rect_filled(
                    row_rect,
                    0.0,
                    visuals.widgets.hovered.weak_bg_fill.gamma_multiply(0.5),
                );
            }
            let color = if selected {
                visuals.selection.stroke.color
            } else {
                text_color
            };
            // Text cut short in a narrow column, shown whole when the pointer rests on it.
            let mut cut_text: Option<String> = None;
            let mut x = body.left() - self.scroll_x;
            for column in &columns {
                let cell = Rect::from_min_size(pos2(x, y), vec2(column.width, ROW_HEIGHT));
                x += column.width;
                if cell.right() < body.left() || cell.left() > body.right() {
                    continue;
                }
                let (text, color) = match row {
                    Some(row) => (column.kind.cell_text(row), color),
                    None if column.kind == ColumnKind::Title => ("…".to_owned(), weak),
                    None => (String::new(), weak),
                };
                if text.is_empty() {
                    continue;
                }
                let (anchor, align) = if column.kind.numeric() {
                    (
                        pos2(cell.right() - CELL_PAD, cell.center().y),
                        Align2::RIGHT_CENTER,
                    )
                } else {
                    (
                        pos2(cell.left() + CELL_PAD, cell.center().y),
                        Align2::LEFT_CENTER,
                    )
                };
                let clip = cell.shrink2(vec2(CELL_PAD / 2.0, 0.0)).intersect(body);
                if column.kind.long_text() && row.is_some() {
                    let mut job =
                        egui::text::LayoutJob::simple_singleline(text.clone(), font.clone(), color);
                    job.wrap = egui::text::TextWrapping::truncate_at_width(
                        (cell.width() - 2.0 * CELL_PAD).max(0.0),
                    );
                    let galley = painter.layout_job(job);
                    if galley.elided && response.hover_pos().is_some_and(|p| cell.contains(p)) {
                        cut_text = Some(text);
                    }
                    let at = align.anchor_size(anchor, galley.size()).min;
                    painter.with_clip_rect(clip).galley(at, galley, color);
                } else {
                    painter
                        .with_clip_rect(clip)
                        .text(anchor, align, text, font.clone(), color);
                }
            }
            if let Some(full) = cut_text {
                let _ = response.on_hover_text_at_pointer(full);
            }
        }
        if copy_clicked && let Some(text) = self.selection_tsv(browse) {
            commands.push(Command::Copy(text));
        }
        // Thin column separators make wide tables readable without gridlines on every row.
        let mut x = body.left() - self.scroll_x;
        for column in &columns {
            x += column.width;
            if x > body.left() && x < body.right() {
                painter.vline(
                    x - 0.5,
                    body.y_range(),
                    Stroke::new(
                        1.0,
                        visuals.faint_bg_color.lerp_to_gamma(Color32::GRAY, 0.08),
                    ),
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_thumb_maps_every_row_of_ten_million_back_to_itself() {
        let total = 10_000_000;
        let visible = 30;
        let track = 700.0;
        for top in [0, 1, 2_999_999, 5_000_000, 9_999_970] {
            let (start, len) = thumb_geometry(track, total, visible, top);
            let back = row_for_thumb(track, len, start, total, visible);
            // One point of thumb travel spans ~14,000 rows; f32 pixel positions are the limit
            // of a drag, never of the row index itself.
            assert!(back.abs_diff(top) <= 15_000, "{top} → {start} → {back}");
        }
        let (start, len) = thumb_geometry(track, total, visible, total - visible);
        assert_eq!(
            row_for_thumb(track, len, start, total, visible),
            total - visible
        );
        assert_eq!(row_for_thumb(track, len, 0.0, total, visible), 0);
    }

    #[test]
    fn wheel_scrolling_moves_by_single_rows_deep_into_a_huge_table() {
        let mut table = MovieTable::default();
        table.scroll_to_row(9_000_001);
        table.scroll_by_px(ROW_HEIGHT, 10_000_000);
        assert_eq!(table.top_row(), 9_000_002);
        table.scroll_by_px(-ROW_HEIGHT * 3.0, 10_000_000);
        assert_eq!(table.top_row(), 8_999_999);
        table.scroll_by_px(ROW_HEIGHT * 1e9, 10_000_000);
        assert_eq!(table.top_row(), 10_000_000);
    }

    #[test]
    fn a_saved_layout_is_repaired() {
        let layout = TableLayout {
            columns: vec![Column {
                kind: ColumnKind::Year,
                width: f32::NAN,
                visible: false,
            }],
        }
        .sanitized();
        assert_eq!(layout.columns.len(), ColumnKind::ALL.len());
        assert!(layout.columns.iter().any(|c| c.visible));
        assert!(layout.columns.iter().all(|c| c.width >= MIN_COLUMN_WIDTH));
    }
}
