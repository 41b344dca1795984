//! What the views ask the app to do. Views draw and push these; `MarqueeApp::logic` carries
//! them out, so no view performs an effect itself.

use serde::{Deserialize, Serialize};

use crate::browse::FilterChange;
use crate::config::{ConnectParams, Settings};
use crate::pool_stats::monitor::PoolStatsAction;

/// What a view asks the app to do; carried out by `App::logic`.
#[derive(Debug)]
pub enum Command {
    /// Any change of the filter: typing, chips, a header click, Esc, Back/Forward, pasted text.
    Filter(FilterChange),
    /// Open the saved view of this name: its filter and columns.
    OpenView(String),
    /// Save the current filter and columns under this name.
    SaveView(String),
    /// Rename a saved view.
    RenameView(String, String),
    /// Delete a saved view.
    DeleteView(String),
    /// Open the Export… dialog.
    OpenExport,
    /// Ask the platform's save dialog where to export, starting from this path.
    ChooseExportPath(std::path::PathBuf),
    /// Export the current filter's movies to this file.
    StartExport(std::path::PathBuf),
    /// Stop the running export (its partial file is removed).
    CancelExport,
    /// Ask the database for tags containing this text (filter completion).
    SuggestTags(String),
    /// Rows `first..=last` are on screen.
    ShowRows(u64, u64),
    /// The selected movie changed.
    Select(Option<i32>),
    /// Put this text on the clipboard.
    Copy(String),
    /// Count exactly (status bar).
    RequestExactCount,
    /// Try connecting again now.
    Retry,
    /// Ask whether to copy the data read in place into the private store ("Copy locally…").
    AskLocalCopy,
    /// Start that copy (the question was answered yes).
    StartLocalCopy,
    /// Close the question without copying.
    CancelLocalCopy,
    /// Browse the finished copy: reconnect to the private store.
    OpenLocalCopy,
    /// Open the connection settings dialog.
    OpenSettings,
    /// Connect once to these settings and report back to the dialog.
    TestConnection(Box<ConnectParams>),
    /// Reconnect with these settings (rebuilds the pool without restarting).
    ApplySettings(Box<Settings>),
    /// Switch theme.
    SetTheme(ThemeChoice),
    /// Show or hide the pool stats panel (toolbar button, F2).
    TogglePoolPanel,
    /// Show or hide the summary panel (toolbar button, F3).
    ToggleSummary,
    /// Write the summary on screen to this CSV file.
    SaveSummaryCsv(std::path::PathBuf),
    /// Save the summary's chart, as drawn, to this PNG file.
    SaveChartPng(std::path::PathBuf),
    /// A column's header menu is open: its statistics for the current filter are wanted.
    ColumnStats(crate::repo::column_stats::StatColumn),
    /// A button in the pool stats panel.
    PoolStats(PoolStatsAction),
}

/// Dark or light.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum ThemeChoice {
    /// Dark (the default).
    #[default]
    Dark,
    /// Light.
    Light,
}

impl ThemeChoice {
    /// Makes it the window's theme.
    pub fn apply(self, ctx: &egui::Context) {
        ctx.set_theme(match self {
            ThemeChoice::Dark => egui::Theme::Dark,
            ThemeChoice::Light => egui::Theme::Light,
        });
    }
}
