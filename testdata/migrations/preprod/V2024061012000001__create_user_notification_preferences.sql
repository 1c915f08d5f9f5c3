-- Preprod-only, and OUT OF ORDER: its version is lower than prod's latest
-- (V20250114103000123) but only preprod has applied it (the service runs Flyway with outOfOrder=true).
-- A preprod-only table with a foreign key to users: pg_restore --clean cannot drop users.
CREATE TABLE user_notification_preferences (
    id                uuid    NOT NULL PRIMARY KEY,
    user_id           uuid    NOT NULL REFERENCES users (id),
    notification_type text    NOT NULL,
    enabled           boolean NOT NULL DEFAULT true
);
