"""Routers scheduled to L3 agents (``router_l3_agent_bindings``), and the hints that tell
an L3 agent its routers changed (docs/agent-protocol.md, "L3").

A router goes to one live, admin-up L3 agent, the one with the fewest routers, when it is
created (inside the create's transaction: its ports are created with that agent's host
as binding:host_id, so the Linux bridge mechanism driver binds them there). A router
created while no L3 agent was alive stays unscheduled until one reports: every report
of an L3 agent schedules the unscheduled routers to it and moves the ports of its
routers to its host where they are elsewhere (which also repairs an interrupted run).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import TYPE_CHECKING

import sqlalchemy as sa
from oslo_config import cfg
from sqlalchemy.engine import Connection

from neutrino import exceptions as exc
from neutrino import protocol
from neutrino.context import Context
from neutrino.core import binding
from neutrino.core.provisioning import live_clause
from neutrino.db import tables as t
from neutrino.db.engine import Database
from neutrino.protocol import rpc
from neutrino.services import availability_zones as az
from neutrino.services.agents import L3_AGENT
from neutrino.services.l3.owners import ROUTER_PORT_OWNERS, router_leg

if TYPE_CHECKING:
    from neutrino.core.plugin import Ml2Plugin

LOG = logging.getLogger(__name__)

_ag = t.agents.c
_rb = t.router_l3_agent_bindings.c
_rt = t.routers.c
_p = t.ports.c
_b = t.port_bindings.c


_HOSTS = (sa.select(_rb.router_id, _ag.host).join(t.agents, _ag.id == _rb.l3_agent_id)
          .where(_rb.router_id.in_(sa.bindparam("ids", expanding=True))))


class L3Scheduler:
    def __init__(self, conf: cfg.ConfigOpts, db: Database, plugin: Ml2Plugin) -> None:
        self.conf = conf
        self.db = db
        self.plugin = plugin

    # --- reading ---------------------------------------------------------------------------
    @staticmethod
    def hosts_of(conn: Connection, router_ids: Iterable[str]) -> dict[str, str]:
        """{router id: host of its L3 agent} for the scheduled ones."""
        ids = list(router_ids)
        if not ids:
            return {}
        return {r: h for r, h in conn.execute(_HOSTS, {"ids": ids})}

    def host_of(self, conn: Connection, router_id: str) -> str:
        """The host of the router's agent ("" when unscheduled)."""
        return self.hosts_of(conn, [router_id]).get(router_id, "")

    # --- scheduling ------------------------------------------------------------------------
    def schedule(self, conn: Connection, router_id: str) -> str:
        """Inside the router's create: its agent, chosen now if there is one ("" if
        none is alive). Two concurrent schedulings of one router: the primary key keeps
        one and the other transaction is rerun."""
        host = self.host_of(conn, router_id)
        if host:
            return host
        hints = conn.scalar(sa.select(_rt.availability_zone_hints).where(_rt.id == router_id))
        load = (sa.select(sa.func.count()).select_from(t.router_l3_agent_bindings)
                .where(_rb.l3_agent_id == _ag.id).scalar_subquery())
        chosen = conn.execute(
            sa.select(_ag.id, _ag.host)
            .where(_ag.agent_type == L3_AGENT, _ag.admin_state_up.is_(True),
                   live_clause(self.conf), az.in_zones(az.wanted_zones(self.conf, hints)))
            .order_by(load, _ag.created_at, _ag.id).limit(1)).first()
        if chosen is None:
            return ""
        conn.execute(sa.insert(t.router_l3_agent_bindings).values(
            router_id=router_id, l3_agent_id=chosen.id))
        LOG.info("router %s scheduled to the L3 agent on %s", router_id, chosen.host)
        return str(chosen.host)

    def schedule_orphans(self, router_ids: list[str]) -> None:
        """Routers whose agent was deleted, each to the least loaded live agent of its
        zones (if any), their ports moved to its host, the agent hinted."""
        for router_id in router_ids:
            def run(conn: Connection, router_id: str = router_id) -> tuple[str, list[str]]:
                if conn.scalar(sa.select(_rt.id).where(_rt.id == router_id)) is None:
                    return "", []  # deleted meanwhile
                host = self.schedule(conn, router_id)
                agent_id = conn.scalar(sa.select(_rb.l3_agent_id).where(
                    _rb.router_id == router_id))
                return host, (self.ports_elsewhere(conn, agent_id, host, [router_id])
                              if host else [])

            try:
                host, ports = self.db.write(run)
            except exc.NeutronError:
                LOG.exception("rescheduling router %s failed", router_id)
                continue
            if host:
                self.move_ports(ports, host)
                self.notify_hosts({host: [router_id]})

    def auto_schedule(self, agent_id: str, host: str, *, fill: bool = True) -> None:
        """On each report of an admin-up L3 agent: the ports of its routers that are not
        bound to its host move there and, with ``fill`` (the agent (re)started, came
        back or was enabled: when Neutron's agent resyncs), the unscheduled routers whose
        zones it is in come to it. Not on every heartbeat: a router an admin took off
        an agent stays unscheduled until then, as in Neutron."""
        def run(conn: Connection) -> tuple[list[str], list[str]]:
            unscheduled: list[str] = []
            if fill:
                zone = conn.scalar(sa.select(_ag.availability_zone).where(_ag.id == agent_id))
                unscheduled = [r for r, hints in conn.execute(
                    sa.select(_rt.id, _rt.availability_zone_hints).where(
                        sa.not_(sa.exists().where(_rb.router_id == _rt.id)))
                    .order_by(_rt.id))
                    if zone in (az.wanted_zones(self.conf, hints) or [zone])]
            if unscheduled:
                conn.execute(sa.insert(t.router_l3_agent_bindings), [
                    {"router_id": r, "l3_agent_id": agent_id} for r in unscheduled])
                LOG.info("routers %s scheduled to the L3 agent on %s", unscheduled, host)
            return unscheduled, self.ports_elsewhere(conn, agent_id, host)

        try:
            scheduled, moved = self.db.write(run)
        except exc.NeutronError:
            LOG.exception("scheduling routers to the L3 agent on %s failed", host)
            return
        self.move_ports(moved, host)
        if scheduled or moved:
            self.notify_hosts({host: None})

    @staticmethod
    def ports_elsewhere(conn: Connection, agent_id: str, host: str,
                        router_ids: list[str] | None = None) -> list[str]:
        """The ports of the agent's routers (or of these of them) not bound to its host."""
        stmt = (sa.select(_p.id).join(t.port_bindings, _b.port_id == _p.id)
                .join(t.router_l3_agent_bindings, _rb.router_id == _p.device_id)
                .join(t.routers, _rt.id == _p.device_id)
                .where(_rb.l3_agent_id == agent_id,
                       _p.device_owner.in_(ROUTER_PORT_OWNERS), router_leg(_p, _rt),
                       _b.host != host))
        if router_ids is not None:
            stmt = stmt.where(_rb.router_id.in_(router_ids))
        return list(conn.scalars(stmt))

    def move_ports(self, port_ids: list[str], host: str) -> None:
        """Router ports bound to ``host`` (their router's agent's)."""
        admin = Context.admin()
        for port_id in port_ids:
            try:
                self.plugin.ports.update(admin, port_id, {binding.HOST: host})
            except exc.NotFound:
                pass
            except exc.NeutronError as e:
                LOG.error("could not move router port %s to %s: %s", port_id, host, e)

    # --- hints -------------------------------------------------------------------------------
    def notify(self, router_ids: Iterable[str], extra: dict[str, str] | None = None) -> None:
        """After a commit: ``{"routers": [ids]}`` to the host of each router's agent
        (``extra``: {router id: host} known before the commit, e.g. of a deleted
        router)."""
        bus = self.plugin.bus
        ids = sorted(set(router_ids) - set(extra or {}))
        if bus is None or not (ids or extra):
            return
        try:
            hosts = self.db.read(lambda conn: self.hosts_of(conn, ids)) if ids else {}
        except Exception:
            LOG.exception("reading the hosts of routers %s failed", ids)
            return
        hosts.update(extra or {})
        per_host: dict[str, list[str] | None] = {}
        for router_id, host in hosts.items():
            if host:
                per_host.setdefault(host, []).append(router_id)  # type: ignore[union-attr]
        self.notify_hosts(per_host)

    def notify_hosts(self, per_host: dict[str, list[str] | None]) -> None:
        bus = self.plugin.bus
        if bus is None:
            return
        for host, ids in sorted(per_host.items()):
            try:
                bus.publish(rpc.hint_topic(host), protocol.to_wire(
                    rpc.Hint(routers=None if ids is None else sorted(ids))))
            except Exception:  # a lost hint is a resync later
                LOG.exception("router hint to host %s failed", host)

