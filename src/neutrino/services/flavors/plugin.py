"""The ``flavors`` service plugin (Neutron's FlavorsPlugin, always loaded as in Neutron):
flavors, service profiles and service providers (extensions flavors, service-type).
Routers' flavor_id (l3-flavors) is the router plugin's, which checks it with
``FlavorService.check_router_flavor`` (services/l3/plugin.py)."""

from __future__ import annotations

from typing import Any

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

    def collections(self) -> list[tuple[Any, Any, dict[str, Any]]]:
        return [(flavor.flavor(), self.flavors, {}),
                (flavor.service_profile(), self.service_profiles, {})]
