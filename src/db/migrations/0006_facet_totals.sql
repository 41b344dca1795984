-- Schema version 6: the facets of the whole collection, kept beside it.
-- The unfiltered facets are what a user sees first and after every "clear", and computing them
-- reads every movie (≈0.5 s at 1M movies, seconds at 10M). Yet they change only when the
-- collection does, and only Marquee's loads write it. So they are stored, one row per group of
-- the one-pass facet query (genre list, decade, rating bucket), filled by Rust code shared with
-- that query (`db::facet_totals`) after this migration and after every load.
-- Any other write to `movies` empties them: an empty table means "not known", and the facets are
-- computed from the movies again, so a hand-edited collection never shows stale counts.
CREATE TABLE facet_totals (
    genres    text[],
    decade    smallint,
    bucket    real,
    grouping  integer NOT NULL,  -- GROUPING(genres, decade, bucket): which facet the row counts
    movies    bigint NOT NULL
);

CREATE FUNCTION forget_facet_totals() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM marquee.facet_totals;
    RETURN NULL;
END
$$;

CREATE TRIGGER movies_forget_facet_totals
    AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON movies
    FOR EACH STATEMENT EXECUTE FUNCTION forget_facet_totals();
