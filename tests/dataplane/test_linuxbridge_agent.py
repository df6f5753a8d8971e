"""The Linux bridge agent on real namespaces, against the real server side of the protocol.

Each simulated host is a namespace of the topology; its agent runs in this process (the
root namespace) and programs the host namespace through ``host_namespace``, as in the
multi-host deployment tests. The server (tests/dataplane/control_plane.py: the plugin on
SQLite, ``agent_rpc`` on an in-process bus, its API called in-process) binds the ports,
computes l2population and sends hints; the tests check what the agent builds, packet by
packet.
"""

from __future__ import annotations

import errno
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from neutrino.agent.l2.linuxbridge import LinuxBridgeAgent
from neutrino.agent.linux import devices, names
from neutrino.bus import make_bus
from neutrino.config import make_conf
from tests.dataplane.agent_helpers import (
    ContinuousPing,
    fdb_state,
    link_indexes,
    plug,
    provider_segment,
    reaches,
    wait_for,
    wait_reaches,
)
from tests.dataplane.conftest import Features
from tests.dataplane.control_plane import ControlPlane, Net, Port
from tests.dataplane.topology import Host, Topology, random_mac

TENANT_MTU = 1450


@pytest.fixture(autouse=True)
def _need_vxlan(features: Features) -> None:
    features.require("vxlan")


@dataclass
class Cloud:
    topo: Topology
    server: ControlPlane
    url: str
    hosts: dict[str, Host] = field(default_factory=dict)
    agents: dict[str, LinuxBridgeAgent] = field(default_factory=dict)
    mappings: str = ""
    instances: dict[str, tuple[str, Port]] = field(default_factory=dict)  # name -> (ns, port)

    def conf(self, host: Host) -> Any:
        conf = make_conf([], overrides={"DEFAULT": {"transport_url": self.url}})
        from neutrino.agent.l2 import linuxbridge

        linuxbridge.register_opts(conf)
        conf.set_override("host", host.name)
        conf.set_override("host_namespace", host.ns)
        conf.set_override("local_ip", host.ip, group="vxlan")
        conf.set_override("polling_interval", 0.2, group="AGENT")
        conf.set_override("report_interval", 0.5, group="AGENT")
        conf.set_override("resync_interval", 30, group="AGENT")
        if self.mappings:
            conf.set_override("physical_interface_mappings", [self.mappings],
                              group="linux_bridge")
        return conf

    def start_agent(self, name: str) -> LinuxBridgeAgent:
        host = self.hosts[name]
        conf = self.conf(host)
        agent = LinuxBridgeAgent(conf, make_bus(conf))
        agent.start()
        self.agents[name] = agent
        wait_for(lambda: self.server.agents.get(name, {}).get("alive"), 5,
                 what=f"{name} reported")
        return agent

    def stop_agent(self, name: str) -> None:
        agent = self.agents.pop(name)
        agent.stop()
        assert agent.bus is not None
        agent.bus.close()

    def boot(self, name: str, net: Net, host: str, ip: str) -> tuple[str, Port]:
        mac = random_mac()
        port = self.server.add_port(net, host, mac, ip)  # bound to ``host``
        ns = plug(self.topo, name, self.hosts[host].ns, port.id, mac, f"{ip}/24", net.mtu)
        self.instances[name] = (ns, port)
        return ns, port

    def wait_active(self, *ports: Port, timeout: float = 10) -> None:
        wait_for(lambda: all(p.id in self.server.up for p in ports), timeout,
                 what="ports reported up")

    def settle(self) -> None:
        wait_for(lambda: all(a.idle() for a in self.agents.values()), 10, what="agents idle")


@pytest.fixture
def cloud(topology: Callable[[], Topology], tmp_path: Path
          ) -> Iterator[Callable[..., Cloud]]:
    made: list[Cloud] = []

    def make(hosts: int = 2, mappings: str = "") -> Cloud:
        topo = topology()
        url = f"inprocess://lb-{uuid.uuid4().hex[:8]}"
        c = Cloud(topo, ControlPlane(tmp_path / f"server{len(made)}", url), url,
                  mappings=mappings)
        made.append(c)
        for i in range(hosts):
            h = topo.host(f"h{i + 1}")
            c.hosts[h.name] = h
        return c

    yield make
    # agents first: they hold sockets in the namespaces the topology deletes
    for c in made:
        for name in list(c.agents):
            c.stop_agent(name)
        c.server.close()


def test_agent_builds_vxlan_network_and_instances_talk(cloud: Callable[..., Cloud]) -> None:
    c = cloud(2)
    for h in c.hosts:
        c.start_agent(h)
    net = c.server.add_network("vxlan", segmentation_id=1001)
    other = c.server.add_network("vxlan", segmentation_id=1002)
    a_ns, a = c.boot("a", net, "h1", "10.99.0.1")
    b_ns, b = c.boot("b", net, "h2", "10.99.0.2")
    x_ns, x = c.boot("x", other, "h2", "10.99.0.3")  # same subnet, other network
    c.wait_active(a, b, x)

    br = names.bridge_name(net.id)
    for h in ("h1", "h2"):
        dev = devices.get_device(br, c.hosts[h].ns)
        assert dev is not None and dev.mtu == TENANT_MTU and dev.up
        vx = devices.get_device("vxlan-1001", c.hosts[h].ns)
        assert vx is not None and vx.master == br
    assert devices.get_device(names.tap_name(a.id), c.hosts["h1"].ns).master == br
    # l2population entries on h1: flood + unicast + ARP proxy for b, nothing for x
    st = fdb_state(c.hosts["h1"].ns, 1001)
    assert st is not None
    assert st.flood == {c.hosts["h2"].ip}
    assert dict(st.unicast) == {b.mac_address: frozenset({c.hosts["h2"].ip})}
    assert dict(st.neigh) == {"10.99.0.2": b.mac_address}
    assert devices.get_device("vxlan-1002", c.hosts["h1"].ns) is None  # no port there

    wait_reaches(a_ns, "10.99.0.2")
    assert reaches(b_ns, "10.99.0.1")
    assert reaches(a_ns, "10.99.0.2", size=TENANT_MTU - 28, dont_fragment=True)
    assert not reaches(a_ns, "10.99.0.3", count=2)  # other network: isolated
    assert not reaches(x_ns, "10.99.0.2", count=2)

    reported = c.server.agents["h1"]["configurations"]
    assert reported["tunnel_types"] == ["vxlan"]
    assert reported["tunneling_ip"] == c.hosts["h1"].ip
    assert reported["l2_population"] is True
    assert reported["bridge_mappings"] == {}


def test_agent_restart_touches_nothing_and_loses_no_packet(
        cloud: Callable[..., Cloud]) -> None:
    c = cloud(2)
    for h in c.hosts:
        c.start_agent(h)
    net = c.server.add_network("vxlan", segmentation_id=1003)
    a_ns, a = c.boot("a", net, "h1", "10.99.0.1")
    _, b = c.boot("b", net, "h2", "10.99.0.2")
    c.wait_active(a, b)
    wait_reaches(a_ns, "10.99.0.2")
    c.settle()
    before = {h: link_indexes(c.hosts[h].ns) for h in c.hosts}
    fdb_before = fdb_state(c.hosts["h1"].ns, 1003)

    pinger = ContinuousPing(a_ns, "10.99.0.2").start()
    try:
        for h in ("h1", "h2"):
            c.stop_agent(h)
            agent = c.start_agent(h)
            wait_for(lambda agent=agent: agent.full_resync_count >= 1 and agent.idle(), 10,
                     what="resync after restart")
            assert agent.last_plan is not None and not agent.last_plan, agent.last_plan
            pinger.wait_sent(10)  # pinging on through the restarted agent
        sent, received = pinger.stop()
    finally:
        pinger.kill()
    assert sent >= 10 and received == sent, f"lost {sent - received} of {sent} pings"
    assert {h: link_indexes(c.hosts[h].ns) for h in c.hosts} == before
    assert fdb_state(c.hosts["h1"].ns, 1003) == fdb_before


def test_deleting_ports_cleans_every_host(cloud: Callable[..., Cloud]) -> None:
    c = cloud(3)
    for h in c.hosts:
        c.start_agent(h)
    net = c.server.add_network("vxlan", segmentation_id=1004)
    a_ns, a = c.boot("a", net, "h1", "10.99.0.1")
    _, b = c.boot("b", net, "h2", "10.99.0.2")
    _, d = c.boot("d", net, "h3", "10.99.0.4")
    c.wait_active(a, b, d)
    wait_reaches(a_ns, "10.99.0.4")
    h1, h2, h3 = (c.hosts[h] for h in ("h1", "h2", "h3"))
    assert fdb_state(h1.ns, 1004).flood == {h2.ip, h3.ip}

    # the compute side unplugs d, then its port is deleted
    devices.delete_device(names.tap_name(d.id), h3.ns)
    wait_for(lambda: d.id not in c.server.up, 5, what="d reported down")
    c.server.delete_port(d)

    def gone_from_peers() -> bool:
        for h in (h1, h2):
            st = fdb_state(h.ns, 1004)
            if st is None or h3.ip in st.flood or d.mac_address in st.unicast \
                    or "10.99.0.4" in st.neigh:
                return False
        return True

    wait_for(gone_from_peers, 10, what="d's entries removed from h1 and h2")
    wait_for(lambda: not devices.device_exists(names.bridge_name(net.id), h3.ns), 10,
             what="h3's bridge removed")
    assert not devices.device_exists("vxlan-1004", h3.ns)
    assert reaches(a_ns, "10.99.0.2")

    c.server.delete_network(net)
    for h in (h1, h2):
        wait_for(lambda h=h: not devices.device_exists(names.bridge_name(net.id), h.ns), 10,
                 what=f"{h.name}'s bridge removed")
        assert not devices.device_exists("vxlan-1004", h.ns)
        # the instance's tap is left to the compute side, but out of any bridge
        assert all(d.master is None for d in devices.list_devices("tap", h.ns))


def test_agent_down_while_things_change_converges_on_start(
        cloud: Callable[..., Cloud]) -> None:
    c = cloud(2)
    for h in c.hosts:
        c.start_agent(h)
    net = c.server.add_network("vxlan", segmentation_id=1005)
    a_ns, a = c.boot("a", net, "h1", "10.99.0.1")
    _, b = c.boot("b", net, "h2", "10.99.0.2")
    c.wait_active(a, b)
    c.stop_agent("h1")
    # while h1's agent is away: b is deleted, e arrives on h2, f on h1 itself
    devices.delete_device(names.tap_name(b.id), c.hosts["h2"].ns)
    c.server.delete_port(b)
    _, e = c.boot("e", net, "h2", "10.99.0.5")
    f_ns, f = c.boot("f", net, "h1", "10.99.0.6")
    c.wait_active(e)
    assert f.id not in c.server.up
    c.start_agent("h1")
    c.wait_active(f)
    st = fdb_state(c.hosts["h1"].ns, 1005)
    assert dict(st.unicast) == {e.mac_address: frozenset({c.hosts["h2"].ip})}
    assert dict(st.neigh) == {"10.99.0.5": e.mac_address}
    wait_reaches(f_ns, "10.99.0.5")
    assert reaches(a_ns, "10.99.0.6")


def test_admin_down_port_is_cut_off(cloud: Callable[..., Cloud]) -> None:
    c = cloud(2)
    for h in c.hosts:
        c.start_agent(h)
    net = c.server.add_network("vxlan", segmentation_id=1006)
    a_ns, a = c.boot("a", net, "h1", "10.99.0.1")
    _, b = c.boot("b", net, "h2", "10.99.0.2")
    c.wait_active(a, b)
    wait_reaches(a_ns, "10.99.0.2")
    c.server.update_port(b, admin_state_up=False)
    wait_for(lambda: b.id not in c.server.up, 5, what="b reported down")
    assert devices.get_device(names.tap_name(b.id), c.hosts["h2"].ns).master is None
    assert not reaches(a_ns, "10.99.0.2", count=2)
    c.server.update_port(b, admin_state_up=True)
    c.wait_active(b)
    wait_reaches(a_ns, "10.99.0.2")


def test_unknown_tap_or_kernel_drift_is_repaired(cloud: Callable[..., Cloud]) -> None:
    """Somebody deletes the agent's bridge and fdb entries: the next resync rebuilds."""
    c = cloud(2)
    for h in c.hosts:
        c.start_agent(h)
    net = c.server.add_network("vxlan", segmentation_id=1007)
    a_ns, a = c.boot("a", net, "h1", "10.99.0.1")
    _, b = c.boot("b", net, "h2", "10.99.0.2")
    c.wait_active(a, b)
    h1 = c.hosts["h1"]
    devices.delete_device("vxlan-1007", h1.ns)
    devices.delete_device(names.bridge_name(net.id), h1.ns)
    assert not reaches(a_ns, "10.99.0.2", count=1)
    c.server.hint("h1", networks=None)  # or wait for resync_interval
    wait_reaches(a_ns, "10.99.0.2", timeout=10)


def test_flat_provider_network_through_mapped_interface(
        cloud: Callable[..., Cloud]) -> None:
    c = cloud(2, mappings="provider:eth1")
    provider_segment(c.topo, list(c.hosts.values()))
    for h in c.hosts:
        c.start_agent(h)
    net = c.server.add_network("flat", physical_network="provider")
    a_ns, a = c.boot("a", net, "h1", "198.51.100.1")
    b_ns, b = c.boot("b", net, "h2", "198.51.100.2")
    c.wait_active(a, b)
    br = names.bridge_name(net.id)
    for h in c.hosts.values():
        assert devices.get_device("eth1", h.ns).master == br
    wait_reaches(a_ns, "198.51.100.2")
    assert reaches(b_ns, "198.51.100.1", size=1472, dont_fragment=True)
    c.server.delete_network(net)
    for h in c.hosts.values():
        wait_for(lambda h=h: not devices.device_exists(br, h.ns), 10, what="bridge removed")
        eth1 = devices.get_device("eth1", h.ns)
        assert eth1 is not None and eth1.master is None  # detached, never deleted


def test_unmapped_physical_network_is_not_bound_here(cloud: Callable[..., Cloud]) -> None:
    """A port on a physical network this host's agent does not map: the server does not
    bind it here (the agent reports its mappings), so the agent never gets it and the
    host's other networks keep working. (An agent given such a network anyway records
    the failure: test_bridge_plan.)"""
    c = cloud(1)
    agent = c.start_agent("h1")
    net = c.server.add_network("flat", physical_network="nowhere")
    _, a = c.boot("a", net, "h1", "198.51.100.1")
    port = c.server.api("GET", f"/ports/{a.id}")["port"]
    assert port["binding:vif_type"] == "binding_failed"
    vx = c.server.add_network("vxlan", segmentation_id=1008)
    _, v = c.boot("v", vx, "h1", "10.99.0.1")
    c.wait_active(v)
    c.settle()
    assert a.id not in c.server.up
    assert not devices.device_exists(names.bridge_name(net.id), c.hosts["h1"].ns)
    assert agent.running and not agent.failed_networks


def _kernel_has_8021q(ns: str) -> str | None:
    from pyroute2.netlink.exceptions import NetlinkError

    from neutrino.agent.linux.netlink import ipr_for

    ipr = ipr_for(ns)
    ipr.link("add", ifname="probe0", kind="veth", peer="probe1")
    try:
        idx = ipr.link_lookup(ifname="probe0")[0]
        ipr.link("add", ifname="probe0.5", kind="vlan", link=idx, vlan_id=5)
    except NetlinkError as e:
        if e.code in (errno.EOPNOTSUPP, errno.ENOENT, errno.EINVAL):
            return f"kernel has no 802.1q VLAN devices ({e})"
        raise
    finally:
        devices.delete_device("probe0.5", ns)
        devices.delete_device("probe0", ns)
    return None


def test_vlan_provider_network_packets(cloud: Callable[..., Cloud]) -> None:
    c = cloud(2, mappings="provider:eth1")
    provider_segment(c.topo, list(c.hosts.values()))
    reason = _kernel_has_8021q(c.hosts["h1"].ns)
    if reason:
        pytest.skip(reason)
    for h in c.hosts:
        c.start_agent(h)
    net = c.server.add_network("vlan", segmentation_id=100, physical_network="provider")
    a_ns, a = c.boot("a", net, "h1", "198.51.100.1")
    _, b = c.boot("b", net, "h2", "198.51.100.2")
    c.wait_active(a, b)
    assert devices.get_device("eth1.100", c.hosts["h1"].ns).master == names.bridge_name(
        net.id)
    wait_reaches(a_ns, "198.51.100.2")


def test_vlan_network_on_a_kernel_without_8021q_fails_clearly(
        cloud: Callable[..., Cloud]) -> None:
    c = cloud(1, mappings="provider:eth1")
    provider_segment(c.topo, list(c.hosts.values()))
    if _kernel_has_8021q(c.hosts["h1"].ns) is None:
        pytest.skip("this kernel has 802.1q: covered by test_vlan_provider_network_packets")
    agent = c.start_agent("h1")
    net = c.server.add_network("vlan", segmentation_id=100, physical_network="provider")
    c.boot("a", net, "h1", "198.51.100.1")
    wait_for(lambda: net.id in agent.failed_networks, 5, what="failure recorded")
    assert "802.1q" in agent.failed_networks[net.id]
    assert agent.running


def test_many_networks_at_once_go_through_the_batch(cloud: Callable[..., Cloud],
                                                    caplog: pytest.LogCaptureFixture) -> None:
    """A host that comes up with many networks to build (a reboot): iproute2 batches
    first, then nothing is left to do one by one, and everything works."""
    import logging

    c = cloud(2)
    nets = [c.server.add_network("vxlan", segmentation_id=1100 + i) for i in range(6)]
    vms = {}
    for i, net in enumerate(nets):
        for h in ("h1", "h2"):
            vms[i, h] = c.boot(f"m{i}{h}", net, h, f"10.99.{i}.{1 if h == 'h1' else 2}")
    with caplog.at_level(logging.INFO, logger="neutrino.agent.l2.linuxbridge"):
        for h in c.hosts:
            c.start_agent(h)
        c.wait_active(*(p for _, p in vms.values()))
        c.settle()
    assert "batched" in caplog.text
    assert "left after the batch" not in caplog.text
    for agent in c.agents.values():
        agent.request_resync(None, "test")
    c.settle()
    assert all(not a.last_plan for a in c.agents.values())
    for i in (0, 5):
        wait_reaches(vms[i, "h1"][0], f"10.99.{i}.2")
    assert not reaches(vms[0, "h1"][0], "10.99.1.2", count=1)


def test_a_tap_the_kernel_refuses_holds_back_only_its_port(cloud: Callable[..., Cloud]
                                                           ) -> None:
    """One port's device cannot join the network's bridge (here a bridge under the tap's
    name: the kernel does not nest bridges, ELOOP; at scale a full bridge, EXFULL): the
    other ports of the network are wired and reported up, as Neutron's agent does, that
    one stays down until its device is right, then the retry wires it."""
    c = cloud(2)
    net = c.server.add_network("vxlan", segmentation_id=1200)
    h1 = c.hosts["h1"]
    a_ns, a = c.boot("a", net, "h1", "10.99.0.1")
    _, b = c.boot("b", net, "h2", "10.99.0.2")
    mac = random_mac()
    bad = c.server.add_port(net, "h1", mac, "10.99.0.3")
    devices.ensure_bridge(names.tap_name(bad.id), netns=h1.ns)
    for h in c.hosts:
        c.start_agent(h)
    agent = c.agents["h1"]
    wait_for(lambda: net.id in agent.failed_networks, 10, what="h1's pass failed")
    c.wait_active(a, b)
    assert bad.id not in c.server.up  # reported in the same cast as a, were it wired
    assert devices.get_device(names.tap_name(a.id), h1.ns).master == names.bridge_name(net.id)
    wait_reaches(a_ns, "10.99.0.2")
    # the device made right (an instance plugged properly): the port is wired and up
    devices.delete_device(names.tap_name(bad.id), h1.ns)
    bad_ns = plug(c.topo, "bad", h1.ns, bad.id, mac, "10.99.0.3/24", net.mtu)
    c.wait_active(bad)
    wait_reaches(bad_ns, "10.99.0.2")
    wait_for(lambda: not agent.failed_networks, 10, what="h1 converged")
