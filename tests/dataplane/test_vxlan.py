"""VXLAN between host namespaces in l2population form, with real packets.

Each host gets, per network, what the linuxbridge agent will make: ``brq<net-id[:11]>`` (MTU
1450) with ``vxlan-<vni>`` (nolearning, proxy) in it, and ``sync_fdb`` programming, from
the list of ports, the entries Neutron's l2population driver would send: a flood entry per
other host with ports on the network, a unicast entry and an ARP-proxy entry per remote port.
"""

from __future__ import annotations

import queue
import subprocess
import threading
import uuid
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import pytest

from neutrino.agent.linux import devices, names, namespaces, vxlan
from neutrino.agent.linux.fdb import FdbDiff, FdbState
from tests.dataplane.conftest import Features
from tests.dataplane.topology import UNDERLAY_DEV, Host, Instance, Topology

TENANT_MTU = 1450  # 1500 underlay - 50 VXLAN overhead


@pytest.fixture(autouse=True)
def _need_vxlan(features: Features) -> None:
    features.require("vxlan")


@dataclass
class Network:
    """One VXLAN network as the agents on each host would render it."""

    vni: int
    network_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    ports: list[Instance] = field(default_factory=list)

    @property
    def bridge(self) -> str:
        return names.bridge_name(self.network_id)

    @property
    def device(self) -> str:
        return names.vxlan_name(self.vni)

    def plug_host(self, host: Host) -> None:
        devices.ensure_bridge(self.bridge, mtu=TENANT_MTU, netns=host.ns)
        vxlan.ensure_vxlan(self.vni, host.ip, UNDERLAY_DEV, netns=host.ns)
        devices.set_master(self.device, self.bridge, netns=host.ns)

    def add_port(self, topo: Topology, name: str, host: Host, cidr: str, *,
                 mtu: int = TENANT_MTU, mac: str | None = None) -> Instance:
        self.plug_host(host)
        inst = topo.instance(name, host, self.bridge, cidr, mtu=mtu, mac=mac)
        self.ports.append(inst)
        return inst

    def wanted(self, host: Host, ports: Iterable[Instance] | None = None,
               ) -> tuple[set[str], dict[str, str], dict[str, str]]:
        """What l2population says ``host`` needs: flood to every other host with ports,
        unicast + ARP entries for every remote port."""
        remote = [p for p in (self.ports if ports is None else ports) if p.host != host]
        flood = {p.host.ip for p in remote}
        unicast = {p.mac: p.host.ip for p in remote}
        neigh = {p.ip: p.mac for p in remote}
        return flood, unicast, neigh

    def sync(self, host: Host, ports: Iterable[Instance] | None = None) -> FdbDiff:
        return vxlan.sync_fdb(self.device, *self.wanted(host, ports), netns=host.ns)

    def sync_all(self, hosts: Iterable[Host]) -> None:
        for host in hosts:
            self.sync(host)


def kernel_entries(host: Host, device: str) -> tuple[str, str]:
    """The device's static fdb and neighbour entries as iproute2 prints them, sorted."""
    fdb = namespaces.execute(["bridge", "fdb", "show", "dev", device], host.ns).stdout
    neigh = namespaces.execute(["ip", "neigh", "show", "dev", device], host.ns).stdout
    own = sorted(line for line in fdb.splitlines() if " self " in f"{line} ")
    return "\n".join(own), "\n".join(sorted(neigh.splitlines()))


def test_l2pop_vxlan_between_hosts(topology: Callable[[], Topology]) -> None:
    topo = topology()
    h1, h2 = topo.host("h1"), topo.host("h2")
    net = Network(vni=1001)
    a = net.add_port(topo, "a", h1, "10.99.1.1/24")
    b = net.add_port(topo, "b", h2, "10.99.1.2/24")
    net.sync_all([h1, h2])

    info = vxlan.get_vxlan(net.device, h1.ns)
    assert info is not None
    assert (info.vni, info.local_ip, info.dev, info.dstport) == (1001, h1.ip, "ul0", 4789)
    assert (info.learning, info.proxy, info.group) == (False, True, None)
    assert vxlan.get_fdb_state(net.device, h1.ns) == FdbState.wanted(
        {h2.ip}, {b.mac: h2.ip}, {b.ip: b.mac})

    assert a.can_reach(b)
    assert b.can_reach(a)
    # 1422 bytes of ICMP payload + 8 ICMP + 20 IP = 1450: the largest unfragmented packet.
    result = a.ping(b, size=1422, dont_fragment=True)
    assert result.returncode == 0, result.stdout + result.stderr
    # 1472 + 28 = 1500 does not fit the 1450 instance MTU: refused, not fragmented.
    big = a.ping(b, size=1472, dont_fragment=True)
    assert big.returncode != 0
    assert "too long" in big.stdout + big.stderr or "mtu" in (big.stdout + big.stderr).lower()


def test_instance_mtu_1500_silently_loses_large_frames(topology: Callable[[], Topology]) -> None:
    """Why instances on VXLAN get MTU 1450: at 1500, full-size frames vanish without error."""
    topo = topology()
    h1, h2 = topo.host("h1"), topo.host("h2")
    net = Network(vni=1005)
    a = net.add_port(topo, "a", h1, "10.99.5.1/24", mtu=1500)
    b = net.add_port(topo, "b", h2, "10.99.5.2/24", mtu=1500)
    net.sync_all([h1, h2])
    assert a.can_reach(b)
    assert not a.can_reach(b, size=1472, dont_fragment=True)


def test_second_vni_is_isolated(topology: Callable[[], Topology]) -> None:
    topo = topology()
    h1, h2 = topo.host("h1"), topo.host("h2")
    red, blue = Network(vni=1001), Network(vni=1002)
    # Same subnet on purpose: only the VNI separates them.
    a = red.add_port(topo, "a", h1, "10.99.1.1/24")
    b = red.add_port(topo, "b", h2, "10.99.1.2/24")
    c = blue.add_port(topo, "c", h1, "10.99.1.3/24")
    d = blue.add_port(topo, "d", h2, "10.99.1.4/24")
    for net in (red, blue):
        net.sync_all([h1, h2])

    assert a.can_reach(b)
    assert c.can_reach(d)
    # Give d a's MAC by hand, so its frames really go out (no ARP needed): they travel in
    # VNI 1002 and never reach a's bridge.
    namespaces.execute(["ip", "neigh", "replace", a.ip, "lladdr", a.mac, "dev", "eth0",
                        "nud", "permanent"], d.ns)
    assert not d.can_reach(a)
    assert not d.can_reach(b)
    assert not c.can_reach(b)
    assert b.mac not in vxlan.get_fdb_state(blue.device, h1.ns).unicast


def test_removing_entries_stops_traffic(topology: Callable[[], Topology]) -> None:
    topo = topology()
    h1, h2 = topo.host("h1"), topo.host("h2")
    net = Network(vni=1003)
    a = net.add_port(topo, "a", h1, "10.99.3.1/24")
    b = net.add_port(topo, "b", h2, "10.99.3.2/24")
    c = net.add_port(topo, "c", h2, "10.99.3.3/24")
    net.sync_all([h1, h2])
    assert a.can_reach(b)
    assert a.can_reach(c)

    # b's port goes away: h1 loses its unicast and ARP entries; h2 still has c, so the
    # flood entry stays. With ARP proxying, requests for b are answered from the neighbour
    # table or not at all (never flooded), so once a forgets b's MAC, b is unreachable.
    diff = net.sync(h1, [a, c])
    assert diff.unicast_del == ((b.mac, h2.ip),)
    assert diff.neigh_del == (b.ip,)
    assert diff.flood_del == ()
    a.forget_neighbours()
    assert not a.can_reach(b)
    assert a.can_reach(c)

    # h2's last port goes: the flood entry goes too. a still has c's MAC cached, but with
    # neither a unicast nor a flood entry the VXLAN device has nowhere to send the frame.
    diff = net.sync(h1, [a])
    assert diff.flood_del == (h2.ip,)
    assert vxlan.get_fdb_state(net.device, h1.ns) == FdbState()
    assert not a.can_reach(c)

    # And back.
    net.sync(h1)
    assert a.can_reach(b)
    assert a.can_reach(c)


@contextmanager
def neighbour_events(host: Host, device: str) -> Iterator[Callable[[], list[str]]]:
    """Watch `ip monitor neigh` (which reports fdb changes too) in ``host``.

    The yielded function writes a marker ARP entry on ``device`` and returns the event
    lines seen before the marker's own: what changed since the previous call, checked
    without guessing how long to wait. The first call also waits for the monitor to be
    subscribed (it retries until its marker shows up)."""
    proc = namespaces.spawn(["ip", "monitor", "neigh"], host.ns, stdout=subprocess.PIPE,
                            text=True)
    lines: queue.Queue[str] = queue.Queue()
    assert proc.stdout is not None
    stdout = proc.stdout
    threading.Thread(target=lambda: [lines.put(x) for x in stdout], daemon=True).start()
    markers = iter(range(1, 250))

    def since_last() -> list[str]:
        seen: list[str] = []
        for _ in range(50):
            marker = f"10.99.255.{next(markers)}"
            vxlan.set_arp_entry(device, marker, "fa:16:3e:ff:ff:ff", host.ns)
            try:
                while True:
                    line = lines.get(timeout=0.2)
                    if f"{marker} " in line:
                        return [x for x in seen if "10.99.255." not in x]
                    seen.append(line)
            except queue.Empty:
                continue  # monitor not subscribed yet: try a new marker
            finally:
                vxlan.delete_arp_entry(device, marker, host.ns)
        raise AssertionError("ip monitor never reported the marker entry")

    try:
        yield since_last
    finally:
        proc.terminate()
        proc.wait(timeout=5)


def test_sync_fdb_twice_changes_nothing(topology: Callable[[], Topology]) -> None:
    topo = topology()
    h1, h2, h3 = topo.host("h1"), topo.host("h2"), topo.host("h3")
    net = Network(vni=1004)
    a = net.add_port(topo, "a", h1, "10.99.4.1/24")
    b = net.add_port(topo, "b", h2, "10.99.4.2/24")
    c = net.add_port(topo, "c", h3, "10.99.4.3/24")

    with neighbour_events(h1, net.device) as changes:
        changes()  # monitor live
        first = net.sync(h1)
        assert len(first) == 2 + 2 + 2  # flood to h2, h3; unicast and ARP for b, c
        assert len(changes()) >= 6  # each showed up as a netlink event
        snapshot = kernel_entries(h1, net.device)

        second = net.sync(h1)
        assert not second and len(second) == 0
        assert changes() == []  # the second sync wrote nothing to the kernel
        assert kernel_entries(h1, net.device) == snapshot
    net.sync_all([h2, h3])  # the way back
    assert a.can_reach(b)
    assert a.can_reach(c)


def test_sync_fdb_converges_stray_and_moved_entries(topology: Callable[[], Topology]) -> None:
    topo = topology()
    h1, h2, h3 = topo.host("h1"), topo.host("h2"), topo.host("h3")
    net = Network(vni=1006)
    a = net.add_port(topo, "a", h1, "10.99.6.1/24")
    b = net.add_port(topo, "b", h2, "10.99.6.2/24")
    net.plug_host(h3)
    net.sync_all([h1, h2])
    assert a.can_reach(b)

    # Left-overs of an older agent or an operator: b's MAC pointing at the wrong host, a
    # flood entry to a host without ports, a stale ARP entry. (A unicast MAC holds one
    # remote only: the kernel turns `bridge fdb append` of one into a silent no-op.)
    namespaces.execute(["bridge", "fdb", "replace", b.mac, "dev", net.device, "dst", h3.ip],
                       h1.ns)
    vxlan.add_flood_entry(net.device, "192.0.2.99", h1.ns)
    vxlan.set_arp_entry(net.device, "10.99.6.77", "fa:16:3e:00:00:77", h1.ns)
    a.forget_neighbours()
    assert not a.can_reach(b)
    diff = net.sync(h1)
    assert diff.unicast_set == ((b.mac, h2.ip),)
    assert diff.unicast_del == ((b.mac, h3.ip),)  # gone with the re-point already: fine
    assert diff.flood_del == ("192.0.2.99",)
    assert diff.neigh_del == ("10.99.6.77",)
    assert vxlan.get_fdb_state(net.device, h1.ns) == FdbState.wanted(*net.wanted(h1))
    assert a.can_reach(b)

    # b's instance moves to h3 (same MAC and IP, as a live migration would): h1's entries
    # are re-pointed in place.
    namespaces.delete_namespace(b.ns)
    net.ports.remove(b)
    moved = net.add_port(topo, "b2", h3, b.cidr, mac=b.mac)
    net.sync_all([h1, h3])
    assert vxlan.get_fdb_state(net.device, h1.ns).unicast == {b.mac: frozenset({h3.ip})}
    assert a.can_reach(moved)


def test_multicast_group_mode(topology: Callable[[], Topology]) -> None:
    """Without l2population: learning, and flooding to a multicast group over the underlay.
    sync_fdb must leave the group's default entry alone."""
    topo = topology()
    h1, h2 = topo.host("h1"), topo.host("h2")
    net_id = str(uuid.uuid4())
    bridge, device = names.bridge_name(net_id), names.vxlan_name(1007)
    inst = []
    for host, cidr in ((h1, "10.99.7.1/24"), (h2, "10.99.7.2/24")):
        devices.ensure_bridge(bridge, mtu=TENANT_MTU, netns=host.ns)
        vxlan.ensure_vxlan(1007, host.ip, UNDERLAY_DEV, l2pop=False, group="239.1.1.7",
                           netns=host.ns)
        devices.set_master(device, bridge, netns=host.ns)
        inst.append(topo.instance(f"m{len(inst)}", host, bridge, cidr, mtu=TENANT_MTU))
    info = vxlan.get_vxlan(device, h1.ns)
    assert info is not None and (info.learning, info.proxy, info.group) == (
        True, False, "239.1.1.7")
    assert not vxlan.sync_fdb(device, set(), {}, {}, netns=h1.ns)
    assert inst[0].can_reach(inst[1])
    fdb, _ = kernel_entries(h1, device)
    assert "dst 239.1.1.7" in fdb
