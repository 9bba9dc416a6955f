/* plan.c — the plan's lifetime, the loader of its .migb image (the writer is
 * compiler/bytecode_write.c), and the opcode descriptor table generated
 * from opcodes.h. */
#include "plan.h"
#include "opcodes.h"
#include "lib/sha256.h"
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#define OP_OPERANDS(n, k0, k1) n, { k0, k1 }
const struct mig_opinfo mig_opinfo[OP__COUNT] = {
#define OP_INFO(name, ops, pop, push, flags, doc) { #name, OP_OPERANDS(ops), pop, push, flags, doc },
    MIG_OPCODES(OP_INFO)
#undef OP_INFO
};
#undef OP_OPERANDS

/* The VM and the verifier take a jump's address from the last operand and a
 * call's argument count from the operand after the callee: the table must
 * say so, or it does not compile. */
#define OP_LAST(n, k0, k1) ((n) == 2 ? (k1) : (n) == 1 ? (k0) : K_NONE)
#define OP_JUMP_OK(n, k0, k1, flags) \
    ((((flags) & OPF_JUMP) != 0) == (OP_LAST(n, k0, k1) == K_ADDR) && ((n) < 2 || (k0) != K_ADDR))
#define OP_COUNT_OK(n, k0, k1, pop) \
    (((pop) < 0) == ((n) == 2 && (k1) == K_COUNT) && (k0) != K_COUNT && \
     ((pop) >= 0 || (k0) == K_FN || (k0) == K_BUILTIN || (k0) == K_EXEC || (k0) == K_EXEC_ACTION))
#define OP_SHAPE(name, ops, pop, push, flags, doc) \
    _Static_assert(OP_JUMP_OK(ops, flags), #name ": a jump needs its address as last operand"); \
    _Static_assert(OP_COUNT_OK(ops, pop), #name ": a variable pop needs a callee and a count");
MIG_OPCODES(OP_SHAPE)
#undef OP_SHAPE
#undef OP_COUNT_OK
#undef OP_JUMP_OK
#undef OP_LAST

const uint8_t mig_builtin_arity[MIG_B__COUNT][2] = {
    [MIG_B_DIALECT] = { 0, 0 }, [MIG_B_SERVER_VERSION] = { 0, 0 }, [MIG_B_ENV] = { 1, 2 },
    [MIG_B_INT] = { 1, 1 }, [MIG_B_STRING] = { 1, 1 }, [MIG_B_IS_NULL] = { 1, 1 },
    [MIG_B_FLOAT] = { 1, 1 }, [MIG_B_VERSION_CMP] = { 2, 2 }, [MIG_B_MATCHES] = { 2, 2 },
    [MIG_B_TRIM] = { 1, 1 }, [MIG_B_LOWER] = { 1, 1 }, [MIG_B_UPPER] = { 1, 1 },
};
const char *const mig_builtin_name[MIG_B__COUNT] = {
    "?", "dialect", "server_version", "env", "int", "string", "is_null", "float", "version_cmp",
    "matches", "trim", "lower", "upper",
};

const char *mig_vtype_name(enum mig_vtype t)
{
    static const char *const names[] = { "null", "int", "string", "bool", "duration", "float" };
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

const char *mig_pstep_none_reason(const struct mig_plan *p, const struct mig_pstep *s)
{
    return s->down_kind == MIG_DOWN_NONE ? mig_plan_str(p, s->none_reason) : NULL;
}

char *mig_pexec_text(const struct mig_plan *p, uint32_t exec)
{
    char *text = NULL;
    size_t len = 0;
    FILE *m = open_memstream(&text, &len);
    if (!m)
        return NULL;
    const struct mig_pexec *e = &p->execs[exec];
    fputc('[', m);
    for (uint32_t i = 0; i < e->nargv; i++)
        fprintf(m, "%s%s", i ? ", " : "", mig_plan_str(p, e->argv_text[i]));
    fputc(']', m);
    if (e->timeout_ms) {
        int64_t t = e->timeout_ms;
        if (t % 3600000 == 0)
            fprintf(m, " timeout %lldh", (long long)(t / 3600000));
        else if (t % 60000 == 0)
            fprintf(m, " timeout %lldm", (long long)(t / 60000));
        else if (t % 1000 == 0)
            fprintf(m, " timeout %llds", (long long)(t / 1000));
        else
            fprintf(m, " timeout %lldms", (long long)t);
    }
    for (uint32_t i = 0; i < e->nenv; i++)
        fprintf(m, "%s%s", i ? ", " : " env {", mig_plan_str(p, e->env_names[i]));
    if (e->nenv)
        fputc('}', m);
    if (e->has_cwd)
        fputs(" cwd", m);
    if (fclose(m) != 0) {
        free(text);
        return NULL;
    }
    return text;
}

/* ---- loader ----------------------------------------------------------------- */

/* The image is read through a window: the whole of it for a buffer in
 * memory, or 64 KiB of a file at a time (mig_plan_load_file), so a plan of
 * thousands of migrations is never in memory twice — as bytes and as
 * tables. pos and n are positions in the image; the window holds
 * [wstart, wstart + wlen). A file's bytes after the header are hashed as
 * they are read, and the sum compared once the last is. */
struct rbuf {
    const unsigned char *b;     /* the window */
    size_t n, pos;
    size_t wstart, wlen;
    FILE *f;                    /* NULL: b is the whole image */
    unsigned char *win;         /* (file) the window's buffer, WINDOW bytes */
    struct mig_sha256_ctx *md;  /* (file) the SHA-256 of what was read after the header */
    int bad;
    int short_read;             /* (file) it ended before the size its header says */
};

enum { WINDOW = 1 << 16 };

/* Makes the window hold [pos, pos + k), k <= WINDOW (file mode). */
static int fill(struct rbuf *r, size_t k)
{
    size_t keep = r->wstart + r->wlen - r->pos;
    memmove(r->win, r->win + (r->pos - r->wstart), keep);
    r->wstart = r->pos;
    r->wlen = keep;
    while (r->wlen < k) {
        size_t want = WINDOW - r->wlen;
        if (want > r->n - (r->wstart + r->wlen))
            want = r->n - (r->wstart + r->wlen);
        size_t got = want ? fread(r->win + r->wlen, 1, want, r->f) : 0;
        if (got == 0) {
            r->short_read = 1;
            return 0;
        }
        if (r->md)
            mig_sha256_update(r->md, r->win + r->wlen, got);
        r->wlen += got;
    }
    r->b = r->win;
    return 1;
}

static int need(struct rbuf *r, size_t n)
{
    if (r->bad || r->n - r->pos < n) {
        r->bad = 1;
        return 0;
    }
    if (r->f && r->pos + n > r->wstart + r->wlen && (n > WINDOW || !fill(r, n))) {
        r->bad = 1;
        return 0;
    }
    return 1;
}

/* n bytes into dst (any n: a file's are copied a window at a time). */
static int get_bytes(struct rbuf *r, void *dst, size_t n)
{
    if (r->bad || r->n - r->pos < n) {
        r->bad = 1;
        return 0;
    }
    unsigned char *d = dst;
    while (n) {
        size_t k = n < WINDOW ? n : WINDOW;
        if (!need(r, k))
            return 0;
        memcpy(d, r->b + (r->pos - r->wstart), k);
        r->pos += k;
        d += k;
        n -= k;
    }
    return 1;
}

static uint8_t get_u8(struct rbuf *r)
{
    if (!need(r, 1))
        return 0;
    return r->b[r->pos++ - r->wstart];
}

static uint32_t get_u32(struct rbuf *r)
{
    if (!need(r, 4))
        return 0;
    const unsigned char *b = r->b + (r->pos - r->wstart);
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

/* An empty table points here (never written: its loops run zero times),
 * not to an allocation of its own: one plan has thousands of them (the
 * interpolations, targets and parameters of each query and migration). */
static max_align_t empty_table[16];

static void *alloc_n(struct mig_plan *p, size_t n, size_t sz)
{
    if (n == 0 && sz <= sizeof(empty_table))
        return empty_table;
    return mig_arena_alloc(&p->arena, (n ? n : 1) * sz);
}

/* The header's checks (magic, version, flags, the size against the file's
 * size): 0, or -1 with err set. */
static int check_header(const unsigned char *buf, size_t size, char *err, size_t errlen)
{
    if (size < MIG_MIGB_HEADER || memcmp(buf, "MIGB", 4) != 0) {
        snprintf(err, errlen, "not a mig bytecode file (bad magic number)");
        return -1;
    }
    uint32_t ver = (uint32_t)buf[4] | (uint32_t)buf[5] << 8 | (uint32_t)buf[6] << 16 | (uint32_t)buf[7] << 24;
    if (ver != MIG_FORMAT_VERSION) {
        snprintf(err, errlen, "bytecode format version %u is not supported (this migrun reads version %u)%s",
                 ver, MIG_FORMAT_VERSION,
                 ver < MIG_FORMAT_VERSION ? ": compile the sources again with this migc (migc build)" : "");
        return -1;
    }
    uint32_t flags = (uint32_t)buf[8] | (uint32_t)buf[9] << 8 | (uint32_t)buf[10] << 16 | (uint32_t)buf[11] << 24;
    if (flags != 0) {
        snprintf(err, errlen, "unknown bytecode flags 0x%x (written by a newer mig?)", flags);
        return -1;
    }
    uint64_t sz = 0;
    for (int i = 0; i < 8; i++)
        sz |= (uint64_t)buf[12 + i] << (8 * i);
    if (sz != size) {
        snprintf(err, errlen, "the file is %s (%zu bytes, the header says %llu)",
                 size < sz ? "truncated" : "longer than written", size, (unsigned long long)sz);
        return -1;
    }
    return 0;
}

static struct mig_plan *parse(struct rbuf *r, const unsigned char *sum, char *err, size_t errlen);

struct mig_plan *mig_plan_load(const unsigned char *buf, size_t size, char *err, size_t errlen)
{
    if (check_header(buf, size, err, errlen) != 0)
        return NULL;
    unsigned char sha[32];
    mig_sha256(buf + MIG_MIGB_HEADER, size - MIG_MIGB_HEADER, sha);
    if (memcmp(sha, buf + 20, 32) != 0) {
        snprintf(err, errlen, "checksum mismatch: the file is corrupted");
        return NULL;
    }
    struct rbuf r = { .b = buf, .n = size, .pos = MIG_MIGB_HEADER, .wlen = size };
    return parse(&r, NULL, err, errlen);
}

struct mig_plan *mig_plan_load_file(FILE *f, size_t size, char *err, size_t errlen)
{
    unsigned char head[MIG_MIGB_HEADER];
    size_t got = fread(head, 1, sizeof(head), f);
    if (check_header(head, got < sizeof(head) ? got : size, err, errlen) != 0)
        return NULL;
    unsigned char *win = malloc(WINDOW);
    if (!win) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    struct mig_sha256_ctx md;
    mig_sha256_init(&md);
    struct rbuf r = { .b = win, .n = size, .pos = MIG_MIGB_HEADER, .wstart = MIG_MIGB_HEADER,
                      .f = f, .win = win, .md = &md };
    struct mig_plan *p = parse(&r, head + 20, err, errlen);
    free(win);
    mig_sha256_free(&md);
    return p;
}

/* (file mode) What is wrong with the file as a whole, or NULL: the rest of
 * it (after the bytes the tables took) is hashed now, and the sum compared
 * with its header's — so a damaged file met part way through its tables is
 * named corrupted, not malformed, as a whole file read at once is. */
static const char *file_problem(struct rbuf *r, const unsigned char *sum)
{
    static const char truncated[] = "the file is truncated (it changed while it was read)";
    if (r->short_read)
        return truncated;
    unsigned char buf[4096], sha[32];
    size_t at = r->wstart + r->wlen, got;
    while ((got = fread(buf, 1, sizeof(buf), r->f)) > 0) {
        if (got > r->n - at)
            return "the file is longer than written (it changed while it was read)";
        mig_sha256_update(r->md, buf, got);
        at += got;
    }
    if (at < r->n)
        return truncated;
    mig_sha256_final(r->md, sha);
    return memcmp(sha, sum, 32) == 0 ? NULL : "checksum mismatch: the file is corrupted";
}

/* The tables of the image after its header; sum: (file mode) the SHA-256
 * the header gives, compared with r's once every byte is read. */
static struct mig_plan *parse(struct rbuf *r, const unsigned char *sum, char *err, size_t errlen)
{
    struct mig_plan *p = calloc(1, sizeof(*p));
    if (!p) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    p->nstrings = get_count(r, 4);
    p->strings = alloc_n(p, p->nstrings, sizeof(*p->strings));
    p->string_len = alloc_n(p, p->nstrings, sizeof(*p->string_len));
    for (uint32_t i = 0; i < p->nstrings && !r->bad; i++) {
        uint32_t n = get_u32(r);
        if (r->n - r->pos < n) {    /* (before allocating what a damaged length says) */
            r->bad = 1;
            break;
        }
        char *text = mig_arena_alloc_raw(&p->arena, (size_t)n + 1);
        if (!get_bytes(r, text, n))
            break;
        text[n] = 0;
        p->strings[i] = text;
        p->string_len[i] = n;
    }
    p->nconsts = get_count(r, 9);
    p->consts = alloc_n(p, p->nconsts, sizeof(*p->consts));
    for (uint32_t i = 0; i < p->nconsts && !r->bad; i++) {
        p->consts[i].t = (enum mig_vtype)get_u8(r);
        p->consts[i].i = get_i64(r);
    }
    p->nqueries = get_count(r, 4);
    p->queries = alloc_n(p, p->nqueries, sizeof(*p->queries));
    for (uint32_t i = 0; i < p->nqueries && !r->bad; i++) {
        struct mig_pquery *q = &p->queries[i];
        q->nvariants = get_count(r, 49);
        q->v = alloc_n(p, q->nvariants, sizeof(*q->v));
        for (uint32_t k = 0; k < q->nvariants && !r->bad; k++) {
            struct mig_pvariant *v = &q->v[k];
            v->dialect = get_u8(r);
            v->text = get_u32(r);
            v->file = get_u32(r);
            v->line = get_u32(r);
            get_bytes(r, v->sha256, 32);
            v->ninterps = get_count(r, 18);
            v->interps = alloc_n(p, v->ninterps, sizeof(*v->interps));
            for (uint32_t j = 0; j < v->ninterps && !r->bad; j++) {
                v->interps[j].off = get_u32(r);
                v->interps[j].len = get_u32(r);
                v->interps[j].mode = get_u8(r);
                v->interps[j].kind = get_u8(r);
                v->interps[j].index = get_u32(r);
                v->interps[j].name = get_u32(r);
            }
        }
    }
    p->nchecks = get_count(r, 37);
    p->checks = alloc_n(p, p->nchecks, sizeof(*p->checks));
    for (uint32_t i = 0; i < p->nchecks && !r->bad; i++) {
        p->checks[i].kind = get_u8(r);
        p->checks[i].msg = get_u32(r);
        p->checks[i].text = get_u32(r);
        p->checks[i].file = get_u32(r);
        p->checks[i].line = get_u32(r);
        p->checks[i].poll_block = get_u32(r);
        p->checks[i].within_ms = get_i64(r);
        p->checks[i].every_ms = get_i64(r);
    }
    p->nexecs = get_count(r, 62);
    p->execs = alloc_n(p, p->nexecs, sizeof(*p->execs));
    for (uint32_t i = 0; i < p->nexecs && !r->bad; i++) {
        struct mig_pexec *e = &p->execs[i];
        e->block = get_u32(r);
        e->nargv = get_count(r, 4);
        e->argv_text = alloc_n(p, e->nargv, sizeof(*e->argv_text));
        for (uint32_t k = 0; k < e->nargv && !r->bad; k++)
            e->argv_text[k] = get_u32(r);
        e->nenv = get_count(r, 4);
        e->env_names = alloc_n(p, e->nenv, sizeof(*e->env_names));
        for (uint32_t k = 0; k < e->nenv && !r->bad; k++)
            e->env_names[k] = get_u32(r);
        e->has_cwd = get_u8(r);
        e->output = get_u8(r);
        e->timeout_ms = get_i64(r);
        e->file = get_u32(r);
        e->line = get_u32(r);
        get_bytes(r, e->sha256, 32);
    }
    p->nfns = get_count(r, 12);
    p->fns = alloc_n(p, p->nfns, sizeof(*p->fns));
    for (uint32_t i = 0; i < p->nfns && !r->bad; i++) {
        p->fns[i].name = get_u32(r);
        p->fns[i].nparams = get_u32(r);
        p->fns[i].block = get_u32(r);
    }
    p->nglobals = get_count(r, 4);
    p->global_names = alloc_n(p, p->nglobals, sizeof(*p->global_names));
    for (uint32_t i = 0; i < p->nglobals && !r->bad; i++)
        p->global_names[i] = get_u32(r);
    p->globals_block = get_u32(r);
    p->nmigrations = get_count(r, 48);
    p->migrations = alloc_n(p, p->nmigrations, sizeof(*p->migrations));
    for (uint32_t i = 0; i < p->nmigrations && !r->bad; i++) {
        struct mig_pmigration *m = &p->migrations[i];
        m->name = get_u32(r);
        m->title = get_u32(r);
        m->file = get_u32(r);
        m->line = get_u32(r);
        m->ntargets = get_count(r, 9);
        m->targets = alloc_n(p, m->ntargets, sizeof(*m->targets));
        for (uint32_t k = 0; k < m->ntargets && !r->bad; k++) {
            m->targets[k].dialect = get_u8(r);
            m->targets[k].min_version = get_i64(r);
        }
        m->nafter = get_count(r, 4);
        m->after = alloc_n(p, m->nafter, sizeof(*m->after));
        for (uint32_t k = 0; k < m->nafter && !r->bad; k++)
            m->after[k] = get_u32(r);
        m->nparams = get_count(r, 9);
        m->params = alloc_n(p, m->nparams, sizeof(*m->params));
        for (uint32_t k = 0; k < m->nparams && !r->bad; k++) {
            m->params[k].name = get_u32(r);
            m->params[k].type = get_u8(r);
            m->params[k].slot = get_u32(r);
        }
        m->nslots = get_u32(r);
        m->prologue = get_u32(r);
        m->body = get_u32(r);
        m->first_phase = get_u32(r);
        m->nphases = get_u32(r);
    }
    p->nphases = get_count(r, 62);
    p->phases = alloc_n(p, p->nphases, sizeof(*p->phases));
    for (uint32_t i = 0; i < p->nphases && !r->bad; i++) {
        struct mig_pphase *ph = &p->phases[i];
        ph->name = get_u32(r);
        ph->title = get_u32(r);
        ph->migration = get_u32(r);
        ph->file = get_u32(r);
        ph->line = get_u32(r);
        ph->txn = get_u8(r);
        ph->implicit = get_u8(r);
        ph->timeout_ms = get_i64(r);
        ph->lock_timeout_ms = get_i64(r);
        ph->retry = get_i64(r);
        ph->retry_every_ms = get_i64(r);
        ph->first_step = get_u32(r);
        ph->nsteps = get_u32(r);
    }
    p->nsteps = get_count(r, 60);
    p->steps = alloc_n(p, p->nsteps, sizeof(*p->steps));
    for (uint32_t i = 0; i < p->nsteps && !r->bad; i++) {
        struct mig_pstep *s = &p->steps[i];
        s->name = get_u32(r);
        s->title = get_u32(r);
        s->migration = get_u32(r);
        s->phase = get_u32(r);
        s->file = get_u32(r);
        s->line = get_u32(r);
        s->up = get_u32(r);
        s->down = get_u32(r);
        s->irreversible = get_u32(r);
        s->batch = get_u8(r);
        s->batch_max = get_i64(r);
        s->up_kind = get_u8(r);
        s->down_kind = get_u8(r);
        s->down_flags = get_u8(r);
        s->up_exec = get_u32(r);
        s->down_exec = get_u32(r);
        s->none_reason = get_u32(r);
    }
    p->nblocks = get_count(r, 13);
    p->blocks = alloc_n(p, p->nblocks, sizeof(*p->blocks));
    for (uint32_t i = 0; i < p->nblocks && !r->bad; i++) {
        p->blocks[i].kind = get_u8(r);
        p->blocks[i].owner = get_u32(r);
        p->blocks[i].start = get_u32(r);
        p->blocks[i].end = get_u32(r);
    }
    p->ncode = get_count(r, 4);
    p->code = alloc_n(p, p->ncode, sizeof(*p->code));
    for (uint32_t i = 0; i < p->ncode && !r->bad; i++)
        p->code[i] = get_u32(r);
    p->nlines = get_count(r, 12);
    p->lines = alloc_n(p, p->nlines, sizeof(*p->lines));
    for (uint32_t i = 0; i < p->nlines && !r->bad; i++) {
        p->lines[i].addr = get_u32(r);
        p->lines[i].file = get_u32(r);
        p->lines[i].line = get_u32(r);
    }
    const char *damaged = sum ? file_problem(r, sum) : NULL;
    if (damaged || r->bad || r->pos != r->n) {
        if (damaged)
            snprintf(err, errlen, "%s", damaged);
        else
            snprintf(err, errlen, "malformed bytecode: %s at byte %zu", r->bad ? "a table runs past the end" :
                     "unexpected bytes after the last table", r->pos);
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
