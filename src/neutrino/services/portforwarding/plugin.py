"""The ``port_forwarding`` service plugin (Neutron's PortForwardingPlugin): floating IP
port forwardings over the ``router`` plugin's floating IPs (docs/port-forwarding.md).

It listens to the core's port writes, as Neutron's pf plugin does: deleting the internal
port, or taking from it the address a forwarding targets, deletes those forwardings (a
floating IP left with none leaves its router), and the routers' L3 agents hear of it.
"""

from __future__ import annotations

from typing import Any

from neutrino.core.callbacks import Event, Payload, Resource
from neutrino.core.service_plugins import PluginContext, ServicePlugin
from neutrino.services.l3.port_guard import fixed_addresses
from neutrino.services.portforwarding import rows
from neutrino.services.portforwarding.service import PortForwardingService

# the payload metadata key of the routers to tell after the port's write (the metadata
# is shared with the router plugin's subscribers: its own key)
_ROUTERS = "port_forwarding_routers"


class PortForwardingPlugin(ServicePlugin):
    supported_extension_aliases = (
        "floating-ip-port-forwarding", "floating-ip-port-forwarding-description",
        "expose-port-forwarding-in-fip", "floating-ip-port-forwarding-detail")

    def __init__(self, context: PluginContext) -> None:
        super().__init__(context)
        l3 = context.plugins.get("router")
        if l3 is None:
            raise SystemExit("neutrino: service_plugins: port_forwarding needs the router "
                             "plugin, listed before it")
        self.notify = l3.scheduler.notify
        self.port_forwardings = PortForwardingService(context.db, context.core,
                                                      l3.floatingips)
        registry = context.registry
        registry.subscribe(self.port_deleting, Resource.PORT, Event.PRECOMMIT_DELETE)
        registry.subscribe(self.port_updating, Resource.PORT, Event.PRECOMMIT_UPDATE)
        registry.subscribe(self.port_written, Resource.PORT, Event.AFTER_DELETE)
        registry.subscribe(self.port_written, Resource.PORT, Event.AFTER_UPDATE)

    def port_deleting(self, resource: Resource, event: Event, trigger: Any,
                      p: Payload) -> None:
        if p.conn is not None and p.latest_state is not None:
            p.metadata[_ROUTERS] = rows.remove_for_port(p.conn, p.latest_state["id"])

    def port_updating(self, resource: Resource, event: Event, trigger: Any,
                      p: Payload) -> None:
        if p.conn is None or len(p.states) < 2:
            return
        before, after = fixed_addresses(p.states[0]), fixed_addresses(p.states[-1])
        if before != after:
            p.metadata[_ROUTERS] = rows.remove_for_port(
                p.conn, p.states[-1]["id"], keep=[a for a in after if a])

    def port_written(self, resource: Resource, event: Event, trigger: Any,
                     p: Payload) -> None:
        routers = p.metadata.get(_ROUTERS)
        if routers:  # (a failure is logged: a lost hint is a resync later)
            self.notify(routers)
