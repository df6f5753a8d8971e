"""The ``address_group`` service plugin (always loaded: Neutron keeps address groups in
its ML2 plugin): /v2.0/address-groups with their add/remove_addresses actions
(api/address_groups.py, routed by this plugin's name), their RBAC object type, rules'
``remote_address_group_id``, and /v2.0/security-groups-default-statefulness. An address
change is published as SECURITY_GROUP AFTER_UPDATE of the groups whose rules name it, so
the agent notifier hints their hosts as for a rule change. No quota (Neutron has none)."""

from __future__ import annotations

from typing import Any

from neutrino.core.service_plugins import PluginContext, ServicePlugin
from neutrino.schema import address_group, security_groups_default_statefulness
from neutrino.services.addressgroups import rbac
from neutrino.services.addressgroups.groups import AddressGroupService
from neutrino.services.securitygroups.default_statefulness import DefaultStatefulnessService
from neutrino.services.securitygroups.rules import publish_changed


class AddressGroupPlugin(ServicePlugin):
    supported_extension_aliases = ("address-group", "rbac-address-group",
                                   "security-groups-remote-address-group",
                                   "security-groups-default-statefulness")

    def __init__(self, context: PluginContext) -> None:
        super().__init__(context)
        registry = context.registry
        self.groups = AddressGroupService(
            context.db, on_change=lambda ids: publish_changed(registry, self.groups, ids))
        self.default_statefulness = DefaultStatefulnessService(context.db)
        rbac_plugin = context.plugins.get("rbac")
        if rbac_plugin is not None:
            for object_type, handler in rbac.handlers().items():
                rbac_plugin.service.register_object_type(object_type, handler)

    def collections(self) -> list[tuple[Any, Any, dict[str, Any]]]:
        return [(address_group.resource(), self.groups, {}),
                (security_groups_default_statefulness.resource(),
                 self.default_statefulness, {})]
