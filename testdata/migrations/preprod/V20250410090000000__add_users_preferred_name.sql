-- testdata:expect-failure
-- This migration fails (there is no column "nickname"). load-testdata.sh runs it in one transaction,
-- so nothing of it stays, and records it in flyway_schema_history with success = false:
-- preprod's highest version is a FAILED one; its latest successful version is V20250404150000000.
ALTER TABLE users ADD COLUMN preferred_name text;
UPDATE users SET preferred_name = nickname;
