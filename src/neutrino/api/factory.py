"""Builds the WSGI application from configuration: database, plugin, resources."""

from __future__ import annotations

from oslo_config import cfg

from neutrino import config
from neutrino.api import auth
from neutrino.api import l3 as l3_api
from neutrino.api import subnetpools as subnetpools_api
from neutrino.api import tags as tags_api
from neutrino.api.app import App, Collection
from neutrino.api.floatingip_pools import FloatingIPPoolController
from neutrino.api.ip_availability import IpAvailabilityController
from neutrino.api.parents import ParentCheck
from neutrino.api.port_bindings import PortBindingController
from neutrino.api.quotas import QuotaController
from neutrino.core.binding_extended import PortBindingService
from neutrino.core.plugin import Ml2Plugin
from neutrino.db.engine import Database
from neutrino.policy import Policy
from neutrino.schema import (
    address_scope,
    agent,
    default_security_group_rule,
    floatingip,
    network,
    port,
    rbac,
    router,
    security_group,
    security_group_rule,
    subnet,
    subnetpool,
)
from neutrino.schema.extensions import IMPLEMENTED
from neutrino.schema.extensions import check as check_extensions
from neutrino.services.ip_availability import IpAvailabilityService
from neutrino.services.notifications import api_notifier


def open_database(conf: cfg.ConfigOpts) -> Database:
    return Database(
        config.database_url(conf),
        max_retries=conf.max_retries,
        pool_size=conf.database.max_pool_size,
        max_overflow=conf.database.max_overflow,
    )


def build_app(conf: cfg.ConfigOpts, db: Database, plugin: Ml2Plugin | None = None) -> App:
    plugin = plugin or Ml2Plugin(conf, db)
    collections = [
        Collection(network.resource(), plugin.networks),
        Collection(subnet.resource(), plugin.subnets),
        Collection(port.resource(), plugin.ports),
        Collection(rbac.resource(), plugin.rbac_policies),
        Collection(agent.resource(), plugin.agents, allow_bulk=False),
        Collection(router.resource(), plugin.routers),
        Collection(floatingip.resource(), plugin.floatingips),
        Collection(security_group.resource(), plugin.security_groups),
        Collection(security_group_rule.resource(), plugin.security_group_rules,
                   allow_update=False),
        Collection(subnetpool.resource(), plugin.subnetpools),
        Collection(address_scope.resource(), plugin.address_scopes),
        Collection(default_security_group_rule.resource(),
                   plugin.default_security_group_rules, allow_update=False),
    ]
    extensions = [*IMPLEMENTED, *tags_api.extensions()]
    check_extensions((c.resource for c in collections), extensions)
    return App(
        collections, extensions,
        pagination_max_limit=conf.pagination_max_limit,
        policy=Policy(conf),
        context_factory=auth.context_factory(conf),
        targets=plugin.policy_targets,
        routes={"quotas": QuotaController(plugin.quotas),
                "network-ip-availabilities": IpAvailabilityController(
                    IpAvailabilityService(db)),
                "floatingip_pools": FloatingIPPoolController(db)},
        member_routes={"tags": tags_api.TagController(db, targets=plugin.policy_targets),
                       "bindings": PortBindingController(
                           PortBindingService(conf, db, plugin.ports),
                           targets=plugin.policy_targets),
                       **l3_api.member_routes(plugin.routers),
                       **subnetpools_api.member_routes(plugin.subnetpools)},
        notify=api_notifier(plugin.bus),
        parents=ParentCheck(db),
    )
