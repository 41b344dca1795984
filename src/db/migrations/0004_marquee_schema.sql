-- Schema version 4: Marquee's objects live in a schema of their own, `marquee`, so that a user's
-- `public.movies` on a shared server is never touched or shadowed. The runner creates the schema
-- and runs every migration with `search_path = marquee, public` (for that transaction only), so a
-- new database gets versions 1-3 straight into `marquee` and this file has nothing to move.
-- A database migrated by an older Marquee holds them in `public`: they move here, with their
-- data, indexes and statistics (ALTER ... SET SCHEMA keeps them all). The extensions stay where
-- they are (`marquee_fold` names `public.unaccent` explicitly).
DO $$
BEGIN
    IF to_regclass('public.marquee_schema') IS NOT NULL THEN
        ALTER TABLE public.movies SET SCHEMA marquee;
        ALTER TABLE public.ratings SET SCHEMA marquee;
        ALTER TABLE public.tags SET SCHEMA marquee;
        ALTER TABLE public.marquee_meta SET SCHEMA marquee;
        ALTER TABLE public.marquee_schema SET SCHEMA marquee;
        ALTER FUNCTION public.marquee_fold(text) SET SCHEMA marquee;
        ALTER FUNCTION public.refresh_movie_ratings() SET SCHEMA marquee;
    END IF;
END
$$;

-- The function body named its tables without a schema; name them now, so it works whatever the
-- caller's search_path.
CREATE OR REPLACE FUNCTION marquee.refresh_movie_ratings() RETURNS void LANGUAGE sql AS $$
    UPDATE marquee.movies m
       SET rating_count = coalesce(r.n, 0),
           rating_avg   = r.avg
      FROM marquee.movies m2
      LEFT JOIN (SELECT movie_id, count(*)::integer AS n, avg(rating)::real AS avg
                   FROM marquee.ratings GROUP BY movie_id) r ON r.movie_id = m2.id
     WHERE m.id = m2.id
       AND (m.rating_count IS DISTINCT FROM coalesce(r.n, 0) OR m.rating_avg IS DISTINCT FROM r.avg);
$$;
