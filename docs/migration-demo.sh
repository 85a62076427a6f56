#!/usr/bin/env bash
# The README's worked example, for real: the staged migration and a rollback on the real
# Sample Platform (the vendored, unmodified third_party/sample-platform) on MariaDB, with
# a real Redis, real `ciq work` and `ciq beat` processes, and the platform's own
# mod_ci/cron.py. Only three things stand in: `systemctl` (a script that starts and stops
# the ciq processes), `crontab` (a file), and the GCP compute API and GitHub (the test
# fakes in tests/platform_py, which never leave the machine).
#
#   ./install.sh --test-deps && cargo build && docs/migration-demo.sh [DIR]
#
# Everything lives under DIR (default /tmp/ciq-demo); the MariaDB database ciq_demo is
# recreated. Prints each command and its output.
set -euo pipefail
R=$(cd "$(dirname "$0")/.." && pwd)
D=${1:-/tmp/ciq-demo}
CIQ=${CIQ:-$R/target/debug/ciq}
PY=$R/.venv-platform/bin/python
PORT=${DEMO_REDIS_PORT:-6391}
[ -x "$PY" ] || { echo "run ./install.sh --test-deps first" >&2; exit 1; }

[ -d "$D" ] && { "$D/bin/systemctl" stop ciq-worker 2>/dev/null || true; "$D/bin/systemctl" stop ciq-beat 2>/dev/null || true; }
redis-cli -p "$PORT" shutdown nosave >/dev/null 2>&1 || true
rm -rf "$D"
mkdir -p "$D"/{bin,sim/active,sim/enabled,sim/pid,units,backups,state,locks,samples,fake,redis,log}
P=$D/sample-platform
cp -r "$R/third_party/sample-platform" "$P"
mkdir -p "$P/logs"
head -c 24 /dev/urandom > "$P/secret_key"; head -c 24 /dev/urandom > "$P/secret_csrf"
KEY=$(openssl genrsa 2048 2>/dev/null | python3 -c 'import json,sys; print(json.dumps(sys.stdin.read()))')
printf '{"type":"service_account","project_id":"demo","private_key_id":"1","private_key":%s,"client_email":"demo@demo.iam.gserviceaccount.com","client_id":"1","token_uri":"https://oauth2.googleapis.com/token"}\n' "$KEY" > "$P/service-account.json"
(cd "$P" && git init -q && git -c user.name=demo -c user.email=demo@localhost commit -q --allow-empty -m demo)
cat > "$P/config.py" <<EOF
# The platform's config.py (as config_sample.py, filled in for this demo).
DATABASE_URI = 'mysql+pymysql://root@127.0.0.1:3306/ciq_demo?charset=utf8'
CIQ_BROKER_URL = 'redis://127.0.0.1:$PORT/0'
GITHUB_TOKEN = 'ghp_demo_not_a_real_token'
GITHUB_OWNER = 'CCExtractor'
GITHUB_REPOSITORY = 'ccextractor'
SERVER_NAME = 'localhost'
HMAC_KEY = 'demo'
INSTALL_FOLDER = '$P'
SAMPLE_REPOSITORY = '$D/samples'
SESSION_COOKIE_PATH = '/'
SCOPES = ['https://www.googleapis.com/auth/cloud-platform']
SERVICE_ACCOUNT_FILE = 'service-account.json'
ZONE = "us-west4-b"
PROJECT_NAME = "demo-project"
MACHINE_TYPE = f"zones/{ZONE}/machineTypes/n1-standard-1"
WINDOWS_INSTANCE_PROJECT_NAME = "windows-cloud"
WINDOWS_INSTANCE_FAMILY_NAME = "windows-2019"
LINUX_INSTANCE_PROJECT_NAME = "ubuntu-os-cloud"
LINUX_INSTANCE_FAMILY_NAME = "ubuntu-minimal-2404-lts-amd64"
GCP_INSTANCE_MAX_RUNTIME = 120
GCS_BUCKET_NAME = 'spdev'
USE_CELERY_TASKS = False
EOF
mkdir -p "$P/install/ci-vm/ci-windows" && echo "[fake]" > "$P/install/ci-vm/ci-windows/rclone.conf"

# The platform's processes see the fakes for GCP and GitHub (and nothing else).
export PYTHONPATH=$R/tests/platform_py CIQ_FAKE_STATE=$D/fake
mysql -h 127.0.0.1 -u root -e "DROP DATABASE IF EXISTS ciq_demo; CREATE DATABASE ciq_demo"
seed() { (cd "$P" && "$PY" "$R/tests/platform_py/ciq_seed.py" "$1" >/dev/null); }
# Tests for commits whose build artifacts exist on the fake GitHub.
add_test() {
    seed "{\"tests\":[{\"platform\":\"linux\",\"commit\":\"$1\"}]}"
    env -u PYTHONPATH python3 - "$D/fake/state.json" "$1" <<'PYEOF'
import json, os, sys
p, sha = sys.argv[1], sys.argv[2]
s = json.load(open(p)) if os.path.exists(p) else {}
s.setdefault("known_commits", []).append(sha)
json.dump(s, open(p, "w"))
PYEOF
}
seed '{}'

redis-server --port "$PORT" --bind 127.0.0.1 --dir "$D/redis" --appendonly yes --daemonize yes \
    --logfile "$D/redis/redis.log" --save ""

# Stand-in systemctl: starts and stops the real ciq processes of the installed units.
cat > "$D/bin/systemctl" <<EOF
#!/bin/sh
S=$D/sim; verb="\$1"; shift; [ "\$1" = "--quiet" ] && shift; u="\${1%.service}"
case "\$verb" in
  is-active) if [ -e "\$S/pid/\$u" ]; then kill -0 "\$(cat "\$S/pid/\$u")" 2>/dev/null; else [ -e "\$S/active/\$u" ]; fi ;;
  is-enabled) [ -e "\$S/enabled/\$u" ] ;;
  start|restart)
    [ -e "\$S/pid/\$u" ] && kill -TERM "\$(cat "\$S/pid/\$u")" 2>/dev/null
    case "\$u" in
      ciq-*) cmd=\$(sed -n 's/^ExecStart=//p' "$D/units/\$u.service")
             [ -n "\$cmd" ] || { echo "Unit \$u.service not found." >&2; exit 5; }
             nohup \$cmd >> "$D/log/\$u.log" 2>&1 & echo \$! > "\$S/pid/\$u" ;;
      *) touch "\$S/active/\$u"; echo restarted >> "\$S/\$u.restarts" ;;
    esac ;;
  stop) [ -e "\$S/pid/\$u" ] && { p=\$(cat "\$S/pid/\$u"); kill -TERM "\$p" 2>/dev/null;
        while kill -0 "\$p" 2>/dev/null; do sleep 0.1; done; rm -f "\$S/pid/\$u"; }; true ;;
  enable) touch "\$S/enabled/\$u" ;;
  disable) rm -f "\$S/enabled/\$u" ;;
  daemon-reload) : ;;
esac
EOF
cat > "$D/bin/crontab" <<EOF
#!/bin/sh
if [ "\$1" = "-l" ]; then cat "$D/crontab"; else cp "\$1" "$D/crontab"; fi
EOF
chmod +x "$D/bin/systemctl" "$D/bin/crontab"
# The line from the platform's install/installation.md.
# (python3 is the platform's venv here).
echo "*/10 * * * * $PY $P/mod_ci/cron.py > $P/logs/cron.log 2>&1" > "$D/crontab"
cp "$D/crontab" "$D/crontab.orig"

cat > "$D/ciq.toml" <<EOF
[platform]
config_py = "$P/config.py"
python = "$PY"
bridge = "$R/contrib/sample-platform/ciq_bridge.py"
lock_dir = "$D/locks"
env = { PYTHONPATH = "$R/tests/platform_py", CIQ_FAKE_STATE = "$D/fake" }

[schedule.process_pending_tests]
every = "10s"
[schedule.maintain]
every = "20s"

[rollout]
crontab = "user"
crontab_program = "$D/bin/crontab"
systemctl = "$D/bin/systemctl"
unit_dir = "$D/units"
backup_dir = "$D/backups"
audit_log = "$D/audit.jsonl"
state_dir = "$D/state"
service_user = "$(id -un)"
guard_command = "$CIQ --config $D/ciq.toml cron-guard --log $D/log/cron-guard.log --"
EOF

run() { echo; echo "\$ $*"; "$@" 2>&1 || echo "(exit $?)"; }
ciq() { "$CIQ" --config "$D/ciq.toml" "$@"; }
# What cron does every 10 minutes: the crontab line's command through sh.
cron_fires() { echo; echo "# cron fires: $(cut -d' ' -f6- "$D/crontab" | cut -c1-90)…"; sh -c "$(cut -d' ' -f6- "$D/crontab")"; }

add_test 1111111111111111111111111111111111111111
add_test 2222222222222222222222222222222222222222
run ciq platform check
run ciq config show
run ciq migrate-from-cron status
run ciq migrate-from-cron next --yes
run cat "$D/crontab"
sleep 12                       # a discovery tick sees tests 1 and 2
cron_fires                     # the cron (through the guard) starts them
sleep 21                       # the next ticks record the starts; maintain fires
run cat "$D/log/cron-guard.log"
run ciq migrate-from-cron status
run ciq migrate-from-cron next --yes
add_test 3333333333333333333333333333333333333333
sleep 14
run grep -h "start_test settled" "$D/log/ciq-worker.log"
cron_fires
run cat "$D/log/cron-guard.log"
run ciq status
run ciq migrate-from-cron next --yes
run ciq rollback --yes
run diff "$D/crontab.orig" "$D/crontab"
run ciq migrate-from-cron status
redis-cli -p "$PORT" shutdown nosave >/dev/null 2>&1 || true
