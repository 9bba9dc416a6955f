#!/usr/bin/env bash
# summary.sh BUILDDIR — adds up the test cases of every test program's log
# (Criterion's "Synthesis" line, or a script's "N passed, M failed" line)
# and prints the total as the last line of the test run.
set -u
build=${1:?usage: summary.sh BUILDDIR}
pass=0 fail=0
while IFS= read -r log; do
    line=$(grep -E 'Synthesis: Tested:|^[0-9]+ passed, [0-9]+ failed' "$log" | tail -n 1)
    if [[ $line =~ Passing:\ ([0-9]+)\ \|\ Failing:\ ([0-9]+)\ \|\ Crashing:\ ([0-9]+) ]]; then
        pass=$((pass + BASH_REMATCH[1]))
        fail=$((fail + BASH_REMATCH[2] + BASH_REMATCH[3]))
    elif [[ $line =~ ^([0-9]+)\ passed,\ ([0-9]+)\ failed ]]; then
        pass=$((pass + BASH_REMATCH[1]))
        fail=$((fail + BASH_REMATCH[2]))
    else
        echo "no result in $log" >&2
        fail=$((fail + 1))
    fi
done < <(find "$build/tests" -name '*.log' ! -name 'test-suite.log' | sort)
echo "$pass passed, $fail failed"
