"""Links (bridges, veth pairs), their state, addresses and routes, through netlink.

Every ``ensure_*``/``set_*`` is "make it so": it reads the device first and changes only what
differs, so a reconcile pass over an already-converged host sends no change requests and
generates no link events. Deleting what is already gone is success.
"""

from __future__ import annotations

import errno
import ipaddress
import shutil
import socket
from dataclasses import dataclass
from typing import Any

from pyroute2.netlink.exceptions import NetlinkError

from neutrino.agent.linux.errors import CommandError, DeviceError
from neutrino.agent.linux.names import check_device_name
from neutrino.agent.linux.namespaces import execute
from neutrino.agent.linux.netlink import Netns, device_errors, ipr_for, netns_name

IFF_UP = 0x1


@dataclass(frozen=True)
class Device:
    name: str
    index: int
    kind: str | None  # IFLA_INFO_KIND: "bridge", "veth", "vxlan", ...; None for lo/physical
    mtu: int
    up: bool  # administratively up (IFF_UP); ``operstate`` says whether it carries traffic
    operstate: str
    mac: str | None
    master: str | None  # name of the bridge it is attached to


@dataclass(frozen=True)
class Route:
    dst: str  # "default" or a CIDR
    via: str | None
    dev: str | None
    metric: int | None


def _kind(msg: Any) -> str | None:
    info = msg.get_attr("IFLA_LINKINFO")
    return info.get_attr("IFLA_INFO_KIND") if info is not None else None


def device_from_message(msg: Any, names: dict[int, str]) -> Device:
    """A Device from an RTM_NEWLINK message; ``names`` maps ifindex -> name for the master."""
    master = msg.get_attr("IFLA_MASTER")
    return Device(
        name=msg.get_attr("IFLA_IFNAME"),
        index=msg["index"],
        kind=_kind(msg),
        mtu=msg.get_attr("IFLA_MTU"),
        up=bool(msg["flags"] & IFF_UP),
        operstate=msg.get_attr("IFLA_OPERSTATE") or "UNKNOWN",
        mac=msg.get_attr("IFLA_ADDRESS"),
        master=names.get(master, str(master)) if master else None,
    )


def get_link_message(name: str, netns: Netns) -> Any | None:
    """The raw RTM_NEWLINK message of ``name`` (None if missing), for kind-specific data."""
    ipr = ipr_for(netns)
    try:
        return ipr.link("get", ifname=check_device_name(name))[0]
    except NetlinkError as e:
        if e.code == errno.ENODEV:
            return None
        raise DeviceError(name, "get", e, netns=netns_name(netns), errno=e.code) from e


def master_names(msg: Any, netns: Netns) -> dict[int, str]:
    """{ifindex: name} of the bridge link message ``msg`` is attached to (empty if none)."""
    master = msg.get_attr("IFLA_MASTER")
    if not master:
        return {}
    try:
        found = ipr_for(netns).link("get", index=master)
    except NetlinkError:
        return {}
    return {master: found[0].get_attr("IFLA_IFNAME")}


def get_device(name: str, netns: Netns = None) -> Device | None:
    """The device called ``name`` in ``netns``, or None if there is none."""
    msg = get_link_message(name, netns)
    return device_from_message(msg, master_names(msg, netns)) if msg is not None else None


def device_exists(name: str, netns: Netns = None) -> bool:
    return get_link_message(name, netns) is not None


def require_device(name: str, netns: Netns, action: str) -> Device:
    """The device ``name``; DeviceError(ENODEV) mentioning ``action`` if it is missing."""
    dev = get_device(name, netns)
    if dev is None:
        raise DeviceError(name, action, "no such device", netns=netns_name(netns),
                          errno=errno.ENODEV)
    return dev


def list_devices(prefix: str = "", netns: Netns = None) -> list[Device]:
    """Devices in ``netns`` whose name starts with ``prefix``, by name."""
    msgs = list(ipr_for(netns).link("dump"))
    names = {m["index"]: m.get_attr("IFLA_IFNAME") for m in msgs}
    devs = [device_from_message(m, names) for m in msgs if names[m["index"]].startswith(prefix)]
    return sorted(devs, key=lambda d: d.name)


def _set(dev: Device, netns: Netns, action: str, **changes: Any) -> None:
    with device_errors(dev.name, action, netns):
        ipr_for(netns).link("set", index=dev.index, **changes)


def set_up(name: str, netns: Netns = None) -> None:
    dev = require_device(name, netns, "set up")
    if not dev.up:
        _set(dev, netns, "set up", state="up")


def set_down(name: str, netns: Netns = None) -> None:
    dev = require_device(name, netns, "set down")
    if dev.up:
        _set(dev, netns, "set down", state="down")


def set_mtu(name: str, mtu: int, netns: Netns = None) -> None:
    dev = require_device(name, netns, f"set mtu {mtu}")
    if dev.mtu != mtu:
        _set(dev, netns, f"set mtu {mtu}", mtu=mtu)


def set_mac_address(name: str, mac: str, netns: Netns = None) -> None:
    """Give ``name`` the MAC ``mac`` (an instance's port MAC, fa:16:3e:...)."""
    dev = require_device(name, netns, f"set mac {mac}")
    if (dev.mac or "").lower() != mac.lower():
        _set(dev, netns, f"set mac {mac}", address=mac.lower())


def set_master(name: str, bridge: str, netns: Netns = None) -> None:
    """Attach ``name`` to bridge ``bridge`` (moving it from another bridge if need be)."""
    dev = require_device(name, netns, f"attach to {bridge}")
    if dev.master == bridge:
        return
    br = require_device(bridge, netns, f"attach {name}")
    _set(dev, netns, f"attach to {bridge}", master=br.index)


def detach(name: str, netns: Netns = None) -> None:
    """Take ``name`` out of its bridge; a missing or unattached device is fine."""
    dev = get_device(name, netns)
    if dev is not None and dev.master is not None:
        _set(dev, netns, f"detach from {dev.master}", master=0)


def delete_device(name: str, netns: Netns = None) -> bool:
    """Make ``name`` not exist; True if it existed. Deleting one end of a veth deletes both."""
    dev = get_device(name, netns)
    if dev is None:
        return False
    with device_errors(name, "delete", netns, ignore=(errno.ENODEV,)):
        ipr_for(netns).link("del", index=dev.index)
    return True


def converge_device(dev: Device, netns: Netns, mtu: int | None, up: bool) -> Device:
    """Give existing device ``dev`` ``mtu`` (if not None) and bring it up (if ``up``);
    returns it as it now is. Nothing is sent (or re-read) when nothing differs."""
    changed = False
    if mtu is not None and dev.mtu != mtu:
        _set(dev, netns, f"set mtu {mtu}", mtu=mtu)
        changed = True
    if up and not dev.up:
        _set(dev, netns, "set up", state="up")
        changed = True
    return require_device(dev.name, netns, "configure") if changed else dev


def check_kind(dev: Device, kind: str, netns: Netns) -> None:
    """Raise DeviceError if ``dev`` is not of link kind ``kind`` (a name clash)."""
    if dev.kind != kind:
        raise DeviceError(dev.name, f"ensure {kind}", f"exists but is a {dev.kind or 'device'} "
                          f"not a {kind}", netns=netns_name(netns), errno=errno.EEXIST)


def ensure_bridge(name: str, mtu: int | None = None, netns: Netns = None, *,
                  up: bool = True) -> Device:
    """Make bridge ``name`` exist (up, with ``mtu`` if given).

    Created with STP off and forward delay 0, as Neutron's linuxbridge agent does: a port
    must forward as soon as an instance is plugged, and the agent, not STP, prevents loops."""
    dev = get_device(name, netns)
    if dev is None:
        with device_errors(name, "create bridge", netns, ignore=(errno.EEXIST,)):
            ipr_for(netns).link("add", ifname=name, kind="bridge", br_stp_state=0,
                                br_forward_delay=0, **({"mtu": mtu} if mtu else {}))
        dev = require_device(name, netns, "create bridge")
    check_kind(dev, "bridge", netns)
    return converge_device(dev, netns, mtu, up)


def ensure_veth(name: str, peer: str, peer_netns: Netns = None, mtu: int | None = None,
                netns: Netns = None, *, up: bool = True) -> Device:
    """Make veth pair ``name`` (in ``netns``) <-> ``peer`` (in ``peer_netns``, default the
    same namespace) exist, both ends with ``mtu`` and up. Returns the ``name`` end.

    The pair is created in one request with the peer already in its namespace, so a failure
    never leaves a half-plugged port behind."""
    check_device_name(peer)
    peer_ns = peer_netns if peer_netns is not None else netns
    peer_ns_name = netns_name(peer_ns)
    moving = peer_ns_name != netns_name(netns)
    dev = get_device(name, netns)
    if dev is None:
        peer_spec: dict[str, Any] = {"ifname": peer}
        if mtu:
            peer_spec["mtu"] = mtu
        if moving:
            if peer_ns_name is None:
                raise DeviceError(name, "create veth", "peer namespace must be named (or an "
                                  "IPRoute opened with netns=...)", netns=netns_name(netns))
            peer_spec["net_ns_fd"] = peer_ns_name
        with device_errors(name, f"create veth (peer {peer})", netns, ignore=(errno.EEXIST,)):
            ipr_for(netns).link("add", ifname=name, kind="veth", peer=peer_spec,
                                **({"mtu": mtu} if mtu else {}))
        dev = require_device(name, netns, "create veth")
    check_kind(dev, "veth", netns)
    peer_dev = get_device(peer, peer_ns)
    if peer_dev is None and moving:
        # Existing pair whose peer was left in our namespace (e.g. created by hand).
        stray = get_device(peer, netns)
        if stray is not None and peer_ns_name is not None:
            _set(stray, netns, f"move to namespace {peer_ns_name}", net_ns_fd=peer_ns_name)
    if peer_dev is None:
        peer_dev = require_device(peer, peer_ns, f"configure peer of {name}")
    converge_device(peer_dev, peer_ns, mtu, up)
    return converge_device(dev, netns, mtu, up)


# --- addresses -----------------------------------------------------------------------------
def _iface(cidr: str) -> ipaddress.IPv4Interface | ipaddress.IPv6Interface:
    try:
        return ipaddress.ip_interface(cidr)
    except ValueError as e:
        raise ValueError(f"{cidr!r} is not an address with prefix length") from e


def list_addresses(name: str, netns: Netns = None, family: int | None = None) -> list[str]:
    """Addresses of ``name`` as "ADDR/PREFIXLEN", in kernel order."""
    dev = require_device(name, netns, "list addresses")
    kwargs: dict[str, Any] = {"index": dev.index}
    if family is not None:
        kwargs["family"] = family
    with device_errors(name, "list addresses", netns):
        msgs = list(ipr_for(netns).addr("dump", **kwargs))
    return [f"{m.get_attr('IFA_ADDRESS')}/{m['prefixlen']}" for m in msgs
            if m["index"] == dev.index]


IFA_F_NODAD = 0x02


def add_address(name: str, cidr: str, netns: Netns = None, *, nodad: bool = False) -> None:
    """Make ``cidr`` (e.g. "10.99.0.2/24") an address of ``name``. ``nodad``: an IPv6
    address without duplicate address detection, usable at once (a service's own)."""
    iface = _iface(cidr)
    dev = require_device(name, netns, f"add address {cidr}")
    flags = {"flags": IFA_F_NODAD} if nodad and iface.version == 6 else {}
    with device_errors(name, f"add address {cidr}", netns, ignore=(errno.EEXIST,)):
        ipr_for(netns).addr("add", index=dev.index, address=str(iface.ip),
                            prefixlen=iface.network.prefixlen,
                            family=socket.AF_INET6 if iface.version == 6 else socket.AF_INET,
                            **flags)


def delete_address(name: str, cidr: str, netns: Netns = None) -> None:
    iface = _iface(cidr)
    dev = get_device(name, netns)
    if dev is None:
        return
    with device_errors(name, f"delete address {cidr}", netns,
                       ignore=(errno.EADDRNOTAVAIL, errno.ENOENT)):
        ipr_for(netns).addr("del", index=dev.index, address=str(iface.ip),
                            prefixlen=iface.network.prefixlen)


def flush_addresses(name: str, netns: Netns = None, family: int | None = None) -> None:
    """Remove every address of ``name`` (of ``family`` only, if given)."""
    for cidr in list_addresses(name, netns, family):
        delete_address(name, cidr, netns)


# --- routes --------------------------------------------------------------------------------
def _route_args(dst: str, via: str | None, dev: str | None, netns: Netns,
                metric: int | None) -> dict[str, Any]:
    args: dict[str, Any] = {}
    if dst == "default":
        fam = ipaddress.ip_address(via).version if via else 4
        args["dst"] = "0.0.0.0/0" if fam == 4 else "::/0"
    else:
        net = ipaddress.ip_network(dst, strict=False)
        args["dst"] = str(net)
        fam = net.version
    args["family"] = socket.AF_INET if fam == 4 else socket.AF_INET6
    if via:
        args["gateway"] = via
    if dev:
        args["oif"] = require_device(dev, netns, f"route {dst}").index
    if metric is not None:
        args["priority"] = metric
    return args


def add_route(dst: str, via: str | None = None, dev: str | None = None, netns: Netns = None,
              metric: int | None = None) -> None:
    """Make the route to ``dst`` ("default" or a CIDR) go ``via``/``dev`` (replacing)."""
    if via is None and dev is None:
        raise ValueError(f"route {dst}: give a gateway (via) or a device")
    args = _route_args(dst, via, dev, netns, metric)
    with device_errors(dev or dst, f"route {dst} via {via or '-'}", netns):
        ipr_for(netns).route("replace", **args)


def delete_route(dst: str, via: str | None = None, dev: str | None = None,
                 netns: Netns = None, metric: int | None = None) -> None:
    if dev is not None and get_device(dev, netns) is None:
        return
    args = _route_args(dst, via, dev, netns, metric)
    with device_errors(dev or dst, f"delete route {dst}", netns, ignore=(errno.ESRCH,)):
        ipr_for(netns).route("del", **args)


def replace_default_route(name: str, gateway: str | None, netns: Netns = None, *,
                          stale: int = 0) -> None:
    """The IPv4 default route via ``gateway`` through ``name`` (None: none), after
    deleting ``stale`` default routes (as many as were observed)."""
    ipr = ipr_for(netns)
    with device_errors(name, "replace default route", netns, ignore=(errno.ESRCH,)):
        for _ in range(stale):
            ipr.route("del", dst="0.0.0.0/0", family=socket.AF_INET, table=254)
        if gateway:
            index = require_device(name, netns, "default route").index
            ipr.route("replace", dst="0.0.0.0/0", gateway=gateway, oif=index,
                      family=socket.AF_INET)


def list_routes(netns: Netns = None, dev: str | None = None,
                family: int = socket.AF_INET) -> list[Route]:
    """Routes of the main table (optionally only through ``dev``)."""
    ipr = ipr_for(netns)
    names = {m["index"]: m.get_attr("IFLA_IFNAME") for m in ipr.link("dump")}
    out = []
    for m in ipr.route("dump", family=family, table=254):
        oif = m.get_attr("RTA_OIF")
        if dev is not None and names.get(oif) != dev:
            continue
        dst = m.get_attr("RTA_DST")
        out.append(Route(
            dst=f"{dst}/{m['dst_len']}" if dst else "default",
            via=m.get_attr("RTA_GATEWAY"),
            dev=names.get(oif),
            metric=m.get_attr("RTA_PRIORITY"),
        ))
    return out


# --- offloads ------------------------------------------------------------------------------
def disable_tx_offload(name: str, netns: Netns = None) -> None:
    """``ethtool -K <name> tx off``: a veth sending into Open vSwitch's userspace datapath
    must not leave checksums to the "hardware", which that datapath never fills in (TCP
    then fails on bad checksums). Repeating it is harmless."""
    if shutil.which("ethtool") is None:
        raise DeviceError(name, "disable tx offload", "ethtool is not installed (apt: ethtool)",
                          netns=netns_name(netns))
    require_device(name, netns, "disable tx offload")
    try:
        execute(["ethtool", "-K", name, "tx", "off"], netns)
    except CommandError as e:
        raise DeviceError(name, "disable tx offload", e, netns=netns_name(netns)) from e


def tx_offload_enabled(name: str, netns: Netns = None) -> bool:
    """Whether tx checksumming is on (``ethtool -k``), for checks and tests."""
    out = execute(["ethtool", "-k", name], netns).stdout
    for line in out.splitlines():
        if line.startswith("tx-checksumming:"):
            return line.split(":", 1)[1].strip().startswith("on")
    raise DeviceError(name, "read offloads", "ethtool printed no tx-checksumming line",
                      netns=netns_name(netns))

