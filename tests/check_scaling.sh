#!/bin/sh
# check_scaling.sh — `migc check` is linear in its input: one file of
# 10,000 guarded migrations (`import std;`, each step `when not
# std.table_exists("tK")`, creating tK) takes less than 3 times the CPU time
# of 5,000 (linear: 2; the quadratic linter history this guards against:
# 4 and more), its peak memory grows in proportion to the file, and that
# memory comes in huge pages where the kernel offers them (few page faults).
# Ratios within one run, best of three, so that a loaded machine does not
# make it fail; CPU time and peak RSS come from getrusage(2) by python3.
: "${MIGC:?}" "${TOP_SRCDIR:?}"
pass=0 fail=0
tmp=$(mktemp -d) || exit 99
trap 'rm -rf "$tmp"' EXIT

gen() {   # gen N FILE
    python3 - "$1" "$2" <<'EOF'
import sys
n, path = int(sys.argv[1]), sys.argv[2]
with open(path, "w") as f:
    f.write("import std;\n")
    for k in range(1, n + 1):
        f.write(f'''
migration m{k} {{
  phase p {{
    step s {{
      when not std.table_exists("t{k}");
      up sql {{ CREATE TABLE t{k} (id int, name varchar(20)); }}
      down sql {{ DROP TABLE t{k}; }}
    }}
  }}
}}
''')
EOF
}

# measure FILE — prints "CPU_SECONDS PEAK_RSS_KIB EXIT" of the best of three runs
measure() {
    python3 - "$MIGC" "$1" <<'EOF'
import resource, subprocess, sys
migc, path = sys.argv[1], sys.argv[2]
best_cpu, best_rss, rc = None, None, 0
for _ in range(3):
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    p = subprocess.run([migc, "check", path], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    best_cpu = cpu if best_cpu is None else min(best_cpu, cpu)
    rc = rc or p.returncode
    best_rss = after.ru_maxrss
print(f"{best_cpu:.3f} {best_rss} {rc}")
EOF
}

ok() { pass=$((pass + 1)); echo "ok   $1"; }
bad() { fail=$((fail + 1)); echo "FAIL $1"; }

for n in 5000 10000; do
    gen "$n" "$tmp/m$n.mig" || exit 99
done
# the measurements come from separate python processes, so each one's
# ru_maxrss is that size's own peak
set -- $(measure "$tmp/m5000.mig")
cpu5=$1 rss5=$2 rc5=$3
set -- $(measure "$tmp/m10000.mig")
cpu10=$1 rss10=$2 rc10=$3
bytes10=$(wc -c <"$tmp/m10000.mig")
echo "     5,000: ${cpu5} s CPU, ${rss5} KiB; 10,000: ${cpu10} s CPU, ${rss10} KiB (${bytes10} bytes)"

if [ "$rc5" = 0 ] && [ "$rc10" = 0 ]; then ok "both files check cleanly"; else bad "check exit $rc5 and $rc10, want 0"; fi

if python3 -c "import sys; a, b = float(sys.argv[1]), float(sys.argv[2]); sys.exit(0 if b < 3 * max(a, 0.02) else 1)" "$cpu5" "$cpu10"; then
    ok "10,000 migrations take less than 3x the CPU time of 5,000"
else
    bad "10,000 migrations took ${cpu10} s of CPU, 5,000 ${cpu5} s: more than 3x (quadratic?)"
fi

# memory: what 5,000 more migrations add is no more than 2.5x what the
# first 5,000 added over an empty check (linear: 1, plus the doubling of
# hash tables and arena blocks: measured 1.45 while migc loaded libpq, whose
# pages counted in the first 5,000's share, 2.07 since; quadratic: 3), and the whole
# stays under 48 bytes per byte of input plus 16 MiB
printf 'import std;\n' >"$tmp/empty.mig"
set -- $(measure "$tmp/empty.mig")
rss0=$2
if [ $(((rss10 - rss5) * 2)) -le $(((rss5 - rss0) * 5)) ]; then
    ok "peak memory grows in proportion to the file (${rss0} / ${rss5} / ${rss10} KiB)"
else
    bad "peak memory: empty ${rss0} KiB, 5,000 ${rss5} KiB, 10,000 ${rss10} KiB: not proportional"
fi
if [ "$rss10" -le $((bytes10 * 48 / 1024 + 16384)) ]; then
    ok "peak memory of 10,000 migrations under 48 bytes per byte of input plus 16 MiB"
else
    bad "peak memory of 10,000 migrations ${rss10} KiB for ${bytes10} bytes of input"
fi

# the compilation's arena takes its memory in 2 MiB huge pages (one page
# fault each, where 4 KiB pages cost one fault each: a third of the time of
# a check of 1,000 files on a VM): the 10,000 migrations fault in at most a
# quarter of their peak memory's 4 KiB pages one by one (measured: 1,187
# faults for 40,148 KiB; 9,482 for 38,432 KiB before). Only where the
# kernel gives huge pages to the memory that asks for them (madvise).
thp=/sys/kernel/mm/transparent_hugepage
if grep -q '\[never\]' "$thp/enabled" 2>/dev/null ||
    ! grep -q '\[\(always\|madvise\|defer+madvise\)\]' "$thp/defrag" 2>/dev/null; then
    echo "skip page faults: no transparent huge pages on request here ($thp)"
else
    faults=$(python3 - "$MIGC" "$tmp/m10000.mig" <<'EOF'
import resource, subprocess, sys
before = resource.getrusage(resource.RUSAGE_CHILDREN)
subprocess.run([sys.argv[1], "check", sys.argv[2]], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
after = resource.getrusage(resource.RUSAGE_CHILDREN)
print(after.ru_minflt - before.ru_minflt)
EOF
)
    if [ "$faults" -le $((rss10 / 16)) ]; then
        ok "10,000 migrations: ${faults} page faults for ${rss10} KiB (huge pages)"
    else
        bad "10,000 migrations: ${faults} page faults for ${rss10} KiB, more than a quarter of its 4 KiB pages (huge pages not used?)"
    fi
fi

# migc starts without libpq and SQLite (with their dependencies they cost
# about 20 ms of every start in dynamic loading alone): an editor hook and
# a check of 1,000 files pay for what migc uses, not for migrun's drivers;
# nor libcrypto (about 5 ms a start), loaded for the first checksum (build)
bin=$TOP_BUILDDIR/migc
[ -f "$TOP_BUILDDIR/.libs/migc" ] && bin=$TOP_BUILDDIR/.libs/migc
needed=$(readelf -d "$bin" 2>/dev/null | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p' | tr '\n' ' ')
if [ -z "$needed" ]; then
    bad "readelf -d $bin lists no libraries (not an ELF file?)"
elif printf '%s' "$needed" | grep -q 'libpq\|libsqlite3\|libcrypto'; then
    bad "migc links libpq, SQLite or libcrypto: $needed"
else
    ok "migc links neither libpq, SQLite nor libcrypto ($needed)"
fi

# diagnostics go out through one buffer: checking the lint corpus (about
# 1,500 lines of diagnostics) takes a handful of write(2) calls to stderr,
# not one per piece of a diagnostic (once 62 per diagnostic: the caret line
# byte by byte on an unbuffered stderr). strace comes with ./dev.sh.
if ! command -v strace >/dev/null; then
    bad "strace is not installed (./dev.sh installs it): cannot count migc's writes"
else
    strace -f -qq -e trace=write -o "$tmp/writes" "$MIGC" check "$TOP_SRCDIR"/tests/lint_corpus/* >/dev/null 2>"$tmp/diags"
    lines=$(wc -l <"$tmp/diags")
    writes=$(grep -c '^[0-9 ]*write(2,' "$tmp/writes")
    if [ "$lines" -gt 1000 ] && [ "$writes" -le $((lines / 50)) ]; then
        ok "$lines lines of diagnostics in $writes write(2) calls"
    else
        bad "$lines lines of diagnostics in $writes write(2) calls (want over 1,000 lines, at most one write per 50)"
    fi
fi

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
