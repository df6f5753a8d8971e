"""VXLAN devices and their l2population entries (flood, unicast fdb, ARP proxy).

``sync_fdb`` is the reconcile primitive: it reads the device's static entries from the kernel,
diffs them against what the agent wants (``fdb.diff_fdb``) and applies only the difference,
so running it again changes nothing and a converged host sees no netlink writes at all.
"""

from __future__ import annotations

import errno
import ipaddress
import socket
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from neutrino.agent.linux.devices import (
    Device,
    check_kind,
    converge_device,
    delete_device,
    device_from_message,
    get_link_message,
    master_names,
    require_device,
)
from neutrino.agent.linux.errors import DeviceError
from neutrino.agent.linux.fdb import (
    FLOOD_MAC,
    FdbDiff,
    FdbState,
    diff_fdb,
    normalize_ip,
    normalize_mac,
)
from neutrino.agent.linux.names import vxlan_name
from neutrino.agent.linux.netlink import Netns, device_errors, ipr_for, netns_name

VXLAN_PORT = 4789  # IANA; the kernel's own default is still the pre-IANA 8472
VXLAN_OVERHEAD = 50  # outer IPv4 20 + UDP 8 + VXLAN 8 + inner Ethernet 14

NTF_SELF = 0x02  # fdb entry of the device itself (vxlan), not of the bridge above it
NUD_NOARP = 0x40
NUD_PERMANENT = 0x80


@dataclass(frozen=True)
class VxlanInfo:
    name: str
    vni: int
    local_ip: str | None
    dev: str | None  # underlay device
    dstport: int
    group: str | None
    learning: bool
    proxy: bool


def _info_data(msg: Any) -> Any:
    info = msg.get_attr("IFLA_LINKINFO")
    return info.get_attr("IFLA_INFO_DATA") if info is not None else None


def get_vxlan(name: str, netns: Netns = None) -> VxlanInfo | None:
    """The VXLAN parameters of device ``name``, or None if it does not exist."""
    return _vxlan_info(name, netns)[0]


def _vxlan_info(name: str, netns: Netns) -> tuple[VxlanInfo | None, Device | None]:
    # One RTM_GETLINK carries both the link and its VXLAN data; parsing a link message
    # costs more than the syscall, so read it once.
    msg = get_link_message(name, netns)
    if msg is None:
        return None, None
    dev = device_from_message(msg, master_names(msg, netns))
    check_kind(dev, "vxlan", netns)
    data = _info_data(msg)
    link = data.get_attr("IFLA_VXLAN_LINK")
    lower = None
    if link:
        with device_errors(name, "read vxlan lower device", netns, ignore=(errno.ENODEV,)):
            lower = ipr_for(netns).link("get", index=link)[0].get_attr("IFLA_IFNAME")
    group = data.get_attr("IFLA_VXLAN_GROUP") or data.get_attr("IFLA_VXLAN_GROUP6")
    local = data.get_attr("IFLA_VXLAN_LOCAL") or data.get_attr("IFLA_VXLAN_LOCAL6")
    info = VxlanInfo(
        name=name,
        vni=data.get_attr("IFLA_VXLAN_ID"),
        local_ip=normalize_ip(local) if local else None,
        dev=lower,
        dstport=data.get_attr("IFLA_VXLAN_PORT"),
        group=normalize_ip(group) if group and group not in ("0.0.0.0", "::") else None,
        learning=bool(data.get_attr("IFLA_VXLAN_LEARNING")),
        proxy=bool(data.get_attr("IFLA_VXLAN_PROXY")),
    )
    return info, dev


def ensure_vxlan(vni: int, local_ip: str, dev: str, *, name: str | None = None,
                 dstport: int = VXLAN_PORT, l2pop: bool = True, group: str | None = None,
                 mtu: int | None = None, netns: Netns = None, up: bool = True) -> Device:
    """Make VXLAN device ``name`` (default ``vxlan-<vni>``) exist over ``dev``/``local_ip``.

    ``l2pop``: no MAC learning and ARP proxy, so forwarding comes only from the static
    entries ``sync_fdb`` installs (Neutron's l2population). Without it the device learns and
    floods to multicast ``group``, which must then be given.

    VNI, addresses, port and learning mode cannot be changed on a live device: one that
    exists with other values belongs to an old configuration and is recreated. Its fdb
    entries and bridge membership go with it, so re-run ``set_master`` and ``sync_fdb``
    after this (both cheap no-ops when nothing was recreated)."""
    name = name or vxlan_name(vni)
    local = ipaddress.ip_address(local_ip)
    grp = ipaddress.ip_address(group) if group else None
    if grp is not None and (not grp.is_multicast or grp.version != local.version):
        raise DeviceError(name, "create vxlan", f"group {group} is not a multicast address "
                          f"of the same family as {local_ip}", netns=netns_name(netns))
    if not l2pop and grp is None:
        raise DeviceError(name, "create vxlan", "without l2pop a multicast group is needed to "
                          "flood to peers", netns=netns_name(netns))
    want = VxlanInfo(name=name, vni=vni, local_ip=str(local), dev=dev, dstport=dstport,
                     group=str(grp) if grp else None, learning=not l2pop, proxy=l2pop)
    have, dev_now = _vxlan_info(name, netns)
    if have is not None and have != want:
        delete_device(name, netns)
        have = None
    if have is None or dev_now is None:
        lower = require_device(dev, netns, f"create {name} over it")
        v6 = local.version == 6
        spec: dict[str, Any] = {
            "ifname": name, "kind": "vxlan", "vxlan_id": vni, "vxlan_link": lower.index,
            "vxlan_port": dstport, "vxlan_learning": int(not l2pop),
            "vxlan_proxy": int(l2pop),
            ("vxlan_local6" if v6 else "vxlan_local"): str(local),
        }
        if grp is not None:
            spec["vxlan_group6" if v6 else "vxlan_group"] = str(grp)
        if mtu:
            spec["mtu"] = mtu
        with device_errors(name, f"create vxlan (vni {vni})", netns, ignore=(errno.EEXIST,)):
            ipr_for(netns).link("add", **spec)
        dev_now = require_device(name, netns, "create vxlan")
    return converge_device(dev_now, netns, mtu, up)


# --- reading entries -----------------------------------------------------------------------
def _vxlan_index(name: str, netns: Netns, action: str) -> int:
    dev = require_device(name, netns, action)
    check_kind(dev, "vxlan", netns)
    return dev.index


def get_fdb_state(name: str, netns: Netns = None) -> FdbState:
    """The static (permanent) forwarding entries of VXLAN device ``name``.

    Learned entries are the kernel's and are left out; so is the default entry a
    multicast-group device gets (its dst is the group), which is configuration, not l2pop."""
    index = _vxlan_index(name, netns, "read fdb")
    ipr = ipr_for(netns)
    flood: set[str] = set()
    unicast: dict[str, set[str]] = {}
    with device_errors(name, "read fdb", netns):
        entries = list(ipr.fdb("dump", ifindex=index))
    for e in entries:
        dst = e.get_attr("NDA_DST")
        mac = e.get_attr("NDA_LLADDR")
        if (e["ifindex"] != index or not e["flags"] & NTF_SELF
                or not e["state"] & NUD_PERMANENT or not dst or not mac):
            continue
        dst = normalize_ip(dst)
        if ipaddress.ip_address(dst).is_multicast:
            continue
        mac = normalize_mac(mac)
        if mac == FLOOD_MAC:
            flood.add(dst)
        else:
            unicast.setdefault(mac, set()).add(dst)
    neigh: dict[str, str] = {}
    with device_errors(name, "read neighbours", netns):
        for family in (socket.AF_INET, socket.AF_INET6):
            for n in ipr.neigh("dump", ifindex=index, family=family):
                ip, mac = n.get_attr("NDA_DST"), n.get_attr("NDA_LLADDR")
                if n["ifindex"] == index and n["state"] & NUD_PERMANENT and ip and mac:
                    neigh[normalize_ip(ip)] = normalize_mac(mac)
    return FdbState(flood=frozenset(flood),
                    unicast={m: frozenset(p) for m, p in unicast.items()}, neigh=neigh)


# --- single entries ------------------------------------------------------------------------
def _fdb(name: str, index: int, netns: Netns, command: str, mac: str, peer: str) -> None:
    action = f"fdb {command} {mac} dst {peer}"
    ignore = (errno.EEXIST,) if command == "append" else ()
    if command == "del":
        ignore = (errno.ENOENT,)
    kwargs: dict[str, Any] = {"ifindex": index, "lladdr": mac, "dst": peer}
    if command == "replace":
        # pyroute2 fills state/flags in only for add/append/del.
        kwargs.update(state=NUD_PERMANENT | NUD_NOARP, flags=NTF_SELF)
    with device_errors(name, action, netns, ignore=ignore):
        ipr_for(netns).fdb(command, **kwargs)


def _neigh(name: str, index: int, netns: Netns, command: str, ip: str,
           mac: str | None = None) -> None:
    family = socket.AF_INET6 if ipaddress.ip_address(ip).version == 6 else socket.AF_INET
    kwargs: dict[str, Any] = {"ifindex": index, "dst": ip, "family": family}
    if command == "replace":
        kwargs.update(lladdr=mac, state=NUD_PERMANENT)
    with device_errors(name, f"neigh {command} {ip}", netns,
                       ignore=(errno.ENOENT,) if command == "del" else ()):
        ipr_for(netns).neigh(command, **kwargs)


def add_flood_entry(name: str, peer: str, netns: Netns = None) -> None:
    """``bridge fdb append 00:00:00:00:00:00 dev NAME dst PEER``."""
    index = _vxlan_index(name, netns, "add flood entry")
    _fdb(name, index, netns, "append", FLOOD_MAC, normalize_ip(peer))


def delete_flood_entry(name: str, peer: str, netns: Netns = None) -> None:
    index = _vxlan_index(name, netns, "delete flood entry")
    _fdb(name, index, netns, "del", FLOOD_MAC, normalize_ip(peer))


def set_unicast_entry(name: str, mac: str, peer: str, netns: Netns = None) -> None:
    """``bridge fdb replace MAC dev NAME dst PEER`` (adds, or re-points to PEER)."""
    index = _vxlan_index(name, netns, "set unicast entry")
    _fdb(name, index, netns, "replace", normalize_mac(mac), normalize_ip(peer))


def delete_unicast_entry(name: str, mac: str, peer: str, netns: Netns = None) -> None:
    index = _vxlan_index(name, netns, "delete unicast entry")
    _fdb(name, index, netns, "del", normalize_mac(mac), normalize_ip(peer))


def set_arp_entry(name: str, ip: str, mac: str, netns: Netns = None) -> None:
    """``ip neigh replace IP lladdr MAC dev NAME nud permanent``: answered by the ARP proxy."""
    index = _vxlan_index(name, netns, "set arp entry")
    _neigh(name, index, netns, "replace", normalize_ip(ip), normalize_mac(mac))


def delete_arp_entry(name: str, ip: str, netns: Netns = None) -> None:
    index = _vxlan_index(name, netns, "delete arp entry")
    _neigh(name, index, netns, "del", normalize_ip(ip))


# --- reconcile -----------------------------------------------------------------------------
def apply_fdb_diff(name: str, diff: FdbDiff, netns: Netns = None) -> None:
    """Apply ``diff`` to VXLAN device ``name``, additions first (see FdbDiff)."""
    if not diff:
        return
    index = _vxlan_index(name, netns, "apply fdb changes")
    for peer in diff.flood_add:
        _fdb(name, index, netns, "append", FLOOD_MAC, peer)
    for mac, peer in diff.unicast_set:
        _fdb(name, index, netns, "replace", mac, peer)
    for ip, mac in diff.neigh_set:
        _neigh(name, index, netns, "replace", ip, mac)
    for ip in diff.neigh_del:
        _neigh(name, index, netns, "del", ip)
    for mac, peer in diff.unicast_del:
        # After a re-point (replace) the old (MAC, peer) may be gone already: ENOENT is fine.
        _fdb(name, index, netns, "del", mac, peer)
    for peer in diff.flood_del:
        _fdb(name, index, netns, "del", FLOOD_MAC, peer)


def sync_fdb(name: str, wanted_flood_peers: Iterable[str], wanted_unicast: Mapping[str, str],
             wanted_neigh: Mapping[str, str], netns: Netns = None) -> FdbDiff:
    """Make VXLAN device ``name`` flood to exactly ``wanted_flood_peers``, send each MAC of
    ``wanted_unicast`` (MAC -> peer) to its peer, and proxy-answer ARP for exactly
    ``wanted_neigh`` (IP -> MAC). Returns what was changed (empty: nothing was)."""
    wanted = FdbState.wanted(wanted_flood_peers, wanted_unicast, wanted_neigh)
    diff = diff_fdb(get_fdb_state(name, netns), wanted)
    apply_fdb_diff(name, diff, netns)
    return diff
