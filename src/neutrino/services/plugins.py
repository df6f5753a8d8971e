"""The service plugins of one module each (core/service_plugins.py): RBAC policies on
networks, agents with DHCP scheduling and the hints to agents, IP availability."""

from __future__ import annotations

from typing import Any

from neutrino.core.callbacks import Event, Payload, Resource
from neutrino.core.service_plugins import PluginContext, ServicePlugin
from neutrino.db import tables as t
from neutrino.schema import agent, rbac
from neutrino.services.agent_notifier import AgentNotifier, subnet_changed
from neutrino.services.agents import AgentService
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

    supported_extension_aliases = ("agent",)

    def __init__(self, context: PluginContext) -> None:
        super().__init__(context)
        conf, db = context.conf, context.db
        self.agents = AgentService(conf, db)
        self.notifier = AgentNotifier(conf, db, context.bus)
        self.dhcp = DhcpScheduler(conf, db, context.core, self.notifier)
        # a subnet's network (re)scheduled first, its hosts hinted after
        context.registry.subscribe(self._subnet, Resource.SUBNET, Event.AFTER_CREATE)
        context.registry.subscribe(self._subnet, Resource.SUBNET, Event.AFTER_UPDATE)
        context.registry.subscribe(self._subnet, Resource.SUBNET, Event.AFTER_DELETE)
        self.notifier.subscribe(context.registry)

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
