"""802.1q VLAN sub-interfaces (``eth1.100``), what a Linux bridge VLAN network hangs off.

Not every kernel has them (CONFIG_VLAN_8021Q); creating one there fails with EOPNOTSUPP,
which ``ensure_vlan`` reports as a DeviceError naming the device, like any other failure.
"""

from __future__ import annotations

import errno
import hashlib
from dataclasses import dataclass

from neutrino.agent.linux.devices import (
    Device,
    check_kind,
    converge_device,
    delete_device,
    get_link_message,
    require_device,
)
from neutrino.agent.linux.errors import DeviceError
from neutrino.agent.linux.names import MAX_DEVICE_NAME, check_device_name
from neutrino.agent.linux.netlink import Netns, device_errors, ipr_for, netns_name

MIN_VLAN, MAX_VLAN = 1, 4094


def vlan_device_name(interface: str, vlan_id: int) -> str:
    """``<interface>.<vlan>`` as Neutron names it; when that is longer than the kernel
    allows, the interface part is shortened and 4 hex digits of a hash of the full
    interface name keep it unique (``enp0s31f6-long`` -> ``enp0s3a1b2.100``)."""
    if isinstance(vlan_id, bool) or not isinstance(vlan_id, int) or not (
            MIN_VLAN <= vlan_id <= MAX_VLAN):
        raise ValueError(f"{vlan_id!r} is not a VLAN id ({MIN_VLAN}-{MAX_VLAN})")
    suffix = f".{vlan_id}"
    name = interface + suffix
    if len(name) <= MAX_DEVICE_NAME:
        return check_device_name(name)
    digest = hashlib.sha1(interface.encode()).hexdigest()[:4]
    keep = MAX_DEVICE_NAME - len(suffix) - len(digest)
    return check_device_name(interface[:keep] + digest + suffix)


@dataclass(frozen=True)
class VlanInfo:
    name: str
    vlan_id: int
    link: str | None  # the parent interface


def get_vlan(name: str, netns: Netns = None) -> VlanInfo | None:
    msg = get_link_message(name, netns)
    if msg is None:
        return None
    info = msg.get_attr("IFLA_LINKINFO")
    data = info.get_attr("IFLA_INFO_DATA") if info is not None else None
    if info is None or info.get_attr("IFLA_INFO_KIND") != "vlan" or data is None:
        return None
    link = msg.get_attr("IFLA_LINK")
    parent = None
    if link:
        with device_errors(name, "read vlan parent", netns, ignore=(errno.ENODEV,)):
            parent = ipr_for(netns).link("get", index=link)[0].get_attr("IFLA_IFNAME")
    return VlanInfo(name=name, vlan_id=data.get_attr("IFLA_VLAN_ID"), link=parent)


def ensure_vlan(interface: str, vlan_id: int, *, name: str | None = None,
                mtu: int | None = None, netns: Netns = None, up: bool = True) -> Device:
    """Make 802.1q device ``name`` (default ``vlan_device_name``) over ``interface`` with
    tag ``vlan_id`` exist and be up. One with another parent or tag is recreated."""
    name = name or vlan_device_name(interface, vlan_id)
    have = get_vlan(name, netns)
    dev = None
    if have is not None and (have.vlan_id != vlan_id or have.link != interface):
        delete_device(name, netns)
        have = None
    if have is None:
        parent = require_device(interface, netns, f"create vlan {vlan_id} over it")
        spec = {"ifname": name, "kind": "vlan", "link": parent.index, "vlan_id": vlan_id}
        if mtu:
            spec["mtu"] = mtu
        try:
            with device_errors(name, f"create vlan {vlan_id} on {interface}", netns,
                               ignore=(errno.EEXIST,)):
                ipr_for(netns).link("add", **spec)
        except DeviceError as e:
            if e.errno == errno.EOPNOTSUPP:
                raise DeviceError(name, f"create vlan {vlan_id} on {interface}",
                                  "the kernel has no 802.1q VLAN support (CONFIG_VLAN_8021Q)",
                                  netns=netns_name(netns), errno=e.errno) from e
            raise
    dev = require_device(name, netns, "create vlan")
    check_kind(dev, "vlan", netns)
    return converge_device(dev, netns, mtu, up)
