"""The DHCP agent on a real data plane, driven by desired-state dicts (no server): qdhcp
namespaces, dnsmasq, and instances on the same bridge taking their leases with udhcpc."""

from __future__ import annotations

import copy
import itertools
import os
import shutil
import socket
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from neutrino import config
from neutrino.agent.dhcp import dnsmasq
from neutrino.agent.dhcp.agent import DhcpAgent, register_opts
from neutrino.agent.linux import devices, names, namespaces
from tests.dataplane.agent_helpers import reconcile
from tests.dataplane.conftest import Features
from tests.dataplane.dhcp_support import (
    DhcpInstance,
    dhcp_instance,
    dnsmasq_pids_under,
    kill_pids,
    require_dhcp_tools,
    state_dir,
    sweep_stale_dnsmasq,
)
from tests.dataplane.topology import Host, Topology
from tests.support.wait import wait_until

_ids = itertools.count()


class RecordingBus:
    """Stands in for the bus: records the agent's casts."""

    def __init__(self) -> None:
        self.casts: list[tuple[str, dict[str, Any]]] = []

    def cast(self, topic: str, message: dict[str, Any]) -> None:
        self.casts.append((topic, message))

    def ready(self) -> list[list[str]]:
        return [m["args"]["port_ids"] for _, m in self.casts
                if m["method"] == "dhcp_ready_on_ports"]


@dataclass
class Env:
    topo: Topology
    host: Host
    bridge: str
    state: Path
    prefix: str  # namespace_prefix of the agent
    bus: RecordingBus
    agents: list[DhcpAgent] = field(default_factory=list)

    def agent(self) -> DhcpAgent:
        """A new agent on the same host and state (as after a restart)."""
        conf = config.make_conf([])
        register_opts(conf)
        for name, value in {"host": "h1", "host_namespace": self.host.ns,
                            "namespace_prefix": self.prefix, "state_path": str(self.state),
                            "dhcp_lease_duration": 600}.items():
            conf.set_override(name, value)
        agent = DhcpAgent(conf, bus=self.bus)  # type: ignore[arg-type]
        self.agents.append(agent)
        return agent

    def qdhcp(self, net_id: str) -> str:
        return self.prefix + names.dhcp_namespace(net_id)

    def instance(self, name: str, port: dict[str, Any]) -> DhcpInstance:
        return dhcp_instance(self.topo, name, self.host, self.bridge, port["mac_address"],
                             port["id"], self.state)

    def pid(self, net_id: str) -> int | None:
        return dnsmasq.read_pid(str(self.state / "dhcp" / net_id / "pid"))


@pytest.fixture
def env(topology: Callable[[], Topology], features: Features,
        run_prefix: str) -> Iterator[Env]:
    require_dhcp_tools(features)
    sweep_stale_dnsmasq()
    topo = topology()
    host = topo.host("h1")
    bridge = names.bridge_name(str(uuid.uuid4()))
    devices.ensure_bridge(bridge, mtu=1450, netns=host.ns)
    state = state_dir(run_prefix, f"dhcp{next(_ids)}")
    e = Env(topo=topo, host=host, bridge=bridge, state=state, prefix=f"{topo.prefix}-",
            bus=RecordingBus())
    try:
        yield e
    finally:
        # dnsmasq first (by pid), then the namespaces the agent made; the topology
        # fixture deletes the rest.
        kill_pids(dnsmasq_pids_under(str(state)))
        for ns in namespaces.list_namespaces(e.prefix):
            namespaces.delete_namespace(ns)
        shutil.rmtree(state, ignore_errors=True)


# --- desired state -------------------------------------------------------------------------
def mac() -> str:
    return "fa:16:3e:" + ":".join(os.urandom(3).hex(":").split(":"))


def port(subnet_id: str, ip: str, **kw: Any) -> dict[str, Any]:
    return {"id": str(uuid.uuid4()), "mac_address": mac(), "device_owner": "compute:nova",
            "fixed_ips": [{"subnet_id": subnet_id, "ip_address": ip}], "hostname": None,
            **kw}


def make_network(ports: int = 1) -> dict[str, Any]:
    subnet = {"id": str(uuid.uuid4()), "cidr": "10.99.0.0/24", "ip_version": 4,
              "gateway_ip": "10.99.0.1", "enable_dhcp": True, "dns_nameservers": [],
              "host_routes": [{"destination": "10.200.0.0/16", "nexthop": "10.99.0.254"}],
              "ipv6_address_mode": None, "ipv6_ra_mode": None}
    dhcp = port(subnet["id"], "10.99.0.2", device_owner="network:dhcp")
    vms = [port(subnet["id"], f"10.99.0.{5 + i}") for i in range(ports)]
    return {"id": str(uuid.uuid4()), "mtu": 1450, "subnets": [subnet], "dhcp_port": dhcp,
            "ports": [dhcp, *vms]}


def state_of(*nets: dict[str, Any]) -> dict[str, Any]:
    return {"host": "h1", "networks": [copy.deepcopy(n) for n in nets]}


def attach_dhcp_tap(env: Env, net: dict[str, Any]) -> None:
    """What the L2 agent does for the DHCP port bound to this host."""
    tap = names.tap_name(net["dhcp_port"]["id"])
    devices.set_master(tap, env.bridge, netns=env.host.ns)


# --- tests ---------------------------------------------------------------------------------
def test_instance_gets_ip_router_mtu_and_classless_routes(env: Env) -> None:
    net = make_network()
    vm = net["ports"][1]
    agent = env.agent()
    started = time.monotonic()
    reconcile(agent, state_of(net), None)
    converge_s = time.monotonic() - started
    attach_dhcp_tap(env, net)
    assert agent.last_actions == {net["id"]: "start"}

    # the qdhcp namespace and the DHCP port, as Neutron names them
    qdhcp = env.qdhcp(net["id"])
    assert namespaces.namespace_exists(qdhcp)
    inner = devices.get_device(names.ns_device_name(net["dhcp_port"]["id"]), qdhcp)
    assert inner is not None and inner.up and inner.mtu == 1450
    assert inner.mac == net["dhcp_port"]["mac_address"]
    assert devices.list_addresses(inner.name, qdhcp, family=socket.AF_INET) == ["10.99.0.2/24"]
    tap = devices.get_device(names.tap_name(net["dhcp_port"]["id"]), env.host.ns)
    assert tap is not None and tap.master == env.bridge and tap.mtu == 1450
    # ready reported once dnsmasq serves the ports
    assert env.bus.ready() == [sorted(p["id"] for p in net["ports"])]

    inst = env.instance("vm1", vm)
    started = time.monotonic()
    lease = inst.dhcp()
    lease_s = time.monotonic() - started
    assert lease["ip"] == "10.99.0.5" and lease["mask"] == "24"
    assert lease["router"] == "10.99.0.1" and lease["mtu"] == "1450"
    assert lease["staticroutes"] == "10.200.0.0/16 10.99.0.254 0.0.0.0/0 10.99.0.1"
    assert lease["dns"] == "10.99.0.2" and lease["domain"] == "openstacklocal"
    assert lease["hostname"] == "host-10-99-0-5" and lease["lease"] == "600"
    # ... and the guest is configured by it
    assert inst.addresses() == ["10.99.0.5/24"] and inst.mtu() == 1450
    routes = inst.routes()
    assert ("default", "10.99.0.1") in routes and ("10.200.0.0/16", "10.99.0.254") in routes
    assert inst.ping("10.99.0.2").returncode == 0
    print(f"\nconverge (namespace, veth, dnsmasq start) {converge_s * 1000:.0f} ms; "
          f"udhcpc lease {lease_s * 1000:.0f} ms")

    # dnsmasq answers DNS for the network's names
    dns = namespaces.execute(["busybox", "nslookup", "host-10-99-0-5.openstacklocal",
                              "10.99.0.2"], inst.ns, check=False, timeout=10)
    assert "Address: 10.99.0.5" in dns.stdout, dns.stdout + dns.stderr

    # converged: a second pass changes nothing
    pid = env.pid(net["id"])
    reconcile(agent, state_of(net), {net["id"]})
    assert agent.last_actions == {net["id"]: None} and env.pid(net["id"]) == pid


def test_added_port_served_after_sighup_without_restart(env: Env) -> None:
    net = make_network()
    agent = env.agent()
    reconcile(agent, state_of(net), None)
    attach_dhcp_tap(env, net)
    pid = env.pid(net["id"])
    first = env.instance("vm1", net["ports"][1])
    assert first.dhcp()["ip"] == "10.99.0.5"

    second_port = port(net["subnets"][0]["id"], "10.99.0.77", hostname="web-2")
    net["ports"].append(second_port)
    started = time.monotonic()
    reconcile(agent, state_of(net), {net["id"]})
    reload_s = time.monotonic() - started
    assert agent.last_actions == {net["id"]: "reload"}
    assert env.pid(net["id"]) == pid  # same dnsmasq: no lease disruption
    assert env.bus.ready()[-1] == [second_port["id"]]  # only the new port

    lease = env.instance("vm2", second_port).dhcp()
    assert lease["ip"] == "10.99.0.77" and lease["hostname"] == "web-2"
    assert first.dhcp()["ip"] == "10.99.0.5"  # the first one renews as before
    print(f"\nreload after a port was added: {reload_s * 1000:.0f} ms")


def test_sighup_after_serving_a_port_with_options_keeps_dnsmasq_alive(env: Env) -> None:
    """dnsmasq 2.90 corrupts its heap on a SIGHUP after serving a client whose hosts-file
    line set a tag, and dies on the next request: the ports' tags are on the command line
    instead, so every later change -- option values, other ports, the options removed, the
    port deleted -- is a SIGHUP to the same dnsmasq, which goes on serving."""
    net = make_network(ports=2)
    agent = env.agent()
    reconcile(agent, state_of(net), None)
    attach_dhcp_tap(env, net)
    vm1, vm2 = net["ports"][1], net["ports"][2]
    first = env.instance("vm1", vm1)
    assert "ntpsrv" not in first.dhcp(20.0, "-O", "ntpsrv")

    def opts(*values: str) -> list[dict[str, Any]]:
        return [{"opt_name": "ntp-server", "opt_value": v, "ip_version": 4} for v in values]

    def converge(action: str) -> int:
        reconcile(agent, state_of(net), {net["id"]})
        assert agent.last_actions == {net["id"]: action}
        pid = env.pid(net["id"])
        assert pid is not None and dnsmasq.cmdline(pid) is not None
        return pid

    vm1["extra_dhcp_opts"] = opts("10.99.0.123")
    pid = converge("restart")  # the port's first option: its tag joins the command line
    assert first.dhcp(20.0, "-O", "ntpsrv")["ntpsrv"] == "10.99.0.123"  # a tagged client
    host_file = (env.state / "dhcp" / net["id"] / "host").read_text()
    assert "set:" not in host_file

    vm1["extra_dhcp_opts"] = opts("10.99.0.124")  # a changed value
    assert converge("reload") == pid
    assert first.dhcp(20.0, "-O", "ntpsrv")["ntpsrv"] == "10.99.0.124"

    vm2["hostname"] = "renamed"  # another port's change: a SIGHUP after tagged replies
    assert converge("reload") == pid
    assert first.dhcp(20.0, "-O", "ntpsrv")["ntpsrv"] == "10.99.0.124"
    second = env.instance("vm2", vm2)
    lease = second.dhcp(20.0, "-O", "ntpsrv")
    assert lease["hostname"] == "renamed" and "ntpsrv" not in lease

    vm1["extra_dhcp_opts"] = []  # the options removed: still the same dnsmasq
    assert converge("reload") == pid
    assert "ntpsrv" not in first.dhcp(20.0, "-O", "ntpsrv")
    vm1["extra_dhcp_opts"] = opts("10.99.0.125")  # back: its tag is still there
    assert converge("reload") == pid
    assert first.dhcp(20.0, "-O", "ntpsrv")["ntpsrv"] == "10.99.0.125"

    net["ports"].remove(vm1)  # the tagged port deleted
    assert converge("reload") == pid
    assert second.dhcp()["ip"] == vm2["fixed_ips"][0]["ip_address"]
    assert env.pid(net["id"]) == pid and dnsmasq.cmdline(pid) is not None


def test_restarted_agent_adopts_dnsmasq(env: Env) -> None:
    net = make_network()
    reconcile(env.agent(), state_of(net), None)
    attach_dhcp_tap(env, net)
    pid = env.pid(net["id"])
    marker = env.state / "dhcp" / net["id"] / "loaded"
    before = marker.stat().st_mtime_ns

    again = env.agent()  # a new process would see just this: the host
    reconcile(again, state_of(net), None)
    assert again.last_actions == {net["id"]: None}
    assert env.pid(net["id"]) == pid and marker.stat().st_mtime_ns == before
    # full resyncs repeat the ready report (a lost cast is not lost for long)
    assert env.bus.ready()[-1] == sorted(p["id"] for p in net["ports"])

    # an agent that died after writing files but before its SIGHUP: reloaded, not trusted
    marker.write_text(f"{pid} 0000\n")
    reconcile(again, state_of(net), {net["id"]})
    assert again.last_actions == {net["id"]: "reload"} and env.pid(net["id"]) == pid
    assert env.instance("vm1", net["ports"][1]).dhcp()["ip"] == "10.99.0.5"


def test_subnet_change_restarts_and_freed_address_goes_to_new_port(env: Env) -> None:
    net = make_network()
    agent = env.agent()
    reconcile(agent, state_of(net), None)
    attach_dhcp_tap(env, net)
    old_port = net["ports"][1]
    assert env.instance("vm1", old_port).dhcp()["ip"] == "10.99.0.5"
    pid = env.pid(net["id"])

    # the port is deleted and its address given to a new port: the old lease is released
    new_port = port(net["subnets"][0]["id"], "10.99.0.5")
    net["ports"][1] = new_port
    reconcile(agent, state_of(net), {net["id"]})
    assert agent.last_actions == {net["id"]: "reload"} and env.pid(net["id"]) == pid
    assert env.instance("vm2", new_port).dhcp()["ip"] == "10.99.0.5"

    # a second subnet changes dnsmasq's command line: restarted, leases kept
    sub2 = {**net["subnets"][0], "id": str(uuid.uuid4()), "cidr": "10.98.0.0/24",
            "gateway_ip": "10.98.0.1", "host_routes": []}
    net["subnets"].append(sub2)
    net["dhcp_port"]["fixed_ips"].append({"subnet_id": sub2["id"], "ip_address": "10.98.0.2"})
    net["ports"][0] = net["dhcp_port"]
    reconcile(agent, state_of(net), {net["id"]})
    assert agent.last_actions == {net["id"]: "restart"}
    assert env.pid(net["id"]) not in (None, pid)
    assert not dnsmasq.cmdline(pid) or "dnsmasq" not in dnsmasq.cmdline(pid)[0]
    inner = names.ns_device_name(net["dhcp_port"]["id"])
    assert sorted(devices.list_addresses(inner, env.qdhcp(net["id"]), family=socket.AF_INET)) == [
        "10.98.0.2/24", "10.99.0.2/24"]
    # dnsmasq rewrites its lease file as it starts (truncate, write): wait for it
    lease_file = env.state / "dhcp" / net["id"] / "leases"
    leases = wait_until(lambda: (text := lease_file.read_text()) and
                        new_port["mac_address"] in text and text, 5,
                        what="the new port in dnsmasq's lease file")
    assert new_port["mac_address"] in leases and old_port["mac_address"] not in leases


def test_removed_network_kills_dnsmasq_and_deletes_everything(env: Env) -> None:
    keep, gone = make_network(), make_network()
    gone["subnets"][0]["cidr"] = "10.97.0.0/24"  # any; each network has its own namespace
    agent = env.agent()
    reconcile(agent, state_of(keep, gone), None)
    assert agent.configurations() == {"networks": 2, "subnets": 2, "ports": 4,
                                      "dhcp_driver": "dnsmasq"}
    pid = env.pid(gone["id"])
    assert pid is not None and dnsmasq.cmdline(pid)

    # DHCP disabled on its only subnet: no longer served
    disabled = copy.deepcopy(gone)
    disabled["subnets"][0]["enable_dhcp"] = False
    reconcile(agent, state_of(disabled), {gone["id"]})
    assert agent.last_actions == {gone["id"]: "teardown"}
    assert dnsmasq.cmdline(pid) is None  # killed (and reaped by init)
    assert not namespaces.namespace_exists(env.qdhcp(gone["id"]))
    assert not (env.state / "dhcp" / gone["id"]).exists()
    assert devices.get_device(names.tap_name(gone["dhcp_port"]["id"]), env.host.ns) is None
    assert namespaces.namespace_exists(env.qdhcp(keep["id"]))

    # a full resync without it: the other network goes too
    keep_pid = env.pid(keep["id"])
    reconcile(agent, {"host": "h1", "networks": []}, None)
    assert agent.last_actions == {keep["id"]: "teardown"}
    assert dnsmasq.cmdline(keep_pid or 0) is None
    assert namespaces.list_namespaces(env.prefix) == []
    assert os.listdir(env.state / "dhcp") == []
    assert agent.configurations()["networks"] == 0


def test_namespace_deleted_behind_the_agents_back_is_rebuilt(env: Env) -> None:
    net = make_network()
    agent = env.agent()
    reconcile(agent, state_of(net), None)
    old = env.pid(net["id"])
    assert old is not None
    # an operator deletes the namespace; the old dnsmasq lives on in the dead one
    namespaces.delete_namespace(env.qdhcp(net["id"]))
    reconcile(agent, state_of(net), None)
    assert agent.last_actions == {net["id"]: "start"}
    assert dnsmasq.cmdline(old) is None and env.pid(net["id"]) not in (None, old)
    attach_dhcp_tap(env, net)
    assert env.instance("vm1", net["ports"][1]).dhcp()["ip"] == "10.99.0.5"


def test_ipv6_subnets_and_bad_network_isolated(env: Env, features: Features) -> None:
    net = make_network()
    modes = [("dhcpv6-stateful", "fd00:1::/64"), ("dhcpv6-stateless", "fd00:2::/64"),
             ("slaac", "fd00:3::/64")]
    for mode, cidr in modes:
        sub = {"id": str(uuid.uuid4()), "cidr": cidr, "ip_version": 6, "gateway_ip": None,
               "enable_dhcp": True, "dns_nameservers": [], "host_routes": [],
               "ipv6_address_mode": mode, "ipv6_ra_mode": mode}
        net["subnets"].append(sub)
        if mode == "dhcpv6-stateful":
            net["dhcp_port"]["fixed_ips"].append({"subnet_id": sub["id"],
                                                  "ip_address": "fd00:1::2"})
    bad = make_network()
    bad["ports"][1]["mac_address"] = "not-a-mac"
    agent = env.agent()
    with pytest.raises(Exception, match="not-a-mac"):
        reconcile(agent, state_of(net, bad), None)
    assert agent.last_actions == {net["id"]: "start"}  # the good one is served anyway
    argv = dnsmasq.cmdline(env.pid(net["id"]) or 0) or ()
    assert [a.split(",")[1:3] for a in argv if a.startswith("--dhcp-range")] == [
        ["10.99.0.0", "static"], ["fd00:1::", "static"], ["fd00:2::", "static"]]
    inner = names.ns_device_name(net["dhcp_port"]["id"])
    assert "fd00:1::2/64" in devices.list_addresses(inner, env.qdhcp(net["id"]))
