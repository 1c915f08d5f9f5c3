#!/usr/bin/env bash
# The real image, run as the manifests run it: builds docker/Dockerfile as a user would (podman, no
# test-only Dockerfile), starts the two test clusters and runs, against them, the CronJob's container
# (twice on one volume), the pipeline-steps Job's containers in order, the image's versions, a run with
# a wrong password, and runs stopped with `podman stop` that the same command then resumes
# (tests/deploy/run_image.py takes each pod from docker/k8s/ and says what it changed for the test
# clusters). Ends with "N passed, M failed"; exits non-zero if anything failed, also when containers
# cannot run on this machine (it says why).
#
# Usage: scripts/image-test.sh        (as root; scripts/test.sh runs it after the unfiltered suite)
# Environment: DBREFRESH_IMAGE_CACHE  podman storage of this script's own, and the base image
#                                     (default /var/cache/dbrefresh-image-test); kept between runs so that
#                                     unchanged layers are not rebuilt
#              IMAGE_TEST_ONLY        comma-separated scenarios of run_image.py (default: all)
#
# No image registry may be reachable: then debian:bookworm-slim is built with debootstrap from the Debian
# mirror apt already uses and imported under that name, in this script's own storage (--root), so it
# never shadows a real image. podman runs with runc, cgroupfs and no default ulimits, and host networking
# (the clusters listen on 127.0.0.1).
set -euo pipefail
cd "$(dirname "$0")/.."

passed=0
failed=0
pass() { passed=$((passed + 1)); echo "ok: $*"; }
# Fails the whole script: something without which nothing else can be checked.
give_up() {
  echo "FAIL: $*" >&2
  failed=$((failed + 1))
  echo "$passed passed, $failed failed"
  exit 1
}
now() { date +%s; }

[ "$(id -u)" -eq 0 ] || give_up "image-test needs root (apt-get, rootful podman, volumes owned by the pods' fsGroup)"

# ---- what it needs -------------------------------------------------------------------------------
scripts/install-deps.sh >/dev/null
missing=()
for p in podman runc debootstrap; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "image-test: installing ${missing[*]}"
  { DEBIAN_FRONTEND=noninteractive apt-get update -q \
      && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"; } >/dev/null \
    || give_up "cannot install ${missing[*]} with apt-get"
fi

cache=${DBREFRESH_IMAGE_CACHE:-/var/cache/dbrefresh-image-test}
mkdir -p "$cache"
chmod 700 "$cache"
exec 8>"$cache/lock"
flock -w 1800 8 || give_up "another image-test holds $cache/lock"

# These machines refuse setrlimit (podman's default ulimits) and have no systemd to manage cgroups.
cat >"$cache/containers.conf" <<'EOF'
# written by scripts/image-test.sh
[containers]
default_ulimits = []

[engine]
cgroup_manager = "cgroupfs"
runtime = "runc"
EOF
export CONTAINERS_CONF="$cache/containers.conf"
podman=(podman --root "$cache/storage" --runroot /run/dbrefresh-image-test --storage-driver overlay --runtime runc
        --cgroup-manager cgroupfs)

# ---- the base image ------------------------------------------------------------------------------
base=docker.io/library/debian:bookworm-slim
t0=$(now)
# The Debian mirror apt uses here: the first deb URI of sources.list or a deb822 .sources file.
debian_mirror() {
  local f
  for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
    [ -f "$f" ] && awk '$1 == "deb" { for (i = 2; i <= NF; i++) if ($i ~ /^https?:\/\//) { print $i; exit } }' "$f"
  done
  for f in /etc/apt/sources.list.d/*.sources; do
    [ -f "$f" ] && awk 'tolower($1) == "uris:" && $2 ~ /\/debian\/?$/ { print $2; exit }' "$f"
  done
}
# Rebuilt after a month: the image's apt-get upgrade-free layers should not age for ever.
if [ -n "$(find "$cache/base.stamp" -mtime -30 2>/dev/null)" ] && "${podman[@]}" image exists "$base"; then
  pass "base image $base: cached ($(cat "$cache/base.stamp"))"
elif timeout 120 "${podman[@]}" pull --quiet "$base" >"$cache/pull.log" 2>&1; then
  echo "pulled from a registry" >"$cache/base.stamp"
  pass "base image $base: pulled in $(( $(now) - t0 )) s"
else
  echo "image-test: no registry answers ($(tail -n 1 "$cache/pull.log")); building $base with debootstrap"
  mirror=$(debian_mirror | head -n 1)
  [ -n "$mirror" ] || give_up "no Debian mirror in /etc/apt/sources.list*, needed for debootstrap"
  rm -rf "$cache/rootfs"
  debootstrap --variant=minbase bookworm "$cache/rootfs" "$mirror" >"$cache/debootstrap.log" 2>&1 \
    || { tail -n 20 "$cache/debootstrap.log" >&2; give_up "debootstrap bookworm from $mirror failed"; }
  # The same apt sources as this machine (mirror, updates, security), as the real slim image has.
  if ls /etc/apt/sources.list.d/*.sources >/dev/null 2>&1; then
    cp /etc/apt/sources.list.d/*.sources "$cache/rootfs/etc/apt/sources.list.d/"
    rm -f "$cache/rootfs/etc/apt/sources.list"
  fi
  rm -rf "$cache/rootfs/var/lib/apt/lists/"* "$cache/rootfs/var/cache/apt/"*.bin
  "${podman[@]}" rmi --force "$base" >/dev/null 2>&1 || true
  tar -C "$cache/rootfs" -c . | "${podman[@]}" import - "$base" >/dev/null \
    || give_up "podman import of the debootstrap tree failed"
  rm -rf "$cache/rootfs"
  echo "built with debootstrap from $mirror on $(date -u +%Y-%m-%d)" >"$cache/base.stamp"
  pass "base image $base: built with debootstrap from $mirror in $(( $(now) - t0 )) s"
fi

# Can a container run at all here?
if ! out=$("${podman[@]}" run --rm --network host --pull never "$base" true 2>&1); then
  give_up "containers cannot run on this machine: podman run $base true: $out"
fi

# ---- the image, as a user builds it ---------------------------------------------------------------
image=$(python3 tests/deploy/run_image.py --image)
t0=$(now)
build_log="$cache/build.log"
# The build stage is tagged too, so that pruning the layers of earlier builds keeps its package layers.
if "${podman[@]}" build --network host --pull=never -f docker/Dockerfile --target build \
     -t localhost/dbrefresh-image-test-build . >"$build_log" 2>&1 \
   && "${podman[@]}" build --network host --pull=never -f docker/Dockerfile -t "$image" . >>"$build_log" 2>&1; then
  pass "built $image from docker/Dockerfile in $(( $(now) - t0 )) s"
else
  tail -n 30 "$build_log" >&2
  give_up "podman build -f docker/Dockerfile failed (log: $build_log)"
fi
"${podman[@]}" image prune --force >/dev/null 2>&1 || true

# ---- the clusters, and the runs ------------------------------------------------------------------
work=$(mktemp -d /tmp/dbrefresh-image-test.XXXXXX)
chmod 755 "$work"  # the postgres OS user runs the clusters in here
# shellcheck disable=SC2317  # called by the EXIT trap
cleanup() {
  "${podman[@]}" ps --all --format '{{.Names}}' 2>/dev/null | grep '^dbrefresh-' \
    | xargs -r "${podman[@]}" rm --force >/dev/null 2>&1 || true
  scripts/testbed.sh stop "$work/bed" >/dev/null
  rm -rf "$work"
}
trap cleanup EXIT
scripts/testbed.sh start "$work/bed" >/dev/null
# shellcheck disable=SC1091
source "$work/bed/env"
mkdir -m 700 "$work/pods"

t0=$(now)
IMAGE_TEST_PODMAN=$(python3 -c 'import json, sys; print(json.dumps(sys.argv[1:]))' "${podman[@]}") \
IMAGE_TEST_WORK="$work/pods" IMAGE_TEST_PASSED=$passed IMAGE_TEST_FAILED=$failed \
  python3 tests/deploy/run_image.py && rc=0 || rc=$?
echo "image-test: the runs took $(( $(now) - t0 )) s"
exit "$rc"
