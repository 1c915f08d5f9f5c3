#!/usr/bin/env bash
# Builds the libFuzzer targets with clang (AddressSanitizer + UBSan everywhere) and runs each for a
# bounded time on the seed corpus in testdata/fuzz/. Not part of CI. Usage: scripts/fuzz.sh [SECONDS]
# A crash leaves crash-* files in build-fuzz/; turn each into a regression test before fixing it.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-60}
scripts/install-deps.sh
command -v clang++ >/dev/null || apt-get install -y -q clang
CXX=clang++ cmake -S . -B build-fuzz -DDBREFRESH_FUZZ=ON -DDBREFRESH_SANITIZE=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build-fuzz -j "$(nproc)" --target snapshot_reader_fuzz config_fuzz
for target in snapshot_reader_fuzz config_fuzz; do
  corpus=build-fuzz/corpus-${target%_fuzz}
  mkdir -p "$corpus"
  cp -n testdata/fuzz/"${target%%_*}"/* "$corpus"/ 2>/dev/null || true
  echo "== $target for ${seconds}s"
  (cd build-fuzz && ./"$target" -max_total_time="$seconds" -max_len=262144 "corpus-${target%_fuzz}" >"$target.log" 2>&1) ||
    echo "$target: found a crash (build-fuzz/crash-*); see build-fuzz/$target.log"
  grep -E '^(#[0-9]+\s+DONE|Done [0-9]+ runs)|SUMMARY' "build-fuzz/$target.log" | tail -2
done
