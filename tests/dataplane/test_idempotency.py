""""Make it so": every ensure/add/delete of agent.linux run twice leaves the same kernel
state, deleting what is missing is fine, and real failures name the device and namespace."""

from __future__ import annotations

import re
import socket
from collections.abc import Callable

import pytest

from neutrino.agent.linux import devices, namespaces, vxlan
from neutrino.agent.linux.errors import CommandError, DeviceError, NamespaceError
from neutrino.agent.linux.netlink import handles, ipr_for
from tests.dataplane.conftest import Features
from tests.dataplane.topology import Topology


def snapshot(ns: str) -> list[str]:
    """What `ip -d link`, `ip -4 addr` and `ip route` report, minus what the kernel changes
    on its own (carrier flags, operstate, running timers)."""
    out = []
    for cmd in (["ip", "-d", "-o", "link"], ["ip", "-4", "-o", "addr"], ["ip", "route"]):
        lines = namespaces.execute(cmd, ns).stdout.splitlines()
        out += [re.sub(r"<[^>]*>|state \S+|\w+_timer +[\d.]+", "", line) for line in lines]
    return out


def test_ensure_bridge_twice(topology: Callable[[], Topology]) -> None:
    ns = topology().namespace("n")
    first = devices.ensure_bridge("brq0123456789a", mtu=1450, netns=ns)
    state = snapshot(ns)
    second = devices.ensure_bridge("brq0123456789a", mtu=1450, netns=ns)
    assert first == second and first.up and first.mtu == 1450 and first.kind == "bridge"
    assert snapshot(ns) == state
    # A different MTU is converged in place, not by recreating.
    third = devices.ensure_bridge("brq0123456789a", mtu=1400, netns=ns)
    assert (third.index, third.mtu) == (first.index, 1400)


def test_ensure_veth_twice_across_namespaces(topology: Callable[[], Topology]) -> None:
    topo = topology()
    host, inst = topo.namespace("h"), topo.namespace("i")
    a = devices.ensure_veth("tapabc", "eth0", peer_netns=inst, mtu=1450, netns=host)
    states = snapshot(host), snapshot(inst)
    b = devices.ensure_veth("tapabc", "eth0", peer_netns=inst, mtu=1450, netns=host)
    assert a == b and a.kind == "veth" and a.up
    assert (snapshot(host), snapshot(inst)) == states
    peer = devices.get_device("eth0", inst)
    assert peer is not None and peer.mtu == 1450 and peer.up
    assert devices.get_device("eth0", host) is None


def test_ensure_vxlan_twice_and_reconfigure(topology: Callable[[], Topology],
                                            features: Features) -> None:
    features.require("vxlan")
    ns = topology().namespace("n")
    devices.ensure_veth("ul0", "ul0p", netns=ns)
    devices.add_address("ul0", "192.0.2.1/24", netns=ns)
    first = vxlan.ensure_vxlan(2001, "192.0.2.1", "ul0", netns=ns)
    vxlan.sync_fdb(first.name, {"192.0.2.2"}, {}, {}, netns=ns)
    state = snapshot(ns)
    devices.ensure_bridge("brq-x", netns=ns)
    devices.set_master("vxlan-2001", "brq-x", netns=ns)
    state = snapshot(ns)
    second = vxlan.ensure_vxlan(2001, "192.0.2.1", "ul0", netns=ns)
    assert (second.index, second.name, second.mtu, second.up) == (
        first.index, "vxlan-2001", 1450, True)
    assert second.master == "brq-x"
    assert snapshot(ns) == state
    assert vxlan.get_fdb_state("vxlan-2001", ns).flood == {"192.0.2.2"}  # untouched

    # Same name, other configuration (learning instead of l2pop): recreated to match.
    third = vxlan.ensure_vxlan(2001, "192.0.2.1", "ul0", l2pop=False, group="239.1.1.1",
                               netns=ns)
    info = vxlan.get_vxlan("vxlan-2001", ns)
    assert info is not None and (info.learning, info.proxy, info.group) == (
        True, False, "239.1.1.1")
    assert third.index != first.index


def test_master_and_state_changes_twice(topology: Callable[[], Topology]) -> None:
    ns = topology().namespace("n")
    devices.ensure_bridge("br1", netns=ns)
    devices.ensure_bridge("br2", netns=ns)
    devices.ensure_veth("tap1", "tap1p", netns=ns)
    for _ in range(2):
        devices.set_master("tap1", "br1", netns=ns)
    assert devices.get_device("tap1", ns).master == "br1"  # type: ignore[union-attr]
    devices.set_master("tap1", "br2", netns=ns)  # moves between bridges
    assert devices.get_device("tap1", ns).master == "br2"  # type: ignore[union-attr]
    for _ in range(2):
        devices.detach("tap1", netns=ns)
        devices.set_down("tap1", netns=ns)
        devices.set_mtu("tap1", 1400, netns=ns)
        devices.set_mac_address("tap1", "FA:16:3E:00:00:01", netns=ns)
    dev = devices.get_device("tap1", ns)
    assert dev is not None
    assert (dev.master, dev.up, dev.mtu, dev.mac) == (None, False, 1400, "fa:16:3e:00:00:01")
    listed = devices.list_devices("tap1", ns)
    assert [d.name for d in listed] == ["tap1", "tap1p"]
    assert devices.list_devices("br", ns)[0].kind == "bridge"


def test_delete_missing_is_fine(topology: Callable[[], Topology]) -> None:
    topo = topology()
    ns = topo.namespace("n")
    devices.ensure_veth("v0", "v1", netns=ns)
    assert devices.delete_device("v0", netns=ns) is True
    assert devices.get_device("v1", ns) is None  # the peer went with it
    assert devices.delete_device("v0", netns=ns) is False
    devices.detach("nothere", netns=ns)
    devices.delete_address("nothere", "10.99.0.1/24", netns=ns)
    devices.delete_route("10.99.9.0/24", dev="nothere", netns=ns)

    gone = topo.prefix + "gone"
    topo.created.append(gone)
    assert namespaces.create_namespace(gone) is True
    assert namespaces.create_namespace(gone) is False
    assert gone in namespaces.list_namespaces(topo.prefix)
    assert namespaces.delete_namespace(gone) is True
    assert namespaces.delete_namespace(gone) is False
    assert not namespaces.namespace_exists(gone)


def test_addresses_and_routes_twice(topology: Callable[[], Topology]) -> None:
    ns = topology().namespace("n")
    devices.ensure_veth("v0", "v1", netns=ns)
    for _ in range(2):
        devices.add_address("v0", "10.99.0.1/24", netns=ns)
        devices.add_address("v0", "fd00:99::1/64", netns=ns)
        devices.add_route("10.99.9.0/24", via="10.99.0.254", netns=ns)
        devices.add_route("default", via="10.99.0.254", dev="v0", netns=ns)
    assert devices.list_addresses("v0", ns, family=socket.AF_INET) == ["10.99.0.1/24"]
    assert "fd00:99::1/64" in devices.list_addresses("v0", ns)
    routes = {(r.dst, r.via, r.dev) for r in devices.list_routes(ns)}
    assert ("10.99.9.0/24", "10.99.0.254", "v0") in routes
    assert ("default", "10.99.0.254", "v0") in routes
    assert len([r for r in devices.list_routes(ns) if r.dst == "default"]) == 1
    for _ in range(2):
        devices.delete_route("10.99.9.0/24", via="10.99.0.254", netns=ns)
    assert "10.99.9.0/24" not in {r.dst for r in devices.list_routes(ns)}
    devices.flush_addresses("v0", netns=ns, family=socket.AF_INET)
    assert devices.list_addresses("v0", ns, family=socket.AF_INET) == []
    devices.flush_addresses("v0", netns=ns)
    assert devices.list_addresses("v0", ns) == []


def test_fdb_entries_one_by_one_twice(topology: Callable[[], Topology],
                                      features: Features) -> None:
    features.require("vxlan")
    ns = topology().namespace("n")
    devices.ensure_veth("ul0", "ul0p", netns=ns)
    devices.add_address("ul0", "192.0.2.1/24", netns=ns)
    vxlan.ensure_vxlan(2002, "192.0.2.1", "ul0", netns=ns)
    for _ in range(2):
        vxlan.add_flood_entry("vxlan-2002", "192.0.2.2", ns)
        vxlan.set_unicast_entry("vxlan-2002", "FA:16:3E:00:00:02", "192.0.2.2", ns)
        vxlan.set_arp_entry("vxlan-2002", "10.99.0.2", "fa:16:3e:00:00:02", ns)
    state = vxlan.get_fdb_state("vxlan-2002", ns)
    assert state.flood == {"192.0.2.2"}
    assert state.unicast == {"fa:16:3e:00:00:02": {"192.0.2.2"}}
    assert state.neigh == {"10.99.0.2": "fa:16:3e:00:00:02"}
    for _ in range(2):
        vxlan.delete_flood_entry("vxlan-2002", "192.0.2.2", ns)
        vxlan.delete_unicast_entry("vxlan-2002", "fa:16:3e:00:00:02", "192.0.2.2", ns)
        vxlan.delete_arp_entry("vxlan-2002", "10.99.0.2", ns)
    assert vxlan.get_fdb_state("vxlan-2002", ns) == vxlan.FdbState()


def test_disable_tx_offload(topology: Callable[[], Topology], features: Features) -> None:
    features.require("ethtool")
    ns = topology().namespace("n")
    devices.ensure_veth("v0", "v1", netns=ns)
    assert devices.tx_offload_enabled("v0", ns)
    for _ in range(2):
        devices.disable_tx_offload("v0", netns=ns)
    assert not devices.tx_offload_enabled("v0", ns)


def test_failures_name_the_device_and_namespace(topology: Callable[[], Topology]) -> None:
    ns = topology().namespace("n")
    devices.ensure_veth("v0", "v1", netns=ns)
    with pytest.raises(DeviceError, match=rf"^v0: ensure bridge failed in namespace {ns}: "
                                          "exists but is a veth"):
        devices.ensure_bridge("v0", netns=ns)
    with pytest.raises(DeviceError, match=rf"^nothere: set mtu 1400 failed in namespace {ns}"):
        devices.set_mtu("nothere", 1400, netns=ns)
    with pytest.raises(DeviceError, match=r"^v0: set mtu 10 failed .*Invalid argument"):
        devices.set_mtu("v0", 10, netns=ns)
    with pytest.raises(ValueError, match="1-15 characters"):
        devices.ensure_bridge("a-much-too-long-name", netns=ns)
    with pytest.raises(CommandError, match=rf"in namespace {ns}: exit status"):
        namespaces.execute(["ip", "link", "show", "nothere"], ns)
    with pytest.raises(NamespaceError, match="does not exist"):
        ipr_for(ns + "-missing")


def test_handles_cached_and_closed_with_namespace(topology: Callable[[], Topology]) -> None:
    topo = topology()
    ns = topo.namespace("n")
    assert ns in handles  # create_namespace used it to bring lo up
    assert ipr_for(ns) is ipr_for(ns)
    # A handle opened by the caller works the same as the name.
    devices.ensure_bridge("brx", netns=ipr_for(ns))
    assert devices.device_exists("brx", ns)
    out = namespaces.execute(["ip", "-o", "link"], ipr_for(ns)).stdout
    assert "brx" in out and "lo" in out and len(out.splitlines()) == 2
    namespaces.delete_namespace(ns)
    assert ns not in handles


def test_namespace_recreated_behind_our_back(topology: Callable[[], Topology]) -> None:
    """An operator deletes and re-creates a namespace: the cached handle (which pins the old
    one) is replaced, so changes land in the namespace the name now refers to."""
    ns = topology().namespace("n")
    devices.ensure_bridge("br-old", netns=ns)
    old = ipr_for(ns)
    namespaces.execute(["ip", "netns", "del", ns])
    with pytest.raises(NamespaceError, match="does not exist"):
        devices.ensure_bridge("br-new", netns=ns)
    namespaces.execute(["ip", "netns", "add", ns])
    devices.ensure_bridge("br-new", netns=ns)
    assert ipr_for(ns) is not old
    out = namespaces.execute(["ip", "-o", "link"], ns).stdout
    assert "br-new" in out and "br-old" not in out
