#!/usr/bin/env bash
# The PR gate: asv continuous between a base (default main) and HEAD on the governance suites.
# Exit 0 unchanged or better, 1 regression (table printed), 2 a benchmark broken on either side.
# Changed benchmarks are re-measured with pooled samples (--confirm N, default 2) before the verdict.
# Usage: bash scripts/pr_gate.sh [BASE] [HEAD] [--factor F] [--bench REGEX] [--confirm N]
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/_venv.sh
ensure_debian_packages valgrind
ensure_venv "test,bench,browser"
exec .venv/bin/python -m scripts.pr_gate "$@"
