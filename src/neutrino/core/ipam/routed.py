"""Routed networks (subnets on segments), as Neutron's IPAM treats them.

Which segments a host reaches is what segmenthostmappings holds (kept from the agents'
reports by the segments plugin, services/segments/host_mappings.py), read in the caller's
transaction when a port needs it.

A port gets addresses from the subnets without a segment (a network that is not routed)
or from those on a segment its host reaches; without a host, on a routed network, its
allocation is deferred until its host is known (ip_allocation "deferred")."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from neutrino.core.ipam.allocator import SubnetInfo
from neutrino.db import tables as t
from neutrino.exceptions import segments as errors

_seg = t.network_segments.c
_s = t.subnets.c
_m = t.segment_host_mappings.c


def host_segments(conn: Connection, host: str, network_id: str) -> set[str]:
    """The segments of the network that ``host`` reaches."""
    return set(conn.scalars(sa.select(_m.segment_id).join(
        t.network_segments, _seg.id == _m.segment_id).where(
        _m.host == host, _seg.network_id == network_id)))


def for_host(conn: Connection, network_id: str, subnets: list[SubnetInfo], host: str,
             fixed: list[dict[str, Any]] | None = None) -> tuple[list[SubnetInfo], bool]:
    """The subnets a port on ``host`` may take addresses from, and whether its allocation
    is deferred (a routed network, no host, no fixed_ips asked: no address for now).
    ``fixed``: the fixed_ips asked for (None: automatic)."""
    if all(s.segment_id is None for s in subnets):
        return subnets, False  # not routed: the usual case, no query
    if not host:
        if fixed is None:
            unrouted = [s for s in subnets if s.segment_id is None]
            return unrouted, not unrouted
        # fixed_ips asked without a host: all of one segment (checked again when bound)
        by_id = {s.id: s for s in subnets}
        named = {by_id[f["subnet_id"]].segment_id for f in fixed
                 if f.get("subnet_id") in by_id}
        if len(named) > 1:
            raise errors.FixedIpsSubnetsNotOnSameSegment()
        return subnets, False
    reached = host_segments(conn, host, network_id)
    out = [s for s in subnets if s.segment_id is None or s.segment_id in reached]
    if not out:
        raise errors.HostNotConnectedToAnySegment(host=host, network_id=network_id)
    return out, False


def check_subnet_segment(conn: Connection, network_id: str, segment_id: str | None, *,
                         subnet_id: str | None = None, old: str | None = None,
                         sees_all: bool = True) -> None:
    """Neutron's _validate_segment for a subnet created (``subnet_id`` None: before its
    row exists) or updated (``old``: its segment until now) on ``segment_id``. The caller
    holds the network exclusively (subnet writes do), so the network's subnets cannot
    change meanwhile. A caller who does not see everything (``sees_all`` False) may name
    only a segment of the subnet's own network: another network's segment is not found
    for it (404), never NetworkIdsDontMatch, which would confirm that the id exists."""
    seg_network = None
    if segment_id:
        seg_network = conn.scalar(sa.select(_seg.network_id).where(_seg.id == segment_id))
        if seg_network is None or (not sees_all and seg_network != network_id):
            raise errors.SegmentNotFound(segment_id=segment_id)
    others = list(conn.scalars(sa.select(_s.segment_id).where(
        _s.network_id == network_id, _s.id != (subnet_id or ""))))
    if subnet_id is None:
        associated = {*others, segment_id}
        if None in associated and len(associated) > 1:
            raise errors.SubnetsNotAllAssociatedWithSegments(network_id=network_id)
    elif old != segment_id:
        # only the single subnet of a single-segment network moves (from none)
        if others:
            raise errors.SubnetsNotAllAssociatedWithSegments(network_id=network_id)
        if old is not None:
            raise errors.SubnetSegmentAssociationChangeNotAllowed()
        if conn.scalar(sa.select(sa.func.count()).select_from(t.network_segments).where(
                _seg.network_id == network_id)) > 1:
            raise errors.NoUpdateSubnetWhenMultipleSegmentsOnNetwork(network_id=network_id)
    if seg_network is not None and seg_network != network_id:
        raise errors.NetworkIdsDontMatch(subnet_network=network_id, segment_id=segment_id)


def reach(conn: Connection, network_id: str, segment_id: str,
          port_ids: list[str]) -> set[str]:
    """Of these ports of the network, those a new subnet on ``segment_id`` serves (its
    SLAAC addresses), as Neutron's candidate subnets for each: a bound port's host reaches
    the segment; an unbound one already holds an address of a subnet on it."""
    b, a = t.port_bindings.c, t.ip_allocations.c
    hosts = dict(conn.execute(sa.select(b.port_id, b.host).where(
        b.port_id.in_(port_ids), b.host != "")).all())
    reached = set(conn.scalars(sa.select(_m.host).where(
        _m.segment_id == segment_id, _m.host.in_(sorted(set(hosts.values())))))) \
        if hosts else set()
    on_segment = set(conn.scalars(sa.select(a.port_id).join(
        t.subnets, _s.id == a.subnet_id).where(a.port_id.in_(port_ids),
                                               _s.segment_id == segment_id)))
    return {p for p in port_ids if (hosts[p] in reached if p in hosts else p in on_segment)}
