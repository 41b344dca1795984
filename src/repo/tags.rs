//! `TagsRepository`: the most used tags of one movie, and tag search for the tag filter.

use postgres::types::Type;

use crate::db::error::DbError;
use crate::db::pool::DatabasePool;
use crate::repo::Repo;
use crate::repo::movie_sql::like_pattern;

/// The tags table.
#[derive(Clone, Debug)]
pub struct TagsRepository {
    repo: Repo,
}

impl TagsRepository {
    /// Shares `pool`.
    pub fn new(pool: DatabasePool) -> Self {
        Self {
            repo: Repo::new(pool),
        }
    }

    /// The `limit` most used tags of one movie, with how many users gave each.
    pub fn top_for_movie(&self, movie_id: i32, limit: i64) -> Result<Vec<(String, u64)>, DbError> {
        let sql = format!(
            "SELECT tag, count(*) FROM {} t WHERE movie_id = $1
              GROUP BY tag ORDER BY count(*) DESC, tag LIMIT $2",
            self.repo.pool().source().tags
        );
        self.repo.read("tags.top_for_movie", |conn| {
            let rows = conn.query_typed(&sql, &[(&movie_id, Type::INT4), (&limit, Type::INT8)])?;
            Ok(rows
                .iter()
                .map(|r| (r.get(0), r.get::<_, i64>(1).max(0) as u64))
                .collect())
        })
    }

    /// Tags containing `text` (case- and accent-insensitive, matched literally), most used first.
    pub fn search(&self, text: &str, limit: i64) -> Result<Vec<(String, u64)>, DbError> {
        let pattern = like_pattern(text);
        let source = self.repo.pool().source();
        let sql = format!(
            "SELECT tag, count(*) FROM {} t
              WHERE {} LIKE {} ESCAPE '\\'
              GROUP BY tag ORDER BY count(*) DESC, tag LIMIT $2",
            source.tags,
            source.fold("tag"),
            source.fold("$1")
        );
        self.repo.read("tags.search", |conn| {
            let rows = conn.query_typed(&sql, &[(&pattern, Type::TEXT), (&limit, Type::INT8)])?;
            Ok(rows
                .iter()
                .map(|r| (r.get(0), r.get::<_, i64>(1).max(0) as u64))
                .collect())
        })
    }
}
