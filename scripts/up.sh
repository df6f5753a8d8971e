#!/usr/bin/env bash
# One command from a fresh clone to a running all-in-one neutrino (API on 127.0.0.1:9696,
# embedded SQLite in ./state unless --state-path is given). Arguments go to 'neutrino up'.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/bootstrap.sh
state=()
case " $* " in *" --state-path"*|*" --state_path"*) ;; *) state=(--state-path "$PWD/state");; esac
exec .venv/bin/neutrino up "${state[@]}" "$@"
