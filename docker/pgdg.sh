#!/bin/sh
# Image build step: makes PostgreSQL client tools of major version $1 installable with apt-get.
# Debian bookworm ships postgresql-client-15; any other major (16, 17, ...) comes from the PostgreSQL
# project's own apt repository (PGDG), set up with the script and signing key that Debian's
# postgresql-common package ships. Run as root, before `apt-get install postgresql-client-$1`.
# Leaves no package lists behind (the install step runs its own apt-get update).
set -eu

version="${1:?usage: pgdg.sh PG_CLIENT_VERSION}"
debian_default=15

case "$version" in
  '' | *[!0-9]*) echo "pgdg.sh: PG_CLIENT_VERSION must be a major version number, got '$version'" >&2; exit 2 ;;
esac

if [ "$version" -eq "$debian_default" ]; then
  echo "pgdg.sh: postgresql-client-$version comes from Debian itself; nothing to set up"
  exit 0
fi

export DEBIAN_FRONTEND=noninteractive
apt-get update -q
apt-get install -y -q --no-install-recommends ca-certificates postgresql-common
# Writes /etc/apt/sources.list.d/pgdg.sources (signed by the key postgresql-common ships) and runs apt-get update.
/usr/share/postgresql-common/pgdg/apt.postgresql.org.sh -y
if ! apt-cache show "postgresql-client-$version" >/dev/null 2>&1; then
  echo "pgdg.sh: the PGDG repository has no postgresql-client-$version for this Debian release" >&2
  exit 1
fi
rm -rf /var/lib/apt/lists/*
