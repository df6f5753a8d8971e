"""Which hosts reach which segments (Neutron's segmenthostmappings), as Neutron's segments
plugin keeps it: a host is mapped to a segment with a physical network when one of its
agents maps that physical network (``bridge_mappings``, ``interface_mappings``,
``device_mappings``) and a mechanism driver can wire the segment's type through that agent
(``check_segment_for_agent``: its agent type, the types it supports — tunnel types
included — and the physical network in its mappings). Segments without a physical network
are mapped to no host, as in Neutron.

Kept in two places, each inside the transaction of the write that changes it, so that the
change and the mappings commit together:

- an agent's report (services/agents.py, Resource.AGENT PRECOMMIT_*): the host's mappings
  become the set its agents map now (rows deleted and inserted as sets), when the agent is
  new, (re)started, reports other mappings or tunnel types, or is heard of by this process
  for the first time (a server restarted after an upgrade, or after a crash between two steps);
- a segment created (/v2.0/segments, or with its network): mapped to the hosts whose
  agents map its physical network.

What keeps the two consistent across API processes: the host's sync holds its agents'
rows exclusively (the reporting agent's row is already held by its update), a segment's
mapping holds every agent row shared before it reads their configurations. A report and a
segment creation are thus serialized, each seeing the other's commit. A brand-new agent's
row cannot be locked by a segment creation that started before it was inserted: its next
report (the first after the one that created it) syncs its host once more.

Deleting a segment (or its network) deletes its mappings (foreign key cascade). Deleting
an agent keeps its host's mappings, as in Neutron."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from neutrino.core.mech.manager import MechanismManager
from neutrino.db import tables as t

MAPPING_KEYS = ("bridge_mappings", "interface_mappings", "device_mappings")
_m = t.segment_host_mappings.c
_seg = t.network_segments.c
_ag = t.agents.c


def physnets_of(configurations: dict[str, Any]) -> set[str]:
    """The physical networks an agent's configurations map (Neutron's _get_phys_nets)."""
    return {name for key in MAPPING_KEYS if isinstance(configurations.get(key), dict)
            for name in configurations[key]}


def _configurations(raw: str | None) -> dict[str, Any]:
    try:
        conf = json.loads(raw or "{}")
    except ValueError:
        return {}
    return conf if isinstance(conf, dict) else {}


def _segment(row: Any) -> dict[str, Any]:
    return {"id": row.id, "network_id": row.network_id, "network_type": row.network_type,
            "physical_network": row.physical_network, "segmentation_id": row.segmentation_id}


class HostMappings:
    def __init__(self, mech: MechanismManager) -> None:
        self.mech = mech
        # hosts whose mappings this process has synced from an agent row it found (not
        # one it created): the first report of any other host syncs it
        self.synced: set[str] = set()

    def _agents(self, conn: Connection, *, host: str | None, exclusive: bool
                ) -> list[dict[str, Any]]:
        """The agents the mechanism drivers bind with (of ``host``, or all), their rows
        locked (in id order) before they are read."""
        types = sorted(self.mech.agent_types())
        if not types:
            return []
        where = [_ag.agent_type.in_(types)] + ([_ag.host == host] if host is not None else [])
        if conn.dialect.name != "sqlite":  # (SQLite: one writer at a time)
            conn.execute(sa.select(_ag.id).where(*where).order_by(_ag.id)
                         .with_for_update(read=not exclusive)).all()
        return [{"host": h, "agent_type": a, "configurations": _configurations(c)}
                for h, a, c in conn.execute(sa.select(_ag.host, _ag.agent_type,
                                                      _ag.configurations).where(*where))]

    def _reaches(self, segment: dict[str, Any], agents: Iterable[dict[str, Any]]) -> bool:
        return any(self.mech.check_segment_for_agent(segment, a) for a in agents)

    def sync_host(self, conn: Connection, host: str) -> tuple[set[str], set[str]]:
        """The host's mappings made what its agents map now. Returns the segments
        (ids) mapped and unmapped."""
        agents = self._agents(conn, host=host, exclusive=True)
        physnets = set().union(*(physnets_of(a["configurations"]) for a in agents))
        wanted: set[str] = set()
        if physnets:
            rows = conn.execute(sa.select(t.network_segments).where(
                _seg.physical_network.in_(sorted(physnets))))
            wanted = {r.id for r in rows if self._reaches(_segment(r), agents)}
        have = set(conn.scalars(sa.select(_m.segment_id).where(_m.host == host)))
        gone, new = have - wanted, wanted - have
        if gone:
            conn.execute(sa.delete(t.segment_host_mappings).where(
                _m.host == host, _m.segment_id.in_(sorted(gone))))
        if new:
            conn.execute(sa.insert(t.segment_host_mappings),
                         [{"segment_id": s, "host": host} for s in sorted(new)])
        return new, gone

    def map_segments(self, conn: Connection, segment_ids: list[str]) -> None:
        """New segments mapped to the hosts whose agents reach them."""
        rows = conn.execute(sa.select(t.network_segments).where(
            _seg.id.in_(segment_ids), _seg.physical_network.is_not(None))).all()
        if not rows:
            return
        agents = self._agents(conn, host=None, exclusive=False)
        mappings = [{"segment_id": r.id, "host": h} for r in rows
                    for h in sorted({a["host"] for a in agents
                                     if self._reaches(_segment(r), [a])})]
        if mappings:
            conn.execute(sa.insert(t.segment_host_mappings), mappings)

    def needs_sync(self, original: dict[str, Any] | None, agent: dict[str, Any],
                   start_flag: bool) -> bool:
        """Whether a report changes what its host may map (see the module doc)."""
        if agent["agent_type"] not in self.mech.agent_types():
            return False
        return (original is None or start_flag or agent["host"] not in self.synced
                or _reach_keys(original) != _reach_keys(agent))


def _reach_keys(agent: dict[str, Any]) -> dict[str, Any]:
    """What of an agent's configurations the drivers' checks read (Neutron compares them
    all; a Linux bridge agent's ``devices`` count changes with every port, and would make
    each such heartbeat a sync)."""
    conf = agent.get("configurations") or {}
    return {k: conf.get(k) for k in (*MAPPING_KEYS, "tunnel_types")}
