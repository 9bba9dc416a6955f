/* test_exec.c — the command runner of exec actions: exit statuses, signals,
 * timeouts (the process group is killed), programs that cannot start,
 * captured output, the tail kept for the undo log, stdin from /dev/null,
 * environment and cwd, and argv elements that stay one argument each. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include "runtime/exec.h"
#include "runtime/journal.h"
#include "runtime/session.h"
#include "lib/strmap.h"
#include <stdint.h>

static struct mig_report rep;
static FILE *sink;

static void setup(void)
{
    sink = tmpfile();
    rep = (struct mig_report){ .out = sink, .err = sink };
}

static void teardown(void)
{
    fclose(sink);
}

static int run(char *const *argv, int64_t timeout_ms, bool capture, char *const *env, const char *cwd,
               struct mig_exec_result *r)
{
    struct mig_exec_spec s = { argv, env, cwd, timeout_ms, "    | ", capture };
    return mig_exec_run(&s, &rep, r);
}

static char *printed(void)
{
    static char buf[65536];
    fflush(sink);
    rewind(sink);
    size_t n = fread(buf, 1, sizeof(buf) - 1, sink);
    buf[n] = 0;
    return buf;
}

TestSuite(exec, .init = setup, .fini = teardown);

Test(exec, success_and_output_streamed_with_prefix)
{
    struct mig_exec_result r;
    char *argv[] = { "sh", "-c", "echo one; echo two >&2", NULL };
    cr_assert_eq(run(argv, 0, false, NULL, NULL, &r), 0);
    cr_assert(r.started);
    cr_assert_eq(r.exit_status, 0);
    cr_assert(strstr(printed(), "    | one\n"));
    cr_assert(strstr(printed(), "    | two\n"));
    cr_assert(strstr(r.tail, "one"));
}

Test(exec, exit_status_named)
{
    struct mig_exec_result r;
    char *argv[] = { "sh", "-c", "exit 3", NULL };
    cr_assert_eq(run(argv, 0, false, NULL, NULL, &r), -1);
    cr_assert_str_eq(r.why, "exit status 3");
}

Test(exec, killed_by_signal_named)
{
    struct mig_exec_result r;
    char *argv[] = { "sh", "-c", "kill -9 $$", NULL };
    cr_assert_eq(run(argv, 0, false, NULL, NULL, &r), -1);
    cr_assert_str_eq(r.why, "killed by SIGKILL");
}

Test(exec, program_not_found_or_not_executable)
{
    struct mig_exec_result r;
    char *argv[] = { "no-such-program-mig", NULL };
    cr_assert_eq(run(argv, 0, false, NULL, NULL, &r), -1);
    cr_assert(!r.started);
    cr_assert(strstr(r.why, "cannot start no-such-program-mig"), "%s", r.why);
    char file[] = "/tmp/mig-exec-noexec-XXXXXX";
    int fd = mkstemp(file);
    cr_assert(fd >= 0);
    cr_assert_eq(write(fd, "echo hi\n", 8), 8);
    close(fd);
    chmod(file, 0644);
    char *argv2[] = { file, NULL };
    cr_assert_eq(run(argv2, 0, false, NULL, NULL, &r), -1);
    unlink(file);
    cr_assert(!r.started);
    cr_assert(strstr(r.why, "Permission denied"), "%s", r.why);
}

Test(exec, timeout_kills_the_whole_process_group)
{
    struct mig_exec_result r;
    /* a child that ignores nothing and a grandchild that would outlive it */
    char *argv[] = { "sh", "-c", "sleep 30 & echo $! > grandchild.pid; sleep 30", NULL };
    char dir[] = "/tmp/mig-exec-XXXXXX";
    cr_assert(mkdtemp(dir));
    cr_assert_eq(run(argv, 300, false, NULL, dir, &r), -1);
    cr_assert(r.timed_out);
    cr_assert_str_eq(r.why, "timed out after 300ms");
    cr_assert_lt(r.ms, 4000);
    char path[128];
    snprintf(path, sizeof(path), "%s/grandchild.pid", dir);
    FILE *f = fopen(path, "r");
    cr_assert(f);
    int pid = 0;
    cr_assert_eq(fscanf(f, "%d", &pid), 1);
    fclose(f);
    usleep(100000);
    /* gone, or a zombie nobody has reaped yet */
    char stat[64], state = 'Z';
    snprintf(stat, sizeof(stat), "/proc/%d/stat", pid);
    FILE *st = fopen(stat, "r");
    if (st) {
        cr_assert_eq(fscanf(st, "%*d %*s %c", &state), 1);
        fclose(st);
    }
    cr_assert_eq(state, 'Z', "the grandchild %d outlived the timeout (state %c)", pid, state);
}

Test(exec, stdin_is_dev_null)
{
    struct mig_exec_result r;
    char *argv[] = { "cat", NULL };
    cr_assert_eq(run(argv, 5000, true, NULL, NULL, &r), 0);
    cr_assert_str_eq(r.output, "");
    free(r.output);
}

Test(exec, captured_output_trimmed)
{
    struct mig_exec_result r;
    char *argv[] = { "printf", "%s\\n\\n", "15.4", NULL };
    cr_assert_eq(run(argv, 0, true, NULL, NULL, &r), 0);
    cr_assert_str_eq(r.output, "15.4");
    free(r.output);
}

Test(exec, hostile_argument_stays_one_argument)
{
    struct mig_exec_result r;
    char *argv[] = { "sh", "-c", "printf '%s|' \"$@\"", "sh", "a b; rm -rf /tmp/x $(id)", "`x`", NULL };
    cr_assert_eq(run(argv, 0, true, NULL, NULL, &r), 0);
    cr_assert_str_eq(r.output, "a b; rm -rf /tmp/x $(id)|`x`|");
    free(r.output);
}

Test(exec, environment_added_and_cwd)
{
    struct mig_exec_result r;
    char *env[] = { "MIG_TEST_X=forty two", "HOME=/nonexistent-home", NULL };
    char *argv[] = { "sh", "-c", "echo \"$MIG_TEST_X|$HOME|$(pwd)\"", NULL };
    cr_assert_eq(run(argv, 0, true, env, "/tmp", &r), 0);
    cr_assert_str_eq(r.output, "forty two|/nonexistent-home|/tmp");
    free(r.output);
}

Test(exec, megabytes_of_output_keep_the_last_8k)
{
    struct mig_exec_result r;
    char *argv[] = { "sh", "-c", "yes 0123456789 | head -c 3000000; echo THE-END", NULL };
    cr_assert_eq(run(argv, 0, false, NULL, NULL, &r), 0);
    cr_assert_eq(r.tail_len, MIG_EXEC_TAIL);
    cr_assert(strstr(r.tail, "THE-END"));
}

/* Entry uids: 32 hex digits, never repeated, in increasing order within a
 * process (they go to the end of the uid indexes), and a forked child (a
 * fleet worker) draws its own counter: its uids are not the parent's next. */
Test(journal, entry_uids_unique_ordered_and_distinct_after_fork)
{
    enum { N = 20000 };
    static char u[N][33];
    for (int i = 0; i < N; i++) {
        mig_journal_uid(u[i]);
        cr_assert_eq(strlen(u[i]), 32);
        cr_assert_eq(strspn(u[i], "0123456789abcdef"), 32, "not hex: %s", u[i]);
        if (i)
            cr_assert(strcmp(u[i - 1], u[i]) < 0, "not increasing: %s then %s", u[i - 1], u[i]);
    }
    int fd[2];
    cr_assert_eq(pipe(fd), 0);
    pid_t pid = fork();
    if (pid == 0) {
        char c[33];
        mig_journal_uid(c);
        ssize_t w = write(fd[1], c, 32);
        _exit(w == 32 ? 0 : 1);
    }
    char child[33] = { 0 }, next[33];
    mig_journal_uid(next);
    cr_assert_eq(read(fd[0], child, 32), 32);
    int st = 0;
    waitpid(pid, &st, 0);
    cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    /* the counter part (after the 12 digits of time) differs */
    cr_assert_neq(strcmp(child + 12, next + 12), 0, "child and parent drew the same uid counter: %s %s", child,
                  next);
    close(fd[0]);
    close(fd[1]);
}

/* (Not the command runner: the runtime's scanner of the PostgreSQL
 * statements that cannot run inside a transaction block, which decides
 * what a schema through a connection pooler refuses — here because this
 * program links the runtime.) */
#include "runtime/driver.h"

static long outside(const char *sql, char *what)
{
    return mig_pg_outside_only(sql, what, 64);
}

Test(pg_outside_only, statements_that_cannot_run_in_a_transaction_block) {
    char w[64];
    const char *sql = "UPDATE t SET x = 1;\n  CREATE   INDEX\n CONCURRENTLY i ON t (x);";
    cr_assert_eq(outside(sql, w), 22);
    cr_assert_str_eq(w, "CREATE INDEX CONCURRENTLY i ON t (x)");
    cr_assert_geq(outside("drop index concurrently i", w), 0);
    cr_assert_geq(outside("REINDEX INDEX CONCURRENTLY i", w), 0);
    cr_assert_geq(outside("REINDEX DATABASE app", w), 0);
    cr_assert_geq(outside("ALTER TABLE p DETACH PARTITION c CONCURRENTLY", w), 0);
    cr_assert_geq(outside("VACUUM (ANALYZE) t", w), 0);
    cr_assert_geq(outside("CREATE DATABASE x", w), 0);
    cr_assert_geq(outside("DROP TABLESPACE x", w), 0);
    cr_assert_geq(outside("ALTER SYSTEM SET work_mem = '8MB'", w), 0);
    cr_assert_geq(outside("/* c */ VACUUM t", w), 0);
}

Test(pg_outside_only, statements_that_can) {
    char w[64];
    cr_assert_eq(outside("REFRESH MATERIALIZED VIEW CONCURRENTLY v", w), -1);
    cr_assert_eq(outside("CREATE INDEX i ON t (x); -- not CONCURRENTLY", w), -1);
    cr_assert_eq(outside("INSERT INTO t VALUES ('CONCURRENTLY'), ($$VACUUM$$)", w), -1);
    cr_assert_eq(outside("SELECT vacuum FROM t", w), -1);
    cr_assert_eq(outside("CREATE TABLE database (x int)", w), -1);
    cr_assert_eq(outside("ALTER TABLE system ADD COLUMN y int", w), -1);
    cr_assert_eq(outside("DO $$ BEGIN EXECUTE 'VACUUM t'; END $$", w), -1);
    cr_assert_eq(outside("", w), -1);
    cr_assert_eq(mig_pg_outside_only("CREATE INDEX CONCURRENTLY i ON t (x)", NULL, 0), 0);
}

/* mig_strmap_del against a model: random puts and deletes over few keys in
 * a small table (long probe clusters, wrap-around), every key checked after
 * each operation; deleting keeps the table from growing. */
Test(strmap, delete_keeps_every_other_key_reachable) {
    struct mig_arena a = { 0 };
    struct mig_strmap m = { .arena = &a };
    enum { K = 40 };
    char names[K][8];
    void *model[K] = { 0 };
    for (int k = 0; k < K; k++)
        snprintf(names[k], sizeof(names[k]), "k%d", k);
    unsigned seed = 12345;
    size_t cap_seen = 0;
    for (int op = 0; op < 20000; op++) {
        seed = seed * 1103515245u + 12345u;
        int k = (int)((seed >> 8) % K);
        if ((seed >> 20) % 3 == 0) {
            cr_assert_eq(mig_strmap_del(&m, names[k]), model[k]);
            model[k] = NULL;
        } else if (!model[k]) {
            model[k] = (void *)(uintptr_t)(op + 1);
            mig_strmap_put(&m, names[k], model[k]);
        }
        size_t live = 0;
        for (int j = 0; j < K; j++) {
            cr_assert_eq(mig_strmap_get(&m, names[j]), model[j], "op %d key %s", op, names[j]);
            live += model[j] != NULL;
        }
        cr_assert_eq(m.n, live);
        if (m.cap > cap_seen)
            cap_seen = m.cap;
    }
    cr_assert_leq(cap_seen, 128);
    cr_assert_null(mig_strmap_del(&m, "absent"));
    mig_arena_free(&a);
}
