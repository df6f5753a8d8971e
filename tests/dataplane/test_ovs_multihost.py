"""End to end on simulated Open vSwitch hosts: a real API server (openvswitch +
l2population mechanism drivers), RabbitMQ, one Open vSwitch agent process per host, one
ovsdb-server + ovs-vswitchd per host namespace (userspace datapath), instances booted
through the API and plugged into br-int as os-vif does, real packets.

    root namespace:  neutrino server (SQLite), RabbitMQ, agent processes h1 h2
    namespaces:      <prefix>ul (underlay 192.0.2.0/24), <prefix>h1, <prefix>h2 (each with
                     its own OVS: br-ul holding the underlay address, br-int, br-tun,
                     br-phys with eth1 into <prefix>phys, the VLAN trunk), instances

Run under ``flock /tmp/neutrino-dataplane.lock``.
"""

from __future__ import annotations

import contextlib
import shutil
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from neutrino.agent.linux import devices, namespaces
from neutrino.compute import instance
from neutrino.compute.client import NeutronClient
from tests.dataplane.agent_helpers import (
    RABBIT_URL,
    ContinuousPing,
    provider_segment,
    reaches,
    require_rabbit,
    wait_for,
    wait_reaches,
)
from tests.dataplane.conftest import Features
from tests.dataplane.ovs_support import OvsHost
from tests.dataplane.topology import Host, Topology
from tests.support.agent import AgentProcess
from tests.support.server import Server

PROJECT = "demo"
HOSTS = ("h1", "h2")  # Open vSwitch hosts
LB_HOST = "h3"  # a Linux bridge host (kernel VXLAN) on the same underlay
OVS_AGENT = "Open vSwitch agent"
LB_AGENT = "Linux bridge agent"
PHYSNET = "physnet1"


def _missing() -> str | None:
    for tool in ("ovsdb-server", "ovs-vswitchd", "ovs-vsctl", "ovs-ofctl", "ethtool"):
        if shutil.which(tool) is None:
            return f"{tool} not found (apt: openvswitch-switch, ethtool)"
    return None


@dataclass
class Deployment:
    server: Server
    api: NeutronClient
    topo: Topology
    hosts: dict[str, Host]
    ovs: dict[str, OvsHost]
    agents: dict[str, AgentProcess]
    ns_prefix: str
    booted: dict[str, instance.Instance] = field(default_factory=dict)
    # for modules adding agents of their own (test_ovs_network_node.py)
    bus: dict[str, str] = field(default_factory=dict)
    workdir: Path = Path()
    phys: str = ""  # the provider segment's namespace (its Linux bridge br-phys)

    def network(self, name: str, cidr: str, **attrs: Any) -> dict[str, Any]:
        net = self.api.request("POST", "/networks", {"network": {"name": name, **attrs}}
                               )["network"]
        self.api.request("POST", "/subnets", {"subnet": {
            "network_id": net["id"], "cidr": cidr, "ip_version": 4, "enable_dhcp": False}})
        return net

    def delete_network(self, network: dict[str, Any]) -> None:
        self.api.request("DELETE", f"/networks/{network['id']}", ok=(404,))

    def _db(self, host: str) -> str | None:
        return self.ovs[host].connection if host in self.ovs else None

    def boot(self, name: str, network: dict[str, Any], host: str) -> instance.Instance:
        vm = instance.boot(self.api, name, network["id"], host,
                           host_namespace=self.hosts[host].ns,
                           namespace=self.ns_prefix + name, dhcp=False, project_id=PROJECT,
                           timeout=30, ovsdb_connection=self._db(host))
        self.booted[name] = vm
        return vm

    def delete(self, vm: instance.Instance) -> None:
        instance.delete(self.api, vm.name, host_namespace=self.hosts[vm.host].ns,
                        namespace=vm.namespace, ovsdb_connection=self._db(vm.host))
        self.booted.pop(vm.name, None)

    def ip(self, vm: instance.Instance) -> str:
        return vm.fixed_ips[0].split("/")[0]

    def logs(self) -> str:
        out = [f"--- server\n{self.server.log()[-3000:]}"]
        out += [f"--- agent {n}\n{a.log()[-5000:]}" for n, a in self.agents.items()]
        return "\n".join(out)


def agent_conf(bus: dict[str, str], host: str, ip: str, ovs: OvsHost,
               firewall: str = "noop") -> dict[str, Any]:
    return {
        "DEFAULT": {**bus, "host": host},
        "agent": {"report_interval": 1, "polling_interval": 0.3, "resync_interval": 30,
                  "tunnel_types": "vxlan,gre,geneve", "l2_population": True,
                  "arp_responder": True},
        "ovs": {"integration_bridge": "br-int", "tunnel_bridge": "br-tun",
                "bridge_mappings": f"{PHYSNET}:br-phys", "local_ip": ip,
                "datapath_type": "netdev", "ovsdb_connection": ovs.connection,
                "ovs_rundir": str(ovs.dir)},
        "securitygroup": {"firewall_driver": firewall},
    }


@pytest.fixture(scope="module")
def deployment(features: Features, run_prefix: str,
               tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    with deploy(features, run_prefix, tmp_path_factory) as dep:
        yield dep


@contextlib.contextmanager
def deploy(features: Features, run_prefix: str, tmp_path_factory: pytest.TempPathFactory,
           *, firewall: str = "noop", tag: str = "ov") -> Iterator[Deployment]:
    """The deployment of this module (``firewall``: the OVS agents' firewall_driver;
    ``tag``: the namespaces' infix, so two modules' deployments never share a name)."""
    features.require()
    require_rabbit(_missing())
    workdir = tmp_path_factory.mktemp("ovs")
    exchange = f"neutrino-test-{uuid.uuid4().hex[:12]}"
    bus = {"transport_url": RABBIT_URL, "bus_exchange": exchange}
    server = Server(f"sqlite:///{workdir / 'neutrino.sqlite'}", workdir, conf={
        "DEFAULT": {**bus, "agent_down_time": 20},
        "ml2": {"type_drivers": "local,flat,vlan,vxlan,gre,geneve",
                "tenant_network_types": "vxlan",
                "mechanism_drivers": "openvswitch,linuxbridge,l2population"},
        "ml2_type_vxlan": {"vni_ranges": "5000:5999"},
        "ml2_type_gre": {"tunnel_id_ranges": "6000:6999"},
        "ml2_type_geneve": {"vni_ranges": "7000:7999"},
        "ml2_type_flat": {"flat_networks": PHYSNET},
        "ml2_type_vlan": {"network_vlan_ranges": f"{PHYSNET}:100:199"},
    })
    topo = Topology(prefix=f"{run_prefix}{tag}")
    agents: dict[str, AgentProcess] = {}
    ovs: dict[str, OvsHost] = {}
    try:
        server.start()
        hosts = {h: topo.host(h) for h in (*HOSTS, LB_HOST)}
        phys = provider_segment(topo, [hosts[h] for h in HOSTS])
        for h in HOSTS:
            host = hosts[h]
            o = ovs[h] = OvsHost(host.ns, Path(workdir) / f"ovs-{h}")
            o.start()
            o.underlay_on_ovs("ul0", f"{host.ip}/24")
            o.vsctl("--may-exist", "add-br", "br-phys", "--", "set", "Bridge", "br-phys",
                    "datapath_type=netdev")
            o.vsctl("--may-exist", "add-port", "br-phys", "eth1")
            namespaces.execute(["ip", "link", "set", "eth1", "up"], host.ns)
            agents[h] = AgentProcess("openvswitch", h, workdir,
                                     agent_conf(bus, h, host.ip, o, firewall)).start()
        lb = hosts[LB_HOST]
        # kernel VXLAN leaves checksums to the "hardware"; OVS's userspace datapath on the
        # other end would drop them (PLATFORM.md)
        devices.disable_tx_offload("ul0", lb.ns)
        agents[LB_HOST] = AgentProcess("linuxbridge", LB_HOST, workdir, {
            "DEFAULT": {**bus, "host": LB_HOST, "host_namespace": lb.ns},
            "AGENT": {"report_interval": 1, "polling_interval": 0.3, "resync_interval": 30},
            "vxlan": {"enable_vxlan": True, "local_ip": lb.ip, "l2_population": True},
            "securitygroup": {"firewall_driver": "noop"},
        }).start()
        api = NeutronClient(server.url, project_id=PROJECT, roles="admin,member,reader")
        dep = Deployment(server, api, topo, hosts, ovs, agents, f"{run_prefix}{tag}-",
                         bus=bus, workdir=Path(workdir), phys=phys)

        def alive() -> bool:
            rows = api.request("GET", "/agents")["agents"]
            live = {(r["host"], r["agent_type"]) for r in rows if r["alive"]}
            return live >= {(h, OVS_AGENT) for h in HOSTS} | {(LB_HOST, LB_AGENT)}

        try:
            wait_for(alive, 30, 0.2, what="Open vSwitch agents alive")
        except AssertionError:
            pytest.fail(f"agents did not come up:\n{dep.logs()}")
        yield dep
        for vm in list(dep.booted.values()):
            dep.delete(vm)
    finally:
        for a in agents.values():
            a.stop()
        server.stop()
        for o in ovs.values():
            o.stop()
        for ns in namespaces.list_namespaces(f"{run_prefix}{tag}-"):
            namespaces.delete_namespace(ns)
        topo.cleanup()


@pytest.fixture
def dep(deployment: Deployment, request: pytest.FixtureRequest) -> Iterator[Deployment]:
    for a in deployment.agents.values():
        a.start()
    failed_before = request.session.testsfailed
    yield deployment
    if request.session.testsfailed > failed_before:
        print(deployment.logs())
    for vm in list(deployment.booted.values()):
        deployment.delete(vm)


@pytest.mark.parametrize("network_type", ["vxlan", "gre", "geneve"])
def test_instances_on_two_hosts_over_tunnels(dep: Deployment, network_type: str) -> None:
    t0 = time.monotonic()
    net = dep.network(f"t-{network_type}", "10.99.1.0/24",
                      **{"provider:network_type": network_type})
    a = dep.boot(f"a{network_type[:2]}", net, "h1")
    b = dep.boot(f"b{network_type[:2]}", net, "h2")
    booted = time.monotonic() - t0
    wait_reaches(a.namespace, dep.ip(b), timeout=15)
    print(f"{network_type}: two instances ACTIVE in {booted:.2f} s, "
          f"pinging in {time.monotonic() - t0:.2f} s")
    assert reaches(b.namespace, dep.ip(a))
    # what h1 looks like: the tunnel port to h2, the port tagged with its local VLAN,
    # recorded in OVSDB
    h2_hex = "".join(f"{int(x):02x}" for x in dep.hosts["h2"].ip.split("."))
    o1 = dep.ovs["h1"]
    assert f"{network_type}-{h2_hex}" in o1.vsctl("list-ports", "br-tun").split()
    tap = f"tap{a.port_id[:11]}"
    other = o1.vsctl("get", "Port", tap, "other_config")
    assert f'net_uuid="{net["id"]}"' in other and f"network_type={network_type}" in other
    tag = o1.vsctl("get", "Port", tap, "tag").strip()
    assert f'tag="{tag}"' in other
    # every flow carries the agent's cookie
    cookie = o1.vsctl("br-get-external-id", "br-int", "neutrino-agent-cookie").strip()
    for br in ("br-int", "br-tun", "br-phys"):
        flows = o1.ofctl("--no-stats", "dump-flows", br).splitlines()[1:]
        assert flows and all(f.strip().startswith(f"cookie={cookie},") for f in flows), flows
    dep.delete(a)
    dep.delete(b)
    dep.delete_network(net)


def test_isolation_between_networks_with_the_same_cidr(dep: Deployment) -> None:
    blue = dep.network("blue", "10.99.2.0/24")
    red = dep.network("red", "10.99.2.0/24")
    a = dep.boot("iso-a", blue, "h1")
    b = dep.boot("iso-b", blue, "h2")
    c = dep.boot("iso-c", red, "h2")
    wait_reaches(a.namespace, dep.ip(b), timeout=15)
    # the same address space on red, c on b's host: no way across either way
    for vm in (a, b):
        if dep.ip(vm) != dep.ip(c):
            assert not reaches(c.namespace, dep.ip(vm), count=1)
            assert not reaches(vm.namespace, dep.ip(c), count=1)


@pytest.mark.parametrize("network_type", ["vlan", "flat"])
def test_provider_networks_across_the_trunk(dep: Deployment, network_type: str) -> None:
    attrs: dict[str, Any] = {"provider:network_type": network_type,
                             "provider:physical_network": PHYSNET}
    if network_type == "vlan":
        attrs["provider:segmentation_id"] = 150
    net = dep.network(f"p-{network_type}", "10.99.3.0/24", **attrs)
    a = dep.boot(f"p{network_type}a", net, "h1")
    b = dep.boot(f"p{network_type}b", net, "h2")
    wait_reaches(a.namespace, dep.ip(b), timeout=15)
    assert reaches(b.namespace, dep.ip(a))
    phys = dep.ovs["h1"].ofctl("--no-stats", "dump-flows", "br-phys")
    # The frames crossed the trunk tagged 150 (vlan) / untagged (flat): the other host's
    # br-int takes from int-br-phys only those, translated to its local VLAN (the rest
    # is dropped). (OpenFlow 1.4 dumps: mod_vlan_vid shows as set_field 0x1000|vid,
    # strip_vlan as pop_vlan.)
    if network_type == "vlan":
        assert f"actions=set_field:{0x1000 | 150}->vlan_vid,NORMAL" in phys
    else:
        assert "actions=pop_vlan,NORMAL" in phys
    dep.delete(a)
    dep.delete(b)
    dep.delete_network(net)


def test_agent_restart_loses_no_packet_and_keeps_every_flow(dep: Deployment) -> None:
    net = dep.network("restart", "10.99.4.0/24")
    a = dep.boot("r-a", net, "h1")
    b = dep.boot("r-b", net, "h2")
    wait_reaches(a.namespace, dep.ip(b), timeout=15)
    o1 = dep.ovs["h1"]

    def flows() -> dict[str, str]:
        return {br: o1.ofctl("--no-stats", "dump-flows", br) for br in ("br-int", "br-tun")}

    def settled() -> dict[str, str] | None:
        # what earlier tests left to clean up is done: the tables hold still for 1 s
        first = flows()
        time.sleep(1)
        return first if flows() == first else None

    before = wait_for(settled, 15, 0, what="flow tables settled")
    log_mark = "resync of all networks done"
    done_before = dep.agents["h1"].log().count(log_mark)
    pinger = ContinuousPing(a.namespace, dep.ip(b), interval=0.05).start()
    try:
        # windows counted in pings: before the kill, while the agent is away, after its
        # resync
        pinger.wait_sent(20)
        dep.agents["h1"].kill9()
        pinger.wait_sent(10)
        dep.agents["h1"].start()
        wait_for(lambda: dep.agents["h1"].log().count(log_mark) > done_before, 20, 0.1,
                 what="the restarted agent's full resync")
        pinger.wait_sent(20)
    finally:
        sent, received = pinger.stop()
    assert sent > 20 and received == sent, f"{sent - received} of {sent} lost"
    assert flows() == before  # the same flows (no counters compared): none re-added
    dep.delete(a)
    dep.delete(b)
    dep.delete_network(net)


def test_vswitchd_restart_is_repaired(dep: Deployment) -> None:
    net = dep.network("vsw", "10.99.5.0/24")
    a = dep.boot("v-a", net, "h1")
    b = dep.boot("v-b", net, "h2")
    wait_reaches(a.namespace, dep.ip(b), timeout=15)
    o1 = dep.ovs["h1"]
    o1.kill_vswitchd()
    t0 = time.monotonic()
    o1.start_vswitchd()
    wait_reaches(a.namespace, dep.ip(b), timeout=30)
    print(f"ovs-vswitchd restart: traffic back {time.monotonic() - t0:.2f} s after start")


def test_an_ovs_host_and_a_linux_bridge_host_on_one_vxlan_network(dep: Deployment) -> None:
    net = dep.network("mixed", "10.99.6.0/24")
    a = dep.boot("m-ovs", net, "h1")
    c = dep.boot("m-lb", net, LB_HOST)
    wait_reaches(a.namespace, dep.ip(c), timeout=15)
    assert reaches(c.namespace, dep.ip(a))
    dep.delete(a)
    dep.delete(c)
    dep.delete_network(net)
