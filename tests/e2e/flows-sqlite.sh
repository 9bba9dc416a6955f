#!/usr/bin/env bash
# flows-sqlite.sh — the deployment flows of flows.sh on SQLite files.
DIALECT=sqlite exec bash "$(dirname "$0")/flows.sh"
