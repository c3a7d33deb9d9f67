#!/usr/bin/env bash
# Creates (once) a virtualenv with the OIP test's Python client under
# ~/.cache/tidewatch, keyed by the requirements file's hash so a change of pins makes a
# new one, and prints its python's path. Needs python3 with venv and PyPI access the first time.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
requirements="$here/requirements.txt"
key="$(sha256sum "$requirements" | cut -c1-12)"
venv="${XDG_CACHE_HOME:-$HOME/.cache}/tidewatch/oip-venv-$key"
if [[ ! -x "$venv/bin/python" || ! -f "$venv/.complete" ]]; then
	rm -rf "$venv"
	python3 -m venv "$venv" >&2
	"$venv/bin/pip" install --quiet --disable-pip-version-check -r "$requirements" >&2
	touch "$venv/.complete"
fi
echo "$venv/bin/python"
