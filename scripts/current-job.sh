#!/usr/bin/env bash
# Today's weekly refresh job, reproduced command for command (SPEC section 1), for end-to-end tests and
# benchmarks to compare dbrefresh against. Its known failures are kept on purpose:
#   - pg_restore --clean without --if-exists / --exit-on-error: errors on preprod-only objects are printed
#     and ignored;
#   - the saved preprod users are re-inserted with psql WITHOUT ON_ERROR_STOP, so the job exits 0 even when
#     every insert failed.
#
#   scripts/current-job.sh SOURCE_CONNINFO TARGET_CONNINFO WORKDIR
#
# Steps (the tools' own stdout/stderr pass through unchanged; stderr is also saved to WORKDIR/<step>.stderr):
#   1 dump-source        pg_dump --format=custom --no-privileges -f WORKDIR/prod.dump SOURCE
#   2 dump-target-users  pg_dump --data-only --column-inserts --on-conflict-do-nothing
#                                -t users -t user_qualification_assignments -t user_role_assignments
#                                -f WORKDIR/preprod-users.sql TARGET
#   3 restore            pg_restore --clean --no-owner -d TARGET WORKDIR/prod.dump
#   4 insert-users       psql TARGET < WORKDIR/preprod-users.sql
# WORKDIR/steps.txt gets one line "<step> <exit code>" per step run.
# Exit code: psql's (step 4), i.e. 0 even when inserts failed; a failing pg_dump (step 1 or 2) stops the job
# with pg_dump's exit code. Passwords: give them with PGPASSWORD / .pgpass (or in the conninfo); the printed
# commands never show them.
# Environment: PG_BIN (default /usr/lib/postgresql/15/bin).
set -uo pipefail

PG_BIN="${PG_BIN:-/usr/lib/postgresql/15/bin}"

if [ $# -ne 3 ]; then
  echo "usage: $0 SOURCE_CONNINFO TARGET_CONNINFO WORKDIR" >&2
  exit 2
fi
source_conn="$1"
target_conn="$2"
workdir="$3"
mkdir -p "$workdir" || exit 1
: > "$workdir/steps.txt"

redact() { sed -E "s/(password[[:space:]]*=[[:space:]]*)('[^']*'|[^[:space:]]*)/\1***/g; s#(://[^:/@]*:)[^@]*@#\1***@#"; }
now_ms() { date +%s%3N; }
log() { echo "current-job: $*"; }

# run_step NUMBER NAME STDIN_FILE COMMAND...   (STDIN_FILE "-" for none)
run_step() {
  local n="$1" name="$2" input="$3"; shift 3
  local shown="" arg
  for arg in "$@"; do shown+="$(printf '%q ' "$(printf '%s' "$arg" | redact)")"; done
  [ "$input" = "-" ] || shown+="< $input"
  log "step $n/4 $name: $shown"
  local t0 rc
  t0=$(now_ms)
  # stderr goes to the terminal AND to WORKDIR/<step>.stderr; stdout passes through
  if [ "$input" = "-" ]; then
    { "$@" 2>&1 1>&3 3>&- | tee "$workdir/$name.stderr" >&2; rc=${PIPESTATUS[0]}; } 3>&1
  else
    { "$@" < "$input" 2>&1 1>&3 3>&- | tee "$workdir/$name.stderr" >&2; rc=${PIPESTATUS[0]}; } 3>&1
  fi
  echo "$name $rc" >> "$workdir/steps.txt"
  local errors
  errors=$(grep -c 'ERROR' "$workdir/$name.stderr" 2>/dev/null || true)
  log "step $n/4 $name: exit $rc, ${errors:-0} ERROR line(s) on stderr, $(( $(now_ms) - t0 )) ms"
  return "$rc"
}

run_step 1 dump-source - \
  "$PG_BIN/pg_dump" --format=custom --no-privileges -f "$workdir/prod.dump" "$source_conn"
rc=$?
if [ $rc -ne 0 ]; then log "pg_dump of the source failed; stopping (exit $rc)"; exit $rc; fi

run_step 2 dump-target-users - \
  "$PG_BIN/pg_dump" --data-only --column-inserts --on-conflict-do-nothing \
  -t users -t user_qualification_assignments -t user_role_assignments \
  -f "$workdir/preprod-users.sql" "$target_conn"
rc=$?
if [ $rc -ne 0 ]; then log "pg_dump of the target's users failed; stopping (exit $rc)"; exit $rc; fi

run_step 3 restore - \
  "$PG_BIN/pg_restore" --clean --no-owner -d "$target_conn" "$workdir/prod.dump"
restore_rc=$?
[ $restore_rc -eq 0 ] || log "pg_restore exited $restore_rc; continuing, as the real job does"

run_step 4 insert-users "$workdir/preprod-users.sql" \
  "$PG_BIN/psql" "$target_conn"
rc=$?
log "done: exit $rc (pg_restore exit $restore_rc; psql runs without ON_ERROR_STOP, so failed inserts do not change it)"
exit $rc
