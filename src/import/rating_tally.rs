//! Each movie's rating summary, counted on the client from the ratings on their way to the
//! store: from the binary COPY stream as it passes through (`import postgres`), or from the
//! generated ratings as they are written (`seed`). The movies are then written once, with it.
//!
//! The summary could be computed by either server, but that is one more pass over every rating:
//! at 33.8M ratings the source's aggregate took 2.9 s before the first movie was copied. The
//! client only forwards those bytes and is otherwise idle, so it counts them as they go by.
//!
//! The stream is PostgreSQL's binary COPY format: an 11-byte signature, a flags word and a
//! header extension, then per row a 16-bit field count and each field as a 32-bit length
//! (-1 for NULL) and its bytes, and a field count of -1 at the end.

use std::collections::HashMap;

/// What opens every binary COPY stream.
const SIGNATURE: &[u8; 11] = b"PGCOPY\n\xff\r\n\0";

/// Each movie's rating sum and count, added in the order the ratings are stored.
#[derive(Debug, Default)]
pub struct RatingSums {
    sums: HashMap<i32, (f64, u32)>,
    /// The movie of the latest rating, with its running sum and count, not yet put back in
    /// `sums`. Ratings often come grouped by movie (the seed generates each movie's together,
    /// and a table with a `(movie, user)` key is often read in that order): a run of one
    /// movie's ratings then costs one lookup instead of one per rating (the 10M seed's 115M
    /// ratings: 10M lookups). The additions are the same, in the same order, so the sums are
    /// too.
    current: Option<(i32, f64, u32)>,
}

impl RatingSums {
    /// Counts one stored rating of `movie`.
    pub fn add(&mut self, movie: i32, rating: f32) {
        match &mut self.current {
            Some((current, sum, count)) if *current == movie => {
                *sum += f64::from(rating);
                *count += 1;
            }
            _ => {
                self.put_back();
                let (sum, count) = self.sums.get(&movie).copied().unwrap_or((0.0, 0));
                self.current = Some((movie, sum + f64::from(rating), count + 1));
            }
        }
    }

    /// Stores the running movie's sum in the map.
    fn put_back(&mut self) {
        if let Some((movie, sum, count)) = self.current.take() {
            self.sums.insert(movie, (sum, count));
        }
    }

    /// The summary of `movie` as the store's `refresh_movie_ratings()` computes it:
    /// `avg(rating)::real` (a `float8` sum of the ratings in the order they are stored, divided
    /// by their number) and the count; `(None, 0)` for a movie without ratings.
    pub fn summary(&self, movie: i32) -> (Option<f32>, i32) {
        let sums = match self.current {
            Some((current, sum, count)) if current == movie => Some((sum, count)),
            _ => self.sums.get(&movie).copied(),
        };
        match sums {
            Some((sum, count)) if count > 0 => (
                Some((sum / f64::from(count)) as f32),
                i32::try_from(count).unwrap_or(i32::MAX),
            ),
            _ => (None, 0),
        }
    }
}

/// [`RatingSums`] of a binary COPY stream of ratings, fed in chunks of any size.
#[derive(Debug)]
pub struct RatingTally {
    /// Which field holds the movie id (`integer`) and which the rating (`real`).
    movie_field: usize,
    rating_field: usize,
    /// Bytes of a row (or of the header) split across chunks.
    pending: Vec<u8>,
    header_done: bool,
    finished: bool,
    sums: RatingSums,
}

/// A stream that is not what the COPY statement asked for: a bug, not bad data.
#[derive(Debug, thiserror::Error)]
#[error("the ratings stream is not the binary COPY it should be: {0}")]
pub struct MalformedStream(&'static str);

impl RatingTally {
    /// A tally of rows whose field `movie_field` is the movie id and `rating_field` the rating.
    pub fn new(movie_field: usize, rating_field: usize) -> Self {
        Self {
            movie_field,
            rating_field,
            pending: Vec::new(),
            header_done: false,
            finished: false,
            sums: RatingSums::default(),
        }
    }

    /// Counts the complete rows in `chunk` (and in what an earlier chunk left over).
    pub fn feed(&mut self, chunk: &[u8]) -> Result<(), MalformedStream> {
        self.pending.extend_from_slice(chunk);
        let mut at = 0;
        if !self.header_done {
            match header_len(&self.pending)? {
                Some(len) => {
                    at = len;
                    self.header_done = true;
                }
                None => return Ok(()),
            }
        }
        while !self.finished {
            match self.row(&self.pending[at..])? {
                Row::Incomplete => break,
                Row::End => {
                    self.finished = true;
                    at = self.pending.len();
                }
                Row::Counted { len, movie, rating } => {
                    at += len;
                    if let (Some(movie), Some(rating)) = (movie, rating) {
                        self.sums.add(movie, rating);
                    }
                }
            }
        }
        self.pending.drain(..at);
        Ok(())
    }

    /// What the stream counted so far.
    pub fn sums(&self) -> &RatingSums {
        &self.sums
    }

    /// Whether the end-of-data marker was seen: only then is every rating counted.
    pub fn is_complete(&self) -> bool {
        self.finished
    }

    fn row(&self, bytes: &[u8]) -> Result<Row, MalformedStream> {
        let Some(count) = bytes.get(..2) else {
            return Ok(Row::Incomplete);
        };
        let count = i16::from_be_bytes([count[0], count[1]]);
        if count == -1 {
            return Ok(Row::End);
        }
        let fields =
            usize::try_from(count).map_err(|_| MalformedStream("a negative field count"))?;
        if fields <= self.movie_field.max(self.rating_field) {
            return Err(MalformedStream(
                "fewer fields than the ratings query selects",
            ));
        }
        let mut at = 2;
        let (mut movie, mut rating) = (None, None);
        for field in 0..fields {
            let Some(len) = bytes.get(at..at + 4) else {
                return Ok(Row::Incomplete);
            };
            let len = i32::from_be_bytes([len[0], len[1], len[2], len[3]]);
            at += 4;
            if len < 0 {
                continue;
            }
            let len = len as usize;
            let Some(value) = bytes.get(at..at + len) else {
                return Ok(Row::Incomplete);
            };
            if field == self.movie_field {
                let value: [u8; 4] = value
                    .try_into()
                    .map_err(|_| MalformedStream("a movie id that is not an integer"))?;
                movie = Some(i32::from_be_bytes(value));
            } else if field == self.rating_field {
                let value: [u8; 4] = value
                    .try_into()
                    .map_err(|_| MalformedStream("a rating that is not a real"))?;
                rating = Some(f32::from_be_bytes(value));
            }
            at += len;
        }
        Ok(Row::Counted {
            len: at,
            movie,
            rating,
        })
    }
}

enum Row {
    Incomplete,
    End,
    Counted {
        len: usize,
        movie: Option<i32>,
        rating: Option<f32>,
    },
}

/// The header's length once all of it is in `bytes`.
fn header_len(bytes: &[u8]) -> Result<Option<usize>, MalformedStream> {
    if bytes.len() < SIGNATURE.len() + 8 {
        return Ok(None);
    }
    if &bytes[..SIGNATURE.len()] != SIGNATURE {
        return Err(MalformedStream("no PGCOPY signature"));
    }
    let ext = &bytes[SIGNATURE.len() + 4..SIGNATURE.len() + 8];
    let ext = u32::from_be_bytes([ext[0], ext[1], ext[2], ext[3]]) as usize;
    let len = SIGNATURE.len() + 8 + ext;
    Ok((bytes.len() >= len).then_some(len))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A binary COPY stream of (user, movie, rating) rows, as the server writes it.
    fn stream(rows: &[(i32, Option<i32>, Option<f32>)]) -> Vec<u8> {
        let mut out = SIGNATURE.to_vec();
        out.extend(0_i32.to_be_bytes());
        out.extend(4_i32.to_be_bytes()); // a header extension of 4 bytes, skipped
        out.extend([9, 9, 9, 9]);
        for (user, movie, rating) in rows {
            out.extend(3_i16.to_be_bytes());
            out.extend(4_i32.to_be_bytes());
            out.extend(user.to_be_bytes());
            match movie {
                Some(m) => {
                    out.extend(4_i32.to_be_bytes());
                    out.extend(m.to_be_bytes());
                }
                None => out.extend((-1_i32).to_be_bytes()),
            }
            match rating {
                Some(r) => {
                    out.extend(4_i32.to_be_bytes());
                    out.extend(r.to_be_bytes());
                }
                None => out.extend((-1_i32).to_be_bytes()),
            }
        }
        out.extend((-1_i16).to_be_bytes());
        out
    }

    #[test]
    fn rows_split_at_every_byte_are_counted_once() {
        let rows = [
            (1, Some(10), Some(4.0)),
            (2, Some(10), Some(3.5)),
            (3, Some(11), Some(0.5)),
            (4, None, Some(5.0)),
            (5, Some(12), None),
            (6, Some(10), Some(1.0)),
        ];
        let bytes = stream(&rows);
        for chunk in 1..=bytes.len() {
            let mut tally = RatingTally::new(1, 2);
            for part in bytes.chunks(chunk) {
                tally.feed(part).unwrap();
            }
            assert!(tally.is_complete(), "chunks of {chunk}");
            assert_eq!(
                tally.sums().summary(10),
                (Some((8.5_f64 / 3.0) as f32), 3),
                "chunks of {chunk}"
            );
            assert_eq!(tally.sums().summary(11), (Some(0.5), 1));
            assert_eq!(
                tally.sums().summary(12),
                (None, 0),
                "a NULL rating counts for nothing"
            );
            assert_eq!(tally.sums().summary(99), (None, 0));
        }
    }

    proptest::proptest! {
        /// The running movie is only a shortcut: in any order, grouped or interleaved, every
        /// movie's summary is the one that adding its ratings in order into a map gives.
        #[test]
        fn sums_are_those_of_adding_each_rating_in_order(
            ratings in proptest::collection::vec((0_i32..6, 0_u8..=10), 0..200)
        ) {
            let mut sums = RatingSums::default();
            let mut plain: HashMap<i32, (f64, u32)> = HashMap::new();
            for &(movie, half_stars) in &ratings {
                let rating = f32::from(half_stars) / 2.0 + 0.1;
                sums.add(movie, rating);
                let entry = plain.entry(movie).or_insert((0.0, 0));
                entry.0 += f64::from(rating);
                entry.1 += 1;
            }
            for movie in -1..7 {
                let expected = plain.get(&movie).map_or((None, 0), |&(sum, count)| {
                    (Some((sum / f64::from(count)) as f32), count as i32)
                });
                proptest::prop_assert_eq!(sums.summary(movie), expected);
            }
        }
    }

    #[test]
    fn an_unfinished_stream_is_not_complete_and_a_foreign_one_is_refused() {
        let bytes = stream(&[(1, Some(1), Some(2.0))]);
        let mut tally = RatingTally::new(1, 2);
        tally.feed(&bytes[..bytes.len() - 2]).unwrap();
        assert!(!tally.is_complete());
        let mut tally = RatingTally::new(1, 2);
        assert!(
            tally
                .feed(b"movieId,rating\n1,4.0\n and more text")
                .is_err()
        );
    }
}
