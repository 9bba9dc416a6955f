#!/usr/bin/env bash
# check_speed.sh [MIGC] — how fast `migc check` is on 1,000 and 10,000
# generated files: wall time (median of 5 runs), MB/s of source, peak RSS.
# A benchmark, not a test: run it by hand, on an idle machine.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
migc=${1:-$here/../build/migc}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
printf '%-8s %10s %10s %10s %10s\n' files bytes median_s MB/s peak_KiB
for n in 1000 10000; do
    "$here/gen_migrations.sh" "$n" "$work/$n"
    bytes=$(cat "$work/$n"/*.mig | wc -c)
    "$migc" check "$work/$n" >/dev/null   # warm the page cache; must be clean
    times=()
    for _ in 1 2 3 4 5; do
        s=$(date +%s.%N)
        "$migc" check "$work/$n" >/dev/null
        e=$(date +%s.%N)
        times+=("$(echo "$e - $s" | bc -l)")
    done
    median=$(printf '%s\n' "${times[@]}" | sort -n | sed -n 3p)
    rss=$(/usr/bin/time -f '%M' "$migc" check "$work/$n" 2>&1 >/dev/null | tail -n 1)
    mbs=$(echo "$bytes / 1048576 / $median" | bc -l)
    printf '%-8s %10s %10.3f %10.1f %10s\n' "$n" "$bytes" "$median" "$mbs" "$rss"
done
