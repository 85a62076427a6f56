"""ciq's webhook trigger for the CCExtractor Sample Platform (the Celery PR's trigger_test_tasks).

Copy this file beside the platform's run.py and apply webhook.patch: add_test_entry() then
calls trigger_test_tasks([linux_id, windows_id]) for every test the webhook creates. Gated on
the platform's flag in config.py (USE_CELERY_TASKS unless CIQ_TRIGGER_FLAG names another),
each test is enqueued with the PR's 30 s countdown and a unique key:

    ciq enqueue start_test --arg test_id=N --countdown 30s --unique start_test:N

as a subprocess with a short timeout. Nothing here raises into the webhook: a failure (Redis
down, ciq missing, timeout) is logged with the platform's log, and ciq's discovery or the
cron picks the test up. The bot token is never passed on (the bridge reads it from config.py).

config.py keys (all optional): CIQ_TRIGGER_FLAG (default "USE_CELERY_TASKS"), CIQ_BIN
(default "ciq"), CIQ_CONFIG (passed as --config), CIQ_TRIGGER_TIMEOUT (seconds, default 5).
"""

import subprocess

COUNTDOWN = "30s"  # the Celery PR's countdown: time for the artifact upload to complete


def enqueue_command(config, test_id):
    cmd = [config.get("CIQ_BIN") or "ciq", "enqueue", "start_test", "--arg", f"test_id={int(test_id)}",
           "--countdown", COUNTDOWN, "--unique", f"start_test:{int(test_id)}", "--quiet"]
    if config.get("CIQ_CONFIG"):
        cmd += ["--config", config["CIQ_CONFIG"]]
    return cmd


def trigger_test_tasks(test_ids, bot_token=None):
    """Enqueue start_test for each id when the flag is on; never raises."""
    try:
        from run import config, log
    except Exception:
        return
    try:
        flag = config.get("CIQ_TRIGGER_FLAG") or "USE_CELERY_TASKS"
        if not config.get(flag, False):
            log.debug(f"{flag} is off: tests will be picked up by the cron")
            return
        timeout = float(config.get("CIQ_TRIGGER_TIMEOUT", 5))
        for test_id in test_ids or []:
            cmd = enqueue_command(config, test_id)
            try:
                r = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                                   timeout=timeout)
            except subprocess.TimeoutExpired:
                log.error(f"ciq enqueue for test {test_id} timed out after {timeout:g}s; "
                          f"discovery or the cron will pick it up")
                continue
            except OSError as e:
                log.error(f"ciq enqueue for test {test_id} could not run ({e}); "
                          f"discovery or the cron will pick it up")
                continue
            if r.returncode == 0:
                log.info(f"Queued test {test_id} via ciq ({r.stdout.strip()})")
            else:
                detail = (r.stderr.strip().splitlines() or [""])[-1]
                log.error(f"ciq enqueue for test {test_id} failed (exit {r.returncode}: {detail}); "
                          f"discovery or the cron will pick it up")
    except Exception as e:
        log.error(f"ciq trigger failed: {type(e).__name__}: {e}; discovery or the cron will pick the tests up")
