"""The ``router`` service plugin (Neutron's L3RouterPlugin): external networks, routers,
floating IPs and their scheduling to L3 agents."""

from __future__ import annotations

from typing import Any

from neutrino.core.callbacks import Event, Resource
from neutrino.core.service_plugins import PluginContext, ServicePlugin
from neutrino.db import tables as t
from neutrino.schema import floatingip, router
from neutrino.services.l3.external import ExternalNetworks
from neutrino.services.l3.floatingips import FloatingIPService
from neutrino.services.l3.port_guard import L3PortGuard
from neutrino.services.l3.routers import RouterService
from neutrino.services.l3.scheduler import L3Scheduler


class RouterPlugin(ServicePlugin):
    supported_extension_aliases = (
        "external-net", "router", "ext-gw-mode", "extraroute", "extraroute-atomic",
        "fip-port-details", "floatingip-pools", "l3-flavors",
        # branch agentsaz (docs/agent-scheduling.md)
        "l3_agent_scheduler", "router_availability_zone",
        # branch portfwd: the L3 port guard refuses a router interface's IP change
        "l3-port-ip-change-not-allowed",
        # branch smallext: a floating IP's router_id may be named (services/l3/floatingips.py)
        "floating-ip-router-writable")

    def __init__(self, context: PluginContext) -> None:
        super().__init__(context)
        conf, db, core, quotas = context.conf, context.db, context.core, context.quotas
        self.scheduler = L3Scheduler(conf, db, core)
        self.routers = RouterService(conf, db, core, self.scheduler, quotas)
        self.floatingips = FloatingIPService(conf, db, core, self.scheduler, quotas)
        quotas.register("router", t.routers)
        quotas.register("floatingip", t.floatingips)
        external = ExternalNetworks()
        context.extensions.register(external)
        context.registry.subscribe(external.before_network_delete, Resource.NETWORK,
                                   Event.BEFORE_DELETE)
        # the ports routers and floating IPs own (services/l3/port_guard.py)
        L3PortGuard(context.registry, self.scheduler.notify)

    def collections(self) -> list[tuple[Any, Any, dict[str, Any]]]:
        return [(router.resource(), self.routers, {}),
                (floatingip.resource(), self.floatingips, {})]
