"""List endpoints run a bounded number of SQL statements, whatever the number of rows
(DESIGN.md principle 6: no query per row).

The WSGI app is called in-process on a migrated SQLite file; every statement the engine
sends is counted (``before_cursor_execute``) while listing 5 and then 50 resources of each
kind, as an admin and as a project member, plain, with ``fields`` and paginated. The count
must not grow with the rows.
"""

from __future__ import annotations

import io
import urllib.parse
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from sqlalchemy import event

from neutrino import config
from neutrino.api.app import App
from neutrino.api.factory import build_app, open_database
from neutrino.core.plugin import Ml2Plugin
from neutrino.db import migrate
from neutrino.db.engine import Database

PROJECT = "qc-project"
MEMBER = {"HTTP_X_PROJECT_ID": PROJECT, "HTTP_X_USER_ID": "u", "HTTP_X_ROLES": "member,reader"}
ADMIN = {"HTTP_X_PROJECT_ID": "qc-admin", "HTTP_X_USER_ID": "a",
         "HTTP_X_ROLES": "admin,member,reader"}


class Harness:
    def __init__(self, app: App, db: Database) -> None:
        self.app = app
        self.db = db
        self.statements = 0
        event.listen(db.engine, "before_cursor_execute", self._count)

    def _count(self, *_args: Any) -> None:
        self.statements += 1

    def call(self, method: str, path: str, body: Any = None, *,
             headers: dict[str, str] = MEMBER) -> tuple[int, Any]:
        path, _, qs = path.partition("?")
        data = orjson.dumps(body) if body is not None else b""
        environ = {
            "REQUEST_METHOD": method, "PATH_INFO": path, "QUERY_STRING": qs,
            "SERVER_NAME": "localhost", "SERVER_PORT": "9696", "SCRIPT_NAME": "",
            "wsgi.url_scheme": "http", "wsgi.input": io.BytesIO(data),
            "CONTENT_LENGTH": str(len(data)) if data else "", **headers,
        }
        status: list[str] = []
        out = b"".join(self.app(environ, lambda s, _h: status.append(s)))
        return int(status[0].split()[0]), orjson.loads(out) if out else None

    def count(self, path: str, headers: dict[str, str]) -> tuple[int, Any]:
        before = self.statements
        status, body = self.call("GET", path, headers=headers)
        assert status == 200, body
        return self.statements - before, body


@pytest.fixture
def harness(tmp_path: Path) -> Iterator[Harness]:
    url = f"sqlite:///{tmp_path / 'neutrino.sqlite'}"
    conf = config.make_conf(overrides={"DEFAULT": {"state_path": str(tmp_path)},
                                       "database": {"connection": url},
                                       "QUOTAS": {"quota_rbac_policy": -1}})
    db = open_database(conf)
    try:
        migrate.upgrade(db.engine)
        plugin = Ml2Plugin(conf, db)
        plugin.start()
        yield Harness(build_app(conf, db, plugin), db)
    finally:
        db.dispose()


def _populate(h: Harness, n: int, tag: str) -> str:
    """``n`` networks, each with an IPv4 subnet (nameservers, host routes) and an IPv6
    one, and ``n`` ports with two fixed IPs each on the first network; returns that
    network's id. Every network, IPv4 subnet and port has two tags ("qc" and its own)."""
    first = ""
    for i in range(n):
        status, body = h.call("POST", "/v2.0/networks",
                              {"network": {"name": f"{tag}-net-{i}"}})
        assert status == 201, body
        net_id = body["network"]["id"]
        first = first or net_id
        status, body = h.call("PUT", f"/v2.0/networks/{net_id}/tags",
                              {"tags": ["qc", f"{tag}-{i}"]})
        assert status == 200, body
        status, body = h.call("POST", "/v2.0/rbac-policies", {"rbac_policy": {
            "object_type": "network", "object_id": net_id, "action": "access_as_shared",
            "target_tenant": uuid.uuid4().hex}})
        assert status == 201, body
        status, body = h.call("POST", "/v2.0/subnets", {"subnet": {
            "network_id": net_id, "ip_version": 4, "cidr": f"10.{i}.0.0/24",
            "name": f"{tag}-v4-{i}", "dns_nameservers": ["192.0.2.1", "192.0.2.2"],
            "host_routes": [{"destination": "198.51.100.0/24", "nexthop": f"10.{i}.0.9"}],
        }})
        assert status == 201, body
        status, body = h.call("POST", f"/v2.0/subnets/{body['subnet']['id']}/tags",
                              {"tags": ["qc", f"{tag}-{i}"]})
        assert status == 200, body
        status, body = h.call("POST", "/v2.0/subnets", {"subnet": {
            "network_id": net_id, "ip_version": 6, "cidr": f"2001:db8:{i:x}::/64",
            "name": f"{tag}-v6-{i}",
        }})
        assert status == 201, body
    for i in range(n):
        status, body = h.call("POST", "/v2.0/ports", {"port": {
            "network_id": first, "name": f"{tag}-port-{i}", "tags": ["qc", f"{tag}-{i}"]}})
        assert status == 201, body
        assert len(body["port"]["fixed_ips"]) == 2
    return first


LISTS = [
    ("networks", "/v2.0/networks"),
    ("networks", "/v2.0/networks?fields=id&fields=subnets&fields=provider:network_type"),
    ("networks", "/v2.0/networks?limit=1000&sort_key=name&sort_dir=desc"),
    ("networks", "/v2.0/networks?tags=qc&not-tags-any=none,zz&fields=id&fields=tags"),
    ("networks", "/v2.0/networks?shared=false"),
    ("subnets", "/v2.0/subnets"),
    ("subnets", "/v2.0/subnets?ip_version=4"),
    ("subnets", "/v2.0/subnets?limit=1000"),
    ("subnets", "/v2.0/subnets?tags-any=qc,zz&not-tags=qc,zz"),
    ("subnets", "/v2.0/subnets?shared=false"),
    ("ports", "/v2.0/ports"),
    ("ports", "/v2.0/ports?network_id={net}"),
    ("ports", "/v2.0/ports?fields=id&fields=fixed_ips"),
    ("ports", "/v2.0/ports?limit=1000&sort_key=mac_address&sort_dir=asc"),
    ("ports", "/v2.0/ports?tags=qc&tags=qc&limit=1000"),
    ("rbac_policies", "/v2.0/rbac-policies"),
    ("rbac_policies", "/v2.0/rbac-policies?action=access_as_shared&sort_key=target_tenant"
                      "&sort_dir=asc&fields=id&fields=target_tenant"),
]


def _counts(h: Harness, net: str) -> dict[tuple[str, str], tuple[int, int]]:
    """(path, who) -> (statements, rows listed)."""
    out = {}
    for key, path in LISTS:
        p = path.format(net=urllib.parse.quote(net))
        for who, headers in (("member", MEMBER), ("admin", ADMIN)):
            n, body = h.count(p, headers)
            out[(path, who)] = (n, len(body[key]))
    return out


def test_list_statement_count_does_not_grow_with_rows(harness: Harness) -> None:
    h = harness
    # 5 of everything, then 45 more (50 in all); the port lists filtered by network
    # compare 5 with 45 ports.
    small = _counts(h, _populate(h, 5, "small"))
    big = _counts(h, _populate(h, 45, "big"))

    for (path, who), (n_small, rows_small) in small.items():
        n_big, rows_big = big[(path, who)]
        assert rows_big > rows_small, (path, who, rows_small, rows_big)
        assert n_big == n_small, (
            f"GET {path} as {who}: {n_small} statements for {rows_small} rows but "
            f"{n_big} for {rows_big} rows (a query per row?)")
        # a page of ports/networks/subnets with their children: a handful of statements
        assert n_big <= 10, (path, who, n_big)


def test_show_statement_count_is_small(harness: Harness) -> None:
    h = harness
    net = _populate(h, 2, "show")
    _, body = h.call("GET", f"/v2.0/ports?network_id={net}")
    port_id = body["ports"][0]["id"]
    subnet_id = body["ports"][0]["fixed_ips"][0]["subnet_id"]
    for path in (f"/v2.0/ports/{port_id}", f"/v2.0/networks/{net}",
                 f"/v2.0/subnets/{subnet_id}"):
        n, _ = h.count(path, MEMBER)
        # item, children, and the policy target's network owner (its own short read)
        assert n <= 11, (path, n)
    # a member's own port: its row with its binding, and every list attribute of it
    # (addresses, tags, extra DHCP options, security groups, address pairs) in one
    # statement (core/port_dict.py), after SQLite's BEGIN (7 before: 5 children read apart)
    n, body = h.count(f"/v2.0/ports/{port_id}", MEMBER)
    assert n == 3, n
    assert body["port"]["fixed_ips"] and body["port"]["security_groups"]


def test_port_create_is_one_transaction_of_few_statements(harness: Harness) -> None:
    """A port create (one subnet, automatic address) is one writing transaction: the
    network read once for the policy check and the create, quota, subnets with their
    pools and the DHCP-agent question in one query, port, binding, address probe,
    address. (Without security groups' two statements, this was two transactions and 12
    statements on SQLite, 16 round trips on MariaDB; now 9, and 8 round trips there.)"""
    h = harness
    status, body = h.call("POST", "/v2.0/networks", {"network": {"name": "create-count"}})
    assert status == 201, body
    net_id = body["network"]["id"]
    status, body = h.call("POST", "/v2.0/subnets", {"subnet": {
        "network_id": net_id, "ip_version": 4, "cidr": "10.200.0.0/16"}})
    assert status == 201, body
    # the project's default security group exists already (its first port would make
    # it: two statements more, once)
    status, body = h.call("GET", "/v2.0/security-groups")
    assert status == 200, body
    statements: list[str] = []
    event.listen(h.db.engine, "before_cursor_execute",
                 lambda _c, _cur, sql, *_a: statements.append(sql))
    for _ in range(3):
        statements.clear()
        status, body = h.call("POST", "/v2.0/ports", {"port": {"network_id": net_id}})
        assert status == 201, body
        assert len(body["port"]["fixed_ips"]) == 1
        begins = [s for s in statements if s.startswith("BEGIN")]
        assert len(begins) == 1, statements
        # BEGIN IMMEDIATE, the network (read for the policy check, kept for the create),
        # quota limit, quota count (limited by default), subnets+pools+DHCP agents,
        # port, binding, probe, address; security groups (the default group and the
        # network's port security, memberships)
        assert len(statements) <= 11, statements


def test_pages_carry_their_own_children(harness: Harness) -> None:
    """Children fetched through the page's subquery (limit, marker, reverse, sort) belong
    to the rows of that page and are complete."""
    h = harness
    net = _populate(h, 7, "page")
    _, body = h.call("GET", "/v2.0/ports")
    want = {p["id"]: p["fixed_ips"] for p in body["ports"]}
    assert len(want) == 7 and all(len(ips) == 2 for ips in want.values())
    # each item's own tags (page-<i> of page-port-<i>, page-net-<i>)
    assert all(p["tags"] == [f"page-{p['name'].rsplit('-', 1)[1]}", "qc"]
               for p in body["ports"])
    _, body = h.call("GET", "/v2.0/networks", headers=ADMIN)
    want_nets = {n["id"]: (n["subnets"], n["provider:segmentation_id"], n["tags"])
                 for n in body["networks"]}
    assert all(n["tags"] == [f"page-{n['name'].rsplit('-', 1)[1]}", "qc"]
               for n in body["networks"])
    for reverse in ("False", "True"):
        seen: list[str] = []
        marker = ""
        while True:
            _, page = h.call("GET", f"/v2.0/ports?limit=3&sort_key=name&sort_dir=asc"
                                    f"&page_reverse={reverse}{marker}")
            for p in page["ports"]:
                assert p["fixed_ips"] == want[p["id"]]
                assert p["tags"] == [f"page-{p['name'].rsplit('-', 1)[1]}", "qc"]
            seen += [p["id"] for p in page["ports"]]
            if len(page["ports"]) < 3:
                break
            edge = page["ports"][0 if reverse == "True" else -1]["id"]
            marker = f"&marker={edge}"
        assert sorted(seen) == sorted(want)
        _, page = h.call("GET", f"/v2.0/networks?limit=2&sort_key=name&sort_dir=desc"
                                f"&page_reverse={reverse}", headers=ADMIN)
        assert len(page["networks"]) == 2
        for n in page["networks"]:
            assert (n["subnets"], n["provider:segmentation_id"], n["tags"]) == \
                want_nets[n["id"]]
    _, body = h.call("GET", f"/v2.0/networks/{net}")
    assert len(body["network"]["subnets"]) == 2
