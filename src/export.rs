//! Export of exactly what a filter selects to a CSV file, for `marquee export` and the window's
//! Export… alike. Rows stream from the server's COPY (constant memory) into `FILE.partial`,
//! which replaces FILE only once complete: an export is whole or absent. A failure, or a cancel
//! (the server query is cancelled, which breaks the stream), removes the partial file and leaves
//! an older FILE untouched.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use crate::db::pool::DatabasePool;
use crate::filter::Filter;
use crate::repo::movies::{ExportError, MoviesRepository};

/// Where an export to `file` is written until it is complete.
pub fn partial_path(file: &Path) -> PathBuf {
    file.with_extension("csv.partial")
}

/// Streams the movies `filter` selects into `file`; `progress` hears the rows written so far.
/// Returns how many movies were written.
pub fn export_to_file(
    pool: &DatabasePool,
    filter: &Filter,
    file: &Path,
    progress: &mut dyn FnMut(u64),
) -> Result<u64, ExportError> {
    let partial = partial_path(file);
    let result = (|| {
        let out = std::fs::File::create(&partial)
            .map_err(|e| ExportError::Write(format!("cannot create {}: {e}", partial.display())))?;
        let mut out = std::io::BufWriter::new(out);
        let rows = MoviesRepository::new(pool.clone()).export_csv(filter, &mut out, progress)?;
        out.flush()
            .map_err(|e| ExportError::Write(format!("{}: {e}", partial.display())))?;
        drop(out);
        std::fs::rename(&partial, file)
            .map_err(|e| ExportError::Write(format!("cannot write {}: {e}", file.display())))?;
        Ok(rows)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&partial);
    }
    result
}

/// Where the window suggests saving an export: the Downloads folder, else home, else here.
pub fn default_path(file_name: &str) -> PathBuf {
    let dirs = directories::UserDirs::new();
    let folder = dirs
        .as_ref()
        .and_then(|d| d.download_dir().map(Path::to_path_buf))
        .or_else(|| dirs.as_ref().map(|d| d.home_dir().to_path_buf()))
        .unwrap_or_else(|| PathBuf::from("."));
    folder.join(file_name)
}

/// Asks the platform's save dialog (the XDG desktop portal on Linux) for a file, starting at
/// `suggested`; `done` hears the answer on a thread of its own, since the dialog blocks. Without
/// a portal (a bare X server, some minimal desktops) the answer is `None` and the path typed in
/// the window's own field is what counts.
pub fn choose_path(suggested: &Path, done: impl FnOnce(Option<PathBuf>) + Send + 'static) {
    let mut dialog = rfd::FileDialog::new().add_filter("CSV", &["csv"]);
    if let Some(folder) = suggested.parent().filter(|p| p.is_dir()) {
        dialog = dialog.set_directory(folder);
    }
    if let Some(name) = suggested.file_name() {
        dialog = dialog.set_file_name(name.to_string_lossy());
    }
    let spawned = std::thread::Builder::new()
        .name("marquee-save-dialog".into())
        .spawn(move || done(dialog.save_file()));
    if let Err(err) = spawned {
        tracing::warn!("could not open the save dialog: {err}");
    }
}
