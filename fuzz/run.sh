#!/usr/bin/env bash
# run.sh BUILDDIR SECONDS — runs each fuzzer for SECONDS on its corpus
# (fuzz/corpus/*, seeded from samples/ and the golden tests); crashes are
# written to fuzz/crashes/. Add every crash as a regression test under
# tests/fuzz-regressions/.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$top/build}
secs=${2:-60}
make -C "$build" fuzz >/dev/null
mkdir -p "$top/fuzz/corpus/mig" "$top/fuzz/corpus/migb" "$top/fuzz/crashes"
cp -n "$top"/samples/*.mig "$top"/tests/golden/*/*.mig "$top/fuzz/corpus/mig/" 2>/dev/null || true
for f in "$top"/samples/*.mig; do
    "$build/migc" build "$f" -o "$top/fuzz/corpus/migb/$(basename "$f" .mig).migb" 2>/dev/null || true
done
run() {
    local target=$1 corpus=$2
    "$build/fuzz/$target" -max_total_time="$secs" -max_len=65536 -timeout=10 -rss_limit_mb=2048 \
        -artifact_prefix="$top/fuzz/crashes/$target-" -print_final_stats=1 "$corpus" 2>&1 | tail -n 12
}
run fuzz_mig "$top/fuzz/corpus/mig"
run fuzz_migb "$top/fuzz/corpus/migb"
run fuzz_migb_unsealed "$top/fuzz/corpus/migb"
