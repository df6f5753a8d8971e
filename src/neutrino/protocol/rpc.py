"""The RPC topic ``plugin`` (agents -> server) and the hints (server -> agents): method
names, their arguments, their replies.

A request is ``{"method", "version", "args"}``: ``version`` is the agent's (``Request``),
``args`` the method's type below. Every reply and hint carries the server's version.
"""

from __future__ import annotations

from typing import Any, Literal

import msgspec

from neutrino.protocol.base import Envelope, Message

TOPIC = "plugin"

REPORT_STATE = "report_state"
GET_HOST_STATE = "get_host_state"
UPDATE_DEVICE_UP = "update_device_up"
UPDATE_DEVICE_DOWN = "update_device_down"
DHCP_READY_ON_PORTS = "dhcp_ready_on_ports"
UPDATE_FLOATINGIP_STATUSES = "update_floatingip_statuses"

FloatingIpStatus = Literal["ACTIVE", "DOWN", "ERROR"]


def hint_topic(host: str) -> str:
    """The fanout topic of one host's agents."""
    return f"host.{host}"


class Request(Envelope, frozen=True, kw_only=True):
    """The envelope of every request: ``args`` is checked against the method's type."""

    method: str
    args: dict[str, Any] = {}


# --- arguments -------------------------------------------------------------------------------
class AgentState(Message, frozen=True, kw_only=True):
    agent_type: str
    host: str
    binary: str = ""
    topic: str = "N/A"
    configurations: dict[str, Any] = {}
    availability_zone: str | None = None
    start_flag: bool = False


class ReportState(Message, frozen=True, kw_only=True):
    agent: AgentState


class GetHostState(Message, frozen=True, kw_only=True):
    """The desired state of ``host`` for ``agent_type``. Narrowed by ``network_ids``
    (Linux bridge and DHCP agents) or ``router_ids`` (L3 agent); ``security_group_ids``
    (Linux bridge agent) asks for the firewall's share only."""

    host: str
    agent_type: str
    network_ids: list[str] | None = None
    router_ids: list[str] | None = None
    security_group_ids: list[str] | None = None


class DevicesUpDown(Message, frozen=True, kw_only=True):
    """update_device_up / update_device_down."""

    host: str
    agent_type: str = ""
    port_ids: list[str] = []


class DhcpReady(Message, frozen=True, kw_only=True):
    host: str = ""
    port_ids: list[str] = []


class FloatingIpStatuses(Message, frozen=True, kw_only=True):
    host: str
    router_id: str
    statuses: dict[str, FloatingIpStatus] = {}


ARGS: dict[str, type[Message]] = {
    REPORT_STATE: ReportState,
    GET_HOST_STATE: GetHostState,
    UPDATE_DEVICE_UP: DevicesUpDown,
    UPDATE_DEVICE_DOWN: DevicesUpDown,
    DHCP_READY_ON_PORTS: DhcpReady,
    UPDATE_FLOATINGIP_STATUSES: FloatingIpStatuses,
}


# --- replies (get_host_state's: protocol.linuxbridge / dhcp / l3) -----------------------------
class ReportStateReply(Envelope, frozen=True, kw_only=True):
    agent_status: Literal["new", "alive", "revived"]


class PortsActive(Envelope, frozen=True, kw_only=True):
    """update_device_up, dhcp_ready_on_ports: the ports made ACTIVE."""

    active: list[str] = []


class PortsDown(Envelope, frozen=True, kw_only=True):
    down: list[str] = []


class Changed(Envelope, frozen=True, kw_only=True):
    """update_floatingip_statuses: the floating IPs whose status changed."""

    changed: list[str] = []


# --- hints ---------------------------------------------------------------------------------
class Hint(Envelope, frozen=True, kw_only=True):
    """What changed for a host: its agents ask again for the state of these. A key left
    out (UNSET) is not for that kind of agent; ``None`` is everything of its kind."""

    networks: list[str] | msgspec.UnsetType | None = msgspec.UNSET
    routers: list[str] | msgspec.UnsetType | None = msgspec.UNSET
    security_groups: list[str] | msgspec.UnsetType = msgspec.UNSET
