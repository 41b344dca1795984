//! The summary panel under the movie table: the current filter's movies grouped by one or two
//! dimensions, as a sortable table beside a chart — horizontal bars for categories, a line for
//! years and decades, a heat map for a pivot. Table and chart share one hover; clicking a row,
//! bar, point or cell drills down (the group becomes the filter, Back returns).
//!
//! The chart draws its own marks rather than using `egui_plot`: each mark is a widget with an
//! accessibility label, so it can be hovered, clicked, read by a screen reader and found by
//! tests, which plot items cannot.
//!
//! The panel only draws what the app holds ([`SummaryData`]) and pushes [`Command`]s; the app
//! asks the workers for the summary whenever the filter or the settings change.

use egui::{Align2, Color32, FontId, Rect, Role, Sense, Stroke, Ui, WidgetInfo, pos2, vec2};
use serde::{Deserialize, Serialize};

use crate::browse::FilterChange;
use crate::filter::Filter;
use crate::summary::{Compare, Dimension, Measure, Summary, SummaryRow, SummarySpec, ValueColumn};
use crate::ui::command::Command;

/// What the app holds for the panel.
#[derive(Clone, Debug, Default)]
pub enum SummaryData {
    /// Nothing asked yet (not connected, or the panel was never open).
    #[default]
    Empty,
    /// Asked; the previous summary (if any) stays on screen meanwhile.
    Loading(Option<Box<Summary>>),
    /// The answer for the current filter and settings.
    Ready(Box<Summary>),
    /// The query failed; the message says why.
    Failed(String),
}

impl SummaryData {
    /// The summary to draw: the current one, or the previous one while loading.
    pub fn summary(&self) -> Option<&Summary> {
        match self {
            SummaryData::Ready(s) | SummaryData::Loading(Some(s)) => Some(s),
            _ => None,
        }
    }
}

/// The panel's own state; `open` and `spec` survive a restart and go into saved views.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default)]
pub struct SummaryPanel {
    /// Shown or not.
    pub open: bool,
    /// Grouping and measures.
    pub spec: SummarySpec,
    /// The measure the chart draws (one of `spec.measures`).
    pub chart: Measure,
    /// Table order: a column (keys first, then measures) and whether descending.
    #[serde(skip)]
    sort: Option<(usize, bool)>,
    /// The group under the pointer last frame (an index into the summary's rows), shared by
    /// the table and the chart.
    #[serde(skip)]
    hovered: Option<usize>,
    /// Where "Save…" writes (without extension), while its field is shown.
    #[serde(skip)]
    save_path: Option<String>,
    /// Where the chart was drawn last frame, for saving it as PNG.
    #[serde(skip)]
    chart_rect: Option<Rect>,
}

impl Default for SummaryPanel {
    fn default() -> Self {
        Self {
            open: false,
            spec: SummarySpec::default(),
            chart: Measure::Movies,
            sort: None,
            hovered: None,
            save_path: None,
            chart_rect: None,
        }
    }
}

const ROW_HEIGHT: f32 = 20.0;
const KEY_WIDTH: f32 = 130.0;
const VALUE_WIDTH: f32 = 112.0;

impl SummaryPanel {
    /// The group highlighted in both the table and the chart.
    pub fn hovered(&self) -> Option<usize> {
        self.hovered
    }

    /// Where the chart was drawn last frame, in points.
    pub fn chart_rect(&self) -> Option<Rect> {
        self.chart_rect
    }

    /// Draws the panel. `current` is the table's filter: a drill-down keeps its sort.
    pub fn ui(
        &mut self,
        ui: &mut Ui,
        data: &SummaryData,
        current: &Filter,
        views: &[crate::views::SavedView],
        note: Option<&str>,
        commands: &mut Vec<Command>,
    ) {
        self.controls_ui(ui, data, views, note, commands);
        ui.separator();
        let Some(summary) = data.summary() else {
            self.chart_rect = None;
            match data {
                SummaryData::Failed(message) => {
                    ui.colored_label(ui.visuals().error_fg_color, message.as_str());
                }
                _ => {
                    ui.horizontal(|ui| {
                        ui.spinner();
                        ui.label("Summarizing…");
                    });
                }
            }
            return;
        };
        if let SummaryData::Failed(message) = data {
            ui.colored_label(ui.visuals().error_fg_color, message.as_str());
        }
        if summary.rows.is_empty() {
            self.chart_rect = None;
            ui.weak("No movies match the filter, so there is nothing to summarize.");
            return;
        }
        if !summary.spec.measures.contains(&self.chart) {
            self.chart = summary.spec.measures[0];
        }
        let order = self.order(summary);
        let highlight = self.hovered.take();
        let mut drill: Option<Filter> = None;
        let height = ui.available_height();
        ui.horizontal_top(|ui| {
            let table_width = (ui.available_width() * 0.45).max(260.0);
            let down = egui::Layout::top_down(egui::Align::Min);
            ui.allocate_ui_with_layout(vec2(table_width, height), down, |ui| {
                self.table_ui(ui, summary, &order, highlight, &mut drill);
            });
            ui.separator();
            ui.allocate_ui_with_layout(vec2(ui.available_width(), height), down, |ui| {
                self.chart_ui(ui, summary, &order, highlight, &mut drill);
            });
        });
        if let Some(mut filter) = drill {
            filter.sort = current.sort.clone();
            commands.push(Command::Filter(FilterChange::Apply(filter)));
        }
    }

    fn controls_ui(
        &mut self,
        ui: &mut Ui,
        data: &SummaryData,
        views: &[crate::views::SavedView],
        note: Option<&str>,
        commands: &mut Vec<Command>,
    ) {
        let mut spec = self.spec.clone();
        ui.horizontal_wrapped(|ui| {
            ui.strong("Summary");
            let label = ui.label("by").id;
            dimension_combo(ui, "summary_by", &mut spec.by[0]).labelled_by(label);
            let label = ui.label("then").id;
            let mut second = spec.by.get(1).copied();
            // A comparison sets two summaries side by side: one dimension, no pivot.
            ui.add_enabled_ui(spec.compare.is_none(), |ui| {
                egui::ComboBox::from_id_salt("summary_then")
                    .selected_text(second.map_or("nothing", Dimension::name))
                    .show_ui(ui, |ui| {
                        ui.selectable_value(&mut second, None, "nothing");
                        for d in Dimension::ALL.into_iter().filter(|d| *d != spec.by[0]) {
                            ui.selectable_value(&mut second, Some(d), d.name());
                        }
                    })
                    .response
                    .labelled_by(label);
            });
            spec.by.truncate(1);
            spec.by.extend(second.filter(|d| *d != spec.by[0]));
            let label = ui.label("compare with").id;
            let mut compare = spec.compare.clone();
            egui::ComboBox::from_id_salt("summary_compare")
                .selected_text(compare.as_ref().map_or("nothing", Compare::label))
                .show_ui(ui, |ui| {
                    ui.selectable_value(&mut compare, None, "nothing");
                    ui.selectable_value(&mut compare, Some(Compare::Rest), "the rest")
                        .on_hover_text("The movies the filter leaves out");
                    for view in views {
                        let other = Compare::Filter {
                            name: view.name.clone(),
                            filter: view.filter.clone(),
                        };
                        ui.selectable_value(&mut compare, Some(other), view.name.as_str())
                            .on_hover_text(format!("The saved view's movies: {}", view.filter));
                    }
                })
                .response
                .labelled_by(label);
            if compare.is_some() {
                spec.by.truncate(1);
            }
            spec.compare = compare;
            ui.menu_button("Measures", |ui| {
                for m in Measure::ALL {
                    let mut on = spec.measures.contains(&m);
                    if ui.checkbox(&mut on, m.label()).changed() {
                        if on {
                            spec.measures.push(m);
                            spec.measures
                                .sort_by_key(|x| Measure::ALL.iter().position(|y| y == x));
                        } else if spec.measures.len() > 1 {
                            spec.measures.retain(|x| *x != m);
                        }
                    }
                }
            });
            let label = ui.label("chart").id;
            egui::ComboBox::from_id_salt("summary_chart")
                .selected_text(self.chart.label())
                .show_ui(ui, |ui| {
                    for m in &spec.measures {
                        ui.selectable_value(&mut self.chart, *m, m.label());
                    }
                })
                .response
                .labelled_by(label);
            match data {
                SummaryData::Loading(_) => {
                    ui.spinner();
                }
                SummaryData::Ready(s) => match &s.sample {
                    // An estimate says so, and the exact summary is on its way.
                    Some(sample) => {
                        ui.spinner();
                        ui.weak(format!(
                            "≈ {}",
                            crate::plural::count(s.rows.len() as u64, "group", "groups")
                        ))
                        .on_hover_text(format!("{}; the exact summary follows", sample.describe()));
                    }
                    None => {
                        ui.weak(crate::plural::count(s.rows.len() as u64, "group", "groups"));
                    }
                },
                _ => {}
            }
            if ui
                .button("Save…")
                .on_hover_text("Save the summary as CSV, or its chart as PNG")
                .clicked()
            {
                self.save_path = match self.save_path {
                    Some(_) => None,
                    None => Some(
                        crate::export::default_path("marquee-summary")
                            .display()
                            .to_string(),
                    ),
                };
            }
        });
        let chart_shown = self.chart_rect.is_some();
        if let Some(path) = &mut self.save_path {
            ui.horizontal(|ui| {
                let label = ui.label("Save summary to").id;
                ui.add(egui::TextEdit::singleline(path).desired_width(320.0))
                    .labelled_by(label);
                let ready = data.summary().is_some() && !path.trim().is_empty();
                let file =
                    |extension: &str| std::path::Path::new(path.trim()).with_extension(extension);
                if ui
                    .add_enabled(ready, egui::Button::new("CSV"))
                    .on_hover_text("The table, each row with the filter of its group")
                    .clicked()
                {
                    commands.push(Command::SaveSummaryCsv(file("csv")));
                }
                if ui
                    .add_enabled(ready && chart_shown, egui::Button::new("Chart PNG"))
                    .on_hover_text("The chart as drawn")
                    .clicked()
                {
                    commands.push(Command::SaveChartPng(file("png")));
                }
            });
        }
        if let Some(note) = note {
            ui.label(note);
        }
        if spec != self.spec {
            if !spec.measures.contains(&self.chart) {
                self.chart = spec.measures[0];
            }
            if spec.by != self.spec.by {
                self.sort = None;
            }
            self.spec = spec;
        }
    }

    /// Row indices in table order: the chosen column, or the summary's natural order.
    fn order(&self, summary: &Summary) -> Vec<usize> {
        let mut order: Vec<usize> = (0..summary.rows.len()).collect();
        let Some((column, descending)) = self.sort else {
            return order;
        };
        let keys = summary.spec.by.len();
        // Looked up once, not per comparison: this runs every frame.
        let value = column
            .checked_sub(keys)
            .and_then(|i| summary.value_columns().get(i).copied());
        order.sort_by(|&a, &b| {
            let (ra, rb) = (&summary.rows[a], &summary.rows[b]);
            let ordering = if column < keys {
                let (ka, kb) = (&ra.keys[column], &rb.keys[column]);
                match (ka.position(), kb.position()) {
                    (Some(x), Some(y)) => x.total_cmp(&y),
                    _ => ka.label().cmp(&kb.label()),
                }
            } else {
                let Some(value) = value else {
                    return std::cmp::Ordering::Equal;
                };
                // Missing values sort last both ways.
                match (summary.cell(ra, value), summary.cell(rb, value)) {
                    (Some(x), Some(y)) => x.total_cmp(&y),
                    (Some(_), None) => return std::cmp::Ordering::Less,
                    (None, Some(_)) => return std::cmp::Ordering::Greater,
                    (None, None) => std::cmp::Ordering::Equal,
                }
            };
            if descending {
                ordering.reverse()
            } else {
                ordering
            }
        });
        order
    }

    fn table_ui(
        &mut self,
        ui: &mut Ui,
        summary: &Summary,
        order: &[usize],
        highlight: Option<usize>,
        drill: &mut Option<Filter>,
    ) {
        let keys = summary.spec.by.len();
        let columns = summary.value_columns();
        let headers: Vec<String> = summary
            .spec
            .by
            .iter()
            .map(|d| d.name().to_owned())
            .chain(columns.iter().map(|c| summary.column_title(*c, true)))
            .collect();
        let widths: Vec<f32> = (0..headers.len())
            .map(|i| if i < keys { KEY_WIDTH } else { VALUE_WIDTH })
            .collect();
        let total: f32 = widths.iter().sum();
        egui::ScrollArea::horizontal()
            .id_salt("summary_table_h")
            .show(ui, |ui| {
                ui.set_min_width(total);
                // Header: click to sort, again to reverse.
                ui.horizontal(|ui| {
                    ui.spacing_mut().item_spacing.x = 0.0;
                    for (i, header) in headers.iter().enumerate() {
                        let arrow = match self.sort {
                            Some((c, true)) if c == i => " ▼",
                            Some((c, false)) if c == i => " ▲",
                            _ => "",
                        };
                        let text = egui::RichText::new(format!("{header}{arrow}")).strong();
                        let response = ui.add_sized(
                            [widths[i], ROW_HEIGHT],
                            egui::Button::new(text).frame(false).truncate(),
                        );
                        if response
                            .on_hover_text(format!("Sort by {header}"))
                            .clicked()
                        {
                            self.sort = match self.sort {
                                Some((c, d)) if c == i => Some((i, !d)),
                                // Measures read best largest first.
                                _ => Some((i, i >= keys)),
                            };
                        }
                    }
                });
                let text_color = ui.visuals().text_color();
                egui::ScrollArea::vertical()
                    .id_salt("summary_table_v")
                    .auto_shrink([false, false])
                    .show_rows(ui, ROW_HEIGHT, order.len(), |ui, range| {
                        for position in range {
                            let index = order[position];
                            let row = &summary.rows[index];
                            let (rect, response) =
                                ui.allocate_exact_size(vec2(total, ROW_HEIGHT), Sense::click());
                            // Built only when accessibility asks, as for the chart's marks.
                            response.widget_info(|| {
                                WidgetInfo::labeled(
                                    Role::Row,
                                    true,
                                    format!("summary row: {}", group_label(summary, row, false)),
                                )
                            });
                            let painter = ui.painter_at(rect);
                            if highlight == Some(index) || response.hovered() {
                                painter.rect_filled(rect, 2.0, ui.visuals().selection.bg_fill);
                            } else if position % 2 == 1 {
                                painter.rect_filled(rect, 0.0, ui.visuals().faint_bg_color);
                            }
                            let mut x = rect.left();
                            let cells = row.keys.iter().map(|k| k.label()).chain(
                                columns
                                    .iter()
                                    .map(|c| summary.format(c.measure, summary.cell(row, *c))),
                            );
                            for (i, cell) in cells.enumerate() {
                                let (anchor, at) = if i < keys {
                                    (Align2::LEFT_CENTER, pos2(x + 4.0, rect.center().y))
                                } else {
                                    (
                                        Align2::RIGHT_CENTER,
                                        pos2(x + widths[i] - 6.0, rect.center().y),
                                    )
                                };
                                painter.text(
                                    at,
                                    anchor,
                                    cell,
                                    FontId::proportional(13.0),
                                    text_color,
                                );
                                x += widths[i];
                            }
                            if response.hovered() {
                                self.hovered = Some(index);
                            }
                            if response
                                .on_hover_text("Click to show these movies (Back returns)")
                                .clicked()
                            {
                                *drill = Some(summary.drill(row));
                            }
                        }
                    });
            });
    }

    fn chart_ui(
        &mut self,
        ui: &mut Ui,
        summary: &Summary,
        order: &[usize],
        highlight: Option<usize>,
        drill: &mut Option<Filter>,
    ) {
        let size = vec2(
            ui.available_width().max(120.0),
            ui.available_height().max(120.0),
        );
        let (rect, _) = ui.allocate_exact_size(size, Sense::hover());
        self.chart_rect = Some(rect);
        let measure = self.chart;
        let compare = summary.spec.compare.as_ref();
        let sides: &[bool] = if compare.is_some() {
            &[false, true]
        } else {
            &[false]
        };
        let marks = match summary.spec.by.as_slice() {
            [first] if first.is_timeline() => line_marks(summary, measure, sides, rect),
            [_] => bar_marks(summary, order, measure, sides, rect),
            _ => heat_marks(summary, measure, rect),
        };
        let painter = ui.painter_at(rect);
        let visuals = ui.visuals().clone();
        let accent = visuals.selection.bg_fill;
        let text_color = visuals.text_color();
        let font = FontId::proportional(11.0);
        for label in &marks.labels {
            painter.text(
                label.at,
                label.anchor,
                &label.text,
                font.clone(),
                visuals.weak_text_color(),
            );
        }
        let compared_color = Color32::from_rgb(226, 140, 60);
        for (line, other) in marks.lines.iter().zip([false, true]) {
            let color = if other { compared_color } else { accent };
            painter.add(egui::Shape::line(line.clone(), Stroke::new(2.0, color)));
        }
        if let Some(compare) = compare {
            // The legend: which colour is which movies.
            let mut x = rect.right() - 4.0;
            for (text, color) in [(compare.label(), compared_color), ("this filter", accent)] {
                let galley = painter.layout_no_wrap(text.to_owned(), font.clone(), text_color);
                x -= galley.size().x;
                painter.galley(pos2(x, rect.top() + 2.0), galley, text_color);
                x -= 14.0;
                painter.rect_filled(
                    Rect::from_min_size(pos2(x, rect.top() + 4.0), vec2(10.0, 10.0)),
                    1.0,
                    color,
                );
                x -= 12.0;
            }
        }
        for mark in &marks.marks {
            let row = &summary.rows[mark.index];
            let lit = highlight == Some(mark.index);
            let response = ui.interact(
                mark.rect,
                ui.scope_id().with(("summary_mark", mark.index, mark.other)),
                Sense::click(),
            );
            // Labels and drill-downs are built only when asked for (accessibility on, the
            // pointer here, a click): a heat map has hundreds of marks and a frame stays cheap.
            let label = || group_label(summary, row, mark.other);
            response.widget_info(|| {
                let kind = match (mark.other, compare) {
                    (true, Some(compare)) => format!("{} ({})", marks.kind, compare.label()),
                    _ => marks.kind.to_owned(),
                };
                WidgetInfo::labeled(Role::Button, true, format!("{kind}: {}", label()))
            });
            let fill = match mark.heat {
                Some(t) => heat_color(t, &visuals),
                None if lit || response.hovered() => visuals.strong_text_color(),
                None if mark.other => compared_color,
                None => accent,
            };
            match marks.kind {
                "point" => {
                    let r = if lit || response.hovered() { 6.0 } else { 3.5 };
                    painter.circle_filled(mark.rect.center(), r, fill);
                }
                _ => {
                    painter.rect_filled(mark.rect, 1.0, fill);
                    if lit || response.hovered() {
                        painter.rect_stroke(
                            mark.rect,
                            1.0,
                            Stroke::new(2.0, text_color),
                            egui::StrokeKind::Inside,
                        );
                    }
                }
            }
            if let Some(text) = &mark.text {
                painter.text(
                    mark.rect.center(),
                    Align2::CENTER_CENTER,
                    text,
                    font.clone(),
                    text_color,
                );
            }
            if response.hovered() {
                self.hovered = Some(mark.index);
            }
            let opens = !mark.other || matches!(compare, Some(Compare::Filter { .. }));
            let response = if response.hovered() {
                let hint = if opens {
                    "Click to show these movies"
                } else {
                    "The rest is what the filter leaves out: it has no filter to open"
                };
                response.on_hover_text(format!("{}\n{hint}", label()))
            } else {
                response
            };
            if response.clicked() && opens {
                *drill = if mark.other {
                    summary.drill_other(row)
                } else {
                    Some(summary.drill(row))
                };
            }
        }
    }
}

fn dimension_combo(ui: &mut Ui, id: &str, value: &mut Dimension) -> egui::Response {
    egui::ComboBox::from_id_salt(id)
        .selected_text(value.name())
        .show_ui(ui, |ui| {
            for d in Dimension::ALL {
                ui.selectable_value(value, d, d.name());
            }
        })
        .response
}

/// "Drama, 1990s: movies 1,234, avg rating (per rating) 3.51" — table rows, marks and tests.
fn group_label(summary: &Summary, row: &SummaryRow, other: bool) -> String {
    let keys: Vec<String> = row.keys.iter().map(|k| k.label()).collect();
    let values: Vec<String> = summary
        .value_columns()
        .into_iter()
        .filter(|c| c.other == other)
        .map(|c| {
            format!(
                "{} {}",
                c.measure.label(),
                summary.format(c.measure, summary.cell(row, c))
            )
        })
        .collect();
    format!("{}: {}", keys.join(", "), values.join(", "))
}

/// One clickable mark of the chart.
struct Mark {
    index: usize,
    /// Of the compared movies.
    other: bool,
    rect: Rect,
    /// 0..=1 for heat map cells (their colour), `None` for bars and points.
    heat: Option<f32>,
    /// Text drawn on the mark (heat map values).
    text: Option<String>,
}

/// An axis or category label.
struct Label {
    at: egui::Pos2,
    anchor: Align2,
    text: String,
}

struct Marks {
    /// "bar", "point" or "cell": how the marks are read out.
    kind: &'static str,
    marks: Vec<Mark>,
    labels: Vec<Label>,
    /// A line per side (this filter, then the compared movies) for timelines.
    lines: Vec<Vec<egui::Pos2>>,
}

/// The value of `measure` on one side of `row`.
fn side_value(summary: &Summary, row: &SummaryRow, measure: Measure, other: bool) -> Option<f64> {
    summary.cell(row, ValueColumn { measure, other })
}

/// Horizontal bars, one per group in table order (two, one per side, in a comparison),
/// labelled on the left.
fn bar_marks(
    summary: &Summary,
    order: &[usize],
    measure: Measure,
    sides: &[bool],
    rect: Rect,
) -> Marks {
    let max = order
        .iter()
        .flat_map(|i| {
            let row = &summary.rows[*i];
            sides
                .iter()
                .filter_map(move |other| side_value(summary, row, measure, *other))
        })
        .fold(0.0f64, f64::max);
    let label_width = 110.0f32.min(rect.width() * 0.35);
    let value_width = 56.0;
    // A comparison's legend takes the first line.
    let top_margin = if sides.len() > 1 { 16.0 } else { 0.0 };
    let n = order.len().max(1) as f32;
    let step = ((rect.height() - top_margin) / n).clamp(4.0, 22.0 * sides.len() as f32);
    let bar_left = rect.left() + label_width;
    let bar_span = (rect.width() - label_width - value_width).max(10.0);
    let mut marks = Vec::new();
    let mut labels = Vec::new();
    let band = step * 0.8 / sides.len() as f32;
    for (position, &index) in order.iter().enumerate() {
        let top = rect.top() + top_margin + position as f32 * step;
        if top + step > rect.bottom() + 0.5 {
            break;
        }
        let row = &summary.rows[index];
        if step >= 10.0 {
            labels.push(Label {
                at: pos2(bar_left - 4.0, top + step / 2.0),
                anchor: Align2::RIGHT_CENTER,
                text: truncate(&row.keys[0].label(), 18),
            });
        }
        for (k, &other) in sides.iter().enumerate() {
            let value = side_value(summary, row, measure, other);
            let width = if max > 0.0 {
                (value.unwrap_or(0.0) / max) as f32 * bar_span
            } else {
                0.0
            };
            let bar = Rect::from_min_size(
                pos2(bar_left, top + step * 0.1 + band * k as f32),
                vec2(width.max(1.0), band * 0.9),
            );
            if band >= 9.0 {
                labels.push(Label {
                    at: pos2(bar.right() + 4.0, bar.center().y),
                    anchor: Align2::LEFT_CENTER,
                    text: summary.format(measure, value),
                });
            }
            marks.push(Mark {
                index,
                other,
                rect: bar,
                heat: None,
                text: None,
            });
        }
    }
    Marks {
        kind: "bar",
        marks,
        labels,
        lines: Vec::new(),
    }
}

/// A line over years or decades (one per side in a comparison); groups without a year are
/// left out of the line (the table has them).
fn line_marks(summary: &Summary, measure: Measure, sides: &[bool], rect: Rect) -> Marks {
    let points: Vec<(usize, bool, f64, f64)> = sides
        .iter()
        .flat_map(|&other| {
            summary.rows.iter().enumerate().filter_map(move |(i, row)| {
                Some((
                    i,
                    other,
                    row.keys[0].position()?,
                    side_value(summary, row, measure, other)?,
                ))
            })
        })
        .collect();
    let mut labels = Vec::new();
    let mut marks = Vec::new();
    if points.is_empty() {
        return Marks {
            kind: "point",
            marks,
            labels,
            lines: Vec::new(),
        };
    }
    let (x0, x1) = points
        .iter()
        .fold((f64::MAX, f64::MIN), |(a, b), p| (a.min(p.2), b.max(p.2)));
    let (mut y0, y1) = points
        .iter()
        .fold((f64::MAX, f64::MIN), |(a, b), p| (a.min(p.3), b.max(p.3)));
    // Counts start at zero; averages and years show their spread.
    if matches!(measure, Measure::Movies | Measure::Ratings) {
        y0 = 0.0;
    }
    let plot = Rect::from_min_max(
        pos2(rect.left() + 56.0, rect.top() + 18.0),
        pos2(rect.right() - 12.0, rect.bottom() - 20.0),
    );
    let x_at = |x: f64| {
        let t = if x1 > x0 { (x - x0) / (x1 - x0) } else { 0.5 };
        plot.left() + t as f32 * plot.width()
    };
    let y_at = |y: f64| {
        let t = if y1 > y0 { (y - y0) / (y1 - y0) } else { 0.5 };
        plot.bottom() - t as f32 * plot.height()
    };
    for (y, anchor_y) in [(y0, plot.bottom()), (y1, plot.top())] {
        labels.push(Label {
            at: pos2(plot.left() - 6.0, anchor_y),
            anchor: Align2::RIGHT_CENTER,
            text: summary.format(measure, Some(y)),
        });
    }
    for x in [x0, x1] {
        labels.push(Label {
            at: pos2(x_at(x), plot.bottom() + 4.0),
            anchor: Align2::CENTER_TOP,
            text: format!("{x:.0}"),
        });
    }
    let per_side = points.len() / sides.len();
    // Each point answers over the width of its neighbourhood, so the hover is easy to hit.
    let half = (plot.width() / per_side.max(1) as f32 / 2.0).clamp(3.0, 24.0);
    let mut lines = Vec::new();
    for &other in sides {
        let line: Vec<egui::Pos2> = points
            .iter()
            .filter(|p| p.1 == other)
            .map(|p| {
                let at = pos2(x_at(p.2), y_at(p.3));
                marks.push(Mark {
                    index: p.0,
                    other,
                    rect: Rect::from_center_size(at, vec2(half * 2.0, 12.0)),
                    heat: None,
                    text: None,
                });
                at
            })
            .collect();
        lines.push(line);
    }
    Marks {
        kind: "point",
        marks,
        labels,
        lines,
    }
}

/// A heat map for a pivot: the first dimension down, the second across.
fn heat_marks(summary: &Summary, measure: Measure, rect: Rect) -> Marks {
    // Each row's place in the grid, found once per frame: (down index, across index).
    let mut downs: Vec<String> = Vec::new();
    let mut acrosses: Vec<String> = Vec::new();
    let mut places: Vec<(usize, usize)> = Vec::with_capacity(summary.rows.len());
    for row in &summary.rows {
        let mut place = [0; 2];
        for (k, list) in [&mut downs, &mut acrosses].into_iter().enumerate() {
            let label = row.keys[k].label();
            place[k] = match list.iter().position(|l| *l == label) {
                Some(i) => i,
                None => {
                    list.push(label);
                    list.len() - 1
                }
            };
        }
        places.push((place[0], place[1]));
    }
    let values: Vec<f64> = summary
        .rows
        .iter()
        .filter_map(|r| summary.value(r, measure))
        .collect();
    let lo = values.iter().copied().fold(f64::MAX, f64::min);
    let hi = values.iter().copied().fold(f64::MIN, f64::max);
    let label_width = 100.0f32.min(rect.width() * 0.3);
    let header = 18.0;
    let cell_w = ((rect.width() - label_width) / acrosses.len().max(1) as f32).max(6.0);
    let cell_h = ((rect.height() - header) / downs.len().max(1) as f32).clamp(6.0, 24.0);
    let mut labels = Vec::new();
    for (i, across) in acrosses.iter().enumerate() {
        if cell_w >= 28.0 {
            labels.push(Label {
                at: pos2(
                    rect.left() + label_width + (i as f32 + 0.5) * cell_w,
                    rect.top() + header / 2.0,
                ),
                anchor: Align2::CENTER_CENTER,
                text: truncate(across, (cell_w / 7.0) as usize),
            });
        }
    }
    for (j, down) in downs.iter().enumerate() {
        if cell_h >= 10.0 {
            labels.push(Label {
                at: pos2(
                    rect.left() + label_width - 4.0,
                    rect.top() + header + (j as f32 + 0.5) * cell_h,
                ),
                anchor: Align2::RIGHT_CENTER,
                text: truncate(down, 16),
            });
        }
    }
    let mut marks = Vec::new();
    for (index, row) in summary.rows.iter().enumerate() {
        let (j, i) = places[index];
        let min = pos2(
            rect.left() + label_width + i as f32 * cell_w,
            rect.top() + header + j as f32 * cell_h,
        );
        if min.y + cell_h > rect.bottom() + 0.5 {
            continue;
        }
        let value = summary.value(row, measure);
        let heat = value.map(|v| {
            if hi > lo {
                ((v - lo) / (hi - lo)) as f32
            } else {
                1.0
            }
        });
        let text = (cell_w >= 40.0 && cell_h >= 14.0).then(|| summary.format(measure, value));
        marks.push(Mark {
            index,
            other: false,
            rect: Rect::from_min_size(min, vec2(cell_w - 1.0, cell_h - 1.0)),
            heat: Some(heat.unwrap_or(0.0)),
            text,
        });
    }
    Marks {
        kind: "cell",
        marks,
        labels,
        lines: Vec::new(),
    }
}

/// From the panel's background (low) to the accent colour (high).
fn heat_color(t: f32, visuals: &egui::Visuals) -> Color32 {
    let low = visuals.extreme_bg_color;
    let high = if visuals.dark_mode {
        Color32::from_rgb(230, 160, 40)
    } else {
        Color32::from_rgb(200, 90, 20)
    };
    low.lerp_to_gamma(high, 0.15 + 0.85 * t.clamp(0.0, 1.0))
}

fn truncate(text: &str, max: usize) -> String {
    if text.chars().count() <= max.max(2) {
        text.to_owned()
    } else {
        let mut out: String = text.chars().take(max.max(2) - 1).collect();
        out.push('…');
        out
    }
}
