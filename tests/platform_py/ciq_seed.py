"""Test-only: create the platform's schema from its own models and seed rows through them.

    python ciq_seed.py '<json spec>'      (cwd: the platform folder with its config.py)

Spec (every key optional):
  {"tests": [{"id": 7, "platform": "linux"|"windows", "type": "commit"|"pr", "pr_nr": 1,
              "commit": "<sha>", "branch": "master"}],
   "progress": [{"test_id": 7, "status": "preparation"|"testing"|"completed"|"canceled",
                 "message": "..."}],
   "instances": [{"name": "linux-7", "test_id": 7 | null, "minutes_ago": 0}],
   "maintenance": [{"platform": "linux", "disabled": true}],
   "pending_deletions": [{"vm_name": "linux-3", "operation_name": "failed-linux-3",
                          "retry_count": 0, "minutes_ago": 0}]}
Prints {"tests": [ids in spec order], "tables": [...]} as the last stdout line. The tests
use it; ciq never writes the platform's tables.
"""

import datetime
import glob
import importlib
import json
import os
import sys

sys.path.insert(0, os.getcwd())

# Only config.py and the models (every mod_*/models.py, so create_all makes the whole
# schema): importing `run` (the Flask app) would cost seconds per seed.
import config as platform_config  # noqa: E402
from database import Base, create_session  # noqa: E402

for models in sorted(glob.glob("mod_*/models.py")):
    importlib.import_module(models[:-3].replace("/", "."))
from mod_ci.models import GcpInstance, MaintenanceMode, PendingDeletion  # noqa: E402
from mod_test.models import (Fork, Test, TestPlatform, TestProgress,  # noqa: E402
                             TestStatus, TestType)


def ago(minutes):
    return datetime.datetime.now() - datetime.timedelta(minutes=minutes or 0)


def main(spec):
    db = create_session(platform_config.DATABASE_URI)  # creates the tables from the models
    fork = Fork.query.first()
    if fork is None:
        fork = Fork(f"https://github.com/{platform_config.GITHUB_OWNER}/{platform_config.GITHUB_REPOSITORY}.git")
        db.add(fork)
        db.commit()
    ids = []
    for t in spec.get("tests", []):
        kind = TestType.pull_request if t.get("type", "commit") == "pr" else TestType.commit
        test = Test(TestPlatform.from_string(t.get("platform", "linux")), kind, fork.id,
                    t.get("branch", "pull_request" if kind == TestType.pull_request else "master"),
                    t.get("commit", "a" * 40), t.get("pr_nr", 0))
        if "id" in t:
            test.id = t["id"]
        db.add(test)
        db.flush()
        ids.append(test.id)
    db.commit()
    for p in spec.get("progress", []):
        db.add(TestProgress(p["test_id"], TestStatus.from_string(p["status"]), p.get("message", "seeded")))
    for i in spec.get("instances", []):
        db.add(GcpInstance(i["name"], i.get("test_id"), ago(i.get("minutes_ago"))))
    for m in spec.get("maintenance", []):
        db.add(MaintenanceMode(TestPlatform.from_string(m["platform"]), bool(m.get("disabled"))))
    for d in spec.get("pending_deletions", []):
        row = PendingDeletion(d["vm_name"], d["operation_name"], ago(d.get("minutes_ago")))
        row.retry_count = d.get("retry_count", 0)
        db.add(row)
    db.commit()
    tables = sorted(Base.metadata.tables)
    db.remove()
    print(json.dumps({"tests": ids, "tables": tables}))


main(json.loads(sys.argv[1] if len(sys.argv) > 1 else sys.stdin.read() or "{}"))
