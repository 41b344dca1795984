//! Row types shared by the MovieLens readers, the sample generator and the database loader.
//!
//! They mirror the four MovieLens CSV files one to one so that every source of
//! data (a real MovieLens download or the built-in generator) feeds the loader
//! through the same narrow interface.

use serde::{Deserialize, Serialize};

/// One row of `movies.csv`, with the year and genres already parsed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MovieRecord {
    /// MovieLens `movieId`, always at least 1.
    pub id: i32,
    /// The title exactly as given (MovieLens form, e.g. `Garden, The (1994)`);
    /// never trimmed or rewritten, so searches match the source byte for byte.
    pub title: String,
    /// Release year taken from the trailing `(1995)` of the title, if any.
    pub year: Option<i16>,
    /// Genre names in source order, without duplicates; empty for `(no genres listed)`.
    pub genres: Vec<String>,
    /// IMDb number without the `tt` prefix and leading zeros (`0114709` -> 114709).
    pub imdb_id: Option<i32>,
    /// TMDB number; MovieLens leaves it empty for some movies.
    pub tmdb_id: Option<i32>,
}

/// One row of `ratings.csv`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct RatingRecord {
    /// MovieLens `userId`; users exist only through their ratings and tags.
    pub user_id: i32,
    /// The rated movie's [`MovieRecord::id`].
    pub movie_id: i32,
    /// Stars in 0.5..=5.0 (half stars in MovieLens data).
    pub rating: f32,
    /// Seconds since the Unix epoch (UTC).
    pub timestamp_secs: i64,
}

/// One row of `tags.csv`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TagRecord {
    /// MovieLens `userId` of the person who tagged.
    pub user_id: i32,
    /// The tagged movie's [`MovieRecord::id`].
    pub movie_id: i32,
    /// Free text as the user typed it; kept byte for byte.
    pub tag: String,
    /// Seconds since the Unix epoch (UTC).
    pub timestamp_secs: i64,
}

/// One row of `links.csv`: the external ids of a movie.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct LinkRecord {
    /// The movie's [`MovieRecord::id`].
    pub movie_id: i32,
    /// IMDb number without the `tt` prefix and leading zeros.
    pub imdb_id: Option<i32>,
    /// TMDB number; empty for some movies.
    pub tmdb_id: Option<i32>,
}
