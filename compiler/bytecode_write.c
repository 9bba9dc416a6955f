/* bytecode_write.c — serialises a plan to its .migb image (the format the
 * runtime's loader in runtime/plan.c reads and verifies). Only the compiler
 * writes plans, so the writer lives beside codegen and migrun never links it. */
#include "runtime/plan.h"
#include "lib/sha256.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct wbuf {
    unsigned char *b;
    size_t n, cap;
};

static void put(struct wbuf *w, const void *p, size_t n)
{
    if (w->n + n > w->cap) {
        size_t cap = w->cap ? w->cap * 2 : 4096;
        while (cap < w->n + n)
            cap *= 2;
        unsigned char *nb = realloc(w->b, cap);
        if (!nb) {
            fputs("fatal: out of memory\n", stderr);
            abort();
        }
        w->b = nb;
        w->cap = cap;
    }
    memcpy(w->b + w->n, p, n);
    w->n += n;
}

static void put_u8(struct wbuf *w, uint8_t v) { put(w, &v, 1); }

static void put_u32(struct wbuf *w, uint32_t v)
{
    unsigned char b[4] = { (unsigned char)v, (unsigned char)(v >> 8), (unsigned char)(v >> 16),
                           (unsigned char)(v >> 24) };
    put(w, b, 4);
}

static void put_i64(struct wbuf *w, int64_t s)
{
    uint64_t v = (uint64_t)s;
    put_u32(w, (uint32_t)v);
    put_u32(w, (uint32_t)(v >> 32));
}

unsigned char *mig_plan_write(const struct mig_plan *p, size_t *size)
{
    struct wbuf w = { 0 };
    unsigned char zero[MIG_MIGB_HEADER];
    memset(zero, 0, sizeof(zero));
    put(&w, zero, MIG_MIGB_HEADER);
    put_u32(&w, p->nstrings);
    for (uint32_t i = 0; i < p->nstrings; i++) {
        put_u32(&w, p->string_len[i]);
        put(&w, p->strings[i], p->string_len[i]);
    }
    put_u32(&w, p->nconsts);
    for (uint32_t i = 0; i < p->nconsts; i++) {
        put_u8(&w, (uint8_t)p->consts[i].t);
        put_i64(&w, p->consts[i].i);
    }
    put_u32(&w, p->nqueries);
    for (uint32_t i = 0; i < p->nqueries; i++) {
        const struct mig_pquery *q = &p->queries[i];
        put_u32(&w, q->nvariants);
        for (uint32_t k = 0; k < q->nvariants; k++) {
            const struct mig_pvariant *v = &q->v[k];
            put_u8(&w, v->dialect);
            put_u32(&w, v->text);
            put_u32(&w, v->file);
            put_u32(&w, v->line);
            put(&w, v->sha256, 32);
            put_u32(&w, v->ninterps);
            for (uint32_t j = 0; j < v->ninterps; j++) {
                put_u32(&w, v->interps[j].off);
                put_u32(&w, v->interps[j].len);
                put_u8(&w, v->interps[j].mode);
                put_u8(&w, v->interps[j].kind);
                put_u32(&w, v->interps[j].index);
                put_u32(&w, v->interps[j].name);
            }
        }
    }
    put_u32(&w, p->nchecks);
    for (uint32_t i = 0; i < p->nchecks; i++) {
        put_u8(&w, p->checks[i].kind);
        put_u32(&w, p->checks[i].msg);
        put_u32(&w, p->checks[i].text);
        put_u32(&w, p->checks[i].file);
        put_u32(&w, p->checks[i].line);
        put_u32(&w, p->checks[i].poll_block);
        put_i64(&w, p->checks[i].within_ms);
        put_i64(&w, p->checks[i].every_ms);
    }
    put_u32(&w, p->nexecs);
    for (uint32_t i = 0; i < p->nexecs; i++) {
        const struct mig_pexec *e = &p->execs[i];
        put_u32(&w, e->block);
        put_u32(&w, e->nargv);
        for (uint32_t k = 0; k < e->nargv; k++)
            put_u32(&w, e->argv_text[k]);
        put_u32(&w, e->nenv);
        for (uint32_t k = 0; k < e->nenv; k++)
            put_u32(&w, e->env_names[k]);
        put_u8(&w, e->has_cwd);
        put_u8(&w, e->output);
        put_i64(&w, e->timeout_ms);
        put_u32(&w, e->file);
        put_u32(&w, e->line);
        put(&w, e->sha256, 32);
    }
    put_u32(&w, p->nfns);
    for (uint32_t i = 0; i < p->nfns; i++) {
        put_u32(&w, p->fns[i].name);
        put_u32(&w, p->fns[i].nparams);
        put_u32(&w, p->fns[i].block);
    }
    put_u32(&w, p->nglobals);
    for (uint32_t i = 0; i < p->nglobals; i++)
        put_u32(&w, p->global_names[i]);
    put_u32(&w, p->globals_block);
    put_u32(&w, p->nmigrations);
    for (uint32_t i = 0; i < p->nmigrations; i++) {
        const struct mig_pmigration *m = &p->migrations[i];
        put_u32(&w, m->name);
        put_u32(&w, m->title);
        put_u32(&w, m->file);
        put_u32(&w, m->line);
        put_u32(&w, m->ntargets);
        for (uint32_t k = 0; k < m->ntargets; k++) {
            put_u8(&w, m->targets[k].dialect);
            put_i64(&w, m->targets[k].min_version);
        }
        put_u32(&w, m->nafter);
        for (uint32_t k = 0; k < m->nafter; k++)
            put_u32(&w, m->after[k]);
        put_u32(&w, m->nparams);
        for (uint32_t k = 0; k < m->nparams; k++) {
            put_u32(&w, m->params[k].name);
            put_u8(&w, m->params[k].type);
            put_u32(&w, m->params[k].slot);
        }
        put_u32(&w, m->nslots);
        put_u32(&w, m->prologue);
        put_u32(&w, m->body);
        put_u32(&w, m->first_phase);
        put_u32(&w, m->nphases);
    }
    put_u32(&w, p->nphases);
    for (uint32_t i = 0; i < p->nphases; i++) {
        const struct mig_pphase *ph = &p->phases[i];
        put_u32(&w, ph->name);
        put_u32(&w, ph->title);
        put_u32(&w, ph->migration);
        put_u32(&w, ph->file);
        put_u32(&w, ph->line);
        put_u8(&w, ph->txn);
        put_u8(&w, ph->implicit);
        put_i64(&w, ph->timeout_ms);
        put_i64(&w, ph->lock_timeout_ms);
        put_i64(&w, ph->retry);
        put_i64(&w, ph->retry_every_ms);
        put_u32(&w, ph->first_step);
        put_u32(&w, ph->nsteps);
    }
    put_u32(&w, p->nsteps);
    for (uint32_t i = 0; i < p->nsteps; i++) {
        const struct mig_pstep *s = &p->steps[i];
        put_u32(&w, s->name);
        put_u32(&w, s->title);
        put_u32(&w, s->migration);
        put_u32(&w, s->phase);
        put_u32(&w, s->file);
        put_u32(&w, s->line);
        put_u32(&w, s->up);
        put_u32(&w, s->down);
        put_u32(&w, s->irreversible);
        put_u8(&w, s->batch);
        put_i64(&w, s->batch_max);
        put_u8(&w, s->up_kind);
        put_u8(&w, s->down_kind);
        put_u8(&w, s->down_flags);
        put_u32(&w, s->up_exec);
        put_u32(&w, s->down_exec);
        put_u32(&w, s->none_reason);
    }
    put_u32(&w, p->nblocks);
    for (uint32_t i = 0; i < p->nblocks; i++) {
        put_u8(&w, p->blocks[i].kind);
        put_u32(&w, p->blocks[i].owner);
        put_u32(&w, p->blocks[i].start);
        put_u32(&w, p->blocks[i].end);
    }
    put_u32(&w, p->ncode);
    for (uint32_t i = 0; i < p->ncode; i++)
        put_u32(&w, p->code[i]);
    put_u32(&w, p->nlines);
    for (uint32_t i = 0; i < p->nlines; i++) {
        put_u32(&w, p->lines[i].addr);
        put_u32(&w, p->lines[i].file);
        put_u32(&w, p->lines[i].line);
    }
    /* header: magic, format version, flags, size, SHA-256 of what follows */
    memcpy(w.b, "MIGB", 4);
    unsigned char *h = w.b + 4;
    uint32_t ver = MIG_FORMAT_VERSION, flags = 0;
    uint64_t sz = w.n;
    for (int i = 0; i < 4; i++) {
        h[i] = (unsigned char)(ver >> (8 * i));
        h[4 + i] = (unsigned char)(flags >> (8 * i));
    }
    for (int i = 0; i < 8; i++)
        h[8 + i] = (unsigned char)(sz >> (8 * i));
    mig_sha256(w.b + MIG_MIGB_HEADER, w.n - MIG_MIGB_HEADER, w.b + 20);
    *size = w.n;
    return w.b;
}
