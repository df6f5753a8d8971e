"""The ``auto_allocate`` service plugin (Neutron's, always loaded as in Neutron):
GET/DELETE /v2.0/auto-allocated-topology/{project_id} and networks' ``is_default`` (an
extension driver). It builds with the core's networks and subnets and the ``router``
plugin's routers, found when a request comes (the router plugin loads after the default
plugins); without it there are no external networks, so every request is 409
AutoAllocationFailure."""

from __future__ import annotations

from neutrino.core.service_plugins import PluginContext, ServicePlugin
from neutrino.services.auto_allocate.default_external import DefaultExternalNetwork
from neutrino.services.auto_allocate.topology import AutoAllocatedTopologyService


class AutoAllocatePlugin(ServicePlugin):
    supported_extension_aliases = ("auto-allocated-topology",)

    def __init__(self, context: PluginContext) -> None:
        super().__init__(context)
        context.extensions.register(DefaultExternalNetwork())
        self.service = AutoAllocatedTopologyService(context.core)
