/* rules.c — structural rules of migrations: every step has its rollback
 * pair, SQL exists for every targeted dialect, batches run outside phase
 * transactions, bodies in a transaction leave its control to mig,
 * `transaction none` steps hold one statement; and fn recursion. */
#include "compiler.h"
#include <string.h>
#include <strings.h>

/* The tokenizer rules of a variant: SQLite's for `sql sqlite`, else
 * PostgreSQL's (as its body's end was found). */
static enum mig_sqlrules rules_of(const struct mig_sql *q)
{
    return q->dialect == MIG_D_SQLITE ? MIG_SQL_SQLITE : MIG_SQL_POSTGRES;
}

static bool word_is(const struct mig_sql *q, const struct mig_sqltoken *t, const char *w)
{
    size_t n = strlen(w);
    return t->kind == SQLT_WORD && t->end - t->start == n && strncasecmp(q->text + t->start, w, n) == 0;
}

static bool punct_is(const struct mig_sql *q, const struct mig_sqltoken *t, char ch)
{
    return t->kind == SQLT_PUNCT && t->end - t->start == 1 && q->text[t->start] == ch;
}

/* One top-level statement of a SQL text: its first two code tokens (kind
 * SQLT_EOF when missing). */
struct statement {
    struct mig_sqltoken first, second;
};

/* Reads the statement starting at *pos and moves *pos past its ';'.
 * Returns false at the end of the text. A ';' ends a statement except
 * inside parentheses and inside the BEGIN … END block of a CREATE statement
 * (SQLite's CREATE TRIGGER … BEGIN …; …; END, PostgreSQL's BEGIN ATOMIC
 * function bodies), where CASE … END nests. Dollar quotes, literals and
 * comments are single tokens, so nothing inside them counts. */
static bool next_statement(const struct mig_sql *q, size_t *pos, struct statement *st)
{
    enum mig_sqlrules rules = rules_of(q);
    memset(st, 0, sizeof(*st));
    st->first.kind = st->second.kind = SQLT_EOF;
    size_t ncode = 0;
    int parens = 0, block = 0;
    struct mig_sqltoken t;
    for (;; *pos = t.end) {
        mig_sql_next_in(rules, q->text, *pos, q->len, &t);
        if (t.kind == SQLT_EOF || t.kind == SQLT_UNTERMINATED) {
            *pos = q->len;
            return ncode > 0;
        }
        if (t.kind == SQLT_SEMI && parens <= 0 && block <= 0) {
            *pos = t.end;
            if (ncode > 0)
                return true;
            continue;       /* an empty statement */
        }
        if (!mig_sqltok_is_code(t.kind))
            continue;
        if (ncode == 0)
            st->first = t;
        else if (ncode == 1)
            st->second = t;
        ncode++;
        if (punct_is(q, &t, '('))
            parens++;
        else if (punct_is(q, &t, ')'))
            parens--;
        else if (ncode > 1 && word_is(q, &st->first, "CREATE") && parens <= 0) {
            if (word_is(q, &t, "BEGIN") || (block > 0 && word_is(q, &t, "CASE")))
                block++;
            else if (block > 0 && word_is(q, &t, "END"))
                block--;
        }
    }
}

/* Number of statements in a SQL text; *second gets the offset of the
 * second statement's first token. */
static unsigned count_statements(const struct mig_sql *q, size_t *second)
{
    unsigned n = 0;
    struct statement st;
    for (size_t pos = 0; next_statement(q, &pos, &st);)
        if (++n == 2)
            *second = st.first.start;
    return n;
}

/* Whether s[0, len) holds, as a whole run of identifier characters
 * ('$' and everything else ending it), a word that can start a
 * transaction-control statement. A statement's first word is such a run
 * (the token before it ends in a quote, '$', '}', a newline or
 * punctuation), so a text without one needs no statement splitting; a
 * hit in a literal or comment only costs the exact reading below. */
/* The words a transaction-control statement starts with: alone, or (the
 * second list) before TRANSACTION. */
static const char *const control_words[] = { "BEGIN", "COMMIT", "ROLLBACK", "END", "ABORT", "SAVEPOINT", "RELEASE",
                                             NULL };
static const char *const control_before_transaction[] = { "START", "PREPARE", NULL };

/* Whether s[0, n) is one of words, in any case. */
static bool one_of(const char *s, size_t n, const char *const *words)
{
    char first = (char)(s[0] & ~0x20);      /* upper case of a letter */
    for (size_t k = 0; words[k]; k++)
        if (words[k][0] == first && strlen(words[k]) == n && strncasecmp(s, words[k], n) == 0)
            return true;
    return false;
}

static bool has_control_word(const char *s, size_t len)
{
    const unsigned char *u = (const unsigned char *)s;
    for (size_t i = 0; i < len;) {
        if (!(mig_sql_cclass[u[i]] & MIG_SQL_C_IDENT)) {
            i++;
            continue;
        }
        size_t start = i++;
        while (i < len && (mig_sql_cclass[u[i]] & MIG_SQL_C_IDENT))
            i++;
        size_t n = i - start;
        if (n >= 3 && n <= 9 && (one_of(s + start, n, control_words) || one_of(s + start, n, control_before_transaction)))
            return true;
    }
    return false;
}

/* Transaction control at the top level of a body that runs inside mig's
 * transaction would end it (COMMIT: the step's work commits without its
 * record; ROLLBACK: the steps before it vanish while mig carries on). */
static void check_transaction_control(struct mig_program *p, const struct mig_phase *ph,
                                      const struct mig_step *stp, const struct mig_sql *first, const char *what)
{
    for (const struct mig_sql *q = first; q; q = q->next) {
        if (!q->text || !has_control_word(q->text, q->len))
            continue;
        struct statement st;
        for (size_t pos = 0; next_statement(q, &pos, &st);) {
            const char *hit = NULL;
            uint32_t end = (uint32_t)st.first.end;
            for (size_t k = 0; control_words[k] && !hit; k++)
                if (word_is(q, &st.first, control_words[k]))
                    hit = control_words[k];
            if (!hit && (word_is(q, &st.first, "START") || word_is(q, &st.first, "PREPARE")) &&
                word_is(q, &st.second, "TRANSACTION")) {
                hit = word_is(q, &st.first, "START") ? "START TRANSACTION" : "PREPARE TRANSACTION";
                end = (uint32_t)st.second.end;
            }
            if (!hit)
                continue;
            struct mig_span at = { q->text_file, q->text_off + (uint32_t)st.first.start, q->text_off + end };
            MIG_DIAG_AT(p, MIG_ERROR, at, "transaction-control",
                        "%s in the %s of step '%s': mig owns the transaction that phase '%s' runs in (%s), "
                        "where the step's work commits together with its undo record; remove it, or, if the "
                        "step really must control transactions itself, put it in a phase with "
                        "'transaction none'",
                        hit, what, stp->name, ph->name,
                        ph->txn == MIG_TXN_STEP ? "transaction step" : "transaction phase");
        }
    }
}

const struct mig_sql *mig_sql_variant(const struct mig_sql *q, enum mig_dialect d)
{
    const struct mig_sql *any = NULL;
    for (; q; q = q->next) {
        if (q->dialect == d)
            return q;
        if (q->dialect == MIG_D_ANY)
            any = q;
    }
    return any;
}

static void check_action(struct mig_program *p, struct mig_migration *m, struct mig_step *st,
                         const struct mig_sql *q, const char *what, struct mig_span kw)
{
    for (size_t i = 0; i < m->targets.n; i++) {
        enum mig_dialect d = m->targets.v[i].dialect;
        if (!mig_sql_variant(q, d))
            MIG_DIAG_AT(p, MIG_ERROR, kw, "missing-variant",
                        "step '%s' has no '%s' SQL for %s, which migration '%s' targets "
                        "(add 'sql %s { … }' or a variant without a dialect)",
                        st->name, what, mig_dialect_name(d), m->name, mig_dialect_name(d));
    }
}

/* Whether evaluating e may run a command: an exec or output exec in it, or
 * in a function it calls (depth-limited: recursion is reported apart). */
static bool runs_command(const struct mig_expr *e, int depth)
{
    while (e && depth < 64) {
        switch (e->kind) {
        case MIG_E_EXEC:
            return true;
        case MIG_E_CALL:
            for (size_t i = 0; i < e->u.ref.args.n; i++)
                if (runs_command(e->u.ref.args.v[i], depth + 1))
                    return true;
            return e->u.ref.builtin == MIG_B_NONE && e->u.ref.sym && e->u.ref.sym->fn &&
                   runs_command(e->u.ref.sym->fn->body, depth + 1);
        case MIG_E_NOT: case MIG_E_NEG:
            e = e->u.sub;
            continue;
        case MIG_E_BINARY:
            if (runs_command(e->u.bin.r, depth + 1))
                return true;
            e = e->u.bin.l;
            continue;
        default:
            return false;
        }
    }
    return false;
}

/* No database transaction is open while a command runs: a condition that
 * runs one cannot be evaluated inside mig's transaction. */
static void check_condition_txn(struct mig_program *p, const struct mig_phase *ph, const struct mig_expr *e,
                                const char *what, const char *txn)
{
    if (e && runs_command(e, 0))
        MIG_DIAG_AT(p, MIG_ERROR, e->span, "exec-transaction",
                    "this %s runs a command, but it is evaluated inside the transaction of phase '%s' (%s), "
                    "and no database transaction may be open while a command runs: use 'transaction none' "
                    "for the phase (or check it in a migration-level assert)", what, ph->name, txn);
}

static void check_step(struct mig_program *p, struct mig_migration *m, struct mig_phase *ph,
                       struct mig_step *st)
{
    /* conditions inside a transaction: a step's when and verify under
     * transaction phase, the verify of a SQL step under transaction step */
    bool phase_txn = ph->txn == MIG_TXN_DEFAULT || ph->txn == MIG_TXN_PHASE;
    const char *txn = ph->txn == MIG_TXN_STEP ? "transaction step" : ph->txn == MIG_TXN_PHASE
                    ? "transaction phase" : "transaction phase, the default";
    if (phase_txn)
        check_condition_txn(p, ph, st->when, "when", txn);
    if (phase_txn || (ph->txn == MIG_TXN_STEP && !st->up_exec))
        for (size_t i = 0; i < st->verify.n; i++)
            check_condition_txn(p, ph, st->verify.v[i].expr, "verify", txn);
    if (!st->has_up)
        MIG_DIAG_AT(p, MIG_ERROR, st->span, "missing-up", "step '%s' has no 'up'", st->name);
    if (!st->has_down)
        MIG_DIAG_AT(p, MIG_ERROR, st->span, "missing-down",
                    "step '%s' has no 'down': write how to undo it, or 'down irreversible \"why\";'",
                    st->name);
    if (st->up)
        check_action(p, m, st, st->up, "up", st->up_span);
    if (st->down)
        check_action(p, m, st, st->down, "down", st->down_span);
    if (st->up_exec || st->down_exec) {
        bool up = st->up_exec != NULL;
        if (ph->txn == MIG_TXN_DEFAULT || ph->txn == MIG_TXN_PHASE)
            MIG_DIAG_AT(p, MIG_ERROR, up ? st->up_span : st->down_span, "exec-transaction",
                        "step '%s' runs a command (its %s is exec), which cannot join a database transaction, "
                        "but phase '%s' runs its steps in one (%s): exec steps need 'transaction step' "
                        "or 'transaction none' in their phase", st->name, up ? "up" : "down", ph->name,
                        ph->txn == MIG_TXN_PHASE ? "transaction phase" : "transaction phase, the default");
        if (st->batch && up)
            MIG_DIAG_AT(p, MIG_ERROR, st->batch_span, "exec-batch",
                        "batch re-runs an up until it changes no rows, which a command cannot tell: "
                        "step '%s' runs a command (remove 'batch', or make the up SQL)", st->name);
    }
    if (st->batch && (ph->txn == MIG_TXN_DEFAULT || ph->txn == MIG_TXN_PHASE))
        MIG_DIAG_AT(p, MIG_ERROR, st->batch_span, "batch-transaction",
                    "batch step '%s' commits each iteration, so its phase '%s' must be "
                    "'transaction step' or 'transaction none'", st->name, ph->name);
    if (ph->txn != MIG_TXN_NONE) {
        check_transaction_control(p, ph, st, st->up, "up");
        if (st->down)
            check_transaction_control(p, ph, st, st->down, "down");
    }
    if (ph->txn == MIG_TXN_NONE)
        for (const struct mig_sql *q = st->up; q; q = q->next) {
            size_t second = 0;
            if (count_statements(q, &second) > 1) {
                struct mig_span at = { q->text_file, q->text_off + (uint32_t)second,
                                       q->text_off + (uint32_t)second + 1 };
                MIG_DIAG_AT(p, MIG_WARNING, at, "txn-none-multi",
                            "several statements in one 'up' of a 'transaction none' phase: "
                            "a failure after the first leaves it applied; use one step per statement");
            }
        }
}

void mig_check_rules(struct mig_program *p)
{
    for (size_t f = 0; f < p->files.n; f++) {
        if (!p->files.v[f]->is_input)
            continue;
        for (size_t i = 0; i < p->files.v[f]->migrations.n; i++) {
            struct mig_migration *m = p->files.v[f]->migrations.v[i];
            for (size_t k = 0; k < m->phases.n; k++) {
                struct mig_phase *ph = m->phases.v[k];
                for (size_t j = 0; j < ph->steps.n; j++)
                    check_step(p, m, ph, ph->steps.v[j]);
                if (ph->txn == MIG_TXN_DEFAULT || ph->txn == MIG_TXN_PHASE)
                    for (size_t j = 0; j < ph->asserts.n; j++)
                        check_condition_txn(p, ph, ph->asserts.v[j].expr, "assert",
                                            ph->txn == MIG_TXN_PHASE ? "transaction phase"
                                                                     : "transaction phase, the default");
            }
        }
    }
}

/* Depth-first search over the calls between user functions. */
static void visit_fn(struct mig_program *p, struct mig_fn *f, struct mig_fn **stack, size_t depth)
{
    f->visit = 1;
    stack[depth] = f;
    for (size_t i = 0; i < f->calls.n; i++) {
        struct mig_fn *g = f->calls.v[i].callee;
        if (g->visit == 1) {
            size_t k = depth;
            while (stack[k] != g)
                k--;
            char *path = mig_arena_strdup(&p->arena, g->sym->name);
            for (size_t j = k + 1; j <= depth; j++)
                path = mig_arena_printf(&p->arena, "%s -> %s", path, stack[j]->sym->name);
            path = mig_arena_printf(&p->arena, "%s -> %s", path, g->sym->name);
            MIG_DIAG_AT(p, MIG_ERROR, f->calls.v[i].at, "fn-recursion",
                        "recursive call: %s (functions may not call themselves, directly or not)", path);
        } else if (g->visit == 0) {
            visit_fn(p, g, stack, depth + 1);
        }
    }
    f->visit = 2;
}

void mig_check_recursion(struct mig_program *p)
{
    size_t total = 0;
    for (size_t i = 0; i < p->files.n; i++)
        total += p->files.v[i]->fns.n;
    struct mig_fn **stack = mig_arena_alloc(&p->arena, (total + 1) * sizeof(*stack));
    for (size_t i = 0; i < p->files.n; i++)
        for (size_t k = 0; k < p->files.v[i]->fns.n; k++) {
            struct mig_fn *f = p->files.v[i]->fns.v[k]->fn;
            if (f->visit == 0)
                visit_fn(p, f, stack, 0);
        }
}
