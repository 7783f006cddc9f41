-- 0003_incident_rules: the rules of an incident's alerts, the opening
-- alert's first, as a JSON array.
ALTER TABLE incidents ADD COLUMN rule_ids TEXT NOT NULL DEFAULT '[]';
