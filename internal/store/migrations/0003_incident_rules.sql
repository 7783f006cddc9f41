-- 0003_incident_rules: the rules of an incident's alerts (the opening
-- alert's first), which the notifier needs to rebuild its grouping after a
-- restart and analysts read to see what fired. One ADD COLUMN, re-runnable
-- (code 44 is taken as done, see 0002).

ALTER TABLE ${db}.incidents ADD COLUMN rule_ids Array(String);
