-- Apply to a copy of the PREPROD template (after no-blocking-objects.sql) to isolate the identity
-- collision (same delius_username, different id): removes preprod's two extra users columns, so the
-- saved users fit prod's table again and only the namesakes are silently skipped by
-- ON CONFLICT DO NOTHING, their role/qualification rows then failing the FK to users.
--   psql -v ON_ERROR_STOP=1 -f testdata/scenarios/no-extra-columns.sql "<preprod copy>"
ALTER TABLE users DROP COLUMN cas1_cru_management_area_id;
ALTER TABLE users DROP COLUMN employment_grade;
