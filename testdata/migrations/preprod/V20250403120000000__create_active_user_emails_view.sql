-- Preprod-only view over users: pg_restore --clean cannot drop users.
CREATE VIEW active_user_emails AS
SELECT id, delius_username, email
FROM users
WHERE is_active;

-- Preprod-only function (string body, so it does not block dropping users; preflight should still list it).
CREATE FUNCTION count_active_users() RETURNS bigint
LANGUAGE sql STABLE
AS 'SELECT count(*) FROM users WHERE is_active';
