#!/bin/sh
# lsp_check.sh — `migc lsp` spoken to over stdio by a real client
# (tests/lsp_client.py, python3's standard library only): the protocol,
# diagnostics, formatting, hover, definition, completion and quick fixes.
: "${MIGC:?MIGC must name the migc binary}"
: "${TOP_SRCDIR:?}"
tmp=$(mktemp -d) || exit 99
trap 'rm -rf "$tmp"' EXIT
if ! command -v python3 >/dev/null 2>&1; then
    echo "python3 is needed for the LSP client (install the Debian package 'python3')"
    echo "0 passed, 1 failed"
    exit 1
fi
python3 "$TOP_SRCDIR/tests/lsp_client.py" "$MIGC" "$tmp"
