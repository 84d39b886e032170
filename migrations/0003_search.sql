-- Trigram indexes make substring search (`q`) on contacts index-backed.
CREATE EXTENSION IF NOT EXISTS pg_trgm;
