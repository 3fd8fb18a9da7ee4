# Sourced by the scripts: creates .venv with Python 3.11 and installs the project with the given
# extras (comma-separated) in editable mode. Re-running only installs what is missing.
ensure_venv() {
  local extras="$1"
  local python="${PYTHON:-python3.11}"
  command -v "$python" >/dev/null 2>&1 || python=python3
  if [ ! -x .venv/bin/python ]; then
    echo "== creating .venv with $("$python" --version)"
    "$python" -m venv .venv
  fi
  local stamp=".venv/.installed-$extras-$(cat pyproject.toml | sha1sum | cut -c1-12)"
  if [ ! -f "$stamp" ]; then
    echo "== installing governance[$extras] into .venv"
    .venv/bin/python -m pip install --quiet --upgrade pip
    .venv/bin/python -m pip install --quiet -e ".[$extras]"
    touch "$stamp"
  fi
}
