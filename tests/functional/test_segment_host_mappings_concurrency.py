"""Segment host mappings under concurrent writers, on every database backend: agents
reporting new mappings (services/agents.py report_state, whose transaction syncs the
host's mappings through the segments plugin's subscriber) while segments are created on
the same physical networks (mapped in their own transaction), each in its own
transaction as concurrent API processes run them. Only the database's locks keep the
result right: afterwards every host is mapped to exactly the segments its agent reaches."""

from __future__ import annotations

import itertools
import threading
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import sqlalchemy as sa

from neutrino.config import make_conf
from neutrino.core import records
from neutrino.core.callbacks import CallbackRegistry
from neutrino.core.mech.linuxbridge import LinuxbridgeMechanismDriver
from neutrino.core.mech.manager import MechanismManager
from neutrino.core.service_plugins import PluginContext
from neutrino.db import tables as t
from neutrino.db.engine import Database
from neutrino.services.agents import AgentService
from neutrino.services.segments.host_mappings import HostMappings
from neutrino.services.segments.plugin import HostMappingEvents

THREADS = 8
HOSTS = 4
ROUNDS = 4
PHYSNETS = ["p0", "p1", "p2"]
LB = "Linux bridge agent"


def _wire(db: Database) -> tuple[AgentService, HostMappings]:
    """The agents service and the segments plugin's mappings, over one registry, as the
    server wires them (core and other plugins aside)."""
    conf = make_conf()
    registry = CallbackRegistry()
    mappings = HostMappings(MechanismManager(conf, [LinuxbridgeMechanismDriver(conf)]))
    context = PluginContext(conf=conf, db=db, bus=None, core=None,  # type: ignore[arg-type]
                            registry=registry, quotas=None,  # type: ignore[arg-type]
                            extensions=None)  # type: ignore[arg-type]
    HostMappingEvents(context, mappings)
    return AgentService(conf, db, registry=registry), mappings


def _report(agents: AgentService, host: str, physnets: list[str], *,
            start_flag: bool = False) -> None:
    agents.report_state({"agent_type": LB, "host": host, "start_flag": start_flag,
                         "configurations": {"interface_mappings": {p: "eth1" for p in physnets}}})


def _network(db: Database) -> str:
    net_id = records.new_id()
    now = records.now()
    db.write(lambda conn: conn.execute(sa.insert(t.networks).values(
        id=net_id, project_id="p", name="", status="ACTIVE", admin_state_up=True, mtu=1500,
        description="", created_at=now, updated_at=now, revision_number=1)))
    return net_id


def _segment(db: Database, mappings: HostMappings, network_id: str, physnet: str | None,
             network_type: str = "flat") -> str:
    """A segment created as SegmentService.create_bulk does: its row and its mappings in
    one transaction."""
    seg_id = records.new_id()

    def run(conn: sa.Connection) -> None:
        conn.execute(sa.insert(t.network_segments).values(
            id=seg_id, network_id=network_id, network_type=network_type,
            physical_network=physnet, segment_index=0))
        mappings.map_segments(conn, [seg_id])

    db.write(run)
    return seg_id


def _mapped(db: Database) -> set[tuple[str, str]]:
    m = t.segment_host_mappings.c
    return set(db.read(lambda conn: conn.execute(sa.select(m.segment_id, m.host)).all()))


def _race(fns: list[Callable[[], Any]]) -> None:
    barrier = threading.Barrier(len(fns))

    def run(fn: Callable[[], Any]) -> Any:
        barrier.wait()
        return fn()

    with ThreadPoolExecutor(len(fns)) as pool:
        for f in [pool.submit(run, fn) for fn in fns]:
            f.result()


def _round(db: Database, agents: AgentService, mappings: HostMappings, net: str,
           wanted: dict[str, list[str]]) -> dict[str, str]:
    """Each host's agent reports ``wanted`` while segments are created on the physical
    networks concerned, all at once. Returns the segments made (id: physical network)."""
    made: dict[str, str] = {}
    lock = threading.Lock()

    def create(physnet: str) -> None:
        seg = _segment(db, mappings, net, physnet)
        with lock:
            made[seg] = physnet

    fns: list[Callable[[], Any]] = [
        (lambda h=h: _report(agents, h, wanted[h])) for h in wanted]
    fns += [(lambda p=p: create(p)) for p in itertools.islice(
        itertools.cycle(PHYSNETS), THREADS - len(wanted))]
    _race(fns)
    return made


def test_reports_and_segments_map_what_agents_reach(db: Database) -> None:
    agents, mappings = _wire(db)
    net = _network(db)
    hosts = [f"h{i}-{uuid.uuid4().hex[:6]}" for i in range(HOSTS)]
    for h in hosts:
        _report(agents, h, [], start_flag=True)
    # a segment without a physical network maps to no host
    _segment(db, mappings, net, None, "vxlan")
    configs: dict[str, list[str]] = {}
    segments: dict[str, str] = {}
    for round_ in range(ROUNDS):
        wanted = {h: PHYSNETS[(i + round_) % 3:(i + round_) % 3 + 1 + i % 2]
                  for i, h in enumerate(hosts)}
        segments.update(_round(db, agents, mappings, net, wanted))
        configs.update(wanted)
        expected = {(seg, h) for seg, physnet in segments.items() for h in hosts
                    if physnet in configs[h]}
        assert _mapped(db) == expected, f"round {round_}"


def test_a_host_is_synced_from_all_its_agents_and_keeps_them_when_one_goes(
        db: Database) -> None:
    agents, mappings = _wire(db)
    net = _network(db)
    seg = {p: _segment(db, mappings, net, p) for p in PHYSNETS}
    host = f"h-{uuid.uuid4().hex[:6]}"
    _report(agents, host, ["p0"], start_flag=True)
    # another agent type a driver does not bind with changes nothing
    agents.report_state({"agent_type": "DHCP agent", "host": host, "start_flag": True,
                         "configurations": {"bridge_mappings": {"p1": "br"}}})
    assert _mapped(db) == {(seg["p0"], host)}
    _report(agents, host, ["p1", "p2"])
    assert _mapped(db) == {(seg["p1"], host), (seg["p2"], host)}
    # deleting a segment deletes its mappings (cascade)
    db.write(lambda conn: conn.execute(sa.delete(t.network_segments).where(
        t.network_segments.c.id == seg["p1"])))
    assert _mapped(db) == {(seg["p2"], host)}
    # a host heard of first by another process is synced once: a row written
    # meanwhile by hand is corrected at its first report there, not at later ones
    db.write(lambda conn: conn.execute(sa.insert(t.segment_host_mappings).values(
        segment_id=seg["p0"], host=host)))
    other_agents, other = _wire(db)
    _report(other_agents, host, ["p1", "p2"])
    assert _mapped(db) == {(seg["p2"], host)}
    assert host in other.synced
