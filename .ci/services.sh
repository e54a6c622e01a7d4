#!/usr/bin/env bash
# Installs and starts what the test suite needs besides Python packages:
# Debian's chromium (browser end-to-end test) and a PostgreSQL server on loopback.
# Writes .ci/env with EVALKIT_TEST_PG_URL for the tests.  Safe to run twice (reuses a running
# cluster); meant to run as root on Debian (as another user it skips apt and runs initdb itself).
set -euo pipefail
cd "$(dirname "$0")/.."

PGROOT="${EVALKIT_CI_PG_DIR:-/tmp/evalkit-ci-pg}"   # throwaway cluster: data/, sock/, port
DB=evalkit_test
ENV_FILE=.ci/env

# ---- 1. packages (only when missing) -------------------------------------------------------
missing=()
ls -d /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || missing+=(postgresql)
[ -x /usr/bin/chromium ] || missing+=(chromium)
[ -x /usr/bin/chromedriver ] || missing+=(chromium-driver)
if [ ${#missing[@]} -gt 0 ]; then
    if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null; then
        echo "services: installing ${missing[*]}"
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -qq
        apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
    else
        echo "services: missing ${missing[*]} (not root or no apt-get); dependent tests will skip" >&2
    fi
fi

# ---- 2. a throwaway PostgreSQL cluster on 127.0.0.1 ----------------------------------------
PGBIN="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)"
if [ -z "$PGBIN" ]; then
    echo "services: no PostgreSQL found; postgres tests will skip" >&2
    rm -f "$ENV_FILE"
    exit 0
fi

if [ "$(id -u)" -eq 0 ]; then
    PGUSER_OS=postgres
    as_pg() { runuser -u postgres -- "$@"; }
else
    PGUSER_OS="$(id -un)"
    as_pg() { "$@"; }
fi

free_port() {
    python3 - <<'EOF'
import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])
s.close()
EOF
}

if [ -f "$PGROOT/port" ] && as_pg "$PGBIN/pg_ctl" -D "$PGROOT/data" status >/dev/null 2>&1; then
    PORT="$(cat "$PGROOT/port")"
    echo "services: PostgreSQL already running on 127.0.0.1:$PORT"
else
    if [ ! -f "$PGROOT/data/PG_VERSION" ]; then
        rm -rf "$PGROOT"
        mkdir -p "$PGROOT/data" "$PGROOT/sock"
        chown -R "$PGUSER_OS" "$PGROOT"
        chmod 700 "$PGROOT/data"
        as_pg "$PGBIN/initdb" -D "$PGROOT/data" -U postgres --auth=trust -E UTF8 \
            --no-sync >/dev/null
    fi
    PORT="$(free_port)"
    echo "$PORT" > "$PGROOT/port"
    # fsync off: a test cluster thrown away on reboot; speed over durability.
    as_pg "$PGBIN/pg_ctl" -D "$PGROOT/data" -l "$PGROOT/server.log" -w -t 60 \
        -o "-p $PORT -k $PGROOT/sock -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200" \
        start >/dev/null
    echo "services: PostgreSQL started on 127.0.0.1:$PORT (data in $PGROOT/data)"
fi

if ! as_pg "$PGBIN/psql" -h 127.0.0.1 -p "$PORT" -U postgres -tAc \
        "SELECT 1 FROM pg_database WHERE datname='$DB'" postgres | grep -q 1; then
    as_pg "$PGBIN/createdb" -h 127.0.0.1 -p "$PORT" -U postgres "$DB"
fi

echo "export EVALKIT_TEST_PG_URL=postgresql://postgres@127.0.0.1:$PORT/$DB" > "$ENV_FILE"
echo "services: wrote $ENV_FILE"
