# standin.sh — sourced by the stand-ins in this folder (systemctl, curl,
# kubectl, redis-cli, docker-compose). tests/e2e/guides.sh puts the folder
# first on PATH so that the upgrade samples' commands land here instead of
# on the system: a stand-in appends one line "NAME ARGS…" to the file named
# by $MIG_CALLS, answers as the real tool would in the simplest case, and
# never touches anything else. State (which units run) is kept in the
# folder "$MIG_CALLS.state".
#
#   MIG_CALLS      the calls file; without it a stand-in refuses (exit 127),
#                  so that it cannot be mistaken for the real tool
#   MIG_FAIL       an extended regex: a call whose line matches fails (exit 1)
#   MIG_FAIL_TIMES with MIG_FAIL: only the first N matching calls fail
#   MIG_UNHEALTHY  an extended regex: curl fails on a URL that matches
#                  (exit 22, as curl -f on an HTTP error)

standin_name=${0##*/}
if [ -z "${MIG_CALLS:-}" ]; then
    echo "$standin_name: this is the test stand-in (tests/standins), not the real $standin_name: MIG_CALLS is not set" >&2
    exit 127
fi
standin_line="$standin_name $*"
printf '%s\n' "$standin_line" >>"$MIG_CALLS"
STATE="$MIG_CALLS.state"
mkdir -p "$STATE"
if [ -n "${MIG_FAIL:-}" ] && printf '%s\n' "$standin_line" | grep -Eq -- "$MIG_FAIL"; then
    failed=$(cat "$STATE/failed" 2>/dev/null || echo 0)
    if [ -z "${MIG_FAIL_TIMES:-}" ] || [ "$failed" -lt "$MIG_FAIL_TIMES" ]; then
        echo $((failed + 1)) >"$STATE/failed"
        echo "$standin_name: failing as MIG_FAIL asks ($standin_line)" >&2
        exit 1
    fi
fi
