#!/bin/sh
# status_scaling.sh — `migrun status` is linear in the steps applied, and
# its compile cache follows the sources' bytes:
#   - status of 6,000 applied steps (40 files of 150 steps) takes less
#     than 3 times the CPU time of 3,000 (20 files), from a .migb and from
#     the sources with the compile cache .migrun/cache (linear: 2 at most,
#     less with the fixed start). Ratios within one run, best of five runs,
#     so that a loaded machine does not make it fail; CPU time from
#     getrusage(2) by python3. It catches a growth worse than linear once it
#     outweighs the fixed start (a matching of plan steps to tracking rows
#     by linear search costs 70 ms at 6,000 rows and is not caught: the
#     sizes a suite can afford to apply are too small for that);
#   - its output is the same from the .migb, from the sources without the
#     cache, and from the cache, text and --json;
#   - a source edited to other bytes of the same size with its old mtime is
#     compiled again (the cache is keyed by content, not by size or time):
#     status then says the step drifted.
: "${MIGRUN:?}" "${MIGC:?}"
pass=0 fail=0
tmp=$(mktemp -d) || exit 99
trap 'rm -rf "$tmp"' EXIT
export NO_COLOR=1

gen() {   # gen FILES DIR — FILES migrations of 150 steps, one row each in one table
    python3 - "$1" "$2" <<'EOF'
import os, sys
files, d = int(sys.argv[1]), sys.argv[2]
os.makedirs(d)
for f in range(1, files + 1):
    with open(os.path.join(d, f"m{f:04d}.mig"), "w") as out:
        out.write(f"migration m{f:04d} {{\n")
        if f > 1:
            out.write(f"  after m{f - 1:04d};\n")
        else:
            out.write("  step make { up sql { CREATE TABLE t (k integer PRIMARY KEY, v text); } "
                      "down sql { DROP TABLE t; } }\n")
        for s in range(1, 151 if f > 1 else 150):
            k = f * 1000 + s
            out.write(f"  step s{s:02d} {{ up sql {{ INSERT INTO t (k, v) VALUES ({k}, 'row {k}'); }} "
                      f"down sql {{ DELETE FROM t WHERE k = {k}; }} }}\n")
        out.write("}\n")
EOF
}

# cpu ARGS… — the CPU seconds of the best of five runs of migrun ARGS (in the current folder)
cpu() {
    python3 - "$MIGRUN" "$@" <<'EOF'
import resource, subprocess, sys
best, rc = None, 0
for _ in range(5):
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    p = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    t = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    best = t if best is None else min(best, t)
    rc = rc or p.returncode
print(f"{best:.3f}" if rc == 0 else f"exit{rc}")
EOF
}

ok() { pass=$((pass + 1)); echo "ok   $1"; }
bad() { fail=$((fail + 1)); echo "FAIL $1"; }
lt3x() { python3 -c "import sys; a, b = float(sys.argv[1]), float(sys.argv[2]); sys.exit(0 if b < 3 * max(a, 0.01) else 1)" "$1" "$2" 2>/dev/null; }

for n in 20 40; do
    d=$tmp/n$n
    gen "$n" "$d/mig" || exit 99
    mkdir -p "$d/cache/.migrun/cache" "$d/nocache"
    "$MIGC" build "$d/mig" -o "$d/plan.migb" >"$d/build.log" 2>&1 || { bad "migc build of $n files: $(tail -n 1 "$d/build.log")"; continue; }
    if ! (cd "$d/nocache" && "$MIGRUN" apply "$d/plan.migb" --db "sqlite:$d/db.sqlite" --journal "$d/j.db" >"$d/apply.log" 2>&1); then
        bad "apply of $n files: $(tail -n 1 "$d/apply.log")"
        continue
    fi
done

# the same answer from the .migb, the sources, and the cache (filled by the first status there)
d=$tmp/n40
st() { "$MIGRUN" status "$@" --db "sqlite:$d/db.sqlite" --journal "$d/j.db"; }
for fmt in text json; do
    j=; [ "$fmt" = json ] && j=--json
    (cd "$d/nocache" && st "$d/plan.migb" $j >"$d/migb.$fmt" 2>&1)
    (cd "$d/nocache" && st "$d/mig" $j >"$d/src.$fmt" 2>&1)
    (cd "$d/cache" && st "$d/mig" $j >"$d/fill.$fmt" 2>&1 && st "$d/mig" $j >"$d/cached.$fmt" 2>&1)
    lines=$(grep -c 'applied' "$d/migb.$fmt")
    if [ "$lines" -ge 6000 ] && cmp -s "$d/migb.$fmt" "$d/src.$fmt" && cmp -s "$d/migb.$fmt" "$d/cached.$fmt"; then
        ok "status ($fmt) of 6,000 applied steps: the same from the .migb, the sources and the cache"
    else
        bad "status ($fmt): $lines lines saying applied (want 6,000 or more), or outputs differ: $(diff "$d/migb.$fmt" "$d/cached.$fmt" | head -n 3)"
    fi
done
n=$(ls "$d/cache/.migrun/cache" | grep -c '\.migb$')
if [ "$n" = 1 ]; then ok "one compilation in the cache"; else bad "$n compilations in the cache, want 1"; fi

for how in migb cache; do
    set --
    for n in 20 40; do
        dd=$tmp/n$n
        if [ "$how" = migb ]; then
            t=$(cd "$dd/nocache" && cpu status "$dd/plan.migb" --db "sqlite:$dd/db.sqlite" --journal "$dd/j.db")
        else
            (cd "$dd/cache" && "$MIGRUN" status "$dd/mig" --db "sqlite:$dd/db.sqlite" --journal "$dd/j.db" >/dev/null 2>&1)
            t=$(cd "$dd/cache" && cpu status "$dd/mig" --db "sqlite:$dd/db.sqlite" --journal "$dd/j.db")
        fi
        set -- "$@" "$t"
    done
    echo "     status from the $how: 3,000 steps ${1} s CPU, 6,000 steps ${2} s"
    if lt3x "$1" "$2"; then
        ok "status from the $how: 6,000 applied steps take less than 3x the CPU time of 3,000"
    else
        bad "status from the $how: 6,000 applied steps took ${2} s of CPU, 3,000 ${1} s: more than 3x (quadratic?), or a run failed"
    fi
done

# a source edited in place to other bytes of the same size, its mtime put
# back: the cache must not answer with the old compilation
f=$d/mig/m0030.mig
touch -r "$f" "$tmp/stamp"
size=$(wc -c <"$f")
sed -i 's/row 30001/ROW 30001/' "$f"
touch -r "$tmp/stamp" "$f"
(cd "$d/cache" && st "$d/mig" >"$d/edited.text" 2>&1)
if [ "$(wc -c <"$f")" = "$size" ] && grep -q '^  drifted  main.s01' "$d/edited.text" &&
    [ "$(ls "$d/cache/.migrun/cache" | grep -c '\.migb$')" = 2 ]; then
    ok "a source edited to the same size and mtime is compiled again: status says drifted"
else
    bad "a source edited to the same size and mtime: no drift said, or no new compilation: $(grep -m1 'main.s01' "$d/edited.text")"
fi

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
