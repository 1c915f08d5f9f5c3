-- A view created by a versioned migration, over a preserved table.
CREATE VIEW users_with_region AS
SELECT u.id, u.name, u.delius_username, u.email, r.name AS region_name
FROM users u
JOIN probation_regions r ON r.id = u.probation_region_id;
