//! `RatingsRepository`: the rating histogram and the most recent ratings of one movie.

use postgres::types::Type;
use serde::Serialize;

use crate::db::error::DbError;
use crate::db::pool::DatabasePool;
use crate::repo::Repo;

/// One rating, for the "recent ratings" list.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct RecentRating {
    /// Who rated.
    pub user_id: i32,
    /// 0.5–5 stars.
    pub rating: f32,
    /// When, as seconds since the Unix epoch.
    pub rated_at_secs: i64,
}

/// The ratings table.
#[derive(Clone, Debug)]
pub struct RatingsRepository {
    repo: Repo,
}

impl RatingsRepository {
    /// Shares `pool`.
    pub fn new(pool: DatabasePool) -> Self {
        Self {
            repo: Repo::new(pool),
        }
    }

    /// Number of ratings per star value (0.5, 1.0, … 5.0) for one movie; values nobody gave
    /// are present with 0 so a chart has every bar.
    pub fn histogram(&self, movie_id: i32) -> Result<Vec<(f32, u64)>, DbError> {
        let sql = format!(
            "SELECT s.star::real, count(r.rating)
               FROM generate_series(1, 10) AS n
              CROSS JOIN LATERAL (SELECT n / 2.0 AS star) s
               LEFT JOIN {} r ON r.movie_id = $1 AND r.rating = s.star
              GROUP BY s.star ORDER BY s.star",
            self.repo.pool().source().ratings
        );
        self.repo.read("ratings.histogram", |conn| {
            let rows = conn.query_typed(&sql, &[(&movie_id, Type::INT4)])?;
            Ok(rows
                .iter()
                .map(|r| (r.get(0), r.get::<_, i64>(1).max(0) as u64))
                .collect())
        })
    }

    /// The latest `limit` ratings of one movie, newest first.
    pub fn recent(&self, movie_id: i32, limit: i64) -> Result<Vec<RecentRating>, DbError> {
        // A source without timestamps lists its ratings with time 0 (shown as the epoch).
        let sql = format!(
            "SELECT user_id, rating, coalesce(extract(epoch FROM rated_at)::bigint, 0)
               FROM {} r WHERE movie_id = $1
              ORDER BY rated_at DESC NULLS LAST, user_id LIMIT $2",
            self.repo.pool().source().ratings
        );
        self.repo.read("ratings.recent", |conn| {
            let rows = conn.query_typed(&sql, &[(&movie_id, Type::INT4), (&limit, Type::INT8)])?;
            Ok(rows
                .iter()
                .map(|r| RecentRating {
                    user_id: r.get(0),
                    rating: r.get(1),
                    rated_at_secs: r.get(2),
                })
                .collect())
        })
    }
}
