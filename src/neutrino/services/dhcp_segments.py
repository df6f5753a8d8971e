"""DHCP on routed networks, as Neutron schedules it with segments: a network whose
DHCP-enabled subnets sit on segments is served on each such segment by
``dhcp_agents_per_network`` DHCP agents of hosts mapped to it (segmenthostmappings,
services/segments/host_mappings.py), and each agent's DHCP port gets addresses only on
the subnets of the segments its host reaches (Neutron's agent serves those alone). A host
reaching none of them gets no DHCP port. Networks without segments are served as before
(services/dhcp_scheduler.py)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from neutrino.db import tables as t

_s = t.subnets.c
_m = t.segment_host_mappings.c

Agent = tuple[str, str]  # (agent id, host)


def dhcp_subnets(conn: Connection, network_id: str) -> list[Any]:
    """The network's DHCP-enabled subnets (rows: id, segment_id), oldest first."""
    return list(conn.execute(sa.select(_s.id, _s.segment_id).where(
        _s.network_id == network_id, _s.enable_dhcp.is_(True)).order_by(_s.created_at, _s.id)))


def segments_of(subnets: Iterable[Any]) -> list[str]:
    """The segments of these subnets, in the subnets' order (none: not routed)."""
    return list(dict.fromkeys(s.segment_id for s in subnets if s.segment_id))


def hosts_of(conn: Connection, segments: list[str]) -> dict[str, set[str]]:
    """The hosts mapped to each of these segments."""
    out: dict[str, set[str]] = {}
    for segment_id, host in conn.execute(sa.select(_m.segment_id, _m.host).where(
            _m.segment_id.in_(segments))):
        out.setdefault(segment_id, set()).add(host)
    return out


def subnets_by_host(conn: Connection, subnets: list[Any], hosts: list[str]
                    ) -> dict[str, list[str]]:
    """For each host, the ids of the subnets its DHCP port gets an address on: all of
    them on a network without segments, else those of the segments the host reaches."""
    if not segments_of(subnets):
        return {h: [s.id for s in subnets] for h in hosts}
    reached: dict[str, set[str]] = {h: set() for h in hosts}
    if hosts:
        for host, segment_id in conn.execute(sa.select(_m.host, _m.segment_id).where(
                _m.host.in_(sorted(set(hosts))), _m.segment_id.in_(segments_of(subnets)))):
            reached.setdefault(host, set()).add(segment_id)
    return {h: [s.id for s in subnets if s.segment_id in reached[h]] for h in hosts}


def replaced(dead: list[Agent], serving: list[Agent], segments: list[str],
             reach: dict[str, set[str]], per_network: int) -> list[Agent]:
    """The dead agents that may go: every segment their host reaches has its agents
    among the live ones (``serving``) without them."""
    def covered(host: str) -> bool:
        return all(sum(1 for _, h in serving if h in reach.get(s, ())) >= per_network
                   for s in segments if host in reach.get(s, ()))

    return [a for a in dead if covered(a[1])]
