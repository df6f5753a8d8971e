"""``get_host_state`` for the "Open vSwitch agent": the same shape as the Linux bridge
agent's (networks with their segment and MTU, ports, the l2population view of the other
hosts, security groups), its own envelope type so each agent type decodes its own reply.
``Port.device`` is the name os-vif gives the port on br-int (``tap<port-id[:11]>``); the
agent finds ports by ``external_ids:iface-id`` all the same."""

from __future__ import annotations

from neutrino.protocol.linuxbridge import (
    AddressPair,
    FixedIp,
    L2pop,
    Network,
    Port,
    RemoteGroups,
    Rule,
    SecurityGroup,
)
from neutrino.protocol.linuxbridge import HostState as _LbHostState

AGENT_TYPE = "Open vSwitch agent"

__all__ = ["AGENT_TYPE", "AddressPair", "FixedIp", "HostState", "L2pop", "Network", "Port",
           "RemoteGroups", "Rule", "SecurityGroup"]


class HostState(_LbHostState, frozen=True, kw_only=True):
    """The reply to get_host_state for an Open vSwitch agent."""
