"""A router's static routes (extraroute, extraroute-atomic): each nexthop must be on one of
the router's subnets (interfaces and gateway) and none of its own addresses; at most
``max_routes`` of them."""

from __future__ import annotations

import ipaddress
from typing import Any

import sqlalchemy as sa
from oslo_config import cfg
from sqlalchemy.engine import Connection

from neutrino import exceptions as exc
from neutrino.db import tables as t
from neutrino.services.l3.owners import ROUTER_GATEWAY, ROUTER_INTERFACE, router_leg

_rr = t.router_routes.c
_rt = t.routers.c
_p = t.ports.c
_a = t.ip_allocations.c
_s = t.subnets.c


def _connected(conn: Connection, router_id: str) -> tuple[list[Any], set[str]]:
    """The networks of the router's subnets (interfaces and gateway) and its own
    addresses."""
    rows = conn.execute(
        sa.select(_s.cidr, _a.ip_address).join(t.ip_allocations, _a.subnet_id == _s.id)
        .join(t.ports, _p.id == _a.port_id)
        .join(t.routers, _rt.id == router_id)
        .where(_p.device_id == router_id,
               _p.device_owner.in_((ROUTER_INTERFACE, ROUTER_GATEWAY)),
               router_leg(_p, _rt))).all()
    return ([ipaddress.ip_network(c, strict=False) for c, _ in rows],
            {str(ipaddress.ip_address(ip)) for _, ip in rows})


def _check(conn: Connection, max_routes: int, router_id: str,
           routes: list[dict[str, str]]) -> None:
    if len(routes) > max_routes:
        raise exc.RoutesExhausted(router_id=router_id, quota=max_routes)
    nets, own = _connected(conn, router_id)
    for route in routes:
        hop = ipaddress.ip_address(route["nexthop"])
        if str(hop) in own:
            raise exc.InvalidRoutes(routes=[route], reason="the nexthop is used by router")
        if not any(hop.version == n.version and hop in n for n in nets):
            raise exc.InvalidRoutes(routes=[route],
                                    reason="the nexthop is not connected with router")


def replace(conn: Connection, conf: cfg.ConfigOpts, router_id: str,
            old: list[dict[str, str]], new: list[dict[str, str]]) -> bool:
    """The router's routes ``old`` become ``new`` (the routes added checked); whether
    anything changed."""
    old_set = {(r["destination"], r["nexthop"]) for r in old}
    new_set = {(r["destination"], r["nexthop"]) for r in new}
    if old_set == new_set:
        return False
    max_routes = int(getattr(conf, "max_routes", 30))
    added = [{"destination": d, "nexthop": n} for d, n in sorted(new_set - old_set)]
    _check(conn, max_routes, router_id, added)
    if len(new_set) > max_routes:
        raise exc.RoutesExhausted(router_id=router_id, quota=max_routes)
    gone = old_set - new_set
    if gone:
        conn.execute(sa.delete(t.router_routes).where(
            _rr.router_id == router_id,
            sa.tuple_(_rr.destination, _rr.nexthop).in_(sorted(gone))))
    if added:
        conn.execute(sa.insert(t.router_routes), [
            {"router_id": router_id, **r} for r in added])
    return True
