#!/usr/bin/env bash
# Main job: benchmark the commits of main that lack results for this machine, publish the
# dashboard for offline use, and say how to open it. Options: see
# `bash scripts/main.sh --help` (e.g. --max-commits N, --machine NAME, --list).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/_venv.sh
ensure_debian_packages valgrind
ensure_venv "test,bench,browser"
exec .venv/bin/python -m scripts.benchmark_history "$@"
