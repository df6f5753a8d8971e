"""The ``segments`` service plugin (Neutron's of that name, loaded through
``[DEFAULT] service_plugins``): /v2.0/segments, and what routed networks show and do
beyond the core — a network's ``l2_adjacency``, a port's ``ip_allocation`` (both shown
only while this plugin is loaded, as Neutron's), and the host routes between the
subnets of a routed network's segments (peer_routes.py), and which hosts reach which
segments (host_mappings.py).

The core keeps the rest, as Neutron's IPAM does: subnets on segments (all or none of a
network's), addresses from the segment of the port's host, deferred allocation
(core/ipam/routed.py)."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from neutrino.context import Context
from neutrino.core.agent_rows import agents_on_host
from neutrino.core.callbacks import Event, Payload
from neutrino.core.callbacks import Resource as CbResource
from neutrino.core.extensions import Dicts, ExtensionDriver
from neutrino.core.service_plugins import PluginContext, ServicePlugin
from neutrino.db import tables as t
from neutrino.db.listing import of_rows
from neutrino.schema import segment as segment_schema
from neutrino.services.agents import DHCP_AGENT
from neutrino.services.segments import peer_routes
from neutrino.services.segments.host_mappings import HostMappings
from neutrino.services.segments.service import SegmentService

_s = t.subnets.c


class RoutedNetworkDriver(ExtensionDriver):
    """l2_adjacency of networks, ip_allocation of ports."""

    name = "segments"
    # ports' ip_allocation: a column of the port's row (core/port_dict.py shows it)
    port_columns = {"ip_allocation": ("ip_allocation",
                                      segment_schema.IP_ALLOCATION_IMMEDIATE)}

    def extend_network_dicts(self, conn: Connection, rows: list[Any], results: Dicts,
                             page: sa.Subquery | None = None) -> None:
        routed = set(conn.scalars(sa.select(_s.network_id).distinct().where(
            of_rows(_s.network_id, [r.id for r in rows], page), _s.segment_id.is_not(None))))
        for d in results:
            d["l2_adjacency"] = d["id"] not in routed

    def process_create_network(self, ctx: Context, conn: Connection, data: dict[str, Any],
                               result: dict[str, Any]) -> None:
        result["l2_adjacency"] = True  # no subnets yet

    def process_create_ports(self, ctx: Context, conn: Connection, items: Dicts,
                             results: Dicts) -> None:
        p = t.ports.c
        found = dict(conn.execute(sa.select(p.id, p.ip_allocation).where(
            p.id.in_([d["id"] for d in results]))).all())
        for d in results:
            d["ip_allocation"] = found.get(d["id"]) or segment_schema.IP_ALLOCATION_IMMEDIATE


def _on_subnet(resource: CbResource, event: Event, trigger: Any, payload: Payload) -> None:
    peer_routes.on_subnet_event(event.value, payload)


class HostMappingEvents:
    """Segment host mappings kept from agents' reports and networks created with their
    segments (host_mappings.py); DHCP agents of a host that now reaches more segments
    are given what these need (services/dhcp_scheduler.py)."""

    def __init__(self, context: PluginContext, mappings: HostMappings) -> None:
        self.context = context
        self.mappings = mappings
        registry = context.registry
        for event in (Event.PRECOMMIT_CREATE, Event.PRECOMMIT_UPDATE):
            registry.subscribe(self._reported, CbResource.AGENT, event)
        for event in (Event.AFTER_CREATE, Event.AFTER_UPDATE):
            registry.subscribe(self._after_report, CbResource.AGENT, event)
        registry.subscribe(self._network_created, CbResource.NETWORK, Event.PRECOMMIT_CREATE)

    def _reported(self, resource: CbResource, event: Event, trigger: Any,
                  payload: Payload) -> None:
        original, agent = payload.states
        for key in ("mapped", "synced"):  # (a retried transaction starts over)
            payload.metadata.pop(key, None)
        if self.mappings.needs_sync(original, agent, payload.metadata.get("start_flag", False)):
            mapped, _ = self.mappings.sync_host(payload.conn, agent["host"])
            payload.metadata["mapped"] = sorted(mapped)
            payload.metadata["synced"] = original is not None

    def _after_report(self, resource: CbResource, event: Event, trigger: Any,
                      payload: Payload) -> None:
        agent = payload.latest_state
        if payload.metadata.get("synced"):
            self.mappings.synced.add(agent["host"])
        dhcp = self.context.plugins.get("dhcp_agent_scheduler")
        if payload.metadata.get("mapped") and dhcp is not None:
            scheduler = dhcp.dhcp
            on_host = self.context.db.read(lambda conn: agents_on_host(
                conn, self.context.conf, agent["host"]))
            for other in on_host:
                if (other["agent_type"] == DHCP_AGENT and other["alive"]
                        and other["admin_state_up"]):
                    scheduler.auto_schedule(other["id"], other["host"])

    def _network_created(self, resource: CbResource, event: Event, trigger: Any,
                         payload: Payload) -> None:
        conn = payload.conn
        self.mappings.map_segments(conn, list(conn.scalars(sa.select(t.network_segments.c.id)
                                   .where(t.network_segments.c.network_id
                                          == payload.resource_id))))


class SegmentsPlugin(ServicePlugin):
    supported_extension_aliases = tuple(e.alias for e in segment_schema.EXTENSIONS)

    def __init__(self, context: PluginContext) -> None:
        super().__init__(context)
        self.host_mappings = HostMappings(context.core.mech)
        self.segments = SegmentService(context.core, self.host_mappings)
        HostMappingEvents(context, self.host_mappings)
        context.extensions.register(RoutedNetworkDriver())
        for event in (Event.PRECOMMIT_CREATE, Event.PRECOMMIT_UPDATE, Event.PRECOMMIT_DELETE):
            context.registry.subscribe(_on_subnet, CbResource.SUBNET, event)

    def collections(self) -> list[tuple[Any, Any, dict[str, Any]]]:
        return [(segment_schema.resource(), self.segments, {})]
