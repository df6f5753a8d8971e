"""DHCP agent scheduling: each network with a DHCP-enabled subnet is served by
``[DEFAULT] dhcp_agents_per_network`` live, admin-up DHCP agents (the least loaded: fewest
networks), recorded in ``network_dhcp_agent_bindings``. For each agent serving a network
the server keeps one DHCP port there (device_owner ``network:dhcp``, device_id
``dhcp<uuid5(host)>-<network id>``, binding:host_id the agent's host: it is bound at once,
like any port of that host's L2 agent), with an address on each DHCP-enabled subnet. A
network whose last DHCP-enabled subnet goes loses its agents and their ports.

Everything here is "make it so" (``sync_network``): run it twice and nothing changes;
it runs after every subnet change and, through ``auto_schedule``, on every heartbeat of
a DHCP agent, which also repairs whatever an interrupted run left undone (a scheduled
agent without its port, a duplicate port of two concurrent runs).

Not done (yet): moving networks away from a DHCP agent that died (Neutron's
allow_automatic_dhcp_failover); an admin deletes the dead agent and the networks are
scheduled again.
"""

from __future__ import annotations

import logging
import uuid
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from oslo_config import cfg
from sqlalchemy.engine import Connection

from neutrino import exceptions as exc
from neutrino.context import Context
from neutrino.core import binding
from neutrino.db import tables as t
from neutrino.db.engine import Database
from neutrino.schema import port as port_schema
from neutrino.schema.base import MISSING
from neutrino.services.agents import DHCP_AGENT, live_clause

if TYPE_CHECKING:
    from neutrino.core.plugin import Ml2Plugin

LOG = logging.getLogger(__name__)

DHCP_OWNER = "network:dhcp"

_n = t.networks.c
_s = t.subnets.c
_p = t.ports.c
_ag = t.agents.c
_nd = t.network_dhcp_agent_bindings.c


def dhcp_device_id(host: str, network_id: str) -> str:
    """The device_id of the DHCP port of ``host``'s agent on a network (as Neutron's)."""
    return f"dhcp{uuid.uuid5(uuid.NAMESPACE_DNS, host)}-{network_id}"


def _port_defaults() -> dict[str, Any]:
    return {name: (list(a.default) if isinstance(a.default, list) else a.default)
            for name, a in port_schema.resource().attrs.items()
            if a.allow_post and a.default is not MISSING}


class DhcpScheduler:
    def __init__(self, conf: cfg.ConfigOpts, db: Database, plugin: Ml2Plugin) -> None:
        self.conf = conf
        self.db = db
        self.plugin = plugin
        self._defaults = _port_defaults()

    # --- scheduling ----------------------------------------------------------------------------
    def _schedule(self, conn: Connection, network_id: str
                  ) -> tuple[Any, list[str], list[tuple[str, str]]] | None:
        """In one transaction: the network's agents brought to what it needs. Returns
        (network row, DHCP-enabled subnet ids, [(agent id, host)] serving it), or None
        when the network is gone."""
        stmt = sa.select(t.networks).where(_n.id == network_id)
        if self.db.backend != "sqlite":
            stmt = stmt.with_for_update()  # one scheduler at a time per network
        net = conn.execute(stmt).first()
        if net is None:
            return None
        subnets = list(conn.scalars(sa.select(_s.id).where(
            _s.network_id == network_id, _s.enable_dhcp.is_(True)).order_by(_s.created_at,
                                                                              _s.id)))
        if not subnets:
            conn.execute(sa.delete(t.network_dhcp_agent_bindings).where(
                _nd.network_id == network_id))
            return net, [], []
        agents = [(r.id, r.host) for r in conn.execute(
            sa.select(_ag.id, _ag.host).join(t.network_dhcp_agent_bindings,
                                             _nd.dhcp_agent_id == _ag.id)
            .where(_nd.network_id == network_id).order_by(_ag.host))]
        need = self.conf.dhcp_agents_per_network - len(agents)
        if need > 0:
            load = (sa.select(sa.func.count()).select_from(t.network_dhcp_agent_bindings)
                    .where(_nd.dhcp_agent_id == _ag.id).scalar_subquery())
            chosen = conn.execute(
                sa.select(_ag.id, _ag.host)
                .where(_ag.agent_type == DHCP_AGENT, _ag.admin_state_up.is_(True),
                       live_clause(self.conf), _ag.id.not_in([a for a, _ in agents] or [""]))
                .order_by(load, _ag.created_at, _ag.id).limit(need)
            ).all()
            if chosen:
                conn.execute(sa.insert(t.network_dhcp_agent_bindings), [
                    {"network_id": network_id, "dhcp_agent_id": a} for a, _ in chosen])
                LOG.info("network %s scheduled to DHCP agent(s) on %s", network_id,
                         ", ".join(h for _, h in chosen))
                agents += [(a, h) for a, h in chosen]
        return net, subnets, agents

    def _idle(self, conn: Connection, network_id: str) -> bool:
        """Nothing to do for the network: no DHCP agent serves it, none could, and it has
        no DHCP port (one read, so that deployments without DHCP agents pay no write)."""
        served = sa.exists().where(_nd.network_id == network_id)
        ports = sa.exists().where(_p.network_id == network_id, _p.device_owner == DHCP_OWNER)
        candidates = sa.exists().where(_ag.agent_type == DHCP_AGENT,
                                       _ag.admin_state_up.is_(True), live_clause(self.conf))
        row = conn.execute(sa.select(served, ports, candidates)).one()
        return not any(row)

    def sync_network(self, network_id: str) -> None:
        """Make the network's DHCP service what its subnets ask for (module doc)."""
        if self.db.read(lambda conn: self._idle(conn, network_id)):
            return
        result = self.db.write(lambda conn: self._schedule(conn, network_id))
        if result is None:
            return
        net, subnets, agents = result
        self._sync_ports(net, subnets, [h for _, h in agents])

    def _dhcp_ports(self, network_id: str) -> list[dict[str, Any]]:
        def run(conn: Connection) -> list[dict[str, Any]]:
            rows = conn.execute(sa.select(t.ports).where(
                _p.network_id == network_id, _p.device_owner == DHCP_OWNER)
                .order_by(_p.id)).all()
            return self.plugin.ports.to_dicts(conn, rows)

        return self.db.read(run)

    def _sync_ports(self, net: Any, subnets: list[str], hosts: list[str]) -> None:
        wanted = {dhcp_device_id(h, net.id): h for h in hosts}
        ports = self._dhcp_ports(net.id)
        admin = Context.admin()
        seen: set[str] = set()
        for port in ports:
            device_id = port["device_id"]
            ours = device_id.startswith("dhcp") and device_id.endswith(f"-{net.id}")
            if device_id in seen or (ours and device_id not in wanted):
                # a duplicate (two runs at once: the lowest id stays) or an agent's port
                # whose agent serves the network no longer
                self._delete_port(admin, port["id"])
                continue
            if device_id not in wanted:
                continue  # a DHCP port someone else manages
            seen.add(device_id)
            self._fix_port(admin, port, subnets, wanted[device_id])
        for device_id, host in wanted.items():
            if device_id not in seen:
                self._create_port(admin, net, subnets, host, device_id)

    def _create_port(self, admin: Context, net: Any, subnets: list[str], host: str,
                     device_id: str) -> None:
        data = {**self._defaults,
                "network_id": net.id, "project_id": net.project_id, "tenant_id": net.project_id,
                "device_owner": DHCP_OWNER, "device_id": device_id,
                "fixed_ips": [{"subnet_id": s} for s in subnets],
                binding.HOST: host}
        try:
            port = self.plugin.ports.create(admin, data, check_quota=False)
        except exc.NeutronError as e:
            LOG.error("could not create the DHCP port of host %s on network %s: %s", host,
                      net.id, e)
            return
        LOG.info("DHCP port %s of host %s on network %s created (%s)", port["id"], host,
                 net.id, port.get(binding.VIF_TYPE))
        # a concurrent run may have created the same port: keep the lowest id only
        same = [p for p in self._dhcp_ports(net.id) if p["device_id"] == device_id]
        for extra in same[1:]:
            self._delete_port(admin, extra["id"])

    def _fix_port(self, admin: Context, port: dict[str, Any], subnets: list[str],
                  host: str) -> None:
        changes: dict[str, Any] = {}
        have = [ip for ip in port["fixed_ips"] if ip["subnet_id"] in subnets]
        missing = [s for s in subnets if s not in {ip["subnet_id"] for ip in have}]
        if missing or len(have) != len(port["fixed_ips"]):
            changes["fixed_ips"] = [*have, *({"subnet_id": s} for s in missing)]
        if port[binding.HOST] != host:
            changes[binding.HOST] = host
        if not changes:
            return
        try:
            self.plugin.ports.update(admin, port["id"], changes)
        except exc.NeutronError as e:
            LOG.error("could not update DHCP port %s: %s", port["id"], e)

    def _delete_port(self, admin: Context, port_id: str) -> None:
        try:
            self.plugin.ports.delete(admin, port_id)
        except exc.NotFound:
            pass
        except exc.NeutronError as e:
            LOG.error("could not delete DHCP port %s: %s", port_id, e)

    # --- on a DHCP agent's heartbeat -----------------------------------------------------------
    def auto_schedule(self, agent_id: str, host: str) -> None:
        """Networks short of DHCP agents (that this one does not serve yet) get this live
        one, and its networks whose DHCP port is missing get it (a few queries when there
        is nothing to do)."""
        per_network = self.conf.dhcp_agents_per_network

        def find(conn: Connection) -> list[str]:
            serving = (sa.select(sa.func.count()).select_from(t.network_dhcp_agent_bindings)
                       .where(_nd.network_id == _n.id).scalar_subquery())
            has_dhcp = sa.exists().where(_s.network_id == _n.id, _s.enable_dhcp.is_(True))
            served_here = sa.exists().where(_nd.network_id == _n.id,
                                            _nd.dhcp_agent_id == agent_id)
            short = list(conn.scalars(sa.select(_n.id).where(
                has_dhcp, serving < per_network, sa.not_(served_here))))
            mine = list(conn.scalars(sa.select(_nd.network_id).where(
                _nd.dhcp_agent_id == agent_id)))
            if not mine:
                return short
            have_port = set(conn.scalars(sa.select(_p.device_id).where(
                _p.network_id.in_(mine), _p.device_owner == DHCP_OWNER)))
            return short + [n for n in mine if dhcp_device_id(host, n) not in have_port]

        for network_id in dict.fromkeys(self.db.read(find)):
            try:
                self.sync_network(network_id)
            except Exception:
                LOG.exception("scheduling network %s to DHCP agents failed", network_id)

    def networks_of(self, conn: Connection, host: str) -> list[str]:
        """The networks the DHCP agent of ``host`` serves."""
        return list(conn.scalars(
            sa.select(_nd.network_id).join(t.agents, _ag.id == _nd.dhcp_agent_id)
            .where(_ag.agent_type == DHCP_AGENT, _ag.host == host)))
