#!/usr/bin/env bash
# dev.sh — the two commands of the README quick start, runnable as root on a
# fresh Debian 12 machine (or as a user with sudo):
#   ./dev.sh demo    install what is missing, build, run the main job on SQLite
#   ./dev.sh test    install what is missing, build, run every test
# and, for developers:
#   ./dev.sh build | distcheck
set -euo pipefail
cd "$(dirname "$0")"
TOP=$PWD
BUILD=$TOP/build

PKGS=(build-essential flex bison autoconf automake libtool pkg-config
      libpq-dev libsqlite3-dev libcriterion-dev libssl-dev libjansson-dev libinih-dev
      postgresql postgresql-common pgbouncer sqlite3 python3 strace)

install_missing() {
    local missing=() p
    for p in "${PKGS[@]}"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    echo "dev.sh: installing ${missing[*]}"
    local sudo=()
    [ "$(id -u)" -eq 0 ] || sudo=(sudo)
    "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -q
    "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
}

build() {
    if [ ! -x configure ] || [ configure.ac -nt configure ] || [ Makefile.am -nt Makefile.in ]; then
        autoreconf -fi
    fi
    mkdir -p "$BUILD"
    if [ ! -f "$BUILD/Makefile" ]; then
        (cd "$BUILD" && "$TOP/configure" ${CONFIGURE_FLAGS:-})
    fi
    make -C "$BUILD" -j"$(nproc)"
}

# PostgreSQL tests run against a throwaway cluster that pg_virtualenv makes
# (and removes) around the whole test run.
run_tests() {
    local rc=0
    # results of earlier runs must not be counted again
    find "$BUILD/tests" \( -name '*.log' -o -name '*.trs' \) -delete 2>/dev/null || true
    pg_virtualenv -t make -C "$BUILD" -j"$(nproc)" check || rc=$?
    if [ $rc -ne 0 ]; then
        # show what failed: the harness keeps each test's output in its .log
        local trs
        for trs in $(grep -l -E '^:test-result: (FAIL|ERROR)' \
                     $(find "$BUILD/tests" -name '*.trs') 2>/dev/null || true); do
            echo "==== ${trs%.trs}.log"
            cat "${trs%.trs}.log"
        done
    fi
    bash "$TOP/tests/summary.sh" "$BUILD"
    return $rc
}

# The main job on an embedded default: the Keiko and Kaizen samples applied
# to a fresh SQLite file, shown, and rolled back.
demo() {
    local migc=$BUILD/migc migrun=$BUILD/migrun work=$BUILD/demo
    local samples=(samples/keiko-v1-base.mig samples/keiko-v2.mig
                   samples/kaizen-billing-base.mig samples/kaizen-external-agents.mig)
    rm -rf "$work"
    mkdir -p "$work"
    local db="sqlite:$work/app.db" journal="$work/journal.db"
    echo "== migc check samples/"
    "$migc" check samples/ && echo "clean"
    echo
    echo "== migc build → $work/plan.migb"
    "$migc" build "${samples[@]}" -o "$work/plan.migb"
    echo
    echo "== migrun apply (to $db)"
    "$migrun" apply "$work/plan.migb" --db "$db" --journal "$journal"
    echo
    echo "== migrun status"
    "$migrun" status "$work/plan.migb" --db "$db" --journal "$journal"
    echo
    echo "== the tables now"
    sqlite3 "$work/app.db" "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name"
    echo
    echo "== migrun rollback --all"
    "$migrun" rollback --all --db "$db" --journal "$journal"
    echo
    echo "== migrun log"
    "$migrun" log --db "$db" --journal "$journal" | head -n 12
    echo "…"
    echo
    echo "== the tables after the rollback"
    sqlite3 "$work/app.db" "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name"
}

case "${1:-}" in
    demo) install_missing; build; demo ;;
    test) install_missing; build; run_tests ;;
    build) install_missing; build ;;
    distcheck) install_missing; build; pg_virtualenv -t make -C "$BUILD" distcheck ;;
    *) echo "usage: $0 demo|test|build|distcheck" >&2; exit 2 ;;
esac
