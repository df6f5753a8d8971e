"""What the Linux bridge agent must change: desired state + kernel state -> actions.

The planning is pure (no kernel access: the actions it returns apply themselves, or render
into iproute2's batch, later: agent/actions.py), so every decision of the agent is
unit-tested exactly, including the one that matters most: a host that is already right gets
an empty plan, so a restarted agent touches nothing and established traffic never notices.

Per network with ports on this host (Neutron's layout):

- bridge ``brq<net-id[:11]>`` with the network's MTU, up;
- its segment device in the bridge: ``vxlan-<vni>`` (l2population form: no learning, ARP
  proxy, static flood/unicast/neighbour entries from the server; or learning + multicast
  group when l2_population is off), the mapped physical interface (flat), or an 802.1q
  sub-interface ``<iface>.<vlan>`` of it (vlan); nothing for local networks;
- every port whose ``tap<port-id[:11]>`` device exists on the host, in the bridge and up
  (taken out of it while the port is administratively down).

Everything else that looks like ours in the scope of the resync goes: bridges of networks
without ports here (with their VXLAN and VLAN devices; a physical interface is only taken
out), taps in our bridges that belong to no wanted port, and (full resync only) VXLAN devices
of no wanted network.
"""

from __future__ import annotations

import ipaddress
import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from neutrino.agent.actions import Action, Batch, DeleteDevice, Target
from neutrino.agent.linux import devices, names, vlan, vxlan
from neutrino.agent.linux.devices import Device
from neutrino.agent.linux.fdb import FdbDiff, FdbState, diff_fdb, normalize_ip, normalize_mac
from neutrino.agent.linux.vlan import VlanInfo, vlan_device_name
from neutrino.agent.linux.vxlan import VXLAN_PORT, VxlanInfo
from neutrino.protocol import linuxbridge as lb

LOG = logging.getLogger(__name__)
DEFAULT_MTU = 1500


# --- desired state -------------------------------------------------------------------------
@dataclass(frozen=True)
class PortSpec:
    id: str
    device: str  # tap<port-id[:11]>
    mac_address: str = ""
    admin_state_up: bool = True
    device_owner: str = ""


@dataclass(frozen=True)
class L2pop:
    flood: frozenset[str] = frozenset()
    unicast: Mapping[str, str] = field(default_factory=dict)
    neigh: Mapping[str, str] = field(default_factory=dict)

    def fdb_state(self) -> FdbState:
        return FdbState.wanted(self.flood, self.unicast, self.neigh)


@dataclass(frozen=True)
class NetworkSpec:
    id: str
    network_type: str
    physical_network: str | None = None
    segmentation_id: int | None = None
    mtu: int = DEFAULT_MTU
    ports: tuple[PortSpec, ...] = ()
    l2pop: L2pop = field(default_factory=L2pop)

    @property
    def bridge(self) -> str:
        return names.bridge_name(self.id)


def parse_port(raw: lb.Port) -> PortSpec:
    return PortSpec(
        id=raw.id,
        device=names.check_device_name(raw.device or names.tap_name(raw.id)),
        mac_address=normalize_mac(raw.mac_address) if raw.mac_address else "",
        admin_state_up=raw.admin_state_up,
        device_owner=raw.device_owner,
    )


def parse_network(raw: lb.Network) -> NetworkSpec:
    l2 = raw.l2pop or lb.L2pop()
    return NetworkSpec(
        id=raw.id,
        network_type=raw.network_type or "local",
        physical_network=raw.physical_network or None,
        segmentation_id=raw.segmentation_id,
        mtu=raw.mtu or DEFAULT_MTU,
        ports=tuple(parse_port(p) for p in raw.ports),
        l2pop=L2pop(
            flood=frozenset(normalize_ip(p) for p in l2.flood),
            unicast={normalize_mac(m): normalize_ip(p) for m, p in l2.unicast.items()},
            neigh={normalize_ip(ip): normalize_mac(m) for ip, m in l2.neigh.items()},
        ),
    )


def parse_host_state(state: lb.HostState) -> dict[str, NetworkSpec]:
    """get_host_state's reply as NetworkSpecs by network id."""
    nets = (parse_network(n) for n in state.networks)
    return {n.id: n for n in nets}


# --- agent configuration -------------------------------------------------------------------
@dataclass(frozen=True)
class BridgeConfig:
    interface_mappings: Mapping[str, str] = field(default_factory=dict)  # physnet -> iface
    enable_vxlan: bool = True
    local_ip: str | None = None
    l2_population: bool = True
    vxlan_group: str | None = None  # address or CIDR range
    udp_dstport: int = VXLAN_PORT


def vxlan_group_for(group: str, vni: int) -> str:
    """The multicast group of ``vni``: ``group`` itself, or for a range (CIDR) the address
    at ``vni`` masked by the range's host mask, so VNIs spread over the range."""
    net = ipaddress.ip_network(group, strict=False)
    return str(net[vni & int(net.hostmask)])


# --- kernel state --------------------------------------------------------------------------
@dataclass(frozen=True)
class KernelState:
    """What the agent reads from its host namespace before planning."""

    devices: Mapping[str, Device] = field(default_factory=dict)
    vxlans: Mapping[str, VxlanInfo] = field(default_factory=dict)
    vlans: Mapping[str, VlanInfo] = field(default_factory=dict)
    fdb: Mapping[str, FdbState] = field(default_factory=dict)  # vxlan device -> entries
    addresses: Mapping[str, str] = field(default_factory=dict)  # IP -> device holding it


# --- actions (agent/actions.py: each applies itself or renders into the batch) -------------
FLOOD = "00:00:00:00:00:00"


def _kernel(batch: Batch) -> KernelState:
    kernel = batch.observed
    assert isinstance(kernel, KernelState)
    return kernel


@dataclass(frozen=True)
class EnsureBridge(Action):
    bridge: str
    mtu: int

    def apply(self, target: Target) -> None:
        devices.ensure_bridge(self.bridge, mtu=self.mtu, netns=target.netns)

    def render(self, batch: Batch) -> bool:
        if self.bridge not in _kernel(batch).devices:
            batch.ip.append(f"link add {self.bridge} type bridge stp_state 0 forward_delay 0")
        batch.ip.append(f"link set {self.bridge} mtu {self.mtu} up")
        return True


@dataclass(frozen=True)
class EnsureVxlan(Action):
    want: VxlanInfo
    mtu: int
    bridge: str

    def apply(self, target: Target) -> None:
        w = self.want
        assert w.local_ip is not None and w.dev is not None
        vxlan.ensure_vxlan(w.vni, w.local_ip, w.dev, name=w.name, dstport=w.dstport,
                           l2pop=w.proxy, group=w.group, mtu=self.mtu, netns=target.netns)
        devices.set_master(w.name, self.bridge, netns=target.netns)

    def render(self, batch: Batch) -> bool:
        w, kernel = self.want, _kernel(batch)
        if w.name in kernel.devices and kernel.vxlans.get(w.name) != w:
            batch.ip.append(f"link del {w.name}")
        if w.name not in kernel.devices or kernel.vxlans.get(w.name) != w:
            mode = "nolearning proxy" if w.proxy else f"group {w.group}"
            batch.ip.append(f"link add {w.name} type vxlan id {w.vni} local {w.local_ip} "
                            f"dev {w.dev} dstport {w.dstport} {mode}")
        batch.ip.append(f"link set {w.name} master {self.bridge} mtu {self.mtu} up")
        return True


@dataclass(frozen=True)
class SyncFdb(Action):
    device: str
    wanted: FdbState
    current: FdbState  # what the kernel has (empty when the device is made anew)

    @property
    def diff(self) -> FdbDiff:
        return diff_fdb(self.current, self.wanted)

    def apply(self, target: Target) -> None:
        diff = self.diff
        vxlan.apply_fdb_diff(self.device, diff, netns=target.netns)
        LOG.info("%s: %d forwarding entries changed", self.device, len(diff))

    def render(self, batch: Batch) -> bool:
        d, dev = self.diff, self.device
        batch.bridge += [f"fdb append {FLOOD} dev {dev} dst {p} self permanent"
                         for p in d.flood_add]
        batch.bridge += [f"fdb replace {m} dev {dev} dst {p} self permanent"
                         for m, p in d.unicast_set]
        batch.ip += [f"neigh replace {a} lladdr {m} dev {dev} nud permanent"
                     for a, m in d.neigh_set]
        batch.ip += [f"neigh del {a} dev {dev}" for a in d.neigh_del]
        batch.bridge += [f"fdb del {m} dev {dev} dst {p} self" for m, p in d.unicast_del]
        batch.bridge += [f"fdb del {FLOOD} dev {dev} dst {p} self" for p in d.flood_del]
        return True


@dataclass(frozen=True)
class EnsureVlan(Action):
    interface: str
    vlan_id: int
    device: str

    def apply(self, target: Target) -> None:
        vlan.ensure_vlan(self.interface, self.vlan_id, name=self.device, netns=target.netns)

    def render(self, batch: Batch) -> bool:
        if self.device in _kernel(batch).devices:
            batch.ip.append(f"link del {self.device}")
        batch.ip.append(f"link add link {self.interface} name {self.device} type vlan "
                        f"id {self.vlan_id}")
        batch.ip.append(f"link set {self.device} up")
        return True


@dataclass(frozen=True)
class AttachInterface(Action):  # a physical interface or VLAN sub-interface into a bridge
    device: str
    bridge: str

    def apply(self, target: Target) -> None:
        devices.set_master(self.device, self.bridge, netns=target.netns)
        devices.set_up(self.device, netns=target.netns)

    def render(self, batch: Batch) -> bool:
        batch.ip.append(f"link set {self.device} master {self.bridge} up")
        return True


@dataclass(frozen=True)
class AttachTap(Action):
    device: str
    bridge: str
    mtu: int
    port_id: str

    def apply(self, target: Target) -> None:
        devices.set_mtu(self.device, self.mtu, netns=target.netns)
        devices.set_master(self.device, self.bridge, netns=target.netns)
        devices.set_up(self.device, netns=target.netns)

    def render(self, batch: Batch) -> bool:
        batch.ip.append(f"link set {self.device} mtu {self.mtu} master {self.bridge} up")
        return True


@dataclass(frozen=True)
class Detach(Action):
    device: str

    def apply(self, target: Target) -> None:
        devices.detach(self.device, netns=target.netns)

    def render(self, batch: Batch) -> bool:
        batch.ip.append(f"link set {self.device} nomaster")
        return True


@dataclass(frozen=True)
class DetachTap(Detach):
    port_id: str | None


@dataclass(frozen=True)
class DetachInterface(Detach):
    pass


@dataclass(frozen=True)
class DeleteBridge(DeleteDevice):
    @property
    def bridge(self) -> str:
        return self.device


@dataclass
class NetworkPlan:
    network_id: str
    bridge: str
    actions: list[Action] = field(default_factory=list)
    error: str | None = None  # the network cannot be realized here (no action then)
    ports_up: list[str] = field(default_factory=list)  # wired once the actions succeed
    ports_attached: list[str] = field(default_factory=list)  # of those, wired by this plan
    ports_down: list[str] = field(default_factory=list)  # admin-down ports taken out
    ports_unplugged: list[str] = field(default_factory=list)  # wanted, but no tap here


@dataclass
class Plan:
    networks: list[NetworkPlan] = field(default_factory=list)
    cleanup: list[Action] = field(default_factory=list)
    ports_down: list[str] = field(default_factory=list)  # by cleanup (DetachTap)

    @property
    def actions(self) -> list[Action]:
        out = [a for n in self.networks for a in n.actions]
        return out + list(self.cleanup)

    def __bool__(self) -> bool:
        return bool(self.actions)


def is_port_action(action: Action) -> bool:
    """A change of one port's tap (the rest of a network's actions are its bridge and
    segment, which every port needs)."""
    return isinstance(action, (AttachTap, DetachTap))


def wired_ports(net: NetworkPlan, failed: Iterable[Action]) -> list[str]:
    """The ports of ``net.ports_up`` that are wired after a pass in which ``failed``
    (actions of this network, from ``net`` or from the residual plan made after a batch)
    failed: none if a change of the bridge or segment failed, else every port but those
    whose own change failed (Neutron's agent too reports each plugged device up and holds
    back only the ones it could not plug). An action that did not run counts as failed."""
    failed = list(failed)
    if net.error or any(not is_port_action(a) for a in failed):
        return []
    bad = {a.port_id for a in failed if isinstance(a, (AttachTap, DetachTap))}
    return [p for p in net.ports_up if p not in bad]


# --- planning ------------------------------------------------------------------------------
def plan_network(net: NetworkSpec, kernel: KernelState, config: BridgeConfig) -> NetworkPlan:
    """The actions that make one network with ports on this host right."""
    bridge = net.bridge
    out = NetworkPlan(network_id=net.id, bridge=bridge)
    segment: list[Action] = []
    try:
        segment = _plan_segment(net, kernel, config)
    except PlanError as e:
        out.error = str(e)
        return out
    br = kernel.devices.get(bridge)
    if br is None or br.kind != "bridge" or br.mtu != net.mtu or not br.up:
        out.actions.append(EnsureBridge(bridge, net.mtu))
    out.actions.extend(segment)
    for port in net.ports:
        tap = kernel.devices.get(port.device)
        if tap is None:
            out.ports_unplugged.append(port.id)
            continue
        if port.admin_state_up:
            if tap.master != bridge or not tap.up or tap.mtu != net.mtu:
                out.actions.append(AttachTap(port.device, bridge, net.mtu, port.id))
                out.ports_attached.append(port.id)
            out.ports_up.append(port.id)
        elif tap.master is not None:
            out.actions.append(DetachTap(port.device, port.id))
            out.ports_down.append(port.id)
    return out


class PlanError(Exception):
    """A network this host cannot realize (unmapped physical network, no local_ip...)."""


def _plan_segment(net: NetworkSpec, kernel: KernelState,
                  config: BridgeConfig) -> list[Action]:
    bridge = net.bridge
    kind = net.network_type
    if kind == "local":
        return []
    if kind == "vxlan":
        return _plan_vxlan(net, kernel, config)
    if kind in ("flat", "vlan"):
        physnet = net.physical_network
        iface = config.interface_mappings.get(physnet or "")
        if iface is None:
            raise PlanError(f"physical network {physnet!r} is not in "
                            "physical_interface_mappings on this host")
        if iface not in kernel.devices:
            raise PlanError(f"interface {iface} of physical network {physnet} does not "
                            "exist")
        if kind == "flat":
            dev = kernel.devices[iface]
            return [] if dev.master == bridge and dev.up else [AttachInterface(iface, bridge)]
        if net.segmentation_id is None:
            raise PlanError("vlan network without segmentation_id")
        actions: list[Action] = []
        name = vlan_device_name(iface, net.segmentation_id)
        have = kernel.vlans.get(name)
        sub = kernel.devices.get(name)
        if (sub is None or have is None or have.vlan_id != net.segmentation_id
                or have.link != iface or not sub.up):
            actions.append(EnsureVlan(iface, net.segmentation_id, name))
            actions.append(AttachInterface(name, bridge))
        elif sub.master != bridge:
            actions.append(AttachInterface(name, bridge))
        return actions
    raise PlanError(f"network type {kind!r} is not supported by the Linux bridge agent")


def _plan_vxlan(net: NetworkSpec, kernel: KernelState, config: BridgeConfig) -> list[Action]:
    if not config.enable_vxlan:
        raise PlanError("VXLAN is disabled on this host ([vxlan] enable_vxlan)")
    if not config.local_ip:
        raise PlanError("no [vxlan] local_ip configured")
    vni = net.segmentation_id
    if vni is None:
        raise PlanError("vxlan network without segmentation_id")
    local_ip = normalize_ip(config.local_ip)
    lower = kernel.addresses.get(local_ip)
    if lower is None:
        raise PlanError(f"local_ip {local_ip} is not an address of any interface")
    if config.l2_population:
        group = None
    elif config.vxlan_group:
        group = vxlan_group_for(config.vxlan_group, vni)
    else:
        raise PlanError("VXLAN needs l2_population or a vxlan_group to reach other hosts")
    name = names.vxlan_name(vni)
    want = VxlanInfo(name=name, vni=vni, local_ip=local_ip, dev=lower,
                     dstport=config.udp_dstport, group=group,
                     learning=not config.l2_population, proxy=config.l2_population)
    have = kernel.vxlans.get(name)
    dev = kernel.devices.get(name)
    actions: list[Action] = []
    recreate = have != want or dev is None
    if recreate or dev is None or dev.mtu != net.mtu or not dev.up or dev.master != net.bridge:
        actions.append(EnsureVxlan(want, net.mtu, net.bridge))
    if config.l2_population:
        wanted = net.l2pop.fdb_state()
        current = FdbState() if recreate else kernel.fdb.get(name, FdbState())
        if current != wanted:
            actions.append(SyncFdb(name, wanted, current))
    return actions


def is_our_bridge(dev: Device) -> bool:
    return dev.kind == "bridge" and dev.name.startswith(names.BRIDGE_PREFIX)


def plan_host(desired: Mapping[str, NetworkSpec], scope: Iterable[str] | None,
              kernel: KernelState, config: BridgeConfig,
              known_taps: Mapping[str, str] | None = None) -> Plan:
    """The plan that makes the host match ``desired``.

    ``scope``: the network ids this resync is about (None: all). Bridges outside the scope
    are left alone; inside it, those of networks not in ``desired`` (or with no ports)
    are removed. ``known_taps`` maps tap device -> port id of ports seen earlier, so
    taking out a tap whose port is gone can be reported as that port going down."""
    known_taps = known_taps or {}
    wanted = {nid: n for nid, n in desired.items() if n.ports}
    plan = Plan(networks=[plan_network(n, kernel, config)
                          for _, n in sorted(wanted.items())])
    wanted_bridges = {n.bridge for n in wanted.values()}
    wanted_taps = {p.device for n in desired.values() for p in n.ports}
    wanted_vxlans = {names.vxlan_name(n.segmentation_id) for n in wanted.values()
                     if n.network_type == "vxlan" and n.segmentation_id}
    if scope is None:
        scope_bridges = None
    else:
        scope_bridges = {names.bridge_name(nid) for nid in scope} | wanted_bridges
    mapped = set(config.interface_mappings.values())

    def in_scope(bridge: str) -> bool:
        return scope_bridges is None or bridge in scope_bridges

    devices = kernel.devices
    deleted: set[str] = set()
    # Taps in our bridges that belong to no wanted port.
    for dev in sorted(devices.values(), key=lambda d: d.name):
        if (dev.name.startswith(names.TAP_PREFIX) and dev.master is not None
                and dev.master.startswith(names.BRIDGE_PREFIX) and in_scope(dev.master)
                and dev.name not in wanted_taps):
            port_id = known_taps.get(dev.name)
            plan.cleanup.append(DetachTap(dev.name, port_id))
            if port_id:
                plan.ports_down.append(port_id)
    # Bridges of networks no longer here, with what hangs off them.
    for dev in sorted(devices.values(), key=lambda d: d.name):
        if not is_our_bridge(dev) or dev.name in wanted_bridges or not in_scope(dev.name):
            continue
        for sub in sorted(devices.values(), key=lambda d: d.name):
            if sub.master != dev.name:
                continue
            if sub.kind == "vxlan" and names.vni_from_vxlan_name(sub.name) is not None:
                if sub.name not in wanted_vxlans:
                    plan.cleanup.append(DeleteDevice(sub.name))
                    deleted.add(sub.name)
            elif sub.kind == "vlan" and (kernel.vlans.get(sub.name) is not None
                                         and kernel.vlans[sub.name].link in mapped):
                plan.cleanup.append(DeleteDevice(sub.name))
                deleted.add(sub.name)
            elif sub.name in mapped:
                plan.cleanup.append(DetachInterface(sub.name))
        plan.cleanup.append(DeleteBridge(dev.name))
    if scope is None:
        # VXLAN devices of no wanted network (left by a crash between creating the
        # device and the bridge, or by a network deleted while the agent was down).
        for name in sorted(kernel.vxlans):
            dev = devices.get(name)
            if (name not in wanted_vxlans and name not in deleted and dev is not None
                    and names.vni_from_vxlan_name(name) is not None):
                plan.cleanup.append(DeleteDevice(name))
    return plan


# --- batched execution ---------------------------------------------------------------------
def batch_commands(plan: Plan, kernel: KernelState) -> tuple[list[str], list[str]]:
    """The plan as ``ip -batch`` and ``bridge -batch`` lines (run in that order), for
    building many devices at once: iproute2 applies a thousand changes in well under a
    second, where one netlink request at a time from Python takes milliseconds each.

    Best effort by design: the caller runs them with ``-force``, then re-reads the kernel
    and applies whatever is still not right one action at a time (with per-network error
    handling). Every name, address and MAC here was validated or normalized on parsing."""
    batch = Batch(observed=kernel)
    left = batch.add(plan.actions)
    assert not left, left  # every Linux bridge action renders
    return batch.ip, batch.bridge
