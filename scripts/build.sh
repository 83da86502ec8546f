#!/usr/bin/env bash
# Set up everything (Python venv, pinned packages, the book's own JavaScript) and build the book.
# Usage: bash scripts/build.sh        -> site in _build/html/index.html
set -euo pipefail
cd "$(dirname "$0")/.."

PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  echo "==> creating .venv with $($PY --version)"
  "$PY" -m venv .venv
fi
# nbgrader calls `alembic` from PATH when it creates a gradebook: keep the venv's bin first.
export PATH="$PWD/.venv/bin:$PATH"

echo "==> installing pinned Python packages (requirements.txt)"
python -m pip install --quiet --disable-pip-version-check -r requirements.txt
python -m pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation -e .

echo "==> fetching the book's JavaScript from the npm registry (package.json pins)"
python -m iome.vendor
bash hub/setup.sh   # the class hub's proxy (configurable-http-proxy, pinned in hub/package.json)

echo "==> building the book (warnings are errors)"
iome book build

echo
echo "Done. Open _build/html/index.html in a browser, or serve it:"
echo "  python3 -m http.server --directory _build/html 8000   # then visit http://127.0.0.1:8000"
