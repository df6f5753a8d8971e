"""What the Open vSwitch agent plans from: the desired state (the server's, parsed) and the
observed state (OVSDB rows), as plain values so that planning is pure."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from neutrino.protocol import ovs as proto

DEAD_VLAN = 4095  # Neutron's: ports of no (known) network; dropped on br-int
MIN_VLAN, MAX_VLAN = 1, 4094
# Port.other_config keys holding a port's local VLAN and its network, as modern Neutron's
# agent records them: a restarted agent reads the assignment back (seed 003's flaw fixed).
NET_UUID, NETWORK_TYPE, PHYSNET, SEGMENTATION_ID, TAG = (
    "net_uuid", "network_type", "physical_network", "segmentation_id", "tag")
COOKIE_KEY = "neutrino-agent-cookie"  # br-int Bridge.external_ids: the agent's flow cookie


# --- desired ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class PortSpec:
    id: str
    mac_address: str = ""
    admin_state_up: bool = True


@dataclass(frozen=True)
class L2pop:
    flood: tuple[str, ...] = ()
    unicast: Mapping[str, str] = field(default_factory=dict)  # MAC -> VTEP
    neigh: Mapping[str, str] = field(default_factory=dict)  # IP -> MAC


@dataclass(frozen=True)
class NetworkSpec:
    id: str
    network_type: str | None
    physical_network: str | None
    segmentation_id: int | None
    mtu: int | None
    ports: tuple[PortSpec, ...] = ()
    l2pop: L2pop | None = None
    admin_state_up: bool = True


def parse_host_state(state: proto.HostState) -> dict[str, NetworkSpec]:
    out: dict[str, NetworkSpec] = {}
    for n in state.networks:
        l2pop = None
        if n.l2pop is not None:
            l2pop = L2pop(flood=tuple(sorted(n.l2pop.flood)),
                          unicast={m.lower(): v for m, v in n.l2pop.unicast.items()},
                          neigh={ip: m.lower() for ip, m in n.l2pop.neigh.items()})
        out[n.id] = NetworkSpec(
            id=n.id, network_type=n.network_type, physical_network=n.physical_network,
            segmentation_id=n.segmentation_id, mtu=n.mtu,
            ports=tuple(PortSpec(p.id, p.mac_address.lower(), p.admin_state_up)
                        for p in n.ports),
            l2pop=l2pop, admin_state_up=n.admin_state_up)
    return out


# --- observed --------------------------------------------------------------------------------
@dataclass(frozen=True)
class ObservedPort:
    """A Port row with its (first) Interface."""

    name: str
    bridge: str
    type: str = ""  # Interface.type: "" (system), internal, patch, vxlan, gre, geneve
    ofport: int = -1
    tag: int | None = None
    iface_id: str | None = None  # Interface.external_ids:iface-id (os-vif sets it)
    options: Mapping[str, str] = field(default_factory=dict)
    other_config: Mapping[str, str] = field(default_factory=dict)  # Port.other_config
    mtu_request: int | None = None


@dataclass(frozen=True)
class Observed:
    bridges: Mapping[str, str] = field(default_factory=dict)  # name -> datapath_type
    ports: Mapping[str, ObservedPort] = field(default_factory=dict)  # by name
    cookie: int | None = None  # from br-int's external_ids

    def on(self, bridge: str) -> list[ObservedPort]:
        return [p for p in self.ports.values() if p.bridge == bridge]
