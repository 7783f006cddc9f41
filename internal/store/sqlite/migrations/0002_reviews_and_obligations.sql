-- 0002_reviews_and_obligations: who closed an alert and why; the parts of
-- an incident record the notifier added (device, activity window,
-- obligations with deadlines and status, notice content, regulator
-- submissions), the latter three as the JSON the record carries.
ALTER TABLE alerts ADD COLUMN status_reason TEXT NOT NULL DEFAULT '';
ALTER TABLE alerts ADD COLUMN status_by TEXT NOT NULL DEFAULT '';
ALTER TABLE incidents ADD COLUMN device_id TEXT NOT NULL DEFAULT '';
ALTER TABLE incidents ADD COLUMN window_start_ms INTEGER;
ALTER TABLE incidents ADD COLUMN window_end_ms INTEGER;
ALTER TABLE incidents ADD COLUMN obligations TEXT NOT NULL DEFAULT '';
ALTER TABLE incidents ADD COLUMN fields TEXT NOT NULL DEFAULT '';
ALTER TABLE incidents ADD COLUMN submissions TEXT NOT NULL DEFAULT '';
