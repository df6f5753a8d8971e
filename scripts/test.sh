#!/usr/bin/env bash
# The test command: sets everything up on a fresh machine, then lints and runs the whole
# suite on SQLite, PostgreSQL and MariaDB. Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/system-packages.sh  # first: bootstrap builds mysqlclient against its headers
scripts/bootstrap.sh test
scripts/ensure-services.sh
.venv/bin/ruff check src tests benchmarks
# Every backend must really run here: an unreachable database fails instead of skipping.
export NEUTRINO_TEST_REQUIRE_BACKENDS=1
# ... and so must the data-plane tests when we are root (CI is); elsewhere they skip.
[ "$(id -u)" = 0 ] && export NEUTRINO_TEST_REQUIRE_DATAPLANE=1
exec .venv/bin/python -m pytest tests -q -p no:cacheprovider "$@"
