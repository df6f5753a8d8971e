"""The openvswitch mechanism driver: binds a port to a host whose Open vSwitch agent is
alive, administratively up and reaches one of the network's segments (the same rule as
the Linux bridge agent's, core/mech/linuxbridge.py ``can_reach``):

- flat / vlan: the segment's physical network is in the agent's ``bridge_mappings``;
- vxlan / gre / geneve: the agent tunnels that type (``tunnel_types``);
- local: always.

The binding is vif_type ``ovs``: the instance's port goes straight into the integration
bridge (``ovs_hybrid_plug`` false: no qbr/qvo pair, the firewall is OpenFlow's), named in
``bridge_name``, with the agent's ``datapath_type`` (os-vif creates the bridge with it if
missing). The port is ACTIVE only after the agent reported it wired (an ``L2``
provisioning block; core/binding.py)."""

from __future__ import annotations

from typing import Any

from neutrino.core.mech.base import MechanismDriver, PortBindingContext
from neutrino.core.mech.linuxbridge import can_reach, first_reachable

AGENT_TYPE = "Open vSwitch agent"
VIF_TYPE = "ovs"
SUPPORTED_VNIC_TYPES = ("normal",)
DEFAULT_BRIDGE = "br-int"
DEFAULT_DATAPATH = "system"
# firewall drivers that leave the port unfiltered: Nova must not count on port_filter
UNFILTERED = ("noop", "neutron.agent.firewall.NoopFirewallDriver", "")


def vif_details(configurations: dict[str, Any]) -> dict[str, Any]:
    """What Nova / os-vif need to plug the port on a host whose agent reports
    ``configurations``."""
    firewall = configurations.get("firewall_driver", "openvswitch")
    return {
        "port_filter": firewall not in UNFILTERED,
        "ovs_hybrid_plug": False,
        "datapath_type": configurations.get("datapath_type") or DEFAULT_DATAPATH,
        "bridge_name": configurations.get("integration_bridge") or DEFAULT_BRIDGE,
        "connectivity": "l2",
    }


class OpenvswitchMechanismDriver(MechanismDriver):
    name = "openvswitch"
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
            configurations = agent["configurations"] or {}
            segment = first_reachable(ctx.segments, configurations)
            if segment is not None:
                ctx.set_binding(segment, VIF_TYPE, vif_details(configurations))
                return
