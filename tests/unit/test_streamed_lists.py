"""Whole lists (no ``limit``) are read and sent page by page (api/app.py ``_streamed``):
the answer is the same list a paginated walk gives, with filters, ``fields``, sorting and
the policy's hidden attributes honoured across page boundaries, on every backend.

The WSGI app is called in-process with a page of 7 items (``STREAM_CHUNK``), so that 30
ports make five pages; the body must come out in several pieces (one per page), not as
one encoded document.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from sqlalchemy import event
from tests.conftest import BACKENDS, migrated_database

from neutrino import config
from neutrino.api import app as app_module
from neutrino.api.factory import build_app, open_database
from neutrino.core.plugin import Ml2Plugin

OWNER = {"HTTP_X_PROJECT_ID": "stream-a", "HTTP_X_USER_ID": "ua",
         "HTTP_X_ROLES": "member,reader"}
OTHER = {"HTTP_X_PROJECT_ID": "stream-b", "HTTP_X_USER_ID": "ub",
         "HTTP_X_ROLES": "member,reader"}
ADMIN = {"HTTP_X_PROJECT_ID": "stream-admin", "HTTP_X_USER_ID": "adm",
         "HTTP_X_ROLES": "admin,member,reader"}


class Client:
    def __init__(self, app: Any) -> None:
        self.app = app
        self.pieces = 0

    def call(self, method: str, path: str, body: Any = None,
             headers: dict[str, str] = OWNER) -> tuple[int, Any]:
        path, _, qs = path.partition("?")
        data = orjson.dumps(body) if body is not None else b""
        environ = {
            "REQUEST_METHOD": method, "PATH_INFO": path, "QUERY_STRING": qs,
            "SERVER_NAME": "localhost", "SERVER_PORT": "9696", "SCRIPT_NAME": "",
            "wsgi.url_scheme": "http", "wsgi.input": io.BytesIO(data),
            "CONTENT_LENGTH": str(len(data)) if data else "", **headers,
        }
        status: list[str] = []
        out = list(self.app(environ, lambda s, _h: status.append(s)))
        self.pieces = len(out)
        raw = b"".join(out)
        return int(status[0].split()[0]), orjson.loads(raw) if raw else None


@pytest.fixture(params=BACKENDS)
def client(request: pytest.FixtureRequest, tmp_path: Path,
           monkeypatch: pytest.MonkeyPatch) -> Iterator[Client]:
    monkeypatch.setattr(app_module, "STREAM_CHUNK", 7)
    with migrated_database(request.param, tmp_path) as url:
        conf = config.make_conf(overrides={"DEFAULT": {"state_path": str(tmp_path)},
                                           "database": {"connection": url}})
        db = open_database(conf)
        try:
            plugin = Ml2Plugin(conf, db)
            plugin.start()
            client = Client(build_app(conf, db, plugin))
            client.db = db  # type: ignore[attr-defined]
            yield client
        finally:
            db.dispose()


def _populate(c: Client) -> tuple[str, list[str]]:
    """Project A's network with 20 of A's ports and 10 of B's (B sees its own only; A,
    the network's owner, sees all 30)."""
    status, body = c.call("POST", "/v2.0/networks", {"network": {"name": "s"}})
    assert status == 201, body
    net = body["network"]["id"]
    status, body = c.call("POST", "/v2.0/subnets", {"subnet": {
        "network_id": net, "cidr": "10.77.0.0/24", "ip_version": 4}})
    assert status == 201, body
    status, body = c.call("POST", "/v2.0/ports", {"ports": [
        {"network_id": net, "name": f"a{i:02d}"} for i in range(20)]})
    assert status == 201, body
    status, body = c.call("POST", "/v2.0/ports", {"ports": [
        {"network_id": net, "name": f"b{i:02d}", "project_id": "stream-b"}
        for i in range(10)]}, headers=ADMIN)
    assert status == 201, body
    return net, [p["id"] for p in body["ports"]]


def _walk(c: Client, path: str, headers: dict[str, str]) -> list[dict[str, Any]]:
    sep = "&" if "?" in path else "?"
    out: list[dict[str, Any]] = []
    marker = ""
    while True:
        status, body = c.call("GET", f"{path}{sep}limit=4{marker}", headers=headers)
        assert status == 200, body
        out += body["ports"]
        if len(body["ports"]) < 4:
            return out
        marker = f"&marker={body['ports'][-1]['id']}"


def test_whole_lists_are_sent_page_by_page(client: Client) -> None:
    c = client
    net, b_ports = _populate(c)
    status, body = c.call("GET", "/v2.0/ports")
    assert status == 200, body
    ports = body["ports"]
    # every page its own piece of the body: opening, 30 / 7 -> 5 pages, closing
    assert c.pieces == 7
    assert len(ports) == 30 and len({p["id"] for p in ports}) == 30
    assert [p["id"] for p in ports] == sorted(p["id"] for p in ports)  # id order
    walked = _walk(c, "/v2.0/ports", OWNER)
    for a, b in zip(ports, walked, strict=True):
        assert a == b, {k: (a.get(k), b.get(k)) for k in a.keys() | b.keys()
                        if a.get(k) != b.get(k)}
    # what a member may not see is gone from every page, not only the first
    assert not any(k.startswith("binding:") and k != "binding:vnic_type"
                   for p in ports for k in p)
    status, body = c.call("GET", "/v2.0/ports", headers=ADMIN)
    assert all("binding:host_id" in p for p in body["ports"])
    assert len([p for p in body["ports"] if p["network_id"] == net]) == 30

    # B sees its own ten; filters, fields and sorting hold across pages
    status, body = c.call("GET", "/v2.0/ports", headers=OTHER)
    assert sorted(p["id"] for p in body["ports"]) == sorted(b_ports)
    status, body = c.call("GET", "/v2.0/ports?sort_key=name&sort_dir=desc&fields=name")
    assert body["ports"] == [{"name": n} for n in sorted(
        [f"a{i:02d}" for i in range(20)] + [f"b{i:02d}" for i in range(10)], reverse=True)]
    status, body = c.call("GET", "/v2.0/ports?name=a03&name=b07&fields=id&fields=name")
    assert sorted(p["name"] for p in body["ports"]) == ["a03", "b07"]
    assert all(set(p) == {"id", "name"} for p in body["ports"])
    status, body = c.call("GET", "/v2.0/ports?name=nothing")
    assert status == 200 and body == {"ports": []}
    # errors found on the first page are still statuses, not a broken body
    status, body = c.call("GET", "/v2.0/ports?sort_key=nonsense")
    assert status == 400, body


def test_own_items_need_no_policy_target_read(client: Client) -> None:
    """A member reading its own port: the rule allows it as it is, so the network
    owner (the policy target's extra key) is not read; another project's port on the
    caller's network needs it, and is shown."""
    c = client
    net, b_ports = _populate(c)
    status, body = c.call("GET", "/v2.0/ports?name=a01")
    own = body["ports"][0]["id"]
    statements: list[str] = []
    db = c.db  # type: ignore[attr-defined]
    event.listen(db.engine, "before_cursor_execute",
                 lambda _c, _cur, sql, *_a: statements.append(sql))
    status, body = c.call("GET", f"/v2.0/ports/{own}")
    assert status == 200, body
    own_count = len(statements)
    statements.clear()
    status, body = c.call("GET", f"/v2.0/ports/{b_ports[0]}")  # B's port on A's network
    assert status == 200 and body["port"]["network_id"] == net
    assert len(statements) == own_count + 1 + (db.backend == "sqlite")  # + its BEGIN
    status, _ = c.call("GET", f"/v2.0/ports/{own}", headers=OTHER)
    assert status == 404

