/* lsp_rpc.c — the transport of `migc lsp`: Content-Length framing over
 * stdin/stdout (robust against partial reads, bad headers and invalid
 * JSON), JSON-RPC 2.0 requests, responses and notifications, the LSP
 * lifecycle (initialize, shutdown, exit) and the dispatch of methods. */
#include "config.h"
#include "lsp.h"
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

/* The real standard output, kept private (fd 1 then points at stderr). */
static int out_fd = -1;
static bool out_broken;

#define HEADER_MAX 65536                /* a header block longer than this is garbage */
#define BODY_MAX ((size_t)1 << 30)      /* 1 GiB: more is not a message */
#define DEBOUNCE_MS 40                  /* quiet time before checking after an edit */

static void write_all(const char *p, size_t n)
{
    while (n && !out_broken) {
        ssize_t w = write(out_fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            out_broken = true;
            fprintf(stderr, "migc lsp: cannot write to the client: %s\n", strerror(errno));
            return;
        }
        p += w;
        n -= (size_t)w;
    }
}

void lsp_send(json_t *msg)
{
    if (!msg)
        return;
    json_object_set_new(msg, "jsonrpc", json_string("2.0"));
    char *body = json_dumps(msg, JSON_COMPACT);
    json_decref(msg);
    if (!body)
        return;
    size_t n = strlen(body);
    char head[64];
    int hn = snprintf(head, sizeof(head), "Content-Length: %zu\r\n\r\n", n);
    write_all(head, (size_t)hn);
    write_all(body, n);
    free(body);
}

void lsp_notify(const char *method, json_t *params)
{
    lsp_send(json_pack("{s:s, s:o}", "method", method, "params", params ? params : json_object()));
}

void lsp_log(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("migc lsp: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

static void respond(json_t *id, json_t *result)
{
    lsp_send(json_pack("{s:O, s:o}", "id", id ? id : json_null(), "result", result ? result : json_null()));
}

static void respond_error(json_t *id, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void respond_error(json_t *id, int code, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    lsp_send(json_pack("{s:O, s:{s:i, s:s}}", "id", id ? id : json_null(), "error", "code", code, "message", msg));
}

/* ---- input ------------------------------------------------------------------ */

struct input {
    int fd;
    char *buf;
    size_t len, cap, pos;   /* unread bytes are buf[pos..len) */
    bool eof;
};

/* Reads what is available (blocking when nothing is buffered). false at EOF. */
static bool fill(struct input *in)
{
    if (in->pos > 0 && in->pos == in->len)
        in->pos = in->len = 0;
    if (in->pos > (1 << 20) && in->pos * 2 > in->len) {
        memmove(in->buf, in->buf + in->pos, in->len - in->pos);
        in->len -= in->pos;
        in->pos = 0;
    }
    if (in->cap - in->len < 65536) {
        size_t cap = in->cap ? in->cap * 2 : 131072;
        char *nb = realloc(in->buf, cap);
        if (!nb) {
            lsp_log("out of memory");
            in->eof = true;
            return false;
        }
        in->buf = nb;
        in->cap = cap;
    }
    for (;;) {
        ssize_t r = read(in->fd, in->buf + in->len, in->cap - in->len);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0) {
            if (r < 0)
                lsp_log("cannot read from the client: %s", strerror(errno));
            in->eof = true;
            return false;
        }
        in->len += (size_t)r;
        return true;
    }
}

static char *find_seq(char *p, size_t n, const char *seq)
{
    size_t k = strlen(seq);
    for (size_t i = 0; i + k <= n; i++)
        if (memcmp(p + i, seq, k) == 0)
            return p + i;
    return NULL;
}

/* After a bad header: skip to the next "Content-Length:" after the start
 * of the bad one (a valid header may follow garbage on the same line), or
 * drop everything buffered. Always moves forward. */
static void resync(struct input *in)
{
    static const char tag[] = "Content-Length:";
    size_t from = in->pos + 1;
    char *at = find_seq(in->buf + from, in->len - from, tag);
    in->pos = at ? (size_t)(at - in->buf) : in->len;
}

enum { MSG_NONE, MSG_OK, MSG_BAD };

/* One message from the buffer: MSG_OK with its body, MSG_BAD after
 * answering a framing error, MSG_NONE when more bytes are needed. */
static int next_message(struct input *in, char **body, size_t *blen)
{
    if (!in->buf || in->pos >= in->len)     /* nothing read yet (buf is NULL: no arithmetic on it) */
        return MSG_NONE;
    char *start = in->buf + in->pos;
    size_t avail = in->len - in->pos;
    /* blank lines between messages are tolerated */
    while (avail && (*start == '\r' || *start == '\n')) {
        start++;
        avail--;
        in->pos++;
    }
    if (!avail)
        return MSG_NONE;
    char *end = find_seq(start, avail < HEADER_MAX ? avail : HEADER_MAX, "\r\n\r\n");
    size_t sep = 4;
    if (!end) {
        if (avail >= HEADER_MAX) {
            respond_error(NULL, LSP_PARSE_ERROR, "a header of more than %d bytes without its end (\\r\\n\\r\\n)",
                          HEADER_MAX);
            resync(in);
            return MSG_BAD;
        }
        return MSG_NONE;
    }
    /* the header lines */
    long long length = -1;
    const char *bad = NULL;
    for (char *l = start; l < end && !bad;) {
        char *e = find_seq(l, (size_t)(end - l), "\r\n");
        if (!e)
            e = end;
        char *colon = memchr(l, ':', (size_t)(e - l));
        if (!colon) {
            bad = "a header line without a colon";
        } else if ((size_t)(colon - l) == 14 && strncasecmp(l, "Content-Length", 14) == 0) {
            char *v = colon + 1;
            while (v < e && (*v == ' ' || *v == '\t'))
                v++;
            long long n = 0;
            bool digits = v < e;
            for (; v < e && *v != ' ' && *v != '\t'; v++) {
                if (*v < '0' || *v > '9' || n > (long long)BODY_MAX) {
                    digits = false;
                    break;
                }
                n = n * 10 + (*v - '0');
            }
            if (!digits)
                bad = "Content-Length is not a number";
            else if (n > (long long)BODY_MAX)
                bad = "Content-Length is larger than 1 GiB";
            else
                length = n;
        }
        l = e + 2;
    }
    if (!bad && length < 0)
        bad = "no Content-Length header";
    if (bad) {
        respond_error(NULL, LSP_PARSE_ERROR, "bad message header: %s", bad);
        resync(in);
        return MSG_BAD;
    }
    size_t hlen = (size_t)(end - start) + sep;
    if (avail - hlen < (size_t)length)
        return MSG_NONE;
    *body = start + hlen;
    *blen = (size_t)length;
    in->pos += hlen + (size_t)length;
    return MSG_OK;
}

/* ---- the lifecycle and dispatch ------------------------------------------------------ */

enum state { S_NEW, S_RUNNING, S_SHUTDOWN };

struct server_loop {
    struct lsp_server srv;
    enum state state;
    bool exit_now;
    bool watch;     /* the client registers file watchers on request */
};

static json_t *server_capabilities(struct lsp_server *s)
{
    return json_pack("{s:s, s:{s:b, s:i, s:{s:b}}, s:b, s:b, s:{s:[s], s:b}, s:b, s:{s:[s]}}",
                     "positionEncoding", s->utf8 ? "utf-8" : "utf-16",
                     "textDocumentSync", "openClose", 1, "change", 2, "save", "includeText", 0,
                     "hoverProvider", 1,
                     "definitionProvider", 1,
                     "completionProvider", "triggerCharacters", ".", "resolveProvider", 0,
                     "documentFormattingProvider", 1,
                     "codeActionProvider", "codeActionKinds", "quickfix");
}

static void on_initialize(struct server_loop *L, json_t *id, json_t *params)
{
    json_t *encs = json_object_get(json_object_get(json_object_get(params, "capabilities"), "general"),
                                   "positionEncodings");
    size_t i;
    json_t *e;
    L->srv.utf8 = false;
    json_array_foreach(encs, i, e)
        if (json_is_string(e) && strcmp(json_string_value(e), "utf-8") == 0)
            L->srv.utf8 = true;
    L->watch = json_is_true(json_object_get(json_object_get(json_object_get(json_object_get(
        params, "capabilities"), "workspace"), "didChangeWatchedFiles"), "dynamicRegistration"));
    L->state = S_RUNNING;
    respond(id, json_pack("{s:o, s:{s:s, s:s}}", "capabilities", server_capabilities(&L->srv),
                          "serverInfo", "name", "migc", "version", PACKAGE_VERSION));
}

/* The document a request names, or NULL after answering InvalidParams. */
static struct lsp_doc *doc_param(struct server_loop *L, json_t *id, json_t *params)
{
    const char *uri = json_string_value(json_object_get(json_object_get(params, "textDocument"), "uri"));
    if (!uri) {
        if (id)
            respond_error(id, LSP_INVALID_PARAMS, "textDocument.uri is missing");
        return NULL;
    }
    struct lsp_doc *d = lsp_doc_find(&L->srv, uri);
    if (!d && id)
        respond_error(id, LSP_INVALID_PARAMS, "the document %s is not open (send textDocument/didOpen first)", uri);
    return d;
}

static bool pos_param(struct server_loop *L, json_t *id, struct lsp_doc *d, json_t *params, size_t *off)
{
    long o = lsp_offset(&L->srv, d, json_object_get(params, "position"));
    if (o < 0) {
        respond_error(id, LSP_INVALID_PARAMS, "position {line, character} is missing or invalid");
        return false;
    }
    *off = (size_t)o;
    return true;
}

static void handle_request(struct server_loop *L, const char *method, json_t *id, json_t *params)
{
    struct lsp_server *s = &L->srv;
    if (strcmp(method, "initialize") == 0) {
        if (L->state != S_NEW)
            respond_error(id, LSP_INVALID_REQUEST, "initialize was sent already");
        else
            on_initialize(L, id, params);
        return;
    }
    if (L->state == S_NEW) {
        respond_error(id, LSP_SERVER_NOT_INITIALIZED, "the server is not initialized: send initialize first");
        return;
    }
    if (L->state == S_SHUTDOWN) {
        respond_error(id, LSP_INVALID_REQUEST, "the server is shut down: only exit is accepted");
        return;
    }
    if (strcmp(method, "shutdown") == 0) {
        L->state = S_SHUTDOWN;
        respond(id, json_null());
        return;
    }
    struct lsp_doc *d;
    size_t off;
    if (strcmp(method, "textDocument/formatting") == 0) {
        if ((d = doc_param(L, id, params)))
            respond(id, lsp_formatting(s, d));
    } else if (strcmp(method, "textDocument/hover") == 0) {
        if ((d = doc_param(L, id, params)) && pos_param(L, id, d, params, &off))
            respond(id, lsp_hover(s, d, off));
    } else if (strcmp(method, "textDocument/definition") == 0) {
        if ((d = doc_param(L, id, params)) && pos_param(L, id, d, params, &off))
            respond(id, lsp_definition(s, d, off));
    } else if (strcmp(method, "textDocument/completion") == 0) {
        if ((d = doc_param(L, id, params)) && pos_param(L, id, d, params, &off))
            respond(id, lsp_completion(s, d, off));
    } else if (strcmp(method, "textDocument/codeAction") == 0) {
        if (!(d = doc_param(L, id, params)))
            return;
        json_t *only = json_object_get(json_object_get(params, "context"), "only");
        bool fixes = !json_is_array(only);
        size_t i;
        json_t *k;
        json_array_foreach(only, i, k)
            fixes = fixes || (json_is_string(k) && strncmp(json_string_value(k), "quickfix", 8) == 0);
        if (!fixes) {
            respond(id, json_array());
            return;
        }
        json_t *range = json_object_get(params, "range");
        long a = lsp_offset(s, d, json_object_get(range, "start"));
        long b = lsp_offset(s, d, json_object_get(range, "end"));
        if (a < 0 || b < 0)
            respond_error(id, LSP_INVALID_PARAMS, "range {start, end} is missing or invalid");
        else
            respond(id, lsp_code_actions(s, d, (size_t)a, (size_t)(b < a ? a : b)));
    } else {
        respond_error(id, LSP_METHOD_NOT_FOUND, "unknown method '%s'", method);
    }
}

static void handle_notification(struct server_loop *L, const char *method, json_t *params)
{
    struct lsp_server *s = &L->srv;
    if (strcmp(method, "exit") == 0) {
        L->exit_now = true;
        return;
    }
    if (L->state != S_RUNNING)
        return;     /* before initialize (and after shutdown) notifications are dropped */
    if (strcmp(method, "textDocument/didOpen") == 0) {
        json_t *td = json_object_get(params, "textDocument");
        const char *uri = json_string_value(json_object_get(td, "uri"));
        json_t *text = json_object_get(td, "text");
        if (!uri || !json_is_string(text)) {
            lsp_log("didOpen without textDocument.uri and text: ignored");
            return;
        }
        lsp_doc_open(s, uri, json_string_value(text), json_string_length(text),
                     json_integer_value(json_object_get(td, "version")));
    } else if (strcmp(method, "textDocument/didChange") == 0) {
        struct lsp_doc *d = doc_param(L, NULL, params);
        if (!d) {
            lsp_log("didChange of a document that is not open: ignored");
            return;
        }
        json_t *changes = json_object_get(params, "contentChanges");
        size_t i;
        json_t *c;
        json_array_foreach(changes, i, c)
            if (lsp_doc_change(s, d, c) != 0)
                lsp_log("%s: a change without a valid range or text: ignored", d->uri);
        json_t *v = json_object_get(json_object_get(params, "textDocument"), "version");
        if (json_is_integer(v))
            d->version = json_integer_value(v);
    } else if (strcmp(method, "textDocument/didClose") == 0) {
        struct lsp_doc *d = doc_param(L, NULL, params);
        if (d)
            lsp_doc_close(s, d);
    } else if (strcmp(method, "textDocument/didSave") == 0) {
        lsp_all_dirty(s);
    } else if (strcmp(method, "workspace/didChangeWatchedFiles") == 0) {
        /* a mig.conf changes which files make a project, and its [lint] */
        bool conf = false;
        size_t i;
        json_t *c;
        json_array_foreach(json_object_get(params, "changes"), i, c) {
            const char *uri = json_string_value(json_object_get(c, "uri"));
            size_t n = uri ? strlen(uri) : 0;
            conf = conf || (n >= 9 && strcmp(uri + n - 9, "/mig.conf") == 0);
        }
        if (conf)
            lsp_reproject(s);
        else
            lsp_all_dirty(s);
    } else if (strcmp(method, "initialized") == 0 && L->watch) {
        /* ask to hear about .mig files changed on disk (the client may not support it: the reply is ignored) */
        lsp_send(json_pack("{s:s, s:s, s:{s:[{s:s, s:s, s:{s:[{s:s}]}}]}}", "id", "mig-watch", "method",
                           "client/registerCapability", "params", "registrations", "id", "mig-watch", "method",
                           "workspace/didChangeWatchedFiles", "registerOptions", "watchers", "globPattern",
                           "**/{*.mig,mig.conf}"));
    }
    /* others ($/cancelRequest, $/setTrace, workspace/didChangeConfiguration, …): nothing to do */
}

static void handle_message(struct server_loop *L, const char *body, size_t n)
{
    json_error_t err;
    json_t *msg = json_loadb(body, n, JSON_ALLOW_NUL, &err);
    if (!msg) {
        respond_error(NULL, LSP_PARSE_ERROR, "invalid JSON: %s (at byte %d)", err.text, err.position);
        return;
    }
    json_t *id = json_object_get(msg, "id");
    json_t *method = json_object_get(msg, "method");
    json_t *params = json_object_get(msg, "params");
    if (json_is_null(params))
        params = NULL;      /* "params": null is no params (shutdown, exit) */
    if (!json_is_object(msg)) {
        respond_error(NULL, LSP_INVALID_REQUEST, "a message must be a JSON object");
    } else if (id && !json_is_string(id) && !json_is_integer(id) && !json_is_null(id)) {
        respond_error(NULL, LSP_INVALID_REQUEST, "id must be a number or a string");
    } else if (!method && id && (json_object_get(msg, "result") || json_object_get(msg, "error"))) {
        ;   /* a client's response to our registerCapability request */
    } else if (!json_is_string(method)) {
        respond_error(id, LSP_INVALID_REQUEST, "a request needs a method (a string)");
    } else if (!json_is_string(json_object_get(msg, "jsonrpc")) ||
               strcmp(json_string_value(json_object_get(msg, "jsonrpc")), "2.0") != 0) {
        if (id)
            respond_error(id, LSP_INVALID_REQUEST, "jsonrpc must be \"2.0\"");
    } else if (params && !json_is_object(params) && !json_is_array(params)) {
        if (id)
            respond_error(id, LSP_INVALID_PARAMS, "params must be an object");
    } else if (id) {
        handle_request(L, json_string_value(method), id, params);
    } else {
        handle_notification(L, json_string_value(method), params);
    }
    json_decref(msg);
}

/* Whether the client has sent more (so checks can wait for it). */
static bool input_ready(struct input *in, int timeout_ms)
{
    if (in->pos < in->len)
        return true;
    struct pollfd p = { .fd = in->fd, .events = POLLIN };
    return poll(&p, 1, timeout_ms) > 0;
}

int mig_cmd_lsp(int argc, char **argv)
{
    for (int i = 1; i < argc; i++)
        if (strcmp(argv[i], "--stdio") != 0) {
            fprintf(stderr, "migc lsp: error: unknown option '%s' (the server speaks over stdio) "
                            "(see: migc lsp --help)\n", argv[i]);
            return 2;
        }
    /* the real stdout becomes private; fd 1 goes to stderr */
    fflush(stdout);
    out_fd = dup(1);
    if (out_fd < 0 || dup2(2, 1) < 0) {
        fprintf(stderr, "migc lsp: error: cannot set up the output: %s\n", strerror(errno));
        return 1;
    }
    signal(SIGPIPE, SIG_IGN);
    struct server_loop L = { 0 };
    struct input in = { .fd = 0 };
    while (!L.exit_now && !out_broken) {
        char *body;
        size_t n;
        int r = next_message(&in, &body, &n);
        if (r == MSG_OK) {
            handle_message(&L, body, n);
            continue;
        }
        if (r == MSG_BAD)
            continue;
        if (in.eof)
            break;
        /* nothing complete buffered: check what changed once the client is quiet */
        if (lsp_any_dirty(&L.srv) && !input_ready(&in, DEBOUNCE_MS)) {
            lsp_check_dirty(&L.srv);
            continue;
        }
        fill(&in);
    }
    if (in.eof && in.pos < in.len)
        lsp_log("the input ended inside a message");
    free(in.buf);
    lsp_server_free(&L.srv);
    close(out_fd);
    return L.state == S_SHUTDOWN ? 0 : 1;
}
