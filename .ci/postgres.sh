#!/usr/bin/env bash
# A throwaway PostgreSQL for the register tests (tests/register_backends.py).
#
#   .ci/postgres.sh start         installs Debian's postgresql if missing (as root), initialises a
#                                 cluster in a new temporary folder, starts it on 127.0.0.1 at a free
#                                 port, creates the database breach_test, and prints two lines to eval:
#                                   export BREACH_TEST_POSTGRES_URL='postgresql+psycopg://...'
#                                   export BREACH_TEST_POSTGRES_DIR='/tmp/breach-pg.XXXXXX'
#   .ci/postgres.sh stop DIR      stops that cluster and deletes DIR (only a folder this script made)
#   .ci/postgres.sh run CMD...    start, run CMD with both variables exported, stop; exits with CMD's status
#
# In a calling script (set -e stops it when start fails; start cleans up after itself):
#   pg_env=$(.ci/postgres.sh start); eval "$pg_env"
#   trap '.ci/postgres.sh stop "$BREACH_TEST_POSTGRES_DIR"' EXIT
#
# PostgreSQL refuses to run as root: as root the cluster belongs to, and runs as, the
# `postgres` user (runuser -u postgres --); otherwise it runs as the calling user. It
# accepts TCP connections on 127.0.0.1 only, with a random password (scram-sha-256);
# its Unix socket lives in the 0700 folder. Durability settings are off (fsync,
# synchronous_commit): it is a test database that is deleted afterwards.
set -euo pipefail

MARKER=.breach-test-postgres
DB=breach_test

say() { echo "postgres.sh: $*" >&2; }

bindir() {
    local dir
    dir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
    if [ -n "$dir" ] && [ -x "$dir/initdb" ]; then
        echo "$dir"
    elif command -v initdb >/dev/null 2>&1; then
        dirname "$(command -v initdb)"
    fi
}

install_if_missing() {
    if [ -n "$(bindir)" ]; then
        return
    fi
    if [ "$(id -u)" -ne 0 ]; then
        say "PostgreSQL is not installed and this is not root: install Debian's postgresql package (apt-get install postgresql)"
        exit 1
    fi
    say "installing PostgreSQL from Debian's packages"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >&2
    apt-get install -y -qq postgresql >&2
    if [ -z "$(bindir)" ]; then
        say "postgresql was installed but no initdb was found under /usr/lib/postgresql"
        exit 1
    fi
}

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

# The user the cluster runs as: postgres when we are root, else ourselves.
as_owner() {
    if [ "$(id -u)" -eq 0 ]; then
        runuser -u postgres -- "$@"
    else
        "$@"
    fi
}

stop() {
    local dir=${1:-}
    if [ -z "$dir" ]; then
        say "usage: postgres.sh stop DIR"
        exit 2
    fi
    if [ ! -e "$dir" ]; then
        return 0
    fi
    if [ ! -f "$dir/$MARKER" ]; then
        say "$dir was not made by postgres.sh start; not touching it"
        exit 1
    fi
    local bin
    bin=$(bindir)
    if [ -n "$bin" ] && [ -f "$dir/data/postmaster.pid" ]; then
        as_owner "$bin/pg_ctl" -D "$dir/data" -m fast -w -t 60 stop >/dev/null 2>&1 ||
            as_owner "$bin/pg_ctl" -D "$dir/data" -m immediate -w -t 30 stop >/dev/null 2>&1 || true
    fi
    rm -rf "$dir"
    say "stopped PostgreSQL and removed $dir"
}

start() {
    install_if_missing
    local bin password port started=""
    bin=$(bindir)
    PG_DIR=$(mktemp -d /tmp/breach-pg.XXXXXX)  # global: the EXIT trap below runs after this function returns
    local dir=$PG_DIR
    touch "$dir/$MARKER"
    # On any failure from here on: stop what was started and remove the folder.
    trap 'status=$?; if [ $status -ne 0 ]; then [ -f "$PG_DIR/postgres.log" ] && tail -n 20 "$PG_DIR/postgres.log" >&2; stop "$PG_DIR"; fi' EXIT
    if [ "$(id -u)" -eq 0 ]; then
        id postgres >/dev/null 2>&1 || { say "the postgres user does not exist (is Debian's postgresql package installed?)"; exit 1; }
        chown postgres: "$dir"
    fi
    chmod 0700 "$dir"
    password=$(od -An -tx1 -N16 /dev/urandom | tr -d ' \n')
    printf '%s\n' "$password" >"$dir/pwfile"
    [ "$(id -u)" -eq 0 ] && chown postgres: "$dir/pwfile"
    as_owner "$bin/initdb" -D "$dir/data" -U postgres --pwfile="$dir/pwfile" -E UTF8 --locale=C \
        --auth-local=trust --auth-host=scram-sha-256 >"$dir/initdb.log" 2>&1 || { cat "$dir/initdb.log" >&2; exit 1; }
    rm -f "$dir/pwfile"
    for _ in 1 2 3 4 5; do
        port=$(free_port)
        if as_owner "$bin/pg_ctl" -D "$dir/data" -l "$dir/postgres.log" -w -t 60 -o \
            "-c listen_addresses=127.0.0.1 -c port=$port -c unix_socket_directories=$dir -c max_connections=200 -c fsync=off -c synchronous_commit=off -c full_page_writes=off" \
            start >/dev/null 2>&1; then
            started=yes
            break
        fi
        say "could not start on port $port; trying another"
    done
    if [ -z "$started" ]; then
        say "PostgreSQL did not start"
        exit 1
    fi
    as_owner "$bin/psql" -X -q -v ON_ERROR_STOP=1 -h "$dir" -p "$port" -U postgres -d postgres -c "CREATE DATABASE $DB" >&2
    local url="postgresql+psycopg://postgres:$password@127.0.0.1:$port/$DB"
    say "PostgreSQL $("$bin/postgres" --version | awk '{print $3}') on 127.0.0.1:$port, database $DB, folder $dir"
    trap - EXIT
    printf "export BREACH_TEST_POSTGRES_URL='%s'\n" "$url"
    printf "export BREACH_TEST_POSTGRES_DIR='%s'\n" "$dir"
}

run() {
    local env
    env=$(start)
    eval "$env"
    trap 'stop "$BREACH_TEST_POSTGRES_DIR"' EXIT
    local status=0
    "$@" || status=$?
    exit "$status"
}

case "${1:-}" in
    start) start ;;
    stop) stop "${2:-}" ;;
    run)
        shift
        [ $# -gt 0 ] || { say "usage: postgres.sh run CMD..."; exit 2; }
        run "$@"
        ;;
    *)
        say "usage: postgres.sh start | stop DIR | run CMD..."
        exit 2
        ;;
esac
