-- Extra NOT NULL column WITHOUT a default on a preserved table: added nullable, backfilled, then SET NOT NULL.
ALTER TABLE users ADD COLUMN employment_grade text;
UPDATE users SET employment_grade = 'UNKNOWN' WHERE employment_grade IS NULL;
ALTER TABLE users ALTER COLUMN employment_grade SET NOT NULL;
