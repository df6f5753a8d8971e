"""Reading what a namespace has, in few requests: devices with their addresses, routes via
gateways, sysctls, an nftables table. What the agents' observe steps are made of (each
returns plain data for a pure planner)."""

from __future__ import annotations

import ctypes
import ipaddress
import os
import socket
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TypeVar

from neutrino.agent.linux import namespaces
from neutrino.agent.linux.devices import Device, device_from_message
from neutrino.agent.linux.netlink import NETNS_RUN_DIR, Netns, device_errors, ipr_for

T = TypeVar("T")
CLONE_NEWNET = 0x40000000
_libc = ctypes.CDLL(None, use_errno=True)


@dataclass(frozen=True)
class DeviceState:
    """A device as observed, with its addresses ("addr/prefixlen", IPv6 link-local left
    out): what the agents' planners compare with what they want."""

    name: str
    kind: str | None
    mac: str | None
    mtu: int
    up: bool
    index: int = 0
    addresses: frozenset[str] = frozenset()

    @classmethod
    def of(cls, dev: Device, addresses: frozenset[str] = frozenset()) -> DeviceState:
        return cls(name=dev.name, kind=dev.kind, mac=dev.mac, mtu=dev.mtu, up=dev.up,
                   index=dev.index, addresses=addresses)


def devices_with_addresses(netns: Netns) -> dict[str, DeviceState]:
    """name -> the device with its addresses: one link dump and one address dump."""
    ipr = ipr_for(netns)
    where = netns if isinstance(netns, str) else "namespace"
    with device_errors(where, "list devices", netns):
        links = list(ipr.link("dump"))
        addrs = list(ipr.addr("dump"))
    by_index: dict[int, set[str]] = {}
    for m in addrs:
        iface = ipaddress.ip_interface(f"{m.get_attr('IFA_ADDRESS')}/{m['prefixlen']}")
        if iface.version == 6 and iface.ip.is_link_local:
            continue
        by_index.setdefault(m["index"], set()).add(f"{iface.ip}/{iface.network.prefixlen}")
    names = {m["index"]: m.get_attr("IFLA_IFNAME") for m in links}
    out = {}
    for m in links:
        dev = device_from_message(m, names)
        out[dev.name] = DeviceState.of(dev, frozenset(by_index.get(dev.index, ())))
    return out


def gateway_routes(netns: Netns) -> frozenset[tuple[str, str]]:
    """(destination CIDR, next hop) of the main table's routes via a gateway, both IP
    versions: one route dump per version."""
    ipr = ipr_for(netns)
    where = netns if isinstance(netns, str) else "namespace"
    routes = set()
    for family in (socket.AF_INET, socket.AF_INET6):
        with device_errors(where, "list routes", netns):
            dump = list(ipr.route("dump", family=family, table=254))
        for m in dump:
            via = m.get_attr("RTA_GATEWAY")
            if not via:
                continue
            dst = m.get_attr("RTA_DST") or ("0.0.0.0" if family == socket.AF_INET else "::")
            routes.add((str(ipaddress.ip_network(f"{dst}/{m['dst_len']}", strict=False)), via))
    return frozenset(routes)


def default_routes(netns: Netns, family: int = socket.AF_INET) -> list[tuple[str | None, int]]:
    """(gateway, output interface index) of the main table's default routes."""
    return [(m.get_attr("RTA_GATEWAY"), m.get_attr("RTA_OIF"))
            for m in ipr_for(netns).route("dump", family=family, table=254)
            if not m.get_attr("RTA_DST") and m["dst_len"] == 0]


def in_namespace(netns: str | None, fn: Callable[[], T]) -> T:
    """``fn()`` run by a thread that entered ``netns`` (a network namespace is per
    thread: the process's other threads stay where they are; the thread ends after)."""
    if netns is None:
        return fn()
    result: list[T] = []
    error: list[BaseException] = []

    def run() -> None:
        try:
            fd = os.open(os.path.join(NETNS_RUN_DIR, netns), os.O_RDONLY | os.O_CLOEXEC)
            try:
                if _libc.setns(fd, CLONE_NEWNET) != 0:
                    err = ctypes.get_errno()
                    raise OSError(err, f"setns {netns}: {os.strerror(err)}")
            finally:
                os.close(fd)
            result.append(fn())
        except BaseException as e:  # handed to the caller's thread
            error.append(e)

    t = threading.Thread(target=run, name=f"in-{netns}", daemon=True)
    t.start()
    t.join()
    if error:
        raise error[0]
    return result[0]


def read_sysctls(keys: Iterable[str], netns: str | None) -> dict[str, str | None]:
    """The values of net.* sysctls in ``netns`` (None: not there, e.g. IPv6 off)."""
    keys = list(keys)

    def read() -> dict[str, str | None]:
        out: dict[str, str | None] = {}
        for key in keys:
            try:
                with open("/proc/sys/" + key.replace(".", "/")) as f:
                    out[key] = f.read().strip()
            except FileNotFoundError:
                out[key] = None
        return out

    return in_namespace(netns, read)


def nft_table(family: str, table: str, netns: str | None) -> str | None:
    """``nft list table`` of one table in ``netns``; None when there is no such table."""
    proc = namespaces.execute(["nft", "list", "table", family, table], netns, check=False)
    return proc.stdout if proc.returncode == 0 else None
