#!/usr/bin/env bash
# The one test command: installs what is missing, builds, starts the two throwaway PostgreSQL
# clusters ("prod" and "preprod" from testdata/), runs every test, and stops the clusters again,
# also when a test fails. Usage: scripts/test.sh [extra ctest arguments, e.g. -R Restore]
# DBREFRESH_BUILD_DIR, DBREFRESH_BUILD_TYPE and DBREFRESH_CMAKE_ARGS choose another build
# (scripts/sanitize.sh uses them).
# An unfiltered run (no arguments, no DBREFRESH_CMAKE_ARGS) then runs scripts/image-test.sh: the
# image built from docker/Dockerfile, run as docker/k8s's manifests run it (about 6-8 minutes more;
# DBREFRESH_IMAGE_TEST=0 leaves it out, =1 runs it after any run).
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

image_test=${DBREFRESH_IMAGE_TEST:-auto}
if [ "$image_test" = auto ]; then
  image_test=0
  [ $# -eq 0 ] && [ -z "${DBREFRESH_CMAKE_ARGS:-}" ] && image_test=1
fi

suite=0
ctest --test-dir "$build_dir" --output-on-failure --timeout 300 -j "$(nproc)" "$@" || suite=$?
[ "$image_test" = 1 ] || exit "$suite"

# The image test starts clusters of its own: stop the suite's first.
cleanup
trap - EXIT
image=0
echo "test.sh: scripts/image-test.sh (the image from docker/Dockerfile, run as docker/k8s runs it)"
scripts/image-test.sh || image=$?
[ "$suite" -eq 0 ] || echo "test.sh: the ctest suite failed (exit $suite)" >&2
[ "$image" -eq 0 ] || echo "test.sh: scripts/image-test.sh failed (exit $image)" >&2
[ "$suite" -eq 0 ] && [ "$image" -eq 0 ]
