/* plan.c — the plan's lifetime, its .migb image (writer and loader), and
 * the opcode descriptor table generated from opcodes.h. */
#include "plan.h"
#include "opcodes.h"
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>

const struct mig_opinfo mig_opinfo[OP__COUNT] = {
#define OP_INFO(name, nops, pop, push, flags, doc) { #name, nops, pop, push, flags, doc },
    MIG_OPCODES(OP_INFO)
#undef OP_INFO
};

const uint8_t mig_builtin_arity[MIG_B__COUNT][2] = {
    [MIG_B_DIALECT] = { 0, 0 }, [MIG_B_SERVER_VERSION] = { 0, 0 }, [MIG_B_ENV] = { 1, 2 },
    [MIG_B_INT] = { 1, 1 }, [MIG_B_STRING] = { 1, 1 }, [MIG_B_IS_NULL] = { 1, 1 },
};
const char *const mig_builtin_name[MIG_B__COUNT] = {
    "?", "dialect", "server_version", "env", "int", "string", "is_null",
};

const char *mig_vtype_name(enum mig_vtype t)
{
    static const char *const names[] = { "null", "int", "string", "bool", "duration" };
    return t < MIG_V__COUNT ? names[t] : "?";
}

void mig_plan_free(struct mig_plan *p)
{
    if (!p)
        return;
    mig_arena_free(&p->arena);
    free(p);
}

const char *mig_plan_str(const struct mig_plan *p, uint32_t s)
{
    return s < p->nstrings ? p->strings[s] : "";
}

void mig_plan_line(const struct mig_plan *p, uint32_t addr, const char **file, uint32_t *line)
{
    *file = "";
    *line = 0;
    size_t lo = 0, hi = p->nlines;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (p->lines[mid].addr <= addr)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo > 0) {
        *file = mig_plan_str(p, p->lines[lo - 1].file);
        *line = p->lines[lo - 1].line;
    }
}

const struct mig_pvariant *mig_plan_variant(const struct mig_plan *p, uint32_t query, int dialect)
{
    if (query >= p->nqueries)
        return NULL;
    const struct mig_pquery *q = &p->queries[query];
    const struct mig_pvariant *any = NULL;
    for (uint32_t i = 0; i < q->nvariants; i++) {
        if (q->v[i].dialect == dialect)
            return &q->v[i];
        if (q->v[i].dialect == 0)
            any = &q->v[i];
    }
    return any;
}

/* ---- writer ----------------------------------------------------------------- */

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

enum { HEADER = 4 + 4 + 4 + 8 + 32 };

unsigned char *mig_plan_write(const struct mig_plan *p, size_t *size)
{
    struct wbuf w = { 0 };
    unsigned char zero[HEADER];
    memset(zero, 0, sizeof(zero));
    put(&w, zero, HEADER);
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
    unsigned len = 32;
    EVP_Digest(w.b + HEADER, w.n - HEADER, w.b + 20, &len, EVP_sha256(), NULL);
    *size = w.n;
    return w.b;
}

/* ---- loader ----------------------------------------------------------------- */

struct rbuf {
    const unsigned char *b;
    size_t n, pos;
    int bad;
};

static int need(struct rbuf *r, size_t n)
{
    if (r->bad || r->n - r->pos < n) {
        r->bad = 1;
        return 0;
    }
    return 1;
}

static uint8_t get_u8(struct rbuf *r)
{
    if (!need(r, 1))
        return 0;
    return r->b[r->pos++];
}

static uint32_t get_u32(struct rbuf *r)
{
    if (!need(r, 4))
        return 0;
    const unsigned char *b = r->b + r->pos;
    r->pos += 4;
    return (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
}

static int64_t get_i64(struct rbuf *r)
{
    uint64_t lo = get_u32(r), hi = get_u32(r);
    return (int64_t)(lo | hi << 32);
}

/* A count of elements of at least `min` bytes each that can still fit. */
static uint32_t get_count(struct rbuf *r, size_t min)
{
    uint32_t n = get_u32(r);
    if (!r->bad && (size_t)n > (r->n - r->pos) / (min ? min : 1)) {
        r->bad = 1;
        return 0;
    }
    return n;
}

static void *alloc_n(struct mig_plan *p, size_t n, size_t sz)
{
    return mig_arena_alloc(&p->arena, (n ? n : 1) * sz);
}

struct mig_plan *mig_plan_load(const unsigned char *buf, size_t size, char *err, size_t errlen)
{
    if (size < HEADER || memcmp(buf, "MIGB", 4) != 0) {
        snprintf(err, errlen, "not a mig bytecode file (bad magic number)");
        return NULL;
    }
    uint32_t ver = (uint32_t)buf[4] | (uint32_t)buf[5] << 8 | (uint32_t)buf[6] << 16 | (uint32_t)buf[7] << 24;
    if (ver != MIG_FORMAT_VERSION) {
        snprintf(err, errlen, "bytecode format version %u is not supported (this migrun reads version %u)",
                 ver, MIG_FORMAT_VERSION);
        return NULL;
    }
    uint32_t flags = (uint32_t)buf[8] | (uint32_t)buf[9] << 8 | (uint32_t)buf[10] << 16 | (uint32_t)buf[11] << 24;
    if (flags != 0) {
        snprintf(err, errlen, "unknown bytecode flags 0x%x (written by a newer mig?)", flags);
        return NULL;
    }
    uint64_t sz = 0;
    for (int i = 0; i < 8; i++)
        sz |= (uint64_t)buf[12 + i] << (8 * i);
    if (sz != size) {
        snprintf(err, errlen, "the file is %s (%zu bytes, the header says %llu)",
                 size < sz ? "truncated" : "longer than written", size, (unsigned long long)sz);
        return NULL;
    }
    unsigned char sha[32];
    unsigned len = 32;
    EVP_Digest(buf + HEADER, size - HEADER, sha, &len, EVP_sha256(), NULL);
    if (memcmp(sha, buf + 20, 32) != 0) {
        snprintf(err, errlen, "checksum mismatch: the file is corrupted");
        return NULL;
    }
    struct mig_plan *p = calloc(1, sizeof(*p));
    if (!p) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    struct rbuf r = { buf, size, HEADER, 0 };
    p->nstrings = get_count(&r, 4);
    p->strings = alloc_n(p, p->nstrings, sizeof(*p->strings));
    p->string_len = alloc_n(p, p->nstrings, sizeof(*p->string_len));
    for (uint32_t i = 0; i < p->nstrings && !r.bad; i++) {
        uint32_t n = get_u32(&r);
        if (!need(&r, n))
            break;
        p->strings[i] = mig_arena_strndup(&p->arena, (const char *)r.b + r.pos, n);
        p->string_len[i] = n;
        r.pos += n;
    }
    p->nconsts = get_count(&r, 9);
    p->consts = alloc_n(p, p->nconsts, sizeof(*p->consts));
    for (uint32_t i = 0; i < p->nconsts && !r.bad; i++) {
        p->consts[i].t = (enum mig_vtype)get_u8(&r);
        p->consts[i].i = get_i64(&r);
    }
    p->nqueries = get_count(&r, 4);
    p->queries = alloc_n(p, p->nqueries, sizeof(*p->queries));
    for (uint32_t i = 0; i < p->nqueries && !r.bad; i++) {
        struct mig_pquery *q = &p->queries[i];
        q->nvariants = get_count(&r, 49);
        q->v = alloc_n(p, q->nvariants, sizeof(*q->v));
        for (uint32_t k = 0; k < q->nvariants && !r.bad; k++) {
            struct mig_pvariant *v = &q->v[k];
            v->dialect = get_u8(&r);
            v->text = get_u32(&r);
            v->file = get_u32(&r);
            v->line = get_u32(&r);
            if (need(&r, 32)) {
                memcpy(v->sha256, r.b + r.pos, 32);
                r.pos += 32;
            }
            v->ninterps = get_count(&r, 18);
            v->interps = alloc_n(p, v->ninterps, sizeof(*v->interps));
            for (uint32_t j = 0; j < v->ninterps && !r.bad; j++) {
                v->interps[j].off = get_u32(&r);
                v->interps[j].len = get_u32(&r);
                v->interps[j].mode = get_u8(&r);
                v->interps[j].kind = get_u8(&r);
                v->interps[j].index = get_u32(&r);
                v->interps[j].name = get_u32(&r);
            }
        }
    }
    p->nchecks = get_count(&r, 17);
    p->checks = alloc_n(p, p->nchecks, sizeof(*p->checks));
    for (uint32_t i = 0; i < p->nchecks && !r.bad; i++) {
        p->checks[i].kind = get_u8(&r);
        p->checks[i].msg = get_u32(&r);
        p->checks[i].text = get_u32(&r);
        p->checks[i].file = get_u32(&r);
        p->checks[i].line = get_u32(&r);
    }
    p->nfns = get_count(&r, 12);
    p->fns = alloc_n(p, p->nfns, sizeof(*p->fns));
    for (uint32_t i = 0; i < p->nfns && !r.bad; i++) {
        p->fns[i].name = get_u32(&r);
        p->fns[i].nparams = get_u32(&r);
        p->fns[i].block = get_u32(&r);
    }
    p->nglobals = get_count(&r, 4);
    p->global_names = alloc_n(p, p->nglobals, sizeof(*p->global_names));
    for (uint32_t i = 0; i < p->nglobals && !r.bad; i++)
        p->global_names[i] = get_u32(&r);
    p->globals_block = get_u32(&r);
    p->nmigrations = get_count(&r, 48);
    p->migrations = alloc_n(p, p->nmigrations, sizeof(*p->migrations));
    for (uint32_t i = 0; i < p->nmigrations && !r.bad; i++) {
        struct mig_pmigration *m = &p->migrations[i];
        m->name = get_u32(&r);
        m->title = get_u32(&r);
        m->file = get_u32(&r);
        m->line = get_u32(&r);
        m->ntargets = get_count(&r, 9);
        m->targets = alloc_n(p, m->ntargets, sizeof(*m->targets));
        for (uint32_t k = 0; k < m->ntargets && !r.bad; k++) {
            m->targets[k].dialect = get_u8(&r);
            m->targets[k].min_version = get_i64(&r);
        }
        m->nafter = get_count(&r, 4);
        m->after = alloc_n(p, m->nafter, sizeof(*m->after));
        for (uint32_t k = 0; k < m->nafter && !r.bad; k++)
            m->after[k] = get_u32(&r);
        m->nparams = get_count(&r, 9);
        m->params = alloc_n(p, m->nparams, sizeof(*m->params));
        for (uint32_t k = 0; k < m->nparams && !r.bad; k++) {
            m->params[k].name = get_u32(&r);
            m->params[k].type = get_u8(&r);
            m->params[k].slot = get_u32(&r);
        }
        m->nslots = get_u32(&r);
        m->prologue = get_u32(&r);
        m->body = get_u32(&r);
        m->first_phase = get_u32(&r);
        m->nphases = get_u32(&r);
    }
    p->nphases = get_count(&r, 62);
    p->phases = alloc_n(p, p->nphases, sizeof(*p->phases));
    for (uint32_t i = 0; i < p->nphases && !r.bad; i++) {
        struct mig_pphase *ph = &p->phases[i];
        ph->name = get_u32(&r);
        ph->title = get_u32(&r);
        ph->migration = get_u32(&r);
        ph->file = get_u32(&r);
        ph->line = get_u32(&r);
        ph->txn = get_u8(&r);
        ph->implicit = get_u8(&r);
        ph->timeout_ms = get_i64(&r);
        ph->lock_timeout_ms = get_i64(&r);
        ph->retry = get_i64(&r);
        ph->retry_every_ms = get_i64(&r);
        ph->first_step = get_u32(&r);
        ph->nsteps = get_u32(&r);
    }
    p->nsteps = get_count(&r, 45);
    p->steps = alloc_n(p, p->nsteps, sizeof(*p->steps));
    for (uint32_t i = 0; i < p->nsteps && !r.bad; i++) {
        struct mig_pstep *s = &p->steps[i];
        s->name = get_u32(&r);
        s->title = get_u32(&r);
        s->migration = get_u32(&r);
        s->phase = get_u32(&r);
        s->file = get_u32(&r);
        s->line = get_u32(&r);
        s->up = get_u32(&r);
        s->down = get_u32(&r);
        s->irreversible = get_u32(&r);
        s->batch = get_u8(&r);
        s->batch_max = get_i64(&r);
    }
    p->nblocks = get_count(&r, 13);
    p->blocks = alloc_n(p, p->nblocks, sizeof(*p->blocks));
    for (uint32_t i = 0; i < p->nblocks && !r.bad; i++) {
        p->blocks[i].kind = get_u8(&r);
        p->blocks[i].owner = get_u32(&r);
        p->blocks[i].start = get_u32(&r);
        p->blocks[i].end = get_u32(&r);
    }
    p->ncode = get_count(&r, 4);
    p->code = alloc_n(p, p->ncode, sizeof(*p->code));
    for (uint32_t i = 0; i < p->ncode && !r.bad; i++)
        p->code[i] = get_u32(&r);
    p->nlines = get_count(&r, 12);
    p->lines = alloc_n(p, p->nlines, sizeof(*p->lines));
    for (uint32_t i = 0; i < p->nlines && !r.bad; i++) {
        p->lines[i].addr = get_u32(&r);
        p->lines[i].file = get_u32(&r);
        p->lines[i].line = get_u32(&r);
    }
    if (r.bad || r.pos != r.n) {
        snprintf(err, errlen, "malformed bytecode: %s at byte %zu", r.bad ? "a table runs past the end" :
                 "unexpected bytes after the last table", r.pos);
        mig_plan_free(p);
        return NULL;
    }
    for (uint32_t i = 0; i < p->nconsts; i++)
        if (p->consts[i].t == MIG_V_STRING) {
            if (p->consts[i].i < 0 || p->consts[i].i >= p->nstrings) {
                snprintf(err, errlen, "malformed bytecode: constant %u names string %lld of %u", i,
                         (long long)p->consts[i].i, p->nstrings);
                mig_plan_free(p);
                return NULL;
            }
            p->consts[i].s = p->strings[p->consts[i].i];
            p->consts[i].n = p->string_len[p->consts[i].i];
        }
    if (mig_plan_verify(p, err, errlen) != 0) {
        mig_plan_free(p);
        return NULL;
    }
    return p;
}
