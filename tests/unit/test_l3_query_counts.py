"""Router and floating IP lists (and the L3 agent's host state) run a bounded number of
SQL statements, whatever the number of rows: counted in-process on a migrated SQLite
file while listing 3 and then 12 of each, as in test_query_counts.py."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from tests.unit.test_query_counts import ADMIN, MEMBER, Harness, harness

from neutrino.db import tables as t
from neutrino.services.l3.state import l3_state

__all__ = ["harness"]  # the fixture


def _ok(h: Harness, method: str, path: str, body: Any = None,
        headers: dict[str, str] = MEMBER) -> Any:
    status, data = h.call(method, path, body, headers=headers)
    assert status < 300, (method, path, status, data)
    return data


def _populate(h: Harness, ext: str, n: int, start: int) -> None:
    """``n`` routers with a gateway, routes, an interface and a floating IP each."""
    for i in range(start, start + n):
        net = _ok(h, "POST", "/v2.0/networks", {"network": {}})["network"]
        sub = _ok(h, "POST", "/v2.0/subnets", {"subnet": {
            "network_id": net["id"], "ip_version": 4, "cidr": f"10.{i}.0.0/24"}})["subnet"]
        r = _ok(h, "POST", "/v2.0/routers", {"router": {
            "external_gateway_info": {"network_id": ext}}})["router"]
        _ok(h, "PUT", f"/v2.0/routers/{r['id']}/add_router_interface", {"subnet_id": sub["id"]})
        _ok(h, "PUT", f"/v2.0/routers/{r['id']}", {"router": {"routes": [
            {"destination": "192.168.0.0/24", "nexthop": f"10.{i}.0.9"}]}})
        _ok(h, "PUT", f"/v2.0/routers/{r['id']}/tags/t{i}")
        port = _ok(h, "POST", "/v2.0/ports", {"port": {"network_id": net["id"]}})["port"]
        _ok(h, "POST", "/v2.0/floatingips", {"floatingip": {
            "floating_network_id": ext, "port_id": port["id"]}})


def test_l3_lists_are_bounded(harness: Harness) -> None:
    h = harness
    ext = _ok(h, "POST", "/v2.0/networks", {"network": {"router:external": True}},
              ADMIN)["network"]["id"]
    _ok(h, "POST", "/v2.0/subnets", {"subnet": {"network_id": ext, "ip_version": 4,
                                                 "cidr": "172.24.0.0/16"}}, ADMIN)
    _ok(h, "PUT", "/v2.0/quotas/qc-project", {"quota": {"router": -1, "floatingip": -1}},
        ADMIN)
    paths = ["/v2.0/routers", "/v2.0/routers?limit=100&sort_key=name&sort_dir=asc",
             "/v2.0/floatingips", "/v2.0/floatingips?fields=id&fields=port_details",
             "/v2.0/networks?router:external=true"]
    _populate(h, ext, 3, 0)
    small = {p: h.count(p, MEMBER)[0] for p in paths}
    _populate(h, ext, 9, 3)
    for p in paths:
        count, _ = h.count(p, MEMBER)
        assert count == small[p], (p, small[p], count)
    assert len(_ok(h, "GET", "/v2.0/routers")["routers"]) == 12

    # the L3 agent's host state: a fixed number of statements too (all routers on h1)
    def state_statements() -> int:
        before = h.statements
        with h.db.engine.connect() as conn:
            state = l3_state(conn, None, "h1", None)  # type: ignore[arg-type]
        assert state.host == "h1"
        return h.statements - before

    with h.db.engine.begin() as conn:
        now = sa.func.now()
        conn.execute(sa.insert(t.agents).values(
            id="a1", agent_type="L3 agent", binary="b", topic="l3_agent", host="h1",
            admin_state_up=True, configurations="{}", created_at=now, started_at=now,
            heartbeat_timestamp=now))
        ids = list(conn.scalars(sa.select(t.routers.c.id)))
        conn.execute(sa.insert(t.router_l3_agent_bindings), [
            {"router_id": r, "l3_agent_id": "a1"} for r in ids[:3]])
    few = state_statements()
    with h.db.engine.begin() as conn:
        conn.execute(sa.insert(t.router_l3_agent_bindings), [
            {"router_id": r, "l3_agent_id": "a1"} for r in ids[3:]])
    assert state_statements() == few
