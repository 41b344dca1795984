-- Marquee schema, version 1: the movie collection and its derived rating columns.
-- pg_trgm serves substring title search; unaccent lets "amelie" find "Amélie".
CREATE EXTENSION IF NOT EXISTS pg_trgm;
CREATE EXTENSION IF NOT EXISTS unaccent;

-- unaccent() is only STABLE (it reads a dictionary), so an index cannot use it directly.
-- Pinning the dictionary makes the result depend on the argument alone, which is what
-- IMMUTABLE promises; this is the documented way to index accent-folded text.
CREATE FUNCTION marquee_fold(text) RETURNS text
    LANGUAGE sql IMMUTABLE PARALLEL SAFE STRICT
    AS $$ SELECT lower(public.unaccent('public.unaccent'::regdictionary, $1)) $$;

CREATE TABLE movies (
    id            integer PRIMARY KEY,
    title         text NOT NULL,                -- byte for byte as the source wrote it
    year          smallint,                     -- parsed from "Title (1995)"; NULL when absent
    genres        text[] NOT NULL DEFAULT '{}', -- empty for "(no genres listed)"
    imdb_id       integer,
    tmdb_id       integer,
    rating_count  integer NOT NULL DEFAULT 0,   -- derived from ratings by refresh_movie_ratings()
    rating_avg    real                          -- NULL when the movie has no ratings
);

CREATE TABLE ratings (
    user_id   integer NOT NULL,
    movie_id  integer NOT NULL REFERENCES movies (id) ON DELETE CASCADE,
    rating    real NOT NULL CHECK (rating >= 0 AND rating <= 5),
    rated_at  timestamptz NOT NULL,
    PRIMARY KEY (movie_id, user_id)
);

CREATE TABLE tags (
    user_id    integer NOT NULL,
    movie_id   integer NOT NULL REFERENCES movies (id) ON DELETE CASCADE,
    tag        text NOT NULL,
    tagged_at  timestamptz NOT NULL
);

CREATE INDEX movies_title_fold_trgm ON movies USING gin (marquee_fold(title) gin_trgm_ops);
CREATE INDEX movies_title_id ON movies (title, id);
CREATE INDEX movies_year_id ON movies (year, id);
CREATE INDEX movies_genres ON movies USING gin (genres);
CREATE INDEX movies_rating_avg_id ON movies (rating_avg, id);
CREATE INDEX movies_rating_count_id ON movies (rating_count, id);
CREATE INDEX tags_movie ON tags (movie_id);
CREATE INDEX tags_tag_fold ON tags (marquee_fold(tag), movie_id);

-- Recomputes the derived per-movie rating columns after a bulk load.
CREATE FUNCTION refresh_movie_ratings() RETURNS void LANGUAGE sql AS $$
    UPDATE movies m
       SET rating_count = coalesce(r.n, 0),
           rating_avg   = r.avg
      FROM movies m2
      LEFT JOIN (SELECT movie_id, count(*)::integer AS n, avg(rating)::real AS avg
                   FROM ratings GROUP BY movie_id) r ON r.movie_id = m2.id
     WHERE m.id = m2.id
       AND (m.rating_count IS DISTINCT FROM coalesce(r.n, 0) OR m.rating_avg IS DISTINCT FROM r.avg);
$$;

-- What collection is loaded (generated sample or a MovieLens import), for the status bar and
-- so that a first start knows whether to seed.
CREATE TABLE marquee_meta (
    key    text PRIMARY KEY,
    value  text NOT NULL
);
