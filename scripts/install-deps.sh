#!/usr/bin/env bash
# Installs everything dbrefresh needs to build, test and run its demo, from Debian's packages.
# Safe to run twice: apt-get install skips what is already there.
set -euo pipefail

packages=(
  build-essential cmake pkg-config
  libpqxx-dev libpq-dev libsqlite3-dev libssl-dev nlohmann-json3-dev libcxxopts-dev
  googletest libgtest-dev
  postgresql-15 postgresql-client-15 postgresql-contrib
  sqlite3 time procps
)
# tests/deploy (the Dockerfile, the Kubernetes manifests and the runbook): YAML parser, shell linter,
# and jq for the runbook's log and report filters. (hadolint has no Debian package.)
packages+=(python3 python3-yaml shellcheck jq binutils)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#packages[@]} packages present"
  exit 0
fi

SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
echo "install-deps: installing ${missing[*]}"
$SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -q
$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
