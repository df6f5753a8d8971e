"""Security groups cost a bounded number of SQL statements whatever the number of rows:
lists of groups and rules, the port list's extra attributes, and get_host_state for a
host's ports, groups, rules and remote-group members (no query per port or group)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from tests.unit.test_query_counts import ADMIN, MEMBER, Harness

from neutrino import config
from neutrino.api.factory import build_app, open_database
from neutrino.core.plugin import Ml2Plugin
from neutrino.db import migrate
from neutrino.db import tables as t
from neutrino.services import host_state
from neutrino.services.agents import LINUXBRIDGE_AGENT
from neutrino.services.securitygroups import agent_view

HOST = "qc-host"


@pytest.fixture
def setup(tmp_path: Path) -> Iterator[tuple[Harness, Ml2Plugin]]:
    url = f"sqlite:///{tmp_path / 'neutrino.sqlite'}"
    conf = config.make_conf(overrides={"DEFAULT": {"state_path": str(tmp_path)},
                                       "database": {"connection": url},
                                       "QUOTAS": {"quota_security_group": -1,
                                                  "quota_security_group_rule": -1,
                                                  "quota_port": -1}})
    db = open_database(conf)
    try:
        migrate.upgrade(db.engine)
        plugin = Ml2Plugin(conf, db)
        plugin.start()
        yield Harness(build_app(conf, db, plugin), db), plugin
    finally:
        db.dispose()


def _ok(result: tuple[int, Any]) -> Any:
    status, body = result
    assert status in (200, 201), body
    return body


def _populate(h: Harness, net_id: str, n: int) -> None:
    """``n`` groups, each with a rule naming the previous group as remote, and ``n``
    ports, each in two groups with an address pair, all marked bound to HOST."""
    previous = None
    groups = []
    for i in range(n):
        group = _ok(h.call("POST", "/v2.0/security-groups",
                           {"security_group": {"name": f"g{i}"}}))["security_group"]
        groups.append(group["id"])
        _ok(h.call("POST", "/v2.0/security-group-rules", {"security_group_rule": {
            "security_group_id": group["id"], "direction": "ingress", "protocol": "tcp",
            "port_range_min": 1 + i, "port_range_max": 1 + i,
            "remote_group_id": previous}}))
        previous = group["id"]
    for i in range(n):
        _ok(h.call("POST", "/v2.0/ports", {"port": {
            "network_id": net_id, "security_groups": [groups[i], groups[i - 1]],
            "allowed_address_pairs": [{"ip_address": f"10.77.{i}.0/24"}]}}))


def _statements(h: Harness, fn: Any) -> tuple[int, Any]:
    before = h.statements
    out = fn()
    return h.statements - before, out


def test_statement_counts_do_not_grow(setup: tuple[Harness, Ml2Plugin]) -> None:
    h, plugin = setup
    now = dt.datetime(2026, 1, 1)
    plugin.db.write(lambda conn: conn.execute(sa.insert(t.agents).values(
        id="a1", agent_type=LINUXBRIDGE_AGENT, binary="b", topic="N/A", host=HOST,
        configurations="{}", created_at=now, started_at=now, heartbeat_timestamp=now)))
    # both callers' default groups exist (made on their first list: once, not per row)
    for headers in (MEMBER, ADMIN):
        h.count("/v2.0/security-groups", headers)
    net = _ok(h.call("POST", "/v2.0/networks", {"network": {"name": "qc"}}))["network"]
    _ok(h.call("POST", "/v2.0/subnets", {"subnet": {
        "network_id": net["id"], "ip_version": 4, "cidr": "10.60.0.0/16"}}))

    def counts() -> dict[str, tuple[int, int]]:
        plugin.db.write(lambda conn: conn.exec_driver_sql(
            "UPDATE port_bindings SET host = 'qc-host', vif_type = 'bridge'"))
        out = {}
        for path, key in (("/v2.0/security-groups", "security_groups"),
                          ("/v2.0/security-group-rules", "security_group_rules"),
                          ("/v2.0/ports", "ports"),
                          ("/v2.0/ports?fields=security_groups", "ports")):
            for who, headers in (("member", MEMBER), ("admin", ADMIN)):
                n, body = h.count(path, headers)
                out[f"{path} {who}"] = (n, len(body[key]))
        n, state = _statements(h, lambda: plugin.db.read(
            lambda conn: host_state.linuxbridge_state(conn, plugin, HOST, None)))
        out["host_state"] = (n, len(state.security_groups))
        ids = list(state.security_groups)
        n, narrowed = _statements(h, lambda: plugin.db.read(
            lambda conn: agent_view.narrowed_state(conn, HOST, ids)))
        out["narrowed"] = (n, len(narrowed.remote_groups))
        n, hosts = _statements(h, lambda: plugin.db.read(
            lambda conn: agent_view.hosts_referencing(conn, ids)))
        out["hosts_referencing"] = (n, len(hosts[HOST]))
        return out

    _populate(h, net["id"], 4)
    small = counts()
    _populate(h, net["id"], 30)
    big = counts()
    for key, (n_small, rows_small) in small.items():
        n_big, rows_big = big[key]
        assert rows_big > rows_small, (key, small, big)
        assert n_big == n_small, (key, n_small, n_big)
    # get_host_state's security-group share: three statements more
    assert big["host_state"][0] <= 12, big
    assert big["narrowed"][0] <= 4, big
