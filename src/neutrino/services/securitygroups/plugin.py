"""The ``security_group`` service plugin: security groups and their rules, the default
rules of new groups, groups shared by RBAC; the firewall hints go through the agent
notifier (SECURITY_GROUP AFTER_UPDATE). Ports' groups are the ``port_security``
extension driver's (ports_ext.py)."""

from __future__ import annotations

from typing import Any

from neutrino.core.service_plugins import PluginContext, ServicePlugin
from neutrino.db import tables as t
from neutrino.schema import default_security_group_rule, security_group, security_group_rule
from neutrino.services.securitygroups.default_rules import DefaultRuleService
from neutrino.services.securitygroups.groups import SecurityGroupService
from neutrino.services.securitygroups.rbac import SecurityGroupRbac
from neutrino.services.securitygroups.rules import RuleService


class SecurityGroupPlugin(ServicePlugin):
    supported_extension_aliases = (
        "security-group", "stateful-security-group", "security-groups-normalized-cidr",
        "security-groups-rules-belongs-to-default-sg", "security-groups-default-rules",
        "rbac-security-groups", "security-groups-shared-filtering")

    def __init__(self, context: PluginContext) -> None:
        super().__init__(context)
        db, quotas, registry = context.db, context.quotas, context.registry
        quotas.register("security_group", t.security_groups)
        quotas.register("security_group_rule", t.security_group_rules)
        self.groups = SecurityGroupService(db, quotas, registry)
        self.rules = RuleService(db, quotas, registry, self.groups)
        self.default_rules = DefaultRuleService(db)
        rbac = context.plugins.get("rbac")
        if rbac is not None:
            rbac.service.register_object_type("security_group", SecurityGroupRbac())

    def collections(self) -> list[tuple[Any, Any, dict[str, Any]]]:
        return [(security_group.resource(), self.groups, {}),
                (security_group_rule.resource(), self.rules, {"allow_update": False}),
                (default_security_group_rule.resource(), self.default_rules,
                 {"allow_update": False})]
