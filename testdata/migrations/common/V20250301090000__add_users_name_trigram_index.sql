-- 14-digit version: the highest common version as a STRING ("20250301..." > "20250114..."),
-- but numerically lower than V20250114103000123. Flyway's latest is V20250114103000123.
CREATE INDEX users_name_trgm_idx ON users USING gin (name gin_trgm_ops);
