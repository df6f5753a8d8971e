"""The ``subnet_allocation`` service plugin: subnet pools and address scopes. Subnets
are allocated from pools in their create's transaction (a SUBNET BEFORE_CREATE
subscriber); networks show their address scopes (an extension driver)."""

from __future__ import annotations

from typing import Any

from neutrino.core.callbacks import Event, Payload, Resource
from neutrino.core.service_plugins import PluginContext, ServicePlugin
from neutrino.db import tables as t
from neutrino.schema import address_scope, subnetpool
from neutrino.services.subnetpools import rbac as subnetpool_rbac
from neutrino.services.subnetpools.network_scopes import NetworkAddressScopes
from neutrino.services.subnetpools.pools import SubnetPoolService
from neutrino.services.subnetpools.scopes import AddressScopeService


class SubnetAllocationPlugin(ServicePlugin):
    supported_extension_aliases = (
        "subnet_allocation", "default-subnetpools", "subnetpool-prefix-ops",
        "subnet_onboard", "address-scope", "rbac-subnetpool", "rbac-address-scope")

    def __init__(self, context: PluginContext) -> None:
        super().__init__(context)
        context.quotas.register("subnetpool", t.subnetpools)
        self.pools = SubnetPoolService(context.db, context.quotas)
        self.scopes = AddressScopeService(context.db)
        context.registry.subscribe(self._allocate, Resource.SUBNET, Event.BEFORE_CREATE)
        context.extensions.register(NetworkAddressScopes())
        rbac = context.plugins.get("rbac")
        if rbac is not None:
            for name, handler in subnetpool_rbac.handlers().items():
                rbac.service.register_object_type(name, handler)

    def _allocate(self, resource: Resource, event: Event, trigger: Any, p: Payload) -> None:
        p.metadata["cidr"], p.metadata["subnetpool_id"] = self.pools.allocate(
            p.conn, p.context, p.resource_id, p.request_body, p.metadata["cidr"])  # type: ignore[arg-type]

    def collections(self) -> list[tuple[Any, Any, dict[str, Any]]]:
        return [(subnetpool.resource(), self.pools, {}),
                (address_scope.resource(), self.scopes, {})]
