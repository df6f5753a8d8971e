"""The linuxbridge mechanism driver: binds a port to a host whose Linux bridge agent is
alive, administratively up and can reach one of the network's segments:

- flat / vlan: the segment's physical network is in the agent's ``interface_mappings``
  (or ``bridge_mappings``);
- vxlan: the agent tunnels vxlan (``tunnel_types``);
- local: always (the network lives on that host's bridge only).

The binding is vif_type ``bridge``, and the port is ACTIVE only after the agent reported it
wired (an ``L2`` provisioning block; core/binding.py)."""

from __future__ import annotations

from typing import Any

from neutrino.core.mech.base import MechanismDriver, PortBindingContext

AGENT_TYPE = "Linux bridge agent"
VIF_TYPE = "bridge"
SUPPORTED_VNIC_TYPES = ("normal",)
VIF_DETAILS = {"port_filter": True, "connectivity": "l2"}


def can_reach(segment: dict[str, Any], configurations: dict[str, Any]) -> bool:
    """Whether an agent configured so can wire ``segment``."""
    network_type = segment.get("network_type")
    if network_type == "local":
        return True
    if network_type in ("flat", "vlan"):
        physnet = segment.get("physical_network")
        mappings = {**(configurations.get("bridge_mappings") or {}),
                    **(configurations.get("interface_mappings") or {})}
        return physnet is not None and physnet in mappings
    return network_type in (configurations.get("tunnel_types") or ())


def first_reachable(segments: list[dict[str, Any]], configurations: dict[str, Any]
                    ) -> dict[str, Any] | None:
    return next((s for s in segments if can_reach(s, configurations)), None)


class LinuxbridgeMechanismDriver(MechanismDriver):
    name = "linuxbridge"
    agent_type = AGENT_TYPE

    def check_segment_for_agent(self, segment: dict[str, Any], agent: dict[str, Any]) -> bool:
        return agent.get("agent_type") == self.agent_type and can_reach(
            segment, agent.get("configurations") or {})

    def bind_port(self, ctx: PortBindingContext) -> None:
        if ctx.vnic_type not in SUPPORTED_VNIC_TYPES:
            return
        for agent in ctx.agents:
            if (agent["agent_type"] != AGENT_TYPE or not agent["alive"]
                    or not agent["admin_state_up"]):
                continue
            segment = first_reachable(ctx.segments, agent["configurations"])
            if segment is not None:
                ctx.set_binding(segment, VIF_TYPE, dict(VIF_DETAILS))
                return
