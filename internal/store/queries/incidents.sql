-- incidents: incidents in their latest version with their open notices
-- (Reader.Incidents): newest detected_at first (to the millisecond), ties
-- by incident_id; optionally only those whose latest state is in a list;
-- at most limit rows.
--
-- Left: the latest version of each incident (argMax by version), with the
-- number of alert ids and of transitions of that version. Right: per
-- incident, its notices in their latest version that are still open
-- (planned, approved, sending, failed): how many, the earliest due time
-- (Unix ms; 0 when none) and how many are due before now. ANY LEFT JOIN
-- (ClickHouse 18.16 needs the strictness written) fills 0 for an incident
-- without open notices. Both sides are named (current ClickHouse requires
-- it) but never used as qualifiers (18.16 resolves them poorly): only
-- incident_id is on both sides. Aliases never shadow a column name.
--
-- Parameters, in order: the state list twice (empty for every state); now
-- in Unix milliseconds; the limit.
-- params: ['confirmed', 'notifying'], ['confirmed', 'notifying'], 1700000000000, 100
SELECT
    incident_id,
    latest_state,
    latest_severity,
    latest_org,
    latest_actor,
    detected_sec,
    detected_msec,
    aware_sec,
    aware_msec,
    alerts,
    scope_people_count,
    scope_minors_count,
    transitions,
    open_notices,
    next_due,
    overdue
FROM
(
    SELECT
        incident_id,
        argMax(state, version) AS latest_state,
        argMax(severity, version) AS latest_severity,
        argMax(org, version) AS latest_org,
        argMax(actor_id, version) AS latest_actor,
        argMax(detected_at, version) AS detected_sec,
        argMax(detected_ms, version) AS detected_msec,
        argMax(aware_at, version) AS aware_sec,
        argMax(aware_ms, version) AS aware_msec,
        toUInt64(argMax(length(alert_ids), version)) AS alerts,
        toUInt64(argMax(scope_people, version)) AS scope_people_count,
        toUInt64(argMax(scope_minors, version)) AS scope_minors_count,
        toUInt64(argMax(length(transition_to), version)) AS transitions
    FROM ${db}.incidents
    GROUP BY incident_id
    HAVING length(CAST(? AS Array(String))) = 0 OR has(CAST(? AS Array(String)), latest_state)
) AS latest
ANY LEFT JOIN
(
    SELECT
        incident_id,
        toUInt64(count()) AS open_notices,
        toUInt64(min(latest_due)) AS next_due,
        toUInt64(countIf(latest_due < ?)) AS overdue
    FROM
    (
        SELECT
            incident_id,
            notice_id,
            argMax(state, version) AS latest_state_of_notice,
            argMax(toUInt64(due_at) * 1000 + due_ms, version) AS latest_due
        FROM ${db}.notices
        GROUP BY incident_id, notice_id
    )
    WHERE latest_state_of_notice IN ('planned', 'approved', 'sending', 'failed')
    GROUP BY incident_id
) AS pending USING incident_id
ORDER BY detected_sec DESC, detected_msec DESC, incident_id
LIMIT ?
