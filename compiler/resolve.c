/* resolve.c — declarations: unique names (migrations, phases, steps, lets,
 * params, fns), the `after` graph with its cycles, and the run order. */
#include "compiler.h"
#include "lib/strmap.h"
#include <stdlib.h>
#include <string.h>

unsigned mig_span_line(struct mig_program *p, struct mig_span s)
{
    unsigned line;
    struct mig_source *src = mig_source_get(&p->sources, s.file);
    if (!src)
        return 0;
    mig_source_linecol(src, s.start, &line, NULL);
    return line;
}

static const char *where(struct mig_program *p, struct mig_span first, struct mig_span here)
{
    if (first.file == here.file)
        return mig_arena_printf(&p->arena, "line %u", mig_span_line(p, first));
    return mig_arena_printf(&p->arena, "%s:%u", mig_source_get(&p->sources, first.file)->path,
                            mig_span_line(p, first));
}

static void duplicate(struct mig_program *p, const char *what, const char *name,
                      struct mig_span first, struct mig_span second)
{
    MIG_DIAG_AT(p, MIG_ERROR, second, "duplicate-name", "%s '%s' is already defined at %s",
                what, name, where(p, first, second));
}

static const char *const builtin_names[] = {
    "dialect", "server_version", "env", "int", "string", "is_null", "float", "version_cmp", "matches",
    "trim", "lower", "upper",
};

static void check_symbols(struct mig_program *p, struct mig_strmap *m, struct mig_symbol **v,
                          size_t n, const char *what)
{
    for (size_t i = 0; i < n; i++) {
        struct mig_symbol *s = v[i];
        struct mig_symbol *old = mig_strmap_get(m, s->name);
        if (old)
            duplicate(p, old->kind == MIG_SYM_FN ? "function" : old->kind == MIG_SYM_PARAM ? "param" : what,
                      s->name, old->span, s->span);
        else
            mig_strmap_put(m, s->name, s);
    }
}

/* The name tables below live in a scratch arena freed when the file or
 * migration is done: kept in the program's arena they were a third of the
 * memory of checking one file of 10,000 small migrations. */
static void check_file_decls(struct mig_program *p, struct mig_file *f)
{
    struct mig_arena scratch = { 0 };
    struct mig_strmap names = { .arena = &scratch };
    check_symbols(p, &names, f->decls.v, f->decls.n, "let");
    for (size_t i = 0; i < f->fns.n; i++) {
        struct mig_symbol *s = f->fns.v[i];
        for (size_t k = 0; k < sizeof(builtin_names) / sizeof(*builtin_names); k++)
            if (strcmp(s->name, builtin_names[k]) == 0)
                MIG_DIAG_AT(p, MIG_ERROR, s->span, "duplicate-name",
                            "function '%s' would hide the builtin of the same name", s->name);
        struct mig_strmap params = { .arena = &scratch };
        check_symbols(p, &params, s->fn->params.v, s->fn->params.n, "parameter");
    }
    mig_arena_free(&scratch);
}

static void check_migration_decls(struct mig_program *p, struct mig_migration *m)
{
    struct mig_arena scratch = { 0 };
    struct mig_strmap names = { .arena = &scratch };
    check_symbols(p, &names, m->params.v, m->params.n, "param");
    check_symbols(p, &names, m->lets.v, m->lets.n, "let");

    for (size_t i = 0; i < m->targets.n; i++)
        for (size_t k = 0; k < i; k++)
            if (m->targets.v[k].dialect == m->targets.v[i].dialect)
                MIG_DIAG_AT(p, MIG_ERROR, m->targets.v[i].span, "duplicate-name",
                            "target '%s' is already listed", mig_dialect_name(m->targets.v[i].dialect));

    struct mig_strmap phases = { .arena = &scratch };
    for (size_t i = 0; i < m->phases.n; i++) {
        struct mig_phase *ph = m->phases.v[i];
        struct mig_phase *old = mig_strmap_get(&phases, ph->name);
        if (old) {
            struct mig_phase *explicit_ = ph->implicit ? old : ph;
            struct mig_phase *implicit_ = ph->implicit ? ph : old;
            if (ph->implicit || old->implicit)
                MIG_DIAG_AT(p, MIG_ERROR, explicit_->span, "duplicate-name",
                            "phase 'main' clashes with the implicit phase 'main' of the steps "
                            "written directly in migration '%s' (at %s)", m->name,
                            where(p, implicit_->span, explicit_->span));
            else
                duplicate(p, "phase", ph->name, old->span, ph->span);
        } else {
            mig_strmap_put(&phases, ph->name, ph);
        }
        struct mig_strmap steps = { .arena = &scratch };
        for (size_t k = 0; k < ph->steps.n; k++) {
            struct mig_step *st = ph->steps.v[k];
            struct mig_step *olds = mig_strmap_get(&steps, st->name);
            if (olds)
                duplicate(p, "step", st->name, olds->span, st->span);
            else
                mig_strmap_put(&steps, st->name, st);
        }
    }
    mig_arena_free(&scratch);
}

/* Depth-first search for `after` cycles: 0 white, 1 on the stack, 2 done. */
static void find_cycles(struct mig_program *p, struct mig_migration *m,
                        struct mig_migration **stack, size_t depth)
{
    m->visit = 1;
    stack[depth] = m;
    for (size_t i = 0; i < m->after.n; i++) {
        struct mig_migration *d = m->after_resolved.v[i];
        if (!d)
            continue;
        if (d->visit == 1) {
            size_t k = depth;
            while (stack[k] != d)
                k--;
            char *path = mig_arena_strdup(&p->arena, d->name);
            for (size_t j = depth + 1; j-- > k;)
                path = mig_arena_printf(&p->arena, "%s -> %s", path, stack[j]->name);
            MIG_DIAG_AT(p, MIG_ERROR, m->after.v[i].span, "after-cycle",
                        "cycle in 'after': %s (each must run before the next)", path);
        } else if (d->visit == 0) {
            find_cycles(p, d, stack, depth + 1);
        }
    }
    m->visit = 2;
}

static int cmp_mig(const void *pa, const void *pb)
{
    const struct mig_migration *a = *(struct mig_migration *const *)pa;
    const struct mig_migration *b = *(struct mig_migration *const *)pb;
    int c = strcmp(a->file->src->path, b->file->src->path);
    if (c)
        return c;
    return a->span.start < b->span.start ? -1 : a->span.start > b->span.start;
}

/* Kahn's algorithm with a min-heap on the (path, position) rank, so that
 * ties break by file path, then position. */
static void run_order(struct mig_program *p, struct mig_migration **v, size_t n)
{
    size_t *indeg = calloc(n ? n : 1, sizeof(*indeg));
    size_t *heap = malloc((n ? n : 1) * sizeof(*heap));
    MIG_VEC(size_t) *succ = calloc(n ? n : 1, sizeof(*succ));
    if (!indeg || !heap || !succ) {
        fputs("fatal: out of memory\n", stderr);
        abort();
    }
    for (size_t i = 0; i < n; i++) {
        v[i]->order = (uint32_t)i;
    }
    for (size_t i = 0; i < n; i++)
        for (size_t k = 0; k < v[i]->after_resolved.n; k++) {
            struct mig_migration *d = v[i]->after_resolved.v[k];
            if (!d)
                continue;
            MIG_PUSH(&p->arena, succ[d->order], i);
            indeg[i]++;
        }
    size_t hn = 0;
#define HEAP_PUSH(x) do { size_t j_ = hn++; heap[j_] = (x); \
        while (j_ && heap[(j_ - 1) / 2] > heap[j_]) { size_t t_ = heap[j_]; heap[j_] = heap[(j_ - 1) / 2]; \
            heap[(j_ - 1) / 2] = t_; j_ = (j_ - 1) / 2; } } while (0)
    for (size_t i = 0; i < n; i++)
        if (indeg[i] == 0)
            HEAP_PUSH(i);
    while (hn) {
        size_t top = heap[0];
        heap[0] = heap[--hn];
        for (size_t j = 0;;) {
            size_t l = 2 * j + 1, r = l + 1, s = j;
            if (l < hn && heap[l] < heap[s])
                s = l;
            if (r < hn && heap[r] < heap[s])
                s = r;
            if (s == j)
                break;
            size_t t = heap[j];
            heap[j] = heap[s];
            heap[s] = t;
            j = s;
        }
        MIG_PUSH(&p->arena, p->order, v[top]);
        for (size_t k = 0; k < succ[top].n; k++)
            if (--indeg[succ[top].v[k]] == 0)
                HEAP_PUSH(succ[top].v[k]);
    }
#undef HEAP_PUSH
    for (size_t i = 0; i < p->order.n; i++)
        p->order.v[i]->order = (uint32_t)i;
    free(indeg);
    free(heap);
    free(succ);
}

void mig_check_decls(struct mig_program *p)
{
    MIG_VEC(struct mig_migration *) all = { 0 };
    struct mig_strmap byname = { .arena = &p->arena };
    for (size_t i = 0; i < p->files.n; i++) {
        struct mig_file *f = p->files.v[i];
        check_file_decls(p, f);
        if (!f->is_input)
            continue;
        for (size_t k = 0; k < f->migrations.n; k++)
            MIG_PUSH(&p->arena, all, f->migrations.v[k]);
    }
    if (all.n > 1)
        qsort(all.v, all.n, sizeof(*all.v), cmp_mig);
    for (size_t i = 0; i < all.n; i++) {
        struct mig_migration *m = all.v[i];
        struct mig_migration *old = mig_strmap_get(&byname, m->name);
        if (old)
            duplicate(p, "migration", m->name, old->span, m->span);
        else
            mig_strmap_put(&byname, m->name, m);
        check_migration_decls(p, m);
    }
    for (size_t i = 0; i < all.n; i++) {
        struct mig_migration *m = all.v[i];
        for (size_t k = 0; k < m->after.n; k++) {
            struct mig_migration *d = mig_strmap_get(&byname, m->after.v[k].text);
            if (!d)
                MIG_DIAG_AT(p, MIG_ERROR, m->after.v[k].span, "unknown-after",
                            "migration '%s' comes after '%s', which is not among the compiled migrations",
                            m->name, m->after.v[k].text);
            MIG_PUSH(&p->arena, m->after_resolved, d);
        }
    }
    struct mig_migration **stack = calloc(all.n + 1, sizeof(*stack));
    if (!stack) {
        fputs("fatal: out of memory\n", stderr);
        abort();
    }
    for (size_t i = 0; i < all.n; i++)
        if (all.v[i]->visit == 0)
            find_cycles(p, all.v[i], stack, 0);
    free(stack);
    run_order(p, all.v, all.n);
}
