"""The service plugins of one module each (core/service_plugins.py): RBAC policies on
networks, agents with DHCP scheduling and the hints to agents, IP availability."""

from __future__ import annotations

from typing import Any

from neutrino.core.callbacks import Event, Payload, Resource
from neutrino.core.service_plugins import PluginContext, ServicePlugin
from neutrino.db import tables as t
from neutrino.schema import agent, rbac
from neutrino.services.agent_notifier import AgentNotifier, subnet_changed
from neutrino.services.agent_scheduler import AgentSchedulerService
from neutrino.services.agents import DHCP_AGENT, L3_AGENT, AgentService
from neutrino.services.availability_zones import NetworkAvailabilityZones
from neutrino.services.dhcp_scheduler import DhcpScheduler
from neutrino.services.ip_availability import IpAvailabilityService
from neutrino.services.rbac import RbacService


class RbacPlugin(ServicePlugin):
    """/v2.0/rbac-policies; other plugins add their object types
    (``register_object_type``)."""

    supported_extension_aliases = ("rbac-policies",)

    def __init__(self, context: PluginContext) -> None:
        super().__init__(context)
        context.quotas.register("rbac_policy", t.network_rbacs)
        self.service = RbacService(context.db, context.core.networks, context.quotas)

    def collections(self) -> list[tuple[Any, Any, dict[str, Any]]]:
        return [(rbac.resource(), self.service, {})]


class DhcpAgentSchedulerPlugin(ServicePlugin):
    """/v2.0/agents, networks scheduled to DHCP agents, and the hints that tell agents
    of changes (a subscriber of the core's events, services/agent_notifier.py)."""

    supported_extension_aliases = (
        "agent",
        # branch agentsaz: docs/agent-scheduling.md
        "dhcp_agent_scheduler", "agent-resources-synced", "agent_sort_key",
        "availability_zone", "availability_zone_filter", "network_availability_zone")

    def __init__(self, context: PluginContext) -> None:
        super().__init__(context)
        conf, db = context.conf, context.db
        self.agents = AgentService(conf, db, on_enabled=self._agent_enabled,
                                   on_deleted=self._agent_deleted,
                                   registry=context.registry)
        self.notifier = AgentNotifier(conf, db, context.bus)
        self.dhcp = DhcpScheduler(conf, db, context.core, self.notifier)
        self._wire_agent_scheduling(context)
        # a subnet's network (re)scheduled first, its hosts hinted after
        context.registry.subscribe(self._subnet, Resource.SUBNET, Event.AFTER_CREATE)
        context.registry.subscribe(self._subnet, Resource.SUBNET, Event.AFTER_UPDATE)
        context.registry.subscribe(self._subnet, Resource.SUBNET, Event.AFTER_DELETE)
        self.notifier.subscribe(context.registry)

    # --- agent scheduling, availability zones (branch agentsaz) -----------------------------
    def _wire_agent_scheduling(self, context: PluginContext) -> None:
        """Manual DHCP / L3 scheduling (services/agent_scheduler.py), networks' zones
        (services/availability_zones.py)."""
        self.agent_scheduler = AgentSchedulerService(context.conf, context.db, context.core,
                                                     self.dhcp, self.notifier)
        context.extensions.register(NetworkAvailabilityZones(context.conf))

    def _agent_enabled(self, agent: dict[str, Any]) -> None:
        """An agent an admin enabled is given what waits for an agent (as at its resync
        in Neutron)."""
        if not agent["alive"]:
            return  # it is given its share when it reports (agent_rpc.py)
        l3 = self.context.core.get_plugin("router")
        if agent["agent_type"] == DHCP_AGENT:
            self.dhcp.auto_schedule(agent["id"], agent["host"])
        elif agent["agent_type"] == L3_AGENT and l3 is not None:
            l3.scheduler.auto_schedule(agent["id"], agent["host"])

    def _agent_deleted(self, network_ids: list[str], router_ids: list[str]) -> None:
        """A deleted agent's networks and routers go to the others at once."""
        for network_id in network_ids:
            self.dhcp.sync_network(network_id)
        l3 = self.context.core.get_plugin("router")
        if l3 is not None:
            l3.scheduler.schedule_orphans(router_ids)

    def _subnet(self, resource: Resource, event: Event, trigger: Any, p: Payload) -> None:
        if subnet_changed(event, p):
            self.dhcp.sync_network(p.latest_state["network_id"])

    def collections(self) -> list[tuple[Any, Any, dict[str, Any]]]:
        return [(agent.resource(), self.agents, {"allow_bulk": False})]


class IpAvailabilityPlugin(ServicePlugin):
    """/v2.0/network-ip-availabilities (Neutron's network_ip_availability)."""

    supported_extension_aliases = ("network-ip-availability",
                                   "network-ip-availability-details")

    def __init__(self, context: PluginContext) -> None:
        super().__init__(context)
        self.service = IpAvailabilityService(context.db)
