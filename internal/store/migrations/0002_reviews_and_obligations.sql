-- 0002_reviews_and_obligations: who closed an alert and why; the parts of
-- an incident record the notifier added (device, activity window,
-- obligations with deadlines and status, notice content, regulator
-- submissions).
--
-- ClickHouse 18.16 has no ADD COLUMN IF NOT EXISTS: Migrate treats "column
-- with this name already exists" (code 44) from an ADD COLUMN as done, so
-- a migration that stopped half-way can run again. Each statement adds one
-- column for the same reason.
--
-- Obligations, fields and submissions are kept as the JSON the incident
-- record carries (String): reports read them whole, and the deadline
-- questions are answered from the notices table, one row per notice.

ALTER TABLE ${db}.alerts ADD COLUMN status_reason String DEFAULT '' AFTER status;
ALTER TABLE ${db}.alerts ADD COLUMN status_by String DEFAULT '' AFTER status_reason;

ALTER TABLE ${db}.incidents ADD COLUMN device_id String DEFAULT '';
ALTER TABLE ${db}.incidents ADD COLUMN window_start DateTime('UTC') DEFAULT toDateTime(0, 'UTC');
ALTER TABLE ${db}.incidents ADD COLUMN window_start_ms UInt16 DEFAULT 0;
ALTER TABLE ${db}.incidents ADD COLUMN window_end DateTime('UTC') DEFAULT toDateTime(0, 'UTC');
ALTER TABLE ${db}.incidents ADD COLUMN window_end_ms UInt16 DEFAULT 0;
ALTER TABLE ${db}.incidents ADD COLUMN obligations String DEFAULT '';
ALTER TABLE ${db}.incidents ADD COLUMN fields String DEFAULT '';
ALTER TABLE ${db}.incidents ADD COLUMN submissions String DEFAULT '';
