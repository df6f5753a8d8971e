"""Builds the WSGI application from configuration: database, plugin, resources."""

from __future__ import annotations

from importlib.metadata import entry_points
from typing import Any

from oslo_config import cfg

from neutrino import config
from neutrino.api import address_groups as address_groups_api
from neutrino.api import agent_scheduler as agent_scheduler_api
from neutrino.api import auth
from neutrino.api import flavors as flavors_api
from neutrino.api import l3 as l3_api
from neutrino.api import subnetpools as subnetpools_api
from neutrino.api import tags as tags_api
from neutrino.api.app import App, Collection
from neutrino.api.availability_zones import AvailabilityZoneController
from neutrino.api.floatingip_pools import FloatingIPPoolController
from neutrino.api.ip_availability import IpAvailabilityController
from neutrino.api.parents import ParentCheck
from neutrino.api.port_bindings import PortBindingController
from neutrino.api.port_forwardings import PortForwardingController
from neutrino.api.quotas import QuotaController
from neutrino.core import extensions, service_plugins
from neutrino.core.binding_extended import PortBindingService
from neutrino.core.plugin import Ml2Plugin
from neutrino.db.engine import Database
from neutrino.policy import Policy
from neutrino.schema import network, port, subnet
from neutrino.schema.base import Extension
from neutrino.schema.extensions import IMPLEMENTED
from neutrino.schema.extensions import check as check_extensions
from neutrino.services.notifications import api_notifier


def open_database(conf: cfg.ConfigOpts) -> Database:
    return Database(
        config.database_url(conf),
        max_retries=conf.max_retries,
        pool_size=conf.database.max_pool_size,
        max_overflow=conf.database.max_overflow,
    )


def _extensions(plugin: Ml2Plugin) -> list[Extension]:
    """The core's extensions and those of the loaded plugins and extension drivers: an
    alias that some plugin or driver (loaded or not) claims is listed only if loaded."""
    claimed = {a for group in (service_plugins.GROUP, extensions.GROUP)
               for ep in entry_points(group=group)
               for a in getattr(ep.load(), "supported_extension_aliases", None)
               or getattr(ep.load(), "aliases", ())}
    loaded = plugin.supported_extension_aliases()
    return [e for e in (*IMPLEMENTED, *tags_api.extensions())
            if e.alias not in claimed or e.alias in loaded]


def _routes(plugin: Ml2Plugin) -> tuple[dict[str, Any], dict[str, Any]]:
    """Controllers of routes and member routes, for the loaded plugins only."""
    routes: dict[str, Any] = {"quotas": QuotaController(plugin.quotas)}
    members: dict[str, Any] = {
        "tags": tags_api.TagController(plugin.db, targets=plugin.policy_targets),
        "bindings": PortBindingController(PortBindingService(plugin.conf, plugin.db,
                                                             plugin.ports),
                                          targets=plugin.policy_targets)}
    if (ip := plugin.get_plugin("network_ip_availability")) is not None:
        routes["network-ip-availabilities"] = IpAvailabilityController(ip.service)
    if (l3 := plugin.get_plugin("router")) is not None:
        routes["floatingip_pools"] = FloatingIPPoolController(plugin.db)
        members.update(l3_api.member_routes(l3.routers))
    if (pools := plugin.get_plugin("subnet_allocation")) is not None:
        members.update(subnetpools_api.member_routes(pools.pools))
    if (groups := plugin.get_plugin("address_group")) is not None:
        members.update(address_groups_api.member_routes(groups.groups))
    # branch agentsaz: dhcp_agent_scheduler (and l3_agent_scheduler with the router
    # plugin), availability zones
    if (agents := plugin.get_plugin("dhcp_agent_scheduler")) is not None:
        routes["availability_zones"] = AvailabilityZoneController(plugin.db)
        members.update(agent_scheduler_api.member_routes(
            agents.agent_scheduler, api_notifier(plugin.bus),
            l3=plugin.get_plugin("router") is not None))
    # branch flavors: service-type, flavors' sub-resources, auto-allocated-topology
    if (fl := plugin.get_plugin("flavors")) is not None:
        routes["service-providers"] = flavors_api.service_providers(fl.providers)
        members.update(flavors_api.member_routes(fl.flavors))
    if (aa := plugin.get_plugin("auto_allocate")) is not None:
        routes["auto-allocated-topology"] = flavors_api.auto_allocated_topology(aa.service)
    # branch portfwd: /floatingips/{id}/port_forwardings
    if (pf := plugin.get_plugin("port_forwarding")) is not None:
        members["port_forwardings"] = PortForwardingController(
            pf.port_forwardings, plugin.conf.pagination_max_limit)
    return routes, members


def build_app(conf: cfg.ConfigOpts, db: Database, plugin: Ml2Plugin | None = None) -> App:
    plugin = plugin or Ml2Plugin(conf, db)
    routes, member_routes = _routes(plugin)
    collections = [
        Collection(network.resource(), plugin.networks),
        Collection(subnet.resource(), plugin.subnets),
        Collection(port.resource(), plugin.ports),
        *(Collection(resource, service, **options)
          for p in plugin.service_plugins.values()
          for resource, service, options in p.collections()),
    ]
    # every attribute's extension is one a schema module declares (advertised or not:
    # router:external is on networks whether the router plugin is loaded or not)
    check_extensions((c.resource for c in collections), [*IMPLEMENTED, *tags_api.extensions()])
    return App(
        collections,
        _extensions(plugin),
        pagination_max_limit=conf.pagination_max_limit,
        policy=Policy(conf),
        context_factory=auth.context_factory(conf),
        targets=plugin.policy_targets,
        routes=routes,
        member_routes=member_routes,
        notify=api_notifier(plugin.bus),
        parents=ParentCheck(db),
    )
