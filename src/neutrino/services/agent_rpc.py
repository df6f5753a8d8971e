"""The server side of the agent protocol (docs/agent-protocol.md): RPC topic ``plugin``.

Every API server process serves it (``serve``): requests ``{"method", "args"}``, replies
dicts. Casts (report_state, update_device_up/down, dhcp_ready_on_ports) are idempotent, so
a duplicated or replayed one changes nothing; get_host_state is a read.

``neutrino up`` runs the agents in the API's process: it passes its one in-process bus to
``serve`` and to the agents.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from neutrino.bus import Bus, Subscription
from neutrino.core import provisioning
from neutrino.services import host_state
from neutrino.services.agents import DHCP_AGENT, L2_AGENT_TYPES, L3_AGENT, LINUXBRIDGE_AGENT
from neutrino.services.securitygroups import agent_view as sg_view

if TYPE_CHECKING:
    from neutrino.core.plugin import Ml2Plugin

LOG = logging.getLogger(__name__)

TOPIC = "plugin"
DEFAULT_WORKERS = 4


def _port_ids(args: dict[str, Any]) -> list[str]:
    ids = args.get("port_ids") or []
    if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
        raise ValueError("port_ids must be a list of port ids")
    return ids


def _host(args: dict[str, Any]) -> str:
    host = args.get("host")
    if not isinstance(host, str) or not host:
        raise ValueError("host is required")
    return host


class AgentRpc:
    """The handlers of topic ``plugin``, over one plugin (database, binder, scheduler)."""

    def __init__(self, plugin: Ml2Plugin) -> None:
        self.plugin = plugin
        self.methods: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
            "report_state": self.report_state,
            "get_host_state": self.get_host_state,
            "update_device_up": self.update_device_up,
            "update_device_down": self.update_device_down,
            "dhcp_ready_on_ports": self.dhcp_ready_on_ports,
            "update_floatingip_statuses": self.update_floatingip_statuses,
        }

    def __call__(self, request: dict[str, Any]) -> dict[str, Any]:
        method = request.get("method")
        handler = self.methods.get(method) if isinstance(method, str) else None
        if handler is None:
            raise ValueError(f"unknown method {method!r}")
        args = request.get("args") or {}
        if not isinstance(args, dict):
            raise ValueError("args must be a dict")
        return handler(args)

    # --- methods -------------------------------------------------------------------------------
    def report_state(self, args: dict[str, Any]) -> dict[str, Any]:
        state = args.get("agent")
        if not isinstance(state, dict):
            raise ValueError("report_state: agent is required")
        agent, status = self.plugin.agents.report_state(state)
        if status != "alive":
            LOG.info("agent %s on %s is %s", agent["agent_type"], agent["host"],
                     "new" if status == "new" else "back")
        if agent["agent_type"] in L2_AGENT_TYPES and (
                status != "alive" or state.get("start_flag")):
            # ports whose binding failed for want of this agent get their chance now
            binder = self.plugin.ports.binder
            if binder is not None:
                binder.rebind_host(agent["host"])
        if agent["agent_type"] == DHCP_AGENT and status == "revived":
            # back from the dead: what it lost (failover) goes at its next resync, now
            self.plugin.notifier.publish([agent["host"]], None)
        if agent["agent_type"] == DHCP_AGENT and agent["admin_state_up"]:
            self.plugin.dhcp.fail_over()  # a live agent: networks of dead ones may come
            self.plugin.dhcp.auto_schedule(agent["id"], agent["host"])
        if agent["agent_type"] == L3_AGENT and agent["admin_state_up"]:
            self.plugin.l3_scheduler.auto_schedule(agent["id"], agent["host"])
        return {"agent_status": status}

    def get_host_state(self, args: dict[str, Any]) -> dict[str, Any]:
        host = _host(args)
        agent_type = args.get("agent_type")
        builder = host_state.STATE_BUILDERS.get(agent_type)  # type: ignore[arg-type]
        if builder is None:
            raise ValueError(f"get_host_state: unknown agent_type {agent_type!r}")
        group_ids = args.get("security_group_ids")
        if group_ids is not None and agent_type == LINUXBRIDGE_AGENT:
            # the firewall's share only (docs/agent-protocol.md, security groups)
            if not isinstance(group_ids, list) or not all(
                    isinstance(g, str) for g in group_ids):
                raise ValueError("security_group_ids must be a list of ids")
            return self.plugin.db.read(
                lambda conn: sg_view.narrowed_state(conn, host, group_ids))
        # an L3 agent narrows by routers, the others by networks
        key = "router_ids" if agent_type == L3_AGENT else "network_ids"
        network_ids = args.get(key)
        if network_ids is not None and (not isinstance(network_ids, list) or not all(
                isinstance(n, str) for n in network_ids)):
            raise ValueError(f"{key} must be null or a list of ids")
        return self.plugin.db.read(
            lambda conn: builder(conn, self.plugin, host, network_ids))

    def update_device_up(self, args: dict[str, Any]) -> dict[str, Any]:
        host, ids = _host(args), _port_ids(args)
        active = self.plugin.db.write(lambda conn: provisioning.complete(
            conn, ids, provisioning.L2, host=host))
        if active:
            LOG.debug("ports ACTIVE on %s: %s", host, active)
        return {"active": active}

    def update_device_down(self, args: dict[str, Any]) -> dict[str, Any]:
        host, ids = _host(args), _port_ids(args)
        down = self.plugin.db.write(lambda conn: provisioning.set_down(conn, ids, host=host))
        return {"down": down}

    def dhcp_ready_on_ports(self, args: dict[str, Any]) -> dict[str, Any]:
        ids = _port_ids(args)
        active = self.plugin.db.write(lambda conn: provisioning.complete(
            conn, ids, provisioning.DHCP, require_block=True))
        return {"active": active}

    def update_floatingip_statuses(self, args: dict[str, Any]) -> dict[str, Any]:
        """The L3 agent of ``host`` programmed (ACTIVE) or dropped (DOWN, ERROR) these
        floating IPs of ``router_id``."""
        _host(args)
        router_id = args.get("router_id")
        statuses = args.get("statuses") or {}
        if not isinstance(router_id, str) or not router_id:
            raise ValueError("router_id is required")
        if not isinstance(statuses, dict):
            raise ValueError("statuses must be a dict")
        changed = self.plugin.floatingips.update_statuses(router_id, statuses)
        return {"changed": changed}


def serve(bus: Bus, plugin: Ml2Plugin, *, workers: int = DEFAULT_WORKERS) -> Subscription:
    """Serve topic ``plugin`` on ``bus`` for ``plugin`` (one per API process; ``neutrino
    up`` shares its in-process bus with the agents it runs)."""
    return bus.serve(TOPIC, AgentRpc(plugin), workers=workers)
