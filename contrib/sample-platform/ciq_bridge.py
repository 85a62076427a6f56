#!/usr/bin/env python3
"""ciq's bridge to the CCExtractor Sample Platform: runs the platform's OWN functions.

    <platform venv>/bin/python ciq_bridge.py [--platform-dir DIR] [--lock-dir DIR]
                                             [--lock-wait SECS] COMMAND ...

COMMAND is one of
    start-test ID   the per-test body of the platform's gcp_instance() for one test: its
                    maintenance check, its PR checks (pr_nr 0 / closed PR -> deschedule_test),
                    then start_test(compute, app, db, repository, test, bot_token)
    maintain        verify_pending_deletions, scan_for_orphaned_vms, delete_expired_instances,
                    in the order of the platform's start_platforms()
    pending         the platform's own pending query per platform (as gcp_instance builds it)
                    and each platform's maintenance row (.first()); read-only

It chdirs to --platform-dir (default: the current directory), imports the platform's `run`
(app, config, log) and works inside app.app_context(), as mod_ci/cron.py and the Celery PR's
mod_ci/tasks.py do. The GitHub token comes from the platform's config.py
(get_github_config(config)['bot_token']), never from argv or a message. The bridge itself
never inserts, updates or deletes a row: only the platform's functions write its tables.

Output: anything may go to stderr. The LAST line of stdout is one JSON object:
    {"result": R, "test_id": N, "platform": "linux", "reason": "...", "message": "...",
     "retry_after_s": S, "log": [the last platform log messages of this call]}
start-test results (exit code):
    started (0)          a gcp_instance row for the test exists after start_test returned
    already_started (0)  a gcp_instance row existed before start_test was called
    finished (0)         a canceled/completed test_progress row exists (descheduled by the PR
                         checks or failed by start_test: the platform told GitHub);
                         reason = that progress message
    skipped (0)          start_test's own guard skipped it (non-final progress rows)
    missing (0)          no such test
    deferred (75)        none of the above; reason is one of artifact_not_ready,
                         gcp_retryable, maintenance, github_error, lock_busy, unknown (from
                         the platform's log records of the call), retry_after_s suits it;
                         or vm_name_busy: the VM name the start would insert is still
                         taken (see vm_name_busy below), checked before start_test runs
    error (1)            unexpected exception: traceback on stderr, message in "reason"
maintain: maintained (0, with counts), deferred (75, lock_busy), error (1).
pending: pending (0) with {"platforms": {"linux": {"maintenance": bool, "pending": [ids],
    "would_start": [ids]}, ...}}.

Locking, so ciq's starts, ciq's maintain and the platform's cron never collide: a
writer-preferring read/write lock of two flock(2) files in --lock-dir (default
/run/lock/ciq-sample-platform, created 0775): gate.lock and run.lock.
    exclusive (maintain, and `ciq cron-guard` around a cron run):
        flock(gate, EX); flock(run, EX); unlock gate; work; unlock run
    shared (start-test): flock(gate, SH); flock(run, SH); unlock gate; hold run SH for the start
start-test first takes test-<id>.lock EX|NB (the same test being started elsewhere ->
deferred/lock_busy). Each wait is bounded by --lock-wait (default 10 s; LOCK_NB polls);
a timeout -> deferred/lock_busy.
"""

import argparse
import fcntl
import json
import logging
import os
import sys
import time
import traceback
from contextlib import contextmanager

EXIT_OK, EXIT_ERROR, EXIT_DEFERRED = 0, 1, 75
RETRY_AFTER_S = {"artifact_not_ready": 120, "gcp_retryable": 60, "maintenance": 300,
                 "github_error": 60, "lock_busy": 15, "unknown": 120, "vm_name_busy": 15}
DEFAULT_LOCK_DIR = "/run/lock/ciq-sample-platform"
SECRET_KEYS = ("GITHUB_TOKEN", "GITHUB_CLIENT_KEY", "GITHUB_CI_KEY", "HMAC_KEY", "EMAIL_API_KEY")
LOG_TAIL = 8

# Platform log lines (mod_ci/controllers.py) that name why start_test left a test pending.
ARTIFACT_NOT_READY = ("Build still in progress", "No workflow run found", "not yet visible",
                      "No build artifact found")
GCP_RETRYABLE = ("hit retryable error, will retry", "Error is retryable")

_secrets = []


def redact(text):
    text = str(text)
    for s in _secrets:
        text = text.replace(s, "***")
    return text


class LockBusy(Exception):
    pass


class Locks:
    """The read/write lock of the contract above (gate.lock + run.lock) and per-test locks."""

    def __init__(self, directory, wait_s):
        self.dir, self.wait_s = directory, wait_s

    def _open(self, name):
        if not os.path.isdir(self.dir):
            os.makedirs(self.dir, exist_ok=True)
            try:
                os.chmod(self.dir, 0o775)
            except OSError:
                pass
        return os.open(os.path.join(self.dir, name), os.O_RDWR | os.O_CREAT, 0o664)

    def _flock(self, fd, op, deadline, what):
        said = False
        while True:
            try:
                fcntl.flock(fd, op | fcntl.LOCK_NB)
                return
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise LockBusy(what)
                if not said:
                    print(f"ciq_bridge: waiting for the platform lock: {what}", file=sys.stderr, flush=True)
                    said = True
                time.sleep(0.05)

    @contextmanager
    def _rw(self, op, what):
        deadline = time.monotonic() + self.wait_s
        gate, run = self._open("gate.lock"), self._open("run.lock")
        try:
            self._flock(gate, op, deadline, what)
            try:
                self._flock(run, op, deadline, what)
            finally:
                fcntl.flock(gate, fcntl.LOCK_UN)
            yield
        finally:
            os.close(run)  # closing the last descriptor releases the flock
            os.close(gate)

    def exclusive(self):
        return self._rw(fcntl.LOCK_EX, "the platform lock is held (a start, maintain or cron run)")

    def shared(self):
        return self._rw(fcntl.LOCK_SH, "the platform lock is held exclusively (maintain or a cron run)")

    @contextmanager
    def test(self, test_id):
        fd = self._open(f"test-{test_id}.lock")
        try:
            self._flock(fd, fcntl.LOCK_EX, 0, f"test {test_id} is being started by another process")
            yield
        finally:
            os.close(fd)


class Capture(logging.Handler):
    """Collects the platform log's records during one call."""

    def __init__(self):
        super().__init__(logging.DEBUG)
        self.messages = []

    def emit(self, record):
        try:
            self.messages.append(record.getMessage())
        except Exception:
            pass

    def tail(self):
        return [redact(m)[:400] for m in self.messages[-LOG_TAIL:]]

    def find(self, needles):
        for m in reversed(self.messages):
            if any(n in m for n in needles):
                return m
        return None


def out(code, **fields):
    fields = {k: v for k, v in fields.items() if v is not None}
    sys.stdout.flush()
    print(redact(json.dumps(fields, default=str)), flush=True)
    return code


def deferred(reason, capture=None, **fields):
    return out(EXIT_DEFERRED, result="deferred", reason=reason, retry_after_s=RETRY_AFTER_S[reason],
               log=capture.tail() if capture else None, **fields)


def load_platform(platform_dir):
    """Import the platform from its folder the way its cron does (config.py found on sys.path)."""
    platform_dir = os.path.abspath(platform_dir)
    os.chdir(platform_dir)
    sys.path.insert(0, platform_dir)
    import run  # noqa: E402  (the platform's app, config and log)

    for key in SECRET_KEYS:
        value = run.config.get(key)
        if isinstance(value, str) and len(value) >= 4:
            _secrets.append(value)
    return run


def repository_for(config):
    """The repository object exactly as mod_ci/cron.py builds it."""
    from github import Auth, Github

    gh = Github(auth=Auth.Token(config['GITHUB_TOKEN']))
    return gh.get_repo(f"{config['GITHUB_OWNER']}/{config['GITHUB_REPOSITORY']}")


def final_progress(test_id):
    from mod_test.models import TestProgress, TestStatus

    return TestProgress.query.filter(
        TestProgress.test_id == test_id,
        TestProgress.status.in_([TestStatus.canceled, TestStatus.completed]),
    ).order_by(TestProgress.id.desc()).first()


def has_instance(test_id):
    from mod_ci.models import GcpInstance

    return GcpInstance.query.filter(GcpInstance.test_id == test_id).first() is not None


def vm_name_busy(compute, config, vm_name):
    """Why a start must not insert VM `vm_name` now (a sentence), or None when it may.

    GCP deletes asynchronously: a deleted VM stays listed (STOPPING) until its delete
    operation is done, and an insert of its name meanwhile fails with HTTP 409, which the
    platform's start_test does not catch (in its cron's loop it aborts the loop). A start
    cut midway (kill -9, power loss) leaves a VM with no gcp_instance row; the platform's
    orphan scan deletes it and records a PendingDeletion row, which its
    verify_pending_deletions drops once the delete is confirmed. While the name is listed
    or such a row remains, the start waits: inserting then would 409, or leave a row whose
    retried delete would later hit the new VM. Reads only (the platform's own list call).
    """
    from mod_ci.controllers import get_running_instances
    from mod_ci.models import PendingDeletion

    zone, project = config.get('ZONE', ''), config.get('PROJECT_NAME', '')
    pending = PendingDeletion.query.filter(PendingDeletion.vm_name == vm_name).first()
    listed = next((vm for vm in get_running_instances(compute, project, zone)
                   if vm.get('name') == vm_name), None)
    if listed is not None:
        status = listed.get('status', 'UNKNOWN')
        if pending is not None or status == 'STOPPING':
            tracked = f", PendingDeletion op {pending.operation_name}" if pending is not None else ""
            return f"VM {vm_name} is still being deleted by GCP (status {status}{tracked})"
        return (f"VM {vm_name} exists ({status}) without a gcp_instance row, left by a start cut "
                "midway; the orphan scan (maintain) deletes it first")
    if pending is not None:
        return (f"the deletion of VM {vm_name} is not yet verified (PendingDeletion op "
                f"{pending.operation_name}); verify_pending_deletions (maintain) confirms it first")
    return None


def start_test_cmd(run, test_id, locks):
    from github import GithubException
    from googleapiclient.errors import HttpError

    from database import create_session
    from mod_ci.controllers import (deschedule_test, get_compute_service_object,
                                    retry_with_backoff, start_test)
    from mod_ci.models import MaintenanceMode
    from mod_test.models import Test, TestType

    config, log = run.config, run.log
    capture = Capture()
    with locks.test(test_id), locks.shared(), run.app.app_context():
        db = create_session(config['DATABASE_URI'])
        log.addHandler(capture)
        try:
            test = Test.query.filter(Test.id == test_id).first()
            if test is None:
                return out(EXIT_OK, result="missing", test_id=test_id, reason="no such test")
            platform = test.platform.value
            base = dict(test_id=test_id, platform=platform)
            if has_instance(test_id):
                return out(EXIT_OK, result="already_started", reason="a gcp_instance row exists", **base)
            done = final_progress(test_id)
            if done is not None:
                return out(EXIT_OK, result="finished", reason=done.message, **base)
            mm = MaintenanceMode.query.filter(MaintenanceMode.platform == test.platform).first()
            if mm is not None and mm.disabled:
                return deferred("maintenance", capture, message=f"{platform} is in maintenance mode", **base)
            if not config.get('GITHUB_TOKEN'):
                return out(EXIT_ERROR, result="error", reason="GITHUB_TOKEN not configured in config.py", **base)
            bot_token = run.get_github_config(config)['bot_token']
            try:
                repository = repository_for(config)
            except GithubException as e:
                return deferred("github_error", capture, message=f"GitHub: {e}", **base)
            compute = get_compute_service_object()

            # The PR checks of gcp_instance(), for this one test.
            if test.test_type == TestType.pull_request:
                try:
                    gh_commit = retry_with_backoff(lambda: repository.get_commit(test.commit))
                    if test.pr_nr == 0:
                        log.warning(f'[{test.platform}] Test {test.id} is invalid')
                        deschedule_test(gh_commit, message="Invalid PR number", test=test, db=db)
                        gh_commit = None
                    else:
                        test_pr = retry_with_backoff(lambda: repository.get_pull(test.pr_nr))
                        if test_pr.state != 'open':
                            log.info(f"[{test.platform}] PR {test.pr_nr} is closed, descheduling test {test.id}")
                            deschedule_test(gh_commit, message="PR is closed", test=test, db=db)
                            gh_commit = None
                except Exception as e:
                    log.error(f"GitHub API error for test {test.id}: {e}")
                    return deferred("github_error", capture, message=f"GitHub: {e}", **base)
                if gh_commit is None:
                    db.remove()
                    return read_back(test_id, capture, base)

            vm_name = f"{test.platform.value}-{test.id}"  # as start_test names it
            busy = vm_name_busy(compute, config, vm_name)
            if busy is not None:
                return deferred("vm_name_busy", capture, message=busy, detail=busy, **base)
            try:
                start_test(compute, run.app, db, repository, test, bot_token)
            except HttpError as e:
                if getattr(e.resp, 'status', None) != 409:
                    raise
                # Taken between the check and the insert (by a process outside the lock).
                msg = f"VM {vm_name}: GCP answered 409 to the insert: {e}"
                return deferred("vm_name_busy", capture, message=msg, detail=msg, **base)
            db.remove()  # read the outcome in a fresh session
            return read_back(test_id, capture, base)
        finally:
            log.removeHandler(capture)
            db.remove()


def read_back(test_id, capture, base):
    """start_test returns nothing: what it did is in the database and its log."""
    if has_instance(test_id):
        return out(EXIT_OK, result="started", log=capture.tail(), **base)
    done = final_progress(test_id)
    if done is not None:
        return out(EXIT_OK, result="finished", reason=done.message, log=capture.tail(), **base)
    skip = capture.find(("already has progress entries",))
    if skip:
        return out(EXIT_OK, result="skipped", reason=skip, log=capture.tail(), **base)
    if capture.find(("already has a GCP instance",)):
        return out(EXIT_OK, result="already_started", reason="a gcp_instance row exists", **base)
    msg = capture.find(ARTIFACT_NOT_READY)
    if msg:
        return deferred("artifact_not_ready", capture, message=msg, **base)
    msg = capture.find(GCP_RETRYABLE)
    if msg:
        platform_msg = capture.find(("VM creation failed:",)) or msg
        return deferred("gcp_retryable", capture, message=platform_msg, **base)
    return deferred("unknown", capture, message=capture.messages[-1] if capture.messages else None, **base)


def maintain_cmd(run, locks):
    from database import create_session
    from mod_ci.controllers import (delete_expired_instances, get_compute_service_object,
                                    scan_for_orphaned_vms, verify_pending_deletions)
    from mod_ci.models import PendingDeletion

    config, log = run.config, run.log
    vm_max_runtime = config.get("GCP_INSTANCE_MAX_RUNTIME", 120)
    zone, project = config.get('ZONE', ''), config.get('PROJECT_NAME', '')
    if zone == "" or project == "":
        return out(EXIT_ERROR, result="error", reason="ZONE or PROJECT_NAME is empty in config.py")
    if not config.get('GITHUB_TOKEN'):
        return out(EXIT_ERROR, result="error", reason="GITHUB_TOKEN not configured in config.py")
    capture = Capture()
    with locks.exclusive(), run.app.app_context():
        db = create_session(config.get('DATABASE_URI', ''))
        log.addHandler(capture)
        try:
            repository = repository_for(config)
            compute = get_compute_service_object()
            verify_pending_deletions(compute, project, zone, db)
            scan_for_orphaned_vms(compute, project, zone, db)
            delete_expired_instances(compute, vm_max_runtime, project, zone, db, repository)
            db.remove()
            counts = {
                "expired": sum("Expired instance deletion initiated" in m or "Failed to delete expired" in m
                               for m in capture.messages),
                "orphans": sum("Found untracked VM" in m or "Force deleting" in m for m in capture.messages),
                "deletions_confirmed": sum("deletion confirmed" in m for m in capture.messages),
                "deletions_retried": sum(m.startswith("Retry ") and "/" in m for m in capture.messages),
                "pending_deletions": PendingDeletion.query.count(),
            }
            return out(EXIT_OK, result="maintained", counts=counts, log=capture.tail())
        finally:
            log.removeHandler(capture)
            db.remove()


def pending_cmd(run):
    from database import create_session
    from mod_ci.models import GcpInstance, MaintenanceMode
    from mod_test.models import Test, TestPlatform, TestProgress, TestStatus

    with run.app.app_context():
        db = create_session(run.config['DATABASE_URI'])
        try:
            platforms = {}
            for platform in TestPlatform:
                # gcp_instance()'s own query, verbatim.
                maintenance_mode = MaintenanceMode.query.filter(MaintenanceMode.platform == platform).first()
                finished_tests = db.query(TestProgress.test_id).filter(
                    TestProgress.status.in_([TestStatus.canceled, TestStatus.completed])
                )
                running_tests = db.query(GcpInstance.test_id)
                pending_tests = Test.query.filter(
                    Test.id.notin_(finished_tests), Test.id.notin_(running_tests), Test.platform == platform
                ).order_by(Test.id.asc())
                ids = [t.id for t in pending_tests]
                down = maintenance_mode is not None and bool(maintenance_mode.disabled)
                platforms[platform.value] = {"maintenance": down, "pending": ids,
                                             "would_start": [] if down else ids}
            return out(EXIT_OK, result="pending", platforms=platforms)
        finally:
            db.remove()


def main(argv=None):
    p = argparse.ArgumentParser(prog="ciq_bridge.py", description=__doc__.split("\n")[0])
    p.add_argument("--platform-dir", default=".")
    p.add_argument("--lock-dir", default=DEFAULT_LOCK_DIR)
    p.add_argument("--lock-wait", type=float, default=10.0)
    sub = p.add_subparsers(dest="command", required=True)
    st = sub.add_parser("start-test")
    st.add_argument("test_id", type=int)
    sub.add_parser("maintain")
    sub.add_parser("pending")
    args = p.parse_args(argv)
    locks = Locks(args.lock_dir, args.lock_wait)
    test_id = getattr(args, "test_id", None)
    try:
        run = load_platform(args.platform_dir)
        if args.command == "start-test":
            return start_test_cmd(run, test_id, locks)
        if args.command == "maintain":
            return maintain_cmd(run, locks)
        return pending_cmd(run)
    except LockBusy as e:
        return deferred("lock_busy", message=str(e), test_id=test_id)
    except Exception as e:
        sys.stderr.write(redact(traceback.format_exc()))
        return out(EXIT_ERROR, result="error", test_id=test_id, reason=f"{type(e).__name__}: {e}")


if __name__ == "__main__":
    sys.exit(main())
