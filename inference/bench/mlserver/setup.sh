#!/usr/bin/env bash
# Installs MLServer (requirements.txt) into a venv cached under ~/.cache/tidewatch, named by
# the hash of the requirements so a changed pin gets a fresh venv; prints the venv's path.
# Needs PyPI the first time only.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
HASH=$(sha256sum "$HERE/requirements.txt" | cut -c1-12)
VENV=${BENCH_MLSERVER_VENV:-$HOME/.cache/tidewatch/mlserver-venv-$HASH}
if [ ! -x "$VENV/bin/mlserver" ] || ! "$VENV/bin/python" -c 'import mlserver_sklearn' 2>/dev/null; then
  printf '[bench] installing MLServer into %s\n' "$VENV" >&2
  rm -rf "$VENV"
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q --upgrade pip >&2
  "$VENV/bin/pip" install -q -r "$HERE/requirements.txt" >&2
fi
echo "$VENV"
