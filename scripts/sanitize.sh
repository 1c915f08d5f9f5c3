#!/usr/bin/env bash
# Builds everything with AddressSanitizer + UndefinedBehaviorSanitizer (build-asan/) and runs the
# whole test suite against the two throwaway clusters. Not part of .ci/run: the build alone takes
# about 9 minutes on 2 cores and the serial run about 6 more. Usage: scripts/sanitize.sh [ctest args]
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
cmake -S . -B build-asan -DDBREFRESH_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug >/dev/null
cmake --build build-asan -j "$(nproc)"

bed_parent=$(mktemp -d /tmp/dbrefresh-asan.XXXXXX)
chmod 755 "$bed_parent"
cleanup() { scripts/testbed.sh stop "$bed_parent/bed"; rm -rf "$bed_parent"; }
trap cleanup EXIT
scripts/testbed.sh start "$bed_parent/bed"
# shellcheck disable=SC1091
source "$bed_parent/bed/env"

# libpq 15 / libpqxx 6.4 leak one result when a session the server terminated runs its next query
# (tests that end sessions on purpose); it is theirs, not dbrefresh's.
export LSAN_OPTIONS="suppressions=$PWD/tests/lsan.supp:print_suppressions=0"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
ctest --test-dir build-asan --output-on-failure --timeout 600 -j "$(nproc)" "$@"
