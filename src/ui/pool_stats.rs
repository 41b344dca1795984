//! The pool stats panel: live gauges with 60-second sparklines, health, checkout wait and hold
//! times, counters, one row per pooled connection beside the server's own view, workers, recent
//! jobs and settings. It only draws a [`PoolStatsModel`] and returns [`PoolStatsAction`]s; the
//! app carries them out (it never touches the pool here).

use egui::{Color32, RichText, Ui};
use egui_plot::{Bar, BarChart, HLine, Line, Plot, PlotPoints};

use crate::db::hosts::{HostUse, Role};
use crate::plural::count;
use crate::pool_stats::monitor::PoolStatsAction;
use crate::pool_stats::{
    Gauge, HISTORY_WINDOW, Health, PoolStatsModel, Quantiles, format_micros, format_secs_f64,
    histogram_bars,
};

/// The panel's own state: the stress drill's inputs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PoolStatsView {
    /// Concurrent queries for the stress drill.
    pub stress_queries: u32,
    /// Its duration in seconds.
    pub stress_secs: u32,
}

impl Default for PoolStatsView {
    fn default() -> Self {
        Self {
            stress_queries: 30,
            stress_secs: 5,
        }
    }
}

impl PoolStatsView {
    /// Draws the panel; returns what the user clicked.
    pub fn ui(&mut self, ui: &mut Ui, model: &PoolStatsModel) -> Vec<PoolStatsAction> {
        let mut actions = Vec::new();
        ui.heading("Connection pool");
        ui.label(RichText::new(model.plain_summary()).strong());
        if model.snapshot().is_none() {
            health_ui(ui, model);
            ui.label("No pool yet: figures appear once connected.");
            return actions;
        }
        // The buttons come first, so status lines that appear below never move them.
        self.actions_ui(ui, model, &mut actions);
        ui.separator();
        egui::ScrollArea::vertical()
            .id_salt("pool_stats_scroll")
            .show(ui, |ui| {
                health_ui(ui, model);
                ui.separator();
                // With read replicas, where the reads go comes first.
                if model.snapshot().is_some_and(|s| !s.hosts.is_empty()) {
                    section(ui, "Hosts", |ui| hosts_ui(ui, model));
                }
                gauges_ui(ui, model);
                section(ui, "Checkout wait", |ui| wait_ui(ui, model));
                section(ui, "Time held and connection setup", |ui| {
                    hold_ui(ui, model);
                });
                section(ui, "Counters since start", |ui| counters_ui(ui, model));
                section(ui, "Connections", |ui| {
                    connections_ui(ui, model, &mut actions);
                });
                section(ui, "Server view (pg_stat_activity)", |ui| {
                    server_ui(ui, model, &mut actions);
                });
                section(ui, "Workers and recent jobs", |ui| workers_ui(ui, model));
                section(ui, "Settings", |ui| settings_ui(ui, model));
            });
        actions
    }

    fn actions_ui(
        &mut self,
        ui: &mut Ui,
        model: &PoolStatsModel,
        actions: &mut Vec<PoolStatsAction>,
    ) {
        ui.horizontal_wrapped(|ui| {
            if ui
                .button("Validate all now")
                .on_hover_text("Check every idle connection with a round trip; close the dead ones")
                .clicked()
            {
                actions.push(PoolStatsAction::ValidateAll);
            }
            if ui
                .button("Recycle all")
                .on_hover_text(
                    "Close every connection (busy ones when returned) and open fresh ones",
                )
                .clicked()
            {
                actions.push(PoolStatsAction::RecycleAll);
            }
        });
        ui.horizontal_wrapped(|ui| {
            let running = model.stress().is_some_and(|s| !s.finished);
            let stress = ui
                .add_enabled(!running, egui::Button::new("Stress"))
                .on_hover_text("Fire concurrent queries so the pool saturates, queues and drains");
            if stress.clicked() {
                actions.push(PoolStatsAction::Stress {
                    queries: self.stress_queries,
                    secs: self.stress_secs,
                });
            }
            ui.add(
                egui::DragValue::new(&mut self.stress_queries)
                    .range(1..=500)
                    .suffix(" queries"),
            );
            ui.add(
                egui::DragValue::new(&mut self.stress_secs)
                    .range(1..=60)
                    .suffix(" s"),
            );
        });
        if let Some(s) = model.stress() {
            let state = if s.finished {
                "Stress drill done".to_owned()
            } else {
                format!(
                    "Stress drill running, {} left",
                    format_secs_f64(s.remaining_secs)
                )
            };
            ui.label(format!(
                "{state}: {}, {}, {}, {}",
                count(u64::from(s.threads), "thread", "threads"),
                count(s.completed, "query", "queries"),
                count(s.timeouts, "checkout timeout", "checkout timeouts"),
                count(s.errors, "error", "errors"),
            ));
        }
    }
}

fn section(ui: &mut Ui, title: &str, body: impl FnOnce(&mut Ui)) {
    egui::CollapsingHeader::new(title)
        .default_open(true)
        .show(ui, body);
}

fn health_color(health: &Health) -> Color32 {
    match health {
        Health::Healthy => Color32::from_rgb(60, 170, 90),
        Health::Degraded { .. } | Health::Recovering => Color32::from_rgb(220, 160, 40),
        Health::Unreachable { .. } | Health::Refused { .. } => Color32::from_rgb(220, 70, 60),
        Health::Connecting => Color32::GRAY,
    }
}

fn health_ui(ui: &mut Ui, model: &PoolStatsModel) {
    let health = model.health();
    ui.horizontal(|ui| {
        ui.label("Health:");
        ui.label(
            RichText::new(health.label())
                .strong()
                .color(health_color(health)),
        );
    });
    for line in health.details() {
        ui.label(line);
    }
    match model.last_success_secs_ago() {
        Some(secs) => ui.label(format!("Last success {} ago", format_secs_f64(secs))),
        None => ui.label("No query has succeeded yet"),
    };
    if let Some(error) = model.last_error() {
        let code = error
            .sqlstate
            .as_ref()
            .map(|s| format!(", SQLSTATE {s}"))
            .unwrap_or_default();
        ui.label(format!(
            "Last error {} ago ({:?}{code}): {}",
            format_secs_f64(error.secs_ago),
            error.kind,
            error.message
        ));
    }
}

fn gauges_ui(ui: &mut Ui, model: &PoolStatsModel) {
    let g = model.gauges();
    egui::Grid::new("pool_stats_gauges")
        .num_columns(2)
        .show(ui, |ui| {
            let mut row = |name: &str, value: String| {
                ui.label(name);
                ui.label(value);
                ui.end_row();
            };
            row("Connections", format!("{} / {}", g.total, g.max));
            row("Idle", g.idle.to_string());
            row("In use", format!("{} (peak {})", g.in_use, g.peak_in_use));
            row("Being opened", g.opening.to_string());
            row(
                "Waiting for a connection",
                format!("{} (peak {})", g.waiting, g.peak_waiting),
            );
            row(
                "Oldest waiter",
                g.oldest_waiter_micros
                    .map_or_else(|| "none".to_owned(), format_micros),
            );
            row("Min idle target", g.min_idle.to_string());
        });
    let window = HISTORY_WINDOW.as_secs_f64();
    // The key sits above each plot, never on it: a legend inside covered the oldest minute.
    let connections = [
        (Gauge::Total, Color32::from_rgb(200, 200, 200)),
        (Gauge::Idle, Color32::from_rgb(90, 150, 230)),
        (Gauge::InUse, Color32::from_rgb(110, 190, 90)),
        (Gauge::Opening, Color32::from_rgb(200, 110, 210)),
    ];
    let min_idle_color = Color32::from_rgb(80, 190, 180);
    plot_key(
        ui,
        connections
            .iter()
            .map(|(g, c)| (g.label(), *c))
            .chain([("min idle", min_idle_color)]),
    );
    Plot::new("pool_stats_connections_plot")
        .height(90.0)
        .include_x(-window)
        .include_x(0.0)
        .include_y(0.0)
        .include_y(f64::from(g.max))
        .allow_drag(false)
        .allow_zoom(false)
        .allow_scroll(false)
        .show(ui, |plot| {
            for (gauge, color) in connections {
                plot.line(
                    Line::new(gauge.label(), PlotPoints::new(model.series(gauge))).color(color),
                );
            }
            plot.hline(HLine::new("min idle", f64::from(g.min_idle)).color(min_idle_color));
        });
    let waiting = [
        (Gauge::Waiting, Color32::from_rgb(220, 90, 80)),
        (Gauge::OldestWaiterMillis, Color32::from_rgb(230, 170, 60)),
    ];
    plot_key(ui, waiting.iter().map(|(g, c)| (g.label(), *c)));
    Plot::new("pool_stats_waiting_plot")
        .height(70.0)
        .include_x(-window)
        .include_x(0.0)
        .include_y(0.0)
        .include_y(1.0)
        .allow_drag(false)
        .allow_zoom(false)
        .allow_scroll(false)
        .show(ui, |plot| {
            for (gauge, color) in waiting {
                plot.line(
                    Line::new(gauge.label(), PlotPoints::new(model.series(gauge))).color(color),
                );
            }
        });
}

/// A plot's key, one colored line sample and name per series, drawn above the plot.
fn plot_key<'a>(ui: &mut Ui, series: impl Iterator<Item = (&'a str, Color32)>) {
    ui.horizontal_wrapped(|ui| {
        for (label, color) in series {
            // A short stroke of the series' color (drawn, so no font needs a line glyph).
            let (rect, _) = ui.allocate_exact_size(egui::vec2(14.0, 10.0), egui::Sense::hover());
            ui.painter().hline(
                rect.x_range(),
                rect.center().y,
                egui::Stroke::new(2.5, color),
            );
            ui.label(RichText::new(label).small());
        }
    });
}

fn quantile_rows(ui: &mut Ui, id: &str, rows: &[(&str, Quantiles)]) {
    egui::Grid::new(id)
        .num_columns(6)
        .striped(true)
        .show(ui, |ui| {
            for header in ["", "p50", "p95", "p99", "max", "count"] {
                ui.strong(header);
            }
            ui.end_row();
            for (name, q) in rows {
                ui.label(*name);
                for micros in [q.p50_micros, q.p95_micros, q.p99_micros, q.max_micros] {
                    ui.label(format_micros(micros));
                }
                ui.label(q.count.to_string());
                ui.end_row();
            }
        });
}

fn wait_ui(ui: &mut Ui, model: &PoolStatsModel) {
    let Some(snapshot) = model.snapshot() else {
        return;
    };
    let wait = &snapshot.counters.wait;
    quantile_rows(
        ui,
        "pool_stats_wait",
        &[("Checkout wait", Quantiles::of(wait))],
    );
    ui.label(format!(
        "{:.1}% of checkouts had to wait ({} of {})",
        model.waited_share() * 100.0,
        snapshot.counters.waited_checkouts,
        snapshot.counters.checkouts + snapshot.counters.timeouts
    ));
    let bars: Vec<Bar> = histogram_bars(wait)
        .into_iter()
        .map(|b| {
            Bar::new(b.bucket as f64 / 4.0, b.count as f64)
                .width(0.22)
                .name(format!("from {}", format_micros(b.floor_micros)))
        })
        .collect();
    Plot::new("pool_stats_wait_histogram")
        .height(80.0)
        .allow_drag(false)
        .allow_zoom(false)
        .allow_scroll(false)
        .include_y(0.0)
        // x is log2 of the wait in µs (four buckets per doubling).
        .x_axis_formatter(|mark, _| format_micros(2_f64.powf(mark.value).round() as u64))
        .show(ui, |plot| {
            plot.bar_chart(BarChart::new("checkout wait", bars));
        });
}

fn hold_ui(ui: &mut Ui, model: &PoolStatsModel) {
    let Some(snapshot) = model.snapshot() else {
        return;
    };
    let c = &snapshot.counters;
    quantile_rows(
        ui,
        "pool_stats_hold",
        &[
            ("Time held", Quantiles::of(&c.hold)),
            ("Connection setup", Quantiles::of(&c.connect)),
        ],
    );
    match model.longest_holder() {
        Some(h) => ui.label(format!(
            "Longest current holder: connection {} (pid {}), {} for {}",
            h.id,
            h.backend_pid,
            h.label,
            format_micros(h.held_micros)
        )),
        None => ui.label("No connection is held right now"),
    };
}

fn counters_ui(ui: &mut Ui, model: &PoolStatsModel) {
    let Some(report) = model
        .snapshot()
        .map(|s| crate::pool_stats::Counters::of(&s.counters))
    else {
        return;
    };
    let rows: [(&str, u64); 17] = [
        ("Checkouts", report.checkouts),
        ("Checkouts that waited", report.waited_checkouts),
        ("Checkout timeouts", report.timeouts),
        ("Connections opened", report.opened),
        ("Connect errors", report.connect_errors),
        ("Closed: broken", report.closed.broken),
        ("Closed: failed validation", report.closed.failed_validation),
        ("Closed: max lifetime", report.closed.max_lifetime),
        ("Closed: idle timeout", report.closed.idle_timeout),
        ("Closed: poisoned", report.closed.poisoned),
        (
            "Closed: recycled / pool closed",
            report.closed.pool_closed_or_recycled,
        ),
        ("Closed: back to a replica", report.closed.back_to_replica),
        ("Validations", report.validations),
        ("Queries", report.queries),
        ("Query errors", report.query_errors),
        ("Queries cancelled", report.cancelled_queries),
        ("Recovery conflicts retried", report.recovery_conflicts),
    ];
    egui::Grid::new("pool_stats_counters")
        .num_columns(2)
        .striped(true)
        .show(ui, |ui| {
            for (name, value) in rows {
                ui.label(name);
                ui.label(value.to_string());
                ui.end_row();
            }
        });
}

/// With read replicas: each host, what it is, whether it answers, its replay lag, and how many
/// of the pool's connections are on it.
fn hosts_ui(ui: &mut Ui, model: &PoolStatsModel) {
    let Some(snapshot) = model.snapshot() else {
        return;
    };
    if let Some(fallback) = snapshot.reads_fall_back() {
        ui.colored_label(Color32::from_rgb(200, 120, 0), fallback);
    }
    egui::Grid::new("pool_stats_hosts")
        .num_columns(6)
        .striped(true)
        .show(ui, |ui| {
            for header in ["Host", "Serves", "Role", "State", "Lag", "Conns"] {
                ui.strong(header);
            }
            ui.end_row();
            for host in &snapshot.hosts {
                ui.label(&host.host);
                match host.used_as {
                    HostUse::Server => ui
                        .label("writes")
                        .on_hover_text("and the reads, while no replica answers"),
                    HostUse::Replica => ui.label("reads"),
                };
                ui.label(match host.role {
                    Some(Role::Primary) => "primary",
                    Some(Role::Standby) => "standby",
                    None => "—",
                });
                match (host.up, &host.error) {
                    (Some(true), _) => ui.label("answers"),
                    (Some(false), Some(error)) => ui
                        .colored_label(Color32::from_rgb(200, 60, 60), "down")
                        .on_hover_text(error),
                    (Some(false), None) => ui.colored_label(Color32::from_rgb(200, 60, 60), "down"),
                    (None, _) => ui.label("checking…"),
                };
                match (host.role, host.lag_secs) {
                    (Some(Role::Standby), Some(lag)) => {
                        ui.label(format_secs_f64(lag.max(0.0))).on_hover_text(
                            "now() - pg_last_xact_replay_timestamp(): it also grows while the \
                             primary commits nothing",
                        )
                    }
                    (Some(Role::Standby), None) => ui
                        .label("—")
                        .on_hover_text("nothing replayed since the standby started"),
                    _ => ui.label(""),
                };
                let on_host = snapshot
                    .connections
                    .iter()
                    .filter(|c| c.host == host.host)
                    .count();
                ui.label(on_host.to_string());
                ui.end_row();
            }
        });
}

fn connections_ui(ui: &mut Ui, model: &PoolStatsModel, actions: &mut Vec<PoolStatsAction>) {
    let rows = model.connection_rows();
    if rows.is_empty() {
        ui.label("No open connections");
        return;
    }
    // The host column appears once there is more than one host to tell apart.
    let with_host = model.snapshot().is_some_and(|s| !s.hosts.is_empty());
    egui::Grid::new("pool_stats_connection_rows")
        .num_columns(if with_host { 9 } else { 8 })
        .striped(true)
        .show(ui, |ui| {
            let headers = [
                "#", "PID", "Host", "State", "Age", "Uses", "Query", "Running", "",
            ];
            for header in headers.into_iter().filter(|h| with_host || *h != "Host") {
                ui.strong(header);
            }
            ui.end_row();
            for row in rows {
                ui.label(row.id.to_string());
                ui.label(format!("pid {}", row.backend_pid));
                if with_host {
                    ui.label(&row.host);
                }
                let state = match (&row.server_state, row.on_server) {
                    (_, Some(false)) => format!("{} (gone from server)", row.state),
                    (Some(server), _) => format!("{} / server: {server}", row.state),
                    _ => row.state.to_owned(),
                };
                ui.label(state);
                ui.label(format_secs_f64(row.age_secs));
                ui.label(row.use_count.to_string());
                let query = match (&row.label, &row.server_query) {
                    (Some(label), Some(sql)) if row.server_state.as_deref() == Some("active") => {
                        format!("{label}: {}", one_line(sql))
                    }
                    (Some(label), _) => label.clone(),
                    _ => String::new(),
                };
                ui.label(query);
                let running = row.server_query_secs.or(row.held_secs);
                ui.label(running.map(format_secs_f64).unwrap_or_default());
                if row.state == "in use" {
                    if ui
                        .small_button("Cancel")
                        .on_hover_text("Ask the server to cancel this connection's query")
                        .clicked()
                    {
                        actions.push(PoolStatsAction::Cancel(row.id));
                    }
                } else {
                    ui.label("");
                }
                ui.end_row();
            }
        });
}

fn one_line(sql: &str) -> String {
    let flat: String = sql.split_whitespace().collect::<Vec<_>>().join(" ");
    match flat.char_indices().nth(80) {
        Some((cut, _)) => format!("{}...", &flat[..cut]),
        None => flat,
    }
}

fn server_ui(ui: &mut Ui, model: &PoolStatsModel, actions: &mut Vec<PoolStatsAction>) {
    ui.horizontal(|ui| {
        if ui.button("Refresh server view").clicked() {
            actions.push(PoolStatsAction::RefreshServerView);
        }
    });
    let Some(view) = model.server_view() else {
        ui.label("Not read yet");
        return;
    };
    let states: Vec<String> = view
        .by_state
        .iter()
        .map(|(state, n)| format!("{} {n}", if state.is_empty() { "unknown" } else { state }))
        .collect();
    ui.label(format!(
        "Server backends: {} ({}), read {} ago",
        view.total,
        states.join(", "),
        format_secs_f64(view.age_secs)
    ));
    let pool_total = model.snapshot().map_or(0, |s| s.total);
    if view.not_in_pool.is_empty() && view.gone_from_server.is_empty() {
        ui.label(format!(
            "Matches the pool ({})",
            count(u64::from(pool_total), "connection", "connections")
        ));
    }
    for b in &view.not_in_pool {
        ui.label(
            RichText::new(format!(
                "pid {} is not in this pool ({}): another Marquee process, or a leak",
                b.pid, b.state
            ))
            .color(Color32::from_rgb(220, 160, 40)),
        );
    }
    for pid in &view.gone_from_server {
        ui.label(
            RichText::new(format!(
                "pid {pid} is in the pool but gone from the server (closed at its next use)"
            ))
            .color(Color32::from_rgb(220, 160, 40)),
        );
    }
}

fn workers_ui(ui: &mut Ui, model: &PoolStatsModel) {
    let workers = model.worker_rows();
    if workers.is_empty() {
        ui.label("No workers");
    } else {
        egui::Grid::new("pool_stats_workers")
            .num_columns(2)
            .striped(true)
            .show(ui, |ui| {
                for w in workers {
                    ui.label(format!("worker {}", w.index));
                    match (w.job, w.label, w.running_secs) {
                        (Some(job), Some(label), Some(secs)) => {
                            ui.label(format!("job {job}: {label} for {}", format_secs_f64(secs)))
                        }
                        _ => ui.label("idle"),
                    };
                    ui.end_row();
                }
            });
    }
    let jobs = model.recent_jobs();
    if jobs.is_empty() {
        return;
    }
    ui.label("Recent jobs (newest first)");
    egui::Grid::new("pool_stats_jobs")
        .num_columns(4)
        .striped(true)
        .show(ui, |ui| {
            for header in ["Job", "Call", "Duration", "Rows / error"] {
                ui.strong(header);
            }
            ui.end_row();
            for job in jobs {
                ui.label(job.job.to_string());
                ui.label(job.label);
                ui.label(format_micros(job.duration_micros));
                match &job.error {
                    Some(error) => ui.label(
                        RichText::new(one_line(error)).color(Color32::from_rgb(220, 70, 60)),
                    ),
                    None => ui.label(count(job.rows, "row", "rows")),
                };
                ui.end_row();
            }
        });
}

fn settings_ui(ui: &mut Ui, model: &PoolStatsModel) {
    egui::Grid::new("pool_stats_settings")
        .num_columns(2)
        .striped(true)
        .show(ui, |ui| {
            for (name, value) in model.settings_rows() {
                ui.label(name);
                ui.label(value);
                ui.end_row();
            }
        });
}
