#!/usr/bin/env python3
"""lsp_client.py MIGC WORKDIR — drives the real `migc lsp` over stdio as an
editor would (Content-Length framing, JSON-RPC 2.0, LSP 3.17) and checks
what it answers: diagnostics on open and after incremental changes (in
UTF-16 and UTF-8 positions), rule ids, the project's `after` graph across
files, formatting equal to `migc fmt`, hover, definition, completion,
suppression quick fixes, malformed input, shutdown and exit, and that
stdout carries nothing but framed messages. Standard library only.
Prints one line per failure and "N passed, M failed" last."""
import json
import os
import queue
import subprocess
import sys
import threading
import time

MIGC = sys.argv[1]
WORK = sys.argv[2]
# under valgrind (./configure --enable-valgrind wraps tests/bin/migc) everything is slower
try:
    with open(MIGC, "rb") as _f:
        SLOW = 10 if b"valgrind" in _f.read(4096) else 1
except OSError:
    SLOW = 1
TIMEOUT = 20 * SLOW

passed = 0
failed = 0


def check(name, cond, detail=""):
    global passed, failed
    if cond:
        passed += 1
    else:
        failed += 1
        print(f"FAIL: {name}" + (f": {detail}" if detail else ""), flush=True)
    return cond


def uri_of(path):
    from urllib.parse import quote
    return "file://" + quote(os.path.abspath(path))


CLIENTS = []


class Client:
    """One server process; every byte of its stdout is parsed as frames."""

    def __init__(self, utf8=False, env=None, start=True):
        CLIENTS.append(self)
        e = dict(os.environ)
        e.pop("MIG_CONFIG", None)
        e.update(env or {})
        self.p = subprocess.Popen([MIGC, "lsp"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, env=e, cwd=WORK)
        self.msgs = queue.Queue()
        self.raw = bytearray()
        self.garbage = []       # anything on stdout that is not a frame
        self.stderr = b""
        self.next_id = 1
        self.pending = []       # notifications seen while waiting for a response
        self.diags = {}         # uri -> last published diagnostics
        threading.Thread(target=self._read, daemon=True).start()
        threading.Thread(target=self._read_err, daemon=True).start()
        if start:
            caps = {"general": {"positionEncodings": ["utf-8", "utf-16"] if utf8 else ["utf-16"]},
                    "workspace": {"didChangeWatchedFiles": {"dynamicRegistration": True}}}
            self.init = self.request("initialize", {"processId": os.getpid(), "rootUri": uri_of(WORK),
                                                    "capabilities": caps})
            self.notify("initialized", {})

    def _read_err(self):
        self.stderr = self.p.stderr.read()

    def _read(self):
        f = self.p.stdout
        while True:
            headers = b""
            while not headers.endswith(b"\r\n\r\n"):
                c = f.read(1)
                if not c:
                    if headers:
                        self.garbage.append(headers)
                    self.msgs.put(None)
                    return
                headers += c
                self.raw += c
            length = None
            for line in headers.split(b"\r\n"):
                if not line:
                    continue
                k, _, v = line.partition(b":")
                if k.strip().lower() == b"content-length" and v.strip().isdigit():
                    length = int(v.strip())
                elif k.strip().lower() != b"content-type":
                    self.garbage.append(line)
            if length is None:
                self.garbage.append(headers)
                continue
            body = f.read(length)
            self.raw += body
            try:
                self.msgs.put(json.loads(body.decode("utf-8")))
            except ValueError:
                self.garbage.append(body)

    def send_raw(self, data):
        self.p.stdin.write(data)
        self.p.stdin.flush()

    def send(self, obj):
        body = json.dumps(obj).encode("utf-8")
        self.send_raw(b"Content-Length: %d\r\n\r\n" % len(body) + body)

    def notify(self, method, params):
        self.send({"jsonrpc": "2.0", "method": method, "params": params})

    def _get(self, deadline):
        m = self.msgs.get(timeout=max(0.01, deadline - time.time()))
        if m is None:
            raise EOFError("the server closed its output")
        if "method" in m and "id" in m:     # a request to the client: answer it
            self.send({"jsonrpc": "2.0", "id": m["id"], "result": None})
        if m.get("method") == "textDocument/publishDiagnostics":
            self.diags[m["params"]["uri"]] = m["params"]["diagnostics"]
        return m

    def request(self, method, params, id_=None):
        i = self.next_id if id_ is None else id_
        self.next_id += 1
        self.send({"jsonrpc": "2.0", "id": i, "method": method, "params": params})
        return self.wait_response(i)

    def wait_response(self, i):
        deadline = time.time() + TIMEOUT
        while True:
            m = self._get(deadline)
            if m.get("id") == i and "method" not in m:
                return m
            self.pending.append(m)

    def wait_diags(self, uri, pred, what):
        """Waits for diagnostics of uri satisfying pred (the last ones published)."""
        deadline = time.time() + TIMEOUT
        if uri in self.diags and pred(self.diags[uri]):
            return check(what, True) and self.diags[uri]
        if uri is None and pred(None):
            return check(what, True)
        try:
            while True:
                m = self._get(deadline)
                if m.get("method") == "textDocument/publishDiagnostics" and m["params"]["uri"] == uri \
                        and pred(m["params"]["diagnostics"]):
                    return check(what, True) and m["params"]["diagnostics"]
                if m.get("method") == "textDocument/publishDiagnostics" and uri is None and pred(None):
                    return check(what, True)
        except (queue.Empty, EOFError):
            check(what, False, f"no such diagnostics for {uri}; last: {self.diags.get(uri)}")
            return None

    def open(self, path, text, version=1):
        self.notify("textDocument/didOpen", {"textDocument": {"uri": uri_of(path), "languageId": "mig",
                                                              "version": version, "text": text}})
        return uri_of(path)

    def close(self):
        """shutdown + exit; the exit code."""
        self.request("shutdown", None)
        self.notify("exit", None)
        return self.finish()

    def finish(self):
        try:
            rc = self.p.wait(timeout=TIMEOUT)
        except subprocess.TimeoutExpired:
            self.p.kill()
            rc = self.p.wait()
        time.sleep(0.05)
        return rc


def codes(diags):
    return [d.get("code") for d in diags or []]


def has_code(c):
    return lambda ds: c in codes(ds)


def lacks_code(c):
    return lambda ds: c not in codes(ds)


def write(path, text):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)


def pos_of(text, needle, utf8=False, nth=0, delta=0):
    """LSP position of the nth occurrence of needle (+delta characters)."""
    i = -1
    for _ in range(nth + 1):
        i = text.index(needle, i + 1)
    i += delta
    line = text.count("\n", 0, i)
    col_text = text[text.rfind("\n", 0, i) + 1:i]
    unit = len(col_text.encode("utf-8")) if utf8 else len(col_text.encode("utf-16-le")) // 2
    return {"line": line, "character": unit}


def apply_edits(text, edits, utf8=False):
    """Applies TextEdits (computed against text) as an editor does."""
    def off(p):
        lines = text.split("\n")
        o = sum(len(l) + 1 for l in lines[:p["line"]])
        line = lines[p["line"]] if p["line"] < len(lines) else ""
        units = 0
        k = 0
        while k < len(line) and units < p["character"]:
            ch = line[k]
            units += len(ch.encode("utf-8")) if utf8 else len(ch.encode("utf-16-le")) // 2
            k += 1
        return o + k
    for e in sorted(edits, key=lambda e: (e["range"]["start"]["line"], e["range"]["start"]["character"]),
                    reverse=True):
        a, b = off(e["range"]["start"]), off(e["range"]["end"])
        text = text[:a] + e["newText"] + text[b:]
    return text


# ---- the cases ----------------------------------------------------------------------------------

STEP = "step s { up sql { SELECT 1 } down sql { SELECT 1 } }"


def case_lifecycle():
    c = Client(start=False)
    r = c.request("textDocument/hover", {"textDocument": {"uri": "file:///x.mig"},
                                         "position": {"line": 0, "character": 0}})
    check("a request before initialize: -32002", r.get("error", {}).get("code") == -32002, r)
    r = c.request("initialize", {"processId": None, "rootUri": None, "capabilities": {}})
    caps = r.get("result", {}).get("capabilities", {})
    check("initialize without utf-8: utf-16", caps.get("positionEncoding") == "utf-16", caps)
    check("incremental sync", caps.get("textDocumentSync", {}).get("change") == 2, caps)
    for k in ("hoverProvider", "definitionProvider", "documentFormattingProvider", "completionProvider",
              "codeActionProvider"):
        check(f"capability {k}", bool(caps.get(k)), caps)
    r = c.request("initialize", {"capabilities": {}})
    check("a second initialize is refused", r.get("error", {}).get("code") == -32600, r)
    c.notify("initialized", {})
    # malformed input: answered, and the server stays alive
    c.send_raw(b"Content-Length: 9\r\n\r\n{not json")
    r = c.wait_response(None)
    check("invalid JSON: -32700", r.get("error", {}).get("code") == -32700, r)
    c.send_raw(b"Content-Length: 2\r\n\r\n[]")
    r = c.wait_response(None)
    check("not an object: -32600", r.get("error", {}).get("code") == -32600, r)
    c.send_raw(b"Content-Length: 27\r\n\r\n{\"jsonrpc\":\"2.0\",\"id\":77}  ")
    r = c.wait_response(77)
    check("no method: -32600", r.get("error", {}).get("code") == -32600, r)
    c.send_raw(b"Content-Lenght: 12\r\n\r\n")
    r = c.wait_response(None)
    check("no Content-Length header: -32700", r.get("error", {}).get("code") == -32700, r)
    c.send_raw(b"Content-Length: banana\r\n\r\n")
    r = c.wait_response(None)
    check("a Content-Length that is no number: -32700", r.get("error", {}).get("code") == -32700, r)
    r = c.request("textDocument/frobnicate", {})
    check("unknown method: -32601", r.get("error", {}).get("code") == -32601, r)
    c.notify("$/cancelRequest", {"id": 1})
    c.notify("some/unknownNotification", {})
    r = c.request("textDocument/hover", {"textDocument": {"uri": "file:///nowhere.mig"},
                                         "position": {"line": 0, "character": 0}})
    check("a document not open: -32602", r.get("error", {}).get("code") == -32602, r)
    # a message split over several writes, one byte at a time for its header
    body = json.dumps({"jsonrpc": "2.0", "id": 500, "method": "textDocument/nothing"}).encode()
    data = b"Content-Length: %d\r\n\r\n" % len(body) + body
    for i in range(0, len(data), 7):
        c.send_raw(data[i:i + 7])
        time.sleep(0.002)
    r = c.wait_response(500)
    check("a message read in pieces", r.get("error", {}).get("code") == -32601, r)
    # two messages in one write
    b1 = json.dumps({"jsonrpc": "2.0", "id": 501, "method": "x/y"}).encode()
    b2 = json.dumps({"jsonrpc": "2.0", "id": 502, "method": "x/z"}).encode()
    c.send_raw(b"Content-Length: %d\r\n\r\n%s" % (len(b1), b1) + b"Content-Length: %d\r\n\r\n%s" % (len(b2), b2))
    check("two messages in one read (1)", c.wait_response(501).get("error") is not None)
    check("two messages in one read (2)", c.wait_response(502).get("error") is not None)
    r = c.request("shutdown", None)
    check("shutdown answers null", "result" in r and r["result"] is None, r)
    r = c.request("textDocument/hover", {})
    check("a request after shutdown: -32600", r.get("error", {}).get("code") == -32600, r)
    c.notify("exit", None)
    rc = c.finish()
    check("exit after shutdown: code 0", rc == 0, rc)
    check("stdout held only frames", not c.garbage, c.garbage)

    c = Client()
    c.notify("exit", None)
    rc = c.finish()
    check("exit without shutdown: code 1", rc == 1, rc)
    c = Client()
    c.p.stdin.close()
    rc = c.finish()
    check("end of input without shutdown: code 1", rc == 1, rc)


def case_diagnostics(utf8):
    tag = "utf-8" if utf8 else "utf-16"
    d = os.path.join(WORK, f"diag-{tag}")
    os.makedirs(d, exist_ok=True)
    c = Client(utf8=utf8)
    enc = c.init["result"]["capabilities"]["positionEncoding"]
    check(f"initialize offering {tag}: {tag}", enc == tag, enc)
    # a diagnostic on a line with é and an emoji before it
    text = ('migration m {\n'
            '  param p: string = "é🎉";\n'
            '  step s { up sql { SELECT \'é🎉\', ${p:raw} } down sql { SELECT 1 } }\n'
            '}\n')
    uri = c.open(os.path.join(d, "m.mig"), text)
    ds = c.wait_diags(uri, has_code("raw-interpolation"), f"{tag}: raw-interpolation on open")
    if ds:
        g = [x for x in ds if x["code"] == "raw-interpolation"][0]
        want_s, want_e = pos_of(text, "${p:raw}", utf8), pos_of(text, "${p:raw}", utf8, delta=8)
        check(f"{tag}: range after é and an emoji", g["range"] == {"start": want_s, "end": want_e},
              f'{g["range"]} want {want_s}-{want_e}')
        check(f"{tag}: warning severity", g["severity"] == 2, g)
        check(f"{tag}: message as migc check", "inserts the value verbatim" in g["message"], g)
    # incremental change: the step loses its down -> missing-down, on line 2
    start = pos_of(text, " down sql { SELECT 1 }", utf8)
    end = pos_of(text, " down sql { SELECT 1 }", utf8, delta=len(" down sql { SELECT 1 }"))
    c.notify("textDocument/didChange", {"textDocument": {"uri": uri, "version": 2}, "contentChanges": [
        {"range": {"start": start, "end": end}, "text": ""}]})
    ds = c.wait_diags(uri, has_code("missing-down"), f"{tag}: missing-down after an incremental change")
    if ds:
        g = [x for x in ds if x["code"] == "missing-down"][0]
        check(f"{tag}: error severity", g["severity"] == 1, g)
        check(f"{tag}: the error is on line 2", g["range"]["start"]["line"] == 2, g)
    # an insertion after the emoji, then typing it back
    ins = pos_of(text, "', ${p", utf8)
    c.notify("textDocument/didChange", {"textDocument": {"uri": uri, "version": 3}, "contentChanges": [
        {"range": {"start": ins, "end": ins}, "text": "x"},
        {"range": {"start": ins, "end": {"line": ins["line"], "character": ins["character"] + 1}}, "text": ""},
        {"range": {"start": start, "end": start}, "text": " down sql { SELECT 1 }"}]})
    ds = c.wait_diags(uri, lambda ds: "missing-down" not in codes(ds) and "raw-interpolation" in codes(ds),
                      f"{tag}: the text restored by three changes")
    # a full-text change
    c.notify("textDocument/didChange", {"textDocument": {"uri": uri, "version": 4}, "contentChanges": [
        {"text": "migration m { " + STEP + " }\n"}]})
    c.wait_diags(uri, lambda ds: ds == [], f"{tag}: a clean text clears the diagnostics")
    check(f"{tag}: stdout held only frames", c.close() == 0 and not c.garbage, c.garbage)


def case_project():
    d = os.path.join(WORK, "proj")
    write(os.path.join(d, "base.mig"), "migration base { " + STEP + " }\n")
    c = Client()
    text = "migration top {\n  after base, extra;\n  " + STEP + "\n}\n"
    top = c.open(os.path.join(d, "top.mig"), text)
    ds = c.wait_diags(top, has_code("unknown-after"), "unknown-after while extra.mig does not exist")
    if ds:
        g = [x for x in ds if x["code"] == "unknown-after"]
        check("only the missing one is unknown", len(g) == 1 and "extra" in g[0]["message"], g)
    # the file appears on disk
    write(os.path.join(d, "extra.mig"), "migration extra {\n  " + STEP + "\n}\n")
    c.notify("workspace/didChangeWatchedFiles", {"changes": [{"uri": uri_of(os.path.join(d, "extra.mig")),
                                                              "type": 1}]})
    c.wait_diags(top, lambda ds: ds == [], "unknown-after gone once extra.mig exists")
    # completion after `after`: the project's migrations only
    r = c.request("textDocument/completion", {"textDocument": {"uri": top}, "position": pos_of(text, "extra")})
    labels = sorted(i["label"] for i in (r.get("result") or {}).get("items", []))
    check("completion after `after`: the other migrations", labels == ["base", "extra"], labels)
    # definition across files
    r = c.request("textDocument/definition", {"textDocument": {"uri": top}, "position": pos_of(text, "extra")})
    loc = r.get("result") or {}
    if isinstance(loc, list):
        loc = loc[0] if loc else {}
    check("definition of an after name in another file", loc.get("uri") == uri_of(os.path.join(d, "extra.mig"))
          and loc.get("range", {}).get("start") == {"line": 0, "character": 10}, r)
    # an unsaved buffer wins over the file: open extra.mig with another name
    ex = c.open(os.path.join(d, "extra.mig"), "migration renamed {\n  " + STEP + "\n}\n")
    c.wait_diags(top, has_code("unknown-after"), "an unsaved buffer overrides the file on disk")
    c.notify("textDocument/didClose", {"textDocument": {"uri": ex}})
    c.wait_diags(top, lambda ds: ds == [], "closed: the file on disk counts again")
    # a cycle through the other file
    c.notify("textDocument/didChange", {"textDocument": {"uri": top, "version": 2}, "contentChanges": [
        {"text": "migration top {\n  after base;\n  " + STEP + "\n}\n"}]})
    bt = "migration base {\n  after top;\n  " + STEP + "\n}\n"
    b = c.open(os.path.join(d, "base.mig"), bt)
    c.wait_diags(None, lambda _: "after-cycle" in codes(c.diags.get(b)) + codes(c.diags.get(top)),
                 "after-cycle across two open buffers")
    # fn definition across files via import
    write(os.path.join(d, "lib", "helpers.mig"), "# doubles a number\nfn twice(n: int) -> int = n * 2;\n")
    ut = ('import "lib/helpers.mig";\nmigration user {\n  after base;\n  step s {\n    when twice(2) > 3;\n'
          '    up sql { SELECT 1 }\n    down sql { SELECT 1 }\n  }\n}\n')
    u = c.open(os.path.join(d, "user.mig"), ut)
    c.notify("textDocument/didChange", {"textDocument": {"uri": b, "version": 2}, "contentChanges": [
        {"text": "migration base { " + STEP + " }\n"}]})
    c.wait_diags(u, lambda ds: ds == [], "an import of another file checks")
    r = c.request("textDocument/definition", {"textDocument": {"uri": u}, "position": pos_of(ut, "twice", delta=2)})
    loc = r.get("result") or {}
    check("definition of a fn in another file", loc.get("uri") == uri_of(os.path.join(d, "lib", "helpers.mig"))
          and loc.get("range", {}).get("start") == {"line": 1, "character": 3}, r)
    r = c.request("textDocument/definition", {"textDocument": {"uri": u}, "position": pos_of(ut, "helpers.mig")})
    loc = r.get("result") or {}
    check("definition of an import: the file", loc.get("uri") == uri_of(os.path.join(d, "lib", "helpers.mig")), r)
    r = c.request("textDocument/hover", {"textDocument": {"uri": u}, "position": pos_of(ut, "twice")})
    v = (r.get("result") or {}).get("contents", {}).get("value", "")
    check("hover on a user fn: signature and comment", "fn twice(n: int) -> int" in v and "doubles" in v, v)
    # the imported file open with unsaved changes: the import reads the buffer
    h = c.open(os.path.join(d, "lib", "helpers.mig"), "fn thrice(n: int) -> int = n * 3;\n")
    ds = c.wait_diags(u, has_code("unknown-name"), "an import reads the unsaved buffer of the imported file")
    check("no duplicate of the imported file", "duplicate-name" not in codes(ds) + codes(c.diags.get(h)),
          (ds, c.diags.get(h)))
    c.notify("textDocument/didClose", {"textDocument": {"uri": h}})
    c.wait_diags(u, lambda ds: ds == [], "closed: the import reads the file again")
    # a file of the project that is not open gets its diagnostics too, and loses them when fixed
    bad = os.path.join(d, "broken.mig")
    write(bad, "migration broken {\n  after base;\n  step s { up sql { SELECT 1 } }\n}\n")
    c.notify("workspace/didChangeWatchedFiles", {"changes": [{"uri": uri_of(bad), "type": 1}]})
    ds = c.wait_diags(uri_of(bad), has_code("missing-down"), "a closed file's error is published")
    check("the closed file's error is at its place", ds and ds[0]["range"]["start"]["line"] == 2, ds)
    write(bad, "migration broken {\n  after base;\n  " + STEP + "\n}\n")
    c.notify("workspace/didChangeWatchedFiles", {"changes": [{"uri": uri_of(bad), "type": 2}]})
    c.wait_diags(uri_of(bad), lambda ds: ds == [], "fixed on disk: its diagnostics are cleared")
    c.close()


def case_lint_conf():
    """[lint] disable of mig.conf applies as in migc check; the project is
    the migrations folders of mig.conf."""
    d = os.path.join(WORK, "conf")
    write(os.path.join(d, "mig.conf"), "migrations = db\n[lint]\ndisable = raw-interpolation\n")
    write(os.path.join(d, "db", "sub", "a.mig"), "migration a { " + STEP + " }\n")
    c = Client()
    text = ('migration b {\n  after a;\n  param p: string = "x";\n'
            '  step s { up sql { SELECT ${p:raw} } down sql { SELECT 1 } }\n}\n')
    u = c.open(os.path.join(d, "db", "b.mig"), text)
    c.wait_diags(u, lambda ds: ds == [], "mig.conf: disabled warning left out, after resolved in a subfolder")
    c.close()
    write(os.path.join(d, "db", "b.mig"), text)
    out = subprocess.run([MIGC, "check"], cwd=d, capture_output=True, text=True,
                         env={k: v for k, v in os.environ.items() if k != "MIG_CONFIG"})
    check("migc check agrees (clean)", out.returncode == 0 and out.stderr == "", out.stderr)


def case_format():
    d = os.path.join(WORK, "fmt")
    text = ('# a comment\nmigration   f{\nparam  n : int=3;\n   step s {  up sql {  SELECT ${n}  }\n'
            'down sql { SELECT 2 }}\n}\n')
    path = os.path.join(d, "f.mig")
    write(path, text)
    c = Client()
    u = c.open(path, text)
    r = c.request("textDocument/formatting", {"textDocument": {"uri": u},
                                              "options": {"tabSize": 2, "insertSpaces": True}})
    edits = r.get("result")
    check("formatting returns edits", isinstance(edits, list) and edits, r)
    formatted = apply_edits(text, edits or [])
    subprocess.run([MIGC, "fmt", path], check=False)
    with open(path, encoding="utf-8") as f:
        want = f.read()
    check("formatting equals migc fmt", formatted == want and formatted != text, repr(formatted))
    c.notify("textDocument/didChange", {"textDocument": {"uri": u, "version": 2},
                                        "contentChanges": [{"text": want}]})
    r = c.request("textDocument/formatting", {"textDocument": {"uri": u}, "options": {}})
    check("formatted text: no edits", r.get("result") == [], r)
    c.notify("textDocument/didChange", {"textDocument": {"uri": u, "version": 3},
                                        "contentChanges": [{"text": "migration {"}]})
    r = c.request("textDocument/formatting", {"textDocument": {"uri": u}, "options": {}})
    check("syntax errors: not formatted (null)", "result" in r and r["result"] is None, r)
    c.close()


def case_hover_completion():
    d = os.path.join(WORK, "hover")
    text = ('import std;\nimport std.pg;\nmigration h {\n'
            '  # how many rows to copy per batch\n  param limit: int = 500;\n'
            '  step s {\n    when std.table_exists("t") and std.pg.major_version() > 11 and limit > 1;\n'
            '    up sql { SELECT ${limit} }\n    down sql { SELECT 1 }\n  }\n}\n')
    c = Client()
    u = c.open(os.path.join(d, "h.mig"), text)
    c.wait_diags(u, lambda ds: ds == [], "the hover file checks clean")

    def hover(needle, delta=1, nth=0):
        r = c.request("textDocument/hover", {"textDocument": {"uri": u},
                                             "position": pos_of(text, needle, nth=nth, delta=delta)})
        return (r.get("result") or {}).get("contents", {}).get("value", "")
    v = hover("table_exists")
    check("hover on std.table_exists: signature", "fn std.table_exists(t: string) -> bool" in v, v)
    check("hover on std.table_exists: its doc comment", "Whether a table" in v, v)
    v = hover("major_version")
    check("hover on std.pg.major_version", "fn std.pg.major_version() -> int" in v and "major version" in v, v)
    v = hover("limit > 1")
    check("hover on a param: type and default", "int" in v and "500" in v, v)
    check("hover on a param: its comment", "rows to copy per batch" in v, v)
    v = hover("${limit}", delta=3)
    check("hover on a param in ${…}", "500" in v, v)
    r = c.request("textDocument/hover", {"textDocument": {"uri": u}, "position": {"line": 2, "character": 0}})
    check("hover on a keyword: null", r.get("result") is None, r)
    # completion
    r = c.request("textDocument/completion", {"textDocument": {"uri": u}, "position": {"line": 10, "character": 1}})
    labels = [i["label"] for i in (r.get("result") or {}).get("items", [])]
    for want in ("migration", "step", "after", "transaction", "std.table_exists", "std.pg.major_version", "env"):
        check(f"completion offers {want}", want in labels, labels[:20])
    # after "std.ta" the edit replaces the dotted prefix
    c.notify("textDocument/didChange", {"textDocument": {"uri": u, "version": 2}, "contentChanges": [
        {"range": {"start": {"line": 11, "character": 0}, "end": {"line": 11, "character": 0}}, "text": "std.ta"}]})
    r = c.request("textDocument/completion", {"textDocument": {"uri": u}, "position": {"line": 11, "character": 6}})
    items = (r.get("result") or {}).get("items", [])
    te = [i for i in items if i["label"] == "std.table_exists"]
    check("completion after std.: std functions, replacing the prefix",
          te and te[0]["textEdit"]["range"]["start"] == {"line": 11, "character": 0}, te)
    check("completion after std.: no keywords", "migration" not in [i["label"] for i in items])
    c.close()


def case_quickfix(utf8):
    tag = "utf-8" if utf8 else "utf-16"
    d = os.path.join(WORK, f"fix-{tag}")
    text = ('migration q {\n  param p: string = "é🎉";\n  phase work {\n    lock_timeout 5s;\n'
            '    step s { up sql { SELECT ${p:raw} } down sql { SELECT 1 } }\n'
            '    step t {\n      up sql { DROP TABLE users; }\n      down irreversible "gone";\n    }\n  }\n}\n')
    c = Client(utf8=utf8)
    u = c.open(os.path.join(d, "q.mig"), text)
    ds = c.wait_diags(u, lambda ds: "raw-interpolation" in codes(ds) and "destructive" in codes(ds),
                      f"{tag}: two warnings to suppress")
    if not ds:
        c.close()
        return
    version = 1
    for rule in ("raw-interpolation", "destructive"):
        g = [x for x in c.diags[u] if x["code"] == rule][0]
        r = c.request("textDocument/codeAction", {"textDocument": {"uri": u}, "range": g["range"],
                                                  "context": {"diagnostics": [g]}})
        acts = [a for a in r.get("result") or [] if a.get("kind") == "quickfix" and rule in a.get("title", "")]
        if not check(f"{tag}: a quick fix for {rule}", len(acts) == 1, r):
            continue
        edits = acts[0]["edit"]["changes"][u]
        new = apply_edits(text, edits, utf8)
        check(f"{tag}: {rule}: a comment with a reason above its step",
              f"# mig: allow {rule} — " in new and new.count("\n") == text.count("\n") + 1, new)
        text = new
        version += 1
        c.notify("textDocument/didChange", {"textDocument": {"uri": u, "version": version},
                                            "contentChanges": [{"text": text}]})
        c.wait_diags(u, lacks_code(rule), f"{tag}: the inserted suppression silences {rule}")
    c.wait_diags(u, lambda ds: ds == [], f"{tag}: no warning left, no suppression-without-reason")
    # a second rule on a step that has a suppression: added to the same line
    lines = text.split("\n")
    i = [k for k, l in enumerate(lines) if "DROP TABLE users" in l][0]
    lines[i] = "      up sql { DROP TABLE users; CREATE INDEX i ON accounts (x); }"
    text = "\n".join(lines)
    version += 1
    c.notify("textDocument/didChange", {"textDocument": {"uri": u, "version": version},
                                        "contentChanges": [{"text": text}]})
    ds = c.wait_diags(u, has_code("create-index-blocking"), f"{tag}: create-index-blocking")
    if ds:
        g = [x for x in ds if x["code"] == "create-index-blocking"][0]
        r = c.request("textDocument/codeAction", {"textDocument": {"uri": u}, "range": g["range"],
                                                  "context": {"diagnostics": [g]}})
        acts = r.get("result") or []
        if check(f"{tag}: a quick fix joining an existing suppression", len(acts) == 1, r):
            new = apply_edits(text, acts[0]["edit"]["changes"][u], utf8)
            check(f"{tag}: the rule joins the line", "# mig: allow destructive, create-index-blocking — " in new
                  and new.count("\n") == text.count("\n"), new)
            c.notify("textDocument/didChange", {"textDocument": {"uri": u, "version": version + 1},
                                                "contentChanges": [{"text": new}]})
            c.wait_diags(u, lambda ds: ds == [], f"{tag}: both silenced")
    # an error that cannot be suppressed gets no quick fix
    c.notify("textDocument/didChange", {"textDocument": {"uri": u, "version": version + 2}, "contentChanges": [
        {"text": "migration q { step s { up sql { BEGIN; SELECT 1; COMMIT; } down sql { SELECT 1 } } }\n"}]})
    ds = c.wait_diags(u, has_code("transaction-control"), f"{tag}: transaction-control")
    if ds:
        r = c.request("textDocument/codeAction", {"textDocument": {"uri": u}, "range": ds[0]["range"],
                                                  "context": {"diagnostics": ds}})
        check(f"{tag}: no quick fix for transaction-control", r.get("result") == [], r)
    c.close()


def case_large():
    """A project of 1,000 files and a large document: each answer in time."""
    d = os.path.join(WORK, "large")
    os.makedirs(d, exist_ok=True)
    for i in range(1000):
        after = f"  after m{i - 1:04d};\n" if i else ""
        with open(os.path.join(d, f"m{i:04d}.mig"), "w") as f:
            f.write(f"migration m{i:04d} {{\n{after}  step s {{\n    up sql {{ CREATE TABLE t{i} (id int); }}\n"
                    f"    down sql {{ DROP TABLE t{i}; }}\n  }}\n}}\n")
    c = Client()
    big = "migration big {\n  after m0999;\n" + "".join(
        f"  step s{k} {{\n    up sql {{ CREATE TABLE big{k} (id int); }}\n    down sql {{ DROP TABLE big{k}; }}\n  }}\n"
        for k in range(3000)) + "}\n"
    t0 = time.time()
    u = c.open(os.path.join(d, "zbig.mig"), big)
    c.wait_diags(u, lambda ds: ds == [], "1,000 files and a document of 3,000 steps check clean")
    t_open = time.time() - t0
    t0 = time.time()
    for k in range(20):     # typing: 20 one-character edits; the diagnostics follow the last
        c.notify("textDocument/didChange", {"textDocument": {"uri": u, "version": 2 + k}, "contentChanges": [
            {"range": {"start": {"line": 1, "character": 2}, "end": {"line": 1, "character": 2}}, "text": "x"}
            if k % 2 == 0 else
            {"range": {"start": {"line": 1, "character": 2}, "end": {"line": 1, "character": 3}}, "text": ""}]})
    r = c.request("textDocument/hover", {"textDocument": {"uri": u}, "position": {"line": 1, "character": 10}})
    t_typing = time.time() - t0
    check("hover after typing in a large project", "m0999" in json.dumps(r), r)
    c.wait_diags(u, lambda ds: ds == [], "the large document clean after the edits")
    print(f"# large project: open {t_open:.2f}s, 20 edits and a hover {t_typing:.2f}s", flush=True)
    check("open of a large project within 10s", t_open < 10 * SLOW, t_open)
    check("20 edits and a hover within 10s", t_typing < 10 * SLOW, t_typing)
    c.close()


def case_robust():
    """Input no editor should send: answered or survived, never a crash."""
    c = Client()
    d = os.path.join(WORK, "robust")
    os.makedirs(d, exist_ok=True)
    # a NUL byte in a document: the compiler's error, not a cut text
    u = c.open(os.path.join(d, "nul.mig"), "migration n { \u0000 }\n")
    ds = c.wait_diags(u, has_code("syntax"), "a NUL byte in a document: an error")
    check("the NUL byte error says so", ds and "NUL" in ds[0]["message"], ds)
    # a lone surrogate is not Unicode: a parse error
    body = b'{"jsonrpc":"2.0","id":900,"method":"textDocument/hover","params":{"x":"\\ud800"}}'
    c.send_raw(b"Content-Length: %d\r\n\r\n" % len(body) + body)
    r = c.wait_response(None)
    check("a lone surrogate: -32700", r.get("error", {}).get("code") == -32700, r)
    # a Content-Length beyond reason
    c.send_raw(b"Content-Length: 99999999999999999999\r\n\r\n")
    r = c.wait_response(None)
    check("a huge Content-Length: -32700", r.get("error", {}).get("code") == -32700, r)
    # garbage bytes, then a request: the server finds the next header
    c.send_raw(bytes(range(1, 256)) * 4 + b"\r\n\r\n")
    r = c.wait_response(None)
    check("garbage: -32700", r.get("error", {}).get("code") == -32700, r)
    r = c.request("textDocument/hover", {"textDocument": {"uri": u}, "position": {"line": 0, "character": 2}})
    check("alive after garbage", "result" in r, r)
    # garbage without an end, then a request in the same write: the request is found
    body = json.dumps({"jsonrpc": "2.0", "id": 901, "method": "textDocument/hover",
                       "params": {"textDocument": {"uri": u}, "position": {"line": 0, "character": 2}}}).encode()
    c.send_raw(b"no header at all" + b"Content-Length: %d\r\n\r\n" % len(body) + body)
    r = c.wait_response(None)
    check("garbage before a header: -32700", r.get("error", {}).get("code") == -32700, r)
    r = c.wait_response(901)
    check("garbage before a header: the request after it answered", "result" in r, r)
    # positions past the end of a line or of the text are clamped
    r = c.request("textDocument/hover", {"textDocument": {"uri": u}, "position": {"line": 99, "character": 99}})
    check("a position past the end", "result" in r, r)
    r = c.request("textDocument/hover", {"textDocument": {"uri": u}, "position": {"line": -1, "character": 0}})
    check("a negative position: -32602", r.get("error", {}).get("code") == -32602, r)
    # a document that is no file
    un = "untitled:Untitled-1"
    c.notify("textDocument/didOpen", {"textDocument": {"uri": un, "languageId": "mig", "version": 1,
                                                       "text": "migration u { step s { up sql { SELECT 1 } } }"}})
    c.wait_diags(un, has_code("missing-down"), "an untitled document is checked alone")
    # a change that makes no sense for the text is ignored, not fatal
    c.notify("textDocument/didChange", {"textDocument": {"uri": un, "version": 2}, "contentChanges": [
        {"range": {"start": {"line": 0, "character": 5}, "end": {"line": 0, "character": 1}}, "text": "x"}]})
    r = c.request("textDocument/completion", {"textDocument": {"uri": un}, "position": {"line": 0, "character": 3}})
    check("alive after a reversed range", "result" in r, r)
    rc = c.close()
    check("robust: exit 0 and only frames on stdout", rc == 0 and not c.garbage, (rc, c.garbage))
    check("robust: no crash report on stderr", b"AddressSanitizer" not in c.stderr and b"Segmentation" not in c.stderr,
          c.stderr[-500:])


def case_same_as_check():
    """Every case of tests/golden/check, opened in the editor, gets the
    diagnostics `migc check --format json` prints for it: same places (in
    UTF-16 units), severities, rule ids and messages."""
    import shutil
    src = os.path.join(os.environ["TOP_SRCDIR"], "tests", "golden", "check")
    root = os.path.join(WORK, "golden")
    c = Client()
    n = 0
    for case in sorted(os.listdir(src)):
        full = os.path.join(src, case)
        if case.endswith(".out") or case.startswith("."):
            continue
        if os.path.isfile(full):
            with open(full, encoding="utf-8", errors="replace") as f:
                if f.readline().startswith("# args:"):
                    continue
        d = os.path.join(root, case.replace(".mig", "") + ".d")
        if os.path.isdir(full):
            shutil.copytree(full, d)
        else:
            os.makedirs(d)
            shutil.copy(full, d)
        files = sorted(os.path.join(dp, f) for dp, _, fs in os.walk(d) for f in fs if f.endswith(".mig"))
        texts = {}
        for path in files:
            with open(path, "rb") as f:
                raw = f.read()
            try:
                texts[path] = raw.decode("utf-8")
            except UnicodeDecodeError:
                texts[path] = None      # not UTF-8: JSON cannot carry it as it is
        if any(t is None or "\0" in t for t in texts.values()):
            continue
        for path in files:
            c.open(path, texts[path])
        # a request checks the project first: its diagnostics come before the answer
        for path in files:
            c.request("textDocument/hover", {"textDocument": {"uri": uri_of(path)},
                                             "position": {"line": 0, "character": 0}})
        out = subprocess.run([MIGC, "check", "--format", "json", d], capture_output=True, text=True,
                             env=dict(os.environ, MIG_CONFIG=""))
        want_all = json.loads(out.stdout)["diagnostics"]
        # every file with diagnostics: the open ones, and the others (sql files)
        others = sorted({w["file"] for w in want_all if w.get("file") and w["file"] not in files})
        for path in others:
            with open(path, encoding="utf-8", errors="replace") as f:
                texts[path] = f.read()
        for path in files + others:
            lines = texts[path].split("\n")

            def u16(line, col):
                l = lines[line - 1] if line - 1 < len(lines) else ""
                return len(l[:col - 1].encode("utf-16-le")) // 2
            want = sorted((w["line"] - 1, u16(w["line"], w["column"]), w["end_line"] - 1,
                           u16(w["end_line"], w["end_column"]), 1 if w["severity"] == "error" else 2,
                           w["rule"], w["message"]) for w in want_all if w.get("file") == path)
            got = sorted((g["range"]["start"]["line"], g["range"]["start"]["character"], g["range"]["end"]["line"],
                          g["range"]["end"]["character"], g["severity"], g["code"], g["message"])
                         for g in c.diags.get(uri_of(path), []))
            n += 1
            check(f"same as migc check: {os.path.relpath(path, root)}", got == want, f"\n got {got}\nwant {want}")
        for path in files:
            c.notify("textDocument/didClose", {"textDocument": {"uri": uri_of(path)}})
        for path in others:
            c.diags.pop(uri_of(path), None)
    check("golden cases compared", n >= 40, n)
    c.close()


def case_conf_change():
    """A mig.conf written while the editor is open: its folders and [lint]
    apply once the editor reports the change."""
    d = os.path.join(WORK, "confchange")
    text = 'migration w { param p: string = "x"; step s { up sql { SELECT ${p:raw} } down sql { SELECT 1 } } }\n'
    write(os.path.join(d, "db", "w.mig"), text)
    c = Client()
    u = c.open(os.path.join(d, "db", "w.mig"), text)
    c.wait_diags(u, has_code("raw-interpolation"), "a warning before mig.conf exists")
    write(os.path.join(d, "mig.conf"), "migrations = db\n[lint]\ndisable = raw-interpolation\n")
    c.notify("workspace/didChangeWatchedFiles", {"changes": [{"uri": uri_of(os.path.join(d, "mig.conf")),
                                                              "type": 1}]})
    c.wait_diags(u, lambda ds: ds == [], "mig.conf written: its [lint] disable applies")
    g = {"range": {"start": {"line": 0, "character": 0}, "end": {"line": 0, "character": 1}}}
    r = c.request("textDocument/codeAction", {"textDocument": {"uri": u}, "range": g["range"],
                                              "context": {"diagnostics": [], "only": ["source.organizeImports"]}})
    check("code actions of another kind: none", r.get("result") == [], r)
    c.close()


def case_open_order():
    """A file of a subfolder opened first, then one of the folder above:
    one project, whatever the order."""
    d = os.path.join(WORK, "order")
    sub_text = "migration later {\n  after first;\n  " + STEP + "\n}\n"
    top_text = "migration first {\n  " + STEP + "\n}\n"
    write(os.path.join(d, "sub", "later.mig"), sub_text)
    c = Client()
    sub = c.open(os.path.join(d, "sub", "later.mig"), sub_text)
    c.wait_diags(sub, has_code("unknown-after"), "the subfolder alone: unknown-after")
    c.open(os.path.join(d, "first.mig"), top_text)
    c.wait_diags(sub, lambda ds: ds == [], "the folder above opened: the subfolder's file joins its project")
    c.close()


def case_wrong_types():
    """Every method with params of the wrong shapes: an answer (result or
    error) to each request, no crash, the documents intact."""
    import random
    rnd = random.Random(16)
    c = Client()
    d = os.path.join(WORK, "types")
    text = "import std;\nmigration t { " + STEP + " }\n"
    u = c.open(os.path.join(d, "t.mig"), text)
    values = [None, 0, -1, 2 ** 40, 1.5, "", "x", [], [1], {}, {"line": "a"}, {"uri": 3}, True,
              {"line": 0, "character": 2 ** 31}, {"start": {}, "end": []}]
    methods = ["textDocument/hover", "textDocument/definition", "textDocument/completion",
               "textDocument/formatting", "textDocument/codeAction", "initialize", "shutdown_not"]
    notes = ["textDocument/didOpen", "textDocument/didChange", "textDocument/didClose", "textDocument/didSave",
             "workspace/didChangeWatchedFiles"]
    answered = 0
    for k in range(150):
        params = {"textDocument": rnd.choice([{"uri": u}, {"uri": rnd.choice(values)}, rnd.choice(values)]),
                  "position": rnd.choice(values), "range": rnd.choice(values),
                  "contentChanges": rnd.choice([values, [{"range": rnd.choice(values), "text": rnd.choice(values)}]]),
                  "context": rnd.choice(values), "changes": rnd.choice(values)}
        for key in list(params):
            if rnd.random() < 0.3:
                del params[key]
        if k % 2:
            c.notify(rnd.choice(notes), params)
        else:
            r = c.request(rnd.choice(methods), rnd.choice([params, params, [], None]))
            answered += ("result" in r) != ("error" in r)
    check("every malformed request answered once", answered == 75, answered)
    c.notify("textDocument/didOpen", {"textDocument": {"uri": u, "languageId": "mig", "version": 99, "text": text}})
    r = c.request("textDocument/hover", {"textDocument": {"uri": u}, "position": pos_of(text, "migration t", delta=11)})
    check("the server still answers afterwards", "result" in r, r)
    check("wrong types: exit 0", c.close() == 0)
    out = subprocess.run([MIGC, "lsp", "--tcp"], capture_output=True, text=True, stdin=subprocess.DEVNULL)
    check("migc lsp --tcp: usage error, exit 2", out.returncode == 2 and "unknown option '--tcp'" in out.stderr
          and out.stdout == "", out)
    out = subprocess.run([MIGC, "lsp", "--help"], capture_output=True, text=True)
    check("migc lsp --help", out.returncode == 0 and "usage: migc lsp" in out.stdout, out)


def case_home():
    """A file in the home folder (no mig.conf): its folder's own .mig files
    only, never everything below it."""
    home = os.path.join(WORK, "home")
    write(os.path.join(home, "deep", "elsewhere", "far.mig"), "migration far { " + STEP + " }\n")
    write(os.path.join(home, "near.mig"), "migration near { " + STEP + " }\n")
    text = "migration h {\n  after near, far;\n  " + STEP + "\n}\n"
    c = Client(env={"HOME": home})
    u = c.open(os.path.join(home, "h.mig"), text)
    ds = c.wait_diags(u, has_code("unknown-after"), "in $HOME: a subfolder's migration is not part of the project")
    check("in $HOME: the folder's own file is", ds and len(ds) == 1 and "far" in ds[0]["message"], ds)
    far = c.open(os.path.join(home, "deep", "elsewhere", "far.mig"), "migration far { " + STEP + " }\n")
    c.wait_diags(far, lambda ds: ds == [], "a file below $HOME has its own project")
    c.wait_diags(u, has_code("unknown-after"), "and does not join the one of $HOME")
    c.close()


def case_quickfix_more():
    """Suppressions above a migration (a param nothing uses), in a CRLF file."""
    d = os.path.join(WORK, "fix-more")
    text = ('migration q {\r\n  param unused: int = 1;\r\n'
            '  step s { up sql { SELECT ${p:raw} } down sql { SELECT 1 } }\r\n  param p: string = "x";\r\n}\r\n')
    text = text.replace('  param p: string = "x";\r\n', "")
    text = text.replace("migration q {\r\n", 'migration q {\r\n  param p: string = "x";\r\n')
    c = Client()
    u = c.open(os.path.join(d, "q.mig"), text)
    ds = c.wait_diags(u, lambda ds: "unused-param" in codes(ds) and "raw-interpolation" in codes(ds),
                      "CRLF: two warnings")
    if not ds:
        c.close()
        return
    version = 1
    for rule in ("unused-param", "raw-interpolation"):
        g = [x for x in c.diags[u] if x["code"] == rule][0]
        r = c.request("textDocument/codeAction", {"textDocument": {"uri": u}, "range": g["range"],
                                                  "context": {"diagnostics": [g]}})
        acts = [a for a in r.get("result") or [] if rule in a.get("title", "")]
        if not check(f"CRLF: a quick fix for {rule}", len(acts) == 1, r):
            continue
        new = apply_edits(text, acts[0]["edit"]["changes"][u])
        check(f"CRLF: {rule}: the comment ends with CRLF", f"# mig: allow {rule} — " in new and "\r\r" not in new
              and new.count("\n") == new.count("\r\n"), repr(new))
        text = new
        version += 1
        c.notify("textDocument/didChange", {"textDocument": {"uri": u, "version": version},
                                            "contentChanges": [{"text": text}]})
        c.wait_diags(u, lacks_code(rule), f"CRLF: the suppression silences {rule}")
    check("unused-param: the suppression is above the migration", text.startswith("# mig: allow unused-param"),
          repr(text))
    c.wait_diags(u, lambda ds: ds == [], "CRLF: clean")
    c.close()


case_lifecycle()
case_robust()
case_wrong_types()
case_diagnostics(False)
case_diagnostics(True)
case_project()
case_lint_conf()
case_open_order()
case_home()
case_format()
case_hover_completion()
case_quickfix(False)
case_quickfix(True)
case_quickfix_more()
case_same_as_check()
case_conf_change()
case_large()
check("every server wrote only framed messages on stdout", all(not c.garbage for c in CLIENTS),
      [c.garbage for c in CLIENTS if c.garbage])
check("every server asked to watch files only when the client offered it",
      all(("mig-watch" in c.raw.decode("utf-8", "replace")) == hasattr(c, "init") for c in CLIENTS),
      [hasattr(c, "init") for c in CLIENTS])
print(f"{passed} passed, {failed} failed")
sys.exit(1 if failed else 0)
