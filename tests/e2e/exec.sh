#!/usr/bin/env bash
# exec.sh — steps that run commands (LANGUAGE.md §3, issue 12 item 6) end to
# end through the real migrun: bad input and faults — a program not found,
# not executable, exiting non-zero, killed by a signal, past its timeout,
# printing megabytes, reading stdin; migrun itself interrupted or killed
# while a command runs; a down command failing (exit 4), `optional`, `down
# none`; no --allow-exec; hostile param values in argv — each checked in the
# database, the tracking table mig_applied, the journal and the messages.
#
# Cases x_* run on SQLite and, side by side, on the PostgreSQL server of
# pg_virtualenv, xsq_* on SQLite only, xpg_* on PostgreSQL only. Without a
# server the PostgreSQL part fails: nothing is skipped for want of one.
# MIG_CASES=REGEX runs the cases whose names match.
DIALECT=sqlite
. "$(dirname "$0")/lib.sh"

now_ms() { echo $(($(date +%s%N) / 1000000)); }

# tracked — how many rows the tracking table holds (0 when it does not exist)
tracked() {
    if [ "$(has_table mig_applied)" = 1 ]; then q "SELECT count(*) FROM mig_applied"; else echo 0; fi
}

# status_of STEP — its status in mig_applied ("" when it has no row)
status_of() { q "SELECT status FROM mig_applied WHERE step = '$1'"; }

# line_of TEXT — the first line of m.mig holding TEXT
line_of() { grep -n -F -- "$1" m.mig | head -n 1 | cut -d: -f1; }

# start_bg OUTFILE COMMAND... — runs a command in the background with SIGINT
# and SIGTERM at their defaults (a non-interactive shell starts background
# jobs with SIGINT ignored); its pid in $BG
start_bg() {
    local out=$1
    shift
    env --default-signal=INT,TERM "$@" >"$out" 2>&1 &
    BG=$!
}

# wait_until SECONDS COMMAND... — polls every 0.1 s
wait_until() {
    local limit=$(($1 * 10)) i
    shift
    for ((i = 0; i < limit; i++)); do
        "$@" 2>/dev/null && return 0
        sleep 0.1
    done
    return 1
}

# group_alive PGID — the live processes (zombies aside) of a process group
group_alive() { ps -eo pid=,pgid=,stat=,args= | awk -v g="$1" '$2 == g && $3 !~ /^Z/'; }
group_gone() { [ -z "$(group_alive "$1")" ]; }

# check_group_gone PGID WHAT — within 2 s no process of the group is left;
# whatever is left is named, then killed (it was started by this case)
check_group_gone() {
    local g=$1 what=$2
    if [ -z "$g" ]; then
        echo "    check failed: $what (the command never wrote its process group id)"
        touch "$CASE_DIR/.failed"
        return
    fi
    if ! wait_until 2 group_gone "$g"; then
        echo "    check failed: $what; still running:"
        group_alive "$g" | sed 's/^/      | /'
        touch "$CASE_DIR/.failed"
        kill -KILL -- "-$g" 2>/dev/null
    fi
}

# stop_bg PID SECONDS — waits for a background migrun to end (killing it
# after SECONDS); its exit status in $BG_RC
stop_bg() {
    local pid=$1 limit=$(($2 * 10)) i
    for ((i = 0; i < limit; i++)); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    if kill -0 "$pid" 2>/dev/null; then
        echo "    migrun still running $2 s later"
        touch "$CASE_DIR/.failed"
        kill -KILL "$pid"
    fi
    wait "$pid"
    BG_RC=$?
}

# json_has TEXT1 TEXT2 — some line of $OUT holds both (JSON events: one a line)
json_has() { printf '%s\n' "$OUT" | grep -F -- "$1" | grep -qF -- "$2"; }
# json_run_has N TEXT — the `run` event of run N holds TEXT
json_run_has() { printf '%s\n' "$OUT" | grep -F '"event":"run"' | grep -E "\"run\":$1[,}]" | grep -qF -- "$2"; }

# the last run's outcome in the target's mig_runs
last_outcome() { q "SELECT outcome FROM mig_runs ORDER BY run DESC LIMIT 1"; }

# a stand-in command: argdump TAG ARGS... writes its arguments
# (NUL-separated) to TAG.args, its environment (env -0) to TAG.env and its
# working directory to TAG.cwd, in $ARGDUMP_DIR
write_argdump() {
    cat > argdump <<'SH'
#!/bin/sh
tag=$1
shift
d=${ARGDUMP_DIR:-.}
printf '%s\0' "$@" > "$d/$tag.args"
env -0 > "$d/$tag.env"
pwd > "$d/$tag.cwd"
SH
    chmod +x argdump
}

# env_of TAG NAME — the value of NAME in TAG.env
env_of() { tr '\0' '\n' < "$1.env" | sed -n "s/^$2=//p"; }

# ---- --allow-exec ----------------------------------------------------------------

x_refused_without_allow_exec_lists_each_command() {
    cat > m.mig <<'MIG'
migration ops {
  require exec ["sh", "-c", "echo ran > require.ran"] else "a command in a require";
  phase schema {
    step t { up sql { CREATE TABLE t (x integer); } down sql { DROP TABLE t; } }
  }
  phase prepare {
    transaction step;
    step marker {
      up   exec ["sh", "-c", "echo up >> calls.log"];
      down exec ["sh", "-c", "echo down >> calls.log"];
      verify exec ["test", "-f", "calls.log"];
    }
    assert exec ["sh", "-c", "echo ran > assert.ran"] else "a command in an assert";
  }
}
MIG
    local lr lu ld lv la
    lr=$(line_of 'require.ran') lu=$(line_of 'echo up') ld=$(line_of 'echo down') lv=$(line_of 'verify exec')
    la=$(line_of 'assert.ran')
    expect_exit 3 "$MIGRUN" apply m.mig --db $URL
    check "names the require's command at m.mig:$lr" contains "m.mig:$lr: this plan runs a command: exec [\"sh\", \"-c\""
    check "names the up at m.mig:$lu" contains "m.mig:$lu: this plan runs a command"
    check "names the down at m.mig:$ld" contains "m.mig:$ld: this plan runs a command"
    check "names the verify at m.mig:$lv" contains "m.mig:$lv: this plan runs a command"
    check "names the assert at m.mig:$la" contains "m.mig:$la: this plan runs a command"
    check "counts them and says how to allow them" contains "refused: the plan runs 5 commands; give --allow-exec (or MIGRUN_ALLOW_EXEC=1)"
    check "says nothing was changed" contains "nothing was changed"
    check "no command ran (not even the require's)" test ! -e require.ran -a ! -e calls.log -a ! -e assert.ran
    check "the target is untouched: no tracking table" db_untouched
    MIGRUN_ALLOW_EXEC=0 expect_exit 3 "$MIGRUN" apply m.mig --db $URL
    check "MIGRUN_ALLOW_EXEC=0 does not allow" contains "this plan runs a command"
    expect_exit 3 "$MIGRUN" apply m.mig --db $URL --json
    check "--json: the refusal as an error event" json_has '"event":"error"' 'this plan runs a command'
    check "still nothing ran" test ! -e require.ran -a ! -e calls.log -a ! -e assert.ran
    check "still untouched" db_untouched
    # MIGRUN_ALLOW_EXEC=1 allows
    MIGRUN_ALLOW_EXEC=1 expect_exit 0 "$MIGRUN" apply m.mig --db $URL
    check "the require's command ran" test -e require.ran
    check "the up ran" test "$(cat calls.log)" = up
    check "the assert's command ran" test -e assert.ran
    check "marker recorded with a command down" test "$(q "SELECT status || ',' || down_kind FROM mig_applied WHERE step = 'marker'")" = "applied,exec"
    # rollback refuses the command down, before any change
    local applied runs
    applied=$(snapshot)
    runs=$(q "SELECT count(*) FROM mig_runs")
    expect_exit 3 "$MIGRUN" rollback --db $URL
    check "rollback names the down with its file and line" contains "m.mig:$((lu - 1)): the down of ops.prepare.marker runs a command"
    check "rollback shows the recorded command" contains '"argv":["sh","-c","echo down >> calls.log"]'
    check "rollback says commands need --allow-exec" contains "rollback refused (commands need --allow-exec): nothing was changed"
    check "rollback changed nothing" test "$(snapshot)" = "$applied"
    check "no run recorded for the refused rollback" test "$(q "SELECT count(*) FROM mig_runs")" = "$runs"
    check "the down did not run" test "$(cat calls.log)" = up
    expect_exit 0 "$MIGRUN" rollback --db $URL --allow-exec
    check "the down ran" test "$(tail -n 1 calls.log)" = down
    check "t is gone" test "$(has_table t)" = 0
    check "nothing tracked" test "$(tracked)" = 0
}

xsq_plan_runs_no_command() {
    cat > m.mig <<'MIG'
migration ops {
  require exec ["sh", "-c", "echo ran > require.ran"] else "a command in a require";
  phase prepare {
    transaction step;
    step marker {
      when exec ["sh", "-c", "echo ran > when.ran"];
      up   exec ["sh", "-c", "echo up >> calls.log"];
      down exec ["sh", "-c", "echo down >> calls.log"];
    }
  }
}
MIG
    # plan needs no --allow-exec, runs nothing, and does not call a
    # condition it could not evaluate false
    expect_exit 0 "$MIGRUN" plan m.mig --db $URL
    check "lists the rendered command" contains "sh -c 'echo up >> calls.log'"
    check "shows the require as not evaluated" contains "not evaluated (plan runs no command): exec sh -c 'echo ran > require.ran'"
    check "does not call the require failed" not_contains "require failed"
    check "shows the when as not evaluated" contains "not evaluated (plan runs no command): exec sh -c 'echo ran > when.ran'"
    check "does not call the when false" not_contains "when is false"
    check "ran nothing" test ! -e require.ran -a ! -e when.ran -a ! -e calls.log
    check "created nothing" db_untouched
}

xsq_assert_only_phase_runs_its_command() {
    cat > m.mig <<'MIG'
migration ops {
  phase schema {
    step t { up sql { CREATE TABLE t (x integer); } down sql { DROP TABLE t; } }
  }
  phase health {
    transaction none;
    assert exec ["sh", "-c", "echo ran > assert.ran; exit 1"] else "the service is not healthy";
  }
}
MIG
    expect_exit 1 "$MIGRUN" apply m.mig --db $URL --allow-exec
    check "the assert's command ran" test -e assert.ran
    check "the assert failed" contains "assert failed: the service is not healthy"
    check "t undone" test "$(has_table t)" = 0
    check "nothing tracked" test "$(tracked)" = 0
}

# ---- programs that cannot start, or fail --------------------------------------

# write_two_phases UP — a SQL phase, a phase whose first step runs a command
# with a down, then the step `bad` with the given up and its own down
write_two_phases() {
    cat > m.mig <<MIG
migration ops {
  phase schema {
    step t { up sql { CREATE TABLE t (x integer); } down sql { DROP TABLE t; } }
  }
  phase prepare {
    transaction step;
    step marker {
      up   exec ["sh", "-c", "echo up >> calls.log"];
      down exec ["sh", "-c", "echo down-marker >> calls.log"];
    }
    step bad {
      up   $1;
      down exec ["sh", "-c", "echo down-bad >> calls.log"];
    }
  }
}
MIG
}

# after_clean_failure — what a failure undone cleanly leaves: t gone,
# nothing tracked, the run rolled back (target and journal)
after_clean_failure() {
    check "t undone" test "$(has_table t)" = 0
    check "no record of the failed step (nor of the others) remains" test "$(tracked)" = 0
    check "the target's run is rolled_back" test "$(last_outcome)" = rolled_back
    expect_exit 0 "$MIGRUN" log --db $URL --json
    check "the journal's run is rolled_back" json_has '"event":"run"' '"outcome":"rolled_back"'
    check "the journal shows marker undone" json_has '"step":"marker"' '"action":"undone"'
}

x_program_not_found() {
    write_two_phases 'exec ["no-such-program-mig", "--flag"]'
    local l
    l=$(line_of 'no-such-program-mig')
    expect_exit 1 "$MIGRUN" apply m.mig --db $URL --allow-exec
    check "names the program and the cause" contains "the command failed: cannot start no-such-program-mig: No such file or directory"
    check "names the file, line, migration, phase and step" contains "at m.mig:$l, migration ops, phase prepare, step bad"
    check "the step is reported failed" contains "failed       prepare.bad"
    check "the earlier command's down ran; the down of the step that never started did not" \
        test "$(tr '\n' ' ' < calls.log)" = "up down-marker "
    check "says it rolled back" contains "rolled back: ops is as it was before this run"
    after_clean_failure
    # an absolute path that does not exist, and a cwd that does not exist
    write_two_phases 'exec ["/nonexistent/bin/tool"]'
    expect_exit 1 "$MIGRUN" apply m.mig --db $URL --allow-exec
    check "an absolute path: named" contains "cannot start /nonexistent/bin/tool: No such file or directory"
    write_two_phases 'exec ["true"] cwd "no-such-dir"'
    expect_exit 1 "$MIGRUN" apply m.mig --db $URL --allow-exec
    check "a missing cwd: named as such" contains "cannot start true: its cwd does not exist"
    check "still nothing tracked" test "$(tracked)" = 0
}

xsq_program_not_executable() {
    printf '#!/bin/sh\necho should not run >> calls.log\n' > tool.sh
    chmod 644 tool.sh
    mkdir adir
    write_two_phases 'exec ["./tool.sh"]'
    expect_exit 1 "$MIGRUN" apply m.mig --db $URL --allow-exec
    check "names the program and the cause" contains "the command failed: cannot start ./tool.sh: Permission denied"
    check "it did not run, and its down did not either" test "$(tr '\n' ' ' < calls.log)" = "up down-marker "
    after_clean_failure
    write_two_phases 'exec ["./adir"]'
    expect_exit 1 "$MIGRUN" apply m.mig --db $URL --allow-exec
    check "a directory: Permission denied" contains "cannot start ./adir: Permission denied"
    check "nothing tracked" test "$(tracked)" = 0
}

x_exit_status_fails_the_step_and_its_down_runs() {
    write_two_phases 'exec ["sh", "-c", "echo partial >> calls.log; echo half done; echo oops >&2; exit 7"]'
    local l
    l=$(line_of 'exit 7')
    expect_exit 1 "$MIGRUN" apply m.mig --db $URL --allow-exec
    check "names the cause: exit status 7" contains "the command failed: exit status 7"
    check "names the file and line" contains "at m.mig:$l, migration ops, phase prepare, step bad"
    check "its stdout is shown with the prefix" contains "    | half done"
    check "its stderr is shown with the prefix" contains "    | oops"
    # a command that ran may have done part of its work: its down runs too, first
    check "the failed step's down ran, then the earlier one's" \
        test "$(tr '\n' ' ' < calls.log)" = "up partial down-bad down-marker "
    after_clean_failure
    # --on-error stop: the step that ran stays recorded as running, for its down
    : > calls.log
    expect_exit 1 "$MIGRUN" apply m.mig --db $URL --allow-exec --on-error stop
    check "--on-error stop: exit status named" contains "exit status 7"
    check "--on-error stop: the failed step stays recorded as running" test "$(status_of bad)" = running
    check "--on-error stop: marker stays applied" test "$(status_of marker)" = applied
    check "--on-error stop: no down ran" test "$(tr '\n' ' ' < calls.log)" = "up partial "
    expect_exit 0 "$MIGRUN" status m.mig --db $URL
    check "status shows the step as running" contains "running"
    expect_exit 0 "$MIGRUN" rollback --db $URL --allow-exec
    check "rollback ran the running step's down, then marker's" \
        test "$(tr '\n' ' ' < calls.log)" = "up partial down-bad down-marker "
    check "rolled back: nothing tracked" test "$(tracked)" = 0
    check "rolled back: t gone" test "$(has_table t)" = 0
}

xsq_killed_by_a_signal() {
    write_two_phases 'exec ["sh", "-c", "echo partial >> calls.log; kill -SEGV $$"]'
    expect_exit 1 "$MIGRUN" apply m.mig --db $URL --allow-exec
    check "names the signal: killed by SIGSEGV" contains "the command failed: killed by SIGSEGV"
    check "not the shell's status for it" not_contains "exit status 139"
    check "the downs ran" test "$(tr '\n' ' ' < calls.log)" = "up partial down-bad down-marker "
    after_clean_failure
    write_two_phases 'exec ["sh", "-c", "kill -KILL $$"]'
    expect_exit 1 "$MIGRUN" apply m.mig --db $URL --allow-exec
    check "names the signal: killed by SIGKILL" contains "the command failed: killed by SIGKILL"
    check "nothing tracked" test "$(tracked)" = 0
}

# ---- timeouts ----------------------------------------------------------------------

xsq_timeout_kills_the_whole_group() {
    write_two_phases 'exec ["sh", "-c", "echo $$ > pgid; sleep 30 & sleep 30; wait", "exec-marker-timeout"] timeout 300ms'
    local t0 t1
    t0=$(now_ms)
    expect_exit 1 "$MIGRUN" apply m.mig --db $URL --allow-exec
    t1=$(now_ms)
    check "names the timeout as written" contains "the command failed: timed out after 300ms"
    check "a group that obeys SIGTERM ends at once ($((t1 - t0)) ms)" test $((t1 - t0)) -lt 4000
    check_group_gone "$(cat pgid 2>/dev/null)" "no process of the command's group (its background sleep included) survives"
    check "the downs ran" test "$(tr '\n' ' ' < calls.log)" = "up down-bad down-marker "
    after_clean_failure
}

xsq_timeout_then_sigkill_5s_later() {
    # the shell and its children ignore SIGTERM: SIGKILL ends them 5 s later
    write_two_phases "exec [\"sh\", \"-c\", \"echo \$\$ > pgid; trap '' TERM; sleep 30 & sleep 30; wait\"] timeout 1s"
    local t0 t1
    t0=$(now_ms)
    expect_exit 1 "$MIGRUN" apply m.mig --db $URL --allow-exec
    t1=$(now_ms)
    check "names the timeout" contains "the command failed: timed out after 1s"
    check "SIGKILL came about 5 s after SIGTERM ($((t1 - t0)) ms in all)" test $((t1 - t0)) -ge 5900 -a $((t1 - t0)) -lt 10000
    check_group_gone "$(cat pgid 2>/dev/null)" "no process of the command's group survives SIGKILL"
    check "nothing tracked" test "$(tracked)" = 0
}

# ---- output and input -------------------------------------------------------------

xsq_megabytes_of_output() {
    cat > m.mig <<'MIG'
migration ops {
  phase p {
    transaction step;
    step loud {
      up exec ["sh", "-c", "head -c 1000000 /dev/zero | tr '\\0' e >&2; sleep 0.3; seq -f 'line %06g of the output' 1 100000; head -c 10000 /dev/zero | tr '\\0' x; echo; echo END-OF-OUTPUT"];
      down none "nothing to undo";
    }
  }
}
MIG
    local t0 t1
    t0=$(now_ms)
    "$MIGRUN" apply m.mig --db $URL --allow-exec >out.txt 2>err.txt
    local rc=$?
    t1=$(now_ms)
    check "exit 0 (got $rc)" test "$rc" = 0
    check "within 20 s ($((t1 - t0)) ms)" test $((t1 - t0)) -lt 20000
    check "every stdout line shown once, with the prefix" test "$(grep -c '^    | line [0-9]\{6\} of the output$' out.txt)" = 100000
    check "in order" test "$(grep -m 1 '^    | line' out.txt)" = "    | line 000001 of the output"
    check "a 10,000-byte line is shown in pieces of 4096" \
        test "$(grep '^    | xx*$' out.txt | awk '{ print length($0) - 6 }' | tr '\n' ' ')" = "4096 4096 1808 "
    check "all of stderr's megabyte is shown" test "$(grep '^    | ee*$' out.txt | tr -d ' |\n' | wc -c)" = 1000000
    check "the last line is shown" grep -qx '    | END-OF-OUTPUT' out.txt
    check "the step is applied" test "$(status_of loud)" = applied
    # the journal keeps the last 8 KiB, in entries.output
    check "the journal keeps exactly 8 KiB" \
        test "$(sqlite3 .migrun/journal.db "SELECT length(output) FROM entries WHERE step = 'loud' AND action = 'applied'")" = 8192
    check "the journal keeps the end of the output" \
        test "$(sqlite3 .migrun/journal.db "SELECT substr(output, -14) = 'END-OF-OUTPUT' || char(10) FROM entries WHERE step = 'loud' AND action = 'applied'")" = 1
    # --json: one output event per line
    rm -f db.sqlite
    "$MIGRUN" apply m.mig --db $URL --allow-exec --json >out.json 2>&1
    check "--json: every stdout line is an output event" \
        test "$(grep '"event":"output"' out.json | grep -c '"line":"line [0-9]\{6\} of the output"')" = 100000
    check "--json: every line is JSON" test "$(grep -vc '^{.*}$' out.json)" = 0
}

xsq_output_not_utf8_is_shown() {
    cat > m.mig <<'MIG'
migration ops {
  phase p {
    transaction step;
    step bytes {
      up exec ["sh", "-c", "printf 'first line\\nbad \\377\\376 bytes\\nlast line\\n'"];
      down none "nothing to undo";
    }
  }
}
MIG
    expect_exit 0 "$MIGRUN" apply m.mig --db $URL --allow-exec
    check "text: every line shown" test "$(printf '%s\n' "$OUT" | grep -c '^    | ')" = 3
    rm -f db.sqlite
    expect_exit 0 "$MIGRUN" apply m.mig --db $URL --allow-exec --json
    check "--json: the line before" json_has '"event":"output"' 'first line'
    check "--json: a line that is not UTF-8 is not lost" json_has '"event":"output"' 'bytes'
    check "--json: the line after" json_has '"event":"output"' 'last line'
    check "--json: every line is JSON" test "$(printf '%s\n' "$OUT" | grep -vc '^{.*}$')" = 0
}

xsq_stdin_is_dev_null() {
    cat > m.mig <<'MIG'
migration ops {
  phase p {
    transaction step;
    step reads {
      up   exec ["sh", "-c", "readlink /proc/self/fd/0 > up.stdin; cat > up.got"];
      down exec ["sh", "-c", "readlink /proc/self/fd/0 > down.stdin; cat > down.got"];
    }
  }
}
MIG
    # migrun's stdin: a FIFO that holds a line and never ends — a command
    # that inherited it would read the line and then wait forever
    mkfifo in.fifo
    exec 7<>in.fifo
    echo typed-by-someone >&7
    local t0 t1
    t0=$(now_ms)
    expect_exit 0 timeout 20 "$MIGRUN" apply m.mig --db $URL --allow-exec <&7
    check "the up's stdin is /dev/null" test "$(cat up.stdin)" = /dev/null
    check "the up read nothing" test -e up.got -a ! -s up.got
    expect_exit 0 timeout 20 "$MIGRUN" rollback --db $URL --allow-exec <&7
    t1=$(now_ms)
    check "the down's stdin is /dev/null" test "$(cat down.stdin)" = /dev/null
    check "the down read nothing" test -e down.got -a ! -s down.got
    check "no command waited for input ($((t1 - t0)) ms)" test $((t1 - t0)) -lt 10000
    check "migrun's input is still there, unread" test "$(timeout 2 head -n 1 <&7)" = typed-by-someone
    exec 7<&-
}

# ---- a command's leftovers ----------------------------------------------------------

xsq_command_exit_ends_its_leftovers() {
    # the command exits at once, leaving a background process that holds
    # its stdout: migrun does not wait for that process, and it goes with
    # the command's group
    cat > m.mig <<'MIG'
migration ops {
  phase p {
    transaction step;
    step starts {
      up   exec ["sh", "-c", "echo $$ > pgid; sleep 6 & echo started"];
      down none "nothing to undo";
    }
  }
}
MIG
    local t0 t1
    t0=$(now_ms)
    expect_exit 0 "$MIGRUN" apply m.mig --db $URL --allow-exec
    t1=$(now_ms)
    check "the output is shown" contains "    | started"
    check "apply ends when the command does, not with its leftover ($((t1 - t0)) ms)" test $((t1 - t0)) -lt 4000
    check_group_gone "$(cat pgid 2>/dev/null)" "the leftover of the command's group does not outlive the step"
    check "applied" test "$(status_of starts)" = applied
}

# ---- migrun interrupted or killed while a command runs ---------------------------

# the step `long` sleeps $NAP seconds (0 when NAP is unset) in two
# processes of its group; the one before it, and t, are undone by a failure
write_long() {
    cat > m.mig <<'MIG'
migration ops {
  phase schema {
    step t { up sql { CREATE TABLE t (x integer); } down sql { DROP TABLE t; } }
  }
  phase prepare {
    transaction step;
    step before {
      up   exec ["sh", "-c", "echo before >> calls.log"];
      down exec ["sh", "-c", "echo down-before >> calls.log"];
    }
    step long {
      up   exec ["sh", "-c", "echo $$ > pgid; echo long >> calls.log; sleep ${NAP:-0} & sleep ${NAP:-0}; wait", "exec-marker-long"];
      down exec ["sh", "-c", "echo down-long >> calls.log"];
    }
  }
}
MIG
}

interrupt_case() {
    local sig=$1
    write_long
    NAP=30 start_bg run.out "$MIGRUN" apply m.mig --db $URL --allow-exec
    local pid=$BG
    wait_until 20 test -s pgid || { echo "    the command never started"; touch "$CASE_DIR/.failed"; }
    sleep 0.3
    local g t0 t1
    g=$(cat pgid 2>/dev/null)
    t0=$(now_ms)
    kill -"$sig" "$pid"
    stop_bg "$pid" 15
    t1=$(now_ms)
    OUT=$(cat run.out)
    check "exit 1: undone cleanly (got $BG_RC)" test "$BG_RC" = 1
    check "within 5 s ($((t1 - t0)) ms)" test $((t1 - t0)) -lt 5000
    check "names the signal" contains "interrupted by SIG$sig"
    check_group_gone "$g" "no process of the command's group survives"
    check "the downs ran (the interrupted step's, then the earlier one's)" \
        test "$(tr '\n' ' ' < calls.log)" = "before long down-long down-before "
    check "t undone" test "$(has_table t)" = 0
    check "nothing tracked" test "$(tracked)" = 0
    check "the run is rolled_back" test "$(last_outcome)" = rolled_back
}

x_sigterm_while_a_command_runs() { interrupt_case TERM; }
xsq_sigint_while_a_command_runs() { interrupt_case INT; }

x_sigkill_while_a_command_runs_then_it_runs_again() {
    write_long
    NAP=30 start_bg run.out "$MIGRUN" apply m.mig --db $URL --allow-exec
    local pid=$BG
    wait_until 20 test -s pgid || { echo "    the command never started"; touch "$CASE_DIR/.failed"; }
    sleep 0.3
    local g
    g=$(cat pgid 2>/dev/null)
    kill -KILL "$pid"
    wait "$pid" 2>/dev/null
    check_group_gone "$g" "no process of the command's group outlives migrun killed by SIGKILL"
    check "the step is recorded as running" test "$(status_of long)" = running
    check "the steps before it are applied" test "$(status_of before),$(status_of t)" = applied,applied
    check "the run is still marked running" test "$(last_outcome)" = running
    # the next apply runs the interrupted step again, and only it
    expect_exit 0 "$MIGRUN" apply m.mig --db $URL --allow-exec
    check "warns that the step was interrupted" contains "ops.prepare.long (run 1) is recorded as running"
    check "the interrupted step ran again, the one before did not" \
        test "$(tr '\n' ' ' < calls.log)" = "before long long "
    check "the step is applied" test "$(status_of long)" = applied
    check "the steps are recorded once each" test "$(tracked)" = 3
    expect_exit 0 "$MIGRUN" log --db $URL --json
    check "the log marks run 1 interrupted" json_run_has 1 '"outcome":"interrupted"'
    expect_exit 0 "$MIGRUN" rollback --all --db $URL --allow-exec
    check "rollback ran every down" test "$(tail -n 2 calls.log | tr '\n' ' ')" = "down-long down-before "
    check "rolled back: nothing tracked" test "$(tracked)" = 0
}

# ---- downs that fail ---------------------------------------------------------------

x_down_command_fails_exit_4() {
    mkdir bin
    cat > m.mig <<'MIG'
migration ops {
  phase schema {
    step t { up sql { CREATE TABLE t (x integer); } down sql { DROP TABLE t; } }
  }
  phase prepare {
    transaction step;
    step cleanup {
      up   exec ["sh", "-c", "echo up >> calls.log"];
      down exec ["sh", "-c", "echo down-cleanup >> calls.log; test -e fixed || { echo cleanup failed >&2; exit 5; }"];
    }
  }
  phase more {
    step u { up sql { CREATE TABLE u (x integer); } down sql { DROP TABLE u; } }
  }
  phase last {
    transaction step;
    step gone { up exec ["true"]; down exec ["mig-installed-later"]; }
  }
}
MIG
    export PATH="$CASE_DIR/bin:$PATH"
    expect_exit 0 "$MIGRUN" apply m.mig --db $URL --allow-exec
    # 1. the first down cannot start: nothing ran, nothing was undone
    expect_exit 1 "$MIGRUN" rollback --db $URL --allow-exec
    check "1: names the step and the cause" contains "ops.last.gone: its down command failed: cannot start mig-installed-later: No such file or directory"
    check "1: says nothing was undone" contains "nothing was undone"
    check "1: everything still tracked" test "$(tracked)" = 4
    check "1: the run failed" test "$(last_outcome)" = failed
    # 2. once the program exists, the rollback goes on until cleanup's down fails
    printf '#!/bin/sh\necho down-gone >> calls.log\n' > bin/mig-installed-later
    chmod +x bin/mig-installed-later
    expect_exit 4 "$MIGRUN" rollback --db $URL --allow-exec
    check "2: names the step and the cause" contains "ops.prepare.cleanup: its down command failed: exit status 5"
    check "2: its stderr is shown" contains "    | cleanup failed"
    check "2: says a person must look" contains "2 of 4 steps were undone; the rest stay applied — a person must look"
    check "2: u undone" test "$(has_table u)" = 0
    check "2: t stays" test "$(has_table t)" = 1
    check "2: cleanup and t stay tracked" test "$(q "SELECT step FROM mig_applied ORDER BY seq" | tr '\n' ' ')" = "t cleanup "
    check "2: the run failed" test "$(last_outcome)" = failed
    expect_exit 0 "$MIGRUN" log --db $URL --json
    check "2: the journal has u undone" json_has '"step":"u"' '"action":"undone"'
    check "2: the journal has gone undone" json_has '"step":"gone"' '"action":"undone"'
    check "2: the journal has no undone entry for cleanup" eval "! json_has '\"step\":\"cleanup\"' '\"action\":\"undone\"'"
    # 3. the failing command down is the first to run: it ran, so it may
    # have changed something — never "as it was before"
    expect_exit 4 "$MIGRUN" rollback --db $URL --allow-exec
    check "3: names the cause" contains "ops.prepare.cleanup: its down command failed: exit status 5"
    check "3: does not claim the database is as before" not_contains "the database is as it was before this rollback"
    check "3: still tracked" test "$(tracked)" = 2
    # 4. fixed, the rollback finishes
    touch fixed
    expect_exit 0 "$MIGRUN" rollback --db $URL --allow-exec
    check "4: everything undone" test "$(tracked)" = 0
    check "4: t gone" test "$(has_table t)" = 0
    check "4: the downs ran in reverse order" \
        test "$(tr '\n' ' ' < calls.log)" = "up down-gone down-cleanup down-cleanup down-cleanup "
}

x_failing_down_in_the_automatic_undo_exits_4() {
    cat > m.mig <<'MIG'
migration ops {
  phase prepare {
    transaction step;
    step stop_api {
      up   exec ["sh", "-c", "echo stop >> calls.log"];
      down exec ["sh", "-c", "echo start-failed >> calls.log; exit 3"];
    }
  }
  phase schema {
    step t { up sql { CREATE TABLE t (x integer); } down sql { DROP TABLE t; } }
  }
  phase check {
    transaction step;
    step health { up exec ["sh", "-c", "exit 1"]; down none "a check"; }
  }
}
MIG
    expect_exit 4 "$MIGRUN" apply m.mig --db $URL --allow-exec
    check "names the first failure" contains "the command failed: exit status 1"
    check "names the failing down" contains "ops.prepare.stop_api: its down command failed: exit status 3"
    check "says a person must look" contains "a person must look"
    check "t was undone before" test "$(has_table t)" = 0
    check "stop_api stays tracked, alone" test "$(q "SELECT step || ':' || status FROM mig_applied")" = "stop_api:applied"
    check "the run failed" test "$(last_outcome)" = failed
}

xsq_optional_down_failure_is_reported_and_passed() {
    cat > m.mig <<'MIG'
migration ops {
  phase schema {
    step t { up sql { CREATE TABLE t (x integer); } down sql { DROP TABLE t; } }
  }
  phase prepare {
    transaction step;
    step flag {
      up   exec ["sh", "-c", "echo flag-on >> calls.log"];
      down exec ["sh", "-c", "echo flag-off >> calls.log; exit 3"] optional;
    }
    step page {
      up   exec ["true"];
      down exec ["no-such-program-mig"] optional;
    }
    step fine {
      up   exec ["true"];
      down exec ["sh", "-c", "echo fine-down >> calls.log"] optional;
    }
  }
}
MIG
    expect_exit 0 "$MIGRUN" apply m.mig --db $URL --allow-exec
    check "the flag recorded as optional" test "$(q "SELECT down_flags FROM mig_applied WHERE step = 'flag'")" = optional
    expect_exit 0 "$MIGRUN" rollback --db $URL --allow-exec
    check "the failure is reported, with its cause" contains "the optional down of ops.prepare.flag failed (exit status 3); the rollback goes on"
    check "one that cannot start too" contains "the optional down of ops.prepare.page failed (cannot start no-such-program-mig: No such file or directory); the rollback goes on"
    check "as a warning" contains "warning: the optional down of ops.prepare.flag"
    check "an optional down that works just runs" test "$(head -n 2 calls.log | tail -n 1)" = fine-down
    check "the downs ran in reverse order" test "$(tr '\n' ' ' < calls.log)" = "flag-on fine-down flag-off "
    check "done: every step rolled back" contains "done: 4 steps rolled back"
    check "t gone" test "$(has_table t)" = 0
    check "nothing tracked" test "$(tracked)" = 0
    check "the rollback succeeded" test "$(last_outcome)" = success
    expect_exit 0 "$MIGRUN" log --db $URL --json
    check "the journal has flag undone" json_has '"step":"flag"' '"action":"undone"'
    # in the automatic undo of a failed apply too: exit 1, not 4
    cat > m2.mig <<'MIG'
migration auto {
  phase prepare {
    transaction step;
    step flag { up exec ["true"]; down exec ["sh", "-c", "echo auto-off >> calls.log; exit 3"] optional; }
  }
  phase check {
    transaction step;
    step bad { up exec ["false"]; down none "a check"; }
  }
}
MIG
    expect_exit 1 "$MIGRUN" apply m2.mig --db $URL --allow-exec
    check "automatic undo: the failure is reported" contains "the optional down of auto.prepare.flag failed (exit status 3); the rollback goes on"
    check "automatic undo: the down ran" test "$(tail -n 1 calls.log)" = auto-off
    check "automatic undo: rolled back cleanly" contains "rolled back: auto is as it was before this run"
    check "automatic undo: nothing tracked" test "$(tracked)" = 0
}

xsq_down_none_is_passed() {
    cat > m.mig <<'MIG'
migration ops {
  phase schema {
    step t { up sql { CREATE TABLE t (x integer); } down sql { DROP TABLE t; } }
  }
  phase notify {
    transaction step;
    step announce {
      up   exec ["sh", "-c", "echo announced >> calls.log"];
      down none "an announcement cannot be taken back";
    }
  }
}
MIG
    expect_exit 0 "$MIGRUN" apply m.mig --db $URL --allow-exec
    check "recorded with down none" test "$(q "SELECT down_kind FROM mig_applied WHERE step = 'announce'")" = none
    # no command to run: rollback needs no --allow-exec
    expect_exit 0 "$MIGRUN" rollback --db $URL
    check "announce passed (undone, nothing ran)" contains "undone       ops.notify.announce"
    check "no command ran" test "$(cat calls.log)" = announced
    check "t gone" test "$(has_table t)" = 0
    check "nothing tracked" test "$(tracked)" = 0
}

# ---- hostile values ----------------------------------------------------------------

x_hostile_params_arrive_as_one_argument_each() {
    write_argdump
    mkdir "a dir; touch pwned-cwd"
    cat > m.mig <<'MIG'
migration ops {
  param p1: string = "plain";
  param p2: string = "plain";
  param p3: string = "plain";
  param p4: string = "plain";
  param p5: string = "plain";
  param p6: string = "plain";
  param n: int = 0;
  param dir: string = ".";
  phase p {
    transaction step;
    step hostile {
      up   exec ["argdump", "up", p1, p2, p3, p4, p5, p6, n, "lit \"q\" \\ $(touch pwned-lit)", ""]
           env { HOSTILE = p1, EMPTY = p6 } cwd dir;
      down exec ["argdump", "down", p1, p2, p3, p4, p5, p6, n] env { HOSTILE = p1 };
    }
  }
}
MIG
    local v1='x; touch pwned1 && echo $HOME `touch pwned2` $(touch pwned3) | cat > pwned4'
    local v2=$'two\nlines\tand a tab'
    local v3='  spaces  around  '
    local v4="'single' \"double\" \\back \${p1} %s%n * ? [a] ~ > pwned5"
    local v5='--help'
    local v6=''
    export ARGDUMP_DIR=$CASE_DIR PATH="$CASE_DIR:$PATH"
    expect_exit 0 "$MIGRUN" apply m.mig --db $URL --allow-exec -p "p1=$v1" -p "p2=$v2" -p "p3=$v3" -p "p4=$v4" \
        -p "p5=$v5" -p "p6=$v6" -p n=-7 -p "dir=a dir; touch pwned-cwd"
    printf '%s\0' "$v1" "$v2" "$v3" "$v4" "$v5" "$v6" -7 'lit "q" \ $(touch pwned-lit)' '' > want.args
    check "each value arrived as one argument, byte for byte" cmp -s want.args up.args
    check "nothing was interpreted by a shell" test -z "$(find . -name 'pwned*' -print)"
    check "the hostile cwd was used as a name" test "$(cat up.cwd)" = "$CASE_DIR/a dir; touch pwned-cwd"
    check "env { } values arrive whole" test "$(env_of up HOSTILE)" = "$v1"
    check "an empty env value is set, empty" grep -qz '^EMPTY=$' up.env
    check "the plan line quotes the argv as one shell-safe line" contains "running argdump up 'x; touch pwned1"
    # the down renders with the values of the apply, whatever the sources say now
    sed -i 's/"plain"/"changed"/' m.mig
    expect_exit 0 "$MIGRUN" rollback --db $URL --allow-exec m.mig
    printf '%s\0' "$v1" "$v2" "$v3" "$v4" "$v5" "$v6" -7 > want-down.args
    check "the down got the apply's values, one argument each" cmp -s want-down.args down.args
    check "the down's env value too" test "$(env_of down HOSTILE)" = "$v1"
    check "still nothing interpreted" test -z "$(find . -name 'pwned*' -print)"
    check "nothing tracked" test "$(tracked)" = 0
}

# ---- the environment of commands -----------------------------------------------------

xsq_environment_of_commands() {
    write_argdump
    mkdir "work dir"
    cat > m.mig <<'MIG'
migration ops {
  phase p {
    transaction step;
    step dump {
      up   exec ["argdump", "up", env("MIGRUN_SQLITE_PATH")] env { MIG_OWN = "own value", INHERITED = "replaced" }
           cwd "work dir";
      down exec ["argdump", "down"];
    }
  }
}
MIG
    export ARGDUMP_DIR=$CASE_DIR PATH="$CASE_DIR:$PATH"
    INHERITED=from-migrun KEPT=kept MIGRUN_SQLITE_PATH=/decoy.sqlite expect_exit 0 "$MIGRUN" apply m.mig --db $URL --allow-exec
    check "MIGRUN_SQLITE_PATH is the target's absolute path" test "$(env_of up MIGRUN_SQLITE_PATH)" = "$CASE_DIR/db.sqlite"
    check "env(\"MIGRUN_SQLITE_PATH\") in argv is the target's too" test "$(tr '\0' '\n' < up.args)" = "$CASE_DIR/db.sqlite"
    check "env { } adds" test "$(env_of up MIG_OWN)" = "own value"
    check "env { } replaces an inherited variable" test "$(env_of up INHERITED)" = replaced
    check "INHERITED is set once" test "$(tr '\0' '\n' < up.env | grep -c '^INHERITED=')" = 1
    check "the rest of migrun's environment is inherited" test "$(env_of up KEPT)" = kept
    check "cwd is relative to migrun's folder" test "$(cat up.cwd)" = "$CASE_DIR/work dir"
    expect_exit 0 "$MIGRUN" rollback --db $URL --allow-exec
    check "the down gets MIGRUN_SQLITE_PATH too" test "$(env_of down MIGRUN_SQLITE_PATH)" = "$CASE_DIR/db.sqlite"
    check "the down runs in migrun's folder" test "$(cat down.cwd)" = "$CASE_DIR"
}

xsq_env_pgpassword_is_an_error() {
    cat > m.mig <<'MIG'
migration ops {
  let suffix = "WORD";
  phase p {
    transaction step;
    step a { up exec ["sh", "-c", "echo \"$1\" > leaked", "sh", env("PGPASSWORD")]; down none "x"; }
    step b { up exec ["echo", env("PGPASSWORD", "none")]; down none "x"; }
  }
}
MIG
    expect_exit 1 "$MIGC" check m.mig
    check "migc: an error at the call, for each" test "$(printf '%s\n' "$OUT" | grep -c 'error: env("PGPASSWORD") would put the password into an argv.*\[env-password\]')" = 2
    check "migc: file:line:col" contains "m.mig:5:"
    PGPASSWORD=sekrit-pw-123 expect_exit 2 "$MIGRUN" apply m.mig --db $URL --allow-exec
    check "migrun: a compile error" contains "[env-password]"
    check "nothing created" db_untouched
    check "nothing ran" test ! -e leaked
    # a name computed at run time is refused at run time
    sed -i 's/env("PGPASSWORD")\]/env("PGPASS" + suffix)]/; /step b/d' m.mig
    PGPASSWORD=sekrit-pw-123 expect_exit 1 "$MIGRUN" apply m.mig --db $URL --allow-exec
    check "run time: refused" contains 'env("PGPASSWORD") is not allowed'
    check "run time: the password is not printed" not_contains "sekrit-pw-123"
    check "run time: the command did not run" test ! -e leaked
    check "run time: nothing tracked" test "$(tracked)" = 0
}

# ---- PostgreSQL: the target's connection ---------------------------------------------

write_conn_migration() {
    cat > m.mig <<'MIG'
migration conn {
  target postgres;
  phase ops {
    transaction step;
    step dump {
      up   exec ["argdump", "up", env("PGHOST"), env("PGPORT"), env("PGUSER"), env("PGDATABASE")];
      down exec ["argdump", "down", env("PGHOST"), env("PGPORT"), env("PGUSER"), env("PGDATABASE")];
    }
    step via_psql {
      up   exec ["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-c", "CREATE TABLE made_by_psql (busy int); INSERT INTO made_by_psql SELECT count(*) FROM pg_stat_activity WHERE application_name = 'migrun' AND datname = current_database() AND state <> 'idle'"];
      down exec ["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-c", "DROP TABLE made_by_psql"];
    }
  }
}
MIG
}

# no_password_but_PGPASSWORD TAG PASSWORD — in TAG's argv and environment
# the password appears only as PGPASSWORD's value
no_password_but_PGPASSWORD() {
    check "$1: PGPASSWORD is the target's password" test "$(env_of "$1" PGPASSWORD)" = "$2"
    check "$1: the password is in no argument" eval "! grep -qaF -- '$2' $1.args"
    local others
    others=$(tr '\0' '\n' < "$1.env" | grep -aF -- "$2" | grep -v "^PGPASSWORD=")
    check "$1: the password is in no other variable${others:+ (found: ${others%%=*})}" test -z "$others"
}

xpg_commands_get_the_target_connection() {
    write_argdump
    write_conn_migration
    local pw=$PGPASSWORD
    local url="postgresql://$PGUSER:$pw@localhost:$PGPORT/$PGDB"
    # migrun's own environment points elsewhere: the target's values win
    local decoy=(env -u PGPASSWORD PGHOST=decoy.invalid PGDATABASE=decoy_db PGUSER=decoy_user ARGDUMP_DIR="$CASE_DIR"
                 PATH="$CASE_DIR:$PATH")
    expect_exit 0 "${decoy[@]}" "$MIGRUN" apply m.mig --db "$url" --allow-exec
    printf '%s\0' localhost "$PGPORT" "$PGUSER" "$PGDB" > want.args
    check "env(\"PGHOST\"), PGPORT, PGUSER, PGDATABASE in argv are the target's" cmp -s want.args up.args
    check "PGDATABASE of the command is the target's" test "$(env_of up PGDATABASE)" = "$PGDB"
    check "PGHOST of the command is the target's" test "$(env_of up PGHOST)" = localhost
    check "PGUSER of the command is the target's" test "$(env_of up PGUSER)" = "$PGUSER"
    check "PGPORT of the command is the target's" test "$(env_of up PGPORT)" = "$PGPORT"
    no_password_but_PGPASSWORD up "$pw"
    check "psql, given only the environment, reached the target" test "$(has_table made_by_psql)" = 1
    check "no transaction of migrun was open while the command ran" test "$(q "SELECT busy FROM made_by_psql")" = 0
    check "the password is printed nowhere" not_contains "$pw"
    check "the password is not in the tracking rows" test "$(q "SELECT count(*) FROM mig_applied WHERE down_exec LIKE '%$pw%'")" = 0
    check "the password is not in the journal" eval "! grep -qaF -- '$pw' .migrun/journal.db"
    # the down runs with what was rendered at apply, and gets the connection again
    expect_exit 0 "${decoy[@]}" "$MIGRUN" rollback --db "$url" --allow-exec
    check "the down's argv as rendered at apply" cmp -s want.args down.args
    no_password_but_PGPASSWORD down "$pw"
    check "psql's down reached the target" test "$(has_table made_by_psql)" = 0
    check "nothing tracked" test "$(tracked)" = 0
}

xpg_password_in_MIGRUN_DB_reaches_commands_only_as_PGPASSWORD() {
    write_argdump
    write_conn_migration
    local pw=$PGPASSWORD
    export ARGDUMP_DIR=$CASE_DIR PATH="$CASE_DIR:$PATH"
    # MIGRUN_DB is where migrun advises to put a URL with a password
    expect_exit 0 env -u PGPASSWORD MIGRUN_DB="postgresql://$PGUSER:$pw@localhost:$PGPORT/$PGDB" \
        "$MIGRUN" apply m.mig --allow-exec
    check "applied" test "$(status_of dump)" = applied
    no_password_but_PGPASSWORD up "$pw"
    expect_exit 0 "$MIGRUN" rollback --db $URL --allow-exec
}

# ---- main ----------------------------------------------------------------------------

# The two dialects run side by side (the PostgreSQL part's report is shown
# after the SQLite part's); a case name failing on both is listed twice.
pattern=${MIG_CASES:-.}
run_dialect() {
    local t before
    for t in $(declare -F | awk '{print $3}' | grep -E "$1" | grep -E "$pattern"); do
        before=$failed_names
        run_case "$t"
        [ "$failed_names" != "$before" ] && failed_names="$before $t($DIALECT)"
    done
}

pg_part() {
    DIALECT=postgres
    if psql -X -q -A -t -c 'SELECT 1' >/dev/null 2>&1; then
        run_dialect '^(x|xpg)_'
    else
        echo "FAIL: no PostgreSQL server reachable (PGHOST=${PGHOST:-unset}); run the tests with"
        echo "      pg_virtualenv -t make check, as ./dev.sh test does"
        fail=$((fail + 1))
        failed_names="$failed_names postgres"
    fi
    printf '%s\n%s\n%s\n' "$pass" "$fail" "$failed_names" > "$1"
}

pg_report=$(mktemp -d)
pg_part "$pg_report/counts" > "$pg_report/out" 2>&1 &
pg_pid=$!
echo "== sqlite"
DIALECT=sqlite run_dialect '^(x|xsq)_'
wait "$pg_pid"
echo "== postgres"
cat "$pg_report/out"
if [ -s "$pg_report/counts" ]; then
    { read -r p; read -r f; read -r names; } < "$pg_report/counts"
    pass=$((pass + p)) fail=$((fail + f)) failed_names="$failed_names${names:+ $names}"
else
    echo "FAIL: the PostgreSQL part did not finish"
    fail=$((fail + 1))
fi
rm -rf "$pg_report"
finish
