#!/usr/bin/env bash
# The one test command: installs what is missing, builds, starts the two throwaway PostgreSQL
# clusters ("prod" and "preprod" from testdata/), runs every test, and stops the clusters again,
# also when a test fails. Usage: scripts/test.sh [extra ctest arguments, e.g. -R Restore]
# DBREFRESH_BUILD_DIR, DBREFRESH_BUILD_TYPE and DBREFRESH_CMAKE_ARGS choose another build
# (scripts/sanitize.sh uses them).
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-deps.sh
build_dir=${DBREFRESH_BUILD_DIR:-build}
# shellcheck disable=SC2086  # DBREFRESH_CMAKE_ARGS is a list of arguments
cmake -S . -B "$build_dir" -DCMAKE_BUILD_TYPE="${DBREFRESH_BUILD_TYPE:-RelWithDebInfo}" ${DBREFRESH_CMAKE_ARGS:-} >/dev/null
cmake --build "$build_dir" -j "$(nproc)"

# The clusters run as the postgres OS user, which must be able to reach this directory.
bed_parent=$(mktemp -d /tmp/dbrefresh-tests.XXXXXX)
chmod 755 "$bed_parent"
cleanup() { scripts/testbed.sh stop "$bed_parent/bed"; rm -rf "$bed_parent"; }
trap cleanup EXIT
scripts/testbed.sh start "$bed_parent/bed"
# shellcheck disable=SC1091
source "$bed_parent/bed/env"

ctest --test-dir "$build_dir" --output-on-failure --timeout 300 -j "$(nproc)" "$@"
