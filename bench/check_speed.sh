#!/usr/bin/env bash
# check_speed.sh [MIGC] — how fast `migc check` is (issue 14, item 4):
#  1. 1,000 and 10,000 generated files (gen_migrations.sh): wall time
#     (median of 5 runs), CPU time (user + system, median), MB/s of source,
#     peak RSS;
#  2. one file of N guarded migrations (`import std;`, each step
#     `when not std.table_exists("tK")`), N = 1,000 … 10,000: the case an
#     editor re-checks on every keystroke, which must stay linear;
#  3. against squawk (npm squawk-cli, installed into bench/.tools when npm is
#     there) on the same 1,000 migrations of gen.py: migc on its .mig files,
#     squawk on the same SQL as plain files.
# A benchmark, not a test: run it by hand, on an idle machine.
# CHECK_SPEED_ONLY=files|single|squawk runs one part.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
migc=${1:-$here/../migc}
[ -x "$migc" ] || migc=$here/../build/migc
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
only=${CHECK_SPEED_ONLY:-}

# run5 CMD... — sets MED_WALL, MED_CPU (seconds, medians of 5) and RSS (KiB, the largest)
run5() {
    python3 - "$@" <<'EOF' >"$work/run5"
import resource, subprocess, sys, time
walls, cpus = [], []
for _ in range(5):
    b = resource.getrusage(resource.RUSAGE_CHILDREN)
    s = time.monotonic()
    subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    walls.append(time.monotonic() - s)
    a = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpus.append(a.ru_utime - b.ru_utime + a.ru_stime - b.ru_stime)
walls.sort(); cpus.sort()
print(f"{walls[2]:.3f} {cpus[2]:.3f} {resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss}")
EOF
    read -r MED_WALL MED_CPU RSS <"$work/run5"
}

if [ -z "$only" ] || [ "$only" = files ]; then
    echo "== files (gen_migrations.sh)"
    printf '%-8s %10s %10s %10s %10s %10s\n' files bytes wall_s cpu_s MB/s peak_KiB
    for n in 1000 10000; do
        "$here/gen_migrations.sh" "$n" "$work/$n"
        bytes=$(cat "$work/$n"/*.mig | wc -c)
        "$migc" check "$work/$n" >/dev/null   # warm the page cache; must be clean
        run5 "$migc" check "$work/$n"
        mbs=$(echo "$bytes / 1048576 / $MED_WALL" | bc -l)
        printf '%-8s %10s %10.3f %10.3f %10.1f %10s\n' "$n" "$bytes" "$MED_WALL" "$MED_CPU" "$mbs" "$RSS"
    done
fi

if [ -z "$only" ] || [ "$only" = single ]; then
    echo "== one file of N guarded migrations"
    printf '%-8s %10s %10s %10s %10s\n' N bytes wall_s cpu_s peak_KiB
    for n in 1000 2000 4000 8000 10000; do
        f=$work/single$n.mig
        python3 - "$n" "$f" <<'EOF'
import sys
n, path = int(sys.argv[1]), sys.argv[2]
with open(path, "w") as f:
    f.write("import std;\n")
    for k in range(1, n + 1):
        f.write(f'migration m{k} {{\n  phase p {{\n    step s {{\n'
                f'      when not std.table_exists("t{k}");\n'
                f'      up sql {{ CREATE TABLE t{k} (id int); }}\n'
                f'      down sql {{ DROP TABLE t{k}; }}\n    }}\n  }}\n}}\n')
EOF
        run5 "$migc" check "$f"
        printf '%-8s %10s %10.3f %10.3f %10s\n' "$n" "$(wc -c <"$f")" "$MED_WALL" "$MED_CPU" "$RSS"
    done
fi

if [ -z "$only" ] || [ "$only" = squawk ]; then
    echo "== against squawk, 1,000 migrations (gen.py)"
    tools=$here/.tools
    if [ ! -e "$tools/node_modules/.bin/squawk" ] && command -v npm >/dev/null; then
        mkdir -p "$tools" && (cd "$tools" && npm install --silent squawk-cli >/dev/null 2>&1) ||
            echo "note: could not install squawk-cli from npm" >&2
    fi
    # squawk's own binary (the npm package's node wrapper only adds node's start)
    squawk=$tools/node_modules/@squawk-cli/linux-x64/bin/squawk
    [ -x "$squawk" ] || squawk=$tools/node_modules/.bin/squawk
    python3 "$here/gen.py" 1000 "$work/g" >/dev/null
    printf '%-8s %10s %10s %10s\n' tool wall_s cpu_s peak_KiB
    run5 "$migc" check "$work/g/mig"
    printf '%-8s %10.3f %10.3f %10s\n' migc "$MED_WALL" "$MED_CPU" "$RSS"
    if [ -x "$squawk" ]; then
        (cd "$work/g/sqitch-pg/deploy" && run5 "$squawk" ./*.sql &&
            printf '%-8s %10.3f %10.3f %10s\n' squawk "$MED_WALL" "$MED_CPU" "$RSS")
    else
        echo "squawk: not installed (npm install squawk-cli into bench/.tools)"
    fi
fi
