#!/usr/bin/env bash
# Creates .venv and installs neutrino into it (with test tools when given "test").
# Idempotent: a second run only checks that everything is installed.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
    "$PYTHON" -m venv .venv
    .venv/bin/pip install --quiet --upgrade pip
fi
extras=""
[ "${1:-}" = "test" ] && extras="[test]"
.venv/bin/pip install --quiet --disable-pip-version-check -e ".${extras}"
