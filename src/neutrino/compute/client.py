"""A small Neutron v2.0 API client on http.client: what the compute side needs, nothing more.

Authentication is noauth's headers (X-Project-Id / X-Roles) or a Keystone token
(X-Auth-Token); binding a port to a host is an admin operation, so the default identity is
the admin role, as Nova's service user has.
"""

from __future__ import annotations

import base64
import copy
import http.client
import json
import time
from typing import Any
from urllib.parse import urlencode, urlsplit

DEFAULT_URL = "http://127.0.0.1:9696"


class ApiError(Exception):
    """The API answered with an error status; carries Neutron's error type and message."""

    def __init__(self, status: int, body: Any, method: str, path: str) -> None:
        self.status = status
        self.body = body
        err = body.get("NeutronError") if isinstance(body, dict) else None
        self.type = err.get("type") if isinstance(err, dict) else None
        self.message = err.get("message") if isinstance(err, dict) else str(body)
        super().__init__(f"{method} {path}: HTTP {status}"
                         + (f" {self.type}" if self.type else "") + f": {self.message}")


def _basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


class NeutronClient:
    def __init__(self, url: str = DEFAULT_URL, *, token: str | None = None,
                 project_id: str | None = None, roles: str = "admin",
                 timeout: float = 30.0, basic: tuple[str, str] | None = None,
                 project_users: dict[str, tuple[str, str]] | None = None) -> None:
        """``basic``: (user, password) for auth_strategy = http_basic; ``project_users``:
        project -> (user, password), whom ``as_member`` acts as under http_basic."""
        parts = urlsplit(url if "://" in url else f"http://{url}")
        if parts.scheme not in ("http", "https"):
            raise ValueError(f"API URL must be http(s): {url!r}")
        self.scheme = parts.scheme
        self.host = parts.hostname or "127.0.0.1"
        self.port = parts.port or (443 if parts.scheme == "https" else 9696)
        prefix = parts.path.rstrip("/")
        self.prefix = prefix if prefix.endswith("/v2.0") else prefix + "/v2.0"
        self.timeout = timeout
        self.token = token
        self.headers = {"Content-Type": "application/json", "Accept": "application/json"}
        self.project_users = project_users or {}
        if token:
            self.headers["X-Auth-Token"] = token
        elif basic:
            self.headers["Authorization"] = _basic(*basic)
        else:
            if project_id:
                self.headers["X-Project-Id"] = project_id
            self.headers["X-Roles"] = roles
        self.url = f"{self.scheme}://{self.host}:{self.port}{self.prefix}"

    def as_member(self, project_id: str) -> NeutronClient:
        """The same endpoint acting as a member of ``project_id`` (noauth headers), as a
        tenant's own token would: what it may not see or use, it gets 404/403 for."""
        other = copy.copy(self)
        if "Authorization" in self.headers:  # http_basic: that project's own user
            if project_id not in self.project_users:
                raise ValueError(f"no user of project {project_id} is known "
                                 "(neutrino up's credentials.json)")
            # the noauth headers too, in case the server is noauth after all; under
            # http_basic the server discards them (a client can not set its identity)
            other.headers = {**self.headers, "X-Project-Id": project_id, "X-Roles": "member",
                             "Authorization": _basic(*self.project_users[project_id])}
            return other
        other.headers = {**self.headers, "X-Project-Id": project_id, "X-Roles": "member"}
        other.headers.pop("X-Auth-Token", None)
        return other

    def update_port(self, port_id: str, **attrs: Any) -> dict[str, Any]:
        return self.request("PUT", f"/ports/{port_id}", {"port": attrs})["port"]

    def request(self, method: str, path: str, body: Any = None,
                params: dict[str, Any] | None = None, *, ok: tuple[int, ...] = ()) -> Any:
        """``method`` on ``prefix + path``; the decoded JSON body (None if empty).
        ApiError for any status >= 400 not in ``ok``."""
        full = self.prefix + path
        if params:
            full += "?" + urlencode(params, doseq=True)
        cls = (http.client.HTTPSConnection if self.scheme == "https"
               else http.client.HTTPConnection)
        conn = cls(self.host, self.port, timeout=self.timeout)
        try:
            data = json.dumps(body).encode() if body is not None else None
            conn.request(method, full, body=data, headers=self.headers)
            resp = conn.getresponse()
            payload = resp.read()
        finally:
            conn.close()
        decoded = None
        if payload:
            try:
                decoded = json.loads(payload)
            except ValueError:
                decoded = payload.decode(errors="replace")
        if resp.status >= 400 and resp.status not in ok:
            raise ApiError(resp.status, decoded, method, full)
        return decoded

    # --- resources ----------------------------------------------------------------------------
    def _find(self, collection: str, singular: str, ref: str) -> dict[str, Any]:
        """By id, else by unique name."""
        try:
            return self.request("GET", f"/{collection}/{ref}")[singular]
        except ApiError as e:
            if e.status != 404:
                raise
        found = self.request("GET", f"/{collection}", params={"name": ref})[collection]
        if len(found) == 1:
            return found[0]
        if not found:
            raise ApiError(404, {"NeutronError": {"type": f"{singular.title()}NotFound",
                                                  "message": f"{singular} {ref} not found"}},
                           "GET", f"/{collection}/{ref}")
        raise ValueError(f"{len(found)} {collection} are named {ref!r}: use an id")

    def find_network(self, ref: str) -> dict[str, Any]:
        return self._find("networks", "network", ref)

    def show_subnet(self, subnet_id: str) -> dict[str, Any]:
        return self.request("GET", f"/subnets/{subnet_id}")["subnet"]

    def create_port(self, **attrs: Any) -> dict[str, Any]:
        return self.request("POST", "/ports", {"port": attrs})["port"]

    def show_port(self, port_id: str) -> dict[str, Any]:
        return self.request("GET", f"/ports/{port_id}")["port"]

    def list_ports(self, **filters: Any) -> list[dict[str, Any]]:
        return self.request("GET", "/ports", params=filters)["ports"]

    def delete_port(self, port_id: str) -> bool:
        """True if it existed."""
        try:
            self.request("DELETE", f"/ports/{port_id}")
        except ApiError as e:
            if e.status == 404:
                return False
            raise
        return True

    def wait_port(self, port_id: str, predicate: Any, timeout: float,
                  interval: float = 0.1) -> dict[str, Any]:
        """Poll the port until ``predicate(port)`` is true; TimeoutError with the last
        seen port otherwise."""
        deadline = time.monotonic() + timeout
        while True:
            port = self.show_port(port_id)
            if predicate(port):
                return port
            if time.monotonic() >= deadline:
                raise TimeoutError(f"port {port_id} not ready after {timeout:.0f} s: "
                                   f"status {port.get('status')}, vif_type "
                                   f"{port.get('binding:vif_type')}")
            time.sleep(interval)
