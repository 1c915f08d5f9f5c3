#!/usr/bin/env bash
# The demo on the embedded default: two throwaway PostgreSQL clusters on 127.0.0.1 ("prod" and
# "preprod", built from testdata/ with every known failure present), today's job failing on a copy
# of preprod, then dbrefresh preflight and refresh between them. Stops the clusters at the end
# unless --keep is given (then it prints how to reach them).
set -euo pipefail
cd "$(dirname "$0")/.."
keep=0
[ "${1:-}" = "--keep" ] && keep=1

scripts/install-deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j "$(nproc)" --target dbrefresh

work=$(mktemp -d /tmp/dbrefresh-demo.XXXXXX)
chmod 755 "$work"
cleanup() {
  if [ "$keep" -eq 1 ]; then
    echo "clusters kept: source $work/bed/env; stop with scripts/testbed.sh stop $work/bed"
  else
    scripts/testbed.sh stop "$work/bed"
    rm -rf "$work"
  fi
}
trap cleanup EXIT
scripts/testbed.sh start "$work/bed"
# shellcheck disable=SC1091
source "$work/bed/env"

superuser() {  # superuser() PORT SQL
  PGPASSWORD="$DBREFRESH_TEST_SUPERPASSWORD" psql -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$1" -U postgres -d postgres -c "$2"
}
superuser "$DBREFRESH_TEST_PROD_PORT" "CREATE DATABASE cas_prod TEMPLATE cas_template OWNER cas_admin"
superuser "$DBREFRESH_TEST_PREPROD_PORT" "CREATE DATABASE cas_preprod TEMPLATE cas_template OWNER cas_admin"
superuser "$DBREFRESH_TEST_PREPROD_PORT" "CREATE DATABASE cas_preprod_today TEMPLATE cas_template OWNER cas_admin"

# Passwords never travel on a command line: here in a password file (libpq's .pgpass format), which
# the post-restore command below can read too (dbrefresh gives it no password of its own).
umask 077
printf '127.0.0.1:*:*:cas_admin:%s\n' "$DBREFRESH_TEST_PASSWORD" > "$work/pgpass"
export PGPASSFILE="$work/pgpass"
unset PGPASSWORD
source_url="host=127.0.0.1 port=$DBREFRESH_TEST_PROD_PORT dbname=cas_prod user=cas_admin"
target_url="host=127.0.0.1 port=$DBREFRESH_TEST_PREPROD_PORT dbname=cas_preprod user=cas_admin"
today_url="host=127.0.0.1 port=$DBREFRESH_TEST_PREPROD_PORT dbname=cas_preprod_today user=cas_admin"

count_people() {  # count_people CONNINFO
  psql -X -At "$1" -c "SELECT format('users=%s roles=%s qualifications=%s',
      (SELECT count(*) FROM users), (SELECT count(*) FROM user_role_assignments),
      (SELECT count(*) FROM user_qualification_assignments))"
}

echo
echo "=== 1. Today's job, on a copy of preprod ($(count_people "$today_url") before)"
mkdir -p "$work/today"
set +e
scripts/current-job.sh "$source_url" "$today_url" "$work/today" >"$work/today/log" 2>&1
today_rc=$?
set -e
grep -m3 -E 'cannot drop table|errors ignored' "$work/today/log" || true
echo "today's job exited $today_rc; preprod now has $(count_people "$today_url") — pg_restore failed and the people are not what they were"

echo
echo "=== 2. dbrefresh preflight"
set +e
build/dbrefresh preflight --source "$source_url" --target "$target_url"
echo "(preflight exit code $?)"
set -e

echo
echo "=== 3. dbrefresh refresh (preprod before: $(count_people "$target_url"))"
set +e
# After the restore, re-apply preprod's newer migrations (what the service's Flyway does on a
# rollout restart), so the second restore-users fills their columns back from the snapshot.
build/dbrefresh refresh --source "$source_url" --target "$target_url" --confirm-target cas_preprod \
  --snapshot-dir "$work/snapshots" --report "$work/report.json" \
  --post-restore-command "$PWD/scripts/load-testdata.sh,--migrate,preprod,$target_url"
rc=$?
set -e
echo "dbrefresh refresh exited $rc; preprod now has $(count_people "$target_url")"
echo "preprod people whose cas1_cru_management_area_id (a newer-migration column) came back from the snapshot: $(psql -X -At "$target_url" \
  -c "SELECT count(*) FROM users WHERE cas1_cru_management_area_id IS NOT NULL")"
echo "files kept for the run:"
ls -l "$work/snapshots" 2>/dev/null || true
exit "$rc"
