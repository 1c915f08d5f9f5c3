#!/usr/bin/env bash
# dbrefresh benchmarks (SPEC section 10, issue 6): dbrefresh side by side with the bare tools, as ratios.
#
#   scripts/bench.sh [--scale N] [--rss-scale M] [--pairs K] [--out results.json] [--skip-refresh]
#                    [--refresh-baselines] [--skip-current-job] [--only-refresh] [--keep] [--dbrefresh PATH]
#
# Starts its own throwaway test bed (scripts/testbed.sh, in a temp dir, stopped on exit), generates
# reproducible data (scripts/bench/gen-users.sql, gen-padding.sql), then runs, interleaved A B A B with K pairs
# (default 3, at least 3), and prints medians and ratios:
#   (a) snapshot       `dbrefresh snapshot --target T --out F`
#                      vs one `psql -c "\copy (select * from T) to FILE"` per table, in one psql invocation
#   (b) restore-users  `dbrefresh restore-users F --target E` into a database without those people
#                      vs `psql -1 -c "\copy T from FILE"` for the three tables into the same kind of database
#                      (E is recreated before every run, untimed, from a template with the three tables empty)
#   (c) refresh        `dbrefresh refresh --source P --target Q --confirm-target Q` vs scripts/current-job.sh
#                      vs `pgcopydb clone` (into an empty database: pgcopydb neither clears nor keeps users).
#                      P: prod schema, the users at --scale plus a padding table (bench_padding); Q: a copy of
#                      the preprod benchmark database in the weekly steady state (SPEC section 10, issue 15:
#                      preprod schema with its blocking objects; prod's users minus the newest 1%, 1% lacking a
#                      role granted since, 1% with older names, plus 300 people of its own with roles and
#                      qualifications; scripts/bench/gen-users.sql), recreated before every run, untimed.
#                      Each round also times the first refresh (contender dbrefresh_first: Q holds only its
#                      own 300 people) against the same pgcopydb run. One more refresh with
#                      --strategy swap; the unavailable window (clear .. restore-users, or the swap alone) comes
#                      from the --report files. Skipped, with a message, while
#                      `dbrefresh refresh` still says "not implemented yet" (or with --skip-refresh); with
#                      --refresh-baselines the two baselines are then still timed, to show what refresh must beat.
#   (d) peak RSS       of every dbrefresh command (/usr/bin/time -v, "Maximum resident set size"), at --scale
#                      and at --rss-scale (default: a quarter of --scale), to show memory is flat in the rows.
# Every timed run also records its CPU work: seconds used by prod's server and preprod's server (their live
# processes and the backends that ended, from /proc) and by the command with its children; for (c) the medians
# are printed, as core-seconds and busy cores. The servers and the commands share the machine's cores, so once
# they are saturated the wall time follows this work.
# (a) and (b) use the weekly preprod too: its snapshot carries nearly all of prod's people.
# --only-refresh runs (c) alone (with the refresh at the second scale of (d)), to re-measure it quickly.
# Then one more, untimed, restore-users and snapshot with the server logging every statement's duration and
# auto_explain (ANALYZE, BUFFERS) for statements over 200 ms: where the time goes (the "breakdown" in the JSON).
#
# Scale: --scale 1 is SPEC section 10's size: 200,000 users, 1,000,000 user_role_assignments, 400,000
# user_qualification_assignments, and a prod database padded to about 1.2 GB for refresh. The default, 0.25
# (50,000 users, a 0.3 GB prod database), takes about 8 minutes on 2 cores, 3 with --skip-refresh; scale 1 takes
# about 40 minutes (48 with --rss-scale 4), half of it today's job (its row-by-row re-insert of the users
# takes 5 to 8 minutes a run); --skip-current-job leaves today's job out of (c), to re-measure refresh against
# pgcopydb alone.
# Targets (issue 6): snapshot <= 1.2x the bare COPY out; restore-users <= 2x the bare COPY in; refresh faster
# than today's job and <= 1.2x pgcopydb; peak RSS < 100 MB and flat (at most 1.25x from the smaller scale to
# the larger one).
#
# Writes --out (default bench-results.json) and prints a table. Passwords come from the test bed's env file
# through PGPASSWORD, never on a command line and never printed. Needs: PostgreSQL 15 (scripts/install-deps.sh),
# python3, /usr/bin/time; pgcopydb for (c) (installed with apt-get when missing and running as root).
# The machine's load (another build, say) is recorded at the start and the end: compare runs with that in mind.
# The dbrefresh binary is copied into the work directory first, so a rebuild during the run changes nothing.
# --keep keeps the work directory (logs of every run, server log slices, refresh reports) for a closer look.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/.." && pwd)"

SCALE=0.25
RSS_SCALE=""
PAIRS=3
OUT=bench-results.json
SKIP_REFRESH=0
SKIP_CURRENT_JOB=0
ONLY_REFRESH=0
REFRESH_BASELINES=0
KEEP=0
DBREFRESH="${DBREFRESH:-$root/build/dbrefresh}"

usage() {
  sed -n '2,4p' "$0" | sed 's/^# \{0,1\}//' >&2
  exit 2
}
die() { echo "bench: error: $*" >&2; exit 1; }
say() { echo "bench: $*" >&2; }

while [ $# -gt 0 ]; do
  case "$1" in
    --scale) SCALE="${2:?}"; shift 2 ;;
    --rss-scale) RSS_SCALE="${2:?}"; shift 2 ;;
    --pairs) PAIRS="${2:?}"; shift 2 ;;
    --out) OUT="${2:?}"; shift 2 ;;
    --skip-refresh) SKIP_REFRESH=1; shift ;;
    --skip-current-job) SKIP_CURRENT_JOB=1; shift ;;
    --only-refresh) ONLY_REFRESH=1; shift ;;
    --refresh-baselines) REFRESH_BASELINES=1; shift ;;
    --keep) KEEP=1; shift ;;
    --dbrefresh) DBREFRESH="${2:?}"; shift 2 ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) usage ;;
  esac
done

is_number() { [[ "$1" =~ ^[0-9]+(\.[0-9]+)?$|^\.[0-9]+$ ]]; }
is_number "$SCALE" || die "--scale must be a positive number (got '$SCALE')"
[ -n "$RSS_SCALE" ] || RSS_SCALE=$(python3 -c "print(repr(float('$SCALE') / 4))")
is_number "$RSS_SCALE" || die "--rss-scale must be a positive number (got '$RSS_SCALE')"
if ! [[ "$PAIRS" =~ ^[0-9]+$ ]] || [ "$PAIRS" -lt 3 ]; then die "--pairs must be an integer >= 3 (got '$PAIRS')"; fi
[ -x "$DBREFRESH" ] || die "no dbrefresh binary at $DBREFRESH (build it, or give --dbrefresh PATH)"
[ -x /usr/bin/time ] || die "/usr/bin/time is missing (apt-get install time)"
command -v python3 >/dev/null || die "python3 is missing"
case "$OUT" in /*) ;; *) OUT="$PWD/$OUT" ;; esac

users_at() { python3 -c "print(max(1, round(200000 * float('$1'))))"; }
# bench_padding rows: about 0.85 GB at scale 1 (the user tables bring the rest to about 1.1 GB)
padding_at() { python3 -c "print(max(1, round(3400000 * float('$1'))))"; }
USERS=$(users_at "$SCALE")
RSS_USERS=$(users_at "$RSS_SCALE")

now_ns() { date +%s%N; }
T_SCRIPT=$(now_ns)

# ---------------------------------------------------------------------------------------------------------
# Test bed
WORK="$(mktemp -d "${TMPDIR:-/tmp}/dbrefresh-bench.XXXXXX")"
chmod 0755 "$WORK"
BED="$WORK/bed"
cleanup() {
  local rc=$?
  if [ -f "$BED/env" ] || [ -d "$BED" ]; then "$root/scripts/testbed.sh" stop "$BED" >/dev/null 2>&1 || true; fi
  if [ "$KEEP" = "1" ]; then say "kept the work directory $WORK (--keep)"; else rm -rf -- "$WORK"; fi
  exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Pin the binary: another build may replace build/dbrefresh while the benchmark runs; every run uses this copy.
cp "$DBREFRESH" "$WORK/dbrefresh"
DBREFRESH_ORIGIN="$DBREFRESH"
DBREFRESH="$WORK/dbrefresh"
"$DBREFRESH" --version >/dev/null 2>&1 || die "the copy of $DBREFRESH_ORIGIN does not run (caught mid-build? try again)"

say "scale $SCALE ($USERS users), rss scale $RSS_SCALE ($RSS_USERS users), $PAIRS pairs, $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)"
say "starting a test bed in $BED"
"$root/scripts/testbed.sh" start "$BED" >&2
# shellcheck disable=SC1091
source "$BED/env"
PG_BIN="$DBREFRESH_TEST_PG_BIN"
export PATH="$PG_BIN:$PATH"
H="$DBREFRESH_TEST_HOST"
PROD_PORT="$DBREFRESH_TEST_PROD_PORT"
PRE_PORT="$DBREFRESH_TEST_PREPROD_PORT"
ADMIN="$DBREFRESH_TEST_USER"
# libpq reads the password from PGPASSWORD: the admin's for everything but the superuser's calls (su_psql).
export PGPASSWORD="$DBREFRESH_TEST_PASSWORD"
unset DBREFRESH_TARGET_URL DBREFRESH_SOURCE_URL PGSERVICE PGDATABASE PGUSER PGHOST PGPORT 2>/dev/null || true

conn() { echo "host=$H port=$1 dbname=$2 user=$ADMIN"; }          # keywords, no password
uri() { echo "postgresql://$ADMIN@$H:$1/$2"; }                      # for pgcopydb, no password
su_psql() { local port="$1" db="$2"; shift 2
  PGPASSWORD="$DBREFRESH_TEST_SUPERPASSWORD" PGOPTIONS="-c client_min_messages=warning" "$PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 -h "$H" -p "$port" \
    -U "$DBREFRESH_TEST_SUPERUSER" -d "$db" "$@"; }
ad_psql() { local port="$1" db="$2"; shift 2; "$PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 "$(conn "$port" "$db")" "$@"; }

# fresh_db PORT NAME TEMPLATE: drop NAME (ending its sessions) and create it again as a copy of TEMPLATE
fresh_db() {
  su_psql "$1" postgres -c "DROP DATABASE IF EXISTS $2 WITH (FORCE)" \
    -c "CREATE DATABASE $2 TEMPLATE $3 OWNER $ADMIN" >/dev/null
}
drop_db() { su_psql "$1" postgres -c "DROP DATABASE IF EXISTS $2 WITH (FORCE)" >/dev/null; }
checkpoint_both() { su_psql "$PROD_PORT" postgres -c CHECKPOINT; su_psql "$PRE_PORT" postgres -c CHECKPOINT; }
db_bytes() { su_psql "$1" postgres -At -c "SELECT pg_database_size('$2')"; }

# ---------------------------------------------------------------------------------------------------------
# Measurements: one line per run in runs.tsv: section, contender, pair, scale, seconds, max RSS kB, exit code
RUNS="$WORK/runs.tsv"
META="$WORK/meta.tsv"
: > "$RUNS"; : > "$META"
meta() { printf '%s\t%s\n' "$1" "$2" >> "$META"; }
meta nproc "$(nproc)"
meta load_start "$(cut -d' ' -f1-3 /proc/loadavg)"
meta scale "$SCALE"; meta rss_scale "$RSS_SCALE"; meta pairs "$PAIRS"
meta users "$USERS"; meta rss_users "$RSS_USERS"
meta dbrefresh "$DBREFRESH_ORIGIN"; meta dbrefresh_mtime "$(date -u -r "$DBREFRESH_ORIGIN" +%Y-%m-%dT%H:%M:%SZ)"
meta dbrefresh_sha256 "$(sha256sum "$DBREFRESH" | cut -c1-16)"; meta dbrefresh_version "$("$DBREFRESH" --version 2>&1 | head -1)"
meta postgres_version "$(su_psql "$PRE_PORT" postgres -At -c 'SHOW server_version')"
meta cpu "$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')"
meta mem_total_kb "$(awk '/MemTotal/ {print $2}' /proc/meminfo)"
meta started_at "$(date -u +%Y-%m-%dT%H:%M:%SZ)"

LAST_SECONDS=""; LAST_RC=0; LAST_RSS_KB=0
# timed SECTION CONTENDER PAIR SCALE LOGNAME COMMAND...: runs COMMAND under /usr/bin/time -v, stdout and stderr
# to $WORK/logs/LOGNAME.{out,err}; records the wall time (own clock, ns) and the peak RSS.
mkdir -p "$WORK/logs"
# server_cpu_ticks DATA_DIR: the CPU time (clock ticks) a cluster's processes have used so far: its
# live processes, plus the postmaster's cutime/cstime, where the backends that have ended are counted.
server_cpu_ticks() {
  local pm total=0 child f
  pm=$(head -1 "$1/postmaster.pid" 2>/dev/null) || { echo 0; return; }
  read -r -a f < "/proc/$pm/stat" 2>/dev/null || { echo 0; return; }
  total=$(( f[13] + f[14] + f[15] + f[16] ))
  for child in $(pgrep -P "$pm"); do
    read -r -a f < "/proc/$child/stat" 2>/dev/null && total=$(( total + f[13] + f[14] ))
  done
  echo "$total"
}
TICKS=$(getconf CLK_TCK)
timed() {
  local section="$1" who="$2" pair="$3" scale="$4" name="$5"; shift 5
  local tfile="$WORK/logs/$name.time" t0 t1 rc=0 p0 q0 p1 q1 cpu
  p0=$(server_cpu_ticks "$DBREFRESH_TEST_PROD_DATA"); q0=$(server_cpu_ticks "$DBREFRESH_TEST_PREPROD_DATA")
  t0=$(now_ns)
  /usr/bin/time -v -o "$tfile" "$@" > "$WORK/logs/$name.out" 2> "$WORK/logs/$name.err" || rc=$?
  t1=$(now_ns)
  # The command's backends end just after it does; read once the postmasters have reaped them (one read
  # taken while a backend was being reaped missed all of its CPU).
  sleep 0.3
  p1=$(server_cpu_ticks "$DBREFRESH_TEST_PROD_DATA"); q1=$(server_cpu_ticks "$DBREFRESH_TEST_PREPROD_DATA")
  LAST_SECONDS=$(python3 -c "print(f'{($t1 - $t0) / 1e9:.3f}')")
  LAST_RC=$rc
  LAST_RSS_KB=$(awk -F': ' '/Maximum resident set size/ {print $2}' "$tfile" 2>/dev/null || echo 0)
  # CPU seconds: prod's server, preprod's server, the command with its children (pg_dump, pg_restore, ...)
  cpu=$(awk -F': ' -v p=$(( p1 - p0 )) -v q=$(( q1 - q0 )) -v hz="$TICKS" \
    '/User time|System time/ {c += $2} END {printf "%.2f\t%.2f\t%.2f", p / hz, q / hz, c}' "$tfile" 2>/dev/null)
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$section" "$who" "$pair" "$scale" "$LAST_SECONDS" "${LAST_RSS_KB:-0}" "$rc" \
    "$cpu" >> "$RUNS"
  say "  $section/$who pair $pair: ${LAST_SECONDS}s, peak RSS $(( ${LAST_RSS_KB:-0} / 1024 )) MB, exit $rc," \
    "CPU s prod/preprod/command $(echo "$cpu" | tr '\t' '/')"
  return 0
}
# The last lines of a run's stderr, for a failure message (connection strings there hold no password).
tail_err() { tail -n 5 "$WORK/logs/$1.err" | sed 's/^/    /' >&2; }
# cmd_text WORDS...: a command line as text for the results (no password is ever in one)
cmd_text() {
  local s="" a q="'"
  for a in "$@"; do
    if [[ "$a" =~ ^[A-Za-z0-9_./:=@%+,-]+$ ]]; then s+="$a "; else s+="$q${a//$q/$q\\$q$q}$q "; fi
  done
  echo "${s% }"
}

# ---------------------------------------------------------------------------------------------------------
# Data
gen_preprod() { # gen_preprod DB USERS SHAPE: DB on preprod = cas_template (preprod schema), prod's USERS users
  # in SHAPE (weekly or first, see gen-users.sql)
  fresh_db "$PRE_PORT" "$1" cas_template
  su_psql "$PRE_PORT" "$1" -v users="$2" -v shape="$3" -f "$here/bench/gen-users.sql" >/dev/null
}
gen_prod() { # gen_prod DB USERS SCALE: DB on prod = cas_template (prod schema), USERS users, padding
  fresh_db "$PROD_PORT" "$1" cas_template
  su_psql "$PROD_PORT" "$1" -v users="$2" -v shape=prod -f "$here/bench/gen-users.sql" >/dev/null
  ad_psql "$PROD_PORT" "$1" -v rows="$(padding_at "$3")" -f "$here/bench/gen-padding.sql" >/dev/null
}
gen_empty() { # gen_empty DB: DB on preprod = cas_template with the three user tables empty
  fresh_db "$PRE_PORT" "$1" cas_template
  su_psql "$PRE_PORT" "$1" -c "SET client_min_messages = warning" \
    -c "TRUNCATE users, user_role_assignments, user_qualification_assignments CASCADE" >/dev/null
}

T0=$(now_ns)
say "generating data: bench_pre (weekly, $USERS users), bench_pre_first, bench_pre_rss ($RSS_USERS users), bench_empty"
gen_preprod bench_pre "$USERS" weekly
gen_preprod bench_pre_first "$USERS" first
gen_preprod bench_pre_rss "$RSS_USERS" weekly
gen_empty bench_empty
meta gen_seconds_preprod "$(python3 -c "print(f'{($(now_ns) - $T0) / 1e9:.1f}')")"
for t in users user_role_assignments user_qualification_assignments; do
  meta "rows_$t" "$(ad_psql "$PRE_PORT" bench_pre -At -c "SELECT count(*) FROM $t")"
  meta "rss_rows_$t" "$(ad_psql "$PRE_PORT" bench_pre_rss -At -c "SELECT count(*) FROM $t")"
done
meta bytes_bench_pre "$(db_bytes "$PRE_PORT" bench_pre)"
meta bytes_three_tables "$(ad_psql "$PRE_PORT" bench_pre -At -c "SELECT sum(pg_total_relation_size(c)) FROM unnest(ARRAY['users','user_role_assignments','user_qualification_assignments']::regclass[]) c")"

TABLES=(users user_role_assignments user_qualification_assignments)
SNAP="$WORK/snap"
mkdir -p "$SNAP"

if [ "$ONLY_REFRESH" = 1 ]; then
  say "(a), (b), (d) and the breakdown: skipped (--only-refresh)"
else
# ---------------------------------------------------------------------------------------------------------
# (a) snapshot vs psql \copy ... to
copy_out_args() { # copy_out_args DIR: the -c arguments of one psql that copies the three tables out
  local t; for t in "${TABLES[@]}"; do printf '%s\0' -c "\\copy (select * from $t) to '$1/$t.copy'"; done
}
say "(a) snapshot vs psql \\copy to, $PAIRS pairs"
T_CONN="$(conn "$PRE_PORT" bench_pre)"
mapfile -d '' COPY_OUT < <(copy_out_args "$SNAP")
meta cmd_snapshot "$(cmd_text "$DBREFRESH" snapshot --target "$T_CONN" --out "$SNAP/snapshot.db")"
meta cmd_copy_out "$(cmd_text psql -X -v ON_ERROR_STOP=1 "$T_CONN" "${COPY_OUT[@]}")"
for p in $(seq 1 "$PAIRS"); do
  rm -f "$SNAP/snapshot.db" "$SNAP"/*.copy; checkpoint_both
  timed snapshot dbrefresh "$p" "$SCALE" "snapshot-$p" "$DBREFRESH" snapshot --target "$T_CONN" --out "$SNAP/snapshot.db"
  [ "$LAST_RC" -eq 0 ] || { tail_err "snapshot-$p"; die "dbrefresh snapshot failed (exit $LAST_RC)"; }
  checkpoint_both
  timed snapshot psql_copy_to "$p" "$SCALE" "copy-out-$p" "$PG_BIN/psql" -X -v ON_ERROR_STOP=1 "$T_CONN" "${COPY_OUT[@]}"
  [ "$LAST_RC" -eq 0 ] || { tail_err "copy-out-$p"; die "psql \\copy to failed (exit $LAST_RC)"; }
done
meta bytes_snapshot_file "$(stat -c %s "$SNAP/snapshot.db")"
meta bytes_copy_files "$(cat "$SNAP"/*.copy | wc -c)"

# ---------------------------------------------------------------------------------------------------------
# (b) restore-users vs psql \copy ... from, each into a fresh database without those people
say "(b) restore-users vs psql \\copy from, $PAIRS pairs (target recreated before each run, untimed)"
E_CONN="$(conn "$PRE_PORT" bench_e)"
COPY_IN=()
for t in "${TABLES[@]}"; do COPY_IN+=(-c "\\copy $t from '$SNAP/$t.copy'"); done
meta cmd_restore_users "$(cmd_text "$DBREFRESH" restore-users "$SNAP/snapshot.db" --target "$E_CONN")"
meta cmd_copy_in "$(cmd_text psql -X -1 -v ON_ERROR_STOP=1 "$E_CONN" "${COPY_IN[@]}")"
check_restored() { # the three tables of bench_e hold exactly the snapshot's rows
  local got want
  got=$(ad_psql "$PRE_PORT" bench_e -At -c "SELECT (SELECT count(*) FROM users) || '/' || (SELECT count(*) FROM user_role_assignments) || '/' || (SELECT count(*) FROM user_qualification_assignments)")
  want="$(awk -F'\t' '$1=="rows_users"{u=$2} $1=="rows_user_role_assignments"{r=$2} $1=="rows_user_qualification_assignments"{q=$2} END{print u "/" r "/" q}' "$META")"
  [ "$got" = "$want" ] || die "$1 left $got rows in users/roles/qualifications, expected $want"
}
for p in $(seq 1 "$PAIRS"); do
  fresh_db "$PRE_PORT" bench_e bench_empty; checkpoint_both
  timed restore_users dbrefresh "$p" "$SCALE" "restore-users-$p" \
    "$DBREFRESH" restore-users "$SNAP/snapshot.db" --target "$E_CONN" --seed-out "$WORK/seed-$p.sql"
  [ "$LAST_RC" -eq 0 ] || { tail_err "restore-users-$p"; die "dbrefresh restore-users failed (exit $LAST_RC)"; }
  check_restored "dbrefresh restore-users"
  fresh_db "$PRE_PORT" bench_e bench_empty; checkpoint_both
  timed restore_users psql_copy_from "$p" "$SCALE" "copy-in-$p" "$PG_BIN/psql" -X -1 -v ON_ERROR_STOP=1 "$E_CONN" "${COPY_IN[@]}"
  [ "$LAST_RC" -eq 0 ] || { tail_err "copy-in-$p"; die "psql \\copy from failed (exit $LAST_RC)"; }
  check_restored "psql \\copy from"
done

# ---------------------------------------------------------------------------------------------------------
# (d) peak RSS at the second scale (the runs above give it at --scale)
say "(d) peak RSS at scale $RSS_SCALE ($RSS_USERS users)"
RSS_SNAP="$WORK/snap-rss"; mkdir -p "$RSS_SNAP"
timed snapshot dbrefresh 1 "$RSS_SCALE" "snapshot-rss" \
  "$DBREFRESH" snapshot --target "$(conn "$PRE_PORT" bench_pre_rss)" --out "$RSS_SNAP/snapshot.db"
[ "$LAST_RC" -eq 0 ] || { tail_err snapshot-rss; die "dbrefresh snapshot (rss scale) failed"; }
fresh_db "$PRE_PORT" bench_e bench_empty
timed restore_users dbrefresh 1 "$RSS_SCALE" "restore-users-rss" \
  "$DBREFRESH" restore-users "$RSS_SNAP/snapshot.db" --target "$E_CONN" --seed-out "$WORK/seed-rss.sql"
[ "$LAST_RC" -eq 0 ] || { tail_err restore-users-rss; die "dbrefresh restore-users (rss scale) failed"; }

# ---------------------------------------------------------------------------------------------------------
# Breakdown: one more snapshot and restore-users with per-statement durations and auto_explain in the server log
say "breakdown: one untimed snapshot and restore-users with statement durations and auto_explain (ANALYZE, BUFFERS)"
PRE_LOG="$DBREFRESH_TEST_PREPROD_DATA/server.log"
su_psql "$PRE_PORT" postgres >/dev/null <<'SQL'
LOAD 'auto_explain';
ALTER SYSTEM SET log_min_duration_statement = 0;
ALTER SYSTEM SET session_preload_libraries = 'auto_explain';
ALTER SYSTEM SET auto_explain.log_min_duration = '200ms';
ALTER SYSTEM SET auto_explain.log_analyze = on;
ALTER SYSTEM SET auto_explain.log_buffers = on;
ALTER SYSTEM SET auto_explain.log_timing = on;
ALTER SYSTEM SET auto_explain.log_triggers = on;
ALTER SYSTEM SET auto_explain.log_verbose = off;
ALTER SYSTEM SET log_temp_files = 0;
SELECT pg_reload_conf();
SQL
fresh_db "$PRE_PORT" bench_e bench_empty
off0=$(stat -c %s "$PRE_LOG")
"$DBREFRESH" restore-users "$SNAP/snapshot.db" --target "$E_CONN" --seed-out "$WORK/seed-bd.sql" --log-format json \
  > "$WORK/logs/breakdown-restore-users.out" 2> "$WORK/logs/breakdown-restore-users.err" \
  || say "breakdown restore-users exited $? (ignored)"
off1=$(stat -c %s "$PRE_LOG")
rm -f "$WORK/snap-bd.db"
"$DBREFRESH" snapshot --target "$T_CONN" --out "$WORK/snap-bd.db" --log-format json \
  > "$WORK/logs/breakdown-snapshot.out" 2> "$WORK/logs/breakdown-snapshot.err" \
  || say "breakdown snapshot exited $? (ignored)"
off2=$(stat -c %s "$PRE_LOG")
tail -c +$((off0 + 1)) "$PRE_LOG" | head -c $((off1 - off0)) > "$WORK/breakdown-restore-users.log"
tail -c +$((off1 + 1)) "$PRE_LOG" | head -c $((off2 - off1)) > "$WORK/breakdown-snapshot.log"
su_psql "$PRE_PORT" postgres >/dev/null <<'SQL'
ALTER SYSTEM RESET ALL;
SELECT pg_reload_conf();
SQL
drop_db "$PRE_PORT" bench_e

fi  # --only-refresh

# ---------------------------------------------------------------------------------------------------------
# (c) refresh vs today's job vs pgcopydb clone
REFRESH_STATUS=skipped
REFRESH_REASON=""
if [ "$SKIP_REFRESH" = "1" ]; then
  REFRESH_REASON="--skip-refresh given"
else
  # Does refresh work yet? A refresh with the wrong --confirm-target is refused by the guard (exit 4, nothing
  # changed) once it is implemented; until then it exits 1 saying "not implemented yet".
  fresh_db "$PRE_PORT" bench_q bench_empty
  probe_rc=0
  "$DBREFRESH" refresh --source "$(conn "$PROD_PORT" cas_template)" --target "$(conn "$PRE_PORT" bench_q)" \
    --confirm-target bench-probe-wrong-name > "$WORK/logs/refresh-probe.out" 2> "$WORK/logs/refresh-probe.err" || probe_rc=$?
  drop_db "$PRE_PORT" bench_q
  if [ "$probe_rc" -eq 1 ] && grep -q "not implemented yet" "$WORK/logs/refresh-probe.err"; then
    REFRESH_REASON="dbrefresh refresh is not implemented yet (exit 1: $(head -c 200 "$WORK/logs/refresh-probe.err" | tr '\n' ' '))"
    say "(c) SKIPPED: $REFRESH_REASON"
    if [ "$REFRESH_BASELINES" = 1 ]; then
      REFRESH_STATUS=baselines
      say "(c) --refresh-baselines: timing today's job and pgcopydb clone alone"
    fi
  else
    REFRESH_STATUS=run
  fi
fi

if [ "$REFRESH_STATUS" != skipped ]; then
  if ! command -v pgcopydb >/dev/null; then
    if [ "$(id -u)" -eq 0 ]; then
      say "installing pgcopydb (apt-get install -y pgcopydb)"
      DEBIAN_FRONTEND=noninteractive apt-get install -y pgcopydb >/dev/null 2>&1 || say "could not install pgcopydb"
    fi
  fi
  HAVE_PGCOPYDB=0
  command -v pgcopydb >/dev/null && HAVE_PGCOPYDB=1 && meta pgcopydb_version "$(pgcopydb --version 2>/dev/null | grep -m1 'pgcopydb version')"

  T0=$(now_ns)
  say "(c) generating the prod database bench_prod ($USERS users + padding)"
  gen_prod bench_prod "$USERS" "$SCALE"
  meta gen_seconds_prod "$(python3 -c "print(f'{($(now_ns) - $T0) / 1e9:.1f}')")"
  meta bytes_bench_prod "$(db_bytes "$PROD_PORT" bench_prod)"
  P_CONN="$(conn "$PROD_PORT" bench_prod)"
  Q_CONN="$(conn "$PRE_PORT" bench_q)"
  refresh_cmd() { # refresh_cmd RUN [STRATEGY]
    local args=("$DBREFRESH" refresh --source "$P_CONN" --target "$Q_CONN" --confirm-target bench_q
                --snapshot-dir "$WORK/refresh/$1" --report "$WORK/refresh/$1.report.json" --log-format json)
    [ -z "${2:-}" ] || args+=(--strategy "$2")
    printf '%s\0' "${args[@]}"
  }
  job_cmd() { printf '%s\0' "$root/scripts/current-job.sh" "$P_CONN" "$Q_CONN" "$WORK/job/$1"; }
  clone_cmd() {
    printf '%s\0' pgcopydb clone --source "$(uri "$PROD_PORT" bench_prod)" --target "$(uri "$PRE_PORT" bench_clone)" \
      --dir "$WORK/pgcopydb/$1" --no-owner --no-acl --table-jobs 2 --index-jobs 2
  }
  mkdir -p "$WORK/refresh" "$WORK/job" "$WORK/pgcopydb"
  mapfile -d '' c < <(refresh_cmd p); meta cmd_refresh "$(cmd_text "${c[@]}")"
  mapfile -d '' c < <(job_cmd p); meta cmd_current_job "$(cmd_text "${c[@]}")"
  mapfile -d '' c < <(clone_cmd p); meta cmd_pgcopydb "$(cmd_text "${c[@]}")"
  say "(c) refresh vs current job vs pgcopydb, $PAIRS rounds on $(( $(db_bytes "$PROD_PORT" bench_prod) / 1048576 )) MB (targets recreated, untimed)"
  for p in $(seq 1 "$PAIRS"); do
    if [ "$REFRESH_STATUS" = run ]; then
      fresh_db "$PRE_PORT" bench_q bench_pre; checkpoint_both
      mapfile -d '' c < <(refresh_cmd "$p")
      timed refresh dbrefresh "$p" "$SCALE" "refresh-$p" "${c[@]}"
      case "$LAST_RC" in 0|5) ;; *) tail_err "refresh-$p"; say "dbrefresh refresh exited $LAST_RC (recorded)";; esac
      fresh_db "$PRE_PORT" bench_q bench_pre_first; checkpoint_both
      mapfile -d '' c < <(refresh_cmd "first-$p")
      timed refresh dbrefresh_first "$p" "$SCALE" "refresh-first-$p" "${c[@]}"
      case "$LAST_RC" in 0|5) ;; *) tail_err "refresh-first-$p"; say "dbrefresh refresh (first) exited $LAST_RC (recorded)";; esac
    fi
    if [ "$SKIP_CURRENT_JOB" = 0 ]; then
      fresh_db "$PRE_PORT" bench_q bench_pre; checkpoint_both
      mapfile -d '' c < <(job_cmd "$p")
      timed refresh current_job "$p" "$SCALE" "current-job-$p" "${c[@]}"
      rm -rf "$WORK/job/$p"
    fi
    if [ "$HAVE_PGCOPYDB" = 1 ]; then
      drop_db "$PRE_PORT" bench_q
      fresh_db "$PRE_PORT" bench_clone template0; checkpoint_both
      mapfile -d '' c < <(clone_cmd "$p")
      timed refresh pgcopydb "$p" "$SCALE" "pgcopydb-$p" "${c[@]}"
      [ "$LAST_RC" -eq 0 ] || { tail_err "pgcopydb-$p"; say "pgcopydb clone exited $LAST_RC (recorded)"; }
      drop_db "$PRE_PORT" bench_clone; rm -rf "$WORK/pgcopydb/$p"
    fi
  done
fi
if [ "$REFRESH_STATUS" = run ]; then
  # the unavailable window with strategy swap (the timed runs above use the default, schema)
  fresh_db "$PRE_PORT" bench_q bench_pre; checkpoint_both
  mapfile -d '' c < <(refresh_cmd swap swap)
  timed refresh_swap dbrefresh 1 "$SCALE" "refresh-swap" "${c[@]}"
  cp "$WORK/refresh/swap.report.json" "$WORK/refresh-report-swap.json" 2>/dev/null || true
  cp "$WORK/refresh/1.report.json" "$WORK/refresh-report-schema.json" 2>/dev/null || true
  for d in $(su_psql "$PRE_PORT" postgres -At -c "SELECT datname FROM pg_database WHERE datname LIKE 'bench_q%'"); do drop_db "$PRE_PORT" "$d"; done
  # peak RSS of refresh at the second scale
  say "(d) refresh peak RSS at scale $RSS_SCALE"
  gen_prod bench_prod "$RSS_USERS" "$RSS_SCALE"
  fresh_db "$PRE_PORT" bench_q bench_pre_rss; checkpoint_both
  mapfile -d '' c < <(refresh_cmd rss)
  timed refresh dbrefresh 1 "$RSS_SCALE" "refresh-rss" "${c[@]}"
fi
meta refresh_status "$REFRESH_STATUS"
meta refresh_reason "$REFRESH_REASON"
meta load_end "$(cut -d' ' -f1-3 /proc/loadavg)"
meta finished_at "$(date -u +%Y-%m-%dT%H:%M:%SZ)"
meta total_seconds "$(python3 -c "print(f'{($(now_ns) - $T_SCRIPT) / 1e9:.1f}')")"

python3 "$here/bench/report.py" --runs "$RUNS" --meta "$META" --work "$WORK" --out "$OUT"
say "results in $OUT"
