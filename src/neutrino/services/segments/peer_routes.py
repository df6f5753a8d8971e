"""segments-peer-subnet-host-routes: on a routed network each subnet on a segment gets a
host route, through its gateway, to every subnet of the same IP version on another
segment (unless a route already covers it), as Neutron's SegmentHostRoutes: routes to a
deleted subnet go with it, and a new gateway replaces the old one in them.

Neutron recomputes the other subnets after the commit (one update_subnet each); here it
is done in the subnet write's own transaction, which holds the network exclusively, so
two subnets created at once cannot miss each other."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from typing import Any, NamedTuple

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from neutrino.core import records
from neutrino.db import tables as t

Route = dict[str, str]


class Peer(NamedTuple):
    id: str
    segment_id: str | None
    ip_version: int
    cidr: str


def with_peer_routes(routes: list[Route], own: Peer, gateway: str | None,
                     peers: Iterable[Peer], *, old_gateway: str | None = None,
                     deleted_cidr: str | None = None) -> list[Route]:
    """``routes`` plus a route via ``gateway`` to each peer subnet on another segment not
    covered yet; without routes via ``old_gateway`` to peers and via ``gateway`` to
    ``deleted_cidr``. Neutron's _calculate_routed_network_host_routes."""
    out = [dict(r) for r in routes]
    if deleted_cidr and {"destination": deleted_cidr, "nexthop": gateway} in out:
        out.remove({"destination": deleted_cidr, "nexthop": gateway})
    for peer in peers:
        if (peer.id == own.id or peer.segment_id == own.segment_id
                or peer.ip_version != own.ip_version):
            continue
        if old_gateway:
            stale = {"destination": peer.cidr, "nexthop": old_gateway}
            if stale in out:
                out.remove(stale)
        net = ipaddress.ip_network(peer.cidr)
        covering = (ipaddress.ip_network(r["destination"], strict=False) for r in out)
        if gateway and not any(dest.version == net.version and net.subnet_of(dest)  # type: ignore[arg-type]
                               for dest in covering):
            out.append({"destination": peer.cidr, "nexthop": gateway})
    return out


def _key(routes: Iterable[Route]) -> set[tuple[str, str]]:
    return {(r["destination"], r["nexthop"]) for r in routes}


def sync(conn: Connection, network_id: str, *, only: str | None = None,
         written: str | None = None,
         old_gateway: str | None = None, deleted: str | None = None,
         deleted_cidr: str | None = None) -> dict[str, list[Route]]:
    """Bring the host routes of the network's subnets on segments (``only``: of that
    one) in line with their peers, ``deleted`` being on its way out. Returns the routes
    of the subnets it changed; each is a new revision, but the one being written (a
    create or ``only``), whose write is its revision."""
    s, hr = t.subnets.c, t.host_routes.c
    rows = conn.execute(sa.select(s.id, s.segment_id, s.ip_version, s.cidr, s.gateway_ip)
                        .where(s.network_id == network_id)).all()
    if not any(r.segment_id for r in rows):
        return {}
    peers = [Peer(r.id, r.segment_id, r.ip_version, r.cidr) for r in rows if r.id != deleted]
    current: dict[str, list[Route]] = {}
    for sid, dest, nexthop in conn.execute(sa.select(hr.subnet_id, hr.destination, hr.nexthop)
                                           .where(hr.subnet_id.in_([r.id for r in rows]))):
        current.setdefault(sid, []).append({"destination": dest, "nexthop": nexthop})
    changed: dict[str, list[Route]] = {}
    for r in rows:
        if r.id == deleted or not r.segment_id or (only is not None and r.id != only):
            continue
        have = current.get(r.id, [])
        want = with_peer_routes(have, Peer(r.id, r.segment_id, r.ip_version, r.cidr),
                                r.gateway_ip, peers, old_gateway=old_gateway,
                                deleted_cidr=deleted_cidr)
        if _key(want) != _key(have):
            conn.execute(sa.delete(t.host_routes).where(hr.subnet_id == r.id))
            if want:
                conn.execute(sa.insert(t.host_routes), [{"subnet_id": r.id, **w} for w in want])
            changed[r.id] = want
    records.bump_revisions(conn, t.subnets, [i for i in changed if i not in (only, written)])
    return changed


def on_subnet_event(event: str, payload: Any) -> None:
    """PRECOMMIT_CREATE / _UPDATE / _DELETE of a subnet (payload: the core's, with its
    connection). The subnet being written is given its routes in its own dict too."""
    subnet = payload.latest_state
    conn = payload.conn
    if event == "precommit_create":
        if subnet.get("segment_id"):
            changed = sync(conn, subnet["network_id"], written=subnet["id"])
            if subnet["id"] in changed:
                subnet["host_routes"] = changed[subnet["id"]]
    elif event == "precommit_update":
        original = payload.states[0]
        gateway_moved = original.get("gateway_ip") != subnet.get("gateway_ip")
        if subnet.get("segment_id") and (
                gateway_moved or original.get("host_routes") != subnet.get("host_routes")):
            changed = sync(conn, subnet["network_id"], only=subnet["id"],
                           old_gateway=original.get("gateway_ip") if gateway_moved else None)
            if subnet["id"] in changed:
                subnet["host_routes"] = changed[subnet["id"]]
    elif subnet.get("segment_id"):  # precommit_delete
        sync(conn, subnet["network_id"], deleted=subnet["id"], deleted_cidr=subnet["cidr"])
