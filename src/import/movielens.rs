//! Streaming, validating readers for a MovieLens folder (`movies.csv`, `ratings.csv`, `tags.csv`, `links.csv`).
//!
//! Real MovieLens downloads run to hundreds of megabytes, so every file is read
//! row by row and never held in memory. Each reader checks the header, the
//! number of fields and every value, and reports problems as
//! `ratings.csv, line 7: rating "abc" is not a number` so a person can open
//! the file and fix it. Progress is measured in bytes consumed, which can be
//! compared with [`MovieLensDir::total_bytes`] to drive a progress bar.

use std::fs::File;
use std::io;
use std::marker::PhantomData;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use csv::ByteRecord;

use super::records::{LinkRecord, MovieRecord, RatingRecord, TagRecord};
use super::title::{parse_genres, parse_year};

/// Longest accepted field. MovieLens fields are short; anything bigger is a
/// broken file (e.g. an unterminated quote swallowing the rest of it).
pub const MAX_FIELD_BYTES: usize = 1024 * 1024;

/// Latest accepted timestamp: 9999-12-31 23:59:59 UTC, the end of PostgreSQL's
/// and most tools' comfortable date range.
const MAX_TIMESTAMP_SECS: i64 = 253_402_300_799;

/// Read buffer for the CSV parser; larger than the default for fewer syscalls.
const READ_BUFFER_BYTES: usize = 256 * 1024;

/// Longest value quoted back in an error message, so a garbage megabyte field
/// does not turn into a megabyte message.
const MAX_QUOTED_CHARS: usize = 40;

/// Why reading a MovieLens folder failed.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    /// The folder has no `movies.csv` (or does not exist).
    #[error(
        "{path}: not found — a MovieLens folder needs movies.csv (and optionally ratings.csv, tags.csv, links.csv)"
    )]
    MissingMovies {
        /// Where `movies.csv` was looked for.
        path: PathBuf,
    },
    /// A row (or the header) is not what MovieLens writes.
    #[error("{file}, line {line}: {reason}")]
    Malformed {
        /// File name only, e.g. `ratings.csv`.
        file: String,
        /// 1-based physical line where the bad row starts.
        line: u64,
        /// What is wrong, written for a person.
        reason: String,
    },
    /// A file could not be opened or read.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// What the operating system said.
        source: io::Error,
    },
}

/// The four files of a MovieLens folder.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MovieLensFile {
    /// `movies.csv`: `movieId,title,genres` (required).
    Movies,
    /// `ratings.csv`: `userId,movieId,rating,timestamp`.
    Ratings,
    /// `tags.csv`: `userId,movieId,tag,timestamp`.
    Tags,
    /// `links.csv`: `movieId,imdbId,tmdbId`.
    Links,
}

impl MovieLensFile {
    /// All files, in the order a loader should import them (movies first,
    /// because the others refer to them).
    pub const ALL: [MovieLensFile; 4] = [Self::Movies, Self::Links, Self::Ratings, Self::Tags];

    /// The file's name inside the folder, e.g. `ratings.csv`.
    pub fn file_name(self) -> &'static str {
        match self {
            Self::Movies => "movies.csv",
            Self::Ratings => "ratings.csv",
            Self::Tags => "tags.csv",
            Self::Links => "links.csv",
        }
    }

    /// The expected header, column by column.
    pub fn columns(self) -> &'static [&'static str] {
        match self {
            Self::Movies => &["movieId", "title", "genres"],
            Self::Ratings => &["userId", "movieId", "rating", "timestamp"],
            Self::Tags => &["userId", "movieId", "tag", "timestamp"],
            Self::Links => &["movieId", "imdbId", "tmdbId"],
        }
    }

    fn index(self) -> usize {
        match self {
            Self::Movies => 0,
            Self::Ratings => 1,
            Self::Tags => 2,
            Self::Links => 3,
        }
    }
}

#[derive(Debug, Clone)]
struct PresentFile {
    path: PathBuf,
    size_bytes: u64,
}

/// A MovieLens folder whose files have been located (but not read yet).
#[derive(Debug, Clone)]
pub struct MovieLensDir {
    dir: PathBuf,
    /// Indexed by [`MovieLensFile::index`]; `None` for an absent optional file.
    files: [Option<PresentFile>; 4],
}

impl MovieLensDir {
    /// Locates the files in `dir`. `movies.csv` is required; `ratings.csv`,
    /// `tags.csv` and `links.csv` are optional and read as empty when absent.
    pub fn open(dir: &Path) -> Result<Self, ImportError> {
        let mut files: [Option<PresentFile>; 4] = [None, None, None, None];
        for file in MovieLensFile::ALL {
            let path = dir.join(file.file_name());
            files[file.index()] = match std::fs::metadata(&path) {
                Ok(meta) if meta.is_file() => Some(PresentFile {
                    path,
                    size_bytes: meta.len(),
                }),
                Ok(_) => None,
                Err(err) if err.kind() == io::ErrorKind::NotFound => None,
                Err(source) => return Err(ImportError::Io { path, source }),
            };
        }
        if files[MovieLensFile::Movies.index()].is_none() {
            return Err(ImportError::MissingMovies {
                path: dir.join(MovieLensFile::Movies.file_name()),
            });
        }
        Ok(Self {
            dir: dir.to_path_buf(),
            files,
        })
    }

    /// The folder this was opened on.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Whether the file exists (always true for [`MovieLensFile::Movies`]).
    pub fn has(&self, file: MovieLensFile) -> bool {
        self.files[file.index()].is_some()
    }

    /// Whether `ratings.csv` exists.
    pub fn has_ratings(&self) -> bool {
        self.has(MovieLensFile::Ratings)
    }

    /// Whether `tags.csv` exists.
    pub fn has_tags(&self) -> bool {
        self.has(MovieLensFile::Tags)
    }

    /// Whether `links.csv` exists.
    pub fn has_links(&self) -> bool {
        self.has(MovieLensFile::Links)
    }

    /// Full path of a present file.
    pub fn path(&self, file: MovieLensFile) -> Option<&Path> {
        self.files[file.index()].as_ref().map(|f| f.path.as_path())
    }

    /// Size of a present file when the folder was opened; `None` when absent.
    pub fn size_bytes(&self, file: MovieLensFile) -> Option<u64> {
        self.files[file.index()].as_ref().map(|f| f.size_bytes)
    }

    /// Sum of the sizes of all present files: the 100% mark of a progress bar
    /// fed by [`Rows::position_bytes`] of each file in turn.
    pub fn total_bytes(&self) -> u64 {
        self.files.iter().flatten().map(|f| f.size_bytes).sum()
    }

    /// Movies with year and genres parsed from the title and genres fields.
    pub fn movies(&self) -> Result<Rows<MovieRecord>, ImportError> {
        self.rows(MovieLensFile::Movies, parse_movie)
    }

    /// Ratings; empty when `ratings.csv` is absent.
    pub fn ratings(&self) -> Result<Rows<RatingRecord>, ImportError> {
        self.rows(MovieLensFile::Ratings, parse_rating)
    }

    /// Tags; empty when `tags.csv` is absent.
    pub fn tags(&self) -> Result<Rows<TagRecord>, ImportError> {
        self.rows(MovieLensFile::Tags, parse_tag)
    }

    /// External ids; empty when `links.csv` is absent.
    pub fn links(&self) -> Result<Rows<LinkRecord>, ImportError> {
        self.rows(MovieLensFile::Links, parse_link)
    }

    fn rows<T>(&self, file: MovieLensFile, parse: ParseFn<T>) -> Result<Rows<T>, ImportError> {
        let progress = Arc::new(AtomicU64::new(0));
        let Some(present) = &self.files[file.index()] else {
            return Ok(Rows {
                file,
                path: self.dir.join(file.file_name()),
                reader: None,
                record: ByteRecord::new(),
                parse,
                progress,
                _marker: PhantomData,
            });
        };
        let path = present.path.clone();
        let handle = File::open(&path).map_err(|source| ImportError::Io {
            path: path.clone(),
            source,
        })?;
        let mut reader = csv::ReaderBuilder::new()
            .flexible(true)
            .has_headers(false)
            .buffer_capacity(READ_BUFFER_BYTES)
            .from_reader(handle);
        let mut header = ByteRecord::new();
        let has_header = reader
            .read_byte_record(&mut header)
            .map_err(|err| csv_error(file, &path, err))?;
        check_header(file, has_header.then_some(&header))?;
        progress.store(reader.position().byte(), Ordering::Relaxed);
        Ok(Rows {
            file,
            path,
            reader: Some(reader),
            record: ByteRecord::new(),
            parse,
            progress,
            _marker: PhantomData,
        })
    }
}

/// Turns the fields of one row (already checked for count, size, NUL and
/// UTF-8) into a record, or says what is wrong with them.
type ParseFn<T> = fn(&[&str]) -> Result<T, String>;

/// Rows of one MovieLens file, read lazily.
///
/// A bad row yields `Err(ImportError::Malformed)` and reading may go on with
/// the next row (the caller decides whether to stop); after an I/O error the
/// iterator ends.
pub struct Rows<T> {
    file: MovieLensFile,
    path: PathBuf,
    /// `None` for an absent optional file or after an I/O error.
    reader: Option<csv::Reader<File>>,
    record: ByteRecord,
    parse: ParseFn<T>,
    progress: Arc<AtomicU64>,
    _marker: PhantomData<fn() -> T>,
}

impl<T> Rows<T> {
    /// Which file these rows come from.
    pub fn file(&self) -> MovieLensFile {
        self.file
    }

    /// Bytes of the file consumed so far (header included); equals the file
    /// size once the iterator is exhausted.
    pub fn position_bytes(&self) -> u64 {
        self.progress.load(Ordering::Relaxed)
    }

    /// A shared counter with the same value as [`Rows::position_bytes`], for a
    /// progress bar on another thread while this iterator runs elsewhere.
    pub fn progress_counter(&self) -> Arc<AtomicU64> {
        Arc::clone(&self.progress)
    }

    fn malformed(&self, line: u64, reason: String) -> ImportError {
        ImportError::Malformed {
            file: self.file.file_name().to_owned(),
            line,
            reason,
        }
    }
}

impl<T> Iterator for Rows<T> {
    type Item = Result<T, ImportError>;

    fn next(&mut self) -> Option<Self::Item> {
        let reader = self.reader.as_mut()?;
        let read = reader.read_byte_record(&mut self.record);
        self.progress
            .store(reader.position().byte(), Ordering::Relaxed);
        match read {
            Ok(false) => {
                self.reader = None;
                None
            }
            Err(err) => {
                self.reader = None;
                Some(Err(csv_error(self.file, &self.path, err)))
            }
            Ok(true) => {
                let line = self.record.position().map_or(0, |p| p.line());
                let parsed = check_fields(self.file, &self.record).and_then(|f| (self.parse)(&f));
                Some(parsed.map_err(|reason| self.malformed(line, reason)))
            }
        }
    }
}

fn csv_error(file: MovieLensFile, path: &Path, err: csv::Error) -> ImportError {
    let line = err.position().map_or(0, |p| p.line());
    let reason = err.to_string();
    match err.into_kind() {
        csv::ErrorKind::Io(source) => ImportError::Io {
            path: path.to_path_buf(),
            source,
        },
        _ => ImportError::Malformed {
            file: file.file_name().to_owned(),
            line,
            reason,
        },
    }
}

fn check_header(file: MovieLensFile, header: Option<&ByteRecord>) -> Result<(), ImportError> {
    let expected = file.columns();
    let wanted = expected.join(",");
    let malformed = |reason: String| ImportError::Malformed {
        file: file.file_name().to_owned(),
        line: 1,
        reason,
    };
    let Some(header) = header else {
        return Err(malformed(format!(
            "the file is empty; its first line must be the header {wanted}"
        )));
    };
    let found: Vec<String> = header
        .iter()
        .enumerate()
        .map(|(i, name)| {
            let name = String::from_utf8_lossy(name);
            let name = if i == 0 {
                name.trim_start_matches('\u{feff}')
            } else {
                &name
            };
            name.trim().to_owned()
        })
        .collect();
    let matches = found.len() == expected.len()
        && found
            .iter()
            .zip(expected)
            .all(|(got, want)| got.eq_ignore_ascii_case(want));
    if matches {
        Ok(())
    } else {
        Err(malformed(format!(
            "header must be {wanted}, found {}",
            shorten(&found.join(","))
        )))
    }
}

/// Checks what every row needs regardless of the file: the field count, the
/// size limit, no NUL bytes (PostgreSQL text cannot hold them) and valid UTF-8.
fn check_fields(file: MovieLensFile, record: &ByteRecord) -> Result<Vec<&str>, String> {
    let columns = file.columns();
    if record.len() != columns.len() {
        return Err(format!(
            "expected {} fields ({}), found {}",
            columns.len(),
            columns.join(","),
            record.len()
        ));
    }
    record
        .iter()
        .zip(columns)
        .map(|(bytes, column)| {
            if bytes.len() > MAX_FIELD_BYTES {
                return Err(format!(
                    "{column} is {} bytes long; fields over 1 MB are not accepted",
                    bytes.len()
                ));
            }
            if bytes.contains(&0) {
                return Err(format!("{column} contains a NUL byte"));
            }
            std::str::from_utf8(bytes).map_err(|err| {
                format!(
                    "invalid UTF-8 in {column} (at byte {} of the field); save the file as UTF-8",
                    err.valid_up_to() + 1
                )
            })
        })
        .collect()
}

fn parse_movie(fields: &[&str]) -> Result<MovieRecord, String> {
    let id = parse_id("movieId", fields[0])?;
    let title = fields[1];
    if title.trim().is_empty() {
        return Err("title is empty".to_owned());
    }
    Ok(MovieRecord {
        id,
        title: title.to_owned(),
        year: parse_year(title),
        genres: parse_genres(fields[2]),
        imdb_id: None,
        tmdb_id: None,
    })
}

fn parse_rating(fields: &[&str]) -> Result<RatingRecord, String> {
    Ok(RatingRecord {
        user_id: parse_id("userId", fields[0])?,
        movie_id: parse_id("movieId", fields[1])?,
        rating: parse_stars(fields[2])?,
        timestamp_secs: parse_timestamp(fields[3])?,
    })
}

fn parse_tag(fields: &[&str]) -> Result<TagRecord, String> {
    Ok(TagRecord {
        user_id: parse_id("userId", fields[0])?,
        movie_id: parse_id("movieId", fields[1])?,
        tag: fields[2].to_owned(),
        timestamp_secs: parse_timestamp(fields[3])?,
    })
}

fn parse_link(fields: &[&str]) -> Result<LinkRecord, String> {
    let imdb = fields[1].trim();
    // IMDb ids are sometimes written with their `tt` prefix (`tt0114709`).
    let imdb = imdb.strip_prefix("tt").unwrap_or(imdb);
    Ok(LinkRecord {
        movie_id: parse_id("movieId", fields[0])?,
        imdb_id: parse_optional_id("imdbId", imdb)?,
        tmdb_id: parse_optional_id("tmdbId", fields[2])?,
    })
}

/// Quotes a value for an error message, cut to a readable length.
fn shorten(text: &str) -> String {
    if text.chars().count() <= MAX_QUOTED_CHARS {
        text.to_owned()
    } else {
        let cut: String = text.chars().take(MAX_QUOTED_CHARS).collect();
        format!("{cut}…")
    }
}

fn is_integer_syntax(text: &str) -> bool {
    let digits = text.strip_prefix(['-', '+']).unwrap_or(text);
    !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit())
}

/// A required id: a whole number from 1 to `i32::MAX`.
fn parse_id(column: &str, text: &str) -> Result<i32, String> {
    parse_optional_id(column, text)?.ok_or_else(|| format!("{column} is empty"))
}

/// An id that may be left empty: a whole number from 1 to `i32::MAX`.
fn parse_optional_id(column: &str, text: &str) -> Result<Option<i32>, String> {
    let text = text.trim();
    if text.is_empty() {
        return Ok(None);
    }
    if !is_integer_syntax(text) {
        return Err(format!(
            "{column} \"{}\" is not a whole number",
            shorten(text)
        ));
    }
    match text.parse::<i32>() {
        Ok(id) if id >= 1 => Ok(Some(id)),
        Ok(_) => Err(format!("{column} {text} is not positive (ids start at 1)")),
        Err(_) if text.starts_with('-') => Err(format!(
            "{column} {} is not positive (ids start at 1)",
            shorten(text)
        )),
        Err(_) => Err(format!(
            "{column} {} is too large (the largest allowed is {})",
            shorten(text),
            i32::MAX
        )),
    }
}

fn parse_stars(text: &str) -> Result<f32, String> {
    let text = text.trim();
    if text.is_empty() {
        return Err("rating is empty".to_owned());
    }
    // Rust also parses `inf` and `NaN`; neither is a rating.
    let number_like = text
        .bytes()
        .all(|b| b.is_ascii_digit() || matches!(b, b'.' | b'-' | b'+' | b'e' | b'E'));
    match text.parse::<f32>() {
        Ok(stars) if number_like && stars.is_finite() => {
            if (0.5..=5.0).contains(&stars) {
                Ok(stars)
            } else {
                Err(format!("rating {} is outside 0.5–5.0", shorten(text)))
            }
        }
        _ => Err(format!("rating \"{}\" is not a number", shorten(text))),
    }
}

fn parse_timestamp(text: &str) -> Result<i64, String> {
    let text = text.trim();
    if text.is_empty() {
        return Err("timestamp is empty".to_owned());
    }
    if !is_integer_syntax(text) {
        return Err(format!(
            "timestamp \"{}\" is not a whole number (seconds since 1970)",
            shorten(text)
        ));
    }
    match text.parse::<i64>() {
        Ok(secs) if (0..=MAX_TIMESTAMP_SECS).contains(&secs) => Ok(secs),
        Ok(secs) if secs < 0 => Err(format!("timestamp {secs} is before 1970")),
        Err(_) if text.starts_with('-') => {
            Err(format!("timestamp {} is before 1970", shorten(text)))
        }
        _ => Err(format!(
            "timestamp {} is after the year 9999 (seconds since 1970 expected)",
            shorten(text)
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const QUIRKS: &str = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/movielens-quirks"
    );
    const MALFORMED: &str = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/movielens-malformed"
    );

    fn quirks() -> MovieLensDir {
        MovieLensDir::open(Path::new(QUIRKS)).expect("fixture folder opens")
    }

    fn all<T>(rows: Rows<T>) -> Vec<T> {
        rows.collect::<Result<Vec<_>, _>>()
            .expect("fixture rows are valid")
    }

    /// A folder with the given `movies.csv` (and optionally another file).
    fn folder(files: &[(&str, &[u8])]) -> tempfile::TempDir {
        let dir = tempfile::tempdir().expect("temp dir");
        for (name, bytes) in files {
            std::fs::write(dir.path().join(name), bytes).expect("write fixture");
        }
        dir
    }

    const MOVIES_OK: &[u8] = b"movieId,title,genres\n1,Toy Story (1995),Comedy\n";

    /// The first error reading `file` from a folder holding `movies.csv` and `file`.
    fn first_error(file: MovieLensFile, bytes: &[u8]) -> String {
        let dir = if file == MovieLensFile::Movies {
            folder(&[("movies.csv", bytes)])
        } else {
            folder(&[("movies.csv", MOVIES_OK), (file.file_name(), bytes)])
        };
        let ml = MovieLensDir::open(dir.path()).expect("folder opens");
        let result: Result<(), ImportError> = (|| {
            match file {
                MovieLensFile::Movies => ml.movies()?.try_for_each(|r| r.map(drop))?,
                MovieLensFile::Ratings => ml.ratings()?.try_for_each(|r| r.map(drop))?,
                MovieLensFile::Tags => ml.tags()?.try_for_each(|r| r.map(drop))?,
                MovieLensFile::Links => ml.links()?.try_for_each(|r| r.map(drop))?,
            }
            Ok(())
        })();
        match result {
            Err(err) => err.to_string(),
            Ok(()) => panic!("expected an error for {}", file.file_name()),
        }
    }

    #[test]
    fn quirks_folder_has_all_files() {
        let ml = quirks();
        assert!(ml.has_ratings() && ml.has_tags() && ml.has_links());
        let sizes: u64 = MovieLensFile::ALL
            .iter()
            .map(|f| ml.size_bytes(*f).expect("present"))
            .sum();
        assert_eq!(ml.total_bytes(), sizes);
        assert!(ml.total_bytes() > 1000);
    }

    #[test]
    fn quirks_movies_parse_every_quirk() {
        let movies = all(quirks().movies().expect("movies"));
        assert_eq!(movies.len(), 16);
        let by_id = |id: i32| {
            movies
                .iter()
                .find(|m| m.id == id)
                .unwrap_or_else(|| panic!("movie {id}"))
        };
        // Unsorted: the file does not start with movie 1.
        assert_ne!(movies[0].id, 1);

        let toy = by_id(1);
        assert_eq!(toy.title, "Toy Story (1995)");
        assert_eq!(toy.year, Some(1995));
        assert_eq!(
            toy.genres,
            ["Adventure", "Animation", "Children", "Comedy", "Fantasy"]
        );

        let lost = by_id(29);
        assert_eq!(
            lost.title,
            "City of Lost Children, The (Cité des enfants perdus, La) (1995)"
        );
        assert_eq!(lost.year, Some(1995));

        let cats = by_id(2157);
        assert_eq!(cats.title, "\"Great Performances\" Cats (1998)");
        assert_eq!(cats.year, Some(1998));

        let spirited = by_id(5618);
        assert_eq!(spirited.title, "千と千尋の神隠し (Spirited Away) (2001)");
        assert_eq!(spirited.year, Some(2001));

        let babylon = by_id(171_495);
        assert_eq!(babylon.title, "Babylon 5");
        assert_eq!(babylon.year, None);

        let fawlty = by_id(147_250);
        assert_eq!(fawlty.title, "Fawlty Towers (1975-1979)");
        assert_eq!(fawlty.year, Some(1975));

        let paterson = by_id(164_179);
        assert_eq!(paterson.title, "Paterson (2016) ", "trailing space kept");
        assert_eq!(paterson.year, Some(2016));

        let hyena = by_id(167_570);
        assert_eq!(hyena.year, None);
        assert!(hyena.genres.is_empty(), "(no genres listed)");

        let brat = by_id(5222);
        assert_eq!(brat.title, "Брат (Brother) (1997)");

        assert_eq!(by_id(4973).year, Some(2001));
        assert_eq!(by_id(1984).title, "1984 (1984)");
        assert_eq!(by_id(1984).year, Some(1984));
        assert_eq!(by_id(260).genres, ["Action", "Adventure", "Sci-Fi"]);
    }

    #[test]
    fn quirks_links_keep_leading_zero_ids_and_empty_tmdb() {
        let links = all(quirks().links().expect("links"));
        assert_eq!(links.len(), 16);
        let toy = links.iter().find(|l| l.movie_id == 1).expect("toy story");
        assert_eq!(toy.imdb_id, Some(114_709));
        assert_eq!(toy.tmdb_id, Some(862));
        let babylon = links
            .iter()
            .find(|l| l.movie_id == 171_495)
            .expect("babylon");
        assert_eq!(babylon.tmdb_id, None);
        assert_eq!(babylon.imdb_id, Some(105_946));
    }

    #[test]
    fn quirks_ratings_and_tags() {
        let ml = quirks();
        let ratings = all(ml.ratings().expect("ratings"));
        assert_eq!(ratings.len(), 40);
        assert!(ratings.iter().any(|r| r.rating == 0.5));
        assert!(ratings.iter().any(|r| r.rating == 5.0));
        let mut pairs: Vec<(i32, i32)> = ratings.iter().map(|r| (r.user_id, r.movie_id)).collect();
        pairs.sort_unstable();
        pairs.dedup();
        assert_eq!(pairs.len(), 40, "fixture (user, movie) pairs are unique");
        let movie_ids: Vec<i32> = all(ml.movies().expect("movies"))
            .iter()
            .map(|m| m.id)
            .collect();
        assert!(ratings.iter().all(|r| movie_ids.contains(&r.movie_id)));

        let tags = all(ml.tags().expect("tags"));
        assert_eq!(tags.len(), 10);
        assert!(tags.iter().any(|t| t.tag == "funny, but sad"));
        assert!(tags.iter().any(|t| t.tag == "宮崎駿"));
        assert!(tags.iter().any(|t| t.tag == "\"classic\""));
        assert!(tags.iter().any(|t| t.tag == "Oscar (Best Picture)"));
        assert!(tags.iter().all(|t| movie_ids.contains(&t.movie_id)));
    }

    #[test]
    fn progress_reaches_the_file_size() {
        let ml = quirks();
        let mut rows = ml.ratings().expect("ratings");
        let counter = rows.progress_counter();
        let after_header = rows.position_bytes();
        assert_eq!(
            after_header,
            "userId,movieId,rating,timestamp\n".len() as u64
        );
        rows.next();
        assert!(rows.position_bytes() > after_header);
        for row in rows.by_ref() {
            row.expect("valid");
        }
        let size = ml.size_bytes(MovieLensFile::Ratings).expect("present");
        assert_eq!(rows.position_bytes(), size);
        assert_eq!(counter.load(Ordering::Relaxed), size);
    }

    #[test]
    fn malformed_fixture_fails_at_line_7() {
        let ml = MovieLensDir::open(Path::new(MALFORMED)).expect("folder opens");
        assert_eq!(all(ml.movies().expect("movies")).len(), 3);
        let results: Vec<_> = ml.ratings().expect("ratings").collect();
        let errors: Vec<String> = results
            .iter()
            .filter_map(|r| r.as_ref().err())
            .map(ToString::to_string)
            .collect();
        assert_eq!(
            errors,
            ["ratings.csv, line 7: rating \"abc\" is not a number"]
        );
        // The rows around the bad one are still read.
        assert_eq!(results.len(), 9);
        match &results[5] {
            Err(ImportError::Malformed { file, line, .. }) => {
                assert_eq!((file.as_str(), *line), ("ratings.csv", 7));
            }
            other => panic!("expected Malformed, got {other:?}"),
        }
    }

    #[test]
    fn missing_movies_is_reported_with_its_path() {
        let dir = folder(&[("ratings.csv", b"userId,movieId,rating,timestamp\n")]);
        let err = MovieLensDir::open(dir.path()).expect_err("no movies.csv");
        let expected = format!(
            "{}: not found — a MovieLens folder needs movies.csv (and optionally ratings.csv, tags.csv, links.csv)",
            dir.path().join("movies.csv").display()
        );
        assert_eq!(err.to_string(), expected);
        assert!(matches!(err, ImportError::MissingMovies { .. }));
        let gone = dir.path().join("does-not-exist");
        assert!(matches!(
            MovieLensDir::open(&gone),
            Err(ImportError::MissingMovies { .. })
        ));
    }

    #[test]
    fn optional_files_read_as_empty() {
        let dir = folder(&[("movies.csv", MOVIES_OK)]);
        let ml = MovieLensDir::open(dir.path()).expect("opens");
        assert!(!ml.has_ratings() && !ml.has_tags() && !ml.has_links());
        assert_eq!(ml.ratings().expect("ratings").count(), 0);
        assert_eq!(ml.tags().expect("tags").count(), 0);
        assert_eq!(ml.links().expect("links").count(), 0);
        assert_eq!(ml.total_bytes(), MOVIES_OK.len() as u64);
        assert_eq!(ml.size_bytes(MovieLensFile::Ratings), None);
    }

    #[test]
    fn header_is_checked() {
        assert_eq!(
            first_error(
                MovieLensFile::Movies,
                b"id,title,genres\n1,A (1995),Drama\n"
            ),
            "movies.csv, line 1: header must be movieId,title,genres, found id,title,genres"
        );
        assert_eq!(
            first_error(MovieLensFile::Ratings, b"userId,movieId,rating\n"),
            "ratings.csv, line 1: header must be userId,movieId,rating,timestamp, found userId,movieId,rating"
        );
        assert_eq!(
            first_error(MovieLensFile::Movies, b""),
            "movies.csv, line 1: the file is empty; its first line must be the header movieId,title,genres"
        );
        assert_eq!(
            first_error(MovieLensFile::Links, b"1,0114709,862\n"),
            "links.csv, line 1: header must be movieId,imdbId,tmdbId, found 1,0114709,862"
        );
    }

    #[test]
    fn header_tolerates_bom_case_and_crlf() {
        let dir = folder(&[(
            "movies.csv",
            "\u{feff}MovieId, Title ,GENRES\r\n1,\"A, The (1995)\",Drama\r\n".as_bytes(),
        )]);
        let ml = MovieLensDir::open(dir.path()).expect("opens");
        let movies = all(ml.movies().expect("movies"));
        assert_eq!(movies[0].title, "A, The (1995)");
        assert_eq!(movies[0].genres, ["Drama"]);
    }

    #[test]
    fn wrong_field_count() {
        assert_eq!(
            first_error(
                MovieLensFile::Movies,
                b"movieId,title,genres\n1,Toy Story (1995),Comedy\n2,Jumanji (1995)\n"
            ),
            "movies.csv, line 3: expected 3 fields (movieId,title,genres), found 2"
        );
        assert_eq!(
            first_error(
                MovieLensFile::Ratings,
                b"userId,movieId,rating,timestamp\n1,1,4.0,964982703,extra\n"
            ),
            "ratings.csv, line 2: expected 4 fields (userId,movieId,rating,timestamp), found 5"
        );
        // An unquoted comma in a title splits it.
        assert_eq!(
            first_error(
                MovieLensFile::Movies,
                b"movieId,title,genres\n29,City of Lost Children, The (1995),Drama\n"
            ),
            "movies.csv, line 2: expected 3 fields (movieId,title,genres), found 4"
        );
    }

    #[test]
    fn ids_must_be_whole_positive_numbers() {
        assert_eq!(
            first_error(
                MovieLensFile::Movies,
                b"movieId,title,genres\nabc,X (1995),Drama\n"
            ),
            "movies.csv, line 2: movieId \"abc\" is not a whole number"
        );
        assert_eq!(
            first_error(
                MovieLensFile::Movies,
                b"movieId,title,genres\n1.5,X (1995),Drama\n"
            ),
            "movies.csv, line 2: movieId \"1.5\" is not a whole number"
        );
        assert_eq!(
            first_error(
                MovieLensFile::Movies,
                b"movieId,title,genres\n,X (1995),Drama\n"
            ),
            "movies.csv, line 2: movieId is empty"
        );
        assert_eq!(
            first_error(
                MovieLensFile::Movies,
                b"movieId,title,genres\n0,X (1995),Drama\n"
            ),
            "movies.csv, line 2: movieId 0 is not positive (ids start at 1)"
        );
        assert_eq!(
            first_error(
                MovieLensFile::Ratings,
                b"userId,movieId,rating,timestamp\nx1,1,4.0,964982703\n"
            ),
            "ratings.csv, line 2: userId \"x1\" is not a whole number"
        );
    }

    #[test]
    fn huge_numbers_are_out_of_range() {
        assert_eq!(
            first_error(
                MovieLensFile::Movies,
                b"movieId,title,genres\n99999999999999,X (1995),Drama\n"
            ),
            "movies.csv, line 2: movieId 99999999999999 is too large (the largest allowed is 2147483647)"
        );
        assert_eq!(
            first_error(
                MovieLensFile::Links,
                b"movieId,imdbId,tmdbId\n1,0114709,99999999999999\n"
            ),
            "links.csv, line 2: tmdbId 99999999999999 is too large (the largest allowed is 2147483647)"
        );
        assert_eq!(
            first_error(
                MovieLensFile::Ratings,
                b"userId,movieId,rating,timestamp\n1,1,4.0,99999999999999\n"
            ),
            "ratings.csv, line 2: timestamp 99999999999999 is after the year 9999 (seconds since 1970 expected)"
        );
        assert_eq!(
            first_error(
                MovieLensFile::Ratings,
                b"userId,movieId,rating,timestamp\n1,1,4.0,99999999999999999999999\n"
            ),
            "ratings.csv, line 2: timestamp 99999999999999999999999 is after the year 9999 (seconds since 1970 expected)"
        );
        assert_eq!(
            first_error(
                MovieLensFile::Ratings,
                b"userId,movieId,rating,timestamp\n1,1,4.0,-5\n"
            ),
            "ratings.csv, line 2: timestamp -5 is before 1970"
        );
    }

    #[test]
    fn ratings_must_be_in_range() {
        let row = |rating: &str| {
            let csv = format!("userId,movieId,rating,timestamp\n1,1,{rating},964982703\n");
            first_error(MovieLensFile::Ratings, csv.as_bytes())
        };
        assert_eq!(
            row("7.5"),
            "ratings.csv, line 2: rating 7.5 is outside 0.5–5.0"
        );
        assert_eq!(row("0"), "ratings.csv, line 2: rating 0 is outside 0.5–5.0");
        assert_eq!(
            row("-1"),
            "ratings.csv, line 2: rating -1 is outside 0.5–5.0"
        );
        assert_eq!(
            row("abc"),
            "ratings.csv, line 2: rating \"abc\" is not a number"
        );
        assert_eq!(
            row("NaN"),
            "ratings.csv, line 2: rating \"NaN\" is not a number"
        );
        assert_eq!(
            row("inf"),
            "ratings.csv, line 2: rating \"inf\" is not a number"
        );
        assert_eq!(row(""), "ratings.csv, line 2: rating is empty");
    }

    #[test]
    fn timestamps_must_be_whole_numbers() {
        assert_eq!(
            first_error(
                MovieLensFile::Tags,
                b"userId,movieId,tag,timestamp\n1,1,funny,2019-01-01\n"
            ),
            "tags.csv, line 2: timestamp \"2019-01-01\" is not a whole number (seconds since 1970)"
        );
        assert_eq!(
            first_error(
                MovieLensFile::Ratings,
                b"userId,movieId,rating,timestamp\n1,1,4.0,9.6e8\n"
            ),
            "ratings.csv, line 2: timestamp \"9.6e8\" is not a whole number (seconds since 1970)"
        );
    }

    #[test]
    fn invalid_utf8_is_reported_with_line() {
        assert_eq!(
            first_error(
                MovieLensFile::Movies,
                b"movieId,title,genres\n1,Toy Story (1995),Comedy\n2,Am\xe9lie (2001),Comedy\n"
            ),
            "movies.csv, line 3: invalid UTF-8 in title (at byte 3 of the field); save the file as UTF-8"
        );
        assert_eq!(
            first_error(
                MovieLensFile::Tags,
                b"userId,movieId,tag,timestamp\n1,1,\xff,964982703\n"
            ),
            "tags.csv, line 2: invalid UTF-8 in tag (at byte 1 of the field); save the file as UTF-8"
        );
    }

    #[test]
    fn nul_bytes_are_rejected() {
        assert_eq!(
            first_error(
                MovieLensFile::Tags,
                b"userId,movieId,tag,timestamp\n1,1,bad\0tag,964982703\n"
            ),
            "tags.csv, line 2: tag contains a NUL byte"
        );
    }

    #[test]
    fn fields_over_one_megabyte_are_rejected() {
        let mut csv = b"movieId,title,genres\n1,\"".to_vec();
        csv.extend(std::iter::repeat_n(b'x', MAX_FIELD_BYTES + 1));
        csv.extend_from_slice(b"\",Drama\n");
        assert_eq!(
            first_error(MovieLensFile::Movies, &csv),
            "movies.csv, line 2: title is 1048577 bytes long; fields over 1 MB are not accepted"
        );
    }

    #[test]
    fn empty_title_is_rejected() {
        assert_eq!(
            first_error(
                MovieLensFile::Movies,
                b"movieId,title,genres\n1,\"  \",Drama\n"
            ),
            "movies.csv, line 2: title is empty"
        );
    }

    #[test]
    fn line_numbers_count_physical_lines() {
        // A quoted title spanning two lines and a blank line shift later rows.
        let csv = b"movieId,title,genres\n1,\"Two\nLines (1995)\",Drama\n\n2,Fine (1996),Drama\nx,Bad (1997),Drama\n";
        assert_eq!(
            first_error(MovieLensFile::Movies, csv),
            "movies.csv, line 6: movieId \"x\" is not a whole number"
        );
    }

    #[test]
    fn quoted_fields_with_commas_and_quotes() {
        let dir = folder(&[
            ("movies.csv", MOVIES_OK),
            (
                "tags.csv",
                b"userId,movieId,tag,timestamp\n7,1,\"say \"\"hi\"\", then, bye\",1139045764\n",
            ),
        ]);
        let ml = MovieLensDir::open(dir.path()).expect("opens");
        let tags = all(ml.tags().expect("tags"));
        assert_eq!(tags[0].tag, "say \"hi\", then, bye");
        assert_eq!(tags[0].timestamp_secs, 1_139_045_764);
    }

    #[test]
    fn links_accept_tt_prefix() {
        let dir = folder(&[
            ("movies.csv", MOVIES_OK),
            ("links.csv", b"movieId,imdbId,tmdbId\n1,tt0114709,\n"),
        ]);
        let links = all(MovieLensDir::open(dir.path())
            .expect("opens")
            .links()
            .expect("links"));
        assert_eq!(
            links,
            [LinkRecord {
                movie_id: 1,
                imdb_id: Some(114_709),
                tmdb_id: None
            }]
        );
    }

    #[test]
    fn errors_do_not_stop_the_iterator() {
        let dir = folder(&[(
            "movies.csv",
            b"movieId,title,genres\nx,Bad (1995),Drama\n2,Good (1996),Drama\n".as_slice(),
        )]);
        let ml = MovieLensDir::open(dir.path()).expect("opens");
        let rows: Vec<_> = ml.movies().expect("movies").collect();
        assert_eq!(rows.len(), 2);
        assert!(rows[0].is_err());
        assert_eq!(rows[1].as_ref().map(|m| m.id).ok(), Some(2));
    }
}
