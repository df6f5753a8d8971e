"""The server side of the agent protocol (docs/agent-protocol.md): RPC topic ``plugin``.

Every API server process serves it (``serve``): requests ``{"method", "version",
"args"}``, replies dicts; both are the types of ``neutrino.protocol.rpc`` (arguments are
validated by them, replies made from them). A request of an agent whose protocol major
differs from the server's is refused, with an error in the log (protocol/version.py).
Casts (report_state, update_device_up/down, dhcp_ready_on_ports) are idempotent, so a
duplicated or replayed one changes nothing; get_host_state is a read.

``neutrino up`` runs the agents in the API's process: it passes its one in-process bus to
``serve`` and to the agents.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from neutrino import protocol
from neutrino.bus import Bus, Subscription
from neutrino.core import provisioning
from neutrino.protocol import rpc
from neutrino.services import host_state
from neutrino.services.agents import DHCP_AGENT, L2_AGENT_TYPES, L3_AGENT
from neutrino.services.securitygroups import agent_view as sg_view

if TYPE_CHECKING:
    from neutrino.core.plugin import Ml2Plugin

LOG = logging.getLogger(__name__)

TOPIC = rpc.TOPIC
DEFAULT_WORKERS = 4


def _who(request: dict[str, Any]) -> str:
    args = request.get("args")
    if isinstance(args, dict):
        agent = args.get("agent")
        host = agent.get("host") if isinstance(agent, dict) else args.get("host")
        if host:
            return f"the agent on {host}"
    return "an agent"


class AgentRpc:
    """The handlers of topic ``plugin``, over one plugin (database, binder, scheduler)."""

    def __init__(self, plugin: Ml2Plugin) -> None:
        self.plugin = plugin
        self.methods: dict[str, Callable[[Any], protocol.Envelope]] = {
            rpc.REPORT_STATE: self.report_state,
            rpc.GET_HOST_STATE: self.get_host_state,
            rpc.UPDATE_DEVICE_UP: self.update_device_up,
            rpc.UPDATE_DEVICE_DOWN: self.update_device_down,
            rpc.DHCP_READY_ON_PORTS: self.dhcp_ready_on_ports,
            rpc.UPDATE_FLOATINGIP_STATUSES: self.update_floatingip_statuses,
        }

    def __call__(self, request: dict[str, Any]) -> dict[str, Any]:
        if not isinstance(request, dict):
            raise protocol.ProtocolError("a request must be an object")
        method = request.get("method")
        try:
            protocol.check(request.get("version"), peer=f"{_who(request)} ({method})")
        except protocol.ProtocolVersionError as e:
            # loud: an agent of another major would otherwise fail in odd ways
            LOG.error("%s", e)
            raise
        envelope = protocol.convert(request, rpc.Request, what="request")
        handler = self.methods.get(envelope.method)
        if handler is None:
            raise ValueError(f"unknown method {envelope.method!r}")
        args = protocol.convert(envelope.args, rpc.ARGS[envelope.method],
                                what=f"{envelope.method} args")
        return protocol.to_wire(handler(args))

    # --- methods -------------------------------------------------------------------------------
    def report_state(self, args: rpc.ReportState) -> rpc.ReportStateReply:
        state = args.agent
        agents = self.plugin.get_plugin("dhcp_agent_scheduler")
        agent, status = agents.agents.report_state(protocol.to_wire(state))
        if status != "alive":
            LOG.info("agent %s on %s is %s", agent["agent_type"], agent["host"],
                     "new" if status == "new" else "back")
        if agent["agent_type"] in L2_AGENT_TYPES and (status != "alive" or state.start_flag):
            # ports whose binding failed for want of this agent get their chance now
            self.plugin.ports.binder.rebind_host(agent["host"])
            # and networks the host's DHCP agents could not take without it
            agents.dhcp.l2_agent_started(agent["host"])
        if agent["agent_type"] == DHCP_AGENT and status == "revived":
            # back from the dead: what it lost (failover) goes at its next resync, now
            agents.notifier.publish([agent["host"]], None)
        # (re)started or back: it resyncs, and may take what waits for an agent
        fill = status != "alive" or state.start_flag
        if agent["agent_type"] == DHCP_AGENT and agent["admin_state_up"]:
            agents.dhcp.fail_over()  # a live agent: networks of dead ones may come
            agents.dhcp.auto_schedule(agent["id"], agent["host"], fill=fill)
        l3 = self.plugin.get_plugin("router")
        if agent["agent_type"] == L3_AGENT and agent["admin_state_up"] and l3 is not None:
            l3.scheduler.auto_schedule(agent["id"], agent["host"], fill=fill)
        return rpc.ReportStateReply(agent_status=status)  # type: ignore[arg-type]

    def get_host_state(self, args: rpc.GetHostState) -> protocol.Envelope:
        host, agent_type = _host(args.host), args.agent_type
        builder = host_state.STATE_BUILDERS.get(agent_type)
        if builder is None:
            raise ValueError(f"get_host_state: unknown agent_type {agent_type!r}")
        group_ids = args.security_group_ids
        if group_ids is not None and agent_type in L2_AGENT_TYPES:
            # the firewall's share only (docs/agent-protocol.md, security groups)
            return self.plugin.db.read(
                lambda conn: sg_view.narrowed_state(conn, host, group_ids))
        # an L3 agent narrows by routers, the others by networks
        ids = args.router_ids if agent_type == L3_AGENT else args.network_ids
        return self.plugin.db.read(lambda conn: builder(conn, self.plugin, host, ids))

    def update_device_up(self, args: rpc.DevicesUpDown) -> rpc.PortsActive:
        host, ids = _host(args.host), args.port_ids
        active = self.plugin.db.write(lambda conn: provisioning.complete(
            conn, ids, provisioning.L2, host=host))
        if active:
            LOG.debug("ports ACTIVE on %s: %s", host, active)
        return rpc.PortsActive(active=active)

    def update_device_down(self, args: rpc.DevicesUpDown) -> rpc.PortsDown:
        host, ids = _host(args.host), args.port_ids
        down = self.plugin.db.write(lambda conn: provisioning.set_down(conn, ids, host=host))
        return rpc.PortsDown(down=down)

    def dhcp_ready_on_ports(self, args: rpc.DhcpReady) -> rpc.PortsActive:
        ids = args.port_ids
        active = self.plugin.db.write(lambda conn: provisioning.complete(
            conn, ids, provisioning.DHCP, require_block=True))
        return rpc.PortsActive(active=active)

    def update_floatingip_statuses(self, args: rpc.FloatingIpStatuses) -> rpc.Changed:
        """The L3 agent of ``host`` programmed (ACTIVE) or dropped (DOWN, ERROR) these
        floating IPs of ``router_id``."""
        _host(args.host)
        if not args.router_id:
            raise ValueError("router_id is required")
        l3 = self.plugin.get_plugin("router")
        changed = l3.floatingips.update_statuses(args.router_id, dict(args.statuses))
        return rpc.Changed(changed=changed)


def _host(host: str) -> str:
    if not host:
        raise ValueError("host is required")
    return host


def serve(bus: Bus, plugin: Ml2Plugin, *, workers: int = DEFAULT_WORKERS) -> Subscription:
    """Serve topic ``plugin`` on ``bus`` for ``plugin`` (one per API process; ``neutrino
    up`` shares its in-process bus with the agents it runs)."""
    return bus.serve(TOPIC, AgentRpc(plugin), workers=workers)
