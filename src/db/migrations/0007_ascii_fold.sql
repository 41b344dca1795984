-- Schema version 7: a cheaper `marquee_fold`. Every load folds each title once (the stored
-- `title_fold`) and each tag for its index: at 1M movies the fold took 2.2 s of one core.
-- * It was an SQL function, which PostgreSQL inlines only when its body is as immutable as it
--   is declared; `unaccent` is only STABLE, so every call ran the SQL-function executor. The
--   same expression in PL/pgSQL, which evaluates a simple expression directly, costs a third.
-- * Plain ASCII text skips unaccent and the collation's lowercasing: under an ICU collation, as
--   the private cluster's, `lower()` converts each string to UTF-16 and back, and most titles
--   are ASCII. That holds only where this database says so: UTF-8 (where a string is ASCII
--   exactly when it has as many bytes as characters), a default collation that lowercases
--   ASCII as "C" does (not a Turkish one, whose `I` becomes a dotless `ı`), and unaccent rules
--   that leave every ASCII character alone. Elsewhere only the first change applies.
-- Either way the function's results do not change, so the stored folds and the tags' index on
-- the fold stay valid.
DO $migration$
DECLARE
    ascii text := (SELECT string_agg(chr(c), '' ORDER BY c) FROM generate_series(1, 127) AS c);
BEGIN
    IF getdatabaseencoding() = 'UTF8'
       AND lower(ascii) = lower(ascii COLLATE "C")
       AND public.unaccent('public.unaccent'::regdictionary, ascii) = ascii
       AND NOT EXISTS (SELECT FROM generate_series(1, 127) AS c
                        WHERE public.unaccent('public.unaccent'::regdictionary, chr(c)) <> chr(c))
    THEN
        CREATE OR REPLACE FUNCTION marquee.marquee_fold(text) RETURNS text
            LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE STRICT
            AS $fold$
            BEGIN
                RETURN CASE WHEN octet_length($1) = length($1) THEN lower($1 COLLATE "C")
                            ELSE lower(public.unaccent('public.unaccent'::regdictionary, $1)) END;
            END
            $fold$;
    ELSE
        CREATE OR REPLACE FUNCTION marquee.marquee_fold(text) RETURNS text
            LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE STRICT
            AS $fold$
            BEGIN
                RETURN lower(public.unaccent('public.unaccent'::regdictionary, $1));
            END
            $fold$;
    END IF;
END
$migration$;
