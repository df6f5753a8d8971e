"""``auth_strategy = http_basic``: users with passwords, projects and roles, no Keystone.

As Neutron's ``http_basic`` (``[DEFAULT] http_basic_auth_user_file``), the users live in an
htpasswd file with bcrypt hashes (``htpasswd -B``, or :func:`hash_password`). Each line may
carry two more columns, which plain htpasswd files leave out::

    # user:bcrypt-hash[:project[:role,role...]]
    admin:$2b$12$...:admin:admin,member,reader
    alice:$2b$12$...:alice
    bob:$2b$12$...                      # project bob, roles member,reader

The project defaults to the user's name and the roles to ``member,reader``, so an htpasswd
file made for Neutron works unchanged. bcrypt hashes never contain ``:``.

Clients speak it natively: openstacksdk and the ``openstack`` CLI with ``auth_type:
http_basic`` (keystoneauth's HTTPBasicAuth) send ``Authorization: Basic ...`` on every
request. The file is re-read when it changes, so users can be added to a running server.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import logging
import os
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import bcrypt

from neutrino.api import limits

LOG = logging.getLogger(__name__)
DEFAULT_ROLES = ("member", "reader")
# identity headers a client could send itself: only this middleware may set them
_IDENTITY_KEYS = ("HTTP_X_USER_ID", "HTTP_X_USER", "HTTP_X_USER_NAME", "HTTP_X_PROJECT_ID",
                  "HTTP_X_TENANT_ID", "HTTP_X_ROLES", "HTTP_X_ROLE",
                  "HTTP_OPENSTACK_SYSTEM_SCOPE", "HTTP_X_IDENTITY_STATUS")


@dataclass(frozen=True)
class User:
    name: str
    password_hash: bytes
    project: str
    roles: tuple[str, ...]


def hash_password(password: str, rounds: int = 12) -> str:
    return bcrypt.hashpw(password.encode(), bcrypt.gensalt(rounds)).decode()


def format_user(name: str, password: str, project: str | None = None,
                roles: Iterable[str] = DEFAULT_ROLES, rounds: int = 12) -> str:
    """One line of a users file."""
    return f"{name}:{hash_password(password, rounds)}:{project or name}:{','.join(roles)}"


def parse_users(text: str, source: str = "users file") -> dict[str, User]:
    users: dict[str, User] = {}
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        fields = line.split(":")
        if len(fields) < 2 or len(fields) > 4 or not fields[0] or \
                not fields[1].startswith("$2"):
            raise ValueError(f"{source} line {number}: expected "
                             "user:bcrypt-hash[:project[:roles]]")
        name, hashed = fields[0], fields[1]
        project = fields[2] if len(fields) > 2 and fields[2] else name
        roles = tuple(r.strip().lower() for r in fields[3].split(",") if r.strip()) \
            if len(fields) > 3 else ()
        users[name] = User(name, hashed.encode(), project, roles or DEFAULT_ROLES)
    return users


class UsersFile:
    """The users file, re-read when its modification time or size changes. Verified
    passwords are remembered (as a salted digest, per process) so that only a user's first
    request pays bcrypt's deliberate cost, not every API call."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._stamp: tuple[int, int] | None = None
        self._users: dict[str, User] = {}
        self._verified: dict[tuple[str, bytes], bytes] = {}
        self._salt = os.urandom(16)
        # guards the in-memory cache only (not data in the database)
        self._lock = threading.Lock()

    def _current(self) -> dict[str, User]:
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            LOG.error("http_basic users file %s does not exist: every request is refused",
                      self.path)
            return {}
        stamp = (st.st_mtime_ns, st.st_size)
        with self._lock:
            if stamp != self._stamp:
                with open(self.path, encoding="utf-8") as f:
                    self._users = parse_users(f.read(), self.path)
                self._verified.clear()
                self._stamp = stamp
            return self._users

    def authenticate(self, name: str, password: str) -> User | None:
        user = self._current().get(name)
        if user is None:
            return None
        digest = hashlib.sha256(self._salt + password.encode()).digest()
        key = (name, user.password_hash)
        with self._lock:
            known = self._verified.get(key)
        if known is not None:
            return user if hmac.compare_digest(known, digest) else None
        try:
            ok = bcrypt.checkpw(password.encode(), user.password_hash)
        except ValueError:  # a malformed hash in the file
            LOG.error("http_basic: user %s has an invalid password hash", name)
            return None
        if not ok:
            return None
        with self._lock:
            self._verified[key] = digest
        return user


def credentials(environ: dict[str, Any]) -> tuple[str, str] | None:
    scheme, _, encoded = (environ.get("HTTP_AUTHORIZATION") or "").partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None
    name, sep, password = decoded.partition(":")
    return (name, password) if sep else None


def wrap(app: Callable[..., Iterable[bytes]], path: str) -> Callable[..., Iterable[bytes]]:
    """Authenticate /v2.0 requests against the users file; the identity goes on in the
    X-User-Id / X-Project-Id / X-Roles keys (as keystonemiddleware's), which a client can
    not set itself. No or wrong credentials: 401 NeutronError with a Basic challenge."""
    users = UsersFile(path)

    def authenticate(environ: dict[str, Any], start_response: Callable[..., Any]
                     ) -> Iterable[bytes]:
        if environ.get("PATH_INFO", "/") in ("", "/"):
            return app(environ, start_response)
        for key in _IDENTITY_KEYS:
            environ.pop(key, None)
        given = credentials(environ)
        user = users.authenticate(*given) if given else None
        if user is None:
            status, headers, body = limits.error_response(
                401, "HTTPUnauthorized", "The request you have made requires authentication.")
            headers.append(("WWW-Authenticate", 'Basic realm="neutrino"'))
            start_response(status, headers)
            return [body]
        environ["HTTP_X_USER_ID"] = user.name
        environ["HTTP_X_PROJECT_ID"] = user.project
        environ["HTTP_X_ROLES"] = ",".join(user.roles)
        return app(environ, start_response)

    return authenticate
