#!/bin/sh
# apply_memory.sh — the peak memory of `migrun apply` does not grow with
# the number of migrations it applies beyond what the plan itself takes.
# 500 and 4,000 one-step migrations (each a reversible UPDATE of one row of
# one table, so SQLite's own memory — its schema, its page cache — stays
# the same), applied to a fresh SQLite file each, from the .migb of
# `migc build`; peak RSS from wait4(2)'s ru_maxrss (python3). What the
# 3,500 more migrations add must stay under BYTES_PER bytes each. Measured
# 2026-12-01: 0.57 KiB (the plan in memory and the target's SQLite page
# cache filling up to its 2 MiB with mig_applied; the session forgets a
# finished migration's tracking rows: session.h row_arena). Before that the
# session kept one tracking row per step: 1.6 KiB, which fails; before that
# each step's rendered SQL, checksum and names twice over: 2.7 KiB.
: "${MIGC:?}" "${MIGRUN:?}"
pass=0 fail=0
# (in memory where there is a tmpfs: 4,500 commits wait for no disk)
tmp=$( { [ -d /dev/shm ] && [ -w /dev/shm ] && mktemp -d -p /dev/shm; } 2>/dev/null || mktemp -d) || exit 99
trap 'rm -rf "$tmp"' EXIT
BYTES_PER=1024

gen() {   # gen N DIR
    mkdir -p "$2" && python3 - "$1" "$2" <<'PY'
import sys
n, d = int(sys.argv[1]), sys.argv[2]
with open(f"{d}/m00000.mig", "w") as f:
    f.write('''migration m00000 {
  step base {
    up sql { CREATE TABLE counter (id integer PRIMARY KEY, v integer NOT NULL); INSERT INTO counter VALUES (1, 0); }
    down sql { DROP TABLE counter; }
  }
}
''')
for k in range(1, n):
    with open(f"{d}/m{k:05d}.mig", "w") as f:
        f.write(f'''migration m{k:05d} {{
  after m{k - 1:05d};
  step bump {{
    up sql {{ UPDATE counter SET v = v + 1 WHERE id = 1; }}
    down sql {{ UPDATE counter SET v = v - 1 WHERE id = 1; }}
  }}
}}
''')
PY
}

# measure DIR — "PEAK_RSS_KIB EXIT" of migrun apply of DIR/plan.migb on a new file
measure() {
    python3 - "$MIGRUN" "$1" <<'PY'
import os, sys
migrun, d = sys.argv[1], sys.argv[2]
argv = [migrun, "apply", f"{d}/plan.migb", "--db", f"sqlite:{d}/db.sqlite", "--journal", f"{d}/journal.db"]
pid = os.fork()
if pid == 0:
    fd = os.open(os.devnull, os.O_WRONLY)
    os.dup2(fd, 1)
    os.dup2(fd, 2)
    os.execv(migrun, argv)
_, status, ru = os.wait4(pid, 0)
print(ru.ru_maxrss, os.waitstatus_to_exitcode(status))
PY
}

ok() { pass=$((pass + 1)); echo "ok   $1"; }
bad() { fail=$((fail + 1)); echo "FAIL $1"; }

for n in 500 4000; do
    gen "$n" "$tmp/c$n" || exit 99
    "$MIGC" build -o "$tmp/c$n/plan.migb" "$tmp/c$n" >"$tmp/build.out" 2>&1 || { cat "$tmp/build.out"; exit 99; }
done
set -- $(measure "$tmp/c500")
rss1=$1 rc1=$2
set -- $(measure "$tmp/c4000")
rss2=$1 rc2=$2
echo "     500 migrations: ${rss1} KiB; 4,000: ${rss2} KiB"

if [ "$rc1" = 0 ] && [ "$rc2" = 0 ] && [ "$(sqlite3 "$tmp/c4000/db.sqlite" 'SELECT v FROM counter')" = 3999 ]; then
    ok "both applies succeed (the counter at 3999)"
else
    bad "apply exit $rc1 and $rc2, want 0 (or the counter is not 3999)"
fi
limit=$((3500 * BYTES_PER / 1024))
if [ $((rss2 - rss1)) -le "$limit" ]; then
    ok "3,500 more migrations add $((rss2 - rss1)) KiB of peak memory (at most ${limit})"
else
    bad "3,500 more migrations add $((rss2 - rss1)) KiB of peak memory, more than ${limit} (${BYTES_PER} bytes a migration): what does the runner keep per step?"
fi

# the loader of a large plan (its texts in one block, its empty tables
# shared: runtime/plan.c) still refuses a byte changed near its end, or a
# file cut short
plan=$tmp/c4000/plan.migb
python3 - "$plan" "$tmp/flipped.migb" <<'PY'
import sys
b = bytearray(open(sys.argv[1], "rb").read())
assert len(b) > (1 << 20) + 4096, len(b)
b[len(b) - 100] ^= 1
open(sys.argv[2], "wb").write(b)
PY
head -c $(($(wc -c <"$plan") - 1)) "$plan" >"$tmp/short.migb"
out=$("$MIGC" disasm "$tmp/flipped.migb" 2>&1); rc=$?
if [ "$rc" = 2 ] && printf '%s\n' "$out" | grep -q "checksum mismatch"; then
    ok "a byte changed near the end of a 1.7 MB .migb: checksum mismatch"
else
    bad "a byte changed near the end of a 1.7 MB .migb: exit $rc, $out"
fi
out=$("$MIGC" disasm "$tmp/short.migb" 2>&1); rc=$?
if [ "$rc" = 2 ] && printf '%s\n' "$out" | grep -q "the file is truncated"; then
    ok "a .migb one byte short: truncated"
else
    bad "a .migb one byte short: exit $rc, $out"
fi

# a byte changed early (in the strings) and in the middle: the loader reads
# the file a window at a time and hashes it as it goes, so it may meet the
# damage before the end: it still says the file is corrupted
for at in 200 half; do
    python3 - "$plan" "$tmp/flip-$at.migb" "$at" <<'PY'
import sys
b = bytearray(open(sys.argv[1], "rb").read())
i = len(b) // 2 if sys.argv[3] == "half" else int(sys.argv[3])
b[i] ^= 0x40
open(sys.argv[2], "wb").write(b)
PY
    out=$("$MIGRUN" status "$tmp/flip-$at.migb" --db "sqlite:$tmp/flip.sqlite" 2>&1); rc=$?
    if [ "$rc" != 0 ] && printf '%s\n' "$out" | grep -q "checksum mismatch: the file is corrupted" && [ ! -e "$tmp/flip.sqlite" ]; then
        ok "a byte changed at $at of the .migb: refused as corrupted, nothing touched"
    else
        bad "a byte changed at $at of the .migb: exit $rc, $out"
    fi
done
# a SQL body longer than the loader's 64 KiB window: read across windows
mkdir -p "$tmp/big"
python3 - "$tmp/big/big.mig" <<'PY'
import sys
pad = "x" * 40
rows = ",\n".join(f"({i}, 'row {i:06d} {pad}')" for i in range(4000))
open(sys.argv[1], "w").write(f"""migration big {{
  step t {{
    up sql {{ CREATE TABLE big (id integer PRIMARY KEY, v text NOT NULL); INSERT INTO big VALUES
{rows}; }}
    down sql {{ DROP TABLE big; }}
  }}
}}
""")
PY
"$MIGC" build -o "$tmp/big/plan.migb" "$tmp/big/big.mig" >"$tmp/build.out" 2>&1 || cat "$tmp/build.out"
size=$(wc -c <"$tmp/big/plan.migb")
if "$MIGRUN" apply "$tmp/big/plan.migb" --db "sqlite:$tmp/big/db.sqlite" --journal "$tmp/big/j.db" >/dev/null 2>&1 &&
   [ "$(sqlite3 "$tmp/big/db.sqlite" "SELECT count(*) || ' ' || max(v) FROM big")" = "4000 row 003999 $(printf 'x%.0s' $(seq 40))" ] &&
   [ "$size" -gt 200000 ]; then
    ok "a ${size}-byte .migb with one SQL body over 64 KiB applies every row"
else
    bad "a ${size}-byte .migb with one SQL body over 64 KiB did not apply whole"
fi
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
