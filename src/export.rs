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

/// Writes `file` whole or not at all: `write` fills `FILE.partial`, which then replaces `file`.
/// On failure the partial file is removed and an older `file` is left as it was.
pub fn write_whole(
    file: &Path,
    write: impl FnOnce(&mut dyn std::io::Write) -> anyhow::Result<()>,
) -> anyhow::Result<()> {
    let mut partial = file.as_os_str().to_owned();
    partial.push(".partial");
    let partial = PathBuf::from(partial);
    let result = (|| -> anyhow::Result<()> {
        let mut out = std::io::BufWriter::new(
            std::fs::File::create(&partial)
                .map_err(|e| anyhow::anyhow!("cannot create {}: {e}", partial.display()))?,
        );
        write(&mut out)?;
        out.flush()?;
        drop(out);
        std::fs::rename(&partial, file)
            .map_err(|e| anyhow::anyhow!("cannot write {}: {e}", file.display()))?;
        Ok(())
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&partial);
    }
    result
}

/// Writes `image` (8-bit RGBA, as egui's screenshots come) to `file` as PNG, whole or not at all.
pub fn write_png(image: &egui::ColorImage, file: &Path) -> anyhow::Result<()> {
    let [width, height] = image.size;
    anyhow::ensure!(width > 0 && height > 0, "the chart has no pixels to save");
    write_whole(file, |out| {
        let mut encoder = png::Encoder::new(out, width as u32, height as u32);
        encoder.set_color(png::ColorType::Rgba);
        encoder.set_depth(png::BitDepth::Eight);
        let mut writer = encoder.write_header()?;
        writer.write_image_data(image.as_raw())?;
        writer.finish()?;
        Ok(())
    })
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_png_holds_the_pixels_and_a_failed_write_keeps_the_old_file() {
        let dir = tempfile::tempdir().expect("temp dir");
        let file = dir.path().join("chart.png");
        let mut image = egui::ColorImage::filled([3, 2], egui::Color32::from_rgb(10, 20, 30));
        image[(2, 1)] = egui::Color32::from_rgb(200, 100, 50);
        write_png(&image, &file).expect("write");
        let decoder = png::Decoder::new(std::io::BufReader::new(
            std::fs::File::open(&file).expect("open"),
        ));
        let mut reader = decoder.read_info().expect("a PNG");
        let mut pixels = vec![0; reader.output_buffer_size().expect("size")];
        let info = reader.next_frame(&mut pixels).expect("frame");
        assert_eq!((info.width, info.height), (3, 2));
        assert_eq!(&pixels[..4], &[10, 20, 30, 255]);
        assert_eq!(&pixels[(3 + 2) * 4..(3 + 2) * 4 + 4], &[200, 100, 50, 255]);

        let before = std::fs::read(&file).expect("read");
        let failed = write_whole(&file, |_| anyhow::bail!("disk full"));
        assert!(failed.is_err());
        assert_eq!(
            std::fs::read(&file).expect("read"),
            before,
            "the old file stays"
        );
        assert_eq!(
            std::fs::read_dir(dir.path()).expect("dir").count(),
            1,
            "no partial file"
        );
    }
}
