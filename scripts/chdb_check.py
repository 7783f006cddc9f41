#!/usr/bin/env python3
"""Run every schema statement and every query of internal/store against
current ClickHouse.

    python3 scripts/chdb_check.py [-v] [FILE.sql ...]

Vigil's SQL must run on ClickHouse 18.16 (the integration tests prove that)
and on current ClickHouse. This script proves the latter in chDB --
ClickHouse as a Python module (`pip install chdb`) -- in a throwaway session
and database:

1. it runs internal/store/bootstrap.sql and then every
   internal/store/migrations/*.sql, splitting each file into statements on
   ';' outside string literals, quoted identifiers and comments (the same
   rules as store.SplitStatements), then every migration a second time, as
   Migrate may (idempotence);
2. it inserts a few rows, column lists named, into every table the writer
   fills, with records written twice and older versions written after newer
   ones; the materialized views fill the other tables, and every table must
   then hold rows;
3. it runs every internal/store/queries/*.sql with the sample values of its
   "-- params:" comment line bound to its '?' placeholders in order, and
   requires each to return at least one row.

FILE.sql arguments replace the schema files of step 1, or, for files in a
directory named "queries", the query files of step 3. ${db} is replaced by
the throwaway database's name everywhere.

Exit status: 0 when everything ran; 1 when current ClickHouse rejected a
statement or a query (the file, the statement and the error are printed),
or a query file is malformed (no params line, not one statement, a number of
values that differs from its placeholders) or returned no row; 2 when chdb
cannot be imported.
"""

import glob
import os
import re
import shutil
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
STORE = os.path.join(ROOT, "internal", "store")
PLACEHOLDER = "${db}"


# ALTER TABLE … ADD COLUMN (internal/store/migrate.go columnExists).
ADD_COLUMN = re.compile(r"(?is)^\s*ALTER\s+TABLE\s+\S+\s+ADD\s+COLUMN\s")

def split_statements(sql):
    """Split SQL into statements; comments removed, like store.SplitStatements."""
    stmts, cur, i, n, line = [], [], 0, len(sql), 1

    def flush():
        s = "".join(cur).strip()
        if s:
            stmts.append(s)
        cur.clear()

    while i < n:
        c = sql[i]
        if c == ";":
            flush()
            i += 1
        elif sql.startswith("--", i):
            j = sql.find("\n", i)
            i = n if j < 0 else j
        elif sql.startswith("/*", i):
            j = sql.find("*/", i + 2)
            if j < 0:
                raise ValueError("line %d: unterminated /* comment" % line)
            line += sql.count("\n", i, j + 2)
            cur.append(" ")
            i = j + 2
        elif c in "'\"`":
            start, start_line, i, closed = i, line, i + 1, False
            while i < n:
                d = sql[i]
                if d == "\\" and i + 1 < n:
                    line += sql[i + 1] == "\n"
                    i += 2
                    continue
                line += d == "\n"
                i += 1
                if d == c:
                    if i < n and sql[i] == c:
                        i += 1
                        continue
                    closed = True
                    break
            if not closed:
                raise ValueError("line %d: unterminated %s quote" % (start_line, c))
            cur.append(sql[start:i])
        else:
            line += c == "\n"
            cur.append(c)
            i += 1
    flush()
    return stmts


# Sample rows for schema_migrations and every table the writer fills, in
# the writer's terms:
# column lists named, absent times as 1970-01-01 00:00:00, records written
# twice (Kafka redelivery), and an older version of an alert and of a notice
# written after the newer one. Times fall inside the ranges of the queries'
# sample params (1700000000 = 2023-11-14T22:13:20Z, one day).
SAMPLE_ROWS = [
    ("schema_migrations", """
INSERT INTO ${db}.schema_migrations (version, name, checksum, applied_at, applied_by)
VALUES (1, '0001_initial.sql', 'abc', toDateTime(1700000000), 'chdb_check')
"""),
    ("access_events", """
INSERT INTO ${db}.access_events (event_id, occurred_at, occurred_ms, received_at, received_ms,
    source, org, actor_id, actor_type, actor_role, actor_department, action, subject_id,
    subject_type, subject_minor, subject_vip, subject_employee, categories, record_count,
    purpose, relationship, outcome, client_ip, client_user_agent, client_device_id,
    client_geo_country, client_geo_region, client_geo_city, client_geo_lat, client_geo_lon,
    session_id, request_id, attr_keys, attr_values)
VALUES
    ('e-1', toDateTime(1700000100), 7, toDateTime(1700000101), 8, 'emr-prod', 'hosp-1', 'staff-42',
     'doctor', 'physician', 'cardiology', 'read', 'p_abc', 'patient', 0, 0, 0,
     ['health', 'prescription'], 1, 'treatment', 'true', 'success', '10.0.0.1', 'ua', 'dev-1',
     'CN', 'BJ', 'Beijing', 39.9, 116.4, 's-1', 'r-1', ['k'], ['v']),
    ('e-2', toDateTime(1700003700), 0, toDateTime(1700003700), 1, 'emr-prod', 'hosp-1', 'staff-42',
     'doctor', 'physician', 'cardiology', 'export', 'p_abc', 'patient', 1, 0, 0,
     ['minor_data', 'contact'], 40, '', 'false', 'denied', '', '', '', '', '', '', NULL, NULL,
     '', '', [], []),
    ('e-3', toDateTime(1700003800), 999, toDateTime(1700003801), 0, 'emr-prod', 'hosp-1', 'staff-42',
     'doctor', 'physician', 'cardiology', 'login', '', '', 0, 0, 0, [], 0, '', 'unknown',
     'success', '', '', '', '', '', '', NULL, NULL, '', '', [], [])
"""),
    # e-1 again: a redelivered copy.
    ("access_events", """
INSERT INTO ${db}.access_events (event_id, occurred_at, occurred_ms, received_at, received_ms,
    source, org, actor_id, actor_type, actor_role, actor_department, action, subject_id,
    subject_type, subject_minor, subject_vip, subject_employee, categories, record_count,
    purpose, relationship, outcome, client_ip, client_user_agent, client_device_id,
    client_geo_country, client_geo_region, client_geo_city, client_geo_lat, client_geo_lon,
    session_id, request_id, attr_keys, attr_values)
VALUES
    ('e-1', toDateTime(1700000100), 7, toDateTime(1700000101), 8, 'emr-prod', 'hosp-1', 'staff-42',
     'doctor', 'physician', 'cardiology', 'read', 'p_abc', 'patient', 0, 0, 0,
     ['health', 'prescription'], 1, 'treatment', 'true', 'success', '10.0.0.1', 'ua', 'dev-1',
     'CN', 'BJ', 'Beijing', 39.9, 116.4, 's-1', 'r-1', ['k'], ['v'])
"""),
    ("device_events", """
INSERT INTO ${db}.device_events (event_id, occurred_at, occurred_ms, received_at, received_ms,
    source, org, account_id, device_id, kind, device_model, device_os, device_os_version,
    device_app_version, signal_emulator, signal_rooted, signal_hook_framework, signal_debugger,
    signal_app_tampered, signal_proxy_or_vpn, signal_multi_open, signal_location_spoofed,
    signal_remote_control, network_ip, network_carrier, network_wifi_bssid, location_lat,
    location_lon, location_accuracy_m, outcome, attr_keys, attr_values)
VALUES
    ('d-1', toDateTime(1700000200), 1, toDateTime(1700000200), 2, 'app-android', 'hosp-1', 'u_1',
     'dv_1', 'login', 'Pixel', 'android', '14', '5.1.0', 1, 0, 0, 0, 0, 1, 0, 0, 0, '10.0.0.2',
     'cmcc', 'bs_1', 39.9, 116.4, 50, 'success', [], []),
    ('d-1', toDateTime(1700000200), 1, toDateTime(1700000200), 2, 'app-android', 'hosp-1', 'u_1',
     'dv_1', 'login', 'Pixel', 'android', '14', '5.1.0', 1, 0, 0, 0, 0, 1, 0, 0, 0, '10.0.0.2',
     'cmcc', 'bs_1', 39.9, 116.4, 50, 'success', [], [])
"""),
    ("dead_letters", """
INSERT INTO ${db}.dead_letters (dead_letter_id, received_at, received_ms, source, receiver, kind,
    reason, problems, location, event_id, raw, raw_bytes, truncated)
VALUES
    ('dl-1', toDateTime(1700000300), 3, 'emr-prod', 'http', 'access', 'invalid_event',
     ['/actor/type: unknown value'], 'line 3', 'e-9', '{}', 2, 0),
    ('dl-1', toDateTime(1700000300), 3, 'emr-prod', 'http', 'access', 'invalid_event',
     ['/actor/type: unknown value'], 'line 3', 'e-9', '{}', 2, 0),
    ('dl-2', toDateTime(1700000400), 0, '', 'syslog', '', 'syslog_parse', [], '10.0.0.3', '',
     'x', 1, 0)
"""),
    ("alerts", """
INSERT INTO ${db}.alerts (alert_id, version, rule_id, rule_title, severity, group_key,
    window_start, window_start_ms, window_end, window_end_ms, first_seen, first_seen_ms,
    last_seen, last_seen_ms, count, distinct_subjects, categories, evidence, explanation,
    actor_id, device_id, org, status)
VALUES
    ('al-1', 20, 'bulk_export', 'Bulk export', 'critical', 'hosp-1/staff-42',
     toDateTime(1700000400), 0, toDateTime(1700004000), 0, toDateTime(1700000500), 1,
     toDateTime(1700003900), 2, 12, 9, ['health'], ['e-1'], 'exported', 'staff-42', '',
     'hosp-1', 'escalated')
"""),
    # An older version of al-1 written after the newer one: it must lose.
    ("alerts", """
INSERT INTO ${db}.alerts (alert_id, version, rule_id, rule_title, severity, group_key,
    window_start, window_start_ms, window_end, window_end_ms, first_seen, first_seen_ms,
    last_seen, last_seen_ms, count, distinct_subjects, categories, evidence, explanation,
    actor_id, device_id, org, status)
VALUES
    ('al-1', 10, 'bulk_export', 'Bulk export', 'high', 'hosp-1/staff-42',
     toDateTime(1700000400), 0, toDateTime(1700004000), 0, toDateTime(1700000500), 1,
     toDateTime(1700003000), 2, 5, 4, ['health'], ['e-1'], 'exported', 'staff-42', '',
     'hosp-1', 'open')
"""),
    ("incidents", """
INSERT INTO ${db}.incidents (incident_id, version, state, detected_at, detected_ms, aware_at,
    aware_ms, alert_ids, actor_id, org, severity, scope_people, scope_minors, scope_categories,
    scope_jurisdictions, transition_from, transition_to, transition_at, transition_ms,
    transition_by, transition_reason)
VALUES
    ('inc-1', 30, 'detected', toDateTime(1700004000), 5, toDateTime(0), 0, ['al-1'], 'staff-42',
     'hosp-1', 'critical', 40, 1, ['health'], ['pipl'], [], [], [], [], [], []),
    ('inc-1', 31, 'confirmed', toDateTime(1700004000), 5, toDateTime(1700005000), 6, ['al-1'],
     'staff-42', 'hosp-1', 'critical', 40, 1, ['health'], ['pipl'], ['detected', 'triage'],
     ['triage', 'confirmed'], [toDateTime(1700004500), toDateTime(1700005000)], [1, 6],
     ['op-1', 'op-2'], ['', 'confirmed by DPO'])
"""),
    ("notices", """
INSERT INTO ${db}.notices (notice_id, version, incident_id, obligation, regime, recipient_token,
    recipient_kind, channel, language, due_at, due_ms, state, attempts, sent_at, sent_ms,
    message_id, last_error)
VALUES
    ('n-1', 41, 'inc-1', 'pipl.individual', 'pipl', 'tok-1', 'subject', 'email', 'zh-CN',
     toDateTime(1699990000), 250, 'failed', 2, toDateTime(0), 0, '', '451 try later'),
    ('n-2', 42, 'inc-1', 'pipl.individual', 'pipl', 'tok-2', 'guardian', 'sms', 'zh-CN',
     toDateTime(1700090000), 0, 'sent', 1, toDateTime(1700006000), 7, 'msg-2', '')
"""),
    # An older version of n-1 written after the newer one: it must lose.
    ("notices", """
INSERT INTO ${db}.notices (notice_id, version, incident_id, obligation, regime, recipient_token,
    recipient_kind, channel, language, due_at, due_ms, state, attempts, sent_at, sent_ms,
    message_id, last_error)
VALUES
    ('n-1', 40, 'inc-1', 'pipl.individual', 'pipl', 'tok-1', 'subject', 'email', 'zh-CN',
     toDateTime(1699990000), 250, 'sending', 1, toDateTime(0), 0, '', '')
"""),
]


def split_values(text):
    """Split the values of a "-- params:" line on commas outside quotes and brackets."""
    vals, cur, depth, i, n = [], [], 0, 0, len(text)
    while i < n:
        c = text[i]
        if c == "'":
            j = i + 1
            while j < n:
                if text[j] == "\\":
                    j += 2
                    continue
                if text[j] == "'":
                    if j + 1 < n and text[j + 1] == "'":
                        j += 2
                        continue
                    break
                j += 1
            if j >= n:
                raise ValueError("unterminated string in params: %s" % text)
            cur.append(text[i:j + 1])
            i = j + 1
            continue
        if c in "[(":
            depth += 1
        elif c in "])":
            depth -= 1
        if c == "," and depth == 0:
            vals.append("".join(cur).strip())
            cur = []
        else:
            cur.append(c)
        i += 1
    last = "".join(cur).strip()
    if last or vals:
        vals.append(last)
    if any(v == "" for v in vals):
        raise ValueError("empty value in params: %s" % text)
    return vals


def read_params(text):
    """The SQL literals of a query file's "-- params:" line, or None without one."""
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("-- params:"):
            return split_values(line[len("-- params:"):].strip())
    return None


def bind(stmt, values):
    """Replace each '?' outside string literals and quoted identifiers of a
    comment-free statement by the next value, as clickhouse-go does."""
    out, i, n, k = [], 0, len(stmt), 0
    while i < n:
        c = stmt[i]
        if c in "'\"`":
            j = i + 1
            while j < n:
                if stmt[j] == "\\":
                    j += 2
                    continue
                if stmt[j] == c:
                    if j + 1 < n and stmt[j + 1] == c:
                        j += 2
                        continue
                    break
                j += 1
            out.append(stmt[i:j + 1])
            i = j + 1
            continue
        if c == "?":
            if k >= len(values):
                raise ValueError("more '?' placeholders than the %d params" % len(values))
            out.append(values[k])
            k += 1
        else:
            out.append(c)
        i += 1
    if k != len(values):
        raise ValueError("%d '?' placeholders but %d params" % (k, len(values)))
    return "".join(out)


def load_query(path, db):
    """The one statement of a query file with ${db} and its sample params bound."""
    with open(path, encoding="utf-8") as f:
        text = f.read()
    params = read_params(text)
    if params is None:
        raise ValueError("no '-- params:' line (list sample values for the placeholders)")
    stmts = split_statements(text)
    if len(stmts) != 1:
        raise ValueError("%d statements; a query file holds exactly one" % len(stmts))
    return bind(stmts[0].replace(PLACEHOLDER, db), params)


def main(argv):
    verbose = "-v" in argv
    args = [a for a in argv if a != "-v"]
    try:
        import chdb
        from chdb import session as chs
    except ImportError as e:
        print("chdb_check: cannot import chdb (%s); install it with: python3 -m pip install chdb" % e, file=sys.stderr)
        return 2
    queries = [a for a in args if os.path.basename(os.path.dirname(os.path.abspath(a))) == "queries"]
    files = [a for a in args if a not in queries]
    if not files:
        files = [os.path.join(STORE, "bootstrap.sql")] + sorted(glob.glob(os.path.join(STORE, "migrations", "*.sql")))
    if not queries:
        queries = sorted(glob.glob(os.path.join(STORE, "queries", "*.sql")))
    tmp = tempfile.mkdtemp(prefix="vigil-chdb-")
    sess = chs.Session(tmp)
    db = "vigil_chdb_check"
    try:
        version = str(sess.query("SELECT version()", "CSV")).strip().strip('"')
        print("chdb_check: chdb %s, ClickHouse %s" % (chdb.__version__, version))
        total = 0
        # Every file once, then every migration again: Migrate must be
        # able to re-run a migration that failed half-way.
        for rnd, batch in enumerate((files, [f for f in files if os.path.basename(f) != "bootstrap.sql"])):
            for path in batch:
                rel = os.path.relpath(path, ROOT)
                with open(path, encoding="utf-8") as f:
                    text = f.read()
                try:
                    stmts = split_statements(text)
                except ValueError as e:
                    print("chdb_check: %s: %s" % (rel, e), file=sys.stderr)
                    return 1
                for k, stmt in enumerate(stmts, 1):
                    q = stmt.replace(PLACEHOLDER, db)
                    try:
                        sess.query(q)
                    except Exception as e:  # chdb raises RuntimeError with the server's message
                        # Migrate treats an ADD COLUMN whose column exists as done
                        # (18.16 has no ADD COLUMN IF NOT EXISTS): the same here.
                        if rnd and ADD_COLUMN.match(q) and "already exists" in str(e):
                            total += 1
                            continue
                        print("chdb_check: FAIL %s statement %d%s:\n%s\n--> %s" %
                              (rel, k, " (second run)" if rnd else "", q, str(e).strip()), file=sys.stderr)
                        return 1
                    total += 1
                    if verbose:
                        print("ok  %s #%d %s" % (rel, k, " ".join(q.split())[:90]))
        tables = str(sess.query("SELECT count() FROM system.tables WHERE database = '%s'" % db, "CSV")).strip()
        print("chdb_check: %d statements from %d files ran on ClickHouse %s (%s tables in %s)" %
              (total, len(files), version, tables, db))

        # Sample rows; the materialized views fill the other tables.
        for table, ins in SAMPLE_ROWS:
            q = ins.strip().replace(PLACEHOLDER, db)
            try:
                sess.query(q)
            except Exception as e:
                print("chdb_check: FAIL sample rows for %s:\n%s\n--> %s" % (table, q, str(e).strip()), file=sys.stderr)
                return 1
        empty = str(sess.query(
            "SELECT arrayStringConcat(groupArray(name), ', ') FROM system.tables WHERE database = '%s' "
            "AND engine LIKE '%%MergeTree' AND total_rows = 0" % db, "TabSeparated")).strip()
        if empty:
            print("chdb_check: FAIL no rows in %s after the sample inserts" % empty, file=sys.stderr)
            return 1
        print("chdb_check: sample rows in every table of %s" % db)

        for path in queries:
            rel = os.path.relpath(path, ROOT)
            try:
                q = load_query(path, db)
            except (OSError, ValueError) as e:
                print("chdb_check: FAIL %s: %s" % (rel, e), file=sys.stderr)
                return 1
            try:
                res = sess.query(q, "TabSeparated")
            except Exception as e:
                print("chdb_check: FAIL %s:\n%s\n--> %s" % (rel, q, str(e).strip()), file=sys.stderr)
                return 1
            out = str(res)
            rows = out.count("\n")
            if rows == 0:
                print("chdb_check: FAIL %s returned no row for its sample params:\n%s" % (rel, q), file=sys.stderr)
                return 1
            if verbose:
                print("ok  %s: %d rows\n    %s" % (rel, rows, out.rstrip("\n").replace("\n", "\n    ")))
        print("chdb_check: %d queries ran on ClickHouse %s, each returned rows" % (len(queries), version))
        return 0
    finally:
        try:
            sess.close()
        except Exception:
            pass
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
