/* disasm.c — `migc disasm`: a listing in the spirit of SQLite's EXPLAIN and
 * `luac -l`: address, source line, opcode, operands, and a comment showing
 * what the operands mean (the constant, the SQL, the step). */
#include "plan.h"
#include "opcodes.h"
#include "vm.h"
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

static void print_value(FILE *out, const struct mig_value *v)
{
    switch (v->t) {
    case MIG_V_NULL: fputs("null", out); break;
    case MIG_V_INT: fprintf(out, "%lld", (long long)v->i); break;
    case MIG_V_BOOL: fputs(v->i ? "true" : "false", out); break;
    case MIG_V_DURATION: fprintf(out, "%lldms", (long long)v->i); break;
    case MIG_V_FLOAT: {
        char buf[32];
        fputs(mig_float_text(mig_vfloat(v), buf), out);
        break;
    }
    case MIG_V_STRING:
        fputc('"', out);
        for (uint32_t i = 0; i < v->n && i < 60; i++) {
            char c = v->s[i];
            if (c == '\n')
                fputs("\\n", out);
            else if (c == '"' || c == '\\')
                fprintf(out, "\\%c", c);
            else
                fputc(c, out);
        }
        fputs(v->n > 60 ? "\"…" : "\"", out);
        break;
    default: fputs("?", out); break;
    }
}

/* The SQL of a variant on one line, whitespace collapsed, shortened. */
static void print_sql(FILE *out, const struct mig_plan *p, const struct mig_pvariant *v)
{
    const char *s = mig_plan_str(p, v->text);
    int col = 0, space = 0;
    while (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r')
        s++;
    for (; *s && col < 60; s++) {
        if (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r') {
            space = 1;
            continue;
        }
        if (space && col) {
            fputc(' ', out);
            col++;
        }
        space = 0;
        fputc(*s, out);
        if (((unsigned char)*s & 0xC0) != 0x80)
            col++;
    }
    if (*s)
        fputs("…", out);
}

static void print_query(FILE *out, const struct mig_plan *p, uint32_t q)
{
    const struct mig_pquery *qq = &p->queries[q];
    for (uint32_t i = 0; i < qq->nvariants; i++) {
        static const char *const d[] = { "", "postgres: ", "sqlite: " };
        fprintf(out, "%s%s", i ? " | " : "", d[qq->v[i].dialect]);
        print_sql(out, p, &qq->v[i]);
    }
}

/* A duration as written: 30s, 5m, 250ms. */
static void print_ms(FILE *out, int64_t ms)
{
    if (ms && ms % 3600000 == 0)
        fprintf(out, "%lldh", (long long)(ms / 3600000));
    else if (ms && ms % 60000 == 0)
        fprintf(out, "%lldm", (long long)(ms / 60000));
    else if (ms && ms % 1000 == 0)
        fprintf(out, "%llds", (long long)(ms / 1000));
    else
        fprintf(out, "%lldms", (long long)ms);
}

/* An exec as written: exec ["pg_dump", "--file", dir + "/x"] timeout 30m (shortened). */
static void print_exec(FILE *out, const struct mig_plan *p, uint32_t e)
{
    char *t = mig_pexec_text(p, e);
    size_t n = t ? strlen(t) : 0, cols = 0, i = 0;
    fputs(p->execs[e].output ? "output exec " : "exec ", out);
    for (; i < n && cols < 100; i++) {
        fputc(t[i] == '\n' || t[i] == '\t' ? ' ' : t[i], out);
        if (((unsigned char)t[i] & 0xC0) != 0x80)
            cols++;
    }
    if (i < n)
        fputs("…", out);
    free(t);
}

static const char *step_path(const struct mig_plan *p, uint32_t s, char *buf, size_t n)
{
    const struct mig_pstep *st = &p->steps[s];
    snprintf(buf, n, "%s.%s.%s", mig_plan_str(p, p->migrations[st->migration].name),
             mig_plan_str(p, p->phases[st->phase].name), mig_plan_str(p, st->name));
    return buf;
}

/* Whether the listing shows what an operand of kind k refers to: slots,
 * arguments, counts and addresses say all they mean as numbers. */
static bool described(enum mig_opkind k)
{
    return k != K_NONE && k != K_SLOT && k != K_ARG && k != K_COUNT && k != K_ADDR;
}

/* What operand x of kind k refers to (a described kind). */
static void describe(FILE *out, const struct mig_plan *p, enum mig_opkind k, uint32_t x)
{
    char buf[512];
    switch (k) {
    case K_CONST: print_value(out, &p->consts[x]); break;
    case K_GLOBAL: fputs(mig_plan_str(p, p->global_names[x]), out); break;
    case K_TYPE: fputs(mig_vtype_name((enum mig_vtype)x), out); break;
    case K_FN: fprintf(out, "%s()", mig_plan_str(p, p->fns[x].name)); break;
    case K_BUILTIN: fprintf(out, "%s()", mig_builtin_name[x]); break;
    case K_QUERY: print_query(out, p, x); break;
    case K_REQUIRE: case K_VERIFY: case K_ASSERT: {
        const struct mig_pcheck *c = &p->checks[x];
        fputs(mig_plan_str(p, c->msg != MIG_NONE ? c->msg : c->text), out);
        break;
    }
    case K_PHASE: case K_PHASE_TXN: {
        const struct mig_pphase *ph = &p->phases[x];
        static const char *const txn[] = { "", "transaction phase", "transaction step", "transaction none" };
        fprintf(out, "%s.%s", mig_plan_str(p, p->migrations[ph->migration].name), mig_plan_str(p, ph->name));
        if (k == K_PHASE_TXN)
            fprintf(out, " (%s)", txn[ph->txn]);
        break;
    }
    case K_STEP: case K_STEP_ENTRY: {
        const struct mig_pstep *st = &p->steps[x];
        fputs(step_path(p, x, buf, sizeof(buf)), out);
        if (k != K_STEP_ENTRY)
            break;
        if (st->down_kind == MIG_DOWN_IRREVERSIBLE)
            fprintf(out, " (down irreversible: %s)", mig_plan_str(p, st->irreversible));
        else if (st->down_kind == MIG_DOWN_NONE)
            fprintf(out, " (down none: %s)", mig_plan_str(p, st->none_reason));
        else if (st->down_kind == MIG_DOWN_EXEC || st->down_flags) {
            fputs(" (down", out);
            if (st->down_kind == MIG_DOWN_EXEC) {
                fputc(' ', out);
                print_exec(out, p, st->down_exec);
            }
            if (st->down_flags & MIG_DOWN_OPTIONAL)
                fputs(" optional", out);
            if (st->down_flags & MIG_DOWN_RESTORES)
                fputs(" restores", out);
            fputc(')', out);
        }
        break;
    }
    case K_STEP_UP: {
        const struct mig_pstep *st = &p->steps[x];
        fprintf(out, "%s: ", step_path(p, x, buf, sizeof(buf)));
        if (st->up_kind == MIG_ACTION_EXEC)
            print_exec(out, p, st->up_exec);
        else
            print_query(out, p, st->up);
        if (st->batch && st->batch_max)
            fprintf(out, " (batch, max %lld)", (long long)st->batch_max);
        else if (st->batch)
            fputs(" (batch)", out);
        break;
    }
    case K_EXEC: case K_EXEC_ACTION: print_exec(out, p, x); break;
    case K_POLL: {
        const struct mig_pcheck *c = &p->checks[x];
        fputs("within ", out);
        print_ms(out, c->within_ms);
        fputs(" every ", out);
        print_ms(out, c->every_ms);
        fprintf(out, ": %s", mig_plan_str(p, c->text));
        break;
    }
    case K_NONE: case K_SLOT: case K_ARG: case K_COUNT: case K_ADDR: break;
    }
}

/* The comment column: what each operand refers to, by its kind. */
static void comment(FILE *out, const struct mig_plan *p, uint32_t pc)
{
    const struct mig_opinfo *oi = &mig_opinfo[p->code[pc]];
    bool any = false;
    for (int i = 0; i < oi->nops; i++) {
        enum mig_opkind k = (enum mig_opkind)oi->kind[i];
        if (!described(k))
            continue;
        if (any)
            fputs("; ", out);
        describe(out, p, k, p->code[pc + 1 + i]);
        any = true;
    }
}

static void block_title(FILE *out, const struct mig_plan *p, uint32_t bi)
{
    const struct mig_pblock *b = &p->blocks[bi];
    switch ((enum mig_blockkind)b->kind) {
    case MIG_BLOCK_GLOBALS: fputs("; file-level lets\n", out); break;
    case MIG_BLOCK_FN:
        fprintf(out, "; fn %s (%u parameter%s)\n", mig_plan_str(p, p->fns[b->owner].name),
                p->fns[b->owner].nparams, p->fns[b->owner].nparams == 1 ? "" : "s");
        break;
    case MIG_BLOCK_PROLOGUE: case MIG_BLOCK_BODY: {
        const struct mig_pmigration *m = &p->migrations[b->owner];
        fprintf(out, "; migration %s %s (%s:%u)\n", mig_plan_str(p, m->name),
                b->kind == MIG_BLOCK_PROLOGUE ? "prologue: params, lets, requires" : "body: phases and steps",
                mig_plan_str(p, m->file), m->line);
        break;
    }
    case MIG_BLOCK_EXEC: {
        /* the step whose up or down this is */
        char buf[512];
        for (uint32_t s = 0; s < p->nsteps; s++) {
            const struct mig_pstep *st = &p->steps[s];
            bool up = st->up_exec < p->nexecs && p->execs[st->up_exec].block == bi;
            bool down = st->down_exec < p->nexecs && p->execs[st->down_exec].block == bi;
            if (!up && !down)
                continue;
            uint32_t e = up ? st->up_exec : st->down_exec;
            fprintf(out, "; %s of %s (%s:%u): ", up ? "up" : "down", step_path(p, s, buf, sizeof(buf)),
                    mig_plan_str(p, p->execs[e].file), p->execs[e].line);
            print_exec(out, p, e);
            if (down && (st->down_flags & MIG_DOWN_OPTIONAL))
                fputs(" optional", out);
            if (down && (st->down_flags & MIG_DOWN_RESTORES))
                fputs(" restores", out);
            fputc('\n', out);
            return;
        }
        fprintf(out, "; exec action of migration %s\n", mig_plan_str(p, p->migrations[b->owner].name));
        break;
    }
    case MIG_BLOCK_POLL:
        for (uint32_t c = 0; c < p->nchecks; c++)
            if (p->checks[c].poll_block == bi) {
                static const char *const kinds[] = { "require", "verify", "assert" };
                fprintf(out, "; polled %s condition (%s:%u): ", kinds[p->checks[c].kind],
                        mig_plan_str(p, p->checks[c].file), p->checks[c].line);
                describe(out, p, K_POLL, c);
                fputc('\n', out);
                return;
            }
        fputs("; polled condition\n", out);
        break;
    }
}

void mig_plan_disasm(const struct mig_plan *p, FILE *out)
{
    fprintf(out, "; mig bytecode, format %d: %u migration%s, %u phase%s, %u step%s, %u function%s, "
            "%u instruction words", MIG_FORMAT_VERSION, p->nmigrations, p->nmigrations == 1 ? "" : "s",
            p->nphases, p->nphases == 1 ? "" : "s", p->nsteps, p->nsteps == 1 ? "" : "s",
            p->nfns, p->nfns == 1 ? "" : "s", p->ncode);
    if (p->nexecs)
        fprintf(out, ", %u command%s (needs --allow-exec)", p->nexecs, p->nexecs == 1 ? "" : "s");
    fputc('\n', out);
    for (uint32_t i = 0; i < p->nmigrations; i++) {
        const struct mig_pmigration *m = &p->migrations[i];
        fprintf(out, "; %u. %s", i + 1, mig_plan_str(p, m->name));
        for (uint32_t k = 0; k < m->nafter; k++)
            fprintf(out, "%s%s", k ? ", " : " after ", mig_plan_str(p, m->after[k]));
        fputc('\n', out);
    }
    for (uint32_t bi = 0; bi < p->nblocks; bi++) {
        const struct mig_pblock *b = &p->blocks[bi];
        fputc('\n', out);
        block_title(out, p, bi);
        fputs("addr  line  opcode        operands        comment\n", out);
        for (uint32_t pc = b->start; pc < b->end; pc += 1 + (uint32_t)mig_opinfo[p->code[pc]].nops) {
            const struct mig_opinfo *oi = &mig_opinfo[p->code[pc]];
            const char *file;
            uint32_t line;
            mig_plan_line(p, pc, &file, &line);
            char ops[64] = "";
            size_t k = 0;
            for (int i = 0; i < oi->nops && k < sizeof(ops); i++)
                k += (size_t)snprintf(ops + k, sizeof(ops) - k, "%s%u", i ? " " : "", p->code[pc + 1 + i]);
            char *text = NULL;
            size_t len = 0;
            FILE *m = open_memstream(&text, &len);
            if (!m)
                return;
            fprintf(m, "%04u  %4u  %-13s %-15s ", pc, line, oi->name, ops);
            comment(m, p, pc);
            fclose(m);
            while (len > 0 && text[len - 1] == ' ')
                len--;
            fwrite(text, 1, len, out);
            fputc('\n', out);
            free(text);
        }
    }
}
