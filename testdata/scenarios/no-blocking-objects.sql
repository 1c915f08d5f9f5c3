-- Apply to a copy of the PREPROD template to isolate known failure 2 (extra columns) from failure 1:
-- removes the preprod-only objects that stop `pg_restore --clean` from dropping prod's tables
-- (the view over users, the table with an FK to users, and the rename of notes), so today's job
-- replaces users and then fails to re-insert the saved preprod users.
--   psql -v ON_ERROR_STOP=1 -f testdata/scenarios/no-blocking-objects.sql "<preprod copy>"
DROP VIEW active_user_emails;
DROP TABLE user_notification_preferences;
ALTER TABLE user_notes RENAME TO notes;
