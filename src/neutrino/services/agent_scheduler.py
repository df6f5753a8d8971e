"""Manual scheduling by admins (extensions dhcp_agent_scheduler, l3_agent_scheduler), with
Neutron's checks and errors:

    GET/POST /v2.0/agents/{id}/dhcp-networks, DELETE .../dhcp-networks/{network_id}
    GET /v2.0/networks/{id}/dhcp-agents
    GET/POST /v2.0/agents/{id}/l3-routers, DELETE .../l3-routers/{router_id}
    GET /v2.0/routers/{id}/l3-agents

Each change is one transaction: adding a network locks the network's row (as the DHCP
scheduler does, so the two never decide at once) and the binding's primary key refuses a
second identical binding; a router's binding is keyed by the router (one agent). After the
commit the schedulers reconcile: a network added to a DHCP agent gets that agent's DHCP
port (a reserved one first) and the agent its hint; a network taken off an agent leaves
its port reserved (Neutron's ``reserved_dhcp_port``: the next agent takes it, same
address) and the agent its hint, so that it stops serving it. A router added to an L3
agent has its ports moved to the agent's host and the agent its hint; a router taken off
one is dropped by that agent on the hint. What an admin took off an agent is scheduled
again only when an agent (re)starts or is enabled, as in Neutron (agent_rpc.py).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from oslo_config import cfg
from sqlalchemy.engine import Connection

from neutrino import exceptions as exc
from neutrino.context import Context
from neutrino.core import visibility
from neutrino.core.agent_rows import agent_dicts, down_cutoff
from neutrino.db import tables as t
from neutrino.db.engine import Database
from neutrino.exceptions.agents import (
    DVRL3CannotAssignToDvrAgent,
    DVRL3CannotRemoveFromDvrAgent,
    InvalidDHCPAgent,
    InvalidL3Agent,
    NetworkHostedByDHCPAgent,
    NetworkNotHostedByDhcpAgent,
    RouterHostedByL3Agent,
)
from neutrino.schema.agent import configurations
from neutrino.services.agents import DHCP_AGENT, L3_AGENT, agent_row

if TYPE_CHECKING:
    from neutrino.core.plugin import Ml2Plugin
    from neutrino.services.agent_notifier import AgentNotifier
    from neutrino.services.dhcp_scheduler import DhcpScheduler

_ag = t.agents.c
_n = t.networks.c
_rt = t.routers.c
_nd = t.network_dhcp_agent_bindings.c
_rb = t.router_l3_agent_bindings.c

# L3 agent modes that host no router by hand (Neutron's DVR ones)
DVR_MODES = ("dvr", "dvr_no_external")




def _agent_mode(row: Any) -> str:
    return str(configurations(row.configurations).get("agent_mode") or "legacy")


class AgentSchedulerService:
    def __init__(self, conf: cfg.ConfigOpts, db: Database, core: Ml2Plugin,
                 dhcp: DhcpScheduler, notifier: AgentNotifier) -> None:
        self.conf = conf
        self.db = db
        self.core = core
        self.dhcp = dhcp
        self.notifier = notifier

    def _l3(self) -> Any:
        """The router plugin (routers, scheduler); l3_agent_scheduler is its."""
        l3 = self.core.get_plugin("router")
        if l3 is None:
            raise exc.HTTPNotFound()
        return l3

    def _agents(self, conn: Connection, stmt: sa.Select[Any]) -> list[dict[str, Any]]:
        cutoff = down_cutoff(self.conf)
        return agent_dicts(conn.execute(stmt.order_by(_ag.host, _ag.id)), cutoff)

    def _services_available(self, row: Any) -> bool:
        # Neutron's services_available: admin-up (no enable_services_on_agents_with_
        # admin_state_down here)
        return bool(row.admin_state_up)

    # --- DHCP ----------------------------------------------------------------------------------
    def networks_on_agent(self, ctx: Context, agent_id: str) -> list[dict[str, Any]]:
        def run(conn: Connection) -> list[dict[str, Any]]:
            bound = sa.select(_nd.network_id).where(_nd.dhcp_agent_id == agent_id)
            stmt = visibility.network_select(ctx).where(_n.id.in_(bound)).order_by(_n.id)
            if not ctx.sees_all:
                stmt = stmt.where(visibility.network_visible_clause(ctx))
            rows = conn.execute(stmt).all()
            if not rows:
                agent_row(conn, agent_id)  # 404 for no agent, as Neutron
            return self.core.networks.to_dicts(conn, rows)

        return self.db.read(run)

    def dhcp_agents_of(self, ctx: Context, network_id: str) -> list[dict[str, Any]]:
        """Neutron answers an empty list for a network that does not exist."""
        bound = sa.select(_nd.dhcp_agent_id).where(_nd.network_id == network_id)
        return self.db.read(lambda conn: self._agents(
            conn, sa.select(t.agents).where(_ag.id.in_(bound))))

    def add_network(self, ctx: Context, agent_id: str, network_id: str) -> None:
        def run(conn: Connection) -> str:
            stmt = sa.select(_n.id).where(_n.id == network_id)
            if not ctx.sees_all:
                stmt = stmt.where(visibility.network_visible_clause(ctx))
            if self.db.backend != "sqlite":
                stmt = stmt.with_for_update()  # the network's row, as the DHCP scheduler
            if conn.execute(stmt).first() is None:
                raise exc.NetworkNotFound(net_id=network_id)
            agent = agent_row(conn, agent_id)
            if agent.agent_type != DHCP_AGENT or not self._services_available(agent):
                raise InvalidDHCPAgent(id=agent_id)
            if conn.execute(sa.select(_nd.network_id).where(
                    _nd.network_id == network_id, _nd.dhcp_agent_id == agent_id)).first():
                raise NetworkHostedByDHCPAgent(network_id=network_id, agent_id=agent_id)
            # beyond dhcp_agents_per_network if need be (Neutron's force_scheduling)
            conn.execute(sa.insert(t.network_dhcp_agent_bindings).values(
                network_id=network_id, dhcp_agent_id=agent_id))
            return str(agent.host)

        host = self.db.write(run)
        self.dhcp.reconcile_ports(network_id)
        self.notifier.publish([host], [network_id])  # network_added_to_agent

    def remove_network(self, ctx: Context, agent_id: str, network_id: str) -> None:
        def run(conn: Connection) -> str:
            agent = agent_row(conn, agent_id)
            gone = conn.execute(sa.delete(t.network_dhcp_agent_bindings).where(
                _nd.network_id == network_id, _nd.dhcp_agent_id == agent_id)).rowcount
            if not gone:
                raise NetworkNotHostedByDhcpAgent(network_id=network_id, agent_id=agent_id)
            return str(agent.host)

        host = self.db.write(run)
        self.dhcp.reserve_port(network_id, host)
        self.notifier.publish([host], [network_id])  # network_removed_from_agent

    # --- L3 --------------------------------------------------------------------------------------
    def routers_on_agent(self, ctx: Context, agent_id: str) -> list[dict[str, Any]]:
        def run(conn: Connection) -> list[dict[str, Any]]:
            bound = sa.select(_rb.router_id).where(_rb.l3_agent_id == agent_id)
            stmt = sa.select(t.routers).where(_rt.id.in_(bound)).order_by(_rt.id)
            if not ctx.sees_all:
                stmt = stmt.where(_rt.project_id == ctx.project_id)
            rows = conn.execute(stmt).all()
            if not rows:
                agent_row(conn, agent_id)
            return self._l3().routers.to_dicts(conn, rows)

        return self.db.read(run)

    def l3_agents_of(self, ctx: Context, router_id: str) -> list[dict[str, Any]]:
        bound = sa.select(_rb.l3_agent_id).where(_rb.router_id == router_id)
        return self.db.read(lambda conn: self._agents(
            conn, sa.select(t.agents).where(_ag.id.in_(bound))))

    def _check_l3_agent(self, agent: Any, router: Any) -> None:
        """Neutron's validate_agent_router_combination for legacy routers."""
        if agent.agent_type != L3_AGENT:
            raise InvalidL3Agent(id=agent.id)
        conf = configurations(agent.configurations)
        if _agent_mode(agent) in DVR_MODES:
            raise DVRL3CannotAssignToDvrAgent()
        if not self._services_available(agent):
            raise InvalidL3Agent(id=agent.id)
        if conf.get("router_id") and conf["router_id"] != router.id:
            raise InvalidL3Agent(id=agent.id)  # an agent dedicated to another router
        if not router.gw_port_id and not conf.get("handle_internal_only_routers", True):
            raise InvalidL3Agent(id=agent.id)

    def add_router(self, ctx: Context, agent_id: str, router_id: str) -> None:
        def run(conn: Connection) -> tuple[str, list[str]] | None:
            router = self._l3().routers._row(conn, ctx, router_id)
            agent = agent_row(conn, agent_id)
            self._check_l3_agent(agent, router)
            current = conn.scalar(sa.select(_rb.l3_agent_id).where(_rb.router_id == router_id))
            if current == agent_id:
                return None  # already there: nothing to do, as Neutron
            if current is not None:
                raise RouterHostedByL3Agent(router_id=router_id, agent_id=current)
            # the primary key (the router) keeps one of two concurrent schedulings; the
            # other is rerun and then finds the binding
            conn.execute(sa.insert(t.router_l3_agent_bindings).values(
                router_id=router_id, l3_agent_id=agent_id))
            host = str(agent.host)
            return host, self._l3().scheduler.ports_elsewhere(conn, agent_id, host,
                                                                  [router_id])

        done = self.db.write(run)
        if done is None:
            return
        host, ports = done
        scheduler = self._l3().scheduler
        scheduler.move_ports(ports, host)  # bound where the router now is
        scheduler.notify_hosts({host: [router_id]})  # router_added_to_agent

    def remove_router(self, ctx: Context, agent_id: str, router_id: str) -> None:
        def run(conn: Connection) -> str:
            agent = agent_row(conn, agent_id)
            if agent.agent_type == L3_AGENT and _agent_mode(agent) in DVR_MODES:
                raise DVRL3CannotRemoveFromDvrAgent()
            conn.execute(sa.delete(t.router_l3_agent_bindings).where(
                _rb.router_id == router_id, _rb.l3_agent_id == agent_id))
            self._l3().routers._row(conn, ctx, router_id)  # after the unbinding, as Neutron
            return str(agent.host)

        host = self.db.write(run)
        self._l3().scheduler.notify_hosts({host: [router_id]})  # router_removed
