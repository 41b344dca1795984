-- Schema version 2: indexes that match the table's descending sorts exactly.
-- The table orders "newest / best rated / most rated first" with NULLs last and `id` ascending
-- as the tie-breaker; a backward scan of the ascending indexes would put NULLs first and the
-- ids backwards, so PostgreSQL would sort the whole result instead of walking an index.
CREATE INDEX movies_rating_avg_desc_id ON movies (rating_avg DESC NULLS LAST, id);
CREATE INDEX movies_year_desc_id ON movies (year DESC NULLS LAST, id);
CREATE INDEX movies_rating_count_desc_id ON movies (rating_count DESC, id);
CREATE INDEX movies_title_desc_id ON movies (title DESC, id);
