//! Importing movie collections: MovieLens CSV folders and a generated sample, as plain records.
//!
//! Layout:
//! - [`records`]: the row types every source produces and the loader consumes.
//! - [`title`]: MovieLens title and genre conventions (year in parentheses, `|`-separated genres).
//! - [`movielens`]: streaming, validating readers for a MovieLens folder.
//! - [`sample`]: a deterministic, realistic generated collection of any size.
//!
//! The database loader (COPY into PostgreSQL) belongs here as `load.rs`
//! (`pub mod load;`); it consumes the iterators of `movielens` and `sample`
//! and is deliberately kept out of these modules so they stay free of I/O
//! beyond reading files.

pub mod load;
pub mod movielens;
pub mod records;
pub mod sample;
pub mod title;
