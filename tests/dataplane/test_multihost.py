"""End to end on simulated hosts: a real API server, RabbitMQ, one Linux bridge agent process
per host, instances booted through the API (compute/instance.py), real packets.

    root namespace:  neutrino server (SQLite), RabbitMQ, agent processes h1 h2 h3
    namespaces:      <prefix>ul (underlay 192.0.2.0/24), <prefix>h1..h3 (the hosts' data
                     planes, built by their agents), <prefix>phys (a provider segment,
                     eth1 of every host), inst-... (instances)

Agents stay in the root namespace (they reach RabbitMQ on 127.0.0.1) and program their
host's namespace through [DEFAULT] host_namespace, as Neutron's fullstack tests do.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from neutrino.agent.linux import devices, names, namespaces
from neutrino.compute import instance
from neutrino.compute.client import NeutronClient
from tests.dataplane.agent_helpers import (
    RABBIT_URL,
    ContinuousPing,
    fdb_state,
    link_indexes,
    provider_segment,
    reaches,
    require_rabbit,
    wait_for,
    wait_reaches,
)
from tests.dataplane.conftest import Features
from tests.dataplane.topology import Host, Topology
from tests.support.agent import AgentProcess
from tests.support.server import Server

PROJECT = "demo"
HOSTS = ("h1", "h2", "h3")
LB = "Linux bridge agent"


@dataclass
class Deployment:
    server: Server
    api: NeutronClient
    topo: Topology
    hosts: dict[str, Host]
    agents: dict[str, AgentProcess]
    workdir: Path
    ns_prefix: str
    server_conf_exchange: str
    booted: dict[str, instance.Instance] = field(default_factory=dict)

    # --- API shortcuts ------------------------------------------------------------------------
    def network(self, name: str, **attrs: Any) -> dict[str, Any]:
        return self.api.request("POST", "/networks", {"network": {"name": name, **attrs}}
                                )["network"]

    def subnet(self, network: dict[str, Any], cidr: str, **attrs: Any) -> dict[str, Any]:
        body = {"network_id": network["id"], "cidr": cidr, "ip_version": 4,
                "enable_dhcp": False, **attrs}
        return self.api.request("POST", "/subnets", {"subnet": body})["subnet"]

    def delete_network(self, network: dict[str, Any]) -> None:
        self.api.request("DELETE", f"/networks/{network['id']}", ok=(404,))

    def boot(self, name: str, network: dict[str, Any], host: str, *,
             dhcp: bool = False, wait_active: bool = True) -> instance.Instance:
        vm = instance.boot(self.api, name, network["id"], host,
                           host_namespace=self.hosts[host].ns,
                           namespace=self.ns_prefix + name, dhcp=dhcp, project_id=PROJECT,
                           timeout=30, dhcp_timeout=30, wait_active=wait_active)
        self.booted[name] = vm
        return vm

    def delete(self, vm: instance.Instance) -> None:
        instance.delete(self.api, vm.name, host_namespace=self.hosts[vm.host].ns,
                        namespace=vm.namespace)
        self.booted.pop(vm.name, None)

    def wait_active(self, *vms: instance.Instance, timeout: float = 20) -> None:
        for vm in vms:
            self.api.wait_port(vm.port_id, lambda p: p["status"] == "ACTIVE", timeout)

    def wait_agents_alive(self, timeout: float = 30) -> None:
        def alive() -> bool:
            rows = self.api.request("GET", "/agents", params={"agent_type": LB})["agents"]
            return {r["host"] for r in rows if r["alive"]} >= set(self.hosts)

        wait_for(alive, timeout, 0.2, what="all Linux bridge agents alive")

    def logs(self) -> str:
        out = [f"--- server\n{self.server.log()[-4000:]}"]
        out += [f"--- agent {n}\n{a.log()[-4000:]}" for n, a in self.agents.items()]
        return "\n".join(out)


@pytest.fixture(scope="module")
def deployment(features: Features, run_prefix: str,
               tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    features.require("vxlan")
    require_rabbit()
    workdir = tmp_path_factory.mktemp("multihost")
    exchange = f"neutrino-test-{uuid.uuid4().hex[:12]}"
    bus = {"transport_url": RABBIT_URL, "bus_exchange": exchange}
    server = Server(f"sqlite:///{workdir / 'neutrino.sqlite'}", workdir, conf={
        "DEFAULT": {**bus, "agent_down_time": 20},
        "ml2": {"type_drivers": "local,flat,vlan,vxlan", "tenant_network_types": "vxlan",
                "mechanism_drivers": "linuxbridge,l2population"},
        "ml2_type_vxlan": {"vni_ranges": "5000:5999"},
        "ml2_type_flat": {"flat_networks": "provider"},
        "ml2_type_vlan": {"network_vlan_ranges": "provider"},
    })
    topo = Topology(prefix=f"{run_prefix}mh")
    agents: dict[str, AgentProcess] = {}
    try:
        server.start()
        hosts = {h: topo.host(h) for h in HOSTS}
        provider_segment(topo, list(hosts.values()))
        for h, host in hosts.items():
            agents[h] = AgentProcess("linuxbridge", h, workdir, {
                "DEFAULT": {**bus, "host": h, "host_namespace": host.ns},
                "AGENT": {"report_interval": 1, "polling_interval": 0.5,
                          "resync_interval": 30},
                "linux_bridge": {"physical_interface_mappings": "provider:eth1"},
                "vxlan": {"enable_vxlan": True, "local_ip": host.ip,
                          "l2_population": True},
            }).start()
        api = NeutronClient(server.url, project_id=PROJECT, roles="admin,member,reader")
        dep = Deployment(server, api, topo, hosts, agents, workdir, f"{run_prefix}mh-",
                         exchange)
        try:
            dep.wait_agents_alive()
        except AssertionError:
            pytest.fail(f"agents did not come up:\n{dep.logs()}")
        yield dep
        for vm in list(dep.booted.values()):
            dep.delete(vm)
    finally:
        for a in agents.values():
            a.stop()
        server.stop()
        for ns in namespaces.list_namespaces(f"{run_prefix}mh-"):
            namespaces.delete_namespace(ns)
        topo.cleanup()


@pytest.fixture
def dep(deployment: Deployment, request: pytest.FixtureRequest) -> Iterator[Deployment]:
    """The shared deployment, with every agent running at the start of each test; when
    the test fails, the server's and agents' logs are printed."""
    for a in deployment.agents.values():
        a.start()
    failed_before = request.session.testsfailed
    yield deployment
    if request.session.testsfailed > failed_before:
        print(deployment.logs())


def test_instances_on_vxlan_network_talk_across_hosts(dep: Deployment) -> None:
    t0 = time.monotonic()
    net = dep.network("blue")
    assert net["provider:network_type"] == "vxlan"
    assert net["mtu"] == 1450
    dep.subnet(net, "10.99.1.0/24")
    a = dep.boot("a", net, "h1")
    b = dep.boot("b", net, "h2")
    dep.wait_active(a, b)
    booted = time.monotonic() - t0
    wait_reaches(a.namespace, b.ip, timeout=10)
    reachable = time.monotonic() - t0
    print(f"two instances booted and ACTIVE in {booted:.2f} s, pinging in {reachable:.2f} s")
    assert reaches(b.namespace, a.ip)
    assert reaches(a.namespace, b.ip, size=1422, dont_fragment=True)  # 1450 - 28
    assert not reaches(a.namespace, b.ip, size=1423, dont_fragment=True, count=1)

    # the same addresses on another network: no way across
    other = dep.network("red")
    dep.subnet(other, "10.99.1.0/24",
               allocation_pools=[{"start": "10.99.1.100", "end": "10.99.1.110"}])
    c = dep.boot("c", other, "h2")
    dep.wait_active(c)
    assert not reaches(c.namespace, b.ip, count=2)
    assert not reaches(c.namespace, a.ip, count=2)
    assert not reaches(a.namespace, c.ip, count=2)

    # what the hosts look like
    h1, h2 = dep.hosts["h1"], dep.hosts["h2"]
    vni = net["provider:segmentation_id"]
    br = names.bridge_name(net["id"])
    assert devices.get_device(br, h1.ns).mtu == 1450
    assert devices.get_device(names.vxlan_name(vni), h1.ns).master == br
    st = fdb_state(h1.ns, vni)
    assert st.flood == {h2.ip}
    assert dict(st.unicast) == {b.mac_address: frozenset({h2.ip})}
    assert dict(st.neigh) == {b.ip: b.mac_address}
    assert not devices.device_exists(br, dep.hosts["h3"].ns)  # no port there

    # deleting an instance removes its tap and every host's entries for it
    dep.delete(b)
    assert not devices.device_exists(names.tap_name(b.port_id), h2.ns)

    def forgotten() -> bool:
        s = fdb_state(h1.ns, vni)
        return s is not None and not s.flood and not s.unicast and not s.neigh

    wait_for(forgotten, 10, what="b's entries gone from h1")
    wait_for(lambda: not devices.device_exists(br, h2.ns), 10, what="h2's bridge removed")
    assert devices.device_exists(names.bridge_name(other["id"]), h2.ns)  # c still there

    # deleting the network (after its last instance) removes the bridges everywhere
    dep.delete(a)
    dep.delete_network(net)
    wait_for(lambda: not devices.device_exists(br, h1.ns), 10, what="h1's bridge removed")
    assert not devices.device_exists(names.vxlan_name(vni), h1.ns)
    dep.delete(c)
    dep.delete_network(other)
    for h in dep.hosts.values():
        wait_for(lambda h=h: not devices.list_devices("brq", h.ns), 10,
                 what=f"no bridge left on {h.name}")


def test_agent_killed_and_restarted_loses_no_packet(dep: Deployment) -> None:
    net = dep.network("kill9")
    dep.subnet(net, "10.99.3.0/24")
    a = dep.boot("k1", net, "h1")
    b = dep.boot("k2", net, "h2")
    dep.wait_active(a, b)
    wait_reaches(a.namespace, b.ip, timeout=10)
    h1 = dep.hosts["h1"]
    before = link_indexes(h1.ns)
    fdb_before = fdb_state(h1.ns, net["provider:segmentation_id"])

    resynced = "resync of all networks done"
    pinger = ContinuousPing(a.namespace, b.ip, interval=0.05).start()
    try:
        # windows counted in pings (20 a second), pinging all along: before the kills,
        # while h1's agent is away, after each restarted agent's full resync
        pinger.wait_sent(20)
        for h in ("h1", "h2"):
            done = dep.agents[h].log().count(resynced)
            dep.agents[h].kill9()
            if h == "h1":
                pinger.wait_sent(20)
            dep.agents[h].start()
            wait_for(lambda h=h, done=done: dep.agents[h].log().count(resynced) > done, 30,
                     0.1, what=f"{h}'s restarted agent's full resync")
            pinger.wait_sent(80)
        sent, received = pinger.stop()
    finally:
        pinger.kill()
    print(f"during two kill -9 + restarts: {sent} pings sent, {received} received")
    assert sent >= 150
    assert received == sent, f"lost {sent - received} of {sent}\n{dep.logs()}"
    assert link_indexes(h1.ns) == before  # nothing deleted and re-created
    assert fdb_state(h1.ns, net["provider:segmentation_id"]) == fdb_before
    assert "resync of all networks done" in dep.agents["h1"].log()
    dep.delete(a)
    dep.delete(b)
    dep.delete_network(net)


def test_agent_down_while_ports_change_converges(dep: Deployment) -> None:
    net = dep.network("offline")
    dep.subnet(net, "10.99.4.0/24")
    a = dep.boot("o1", net, "h1")
    b = dep.boot("o2", net, "h2")
    dep.wait_active(a, b)
    vni = net["provider:segmentation_id"]
    h1, h2, h3 = (dep.hosts[h] for h in HOSTS)
    dep.agents["h1"].stop()
    # while h1's agent is down: b goes away, d arrives on h3, e on h1 itself
    dep.delete(b)
    d = dep.boot("o4", net, "h3")
    dep.wait_active(d)
    # bound (h1's agent still counts as alive for a while), plugged, but nobody wires it
    e = dep.boot("o5", net, "h1", wait_active=False)
    # a later change that must be seen: a port on h3 booted after e, wired and reported
    # ACTIVE by h3's agent; by then what the server and the live agents did about e is
    # done, and e is still not ACTIVE
    sentinel = dep.boot("o6", net, "h3")
    assert dep.api.show_port(e.port_id)["status"] != "ACTIVE"
    dep.delete(sentinel)
    st = fdb_state(h1.ns, vni)
    assert b.mac_address in st.unicast  # stale while the agent is away
    dep.agents["h1"].start()
    dep.wait_active(e)
    wait_for(lambda: dict(fdb_state(h1.ns, vni).unicast)
             == {d.mac_address: frozenset({h3.ip})}, 10, what="h1's entries converged")
    assert dict(fdb_state(h1.ns, vni).neigh) == {d.ip: d.mac_address}
    assert fdb_state(h1.ns, vni).flood == {h3.ip}
    wait_reaches(e.namespace, d.ip, timeout=10)
    assert reaches(a.namespace, d.ip)
    assert not devices.device_exists(names.bridge_name(net["id"]), h2.ns)
    for vm in (a, d, e):
        dep.delete(vm)
    dep.delete_network(net)


def test_flat_provider_network_through_mapped_interface(dep: Deployment) -> None:
    net = dep.network("provider", **{"provider:network_type": "flat",
                                     "provider:physical_network": "provider"})
    assert net["mtu"] == 1500
    dep.subnet(net, "198.51.100.0/24")
    a = dep.boot("f1", net, "h1")
    b = dep.boot("f2", net, "h3")
    dep.wait_active(a, b)
    br = names.bridge_name(net["id"])
    assert devices.get_device("eth1", dep.hosts["h1"].ns).master == br
    wait_reaches(a.namespace, b.ip, timeout=10)
    assert reaches(b.namespace, a.ip, size=1472, dont_fragment=True)
    dep.delete(a)
    dep.delete(b)
    dep.delete_network(net)
    for h in ("h1", "h3"):
        wait_for(lambda h=h: not devices.device_exists(br, dep.hosts[h].ns), 10,
                 what="bridge removed")
        assert devices.get_device("eth1", dep.hosts[h].ns).master is None


def test_instance_cli(dep: Deployment) -> None:
    import subprocess
    import sys

    net = dep.network("cli")
    dep.subnet(net, "10.99.5.0/24")
    base = [sys.executable, "-m", "neutrino.cli.main", "instance", "--url", dep.server.url,
            "--project", PROJECT, "--namespace-prefix", dep.ns_prefix]

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([*base, *args], capture_output=True, text=True, timeout=60)

    out = run("boot", "vm-cli", "--network", "cli", "--host", "h2",
              "--host-namespace", dep.hosts["h2"].ns, "--no-dhcp")
    assert out.returncode == 0, out.stderr
    assert "10.99.5." in out.stdout
    listed = run("list")
    assert "vm-cli" in listed.stdout and "h2" in listed.stdout
    assert namespaces.namespace_exists(dep.ns_prefix + "vm-cli")
    gone = run("delete", "vm-cli", "--host-namespace", dep.hosts["h2"].ns)
    assert gone.returncode == 0, gone.stderr
    assert not namespaces.namespace_exists(dep.ns_prefix + "vm-cli")
    assert "vm-cli" not in run("list").stdout
    assert run("delete", "vm-cli").returncode == 1
    dep.delete_network(net)


def test_boot_on_host_without_agent_fails_cleanly(dep: Deployment) -> None:
    net = dep.network("nowhere")
    dep.subnet(net, "10.99.6.0/24")
    with pytest.raises(instance.BootError, match="binding"):
        instance.boot(dep.api, "lost", net["id"], "no-such-host",
                      namespace=dep.ns_prefix + "lost", dhcp=False, timeout=5)
    assert not namespaces.namespace_exists(dep.ns_prefix + "lost")
    assert dep.api.list_ports(network_id=net["id"], device_owner="compute:nova") == []
    dep.delete_network(net)


def test_instances_take_leases_from_a_dhcp_agent_on_another_host(
        dep: Deployment, features: Features, run_prefix: str) -> None:
    """DHCP across the overlay: dnsmasq on h3 (its DHCP agent), instances on h1 and h2."""
    import shutil

    from tests.dataplane.dhcp_support import (
        dnsmasq_pids_under,
        kill_pids,
        require_dhcp_tools,
        state_dir,
    )

    require_dhcp_tools(features)
    state = state_dir(run_prefix, "mh-dhcp")
    bus = {"transport_url": RABBIT_URL, "bus_exchange": dep.server_conf_exchange}
    dhcp = AgentProcess("dhcp", "h3", dep.workdir, {
        "DEFAULT": {**bus, "host": "h3", "host_namespace": dep.hosts["h3"].ns,
                    "namespace_prefix": dep.ns_prefix, "state_path": str(state)},
        "AGENT": {"report_interval": 1, "polling_interval": 0.5, "resync_interval": 30},
    })
    net = None
    try:
        dhcp.start()
        wait_for(lambda: any(r["alive"] for r in dep.api.request(
            "GET", "/agents", params={"agent_type": "DHCP agent", "host": "h3"})["agents"]),
            30, 0.2, what="DHCP agent of h3 alive")
        net = dep.network("leased")
        dep.subnet(net, "10.99.7.0/24", enable_dhcp=True)
        t0 = time.monotonic()
        a = dep.boot("d1", net, "h1", dhcp=True)
        b = dep.boot("d2", net, "h2", dhcp=True)
        print(f"two instances booted with DHCP leases from another host in "
              f"{time.monotonic() - t0:.2f} s")
        for vm in (a, b):
            want = dep.api.show_port(vm.port_id)["fixed_ips"][0]["ip_address"]
            assert vm.fixed_ips == [f"{want}/24"]
        dep.wait_active(a, b)
        wait_reaches(a.namespace, b.ip, timeout=10)
        assert reaches(b.namespace, a.ip, size=1422, dont_fragment=True)
        (dhcp_port,) = dep.api.list_ports(network_id=net["id"], device_owner="network:dhcp")
        assert dhcp_port["binding:host_id"] == "h3"
        assert dhcp_port["status"] == "ACTIVE"
        dep.delete(a)
        dep.delete(b)
    finally:
        if net is not None:
            dep.delete_network(net)
        dhcp.stop()
        kill_pids(dnsmasq_pids_under(str(state)))
        shutil.rmtree(state, ignore_errors=True)


def test_boot_of_a_running_name_keeps_the_running_instance(dep: Deployment) -> None:
    net = dep.network("twice")
    dep.subnet(net, "10.99.7.0/24")
    vm = dep.boot("twice", net, "h1")
    with pytest.raises(instance.BootError, match="exists"):
        dep.boot("twice", net, "h1")
    # The running instance was not torn down: its namespace and its ACTIVE port remain.
    assert namespaces.namespace_exists(vm.namespace)
    assert dep.api.show_port(vm.port_id)["status"] == "ACTIVE"
    assert len(dep.api.list_ports(network_id=net["id"], device_owner="compute:nova")) == 1
    dep.delete(vm)
    dep.delete_network(net)


def test_boot_as_a_project_cannot_use_another_projects_network(dep: Deployment) -> None:
    other = dep.api.request("POST", "/networks", {"network": {
        "name": "foreign", "project_id": "someone-else"}})["network"]
    dep.subnet(other, "10.99.8.0/24")
    with pytest.raises(instance.BootError, match="404"):
        instance.boot(dep.api, "intruder", other["id"], "h1",
                      host_namespace=dep.hosts["h1"].ns, namespace=dep.ns_prefix + "intruder",
                      dhcp=False, project_id=PROJECT, timeout=5)
    assert not namespaces.namespace_exists(dep.ns_prefix + "intruder")
    assert dep.api.list_ports(network_id=other["id"], device_owner="compute:nova") == []
    dep.delete_network(other)
