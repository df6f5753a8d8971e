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
extras=()
[ "${1:-}" = "test" ] && extras+=(test)
# mysqlclient (the fast MariaDB driver) builds only against the client library's headers
# (scripts/system-packages.sh installs them); without them mysql:// URLs use PyMySQL.
if command -v cc >/dev/null && { pkg-config --exists libmariadb 2>/dev/null ||
        pkg-config --exists mysqlclient 2>/dev/null; }; then
    extras+=(mysql)
fi
spec="."
[ ${#extras[@]} -gt 0 ] && spec=".[$(IFS=,; echo "${extras[*]}")]"
# The editable install picks up source changes by itself; only a change of pyproject.toml
# (dependencies, entry points) or of the extras needs pip again, so a second start is instant.
stamp=".venv/.neutrino-installed"
want="$(sha256sum pyproject.toml | cut -d' ' -f1) $spec"
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
    .venv/bin/pip install --quiet --disable-pip-version-check -e "$spec"
    echo "$want" > "$stamp"
fi
