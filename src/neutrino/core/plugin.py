"""The ML2 core plugin: type and mechanism driver managers plus the network, subnet and
port services, wired to one database."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from oslo_config import cfg

from neutrino import exceptions as exc
from neutrino.bus import Bus
from neutrino.core import common
from neutrino.core.binding import PortBinder
from neutrino.core.mech.l2population import L2populationMechanismDriver
from neutrino.core.mech.manager import MechanismManager
from neutrino.core.networks import NetworkService
from neutrino.core.ports import PortService
from neutrino.core.subnets import SubnetService
from neutrino.core.types.manager import TypeManager
from neutrino.db import tables as t
from neutrino.db.engine import Database
from neutrino.services.agent_notifier import AgentNotifier
from neutrino.services.agents import AgentService
from neutrino.services.dhcp_scheduler import DhcpScheduler
from neutrino.services.l3.external import ExternalNetworks
from neutrino.services.l3.floatingips import FloatingIPService
from neutrino.services.l3.port_guard import L3PortGuard
from neutrino.services.l3.routers import RouterService
from neutrino.services.l3.scheduler import L3Scheduler
from neutrino.services.quotas import QuotaService
from neutrino.services.rbac import RbacService
from neutrino.services.securitygroups import ports_ext
from neutrino.services.securitygroups.default_rules import DefaultRuleService
from neutrino.services.securitygroups.groups import SecurityGroupService
from neutrino.services.securitygroups.rbac import SecurityGroupRbac
from neutrino.services.securitygroups.rules import RuleService
from neutrino.services.subnetpools import rbac as subnetpool_rbac
from neutrino.services.subnetpools.network_scopes import NetworkAddressScopes
from neutrino.services.subnetpools.pools import SubnetPoolService
from neutrino.services.subnetpools.scopes import AddressScopeService

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
        self.types = TypeManager(conf)
        self.mech = mech if mech is not None else MechanismManager(conf)
        self.networks = NetworkService(conf, db, self.mech, types=self.types)
        self.subnets = SubnetService(conf, db, self.mech)
        self.ports = PortService(conf, db, self.mech)
        # Quotas: enforced inside each create's transaction. Other services register
        # their resource (self.quotas.register) and set their quota_check the same way.
        self.quotas = QuotaService(conf, db)
        for service in (self.networks, self.subnets, self.ports):
            service.quota_check = self.quotas.check
        # RBAC policies on networks (/v2.0/rbac-policies), counted against rbac_policy
        self.rbac_policies = RbacService(db, self.networks)
        self.quotas.register("rbac_policy", t.network_rbacs)
        self.rbac_policies.quota_check = self.quotas.check
        self._wire_agents()
        self._wire_l3()
        self._wire_security_groups()
        self._wire_subnetpools()
        self._wire_flavors()

    def _wire_agents(self) -> None:
        """Agents (services/agents.py), DHCP scheduling, port binding and the hints that
        tell agents about changes (services/agent_notifier.py, an internal mechanism
        driver after the configured ones)."""
        conf, db = self.conf, self.db
        self.agents = AgentService(conf, db)
        self.dhcp = DhcpScheduler(conf, db, self)
        self.notifier = AgentNotifier(conf, db, self.bus, self.dhcp.sync_network)
        self.mech.drivers = [d for d in self.mech.drivers
                             if not isinstance(d, AgentNotifier)] + [self.notifier]
        self.l2population = next((d for d in self.mech.drivers
                                  if isinstance(d, L2populationMechanismDriver)), None)

        def load_port(conn: Any, port_id: str) -> dict[str, Any] | None:
            row = conn.execute(sa.select(t.ports).where(t.ports.c.id == port_id)).first()
            return self.ports.to_dicts(conn, [row])[0] if row is not None else None

        self.ports.binder = PortBinder(conf, db, self.mech, load_port,
                                       self.notifier.ports_changed)

    def _wire_l3(self) -> None:
        """External networks, routers, floating IPs and their scheduling to L3 agents
        (services/l3/); an internal driver guards the ports they own."""
        conf, db = self.conf, self.db
        self.l3_scheduler = L3Scheduler(conf, db, self)
        self.networks.extra_attrs = ExternalNetworks()
        self.routers = RouterService(conf, db, self, self.l3_scheduler)
        self.floatingips = FloatingIPService(conf, db, self, self.l3_scheduler)
        self.quotas.register("router", t.routers)
        self.quotas.register("floatingip", t.floatingips)
        self.routers.quota_check = self.floatingips.quota_check = self.quotas.check
        guard = L3PortGuard(conf, self.l3_scheduler.notify)
        self.mech.drivers = [d for d in self.mech.drivers
                             if not isinstance(d, L3PortGuard | AgentNotifier)
                             ] + [guard, self.notifier]

    def _wire_security_groups(self) -> None:
        """Security groups and rules, ports' groups / port security / address pairs
        (services/securitygroups/), their quotas and the firewall hints."""
        self.security_groups = SecurityGroupService(self.db)
        self.security_group_rules = RuleService(self.db)
        self.default_security_group_rules = DefaultRuleService(self.db)
        self.quotas.register("security_group", t.security_groups)
        self.quotas.register("security_group_rule", t.security_group_rules)
        for service in (self.security_groups, self.security_group_rules):
            service.quota_check = self.quotas.check
            service.on_change = self.notifier.security_groups_changed
        self.security_group_rules.ensure_default = self.security_groups.ensure_default
        self.rbac_policies.object_types["security_group"] = SecurityGroupRbac()
        ports_ext.install(self.ports)

    def _wire_subnetpools(self) -> None:
        """Subnet pools and address scopes (services/subnetpools/): subnets allocated
        from pools in their create's transaction; pools counted against subnetpool."""
        self.address_scopes = AddressScopeService(self.db)
        self.subnetpools = SubnetPoolService(self.db)
        self.quotas.register("subnetpool", t.subnetpools)
        self.subnetpools.quota_check = self.quotas.check
        self.subnets.allocate_from_pool = self.subnetpools.allocate
        self.networks.extra_attrs = NetworkAddressScopes(self.networks.extra_attrs)
        self.rbac_policies.object_types.update(subnetpool_rbac.handlers())

    # --- flavors, service-type, l3-flavors, auto-allocated-topology (branch flavors) ------
    def _wire_flavors(self) -> None:
        """Flavors, service profiles and providers (services/flavors/), routers'
        flavor_id, external networks' is_default and the auto-allocated topology
        (services/auto_allocate/)."""
        from neutrino.services.auto_allocate.default_external import DefaultExternalNetwork
        from neutrino.services.auto_allocate.topology import AutoAllocatedTopologyService
        from neutrino.services.flavors.flavors import FlavorService, ServiceProfileService
        from neutrino.services.flavors.providers import ServiceProviders

        self.service_providers = ServiceProviders(self.conf)
        self.flavors = FlavorService(self.db, self.service_providers)
        self.service_profiles = ServiceProfileService(self.db, self.service_providers)
        self.routers.check_flavor = self.flavors.check_router_flavor
        self.networks.extra_attrs = DefaultExternalNetwork(self.networks.extra_attrs)
        self.auto_allocated_topology = AutoAllocatedTopologyService(self)

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
