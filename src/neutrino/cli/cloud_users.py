"""The all-in-one's users (``auth_strategy = http_basic``): an admin and two demo users in
two projects, as devstack's ``admin``, ``demo`` and ``alt_demo``.

``neutrino up`` makes them on its first start (random passwords) and keeps them:

- ``<state_path>/credentials.json`` (mode 0600): endpoint and each user's password and
  project; ``neutrino instance`` reads it to act as the admin (the service identity that
  binds ports) and, with ``--project P``, as P's user;
- the users file (``http_basic_auth_user_file``, default ``<state_path>/htpasswd``): their
  bcrypt hashes, added to whatever users the file already has;
- ``<state_path>/clouds.yaml`` (mode 0600): one cloud per user for the ``openstack`` CLI and
  openstacksdk (``auth_type: http_basic``), rewritten on every start (the port may change).
"""

from __future__ import annotations

import json
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from neutrino.api import basic_auth

# (user, project, roles): devstack's names
USERS = (
    ("admin", "admin", ("admin", "member", "reader")),
    ("demo", "demo", ("member", "reader")),
    ("alt_demo", "alt_demo", ("member", "reader")),
)
CREDENTIALS = "credentials.json"
CLOUDS = "clouds.yaml"


@dataclass(frozen=True)
class CloudUsers:
    credentials: Path
    clouds: Path
    users_file: Path


def _write_private(path: Path, text: str) -> None:
    """Atomically, readable by the owner only (the files hold passwords)."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(text)
    os.replace(tmp, path)


def ensure(state_path: str, users_file: str, endpoint: str) -> CloudUsers:
    state = Path(state_path)
    state.mkdir(parents=True, exist_ok=True)
    cred_path = state / CREDENTIALS
    try:
        users = json.loads(cred_path.read_text())["users"]
    except (FileNotFoundError, ValueError, KeyError):
        users = {}
    for name, project, roles in USERS:
        users.setdefault(name, {"password": secrets.token_urlsafe(12), "project": project,
                                "roles": list(roles)})
    # the users file: add ours, keep every other line (an operator's own users). A user is
    # rewritten only if the file lacks the hash we wrote last time (no bcrypt on restarts).
    upath = Path(users_file)
    text = upath.read_text() if upath.exists() else ""
    try:
        have = basic_auth.parse_users(text, str(upath))
    except ValueError:
        have = {}
    added = []
    for name, user in users.items():
        known = have.get(name)
        if known is None or known.password_hash.decode() != user.get("hash"):
            text = "\n".join(line for line in text.splitlines()
                             if line.split(":", 1)[0] != name)
            line = basic_auth.format_user(name, user["password"], user["project"],
                                          user["roles"])
            user["hash"] = line.split(":")[1]
            added.append(line)
    if added or not upath.exists():
        header = "" if text.strip() else "# user:bcrypt-hash:project:roles (neutrino up)\n"
        body = header + (text.rstrip("\n") + "\n" if text.strip() else "")
        upath.parent.mkdir(parents=True, exist_ok=True)
        _write_private(upath, body + "".join(line + "\n" for line in added))
    _write_private(cred_path, json.dumps({"endpoint": endpoint, "users": users}, indent=2))

    lines = ["# neutrino up: export OS_CLIENT_CONFIG_FILE=" + str(state / CLOUDS),
             "# then: openstack --os-cloud demo network list", "clouds:"]
    for name, user in users.items():
        lines += [f"  {name}:", "    auth_type: http_basic", "    auth:",
                  f"      username: {json.dumps(name)}",
                  f"      password: {json.dumps(user['password'])}",
                  f"      endpoint: {endpoint}",
                  f"    network_endpoint_override: {endpoint}"]
    _write_private(state / CLOUDS, "\n".join(lines) + "\n")
    return CloudUsers(cred_path, state / CLOUDS, upath)


def load(path: str) -> dict[str, object] | None:
    """credentials.json of an all-in-one, or None if there is none (or it is unreadable)."""
    try:
        return json.loads(Path(path).read_text())
    except (OSError, ValueError):
        return None
