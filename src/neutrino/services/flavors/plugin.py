"""The ``flavors`` service plugin (Neutron's FlavorsPlugin, always loaded as in Neutron):
flavors, service profiles and service providers (extensions flavors, service-type).
Routers' flavor_id (l3-flavors) is checked here, in the router create's transaction (a
ROUTER BEFORE_CREATE subscription), as Neutron's L3 driver controller asks its flavors
plugin."""

from __future__ import annotations

from typing import Any

from neutrino.core.callbacks import Event, Payload, Resource
from neutrino.core.service_plugins import PluginContext, ServicePlugin
from neutrino.schema import flavor
from neutrino.services.flavors.flavors import FlavorService, ServiceProfileService
from neutrino.services.flavors.providers import ServiceProviders


class FlavorsPlugin(ServicePlugin):
    supported_extension_aliases = ("flavors", "service-type")

    def __init__(self, context: PluginContext) -> None:
        super().__init__(context)
        self.providers = ServiceProviders(context.conf)
        self.flavors = FlavorService(context.db, self.providers)
        self.service_profiles = ServiceProfileService(context.db, self.providers)
        context.registry.subscribe(self._router_creating, Resource.ROUTER, Event.BEFORE_CREATE)

    def _router_creating(self, resource: Resource, event: Event, trigger: Any,
                         payload: Payload) -> None:
        flavor_id = (payload.request_body or {}).get("flavor_id")
        if flavor_id is not None:
            self.flavors.check_router_flavor(payload.conn, flavor_id)

    def collections(self) -> list[tuple[Any, Any, dict[str, Any]]]:
        return [(flavor.flavor(), self.flavors, {}),
                (flavor.service_profile(), self.service_profiles, {})]
