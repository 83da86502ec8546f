#!/usr/bin/env bash
# Install the class hub's proxy (configurable-http-proxy, pinned in hub/package.json) from the npm registry.
# Called by scripts/build.sh; safe to re-run (npm ci is skipped when the pinned version is already there).
set -euo pipefail
cd "$(dirname "$0")"
want=$(python3 -c 'import json; print(json.load(open("package.json"))["dependencies"]["configurable-http-proxy"])')
have=$(node -p 'require("./node_modules/configurable-http-proxy/package.json").version' 2>/dev/null || true)
if [ "$have" != "$want" ]; then
  echo "==> installing configurable-http-proxy $want for the class hub (hub/node_modules)"
  npm install --no-audit --no-fund --loglevel=error --omit=dev >/dev/null
fi
