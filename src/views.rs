//! Saved views: a name for a filter (its text form, sort included), the visible columns and the
//! summary settings, kept as readable TOML in the config folder (`views.toml`) so people can
//! read, diff and share them.
//!
//! Writes are atomic (a temporary file renamed over the old one) and happen under an exclusive
//! lock on `views.lock`, re-reading the file first, so two windows saving at once both keep
//! their views. A file that does not parse is never overwritten: it is set aside as
//! `views.toml.corrupt-<unix seconds>`, and the caller is told where, so nothing is lost silently.

use std::fs::File;
use std::io::Write as _;
use std::os::fd::AsRawFd as _;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::filter::Filter;

/// One saved view.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SavedView {
    /// What the user called it; unique in the file.
    pub name: String,
    /// The filter's text form, sort included (the language `--filter` takes).
    pub filter: String,
    /// The visible columns, in order (empty: the table's own choice).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub columns: Vec<String>,
    /// The summary to show beside the table (`marquee summarize --view` uses it too).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub summary: Option<crate::summary::SummarySpec>,
}

impl SavedView {
    /// The view's filter, parsed.
    pub fn parsed_filter(&self) -> Result<Filter, ViewsError> {
        Filter::parse(&self.filter).map_err(|e| ViewsError::BadFilter {
            name: self.name.clone(),
            reason: e.to_string(),
        })
    }
}

/// The file's shape: `[[view]]` tables.
#[derive(Debug, Default, Serialize, Deserialize)]
struct ViewsFile {
    #[serde(default, rename = "view")]
    views: Vec<SavedView>,
}

/// What went wrong with the views file, phrased for people.
#[derive(Debug, thiserror::Error)]
pub enum ViewsError {
    /// Reading, locking or writing the file failed.
    #[error("saved views at {path}: {reason}")]
    Io {
        /// The file or folder.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// No view has that name.
    #[error("there is no saved view named \"{0}\" (`marquee views list` shows them)")]
    NotFound(String),
    /// A name that cannot be used.
    #[error("a saved view needs a name that is not blank")]
    BlankName,
    /// Another view already has the new name.
    #[error("a saved view named \"{0}\" already exists; pick another name or delete that one")]
    NameTaken(String),
    /// The stored filter text no longer parses.
    #[error("saved view \"{name}\" has a filter that does not parse: {reason}")]
    BadFilter {
        /// The view.
        name: String,
        /// The parser's message.
        reason: String,
    },
}

/// What [`ViewStore::load`] found.
#[derive(Debug, Default)]
pub struct Loaded {
    /// The views, in the file's order.
    pub views: Vec<SavedView>,
    /// The file did not parse and was moved here (a fresh, empty file takes its place).
    pub set_aside: Option<PathBuf>,
}

/// The views file in one folder.
#[derive(Clone, Debug)]
pub struct ViewStore {
    path: PathBuf,
}

impl ViewStore {
    /// Views in `path` (a `views.toml`).
    pub fn new(path: impl Into<PathBuf>) -> Self {
        Self { path: path.into() }
    }

    /// `views.toml` beside the config file (`$XDG_CONFIG_HOME/marquee/`).
    pub fn default_location() -> Self {
        let folder = directories::ProjectDirs::from("", "", "marquee")
            .map_or_else(|| PathBuf::from(".marquee"), |d| d.config_dir().to_owned());
        Self::new(folder.join("views.toml"))
    }

    /// Where the views live.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Every view. A missing file is no views; a corrupt one is set aside (see [`Loaded`]).
    pub fn load(&self) -> Result<Loaded, ViewsError> {
        let _lock = self.lock()?;
        self.read()
    }

    /// One view by name.
    pub fn get(&self, name: &str) -> Result<SavedView, ViewsError> {
        self.load()?
            .views
            .into_iter()
            .find(|v| v.name == name)
            .ok_or_else(|| ViewsError::NotFound(name.to_owned()))
    }

    /// Saves `view`, replacing one of the same name. Its filter must parse.
    pub fn save(&self, view: SavedView) -> Result<Loaded, ViewsError> {
        if view.name.trim().is_empty() {
            return Err(ViewsError::BlankName);
        }
        view.parsed_filter()?;
        self.update(|views| {
            match views.iter_mut().find(|v| v.name == view.name) {
                Some(existing) => *existing = view,
                None => views.push(view),
            }
            Ok(())
        })
    }

    /// Renames a view.
    pub fn rename(&self, old: &str, new: &str) -> Result<Loaded, ViewsError> {
        let new = new.trim();
        if new.is_empty() {
            return Err(ViewsError::BlankName);
        }
        self.update(|views| {
            if old != new && views.iter().any(|v| v.name == new) {
                return Err(ViewsError::NameTaken(new.to_owned()));
            }
            let view = views
                .iter_mut()
                .find(|v| v.name == old)
                .ok_or_else(|| ViewsError::NotFound(old.to_owned()))?;
            new.clone_into(&mut view.name);
            Ok(())
        })
    }

    /// Deletes a view.
    pub fn delete(&self, name: &str) -> Result<Loaded, ViewsError> {
        self.update(|views| {
            let before = views.len();
            views.retain(|v| v.name != name);
            if views.len() == before {
                return Err(ViewsError::NotFound(name.to_owned()));
            }
            Ok(())
        })
    }

    /// Read, change and write back under the lock, so concurrent writers never lose a view.
    fn update(
        &self,
        change: impl FnOnce(&mut Vec<SavedView>) -> Result<(), ViewsError>,
    ) -> Result<Loaded, ViewsError> {
        let _lock = self.lock()?;
        let mut loaded = self.read()?;
        change(&mut loaded.views)?;
        self.write(&loaded.views)?;
        Ok(loaded)
    }

    fn io(&self, path: &Path, err: impl std::fmt::Display) -> ViewsError {
        ViewsError::Io {
            path: path.to_owned(),
            reason: err.to_string(),
        }
    }

    /// Reads the file (the lock is held). A file that does not parse is renamed aside.
    fn read(&self) -> Result<Loaded, ViewsError> {
        let text = match std::fs::read_to_string(&self.path) {
            Ok(text) => text,
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => {
                return Ok(Loaded::default());
            }
            Err(err) => return Err(self.io(&self.path, err)),
        };
        match toml::from_str::<ViewsFile>(&text) {
            Ok(file) => Ok(Loaded {
                views: file.views,
                set_aside: None,
            }),
            Err(err) => {
                let secs = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(0, |d| d.as_secs());
                let mut aside = self.path.clone().into_os_string();
                aside.push(format!(".corrupt-{secs}"));
                let aside = PathBuf::from(aside);
                std::fs::rename(&self.path, &aside).map_err(|e| self.io(&self.path, e))?;
                tracing::warn!(
                    "saved views at {} did not parse ({}); moved to {} and started afresh",
                    self.path.display(),
                    err.message(),
                    aside.display()
                );
                Ok(Loaded {
                    views: Vec::new(),
                    set_aside: Some(aside),
                })
            }
        }
    }

    /// Writes every view to a temporary file and renames it over the old one.
    fn write(&self, views: &[SavedView]) -> Result<(), ViewsError> {
        let text = toml::to_string_pretty(&ViewsFile {
            views: views.to_vec(),
        })
        .map_err(|e| self.io(&self.path, e))?;
        let mut temp = self.path.clone().into_os_string();
        temp.push(format!(".tmp-{}", std::process::id()));
        let temp = PathBuf::from(temp);
        let written = (|| {
            let mut file = File::create(&temp)?;
            file.write_all(
                b"# Marquee's saved views: one [[view]] each (name, filter, columns).\n",
            )?;
            file.write_all(text.as_bytes())?;
            file.sync_all()?;
            std::fs::rename(&temp, &self.path)
        })();
        written.map_err(|e| {
            let _ = std::fs::remove_file(&temp);
            self.io(&self.path, e)
        })
    }

    /// An exclusive lock on `views.lock` beside the file, held until the guard drops.
    fn lock(&self) -> Result<File, ViewsError> {
        let folder = self.path.parent().unwrap_or(Path::new("."));
        std::fs::create_dir_all(folder).map_err(|e| self.io(folder, e))?;
        let lock_path = folder.join("views.lock");
        let file = File::options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(|e| self.io(&lock_path, e))?;
        // SAFETY: flock on a descriptor we own; it is released when the file closes.
        let rc = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX) };
        if rc != 0 {
            return Err(self.io(&lock_path, std::io::Error::last_os_error()));
        }
        Ok(file)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store() -> (tempfile::TempDir, ViewStore) {
        let dir = tempfile::tempdir().expect("temp dir");
        let store = ViewStore::new(dir.path().join("views.toml"));
        (dir, store)
    }

    fn view(name: &str, filter: &str) -> SavedView {
        SavedView {
            name: name.to_owned(),
            filter: filter.to_owned(),
            columns: vec!["title".into(), "year".into()],
            summary: None,
        }
    }

    #[test]
    fn views_save_rename_delete_and_read_back_as_toml() {
        let (_dir, store) = store();
        assert!(store.load().expect("load").views.is_empty());
        store
            .save(view("noir", "genre:Film-Noir year:1940..1949"))
            .expect("save");
        store.save(view("best", "sort:-rating")).expect("save");
        store
            .save(view("noir", "genre:Film-Noir"))
            .expect("replace");
        let text = std::fs::read_to_string(store.path()).expect("file");
        assert!(
            text.contains("[[view]]") && text.contains("name = \"noir\""),
            "{text}"
        );
        store.rename("noir", "film noir").expect("rename");
        assert!(matches!(
            store.rename("best", "film noir"),
            Err(ViewsError::NameTaken(_))
        ));
        store.delete("best").expect("delete");
        assert!(matches!(store.delete("best"), Err(ViewsError::NotFound(_))));
        let views = store.load().expect("load").views;
        assert_eq!(views, [view("film noir", "genre:Film-Noir")]);
        assert!(matches!(
            store.save(view("bad", "year:19x7")),
            Err(ViewsError::BadFilter { .. })
        ));
        assert!(matches!(
            store.save(view("  ", "")),
            Err(ViewsError::BlankName)
        ));
    }

    #[test]
    fn a_corrupt_file_is_set_aside_never_lost() {
        let (dir, store) = store();
        std::fs::write(store.path(), "this is [not toml").expect("write");
        let loaded = store.load().expect("load");
        assert!(loaded.views.is_empty());
        let aside = loaded.set_aside.expect("set aside");
        assert_eq!(
            std::fs::read_to_string(&aside).expect("kept"),
            "this is [not toml"
        );
        assert!(aside.starts_with(dir.path()));
        // Saving afterwards starts a fresh file and leaves the set-aside one alone.
        store.save(view("a", "genre:Drama")).expect("save");
        assert!(aside.exists());
        assert_eq!(store.load().expect("load").views.len(), 1);
    }

    #[test]
    fn two_writers_at_once_keep_every_view() {
        let (_dir, store) = store();
        let threads: Vec<_> = (0..8)
            .map(|i| {
                let store = store.clone();
                std::thread::spawn(move || {
                    for j in 0..10 {
                        store
                            .save(view(&format!("w{i}-{j}"), "genre:Drama"))
                            .expect("save");
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().expect("writer");
        }
        assert_eq!(store.load().expect("load").views.len(), 80);
    }

    #[test]
    fn a_view_naming_a_genre_the_collection_lacks_still_opens() {
        let (_dir, store) = store();
        store
            .save(view("gone", "genre:Space-Western,Drama"))
            .expect("save");
        let filter = store
            .get("gone")
            .expect("get")
            .parsed_filter()
            .expect("parses");
        assert_eq!(filter.genres.any_of, ["Drama", "Space-Western"]);
    }
}
