#!/usr/bin/env bash
# Build the dedicated virtualenv that runs a real Keystone for neutrino's tests.
#
#   tests/support/keystone_env.sh [VENV]
#
# VENV defaults to $NEUTRINO_KEYSTONE_VENV, then /opt/neutrino-keystone-venv.
# Keystone runs from this venv as a separate process, so its dependencies never meet
# neutrino's. Idempotent: a venv built from the same pins (recorded in a stamp file) is
# left alone in milliseconds; otherwise the venv is created or topped up in place (never
# deleted). Concurrent runs serialize on a lock file beside the venv. Safe as root.
#
# Environment:
#   NEUTRINO_KEYSTONE_VENV         where the venv lives (overridden by the argument)
#   NEUTRINO_KEYSTONE_PYTHON       interpreter to build it with (default: the first of
#                                  python3.11 python3.12 python3.13 python3 that is >= 3.11)
#   NEUTRINO_KEYSTONE_CONSTRAINTS  a pip constraints file to use instead of the pins below,
#                                  or "none" to let pip resolve the newest versions
#
# The last line on stdout is the venv's path.
set -euo pipefail

VENV="${1:-${NEUTRINO_KEYSTONE_VENV:-/opt/neutrino-keystone-venv}}"
VENV="${VENV%/}"
STAMP="$VENV/.neutrino-keystone-stamp"

# What gets installed. Keystone 30.0.0 (2025.2) supports Python 3.11-3.13; gunicorn
# serves keystone.wsgi.api:application (pure Python, no compiler needed).
REQUIREMENTS=(keystone==30.0.0 gunicorn==27.0.1)

# Every transitive dependency pinned to a set verified to install from wheels and to run
# (Keystone's own requirements are unpinned; OpenStack pins them with upper-constraints,
# which cannot be fetched here). Refresh: build with NEUTRINO_KEYSTONE_CONSTRAINTS=none,
# run tests/functional/test_keystone_fixture.py, paste `$VENV/bin/pip freeze` here.
read -r -d '' PINS <<'EOF' || true
alembic==1.20.1
amqp==5.4.2
aniso8601==10.0.1
attrs==26.1.0
bcrypt==5.0.0
blinker==1.9.0
cachetools==8.0.1
certifi==2026.10.18
cffi==2.1.1
charset-normalizer==3.5.2
click==8.5.1
cryptography==50.0.2
debtcollector==3.1.0
decorator==5.3.1
defusedxml==0.7.1
dnspython==2.9.2
dogpile.cache==1.5.0
elementpath==4.8.0
eventlet==0.41.3
fasteners==0.20
Flask==3.1.3
Flask-RESTful==0.3.10
futurist==3.5.0
greenlet==3.5.6
gunicorn==27.0.1
idna==3.20
iso8601==2.1.0
itsdangerous==2.2.0
Jinja2==3.1.6
jsonschema==4.26.0
jsonschema-specifications==2025.9.1
keystone==30.0.0
keystoneauth1==5.18.1
keystonemiddleware==13.0.1
kombu==5.7.0
Mako==1.4.3
MarkupSafe==3.0.4
msgpack==1.2.4
netaddr==1.3.0
oauthlib==4.0.1
os-service-types==1.9.0
oslo.cache==4.3.0
oslo.concurrency==7.6.1
oslo.config==10.7.0
oslo.context==6.5.0
oslo.db==18.1.1
oslo.i18n==6.9.0
oslo.log==8.3.2
oslo.messaging==18.3.1
oslo.metrics==0.17.0
oslo.middleware==8.2.0
oslo.policy==6.0.1
oslo.serialization==5.11.0
oslo.service==4.8.0
oslo.upgradecheck==2.8.0
oslo.utils==10.2.0
osprofiler==4.4.0
packaging==26.3
Paste==3.10.1
PasteDeploy==3.1.0
pbr==7.1.3
prettytable==3.18.0
prometheus_client==0.26.0
psutil==7.2.2
pycadf==4.1.0
pycparser==3.12
PyJWT==2.15.1
pyOpenSSL==26.4.0
pyparsing==3.3.3
pysaml2==7.5.5
python-dateutil==4.0.0
python-keystoneclient==6.0.0
pytz==2026.6
PyYAML==6.0.3
referencing==0.37.0
repoze-lru==0.8
requests==2.34.2
rfc3986==2.0.0
Routes==2.5.1
rpds-py==2026.9.1
six==1.17.0
SQLAlchemy==2.1.9
statsd==4.0.1
stevedore==5.10.0
testresources==2.1.2
testscenarios==0.7.0
typing_extensions==4.16.0
tzdata==2026.6
urllib3==2.8.0
vine==5.1.0
wcwidth==0.9.4
WebOb==1.8.11
Werkzeug==3.1.9
wrapt==2.5.2
xmlschema==2.5.1
yappi==1.7.6
EOF

log() { echo "keystone_env: $*" >&2; }

# The caller's virtualenv or PYTHONPATH must not leak into this one.
unset PYTHONPATH PYTHONHOME VIRTUAL_ENV PIP_REQUIRE_VIRTUALENV PIP_USER PIP_TARGET PIP_PREFIX

pick_python() {
    local candidates=()
    if [[ -n "${NEUTRINO_KEYSTONE_PYTHON:-}" ]]; then
        candidates=("$NEUTRINO_KEYSTONE_PYTHON")
    else
        candidates=(python3.11 python3.12 python3.13 python3)
    fi
    local py
    for py in "${candidates[@]}"; do
        command -v "$py" >/dev/null 2>&1 || continue
        if "$py" -c 'import sys, venv; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
            echo "$py"
            return 0
        fi
    done
    log "no Python >= 3.11 with the venv module among: ${candidates[*]}"
    log "(on Debian: apt-get install python3-venv; or set NEUTRINO_KEYSTONE_PYTHON)"
    return 1
}

PY="$(pick_python)"
PY_VERSION="$("$PY" -c 'import sys; print("%d.%d.%d" % sys.version_info[:3])')"

case "${NEUTRINO_KEYSTONE_CONSTRAINTS:-}" in
    "") CONSTRAINTS_TEXT="$PINS" ;;
    none) CONSTRAINTS_TEXT="" ;;
    *) CONSTRAINTS_TEXT="$(cat "$NEUTRINO_KEYSTONE_CONSTRAINTS")" ;;
esac
SPEC="$(printf '%s\n' "python=$PY_VERSION" "${REQUIREMENTS[@]}" "$CONSTRAINTS_TEXT" \
        | sha256sum | cut -d' ' -f1)"

ready() {
    [[ -f "$STAMP" && "$(cat "$STAMP")" == "$SPEC" && -x "$VENV/bin/keystone-manage" \
       && -x "$VENV/bin/gunicorn" ]]
}

if ready; then
    echo "$VENV"
    exit 0
fi

mkdir -p "$(dirname "$VENV")"
LOCK="$VENV.lock"
if command -v flock >/dev/null 2>&1; then
    exec 9>"$LOCK"
    flock 9
    if ready; then  # another run finished it while this one waited
        echo "$VENV"
        exit 0
    fi
fi

log "building $VENV with $PY ($PY_VERSION)"
if [[ ! -x "$VENV/bin/python" ]]; then
    "$PY" -m venv "$VENV"
fi
rm -f "$STAMP"

pip_args=(--disable-pip-version-check --no-input --quiet)
if [[ -n "$CONSTRAINTS_TEXT" ]]; then
    printf '%s\n' "$CONSTRAINTS_TEXT" > "$VENV/neutrino-constraints.txt"
    pip_args+=(--constraint "$VENV/neutrino-constraints.txt")
fi
# Only wheels for the compiled dependencies: a missing wheel is a clear error here rather
# than a half-hour source build; pure-Python sdists are still allowed.
"$VENV/bin/python" -m pip install "${pip_args[@]}" \
    --only-binary=cryptography,bcrypt,cffi,greenlet,psutil,PyYAML,rpds-py,wrapt,msgpack,yappi \
    "${REQUIREMENTS[@]}"

"$VENV/bin/python" -W ignore -c 'import keystone.server.wsgi, gunicorn' >/dev/null
echo "$SPEC" > "$STAMP"
log "built $VENV in ${SECONDS}s"
echo "$VENV"
