-- The service uses pg_trgm (fuzzy name search) and tablefunc (crosstab reports).
-- Both are trusted extensions in PostgreSQL 13+, so the database owner can create them.
-- (The real service also uses postgis; it is left out so the testbed needs only postgresql-contrib.)
CREATE EXTENSION IF NOT EXISTS pg_trgm;
CREATE EXTENSION IF NOT EXISTS tablefunc;
