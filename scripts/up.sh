#!/usr/bin/env bash
# One command from a fresh clone to a running all-in-one neutrino (API on 127.0.0.1:9696,
# embedded SQLite in ./state unless --state-path is given). Arguments go to 'neutrino up'.
set -euo pipefail
cd "$(dirname "$0")/.."
# As root the agents program this host: install the Debian packages they run (nftables,
# dnsmasq, conntrack, ...) first; without root 'neutrino up' runs the control plane only.
[ "$(id -u)" = 0 ] && scripts/system-packages.sh
scripts/bootstrap.sh
state=()
case " $* " in *" --state-path"*|*" --state_path"*) ;; *) state=(--state-path "$PWD/state");; esac
exec .venv/bin/neutrino up "${state[@]}" "$@"
