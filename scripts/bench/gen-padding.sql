-- dbrefresh benchmark data: a bulk table that pads the prod database to a realistic size for `refresh`
-- (at least 1 GB at --scale 1), deterministic.
--
--   psql -v rows=N -f gen-padding.sql     (as the database owner)
--
-- Each row is about 250 bytes on disk (a 192-character payload stored inline, uncompressed), plus its primary key
-- and one secondary index, so a refresh has to copy the rows and rebuild indexes, as with real data.
\set ON_ERROR_STOP 1
SET client_min_messages = warning;
DROP TABLE IF EXISTS bench_padding;
CREATE TABLE bench_padding (
  id         bigint PRIMARY KEY,
  crn        text NOT NULL,
  created_at timestamp NOT NULL,
  payload    text NOT NULL
);
INSERT INTO bench_padding
SELECT i,
       'X' || lpad((i % 1000000)::text, 6, '0'),
       timestamp '2021-01-01 00:00:00' + i * interval '11 seconds',
       repeat(md5(i::text), 6)
FROM generate_series(1, :rows) AS i;
CREATE INDEX bench_padding_crn_idx ON bench_padding (crn);
VACUUM (ANALYZE) bench_padding;
