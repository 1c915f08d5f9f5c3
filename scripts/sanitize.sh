#!/usr/bin/env bash
# The whole test suite under AddressSanitizer + UndefinedBehaviorSanitizer, in build-asan/, through
# scripts/test.sh (same clusters, same tests). Not part of .ci/run: the build alone takes about
# 9 minutes on 2 cores and the run about 6 more. Usage: scripts/sanitize.sh [extra ctest arguments]
set -euo pipefail
cd "$(dirname "$0")/.."
# libpq 15 / libpqxx 6.4 leak one result when a session the server terminated runs its next query
# (tests that end sessions on purpose); it is theirs, not dbrefresh's.
export LSAN_OPTIONS="suppressions=$PWD/tests/lsan.supp:print_suppressions=0"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
export DBREFRESH_BUILD_DIR=build-asan DBREFRESH_BUILD_TYPE=Debug DBREFRESH_CMAKE_ARGS=-DDBREFRESH_SANITIZE=ON
exec scripts/test.sh "$@"
