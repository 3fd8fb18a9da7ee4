#!/usr/bin/env bash
# Runs every check of the project: lint, types, and the pytest suite.
# Does its own set-up on a fresh machine (a .venv with the test extras).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/_venv.sh
ensure_venv "test,bench,browser"

echo "== ruff"
.venv/bin/ruff check governance tests benchmarks examples scripts asv_plugins
echo "== mypy"
.venv/bin/mypy governance
echo "== pytest"
.venv/bin/pytest "$@"
