#!/usr/bin/env bash
# The PR gate: asv continuous between a base (default main) and HEAD on the governance suites.
# Exit 0 unchanged or better, 1 regression confirmed by the majority of runs (table printed),
# 2 a benchmark broken on either side. Flagged benchmarks are re-measured (--confirm N, default 2).
# Usage: bash scripts/pr_gate.sh [BASE] [HEAD] [--factor F] [--bench REGEX] [--confirm N]
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/_venv.sh
ensure_venv "test,bench,browser"
exec .venv/bin/python scripts/pr_gate.py "$@"
