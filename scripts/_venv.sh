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

# Installs the Debian packages named that are missing (as root, with apt-get); elsewhere says
# what to install. valgrind counts instructions; chromium and npm serve the dashboard's tests.
ensure_debian_packages() {
  local missing=() package
  for package in "$@"; do
    command -v "$package" >/dev/null 2>&1 || missing+=("$package")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "== installing Debian packages: ${missing[*]}"
    DEBIAN_FRONTEND=noninteractive apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
  else
    echo "== missing: ${missing[*]} (install them, e.g. apt-get install ${missing[*]})" >&2
  fi
}
