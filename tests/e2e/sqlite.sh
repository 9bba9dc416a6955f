#!/usr/bin/env bash
# sqlite.sh — the end-to-end suite on SQLite files.
DIALECT=sqlite exec bash "$(dirname "$0")/suite.sh"
