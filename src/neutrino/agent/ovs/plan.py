"""What the Open vSwitch agent must change: desired state + OVSDB rows -> OVSDB operations
(phase 1), then desired state + OVSDB rows (with the ofports phase 1 made) -> every flow of
every bridge (phase 2). Pure functions: unit-tested without root (tests/unit/test_ovs_plan.py).

Layout (Neutron's names; docs/ovs-agent.md):

- ``br-int`` (fail_mode secure): instance ports found by ``external_ids:iface-id``, each an
  access port tagged with its network's *local VLAN*; ``patch-tun`` to ``br-tun``;
  ``int-<br>`` to each mapped provider bridge (peer ``phy-<br>``);
- ``br-tun``: ``patch-int``, one tunnel port per remote VTEP and tunnel type
  (``vxlan-<hex ip>``, ``gre-…``, ``geneve-…``, flow-based keys);
- provider bridges of ``bridge_mappings``: the operator's (with the physical interface),
  the agent adds ``phy-<br>`` and its flows.

The local VLAN of each network is recorded in every port's ``Port.other_config`` (net_uuid,
network_type, physical_network, segmentation_id, tag) and read back from there: nothing of
it lives only in memory. A network gets a local VLAN once one of its ports is plugged here.
"""

from __future__ import annotations

import ipaddress
import zlib
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field

from neutrino.agent.l2.firewall.model import FirewallState
from neutrino.agent.ovs.config import OvsConfig
from neutrino.agent.ovs.firewall import PortWiring, plan_firewall
from neutrino.agent.ovs.model import (
    DEAD_VLAN,
    MAX_VLAN,
    MIN_VLAN,
    NET_UUID,
    NETWORK_TYPE,
    PHYSNET,
    SEGMENTATION_ID,
    TAG,
    NetworkSpec,
    Observed,
)

PATCH_TUN, PATCH_INT = "patch-tun", "patch-int"
TUNNEL_PREFIX = {"vxlan": "vxlan", "gre": "gre", "geneve": "geneve"}
# br-tun tables (Neutron's numbers, so its operators read the dumps they know)
T_PATCH_LV_TO_TUN, T_GRE_IN, T_VXLAN_IN, T_GENEVE_IN = 2, 3, 4, 6
T_UCAST, T_ARP, T_FLOOD = 20, 21, 22
TUNNEL_IN_TABLE = {"gre": T_GRE_IN, "vxlan": T_VXLAN_IN, "geneve": T_GENEVE_IN}
# br-int tables
T_LOCAL_SWITCHING, T_CANARY, T_TRANSIENT = 0, 23, 60
OWN_KEYS = (NET_UUID, NETWORK_TYPE, PHYSNET, SEGMENTATION_ID, TAG)


def int_patch(bridge: str) -> str:
    return f"int-{bridge}"


def phy_patch(bridge: str) -> str:
    return f"phy-{bridge}"


def tunnel_port_name(tunnel_type: str, remote_ip: str) -> str:
    """``vxlan-c0000202`` for 192.0.2.2 (Neutron's: the address in hex); IPv6 addresses
    are hashed into 8 hex digits as well, to stay within 15 characters."""
    ip = ipaddress.ip_address(remote_ip)
    digits = f"{int(ip):08x}" if ip.version == 4 else f"{zlib.crc32(ip.packed):08x}"
    return f"{TUNNEL_PREFIX[tunnel_type]}-{digits}"


# --- phase 1: OVSDB --------------------------------------------------------------------------
@dataclass(frozen=True)
class AddBridge:
    name: str
    datapath_type: str
    fail_mode: str | None = "secure"


@dataclass(frozen=True)
class AddPort:
    bridge: str
    name: str
    type: str
    options: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class DelPort:
    bridge: str
    name: str


@dataclass(frozen=True)
class SetPort:
    """Port.tag and our keys of Port.other_config (others' keys are left alone)."""

    name: str
    tag: int
    other_config: Mapping[str, str]


@dataclass(frozen=True)
class SetMtu:
    name: str
    mtu: int


@dataclass(frozen=True)
class SetCookie:
    bridge: str
    cookie: int


OvsdbOp = AddBridge | AddPort | DelPort | SetPort | SetMtu | SetCookie


def _segment_config(net: NetworkSpec, lvid: int) -> dict[str, str]:
    out = {NET_UUID: net.id, NETWORK_TYPE: net.network_type or "", TAG: str(lvid)}
    if net.physical_network:
        out[PHYSNET] = net.physical_network
    if net.segmentation_id is not None:
        out[SEGMENTATION_ID] = str(net.segmentation_id)
    return out


def reachable(net: NetworkSpec, config: OvsConfig) -> bool:
    if net.network_type in ("flat", "vlan"):
        return net.physical_network in config.bridge_mappings
    if net.network_type == "local":
        return True
    return net.network_type in config.tunnel_types


def local_vlans(desired: Mapping[str, NetworkSpec], observed: Observed, config: OvsConfig
                ) -> dict[str, int]:
    """network id -> local VLAN, for every network with a port plugged into br-int (or
    recorded there): the one recorded in its ports' other_config where there is one, else
    the lowest free. Networks recorded but no longer desired keep theirs (their VLAN stays
    taken until their ports are retagged), so nothing is renumbered under traffic."""
    recorded: dict[str, int] = {}
    for p in sorted(observed.on(config.integration_bridge), key=lambda p: p.name):
        nid, tag = p.other_config.get(NET_UUID), p.other_config.get(TAG)
        if nid and tag and tag.isdigit() and MIN_VLAN <= int(tag) <= MAX_VLAN:
            recorded.setdefault(nid, int(tag))
    out = dict(recorded)
    taken = set(out.values())
    plugged = {p.iface_id for p in observed.on(config.integration_bridge) if p.iface_id}
    free = (v for v in range(MIN_VLAN, MAX_VLAN + 1) if v not in taken)
    for nid in sorted(desired):
        net = desired[nid]
        if nid in out or not reachable(net, config):
            continue
        if any(p.id in plugged for p in net.ports):
            out[nid] = next(free)
    return out


@dataclass
class OvsdbPlan:
    ops: list[OvsdbOp] = field(default_factory=list)
    lvids: dict[str, int] = field(default_factory=dict)
    ports_up: list[str] = field(default_factory=list)  # wired by this plan (or already)
    ports_down: list[str] = field(default_factory=list)  # plugged but not wired (dead VLAN)

    def __bool__(self) -> bool:
        return bool(self.ops)


def tunnel_peers(desired: Mapping[str, NetworkSpec], lvids: Mapping[str, int],
                 config: OvsConfig) -> dict[str, str]:
    """tunnel port name -> (type, remote ip) the wired networks need."""
    out: dict[str, str] = {}
    for nid, net in desired.items():
        if nid not in lvids or net.network_type not in config.tunnel_types:
            continue
        l2pop = net.l2pop
        if l2pop is None:
            continue
        for vtep in set(l2pop.flood) | set(l2pop.unicast.values()):
            if vtep != config.local_ip:
                out[tunnel_port_name(net.network_type, vtep)] = f"{net.network_type} {vtep}"
    return out


def plan_ovsdb(desired: Mapping[str, NetworkSpec], asked: Collection[str] | None,
               observed: Observed, config: OvsConfig, new_cookie: int) -> OvsdbPlan:
    """Phase 1. ``desired``: every network of the host (a partial reply merged into the
    last full one); ``asked``: the networks of a partial resync (None: full): instance
    ports of networks outside it are left as they are."""
    plan = OvsdbPlan()
    ops = plan.ops
    bint, btun = config.integration_bridge, config.tunnel_bridge
    dp = config.datapath_type
    bridges = [bint] + ([btun] if config.tunnel_types else []) + sorted(
        set(config.bridge_mappings.values()))
    for br in bridges:
        if br not in observed.bridges:
            # provider bridges are the operator's: made here only so that a missing one
            # does not stop the rest (without its physical interface it carries nothing)
            ops.append(AddBridge(br, dp))
    if observed.cookie is None:
        ops.append(SetCookie(bint, new_cookie))

    def want_port(bridge: str, name: str, type_: str, options: Mapping[str, str]) -> None:
        have = observed.ports.get(name)
        if have is not None and (have.bridge != bridge or have.type != type_
                                 or dict(have.options) != dict(options)):
            ops.append(DelPort(have.bridge, name))
            have = None
        if have is None:
            ops.append(AddPort(bridge, name, type_, dict(options)))

    if config.tunnel_types:
        want_port(bint, PATCH_TUN, "patch", {"peer": PATCH_INT})
        want_port(btun, PATCH_INT, "patch", {"peer": PATCH_TUN})
    for br in sorted(set(config.bridge_mappings.values())):
        want_port(bint, int_patch(br), "patch", {"peer": phy_patch(br)})
        want_port(br, phy_patch(br), "patch", {"peer": int_patch(br)})

    lvids = local_vlans(desired, observed, config)
    plan.lvids = lvids
    # tunnel ports: those wired networks need; full resyncs drop the others
    wanted_tunnels = tunnel_peers(desired, lvids, config)
    if config.tunnel_types:
        for name, spec in sorted(wanted_tunnels.items()):
            ttype, remote = spec.split()
            options = {"remote_ip": remote, "local_ip": config.local_ip or "",
                       "in_key": "flow", "out_key": "flow"}
            if ttype == "vxlan" and config.vxlan_udp_port != 4789:
                options["dst_port"] = str(config.vxlan_udp_port)
            want_port(btun, name, ttype, options)
    # ``desired`` is the host's whole desired state (the agent merges partial replies
    # into it), so tunnels no network needs go on partial passes too: a network deleted
    # by a hint takes its tunnels with it at once
    for p in observed.on(btun):
        if p.type in TUNNEL_PREFIX and p.name not in wanted_tunnels:
            ops.append(DelPort(btun, p.name))

    # instance ports
    by_port = {p.id: (net, p) for net in desired.values() for p in net.ports}
    scope = None if asked is None else set(asked)
    for p in sorted(observed.on(bint), key=lambda p: p.name):
        if not p.iface_id:
            continue
        found = by_port.get(p.iface_id)
        if found is None:
            mine = p.other_config.get(NET_UUID)
            if scope is not None and mine not in scope:
                continue  # a port of a network this pass does not look at
            if p.tag != DEAD_VLAN or any(k in p.other_config for k in OWN_KEYS):
                ops.append(SetPort(p.name, DEAD_VLAN, {}))
            continue
        net, spec = found
        if scope is not None and net.id not in scope:
            continue
        lvid = lvids.get(net.id)
        if lvid is None or not spec.admin_state_up or not net.admin_state_up:
            if p.tag != DEAD_VLAN:
                ops.append(SetPort(p.name, DEAD_VLAN, {}))
            plan.ports_down.append(spec.id)
            continue
        cfg_wanted = _segment_config(net, lvid)
        mine_now = {k: v for k, v in p.other_config.items() if k in OWN_KEYS}
        if p.tag != lvid or mine_now != cfg_wanted:
            ops.append(SetPort(p.name, lvid, cfg_wanted))
        if net.mtu and p.mtu_request != net.mtu:
            ops.append(SetMtu(p.name, net.mtu))
        plan.ports_up.append(spec.id)
    return plan


# --- phase 2: flows --------------------------------------------------------------------------
class MissingPort(Exception):
    """A port the flows need has no ofport (yet): vswitchd has not made it."""


def _ofport(observed: Observed, name: str) -> int:
    p = observed.ports.get(name)
    if p is None or p.ofport is None or p.ofport <= 0:
        raise MissingPort(name)
    return p.ofport


def _set_vid(vid: int) -> str:
    """Actions are written as OVS reports them in OpenFlow 1.4 (pop_vlan, push_vlan +
    set_field, not strip_vlan / mod_vlan_vid / set_tunnel / mod_dl_src): replace-flows
    compares the switch's flows, read back in that form, with ours action by action, and
    resends every flow spelt otherwise on every pass (measured: each br-tun unicast and
    ARP-responder flow was rewritten by every resync)."""
    return f"set_field:{0x1000 | vid}->vlan_vid"


def _arp_responder(lvid: int, ip: str, mac: str) -> str:
    mac_hex = "0x" + mac.replace(":", "")
    ip_hex = f"{int(ipaddress.IPv4Address(ip)):#x}"
    return (f"table={T_ARP},priority=1,arp,dl_vlan={lvid},arp_tpa={ip} actions="
            "move:NXM_OF_ETH_SRC[]->NXM_OF_ETH_DST[],"
            f"set_field:{mac}->eth_src,load:0x2->NXM_OF_ARP_OP[],"
            "move:NXM_NX_ARP_SHA[]->NXM_NX_ARP_THA[],move:NXM_OF_ARP_SPA[]->NXM_OF_ARP_TPA[],"
            f"load:{mac_hex}->NXM_NX_ARP_SHA[],load:{ip_hex}->NXM_OF_ARP_SPA[],IN_PORT")


def wiring(desired: Mapping[str, NetworkSpec], lvids: Mapping[str, int],
           observed: Observed, config: OvsConfig) -> dict[str, PortWiring]:
    """port id -> ofport and local VLAN of the instance ports wired on br-int (tagged with
    their network's local VLAN by phase 1): the ports the firewall filters."""
    by_iface = {p.iface_id: p for p in observed.on(config.integration_bridge)
                if p.iface_id and p.ofport > 0}
    out: dict[str, PortWiring] = {}
    for nid, lvid in lvids.items():
        net = desired.get(nid)
        if net is None or not net.admin_state_up:
            continue
        for spec in net.ports:
            have = by_iface.get(spec.id)
            if have is not None and spec.admin_state_up:
                out[spec.id] = PortWiring(have.ofport, lvid)
    return out


def plan_flows(desired: Mapping[str, NetworkSpec], lvids: Mapping[str, int],
               observed: Observed, config: OvsConfig,
               firewall: FirewallState | None = None) -> dict[str, list[str]]:
    """Phase 2: bridge -> every flow it must have (without the cookie: the executor adds
    the agent's to each). Networks without a local VLAN get none. MissingPort if a port
    the flows refer to has no ofport. ``firewall``: the security groups to enforce
    (firewall_driver openvswitch; agent/ovs/firewall.py), None: no filtering."""
    bint, btun = config.integration_bridge, config.tunnel_bridge
    wired = {nid: desired[nid] for nid in sorted(lvids) if nid in desired}
    f_int = [
        f"table={T_LOCAL_SWITCHING},priority=65535,dl_vlan={DEAD_VLAN} actions=drop",
        f"table={T_LOCAL_SWITCHING},priority=0 actions=resubmit(,{T_TRANSIENT})",
        f"table={T_CANARY},priority=0 actions=drop",
        f"table={T_TRANSIENT},priority=3 actions=NORMAL",
    ]
    out: dict[str, list[str]] = {bint: f_int}
    if firewall is not None:
        f_int += plan_firewall(firewall, wiring(desired, lvids, observed, config))
    for physnet, br in sorted(config.bridge_mappings.items()):
        int_of, phy_of = _ofport(observed, int_patch(br)), _ofport(observed, phy_patch(br))
        f_int.append(f"table={T_LOCAL_SWITCHING},priority=2,in_port={int_of} actions=drop")
        f_phy = [f"table=0,priority=2,in_port={phy_of} actions=drop",
                 "table=0,priority=0 actions=NORMAL"]
        for nid, net in wired.items():
            if net.physical_network != physnet:
                continue
            lvid = lvids[nid]
            if net.network_type == "vlan" and net.segmentation_id:
                f_int.append(f"table={T_LOCAL_SWITCHING},priority=3,in_port={int_of},"
                             f"dl_vlan={net.segmentation_id} actions={_set_vid(lvid)},"
                             f"resubmit(,{T_TRANSIENT})")
                f_phy.append(f"table=0,priority=4,in_port={phy_of},dl_vlan={lvid} "
                             f"actions={_set_vid(net.segmentation_id)},NORMAL")
            elif net.network_type == "flat":
                f_int.append(f"table={T_LOCAL_SWITCHING},priority=3,in_port={int_of},"
                             f"vlan_tci=0x0000/0x1fff actions=push_vlan:0x8100,{_set_vid(lvid)},"
                             f"resubmit(,{T_TRANSIENT})")
                f_phy.append(f"table=0,priority=4,in_port={phy_of},dl_vlan={lvid} "
                             "actions=pop_vlan,NORMAL")
        out[br] = f_phy
    if not config.tunnel_types:
        return out
    patch_int = _ofport(observed, PATCH_INT)
    f_tun = [
        f"table=0,priority=1,in_port={patch_int} actions=resubmit(,{T_PATCH_LV_TO_TUN})",
        "table=0,priority=0 actions=drop",
        f"table={T_PATCH_LV_TO_TUN},priority=0,dl_dst=00:00:00:00:00:00/01:00:00:00:00:00 "
        f"actions=resubmit(,{T_UCAST})",
        f"table={T_PATCH_LV_TO_TUN},priority=0,dl_dst=01:00:00:00:00:00/01:00:00:00:00:00 "
        f"actions=resubmit(,{T_FLOOD})",
        f"table={T_UCAST},priority=0 actions=resubmit(,{T_FLOOD})",
        f"table={T_FLOOD},priority=0 actions=drop",
    ]
    if config.arp_responder:
        f_tun += [f"table={T_PATCH_LV_TO_TUN},priority=1,arp,dl_dst=ff:ff:ff:ff:ff:ff "
                  f"actions=resubmit(,{T_ARP})",
                  f"table={T_ARP},priority=0 actions=resubmit(,{T_FLOOD})"]
    for ttype in config.tunnel_types:
        f_tun.append(f"table={TUNNEL_IN_TABLE[ttype]},priority=0 actions=drop")
    for p in sorted(observed.on(btun), key=lambda p: p.name):
        if p.type in TUNNEL_IN_TABLE and p.type in config.tunnel_types and p.ofport > 0:
            f_tun.append(f"table=0,priority=1,in_port={p.ofport} "
                         f"actions=resubmit(,{TUNNEL_IN_TABLE[p.type]})")
    for nid, net in wired.items():
        if net.network_type not in config.tunnel_types or net.segmentation_id is None:
            continue
        lvid, key, ttype = lvids[nid], net.segmentation_id, net.network_type
        f_tun.append(f"table={TUNNEL_IN_TABLE[ttype]},priority=1,tun_id={key:#x} "
                     f"actions=push_vlan:0x8100,{_set_vid(lvid)},output:{patch_int}")
        l2pop = net.l2pop
        if l2pop is None:
            continue
        remote = [v for v in l2pop.flood if v != config.local_ip]
        if remote:
            outs = ",".join(f"output:{_ofport(observed, tunnel_port_name(ttype, v))}"
                            for v in sorted(remote))
            f_tun.append(f"table={T_FLOOD},priority=1,dl_vlan={lvid} "
                         f"actions=pop_vlan,set_field:{key:#x}->tun_id,{outs}")
        for mac, vtep in sorted(l2pop.unicast.items()):
            if vtep == config.local_ip:
                continue
            f_tun.append(f"table={T_UCAST},priority=2,dl_vlan={lvid},dl_dst={mac} "
                         f"actions=pop_vlan,set_field:{key:#x}->tun_id,"
                         f"output:{_ofport(observed, tunnel_port_name(ttype, vtep))}")
        if config.arp_responder:
            for ip, mac in sorted(l2pop.neigh.items()):
                if ipaddress.ip_address(ip).version == 4:
                    f_tun.append(_arp_responder(lvid, ip, mac))
    out[btun] = f_tun
    return out

