#!/usr/bin/env bash
# Loads dbrefresh's testdata into an (empty) database, the way the service's Flyway would have built it.
#
#   scripts/load-testdata.sh prod|preprod CONNINFO             build a fresh database: migrations + data
#   scripts/load-testdata.sh --migrate prod|preprod CONNINFO   "flyway migrate": apply only the migrations whose
#                                                               version flyway_schema_history lacks, no data
#                                                               (e.g. re-applying preprod's newer migrations
#                                                               after a refresh from prod: a post-restore command)
#
#   prod    : testdata/migrations/common/*.sql, then testdata/data/reference.sql + testdata/data/prod.sql
#   preprod : testdata/migrations/common/*.sql, then testdata/migrations/preprod/*.sql (applied AFTER all
#             common ones, so the out-of-order one gets a later installed_rank, as Flyway outOfOrder does),
#             then testdata/data/reference.sql + testdata/data/preprod.sql
#
# Migrations are ordered as Flyway orders versions: split on '.' and '_', each part compared as an integer
# (never as a string: 20240923113600 < 2024031509300012). Each one runs in its own transaction together with
# its flyway_schema_history row. A migration whose file contains the line "-- testdata:expect-failure" is
# expected to fail: it is rolled back and recorded with success = false.
#
# CONNINFO is a libpq connection string or URI. Give the password with PGPASSWORD (or .pgpass, or inside
# CONNINFO); it is never printed.
#
# Environment: PSQL (default /usr/lib/postgresql/15/bin/psql, else psql on PATH);
#              DBREFRESH_TESTDATA_PROD_USERS (optional, prod.sql's user count, default 300 — for benchmarks;
#              testdata/expected.json describes the default only).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
testdata="$(cd "$here/../testdata" && pwd)"

die() { echo "load-testdata: error: $*" >&2; exit 1; }
redact() { sed -E "s/(password[[:space:]]*=[[:space:]]*)('[^']*'|[^[:space:]]*)/\1***/g; s#(://[^:/@]*:)[^@]*@#\1***@#"; }

usage() { echo "usage: $0 [--migrate] prod|preprod CONNINFO" >&2; exit 2; }
migrate_only=0
if [ "${1:-}" = "--migrate" ]; then migrate_only=1; shift; fi
[ $# -eq 2 ] || usage
side="$1"
conninfo="$2"
case "$side" in prod|preprod) ;; *) usage ;; esac
errfile="$(mktemp "${TMPDIR:-/tmp}/load-testdata.XXXXXX")"
trap 'rm -f "$errfile"' EXIT

if [ -z "${PSQL:-}" ]; then
  if [ -x /usr/lib/postgresql/15/bin/psql ]; then PSQL=/usr/lib/postgresql/15/bin/psql; else PSQL=psql; fi
fi
where="$(printf '%s' "$conninfo" | redact)"

psql_() { "$PSQL" "$conninfo" -X -q -v ON_ERROR_STOP=1 "$@"; }

now_ms() { date +%s%3N; }

# Prints the files of a directory in Flyway version order.
flyway_order() {
  local dir="$1" f
  for f in "$dir"/V*__*.sql; do
    [ -e "$f" ] || continue
    local base="${f##*/}"
    local version="${base#V}"; version="${version%%__*}"
    printf '%s\t%s\n' "$version" "$f"
  done | awk -F'\t' '
    {
      n = split($1, parts, /[._]/)
      key = ""
      for (i = 1; i <= n; i++) {
        p = parts[i]
        if (p !~ /^[0-9]+$/) { print "load-testdata: error: version part \"" p "\" is not a number: " $2 > "/dev/stderr"; exit 1 }
        sub(/^0+/, "", p)
        if (length(p) > 40) { print "load-testdata: error: version part too long: " $2 > "/dev/stderr"; exit 1 }
        key = key sprintf("%40s", p) "."
      }
      gsub(/ /, "0", key)
      print key "\t" $2
    }' | LC_ALL=C sort -t"$(printf '\t')" -k1,1 | cut -f2-
}

start_ms=$(now_ms)

"$PSQL" "$conninfo" -X -q -At -c 'SELECT 1' >/dev/null 2>&1 \
  || { "$PSQL" "$conninfo" -X -q -At -c 'SELECT 1' 2>&1 | redact >&2 || true; die "cannot connect to $where"; }

exists=$(psql_ -At -c "SELECT to_regclass('flyway_schema_history') IS NOT NULL")
if [ "$migrate_only" -eq 0 ] && [ "$exists" = "t" ]; then
  die "$where already has a flyway_schema_history table; load into an empty database (or use --migrate)"
fi

# The table Flyway creates (PostgreSQL flavour).
[ "$exists" = "t" ] || psql_ <<'SQL'
CREATE TABLE flyway_schema_history (
    installed_rank integer                 NOT NULL,
    version        character varying(50),
    description    character varying(200)  NOT NULL,
    type           character varying(20)   NOT NULL,
    script         character varying(1000) NOT NULL,
    checksum       integer,
    installed_by   character varying(100)  NOT NULL,
    installed_on   timestamp without time zone NOT NULL DEFAULT now(),
    execution_time integer                 NOT NULL,
    success        boolean                 NOT NULL
);
ALTER TABLE flyway_schema_history ADD CONSTRAINT flyway_schema_history_pk PRIMARY KEY (installed_rank);
CREATE INDEX flyway_schema_history_s_idx ON flyway_schema_history (success);
SQL

dirs=("$testdata/migrations/common")
[ "$side" = preprod ] && dirs+=("$testdata/migrations/preprod")

rank=$(psql_ -At -c 'SELECT coalesce(max(installed_rank), 0) FROM flyway_schema_history')
applied=0 failed=0 skipped=0
# versions already recorded (successful or failed) are not applied again
recorded=$'\n'"$(psql_ -At -c 'SELECT version FROM flyway_schema_history WHERE version IS NOT NULL')"$'\n'

# psql backslash-command argument quoting
pq() { local s="${1//\\/\\\\}"; s="${s//\'/\'\'}"; printf "'%s'" "$s"; }

# Consecutive migrations run in one psql session (one transaction each, with their history row), which is
# much faster than one connection per file; a migration expected to fail runs on its own.
batch=""
batch_count=0
flush_batch() {
  [ "$batch_count" -gt 0 ] || return 0
  if ! printf '%s' "$batch" | psql_ -f - 2>"$errfile"; then
    redact < "$errfile" >&2
    die "a migration failed on $where (see the psql error above)"
  fi
  applied=$((applied + batch_count))
  batch="" batch_count=0
}

for dir in "${dirs[@]}"; do
  files="$(flyway_order "$dir")" || die "cannot order the migrations in $dir"
  while IFS= read -r file; do
    [ -n "$file" ] || continue
    script="${file##*/}"
    version="${script#V}"; version="${version%%__*}"
    if [[ "$recorded" == *$'\n'"$version"$'\n'* ]]; then skipped=$((skipped + 1)); continue; fi
    rank=$((rank + 1))
    description="${script#*__}"; description="${description%.sql}"; description="${description//_/ }"
    crc=$(cksum < "$file" | cut -d' ' -f1)
    [ "$crc" -gt 2147483647 ] && crc=$((crc - 4294967296))

    if ! grep -q '^-- testdata:expect-failure' "$file"; then
      batch+="\\set rank $rank
\\set checksum $crc
\\set version $(pq "$version")
\\set description $(pq "$description")
\\set script $(pq "$script")
BEGIN;
SELECT clock_timestamp() AS flyway_t0 \\gset
\\i $(pq "$file")
INSERT INTO flyway_schema_history
  (installed_rank, version, description, type, script, checksum, installed_by, execution_time, success)
VALUES (:rank, :'version', :'description', 'SQL', :'script', :checksum, current_user,
        (extract(epoch FROM clock_timestamp() - :'flyway_t0'::timestamptz) * 1000)::integer, true)
RETURNING execution_time AS flyway_ms \\gset
COMMIT;
\\echo load-testdata: $side: applied  V:version (:script, :flyway_ms ms)
"
      batch_count=$((batch_count + 1))
      continue
    fi

    # expected to fail: on its own, rolled back, then recorded with success = false
    flush_batch
    t0=$(now_ms)
    if { echo 'BEGIN;'; printf '\\i %s\n' "$(pq "$file")"; echo 'COMMIT;'; } | psql_ -f - >/dev/null 2>"$errfile"; then
      die "$script was expected to fail but succeeded on $where"
    fi
    ms=$(( $(now_ms) - t0 ))
    psql_ -v rank="$rank" -v version="$version" -v description="$description" \
          -v script="$script" -v checksum="$crc" -v ms="$ms" >/dev/null <<'SQL'
INSERT INTO flyway_schema_history
  (installed_rank, version, description, type, script, checksum, installed_by, execution_time, success)
VALUES (:rank, :'version', :'description', 'SQL', :'script', :checksum, current_user, :ms, false);
SQL
    failed=$((failed + 1))
    echo "load-testdata: $side: FAILED   V$version ($script, expected; recorded with success=false: $(grep -m1 ERROR "$errfile" | sed 's/^.*ERROR: *//'))"
  done <<< "$files"
done
flush_batch

if [ "$migrate_only" -eq 1 ]; then
  echo "load-testdata: $side: migrate: $applied applied, $failed failed (expected), $skipped already recorded, on $where in $(( $(now_ms) - start_ms )) ms"
  exit 0
fi

data_vars=()
[ -n "${DBREFRESH_TESTDATA_PROD_USERS:-}" ] && data_vars=(-v "prod_users=${DBREFRESH_TESTDATA_PROD_USERS}")
psql_ -1 "${data_vars[@]}" -f "$testdata/data/reference.sql" -f "$testdata/data/$side.sql" >/dev/null \
  || die "loading testdata/data/$side.sql into $where failed"
psql_ -c 'SET client_min_messages = error' -c 'ANALYZE' >/dev/null

users=$(psql_ -At -c 'SELECT count(*) FROM users')
echo "load-testdata: $side: $applied migrations applied, $failed failed (expected), $users users, into $where in $(( $(now_ms) - start_ms )) ms"
