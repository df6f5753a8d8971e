"""The ML2 core plugin: type and mechanism driver managers plus the network, subnet and
port services, wired to one database."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from oslo_config import cfg

from neutrino import exceptions as exc
from neutrino.bus import Bus
from neutrino.core import binding, common, extra_dhcp_opts, service_plugins, tags
from neutrino.core.callbacks import CallbackRegistry
from neutrino.core.extensions import ExtensionManager
from neutrino.core.mech.l2population import L2populationMechanismDriver
from neutrino.core.mech.manager import MechanismManager
from neutrino.core.networks import NetworkService
from neutrino.core.ports import PortService
from neutrino.core.quotas import QuotaService
from neutrino.core.subnets import SubnetService
from neutrino.core.types.manager import TypeManager
from neutrino.db import tables as t
from neutrino.db.engine import Database

# policy_targets' reads, built once (a port create runs one): the owners of networks
# :net_ids, and their ``shared`` as project :item_project sees them.
_TARGET = sa.select(t.networks.c.id, t.networks.c.project_id).where(
    t.networks.c.id.in_(sa.bindparam("net_ids", expanding=True)))
_TARGET_WITH_SHARED = _TARGET.add_columns(
    common.network_shared_column(sa.bindparam("item_project")),
    common.rbac_entry_exists(t.networks.c.id, sa.bindparam("item_project"),
                             common.NETWORK_RBAC_ACTIONS).label("accessible"))


class Ml2Plugin:
    def __init__(self, conf: cfg.ConfigOpts, db: Database,
                 mech: MechanismManager | None = None, bus: Bus | None = None) -> None:
        self.conf = conf
        self.db = db
        # the bus of this process (hints to agents, notifications); None: tell nobody
        self.bus = bus
        self.registry = CallbackRegistry()
        self.types = TypeManager(conf)
        self.mech = mech if mech is not None else MechanismManager(conf)
        self.l2population = next((d for d in self.mech.drivers
                                  if isinstance(d, L2populationMechanismDriver)), None)
        # quotas are enforced inside each create's transaction (core/quotas.py); service
        # plugins register their own resources
        self.quotas = QuotaService(conf, db)
        # the port attributes the core always has, then [ml2] extension_drivers', then
        # the ones service plugins register (core/extensions.py)
        self.extensions = ExtensionManager(conf, [binding.BindingDriver(),
                                                  extra_dhcp_opts.ExtraDhcpOptDriver(),
                                                  tags.PortTagsDriver()])
        kw: dict[str, Any] = {"quotas": self.quotas, "registry": self.registry}
        self.networks = NetworkService(conf, db, self.mech, types=self.types,
                                       extensions=self.extensions, **kw)
        self.subnets = SubnetService(conf, db, self.mech, **kw)
        self.ports = PortService(conf, db, self.mech, extensions=self.extensions, **kw)
        self.service_plugins = service_plugins.load(service_plugins.PluginContext(
            conf=conf, db=db, bus=bus, core=self, registry=self.registry,
            quotas=self.quotas, extensions=self.extensions))

    def get_plugin(self, name: str) -> Any:
        """A loaded service plugin by name (None if not loaded), as neutron-lib's
        directory.get_plugin."""
        return self.service_plugins.get(name)

    def supported_extension_aliases(self) -> set[str]:
        """The aliases of the loaded service plugins and extension drivers (the core's
        own: schema/extensions.py)."""
        return {a for p in self.service_plugins.values()
                for a in p.supported_extension_aliases} | self.extensions.aliases()

    def start(self) -> None:
        """What a server does once at start-up: bring segment allocation tables in line
        with the configured ranges."""
        self.types.sync_allocations(self.db)

    def policy_targets(self, items: list[dict[str, Any]], conn: Any = None
                       ) -> list[dict[str, Any]]:
        """Items with what policy rules read about their network: ``network:project_id``
        (one query for all items) and, for a single item being written, ``shared`` as its
        project sees the network (rule:shared, e.g. create_port:fixed_ips:subnet_id).
        ``conn``: read in that (the create's own) transaction, else in one of its own."""
        net_ids = {i["network_id"] for i in items if "network_id" in i}
        if not net_ids:
            return items
        single = len(items) == 1 and "shared" not in items[0] and "network_id" in items[0]
        # one short read for both: building the whole network (segments, subnets) to learn
        # its ``shared`` doubled the cost of creating a port
        stmt = _TARGET_WITH_SHARED if single else _TARGET
        params = {"net_ids": list(net_ids), "item_project": items[0].get("project_id")}
        if conn is not None and single:
            # inside the create's transaction: the whole row, which the service's own
            # network_row then takes instead of reading it again
            row = common.read_network(conn, items[0]["network_id"], params["item_project"],
                                      keep=True)
            rows = ({row.id: (row.id, row.project_id, row.shared, row.accessible)}
                    if row is not None else {})
        else:
            rows = {r[0]: r for r in (conn.execute(stmt, params).all() if conn is not None
                                      else self.db.read(lambda c: c.execute(stmt,
                                                                            params).all()))}
        for net_id in net_ids:
            if net_id not in rows:
                # as Neutron's OwnerCheck: the parent must exist to be checked against
                raise exc.NetworkNotFound(net_id=net_id)
        out = [{**i, "network:project_id": rows[i["network_id"]][1] if "network_id" in i
                else None} for i in items]
        if single:
            # as the item's project sees the network; one it cannot see is not shared
            r = rows.get(out[0]["network_id"])
            out[0]["shared"] = bool(r is not None and r[2])
            # whether an RBAC entry opens it to that project (policy/ownership.py)
            out[0]["network:accessible"] = bool(r is not None and r[3])
        return out
