#!/usr/bin/env bash
# Two throwaway PostgreSQL 15 clusters on loopback, "prod" and "preprod", loaded from testdata/.
#
#   scripts/testbed.sh start DIR   create DIR/prod and DIR/preprod, start them on two free ports (127.0.0.1 only),
#                                  create the roles, load testdata into the template database cas_template,
#                                  write DIR/env (source it) and print a one-line summary
#   scripts/testbed.sh stop DIR    stop both (fast shutdown; ignores clusters not running), then remove DIR unless
#                                  KEEP_TESTBED=1. Idempotent; always exits 0 for a valid DIR argument, so it is
#                                  safe in `trap '... stop "$DIR"' EXIT`.
#
# DIR/env exports:
#   DBREFRESH_TEST_HOST=127.0.0.1  DBREFRESH_TEST_PROD_PORT  DBREFRESH_TEST_PREPROD_PORT
#   DBREFRESH_TEST_USER=cas_admin  DBREFRESH_TEST_PASSWORD             (LOGIN CREATEDB, owns cas_template)
#   DBREFRESH_TEST_SUPERUSER=postgres  DBREFRESH_TEST_SUPERPASSWORD
#   DBREFRESH_TEST_READER=cas_reader  DBREFRESH_TEST_READER_PASSWORD   (member of pg_read_all_data)
#   DBREFRESH_TEST_TEMPLATE=cas_template  DBREFRESH_TEST_PG_BIN  DBREFRESH_TEST_DIR
#   DBREFRESH_TEST_PROD_DATA  DBREFRESH_TEST_PREPROD_DATA  (data directories = unix socket directories)
# A test makes its own databases with
#   CREATE DATABASE x TEMPLATE cas_template OWNER cas_admin      (as cas_admin or postgres, over TCP)
#
# Runs as root (the clusters then run as the `postgres` OS user) or as any non-root user (clusters run as that
# user). Environment: PG_BIN (default /usr/lib/postgresql/15/bin), TESTBED_FIRST_PORT (default 55432).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
PG_BIN="${PG_BIN:-/usr/lib/postgresql/15/bin}"
FIRST_PORT="${TESTBED_FIRST_PORT:-55432}"
SUPERUSER=postgres;   SUPERPASSWORD='Sup3r-secret-pw'
ADMIN=cas_admin;      ADMIN_PASSWORD='Adm1n-secret-pw'
READER=cas_reader;    READER_PASSWORD='Read3r-secret-pw'
TEMPLATE=cas_template
MARKER=.dbrefresh-testbed
LOCKFILE="${TMPDIR:-/tmp}/dbrefresh-testbed-ports.lock"

die() { echo "testbed: error: $*" >&2; exit 1; }
usage() { echo "usage: $0 start|stop DIR" >&2; exit 2; }
now_ms() { date +%s%3N; }
T_START=$(now_ms)
# TESTBED_VERBOSE=1 prints the time of each phase on stderr
phase() { [ "${TESTBED_VERBOSE:-0}" = "1" ] && echo "testbed: +$(( $(now_ms) - T_START )) ms: $*" >&2; return 0; }

if [ "$(id -u)" -eq 0 ]; then
  PG_OS_USER=postgres
  id "$PG_OS_USER" >/dev/null 2>&1 || die "there is no '$PG_OS_USER' OS user to run the clusters (install postgresql-15)"
  as_pg() { runuser -u "$PG_OS_USER" -- "$@"; }
else
  PG_OS_USER="$(id -un)"
  as_pg() { "$@"; }
fi

# Is anything listening on 127.0.0.1:PORT (or any address:PORT)?
port_in_use() {
  local port="$1"
  if command -v ss >/dev/null 2>&1; then
    [ -n "$(ss -Hltn "sport = :$port" 2>/dev/null)" ]
  else
    (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null
  fi
}

# Prints the first port >= $1 that nothing listens on.
free_port() {
  local port="$1"
  while [ "$port" -lt 65535 ]; do
    if ! port_in_use "$port"; then echo "$port"; return 0; fi
    port=$((port + 1))
  done
  return 1
}

stop_cluster() {
  local data="$1"
  [ -f "$data/postmaster.pid" ] || return 0
  as_pg "$PG_BIN/pg_ctl" -D "$data" stop -m fast -w -t 30 >/dev/null 2>&1 \
    || as_pg "$PG_BIN/pg_ctl" -D "$data" stop -m immediate -w -t 30 >/dev/null 2>&1 \
    || true
}

cmd_stop() {
  local dir="$1"
  [ -e "$dir" ] || return 0
  # both at once
  local c pids=()
  for c in prod preprod; do
    if [ -d "$dir/$c" ]; then stop_cluster "$dir/$c" & pids+=($!); fi
  done
  for c in "${pids[@]}"; do wait "$c" || true; done
  if [ "${KEEP_TESTBED:-0}" = "1" ]; then
    echo "testbed: stopped; kept $dir (KEEP_TESTBED=1)"
    return 0
  fi
  if [ -f "$dir/$MARKER" ]; then
    rm -rf -- "$dir"
    echo "testbed: stopped and removed $dir"
  else
    echo "testbed: warning: $dir is not a testbed directory (no $MARKER); stopped what ran there, removed nothing" >&2
  fi
  return 0
}

# postgres must be able to reach DIR: every ancestor must be searchable by it.
check_traversable() {
  local dir="$1" p
  [ "$(id -u)" -eq 0 ] || return 0
  p="$dir"
  while [ "$p" != "/" ] && [ -n "$p" ]; do
    p="$(dirname "$p")"
    if ! runuser -u "$PG_OS_USER" -- test -x "$p"; then
      die "the '$PG_OS_USER' OS user cannot enter $p (an ancestor of $dir); run 'chmod o+x $p' or choose a DIR elsewhere (e.g. under /tmp)"
    fi
  done
}

# The clusters started by this `start`, to stop them again if start fails half-way.
started=()
cleanup_on_failure() {
  local rc=$?
  if [ $rc -ne 0 ]; then
    local d
    for d in "${started[@]}"; do stop_cluster "$d"; done
    [ ${#started[@]} -eq 0 ] || echo "testbed: start failed; stopped the clusters it had started (logs kept in $DIR)" >&2
  fi
}

init_cluster() {
  local data="$1" log="$2"
  as_pg "$PG_BIN/initdb" -D "$data" -U "$SUPERUSER" -E UTF8 --locale=C.UTF-8 --no-sync \
        --auth-local=peer --auth-host=scram-sha-256 >"$log" 2>&1 \
    || { cat "$log" >&2; return 1; }
  # only loopback TCP with passwords; the unix socket (in the data directory) only for the OS user that runs
  # the cluster, as the database superuser
  as_pg sh -c "cat > '$data/pg_hba.conf'" <<EOF
# dbrefresh testbed: TYPE DATABASE USER ADDRESS METHOD
local   all   $SUPERUSER                  peer map=testbed
host    all   all         127.0.0.1/32    scram-sha-256
EOF
  as_pg sh -c "cat > '$data/pg_ident.conf'" <<EOF
# MAPNAME  SYSTEM-USERNAME  PG-USERNAME
testbed    $PG_OS_USER      $SUPERUSER
EOF
}

configure_and_start() {
  local name="$1" data="$2" port="$3"
  as_pg sh -c "cat >> '$data/postgresql.conf'" <<EOF

# dbrefresh testbed ($name): throwaway, loopback only, speed over durability
listen_addresses = '127.0.0.1'
port = $port
unix_socket_directories = '$data'
max_connections = 100
fsync = off
synchronous_commit = off
full_page_writes = off
password_encryption = 'scram-sha-256'
shared_buffers = 64MB
logging_collector = off
log_min_messages = warning
EOF
  # 9>&-: the postmaster must not inherit the port lock
  if ! as_pg "$PG_BIN/pg_ctl" -D "$data" -l "$data/server.log" -w -t 30 start >/dev/null 2>&1 9>&-; then
    echo "testbed: $name cluster failed to start on 127.0.0.1:$port (or not within 30 s); end of $data/server.log:" >&2
    tail -n 20 "$data/server.log" >&2 || true
    return 1
  fi
  started+=("$data")
  phase "$name: started on port $port"
  for _ in $(seq 1 300); do
    "$PG_BIN/pg_isready" -q -h 127.0.0.1 -p "$port" -t 1 && return 0
    sleep 0.1
  done
  echo "testbed: $name cluster on 127.0.0.1:$port does not accept connections after 30 s; end of $data/server.log:" >&2
  tail -n 20 "$data/server.log" >&2 || true
  return 1
}

# Starts cluster NAME on the first free port >= FROM; if another process takes the port between the probe
# and the bind, tries the next one (5 attempts). Sets STARTED_PORT.
start_on_free_port() {
  local name="$1" data="$2" port="$3" attempt
  for attempt in 1 2 3 4 5; do
    port=$(free_port "$port") || { echo "testbed: no free port from $3 up" >&2; return 1; }
    if configure_and_start "$name" "$data" "$port"; then STARTED_PORT=$port; return 0; fi
    grep -q 'could not bind\|could not create listen socket' "$data/server.log" 2>/dev/null || return 1
    echo "testbed: port $port was taken meanwhile (attempt $attempt), trying the next one" >&2
    port=$((port + 1))
  done
  return 1
}

# Roles, template database, testdata.
provision() {
  local name="$1" data="$2" port="$3"
  as_pg "$PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 -h "$data" -p "$port" -U "$SUPERUSER" -d postgres \
    >/dev/null <<EOF
ALTER ROLE $SUPERUSER PASSWORD '$SUPERPASSWORD';
CREATE ROLE $ADMIN LOGIN CREATEDB PASSWORD '$ADMIN_PASSWORD';
CREATE ROLE $READER LOGIN PASSWORD '$READER_PASSWORD';
GRANT pg_read_all_data TO $READER;
CREATE DATABASE $TEMPLATE OWNER $ADMIN;
\\c $TEMPLATE
ALTER SCHEMA public OWNER TO $ADMIN;
EOF
  phase "$name: roles created, loading testdata"
  PGPASSWORD="$ADMIN_PASSWORD" PSQL="$PG_BIN/psql" "$here/load-testdata.sh" "$name" \
    "host=127.0.0.1 port=$port dbname=$TEMPLATE user=$ADMIN" >"$DIR/load-$name.log" 2>&1 \
    || { cat "$DIR/load-$name.log" >&2; echo "testbed: loading testdata into $name failed" >&2; return 1; }
  phase "$name: testdata loaded"
  as_pg "$PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 -h "$data" -p "$port" -U "$SUPERUSER" -d postgres \
    -c "ALTER DATABASE $TEMPLATE IS_TEMPLATE true" >/dev/null
}

cmd_start() {
  DIR="$1"
  local t0; t0=$(now_ms)
  [ -x "$PG_BIN/initdb" ] || die "no PostgreSQL binaries in $PG_BIN (set PG_BIN or run scripts/install-deps.sh)"
  if [ -e "$DIR" ] && [ -n "$(ls -A "$DIR" 2>/dev/null)" ]; then
    die "$DIR exists and is not empty (stop the old testbed first: $0 stop $DIR)"
  fi
  mkdir -p "$DIR"
  DIR="$(cd "$DIR" && pwd)"
  touch "$DIR/$MARKER"   # from here on, `stop DIR` removes DIR
  check_traversable "$DIR"
  [ "$(id -u)" -eq 0 ] && chown "$PG_OS_USER:" "$DIR"
  chmod 0755 "$DIR"
  trap cleanup_on_failure EXIT

  local prod="$DIR/prod" preprod="$DIR/preprod"
  # unix socket path limit (sun_path, 107 bytes)
  [ ${#preprod} -le 80 ] || die "DIR path too long for a unix socket directory (${#preprod} > 80 characters): $DIR"

  phase "initdb"
  # initdb both at once
  init_cluster "$prod" "$DIR/initdb-prod.log" & local p1=$!
  init_cluster "$preprod" "$DIR/initdb-preprod.log" & local p2=$!
  local rc1=0 rc2=0
  wait $p1 || rc1=$?
  wait $p2 || rc2=$?
  if [ $rc1 -ne 0 ] || [ $rc2 -ne 0 ]; then die "initdb failed"; fi

  phase "pick ports and start"
  # pick ports and start, under a lock so that concurrent starts never pick the same port
  local prod_port preprod_port
  exec 9>>"$LOCKFILE"
  chmod 0666 "$LOCKFILE" 2>/dev/null || true
  flock -w 120 9 || die "could not take the port lock $LOCKFILE"
  start_on_free_port prod "$prod" "$FIRST_PORT" || die "prod cluster failed to start"
  prod_port=$STARTED_PORT
  start_on_free_port preprod "$preprod" $((prod_port + 1)) || die "preprod cluster failed to start"
  preprod_port=$STARTED_PORT
  flock -u 9
  exec 9>&-

  phase "provision (roles, testdata)"
  # provision both at once
  provision prod "$prod" "$prod_port" & p1=$!
  provision preprod "$preprod" "$preprod_port" & p2=$!
  rc1=0 rc2=0
  wait $p1 || rc1=$?
  wait $p2 || rc2=$?
  if [ $rc1 -ne 0 ] || [ $rc2 -ne 0 ]; then die "provisioning failed"; fi

  phase "write env"
  local q="'"
  cat > "$DIR/env" <<EOF
# dbrefresh testbed, $(date -u +%Y-%m-%dT%H:%M:%SZ): source this file
export DBREFRESH_TEST_HOST=127.0.0.1
export DBREFRESH_TEST_PROD_PORT=$prod_port
export DBREFRESH_TEST_PREPROD_PORT=$preprod_port
export DBREFRESH_TEST_USER=$ADMIN
export DBREFRESH_TEST_PASSWORD=$q$ADMIN_PASSWORD$q
export DBREFRESH_TEST_SUPERUSER=$SUPERUSER
export DBREFRESH_TEST_SUPERPASSWORD=$q$SUPERPASSWORD$q
export DBREFRESH_TEST_READER=$READER
export DBREFRESH_TEST_READER_PASSWORD=$q$READER_PASSWORD$q
export DBREFRESH_TEST_TEMPLATE=$TEMPLATE
export DBREFRESH_TEST_PG_BIN=$PG_BIN
export DBREFRESH_TEST_DIR=$q$DIR$q
export DBREFRESH_TEST_PROD_DATA=$q$prod$q
export DBREFRESH_TEST_PREPROD_DATA=$q$preprod$q
EOF
  chmod 0644 "$DIR/env"
  trap - EXIT
  echo "testbed: prod 127.0.0.1:$prod_port, preprod 127.0.0.1:$preprod_port, template $TEMPLATE (owner $ADMIN), env in $DIR/env, started in $(( $(now_ms) - t0 )) ms"
}

[ $# -eq 2 ] || usage
[ -n "$2" ] || usage
case "$1" in
  start) cmd_start "$2" ;;
  stop)  cmd_stop "$2" ;;
  *)     usage ;;
esac
