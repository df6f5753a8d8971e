"""Bulk reads of a namespace's network state, for reconcile passes over many devices.

pyroute2 parses netlink in Python at roughly half a millisecond per message, and it filters
fdb/neighbour dumps on the client: reading the entries of one VXLAN device parses every
fdb entry of the namespace. A host with a hundred networks has thousands of entries, so a
per-device read costs seconds per pass. iproute2 parses in C and prints JSON: one
``ip -d link``, ``ip addr``, ``bridge fdb`` and ``ip neigh`` per pass read everything in
tens of milliseconds. Writes stay with pyroute2 (devices, vxlan): they are few, and only
made when something differs.

The results are the same types the netlink layer returns (Device, VxlanInfo, FdbState), so
plans computed from either compare equal.
"""

from __future__ import annotations

import ipaddress
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from neutrino.agent.linux.devices import Device
from neutrino.agent.linux.errors import CommandError, LinuxNetError
from neutrino.agent.linux.fdb import FLOOD_MAC, FdbState, normalize_ip, normalize_mac
from neutrino.agent.linux.namespaces import execute
from neutrino.agent.linux.netlink import Netns, netns_name
from neutrino.agent.linux.vlan import VlanInfo
from neutrino.agent.linux.vxlan import VxlanInfo


@dataclass(frozen=True)
class Snapshot:
    devices: dict[str, Device] = field(default_factory=dict)
    vxlans: dict[str, VxlanInfo] = field(default_factory=dict)
    vlans: dict[str, VlanInfo] = field(default_factory=dict)
    addresses: dict[str, str] = field(default_factory=dict)  # IP -> device holding it
    fdb: dict[str, FdbState] = field(default_factory=dict)  # vxlan device -> static entries


def _run_json(tool: str, args: list[str], netns: Netns) -> Any:
    name = netns_name(netns)
    cmd = [tool, *(["-n", name] if name else []), "-j", *args]
    try:
        out = execute(cmd, None).stdout
    except CommandError as e:
        raise LinuxNetError(f"reading {' '.join(args)}: {e}") from e
    out = out.strip()
    if not out:
        return []
    try:
        return json.loads(out)
    except ValueError as e:
        raise LinuxNetError(f"`{' '.join(cmd)}` printed no JSON: {out[:200]!r}") from e


def device_from_json(d: dict[str, Any]) -> Device:
    info = d.get("linkinfo") or {}
    return Device(
        name=d["ifname"],
        index=int(d["ifindex"]),
        kind=info.get("info_kind"),
        mtu=int(d.get("mtu") or 0),
        up="UP" in (d.get("flags") or ()),
        operstate=d.get("operstate") or "UNKNOWN",
        mac=d.get("address"),
        master=d.get("master"),
    )


def vxlan_from_json(d: dict[str, Any]) -> VxlanInfo:
    data = (d.get("linkinfo") or {}).get("info_data") or {}
    local = data.get("local") or data.get("local6")
    group = data.get("group") or data.get("group6")
    return VxlanInfo(
        name=d["ifname"],
        vni=int(data["id"]),
        local_ip=normalize_ip(local) if local else None,
        dev=data.get("link"),
        dstport=int(data.get("port") or 0),
        group=normalize_ip(group) if group else None,
        learning=bool(data.get("learning", False)),
        proxy=bool(data.get("proxy", False)),
    )


def vlan_from_json(d: dict[str, Any]) -> VlanInfo:
    data = (d.get("linkinfo") or {}).get("info_data") or {}
    return VlanInfo(name=d["ifname"], vlan_id=int(data.get("id") or 0), link=d.get("link"))


def read_links(netns: Netns = None) -> tuple[dict[str, Device], dict[str, VxlanInfo],
                                             dict[str, VlanInfo]]:
    """Every device of ``netns``, and the VXLAN / VLAN parameters of those of that kind."""
    devs: dict[str, Device] = {}
    vxlans: dict[str, VxlanInfo] = {}
    vlans: dict[str, VlanInfo] = {}
    for d in _run_json("ip", ["-d", "link", "show"], netns):
        dev = device_from_json(d)
        devs[dev.name] = dev
        if dev.kind == "vxlan":
            vxlans[dev.name] = vxlan_from_json(d)
        elif dev.kind == "vlan":
            vlans[dev.name] = vlan_from_json(d)
    return devs, vxlans, vlans


def read_addresses(netns: Netns = None) -> dict[str, str]:
    """{address: device} of every address in ``netns``."""
    out: dict[str, str] = {}
    for d in _run_json("ip", ["addr", "show"], netns):
        for a in d.get("addr_info") or ():
            if a.get("local"):
                out.setdefault(normalize_ip(a["local"]), d["ifname"])
    return out


def read_fdb(devices: Iterable[str], netns: Netns = None) -> dict[str, FdbState]:
    """The static l2population entries (flood, unicast, ARP proxy) of the VXLAN ``devices``,
    as vxlan.get_fdb_state reads them: permanent fdb entries of the device itself with a
    unicast destination, and permanent neighbour entries."""
    wanted = set(devices)
    if not wanted:
        return {}
    flood: dict[str, set[str]] = {d: set() for d in wanted}
    unicast: dict[str, dict[str, set[str]]] = {d: {} for d in wanted}
    neigh: dict[str, dict[str, str]] = {d: {} for d in wanted}
    for e in _run_json("bridge", ["fdb", "show"], netns):
        dev = e.get("ifname")
        if dev not in wanted or "self" not in (e.get("flags") or ()):
            continue
        if e.get("state") != "permanent" or not e.get("dst") or not e.get("mac"):
            continue
        dst = normalize_ip(e["dst"])
        if ipaddress.ip_address(dst).is_multicast:
            continue
        mac = normalize_mac(e["mac"])
        if mac == FLOOD_MAC:
            flood[dev].add(dst)
        else:
            unicast[dev].setdefault(mac, set()).add(dst)
    for n in _run_json("ip", ["neigh", "show", "nud", "permanent"], netns):
        dev = n.get("dev")
        if dev in wanted and n.get("dst") and n.get("lladdr"):
            neigh[dev][normalize_ip(n["dst"])] = normalize_mac(n["lladdr"])
    return {d: FdbState(flood=frozenset(flood[d]),
                        unicast={m: frozenset(p) for m, p in unicast[d].items()},
                        neigh=neigh[d]) for d in wanted}


def read(netns: Netns = None, fdb_of: Iterable[str] = ()) -> Snapshot:
    """Links, addresses and the fdb of the existing VXLAN devices named in ``fdb_of``."""
    devs, vxlans, vlans = read_links(netns)
    fdb = read_fdb([n for n in fdb_of if n in vxlans], netns)
    return Snapshot(devices=devs, vxlans=vxlans, vlans=vlans,
                    addresses=read_addresses(netns), fdb=fdb)


def link_names(netns: Netns = None, prefix: str = "") -> set[tuple[str, int]]:
    """(name, ifindex) of the devices whose name starts with ``prefix``: the cheap listing a
    device watcher diffs every polling interval (``ip -o link``, no details)."""
    name = netns_name(netns)
    out = execute(["ip", *(["-n", name] if name else []), "-o", "link", "show"], None).stdout
    found = set()
    for line in out.splitlines():
        idx, _, rest = line.partition(": ")
        dev = rest.split(":", 1)[0].split("@", 1)[0]
        if dev.startswith(prefix) and idx.isdigit():
            found.add((dev, int(idx)))
    return found
