"""A real Keystone for tests: its own venv, its own process, on a loopback port.

Keystone runs from a dedicated virtualenv built by ``keystone_env.sh`` (beside this file),
never from neutrino's: its dependency pins cannot clash with ours. It is served by gunicorn
on 127.0.0.1, stores everything (SQLite database, fernet and credential keys) in a work
directory, and is reached over HTTP like any client would::

    with Keystone(workdir, venv=ensure_venv()) as ks:
        ks.create_accounts(network_url="http://127.0.0.1:9696")
        token = ks.token_for("alice", ALICE.password, PROJECT_A)
        ks.validate_token(token)["project"]["name"]   # "project-a"

The accounts (``ACCOUNTS``) are:

=========  ===========  =====================  ==========================================
user       project      roles                  purpose
=========  ===========  =====================  ==========================================
alice      project-a    member, reader         an ordinary project member
bob        project-b    member                 a member of another project
carol      project-a    reader                 read-only in alice's project
admin      admin        admin                  the bootstrap cloud admin (also system admin)
neutron    service      service                keystonemiddleware's own service user
=========  ===========  =====================  ==========================================

``member`` implies ``reader`` (and ``admin`` implies ``manager`` implies ``member``): tokens
list implied roles too, so bob's token carries ``member`` and ``reader``.
"""

from __future__ import annotations

import grp
import http.client
import json
import os
import pwd
import subprocess
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from tests.support.process import stop_group, wait_answering
from tests.support.server import free_port, write_config

ENV_SCRIPT = Path(__file__).with_name("keystone_env.sh")
DEFAULT_VENV = Path("/opt/neutrino-keystone-venv")
DOMAIN = "Default"
DOMAIN_ID = "default"
REGION = "RegionOne"
PROJECT_A = "project-a"
PROJECT_B = "project-b"
ADMIN_PROJECT = "admin"
SERVICE_PROJECT = "service"
HTTP_TIMEOUT = 60

# Keystone parses sys.argv with oslo.config when it initializes, so it must not see
# gunicorn's command line: this module (written to the work directory) hides it.
WSGI_MODULE = "neutrino_keystone_wsgi"
WSGI_SOURCE = """\
import sys

sys.argv = sys.argv[:1]

from keystone.server.wsgi import initialize_public_application  # noqa: E402

application = initialize_public_application()
"""

# keystone-manage's own entry point, called once per command in a single process.
MANAGE_SOURCE = """\
import json
import sys

from keystone.cmd import cli
from keystone.conf import CONF

for argv in json.loads(sys.argv[1]):
    cli.main(argv=argv)
    CONF.reset()
    CONF.clear()
"""


@dataclass(frozen=True)
class Account:
    """A Keystone user, the project its tokens are scoped to and its roles there."""

    name: str
    password: str
    project: str
    roles: tuple[str, ...]


ALICE = Account("alice", "alice-password", PROJECT_A, ("member", "reader"))
BOB = Account("bob", "bob-password", PROJECT_B, ("member",))
CAROL = Account("carol", "carol-password", PROJECT_A, ("reader",))
ADMIN = Account("admin", "admin-password", ADMIN_PROJECT, ("admin",))
SERVICE = Account("neutron", "neutron-password", SERVICE_PROJECT, ("service",))
ACCOUNTS: dict[str, Account] = {a.name: a for a in (ALICE, BOB, CAROL, ADMIN, SERVICE)}


class KeystoneUnavailable(RuntimeError):
    """The Keystone venv is missing and could not be built."""


class KeystoneError(RuntimeError):
    """Keystone answered an API request with an unexpected status."""

    def __init__(self, method: str, path: str, status: int, body: Any) -> None:
        super().__init__(f"{method} {path} -> {status}: {body}")
        self.status = status
        self.body = body


@dataclass(frozen=True)
class Response:
    status: int
    headers: dict[str, str]  # names lower-cased
    body: Any  # decoded JSON, the text of any other body, or None


def keystone_venv() -> Path:
    """Where the Keystone venv lives: $NEUTRINO_KEYSTONE_VENV, else /opt/neutrino-keystone-venv
    when it exists or /opt is writable, else a per-user cache directory."""
    if env := os.environ.get("NEUTRINO_KEYSTONE_VENV"):
        return Path(env)
    if DEFAULT_VENV.exists() or os.access(DEFAULT_VENV.parent, os.W_OK):
        return DEFAULT_VENV
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return cache / "neutrino" / "keystone-venv"


def _clean_env(venv: Path | None = None) -> dict[str, str]:
    """The environment minus anything pointing Python at neutrino's own venv."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV", "PYTHONSTARTUP")}
    if venv is not None:
        env["PATH"] = f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}"
        env["VIRTUAL_ENV"] = str(venv)
    env["PYTHONWARNINGS"] = "ignore"  # eventlet & co. deprecation noise in every log
    return env


def ensure_venv(venv: Path | None = None, *, timeout: float = 1200) -> Path:
    """Build the Keystone venv if needed (a no-op taking ~0.3 s when it is up to date) and
    return its path. Raises KeystoneUnavailable with the script's output if it fails."""
    venv = venv or keystone_venv()
    try:
        proc = subprocess.run(
            ["bash", str(ENV_SCRIPT), str(venv)], capture_output=True, text=True,
            timeout=timeout, env=_clean_env(), stdin=subprocess.DEVNULL,
        )
    except (OSError, subprocess.TimeoutExpired) as e:
        raise KeystoneUnavailable(f"{ENV_SCRIPT.name} {venv}: {e}") from e
    if proc.returncode != 0:
        output = "\n".join(
            line for line in (proc.stdout + proc.stderr).splitlines()
            if "is ignored: it is neither a file nor a directory" not in line
        )
        raise KeystoneUnavailable(
            f"{ENV_SCRIPT.name} {venv} exited {proc.returncode}:\n{output[-3000:]}")
    return venv


class Keystone:
    """One Keystone server: configuration, database and keys under ``workdir``.

    ``start()`` (or ``with``) writes keystone.conf, runs keystone-manage db_sync,
    fernet_setup, credential_setup and bootstrap, then serves the API with gunicorn on
    127.0.0.1:``port``. ``timings`` records how long each step took, in seconds.
    """

    def __init__(self, workdir: Path, *, venv: Path | None = None, port: int | None = None,
                 admin_password: str = ADMIN.password, threads: int = 4) -> None:
        self.workdir = Path(workdir)
        self.venv = Path(venv) if venv is not None else keystone_venv()
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.auth_url = f"{self.url}/v3"
        self.admin_password = admin_password
        self.threads = threads
        self.config_file = self.workdir / "keystone.conf"
        self.log_path = self.workdir / "keystone.log"
        self.timings: dict[str, float] = {}
        self.proc: subprocess.Popen[bytes] | None = None
        self._set_up = False
        self._admin_token: tuple[str, float] | None = None
        self._ids: dict[tuple[str, str], str] = {}

    # -- lifecycle ---------------------------------------------------------------------

    def setup(self) -> None:
        """Write keystone.conf and initialize the database and key repositories."""
        self.workdir.mkdir(parents=True, exist_ok=True)
        write_config(self.config_file, {
            "DEFAULT": {"debug": "false", "use_stderr": "false"},
            "database": {"connection": f"sqlite:///{self.workdir / 'keystone.db'}"},
            "token": {"provider": "fernet", "expiration": 7200},
            "fernet_tokens": {"key_repository": self.workdir / "fernet-keys",
                              "max_active_keys": 3},
            "fernet_receipts": {"key_repository": self.workdir / "fernet-receipts",
                                "max_active_keys": 3},
            "credential": {"provider": "fernet",
                           "key_repository": self.workdir / "credential-keys"},
            "identity": {"driver": "sql",
                         # bcrypt's minimum cost: a password check takes ~1 ms, not ~200.
                         "password_hash_algorithm": "bcrypt", "password_hash_rounds": 4},
            "assignment": {"driver": "sql"},
            "resource": {"driver": "sql"},
            "catalog": {"driver": "sql"},
            # Keystone's in-process cache: validating a token uncached takes ~150 ms
            # here, cached ~10 ms. Safe with one worker process: every write goes through
            # it and invalidates what it changes.
            "cache": {"enabled": "true", "backend": "oslo_cache.dict", "expiration_time": 600},
            # The modern secure-RBAC defaults, as a current deployment runs them.
            "oslo_policy": {"enforce_scope": "true", "enforce_new_defaults": "true"},
        })
        user = pwd.getpwuid(os.geteuid()).pw_name
        group = grp.getgrgid(os.getegid()).gr_name
        owner = ["--keystone-user", user, "--keystone-group", group]
        self._manage(
            ["db_sync"],
            ["fernet_setup", *owner],
            ["credential_setup", *owner],
            ["bootstrap",
             "--bootstrap-password", self.admin_password,
             "--bootstrap-username", ADMIN.name,
             "--bootstrap-project-name", ADMIN_PROJECT,
             "--bootstrap-role-name", "admin",
             "--bootstrap-service-name", "keystone",
             "--bootstrap-admin-url", self.auth_url,
             "--bootstrap-internal-url", self.auth_url,
             "--bootstrap-public-url", self.auth_url,
             "--bootstrap-region-id", REGION],
        )
        (self.workdir / f"{WSGI_MODULE}.py").write_text(WSGI_SOURCE)
        self._set_up = True

    def _manage(self, *commands: list[str]) -> None:
        """Run keystone-manage ``commands`` in order. All in one Python process (Keystone
        takes ~2.5 s to import: one process saves ~7 s), falling back to one
        keystone-manage process per command if that fails."""
        started = time.monotonic()
        argv = [["keystone-manage", "--config-file", str(self.config_file), *c]
                for c in commands]
        proc = self._run_in_venv(
            [str(self.venv / "bin" / "python"), "-c", MANAGE_SOURCE, json.dumps(argv)],
            "keystone-manage " + ", ".join(c[0] for c in commands))
        if proc.returncode == 0:
            self.timings["keystone_manage"] = time.monotonic() - started
            return
        for command in commands:  # each is idempotent: rerunning a finished one is fine
            proc = self._run_in_venv(
                [str(self.venv / "bin" / "keystone-manage"), "--config-file",
                 str(self.config_file), *command], f"keystone-manage {command[0]}")
            if proc.returncode != 0:
                raise RuntimeError(
                    f"keystone-manage {command[0]} exited {proc.returncode}:\n"
                    f"{(proc.stdout + proc.stderr)[-4000:]}")
        self.timings["keystone_manage"] = time.monotonic() - started

    def _run_in_venv(self, cmd: list[str], title: str) -> subprocess.CompletedProcess[str]:
        proc = subprocess.run(
            cmd, capture_output=True, text=True, timeout=300, env=_clean_env(self.venv),
            stdin=subprocess.DEVNULL, cwd=self.workdir,
        )
        with (self.workdir / "keystone-manage.log").open("a") as log:
            log.write(f"$ {title} (exit {proc.returncode})\n{proc.stdout}{proc.stderr}\n")
        return proc

    def start(self, timeout: float = 60) -> Keystone:
        if not (self.venv / "bin" / "gunicorn").exists():
            raise KeystoneUnavailable(f"no Keystone venv at {self.venv} (see ensure_venv())")
        if not self._set_up:
            self.setup()
        started = time.monotonic()
        env = _clean_env(self.venv)
        env["OS_KEYSTONE_CONFIG_FILES"] = str(self.config_file)
        log = self.log_path.open("ab")
        self.proc = subprocess.Popen(
            [str(self.venv / "bin" / "gunicorn"),
             "--bind", f"127.0.0.1:{self.port}",
             "--workers", "1", "--worker-class", "gthread", "--threads", str(self.threads),
             "--timeout", "120", "--graceful-timeout", "5",
             "--access-logfile", "-", "--error-logfile", "-", "--no-control-socket",
             "--chdir", str(self.workdir), "--pythonpath", str(self.workdir),
             f"{WSGI_MODULE}:application"],
            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env,
            start_new_session=True,
        )
        log.close()
        def worker_alive() -> None:
            if "exited with code" in self.log():  # gunicorn would restart it forever
                self.stop()
                raise RuntimeError(f"keystone's worker died:\n{self.log()[-4000:]}")

        wait_answering(self.proc, lambda: self.request("GET", "/v3").status == 200,
                       "keystone", timeout, self.log, worker_alive)
        self.timings["server_start"] = time.monotonic() - started
        return self

    def stop(self) -> None:
        """Stop the gunicorn master and its worker (the process group it leads)."""
        stop_group(self.proc)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def __enter__(self) -> Keystone:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- HTTP --------------------------------------------------------------------------

    def request(self, method: str, path: str, body: Any = None, *, token: str | None = None,
                headers: Mapping[str, str] | None = None) -> Response:
        """One request to the API (``path`` starts with /v3); never raises on status."""
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=HTTP_TIMEOUT)
        try:
            hdrs = {"Accept": "application/json", **(headers or {})}
            data = None
            if body is not None:
                data = json.dumps(body).encode()
                hdrs["Content-Type"] = "application/json"
            if token is not None:
                hdrs["X-Auth-Token"] = token
            conn.request(method, path, body=data, headers=hdrs)
            resp = conn.getresponse()
            payload = resp.read()
            decoded = None
            if payload and "json" in (resp.getheader("Content-Type") or ""):
                decoded = json.loads(payload)
            elif payload:
                decoded = payload.decode(errors="replace")
            return Response(resp.status, {k.lower(): v for k, v in resp.getheaders()},
                            decoded)
        finally:
            conn.close()

    def _admin(self, method: str, path: str, body: Any = None,
               expect: Iterable[int] = (200, 201, 204)) -> Any:
        resp = self.request(method, path, body, token=self.admin_token())
        if resp.status == 401:  # expired or revoked: once more with a fresh token
            self._admin_token = None
            resp = self.request(method, path, body, token=self.admin_token())
        if resp.status not in tuple(expect):
            raise KeystoneError(method, path, resp.status, resp.body)
        return resp.body

    # -- tokens ------------------------------------------------------------------------

    def authenticate(self, user: str, password: str, *, project: str | None = None,
                     system: bool = False, domain: str = DOMAIN) -> tuple[str, dict[str, Any]]:
        """Password authentication; returns (token id, token body). Scoped to ``project``
        (in ``domain``), to the whole system with ``system=True``, else unscoped."""
        auth: dict[str, Any] = {"identity": {"methods": ["password"], "password": {
            "user": {"name": user, "domain": {"name": domain}, "password": password}}}}
        if project is not None:
            auth["scope"] = {"project": {"name": project, "domain": {"name": domain}}}
        elif system:
            auth["scope"] = {"system": {"all": True}}
        resp = self.request("POST", "/v3/auth/tokens", {"auth": auth})
        if resp.status != 201:
            raise KeystoneError("POST", f"/v3/auth/tokens ({user})", resp.status, resp.body)
        return resp.headers["x-subject-token"], resp.body["token"]

    def token_for(self, user: str, password: str, project: str, *,
                  domain: str = DOMAIN) -> str:
        """A project-scoped token (the X-Subject-Token of POST /v3/auth/tokens)."""
        return self.authenticate(user, password, project=project, domain=domain)[0]

    def token(self, account: Account | str) -> str:
        """A token for one of ``ACCOUNTS`` (or any Account), scoped to its project."""
        acct = ACCOUNTS[account] if isinstance(account, str) else account
        password = self.admin_password if acct.name == ADMIN.name else acct.password
        return self.token_for(acct.name, password, acct.project)

    def admin_token(self) -> str:
        """A system-scoped token of the bootstrap admin (what the admin APIs require under
        enforce_scope), reused for half an hour."""
        if self._admin_token is None or time.monotonic() - self._admin_token[1] > 1800:
            token, _ = self.authenticate(ADMIN.name, self.admin_password, system=True)
            self._admin_token = (token, time.monotonic())
        return self._admin_token[0]

    def validate_token(self, subject_token: str, *, auth_token: str | None = None
                       ) -> dict[str, Any]:
        """GET /v3/auth/tokens, as keystonemiddleware does; returns the "token" body.
        Validates with ``auth_token`` (default: the admin's system token)."""
        resp = self.request("GET", "/v3/auth/tokens", token=auth_token or self.admin_token(),
                            headers={"X-Subject-Token": subject_token})
        if resp.status != 200:
            raise KeystoneError("GET", "/v3/auth/tokens", resp.status, resp.body)
        return resp.body["token"]

    # -- resources ---------------------------------------------------------------------

    def _find(self, collection: str, **query: str) -> str | None:
        body = self._admin("GET", f"/v3/{collection}?{urlencode(query)}")
        items = body[collection]
        return items[0]["id"] if items else None

    def _ensure(self, kind: str, name: str, collection: str, query: dict[str, str],
                create: dict[str, Any]) -> str:
        if (kind, name) not in self._ids:
            found = self._find(collection, **query)
            if found is None:
                body = self._admin("POST", f"/v3/{collection}", {kind: create})
                found = body[kind]["id"]
            self._ids[kind, name] = found
        return self._ids[kind, name]

    def ensure_project(self, name: str, *, description: str = "") -> str:
        """The id of project ``name`` in the Default domain, created if missing."""
        return self._ensure("project", name, "projects",
                            {"name": name, "domain_id": DOMAIN_ID},
                            {"name": name, "domain_id": DOMAIN_ID, "enabled": True,
                             "description": description or f"neutrino test project {name}"})

    def ensure_role(self, name: str) -> str:
        return self._ensure("role", name, "roles", {"name": name}, {"name": name})

    def ensure_user(self, name: str, password: str, *, default_project: str | None = None
                    ) -> str:
        """The id of user ``name`` in the Default domain, created if missing; an existing
        user gets ``password`` set."""
        user_id = self._ids.get(("user", name)) or self._find(
            "users", name=name, domain_id=DOMAIN_ID)
        if user_id is None:
            create: dict[str, Any] = {"name": name, "domain_id": DOMAIN_ID, "enabled": True,
                                      "password": password}
            if default_project:
                create["default_project_id"] = self.ensure_project(default_project)
            user_id = self._admin("POST", "/v3/users", {"user": create})["user"]["id"]
        else:
            self._admin("PATCH", f"/v3/users/{user_id}", {"user": {"password": password}})
        self._ids["user", name] = user_id
        return user_id

    def grant(self, user: str, project: str, role: str) -> None:
        """Give ``user`` ``role`` on ``project`` (all by name; the user must exist)."""
        user_id = self._ids.get(("user", user)) or self._find(
            "users", name=user, domain_id=DOMAIN_ID)
        if user_id is None:
            raise KeyError(f"no Keystone user {user!r}")
        self._admin("PUT", f"/v3/projects/{self.ensure_project(project)}/users/{user_id}"
                           f"/roles/{self.ensure_role(role)}")

    def ensure_account(self, account: Account) -> str:
        if account.name == ADMIN.name:  # made by bootstrap, with the bootstrap password
            user_id = self._find("users", name=ADMIN.name, domain_id=DOMAIN_ID)
            assert user_id is not None
            self._ids["user", ADMIN.name] = user_id
        else:
            user_id = self.ensure_user(account.name, account.password,
                                       default_project=account.project)
        for role in account.roles:
            self.grant(account.name, account.project, role)
        return user_id

    def register_endpoint(self, service_type: str, name: str, url: str) -> str:
        """Put ``url`` in the catalog as the public, internal and admin endpoint of the
        ``service_type`` service in RegionOne (created, or updated if the URL changed)."""
        service_id = self._ensure("service", service_type, "services", {"type": service_type},
                                  {"type": service_type, "name": name, "enabled": True})
        existing = self._admin("GET", f"/v3/endpoints?service_id={service_id}")["endpoints"]
        by_interface = {e["interface"]: e for e in existing}
        for interface in ("public", "internal", "admin"):
            endpoint = by_interface.get(interface)
            if endpoint is None:
                self._admin("POST", "/v3/endpoints", {"endpoint": {
                    "service_id": service_id, "interface": interface, "url": url,
                    "region_id": REGION, "enabled": True}})
            elif endpoint["url"] != url:
                self._admin("PATCH", f"/v3/endpoints/{endpoint['id']}",
                            {"endpoint": {"url": url}})
        return service_id

    def register_network_endpoint(self, url: str) -> str:
        """Point the catalog's ``network`` service (named neutron) at ``url``, e.g. a
        neutrino server's http://127.0.0.1:PORT, so clients find it through the catalog."""
        return self.register_endpoint("network", "neutron", url)

    def create_accounts(self, accounts: Iterable[Account] = ACCOUNTS.values(), *,
                        network_url: str | None = None) -> dict[str, Account]:
        """Create the test projects, users and role assignments (idempotent) and, given
        ``network_url``, the network endpoint. Returns the accounts by user name."""
        started = time.monotonic()
        accounts = list(accounts)
        for account in accounts:
            self.ensure_account(account)
        if network_url is not None:
            self.register_network_endpoint(network_url)
        self.timings["create_accounts"] = time.monotonic() - started
        return {a.name: a for a in accounts}

    # -- configuration for clients -----------------------------------------------------

    def authtoken_config(self, account: Account = SERVICE, **overrides: str
                         ) -> dict[str, str]:
        """neutrino's ``[keystone_authtoken]`` section for keystonemiddleware's auth_token:
        the password plugin authenticating as the ``neutron`` service user. No
        memcached_servers: tokens are cached in process memory."""
        conf = {
            "www_authenticate_uri": self.auth_url,
            "auth_url": self.auth_url,
            "auth_type": "password",
            "username": account.name,
            "password": account.password,
            "user_domain_name": DOMAIN,
            "project_name": account.project,
            "project_domain_name": DOMAIN,
            "region_name": REGION,
            # bootstrap registers identity on all three interfaces; name one explicitly
            # (keystonemiddleware's default is "internal").
            "interface": "public",
        }
        conf.update(overrides)
        return conf

    def openstack_env(self, account: Account | str) -> dict[str, str]:
        """OS_* variables for the openstack CLI / openstacksdk as ``account``."""
        acct = ACCOUNTS[account] if isinstance(account, str) else account
        return {
            "OS_AUTH_URL": self.auth_url,
            "OS_AUTH_TYPE": "password",
            "OS_IDENTITY_API_VERSION": "3",
            "OS_USERNAME": acct.name,
            "OS_PASSWORD": self.admin_password if acct.name == ADMIN.name else acct.password,
            "OS_PROJECT_NAME": acct.project,
            "OS_USER_DOMAIN_NAME": DOMAIN,
            "OS_PROJECT_DOMAIN_NAME": DOMAIN,
            "OS_REGION_NAME": REGION,
            "OS_INTERFACE": "public",
        }
