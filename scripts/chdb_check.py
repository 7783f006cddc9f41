#!/usr/bin/env python3
"""Run every schema statement of internal/store against current ClickHouse.

    python3 scripts/chdb_check.py [-v] [FILE.sql ...]

Vigil's SQL must run on ClickHouse 18.16 (the integration tests prove that)
and on current ClickHouse. This script proves the latter: it runs, in order,
internal/store/bootstrap.sql and then every internal/store/migrations/*.sql
(or the files given) in chDB -- ClickHouse as a Python module
(`pip install chdb`) -- in a throwaway session and database, splitting each
file into statements on ';' outside string literals, quoted identifiers and
comments (the same rules as store.SplitStatements). ${db} is replaced by the
throwaway database's name. Every migration is then run a second time, as
Migrate may (idempotence).

Exit status: 0 when every statement ran, 1 when current ClickHouse rejected
one (the file, statement number, statement and error are printed), 2 when
chdb cannot be imported.
"""

import glob
import os
import shutil
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
STORE = os.path.join(ROOT, "internal", "store")
PLACEHOLDER = "${db}"


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


def main(argv):
    verbose = "-v" in argv
    files = [a for a in argv if a != "-v"]
    try:
        import chdb
        from chdb import session as chs
    except ImportError as e:
        print("chdb_check: cannot import chdb (%s); install it with: python3 -m pip install chdb" % e, file=sys.stderr)
        return 2
    if not files:
        files = [os.path.join(STORE, "bootstrap.sql")] + sorted(glob.glob(os.path.join(STORE, "migrations", "*.sql")))
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
                        print("chdb_check: FAIL %s statement %d%s:\n%s\n--> %s" %
                              (rel, k, " (second run)" if rnd else "", q, str(e).strip()), file=sys.stderr)
                        return 1
                    total += 1
                    if verbose:
                        print("ok  %s #%d %s" % (rel, k, " ".join(q.split())[:90]))
        tables = str(sess.query("SELECT count() FROM system.tables WHERE database = '%s'" % db, "CSV")).strip()
        print("chdb_check: %d statements from %d files ran on ClickHouse %s (%s tables in %s)" %
              (total, len(files), version, tables, db))
        return 0
    finally:
        try:
            sess.close()
        except Exception:
            pass
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
