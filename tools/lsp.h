/* lsp.h — `migc lsp`, a Language Server (LSP 3.17) over stdio. Three
 * parts share this header: lsp_rpc.c (Content-Length framing, JSON-RPC,
 * the lifecycle and the dispatch of methods), lsp_docs.c (open documents,
 * positions in the negotiated encoding, projects and their diagnostics,
 * computed by the compiler exactly as `migc check` does) and
 * lsp_features.c (formatting, hover, definition, completion, quick fixes).
 * Nothing but framed messages is ever written to the real standard
 * output: the server keeps it on a private descriptor and points fd 1 at
 * stderr, so a stray printf cannot corrupt the stream. */
#ifndef MIG_TOOLS_LSP_H
#define MIG_TOOLS_LSP_H
#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "compiler/compiler.h"
#include "migconf.h"

/* `migc lsp [--stdio]`: 0 after shutdown and exit, 1 otherwise. */
int mig_cmd_lsp(int argc, char **argv);

/* JSON-RPC error codes */
enum {
    LSP_PARSE_ERROR = -32700, LSP_INVALID_REQUEST = -32600, LSP_METHOD_NOT_FOUND = -32601,
    LSP_INVALID_PARAMS = -32602, LSP_INTERNAL_ERROR = -32603, LSP_SERVER_NOT_INITIALIZED = -32002,
    LSP_REQUEST_FAILED = -32803,
};

struct lsp_project;

struct lsp_doc {
    char *uri;              /* as the client spelled it */
    char *path;             /* the file it names (file: URIs), else NULL */
    char *text;             /* UTF-8, NUL-terminated; may hold NUL bytes */
    size_t len, cap;
    int64_t version;
    uint32_t *lines;        /* offsets of line starts */
    size_t nlines;
    struct lsp_project *proj;
    uint32_t src_id;        /* its source in proj->prog, or UINT32_MAX */
    struct lsp_doc *next;
};

/* The .mig files checked together: the migrations folders of the mig.conf
 * above a document when it lies in one of them, else the document's
 * folder (searched recursively, as `migc check DIR` does). */
struct lsp_project {
    char *key;              /* mig.conf's path, the folder, or the URI of a document without a file */
    char **roots;           /* folders (absolute) */
    size_t nroots;
    bool shallow;           /* the root folder or $HOME: its own *.mig files only */
    struct mig_conf conf;   /* [lint] disable */
    bool has_conf;
    struct mig_program *prog;   /* the last check (NULL before the first) */
    char **published;       /* URIs of files not open given diagnostics by the last check */
    size_t npublished;
    bool dirty;
    struct lsp_project *next;
};

struct lsp_server {
    bool utf8;              /* positions in bytes, else UTF-16 code units */
    struct lsp_doc *docs;
    struct lsp_project *projects;
    struct mig_program *std;    /* the standard library, parsed once (hover, completion) */
};

/* ---- lsp_rpc.c ---- */
void lsp_send(json_t *msg);     /* steals msg */
void lsp_notify(const char *method, json_t *params);    /* steals params */
void lsp_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* ---- lsp_docs.c ---- */
struct lsp_doc *lsp_doc_find(struct lsp_server *s, const char *uri);
struct lsp_doc *lsp_doc_open(struct lsp_server *s, const char *uri, const char *text, size_t len, int64_t version);
void lsp_doc_close(struct lsp_server *s, struct lsp_doc *d);
/* Applies one contentChanges entry (a range, or the whole text). 0, or -1. */
int lsp_doc_change(struct lsp_server *s, struct lsp_doc *d, json_t *change);
/* Byte offset of an LSP position (clamped to the line and the text);
 * -1 when pos is not a position. */
long lsp_offset(struct lsp_server *s, const struct lsp_doc *d, json_t *pos);
json_t *lsp_position(struct lsp_server *s, const char *text, const uint32_t *lines, size_t nlines, size_t off);
json_t *lsp_range(struct lsp_server *s, const struct lsp_doc *d, size_t start, size_t end);
/* A range in any source of a program (another file). */
json_t *lsp_src_range(struct lsp_server *s, struct mig_source *src, size_t start, size_t end);
/* The URI of a file path (an open document's own spelling when it is open). */
char *lsp_uri_of_path(struct lsp_server *s, const char *path);
/* Finds every document's project again (a mig.conf changed): all dirty. */
void lsp_reproject(struct lsp_server *s);
/* Marks every project dirty (files changed on disk). */
void lsp_all_dirty(struct lsp_server *s);
/* Checks the dirty projects and publishes their documents' diagnostics. */
void lsp_check_dirty(struct lsp_server *s);
bool lsp_any_dirty(struct lsp_server *s);
/* The doc's project checked against its current text (checked now if
 * dirty); the doc's mig_file in it, or NULL. */
struct mig_file *lsp_doc_file(struct lsp_server *s, struct lsp_doc *d);
void lsp_server_free(struct lsp_server *s);

/* ---- lsp_features.c ---- */
json_t *lsp_formatting(struct lsp_server *s, struct lsp_doc *d);
json_t *lsp_hover(struct lsp_server *s, struct lsp_doc *d, size_t off);
json_t *lsp_definition(struct lsp_server *s, struct lsp_doc *d, size_t off);
json_t *lsp_completion(struct lsp_server *s, struct lsp_doc *d, size_t off);
json_t *lsp_code_actions(struct lsp_server *s, struct lsp_doc *d, size_t start, size_t end);
/* Whether `# mig: allow RULE — why` silences diagnostics of this rule. */
bool lsp_rule_suppressible(const char *rule);

#endif
