#!/usr/bin/env python3
"""STAND-IN for ciq_bridge.py, for `ciq up` (SQLite, no platform). It starts NO virtual
machine and talks to no GitHub: it plays the platform's part on the SQLite file ciq up
uses (schema: src/platform/schema/sqlite.sql), so the embedded default behaves like the
real thing under the same contract.

    python3 standin_bridge.py --database PATH [--lock-dir DIR] [--lock-wait SECS]
                              [--max-runtime-minutes N] COMMAND ...

Same commands, JSON last line and exit codes as ciq_bridge.py (see its docstring):
    start-test ID   as the platform would: missing / already_started / finished (a final
                    progress row; a PR test with pr_nr 0 is descheduled "Invalid PR
                    number") / deferred maintenance / skipped (non-final progress rows) /
                    started: IT (not ciq) inserts the gcp_instance row <platform>-<id> and
                    appends a line to started-tests.log beside the database
    maintain        instance rows older than --max-runtime-minutes (default 120): writes the
                    canceled progress row and deletes the instance row
    pending         the platform's NOT IN query per platform, maintenance by the first row
Same read/write lock as ciq_bridge.py (default lock dir: ciq-locks/ beside the database).
Only the Python standard library; the system python3 will do.
"""

import argparse
import datetime
import os
import sqlite3
import sys
import traceback

sys.dont_write_bytecode = True  # no __pycache__ beside the installed scripts
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ciq_bridge import EXIT_ERROR, EXIT_OK, LockBusy, Locks, deferred, out  # noqa: E402

EXPIRED = "Could not complete test, time limit exceeded"


def connect(path):
    if not os.path.exists(path):
        raise FileNotFoundError(f"no database at {path} (start `ciq up` first)")
    db = sqlite3.connect(path, timeout=10, isolation_level=None)
    db.execute("PRAGMA busy_timeout = 10000")
    return db


def local_now():
    return datetime.datetime.now().isoformat(sep=" ", timespec="microseconds")


def utc_now():
    return datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None).isoformat(
        sep=" ", timespec="microseconds")


def maintenance(db, platform):
    row = db.execute("SELECT disabled FROM maintenance_mode WHERE platform = ? ORDER BY id LIMIT 1",
                     (platform,)).fetchone()
    return row is not None and bool(row[0])


def final_progress(db, test_id):
    row = db.execute("SELECT message FROM test_progress WHERE test_id = ? AND status IN "
                     "('canceled', 'completed') ORDER BY id DESC LIMIT 1", (test_id,)).fetchone()
    return None if row is None else row[0]


def start_test(db, database, test_id):
    row = db.execute("SELECT platform, test_type, pr_nr FROM test WHERE id = ?", (test_id,)).fetchone()
    if row is None:
        return out(EXIT_OK, result="missing", test_id=test_id, reason="no such test")
    platform, test_type, pr_nr = row
    base = dict(test_id=test_id, platform=platform)
    if db.execute("SELECT 1 FROM gcp_instance WHERE test_id = ?", (test_id,)).fetchone():
        return out(EXIT_OK, result="already_started", reason="a gcp_instance row exists", **base)
    msg = final_progress(db, test_id)
    if msg is not None:
        return out(EXIT_OK, result="finished", reason=msg, **base)
    if maintenance(db, platform):
        return deferred("maintenance", message=f"{platform} is in maintenance mode", **base)
    if test_type == "pr" and pr_nr == 0:
        db.execute("INSERT INTO test_progress (test_id, status, timestamp, message) VALUES (?, 'canceled', ?, ?)",
                   (test_id, utc_now(), "Invalid PR number"))
        return out(EXIT_OK, result="finished", reason="Invalid PR number", **base)
    if db.execute("SELECT 1 FROM test_progress WHERE test_id = ?", (test_id,)).fetchone():
        return out(EXIT_OK, result="skipped", reason=f"Test {test_id} already has progress entries, skipping",
                   **base)
    name = f"{platform}-{test_id}"
    db.execute("INSERT INTO gcp_instance (name, test_id, timestamp) VALUES (?, ?, ?)", (name, test_id, local_now()))
    with open(os.path.join(os.path.dirname(os.path.abspath(database)), "started-tests.log"), "a") as f:
        f.write(f"{datetime.datetime.now(datetime.timezone.utc):%Y-%m-%dT%H:%M:%SZ} started {name}\n")
    return out(EXIT_OK, result="started", **base)


def maintain(db, max_runtime_min):
    cutoff = (datetime.datetime.now() - datetime.timedelta(minutes=max_runtime_min)).isoformat(
        sep=" ", timespec="microseconds")
    rows = db.execute("SELECT name, test_id FROM gcp_instance WHERE timestamp < ? ORDER BY timestamp, name",
                      (cutoff,)).fetchall()
    for name, test_id in rows:
        db.execute("BEGIN IMMEDIATE")
        if test_id is not None:
            db.execute("INSERT INTO test_progress (test_id, status, timestamp, message) VALUES (?, 'canceled', ?, ?)",
                       (test_id, utc_now(), EXPIRED))
        db.execute("DELETE FROM gcp_instance WHERE name = ?", (name,))
        db.execute("COMMIT")
    return out(EXIT_OK, result="maintained", counts={"expired": len(rows)})


def pending(db):
    platforms = {}
    for platform in ("linux", "windows"):
        ids = [r[0] for r in db.execute(
            "SELECT id FROM test WHERE id NOT IN (SELECT test_id FROM test_progress WHERE status IN "
            "('canceled', 'completed')) AND id NOT IN (SELECT test_id FROM gcp_instance) AND platform = ? "
            "ORDER BY id", (platform,))]
        down = maintenance(db, platform)
        platforms[platform] = {"maintenance": down, "pending": ids, "would_start": [] if down else ids}
    return out(EXIT_OK, result="pending", platforms=platforms)


def main(argv=None):
    p = argparse.ArgumentParser(prog="standin_bridge.py", description=__doc__.split("\n")[0])
    p.add_argument("--database", required=True, help="the SQLite file of `ciq up`")
    p.add_argument("--platform-dir", default=".", help="accepted for the same CLI; unused")
    p.add_argument("--lock-dir", default=None)
    p.add_argument("--lock-wait", type=float, default=10.0)
    p.add_argument("--max-runtime-minutes", type=float, default=120)
    sub = p.add_subparsers(dest="command", required=True)
    sub.add_parser("start-test").add_argument("test_id", type=int)
    sub.add_parser("maintain")
    sub.add_parser("pending")
    args = p.parse_args(argv)
    lock_dir = args.lock_dir or os.path.join(os.path.dirname(os.path.abspath(args.database)), "ciq-locks")
    locks = Locks(lock_dir, args.lock_wait)
    test_id = getattr(args, "test_id", None)
    try:
        db = connect(args.database)
        if args.command == "start-test":
            with locks.test(test_id), locks.shared():
                return start_test(db, args.database, test_id)
        if args.command == "maintain":
            with locks.exclusive():
                return maintain(db, args.max_runtime_minutes)
        return pending(db)
    except LockBusy as e:
        return deferred("lock_busy", message=str(e), test_id=test_id)
    except Exception as e:
        traceback.print_exc()
        return out(EXIT_ERROR, result="error", test_id=test_id, reason=f"{type(e).__name__}: {e}")


if __name__ == "__main__":
    sys.exit(main())
