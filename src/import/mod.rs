//! Importing movie collections: MovieLens CSV folders and a generated sample, as plain records.
//!
//! Layout:
//! - [`records`]: the row types every source produces and the loader consumes.
//! - [`title`]: MovieLens title and genre conventions (year in parentheses, `|`-separated genres).
//! - [`movielens`]: streaming, validating readers for a MovieLens folder.
//! - [`sample`]: a deterministic, realistic generated collection of any size.
//! - [`load`]: the database loader (COPY into PostgreSQL), which consumes the iterators of
//!   `movielens` and `sample`; it is kept apart so the modules above stay free of database code
//!   and of any I/O beyond reading files.

pub mod load;
pub mod movielens;
pub mod postgres;
pub mod rating_tally;
pub mod records;
pub mod sample;
pub mod title;
