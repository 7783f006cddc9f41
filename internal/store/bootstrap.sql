-- bootstrap.sql: what Migrate creates before it reads which migrations are
-- applied. ${db} is the target database (a plain identifier, checked).
--
-- schema_migrations records one row per applied migration file. It is a
-- ReplacingMergeTree keyed by version: two instances that apply the same
-- migration at once both record it, and the copies collapse on merge;
-- Migrate reads the applied set with GROUP BY, so a copy not merged yet is
-- harmless too. No partition key: the table stays tiny and retention never
-- touches it (its only partition is "all", not a month).
CREATE DATABASE IF NOT EXISTS ${db};

CREATE TABLE IF NOT EXISTS ${db}.schema_migrations (
    version UInt32,
    name String,
    checksum String,
    applied_at DateTime('UTC'),
    applied_by String
) ENGINE = ReplacingMergeTree(applied_at)
ORDER BY version;
