//! Progress of long work (seeding, imports, first start), and the terminal bar that shows it.
//! The CLI, the window's first start and the benchmarks all report through it.

/// How far a load has come; `total` is known for generated data and for files (in bytes).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Progress {
    /// What is being loaded (`movies`, `ratings`, `tags`, `indexes`).
    pub stage: &'static str,
    /// Units done.
    pub done: u64,
    /// Units in all, when known.
    pub total: Option<u64>,
}

/// Drives an indicatif bar from load progress (hidden when stderr is not a terminal).
pub fn with_progress_bar<T, E>(
    f: impl FnOnce(&mut dyn FnMut(Progress)) -> Result<T, E>,
) -> Result<T, E> {
    use indicatif::{ProgressBar, ProgressStyle};
    let bar = ProgressBar::new(0);
    let style = ProgressStyle::with_template("{msg:>16} [{bar:40}] {pos}/{len} ({eta})")
        .map(|s| s.progress_chars("=> "))
        .unwrap_or_else(|_| ProgressStyle::default_bar());
    bar.set_style(style);
    let mut stage = "";
    let result = f(&mut |p: Progress| {
        if p.stage != stage {
            stage = p.stage;
            bar.set_message(p.stage);
            bar.set_length(p.total.unwrap_or(0));
        }
        if let Some(total) = p.total {
            bar.set_length(total);
        }
        bar.set_position(p.done);
    });
    bar.finish_and_clear();
    result
}
