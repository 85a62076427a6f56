"""Test-only fakes for the sample platform's outside world: GCP compute and GitHub.

Installed by sitecustomize.py when CIQ_FAKE_STATE names a state directory. Every process
(the platform's cron, several bridge runs) shares one fake GCP and one fake GitHub through
`state.json` in that directory, read and written under flock(`state.lock`).

State layout (the Rust fixture in tests/platform_real/fakes.rs writes the knobs):
  knobs.artifacts        {commit: "ready" | "in_progress" | "failed" | "missing"}; default
                         knobs.artifact_default ("ready")
  knobs.zone_exhausted   VM inserts that still fail with ZONE_RESOURCE_POOL_EXHAUSTED_WITH_DETAILS
                         (reported in the operation, as GCP does); decremented per insert
  knobs.insert_error     {"code", "message"}: every insert fails at once with this error
  knobs.verify_delay_s   seconds a VM create operation stays RUNNING (the VM is listed meanwhile)
  knobs.verify_hold      while true, every VM create operation stays RUNNING
  knobs.delete_fail      deletes that still raise an HTTP 500 (a count, or {vm name: count});
                         decremented per failed delete
  knobs.delete_delay_s   seconds a VM delete takes, as on GCP where deletion is asynchronous:
                         meanwhile the VM is still listed with status STOPPING, its delete
                         operation is RUNNING, and an insert of its name fails with HTTP 409
                         alreadyExists; then the VM is gone and the operation DONE
                         (default 0: a delete takes effect at once)
  knobs.delete_hold      while true, every delete stays in progress like that (set it false
                         to let the held deletes finish)
  knobs.pulls            {pr_nr: "open" | "closed" | "error" (GitHub answers 502)}; default open
  known_commits          commits the fixture seeded (artifacts exist for them unless a knob says no)
  vms                    {name: {"creationTimestamp", "status"}} (tests may add old ones);
                         a VM being deleted also has "deleting": its delete operation
  operations             {op name: {"vm", "kind", "done_at", "error"}}
  creates / deletes / statuses / insert_attempts    records, in order (an insert refused
                         because the name exists has "status": 409)
An insert of a name that exists (being deleted or not) raises HttpError 409 alreadyExists,
as the real API does; the platform's start_test does not catch it.
Any other outbound connection (not loopback) raises.
"""

import datetime
import fcntl
import io
import json
import os
import socket
import time
import zipfile
from contextlib import contextmanager

STATE_DIR = os.environ.get("CIQ_FAKE_STATE", "")
ARTIFACT_URL = "https://api.github.com/repos/fake/fake/actions/artifacts/{id}/zip"


@contextmanager
def state():
    """Yield the shared state dict; written back (atomically) when the block ends."""
    with open(os.path.join(STATE_DIR, "state.lock"), "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        path = os.path.join(STATE_DIR, "state.json")
        try:
            with open(path) as f:
                s = json.load(f)
        except FileNotFoundError:
            s = {}
        for k in ("knobs", "vms", "operations"):
            s.setdefault(k, {})
        for k in ("creates", "deletes", "statuses", "insert_attempts"):
            s.setdefault(k, [])
        _finish_deletes(s)
        yield s
        tmp = path + f".{os.getpid()}"
        with open(tmp, "w") as f:
            json.dump(s, f, indent=1, default=str)
        os.replace(tmp, path)


def _now_iso():
    now = datetime.datetime.now(datetime.timezone.utc)
    return now.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "+00:00"


# ---------------------------------------------------------------- fake GCP compute


def _delete_done(s, op):
    """A delete operation is done once its time has come, unless knobs.delete_hold."""
    return not s["knobs"].get("delete_hold") and time.time() >= op.get("done_at", 0)


def _finish_deletes(s):
    """VMs whose delete operation is done are gone (GCP finishes deleting on its own)."""
    for name, vm in list(s["vms"].items()):
        op = s["operations"].get(vm.get("deleting", ""))
        if op is not None and _delete_done(s, op):
            del s["vms"][name]


class _Call:
    def __init__(self, fn):
        self._fn = fn

    def execute(self, *a, **k):
        return self._fn()


def _http_error(status, reason, message=None):
    import httplib2
    from googleapiclient.errors import HttpError

    body = json.dumps({"error": {"code": status, "message": message or reason,
                                 "errors": [{"reason": reason, "message": message or reason}]}})
    return HttpError(httplib2.Response({"status": status}), body.encode(), uri="fake://compute")


class _Instances:
    def insert(self, project, zone, body):
        def run():
            name = body["name"]
            conflict = None
            with state() as s:
                k = s["knobs"]
                attempt = {"name": name, "time": time.time(), "pid": os.getpid()}
                s["insert_attempts"].append(attempt)
                if k.get("insert_error"):
                    e = k["insert_error"]
                    return {"error": {"errors": [{"code": e["code"], "message": e.get("message", "")}]}}
                op = f"op-insert-{name}-{len(s['insert_attempts'])}"
                if k.get("zone_exhausted", 0) > 0:
                    k["zone_exhausted"] -= 1
                    err = {"errors": [{"code": "ZONE_RESOURCE_POOL_EXHAUSTED_WITH_DETAILS",
                                       "message": f"The zone '{zone}' does not have enough resources"}]}
                    s["operations"][op] = {"vm": name, "kind": "insert", "done_at": 0, "error": err}
                    return {"name": op, "status": "RUNNING"}
                if name in s["vms"]:
                    attempt["status"] = 409
                    conflict = f"The resource 'projects/{project}/zones/{zone}/instances/{name}' already exists"
                else:
                    s["vms"][name] = {"name": name, "creationTimestamp": _now_iso(), "status": "PROVISIONING"}
                    s["creates"].append({"name": name, "time": time.time(), "pid": os.getpid()})
                    delay = float(k.get("verify_delay_s", 0))
                    s["operations"][op] = {"vm": name, "kind": "insert", "done_at": time.time() + delay}
            if conflict:
                raise _http_error(409, "alreadyExists", conflict)
            return {"name": op, "status": "RUNNING"}
        return _Call(run)

    def list(self, project, zone):
        def run():
            with state() as s:
                items = [{k: v for k, v in vm.items() if k != "deleting"} for vm in s["vms"].values()]
            return {"items": items} if items else {}
        return _Call(run)

    def delete(self, project, zone, instance):
        def run():
            with state() as s:
                k = s["knobs"]
                rec = {"name": instance, "time": time.time(), "pid": os.getpid()}
                df = k.get("delete_fail", 0)
                if isinstance(df, dict) and df.get(instance, 0) > 0:
                    df[instance] -= 1
                    failing = True
                elif isinstance(df, int) and df > 0:
                    k["delete_fail"] -= 1
                    failing = True
                else:
                    failing = False
                vm = s["vms"].get(instance)
                if failing:
                    rec["ok"] = False
                    s["deletes"].append(rec)
                    fail = True
                elif vm is None:
                    rec["ok"] = False
                    s["deletes"].append(rec)
                    fail = None
                elif vm.get("deleting") in s["operations"]:
                    # Already being deleted: the same operation answers for it.
                    fail = False
                    rec["ok"] = True
                    s["deletes"].append(rec)
                    op = vm["deleting"]
                else:
                    fail = False
                    rec["ok"] = True
                    s["deletes"].append(rec)
                    op = f"op-delete-{instance}-{len(s['deletes'])}"
                    delay = float(k.get("delete_delay_s", 0))
                    s["operations"][op] = {"vm": instance, "kind": "delete", "done_at": time.time() + delay}
                    if delay > 0 or k.get("delete_hold"):
                        vm["status"] = "STOPPING"
                        vm["deleting"] = op
                    else:
                        del s["vms"][instance]
            if fail is True:
                raise _http_error(500, "backendError")
            if fail is None:
                raise _http_error(404, "notFound")
            return {"name": op, "status": "RUNNING"}
        return _Call(run)


class _Images:
    def getFromFamily(self, project, family):
        return _Call(lambda: {"selfLink": f"projects/{project}/global/images/family/{family}"})


class _ZoneOperations:
    def get(self, project, zone, operation):
        def run():
            with state() as s:
                op = s["operations"].get(operation)
                if op is None:
                    raise _http_error(404, "notFound")
                if op.get("kind") == "delete":
                    running = not _delete_done(s, op)
                else:
                    held = op.get("kind") == "insert" and s["knobs"].get("verify_hold")
                    running = held or time.time() < op.get("done_at", 0)
                if running:
                    return {"name": operation, "status": "RUNNING"}
                vm = s["vms"].get(op["vm"])
                if op.get("kind") == "insert" and vm is not None and "deleting" not in vm:
                    vm["status"] = "RUNNING"
                out = {"name": operation, "status": "DONE"}
                if op.get("error"):
                    out["error"] = op["error"]
                return out
        return _Call(run)


class FakeCompute:
    def instances(self):
        return _Instances()

    def images(self):
        return _Images()

    def zoneOperations(self):
        return _ZoneOperations()


def fake_build(service, version, *a, **k):
    assert (service, version) == ("compute", "v1"), f"fake googleapiclient: {service} {version} not faked"
    return FakeCompute()


# ---------------------------------------------------------------- fake GitHub


class _Obj:
    def __init__(self, **kw):
        self.__dict__.update(kw)


ARTIFACT_NAMES = {"linux": "CCExtractor Linux build (with migrations)",
                  "windows": "CCExtractor Windows x64 Release build (with migrations)"}
WORKFLOWS = {1: "Build CCExtractor on Linux", 2: "Build CCExtractor on Windows"}


def _artifact_state(s, sha):
    k = s["knobs"]
    return k.get("artifacts", {}).get(sha, k.get("artifact_default", "ready"))


class FakeCommit:
    def __init__(self, sha):
        self.sha = sha
        self.files = [_Obj(filename="src/lib_ccx/ccx_common.c")]
        self.commit = _Obj(author=_Obj(date=datetime.datetime.now(datetime.timezone.utc)))

    def create_status(self, state, description=None, context=None, target_url=None):
        from github import GithubObject
        url = None if target_url is GithubObject.NotSet else target_url
        with state_ctx() as s:
            s["statuses"].append({"sha": self.sha, "state": str(state), "description": description,
                                  "context": context, "target_url": url, "time": time.time()})


state_ctx = state


class FakeRepo:
    def __init__(self, full_name):
        self.full_name = full_name

    def get_commit(self, sha):
        return FakeCommit(sha)

    def get_pull(self, nr):
        with state() as s:
            st = s["knobs"].get("pulls", {}).get(str(nr), "open")
        if st == "error":
            from github import GithubException
            raise GithubException(502, {"message": "Server Error"}, None)
        return _Obj(number=nr, state=st, head=_Obj(sha="0" * 40))

    def get_artifacts(self):
        with state() as s:
            ready = [sha for sha, v in s["knobs"].get("artifacts", {}).items() if v == "ready"]
            default_ready = s["knobs"].get("artifact_default", "ready") == "ready"
        # With the default "ready", every commit the platform asks about has artifacts: serve
        # them for the commits of the tests being started (the platform filters by sha).
        return _Artifacts(ready, default_ready)

    def get_workflows(self):
        return [_Obj(id=i, name=n) for i, n in WORKFLOWS.items()]

    def get_workflow_runs(self, head_sha=None, **kw):
        with state() as s:
            st = _artifact_state(s, head_sha)
        if st == "in_progress":
            return [_Obj(workflow_id=i, status="in_progress", conclusion=None, updated_at=None) for i in WORKFLOWS]
        if st == "failed":
            return [_Obj(workflow_id=i, status="completed", conclusion="failure",
                         updated_at=datetime.datetime.now(datetime.timezone.utc)) for i in WORKFLOWS]
        return []

    def get_contents(self, path, *a, **k):
        from github import GithubException
        raise GithubException(404, {"message": "Not Found"}, None)


class _Artifacts:
    """Iterates like PyGithub's PaginatedList of artifacts, answering for any commit that is
    ready (explicitly, or by default)."""

    def __init__(self, ready, default_ready):
        self.ready, self.default_ready = ready, default_ready

    def __iter__(self):
        shas = list(self.ready)
        if self.default_ready:
            with state() as s:
                explicit = s["knobs"].get("artifacts", {})
                shas += [sha for sha in s.get("known_commits", []) if sha not in explicit]
        n = 0
        for sha in shas:
            for plat, name in ARTIFACT_NAMES.items():
                n += 1
                yield _Obj(name=name, id=n, archive_download_url=ARTIFACT_URL.format(id=f"{sha}-{plat}"),
                           workflow_run=_Obj(head_sha=sha))


class FakeGithub:
    def __init__(self, *a, **k):
        pass

    def get_repo(self, full_name, *a, **k):
        return FakeRepo(full_name)


# ---------------------------------------------------------------- HTTP


def _artifact_zip():
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("ccextractor", "#!/bin/sh\necho fake ccextractor\n")
    return buf.getvalue()


def fake_requests_get(url, *a, **k):
    import requests
    if url.startswith(ARTIFACT_URL.split("{")[0]):
        r = requests.models.Response()
        r.status_code = 200
        r._content = _artifact_zip()
        r.url = url
        return r
    raise requests.exceptions.ConnectionError(f"fake: outbound HTTP to {url} is not allowed in tests")


_real_connect = socket.socket.connect


def _loopback_only_connect(self, address):
    if self.family in (socket.AF_INET, socket.AF_INET6):
        host = address[0]
        if host not in ("127.0.0.1", "::1", "localhost") and not str(host).startswith("127."):
            raise ConnectionRefusedError(f"fake: connection to {host} refused (tests are loopback-only)")
    return _real_connect(self, address)


def install():
    """Put the fakes in place of googleapiclient.discovery.build, github.Github and
    requests.get; refuse every non-loopback connection."""
    import github
    import googleapiclient.discovery
    import requests

    googleapiclient.discovery.build = fake_build
    github.Github = FakeGithub
    requests.get = fake_requests_get
    socket.socket.connect = _loopback_only_connect
