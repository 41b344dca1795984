//! The pool stats panel in the window: shown or not, and what it draws. The figures and the
//! work its buttons start live in [`PoolMonitor`], which the app drives from `logic`; the
//! drawing itself is [`PoolStatsView`].

use egui::{RichText, Ui};

use crate::pool_stats::monitor::{PoolMonitor, PoolStatsAction};

use super::pool_stats::PoolStatsView;

/// The panel's state beside the monitor.
#[derive(Debug, Default)]
pub struct PoolPanel {
    /// Whether the panel is shown (persisted in `State`).
    pub open: bool,
    view: PoolStatsView,
}

impl PoolPanel {
    /// A panel, shown or not.
    pub fn new(open: bool) -> Self {
        Self {
            open,
            ..Self::default()
        }
    }

    /// Draws the panel: the view, with the last action's outcome at its foot. Returns what the
    /// user clicked; the app carries it out from `logic`.
    pub fn ui(&mut self, ui: &mut Ui, monitor: &PoolMonitor) -> Vec<PoolStatsAction> {
        if let Some(note) = monitor.note() {
            egui::Panel::bottom("pool_stats_note").show(ui, |ui| {
                ui.add_space(2.0);
                let text = RichText::new(&note.text);
                if note.is_error {
                    ui.colored_label(ui.visuals().error_fg_color, text);
                } else {
                    ui.label(text);
                }
            });
        }
        ui.add_space(4.0);
        // Its grids are wider than a side panel should be: scroll sideways rather than let the
        // panel grow over the table.
        egui::ScrollArea::horizontal()
            .id_salt("pool_stats_sideways")
            .auto_shrink([false, false])
            .show(ui, |ui| self.view.ui(ui, monitor.model()))
            .inner
    }
}
