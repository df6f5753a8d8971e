"""The L3 agent on a real data plane, driven by desired states as get_host_state for
"L3 agent" answers (protocol.l3.HostState), and in its loop against the real server:
qrouter namespaces, veth legs, nftables NAT, checked with real packets between instance
namespaces and an "external" namespace.

    host h1:  brq-ext  <- tap(qg-) of each router, ext (203.0.113.1, the outside world)
              brq-int1 <- tap(qr-) of router 1, vm1 (10.0.0.5)
              brq-int2 <- tap(qr-) of router 2, vm2 (10.0.0.5 too: another project)

The Linux bridge agent's part (plugging the taps into the bridges) is done by the test.
"""

from __future__ import annotations

import copy
import shutil
import socket
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from neutrino import config
from neutrino.agent.l3 import nat
from neutrino.agent.l3.agent import L3Agent, register_opts
from neutrino.agent.linux import devices, names, namespaces
from tests.dataplane.agent_helpers import ContinuousPing, reaches, reconcile, wait_for
from tests.dataplane.conftest import Features
from tests.dataplane.control_plane import ControlPlane
from tests.dataplane.l3_support import (
    EchoClient,
    listen,
    nated_to,
    next_port,
    peer_seen,
    ping_replies_from,
)
from tests.dataplane.topology import Host, Instance, Topology, random_mac, stop_processes

EXT_BRIDGE = "brq-ext"
EXT_HOST = "203.0.113.1"  # the external namespace; also the external subnet's gateway


class RecordingBus:
    """Stands in for the bus: records the agent's casts."""

    def __init__(self) -> None:
        self.casts: list[tuple[str, dict[str, Any]]] = []

    def cast(self, topic: str, message: dict[str, Any]) -> None:
        self.casts.append((topic, message))

    def statuses(self) -> dict[str, str]:
        """The last status cast for each floating IP."""
        out: dict[str, str] = {}
        for _, m in self.casts:
            if m["method"] == "update_floatingip_statuses":
                out.update(m["args"]["statuses"])
        return out


@dataclass
class Env:
    topo: Topology
    host: Host
    ext: Instance
    prefix: str  # the agent's namespace_prefix
    bus: RecordingBus = field(default_factory=RecordingBus)
    procs: list[subprocess.Popen[str]] = field(default_factory=list)

    def agent(self) -> L3Agent:
        """A new agent for host h1 (as after a restart)."""
        conf = config.make_conf([])
        register_opts(conf)
        for name, value in {"host": "h1", "host_namespace": self.host.ns,
                            "namespace_prefix": self.prefix, "send_arp_for_ha": 1}.items():
            conf.set_override(name, value)
        return L3Agent(conf, bus=self.bus)  # type: ignore[arg-type]

    def qrouter(self, router: dict[str, Any]) -> str:
        return self.prefix + names.router_namespace(router["id"])

    def plug(self, router: dict[str, Any], bridges: dict[str, str]) -> None:
        """The Linux bridge agent's part: each router tap into its network's bridge."""
        ports = ([router["gateway"]] if router["gateway"] else []) + router["interfaces"]
        for port in ports:
            devices.set_master(names.tap_name(port["port_id"]), bridges[port["network_id"]],
                               netns=self.host.ns)


@pytest.fixture
def env(topology: Callable[[], Topology], features: Features) -> Iterator[Env]:
    for tool, package in {"nft": "nftables", "conntrack": "conntrack", "socat": "socat",
                          "arping": "iputils-arping"}.items():
        if shutil.which(tool) is None:
            features.missing.setdefault(f"l3-{tool}", f"`{tool}` not found (apt: {package})")
            features.require(f"l3-{tool}")
    topo = topology()
    host = topo.host("h1")
    devices.ensure_bridge(EXT_BRIDGE, netns=host.ns)
    ext = topo.external(host, EXT_BRIDGE, f"{EXT_HOST}/24")
    e = Env(topo=topo, host=host, ext=ext, prefix=f"{topo.prefix}-")
    try:
        yield e
    finally:
        stop_processes(e.procs)  # only what this test started, with forked children
        for ns in namespaces.list_namespaces(e.prefix):
            namespaces.delete_namespace(ns)


# --- desired state -----------------------------------------------------------------------
def port(network_id: str, ip: str, prefixlen: int, mtu: int = 1500) -> dict[str, Any]:
    return {"port_id": str(uuid.uuid4()), "mac_address": random_mac(),
            "network_id": network_id, "mtu": mtu,
            "fixed_ips": [{"subnet_id": str(uuid.uuid4()), "ip_address": ip,
                           "prefixlen": prefixlen, "cidr": f"{ip}/{prefixlen}"}]}


def make_router(gateway_ip: str, internal_net: str, *, snat: bool = True,
                qr_ip: str = "10.0.0.1") -> dict[str, Any]:
    gw = port("ext", gateway_ip, 24) | {"enable_snat": snat, "gateway_ips": [EXT_HOST]}
    return {"id": str(uuid.uuid4()), "project_id": str(uuid.uuid4()), "admin_state_up": True,
            "gateway": gw, "interfaces": [port(internal_net, qr_ip, 24)], "routes": [],
            "floating_ips": []}


def fip(address: str, fixed: str) -> dict[str, Any]:
    return {"id": str(uuid.uuid4()), "floating_ip_address": address,
            "fixed_ip_address": fixed, "port_id": str(uuid.uuid4())}


def state_of(*routers: dict[str, Any]) -> dict[str, Any]:
    return {"host": "h1", "routers": [copy.deepcopy(r) for r in routers]}


def internal_net(env: Env) -> tuple[str, str]:
    """(network id, bridge) of a new internal network on h1."""
    net_id = str(uuid.uuid4())
    bridge = names.bridge_name(net_id)
    devices.ensure_bridge(bridge, netns=env.host.ns)
    return net_id, bridge


def vm(env: Env, name: str, bridge: str, cidr: str = "10.0.0.5/24",
       gateway: str = "10.0.0.1") -> Instance:
    inst = env.topo.instance(name, env.host, bridge, cidr)
    devices.add_route("default", via=gateway, netns=inst.ns)
    return inst


def v4(dev: str, ns: str) -> list[str]:
    return devices.list_addresses(dev, ns, family=socket.AF_INET)


# --- tests ---------------------------------------------------------------------------------
def test_snat_floating_ip_and_disassociation(env: Env) -> None:
    net, bridge = internal_net(env)
    vm1 = vm(env, "vm1", bridge)
    router = make_router("203.0.113.2", net)
    agent = env.agent()
    started = time.monotonic()
    reconcile(agent, state_of(router), None)
    converge_s = time.monotonic() - started
    env.plug(router, {"ext": EXT_BRIDGE, net: bridge})

    # Neutron's names, the port's MAC and MTU, forwarding on
    qrouter = env.qrouter(router)
    qg = names.gateway_interface_name(router["gateway"]["port_id"])
    qr = names.router_interface_name(router["interfaces"][0]["port_id"])
    dev = devices.get_device(qg, qrouter)
    assert dev is not None and dev.mac == router["gateway"]["mac_address"] and dev.up
    assert v4(qg, qrouter) == ["203.0.113.2/24"]
    assert v4(qr, qrouter) == ["10.0.0.1/24"]
    assert devices.get_device(names.tap_name(router["interfaces"][0]["port_id"]),
                              env.host.ns) is not None
    assert ("default", EXT_HOST) in [(r.dst, r.via) for r in devices.list_routes(qrouter)]
    assert namespaces.execute(["sysctl", "-n", "net.ipv4.ip_forward"],
                              qrouter).stdout.strip() == "1"

    # SNAT: the outside sees the router's gateway address
    seen = listen(env.procs, env.ext.ns)
    assert peer_seen(vm1.ns, EXT_HOST, seen) == "203.0.113.2"
    assert not reaches(env.ext.ns, "10.0.0.5", count=1)  # the inside stays unreachable

    # floating IP: announced by gratuitous ARP (the outside learns it unasked: arp_accept),
    # reachable from outside, replies from it, the instance sees the client
    namespaces.execute(["sysctl", "-q", "-w", "net.ipv4.conf.all.arp_accept=1",
                        "net.ipv4.conf.eth0.arp_accept=1"], env.ext.ns)
    f = fip("203.0.113.10", "10.0.0.5")
    router["floating_ips"] = [f]
    reconcile(agent, state_of(router), {router["id"]})
    wait_for(lambda: router["gateway"]["mac_address"] in namespaces.execute(
        ["ip", "neigh", "show", "203.0.113.10"], env.ext.ns).stdout, timeout=5,
        what="gratuitous ARP for the floating IP")
    assert v4(qg, qrouter) == ["203.0.113.2/24", "203.0.113.10/32"]
    assert env.bus.statuses() == {f["id"]: "ACTIVE"}
    inside = listen(env.procs, vm1.ns)
    assert peer_seen(env.ext.ns, "203.0.113.10", inside) == EXT_HOST
    assert ping_replies_from(env.ext.ns, "203.0.113.10")
    assert peer_seen(vm1.ns, EXT_HOST, seen) == "203.0.113.10"  # out through its FIP

    # disassociation stops it at once: a running ping is cut, its conntrack entry gone
    pinger = ContinuousPing(env.ext.ns, "203.0.113.10", interval=0.05).start()
    try:
        wait_for(lambda: nated_to(qrouter, "203.0.113.10", "10.0.0.5") > 0, timeout=5,
                 what="conntrack entry of the floating IP")
        router["floating_ips"] = []
        reconcile(agent, state_of(router), {router["id"]})
        assert nated_to(qrouter, "203.0.113.10", "10.0.0.5") == 0
        pinger.wait_sent(10)
        before = pinger.stop()
    finally:
        pinger.kill()
    sent, received = before
    assert received < sent - 5  # replies stopped (10 pings sent after the cut)
    assert env.bus.statuses() == {f["id"]: "DOWN"}
    assert v4(qg, qrouter) == ["203.0.113.2/24"]
    assert peer_seen(env.ext.ns, "203.0.113.10", inside) is None
    assert peer_seen(vm1.ns, EXT_HOST, seen) == "203.0.113.2"  # back to the gateway's SNAT
    print(f"\nrouter converge (namespace, 2 legs, NAT) {converge_s * 1000:.0f} ms")


def test_enable_snat_false_routes_without_nat(env: Env) -> None:
    net, bridge = internal_net(env)
    vm1 = vm(env, "vm1", bridge)
    vm2 = vm(env, "vm2", bridge, "10.0.0.6/24")
    router = make_router("203.0.113.2", net, snat=False)
    agent = env.agent()
    reconcile(agent, state_of(router), None)
    env.plug(router, {"ext": EXT_BRIDGE, net: bridge})
    seen = listen(env.procs, env.ext.ns)
    # not NATed: the outside gets 10.0.0.5 and has no route back
    assert peer_seen(vm1.ns, EXT_HOST, seen) is None
    namespaces.execute(["ip", "route", "add", "10.0.0.0/24", "via", "203.0.113.2"],
                       env.ext.ns)
    assert peer_seen(vm1.ns, EXT_HOST, seen) == "10.0.0.5"
    namespaces.execute(["ip", "route", "del", "10.0.0.0/24"], env.ext.ns)
    # a floating IP still works both ways
    router["floating_ips"] = [fip("203.0.113.11", "10.0.0.6")]
    reconcile(agent, state_of(router), None)
    assert peer_seen(vm2.ns, EXT_HOST, seen) == "203.0.113.11"
    assert reaches(env.ext.ns, "203.0.113.11")
    assert peer_seen(vm1.ns, EXT_HOST, seen) is None


def test_two_routers_with_the_same_internal_cidr(env: Env) -> None:
    net1, bridge1 = internal_net(env)
    net2, bridge2 = internal_net(env)
    vm1 = vm(env, "vm1", bridge1)
    vm2 = vm(env, "vm2", bridge2)  # the same 10.0.0.5, another project
    r1 = make_router("203.0.113.2", net1)
    r2 = make_router("203.0.113.3", net2)
    r1["floating_ips"] = [fip("203.0.113.20", "10.0.0.5")]
    r2["floating_ips"] = [fip("203.0.113.21", "10.0.0.5")]
    agent = env.agent()
    reconcile(agent, state_of(r1, r2), None)
    bridges = {"ext": EXT_BRIDGE, net1: bridge1, net2: bridge2}
    env.plug(r1, bridges)
    env.plug(r2, bridges)
    seen = listen(env.procs, env.ext.ns)
    assert peer_seen(vm1.ns, EXT_HOST, seen) == "203.0.113.20"
    assert peer_seen(vm2.ns, EXT_HOST, seen) == "203.0.113.21"
    # each floating IP reaches its own instance: tell them apart by a name each answers
    names_port = next_port()
    for inst in (vm1, vm2):
        listen(env.procs, inst.ns, answer=inst.name, tcp_port=names_port)
    assert peer_seen(env.ext.ns, "203.0.113.20", names_port) == "vm1"
    assert peer_seen(env.ext.ns, "203.0.113.21", names_port) == "vm2"
    # without floating IPs each router SNATs to its own gateway address
    r1["floating_ips"], r2["floating_ips"] = [], []
    reconcile(agent, state_of(r1, r2), None)
    assert peer_seen(vm1.ns, EXT_HOST, seen) == "203.0.113.2"
    assert peer_seen(vm2.ns, EXT_HOST, seen) == "203.0.113.3"


def test_extra_routes_and_router_removal(env: Env) -> None:
    net, bridge = internal_net(env)
    vm1 = vm(env, "vm1", bridge)
    # a host on the internal network that routes 192.168.50.0/24 (here: owns .1)
    hop = vm(env, "hop", bridge, "10.0.0.20/24")
    devices.add_address("lo", "192.168.50.1/32", hop.ns)
    router = make_router("203.0.113.2", net)
    agent = env.agent()
    reconcile(agent, state_of(router), None)
    env.plug(router, {"ext": EXT_BRIDGE, net: bridge})
    qrouter = env.qrouter(router)
    assert not reaches(qrouter, "192.168.50.1", count=1)
    router["routes"] = [{"destination": "192.168.50.0/24", "nexthop": "10.0.0.20"}]
    reconcile(agent, state_of(router), {router["id"]})
    routes = [(r.dst, r.via) for r in devices.list_routes(qrouter)]
    assert ("192.168.50.0/24", "10.0.0.20") in routes
    assert reaches(qrouter, "192.168.50.1")
    assert reaches(vm1.ns, "192.168.50.1")  # an instance through the router
    router["routes"] = []
    reconcile(agent, state_of(router), {router["id"]})
    assert ("192.168.50.0/24", "10.0.0.20") not in [
        (r.dst, r.via) for r in devices.list_routes(qrouter)]

    # a router no longer listed loses its namespace and taps
    taps = [names.tap_name(p["port_id"]) for p in [router["gateway"], *router["interfaces"]]]
    reconcile(agent, {"host": "h1", "routers": []}, {router["id"]})
    assert not namespaces.namespace_exists(qrouter)
    assert all(devices.get_device(t, env.host.ns) is None for t in taps)
    assert agent.configurations()["routers"] == 0


def test_gateway_removed_and_admin_down(env: Env) -> None:
    net, _ = internal_net(env)
    router = make_router("203.0.113.2", net)
    agent = env.agent()
    reconcile(agent, state_of(router), None)
    qrouter = env.qrouter(router)
    qg = names.gateway_interface_name(router["gateway"]["port_id"])
    assert nat.TABLE in namespaces.execute(["nft", "list", "tables"], qrouter).stdout
    conf = agent.configurations()
    assert (conf["routers"], conf["ex_gw_ports"], conf["interfaces"]) == (1, 1, 1)
    router["gateway"] = None
    reconcile(agent, state_of(router), None)
    assert devices.get_device(qg, qrouter) is None
    assert nat.TABLE not in namespaces.execute(["nft", "list", "tables"], qrouter).stdout
    assert [r for r in devices.list_routes(qrouter) if r.dst == "default"] == []
    router["admin_state_up"] = False
    reconcile(agent, state_of(router), None)
    assert not namespaces.namespace_exists(qrouter)


def test_restart_and_nat_change_keep_established_connections(env: Env) -> None:
    net, bridge = internal_net(env)
    vm1 = vm(env, "vm1", bridge)
    vm(env, "vm2", bridge, "10.0.0.6/24")
    router = make_router("203.0.113.2", net)
    router["floating_ips"] = [fip("203.0.113.10", "10.0.0.5")]
    agent = env.agent()
    reconcile(agent, state_of(router), None)
    env.plug(router, {"ext": EXT_BRIDGE, net: bridge})
    echo = listen(env.procs, env.ext.ns, echo=True)
    inbound_echo = listen(env.procs, vm1.ns, echo=True)
    out = EchoClient(env.procs, vm1.ns, EXT_HOST, echo)  # through the FIP's SNAT
    inbound = EchoClient(env.procs, env.ext.ns, "203.0.113.10", inbound_echo)  # DNAT
    assert out.roundtrip("one") == "one" and inbound.roundtrip("one") == "one"
    qrouter = env.qrouter(router)
    table_before = namespaces.execute(["nft", "-a", "list", "table", "ip", nat.TABLE],
                                      qrouter).stdout

    # a restarted agent finds everything right and changes nothing
    restarted = env.agent()
    reconcile(restarted, state_of(router), None)
    plan = restarted.last_plans[router["id"]]
    assert not plan.changes, plan
    assert namespaces.execute(["nft", "-a", "list", "table", "ip", nat.TABLE],
                              qrouter).stdout == table_before
    assert out.roundtrip("two") == "two" and inbound.roundtrip("two") == "two"

    # a NAT change for someone else replaces the table; these connections live on
    router["floating_ips"].append(fip("203.0.113.11", "10.0.0.6"))
    reconcile(restarted, state_of(router), {router["id"]})
    assert restarted.last_plans[router["id"]].nat_script is not None
    assert out.roundtrip("three") == "three" and inbound.roundtrip("three") == "three"
    assert reaches(env.ext.ns, "203.0.113.11")


def test_agent_loop_against_the_real_server(env: Env, tmp_path: Path) -> None:
    """The agent as it runs, against the real server (control_plane.py): it reports as
    "L3 agent" and gets the router scheduled to it, builds it from the full
    get_host_state, follows the {"routers": [...]} hint of a floating IP association and
    reports the floating IP ACTIVE."""
    from neutrino.bus import make_bus

    url = f"inprocess://l3-agent-{uuid.uuid4().hex[:8]}"
    server = ControlPlane(tmp_path / "server", url)
    api = server.api
    ext = api("POST", "/networks", {"network": {
        "name": "ext", "router:external": True, "provider:network_type": "flat",
        "provider:physical_network": "ext"}})["network"]
    api("POST", "/subnets", {"subnet": {"network_id": ext["id"], "cidr": "203.0.113.0/24",
                                        "ip_version": 4, "gateway_ip": EXT_HOST,
                                        "enable_dhcp": False}})
    net = server.add_network("vxlan", segmentation_id=1301)
    sub = api("POST", "/subnets", {"subnet": {"network_id": net.id, "cidr": "10.0.0.0/24",
                                              "ip_version": 4, "gateway_ip": "10.0.0.1",
                                              "enable_dhcp": False}})["subnet"]
    net.subnets[sub["cidr"]] = sub["id"]  # the ports' subnet (control_plane.add_port)
    router = api("POST", "/routers", {"router": {"name": "r", "external_gateway_info": {
        "network_id": ext["id"],
        "external_fixed_ips": [{"ip_address": "203.0.113.2"}]}}})["router"]
    api("PUT", f"/routers/{router['id']}/add_router_interface", {"subnet_id": sub["id"]})
    conf = config.make_conf([], overrides={"DEFAULT": {"transport_url": url}})
    register_opts(conf)
    for name, value in {"host": "h1", "host_namespace": env.host.ns,
                        "namespace_prefix": env.prefix, "send_arp_for_ha": 0}.items():
        conf.set_override(name, value)
    conf.set_override("report_interval", 0.2, group="AGENT")
    agent_bus = make_bus(conf)
    agent = L3Agent(conf, agent_bus)
    qrouter = env.prefix + names.router_namespace(router["id"])
    try:
        agent.start()
        wait_for(lambda: namespaces.namespace_exists(qrouter) and agent.idle(),
                 what="router scheduled to h1 and built")
        (row,) = api("GET", "/agents?agent_type=L3%20agent")["agents"]
        assert row["host"] == "h1" and row["binary"] == "neutrino-l3-agent"
        assert row["topic"] == "l3_agent" and row["alive"]
        wait_for(lambda: api("GET", "/agents?agent_type=L3%20agent")["agents"][0][
            "configurations"]["routers"] == 1, what="the router reported served")
        gw = api("GET", f"/ports?device_id={router['id']}&device_owner=network:router_gateway"
                 )["ports"][0]
        qg = names.gateway_interface_name(gw["id"])
        assert "203.0.113.2/24" in v4(qg, qrouter)

        resyncs = agent.full_resync_count
        vm = server.add_port(net, "h9", random_mac(), "10.0.0.5")
        fip_ = api("POST", "/floatingips", {"floatingip": {
            "floating_network_id": ext["id"], "floating_ip_address": "203.0.113.10",
            "port_id": vm.id}})["floatingip"]
        wait_for(lambda: "203.0.113.10/32" in v4(qg, qrouter), what="floating IP programmed")
        wait_for(lambda: api("GET", f"/floatingips/{fip_['id']}")["floatingip"]["status"]
                 == "ACTIVE", what="floating IP reported ACTIVE")
        assert agent.full_resync_count == resyncs  # the hint named the router: no full one
    finally:
        agent.stop()
        agent_bus.close()
        server.close()


def test_floating_ip_reached_from_inside_and_from_the_router(env: Env) -> None:
    """Hairpin: an instance reaches another's floating IP through the router (SNATed to
    the gateway address, so the reply comes back the same way); the router itself too."""
    net, bridge = internal_net(env)
    vm1 = vm(env, "vm1", bridge)
    vm2 = vm(env, "vm2", bridge, "10.0.0.6/24")
    router = make_router("203.0.113.2", net)
    router["floating_ips"] = [fip("203.0.113.10", "10.0.0.5")]
    agent = env.agent()
    reconcile(agent, state_of(router), None)
    env.plug(router, {"ext": EXT_BRIDGE, net: bridge})
    inside = listen(env.procs, vm1.ns)
    assert peer_seen(vm2.ns, "203.0.113.10", inside) == "203.0.113.2"
    assert peer_seen(vm1.ns, "203.0.113.10", inside) == "203.0.113.10"  # itself, via FIP
    assert reaches(env.qrouter(router), "203.0.113.10")
