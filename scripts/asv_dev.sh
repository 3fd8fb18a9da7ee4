#!/usr/bin/env bash
# The benchmark dev loop: runs benchmarks once each against the package installed in .venv
# (the working tree), with results kept under .asv/dev/, never in results/.
# Usage: bash scripts/asv_dev.sh [-b REGEX] [other asv run options]
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/_venv.sh
ensure_venv "test,bench,browser"
config=$(.venv/bin/python -m scripts.asv_config dev)
.venv/bin/asv machine --yes --machine governance-dev >/dev/null
exec .venv/bin/asv run --config "$config" --machine governance-dev --python=same --quick \
  --dry-run --show-stderr "$@"
