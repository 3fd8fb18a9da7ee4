#!/usr/bin/env bash
# Publishes the asv dashboard so that it works without internet access:
#   bash scripts/publish.sh [asv publish options, e.g. --html-dir DIR or a commit range]
# = `.venv/bin/asv publish` (whose plugin asv_plugins/offline_dashboard.py writes the stages and
# changes pages and makes the site offline), then `python -m scripts.offline_dashboard` on the html
# directory again (harmless; it checks the site). Needs npm the first time (`npm ci` in dashboard/).
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -x .venv/bin/asv ]; then
  source scripts/_venv.sh
  ensure_venv bench
fi

html_dir="$(.venv/bin/python -c 'import json; print(json.load(open("asv.conf.json"))["html_dir"])')"
args=("$@")
for ((i = 0; i < ${#args[@]}; i++)); do
  case "${args[$i]}" in
    -o|--html-dir) html_dir="${args[$((i + 1))]:-$html_dir}" ;;
    --html-dir=*) html_dir="${args[$i]#--html-dir=}" ;;
    --config|--config=*)
      echo "publish.sh: --config is not supported, it publishes with ./asv.conf.json" >&2
      exit 2 ;;
  esac
done

.venv/bin/asv publish "$@"
.venv/bin/python -m scripts.offline_dashboard "$html_dir"

echo
echo "Dashboard written to $(cd "$html_dir" && pwd). View it with:"
echo "  .venv/bin/asv preview --html-dir $html_dir --port 8080"
echo "and open http://127.0.0.1:8080/ (asv preview listens on every interface; to keep it to this"
echo "host: python -m http.server --bind 127.0.0.1 -d $html_dir 8080)"
