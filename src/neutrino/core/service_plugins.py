"""Service plugins, loaded by name as Neutron's: ``[DEFAULT] service_plugins`` (entry points
``neutrino.service_plugins``) plus the ones always loaded (``DEFAULT_SERVICE_PLUGINS``, as
Neutron's own list of defaults). The core imports none of them: each is constructed with a
``PluginContext`` — config, database, bus, the core plugin, the callback registry, the
quota engine, the extension drivers and the plugins loaded before it — and wires itself:
it registers its quota resources and extension drivers and subscribes to core events.

Names (docs/architecture.md): Neutron's where it has one (``router``,
``network_ip_availability``); for what Neutron keeps in its ML2 core plugin, the alias of
the extension (``rbac``, ``security_group``, ``subnet_allocation``,
``dhcp_agent_scheduler``). Plugins load in dependency order: defaults first, in the order
listed, then the configured ones.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from importlib.metadata import entry_points
from typing import TYPE_CHECKING, Any

from oslo_config import cfg

from neutrino.bus import Bus
from neutrino.core.callbacks import CallbackRegistry
from neutrino.core.extensions import ExtensionManager
from neutrino.core.quotas import QuotaService
from neutrino.db.engine import Database

if TYPE_CHECKING:
    from neutrino.core.plugin import Ml2Plugin

GROUP = "neutrino.service_plugins"
# loaded whatever service_plugins says (Neutron: DEFAULT_SERVICE_PLUGINS); the order is
# the dependency order (security groups and subnet pools register RBAC object types)
DEFAULT_SERVICE_PLUGINS = ("rbac", "dhcp_agent_scheduler", "security_group",
                           "subnet_allocation", "network_ip_availability",
                           "address_group",  # (branch addrgroups)
                           # branch flavors: Neutron's defaults too
                           "flavors", "auto_allocate")


@dataclass
class PluginContext:
    conf: cfg.ConfigOpts
    db: Database
    bus: Bus | None
    core: Ml2Plugin
    registry: CallbackRegistry
    quotas: QuotaService
    extensions: ExtensionManager
    # the plugins constructed so far, by name (a plugin finds the ones it builds on)
    plugins: dict[str, Any] = field(default_factory=dict)


class ServicePlugin:
    """What a service plugin offers the rest of the server. ``collections``: (schema
    Resource, service, Collection options) that the API serves; the API layer finds the
    controllers of its sub-resources and routes by the plugin's name (api/factory.py)."""

    name = ""
    supported_extension_aliases: tuple[str, ...] = ()

    def __init__(self, context: PluginContext) -> None:
        self.context = context

    def collections(self) -> list[tuple[Any, Any, dict[str, Any]]]:
        return []


def names(conf: cfg.ConfigOpts) -> list[str]:
    configured = [n for n in conf.service_plugins if n not in DEFAULT_SERVICE_PLUGINS]
    return [*DEFAULT_SERVICE_PLUGINS, *dict.fromkeys(configured)]


def load(context: PluginContext) -> dict[str, Any]:
    for name in names(context.conf):
        found = entry_points(group=GROUP, name=name)
        if not found:
            raise SystemExit(f"neutrino: service_plugins: unknown plugin {name!r}")
        plugin = next(iter(found)).load()(context)
        plugin.name = name
        context.plugins[name] = plugin
    return context.plugins
