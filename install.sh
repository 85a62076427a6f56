#!/usr/bin/env bash
# Install ciq and what it needs. Idempotent: running it again changes nothing.
#
#   ./install.sh                    build and install ciq under /usr/local (needs root for
#                                   apt-get and /usr/local; use --prefix for a user install)
#   ./install.sh --prefix ~/.local  install under another prefix
#   ./install.sh --test-deps        only make sure the test suite can run: redis-server,
#                                   faketime, tmux and chromium installed, local PostgreSQL/MariaDB started
#                                   if present, and .venv-platform/ (Python 3.11 with the vendored
#                                   sample platform's requirements, for tests/platform_real)
#   ./install.sh --uninstall        remove everything a previous install put in place
#   ./install.sh --bin PATH         install this ciq binary instead of building one
#
# What gets installed (and recorded in PREFIX/share/ciq/install-manifest):
#   PREFIX/bin/ciq, shell completions (bash, zsh, fish), man pages (man1),
#   PREFIX/share/ciq/ciq.toml.sample, systemd units under PREFIX/share/ciq/systemd/,
#   the sample-platform bridge under PREFIX/share/ciq/contrib/sample-platform/,
#   a Grafana dashboard and Prometheus alert rules under PREFIX/share/ciq/monitoring/
#   (ciq migrate-from-cron installs the units into /etc/systemd/system when it needs them).
set -euo pipefail
cd "$(dirname "$0")"

PREFIX=/usr/local
MODE=install
BIN=
while [ $# -gt 0 ]; do
    case "$1" in
        --prefix) PREFIX=${2:?--prefix needs a directory}; shift 2 ;;
        --prefix=*) PREFIX=${1#--prefix=}; shift ;;
        --test-deps) MODE=test-deps; shift ;;
        --bin) BIN=${2:?--bin needs a path}; shift 2 ;;
        --uninstall) MODE=uninstall; shift ;;
        -h|--help) sed -n '2,21p' "$0"; exit 0 ;;
        *) echo "install.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
    esac
done
PREFIX=$(mkdir -p "$PREFIX" && cd "$PREFIX" && pwd)
MANIFEST="$PREFIX/share/ciq/install-manifest"

say() { echo "install.sh: $*" >&2; }

as_root() {
    if [ "$(id -u)" = 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else
        say "need root for: $*"; return 1; fi
}

ensure_redis() {
    if command -v redis-server >/dev/null && command -v redis-cli >/dev/null; then
        return 0
    fi
    say "redis-server missing: installing it with apt-get"
    as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server redis-tools
    # The packaged service is not needed: ciq up and the tests start their own redis-server.
}

# tmux drives `ciq top` through a real terminal in the tests.
ensure_tmux() {
    command -v tmux >/dev/null && return 0
    say "tmux missing: installing it with apt-get (the ciq top tests need it)"
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq tmux
}

# The `ciq web` test renders its pages in a real headless browser (Debian's chromium).
ensure_chromium() {
    command -v chromium >/dev/null && return 0
    say "chromium missing: installing it with apt-get (the ciq web browser test needs it)"
    as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium
}

# The clock-skew tests run workers and beats under faketime (libfaketime).
ensure_faketime() {
    command -v faketime >/dev/null && return 0
    say "faketime missing: installing it with apt-get"
    as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq faketime
}

ensure_cargo() {
    if ! command -v cargo >/dev/null; then
        [ -x "$HOME/.cargo/bin/cargo" ] && export PATH="$HOME/.cargo/bin:$PATH"
    fi
    command -v cargo >/dev/null || { say "cargo (Rust toolchain) not found: install Rust from https://rustup.rs"; exit 1; }
}

# Local PostgreSQL and MariaDB for the platform tests (127.0.0.1:5432 / :3306).
start_test_databases() {
    if command -v pg_ctlcluster >/dev/null && ! pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; then
        say "starting PostgreSQL"
        for v in $(ls /etc/postgresql 2>/dev/null); do
            as_root pg_ctlcluster --skip-systemctl-redirect "$v" main start || true
        done
    fi
    if command -v mariadbd >/dev/null && ! mysqladmin -h 127.0.0.1 -u root status >/dev/null 2>&1; then
        say "starting MariaDB"
        as_root start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd || true
        for _ in $(seq 50); do mysqladmin -h 127.0.0.1 -u root status >/dev/null 2>&1 && break; sleep 0.2; done
    fi
    for _ in $(seq 50); do pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null && break; sleep 0.2; done
}

# The platform's Python side for tests/platform_real: its requirements.txt in a venv, plus
# the Debian libraries its packages load (python-magic needs libmagic1).
PLATFORM_DIR=third_party/sample-platform
PLATFORM_VENV=.venv-platform
ensure_platform_venv() {
    local req="$PLATFORM_DIR/requirements.txt" stamp="$PLATFORM_VENV/.ciq-requirements" want py
    want=$( (cat "$req"; echo "python3.11") | sha256sum | cut -d' ' -f1)
    if [ -x "$PLATFORM_VENV/bin/python" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$want" ]; then
        return 0
    fi
    local debs=()
    [ -e /usr/lib/x86_64-linux-gnu/libmagic.so.1 ] || ldconfig -p 2>/dev/null | grep -q 'libmagic.so.1 ' || debs+=(libmagic1)
    command -v openssl >/dev/null || debs+=(openssl)   # the fixture's service-account key
    command -v patch >/dev/null || debs+=(patch)       # the webhook patch test
    py=$(command -v python3.11 || true)
    [ -n "$py" ] || debs+=(python3.11)
    if [ -z "$py" ] || ! "$py" -c 'import ensurepip, venv' 2>/dev/null; then debs+=(python3.11-venv); fi
    if [ ${#debs[@]} -gt 0 ]; then
        say "installing ${debs[*]} with apt-get"
        as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq
        as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${debs[@]}"
        py=$(command -v python3.11)
    fi
    say "creating $PLATFORM_VENV (the sample platform's requirements; this can take a few minutes)"
    rm -rf "$PLATFORM_VENV"
    "$py" -m venv "$PLATFORM_VENV" || { say "python3.11 -m venv failed: install python3.11-venv"; exit 1; }
    "$PLATFORM_VENV/bin/pip" install -q --disable-pip-version-check -r "$req"
    echo "$want" > "$stamp"
}

MANIFEST_NEW=""
record() { echo "$1" >> "$MANIFEST_NEW"; }

put() { # put SRC DEST MODE; records the file and every directory it had to create
    local d new=()
    d=$(dirname "$2")
    while [ ! -d "$d" ]; do new+=("$d"); d=$(dirname "$d"); done
    install -D -m "$3" "$1" "$2"
    for ((i=${#new[@]}-1; i>=0; i--)); do record "dir:${new[$i]}"; done
    record "$2"
}

do_install() {
    ensure_redis
    if [ -z "$BIN" ]; then
        ensure_cargo
        say "building ciq (release): about 10-20 minutes on 2 cores the first time; cargo's progress follows"
        local t0=$SECONDS
        cargo build --release --locked
        say "built in $(( (SECONDS - t0) / 60 )) min $(( (SECONDS - t0) % 60 )) s"
        BIN=${CARGO_TARGET_DIR:-target}/release/ciq
    fi
    MANIFEST_NEW=$(mktemp)
    # Directories made by an earlier install stay recorded (uninstall removes them).
    if [ -f "$MANIFEST" ]; then grep '^dir:' "$MANIFEST" > "$MANIFEST_NEW" || true; fi
    put "$BIN" "$PREFIX/bin/ciq" 755
    put completions/ciq.bash "$PREFIX/share/bash-completion/completions/ciq" 644
    put completions/_ciq "$PREFIX/share/zsh/site-functions/_ciq" 644
    put completions/ciq.fish "$PREFIX/share/fish/vendor_completions.d/ciq.fish" 644
    for m in man/*.1; do
        put "$m" "$PREFIX/share/man/man1/$(basename "$m")" 644
    done
    put examples/ciq.toml "$PREFIX/share/ciq/ciq.toml.sample" 644
    for u in install/*.service; do
        put "$u" "$PREFIX/share/ciq/systemd/$(basename "$u")" 644
    done
    for f in contrib/sample-platform/*; do
        [ -f "$f" ] || continue
        case "$f" in *.py) m=755 ;; *) m=644 ;; esac
        put "$f" "$PREFIX/share/ciq/contrib/sample-platform/$(basename "$f")" "$m"
    done
    for m in contrib/monitoring/*; do
        put "$m" "$PREFIX/share/ciq/monitoring/$(basename "$m")" 644
    done
    record "$MANIFEST"
    install -m 644 "$MANIFEST_NEW" "$MANIFEST"
    rm -f "$MANIFEST_NEW"
    say "installed $("$PREFIX/bin/ciq" --version) to $PREFIX/bin/ciq"
    case ":$PATH:" in *":$PREFIX/bin:"*) ;; *) say "note: $PREFIX/bin is not on PATH" ;; esac
    # Completion files are only read by the bash-completion package's loader.
    if [ ! -f /usr/share/bash-completion/bash_completion ] && [ ! -f /etc/bash_completion ]; then
        say "note: bash completion needs the bash-completion package (apt-get install bash-completion), or add to ~/.bashrc: source $PREFIX/share/bash-completion/completions/ciq"
    fi
}

do_uninstall() {
    if [ ! -f "$MANIFEST" ]; then
        say "nothing to uninstall under $PREFIX (no $MANIFEST)"
        return 0
    fi
    local dirs=()
    while IFS= read -r f; do
        case "$f" in
            dir:*) dirs+=("${f#dir:}") ;;
            ?*) rm -f "$f" ;;
        esac
    done < "$MANIFEST"
    rm -f "$MANIFEST"
    # Only directories the install created, deepest first, and only when empty.
    printf '%s\n' "${dirs[@]}" | awk '{ print length($0) "\t" $0 }' | sort -rn | cut -f2- |
        while IFS= read -r d; do [ -n "$d" ] && rmdir "$d" 2>/dev/null || true; done
    say "uninstalled ciq from $PREFIX"
    # What `ciq up` creates (src/cli/up/: mod.rs, local_redis.rs, standin.rs); not ours to delete.
    local data
    if [ -n "${CIQ_DATA_DIR:-}" ]; then data=$CIQ_DATA_DIR
    elif [ -n "${XDG_DATA_HOME:-}" ]; then data=$XDG_DATA_HOME/ciq
    else data=${HOME:-~}/.local/share/ciq; fi
    say "not touched, what ciq up created (delete it yourself if no longer needed):"
    say "  $data: its Redis (AOF and redis.log), stand-in bridge and locks (or the --data-dir it was given)"
    say "  ciq-platform.db and started-tests.log: in the directory ciq up ran from (beside the database its config names)"
}

case "$MODE" in
    install) do_install ;;
    uninstall) do_uninstall ;;
    test-deps) ensure_redis; ensure_faketime; ensure_tmux; ensure_chromium; ensure_cargo; start_test_databases; ensure_platform_venv ;;
esac
