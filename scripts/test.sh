#!/usr/bin/env bash
# Run the whole test suite (after scripts/build.sh). Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -x .venv/bin/python ]; then
  echo "No .venv yet: run 'bash scripts/build.sh' first." >&2; exit 1
fi
export PATH="$PWD/.venv/bin:$PATH"
# The browser test drives Debian's Chromium (never a downloaded browser).
if [ ! -x /usr/bin/chromium ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "==> installing Debian's chromium for the browser test"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
  else
    echo "The browser test needs Debian's Chromium: sudo apt-get install chromium" >&2; exit 1
  fi
fi
# two workers (this course targets 2-core machines); graded cohorts stay together (tests/conftest.py)
exec python -m pytest -n 2 --dist loadgroup "$@"
